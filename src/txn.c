/* txn.c: transactions of the proxy core (RFC 3261 §16, §17 over reliable
 * transports): server-transaction keys, named timers (enum txn_timer: B, F, C, H),
 * forwarding to the next hops with serial failover (RFC 3263 §4.3), our Via and
 * double Record-Route (RFC 5658) with signed tokens, hop-by-hop ACK, CANCEL
 * downstream, and the responses coming back.
 *
 * Ownership: a struct txn belongs to the worker that received its request (the
 * worker owning the upstream connection).  It owns the request message, one
 * reference on each connection it uses, and its timer handle (freed from the close
 * callback). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/msg_header.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_protos.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_util.h>
#include <sofia-sip/su_alloc.h>
#include <sofia-sip/url.h>

#include "proxy_int.h"
#include "sipedge/fmt.h"
#include "sipedge/log.h"
#include "sipedge/fedroute.h"
#include "sipedge/health.h"
#include "sipedge/sipmsg.h"

static void txn_timer_cb(uv_timer_t *tm);

/* Final response from a transaction, upstream. */
void
txn_reply(struct txn *t, int status, enum diag_code d, const char *detail)
{
	if (t->stateless)
		return;         /* an ACK is never answered */
	if (t->probe) {
		probe_final(t->probe, status, d, detail && detail[0] ? detail : diag_lookup(d)->text,
		    NULL, false);
		if (t->probe == NULL)
			return;
	}
	if (t->local) {
		struct txn_local *l = t->local;

		t->local = NULL;
		l->final(l, status, d, detail && detail[0] ? detail : diag_lookup(d)->text, NULL);
		return;
	}
	if (t->in == NULL)
		return;
	proxy_reply_op(t->w, t->in, t->req, t->up_via, t->in_side, status, d, detail, t->to_tag, NULL,
	    &t->op);
}

/* The server transaction key (RFC 3261 §17.2.3); method is INVITE for ACK and
 * CANCEL so they find their INVITE.  RFC 2543 requests (no magic cookie) use
 * Call-ID, CSeq number, From tag and sent-by. */
int
txn_server_key(const sip_t *sip, const char *method, char *out, size_t len)
{
	const sip_via_t *v = sip->sip_via;
	struct fmt f = fmt_init(out, len);

	if (v->v_branch && strncmp(v->v_branch, "z9hG4bK", 7) == 0) {
		fmt_str(&f, v->v_branch);
	} else {
		fmt_str(&f, "2543\x01");
		fmt_str(&f, sip->sip_call_id->i_id);
		fmt_char(&f, '\x01');
		fmt_uint(&f, sip->sip_cseq->cs_seq);
		fmt_char(&f, '\x01');
		fmt_str(&f, sip->sip_from->a_tag);
	}
	fmt_char(&f, '\x01');
	fmt_str(&f, v->v_host);
	fmt_char(&f, ':');
	fmt_str(&f, v->v_port);
	fmt_char(&f, '\x01');
	fmt_str(&f, method);
	return f.over ? -ENOSPC : 0;
}

struct txn *
txn_by_key(struct worker *w, const char *key)
{
	struct hnode *n = hmap_get(&w->by_key, key);

	return n ? hmap_entry(n, struct txn, by_key) : NULL;
}

struct txn *
txn_by_branch(struct worker *w, const char *branch)
{
	struct hnode *n = hmap_get(&w->by_branch, branch);

	return n ? hmap_entry(n, struct txn, by_branch) : NULL;
}

static void
timer_free_cb(uv_handle_t *h)
{
	free(h->data);
}

const char *
txn_timer_name(enum txn_timer which)
{
	switch (which) {
	case TXN_TIMER_B: return "Timer B";
	case TXN_TIMER_F: return "Timer F";
	case TXN_TIMER_C: return "Timer C";
	case TXN_TIMER_C_CANCEL: return "Timer F after Timer C's CANCEL";
	case TXN_TIMER_H: return "Timer H";
	case TXN_TIMER_NONE: break;
	}
	return "no timer";
}

