/* transport.c: connections over libuv (TLS or lab TCP): a connection's life
 * cycle and timers (handshake, idle, incomplete message, linger), the
 * process-wide and per-worker parts, lookup by id.  Listening, accepting and
 * the connection limits are in tp_accept.c, reading and writing in tp_io.c,
 * dialling in tp_dial.c. */
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

/* "peer sip.fabrikam.test 127.0.0.20:5061": the context ending log lines. */
const char *
tp__conn_ctx(const struct conn *c, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN + 8];

	conf_sockaddr_str(&c->info.peer, a, sizeof(a));
	if (c->fqdn)
		snprintf(buf, len, "peer %s %s", c->fqdn, a);
	else
		snprintf(buf, len, "peer %s", a);
	return buf;
}

bool
tp__addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	return conf_sockaddr_same_ip(a, b) && conf_sockaddr_port(a) == conf_sockaddr_port(b);
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
	t->workers[idx] = tw;
	if (atomic_load(&t->nworkers) < idx + 1)
		atomic_store(&t->nworkers, idx + 1);
	tw->cbs = *cbs;
	tw->conf = t->conf;
	/* Connection ids outlive the process inside Record-Route tokens: start
	 * each run at a random point so a token from an earlier run does not
	 * name a connection of this one. */
	if (getrandom(&tw->next_seq, sizeof(tw->next_seq), 0) != (ssize_t)sizeof(tw->next_seq))
		tw->next_seq = (uint64_t)uv_hrtime();
	tw->next_seq = (tw->next_seq & 0x00ffffff00000000ull) | 1;
	if (tp__flush_init(tw) < 0) {
		free(tw->ht);
		free(tw);
		return -ENOMEM;
	}
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
	tw->t->workers[tw->idx] = NULL;
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

void
tp__ht_insert(struct tp_worker *tw, struct conn *c)
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

void
transport_worker_trace(struct tp_worker *tw, bool on)
{
	tw->tracing = on && tw->cbs.trace_cb != NULL;
}

void
transport_worker_set_conf(struct tp_worker *tw, const struct transport_conf *tc,
    struct tls_ctx *mutual, struct tls_ctx *plain)
{
	tw->conf = *tc;
	if (tw->conf.max_message_size == 0)
		tw->conf.max_message_size = 65536;
	tp__listeners_set_tls(tw, mutual, plain);
}

void
transport_worker_each_conn(struct tp_worker *tw, void (*fn)(const struct conn_stat *cs, void *arg),
    void *arg)
{
	uint64_t now = uv_now(tw->loop);

	for (struct conn *c = tw->conns; c; c = c->next) {
		struct conn_stat cs = { 0 };

		if (c->state != CS_OPEN)
			continue;
		cs.info = &c->info;
		if (c->tls) {
			cs.tls_version = tls_sess_version(c->tls);
			cs.tls_cipher = tls_sess_cipher(c->tls);
		}
		cs.age_ms = now - c->created_at;
		cs.idle_ms = now > c->last_io ? now - c->last_io : 0;
		cs.bytes_in = c->bytes_in;
		cs.bytes_out = c->bytes_out;
		cs.messages_in = c->msgs_in;
		cs.messages_out = c->msgs_out;
		fn(&cs, arg);
	}
}

/* --- connection lifecycle --- */

struct conn *
tp__conn_alloc(struct tp_worker *tw, enum side side, enum tp_kind kind, bool outbound)
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
	c->last_io = c->progress_at = c->created_at = uv_now(tw->loop);
	framer_init(&c->fr, tw->conf.max_message_size);
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
	if (c->counted_inbound) {
		tp__limits_release(c->t, &c->info.peer);
		atomic_fetch_sub(&tw->nin, 1);
	}
	if (c->counted_open)
		STAT_DEC(c->t, open_connections);
	if (c->established && tw->cbs.stats)
		stats_gauge_dec(&tw->cbs.stats->connections[c->info.side]);
	/* A partial message at close or EOF is dropped (RFC 3261 §18.3). */
	framer_clear(&c->fr);
	if (c->established && tw->cbs.closed_cb)
		tw->cbs.closed_cb(c, tw->cbs.ud);
	conn_unref(c);
}

