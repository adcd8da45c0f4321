/* test_throttle.c: unit tests for throttle.c with an injected clock: the rate
 * limit, the suspicious rate, distinct contacts per period and their reset,
 * response classification, drained deltas (also recorded in a real store),
 * the memory bounds, and concurrent use. */
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
	{ 0 },
};

int
main(int argc, char **argv)
{
	return unit_main(argc, argv, tests);
}
