/* proxy_int.h: structures shared by the proxy core's files: proxy.c (entry points,
 * requests and responses), txn.c (transactions, next hops), route.c (where a
 * request goes) and worker.c (threads, cross-worker mailbox).  Private to the
 * proxy core. */
#ifndef SIPEDGE_PROXY_INT_H
#define SIPEDGE_PROXY_INT_H

#include <pthread.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/random.h>
#include <uv.h>
#include <sofia-sip/msg.h>
#include <sofia-sip/sip.h>

#include "sipedge/conf.h"
#include "sipedge/diag.h"
#include "sipedge/dns.h"
#include "sipedge/fedroute.h"
#include "sipedge/hmap.h"
#include "sipedge/load.h"
#include "sipedge/policy.h"
#include "sipedge/throttle.h"
#include "sipedge/proxy.h"
#include "sipedge/route.h"
#include "sipedge/rr.h"
#include "sipedge/sipmsg.h"
#include "sipedge/stats.h"
#include "sipedge/transport.h"
#include "sipedge/worker.h"

struct worker;

/* The TLS contexts made from a configuration: servers for listeners that
 * require a client certificate and for those that do not, the client. */
struct proxy_tls {
	struct tls_ctx *mutual, *plain, *client;
};
int proxy_tls_make(const struct conf *c, struct proxy_tls *out, char *err, size_t errlen);
void proxy_tls_free(struct proxy_tls *x);
/* The transport's part of a configuration. */
void proxy_transport_conf(const struct conf *c, struct tls_ctx *client, struct transport_conf *tc);

#define KEY_MAX 512

/* What crosses from one worker to another (worker.c). */
enum post_kind {
	POST_RESPONSE,       /* msg: a response for a transaction of the target */
	POST_SEND,           /* msg: send on conn_id (owned by the target) */
	POST_SEND_FAILED,    /* a POST_SEND failed: tell the transaction (branch) */
	POST_RESPONSE_BAD,   /* the transaction's (branch) response could not be taken */
	POST_POLICY,         /* policy: a new snapshot (one reference) */
	POST_ADOPT,          /* handoff: a connection another worker accepted */
	POST_QUERY,          /* query: the control socket asks (proxy_query.c) */
	POST_CONF,           /* reload: a new configuration (proxy_reload.c) */
	POST_PROBE,          /* probe: an OPTIONS along the outbound path (probe.c) */
	POST_TRACE,          /* trace_on, trace_domain: the message trace (relay_log.c) */
	POST_XMPP,           /* msg (a copy), key, domain: a request for an XMPP partner,
	                      * to worker 0's gateway (proxy_xmpp.c) */
	POST_XMPP_DONE,      /* key, status, diag, text: its outcome, to the transaction */
	POST_XMPP_QUERY,     /* xquery: the control socket asks worker 0's gateway (its
	                      * streams, a probe; proxy_xmpp_query.c) */
};

/* probe.c: the federation probe's job on worker 0, and the hooks the
 * transaction calls while it carries a probe (t->probe). */
struct probe_job;
void proxy_probe_run(struct worker *w, struct probe_job *j);
void probe_dropped(struct probe_job *j);
void probe_final(struct probe_job *j, int status, enum diag_code d, const char *reason,
    const sip_t *sip, bool from_partner);
void probe_hop_start(struct probe_job *j, size_t i, const struct hop *h);
void probe_hop_done(struct probe_job *j, size_t i, int status, const char *detail,
    struct conn *c);
void probe_detach(struct probe_job *j);

struct proxy_reload;
/* proxy_reload.c: switch the worker to r's configuration (on its thread);
 * and the end of a worker's part, run or not (when the post is freed). */
void proxy_reload_run(struct worker *w, struct proxy_reload *r);
void proxy_reload_release(struct proxy_reload *r);

struct proxy_query;
/* proxy_query.c: fill the worker's part of q (on its thread); and the end of
 * a worker's part, run or not (when the post is freed). */
void proxy_query_run(struct worker *w, struct proxy_query *q);
void proxy_query_release(struct proxy_query *q);

struct xmpp_query_job;
/* proxy_xmpp_query.c: do j's asking on worker 0 (its thread); and the end of
 * a post that was never run (the worker stopping). */
