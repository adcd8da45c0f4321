/* xmpp_int.h: structures shared by the XMPP side's files, private to them:
 * xmpp_conn.c (a stream's socket, TLS and writes), xmpp_stream.c (the XML
 * stream: headers, features, errors, stanzas, RFC 6120 §4), xmpp_in.c and
 * xmpp_out.c (negotiation as receiving and as initiating entity: STARTTLS
 * §5, SASL EXTERNAL §6 with XEP-0178) and xmpp_gw.c (the gateway: listeners,
 * streams by domain pair, policy, timers).
 *
 * Threading: the gateway and all its streams live on one loop (worker 0's).
 * Other workers write stanzas straight to the streams that are up
 * (xmpp_share.c): under the share's lock, which worker 0 takes wherever it
 * uses what they may touch (the list of streams, a stream's TLS session and
 * socket writes, its write queue); its counters and times are atomic. */
#ifndef SIPEDGE_XMPP_INT_H
#define SIPEDGE_XMPP_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "sipedge/conf.h"
#include "sipedge/diag.h"
#include "sipedge/policy.h"
#include "sipedge/store.h"
#include "sipedge/dns.h"
#include "sipedge/tls.h"
#include "sipedge/xmpp.h"
#include "sipedge/xmpp_probe.h"
#include "sipedge/xmpp_xml.h"

#define XS_MAX_TARGETS 8
#define XS_MAX_BACKLOG (1u << 20)          /* octets queued for a peer that does not read */
#define XS_QUEUE_MAX 200                   /* stanzas waiting for a stream being set up */
#define XDB_KEY_LEN 64                     /* our dialback keys: hex HMAC-SHA256 */
#define XDB_KEY_MAX 1023                   /* the longest key a partner may send */

enum xs_state {
	XS_RESOLVING,                      /* outbound: DNS */
	XS_CONNECTING,                     /* outbound: TCP */
	XS_NEGOTIATING,                    /* headers, STARTTLS, SASL, dialback */
	XS_READY,                          /* authenticated: stanzas flow */
	XS_CLOSING,                        /* our </stream:stream> sent, flushing */
	XS_CLOSED,
};

/* What a parser pause leads to (the octets after the element). */
enum xs_after {
	XS_AFTER_NONE,
	XS_AFTER_TLS,                      /* <proceed/>: they are TLS */
	XS_AFTER_RESTART,                  /* SASL <success/>: a new stream */
};

/* A stanza waiting for its stream; cb learns whether it went out. */
typedef xmpp_sent_cb xs_sent_cb;
struct xs_pending {
	struct xs_pending *next;
	struct xml_doc *doc;
	xs_sent_cb cb;
	void *arg;
};

/* An outbound stream's way to the partner: its SRV targets in RFC 2782
 * order, the addresses of the one being tried, and what failed. */
struct xs_dial {
	uv_connect_t connect;
	struct dns_srv targets[XS_MAX_TARGETS];
	bool target_tls[XS_MAX_TARGETS];   /* XEP-0368 direct TLS (_xmpps-server) */
	size_t ntargets, target;
	struct sockaddr_storage addrs[4];
	size_t naddrs, addr;
	char dial_why[128];                /* why the last connection attempt failed */
	char tried[512];                   /* each failed target and why */
};

struct xstream {
	struct xmpp_gw *gw;
	struct xstream *prev, *next;       /* the gateway's list */
	uint64_t id;
	bool outbound;                     /* we initiated it */
	bool direct_tls;                   /* XEP-0368: TLS from the first octet */
	enum xs_state state;
	enum xs_after after;

	uv_tcp_t tcp;
	uv_shutdown_t shutdown;
	bool tcp_open;
	bool redialling;                   /* a failed attempt's socket is closing */
	struct tls_sess *tls;
	bool tls_up;                       /* handshake done */
	struct xmpp_parser *parser;
	size_t wq_bytes;                   /* queued for writing */
	/* Shared (xmpp_share.c): other workers may write to it; under the
	 * share's lock, as are the two below. */
	bool shared;
	int fd;                            /* the socket, while shared */
	/* Ciphertext another worker wrote that the socket did not take then:
	 * queued first by worker 0 (counted in wq_bytes); the socket failed. */
	char *rest;
	size_t rest_len;
	bool wire_failed;

