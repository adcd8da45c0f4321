/* xmpp_xml.c: the XML parser of XMPP streams (RFC 6120 §4 streams, §4.9
 * stream errors, §11 XML usage) and of whole XML bodies, over expat in
 * namespace mode.  See sipedge/xmpp_xml.h.
 *
 * One expat parser per stream, fed what the connection reads.  The stream's
 * root start tag is handed to the open callback; each top-level element is
 * built into its own arena tree (xmpp_xml_tree.c) and handed over when its
 * end tag is parsed.  Everything a peer could use to make the edge work or
 * hold memory out of proportion is refused with the stream error RFC 6120
 * names: restricted XML (§11.1: DOCTYPE, which also stops every entity
 * trick before an entity is declared, comments, processing instructions,
 * undefined entity references), element size, nesting, attributes and
 * elements per stanza (policy-violation), and expat's own memory, which goes
 * through an allocator with a per-stream quota (resource-constraint).
 *
 * Offsets are counted in octets of the stream since its last reset; expat's
 * index is mapped onto them (xbase) because a pause restarts expat (below). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>

/* expat.h declares its hardening functions only under XML_DTD, which the
 * library's build defines (expat_config.h) but expat.h does not; configure
 * has linked each one we use, so their declarations are safe to ask for. */
#if !defined(XML_DTD) && (defined(HAVE_XML_SETBILLIONLAUGHSATTACKPROTECTIONMAXIMUMAMPLIFICATION) || \
    defined(HAVE_XML_SETALLOCTRACKERMAXIMUMAMPLIFICATION) ||                                       \
    defined(HAVE_XML_SETALLOCTRACKERACTIVATIONTHRESHOLD))
#define XML_DTD 1
#endif
#include <expat.h>

#include "sipedge/xmpp_xml.h"
#include "xmpp_xml_int.h"

/* Input is handed to expat in slices of at most this many octets, and the
 * limits on incomplete input are checked between slices: a large read is
 * still one call for the caller, but expat never holds much more than a
 * limit's worth of an element that is going to be refused. */
#define FEED_SLICE 16384

/* -------------------------------------------------------- stream errors */

static const char *const serr_names[XMPP_SERR_COUNT] = {
	[XMPP_SERR_NONE] = "",
	[XMPP_SERR_BAD_FORMAT] = "bad-format",
	[XMPP_SERR_BAD_NAMESPACE_PREFIX] = "bad-namespace-prefix",
	[XMPP_SERR_CONFLICT] = "conflict",
	[XMPP_SERR_CONNECTION_TIMEOUT] = "connection-timeout",
	[XMPP_SERR_HOST_GONE] = "host-gone",
	[XMPP_SERR_HOST_UNKNOWN] = "host-unknown",
	[XMPP_SERR_IMPROPER_ADDRESSING] = "improper-addressing",
	[XMPP_SERR_INTERNAL_SERVER_ERROR] = "internal-server-error",
	[XMPP_SERR_INVALID_FROM] = "invalid-from",
	[XMPP_SERR_INVALID_NAMESPACE] = "invalid-namespace",
	[XMPP_SERR_INVALID_XML] = "invalid-xml",
	[XMPP_SERR_NOT_AUTHORIZED] = "not-authorized",
	[XMPP_SERR_NOT_WELL_FORMED] = "not-well-formed",
	[XMPP_SERR_POLICY_VIOLATION] = "policy-violation",
	[XMPP_SERR_REMOTE_CONNECTION_FAILED] = "remote-connection-failed",
	[XMPP_SERR_RESET] = "reset",
	[XMPP_SERR_RESOURCE_CONSTRAINT] = "resource-constraint",
	[XMPP_SERR_RESTRICTED_XML] = "restricted-xml",
	[XMPP_SERR_SEE_OTHER_HOST] = "see-other-host",
	[XMPP_SERR_SYSTEM_SHUTDOWN] = "system-shutdown",
	[XMPP_SERR_UNDEFINED_CONDITION] = "undefined-condition",
	[XMPP_SERR_UNSUPPORTED_ENCODING] = "unsupported-encoding",
	[XMPP_SERR_UNSUPPORTED_FEATURE] = "unsupported-feature",
	[XMPP_SERR_UNSUPPORTED_STANZA_TYPE] = "unsupported-stanza-type",
	[XMPP_SERR_UNSUPPORTED_VERSION] = "unsupported-version",
};

