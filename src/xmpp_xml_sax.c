/* xmpp_xml_sax.c: expat's handlers for the XMPP XML parser (RFC 6120 §4.1
 * top-level elements, §4.7-§4.8 the stream header and its namespaces, §11.1
 * restricted XML): the stream header, each top-level element built into its
 * own tree as it arrives, the limits checked while it grows, and the
 * constructs XMPP refuses.  The feeding is in xmpp_xml.c.
 *
 * Every handler first checks halt: after a failure or a pause expat still
 * finishes the token it is in (an empty element's end follows its start in
 * the same token), and nothing may happen then. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <expat.h>

#include "sipedge/xmpp_xml.h"
#include "xmpp_xml_int.h"

/* The stream's root as expat names it in namespace mode. */
#define STREAM_ROOT XMPP_NS_STREAM "\x01" "stream"

/* Scratch text above this is given back after each top-level element, so
 * that one large stanza does not keep memory on an idle stream. */
#define TEXT_KEEP 1024

static unsigned long long
ev_start(const struct xmpp_parser *p)
{
	return p->xbase + (unsigned long long)XML_GetCurrentByteIndex(p->x);
}

/* Where the event being reported ends: the octet after its token. */
static unsigned long long
ev_end(const struct xmpp_parser *p)
{
	return ev_start(p) + (unsigned long long)XML_GetCurrentByteCount(p->x);
}

/* ------------------------------------------------ namespace names, once */

static uint32_t
ns_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;             /* FNV-1a */

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

/* A new doc: the names of the last one are forgotten (they went with it). */
static void
ns_new_gen(struct xmpp_parser *p)
{
	p->nused = 0;
	if (++p->gen == 0) {
		if (p->slots)
			memset(p->slots, 0, p->nslots * sizeof(*p->slots));
		p->gen = 1;
	}
}

static int
ns_grow(struct xmpp_parser *p)
{
	size_t n = p->nslots ? 2 * p->nslots : 16;
	struct xmpp_xml__ns_slot *s = calloc(n, sizeof(*s));

	if (s == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < p->nslots; i++) {
		size_t j;

		if (p->slots[i].gen != p->gen)
			continue;
		for (j = p->slots[i].hash & (n - 1); s[j].gen == p->gen; j = (j + 1) & (n - 1))
			;
		s[j] = p->slots[i];
	}
	free(p->slots);
	p->slots = s;
	p->nslots = n;
	return 0;
}

static const struct {
	const char *s;
	size_t len;
} ns_known[] = {
#define KNOWN(ns) { ns, sizeof(ns) - 1 }
	KNOWN(XMPP_NS_SERVER), KNOWN(XMPP_NS_CLIENT), KNOWN(XMPP_NS_XML),
	KNOWN(XMPP_NS_STREAM), KNOWN(XMPP_NS_DIALBACK),
#undef KNOWN
};

/* The namespace name s (len octets) as the doc d stores it: the parent's,
 * a static string for the common ones, or one copy per doc.  Without the
 * table a stanza declaring a long name once and using it on many small
 * elements would cost a copy per element; with it the tree holds no more
 * than the stanza's own octets. */
static const char *
ns_intern(struct xmpp_parser *p, struct xml_doc *d, const struct xml_elem *parent,
    const char *s, size_t len)
{
	uint32_t h;
	size_t i;
	char *copy;

	if (len == 0)
		return "";
	if (parent && strncmp(parent->ns, s, len) == 0 && parent->ns[len] == '\0')
		return parent->ns;
	for (i = 0; i < sizeof(ns_known) / sizeof(ns_known[0]); i++)
		if (ns_known[i].len == len && memcmp(ns_known[i].s, s, len) == 0)
			return ns_known[i].s;
	if (2 * (p->nused + 1) > p->nslots && ns_grow(p) < 0)
		return NULL;
	h = ns_hash(s, len);
	for (i = h & (p->nslots - 1); p->slots[i].gen == p->gen; i = (i + 1) & (p->nslots - 1)) {
		const struct xmpp_xml__ns_slot *e = &p->slots[i];

		if (e->hash == h && e->len == len && memcmp(e->s, s, len) == 0)
			return e->s;
	}
	if ((copy = xmpp_xml__strdup(d, s, len)) == NULL)
		return NULL;
	p->slots[i] = (struct xmpp_xml__ns_slot){ copy, len, h, p->gen };
	p->nused++;
	return copy;
}

/* --------------------------------------------------------------- trees */

/* The element expat reports (name "uri\1local", or "local" in no
 * namespace; atts name/value pairs) as a new child of parent in d. */
