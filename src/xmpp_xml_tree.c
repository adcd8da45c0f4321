/* xmpp_xml_tree.c: element trees of the XMPP XML layer (RFC 6120 §4.1, §11):
 * the per-doc arena, building (new, add, set, copy) and queries.  See
 * sipedge/xmpp_xml.h.
 *
 * A doc is an arena: every element, attribute array and string of its tree is
 * carved from a few large blocks and freed with the doc, so a stanza costs
 * one or two mallocs however many strings it has, and a queue can charge a
 * stanza exactly what it holds (xml_doc_size). */
#include <errno.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sipedge/xmpp_xml.h"
#include "xmpp_xml_int.h"

#define XML_ALIGN alignof(max_align_t)

/* Blocks after the first grow to at most this, unless one request is larger. */
#define XML_BLOCK_MAX 65536

static size_t
round_up(size_t n)
{
	return (n + XML_ALIGN - 1) & ~(size_t)(XML_ALIGN - 1);
}

struct xml_doc *
xmpp_xml__doc_create(size_t hint)
{
	size_t head = round_up(sizeof(struct xml_doc));
	size_t total = head + round_up(hint < 256 ? 256 : hint);
	struct xml_doc *d = malloc(total);

	if (d == NULL)
		return NULL;
	d->root = NULL;
	d->cur = (char *)d + head;
	d->end = (char *)d + total;
	d->chunks = NULL;
	d->size = total;
	d->next_block = 2 * (total - head);
	return d;
}

/* A new block able to hold n octets after its header; the rest of the old
 * block is abandoned (it is at most what the request did not fit in). */
static int
grow(struct xml_doc *d, size_t n)
{
	size_t head = round_up(sizeof(struct xml_chunk));
	size_t want = d->next_block;
	struct xml_chunk *c;

	if (n > SIZE_MAX / 2 - head)
		return -ENOMEM;
	if (want < n)
		want = round_up(n);
	if ((c = malloc(head + want)) == NULL)
		return -ENOMEM;
	c->next = d->chunks;
	c->size = head + want;
	d->chunks = c;
	d->size += c->size;
	d->cur = (char *)c + head;
	d->end = d->cur + want;
	if (d->next_block < XML_BLOCK_MAX)
		d->next_block *= 2;
	return 0;
}

void *
xmpp_xml__alloc(struct xml_doc *d, size_t n)
{
	uintptr_t at = ((uintptr_t)d->cur + XML_ALIGN - 1) & ~(uintptr_t)(XML_ALIGN - 1);
	void *p;

	if (n == 0)
		n = 1;
	if (at > (uintptr_t)d->end || n > (uintptr_t)d->end - at) {
		if (grow(d, n) < 0)
			return NULL;
		at = (uintptr_t)d->cur;        /* a new block starts aligned */
	}
	p = (void *)at;
	d->cur = (char *)at + n;
	return p;
}

