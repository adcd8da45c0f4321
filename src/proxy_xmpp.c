/* proxy_xmpp.c: the XMPP side in the proxy: the gateway (xmpp.h) lives on
 * worker 0, next to the transactions that carry its translated requests to
 * the pool; it gets the XMPP part of each policy snapshot, and its
 * authenticated stanzas go to xmpp_im.c. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy_int.h"
#include <sofia-sip/sip_header.h>

#include "sipedge/log.h"
#include "sipedge/store.h"
#include "sipedge/xmpp.h"
#include "sipedge/xmpp_thread.h"
#include "sipedge/xmpp_xml.h"
#include "xmpp_presence.h"

/* Conversations whose thread the gateway keeps for replies: an hour
 * without a message ends one (XEP-0201 leaves it to the client; an hour is
 * longer than a chat's pause), and 10,000 at most (under 4 MiB). */
#define XTHREADS_MAX 10000
#define XTHREADS_IDLE_MS (3600 * 1000)

static void
on_stanza(void *arg, struct xmpp_gw *gw, const char *local, const char *remote,
    const struct policy_xmpp_partner *p, struct xml_doc *doc)
{
	xmpp_im_stanza(arg, gw, local, remote, doc, store_xmpp_type_name(p ? p->type :
	    STORE_XMPP_PUBLIC_UNVERIFIED));
}

static const struct xmpp_hooks hooks = { on_stanza };

int
proxy_xmpp_start(struct worker *w, char *err, size_t errlen)
{
	struct proxy *px = w->px;
	int rc;

	rc = xmpp_gw_new(&w->th.loop, w->cf, w->dns, px->tls.plain, px->tls.client, &hooks, w,
	    &w->xgw, err, errlen);
	if (rc < 0)
		return rc;
	if ((rc = xpres_new(w, &w->xpres, err, errlen)) < 0 ||
	    (rc = xthreads_new(XTHREADS_MAX, XTHREADS_IDLE_MS, &w->xthr)) < 0) {
		if (rc == -ENOMEM)
			snprintf(err, errlen, "xmpp: out of memory");
		xpres_free(w->xpres);
		w->xpres = NULL;
		xmpp_gw_close(w->xgw);
		w->xgw = NULL;
		return rc;
	}
	/* The other workers write their MESSAGEs to the streams that are up
	 * and read the threads (xmpp_share.c). */
	xmpp_gw_share(w->xgw, px->xshare, w->xthr);
	xmpp_gw_start(w->xgw);
	return 0;
}

void
proxy_xmpp_policy(struct worker *w)
{
	xmpp_gw_set_policy(w->xgw, w->renv.pol);
	if (w->xpres)
		xpres_restore(w->xpres);
}

void
proxy_xmpp_tick(struct worker *w)
{
	if (w->xpres)
		xpres_tick(w->xpres);
	if (w->xthr)
		xthreads_expire(w->xthr, uv_now(&w->th.loop));
}

void
proxy_xmpp_stop(struct worker *w)
{
	if (w->xgw == NULL)
		return;
	xmpp_gw_close(w->xgw);
	w->xgw = NULL;
	xpres_free(w->xpres);
	w->xpres = NULL;
	xthreads_free(w->xthr);
	w->xthr = NULL;
}

void
proxy_xmpp_forward(struct txn *t)
{
	struct worker *w = t->w, *w0 = &w->px->workers[0];
	struct post *p;
	msg_t *copy;

	if (w != w0 && xmpp_sip_direct(w, t) == 0)
		return;                        /* on the stream (or refused) here */
	if ((copy = msg_dup(t->req)) == NULL || (p = calloc(1, sizeof(*p))) == NULL) {
		if (copy)
			msg_destroy(copy);
		txn_reply(t, 503, DIAG_OVERLOAD, "out of memory");
		txn_complete(t, 503);
		return;
	}
	p->kind = POST_XMPP;
	p->msg = copy;
	p->from = w->idx;
	snprintf(p->key, sizeof(p->key), "%s", t->key);
	snprintf(p->trace_domain, sizeof(p->trace_domain), "%s", t->op.domain);
	/* Timer F answers if the gateway never does (it always does). */
	txn_arm(t, TXN_TIMER_F);
	if (w == w0) {
		xmpp_sip_request(w0, p->msg, p->trace_domain, p->key, p->from);
		p->msg = NULL;
		proxy_post_free(p);
		return;
	}
	/* Until worker 0 has it on its way, this worker's later MESSAGEs
	 * follow it there rather than pass it. */
	p->handed = true;
	xmpp_share_handed(w->px->xshare, +1);
	if (proxy_post(w0, p) < 0)             /* refused (stopping): Timer F answers */
		xmpp_share_handed(w->px->xshare, -1);
}

void
proxy_xmpp_done(struct worker *w, const char *key, int status, enum diag_code d, const char *text,
    const struct xmpp_answer *a)
{
	struct txn *t = txn_by_key(w, key);
	msg_t *r;

	if (t == NULL || t->state == TX_COMPLETED)
		return;                        /* answered already (Timer F) */
	if (a == NULL || status >= 300 || t->in == NULL) {
		txn_reply(t, status, d, d != DIAG_NONE ? text : NULL);
	} else {
		/* The gateway's dialog: its tag, Expires and Contact. */
		snprintf(t->to_tag, sizeof(t->to_tag), "%s", a->to_tag);
		r = sipmsg_response(t->sip, t->up_via, status, NULL, t->to_tag, NULL, NULL);
		if (r) {
			sip_t *rs = sip_object(r);
			char ex[16];

			if (a->expires >= 0) {
				snprintf(ex, sizeof(ex), "%d", a->expires);
				sip_add_make(r, rs, sip_expires_class, ex);
			}
			if (a->contact[0])
				sip_add_make(r, rs, sip_contact_class, a->contact);
			if (conn_send(t->in, r) < 0)
				log_debug("%s: response not sent: connection closing", __func__);
			msg_destroy(r);
		}
	}
	t->last_status = status;
	if (t->state != TX_COMPLETED)
		txn_complete(t, status);
}