const char *
xmpp_serr_name(enum xmpp_serr e)
{
	if ((unsigned)e >= XMPP_SERR_COUNT)
		return "";
	return serr_names[e];
}

enum xmpp_serr
xmpp_serr_from_name(const char *name)
{
	if (name == NULL || name[0] == '\0')
		return XMPP_SERR_NONE;
	for (unsigned i = 1; i < XMPP_SERR_COUNT; i++)
		if (strcmp(serr_names[i], name) == 0)
			return (enum xmpp_serr)i;
	return XMPP_SERR_NONE;
}

void
xmpp_parser_limits_default(struct xmpp_parser_limits *l)
{
	l->stanza_max = 10000;
	l->depth_max = 16;
	l->attrs_max = 32;
	l->elems_max = 1000;
	l->memory_max = 256 * 1024;
}

void
xmpp_parser_limits_authed(struct xmpp_parser_limits *l)
{
	xmpp_parser_limits_default(l);
	l->stanza_max = 65536;
}

/* ------------------------------------------------------------- failures */

/* Record the first failure (what xmpp_parser_error reports) and stop: no
 * handler does anything once halt is set, and expat returns as soon as the
 * current token is done. */
void
xmpp_xml__fail(struct xmpp_parser *p, enum xmpp_serr e, const char *text, bool too_big)
{
	if (p->err == XMPP_SERR_NONE) {
		p->err = e;
		p->err_text = text;
		p->too_big = too_big;
	}
	p->halt = true;
	if (p->in_parse)
		XML_StopParser(p->x, XML_FALSE);
}

void
xmpp_xml__nomem(struct xmpp_parser *p)
{
	p->nomem = true;
	xmpp_xml__fail(p, XMPP_SERR_RESOURCE_CONSTRAINT, "out of memory", false);
}

/* The condition for an error expat found on its own. */
static void
expat_error(struct xmpp_parser *p)
{
	enum XML_Error code = XML_GetErrorCode(p->x);
	enum xmpp_serr e = XMPP_SERR_NOT_WELL_FORMED;
	const char *text = XML_ErrorString(code);
	const char *ctx;
	int off = 0, size = 0, utf8_ok = 1;

	switch (code) {
	case XML_ERROR_NO_MEMORY:
		/* The quota, or expat's own allocation tracker set to the
		 * same size, refused; or the system is out of memory. */
		e = XMPP_SERR_RESOURCE_CONSTRAINT;
		if (p->q.sysfail) {
			p->nomem = true;
			text = "out of memory";
		} else {
			text = "the stream's XML memory limit was reached";
		}
		break;
	case XML_ERROR_UNBOUND_PREFIX:
		e = XMPP_SERR_BAD_NAMESPACE_PREFIX;
		text = "a prefix that is not declared (RFC 6120 §11.2)";
		break;
	case XML_ERROR_UNDECLARING_PREFIX:
	case XML_ERROR_RESERVED_PREFIX_XML:
	case XML_ERROR_RESERVED_PREFIX_XMLNS:
	case XML_ERROR_RESERVED_NAMESPACE_URI:
		e = XMPP_SERR_BAD_NAMESPACE_PREFIX;
		break;
	case XML_ERROR_UNKNOWN_ENCODING:
	case XML_ERROR_INCORRECT_ENCODING:
		e = XMPP_SERR_UNSUPPORTED_ENCODING;
		break;
	case XML_ERROR_UNDEFINED_ENTITY:
		e = XMPP_SERR_RESTRICTED_XML;
		text = "entity references other than the predefined ones are not allowed "
		    "(RFC 6120 §11.1)";
		break;
	case XML_ERROR_INVALID_TOKEN:
	case XML_ERROR_PARTIAL_CHAR:
		/* Octets that are not UTF-8 at all are an encoding error
		 * (RFC 6120 §4.9.3.22); a character XML forbids, or markup
		 * out of place, is not-well-formed. */
		ctx = XML_GetInputContext(p->x, &off, &size);
		if (ctx && off >= 0 && off < size)
			xmpp_xml__char_len((const unsigned char *)ctx + off, (size_t)(size - off),
			    &utf8_ok);
		if (!utf8_ok) {
			e = XMPP_SERR_UNSUPPORTED_ENCODING;
			text = "octets that are not UTF-8 (RFC 6120 §11.6)";
		}
		break;
	default:
		break;
	}
	xmpp_xml__fail(p, e, text ? text : "XML error", false);
}

/* ---------------------------------------------------------------- setup */

