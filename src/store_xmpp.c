/* store_xmpp.c: allowed XMPP partners (store_xmpp.h): the negotiation matrix
 * of Lync Server 2013 (TLS per RFC 6120 section 5, SASL EXTERNAL per
 * XEP-0178, dialback per XEP-0220), the rule that a domain is one thing only,
 * and the audited add, set and remove. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store_int.h"

static const char *const type_names[] = {
	"federated", "public-verified", "public-unverified", NULL
};
static const char *const nego_names[] = { "required", "optional", "not-supported", NULL };

static int
name_index(const char *const *names, const char *s)
{
	for (int i = 0; s != NULL && names[i]; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return -1;
}

const char *
store_xmpp_type_name(enum store_xmpp_type t)
{
	return t <= STORE_XMPP_PUBLIC_UNVERIFIED ? type_names[t] : "?";
}

int
store_xmpp_type_parse(const char *s, enum store_xmpp_type *out)
{
	int i = name_index(type_names, s);

	if (i < 0)
		return -EINVAL;
	*out = (enum store_xmpp_type)i;
	return 0;
}

const char *
store_xmpp_nego_name(enum store_xmpp_nego n)
{
	return n <= STORE_XMPP_NOT_SUPPORTED ? nego_names[n] : "?";
}

int
store_xmpp_nego_parse(const char *s, enum store_xmpp_nego *out)
{
	int i = name_index(nego_names, s);

	if (i < 0)
		return -EINVAL;
	*out = (enum store_xmpp_nego)i;
	return 0;
}

void
store_xmpp_partner_defaults(struct store_xmpp_partner *p)
{
	memset(p, 0, sizeof(*p));
	p->type = STORE_XMPP_PUBLIC_UNVERIFIED;
	p->tls = STORE_XMPP_REQUIRED;
	p->sasl = STORE_XMPP_REQUIRED;
	p->dialback = true;
	p->keepalive = true;
}

/* The matrix reduces to two rules.  SASL EXTERNAL authenticates a partner by
 * its certificate, which it only shows over TLS: with TLS not supported, SASL
 * is impossible whatever its setting.  And a stream must be authenticated by
 * SASL or by dialback, so at least one of them must be possible.  Lync's
 * table marks exactly the rows that break the second rule (after the first
 * has removed SASL) invalid; the one valid row where the first rule silently
 * changes the outcome (SASL asked for, TLS not supported, dialback on) gets a
 * warning, as the Lync Control Panel gives one. */
int
store_xmpp_nego_check(enum store_xmpp_nego tls, enum store_xmpp_nego sasl, bool dialback,
    char *msg, size_t len)
{
	if (len > 0)
		msg[0] = '\0';
	if ((unsigned)tls > STORE_XMPP_NOT_SUPPORTED || (unsigned)sasl > STORE_XMPP_NOT_SUPPORTED) {
		snprintf(msg, len, "bad TLS or SASL negotiation value");
		return -EINVAL;
	}
	if (!dialback && sasl != STORE_XMPP_NOT_SUPPORTED && tls == STORE_XMPP_NOT_SUPPORTED) {
		snprintf(msg, len, "SASL needs TLS: --sasl %s with --tls not-supported leaves only "
		    "dialback, which is off", store_xmpp_nego_name(sasl));
		return -EINVAL;
	}
	if (!dialback && sasl == STORE_XMPP_NOT_SUPPORTED) {
		snprintf(msg, len, "a partner must authenticate by SASL or dialback: "
		    "--sasl not-supported with --dialback off leaves neither");
		return -EINVAL;
	}
	if (sasl != STORE_XMPP_NOT_SUPPORTED && tls == STORE_XMPP_NOT_SUPPORTED) {
		snprintf(msg, len, "SASL cannot be used without TLS: with --tls not-supported, "
		    "--sasl %s has no effect and only dialback over plain TCP authenticates "
		    "the partner", store_xmpp_nego_name(sasl));
		return 1;
	}
	return 0;
}

/* ------------------------------------------------------------ lookups */

int
store__xmpp_holder(struct store *st, const char *domain, char **partner, bool *additional)
{
	int rc = store__query_text(st, partner, "SELECT domain FROM xmpp_partner WHERE domain = ?",
	    "s", domain);

	if (rc == 0) {
		*additional = false;
		return 0;
	}
	if (rc != -ENOENT)
		return rc;
	rc = store__query_text(st, partner, "SELECT partner FROM xmpp_partner_domain WHERE domain = ?",
	    "s", domain);
	if (rc == 0)
		*additional = true;
	return rc;
}

