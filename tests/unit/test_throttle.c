/* test_throttle.c: unit tests for throttle.c with an injected clock: the rate
 * limit, the suspicious rate, distinct contacts per period and their reset,
 * response classification, drained deltas (also recorded in a real store),
 * the memory bounds, concurrent use, and the live view (throttle_list, the
 * periodic report and the first refusal of a period). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "sipedge/throttle.h"
#include "unit.h"

#define MIN (60u * 1000u)

/* A policy with discovery on and the given limits (0: the default). */
static struct policy *
limits(unsigned rate, unsigned srate, unsigned contacts, unsigned period)
{
	struct store_policy sp;
	struct policy *p = NULL;

	memset(&sp, 0, sizeof(sp));
	store_config_defaults(&sp.config);
	sp.config.federation = true;
	sp.config.partner_discovery = true;
	if (rate)
		sp.config.discovered_rate = rate;
	if (srate)
		sp.config.discovered_suspicious_rate = srate;
	if (contacts)
		sp.config.discovered_contacts = contacts;
	if (period)
		sp.config.discovered_period = period;
	return policy_build(&sp, &p) == 0 ? p : NULL;
}

/* How many of n requests at time now are admitted; *why gets the last reason. */
static int
burst(struct throttle *t, const struct policy *p, const char *dom, int n, uint64_t now,
    enum diag_code *why)
{
	int ok = 0;

	for (int i = 0; i < n; i++)
		if (throttle_admit(t, p, dom, "sip.peer.test", "sip:alice@contoso.test", now, why) == 0)
			ok++;
	return ok;
}

static int
test_throttle_defaults(void)
{
	struct store_config c;

	/* The numbers: 20/s, 1/s when suspicious, 1,000 contacts per 60 min. */
	store_config_defaults(&c);
	CHECK_EQ_INT(c.discovered_rate, 20);
	CHECK_EQ_INT(c.discovered_suspicious_rate, 1);
	CHECK_EQ_INT(c.discovered_contacts, 1000);
	CHECK_EQ_INT(c.discovered_period, 60);
	CHECK_EQ_INT(c.discovered_suspicious_ratio, 100);
	return 0;
}

static int
test_throttle_rate(void)
{
	struct policy *p = limits(0, 0, 0, 0);
	struct throttle *t = NULL;
	enum diag_code why = DIAG_NONE;

	CHECK(p != NULL);
	CHECK_EQ_INT(throttle_new(0, 0, &t), 0);
	/* A new partner may send a second's worth at once, then no more. */
	CHECK_EQ_INT(burst(t, p, "partner.test", 25, 1000, &why), 20);
	CHECK_EQ_INT(why, DIAG_FED_RATE);
	CHECK_EQ_INT(diag_lookup(why)->status, 503);
	/* 20/s: one more every 50 ms. */
	CHECK_EQ_INT(burst(t, p, "partner.test", 5, 1049, &why), 0);
	CHECK_EQ_INT(burst(t, p, "partner.test", 5, 1050, &why), 1);
	CHECK_EQ_INT(burst(t, p, "partner.test", 5, 1150, &why), 2);
	/* Idle for long: full again, never more than one second's worth. */
	CHECK_EQ_INT(burst(t, p, "partner.test", 30, 100000, &why), 20);
	CHECK_EQ_INT(burst(t, p, "partner.test", 30, UINT64_MAX / 2, &why), 20);
	/* A clock that goes back adds nothing and breaks nothing. */
	CHECK_EQ_INT(burst(t, p, "partner.test", 5, 5000, &why), 0);
	/* Each domain has its own bucket; the name is compared in normal form. */
	CHECK_EQ_INT(burst(t, p, "other.test", 25, 1000, &why), 20);
	CHECK_EQ_INT(burst(t, p, "OTHER.Test.", 1, 1000, &why), 0);
	CHECK_EQ_INT(burst(t, p, "other.test", 1, 1050, &why), 1);
	/* A new snapshot with another rate applies at once. */
	policy_unref(p);
	CHECK((p = limits(50, 0, 0, 0)) != NULL);
	CHECK_EQ_INT(burst(t, p, "other.test", 100, 3000, &why), 50);
	throttle_free(t);
	policy_unref(p);
	return 0;
}

static int
test_throttle_bad_domain(void)
{
	struct policy *p = limits(0, 0, 0, 0);
	struct throttle *t = NULL;
	enum diag_code why = DIAG_NONE;
	struct throttle_stats s;

	CHECK_EQ_INT(throttle_new(0, 0, &t), 0);
	CHECK_EQ_INT(throttle_admit(t, p, "10.1.2.3", NULL, "x", 0, &why), -EINVAL);
	CHECK_EQ_INT(why, DIAG_FED_NOT_FEDERATED);
	CHECK_EQ_INT(throttle_admit(t, p, NULL, NULL, "x", 0, NULL), -EINVAL);
	throttle_stats(t, &s);
	CHECK_EQ_INT(s.domains, 0);
	throttle_free(t);
	policy_unref(p);
	return 0;
}

