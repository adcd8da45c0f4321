/* xmpp_presence.c: presence across the gateway (RFC 8048 §4-§6, RFC 6121 §3-§4,
 * RFC 6665).  An XMPP watcher's subscription to a pool user becomes a SIP
 * SUBSCRIBE from that watcher, so that the pool authorises each watcher;
 * once it is active, one subscription per pool user and partner domain
 * carries the presence to every approved watcher of the domain (fan-out).
 * A pool user's SUBSCRIBE to an XMPP contact becomes <presence
 * type='subscribe'/> and a notifier dialog that gets the contact's presence
 * as PIDF.  The subscription states (RFC 6121 appendix A) and the pool
 * users' last presence live in the policy store, so that probes are
 * answered after a restart.  Partner types: a public-unverified partner's
 * subscription reaches a pool user only after that user subscribed to the
 * contact (the reference system's rule). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sofia-sip/sip_header.h>

#include "sipedge/log.h"
#include "sipedge/store.h"
#include "sipedge/xmpp.h"
#include "sipedge/xmpp_pres.h"
#include "sipedge/xmpp_xml.h"
#include "xmpp_presence.h"


/* <presence type=…/> from → to (type NULL: available, with p's show and
 * status when p is given). */
void
xpres__send_presence(struct xpres *xp, const char *ldom, const char *rdom, const char *from,
    const char *to, const char *type, const struct xmpp_pres *p)
{
	struct xml_doc *doc;
	struct xml_elem *e, *c;
	int r;

	if (xp->w->xgw == NULL || xml_doc_new(&doc, XMPP_NS_SERVER, "presence") < 0)
		return;
	e = xml_doc_root(doc);
	r = xml_attr_set(doc, e, NULL, "from", from);
	r = r ? r : xml_attr_set(doc, e, NULL, "to", to);
	if (!type && p && !p->available)
		type = "unavailable";
	if (type)
		r = r ? r : xml_attr_set(doc, e, NULL, "type", type);
	if (!type && p && p->show != XMPP_SHOW_NONE && (c = xml_elem_add(doc, e, NULL, "show")))
		r = r ? r : xml_text_set(doc, c, xmpp_show_name(p->show), strlen(xmpp_show_name(p->show)));
	if (p && p->status && (!type || strcmp(type, "unavailable") == 0) &&
	    (c = xml_elem_add(doc, e, NULL, "status"))) {
		r = r ? r : xml_text_set(doc, c, p->status, strlen(p->status));
		if (p->lang)
			r = r ? r : xml_attr_set(doc, c, XMPP_NS_XML, "lang", p->lang);
	}
	if (r < 0) {
		xml_doc_free(doc);
		return;
	}
	xmpp_gw_send(xp->w->xgw, ldom, rdom, doc, xmpp_gw_sent_log, (void *)"presence");
}

/* ---- PIDF in (RFC 3863, RFC 4480 via xmpp_pres) ---- */

#define NS_PIDF "urn:ietf:params:xml:ns:pidf"
#define NS_RPID "urn:ietf:params:xml:ns:pidf:rpid"

/* The first element named name anywhere below e (depth first). */
static const struct xml_elem *
find(const struct xml_elem *e, const char *ns, const char *name)
{
	for (const struct xml_elem *c = e->first_child; c; c = c->next) {
		const struct xml_elem *f;

		if ((ns == NULL || strcmp(c->ns, ns) == 0) && strcmp(c->name, name) == 0)
			return c;
		if ((f = find(c, ns, name)) != NULL)
			return f;
	}
	return NULL;
}

