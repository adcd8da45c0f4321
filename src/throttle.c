/* throttle.c: discovered-partner limits (token bucket, suspicious rate,
 * distinct contacts per period), their report counters and the live view of
 * them (see throttle.h). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "sipedge/hmap.h"
#include "sipedge/names.h"
#include "sipedge/rr.h"
#include "sipedge/throttle.h"

/* Tokens are counted in thousandths so that a bucket refills every
 * millisecond: rate (per second) * elapsed ms = milli-tokens. */
#define MILLI 1000u

struct thr_dom {
	struct hnode node;                 /* key: domain */
	struct thr_dom *prev, *next;       /* LRU list, head = most recently seen */
	char domain[NAMES_MAX + 1];
	/* Limits. */
	uint64_t tokens;                   /* milli-tokens */
	uint64_t refill_ms;                /* when tokens were last brought up to date */
	uint64_t period_start_ms;
	uint64_t ok, failed;               /* counted outcomes this period */
	uint64_t *set;                     /* contact hashes, open addressing; 0 = empty */
	size_t setcap, ncontacts;          /* setcap: 0 or a power of two */
	/* Counters since the last drain. */
	uint64_t requests, contacts, throttled;
	bool pending;
	/* Partner edges, most recent first; pending: not yet drained. */
	struct thr_peer {
		char *name;
		bool pending;
	} peers[THROTTLE_PEERS_MAX];
	size_t npeers;
	/* The live view: this period, the last second, since the last report. */
	uint64_t period_requests, period_throttled;
	enum diag_code first_why;          /* the period's first refusal, if any */
	bool announce;                     /* a first refusal not yet taken by */
	enum diag_code announce_why;       /* throttle_newly_throttled, and its reason */
	uint64_t last_seen_ms;
	uint64_t win_sec;                  /* the current one-second window: now_ms / 1000 */
	uint32_t win_cur, win_prev;        /* requests offered in it and in the one before */
	uint64_t report_requests, report_throttled, report_contacts;
	bool report_suspicious;
};

struct throttle {
	pthread_mutex_t lock;
	struct hmap domains;
	struct thr_dom *head, *tail;
	size_t ndomains, max_domains;
	size_t ncontacts, max_contacts;    /* across all domains */
	struct rr_key key;                 /* contact hashes: not predictable by partners */
	uint64_t evicted, lost_requests, lost_throttled;
	void **drained;                    /* blocks handed out by the last drain */
	size_t ndrained;
};

int
throttle_new(size_t max_domains, size_t max_contacts, struct throttle **out)
{
	struct throttle *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return -ENOMEM;
	if (pthread_mutex_init(&t->lock, NULL) != 0) {
		free(t);
		return -ENOMEM;
	}
	hmap_init(&t->domains);
	t->max_domains = max_domains ? max_domains : THROTTLE_MAX_DOMAINS_DEFAULT;
	t->max_contacts = max_contacts ? max_contacts : THROTTLE_MAX_CONTACTS_DEFAULT;
	if (getrandom(&t->key, sizeof(t->key), 0) != (ssize_t)sizeof(t->key)) {
		/* Without randomness the hashes are still correct, only guessable. */
		t->key.k0 = (uint64_t)(uintptr_t)t;
		t->key.k1 = 0x6a09e667f3bcc909ULL;
	}
	*out = t;
	return 0;
}

static void
free_drained(struct throttle *t)
{
	for (size_t i = 0; i < t->ndrained; i++)
		free(t->drained[i]);
	free(t->drained);
	t->drained = NULL;
	t->ndrained = 0;
}

static void
dom_clear_peers(struct thr_dom *e)
{
	for (size_t i = 0; i < e->npeers; i++)
		free(e->peers[i].name);
	e->npeers = 0;
}

static void
lru_unlink(struct throttle *t, struct thr_dom *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		t->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		t->tail = e->prev;
	e->prev = e->next = NULL;
}

static void
lru_push(struct throttle *t, struct thr_dom *e)
{
	e->next = t->head;
	e->prev = NULL;
	if (t->head)
		t->head->prev = e;
	t->head = e;
	if (t->tail == NULL)
		t->tail = e;
}

static void
dom_free(struct throttle *t, struct thr_dom *e)
{
	hmap_del(&t->domains, &e->node);
	lru_unlink(t, e);
	t->ndomains--;
	t->ncontacts -= e->ncontacts;
	dom_clear_peers(e);
	free(e->set);
	free(e);
}