/* Close now, dropping queued writes.  Callers deal with a pending dial first. */
void
tp__conn_abort(struct conn *c)
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
	tp__conn_abort(c);
}

/* The write queue is empty: send FIN after it, then close. */
void
tp__conn_flushed(struct conn *c)
{
	int r;

	if (c->state != CS_CLOSING || c->shutdown_started)
		return;
	c->shutdown_started = true;
	if ((r = uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, conn_shutdown_cb)) < 0)
		tp__conn_abort(c);
}

void
conn_close(struct conn *c)
{
	char ctx[320];

	if (c->state != CS_OPEN) {
		if (c->state < CS_OPEN) {
			if (c->dial)
				tp__dial_fail(c, TP_ECLOSED, "closed while connecting");
			else
				tp__conn_abort(c);
		}
		return;
	}
	log_debug("connection %016llx closing, %s", (unsigned long long)c->info.id,
	    tp__conn_ctx(c, ctx, sizeof(ctx)));
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
			(void)tp__conn_write_bytes(c, buf, n, true);
		if (c->state != CS_CLOSING)
			return;
	}
	/* A peer that never reads would keep us waiting for ever. */
	tp__conn_arm_timer(c);
	if (c->wq_bytes == 0)
		tp__conn_flushed(c);
}

/* --- timers --- */

static void
conn_timer_cb(uv_timer_t *h)
{
	struct conn *c = h->data;
	uint64_t now = uv_now(c->tw->loop);
	const struct transport_conf *tc = &c->tw->conf;
	char ctx[320];

	switch (c->state) {
	case CS_CONNECTING:
		tp__dial_fail(c, TP_ETIMEDOUT, "connect timed out");
		return;
	case CS_HANDSHAKE:
		STAT_INC(c->t, tls_failures);
		tp__tls_failed(c, TLS_FAIL_NONE);
		if (c->dial) {
			tp__dial_fail(c, TP_ETIMEDOUT, "TLS handshake timed out");
		} else {
			log_info("TLS handshake timed out, %s", tp__conn_ctx(c, ctx, sizeof(ctx)));
			tp__conn_abort(c);
		}
		return;
	case CS_OPEN:
		if (c->draining) {
			if (now >= c->drain_since + TP_DRAIN_MS)
				conn_close(c);
			else
				tp__conn_arm_timer(c);
			return;
		}
		if (tc->incomplete_timeout_ms && c->partial_since &&
		    now >= c->partial_since + tc->incomplete_timeout_ms) {
			log_info("incomplete message for %u ms, closing, %s",
			    tc->incomplete_timeout_ms, tp__conn_ctx(c, ctx, sizeof(ctx)));
			STAT_INC(c->t, framing_errors);
			tp__conn_abort(c);
			return;
		}
		if (tc->idle_timeout_ms && now >= c->last_io + tc->idle_timeout_ms) {
			log_debug("idle for %u ms, closing, %s", tc->idle_timeout_ms,
			    tp__conn_ctx(c, ctx, sizeof(ctx)));
			conn_close(c);
			return;
		}
		tp__conn_arm_timer(c);
		return;
	case CS_CLOSING:
		log_debug("writes not flushed in %u ms, closing, %s", TP_LINGER_MS,
		    tp__conn_ctx(c, ctx, sizeof(ctx)));
		tp__conn_abort(c);
		return;
	case CS_CLOSED:
		return;
	}
}

/* Arm the one timer for the earliest deadline of the current state.  Reads
 * only note the time; the timer re-arms itself when it fires early. */
void
tp__conn_arm_timer(struct conn *c)
{
	const struct transport_conf *tc = &c->tw->conf;
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

void
transport_worker_shutdown(struct tp_worker *tw)
{
	struct conn *c, *next;

	tw->shutting_down = true;
	tp__flush_close(tw);
	tp__listeners_close(tw);
	while (tw->dials)
		tp__dial_fail(tw->dials->c, TP_ECLOSED, "shutting down");
	/* Closing only changes states; the list loses members in close callbacks. */
	for (c = tw->conns; c; c = next) {
		next = c->next;
		if (c->state == CS_OPEN)
			conn_close(c);
		else if (c->state < CS_OPEN)
			tp__conn_abort(c);
	}
}

