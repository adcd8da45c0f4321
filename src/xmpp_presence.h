/* xmpp_presence.h: presence across the gateway (RFC 8048, RFC 6121, RFC 6665),
 * shared by xmpp_sipdlg.c (the gateway's own SIP subscription dialogs with
 * the pool) and xmpp_presence.c (what XMPP presence stanzas and SIP
 * SUBSCRIBE/NOTIFY become).  Worker 0 only; private to the proxy side. */
#ifndef SIPEDGE_XMPP_PRESENCE_H
#define SIPEDGE_XMPP_PRESENCE_H

#include <stdbool.h>
#include <stdint.h>

#include <sofia-sip/sip.h>

#include "proxy_int.h"
#include "sipedge/store.h"
#include "sipedge/xmpp_addr.h"
#include "sipedge/xmpp_pres.h"
#include "sipedge/xmpp_xml.h"

/* One SIP subscription dialog of the gateway (RFC 6665 §4.1, RFC 3261 §12).
 * A subscriber dialog: an XMPP watcher's subscription to a pool user, the
 * gateway subscribing to the pool; one of those per pool user and partner
 * domain carries the presence for every approved watcher of that domain
 * (fanout).  A notifier dialog: a pool user's subscription to an XMPP
 * contact, the gateway notifying. */
struct gwdlg {
	struct gwdlg *next;
	uint64_t id;
	bool notifier;
	bool confirmed;                    /* the dialog exists (both tags known) */
	bool active;                       /* subscriber: a NOTIFY said active */
	bool fanout;                       /* subscriber: the domain's carrier */
	bool ending;                       /* an unsubscribe is on its way */
	char callid[128], ltag[24], rtag[96];
	char luri[512], ruri[512];         /* our URI in the dialog, the pool's */
	char target[512];                  /* the Request-URI of our requests */
	char routes[1024];                 /* "Route: <..>,<..>\r\n", or "" */
	uint32_t cseq;
	uint64_t expires_at;               /* loop ms; 0 none */
	uint64_t refresh_at;               /* subscriber: when to refresh (loop ms), 0 none */
	char user[512];                    /* the pool user: "sip:bob@contoso.test" */
	char jid[XMPP_JID_MAX];            /* the bare JID: the watcher, or the contact */
	char ldom[CONF_MAX_NAME], rdom[CONF_MAX_NAME];
	char ptype[24];                    /* the partner's type, for the trust header */
};

/* What one resource of a watched XMPP contact last said. */
struct xres {
	char *resource;                    /* "" for presence from the bare JID */
	char *uri;                         /* its sip: URI with gr=, or NULL */
	char *status, *lang;
	bool available;
	enum xmpp_show show;
	int priority;
};

#define XPRES_MAX_RESOURCES 16

/* An XMPP contact some pool user watches (xmpp_pres_contacts.c). */
struct xcontact {
	struct xcontact *next;
	char user[512];                    /* the pool user */
	char jid[XMPP_JID_MAX];            /* the contact's bare JID */
	bool known;                        /* some presence came */
	size_t n;
	struct xres res[XPRES_MAX_RESOURCES];   /* available resources */
	struct xres gone;                  /* the last unavailable one */
};

/* The gateway's presence state on worker 0. */
struct xpres {
	struct worker *w;
	struct store *st;                  /* its own connection to the policy store */
	struct gwdlg *dlgs;
	struct xcontact *contacts;         /* watched contacts' resources */
	uint64_t next_id;
	char contact[CONF_MAX_NAME + 64];  /* "<sip:xmpp-gw@host:port;transport=tls>" */
	bool restored;
};

/* xmpp_sipdlg.c */
struct gwdlg *gwdlg_new(struct xpres *xp, bool notifier);
void gwdlg_free(struct xpres *xp, struct gwdlg *d);
/* The dialog an in-dialog request from the pool belongs to (its To tag is
 * ours), or NULL. */
struct gwdlg *gwdlg_find(struct xpres *xp, const sip_t *sip);
/* Send METHOD in d (headers: more header lines, each ending CRLF; a body of
 * ctype, or none); final(arg, status, sip) once with the final response (sip
 * NULL when the edge answered itself).  0 or -errno (final is not called). */
