/* test_xmpp_xml.c: unit tests for the XML layer of XMPP streams (src/xmpp_xml*.c,
 * RFC 6120 §4, §4.9, §11; XEP-0220 dialback elements): the stream parser's
 * events, restricted XML, limits, split feeding, pause and restart, errors,
 * the tree API, escaping and serializer round trips, whole documents. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>

#include "sipedge/xmpp_xml.h"
#include "../../src/xmpp_xml_int.h"
#include "unit.h"

#define HDR "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' " \
	"xmlns:db='jabber:server:dialback' from='fabrikam.test' to='contoso.test' id='s1' " \
	"version='1.0' xml:lang='en'>"

/* ------------------------------------------------------------ harness */

/* What a stream's callbacks saw, as one transcript line per event (the
 * elements serialized), so that feeds can be compared whole. */
struct got {
	struct xml_buf log;
	int opens, closes, elems;
	char to[64], lang[16], dflt[64];
	const char *pause_on;          /* local name to pause after */
	int elem_rc;                   /* returned for every element if not 0 */
	int open_rc;                   /* returned for the header */
	int close_rc;                  /* returned for </stream:stream> */
	struct xml_doc *last;          /* the last element, kept */
	struct xmpp_parser *self;      /* for the re-entry test */
	int reentry_rc;
};

static int
g_open(void *ud, const struct xml_elem *h, const char *dflt)
{
	struct got *g = ud;
	const char *v;

	g->opens++;
	snprintf(g->to, sizeof(g->to), "%s", (v = xml_attr_get(h, "to")) ? v : "");
	snprintf(g->lang, sizeof(g->lang), "%s",
	    (v = xml_attr_get_ns(h, XMPP_NS_XML, "lang")) ? v : "");
	snprintf(g->dflt, sizeof(g->dflt), "%s", dflt);
	xml_buf_str(&g->log, "open ");
	xml_buf_str(&g->log, h->name);
	xml_buf_str(&g->log, " ");
	xml_buf_str(&g->log, dflt);
	xml_buf_str(&g->log, "\n");
	return g->open_rc;
}

static int
g_elem(void *ud, struct xml_doc *d)
{
	struct got *g = ud;
	int rc = g->elem_rc;

	g->elems++;
	xml_serialize(&g->log, xml_doc_root(d), XMPP_NS_SERVER);
	xml_buf_str(&g->log, "\n");
	if (g->self) {
		size_t used;

		g->reentry_rc = xmpp_parser_feed(g->self, "<a/>", 4, &used);
		if (xmpp_parser_reset(g->self) != -EBUSY)
			g->reentry_rc = 0;
	}
	if (g->pause_on && strcmp(xml_doc_root(d)->name, g->pause_on) == 0)
		rc = XMPP_PARSER_PAUSE;
	xml_doc_free(g->last);
	g->last = d;
	return rc;
}

static int
g_close(void *ud)
{
	struct got *g = ud;

	g->closes++;
	xml_buf_str(&g->log, "close\n");
	return g->close_rc;
}

static const struct xmpp_parser_cbs cbs = { g_open, g_elem, g_close };

static void
got_free(struct got *g)
{
	xml_buf_free(&g->log);
	xml_doc_free(g->last);
	memset(g, 0, sizeof(*g));
}

static const char *
log_str(struct got *g)
{
	xml_buf_add(&g->log, "", 1);
	g->log.len--;
	return g->log.p ? g->log.p : "";
}

/* Feed s whole to a new parser with limits l (NULL: defaults): the status;
 * the parser in *pp if pp, else freed. */
static int
feed_new(const char *s, size_t n, const struct xmpp_parser_limits *l, struct got *g,
    struct xmpp_parser **pp)
{
	struct xmpp_parser *p;
	size_t used = 0;
	int rc;

	if (xmpp_parser_new(l, &cbs, g, &p) < 0)
		return -1000;
	rc = xmpp_parser_feed(p, s, n, &used);
	if (rc == 0 && used != n)
		rc = -1001;
	if (pp)
		*pp = p;
	else
		xmpp_parser_free(p);
	return rc;
}

/* The stream s must fail with condition e (and, if want_text, a reason
 * containing it). */
static int
expect_error(const char *s, size_t n, const struct xmpp_parser_limits *l, enum xmpp_serr e,
    const char *want_text)
{
	struct got g = { 0 };
	struct xmpp_parser *p;
	const char *text;
	bool big;
	int rc = feed_new(s, n, l, &g, &p);
	enum xmpp_serr got = xmpp_parser_error(p, &text, &big);
	int bad = rc != -EPROTO || got != e || (want_text && strstr(text, want_text) == NULL);

	if (bad)
		fprintf(stderr, "# %.60s...: rc %d, %s \"%s\", wanted %s\n", s, rc,
		    xmpp_serr_name(got), text, xmpp_serr_name(e));
	/* Once broken, a stream stays broken. */
	else if (xmpp_parser_feed(p, " ", 1, NULL) != -EPROTO)
		bad = 1;
	xmpp_parser_free(p);
	got_free(&g);
	return bad;
}

#define EXPECT(s, l, e, t) CHECK(expect_error(s, strlen(s), l, e, t) == 0)

/* pre, unit times over, post: a new string. */
static char *
wrap(const char *pre, const char *unit, size_t times, const char *post)
{
	size_t a = strlen(pre), u = strlen(unit), z = strlen(post);
	char *s = malloc(a + u * times + z + 1);

	memcpy(s, pre, a);
	for (size_t i = 0; i < times; i++)
		memcpy(s + a + i * u, unit, u);
	memcpy(s + a + u * times, post, z + 1);
	return s;
}

/* A formatted string for building inputs. */
static char *
fmt(const char *f, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, f);
	n = vsnprintf(NULL, 0, f, ap);
	va_end(ap);
	s = malloc((size_t)n + 1);
	va_start(ap, f);
	vsnprintf(s, (size_t)n + 1, f, ap);
	va_end(ap);
	return s;
}

static char *
repeat(const char *unit, size_t times)
{
	return wrap("", unit, times, "");
}

/* Two trees are equal: names, namespaces, attributes in order, text,
 * children. */
static bool
tree_eq(const struct xml_elem *a, const struct xml_elem *b)
{
	const struct xml_elem *x, *y;

	if (strcmp(a->ns, b->ns) || strcmp(a->name, b->name) || a->nattrs != b->nattrs ||
	    a->text_len != b->text_len || memcmp(a->text, b->text, a->text_len) ||
	    a->text[a->text_len] != '\0')
		return false;
	for (size_t i = 0; i < a->nattrs; i++) {
		const struct xml_attr *p = &a->attrs[i], *q = &b->attrs[i];

		if ((p->ns == NULL) != (q->ns == NULL) || (p->ns && strcmp(p->ns, q->ns)) ||
		    strcmp(p->name, q->name) || strcmp(p->value, q->value))
			return false;
	}
	for (x = a->first_child, y = b->first_child; x && y; x = x->next, y = y->next)
		if (x->parent != a || y->parent != b || !tree_eq(x, y))
			return false;
	return x == NULL && y == NULL;
}

/* ------------------------------------------------------ stream events */

static const char sample[] =
    "<?xml version='1.0'?>" HDR
    "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>"
    "<dialback xmlns='urn:xmpp:features:dialback'/></stream:features>\n"
    "<db:result from='fabrikam.test' to='contoso.test'>b4835385f37fe2895af6c196b59097b16862406db80559900d96bf6fa7d23df3</db:result>"
    "<message from='alice@fabrikam.test/laptop' to='bob@contoso.test' type='chat' id='m1' xml:lang='fr'>"
    "<body>h\xc3\xa9llo &amp; &lt;x&gt; &#x263A;\r\nbye</body><thread>t1</thread>"
    "<html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'><p>hi</p></body></html>"
    "</message> \t\r\n "
    "<presence from='alice@fabrikam.test' to='bob@contoso.test'><show>away</show><status>out</status>"
    "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='v='/></presence>"
    "<iq type='get' id='p1' from='fabrikam.test' to='contoso.test'><ping xmlns='urn:xmpp:ping'/></iq>"
    "<iq type='error' id='p2'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
    "<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='en'>\"quoted\" 'apos'</text></error></iq>"
    "</stream:stream>";

static const char sample_log[] =
    "open stream jabber:server\n"
    "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>"
    "<dialback xmlns='urn:xmpp:features:dialback'/></stream:features>\n"
    "<db:result from='fabrikam.test' to='contoso.test'>b4835385f37fe2895af6c196b59097b16862406db80559900d96bf6fa7d23df3</db:result>\n"
    "<message from='alice@fabrikam.test/laptop' to='bob@contoso.test' type='chat' id='m1' xml:lang='fr'>"
    "<body>h\xc3\xa9llo &amp; &lt;x&gt; \xe2\x98\xba\nbye</body><thread>t1</thread>"
    "<html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'><p>hi</p></body></html>"
    "</message>\n"
    "<presence from='alice@fabrikam.test' to='bob@contoso.test'><show>away</show><status>out</status>"
    "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='v='/></presence>\n"
    "<iq type='get' id='p1' from='fabrikam.test' to='contoso.test'><ping xmlns='urn:xmpp:ping'/></iq>\n"
    "<iq type='error' id='p2'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
    "<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='en'>\"quoted\" 'apos'</text></error></iq>\n"
    "close\n";

