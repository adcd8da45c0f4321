/* test_policy.c: unit tests for policy.c and policy_xmpp.c: building a
 * snapshot from a policy made in memory and from a real store, lookups (case,
 * trailing dot, exact match), refusal of bad input, reference counting across
 * threads, and the XMPP partners and their decision. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

#include "../../src/policy.c"
#include "unit.h"

static char *pdoms[] = { "im.provider.test", "provider.test" };
static char *hdoms[] = { "hosted.test" };

static void
fixture(struct store_policy *sp)
{
	static struct store_allowed allowed[] = {
		{ "fabrikam.test", NULL, false, "" },
		{ "litware.test", "edge.litware.test", true, "" },
		{ "litware2.test", "edge.litware.test", false, "" },
	};
	static struct store_blocked blocked[] = { { "evil.test", "" }, { "worse.test", "" } };
	static struct store_provider providers[] = {
		{ "Hoster", STORE_PROVIDER_HOSTING, "sip.hoster.test", STORE_VERIFY_ALWAYS_VERIFIED,
		  false, "", hdoms, 1 },
		{ "PubIM", STORE_PROVIDER_PUBLIC, "fed.provider.test", STORE_VERIFY_USE_SOURCE,
		  true, "", pdoms, 2 },
	};

	memset(sp, 0, sizeof(*sp));
	store_config_defaults(&sp->config);
	sp->generation = 42;
	sp->config.federation = true;
	sp->allowed = allowed;
	sp->nallowed = 3;
	sp->blocked = blocked;
	sp->nblocked = 2;
	sp->providers = providers;
	sp->nproviders = 2;
}

static int
test_policy_lookups(void)
{
	static const char *const local[] = { "Contoso.Test.", "contoso2.test" };
	struct store_policy sp;
	struct policy *p = NULL;
	const struct policy_allowed *a;
	const struct policy_provider *q;

	fixture(&sp);
	CHECK_EQ_INT(policy_build_local(&sp, local, 2, &p), 0);
	CHECK_EQ_INT(policy_generation(p), 42);
	CHECK(policy_config(p)->federation);
	CHECK_EQ_INT(policy_config(p)->discovered_rate, 20);
	CHECK_EQ_INT(policy_nblocked(p), 2);
	CHECK_EQ_INT(policy_nallowed(p), 3);
	CHECK_EQ_INT(policy_nproviders(p), 2);
	/* Blocked: exact, any case, one trailing dot. */
	CHECK(policy_blocked(p, "evil.test"));
	CHECK(policy_blocked(p, "EVIL.Test."));
	CHECK(policy_blocked(p, "worse.test"));
	CHECK(!policy_blocked(p, "sub.evil.test"));
	CHECK(!policy_blocked(p, "test"));
	CHECK(!policy_blocked(p, "evil.test.."));
	CHECK(!policy_blocked(p, ""));
	CHECK(!policy_blocked(p, NULL));
	/* Local domains, normalised when built. */
	CHECK(policy_local(p, "contoso.test"));
	CHECK(policy_local(p, "CONTOSO2.TEST."));
	CHECK(!policy_local(p, "sub.contoso.test"));
	/* Allowed. */
	CHECK((a = policy_allowed(p, "Litware.Test")) != NULL);
	CHECK_EQ_STR(a->domain, "litware.test");
	CHECK_EQ_STR(a->proxy_fqdn, "edge.litware.test");
	CHECK(a->monitor);
	CHECK((a = policy_allowed(p, "litware2.test")) != NULL);
	CHECK_EQ_STR(a->proxy_fqdn, "edge.litware.test");
	CHECK((a = policy_allowed(p, "fabrikam.test.")) != NULL);
	CHECK(a->proxy_fqdn == NULL);
	CHECK(!a->monitor);
	CHECK(policy_allowed(p, "sub.fabrikam.test") == NULL);
	CHECK(policy_allowed(p, "evil.test") == NULL);
	/* Providers by name (any case), proxy and domain. */
	CHECK((q = policy_provider(p, "pubim")) != NULL);
	CHECK_EQ_STR(q->name, "PubIM");
	CHECK_EQ_STR(q->proxy_fqdn, "fed.provider.test");
	CHECK_EQ_INT(q->kind, STORE_PROVIDER_PUBLIC);
	CHECK_EQ_INT(q->verification, STORE_VERIFY_USE_SOURCE);
	CHECK(q->enabled);
	CHECK_EQ_INT(q->ndomains, 2);
	CHECK_EQ_STR(q->domains[0], "im.provider.test");
	CHECK_EQ_STR(q->domains[1], "provider.test");
	CHECK(policy_provider(p, "PUBIM") == q);
	CHECK(policy_provider_by_proxy(p, "Fed.Provider.Test.") == q);
	CHECK(policy_provider_by_domain(p, "provider.test") == q);
	CHECK(policy_provider_by_domain(p, "IM.provider.test") == q);
	CHECK(policy_provider_by_domain(p, "x.provider.test") == NULL);
	CHECK((q = policy_provider(p, "Hoster")) != NULL);
	CHECK(!q->enabled);
	CHECK_EQ_INT(q->kind, STORE_PROVIDER_HOSTING);
	CHECK(policy_provider_by_domain(p, "hosted.test") == q);
	CHECK(policy_provider_by_proxy(p, "sip.hoster.test") == q);
	CHECK(policy_provider(p, "nobody") == NULL);
	CHECK(policy_provider(p, NULL) == NULL);
	CHECK(policy_provider_by_proxy(p, "edge.litware.test") == NULL);
	policy_unref(p);
	return 0;
}

