/* relay.c: the entry points of the transaction-stateful proxy core: a message
 * from a connection (request checks RFC 3261 §16.3, loop detection, CANCEL,
 * retransmissions, overload), responses back to their transaction (on this
 * worker or another), connections closing, the cross-worker mailbox, and the
 * responses the edge makes itself with their diagnostics.  Transactions are in
 * txn.c, routing in route.c. */
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
#include "sipedge/sipmsg.h"

const char *
proxy_side_fqdn(const struct worker *w, enum side s)
{
	return s == SIDE_EXTERNAL ? w->cf->edge_fqdn : w->cf->internal_fqdn;
}

const char *
proxy_peer_str(const struct conn *c, char *buf, size_t len)
{
	const struct conn_info *ci = conn_info(c);
	char a[80];

	snprintf(buf, len, "%s peer %s%s%s", ci->side == SIDE_EXTERNAL ? "external" : "internal",
	    conf_sockaddr_str(&ci->peer, a, sizeof(a)), ci->npeer_names ? " " : "",
	    ci->npeer_names ? ci->peer_names[0] : "");
	return buf;
}

static void
send_response(struct conn *c, msg_t *r)
{
	if (c && r && conn_send(c, r) < 0)
		log_debug("%s: response not sent: connection closing", __func__);
	if (r)
		msg_destroy(r);
}

/* A response made by the edge itself: to a request (via = its own Vias). */
void
proxy_reply_op(struct worker *w, struct conn *c, msg_t *req, const sip_via_t *via, enum side side,
    int status, enum diag_code d, const char *detail, const char *to_tag, const char *unsupported,
    const struct route_op *op)
{
	const sip_t *sip = sip_object(req);
	const struct diag_info *di = diag_lookup(d);
	struct sip_diag sd = { d, detail, proxy_side_fqdn(w, side) };
	char pd[160], tag[24];
	msg_t *r;

	if (!to_tag) {
		/* Stateless: a To tag that is the same for a retransmission. */
		const char *b = via && via->v_branch ? via->v_branch : "";

		struct fmt f = fmt_init(tag, sizeof(tag));

		fmt_str(&f, "se");
		fmt_hex(&f, rr_siphash(&w->px->key, b, strlen(b)), 16);
		to_tag = tag;
	}
	r = sipmsg_response(sip, via, status, d != DIAG_NONE && di->status == status ? di->phrase : NULL,
	    to_tag, d != DIAG_NONE ? &sd : NULL, unsupported);
	if (r && d == DIAG_OVERLOAD)
		sip_add_make(r, sip_object(r), sip_retry_after_class, "5");
	if (r)
		sipmsg_nul_copy(r, req);       /* NULs in the headers we echo */
	if (!r && c) {
		/* Not even a response can be made of it: the peer is broken. */
		log_info("closing %s: cannot answer its malformed request", proxy_peer_str(c, pd, sizeof(pd)));
		conn_close(c);
		return;
	}
	if (d != DIAG_NONE && status >= 300) {
		stats_refusal(&w->stats, d);
		if (d == DIAG_OVERLOAD)
			STATS_INC(&w->stats, overload);
		/* Overload refusals are many by nature: the worker reports them
		 * in sum (proxy.c); one line each only at debug level. */
		relay_log_decision(w, c, sip, op, status, d, detail);
	}
	send_response(c, r);
}

