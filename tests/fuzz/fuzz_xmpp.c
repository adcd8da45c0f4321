/* fuzz_xmpp.c: libFuzzer target for what an XMPP peer writes on a
 * server-to-server stream (RFC 6120 §4 streams, §5-§6 restarts after STARTTLS
 * and SASL, §11 XML; XEP-0220 dialback): the stream parser of
 * src/xmpp_xml*.c, cut into reads as a connection would, with every element
 * serialized and parsed again, and the input also parsed as one document.
 *
 * Input: when the first octet is below 0x08 (no XML starts so) it and the
 * next two choose the reads and the limits, and the rest is the stream;
 * otherwise the whole input is the stream, read at once, under the limits
 * before authentication, so that corpus files are used as they are:
 *   octet 0 & 3: 0 one read, 1 one octet per read, 2 reads of octet 1 % 64
 *                + 1 octets, 3 reads of 1..256 octets drawn from octet 1;
 *   octet 0 & 4: small limits (stanza 64 + 16 * octet 2 octets, depth 4,
 *                8 attributes, 32 elements, 64 KiB), else the defaults.
 *
 * Like a stream's owner, the target pauses after <starttls/>, <proceed/>,
 * <auth/> and <success/>; after <proceed/> (TLS, RFC 6120 §5.4.3.3) and
 * <success/> (SASL, §6.4.6) it resets the parser and goes on with the rest
 * of the input as a new stream, after <success/> under the authenticated
 * limits; after the others it goes on with the same stream.
 *
 * With the high bit of octet 1 set, the stream is also read a second time
 * with xmpp_parser_sleep tried after every read (an idle stream giving its
 * expat back), and must give the same elements, stream events and outcome
 * (unless either read ran out of expat's memory quota: a woken parser holds
 * less than one that has seen the whole stream).
 *
 * Invariants: a read is used whole (0), up to the end of an element asked to
 * pause (1), or the stream fails with -EPROTO and a condition, after which
 * every read fails alike; xmpp_parser_bytes counts what was used; each
 * element, serialized in the stream's default namespace and parsed again in
 * a stream declaring the same, is the same tree; a copy of it too; a
 * document that parses also goes round; a sleep is refused (-EAGAIN) or
 * leaves the parser asleep, and changes nothing the stream's owner sees. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "sipedge/xmpp_xml.h"
#include "fuzz.h"

struct run {
	struct xmpp_parser *p;
	char dflt[512];                /* the stream's default namespace */
	bool dflt_long;                /* too long to keep: no round trip */
	bool paused;                   /* the element callback asked to */
	bool restart;                  /* and the stream restarts */
	bool authed;
	uint64_t digest;               /* of the events, in order */
};

/* FNV-1a over the events a stream's owner sees. */
static void
mix(struct run *r, const void *p, size_t n)
{
	const unsigned char *c = p;

	if (r->digest == 0)
		r->digest = 14695981039346656037ull;
	for (size_t i = 0; i < n; i++)
		r->digest = (r->digest ^ c[i]) * 1099511628211ull;
}

/* Two trees are the same: names, namespaces, attributes in order, text,
 * children, and the links between them. */
static bool
tree_eq(const struct xml_elem *a, const struct xml_elem *b)
{
	const struct xml_elem *x, *y;

	if (strcmp(a->ns, b->ns) || strcmp(a->name, b->name) || a->nattrs != b->nattrs ||
	    a->text_len != b->text_len || memcmp(a->text, b->text, a->text_len) ||
	    a->text[a->text_len] != '\0' || b->text[b->text_len] != '\0')
		return false;
	for (size_t i = 0; i < a->nattrs; i++) {
		const struct xml_attr *p = &a->attrs[i], *q = &b->attrs[i];

		if ((p->ns == NULL) != (q->ns == NULL) || (p->ns && strcmp(p->ns, q->ns)) ||
		    strcmp(p->name, q->name) || strcmp(p->value, q->value))
			return false;
	}
	for (x = a->first_child, y = b->first_child; x && y; x = x->next, y = y->next) {
		if (x->parent != a || y->parent != b || !tree_eq(x, y))
			return false;
		if (x->next == NULL && (a->last_child != x || y->next || b->last_child != y))
			return false;
	}
	return x == NULL && y == NULL && (a->first_child || a->last_child == NULL);
}

/* ---------------------------------------------------- the round trip */

struct again {
	struct xml_doc *doc;
	int elems;
};

static int
again_elem(void *ud, struct xml_doc *d)
{
	struct again *a = ud;

	a->elems++;
	xml_doc_free(a->doc);
	a->doc = d;
	return 0;
}

static const struct xmpp_parser_limits unlimited = {
	SIZE_MAX, SIZE_MAX, SIZE_MAX, SIZE_MAX, 256u << 20
};

/* e written as our side would, in a stream whose default namespace is the
 * peer's, and read back by a parser of our own. */