static int
test_throttle_classify(void)
{
	static const struct { int status, k; } cases[] = {
		{ 100, -1 }, { 180, -1 }, { 200, 0 }, { 202, 0 }, { 299, 0 }, { 302, -1 },
		{ 400, 1 }, { 401, -1 }, { 403, 1 }, { 404, 1 }, { 407, -1 }, { 408, -1 },
		{ 410, 1 }, { 415, 1 }, { 480, -1 }, { 484, 1 }, { 486, -1 }, { 487, -1 },
		{ 488, 1 }, { 491, -1 }, { 500, -1 }, { 503, -1 }, { 504, -1 }, { 600, -1 },
		{ 603, -1 }, { 604, 1 }, { 606, -1 }, { 0, -1 }, { 999, -1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (throttle_classify(cases[i].status) != cases[i].k) {
			fprintf(stderr, "# status %d\n", cases[i].status);
			return 1;
		}
	return 0;
}

static void
outcomes(struct throttle *t, const char *dom, int status, int n)
{
	for (int i = 0; i < n; i++)
		throttle_outcome(t, dom, status);
}

static int
test_throttle_suspicious(void)
{
	struct policy *p = limits(0, 0, 0, 0);
	struct throttle *t = NULL;
	enum diag_code why = DIAG_NONE;

	CHECK_EQ_INT(throttle_new(0, 0, &t), 0);
	/* Outcomes of an unknown domain are ignored. */
	outcomes(t, "spam.test", 404, 50);
	CHECK(!throttle_suspicious(t, p, "spam.test"));
	CHECK_EQ_INT(burst(t, p, "spam.test", 1, 0, &why), 1);
	/* Fewer than THROTTLE_MIN_OUTCOMES counted responses: never suspicious. */
	outcomes(t, "spam.test", 404, THROTTLE_MIN_OUTCOMES - 1);
	outcomes(t, "spam.test", 401, 100);     /* challenges do not count */
	outcomes(t, "spam.test", 503, 100);     /* nor server trouble */
	CHECK(!throttle_suspicious(t, p, "spam.test"));
	/* 9 failures, 9 successes: a ratio of 100 is not crossed. */
	outcomes(t, "spam.test", 200, 9);
	CHECK(!throttle_suspicious(t, p, "spam.test"));
	/* One more failure crosses it. */
	outcomes(t, "Spam.Test.", 404, 1);
	CHECK(throttle_suspicious(t, p, "spam.test"));
	/* The reduced rate: one a second, refused with its own code. */
	CHECK_EQ_INT(burst(t, p, "spam.test", 10, 2000, &why), 1);
	CHECK_EQ_INT(why, DIAG_FED_SUSPICIOUS);
	CHECK_EQ_INT(diag_lookup(why)->status, 503);
	CHECK_EQ_INT(burst(t, p, "spam.test", 10, 2999, &why), 0);
	CHECK_EQ_INT(burst(t, p, "spam.test", 10, 3000, &why), 1);
	/* Enough successes bring it back under the ratio. */
	outcomes(t, "spam.test", 200, 2);
	CHECK(!throttle_suspicious(t, p, "spam.test"));
	CHECK_EQ_INT(burst(t, p, "spam.test", 30, 5000, &why), 20);
	/* Suspicious again, then a new period forgets the outcomes. */
	outcomes(t, "spam.test", 604, 5);
	CHECK(throttle_suspicious(t, p, "spam.test"));
	CHECK_EQ_INT(burst(t, p, "spam.test", 30, 10000, &why), 1);
	CHECK_EQ_INT(burst(t, p, "spam.test", 30, 60 * MIN + 1, &why), 20);
	CHECK(!throttle_suspicious(t, p, "spam.test"));
	/* The ratio is a setting: 300 failures per 100 successes. */
	policy_unref(p);
	{
		struct store_policy sp;

		memset(&sp, 0, sizeof(sp));
		store_config_defaults(&sp.config);
		sp.config.discovered_suspicious_ratio = 300;
		CHECK_EQ_INT(policy_build(&sp, &p), 0);
	}
	outcomes(t, "spam.test", 200, 5);
	outcomes(t, "spam.test", 404, 15);
	CHECK(!throttle_suspicious(t, p, "spam.test"));
	outcomes(t, "spam.test", 404, 1);
	CHECK(throttle_suspicious(t, p, "spam.test"));
	throttle_free(t);
	policy_unref(p);
	return 0;
}

static int
test_throttle_contacts(void)
{
	struct policy *p = limits(1000, 0, 5, 60);
	struct throttle *t = NULL;
	enum diag_code why = DIAG_NONE;
	struct throttle_stats s;
	char c[64];

	CHECK(p != NULL);
	CHECK_EQ_INT(throttle_new(0, 0, &t), 0);
	for (int i = 0; i < 5; i++) {
		snprintf(c, sizeof(c), "sip:user%d@contoso.test", i);
		CHECK_EQ_INT(throttle_admit(t, p, "harvest.test", NULL, c, 0, &why), 0);
		CHECK_EQ_INT(throttle_admit(t, p, "harvest.test", NULL, c, 0, &why), 0);
	}
	/* A sixth distinct contact is refused; the five known ones still pass. */
	CHECK_EQ_INT(throttle_admit(t, p, "harvest.test", NULL, "sip:user5@contoso.test", 10, &why),
	    -EACCES);
	CHECK_EQ_INT(why, DIAG_FED_CONTACTS);
	CHECK_EQ_INT(diag_lookup(why)->status, 480);
	CHECK_EQ_INT(throttle_admit(t, p, "harvest.test", NULL, "sip:user3@contoso.test", 20, &why),
	    0);
	/* Another partner has its own set. */
	CHECK_EQ_INT(throttle_admit(t, p, "other.test", NULL, "sip:user5@contoso.test", 20, &why), 0);
	throttle_stats(t, &s);
	CHECK_EQ_INT(s.contacts, 6);
	/* Just before the period ends: still refused.  After: a fresh set. */
	CHECK_EQ_INT(throttle_admit(t, p, "harvest.test", NULL, "sip:user5@contoso.test",
	    60 * MIN - 1, &why), -EACCES);
	CHECK_EQ_INT(throttle_admit(t, p, "harvest.test", NULL, "sip:user5@contoso.test",
	    60 * MIN, &why), 0);
	throttle_stats(t, &s);
	CHECK_EQ_INT(s.contacts, 2);
	for (int i = 6; i < 10; i++) {
		snprintf(c, sizeof(c), "sip:user%d@contoso.test", i);
		CHECK_EQ_INT(throttle_admit(t, p, "harvest.test", NULL, c, 60 * MIN, &why), 0);
	}
	CHECK_EQ_INT(throttle_admit(t, p, "harvest.test", NULL, "sip:user0@contoso.test",
	    60 * MIN, &why), -EACCES);
	throttle_free(t);
	policy_unref(p);
	return 0;
}

/* A refused request takes no token, and a rate refusal adds no contact. */
static int
test_throttle_refusal_costs_nothing(void)
{
	struct policy *p = limits(2, 1, 2, 0);
	struct throttle *t = NULL;
	enum diag_code why = DIAG_NONE;
	struct throttle_stats s;

	CHECK_EQ_INT(throttle_new(0, 0, &t), 0);
	CHECK_EQ_INT(throttle_admit(t, p, "a.test", NULL, "c1", 0, &why), 0);
	CHECK_EQ_INT(throttle_admit(t, p, "a.test", NULL, "c2", 0, &why), 0);
	/* Out of contacts: refused, the last token kept... */
	CHECK_EQ_INT(throttle_admit(t, p, "a.test", NULL, "c3", 500, &why), -EACCES);
	CHECK_EQ_INT(why, DIAG_FED_CONTACTS);
	/* ...for a known contact. */
	CHECK_EQ_INT(throttle_admit(t, p, "a.test", NULL, "c1", 500, &why), 0);
	CHECK_EQ_INT(throttle_admit(t, p, "a.test", NULL, "c1", 500, &why), -EACCES);
	CHECK_EQ_INT(why, DIAG_FED_RATE);
	/* A rate refusal of a new contact does not use up the contact limit. */
	CHECK_EQ_INT(throttle_admit(t, p, "b.test", NULL, "c1", 0, &why), 0);
	CHECK_EQ_INT(throttle_admit(t, p, "b.test", NULL, "c1", 0, &why), 0);
	CHECK_EQ_INT(throttle_admit(t, p, "b.test", NULL, "c2", 0, &why), -EACCES);
	CHECK_EQ_INT(why, DIAG_FED_RATE);
	throttle_stats(t, &s);
	CHECK_EQ_INT(s.contacts, 3);
	CHECK_EQ_INT(throttle_admit(t, p, "b.test", NULL, "c2", 500, &why), 0);
	throttle_free(t);
	policy_unref(p);
	return 0;
}

static const struct store_partner_delta *
find(const struct store_partner_delta *d, size_t n, const char *dom)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(d[i].domain, dom) == 0)
			return &d[i];
	return NULL;
}

