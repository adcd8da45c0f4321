/* probe.c: the federation probe (proxy.h proxy_probe; sipedgectl probe), the
 * reference system's Test-CsFederatedPartner done along the real path: an
 * OPTIONS for sip:DOMAIN made on worker 0 as if the pool had sent it, routed
 * by the same routing step (route.h, every step traced), dialled through the
 * same next hops, failover and TLS checks (hop.c), and answered by the
 * partner or by the edge.  What happened at each step comes back to the
 * asking loop in a struct proxy_probe. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <sofia-sip/sip_header.h>
#include <sofia-sip/msg_header.h>

#include "proxy_int.h"
#include "sipedge/framing.h"
#include "sipedge/log.h"

_Static_assert(ROUTE_MAX_HOPS == sizeof(((struct proxy_probe *)0)->hops) /
    sizeof(((struct proxy_probe *)0)->hops[0]), "a probe reports every hop");

struct probe_job {
	uv_async_t async;                  /* on the asking loop */
	struct proxy *px;
	char domain[CONF_MAX_NAME], from[512];
	struct proxy_probe res;
	struct route_env env;              /* the worker's, tracing into res.steps */
	uint64_t t0, hop_t0[ROUTE_MAX_HOPS];
	struct txn *t;
	bool reported;
	proxy_probe_cb cb;
	void *arg;
};

static void
step(void *arg, const struct route_op *op, const char *text)
{
	struct probe_job *j = arg;
	size_t n = strlen(j->res.steps);

	(void)op;
	snprintf(j->res.steps + n, sizeof(j->res.steps) - n, "%s\n", text);
}

/* The result goes to the asking loop, once. */
static void
report(struct probe_job *j)
{
	if (j->reported)
		return;
	j->reported = true;
	if (j->t) {
		j->res.total_ms = uv_now(&j->t->w->th.loop) - j->t0;
		j->t->probe = NULL;
	}
	uv_async_send(&j->async);
}

void
probe_final(struct probe_job *j, int status, enum diag_code d, const char *reason,
    const sip_t *sip, bool from_partner)
{
	if (j->reported)
		return;
	j->res.status = status;
	if (d != DIAG_NONE) {
		char text[400];

		/* As the edge's ms-diagnostics header says it. */
		j->res.diag = (int)d;
		snprintf(j->res.diagnostics, sizeof(j->res.diagnostics), "%u;reason=\"%s\"",
		    (unsigned)d, sipmsg_diag_text(d, reason, text, sizeof(text)));
	}
	j->res.from_partner = from_partner;
	snprintf(j->res.reason, sizeof(j->res.reason), "%s", reason ? reason : "");
	if (sip) {
		for (sip_unknown_t *u = sip->sip_unknown; u; u = u->un_next)
			if (u->un_name && (strcasecmp(u->un_name, "ms-diagnostics") == 0 ||
			    strcasecmp(u->un_name, "ms-diagnostics-public") == 0)) {
				snprintf(j->res.diagnostics, sizeof(j->res.diagnostics), "%s",
				    u->un_value ? u->un_value : "");
				break;
			}
		if (sip->sip_server && sip->sip_server->g_string)
			snprintf(j->res.server, sizeof(j->res.server), "%s", sip->sip_server->g_string);
		else if (sip->sip_user_agent && sip->sip_user_agent->g_string)
			snprintf(j->res.server, sizeof(j->res.server), "%s",
			    sip->sip_user_agent->g_string);
	}
	report(j);
}

void
probe_hop_start(struct probe_job *j, size_t i, const struct hop *h)
{
	struct proxy_probe_hop *p;

	if (i >= ROUTE_MAX_HOPS)
		return;
	p = &j->res.hops[i];
	memset(p, 0, sizeof(*p));
	snprintf(p->fqdn, sizeof(p->fqdn), "%s", h->fqdn);
	if (h->has_addr)
		conf_sockaddr_str(&h->addr, p->address, sizeof(p->address));
	p->started = true;
	j->hop_t0[i] = uv_now(&j->t->w->th.loop);
	if (i + 1 > j->res.nhops)
		j->res.nhops = i + 1;
}

void
probe_hop_done(struct probe_job *j, size_t i, int status, const char *detail, struct conn *c)
{
	struct proxy_probe_hop *p;

	if (i >= ROUTE_MAX_HOPS || !j->res.hops[i].started)
		return;
	p = &j->res.hops[i];
	p->ms = uv_now(&j->t->w->th.loop) - j->hop_t0[i];
	p->ok = status == 0;
	snprintf(p->result, sizeof(p->result), "%s", status == 0 ? "connected" :
	    detail && detail[0] ? detail : transport_strerror(status));
	if (c != NULL) {
		const struct conn_info *ci = conn_info(c);
		size_t n = 0;

		for (size_t k = 0; k < ci->npeer_names && n + 2 < sizeof(p->names); k++)
			n += (size_t)snprintf(p->names + n, sizeof(p->names) - n, "%s%s",
			    k ? " " : "", ci->peer_names[k]);
		p->names_match = conn_peer_matches(c, p->fqdn) == 1;
		p->reused = detail != NULL && strcmp(detail, "reused") == 0;
	}
}