/* An empty policy (a fresh store) builds and matches nothing. */
static int
test_policy_empty(void)
{
	struct store_policy sp;
	struct policy *p = NULL;

	memset(&sp, 0, sizeof(sp));
	store_config_defaults(&sp.config);
	CHECK_EQ_INT(policy_build(&sp, &p), 0);
	CHECK(!policy_config(p)->federation);
	CHECK(!policy_blocked(p, "evil.test"));
	CHECK(!policy_local(p, "contoso.test"));
	CHECK(policy_allowed(p, "fabrikam.test") == NULL);
	CHECK(policy_provider(p, "x") == NULL);
	CHECK(policy_provider_by_domain(p, "x.test") == NULL);
	policy_unref(p);
	policy_unref(NULL);
	return 0;
}

/* Bad names and duplicates are refused, *out untouched, nothing leaks. */
static int
test_policy_bad_input(void)
{
	struct store_policy sp;
	struct policy *p = (struct policy *)(uintptr_t)1;
	struct store_allowed dup[] = { { "a.test", NULL, false, "" }, { "A.TEST.", NULL, false, "" } };
	struct store_allowed badproxy[] = { { "a.test", "*.a.test", false, "" } };
	struct store_blocked badblocked[] = { { "10.0.0.1", "" } };
	char *d1[] = { "x.test" }, *d2[] = { "X.test" };
	struct store_provider twodom[] = {
		{ "P1", 0, "p1.test", 0, true, "", d1, 1 },
		{ "P2", 0, "p2.test", 0, true, "", d2, 1 },
	};
	struct store_provider twoname[] = {
		{ "Same", 0, "p1.test", 0, true, "", NULL, 0 },
		{ "SAME", 0, "p2.test", 0, true, "", NULL, 0 },
	};
	struct store_provider twoproxy[] = {
		{ "P1", 0, "p.test", 0, true, "", NULL, 0 },
		{ "P2", 0, "P.test", 0, true, "", NULL, 0 },
	};
	struct store_provider badname[] = { { "has space", 0, "p.test", 0, true, "", NULL, 0 } };
	static const char *const badlocal[] = { "ok.test", "" };

	CHECK_EQ_INT(policy_build(NULL, &p), -EINVAL);
	memset(&sp, 0, sizeof(sp));
	sp.allowed = dup;
	sp.nallowed = 2;
	CHECK_EQ_INT(policy_build(&sp, &p), -EINVAL);
	sp.allowed = badproxy;
	sp.nallowed = 1;
	CHECK_EQ_INT(policy_build(&sp, &p), -EINVAL);
	sp.nallowed = 0;
	sp.blocked = badblocked;
	sp.nblocked = 1;
	CHECK_EQ_INT(policy_build(&sp, &p), -EINVAL);
	sp.nblocked = 0;
	sp.providers = twodom;
	sp.nproviders = 2;
	CHECK_EQ_INT(policy_build(&sp, &p), -EINVAL);
	sp.providers = twoname;
	CHECK_EQ_INT(policy_build(&sp, &p), -EINVAL);
	sp.providers = twoproxy;
	CHECK_EQ_INT(policy_build(&sp, &p), -EINVAL);
	sp.providers = badname;
	sp.nproviders = 1;
	CHECK_EQ_INT(policy_build(&sp, &p), -EINVAL);
	sp.nproviders = 0;
	CHECK_EQ_INT(policy_build_local(&sp, badlocal, 2, &p), -EINVAL);
	CHECK(p == (struct policy *)(uintptr_t)1);
	return 0;
}