int
store__xmpp_json(struct store *st, const char *domain, char **out)
{
	int rc = store__query_text(st, out, "SELECT " XMPP_PARTNER_JSON
	    " FROM xmpp_partner x WHERE x.domain = ?", "s", domain);

	if (rc == -ENOENT) {
		*out = NULL;
		rc = 0;
	}
	return rc;
}

/* Refuse domain (normal form) for partner self (its own domain, normal
 * form) when it is already something: the message says what. */
static int
claim(struct store *st, const char *domain, const char *self)
{
	char *other = NULL;
	int64_t one;
	bool add;
	int rc;

	rc = store__xmpp_holder(st, domain, &other, &add);
	if (rc == 0) {
		if (!add && strcmp(domain, self) == 0)
			rc = store__serr(st, -EEXIST, "%s is already an XMPP partner", domain);
		else if (!add)
			rc = store__serr(st, -EEXIST, "%s is an XMPP partner; a domain belongs to at "
			    "most one XMPP partner", domain);
		else
			rc = store__serr(st, -EEXIST, "%s is an additional domain of XMPP partner %s; "
			    "a domain belongs to at most one XMPP partner", domain, other);
		free(other);
		return rc;
	}
	if (rc != -ENOENT)
		return rc;
	rc = store__query_int(st, &one, "SELECT 1 FROM blocked_domain WHERE domain = ?", "s", domain);
	if (rc == 0)
		return store__serr(st, -EEXIST, "%s is blocked; a blocked domain cannot be an XMPP "
		    "partner (\"sipedgectl block remove %s\" first)", domain, domain);
	if (rc != -ENOENT)
		return rc;
	rc = store__query_int(st, &one, "SELECT 1 FROM allowed_domain WHERE domain = ?", "s", domain);
	if (rc == 0)
		return store__serr(st, -EEXIST, "%s is a SIP allowed domain; a domain is either a SIP "
		    "federation partner or an XMPP partner, never both", domain);
	if (rc != -ENOENT)
		return rc;
	rc = store__query_text(st, &other, "SELECT p.name FROM provider_domain d JOIN provider p "
	    "ON p.id = d.provider_id WHERE d.domain = ?", "s", domain);
	if (rc == 0) {
		rc = store__serr(st, -EEXIST, "%s is served by SIP provider %s; a domain is either a "
		    "SIP federation partner or an XMPP partner, never both", domain,
		    other ? other : "?");
		free(other);
		return rc;
	}
	return rc == -ENOENT ? 0 : rc;
}

/* Insert partner self's additional domains (its own rows already gone).  The
 * same domain twice in the list is harmless. */
static int
insert_additional(struct store *st, const char *self, const char *const *list, size_t n)
{
	char domain[NAMES_MAX + 1];
	int64_t one;
	int rc;

	if (n > STORE_XMPP_ADDITIONAL_MAX)
		return store__serr(st, -EINVAL, "XMPP partner %s: more than %d additional domains",
		    self, STORE_XMPP_ADDITIONAL_MAX);
	for (size_t i = 0; i < n; i++) {
		if ((rc = store__norm(st, "additional domain", list[i], domain)) != 0)
			return rc;
		if (strcmp(domain, self) == 0)
			return store__serr(st, -EEXIST, "%s is the partner's own domain; it cannot also "
			    "be one of its additional domains", domain);
		rc = store__query_int(st, &one, "SELECT 1 FROM xmpp_partner_domain WHERE domain = ? "
		    "AND partner = ?", "ss", domain, self);
		if (rc == 0)
			continue;
		if (rc != -ENOENT || (rc = claim(st, domain, self)) != 0)
			return rc;
		if ((rc = store__run(st, NULL, "INSERT INTO xmpp_partner_domain (domain, partner) "
		    "VALUES (?, ?)", "ss", domain, self)) != 0)
			return rc;
	}
	return 0;
}

