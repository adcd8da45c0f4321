/* test_xmpp_errmap.c: unit tests for xmpp_errmap.c: RFC 6120 section 8.3.3
 * conditions and types, RFC 7247 Tables 2 and 3 row by row (the expected
 * values are written out here from the RFC text, not taken from the module),
 * the class fallbacks of section 7.2, and the s2s failures of RFC 6120
 * section 10.4.3. */
#include <errno.h>
#include <string.h>

#include "sipedge/xmpp_errmap.h"
#include "unit.h"

/* ------------------------------------------------ XMPP to SIP, Table 2 */

/* One row: condition, its wire name, the RFC 6120 error type, the SIP code
 * for an error about a bare JID and about a full JID, and their phrases. */
#define TO_SIP_ROWS(X) \
	X(bad_request, XMPP_COND_BAD_REQUEST, "bad-request", "modify", 400, "Bad Request", 400, "Bad Request") \
	X(conflict, XMPP_COND_CONFLICT, "conflict", "cancel", 400, "Bad Request", 400, "Bad Request") \
	X(feature_not_implemented, XMPP_COND_FEATURE_NOT_IMPLEMENTED, "feature-not-implemented", "cancel", \
	    501, "Not Implemented", 405, "Method Not Allowed") \
	X(forbidden, XMPP_COND_FORBIDDEN, "forbidden", "auth", 603, "Decline", 403, "Forbidden") \
	X(gone, XMPP_COND_GONE, "gone", "cancel", 410, "Gone", 410, "Gone") \
	X(internal_server_error, XMPP_COND_INTERNAL_SERVER_ERROR, "internal-server-error", "cancel", \
	    500, "Internal Server Error", 500, "Internal Server Error") \
	X(item_not_found, XMPP_COND_ITEM_NOT_FOUND, "item-not-found", "cancel", \
	    604, "Does Not Exist Anywhere", 404, "Not Found") \
	X(jid_malformed, XMPP_COND_JID_MALFORMED, "jid-malformed", "modify", 400, "Bad Request", 400, "Bad Request") \
	X(not_acceptable, XMPP_COND_NOT_ACCEPTABLE, "not-acceptable", "modify", \
	    606, "Not Acceptable", 406, "Not Acceptable") \
	X(not_allowed, XMPP_COND_NOT_ALLOWED, "not-allowed", "cancel", 403, "Forbidden", 403, "Forbidden") \
	X(not_authorized, XMPP_COND_NOT_AUTHORIZED, "not-authorized", "auth", 401, "Unauthorized", 401, "Unauthorized") \
	X(policy_violation, XMPP_COND_POLICY_VIOLATION, "policy-violation", "modify", 403, "Forbidden", 403, "Forbidden") \
	X(recipient_unavailable, XMPP_COND_RECIPIENT_UNAVAILABLE, "recipient-unavailable", "wait", \
	    600, "Busy Everywhere", 480, "Temporarily Unavailable") \
	X(redirect, XMPP_COND_REDIRECT, "redirect", "modify", 302, "Moved Temporarily", 302, "Moved Temporarily") \
	X(registration_required, XMPP_COND_REGISTRATION_REQUIRED, "registration-required", "auth", \
	    407, "Proxy Authentication Required", 407, "Proxy Authentication Required") \
	X(remote_server_not_found, XMPP_COND_REMOTE_SERVER_NOT_FOUND, "remote-server-not-found", "cancel", \
	    404, "Not Found", 404, "Not Found") \
	X(remote_server_timeout, XMPP_COND_REMOTE_SERVER_TIMEOUT, "remote-server-timeout", "wait", \
	    408, "Request Timeout", 408, "Request Timeout") \
	X(resource_constraint, XMPP_COND_RESOURCE_CONSTRAINT, "resource-constraint", "wait", \
	    500, "Internal Server Error", 500, "Internal Server Error") \
	X(service_unavailable, XMPP_COND_SERVICE_UNAVAILABLE, "service-unavailable", "cancel", \
	    403, "Forbidden", 403, "Forbidden") \
	X(subscription_required, XMPP_COND_SUBSCRIPTION_REQUIRED, "subscription-required", "auth", \
	    400, "Bad Request", 400, "Bad Request") \
	X(undefined_condition, XMPP_COND_UNDEFINED_CONDITION, "undefined-condition", "cancel", \
	    400, "Bad Request", 400, "Bad Request") \
	X(unexpected_request, XMPP_COND_UNEXPECTED_REQUEST, "unexpected-request", "wait", \
	    491, "Request Pending", 491, "Request Pending")

