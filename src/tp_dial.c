/* tp_dial.c: outbound connections: reuse per (FQDN, address, port, kind),
 * one dial shared by every request waiting for the same key, the source
 * address of the side, TLS with SNI and the dialled name verified, progress
 * of a handshake (for failover racing), and cancellation. */
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



/* --- dialling --- */

static bool
dial_key_match(const struct conn *c, const struct hop *hop, enum side side,
    unsigned short port)
{
	if (c->fqdn == NULL || c->info.kind != hop->kind || c->info.side != side ||
	    strcasecmp(c->fqdn, hop->fqdn) != 0)
		return false;
	if (hop->has_addr)
		return tp__addr_equal(&c->info.peer, &hop->addr);
	return conf_sockaddr_port(&c->info.peer) == port;
}

static bool
dial_pending_match(const struct dial_pending *p, const struct hop *hop, enum side side,
    unsigned short port)
{
	if (p->kind != hop->kind || p->side != side || p->has_addr != hop->has_addr ||
	    p->port != port || strcasecmp(p->fqdn, hop->fqdn) != 0)
		return false;
	return !hop->has_addr || tp__addr_equal(&p->addr, &hop->addr);
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

void
tp__dial_fail(struct conn *c, int status, const char *detail)
{
	struct dial_pending *p = c->dial;
	char ctx[320];

	if (p == NULL) {
		tp__conn_abort(c);
		return;
	}
	/* Info only: the core reports the failure with its own diagnostic. */
	log_info("cannot connect: %s%s%s, %s", transport_strerror(status),
	    detail && detail[0] ? ": " : "", detail ? detail : "", tp__conn_ctx(c, ctx, sizeof(ctx)));
	/* Unlinked first so that a callback dialling the same hop starts afresh. */
	dial_unlink(p);
	tp__conn_abort(c);
	p->delivering = true;
	while (dial_deliver_one(p, NULL, status, detail))
		;
	dial_pending_free(p);
}

void
tp__dial_succeed(struct conn *c)
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
		tp__dial_fail(c, status, uv_strerror(status));
		return;
	}
	len = sizeof(c->info.local);
	uv_tcp_getsockname(&c->tcp, (struct sockaddr *)&c->info.local, &len);
	uv_tcp_nodelay(&c->tcp, 1);
	if ((r = uv_read_start((uv_stream_t *)&c->tcp, tp__conn_alloc_cb, tp__conn_read_cb)) < 0) {
		tp__dial_fail(c, r, uv_strerror(r));
		return;
	}
	if (c->info.kind == TP_TCP) {
		tp__conn_established(c);
		return;
	}
	if ((r = tls_sess_new(c->tw->conf.client_tls, c->fqdn, false, &c->tls)) < 0) {
		tp__dial_fail(c, TP_ETLS, strerror(-r));
		return;
	}
	c->state = CS_HANDSHAKE;
	tp__conn_arm_timer(c);
	/* Produces the ClientHello. */
	if (tls_sess_handshake(c->tls, detail, sizeof(detail)) < 0) {
		tp__dial_fail(c, TP_ETLS, detail);
		return;
	}
	(void)tp__conn_tls_flush(c);
}

static int
dial_connect(struct conn *c, const struct sockaddr_storage *addr)
{
	const struct transport_conf *tc = &c->tw->conf;
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
	if (hop->kind == TP_TLS && tw->conf.client_tls == NULL)
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
	if ((c = tp__conn_alloc(tw, side, hop->kind, true)) == NULL ||
	    (c->fqdn = strdup(hop->fqdn)) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	c->info.dialled_fqdn = c->fqdn;
	if ((r = dial_connect(c, &hop->addr)) < 0)
		goto out;
	c->counted_open = true;
	STAT_INC(t, dialled);
	TW_STAT(tw, dialled[p->side]);
	STAT_INC(t, open_connections);
	p->c = c;
	c->dial = p;
	tp__conn_arm_timer(c);
	rq->p = p;
	p->reqs = rq;
	p->next = tw->dials;
	tw->dials = p;
	if (req_out)
		*req_out = rq;
	return 1;
out:
	if (c)
		tp__conn_abort(c);
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
			tp__conn_abort(c);
		dial_pending_free(p);
	}
}

uint64_t
transport_dial_progress(const struct dial_req *rq)
{
	return rq && rq->p && rq->p->c ? rq->p->c->progress_at : 0;
}