/* The fields of a partner other than its domains, checked. */
static int
check_fields(struct store *st, const char *domain, const struct store_xmpp_partner *p)
{
	char msg[256];

	if ((unsigned)p->type > STORE_XMPP_PUBLIC_UNVERIFIED)
		return store__serr(st, -EINVAL, "XMPP partner %s: bad partner type", domain);
	if (store_xmpp_nego_check(p->tls, p->sasl, p->dialback, msg, sizeof(msg)) < 0)
		return store__serr(st, -EINVAL, "%s", msg);
	if (p->connection_limit > STORE_XMPP_CONN_LIMIT_MAX)
		return store__serr(st, -EINVAL, "connection limit %u is not a whole number from 1 "
		    "to %d (or 0: partner-connection-limit)", p->connection_limit,
		    STORE_XMPP_CONN_LIMIT_MAX);
	return store__check_comment(st, p->comment);
}

int
store__xmpp_insert(struct store *st, const struct store_xmpp_partner *p)
{
	char domain[NAMES_MAX + 1], proxy[NAMES_MAX + 1];
	int rc;

	if ((rc = store__norm(st, "domain", p->domain, domain)) != 0)
		return rc;
	if (p->proxy_fqdn != NULL && (rc = store__norm(st, "proxy FQDN", p->proxy_fqdn, proxy)) != 0)
		return rc;
	if ((rc = check_fields(st, domain, p)) != 0 || (rc = claim(st, domain, domain)) != 0)
		return rc;
	rc = store__run(st, NULL, "INSERT INTO xmpp_partner (domain, partner_type, tls, sasl, "
	    "dialback, keepalive, connection_limit, proxy_fqdn, comment, added) "
	    "VALUES (?, ?, ?, ?, ?, ?, NULLIF(?, 0), ?, ?, ?)", "ssssddissi", domain,
	    store_xmpp_type_name(p->type), store_xmpp_nego_name(p->tls),
	    store_xmpp_nego_name(p->sasl), p->dialback ? 1 : 0, p->keepalive ? 1 : 0,
	    (int64_t)p->connection_limit, p->proxy_fqdn ? proxy : NULL,
	    p->comment ? p->comment : "", (int64_t)time(NULL));
	if (rc != 0)
		return rc;
	return insert_additional(st, domain, (const char *const *)p->additional, p->nadditional);
}

/* ------------------------------------------------------------- loading */

static int
load_additional(struct store *st, sqlite3_stmt *s, struct store_xmpp_partner *p)
{
	size_t cap = 0;
	int rc;

	sqlite3_reset(s);
	sqlite3_bind_text(s, 1, p->domain, -1, SQLITE_TRANSIENT);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (store__grow(&p->additional, &cap, p->nadditional, sizeof(*p->additional)) != 0)
			return store__serr(st, -ENOMEM, "out of memory");
		if ((rc = store__col_name(st, s, 0, false, "XMPP additional domain",
		    &p->additional[p->nadditional])) != 0)
			return rc;
		p->nadditional++;
	}
	return rc == SQLITE_DONE ? 0 : store__sqlerr(st, rc);
}

/* One row of xmpp_partner (the columns of load()'s SELECT) into p. */
static int
load_row(struct store *st, sqlite3_stmt *s, struct store_xmpp_partner *p)
{
	const char *type = (const char *)sqlite3_column_text(s, 1);
	const char *tls = (const char *)sqlite3_column_text(s, 2);
	const char *sasl = (const char *)sqlite3_column_text(s, 3);
	int64_t limit = sqlite3_column_int64(s, 6);
	char msg[256];
	int rc;

	if ((rc = store__col_name(st, s, 0, false, "XMPP partner domain", &p->domain)) != 0 ||
	    (rc = store__col_name(st, s, 7, true, "XMPP proxy FQDN", &p->proxy_fqdn)) != 0 ||
	    (rc = store__col_dup(st, s, 8, false, &p->comment)) != 0)
		return rc;
	p->dialback = sqlite3_column_int(s, 4) != 0;
	p->keepalive = sqlite3_column_int(s, 5) != 0;
	/* The schema's CHECKs hold these; a db edited without them is refused
	 * rather than half understood. */
	if (store_xmpp_type_parse(type, &p->type) != 0 || store_xmpp_nego_parse(tls, &p->tls) != 0 ||
	    store_xmpp_nego_parse(sasl, &p->sasl) != 0 || limit < 0 ||
	    limit > STORE_XMPP_CONN_LIMIT_MAX ||
	    store_xmpp_nego_check(p->tls, p->sasl, p->dialback, msg, sizeof(msg)) < 0)
		return store__serr(st, -EINVAL, "%s: XMPP partner %s has a bad type, negotiation "
		    "or connection limit", st->path, p->domain);
	p->connection_limit = (unsigned)limit;
	return 0;
}