static struct xml_elem *
build(struct xmpp_parser *p, struct xml_doc *d, struct xml_elem *parent, const XML_Char *name,
    const XML_Char **atts, size_t nat)
{
	const char *sep = strchr(name, XMPP_XML__NS_SEP), *ns = "", *local;
	struct xml_elem *e;

	if (sep) {
		if ((ns = ns_intern(p, d, parent, name, (size_t)(sep - name))) == NULL)
			return NULL;
		name = sep + 1;
	}
	if ((local = xmpp_xml__strdup(d, name, strlen(name))) == NULL ||
	    (e = xmpp_xml__elem_new(d, parent, ns, local)) == NULL)
		return NULL;
	if (nat == 0)
		return e;
	if ((e->attrs = xmpp_xml__alloc(d, xmpp_xml__attrs_cap(nat) * sizeof(*e->attrs))) == NULL)
		return NULL;
	for (size_t i = 0; i < nat; i++) {
		const char *an = atts[2 * i], *v = atts[2 * i + 1];
		struct xml_attr *a = &e->attrs[i];

		a->ns = NULL;
		if ((sep = strchr(an, XMPP_XML__NS_SEP)) != NULL) {
			if ((a->ns = ns_intern(p, d, NULL, an, (size_t)(sep - an))) == NULL)
				return NULL;
			an = sep + 1;
		}
		if ((a->name = xmpp_xml__strdup(d, an, strlen(an))) == NULL ||
		    (a->value = xmpp_xml__strdup(d, v, strlen(v))) == NULL)
			return NULL;
	}
	e->nattrs = nat;
	return e;
}

static int
text_add(struct xmpp_parser *p, const char *s, size_t n)
{
	if (n > p->text_cap - p->text_len) {
		size_t cap = p->text_cap ? p->text_cap : 256;
		char *t;

		while (cap - p->text_len < n)
			cap *= 2;
		if ((t = realloc(p->text, cap)) == NULL)
			return -ENOMEM;
		p->text = t;
		p->text_cap = cap;
	}
	memcpy(p->text + p->text_len, s, n);
	p->text_len += n;
	return 0;
}

/* e's end tag: its text moves from the scratch into the doc. */
static int
text_finish(struct xmpp_parser *p, struct xml_elem *e)
{
	size_t from = e->text_len, n = p->text_len - from;
	char *t;

	p->text_len = from;
	e->text = "";
	e->text_len = 0;
	if (n == 0)
		return 0;
	if ((t = xmpp_xml__strdup(p->doc, p->text + from, n)) == NULL)
		return -ENOMEM;
	e->text = t;
	e->text_len = n;
	return 0;
}

/* A callback's answer: go on, pause after what ends at end, or stop. */
static void
after_cb(struct xmpp_parser *p, int rc, unsigned long long end)
{
	if (rc == XMPP_PARSER_PAUSE) {
		p->paused = true;
		p->pause_end = end;
	} else if (rc < 0) {
		p->cb_rc = rc;
	} else {
		return;
	}
	p->halt = true;
	XML_StopParser(p->x, XML_FALSE);
}

/* ------------------------------------------------------------ handlers */

static void
open_stream(struct xmpp_parser *p, const XML_Char *name, const XML_Char **atts, size_t nat,
    size_t decls, unsigned long long end)
{
	struct xml_doc *d;
	struct xml_elem *h;
	int rc = 0;

	if (end > p->lim.stanza_max) {
		xmpp_xml__fail(p, XMPP_SERR_POLICY_VIOLATION, "the stream header is too long", false);
		return;
	}
	if (nat + decls > p->lim.attrs_max) {
		xmpp_xml__fail(p, XMPP_SERR_POLICY_VIOLATION,
		    "the stream header has more attributes than allowed", false);
		return;
	}
	if (strcmp(name, STREAM_ROOT) != 0) {
		xmpp_xml__fail(p, XMPP_SERR_INVALID_NAMESPACE,
		    "the root is not <stream/> in " XMPP_NS_STREAM " (RFC 6120 §4.8.1)", false);
		return;
	}
	ns_new_gen(p);
	if ((d = xmpp_xml__doc_create(512)) == NULL || (h = build(p, d, NULL, name, atts, nat)) == NULL) {
		xml_doc_free(d);
		xmpp_xml__nomem(p);
		return;
	}
	p->opened = true;
	p->depth = 1;
	p->mark = end;
	/* What was kept beyond the header (the rest of its read) goes. */
	p->head_len = (size_t)end;
	if (p->head_cap > 2 * p->head_len) {
		char *shorter = realloc(p->head, p->head_len);

		if (shorter) {
			p->head = shorter;
			p->head_cap = p->head_len;
		}
	}
	if (p->cbs.open)
		rc = p->cbs.open(p->ud, h, p->default_ns ? p->default_ns : "");
	xml_doc_free(d);
	after_cb(p, rc, end);
}