static void
round_trip(const struct xml_elem *e, const char *dflt)
{
	static const struct xmpp_parser_cbs cbs = { NULL, again_elem, NULL };
	struct xml_buf b = { 0 };
	struct again a = { 0 };
	struct xmpp_parser *p;
	int rc;

	FUZZ_CHECK(xml_buf_str(&b, "<stream:stream xmlns='") == 0);
	FUZZ_CHECK(xml_buf_escape(&b, dflt, strlen(dflt), true) == 0);
	FUZZ_CHECK(xml_buf_str(&b, "' xmlns:stream='" XMPP_NS_STREAM "' xmlns:db='"
	    XMPP_NS_DIALBACK "'>") == 0);
	FUZZ_CHECK(xml_serialize(&b, e, dflt) == 0);
	if (xmpp_parser_new(&unlimited, &cbs, &a, &p) < 0)
		abort();
	rc = xmpp_parser_feed(p, b.p, b.len, NULL);
	if (rc != 0 || a.elems != 1 || !tree_eq(xml_doc_root(a.doc), e)) {
		fprintf(stderr, "round trip: rc %d (%s), %d elements: %.*s\n", rc,
		    xmpp_serr_name(xmpp_parser_error(p, NULL, NULL)), a.elems, (int)b.len, b.p);
		abort();
	}
	xmpp_parser_free(p);
	xml_doc_free(a.doc);
	xml_buf_free(&b);
}

/* A document goes round too, inside an element declaring the prefixes the
 * serializer relies on. */
static void
doc_round_trip(const uint8_t *data, size_t size)
{
	struct xml_doc *d = NULL, *d2 = NULL;
	struct xml_buf b = { 0 };
	enum xmpp_serr err;
	const char *text;
	int rc = xml_doc_parse((const char *)data, size, NULL, &d, &err, &text);

	if (rc != 0) {
		FUZZ_CHECK(rc == -EPROTO || rc == -ENOMEM);
		FUZZ_CHECK(rc == -ENOMEM || err != XMPP_SERR_NONE);
		FUZZ_CHECK(text != NULL && d == NULL);
		return;
	}
	FUZZ_CHECK(xml_buf_str(&b, "<w xmlns:stream='" XMPP_NS_STREAM "' xmlns:db='"
	    XMPP_NS_DIALBACK "'>") == 0);
	FUZZ_CHECK(xml_serialize(&b, xml_doc_root(d), "") == 0);
	FUZZ_CHECK(xml_buf_str(&b, "</w>") == 0);
	rc = xml_doc_parse(b.p, b.len, &unlimited, &d2, &err, &text);
	if (rc != 0 || !tree_eq(xml_doc_root(d2)->first_child, xml_doc_root(d))) {
		fprintf(stderr, "document round trip: rc %d (%s): %.*s\n", rc, xmpp_serr_name(err),
		    (int)b.len, b.p);
		abort();
	}
	xml_doc_free(d);
	xml_doc_free(d2);
	xml_buf_free(&b);
}

/* ------------------------------------------------------- the stream */

static int
on_open(void *ud, const struct xml_elem *h, const char *dflt)
{
	struct run *r = ud;
	size_t n = strlen(dflt);

	FUZZ_CHECK(xml_is(h, XMPP_NS_STREAM, "stream"));
	FUZZ_CHECK(h->first_child == NULL && h->parent == NULL);
	r->dflt_long = n >= sizeof(r->dflt);
	if (!r->dflt_long)
		memcpy(r->dflt, dflt, n + 1);
	mix(r, "open", 5);
	mix(r, dflt, n + 1);
	return 0;
}

static int
on_elem(void *ud, struct xml_doc *d)
{
	struct run *r = ud;
	const struct xml_elem *e = xml_doc_root(d);
	struct xml_doc *copy;
	int rc = 0;

	FUZZ_CHECK(e != NULL && e->parent == NULL && e->next == NULL);
	FUZZ_CHECK(xml_doc_size(d) > 0);
	{
		struct xml_buf b = { 0 };

		FUZZ_CHECK(xml_serialize(&b, e, "") == 0);
		mix(r, "elem", 5);
		mix(r, b.p, b.len);
		xml_buf_free(&b);
	}
	if (!r->dflt_long)
		round_trip(e, r->dflt);
	if (xml_doc_copy(&copy, e) == 0) {
		FUZZ_CHECK(tree_eq(xml_doc_root(copy), e));
		xml_doc_free(copy);
	}
	if (xml_is(e, XMPP_NS_TLS, "proceed") || xml_is(e, XMPP_NS_SASL, "success")) {
		r->restart = true;
		r->authed = xml_is(e, XMPP_NS_SASL, "success");
		rc = XMPP_PARSER_PAUSE;
	} else if (xml_is(e, XMPP_NS_TLS, "starttls") || xml_is(e, XMPP_NS_SASL, "auth")) {
		rc = XMPP_PARSER_PAUSE;
	}
	r->paused = rc == XMPP_PARSER_PAUSE;
	xml_doc_free(d);
	return rc;
}