#define TO_SIP_TEST(id, cond, name, type, bare, bare_phrase, full, full_phrase) \
	static int test_xmpp_errmap_to_sip_##id(void)                          \
	{                                                                      \
		struct xmpp_sip_status s;                                      \
		enum xmpp_cond c;                                              \
		enum xmpp_errtype t;                                           \
                                                                               \
		CHECK_EQ_STR(xmpp_cond_name(cond), name);                      \
		CHECK_EQ_INT(xmpp_cond_from_name(name, &c), 0);                \
		CHECK_EQ_INT(c, cond);                                         \
		CHECK_EQ_STR(xmpp_errtype_name(xmpp_cond_type(cond)), type);   \
		CHECK_EQ_INT(xmpp_errtype_from_name(type, &t), 0);             \
		CHECK_EQ_INT(t, xmpp_cond_type(cond));                         \
		s = xmpp_errmap_to_sip(cond, 0);                               \
		CHECK_EQ_INT(s.status, bare);                                  \
		CHECK_EQ_STR(s.phrase, bare_phrase);                           \
		s = xmpp_errmap_to_sip(cond, XMPP_ERRMAP_FULL_JID);            \
		CHECK_EQ_INT(s.status, full);                                  \
		CHECK_EQ_STR(s.phrase, full_phrase);                           \
		return 0;                                                      \
	}
TO_SIP_ROWS(TO_SIP_TEST)

/* Table 2 note (3): <gone/> with the new address is 301, bare or full. */
static int
test_xmpp_errmap_to_sip_gone_new_address(void)
{
	struct xmpp_sip_status s = xmpp_errmap_to_sip(XMPP_COND_GONE, XMPP_ERRMAP_NEW_ADDRESS);

	CHECK_EQ_INT(s.status, 301);
	CHECK_EQ_STR(s.phrase, "Moved Permanently");
	s = xmpp_errmap_to_sip(XMPP_COND_GONE, XMPP_ERRMAP_NEW_ADDRESS | XMPP_ERRMAP_FULL_JID);
	CHECK_EQ_INT(s.status, 301);
	/* The flag means nothing to other conditions. */
	CHECK_EQ_INT(xmpp_errmap_to_sip(XMPP_COND_REDIRECT, XMPP_ERRMAP_NEW_ADDRESS).status, 302);
	return 0;
}

/* Table 2 note (4): a remote server that could not be resolved is 408. */
static int
test_xmpp_errmap_to_sip_not_found_unresolved(void)
{
	struct xmpp_sip_status s = xmpp_errmap_to_sip(XMPP_COND_REMOTE_SERVER_NOT_FOUND,
	    XMPP_ERRMAP_UNRESOLVED);

	CHECK_EQ_INT(s.status, 408);
	CHECK_EQ_STR(s.phrase, "Request Timeout");
	CHECK_EQ_INT(xmpp_errmap_to_sip(XMPP_COND_ITEM_NOT_FOUND, XMPP_ERRMAP_UNRESOLVED).status, 604);
	return 0;
}

/* Note (5): <service-unavailable/> is never 503, bare or full. */
static int
test_xmpp_errmap_to_sip_never_503(void)
{
	for (unsigned c = 0; c < XMPP_COND_COUNT; c++) {
		CHECK(xmpp_errmap_to_sip((enum xmpp_cond)c, 0).status != 503);
		CHECK(xmpp_errmap_to_sip((enum xmpp_cond)c, XMPP_ERRMAP_FULL_JID).status != 503);
	}
	return 0;
}

