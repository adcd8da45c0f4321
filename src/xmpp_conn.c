/* xmpp_conn.c: the socket under an XMPP stream (RFC 6120 §3): TCP, TLS started
 * in the middle of the stream after <proceed/> (§5.4.3.3) or from the first
 * octet (XEP-0368), reads decrypted into the stream's parser, writes
 * encrypted and bounded, and the orderly close (§4.4).
 *
 * The SIP transport (transport.h) frames SIP messages and reuses
 * connections per next hop; an XMPP stream is one long conversation whose
 * TLS starts half-way, so it has its own small socket layer on the same
 * TLS sessions (tls.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sipedge/log.h"
#include "xmpp_int.h"

struct xs_write {
	uv_write_t req;
	struct xstream *s;
	char *buf;
	size_t len;
};

static void
xs_free(struct xstream *s)
{
	xprobe_stream_gone(s);
	xs_fail_queue(s, xs_fail_status(s), s->diag ? s->diag : DIAG_XMPP_STREAM_CLOSED,
	    s->reason[0] ? s->reason : "the XMPP stream closed");
	xdb_stream_gone(s);
	if (s->q)
		dns_cancel(s->q);
	tls_sess_free(s->tls);
	xmpp_parser_free(s->parser);
	free(s->dial);
	free(s->rest);
	xgw_unlink(s);
	free(s);
}

static void
xs_closed_cb(uv_handle_t *h)
{
	xs_free(h->data);
}

void
xs_abort(struct xstream *s)
{
	if (s->state == XS_CLOSED)
		return;
	xs_unshare(s);
	s->state = XS_CLOSED;
	if (s->q) {
		dns_cancel(s->q);
		s->q = NULL;
	}
	if (s->tcp_open) {
		s->tcp_open = false;
		uv_close((uv_handle_t *)&s->tcp, xs_closed_cb);
	} else if (!s->redialling)
		xs_free(s);
	/* else the socket of a failed attempt is closing: its callback frees. */
}

static void
xs_shutdown_cb(uv_shutdown_t *req, int status)
{
	struct xstream *s = req->data;

	(void)status;
	xs_abort(s);
}

void
xs_finish(struct xstream *s)
{
	if (s->state == XS_CLOSED)
		return;
	xs_unshare(s);
	s->state = XS_CLOSING;
	if (!s->tcp_open) {
		xs_abort(s);
		return;
	}
	xs_take_rest(s);
	if (s->state == XS_CLOSED)
		return;
	/* uv_shutdown waits for the queued writes, then sends FIN. */
	s->shutdown.data = s;
	if (uv_shutdown(&s->shutdown, (uv_stream_t *)&s->tcp, xs_shutdown_cb) < 0)
		xs_abort(s);
}

static void
xs_write_cb(uv_write_t *req, int status)
{
	struct xs_write *w = (struct xs_write *)req;
	struct xstream *s = w->s;

	xgw_lock(s->gw);
	s->wq_bytes -= w->len;
	xgw_unlock(s->gw);
	free(w->buf);
	free(w);
	if (status < 0 && status != UV_ECANCELED && s->state != XS_CLOSED) {
		xs_note(s, DIAG_XMPP_STREAM_CLOSED, "write failed: %s", uv_strerror(status));
		xs_abort(s);
	}
}

/* Hand what another worker left (its octets counted in wq_bytes already) to
 * libuv, before anything written after it; the share's lock held. */
static int
xs_queue_rest(struct xstream *s)
{
	struct xs_write *w;
	uv_buf_t b;
	int r;

	if (s->rest == NULL)
		return 0;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return -ENOMEM;
	w->s = s;
	w->buf = s->rest;
	w->len = s->rest_len;
	b = uv_buf_init(w->buf, (unsigned)w->len);
	if ((r = uv_write(&w->req, (uv_stream_t *)&s->tcp, &b, 1, xs_write_cb)) < 0) {
		free(w);
		return r;
	}
	s->rest = NULL;
	s->rest_len = 0;
	return 0;
}

/* Write octets as they are (ciphertext, or plain TCP); buf is taken over
 * when owned.  The share's lock held. */