static int
test_xmpp_xml_stream_events(void)
{
	struct got g = { 0 };
	struct xmpp_parser *p;
	const struct xml_elem *e, *body;

	CHECK_EQ_INT(feed_new(sample, sizeof(sample) - 1, NULL, &g, &p), 0);
	CHECK_EQ_STR(log_str(&g), sample_log);
	CHECK_EQ_INT(g.opens, 1);
	CHECK_EQ_INT(g.closes, 1);
	CHECK_EQ_INT(g.elems, 6);
	CHECK_EQ_STR(g.to, "contoso.test");
	CHECK_EQ_STR(g.lang, "en");
	CHECK_EQ_STR(g.dflt, XMPP_NS_SERVER);
	CHECK_EQ_INT(xmpp_parser_bytes(p), sizeof(sample) - 1);
	/* The last element's tree in detail. */
	e = xml_doc_root(g.last);
	CHECK(xml_is(e, XMPP_NS_SERVER, "iq"));
	CHECK_EQ_STR(xml_attr_get(e, "type"), "error");
	CHECK(xml_attr_get(e, "from") == NULL);
	CHECK(e->parent == NULL && e->next == NULL);
	body = xml_child(xml_child(e, XMPP_NS_SERVER, "error"), XMPP_NS_STANZAS, "text");
	CHECK(body != NULL);
	CHECK_EQ_STR(xml_attr_get_ns(body, XMPP_NS_XML, "lang"), "en");
	CHECK(xml_attr_get(body, "lang") == NULL);
	CHECK_EQ_STR(body->text, "\"quoted\" 'apos'");
	CHECK_EQ_INT(body->text_len, 15);
	CHECK(xml_child(e, XMPP_NS_CLIENT, "error") == NULL);
	CHECK(xml_child(e, NULL, "error") != NULL);
	CHECK(xml_child(e, NULL, NULL) == e->first_child);
	CHECK(xml_doc_size(g.last) >= XML_DOC_FIRST);
	xmpp_parser_free(p);
	got_free(&g);
	return 0;
}

/* Mixed content: the text of an element is its character data directly
 * inside it, concatenated around its children; a CDATA section is text. */
static int
test_xmpp_xml_text(void)
{
	struct got g = { 0 };
	const struct xml_elem *e;
	const char *s = HDR "<message>a<x>1</x>b<![CDATA[<c&>]]><y/>d</message>";

	CHECK_EQ_INT(feed_new(s, strlen(s), NULL, &g, NULL), 0);
	e = xml_doc_root(g.last);
	CHECK_EQ_STR(e->text, "ab<c&>d");
	CHECK_EQ_STR(e->first_child->text, "1");
	CHECK_EQ_STR(e->last_child->text, "");
	CHECK_EQ_INT(e->last_child->text_len, 0);
	got_free(&g);
	return 0;
}

static int
test_xmpp_xml_dialback(void)
{
	struct got g = { 0 };
	struct xml_buf b = { 0 };
	const struct xml_elem *e;
	const char *s = HDR "<db:verify from='a.test' to='b.test' id='s9'>k3y</db:verify>"
	    "<db:result from='a.test' to='b.test' type='error'><error type='cancel'>"
	    "<item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></db:result>"
	    "<d:result xmlns:d='jabber:server:dialback' from='c.test' to='b.test'>x</d:result>";

	CHECK_EQ_INT(feed_new(s, strlen(s), NULL, &g, NULL), 0);
	CHECK_EQ_STR(log_str(&g), "open stream jabber:server\n"
	    "<db:verify from='a.test' to='b.test' id='s9'>k3y</db:verify>\n"
	    "<db:result from='a.test' to='b.test' type='error'><error type='cancel'>"
	    "<item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></db:result>\n"
	    "<db:result from='c.test' to='b.test'>x</db:result>\n");
	e = xml_doc_root(g.last);
	CHECK(xml_is(e, XMPP_NS_DIALBACK, "result"));
	/* The error inside db:result is in the stream's default namespace. */
	xml_serialize(&b, e, XMPP_NS_CLIENT);
	xml_buf_add(&b, "", 1);
	CHECK_EQ_STR(b.p, "<db:result from='c.test' to='b.test'>x</db:result>");
	xml_buf_free(&b);
	got_free(&g);
	return 0;
}

/* Every split of the sample into two reads, and one octet per read, gives
 * the same events as one read. */
static int
test_xmpp_xml_split_feeding(void)
{
	size_t n = sizeof(sample) - 1;

	for (size_t k = 0; k <= n; k++) {
		struct got g = { 0 };
		struct xmpp_parser *p;
		size_t used;

		CHECK(xmpp_parser_new(NULL, &cbs, &g, &p) == 0);
		CHECK_EQ_INT(xmpp_parser_feed(p, sample, k, &used), 0);
		CHECK_EQ_INT(used, k);
		CHECK_EQ_INT(xmpp_parser_feed(p, sample + k, n - k, &used), 0);
		CHECK_EQ_INT(used, n - k);
		CHECK_EQ_STR(log_str(&g), sample_log);
		CHECK_EQ_INT(xmpp_parser_bytes(p), n);
		xmpp_parser_free(p);
		got_free(&g);
	}
	{
		struct got g = { 0 };
		struct xmpp_parser *p;

		CHECK(xmpp_parser_new(NULL, &cbs, &g, &p) == 0);
		for (size_t i = 0; i < n; i++)
			CHECK_EQ_INT(xmpp_parser_feed(p, sample + i, 1, NULL), 0);
		CHECK_EQ_STR(log_str(&g), sample_log);
		xmpp_parser_free(p);
		got_free(&g);
	}
	return 0;
}

/* ------------------------------------------------- pause, reset, restart */

/* STARTTLS (RFC 6120 §5.4.3.3): the parser stops right after <proceed/>;
 * what follows is TLS, not XML, and must not be parsed.  After the
 * handshake a new stream starts on a reset parser. */
