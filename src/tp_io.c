/* tp_io.c: a connection's reading and writing: messages serialised into one
 * write (one TLS record) each, NUL octets of header fields restored, the write
 * backlog bounded; the stream framed into messages (framing.h) with CRLF pongs,
 * framing errors answered then the connection drained and closed (lingering
 * so that the answer is read before the close), TLS records decrypted. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sofia-sip/msg_addr.h>
#include <sofia-sip/msg_buffer.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/su_alloc.h>

#include "sipedge/framing.h"
#include "sipedge/log.h"
#include "sipedge/sipmsg.h"
#include "tp_private.h"



/* --- writing --- */

struct tp_write {
	uv_write_t req;
	struct conn *c;
	msg_t *msg;          /* TCP: holds the serialised message the bufs point into */
	char *buf;           /* TLS or raw: owned ciphertext */
	size_t len;
};

static void
conn_write_cb(uv_write_t *req, int status)
{
	struct tp_write *w = (struct tp_write *)req;
	struct conn *c = w->c;
	char ctx[320];

	c->wq_bytes -= w->len;
	if (w->msg)
		msg_destroy(w->msg);
	free(w->buf);
	free(w);
	if (status < 0) {
		if (status != UV_ECANCELED && c->state != CS_CLOSED) {
			log_debug("write failed: %s, %s", uv_strerror(status),
			    tp__conn_ctx(c, ctx, sizeof(ctx)));
			if (c->dial)
				tp__dial_fail(c, status, uv_strerror(status));
			else
				tp__conn_abort(c);
		}
		return;
	}
	c->last_io = uv_now(c->tw->loop);
	if (c->wq_bytes == 0)
		tp__conn_flushed(c);
}

/* Account for a queued write; drop a peer that does not read. */
static int
conn_queued(struct conn *c, size_t len)
{
	char ctx[320];

	c->wq_bytes += len;
	if (c->wq_bytes > TP_MAX_BACKLOG) {
		log_warnx("%s: write backlog over %u bytes, closing, %s", __func__,
		    TP_MAX_BACKLOG, tp__conn_ctx(c, ctx, sizeof(ctx)));
		tp__conn_abort(c);
		return UV_ENOBUFS;
	}
	return 0;
}

/* Write len bytes of buf: at once if the socket takes them, else queued.  If
 * owned, buf is malloc()ed and this takes it over. */
int
tp__conn_write_bytes(struct conn *c, char *buf, size_t len, bool owned)
{
	uv_buf_t b = uv_buf_init(buf, (unsigned)len);
	struct tp_write *w;
	int r = 0;

	if (c->state == CS_CLOSED) {
		r = TP_ECLOSED;
		goto out;
	}
	c->bytes_out += len;
	TW_STAT_ADD(c->tw, bytes[c->info.side][STATS_OUT], len);
	if (c->state != CS_CONNECTING && c->wq_bytes == 0) {
		r = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
		if (r == (int)len) {
			c->last_io = uv_now(c->tw->loop);
			r = 0;
			goto out;
		}
		if (r < 0 && r != UV_EAGAIN)
			goto out;
		if (r > 0) {
			b.base += r;
			b.len -= (size_t)r;
		}
	}
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		r = UV_ENOMEM;
		goto out;
	}
	if (!owned) {
		if ((w->buf = malloc(b.len)) == NULL) {
			free(w);
			r = UV_ENOMEM;
			goto out;
		}
		memcpy(w->buf, b.base, b.len);
		b.base = w->buf;
	} else {
		/* Keep the whole allocation; the write starts at b.base. */
		w->buf = buf;
		owned = false;
	}
	w->c = c;
	w->len = b.len;
	if ((r = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, conn_write_cb)) < 0) {
		free(w->buf);
		free(w);
		goto out;
	}
	return conn_queued(c, b.len);
out:
	if (owned)
		free(buf);
	return r;
}

/* Send what the TLS session produced. */
int
tp__conn_tls_flush(struct conn *c)
{
	char *buf;
	size_t n = tls_sess_output(c->tls, &buf);

	return n ? tp__conn_write_bytes(c, buf, n, true) : 0;
}