static void XMLCALL
on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
	struct xmpp_parser *p = ud;
	size_t nat = 0, decls = p->ns_decls;
	unsigned long long end;
	struct xml_elem *e;

	p->ns_decls = 0;
	if (p->halt)
		return;
	if (p->replaying) {
		p->depth++;
		return;
	}
	while (atts[2 * nat])
		nat++;
	end = ev_end(p);
	if (!p->doc_mode && p->depth == 0) {
		open_stream(p, name, atts, nat, decls, end);
		return;
	}
	if (p->depth == p->top) {
		/* A top-level element: the limits in force now are its own. */
		p->el = p->lim;
		p->el_start = ev_start(p);
		p->nelems = 0;
		p->cur = NULL;
		ns_new_gen(p);
		if ((p->doc = xmpp_xml__doc_create(XML_DOC_FIRST)) == NULL) {
			xmpp_xml__nomem(p);
			return;
		}
	} else if (p->depth - p->top > p->el.depth_max) {
		xmpp_xml__fail(p, XMPP_SERR_POLICY_VIOLATION, "elements are nested deeper than allowed",
		    false);
		return;
	}
	if (++p->nelems > p->el.elems_max) {
		xmpp_xml__fail(p, XMPP_SERR_POLICY_VIOLATION, "an element has more elements than allowed",
		    false);
		return;
	}
	if (nat + decls > p->el.attrs_max) {
		xmpp_xml__fail(p, XMPP_SERR_POLICY_VIOLATION,
		    "an element has more attributes than allowed", false);
		return;
	}
	if (end - p->el_start > p->el.stanza_max) {
		xmpp_xml__fail(p, XMPP_SERR_POLICY_VIOLATION, "an element is larger than allowed", true);
		return;
	}
	if ((e = build(p, p->doc, p->cur, name, atts, nat)) == NULL) {
		xmpp_xml__nomem(p);
		return;
	}
	e->text = NULL;                /* open: its text starts at text_len */
	e->text_len = p->text_len;
	p->cur = e;
	p->depth++;
}

static void XMLCALL
on_end(void *ud, const XML_Char *name)
{
	struct xmpp_parser *p = ud;
	unsigned long long end;
	struct xml_elem *e;
	struct xml_doc *d;
	int rc = 0;

	(void)name;
	if (p->halt)
		return;
	if (p->replaying) {
		p->depth--;
		return;
	}
	end = ev_end(p);
	p->depth--;
	if (!p->doc_mode && p->depth == 0) {
		p->closed = true;
		p->mark = end;
		if (p->cbs.close)
			rc = p->cbs.close(p->ud);
		after_cb(p, rc, end);
		return;
	}
	e = p->cur;
	if (end - p->el_start > p->el.stanza_max) {
		xmpp_xml__fail(p, XMPP_SERR_POLICY_VIOLATION, "an element is larger than allowed", true);
		return;
	}
	if (text_finish(p, e) < 0) {
		xmpp_xml__nomem(p);
		return;
	}
	p->cur = e->parent;
	if (p->depth != p->top)
		return;
	d = p->doc;
	p->doc = NULL;
	p->mark = end;
	if (p->text_cap > TEXT_KEEP) {
		free(p->text);
		p->text = NULL;
		p->text_cap = 0;
	}
	if (p->doc_mode) {
		p->result = d;
		return;
	}
	if (p->cbs.element)
		rc = p->cbs.element(p->ud, d);
	else
		xml_doc_free(d);
	after_cb(p, rc, end);
}

static void XMLCALL
on_text(void *ud, const XML_Char *s, int len)
{
	struct xmpp_parser *p = ud;

	if (p->halt || p->replaying)
		return;
	if (p->depth == p->top) {
		/* Between top-level elements only white space, the keep-alive
		 * of RFC 6120 §4.6.1, may come: it is well-formed XML, but not
		 * XMPP, hence bad-format rather than not-well-formed. */
		for (int i = 0; i < len; i++) {
			if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r') {
				xmpp_xml__fail(p, XMPP_SERR_BAD_FORMAT,
				    "text between top-level elements (RFC 6120 §4.1)", false);
				return;
			}
		}
		p->mark = ev_end(p);
		return;
	}
	if (ev_end(p) - p->el_start > p->el.stanza_max) {
		xmpp_xml__fail(p, XMPP_SERR_POLICY_VIOLATION, "an element is larger than allowed", true);
		return;
	}
	if (text_add(p, s, (size_t)len) < 0)
		xmpp_xml__nomem(p);
}

