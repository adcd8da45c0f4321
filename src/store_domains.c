/* store_domains.c: allowed and blocked domains and providers: their rules
 * (never both allowed and blocked, never also an XMPP partner's, unique proxy
 * FQDNs), audited changes. */
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


static int
json_of(struct store *st, char **out, const char *sql, const char *key)
{
	int rc = store__query_text(st, out, sql, "s", key);

	if (rc == -ENOENT) {
		*out = NULL;
		rc = 0;
	}
	return rc;
}

int
store__allowed_json(struct store *st, const char *domain, char **out)
{
	return json_of(st, out, "SELECT " ALLOWED_JSON " FROM allowed_domain WHERE domain = ?",
	    domain);
}

int
store__blocked_json(struct store *st, const char *domain, char **out)
{
	return json_of(st, out, "SELECT " BLOCKED_JSON " FROM blocked_domain WHERE domain = ?",
	    domain);
}

static int
provider_json(struct store *st, const char *name, char **out)
{
	return json_of(st, out, "SELECT " PROVIDER_JSON " FROM provider p WHERE p.name = ?",
	    name);
}

/* Refuse domain (normal form) for SIP federation when it is an XMPP partner's:
 * what names the SIP entry ("", "domain "); remedy how to proceed ("" for
 * none). */
static int
not_xmpp(struct store *st, const char *domain, const char *what, const char *remedy)
{
	char *partner = NULL;
	bool add;
	int rc = store__xmpp_holder(st, domain, &partner, &add);

	if (rc == 0 && !add)
		rc = store__serr(st, -EEXIST, "%s%s is an XMPP partner; a domain is either a SIP "
		    "federation partner or an XMPP partner, never both%s", what, domain, remedy);
	else if (rc == 0)
		rc = store__serr(st, -EEXIST, "%s%s is an additional domain of XMPP partner %s; a "
		    "domain is either a SIP federation partner or an XMPP partner, never both%s",
		    what, domain, partner, remedy);
	free(partner);
	return rc == -ENOENT ? 0 : rc;
}

/* ----------------------------------------------- allowed and blocked domains */

/* Insert an allowed domain inside the caller's transaction, checking the rules
 * first so the message names what is in the way. */
int
store__allowed_insert(struct store *st, const char *domain_in, const char *proxy_in, bool monitor,
    const char *comment)
{
	char domain[NAMES_MAX + 1], proxy[NAMES_MAX + 1];
	char *prov = NULL;
	int64_t one;
	int rc;

	if ((rc = store__norm(st, "domain", domain_in, domain)) != 0)
		return rc;
	if (proxy_in != NULL && (rc = store__norm(st, "proxy FQDN", proxy_in, proxy)) != 0)
		return rc;
	if ((rc = store__check_comment(st, comment)) != 0)
		return rc;
	rc = store__query_int(st, &one, "SELECT 1 FROM allowed_domain WHERE domain = ?", "s", domain);
	if (rc == 0)
		return store__serr(st, -EEXIST, "%s is already allowed", domain);
	if (rc != -ENOENT)
		return rc;
	rc = store__query_int(st, &one, "SELECT 1 FROM blocked_domain WHERE domain = ?", "s", domain);
	if (rc == 0)
		return store__serr(st, -EEXIST, "%s is blocked; a domain cannot be both allowed and "
		    "blocked (\"sipedgectl block remove %s\" first)", domain, domain);
	if (rc != -ENOENT)
		return rc;
	if ((rc = not_xmpp(st, domain, "", "")) != 0)
		return rc;
	if (proxy_in != NULL) {
		rc = store__query_text(st, &prov, "SELECT name FROM provider WHERE proxy_fqdn = ?", "s", proxy);
		if (rc == 0) {
			rc = store__serr(st, -EEXIST, "%s is the proxy FQDN of provider %s; an FQDN cannot "
			    "be both an allowed partner server and a provider proxy", proxy, prov);
			free(prov);
			return rc;
		}
		if (rc != -ENOENT)
			return rc;
	}
	return store__run(st, NULL, "INSERT INTO allowed_domain (domain, proxy_fqdn, monitor, comment, added) "
	    "VALUES (?, ?, ?, ?, ?)", "ssdsi", domain, proxy_in ? proxy : NULL, monitor ? 1 : 0,
	    comment ? comment : "", (int64_t)time(NULL));
}

