/* proxy.c: the transaction-stateful proxy core (RFC 3261 §16, §17 over reliable
 * transports): request checks, who may send what where (no open relay), Via and
 * double Record-Route (RFC 5658) with signed tokens, serial failover between next
 * hops (RFC 3263 §4.3), CANCEL, hop-by-hop ACK, Timer C / Timer F.
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
#include "sipedge/log.h"
#include "sipedge/fedroute.h"
#include "sipedge/sipmsg.h"

#define MAX_HOPS 8
#define TRUST_HEADER "ms-edge-proxy-message-trust"
#define KEY_MAX 512

enum txn_state {
	TX_TRYING,           /* looking for a next hop / waiting for the first response */
	TX_PROCEEDING,       /* a provisional response came back */
	TX_COMPLETED,        /* final response sent upstream; INVITE waits for the ACK */
};

struct txn {
	struct worker *w;
	struct txn *prev, *next;          /* the worker's list */
	struct hnode by_key;
	struct hnode by_branch;
	bool in_key_map, in_branch_map;
	char key[KEY_MAX];
	char branch[RR_BRANCH_LEN + 1];
	char to_tag[24];

	msg_t *req;                       /* the request, edited in place for forwarding */
	sip_t *sip;
	sip_via_t *up_via;                /* first Via of the upstream request */
	sip_method_t method;
	uint32_t loop;
	struct conn *in;                  /* upstream connection (ref), NULL once closed */
	uint64_t in_id;
	enum side in_side, out_side;
	bool stateless;                   /* ACK for a 2xx: forward and forget */

	struct hop hops[MAX_HOPS];
	size_t nhops, cur;
	bool use_flow;                    /* in-dialog: the connection in flow first */
	struct rr_peer flow;
	bool add_rr;
	struct rr_peer in_peer;           /* the upstream side, for our Record-Route */

	struct conn *out;                 /* downstream connection, if it is ours (ref) */
	uint64_t out_id;                  /* downstream connection id (ours or another worker's) */
	struct dial_req *dial;
	sip_via_t *our_via;
	sip_record_route_t *rr_in, *rr_out;

	/* federation: who the partner is, and finding its edge */
	enum fed_type fed;
	char fed_domain[CONF_MAX_NAME];
	struct fed_in *fin;               /* inbound: awaiting its SRV check */
	struct dns_query *q;              /* look-up in flight */
	struct res_target *res;           /* SRV targets to resolve, in order */
	size_t res_n, res_i;
	enum diag_code res_diag;

	enum txn_state state;
	bool got_100, got_provisional, cancelled, cancel_pending, cancel_sent, timer_c_fired;
	int last_status;
	enum diag_code last_diag;
	char last_detail[384];
	uv_timer_t timer;
};

struct res_target {
	char fqdn[CONF_MAX_NAME];
	unsigned short port;
};

static void txn_next_hop(struct txn *t);
static void txn_destroy(struct txn *t);

static const char *
side_fqdn(const struct worker *w, enum side s)
{
	return s == SIDE_EXTERNAL ? w->px->conf->edge_fqdn : w->px->conf->internal_fqdn;
}

static const char *
peer_str(const struct conn *c, char *buf, size_t len)
{
	const struct conn_info *ci = conn_info(c);
	char a[80];

	snprintf(buf, len, "%s peer %s%s%s", ci->side == SIDE_EXTERNAL ? "external" : "internal",
	    conf_sockaddr_str(&ci->peer, a, sizeof(a)), ci->npeer_names ? " " : "",
	    ci->npeer_names ? ci->peer_names[0] : "");
	return buf;
}

/* ---- responses we make ------------------------------------------------- */

static void
send_response(struct conn *c, msg_t *r)
{
	if (c && r && conn_send(c, r) < 0)
		log_debug("%s: response not sent: connection closing", __func__);
	if (r)
		msg_destroy(r);
}

/* A response made by the edge itself: to a request (via = its own Vias). */
static void
reply(struct worker *w, struct conn *c, const sip_t *sip, const sip_via_t *via, enum side side,
    int status, enum diag_code d, const char *detail, const char *to_tag, const char *unsupported)
{
	const struct diag_info *di = diag_lookup(d);
	struct sip_diag sd = { d, detail, side_fqdn(w, side) };
	char desc[256], pd[160], tag[24];
	msg_t *r;

	if (!to_tag) {
		/* Stateless: a To tag that is the same for a retransmission. */
		const char *b = via && via->v_branch ? via->v_branch : "";

		snprintf(tag, sizeof(tag), "se%016" PRIx64, rr_siphash(&w->px->key, b, strlen(b)));
		to_tag = tag;
	}
	r = sipmsg_response(sip, via, status, d != DIAG_NONE && di->status == status ? di->phrase : NULL,
	    to_tag, d != DIAG_NONE ? &sd : NULL, unsupported);
	if (r && d == DIAG_OVERLOAD)
		sip_add_make(r, sip_object(r), sip_retry_after_class, "5");
	if (!r && c) {
		/* Not even a response can be made of it: the peer is broken. */
		log_info("closing %s: cannot answer its malformed request", peer_str(c, pd, sizeof(pd)));
		conn_close(c);
		return;
	}
	if (d != DIAG_NONE && status >= 300) {
		atomic_fetch_add(&w->px->refused, 1);
		log_info("refused %s from %s: %d %u %s", sipmsg_describe(sip, desc, sizeof(desc)),
		    c ? peer_str(c, pd, sizeof(pd)) : "(gone)", status, (unsigned)d,
		    detail && detail[0] ? detail : di->text);
	}
	send_response(c, r);
}

/* Final response from a transaction, upstream. */
static void
txn_reply(struct txn *t, int status, enum diag_code d, const char *detail)
{
	if (t->stateless)
		return;         /* an ACK is never answered */
	reply(t->w, t->in, t->sip, t->up_via, t->in_side, status, d, detail, t->to_tag, NULL);
}

/* ---- transaction bookkeeping ------------------------------------------ */

/* The server transaction key (RFC 3261 §17.2.3); method is INVITE for ACK and
 * CANCEL so they find their INVITE.  RFC 2543 requests (no magic cookie) use
 * Call-ID, CSeq number, From tag and sent-by. */
