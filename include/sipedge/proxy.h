/* proxy.h: the stateful proxy (RFC 3261 §16) as a whole: workers, each with its own
 * libuv loop, listeners and transactions. */
#ifndef SIPEDGE_PROXY_H
#define SIPEDGE_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "sipedge/conf.h"
#include "sipedge/throttle.h"

struct proxy;
struct policy;
struct store;

/* Load keys and TLS contexts, create workers and bind every listener (in the
 * calling thread, before any worker runs).  On error a negative status (an
 * errno, or a libuv, transport or DNS code) and one line in err. */
int proxy_new(const struct conf *c, struct proxy **out, char *err, size_t errlen);
/* After daemon(): let the workers' loops renew their kernel state. */
void proxy_after_fork(struct proxy *p);
/* Start the worker threads. */
int proxy_start(struct proxy *p);
/* Give every worker a new policy snapshot (takes one reference of pol, which
 * the caller may drop afterwards); the proxy keeps one more for the main
 * thread (proxy_partners).  From the main thread. */
void proxy_set_policy(struct proxy *p, struct policy *pol);
/* Write the discovered-partner counters gathered since the last call. */
int proxy_record_partners(struct proxy *p, struct store *st);
/* Ask every worker to stop (async-signal-unsafe; call from a loop). */
void proxy_stop(struct proxy *p);
/* Join the workers and free everything. */
void proxy_free(struct proxy *p);

/* The message trace (sipedgectl trace): every message in and out logged, or
 * only those whose Request-URI, From or To is in domain (or a subdomain);
 * off: none.  Each worker switches when it reads its mail.  0 or -errno. */
int proxy_trace(struct proxy *p, bool on, const char *domain);

/* ---- reload (proxy_reload.c) ---- */

/* Put c in force (from the thread running loop): new TLS contexts from its
 * certificate, key and CA bundle for the handshakes that start from now on
 * (open connections keep theirs), its pool and internal servers, host pins,
 * limits, timers and DNS servers.  What needs a restart (listeners, workers,
 * state and key files, the edge's names) is the caller's to refuse or
 * report.  0: cb(arg) comes on loop once every worker uses c; the previous
 * configuration may be freed then, not before.  Else a negative errno and
 * err says why (nothing changed). */
typedef void (*proxy_reload_cb)(void *arg);
int proxy_reload(struct proxy *p, const struct conf *c, uv_loop_t *loop, proxy_reload_cb cb,
    void *arg, char *err, size_t errlen);

/* ---- the federation probe (probe.c) ---- */

/* One next hop the probe tried. */
struct proxy_probe_hop {
	char fqdn[CONF_MAX_NAME];
	char address[64];                  /* "1.2.3.4:5061" */
	bool started, ok, reused, names_match;
	uint64_t ms;                       /* connect + TLS handshake */
	char result[512];                  /* "connected", or why not */
	char names[512];                   /* the certificate's names, space-separated */
};

struct proxy_probe {
	char domain[CONF_MAX_NAME], from[512];
	char steps[6144];                  /* the routing step's trace, one line each */
	int verdict;                       /* enum route_verdict of the first step */
	int diag;                          /* a refusal's diagnostic code */
	struct proxy_probe_hop hops[8];
	size_t nhops;
	int status;                        /* the final response */
	bool from_partner;                 /* it came from the partner (else the edge) */
	char reason[512];
	char diagnostics[512];             /* its ms-diagnostics(-public) */
	char server[256];                  /* its Server or User-Agent */
	uint64_t total_ms;
};
typedef void (*proxy_probe_cb)(const struct proxy_probe *res, void *arg);
/* Send an OPTIONS for sip:domain from `from` along the real outbound path, as
 * if the pool had sent it (from the thread running loop).  0: cb on loop with
 * the result; else a negative errno and no callback. */
int proxy_probe(struct proxy *p, uv_loop_t *loop, const char *domain, const char *from,
    proxy_probe_cb cb, void *arg);

