/* xmpp_sipdlg.c: the XMPP gateway's own SIP dialogs with the pool, for
 * presence subscriptions (RFC 6665 §4; RFC 3261 §12): Call-ID, tags, CSeq,
 * remote target and route set (§12.1.1 as UAS, §12.1.2 as UAC), requests
 * made in a dialog and carried to the pool servers by a transaction of
 * worker 0 whose final response comes back here (txn_local). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <sofia-sip/sip_header.h>
#include <sofia-sip/url.h>

#include "sipedge/framing.h"
#include "sipedge/log.h"
#include "xmpp_presence.h"

/* One request on its way: the hook the transaction calls. */
struct dlg_req {
	struct txn_local local;            /* first */
	struct xpres *xp;
	uint64_t dlg_id;
	gwdlg_final_fn final;
};

struct gwdlg *
gwdlg_new(struct xpres *xp, bool notifier)
{
	struct gwdlg *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	d->id = ++xp->next_id;
	d->notifier = notifier;
	d->cseq = 1;
	snprintf(d->ltag, sizeof(d->ltag), "g%016llx", (unsigned long long)proxy_rnd64());
	if (!notifier)
		snprintf(d->callid, sizeof(d->callid), "xmppgw-%016llx@%.100s",
		    (unsigned long long)proxy_rnd64(), xp->w->cf->internal_fqdn);
	d->next = xp->dlgs;
	xp->dlgs = d;
	return d;
}

void
gwdlg_free(struct xpres *xp, struct gwdlg *d)
{
	for (struct gwdlg **pp = &xp->dlgs; *pp; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			if (d->notifier)
				xpres__contact_release(xp, d->user, d->jid);
			free(d);
			return;
		}
}

struct gwdlg *
gwdlg_by_id(struct xpres *xp, uint64_t id)
{
	for (struct gwdlg *d = xp->dlgs; d; d = d->next)
		if (d->id == id)
			return d;
	return NULL;
}

struct gwdlg *
gwdlg_find(struct xpres *xp, const sip_t *sip)
{
	const char *cid = sip->sip_call_id ? sip->sip_call_id->i_id : NULL;
	const char *tt = sip->sip_to ? sip->sip_to->a_tag : NULL;

	if (cid == NULL || tt == NULL)
		return NULL;
	for (struct gwdlg *d = xp->dlgs; d; d = d->next)
		if (strcmp(d->callid, cid) == 0 && strcmp(d->ltag, tt) == 0)
			return d;
	return NULL;
}

/* A URI as text into buf (empty when it does not fit). */
static void
url_text(const url_t *u, char *buf, size_t len)
{
	buf[0] = '\0';
	if (u && url_e(buf, (isize_t)len, u) > 0 && (size_t)url_len(u) < len)
		buf[url_len(u)] = '\0';
	else
		buf[0] = '\0';
}

void
gwdlg_learn(struct gwdlg *d, const sip_t *sip, bool as_uas)
{
	const sip_record_route_t *rr;
	const sip_addr_t *peer = as_uas ? sip->sip_from : sip->sip_to;
	char uri[512];
	size_t n = 0, cnt = 0;
	const sip_record_route_t *v[32];

	if (peer && peer->a_tag)
		snprintf(d->rtag, sizeof(d->rtag), "%s", peer->a_tag);
	if (sip->sip_contact)
		url_text(sip->sip_contact->m_url, d->target, sizeof(d->target));
	if (d->confirmed)
		return;                      /* the route set is fixed (§12.2.1.2) */
	/* §12.1.1: the UAS keeps the Record-Route order; §12.1.2: the UAC
	 * reverses it. */
	for (rr = sip->sip_record_route; rr && cnt < 32; rr = rr->r_next)
		v[cnt++] = rr;
	d->routes[0] = '\0';
	for (size_t i = 0; i < cnt; i++) {
		const sip_record_route_t *r = v[as_uas ? i : cnt - 1 - i];

		url_text(r->r_url, uri, sizeof(uri));
		if (!uri[0])
			continue;
		n += (size_t)snprintf(d->routes + n, sizeof(d->routes) - n, "%s<%s>",
		    n ? "," : "Route: ", uri);
		if (n >= sizeof(d->routes)) {
			d->routes[0] = '\0';
			return;
		}
	}
	if (n && n + 3 < sizeof(d->routes))
		memcpy(d->routes + n, "\r\n", 3);
	d->confirmed = d->rtag[0] != '\0';
}

