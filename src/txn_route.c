/* txn_route.c: a transaction's routing (route.h) on the proxy's side: the
 * tokens of our Route entries and whether the sender is the dialog's peer, the
 * verdict acted upon (refuse, answer, dial), the upstream peer recorded in our
 * Record-Route token, and the tokens of a dialog-forming response sealed with
 * the pool's Record-Route entries (RFC 3261 §16.7 item 4). */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/msg_header.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/url.h>

#include "proxy_int.h"
#include "sipedge/log.h"

/* The pool server a connection from the pool belongs to: by certificate name,
 * or (plain TCP, labs) by address. */
static const struct hop *
pool_server_of(const struct conf *cf, const struct conn_info *ci)
{
	for (size_t i = 0; i < cf->npool; i++) {
		const struct hop *h = &cf->pool[i];

		if (ci->kind != h->kind)
			continue;
		if (ci->kind == TP_TCP) {
			if (h->has_addr && conf_sockaddr_same_ip(&h->addr, &ci->peer))
				return h;
			continue;
		}
		for (size_t k = 0; k < ci->npeer_names; k++)
			if (strcasecmp(h->fqdn, ci->peer_names[k]) == 0)
				return h;
	}
	return NULL;
}

void
txn_fill_in_peer(struct txn *t, const struct conn_info *ci)
{
	const struct conf *cf = t->w->cf;
	const struct hop *ps;

	memset(&t->in_peer, 0, sizeof(t->in_peer));
	t->in_peer.side = ci->side;
	t->in_peer.kind = ci->kind;
	t->in_peer.conn_id = ci->id;
	if (ci->npeer_names)
		snprintf(t->in_peer.fqdn, sizeof(t->in_peer.fqdn), "%s", ci->peer_names[0]);
	if (ci->outbound) {
		/* A connection we dialled can be dialled again. */
		t->in_peer.has_addr = true;
		t->in_peer.addr = ci->peer;
		if (ci->dialled_fqdn)
			snprintf(t->in_peer.fqdn, sizeof(t->in_peer.fqdn), "%s", ci->dialled_fqdn);
	} else if (ci->side == SIDE_INTERNAL && (ps = pool_server_of(cf, ci)) != NULL) {
		/* The pool server as configured: its name, and its address
		 * when the configuration gives one (else it is looked up). */
		snprintf(t->in_peer.fqdn, sizeof(t->in_peer.fqdn), "%s", ps->fqdn);
		if (ps->has_addr) {
			t->in_peer.has_addr = true;
			t->in_peer.addr = ps->addr;
		}
	} else if (t->in_peer.fqdn[0] && ci->side == SIDE_EXTERNAL) {
		const struct host_conf *hc = conf_host_find(cf, t->in_peer.fqdn);

		if (hc && hc->kind == TP_TLS) {
			t->in_peer.has_addr = true;
			t->in_peer.addr = hc->addr;
			if (!hc->has_port)
				((struct sockaddr_in *)&t->in_peer.addr)->sin_port = htons(5061);
		}
	}
}

/* An accepted inbound request: the name the partner's edge was accepted
 * under is the one to dial it by, should its connection be gone later in the
 * dialog, and its domain and type go into our token. */
static void
accepted(struct txn *t)
{
	if (t->in_side != SIDE_EXTERNAL || t->op.dialog)
		return;
	if (t->op.peer[0] && !t->in_peer.has_addr)
		snprintf(t->in_peer.fqdn, sizeof(t->in_peer.fqdn), "%s", t->op.peer);
	snprintf(t->in_peer.domain, sizeof(t->in_peer.domain), "%s", t->op.domain);
	t->in_peer.fed = (unsigned char)t->op.type;
}

/* The federation counters (stats.h): new requests between the pool and a
 * partner, accepted or refused by policy, per type and domain. */
