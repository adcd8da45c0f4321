/* xmpp_xml.h: XML for XMPP server-to-server streams (RFC 6120 §4, §11) with
 * expat: a push parser per stream that hands over each top-level element
 * (stanza, or stream negotiation element) as a small tree of its own,
 * refusing restricted XML (RFC 6120 §11.1: no DOCTYPE, comments, processing
 * instructions or entity declarations) and bounding stanza size, nesting,
 * attributes, elements and the memory expat may hold per stream; a one-shot
 * parser for XML bodies (PIDF) with the same rules; and the element tree's
 * builder and serializer (with escaping).
 *
 * Ownership: a struct xml_doc is an arena holding one element tree; every
 * string and element of the tree lives in it and goes with xml_doc_free().
 * A parser belongs to its stream and is used from one thread. */
#ifndef SIPEDGE_XMPP_XML_H
#define SIPEDGE_XMPP_XML_H

#include <stdbool.h>
#include <stddef.h>

#define XMPP_NS_STREAM     "http://etherx.jabber.org/streams"
#define XMPP_NS_SERVER     "jabber:server"
#define XMPP_NS_CLIENT     "jabber:client"
#define XMPP_NS_DIALBACK   "jabber:server:dialback"
#define XMPP_NS_TLS        "urn:ietf:params:xml:ns:xmpp-tls"
#define XMPP_NS_SASL       "urn:ietf:params:xml:ns:xmpp-sasl"
#define XMPP_NS_STREAMS    "urn:ietf:params:xml:ns:xmpp-streams"
#define XMPP_NS_STANZAS    "urn:ietf:params:xml:ns:xmpp-stanzas"
#define XMPP_NS_BIDI       "urn:xmpp:bidi"
#define XMPP_NS_BIDI_FEAT  "urn:xmpp:features:bidi"
#define XMPP_NS_DB_FEAT    "urn:xmpp:features:dialback"
#define XMPP_NS_ERRORS     "urn:xmpp:errors"
#define XMPP_NS_PING       "urn:xmpp:ping"
#define XMPP_NS_XML        "http://www.w3.org/XML/1998/namespace"

/* Stream error conditions, RFC 6120 §4.9.3 (names as on the wire). */
enum xmpp_serr {
	XMPP_SERR_NONE = 0,
	XMPP_SERR_BAD_FORMAT,
	XMPP_SERR_BAD_NAMESPACE_PREFIX,
	XMPP_SERR_CONFLICT,
	XMPP_SERR_CONNECTION_TIMEOUT,
	XMPP_SERR_HOST_GONE,
	XMPP_SERR_HOST_UNKNOWN,
	XMPP_SERR_IMPROPER_ADDRESSING,
	XMPP_SERR_INTERNAL_SERVER_ERROR,
	XMPP_SERR_INVALID_FROM,
	XMPP_SERR_INVALID_NAMESPACE,
	XMPP_SERR_INVALID_XML,
	XMPP_SERR_NOT_AUTHORIZED,
	XMPP_SERR_NOT_WELL_FORMED,
	XMPP_SERR_POLICY_VIOLATION,
	XMPP_SERR_REMOTE_CONNECTION_FAILED,
	XMPP_SERR_RESET,
	XMPP_SERR_RESOURCE_CONSTRAINT,
	XMPP_SERR_RESTRICTED_XML,
	XMPP_SERR_SEE_OTHER_HOST,
	XMPP_SERR_SYSTEM_SHUTDOWN,
	XMPP_SERR_UNDEFINED_CONDITION,
	XMPP_SERR_UNSUPPORTED_ENCODING,
	XMPP_SERR_UNSUPPORTED_FEATURE,
	XMPP_SERR_UNSUPPORTED_STANZA_TYPE,
	XMPP_SERR_UNSUPPORTED_VERSION,
	XMPP_SERR_COUNT
};
/* "not-well-formed"; "" for XMPP_SERR_NONE or out of range. */
const char *xmpp_serr_name(enum xmpp_serr e);
/* The condition named (as on the wire), or XMPP_SERR_NONE if unknown. */
enum xmpp_serr xmpp_serr_from_name(const char *name);

/* ---- element trees ---- */

struct xml_attr {
	const char *ns;                    /* namespace URI, NULL if unqualified */
	const char *name;                  /* local name */
	const char *value;
};

struct xml_elem {
	const char *ns;                    /* namespace URI, "" if none */
	const char *name;                  /* local name */
	struct xml_attr *attrs;
	size_t nattrs;
	struct xml_elem *parent, *first_child, *last_child, *next;
	/* The character data directly inside this element, concatenated, NUL
	 * terminated ("" if none; len without the NUL). */
	const char *text;
	size_t text_len;
};

