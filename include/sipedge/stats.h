/* stats.h: the counters an edge administrator watches (sipedgectl stats, the
 * Prometheus exposition), in the spirit of the reference system's performance
 * counters: messages per side, requests per federation type and per partner
 * domain, refusals per diagnostic code, TLS handshake failures by cause, DNS
 * look-ups, failovers, time-outs, overload refusals, throttled partners.
 *
 * Threading: one struct stats per worker, written only by that worker's
 * thread (a relaxed load and store, no locked instruction; each worker's
 * counters lie in its own struct worker, far from another writer's), read from any thread with relaxed loads: a
 * reader sums the workers' counters (stats_sum) and may see one counter a
 * moment ahead of another, never a torn value.  The per-domain table has a
 * mutex of its own, taken once per federated request by its worker and by a
 * reader while it copies.  Counters only grow; "sipedgectl stats --reset"
 * keeps a baseline (stats_total_sub), so Prometheus counters stay monotonic. */
#ifndef SIPEDGE_STATS_H
#define SIPEDGE_STATS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sipedge/conf.h"
#include "sipedge/diag.h"
#include "sipedge/fedroute.h"
#include "sipedge/hmap.h"
#include "sipedge/json.h"
#include "sipedge/xmpp.h"

/* Requests and responses the edge receives (IN) or sends (OUT). */
enum stats_dir { STATS_IN = 0, STATS_OUT = 1 };

/* Why a TLS handshake failed (the and the reference's causes). */
enum stats_tls_cause {
	STATS_TLS_NO_CERT,                 /* the peer sent no certificate */
	STATS_TLS_UNTRUSTED,               /* its chain does not verify (CA, expiry) */
	STATS_TLS_WRONG_NAME,              /* it does not name the host dialled */
	STATS_TLS_TIMEOUT,                 /* no handshake within handshake-timeout */
	STATS_TLS_PROTOCOL,                /* anything else: versions, ciphers, garbage */
	STATS_TLS_NCAUSES
};

#define STATS_FED_TYPES 5                  /* enum fed_type: FED_NONE .. FED_DISCOVERED */
#define STATS_DIAG_MAX 64                  /* slots for diagnostic codes (diag_at order) */
/* Partner domains counted one by one per worker; the rest add up under
 * STATS_OTHER_DOMAIN, so that a flood of made-up domains costs bounded memory. */
#define STATS_DOMAINS_MAX 1024
#define STATS_OTHER_DOMAIN "(other)"

typedef _Atomic uint64_t stats_ctr;

struct stats_domain {
	struct hnode node;
	char name[CONF_MAX_NAME];
	uint64_t requests[2];              /* accepted, by direction (IN: from the partner) */
	uint64_t refused[2];               /* refused by policy, by direction */
	uint64_t throttled;                /* discovered partner over its limits */
};

struct stats {
	stats_ctr messages[2][2];          /* [side][dir], requests and responses */
	stats_ctr bytes[2][2];             /* [side][dir], on the wire (TLS records) */
	stats_ctr accepted[2];             /* connections accepted, per side */
	stats_ctr dialled[2];              /* connections the edge opened, per side */
	stats_ctr tls_failures[2][STATS_TLS_NCAUSES]; /* [side][cause] */
	stats_ctr fed_requests[STATS_FED_TYPES][2];   /* [fed_type][dir] accepted */
	stats_ctr refusals[STATS_DIAG_MAX];           /* by diag_at() index */
	stats_ctr dns_queries, dns_failures;
	stats_ctr failovers;               /* a next target tried after one failed */
	stats_ctr timeouts;                /* transactions answered 408 by the edge */
	stats_ctr overload;                /* 503 1204 */
	stats_ctr throttled;               /* discovered partners refused by their limits */
	stats_ctr transactions;            /* open now (a gauge: up and down) */
	stats_ctr connections[2];          /* established now, per side (a gauge) */
	stats_ctr dns_cache;               /* DNS cache entries now (a gauge) */

