/* fedroute.h: the federation decision for a new (out-of-dialog) request, by
 * federation type in the priority order of DESIGN.md: blocked, allowed partner
 * server, provider, allowed partner domain, discovered partner, else refused.
 * Pure: no I/O, no locks, no allocation; first match wins, one function per
 * criterion (OpenSMTPD ruleset.c style).  DNS and throttling are the caller's:
 * a decision says when they are needed.
 *
 * All names are compared in normal form (names_normalize: lower case, one
 * trailing dot dropped) and exactly: a listed domain does not cover its
 * subdomains (see policy.h).  Certificate names are never wildcards: a peer
 * name with '*' matches nothing.
 *
 * Outbound (from an allowed internal server, Request-URI domain not ours):
 *   1. federation off                      -> 403 DIAG_FED_DISABLED
 *   2. target not a domain name            -> 403 DIAG_FED_NOT_FEDERATED
 *   3. target is one of our local domains  -> 403 DIAG_LOCAL_TARGET
 *   4. blocked                             -> 403 DIAG_FED_BLOCKED
 *   5. the type: allowed partner server, else provider (disabled -> 403
 *      DIAG_FED_PROVIDER_DISABLED), else allowed partner domain, else
 *      discovered partner when partner discovery is on, else 403
 *      DIAG_FED_NOT_FEDERATED
 *   6. routing-method default-route        -> FED_VIA_FQDN default-route-fqdn
 *   7. by type: allowed partner server -> FED_VIA_FQDN its proxy; provider ->
 *      FED_VIA_FQDN its proxy; allowed partner domain and discovered partner ->
 *      FED_VIA_SRV (discovered: throttled).
 * Default route, as in Lync: it sends *all* federated traffic to one FQDN,
 * allowed partner servers included (their own proxy FQDN is then unused), but
 * only traffic the policy federates with: the type is still decided (so that
 * blocked, unknown and disabled-provider targets are refused exactly as with
 * dns-srv, and the edge is never an open relay through the default route), and
 * reported in the decision.
 *
 * Inbound (external listener; the caller checks separately that the
 * Request-URI domain is ours):
 *   1. federation off                      -> 403 DIAG_FED_DISABLED
 *   2. source (From) not a domain name     -> 403 DIAG_FED_NOT_FEDERATED
 *   3. source is one of our local domains  -> 403 DIAG_FED_SPOOFED (a partner
 *      never speaks for us; our own users never come in from outside)
 *   4. blocked                             -> 403 DIAG_FED_BLOCKED
 *   5. allowed partner server: a peer name equals its proxy FQDN -> accept,
 *      else 403 DIAG_FED_CERT_MISMATCH
 *   6. provider domain: provider disabled -> 403 DIAG_FED_PROVIDER_DISABLED;
 *      a peer name equals its proxy FQDN -> accept, else 403
 *      DIAG_FED_CERT_MISMATCH
 *   7. the peer is some provider's proxy   -> 403 DIAG_FED_PROVIDER_FOREIGN: a
 *      provider speaks only for the domains listed for it, even when the
 *      source domain's own DNS would vouch for it (list the domain for the
 *      provider instead)
 *   8. allowed partner domain              -> FED_IN_NEED_SRV
 *   9. partner discovery on                -> FED_IN_NEED_SRV, discovered,
 *      throttled
 *  10. else                                -> 403 DIAG_FED_NOT_FEDERATED
 * The routing method does not change the inbound rules: trusting the default
 * route's peer for every source domain would let it speak for anyone.
 *
 * Trust marking: an accepted inbound request is forwarded with the header
 *   ms-edge-proxy-message-trust: ms-source-type=TYPE;ms-ep-fqdn=PEER;
 *       ms-source-network=federation;ms-source-verified-user=VERIFIED
 * (one line) where TYPE is AllowedPartnerServer, Provider, AllowedPartnerDomain
 * or DiscoveredPartner, PEER the certificate name that matched, and VERIFIED
 * "verified" or "unverified":
 *   - allowed partner server and allowed partner domain: verified (partners an
 *     administrator approved, authenticated by mutual TLS);
 *   - provider: by its verification level: always-verified -> verified,
 *     always-unverified -> unverified, use-source -> the sender's own mark
 *     (fed_in.source_verified, which the caller sets from the request);
 *   - discovered partner: the sender's own mark, as for use-source: nobody
 *     here vouched for it.
 * The sender's mark is what its edge's mark-source-verifiable setting
 * produces; ours is reported for outbound requests in fed_out.mark_verified.
 * The caller removes any ms-edge-proxy-message-trust header a partner sent. */
#ifndef SIPEDGE_FEDROUTE_H
#define SIPEDGE_FEDROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "sipedge/diag.h"
#include "sipedge/names.h"
#include "sipedge/policy.h"