static int
test_xmpp_xml_pause_starttls(void)
{
	/* The start of a TLS ClientHello, then octets XML would choke on. */
	static const char tls[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03<\x00>&";
	static const char xml[] = HDR "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
	struct got g = { .pause_on = "proceed" };
	struct xmpp_parser *p;
	size_t at = sizeof(xml) - 1, n = at + sizeof(tls) - 1, used = 0;
	char *s = malloc(n);

	memcpy(s, xml, at);
	memcpy(s + at, tls, sizeof(tls) - 1);
	CHECK(xmpp_parser_new(NULL, &cbs, &g, &p) == 0);
	CHECK_EQ_INT(xmpp_parser_feed(p, s, n, &used), XMPP_PARSER_PAUSE);
	CHECK_EQ_INT(used, at);
	CHECK_EQ_INT(xmpp_parser_bytes(p), at);
	CHECK_EQ_INT(g.elems, 1);
	CHECK_EQ_INT(xmpp_parser_error(p, NULL, NULL), XMPP_SERR_NONE);
	/* The same with the element split over reads, the last read ending in
	 * TLS octets. */
	CHECK_EQ_INT(xmpp_parser_reset(p), 0);
	CHECK_EQ_INT(xmpp_parser_bytes(p), 0);
	CHECK_EQ_INT(xmpp_parser_feed(p, s, at - 5, &used), 0);
	CHECK_EQ_INT(xmpp_parser_feed(p, s + at - 5, n - at + 5, &used), XMPP_PARSER_PAUSE);
	CHECK_EQ_INT(used, 5);
	/* The new stream after TLS. */
	CHECK_EQ_INT(xmpp_parser_reset(p), 0);
	CHECK_EQ_INT(xmpp_parser_feed(p, sample, sizeof(sample) - 1, &used), 0);
	CHECK_EQ_INT(g.opens, 3);
	CHECK_EQ_INT(g.closes, 1);
	CHECK_EQ_INT(xmpp_parser_bytes(p), sizeof(sample) - 1);
	xmpp_parser_free(p);
	got_free(&g);
	free(s);
	return 0;
}

/* SASL success (RFC 6120 §6.4.6): the stream restarts, and the peer's new
 * header may be in the same read as what came before. */
static int
test_xmpp_xml_reset_sasl(void)
{
	struct got g = { .pause_on = "success" };
	struct xmpp_parser *p;
	const char *s = HDR "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"
	    "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "
	    "to='next.test' version='1.0'><message><body>after</body></message>";
	size_t n = strlen(s), used, first;

	CHECK(xmpp_parser_new(NULL, &cbs, &g, &p) == 0);
	CHECK_EQ_INT(xmpp_parser_feed(p, s, n, &used), XMPP_PARSER_PAUSE);
	first = used;
	CHECK_EQ_INT(first, strlen(HDR "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"));
	CHECK_EQ_INT(xmpp_parser_reset(p), 0);
	CHECK_EQ_INT(xmpp_parser_feed(p, s + first, n - first, &used), 0);
	CHECK_EQ_INT(used, n - first);
	CHECK_EQ_INT(g.opens, 2);
	CHECK_EQ_STR(g.to, "next.test");
	CHECK_EQ_STR(xml_doc_root(g.last)->first_child->text, "after");
	/* Without the reset the second header is an element in the old stream:
	 * a <stream/> that never closes, refused at the size limit or at the
	 * end; here it simply is not delivered. */
	xmpp_parser_free(p);
	got_free(&g);
	return 0;
}

/* A pause without a reset: the caller feeds the rest, and the stream goes
 * on where it stopped (the parser is brought back inside the stream). */
static int
test_xmpp_xml_pause_resume(void)
{
	struct got g = { .pause_on = "db" }, whole = { 0 };
	struct xmpp_parser *p;
	const char *s = HDR "<a/><db/><b x='1'><c/></b> <db/><p:d xmlns:p='urn:p'/></stream:stream>";
	size_t n = strlen(s), off = 0, used, pauses = 0;
	int rc;

	CHECK(xmpp_parser_new(NULL, &cbs, &g, &p) == 0);
	while ((rc = xmpp_parser_feed(p, s + off, n - off, &used)) == XMPP_PARSER_PAUSE) {
		off += used;
		pauses++;
		CHECK_EQ_STR(xml_doc_root(g.last)->name, "db");
	}
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_INT(pauses, 2);
	CHECK_EQ_INT(xmpp_parser_bytes(p), n);
	CHECK_EQ_INT(feed_new(s, n, NULL, &whole, NULL), 0);
	CHECK_EQ_STR(log_str(&g), log_str(&whole));
	CHECK_EQ_INT(g.closes, 1);
	xmpp_parser_free(p);
	got_free(&g);
	got_free(&whole);
	/* A pause at </stream:stream>: only white space may follow. */
	CHECK(xmpp_parser_new(NULL, &cbs, &g, &p) == 0);
	g.close_rc = XMPP_PARSER_PAUSE;
	s = HDR "<a/></stream:stream> \n<b/>";
	n = strlen(s);
	CHECK_EQ_INT(xmpp_parser_feed(p, s, n, &used), XMPP_PARSER_PAUSE);
	CHECK_EQ_INT(used, n - strlen(" \n<b/>"));
	CHECK_EQ_INT(xmpp_parser_feed(p, " \n", 2, &used), 0);
	CHECK_EQ_INT(used, 2);
	CHECK_EQ_INT(xmpp_parser_feed(p, "<b/>", 4, &used), -EPROTO);
	CHECK_EQ_INT(xmpp_parser_error(p, NULL, NULL), XMPP_SERR_NOT_WELL_FORMED);
	CHECK_EQ_INT(g.elems, 1);
	xmpp_parser_free(p);
	got_free(&g);
	return 0;
}

/* A negative status from a callback stops the parser and comes back as is;
 * a callback cannot feed or reset its own parser. */
static int
test_xmpp_xml_callback_status(void)
{
	struct got g = { .elem_rc = -ECONNRESET };
	struct xmpp_parser *p;
	const char *s = HDR "<a/><b/>";

	CHECK_EQ_INT(feed_new(s, strlen(s), NULL, &g, &p), -ECONNRESET);
	CHECK_EQ_INT(g.elems, 1);
	CHECK_EQ_INT(xmpp_parser_feed(p, "<c/>", 4, NULL), -ECONNRESET);
	CHECK_EQ_INT(g.elems, 1);
	xmpp_parser_free(p);
	got_free(&g);

	CHECK(xmpp_parser_new(NULL, &cbs, &g, &p) == 0);
	g.self = p;
	CHECK_EQ_INT(xmpp_parser_feed(p, s, strlen(s), NULL), 0);
	CHECK_EQ_INT(g.reentry_rc, -EBUSY);
	CHECK_EQ_INT(g.elems, 2);
	xmpp_parser_free(p);
	got_free(&g);
	/* The open callback's status too. */
	g.open_rc = -EPERM;
	CHECK_EQ_INT(feed_new(s, strlen(s), NULL, &g, NULL), -EPERM);
	CHECK_EQ_INT(g.opens, 1);
	CHECK_EQ_INT(g.elems, 0);
	got_free(&g);
	return 0;
}

/* -------------------------------------------------- restricted XML, errors */

static int
test_xmpp_xml_restricted(void)
{
	EXPECT("<!DOCTYPE stream>" HDR, NULL, XMPP_SERR_RESTRICTED_XML, "DOCTYPE");
	EXPECT("<?xml version='1.0'?><!DOCTYPE s [<!ENTITY a 'b'>]>" HDR, NULL,
	    XMPP_SERR_RESTRICTED_XML, "DOCTYPE");
	EXPECT("<!DOCTYPE s SYSTEM 'file:///etc/passwd'>" HDR, NULL, XMPP_SERR_RESTRICTED_XML,
	    "DOCTYPE");
	EXPECT("<!-- c -->" HDR, NULL, XMPP_SERR_RESTRICTED_XML, "comments");
	EXPECT(HDR "<!-- keep-alive -->", NULL, XMPP_SERR_RESTRICTED_XML, "comments");
	EXPECT(HDR "<message><!-- c --></message>", NULL, XMPP_SERR_RESTRICTED_XML, "comments");
	EXPECT("<?pi x?>" HDR, NULL, XMPP_SERR_RESTRICTED_XML, "processing instructions");
	EXPECT(HDR "<?pi?>", NULL, XMPP_SERR_RESTRICTED_XML, "processing instructions");
	EXPECT(HDR "<message><?pi data?></message>", NULL, XMPP_SERR_RESTRICTED_XML,
	    "processing instructions");
	/* Entity references other than the predefined five, in text and in an
	 * attribute; character references are fine. */
	EXPECT(HDR "<message>&foo;</message>", NULL, XMPP_SERR_RESTRICTED_XML, "entity");
	EXPECT(HDR "<message a='&foo;'/>", NULL, XMPP_SERR_RESTRICTED_XML, "entity");
	return 0;
}

/* The handlers behind the DOCTYPE refusal, called as expat would if a
 * DOCTYPE got through (an entity declaration in its internal subset, an
 * external entity, a skipped entity): each refuses on its own. */
static int
test_xmpp_xml_restricted_handlers(void)
{
	struct got g = { 0 };
	struct xmpp_parser *p;
	const char *text;

	CHECK(xmpp_parser_new(NULL, &cbs, &g, &p) == 0);
	/* Let expat call the entity declaration handler: with the DOCTYPE
	 * handler removed, the internal subset is read. */
	XML_SetStartDoctypeDeclHandler(p->x, NULL);
	{
		const char *s = "<!DOCTYPE s [<!ENTITY a 'b'>]><s/>";

		CHECK_EQ_INT(xmpp_parser_feed(p, s, strlen(s), NULL), -EPROTO);
		CHECK_EQ_INT(xmpp_parser_error(p, &text, NULL), XMPP_SERR_RESTRICTED_XML);
		CHECK(strstr(text, "entity declarations") != NULL);
	}
	xmpp_parser_free(p);
	CHECK(xmpp_parser_new(NULL, &cbs, &g, &p) == 0);
	XML_SetStartDoctypeDeclHandler(p->x, NULL);
	XML_SetEntityDeclHandler(p->x, NULL);
	XML_SetParamEntityParsing(p->x, XML_PARAM_ENTITY_PARSING_ALWAYS);
	{
		const char *s = "<!DOCTYPE s [<!ENTITY e SYSTEM 'x.xml'>]>" HDR "<m>&e;</m>";

		CHECK_EQ_INT(xmpp_parser_feed(p, s, strlen(s), NULL), -EPROTO);
		CHECK_EQ_INT(xmpp_parser_error(p, &text, NULL), XMPP_SERR_RESTRICTED_XML);
		CHECK(strstr(text, "external entities") != NULL);
	}
	xmpp_parser_free(p);
	CHECK(xmpp_parser_new(NULL, &cbs, &g, &p) == 0);
	XML_SetStartDoctypeDeclHandler(p->x, NULL);
	XML_SetParamEntityParsing(p->x, XML_PARAM_ENTITY_PARSING_NEVER);
	{
		/* An external subset not read: undefined entities are skipped. */
		const char *s = "<!DOCTYPE s SYSTEM 'x.dtd'>" HDR "<m>&e;</m>";

		CHECK_EQ_INT(xmpp_parser_feed(p, s, strlen(s), NULL), -EPROTO);
		CHECK_EQ_INT(xmpp_parser_error(p, &text, NULL), XMPP_SERR_RESTRICTED_XML);
		CHECK(strstr(text, "entity references") != NULL);
	}
	xmpp_parser_free(p);
	got_free(&g);
	return 0;
}

/* Billion laughs: refused at the DOCTYPE, before a single entity exists,
 * with expat's memory no more than for any stream header. */
static int
test_xmpp_xml_billion_laughs(void)
{
	static const char lol[] =
	    "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>"
	    "<!ENTITY lol1 '&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;'>"
	    "<!ENTITY lol2 '&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;'>"
	    "<!ENTITY lol3 '&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;'>"
	    "<!ENTITY lol4 '&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;'>"
	    "<!ENTITY lol5 '&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;'>"
	    "<!ENTITY lol6 '&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;'>"
	    "<!ENTITY lol7 '&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;'>"
	    "<!ENTITY lol8 '&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;'>"
	    "<!ENTITY lol9 '&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;'>"
	    "]><stream:stream xmlns:stream='http://etherx.jabber.org/streams'>&lol9;";
	struct got g = { 0 };
	struct xmpp_parser *p;
	struct xml_doc *d = NULL;
	enum xmpp_serr e;
	const char *text;
	size_t header_peak;

	/* A plain header, for comparison. */
	CHECK_EQ_INT(feed_new(HDR, strlen(HDR), NULL, &g, &p), 0);
	header_peak = p->q.peak;
	xmpp_parser_free(p);
	got_free(&g);
	CHECK_EQ_INT(feed_new(lol, sizeof(lol) - 1, NULL, &g, &p), -EPROTO);
	CHECK_EQ_INT(xmpp_parser_error(p, &text, NULL), XMPP_SERR_RESTRICTED_XML);
	CHECK(strstr(text, "DOCTYPE") != NULL);
	CHECK_EQ_INT(g.opens, 0);
	if (p->q.peak > header_peak + 4096) {
		fprintf(stderr, "# peak %zu, header %zu\n", p->q.peak, header_peak);
		return 1;
	}
	xmpp_parser_free(p);
	/* One octet at a time: refused as soon as the DOCTYPE starts. */
	CHECK(xmpp_parser_new(NULL, &cbs, &g, &p) == 0);
	for (size_t i = 0; i < sizeof(lol) - 1; i++) {
		int rc = xmpp_parser_feed(p, lol + i, 1, NULL);

		if (rc < 0) {
			CHECK(i < sizeof("<?xml version='1.0'?><!DOCTYPE lolz ["));
			break;
		}
	}
	CHECK_EQ_INT(xmpp_parser_error(p, NULL, NULL), XMPP_SERR_RESTRICTED_XML);
	xmpp_parser_free(p);
	/* The same as a document. */
	CHECK_EQ_INT(xml_doc_parse(lol, sizeof(lol) - 1, NULL, &d, &e, &text), -EPROTO);
	CHECK_EQ_INT(e, XMPP_SERR_RESTRICTED_XML);
	CHECK(d == NULL);
	got_free(&g);
	return 0;
}

static int
test_xmpp_xml_namespaces(void)
{
	/* The root must be <stream/> in the stream namespace. */
	EXPECT("<stream xmlns='jabber:server'>", NULL, XMPP_SERR_INVALID_NAMESPACE, "root");
	EXPECT("<stream:stream xmlns:stream='http://etherx.jabber.org/stream'>", NULL,
	    XMPP_SERR_INVALID_NAMESPACE, NULL);
	EXPECT("<stream:streams xmlns:stream='http://etherx.jabber.org/streams'>", NULL,
	    XMPP_SERR_INVALID_NAMESPACE, NULL);
	EXPECT("<message xmlns='jabber:server'/>", NULL, XMPP_SERR_INVALID_NAMESPACE, NULL);
	/* Undeclared prefixes, on the root, on an element, on an attribute. */
	EXPECT("<stream:stream xmlns='jabber:server'>", NULL, XMPP_SERR_BAD_NAMESPACE_PREFIX, NULL);
	EXPECT(HDR "<x:message/>", NULL, XMPP_SERR_BAD_NAMESPACE_PREFIX, "prefix");
	EXPECT(HDR "<message x:a='1'/>", NULL, XMPP_SERR_BAD_NAMESPACE_PREFIX, NULL);
	EXPECT(HDR "<message xmlns:p=''/>", NULL, XMPP_SERR_BAD_NAMESPACE_PREFIX, NULL);
	EXPECT(HDR "<message xmlns:xml='urn:x'/>", NULL, XMPP_SERR_BAD_NAMESPACE_PREFIX, NULL);
	/* A prefix declared on the header holds for the stream; one declared
	 * on a stanza only there. */
	{
		struct got g = { 0 };
		const char *s = HDR "<db:result/><p:a xmlns:p='urn:p'><p:b/></p:a>";

		CHECK_EQ_INT(feed_new(s, strlen(s), NULL, &g, NULL), 0);
		CHECK(xml_is(xml_doc_root(g.last)->first_child, "urn:p", "b"));
		got_free(&g);
	}
	EXPECT(HDR "<p:a xmlns:p='urn:p'/><p:b/>", NULL, XMPP_SERR_BAD_NAMESPACE_PREFIX, NULL);
	/* A header without a default namespace: "" (the caller refuses it). */
	{
		struct got g = { 0 };
		const char *s = "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>";

		CHECK_EQ_INT(feed_new(s, strlen(s), NULL, &g, NULL), 0);
		CHECK_EQ_INT(g.opens, 1);
		CHECK_EQ_STR(g.dflt, "");
		got_free(&g);
	}
	return 0;
}

static int
test_xmpp_xml_encoding(void)
{
	struct got g = { 0 };

	EXPECT("<?xml version='1.0' encoding='ISO-8859-1'?>" HDR, NULL,
	    XMPP_SERR_UNSUPPORTED_ENCODING, "UTF-8");
	EXPECT("<?xml version='1.0' encoding='UTF-16'?>" HDR, NULL, XMPP_SERR_UNSUPPORTED_ENCODING,
	    NULL);
	CHECK(expect_error("\xff\xfe<\0s\0", 6, NULL, XMPP_SERR_UNSUPPORTED_ENCODING, NULL) == 0);
	CHECK(expect_error("\xfe\xff\0<\0s", 6, NULL, XMPP_SERR_UNSUPPORTED_ENCODING, NULL) == 0);
	CHECK(expect_error("<\0s\0", 4, NULL, XMPP_SERR_UNSUPPORTED_ENCODING, NULL) == 0);
	/* Octets that are not UTF-8: a lone continuation, a truncated
	 * sequence, an encoded surrogate, in text and in an attribute. */
	EXPECT(HDR "<message>\x80</message>", NULL, XMPP_SERR_UNSUPPORTED_ENCODING, "UTF-8");
	EXPECT(HDR "<message>\xc3</message>", NULL, XMPP_SERR_UNSUPPORTED_ENCODING, NULL);
	EXPECT(HDR "<message>\xed\xa0\x80</message>", NULL, XMPP_SERR_UNSUPPORTED_ENCODING, NULL);
	EXPECT(HDR "<message to='\xff'/>", NULL, XMPP_SERR_UNSUPPORTED_ENCODING, NULL);
	/* UTF-8 that XML does not allow is not-well-formed. */
	EXPECT(HDR "<message>\x01</message>", NULL, XMPP_SERR_NOT_WELL_FORMED, NULL);
	EXPECT(HDR "<message>\xef\xbf\xbf</message>", NULL, XMPP_SERR_NOT_WELL_FORMED, NULL);
	EXPECT(HDR "<message>&#0;</message>", NULL, XMPP_SERR_NOT_WELL_FORMED, NULL);
	EXPECT("<?xml version='1.1'?>" HDR, NULL, XMPP_SERR_BAD_FORMAT, "1.0");
	/* Accepted: UTF-8 named in any case, a byte order mark, no encoding. */
	{
		const char *ok[] = {
			"<?xml version='1.0' encoding='utf-8'?>" HDR,
			"\xef\xbb\xbf<?xml version='1.0' encoding='UTF-8'?>" HDR,
			"<?xml version=\"1.0\" standalone='yes'?>" HDR,
		};

		for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
			CHECK_EQ_INT(feed_new(ok[i], strlen(ok[i]), NULL, &g, NULL), 0);
			CHECK_EQ_INT(g.opens, (int)i + 1);
		}
	}
	got_free(&g);
	return 0;
}