static void
handle_cancel(struct worker *w, struct conn *c, msg_t *msg, sip_t *sip, enum side side)
{
	char key[KEY_MAX];
	struct txn *t = NULL;
	msg_t *cancel;

	if (txn_server_key(sip, "INVITE", key, sizeof(key)) == 0)
		t = txn_by_key(w, key);
	if (!t) {
		proxy_reply(w, c, msg, sip->sip_via, side, 481, DIAG_NO_TRANSACTION, "CANCEL matches no INVITE", NULL, NULL);
		msg_destroy(msg);
		return;
	}
	/* 200 for the CANCEL itself (RFC 3261 §16.10), then cancel our branch. */
	proxy_reply(w, c, msg, sip->sip_via, side, 200, DIAG_NONE, NULL, NULL, NULL);
	msg_destroy(msg);
	if (t->state == TX_COMPLETED || t->cancelled)
		return;
	t->cancelled = true;
	if (!t->out && !t->out_id) {
		/* Still looking for a next hop: nothing downstream to cancel. */
		txn_reply(t, 487, DIAG_CANCELLED, NULL);
		txn_complete(t, 487);
		return;
	}
	if (!t->got_100 && !t->got_provisional) {
		t->cancel_pending = true;   /* RFC 3261 §9.1: wait for a provisional */
		return;
	}
	if ((cancel = sipmsg_make_cancel(t->sip)) != NULL) {
		sipmsg_nul_copy(cancel, t->req);
		txn_send_down(t, cancel);
		msg_destroy(cancel);
		t->cancel_sent = true;
	}
}

/* Overload control for a new request.  The worker's tick samples the loop
 * (once a second while idle), but one loop turn that reads a flood can last
 * longer than the interval, and its timers wait for it: sample from here too
 * when the interval is up. */
static bool
admit_new(struct worker *w)
{
	if ((++w->load_calls & 15) == 0) {
		uint64_t now = uv_hrtime();

		if (now - w->load.last_ns >= (uint64_t)LOAD_INTERVAL_MS * 1000000u)
			load_sample(&w->load, worker_idle_ns(&w->th), w->th.turns, now);
	}
	return load_admit(&w->load);
}