void
txn_arm(struct txn *t, enum txn_timer which)
{
	const struct conf *c = t->w->cf;

	t->timer_running = which;
	uv_timer_start(&t->timer, txn_timer_cb, which == TXN_TIMER_C ? c->timer_c_ms : c->timer_f_ms,
	    0);
}

void
txn_destroy(struct txn *t)
{
	struct worker *w = t->w;

	if (t->in_key_map)
		hmap_del(&w->by_key, &t->by_key);
	if (t->in_branch_map)
		hmap_del(&w->by_branch, &t->by_branch);
	w->ntxns--;
	stats_gauge_dec(&w->stats.transactions);
	if (t->prev)
		t->prev->next = t->next;
	else
		w->txns = t->next;
	if (t->next)
		t->next->prev = t->prev;
	if (t->probe)
		probe_detach(t->probe);
	if (t->local) {
		struct txn_local *l = t->local;

		t->local = NULL;
		l->detach(l);
	}
	txn_dials_close(t);
	route_cancel(&t->op);
	txn_drop_in(t);
	txn_drop_out(t);
	if (t->req)
		msg_destroy(t->req);
	uv_timer_stop(&t->timer);
	uv_close((uv_handle_t *)&t->timer, timer_free_cb);
}

/* Send a message downstream on the transaction's branch, on our connection or
 * through the worker that owns it. */
int
txn_send_down(struct txn *t, msg_t *m)
{
	struct worker *w = t->w, *owner;
	struct post *p;

	if (t->out)
		return conn_send(t->out, m);
	if (!t->out_id)
		return -ENOTCONN;
	owner = worker_by_index(w->px, CONN_ID_WORKER(t->out_id));
	if (!owner || owner == w)
		return -ENOTCONN;
	if (!(p = calloc(1, sizeof(*p))))
		return -ENOMEM;
	if (!(p->msg = msg_dup(m))) {
		free(p);
		return -ENOMEM;
	}
	p->kind = POST_SEND;
	p->conn_id = t->out_id;
	if (t->out_id == t->op.target.conn_id && t->op.target.conn_id) {
		p->flow_check = true;
		p->flow = t->op.target;
	}
	p->from = w->idx;
	memcpy(p->branch, t->branch, sizeof(p->branch));
	return proxy_post(owner, p);
}

void
txn_complete(struct txn *t, int status)
{
	t->state = TX_COMPLETED;
	t->last_status = status;
	route_cancel(&t->op);
	if (t->op.type == FED_DISCOVERED && t->op.domain[0] && status >= 200)
		throttle_outcome(t->w->px->throttle, t->op.domain, status);
	txn_dials_stop(t, false);
	/* An INVITE answered with a failure waits for the hop-by-hop ACK (Timer H
	 * on a reliable transport); everything else is done. */
	if (t->method == sip_method_invite && status >= 300)
		txn_arm(t, TXN_TIMER_H);
	else
		txn_destroy(t);
}

/* Give up on the current branch: next hop, or a final response upstream. */
void
txn_branch_failed(struct txn *t, int status, enum diag_code d, const char *detail)
{
	if (t->state == TX_COMPLETED)
		return;
	t->last_diag = d;
	route_cause(&t->op, detail);
	if (t->in_branch_map) {
		hmap_del(&t->w->by_branch, &t->by_branch);
		t->in_branch_map = false;
	}
	txn_drop_out(t);
	t->out_id = 0;
	if (!t->cancelled && !t->got_provisional && !t->stateless && t->nexthop < t->op.nhops) {
		txn_next_hop(t);
		return;
	}
	if (t->op.dialog && !t->op.fallback_done && !t->cancelled && !t->got_provisional) {
		/* The dialog's connection failed under the request: reach the
		 * peer anew (txn_route_done continues after a look-up). */
		int rc = txn_fallback(t);

		if (rc == ROUTE_FORWARD) {
			txn_next_hop(t);
			return;
		}
		if (rc == ROUTE_PENDING)
			return;
	}
	if (t->stateless) {
		txn_destroy(t);
		return;
	}
	if (t->cancelled) {
		txn_reply(t, 487, DIAG_CANCELLED, NULL);
		txn_complete(t, 487);
		return;
	}
	txn_reply(t, status, d, t->op.causes);
	txn_complete(t, status);
}