void proxy_xmpp_query_run(struct worker *w, struct xmpp_query_job *j);
void proxy_xmpp_query_dropped(struct xmpp_query_job *j);

struct post {
	struct worker_mail mail;        /* first: a post is the worker's mail */
	enum post_kind kind;
	msg_t *msg;
	uint64_t conn_id;
	unsigned from;                  /* worker index that posted */
	char branch[RR_BRANCH_LEN + 1]; /* transaction to notify on failure */
	int status;
	bool flow_check;                /* POST_SEND on a token's flow: check the peer */
	struct rr_peer flow;
	struct policy *policy;
	struct tp_handoff *handoff;
	struct proxy_query *query;
	struct proxy_reload *reload;
	struct probe_job *probe;
	struct xmpp_query_job *xquery;
	bool trace_on;
	char trace_domain[CONF_MAX_NAME];
	char key[KEY_MAX];              /* POST_XMPP*: the transaction (server key) */
	bool handed;                    /* POST_XMPP: counted in xmpp_share_handed */
	enum diag_code diag;            /* POST_XMPP_DONE */
	char text[384];
	struct xmpp_answer *answer;     /* POST_XMPP_DONE: more for the response, or NULL */
};

/* What the XMPP gateway puts in its response to a SUBSCRIBE (RFC 6665): its
 * To tag (the dialog's), Expires, and Contact. */
struct xmpp_answer {
	char to_tag[24];
	int expires;                    /* -1: none */
	char contact[CONF_MAX_NAME + 64];
};

struct worker {
	struct worker_thread th;        /* its thread, loop and mailbox (worker.h) */
	struct proxy *px;
	unsigned idx;
	/* The configuration in force on this worker (renv.cf too); a reload
	 * replaces it on the worker's own thread (proxy_reload.c). */
	const struct conf *cf;
	struct tp_worker *tw;
	struct dns *dns;
	struct route_env renv;          /* routing on this worker (route.h); its pol is
	                                 * the snapshot in force (one reference) */
	/* Every LOAD_INTERVAL_MS while working, every second while idle: the
	 * loop's load (overload control); worker 0 also probes down next hops
	 * (each second) and gives freed memory back (every TICK_TRIM_MS). */
	uv_timer_t tick;
	bool tick_open;
	uint64_t next_probe, next_trim; /* worker 0: when (loop ms) */
	struct load_ctl load;
	unsigned load_calls;            /* new requests seen (relay.c samples every 16th) */
	uint64_t load_reported;         /* load.refused at the last report */
	uint64_t load_report_at;        /* when (loop ms) */

	struct stats stats;             /* its counters (stats.h), read by the control socket */
	struct xmpp_gw *xgw;            /* worker 0: the XMPP side (proxy_xmpp.c) */
	struct xpres *xpres;            /* worker 0: presence across it (xmpp_presence.c) */
	struct xthreads *xthr;          /* worker 0: conversation threads (xmpp_thread.h) */
	struct {                        /* sipedgectl trace: set by POST_TRACE */
		bool on;
		char domain[CONF_MAX_NAME]; /* "": every message */
	} trace;

	struct hmap by_branch;          /* client side: our branch → txn */
	struct hmap by_key;             /* server side: request key → txn */
	struct txn *txns;               /* every live transaction */
	_Atomic unsigned ntxns;         /* read by the other workers (proxy_quiet) */
	unsigned max_txns;              /* max-transactions / workers */
	uint32_t counter;
};

struct proxy {
	const struct conf *conf;
	struct rr_key key;
	struct proxy_tls tls;           /* the contexts in force (a reload replaces them) */
	struct transport *tp;
	struct throttle *throttle;      /* discovered partners, process-wide */
	struct policy *pol;             /* main thread: the snapshot in force (one reference) */
	uint64_t report_at;             /* main thread: last event 14601 (ms), 0: none yet */
	struct health *health;          /* next hops that failed, process-wide */
	struct worker *workers;
	unsigned nworkers;
	struct xmpp_share *xshare;      /* what worker 0's XMPP gateway shares (xmpp.h) */
	unsigned short port[2];         /* our port on each side (Via, Record-Route) */
	enum tp_kind kind[2];           /* our transport on each side */
};

/* ---- transactions (txn.c) ------------------------------------------------ */

