/* xmpp_errmap.c: XMPP error conditions (RFC 6120 sections 4.9.3, 8.3.2,
 * 8.3.3) and their SIP mapping (RFC 7247 section 7; RFC 6120 section 10.4.3). */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <sofia-sip/sip_status.h>

#include "sipedge/xmpp_errmap.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *const errtype_names[] = {
	[XMPP_ERRTYPE_AUTH] = "auth",
	[XMPP_ERRTYPE_CANCEL] = "cancel",
	[XMPP_ERRTYPE_CONTINUE] = "continue",
	[XMPP_ERRTYPE_MODIFY] = "modify",
	[XMPP_ERRTYPE_WAIT] = "wait",
};

/* RFC 6120 section 8.3.3: each stanza error condition, the error type it
 * recommends, and (RFC 7247 section 7.1, Table 2) the SIP response for an
 * error about a bare JID and about a full JID.  Where Table 2 offers two codes
 * its notes decide: (1) 501 for a bare JID, 405 for a full one; (2) the 6xx
 * code for a bare JID, the 4xx code for a full one; (3) <gone/> is 301 with a
 * new address, else 410 (see xmpp_errmap_to_sip); (4) <remote-server-not-found/>
 * is 404 when the server does not exist, 408 when it could not be resolved.
 * Note (5) advises against 503 for <service-unavailable/> and names 403 and
 * 405 as closest; 403 is used, because a 405 must list the methods allowed
 * (RFC 3261 section 21.4.6), which the gateway cannot know for the remote
 * entity.  For <unexpected-request/> Table 2 gives "491 or 400" with no rule;
 * 491 is used: it says "not now" as the XMPP condition does. */
static const struct cond_row {
	const char *name;
	enum xmpp_errtype type;
	short bare, full;
} conds[] = {
	[XMPP_COND_BAD_REQUEST] = { "bad-request", XMPP_ERRTYPE_MODIFY, 400, 400 },
	[XMPP_COND_CONFLICT] = { "conflict", XMPP_ERRTYPE_CANCEL, 400, 400 },
	[XMPP_COND_FEATURE_NOT_IMPLEMENTED] = { "feature-not-implemented", XMPP_ERRTYPE_CANCEL, 501, 405 },
	[XMPP_COND_FORBIDDEN] = { "forbidden", XMPP_ERRTYPE_AUTH, 603, 403 },
	[XMPP_COND_GONE] = { "gone", XMPP_ERRTYPE_CANCEL, 410, 410 },
	[XMPP_COND_INTERNAL_SERVER_ERROR] = { "internal-server-error", XMPP_ERRTYPE_CANCEL, 500, 500 },
	[XMPP_COND_ITEM_NOT_FOUND] = { "item-not-found", XMPP_ERRTYPE_CANCEL, 604, 404 },
	[XMPP_COND_JID_MALFORMED] = { "jid-malformed", XMPP_ERRTYPE_MODIFY, 400, 400 },
	[XMPP_COND_NOT_ACCEPTABLE] = { "not-acceptable", XMPP_ERRTYPE_MODIFY, 606, 406 },
	[XMPP_COND_NOT_ALLOWED] = { "not-allowed", XMPP_ERRTYPE_CANCEL, 403, 403 },
	[XMPP_COND_NOT_AUTHORIZED] = { "not-authorized", XMPP_ERRTYPE_AUTH, 401, 401 },
	[XMPP_COND_POLICY_VIOLATION] = { "policy-violation", XMPP_ERRTYPE_MODIFY, 403, 403 },
	[XMPP_COND_RECIPIENT_UNAVAILABLE] = { "recipient-unavailable", XMPP_ERRTYPE_WAIT, 600, 480 },
	[XMPP_COND_REDIRECT] = { "redirect", XMPP_ERRTYPE_MODIFY, 302, 302 },
	[XMPP_COND_REGISTRATION_REQUIRED] = { "registration-required", XMPP_ERRTYPE_AUTH, 407, 407 },
	[XMPP_COND_REMOTE_SERVER_NOT_FOUND] = { "remote-server-not-found", XMPP_ERRTYPE_CANCEL, 404, 404 },
	[XMPP_COND_REMOTE_SERVER_TIMEOUT] = { "remote-server-timeout", XMPP_ERRTYPE_WAIT, 408, 408 },
	[XMPP_COND_RESOURCE_CONSTRAINT] = { "resource-constraint", XMPP_ERRTYPE_WAIT, 500, 500 },
	[XMPP_COND_SERVICE_UNAVAILABLE] = { "service-unavailable", XMPP_ERRTYPE_CANCEL, 403, 403 },
	[XMPP_COND_SUBSCRIPTION_REQUIRED] = { "subscription-required", XMPP_ERRTYPE_AUTH, 400, 400 },
	[XMPP_COND_UNDEFINED_CONDITION] = { "undefined-condition", XMPP_ERRTYPE_CANCEL, 400, 400 },
	[XMPP_COND_UNEXPECTED_REQUEST] = { "unexpected-request", XMPP_ERRTYPE_WAIT, 491, 491 },
};

