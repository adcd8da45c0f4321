/* proxy_int.h: structures shared by proxy.c (transactions, routing) and worker.c
 * (threads, cross-worker mailbox).  Private to the proxy core. */
#ifndef SIPEDGE_PROXY_INT_H
#define SIPEDGE_PROXY_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>
#include <sofia-sip/msg.h>
#include <sofia-sip/sip.h>

#include "sipedge/conf.h"
#include "sipedge/diag.h"
#include "sipedge/dns.h"
#include "sipedge/hmap.h"
#include "sipedge/policy.h"
#include "sipedge/throttle.h"
#include "sipedge/proxy.h"
#include "sipedge/rr.h"
#include "sipedge/transport.h"

struct worker;

/* What crosses from one worker to another (worker.c). */
enum post_kind {
	POST_RESPONSE,       /* msg: a response for a transaction of the target */
	POST_SEND,           /* msg: send on conn_id (owned by the target) */
	POST_SEND_FAILED,    /* a POST_SEND failed: tell the transaction (branch) */
	POST_RESPONSE_BAD,   /* the transaction's (branch) response could not be taken */
	POST_POLICY,         /* policy: a new snapshot (one reference) */
	POST_STOP,
};

struct post {
	struct post *next;
	enum post_kind kind;
	msg_t *msg;
	uint64_t conn_id;
	unsigned from;                  /* worker index that posted */
	char branch[RR_BRANCH_LEN + 1]; /* transaction to notify on failure */
	int status;
	bool flow_check;                /* POST_SEND on a token's flow: check the peer */
	struct rr_peer flow;
	struct policy *policy;
};

struct worker {
	struct proxy *px;
	unsigned idx;
	uv_loop_t loop;
	uv_thread_t thread;
	bool thread_started;
	uv_async_t async;
	pthread_mutex_t mbox_lock;
	struct post *mbox_head, *mbox_tail;
	bool stopping;
	struct tp_worker *tw;
	struct dns *dns;
	struct policy *pol;             /* the snapshot in force (one reference) */

	struct hmap by_branch;          /* client side: our branch → txn */
	struct hmap by_key;             /* server side: request key → txn */
	struct txn *txns;               /* every live transaction */
	unsigned ntxns, max_txns;       /* max: max-transactions / workers */
	uint32_t counter;
};

struct proxy {
	const struct conf *conf;
	struct rr_key key;
	struct tls_ctx *tls_server_mutual, *tls_server_plain, *tls_client;
	struct transport *tp;
	struct throttle *throttle;      /* discovered partners, process-wide */
	struct worker *workers;
	unsigned nworkers;
	unsigned short port[2];         /* our port on each side (Via, Record-Route) */
	enum tp_kind kind[2];           /* our transport on each side */

	atomic_ullong requests, responses, refused, timeouts;
};

/* worker.c */
int worker_post(struct worker *to, struct post *p);   /* takes ownership of p */
struct worker *worker_by_index(struct proxy *px, unsigned idx);

/* proxy.c, called on the worker's own thread */
void proxy_on_message(struct conn *c, msg_t *msg, int status, void *ud);
void proxy_on_closed(struct conn *c, void *ud);
void proxy_on_post(struct worker *w, struct post *p);
void proxy_worker_shutdown(struct worker *w);

#endif