/* The snapshot copies everything: the store_policy may go right away. */
static int
test_policy_independent_of_source(void)
{
	struct store *st = NULL;
	struct store_policy *sp = NULL;
	struct policy *p = NULL;
	struct store_provider prov = { 0 };
	char *doms[] = { "Provider.Test" };
	char dir[] = "/tmp/test_policy.XXXXXX", path[64], err[256], cmd[96];
	uint64_t gen = 0;
	int rc = 1;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/policy.db", dir);
	if (store_open(path, STORE_OPEN_CREATE | STORE_OPEN_ANY, &st, err, sizeof(err)) != 0 ||
	    store_init(st) != 0) {
		fprintf(stderr, "# store: %s\n", st ? store_error(st) : err);
		goto out;
	}
	prov.name = "PubIM";
	prov.kind = STORE_PROVIDER_PUBLIC;
	prov.proxy_fqdn = "FED.provider.test";
	prov.verification = STORE_VERIFY_ALWAYS_UNVERIFIED;
	prov.enabled = true;
	prov.domains = doms;
	prov.ndomains = 1;
	if (store_config_set(st, "federation", "on") != 0 ||
	    store_config_set(st, "partner-discovery", "on") != 0 ||
	    store_config_set(st, "discovered-rate", "7") != 0 ||
	    store_allowed_add(st, "Litware.Test", "Edge.Litware.Test.", true, "direct") != 0 ||
	    store_allowed_add(st, "fabrikam.test", NULL, false, NULL) != 0 ||
	    store_blocked_add(st, "evil.test", "spam") != 0 ||
	    store_provider_add(st, &prov) != 0 ||
	    store_policy_load(st, &sp) != 0 || store_generation(st, &gen) != 0) {
		fprintf(stderr, "# store: %s\n", store_error(st));
		goto out;
	}
	if (policy_build(sp, &p) != 0)
		goto out;
	store_policy_free(sp);
	sp = NULL;
	store_close(st);
	st = NULL;
	if (policy_generation(p) != gen || !policy_config(p)->federation ||
	    !policy_config(p)->partner_discovery || policy_config(p)->discovered_rate != 7 ||
	    !policy_blocked(p, "evil.test") || policy_allowed(p, "fabrikam.test") == NULL ||
	    policy_allowed(p, "litware.test") == NULL ||
	    strcmp(policy_allowed(p, "litware.test")->proxy_fqdn, "edge.litware.test") != 0 ||
	    !policy_allowed(p, "litware.test")->monitor ||
	    policy_provider_by_domain(p, "provider.test") != policy_provider(p, "pubim") ||
	    policy_provider_by_proxy(p, "fed.provider.test") == NULL ||
	    policy_provider(p, "pubim")->verification != STORE_VERIFY_ALWAYS_UNVERIFIED) {
		fprintf(stderr, "# snapshot does not match the store\n");
		goto out;
	}
	rc = 0;
out:
	policy_unref(p);
	store_policy_free(sp);
	store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "# could not remove %s\n", dir);
	return rc;
}

/* ------------------------------------------------------------ refcount */

#define THREADS 8
#define ROUNDS 100000

static void *
hammer(void *arg)
{
	struct policy *p = arg;

	for (int i = 0; i < ROUNDS; i++) {
		struct policy *mine = policy_ref(p);

		if (!policy_blocked(mine, "evil.test"))
			return (void *)1;
		policy_unref(mine);
	}
	/* Each thread leaves with the reference main gave it. */
	policy_unref(p);
	return NULL;
}

