/* store_xmpp.h: the XMPP part of the policy store (db/migrations/002-xmpp.sql):
 * allowed XMPP partners and their stream negotiation settings (Lync Server
 * 2013's New-CsXmppAllowedPartner; RFC 6120 sections 5-6, XEP-0178,
 * XEP-0220), the XMPP settings, and the presence subscriptions the SIP/XMPP
 * gateway keeps across restarts (RFC 6121 section 3 and appendix A).
 *
 * store.h includes this header; its conventions hold here: every function
 * returns 0 or a negative errno and leaves one sentence in store_error();
 * output parameters are written only on success; names are validated and
 * normalised by the store (lower case, no trailing dot).
 *
 * The rules the store enforces, in the transaction of the change:
 *   - the negotiation matrix (store_xmpp_nego_check);
 *   - a domain is one thing only: an XMPP partner's domain or additional
 *     domain is never a SIP allowed domain, a SIP provider's domain, a blocked
 *     domain, or another XMPP partner's (primary or additional) domain
 *     (-EEXIST, the message says what the domain already is);
 *   - "block add --replace" (store_blocked_replace) also takes a domain from
 *     an XMPP partner: a partner's own domain removes the partner, an
 *     additional domain is removed from its partner's list.
 * Every change to partners or settings moves store_generation on and is in
 * the audit log ("xmpp partner <domain>", "xmpp config <setting>");
 * subscriptions are the daemon's state and are neither. */
#ifndef SIPEDGE_STORE_XMPP_H
#define SIPEDGE_STORE_XMPP_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct store;

/* ---- partners ---- */

/* PartnerType: what a partner's users may do with our users' presence (see
 * sipedgectl(8)); public-unverified is Lync's default. */
enum store_xmpp_type {
	STORE_XMPP_FEDERATED = 0,          /* a trusted deployment */
	STORE_XMPP_PUBLIC_VERIFIED = 1,    /* the provider verifies its users */
	STORE_XMPP_PUBLIC_UNVERIFIED = 2   /* our user must invite first */
};

/* TlsNegotiation and SaslNegotiation; required is Lync's default for both. */
enum store_xmpp_nego {
	STORE_XMPP_REQUIRED = 0,
	STORE_XMPP_OPTIONAL = 1,
	STORE_XMPP_NOT_SUPPORTED = 2
};

/* Limits on a partner's fields. */
#define STORE_XMPP_CONN_LIMIT_MAX 100000
#define STORE_XMPP_ADDITIONAL_MAX 256

struct store_xmpp_partner {
	char *domain;
	char **additional;                 /* AdditionalDomains, sorted */
	size_t nadditional;
	enum store_xmpp_type type;
	enum store_xmpp_nego tls;
	enum store_xmpp_nego sasl;         /* SASL EXTERNAL with the certificate (XEP-0178) */
	bool dialback;                     /* server dialback (XEP-0220) */
	bool keepalive;                    /* EnableKeepAlive: the partner sends keep-alives */
	unsigned connection_limit;         /* 1..STORE_XMPP_CONN_LIMIT_MAX; 0: partner-connection-limit */
	char *proxy_fqdn;                  /* NULL: the partner's servers by DNS SRV */
	char *comment;                     /* never NULL in a loaded partner */
};

/* Lync's defaults: public-unverified, TLS and SASL required, dialback and
 * keep-alive on, the global connection limit; no strings. */
void store_xmpp_partner_defaults(struct store_xmpp_partner *p);

/* The negotiation matrix (Lync's §7.5 table), for a partner with these
 * settings.  SASL is never possible without TLS, and a partner must be able
 * to authenticate by SASL or by dialback.  Returns -EINVAL with msg naming
 * the rule for a combination that cannot work; 1 with a warning in msg for
 * one that works but not as its settings suggest (SASL asked for with TLS
 * not supported: only dialback over plain TCP happens); 0 otherwise (msg
 * ""). */
int store_xmpp_nego_check(enum store_xmpp_nego tls, enum store_xmpp_nego sasl, bool dialback,
    char *msg, size_t len);

/* Add a partner (p->domain, p->additional and p->proxy_fqdn in any case). */
int store_xmpp_partner_add(struct store *st, const struct store_xmpp_partner *p);

/* Changes to a partner: NULL / -1 fields are kept. */
struct store_xmpp_patch {
	int type;                          /* enum store_xmpp_type or -1 */
	int tls, sasl;                     /* enum store_xmpp_nego or -1 */
	int dialback, keepalive;           /* 0, 1 or -1 */
	long connection_limit;             /* -1 keep, 0 the global limit, else the limit */
	const char *proxy_fqdn;            /* "" unsets */
	const char *comment;
	bool set_additional;               /* replace the list with additional[] */
	const char *const *additional;
	size_t nadditional;
};
/* Change the partner whose own domain is domain; the result must pass the
 * same rules as an added one. */
int store_xmpp_partner_update(struct store *st, const char *domain, const struct store_xmpp_patch *pt);
int store_xmpp_partner_remove(struct store *st, const char *domain);
/* The partner serving domain (its own domain or an additional one); -ENOENT
 * if none.  Free with store_xmpp_partner_free(p, 1). */
