/* framing.c: SIP messages out of a byte stream (RFC 3261 §18.3, RFC 5626 §3.5.1
 * keep-alives), over Sofia-SIP's incremental parser.  See framing.h.
 *
 * Sofia's own size limit (msg_maxsize) counts the bytes it allocates, not the
 * bytes of the message: a received message and its serialisation for
 * forwarding share the budget, so a limit set there halves the real one.  The
 * limit is therefore enforced here, on the octets of the message, and Sofia's
 * is only a guard far above it. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/msg_addr.h>
#include <sofia-sip/msg_buffer.h>
#include <sofia-sip/msg_header.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>

#include "sipedge/framing.h"
#include "sipedge/sipmsg.h"

/* Salvage of a request whose start line is over FRAMER_MAX_LINE: the rest of
 * that line is skipped, the header lines after it (each at most
 * FRAMER_MAX_LINE, SALVAGE_KEEP in all) are kept, and at the blank line they
 * become a request the core can answer 414. */
#define SALVAGE_KEEP    16384
#define SALVAGE_METHOD  32

struct framer_salvage {
	char method[SALVAGE_METHOD];   /* "" when the start line was no request */
	bool in_first;                 /* still skipping the start line */
	bool drop;                     /* the current line is too long: dropped */
	size_t line_start;             /* where the current line begins in buf */
	size_t seen;                   /* octets consumed in salvage */
	size_t len;
	char buf[SALVAGE_KEEP + FRAMER_MAX_LINE + 64];
};

void
framer_init(struct framer *f, size_t max)
{
	memset(f, 0, sizeof(*f));
	f->max = max ? max : 65536;
}

void
framer_clear(struct framer *f)
{
	if (f->cur) {
		msg_destroy(f->cur);
		f->cur = NULL;
	}
	free(f->sv);
	f->sv = NULL;
	f->ka = 0;
	f->fed = 0;
}

bool
framer_partial(const struct framer *f)
{
	return f->cur != NULL || f->sv != NULL;
}

/* Feed CR and LF octets between messages to the CRLFCRLF matcher; returns how
 * many leading octets of p were CR or LF (a lone CRLF is ignored), and through
 * *pings how many pings they completed. */
static size_t
keepalive(struct framer *f, const char *p, size_t n, unsigned *pings)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\r') {
			f->ka = (f->ka == 0 || f->ka == 2) ? f->ka + 1 : 1;
		} else if (p[i] == '\n') {
			if (f->ka == 1 || f->ka == 3) {
				if (++f->ka == 4) {
					f->ka = 0;
					(*pings)++;
				}
			} else {
				f->ka = 0;
			}
		} else {
			break;
		}
	}
	if (i < n)
		f->ka = 0;          /* a message starts */
	return i;
}

static int
emit_pings(unsigned pings, framer_cb cb, void *arg)
{
	int rc = 0;

	while (pings-- > 0 && rc == 0)
		rc = cb(arg, FRAMER_PING, NULL, 0, NULL);
	return rc;
}

static msg_t *
msg_new(const struct framer *f)
{
	msg_t *m = msg_create(sipmsg_mclass(), MSG_DO_EXTRACT_COPY);

	if (m == NULL)
		return NULL;
	/* Only a guard against absurd Content-Lengths, far above the real
	 * limit: Sofia counts the message and its re-serialisation together. */
	msg_maxsize(m, 4 * f->max + 65536);
	/* One block for the header structures saves ~24 mallocs a message. */
	su_home_preload(msg_home(m), 1, 4096);
	return m;
}

/* Put len octets into m's receive buffer; eos: nothing follows. */
static int
msg_fill(msg_t *m, const char *p, size_t len, int eos)
{
	msg_iovec_t vec[msg_n_fragments * 2];
	issize_t k;
	size_t off = 0;

	k = msg_recv_iovec(m, vec, (isize_t)(sizeof(vec) / sizeof(vec[0])), len, eos);
	if (k <= 0 || (size_t)k > sizeof(vec) / sizeof(vec[0]))
		return -ENOBUFS;
	for (issize_t i = 0; i < k; i++) {
		memcpy(vec[i].mv_base, p + off, vec[i].mv_len);
		off += vec[i].mv_len;
	}
	msg_recv_commit(m, len, eos);
	return 0;
}