/* Parse a PIDF body into *out (strings point into *doc, freed by the caller). */
static int
pidf_parse(const char *body, size_t len, struct xml_doc **doc, struct xmpp_pres *out)
{
	const char *acts[8];
	struct xmpp_pidf_values v;
	const struct xml_elem *root, *e, *a;
	enum xmpp_serr err;
	const char *why;

	if (xml_doc_parse(body, len, NULL, doc, &err, &why) < 0)
		return -EINVAL;
	root = xml_doc_root(*doc);
	if (!xml_is(root, NS_PIDF, "presence")) {
		xml_doc_free(*doc);
		*doc = NULL;
		return -EINVAL;
	}
	memset(&v, 0, sizeof(v));
	if ((e = find(root, NS_PIDF, "basic")) != NULL)
		v.basic = e->text;
	if ((e = find(root, XMPP_NS_CLIENT, "show")) != NULL)
		v.show = e->text;
	if ((e = find(root, NS_RPID, "activities")) != NULL)
		for (a = e->first_child; a && v.n_activities < 8; a = a->next)
			acts[v.n_activities++] = a->name;
	v.activities = acts;
	if ((e = find(root, NS_PIDF, "note")) != NULL) {
		v.note = e->text;
		v.note_lang = xml_attr_get_ns(e, XMPP_NS_XML, "lang");
	}
	if ((e = find(root, NS_PIDF, "contact")) != NULL)
		v.priority = xml_attr_get(e, "priority");
	if (xmpp_pres_from_pidf(&v, out, &why) < 0) {
		xml_doc_free(*doc);
		*doc = NULL;
		return -EINVAL;
	}
	return 0;
}

/* ---- the store ---- */

int
xpres__sub_get(struct xpres *xp, const char *user, const char *jid, struct store_xmpp_sub *s)
{
	memset(s, 0, sizeof(*s));
	if (xp->st && store_xmpp_sub_get(xp->st, user, jid, s) == 0)
		return 0;
	memset(s, 0, sizeof(*s));
	return -ENOENT;
}

/* Write s for (user, jid) (its strings may be the caller's). */
void
xpres__sub_put(struct xpres *xp, const char *user, const char *jid, struct store_xmpp_sub *s)
{
	struct store_xmpp_sub x = *s;

	if (xp->st == NULL)
		return;
	x.local_uri = (char *)user;
	x.remote_jid = (char *)jid;
	if (x.state == STORE_XMPP_SUB_NONE && !x.pending_in && !x.pending_out &&
	    x.last_presence == NULL) {
		(void)store_xmpp_sub_delete(xp->st, user, jid);
		return;
	}
	if (store_xmpp_sub_put(xp->st, &x) < 0)
		log_warnx("%s: %s -> %s: %s", __func__, user, jid, store_error(xp->st));
}

bool
xpres__has_from(const struct store_xmpp_sub *s)
{
	return s->state == STORE_XMPP_SUB_FROM || s->state == STORE_XMPP_SUB_BOTH;
}

bool
xpres__has_to(const struct store_xmpp_sub *s)
{
	return s->state == STORE_XMPP_SUB_TO || s->state == STORE_XMPP_SUB_BOTH;
}

enum store_xmpp_sub_state
xpres__with(enum store_xmpp_sub_state s, bool to, bool from)
{
	bool t = s == STORE_XMPP_SUB_TO || s == STORE_XMPP_SUB_BOTH || to;
	bool f = s == STORE_XMPP_SUB_FROM || s == STORE_XMPP_SUB_BOTH || from;

	return t && f ? STORE_XMPP_SUB_BOTH : t ? STORE_XMPP_SUB_TO : f ? STORE_XMPP_SUB_FROM :
	    STORE_XMPP_SUB_NONE;
}

enum store_xmpp_sub_state
xpres__without(enum store_xmpp_sub_state s, bool to, bool from)
{
	bool t = (s == STORE_XMPP_SUB_TO || s == STORE_XMPP_SUB_BOTH) && !to;
	bool f = (s == STORE_XMPP_SUB_FROM || s == STORE_XMPP_SUB_BOTH) && !from;

	return t && f ? STORE_XMPP_SUB_BOTH : t ? STORE_XMPP_SUB_TO : f ? STORE_XMPP_SUB_FROM :
	    STORE_XMPP_SUB_NONE;
}

/* "sip:bob@contoso.test" ↔ "bob@contoso.test" */
static int
user_of(const char *bare_jid, char *buf, size_t len)
{
	struct xmpp_jid j;

	if (xmpp_jid_parse(bare_jid, &j, NULL) < 0)
		return -EINVAL;
	j.resource[0] = '\0';
	return xmpp_jid_to_sip_uri(&j, buf, len);
}

const char *
xpres__jid_of_user(const char *user, char *buf, size_t len)
{
	struct xmpp_jid j;

	if (xmpp_jid_from_sip_uri(user, &j, NULL) < 0)
		return NULL;
	j.resource[0] = '\0';
	return xmpp_jid_format(&j, false, buf, len) == 0 ? buf : NULL;
}

