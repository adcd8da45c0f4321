/* store_policy.c: the whole policy, XMPP partners and settings included, read
 * in one transaction (the daemon's snapshot, sipedgectl's lists), export and
 * import. */
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


/* -------------------------------------------------------------- policy */

void
store_policy_free(struct store_policy *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->nallowed; i++) {
		free(p->allowed[i].domain);
		free(p->allowed[i].proxy_fqdn);
		free(p->allowed[i].comment);
	}
	free(p->allowed);
	for (size_t i = 0; i < p->nblocked; i++) {
		free(p->blocked[i].domain);
		free(p->blocked[i].comment);
	}
	free(p->blocked);
	for (size_t i = 0; i < p->nproviders; i++) {
		struct store_provider *v = &p->providers[i];

		free(v->name);
		free(v->proxy_fqdn);
		free(v->comment);
		for (size_t j = 0; j < v->ndomains; j++)
			free(v->domains[j]);
		free(v->domains);
	}
	free(p->providers);
	store_xmpp_partner_free(p->xmpp_partners, p->nxmpp_partners);
	free(p);
}

/* Copy column i as text ("" for NULL unless nullable). */
int
store__col_dup(struct store *st, sqlite3_stmt *s, int i, bool nullable, char **out)
{
	const char *t = (const char *)sqlite3_column_text(s, i);

	if (t == NULL && nullable) {
		*out = NULL;
		return 0;
	}
	if ((*out = strdup(t ? t : "")) == NULL)
		return store__serr(st, -ENOMEM, "out of memory");
	return 0;
}

/* A name read back from the db must be valid: the daemon relies on it. */
int
store__col_name(struct store *st, sqlite3_stmt *s, int i, bool nullable, const char *what, char **out)
{
	const char *t = (const char *)sqlite3_column_text(s, i);

	if (t == NULL && nullable) {
		*out = NULL;
		return 0;
	}
	if (t == NULL || !names_is_normal(t))
		return store__serr(st, -EINVAL, "%s: %s \"%s\" in the db is not a valid name in normal form",
		    st->path, what, t ? t : "");
	return store__col_dup(st, s, i, false, out);
}

static int
load_allowed(struct store *st, struct store_policy *p)
{
	sqlite3_stmt *s = NULL;
	size_t cap = 0;
	int rc;

	if ((rc = store__prep(st, &s, "SELECT domain, proxy_fqdn, monitor, comment FROM allowed_domain "
	    "ORDER BY domain", NULL)) != 0)
		return rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_allowed *a;

		if (store__grow(&p->allowed, &cap, p->nallowed, sizeof(*p->allowed)) != 0) {
			rc = store__serr(st, -ENOMEM, "out of memory");
			goto out;
		}
		a = &p->allowed[p->nallowed++];
		if ((rc = store__col_name(st, s, 0, false, "allowed domain", &a->domain)) != 0 ||
		    (rc = store__col_name(st, s, 1, true, "proxy FQDN", &a->proxy_fqdn)) != 0 ||
		    (rc = store__col_dup(st, s, 3, false, &a->comment)) != 0)
			goto out;
		a->monitor = sqlite3_column_int(s, 2) != 0;
	}
	rc = rc == SQLITE_DONE ? 0 : store__sqlerr(st, rc);
out:
	sqlite3_finalize(s);
	return rc;
}

static int
load_blocked(struct store *st, struct store_policy *p)
{
	sqlite3_stmt *s = NULL;
	size_t cap = 0;
	int rc;

	if ((rc = store__prep(st, &s, "SELECT domain, comment FROM blocked_domain ORDER BY domain",
	    NULL)) != 0)
		return rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_blocked *b;

		if (store__grow(&p->blocked, &cap, p->nblocked, sizeof(*p->blocked)) != 0) {
			rc = store__serr(st, -ENOMEM, "out of memory");
			goto out;
		}
		b = &p->blocked[p->nblocked++];
		if ((rc = store__col_name(st, s, 0, false, "blocked domain", &b->domain)) != 0 ||
		    (rc = store__col_dup(st, s, 1, false, &b->comment)) != 0)
			goto out;
	}
	rc = rc == SQLITE_DONE ? 0 : store__sqlerr(st, rc);