/* RFC 6120 8.3.2: an unknown condition is treated as undefined-condition. */
static int
test_xmpp_errmap_unknown_names(void)
{
	enum xmpp_cond c = XMPP_COND_GONE;
	enum xmpp_errtype t = XMPP_ERRTYPE_WAIT;

	CHECK_EQ_INT(xmpp_cond_from_name("payment-required", &c), -ENOENT);
	CHECK_EQ_INT(c, XMPP_COND_UNDEFINED_CONDITION);
	CHECK_EQ_INT(xmpp_cond_from_name("Bad-Request", &c), -ENOENT);
	CHECK_EQ_INT(xmpp_cond_from_name(NULL, &c), -ENOENT);
	CHECK_EQ_INT(xmpp_serr_from_name("see-other-hosts"), XMPP_SERR_NONE);
	CHECK_EQ_INT(xmpp_errtype_from_name("retry", &t), -ENOENT);
	CHECK_EQ_INT(t, XMPP_ERRTYPE_WAIT);
	CHECK_EQ_INT(xmpp_errtype_from_name("continue", &t), 0);
	CHECK_EQ_INT(t, XMPP_ERRTYPE_CONTINUE);
	CHECK(xmpp_cond_name(XMPP_COND_COUNT) == NULL);
	CHECK_EQ_STR(xmpp_serr_name(XMPP_SERR_COUNT), "");
	CHECK(xmpp_errtype_name((enum xmpp_errtype)5) == NULL);
	/* An out-of-range condition maps as undefined-condition does. */
	CHECK_EQ_INT(xmpp_errmap_to_sip(XMPP_COND_COUNT, 0).status, 400);
	return 0;
}

/* ------------------------------------------------ SIP to XMPP, Table 3 */

#define FROM_SIP_ROWS(X) \
	X(300, XMPP_COND_REDIRECT, "modify", XMPP_ADDR_SHOULD) \
	X(301, XMPP_COND_GONE, "cancel", XMPP_ADDR_MUST) \
	X(302, XMPP_COND_REDIRECT, "modify", XMPP_ADDR_SHOULD) \
	X(305, XMPP_COND_REDIRECT, "modify", XMPP_ADDR_SHOULD) \
	X(380, XMPP_COND_NOT_ACCEPTABLE, "modify", XMPP_ADDR_NONE) \
	X(400, XMPP_COND_BAD_REQUEST, "modify", XMPP_ADDR_NONE) \
	X(401, XMPP_COND_NOT_AUTHORIZED, "auth", XMPP_ADDR_NONE) \
	X(402, XMPP_COND_BAD_REQUEST, "modify", XMPP_ADDR_NONE) \
	X(403, XMPP_COND_FORBIDDEN, "auth", XMPP_ADDR_NONE) \
	X(404, XMPP_COND_ITEM_NOT_FOUND, "cancel", XMPP_ADDR_NONE) \
	X(405, XMPP_COND_FEATURE_NOT_IMPLEMENTED, "cancel", XMPP_ADDR_NONE) \
	X(406, XMPP_COND_NOT_ACCEPTABLE, "modify", XMPP_ADDR_NONE) \
	X(407, XMPP_COND_REGISTRATION_REQUIRED, "auth", XMPP_ADDR_NONE) \
	X(408, XMPP_COND_REMOTE_SERVER_TIMEOUT, "wait", XMPP_ADDR_NONE) \
	X(410, XMPP_COND_GONE, "cancel", XMPP_ADDR_NONE) \
	X(413, XMPP_COND_POLICY_VIOLATION, "modify", XMPP_ADDR_NONE) \
	X(414, XMPP_COND_POLICY_VIOLATION, "modify", XMPP_ADDR_NONE) \
	X(415, XMPP_COND_NOT_ACCEPTABLE, "modify", XMPP_ADDR_NONE) \
	X(416, XMPP_COND_NOT_ACCEPTABLE, "modify", XMPP_ADDR_NONE) \
	X(420, XMPP_COND_FEATURE_NOT_IMPLEMENTED, "cancel", XMPP_ADDR_NONE) \
	X(421, XMPP_COND_NOT_ACCEPTABLE, "modify", XMPP_ADDR_NONE) \
	X(423, XMPP_COND_RESOURCE_CONSTRAINT, "wait", XMPP_ADDR_NONE) \
	X(430, XMPP_COND_RECIPIENT_UNAVAILABLE, "wait", XMPP_ADDR_NONE) \
	X(439, XMPP_COND_FEATURE_NOT_IMPLEMENTED, "cancel", XMPP_ADDR_NONE) \
	X(440, XMPP_COND_POLICY_VIOLATION, "modify", XMPP_ADDR_NONE) \
	X(480, XMPP_COND_RECIPIENT_UNAVAILABLE, "wait", XMPP_ADDR_NONE) \
	X(481, XMPP_COND_ITEM_NOT_FOUND, "cancel", XMPP_ADDR_NONE) \
	X(482, XMPP_COND_NOT_ACCEPTABLE, "modify", XMPP_ADDR_NONE) \
	X(483, XMPP_COND_NOT_ACCEPTABLE, "modify", XMPP_ADDR_NONE) \
	X(484, XMPP_COND_ITEM_NOT_FOUND, "cancel", XMPP_ADDR_NONE) \
	X(485, XMPP_COND_ITEM_NOT_FOUND, "cancel", XMPP_ADDR_NONE) \
	X(486, XMPP_COND_RECIPIENT_UNAVAILABLE, "wait", XMPP_ADDR_NONE) \
	X(487, XMPP_COND_RECIPIENT_UNAVAILABLE, "wait", XMPP_ADDR_NONE) \
	X(488, XMPP_COND_NOT_ACCEPTABLE, "modify", XMPP_ADDR_NONE) \
	X(489, XMPP_COND_POLICY_VIOLATION, "modify", XMPP_ADDR_NONE) \
	X(491, XMPP_COND_UNEXPECTED_REQUEST, "wait", XMPP_ADDR_NONE) \
	X(493, XMPP_COND_BAD_REQUEST, "modify", XMPP_ADDR_NONE) \
	X(500, XMPP_COND_INTERNAL_SERVER_ERROR, "cancel", XMPP_ADDR_NONE) \
	X(501, XMPP_COND_FEATURE_NOT_IMPLEMENTED, "cancel", XMPP_ADDR_NONE) \
	X(502, XMPP_COND_REMOTE_SERVER_NOT_FOUND, "cancel", XMPP_ADDR_NONE) \
	X(503, XMPP_COND_INTERNAL_SERVER_ERROR, "cancel", XMPP_ADDR_NONE) \
	X(504, XMPP_COND_REMOTE_SERVER_TIMEOUT, "wait", XMPP_ADDR_NONE) \
	X(505, XMPP_COND_NOT_ACCEPTABLE, "modify", XMPP_ADDR_NONE) \
	X(513, XMPP_COND_POLICY_VIOLATION, "modify", XMPP_ADDR_NONE) \
	X(600, XMPP_COND_RECIPIENT_UNAVAILABLE, "wait", XMPP_ADDR_NONE) \
	X(603, XMPP_COND_RECIPIENT_UNAVAILABLE, "wait", XMPP_ADDR_NONE) \
	X(604, XMPP_COND_ITEM_NOT_FOUND, "cancel", XMPP_ADDR_NONE) \
	X(606, XMPP_COND_NOT_ACCEPTABLE, "modify", XMPP_ADDR_NONE)

