/* xmpp_pres_notify.c: the pool's presence subscriptions to XMPP contacts
 * (RFC 8048 §5, RFC 6665 §4.2), the gateway as notifier: a SUBSCRIBE for an
 * XMPP contact gets 202 and a dialog of the gateway; the pool user's
 * subscription goes to the contact as <presence type='subscribe'/> (or a
 * probe when already approved); NOTIFYs say pending, active with the
 * contact's presence as PIDF, or terminated; refreshes and unsubscribes in
 * the dialog; and the dispatch of every request the pool sends to the
 * gateway's dialogs. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/sip_header.h>

#include "sipedge/log.h"
#include "sipedge/store.h"
#include "sipedge/xmpp.h"
#include "sipedge/xmpp_pres.h"
#include "xmpp_presence.h"

static void
notify_final(struct xpres *xp, uint64_t id, int status, const sip_t *sip)
{
	struct gwdlg *d = gwdlg_by_id(xp, id);

	(void)sip;
	if (d == NULL || status < 200)
		return;
	/* RFC 6665 §4.2.2: a 481 (or any failure) ends the subscription. */
	if (d->ending || status >= 300)
		gwdlg_free(xp, d);
}

/* NOTIFY in d: state "active", "pending" or "terminated;reason=…"; an
 * active one with the contact's presence, once some came. */
void
xpres__notify(struct xpres *xp, struct gwdlg *d, const char *state)
{
	char h[256], pidf[PIDF_MAX];
	uint64_t now = uv_now(&xp->w->th.loop);
	unsigned long left = d->expires_at > now ? (unsigned long)((d->expires_at - now) / 1000) : 0;
	int n = 0;

	if (strncmp(state, "terminated", 10) == 0) {
		snprintf(h, sizeof(h), "Event: presence\r\nSubscription-State: %s\r\n", state);
		d->ending = true;
	} else
		snprintf(h, sizeof(h), "Event: presence\r\nSubscription-State: %s;expires=%lu\r\n",
		    state, left);
	if (strcmp(state, "active") == 0 &&
	    (n = xpres__contact_pidf(xp, d->user, d->jid, pidf, sizeof(pidf))) < 0) {
		log_warnx("xmpp: %s's presence for %s cannot be written as PIDF: %s", d->jid, d->user,
		    strerror(-n));
		n = 0;
	}
	if (gwdlg_send(xp, d, "NOTIFY", h, n > 0 ? "application/pidf+xml" : NULL,
	    n > 0 ? pidf : NULL, (size_t)(n > 0 ? n : 0), notify_final) < 0 && d->ending)
		gwdlg_free(xp, d);
}

/* Each notifier dialog of (user, contact) gets state. */
void
xpres__notify_all(struct xpres *xp, const char *user, const char *jid, const char *state)
{
	struct gwdlg *d, *next;

	for (d = xp->dlgs; d; d = next) {
		next = d->next;
		if (d->notifier && !d->ending && strcmp(d->user, user) == 0 && strcmp(d->jid, jid) == 0)
			xpres__notify(xp, d, state);
	}
}

static void
answer(struct xpres *xp, struct gwdlg *d, const char *key, unsigned from, int status,
    unsigned expires)
{
	struct xmpp_answer a;

	memset(&a, 0, sizeof(a));
	snprintf(a.to_tag, sizeof(a.to_tag), "%s", d->ltag);
	a.expires = (int)expires;
	snprintf(a.contact, sizeof(a.contact), "%s", xp->contact);
	xmpp_sip_done(xp->w, from, key, status, DIAG_NONE, NULL, &a);
}