static int
test_policy_refcount_threads(void)
{
	struct store_policy sp;
	struct policy *p = NULL;
	pthread_t th[THREADS];

	fixture(&sp);
	CHECK_EQ_INT(policy_build(&sp, &p), 0);
	CHECK_EQ_INT(atomic_load(&p->refs), 1);
	for (int i = 0; i < THREADS; i++)
		CHECK_EQ_INT(pthread_create(&th[i], NULL, hammer, policy_ref(p)), 0);
	for (int i = 0; i < THREADS; i++) {
		void *r = NULL;

		CHECK_EQ_INT(pthread_join(th[i], &r), 0);
		CHECK(r == NULL);
	}
	CHECK_EQ_INT(atomic_load(&p->refs), 1);
	CHECK(policy_ref(p) == p);
	CHECK_EQ_INT(atomic_load(&p->refs), 2);
	policy_unref(p);
	/* The last unref frees (the sanitizer build checks that nothing leaks). */
	policy_unref(p);
	return 0;
}

/* A publisher swaps snapshots while readers hold the old one. */
static int
test_policy_swap_while_held(void)
{
	struct store_policy sp;
	struct policy *cur = NULL, *next = NULL, *held;

	fixture(&sp);
	CHECK_EQ_INT(policy_build(&sp, &cur), 0);
	held = policy_ref(cur);             /* a worker in the middle of a message */
	sp.nblocked = 0;
	sp.generation = 43;
	CHECK_EQ_INT(policy_build(&sp, &next), 0);
	policy_unref(cur);                  /* the publisher drops the old one */
	cur = next;
	CHECK(policy_blocked(held, "evil.test"));
	CHECK_EQ_INT(policy_generation(held), 42);
	CHECK(!policy_blocked(cur, "evil.test"));
	CHECK_EQ_INT(policy_generation(cur), 43);
	policy_unref(held);
	policy_unref(cur);
	return 0;
}

/* ------------------------------------------------------------------ XMPP */

static char *gmail_more[] = { "GoogleMail.Test." };

/* gmail.test (and googlemail.test): plain TCP and dialback, as Google Talk
 * was run; jabber.test: federated, its own limit and proxy. */
static void
xmpp_fixture(struct store_policy *sp, struct store_xmpp_partner x[2])
{
	fixture(sp);
	store_xmpp_partner_defaults(&x[0]);
	x[0].domain = "Gmail.Test";
	x[0].additional = gmail_more;
	x[0].nadditional = 1;
	x[0].tls = STORE_XMPP_NOT_SUPPORTED;
	x[0].sasl = STORE_XMPP_NOT_SUPPORTED;
	x[0].keepalive = false;
	x[0].comment = "";
	store_xmpp_partner_defaults(&x[1]);
	x[1].domain = "jabber.test";
	x[1].type = STORE_XMPP_FEDERATED;
	x[1].sasl = STORE_XMPP_OPTIONAL;
	x[1].dialback = false;
	x[1].connection_limit = 5;
	x[1].proxy_fqdn = "XMPP.Jabber.Test.";
	x[1].comment = "";
	sp->xmpp_partners = x;
	sp->nxmpp_partners = 2;
	sp->config.xmpp.partner_connection_limit = 7;
	sp->config.xmpp.message_type = STORE_XMPP_MSG_NORMAL;
}