static int
server_key(const sip_t *sip, const char *method, char *out, size_t len)
{
	const sip_via_t *v = sip->sip_via;
	int n;

	if (v->v_branch && strncmp(v->v_branch, "z9hG4bK", 7) == 0)
		n = snprintf(out, len, "%s\x01%s:%s\x01%s", v->v_branch, v->v_host ? v->v_host : "",
		    v->v_port ? v->v_port : "", method);
	else
		n = snprintf(out, len, "2543\x01%s\x01%u\x01%s\x01%s:%s\x01%s", sip->sip_call_id->i_id,
		    sip->sip_cseq->cs_seq, sip->sip_from->a_tag ? sip->sip_from->a_tag : "",
		    v->v_host ? v->v_host : "", v->v_port ? v->v_port : "", method);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static struct txn *
txn_by_key(struct worker *w, const char *key)
{
	struct hnode *n = hmap_get(&w->by_key, key);

	return n ? hmap_entry(n, struct txn, by_key) : NULL;
}

static struct txn *
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

static void
txn_timer_cb(uv_timer_t *tm);

static void
txn_arm(struct txn *t, unsigned ms)
{
	uv_timer_start(&t->timer, txn_timer_cb, ms, 0);
}

static void
txn_destroy(struct txn *t)
{
	struct worker *w = t->w;

	if (t->in_key_map)
		hmap_del(&w->by_key, &t->by_key);
	if (t->in_branch_map)
		hmap_del(&w->by_branch, &t->by_branch);
	w->ntxns--;
	if (t->prev)
		t->prev->next = t->next;
	else
		w->txns = t->next;
	if (t->next)
		t->next->prev = t->prev;
	if (t->dial)
		transport_dial_cancel(t->dial);
	if (t->q)
		dns_cancel(t->q);
	free(t->res);
	free(t->fin);
	if (t->in)
		conn_unref(t->in);
	if (t->out)
		conn_unref(t->out);
	if (t->req)
		msg_destroy(t->req);
	uv_timer_stop(&t->timer);
	uv_close((uv_handle_t *)&t->timer, timer_free_cb);
}

/* Send a message downstream on the transaction's branch, on our connection or
 * through the worker that owns it. */
static int
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
	if (t->out_id == t->flow.conn_id && t->flow.conn_id) {
		p->flow_check = true;
		p->flow = t->flow;
	}
	p->from = w->idx;
	memcpy(p->branch, t->branch, sizeof(p->branch));
	return worker_post(owner, p);
}

static void
txn_complete(struct txn *t, int status)
{
	t->state = TX_COMPLETED;
	t->last_status = status;
	if (t->q) {
		dns_cancel(t->q);
		t->q = NULL;
	}
	if (t->fed == FED_DISCOVERED && t->fed_domain[0] && status >= 200)
		throttle_outcome(t->w->px->throttle, t->fed_domain, status);
	if (t->dial) {
		transport_dial_cancel(t->dial);
		t->dial = NULL;
	}
	/* An INVITE answered with a failure waits for the hop-by-hop ACK (Timer H
	 * on a reliable transport); everything else is done. */
	if (t->method == sip_method_invite && status >= 300)
		txn_arm(t, t->w->px->conf->timer_f_ms);
	else
		txn_destroy(t);
}