/* ---- our subscriptions to pool users (XMPP watchers) ---- */

static void sub_final(struct xpres *xp, uint64_t id, int status, const sip_t *sip);

/* When a subscription ends, and when we refresh ours: a fifth of the
 * interval early, at most a minute (RFC 6665 §4.1.2.1). */
void
xpres__set_expiry(struct xpres *xp, struct gwdlg *d, unsigned long secs)
{
	uint64_t now = uv_now(&xp->w->th.loop), ms = 1000ULL * secs, early = ms / 5;

	if (early > 60000)
		early = 60000;
	d->expires_at = now + ms;
	d->refresh_at = secs ? now + ms - early : 0;
}

static int
subscribe(struct xpres *xp, struct gwdlg *d, unsigned expires)
{
	char h[FEDROUTE_TRUST_MAX + 3 * CONF_MAX_NAME];

	/* RFC 8048 §4.1: Event presence, PIDF; the trust header says who
	 * asks (an XMPP partner's user, and the partner's type). */
	snprintf(h, sizeof(h), "Event: presence\r\nAccept: application/pidf+xml\r\n"
	    "Expires: %u\r\n" ROUTE_TRUST_HEADER ": ms-source-type=XmppPartner;ms-ep-fqdn=%s;"
	    "ms-source-network=xmpp;ms-xmpp-partner=%s;ms-xmpp-partner-type=%s\r\n", expires,
	    xp->w->cf->edge_fqdn, d->rdom, d->ptype);
	if (expires == 0)
		d->ending = true;
	return gwdlg_send(xp, d, "SUBSCRIBE", h, NULL, NULL, 0, sub_final);
}

unsigned
xpres__refresh_s(struct xpres *xp)
{
	return xp->w->xgw ? xmpp_gw_subscription_refresh(xp->w->xgw) : 28800;
}

/* The active carrier of (user, rdom), or NULL. */
static struct gwdlg *
carrier(struct xpres *xp, const char *user, const char *rdom, const struct gwdlg *except)
{
	for (struct gwdlg *d = xp->dlgs; d; d = d->next)
		if (!d->notifier && d != except && d->fanout && !d->ending &&
		    strcmp(d->user, user) == 0 && strcmp(d->rdom, rdom) == 0)
			return d;
	return NULL;
}

static int
start_subscription(struct xpres *xp, const char *user, const char *watcher, const char *ldom,
    const char *rdom, const char *ptype)
{
	struct gwdlg *d = gwdlg_new(xp, false);
	char wuri[512];

	if (d == NULL || user_of(watcher, wuri, sizeof(wuri)) < 0) {
		if (d)
			gwdlg_free(xp, d);
		return -EINVAL;
	}
	snprintf(d->luri, sizeof(d->luri), "%s", wuri);
	snprintf(d->ruri, sizeof(d->ruri), "%s", user);
	snprintf(d->target, sizeof(d->target), "%s", user);
	snprintf(d->user, sizeof(d->user), "%s", user);
	snprintf(d->jid, sizeof(d->jid), "%s", watcher);
	snprintf(d->ldom, sizeof(d->ldom), "%s", ldom);
	snprintf(d->rdom, sizeof(d->rdom), "%s", rdom);
	snprintf(d->ptype, sizeof(d->ptype), "%s", ptype);
	if (subscribe(xp, d, xpres__refresh_s(xp)) < 0) {
		gwdlg_free(xp, d);
		return -EIO;
	}
	return 0;
}

/* The pool user's presence to every approved watcher in rdom (or one). */
static void
fan_out(struct xpres *xp, const char *user, const char *ldom, const char *rdom,
    const struct xmpp_pres *p, const char *pidf, const char *only)
{
	struct store_xmpp_sub *v = NULL;
	char ujid[XMPP_JID_MAX];
	size_t n = 0;

	if (xpres__jid_of_user(user, ujid, sizeof(ujid)) == NULL || xp->st == NULL ||
	    store_xmpp_sub_list(xp->st, user, rdom, &v, &n) < 0)
		return;
	/* Every approved watcher's row in one write, not one commit each. */
	if (pidf && only == NULL && store_xmpp_sub_set_presence(xp->st, user, rdom, pidf, NULL) < 0)
		log_warnx("xmpp: %s's presence for %s not kept: %s", user, rdom, store_error(xp->st));
	for (size_t i = 0; i < n; i++) {
		if (!xpres__has_from(&v[i]) || (only && strcmp(only, v[i].remote_jid) != 0))
			continue;
		if (pidf && only) {
			struct store_xmpp_sub s = v[i];

			s.last_presence = (char *)pidf;
			xpres__sub_put(xp, user, v[i].remote_jid, &s);
		}
		xpres__send_presence(xp, ldom, rdom, ujid, v[i].remote_jid, NULL, p);
	}
	store_xmpp_sub_free(v, n);
}