void
throttle_free(struct throttle *t)
{
	if (t == NULL)
		return;
	while (t->head)
		dom_free(t, t->head);
	hmap_free(&t->domains);
	free_drained(t);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

/* Drop the least recently seen domain other than keep; false if there is none. */
static bool
evict_one(struct throttle *t, const struct thr_dom *keep)
{
	struct thr_dom *e = t->tail;

	if (e == keep)
		e = e ? e->prev : NULL;
	if (e == NULL)
		return false;
	t->evicted++;
	t->lost_requests += e->requests;
	t->lost_throttled += e->throttled;
	dom_free(t, e);
	return true;
}

static struct thr_dom *
dom_get(struct throttle *t, const char *domain)
{
	struct hnode *n = hmap_get(&t->domains, domain);

	return n ? hmap_entry(n, struct thr_dom, node) : NULL;
}

static struct thr_dom *
dom_add(struct throttle *t, const char *domain, uint64_t now_ms)
{
	struct thr_dom *e;

	while (t->ndomains >= t->max_domains && evict_one(t, NULL))
		;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	memcpy(e->domain, domain, strlen(domain) + 1);
	if (hmap_put(&t->domains, &e->node, e->domain) != 0) {
		free(e);
		return NULL;
	}
	e->tokens = UINT64_MAX;            /* full: clipped to the rate below */
	e->refill_ms = now_ms;
	e->period_start_ms = now_ms;
	e->last_seen_ms = now_ms;
	e->win_sec = now_ms / 1000;
	lru_push(t, e);
	t->ndomains++;
	return e;
}

/* ---------------------------------------------------------------- contacts */

static uint64_t
contact_hash(const struct throttle *t, const char *contact)
{
	uint64_t h = rr_siphash(&t->key, contact, strlen(contact));

	return h ? h : 1;                  /* 0 marks an empty slot */
}

static bool
set_has(const struct thr_dom *e, uint64_t h)
{
	if (e->setcap == 0)
		return false;
	for (size_t i = h & (e->setcap - 1);; i = (i + 1) & (e->setcap - 1)) {
		if (e->set[i] == h)
			return true;
		if (e->set[i] == 0)
			return false;
	}
}

static void
set_put_slot(uint64_t *set, size_t cap, uint64_t h)
{
	size_t i = h & (cap - 1);

	while (set[i] != 0)
		i = (i + 1) & (cap - 1);
	set[i] = h;
}

/* Add h (not present) keeping the load at most one half. */
static int
set_add(struct thr_dom *e, uint64_t h)
{
	if ((e->ncontacts + 1) * 2 > e->setcap) {
		size_t cap = e->setcap ? e->setcap * 2 : 16;
		uint64_t *set = calloc(cap, sizeof(*set));

		if (set == NULL)
			return -ENOMEM;
		for (size_t i = 0; i < e->setcap; i++)
			if (e->set[i])
				set_put_slot(set, cap, e->set[i]);
		free(e->set);
		e->set = set;
		e->setcap = cap;
	}
	set_put_slot(e->set, e->setcap, h);
	e->ncontacts++;
	return 0;
}

/* ------------------------------------------------------------------ limits */

static bool
period_over(const struct thr_dom *e, const struct store_config *c, uint64_t now_ms)
{
	uint64_t period_ms = (uint64_t)c->discovered_period * 60000u;

	return now_ms >= e->period_start_ms && now_ms - e->period_start_ms >= period_ms;
}

static void
new_period(struct throttle *t, struct thr_dom *e, const struct store_config *c, uint64_t now_ms)
{
	if (!period_over(e, c, now_ms))
		return;
	t->ncontacts -= e->ncontacts;
	free(e->set);
	e->set = NULL;
	e->setcap = e->ncontacts = 0;
	e->ok = e->failed = 0;
	e->period_requests = e->period_throttled = 0;
	e->first_why = DIAG_NONE;
	e->period_start_ms = now_ms;
}

static bool
suspicious(const struct thr_dom *e, const struct store_config *c)
{
	return e->ok + e->failed >= THROTTLE_MIN_OUTCOMES &&
	    e->failed * 100 > (uint64_t)c->discovered_suspicious_ratio * e->ok;
}

/* Bring the bucket up to now at the rate that applies now. */
static void
refill(struct thr_dom *e, const struct store_config *c, uint64_t now_ms)
{
	uint64_t rate = suspicious(e, c) ? c->discovered_suspicious_rate : c->discovered_rate;
	uint64_t cap = rate * MILLI;

	if (e->tokens > cap)
		e->tokens = cap;
	/* A clock that went backwards adds nothing; a second or more fills the
	 * bucket (and keeps the product below from overflowing). */
	if (now_ms > e->refill_ms) {
		uint64_t elapsed = now_ms - e->refill_ms;
		uint64_t add = elapsed >= 1000 ? cap : elapsed * rate;

		e->tokens = add > cap - e->tokens ? cap : e->tokens + add;
		e->refill_ms = now_ms;
	}
}

/* Put peer_fqdn first in the domain's peers, pending for the next drain. */
static void
note_peer(struct thr_dom *e, const char *peer_fqdn)
{
	char buf[NAMES_MAX + 1];
	struct thr_peer x;
	size_t i;

	if (peer_fqdn == NULL || names_normalize(peer_fqdn, buf, sizeof(buf), NULL) != 0)
		return;
	for (i = 0; i < e->npeers; i++)
		if (strcmp(e->peers[i].name, buf) == 0)
			break;
	if (i == e->npeers) {
		/* A partner uses a handful of edges; more than that are not
		 * worth unbounded memory: the least recent one makes room (if
		 * it was not drained yet, the store misses it). */
		if ((x.name = strdup(buf)) == NULL)
			return;
		if (e->npeers == THROTTLE_PEERS_MAX)
			free(e->peers[--i].name);
		else
			e->npeers++;
	} else {
		x = e->peers[i];
	}
	memmove(&e->peers[1], &e->peers[0], i * sizeof(e->peers[0]));
	x.pending = true;
	e->peers[0] = x;
}

/* Count a request offered at now_ms in the one-second windows. */
static void
window_count(struct thr_dom *e, uint64_t now_ms)
{
	uint64_t sec = now_ms / 1000;

	/* A worker's clock a little behind another's counts in the current
	 * window rather than going back. */
	if (sec > e->win_sec) {
		e->win_prev = sec == e->win_sec + 1 ? e->win_cur : 0;
		e->win_cur = 0;
		e->win_sec = sec;
	}
	if (e->win_cur < UINT32_MAX)
		e->win_cur++;
}

static uint64_t
window_rate(const struct thr_dom *e, uint64_t now_ms)
{
	uint64_t sec = now_ms / 1000, left = 1000 - now_ms % 1000;

	if (sec < e->win_sec)
		return (uint64_t)e->win_cur + e->win_prev;
	if (sec == e->win_sec)
		return e->win_cur + ((uint64_t)e->win_prev * left + 500) / 1000;
	if (sec == e->win_sec + 1)
		return ((uint64_t)e->win_cur * left + 500) / 1000;
	return 0;
}

/* The contact check: 0 if h may be reached (*is_new says whether it is new
 * this period), or -EACCES with *why set. */
static int
contact_check(struct throttle *t, struct thr_dom *e, const struct store_config *c,
    uint64_t h, bool *is_new, enum diag_code *why)
{
	size_t limit = c->discovered_contacts < t->max_contacts ?
	    c->discovered_contacts : t->max_contacts;

	*is_new = !set_has(e, h);
	if (!*is_new)
		return 0;
	if (e->ncontacts >= limit) {
		*why = DIAG_FED_CONTACTS;
		return -EACCES;
	}
	while (t->ncontacts >= t->max_contacts)
		if (!evict_one(t, e)) {
			*why = DIAG_FED_CONTACTS;
			return -EACCES;
		}
	return 0;
}

int
throttle_admit(struct throttle *t, const struct policy *p, const char *domain,
    const char *peer_fqdn, const char *internal_contact, uint64_t now_ms,
    enum diag_code *why)
{
	const struct store_config *c = policy_config(p);
	char dom[NAMES_MAX + 1];
	enum diag_code reason = DIAG_NONE;
	struct thr_dom *e;
	bool is_new = false;
	uint64_t h;

	if (domain == NULL || names_normalize(domain, dom, sizeof(dom), NULL) != 0) {
		if (why)
			*why = DIAG_FED_NOT_FEDERATED;
		return -EINVAL;
	}
	h = contact_hash(t, internal_contact ? internal_contact : "");
	pthread_mutex_lock(&t->lock);
	if ((e = dom_get(t, dom)) == NULL && (e = dom_add(t, dom, now_ms)) == NULL) {
		pthread_mutex_unlock(&t->lock);
		if (why)
			*why = DIAG_OVERLOAD;
		return -ENOMEM;
	}
	lru_unlink(t, e);
	lru_push(t, e);
	new_period(t, e, c, now_ms);
	refill(e, c, now_ms);
	note_peer(e, peer_fqdn);
	window_count(e, now_ms);
	if (suspicious(e, c))
		e->report_suspicious = true;
	if (now_ms > e->last_seen_ms)
		e->last_seen_ms = now_ms;
	e->pending = true;
	if (contact_check(t, e, c, h, &is_new, &reason) == 0) {
		if (e->tokens < MILLI)
			reason = suspicious(e, c) ? DIAG_FED_SUSPICIOUS : DIAG_FED_RATE;
		else if (is_new && set_add(e, h) != 0)
			reason = DIAG_OVERLOAD;
	}
	if (reason != DIAG_NONE) {
		e->throttled++;
		e->report_throttled++;
		if (e->period_throttled++ == 0) {
			e->first_why = e->announce_why = reason;
			e->announce = true;
		}
	} else {
		e->tokens -= MILLI;
		e->requests++;
		e->period_requests++;
		e->report_requests++;
		if (is_new) {
			e->contacts++;
			e->report_contacts++;
			t->ncontacts++;
		}
	}
	pthread_mutex_unlock(&t->lock);
	if (reason != DIAG_NONE && why)
		*why = reason;
	return reason == DIAG_NONE ? 0 : -EACCES;
}

int
throttle_classify(int final_status)
{
	switch (final_status) {
	case 401: case 407:                /* challenges */
	case 408: case 480: case 486:      /* the callee's state */
	case 487: case 491:                /* cancelled, glare */
		return -1;
	case 604:                          /* does not exist anywhere */
		return 1;
	}
	if (final_status >= 200 && final_status < 300)
		return 0;
	if (final_status >= 400 && final_status < 500)
		return 1;
	return -1;
}

void
throttle_outcome(struct throttle *t, const char *domain, int final_status)
{
	char dom[NAMES_MAX + 1];
	int k = throttle_classify(final_status);
	struct thr_dom *e;

	if (k < 0 || domain == NULL || names_normalize(domain, dom, sizeof(dom), NULL) != 0)
		return;
	pthread_mutex_lock(&t->lock);
	if ((e = dom_get(t, dom)) != NULL) {
		if (k)
			e->failed++;
		else
			e->ok++;
	}
	pthread_mutex_unlock(&t->lock);
}

void
throttle_peer(struct throttle *t, const char *domain, const char *peer_fqdn)
{
	char dom[NAMES_MAX + 1];
	struct thr_dom *e;

	if (domain == NULL || names_normalize(domain, dom, sizeof(dom), NULL) != 0)
		return;
	pthread_mutex_lock(&t->lock);
	if ((e = dom_get(t, dom)) != NULL) {
		note_peer(e, peer_fqdn);
		e->pending = true;
	}
	pthread_mutex_unlock(&t->lock);
}

bool
throttle_suspicious(struct throttle *t, const struct policy *p, const char *domain)
{
	char dom[NAMES_MAX + 1];
	struct thr_dom *e;
	bool s = false;

	if (domain == NULL || names_normalize(domain, dom, sizeof(dom), NULL) != 0)
		return false;
	pthread_mutex_lock(&t->lock);
	if ((e = dom_get(t, dom)) != NULL)
		s = suspicious(e, policy_config(p));
	pthread_mutex_unlock(&t->lock);
	return s;
}

/* ------------------------------------------------------------------ drain */

/* One block per delta: the peers array, then the domain and peer strings. */
static void *
drain_block(const struct thr_dom *e, struct store_partner_delta *d)
{
	size_t len = e->npeers * sizeof(char *) + strlen(e->domain) + 1, np = 0;
	char **peers, *s;
	void *b;

	for (size_t i = 0; i < e->npeers; i++)
		if (e->peers[i].pending)
			len += strlen(e->peers[i].name) + 1;
	if ((b = malloc(len)) == NULL)
		return NULL;
	peers = b;
	s = (char *)b + e->npeers * sizeof(char *);
	for (size_t i = 0; i < e->npeers; i++) {
		size_t n = strlen(e->peers[i].name) + 1;

		if (!e->peers[i].pending)
			continue;
		peers[np++] = memcpy(s, e->peers[i].name, n);
		s += n;
	}
	d->domain = memcpy(s, e->domain, strlen(e->domain) + 1);
	d->peers = (const char *const *)peers;
	d->npeers = np;
	d->requests = e->requests;
	d->contacts = e->contacts;
	d->throttled = e->throttled;
	d->seen = 0;
	return b;
}

size_t
throttle_drain(struct throttle *t, struct store_partner_delta *out, size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&t->lock);
	free_drained(t);
	if (max > 0 && (t->drained = calloc(max < t->ndomains ? max : t->ndomains,
	    sizeof(*t->drained))) != NULL) {
		for (struct thr_dom *e = t->head; e && n < max; e = e->next) {
			void *b;

			if (!e->pending)
				continue;
			if ((b = drain_block(e, &out[n])) == NULL)
				break;     /* the rest stays pending for the next drain */
			t->drained[t->ndrained++] = b;
			n++;
			e->requests = e->contacts = e->throttled = 0;
			for (size_t i = 0; i < e->npeers; i++)
				e->peers[i].pending = false;
			e->pending = false;
		}
	}
	pthread_mutex_unlock(&t->lock);
	return n;
}