void
xmpp_xml__setup(struct xmpp_parser *p)
{
	XML_Parser x = p->x;

	xmpp_xml__handlers(p);
	XML_SetParamEntityParsing(x, XML_PARAM_ENTITY_PARSING_NEVER);
	if (p->salt)
		XML_SetHashSalt(x, p->salt);
#ifdef HAVE_XML_SETREPARSEDEFERRALENABLED
	/* Reparse deferral (expat 2.6) holds an incomplete token back until
	 * twice its octets are there: a peer whose last element came in two
	 * reads would wait for an answer that never comes.  What it saves,
	 * scanning a long token again for each small read, is bounded here by
	 * stanza_max, which no token can outgrow. */
	XML_SetReparseDeferralEnabled(x, XML_FALSE);
#endif
#ifdef HAVE_XML_SETBILLIONLAUGHSATTACKPROTECTIONMAXIMUMAMPLIFICATION
	/* Behind the refusal of any DOCTYPE, no entity can be declared; the only
	 * expansions left are the predefined entities, which shrink (5 octets
	 * for 1), so a stream never comes near this factor. */
	XML_SetBillionLaughsAttackProtectionMaximumAmplification(x, 4.0f);
	XML_SetBillionLaughsAttackProtectionActivationThreshold(x, 64 * 1024);
#endif
#ifdef HAVE_XML_SETALLOCTRACKERMAXIMUMAMPLIFICATION
	XML_SetAllocTrackerMaximumAmplification(x, 100.0f);
#endif
#ifdef HAVE_XML_SETALLOCTRACKERACTIVATIONTHRESHOLD
	/* The tracker (expat 2.7.2) is a second line behind the quota: active
	 * only where the quota refuses anyway. */
	XML_SetAllocTrackerActivationThreshold(x, p->lim.memory_max);
#endif
}

/* ------------------------------------------------------------- the feed */

/* A stream in UTF-16 or UTF-32 starts with a byte order mark or a NUL in
 * its first two octets, which UTF-8 XML never has; expat would follow a
 * byte order mark and switch encodings, so they are refused first. */
static void
sniff(struct xmpp_parser *p, const unsigned char *b, size_t len)
{
	for (size_t i = 0; i < len && p->fed + i < 2; i++) {
		unsigned long long at = p->fed + i;

		if ((at == 0 && (b[i] == 0x00 || b[i] == 0xfe || b[i] == 0xff)) ||
		    (at == 1 && b[i] == 0x00)) {
			xmpp_xml__fail(p, XMPP_SERR_UNSUPPORTED_ENCODING,
			    "the stream is not UTF-8 (RFC 6120 §11.6)", false);
			return;
		}
	}
}

/* The limits on what expat holds incomplete after a slice: a header, or a
 * top-level element, that already has as many octets as it may have in all
 * and is not finished will be longer than allowed. */
static void
check_pending(struct xmpp_parser *p)
{
	if (p->halt || p->closed || p->result)
		return;
	if (!p->doc_mode && !p->opened) {
		if (p->fed >= p->lim.stanza_max)
			xmpp_xml__fail(p, XMPP_SERR_POLICY_VIOLATION,
			    "the stream header is too long", false);
	} else if (p->doc) {
		if (p->fed - p->el_start >= p->el.stanza_max)
			xmpp_xml__fail(p, XMPP_SERR_POLICY_VIOLATION,
			    "an element is larger than allowed", true);
	} else if (p->fed - p->mark >= p->lim.stanza_max) {
		xmpp_xml__fail(p, XMPP_SERR_POLICY_VIOLATION,
		    "an element is larger than allowed", true);
	}
}

/* Keep the octets before the stream header's end, to restart expat on after
 * a pause. */
static int
keep_head(struct xmpp_parser *p, const char *s, size_t n)
{
	if (p->head_len + n > p->head_cap) {
		size_t cap = p->head_cap ? p->head_cap : 512;
		char *h;

		while (cap < p->head_len + n)
			cap *= 2;
		if ((h = realloc(p->head, cap)) == NULL)
			return -ENOMEM;
		p->head = h;
		p->head_cap = cap;
	}
	memcpy(p->head + p->head_len, s, n);
	p->head_len += n;
	return 0;
}

/* Bring expat to where the stream is, inside its root, by giving it the
 * stream's header again with the handlers silent: a reset one after a pause
 * (expat was stopped for good: a suspended expat would go on with the rest
 * of the buffer it copied, which the caller may hand to TLS instead), or a
 * new one to give memory back (compact).  0, or -ENOMEM with, for a new
 * one, the old one still in place. */
