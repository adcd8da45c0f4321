/* store_config.c: the access-edge and XMPP settings: typed tables of name,
 * bounds, default and field; read, set, reset, audited.  The two tables share
 * struct store_config (the XMPP one its field xmpp) and all the code here;
 * they are stored apart (config, xmpp_config) and named apart in the audit
 * log ("config <name>", "xmpp config <name>"). */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store_int.h"


/* --------------------------------------------------------------- settings */

static const char *const routing_names[] = { "dns-srv", "default-route", NULL };
static const char *const msgtype_names[] = { "chat", "normal", NULL };

static int
apply_bool(const struct store_setting *s, const char *v, struct store_config *c,
    char *err, size_t errlen)
{
	bool *f = (bool *)((char *)c + s->offset);

	if (strcmp(v, "on") == 0 || strcmp(v, "true") == 0 || strcmp(v, "yes") == 0)
		*f = true;
	else if (strcmp(v, "off") == 0 || strcmp(v, "false") == 0 || strcmp(v, "no") == 0)
		*f = false;
	else {
		snprintf(err, errlen, "%s: \"%s\" is not on or off", s->name, v);
		return -EINVAL;
	}
	return 0;
}

static void
format_bool(const struct store_setting *s, const struct store_config *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s", *(const bool *)((const char *)c + s->offset) ? "on" : "off");
}

static int
apply_uint(const struct store_setting *s, const char *v, struct store_config *c,
    char *err, size_t errlen)
{
	unsigned long n;
	char *end;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (v[0] < '0' || v[0] > '9' || *end != '\0' || errno != 0 || n < s->min || n > s->max) {
		snprintf(err, errlen, "%s: \"%s\" is not a whole number from %u to %u",
		    s->name, v, s->min, s->max);
		return -EINVAL;
	}
	*(unsigned *)((char *)c + s->offset) = (unsigned)n;
	return 0;
}

static void
format_uint(const struct store_setting *s, const struct store_config *c, char *buf, size_t len)
{
	snprintf(buf, len, "%u", *(const unsigned *)((const char *)c + s->offset));
}

static int
apply_routing(const struct store_setting *s, const char *v, struct store_config *c,
    char *err, size_t errlen)
{
	for (int i = 0; routing_names[i]; i++)
		if (strcmp(v, routing_names[i]) == 0) {
			c->routing = (enum store_routing)i;
			return 0;
		}
	snprintf(err, errlen, "%s: \"%s\" is not dns-srv or default-route", s->name, v);
	return -EINVAL;
}

static void
format_routing(const struct store_setting *s, const struct store_config *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s", routing_names[c->routing]);
}

/* An empty value unsets the FQDN. */
static int
apply_fqdn(const struct store_setting *s, const char *v, struct store_config *c,
    char *err, size_t errlen)
{
	char *f = (char *)c + s->offset;
	const char *why;

	if (v[0] == '\0') {
		f[0] = '\0';
		return 0;
	}
	if (names_normalize(v, f, NAMES_MAX + 1, &why) != 0) {
		snprintf(err, errlen, "%s: invalid FQDN \"%s\": %s", s->name, v, why);
		return -EINVAL;
	}
	return 0;
}

static void
format_fqdn(const struct store_setting *s, const struct store_config *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s", (const char *)c + s->offset);
}

static int
apply_msgtype(const struct store_setting *s, const char *v, struct store_config *c,
    char *err, size_t errlen)
{
	for (int i = 0; msgtype_names[i]; i++)
		if (strcmp(v, msgtype_names[i]) == 0) {
			c->xmpp.message_type = (enum store_xmpp_msgtype)i;
			return 0;
		}
	snprintf(err, errlen, "%s: \"%s\" is not chat or normal", s->name, v);
	return -EINVAL;
}

static void
format_msgtype(const struct store_setting *s, const struct store_config *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s", store_xmpp_msgtype_name(c->xmpp.message_type));
}

const char *
store_xmpp_msgtype_name(enum store_xmpp_msgtype t)
{
	return t <= STORE_XMPP_MSG_NORMAL ? msgtype_names[t] : "?";
}

#define BOOL_ROW(n, f, d, desc) \
	{ n, STORE_SET_BOOL, 0, 1, NULL, d, NULL, offsetof(struct store_config, f), \
	  apply_bool, format_bool, desc }
#define UINT_ROW(n, f, lo, hi, d, unit, desc) \
	{ n, STORE_SET_UINT, lo, hi, NULL, d, unit, offsetof(struct store_config, f), \
	  apply_uint, format_uint, desc }