static const char *
transport_token(enum tp_kind k)
{
	return k == TP_TCP ? "tcp" : "tls";
}

/* Record-Route URI for one side, carrying the token of that side's peer. */
sip_record_route_t *
txn_make_rr(struct txn *t, msg_t *msg, enum side s, const struct rr_peer *peer)
{
	struct worker *w = t->w;
	char tok[RR_TOKEN_MAX + 1], uri[RR_TOKEN_MAX + CONF_MAX_NAME + 64];

	if (rr_token_encode(&w->px->key, peer, t->sip->sip_call_id->i_id, tok, sizeof(tok)) < 0)
		return NULL;
	snprintf(uri, sizeof(uri), "<sip:%s:%u;transport=%s;lr;" RR_PARAM "=%s>", proxy_side_fqdn(w, s),
	    w->px->port[s], transport_token(w->px->kind[s]), tok);
	return sip_record_route_make(msg_home(msg), uri);
}

/* Put our Via (a fresh branch) and, for dialog-forming requests, our two
 * Record-Routes on the request, and send it on connection c (ours) or to
 * out_id (another worker's). */
void
txn_send_request(struct txn *t, struct conn *c, uint64_t out_id, enum tp_kind kind,
    const struct sockaddr_storage *peer_addr, const char *peer_fqdn)
{
	struct worker *w = t->w;
	su_home_t *home = msg_home(t->req);
	char port[8], param[RR_BRANCH_LEN + 16];
	sip_via_t *v;
	int rc;

	if (c)
		txn_set_out(t, c);
	t->out_id = out_id;
	if (t->op.type == FED_DISCOVERED && t->op.out_side == SIDE_EXTERNAL && peer_fqdn && peer_fqdn[0])
		throttle_peer(w->px->throttle, t->op.domain, peer_fqdn);
	rr_branch_make(&w->px->key, t->in_id, ++w->counter, t->loop, t->branch);
	if (hmap_put(&w->by_branch, &t->by_branch, t->branch) == 0)
		t->in_branch_map = true;

	if (t->our_via)
		msg_header_remove(t->req, (msg_pub_t *)t->sip, (msg_header_t *)t->our_via);
	{
		struct fmt f = fmt_init(port, sizeof(port));

		fmt_uint(&f, w->px->port[t->op.out_side]);
		f = fmt_init(param, sizeof(param));
		fmt_str(&f, "branch=");
		fmt_str(&f, t->branch);
	}
	v = sip_via_create(home, proxy_side_fqdn(w, t->op.out_side), port,
	    kind == TP_TCP ? "SIP/2.0/TCP" : "SIP/2.0/TLS", param, NULL);
	if (!v || msg_header_insert(t->req, (msg_pub_t *)t->sip, (msg_header_t *)v) < 0) {
		txn_branch_failed(t, 500, DIAG_NONE, "out of memory");
		return;
	}
	t->our_via = v;
	if (t->op.out_side == SIDE_EXTERNAL)
		sipmsg_diag_public(t->req, t->sip);     /* the pool's hosts stay inside */

	if (t->op.add_rr) {
		struct rr_peer out_peer;

		memset(&out_peer, 0, sizeof(out_peer));
		out_peer.side = t->op.out_side;
		out_peer.kind = kind;
		out_peer.conn_id = out_id;
		snprintf(out_peer.fqdn, sizeof(out_peer.fqdn), "%s", peer_fqdn ? peer_fqdn : "");
		if (peer_addr) {
			/* We dialled it (TLS or a lab's TCP): it can be dialled again. */
			out_peer.has_addr = true;
			out_peer.addr = *peer_addr;
		}
		if (t->op.out_side == SIDE_EXTERNAL) {
			snprintf(out_peer.domain, sizeof(out_peer.domain), "%s", t->op.domain);
			out_peer.fed = (unsigned char)t->op.type;
			out_peer.has_routes = t->op.has_routes;
			out_peer.routes = t->op.routes;
		}
		if (t->rr_out) {
			msg_header_remove(t->req, (msg_pub_t *)t->sip, (msg_header_t *)t->rr_out);
			t->rr_out = NULL;
		}
		if (!t->rr_in) {
			t->rr_in = txn_make_rr(t, t->req, t->in_side, &t->in_peer);
			if (!t->rr_in || msg_header_insert(t->req, (msg_pub_t *)t->sip, (msg_header_t *)t->rr_in) < 0) {
				txn_branch_failed(t, 500, DIAG_NONE, "cannot add Record-Route");
				return;
			}
		}
		t->rr_out = txn_make_rr(t, t->req, t->op.out_side, &out_peer);
		if (!t->rr_out || msg_header_insert(t->req, (msg_pub_t *)t->sip, (msg_header_t *)t->rr_out) < 0) {
			txn_branch_failed(t, 500, DIAG_NONE, "cannot add Record-Route");
			return;
		}
	}
	rc = txn_send_down(t, t->req);
	if (rc < 0) {
		txn_branch_failed(t, 503, DIAG_HOPS_FAILED, "connection to the next hop failed");
		return;
	}
	if (t->stateless)
		txn_destroy(t);
}