/* Give up on the current branch: next hop, or a final response upstream. */
static void
txn_branch_failed(struct txn *t, int status, enum diag_code d, const char *detail)
{
	if (t->state == TX_COMPLETED)
		return;
	t->last_diag = d;
	snprintf(t->last_detail, sizeof(t->last_detail), "%s", detail ? detail : "");
	if (t->in_branch_map) {
		hmap_del(&t->w->by_branch, &t->by_branch);
		t->in_branch_map = false;
	}
	if (t->out) {
		conn_unref(t->out);
		t->out = NULL;
	}
	t->out_id = 0;
	if (!t->cancelled && !t->got_provisional && !t->stateless && t->cur + 1 < t->nhops) {
		t->cur++;
		txn_next_hop(t);
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
	txn_reply(t, status, d, t->last_detail);
	txn_complete(t, status);
}

/* ---- forwarding -------------------------------------------------------- */

static const char *
transport_token(enum tp_kind k)
{
	return k == TP_TCP ? "tcp" : "tls";
}

/* Record-Route URI for one side, carrying the token of that side's peer. */
static sip_record_route_t *
make_rr(struct txn *t, enum side s, const struct rr_peer *peer)
{
	struct worker *w = t->w;
	char tok[RR_TOKEN_MAX + 1], uri[RR_TOKEN_MAX + CONF_MAX_NAME + 64];

	if (rr_token_encode(&w->px->key, peer, t->sip->sip_call_id->i_id, tok, sizeof(tok)) < 0)
		return NULL;
	snprintf(uri, sizeof(uri), "<sip:%s:%u;transport=%s;lr;" RR_PARAM "=%s>", side_fqdn(w, s),
	    w->px->port[s], transport_token(w->px->kind[s]), tok);
	return sip_record_route_make(msg_home(t->req), uri);
}

/* Put our Via (a fresh branch) and, for dialog-forming requests, our two
 * Record-Routes on the request, and send it on connection c (ours) or to
 * out_id (another worker's). */
static void
txn_send_request(struct txn *t, struct conn *c, uint64_t out_id, enum tp_kind kind,
    const struct sockaddr_storage *peer_addr, const char *peer_fqdn)
{
	struct worker *w = t->w;
	su_home_t *home = msg_home(t->req);
	char port[8], param[RR_BRANCH_LEN + 16];
	sip_via_t *v;
	int rc;

	if (c) {
		conn_ref(c);
		t->out = c;
	}
	t->out_id = out_id;
	if (t->fed == FED_DISCOVERED && t->out_side == SIDE_EXTERNAL && peer_fqdn && peer_fqdn[0])
		throttle_peer(w->px->throttle, t->fed_domain, peer_fqdn);
	rr_branch_make(&w->px->key, t->in_id, ++w->counter, t->loop, t->branch);
	if (hmap_put(&w->by_branch, &t->by_branch, t->branch) == 0)
		t->in_branch_map = true;

	if (t->our_via)
		msg_header_remove(t->req, (msg_pub_t *)t->sip, (msg_header_t *)t->our_via);
	snprintf(port, sizeof(port), "%u", w->px->port[t->out_side]);
	snprintf(param, sizeof(param), "branch=%s", t->branch);
	v = sip_via_create(home, side_fqdn(w, t->out_side), port,
	    kind == TP_TCP ? "SIP/2.0/TCP" : "SIP/2.0/TLS", param, NULL);
	if (!v || msg_header_insert(t->req, (msg_pub_t *)t->sip, (msg_header_t *)v) < 0) {
		txn_branch_failed(t, 500, DIAG_NONE, "out of memory");
		return;
	}
	t->our_via = v;

	if (t->add_rr) {
		struct rr_peer out_peer;

		memset(&out_peer, 0, sizeof(out_peer));
		out_peer.side = t->out_side;
		out_peer.kind = kind;
		out_peer.conn_id = out_id;
		snprintf(out_peer.fqdn, sizeof(out_peer.fqdn), "%s", peer_fqdn ? peer_fqdn : "");
		if (peer_addr && kind == TP_TLS) {
			out_peer.has_addr = true;
			out_peer.addr = *peer_addr;
		}
		if (t->rr_out) {
			msg_header_remove(t->req, (msg_pub_t *)t->sip, (msg_header_t *)t->rr_out);
			t->rr_out = NULL;
		}
		if (!t->rr_in) {
			t->rr_in = make_rr(t, t->in_side, &t->in_peer);
			if (!t->rr_in || msg_header_insert(t->req, (msg_pub_t *)t->sip, (msg_header_t *)t->rr_in) < 0) {
				txn_branch_failed(t, 500, DIAG_NONE, "cannot add Record-Route");
				return;
			}
		}
		t->rr_out = make_rr(t, t->out_side, &out_peer);
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

static void
dial_cb(struct conn *c, int status, const char *detail, void *arg)
{
	struct txn *t = arg;
	const struct hop *h = &t->hops[t->cur];
	char desc[256], a[80];

	t->dial = NULL;
	if (status < 0) {
		char why[160];

		snprintf(why, sizeof(why), "%s (%s): %s", h->fqdn,
		    h->has_addr ? conf_sockaddr_str(&h->addr, a, sizeof(a)) : "DNS",
		    detail && detail[0] ? detail : transport_strerror(status));
		log_info("next hop failed for %s: %s", sipmsg_describe(t->sip, desc, sizeof(desc)), why);
		/* Try it last for a while (RFC 3263 §4.3 failover order). */
		dns_mark_dead(t->w->dns, h->fqdn, h->port, 30);
		txn_branch_failed(t, 503, DIAG_HOPS_FAILED, why);
		return;
	}
	if (t->state == TX_COMPLETED)
		return;

	txn_send_request(t, c, conn_info(c)->id, h->kind, &conn_info(c)->peer, h->fqdn);
}

/* A connection found by a token's id must also be the peer the token names. */
static bool
flow_matches(struct conn *c, const struct rr_peer *p)
{
	const struct conn_info *ci = conn_info(c);

	if (ci->side != p->side || ci->kind != p->kind)
		return false;
	if (p->fqdn[0] && ci->kind == TP_TLS && !conn_peer_matches(c, p->fqdn))
		return false;
	return true;
}

static void
txn_next_hop(struct txn *t)
{
	struct worker *w = t->w;

	if (t->use_flow) {
		uint64_t id = t->flow.conn_id;
		struct conn *c = NULL;

		t->use_flow = false;
		if (id && CONN_ID_WORKER(id) == w->idx)
			c = transport_conn_find(w->tw, id);
		if (c && !flow_matches(c, &t->flow))
			c = NULL;
		if (c) {
			txn_send_request(t, c, id, conn_info(c)->kind, NULL, NULL);
			return;
		}
		if (id && CONN_ID_WORKER(id) != w->idx && CONN_ID_WORKER(id) < w->px->nworkers) {
			/* The flow lives on another worker: if it is gone, the
			 * owner tells us (POST_SEND_FAILED) and we fall back. */
			txn_send_request(t, NULL, id, t->flow.kind, NULL, NULL);
			return;
		}
		if (t->nhops == 0) {
			txn_branch_failed(t, 430, DIAG_FLOW_GONE, NULL);
			return;
		}
	}
	while (t->cur < t->nhops) {
		struct conn *c = NULL;
		int rc;

		rc = transport_dial(w->tw, &t->hops[t->cur], t->out_side, dial_cb, t, &c, &t->dial);
		if (rc == 0) {
			t->dial = NULL;
			txn_send_request(t, c, conn_info(c)->id, t->hops[t->cur].kind,
			    &conn_info(c)->peer, t->hops[t->cur].fqdn);
			return;
		}
		if (rc == 1)
			return;
		t->dial = NULL;
		snprintf(t->last_detail, sizeof(t->last_detail), "%s: %s", t->hops[t->cur].fqdn,
		    rc > -10000 ? uv_strerror(rc) : transport_strerror(rc));
		if (t->cur + 1 >= t->nhops)
			break;
		t->cur++;
	}
	if (t->stateless) {
		txn_destroy(t);
		return;
	}
	txn_reply(t, 503, DIAG_HOPS_FAILED, t->last_detail[0] ? t->last_detail : NULL);
	txn_complete(t, 503);
}

/* ---- timers ------------------------------------------------------------ */

static void
txn_timer_cb(uv_timer_t *tm)
{
	struct txn *t = tm->data;
	msg_t *cancel;

	if (t->state == TX_COMPLETED) {
		txn_destroy(t);
		return;
	}
	if (t->method == sip_method_invite && (t->got_provisional || t->got_100) && !t->timer_c_fired) {
		/* Timer C (RFC 3261 §16.8): cancel the branch, then give it
		 * Timer F to answer before we answer for it. */
		t->timer_c_fired = true;
		if (!t->cancel_sent && (cancel = sipmsg_make_cancel(t->sip)) != NULL) {
			txn_send_down(t, cancel);
			msg_destroy(cancel);
			t->cancel_sent = true;
		}
		txn_arm(t, t->w->px->conf->timer_f_ms);
		return;
	}
	atomic_fetch_add(&t->w->px->timeouts, 1);
	if (t->cancelled) {
		txn_reply(t, 487, DIAG_CANCELLED, NULL);
		txn_complete(t, 487);
		return;
	}
	txn_reply(t, 408, DIAG_HOP_TIMEOUT, t->hops[t->cur < t->nhops ? t->cur : 0].fqdn);
	txn_complete(t, 408);
}

/* ---- routing of a new request ----------------------------------------- */

static bool
is_internal_allowed(const struct conf *cf, const struct conn_info *ci)
{
	char a[80], *colon;

	if (ci->kind == TP_TLS) {
		for (size_t i = 0; i < ci->npeer_names; i++)
			if (conf_is_internal_server(cf, ci->peer_names[i]))
				return true;
		return false;
	}
	/* Plain TCP (labs): by source address. */
	conf_sockaddr_str(&ci->peer, a, sizeof(a));
	if (a[0] == '[') {
		colon = strchr(a, ']');
		if (colon)
			*colon = '\0';
		return conf_is_internal_server(cf, a + 1);
	}
	if ((colon = strrchr(a, ':')) != NULL)
		*colon = '\0';
	return conf_is_internal_server(cf, a);
}

static bool
is_our_host(const struct conf *cf, const char *host)
{
	return strcasecmp(host, cf->edge_fqdn) == 0 || strcasecmp(host, cf->internal_fqdn) == 0;
}

/* A peer's dialable address, when a configured hop names it. */
static void
fill_peer_from_hops(struct rr_peer *p, const struct hop *hops, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (hops[i].has_addr && hops[i].kind == TP_TLS && strcasecmp(hops[i].fqdn, p->fqdn) == 0) {
			p->has_addr = true;
			p->addr = hops[i].addr;
			return;
		}
}

static void
prob_set(struct sip_problem *prob, int status, enum diag_code d, const char *detail)
{
	size_t n = detail ? strlen(detail) : 0;

	prob->status = status;
	prob->diag = d;
	/* Truncation is fine: this is reason text. */
	if (n >= sizeof(prob->detail))
		n = sizeof(prob->detail) - 1;
	memcpy(prob->detail, detail ? detail : "", n);
	prob->detail[n] = '\0';
}

/* Pop the Route entries that name this edge (RFC 3261 §16.4).  A token for the
 * other side tells where an in-dialog request goes.  0, or -1 with prob set. */
static int
pop_own_routes(struct worker *w, msg_t *msg, sip_t *sip, enum side in_side,
    struct rr_peer *target, bool *have_target, struct sip_problem *prob)
{
	const struct conf *cf = w->px->conf;
	char tok[RR_TOKEN_MAX + 2], host[CONF_MAX_NAME];

	*have_target = false;
	while (sip->sip_route) {
		const url_t *u = sip->sip_route->r_url;
		isize_t n = u->url_params ? url_param(u->url_params, RR_PARAM, tok, sizeof(tok)) : 0;
		struct rr_peer p;

		if (n > 0) {
			int rc;

			if ((size_t)n >= sizeof(tok)) {
				prob_set(prob, 403, DIAG_BAD_ROUTE_TOKEN, "Route token too long");
				return -1;
			}
			rc = rr_token_decode(&w->px->key, tok, sip->sip_call_id->i_id, &p);
			if (rc < 0) {
				prob_set(prob, 403, DIAG_BAD_ROUTE_TOKEN,
				    rc == -EPERM ? "Route token does not verify for this dialog" :
						   "Route token is malformed");
				return -1;
			}
			if (p.side != in_side) {
				*target = p;
				*have_target = true;
			}
			sip_route_remove(msg, sip);
			continue;
		}
		if (sipmsg_url_host(u, host, sizeof(host)) && is_our_host(cf, host)) {
			sip_route_remove(msg, sip);
			continue;
		}
		break;
	}
	if (sip->sip_route && !*have_target && in_side == SIDE_EXTERNAL) {
		/* An outsider may only route through us along our own tokens. */
		prob_set(prob, 403, DIAG_FOREIGN_ROUTE, "Route to a foreign host");
		return -1;
	}
	return 0;
}

static struct txn *
txn_new(struct worker *w, struct conn *c, msg_t *msg, sip_t *sip, const char *key,
    uint32_t loop)
{
	struct txn *t = calloc(1, sizeof(*t));
	const struct conn_info *ci = conn_info(c);

	if (!t)
		return NULL;
	t->w = w;
	t->req = msg;
	t->sip = sip;
	t->up_via = sip->sip_via;
	t->method = sip->sip_request->rq_method;
	t->in = c;
	conn_ref(c);
	t->in_id = ci->id;
	t->in_side = ci->side;
	t->loop = loop;
	snprintf(t->to_tag, sizeof(t->to_tag), "se%08" PRIx32 "%08" PRIx32, ++w->counter, t->loop);
	uv_timer_init(&w->loop, &t->timer);
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
	return t;
}

/* Decide where a request goes: in-dialog along our tokens, or by the relay
 * rules.  Fills the transaction's targets; 0, or -1 with prob set. */
/* ---- federation: finding the partner's edge ------------------------------ */


/* user@host of a name-addr, for the throttle's distinct contacts. */
static const char *
aor_str(const sip_addr_t *a, char *buf, size_t len)
{
	char host[CONF_MAX_NAME];

	if (!a || !sipmsg_url_host(a->a_url, host, sizeof(host)))
		return "";
	snprintf(buf, len, "%s@%s", a->a_url->url_user ? a->a_url->url_user : "", host);
	return buf;
}

static void
add_hop(struct txn *t, const char *fqdn, const struct sockaddr_storage *addr, enum tp_kind kind)
{
	if (t->nhops < MAX_HOPS)
		conf_hop_set(&t->hops[t->nhops++], fqdn, addr, kind);
}

/* A host pinned in the configuration: its address (and port, kind) without DNS. */
static bool
add_pinned_hop(struct txn *t, const char *fqdn, unsigned short port)
{
	if (t->nhops >= MAX_HOPS || !conf_host_hop(t->w->px->conf, fqdn, port, &t->hops[t->nhops]))
		return false;
	t->nhops++;
	return true;
}

/* Resolution done: dial what was found, or answer for the partner. */
static void
res_done(struct txn *t)
{
	t->q = NULL;
	if (t->state == TX_COMPLETED)
		return;
	if (t->nhops == 0) {
		enum diag_code d = t->res_diag ? t->res_diag : DIAG_HOPS_FAILED;

		txn_reply(t, diag_lookup(d)->status, d, t->last_detail[0] ? t->last_detail : NULL);
		txn_complete(t, diag_lookup(d)->status);
		return;
	}
	txn_next_hop(t);
}

static void res_next_target(struct txn *t);

static void
res_addr_cb(int status, const struct sockaddr_storage *a, size_t n, void *arg)
{
	struct txn *t = arg;
	const struct res_target *rt = &t->res[t->res_i];

	t->q = NULL;
	if (status == 0) {
		for (size_t i = 0; i < n; i++)
			add_hop(t, rt->fqdn, &a[i], TP_TLS);
	} else {
		snprintf(t->last_detail, sizeof(t->last_detail), "%.253s: %.100s", rt->fqdn,
		    dns_strerror(status));
		t->res_diag = DIAG_HOPS_FAILED;
	}
	t->res_i++;
	res_next_target(t);
}

/* Resolve the targets in order (pins first, then DNS A/AAAA), one at a time:
 * the cache makes the later ones cheap, and order is failover order. */
static void
res_next_target(struct txn *t)
{
	while (t->res_i < t->res_n && t->nhops < MAX_HOPS) {
		const struct res_target *rt = &t->res[t->res_i];

		if (add_pinned_hop(t, rt->fqdn, rt->port)) {
			t->res_i++;
			continue;
		}
		if (dns_addr(t->w->dns, rt->fqdn, rt->port, res_addr_cb, t, &t->q) == 0)
			return;
		t->res_i++;
	}
	res_done(t);
}

static void
res_srv_cb(int status, const struct dns_srv *v, size_t n, void *arg)
{
	struct txn *t = arg;

	t->q = NULL;
	if (status != 0 || n == 0) {
		t->res_diag = status == DNS_ENOTFOUND || status == 0 ? DIAG_FED_SRV_NONE : DIAG_FED_SRV_FAILED;
		snprintf(t->last_detail, sizeof(t->last_detail), "%.253s: %.100s", t->fed_domain,
		    status ? dns_strerror(status) : "no SRV records");
		res_done(t);
		return;
	}
	if (n > MAX_HOPS)
		n = MAX_HOPS;
	if (!(t->res = calloc(n, sizeof(*t->res)))) {
		res_done(t);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(t->res[i].fqdn, sizeof(t->res[i].fqdn), "%s", v[i].target);
		t->res[i].port = v[i].port;
	}
	t->res_n = n;
	t->res_i = 0;
	res_next_target(t);
}

/* Remove every header named name (an extension header Sofia keeps as unknown). */
static bool
strip_unknown(msg_t *msg, sip_t *sip, const char *name, const char *flag)
{
	bool found = false;
	sip_unknown_t *u, *next;

	for (u = sip->sip_unknown; u; u = next) {
		next = u->un_next;
		if (u->un_name && strcasecmp(u->un_name, name) == 0) {
			if (flag && u->un_value && strstr(u->un_value, flag))
				found = true;
			msg_header_remove(msg, (msg_pub_t *)sip, (msg_header_t *)u);
		}
	}
	return found;
}

static int
add_trust(msg_t *msg, sip_t *sip, const char *value)
{
	msg_header_t *h = msg_header_format(msg_home(msg), sip_unknown_class, "%s: %s", TRUST_HEADER, value);

	return h ? msg_header_insert(msg, (msg_pub_t *)sip, h) : -1;
}

/* Internal → partner (RFC 3261 §16.5 target set from the federation policy). */
static int
route_outbound(struct worker *w, struct txn *t, sip_t *sip, const char *domain,
    struct sip_problem *prob)
{
	const struct conf *cf = w->px->conf;
	struct fed_out fo;
	enum diag_code why;
	char contact[CONF_MAX_NAME * 2], value[FEDROUTE_TRUST_MAX];

	if (conf_is_our_domain(cf, domain)) {
		prob_set(prob, 403, DIAG_LOCAL_TARGET, domain);
		return -1;
	}
	if (fedroute_outbound(w->pol, domain, &fo) < 0) {
		prob_set(prob, fo.status, fo.diag, fo.detail);
		return -1;
	}
	t->fed = fo.type;
	snprintf(t->fed_domain, sizeof(t->fed_domain), "%s", fo.domain);
	if (fo.throttled && throttle_admit(w->px->throttle, w->pol, fo.domain, NULL,
				aor_str(sip->sip_from, contact, sizeof(contact)), uv_now(&w->loop), &why) < 0) {
		prob_set(prob, diag_lookup(why)->status, why, fo.domain);
		return -1;
	}
	/* Our own marking replaces whatever the pool put there. */
	strip_unknown(t->req, sip, TRUST_HEADER, NULL);
	if (fo.mark_verified) {
		snprintf(value, sizeof(value), "ms-source-type=InternalUser;ms-ep-fqdn=%s;"
		    "ms-source-network=federation;ms-source-verified-user=verified", cf->edge_fqdn);
		add_trust(t->req, sip, value);
	}
	t->out_side = SIDE_EXTERNAL;
	t->add_rr = sipmsg_is_dialog_forming(sip);
	if (fo.via == FED_VIA_FQDN) {
		if (add_pinned_hop(t, fo.next, 5061))
			return 0;
		if (!(t->res = calloc(1, sizeof(*t->res)))) {
			prob_set(prob, 503, DIAG_OVERLOAD, "out of memory");
			return -1;
		}
		snprintf(t->res[0].fqdn, sizeof(t->res[0].fqdn), "%s", fo.next);
		t->res[0].port = 5061;
		t->res_n = 1;
		if (dns_addr(w->dns, fo.next, 5061, res_addr_cb, t, &t->q) < 0) {
			prob_set(prob, 503, DIAG_HOPS_FAILED, fo.next);
			return -1;
		}
		return 1;
	}
	if (dns_srv(w->dns, fo.next, res_srv_cb, t, &t->q) < 0) {
		prob_set(prob, 504, DIAG_FED_SRV_FAILED, fo.next);
		return -1;
	}
	return 1;
}

/* An inbound request passed its checks: throttle, mark it, send it to the pool. */
static int
inbound_accept(struct worker *w, struct txn *t, sip_t *sip, struct fed_in *fi,
    struct sip_problem *prob)
{
	const struct conf *cf = w->px->conf;
	enum diag_code why;
	char contact[CONF_MAX_NAME * 2], value[FEDROUTE_TRUST_MAX];

	t->fed = fi->type;
	if (fi->throttled && throttle_admit(w->px->throttle, w->pol, fi->domain, fi->peer,
				aor_str(sip->sip_to, contact, sizeof(contact)), uv_now(&w->loop), &why) < 0) {
		prob_set(prob, diag_lookup(why)->status, why, fi->domain);
		return -1;
	}
	/* Nothing from outside may assert identity or trust to the pool
	 * (RFC 3325 §5): only our own marking goes in. */
	fi->source_verified = strip_unknown(t->req, sip, TRUST_HEADER, "ms-source-verified-user=verified");
	strip_unknown(t->req, sip, "P-Asserted-Identity", NULL);
	strip_unknown(t->req, sip, "P-Preferred-Identity", NULL);
	if (fedroute_trust_header(fi, fi->peer, value, sizeof(value)) > 0)
		add_trust(t->req, sip, value);
	t->out_side = SIDE_INTERNAL;
	t->add_rr = sipmsg_is_dialog_forming(sip);
	if (cf->npool == 0) {
		prob_set(prob, 503, DIAG_HOPS_FAILED, "no pool-server configured");
		return -1;
	}
	for (size_t i = 0; i < cf->npool && i < MAX_HOPS; i++)
		t->hops[t->nhops++] = cf->pool[i];
	return 0;
}

static void
in_srv_cb(int status, const struct dns_srv *v, size_t n, void *arg)
{
	struct txn *t = arg;
	struct sip_problem prob;
	struct fed_in out;
	const char *names[MAX_HOPS];
	const struct conn_info *ci;
	enum diag_code d;

	t->q = NULL;
	if (t->state == TX_COMPLETED)
		return;
	memset(&prob, 0, sizeof(prob));
	if (!t->in) {
		txn_complete(t, 408);      /* nobody left to answer */
		return;
	}
	ci = conn_info(t->in);
	if (status != 0 || n == 0) {
		d = status == DNS_ENOTFOUND || status == 0 ? DIAG_FED_SRV_NONE : DIAG_FED_SRV_FAILED;
		snprintf(prob.detail, sizeof(prob.detail), "%.80s: %.100s", t->fin->srv,
		    status ? dns_strerror(status) : "no SRV records");
		txn_reply(t, diag_lookup(d)->status, d, prob.detail);
		txn_complete(t, diag_lookup(d)->status);
		return;
	}
	if (n > MAX_HOPS)
		n = MAX_HOPS;
	for (size_t i = 0; i < n; i++)
		names[i] = v[i].target;
	if (fedroute_inbound_srv(t->fin, names, n, (const char *const *)ci->peer_names,
		ci->npeer_names, &out) < 0) {
		txn_reply(t, out.status, out.diag, out.detail);
		txn_complete(t, out.status);
		return;
	}
	if (inbound_accept(t->w, t, t->sip, &out, &prob) < 0) {
		txn_reply(t, prob.status, prob.diag, prob.detail);
		txn_complete(t, prob.status);
		return;
	}
	txn_next_hop(t);
}

/* Partner → internal: entitled to speak for its domain, and for one of ours. */
static int
route_inbound(struct worker *w, struct txn *t, const struct conn_info *ci, sip_t *sip,
    const char *target, struct sip_problem *prob)
{
	const struct conf *cf = w->px->conf;
	char source[CONF_MAX_NAME];
	struct fed_in fi;
	int rc;

	if (!conf_is_our_domain(cf, target)) {
		prob_set(prob, 403, DIAG_RELAY_DENIED, target);
		return -1;
	}
	if (!sipmsg_url_host(sip->sip_from->a_url, source, sizeof(source))) {
		prob_set(prob, 400, DIAG_MALFORMED, "From has no host");
		return -1;
	}
	rc = fedroute_inbound(w->pol, source, (const char *const *)ci->peer_names, ci->npeer_names, &fi);
	if (rc == FED_IN_REFUSE) {
		prob_set(prob, fi.status, fi.diag, fi.detail);
		return -1;
	}
	t->fed = fi.type;
	snprintf(t->fed_domain, sizeof(t->fed_domain), "%s", fi.domain);
	if (rc == FED_IN_ACCEPT)
		return inbound_accept(w, t, sip, &fi, prob);
	if (!(t->fin = malloc(sizeof(*t->fin)))) {
		prob_set(prob, 503, DIAG_OVERLOAD, "out of memory");
		return -1;
	}
	*t->fin = fi;
	if (dns_srv(w->dns, fi.srv, in_srv_cb, t, &t->q) < 0) {
		prob_set(prob, 504, DIAG_FED_SRV_FAILED, fi.srv);
		return -1;
	}
	return 1;
}

/* Decide where a request goes: in-dialog along our tokens, or by the relay
 * rules and the federation policy.  0: hops ready; 1: a look-up is under way
 * and will continue the transaction; -1: refused (prob set). */
static int
route_request(struct worker *w, struct conn *c, sip_t *sip, struct txn *t,
    const struct rr_peer *target, bool have_target, struct sip_problem *prob)
{
	const struct conf *cf = w->px->conf;
	const struct conn_info *ci = conn_info(c);
	char host[CONF_MAX_NAME], partner[CONF_MAX_NAME];
	const sip_addr_t *pa;

	if (ci->side == SIDE_INTERNAL && !is_internal_allowed(cf, ci)) {
		prob_set(prob, 403, DIAG_INTERNAL_NOT_ALLOWED, ci->npeer_names ? ci->peer_names[0] : "peer");
		return -1;
	}
	if (!w->pol) {
		prob_set(prob, 403, DIAG_FED_DISABLED, "no policy loaded");
		return -1;
	}
	if (have_target) {
		/* In a dialog: the partner is the To party seen from inside, the
		 * From party seen from outside; a block applies at once. */
		pa = ci->side == SIDE_INTERNAL ? sip->sip_to : sip->sip_from;
		if (pa && sipmsg_url_host(pa->a_url, partner, sizeof(partner)) &&
		    policy_blocked(w->pol, partner)) {
			prob_set(prob, 403, DIAG_FED_BLOCKED, partner);
			return -1;
		}
		t->out_side = target->side;
		t->use_flow = true;
		t->flow = *target;
		if (target->has_addr)
			add_hop(t, target->fqdn, &target->addr, target->kind);
		return 0;
	}
	if (!sipmsg_url_host(sip->sip_request->rq_url, host, sizeof(host))) {
		prob_set(prob, 400, DIAG_MALFORMED, "Request-URI has no host");
		return -1;
	}
	if (ci->side == SIDE_INTERNAL)
		return route_outbound(w, t, sip, host, prob);
	return route_inbound(w, t, ci, sip, host, prob);
}

static void
fill_in_peer(struct worker *w, struct txn *t, const struct conn_info *ci)
{
	const struct conf *cf = w->px->conf;

	memset(&t->in_peer, 0, sizeof(t->in_peer));
	t->in_peer.side = ci->side;
	t->in_peer.kind = ci->kind;
	t->in_peer.conn_id = ci->id;
	if (ci->npeer_names)
		snprintf(t->in_peer.fqdn, sizeof(t->in_peer.fqdn), "%s", ci->peer_names[0]);
	if (ci->outbound && ci->kind == TP_TLS) {
		/* A connection we dialled can be dialled again. */
		t->in_peer.has_addr = true;
		t->in_peer.addr = ci->peer;
		if (ci->dialled_fqdn)
			snprintf(t->in_peer.fqdn, sizeof(t->in_peer.fqdn), "%s", ci->dialled_fqdn);
	} else if (t->in_peer.fqdn[0] && ci->side == SIDE_INTERNAL) {
		fill_peer_from_hops(&t->in_peer, cf->pool, cf->npool);
	} else if (t->in_peer.fqdn[0]) {
		const struct host_conf *hc = conf_host_find(cf, t->in_peer.fqdn);

		if (hc && hc->kind == TP_TLS) {
			t->in_peer.has_addr = true;
			t->in_peer.addr = hc->addr;
			if (!hc->has_port)
				((struct sockaddr_in *)&t->in_peer.addr)->sin_port = htons(5061);
		}
	}
}

static void
handle_cancel(struct worker *w, struct conn *c, msg_t *msg, sip_t *sip, enum side side)
{
	char key[KEY_MAX];
	struct txn *t = NULL;
	msg_t *cancel;

	if (server_key(sip, "INVITE", key, sizeof(key)) == 0)
		t = txn_by_key(w, key);
	if (!t) {
		reply(w, c, sip, sip->sip_via, side, 481, DIAG_NO_TRANSACTION, "CANCEL matches no INVITE", NULL, NULL);
		msg_destroy(msg);
		return;
	}
	/* 200 for the CANCEL itself (RFC 3261 §16.10), then cancel our branch. */
	reply(w, c, sip, sip->sip_via, side, 200, DIAG_NONE, NULL, NULL, NULL);
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
		txn_send_down(t, cancel);
		msg_destroy(cancel);
		t->cancel_sent = true;
	}
}

static void
handle_request(struct worker *w, struct conn *c, msg_t *msg, sip_t *sip)
{
	const struct conn_info *ci = conn_info(c);
	struct sip_problem prob;
	struct rr_peer target;
	bool have_target = false;
	char key[KEY_MAX];
	uint32_t loop;
	struct txn *t;
	sip_method_t m;
	int rc;

	if (sipmsg_check_request(msg, sip, &prob) < 0) {
		if (prob.status > 0)
			reply(w, c, sip, sip->sip_via, ci->side, prob.status, prob.diag, prob.detail, NULL,
			    prob.unsupported);
		if (prob.status < 0 || !sip->sip_from || !sip->sip_to || !sip->sip_call_id) {
			/* No Via to answer along, or an answer the peer cannot match
			 * to its request: a stream peer this broken is cut off
			 * (RFC 3261 §18.3 allows closing on a framing problem). */
			log_info("closing %s: %s", peer_str(c, key, sizeof(key)), prob.detail);
			conn_close(c);
		}
		msg_destroy(msg);
		return;
	}
	atomic_fetch_add(&w->px->requests, 1);
	sipmsg_via_stamp(msg, sip, &ci->peer);
	m = sip->sip_request->rq_method;

	if (m == sip_method_cancel) {
		handle_cancel(w, c, msg, sip, ci->side);
		return;
	}
	if (server_key(sip, m == sip_method_ack ? "INVITE" : sip->sip_request->rq_method_name,
		key, sizeof(key)) < 0) {
		reply(w, c, sip, sip->sip_via, ci->side, 400, DIAG_MALFORMED, "Via too long", NULL, NULL);
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
				reply(w, c, sip, sip->sip_via, ci->side, 482, DIAG_LOOP, NULL, NULL, NULL);
			msg_destroy(msg);
			return;
		}
	}

	memset(&prob, 0, sizeof(prob));
	if (pop_own_routes(w, msg, sip, ci->side, &target, &have_target, &prob) < 0) {
		if (m != sip_method_ack)
			reply(w, c, sip, sip->sip_via, ci->side, prob.status, prob.diag, prob.detail, NULL, NULL);
		msg_destroy(msg);
		return;
	}

	/* Overload: refuse new work before it costs memory (RFC 3261 §21.5.4;
	 * Retry-After asks well-behaved peers to back off). */
	t = w->ntxns < w->max_txns ? txn_new(w, c, msg, sip, key[0] ? key : NULL, loop) : NULL;
	if (!t && m == sip_method_ack) {
		msg_destroy(msg);
		return;
	}
	if (!t) {
		reply(w, c, sip, sip->sip_via, ci->side, 503, DIAG_OVERLOAD,
		    w->ntxns >= w->max_txns ? "too many requests in progress" : "out of memory", NULL, NULL);
		msg_destroy(msg);
		return;
	}
	t->stateless = m == sip_method_ack;
	if ((rc = route_request(w, c, sip, t, &target, have_target, &prob)) < 0) {
		if (!t->stateless) {
			reply(w, c, sip, t->up_via, ci->side, prob.status, prob.diag, prob.detail, t->to_tag, NULL);
			t->last_status = prob.status;
		}
		t->state = TX_COMPLETED;
		txn_destroy(t);
		return;
	}
	fill_in_peer(w, t, ci);

	/* Max-Forwards (RFC 3261 §16.6 item 3). */
	if (sip->sip_max_forwards) {
		sip->sip_max_forwards->mf_count--;
		msg_fragment_clear(sip->sip_max_forwards->mf_common);
	} else
		sip_add_make(msg, sip, sip_max_forwards_class, "70");

	if (m == sip_method_invite) {
		reply(w, c, sip, t->up_via, ci->side, 100, DIAG_NONE, NULL, t->to_tag, NULL);
		txn_arm(t, w->px->conf->timer_f_ms);   /* Timer B until a provisional */
	} else if (!t->stateless)
		txn_arm(t, w->px->conf->timer_f_ms);   /* Timer F */
	if (rc == 0)
		txn_next_hop(t);
	/* else a DNS answer continues it (res_done, in_srv_cb). */
}

/* ---- responses --------------------------------------------------------- */

/* Pop our Via and send the response upstream; consumes msg. */
static void
forward_up(struct txn *t, msg_t *msg, sip_t *sip)
{
	sip_via_remove(msg, sip);
	if (!t->in || conn_send(t->in, msg) < 0)
		log_debug("%s: upstream connection gone; %u response dropped", __func__,
		    sip->sip_status->st_status);
	msg_destroy(msg);
}

static void
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
		if (t->method == sip_method_invite && !t->got_100 && !t->got_provisional)
			txn_arm(t, t->w->px->conf->timer_c_ms);
		t->got_100 = true;
		goto maybe_cancel;
	}
	if (status < 200) {
		t->got_provisional = true;
		t->state = TX_PROCEEDING;
		if (t->method == sip_method_invite && !t->timer_c_fired)
			txn_arm(t, t->w->px->conf->timer_c_ms);
		forward_up(t, msg, sip);
		msg = NULL;
		goto maybe_cancel;
	}
	if (status >= 300 && t->method == sip_method_invite) {
		/* Hop-by-hop ACK of a failure (RFC 3261 §17.1.1.3). */
		if ((m = sipmsg_make_ack(t->sip, sip)) != NULL) {
			txn_send_down(t, m);
			msg_destroy(m);
		}
	}
	if (status == 503 && !t->got_provisional && !t->cancelled && t->cur + 1 < t->nhops) {
		char desc[256];

		log_info("next hop %s answered 503 for %s; trying the next", t->hops[t->cur].fqdn,
		    sipmsg_describe(t->sip, desc, sizeof(desc)));
		msg_destroy(msg);
		txn_branch_failed(t, 503, DIAG_HOPS_FAILED, "next hop answered 503");
		return;
	}
	atomic_fetch_add(&t->w->px->responses, 1);
	forward_up(t, msg, sip);
	txn_complete(t, status);
	return;