static int
test_policy_xmpp_lookups(void)
{
	struct store_xmpp_partner x[2];
	struct store_policy sp;
	struct policy *p = NULL;
	const struct policy_xmpp_partner *g, *j;

	xmpp_fixture(&sp, x);
	CHECK_EQ_INT(policy_build(&sp, &p), 0);
	CHECK_EQ_INT(policy_nxmpp_partners(p), 2);
	CHECK_EQ_INT(policy_xmpp_config(p)->partner_connection_limit, 7);
	CHECK_EQ_INT(policy_xmpp_config(p)->connection_limit, 1000);
	CHECK_EQ_INT(policy_xmpp_config(p)->subscription_refresh_interval, 28800);
	CHECK_EQ_INT(policy_xmpp_config(p)->message_type, STORE_XMPP_MSG_NORMAL);
	/* By its own domain or an additional one, any case, one trailing dot. */
	CHECK((g = policy_xmpp_partner(p, "gmail.test")) != NULL);
	CHECK(policy_xmpp_partner(p, "GMAIL.test.") == g);
	CHECK(policy_xmpp_partner(p, "googlemail.test") == g);
	CHECK(policy_xmpp_partner(p, "GoogleMail.TEST") == g);
	CHECK_EQ_STR(g->domain, "gmail.test");
	CHECK_EQ_INT(g->nadditional, 1);
	CHECK_EQ_STR(g->additional[0], "googlemail.test");
	CHECK_EQ_INT(g->type, STORE_XMPP_PUBLIC_UNVERIFIED);
	CHECK_EQ_INT(g->tls, STORE_XMPP_NOT_SUPPORTED);
	CHECK_EQ_INT(g->sasl, STORE_XMPP_NOT_SUPPORTED);
	CHECK(g->dialback);
	CHECK(!g->keepalive);
	CHECK(g->proxy_fqdn == NULL);
	/* No limit of its own: partner-connection-limit is in force. */
	CHECK_EQ_INT(g->connection_limit, 7);
	CHECK((j = policy_xmpp_partner(p, "jabber.test")) != NULL && j != g);
	CHECK_EQ_INT(j->type, STORE_XMPP_FEDERATED);
	CHECK_EQ_INT(j->tls, STORE_XMPP_REQUIRED);
	CHECK_EQ_INT(j->sasl, STORE_XMPP_OPTIONAL);
	CHECK(!j->dialback);
	CHECK_EQ_INT(j->connection_limit, 5);
	CHECK_EQ_STR(j->proxy_fqdn, "xmpp.jabber.test");
	CHECK_EQ_INT(j->nadditional, 0);
	/* Exact names only; SIP partners are not XMPP partners. */
	CHECK(policy_xmpp_partner(p, "sub.gmail.test") == NULL);
	CHECK(policy_xmpp_partner(p, "test") == NULL);
	CHECK(policy_xmpp_partner(p, "fabrikam.test") == NULL);
	CHECK(policy_xmpp_partner(p, "*.gmail.test") == NULL);
	CHECK(policy_xmpp_partner(p, "") == NULL);
	CHECK(policy_xmpp_partner(p, NULL) == NULL);
	policy_unref(p);
	return 0;
}

static int
test_policy_xmpp_decide(void)
{
	static const char *const local[] = { "contoso.test" };
	struct store_xmpp_partner x[2];
	struct store_policy sp;
	struct policy *p = NULL, *off = NULL;
	const struct policy_xmpp_partner *out = (const void *)(uintptr_t)1;

	xmpp_fixture(&sp, x);
	CHECK_EQ_INT(policy_build_local(&sp, local, 1, &p), 0);
	CHECK_EQ_INT(policy_xmpp_decide(p, "gmail.test", &out), POLICY_XMPP_PARTNER);
	CHECK(out == policy_xmpp_partner(p, "gmail.test") && out != NULL);
	CHECK_EQ_INT(policy_xmpp_decide(p, "GOOGLEMAIL.test.", &out), POLICY_XMPP_PARTNER);
	CHECK_EQ_STR(out->domain, "gmail.test");
	CHECK_EQ_INT(policy_xmpp_decide(p, "jabber.test", NULL), POLICY_XMPP_PARTNER);
	CHECK_EQ_INT(policy_xmpp_decide(p, "Contoso.Test", &out), POLICY_XMPP_LOCAL);
	CHECK(out == NULL);
	CHECK_EQ_INT(policy_xmpp_decide(p, "evil.test", &out), POLICY_XMPP_BLOCKED);
	CHECK(out == NULL);
	CHECK_EQ_INT(policy_xmpp_decide(p, "fabrikam.test", &out), POLICY_XMPP_NOT_PARTNER);
	CHECK_EQ_INT(policy_xmpp_decide(p, "provider.test", &out), POLICY_XMPP_NOT_PARTNER);
	CHECK_EQ_INT(policy_xmpp_decide(p, "unknown.test", &out), POLICY_XMPP_NOT_PARTNER);
	CHECK_EQ_INT(policy_xmpp_decide(p, "10.0.0.1", &out), POLICY_XMPP_NOT_PARTNER);
	CHECK_EQ_INT(policy_xmpp_decide(p, "bad..name", &out), POLICY_XMPP_NOT_PARTNER);
	CHECK_EQ_INT(policy_xmpp_decide(p, NULL, &out), POLICY_XMPP_NOT_PARTNER);
	CHECK(out == NULL);
	/* The federation switch applies to XMPP too, before anything else. */
	sp.config.federation = false;
	CHECK_EQ_INT(policy_build_local(&sp, local, 1, &off), 0);
	out = (const void *)(uintptr_t)1;
	CHECK_EQ_INT(policy_xmpp_decide(off, "gmail.test", &out), POLICY_XMPP_FEDERATION_OFF);
	CHECK(out == NULL);
	CHECK_EQ_INT(policy_xmpp_decide(off, "evil.test", NULL), POLICY_XMPP_FEDERATION_OFF);
	CHECK_EQ_STR(policy_xmpp_verdict_name(POLICY_XMPP_PARTNER), "partner");
	CHECK_EQ_STR(policy_xmpp_verdict_name(POLICY_XMPP_FEDERATION_OFF), "federation-off");
	CHECK_EQ_STR(policy_xmpp_verdict_name(POLICY_XMPP_LOCAL), "local");
	CHECK_EQ_STR(policy_xmpp_verdict_name(POLICY_XMPP_BLOCKED), "blocked");
	CHECK_EQ_STR(policy_xmpp_verdict_name(POLICY_XMPP_NOT_PARTNER), "not-partner");
	policy_unref(p);
	policy_unref(off);
	return 0;
}