static void
handle_request(struct worker *w, struct conn *c, msg_t *msg, sip_t *sip)
{
	const struct conn_info *ci = conn_info(c);
	struct sip_problem prob;
	char key[KEY_MAX];
	uint32_t loop;
	struct txn *t;
	sip_method_t m;
	int rc;

	if (sipmsg_check_request(msg, sip, &prob) < 0) {
		if (prob.status > 0)
			proxy_reply(w, c, msg, sip->sip_via, ci->side, prob.status, prob.diag, prob.detail, NULL,
			    prob.unsupported);
		if (prob.status < 0 || !sip->sip_from || !sip->sip_to || !sip->sip_call_id) {
			/* No Via to answer along, or an answer the peer cannot match
			 * to its request: a stream peer this broken is cut off
			 * (RFC 3261 §18.3 allows closing on a framing problem). */
			log_info("closing %s: %s", proxy_peer_str(c, key, sizeof(key)), prob.detail);
			conn_close(c);
		}
		msg_destroy(msg);
		return;
	}
	sipmsg_via_stamp(msg, sip, &ci->peer);
	m = sip->sip_request->rq_method;

	if (m == sip_method_cancel) {
		handle_cancel(w, c, msg, sip, ci->side);
		return;
	}
	/* Overload control (load.h): a new request out of a dialog may be
	 * refused here, before it costs a transaction, a route or a next hop;
	 * requests in a dialog (a BYE must end what exists) and ACKs go on. */
	if (m != sip_method_ack && !(sip->sip_to && sip->sip_to->a_tag) && !admit_new(w)) {
		proxy_reply(w, c, msg, sip->sip_via, ci->side, 503, DIAG_OVERLOAD, "overloaded",
		    NULL, NULL);
		msg_destroy(msg);
		return;
	}
	if (txn_server_key(sip, m == sip_method_ack ? "INVITE" : sip->sip_request->rq_method_name,
		key, sizeof(key)) < 0) {
		proxy_reply(w, c, msg, sip->sip_via, ci->side, 400, DIAG_MALFORMED, "Via too long", NULL, NULL);
		msg_destroy(msg);
		return;
	}
	if (m == sip_method_ack) {
		struct txn *inv = txn_by_key(w, key);

		if (inv && inv->state == TX_COMPLETED && inv->last_status >= 300) {
			/* The ACK of a failure we forwarded: hop by hop, absorbed. */
			msg_destroy(msg);
			return;
		}
		key[0] = '\0';
	} else if (txn_by_key(w, key)) {
		/* A retransmission (or a merged request): the transaction answers. */
		msg_destroy(msg);
		return;
	}

	/* Loop detection (RFC 3261 §16.3 item 4): our own Via with this request's
	 * loop hash means it came back unchanged. */
	loop = sipmsg_loop_hash(sip);
	for (const sip_via_t *v = sip->sip_via; v; v = v->v_next) {
		uint32_t vloop;

		if (v->v_branch && rr_branch_parse(&w->px->key, v->v_branch, NULL, &vloop) == 0 &&
		    vloop == loop) {
			if (m != sip_method_ack)
				proxy_reply(w, c, msg, sip->sip_via, ci->side, 482, DIAG_LOOP, NULL, NULL, NULL);
			msg_destroy(msg);
			return;
		}
	}

	/* Overload: refuse new work before it costs memory (RFC 3261 §21.5.4;
	 * Retry-After asks well-behaved peers to back off). */
	t = w->ntxns < w->max_txns ? txn_new(w, c, msg, sip, key[0] ? key : NULL, loop) : NULL;
	if (!t && m == sip_method_ack) {
		msg_destroy(msg);
		return;
	}
	if (!t) {
		proxy_reply(w, c, msg, sip->sip_via, ci->side, 503, DIAG_OVERLOAD,
		    w->ntxns >= w->max_txns ? "too many requests in progress" : "out of memory", NULL, NULL);
		msg_destroy(msg);
		return;
	}
	t->stateless = m == sip_method_ack;
	t->op.env = &w->renv;
	t->op.msg = msg;
	t->op.sip = sip;
	t->op.side = ci->side;
	t->op.peer_names = (const char *const *)ci->peer_names;
	t->op.npeer = ci->npeer_names;
	if (ci->side == SIDE_INTERNAL && !route_internal_allowed(w->cf, t->op.peer_names,
	    t->op.npeer, ci->kind, &ci->peer)) {
		t->op.prob.status = 403;
		t->op.prob.diag = DIAG_INTERNAL_NOT_ALLOWED;
		snprintf(t->op.prob.detail, sizeof(t->op.prob.detail), "%s",
		    ci->npeer_names ? ci->peer_names[0] : "peer");
		rc = ROUTE_REFUSE;
	} else if (route_pop_own(&t->op) < 0) {
		rc = ROUTE_REFUSE;
	} else {
		txn_fill_in_peer(t, ci);
		rc = txn_route(t);
	}
	if (rc == ROUTE_REFUSE) {
		txn_count_decision(t);
		if (!t->stateless) {
			proxy_reply_op(w, c, msg, t->up_via, ci->side, t->op.prob.status,
			    t->op.prob.diag, t->op.prob.detail, t->to_tag, NULL, &t->op);
			t->last_status = t->op.prob.status;
		}
		t->state = TX_COMPLETED;
		txn_destroy(t);
		return;
	}
	if (rc == ROUTE_LOCAL) {
		txn_answer_options(t);
		return;
	}

	/* Max-Forwards (RFC 3261 §16.6 item 3). */
	if (sip->sip_max_forwards) {
		sip->sip_max_forwards->mf_count--;
		msg_fragment_clear(sip->sip_max_forwards->mf_common);
	} else
		sip_add_make(msg, sip, sip_max_forwards_class, "70");

	if (m == sip_method_invite) {
		proxy_reply(w, c, msg, t->up_via, ci->side, 100, DIAG_NONE, NULL, t->to_tag, NULL);
		txn_arm(t, TXN_TIMER_B);
	} else if (!t->stateless)
		txn_arm(t, TXN_TIMER_F);
	if (rc == ROUTE_FORWARD || rc == ROUTE_XMPP)
		txn_route_act(t);
	/* else a look-up continues it (txn_route_act from its callback). */
}

