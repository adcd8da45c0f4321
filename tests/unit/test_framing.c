/* test_framing.c: unit tests for framing.c (RFC 3261 §18.3 stream framing, the
 * exact size limit, CRLF pings, NUL octets in header fields, over-long start
 * lines) and the NUL helpers of sipmsg.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/msg.h>
#include <sofia-sip/msg_addr.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>

#include "sipedge/framing.h"
#include "sipedge/sipmsg.h"
#include "unit.h"

#define MAXEV 64

struct ev {
	enum framer_event ev;
	msg_t *msg;
	int status;
};

static struct {
	struct ev ev[MAXEV];
	int n;
} R;

static int
record_cb(void *arg, enum framer_event ev, msg_t *m, int status, const char *why)
{
	(void)arg;
	if (why) fprintf(stderr, "# event %d status %d: %s\n", (int)ev, status, why);
	if (R.n < MAXEV) {
		R.ev[R.n].ev = ev;
		R.ev[R.n].msg = m;
		R.ev[R.n].status = status;
		R.n++;
	} else if (m)
		msg_destroy(m);
	return 0;
}

static void
reset(void)
{
	for (int i = 0; i < R.n; i++)
		if (R.ev[i].msg)
			msg_destroy(R.ev[i].msg);
	memset(&R, 0, sizeof(R));
}

/* A MESSAGE of exactly total octets (body padded); returns its length, and
 * the body length in *bodylen when not NULL. */
static size_t
mk(char *buf, size_t cap, size_t total, const char *extra, size_t *bodylen)
{
	char head[1024];
	size_t hn, body;
	int w;

	for (int digits = 1; digits < 8; digits++) {
		hn = (size_t)snprintf(head, sizeof(head), "MESSAGE sip:bob@contoso.test SIP/2.0\r\n"
		    "Via: SIP/2.0/TLS 127.0.0.20:5061;branch=z9hG4bK-f1\r\n"
		    "From: <sip:alice@fabrikam.test>;tag=a1\r\nTo: <sip:bob@contoso.test>\r\n"
		    "Call-ID: f1@fabrikam.test\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\n%s"
		    "Content-Type: text/plain\r\nContent-Length: ", extra ? extra : "");
		if (total < hn + (size_t)digits + 4)
			return 0;
		body = total - hn - (size_t)digits - 4;
		w = snprintf(NULL, 0, "%zu", body);
		if (w == digits)
			break;
	}
	if (total > cap)
		return 0;
	w = snprintf(buf, cap, "%s%zu\r\n\r\n", head, body);
	if (bodylen)
		*bodylen = body;
	memset(buf + w, 'x', body);
	return (size_t)w + body;
}

static size_t
msg_bytes(msg_t *m, char *out, size_t cap)
{
	msg_iovec_t iov[64];
	size_t n, k = 0;

	if (msg_serialize(m, NULL) < 0 || msg_prepare(m) < 0)
		return 0;
	n = (size_t)msg_iovec(m, iov, 64);
	for (size_t i = 0; i < n && i < 64; i++) {
		if (k + iov[i].mv_len > cap)
			return 0;
		memcpy(out + k, iov[i].mv_base, iov[i].mv_len);
		k += iov[i].mv_len;
	}
	sipmsg_nul_restore(m, out, k);
	return k;
}

static int
test_framing_exact_limit(void)
{
	static char buf[5000];
	struct framer f;
	size_t n, body;

	for (int bytewise = 0; bytewise < 2; bytewise++) {
		for (size_t total = 4094; total <= 4097; total++) {
			reset();
			framer_init(&f, 4096);
			CHECK((n = mk(buf, sizeof(buf), total, NULL, &body)) == total);
			if (bytewise) {
				for (size_t i = 0; i < n && !f.failed; i++)
					framer_feed(&f, buf + i, 1, record_cb, NULL);
			} else
				framer_feed(&f, buf, n, record_cb, NULL);
			CHECK_EQ_INT(R.n, 1);
			if (total <= 4096) {
				CHECK_EQ_INT(R.ev[0].ev, FRAMER_MESSAGE);
				CHECK(sip_object(R.ev[0].msg)->sip_payload);
				CHECK_EQ_INT(sip_object(R.ev[0].msg)->sip_payload->pl_len, body);
			} else {
				CHECK_EQ_INT(R.ev[0].ev, FRAMER_ERROR);
				CHECK_EQ_INT(R.ev[0].status, 513);
				/* Enough was parsed to answer. */
				CHECK(R.ev[0].msg && sip_object(R.ev[0].msg)->sip_via);
			}
			CHECK(!framer_partial(&f));
			framer_clear(&f);
		}
	}
	reset();
	return 0;
}