#define MAX_HOPS ROUTE_MAX_HOPS
#define TRUST_HEADER "ms-edge-proxy-message-trust"

enum txn_state {
	TX_TRYING,           /* looking for a next hop / waiting for the first response */
	TX_PROCEEDING,       /* a provisional response came back */
	TX_COMPLETED,        /* final response sent upstream; INVITE waits for the ACK */
};

/* The one timer a transaction runs at a time, by its RFC 3261 name (over
 * reliable transports A, D, E, G, I, J and K are not needed). */
enum txn_timer {
	TXN_TIMER_NONE,
	TXN_TIMER_B,         /* INVITE: the first response of the next hop (timer-f) */
	TXN_TIMER_F,         /* non-INVITE: the final response, failover included (timer-f) */
	TXN_TIMER_C,         /* INVITE after a provisional: the next response (timer-c) */
	TXN_TIMER_C_CANCEL,  /* Timer C fired and the branch was cancelled: its final
	                      * response, before we answer 408 for it (timer-f) */
	TXN_TIMER_H,         /* an INVITE's failure went upstream: its ACK (timer-f) */
};

/* A request the edge makes itself for another part of it (the XMPP
 * gateway's translated requests): the final response goes to final, once,
 * instead of upstream; detach says the transaction ended (final may not
 * have come).  Owned by whoever made the request. */
struct txn_local {
	void (*final)(struct txn_local *l, int status, enum diag_code d, const char *reason,
	    const sip_t *sip);
	void (*detach)(struct txn_local *l);
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
	struct txn *in_prev, *in_next;    /* the transactions upstream on in */
	uint64_t in_id;
	enum side in_side;
	bool stateless;                   /* ACK for a 2xx: forward and forget */

	/* Where it goes (route.h): the hops, the partner, the dialog's tokens.
	 * In a dialog the flow op.target names comes first (use_flow). */
	struct route_op op;
	size_t cur;                       /* the hop in use */
	bool use_flow;
	struct rr_peer in_peer;           /* the upstream side, for our Record-Route */

	struct conn *out;                 /* downstream connection, if it is ours (ref) */
	struct txn *out_prev, *out_next;  /* the transactions downstream on out */
	uint64_t out_id;                  /* downstream connection id (ours or another worker's) */
	/* hop.c: dials in progress, one per hop; the next hop to start */
	struct txn_dial {
		struct txn *t;
		struct dial_req *rq;      /* NULL: none pending */
	} dials[MAX_HOPS];
	size_t ndials, nexthop;
	uv_timer_t *race;                 /* failover-delay: a silent hop lets the next start */
	bool ordered;                     /* hops put in health order */
	sip_via_t *our_via;
	sip_record_route_t *rr_in, *rr_out;

	enum txn_state state;
	enum txn_timer timer_running;     /* what timer is (NONE: stopped) */
	bool got_100, got_provisional, cancelled, cancel_pending, cancel_sent;
	int last_status;
	enum diag_code last_diag;
	uv_timer_t timer;
	struct probe_job *probe;          /* a probe's OPTIONS: no upstream, results there */
	struct txn_local *local;          /* the edge's own request: no upstream, final there */
};

int txn_server_key(const sip_t *sip, const char *method, char *out, size_t len);
struct txn *txn_new(struct worker *w, struct conn *c, msg_t *msg, sip_t *sip, const char *key,
    uint32_t loop);
void txn_destroy(struct txn *t);
/* The connection a transaction uses up (in) or down (out): a reference, and a
 * place in that connection's list, so that its close reaches only its own
 * transactions. */
void txn_set_out(struct txn *t, struct conn *c);
void txn_drop_in(struct txn *t);
void txn_drop_out(struct txn *t);
/* A connection closed: its transactions lose it (a branch on it fails). */
void txn_conn_closed(struct conn *c);
struct txn *txn_by_key(struct worker *w, const char *key);
struct txn *txn_by_branch(struct worker *w, const char *branch);
/* Start the named timer (stopping the one running), for its configured time. */
void txn_arm(struct txn *t, enum txn_timer which);
const char *txn_timer_name(enum txn_timer which);
/* Final response from a transaction, upstream (nothing for an ACK). */
void txn_reply(struct txn *t, int status, enum diag_code d, const char *detail);
/* The transaction has its final response: wait for an ACK, or end. */
void txn_complete(struct txn *t, int status);
/* Give up on the current branch: next hop, or a final response upstream. */
void txn_branch_failed(struct txn *t, int status, enum diag_code d, const char *detail);
/* hop.c: send on the first usable next hop (the dialog's flow first). */
void txn_next_hop(struct txn *t);
/* Cancel the dials in progress (silent: mark those without progress down);
 * close: also free the race timer (the transaction ends). */