/* RFC 7247 section 7.2, Table 3: SIP response code to stanza error condition,
 * every code the table lists.  301 and 410 both give <gone/>; note (1) says
 * which carries the new address. */
static const struct {
	short status;
	enum xmpp_cond cond;
} from_sip[] = {
	{ 300, XMPP_COND_REDIRECT },
	{ 301, XMPP_COND_GONE },
	{ 302, XMPP_COND_REDIRECT },
	{ 305, XMPP_COND_REDIRECT },
	{ 380, XMPP_COND_NOT_ACCEPTABLE },
	{ 400, XMPP_COND_BAD_REQUEST },
	{ 401, XMPP_COND_NOT_AUTHORIZED },
	{ 402, XMPP_COND_BAD_REQUEST },
	{ 403, XMPP_COND_FORBIDDEN },
	{ 404, XMPP_COND_ITEM_NOT_FOUND },
	{ 405, XMPP_COND_FEATURE_NOT_IMPLEMENTED },
	{ 406, XMPP_COND_NOT_ACCEPTABLE },
	{ 407, XMPP_COND_REGISTRATION_REQUIRED },
	{ 408, XMPP_COND_REMOTE_SERVER_TIMEOUT },
	{ 410, XMPP_COND_GONE },
	{ 413, XMPP_COND_POLICY_VIOLATION },
	{ 414, XMPP_COND_POLICY_VIOLATION },
	{ 415, XMPP_COND_NOT_ACCEPTABLE },
	{ 416, XMPP_COND_NOT_ACCEPTABLE },
	{ 420, XMPP_COND_FEATURE_NOT_IMPLEMENTED },
	{ 421, XMPP_COND_NOT_ACCEPTABLE },
	{ 423, XMPP_COND_RESOURCE_CONSTRAINT },
	{ 430, XMPP_COND_RECIPIENT_UNAVAILABLE },
	{ 439, XMPP_COND_FEATURE_NOT_IMPLEMENTED },
	{ 440, XMPP_COND_POLICY_VIOLATION },
	{ 480, XMPP_COND_RECIPIENT_UNAVAILABLE },
	{ 481, XMPP_COND_ITEM_NOT_FOUND },
	{ 482, XMPP_COND_NOT_ACCEPTABLE },
	{ 483, XMPP_COND_NOT_ACCEPTABLE },
	{ 484, XMPP_COND_ITEM_NOT_FOUND },
	{ 485, XMPP_COND_ITEM_NOT_FOUND },
	{ 486, XMPP_COND_RECIPIENT_UNAVAILABLE },
	{ 487, XMPP_COND_RECIPIENT_UNAVAILABLE },
	{ 488, XMPP_COND_NOT_ACCEPTABLE },
	{ 489, XMPP_COND_POLICY_VIOLATION },
	{ 491, XMPP_COND_UNEXPECTED_REQUEST },
	{ 493, XMPP_COND_BAD_REQUEST },
	{ 500, XMPP_COND_INTERNAL_SERVER_ERROR },
	{ 501, XMPP_COND_FEATURE_NOT_IMPLEMENTED },
	{ 502, XMPP_COND_REMOTE_SERVER_NOT_FOUND },
	{ 503, XMPP_COND_INTERNAL_SERVER_ERROR },
	{ 504, XMPP_COND_REMOTE_SERVER_TIMEOUT },
	{ 505, XMPP_COND_NOT_ACCEPTABLE },
	{ 513, XMPP_COND_POLICY_VIOLATION },
	{ 600, XMPP_COND_RECIPIENT_UNAVAILABLE },
	{ 603, XMPP_COND_RECIPIENT_UNAVAILABLE },
	{ 604, XMPP_COND_ITEM_NOT_FOUND },
	{ 606, XMPP_COND_NOT_ACCEPTABLE },
};