/* A message at the limit survives re-serialisation for forwarding (Sofia's own
 * limit counted the two together and failed at half the size). */
static int
test_framing_forward_large(void)
{
	static char buf[70000], out[80000];
	struct framer f;
	size_t n;
	sip_t *sip;

	reset();
	framer_init(&f, 65536);
	CHECK((n = mk(buf, sizeof(buf), 65536, NULL, NULL)) == 65536);
	framer_feed(&f, buf, n, record_cb, NULL);
	CHECK_EQ_INT(R.n, 1);
	CHECK_EQ_INT(R.ev[0].ev, FRAMER_MESSAGE);
	sip = sip_object(R.ev[0].msg);
	CHECK(sip_add_make(R.ev[0].msg, sip, sip_via_class,
	    "SIP/2.0/TLS edge.contoso.test:5061;branch=z9hG4bK-edge") == 0);
	CHECK(msg_bytes(R.ev[0].msg, out, sizeof(out)) > 65536);
	reset();
	return 0;
}

static int
test_framing_pipeline_and_pings(void)
{
	static char buf[8192];
	struct framer f;
	size_t n = 0, b1, b2;

	reset();
	framer_init(&f, 65536);
	memcpy(buf, "\r\n\r\n", 4);
	n = 4;
	n += mk(buf + n, sizeof(buf) - n, 400, NULL, &b1);
	memcpy(buf + n, "\r\n\r\n\r\n", 6);     /* a ping and a lone CRLF */
	n += 6;
	n += mk(buf + n, sizeof(buf) - n, 500, NULL, &b2);
	framer_feed(&f, buf, n, record_cb, NULL);
	CHECK_EQ_INT(R.n, 4);
	CHECK_EQ_INT(R.ev[0].ev, FRAMER_PING);
	CHECK_EQ_INT(R.ev[1].ev, FRAMER_MESSAGE);
	CHECK_EQ_INT(sip_object(R.ev[1].msg)->sip_payload->pl_len, b1);
	CHECK_EQ_INT(R.ev[2].ev, FRAMER_PING);
	CHECK_EQ_INT(R.ev[3].ev, FRAMER_MESSAGE);
	CHECK_EQ_INT(sip_object(R.ev[3].msg)->sip_payload->pl_len, b2);
	CHECK(!framer_partial(&f));
	reset();
	framer_clear(&f);
	return 0;
}

/* A body in two reads, the second ending it and holding the next message:
 * Sofia keeps the octets after the body in a message of its own (m_next), so
 * they are neither the first message's size (once a false 513) nor lost with
 * it (once a leak).  Found by tests/fuzz/fuzz_framing. */
static int
test_framing_body_in_parts_then_pipelined(void)
{
	static char buf[8192];
	struct framer f;
	size_t n1, n2, b1, b2, split;

	reset();
	framer_init(&f, 4096);
	CHECK((n1 = mk(buf, sizeof(buf), 500, NULL, &b1)) == 500);
	CHECK((n2 = mk(buf + n1, sizeof(buf) - n1, 4000, NULL, &b2)) == 4000);
	split = n1 - b1 / 2;            /* in the first body */
	CHECK_EQ_INT(framer_feed(&f, buf, split, record_cb, NULL), 0);
	CHECK_EQ_INT(R.n, 0);
	CHECK(framer_partial(&f));
	CHECK_EQ_INT(framer_feed(&f, buf + split, n1 + n2 - split, record_cb, NULL), 0);
	CHECK_EQ_INT(R.n, 2);
	CHECK_EQ_INT(R.ev[0].ev, FRAMER_MESSAGE);
	CHECK_EQ_INT(sip_object(R.ev[0].msg)->sip_payload->pl_len, b1);
	CHECK_EQ_INT(R.ev[1].ev, FRAMER_MESSAGE);
	CHECK_EQ_INT(sip_object(R.ev[1].msg)->sip_payload->pl_len, b2);
	CHECK(!framer_partial(&f));
	framer_clear(&f);
	reset();
	return 0;
}