/* Defaults are those of the Lync Server 2013 Access Edge configuration. */
static const struct store_setting settings[] = {
	BOOL_ROW("federation", federation, "off",
	    "federate with allowed partners and providers (AllowFederatedUsers)"),
	BOOL_ROW("partner-discovery", partner_discovery, "off",
	    "accept and route to domains found by DNS SRV (EnablePartnerDiscovery); "
	    "needs federation on and routing-method dns-srv"),
	{ "routing-method", STORE_SET_ENUM, 0, 0, routing_names, "dns-srv", NULL,
	  offsetof(struct store_config, routing), apply_routing, format_routing,
	  "dns-srv: find partner edges by DNS SRV; default-route: send all "
	  "federated traffic to default-route-fqdn" },
	{ "default-route-fqdn", STORE_SET_FQDN, 0, 0, NULL, "", NULL,
	  offsetof(struct store_config, default_route_fqdn), apply_fqdn, format_fqdn,
	  "next hop for routing-method default-route (empty: unset)" },
	UINT_ROW("discovered-rate", discovered_rate, 1, 100000, "20", "requests/s",
	    "messages accepted from each discovered partner"),
	UINT_ROW("discovered-suspicious-rate", discovered_suspicious_rate, 1, 100000, "1",
	    "requests/s", "messages accepted from a discovered partner once it is suspicious"),
	UINT_ROW("discovered-suspicious-ratio", discovered_suspicious_ratio, 1, 100000,
	    "100", "percent", "failed responses, as a share of successful ones, that "
	    "mark a discovered partner suspicious"),
	UINT_ROW("discovered-contacts", discovered_contacts, 1, 10000000, "1000", NULL,
	    "distinct internal contacts a discovered partner may reach per period"),
	UINT_ROW("discovered-period", discovered_period, 1, 10080, "60", "minutes",
	    "report and contact-limit period for discovered partners"),
	BOOL_ROW("mark-source-verifiable", mark_source_verifiable, "on",
	    "mark outgoing messages as from a verifiable source "
	    "(MarkSourceVerifiableOnOutgoingMessages)"),
	{ NULL, 0, 0, 0, NULL, NULL, NULL, 0, NULL, NULL, NULL }
};

/* The XMPP settings; defaults are those of Lync Server 2013's XMPP gateway
 * configuration (Set-CsXmppGatewayConfiguration), but for message-type,
 * which Lync does not have. */
static const struct store_setting xmpp_settings[] = {
	UINT_ROW("connection-limit", xmpp.connection_limit, 1, 100000, "1000", "streams",
	    "server-to-server streams with all XMPP partners together (ConnectionLimit)"),
	UINT_ROW("partner-connection-limit", xmpp.partner_connection_limit, 1, 100000, "20",
	    "streams", "streams with one XMPP partner, unless the partner has its own "
	    "connection limit; not above connection-limit (PartnerConnectionLimit)"),
	UINT_ROW("keepalive-interval", xmpp.keepalive_interval, 10, 86400, "300", "seconds",
	    "keep-alive interval of an idle stream (KeepAliveInterval)"),
	UINT_ROW("stream-establishment-timeout", xmpp.stream_establishment_timeout, 1, 3600,
	    "60", "seconds", "time from a new connection to an authenticated stream "
	    "(StreamEstablishmentTimeout)"),
	UINT_ROW("stream-inactivity-timeout", xmpp.stream_inactivity_timeout, 10, 86400, "600",
	    "seconds", "a stream that carries no stanza this long is closed "
	    "(StreamInactivityTimeout)"),
	UINT_ROW("subscription-refresh-interval", xmpp.subscription_refresh_interval, 60, 604800,
	    "28800", "seconds", "expiry of the gateway's SIP presence subscriptions, refreshed "
	    "before it ends (SubscriptionRefreshInterval)"),
	BOOL_ROW("log-message-bodies", xmpp.log_message_bodies, "off",
	    "write message bodies to logs and traces (EnableLoggingAllMessageBodies)"),
	{ "message-type", STORE_SET_ENUM, 0, 0, msgtype_names, "chat", NULL,
	  offsetof(struct store_config, xmpp.message_type), apply_msgtype, format_msgtype,
	  "the XMPP message type a SIP MESSAGE becomes: chat or normal" },
	{ NULL, 0, 0, 0, NULL, NULL, NULL, 0, NULL, NULL, NULL }
};

/* Where a table's rows live and how its changes are named. */
struct settings_kind {
	const struct store_setting *table;
	const char *select_sql, *delete_sql, *upsert_sql, *insert_sql;
	const char *db_table;              /* for messages */
	const char *object;                /* audit object prefix */
	const char *show;                  /* the command that lists the names */
};