/* RFC 7247 section 7.2, before Table 3: the condition for an unlisted code of
 * each class, 3xx to 6xx. */
static const enum xmpp_cond class_fallback[] = {
	XMPP_COND_REDIRECT, XMPP_COND_BAD_REQUEST, XMPP_COND_INTERNAL_SERVER_ERROR,
	XMPP_COND_RECIPIENT_UNAVAILABLE,
};

/* RFC 6120 section 4.9.3: each stream error condition, and whether a stream
 * closed with it is a lasting refusal (the error says the peer will not serve
 * this domain pair, or the stream was broken in a way a new stream repeats)
 * rather than a passing state of the peer (shutdown, reset, overload,
 * redirection, an idle or replaced stream). */
static const bool lasting[XMPP_SERR_COUNT] = {
	[XMPP_SERR_BAD_FORMAT] = true,
	[XMPP_SERR_BAD_NAMESPACE_PREFIX] = true,
	[XMPP_SERR_CONFLICT] = false,
	[XMPP_SERR_CONNECTION_TIMEOUT] = false,
	[XMPP_SERR_HOST_GONE] = true,
	[XMPP_SERR_HOST_UNKNOWN] = true,
	[XMPP_SERR_IMPROPER_ADDRESSING] = true,
	[XMPP_SERR_INTERNAL_SERVER_ERROR] = false,
	[XMPP_SERR_INVALID_FROM] = true,
	[XMPP_SERR_INVALID_NAMESPACE] = true,
	[XMPP_SERR_INVALID_XML] = true,
	[XMPP_SERR_NOT_AUTHORIZED] = true,
	[XMPP_SERR_NOT_WELL_FORMED] = true,
	[XMPP_SERR_POLICY_VIOLATION] = true,
	[XMPP_SERR_REMOTE_CONNECTION_FAILED] = false,
	[XMPP_SERR_RESET] = false,
	[XMPP_SERR_RESOURCE_CONSTRAINT] = false,
	[XMPP_SERR_RESTRICTED_XML] = true,
	[XMPP_SERR_SEE_OTHER_HOST] = false,
	[XMPP_SERR_SYSTEM_SHUTDOWN] = false,
	[XMPP_SERR_UNDEFINED_CONDITION] = false,
	[XMPP_SERR_UNSUPPORTED_ENCODING] = true,
	[XMPP_SERR_UNSUPPORTED_FEATURE] = true,
	[XMPP_SERR_UNSUPPORTED_STANZA_TYPE] = true,
	[XMPP_SERR_UNSUPPORTED_VERSION] = true,
};

_Static_assert(NELEM(conds) == XMPP_COND_COUNT, "one row per stanza condition");

const char *
xmpp_cond_name(enum xmpp_cond c)
{
	return (unsigned)c < XMPP_COND_COUNT ? conds[c].name : NULL;
}

const char *
xmpp_errtype_name(enum xmpp_errtype t)
{
	return (unsigned)t < NELEM(errtype_names) ? errtype_names[t] : NULL;
}

int
xmpp_cond_from_name(const char *name, enum xmpp_cond *out)
{
	for (unsigned i = 0; name && i < XMPP_COND_COUNT; i++)
		if (strcmp(name, conds[i].name) == 0) {
			*out = (enum xmpp_cond)i;
			return 0;
		}
	*out = XMPP_COND_UNDEFINED_CONDITION;
	return -ENOENT;
}