static void
sub_final(struct xpres *xp, uint64_t id, int status, const sip_t *sip)
{
	struct gwdlg *d = gwdlg_by_id(xp, id);
	char ujid[XMPP_JID_MAX];

	if (d == NULL)
		return;
	if (status >= 200 && status < 300 && sip) {
		gwdlg_learn(d, sip, false);
		if (d->ending) {
			gwdlg_free(xp, d);
			return;
		}
		if (sip->sip_expires)
			xpres__set_expiry(xp, d, sip->sip_expires->ex_delta);
		return;
	}
	if (status < 300)
		return;
	/* Refused: the watcher is not approved (RFC 8048 §4.3: as
	 * unsubscribed); a lost refresh ends the fan-out. */
	if (!d->ending && xpres__jid_of_user(d->user, ujid, sizeof(ujid))) {
		struct store_xmpp_sub s;

		log_info("xmpp: the pool refused %s's subscription to %s: %d", d->jid, d->user, status);
		xpres__sub_get(xp, d->user, d->jid, &s);
		s.pending_in = false;
		s.state = xpres__without(s.state, false, true);
		xpres__sub_put(xp, d->user, d->jid, &s);
		store_xmpp_sub_clear(&s);
		xpres__send_presence(xp, d->ldom, d->rdom, ujid, d->jid, "unsubscribed", NULL);
	}
	gwdlg_free(xp, d);
}

/* A NOTIFY in one of our subscriber dialogs (RFC 6665 §4.1.3). */
int
xpres__on_notify(struct xpres *xp, struct gwdlg *d, const sip_t *sip)
{
	const sip_subscription_state_t *ss = sip->sip_subscription_state;
	char ujid[XMPP_JID_MAX], pidf[PIDF_MAX];
	struct xml_doc *doc = NULL;
	struct xmpp_pres p;
	bool have = false;

	if (ss == NULL || xpres__jid_of_user(d->user, ujid, sizeof(ujid)) == NULL)
		return 400;
	gwdlg_learn(d, sip, true);
	if (sip->sip_payload && sip->sip_payload->pl_len && sip->sip_payload->pl_len < PIDF_MAX &&
	    pidf_parse(sip->sip_payload->pl_data, sip->sip_payload->pl_len, &doc, &p) == 0) {
		have = true;
		memcpy(pidf, sip->sip_payload->pl_data, sip->sip_payload->pl_len);
		pidf[sip->sip_payload->pl_len] = '\0';
	}
	if (strcasecmp(ss->ss_substate, "active") == 0) {
		if (!d->active) {
			struct store_xmpp_sub s;

			/* The pool approved this watcher (RFC 6121 §3.1.5). */
			d->active = true;
			xpres__sub_get(xp, d->user, d->jid, &s);
			s.pending_in = false;
			s.state = xpres__with(s.state, false, true);
			xpres__sub_put(xp, d->user, d->jid, &s);
			store_xmpp_sub_clear(&s);
			xpres__send_presence(xp, d->ldom, d->rdom, ujid, d->jid, "subscribed", NULL);
			if (carrier(xp, d->user, d->rdom, d) != NULL) {
				/* Another subscription carries this domain's
				 * presence already: this one ends. */
				if (have)
					fan_out(xp, d->user, d->ldom, d->rdom, &p, pidf, d->jid);
				(void)subscribe(xp, d, 0);
				xml_doc_free(doc);
				return 200;
			}
			d->fanout = true;
		}
		if (have && d->fanout)
			fan_out(xp, d->user, d->ldom, d->rdom, &p, pidf, NULL);
	} else if (strcasecmp(ss->ss_substate, "terminated") == 0) {
		const char *reason = msg_params_find(ss->ss_params, "reason=");
		bool again = reason && (strcasecmp(reason, "timeout") == 0 ||
		    strcasecmp(reason, "deactivated") == 0 || strcasecmp(reason, "probation") == 0 ||
		    strcasecmp(reason, "giveup") == 0);

		if (d->ending) {
			/* Our own unsubscribe. */
		} else if (d->fanout && again) {
			/* RFC 6665 §4.1.3: subscribe again, no XMPP traffic. */
			(void)start_subscription(xp, d->user, d->jid, d->ldom, d->rdom, d->ptype);
		} else {
			struct store_xmpp_sub *v = NULL;
			size_t n = 0;

			/* Rejected: every watcher this dialog stood for. */
			if (d->fanout && xp->st && store_xmpp_sub_list(xp->st, d->user, d->rdom, &v, &n) == 0) {
				for (size_t i = 0; i < n; i++) {
					struct store_xmpp_sub s = v[i];

					if (!xpres__has_from(&s) && !s.pending_in)
						continue;
					s.state = xpres__without(s.state, false, true);
					s.pending_in = false;
					xpres__sub_put(xp, d->user, v[i].remote_jid, &s);
					xpres__send_presence(xp, d->ldom, d->rdom, ujid, v[i].remote_jid,
					    "unsubscribed", NULL);
				}
				store_xmpp_sub_free(v, n);
			} else if (!d->fanout) {
				struct store_xmpp_sub s;

				xpres__sub_get(xp, d->user, d->jid, &s);
				s.state = xpres__without(s.state, false, true);
				s.pending_in = false;
				xpres__sub_put(xp, d->user, d->jid, &s);
				store_xmpp_sub_clear(&s);
				xpres__send_presence(xp, d->ldom, d->rdom, ujid, d->jid, "unsubscribed", NULL);
			}
		}
		d->ending = true;
		d->expires_at = uv_now(&xp->w->th.loop);   /* freed by the tick */
	}
	xml_doc_free(doc);
	return 200;
}