/* A connection found by a token's id must also be the peer the token names. */
bool
txn_flow_matches(struct conn *c, const struct rr_peer *p)
{
	const struct conn_info *ci = conn_info(c);

	if (ci->side != p->side || ci->kind != p->kind)
		return false;
	if (p->fqdn[0] && ci->kind == TP_TLS && !conn_peer_matches(c, p->fqdn))
		return false;
	return true;
}


static void
txn_timer_cb(uv_timer_t *tm)
{
	struct txn *t = tm->data;
	enum txn_timer which = t->timer_running;
	char desc[256];
	msg_t *cancel;

	t->timer_running = TXN_TIMER_NONE;
	log_debug("%s fired for %s", txn_timer_name(which), sipmsg_describe(t->sip, desc, sizeof(desc)));
	switch (which) {
	case TXN_TIMER_H:
		/* No ACK for our failure: the transaction ends anyway. */
		txn_destroy(t);
		return;
	case TXN_TIMER_C:
		/* RFC 3261 §16.8: cancel the branch, then give it timer-f to
		 * answer before we answer for it. */
		if (!t->cancel_sent && (cancel = sipmsg_make_cancel(t->sip)) != NULL) {
			sipmsg_nul_copy(cancel, t->req);
			txn_send_down(t, cancel);
			msg_destroy(cancel);
			t->cancel_sent = true;
		}
		txn_arm(t, TXN_TIMER_C_CANCEL);
		return;
	case TXN_TIMER_B:
	case TXN_TIMER_F:
	case TXN_TIMER_C_CANCEL:
	case TXN_TIMER_NONE:
		break;
	}
	if (t->state == TX_COMPLETED) {
		txn_destroy(t);
		return;
	}
	if (t->cancelled) {
		txn_reply(t, 487, DIAG_CANCELLED, NULL);
		txn_complete(t, 487);
		return;
	}
	STATS_INC(&t->w->stats, timeouts);
	txn_reply(t, 408, DIAG_HOP_TIMEOUT, t->op.hops[t->cur < t->op.nhops ? t->cur : 0].fqdn);
	txn_complete(t, 408);
}