/* Only CR/LF left after a message: a keep-alive, not a message. */
static bool
all_crlf(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != '\r' && p[i] != '\n')
			return false;
	return true;
}

static int
fail(struct framer *f, msg_t *m, int status, const char *why, framer_cb cb, void *arg)
{
	if (f->cur == m)
		f->cur = NULL;
	f->failed = true;
	f->fed = 0;
	cb(arg, FRAMER_ERROR, m, status, why);
	return 1;
}

/* Where the header section ends in p (the offset of its blank line), or n. */
static size_t
header_end(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] == '\n' && ((i + 1 < n && p[i + 1] == '\n') ||
		    (i + 2 < n && p[i + 1] == '\r' && p[i + 2] == '\n')))
			return i + 1;
	return n;
}

/* A NUL octet in the header section of f->cur (Sofia parses header fields as
 * C strings): the octet that stands for it, found nowhere else in the header
 * section so far nor in rest (the octets after the NUL), and marked on the
 * message so that it is written back as NUL.  -ENOSPC when every candidate occurs. */
static int
nul_standin(struct framer *f, const char *rest, size_t restlen)
{
	msg_t *m = f->cur;
	const char *data = msg_buf_committed_data(m);
	size_t len = msg_buf_committed(m), end = header_end(rest, restlen);
	bool used[256] = { false };
	int have = sipmsg_nul_byte(m);

	if (have >= 0)
		return memchr(rest, have, end) ? -ENOSPC : have;
	for (size_t i = 0; data && i < len; i++)
		used[(unsigned char)data[i]] = true;
	for (size_t i = 0; i < end; i++)
		used[(unsigned char)rest[i]] = true;
	for (msg_header_t *h = *msg_chain_head(m); h; h = h->sh_succ)
		for (size_t i = 0; h->sh_data && i < h->sh_len; i++)
			used[((const unsigned char *)h->sh_data)[i]] = true;
	for (unsigned k = 0; k < SIPMSG_NUL_CANDIDATES; k++)
		if (!used[sipmsg_nul_candidate(k)]) {
			sipmsg_nul_mark(m, k);
			return sipmsg_nul_candidate(k);
		}
	return -ENOSPC;
}

static bool
is_token_char(int c)
{
	return isalnum(c) || strchr("-.!%*_+`'~", c) != NULL;
}

/* The start line of m is over FRAMER_MAX_LINE: switch to salvage (the caller
 * feeds it what m holds after the first FRAMER_MAX_LINE octets, then frees m). */
static int
salvage_start(struct framer *f, msg_t *m)
{
	const char *d = msg_buf_committed_data(m);
	size_t len = msg_buf_committed(m), i;

	struct framer_salvage *sv = calloc(1, sizeof(*sv));

	if (sv == NULL)
		return -ENOMEM;
	for (i = 0; i < len && i < SALVAGE_METHOD - 1 && is_token_char((unsigned char)d[i]); i++)
		sv->method[i] = d[i];
	if (i == len || d[i] != ' ' || strncmp(d, "SIP/", 4) == 0)
		sv->method[0] = '\0';        /* a response or junk: nobody to answer */
	sv->in_first = true;
	sv->seen = FRAMER_MAX_LINE;
	f->sv = sv;
	f->cur = NULL;
	return 0;
}

static bool
is_content_length(const char *line, size_t n)
{
	size_t k = 0;

	if (n >= 14 && strncasecmp(line, "content-length", 14) == 0)
		k = 14;
	else if (n >= 1 && (line[0] == 'l' || line[0] == 'L'))
		k = 1;
	else
		return false;
	while (k < n && (line[k] == ' ' || line[k] == '\t'))
		k++;
	return k < n && line[k] == ':';
}

/* What replaces an over-long header line in a salvaged request: From and To
 * (which an answer needs) with a placeholder URI, nothing for the others. */