static bool
has_peer(const struct store_partner_delta *d, const char *peer)
{
	for (size_t i = 0; i < d->npeers; i++)
		if (strcmp(d->peers[i], peer) == 0)
			return true;
	return false;
}

static int
test_throttle_drain(void)
{
	struct policy *p = limits(3, 1, 2, 0);
	struct throttle *t = NULL;
	struct store_partner_delta d[8];
	const struct store_partner_delta *x;
	char peer[32];

	CHECK_EQ_INT(throttle_new(0, 0, &t), 0);
	CHECK_EQ_INT(throttle_drain(t, d, 8), 0);
	/* a.test: 3 admitted (2 distinct contacts), 2 refused, two edges. */
	CHECK_EQ_INT(throttle_admit(t, p, "a.test", "SIP.a.test.", "c1", 0, NULL), 0);
	CHECK_EQ_INT(throttle_admit(t, p, "a.test", "sip.a.test", "c2", 0, NULL), 0);
	CHECK_EQ_INT(throttle_admit(t, p, "a.test", "sip2.a.test", "c1", 0, NULL), 0);
	CHECK_EQ_INT(throttle_admit(t, p, "a.test", "sip2.a.test", "c1", 0, NULL), -EACCES);
	CHECK_EQ_INT(throttle_admit(t, p, "a.test", "*.a.test", "c3", 0, NULL), -EACCES);
	/* b.test: one, no peer known. */
	CHECK_EQ_INT(throttle_admit(t, p, "B.test", NULL, "c1", 0, NULL), 0);
	CHECK_EQ_INT(throttle_drain(t, d, 8), 2);
	CHECK((x = find(d, 2, "a.test")) != NULL);
	CHECK_EQ_INT(x->requests, 3);
	CHECK_EQ_INT(x->contacts, 2);
	CHECK_EQ_INT(x->throttled, 2);
	CHECK_EQ_INT(x->npeers, 2);          /* normalised, deduplicated, no wildcard */
	CHECK(has_peer(x, "sip.a.test") && has_peer(x, "sip2.a.test"));
	CHECK_EQ_INT(x->seen, 0);
	CHECK((x = find(d, 2, "b.test")) != NULL);
	CHECK_EQ_INT(x->requests, 1);
	CHECK_EQ_INT(x->contacts, 1);
	CHECK_EQ_INT(x->throttled, 0);
	CHECK_EQ_INT(x->npeers, 0);
	/* Nothing new: nothing to drain. */
	CHECK_EQ_INT(throttle_drain(t, d, 8), 0);
	/* Contacts seen before count once per period, not once per drain. */
	CHECK_EQ_INT(throttle_admit(t, p, "a.test", NULL, "c1", 1000, NULL), 0);
	CHECK_EQ_INT(throttle_admit(t, p, "b.test", NULL, "c2", 1000, NULL), 0);
	/* max smaller than the pending count: the rest waits. */
	CHECK_EQ_INT(throttle_drain(t, d, 1), 1);
	CHECK_EQ_INT(d[0].requests, 1);
	CHECK_EQ_INT(d[0].contacts, strcmp(d[0].domain, "b.test") == 0 ? 1 : 0);
	CHECK_EQ_INT(throttle_drain(t, d, 1), 1);
	CHECK_EQ_INT(d[0].contacts, strcmp(d[0].domain, "b.test") == 0 ? 1 : 0);
	CHECK_EQ_INT(throttle_drain(t, d, 1), 0);
	CHECK_EQ_INT(throttle_drain(t, d, 0), 0);
	/* At most THROTTLE_PEERS_MAX peer names are kept between drains. */
	for (int i = 0; i < THROTTLE_PEERS_MAX + 5; i++) {
		snprintf(peer, sizeof(peer), "edge%d.c.test", i);
		(void)throttle_admit(t, p, "c.test", peer, "c1", 10000 + (uint64_t)i * 1000, NULL);
	}
	CHECK_EQ_INT(throttle_drain(t, d, 8), 1);
	CHECK_EQ_INT(d[0].npeers, THROTTLE_PEERS_MAX);
	CHECK_EQ_INT(d[0].requests, THROTTLE_PEERS_MAX + 5);
	throttle_free(t);
	policy_unref(p);
	return 0;
}