int
store__blocked_insert(struct store *st, const char *domain_in, const char *comment)
{
	char domain[NAMES_MAX + 1], *partner = NULL;
	int64_t one;
	bool add;
	int rc;

	if ((rc = store__norm(st, "domain", domain_in, domain)) != 0)
		return rc;
	if ((rc = store__check_comment(st, comment)) != 0)
		return rc;
	rc = store__query_int(st, &one, "SELECT 1 FROM blocked_domain WHERE domain = ?", "s", domain);
	if (rc == 0)
		return store__serr(st, -EEXIST, "%s is already blocked", domain);
	if (rc != -ENOENT)
		return rc;
	rc = store__query_int(st, &one, "SELECT 1 FROM allowed_domain WHERE domain = ?", "s", domain);
	if (rc == 0)
		return store__serr(st, -EEXIST, "%s is allowed; a domain cannot be both allowed and "
		    "blocked (\"sipedgectl block add %s --replace\" blocks it in one step)",
		    domain, domain);
	if (rc != -ENOENT)
		return rc;
	rc = store__xmpp_holder(st, domain, &partner, &add);
	if (rc == 0) {
		rc = store__serr(st, -EEXIST, "%s is %s%s; a domain cannot be both blocked and an "
		    "XMPP partner (\"sipedgectl block add %s --replace\" blocks it in one step)",
		    domain, add ? "an additional domain of XMPP partner " : "an XMPP partner",
		    add ? partner : "", domain);
		free(partner);
		return rc;
	}
	if (rc != -ENOENT)
		return rc;
	return store__run(st, NULL, "INSERT INTO blocked_domain (domain, comment, added) VALUES (?, ?, ?)",
	    "ssi", domain, comment ? comment : "", (int64_t)time(NULL));
}


int
store__audited(struct store *st, const struct change *ch, const char *key_in, bool key_is_name,
    int (*change)(struct store *, const char *key, void *arg), void *arg)
{
	char key[NAMES_MAX + 1], obj[NAMES_MAX + 32];
	char *old = NULL, *new = NULL;
	int rc;

	if (key_is_name)
		snprintf(key, sizeof(key), "%s", key_in);
	else if ((rc = store__norm(st, "domain", key_in, key)) != 0)
		return rc;
	if ((rc = store__tx_begin(st)) != 0)
		return rc;
	if ((rc = ch->json(st, key, &old)) != 0)
		goto out;
	if ((rc = change(st, key, arg)) != 0)
		goto out;
	if ((rc = ch->json(st, key, &new)) != 0)
		goto out;
	snprintf(obj, sizeof(obj), "%s %s", ch->kind, key);
	if ((rc = store__audit_add(st, ch->command, obj, old, new)) != 0)
		goto out;
	rc = store__tx_commit(st);
out:
	if (rc != 0)
		store__tx_rollback(st);
	free(old);
	free(new);
	return rc;
}

struct allowed_args {
	const char *proxy;
	bool monitor;
	const char *comment;
};

static int
do_allowed_add(struct store *st, const char *domain, void *arg)
{
	const struct allowed_args *a = arg;

	return store__allowed_insert(st, domain, a->proxy, a->monitor, a->comment);
}

int
store_allowed_add(struct store *st, const char *domain, const char *proxy_fqdn,
    bool monitor, const char *comment)
{
	static const struct change ch = { "allow add", "allowed", store__allowed_json };
	struct allowed_args a = { proxy_fqdn, monitor, comment };

	return store__audited(st, &ch, domain, false, do_allowed_add, &a);
}

static int
do_allowed_remove(struct store *st, const char *domain, void *arg)
{
	int n, rc;

	rc = store__run(st, &n, "DELETE FROM allowed_domain WHERE domain = ?", "s", domain);
	if (rc == 0 && n == 0)
		rc = store__serr(st, -ENOENT, "%s is not in the allow list", domain);
	return rc;
}

int
store_allowed_remove(struct store *st, const char *domain)
{
	static const struct change ch = { "allow remove", "allowed", store__allowed_json };

	return store__audited(st, &ch, domain, false, do_allowed_remove, NULL);
}

static int
do_blocked_add(struct store *st, const char *domain, void *arg)
{
	return store__blocked_insert(st, domain, arg);
}

int
store_blocked_add(struct store *st, const char *domain, const char *comment)
{
	static const struct change ch = { "block add", "blocked", store__blocked_json };

	return store__audited(st, &ch, domain, false, do_blocked_add, (void *)(uintptr_t)comment);
}

/* Take domain (normal form) from the XMPP partner that has it, audited as a
 * change to that partner: its own domain removes the partner (and its
 * additional domains), an additional domain leaves its list. */