int store_xmpp_partner_get(struct store *st, const char *domain, struct store_xmpp_partner **out);
/* Every partner, sorted by domain.  Free with store_xmpp_partner_free. */
int store_xmpp_partner_list(struct store *st, struct store_xmpp_partner **out, size_t *n);
void store_xmpp_partner_free(struct store_xmpp_partner *v, size_t n);

const char *store_xmpp_type_name(enum store_xmpp_type t);
int store_xmpp_type_parse(const char *s, enum store_xmpp_type *out);
const char *store_xmpp_nego_name(enum store_xmpp_nego n);
int store_xmpp_nego_parse(const char *s, enum store_xmpp_nego *out);

/* ---- settings ---- */

/* What XMPP message type a SIP MESSAGE becomes (RFC 7572 leaves "normal" for
 * page mode; clients show "chat" as a conversation). */
enum store_xmpp_msgtype { STORE_XMPP_MSG_CHAT = 0, STORE_XMPP_MSG_NORMAL = 1 };

/* The XMPP settings (Lync's Set-CsXmppGatewayConfiguration), part of struct
 * store_config (its field xmpp); the typed table is store_xmpp_settings(). */
struct store_xmpp_config {
	unsigned connection_limit;         /* connection-limit: streams to all partners, 1000 */
	unsigned partner_connection_limit; /* partner-connection-limit: per partner, 20 */
	unsigned keepalive_interval;       /* keepalive-interval, seconds, 300 */
	unsigned stream_establishment_timeout; /* seconds, 60 */
	unsigned stream_inactivity_timeout;    /* seconds, 600 */
	unsigned subscription_refresh_interval; /* seconds, 28800 (8 h) */
	bool log_message_bodies;           /* log-message-bodies, off */
	enum store_xmpp_msgtype message_type;   /* message-type, chat */
};

const char *store_xmpp_msgtype_name(enum store_xmpp_msgtype t);

/* Set or reset one XMPP setting (by its name in store_xmpp_settings());
 * audited as "xmpp config <name>". */
int store_xmpp_config_set(struct store *st, const char *name, const char *value);
int store_xmpp_config_reset(struct store *st, const char *name);

/* ---- presence subscriptions ---- */

/* The subscription part of RFC 6121's states, from our user's side. */
enum store_xmpp_sub_state {
	STORE_XMPP_SUB_NONE = 0,
	STORE_XMPP_SUB_TO = 1,             /* our user receives the contact's presence */
	STORE_XMPP_SUB_FROM = 2,           /* the contact receives our user's presence */
	STORE_XMPP_SUB_BOTH = 3
};

/* Limits on a subscription's fields (bytes). */
#define STORE_XMPP_URI_MAX 1024
#define STORE_XMPP_JID_MAX 2047
#define STORE_XMPP_PRESENCE_MAX 16384

/* One pair of our SIP user and a remote contact.  With the two pending flags
 * this is one of the nine states of RFC 6121 appendix A: pending_out only
 * with none or from, pending_in only with none or to. */
struct store_xmpp_sub {
	char *local_uri;                   /* our user: "sip:bob@contoso.test" */
	char *remote_jid;                  /* bare JID "alice@fabrikam.test"; domain stored in lower case */
	enum store_xmpp_sub_state state;
	bool pending_out;                  /* our user asked; no answer yet */
	bool pending_in;                   /* the contact asked; our user has not answered */
	char *last_presence;               /* our user's last presence (PIDF or compact); NULL: none */
	char *sip_dialog;                  /* the gateway's SIP subscription (Call-ID, tags); NULL */
	time_t sip_expires;                /* when that subscription expires; 0: none */
	time_t updated_at;                 /* set by store_xmpp_sub_put */
};

/* Insert or replace the pair's row (updated_at = now).  -EINVAL for a bad
 * URI or JID, a state with an impossible pending flag, or a field over its
 * limit. */
int store_xmpp_sub_put(struct store *st, const struct store_xmpp_sub *s);
/* Our user's last presence (PIDF, as in last_presence) on every row of
 * local_uri whose contact is at remote_domain and receives it (state from or
 * both), in one statement: one commit however many watchers.  *n (may be
 * NULL) is the number of rows.  -EINVAL for a bad URI, domain or
 * presence. */
int store_xmpp_sub_set_presence(struct store *st, const char *local_uri,
    const char *remote_domain, const char *presence, int *n);
/* -ENOENT if the pair has no row.  Free with store_xmpp_sub_clear. */
int store_xmpp_sub_get(struct store *st, const char *local_uri, const char *remote_jid,
    struct store_xmpp_sub *out);
/* -ENOENT if the pair has no row. */
int store_xmpp_sub_delete(struct store *st, const char *local_uri, const char *remote_jid);
/* The rows of one local user and/or one remote domain (NULL: any), sorted by
 * local URI and JID.  Free with store_xmpp_sub_free. */
int store_xmpp_sub_list(struct store *st, const char *local_uri, const char *remote_domain,
    struct store_xmpp_sub **out, size_t *n);
void store_xmpp_sub_clear(struct store_xmpp_sub *s);
void store_xmpp_sub_free(struct store_xmpp_sub *v, size_t n);

const char *store_xmpp_sub_state_name(enum store_xmpp_sub_state s);
int store_xmpp_sub_state_parse(const char *s, enum store_xmpp_sub_state *out);

#endif