static const char *
long_line_stub(const char *line, size_t n)
{
	size_t k = 0;

	while (k < n && line[k] != ':' && line[k] != ' ' && line[k] != '\t')
		k++;
	if ((k == 2 && strncasecmp(line, "to", 2) == 0) || (k == 1 && (line[0] | 0x20) == 't'))
		return "To: <sip:too-long.invalid>\r\n";
	if ((k == 4 && strncasecmp(line, "from", 4) == 0) || (k == 1 && (line[0] | 0x20) == 'f'))
		return "From: <sip:too-long.invalid>;tag=too-long\r\n";
	return NULL;
}

/* The blank line after the salvaged headers: make them a request to answer. */
static int
salvage_finish(struct framer *f, framer_cb cb, void *arg)
{
	struct framer_salvage *sv = f->sv;
	char *text;
	size_t n;
	msg_t *m = NULL;

	f->sv = NULL;
	if (sv->method[0] && (text = malloc(sv->len + SALVAGE_METHOD + 96)) != NULL) {
		n = (size_t)snprintf(text, SALVAGE_METHOD + 64, "%s sip:uri-too-long.invalid SIP/2.0\r\n",
		    sv->method);
		memcpy(text + n, sv->buf, sv->len);
		n += sv->len;
		memcpy(text + n, "Content-Length: 0\r\n\r\n", 21);
		n += 21;
		if ((m = msg_new(f)) != NULL && (msg_fill(m, text, n, 1) < 0 || msg_extract(m) <= 0)) {
			msg_destroy(m);
			m = NULL;
		}
		free(text);
	}
	free(sv);
	return fail(f, m, 414, "start line too long", cb, arg);
}

/* Salvage mode: skip the rest of the start line, keep the header lines. */
static int
salvage_feed(struct framer *f, const char *p, size_t n, framer_cb cb, void *arg)
{
	struct framer_salvage *sv = f->sv;

	for (size_t i = 0; i < n; i++) {
		char ch = p[i];

		sv->seen++;
		if (sv->in_first) {
			if (ch == '\n') {
				sv->in_first = false;
				sv->line_start = sv->len;
			}
			continue;
		}
		if (ch != '\n') {
			if (ch == '\r')
				continue;
			if (!sv->drop && sv->len - sv->line_start < FRAMER_MAX_LINE &&
			    sv->len < SALVAGE_KEEP)
				sv->buf[sv->len++] = ch;
			else
				sv->drop = true;
			continue;
		}
		if (sv->len == sv->line_start && !sv->drop)
			return salvage_finish(f, cb, arg);       /* the blank line */
		if (sv->drop) {
			/* A response needs From and To, not their contents: a
			 * client matches it by branch and CSeq (RFC 3261 §17.1.3). */
			const char *stub = long_line_stub(sv->buf + sv->line_start,
			    sv->len - sv->line_start);

			sv->len = sv->line_start;
			if (stub) {
				memcpy(sv->buf + sv->len, stub, strlen(stub));
				sv->len += strlen(stub);
			}
		} else if (is_content_length(sv->buf + sv->line_start, sv->len - sv->line_start)) {
			sv->len = sv->line_start;
		} else {
			sv->buf[sv->len++] = '\r';
			sv->buf[sv->len++] = '\n';
		}
		sv->drop = false;
		sv->line_start = sv->len;
	}
	/* A peer that never ends its header section is cut off. */
	if (sv->seen > 4 * (f->max + FRAMER_MAX_LINE)) {
		free(sv);
		f->sv = NULL;
		return fail(f, NULL, 414, "start line too long", cb, arg);
	}
	return 0;
}

/* The size of m on the wire, once its header section is parsed: the header
 * section (octets fed, less those not yet parsed and the body octets the
 * parser holds) and Content-Length.  Sofia's own count (msg_size) is not it:
 * it counts a body received in parts twice.  next: what msg_next(m) gave, or
 * NULL: when m's body came in parts, Sofia puts the octets fed after it in a
 * message of its own, not in m's buffer. */
static uint64_t
message_size(const struct framer *f, msg_t *m, const sip_t *sip, msg_t *next)
{
	size_t body = sip->sip_payload ? sip->sip_payload->pl_common->h_len : 0;
	size_t hdr = f->fed - msg_buf_committed(next ? next : m) - body;

	return (uint64_t)hdr + (sip->sip_content_length ? sip->sip_content_length->l_length : 0);
}