/* The SRV owner name prefix for SIP federation over TLS. */
#define FEDROUTE_SRV_PREFIX "_sipfederationtls._tcp."
/* Room for FEDROUTE_SRV_PREFIX + a domain, or an FQDN, and the NUL. */
#define FEDROUTE_NEXT_MAX (sizeof(FEDROUTE_SRV_PREFIX) - 1 + NAMES_MAX + 1)
#define FEDROUTE_DETAIL_MAX 640      /* two names, a provider name and text */
/* Longest value fedroute_trust_header writes, NUL included. */
#define FEDROUTE_TRUST_MAX 384

enum fed_type {
	FED_NONE = 0,
	FED_ALLOWED_SERVER,                /* allowed partner server (direct) */
	FED_PROVIDER,                      /* public IM or hosting provider */
	FED_ALLOWED_DOMAIN,                /* allowed partner domain (DNS SRV) */
	FED_DISCOVERED,                    /* discovered partner (open federation) */
};

enum fed_via {
	FED_VIA_NONE = 0,
	FED_VIA_FQDN,                      /* dial fed_out.next, an FQDN */
	FED_VIA_SRV,                       /* look up SRV fed_out.next, dial its targets */
};

struct fed_out {
	/* Refusal: status (SIP) and diag set, detail says what and which name. */
	int status;
	enum diag_code diag;
	char detail[FEDROUTE_DETAIL_MAX];
	/* Acceptance. */
	enum fed_type type;
	enum fed_via via;
	char domain[NAMES_MAX + 1];        /* the target domain, normal form */
	char next[FEDROUTE_NEXT_MAX];      /* FQDN to dial, or SRV owner name */
	bool default_route;                /* next is default-route-fqdn */
	bool throttled;                    /* discovered: call throttle_admit first */
	bool monitor;                      /* allowed partner marked for monitoring */
	bool mark_verified;                /* mark-source-verifiable: mark our sender verified */
	enum store_verification verification; /* provider only */
	char provider[65];                 /* provider name, or "" */
};

enum fed_in_result {
	FED_IN_REFUSE = -1,
	FED_IN_ACCEPT = 0,
	FED_IN_NEED_SRV = 1,               /* finish with fedroute_inbound_srv */
};

struct fed_in {
	int status;
	enum diag_code diag;
	char detail[FEDROUTE_DETAIL_MAX];
	enum fed_type type;
	char domain[NAMES_MAX + 1];        /* the source domain, normal form */
	char srv[FEDROUTE_NEXT_MAX];       /* FED_IN_NEED_SRV: the SRV name to look up */
	char peer[NAMES_MAX + 1];          /* accepted: the peer name that matched */
	bool throttled;                    /* discovered: call throttle_admit */
	bool monitor;
	enum store_verification verification; /* provider only */
	char provider[65];
	/* Set by the caller before fedroute_trust_header: the sender's own
	 * "verified" mark (used for use-source providers and discovered partners). */
	bool source_verified;
};

/* Decide where a request from an allowed internal server for target_domain
 * goes.  0 and d filled, or -EACCES and d->status, d->diag, d->detail set.  p is a
 * snapshot the caller holds a reference to; d holds no pointer into it. */
int fedroute_outbound(const struct policy *p, const char *target_domain, struct fed_out *d);

/* Decide whether a TLS peer whose certificate carries peer_names (SAN DNS
 * names, else CN) may send a request from source_domain.  Returns an enum
 * fed_in_result; d is filled in every case. */
int fedroute_inbound(const struct policy *p, const char *source_domain,
    const char *const *peer_names, size_t npeer, struct fed_in *d);

/* Finish a FED_IN_NEED_SRV decision d once the SRV answer for d->srv is known:
 * targets are the SRV target names (any case, trailing dot or not); ntargets 0
 * means the domain has no record (504 DIAG_FED_SRV_NONE; a failed look-up is
 * the caller's 504 DIAG_FED_SRV_FAILED).  Accepts when a peer name equals a
 * target.  Writes out (which may be d); returns FED_IN_ACCEPT or FED_IN_REFUSE. */
int fedroute_inbound_srv(const struct fed_in *d, const char *const *targets, size_t ntargets,
    const char *const *peer_names, size_t npeer, struct fed_in *out);

/* The ms-edge-proxy-message-trust header value for an accepted inbound
 * request d (see above); peer_fqdn NULL means d->peer.  Returns the length
 * written, or -EINVAL if d was not accepted, -ENOSPC if len is too small (buf
 * then holds "" when len > 0). */
int fedroute_trust_header(const struct fed_in *d, const char *peer_fqdn, char *buf, size_t len);

/* "AllowedPartnerServer", ... ("None" for FED_NONE). */
const char *fedroute_type_name(enum fed_type t);

#endif