/* The drained deltas are what store_partners_record takes. */
static int
test_throttle_drain_into_store(void)
{
	struct policy *p = limits(0, 0, 0, 0);
	struct throttle *t = NULL;
	struct store *st = NULL;
	struct store_partner_delta d[4];
	struct store_partner *list = NULL;
	size_t n = 0, nl = 0;
	char dir[] = "/tmp/test_throttle.XXXXXX", path[64], err[256], cmd[96];
	int rc = 1;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/policy.db", dir);
	if (throttle_new(0, 0, &t) != 0 ||
	    store_open(path, STORE_OPEN_CREATE | STORE_OPEN_ANY, &st, err, sizeof(err)) != 0 ||
	    store_init(st) != 0)
		goto out;
	for (int round = 0; round < 2; round++) {
		(void)throttle_admit(t, p, "open.test", "sip.open.test", "alice", 0, NULL);
		(void)throttle_admit(t, p, "open.test", "sip.open.test", "bob", 0, NULL);
		n = throttle_drain(t, d, 4);
		if (n != 1 || store_partners_record(st, d, n) != 0) {
			fprintf(stderr, "# record: %s\n", store_error(st));
			goto out;
		}
	}
	if (store_partners_list(st, &list, &nl) != 0 || nl != 1 ||
	    strcmp(list[0].domain, "open.test") != 0 || list[0].requests != 4 ||
	    list[0].contacts != 2 || list[0].throttled != 0 || list[0].npeers != 1 ||
	    strcmp(list[0].peers[0], "sip.open.test") != 0) {
		fprintf(stderr, "# partners list does not match\n");
		goto out;
	}
	rc = 0;
out:
	store_partners_free(list, nl);
	store_close(st);
	throttle_free(t);
	policy_unref(p);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "# could not remove %s\n", dir);
	return rc;
}

static int
test_throttle_evicts_domains(void)
{
	struct policy *p = limits(0, 0, 0, 0);
	struct throttle *t = NULL;
	struct throttle_stats s;
	struct store_partner_delta d[16];
	char dom[32];

	CHECK_EQ_INT(throttle_new(4, 0, &t), 0);
	/* keep.test is seen between every newcomer: never the least recent. */
	for (int i = 0; i < 10; i++) {
		snprintf(dom, sizeof(dom), "d%d.test", i);
		CHECK_EQ_INT(throttle_admit(t, p, dom, NULL, "c", (uint64_t)i, NULL), 0);
		CHECK_EQ_INT(throttle_admit(t, p, "keep.test", NULL, "c", (uint64_t)i, NULL), 0);
	}
	throttle_stats(t, &s);
	CHECK_EQ_INT(s.domains, 4);
	CHECK_EQ_INT(s.evicted, 7);
	CHECK_EQ_INT(s.lost_requests, 7);
	CHECK_EQ_INT(s.contacts, 4);
	CHECK_EQ_INT(throttle_drain(t, d, 16), 4);
	CHECK(find(d, 4, "keep.test") != NULL && find(d, 4, "keep.test")->requests == 10);
	CHECK(find(d, 4, "d9.test") != NULL && find(d, 4, "d8.test") != NULL &&
	    find(d, 4, "d7.test") != NULL);
	CHECK(find(d, 4, "d0.test") == NULL);
	throttle_free(t);
	policy_unref(p);
	return 0;
}

