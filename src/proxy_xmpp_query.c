/* proxy_xmpp_query.c: what the control socket asks of the XMPP side (proxy.h):
 * the gateway's counters, read from any thread (they are atomic, xmpp_int.h);
 * its streams and the probe of a partner (sipedgectl xmpp streams, xmpp
 * probe), which live on worker 0's loop: a POST_XMPP_QUERY takes the job
 * there and a uv_async brings the answer back to the asking loop, as the
 * connections query and the federation probe do (proxy_query.c, probe.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proxy_int.h"
#include "sipedge/xmpp.h"
#include "sipedge/xmpp_probe.h"
#include "sipedge/xmpp_query.h"

enum xq_kind { XQ_STREAMS, XQ_PROBE };

struct xmpp_query_job {
	uv_async_t async;                  /* on the asking loop */
	enum xq_kind kind;
	bool reported;                     /* the async is sent: worker 0 is done with it */
	int status;
	struct xmpp_stream_row *rows;      /* XQ_STREAMS */
	size_t n;
	char local[CONF_MAX_NAME], domain[CONF_MAX_NAME];  /* XQ_PROBE */
	unsigned timeout_s;
	struct xmpp_probe_result res;
	proxy_xmpp_streams_cb streams_cb;
	proxy_xmpp_probe_cb probe_cb;
	void *arg;
};

void
proxy_xmpp_counters(struct proxy *px, struct xmpp_counters *out)
{
	/* The gateway is made with the proxy, before any worker runs, and
	 * closed when worker 0 stops, after the control socket and the
	 * metrics listener are (main.c): it is there for every reader. */
	struct xmpp_gw *gw = px->nworkers ? px->workers[0].xgw : NULL;

	if (gw == NULL) {
		memset(out, 0, sizeof(*out));
		return;
	}
	xmpp_gw_counters(gw, out);
}

/* Worker 0 is done with j (from its thread, or from whoever frees the post). */
static void
report(struct xmpp_query_job *j)
{
	if (j->reported)
		return;
	j->reported = true;
	uv_async_send(&j->async);
}

static void
probe_done(const struct xmpp_probe_result *res, void *arg)
{
	struct xmpp_query_job *j = arg;

	j->res = *res;
	report(j);
}

void
proxy_xmpp_query_run(struct worker *w, struct xmpp_query_job *j)
{
	if (w->xgw == NULL) {
		j->status = -ECANCELED;
		report(j);
		return;
	}
	if (j->kind == XQ_STREAMS) {
		j->status = xmpp_query_streams(w->xgw, &j->rows, &j->n);
		report(j);
		return;
	}
	/* The probe reports through probe_done, maybe before it returns: then
	 * the asking loop may already have freed j, which is not touched again
	 * unless the probe could not start (and so never reports). */
	{
		int rc = xmpp_probe_start(w->xgw, j->local, j->domain, j->timeout_s, probe_done, j);

		if (rc < 0) {
			j->status = rc;
			report(j);
		}
	}
}

void
proxy_xmpp_query_dropped(struct xmpp_query_job *j)
{
	j->status = -ECANCELED;
	report(j);
}

/* ---- the asking side ---- */

static void
job_free(uv_handle_t *h)
{
	struct xmpp_query_job *j = h->data;

	free(j->rows);
	free(j);
}

static void
job_done(uv_async_t *h)
{
	struct xmpp_query_job *j = h->data;

	if (j->kind == XQ_STREAMS)
		j->streams_cb(j->status, j->rows, j->n, j->arg);
	else
		j->probe_cb(j->status, &j->res, j->arg);
	uv_close((uv_handle_t *)&j->async, job_free);
}

static int
job_post(struct proxy *px, uv_loop_t *loop, struct xmpp_query_job *j)
{
	struct post *p;
	int rc;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		free(j);
		return -ENOMEM;
	}
	if ((rc = uv_async_init(loop, &j->async, job_done)) < 0) {
		free(j);
		free(p);
		return rc;
	}
	j->async.data = j;
	p->kind = POST_XMPP_QUERY;
	p->xquery = j;
	(void)proxy_post(&px->workers[0], p);   /* refused (stopping): dropped, reported */
	return 0;
}

int
proxy_xmpp_streams(struct proxy *px, uv_loop_t *loop, proxy_xmpp_streams_cb cb, void *arg)
{
	struct xmpp_query_job *j;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return -ENOMEM;
	j->kind = XQ_STREAMS;
	j->streams_cb = cb;
	j->arg = arg;
	return job_post(px, loop, j);
}

int
proxy_xmpp_probe(struct proxy *px, uv_loop_t *loop, const char *local, const char *domain,
    unsigned ping_timeout_s, proxy_xmpp_probe_cb cb, void *arg)
{
	struct xmpp_query_job *j;

	if (strlen(local) >= sizeof(j->local) || strlen(domain) >= sizeof(j->domain))
		return -ENAMETOOLONG;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return -ENOMEM;
	j->kind = XQ_PROBE;
	memcpy(j->local, local, strlen(local) + 1);
	memcpy(j->domain, domain, strlen(domain) + 1);
	j->timeout_s = ping_timeout_s;
	j->probe_cb = cb;
	j->arg = arg;
	return job_post(px, loop, j);
}