out:
	sqlite3_finalize(s);
	return rc;
}

static int
load_provider_domains(struct store *st, int64_t id, struct store_provider *v)
{
	sqlite3_stmt *s = NULL;
	size_t cap = 0;
	int rc;

	if ((rc = store__prep(st, &s, "SELECT domain FROM provider_domain WHERE provider_id = ? "
	    "ORDER BY domain", "i", id)) != 0)
		return rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (store__grow(&v->domains, &cap, v->ndomains, sizeof(*v->domains)) != 0) {
			rc = store__serr(st, -ENOMEM, "out of memory");
			goto out;
		}
		if ((rc = store__col_name(st, s, 0, false, "provider domain",
		    &v->domains[v->ndomains])) != 0)
			goto out;
		v->ndomains++;
	}
	rc = rc == SQLITE_DONE ? 0 : store__sqlerr(st, rc);
out:
	sqlite3_finalize(s);
	return rc;
}

static int
load_providers(struct store *st, struct store_policy *p)
{
	sqlite3_stmt *s = NULL;
	size_t cap = 0;
	int rc;

	if ((rc = store__prep(st, &s, "SELECT id, name, kind, proxy_fqdn, verification, enabled, comment "
	    "FROM provider ORDER BY name COLLATE NOCASE", NULL)) != 0)
		return rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_provider *v;
		const char *kind = (const char *)sqlite3_column_text(s, 2);
		const char *verif = (const char *)sqlite3_column_text(s, 4);

		if (store__grow(&p->providers, &cap, p->nproviders, sizeof(*p->providers)) != 0) {
			rc = store__serr(st, -ENOMEM, "out of memory");
			goto out;
		}
		v = &p->providers[p->nproviders++];
		if ((rc = store__col_dup(st, s, 1, false, &v->name)) != 0 ||
		    (rc = store__col_name(st, s, 3, false, "provider proxy FQDN", &v->proxy_fqdn)) != 0 ||
		    (rc = store__col_dup(st, s, 6, false, &v->comment)) != 0)
			goto out;
		if (kind == NULL || store_provider_kind_parse(kind, &v->kind) != 0 ||
		    verif == NULL || store_verification_parse(verif, &v->verification) != 0) {
			rc = store__serr(st, -EINVAL, "%s: provider %s has a bad kind or verification level",
			    st->path, v->name);
			goto out;
		}
		v->enabled = sqlite3_column_int(s, 5) != 0;
		if ((rc = load_provider_domains(st, sqlite3_column_int64(s, 0), v)) != 0)
			goto out;
	}
	rc = rc == SQLITE_DONE ? 0 : store__sqlerr(st, rc);
out:
	sqlite3_finalize(s);
	return rc;
}

int
store_policy_load(struct store *st, struct store_policy **out)
{
	struct store_policy *p;
	int rc;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return store__serr(st, -ENOMEM, "out of memory");
	/* One read transaction: the generation and the rows belong together. */
	if ((rc = store__exec_sql(st, "BEGIN")) != 0)
		goto out;
	if ((rc = store_generation(st, &p->generation)) != 0 ||
	    (rc = store__config_read(st, &p->config)) != 0 ||
	    (rc = load_allowed(st, p)) != 0 ||
	    (rc = load_blocked(st, p)) != 0 ||
	    (rc = load_providers(st, p)) != 0 ||
	    (rc = store__xmpp_load(st, &p->xmpp_partners, &p->nxmpp_partners)) != 0)
		goto out;
	if ((rc = store__exec_sql(st, "COMMIT")) != 0)
		goto out;
	*out = p;
	return 0;
out:
	store__tx_rollback(st);
	store_policy_free(p);
	return rc;
}

/* Every allowed, blocked, provider and XMPP partner object as (object, json),
 * for the audit of an import: compared before and after. */
