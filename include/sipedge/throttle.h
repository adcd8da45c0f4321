/* throttle.h: the limits on discovered partners (open federation) and the
 * counters behind "sipedgectl partners": a message rate per partner domain, a
 * lower rate once the partner looks suspicious, and a number of distinct
 * internal contacts per period.  Only discovered-partner traffic goes through
 * here; allowed partners and providers are never throttled.
 *
 * One struct throttle per process, shared by every worker: one mutex guards
 * it (discovered traffic is a small share of the load, and a per-worker
 * throttle would multiply the limits by the number of workers).  The caller
 * owns it (throttle_new / throttle_free).  Time is passed in (now_ms, any
 * monotonic clock in milliseconds) so that tests can drive it.
 *
 * Rules:
 *  - Rate: a token bucket per domain holding at most one second's worth of
 *    requests (discovered-rate, or discovered-suspicious-rate while the domain
 *    is suspicious), refilled continuously.  A new domain starts full.
 *  - Suspicious: once, within the current period, a domain has at least
 *    THROTTLE_MIN_OUTCOMES counted final responses and its failures exceed
 *    discovered-suspicious-ratio per 100 successes (failed * 100 > ratio *
 *    ok).  The minimum keeps one unlucky first response from slowing a new
 *    partner down.  Counted by throttle_outcome from the final responses to
 *    requests the partner sent: 2xx are successes; failures are the 4xx that
 *    say the request should not have been sent (403, 404, 410, 484, ...) and
 *    604.  Not counted: 1xx, 3xx, 5xx (our or a server's trouble, not the
 *    partner's behaviour), 6xx other than 604 (a user's choice), and the 4xx
 *    that are normal outcomes of a call or a challenge: 401, 407, 408, 480,
 *    486, 487, 491.
 *  - Contacts: the distinct internal contacts (as given by the caller, e.g.
 *    the internal user's address-of-record) a domain reached in the current
 *    period, at most discovered-contacts; a request to a contact already seen
 *    this period always passes this check.  The set holds 64-bit keyed hashes
 *    (16 to 32 bytes of memory per contact) and never grows past the limit.
 *  - Period: discovered-period minutes, per domain, starting at its first
 *    request; at its end the contact set and the outcome counts restart, so a
 *    partner can recover from being suspicious.
 *  - Refusals: DIAG_FED_CONTACTS (480: the contact is unavailable to this
 *    partner until the period ends), checked first, then DIAG_FED_SUSPICIOUS or
 *    DIAG_FED_RATE (503: transient, the sender should back off).  A refused
 *    request takes no token and adds no contact.
 *  - Memory: at most max_domains domains are tracked, and at most max_contacts
 *    contact hashes across all of them; making room evicts the least recently
 *    seen domains (their limits restart; their counters not yet drained are
 *    lost and counted in throttle_stats).  The effective contact limit of one
 *    domain is thus min(discovered-contacts, max_contacts).
 *
 * Three sets of counters per domain, each restarted by its own reader:
 * since the last throttle_drain (the store, every 2 s), this period (the live
 * view, throttle_list), and since the last throttle_report (the daemon's
 * periodic report, event 14601).  A domain's first refusal in a period is
 * kept for throttle_newly_throttled (event 14603), so that the workers never
 * log it themselves. */
#ifndef SIPEDGE_THROTTLE_H
#define SIPEDGE_THROTTLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sipedge/diag.h"
#include "sipedge/policy.h"
#include "sipedge/store.h"

#define THROTTLE_MAX_DOMAINS_DEFAULT 1024
#define THROTTLE_MAX_CONTACTS_DEFAULT ((size_t)1 << 20)  /* <= 32 MB of hash slots */
#define THROTTLE_MIN_OUTCOMES 10
#define THROTTLE_PEERS_MAX 8           /* peer names remembered per domain (most recent) */

struct throttle;

/* 0 for max_domains or max_contacts means the default. */
int throttle_new(size_t max_domains, size_t max_contacts, struct throttle **out);
void throttle_free(struct throttle *t);

/* Admit one request between a discovered partner domain (any case, trailing
 * dot or not) and internal_contact, seen from (or sent to) the partner edge
 * peer_fqdn (NULL if unknown), under the limits in p's configuration.  0:
 * admitted and counted; -EACCES: refused, counted, *why (if not NULL) set to
 * the diagnostic.  A domain that is not a valid name is refused with -EINVAL
 * and DIAG_FED_NOT_FEDERATED; -ENOMEM with DIAG_OVERLOAD when out of memory. */