static int
xmpp_release(struct store *st, const char *domain, const char *command)
{
	char *partner = NULL, *old = NULL, *new = NULL, obj[NAMES_MAX + 32];
	bool add;
	int rc = store__xmpp_holder(st, domain, &partner, &add);

	if (rc == -ENOENT)
		return 0;
	if (rc != 0)
		return rc;
	if ((rc = store__xmpp_json(st, partner, &old)) != 0)
		goto out;
	if (add)
		rc = store__run(st, NULL, "DELETE FROM xmpp_partner_domain WHERE domain = ?", "s", domain);
	else
		rc = store__run(st, NULL, "DELETE FROM xmpp_partner WHERE domain = ?", "s", domain);
	if (rc != 0 || (rc = store__xmpp_json(st, partner, &new)) != 0)
		goto out;
	snprintf(obj, sizeof(obj), "xmpp partner %s", partner);
	rc = store__audit_add(st, command, obj, old, new);
out:
	free(partner);
	free(old);
	free(new);
	return rc;
}

/* Allowed (or XMPP partner) to blocked in one transaction: a running edge
 * reloads either the old policy or the new one, never one where the domain is
 * neither (with partner discovery on, it would be a discovered partner in
 * between). */
int
store_blocked_replace(struct store *st, const char *domain_in, const char *comment)
{
	char domain[NAMES_MAX + 1], obj[NAMES_MAX + 32];
	char *old_allowed = NULL, *new_blocked = NULL;
	int rc;

	if ((rc = store__norm(st, "domain", domain_in, domain)) != 0)
		return rc;
	if ((rc = store__tx_begin(st)) != 0)
		return rc;
	if ((rc = store__allowed_json(st, domain, &old_allowed)) != 0)
		goto out;
	if ((rc = store__run(st, NULL, "DELETE FROM allowed_domain WHERE domain = ?", "s", domain)) != 0)
		goto out;
	/* A refused block (already blocked) rolls this back with the rest. */
	if ((rc = xmpp_release(st, domain, "block add --replace")) != 0)
		goto out;
	if ((rc = store__blocked_insert(st, domain, comment)) != 0)
		goto out;
	if ((rc = store__blocked_json(st, domain, &new_blocked)) != 0)
		goto out;
	snprintf(obj, sizeof(obj), "blocked %s", domain);
	if ((rc = store__audit_add(st, "block add --replace", obj, old_allowed, new_blocked)) != 0)
		goto out;
	rc = store__tx_commit(st);
out:
	if (rc != 0)
		store__tx_rollback(st);
	free(old_allowed);
	free(new_blocked);
	return rc;
}

static int
do_blocked_remove(struct store *st, const char *domain, void *arg)
{
	int n, rc;

	rc = store__run(st, &n, "DELETE FROM blocked_domain WHERE domain = ?", "s", domain);
	if (rc == 0 && n == 0)
		rc = store__serr(st, -ENOENT, "%s is not in the block list", domain);
	return rc;
}

int
store_blocked_remove(struct store *st, const char *domain)
{
	static const struct change ch = { "block remove", "blocked", store__blocked_json };

	return store__audited(st, &ch, domain, false, do_blocked_remove, NULL);
}

/* -------------------------------------------------------------- providers */

/* A provider's id and stored name by name (case-insensitive). */
int
store__provider_id(struct store *st, const char *name, int64_t *id)
{
	int rc = store__query_int(st, id, "SELECT id FROM provider WHERE name = ?", "s", name);

	if (rc == -ENOENT)
		return store__serr(st, -ENOENT, "no provider named %s", name);
	return rc;
}

/* The proxy FQDN must not be another provider's nor an allowed partner
 * server's. */
static int
check_provider_proxy(struct store *st, const char *proxy, int64_t self)
{
	char *other = NULL;
	int rc;

	rc = store__query_text(st, &other, "SELECT name FROM provider WHERE proxy_fqdn = ? AND id <> ?",
	    "si", proxy, self);
	if (rc == 0) {
		rc = store__serr(st, -EEXIST, "provider %s already uses proxy FQDN %s", other, proxy);
		free(other);
		return rc;
	}
	if (rc != -ENOENT)
		return rc;
	rc = store__query_text(st, &other, "SELECT domain FROM allowed_domain WHERE proxy_fqdn = ? "
	    "ORDER BY domain LIMIT 1", "s", proxy);
	if (rc == 0) {
		rc = store__serr(st, -EEXIST, "%s is the proxy FQDN of allowed partner server %s; an "
		    "FQDN cannot be both an allowed partner server and a provider proxy",
		    proxy, other);
		free(other);
		return rc;
	}
	return rc == -ENOENT ? 0 : rc;
}