struct xml_doc;

/* A new tree whose root is <name xmlns=ns>.  0 or -ENOMEM. */
int xml_doc_new(struct xml_doc **out, const char *ns, const char *name);
struct xml_elem *xml_doc_root(const struct xml_doc *d);
void xml_doc_free(struct xml_doc *d);
/* Bytes the tree holds (its arena), for queue accounting. */
size_t xml_doc_size(const struct xml_doc *d);

/* Append a child <name> in namespace ns (NULL: the parent's) to parent;
 * NULL when out of memory. */
struct xml_elem *xml_elem_add(struct xml_doc *d, struct xml_elem *parent, const char *ns,
    const char *name);
/* Set (replace) an attribute; ns NULL for an unqualified one, XMPP_NS_XML
 * for xml:lang.  0 or -ENOMEM. */
int xml_attr_set(struct xml_doc *d, struct xml_elem *e, const char *ns, const char *name,
    const char *value);
/* Set the element's text (len octets, copied).  0 or -ENOMEM. */
int xml_text_set(struct xml_doc *d, struct xml_elem *e, const char *text, size_t len);
/* Copy the subtree src (from any doc) as a new last child of parent in d;
 * NULL when out of memory. */
struct xml_elem *xml_elem_copy(struct xml_doc *d, struct xml_elem *parent,
    const struct xml_elem *src);
/* A new tree whose root is a copy of the subtree src (from any doc), e.g. a
 * stanza to keep beyond its own doc.  0 or -ENOMEM. */
int xml_doc_copy(struct xml_doc **out, const struct xml_elem *src);

/* An unqualified attribute's value, or NULL. */
const char *xml_attr_get(const struct xml_elem *e, const char *name);
/* A qualified attribute's value (xml:lang: ns XMPP_NS_XML), or NULL. */
const char *xml_attr_get_ns(const struct xml_elem *e, const char *ns, const char *name);
/* The first child named name (NULL: any name) in namespace ns (NULL: any),
 * or NULL.  Iterate further with ->next. */
struct xml_elem *xml_child(const struct xml_elem *e, const char *ns, const char *name);
/* Whether e is <name> in namespace ns (either NULL: any, as for xml_child). */
bool xml_is(const struct xml_elem *e, const char *ns, const char *name);

/* ---- serializing ---- */

/* A growable byte buffer (malloc'd; zero-initialise it). */
struct xml_buf {
	char *p;
	size_t len, cap;
};
int xml_buf_add(struct xml_buf *b, const void *s, size_t n);   /* 0 or -ENOMEM */
int xml_buf_str(struct xml_buf *b, const char *s);             /* 0 or -ENOMEM */
/* Append s escaped for character data (& < >) or, attr true, for an
 * attribute value in single quotes (& < > ' ").  0 or -ENOMEM.  So that the
 * peer's parser gives back exactly s, a carriage return (and, in an
 * attribute, a tab or newline) is written as a character reference; octets
 * XML cannot carry (C0 controls, invalid UTF-8, U+FFFE, U+FFFF) become
 * U+FFFD; valid UTF-8 is copied as it is. */
int xml_buf_escape(struct xml_buf *b, const char *s, size_t n, bool attr);
void xml_buf_reset(struct xml_buf *b);                           /* len = 0 */
void xml_buf_free(struct xml_buf *b);

/* Append e and its subtree as it appears inside an element whose namespace
 * is parent_ns (for a stanza: XMPP_NS_SERVER, the stream's default): an
 * xmlns='…' is written wherever an element's namespace differs from its
 * parent's, xml:lang for attributes in the XML namespace, and a prefix
 * declaration for other qualified attributes.  Dialback elements
 * (XMPP_NS_DIALBACK) are written with the db: prefix the stream header
 * declares, elements in XMPP_NS_STREAM (<stream:error/>,
 * <stream:features/>) with its stream: prefix, and any in XMPP_NS_XML with
 * xml:.  The text of an element
 * comes before its children.  0 or -ENOMEM (b as it was). */
int xml_serialize(struct xml_buf *b, const struct xml_elem *e, const char *parent_ns);

/* ---- parsing ---- */

struct xmpp_parser_limits {
	size_t stanza_max;                 /* octets of one top-level element */
	size_t depth_max;                  /* nesting below a top-level element */
	size_t attrs_max;                  /* attributes of one element */
	size_t elems_max;                  /* elements in one top-level element */
	size_t memory_max;                 /* octets expat may hold for the stream */
};
/* Before authentication: 10000 octets, depth 16, 32 attributes, 1000
 * elements, 256 KiB; xmpp_parser_limits_authed: the same with 65536. */
