/* transport.c: listeners and connections over libuv (TLS or lab TCP), SIP stream
 * framing (RFC 3261 §18.3), CRLF keep-alive (RFC 5626 §3.5.1), limits, timeouts
 * and outbound connection reuse. */
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

#define STAT_INC(t, f)  atomic_fetch_add_explicit(&(t)->f, 1, memory_order_relaxed)
#define STAT_DEC(t, f)  atomic_fetch_sub_explicit(&(t)->f, 1, memory_order_relaxed)
#define STAT_GET(t, f)  atomic_load_explicit(&(t)->f, memory_order_relaxed)

static void conn_abort(struct conn *c);
static void conn_arm_timer(struct conn *c);
static int conn_write_bytes(struct conn *c, char *buf, size_t len, bool owned);
static void dial_fail(struct conn *c, int status, const char *detail);
static void dial_succeed(struct conn *c);

const char *
transport_strerror(int status)
{
	switch (status) {
	case 0:
		return "success";
	case TP_ETLS:
		return "TLS handshake failed";
	case TP_ECERTNAME:
		return "peer certificate does not name the host dialled";
	case TP_ETIMEDOUT:
		return "timed out";
	case TP_ELIMIT:
		return "connection limit reached";
	case TP_ECLOSED:
		return "connection closed";
	default:
		return uv_strerror(status);
	}
}

/* --- small helpers --- */

static const char *
tp_addr_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
		snprintf(buf, len, "%s:%u", host, port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
		snprintf(buf, len, "[%s]:%u", host, port);
	} else {
		snprintf(buf, len, "?");
	}
	return buf;
}

/* "peer sip.fabrikam.test 127.0.0.20:5061": the context ending log lines. */
static const char *
conn_ctx(const struct conn *c, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN + 8];

	tp_addr_str(&c->info.peer, a, sizeof(a));
	if (c->fqdn)
		snprintf(buf, len, "peer %s %s", c->fqdn, a);
	else
		snprintf(buf, len, "peer %s", a);
	return buf;
}

/* Address bytes of ss (no port); returns their length, 0 if unknown. */
static size_t
tp_addr_bytes(const struct sockaddr_storage *ss, const unsigned char **p)
{
	if (ss->ss_family == AF_INET) {
		*p = (const unsigned char *)&((const struct sockaddr_in *)ss)->sin_addr;
		return 4;
	}
	if (ss->ss_family == AF_INET6) {
		*p = (const unsigned char *)&((const struct sockaddr_in6 *)ss)->sin6_addr;
		return 16;
	}
	return 0;
}

static bool
tp_addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	const unsigned char *pa = NULL, *pb = NULL;
	size_t la = tp_addr_bytes(a, &pa), lb = tp_addr_bytes(b, &pb);

	return la != 0 && la == lb && a->ss_family == b->ss_family &&
	    memcmp(pa, pb, la) == 0 && conf_sockaddr_port(a) == conf_sockaddr_port(b);
}

static socklen_t
tp_addr_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

/* --- limits (shared by all workers) --- */

static unsigned
tp_addr_hash(int family, const unsigned char *p, size_t len)
{
	uint32_t h = 2166136261u ^ (uint32_t)family;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619u;
	return h % TP_ADDR_BUCKETS;
}

/* Take an inbound slot for peer; false when a limit is reached. */
static bool
tp_limits_take(struct transport *t, const struct sockaddr_storage *peer)
{
	const unsigned char *p = NULL;
	size_t len = tp_addr_bytes(peer, &p);
	struct tp_addr_slot *s;
	unsigned b, n = atomic_fetch_add(&t->inbound, 1) + 1;
	bool ok = true;

	if (t->conf.max_connections && n > t->conf.max_connections) {
		atomic_fetch_sub(&t->inbound, 1);
		return false;
	}
	if (len == 0)
		return true;
	b = tp_addr_hash(peer->ss_family, p, len);
	pthread_mutex_lock(&t->addr_mu);
	for (s = t->addr_tab[b]; s; s = s->next)
		if (s->family == peer->ss_family && memcmp(s->addr, p, len) == 0)
			break;
	if (s == NULL) {
		/* Slots exist only while they count something. */
		if ((s = calloc(1, sizeof(*s))) != NULL) {
			s->family = peer->ss_family;
			memcpy(s->addr, p, len);
			s->next = t->addr_tab[b];
			t->addr_tab[b] = s;
		}
	}
	if (s == NULL || (t->conf.max_connections_per_address &&
	    s->count >= t->conf.max_connections_per_address))
		ok = false;
	else
		s->count++;
	pthread_mutex_unlock(&t->addr_mu);
	if (!ok)
		atomic_fetch_sub(&t->inbound, 1);
	return ok;
}