static int
test_throttle_contact_memory_bound(void)
{
	struct policy *p = limits(100000, 0, 1000, 0);
	struct throttle *t = NULL;
	struct throttle_stats s;
	enum diag_code why = DIAG_NONE;
	char c[32];

	/* At most 8 contact hashes in all. */
	CHECK_EQ_INT(throttle_new(0, 8, &t), 0);
	for (int i = 0; i < 5; i++) {
		snprintf(c, sizeof(c), "a%d", i);
		CHECK_EQ_INT(throttle_admit(t, p, "a.test", NULL, c, 0, &why), 0);
	}
	for (int i = 0; i < 5; i++) {
		snprintf(c, sizeof(c), "b%d", i);
		CHECK_EQ_INT(throttle_admit(t, p, "b.test", NULL, c, 0, &why), 0);
	}
	/* a.test, the least recent, made room for b.test. */
	throttle_stats(t, &s);
	CHECK(s.contacts <= 8);
	CHECK_EQ_INT(s.contacts, 5);
	CHECK_EQ_INT(s.domains, 1);
	CHECK_EQ_INT(s.evicted, 1);
	/* One domain alone cannot go past the bound: its effective limit. */
	for (int i = 5; i < 8; i++) {
		snprintf(c, sizeof(c), "b%d", i);
		CHECK_EQ_INT(throttle_admit(t, p, "b.test", NULL, c, 0, &why), 0);
	}
	CHECK_EQ_INT(throttle_admit(t, p, "b.test", NULL, "b8", 0, &why), -EACCES);
	CHECK_EQ_INT(why, DIAG_FED_CONTACTS);
	CHECK_EQ_INT(throttle_admit(t, p, "b.test", NULL, "b0", 0, &why), 0);
	throttle_stats(t, &s);
	CHECK_EQ_INT(s.contacts, 8);
	throttle_free(t);
	policy_unref(p);
	return 0;
}

/* A large contact set grows and keeps every member. */
static int
test_throttle_many_contacts(void)
{
	struct policy *p = limits(100000, 0, 20000, 0);
	struct throttle *t = NULL;
	enum diag_code why = DIAG_NONE;
	char c[32];

	CHECK_EQ_INT(throttle_new(0, 0, &t), 0);
	for (int i = 0; i < 20000; i++) {
		snprintf(c, sizeof(c), "sip:u%d@contoso.test", i);
		CHECK_EQ_INT(throttle_admit(t, p, "big.test", NULL, c, (uint64_t)i, &why), 0);
	}
	CHECK_EQ_INT(throttle_admit(t, p, "big.test", NULL, "new", 30000, &why), -EACCES);
	CHECK_EQ_INT(why, DIAG_FED_CONTACTS);
	for (int i = 0; i < 20000; i += 997) {
		snprintf(c, sizeof(c), "sip:u%d@contoso.test", i);
		CHECK_EQ_INT(throttle_admit(t, p, "big.test", NULL, c, 40000 + (uint64_t)i, &why), 0);
	}
	throttle_free(t);
	policy_unref(p);
	return 0;
}

/* ------------------------------------------------------------- live view */

/* Copies of what the callbacks saw (the strings live only in the call). */
struct seen {
	size_t n;
	struct throttle_entry e[8];
	char domain[8][64];
	char peer0[8][64];
};

static void
collect(const struct throttle_entry *e, void *arg)
{
	struct seen *s = arg;

	if (s->n == 8)
		return;
	s->e[s->n] = *e;
	snprintf(s->domain[s->n], sizeof(s->domain[0]), "%s", e->domain);
	snprintf(s->peer0[s->n], sizeof(s->peer0[0]), "%s", e->npeers ? e->peers[0] : "");
	s->e[s->n].domain = s->domain[s->n];
	s->e[s->n].peers = NULL;
	s->n++;
}

static const struct throttle_entry *
entry(const struct seen *s, const char *dom)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->e[i].domain, dom) == 0)
			return &s->e[i];
	return NULL;
}

static size_t
live(struct throttle *t, const struct policy *p, uint64_t now, struct seen *s)
{
	memset(s, 0, sizeof(*s));
	return throttle_list(t, p, now, collect, s);
}