void txn_dials_stop(struct txn *t, bool silent);
void txn_dials_close(struct txn *t);
/* Put our Via (and Record-Routes) on the request and send it on c (ours) or
 * to out_id (another worker's). */
void txn_send_request(struct txn *t, struct conn *c, uint64_t out_id, enum tp_kind kind,
    const struct sockaddr_storage *peer_addr, const char *peer_fqdn);
/* Worker 0, every second: probe the down next hops that are due. */
void hop_probe_due(struct worker *w);
int txn_send_down(struct txn *t, msg_t *m);
/* A connection found by a token's id must also be the peer the token names. */
bool txn_flow_matches(struct conn *c, const struct rr_peer *p);
void txn_forward_up(struct txn *t, msg_t *msg, sip_t *sip);
void txn_response(struct txn *t, msg_t *msg, sip_t *sip);
void txn_response_unusable(struct txn *t, int status);
/* Our Record-Route entry for side s, carrying the token of peer, in msg. */
sip_record_route_t *txn_make_rr(struct txn *t, msg_t *msg, enum side s, const struct rr_peer *peer);
/* The edge's own 200 to an OPTIONS for itself; the transaction ends. */
void txn_answer_options(struct txn *t);

/* ---- routing (route.h), the proxy's side -------------------------------- */

/* Before routing: the upstream peer, for our Record-Route token. */
void txn_fill_in_peer(struct txn *t, const struct conn_info *ci);
/* Route the transaction's request (route_start): the verdict; after
 * ROUTE_PENDING the transaction goes on by itself (txn_route_act). */
int txn_route(struct txn *t);
/* Count (and, for a relayed one, log) the federation decision of a new request. */
void txn_count_decision(struct txn *t);
/* Act on the verdict: refuse, answer the OPTIONS, or go to the next hop. */
void txn_route_act(struct txn *t);
/* The dialog's connection is gone: route_fallback, the hops dialled anew. */
int txn_fallback(struct txn *t);
/* A dialog-forming response from the pool to a partner: our external token
 * vouches for the pool's Record-Route entries. */
void txn_seal_response(struct txn *t, msg_t *msg, sip_t *sip);

/* ---- the XMPP side (proxy_xmpp.c, xmpp_im.c) ------------------------------ */

struct xmpp_gw;
struct xml_doc;
/* Worker 0: make the XMPP gateway (its listeners bound now).  0, or a
 * negative status and err says why. */
int proxy_xmpp_start(struct worker *w, char *err, size_t errlen);
/* Worker 0, its thread: the policy changed; and the worker stops. */
void proxy_xmpp_policy(struct worker *w);
void proxy_xmpp_stop(struct worker *w);
/* Worker 0, each second: presence subscription timers. */
void proxy_xmpp_tick(struct worker *w);
/* A request routed to an XMPP partner (ROUTE_XMPP): to worker 0's gateway;
 * its outcome comes back as the transaction's final response. */
void proxy_xmpp_forward(struct txn *t);
/* On worker 0: translate p's request and send it (xmpp_sip.c); the outcome
 * goes to worker `from` as POST_XMPP_DONE.  Takes msg. */
void xmpp_sip_request(struct worker *w, msg_t *msg, const char *domain, const char *key,
    unsigned from);
/* On another worker: t's MESSAGE (to t->op.domain) translated and written
 * straight to the stream that is up (xmpp_share.c), or answered for what
 * it lacks: 0 (t is answered); -EAGAIN: hand it to worker 0. */
int xmpp_sip_direct(struct worker *w, struct txn *t);
/* The outcome of a POST_XMPP, on the transaction's worker (a may be NULL). */
void proxy_xmpp_done(struct worker *w, const char *key, int status, enum diag_code d,
    const char *text, const struct xmpp_answer *a);
