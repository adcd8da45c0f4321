/* transport.h: listeners and connections (TLS over libuv, or plain TCP for labs), SIP
 * stream framing (RFC 3261 §18.3), CRLF keep-alive (RFC 5626 §3.5.1), limits and
 * timeouts, and reuse of outbound connections per (FQDN, address, port).
 *
 * Threading: one struct transport per process; one struct tp_worker per worker
 * thread, owning that thread's libuv loop handles.  A struct conn belongs to the
 * worker that created it and is only touched from that worker's thread. */
#ifndef SIPEDGE_TRANSPORT_H
#define SIPEDGE_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>
#include <sofia-sip/msg.h>

#include "sipedge/conf.h"
#include "sipedge/tls.h"

struct transport;
struct stats;
struct tp_worker;
struct conn;
struct dial_req;

/* Transport-specific status codes (negative, beyond libuv's UV_E* range). */
#define TP_ETLS        (-10001)  /* TLS handshake failed (detail says why) */
#define TP_ECERTNAME   (-10002)  /* peer certificate does not name the FQDN dialled */
#define TP_ETIMEDOUT   (-10003)  /* connect or handshake timed out */
#define TP_ELIMIT      (-10004)  /* connection limit reached */
#define TP_ECLOSED     (-10005)  /* connection closed */
const char *transport_strerror(int status);

struct transport_conf {
	size_t max_message_size;
	unsigned handshake_timeout_ms;
	unsigned idle_timeout_ms;
	unsigned incomplete_timeout_ms;
	unsigned connect_timeout_ms;
	unsigned max_connections;
	unsigned max_connections_per_address;
	struct tls_ctx *client_tls;          /* for dialling; may be NULL (TCP only) */
	/* The source address of connections dialled on each side, per family
	 * (0: IPv4, 1: IPv6; port 0); unset: the kernel chooses. */
	bool has_src[2][2];
	struct sockaddr_storage src[2][2];
};

/* What the proxy core may know about a connection. */
struct conn_info {
	uint64_t id;                         /* unique; worker index in the top 8 bits */
	enum side side;
	enum tp_kind kind;
	bool outbound;                       /* we dialled it */
	struct sockaddr_storage peer;        /* remote address and port */
	struct sockaddr_storage local;
	/* TLS: the verified peer identity: SAN dNSNames, else the subject CN; lower
	 * case, no trailing dot.  names[0] is the primary one.  Empty for TCP. */
	const char *const *peer_names;
	size_t npeer_names;
	const char *dialled_fqdn;            /* outbound: the FQDN dialled, else NULL */
	bool tls_resumed;                    /* TLS: an earlier session resumed */
};

#define CONN_ID_WORKER(id) ((unsigned)((id) >> 56))

/* Called for every complete message read from a connection.
 *
 * status 0: msg is a complete, parsed SIP message (sip_object(msg) may still
 * carry header errors for the core to judge).  The callee owns msg (one
 * reference): it must msg_destroy() it when done.
 *
 * status 400 or 513: the stream cannot be framed any more (bad first line or
 * Content-Length, missing Content-Length, message over the size limit).  msg is
 * what could be parsed (maybe NULL, maybe without the headers a response
 * needs); the callee may send a response with conn_send() and owns msg if not
 * NULL.  After the callback returns the transport closes the connection once
 * queued writes are flushed. */
typedef void (*tp_message_cb)(struct conn *c, msg_t *msg, int status, void *ud);
/* Called once when a connection is gone (after which conn pointers are invalid). */
typedef void (*tp_closed_cb)(struct conn *c, void *ud);

/* An accepted connection on its way to another worker (tp_accept.c). */
struct tp_handoff;
/* Balancing: a worker that accepts a connection while another worker holds
 * fewer inbound connections hands it over before its TLS handshake.  The
 * callback delivers h to worker `to` (its thread must call
 * transport_worker_adopt), or, if it cannot, calls transport_handoff_drop. */
typedef void (*tp_handoff_cb)(struct tp_worker *from, unsigned to, struct tp_handoff *h,
    void *ud);

struct transport_cbs {
	tp_message_cb message_cb;
	tp_closed_cb closed_cb;              /* may be NULL */
	void *ud;
	tp_handoff_cb handoff_cb;            /* NULL: every worker keeps what it accepts */
	struct stats *stats;                 /* the worker's counters (stats.h); may be NULL */
	/* While tracing is on (transport_worker_trace): every complete message
	 * read (out false, before message_cb) and every message queued for
	 * writing (out true).  msg stays the caller's. */
	void (*trace_cb)(struct conn *c, msg_t *msg, bool out, void *ud);
};

int transport_new(const struct transport_conf *tc, struct transport **out);
void transport_free(struct transport *t);

/* Create the per-worker part on loop (which runs in the calling worker thread). */
int transport_worker_new(struct transport *t, uv_loop_t *loop, unsigned idx,
    const struct transport_cbs *cbs, struct tp_worker **out);