static int
test_throttle_list(void)
{
	struct policy *p = limits(5, 1, 3, 1);
	struct throttle *t = NULL;
	const struct throttle_entry *x;
	struct seen s;
	char c[32];

	CHECK(p != NULL);
	CHECK_EQ_INT(throttle_new(0, 0, &t), 0);
	CHECK_EQ_INT(live(t, p, 0, &s), 0);
	/* 8 requests at 10.000 s, 4 contacts: 3 admitted (the contact limit),
	 * then 5 refused: 1 for the fourth contact, 4 for the rate... */
	for (int i = 0; i < 8; i++) {
		snprintf(c, sizeof(c), "c%d", i < 4 ? i : 0);
		(void)throttle_admit(t, p, "Open.Test", "sip.open.test", c, 10000, NULL);
	}
	CHECK_EQ_INT(throttle_admit(t, p, "quiet.test", "sip.quiet.test", "c0", 10200, NULL), 0);
	CHECK_EQ_INT(live(t, p, 10500, &s), 2);
	/* ...most recently seen first. */
	CHECK_EQ_STR(s.e[0].domain, "quiet.test");
	CHECK((x = entry(&s, "open.test")) != NULL);
	CHECK_EQ_INT(x->requests, 5);
	CHECK_EQ_INT(x->throttled, 3);
	CHECK_EQ_INT(x->contacts, 3);
	CHECK_EQ_INT(x->contacts_limit, 3);
	CHECK_EQ_INT(x->limit, 5);
	CHECK(!x->suspicious);
	CHECK(x->period_open);
	CHECK_EQ_INT(x->period_start_ms, 10000);
	CHECK_EQ_INT(x->last_seen_ms, 10000);
	CHECK_EQ_INT(x->npeers, 1);
	CHECK_EQ_STR(s.peer0[1], "sip.open.test");
	/* The rate counts refused requests too: 8 in the current window. */
	CHECK_EQ_INT(x->rate, 8);
	/* Reading changes nothing: the same again, and a drain still has it all. */
	CHECK_EQ_INT(live(t, p, 10500, &s), 2);
	CHECK_EQ_INT(entry(&s, "open.test")->throttled, 3);
	{
		struct store_partner_delta d[4];
		const struct store_partner_delta *y;

		CHECK_EQ_INT(throttle_drain(t, d, 4), 2);
		CHECK((y = find(d, 2, "open.test")) != NULL);
		CHECK_EQ_INT(y->requests, 5);
		CHECK_EQ_INT(y->throttled, 3);
		CHECK_EQ_INT(y->npeers, 1);
	}
	/* The drain does not reset the period's counters nor forget the peers. */
	CHECK_EQ_INT(live(t, p, 11000, &s), 2);
	CHECK((x = entry(&s, "open.test")) != NULL);
	CHECK_EQ_INT(x->requests, 5);
	CHECK_EQ_INT(x->npeers, 1);
	/* Suspicious: the limit in force drops to the suspicious rate. */
	outcomes(t, "open.test", 404, THROTTLE_MIN_OUTCOMES);
	CHECK_EQ_INT(live(t, p, 11000, &s), 2);
	CHECK((x = entry(&s, "open.test")) != NULL);
	CHECK(x->suspicious);
	CHECK_EQ_INT(x->limit, 1);
	CHECK_EQ_INT(x->failed, THROTTLE_MIN_OUTCOMES);
	/* The period (1 min) ends with no request since: nothing is open, the
	 * counters read 0, the partner is no longer suspicious. */
	CHECK_EQ_INT(live(t, p, 10000 + MIN, &s), 2);
	CHECK((x = entry(&s, "open.test")) != NULL);
	CHECK(!x->period_open);
	CHECK(!x->suspicious);
	CHECK_EQ_INT(x->limit, 5);
	CHECK_EQ_INT(x->requests + x->throttled + x->contacts + x->ok + x->failed, 0);
	CHECK_EQ_INT(x->last_seen_ms, 10000);
	CHECK_EQ_INT(x->rate, 0);
	/* The next request opens a new one. */
	CHECK_EQ_INT(throttle_admit(t, p, "open.test", NULL, "c9", 10000 + MIN + 5, NULL), 0);
	CHECK_EQ_INT(live(t, p, 10000 + MIN + 5, &s), 2);
	CHECK((x = entry(&s, "open.test")) != NULL);
	CHECK(x->period_open);
	CHECK_EQ_INT(x->period_start_ms, 10000 + MIN + 5);
	CHECK_EQ_INT(x->requests, 1);
	CHECK_EQ_INT(x->contacts, 1);
	CHECK_EQ_INT(x->throttled, 0);
	/* The contact limit shown is the effective one. */
	throttle_free(t);
	CHECK_EQ_INT(throttle_new(0, 2, &t), 0);
	CHECK_EQ_INT(throttle_admit(t, p, "open.test", NULL, "c0", 0, NULL), 0);
	CHECK_EQ_INT(live(t, p, 0, &s), 1);
	CHECK_EQ_INT(s.e[0].contacts_limit, 2);
	throttle_free(t);
	policy_unref(p);
	return 0;
}

/* The rate: requests offered in the last second, from one-second windows. */
static int
test_throttle_list_rate(void)
{
	struct policy *p = limits(1000, 0, 0, 0);
	struct throttle *t = NULL;
	struct seen s;

	CHECK_EQ_INT(throttle_new(0, 0, &t), 0);
	CHECK_EQ_INT(burst(t, p, "r.test", 20, 1000, NULL), 20);
	CHECK_EQ_INT(live(t, p, 1000, &s), 1);
	CHECK_EQ_INT(s.e[0].rate, 20);
	CHECK_EQ_INT(live(t, p, 1999, &s), 1);
	CHECK_EQ_INT(s.e[0].rate, 20);
	/* Half a second later, half of that window is in the last second. */
	CHECK_EQ_INT(live(t, p, 2500, &s), 1);
	CHECK_EQ_INT(s.e[0].rate, 10);
	CHECK_EQ_INT(burst(t, p, "r.test", 4, 2500, NULL), 4);
	CHECK_EQ_INT(live(t, p, 2500, &s), 1);
	CHECK_EQ_INT(s.e[0].rate, 14);
	CHECK_EQ_INT(live(t, p, 3000, &s), 1);
	CHECK_EQ_INT(s.e[0].rate, 4);
	CHECK_EQ_INT(live(t, p, 4000, &s), 1);
	CHECK_EQ_INT(s.e[0].rate, 0);
	/* A gap of more than a window forgets it. */
	CHECK_EQ_INT(burst(t, p, "r.test", 3, 9000, NULL), 3);
	CHECK_EQ_INT(live(t, p, 9000, &s), 1);
	CHECK_EQ_INT(s.e[0].rate, 3);
	/* A clock a little behind (another worker's loop) counts in the
	 * current window and reads it whole. */
	CHECK_EQ_INT(burst(t, p, "r.test", 2, 8999, NULL), 2);
	CHECK_EQ_INT(live(t, p, 8999, &s), 1);
	CHECK_EQ_INT(s.e[0].rate, 5);
	CHECK_EQ_INT(s.e[0].last_seen_ms, 9000);
	throttle_free(t);
	policy_unref(p);
	return 0;
}

/* Peers: the most recent first, kept across drains; a drain gives only those
 * seen since the previous one. */