maybe_cancel:
	if (msg)
		msg_destroy(msg);
	if (t->cancel_pending && !t->cancel_sent && (m = sipmsg_make_cancel(t->sip)) != NULL) {
		txn_send_down(t, m);
		msg_destroy(m);
		t->cancel_sent = true;
		t->cancel_pending = false;
	}
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
	worker_post(owner, p);
}

/* A response for transaction t could not be taken (over the size limit): the
 * request was processed downstream, so no other hop is tried. */
static void
txn_response_unusable(struct txn *t, int status)
{
	char desc[256];

	if (t->state == TX_COMPLETED || t->stateless)
		return;
	log_info("the response of %s to %s could not be read (%d); answering 502",
	    t->hops[t->cur < t->nhops ? t->cur : 0].fqdn, sipmsg_describe(t->sip, desc, sizeof(desc)),
	    status);
	if (t->in_branch_map) {
		hmap_del(&t->w->by_branch, &t->by_branch);
		t->in_branch_map = false;
	}
	txn_reply(t, 502, status == 513 ? DIAG_TOO_LARGE : DIAG_FRAMING,
	    status == 513 ? "response over the size limit" : "unparsable response");
	txn_complete(t, 502);
}

/* A response whose framing failed, for our branch: tell its transaction,
 * wherever it lives. */