/* A snapshot built from data the store would refuse still never lets a
 * blocked domain through, and refuses what cannot be decided safely. */
static int
test_policy_xmpp_bad_input(void)
{
	struct store_xmpp_partner x[2];
	struct store_policy sp;
	struct policy *p = NULL, *untouched = (struct policy *)(uintptr_t)1;
	static struct store_blocked blocked_gmail[] = { { "gmail.test", "" } };
	char *clash[] = { "jabber.test" };

	xmpp_fixture(&sp, x);
	sp.blocked = blocked_gmail;
	sp.nblocked = 1;
	CHECK_EQ_INT(policy_build(&sp, &p), 0);
	CHECK_EQ_INT(policy_xmpp_decide(p, "gmail.test", NULL), POLICY_XMPP_BLOCKED);
	CHECK_EQ_INT(policy_xmpp_decide(p, "googlemail.test", NULL), POLICY_XMPP_PARTNER);
	policy_unref(p);

	/* One domain for two partners. */
	xmpp_fixture(&sp, x);
	x[0].additional = clash;
	CHECK_EQ_INT(policy_build(&sp, &untouched), -EINVAL);
	xmpp_fixture(&sp, x);
	x[1].domain = "GMAIL.test";
	CHECK_EQ_INT(policy_build(&sp, &untouched), -EINVAL);
	/* A combination the negotiation matrix refuses. */
	xmpp_fixture(&sp, x);
	x[1].sasl = STORE_XMPP_NOT_SUPPORTED;
	CHECK_EQ_INT(policy_build(&sp, &untouched), -EINVAL);
	xmpp_fixture(&sp, x);
	x[1].tls = STORE_XMPP_NOT_SUPPORTED;
	CHECK_EQ_INT(policy_build(&sp, &untouched), -EINVAL);
	/* Bad names, values out of range. */
	xmpp_fixture(&sp, x);
	x[0].domain = "*.gmail.test";
	CHECK_EQ_INT(policy_build(&sp, &untouched), -EINVAL);
	xmpp_fixture(&sp, x);
	x[1].proxy_fqdn = "bad proxy";
	CHECK_EQ_INT(policy_build(&sp, &untouched), -EINVAL);
	xmpp_fixture(&sp, x);
	x[1].connection_limit = STORE_XMPP_CONN_LIMIT_MAX + 1;
	CHECK_EQ_INT(policy_build(&sp, &untouched), -EINVAL);
	xmpp_fixture(&sp, x);
	x[1].type = (enum store_xmpp_type)7;
	CHECK_EQ_INT(policy_build(&sp, &untouched), -EINVAL);
	CHECK(untouched == (struct policy *)(uintptr_t)1);
	return 0;
}