static void
tp_limits_release(struct transport *t, const struct sockaddr_storage *peer)
{
	const unsigned char *p = NULL;
	size_t len = tp_addr_bytes(peer, &p);
	struct tp_addr_slot **sp, *s;

	atomic_fetch_sub(&t->inbound, 1);
	if (len == 0)
		return;
	pthread_mutex_lock(&t->addr_mu);
	for (sp = &t->addr_tab[tp_addr_hash(peer->ss_family, p, len)]; (s = *sp); sp = &s->next)
		if (s->family == peer->ss_family && memcmp(s->addr, p, len) == 0) {
			if (--s->count == 0) {
				*sp = s->next;
				free(s);
			}
			break;
		}
	pthread_mutex_unlock(&t->addr_mu);
}

/* --- process-wide part --- */

int
transport_new(const struct transport_conf *tc, struct transport **out)
{
	struct transport *t;

	if (tc == NULL || out == NULL)
		return -EINVAL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return -ENOMEM;
	t->conf = *tc;
	if (t->conf.max_message_size == 0)
		t->conf.max_message_size = 65536;
	if (pthread_mutex_init(&t->addr_mu, NULL) != 0) {
		free(t);
		return -ENOMEM;
	}
	*out = t;
	return 0;
}

void
transport_free(struct transport *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < TP_ADDR_BUCKETS; i++)
		while (t->addr_tab[i]) {
			struct tp_addr_slot *s = t->addr_tab[i];

			t->addr_tab[i] = s->next;
			free(s);
		}
	pthread_mutex_destroy(&t->addr_mu);
	free(t);
}

void
transport_stats_get(struct transport *t, struct transport_stats *out)
{
	out->accepted = STAT_GET(t, accepted);
	out->dialled = STAT_GET(t, dialled);
	out->refused_limit = STAT_GET(t, refused_limit);
	out->tls_failures = STAT_GET(t, tls_failures);
	out->framing_errors = STAT_GET(t, framing_errors);
	out->open_connections = STAT_GET(t, open_connections);
	out->messages_in = STAT_GET(t, messages_in);
	out->messages_out = STAT_GET(t, messages_out);
}

/* --- per worker --- */

int
transport_worker_new(struct transport *t, uv_loop_t *loop, unsigned idx,
    const struct transport_cbs *cbs, struct tp_worker **out)
{
	struct tp_worker *tw;

	if (t == NULL || loop == NULL || cbs == NULL || out == NULL || idx > 255)
		return -EINVAL;
	if ((tw = calloc(1, sizeof(*tw))) == NULL)
		return -ENOMEM;
	tw->htsize = 64;
	if ((tw->ht = calloc(tw->htsize, sizeof(*tw->ht))) == NULL) {
		free(tw);
		return -ENOMEM;
	}
	tw->t = t;
	tw->loop = loop;
	tw->idx = idx;
	tw->cbs = *cbs;
	/* Connection ids outlive the process inside Record-Route tokens: start
	 * each run at a random point so a token from an earlier run does not
	 * name a connection of this one. */
	if (getrandom(&tw->next_seq, sizeof(tw->next_seq), 0) != (ssize_t)sizeof(tw->next_seq))
		tw->next_seq = (uint64_t)uv_hrtime();
	tw->next_seq = (tw->next_seq & 0x00ffffff00000000ull) | 1;
	*out = tw;
	return 0;
}

void
transport_worker_free(struct tp_worker *tw)
{
	if (tw == NULL)
		return;
	/* Connections the core still references outlive the worker; they must
	 * not reach back into it (conn_unref frees without tw). */
	for (struct conn *c = tw->conns; c; c = c->next)
		c->tw = NULL;
	free(tw->ht);
	free(tw->wbuf);
	free(tw);
}

static size_t
tp_ht_slot(const struct tp_worker *tw, uint64_t id)
{
	return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 32) & (tw->htsize - 1);
}

static void
tp_ht_grow(struct tp_worker *tw)
{
	size_t oldsize = tw->htsize;
	struct conn **old = tw->ht, **nt = calloc(oldsize * 2, sizeof(*nt));

	if (nt == NULL)
		return;         /* keep the longer chains */
	tw->ht = nt;
	tw->htsize = oldsize * 2;
	for (size_t i = 0; i < oldsize; i++)
		while (old[i]) {
			struct conn *c = old[i];
			size_t s = tp_ht_slot(tw, c->info.id);

			old[i] = c->hnext;
			c->hnext = nt[s];
			nt[s] = c;
		}
	free(old);
}

static void
tp_ht_insert(struct tp_worker *tw, struct conn *c)
{
	size_t s;

	if (tw->htcount + 1 > tw->htsize * 2)
		tp_ht_grow(tw);
	s = tp_ht_slot(tw, c->info.id);
	c->hnext = tw->ht[s];
	tw->ht[s] = c;
	tw->htcount++;
	c->in_ht = true;
}

