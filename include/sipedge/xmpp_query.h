/* xmpp_query.h: what an operator reads of the XMPP gateway (sipedgectl xmpp
 * streams): one row per server-to-server stream (RFC 6120 §4), with its
 * direction, domain pair, TLS (§5), authentication (SASL EXTERNAL §6 with
 * XEP-0178, or dialback XEP-0220) and traffic, in the manner of Prosody's
 * s2s:show(); and the gateway's counters (xmpp.h).
 *
 * Threading: xmpp_query_streams on the gateway's loop (worker 0's);
 * xmpp_gw_counters from any thread. */
#ifndef SIPEDGE_XMPP_QUERY_H
#define SIPEDGE_XMPP_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sipedge/conf.h"
#include "sipedge/xmpp.h"

/* One stream as it is now, copied (nothing points into the gateway). */
struct xmpp_stream_row {
	uint64_t id;                       /* the gateway's, in order of creation */
	bool outbound;                     /* we initiated it */
	bool verify_only;                  /* outbound, only to check dialback keys (XEP-0220 §2.2) */
	bool probe;                        /* outbound, made by sipedgectl xmpp probe */
	bool bidi;                         /* carries stanzas both ways (XEP-0288) */
	bool tls, direct_tls;              /* TLS up; from the first octet (XEP-0368) */
	const char *state;                 /* "resolving", "connecting", "negotiating", "ready",
	                                    * "closing" */
	const char *auth;                  /* xmpp_query_auth_name: "EXTERNAL", "dialback", "none" */
	char local[CONF_MAX_NAME], remote[CONF_MAX_NAME];  /* "" while unknown */
	char peer[64];                     /* "1.2.3.4:5269", or "" */
	char tls_version[16], tls_cipher[64];
	char cert_name[CONF_MAX_NAME];     /* the peer certificate's first name, or "" */
	char cert[256];                    /* "valid" for remote, why not, or "" (no TLS) */
	uint64_t age_ms, idle_ms;          /* idle: since the last stanza (or since ready) */
	uint64_t stanzas_in, stanzas_out, bytes_in, bytes_out;
	size_t queued;                     /* stanzas waiting for it to be ready */
	bool parser_asleep;                /* idle: its XML parser given back */
};

/* Copy every stream of gw that is not closed yet, in id order, into a
 * malloc'ed array (*out, *n rows; NULL and 0 without streams).  0 or
 * -ENOMEM. */
int xmpp_query_streams(const struct xmpp_gw *gw, struct xmpp_stream_row **out, size_t *n);

/* "EXTERNAL", "dialback", "none". */
const char *xmpp_query_auth_name(enum xmpp_auth a);

#endif