/* A response on this worker whose transaction is here (or gone). */
static void
handle_response_local(struct worker *w, msg_t *msg, sip_t *sip, uint64_t in_id)
{
	struct txn *t = txn_by_branch(w, sip->sip_via->v_branch);
	struct conn *up;

	if (t) {
		txn_response(t, msg, sip);
		return;
	}
	/* No transaction (a 2xx retransmission, or a late answer): forward it
	 * statelessly to the connection our branch names (RFC 3261 §16.11). */
	if (sip->sip_status->st_status >= 200 && sip->sip_status->st_status < 300 &&
	    sip->sip_cseq->cs_method == sip_method_invite &&
	    (up = transport_conn_find(w->tw, in_id)) != NULL) {
		sip_via_remove(msg, sip);
		conn_send(up, msg);
	}
	msg_destroy(msg);
}

static void
handle_response(struct worker *w, struct conn *c, msg_t *msg, sip_t *sip)
{
	uint64_t in_id;
	struct worker *owner;
	struct post *p;

	if (sipmsg_check_response(msg, sip) < 0 ||
	    rr_branch_parse(&w->px->key, sip->sip_via->v_branch, &in_id, NULL) < 0) {
		/* Not for us: a response never gets a response (RFC 3261 §18.1.2). */
		log_debug("dropped a response that is not ours from connection %" PRIx64, conn_info(c)->id);
		msg_destroy(msg);
		return;
	}
	owner = worker_by_index(w->px, CONN_ID_WORKER(in_id));
	if (!owner) {
		msg_destroy(msg);
		return;
	}
	if (owner == w) {
		handle_response_local(w, msg, sip, in_id);
		return;
	}
	if (!(p = calloc(1, sizeof(*p)))) {
		msg_destroy(msg);
		return;
	}
	p->kind = POST_RESPONSE;
	p->msg = msg;
	p->conn_id = in_id;
	p->from = w->idx;
	proxy_post(owner, p);
}

/* A response whose framing failed, for our branch: tell its transaction,
 * wherever it lives. */
