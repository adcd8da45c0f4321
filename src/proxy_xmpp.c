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
#include "sipedge/log.h"
#include "sipedge/store.h"
#include "sipedge/xmpp.h"
#include "sipedge/xmpp_xml.h"

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
	xmpp_gw_start(w->xgw);
	return 0;
}

void
proxy_xmpp_policy(struct worker *w)
{
	xmpp_gw_set_policy(w->xgw, w->renv.pol);
}

void
proxy_xmpp_stop(struct worker *w)
{
	if (w->xgw == NULL)
		return;
	xmpp_gw_close(w->xgw);
	w->xgw = NULL;
}

void
proxy_xmpp_forward(struct txn *t)
{
	struct worker *w = t->w, *w0 = &w->px->workers[0];
	struct post *p;
	msg_t *copy;

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
	proxy_post(w0, p);                     /* refused (stopping): Timer F answers */
}

void
proxy_xmpp_done(struct worker *w, const char *key, int status, enum diag_code d, const char *text)
{
	struct txn *t = txn_by_key(w, key);

	if (t == NULL || t->state == TX_COMPLETED)
		return;                        /* answered already (Timer F) */
	txn_reply(t, status, d, d != DIAG_NONE ? text : NULL);
	t->last_status = status;
	if (t->state != TX_COMPLETED)
		txn_complete(t, status);
}