static int
test_xmpp_xml_not_well_formed(void)
{
	EXPECT(HDR "<message></iq>", NULL, XMPP_SERR_NOT_WELL_FORMED, "mismatched");
	EXPECT(HDR "<message a='1' a='2'/>", NULL, XMPP_SERR_NOT_WELL_FORMED, NULL);
	EXPECT(HDR "<message a=1/>", NULL, XMPP_SERR_NOT_WELL_FORMED, NULL);
	EXPECT(HDR "<>", NULL, XMPP_SERR_NOT_WELL_FORMED, NULL);
	EXPECT(HDR "</stream:stream></stream:stream>", NULL, XMPP_SERR_NOT_WELL_FORMED, NULL);
	/* Text before the root, an XML declaration not at the start. */
	EXPECT("hello" HDR, NULL, XMPP_SERR_NOT_WELL_FORMED, NULL);
	EXPECT(" <?xml version='1.0'?>" HDR, NULL, XMPP_SERR_NOT_WELL_FORMED, NULL);
	EXPECT(HDR "<?xml version='1.0'?>", NULL, XMPP_SERR_NOT_WELL_FORMED, NULL);
	/* Text at stream level is well-formed but not XMPP: bad-format. */
	EXPECT(HDR "hello<message/>", NULL, XMPP_SERR_BAD_FORMAT, "text");
	EXPECT(HDR "<message/> x ", NULL, XMPP_SERR_BAD_FORMAT, NULL);
	EXPECT(HDR "&amp;", NULL, XMPP_SERR_BAD_FORMAT, NULL);
	/* After </stream:stream> only white space. */
	{
		struct got g = { 0 };
		struct xmpp_parser *p;
		const char *s = HDR "</stream:stream>\n ";

		CHECK_EQ_INT(feed_new(s, strlen(s), NULL, &g, &p), 0);
		CHECK_EQ_INT(g.closes, 1);
		CHECK_EQ_INT(xmpp_parser_feed(p, "  ", 2, NULL), 0);
		CHECK_EQ_INT(xmpp_parser_feed(p, "<a/>", 4, NULL), -EPROTO);
		CHECK_EQ_INT(xmpp_parser_error(p, NULL, NULL), XMPP_SERR_NOT_WELL_FORMED);
		xmpp_parser_free(p);
		got_free(&g);
	}
	return 0;
}

/* White space between elements (keep-alives, RFC 6120 §4.6.1) counts
 * against nothing, however much of it comes. */
static int
test_xmpp_xml_keepalive(void)
{
	struct got g = { 0 };
	struct xmpp_parser *p;
	struct xmpp_parser_limits l;
	char *ws = repeat(" \n\t\r", 5000);
	size_t used;

	xmpp_parser_limits_default(&l);
	l.stanza_max = 300;
	CHECK(strlen(HDR) < 300);
	CHECK_EQ_INT(feed_new(HDR, strlen(HDR), &l, &g, &p), 0);
	for (int i = 0; i < 50; i++) {
		CHECK_EQ_INT(xmpp_parser_feed(p, ws, strlen(ws), &used), 0);
		CHECK_EQ_INT(xmpp_parser_feed(p, " ", 1, &used), 0);
		CHECK_EQ_INT(xmpp_parser_feed(p, "<message/>", 10, &used), 0);
	}
	CHECK_EQ_INT(g.elems, 50);
	CHECK(p->q.used < 16384);
	/* Split keep-alive and element: still only the element is counted. */
	CHECK_EQ_INT(xmpp_parser_feed(p, "     <message>", 14, &used), 0);
	CHECK_EQ_INT(xmpp_parser_feed(p, "</message>    ", 14, &used), 0);
	CHECK_EQ_INT(g.elems, 51);
	xmpp_parser_free(p);
	got_free(&g);
	free(ws);
	return 0;
}

/* An idle stream's expat is given back between top-level elements and
 * made again, inside the stream, by what comes next: the sample fed one
 * octet at a time with a sleep tried after each gives the same transcript
 * as the whole sample (the header's prefixes and default namespace are
 * there again); it sleeps only between elements, white space does not wake
 * it, and the rules still hold after a wake. */