static int
conn_send_tcp(struct conn *c, msg_t *msg, msg_iovec_t *iov, size_t n, size_t total)
{
	uv_buf_t stackbufs[32], *bufs = stackbufs;
	struct tp_write *w = NULL;
	size_t off = 0, i = 0;
	int r;

	if (n > sizeof(stackbufs) / sizeof(stackbufs[0]) &&
	    (bufs = calloc(n, sizeof(*bufs))) == NULL)
		return UV_ENOMEM;
	for (size_t k = 0; k < n; k++)
		bufs[k] = uv_buf_init(iov[k].mv_base, (unsigned)iov[k].mv_len);
	/* Most writes go out at once and need no reference on msg. */
	if (c->wq_bytes == 0) {
		r = uv_try_write((uv_stream_t *)&c->tcp, bufs, (unsigned)n);
		if (r < 0 && r != UV_EAGAIN)
			goto out;
		if (r > 0)
			off = (size_t)r;
		if (off == total) {
			c->last_io = uv_now(c->tw->loop);
			r = 0;
			goto out;
		}
		while (i < n && off >= bufs[i].len) {
			off -= bufs[i].len;
			i++;
		}
		bufs[i].base += off;
		bufs[i].len -= off;
		total -= (size_t)(r > 0 ? r : 0);
	}
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		r = UV_ENOMEM;
		goto out;
	}
	w->c = c;
	w->len = total;
	w->msg = msg_ref_create(msg);
	if ((r = uv_write(&w->req, (uv_stream_t *)&c->tcp, bufs + i, (unsigned)(n - i),
	    conn_write_cb)) < 0) {
		msg_destroy(w->msg);
		free(w);
		goto out;
	}
	r = conn_queued(c, total);
out:
	if (bufs != stackbufs)
		free(bufs);
	return r;
}

/* The message in one buffer (tw->wbuf), NUL octets of its header fields
 * restored (framing.h). */
static int
conn_flatten(struct conn *c, const msg_t *msg, msg_iovec_t *iov, size_t n, size_t total)
{
	struct tp_worker *tw = c->tw;
	size_t off = 0;

	if (total > tw->wbufsize) {
		char *p = realloc(tw->wbuf, total);

		if (p == NULL)
			return UV_ENOMEM;
		tw->wbuf = p;
		tw->wbufsize = total;
	}
	for (size_t k = 0; k < n; k++) {
		memcpy(tw->wbuf + off, iov[k].mv_base, iov[k].mv_len);
		off += iov[k].mv_len;
	}
	sipmsg_nul_restore(msg, tw->wbuf, total);
	return 0;
}

/* Big messages are rare; do not keep their buffer. */
static void
conn_wbuf_trim(struct tp_worker *tw)
{
	if (tw->wbufsize > TP_SLICE) {
		free(tw->wbuf);
		tw->wbuf = NULL;
		tw->wbufsize = 0;
	}
}

/* ---- one write per connection per loop turn -------------------------------
 * A loop turn that reads several requests from one peer, or forwards several
 * to one next hop, used to pay a write(2) (and on loopback the receiver's TCP
 * work) per message.  TLS output now collects in the session during the turn
 * and goes out in one write from the check phase, which libuv runs right
 * after the poll phase: no message waits for a later turn. */

static void
flush_run(struct tp_worker *tw)
{
	struct conn *c;

	uv_check_stop(&tw->flush_check);
	uv_idle_stop(&tw->flush_idle);
	while ((c = tw->flush_head) != NULL) {
		tw->flush_head = c->fnext;
		c->fnext = NULL;
		c->flush_queued = false;
		if (c->state == CS_OPEN || c->state == CS_CLOSING)
			(void)tp__conn_tls_flush(c);
		conn_unref(c);
	}
}

static void
flush_check_cb(uv_check_t *h)
{
	flush_run(h->data);
}

static void
flush_idle_cb(uv_idle_t *h)
{
	flush_run(h->data);
}

int
tp__flush_init(struct tp_worker *tw)
{
	int r;

	if ((r = uv_check_init(tw->loop, &tw->flush_check)) < 0)
		return r;
	if ((r = uv_idle_init(tw->loop, &tw->flush_idle)) < 0) {
		uv_close((uv_handle_t *)&tw->flush_check, NULL);
		return r;
	}
	tw->flush_check.data = tw;
	tw->flush_idle.data = tw;
	tw->flush_open = true;
	return 0;
}