static void
tp_ht_remove(struct tp_worker *tw, struct conn *c)
{
	struct conn **cp;

	if (!c->in_ht)
		return;
	for (cp = &tw->ht[tp_ht_slot(tw, c->info.id)]; *cp; cp = &(*cp)->hnext)
		if (*cp == c) {
			*cp = c->hnext;
			tw->htcount--;
			break;
		}
	c->in_ht = false;
}

struct conn *
transport_conn_find(struct tp_worker *tw, uint64_t id)
{
	if (tw == NULL || CONN_ID_WORKER(id) != tw->idx)
		return NULL;
	for (struct conn *c = tw->ht[tp_ht_slot(tw, id)]; c; c = c->hnext)
		if (c->info.id == id)
			return c->state == CS_OPEN ? c : NULL;
	return NULL;
}

const struct conn_info *
conn_info(const struct conn *c)
{
	return &c->info;
}

struct tp_worker *
conn_worker(const struct conn *c)
{
	return c->tw;
}

int
conn_peer_matches(const struct conn *c, const char *fqdn)
{
	return c->tls != NULL && c->established && tls_sess_peer_matches(c->tls, fqdn);
}

void **
conn_user(struct conn *c)
{
	return c->user;
}

bool
conn_is_open(const struct conn *c)
{
	return c->state == CS_OPEN;
}

/* --- connection lifecycle --- */

static struct conn *
conn_alloc(struct tp_worker *tw, enum side side, enum tp_kind kind, bool outbound)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	if (uv_tcp_init(tw->loop, &c->tcp) != 0) {
		free(c);
		return NULL;
	}
	uv_timer_init(tw->loop, &c->timer);
	c->tcp.data = c;
	c->timer.data = c;
	c->connect_req.data = c;
	c->shutdown_req.data = c;
	c->handles_open = 2;
	c->tw = tw;
	c->t = tw->t;
	c->refs = 1;            /* the transport's, dropped after the handles close */
	c->info.id = ((uint64_t)tw->idx << 56) | (tw->next_seq++ & 0x00ffffffffffffffull);
	c->info.side = side;
	c->info.kind = kind;
	c->info.outbound = outbound;
	c->last_io = c->progress_at = uv_now(tw->loop);
	framer_init(&c->fr, tw->t->conf.max_message_size);
	c->next = tw->conns;
	if (tw->conns)
		tw->conns->prev = c;
	tw->conns = c;
	return c;
}

static void
conn_free(struct conn *c)
{
	framer_clear(&c->fr);
	tls_sess_free(c->tls);
	free(c->fqdn);
	free(c);
}

void
conn_ref(struct conn *c)
{
	c->refs++;
}

void
conn_unref(struct conn *c)
{
	if (c == NULL)
		return;
	if (--c->refs == 0) {
		conn_free(c);
		return;
	}
	if (c->refs == 1 && c->draining && c->state == CS_OPEN)
		conn_close(c);
}

static void
conn_outbound_unlink(struct conn *c)
{
	struct tp_worker *tw = c->tw;

	if (c->oprev)
		c->oprev->onext = c->onext;
	else if (tw->outbound == c)
		tw->outbound = c->onext;
	else
		return;                 /* not on the list */
	if (c->onext)
		c->onext->oprev = c->oprev;
	c->oprev = c->onext = NULL;
}

/* Both handles are closed: nothing of libuv refers to c any more. */
static void
conn_handle_closed(uv_handle_t *h)
{
	struct conn *c = h->data;
	struct tp_worker *tw = c->tw;

	if (--c->handles_open > 0)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		tw->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	if (c->counted_inbound)
		tp_limits_release(c->t, &c->info.peer);
	if (c->counted_open)
		STAT_DEC(c->t, open_connections);
	/* A partial message at close or EOF is dropped (RFC 3261 §18.3). */
	framer_clear(&c->fr);
	if (c->established && tw->cbs.closed_cb)
		tw->cbs.closed_cb(c, tw->cbs.ud);
	conn_unref(c);
}

/* Close now, dropping queued writes.  Callers deal with a pending dial first. */
static void
conn_abort(struct conn *c)
{
	if (c->state == CS_CLOSED)
		return;
	c->state = CS_CLOSED;
	tp_ht_remove(c->tw, c);
	conn_outbound_unlink(c);
	uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
	uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
}

static void
conn_shutdown_cb(uv_shutdown_t *req, int status)
{
	struct conn *c = req->data;

	/* After a framing error the peer may still be sending what we refused:
	 * closing now would reset the connection and could destroy our answer
	 * before the peer reads it.  Read and discard until its FIN (or the
	 * linger timer). */
	if (status == 0 && c->discard && !c->peer_eof)
		return;
	conn_abort(c);
}