/* Namespace declarations come just before their element's start: they are
 * counted with its attributes, and the header's default one is kept. */
static void XMLCALL
on_ns(void *ud, const XML_Char *prefix, const XML_Char *uri)
{
	struct xmpp_parser *p = ud;

	p->ns_decls++;
	if (p->halt || p->replaying || p->doc_mode || p->depth != 0 || prefix != NULL)
		return;
	free(p->default_ns);
	if ((p->default_ns = strdup(uri ? uri : "")) == NULL)
		xmpp_xml__nomem(p);
}

static void XMLCALL
on_xmldecl(void *ud, const XML_Char *version, const XML_Char *encoding, int standalone)
{
	struct xmpp_parser *p = ud;

	(void)standalone;
	if (p->halt || p->replaying)
		return;
	if (encoding && strcasecmp(encoding, "UTF-8") != 0)
		xmpp_xml__fail(p, XMPP_SERR_UNSUPPORTED_ENCODING,
		    "an encoding other than UTF-8 (RFC 6120 §11.6)", false);
	else if (version && strcmp(version, "1.0") != 0)
		xmpp_xml__fail(p, XMPP_SERR_BAD_FORMAT, "an XML version other than 1.0 (RFC 6120 §11)",
		    false);
}

static void
restricted(void *ud, const char *text)
{
	struct xmpp_parser *p = ud;

	if (!p->halt)
		xmpp_xml__fail(p, XMPP_SERR_RESTRICTED_XML, text, false);
}

static void XMLCALL
on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid, const XML_Char *pubid,
    int has_internal_subset)
{
	(void)name, (void)sysid, (void)pubid, (void)has_internal_subset;
	restricted(ud, "DOCTYPE is not allowed (RFC 6120 §11.1)");
}

static void XMLCALL
on_comment(void *ud, const XML_Char *data)
{
	(void)data;
	restricted(ud, "comments are not allowed (RFC 6120 §11.1)");
}

static void XMLCALL
on_pi(void *ud, const XML_Char *target, const XML_Char *data)
{
	(void)target, (void)data;
	restricted(ud, "processing instructions are not allowed (RFC 6120 §11.1)");
}

static void XMLCALL
on_entity(void *ud, const XML_Char *name, int is_param, const XML_Char *value, int value_len,
    const XML_Char *base, const XML_Char *sysid, const XML_Char *pubid, const XML_Char *notation)
{
	(void)name, (void)is_param, (void)value, (void)value_len;
	(void)base, (void)sysid, (void)pubid, (void)notation;
	restricted(ud, "entity declarations are not allowed (RFC 6120 §11.1)");
}

static void XMLCALL
on_skipped(void *ud, const XML_Char *name, int is_param)
{
	(void)name, (void)is_param;
	restricted(ud, "entity references other than the predefined ones are not allowed "
	    "(RFC 6120 §11.1)");
}

/* expat passes the handler argument set below in place of the parser. */
static int XMLCALL
on_ext_entity(XML_Parser arg, const XML_Char *context, const XML_Char *base,
    const XML_Char *sysid, const XML_Char *pubid)
{
	(void)context, (void)base, (void)sysid, (void)pubid;
	restricted((void *)arg, "external entities are not allowed (RFC 6120 §11.1)");
	return XML_STATUS_ERROR;
}

void
xmpp_xml__handlers(struct xmpp_parser *p)
{
	XML_Parser x = p->x;

	XML_SetUserData(x, p);
	XML_SetXmlDeclHandler(x, on_xmldecl);
	XML_SetElementHandler(x, on_start, on_end);
	XML_SetCharacterDataHandler(x, on_text);
	XML_SetStartNamespaceDeclHandler(x, on_ns);
	XML_SetStartDoctypeDeclHandler(x, on_doctype);
	XML_SetCommentHandler(x, on_comment);
	XML_SetProcessingInstructionHandler(x, on_pi);
	XML_SetEntityDeclHandler(x, on_entity);
	XML_SetSkippedEntityHandler(x, on_skipped);
	XML_SetExternalEntityRefHandler(x, on_ext_entity);
	XML_SetExternalEntityRefHandlerArg(x, p);
}
