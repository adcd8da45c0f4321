/* store_int.h: what the store's files share (store.c, store_config.c,
 * store_domains.c, store_policy.c, store_partners.c, store_xmpp.c,
 * store_xmpp_sub.c): the handle, statement and transaction helpers, the
 * audited change.  Private to the store; store.h is
 * its interface. */
#ifndef SIPEDGE_STORE_INT_H
#define SIPEDGE_STORE_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sqlite3.h>

#include "sipedge/names.h"
#include "sipedge/store.h"

/* The migrations, generated from db/schema.sql and db/migrations/ *.sql by
 * Makefile.am (src/store_sql.c): store__sql[i] takes version i to i + 1. */
extern const char *const store__sql[];
extern const int store__nsql;

/* PRAGMA application_id of a sipedge policy db: "SIPE". */
#define STORE_APP_ID 0x53495045

#define STORE_COMMENT_MAX 1024
#define STORE_BUSY_MS 5000

struct store {
	sqlite3 *db;
	char path[1024];
	char actor[64];
	char err[512];
};

/* One object as a JSON text for the audit log, by SQLite's json1 (always built
 * in since 3.38; Debian enabled it before). */
#define ALLOWED_JSON \
	"json_object('domain', domain, 'proxy_fqdn', proxy_fqdn, " \
	"'monitor', json(CASE monitor WHEN 1 THEN 'true' ELSE 'false' END), 'comment', comment)"
#define BLOCKED_JSON "json_object('domain', domain, 'comment', comment)"
#define PROVIDER_JSON \
	"json_object('name', p.name, 'kind', p.kind, 'proxy_fqdn', p.proxy_fqdn, " \
	"'verification', p.verification, " \
	"'enabled', json(CASE p.enabled WHEN 1 THEN 'true' ELSE 'false' END), " \
	"'comment', p.comment, 'domains', (SELECT json_group_array(domain) FROM " \
	"(SELECT domain FROM provider_domain WHERE provider_id = p.id ORDER BY domain)))"
/* The keys are those of "sipedgectl xmpp partner list --json" and export. */
#define XMPP_PARTNER_JSON \
	"json_object('domain', x.domain, 'additional_domains', (SELECT json_group_array(domain) " \
	"FROM (SELECT domain FROM xmpp_partner_domain WHERE partner = x.domain ORDER BY domain)), " \
	"'type', x.partner_type, 'tls', x.tls, 'sasl', x.sasl, " \
	"'dialback', json(CASE x.dialback WHEN 1 THEN 'true' ELSE 'false' END), " \
	"'keepalive', json(CASE x.keepalive WHEN 1 THEN 'true' ELSE 'false' END), " \
	"'connection_limit', x.connection_limit, 'proxy_fqdn', x.proxy_fqdn, 'comment', x.comment)"

/* Run one audited change to the object "<kind> <key>" in its own transaction:
 * json gives the object's state before and after change. */
struct change {
	const char *command;
	const char *kind;                  /* "allowed", "blocked", "provider" */
	int (*json)(struct store *, const char *, char **);
};

int store__serr(struct store *st, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int store__sqlerr(struct store *st, int rc);
int store__prep(struct store *st, sqlite3_stmt **out, const char *sql, const char *fmt, ...);
int store__run(struct store *st, int *changes, const char *sql, const char *fmt, ...);
int store__query_int(struct store *st, int64_t *out, const char *sql, const char *fmt, ...);
int store__query_text(struct store *st, char **out, const char *sql, const char *fmt, ...);
int store__exec_sql(struct store *st, const char *sql);
int store__tx_begin(struct store *st);
int store__tx_commit(struct store *st);
void store__tx_rollback(struct store *st);
int store__grow(void *arr, size_t *cap, size_t n, size_t elsize);
int store__audit_add(struct store *st, const char *command, const char *object, const char *old, const char *new);
int store__norm(struct store *st, const char *what, const char *in, char out[NAMES_MAX + 1]);
int store__check_comment(struct store *st, const char *c);
int store__config_read(struct store *st, struct store_config *c);
int store__config_audit(struct store *st, const char *command, const struct store_config *old, const struct store_config *new);
int store__config_store(struct store *st, const struct store_config *c);
int store__allowed_json(struct store *st, const char *domain, char **out);
int store__blocked_json(struct store *st, const char *domain, char **out);
int store__allowed_insert(struct store *st, const char *domain_in, const char *proxy_in, bool monitor, const char *comment);
int store__blocked_insert(struct store *st, const char *domain_in, const char *comment);
int store__audited(struct store *st, const struct change *ch, const char *key_in, bool key_is_name, int (*change)(struct store *, const char *key, void *arg), void *arg);
int store__provider_id(struct store *st, const char *name, int64_t *id);
int store__provider_insert(struct store *st, const struct store_provider *p);
int store__col_dup(struct store *st, sqlite3_stmt *s, int i, bool nullable, char **out);
int store__col_name(struct store *st, sqlite3_stmt *s, int i, bool nullable, const char *what, char **out);
/* store_xmpp.c: the XMPP partner serving domain (normal form): its own domain
 * (*additional false) or an additional one; *partner is malloc'ed.  -ENOENT
 * if none. */
int store__xmpp_holder(struct store *st, const char *domain, char **partner, bool *additional);
int store__xmpp_json(struct store *st, const char *domain, char **out);
int store__xmpp_insert(struct store *st, const struct store_xmpp_partner *p);
int store__xmpp_load(struct store *st, struct store_xmpp_partner **out, size_t *n);

#endif