static int
expect_from_sip(int status, enum xmpp_cond cond, const char *type, enum xmpp_errmap_addr addr)
{
	struct xmpp_stanza_err e;

	CHECK_EQ_INT(xmpp_errmap_from_sip(status, &e), 0);
	CHECK_EQ_STR(xmpp_cond_name(e.cond), xmpp_cond_name(cond));
	CHECK_EQ_STR(xmpp_errtype_name(e.type), type);
	CHECK_EQ_INT(e.addr, addr);
	return 0;
}

#define FROM_SIP_TEST(status, cond, type, addr)                                \
	static int test_xmpp_errmap_from_sip_##status(void)                    \
	{                                                                      \
		return expect_from_sip(status, cond, type, addr);              \
	}
FROM_SIP_ROWS(FROM_SIP_TEST)

/* Section 7.2: an unlisted code maps by its class. */
static int
test_xmpp_errmap_from_sip_3xx_fallback(void)
{
	CHECK(expect_from_sip(303, XMPP_COND_REDIRECT, "modify", XMPP_ADDR_SHOULD) == 0);
	CHECK(expect_from_sip(399, XMPP_COND_REDIRECT, "modify", XMPP_ADDR_SHOULD) == 0);
	return 0;
}

static int
test_xmpp_errmap_from_sip_4xx_fallback(void)
{
	CHECK(expect_from_sip(409, XMPP_COND_BAD_REQUEST, "modify", XMPP_ADDR_NONE) == 0);
	CHECK(expect_from_sip(412, XMPP_COND_BAD_REQUEST, "modify", XMPP_ADDR_NONE) == 0);
	CHECK(expect_from_sip(429, XMPP_COND_BAD_REQUEST, "modify", XMPP_ADDR_NONE) == 0);
	CHECK(expect_from_sip(494, XMPP_COND_BAD_REQUEST, "modify", XMPP_ADDR_NONE) == 0);
	CHECK(expect_from_sip(499, XMPP_COND_BAD_REQUEST, "modify", XMPP_ADDR_NONE) == 0);
	return 0;
}