/* The write queue is empty: send FIN after it, then close. */
static void
conn_flushed(struct conn *c)
{
	int r;

	if (c->state != CS_CLOSING || c->shutdown_started)
		return;
	c->shutdown_started = true;
	if ((r = uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, conn_shutdown_cb)) < 0)
		conn_abort(c);
}

void
conn_close(struct conn *c)
{
	char ctx[320];

	if (c->state != CS_OPEN) {
		if (c->state < CS_OPEN) {
			if (c->dial)
				dial_fail(c, TP_ECLOSED, "closed while connecting");
			else
				conn_abort(c);
		}
		return;
	}
	log_debug("connection %016llx closing, %s", (unsigned long long)c->info.id,
	    conn_ctx(c, ctx, sizeof(ctx)));
	c->state = CS_CLOSING;
	tp_ht_remove(c->tw, c);
	conn_outbound_unlink(c);
	if (!c->discard)
		uv_read_stop((uv_stream_t *)&c->tcp);
	if (c->tls) {
		char *buf;
		size_t n;

		tls_sess_close_notify(c->tls);
		if ((n = tls_sess_output(c->tls, &buf)) > 0)
			(void)conn_write_bytes(c, buf, n, true);
		if (c->state != CS_CLOSING)
			return;
	}
	/* A peer that never reads would keep us waiting for ever. */
	conn_arm_timer(c);
	if (c->wq_bytes == 0)
		conn_flushed(c);
}

/* --- timers --- */

static void
conn_timer_cb(uv_timer_t *h)
{
	struct conn *c = h->data;
	uint64_t now = uv_now(c->tw->loop);
	const struct transport_conf *tc = &c->t->conf;
	char ctx[320];

	switch (c->state) {
	case CS_CONNECTING:
		dial_fail(c, TP_ETIMEDOUT, "connect timed out");
		return;
	case CS_HANDSHAKE:
		STAT_INC(c->t, tls_failures);
		if (c->dial) {
			dial_fail(c, TP_ETIMEDOUT, "TLS handshake timed out");
		} else {
			log_info("TLS handshake timed out, %s", conn_ctx(c, ctx, sizeof(ctx)));
			conn_abort(c);
		}
		return;
	case CS_OPEN:
		if (c->draining) {
			if (now >= c->drain_since + TP_DRAIN_MS)
				conn_close(c);
			else
				conn_arm_timer(c);
			return;
		}
		if (tc->incomplete_timeout_ms && c->partial_since &&
		    now >= c->partial_since + tc->incomplete_timeout_ms) {
			log_info("incomplete message for %u ms, closing, %s",
			    tc->incomplete_timeout_ms, conn_ctx(c, ctx, sizeof(ctx)));
			STAT_INC(c->t, framing_errors);
			conn_abort(c);
			return;
		}
		if (tc->idle_timeout_ms && now >= c->last_io + tc->idle_timeout_ms) {
			log_debug("idle for %u ms, closing, %s", tc->idle_timeout_ms,
			    conn_ctx(c, ctx, sizeof(ctx)));
			conn_close(c);
			return;
		}
		conn_arm_timer(c);
		return;
	case CS_CLOSING:
		log_debug("writes not flushed in %u ms, closing, %s", TP_LINGER_MS,
		    conn_ctx(c, ctx, sizeof(ctx)));
		conn_abort(c);
		return;
	case CS_CLOSED:
		return;
	}
}

/* Arm the one timer for the earliest deadline of the current state.  Reads
 * only note the time; the timer re-arms itself when it fires early. */
static void
conn_arm_timer(struct conn *c)
{
	const struct transport_conf *tc = &c->t->conf;
	uint64_t now = uv_now(c->tw->loop), due = 0;

	switch (c->state) {
	case CS_CONNECTING:
		due = tc->connect_timeout_ms ? now + tc->connect_timeout_ms : 0;
		break;
	case CS_HANDSHAKE:
		due = tc->handshake_timeout_ms ? now + tc->handshake_timeout_ms : 0;
		break;
	case CS_OPEN:
		if (c->draining) {
			due = c->drain_since + TP_DRAIN_MS;
			break;
		}
		if (tc->idle_timeout_ms)
			due = c->last_io + tc->idle_timeout_ms;
		if (tc->incomplete_timeout_ms && c->partial_since &&
		    (due == 0 || c->partial_since + tc->incomplete_timeout_ms < due))
			due = c->partial_since + tc->incomplete_timeout_ms;
		break;
	case CS_CLOSING:
		due = now + TP_LINGER_MS;
		break;
	case CS_CLOSED:
		return;
	}
	if (due == 0) {
		uv_timer_stop(&c->timer);
		return;
	}
	uv_timer_start(&c->timer, conn_timer_cb, due > now ? due - now : 0, 0);
}

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
			    conn_ctx(c, ctx, sizeof(ctx)));
			if (c->dial)
				dial_fail(c, status, uv_strerror(status));
			else
				conn_abort(c);
		}
		return;
	}
	c->last_io = uv_now(c->tw->loop);
	if (c->wq_bytes == 0)
		conn_flushed(c);
}