static int
test_xmpp_xml_sleep(void)
{
	struct got g = { 0 };
	struct xmpp_parser *p;
	size_t used, n = sizeof(sample) - 1, slept = 0, woke = 0;
	bool was = false;

	CHECK_EQ_INT(xmpp_parser_new(NULL, &cbs, &g, &p), 0);
	CHECK_EQ_INT(xmpp_parser_sleep(p), -EAGAIN);          /* no header yet */
	for (size_t i = 0; i < n; i++) {
		CHECK_EQ_INT(xmpp_parser_feed(p, sample + i, 1, &used), 0);
		CHECK_EQ_INT(used, 1);
		if (was && !xmpp_parser_asleep(p))
			woke++;
		if (xmpp_parser_sleep(p) == 0) {
			CHECK(xmpp_parser_asleep(p));
			CHECK_EQ_INT(p->q.used, 0);
			slept++;
		}
		was = xmpp_parser_asleep(p);
	}
	CHECK_EQ_STR(log_str(&g), sample_log);
	/* After the header and each of its six elements, and after each of
	 * the six octets of white space between them; woken by each element
	 * and by the end tag of the stream. */
	CHECK_EQ_INT(slept, 13);
	CHECK_EQ_INT(woke, 7);
	xmpp_parser_free(p);
	got_free(&g);

	/* Not inside an element, nor in a partial token. */
	CHECK_EQ_INT(feed_new(HDR "<message><body>", strlen(HDR) + 15, NULL, &g, &p), 0);
	CHECK_EQ_INT(xmpp_parser_sleep(p), -EAGAIN);
	CHECK_EQ_INT(xmpp_parser_feed(p, "x</body></message><pres", 23, &used), 0);
	CHECK_EQ_INT(xmpp_parser_sleep(p), -EAGAIN);
	CHECK_EQ_INT(xmpp_parser_feed(p, "ence/>", 6, &used), 0);
	CHECK_EQ_INT(xmpp_parser_sleep(p), 0);
	/* Keep-alives leave it asleep. */
	CHECK_EQ_INT(xmpp_parser_feed(p, " \n ", 3, &used), 0);
	CHECK(xmpp_parser_asleep(p));
	CHECK_EQ_INT(g.elems, 2);
	/* The rules of the stream hold for a woken parser. */
	CHECK_EQ_INT(xmpp_parser_feed(p, "  <!-- c -->", 12, &used), -EPROTO);
	CHECK_EQ_INT(xmpp_parser_error(p, NULL, NULL), XMPP_SERR_RESTRICTED_XML);
	xmpp_parser_free(p);
	got_free(&g);

	/* An undeclared prefix is still one after a wake; a declared one is
	 * bound as the header bound it. */
	CHECK_EQ_INT(feed_new(HDR, strlen(HDR), NULL, &g, &p), 0);
	CHECK_EQ_INT(xmpp_parser_sleep(p), 0);
	CHECK_EQ_INT(xmpp_parser_feed(p, "<db:verify id='1'>k</db:verify>", 31, &used), 0);
	CHECK_EQ_STR(xml_doc_root(g.last)->ns, "jabber:server:dialback");
	CHECK_EQ_INT(xmpp_parser_sleep(p), 0);
	CHECK_EQ_INT(xmpp_parser_feed(p, "<x:y/>", 6, &used), -EPROTO);
	CHECK_EQ_INT(xmpp_parser_error(p, NULL, NULL), XMPP_SERR_BAD_NAMESPACE_PREFIX);
	xmpp_parser_free(p);
	got_free(&g);

	/* A reset (STARTTLS, SASL) of a sleeping parser: a new stream. */
	CHECK_EQ_INT(feed_new(HDR, strlen(HDR), NULL, &g, &p), 0);
	CHECK_EQ_INT(xmpp_parser_sleep(p), 0);
	CHECK_EQ_INT(xmpp_parser_reset(p), 0);
	CHECK_EQ_INT(xmpp_parser_feed(p, HDR "<message/>", strlen(HDR) + 10, &used), 0);
	CHECK_EQ_INT(g.opens, 2);
	CHECK_EQ_INT(g.elems, 1);
	/* And the end of the stream, asleep. */
	CHECK_EQ_INT(xmpp_parser_sleep(p), 0);
	CHECK_EQ_INT(xmpp_parser_feed(p, "</stream:stream>", 16, &used), 0);
	CHECK_EQ_INT(g.closes, 1);
	CHECK_EQ_INT(xmpp_parser_sleep(p), -EAGAIN);
	xmpp_parser_free(p);
	got_free(&g);
	return 0;
}

/* ------------------------------------------------------------- limits */

/* <message>…</message> of exactly n octets. */
static char *
stanza_of(size_t n)
{
	char *s = malloc(n + 1);

	memcpy(s, "<message>", 9);
	memset(s + 9, 'x', n - 19);
	memcpy(s + n - 10, "</message>", 11);
	return s;
}

/* Feed HDR, set limits l, feed s: the status. */
static int
feed_after_hdr(const char *s, const struct xmpp_parser_limits *l, struct got *g,
    struct xmpp_parser **pp)
{
	int rc = feed_new(HDR, strlen(HDR), NULL, g, pp);

	if (rc == 0) {
		xmpp_parser_set_limits(*pp, l);
		rc = xmpp_parser_feed(*pp, s, strlen(s), NULL);
	}
	return rc;
}

static int
limit_case(const char *s, const struct xmpp_parser_limits *l, int want_rc, bool want_big)
{
	struct got g = { 0 };
	struct xmpp_parser *p;
	bool big = false;
	int rc = feed_after_hdr(s, l, &g, &p), bad;
	enum xmpp_serr e = xmpp_parser_error(p, NULL, &big);

	bad = rc != want_rc ||
	    (want_rc ? e != XMPP_SERR_POLICY_VIOLATION || big != want_big : g.elems != 1);
	if (bad)
		fprintf(stderr, "# %.40s... (%zu octets): rc %d %s big %d\n", s, strlen(s), rc,
		    xmpp_serr_name(e), big);
	xmpp_parser_free(p);
	got_free(&g);
	return bad;
}

static int
test_xmpp_xml_limit_size(void)
{
	struct xmpp_parser_limits def, authed;
	char *s;

	xmpp_parser_limits_default(&def);
	xmpp_parser_limits_authed(&authed);
	CHECK_EQ_INT(def.stanza_max, 10000);
	CHECK_EQ_INT(authed.stanza_max, 65536);
	CHECK_EQ_INT(def.memory_max, 256 * 1024);
	s = stanza_of(10000);
	CHECK(limit_case(s, &def, 0, false) == 0);
	free(s);
	s = stanza_of(10001);
	CHECK(limit_case(s, &def, -EPROTO, true) == 0);
	CHECK(limit_case(s, &authed, 0, false) == 0);
	free(s);
	s = stanza_of(65536);
	CHECK(limit_case(s, &authed, 0, false) == 0);
	free(s);
	s = stanza_of(65537);
	CHECK(limit_case(s, &authed, -EPROTO, true) == 0);
	free(s);
	/* A start tag alone over the limit, an attribute holding it all. */
	s = wrap("<message a='", "y", 9985, "'/>");
	CHECK_EQ_INT(strlen(s), 10000);
	CHECK(limit_case(s, &def, 0, false) == 0);
	free(s);
	s = wrap("<message a='", "y", 9986, "'/>");
	CHECK(limit_case(s, &def, -EPROTO, true) == 0);
	free(s);
	return 0;
}

/* xmpp_parser_set_limits: the elements that start afterwards get them. */
static int
test_xmpp_xml_set_limits(void)
{
	struct got g = { 0 };
	struct xmpp_parser *p;
	struct xmpp_parser_limits authed;
	char *big = stanza_of(20000);

	xmpp_parser_limits_authed(&authed);
	CHECK_EQ_INT(feed_new(HDR, strlen(HDR), NULL, &g, &p), 0);
	CHECK_EQ_INT(xmpp_parser_feed(p, big, 5000, NULL), 0);
	/* An element already started keeps the limits it started with. */
	xmpp_parser_set_limits(p, &authed);
	CHECK_EQ_INT(xmpp_parser_feed(p, big + 5000, strlen(big) - 5000, NULL), -EPROTO);
	CHECK_EQ_INT(xmpp_parser_error(p, NULL, NULL), XMPP_SERR_POLICY_VIOLATION);
	xmpp_parser_free(p);
	CHECK_EQ_INT(feed_new(HDR, strlen(HDR), NULL, &g, &p), 0);
	xmpp_parser_set_limits(p, &authed);
	CHECK_EQ_INT(xmpp_parser_feed(p, big, strlen(big), NULL), 0);
	CHECK_EQ_INT(g.elems, 1);
	xmpp_parser_free(p);
	got_free(&g);
	free(big);
	return 0;
}

/* A peer sending an endless element is stopped at the limit, not when
 * memory runs out: in text, in an attribute value, in a start tag's
 * attributes, in the stream header. */
static int
test_xmpp_xml_endless(void)
{
	const char *starts[] = { "<message>", "<message a='", "<message ", "<" };
	const char *units[] = { "0123456789", "0123456789", "a0='1' ", "m" };

	for (size_t k = 0; k < 4; k++) {
		struct got g = { 0 };
		struct xmpp_parser *p;
		struct xmpp_parser_limits l;
		unsigned long long fed = 0;
		char *chunk = repeat(units[k], 100);
		int rc = 0;

		xmpp_parser_limits_default(&l);
		l.attrs_max = 100000;
		CHECK_EQ_INT(feed_new(HDR, strlen(HDR), &l, &g, &p), 0);
		CHECK_EQ_INT(xmpp_parser_feed(p, starts[k], strlen(starts[k]), NULL), 0);
		fed = strlen(starts[k]);
		while (rc == 0 && fed < 1000000) {
			rc = xmpp_parser_feed(p, chunk, strlen(chunk), NULL);
			fed += strlen(chunk);
		}
		CHECK_EQ_INT(rc, -EPROTO);
		CHECK(fed <= 10000 + strlen(chunk));
		CHECK_EQ_INT(xmpp_parser_error(p, NULL, NULL), XMPP_SERR_POLICY_VIOLATION);
		CHECK(p->q.peak < 64 * 1024);
		xmpp_parser_free(p);
		got_free(&g);
		free(chunk);
	}
	{
		struct xmpp_parser_limits l;
		char *s = wrap("<stream:stream xmlns:stream='http://etherx.jabber.org/streams' a='",
		    "z", 20000, "");

		xmpp_parser_limits_default(&l);
		CHECK(expect_error(s, strlen(s), &l, XMPP_SERR_POLICY_VIOLATION, "header") == 0);
		free(s);
	}
	return 0;
}