/* The parser is waiting for more of m: check what it holds so far. */
static int
check_incomplete(struct framer *f, msg_t *m, unsigned flags, framer_cb cb, void *arg)
{
	sip_t *sip = sip_object(m);
	size_t used = msg_size(m), held = msg_buf_committed(m);
	const char *data = msg_buf_committed_data(m);

	if (!(flags & MSG_FLG_BODY)) {      /* still in the header section */
		if (used == 0 && held > FRAMER_MAX_LINE && !memchr(data, '\n', FRAMER_MAX_LINE)) {
			int rc;

			if (salvage_start(f, m) < 0)
				return fail(f, m, 414, "start line too long", cb, arg);
			rc = salvage_feed(f, data + FRAMER_MAX_LINE, held - FRAMER_MAX_LINE, cb, arg);
			msg_destroy(m);
			return rc;
		}
		if (f->fed > f->max)
			return fail(f, m, 513, "header section over the size limit", cb, arg);
		return 0;
	}
	/* Headers are complete: judge Content-Length now rather than wait for
	 * a body that must not come. */
	if ((flags & MSG_FLG_BODY) && sip) {
		if (sip->sip_content_length == NULL)
			return fail(f, m, 400, "no Content-Length", cb, arg);
		if (message_size(f, m, sip, NULL) > f->max)
			return fail(f, m, 513, "Content-Length over the limit", cb, arg);
	}
	return 0;
}

/* After a complete message: the parser's leftover, as the next message to
 * parse (NULL if only keep-alive octets were left).  Negative: stop (-ECANCELED:
 * the callback asked to). */
static int
next_message(struct framer *f, msg_t *next, framer_cb cb, void *arg, msg_t **out)
{
	const char *d = msg_buf_committed_data(next);
	size_t len = msg_buf_committed(next), skip;
	unsigned pings = 0;
	int rc;

	*out = NULL;
	if (all_crlf(d, len)) {
		keepalive(f, d, len, &pings);
		msg_destroy(next);
		return emit_pings(pings, cb, arg) ? -ECANCELED : 0;
	}
	/* CRLF before the next message: answer a ping in them, and give the
	 * parser the octets after them in a fresh message (Sofia's msg_next()
	 * keeps them, and msg_extract() then fails). */
	skip = keepalive(f, d, len, &pings);
	if ((rc = emit_pings(pings, cb, arg)) != 0) {
		msg_destroy(next);
		return -ECANCELED;
	}
	if (skip > 0) {
		msg_t *fresh = msg_new(f);

		if (!fresh || msg_fill(fresh, d + skip, len - skip, 0) < 0) {
			if (fresh)
				msg_destroy(fresh);
			msg_destroy(next);
			fail(f, NULL, 400, "out of memory", cb, arg);
			return -ENOMEM;
		}
		msg_destroy(next);
		next = fresh;
	} else
		su_home_preload(msg_home(next), 1, 4096);
	*out = next;
	return 0;
}

/* Run the parser over what f->cur holds; report complete messages. */
static int
extract(struct framer *f, framer_cb cb, void *arg)
{
	msg_t *m = f->cur;

	while (m != NULL) {
		int r = msg_extract(m);
		unsigned flags = msg_get_flags(m, ~0u);
		sip_t *sip = sip_object(m);
		msg_t *next;

		if (r == 0) {
			if (check_incomplete(f, m, flags, cb, arg) != 0)
				return 1;
			break;
		}
		/* Taken first: msg_destroy(m) would not free a message Sofia
		 * started for the octets after m (see message_size). */
		next = msg_next(m);
		if (r < 0 || (flags & (MSG_FLG_ERROR | MSG_FLG_TRUNC | MSG_FLG_TOOLARGE))) {
			msg_destroy(next);
			return fail(f, m, (flags & MSG_FLG_TOOLARGE) ? 513 : 400, "unparsable message",
			    cb, arg);
		}
		if (sip == NULL || sip->sip_content_length == NULL) {
			msg_destroy(next);
			return fail(f, m, 400, "no Content-Length", cb, arg);
		}
		if (message_size(f, m, sip, next) > f->max) {
			msg_destroy(next);
			return fail(f, m, 513, "message over the size limit", cb, arg);
		}

		f->cur = NULL;
		f->fed = 0;
		if (cb(arg, FRAMER_MESSAGE, m, 0, NULL) != 0) {
			if (next)
				msg_destroy(next);
			return 1;
		}
		if (next == NULL)
			break;
		if (next_message(f, next, cb, arg, &m) < 0)
			return 1;
		f->cur = m;
		f->fed = m ? msg_buf_committed(m) : 0;
	}
	return 0;
}