static void
response_unusable(struct worker *w, const char *branch, int status)
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
	worker_post(owner, p);
}

/* ---- entry points from transport and the mailbox ------------------------ */

void
proxy_on_message(struct conn *c, msg_t *msg, int status, void *ud)
{
	struct worker *w = ud;
	sip_t *sip = msg ? sip_object(msg) : NULL;

	if (status != 0) {
		/* Framing lost: answer if we can tell whom, then the transport closes. */
		if (sip && sip->sip_status && sip->sip_via && sip->sip_via->v_branch)
			response_unusable(w, sip->sip_via->v_branch, status);
		if (sip && sip->sip_request && sip->sip_via && sip->sip_cseq && sip->sip_call_id &&
		    sip->sip_from && sip->sip_to)
			reply(w, c, sip, sip->sip_via, conn_info(c)->side, status,
			    status == 513 ? DIAG_TOO_LARGE : status == 414 ? DIAG_URI_TOO_LONG :
			    DIAG_FRAMING, NULL, NULL, NULL);
		else {
			char pd[160];

			log_info("closing %s after a framing error (%d)", peer_str(c, pd, sizeof(pd)), status);
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

static void
closed_each(struct txn *t, struct conn *c)
{
	if (t->in == c) {
		conn_unref(t->in);
		t->in = NULL;
	}
	if (t->out == c && t->state != TX_COMPLETED) {
		char pd[160];

		snprintf(t->last_detail, sizeof(t->last_detail), "connection lost: %s",
		    peer_str(c, pd, sizeof(pd)));
		txn_branch_failed(t, 503, DIAG_HOPS_FAILED, t->last_detail);
	} else if (t->out == c) {
		conn_unref(t->out);
		t->out = NULL;
	}
}

void
proxy_on_closed(struct conn *c, void *ud)
{
	struct worker *w = ud;
	struct txn *t, *next;

	/* txn_branch_failed may destroy t or create nothing new: walk safely. */
	for (t = w->txns; t; t = next) {
		next = t->next;
		closed_each(t, c);
	}
}

void
proxy_on_post(struct worker *w, struct post *p)
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
		if (!c || (p->flow_check && !flow_matches(c, &p->flow)) || conn_send(c, p->msg) < 0) {
			struct worker *from = worker_by_index(w->px, p->from);
			struct post *f = calloc(1, sizeof(*f));

			if (from && f) {
				f->kind = POST_SEND_FAILED;
				memcpy(f->branch, p->branch, sizeof(f->branch));
				f->from = w->idx;
				worker_post(from, f);
			} else
				free(f);
		}
		break;
	case POST_SEND_FAILED:
		t = txn_by_branch(w, p->branch);
		if (t && t->state != TX_COMPLETED) {
			if (t->flow.has_addr && t->nhops > 0 && !t->got_provisional && t->cur == 0 &&
			    t->out_id == t->flow.conn_id) {
				/* The dialog's connection is gone: dial its peer. */
				t->in_branch_map = false;
				hmap_del(&w->by_branch, &t->by_branch);
				t->out_id = 0;
				txn_next_hop(t);
			} else
				txn_branch_failed(t, 430, DIAG_FLOW_GONE, NULL);
		}
		break;
	case POST_RESPONSE_BAD:
		if ((t = txn_by_branch(w, p->branch)) != NULL)
			txn_response_unusable(t, p->status);
		break;
	case POST_POLICY:
		if (w->pol)
			policy_unref(w->pol);
		w->pol = p->policy;        /* the post's reference becomes ours */
		p->policy = NULL;
		break;
	case POST_STOP:
		break;
	}
	if (p->policy)
		policy_unref(p->policy);
	if (p->msg)
		msg_destroy(p->msg);
	free(p);
}

void
proxy_worker_shutdown(struct worker *w)
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