void
tp__flush_close(struct tp_worker *tw)
{
	if (!tw->flush_open)
		return;
	flush_run(tw);
	uv_close((uv_handle_t *)&tw->flush_check, NULL);
	uv_close((uv_handle_t *)&tw->flush_idle, NULL);
	tw->flush_open = false;
}

/* c has TLS output to write at the end of this loop turn. */
static void
flush_later(struct conn *c)
{
	struct tp_worker *tw = c->tw;

	if (c->flush_queued)
		return;
	conn_ref(c);
	c->flush_queued = true;
	c->fnext = tw->flush_head;
	tw->flush_head = c;
	if (!uv_is_active((uv_handle_t *)&tw->flush_check)) {
		uv_check_start(&tw->flush_check, flush_check_cb);
		uv_idle_start(&tw->flush_idle, flush_idle_cb);
	}
}

static int
conn_send_tls(struct conn *c, const msg_t *msg, msg_iovec_t *iov, size_t n, size_t total)
{
	struct tp_worker *tw = c->tw;
	int r;

	/* One SSL_write for the whole message: a record per header fragment
	 * would multiply the overhead. */
	if ((r = conn_flatten(c, msg, iov, n, total)) < 0)
		return r;
	if ((r = tls_sess_write(c->tls, tw->wbuf, total)) < 0) {
		tp__conn_abort(c);
		return TP_ETLS;
	}
	conn_wbuf_trim(tw);
	if (!tw->flush_open || tw->shutting_down)
		return tp__conn_tls_flush(c);
	flush_later(c);
	return 0;
}

int
conn_send(struct conn *c, msg_t *msg)
{
	msg_iovec_t stackiov[64], *iov = stackiov;
	size_t n, total = 0;
	int r;

	if (c == NULL || msg == NULL)
		return -EINVAL;
	if (c->state != CS_OPEN)
		return TP_ECLOSED;
	if (msg_serialize(msg, NULL) < 0 || msg_prepare(msg) < 0)
		return -EINVAL;
	if ((n = (size_t)msg_iovec(msg, NULL, 0)) == 0)
		return -EINVAL;
	if (n > sizeof(stackiov) / sizeof(stackiov[0]) &&
	    (iov = calloc(n, sizeof(*iov))) == NULL)
		return -ENOMEM;
	msg_iovec(msg, iov, (isize_t)n);
	for (size_t k = 0; k < n; k++)
		total += iov[k].mv_len;
	if (c->tls) {
		r = conn_send_tls(c, msg, iov, n, total);
	} else if (sipmsg_nul_byte(msg) >= 0) {
		/* Rare: NULs to restore need a copy. */
		if ((r = conn_flatten(c, msg, iov, n, total)) == 0)
			r = tp__conn_write_bytes(c, c->tw->wbuf, total, false);
		conn_wbuf_trim(c->tw);
	} else {
		r = conn_send_tcp(c, msg, iov, n, total);
	}
	if (iov != stackiov)
		free(iov);
	if (r == 0) {
		STAT_INC(c->t, messages_out);
		c->msgs_out++;
		TW_STAT(c->tw, messages[c->info.side][STATS_OUT]);
		if (c->tw->tracing)
			c->tw->cbs.trace_cb(c, msg, true, c->tw->cbs.ud);
	}
	return r;
}

/* RFC 5626 §3.5.1: the pong for a CRLFCRLF ping. */
static void
conn_send_pong(struct conn *c)
{
	static char crlf[] = "\r\n";

	if (c->tls) {
		if (tls_sess_write(c->tls, crlf, 2) == 0)
			(void)tp__conn_tls_flush(c);
	} else {
		(void)tp__conn_write_bytes(c, crlf, 2, false);
	}
}

/* --- reading and framing --- */

static void
conn_deliver(struct conn *c, msg_t *msg, int status)
{
	struct tp_worker *tw = c->tw;

	if (status == 0) {
		STAT_INC(c->t, messages_in);
		c->msgs_in++;
		TW_STAT(tw, messages[c->info.side][STATS_IN]);
		if (tw->tracing)
			tw->cbs.trace_cb(c, msg, false, tw->cbs.ud);
	}
	if (tw->cbs.message_cb)
		tw->cbs.message_cb(c, msg, status, tw->cbs.ud);
	else if (msg)
		msg_destroy(msg);
}