/* Octets with no NUL among them, or one stand-in octet. */
static int
feed_plain(struct framer *f, const char *p, size_t n, framer_cb cb, void *arg)
{
	if (f->cur == NULL) {
		unsigned pings = 0;
		size_t skip = keepalive(f, p, n, &pings);
		int rc = emit_pings(pings, cb, arg);

		if (rc != 0)
			return rc;
		p += skip;
		n -= skip;
		if (n == 0)
			return 0;
		if ((f->cur = msg_new(f)) == NULL)
			return fail(f, NULL, 400, "out of memory", cb, arg);
	}
	if (msg_fill(f->cur, p, n, 0) < 0)
		return fail(f, f->cur, 400, "no receive buffer", cb, arg);
	f->fed += n;
	return extract(f, cb, arg);
}

static bool
in_header_section(const struct framer *f)
{
	return f->cur == NULL || !(msg_get_flags(f->cur, MSG_FLG_BODY) & MSG_FLG_BODY);
}

/* One slice (at most FRAMER_SLICE octets) of the stream.  NUL octets are fed
 * one at a time: once the octets before one are parsed, the parser's state
 * says whether it is in a body (left alone) or a header section (replaced). */
static int
feed_slice(struct framer *f, const char *p, size_t n, framer_cb cb, void *arg)
{
	while (n > 0 && !f->failed) {
		const char *z;
		size_t k;
		int rc, b;
		char standin;

		if (f->sv)
			return salvage_feed(f, p, n, cb, arg);
		z = memchr(p, '\0', n);
		k = z ? (size_t)(z - p) : n;
		if (k > 0) {
			b = f->cur ? sipmsg_nul_byte(f->cur) : -1;
			if (b >= 0 && in_header_section(f) && memchr(p, b, header_end(p, k)))
				return fail(f, f->cur, 400, "NUL octets in the header section", cb, arg);
			if ((rc = feed_plain(f, p, k, cb, arg)) != 0)
				return rc;
			p += k;
			n -= k;
			continue;
		}
		/* p[0] is a NUL. */
		if (!in_header_section(f)) {
			rc = feed_plain(f, p, 1, cb, arg);
		} else {
			if (f->cur == NULL) {
				f->ka = 0;
				if ((f->cur = msg_new(f)) == NULL)
					return fail(f, NULL, 400, "out of memory", cb, arg);
			}
			if ((b = nul_standin(f, p + 1, n - 1)) < 0)
				return fail(f, f->cur, 400, "NUL octets in the header section", cb, arg);
			standin = (char)b;
			rc = feed_plain(f, &standin, 1, cb, arg);
		}
		if (rc != 0)
			return rc;
		p++;
		n--;
	}
	return 0;
}

int
framer_feed(struct framer *f, const char *p, size_t n, framer_cb cb, void *arg)
{
	while (n > 0 && !f->failed) {
		size_t k = n > FRAMER_SLICE ? FRAMER_SLICE : n;
		int rc = feed_slice(f, p, k, cb, arg);

		if (rc != 0)
			return rc;
		p += k;
		n -= k;
	}
	return 0;
}

static int
one_cb(void *arg, enum framer_event ev, msg_t *msg, int status, const char *why)
{
	msg_t **out = arg;

	(void)status;
	(void)why;
	if (ev == FRAMER_MESSAGE && *out == NULL)
		*out = msg;
	else if (msg)
		msg_destroy(msg);
	return 0;
}

msg_t *
framer_parse_one(const char *p, size_t n)
{
	struct framer fr;
	msg_t *msg = NULL;

	framer_init(&fr, n + 1);
	framer_feed(&fr, p, n, one_cb, &msg);
	framer_clear(&fr);
	return msg;
}