static int
restart(struct xmpp_parser *p, bool fresh)
{
	XML_Parser old = p->x;
	struct xmpp_xml__arena *old_arena = p->q.arena;
	enum XML_Status st;

	if (fresh) {
		p->q.arena = NULL;         /* the new one's blocks: pages of its own */
		p->x = XML_ParserCreate_MM("UTF-8", &xmpp_xml__mem_suite,
		    (const XML_Char[]){ XMPP_XML__NS_SEP, 0 });
		if (p->x == NULL) {
			xmpp_xml__arena_free(p->q.arena);
			p->q.arena = old_arena;
			p->x = old;
			return -ENOMEM;
		}
	} else if (!XML_ParserReset(p->x, "UTF-8")) {
		return -ENOMEM;
	}
	xmpp_xml__setup(p);
	p->depth = 0;
	p->replaying = true;
	p->in_parse = true;
	st = XML_Parse(p->x, p->head, (int)p->head_len, XML_FALSE);
	p->in_parse = false;
	p->replaying = false;
	if (st != XML_STATUS_OK || p->depth != 1) {
		p->depth = 1;
		if (fresh) {
			XML_ParserFree(p->x);
			xmpp_xml__arena_free(p->q.arena);
			p->q.arena = old_arena;
			p->x = old;
		}
		return -ENOMEM;
	}
	if (fresh) {
		XML_ParserFree(old);
		xmpp_xml__arena_free(old_arena);
	}
	p->xbase = p->fed - p->head_len;
	return 0;
}

/* expat never gives back the buffer it grew for a large element, even when
 * reset: once the stream is between elements with nothing pending and expat
 * holds more than this (or its arena has mapped twice as much: the blocks
 * it freed are kept for it), a new expat takes over, so that one large
 * stanza does not pin its size on an idle stream. */
#define COMPACT_ABOVE (32 * 1024)

static void
compact(struct xmpp_parser *p)
{
	if (p->opened && !p->closed && p->doc == NULL && p->fed == p->mark &&
	    (p->q.used > COMPACT_ABOVE || xmpp_xml__arena_mapped(p->q.arena) > 2 * COMPACT_ABOVE))
		(void)restart(p, true);    /* if it fails, the old one goes on */
}

int
xmpp_parser_sleep(struct xmpp_parser *p)
{
	struct xmpp_xml__quota *saved = xmpp_xml__cur_quota;

	if (p->doc_mode || p->in_feed || p->status || !p->opened || p->closed || p->ended ||
	    p->doc != NULL || p->fed != p->mark || p->text_len != 0)
		return -EAGAIN;
	if (p->x == NULL)
		return 0;                  /* asleep already */
	xmpp_xml__cur_quota = &p->q;
	XML_ParserFree(p->x);
	xmpp_xml__cur_quota = saved;
	xmpp_xml__arena_free(p->q.arena); /* its pages, to the kernel */
	p->q.arena = NULL;
	p->x = NULL;
	p->reprime = false;                /* the next one starts fresh anyway */
	free(p->text);
	p->text = NULL;
	p->text_cap = 0;
	free(p->slots);
	p->slots = NULL;
	p->nslots = p->nused = 0;
	return 0;
}

bool
xmpp_parser_asleep(const struct xmpp_parser *p)
{
	return p->x == NULL;
}

/* XML_Parse failed: a pause (1), a callback's status, or an error. */
static int
parse_stopped(struct xmpp_parser *p, unsigned long long start, size_t *used)
{
	if (p->paused) {
		p->paused = false;
		p->halt = false;
		p->reprime = !p->closed;
		p->ended = p->closed;
		*used = (size_t)(p->pause_end - start);
		p->fed = p->pause_end;
		p->bytes += *used;
		return XMPP_PARSER_PAUSE;
	}
	if (p->cb_rc < 0)
		return p->status = p->cb_rc;
	if (p->err == XMPP_SERR_NONE)
		expat_error(p);
	return p->status = p->nomem ? -ENOMEM : -EPROTO;
}

