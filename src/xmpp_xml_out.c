/* xmpp_xml_out.c: writing XML for XMPP streams (RFC 6120 §11, XML 1.0 §2.4
 * character data, XML Namespaces §3): the growable byte buffer, escaping and
 * the element tree serializer.  See sipedge/xmpp_xml.h.
 *
 * What is written must parse back, at the peer, to the same tree: the
 * escaping covers not only & < > ' " but also the white space a parser would
 * otherwise normalise (a carriage return in text, tab, newline and carriage
 * return in attribute values, XML 1.0 §2.11 and §3.3.3), and octets that XML
 * cannot carry at all (C0 controls, invalid UTF-8, U+FFFE/U+FFFF, which may
 * come from a SIP body) become U+FFFD rather than make the peer close the
 * whole stream with <not-well-formed/> or <unsupported-encoding/>. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sipedge/xmpp_xml.h"
#include "sipedge/utf8.h"
#include "xmpp_xml_int.h"

/* ---------------------------------------------------------------- buffer */

static int
reserve(struct xml_buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (n <= b->cap - b->len)
		return 0;
	if (n > SIZE_MAX / 2 - b->len)
		return -ENOMEM;
	cap = b->cap ? b->cap : 256;
	while (cap - b->len < n)
		cap *= 2;
	if ((p = realloc(b->p, cap)) == NULL)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

int
xml_buf_add(struct xml_buf *b, const void *s, size_t n)
{
	if (reserve(b, n) < 0)
		return -ENOMEM;
	if (n)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	return 0;
}

int
xml_buf_str(struct xml_buf *b, const char *s)
{
	return xml_buf_add(b, s, strlen(s));
}

void
xml_buf_reset(struct xml_buf *b)
{
	b->len = 0;
}

void
xml_buf_free(struct xml_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* -------------------------------------------------------------- escaping */

size_t
xmpp_xml__char_len(const unsigned char *s, size_t n, int *utf8_ok)
{
	unsigned cp;
	size_t len;
	int ok_dummy;

	if (utf8_ok == NULL)
		utf8_ok = &ok_dummy;
	/* The strict decoder the JSON parser and the addresses use. */
	if ((len = utf8_decode(s, n, &cp)) == 0) {
		*utf8_ok = 0;
		return 0;
	}
	*utf8_ok = 1;
	/* XML 1.0 §2.2: the C0 controls other than tab, LF and CR, and
	 * U+FFFE and U+FFFF, are not characters. */
	if ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || cp == 0xfffe || cp == 0xffff)
		return 0;
	return len;
}

/* The replacement for what XML cannot carry, an octet at a time: U+FFFD. */
static const char replacement[] = "\xef\xbf\xbd";

int
xml_buf_escape(struct xml_buf *b, const char *s, size_t n, bool attr)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t start = b->len, run = 0, i = 0;

	/* Most text needs nothing: reserve for that, copy runs of plain octets
	 * in one go, and write an escape only where one is due. */
	if (reserve(b, n) < 0)
		return -ENOMEM;
	while (i < n) {
		unsigned char c = u[i];
		const char *esc;
		size_t len = 1;

		if (c >= 0x20 && c < 0x80) {
			if (c == '&')
				esc = "&amp;";
			else if (c == '<')
				esc = "&lt;";
			else if (c == '>')
				esc = "&gt;";
			else if (attr && c == '\'')
				esc = "&apos;";
			else if (attr && c == '"')
				esc = "&quot;";
			else {
				i++;
				continue;
			}
		} else if (c == '\n') {
			if (!attr) {
				i++;
				continue;
			}
			esc = "&#10;";
		} else if (c == '\t') {
			if (!attr) {
				i++;
				continue;
			}
			esc = "&#9;";
		} else if (c == '\r') {
			esc = "&#13;";
		} else if (c >= 0x80 && (len = xmpp_xml__char_len(u + i, n - i, NULL)) > 0) {
			i += len;
			continue;
		} else {
			esc = replacement;
			len = 1;
		}
		if (xml_buf_add(b, u + run, i - run) < 0 || xml_buf_str(b, esc) < 0) {
			b->len = start;
			return -ENOMEM;
		}
		i += len;
		run = i;
	}
	if (xml_buf_add(b, u + run, n - run) < 0) {
		b->len = start;
		return -ENOMEM;
	}
	return 0;
}

/* ------------------------------------------------------------ serializer */

