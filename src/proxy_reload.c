/* proxy_reload.c: what a configuration makes of the TLS contexts and the
 * transport's settings, at start-up and on reload; and a new configuration
 * in force without a restart (proxy.h proxy_reload): new TLS contexts (certificate, key, CA bundle) for the
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

int
proxy_tls_make(const struct conf *c, struct proxy_tls *out, char *err, size_t errlen)
{
	struct tls_conf tc = { c->certificate, c->private_key, c->ca_bundle, false, c->eku_any };
	struct proxy_tls x = { NULL, NULL, NULL };
	bool need_mutual = false, need_plain = false;
	int rc = 0;

	for (size_t i = 0; i < c->nlisteners; i++) {
		if (c->listeners[i].kind != TP_TLS)
			continue;
		if (c->listeners[i].mutual_tls)
			need_mutual = true;
		else
			need_plain = true;
	}
	/* XMPP listeners ask for a certificate without requiring it
	 * (tls_sess_xmpp) on the plain server context. */
	if (c->nxmpp_listeners > 0 && c->certificate[0])
		need_plain = true;
	if (need_mutual) {
		tc.require_client_cert = true;
		if ((rc = tls_ctx_new_server(&tc, &x.mutual, err, errlen)) < 0)
			goto out;
	}
	if (need_plain) {
		tc.require_client_cert = false;
		if ((rc = tls_ctx_new_server(&tc, &x.plain, err, errlen)) < 0)
			goto out;
	}
	if (c->certificate[0]) {
		tc.require_client_cert = false;
		if ((rc = tls_ctx_new_client(&tc, &x.client, err, errlen)) < 0)
			goto out;
	}
	*out = x;
	return 0;
out:
	proxy_tls_free(&x);
	return rc;
}

void
proxy_tls_free(struct proxy_tls *x)
{
	tls_ctx_free(x->mutual);
	tls_ctx_free(x->plain);
	tls_ctx_free(x->client);
	x->mutual = x->plain = x->client = NULL;
}

void
proxy_transport_conf(const struct conf *c, struct tls_ctx *client, struct transport_conf *tc)
{
	memset(tc, 0, sizeof(*tc));
	tc->max_message_size = c->max_message_size;
	tc->handshake_timeout_ms = c->handshake_timeout_ms;
	tc->idle_timeout_ms = c->idle_timeout_ms;
	tc->incomplete_timeout_ms = c->incomplete_timeout_ms;
	tc->connect_timeout_ms = c->connect_timeout_ms;
	tc->max_connections = c->max_connections;
	tc->max_connections_per_address = c->max_connections_per_address;
	tc->client_tls = client;
	for (int side = 0; side < 2; side++)
		for (int fam = 0; fam < 2; fam++) {
			tc->has_src[side][fam] = c->has_out[side][fam];
			tc->src[side][fam] = c->out_addr[side][fam];
		}
}

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
	if (w->xgw)
		xmpp_gw_reload(w->xgw, c, r->tls.plain, r->tls.client);
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