void
throttle_stats(struct throttle *t, struct throttle_stats *out)
{
	pthread_mutex_lock(&t->lock);
	out->domains = t->ndomains;
	out->contacts = t->ncontacts;
	out->evicted = t->evicted;
	out->lost_requests = t->lost_requests;
	out->lost_throttled = t->lost_throttled;
	pthread_mutex_unlock(&t->lock);
}

/* ------------------------------------------------------------- live view */

enum list_kind { LIST_ALL, LIST_REPORT, LIST_NEWLY_THROTTLED };

static void
entry_fill(const struct throttle *t, const struct thr_dom *e, const struct store_config *c,
    uint64_t now_ms, const char **peers, struct throttle_entry *x)
{
	bool open = !period_over(e, c, now_ms);
	bool susp = open && suspicious(e, c);

	memset(x, 0, sizeof(*x));
	for (size_t i = 0; i < e->npeers; i++)
		peers[i] = e->peers[i].name;
	x->domain = e->domain;
	x->peers = peers;
	x->npeers = e->npeers;
	x->rate = window_rate(e, now_ms);
	x->limit = susp ? c->discovered_suspicious_rate : c->discovered_rate;
	x->suspicious = susp;
	x->contacts_limit = c->discovered_contacts < t->max_contacts ?
	    c->discovered_contacts : t->max_contacts;
	x->period_open = open;
	if (open) {
		x->contacts = e->ncontacts;
		x->requests = e->period_requests;
		x->throttled = e->period_throttled;
		x->ok = e->ok;
		x->failed = e->failed;
		x->period_start_ms = e->period_start_ms;
		x->why = e->first_why;
	}
	x->last_seen_ms = e->last_seen_ms;
	x->report_requests = e->report_requests;
	x->report_throttled = e->report_throttled;
	x->report_contacts = e->report_contacts;
	x->report_suspicious = e->report_suspicious;
}