void xmpp_parser_limits_default(struct xmpp_parser_limits *l);
void xmpp_parser_limits_authed(struct xmpp_parser_limits *l);

struct xmpp_parser;

/* What a callback returns: 0 go on; XMPP_PARSER_PAUSE stop right after this
 * element (xmpp_parser_feed returns 1 and says how far it read: the octets
 * after it may be TLS, after STARTTLS); or a negative status, which stops
 * the parser and is returned by xmpp_parser_feed as is. */
#define XMPP_PARSER_PAUSE 1

struct xmpp_parser_cbs {
	/* The stream header <stream:stream …> (also after each reset): header is
	 * the element with its attributes and no children (its ns is the
	 * stream's, XMPP_NS_STREAM on a good stream), default_ns the default
	 * namespace it declares ("" if none).  Only valid during the call. */
	int (*open)(void *ud, const struct xml_elem *header, const char *default_ns);
	/* A complete top-level element; the callee owns doc (xml_doc_free). */
	int (*element)(void *ud, struct xml_doc *doc);
	/* The peer's </stream:stream>. */
	int (*close)(void *ud);
};
/* A callback must not feed, reset or free its own parser (feed and reset
 * return -EBUSY then): it returns XMPP_PARSER_PAUSE, and the caller does so
 * once xmpp_parser_feed has returned. */

int xmpp_parser_new(const struct xmpp_parser_limits *l, const struct xmpp_parser_cbs *cbs,
    void *ud, struct xmpp_parser **out);
void xmpp_parser_free(struct xmpp_parser *p);
/* Limits for the elements that start from now on (after authentication). */
void xmpp_parser_set_limits(struct xmpp_parser *p, const struct xmpp_parser_limits *l);
/* Feed octets read from the stream.  0: all of them were parsed (*used =
 * len).  1: a callback paused; *used octets were parsed, up to the end of
 * that element.  A negative status: the stream is broken: a callback's own,
 * or -EPROTO for bad input or a limit (xmpp_parser_error says which); after
 * it nothing more may be fed.  Whitespace between top-level elements
 * (keep-alives) is accepted. */
int xmpp_parser_feed(struct xmpp_parser *p, const char *buf, size_t len, size_t *used);
/* After -EPROTO: the stream error condition to send, a one-line reason
 * ("DOCTYPE is not allowed (RFC 6120 §11.1)"), and whether it was the stanza
 * size limit (send <stanza-too-big xmlns='urn:xmpp:errors'/> too).  The
 * conditions: restricted-xml (DOCTYPE, comment, processing instruction,
 * entity other than the predefined ones); policy-violation (a limit, the
 * stream header's size and attributes included); resource-constraint
 * (memory_max; also set after -ENOMEM); unsupported-encoding (an encoding
 * other than UTF-8 declared, UTF-16/32, octets that are not UTF-8);
 * invalid-namespace (the root is not <stream/> in XMPP_NS_STREAM);
 * bad-namespace-prefix (an undeclared or reserved prefix); bad-format (text
 * other than white space between top-level elements: well-formed XML, but
 * not XMPP; an XML version other than 1.0); not-well-formed (the rest).
 * The content namespace (default_ns) is for the open callback to check. */
enum xmpp_serr xmpp_parser_error(const struct xmpp_parser *p, const char **text, bool *too_big);
/* Start over: what is fed next is a new XML stream (after STARTTLS or SASL
 * success, RFC 6120 §5.4.3.3, §6.4.6).  0 or -ENOMEM. */
int xmpp_parser_reset(struct xmpp_parser *p);
/* An idle stream gives its expat back (its buffers, hash tables and pools:
 * some 10 KiB): possible between top-level elements with nothing pending,
 * in an open stream.  White space fed afterwards (keep-alives) is taken
 * without one; anything else makes a new expat, brought back inside the
 * stream by the header kept from its start, before it is parsed.  0, or
 * -EAGAIN when the stream is not at such a point. */
int xmpp_parser_sleep(struct xmpp_parser *p);
bool xmpp_parser_asleep(const struct xmpp_parser *p);
/* Octets fed since the last reset (statistics). */
unsigned long long xmpp_parser_bytes(const struct xmpp_parser *p);

/* Parse one whole document (a PIDF body, …) under the same rules and the
 * given limits (NULL: the authenticated defaults).  0 and *out; or
 * -EPROTO with *err and *text (may be NULL) saying why; -ENOMEM. */
int xml_doc_parse(const char *buf, size_t len, const struct xmpp_parser_limits *l,
    struct xml_doc **out, enum xmpp_serr *err, const char **text);

#endif