static int
xs_write_wire(struct xstream *s, char *buf, size_t len, bool owned)
{
	uv_buf_t b = uv_buf_init(buf, (unsigned)len);
	struct xs_write *w;
	int r;

	if (!s->tcp_open || s->state == XS_CLOSED) {
		if (owned)
			free(buf);
		return -EPIPE;
	}
	if ((r = xs_queue_rest(s)) < 0) {
		if (owned)
			free(buf);
		return r;
	}
	s->bytes_out += len;
	s->gw->ctr.bytes_out += len;
	if (s->wq_bytes == 0 && s->state != XS_CONNECTING) {
		r = uv_try_write((uv_stream_t *)&s->tcp, &b, 1);
		if (r == (int)len) {
			if (owned)
				free(buf);
			return 0;
		}
		if (r > 0) {
			b.base += r;
			b.len -= (size_t)r;
		} else if (r != UV_EAGAIN) {
			if (owned)
				free(buf);
			return r;
		}
	}
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		if (owned)
			free(buf);
		return -ENOMEM;
	}
	if ((w->buf = malloc(b.len)) == NULL) {
		free(w);
		if (owned)
			free(buf);
		return -ENOMEM;
	}
	memcpy(w->buf, b.base, b.len);
	if (owned)
		free(buf);
	b.base = w->buf;
	w->s = s;
	w->len = b.len;
	if ((r = uv_write(&w->req, (uv_stream_t *)&s->tcp, &b, 1, xs_write_cb)) < 0) {
		free(w->buf);
		free(w);
		return r;
	}
	s->wq_bytes += w->len;
	if (s->wq_bytes > XS_MAX_BACKLOG) {
		xs_note(s, DIAG_XMPP_STREAM_CLOSED, "the peer does not read: over %u octets queued",
		    XS_MAX_BACKLOG);
		xs_abort(s);
		return -ENOBUFS;
	}
	return 0;
}

/* Hand what TLS produced to the socket. */
static int
xs_tls_flush(struct xstream *s)
{
	char *out;
	size_t n;
	int r = 0;

	xgw_lock(s->gw);
	if ((n = tls_sess_output(s->tls, &out)) != 0)
		r = xs_write_wire(s, out, n, true);
	xgw_unlock(s->gw);
	return r;
}

void
xs_tls_close(struct xstream *s)
{
	if (s->tls == NULL || !s->tls_up)
		return;
	xgw_lock(s->gw);
	tls_sess_close_notify(s->tls);
	(void)xs_tls_flush(s);
	xgw_unlock(s->gw);
}

static int
xs_write_locked(struct xstream *s, const char *buf, size_t len, uint64_t now)
{
	if (s->state == XS_CLOSED || !s->tcp_open)
		return -EPIPE;
	s->t_out = now;
	if (s->tls == NULL)
		return xs_write_wire(s, (char *)buf, len, false);
	if (!s->tls_up)
		return -EAGAIN;      /* nothing is written during the handshake */
	if (tls_sess_write(s->tls, buf, len) < 0)
		return -EPROTO;
	return xs_tls_flush(s);
}

int
xs_write(struct xstream *s, const char *buf, size_t len)
{
	int r;

	xgw_lock(s->gw);
	r = xs_write_locked(s, buf, len, uv_now(s->gw->loop));
	xgw_unlock(s->gw);
	return r;
}

/* ---- writes from other workers (xmpp_share.c) ----------------------------
 * A stanza from a SIP request that another worker holds is written by that
 * worker, the share's lock held, when the stream has nothing queued: TLS
 * encrypts it and write(2) puts it on the socket, which libuv's loop on
 * worker 0 does not touch while its queue is empty.  What the socket does
 * not take is left in s->rest for worker 0 to queue first (kicked). */

