/* sipmsg.h: Sofia-SIP message helpers for a proxy: request checks (RFC 3261 §16.3),
 * locally generated responses with diagnostics, Via received/rport (RFC 3581),
 * hop-by-hop ACK and CANCEL for a forwarded INVITE (§17.1.1.3, §9.1). */
#ifndef SIPEDGE_SIPMSG_H
#define SIPEDGE_SIPMSG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sofia-sip/msg.h>
#include <sofia-sip/sip.h>

#include "sipedge/diag.h"

/* The message class to parse with: Sofia-SIP's SIP class, accepting every
 * RFC 3261 token character in methods. */
msg_mclass_t const *sipmsg_mclass(void);

/* Why a request cannot be processed. */
struct sip_problem {
	int status;                 /* 0: fine; -1: no response possible (no Via): drop */
	enum diag_code diag;
	char detail[192];           /* what went wrong, for the Warning text and the log */
	char unsupported[128];      /* 420: the Unsupported header value */
};

/* Checks in RFC 3261 §16.3 order, except loop detection (the proxy does it).
 * 0, or -EINVAL with *out saying why. */
int sipmsg_check_request(msg_t *msg, sip_t *sip, struct sip_problem *out);
/* For a response received: 0 if usable (status line, Via, CSeq, Call-ID),
 * else -EINVAL. */
int sipmsg_check_response(msg_t *msg, sip_t *sip);

/* A diagnostic to attach to a response. */
struct sip_diag {
	enum diag_code code;
	const char *detail;         /* more specific text, or NULL for the table's */
	const char *source;         /* who says so: our FQDN */
};

/* The reason text of a diagnostic as the headers carry it: detail, else the
 * code's text, quotes, backslashes and control characters made '?'. */
const char *sipmsg_diag_text(enum diag_code code, const char *detail, char *buf, size_t len);

/* Build a response to the request whose headers are in req, with the Via list
 * starting at via (the request's own Vias, never ours).  to_tag is added when the
 * To has none and status > 100.  d may be NULL.  unsupported: for 420.
 * Returns a new message (owner: caller) or NULL. */
msg_t *sipmsg_response(const sip_t *req, const sip_via_t *via, int status,
    const char *phrase, const char *to_tag, const struct sip_diag *d,
    const char *unsupported);

/* Add received= (when the sent-by host is not the source address) and fill in
 * an empty rport (RFC 3581) on the top Via.  0, or -EINVAL (no Via, or src
 * not an IP address). */
int sipmsg_via_stamp(msg_t *msg, sip_t *sip, const struct sockaddr_storage *src);

/* Loop hash (RFC 3261 §16.6 item 8): Request-URI, From and To tags, Call-ID,
 * CSeq number. */
uint32_t sipmsg_loop_hash(const sip_t *sip);

/* INVITE, SUBSCRIBE, REFER outside a dialog. */
bool sipmsg_is_dialog_forming(const sip_t *sip);

/* ACK for a non-2xx final response to the INVITE fwd (our branch, our Via
 * only; RFC 3261 §17.1.1.3), and CANCEL of fwd (§9.1). */
msg_t *sipmsg_make_ack(const sip_t *fwd, const sip_t *response);
msg_t *sipmsg_make_cancel(const sip_t *fwd);

/* NUL octets in header fields (see framing.h).  The parser sees one of these
 * control octets in place of each NUL; a message whose flags say which is
 * written back with NULs.  The flags are Sofia user flags (bits 8-13, unused by
 * Sofia), so msg_dup() keeps them. */
#define SIPMSG_NUL_CANDIDATES 29
int sipmsg_nul_candidate(unsigned k);          /* k < SIPMSG_NUL_CANDIDATES */
void sipmsg_nul_mark(msg_t *msg, unsigned k);
/* The octet that stands for NUL in msg's header text, or -ENOENT (none). */
int sipmsg_nul_byte(const msg_t *msg);
/* A message made from src's headers (a response, an ACK) stands for NUL the same way. */
void sipmsg_nul_copy(msg_t *dst, const msg_t *src);
/* Turn the stand-in octet back into NUL in the header section of buf, the
 * serialised message (len octets). */
void sipmsg_nul_restore(const msg_t *msg, char *buf, size_t len);

/* Most Via header field values a request may carry (each hop adds one;
 * Max-Forwards starts at 70). */
#define SIPMSG_MAX_VIA 70

/* The edge's 200 to an OPTIONS for itself (Allow, Accept, Supported). */
#define SIPMSG_ALLOW "INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE, INFO, UPDATE, PRACK, " \
	"SUBSCRIBE, NOTIFY, REFER, BENOTIFY, SERVICE"
msg_t *sipmsg_options_response(msg_t *req, const sip_via_t *via, const char *to_tag);

/* Towards partners: each ms-diagnostics header becomes ms-diagnostics-public
 * without its source parameter (the pool's internal host names stay inside),
 * as the reference system does.  Returns how many were rewritten. */
int sipmsg_diag_public(msg_t *msg, sip_t *sip);

/* The URIs of a Route (or Record-Route) list from first up to stop (NULL:
 * the end), each followed by '\n', in order or reversed: what a peer copied
 * from a Record-Route must print the same (the scheme in lower case).  Length,
 * -ENOSPC if buf is short, -EINVAL if an entry holds a control character. */
int sipmsg_routes_text(const sip_route_t *first, const sip_route_t *stop, bool reverse,
    char *buf, size_t len);

/* Lower-cased host of a URL into buf (no trailing dot); NULL if none. */
const char *sipmsg_url_host(const url_t *url, char *buf, size_t len);
/* Short description for logs: "MESSAGE sip:bob@fabrikam.test (Call-ID abc)". */
const char *sipmsg_describe(const sip_t *sip, char *buf, size_t len);

#endif