/* Account for a queued write; drop a peer that does not read. */
static int
conn_queued(struct conn *c, size_t len)
{
	char ctx[320];

	c->wq_bytes += len;
	if (c->wq_bytes > TP_MAX_BACKLOG) {
		log_warnx("%s: write backlog over %u bytes, closing, %s", __func__,
		    TP_MAX_BACKLOG, conn_ctx(c, ctx, sizeof(ctx)));
		conn_abort(c);
		return UV_ENOBUFS;
	}
	return 0;
}

/* Write len bytes of buf: at once if the socket takes them, else queued.  If
 * owned, buf is malloc()ed and this takes it over. */
static int
conn_write_bytes(struct conn *c, char *buf, size_t len, bool owned)
{
	uv_buf_t b = uv_buf_init(buf, (unsigned)len);
	struct tp_write *w;
	int r = 0;

	if (c->state == CS_CLOSED) {
		r = TP_ECLOSED;
		goto out;
	}
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
static int
conn_tls_flush(struct conn *c)
{
	char *buf;
	size_t n = tls_sess_output(c->tls, &buf);

	return n ? conn_write_bytes(c, buf, n, true) : 0;
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
		conn_abort(c);
		return TP_ETLS;
	}
	conn_wbuf_trim(tw);
	return conn_tls_flush(c);
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
			r = conn_write_bytes(c, c->tw->wbuf, total, false);
		conn_wbuf_trim(c->tw);
	} else {
		r = conn_send_tcp(c, msg, iov, n, total);
	}
	if (iov != stackiov)
		free(iov);
	if (r == 0)
		STAT_INC(c->t, messages_out);
	return r;
}

/* RFC 5626 §3.5.1: the pong for a CRLFCRLF ping. */
static void
conn_send_pong(struct conn *c)
{
	static char crlf[] = "\r\n";

	if (c->tls) {
		if (tls_sess_write(c->tls, crlf, 2) == 0)
			(void)conn_tls_flush(c);
	} else {
		(void)conn_write_bytes(c, crlf, 2, false);
	}
}

/* --- reading and framing --- */

static void
conn_deliver(struct conn *c, msg_t *msg, int status)
{
	struct tp_worker *tw = c->tw;

	if (status == 0)
		STAT_INC(c->t, messages_in);
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
	    conn_ctx(c, ctx, sizeof(ctx)));
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
	conn_arm_timer(c);
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
		if (c->t->conf.incomplete_timeout_ms)
			conn_arm_timer(c);
	}
}

static void
conn_established(struct conn *c)
{
	struct tp_worker *tw = c->tw;
	char ctx[320];

	c->state = CS_OPEN;
	c->established = true;
	c->last_io = uv_now(tw->loop);
	tp_ht_insert(tw, c);
	if (c->tls)
		tls_sess_peer_names(c->tls, &c->info.peer_names, &c->info.npeer_names);
	if (c->info.outbound) {
		c->onext = tw->outbound;
		if (tw->outbound)
			tw->outbound->oprev = c;
		tw->outbound = c;
	}
	conn_arm_timer(c);
	if (log_would(LOG_LVL_DEBUG))
		log_debug("connection %016llx %s %s%s%s%s%s, %s", (unsigned long long)c->info.id,
		    c->info.outbound ? "dialled" : "accepted",
		    c->tls ? tls_sess_version(c->tls) : "TCP", c->tls ? " " : "",
		    c->tls ? tls_sess_cipher(c->tls) : "",
		    c->info.npeer_names ? ", certificate names " : "",
		    c->info.npeer_names ? c->info.peer_names[0] : "", conn_ctx(c, ctx, sizeof(ctx)));
	if (c->dial)
		dial_succeed(c);
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
		(void)conn_tls_flush(c);
		if (h < 0) {
			STAT_INC(c->t, tls_failures);
			if (c->dial) {
				dial_fail(c, h == -EACCES ? TP_ECERTNAME : TP_ETLS, detail);
			} else {
				log_warnx("%s: TLS handshake failed: %s, %s", __func__, detail,
				    conn_ctx(c, ctx, sizeof(ctx)));
				conn_abort(c);
			}
			return;
		}
		if (h == 0)
			return;
		conn_established(c);
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
			log_debug("TLS close_notify, %s", conn_ctx(c, ctx, sizeof(ctx)));
			conn_close(c);
		} else {
			/* On TLS 1.3 a server's refusal of our certificate lands here. */
			STAT_INC(c->t, tls_failures);
			log_warnx("%s: TLS error: %s, %s", __func__, detail,
			    conn_ctx(c, ctx, sizeof(ctx)));
			(void)conn_tls_flush(c);
			conn_abort(c);
		}
		break;
	}
	tls_sess_input(c->tls, NULL, 0);
	if (c->state == CS_OPEN || c->state == CS_CLOSING)
		(void)conn_tls_flush(c);
}