	/* The domain pair: ours and the peer's (inbound: from the stream header
	 * or the dialback request). */
	char local[CONF_MAX_NAME], remote[CONF_MAX_NAME];
	char sid[40];                      /* the stream id: ours inbound, the peer's outbound */
	bool header_sent, header_got;
	enum xmpp_auth auth;               /* how the peer (inbound) or we (outbound) proved it */
	bool external_offered;             /* inbound: SASL EXTERNAL in our features */
	bool bidi;                         /* XEP-0288: stanzas both ways on this stream */
	char cert_why[256];                /* inbound: why EXTERNAL was not offered */
	const struct policy_xmpp_partner *partner; /* the policy row (valid while gw->pol is) */

	/* Outbound: where to connect (allocated by xout_dial: an inbound
	 * stream has none, and an idle one is smaller without it). */
	struct dns_query *q;
	struct xs_dial *dial;

	/* Dialback: an outbound stream made only to check inbound streams'
	 * keys with the partner's server; an inbound stream waiting for it. */
	bool verify_only;
	struct xdb_job *db_jobs;
	bool db_waiting;

	struct xs_pending *qhead, *qtail;  /* stanzas waiting (outbound) */
	size_t qlen;

	uint64_t t_start, t_ready, t_in;   /* loop ms */
	_Atomic uint64_t t_out;            /* (another worker's loop ms when it wrote last) */
	_Atomic uint64_t t_stanza;         /* the last stanza either way */
	uint64_t t_connected, t_tls;       /* outbound: TCP up, TLS up (0: not yet) */
	struct xprobe *probe;              /* sipedgectl xmpp probe's stream (xmpp_probe.c) */
	uint64_t stanzas_in, bytes_in;
	_Atomic uint64_t stanzas_out, bytes_out;
	char peer[64];                     /* "1.2.3.4:5269" */
	/* Why it closed: the first error recorded wins; the peer's stream
	 * error, and what DNS said (for the SIP status, RFC 6120 §10.4.3). */
	enum xmpp_serr peer_serr;
	bool dns_nodomain, dns_failed, srv_none;
	enum diag_code diag;
	char reason[384];
};

/* The gateway's counters (struct xmpp_counters, field for field): written
 * on the gateway's thread with the plain ++ and += of the stream code, read
 * from any thread by xmpp_gw_counters (sipedgectl stats and the Prometheus
 * exposition run on the main thread and do not wait for worker 0).  Atomic,
 * so that a reader never sees a torn value; a few read-modify-writes per
 * stanza cost nothing next to the stanza's XML and TLS. */
struct xgw_counters {
	_Atomic uint64_t streams_in, streams_out;
	_Atomic uint64_t streams_in_ok, streams_out_ok;
	_Atomic uint64_t streams_refused;
	_Atomic uint64_t streams_out_failed;
	_Atomic uint64_t tls_failures, bad_xml, stream_errors_sent;
	_Atomic uint64_t stanzas_in, stanzas_out, stanzas_failed;
	_Atomic uint64_t stanzas_out_direct;
	_Atomic uint64_t presence_limited;
	_Atomic uint64_t bytes_in, bytes_out;
	_Atomic uint64_t open_streams;
};
_Static_assert(sizeof(struct xgw_counters) == sizeof(struct xmpp_counters),
    "struct xgw_counters has the fields of struct xmpp_counters");

struct xmpp_gw {
	uv_loop_t *loop;
	const struct conf *cf;
	struct dns *dns;
	struct tls_ctx *server, *client;   /* held (tls_ctx_ref) */
	const struct xmpp_hooks *hooks;
	void *hooks_arg;
	struct policy *pol;                /* the snapshot in force (a reference), or NULL */
	unsigned char db_secret[32];       /* XEP-0220 §2.4: the dialback secret */
	uv_tcp_t *listeners;
	bool *listener_tls;                /* direct TLS (xmpps) */
	size_t nlisteners;
	uv_timer_t tick;
	struct xstream *streams;
	size_t nstreams;
	struct xrate *rates;               /* presence buckets by partner domain */
	uint64_t next_id;
	bool stopping, tick_closed;
	struct xgw_counters ctr;
	struct xmpp_share *share;          /* or NULL (no other worker writes) */
	uv_async_t kick;                   /* another worker left a stream's rest */
	bool kick_closed;
	char readbuf[65536];
	char plainbuf[65536];
};