int
xs_write_other(struct xstream *s, const char *buf, size_t len, uint64_t now)
{
	char *out = (char *)buf;
	size_t n = len, done = 0;
	ssize_t k;
	int e = 0;

	if (!s->shared || s->wq_bytes != 0 || s->wire_failed)
		return -EAGAIN;
	if (s->tls != NULL &&
	    (tls_sess_write(s->tls, buf, len) < 0 || (n = tls_sess_output(s->tls, &out)) == 0)) {
		s->wire_failed = true;
		return -EPIPE;
	}
	while (done < n) {
		if ((k = write(s->fd, out + done, n - done)) > 0) {
			done += (size_t)k;
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		e = k < 0 ? errno : EIO;
		break;
	}
	if (done < n && (e == EAGAIN || e == EWOULDBLOCK)) {
		/* The socket is full: worker 0 queues the rest, first. */
		if ((s->rest = malloc(n - done)) != NULL) {
			memcpy(s->rest, out + done, n - done);
			s->rest_len = n - done;
			s->wq_bytes += n - done;
			done = n;
		}
	}
	if (out != buf)
		free(out);
	if (done < n) {
		s->wire_failed = true;        /* worker 0 closes it (kicked) */
		return -EPIPE;
	}
	s->bytes_out += n;
	s->gw->ctr.bytes_out += n;
	s->t_out = now;
	s->t_stanza = now;
	s->stanzas_out++;
	s->gw->ctr.stanzas_out++;
	s->gw->ctr.stanzas_out_direct++;
	return 0;
}

void
xs_take_rest(struct xstream *s)
{
	bool failed;
	size_t n;
	int r;

	xgw_lock(s->gw);
	failed = s->wire_failed;
	n = s->rest_len;
	r = s->state == XS_CLOSED || !s->tcp_open ? 0 : xs_queue_rest(s);
	xgw_unlock(s->gw);
	if (n > 0 && r == 0)
		log_debug("xmpp: %zu octets another worker wrote are queued first (the socket "
		    "was full), stream %llu", n, (unsigned long long)s->id);
	if (failed || r < 0) {
		xs_note(s, DIAG_XMPP_STREAM_CLOSED, "write failed: %s",
		    r < 0 ? uv_strerror(r) : "the socket refused a stanza");
		xs_abort(s);
	}
}

void
xs_share(struct xstream *s)
{
	uv_os_fd_t fd;

	if (s->gw->share == NULL || !s->tcp_open || uv_fileno((uv_handle_t *)&s->tcp, &fd) < 0)
		return;
	xgw_lock(s->gw);
	s->fd = fd;
	s->shared = true;
	xgw_unlock(s->gw);
}

void
xs_unshare(struct xstream *s)
{
	if (!s->shared)
		return;
	xgw_lock(s->gw);
	s->shared = false;
	xgw_unlock(s->gw);
}

/* Advance the handshake with what was read; up: it completed. */
static void
xs_tls_step(struct xstream *s)
{
	char detail[256];
	int r = tls_sess_handshake(s->tls, detail, sizeof(detail));

	(void)xs_tls_flush(s);
	if (r == 0)
		return;
	if (r < 0) {
		s->gw->ctr.tls_failures++;
		xs_note(s, DIAG_XMPP_TLS_FAILED, "TLS handshake with %s failed: %s",
		    s->remote[0] ? s->remote : s->peer, detail);
		log_info("xmpp: %s, %s", s->reason, xs_ctx(s, detail, sizeof(detail)));
		xs_abort(s);
		return;
	}
	s->tls_up = true;
	s->t_tls = uv_now(s->gw->loop);
	if (s->outbound)
		xout_tls_up(s);
	else
		xin_tls_up(s);
}

/* Decrypt what is buffered in the session and parse it. */
static void
xs_tls_read(struct xstream *s)
{
	char detail[256];
	long n;

	while (s->state != XS_CLOSED && s->tls != NULL && s->tls_up) {
		xgw_lock(s->gw);
		n = tls_sess_read(s->tls, s->gw->plainbuf, sizeof(s->gw->plainbuf), detail,
		    sizeof(detail));
		xgw_unlock(s->gw);
		if (n == 0)
			break;
		if (n < 0) {
			if (n != -EPIPE)
				xs_note(s, DIAG_XMPP_TLS_FAILED, "TLS: %s", detail);
			else
				xs_note(s, DIAG_XMPP_STREAM_CLOSED, "the peer closed TLS");
			xs_abort(s);
			return;
		}
		xs_input(s, s->gw->plainbuf, (size_t)n);
	}
	if (s->tls != NULL && s->state != XS_CLOSED)
		(void)xs_tls_flush(s);
}

void
xs_cipher_input(struct xstream *s, const char *buf, size_t len)
{
	xgw_lock(s->gw);
	tls_sess_input(s->tls, buf, len);
	xgw_unlock(s->gw);
	if (!s->tls_up) {
		xs_tls_step(s);
		if (s->state == XS_CLOSED || !s->tls_up)
			return;
	}
	xs_tls_read(s);
	if (s->tls) {
		xgw_lock(s->gw);
		tls_sess_input(s->tls, NULL, 0);
		xgw_unlock(s->gw);
	}
}

int
xs_tls_start(struct xstream *s)
{
	int r;

	r = tls_sess_new(s->outbound ? s->gw->client : s->gw->server,
	    s->outbound ? s->remote : NULL, false, &s->tls);
	if (r < 0)
		return r;
	tls_sess_xmpp(s->tls);
	if (s->outbound && s->direct_tls)
		(void)tls_sess_alpn(s->tls, "xmpp-server");   /* XEP-0368 §4 */
	if (s->outbound) {
		/* ClientHello now. */
		xs_tls_step(s);
	}
	return 0;
}

static void
xs_alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct xstream *s = h->data;

	(void)hint;
	*b = uv_buf_init(s->gw->readbuf, sizeof(s->gw->readbuf));
}