int
xmpp_errtype_from_name(const char *name, enum xmpp_errtype *out)
{
	for (unsigned i = 0; name && i < NELEM(errtype_names); i++)
		if (strcmp(name, errtype_names[i]) == 0) {
			*out = (enum xmpp_errtype)i;
			return 0;
		}
	return -ENOENT;
}

enum xmpp_errtype
xmpp_cond_type(enum xmpp_cond c)
{
	return (unsigned)c < XMPP_COND_COUNT ? conds[c].type : XMPP_ERRTYPE_CANCEL;
}

static struct xmpp_sip_status
to_status(int status)
{
	struct xmpp_sip_status s = { status, sip_status_phrase(status) };

	/* Every code the tables produce is one of RFC 3261's, which Sofia names;
	 * this only guards against a library without one of them. */
	if (s.phrase == NULL)
		s.phrase = "Unknown";
	return s;
}

struct xmpp_sip_status
xmpp_errmap_to_sip(enum xmpp_cond c, unsigned flags)
{
	const struct cond_row *r;

	if ((unsigned)c >= XMPP_COND_COUNT)
		c = XMPP_COND_UNDEFINED_CONDITION;
	r = &conds[c];
	if (c == XMPP_COND_GONE && (flags & XMPP_ERRMAP_NEW_ADDRESS))
		return to_status(301);
	if (c == XMPP_COND_REMOTE_SERVER_NOT_FOUND && (flags & XMPP_ERRMAP_UNRESOLVED))
		return to_status(408);
	return to_status((flags & XMPP_ERRMAP_FULL_JID) ? r->full : r->bare);
}

int
xmpp_errmap_from_sip(int status, struct xmpp_stanza_err *out)
{
	enum xmpp_cond c;

	if (status < 300 || status > 699)
		return -EINVAL;
	c = class_fallback[status / 100 - 3];
	for (size_t i = 0; i < NELEM(from_sip); i++)
		if (from_sip[i].status == status) {
			c = from_sip[i].cond;
			break;
		}
	out->cond = c;
	out->type = xmpp_cond_type(c);
	if (status == 301)
		out->addr = XMPP_ADDR_MUST;
	else if (c == XMPP_COND_REDIRECT)
		out->addr = XMPP_ADDR_SHOULD;
	else
		out->addr = XMPP_ADDR_NONE;
	return 0;
}

struct xmpp_stanza_err
xmpp_errmap_s2s(enum xmpp_s2s_fail f, enum xmpp_serr stream)
{
	struct xmpp_stanza_err e = { XMPP_COND_REMOTE_SERVER_TIMEOUT, XMPP_ERRTYPE_WAIT, XMPP_ADDR_NONE };

	switch (f) {
	case XMPP_S2S_NO_DOMAIN:
	case XMPP_S2S_UNRESOLVED:
		/* 10.4.3: "If resolution of the remote domain is unsuccessful". */
		e.cond = XMPP_COND_REMOTE_SERVER_NOT_FOUND;
		e.type = xmpp_cond_type(e.cond);
		break;
	case XMPP_S2S_UNREACHABLE:
	case XMPP_S2S_TIMEOUT:
		/* 10.4.3: "If resolution succeeds but streams cannot be
		 * negotiated" (8.3.3.17 names an unreachable address too). */
		break;
	case XMPP_S2S_REFUSED:
		/* 8.3.3.17: the remote server "cannot be authenticated or it
		 * violates security policies" is the permanent case. */
		e.type = XMPP_ERRTYPE_CANCEL;
		break;
	case XMPP_S2S_STREAM_ERROR:
		if ((unsigned)stream < XMPP_SERR_COUNT && lasting[stream])
			e.type = XMPP_ERRTYPE_CANCEL;
		break;
	}
	return e;
}

struct xmpp_sip_status
xmpp_errmap_s2s_sip(enum xmpp_s2s_fail f, enum xmpp_serr stream)
{
	/* RFC 7247 Table 2 note (4): 404 covers a remote server that does not
	 * exist, 408 one that cannot be resolved. */
	return xmpp_errmap_to_sip(xmpp_errmap_s2s(f, stream).cond,
	    f == XMPP_S2S_UNRESOLVED ? XMPP_ERRMAP_UNRESOLVED : 0);
}
