/* tp_accept.c: the transport's listeners (one socket per worker and listener,
 * SO_REUSEPORT), accepting a connection, balancing inbound connections across
 * the workers, and the connection limits shared by all workers
 * (max-connections, max-connections-per-address). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sipedge/log.h"
#include "tp_private.h"

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
tp_limits_take(struct tp_worker *tw, const struct sockaddr_storage *peer)
{
	const unsigned char *p = NULL;
	size_t len = conf_sockaddr_bytes(peer, &p);
	struct transport *t = tw->t;
	struct tp_addr_slot *s;
	unsigned b, n = atomic_fetch_add(&t->inbound, 1) + 1;
	bool ok = true;

	if (tw->conf.max_connections && n > tw->conf.max_connections) {
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
	if (s == NULL || (tw->conf.max_connections_per_address &&
	    s->count >= tw->conf.max_connections_per_address))
		ok = false;
	else
		s->count++;
	pthread_mutex_unlock(&t->addr_mu);
	if (!ok)
		atomic_fetch_sub(&t->inbound, 1);
	return ok;
}

void
tp__limits_release(struct transport *t, const struct sockaddr_storage *peer)
{
	const unsigned char *p = NULL;
	size_t len = conf_sockaddr_bytes(peer, &p);
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

/* --- listening and accepting --- */

static void
tp_listener_closed(uv_handle_t *h)
{
	free(h->data);
}

/* An accepted connection starts its life here: counted, then TLS. */
static void
conn_start_inbound(struct conn *c, bool mutual_tls, struct tls_ctx *tls)
{
	struct transport *t = c->t;
	char ctx[320];
	int r;

	c->counted_inbound = true;
	atomic_fetch_add(&c->tw->nin, 1);
	c->counted_open = true;
	STAT_INC(t, open_connections);
	uv_tcp_nodelay(&c->tcp, 1);
	if (c->info.kind == TP_TLS) {
		if ((r = tls_sess_new(tls, NULL, mutual_tls, &c->tls)) < 0) {
			log_warnx("%s: TLS session: %s, %s", __func__, strerror(-r),
			    tp__conn_ctx(c, ctx, sizeof(ctx)));
			tp__conn_abort(c);
			return;
		}
		c->state = CS_HANDSHAKE;
		tp__conn_arm_timer(c);
	} else {
		tp__conn_established(c);
	}
	if ((r = uv_read_start((uv_stream_t *)&c->tcp, tp__conn_alloc_cb, tp__conn_read_cb)) < 0)
		conn_close(c);
}

/* ---- balancing ------------------------------------------------------------
 * SO_REUSEPORT spreads new connections by a hash of their addresses: a pool
 * of four front ends can land on one worker and leave the others idle.  A
 * worker that accepts while another holds fewer inbound connections hands
 * the socket over before anything was read from it (its TLS handshake is
 * done by the worker that keeps it), through the core's mailbox. */

struct tp_handoff {
	struct transport *t;
	int fd;
	enum side side;
	enum tp_kind kind;
	bool mutual_tls;
	struct tls_ctx *tls;
	struct sockaddr_storage peer, local;
};

/* The worker with the fewest inbound connections, tw itself on a tie. */
static unsigned
least_loaded(const struct tp_worker *tw)
{
	const struct transport *t = tw->t;
	unsigned n = atomic_load(&((struct transport *)t)->nworkers), best = tw->idx;
	unsigned low = atomic_load(&((struct tp_worker *)tw)->nin);

	for (unsigned i = 0; i < n; i++) {
		struct tp_worker *o = t->workers[i];
		unsigned k;

		if (o == NULL || o == tw || o->shutting_down)
			continue;
		if ((k = atomic_load(&o->nin)) < low) {
			low = k;
			best = i;
		}
	}
	return best;
}

