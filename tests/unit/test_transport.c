/* test_transport.c: unit tests for tls.c and transport.c on 127.0.0.1: mutual TLS,
 * stream framing (RFC 3261 §18.3), CRLF keep-alive (RFC 5626 §3.5.1), limits. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>
#include <sofia-sip/msg.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>

#include "sipedge/log.h"
#include "sipedge/tls.h"
#include "sipedge/transport.h"
#include "unit.h"

#define MAXREC 64

struct rec {
	msg_t *msg;
	int status;
	bool outbound;
	uint64_t id;
	char name0[256];
	char method[32];
};

struct dial_res {
	bool done;
	struct conn *c;
	int status;
	char detail[256];
};

static struct {
	char pki[PATH_MAX];
	uv_loop_t loop;
	uv_timer_t safety;
	bool timed_out;
	struct transport *t;
	struct tp_worker *tw;
	struct tls_ctx *srv, *cli;
	unsigned short port;
	struct rec msgs[MAXREC];
	int nmsgs;
	int nclosed, nclosed_out, nclosed_in;
	struct conn *last_in;            /* server side of the last message */
	const char *reply_on_error;      /* raw response sent on status 400/513 */
	const char *reply_on_message;    /* raw response sent to every inbound message */
	bool eku_any;                    /* for contexts made by ctx_new */
} T;

/* --- helpers --- */

static void
safety_cb(uv_timer_t *h)
{
	T.timed_out = true;
}

static void
message_cb(struct conn *c, msg_t *msg, int status, void *ud)
{
	const struct conn_info *ci = conn_info(c);
	struct rec *r;

	if (T.nmsgs >= MAXREC) {
		if (msg)
			msg_destroy(msg);
		return;
	}
	r = &T.msgs[T.nmsgs++];
	r->msg = msg;
	r->status = status;
	r->outbound = ci->outbound;
	r->id = ci->id;
	if (ci->npeer_names > 0)
		snprintf(r->name0, sizeof(r->name0), "%s", ci->peer_names[0]);
	if (msg && sip_object(msg) && sip_object(msg)->sip_request)
		snprintf(r->method, sizeof(r->method), "%s",
		    sip_object(msg)->sip_request->rq_method_name);
	if (!ci->outbound)
		T.last_in = c;
	if ((status != 0 && T.reply_on_error) || (status == 0 && !ci->outbound &&
	    T.reply_on_message)) {
		const char *txt = status ? T.reply_on_error : T.reply_on_message;
		msg_t *m = msg_make(sip_default_mclass(), 0, txt, (ssize_t)strlen(txt));

		if (m) {
			(void)conn_send(c, m);
			msg_destroy(m);
		}
	}
}

static void
closed_cb(struct conn *c, void *ud)
{
	T.nclosed++;
	if (conn_info(c)->outbound)
		T.nclosed_out++;
	else
		T.nclosed_in++;
}

static bool
run_until(bool (*cond)(void *), void *arg, unsigned ms)
{
	T.timed_out = false;
	uv_timer_start(&T.safety, safety_cb, ms, 0);
	while (!cond(arg) && !T.timed_out)
		uv_run(&T.loop, UV_RUN_ONCE);
	uv_timer_stop(&T.safety);
	return cond(arg);
}

static bool
cond_nmsgs(void *arg)
{
	return T.nmsgs >= *(int *)arg;
}

static bool
cond_dial(void *arg)
{
	return ((struct dial_res *)arg)->done;
}

static bool
cond_nclosed(void *arg)
{
	return T.nclosed >= *(int *)arg;
}

/* The transport's open connections (both ends of every pair) down to *arg. */
static bool
cond_open_at_most(void *arg)
{
	struct transport_stats st;

	transport_stats_get(T.t, &st);
	return st.open_connections <= (uint64_t)*(int *)arg;
}

static void
dial_cb(struct conn *c, int status, const char *detail, void *arg)
{
	struct dial_res *d = arg;

	d->done = true;
	d->c = c;
	d->status = status;
	snprintf(d->detail, sizeof(d->detail), "%s", detail ? detail : "");
}

static void
pki_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", T.pki, name);
}

static int
ctx_new(bool server, const char *who, bool mutual, struct tls_ctx **out)
{
	char crt[PATH_MAX + 16], key[PATH_MAX + 16], ca[PATH_MAX + 16], err[512];
	struct tls_conf tc = { 0 };
	int r;

	snprintf(crt, sizeof(crt), "%s/%s.crt", T.pki, who ? who : "");
	snprintf(key, sizeof(key), "%s/%s.key", T.pki, who ? who : "");
	pki_path(ca, sizeof(ca), "ca.crt");
	tc.certificate = who ? crt : NULL;
	tc.private_key = who ? key : NULL;
	tc.ca_bundle = ca;
	tc.require_client_cert = mutual;
	tc.eku_any = T.eku_any;
	r = server ? tls_ctx_new_server(&tc, out, err, sizeof(err)) :
	    tls_ctx_new_client(&tc, out, err, sizeof(err));
	if (r < 0)
		fprintf(stderr, "# ctx_new %s: %s\n", who ? who : "(none)", err);
	return r;
}

static unsigned short
free_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	close(fd);
	return ntohs(sin.sin_port);
}