static int
test_xmpp_xml_limit_depth(void)
{
	struct xmpp_parser_limits l;

	xmpp_parser_limits_default(&l);
	CHECK_EQ_INT(l.depth_max, 16);
	for (int over = 0; over <= 1; over++) {
		size_t n = l.depth_max + (size_t)over;
		char *open = wrap("<message>", "<a>", n, ""), *s = wrap(open, "</a>", n, "</message>");

		free(open);

		CHECK(limit_case(s, &l, over ? -EPROTO : 0, false) == 0);
		free(s);
	}
	l.depth_max = 2;
	CHECK(limit_case("<m><a><b/></a></m>", &l, 0, false) == 0);
	CHECK(limit_case("<m><a><b><c/></b></a></m>", &l, -EPROTO, false) == 0);
	return 0;
}

static int
test_xmpp_xml_limit_attrs(void)
{
	struct xmpp_parser_limits l;
	char *s, *attrs = malloc(32 * 16 + 1);

	xmpp_parser_limits_default(&l);
	CHECK_EQ_INT(l.attrs_max, 32);
	attrs[0] = '\0';
	for (int i = 0; i < 33; i++)
		sprintf(attrs + strlen(attrs), " a%d='%d'", i, i);
	s = fmt("<message%.*s/>", (int)(strstr(attrs, " a32=") - attrs), attrs);
	CHECK(limit_case(s, &l, 0, false) == 0);
	free(s);
	s = fmt("<message%s/>", attrs);
	CHECK(limit_case(s, &l, -EPROTO, false) == 0);
	free(s);
	/* Namespace declarations count with the attributes. */
	l.attrs_max = 2;
	CHECK(limit_case("<message xmlns='urn:a' a='1'/>", &l, 0, false) == 0);
	CHECK(limit_case("<message xmlns='urn:a' xmlns:b='urn:b' a='1'/>", &l, -EPROTO, false) == 0);
	CHECK(limit_case("<message><b a='1' c='2'/></message>", &l, 0, false) == 0);
	CHECK(limit_case("<message><b a='1' c='2' d='3'/></message>", &l, -EPROTO, false) == 0);
	free(attrs);
	return 0;
}

static int
test_xmpp_xml_limit_elems(void)
{
	struct xmpp_parser_limits l;
	char *s;

	xmpp_parser_limits_authed(&l);
	CHECK_EQ_INT(l.elems_max, 1000);
	/* The top-level element counts: itself and 999 children. */
	s = wrap("<message>", "<b/>", 999, "</message>");
	CHECK(limit_case(s, &l, 0, false) == 0);
	free(s);
	s = wrap("<message>", "<b/>", 1000, "</message>");
	CHECK(limit_case(s, &l, -EPROTO, false) == 0);
	free(s);
	/* Each top-level element counts afresh. */
	s = wrap("<message>", "<b/>", 600, "</message>");
	{
		struct got g = { 0 };
		struct xmpp_parser *p;

		CHECK_EQ_INT(feed_after_hdr(s, &l, &g, &p), 0);
		CHECK_EQ_INT(xmpp_parser_feed(p, s, strlen(s), NULL), 0);
		CHECK_EQ_INT(g.elems, 2);
		xmpp_parser_free(p);
		got_free(&g);
	}
	free(s);
	return 0;
}

/* The memory quota: what expat may hold for the stream. */
static int
test_xmpp_xml_limit_memory(void)
{
	struct got g = { 0 };
	struct xmpp_parser *p;
	struct xmpp_parser_limits l;
	const char *text;
	char *s;

	xmpp_parser_limits_authed(&l);
	/* The largest stanza allowed fits in the default quota, even as one
	 * token expat must hold whole (an attribute value). */
	s = wrap("<message a='", "y", 65536 - 15, "'/>");
	CHECK_EQ_INT(strlen(s), 65536);
	CHECK(limit_case(s, &l, 0, false) == 0);
	CHECK_EQ_INT(feed_after_hdr(s, &l, &g, &p), 0);
	CHECK(p->q.peak <= l.memory_max);
	/* And expat's memory comes back once the stream is idle again. */
	CHECK(p->q.used < 32 * 1024);
	CHECK_EQ_INT(xmpp_parser_feed(p, "<message>after</message>", 24, NULL), 0);
	CHECK_EQ_INT(g.elems, 2);
	xmpp_parser_free(p);
	/* A smaller quota refuses it: resource-constraint. */
	l.memory_max = 48 * 1024;
	CHECK_EQ_INT(feed_after_hdr(s, &l, &g, &p), -EPROTO);
	CHECK_EQ_INT(xmpp_parser_error(p, &text, NULL), XMPP_SERR_RESOURCE_CONSTRAINT);
	CHECK(strstr(text, "memory") != NULL);
	CHECK(p->q.hit);
	CHECK(p->q.peak <= l.memory_max);
	xmpp_parser_free(p);
	/* Set later, it holds from then on. */
	xmpp_parser_limits_authed(&l);
	CHECK_EQ_INT(feed_new(HDR, strlen(HDR), &l, &g, &p), 0);
	l.memory_max = 48 * 1024;
	xmpp_parser_set_limits(p, &l);
	CHECK_EQ_INT(xmpp_parser_feed(p, s, strlen(s), NULL), -EPROTO);
	CHECK_EQ_INT(xmpp_parser_error(p, NULL, NULL), XMPP_SERR_RESOURCE_CONSTRAINT);
	xmpp_parser_free(p);
	/* Too small for expat to start at all. */
	l.memory_max = 64;
	CHECK_EQ_INT(xmpp_parser_new(&l, &cbs, &g, &p), -ENOMEM);
	free(s);
	got_free(&g);
	return 0;
}

/* ------------------------------------------------- names, trees, output */

static int
test_xmpp_xml_serr_names(void)
{
	static const char *const names[] = {
		"bad-format", "bad-namespace-prefix", "conflict", "connection-timeout",
		"host-gone", "host-unknown", "improper-addressing", "internal-server-error",
		"invalid-from", "invalid-namespace", "invalid-xml", "not-authorized",
		"not-well-formed", "policy-violation", "remote-connection-failed", "reset",
		"resource-constraint", "restricted-xml", "see-other-host", "system-shutdown",
		"undefined-condition", "unsupported-encoding", "unsupported-feature",
		"unsupported-stanza-type", "unsupported-version",
	};

	CHECK_EQ_INT(sizeof(names) / sizeof(names[0]), XMPP_SERR_COUNT - 1);
	for (int i = 1; i < XMPP_SERR_COUNT; i++) {
		CHECK_EQ_STR(xmpp_serr_name((enum xmpp_serr)i), names[i - 1]);
		CHECK_EQ_INT(xmpp_serr_from_name(names[i - 1]), i);
	}
	CHECK_EQ_STR(xmpp_serr_name(XMPP_SERR_NONE), "");
	CHECK_EQ_STR(xmpp_serr_name(XMPP_SERR_COUNT), "");
	CHECK_EQ_STR(xmpp_serr_name((enum xmpp_serr)-1), "");
	CHECK_EQ_INT(xmpp_serr_from_name(""), XMPP_SERR_NONE);
	CHECK_EQ_INT(xmpp_serr_from_name(NULL), XMPP_SERR_NONE);
	CHECK_EQ_INT(xmpp_serr_from_name("Not-Well-Formed"), XMPP_SERR_NONE);
	CHECK_EQ_INT(xmpp_serr_from_name("stanza-too-big"), XMPP_SERR_NONE);
	return 0;
}

static int
test_xmpp_xml_tree(void)
{
	struct xml_doc *d, *c;
	struct xml_elem *m, *x, *y;
	char name[16];

	CHECK_EQ_INT(xml_doc_new(&d, XMPP_NS_SERVER, "message"), 0);
	m = xml_doc_root(d);
	CHECK(xml_is(m, XMPP_NS_SERVER, "message"));
	CHECK(xml_is(m, NULL, "message") && xml_is(m, XMPP_NS_SERVER, NULL));
	CHECK(!xml_is(m, XMPP_NS_CLIENT, "message") && !xml_is(NULL, NULL, NULL));
	CHECK_EQ_INT(xml_attr_set(d, m, NULL, "to", "a@b"), 0);
	CHECK_EQ_INT(xml_attr_set(d, m, NULL, "to", "c@d"), 0);         /* replaced */
	CHECK_EQ_INT(xml_attr_set(d, m, XMPP_NS_XML, "lang", "de"), 0);
	CHECK_EQ_INT(xml_attr_set(d, m, "", "type", "chat"), 0);         /* "" = none */
	CHECK_EQ_INT(m->nattrs, 3);
	CHECK_EQ_STR(xml_attr_get(m, "to"), "c@d");
	CHECK_EQ_STR(xml_attr_get_ns(m, NULL, "type"), "chat");
	CHECK_EQ_STR(xml_attr_get_ns(m, "", "type"), "chat");
	CHECK_EQ_STR(xml_attr_get_ns(m, XMPP_NS_XML, "lang"), "de");
	CHECK(xml_attr_get(m, "lang") == NULL);
	/* Many attributes: the array grows. */
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		CHECK_EQ_INT(xml_attr_set(d, m, NULL, name, name), 0);
	}
	CHECK_EQ_INT(m->nattrs, 43);
	CHECK_EQ_STR(xml_attr_get(m, "n39"), "n39");
	CHECK_EQ_STR(xml_attr_get(m, "to"), "c@d");
	/* Children: NULL namespace is the parent's. */
	x = xml_elem_add(d, m, NULL, "body");
	CHECK(x && x->ns == m->ns && x->parent == m);
	CHECK_EQ_INT(xml_text_set(d, x, "hi\0there", 8), 0);
	CHECK_EQ_INT(x->text_len, 8);
	CHECK(memcmp(x->text, "hi\0there", 9) == 0);
	y = xml_elem_add(d, m, "urn:x", "x");
	CHECK(xml_elem_add(d, y, NULL, "y") != NULL);
	CHECK(m->first_child == x && m->last_child == y && x->next == y);
	CHECK(xml_child(m, "urn:x", NULL) == y);
	CHECK(xml_child(m, XMPP_NS_SERVER, "x") == NULL);
	CHECK_EQ_STR(xml_child(y, NULL, NULL)->ns, "urn:x");
	/* Copies: into another doc, and as a new doc. */
	CHECK_EQ_INT(xml_doc_new(&c, XMPP_NS_SERVER, "wrap"), 0);
	CHECK(xml_elem_copy(c, xml_doc_root(c), m) != NULL);
	CHECK(xml_elem_copy(c, NULL, m) == NULL);
	CHECK(tree_eq(xml_doc_root(c)->first_child, m));
	CHECK(xml_doc_root(c)->first_child->parent == xml_doc_root(c));
	xml_doc_free(c);
	CHECK_EQ_INT(xml_doc_copy(&c, y), 0);
	CHECK(tree_eq(xml_doc_root(c), y));
	CHECK(xml_doc_root(c)->parent == NULL);
	xml_doc_free(c);
	/* A large text: the arena grows, and says so. */
	{
		size_t before = xml_doc_size(d);
		char *big = repeat("z", 100000);

		CHECK_EQ_INT(xml_text_set(d, y, big, 100000), 0);
		CHECK(xml_doc_size(d) >= before + 100000);
		CHECK_EQ_INT(strlen(y->text), 100000);
		free(big);
	}
	CHECK_EQ_INT(xml_text_set(d, y, "", 0), 0);
	CHECK_EQ_STR(y->text, "");
	xml_doc_free(d);
	xml_doc_free(NULL);
	return 0;
}