void
txn_count_decision(struct txn *t)
{
	struct route_op *op = &t->op;
	struct stats *s = &t->w->stats;
	enum stats_dir dir = t->in_side == SIDE_EXTERNAL ? STATS_IN : STATS_OUT;
	enum diag_code d = op->prob.diag;

	if (op->dialog || t->stateless || op->verdict == ROUTE_LOCAL)
		return;
	if (op->verdict == ROUTE_REFUSE) {
		if (d == DIAG_FED_RATE || d == DIAG_FED_CONTACTS || d == DIAG_FED_SUSPICIOUS)
			stats_throttled(s, op->domain);
		else if (d >= 2000 && d < 2100 && op->domain[0])
			stats_federated(s, op->type, op->domain, dir, true);
		return;
	}
	if (op->type != FED_NONE) {
		stats_federated(s, op->type, op->domain, dir, false);
		relay_log_decision(t->w, t->in, t->sip, op, 0, DIAG_NONE, NULL);
	}
}

void
txn_route_act(struct txn *t)
{
	struct route_op *op = &t->op;

	txn_count_decision(t);
	switch (op->verdict) {
	case ROUTE_REFUSE:
		if (!t->stateless) {
			txn_reply(t, op->prob.status, op->prob.diag, op->prob.detail);
			t->last_status = op->prob.status;
		}
		if (t->state == TX_COMPLETED)
			return;
		txn_complete(t, op->prob.status);
		return;
	case ROUTE_LOCAL:
		txn_answer_options(t);
		return;
	case ROUTE_FORWARD:
		accepted(t);
		txn_next_hop(t);
		return;
	case ROUTE_XMPP:
		accepted(t);
		proxy_xmpp_forward(t);
		return;
	}
}

/* A look-up is over (route_start or route_fallback). */
static void
route_done(struct route_op *op)
{
	struct txn *t = (struct txn *)((char *)op - offsetof(struct txn, op));

	if (t->state == TX_COMPLETED)
		return;
	if (!t->in && !t->stateless && !t->probe && !t->local) {
		txn_complete(t, 408);      /* nobody left to answer */
		return;
	}
	txn_route_act(t);
}

/* The sender is the dialog's peer: the connection our token for its side
 * names, or a certificate valid for the name recorded there. */
static bool
bound(struct conn *c, const struct rr_peer *origin)
{
	const struct conn_info *ci = conn_info(c);

	return (ci->id == origin->conn_id && txn_flow_matches(c, origin)) ||
	    (origin->fqdn[0] && ci->kind == TP_TLS && conn_peer_matches(c, origin->fqdn));
}

int
txn_route(struct txn *t)
{
	struct route_op *op = &t->op;

	op->done = route_done;
	if (op->dialog) {
		t->use_flow = true;
		if (t->in && op->have_origin)
			op->bound = bound(t->in, &op->origin);
	}
	return route_start(op);
}

int
txn_fallback(struct txn *t)
{
	/* New hops: dial them from the first, in health order. */
	t->cur = t->nexthop = 0;
	t->ordered = false;
	return route_fallback(&t->op);
}

void
txn_seal_response(struct txn *t, msg_t *msg, sip_t *sip)
{
	struct worker *w = t->w;
	const char *callid = t->sip->sip_call_id->i_id;
	sip_record_route_t *r, *ours_int = NULL, *ours_ext = NULL, *fresh;
	struct rr_peer ext, p;
	char tok[RR_TOKEN_MAX + 2], text[4096];
	int n;

	for (r = sip->sip_record_route; r; r = r->r_next) {
		isize_t k = r->r_url->url_params ?
		    url_param(r->r_url->url_params, RR_PARAM, tok, sizeof(tok)) : 0;

		if (k <= 0 || (size_t)k >= sizeof(tok) ||
		    rr_token_decode(&w->px->key, tok, callid, &p) < 0)
			continue;
		if (p.side == SIDE_INTERNAL && !ours_int)
			ours_int = r;
		else if (p.side == SIDE_EXTERNAL && !ours_ext) {
			ours_ext = r;
			ext = p;
		}
	}
	if (!ours_int || !ours_ext)
		return;
	n = sipmsg_routes_text(sip->sip_record_route, ours_int, true, text, sizeof(text));
	if (n < 0)
		return;
	ext.has_routes = true;
	ext.routes = rr_routes_hash(&w->px->key, text, (size_t)n);
	if ((fresh = txn_make_rr(t, msg, SIDE_EXTERNAL, &ext)) == NULL ||
	    msg_header_replace(msg, (msg_pub_t *)sip, (msg_header_t *)ours_ext, (msg_header_t *)fresh) < 0)
		log_debug("%s: cannot seal the Record-Route of a response", __func__);
}