	pthread_mutex_t lock;              /* guards the domain table */
	struct hmap domains;
	size_t ndomains;
	struct stats_domain other;
};

/* 0 or -ENOMEM / an errno from the mutex. */
int stats_init(struct stats *s);
void stats_fini(struct stats *s);

/* One more, by the worker that owns s (a NULL s counts nothing, for the
 * dry run and the unit tests that have no worker). */
static inline void
stats_add(stats_ctr *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
	    memory_order_relaxed);
}
#define STATS_ADD(s, field, n) do {                                           \
		struct stats *stats_s_ = (s);                                  \
		if (stats_s_)                                                  \
			stats_add(&stats_s_->field, (n));                      \
	} while (0)
#define STATS_INC(s, field) STATS_ADD(s, field, 1)
static inline void
stats_gauge_dec(stats_ctr *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) - 1,
	    memory_order_relaxed);
}

/* A refusal the edge answered with d (and the domain it concerned, if known). */
void stats_refusal(struct stats *s, enum diag_code d);
/* A federated request accepted (refused: false) or refused by policy,
 * between us and a partner domain of type t, in direction dir. */
void stats_federated(struct stats *s, enum fed_type t, const char *domain, enum stats_dir dir,
    bool refused);
/* A discovered partner refused by its limits (throttle.h). */
void stats_throttled(struct stats *s, const char *domain);

/* ---- reading: the sum over every worker ---- */

struct stats_domain_total {
	char name[CONF_MAX_NAME];
	uint64_t requests[2], refused[2], throttled;
};

struct stats_total {
	uint64_t messages[2][2], bytes[2][2], accepted[2], dialled[2];
	uint64_t tls_failures[2][STATS_TLS_NCAUSES];
	uint64_t fed_requests[STATS_FED_TYPES][2];
	uint64_t refusals[STATS_DIAG_MAX];
	uint64_t dns_queries, dns_failures, failovers, timeouts, overload, throttled;
	uint64_t transactions, connections[2], dns_cache;
	struct stats_domain_total *domains; /* sorted by name; malloc'ed */
	size_t ndomains;
	/* The XMPP gateway's (worker 0's; proxy_stats fills them in, stats_sum
	 * leaves them zero); open_streams is a gauge. */
	struct xmpp_counters xmpp;
};

/* Sum n workers' counters into a fresh total (free it with stats_total_free).
 * 0 or -ENOMEM. */
int stats_sum(struct stats *const *v, size_t n, struct stats_total *out);
void stats_total_free(struct stats_total *t);
/* A deep copy (the baseline of a reset).  0 or -ENOMEM. */
int stats_total_copy(const struct stats_total *from, struct stats_total *to);
/* t -= base for every counter (a domain missing from base stays whole);
 * gauges are left as they are. */
void stats_total_sub(struct stats_total *t, const struct stats_total *base);

/* Names used in both renderings. */
const char *stats_side_name(int side);        /* "internal", "external" */
const char *stats_dir_name(enum stats_dir d); /* "in", "out" */
const char *stats_tls_cause_name(enum stats_tls_cause c);  /* "no_certificate", … */

/* The counters as one JSON object (sipedgectl stats --json), non-zero ones
 * only for the per-code and per-domain tables; its "xmpp" member is
 * stats_xmpp_json's object, which sipedgectl xmpp streams shows too. */
void stats_total_json(const struct stats_total *t, struct json_out *o);
void stats_xmpp_json(const struct xmpp_counters *x, struct json_out *o);
/* The counters in the Prometheus text exposition format (version 0.0.4):
 * sipedge_<name>_total counters with side, direction, type, domain, code
 * and cause labels; the XMPP side's are sipedge_xmpp_<name>. */
void stats_total_prometheus(const struct stats_total *t, FILE *f);

#endif
