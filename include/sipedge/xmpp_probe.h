/* xmpp_probe.h: the XMPP federation probe (sipedgectl xmpp probe): a real
 * outbound server-to-server stream to a partner, made by the gateway's own
 * code (xmpp_out.c) as for a stanza, that reports each step: the partner
 * policy's verdict, the `_xmpp-server._tcp` look-up (RFC 6120 §3.2), each
 * TCP connection, STARTTLS (§5), the partner certificate's names against
 * its XMPP domain (XEP-0178, RFC 6120 §13.7.1.2), the authentication that
 * worked (SASL EXTERNAL §6, or dialback XEP-0220), then an XMPP ping
 * (XEP-0199) from one of our domains to the partner's, whose answer must
 * come back over a stream the partner opens to us; and for a failure, the
 * step and a reason an administrator can act on.
 *
 * Threading: on the gateway's loop (worker 0's). */
#ifndef SIPEDGE_XMPP_PROBE_H
#define SIPEDGE_XMPP_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sipedge/conf.h"
#include "sipedge/diag.h"
#include "sipedge/xmpp.h"

/* The steps, in the order they happen. */
enum xmpp_probe_step_id {
	XMPP_PROBE_POLICY,                 /* the partner's row (or the refusal) */
	XMPP_PROBE_DNS,                    /* SRV targets, or the domain itself, or the proxy FQDN */
	XMPP_PROBE_CONNECT,                /* TCP to an address of a target */
	XMPP_PROBE_STREAM,                 /* the stream headers, before TLS (failures only) */
	XMPP_PROBE_TLS,                    /* STARTTLS and the handshake */
	XMPP_PROBE_CERTIFICATE,            /* the partner's names against its domain */
	XMPP_PROBE_AUTH,                   /* SASL EXTERNAL or dialback */
	XMPP_PROBE_PING,                   /* XEP-0199 there and back */
};
#define XMPP_PROBE_STEPS 8

struct xmpp_probe_step {
	enum xmpp_probe_step_id id;
	bool ok;
	bool has_ms;
	uint64_t ms;                       /* how long the step took, when has_ms */
	char text[640];                    /* what happened, or why it failed */
};

#define XMPP_PROBE_TARGETS 8

struct xmpp_probe_result {
	char local[CONF_MAX_NAME], remote[CONF_MAX_NAME];
	bool ok;                           /* every step passed: the ping came back */
	struct xmpp_probe_step steps[XMPP_PROBE_STEPS];
	size_t nsteps;                     /* the last one failed unless ok */
	/* What the steps found, for scripts (empty when not reached). */
	char targets[XMPP_PROBE_TARGETS][CONF_MAX_NAME + 8];  /* "host:port", in RFC 2782 order */
	size_t ntargets;
	char address[64];                  /* the address connected to */
	char tls_version[16], tls_cipher[64];
	char cert_names[512];              /* the partner certificate's names, space-separated */
	bool names_match;                  /* they name the partner's domain */
	const char *auth;                  /* "EXTERNAL", "dialback", "none" */
	bool answered;                     /* the ping's answer came back */
	uint64_t rtt_ms;                   /* the ping's round trip */
	char answer[256];                  /* "result", or "error: CONDITION[: text]" */
	enum diag_code diag;               /* a failure's diagnostic code (sipedge-diagnostics(7)) */
	char reason[640];                  /* and its reason */
	uint64_t total_ms;
};

/* "policy", "dns", "connect", "stream", "tls", "certificate", "auth", "ping". */
const char *xmpp_probe_step_name(enum xmpp_probe_step_id id);

typedef void (*xmpp_probe_cb)(const struct xmpp_probe_result *res, void *arg);
/* Probe remote (a domain, normal form) from local (one of our domains),
 * waiting ping_timeout_s for the ping's answer; the establishment of the
 * stream has the gateway's stream-establishment-timeout.  0: cb once, with
 * the result, maybe before this returns (a refusal by the policy); else
 * -EINVAL (local is not ours), -ENAMETOOLONG, -ECANCELED (the gateway is
 * closing) or -ENOMEM, and no callback. */
int xmpp_probe_start(struct xmpp_gw *gw, const char *local, const char *remote,
    unsigned ping_timeout_s, xmpp_probe_cb cb, void *arg);

#endif