/* What the gateway shares with the other workers (xmpp.h). */
struct xmpp_share {
	pthread_mutex_t mu;                /* recursive: worker 0 nests it */
	struct xmpp_gw *gw;                /* attached, or NULL */
	struct xthreads *thr;
	unsigned handed;                   /* requests on their way to worker 0 */
};

/* Worker 0: the share's lock around what other workers may touch. */
static inline void
xgw_lock(struct xmpp_gw *gw)
{
	if (gw->share)
		pthread_mutex_lock(&gw->share->mu);
}

static inline void
xgw_unlock(struct xmpp_gw *gw)
{
	if (gw->share)
		pthread_mutex_unlock(&gw->share->mu);
}

/* ms from then to now, 0 when then is later (another worker's loop may
 * have cached the clock a little after ours). */
static inline uint64_t
xs_since(uint64_t now, uint64_t then)
{
	return now > then ? now - then : 0;
}

/* Whether our stanzas for s's domain pair may go on s, once it is up
 * (xmpp_gw_send's choice, and the streams other workers may write to): an
 * outbound stream of ours that is neither dialback's verify stream nor a
 * probe's, or the partner's bidirectional one (XEP-0288) authenticated by
 * SASL EXTERNAL (its TLS checked our certificate for local). */
static inline bool
xs_carries_ours(const struct xstream *s)
{
	return s->probe == NULL &&
	    (s->outbound ? !s->verify_only : s->bidi && s->auth == XMPP_AUTH_EXTERNAL);
}

/* What an outbound stream's attempts ran into ("" for none, or inbound). */
static inline const char *
xs_tried(const struct xstream *s)
{
	return s->dial != NULL ? s->dial->tried : "";
}

/* xmpp_conn.c */
int xs_new(struct xmpp_gw *gw, bool outbound, struct xstream **out);
/* Start TLS on the socket (client role for outbound streams, checking the
 * certificate names s->remote). */
int xs_tls_start(struct xstream *s);
int xs_write(struct xstream *s, const char *buf, size_t len);
/* Queue TLS's close_notify (after our </stream:stream>). */
void xs_tls_close(struct xstream *s);
/* Ciphertext read (or left after <proceed/>) for the TLS session. */
void xs_cipher_input(struct xstream *s, const char *buf, size_t len);
/* Close at once (the socket; the stream is freed from the close callback). */
void xs_abort(struct xstream *s);
/* Another worker's stanza, the share's lock held (xmpp_share.c): see
 * xmpp_share_send. */
int xs_write_other(struct xstream *s, const char *buf, size_t len, uint64_t now);
/* Worker 0: queue what other workers left (kick), or close a stream whose
 * socket failed under them. */
void xs_take_rest(struct xstream *s);
/* The stream is up and may be written by other workers; no longer. */
void xs_share(struct xstream *s);
void xs_unshare(struct xstream *s);
/* After our </stream:stream>: flush, shut down, close. */
void xs_finish(struct xstream *s);
int xs_connect(struct xstream *s, const struct sockaddr_storage *addr);
/* The accepted socket is s->tcp (already initialised on the loop). */
int xs_accepted(struct xstream *s);

/* xmpp_stream.c */
int xs_parser_new(struct xstream *s, const struct xmpp_parser_limits *l);
void xs_input(struct xstream *s, const char *buf, size_t len);
int xs_send_header(struct xstream *s);
/* A new stream id in s->sid (ours: we are the receiving entity). */
void xs_new_sid(struct xstream *s);
int xs_send_doc(struct xstream *s, const struct xml_elem *e);
int xs_send_raw(struct xstream *s, const char *text);
/* Close with a stream error (cond NONE: gracefully), recording d and text
 * as the reason; queued stanzas fail with it. */