static const struct settings_kind sip_kind = {
	settings,
	"SELECT name, value FROM config ORDER BY name",
	"DELETE FROM config WHERE name = ?",
	"INSERT OR REPLACE INTO config (name, value) VALUES (?, ?)",
	"INSERT INTO config (name, value) VALUES (?, ?)",
	"config", "config", "sipedgectl config show"
};

static const struct settings_kind xmpp_kind = {
	xmpp_settings,
	"SELECT name, value FROM xmpp_config ORDER BY name",
	"DELETE FROM xmpp_config WHERE name = ?",
	"INSERT OR REPLACE INTO xmpp_config (name, value) VALUES (?, ?)",
	"INSERT INTO xmpp_config (name, value) VALUES (?, ?)",
	"xmpp_config", "xmpp config", "sipedgectl xmpp config show"
};

static const struct store_setting *
find_in(const struct store_setting *table, const char *name)
{
	for (const struct store_setting *s = table; s->name; s++)
		if (strcmp(s->name, name) == 0)
			return s;
	return NULL;
}

const struct store_setting *
store_settings(void)
{
	return settings;
}

const struct store_setting *
store_setting_find(const char *name)
{
	return find_in(settings, name);
}

const struct store_setting *
store_xmpp_settings(void)
{
	return xmpp_settings;
}

const struct store_setting *
store_xmpp_setting_find(const char *name)
{
	return find_in(xmpp_settings, name);
}

int
store_setting_parse(const struct store_setting *s, const char *value,
    struct store_config *c, char *err, size_t errlen)
{
	return s->apply(s, value, c, err, errlen);
}

void
store_setting_format(const struct store_setting *s, const struct store_config *c,
    char *buf, size_t len)
{
	s->format(s, c, buf, len);
}

void
store_config_defaults(struct store_config *c)
{
	char err[128];

	memset(c, 0, sizeof(*c));
	/* The defaults are constants checked by the unit tests. */
	for (const struct store_setting *s = settings; s->name; s++)
		(void)s->apply(s, s->def, c, err, sizeof(err));
	for (const struct store_setting *s = xmpp_settings; s->name; s++)
		(void)s->apply(s, s->def, c, err, sizeof(err));
}

int
store_config_check(const struct store_config *c, char *err, size_t errlen)
{
	if (c->routing == STORE_ROUTING_DEFAULT_ROUTE && c->default_route_fqdn[0] == '\0') {
		snprintf(err, errlen, "routing-method default-route needs default-route-fqdn; "
		    "set default-route-fqdn first");
		return -EINVAL;
	}
	if (c->routing == STORE_ROUTING_DEFAULT_ROUTE && c->partner_discovery) {
		snprintf(err, errlen, "partner-discovery needs routing-method dns-srv; "
		    "turn partner-discovery off first, or keep dns-srv");
		return -EINVAL;
	}
	if (c->discovered_suspicious_rate > c->discovered_rate) {
		snprintf(err, errlen, "discovered-suspicious-rate (%u) must not be above "
		    "discovered-rate (%u)", c->discovered_suspicious_rate, c->discovered_rate);
		return -EINVAL;
	}
	if (c->xmpp.partner_connection_limit > c->xmpp.connection_limit) {
		snprintf(err, errlen, "xmpp partner-connection-limit (%u) must not be above "
		    "connection-limit (%u)", c->xmpp.partner_connection_limit,
		    c->xmpp.connection_limit);
		return -EINVAL;
	}
	return 0;
}