#define OBJECTS_JSON \
	"SELECT 'allowed ' || domain, " ALLOWED_JSON " FROM allowed_domain " \
	"UNION ALL SELECT 'blocked ' || domain, " BLOCKED_JSON " FROM blocked_domain " \
	"UNION ALL SELECT 'provider ' || p.name, " PROVIDER_JSON " FROM provider p " \
	"UNION ALL SELECT 'xmpp partner ' || x.domain, " XMPP_PARTNER_JSON " FROM xmpp_partner x"

int
store_policy_replace(struct store *st, const struct store_policy *p, const char *command)
{
	struct store_config old;
	char err[sizeof(st->err)];
	int rc;

	if (store_config_check(&p->config, err, sizeof(err)) != 0)
		return store__serr(st, -EINVAL, "config: %s", err);
	if ((rc = store__tx_begin(st)) != 0)
		return rc;
	if ((rc = store__config_read(st, &old)) != 0)
		goto out;
	if ((rc = store__exec_sql(st,
	    "CREATE TEMP TABLE IF NOT EXISTS import_before (object TEXT PRIMARY KEY, j TEXT);"
	    "CREATE TEMP TABLE IF NOT EXISTS import_after (object TEXT PRIMARY KEY, j TEXT);"
	    "DELETE FROM temp.import_before; DELETE FROM temp.import_after;"
	    "INSERT INTO temp.import_before " OBJECTS_JSON ";"
	    "DELETE FROM allowed_domain; DELETE FROM blocked_domain; DELETE FROM provider;"
	    "DELETE FROM xmpp_partner;")) != 0)
		goto out;
	/* Config: only values that differ from the default are stored. */
	if ((rc = store__config_store(st, &p->config)) != 0)
		goto out;
	for (size_t i = 0; i < p->nallowed; i++) {
		const struct store_allowed *a = &p->allowed[i];

		if ((rc = store__allowed_insert(st, a->domain, a->proxy_fqdn, a->monitor, a->comment)) != 0) {
			snprintf(err, sizeof(err), "%s", st->err);
			rc = store__serr(st, rc, "allowed[%zu]: %s", i, err);
			goto out;
		}
	}
	for (size_t i = 0; i < p->nblocked; i++) {
		const struct store_blocked *b = &p->blocked[i];

		if ((rc = store__blocked_insert(st, b->domain, b->comment)) != 0) {
			snprintf(err, sizeof(err), "%s", st->err);
			rc = store__serr(st, rc, "blocked[%zu]: %s", i, err);
			goto out;
		}
	}
	for (size_t i = 0; i < p->nproviders; i++) {
		if ((rc = store__provider_insert(st, &p->providers[i])) != 0) {
			snprintf(err, sizeof(err), "%s", st->err);
			rc = store__serr(st, rc, "providers[%zu]: %s", i, err);
			goto out;
		}
	}
	/* Last: the domain rules of an XMPP partner name the SIP entries above. */
	for (size_t i = 0; i < p->nxmpp_partners; i++) {
		if ((rc = store__xmpp_insert(st, &p->xmpp_partners[i])) != 0) {
			snprintf(err, sizeof(err), "%s", st->err);
			rc = store__serr(st, rc, "xmpp_partners[%zu]: %s", i, err);
			goto out;
		}
	}
	if ((rc = store__config_audit(st, command, &old, &p->config)) != 0)
		goto out;
	if ((rc = store__exec_sql(st, "INSERT INTO temp.import_after " OBJECTS_JSON)) != 0)
		goto out;
	if ((rc = store__run(st, NULL,
	    "INSERT INTO audit (at, actor, command, object, old, new) "
	    "SELECT ?1, ?2, ?3, b.object, b.j, a.j FROM temp.import_before b "
	    "LEFT JOIN temp.import_after a ON a.object = b.object WHERE a.j IS NOT b.j "
	    "UNION ALL "
	    "SELECT ?1, ?2, ?3, a.object, NULL, a.j FROM temp.import_after a "
	    "WHERE a.object NOT IN (SELECT object FROM temp.import_before)",
	    "iss", (int64_t)time(NULL), st->actor, command)) != 0)
		goto out;
	rc = store__tx_commit(st);
out:
	if (rc != 0)
		store__tx_rollback(st);
	return rc;
}