char *
xmpp_xml__strdup(struct xml_doc *d, const char *s, size_t n)
{
	char *p;

	/* Strings need no alignment: they are packed. */
	if ((size_t)(d->end - d->cur) <= n) {
		if (n >= SIZE_MAX / 2 || grow(d, n + 1) < 0)
			return NULL;
	}
	p = d->cur;
	d->cur += n + 1;
	if (n)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

size_t
xmpp_xml__attrs_cap(size_t n)
{
	size_t cap = 4;

	if (n == 0)
		return 0;
	while (cap < n)
		cap *= 2;
	return cap;
}

struct xml_elem *
xmpp_xml__elem_new(struct xml_doc *d, struct xml_elem *parent, const char *ns,
    const char *name)
{
	struct xml_elem *e = xmpp_xml__alloc(d, sizeof(*e));

	if (e == NULL)
		return NULL;
	e->ns = ns;
	e->name = name;
	e->attrs = NULL;
	e->nattrs = 0;
	e->parent = parent;
	e->first_child = e->last_child = e->next = NULL;
	e->text = "";
	e->text_len = 0;
	if (parent == NULL)
		d->root = e;
	else if (parent->last_child)
		parent->last_child = parent->last_child->next = e;
	else
		parent->first_child = parent->last_child = e;
	return e;
}

/* ns as the tree stores it: shared with the parent when equal, which is
 * the common case (a stanza's children are mostly in its namespace). */
static const char *
ns_intern(struct xml_doc *d, const struct xml_elem *parent, const char *ns)
{
	if (parent && ns == NULL)
		return parent->ns;
	if (ns == NULL || ns[0] == '\0')
		return "";
	if (parent && strcmp(parent->ns, ns) == 0)
		return parent->ns;
	return xmpp_xml__strdup(d, ns, strlen(ns));
}

int
xml_doc_new(struct xml_doc **out, const char *ns, const char *name)
{
	struct xml_doc *d = xmpp_xml__doc_create(XML_DOC_FIRST);

	if (d == NULL)
		return -ENOMEM;
	if (xml_elem_add(d, NULL, ns, name) == NULL) {
		xml_doc_free(d);
		return -ENOMEM;
	}
	*out = d;
	return 0;
}

struct xml_elem *
xml_doc_root(const struct xml_doc *d)
{
	return d ? d->root : NULL;
}

void
xml_doc_free(struct xml_doc *d)
{
	struct xml_chunk *c, *next;

	if (d == NULL)
		return;
	for (c = d->chunks; c; c = next) {
		next = c->next;
		free(c);
	}
	free(d);
}

size_t
xml_doc_size(const struct xml_doc *d)
{
	return d ? d->size : 0;
}

struct xml_elem *
xml_elem_add(struct xml_doc *d, struct xml_elem *parent, const char *ns, const char *name)
{
	const char *n, *s;

	if ((s = ns_intern(d, parent, ns)) == NULL)
		return NULL;
	if ((n = xmpp_xml__strdup(d, name, strlen(name))) == NULL)
		return NULL;
	return xmpp_xml__elem_new(d, parent, s, n);
}

/* Index of the attribute {ns}name in e, or -1. */
static long
attr_find(const struct xml_elem *e, const char *ns, const char *name)
{
	if (ns && ns[0] == '\0')
		ns = NULL;             /* "" is no namespace, as NULL */
	for (size_t i = 0; i < e->nattrs; i++) {
		const struct xml_attr *a = &e->attrs[i];

		if (strcmp(a->name, name) != 0)
			continue;
		if (ns == NULL ? a->ns == NULL : a->ns != NULL && strcmp(a->ns, ns) == 0)
			return (long)i;
	}
	return -1;
}

int
xml_attr_set(struct xml_doc *d, struct xml_elem *e, const char *ns, const char *name,
    const char *value)
{
	long i = attr_find(e, ns, name);
	struct xml_attr *a;
	char *v = xmpp_xml__strdup(d, value, strlen(value));

	if (v == NULL)
		return -ENOMEM;
	if (i >= 0) {
		e->attrs[i].value = v;
		return 0;
	}
	if (e->nattrs == xmpp_xml__attrs_cap(e->nattrs)) {
		size_t cap = xmpp_xml__attrs_cap(e->nattrs + 1);
		struct xml_attr *na = xmpp_xml__alloc(d, cap * sizeof(*na));

		if (na == NULL)
			return -ENOMEM;
		if (e->nattrs)
			memcpy(na, e->attrs, e->nattrs * sizeof(*na));
		e->attrs = na;
	}
	a = &e->attrs[e->nattrs];
	a->ns = NULL;
	if (ns && ns[0] && (a->ns = xmpp_xml__strdup(d, ns, strlen(ns))) == NULL)
		return -ENOMEM;
	if ((a->name = xmpp_xml__strdup(d, name, strlen(name))) == NULL)
		return -ENOMEM;
	a->value = v;
	e->nattrs++;
	return 0;
}

int
xml_text_set(struct xml_doc *d, struct xml_elem *e, const char *text, size_t len)
{
	char *t;

	if (len == 0) {
		e->text = "";
		e->text_len = 0;
		return 0;
	}
	if ((t = xmpp_xml__strdup(d, text, len)) == NULL)
		return -ENOMEM;
	e->text = t;
	e->text_len = len;
	return 0;
}

/* One element of a copy: name, namespace, attributes and text, no children. */
static struct xml_elem *
copy_one(struct xml_doc *d, struct xml_elem *parent, const struct xml_elem *src)
{
	struct xml_elem *e = xml_elem_add(d, parent, src->ns, src->name);

	if (e == NULL)
		return NULL;
	if (src->nattrs) {
		size_t cap = xmpp_xml__attrs_cap(src->nattrs);

		if ((e->attrs = xmpp_xml__alloc(d, cap * sizeof(*e->attrs))) == NULL)
			return NULL;
		for (size_t i = 0; i < src->nattrs; i++) {
			const struct xml_attr *s = &src->attrs[i];
			struct xml_attr *a = &e->attrs[i];

			a->ns = NULL;
			if (s->ns && (a->ns = xmpp_xml__strdup(d, s->ns, strlen(s->ns))) == NULL)
				return NULL;
			if ((a->name = xmpp_xml__strdup(d, s->name, strlen(s->name))) == NULL ||
			    (a->value = xmpp_xml__strdup(d, s->value, strlen(s->value))) == NULL)
				return NULL;
		}
		e->nattrs = src->nattrs;
	}
	if (xml_text_set(d, e, src->text, src->text_len) < 0)
		return NULL;
	return e;
}

/* Walks src's subtree without recursion (a built tree has no depth limit):
 * down to the first child, else across to the next sibling, else up until a
 * sibling is found or src is reached again. */
static struct xml_elem *
copy_tree(struct xml_doc *d, struct xml_elem *parent, const struct xml_elem *src)
{
	struct xml_elem *top = copy_one(d, parent, src), *to = top;
	const struct xml_elem *from = src;

	if (top == NULL)
		return NULL;
	for (;;) {
		if (from->first_child) {
			from = from->first_child;
			if ((to = copy_one(d, to, from)) == NULL)
				return NULL;
			continue;
		}
		while (from != src && from->next == NULL) {
			from = from->parent;
			to = to->parent;
		}
		if (from == src)
			return top;
		from = from->next;
		if ((to = copy_one(d, to->parent, from)) == NULL)
			return NULL;
	}
}

struct xml_elem *
xml_elem_copy(struct xml_doc *d, struct xml_elem *parent, const struct xml_elem *src)
{
	if (parent == NULL || src == NULL)
		return NULL;
	return copy_tree(d, parent, src);
}

int
xml_doc_copy(struct xml_doc **out, const struct xml_elem *src)
{
	struct xml_doc *d = xmpp_xml__doc_create(XML_DOC_FIRST);

	if (d == NULL)
		return -ENOMEM;
	if (copy_tree(d, NULL, src) == NULL) {
		xml_doc_free(d);
		return -ENOMEM;
	}
	*out = d;
	return 0;
}

const char *
xml_attr_get(const struct xml_elem *e, const char *name)
{
	long i = attr_find(e, NULL, name);

	return i < 0 ? NULL : e->attrs[i].value;
}

const char *
xml_attr_get_ns(const struct xml_elem *e, const char *ns, const char *name)
{
	long i = attr_find(e, ns, name);

	return i < 0 ? NULL : e->attrs[i].value;
}

bool
xml_is(const struct xml_elem *e, const char *ns, const char *name)
{
	if (e == NULL)
		return false;
	if (name && strcmp(e->name, name) != 0)
		return false;
	return ns == NULL || strcmp(e->ns, ns) == 0;
}

struct xml_elem *
xml_child(const struct xml_elem *e, const char *ns, const char *name)
{
	for (struct xml_elem *c = e ? e->first_child : NULL; c; c = c->next)
		if (xml_is(c, ns, name))
			return c;
	return NULL;
}