/* Apply the rows of one kind's table to c. */
static int
read_rows(struct store *st, const struct settings_kind *k, struct store_config *c)
{
	sqlite3_stmt *s = NULL;
	char err[256];
	int rc;

	if ((rc = store__prep(st, &s, k->select_sql, NULL)) != 0)
		return rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(s, 0);
		const char *value = (const char *)sqlite3_column_text(s, 1);
		const struct store_setting *set = name ? find_in(k->table, name) : NULL;

		if (set == NULL) {
			rc = store__serr(st, -EINVAL, "%s: unknown setting \"%s\" in the %s table",
			    st->path, name ? name : "", k->db_table);
			goto out;
		}
		if (set->apply(set, value ? value : "", c, err, sizeof(err)) != 0) {
			rc = store__serr(st, -EINVAL, "%s: %s table: %s", st->path, k->db_table, err);
			goto out;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : store__sqlerr(st, rc);
out:
	sqlite3_finalize(s);
	return rc;
}

/* The effective configuration: defaults, then the rows of the config and
 * xmpp_config tables. */
int
store__config_read(struct store *st, struct store_config *c)
{
	char err[256];
	int rc;

	store_config_defaults(c);
	if ((rc = read_rows(st, &sip_kind, c)) != 0 || (rc = read_rows(st, &xmpp_kind, c)) != 0)
		return rc;
	if (store_config_check(c, err, sizeof(err)) != 0)
		return store__serr(st, -EINVAL, "%s: config tables: %s", st->path, err);
	return 0;
}

/* Store c in the place of the current rows: only values that differ from the
 * default (import). */
int
store__config_store(struct store *st, const struct store_config *c)
{
	const struct settings_kind *kinds[] = { &sip_kind, &xmpp_kind };
	char a[NAMES_MAX + 16], b[NAMES_MAX + 16];
	struct store_config def;
	int rc;

	store_config_defaults(&def);
	if ((rc = store__exec_sql(st, "DELETE FROM config; DELETE FROM xmpp_config")) != 0)
		return rc;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		for (const struct store_setting *s = kinds[i]->table; s->name; s++) {
			s->format(s, &def, a, sizeof(a));
			s->format(s, c, b, sizeof(b));
			if (strcmp(a, b) != 0 &&
			    (rc = store__run(st, NULL, kinds[i]->insert_sql, "ss", s->name, b)) != 0)
				return rc;
		}
	return 0;
}

static int
audit_kind(struct store *st, const struct settings_kind *k, const char *command,
    const struct store_config *old, const struct store_config *new)
{
	char a[NAMES_MAX + 16], b[NAMES_MAX + 16], obj[96];
	int rc;

	for (const struct store_setting *s = k->table; s->name; s++) {
		s->format(s, old, a, sizeof(a));
		s->format(s, new, b, sizeof(b));
		if (strcmp(a, b) == 0)
			continue;
		snprintf(obj, sizeof(obj), "%s %s", k->object, s->name);
		rc = store__run(st, NULL, "INSERT INTO audit (at, actor, command, object, old, new) "
		    "VALUES (?, ?, ?, ?, json_quote(?), json_quote(?))",
		    "isssss", (int64_t)time(NULL), st->actor, command, obj, a, b);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Audit every setting whose effective value differs between old and new. */
int
store__config_audit(struct store *st, const char *command, const struct store_config *old,
    const struct store_config *new)
{
	int rc = audit_kind(st, &sip_kind, command, old, new);

	return rc ? rc : audit_kind(st, &xmpp_kind, command, old, new);
}

static int
config_change(struct store *st, const struct settings_kind *k, const char *name,
    const char *value, const char *command)
{
	const struct store_setting *s = find_in(k->table, name);
	struct store_config old, new;
	char err[256], b[NAMES_MAX + 16];
	int rc;

	if (s == NULL)
		return store__serr(st, -ENOENT, "unknown setting \"%s\"; \"%s\" lists them", name,
		    k->show);
	if ((rc = store__tx_begin(st)) != 0)
		return rc;
	if ((rc = store__config_read(st, &old)) != 0)
		goto out;
	new = old;
	if (s->apply(s, value ? value : s->def, &new, err, sizeof(err)) != 0 ||
	    store_config_check(&new, err, sizeof(err)) != 0) {
		rc = store__serr(st, -EINVAL, "%s", err);
		goto out;
	}
	/* "config set" pins the value even when it equals the default; "config
	 * reset" removes the row so that a later release's default applies. */
	s->format(s, &new, b, sizeof(b));
	if (value == NULL)
		rc = store__run(st, NULL, k->delete_sql, "s", name);
	else
		rc = store__run(st, NULL, k->upsert_sql, "ss", name, b);
	if (rc != 0 || (rc = audit_kind(st, k, command, &old, &new)) != 0)
		goto out;
	rc = store__tx_commit(st);
out:
	if (rc != 0)
		store__tx_rollback(st);
	return rc;
}

int
store_config_set(struct store *st, const char *name, const char *value)
{
	return config_change(st, &sip_kind, name, value ? value : "", "config set");
}

int
store_config_reset(struct store *st, const char *name)
{
	return config_change(st, &sip_kind, name, NULL, "config reset");
}

int
store_xmpp_config_set(struct store *st, const char *name, const char *value)
{
	return config_change(st, &xmpp_kind, name, value ? value : "", "xmpp config set");
}

int
store_xmpp_config_reset(struct store *st, const char *name)
{
	return config_change(st, &xmpp_kind, name, NULL, "xmpp config reset");
}