static int
test_throttle_list_peers(void)
{
	struct policy *p = limits(1000, 0, 0, 0);
	struct throttle *t = NULL;
	struct store_partner_delta d[2];
	struct seen s;
	char peer[32];

	CHECK_EQ_INT(throttle_new(0, 0, &t), 0);
	CHECK_EQ_INT(throttle_admit(t, p, "p.test", "a.p.test", "c", 0, NULL), 0);
	CHECK_EQ_INT(throttle_admit(t, p, "p.test", "b.p.test", "c", 0, NULL), 0);
	CHECK_EQ_INT(throttle_drain(t, d, 2), 1);
	CHECK_EQ_INT(d[0].npeers, 2);
	CHECK_EQ_INT(throttle_admit(t, p, "p.test", "A.P.test.", "c", 0, NULL), 0);
	CHECK_EQ_INT(live(t, p, 0, &s), 1);
	CHECK_EQ_INT(s.e[0].npeers, 2);
	CHECK_EQ_STR(s.peer0[0], "a.p.test");
	CHECK_EQ_INT(throttle_drain(t, d, 2), 1);
	CHECK_EQ_INT(d[0].npeers, 1);
	CHECK_EQ_STR(d[0].peers[0], "a.p.test");
	/* Only THROTTLE_PEERS_MAX are kept: the least recent go. */
	for (int i = 0; i < THROTTLE_PEERS_MAX + 2; i++) {
		snprintf(peer, sizeof(peer), "edge%d.p.test", i);
		CHECK_EQ_INT(throttle_admit(t, p, "p.test", peer, "c", 0, NULL), 0);
	}
	CHECK_EQ_INT(live(t, p, 0, &s), 1);
	CHECK_EQ_INT(s.e[0].npeers, THROTTLE_PEERS_MAX);
	snprintf(peer, sizeof(peer), "edge%d.p.test", THROTTLE_PEERS_MAX + 1);
	CHECK_EQ_STR(s.peer0[0], peer);
	CHECK_EQ_INT(throttle_drain(t, d, 2), 1);
	CHECK_EQ_INT(d[0].npeers, THROTTLE_PEERS_MAX);
	for (size_t i = 0; i < d[0].npeers; i++)
		CHECK(strcmp(d[0].peers[i], "edge0.p.test") != 0 &&
		    strcmp(d[0].peers[i], "edge1.p.test") != 0);
	throttle_free(t);
	policy_unref(p);
	return 0;
}

static int
report(struct throttle *t, const struct policy *p, uint64_t now, struct seen *s)
{
	memset(s, 0, sizeof(*s));
	return (int)throttle_report(t, p, now, collect, s);
}

static int
test_throttle_report(void)
{
	struct policy *p = limits(2, 0, 0, 0);
	struct throttle *t = NULL;
	const struct throttle_entry *x;
	struct seen s;

	CHECK_EQ_INT(throttle_new(0, 0, &t), 0);
	CHECK_EQ_INT(report(t, p, 0, &s), 0);
	CHECK_EQ_INT(burst(t, p, "a.test", 5, 0, NULL), 2);
	CHECK_EQ_INT(burst(t, p, "b.test", 1, 0, NULL), 1);
	CHECK_EQ_INT(report(t, p, 100, &s), 2);
	CHECK((x = entry(&s, "a.test")) != NULL);
	CHECK_EQ_INT(x->report_requests, 2);
	CHECK_EQ_INT(x->report_throttled, 3);
	CHECK_EQ_INT(x->report_contacts, 1);
	CHECK(!x->report_suspicious);
	CHECK_EQ_INT(x->requests, 2);
	CHECK((x = entry(&s, "b.test")) != NULL);
	CHECK_EQ_INT(x->report_requests, 1);
	CHECK_EQ_INT(x->report_throttled, 0);
	/* Counted again from zero; a domain with no traffic since is left out,
	 * while the period's counters go on. */
	CHECK_EQ_INT(report(t, p, 200, &s), 0);
	CHECK_EQ_INT(burst(t, p, "a.test", 3, 1000, NULL), 2);
	CHECK_EQ_INT(report(t, p, 1000, &s), 1);
	CHECK_EQ_INT(s.e[0].report_requests, 2);
	CHECK_EQ_INT(s.e[0].report_throttled, 1);
	CHECK_EQ_INT(s.e[0].requests, 4);
	CHECK_EQ_INT(s.e[0].throttled, 4);
	/* Neither the drain nor the live view touches the report's counters. */
	CHECK_EQ_INT(burst(t, p, "b.test", 1, 2000, NULL), 1);
	{
		struct store_partner_delta d[4];

		CHECK_EQ_INT(throttle_drain(t, d, 4), 2);
	}
	CHECK_EQ_INT(live(t, p, 2000, &s), 2);
	CHECK_EQ_INT(report(t, p, 2000, &s), 1);
	CHECK_EQ_STR(s.e[0].domain, "b.test");
	CHECK_EQ_INT(s.e[0].report_requests, 1);
	CHECK_EQ_INT(s.e[0].report_contacts, 0);   /* known this period */
	/* Suspicious at a request since the previous report: said so, also
	 * once its period has ended (the live view has forgotten it by then). */
	outcomes(t, "b.test", 404, THROTTLE_MIN_OUTCOMES);
	CHECK_EQ_INT(burst(t, p, "b.test", 1, 3000, NULL), 1);
	CHECK_EQ_INT(report(t, p, 60 * MIN, &s), 1);
	CHECK(s.e[0].report_suspicious);
	CHECK(!s.e[0].suspicious);
	CHECK_EQ_INT(s.e[0].report_requests, 1);
	CHECK_EQ_INT(burst(t, p, "b.test", 1, 60 * MIN, NULL), 1);
	CHECK_EQ_INT(report(t, p, 60 * MIN, &s), 1);
	CHECK(!s.e[0].report_suspicious);
	CHECK_EQ_INT(s.e[0].report_contacts, 1);   /* a new period */
	throttle_free(t);
	policy_unref(p);
	return 0;
}