/* A SUBSCRIBE from the pool for an XMPP contact (RFC 8048 §5.1). */
static void
pool_subscribe(struct xpres *xp, msg_t *msg, sip_t *sip, const char *domain, const char *key,
    unsigned from)
{
	char user[512], contact[512], ujid[XMPP_JID_MAX];
	struct xmpp_jid cj;
	struct store_xmpp_sub s;
	struct gwdlg *d;
	unsigned long exp = sip->sip_expires ? sip->sip_expires->ex_delta : 3600;
	const char *why = NULL;
	const struct policy_xmpp_partner *pp = NULL;

	if (sip->sip_event == NULL || strcasecmp(sip->sip_event->o_type, "presence") != 0) {
		xmpp_sip_done(xp->w, from, key, 489, DIAG_XMPP_UNSUPPORTED,
		    "only the presence event is translated", NULL);
		return;
	}
	if (url_e(user, sizeof(user), sip->sip_from->a_url) < 0 ||
	    url_e(contact, sizeof(contact), sip->sip_request->rq_url) < 0 ||
	    xpres__jid_of_user(user, ujid, sizeof(ujid)) == NULL ||
	    xmpp_jid_from_sip_uri(contact, &cj, &why) < 0) {
		xmpp_sip_done(xp->w, from, key, 400, DIAG_XMPP_BAD_ADDRESS,
		    why ? why : "the addresses cannot be mapped to JIDs", NULL);
		return;
	}
	user[sizeof(user) - 1] = contact[sizeof(contact) - 1] = '\0';
	cj.resource[0] = '\0';
	if ((d = gwdlg_new(xp, true)) == NULL) {
		xmpp_sip_done(xp->w, from, key, 503, DIAG_OVERLOAD, "out of memory", NULL);
		return;
	}
	if (exp > xpres__refresh_s(xp))
		exp = xpres__refresh_s(xp);
	snprintf(d->callid, sizeof(d->callid), "%s", sip->sip_call_id->i_id);
	snprintf(d->luri, sizeof(d->luri), "%s", contact);
	snprintf(d->ruri, sizeof(d->ruri), "%s", user);
	snprintf(d->target, sizeof(d->target), "%s", user);
	snprintf(d->user, sizeof(d->user), "%s", user);
	xmpp_jid_format(&cj, false, d->jid, sizeof(d->jid));
	snprintf(d->ldom, sizeof(d->ldom), "%.255s", strchr(ujid, '@') ? strchr(ujid, '@') + 1 : ujid);
	snprintf(d->rdom, sizeof(d->rdom), "%s", domain);
	if (xp->w->renv.pol && policy_xmpp_decide(xp->w->renv.pol, domain, &pp) == POLICY_XMPP_PARTNER)
		snprintf(d->ptype, sizeof(d->ptype), "%s", store_xmpp_type_name(pp->type));
	gwdlg_learn(d, sip, true);
	xpres__set_expiry(xp, d, exp);
	answer(xp, d, key, from, 202, (unsigned)exp);
	(void)msg;
	if (exp == 0) {
		xpres__notify(xp, d, "terminated;reason=timeout");
		return;
	}
	xpres__sub_get(xp, user, d->jid, &s);
	if (xpres__has_to(&s)) {
		/* Already subscribed: ask the contact's server for its
		 * presence now (RFC 6121 §4.3). */
		xpres__notify(xp, d, "active");
		xpres__send_presence(xp, d->ldom, domain, ujid, d->jid, "probe", NULL);
	} else {
		s.pending_out = true;
		xpres__sub_put(xp, user, d->jid, &s);
		xpres__notify(xp, d, "pending");
		xpres__send_presence(xp, d->ldom, domain, ujid, d->jid, "subscribe", NULL);
	}
	store_xmpp_sub_clear(&s);
}

/* A refresh or an end of the pool's subscription (RFC 6665 §4.2.1.2). */
static void
pool_resubscribe(struct xpres *xp, struct gwdlg *d, sip_t *sip, const char *key, unsigned from)
{
	unsigned long exp = sip->sip_expires ? sip->sip_expires->ex_delta : 3600;
	char ujid[XMPP_JID_MAX];
	struct store_xmpp_sub s;

	if (exp > xpres__refresh_s(xp))
		exp = xpres__refresh_s(xp);
	xpres__set_expiry(xp, d, exp);
	answer(xp, d, key, from, 200, (unsigned)exp);
	xpres__sub_get(xp, d->user, d->jid, &s);
	if (exp > 0) {
		xpres__notify(xp, d, xpres__has_to(&s) ? "active" : "pending");
		store_xmpp_sub_clear(&s);
		return;
	}
	xpres__notify(xp, d, "terminated;reason=timeout");
	/* The pool user unsubscribed (RFC 8048 §5.3). */
	if (xpres__jid_of_user(d->user, ujid, sizeof(ujid)) != NULL) {
		s.state = xpres__without(s.state, true, false);
		s.pending_out = false;
		xpres__sub_put(xp, d->user, d->jid, &s);
		xpres__send_presence(xp, d->ldom, d->rdom, ujid, d->jid, "unsubscribe", NULL);
	}
	store_xmpp_sub_clear(&s);
}

void
xpres_sip(struct xpres *xp, msg_t *msg, const char *domain, const char *key, unsigned from)
{
	sip_t *sip = sip_object(msg);
	struct gwdlg *d;
	int status;

	if (domain[0]) {
		if (sip->sip_request->rq_method == sip_method_subscribe &&
		    (sip->sip_to == NULL || sip->sip_to->a_tag == NULL))
			pool_subscribe(xp, msg, sip, domain, key, from);
		else
			xmpp_sip_done(xp->w, from, key, 481, DIAG_NONE, NULL, NULL);
		msg_destroy(msg);
		return;
	}
	d = gwdlg_find(xp, sip);
	if (d == NULL) {
		xmpp_sip_done(xp->w, from, key, 481, DIAG_NONE, NULL, NULL);
	} else if (sip->sip_request->rq_method == sip_method_notify && !d->notifier) {
		status = xpres__on_notify(xp, d, sip);
		xmpp_sip_done(xp->w, from, key, status, DIAG_NONE, NULL, NULL);
	} else if (sip->sip_request->rq_method == sip_method_subscribe && d->notifier) {
		pool_resubscribe(xp, d, sip, key, from);
	} else {
		xmpp_sip_done(xp->w, from, key, 405, DIAG_XMPP_UNSUPPORTED,
		    "not a request of this dialog", NULL);
	}
	msg_destroy(msg);
}