/* The stream cannot be framed any more: tell the core (which may answer),
 * then close once that answer is flushed. */
static void
conn_framing_error(struct conn *c, msg_t *msg, int status, const char *why)
{
	char ctx[320];

	STAT_INC(c->t, framing_errors);
	log_info("framing error (%s), answering %d and closing, %s", why, status,
	    tp__conn_ctx(c, ctx, sizeof(ctx)));
	c->partial_since = 0;
	c->discard = true;          /* what follows is read and dropped */
	conn_deliver(c, msg, status);
	if (c->state != CS_OPEN)
		return;
	if (c->refs <= 1) {
		conn_close(c);
		return;
	}
	/* Requests read before the bad one are still in progress (they hold
	 * references): stop reading, let them answer, close after the last. */
	c->draining = true;
	c->drain_since = uv_now(c->tw->loop);
	tp__conn_arm_timer(c);
}

/* What the framer found in the stream. */
static int
conn_framer_cb(void *arg, enum framer_event ev, msg_t *msg, int status, const char *why)
{
	struct conn *c = arg;

	switch (ev) {
	case FRAMER_MESSAGE:
		c->partial_since = 0;
		conn_deliver(c, msg, 0);
		break;
	case FRAMER_PING:
		if (c->state == CS_OPEN)
			conn_send_pong(c);
		break;
	case FRAMER_ERROR:
		conn_framing_error(c, msg, status, why);
		return 1;
	}
	return c->state == CS_OPEN ? 0 : 1;
}

/* Plaintext from the stream. */
static void
conn_feed(struct conn *c, const char *p, size_t n)
{
	if (c->state != CS_OPEN || c->fr.failed)
		return;
	if (framer_feed(&c->fr, p, n, conn_framer_cb, c) != 0)
		return;
	if (framer_partial(&c->fr) && c->partial_since == 0) {
		c->partial_since = uv_now(c->tw->loop);
		if (c->tw->conf.incomplete_timeout_ms)
			tp__conn_arm_timer(c);
	}
}

void
tp__conn_established(struct conn *c)
{
	struct tp_worker *tw = c->tw;
	char ctx[320];

	c->state = CS_OPEN;
	c->established = true;
	TW_STAT(tw, connections[c->info.side]);
	c->last_io = uv_now(tw->loop);
	tp__ht_insert(tw, c);
	if (c->tls) {
		tls_sess_peer_names(c->tls, &c->info.peer_names, &c->info.npeer_names);
		c->info.tls_resumed = tls_sess_resumed(c->tls);
	}
	if (c->info.outbound) {
		c->onext = tw->outbound;
		if (tw->outbound)
			tw->outbound->oprev = c;
		tw->outbound = c;
	}
	tp__conn_arm_timer(c);
	if (log_would(LOG_LVL_DEBUG))
		log_debug("connection %016llx %s %s%s%s%s%s%s, %s", (unsigned long long)c->info.id,
		    c->info.outbound ? "dialled" : "accepted",
		    c->tls ? tls_sess_version(c->tls) : "TCP", c->tls ? " " : "",
		    c->tls ? tls_sess_cipher(c->tls) : "",
		    c->info.tls_resumed ? " (resumed)" : "",
		    c->info.npeer_names ? ", certificate names " : "",
		    c->info.npeer_names ? c->info.peer_names[0] : "", tp__conn_ctx(c, ctx, sizeof(ctx)));
	if (c->dial)
		tp__dial_succeed(c);
}

void
tp__tls_failed(struct conn *c, enum tls_fail why)
{
	static const enum stats_tls_cause cause[] = {
		[TLS_FAIL_NONE] = STATS_TLS_TIMEOUT,
		[TLS_FAIL_NO_CERT] = STATS_TLS_NO_CERT,
		[TLS_FAIL_UNTRUSTED] = STATS_TLS_UNTRUSTED,
		[TLS_FAIL_NAME] = STATS_TLS_WRONG_NAME,
		[TLS_FAIL_PROTOCOL] = STATS_TLS_PROTOCOL,
	};

	TW_STAT(c->tw, tls_failures[c->info.side][cause[why]]);
}