typedef void (*gwdlg_final_fn)(struct xpres *xp, uint64_t dlg_id, int status, const sip_t *sip);
int gwdlg_send(struct xpres *xp, struct gwdlg *d, const char *method, const char *headers,
    const char *ctype, const char *body, size_t blen, gwdlg_final_fn final);
/* Take the remote side from a 2xx to our SUBSCRIBE (tag, target, route set
 * reversed) or from the pool's request that set up or refreshes the dialog
 * (as_uas: route set in order). */
void gwdlg_learn(struct gwdlg *d, const sip_t *sip, bool as_uas);
struct gwdlg *gwdlg_by_id(struct xpres *xp, uint64_t id);

#define PIDF_MAX 8192

/* xmpp_presence.c: the XMPP watchers' side, and what both sides share. */
void xpres__send_presence(struct xpres *xp, const char *ldom, const char *rdom, const char *from,
    const char *to, const char *type, const struct xmpp_pres *p);
int xpres__sub_get(struct xpres *xp, const char *user, const char *jid, struct store_xmpp_sub *s);
void xpres__sub_put(struct xpres *xp, const char *user, const char *jid, struct store_xmpp_sub *s);
bool xpres__has_from(const struct store_xmpp_sub *s);
bool xpres__has_to(const struct store_xmpp_sub *s);
enum store_xmpp_sub_state xpres__with(enum store_xmpp_sub_state s, bool to, bool from);
enum store_xmpp_sub_state xpres__without(enum store_xmpp_sub_state s, bool to, bool from);
const char *xpres__jid_of_user(const char *user, char *buf, size_t len);
unsigned xpres__refresh_s(struct xpres *xp);
void xpres__set_expiry(struct xpres *xp, struct gwdlg *d, unsigned long secs);
/* A NOTIFY in one of our subscriber dialogs: the status to answer. */
int xpres__on_notify(struct xpres *xp, struct gwdlg *d, const sip_t *sip);
/* xmpp_pres_notify.c: NOTIFY in a notifier dialog (state "active",
 * "pending", "terminated;reason=…"; an active one carries the contact's
 * presence as xpres__contact_pidf has it, if any came), and to each
 * notifier dialog of (user, contact). */
void xpres__notify(struct xpres *xp, struct gwdlg *d, const char *state);
void xpres__notify_all(struct xpres *xp, const char *user, const char *jid, const char *state);

/* xmpp_pres_contacts.c: a presence stanza from resource of contact jid
 * (bare), kept when user watches it; 0 or -ENOMEM. */
int xpres__contact_update(struct xpres *xp, const char *user, const char *jid,
    const char *resource, const struct xmpp_pres *p);
/* The contact's full state as PIDF in buf: its length, 0 when no presence
 * came yet, or -errno. */
int xpres__contact_pidf(struct xpres *xp, const char *user, const char *jid, char *buf,
    size_t len);
/* Forget the contact unless a notifier dialog of (user, jid) remains. */
void xpres__contact_release(struct xpres *xp, const char *user, const char *jid);
void xpres__contacts_free(struct xpres *xp);

/* xmpp_presence.c */
int xpres_new(struct worker *w, struct xpres **out, char *err, size_t errlen);
void xpres_free(struct xpres *xp);
/* A presence stanza from an authenticated partner; doc stays the caller's. */
void xpres_stanza(struct xpres *xp, struct xmpp_gw *gw, const char *ldom, const char *rdom,
    const struct xml_elem *p, const char *ptype);
/* A SUBSCRIBE for an XMPP contact (domain: the partner's) or an in-dialog
 * request for the gateway (domain ""): answered through xmpp_sip_done.
 * Takes msg. */
void xpres_sip(struct xpres *xp, msg_t *msg, const char *domain, const char *key, unsigned from);
/* Each second: refresh our subscriptions, expire the pool's. */
void xpres_tick(struct xpres *xp);
/* Once a policy is in force after start: subscribe again for the watchers
 * the store says were approved. */
void xpres_restore(struct xpres *xp);
/* The last watcher of user in rdom left: end our subscription. */
void xpres_release(struct xpres *xp, const char *user, const char *rdom);

#endif