/* The store's changes reach a new snapshot: what the daemon's generation poll
 * rebuilds within a second of a commit. */
static int
test_policy_xmpp_from_store(void)
{
	struct store *st = NULL;
	struct store_policy *sp = NULL;
	struct policy *p1 = NULL, *p2 = NULL, *p3 = NULL;
	struct store_xmpp_partner x;
	char *more[] = { "GoogleMail.Test" };
	char dir[] = "/tmp/test_policy.XXXXXX", path[64], err[256], cmd[96];
	const struct policy_xmpp_partner *out = NULL;
	int rc = 1;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/policy.db", dir);
	if (store_open(path, STORE_OPEN_CREATE | STORE_OPEN_ANY, &st, err, sizeof(err)) != 0 ||
	    store_init(st) != 0) {
		fprintf(stderr, "# store: %s\n", st ? store_error(st) : err);
		goto out;
	}
	store_xmpp_partner_defaults(&x);
	x.domain = "Gmail.Test";
	x.additional = more;
	x.nadditional = 1;
	x.tls = STORE_XMPP_NOT_SUPPORTED;
	x.sasl = STORE_XMPP_NOT_SUPPORTED;
	if (store_config_set(st, "federation", "on") != 0 ||
	    store_xmpp_config_set(st, "keepalive-interval", "120") != 0 ||
	    store_policy_load(st, &sp) != 0 || policy_build(sp, &p1) != 0)
		goto fail;
	store_policy_free(sp);
	sp = NULL;
	if (policy_xmpp_decide(p1, "gmail.test", NULL) != POLICY_XMPP_NOT_PARTNER ||
	    policy_xmpp_config(p1)->keepalive_interval != 120) {
		fprintf(stderr, "# before the add\n");
		goto out;
	}
	/* Added: the next snapshot lets it through. */
	if (store_xmpp_partner_add(st, &x) != 0 || store_policy_load(st, &sp) != 0 ||
	    policy_build(sp, &p2) != 0)
		goto fail;
	store_policy_free(sp);
	sp = NULL;
	if (policy_generation(p2) <= policy_generation(p1) ||
	    policy_xmpp_decide(p2, "googlemail.test", &out) != POLICY_XMPP_PARTNER ||
	    strcmp(out->domain, "gmail.test") != 0 || out->tls != STORE_XMPP_NOT_SUPPORTED ||
	    out->connection_limit != 20) {
		fprintf(stderr, "# after the add\n");
		goto out;
	}
	/* Blocked in its place: the next snapshot refuses it, the held one not. */
	if (store_blocked_replace(st, "gmail.test", "ended") != 0 ||
	    store_policy_load(st, &sp) != 0 || policy_build(sp, &p3) != 0)
		goto fail;
	if (policy_generation(p3) <= policy_generation(p2) ||
	    policy_xmpp_decide(p3, "gmail.test", NULL) != POLICY_XMPP_BLOCKED ||
	    policy_xmpp_decide(p3, "googlemail.test", NULL) != POLICY_XMPP_NOT_PARTNER ||
	    policy_nxmpp_partners(p3) != 0 ||
	    policy_xmpp_decide(p2, "gmail.test", NULL) != POLICY_XMPP_PARTNER) {
		fprintf(stderr, "# after the block\n");
		goto out;
	}
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "# store: %s\n", store_error(st));
out:
	policy_unref(p1);
	policy_unref(p2);
	policy_unref(p3);
	store_policy_free(sp);
	store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "# could not remove %s\n", dir);
	return rc;
}

static const struct unit_test tests[] = {
	UNIT(test_policy_lookups),
	UNIT(test_policy_empty),
	UNIT(test_policy_bad_input),
	UNIT(test_policy_independent_of_source),
	UNIT(test_policy_refcount_threads),
	UNIT(test_policy_swap_while_held),
	UNIT(test_policy_xmpp_lookups),
	UNIT(test_policy_xmpp_decide),
	UNIT(test_policy_xmpp_bad_input),
	UNIT(test_policy_xmpp_from_store),
	{ 0 },
};

int
main(int argc, char **argv)
{
	return unit_main(argc, argv, tests);
}