static size_t
list(struct throttle *t, const struct policy *p, uint64_t now_ms, enum list_kind kind,
    throttle_list_cb cb, void *arg)
{
	const struct store_config *c = policy_config(p);
	const char *peers[THROTTLE_PEERS_MAX];
	struct throttle_entry x;
	size_t n = 0;

	pthread_mutex_lock(&t->lock);
	for (struct thr_dom *e = t->head; e; e = e->next) {
		if (kind == LIST_REPORT && e->report_requests + e->report_throttled == 0)
			continue;
		if (kind == LIST_NEWLY_THROTTLED && !e->announce)
			continue;
		entry_fill(t, e, c, now_ms, peers, &x);
		if (kind == LIST_NEWLY_THROTTLED) {
			/* The period's counters as they are, also when it has
			 * ended since (none started yet): the refusal was in it. */
			x.requests = e->period_requests;
			x.throttled = e->period_throttled;
			x.why = e->announce_why;
			e->announce = false;
		}
		cb(&x, arg);
		n++;
		if (kind == LIST_REPORT) {
			e->report_requests = e->report_throttled = e->report_contacts = 0;
			e->report_suspicious = false;
		}
	}
	pthread_mutex_unlock(&t->lock);
	return n;
}

size_t
throttle_list(struct throttle *t, const struct policy *p, uint64_t now_ms, throttle_list_cb cb,
    void *arg)
{
	return list(t, p, now_ms, LIST_ALL, cb, arg);
}

size_t
throttle_report(struct throttle *t, const struct policy *p, uint64_t now_ms,
    throttle_list_cb cb, void *arg)
{
	return list(t, p, now_ms, LIST_REPORT, cb, arg);
}

size_t
throttle_newly_throttled(struct throttle *t, const struct policy *p, uint64_t now_ms,
    throttle_list_cb cb, void *arg)
{
	return list(t, p, now_ms, LIST_NEWLY_THROTTLED, cb, arg);
}