static int
test_xmpp_errmap_from_sip_5xx_fallback(void)
{
	CHECK(expect_from_sip(555, XMPP_COND_INTERNAL_SERVER_ERROR, "cancel", XMPP_ADDR_NONE) == 0);
	CHECK(expect_from_sip(580, XMPP_COND_INTERNAL_SERVER_ERROR, "cancel", XMPP_ADDR_NONE) == 0);
	CHECK(expect_from_sip(599, XMPP_COND_INTERNAL_SERVER_ERROR, "cancel", XMPP_ADDR_NONE) == 0);
	return 0;
}

static int
test_xmpp_errmap_from_sip_6xx_fallback(void)
{
	CHECK(expect_from_sip(607, XMPP_COND_RECIPIENT_UNAVAILABLE, "wait", XMPP_ADDR_NONE) == 0);
	CHECK(expect_from_sip(608, XMPP_COND_RECIPIENT_UNAVAILABLE, "wait", XMPP_ADDR_NONE) == 0);
	CHECK(expect_from_sip(699, XMPP_COND_RECIPIENT_UNAVAILABLE, "wait", XMPP_ADDR_NONE) == 0);
	return 0;
}

/* Section 7: no XMPP error for 1xx and 2xx, nor for what is no SIP status. */
static int
test_xmpp_errmap_from_sip_no_mapping(void)
{
	struct xmpp_stanza_err e;

	CHECK_EQ_INT(xmpp_errmap_from_sip(100, &e), -EINVAL);
	CHECK_EQ_INT(xmpp_errmap_from_sip(180, &e), -EINVAL);
	CHECK_EQ_INT(xmpp_errmap_from_sip(200, &e), -EINVAL);
	CHECK_EQ_INT(xmpp_errmap_from_sip(202, &e), -EINVAL);
	CHECK_EQ_INT(xmpp_errmap_from_sip(299, &e), -EINVAL);
	CHECK_EQ_INT(xmpp_errmap_from_sip(700, &e), -EINVAL);
	CHECK_EQ_INT(xmpp_errmap_from_sip(0, &e), -EINVAL);
	CHECK_EQ_INT(xmpp_errmap_from_sip(-404, &e), -EINVAL);
	return 0;
}

/* ---------------------------------------------------------- s2s failures */

static int
expect_s2s(enum xmpp_s2s_fail f, enum xmpp_serr sc, const char *cond, const char *type,
    int status, const char *phrase)
{
	struct xmpp_stanza_err e = xmpp_errmap_s2s(f, sc);
	struct xmpp_sip_status s = xmpp_errmap_s2s_sip(f, sc);

	CHECK_EQ_STR(xmpp_cond_name(e.cond), cond);
	CHECK_EQ_STR(xmpp_errtype_name(e.type), type);
	CHECK_EQ_INT(e.addr, XMPP_ADDR_NONE);
	CHECK_EQ_INT(s.status, status);
	CHECK_EQ_STR(s.phrase, phrase);
	return 0;
}

static int
test_xmpp_errmap_s2s_no_domain(void)
{
	return expect_s2s(XMPP_S2S_NO_DOMAIN, 0, "remote-server-not-found", "cancel", 404, "Not Found");
}

static int
test_xmpp_errmap_s2s_unresolved(void)
{
	return expect_s2s(XMPP_S2S_UNRESOLVED, 0, "remote-server-not-found", "cancel", 408,
	    "Request Timeout");
}

static int
test_xmpp_errmap_s2s_unreachable(void)
{
	return expect_s2s(XMPP_S2S_UNREACHABLE, 0, "remote-server-timeout", "wait", 408,
	    "Request Timeout");
}

static int
test_xmpp_errmap_s2s_timeout(void)
{
	return expect_s2s(XMPP_S2S_TIMEOUT, 0, "remote-server-timeout", "wait", 408, "Request Timeout");
}

static int
test_xmpp_errmap_s2s_refused(void)
{
	return expect_s2s(XMPP_S2S_REFUSED, 0, "remote-server-timeout", "cancel", 408, "Request Timeout");
}

/* Every stream error condition: its wire name, and whether a stream closed
 * with it makes the stanza error "cancel" (lasting) or "wait" (passing). */