static void
proxy_response_unusable(struct worker *w, const char *branch, int status)
{
	uint64_t in_id;
	struct worker *owner;
	struct post *p;
	struct txn *t;

	if (rr_branch_parse(&w->px->key, branch, &in_id, NULL) < 0 ||
	    (owner = worker_by_index(w->px, CONN_ID_WORKER(in_id))) == NULL)
		return;
	if (owner == w) {
		if ((t = txn_by_branch(w, branch)) != NULL)
			txn_response_unusable(t, status);
		return;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return;
	p->kind = POST_RESPONSE_BAD;
	p->status = status;
	p->from = w->idx;
	snprintf(p->branch, sizeof(p->branch), "%s", branch);
	proxy_post(owner, p);
}

void
proxy_on_message(struct conn *c, msg_t *msg, int status, void *ud)
{
	struct worker *w = ud;
	sip_t *sip = msg ? sip_object(msg) : NULL;

	if (status != 0) {
		/* Framing lost: answer if we can tell whom, then the transport closes. */
		if (sip && sip->sip_status && sip->sip_via && sip->sip_via->v_branch)
			proxy_response_unusable(w, sip->sip_via->v_branch, status);
		if (sip && sip->sip_request && sip->sip_via && sip->sip_cseq && sip->sip_call_id &&
		    sip->sip_from && sip->sip_to)
			proxy_reply(w, c, msg, sip->sip_via, conn_info(c)->side, status,
			    status == 513 ? DIAG_TOO_LARGE : status == 414 ? DIAG_URI_TOO_LONG :
			    DIAG_FRAMING, NULL, NULL, NULL);
		else {
			char pd[160];

			log_info("closing %s after a framing error (%d)", proxy_peer_str(c, pd, sizeof(pd)), status);
		}
		if (msg)
			msg_destroy(msg);
		return;
	}
	if (!sip) {
		msg_destroy(msg);
		return;
	}
	if (sip->sip_request)
		handle_request(w, c, msg, sip);
	else if (sip->sip_status)
		handle_response(w, c, msg, sip);
	else
		msg_destroy(msg);
}

void
proxy_on_closed(struct conn *c, void *ud)
{
	(void)ud;
	txn_conn_closed(c);
}

void
relay_on_post(struct worker *w, struct post *p)
{
	struct conn *c;
	struct txn *t;

	switch (p->kind) {
	case POST_RESPONSE:
		handle_response_local(w, p->msg, sip_object(p->msg), p->conn_id);
		p->msg = NULL;
		break;
	case POST_SEND:
		c = transport_conn_find(w->tw, p->conn_id);
		if (!c || (p->flow_check && !txn_flow_matches(c, &p->flow)) || conn_send(c, p->msg) < 0) {
			struct worker *from = worker_by_index(w->px, p->from);
			struct post *f = calloc(1, sizeof(*f));

			if (from && f) {
				f->kind = POST_SEND_FAILED;
				memcpy(f->branch, p->branch, sizeof(f->branch));
				f->from = w->idx;
				proxy_post(from, f);
			} else
				free(f);
		}
		break;
	case POST_SEND_FAILED:
		/* The dialog's connection on the other worker is gone:
		 * txn_branch_failed reaches its peer anew (route_fallback). */
		t = txn_by_branch(w, p->branch);
		if (t && t->state != TX_COMPLETED)
			txn_branch_failed(t, 430, DIAG_FLOW_GONE, NULL);
		break;
	case POST_RESPONSE_BAD:
		if ((t = txn_by_branch(w, p->branch)) != NULL)
			txn_response_unusable(t, p->status);
		break;
	case POST_POLICY:
		if (w->renv.pol)
			policy_unref(w->renv.pol);
		w->renv.pol = p->policy;        /* the post's reference becomes ours */
		p->policy = NULL;
		if (w->xgw)
			proxy_xmpp_policy(w);
		break;
	case POST_ADOPT:
		transport_worker_adopt(w->tw, p->handoff);
		p->handoff = NULL;
		break;
	case POST_QUERY:
		proxy_query_run(w, p->query);   /* released with the post */
		break;
	case POST_CONF:
		proxy_reload_run(w, p->reload); /* released with the post */
		break;
	case POST_TRACE:
		w->trace.on = p->trace_on;
		snprintf(w->trace.domain, sizeof(w->trace.domain), "%s", p->trace_domain);
		transport_worker_trace(w->tw, p->trace_on);
		break;
	case POST_PROBE:
		proxy_probe_run(w, p->probe);
		p->probe = NULL;                /* the job reports by itself */
		break;
	case POST_XMPP:
		xmpp_sip_request(w, p->msg, p->trace_domain, p->key, p->from);
		p->msg = NULL;
		if (p->handed)
			xmpp_share_handed(w->px->xshare, -1);
		break;
	case POST_XMPP_DONE:
		proxy_xmpp_done(w, p->key, p->status, p->diag, p->text, p->answer);
		break;
	case POST_XMPP_QUERY:
		proxy_xmpp_query_run(w, p->xquery);
		p->xquery = NULL;               /* the job reports by itself */
		break;
	}
	proxy_post_free(p);
}

void
relay_shutdown(struct worker *w)
{
	struct txn *t, *next;

	/* Every request accepted gets a final response, also at shutdown. */
	for (t = w->txns; t; t = next) {
		next = t->next;
		if (t->state != TX_COMPLETED && !t->stateless)
			txn_reply(t, 503, DIAG_OVERLOAD, "edge shutting down");
		txn_destroy(t);
	}
}
