/* diag.h: stable diagnostic codes.  Every refusal the edge makes carries one, as an
 * ms-diagnostics header (what Lync / Skype for Business clients and edges show) and
 * an RFC 3261 Warning header (399), and is logged with the same code.
 * The list is documented in doc/sipedge-diagnostics.7; never renumber. */
#ifndef SIPEDGE_DIAG_H
#define SIPEDGE_DIAG_H

enum diag_code {
	DIAG_NONE = 0,
	/* 1000-1099: the request itself */
	DIAG_MALFORMED = 1001,          /* 400: a header or the request line is malformed */
	DIAG_MISSING_HEADER = 1002,     /* 400: a mandatory header is missing */
	DIAG_CSEQ_MISMATCH = 1003,      /* 400: CSeq method differs from the request method */
	DIAG_BAD_SCHEME = 1004,         /* 416: Request-URI scheme is not sip or sips */
	DIAG_BAD_VERSION = 1005,        /* 505: SIP version other than 2.0 */
	DIAG_TOO_MANY_HOPS = 1006,      /* 483: Max-Forwards reached 0 */
	DIAG_LOOP = 1007,               /* 482: the request has already passed this edge */
	DIAG_BAD_EXTENSION = 1008,      /* 420: Proxy-Require names an extension we lack */
	DIAG_TOO_LARGE = 1009,          /* 513: message over the size limit */
	DIAG_NO_TRANSACTION = 1010,     /* 481: CANCEL matches no transaction */
	DIAG_FRAMING = 1011,            /* 400: stream framing lost (Content-Length) */
	DIAG_TOO_MANY_VIAS = 1012,      /* 400: more Via header field values than hops allow */
	DIAG_URI_TOO_LONG = 1013,       /* 414: the start line is over its limit */
	/* 1100-1199: who may send what where (relay rules) */
	DIAG_INTERNAL_NOT_ALLOWED = 1101, /* 403: internal peer is not an allowed internal server */
	DIAG_RELAY_DENIED = 1102,       /* 403: external request for a domain we do not serve */
	DIAG_LOCAL_TARGET = 1103,       /* 403: internal request for one of our own domains */
	DIAG_NO_ROUTE = 1104,           /* 403: no route for the target domain */
	DIAG_BAD_ROUTE_TOKEN = 1105,    /* 403: Route names this edge with a token that does not verify */
	DIAG_FOREIGN_ROUTE = 1106,      /* 403: external request routed through a foreign host */
	DIAG_DIALOG_PEER = 1107,        /* 403: in-dialog request from a peer the dialog is not with */
	/* 1200-1299: next hops */
	DIAG_HOPS_FAILED = 1201,        /* 503: every next hop failed (connect, TLS, 503) */
	DIAG_HOP_TIMEOUT = 1202,        /* 408: the next hop did not answer in time */
	DIAG_FLOW_GONE = 1203,          /* 430: the dialog's connection to the peer is gone */
	DIAG_OVERLOAD = 1204,           /* 503: the edge is over its limits */
	DIAG_CANCELLED = 1205,          /* 487: cancelled before the next hop answered */
	/* 2000-2099: federation policy (fedroute.c, throttle.c) */
	DIAG_FED_DISABLED = 2001,       /* 403: federation is off */
	DIAG_FED_BLOCKED = 2002,        /* 403: the partner domain is blocked */
	DIAG_FED_PROVIDER_DISABLED = 2003, /* 403: the domain's provider is disabled */
	DIAG_FED_NOT_FEDERATED = 2004,  /* 403: not a partner domain (discovery off) */
	DIAG_FED_CERT_MISMATCH = 2005,  /* 403: peer certificate is not the configured proxy */
	DIAG_FED_PROVIDER_FOREIGN = 2006, /* 403: a provider proxy spoke for a domain not its own */
	DIAG_FED_NOT_SRV_TARGET = 2007, /* 403: peer is no SRV target of the source domain */
	DIAG_FED_SRV_NONE = 2008,       /* 504: the partner domain has no federation SRV record */
	DIAG_FED_SRV_FAILED = 2009,     /* 504: the SRV look-up failed (time-out, server failure) */
	DIAG_FED_SPOOFED = 2010,        /* 403: external request from one of our own domains */
	DIAG_FED_RATE = 2011,           /* 503: discovered partner over its message rate */
	DIAG_FED_CONTACTS = 2012,       /* 480: discovered partner over its contacts per period */
	DIAG_FED_SUSPICIOUS = 2013,     /* 503: suspicious discovered partner over its reduced rate */
	/* 3000-3099: XMPP federation (xmpp_*.c) */
	DIAG_XMPP_NOT_PARTNER = 3001,   /* 403: Not an allowed XMPP partner */
	DIAG_XMPP_HOST_UNKNOWN = 3002,  /* 404: XMPP domain not served here */
	DIAG_XMPP_INVALID_FROM = 3003,  /* 403: XMPP address not authenticated on this stream */
	DIAG_XMPP_TLS_REQUIRED = 3004,  /* 408: XMPP partner does not offer TLS, which its policy requires */
	DIAG_XMPP_TLS_FAILED = 3005,    /* 408: TLS with the XMPP partner failed */
	DIAG_XMPP_CERT = 3006,          /* 403: XMPP peer certificate not valid for its domain */
	DIAG_XMPP_AUTH_FAILED = 3007,   /* 408: XMPP stream authentication failed */
	DIAG_XMPP_UNREACHABLE = 3008,   /* 408: No server of the XMPP partner could be reached */
	DIAG_XMPP_TIMEOUT = 3009,       /* 408: XMPP stream not established in time */
	DIAG_XMPP_PEER_ERROR = 3010,    /* 408: XMPP partner closed the stream with an error */
	DIAG_XMPP_STREAM_CLOSED = 3011, /* 503: XMPP stream closed */
	DIAG_XMPP_LIMIT = 3012,         /* 503: XMPP connection limit reached */
	DIAG_XMPP_QUEUE_FULL = 3013,    /* 503: Too many stanzas waiting for the XMPP stream */
	DIAG_XMPP_BAD_STREAM = 3014,    /* 400: Invalid XMPP stream header or negotiation */
	DIAG_XMPP_BAD_XML = 3015,       /* 400: XML not well-formed or not allowed in XMPP */
	DIAG_XMPP_RESTRICTED_XML = 3016, /* 400: Restricted XML in an XMPP stream */
	DIAG_XMPP_TOO_BIG = 3017,       /* 513: XMPP stanza over the size limit */
	DIAG_XMPP_BAD_ADDRESS = 3018,   /* 400: Address cannot be mapped between SIP and XMPP */
	DIAG_XMPP_UNSUPPORTED = 3019,   /* 501: Not translated across the XMPP gateway */
	DIAG_XMPP_POOL_ERROR = 3020,    /* 500: The SIP pool refused the translated request */
	DIAG_XMPP_SUB_REFUSED = 3021,   /* 403: Presence subscription from a public-unverified partner not i */
	DIAG_XMPP_PRES_RATE = 3022,     /* 503: XMPP partner over its presence rate */
};

struct diag_info {
	enum diag_code code;
	int status;                     /* default SIP status */
	const char *phrase;             /* default reason phrase */
	const char *text;               /* what ms-diagnostics reason says */
};

/* The table entry for code (never NULL: unknown codes map to a generic entry). */
const struct diag_info *diag_lookup(enum diag_code code);
/* Iterate the table (for documentation and tests): NULL after the last. */
const struct diag_info *diag_at(unsigned i);
/* The position of code in that table (the statistics count by it), or -1. */
int diag_index(enum diag_code code);

#endif
