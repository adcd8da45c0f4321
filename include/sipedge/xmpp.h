/* xmpp.h: the XMPP side of the edge (RFC 6120 server-to-server): listeners on
 * 5269, streams to and from XMPP partners authenticated by STARTTLS and SASL
 * EXTERNAL (XEP-0178), policy per partner, timers and limits.  What the
 * streams carry goes to the SIP side through hooks (the gateway, RFC 7247).
 *
 * Threading: one struct xmpp_gw on one loop (worker 0's); every call from
 * that loop's thread, but xmpp_gw_counters and the struct xmpp_share calls
 * (any worker: a stanza written straight to a stream that is up, without
 * a hop to worker 0 and back). */
#ifndef SIPEDGE_XMPP_H
#define SIPEDGE_XMPP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "sipedge/conf.h"
#include "sipedge/diag.h"
#include "sipedge/xmpp_errmap.h"

struct xml_doc;
struct dns;
struct policy;
struct policy_xmpp_partner;
struct tls_ctx;
struct xmpp_gw;

enum xmpp_auth { XMPP_AUTH_NONE = 0, XMPP_AUTH_EXTERNAL, XMPP_AUTH_DIALBACK };

/* What the streams hand to the SIP side. */
struct xmpp_hooks {
	/* An authenticated stanza (message, presence, iq) from remote for
	 * local; its from and to were checked against the stream.  The callee
	 * owns doc. */
	void (*stanza)(void *arg, struct xmpp_gw *gw, const char *local, const char *remote,
	    const struct policy_xmpp_partner *p, struct xml_doc *doc);
};

/* Counters (sipedgectl stats, metrics): a copy of the gateway's. */
struct xmpp_counters {
	uint64_t streams_in, streams_out;            /* started */
	uint64_t streams_in_ok, streams_out_ok;      /* authenticated */
	uint64_t streams_refused;                    /* by policy or limits */
	uint64_t streams_out_failed;                 /* no server reached */
	uint64_t tls_failures, bad_xml, stream_errors_sent;
	uint64_t stanzas_in, stanzas_out, stanzas_failed;
	uint64_t stanzas_out_direct;                 /* of stanzas_out: by another worker */
	uint64_t presence_limited;                   /* over xmpp-presence-rate */
	uint64_t bytes_in, bytes_out;
	uint64_t open_streams;
};

/* Bind the configuration's XMPP listeners on loop (none: no listener, but
 * outbound streams still work).  server and client are held.  On error a
 * negative status and err says why. */
int xmpp_gw_new(uv_loop_t *loop, const struct conf *cf, struct dns *dns, struct tls_ctx *server,
    struct tls_ctx *client, const struct xmpp_hooks *hooks, void *hooks_arg,
    struct xmpp_gw **out, char *err, size_t errlen);
/* A new policy snapshot (the gateway takes a reference): the partners and
 * settings (policy_xmpp_decide, policy_xmpp_config); streams of partners it
 * refuses are closed now.  Until the first, every domain is refused. */
void xmpp_gw_set_policy(struct xmpp_gw *gw, struct policy *pol);
/* A reload (sipedge(8) RELOAD): cf is the configuration now in force (the
 * gateway keeps no pointer to the one before, which the caller frees), and
 * server and client the TLS contexts made from its certificate, key and CA
 * bundle (held; the ones before are released).  New streams use them;
 * streams up already keep the session they have.  The listeners and the
 * dialback secret need a restart (conf_keep_restart keeps them in cf). */
void xmpp_gw_reload(struct xmpp_gw *gw, const struct conf *cf, struct tls_ctx *server,
    struct tls_ctx *client);
/* Send a stanza from local (one of our domains) to remote on the stream for
 * that pair, setting one up when needed (queued meanwhile).  The gateway
 * takes doc.  cb(status 0) once it is written to an authenticated stream,
 * or cb(a SIP status, diag, reason) when it cannot be; exactly once, maybe
 * before this returns. */
typedef void (*xmpp_sent_cb)(int status, enum diag_code d, const char *text, void *arg);
void xmpp_gw_send(struct xmpp_gw *gw, const char *local, const char *remote,
    struct xml_doc *doc, xmpp_sent_cb cb, void *arg);
/* An xmpp_sent_cb for stanzas nobody waits for: logs a failure, naming
 * arg (a const char *: "presence", "an error stanza"). */
void xmpp_gw_sent_log(int status, enum diag_code d, const char *text, void *arg);
/* A stanza error (RFC 6120 §8.3) in answer to a kind ("message",
 * "presence", "iq") stanza from `from` (the partner's JID) to `to` (ours):
 * the addresses swapped, the id kept, the condition with its type, and a
 * <text/> "CODE text". */
void xmpp_gw_reply_error(struct xmpp_gw *gw, const char *ldom, const char *rdom, const char *kind,
    const char *from, const char *to, const char *id, enum xmpp_cond cond, enum diag_code d,
    const char *text);
/* Start the once-a-second timers (establishment, keep-alive, inactivity). */
void xmpp_gw_start(struct xmpp_gw *gw);
/* The subscription-refresh-interval in force, seconds. */
unsigned xmpp_gw_subscription_refresh(const struct xmpp_gw *gw);
/* The type a translated SIP MESSAGE gets under the settings set (NULL:
 * the defaults): "chat" or "normal". */
struct store_xmpp_config;
const char *xmpp_message_type(const struct store_xmpp_config *set);
/* The counters now: the one call that may come from any thread, while the
 * gateway lives (xmpp_query.c). */
void xmpp_gw_counters(const struct xmpp_gw *gw, struct xmpp_counters *out);
/* Close every stream (system-shutdown) and the listeners; the gateway is
 * freed once its handles are closed. */
void xmpp_gw_close(struct xmpp_gw *gw);

/* What the other workers may use of the gateway (xmpp_share.c): the
 * streams that are up, to write a stanza straight to one, and the
 * conversation threads.  It outlives the gateway (the proxy makes it before
 * the workers and frees it after them); the gateway attaches itself with
 * xmpp_gw_share and detaches when it closes. */
struct xmpp_share;
struct xthreads;
int xmpp_share_new(struct xmpp_share **out);
void xmpp_share_free(struct xmpp_share *sh);
/* Worker 0: gw's streams and thr (or NULL) are shared from now. */
void xmpp_gw_share(struct xmpp_gw *gw, struct xmpp_share *sh, struct xthreads *thr);
/* Any worker: the conversation thread of (local, remote) bare JIDs
 * (xthreads_get), false when none or no gateway runs. */
bool xmpp_share_thread(struct xmpp_share *sh, const char *local, const char *remote,
    uint64_t now, char *out);
/* Any worker: a stanza (serialized, from local to remote) written straight
 * to the stream xmpp_gw_send would use, when that stream is authenticated
 * and has nothing queued, and no request handed to worker 0 is still on
 * its way (order is kept).  0: on the stream, as xmpp_gw_send's cb(0);
 * -EAGAIN: not now (hand the request to worker 0); -EPIPE: the stream
 * failed while writing (worker 0 closes it).  now: the caller's loop ms. */
int xmpp_share_send(struct xmpp_share *sh, const char *local, const char *remote,
    const char *buf, size_t len, uint64_t now);
/* A request goes to worker 0 (+1), or worker 0 is done with it (-1):
 * while any is on its way, xmpp_share_send says -EAGAIN. */
void xmpp_share_handed(struct xmpp_share *sh, int delta);

#endif
