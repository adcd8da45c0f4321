/* proxy_query.c: what the control socket reads of the proxy (proxy.h): the
 * counters, summed from any thread (the XMPP gateway's with them), and the
 * connections, which live on the workers' threads and are copied there (a
 * POST_QUERY to each worker; the last one to answer wakes the asking loop). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "proxy_int.h"
#include "sipedge/stats.h"
#include "sipedge/xmpp.h"

unsigned
proxy_nworkers(const struct proxy *px)
{
	return px->nworkers;
}

int
proxy_stats(struct proxy *px, struct stats_total *out)
{
	struct stats *v[64];
	unsigned n = px->nworkers < 64 ? px->nworkers : 64;
	int rc;

	for (unsigned i = 0; i < n; i++)
		v[i] = &px->workers[i].stats;
	if ((rc = stats_sum(v, n, out)) == 0)
		proxy_xmpp_counters(px, &out->xmpp);
	return rc;
}

struct proxy_query {
	uv_async_t async;                  /* on the asking loop */
	atomic_uint pending;               /* workers yet to answer */
	pthread_mutex_t lock;              /* guards the rows */
	struct proxy_conn *v;
	size_t n, cap;
	int status;
	proxy_conns_cb cb;
	void *arg;
};

struct collect {
	struct proxy_query *q;
	unsigned worker;
};

static void
copy_name(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

static void
collect_conn(const struct conn_stat *cs, void *arg)
{
	struct collect *c = arg;
	struct proxy_query *q = c->q;
	const struct conn_info *ci = cs->info;
	struct proxy_conn *r;

	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 64;

		if ((r = realloc(q->v, cap * sizeof(*r))) == NULL) {
			q->status = -ENOMEM;
			return;
		}
		q->v = r;
		q->cap = cap;
	}
	r = &q->v[q->n++];
	memset(r, 0, sizeof(*r));
	r->id = ci->id;
	r->worker = c->worker;
	r->side = ci->side;
	r->outbound = ci->outbound;
	r->tls = ci->kind == TP_TLS;
	r->resumed = ci->tls_resumed;
	conf_sockaddr_str(&ci->peer, r->peer, sizeof(r->peer));
	conf_sockaddr_str(&ci->local, r->local, sizeof(r->local));
	copy_name(r->name, sizeof(r->name), ci->npeer_names ? ci->peer_names[0] : NULL);
	copy_name(r->dialled, sizeof(r->dialled), ci->dialled_fqdn);
	copy_name(r->tls_version, sizeof(r->tls_version), cs->tls_version);
	copy_name(r->tls_cipher, sizeof(r->tls_cipher), cs->tls_cipher);
	r->age_ms = cs->age_ms;
	r->idle_ms = cs->idle_ms;
	r->bytes_in = cs->bytes_in;
	r->bytes_out = cs->bytes_out;
	r->messages_in = cs->messages_in;
	r->messages_out = cs->messages_out;
}

void
proxy_query_run(struct worker *w, struct proxy_query *q)
{
	struct collect c = { q, w->idx };

	pthread_mutex_lock(&q->lock);
	transport_worker_each_conn(w->tw, collect_conn, &c);
	pthread_mutex_unlock(&q->lock);
}

void
proxy_query_release(struct proxy_query *q)
{
	if (atomic_fetch_sub(&q->pending, 1) == 1)
		uv_async_send(&q->async);
}

static void
query_free(uv_handle_t *h)
{
	struct proxy_query *q = h->data;

	pthread_mutex_destroy(&q->lock);
	free(q->v);
	free(q);
}

static int
conn_cmp(const void *a, const void *b)
{
	const struct proxy_conn *x = a, *y = b;

	if (x->side != y->side)
		return x->side < y->side ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static void
query_done(uv_async_t *h)
{
	struct proxy_query *q = h->data;

	if (q->n > 1)
		qsort(q->v, q->n, sizeof(q->v[0]), conn_cmp);
	q->cb(q->status, q->v, q->n, q->arg);
	uv_close((uv_handle_t *)&q->async, query_free);
}

int
proxy_trace(struct proxy *px, bool on, const char *domain)
{
	if (domain && strlen(domain) >= CONF_MAX_NAME)
		return -ENAMETOOLONG;
	for (unsigned i = 0; i < px->nworkers; i++) {
		struct post *p = calloc(1, sizeof(*p));

		if (p == NULL)
			return -ENOMEM;
		p->kind = POST_TRACE;
		p->trace_on = on;
		snprintf(p->trace_domain, sizeof(p->trace_domain), "%s", domain ? domain : "");
		proxy_post(&px->workers[i], p);
	}
	return 0;
}

int
proxy_connections(struct proxy *px, uv_loop_t *loop, proxy_conns_cb cb, void *arg)
{
	struct proxy_query *q = calloc(1, sizeof(*q));
	int rc;

	if (q == NULL)
		return -ENOMEM;
	if ((rc = pthread_mutex_init(&q->lock, NULL)) != 0) {
		free(q);
		return -rc;
	}
	if ((rc = uv_async_init(loop, &q->async, query_done)) < 0) {
		pthread_mutex_destroy(&q->lock);
		free(q);
		return rc;
	}
	q->async.data = q;
	q->cb = cb;
	q->arg = arg;
	/* One for each worker, and one of our own so that no worker can
	 * finish the query before every post is out. */
	atomic_store(&q->pending, px->nworkers + 1);
	for (unsigned i = 0; i < px->nworkers; i++) {
		struct post *p = calloc(1, sizeof(*p));

		if (p == NULL) {
			q->status = -ENOMEM;
			proxy_query_release(q);
			continue;
		}
		p->kind = POST_QUERY;
		p->query = q;
		p->from = i;
		proxy_post(&px->workers[i], p);     /* refused: freed, q released */
	}
	proxy_query_release(q);
	return 0;
}