#define STREAM_ROWS(X) \
	X(XMPP_SERR_BAD_FORMAT, "bad-format", "cancel") \
	X(XMPP_SERR_BAD_NAMESPACE_PREFIX, "bad-namespace-prefix", "cancel") \
	X(XMPP_SERR_CONFLICT, "conflict", "wait") \
	X(XMPP_SERR_CONNECTION_TIMEOUT, "connection-timeout", "wait") \
	X(XMPP_SERR_HOST_GONE, "host-gone", "cancel") \
	X(XMPP_SERR_HOST_UNKNOWN, "host-unknown", "cancel") \
	X(XMPP_SERR_IMPROPER_ADDRESSING, "improper-addressing", "cancel") \
	X(XMPP_SERR_INTERNAL_SERVER_ERROR, "internal-server-error", "wait") \
	X(XMPP_SERR_INVALID_FROM, "invalid-from", "cancel") \
	X(XMPP_SERR_INVALID_NAMESPACE, "invalid-namespace", "cancel") \
	X(XMPP_SERR_INVALID_XML, "invalid-xml", "cancel") \
	X(XMPP_SERR_NOT_AUTHORIZED, "not-authorized", "cancel") \
	X(XMPP_SERR_NOT_WELL_FORMED, "not-well-formed", "cancel") \
	X(XMPP_SERR_POLICY_VIOLATION, "policy-violation", "cancel") \
	X(XMPP_SERR_REMOTE_CONNECTION_FAILED, "remote-connection-failed", "wait") \
	X(XMPP_SERR_RESET, "reset", "wait") \
	X(XMPP_SERR_RESOURCE_CONSTRAINT, "resource-constraint", "wait") \
	X(XMPP_SERR_RESTRICTED_XML, "restricted-xml", "cancel") \
	X(XMPP_SERR_SEE_OTHER_HOST, "see-other-host", "wait") \
	X(XMPP_SERR_SYSTEM_SHUTDOWN, "system-shutdown", "wait") \
	X(XMPP_SERR_UNDEFINED_CONDITION, "undefined-condition", "wait") \
	X(XMPP_SERR_UNSUPPORTED_ENCODING, "unsupported-encoding", "cancel") \
	X(XMPP_SERR_UNSUPPORTED_FEATURE, "unsupported-feature", "cancel") \
	X(XMPP_SERR_UNSUPPORTED_STANZA_TYPE, "unsupported-stanza-type", "cancel") \
	X(XMPP_SERR_UNSUPPORTED_VERSION, "unsupported-version", "cancel")

static int
test_xmpp_errmap_s2s_stream_errors(void)
{
	unsigned n = 0;

#define STREAM_CHECK(cond, name, type)                                         \
	CHECK_EQ_STR(xmpp_serr_name(cond), name);                              \
	CHECK_EQ_INT(xmpp_serr_from_name(name), cond);                         \
	CHECK(expect_s2s(XMPP_S2S_STREAM_ERROR, cond, "remote-server-timeout", type, 408, \
	    "Request Timeout") == 0);                                          \
	n++;
	STREAM_ROWS(STREAM_CHECK)
#undef STREAM_CHECK
	CHECK_EQ_INT(n, XMPP_SERR_COUNT - 1);  /* every condition but NONE */
	return 0;
}

#define TO_SIP_UNIT(id, ...) UNIT(test_xmpp_errmap_to_sip_##id),
#define FROM_SIP_UNIT(status, ...) UNIT(test_xmpp_errmap_from_sip_##status),

static const struct unit_test tests[] = {
	TO_SIP_ROWS(TO_SIP_UNIT)
	UNIT(test_xmpp_errmap_to_sip_gone_new_address),
	UNIT(test_xmpp_errmap_to_sip_not_found_unresolved),
	UNIT(test_xmpp_errmap_to_sip_never_503),
	UNIT(test_xmpp_errmap_unknown_names),
	FROM_SIP_ROWS(FROM_SIP_UNIT)
	UNIT(test_xmpp_errmap_from_sip_3xx_fallback),
	UNIT(test_xmpp_errmap_from_sip_4xx_fallback),
	UNIT(test_xmpp_errmap_from_sip_5xx_fallback),
	UNIT(test_xmpp_errmap_from_sip_6xx_fallback),
	UNIT(test_xmpp_errmap_from_sip_no_mapping),
	UNIT(test_xmpp_errmap_s2s_no_domain),
	UNIT(test_xmpp_errmap_s2s_unresolved),
	UNIT(test_xmpp_errmap_s2s_unreachable),
	UNIT(test_xmpp_errmap_s2s_timeout),
	UNIT(test_xmpp_errmap_s2s_refused),
	UNIT(test_xmpp_errmap_s2s_stream_errors),
	{ 0 }
};

int
main(int argc, char **argv)
{
	return unit_main(argc, argv, tests);
}