static void
conn_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct conn *c = h->data;

	*buf = uv_buf_init(c->tw->rbuf, sizeof(c->tw->rbuf));
}

static void
conn_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
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
				conn_abort(c);
		}
		return;
	}
	if (c->state >= CS_CLOSING)
		return;
	if (nread < 0) {
		framer_clear(&c->fr);
		c->partial_since = 0;
		if (c->dial) {
			dial_fail(c, nread == UV_EOF ? TP_ETLS : (int)nread, nread == UV_EOF ?
			    "connection closed during the TLS handshake" : uv_strerror((int)nread));
			return;
		}
		if (c->state == CS_HANDSHAKE) {
			log_debug("closed during the TLS handshake, %s",
			    conn_ctx(c, ctx, sizeof(ctx)));
			conn_abort(c);
		} else if (nread == UV_EOF) {
			log_debug("EOF, %s", conn_ctx(c, ctx, sizeof(ctx)));
			conn_close(c);
		} else {
			log_debug("read error: %s, %s", uv_strerror((int)nread),
			    conn_ctx(c, ctx, sizeof(ctx)));
			conn_abort(c);
		}
		return;
	}
	c->last_io = uv_now(c->tw->loop);
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

/* --- listening and accepting --- */

static void
tp_listener_closed(uv_handle_t *h)
{
	free(h->data);
}

static void
tp_connection_cb(uv_stream_t *server, int status)
{
	struct tp_listener *l = server->data;
	struct tp_worker *tw = l->tw;
	struct transport *t = tw->t;
	struct conn *c;
	int len, r;
	char ctx[320];

	if (status < 0) {
		log_warnx("%s: accept: %s", __func__, uv_strerror(status));
		return;
	}
	if ((c = conn_alloc(tw, l->lc.side, l->lc.kind, false)) == NULL) {
		log_warnx("%s: out of memory", __func__);
		return;
	}
	if ((r = uv_accept(server, (uv_stream_t *)&c->tcp)) < 0) {
		conn_abort(c);
		return;
	}
	len = sizeof(c->info.peer);
	uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&c->info.peer, &len);
	len = sizeof(c->info.local);
	uv_tcp_getsockname(&c->tcp, (struct sockaddr *)&c->info.local, &len);
	/* Accept then close: leaving it in the backlog would only delay the
	 * refusal and keep the listener readable. */
	if (tw->shutting_down || !tp_limits_take(t, &c->info.peer)) {
		STAT_INC(t, refused_limit);
		log_debug("connection limit reached, refusing, %s", conn_ctx(c, ctx, sizeof(ctx)));
		conn_abort(c);
		return;
	}
	c->counted_inbound = true;
	c->counted_open = true;
	STAT_INC(t, accepted);
	STAT_INC(t, open_connections);
	uv_tcp_nodelay(&c->tcp, 1);
	if (l->lc.kind == TP_TLS) {
		if ((r = tls_sess_new(l->tls, NULL, l->lc.mutual_tls, &c->tls)) < 0) {
			log_warnx("%s: TLS session: %s, %s", __func__, strerror(-r),
			    conn_ctx(c, ctx, sizeof(ctx)));
			conn_abort(c);
			return;
		}
		c->state = CS_HANDSHAKE;
		conn_arm_timer(c);
	} else {
		conn_established(c);
	}
	if ((r = uv_read_start((uv_stream_t *)&c->tcp, conn_alloc_cb, conn_read_cb)) < 0)
		conn_close(c);
}

int
transport_worker_listen(struct tp_worker *tw, const struct listener_conf *lc,
    struct tls_ctx *tls)
{
	struct tp_listener *l = NULL;
	int fd = -1, one = 1, r;