/* Partners whose domain is key (NULL: all), sorted, with their additional
 * domains; inside the caller's transaction. */
static int
load(struct store *st, const char *key, struct store_xmpp_partner **out, size_t *nout)
{
	sqlite3_stmt *s = NULL, *ds = NULL;
	struct store_xmpp_partner *v = NULL;
	size_t n = 0, cap = 0;
	int rc;

	rc = store__prep(st, &s, key ? "SELECT domain, partner_type, tls, sasl, dialback, keepalive, "
	    "connection_limit, proxy_fqdn, comment FROM xmpp_partner WHERE domain = ?" :
	    "SELECT domain, partner_type, tls, sasl, dialback, keepalive, connection_limit, "
	    "proxy_fqdn, comment FROM xmpp_partner ORDER BY domain", key ? "s" : NULL, key);
	if (rc != 0)
		return rc;
	if ((rc = store__prep(st, &ds, "SELECT domain FROM xmpp_partner_domain WHERE partner = ? "
	    "ORDER BY domain", NULL)) != 0)
		goto out;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (store__grow(&v, &cap, n, sizeof(*v)) != 0) {
			rc = store__serr(st, -ENOMEM, "out of memory");
			goto out;
		}
		if ((rc = load_row(st, s, &v[n++])) != 0 || (rc = load_additional(st, ds, &v[n - 1])) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE) {
		rc = store__sqlerr(st, rc);
		goto out;
	}
	*out = v;
	*nout = n;
	v = NULL;
	rc = 0;
out:
	sqlite3_finalize(s);
	sqlite3_finalize(ds);
	store_xmpp_partner_free(v, n);
	return rc;
}

int
store__xmpp_load(struct store *st, struct store_xmpp_partner **out, size_t *n)
{
	return load(st, NULL, out, n);
}

void
store_xmpp_partner_free(struct store_xmpp_partner *v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(v[i].domain);
		for (size_t j = 0; j < v[i].nadditional; j++)
			free(v[i].additional[j]);
		free(v[i].additional);
		free(v[i].proxy_fqdn);
		free(v[i].comment);
	}
	free(v);
}

int
store_xmpp_partner_list(struct store *st, struct store_xmpp_partner **out, size_t *n)
{
	int rc;

	if ((rc = store__exec_sql(st, "BEGIN")) != 0)
		return rc;
	rc = load(st, NULL, out, n);
	store__tx_rollback(st);
	return rc;
}

int
store_xmpp_partner_get(struct store *st, const char *domain_in, struct store_xmpp_partner **out)
{
	struct store_xmpp_partner *v = NULL;
	char domain[NAMES_MAX + 1], *owner = NULL;
	size_t n = 0;
	bool add;
	int rc;

	if ((rc = store__norm(st, "domain", domain_in, domain)) != 0)
		return rc;
	if ((rc = store__exec_sql(st, "BEGIN")) != 0)
		return rc;
	rc = store__xmpp_holder(st, domain, &owner, &add);
	if (rc == -ENOENT)
		rc = store__serr(st, -ENOENT, "%s is not an XMPP partner", domain);
	if (rc == 0 && (rc = load(st, owner, &v, &n)) == 0 && n != 1)
		rc = store__serr(st, -ENOENT, "%s is not an XMPP partner", domain);
	store__tx_rollback(st);
	free(owner);
	if (rc != 0) {
		store_xmpp_partner_free(v, n);
		return rc;
	}
	*out = v;
	return 0;
}

/* ------------------------------------------------------------- changes */

/* A change names a partner by its own domain; an additional domain gets a
 * message that says whose it is. */
static int
own_domain(struct store *st, const char *domain)
{
	char *owner = NULL;
	bool add;
	int rc = store__xmpp_holder(st, domain, &owner, &add);

	if (rc == -ENOENT)
		return store__serr(st, -ENOENT, "%s is not an XMPP partner", domain);
	if (rc == 0 && add)
		rc = store__serr(st, -ENOENT, "%s is an additional domain of XMPP partner %s; name "
		    "the partner by its own domain", domain, owner);
	free(owner);
	return rc;
}

static int
do_add(struct store *st, const char *domain, void *arg)
{
	return store__xmpp_insert(st, arg);
}