/* Listen with SO_REUSEPORT, so every worker can listen on the same address.
 * tls is a server context for TLS listeners, NULL for TCP.  On error a
 * negative errno (UV_EADDRINUSE, …). */
int transport_worker_listen(struct tp_worker *tw, const struct listener_conf *lc,
    struct tls_ctx *tls);
/* On tw's thread (a reload): the limits, timeouts, source addresses and
 * client context of tc for what starts from now on, and the server contexts
 * for TLS listeners (mutual: those that require a client certificate).
 * Connections already open keep their own TLS session and size limit.  The
 * caller keeps the contexts alive while tw may use them (sessions hold their
 * own references). */
void transport_worker_set_conf(struct tp_worker *tw, const struct transport_conf *tc,
    struct tls_ctx *mutual, struct tls_ctx *plain);
/* On tw's thread: call cbs.trace_cb for every message from now on, or stop. */
void transport_worker_trace(struct tp_worker *tw, bool on);
/* On tw's thread: take over a connection another worker accepted. */
void transport_worker_adopt(struct tp_worker *tw, struct tp_handoff *h);
/* A hand-off that cannot be delivered: the connection is closed. */
void transport_handoff_drop(struct tp_handoff *h);
/* Stop listening and close every connection; the loop then runs dry. */
void transport_worker_shutdown(struct tp_worker *tw);
void transport_worker_free(struct tp_worker *tw);   /* after the loop has ended */

/* The connection with this id if it belongs to tw and is open, else NULL. */
struct conn *transport_conn_find(struct tp_worker *tw, uint64_t id);
const struct conn_info *conn_info(const struct conn *c);
struct tp_worker *conn_worker(const struct conn *c);
/* 1 if the peer's certificate is valid for fqdn (X509_check_host), else 0. */
int conn_peer_matches(const struct conn *c, const char *fqdn);

/* Serialise msg and queue it for writing.  The transport takes its own
 * reference; the caller keeps its own.  0, or a negative status (the
 * connection is closing, the write failed at once). */
int conn_send(struct conn *c, msg_t *msg);
/* Close after flushing queued writes. */
void conn_close(struct conn *c);

/* Two pointers the core keeps per connection (the heads of its lists of the
 * transactions using it), NULL until it sets them. */
void **conn_user(struct conn *c);

/* Connections are refcounted so a transaction can hold the one it uses; the
 * transport holds one reference while the connection is open. */
void conn_ref(struct conn *c);
void conn_unref(struct conn *c);
bool conn_is_open(const struct conn *c);

/* Dialling, with reuse per (FQDN, address, port, kind).  The hop carries its
 * address (names are resolved by routing, route.h: one resolver); a hop
 * without one is -EINVAL.
 *
 * Returns 0 and sets *conn_out when an established connection can be reused
 * (the callback is not called); returns 1 when a connection is being set up (a
 * new one, or one already pending for the same key) and the callback will be
 * called exactly once, from the loop, unless transport_dial_cancel() is called
 * first; returns a negative status on immediate failure (no callback).
 *
 * The callback gets status 0 and an established, verified connection (TLS:
 * the certificate verified against the CA bundle and naming hop->fqdn; SNI
 * sent), or a negative status (UV_ECONNREFUSED, TP_ETLS, TP_ECERTNAME,
 * TP_ETIMEDOUT, …) with a human-readable detail. */
typedef void (*tp_dial_cb)(struct conn *c, int status, const char *detail, void *arg);
int transport_dial(struct tp_worker *tw, const struct hop *hop, enum side side,
    tp_dial_cb cb, void *arg, struct conn **conn_out, struct dial_req **req_out);
void transport_dial_cancel(struct dial_req *req);
/* When the connection req waits for last made progress: the dial started, or
 * bytes of the TLS handshake came from the peer (uv_now() ms). */
uint64_t transport_dial_progress(const struct dial_req *req);

/* One open connection as sipedgectl connections shows it (conn_info plus its
 * TLS parameters and traffic); strings point into the connection and are
 * valid during the callback only. */
struct conn_stat {
	const struct conn_info *info;
	const char *tls_version, *tls_cipher;  /* NULL for TCP */
	uint64_t age_ms, idle_ms;
	uint64_t bytes_in, bytes_out, messages_in, messages_out;
};
/* On tw's thread: call fn for each established connection of tw. */
void transport_worker_each_conn(struct tp_worker *tw,
    void (*fn)(const struct conn_stat *cs, void *arg), void *arg);

/* Counters for status and the benchmark (process-wide, atomically updated). */
struct transport_stats {
	uint64_t accepted, dialled, refused_limit, tls_failures, framing_errors;
	uint64_t open_connections;
	uint64_t messages_in, messages_out;
};
void transport_stats_get(struct transport *t, struct transport_stats *out);

#endif