static void
xs_read_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
	struct xstream *s = st->data;

	if (n == 0)
		return;
	if (n < 0) {
		if (s->state != XS_CLOSING)
			xs_note(s, DIAG_XMPP_STREAM_CLOSED, "%s",
			    n == UV_EOF ? "the peer closed the connection" : uv_strerror((int)n));
		xs_abort(s);
		return;
	}
	s->bytes_in += (size_t)n;
	s->gw->ctr.bytes_in += (size_t)n;
	s->t_in = uv_now(s->gw->loop);
	if (s->tls)
		xs_cipher_input(s, b->base, (size_t)n);
	else
		xs_input(s, b->base, (size_t)n);
}

static int
xs_start_reading(struct xstream *s)
{
	char *p = s->peer;
	struct sockaddr_storage ss;
	int len = sizeof(ss);

	if (uv_tcp_getpeername(&s->tcp, (struct sockaddr *)&ss, &len) == 0)
		conf_sockaddr_str(&ss, p, sizeof(s->peer));
	uv_tcp_nodelay(&s->tcp, 1);
	return uv_read_start((uv_stream_t *)&s->tcp, xs_alloc_cb, xs_read_cb);
}

int
xs_new(struct xmpp_gw *gw, bool outbound, struct xstream **out)
{
	struct xmpp_parser_limits lim;
	struct xstream *s;
	int r;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -ENOMEM;
	s->gw = gw;
	s->outbound = outbound;
	s->id = ++gw->next_id;
	s->t_start = s->t_in = s->t_out = uv_now(gw->loop);
	xmpp_parser_limits_default(&lim);
	if ((r = xs_parser_new(s, &lim)) < 0) {
		free(s);
		return r;
	}
	/* An outbound stream's socket is made once an address is known. */
	if (!outbound) {
		if ((r = uv_tcp_init(gw->loop, &s->tcp)) < 0) {
			xmpp_parser_free(s->parser);
			free(s);
			return r;
		}
		s->tcp.data = s;
		s->tcp_open = true;
	}
	*out = s;
	return 0;
}

int
xs_accepted(struct xstream *s)
{
	int r;

	s->state = XS_NEGOTIATING;
	if ((r = xs_start_reading(s)) < 0)
		return r;
	if (s->direct_tls)
		return xs_tls_start(s);
	return 0;
}

/* The socket of a failed attempt is closed: the next address, or the end. */
static void
xs_redial_cb(uv_handle_t *h)
{
	struct xstream *s = h->data;

	s->redialling = false;
	if (s->state == XS_CLOSED) {
		xs_free(s);
		return;
	}
	xout_next(s, s->dial->dial_why);
}

static void
xs_connect_cb(uv_connect_t *req, int status)
{
	struct xstream *s = req->data;

	if (s->state == XS_CLOSED)
		return;
	if (status < 0) {
		snprintf(s->dial->dial_why, sizeof(s->dial->dial_why), "%s", uv_strerror(status));
		s->tcp_open = false;
		s->redialling = true;
		uv_close((uv_handle_t *)&s->tcp, xs_redial_cb);
		return;
	}
	if (xs_start_reading(s) < 0) {
		snprintf(s->dial->dial_why, sizeof(s->dial->dial_why), "cannot read from the socket");
		s->tcp_open = false;
		s->redialling = true;
		uv_close((uv_handle_t *)&s->tcp, xs_redial_cb);
		return;
	}
	s->state = XS_NEGOTIATING;
	s->t_connected = uv_now(s->gw->loop);
	xout_start(s);
}

int
xs_connect(struct xstream *s, const struct sockaddr_storage *addr)
{
	const struct conf *cf = s->gw->cf;
	int fam = addr->ss_family == AF_INET6 ? 1 : 0;
	int r;

	if ((r = uv_tcp_init(s->gw->loop, &s->tcp)) < 0)
		return r;
	s->tcp.data = s;
	s->tcp_open = true;
	s->state = XS_CONNECTING;
	s->dial->connect.data = s;
	conf_sockaddr_str(addr, s->peer, sizeof(s->peer));
	/* Connections to partners leave from the external address. */
	if ((cf->has_out[SIDE_EXTERNAL][fam] && (r = uv_tcp_bind(&s->tcp,
	    (const struct sockaddr *)&cf->out_addr[SIDE_EXTERNAL][fam], 0)) < 0) ||
	    (r = uv_tcp_connect(&s->dial->connect, &s->tcp, (const struct sockaddr *)addr,
	    xs_connect_cb)) < 0) {
		/* As a failed connection: its socket closes, then the next. */
		snprintf(s->dial->dial_why, sizeof(s->dial->dial_why), "%s", uv_strerror(r));
		s->tcp_open = false;
		s->redialling = true;
		uv_close((uv_handle_t *)&s->tcp, xs_redial_cb);
	}
	return 0;
}