int
store_xmpp_partner_add(struct store *st, const struct store_xmpp_partner *p)
{
	static const struct change ch = { "xmpp partner add", "xmpp partner", store__xmpp_json };

	return store__audited(st, &ch, p->domain, false, do_add, (void *)(uintptr_t)p);
}

/* The partner with pt applied (strings point into cur or pt). */
static int
patched(struct store *st, const struct store_xmpp_partner *cur, const struct store_xmpp_patch *pt,
    struct store_xmpp_partner *p, char proxy[NAMES_MAX + 1])
{
	int rc;

	*p = *cur;
	if (pt->type >= 0)
		p->type = (enum store_xmpp_type)pt->type;
	if (pt->tls >= 0)
		p->tls = (enum store_xmpp_nego)pt->tls;
	if (pt->sasl >= 0)
		p->sasl = (enum store_xmpp_nego)pt->sasl;
	if (pt->dialback >= 0)
		p->dialback = pt->dialback != 0;
	if (pt->keepalive >= 0)
		p->keepalive = pt->keepalive != 0;
	if (pt->connection_limit >= 0)
		p->connection_limit = pt->connection_limit > STORE_XMPP_CONN_LIMIT_MAX ?
		    STORE_XMPP_CONN_LIMIT_MAX + 1 : (unsigned)pt->connection_limit;
	if (pt->comment != NULL)
		p->comment = (char *)(uintptr_t)pt->comment;
	if (pt->proxy_fqdn != NULL && pt->proxy_fqdn[0] == '\0') {
		p->proxy_fqdn = NULL;
	} else if (pt->proxy_fqdn != NULL) {
		if ((rc = store__norm(st, "proxy FQDN", pt->proxy_fqdn, proxy)) != 0)
			return rc;
		p->proxy_fqdn = proxy;
	}
	return check_fields(st, cur->domain, p);
}

static int
do_update(struct store *st, const char *domain, void *arg)
{
	const struct store_xmpp_patch *pt = arg;
	struct store_xmpp_partner *cur = NULL, p;
	char proxy[NAMES_MAX + 1];
	size_t n = 0;
	int rc;

	if ((rc = own_domain(st, domain)) != 0 || (rc = load(st, domain, &cur, &n)) != 0)
		goto out;
	if (n != 1) {
		rc = store__serr(st, -ENOENT, "%s is not an XMPP partner", domain);
		goto out;
	}
	if ((rc = patched(st, cur, pt, &p, proxy)) != 0)
		goto out;
	rc = store__run(st, NULL, "UPDATE xmpp_partner SET partner_type = ?, tls = ?, sasl = ?, "
	    "dialback = ?, keepalive = ?, connection_limit = NULLIF(?, 0), proxy_fqdn = ?, "
	    "comment = ? WHERE domain = ?", "sssddisss", store_xmpp_type_name(p.type),
	    store_xmpp_nego_name(p.tls), store_xmpp_nego_name(p.sasl), p.dialback ? 1 : 0,
	    p.keepalive ? 1 : 0, (int64_t)p.connection_limit, p.proxy_fqdn, p.comment, domain);
	if (rc != 0 || !pt->set_additional)
		goto out;
	if ((rc = store__run(st, NULL, "DELETE FROM xmpp_partner_domain WHERE partner = ?", "s",
	    domain)) != 0)
		goto out;
	rc = insert_additional(st, domain, pt->additional, pt->nadditional);
out:
	store_xmpp_partner_free(cur, n);
	return rc;
}

int
store_xmpp_partner_update(struct store *st, const char *domain, const struct store_xmpp_patch *pt)
{
	static const struct change ch = { "xmpp partner set", "xmpp partner", store__xmpp_json };

	return store__audited(st, &ch, domain, false, do_update, (void *)(uintptr_t)pt);
}

static int
do_remove(struct store *st, const char *domain, void *arg)
{
	int rc = own_domain(st, domain);

	/* Its additional domains go with it (ON DELETE CASCADE). */
	return rc ? rc : store__run(st, NULL, "DELETE FROM xmpp_partner WHERE domain = ?", "s", domain);
}

int
store_xmpp_partner_remove(struct store *st, const char *domain)
{
	static const struct change ch = { "xmpp partner remove", "xmpp partner", store__xmpp_json };

	return store__audited(st, &ch, domain, false, do_remove, NULL);
}
