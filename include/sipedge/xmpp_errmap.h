/* xmpp_errmap.h: XMPP stanza and stream error conditions (RFC 6120 sections
 * 8.3 and 4.9.3), their mapping to and from SIP response codes (RFC 7247
 * section 7), and what a stanza that could not be routed to the remote server
 * becomes on both sides (RFC 6120 section 10.4.3 with RFC 7247 Table 2). */
#ifndef SIPEDGE_XMPP_ERRMAP_H
#define SIPEDGE_XMPP_ERRMAP_H

#include <stdbool.h>

#include "sipedge/xmpp_xml.h"

/* The error types of RFC 6120 section 8.3.2. */
enum xmpp_errtype {
	XMPP_ERRTYPE_AUTH,
	XMPP_ERRTYPE_CANCEL,
	XMPP_ERRTYPE_CONTINUE,
	XMPP_ERRTYPE_MODIFY,
	XMPP_ERRTYPE_WAIT,
};

/* The 22 stanza error conditions of RFC 6120 section 8.3.3, in its order. */
enum xmpp_cond {
	XMPP_COND_BAD_REQUEST,
	XMPP_COND_CONFLICT,
	XMPP_COND_FEATURE_NOT_IMPLEMENTED,
	XMPP_COND_FORBIDDEN,
	XMPP_COND_GONE,
	XMPP_COND_INTERNAL_SERVER_ERROR,
	XMPP_COND_ITEM_NOT_FOUND,
	XMPP_COND_JID_MALFORMED,
	XMPP_COND_NOT_ACCEPTABLE,
	XMPP_COND_NOT_ALLOWED,
	XMPP_COND_NOT_AUTHORIZED,
	XMPP_COND_POLICY_VIOLATION,
	XMPP_COND_RECIPIENT_UNAVAILABLE,
	XMPP_COND_REDIRECT,
	XMPP_COND_REGISTRATION_REQUIRED,
	XMPP_COND_REMOTE_SERVER_NOT_FOUND,
	XMPP_COND_REMOTE_SERVER_TIMEOUT,
	XMPP_COND_RESOURCE_CONSTRAINT,
	XMPP_COND_SERVICE_UNAVAILABLE,
	XMPP_COND_SUBSCRIPTION_REQUIRED,
	XMPP_COND_UNDEFINED_CONDITION,
	XMPP_COND_UNEXPECTED_REQUEST,
	XMPP_COND_COUNT
};


/* Wire names ("bad-request", "cancel", "host-unknown"); NULL when out of range. */
const char *xmpp_cond_name(enum xmpp_cond c);
const char *xmpp_errtype_name(enum xmpp_errtype t);

/* The condition named name.  An unknown name gives -ENOENT and, as RFC 6120
 * sections 8.3.2 and 4.9.2 require of a receiver, *out = the undefined
 * condition. */
int xmpp_cond_from_name(const char *name, enum xmpp_cond *out);
/* The error type named name, or -ENOENT (*out untouched). */
int xmpp_errtype_from_name(const char *name, enum xmpp_errtype *out);

/* The error type RFC 6120 section 8.3.3 recommends for c (where it allows
 * two, the first it names; for undefined-condition, which takes any,
 * "cancel"). */
enum xmpp_errtype xmpp_cond_type(enum xmpp_cond c);

/* A SIP final response: status and the reason phrase to send with it. */
struct xmpp_sip_status {
	int status;
	const char *phrase;
};

/* What the stanza error relates to, for the choices RFC 7247 Table 2 leaves to
 * the gateway. */
#define XMPP_ERRMAP_FULL_JID    0x1 /* the failed stanza was addressed to a full JID */
#define XMPP_ERRMAP_NEW_ADDRESS 0x2 /* <gone/> carries the new address */
#define XMPP_ERRMAP_UNRESOLVED  0x4 /* <remote-server-not-found/>: could not be resolved */

/* XMPP stanza error to SIP response (RFC 7247 section 7.1, Table 2). */
struct xmpp_sip_status xmpp_errmap_to_sip(enum xmpp_cond c, unsigned flags);

/* Whether the XMPP error the gateway generates carries an address. */
enum xmpp_errmap_addr {
	XMPP_ADDR_NONE,         /* <gone/> for 410: MUST NOT carry one */
	XMPP_ADDR_SHOULD,       /* <redirect/>: SHOULD (RFC 6120 8.3.3.14) */
	XMPP_ADDR_MUST,         /* <gone/> for 301: MUST (RFC 7247 7.2 note 1) */
};

struct xmpp_stanza_err {
	enum xmpp_cond cond;
	enum xmpp_errtype type;
	enum xmpp_errmap_addr addr;
};

/* SIP response to XMPP stanza error (RFC 7247 section 7.2, Table 3, with its
 * class fallbacks for unlisted codes).  Returns 0, or -EINVAL for a status
 * outside 300-699 (provisional and success responses have no XMPP error). */
int xmpp_errmap_from_sip(int status, struct xmpp_stanza_err *out);

/* Why a stanza could not be routed to the remote server. */
enum xmpp_s2s_fail {
	XMPP_S2S_NO_DOMAIN,     /* DNS: the domain does not exist (no SRV, no address) */
	XMPP_S2S_UNRESOLVED,    /* DNS: the look-up failed (time-out, server failure) */
	XMPP_S2S_UNREACHABLE,   /* resolved, but no connection to any address */
	XMPP_S2S_TIMEOUT,       /* the stream was not ready in time */
	XMPP_S2S_REFUSED,       /* TLS, certificate, SASL or dialback refused, by either side */
	XMPP_S2S_STREAM_ERROR,  /* the peer closed the stream with a stream error */
};

/* The stanza error (and from it, the SIP response) for a stanza that could not
 * be routed: RFC 6120 section 10.4.3 makes a failed resolution
 * <remote-server-not-found/> and a failed stream negotiation
 * <remote-server-timeout/>; the type is "wait" unless the failure is of a more
 * permanent nature (8.3.3.17: authentication, security policy), then "cancel".
 * stream is read only for XMPP_S2S_STREAM_ERROR. */
struct xmpp_stanza_err xmpp_errmap_s2s(enum xmpp_s2s_fail f, enum xmpp_serr stream);

/* The SIP response for the same failure (RFC 7247 Table 2 and its note 4). */
struct xmpp_sip_status xmpp_errmap_s2s_sip(enum xmpp_s2s_fail f, enum xmpp_serr stream);

#endif