void xs_close(struct xstream *s, enum xmpp_serr cond, enum diag_code d, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Record why (the first reason wins), without closing. */
void xs_note(struct xstream *s, enum diag_code d, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void xs_fail_queue(struct xstream *s, int status, enum diag_code d, const char *text);
/* The SIP status for what stopped s (RFC 7247 Table 2, RFC 6120 §10.4.3). */
int xs_fail_status(const struct xstream *s);
void xs_flush_queue(struct xstream *s);
void xs_ready(struct xstream *s);
const char *xs_ctx(const struct xstream *s, char *buf, size_t len);

/* xmpp_in.c: the receiving entity. */
int xin_open(struct xstream *s, const struct xml_elem *h, const char *default_ns);
int xin_element(struct xstream *s, struct xml_doc *doc);
void xin_tls_up(struct xstream *s);

/* xmpp_out.c: the initiating entity. */
int xout_open(struct xstream *s, const struct xml_elem *h, const char *default_ns);
int xout_element(struct xstream *s, struct xml_doc *doc);
void xout_tls_up(struct xstream *s);
void xout_start(struct xstream *s);
/* Find the partner's server (proxy FQDN or SRV) and connect.  0 or a
 * negative errno (the look-up could not start). */
int xout_dial(struct xstream *s);
/* The TCP connection to the current address failed: the next, or fail. */
void xout_next(struct xstream *s, const char *why);

/* xmpp_dialback.c (XEP-0220) */
struct xdb_job;
int xdb_load_secret(struct xmpp_gw *gw, char *err, size_t errlen);
void xdb_key(const struct xmpp_gw *gw, const char *receiving, const char *originating,
    const char *sid, char out[XDB_KEY_LEN + 1]);
/* Whether the partner's row and the stream's TLS let dialback operate. */
bool xdb_allowed(const struct xstream *s);
/* Outbound: <db:result/> with our key. */
int xdb_send_result(struct xstream *s);
/* A <db:result/> or <db:verify/> on s; takes doc. */
int xdb_element(struct xstream *s, struct xml_doc *doc);
/* A verify stream may send its <db:verify/>s; it ended (checks fail). */
void xdb_flush(struct xstream *v);
void xdb_stream_gone(struct xstream *v);

/* xmpp_query.c: "resolving", "connecting", ... */
const char *xq_state_name(enum xs_state st);

/* xmpp_probe.c (sipedgectl xmpp probe): the probe's stream is authenticated
 * (its ping goes out); a stanza may be a probe's answer (taken: true); the
 * once-a-second timer (pings without an answer); a stream is about to be
 * freed (the probe's own: it failed; an inbound one: maybe why no answer). */
void xprobe_ready(struct xstream *s);
bool xprobe_stanza(struct xstream *s, struct xml_doc *doc);
void xprobe_tick(struct xmpp_gw *gw, uint64_t now);
void xprobe_stream_gone(struct xstream *s);
/* The step a stream that ends before it is ready stopped at. */
enum xmpp_probe_step_id xprobe_fail_step(const struct xstream *s);
/* 1 if iq is an answer (result or error; what: "result", "error: COND[:
 * text]"), 0 if it is a request. */
int xprobe_answer(const struct xml_elem *iq, char *what, size_t len);

/* xmpp_gw.c */
void xgw_link_stream(struct xmpp_gw *gw, struct xstream *s);
void xgw_unlink(struct xstream *s);
/* An authenticated stanza from s (s->remote → s->local); the callee owns doc. */
void xgw_stanza(struct xstream *s, struct xml_doc *doc);
/* The partner's connection limit, once s->partner is known: 0, or the
 * stream is closed (resource-constraint) and -EPROTO. */
int xgw_admit(struct xstream *s);
/* The partner row for a domain under the policy in force, or NULL (why set). */
const struct policy_xmpp_partner *xgw_partner(struct xmpp_gw *gw, const char *domain,
    enum diag_code *d, const char **why);
/* The XMPP settings in force (the defaults before any policy). */
const struct store_xmpp_config *xgw_set(const struct xmpp_gw *gw);

#endif