int throttle_admit(struct throttle *t, const struct policy *p, const char *domain,
    const char *peer_fqdn, const char *internal_contact, uint64_t now_ms,
    enum diag_code *why);

/* Count the final response to a request the partner domain sent. */
void throttle_outcome(struct throttle *t, const char *domain, int final_status);
/* Record the partner edge an outbound request was sent to (known only once
 * DNS has answered, after throttle_admit). */
void throttle_peer(struct throttle *t, const char *domain, const char *peer_fqdn);
/* Whether final_status counts as a failure (1), a success (0) or not at all (-1). */
int throttle_classify(int final_status);

/* Move up to max pending deltas (domains with traffic since their last drain)
 * into out, for store_partners_record; seen is 0 ("now").  The strings stay
 * valid until the next throttle_drain or throttle_free.  Domains left over
 * stay pending for the next call.  Returns the number written. */
size_t throttle_drain(struct throttle *t, struct store_partner_delta *out, size_t max);

/* One tracked domain as throttle_list, throttle_report and
 * throttle_newly_throttled see it at now_ms.  Everything "this period" is the
 * domain's current period (it starts at the domain's first request and lasts
 * discovered-period minutes); once that has ended with no request since, no
 * period is open (period_open false) and those counters read 0, as the next
 * request would start them. */
struct throttle_entry {
	const char *domain;                /* normal form */
	const char *const *peers;          /* partner edges seen, most recent first */
	size_t npeers;
	/* Requests offered (admitted or refused) in the last second: the count
	 * of the current one-second window (now_ms / 1000) plus the previous
	 * window's, weighted by the share of the last second it covers. */
	uint64_t rate;
	unsigned limit;                    /* requests/s in force: discovered-rate, or
	                                    * discovered-suspicious-rate while suspicious */
	bool suspicious;
	size_t contacts, contacts_limit;   /* distinct internal contacts this period; the
	                                    * limit min(discovered-contacts, max_contacts) */
	uint64_t requests, throttled;      /* this period: admitted, refused */
	uint64_t ok, failed;               /* counted outcomes this period */
	bool period_open;
	uint64_t period_start_ms;          /* when the period started (if open) */
	uint64_t last_seen_ms;             /* the last request, admitted or not */
	/* throttle_report only, since the previous report: requests admitted
	 * and refused, contacts new in their period (as in the store), and
	 * whether a request met the domain suspicious. */
	uint64_t report_requests, report_throttled, report_contacts;
	bool report_suspicious;
	/* throttle_newly_throttled only: the first refusal's reason this period. */
	enum diag_code why;
};
/* Called under the throttle's lock: copy what is needed, never call a
 * throttle_ function, never block.  The strings live until cb returns. */
typedef void (*throttle_list_cb)(const struct throttle_entry *e, void *arg);

/* Every tracked domain, most recently seen first, under the limits in p's
 * configuration; changes nothing.  Returns the number of calls to cb. */
size_t throttle_list(struct throttle *t, const struct policy *p, uint64_t now_ms,
    throttle_list_cb cb, void *arg);
/* The domains that sent requests (admitted or refused) since the previous
 * call, with the report_ fields; those restart. */
size_t throttle_report(struct throttle *t, const struct policy *p, uint64_t now_ms,
    throttle_list_cb cb, void *arg);
/* The domains refused for the first time in their current period since the
 * previous call, each once per period, with why. */
size_t throttle_newly_throttled(struct throttle *t, const struct policy *p, uint64_t now_ms,
    throttle_list_cb cb, void *arg);

struct throttle_stats {
	size_t domains;                    /* tracked now */
	size_t contacts;                   /* contact hashes held now */
	uint64_t evicted;                  /* domains evicted to make room */
	uint64_t lost_requests;            /* undrained requests dropped with them */
	uint64_t lost_throttled;           /* undrained refusals dropped with them */
};
void throttle_stats(struct throttle *t, struct throttle_stats *out);
/* Whether domain is tracked and currently suspicious (status and tests). */
bool throttle_suspicious(struct throttle *t, const struct policy *p, const char *domain);

#endif