static int
newly(struct throttle *t, const struct policy *p, uint64_t now, struct seen *s)
{
	memset(s, 0, sizeof(*s));
	return (int)throttle_newly_throttled(t, p, now, collect, s);
}

/* The first refusal of each period is taken once. */
static int
test_throttle_newly_throttled(void)
{
	struct policy *p = limits(2, 1, 2, 1);
	struct throttle *t = NULL;
	struct seen s;

	CHECK_EQ_INT(throttle_new(0, 0, &t), 0);
	CHECK_EQ_INT(burst(t, p, "a.test", 2, 0, NULL), 2);
	CHECK_EQ_INT(newly(t, p, 0, &s), 0);
	/* Refused: taken once, with the reason of the first refusal. */
	CHECK_EQ_INT(burst(t, p, "a.test", 3, 0, NULL), 0);
	CHECK_EQ_INT(throttle_admit(t, p, "b.test", NULL, "c1", 0, NULL), 0);
	CHECK_EQ_INT(throttle_admit(t, p, "b.test", NULL, "c2", 0, NULL), 0);
	CHECK_EQ_INT(throttle_admit(t, p, "b.test", NULL, "c3", 0, NULL), -EACCES);
	CHECK_EQ_INT(newly(t, p, 10, &s), 2);
	CHECK_EQ_INT(entry(&s, "a.test")->why, DIAG_FED_RATE);
	CHECK_EQ_INT(entry(&s, "a.test")->throttled, 3);
	CHECK_EQ_INT(entry(&s, "a.test")->requests, 2);
	CHECK_EQ_INT(entry(&s, "b.test")->why, DIAG_FED_CONTACTS);
	CHECK_EQ_INT(newly(t, p, 10, &s), 0);
	/* More refusals in the same period: nothing new. */
	CHECK_EQ_INT(burst(t, p, "a.test", 5, 100, NULL), 0);
	CHECK_EQ_INT(newly(t, p, 100, &s), 0);
	/* A new period: the first refusal is taken again, here as suspicious. */
	CHECK_EQ_INT(burst(t, p, "a.test", 1, MIN, NULL), 1);
	outcomes(t, "a.test", 404, THROTTLE_MIN_OUTCOMES);
	/* (The bucket keeps the suspicious rate's one token.) */
	CHECK_EQ_INT(burst(t, p, "a.test", 3, MIN, NULL), 1);
	CHECK_EQ_INT(newly(t, p, MIN, &s), 1);
	CHECK_EQ_INT(s.e[0].why, DIAG_FED_SUSPICIOUS);
	CHECK_EQ_INT(s.e[0].throttled, 2);
	CHECK_EQ_INT(s.e[0].limit, 1);
	CHECK(s.e[0].suspicious);
	/* Refused just before its period ends, taken after: still once, with
	 * the period's counters. */
	CHECK_EQ_INT(burst(t, p, "c.test", 3, 0, NULL), 2);
	CHECK_EQ_INT(newly(t, p, 2 * MIN, &s), 1);
	CHECK_EQ_STR(s.e[0].domain, "c.test");
	CHECK_EQ_INT(s.e[0].throttled, 1);
	CHECK_EQ_INT(s.e[0].why, DIAG_FED_RATE);
	throttle_free(t);
	policy_unref(p);
	return 0;
}

/* ----------------------------------------------------------- threads */

#define THREADS 8

struct worker {
	struct throttle *t;
	const struct policy *p;
	int admitted;
};

static void *
worker(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < 1000; i++)
		if (throttle_admit(w->t, w->p, "shared.test", "sip.shared.test", "c", 0, NULL) == 0)
			w->admitted++;
	return NULL;
}

/* The limit is per process: workers share it, with a frozen clock exactly
 * one second's worth passes. */
static int
test_throttle_threads(void)
{
	struct policy *p = limits(0, 0, 0, 0);
	struct throttle *t = NULL;
	struct worker w[THREADS];
	pthread_t th[THREADS];
	struct store_partner_delta d[2];
	int total = 0;

	CHECK_EQ_INT(throttle_new(0, 0, &t), 0);
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ t, p, 0 };
		CHECK_EQ_INT(pthread_create(&th[i], NULL, worker, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		CHECK_EQ_INT(pthread_join(th[i], NULL), 0);
		total += w[i].admitted;
	}
	CHECK_EQ_INT(total, 20);
	CHECK_EQ_INT(throttle_drain(t, d, 2), 1);
	CHECK_EQ_INT(d[0].requests, 20);
	CHECK_EQ_INT(d[0].throttled, THREADS * 1000 - 20);
	CHECK_EQ_INT(d[0].contacts, 1);
	throttle_free(t);
	throttle_free(NULL);
	policy_unref(p);
	return 0;
}

static const struct unit_test tests[] = {
	UNIT(test_throttle_defaults),
	UNIT(test_throttle_rate),
	UNIT(test_throttle_bad_domain),
	UNIT(test_throttle_classify),
	UNIT(test_throttle_suspicious),
	UNIT(test_throttle_contacts),
	UNIT(test_throttle_refusal_costs_nothing),
	UNIT(test_throttle_drain),
	UNIT(test_throttle_drain_into_store),
	UNIT(test_throttle_evicts_domains),
	UNIT(test_throttle_contact_memory_bound),
	UNIT(test_throttle_many_contacts),
	UNIT(test_throttle_threads),
	UNIT(test_throttle_list),
	UNIT(test_throttle_list_rate),
	UNIT(test_throttle_list_peers),
	UNIT(test_throttle_report),
	UNIT(test_throttle_newly_throttled),
	{ 0 },
};

int
main(int argc, char **argv)
{
	return unit_main(argc, argv, tests);
}