static void
loopback(struct sockaddr_storage *ss, unsigned short port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

static unsigned short
tp_port_of(const struct sockaddr_storage *ss)
{
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

static void
default_conf(struct transport_conf *tc)
{
	memset(tc, 0, sizeof(*tc));
	tc->max_message_size = 65536;
	tc->handshake_timeout_ms = 5000;
	tc->idle_timeout_ms = 60000;
	tc->incomplete_timeout_ms = 5000;
	tc->connect_timeout_ms = 5000;
	tc->max_connections = 100;
	tc->max_connections_per_address = 50;
}

/* A worker on a fresh loop, listening on 127.0.0.1:T.port (kind, mutual). */
static int
setup(struct transport_conf *tc, enum tp_kind kind, const char *server_cert, bool mutual,
    const char *client_cert)
{
	struct transport_cbs cbs = { .message_cb = message_cb, .closed_cb = closed_cb, .ud = NULL };
	struct listener_conf lc;
	struct transport_conf dc;
	int r;

	if (tc == NULL) {
		default_conf(&dc);
		tc = &dc;
	}
	CHECK(uv_loop_init(&T.loop) == 0);
	CHECK(uv_timer_init(&T.loop, &T.safety) == 0);
	if (server_cert)
		CHECK(ctx_new(true, server_cert, mutual, &T.srv) == 0);
	CHECK(ctx_new(false, client_cert, false, &T.cli) == 0);
	tc->client_tls = T.cli;
	CHECK(transport_new(tc, &T.t) == 0);
	CHECK(transport_worker_new(T.t, &T.loop, 3, &cbs, &T.tw) == 0);
	memset(&lc, 0, sizeof(lc));
	lc.side = SIDE_EXTERNAL;
	lc.kind = kind;
	lc.mutual_tls = mutual;
	T.port = free_port();
	CHECK(T.port != 0);
	loopback(&lc.addr, T.port);
	r = transport_worker_listen(T.tw, &lc, kind == TP_TLS ? T.srv : NULL);
	if (r < 0)
		fprintf(stderr, "# listen: %s\n", uv_strerror(r));
	CHECK(r == 0);
	return 0;
}

static int
teardown(void)
{
	transport_worker_shutdown(T.tw);
	uv_close((uv_handle_t *)&T.safety, NULL);
	uv_run(&T.loop, UV_RUN_DEFAULT);
	CHECK_EQ_INT(uv_loop_close(&T.loop), 0);
	transport_worker_free(T.tw);
	transport_free(T.t);
	tls_ctx_free(T.srv);
	tls_ctx_free(T.cli);
	for (int i = 0; i < T.nmsgs; i++)
		if (T.msgs[i].msg)
			msg_destroy(T.msgs[i].msg);
	memset(&T.msgs, 0, sizeof(T.msgs));
	T.nmsgs = 0;
	return 0;
}

static void
hop_init(struct hop *h, const char *fqdn, enum tp_kind kind, unsigned short port)
{
	memset(h, 0, sizeof(*h));
	snprintf(h->fqdn, sizeof(h->fqdn), "%s", fqdn);
	h->port = port;
	h->kind = kind;
	h->has_addr = true;
	loopback(&h->addr, port);
}

/* A SIP MESSAGE with a body of bodylen 'x' bytes (or no Content-Length). */
static size_t
mk_message(char *buf, size_t len, int n, size_t bodylen, bool with_cl)
{
	int k = snprintf(buf, len,
	    "MESSAGE sip:bob@contoso.test SIP/2.0\r\n"
	    "Via: SIP/2.0/TLS 127.0.0.20:5061;branch=z9hG4bK-%d\r\n"
	    "Max-Forwards: 70\r\n"
	    "From: <sip:alice@fabrikam.test>;tag=a%d\r\n"
	    "To: <sip:bob@contoso.test>\r\n"
	    "Call-ID: call-%d@fabrikam.test\r\n"
	    "CSeq: %d MESSAGE\r\n"
	    "Content-Type: text/plain\r\n", n, n, n, n + 1);

	if (with_cl)
		k += snprintf(buf + k, len - (size_t)k, "Content-Length: %zu\r\n", bodylen);
	k += snprintf(buf + k, len - (size_t)k, "\r\n");
	if ((size_t)k + bodylen >= len)
		return 0;
	memset(buf + k, 'x', bodylen);
	buf[k + (int)bodylen] = '\0';
	return (size_t)k + bodylen;
}

/* A blocking TCP client socket connected to 127.0.0.1:port.  The connect
 * completes in the kernel; the server accepts when the loop runs. */
static int
raw_connect(unsigned short port)
{
	struct sockaddr_storage ss;
	struct timeval tv = { 5, 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	loopback(&ss, port);
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&ss, sizeof(struct sockaddr_in)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool
raw_send(int fd, const void *p, size_t n)
{
	return send(fd, p, n, MSG_NOSIGNAL) == (ssize_t)n;
}

struct raw_read {
	int fd;
	char buf[4096];
	size_t len;
	bool eof;
	size_t want;        /* stop once this many bytes are in */
};

/* Read without blocking what the server sent; true when done. */
static bool
cond_raw(void *arg)
{
	struct raw_read *rr = arg;

	for (;;) {
		ssize_t n;

		if (rr->eof || (rr->want && rr->len >= rr->want))
			return true;
		n = recv(rr->fd, rr->buf + rr->len, sizeof(rr->buf) - 1 - rr->len, MSG_DONTWAIT);
		if (n > 0) {
			rr->len += (size_t)n;
			rr->buf[rr->len] = '\0';
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
			rr->eof = true;
			return true;
		}
		return false;
	}
}

/* Let the loop run until nothing is pending right now. */
static void
run_nowait(int rounds)
{
	for (int i = 0; i < rounds; i++)
		uv_run(&T.loop, UV_RUN_NOWAIT);
}

/* --- TLS contexts --- */

static int
test_tls_ctx_errors(void)
{
	char crt[PATH_MAX + 16], key[PATH_MAX + 16], ca[PATH_MAX + 16], bad[PATH_MAX + 32];
	char err[512], cmd[PATH_MAX * 4 + 64];
	struct tls_conf tc = { 0 };
	struct tls_ctx *ctx = NULL;

	pki_path(crt, sizeof(crt), "edge.crt");
	pki_path(key, sizeof(key), "pool1.key");
	pki_path(ca, sizeof(ca), "ca.crt");
	tc.certificate = crt;
	tc.private_key = key;
	tc.ca_bundle = ca;

	/* Key of another certificate. */
	err[0] = '\0';
	CHECK(tls_ctx_new_server(&tc, &ctx, err, sizeof(err)) < 0);
	CHECK(ctx == NULL);
	CHECK(strstr(err, "pool1.key") != NULL && strstr(err, "does not match") != NULL);

	/* Missing certificate file. */
	pki_path(bad, sizeof(bad), "nonexistent.crt");
	tc.certificate = bad;
	CHECK_EQ_INT(tls_ctx_new_server(&tc, &ctx, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "nonexistent.crt") != NULL);

	/* A key others can read is refused. */
	pki_path(bad, sizeof(bad), "edge-readable.key");
	pki_path(key, sizeof(key), "edge.key");
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && chmod 644 '%s'", key, bad, bad);
	CHECK(system(cmd) == 0);
	tc.certificate = crt;
	tc.private_key = bad;
	CHECK_EQ_INT(tls_ctx_new_server(&tc, &ctx, err, sizeof(err)), -EPERM);
	CHECK(strstr(err, "edge-readable.key") != NULL);
	unlink(bad);

	/* A CA bundle that holds no certificate. */
	tc.private_key = key;
	tc.ca_bundle = key;
	CHECK(tls_ctx_new_client(&tc, &ctx, err, sizeof(err)) < 0);
	CHECK(strstr(err, "edge.key") != NULL && strstr(err, "CA bundle") != NULL);
	pki_path(bad, sizeof(bad), "missing-ca.crt");
	tc.ca_bundle = bad;
	CHECK_EQ_INT(tls_ctx_new_client(&tc, &ctx, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "missing-ca.crt") != NULL);

	/* And the good one. */
	tc.ca_bundle = ca;
	CHECK(tls_ctx_new_server(&tc, &ctx, err, sizeof(err)) == 0);
	CHECK(ctx != NULL);
	tls_ctx_free(ctx);
	return 0;
}

/* --- mutual TLS --- */

static int
test_tls_mutual_message(void)
{
	struct dial_res d = { 0 }, d2 = { 0 };
	struct transport_stats st;
	struct conn *c = NULL, *c2 = NULL;
	struct dial_req *req = NULL;
	struct hop hop;
	char buf[2048];
	size_t n;
	int want;
	msg_t *m;

	CHECK(setup(NULL, TP_TLS, "edge", true, "pool1") == 0);
	T.reply_on_message = "SIP/2.0 200 OK\r\n"
	    "Via: SIP/2.0/TLS 127.0.0.20:5061;branch=z9hG4bK-1\r\n"
	    "From: <sip:alice@fabrikam.test>;tag=a1\r\n"
	    "To: <sip:bob@contoso.test>;tag=b1\r\n"
	    "Call-ID: call-1@fabrikam.test\r\n"
	    "CSeq: 2 MESSAGE\r\n"
	    "Content-Length: 0\r\n\r\n";
	hop_init(&hop, "SIP.contoso.test", TP_TLS, T.port);
	CHECK_EQ_INT(transport_dial(T.tw, &hop, SIDE_INTERNAL, dial_cb, &d, &c, &req), 1);
	/* A second caller shares the pending dial. */
	CHECK_EQ_INT(transport_dial(T.tw, &hop, SIDE_INTERNAL, dial_cb, &d2, &c2, &req), 1);
	CHECK(run_until(cond_dial, &d, 5000) && run_until(cond_dial, &d2, 5000));
	CHECK_EQ_INT(d.status, 0);
	CHECK_EQ_INT(d2.status, 0);
	CHECK(d.c != NULL && d.c == d2.c);
	c = d.c;
	CHECK(conn_is_open(c));
	CHECK(conn_info(c)->outbound);
	CHECK_EQ_INT(CONN_ID_WORKER(conn_info(c)->id), 3);
	CHECK(transport_conn_find(T.tw, conn_info(c)->id) == c);
	CHECK_EQ_STR(conn_info(c)->dialled_fqdn, "SIP.contoso.test");
	CHECK_EQ_INT(conn_info(c)->npeer_names, 2);
	CHECK_EQ_STR(conn_info(c)->peer_names[0], "sip.contoso.test");
	CHECK_EQ_STR(conn_info(c)->peer_names[1], "edge-int.contoso.test");
	CHECK(conn_peer_matches(c, "edge-int.contoso.test") == 1);
	CHECK(conn_peer_matches(c, "sip.fabrikam.test") == 0);

	/* Reuse: the same hop gets the same connection at once. */
	c2 = NULL;
	CHECK_EQ_INT(transport_dial(T.tw, &hop, SIDE_INTERNAL, dial_cb, &d2, &c2, &req), 0);
	CHECK(c2 == c);

	n = mk_message(buf, sizeof(buf), 1, 5, true);
	CHECK((m = msg_make(sip_default_mclass(), 0, buf, (ssize_t)n)) != NULL);
	CHECK_EQ_INT(conn_send(c, m), 0);
	msg_destroy(m);
	want = 2;   /* the MESSAGE at the server, the 200 back at the client */
	CHECK(run_until(cond_nmsgs, &want, 5000));
	CHECK_EQ_INT(T.msgs[0].status, 0);
	CHECK(!T.msgs[0].outbound);
	CHECK_EQ_STR(T.msgs[0].method, "MESSAGE");
	CHECK_EQ_STR(T.msgs[0].name0, "pool1.contoso.test");
	CHECK(T.last_in != NULL && conn_peer_matches(T.last_in, "pool1.contoso.test") == 1);
	CHECK_EQ_INT(conn_info(T.last_in)->side, SIDE_EXTERNAL);
	CHECK(sip_object(T.msgs[0].msg)->sip_payload != NULL);
	CHECK_EQ_INT(sip_object(T.msgs[0].msg)->sip_payload->pl_len, 5);
	CHECK_EQ_INT(T.msgs[1].status, 0);
	CHECK(T.msgs[1].outbound);
	CHECK_EQ_INT(sip_object(T.msgs[1].msg)->sip_status->st_status, 200);

	transport_stats_get(T.t, &st);
	CHECK_EQ_INT(st.accepted, 1);
	CHECK_EQ_INT(st.dialled, 1);
	CHECK_EQ_INT(st.open_connections, 2);
	CHECK_EQ_INT(st.messages_in, 2);
	CHECK_EQ_INT(st.messages_out, 2);
	CHECK_EQ_INT(st.tls_failures, 0);

	/* A graceful close reaches both sides: one closed_cb each. */
	conn_close(c);
	CHECK(!conn_is_open(c));
	CHECK(transport_conn_find(T.tw, conn_info(c)->id) == NULL);
	want = 2;
	CHECK(run_until(cond_nclosed, &want, 5000));
	CHECK_EQ_INT(T.nclosed_out, 1);
	CHECK_EQ_INT(T.nclosed_in, 1);
	return teardown();
}

/* A peer that reconnects resumes its session (a ticket from the server,
 * kept per host by the client): no certificate exchange, the same verified
 * names; another host gets a full handshake. */
static int
test_tls_resumption(void)
{
	struct dial_res d = { 0 };
	struct conn *c = NULL;
	struct dial_req *req = NULL;
	struct hop hop;
	char buf[2048];
	size_t n;
	int want;
	msg_t *m;

	CHECK(setup(NULL, TP_TLS, "edge", true, "pool1") == 0);
	hop_init(&hop, "sip.contoso.test", TP_TLS, T.port);
	for (int round = 0; round < 3; round++) {
		memset(&d, 0, sizeof(d));
		c = NULL;
		if (round == 2)
			hop_init(&hop, "edge-int.contoso.test", TP_TLS, T.port);
		CHECK_EQ_INT(transport_dial(T.tw, &hop, SIDE_INTERNAL, dial_cb, &d, &c, &req), 1);
		CHECK(run_until(cond_dial, &d, 5000));
		CHECK_EQ_INT(d.status, 0);
		/* A message both ways, so the client reads the server's ticket
		 * (TLS 1.3 sends it after the handshake). */
		T.nmsgs = 0;
		n = mk_message(buf, sizeof(buf), 1, 5, true);
		CHECK((m = msg_make(sip_default_mclass(), 0, buf, (ssize_t)n)) != NULL);
		CHECK_EQ_INT(conn_send(d.c, m), 0);
		msg_destroy(m);
		want = 1;
		CHECK(run_until(cond_nmsgs, &want, 5000));
		run_nowait(20);        /* the client reads the ticket */
		CHECK(T.last_in != NULL);
		/* Round 0: full; 1: the same host again, resumed on both ends,
		 * same names; 2: another host, full. */
		CHECK_EQ_INT(conn_info(d.c)->tls_resumed, round == 1);
		CHECK_EQ_INT(conn_info(T.last_in)->tls_resumed, round == 1);
		CHECK_EQ_STR(conn_info(d.c)->peer_names[0], "sip.contoso.test");
		CHECK_EQ_STR(conn_info(T.last_in)->peer_names[0], "pool1.contoso.test");
		CHECK(conn_peer_matches(d.c, hop.fqdn) == 1);
		{
			struct conn *in = T.last_in;

			want = T.nclosed + 2;
			conn_close(d.c);
			CHECK(run_until(cond_nclosed, &want, 5000));
			(void)in;
		}
	}
	return teardown();
}

/* Sends from a timer callback (after the poll phase has run) still go out
 * at once: the write-per-turn flush must not wait for the next event. */
struct timer_send {
	struct conn *c;
	int n;
	uint64_t sent_at;
};

static void
timer_send_cb(uv_timer_t *h)
{
	struct timer_send *ts = h->data;
	char buf[2048];

	for (int i = 0; i < ts->n; i++) {
		size_t n = mk_message(buf, sizeof(buf), 10 + i, 5, true);
		msg_t *m = msg_make(sip_default_mclass(), 0, buf, (ssize_t)n);

		if (m) {
			(void)conn_send(ts->c, m);
			msg_destroy(m);
		}
	}
	ts->sent_at = uv_now(&T.loop);
}

static int
test_tls_send_from_timer(void)
{
	struct dial_res d = { 0 };
	struct conn *c = NULL;
	struct dial_req *req = NULL;
	struct timer_send ts = { 0 };
	struct transport_stats st;
	uv_timer_t tm;
	struct hop hop;
	int want = 3;

	CHECK(setup(NULL, TP_TLS, "edge", true, "pool1") == 0);
	hop_init(&hop, "sip.contoso.test", TP_TLS, T.port);
	CHECK_EQ_INT(transport_dial(T.tw, &hop, SIDE_INTERNAL, dial_cb, &d, &c, &req), 1);
	CHECK(run_until(cond_dial, &d, 5000));
	CHECK_EQ_INT(d.status, 0);
	ts.c = d.c;
	ts.n = 3;      /* three messages in one turn: one write, all three arrive */
	uv_timer_init(&T.loop, &tm);
	tm.data = &ts;
	uv_timer_start(&tm, timer_send_cb, 10, 0);
	/* The safety timer of run_until is 5 s: a flush left for the next
	 * event would only happen then. */
	CHECK(run_until(cond_nmsgs, &want, 5000));
	CHECK(uv_now(&T.loop) - ts.sent_at < 1000);
	CHECK_EQ_STR(T.msgs[0].method, "MESSAGE");
	CHECK_EQ_STR(T.msgs[2].method, "MESSAGE");
	transport_stats_get(T.t, &st);
	CHECK_EQ_INT(st.messages_out, 3);
	uv_close((uv_handle_t *)&tm, NULL);
	return teardown();
}

/* A cancelled request never hears back; the others still do. */
static int
test_dial_cancel(void)
{
	struct dial_res d1 = { 0 }, d2 = { 0 }, d3 = { 0 };
	struct dial_req *r1 = NULL, *r2 = NULL, *r3 = NULL;
	struct conn *c = NULL;
	struct hop hop;
	int want = 1;

	CHECK(setup(NULL, TP_TLS, "edge", true, "pool1") == 0);
	hop_init(&hop, "sip.contoso.test", TP_TLS, T.port);
	CHECK_EQ_INT(transport_dial(T.tw, &hop, SIDE_INTERNAL, dial_cb, &d1, &c, &r1), 1);
	CHECK_EQ_INT(transport_dial(T.tw, &hop, SIDE_INTERNAL, dial_cb, &d2, &c, &r2), 1);
	transport_dial_cancel(r1);
	CHECK(run_until(cond_dial, &d2, 5000));
	CHECK_EQ_INT(d2.status, 0);
	CHECK(!d1.done);

	/* Cancelling every request abandons the attempt: no callback, no
	 * connection left behind. */
	hop_init(&hop, "edge-int.contoso.test", TP_TLS, T.port);
	CHECK_EQ_INT(transport_dial(T.tw, &hop, SIDE_INTERNAL, dial_cb, &d3, &c, &r3), 1);
	transport_dial_cancel(r3);
	/* The abandoned dial's socket is closed and the listener's end of it,
	 * if it got that far, sees it go: the d2 pair is all that is left. */
	{
		int two = 2, zero = 0;
		struct transport_stats st;

		CHECK(run_until(cond_open_at_most, &two, 5000));
		run_nowait(50);
		transport_stats_get(T.t, &st);
		CHECK_EQ_INT(st.open_connections, 2);
		CHECK_EQ_INT(st.dialled, 2);
		CHECK(!d3.done);
		/* A new dial to that hop starts afresh (nothing pending is reused). */
		CHECK_EQ_INT(transport_dial(T.tw, &hop, SIDE_INTERNAL, dial_cb, &d3, &c, &r3), 1);
		CHECK(run_until(cond_dial, &d3, 5000));
		CHECK_EQ_INT(d3.status, 0);
		conn_close(d3.c);
		conn_close(d2.c);
		CHECK(run_until(cond_open_at_most, &zero, 5000));
	}
	want = 2;
	CHECK(run_until(cond_nclosed, &want, 5000));
	return teardown();
}

static int
test_tls_certname(void)
{
	struct dial_res d = { 0 };
	struct transport_stats st;
	struct conn *c = NULL;
	struct dial_req *req = NULL;
	struct hop hop;

	CHECK(setup(NULL, TP_TLS, "edge", true, "pool1") == 0);
	hop_init(&hop, "sip.fabrikam.test", TP_TLS, T.port);
	CHECK_EQ_INT(transport_dial(T.tw, &hop, SIDE_EXTERNAL, dial_cb, &d, &c, &req), 1);
	CHECK(run_until(cond_dial, &d, 5000));
	CHECK_EQ_INT(d.status, TP_ECERTNAME);
	CHECK(d.c == NULL);
	CHECK(strstr(d.detail, "hostname mismatch") != NULL);
	transport_stats_get(T.t, &st);
	CHECK(st.tls_failures >= 1);
	CHECK_EQ_INT(T.nmsgs, 0);
	return teardown();
}

static int
test_tls_untrusted(void)
{
	struct dial_res d = { 0 };
	struct conn *c = NULL;
	struct dial_req *req = NULL;
	struct hop hop;

	CHECK(setup(NULL, TP_TLS, "untrusted", true, "pool1") == 0);
	hop_init(&hop, "sip.fabrikam.test", TP_TLS, T.port);
	CHECK_EQ_INT(transport_dial(T.tw, &hop, SIDE_EXTERNAL, dial_cb, &d, &c, &req), 1);
	CHECK(run_until(cond_dial, &d, 5000));
	CHECK_EQ_INT(d.status, TP_ETLS);
	CHECK(strstr(d.detail, "local issuer") != NULL);
	return teardown();
}

/* No client certificate on a mutual-TLS listener: nothing gets through.  On
 * TLS 1.3 the client's handshake completes first and it learns of the
 * refusal on its next read. */
static int
test_tls_no_client_cert(void)
{
	struct dial_res d = { 0 };
	struct conn *c = NULL;
	struct dial_req *req = NULL;
	struct transport_stats st;
	struct hop hop;
	char buf[2048];
	size_t n;
	int want = 1;
	msg_t *m;

	CHECK(setup(NULL, TP_TLS, "edge", true, NULL) == 0);
	hop_init(&hop, "sip.contoso.test", TP_TLS, T.port);
	CHECK_EQ_INT(transport_dial(T.tw, &hop, SIDE_INTERNAL, dial_cb, &d, &c, &req), 1);
	CHECK(run_until(cond_dial, &d, 5000));
	if (d.status == 0) {
		n = mk_message(buf, sizeof(buf), 1, 5, true);
		CHECK((m = msg_make(sip_default_mclass(), 0, buf, (ssize_t)n)) != NULL);
		(void)conn_send(d.c, m);
		msg_destroy(m);
		CHECK(run_until(cond_nclosed, &want, 5000));
		CHECK_EQ_INT(T.nclosed_out, 1);
	} else {
		CHECK_EQ_INT(d.status, TP_ETLS);
	}
	CHECK_EQ_INT(T.nmsgs, 0);
	CHECK_EQ_INT(T.nclosed_in, 0);
	transport_stats_get(T.t, &st);
	CHECK(st.tls_failures >= 1);
	return teardown();
}

/* A client certificate without the clientAuth EKU: refused unless eku_any. */
static int
test_tls_eku(void)
{
	struct dial_res d = { 0 }, d2 = { 0 };
	struct conn *c = NULL;
	struct dial_req *req = NULL;
	struct hop hop;
	char buf[2048];
	size_t n;
	int want = 1;
	msg_t *m;

	n = mk_message(buf, sizeof(buf), 1, 5, true);
	CHECK(setup(NULL, TP_TLS, "edge", true, "serveronly") == 0);
	hop_init(&hop, "sip.contoso.test", TP_TLS, T.port);
	CHECK_EQ_INT(transport_dial(T.tw, &hop, SIDE_EXTERNAL, dial_cb, &d, &c, &req), 1);
	CHECK(run_until(cond_dial, &d, 5000));
	if (d.status == 0) {
		CHECK((m = msg_make(sip_default_mclass(), 0, buf, (ssize_t)n)) != NULL);
		(void)conn_send(d.c, m);
		msg_destroy(m);
		CHECK(run_until(cond_nclosed, &want, 5000));
	}
	CHECK_EQ_INT(T.nmsgs, 0);
	CHECK(teardown() == 0);

	T.eku_any = true;
	T.nclosed = T.nclosed_in = T.nclosed_out = 0;
	CHECK(setup(NULL, TP_TLS, "edge", true, "serveronly") == 0);
	hop_init(&hop, "sip.contoso.test", TP_TLS, T.port);
	CHECK_EQ_INT(transport_dial(T.tw, &hop, SIDE_EXTERNAL, dial_cb, &d2, &c, &req), 1);
	CHECK(run_until(cond_dial, &d2, 5000));
	CHECK_EQ_INT(d2.status, 0);
	CHECK((m = msg_make(sip_default_mclass(), 0, buf, (ssize_t)n)) != NULL);
	CHECK_EQ_INT(conn_send(d2.c, m), 0);
	msg_destroy(m);
	CHECK(run_until(cond_nmsgs, &want, 5000));
	CHECK_EQ_INT(T.msgs[0].status, 0);
	CHECK_EQ_STR(T.msgs[0].name0, "sip.fabrikam.test");
	return teardown();
}

static int
test_tls_handshake_timeout(void)
{
	struct transport_conf tc;
	struct transport_stats st;
	struct raw_read rr = { 0 };
	struct dial_res d = { 0 };
	struct conn *c = NULL;
	struct dial_req *req = NULL;
	struct hop hop;
	int lfd, one = 1;
	struct sockaddr_storage ss;

	default_conf(&tc);
	tc.handshake_timeout_ms = 200;
	CHECK(setup(&tc, TP_TLS, "edge", true, "pool1") == 0);
	/* Inbound: a TCP peer that never says a word is dropped. */
	CHECK((rr.fd = raw_connect(T.port)) >= 0);
	CHECK(run_until(cond_raw, &rr, 5000));
	CHECK(rr.eof && rr.len == 0);
	close(rr.fd);
	transport_stats_get(T.t, &st);
	CHECK_EQ_INT(st.tls_failures, 1);
	CHECK_EQ_INT(T.nclosed, 0);

	/* Outbound: a server that accepts and never answers the ClientHello. */
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	loopback(&ss, free_port());
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	CHECK(bind(lfd, (struct sockaddr *)&ss, sizeof(struct sockaddr_in)) == 0);
	CHECK(listen(lfd, 8) == 0);
	hop_init(&hop, "sip.fabrikam.test", TP_TLS, ntohs(((struct sockaddr_in *)&ss)->sin_port));
	CHECK_EQ_INT(transport_dial(T.tw, &hop, SIDE_EXTERNAL, dial_cb, &d, &c, &req), 1);
	CHECK(run_until(cond_dial, &d, 5000));
	CHECK_EQ_INT(d.status, TP_ETIMEDOUT);
	close(lfd);
	return teardown();
}

/* --- framing over TCP (the same code runs on TLS plaintext) --- */

static int
test_tcp_several_in_one_write(void)
{
	char buf[8192];
	size_t n = 0;
	int fd, want = 3;

	CHECK(setup(NULL, TP_TCP, NULL, false, NULL) == 0);
	for (int i = 0; i < 3; i++)
		n += mk_message(buf + n, sizeof(buf) - n, i, (size_t)i * 10, true);
	CHECK((fd = raw_connect(T.port)) >= 0);
	CHECK(raw_send(fd, buf, n));
	CHECK(run_until(cond_nmsgs, &want, 5000));
	for (int i = 0; i < 3; i++) {
		sip_t *sip = sip_object(T.msgs[i].msg);

		CHECK_EQ_INT(T.msgs[i].status, 0);
		CHECK_EQ_INT(sip->sip_cseq->cs_seq, i + 1);
		CHECK_EQ_INT(sip->sip_content_length->l_length, i * 10);
		CHECK(T.msgs[i].name0[0] == '\0');
	}
	close(fd);
	return teardown();
}

static int
test_tcp_byte_by_byte(void)
{
	char buf[2048];
	size_t n;
	int fd, want = 2;

	CHECK(setup(NULL, TP_TCP, NULL, false, NULL) == 0);
	n = mk_message(buf, sizeof(buf), 7, 20, true);
	n += mk_message(buf + n, sizeof(buf) - n, 8, 0, true);
	CHECK((fd = raw_connect(T.port)) >= 0);
	for (size_t i = 0; i < n; i++) {
		CHECK(raw_send(fd, buf + i, 1));
		/* Each byte is its own read: the only event the loop waits for. */
		uv_run(&T.loop, UV_RUN_ONCE);
	}
	CHECK(run_until(cond_nmsgs, &want, 5000));
	CHECK_EQ_INT(T.msgs[0].status, 0);
	CHECK_EQ_INT(sip_object(T.msgs[0].msg)->sip_payload->pl_len, 20);
	CHECK_EQ_INT(sip_object(T.msgs[1].msg)->sip_cseq->cs_seq, 9);
	close(fd);
	return teardown();
}

/* A slice boundary must not matter: a stream of messages bigger than one
 * read buffer arrives whole. */
static int
test_tcp_many_large(void)
{
	static char buf[400 * 1024];
	size_t n = 0;
	int fd, want = 40;

	CHECK(setup(NULL, TP_TCP, NULL, false, NULL) == 0);
	for (int i = 0; i < want; i++)
		n += mk_message(buf + n, sizeof(buf) - n, i, 9000, true);
	CHECK((fd = raw_connect(T.port)) >= 0);
	/* The kernel buffers all of it: the loop is not running yet. */
	for (size_t off = 0; off < n; ) {
		ssize_t k = send(fd, buf + off, n - off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (k > 0)
			off += (size_t)k;
		else
			uv_run(&T.loop, UV_RUN_NOWAIT);
	}
	CHECK(run_until(cond_nmsgs, &want, 10000));
	for (int i = 0; i < want; i++) {
		CHECK_EQ_INT(T.msgs[i].status, 0);
		CHECK_EQ_INT(sip_object(T.msgs[i].msg)->sip_payload->pl_len, 9000);
		CHECK_EQ_INT(sip_object(T.msgs[i].msg)->sip_cseq->cs_seq, i + 1);
	}
	close(fd);
	return teardown();
}

static int
test_tcp_keepalive(void)
{
	struct raw_read rr = { 0 };
	char buf[2048];
	size_t n;
	int want = 1;

	CHECK(setup(NULL, TP_TCP, NULL, false, NULL) == 0);
	CHECK((rr.fd = raw_connect(T.port)) >= 0);
	/* Ping → pong. */
	CHECK(raw_send(rr.fd, "\r\n\r\n", 4));
	rr.want = 2;
	CHECK(run_until(cond_raw, &rr, 5000));
	CHECK_EQ_STR(rr.buf, "\r\n");
	/* A lone CRLF before a message is ignored: no pong. */
	n = mk_message(buf, sizeof(buf), 1, 0, true);
	CHECK(raw_send(rr.fd, "\r\n", 2));
	CHECK(raw_send(rr.fd, buf, n));
	CHECK(run_until(cond_nmsgs, &want, 5000));
	rr.want = 3;
	run_nowait(5);
	CHECK(!cond_raw(&rr));
	CHECK_EQ_INT(rr.len, 2);
	/* A ping right behind a message, in the same write. */
	n = mk_message(buf, sizeof(buf), 2, 3, true);
	memcpy(buf + n, "\r\n\r\n", 4);
	CHECK(raw_send(rr.fd, buf, n + 4));
	want = 2;
	CHECK(run_until(cond_nmsgs, &want, 5000));
	rr.want = 4;
	CHECK(run_until(cond_raw, &rr, 5000));
	CHECK_EQ_STR(rr.buf, "\r\n\r\n");
	CHECK_EQ_INT(T.msgs[0].status, 0);
	CHECK_EQ_INT(T.msgs[1].status, 0);
	close(rr.fd);
	return teardown();
}

static const char resp_513[] = "SIP/2.0 513 Message Too Large\r\n"
    "Via: SIP/2.0/TCP 127.0.0.20:5061;branch=z9hG4bK-1\r\n"
    "From: <sip:alice@fabrikam.test>;tag=a1\r\n"
    "To: <sip:bob@contoso.test>;tag=b1\r\n"
    "Call-ID: call-1@fabrikam.test\r\n"
    "CSeq: 2 MESSAGE\r\n"
    "Content-Length: 0\r\n\r\n";

static int
test_tcp_oversized(void)
{
	struct transport_conf tc;
	struct transport_stats st;
	struct raw_read rr = { 0 };
	static char buf[8192];
	size_t n;
	int want = 1;

	default_conf(&tc);
	tc.max_message_size = 2048;
	CHECK(setup(&tc, TP_TCP, NULL, false, NULL) == 0);
	T.reply_on_error = resp_513;
	/* A body over the limit, announced by Content-Length. */
	n = mk_message(buf, sizeof(buf), 1, 4000, true);
	CHECK((rr.fd = raw_connect(T.port)) >= 0);
	CHECK(raw_send(rr.fd, buf, n));
	CHECK(run_until(cond_nmsgs, &want, 5000));
	CHECK_EQ_INT(T.msgs[0].status, 513);
	/* The answer queued in the callback is flushed, then the connection closes. */
	CHECK(run_until(cond_raw, &rr, 5000));
	CHECK(rr.eof);
	CHECK(strncmp(rr.buf, "SIP/2.0 513 ", 12) == 0);
	close(rr.fd);

	/* Headers alone over the limit, no body in sight. */
	n = (size_t)snprintf(buf, sizeof(buf), "MESSAGE sip:bob@contoso.test SIP/2.0\r\n");
	while (n < 3000)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X-Padding: %0100d\r\n", 0);
	memset(&rr, 0, sizeof(rr));
	CHECK((rr.fd = raw_connect(T.port)) >= 0);
	CHECK(raw_send(rr.fd, buf, n));
	want = 2;
	CHECK(run_until(cond_nmsgs, &want, 5000));
	CHECK_EQ_INT(T.msgs[1].status, 513);
	CHECK(run_until(cond_raw, &rr, 5000));
	CHECK(rr.eof);
	close(rr.fd);
	transport_stats_get(T.t, &st);
	CHECK_EQ_INT(st.framing_errors, 2);
	CHECK_EQ_INT(st.messages_in, 0);
	return teardown();
}

static int
test_tcp_no_content_length(void)
{
	struct raw_read rr = { 0 };
	char buf[2048];
	size_t n;
	int want = 1;

	CHECK(setup(NULL, TP_TCP, NULL, false, NULL) == 0);
	n = mk_message(buf, sizeof(buf), 1, 0, false);
	CHECK((rr.fd = raw_connect(T.port)) >= 0);
	CHECK(raw_send(rr.fd, buf, n));
	CHECK(run_until(cond_nmsgs, &want, 5000));
	CHECK_EQ_INT(T.msgs[0].status, 400);
	CHECK(T.msgs[0].msg != NULL);
	CHECK(run_until(cond_raw, &rr, 5000));
	CHECK(rr.eof);
	close(rr.fd);

	/* A bad first line. */
	memset(&rr, 0, sizeof(rr));
	CHECK((rr.fd = raw_connect(T.port)) >= 0);
	CHECK(raw_send(rr.fd, "HELLO\r\n\r\n", 9));
	want = 2;
	CHECK(run_until(cond_nmsgs, &want, 5000));
	CHECK_EQ_INT(T.msgs[1].status, 400);
	close(rr.fd);
	return teardown();
}

/* A partial message that stalls, and junk the parser never completes. */
static int
test_tcp_incomplete_timeout(void)
{
	struct transport_conf tc;
	struct raw_read rr = { 0 };
	char buf[2048];
	size_t n;
	int want;

	default_conf(&tc);
	tc.incomplete_timeout_ms = 200;
	CHECK(setup(&tc, TP_TCP, NULL, false, NULL) == 0);
	n = mk_message(buf, sizeof(buf), 1, 100, true);
	CHECK((rr.fd = raw_connect(T.port)) >= 0);
	CHECK(raw_send(rr.fd, buf, n - 50));
	CHECK(run_until(cond_raw, &rr, 5000));
	CHECK(rr.eof);
	close(rr.fd);

	memset(&rr, 0, sizeof(rr));
	CHECK((rr.fd = raw_connect(T.port)) >= 0);
	CHECK(raw_send(rr.fd, "\0\0\0\0\x01\x02", 6));
	CHECK(run_until(cond_raw, &rr, 5000));
	CHECK(rr.eof);
	close(rr.fd);
	CHECK_EQ_INT(T.nmsgs, 0);
	/* TCP connections were established: the core hears of their close. */
	want = 2;
	CHECK(run_until(cond_nclosed, &want, 5000));
	CHECK_EQ_INT(T.nclosed_in, 2);
	return teardown();
}

static int
test_tcp_idle_timeout(void)
{
	struct transport_conf tc;
	struct raw_read rr = { 0 };

	default_conf(&tc);
	tc.idle_timeout_ms = 150;
	CHECK(setup(&tc, TP_TCP, NULL, false, NULL) == 0);
	CHECK((rr.fd = raw_connect(T.port)) >= 0);
	CHECK(raw_send(rr.fd, "\r\n\r\n", 4));
	CHECK(run_until(cond_raw, &rr, 5000));
	CHECK(rr.eof);
	CHECK_EQ_STR(rr.buf, "\r\n");
	close(rr.fd);
	return teardown();
}

/* A message cut by EOF is dropped, not delivered. */
static int
test_tcp_partial_at_eof(void)
{
	struct raw_read rr = { 0 };
	char buf[2048];
	size_t n;
	int want = 1;

	CHECK(setup(NULL, TP_TCP, NULL, false, NULL) == 0);
	n = mk_message(buf, sizeof(buf), 1, 100, true);
	CHECK((rr.fd = raw_connect(T.port)) >= 0);
	/* Headers only, then FIN: Sofia would call that complete at eos. */
	CHECK(raw_send(rr.fd, buf, n - 100));
	CHECK(shutdown(rr.fd, SHUT_WR) == 0);
	CHECK(run_until(cond_raw, &rr, 5000));
	CHECK(rr.eof);
	CHECK(run_until(cond_nclosed, &want, 5000));
	CHECK_EQ_INT(T.nmsgs, 0);
	close(rr.fd);
	return teardown();
}

static int
test_limits_total(void)
{
	struct transport_conf tc;
	struct transport_stats st;
	struct raw_read a = { 0 }, b = { 0 };

	default_conf(&tc);
	tc.max_connections = 1;
	CHECK(setup(&tc, TP_TCP, NULL, false, NULL) == 0);
	CHECK((a.fd = raw_connect(T.port)) >= 0);
	CHECK((b.fd = raw_connect(T.port)) >= 0);
	CHECK(run_until(cond_raw, &b, 5000));
	CHECK(b.eof);
	run_nowait(5);
	CHECK(!cond_raw(&a));
	transport_stats_get(T.t, &st);
	CHECK_EQ_INT(st.refused_limit, 1);
	CHECK_EQ_INT(st.open_connections, 1);
	close(a.fd);
	close(b.fd);
	return teardown();
}

/* A peer that does not read is dropped once the backlog passes 4 MiB. */
static int
test_tcp_write_backlog(void)
{
	static char buf[70000];
	struct raw_read rr = { 0 };
	size_t n;
	int want = 1, r = 0, i;
	struct conn *c;
	msg_t *m;

	CHECK(setup(NULL, TP_TCP, NULL, false, NULL) == 0);
	n = mk_message(buf, sizeof(buf), 1, 0, true);
	CHECK((rr.fd = raw_connect(T.port)) >= 0);
	CHECK(raw_send(rr.fd, buf, n));
	CHECK(run_until(cond_nmsgs, &want, 5000));
	c = T.last_in;
	n = mk_message(buf, sizeof(buf), 2, 60000, true);
	CHECK((m = msg_make(sip_default_mclass(), 0, buf, (ssize_t)n)) != NULL);
	for (i = 0; i < 2000 && r == 0; i++)
		r = conn_send(c, m);
	msg_destroy(m);
	CHECK_EQ_INT(r, UV_ENOBUFS);
	CHECK(!conn_is_open(c));
	CHECK(conn_send(c, T.msgs[0].msg) == TP_ECLOSED);
	CHECK(run_until(cond_nclosed, &want, 5000));
	close(rr.fd);
	return teardown();
}

static int
test_limits(void)
{
	struct transport_conf tc;
	struct transport_stats st;
	struct raw_read a = { 0 }, b = { 0 }, c = { 0 };
	int want = 1;
	char buf[2048];
	size_t n;

	default_conf(&tc);
	tc.max_connections_per_address = 1;
	CHECK(setup(&tc, TP_TCP, NULL, false, NULL) == 0);
	CHECK((a.fd = raw_connect(T.port)) >= 0);
	CHECK((b.fd = raw_connect(T.port)) >= 0);
	/* The second one from the same address is accepted and closed. */
	CHECK(run_until(cond_raw, &b, 5000));
	CHECK(b.eof);
	close(b.fd);
	n = mk_message(buf, sizeof(buf), 1, 0, true);
	CHECK(raw_send(a.fd, buf, n));
	CHECK(run_until(cond_nmsgs, &want, 5000));
	transport_stats_get(T.t, &st);
	CHECK_EQ_INT(st.refused_limit, 1);
	CHECK_EQ_INT(st.accepted, 1);
	/* Once the first goes, its slot is free again. */
	close(a.fd);
	CHECK(run_until(cond_nclosed, &want, 5000));
	CHECK((c.fd = raw_connect(T.port)) >= 0);
	CHECK(raw_send(c.fd, buf, n));
	want = 2;
	CHECK(run_until(cond_nmsgs, &want, 5000));
	close(c.fd);
	return teardown();
}

/* A TCP hop: dialled, then reused; a hop without an address is refused (names
 * are routing's to resolve). */
static int
test_dial_resolve_and_refused(void)
{
	struct dial_res d = { 0 }, e = { 0 };
	struct conn *c = NULL;
	struct dial_req *req = NULL;
	struct hop hop;
	int want = 1;

	CHECK(setup(NULL, TP_TCP, NULL, false, NULL) == 0);
	hop_init(&hop, "127.0.0.1", TP_TCP, T.port);
	hop.has_addr = false;
	CHECK_EQ_INT(transport_dial(T.tw, &hop, SIDE_INTERNAL, dial_cb, &d, &c, &req), -EINVAL);
	hop_init(&hop, "127.0.0.1", TP_TCP, T.port);
	CHECK_EQ_INT(transport_dial(T.tw, &hop, SIDE_INTERNAL, dial_cb, &d, &c, &req), 1);
	CHECK(run_until(cond_dial, &d, 5000));
	CHECK_EQ_INT(d.status, 0);
	CHECK(conn_info(d.c)->npeer_names == 0);
	CHECK(conn_info(d.c)->kind == TP_TCP);
	c = NULL;
	CHECK_EQ_INT(transport_dial(T.tw, &hop, SIDE_INTERNAL, dial_cb, &e, &c, &req), 0);
	CHECK(c == d.c);
	conn_close(d.c);
	CHECK(run_until(cond_nclosed, &want, 5000));

	/* Nobody listening. */
	hop_init(&hop, "pool1.contoso.test", TP_TCP, free_port());
	CHECK_EQ_INT(transport_dial(T.tw, &hop, SIDE_INTERNAL, dial_cb, &e, &c, &req), 1);
	CHECK(run_until(cond_dial, &e, 5000));
	CHECK_EQ_INT(e.status, UV_ECONNREFUSED);
	return teardown();
}

static int
test_listen_in_use(void)
{
	struct tp_worker *tw2 = NULL;
	struct transport_cbs cbs = { .message_cb = message_cb, .closed_cb = closed_cb, .ud = NULL };
	struct listener_conf lc;
	struct sockaddr_storage ss;
	int fd, one = 1;

	CHECK(setup(NULL, TP_TCP, NULL, false, NULL) == 0);
	/* Another worker shares the port (SO_REUSEPORT). */
	CHECK(transport_worker_new(T.t, &T.loop, 4, &cbs, &tw2) == 0);
	memset(&lc, 0, sizeof(lc));
	lc.kind = TP_TCP;
	loopback(&lc.addr, T.port);
	CHECK_EQ_INT(transport_worker_listen(tw2, &lc, NULL), 0);
	/* A port held by a socket without SO_REUSEPORT is refused. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	loopback(&ss, free_port());
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	CHECK(bind(fd, (struct sockaddr *)&ss, sizeof(struct sockaddr_in)) == 0);
	CHECK(listen(fd, 8) == 0);
	lc.addr = ss;
	CHECK_EQ_INT(transport_worker_listen(tw2, &lc, NULL), UV_EADDRINUSE);
	/* TLS without a context is a caller error. */
	lc.kind = TP_TLS;
	CHECK_EQ_INT(transport_worker_listen(tw2, &lc, NULL), -EINVAL);
	close(fd);
	transport_worker_shutdown(tw2);
	run_nowait(5);
	transport_worker_free(tw2);
	return teardown();
}

/* Two workers, each on its own thread and loop, on one port: the limits are
 * process-wide. */
struct thr {
	uv_loop_t loop;
	uv_async_t stop;
	struct tp_worker *tw;
	pthread_t th;
};

static atomic_int thr_msgs;

static void
thr_message_cb(struct conn *c, msg_t *msg, int status, void *ud)
{
	if (msg)
		msg_destroy(msg);
	if (status == 0)
		atomic_fetch_add(&thr_msgs, 1);
}

static void
thr_stop_cb(uv_async_t *a)
{
	struct thr *w = a->data;

	transport_worker_shutdown(w->tw);
	uv_close((uv_handle_t *)a, NULL);
}

static void *
thr_main(void *arg)
{
	struct thr *w = arg;

	uv_run(&w->loop, UV_RUN_DEFAULT);
	return NULL;
}

static int
test_workers_threads(void)
{
	struct transport_cbs cbs = { .message_cb = thr_message_cb, .closed_cb = NULL, .ud = NULL };
	struct transport_conf tc;
	struct transport_stats st;
	struct listener_conf lc;
	struct transport *t;
	struct thr w[2];
	int fds[20];
	char buf[2048];
	size_t n;

	default_conf(&tc);
	tc.max_connections_per_address = 10;
	CHECK(transport_new(&tc, &t) == 0);
	memset(&lc, 0, sizeof(lc));
	lc.kind = TP_TCP;
	loopback(&lc.addr, free_port());
	for (int i = 0; i < 2; i++) {
		CHECK(uv_loop_init(&w[i].loop) == 0);
		CHECK(uv_async_init(&w[i].loop, &w[i].stop, thr_stop_cb) == 0);
		w[i].stop.data = &w[i];
		CHECK(transport_worker_new(t, &w[i].loop, (unsigned)i, &cbs, &w[i].tw) == 0);
		CHECK_EQ_INT(transport_worker_listen(w[i].tw, &lc, NULL), 0);
	}
	for (int i = 0; i < 2; i++)
		CHECK(pthread_create(&w[i].th, NULL, thr_main, &w[i]) == 0);
	n = mk_message(buf, sizeof(buf), 1, 0, true);
	for (int i = 0; i < 20; i++) {
		CHECK((fds[i] = raw_connect(tp_port_of(&lc.addr))) >= 0);
		(void)raw_send(fds[i], buf, n);
	}
	/* Poll the counters until both loops have seen every connection. */
	for (int ms = 0; ms < 5000; ms++) {
		struct timespec ts = { 0, 1000000 };

		transport_stats_get(t, &st);
		if (atomic_load(&thr_msgs) >= 10 && st.refused_limit >= 10)
			break;
		nanosleep(&ts, NULL);
	}
	transport_stats_get(t, &st);
	CHECK_EQ_INT(atomic_load(&thr_msgs), 10);
	CHECK_EQ_INT(st.accepted, 10);
	CHECK_EQ_INT(st.refused_limit, 10);
	for (int i = 0; i < 2; i++)
		CHECK(uv_async_send(&w[i].stop) == 0);
	for (int i = 0; i < 2; i++) {
		CHECK(pthread_join(w[i].th, NULL) == 0);
		CHECK_EQ_INT(uv_loop_close(&w[i].loop), 0);
		transport_worker_free(w[i].tw);
	}
	for (int i = 0; i < 20; i++)
		close(fds[i]);
	transport_stats_get(t, &st);
	CHECK_EQ_INT(st.open_connections, 0);
	transport_free(t);
	return 0;
}

/* Balancing: every connection comes to one worker's listener (the other
 * worker does not listen), which hands every second one over; both end up
 * with half, and the messages on the handed-over ones are read by the worker
 * that adopted them. */
struct bal {
	uv_loop_t loop;
	uv_async_t wake, stop;
	struct tp_worker *tw;
	pthread_t th;
	pthread_mutex_t mu;
	struct tp_handoff *queue[32];
	int nqueue;
	atomic_int msgs;
};

static struct bal BW[2];

static void
bal_message_cb(struct conn *c, msg_t *msg, int status, void *ud)
{
	struct bal *b = ud;

	(void)c;
	if (msg)
		msg_destroy(msg);
	if (status == 0)
		atomic_fetch_add(&b->msgs, 1);
}

static void
bal_handoff_cb(struct tp_worker *from, unsigned to, struct tp_handoff *h, void *ud)
{
	struct bal *b = &BW[to];

	(void)from;
	(void)ud;
	pthread_mutex_lock(&b->mu);
	if (b->nqueue < 32) {
		b->queue[b->nqueue++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&b->mu);
	if (h)
		transport_handoff_drop(h);
	uv_async_send(&b->wake);
}

static void
bal_wake_cb(uv_async_t *a)
{
	struct bal *b = a->data;

	pthread_mutex_lock(&b->mu);
	for (int i = 0; i < b->nqueue; i++)
		transport_worker_adopt(b->tw, b->queue[i]);
	b->nqueue = 0;
	pthread_mutex_unlock(&b->mu);
}

static void
bal_stop_cb(uv_async_t *a)
{
	struct bal *b = a->data;

	transport_worker_shutdown(b->tw);
	uv_close((uv_handle_t *)&b->wake, NULL);
	uv_close((uv_handle_t *)a, NULL);
}

static void *
bal_main(void *arg)
{
	uv_run(&((struct bal *)arg)->loop, UV_RUN_DEFAULT);
	return NULL;
}

static int
test_workers_balance(void)
{
	struct transport_conf tc;
	struct transport_stats st;
	struct listener_conf lc;
	struct transport *t;
	int fds[8];
	char buf[2048];
	size_t n;

	default_conf(&tc);
	CHECK(transport_new(&tc, &t) == 0);
	memset(&lc, 0, sizeof(lc));
	lc.kind = TP_TCP;
	loopback(&lc.addr, free_port());
	for (int i = 0; i < 2; i++) {
		struct transport_cbs cbs = { .message_cb = bal_message_cb, .ud = &BW[i],
		    .handoff_cb = bal_handoff_cb };

		CHECK(uv_loop_init(&BW[i].loop) == 0);
		CHECK(uv_async_init(&BW[i].loop, &BW[i].wake, bal_wake_cb) == 0);
		CHECK(uv_async_init(&BW[i].loop, &BW[i].stop, bal_stop_cb) == 0);
		BW[i].wake.data = BW[i].stop.data = &BW[i];
		pthread_mutex_init(&BW[i].mu, NULL);
		CHECK(transport_worker_new(t, &BW[i].loop, (unsigned)i, &cbs, &BW[i].tw) == 0);
	}
	CHECK_EQ_INT(transport_worker_listen(BW[0].tw, &lc, NULL), 0);
	for (int i = 0; i < 2; i++)
		CHECK(pthread_create(&BW[i].th, NULL, bal_main, &BW[i]) == 0);
	n = mk_message(buf, sizeof(buf), 1, 0, true);
	for (int i = 0; i < 8; i++) {
		struct timespec ts = { 0, 20000000 };

		CHECK((fds[i] = raw_connect(tp_port_of(&lc.addr))) >= 0);
		CHECK(raw_send(fds[i], buf, n));
		nanosleep(&ts, NULL);      /* one at a time: the counts are seen */
	}
	for (int ms = 0; ms < 5000; ms++) {
		struct timespec ts = { 0, 1000000 };

		if (atomic_load(&BW[0].msgs) + atomic_load(&BW[1].msgs) >= 8)
			break;
		nanosleep(&ts, NULL);
	}
	CHECK_EQ_INT(atomic_load(&BW[0].msgs), 4);
	CHECK_EQ_INT(atomic_load(&BW[1].msgs), 4);
	transport_stats_get(t, &st);
	CHECK_EQ_INT(st.accepted, 8);
	CHECK_EQ_INT(st.open_connections, 8);
	for (int i = 0; i < 2; i++)
		CHECK(uv_async_send(&BW[i].stop) == 0);
	for (int i = 0; i < 2; i++) {
		CHECK(pthread_join(BW[i].th, NULL) == 0);
		CHECK_EQ_INT(uv_loop_close(&BW[i].loop), 0);
		transport_worker_free(BW[i].tw);
		pthread_mutex_destroy(&BW[i].mu);
	}
	for (int i = 0; i < 8; i++)
		close(fds[i]);
	transport_stats_get(t, &st);
	CHECK_EQ_INT(st.open_connections, 0);
	transport_free(t);
	return 0;
}

static const struct unit_test tests[] = {
	UNIT(test_tls_ctx_errors),
	UNIT(test_tls_mutual_message),
	UNIT(test_dial_cancel),
	UNIT(test_tls_send_from_timer),
	UNIT(test_tls_resumption),
	UNIT(test_workers_balance),
	UNIT(test_tls_certname),
	UNIT(test_tls_untrusted),
	UNIT(test_tls_no_client_cert),
	UNIT(test_tls_eku),
	UNIT(test_tls_handshake_timeout),
	UNIT(test_tcp_several_in_one_write),
	UNIT(test_tcp_byte_by_byte),
	UNIT(test_tcp_many_large),
	UNIT(test_tcp_keepalive),
	UNIT(test_tcp_oversized),
	UNIT(test_tcp_no_content_length),
	UNIT(test_tcp_incomplete_timeout),
	UNIT(test_tcp_idle_timeout),
	UNIT(test_tcp_partial_at_eof),
	UNIT(test_tcp_write_backlog),
	UNIT(test_limits_total),
	UNIT(test_limits),
	UNIT(test_dial_resolve_and_refused),
	UNIT(test_listen_in_use),
	UNIT(test_workers_threads),
	{ 0 }
};

/* The lab PKI, made once for all tests in a temporary directory. */
static int
make_pki(const char *argv0)
{
	const char *src = getenv("top_srcdir"), *tmpdir = getenv("TMPDIR");
	char srcbuf[PATH_MAX], cmd[PATH_MAX * 3];

	if (src == NULL) {
#ifdef TOP_SRCDIR
		src = TOP_SRCDIR;
#else
		char tmp[PATH_MAX];

		snprintf(tmp, sizeof(tmp), "%s", argv0);
		snprintf(srcbuf, sizeof(srcbuf), "%s/../..", dirname(tmp));
		src = srcbuf;
#endif
	}
	(void)srcbuf;
	snprintf(T.pki, sizeof(T.pki), "%s/sipedge-tp.XXXXXX", tmpdir ? tmpdir : "/tmp");
	if (mkdtemp(T.pki) == NULL) {
		fprintf(stderr, "# mkdtemp %s: %s\n", T.pki, strerror(errno));
		return -1;
	}
	snprintf(cmd, sizeof(cmd), "'%s/tests/pki/mkcerts.sh' '%s' >/dev/null", src, T.pki);
	if (system(cmd) != 0) {
		fprintf(stderr, "# %s failed\n", cmd);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	const char *lvl = getenv("UNIT_LOG");
	enum log_level level = LOG_LVL_ERROR;
	char cmd[PATH_MAX + 16];
	int r;

	if (lvl)
		(void)log_level_parse(lvl, &level);
	log_init("test_transport", 1, level);
	r = make_pki(argv[0]) < 0 ? 99 : unit_main(argc, argv, tests);
	if (T.pki[0] && strstr(T.pki, "sipedge-tp.") != NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", T.pki);
		(void)system(cmd);
	}
	return r;
}
