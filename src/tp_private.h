/* tp_private.h: transport internals shared by transport.c and its unit test
 * (stream framing RFC 3261 §18.3, keep-alive RFC 5626 §3.5.1). */
#ifndef SIPEDGE_TP_PRIVATE_H
#define SIPEDGE_TP_PRIVATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <uv.h>
#include <sofia-sip/msg.h>

#include "sipedge/framing.h"
#include "sipedge/stats.h"
#include "sipedge/tls.h"
#include "sipedge/transport.h"

/* Decrypted bytes taken from the TLS session at a time. */
#define TP_SLICE            16384
/* One read buffer per worker: reads are handled to the end before the next. */
#define TP_READ_BUF         65536
/* A peer that does not read what we send is dropped beyond this backlog. */
#define TP_MAX_BACKLOG      (4u << 20)
/* A connection closed gracefully gets this long to flush its writes. */
#define TP_LINGER_MS        5000
/* After a framing error the connection stops reading but stays open while
 * transactions it carried are still owed a final response (they hold
 * references), at most this long (> Timer F, 64*T1). */
#define TP_DRAIN_MS         35000
#define TP_ADDR_BUCKETS     1024

enum conn_state {
	CS_CONNECTING,      /* outbound: TCP connect in progress */
	CS_HANDSHAKE,       /* TLS handshake in progress */
	CS_OPEN,            /* established: messages flow */
	CS_CLOSING,         /* flushing queued writes, then close */
	CS_CLOSED,          /* handles being closed; memory freed once unreferenced */
};

struct tp_addr_slot {
	struct tp_addr_slot *next;
	int family;
	unsigned char addr[16];
	unsigned count;
};

struct transport {
	struct transport_conf conf;
	atomic_uint_fast64_t accepted, dialled, refused_limit, tls_failures, framing_errors;
	atomic_uint_fast64_t open_connections, messages_in, messages_out;
	/* Inbound connections, for max_connections (all workers). */
	atomic_uint inbound;
	/* The workers, for balancing inbound connections (tp_accept.c). */
	struct tp_worker *workers[256];
	atomic_uint nworkers;
	/* Inbound connections per source address, for max_connections_per_address. */
	pthread_mutex_t addr_mu;
	struct tp_addr_slot *addr_tab[TP_ADDR_BUCKETS];
};

struct tp_listener {
	uv_tcp_t tcp;
	struct tp_worker *tw;
	struct listener_conf lc;
	struct tls_ctx *tls;
	struct tp_listener *next;
};

struct dial_pending;

struct tp_worker {
	struct transport *t;
	uv_loop_t *loop;
	unsigned idx;
	atomic_uint nin;                 /* inbound connections it holds */
	struct transport_cbs cbs;
	/* Limits, timeouts and the client context in force on this worker (a
	 * reload replaces them here, on the worker's own thread). */
	struct transport_conf conf;
	bool tracing;                    /* cbs.trace_cb for each message */
	_Atomic bool shutting_down;      /* read by the other workers (least_loaded) */
	uint64_t next_seq;
	struct tp_listener *listeners;
	struct conn *conns;              /* every connection not yet freed by libuv */
	struct conn *outbound;           /* established outbound ones, for reuse */
	struct dial_pending *dials;      /* dials in progress, shared per key */
	struct conn **ht;                /* open connections by id */
	size_t htsize, htcount;
	char *wbuf;                      /* TLS: a message flattened before SSL_write */
	size_t wbufsize;
	/* TLS output is written once per connection per loop turn: messages
	 * encrypted during the turn wait here (a reference each) until the
	 * check phase, right after the poll phase that produced them; those
	 * encrypted after it (timers, close callbacks) go at the idle phase of
	 * the next turn, whose poll then does not block. */
	uv_check_t flush_check;
	uv_idle_t flush_idle;
	bool flush_open;
	struct conn *flush_head;
	char plain[TP_SLICE];            /* TLS: decrypted bytes */
	char rbuf[TP_READ_BUF];
};