static void
conn_tls_input(struct conn *c, const char *p, size_t n)
{
	char detail[256] = "", ctx[320];
	long r;

	tls_sess_input(c->tls, p, n);
	if (c->state == CS_HANDSHAKE) {
		int h = tls_sess_handshake(c->tls, detail, sizeof(detail));

		/* Send what the handshake produced, alerts included. */
		(void)tp__conn_tls_flush(c);
		if (h < 0) {
			STAT_INC(c->t, tls_failures);
			tp__tls_failed(c, tls_sess_fail(c->tls));
			if (c->dial) {
				tp__dial_fail(c, h == -EACCES ? TP_ECERTNAME : TP_ETLS, detail);
			} else {
				log_warnx("%s: TLS handshake failed: %s, %s", __func__, detail,
				    tp__conn_ctx(c, ctx, sizeof(ctx)));
				tp__conn_abort(c);
			}
			return;
		}
		if (h == 0)
			return;
		tp__conn_established(c);
	}
	while (c->state == CS_OPEN) {
		r = tls_sess_read(c->tls, c->tw->plain, sizeof(c->tw->plain), detail,
		    sizeof(detail));
		if (r > 0) {
			conn_feed(c, c->tw->plain, (size_t)r);
			continue;
		}
		if (r == 0)
			break;
		if (r == -EPIPE) {
			log_debug("TLS close_notify, %s", tp__conn_ctx(c, ctx, sizeof(ctx)));
			conn_close(c);
		} else {
			/* On TLS 1.3 a server's refusal of our certificate lands here. */
			STAT_INC(c->t, tls_failures);
			tp__tls_failed(c, tls_sess_fail(c->tls));
			log_warnx("%s: TLS error: %s, %s", __func__, detail,
			    tp__conn_ctx(c, ctx, sizeof(ctx)));
			(void)tp__conn_tls_flush(c);
			tp__conn_abort(c);
		}
		break;
	}
	tls_sess_input(c->tls, NULL, 0);
	if (c->state == CS_OPEN || c->state == CS_CLOSING)
		(void)tp__conn_tls_flush(c);
}

void
tp__conn_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct conn *c = h->data;

	*buf = uv_buf_init(c->tw->rbuf, sizeof(c->tw->rbuf));
}

void
tp__conn_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = s->data;
	char ctx[320];

	if (nread == 0 || c->state == CS_CLOSED)
		return;
	if (c->discard) {
		/* Lingering after a framing error: drop the input; the peer's
		 * FIN (or an error) ends it once our own FIN is out. */
		if (nread < 0) {
			c->peer_eof = true;
			uv_read_stop(s);
			if (c->state == CS_CLOSING && c->shutdown_started)
				tp__conn_abort(c);
		}
		return;
	}
	if (c->state >= CS_CLOSING)
		return;
	if (nread < 0) {
		framer_clear(&c->fr);
		c->partial_since = 0;
		if (c->dial) {
			tp__dial_fail(c, nread == UV_EOF ? TP_ETLS : (int)nread, nread == UV_EOF ?
			    "connection closed during the TLS handshake" : uv_strerror((int)nread));
			return;
		}
		if (c->state == CS_HANDSHAKE) {
			log_debug("closed during the TLS handshake, %s",
			    tp__conn_ctx(c, ctx, sizeof(ctx)));
			tp__conn_abort(c);
		} else if (nread == UV_EOF) {
			log_debug("EOF, %s", tp__conn_ctx(c, ctx, sizeof(ctx)));
			conn_close(c);
		} else {
			log_debug("read error: %s, %s", uv_strerror((int)nread),
			    tp__conn_ctx(c, ctx, sizeof(ctx)));
			tp__conn_abort(c);
		}
		return;
	}
	c->last_io = uv_now(c->tw->loop);
	c->bytes_in += (size_t)nread;
	TW_STAT_ADD(c->tw, bytes[c->info.side][STATS_IN], (size_t)nread);
	if (c->state == CS_HANDSHAKE)
		c->progress_at = c->last_io;
	/* Keep c alive whatever the callbacks do with it. */
	conn_ref(c);
	if (c->tls)
		conn_tls_input(c, buf->base, (size_t)nread);
	else
		conn_feed(c, buf->base, (size_t)nread);
	conn_unref(c);
}