struct txn *
txn_new(struct worker *w, struct conn *c, msg_t *msg, sip_t *sip, const char *key,
    uint32_t loop)
{
	struct txn *t = calloc(1, sizeof(*t));
	const struct conn_info *ci = c ? conn_info(c) : NULL;

	if (!t)
		return NULL;
	t->w = w;
	t->req = msg;
	t->sip = sip;
	t->up_via = sip->sip_via;
	t->method = sip->sip_request->rq_method;
	if (c != NULL) {
		conn_ref(c);
		t->in = c;
		t->in_next = conn_user(c)[0];
		if (t->in_next)
			t->in_next->in_prev = t;
		conn_user(c)[0] = t;
		t->in_id = ci->id;
		t->in_side = ci->side;
	} else {
		t->in_side = SIDE_INTERNAL;     /* the edge's own request (a probe) */
	}
	t->loop = loop;
	{
		struct fmt f = fmt_init(t->to_tag, sizeof(t->to_tag));

		fmt_str(&f, "se");
		fmt_hex(&f, ++w->counter, 8);
		fmt_hex(&f, t->loop, 8);
	}
	uv_timer_init(&w->th.loop, &t->timer);
	t->timer.data = t;
	if (key) {
		snprintf(t->key, sizeof(t->key), "%s", key);
		if (hmap_put(&w->by_key, &t->by_key, t->key) == 0)
			t->in_key_map = true;
	}
	t->next = w->txns;
	if (w->txns)
		w->txns->prev = t;
	w->txns = t;
	w->ntxns++;
	STATS_INC(&w->stats, transactions);
	return t;
}



/* Pop our Via and send the response upstream; consumes msg. */
void
txn_forward_up(struct txn *t, msg_t *msg, sip_t *sip)
{
	unsigned status = sip->sip_status->st_status;

	if (t->probe) {
		probe_final(t->probe, (int)status, DIAG_NONE, sip->sip_status->st_phrase, sip, true);
		msg_destroy(msg);
		return;
	}
	if (t->local) {
		struct txn_local *l = t->local;

		if (status >= 200) {
			t->local = NULL;
			l->final(l, (int)status, DIAG_NONE, sip->sip_status->st_phrase, sip);
		}
		msg_destroy(msg);
		return;
	}
	sip_via_remove(msg, sip);
	if (t->in_side == SIDE_EXTERNAL) {
		sipmsg_diag_public(msg, sip);
		if (t->op.add_rr && status > 100 && status < 300)
			txn_seal_response(t, msg, sip);
	}
	if (!t->in || conn_send(t->in, msg) < 0)
		log_debug("%s: upstream connection gone; %u response dropped", __func__,
		    sip->sip_status->st_status);
	msg_destroy(msg);
}

void
txn_response(struct txn *t, msg_t *msg, sip_t *sip)
{
	int status = (int)sip->sip_status->st_status;
	msg_t *m;

	if (t->state == TX_COMPLETED || sip->sip_cseq->cs_method == sip_method_cancel ||
	    sip->sip_cseq->cs_method == sip_method_ack) {
		/* Answers to our own CANCEL end here (RFC 3261 §16.10). */
		msg_destroy(msg);
		return;
	}
	if (status == 100) {
		/* Timer B stops at any provisional; Timer C governs from now. */
		if (t->method == sip_method_invite && t->timer_running == TXN_TIMER_B)
			txn_arm(t, TXN_TIMER_C);
		t->got_100 = true;
		goto maybe_cancel;
	}
	if (status < 200) {
		t->got_provisional = true;
		t->state = TX_PROCEEDING;
		if (t->method == sip_method_invite && t->timer_running != TXN_TIMER_C_CANCEL)
			txn_arm(t, TXN_TIMER_C);
		txn_forward_up(t, msg, sip);
		msg = NULL;
		goto maybe_cancel;
	}
	if (status >= 300 && t->method == sip_method_invite) {
		/* Hop-by-hop ACK of a failure (RFC 3261 §17.1.1.3). */
		if ((m = sipmsg_make_ack(t->sip, sip)) != NULL) {
			sipmsg_nul_copy(m, t->req);
			txn_send_down(t, m);
			msg_destroy(m);
		}
	}
	if (status == 503 && !t->got_provisional && !t->cancelled && t->cur + 1 < t->op.nhops) {
		char desc[256];

		log_info("next hop %s answered 503 for %s; trying the next", t->op.hops[t->cur].fqdn,
		    sipmsg_describe(t->sip, desc, sizeof(desc)));
		msg_destroy(msg);
		txn_branch_failed(t, 503, DIAG_HOPS_FAILED, "next hop answered 503");
		return;
	}
	txn_forward_up(t, msg, sip);
	txn_complete(t, status);
	return;

maybe_cancel:
	if (msg)
		msg_destroy(msg);
	if (t->cancel_pending && !t->cancel_sent && (m = sipmsg_make_cancel(t->sip)) != NULL) {
		sipmsg_nul_copy(m, t->req);
		txn_send_down(t, m);
		msg_destroy(m);
		t->cancel_sent = true;
		t->cancel_pending = false;
	}
}