/* The prefix an element in ns is written with, or NULL for none (it is then
 * written in the default namespace, declared where it changes).  Dialback
 * (XEP-0220 §2.1) and the stream namespace (RFC 6120 §4.8.1: "stream:",
 * which every implementation writes for <stream:features/> and
 * <stream:error/>) use the prefixes our stream header declares; the XML
 * namespace can only be written with its own prefix, which no one may
 * declare as a default (XML Namespaces §3). */
static const char *
elem_prefix(const char *ns)
{
	if (strcmp(ns, XMPP_NS_DIALBACK) == 0)
		return "db";
	if (strcmp(ns, XMPP_NS_STREAM) == 0)
		return "stream";
	if (strcmp(ns, XMPP_NS_XML) == 0)
		return "xml";
	return NULL;
}

static int
put_qname(struct xml_buf *b, const char *prefix, const char *name)
{
	if (prefix && (xml_buf_str(b, prefix) < 0 || xml_buf_add(b, ":", 1) < 0))
		return -ENOMEM;
	return xml_buf_str(b, name);
}

/* ' name='value'', the value escaped. */
static int
put_attr(struct xml_buf *b, const char *prefix, const char *name, const char *value)
{
	if (xml_buf_add(b, " ", 1) < 0 || put_qname(b, prefix, name) < 0 ||
	    xml_buf_add(b, "='", 2) < 0 ||
	    xml_buf_escape(b, value, strlen(value), true) < 0 || xml_buf_add(b, "'", 1) < 0)
		return -ENOMEM;
	return 0;
}

/* Whether attribute a needs a prefix we declare: qualified, and not in the
 * XML namespace, whose xml prefix is bound by definition (XML Namespaces §3). */
static bool
needs_prefix(const struct xml_attr *a)
{
	return a->ns && a->ns[0] && strcmp(a->ns, XMPP_NS_XML) != 0;
}

/* A qualified attribute gets the prefix a<j>, j the index of the element's
 * first attribute in the same namespace, declared on the element itself
 * when i == j: one declaration per namespace, no clash between two. */
static size_t
first_in_ns(const struct xml_elem *e, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (needs_prefix(&e->attrs[j]) && strcmp(e->attrs[j].ns, e->attrs[i].ns) == 0)
			return j;
	return i;
}

static int
put_attrs(struct xml_buf *b, const struct xml_elem *e)
{
	for (size_t i = 0; i < e->nattrs; i++) {
		const struct xml_attr *a = &e->attrs[i];
		char prefix[24];
		size_t j;

		if (a->ns == NULL || a->ns[0] == '\0') {
			if (put_attr(b, NULL, a->name, a->value) < 0)
				return -ENOMEM;
			continue;
		}
		if (!needs_prefix(a)) {
			if (put_attr(b, "xml", a->name, a->value) < 0)
				return -ENOMEM;
			continue;
		}
		j = first_in_ns(e, i);
		snprintf(prefix, sizeof(prefix), "a%zu", j);
		if (j == i && put_attr(b, "xmlns", prefix, a->ns) < 0)
			return -ENOMEM;
		if (put_attr(b, prefix, a->name, a->value) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* e and its subtree; scope is the default namespace in force where e is
 * written. */
static int
put_elem(struct xml_buf *b, const struct xml_elem *e, const char *scope)
{
	const char *ns = e->ns ? e->ns : "";
	const char *prefix = elem_prefix(ns);
	const char *inner = scope;

	if (xml_buf_add(b, "<", 1) < 0 || put_qname(b, prefix, e->name) < 0)
		return -ENOMEM;
	if (prefix == NULL && strcmp(ns, scope) != 0) {
		if (put_attr(b, NULL, "xmlns", ns) < 0)
			return -ENOMEM;
		inner = ns;
	}
	if (put_attrs(b, e) < 0)
		return -ENOMEM;
	if (e->first_child == NULL && e->text_len == 0)
		return xml_buf_add(b, "/>", 2);
	if (xml_buf_add(b, ">", 1) < 0 || xml_buf_escape(b, e->text, e->text_len, false) < 0)
		return -ENOMEM;
	for (const struct xml_elem *c = e->first_child; c; c = c->next)
		if (put_elem(b, c, inner) < 0)
			return -ENOMEM;
	if (xml_buf_add(b, "</", 2) < 0 || put_qname(b, prefix, e->name) < 0 ||
	    xml_buf_add(b, ">", 1) < 0)
		return -ENOMEM;
	return 0;
}

int
xml_serialize(struct xml_buf *b, const struct xml_elem *e, const char *parent_ns)
{
	size_t start = b->len;

	if (put_elem(b, e, parent_ns ? parent_ns : "") < 0) {
		b->len = start;
		return -ENOMEM;
	}
	return 0;
}