/* xmpp_sip.c, on worker 0: send that outcome to worker `from`. */
void xmpp_sip_done(struct worker *w0, unsigned from, const char *key, int status,
    enum diag_code d, const char *text, const struct xmpp_answer *a);
/* An authenticated stanza from an XMPP partner of type ptype ("federated",
 * "public-verified", "public-unverified"): translated for the pool, or
 * answered.  Takes doc. */
void xmpp_im_stanza(struct worker *w, struct xmpp_gw *gw, const char *ldom, const char *rdom,
    struct xml_doc *doc, const char *ptype);

/* ---- proxy.c ------------------------------------------------------------- */

const char *proxy_side_fqdn(const struct worker *w, enum side s);
const char *proxy_peer_str(const struct conn *c, char *buf, size_t len);
/* A response made by the edge itself to a request (via: its own Vias); a
 * refusal is counted and logged (relay_log_decision), with the routing's
 * findings when op is not NULL. */
void proxy_reply_op(struct worker *w, struct conn *c, msg_t *req, const sip_via_t *via,
    enum side side, int status, enum diag_code d, const char *detail, const char *to_tag,
    const char *unsupported, const struct route_op *op);
static inline void
proxy_reply(struct worker *w, struct conn *c, msg_t *req, const sip_via_t *via, enum side side,
    int status, enum diag_code d, const char *detail, const char *to_tag, const char *unsupported)
{
	proxy_reply_op(w, c, req, via, side, status, d, detail, to_tag, unsupported, NULL);
}
/* relay_log.c: the transport's trace_cb while the trace is on. */
void relay_trace(struct conn *c, msg_t *msg, bool out, void *ud);
/* relay_log.c: the decision line of a new request (refused: status >= 300). */
void relay_log_decision(struct worker *w, struct conn *c, const sip_t *sip,
    const struct route_op *op, int status, enum diag_code d, const char *detail);

/* 64 random bits for the edge's own tags, branches, Call-IDs and stanza
 * ids: the kernel's (getrandom), taken 512 octets at a time per thread so
 * that a translated message costs no system call for them (the clock if
 * the kernel has no entropy to give).  Inline: each file that uses it has
 * its own pool per thread, and the unit tests that link a file without
 * the proxy need nothing more. */
static inline uint64_t
proxy_rnd64(void)
{
	static _Thread_local uint64_t pool[64];
	static _Thread_local unsigned left;
	uint64_t r;

	if (left == 0) {
		if (getrandom(pool, sizeof(pool), 0) != (ssize_t)sizeof(pool))
			return uv_hrtime();
		left = sizeof(pool) / sizeof(pool[0]);
	}
	r = pool[--left];
	pool[left] = 0;                    /* a value is handed out once */
	return r;
}

/* The workers (proxy.c makes them; these are what the others need). */
static inline struct worker *
worker_by_index(struct proxy *px, unsigned idx)
{
	return idx < px->nworkers ? &px->workers[idx] : NULL;
}

static inline void
proxy_post_free(struct post *p)
{
	if (p->msg)
		msg_destroy(p->msg);
	if (p->policy)
		policy_unref(p->policy);
	if (p->handoff)
		transport_handoff_drop(p->handoff);
	if (p->query)
		proxy_query_release(p->query);
	if (p->reload)
		proxy_reload_release(p->reload);
	if (p->probe)
		probe_dropped(p->probe);
	free(p->answer);
	if (p->xquery)
		proxy_xmpp_query_dropped(p->xquery);
	free(p);
}

/* Hand p to worker to (takes p; freed when that worker no longer takes mail). */
static inline int
proxy_post(struct worker *to, struct post *p)
{
	int rc = worker_post(&to->th, &p->mail);

	if (rc < 0)
		proxy_post_free(p);
	return rc;
}
/* The loop's clock of a worker. */
#define WORKER_NOW(w) uv_now(&(w)->th.loop)

/* relay.c, called on the worker's own thread */
void proxy_on_message(struct conn *c, msg_t *msg, int status, void *ud);
void proxy_on_closed(struct conn *c, void *ud);
void relay_on_post(struct worker *w, struct post *p);
/* Every request still in progress gets its final response (shutting down). */
void relay_shutdown(struct worker *w);

#endif