struct conn {
	uv_tcp_t tcp;
	uv_timer_t timer;                /* connect, handshake, idle/incomplete, linger */
	uv_connect_t connect_req;
	uv_shutdown_t shutdown_req;
	struct tp_worker *tw;
	struct transport *t;
	struct conn_info info;
	unsigned refs;
	enum conn_state state;
	bool established;                /* reached CS_OPEN: closed_cb is owed */
	bool counted_inbound;            /* holds a slot in the limit tables */
	bool counted_open;
	bool in_ht;
	bool shutdown_started;
	bool draining;                   /* framing lost: answer what is pending, then close */
	bool discard;                    /* framing lost: input is read and dropped */
	bool peer_eof;                   /* the peer has closed its side */
	uint64_t drain_since;
	uint8_t handles_open;
	struct tls_sess *tls;
	struct framer fr;                /* stream framing, the partial message */
	uint64_t last_io, partial_since; /* uv_now() */
	uint64_t created_at;             /* uv_now() */
	uint64_t bytes_in, bytes_out, msgs_in, msgs_out;
	uint64_t progress_at;            /* outbound: dial started, or handshake bytes came */
	size_t wq_bytes;
	struct dial_pending *dial;       /* outbound setup in progress */
	void *user[2];                   /* the core's (conn_user) */
	char *fqdn;                      /* dialled FQDN (conn_info.dialled_fqdn) */
	struct conn *hnext;
	struct conn *prev, *next;
	struct conn *oprev, *onext;
	struct conn *fnext;              /* the worker's flush list */
	bool flush_queued;
};

struct dial_req {
	struct dial_pending *p;
	tp_dial_cb cb;
	void *arg;
	struct dial_req *prev, *next;
};

struct dial_pending {
	struct tp_worker *tw;
	struct conn *c;
	char *fqdn;
	unsigned short port;
	enum tp_kind kind;
	enum side side;
	bool has_addr;
	struct sockaddr_storage addr;
	struct dial_req *reqs;
	bool delivering;
	struct dial_pending *next;
};

/* tp_accept.c: new server contexts for the TLS listeners of tw. */
void tp__listeners_set_tls(struct tp_worker *tw, struct tls_ctx *mutual, struct tls_ctx *plain);
/* A TLS handshake failed (TLS_FAIL_NONE: it timed out): counted by cause. */
void tp__tls_failed(struct conn *c, enum tls_fail why);
/* The worker's counters (stats.h), when the core gave it some. */
#define TW_STAT(tw, f) STATS_INC((tw)->cbs.stats, f)
#define TW_STAT_ADD(tw, f, n) STATS_ADD((tw)->cbs.stats, f, n)

/* Shared by transport.c, tp_io.c and tp_dial.c (the transport's internals). */
#define STAT_INC(t, f)  atomic_fetch_add_explicit(&(t)->f, 1, memory_order_relaxed)
#define STAT_DEC(t, f)  atomic_fetch_sub_explicit(&(t)->f, 1, memory_order_relaxed)
#define STAT_GET(t, f)  atomic_load_explicit(&(t)->f, memory_order_relaxed)

const char *tp__conn_ctx(const struct conn *c, char *buf, size_t len);
bool tp__addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
/* tp_accept.c: an inbound connection's slot in the limits, given back. */
void tp__limits_release(struct transport *t, const struct sockaddr_storage *peer);
void tp__listeners_close(struct tp_worker *tw);
void tp__ht_insert(struct tp_worker *tw, struct conn *c);
struct conn *tp__conn_alloc(struct tp_worker *tw, enum side side, enum tp_kind kind, bool outbound);
void tp__conn_abort(struct conn *c);
void tp__conn_flushed(struct conn *c);
void tp__conn_arm_timer(struct conn *c);
int tp__conn_write_bytes(struct conn *c, char *buf, size_t len, bool owned);
int tp__conn_tls_flush(struct conn *c);
/* The flush list: started with the worker, ended (what waits written) at shutdown. */
int tp__flush_init(struct tp_worker *tw);
void tp__flush_close(struct tp_worker *tw);
void tp__conn_established(struct conn *c);
void tp__conn_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
void tp__conn_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
void tp__dial_fail(struct conn *c, int status, const char *detail);
void tp__dial_succeed(struct conn *c);

#endif