static int
escaped_is(const char *in, size_t n, bool attr, const char *want)
{
	struct xml_buf b = { 0 };
	int bad;

	if (xml_buf_escape(&b, in, n, attr) < 0 || xml_buf_add(&b, "", 1) < 0)
		return 1;
	bad = strcmp(b.p, want) != 0;
	if (bad)
		fprintf(stderr, "# escaped \"%s\", wanted \"%s\"\n", b.p, want);
	xml_buf_free(&b);
	return bad;
}

#define ESC(in, attr, want) CHECK(escaped_is(in, sizeof(in) - 1, attr, want) == 0)

static int
test_xmpp_xml_escape(void)
{
	ESC("a&b<c>d'e\"f", false, "a&amp;b&lt;c&gt;d'e\"f");
	ESC("a&b<c>d'e\"f", true, "a&amp;b&lt;c&gt;d&apos;e&quot;f");
	ESC("t\tn\nr\r", false, "t\tn\nr&#13;");
	ESC("t\tn\nr\r", true, "t&#9;n&#10;r&#13;");
	/* UTF-8 byte-exact, 2 to 4 octets. */
	ESC("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", false, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	/* What XML cannot carry: U+FFFD for each bad octet. */
	ESC("a\x01" "b\x00" "c", false, "a\xef\xbf\xbd" "b\xef\xbf\xbd" "c");
	ESC("\xff\xc3(\xed\xa0\x80", false,
	    "\xef\xbf\xbd\xef\xbf\xbd(\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	ESC("\xef\xbf\xbe\xef\xbf\xbf", true, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
	    "\xef\xbf\xbd\xef\xbf\xbd");
	ESC("\xe2\x82", false, "\xef\xbf\xbd\xef\xbf\xbd");
	ESC("", true, "");
	{
		struct xml_buf b = { 0 };

		CHECK_EQ_INT(xml_buf_str(&b, "abc"), 0);
		CHECK_EQ_INT(xml_buf_add(&b, "de", 2), 0);
		CHECK_EQ_INT(b.len, 5);
		xml_buf_reset(&b);
		CHECK_EQ_INT(b.len, 0);
		CHECK(b.cap >= 5);
		xml_buf_free(&b);
		CHECK(b.p == NULL && b.cap == 0);
	}
	return 0;
}

/* Serialize e (in a stream whose default namespace is jabber:server) and
 * parse it back in such a stream: the same tree. */
static int
round_trip(const struct xml_elem *e, const char *want)
{
	struct xml_buf b = { 0 };
	struct got g = { 0 };
	struct xmpp_parser *p;
	int bad = 0;

	if (xml_serialize(&b, e, XMPP_NS_SERVER) < 0)
		return 1;
	if (want && (b.len != strlen(want) || memcmp(b.p, want, b.len) != 0)) {
		fprintf(stderr, "# serialized %.*s\n#  expected  %s\n", (int)b.len, b.p, want);
		bad = 1;
	}
	if (feed_new(HDR, strlen(HDR), NULL, &g, &p) != 0 ||
	    xmpp_parser_feed(p, b.p, b.len, NULL) != 0 || g.elems != 1 ||
	    !tree_eq(xml_doc_root(g.last), e)) {
		fprintf(stderr, "# round trip of %.*s failed\n", (int)b.len, b.p);
		bad = 1;
	}
	xmpp_parser_free(p);
	got_free(&g);
	xml_buf_free(&b);
	return bad;
}

static int
test_xmpp_xml_serialize(void)
{
	struct xml_doc *d;
	struct xml_elem *m, *x, *e;

	/* <message><body/><x xmlns='urn:x'><y/></x></message> */
	CHECK_EQ_INT(xml_doc_new(&d, XMPP_NS_SERVER, "message"), 0);
	m = xml_doc_root(d);
	xml_attr_set(d, m, NULL, "to", "bob@contoso.test");
	xml_attr_set(d, m, XMPP_NS_XML, "lang", "fr");
	xml_elem_add(d, m, NULL, "body");
	x = xml_elem_add(d, m, "urn:x", "x");
	xml_elem_add(d, x, NULL, "y");
	e = xml_elem_add(d, x, XMPP_NS_SERVER, "z");
	CHECK(round_trip(m, "<message to='bob@contoso.test' xml:lang='fr'><body/>"
	    "<x xmlns='urn:x'><y/><z xmlns='jabber:server'/></x></message>") == 0);
	/* Escaping and UTF-8 in text and attributes. */
	{
		static const char t[] = "h\xc3\xa9 & <b> 'q' \"d\" \r\n\t]]>";

		xml_text_set(d, xml_child(m, NULL, "body"), t, sizeof(t) - 1);
	}
	xml_attr_set(d, m, NULL, "id", "a&b<c>'\"\t\n\r\xe2\x82\xac");
	CHECK(round_trip(m, "<message to='bob@contoso.test' xml:lang='fr' "
	    "id='a&amp;b&lt;c&gt;&apos;&quot;&#9;&#10;&#13;\xe2\x82\xac'>"
	    "<body>h\xc3\xa9 &amp; &lt;b&gt; 'q' \"d\" &#13;\n\t]]&gt;</body>"
	    "<x xmlns='urn:x'><y/><z xmlns='jabber:server'/></x></message>") == 0);
	/* No namespace inside a namespaced parent: xmlns=''. */
	xml_elem_add(d, e, "", "none");
	/* Qualified attributes: a prefix per namespace, declared where used. */
	xml_attr_set(d, e, "urn:q", "a", "1");
	xml_attr_set(d, e, "urn:r", "a", "2");
	xml_attr_set(d, e, "urn:q", "b", "3");
	CHECK(round_trip(e, "<z xmlns:a0='urn:q' a0:a='1' xmlns:a1='urn:r' a1:a='2' a0:b='3'>"
	    "<none xmlns=''/></z>") == 0);
	CHECK(round_trip(m, NULL) == 0);
	xml_doc_free(d);
	/* Dialback and stream elements keep their prefixes; what is inside
	 * them stays in the default namespace. */
	CHECK_EQ_INT(xml_doc_new(&d, XMPP_NS_DIALBACK, "verify"), 0);
	m = xml_doc_root(d);
	xml_attr_set(d, m, NULL, "from", "a.test");
	xml_text_set(d, m, "key", 3);
	CHECK(round_trip(m, "<db:verify from='a.test'>key</db:verify>") == 0);
	x = xml_elem_add(d, m, XMPP_NS_SERVER, "error");
	xml_elem_add(d, x, XMPP_NS_STANZAS, "item-not-found");
	CHECK(round_trip(m, "<db:verify from='a.test'>key<error><item-not-found "
	    "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></db:verify>") == 0);
	xml_doc_free(d);
	CHECK_EQ_INT(xml_doc_new(&d, XMPP_NS_STREAM, "error"), 0);
	m = xml_doc_root(d);
	xml_elem_add(d, m, XMPP_NS_STREAMS, "host-unknown");
	xml_text_set(d, xml_elem_add(d, m, XMPP_NS_STREAMS, "text"), "no", 2);
	CHECK(round_trip(m, "<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
	    "<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>no</text></stream:error>") == 0);
	xml_doc_free(d);
	/* The XML namespace cannot be a default one: its own prefix. */
	CHECK_EQ_INT(xml_doc_new(&d, XMPP_NS_SERVER, "message"), 0);
	m = xml_doc_root(d);
	xml_elem_add(d, m, XMPP_NS_XML, "x");
	CHECK(round_trip(m, "<message><xml:x/></message>") == 0);
	xml_doc_free(d);
	return 0;
}

/* The sample's elements go round: parsed, serialized, parsed again. */
static int
test_xmpp_xml_round_trip_sample(void)
{
	struct got g = { 0 }, again = { 0 };
	struct xmpp_parser *p;

	CHECK_EQ_INT(feed_new(sample, sizeof(sample) - 1, NULL, &g, NULL), 0);
	/* The log holds each serialized element; a stream of them gives the
	 * same log again. */
	{
		const char *log = log_str(&g);
		const char *first = strchr(log, '\n') + 1;
		size_t n = strlen(first) - strlen("close\n");

		CHECK_EQ_INT(feed_new(HDR, strlen(HDR), NULL, &again, &p), 0);
		CHECK_EQ_INT(xmpp_parser_feed(p, first, n, NULL), 0);
		CHECK_EQ_INT(strlen(strchr(log_str(&again), '\n') + 1), n);
		CHECK(memcmp(strchr(log_str(&again), '\n') + 1, first, n) == 0);
		xmpp_parser_free(p);
	}
	got_free(&g);
	got_free(&again);
	return 0;
}

/* -------------------------------------------------------- documents */

static int
test_xmpp_xml_doc_parse(void)
{
	static const char pidf[] =
	    "<?xml version='1.0' encoding='UTF-8'?>\n"
	    "<presence xmlns='urn:ietf:params:xml:ns:pidf' xmlns:rpid='urn:ietf:params:xml:ns:pidf:rpid' "
	    "entity='sip:bob@contoso.test'>\n"
	    " <tuple id='t1'><status><basic>open</basic></status><note xml:lang='en'>At lunch</note></tuple>\n"
	    " <rpid:person><rpid:activities><rpid:away/></rpid:activities></rpid:person>\n"
	    "</presence>\n";
	struct xml_doc *d = NULL;
	struct xmpp_parser_limits l;
	const struct xml_elem *r, *t;
	enum xmpp_serr e;
	const char *text;

	CHECK_EQ_INT(xml_doc_parse(pidf, sizeof(pidf) - 1, NULL, &d, &e, &text), 0);
	CHECK_EQ_INT(e, XMPP_SERR_NONE);
	r = xml_doc_root(d);
	CHECK(xml_is(r, "urn:ietf:params:xml:ns:pidf", "presence"));
	CHECK_EQ_STR(xml_attr_get(r, "entity"), "sip:bob@contoso.test");
	t = xml_child(r, NULL, "tuple");
	CHECK_EQ_STR(xml_child(xml_child(t, NULL, "status"), NULL, "basic")->text, "open");
	CHECK_EQ_STR(xml_attr_get_ns(xml_child(t, NULL, "note"), XMPP_NS_XML, "lang"), "en");
	CHECK(xml_child(xml_child(xml_child(r, "urn:ietf:params:xml:ns:pidf:rpid", "person"),
	    NULL, "activities"), NULL, "away") != NULL);
	xml_doc_free(d);
	/* Errors. */
	d = NULL;
	CHECK_EQ_INT(xml_doc_parse("<a><!-- c --></a>", 17, NULL, &d, &e, &text), -EPROTO);
	CHECK_EQ_INT(e, XMPP_SERR_RESTRICTED_XML);
	CHECK(strstr(text, "comments") != NULL && d == NULL);
	CHECK_EQ_INT(xml_doc_parse("<a><?pi?></a>", 13, NULL, &d, &e, NULL), -EPROTO);
	CHECK_EQ_INT(e, XMPP_SERR_RESTRICTED_XML);
	CHECK_EQ_INT(xml_doc_parse("<a><b></a>", 10, NULL, &d, &e, &text), -EPROTO);
	CHECK_EQ_INT(e, XMPP_SERR_NOT_WELL_FORMED);
	CHECK_EQ_INT(xml_doc_parse("<a><b>", 6, NULL, &d, &e, NULL), -EPROTO);
	CHECK_EQ_INT(e, XMPP_SERR_NOT_WELL_FORMED);
	CHECK_EQ_INT(xml_doc_parse("", 0, NULL, &d, &e, NULL), -EPROTO);
	CHECK_EQ_INT(e, XMPP_SERR_NOT_WELL_FORMED);
	CHECK_EQ_INT(xml_doc_parse("<a/><b/>", 8, NULL, &d, NULL, NULL), -EPROTO);
	CHECK_EQ_INT(xml_doc_parse("<a>\xc3</a>", 8, NULL, &d, &e, NULL), -EPROTO);
	CHECK_EQ_INT(e, XMPP_SERR_UNSUPPORTED_ENCODING);
	CHECK_EQ_INT(xml_doc_parse("<a>\xc3", 4, NULL, &d, &e, NULL), -EPROTO);
	CHECK_EQ_INT(e, XMPP_SERR_UNSUPPORTED_ENCODING);
	CHECK_EQ_INT(xml_doc_parse("<p:a/>", 6, NULL, &d, &e, NULL), -EPROTO);
	CHECK_EQ_INT(e, XMPP_SERR_BAD_NAMESPACE_PREFIX);
	/* Limits: the authenticated defaults, or the ones given. */
	{
		char *s = stanza_of(65536);

		CHECK_EQ_INT(xml_doc_parse(s, strlen(s), NULL, &d, &e, NULL), 0);
		xml_doc_free(d);
		free(s);
		s = stanza_of(65537);
		CHECK_EQ_INT(xml_doc_parse(s, strlen(s), NULL, &d, &e, NULL), -EPROTO);
		CHECK_EQ_INT(e, XMPP_SERR_POLICY_VIOLATION);
		free(s);
	}
	xmpp_parser_limits_default(&l);
	/* White space after the root counts against nothing. */
	{
		char *s = wrap("<a/>", " ", 20000, "");

		CHECK_EQ_INT(xml_doc_parse(s, strlen(s), &l, &d, &e, NULL), 0);
		xml_doc_free(d);
		free(s);
	}
	l.depth_max = 1;
	CHECK_EQ_INT(xml_doc_parse("<a><b/></a>", 11, &l, &d, &e, NULL), 0);
	xml_doc_free(d);
	CHECK_EQ_INT(xml_doc_parse("<a><b><c/></b></a>", 18, &l, &d, &e, NULL), -EPROTO);
	CHECK_EQ_INT(e, XMPP_SERR_POLICY_VIOLATION);
	return 0;
}

/* A stream's expat takes its memory from pages of its own
 * (xmpp_xml_mem.c), given back whole when it sleeps or is compacted; the
 * size classes' free lists are reused, so that a long stream of stanzas of
 * every size does not make its arena grow past its largest needs. */
static int
test_xmpp_xml_pages(void)
{
	struct xmpp_parser_limits l;
	struct got g = { 0 };
	struct xmpp_parser *p;
	size_t used, mapped_max = 0, after_hdr;
	char *big;

	xmpp_parser_limits_authed(&l);
	CHECK_EQ_INT(feed_new(HDR, strlen(HDR), &l, &g, &p), 0);
	CHECK(p->q.arena != NULL);
	after_hdr = xmpp_xml__arena_mapped(p->q.arena);
	CHECK(after_hdr >= p->q.used);
	CHECK(after_hdr <= 32 * 1024);
	for (int i = 0; i < 4000; i++) {
		size_t n = 40 + (size_t)(i * 7919) % 12000;
		char *m = stanza_of(n);

		CHECK_EQ_INT(xmpp_parser_feed(p, m, n, &used), 0);
		free(m);
		if (xmpp_xml__arena_mapped(p->q.arena) > mapped_max)
			mapped_max = xmpp_xml__arena_mapped(p->q.arena);
	}
	CHECK_EQ_INT(g.elems, 4000);
	CHECK(mapped_max <= 64 * 1024);
	/* A 60 KB stanza grows expat's buffer; the stream between elements
	 * then gets a new expat, and the old one's pages go. */
	big = stanza_of(60000);
	CHECK_EQ_INT(xmpp_parser_feed(p, big, 60000, &used), 0);
	free(big);
	CHECK_EQ_INT(g.elems, 4001);
	CHECK(xmpp_xml__arena_mapped(p->q.arena) <= 64 * 1024);
	CHECK_EQ_INT(xmpp_parser_sleep(p), 0);
	CHECK(p->q.arena == NULL);
	CHECK_EQ_INT(p->q.used, 0);
	CHECK_EQ_INT(xmpp_parser_feed(p, "<message>x</message>", 20, &used), 0);
	CHECK_EQ_INT(g.elems, 4002);
	CHECK(p->q.arena != NULL);
	xmpp_parser_free(p);
	got_free(&g);
	return 0;
}

static const struct unit_test tests[] = {
	UNIT(test_xmpp_xml_stream_events),
	UNIT(test_xmpp_xml_text),
	UNIT(test_xmpp_xml_dialback),
	UNIT(test_xmpp_xml_split_feeding),
	UNIT(test_xmpp_xml_pause_starttls),
	UNIT(test_xmpp_xml_reset_sasl),
	UNIT(test_xmpp_xml_pause_resume),
	UNIT(test_xmpp_xml_callback_status),
	UNIT(test_xmpp_xml_restricted),
	UNIT(test_xmpp_xml_restricted_handlers),
	UNIT(test_xmpp_xml_billion_laughs),
	UNIT(test_xmpp_xml_namespaces),
	UNIT(test_xmpp_xml_encoding),
	UNIT(test_xmpp_xml_not_well_formed),
	UNIT(test_xmpp_xml_keepalive),
	UNIT(test_xmpp_xml_sleep),
	UNIT(test_xmpp_xml_pages),
	UNIT(test_xmpp_xml_limit_size),
	UNIT(test_xmpp_xml_set_limits),
	UNIT(test_xmpp_xml_endless),
	UNIT(test_xmpp_xml_limit_depth),
	UNIT(test_xmpp_xml_limit_attrs),
	UNIT(test_xmpp_xml_limit_elems),
	UNIT(test_xmpp_xml_limit_memory),
	UNIT(test_xmpp_xml_serr_names),
	UNIT(test_xmpp_xml_tree),
	UNIT(test_xmpp_xml_escape),
	UNIT(test_xmpp_xml_serialize),
	UNIT(test_xmpp_xml_round_trip_sample),
	UNIT(test_xmpp_xml_doc_parse),
	{ NULL, NULL },
};

int
main(int argc, char **argv)
{
	return unit_main(argc, argv, tests);
}