/* ---- presence stanzas from XMPP partners ---- */

/* <presence/> as an xmpp_pres (strings point into p). */
static void
stanza_pres(const struct xml_elem *p, struct xmpp_pres *out)
{
	const struct xml_elem *c;
	const char *type = xml_attr_get(p, "type");

	memset(out, 0, sizeof(*out));
	out->available = type == NULL;
	if ((c = xml_child(p, XMPP_NS_SERVER, "show")) != NULL &&
	    xmpp_show_from_name(c->text, &out->show) < 0)
		out->show = XMPP_SHOW_NONE;
	if ((c = xml_child(p, XMPP_NS_SERVER, "status")) != NULL) {
		out->status = c->text;
		out->lang = xml_attr_get_ns(c, XMPP_NS_XML, "lang");
	}
	if ((c = xml_child(p, XMPP_NS_SERVER, "priority")) != NULL)
		out->priority = atoi(c->text);
}

void
xpres_stanza(struct xpres *xp, struct xmpp_gw *gw, const char *ldom, const char *rdom,
    const struct xml_elem *p, const char *ptype)
{
	const char *type = xml_attr_get(p, "type");
	char user[512], fjid[XMPP_JID_MAX], tjid[XMPP_JID_MAX], res[XMPP_JID_PART_MAX + 1];
	struct xmpp_jid fj, tj;
	struct store_xmpp_sub s;
	struct xmpp_pres pr;

	(void)gw;
	if (xmpp_jid_parse(xml_attr_get(p, "from"), &fj, NULL) < 0 ||
	    xmpp_jid_parse(xml_attr_get(p, "to"), &tj, NULL) < 0 || tj.local[0] == '\0')
		return;                    /* presence to a domain: nothing to do */
	snprintf(res, sizeof(res), "%s", fj.resource);
	fj.resource[0] = tj.resource[0] = '\0';
	if (xmpp_jid_format(&fj, false, fjid, sizeof(fjid)) < 0 ||
	    xmpp_jid_format(&tj, false, tjid, sizeof(tjid)) < 0 ||
	    xmpp_jid_to_sip_uri(&tj, user, sizeof(user)) < 0)
		return;
	if (type == NULL || strcmp(type, "unavailable") == 0) {
		/* A presence update goes to the pool's dialogs for this
		 * contact, kept in memory: no store read per update.  Each
		 * NOTIFY has every resource's latest (RFC 8048 note 2). */
		stanza_pres(p, &pr);
		if (xpres__contact_update(xp, user, fjid, res, &pr) == 0)
			xpres__notify_all(xp, user, fjid, "active");
		return;
	}
	xpres__sub_get(xp, user, fjid, &s);
	if (strcmp(type, "subscribe") == 0) {
		if (xpres__has_from(&s)) {
			/* RFC 6121 §3.1.3: already approved. */
			xpres__send_presence(xp, ldom, rdom, tjid, fjid, "subscribed", NULL);
			if (s.last_presence) {
				struct xml_doc *doc = NULL;

				if (pidf_parse(s.last_presence, strlen(s.last_presence), &doc, &pr) == 0)
					xpres__send_presence(xp, ldom, rdom, tjid, fjid, NULL, &pr);
				xml_doc_free(doc);
			}
		} else if (strcmp(ptype, "public-unverified") == 0 && !xpres__has_to(&s) && !s.pending_out) {
			/* The reference system's rule: the pool user must have
			 * invited the contact first. */
			log_info("xmpp: %s (public-unverified partner %s) may not subscribe to %s: %s has "
			    "not subscribed to it first (%u)", fjid, rdom, tjid, tjid,
			    (unsigned)DIAG_XMPP_SUB_REFUSED);
			xpres__send_presence(xp, ldom, rdom, tjid, fjid, "unsubscribed", NULL);
		} else if (!s.pending_in) {
			s.pending_in = true;
			xpres__sub_put(xp, user, fjid, &s);
			if (start_subscription(xp, user, fjid, ldom, rdom, ptype) < 0)
				xpres__send_presence(xp, ldom, rdom, tjid, fjid, "unsubscribed", NULL);
		}
	} else if (strcmp(type, "unsubscribe") == 0) {
		if (xpres__has_from(&s) || s.pending_in) {
			s.state = xpres__without(s.state, false, true);
			s.pending_in = false;
			xpres__sub_put(xp, user, fjid, &s);
			xpres__send_presence(xp, ldom, rdom, tjid, fjid, "unavailable", NULL);
			xpres_release(xp, user, rdom);
		}
	} else if (strcmp(type, "probe") == 0) {
		/* RFC 6121 §4.3.2: presence only for an approved watcher. */
		if (!xpres__has_from(&s)) {
			xpres__send_presence(xp, ldom, rdom, tjid, fjid, "unsubscribed", NULL);
		} else {
			struct xml_doc *doc = NULL;

			if (s.last_presence && pidf_parse(s.last_presence, strlen(s.last_presence), &doc,
			    &pr) == 0)
				xpres__send_presence(xp, ldom, rdom, tjid, fjid, NULL, &pr);
			else
				xpres__send_presence(xp, ldom, rdom, tjid, fjid, "unavailable", NULL);
			xml_doc_free(doc);
		}
	} else if (strcmp(type, "subscribed") == 0) {
		if (s.pending_out || xpres__has_to(&s)) {
			s.state = xpres__with(s.state, true, false);
			s.pending_out = false;
			xpres__sub_put(xp, user, fjid, &s);
			xpres__notify_all(xp, user, fjid, "active");
		}
	} else if (strcmp(type, "unsubscribed") == 0) {
		if (s.pending_out || xpres__has_to(&s)) {
			s.state = xpres__without(s.state, true, false);
			s.pending_out = false;
			xpres__sub_put(xp, user, fjid, &s);
		}
		xpres__notify_all(xp, user, fjid, "terminated;reason=rejected");
	}
	store_xmpp_sub_clear(&s);
}