/* RFC 4475 §3.1.1.2 style: a NUL in a quoted-pair of the To display name. */
static int
test_framing_nul_in_header(void)
{
	static const char text[] = "OPTIONS sip:bob@contoso.test SIP/2.0\r\n"
	    "Via: SIP/2.0/TLS 127.0.0.20:5061;branch=z9hG4bK-n1\r\n"
	    "From: <sip:alice@fabrikam.test>;tag=a1\r\n"
	    "To: \"Bob\\\x01\\\0\\\x7f\" <sip:bob@contoso.test>\r\n"
	    "Call-ID: n1@fabrikam.test\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
	    "Content-Length: 3\r\n\r\na\0b";
	static char out[2048];
	size_t len = sizeof(text) - 1, k;
	struct framer f;
	sip_t *sip;

	for (int bytewise = 0; bytewise < 2; bytewise++) {
		reset();
		framer_init(&f, 65536);
		if (bytewise)
			for (size_t i = 0; i < len; i++)
				framer_feed(&f, text + i, 1, record_cb, NULL);
		else
			framer_feed(&f, text, len, record_cb, NULL);
		CHECK_EQ_INT(R.n, 1);
		CHECK_EQ_INT(R.ev[0].ev, FRAMER_MESSAGE);
		sip = sip_object(R.ev[0].msg);
		CHECK(sip && sip->sip_to && sip->sip_to->a_display);
		CHECK(sipmsg_nul_byte(R.ev[0].msg) > 0);
		/* The stand-in is neither 0x01 nor 0x7f: both occur in the message. */
		CHECK(sipmsg_nul_byte(R.ev[0].msg) != 0x01 && sipmsg_nul_byte(R.ev[0].msg) != 0x7f);
		CHECK(sip->sip_payload && sip->sip_payload->pl_len == 3);
		/* Written back unchanged, NULs in the header and in the body. */
		k = msg_bytes(R.ev[0].msg, out, sizeof(out));
		CHECK_EQ_INT(k, len);
		CHECK(memcmp(out, text, len) == 0);
		framer_clear(&f);
	}
	reset();
	return 0;
}

static int
test_framing_nul_copy(void)
{
	msg_t *a = msg_create(sipmsg_mclass(), 0), *b = msg_create(sipmsg_mclass(), 0);
	char buf[] = "X: a\x03z\r\n\r\nbody\x03";

	CHECK(a && b);
	CHECK_EQ_INT(sipmsg_nul_byte(a), -ENOENT);
	sipmsg_nul_mark(a, 2);
	CHECK_EQ_INT(sipmsg_nul_byte(a), 0x03);
	sipmsg_nul_copy(b, a);
	CHECK_EQ_INT(sipmsg_nul_byte(b), 0x03);
	sipmsg_nul_restore(b, buf, sizeof(buf) - 1);
	CHECK(buf[4] == '\0');
	CHECK(buf[sizeof(buf) - 2] == '\x03');      /* the body is left alone */
	msg_destroy(a);
	msg_destroy(b);
	return 0;
}

/* Body octets are never touched, NUL or not; a NUL in the start line is an
 * unparsable request. */
static int
test_framing_nul_elsewhere(void)
{
	static const char bin[] = "MESSAGE sip:bob@contoso.test SIP/2.0\r\n"
	    "Via: SIP/2.0/TLS 127.0.0.20:5061;branch=z9hG4bK-n2\r\n"
	    "From: <sip:alice@fabrikam.test>;tag=a1\r\nTo: <sip:bob@contoso.test>\r\n"
	    "Call-ID: n2@fabrikam.test\r\nCSeq: 1 MESSAGE\r\n"
	    "Content-Type: application/octet-stream\r\nContent-Length: 4\r\n\r\n\0\x01\0\x02";
	static const char bad[] = "MESS\0AGE sip:bob@contoso.test SIP/2.0\r\nContent-Length: 0\r\n\r\n";
	struct framer f;

	reset();
	framer_init(&f, 65536);
	framer_feed(&f, bin, sizeof(bin) - 1, record_cb, NULL);
	CHECK_EQ_INT(R.n, 1);
	CHECK_EQ_INT(R.ev[0].ev, FRAMER_MESSAGE);
	CHECK_EQ_INT(sipmsg_nul_byte(R.ev[0].msg), -ENOENT);
	CHECK(memcmp(sip_object(R.ev[0].msg)->sip_payload->pl_data, "\0\x01\0\x02", 4) == 0);
	framer_clear(&f);
	reset();
	framer_init(&f, 65536);
	framer_feed(&f, bad, sizeof(bad) - 1, record_cb, NULL);
	CHECK_EQ_INT(R.n, 1);
	CHECK_EQ_INT(R.ev[0].ev, FRAMER_ERROR);
	CHECK_EQ_INT(R.ev[0].status, 400);
	framer_clear(&f);
	reset();
	return 0;
}

static size_t
long_uri_request(char *buf, size_t cap, size_t urilen, const char *first)
{
	size_t n = (size_t)snprintf(buf, cap, "%s sip:", first);

	memset(buf + n, 'a', urilen);
	n += urilen;
	n += (size_t)snprintf(buf + n, cap - n, "@contoso.test SIP/2.0\r\n"
	    "Via: SIP/2.0/TLS 127.0.0.20:5061;branch=z9hG4bK-u1\r\n"
	    "From: <sip:alice@fabrikam.test>;tag=a1\r\nTo: <sip:");
	/* The To repeats the long URI (as a UA's To often does). */
	memset(buf + n, 'b', urilen);
	n += urilen;
	n += (size_t)snprintf(buf + n, cap - n, "@contoso.test>\r\n"
	    "X-Long: %0*d\r\n"
	    "Call-ID: u1@fabrikam.test\r\nCSeq: 7 INVITE\r\nContent-Length: 5\r\n\r\nhello",
	    FRAMER_MAX_LINE + 10, 0);
	return n;
}