void
probe_detach(struct probe_job *j)
{
	/* The transaction ends without a response we saw (it should not). */
	if (!j->reported)
		probe_final(j, 500, DIAG_NONE, "the probe ended without a final response", NULL, false);
}

void
probe_dropped(struct probe_job *j)
{
	if (j->reported)
		return;
	j->res.status = 503;
	snprintf(j->res.reason, sizeof(j->res.reason), "the edge is shutting down");
	j->reported = true;
	uv_async_send(&j->async);
}

/* ---- the asking side ---- */

static void
job_free(uv_handle_t *h)
{
	struct probe_job *j = h->data;

	if (j->env.pol)
		policy_unref(j->env.pol);
	free(j);
}

static void
job_done(uv_async_t *h)
{
	struct probe_job *j = h->data;

	j->cb(&j->res, j->arg);
	uv_close((uv_handle_t *)&j->async, job_free);
}

/* On worker w: make the OPTIONS and route it as a request from the pool. */
void
proxy_probe_run(struct worker *w, struct probe_job *j)
{
	char text[2048], key[KEY_MAX];
	uint64_t rnd = proxy_rnd64();
	msg_t *msg = NULL;
	sip_t *sip;
	struct sip_problem prob;
	struct txn *t;
	int rc, n;

	n = snprintf(text, sizeof(text),
	    "OPTIONS sip:%s SIP/2.0\r\n"
	    "Via: SIP/2.0/TLS %s;branch=z9hG4bKprobe%016llx\r\n"
	    "Max-Forwards: 70\r\n"
	    "From: <%s>;tag=probe%08llx\r\n"
	    "To: <sip:%s>\r\n"
	    "Call-ID: probe-%016llx@%s\r\n"
	    "CSeq: 1 OPTIONS\r\n"
	    "Accept: application/sdp\r\n"
	    "Content-Length: 0\r\n\r\n",
	    j->domain, w->cf->internal_fqdn, (unsigned long long)rnd, j->from,
	    (unsigned long long)(rnd >> 32), j->domain, (unsigned long long)rnd, w->cf->edge_fqdn);
	if (n > 0 && (size_t)n < sizeof(text))
		msg = framer_parse_one(text, (size_t)n);
	j->t0 = uv_now(&w->th.loop);
	if (msg == NULL || (sip = sip_object(msg)) == NULL ||
	    sipmsg_check_request(msg, sip, &prob) < 0 ||
	    txn_server_key(sip, "OPTIONS", key, sizeof(key)) < 0 ||
	    (t = txn_new(w, NULL, msg, sip, key, sipmsg_loop_hash(sip))) == NULL) {
		if (msg)
			msg_destroy(msg);
		j->res.status = 400;
		snprintf(j->res.reason, sizeof(j->res.reason), "cannot make an OPTIONS for %.200s "
		    "from %.200s", j->domain, j->from);
		j->reported = true;
		uv_async_send(&j->async);
		return;
	}
	j->t = t;
	t->probe = j;
	j->env = w->renv;
	j->env.pol = policy_ref(w->renv.pol);
	j->env.step = step;
	j->env.step_arg = j;
	t->op.env = &j->env;
	t->op.msg = msg;
	t->op.sip = sip;
	t->op.side = SIDE_INTERNAL;
	rc = txn_route(t);
	j->res.verdict = rc;
	if (rc == ROUTE_REFUSE) {
		probe_final(j, t->op.prob.status, t->op.prob.diag, t->op.prob.detail[0] ?
		    t->op.prob.detail : diag_lookup(t->op.prob.diag)->text, NULL, false);
		t->state = TX_COMPLETED;
		txn_destroy(t);
		return;
	}
	if (rc == ROUTE_LOCAL) {
		probe_final(j, 200, DIAG_NONE, "the edge itself answers: the Request-URI names this edge",
		    NULL, false);
		t->state = TX_COMPLETED;
		txn_destroy(t);
		return;
	}
	sip->sip_max_forwards->mf_count--;
	msg_fragment_clear(sip->sip_max_forwards->mf_common);
	txn_arm(t, TXN_TIMER_F);
	if (rc == ROUTE_FORWARD)
		txn_route_act(t);
}

int
proxy_probe(struct proxy *px, uv_loop_t *loop, const char *domain, const char *from,
    proxy_probe_cb cb, void *arg)
{
	struct probe_job *j;
	struct post *p;
	int rc;

	if (strlen(domain) >= sizeof(j->domain) || strlen(from) >= sizeof(j->from))
		return -ENAMETOOLONG;
	if ((j = calloc(1, sizeof(*j))) == NULL || (p = calloc(1, sizeof(*p))) == NULL) {
		free(j);
		return -ENOMEM;
	}
	if ((rc = uv_async_init(loop, &j->async, job_done)) < 0) {
		free(j);
		free(p);
		return rc;
	}
	j->async.data = j;
	j->px = px;
	j->cb = cb;
	j->arg = arg;
	snprintf(j->domain, sizeof(j->domain), "%s", domain);
	snprintf(j->from, sizeof(j->from), "%s", from);
	snprintf(j->res.domain, sizeof(j->res.domain), "%s", domain);
	snprintf(j->res.from, sizeof(j->res.from), "%s", from);
	p->kind = POST_PROBE;
	p->probe = j;
	proxy_post(&px->workers[0], p);         /* refused (stopping): probe_dropped */
	return 0;
}