/* ---- what the control socket reads (proxy_query.c) ---- */

struct stats_total;
unsigned proxy_nworkers(const struct proxy *p);
/* The counters summed over every worker, from any thread (stats.h).  0 or
 * -ENOMEM. */
int proxy_stats(struct proxy *p, struct stats_total *out);

/* One established connection, copied from its worker. */
struct proxy_conn {
	uint64_t id;
	unsigned worker;
	enum side side;
	bool outbound, tls, resumed;
	char peer[64], local[64];          /* "1.2.3.4:5061" */
	char name[CONF_MAX_NAME];          /* certificate name (first), or "" */
	char dialled[CONF_MAX_NAME];       /* outbound: the FQDN dialled, or "" */
	char tls_version[16], tls_cipher[64];
	uint64_t age_ms, idle_ms;
	uint64_t bytes_in, bytes_out, messages_in, messages_out;
};
/* Called on the caller's loop once every worker has answered, with the
 * connections (n may be 0; status -ENOMEM if some could not be copied); v is
 * freed after the call. */
typedef void (*proxy_conns_cb)(int status, const struct proxy_conn *v, size_t n, void *arg);
/* Ask every worker for its connections (from the thread running loop).  0,
 * or a negative errno (then cb is not called). */
int proxy_connections(struct proxy *p, uv_loop_t *loop, proxy_conns_cb cb, void *arg);

/* ---- the XMPP side, for the control socket (proxy_xmpp_query.c) ---- */

struct xmpp_counters;
struct xmpp_stream_row;
struct xmpp_probe_result;
/* Worker 0's XMPP gateway's counters, from any thread (zero without one). */
void proxy_xmpp_counters(struct proxy *p, struct xmpp_counters *out);
/* The gateway's streams, copied on worker 0 (xmpp_query.h): cb on loop with
 * status 0 and the rows (v freed after the call), or a negative errno
 * (-ENOMEM; -ECANCELED: the edge is stopping).  0, or a negative errno and no
 * callback. */
typedef void (*proxy_xmpp_streams_cb)(int status, const struct xmpp_stream_row *v, size_t n,
    void *arg);
int proxy_xmpp_streams(struct proxy *p, uv_loop_t *loop, proxy_xmpp_streams_cb cb, void *arg);
/* Probe the XMPP partner domain from local, one of our domains, on worker 0
 * (xmpp_probe.h), waiting ping_timeout_s for the ping's answer: cb on loop
 * with status 0 and the result, or a negative errno (the probe could not
 * run: -ECANCELED, the edge is stopping).  0, or a negative errno and no
 * callback. */
typedef void (*proxy_xmpp_probe_cb)(int status, const struct xmpp_probe_result *res, void *arg);
int proxy_xmpp_probe(struct proxy *p, uv_loop_t *loop, const char *local, const char *domain,
    unsigned ping_timeout_s, proxy_xmpp_probe_cb cb, void *arg);

/* ---- discovered partners (proxy_partners.c) ---- */

/* The throttle's view of every discovered partner now (throttle_list), under
 * the policy snapshot in force; now_ms is uv_now() of the caller's loop (the
 * workers' clock).  From the main thread, after proxy_set_policy.  cb runs
 * under the throttle's lock, which the workers' discovered traffic waits for:
 * copy, never block.  Returns the number of partners. */
size_t proxy_partners(struct proxy *p, uint64_t now_ms, throttle_list_cb cb, void *arg);
/* Once a second from the main thread: log event 14603 for each partner
 * refused for the first time in its period, and every discovered-period
 * minutes (from the first call) event 14601, the report of the discovered
 * partners seen since the previous one (sipedge(8) LOGGING). */
void proxy_partners_log(struct proxy *p, uint64_t now_ms);

/* Only TLS contexts and the key: the checks behind "sipedge -n". */
int proxy_check(const struct conf *c, char *err, size_t errlen);

#endif
