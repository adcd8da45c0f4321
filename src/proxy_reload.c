/* proxy_reload.c: a new configuration in force without a restart (proxy.h
 * proxy_reload): new TLS contexts (certificate, key, CA bundle) for the
 * handshakes that start from now on, the pool and internal servers, host
 * pins, limits, timers and DNS servers.  Each worker switches on its own
 * thread (a POST_CONF); once every worker has, the old contexts are released
 * (connections made under them hold their own references) and the caller is
 * told on its loop, so it can free the old configuration. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "proxy_int.h"
#include "sipedge/log.h"

struct proxy_reload {
	uv_async_t async;                  /* on the caller's loop */
	atomic_uint pending;               /* workers yet to switch, plus ours */
	struct proxy *px;
	const struct conf *c;              /* the new configuration */
	struct proxy_tls tls;              /* its contexts (px holds them now) */
	struct proxy_tls old;              /* released at the end */
	bool dns_changed;
	proxy_reload_cb cb;
	void *arg;
};

void
proxy_reload_run(struct worker *w, struct proxy_reload *r)
{
	const struct conf *c = r->c;
	struct transport_conf tc;
	int rc;

	w->cf = c;
	w->renv.cf = c;
	proxy_transport_conf(c, r->tls.client, &tc);
	transport_worker_set_conf(w->tw, &tc, r->tls.mutual, r->tls.plain);
	w->max_txns = c->max_transactions / w->px->nworkers;
	if (w->max_txns < 16)
		w->max_txns = 16;
	if (r->dns_changed && c->dns_servers[0] && (rc = dns_set_servers(w->dns, c->dns_servers)) < 0)
		log_warnx("%s: worker %u: dns-server %s: %s", __func__, w->idx, c->dns_servers,
		    strerror(-rc));
}

void
proxy_reload_release(struct proxy_reload *r)
{
	if (atomic_fetch_sub(&r->pending, 1) == 1)
		uv_async_send(&r->async);
}

static void
reload_free(uv_handle_t *h)
{
	free(h->data);
}

static void
reload_done(uv_async_t *h)
{
	struct proxy_reload *r = h->data;

	proxy_tls_free(&r->old);
	r->cb(r->arg);
	uv_close((uv_handle_t *)&r->async, reload_free);
}

int
proxy_reload(struct proxy *px, const struct conf *c, uv_loop_t *loop, proxy_reload_cb cb,
    void *arg, char *err, size_t errlen)
{
	struct proxy_reload *r = calloc(1, sizeof(*r));
	struct post **posts = NULL;
	int rc;

	if (r == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if ((rc = proxy_tls_make(c, &r->tls, err, errlen)) < 0) {
		free(r);
		return rc;
	}
	if ((rc = uv_async_init(loop, &r->async, reload_done)) < 0) {
		proxy_tls_free(&r->tls);
		free(r);
		snprintf(err, errlen, "%s", uv_strerror(rc));
		return rc;
	}
	r->async.data = r;
	r->px = px;
	r->c = c;
	r->cb = cb;
	r->arg = arg;
	r->dns_changed = strcmp(px->conf->dns_servers, c->dns_servers) != 0;
	/* Every post first: a worker left on the old configuration would keep
	 * pointers into what the caller frees. */
	if ((posts = calloc(px->nworkers, sizeof(*posts))) == NULL)
		goto nomem;
	for (unsigned i = 0; i < px->nworkers; i++)
		if ((posts[i] = calloc(1, sizeof(*posts[i]))) == NULL)
			goto nomem;
	r->old = px->tls;
	px->tls = r->tls;
	px->conf = c;
	atomic_store(&r->pending, px->nworkers + 1);
	for (unsigned i = 0; i < px->nworkers; i++) {
		posts[i]->kind = POST_CONF;
		posts[i]->reload = r;
		proxy_post(&px->workers[i], posts[i]);   /* refused (stopping): released */
	}
	free(posts);
	proxy_reload_release(r);
	return 0;
nomem:
	for (unsigned i = 0; posts && i < px->nworkers; i++)
		free(posts[i]);
	free(posts);
	proxy_tls_free(&r->tls);
	r->cb = NULL;
	uv_close((uv_handle_t *)&r->async, reload_free);
	snprintf(err, errlen, "out of memory");
	return -ENOMEM;
}