static void
req_final(struct txn_local *l, int status, enum diag_code dg, const char *reason, const sip_t *sip)
{
	struct dlg_req *r = (struct dlg_req *)l;

	(void)dg;
	(void)reason;
	r->final(r->xp, r->dlg_id, status, sip);
	free(r);
}

static void
req_detach(struct txn_local *l)
{
	struct dlg_req *r = (struct dlg_req *)l;

	r->final(r->xp, r->dlg_id, 500, NULL);
	free(r);
}

int
gwdlg_send(struct xpres *xp, struct gwdlg *d, const char *method, const char *headers,
    const char *ctype, const char *body, size_t blen, gwdlg_final_fn final)
{
	struct worker *w = xp->w;
	char key[KEY_MAX], *text;
	struct sip_problem prob;
	struct dlg_req *r;
	msg_t *msg = NULL;
	sip_t *sip;
	struct txn *t;
	size_t cap = 4096 + blen + strlen(headers ? headers : "");
	int n, rc;

	if ((text = malloc(cap)) == NULL)
		return -ENOMEM;
	n = snprintf(text, cap,
	    "%s %s SIP/2.0\r\n"
	    "Via: SIP/2.0/TLS %s;branch=z9hG4bKgw%016llx\r\n"
	    "Max-Forwards: 70\r\n"
	    "%s"
	    "From: <%s>;tag=%s\r\n"
	    "To: <%s>%s%s\r\n"
	    "Call-ID: %s\r\n"
	    "CSeq: %u %s\r\n"
	    "Contact: %s\r\n"
	    "%s"
	    "%s%s%s"
	    "Content-Length: %zu\r\n\r\n",
	    method, d->target, w->cf->internal_fqdn, (unsigned long long)proxy_rnd64(), d->routes,
	    d->luri, d->ltag, d->ruri, d->rtag[0] ? ";tag=" : "", d->rtag, d->callid, d->cseq++,
	    method, xp->contact, headers ? headers : "", ctype ? "Content-Type: " : "",
	    ctype ? ctype : "", ctype ? "\r\n" : "", body ? blen : 0);
	if (n < 0 || (size_t)n + blen >= cap) {
		free(text);
		return -ENAMETOOLONG;
	}
	if (body && blen)
		memcpy(text + n, body, blen);
	msg = framer_parse_one(text, (size_t)n + (body ? blen : 0));
	free(text);
	if (msg == NULL || (sip = sip_object(msg)) == NULL ||
	    sipmsg_check_request(msg, sip, &prob) < 0 ||
	    txn_server_key(sip, method, key, sizeof(key)) < 0 ||
	    (r = calloc(1, sizeof(*r))) == NULL) {
		if (msg)
			msg_destroy(msg);
		log_warnx("%s: cannot make a %s in the dialog %s", __func__, method, d->callid);
		return -EINVAL;
	}
	if ((t = txn_new(w, NULL, msg, sip, key, sipmsg_loop_hash(sip))) == NULL) {
		msg_destroy(msg);
		free(r);
		return -ENOMEM;
	}
	r->local.final = req_final;
	r->local.detach = req_detach;
	r->xp = xp;
	r->dlg_id = d->id;
	r->final = final;
	t->local = &r->local;
	t->in_side = SIDE_EXTERNAL;
	t->op.env = &w->renv;
	t->op.msg = msg;
	t->op.sip = sip;
	t->op.side = SIDE_EXTERNAL;
	t->op.xmpp_dialog = true;
	rc = txn_route(t);
	if (rc == ROUTE_REFUSE) {
		txn_route_act(t);            /* answers final() and ends */
		return 0;
	}
	sip->sip_max_forwards->mf_count--;
	msg_fragment_clear(sip->sip_max_forwards->mf_common);
	txn_arm(t, TXN_TIMER_F);
	if (rc == ROUTE_FORWARD)
		txn_route_act(t);
	return 0;
}
