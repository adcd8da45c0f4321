/* route.h: the one routing step of a request (RFC 3261 §16.4-16.5, RFC 3263 §4),
 * shared by the daemon and by sipedgectl route's dry run, so that the two can
 * never disagree: the relay rules (no open relay), OPTIONS for the edge itself,
 * the federation decision (fedroute.h) for a new request, the source checks
 * and trust marking of a request from outside, discovered-partner limits, the
 * next hops from the configuration (pool servers, host pins) and DNS (SRV,
 * A/AAAA) — and, in the daemon, the same checks for a request in a dialog.
 *
 * A struct route_op is one request's routing, embedded by its caller (the
 * daemon's transaction, the CLI's dry run), which fills the inputs and calls
 * route_start.  Every step can be traced (route_env.step: the dry run prints
 * them, the daemon logs them at debug level).  Look-ups run on the caller's
 * loop; when one is needed route_start returns ROUTE_PENDING and op->done is
 * called later, once, from the loop, unless route_cancel comes first.
 *
 * Ownership: the caller owns the op, its message and the env; the op owns its
 * look-up and scratch memory until route_cancel (or its done callback). */
#ifndef SIPEDGE_ROUTE_H
#define SIPEDGE_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include <sofia-sip/msg.h>
#include <sofia-sip/sip.h>

#include "sipedge/conf.h"
#include "sipedge/dns.h"
#include "sipedge/fedroute.h"
#include "sipedge/names.h"
#include "sipedge/policy.h"
#include "sipedge/rr.h"
#include "sipedge/sipmsg.h"
#include "sipedge/throttle.h"

#define ROUTE_MAX_HOPS 8
/* The user part of the XMPP gateway's Contact (its SIP dialogs with the pool). */
#define ROUTE_XMPP_GW_USER "xmpp-gw"
#define ROUTE_TRUST_HEADER "ms-edge-proxy-message-trust"

struct route_op;

/* A step of the decision, in words (the dry run's numbered lines). */
typedef void (*route_step_fn)(void *arg, const struct route_op *op, const char *text);

/* What routing needs from its surroundings. */
struct route_env {
	const struct conf *cf;
	struct policy *pol;                /* a snapshot the caller holds */
	struct dns *dns;                   /* on loop */
	uv_loop_t *loop;
	const struct rr_key *key;          /* Record-Route tokens (daemon) */
	struct throttle *throttle;         /* NULL: a dry run: nothing is counted */
	route_step_fn step;                /* NULL: no trace */
	void *step_arg;
};

enum route_verdict {
	ROUTE_REFUSE = -1,                 /* prob says why */
	ROUTE_FORWARD = 0,                 /* to hops (in a dialog: along target first) */
	ROUTE_PENDING = 1,                 /* a look-up continues; op->done later */
	ROUTE_LOCAL = 2,                   /* the edge answers it itself (OPTIONS) */
	ROUTE_XMPP = 3,                    /* to an XMPP partner: translated (op->domain) */
};

struct route_target {                      /* a name to resolve, in failover order */
	char fqdn[CONF_MAX_NAME];
	unsigned short port;
	enum tp_kind kind;
	bool has_addr;                     /* configured: no look-up */
	struct sockaddr_storage addr;
};

struct route_op {
	/* ---- filled by the caller before route_start ---- */
	const struct route_env *env;
	msg_t *msg;                        /* the request; routing edits its marking */
	sip_t *sip;
	enum side side;                    /* where it came from */
	const char *const *peer_names;     /* the sender's certificate names (external) */
	size_t npeer;
	/* In a dialog (the daemon): our tokens, and whether the sender is the
	 * dialog's peer (its connection or certificate, route_dialog_bound). */
	bool dialog, bound, have_origin;
	struct rr_peer origin, target;
	/* A request the XMPP gateway made from a stanza of this partner domain,
	 * which its stream authenticated (NULL otherwise), and the partner
	 * type for the trust header ("federated", "public-verified",
	 * "public-unverified"). */
	const char *xmpp_domain;
	const char *xmpp_type;
	/* The XMPP gateway's own request in one of its SIP dialogs (presence
	 * subscriptions): it goes to the pool servers as it is. */
	bool xmpp_dialog;
	void (*done)(struct route_op *op);

	/* ---- the outcome ---- */
	int verdict;
	struct sip_problem prob;           /* ROUTE_REFUSE */
	enum fed_type type;
	char domain[CONF_MAX_NAME];        /* the partner's domain */
	char provider[65];
	char peer[NAMES_MAX + 1];          /* inbound: the certificate name that matched */
	char trust[FEDROUTE_TRUST_MAX];    /* the trust header value added, "" none */
	bool source_verified;              /* inbound: the sender's own mark */
	bool default_route, throttled, ending, local, add_rr;
	enum side out_side;
	struct hop hops[ROUTE_MAX_HOPS];
	size_t nhops;
	char prefer[CONF_MAX_NAME];        /* hops of this name first (a dialog's own) */
	bool has_routes;                   /* outbound dialog-forming: the pool's */
	uint64_t routes;                   /* Record-Route entries, keyed-hashed */
	enum diag_code res_diag;           /* why the look-ups found no hop */
	char causes[768];                  /* each failure, for the final reason */

	/* ---- private ---- */
	char asked[FEDROUTE_NEXT_MAX];     /* the SRV name looked up */
	struct fed_in *fin;
	struct dns_query *q;
	struct route_target *res;
	size_t res_n, res_i;
	bool fallback_done;
	bool starting;                     /* inside route_start: done is not called */
};

/* Decide where op's request goes.  Returns an enum route_verdict, also left in
 * op->verdict; ROUTE_PENDING: op->done(op) is called later with op->verdict
 * set to one of the others. */
int route_start(struct route_op *op);
/* The dialog's connection is gone: find the hops to reach the peer op->target
 * names again, by the configuration or the policy and DNS.  ROUTE_FORWARD,
 * ROUTE_PENDING (op->done later) or ROUTE_REFUSE (none: 430). */
int route_fallback(struct route_op *op);
/* Drop a look-up in progress and the op's scratch memory (done is not called). */
void route_cancel(struct route_op *op);
/* Add a failure to op->causes (the reason of a final 503). */
void route_cause(struct route_op *op, const char *text);

/* Relay rules the caller applies before route_start. */
bool route_internal_allowed(const struct conf *cf, const char *const *names, size_t n,
    enum tp_kind kind, const struct sockaddr_storage *peer);
/* A federation type in words, for logs and the dry run: "allowed partner
 * domain fabrikam.test", "provider MSN for msn.test". */
const char *route_type_str(enum fed_type t, const char *domain, const char *provider, char *buf,
    size_t len);
/* host (an FQDN or an IP literal) names this edge. */
bool route_is_our_host(const struct conf *cf, const char *host);

/* Pop the Route entries that name this edge (RFC 3261 §16.4) and read the
 * tokens they carry into op (target, origin, have_origin, dialog); refuse a
 * token on a foreign host, and Route entries an outsider may not leave after
 * ours.  0, or ROUTE_REFUSE with op->prob set. */
int route_pop_own(struct route_op *op);

#endif