/* The last approved watcher of (user, rdom) left: our subscription ends. */
void
xpres_release(struct xpres *xp, const char *user, const char *rdom)
{
	struct store_xmpp_sub *v = NULL;
	size_t n = 0;
	bool any = false;

	if (xp->st && store_xmpp_sub_list(xp->st, user, rdom, &v, &n) == 0) {
		for (size_t i = 0; i < n && !any; i++)
			any = xpres__has_from(&v[i]) || v[i].pending_in;
		store_xmpp_sub_free(v, n);
	}
	if (any)
		return;
	for (struct gwdlg *d = xp->dlgs; d; d = d->next)
		if (!d->notifier && !d->ending && strcmp(d->user, user) == 0 &&
		    strcmp(d->rdom, rdom) == 0)
			(void)subscribe(xp, d, 0);
}

/* ---- timers, start, end ---- */

void
xpres_tick(struct xpres *xp)
{
	uint64_t now = uv_now(&xp->w->th.loop);
	struct gwdlg *d, *next;

	for (d = xp->dlgs; d; d = next) {
		next = d->next;
		if (d->ending) {
			/* Gone when its last request is answered, or a while after. */
			if (d->expires_at && now >= d->expires_at + 64 * xp->w->cf->t1_ms)
				gwdlg_free(xp, d);
			continue;
		}
		if (!d->notifier && d->refresh_at && now >= d->refresh_at) {
			d->refresh_at = 0;
			(void)subscribe(xp, d, xpres__refresh_s(xp));
		} else if (d->notifier && d->expires_at && now >= d->expires_at) {
			/* RFC 6665 §4.2.2: the subscriber let it lapse. */
			xpres__notify(xp, d, "terminated;reason=timeout");
		}
	}
}