	if (tw == NULL || lc == NULL || (lc->kind == TP_TLS && tls == NULL))
		return -EINVAL;
	if (lc->addr.ss_family != AF_INET && lc->addr.ss_family != AF_INET6)
		return -EAFNOSUPPORT;
	/* The socket is made here, not by uv_tcp_bind, because every worker
	 * must set SO_REUSEPORT before bind to share the port. */
	if ((fd = socket(lc->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    (lc->addr.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(fd, (const struct sockaddr *)&lc->addr, tp_addr_len(&lc->addr)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		close(fd);
		return -ENOMEM;
	}
	l->tw = tw;
	l->lc = *lc;
	l->tls = tls;
	if ((r = uv_tcp_init(tw->loop, &l->tcp)) < 0) {
		close(fd);
		free(l);
		return r;
	}
	l->tcp.data = l;
	if ((r = uv_tcp_open(&l->tcp, fd)) < 0) {
		close(fd);
		uv_close((uv_handle_t *)&l->tcp, tp_listener_closed);
		return r;
	}
	if ((r = uv_listen((uv_stream_t *)&l->tcp, 511, tp_connection_cb)) < 0) {
		uv_close((uv_handle_t *)&l->tcp, tp_listener_closed);
		return r;
	}
	l->next = tw->listeners;
	tw->listeners = l;
	return 0;
}

void
transport_worker_shutdown(struct tp_worker *tw)
{
	struct tp_listener *l;
	struct conn *c, *next;

	tw->shutting_down = true;
	while ((l = tw->listeners) != NULL) {
		tw->listeners = l->next;
		uv_close((uv_handle_t *)&l->tcp, tp_listener_closed);
	}
	while (tw->dials)
		dial_fail(tw->dials->c, TP_ECLOSED, "shutting down");
	/* Closing only changes states; the list loses members in close callbacks. */
	for (c = tw->conns; c; c = next) {
		next = c->next;
		if (c->state == CS_OPEN)
			conn_close(c);
		else if (c->state < CS_OPEN)
			conn_abort(c);
	}
}

/* --- dialling --- */

static bool
dial_key_match(const struct conn *c, const struct hop *hop, enum side side,
    unsigned short port)
{
	if (c->fqdn == NULL || c->info.kind != hop->kind || c->info.side != side ||
	    strcasecmp(c->fqdn, hop->fqdn) != 0)
		return false;
	if (hop->has_addr)
		return tp_addr_equal(&c->info.peer, &hop->addr);
	return conf_sockaddr_port(&c->info.peer) == port;
}

static bool
dial_pending_match(const struct dial_pending *p, const struct hop *hop, enum side side,
    unsigned short port)
{
	if (p->kind != hop->kind || p->side != side || p->has_addr != hop->has_addr ||
	    p->port != port || strcasecmp(p->fqdn, hop->fqdn) != 0)
		return false;
	return !hop->has_addr || tp_addr_equal(&p->addr, &hop->addr);
}

static void
dial_unlink(struct dial_pending *p)
{
	struct dial_pending **pp;

	for (pp = &p->tw->dials; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	p->next = NULL;
	if (p->c)
		p->c->dial = NULL;
	p->c = NULL;
}

static void
dial_pending_free(struct dial_pending *p)
{
	while (p->reqs) {
		struct dial_req *r = p->reqs;

		p->reqs = r->next;
		free(r);
	}
	free(p->fqdn);
	free(p);
}

/* Hand the next waiting request its callback; false when none is left. */
static bool
dial_deliver_one(struct dial_pending *p, struct conn *c, int status, const char *detail)
{
	struct dial_req *r = p->reqs;
	tp_dial_cb cb;
	void *arg;

	if (r == NULL)
		return false;
	p->reqs = r->next;
	if (p->reqs)
		p->reqs->prev = NULL;
	cb = r->cb;
	arg = r->arg;
	free(r);
	cb(c, status, detail, arg);
	return true;
}

static void
dial_fail(struct conn *c, int status, const char *detail)
{
	struct dial_pending *p = c->dial;
	char ctx[320];

	if (p == NULL) {
		conn_abort(c);
		return;
	}
	/* Info only: the core reports the failure with its own diagnostic. */
	log_info("cannot connect: %s%s%s, %s", transport_strerror(status),
	    detail && detail[0] ? ": " : "", detail ? detail : "", conn_ctx(c, ctx, sizeof(ctx)));
	/* Unlinked first so that a callback dialling the same hop starts afresh. */
	dial_unlink(p);
	conn_abort(c);
	p->delivering = true;
	while (dial_deliver_one(p, NULL, status, detail))
		;
	dial_pending_free(p);
}

static void
dial_succeed(struct conn *c)
{
	struct dial_pending *p = c->dial;

	dial_unlink(p);
	p->delivering = true;
	while (p->reqs) {
		/* A callback may close the connection for the ones after it. */
		if (c->state == CS_OPEN)
			dial_deliver_one(p, c, 0, NULL);
		else
			dial_deliver_one(p, NULL, TP_ECLOSED, "connection closed");
	}
	dial_pending_free(p);
}

static void
dial_connect_cb(uv_connect_t *req, int status)
{
	struct conn *c = req->data;
	int len, r;
	char detail[128];

	if (status == UV_ECANCELED || c->state != CS_CONNECTING)
		return;
	if (status < 0) {
		dial_fail(c, status, uv_strerror(status));
		return;
	}
	len = sizeof(c->info.local);
	uv_tcp_getsockname(&c->tcp, (struct sockaddr *)&c->info.local, &len);
	uv_tcp_nodelay(&c->tcp, 1);
	if ((r = uv_read_start((uv_stream_t *)&c->tcp, conn_alloc_cb, conn_read_cb)) < 0) {
		dial_fail(c, r, uv_strerror(r));
		return;
	}
	if (c->info.kind == TP_TCP) {
		conn_established(c);
		return;
	}
	if ((r = tls_sess_new(c->t->conf.client_tls, c->fqdn, false, &c->tls)) < 0) {
		dial_fail(c, TP_ETLS, strerror(-r));
		return;
	}
	c->state = CS_HANDSHAKE;
	conn_arm_timer(c);
	/* Produces the ClientHello. */
	if (tls_sess_handshake(c->tls, detail, sizeof(detail)) < 0) {
		dial_fail(c, TP_ETLS, detail);
		return;
	}
	(void)conn_tls_flush(c);
}

static int
dial_connect(struct conn *c, const struct sockaddr_storage *addr)
{
	const struct transport_conf *tc = &c->t->conf;
	int fam = addr->ss_family == AF_INET6 ? 1 : 0, r;

	c->info.peer = *addr;
	/* Leave from the side's own address (firewalls are written that way). */
	if (tc->has_src[c->info.side][fam] &&
	    (r = uv_tcp_bind(&c->tcp, (const struct sockaddr *)&tc->src[c->info.side][fam], 0)) < 0)
		return r;
	c->state = CS_CONNECTING;
	if ((r = uv_tcp_connect(&c->connect_req, &c->tcp, (const struct sockaddr *)addr,
	    dial_connect_cb)) < 0)
		return r;
	return 0;
}

int
transport_dial(struct tp_worker *tw, const struct hop *hop, enum side side,
    tp_dial_cb cb, void *arg, struct conn **conn_out, struct dial_req **req_out)
{
	struct transport *t;
	struct dial_pending *p = NULL;
	struct dial_req *rq = NULL;
	struct conn *c = NULL;
	unsigned short port;
	int r;

	if (tw == NULL || hop == NULL || cb == NULL || hop->fqdn[0] == '\0' || !hop->has_addr)
		return -EINVAL;
	t = tw->t;
	if (hop->kind == TP_TLS && t->conf.client_tls == NULL)
		return -EINVAL;
	if (tw->shutting_down)
		return TP_ECLOSED;
	if (hop->has_addr)
		port = conf_sockaddr_port(&hop->addr);
	else
		port = hop->port ? hop->port : (hop->kind == TP_TLS ? 5061 : 5060);

	for (c = tw->outbound; c; c = c->onext)
		if (c->state == CS_OPEN && dial_key_match(c, hop, side, port)) {
			if (conn_out)
				*conn_out = c;
			return 0;
		}
	if ((rq = calloc(1, sizeof(*rq))) == NULL)
		return -ENOMEM;
	rq->cb = cb;
	rq->arg = arg;
	for (p = tw->dials; p; p = p->next)
		if (dial_pending_match(p, hop, side, port)) {
			rq->p = p;
			rq->next = p->reqs;
			if (p->reqs)
				p->reqs->prev = rq;
			p->reqs = rq;
			if (req_out)
				*req_out = rq;
			return 1;
		}

	if ((p = calloc(1, sizeof(*p))) == NULL || (p->fqdn = strdup(hop->fqdn)) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	p->tw = tw;
	p->port = port;
	p->kind = hop->kind;
	p->side = side;
	p->has_addr = hop->has_addr;
	p->addr = hop->addr;
	if ((c = conn_alloc(tw, side, hop->kind, true)) == NULL ||
	    (c->fqdn = strdup(hop->fqdn)) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	c->info.dialled_fqdn = c->fqdn;
	if ((r = dial_connect(c, &hop->addr)) < 0)
		goto out;
	c->counted_open = true;
	STAT_INC(t, dialled);
	STAT_INC(t, open_connections);
	p->c = c;
	c->dial = p;
	conn_arm_timer(c);
	rq->p = p;
	p->reqs = rq;
	p->next = tw->dials;
	tw->dials = p;
	if (req_out)
		*req_out = rq;
	return 1;
out:
	if (c)
		conn_abort(c);
	if (p) {
		free(p->fqdn);
		free(p);
	}
	free(rq);
	return r;
}

void
transport_dial_cancel(struct dial_req *rq)
{
	struct dial_pending *p;

	if (rq == NULL)
		return;
	p = rq->p;
	if (rq->prev)
		rq->prev->next = rq->next;
	else
		p->reqs = rq->next;
	if (rq->next)
		rq->next->prev = rq->prev;
	free(rq);
	/* Nobody waits any more: do not finish setting up a connection that
	 * nobody would report or use. */
	if (p->reqs == NULL && !p->delivering) {
		struct conn *c = p->c;

		dial_unlink(p);
		if (c)
			conn_abort(c);
		dial_pending_free(p);
	}
}

uint64_t
transport_dial_progress(const struct dial_req *rq)
{
	return rq && rq->p && rq->p->c ? rq->p->c->progress_at : 0;
}