/* A 100 KB Request-URI: answered 414 from what follows it, not cut off. */
static int
test_framing_long_start_line(void)
{
	static char buf[300000];
	struct framer f;
	size_t n;
	sip_t *sip;

	for (int bytewise = 0; bytewise < 2; bytewise++) {
		reset();
		framer_init(&f, 65536);
		n = long_uri_request(buf, sizeof(buf), 100000, "INVITE");
		if (bytewise)
			for (size_t i = 0; i < n; i += 7)
				framer_feed(&f, buf + i, n - i < 7 ? n - i : 7, record_cb, NULL);
		else
			framer_feed(&f, buf, n, record_cb, NULL);
		CHECK_EQ_INT(R.n, 1);
		CHECK_EQ_INT(R.ev[0].ev, FRAMER_ERROR);
		CHECK_EQ_INT(R.ev[0].status, 414);
		CHECK(R.ev[0].msg != NULL);
		sip = sip_object(R.ev[0].msg);
		CHECK(sip->sip_request && sip->sip_request->rq_method == sip_method_invite);
		CHECK(sip->sip_via && sip->sip_from && sip->sip_to && sip->sip_call_id);
		CHECK(sip->sip_cseq && sip->sip_cseq->cs_seq == 7);
		CHECK_EQ_STR(sip->sip_call_id->i_id, "u1@fabrikam.test");
		framer_clear(&f);
	}
	/* A response with such a line has nobody to answer. */
	reset();
	framer_init(&f, 65536);
	n = long_uri_request(buf, sizeof(buf), 20000, "SIP/2.0 200");
	framer_feed(&f, buf, n, record_cb, NULL);
	CHECK_EQ_INT(R.n, 1);
	CHECK_EQ_INT(R.ev[0].ev, FRAMER_ERROR);
	CHECK(R.ev[0].msg == NULL);
	framer_clear(&f);
	/* A start line that never ends is cut off after a bound. */
	reset();
	framer_init(&f, 4096);
	memset(buf, 'a', sizeof(buf));
	memcpy(buf, "INVITE sip:", 11);
	framer_feed(&f, buf, sizeof(buf), record_cb, NULL);
	CHECK_EQ_INT(R.n, 1);
	CHECK_EQ_INT(R.ev[0].ev, FRAMER_ERROR);
	framer_clear(&f);
	reset();
	return 0;
}

static int
test_framing_content_length_over(void)
{
	static const char text[] = "MESSAGE sip:bob@contoso.test SIP/2.0\r\n"
	    "Via: SIP/2.0/TLS 127.0.0.20:5061;branch=z9hG4bK-c1\r\n"
	    "From: <sip:alice@fabrikam.test>;tag=a1\r\nTo: <sip:bob@contoso.test>\r\n"
	    "Call-ID: c1@fabrikam.test\r\nCSeq: 1 MESSAGE\r\nContent-Length: 4000000000\r\n\r\nab";
	struct framer f;

	reset();
	framer_init(&f, 65536);
	framer_feed(&f, text, sizeof(text) - 1, record_cb, NULL);
	CHECK_EQ_INT(R.n, 1);
	CHECK_EQ_INT(R.ev[0].ev, FRAMER_ERROR);
	CHECK_EQ_INT(R.ev[0].status, 513);
	CHECK(R.ev[0].msg && sip_object(R.ev[0].msg)->sip_call_id);
	/* Nothing is parsed after an error. */
	framer_feed(&f, text, sizeof(text) - 1, record_cb, NULL);
	CHECK_EQ_INT(R.n, 1);
	framer_clear(&f);
	reset();
	return 0;
}

static const struct unit_test tests[] = {
	UNIT(test_framing_exact_limit),
	UNIT(test_framing_forward_large),
	UNIT(test_framing_pipeline_and_pings),
	UNIT(test_framing_body_in_parts_then_pipelined),
	UNIT(test_framing_nul_in_header),
	UNIT(test_framing_nul_copy),
	UNIT(test_framing_nul_elsewhere),
	UNIT(test_framing_long_start_line),
	UNIT(test_framing_content_length_over),
	{ 0 },
};

int
main(int argc, char **argv)
{
	return unit_main(argc, argv, tests);
}