int
xmpp_parser_feed(struct xmpp_parser *p, const char *buf, size_t len, size_t *used)
{
	struct xmpp_xml__quota *saved = xmpp_xml__cur_quota;
	unsigned long long start;
	size_t off = 0, dummy;
	int rc = 0;

	if (used == NULL)
		used = &dummy;
	*used = 0;
	if (p->status)
		return p->status;
	if (p->in_feed)
		return -EBUSY;
	p->in_feed = true;
	xmpp_xml__cur_quota = &p->q;
	if (p->reprime && p->x != NULL) {
		if (restart(p, false) < 0) {
			xmpp_xml__fail(p, XMPP_SERR_RESOURCE_CONSTRAINT,
			    "the stream could not be resumed", false);
			rc = p->status = -EPROTO;
			goto out;
		}
		p->reprime = false;
	}
	start = p->fed;
	if (p->x == NULL) {
		/* Asleep (xmpp_parser_sleep): white space between top-level
		 * elements, the keep-alive, needs no expat; anything else wakes
		 * a new one, brought to where the stream is. */
		while (off < len && (buf[off] == ' ' || buf[off] == '\t' || buf[off] == '\n' ||
		    buf[off] == '\r'))
			off++;
		p->fed += off;
		p->mark = p->fed;
		if (off < len && restart(p, true) < 0) {
			xmpp_xml__fail(p, XMPP_SERR_RESOURCE_CONSTRAINT,
			    "the stream could not be resumed", false);
			rc = p->status = -EPROTO;
			goto out;
		}
		p->reprime = false;
	}
	if (p->ended) {
		/* Paused at </stream:stream>: expat is done, and after the end
		 * of the stream only white space may come (XML 1.0 §2.1). */
		for (size_t i = 0; i < len; i++)
			if (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\n' && buf[i] != '\r')
				xmpp_xml__fail(p, XMPP_SERR_NOT_WELL_FORMED,
				    "data after the end of the stream", false);
	}
	sniff(p, (const unsigned char *)buf, len);
	while (!p->halt && !p->ended && off < len) {
		size_t n = len - off > FEED_SLICE ? FEED_SLICE : len - off;
		enum XML_Status st;

		if (!p->opened && !p->doc_mode && keep_head(p, buf + off, n) < 0) {
			xmpp_xml__nomem(p);
			break;
		}
		p->fed += n;
		p->in_parse = true;
		st = XML_Parse(p->x, buf + off, (int)n, XML_FALSE);
		p->in_parse = false;
		if (st != XML_STATUS_OK) {
			rc = parse_stopped(p, start, used);
			goto out;
		}
		off += n;
		check_pending(p);
	}
	if (p->halt) {
		rc = p->status = p->nomem ? -ENOMEM : -EPROTO;
		goto out;
	}
	*used = len;
	p->bytes += len;
	compact(p);
out:
	xmpp_xml__cur_quota = saved;
	p->in_feed = false;
	return rc;
}

/* ----------------------------------------------------- parser lifecycle */

static void
clear_stream(struct xmpp_parser *p)
{
	xml_doc_free(p->doc);
	p->doc = NULL;
	p->cur = NULL;
	p->depth = 0;
	p->opened = p->closed = p->halt = false;
	p->paused = p->reprime = p->replaying = p->nomem = p->ended = false;
	p->status = p->cb_rc = 0;
	p->err = XMPP_SERR_NONE;
	p->err_text = NULL;
	p->too_big = false;
	p->fed = p->xbase = p->mark = p->el_start = p->pause_end = p->bytes = 0;
	p->nelems = p->ns_decls = p->text_len = p->head_len = 0;
	free(p->default_ns);
	p->default_ns = NULL;
}

int
xmpp_xml__parser_init(struct xmpp_parser **out, const struct xmpp_parser_limits *l,
    const struct xmpp_parser_cbs *cbs, void *ud, bool doc_mode, unsigned long salt)
{
	struct xmpp_xml__quota *saved = xmpp_xml__cur_quota;
	struct xmpp_parser *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return -ENOMEM;
	if (l)
		p->lim = *l;
	else
		xmpp_parser_limits_default(&p->lim);
	if (cbs)
		p->cbs = *cbs;
	p->ud = ud;
	p->doc_mode = doc_mode;
	p->top = doc_mode ? 0 : 1;
	p->salt = salt;
	p->q.max = p->lim.memory_max;
	p->q.own_pages = !doc_mode;        /* a stream's: see xmpp_xml_mem.c */
	p->gen = 1;
	xmpp_xml__cur_quota = &p->q;
	p->x = XML_ParserCreate_MM("UTF-8", &xmpp_xml__mem_suite,
	    (const XML_Char[]){ XMPP_XML__NS_SEP, 0 });
	xmpp_xml__cur_quota = saved;
	if (p->x == NULL) {
		xmpp_xml__arena_free(p->q.arena);
		free(p);
		return -ENOMEM;
	}
	xmpp_xml__setup(p);
	*out = p;
	return 0;
}

int
xmpp_parser_new(const struct xmpp_parser_limits *l, const struct xmpp_parser_cbs *cbs,
    void *ud, struct xmpp_parser **out)
{
	unsigned long salt = 0;

	/* expat salts its hash tables from the kernel when given no salt; one
	 * from OpenSSL's generator per stream does without the system call and
	 * keeps the salt of each stream its own. */
	if (RAND_bytes((unsigned char *)&salt, sizeof(salt)) != 1)
		salt = 0;
	return xmpp_xml__parser_init(out, l, cbs, ud, false, salt);
}

void
xmpp_parser_free(struct xmpp_parser *p)
{
	struct xmpp_xml__quota *saved = xmpp_xml__cur_quota;

	if (p == NULL)
		return;
	clear_stream(p);
	xml_doc_free(p->result);
	xmpp_xml__cur_quota = &p->q;
	XML_ParserFree(p->x);
	xmpp_xml__cur_quota = saved;
	xmpp_xml__arena_free(p->q.arena);
	free(p->text);
	free(p->head);
	free(p->slots);
	free(p);
}

void
xmpp_parser_set_limits(struct xmpp_parser *p, const struct xmpp_parser_limits *l)
{
	p->lim = *l;
	p->q.max = l->memory_max;
}

enum xmpp_serr
xmpp_parser_error(const struct xmpp_parser *p, const char **text, bool *too_big)
{
	if (text)
		*text = p->err_text ? p->err_text : "";
	if (too_big)
		*too_big = p->too_big;
	return p->err;
}

int
xmpp_parser_reset(struct xmpp_parser *p)
{
	struct xmpp_xml__quota *saved = xmpp_xml__cur_quota;
	XML_Bool ok;

	if (p->in_feed)
		return -EBUSY;
	clear_stream(p);
	xmpp_xml__cur_quota = &p->q;
	if (p->x == NULL) {                /* asleep: a new one */
		p->x = XML_ParserCreate_MM("UTF-8", &xmpp_xml__mem_suite,
		    (const XML_Char[]){ XMPP_XML__NS_SEP, 0 });
		ok = p->x != NULL;
	} else {
		ok = XML_ParserReset(p->x, "UTF-8");
	}
	xmpp_xml__cur_quota = saved;
	if (!ok) {
		p->status = -ENOMEM;
		return -ENOMEM;
	}
	xmpp_xml__setup(p);
	return 0;
}

unsigned long long
xmpp_parser_bytes(const struct xmpp_parser *p)
{
	return p->bytes;
}

/* ------------------------------------------------------ whole documents */

int
xml_doc_parse(const char *buf, size_t len, const struct xmpp_parser_limits *l,
    struct xml_doc **out, enum xmpp_serr *err, const char **text)
{
	static _Thread_local unsigned long salt;
	struct xmpp_xml__quota *saved = xmpp_xml__cur_quota;
	struct xmpp_parser_limits authed;
	struct xmpp_parser *p;
	int rc;

	if (err)
		*err = XMPP_SERR_NONE;
	if (text)
		*text = "";
	if (l == NULL) {
		xmpp_parser_limits_authed(&authed);
		l = &authed;
	}
	/* One salt per thread: a document is parsed and gone in microseconds. */
	if (salt == 0 && RAND_bytes((unsigned char *)&salt, sizeof(salt)) != 1)
		salt = 0;
	if ((rc = xmpp_xml__parser_init(&p, l, NULL, NULL, true, salt)) < 0)
		return rc;
	if ((rc = xmpp_parser_feed(p, buf, len, NULL)) == 0) {
		unsigned long long end = p->fed;

		xmpp_xml__cur_quota = &p->q;
		p->in_parse = true;
		if (XML_Parse(p->x, NULL, 0, XML_TRUE) != XML_STATUS_OK)
			rc = parse_stopped(p, end, &(size_t){ 0 });
		p->in_parse = false;
		xmpp_xml__cur_quota = saved;
	}
	if (rc == 0 && p->result == NULL) {
		xmpp_xml__fail(p, XMPP_SERR_NOT_WELL_FORMED, "no element", false);
		rc = -EPROTO;
	}
	if (rc == 0) {
		*out = p->result;
		p->result = NULL;
	} else {
		if (err)
			*err = p->err;
		if (text)
			*text = p->err_text ? p->err_text : "";
	}
	xmpp_parser_free(p);
	return rc;
}