/* After a restart: subscribe again for the watchers approved before
 * (their state is in the store). */
void
xpres_restore(struct xpres *xp)
{
	struct store_xmpp_sub *v = NULL;
	const struct policy_xmpp_partner *pp;
	size_t n = 0;

	if (xp->restored || xp->st == NULL || xp->w->renv.pol == NULL)
		return;
	xp->restored = true;
	if (store_xmpp_sub_list(xp->st, NULL, NULL, &v, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		char ujid[XMPP_JID_MAX];
		const char *rdom = strchr(v[i].remote_jid, '@'), *ldom;

		rdom = rdom ? rdom + 1 : v[i].remote_jid;
		if (!xpres__has_from(&v[i]) || carrier(xp, v[i].local_uri, rdom, NULL) ||
		    xpres__jid_of_user(v[i].local_uri, ujid, sizeof(ujid)) == NULL ||
		    policy_xmpp_decide(xp->w->renv.pol, rdom, &pp) != POLICY_XMPP_PARTNER)
			continue;
		ldom = strchr(ujid, '@') ? strchr(ujid, '@') + 1 : ujid;
		if (start_subscription(xp, v[i].local_uri, v[i].remote_jid, ldom, rdom,
		    store_xmpp_type_name(pp->type)) == 0) {
			/* Counted as the carrier until its NOTIFY says. */
			xp->dlgs->fanout = true;
		}
	}
	store_xmpp_sub_free(v, n);
}

int
xpres_new(struct worker *w, struct xpres **out, char *err, size_t errlen)
{
	struct xpres *xp = calloc(1, sizeof(*xp));
	struct proxy *px = w->px;
	int rc;

	if (xp == NULL) {
		snprintf(err, errlen, "xmpp: out of memory");
		return -ENOMEM;
	}
	xp->w = w;
	snprintf(xp->contact, sizeof(xp->contact), "<sip:" ROUTE_XMPP_GW_USER "@%s:%u;transport=%s>",
	    w->cf->internal_fqdn, (unsigned)px->port[SIDE_INTERNAL],
	    px->kind[SIDE_INTERNAL] == TP_TCP ? "tcp" : "tls");
	/* Worker 0's own connection to the store, for the subscription
	 * states (small writes, a few per presence change). */
	if ((rc = store_open(w->cf->db_path, 0, &xp->st, err, errlen)) < 0) {
		free(xp);
		return rc;
	}
	store_set_actor(xp->st, "sipedge");
	/* Worker 0 also relays SIP: its presence writes (a few per presence
	 * change) wait for no fsync, and for another writer's lock (a
	 * sipedgectl change) a quarter of a second at most; a write that
	 * fails is logged. */
	if ((rc = store_sync_relaxed(xp->st)) < 0)
		log_warnx("xmpp: %s: synchronous=NORMAL: %s", w->cf->db_path, store_error(xp->st));
	store_busy_timeout(xp->st, 250);
	*out = xp;
	return 0;
}

void
xpres_free(struct xpres *xp)
{
	struct gwdlg *d;

	if (xp == NULL)
		return;
	while ((d = xp->dlgs) != NULL) {
		xp->dlgs = d->next;
		free(d);
	}
	xpres__contacts_free(xp);
	store_close(xp->st);
	free(xp);
}
