/* policy.h: the immutable in-memory snapshot of the federation policy (the
 * store's access-edge configuration, allowed and blocked domains, providers,
 * XMPP partners and settings), built once per committed change and shared
 * read-only by every worker.
 *
 * Ownership: policy_build returns a snapshot holding one reference, owned by
 * the caller.  Each thread that keeps a pointer takes its own reference with
 * policy_ref and drops it with policy_unref; the last unref frees everything.
 * A snapshot never changes after policy_build returns, so lookups need no lock
 * and the reference counting (C11 atomics) is the only synchronisation.  The
 * publisher swaps its "current" pointer under its own lock or atomically;
 * readers that already hold the old snapshot finish their message with it.
 *
 * Domain matching is exact: a listed domain covers that SIP domain only, not
 * its subdomains.  That is what the reference system (Lync Server 2013 Access
 * Edge) does and what our own sip-domain list does, and it keeps the block
 * list from silently extending to names the administrator never saw: block
 * or allow each subdomain on its own.  Lookups take a name in any case, with
 * or without one trailing dot; it is normalised as names_normalize does, and
 * a name that is not a valid domain name (an IP address, a wildcard) matches
 * nothing. */
#ifndef SIPEDGE_POLICY_H
#define SIPEDGE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sipedge/store.h"

struct policy;

/* An allowed partner: with proxy_fqdn, an allowed partner server (direct
 * federation); without, an allowed partner domain found by DNS SRV. */
struct policy_allowed {
	const char *domain;
	const char *proxy_fqdn;            /* NULL: DNS SRV */
	bool monitor;
};

struct policy_provider {
	const char *name;                  /* as configured (case kept) */
	enum store_provider_kind kind;
	const char *proxy_fqdn;
	enum store_verification verification;
	bool enabled;
	const char *const *domains;        /* sorted, normal form */
	size_t ndomains;
};

/* Build a snapshot of sp (which the caller keeps and may free afterwards).
 * local_domains are our own SIP domains (the daemon's sip-domain list), so
 * that the federation decision can refuse requests that claim to come from
 * them or that target them; policy_build is policy_build_local with none.
 * Returns 0, -EINVAL if a name is not a valid domain name or a domain, proxy
 * FQDN or provider name is listed twice where it must be unique, or -ENOMEM. */
int policy_build(const struct store_policy *sp, struct policy **out);
int policy_build_local(const struct store_policy *sp, const char *const *local_domains,
    size_t nlocal, struct policy **out);

/* Take and drop a reference; policy_unref(NULL) does nothing.  Safe from any
 * thread. */
struct policy *policy_ref(struct policy *p);
void policy_unref(struct policy *p);

/* The store generation the snapshot was built from. */
uint64_t policy_generation(const struct policy *p);
/* The access-edge configuration (federation, discovery, routing, limits). */
const struct store_config *policy_config(const struct policy *p);

/* Lookups.  Returned pointers are valid while the caller holds a reference. */
bool policy_blocked(const struct policy *p, const char *domain);
bool policy_local(const struct policy *p, const char *domain);
const struct policy_allowed *policy_allowed(const struct policy *p, const char *domain);
/* Provider by name (case-insensitive), by proxy FQDN, or by a domain it serves. */
const struct policy_provider *policy_provider(const struct policy *p, const char *name);
const struct policy_provider *policy_provider_by_proxy(const struct policy *p, const char *fqdn);
const struct policy_provider *policy_provider_by_domain(const struct policy *p, const char *domain);

/* Counts, for status output and tests. */
size_t policy_nblocked(const struct policy *p);
size_t policy_nallowed(const struct policy *p);
size_t policy_nproviders(const struct policy *p);

/* ---- XMPP federation (policy_xmpp.c) ---- */

/* An allowed XMPP partner, as the s2s streams need it. */
struct policy_xmpp_partner {
	const char *domain;                /* its own domain, normal form */
	const char *const *additional;     /* its additional domains, sorted, normal form */
	size_t nadditional;
	enum store_xmpp_type type;
	enum store_xmpp_nego tls, sasl;
	bool dialback;
	bool keepalive;
	unsigned connection_limit;         /* in force: its own, else partner-connection-limit */
	const char *proxy_fqdn;            /* NULL: DNS SRV */
};

/* The XMPP settings (connection limits, timers, message type). */
const struct store_xmpp_config *policy_xmpp_config(const struct policy *p);
/* The partner serving domain, its own or an additional one. */
const struct policy_xmpp_partner *policy_xmpp_partner(const struct policy *p, const char *domain);
size_t policy_nxmpp_partners(const struct policy *p);

/* Whether the edge federates over XMPP with a remote domain (a stream's
 * peer, a stanza's domain), first match wins; DNS, TLS and authentication
 * are the caller's. */
enum policy_xmpp_verdict {
	POLICY_XMPP_PARTNER = 0,           /* an allowed XMPP partner: *out is it */
	POLICY_XMPP_FEDERATION_OFF,        /* the setting federation is off: nothing federates */
	POLICY_XMPP_LOCAL,                 /* one of our own domains: never a remote peer */
	POLICY_XMPP_BLOCKED,               /* a blocked domain (the block list is SIP's and XMPP's) */
	POLICY_XMPP_NOT_PARTNER            /* anything else, a name that is no domain name too */
};

/* Pure: no I/O, no allocation.  *out (out may be NULL) is the partner for
 * POLICY_XMPP_PARTNER, else NULL; valid while the caller holds pol. */
enum policy_xmpp_verdict policy_xmpp_decide(const struct policy *pol, const char *domain,
    const struct policy_xmpp_partner **out);
/* "partner", "federation-off", "local", "blocked", "not-partner". */
const char *policy_xmpp_verdict_name(enum policy_xmpp_verdict v);

#endif