static int
on_close(void *ud)
{
	mix(ud, "close", 6);
	return 0;
}

static const struct xmpp_parser_cbs cbs = { on_open, on_elem, on_close };

/* The length of the next read, as octets 0 and 1 choose. */
static size_t
next_read(unsigned mode, unsigned seed, uint32_t *state, size_t left)
{
	size_t n = left;

	switch (mode & 3) {
	case 1:
		n = 1;
		break;
	case 2:
		n = seed % 64 + 1;
		break;
	case 3:
		*state = *state * 1103515245u + 12345u;
		n = (*state >> 16) % 256 + 1;
		break;
	default:
		break;
	}
	return n < left ? n : left;
}

/* What one reading of the stream came to. */
struct outcome {
	uint64_t digest;
	unsigned long long used_total;
	enum xmpp_serr err;            /* XMPP_SERR_NONE: no failure */
	bool nomem;                    /* it failed on expat's memory quota */
};

/* Read the stream as mode and seed say, trying a sleep after every read if
 * sleepy. */
static void
read_stream(const uint8_t *data, size_t size, unsigned mode, unsigned seed,
    const struct xmpp_parser_limits *limits, bool sleepy, struct outcome *o)
{
	struct xmpp_parser_limits lim = *limits;
	struct run r = { 0 };
	uint32_t state = seed;
	unsigned long long used_total = 0;
	size_t off = 0;

	memset(o, 0, sizeof(*o));
	if (xmpp_parser_new(&lim, &cbs, &r, &r.p) < 0) {
		o->nomem = true;
		return;
	}
	while (off < size) {
		size_t n = next_read(mode, seed, &state, size - off), used = 12345;
		int rc;

		r.paused = false;
		rc = xmpp_parser_feed(r.p, (const char *)data + off, n, &used);
		if (rc == 0) {
			FUZZ_CHECK(used == n && !r.paused);
		} else if (rc == XMPP_PARSER_PAUSE) {
			FUZZ_CHECK(r.paused && used <= n);
			n = used;
		} else {
			const char *text;
			bool big;
			enum xmpp_serr e = xmpp_parser_error(r.p, &text, &big);

			FUZZ_CHECK(rc == -EPROTO || rc == -ENOMEM);
			FUZZ_CHECK(e != XMPP_SERR_NONE && text != NULL && text[0] != '\0');
			FUZZ_CHECK(!big || e == XMPP_SERR_POLICY_VIOLATION);
			FUZZ_CHECK(xmpp_parser_feed(r.p, "<a/>", 4, &used) == rc && used == 0);
			FUZZ_CHECK(xmpp_parser_sleep(r.p) == -EAGAIN);
			o->err = e;
			/* Out of expat's quota (or of memory), not a stream
			 * that could not be resumed after a sleep: that
			 * needs no more than the stream's start did. */
			o->nomem = rc == -ENOMEM || (e == XMPP_SERR_RESOURCE_CONSTRAINT &&
			    strcmp(text, "the stream could not be resumed") != 0);
			break;
		}
		used_total += n;
		off += n;
		FUZZ_CHECK(xmpp_parser_bytes(r.p) == used_total);
		if (r.restart) {
			r.restart = false;
			used_total = 0;
			FUZZ_CHECK(xmpp_parser_reset(r.p) == 0);
			FUZZ_CHECK(xmpp_parser_bytes(r.p) == 0);
			if (r.authed) {
				xmpp_parser_limits_authed(&lim);
				xmpp_parser_set_limits(r.p, &lim);
			}
		}
		if (sleepy) {
			int sl = xmpp_parser_sleep(r.p);

			FUZZ_CHECK(sl == 0 || sl == -EAGAIN);
			FUZZ_CHECK(sl != 0 || xmpp_parser_asleep(r.p));
		}
	}
	o->digest = r.digest;
	o->used_total = used_total;
	xmpp_parser_free(r.p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xmpp_parser_limits lim;
	struct outcome o, slept;
	unsigned mode = 0, seed = 0;

	xmpp_parser_limits_default(&lim);
	if (size >= 3 && data[0] < 0x08) {
		mode = data[0];
		seed = data[1];
		if (mode & 4) {
			lim.stanza_max = 64 + 16 * (size_t)data[2];
			lim.depth_max = 4;
			lim.attrs_max = 8;
			lim.elems_max = 32;
			lim.memory_max = 64 * 1024;
		}
		data += 3;
		size -= 3;
	}
	read_stream(data, size, mode, seed & 0x7f, &lim, false, &o);
	if (seed & 0x80) {
		read_stream(data, size, mode, seed & 0x7f, &lim, true, &slept);
		if (!o.nomem && !slept.nomem) {
			FUZZ_CHECK(o.digest == slept.digest);
			FUZZ_CHECK(o.err == slept.err);
			FUZZ_CHECK(o.used_total == slept.used_total);
		}
	}
	doc_round_trip(data, size);
	return 0;
}