/* Hand c (accepted, its limit slot taken, nothing read) to worker to. */
static int
hand_off(struct conn *c, const struct tp_listener *l, unsigned to)
{
	struct tp_worker *tw = c->tw;
	struct tp_handoff *h;
	uv_os_fd_t fd;

	if (uv_fileno((uv_handle_t *)&c->tcp, &fd) < 0 || (h = calloc(1, sizeof(*h))) == NULL)
		return -ENOMEM;
	if ((h->fd = dup(fd)) < 0) {
		free(h);
		return -errno;
	}
	h->t = c->t;
	h->side = l->lc.side;
	h->kind = l->lc.kind;
	h->mutual_tls = l->lc.mutual_tls;
	h->tls = l->tls ? tls_ctx_ref(l->tls) : NULL;   /* a reload may replace l's */
	h->peer = c->info.peer;
	h->local = c->info.local;
	/* Our handle goes (libuv takes it off our epoll set first); the
	 * duplicate keeps the socket, and the limit slot goes with h. */
	tp__conn_abort(c);
	tw->cbs.handoff_cb(tw, to, h, tw->cbs.ud);
	return 0;
}

void
transport_handoff_drop(struct tp_handoff *h)
{
	if (h == NULL)
		return;
	close(h->fd);
	tp__limits_release(h->t, &h->peer);
	tls_ctx_free(h->tls);
	free(h);
}

void
transport_worker_adopt(struct tp_worker *tw, struct tp_handoff *h)
{
	struct conn *c;

	if (tw->shutting_down || (c = tp__conn_alloc(tw, h->side, h->kind, false)) == NULL) {
		transport_handoff_drop(h);
		return;
	}
	if (uv_tcp_open(&c->tcp, h->fd) < 0) {
		tp__conn_abort(c);
		transport_handoff_drop(h);
		return;
	}
	c->info.peer = h->peer;
	c->info.local = h->local;
	conn_start_inbound(c, h->mutual_tls, h->tls);
	tls_ctx_free(h->tls);           /* the session has its own reference now */
	free(h);
}

void
tp__listeners_set_tls(struct tp_worker *tw, struct tls_ctx *mutual, struct tls_ctx *plain)
{
	for (struct tp_listener *l = tw->listeners; l; l = l->next)
		if (l->lc.kind == TP_TLS)
			l->tls = l->lc.mutual_tls ? mutual : plain;
}

static void
tp_connection_cb(uv_stream_t *server, int status)
{
	struct tp_listener *l = server->data;
	struct tp_worker *tw = l->tw;
	struct transport *t = tw->t;
	struct conn *c;
	unsigned to;
	int len, r;
	char ctx[320];

	if (status < 0) {
		log_warnx("%s: accept: %s", __func__, uv_strerror(status));
		return;
	}
	if ((c = tp__conn_alloc(tw, l->lc.side, l->lc.kind, false)) == NULL) {
		log_warnx("%s: out of memory", __func__);
		return;
	}
	if ((r = uv_accept(server, (uv_stream_t *)&c->tcp)) < 0) {
		tp__conn_abort(c);
		return;
	}
	len = sizeof(c->info.peer);
	uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&c->info.peer, &len);
	len = sizeof(c->info.local);
	uv_tcp_getsockname(&c->tcp, (struct sockaddr *)&c->info.local, &len);
	/* Accept then close: leaving it in the backlog would only delay the
	 * refusal and keep the listener readable. */
	if (tw->shutting_down || !tp_limits_take(tw, &c->info.peer)) {
		STAT_INC(t, refused_limit);
		log_debug("connection limit reached, refusing, %s", tp__conn_ctx(c, ctx, sizeof(ctx)));
		tp__conn_abort(c);
		return;
	}
	STAT_INC(t, accepted);
	TW_STAT(tw, accepted[l->lc.side]);
	if (tw->cbs.handoff_cb && (to = least_loaded(tw)) != tw->idx && hand_off(c, l, to) == 0)
		return;
	conn_start_inbound(c, l->lc.mutual_tls, l->tls);
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
tp__listeners_close(struct tp_worker *tw)
{
	struct tp_listener *l;

	while ((l = tw->listeners) != NULL) {
		tw->listeners = l->next;
		uv_close((uv_handle_t *)&l->tcp, tp_listener_closed);
	}
}