/* Add one domain to provider id (already normalised). */
static int
provider_domain_insert(struct store *st, int64_t id, const char *domain)
{
	char *other = NULL;
	int64_t owner;
	int rc;

	if ((rc = not_xmpp(st, domain, "domain ", "")) != 0)
		return rc;
	rc = store__query_int(st, &owner, "SELECT provider_id FROM provider_domain WHERE domain = ?",
	    "s", domain);
	if (rc == 0) {
		rc = store__query_text(st, &other, "SELECT name FROM provider WHERE id = ?", "i", owner);
		if (rc == 0)
			rc = store__serr(st, -EEXIST, "domain %s is already served by provider %s",
			    domain, other ? other : "?");
		free(other);
		return rc;
	}
	if (rc != -ENOENT)
		return rc;
	return store__run(st, NULL, "INSERT INTO provider_domain (domain, provider_id) VALUES (?, ?)",
	    "si", domain, id);
}

int
store__provider_insert(struct store *st, const struct store_provider *p)
{
	char proxy[NAMES_MAX + 1], domain[NAMES_MAX + 1];
	int64_t id;
	int rc;

	if (p->name == NULL || !store_provider_name_valid(p->name))
		return store__serr(st, -EINVAL, "invalid provider name \"%s\": use 1-64 letters, digits, "
		    "'.', '-' or '_'", p->name ? p->name : "");
	if (p->proxy_fqdn == NULL)
		return store__serr(st, -EINVAL, "provider %s needs a proxy FQDN", p->name);
	if ((rc = store__norm(st, "proxy FQDN", p->proxy_fqdn, proxy)) != 0)
		return rc;
	if ((unsigned)p->kind > STORE_PROVIDER_HOSTING ||
	    (unsigned)p->verification > STORE_VERIFY_ALWAYS_UNVERIFIED)
		return store__serr(st, -EINVAL, "provider %s: bad kind or verification level", p->name);
	if ((rc = store__check_comment(st, p->comment)) != 0)
		return rc;
	rc = store__query_int(st, &id, "SELECT id FROM provider WHERE name = ?", "s", p->name);
	if (rc == 0)
		return store__serr(st, -EEXIST, "a provider named %s already exists", p->name);
	if (rc != -ENOENT)
		return rc;
	if ((rc = check_provider_proxy(st, proxy, -1)) != 0)
		return rc;
	rc = store__run(st, NULL, "INSERT INTO provider (name, kind, proxy_fqdn, verification, enabled, "
	    "comment, added) VALUES (?, ?, ?, ?, ?, ?, ?)", "ssssdsi", p->name,
	    store_provider_kind_name(p->kind), proxy, store_verification_name(p->verification), p->enabled ? 1 : 0,
	    p->comment ? p->comment : "", (int64_t)time(NULL));
	if (rc != 0)
		return rc;
	id = sqlite3_last_insert_rowid(st->db);
	for (size_t i = 0; i < p->ndomains; i++) {
		if ((rc = store__norm(st, "domain", p->domains[i], domain)) != 0)
			return rc;
		rc = provider_domain_insert(st, id, domain);
		if (rc == -EEXIST) {
			int64_t owner;

			/* The same domain twice in one list is harmless. */
			if (store__query_int(st, &owner, "SELECT provider_id FROM provider_domain "
			    "WHERE domain = ?", "s", domain) == 0 && owner == id)
				continue;
		}
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int
do_provider_add(struct store *st, const char *name, void *arg)
{
	return store__provider_insert(st, arg);
}

int
store_provider_add(struct store *st, const struct store_provider *p)
{
	static const struct change ch = { "provider add", "provider", provider_json };

	if (p->name == NULL || !store_provider_name_valid(p->name))
		return store__serr(st, -EINVAL, "invalid provider name \"%s\": use 1-64 letters, digits, "
		    "'.', '-' or '_'", p->name ? p->name : "");
	return store__audited(st, &ch, p->name, true, do_provider_add, (void *)(uintptr_t)p);
}

static int
do_provider_update(struct store *st, const char *name, void *arg)
{
	const struct store_provider_patch *pt = arg;
	char buf[NAMES_MAX + 1];
	int64_t id, owner;
	int rc;

	if ((rc = store__provider_id(st, name, &id)) != 0)
		return rc;
	if (pt->proxy_fqdn != NULL) {
		if ((rc = store__norm(st, "proxy FQDN", pt->proxy_fqdn, buf)) != 0)
			return rc;
		if ((rc = check_provider_proxy(st, buf, id)) != 0)
			return rc;
		if ((rc = store__run(st, NULL, "UPDATE provider SET proxy_fqdn = ? WHERE id = ?", "si",
		    buf, id)) != 0)
			return rc;
	}
	if (pt->kind >= 0) {
		if (pt->kind > STORE_PROVIDER_HOSTING)
			return store__serr(st, -EINVAL, "bad provider kind");
		if ((rc = store__run(st, NULL, "UPDATE provider SET kind = ? WHERE id = ?", "si",
		    store_provider_kind_name(pt->kind), id)) != 0)
			return rc;
	}
	if (pt->verification >= 0) {
		if (pt->verification > STORE_VERIFY_ALWAYS_UNVERIFIED)
			return store__serr(st, -EINVAL, "bad verification level");
		if ((rc = store__run(st, NULL, "UPDATE provider SET verification = ? WHERE id = ?", "si",
		    store_verification_name(pt->verification), id)) != 0)
			return rc;
	}
	if (pt->enabled >= 0 && (rc = store__run(st, NULL, "UPDATE provider SET enabled = ? WHERE id = ?",
	    "di", pt->enabled ? 1 : 0, id)) != 0)
		return rc;
	if (pt->comment != NULL) {
		if ((rc = store__check_comment(st, pt->comment)) != 0)
			return rc;
		if ((rc = store__run(st, NULL, "UPDATE provider SET comment = ? WHERE id = ?", "si",
		    pt->comment, id)) != 0)
			return rc;
	}
	if (pt->set_domains) {
		if ((rc = store__run(st, NULL, "DELETE FROM provider_domain WHERE provider_id = ?", "i",
		    id)) != 0)
			return rc;
		for (size_t i = 0; i < pt->ndomains; i++) {
			if ((rc = store__norm(st, "domain", pt->domains[i], buf)) != 0)
				return rc;
			rc = provider_domain_insert(st, id, buf);
			if (rc == -EEXIST && store__query_int(st, &owner, "SELECT provider_id FROM "
			    "provider_domain WHERE domain = ?", "s", buf) == 0 && owner == id)
				continue;
			if (rc != 0)
				return rc;
		}
	}
	for (size_t i = 0; i < pt->nremove_domains; i++) {
		int n;

		if ((rc = store__norm(st, "domain", pt->remove_domains[i], buf)) != 0)
			return rc;
		rc = store__run(st, &n, "DELETE FROM provider_domain WHERE provider_id = ? AND domain = ?",
		    "is", id, buf);
		if (rc != 0)
			return rc;
		if (n == 0)
			return store__serr(st, -ENOENT, "provider %s does not serve domain %s", name, buf);
	}
	for (size_t i = 0; i < pt->nadd_domains; i++) {
		if ((rc = store__norm(st, "domain", pt->add_domains[i], buf)) != 0)
			return rc;
		if ((rc = provider_domain_insert(st, id, buf)) != 0)
			return rc;
	}
	return 0;
}

/* The stored spelling of a provider's name (names compare case-insensitively). */
static int
provider_name(struct store *st, const char *name, char out[65])
{
	char *n = NULL;
	int rc = store__query_text(st, &n, "SELECT name FROM provider WHERE name = ?", "s", name);

	if (rc == -ENOENT)
		return store__serr(st, -ENOENT, "no provider named %s", name);
	if (rc == 0)
		snprintf(out, 65, "%s", n ? n : "");
	free(n);
	return rc;
}

int
store_provider_update(struct store *st, const char *name, const struct store_provider_patch *pt)
{
	static const struct change ch = { "provider set", "provider", provider_json };
	char stored[65];
	int rc;

	if ((rc = provider_name(st, name, stored)) != 0)
		return rc;
	return store__audited(st, &ch, stored, true, do_provider_update, (void *)(uintptr_t)pt);
}

static int
do_provider_remove(struct store *st, const char *name, void *arg)
{
	int n, rc;

	rc = store__run(st, &n, "DELETE FROM provider WHERE name = ?", "s", name);
	if (rc == 0 && n == 0)
		rc = store__serr(st, -ENOENT, "no provider named %s", name);
	return rc;
}

int
store_provider_remove(struct store *st, const char *name)
{
	static const struct change ch = { "provider remove", "provider", provider_json };
	char stored[65];
	int rc;

	if ((rc = provider_name(st, name, stored)) != 0)
		return rc;
	return store__audited(st, &ch, stored, true, do_provider_remove, NULL);
}