/* A response for transaction t could not be taken (over the size limit): the
 * request was processed downstream, so no other hop is tried. */
void
txn_response_unusable(struct txn *t, int status)
{
	char desc[256];

	if (t->state == TX_COMPLETED || t->stateless)
		return;
	log_info("the response of %s to %s could not be read (%d); answering 502",
	    t->op.hops[t->cur < t->op.nhops ? t->cur : 0].fqdn, sipmsg_describe(t->sip, desc, sizeof(desc)),
	    status);
	if (t->in_branch_map) {
		hmap_del(&t->w->by_branch, &t->by_branch);
		t->in_branch_map = false;
	}
	txn_reply(t, 502, status == 513 ? DIAG_TOO_LARGE : DIAG_FRAMING,
	    status == 513 ? "response over the size limit" : "unparsable response");
	txn_complete(t, 502);
}

void
txn_answer_options(struct txn *t)
{
	msg_t *r = sipmsg_options_response(t->req, t->up_via, t->to_tag);

	if (r) {
		if (t->in && conn_send(t->in, r) < 0)
			log_debug("%s: OPTIONS answer not sent: connection closing", __func__);
		msg_destroy(r);
	}
	txn_complete(t, 200);
}

/* ---- the transactions of a connection ------------------------------------ */

void
txn_set_out(struct txn *t, struct conn *c)
{
	txn_drop_out(t);
	conn_ref(c);
	t->out = c;
	t->out_prev = NULL;
	t->out_next = conn_user(c)[1];
	if (t->out_next)
		t->out_next->out_prev = t;
	conn_user(c)[1] = t;
}

void
txn_drop_in(struct txn *t)
{
	if (!t->in)
		return;
	if (t->in_prev)
		t->in_prev->in_next = t->in_next;
	else
		conn_user(t->in)[0] = t->in_next;
	if (t->in_next)
		t->in_next->in_prev = t->in_prev;
	t->in_prev = t->in_next = NULL;
	conn_unref(t->in);
	t->in = NULL;
}

void
txn_drop_out(struct txn *t)
{
	if (!t->out)
		return;
	if (t->out_prev)
		t->out_prev->out_next = t->out_next;
	else
		conn_user(t->out)[1] = t->out_next;
	if (t->out_next)
		t->out_next->out_prev = t->out_prev;
	t->out_prev = t->out_next = NULL;
	conn_unref(t->out);
	t->out = NULL;
}

void
txn_conn_closed(struct conn *c)
{
	struct txn *t;
	char pd[160], why[200];

	while ((t = conn_user(c)[0]) != NULL)
		txn_drop_in(t);
	/* A branch failing may start the next one, on another connection:
	 * each transaction leaves this list before anything else happens. */
	while ((t = conn_user(c)[1]) != NULL) {
		if (t->state == TX_COMPLETED) {
			txn_drop_out(t);
			continue;
		}
		txn_drop_out(t);
		snprintf(why, sizeof(why), "connection lost: %s", proxy_peer_str(c, pd, sizeof(pd)));
		txn_branch_failed(t, 503, DIAG_HOPS_FAILED, why);
	}
}
