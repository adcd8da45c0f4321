/* diag.c: the diagnostic code table (see diag.h and doc/sipedge-diagnostics.7). */
#include <stddef.h>

#include "sipedge/diag.h"

static const struct diag_info table[] = {
	{ DIAG_MALFORMED, 400, "Bad Request", "Malformed request" },
	{ DIAG_MISSING_HEADER, 400, "Bad Request", "Mandatory header missing" },
	{ DIAG_CSEQ_MISMATCH, 400, "CSeq Method Does Not Match", "CSeq method does not match the request method" },
	{ DIAG_BAD_SCHEME, 416, "Unsupported URI Scheme", "Request-URI scheme is not sip or sips" },
	{ DIAG_BAD_VERSION, 505, "Version Not Supported", "Only SIP/2.0 is supported" },
	{ DIAG_TOO_MANY_HOPS, 483, "Too Many Hops", "Max-Forwards exhausted" },
	{ DIAG_LOOP, 482, "Loop Detected", "Request has already passed this edge" },
	{ DIAG_BAD_EXTENSION, 420, "Bad Extension", "Proxy-Require names an unsupported extension" },
	{ DIAG_TOO_LARGE, 513, "Message Too Large", "Message exceeds the size limit" },
	{ DIAG_NO_TRANSACTION, 481, "Call/Transaction Does Not Exist", "No transaction matches" },
	{ DIAG_FRAMING, 400, "Bad Request", "Stream framing error" },
	{ DIAG_TOO_MANY_VIAS, 400, "Bad Request", "Too many Via header field values" },
	{ DIAG_URI_TOO_LONG, 414, "Request-URI Too Long", "Request line too long" },
	{ DIAG_INTERNAL_NOT_ALLOWED, 403, "Forbidden", "Internal peer is not an allowed internal server" },
	{ DIAG_RELAY_DENIED, 403, "Forbidden", "Relay denied: target domain is not served here" },
	{ DIAG_LOCAL_TARGET, 403, "Forbidden", "Internal request for a local domain" },
	{ DIAG_NO_ROUTE, 403, "Forbidden", "No route for the target domain" },
	{ DIAG_BAD_ROUTE_TOKEN, 403, "Forbidden", "Route token does not verify" },
	{ DIAG_FOREIGN_ROUTE, 403, "Forbidden", "Routing through a foreign host is not allowed" },
	{ DIAG_DIALOG_PEER, 403, "Forbidden", "In-dialog request from a peer other than the dialog's" },
	{ DIAG_HOPS_FAILED, 503, "Service Unavailable", "All next hops failed" },
	{ DIAG_HOP_TIMEOUT, 408, "Request Timeout", "Next hop did not answer in time" },
	{ DIAG_FLOW_GONE, 430, "Flow Failed", "Connection to the dialog peer is gone" },
	{ DIAG_OVERLOAD, 503, "Service Unavailable", "Edge overloaded" },
	{ DIAG_CANCELLED, 487, "Request Terminated", "Request cancelled" },
	{ DIAG_FED_DISABLED, 403, "Forbidden", "Federation is disabled" },
	{ DIAG_FED_BLOCKED, 403, "Forbidden", "Domain is blocked" },
	{ DIAG_FED_PROVIDER_DISABLED, 403, "Forbidden", "Provider is disabled" },
	{ DIAG_FED_NOT_FEDERATED, 403, "Forbidden", "Domain is not a federated partner" },
	{ DIAG_FED_CERT_MISMATCH, 403, "Forbidden", "Peer certificate does not match the partner's configured proxy" },
	{ DIAG_FED_PROVIDER_FOREIGN, 403, "Forbidden", "Provider does not serve the source domain" },
	{ DIAG_FED_NOT_SRV_TARGET, 403, "Forbidden", "Peer is not a federation SRV target of the source domain" },
	{ DIAG_FED_SRV_NONE, 504, "Server Time-out", "Domain has no federation SRV record" },
	{ DIAG_FED_SRV_FAILED, 504, "Server Time-out", "Federation SRV look-up failed" },
	{ DIAG_FED_SPOOFED, 403, "Forbidden", "Source domain is one of ours" },
	{ DIAG_FED_RATE, 503, "Service Unavailable", "Discovered partner over its message rate" },
	{ DIAG_FED_CONTACTS, 480, "Temporarily Unavailable", "Discovered partner over its contact limit" },
	{ DIAG_FED_SUSPICIOUS, 503, "Service Unavailable", "Suspicious discovered partner over its reduced rate" },
	{ DIAG_XMPP_NOT_PARTNER, 403, "Forbidden", "Not an allowed XMPP partner" },
	{ DIAG_XMPP_HOST_UNKNOWN, 404, "Not Found", "XMPP domain not served here" },
	{ DIAG_XMPP_INVALID_FROM, 403, "Forbidden", "XMPP address not authenticated on this stream" },
	{ DIAG_XMPP_TLS_REQUIRED, 408, "Request Timeout", "XMPP partner does not offer TLS, which its policy requires" },
	{ DIAG_XMPP_TLS_FAILED, 408, "Request Timeout", "TLS with the XMPP partner failed" },
	{ DIAG_XMPP_CERT, 403, "Forbidden", "XMPP peer certificate not valid for its domain" },
	{ DIAG_XMPP_AUTH_FAILED, 408, "Request Timeout", "XMPP stream authentication failed" },
	{ DIAG_XMPP_UNREACHABLE, 408, "Request Timeout", "No server of the XMPP partner could be reached" },
	{ DIAG_XMPP_TIMEOUT, 408, "Request Timeout", "XMPP stream not established in time" },
	{ DIAG_XMPP_PEER_ERROR, 408, "Request Timeout", "XMPP partner closed the stream with an error" },
	{ DIAG_XMPP_STREAM_CLOSED, 503, "Service Unavailable", "XMPP stream closed" },
	{ DIAG_XMPP_LIMIT, 503, "Service Unavailable", "XMPP connection limit reached" },
	{ DIAG_XMPP_QUEUE_FULL, 503, "Service Unavailable", "Too many stanzas waiting for the XMPP stream" },
	{ DIAG_XMPP_BAD_STREAM, 400, "Bad Request", "Invalid XMPP stream header or negotiation" },
	{ DIAG_XMPP_BAD_XML, 400, "Bad Request", "XML not well-formed or not allowed in XMPP" },
	{ DIAG_XMPP_RESTRICTED_XML, 400, "Bad Request", "Restricted XML in an XMPP stream" },
	{ DIAG_XMPP_TOO_BIG, 513, "Message Too Large", "XMPP stanza over the size limit" },
	{ DIAG_XMPP_BAD_ADDRESS, 400, "Bad Request", "Address cannot be mapped between SIP and XMPP" },
	{ DIAG_XMPP_UNSUPPORTED, 501, "Not Implemented", "Not translated across the XMPP gateway" },
	{ DIAG_XMPP_POOL_ERROR, 500, "Server Internal Error", "The SIP pool refused the translated request" },
	{ DIAG_XMPP_SUB_REFUSED, 403, "Forbidden", "Presence subscription from a public-unverified partner not invited first" },
	{ DIAG_XMPP_PRES_RATE, 503, "Service Unavailable", "XMPP partner over its presence rate" },
};

static const struct diag_info unknown = { DIAG_NONE, 500, "Server Internal Error", "Internal error" };

int
diag_index(enum diag_code code)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].code == code)
			return (int)i;
	return -1;
}

const struct diag_info *
diag_lookup(enum diag_code code)
{
	int i = diag_index(code);

	return i >= 0 ? &table[i] : &unknown;
}

const struct diag_info *
diag_at(unsigned i)
{
	return i < sizeof(table) / sizeof(table[0]) ? &table[i] : NULL;
}
