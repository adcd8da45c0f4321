/* store.c: the SQLite policy store: open and version checks, migrations, the
 * typed settings table, policy reads and audited writes, discovered-partner
 * counters.  All of sipedge's SQL is in this file (and in db/ *.sql). */
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

/* ------------------------------------------------------------------ errors */

static int
serr(struct store *st, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
serr(struct store *st, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->err, sizeof(st->err), fmt, ap);
	va_end(ap);
	return rc;
}

/* Map a failed SQLite call to an errno and a message naming the db. */
static int
sqlerr(struct store *st, int rc)
{
	const char *msg = st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc);

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return serr(st, -EBUSY, "%s: locked by another process; try again (%s)",
		    st->path, msg);
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return serr(st, -EILSEQ, "%s: not a sipedge policy database, or corrupt (%s)",
		    st->path, msg);
	case SQLITE_CONSTRAINT:
		return serr(st, -EEXIST, "%s", msg);
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return serr(st, -EACCES, "%s: cannot write: %s", st->path, msg);
	case SQLITE_CANTOPEN:
		return serr(st, -EACCES, "%s: cannot open: %s", st->path, msg);
	case SQLITE_FULL:
		return serr(st, -ENOSPC, "%s: %s", st->path, msg);
	default:
		return serr(st, -EIO, "%s: %s", st->path, msg);
	}
}

const char *
store_error(const struct store *st)
{
	return st->err;
}

/* ------------------------------------------------------- statement helpers */

/* Bind arguments described by fmt: 's' text (NULL binds NULL), 'i' int64_t,
 * 'd' int (also bools). */
static int
bindv(sqlite3_stmt *s, const char *fmt, va_list ap)
{
	int rc = SQLITE_OK;

	for (int i = 1; fmt != NULL && *fmt != '\0' && rc == SQLITE_OK; fmt++, i++) {
		switch (*fmt) {
		case 's': {
			const char *v = va_arg(ap, const char *);

			rc = v ? sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT)
			    : sqlite3_bind_null(s, i);
			break;
		}
		case 'i':
			rc = sqlite3_bind_int64(s, i, va_arg(ap, int64_t));
			break;
		case 'd':
			rc = sqlite3_bind_int(s, i, va_arg(ap, int));
			break;
		default:
			rc = SQLITE_MISUSE;
		}
	}
	return rc;
}

/* Prepare sql and bind; the caller steps and finalizes. */
static int
prep(struct store *st, sqlite3_stmt **out, const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *s = NULL;
	va_list ap;
	int rc;

	rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return sqlerr(st, rc);
	va_start(ap, fmt);
	rc = bindv(s, fmt, ap);
	va_end(ap);
	if (rc != SQLITE_OK) {
		rc = sqlerr(st, rc);
		sqlite3_finalize(s);
		return rc;
	}
	*out = s;
	return 0;
}

/* Run one statement that returns no rows.  *changes (may be NULL) gets the
 * number of rows changed. */
static int
run(struct store *st, int *changes, const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *s = NULL;
	va_list ap;
	int rc;

	rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return sqlerr(st, rc);
	va_start(ap, fmt);
	rc = bindv(s, fmt, ap);
	va_end(ap);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		rc = sqlerr(st, rc);
		goto out;
	}
	if (changes != NULL)
		*changes = sqlite3_changes(st->db);
	rc = 0;
out:
	sqlite3_finalize(s);
	return rc;
}

/* First column of the first row as an integer; -ENOENT when there is no row. */
static int
query_int(struct store *st, int64_t *out, const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *s = NULL;
	va_list ap;
	int rc;

	rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return sqlerr(st, rc);
	va_start(ap, fmt);
	rc = bindv(s, fmt, ap);
	va_end(ap);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(s, 0);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = -ENOENT;
	} else {
		rc = sqlerr(st, rc);
	}
	sqlite3_finalize(s);
	return rc;
}

/* First column of the first row as a fresh string (NULL for SQL NULL);
 * -ENOENT when there is no row. */
static int
query_text(struct store *st, char **out, const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *s = NULL;
	va_list ap;
	int rc;

	rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return sqlerr(st, rc);
	va_start(ap, fmt);
	rc = bindv(s, fmt, ap);
	va_end(ap);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(s, 0);
		char *v = NULL;

		if (t != NULL && (v = strdup(t)) == NULL) {
			rc = serr(st, -ENOMEM, "out of memory");
		} else {
			*out = v;
			rc = 0;
		}
	} else if (rc == SQLITE_DONE) {
		rc = -ENOENT;
	} else {
		rc = sqlerr(st, rc);
	}
	sqlite3_finalize(s);
	return rc;
}

static int
exec_sql(struct store *st, const char *sql)
{
	int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : sqlerr(st, rc);
}

/* Writers take the lock at BEGIN so two sipedgectl runs cannot both read the
 * old state and then collide at commit. */
static int
tx_begin(struct store *st)
{
	return exec_sql(st, "BEGIN IMMEDIATE");
}

static int
tx_commit(struct store *st)
{
	return exec_sql(st, "COMMIT");
}

/* Keep the first error's message: a rollback only cleans up. */
static void
tx_rollback(struct store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Grow *arr (of elsize elements) so that it holds at least n + 1. */
static int
grow(void *arr, size_t *cap, size_t n, size_t elsize)
{
	void **p = arr;
	size_t ncap;
	void *q;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 8;
	if (ncap > SIZE_MAX / elsize)
		return -ENOMEM;
	q = realloc(*p, ncap * elsize);
	if (q == NULL)
		return -ENOMEM;
	memset((char *)q + *cap * elsize, 0, (ncap - *cap) * elsize);
	*p = q;
	*cap = ncap;
	return 0;
}

/* -------------------------------------------------------------- open/close */

int
store_schema_version(void)
{
	return store__nsql;
}

static int
db_version(struct store *st, int *out)
{
	int64_t v;
	int rc = query_int(st, &v, "PRAGMA user_version", NULL);

	if (rc == 0)
		*out = (int)v;
	return rc;
}

int
store_db_version(struct store *st, int *out)
{
	return db_version(st, out);
}

/* Whether the db holds any table, trigger, view or index at all. */
static int
db_has_schema(struct store *st, bool *out)
{
	int64_t n;
	int rc = query_int(st, &n, "SELECT count(*) FROM sqlite_master", NULL);

	if (rc == 0)
		*out = n > 0;
	return rc;
}

/* Refuse a file that is not ours, a newer schema, and (unless any) an older
 * or missing one. */
static int
check_version(struct store *st, bool any)
{
	int64_t app;
	int v, rc;
	bool has;

	if ((rc = query_int(st, &app, "PRAGMA application_id", NULL)) != 0)
		return rc;
	if ((rc = db_version(st, &v)) != 0)
		return rc;
	if ((rc = db_has_schema(st, &has)) != 0)
		return rc;
	if ((v == 0 && has) || (v > 0 && app != STORE_APP_ID) || (app != 0 && app != STORE_APP_ID))
		return serr(st, -EILSEQ, "%s: not a sipedge policy database", st->path);
	if (v > store__nsql)
		return serr(st, -ENOTSUP,
		    "%s: schema version %d is newer than this program supports (%d); "
		    "use the sipedge release that wrote it", st->path, v, store__nsql);
	if (any)
		return 0;
	if (v == 0)
		return serr(st, -ENODATA,
		    "%s: not initialised; run \"sipedgectl db init\"", st->path);
	if (v < store__nsql)
		return serr(st, -ESTALE,
		    "%s: schema version %d is older than this program's (%d); "
		    "run \"sipedgectl db migrate\"", st->path, v, store__nsql);
	return 0;
}

int
store_open(const char *path, unsigned flags, struct store **out, char *err, size_t errlen)
{
	struct store *st;
	struct stat sb;
	int rc, oflags = SQLITE_OPEN_READWRITE;

	if ((st = calloc(1, sizeof(*st))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	snprintf(st->path, sizeof(st->path), "%s", path);
	snprintf(st->actor, sizeof(st->actor), "unknown");

	/* SQLite would report all of these as "unable to open database file";
	 * say which it is. */
	if (stat(path, &sb) != 0) {
		if (errno != ENOENT || !(flags & STORE_OPEN_CREATE)) {
			rc = -errno;
			if (errno == ENOENT)
				serr(st, rc, "%s: no such file; create it with \"sipedgectl db init\"", path);
			else
				serr(st, rc, "%s: %s", path, strerror(errno));
			goto out;
		}
		oflags |= SQLITE_OPEN_CREATE;
	} else if (S_ISDIR(sb.st_mode)) {
		rc = serr(st, -EISDIR, "%s: is a directory", path);
		goto out;
	} else if (access(path, R_OK) != 0) {
		rc = serr(st, -errno, "%s: %s", path, strerror(errno));
		goto out;
	} else if (access(path, W_OK) != 0) {
		/* Let a reader list the policy; a change then fails with -EACCES. */
		oflags = SQLITE_OPEN_READONLY;
	}

	rc = sqlite3_open_v2(path, &st->db, oflags, NULL);
	if (rc != SQLITE_OK) {
		rc = sqlerr(st, rc);
		goto out;
	}
	sqlite3_busy_timeout(st->db, STORE_BUSY_MS);
	if ((rc = check_version(st, flags & STORE_OPEN_ANY)) != 0)
		goto out;
	if ((rc = exec_sql(st, "PRAGMA foreign_keys = ON")) != 0)
		goto out;
	*out = st;
	return 0;
out:
	snprintf(err, errlen, "%s", st->err);
	store_close(st);
	return rc;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	sqlite3_close(st->db);
	free(st);
}

void
store_busy_timeout(struct store *st, int ms)
{
	sqlite3_busy_timeout(st->db, ms);
}

void
store_set_actor(struct store *st, const char *actor)
{
	snprintf(st->actor, sizeof(st->actor), "%s", actor && *actor ? actor : "unknown");
}

/* ------------------------------------------------------------- migrations */

static int
audit_add(struct store *st, const char *command, const char *object,
    const char *old, const char *new)
{
	return run(st, NULL,
	    "INSERT INTO audit (at, actor, command, object, old, new) VALUES (?, ?, ?, ?, ?, ?)",
	    "isssss", (int64_t)time(NULL), st->actor, command, object, old, new);
}

/* One migration step in its own transaction: take the db from its version v
 * to v + 1 with sql[v].  *done is set when there was nothing left to do
 * (another sipedgectl may have migrated while we waited for the lock). */
static int
migrate_step(struct store *st, const char *const *sql, int n, const char *command, bool *done)
{
	sqlite3_stmt *s = NULL;
	char buf[128], o[16], nw[16];
	int v, rc;
	bool has;

	*done = false;
	if ((rc = tx_begin(st)) != 0)
		return rc;
	if ((rc = db_version(st, &v)) != 0)
		goto out;
	if (v >= n) {
		*done = true;
		goto out;
	}
	if (v == 0) {
		if ((rc = db_has_schema(st, &has)) != 0)
			goto out;
		if (has) {
			rc = serr(st, -EILSEQ, "%s: not a sipedge policy database", st->path);
			goto out;
		}
	}
	if (sqlite3_exec(st->db, sql[v], NULL, NULL, NULL) != SQLITE_OK) {
		rc = serr(st, -EIO, "%s: migration to schema version %d failed: %s",
		    st->path, v + 1, sqlite3_errmsg(st->db));
		goto out;
	}
	if ((rc = prep(st, &s, "PRAGMA foreign_key_check", NULL)) != 0)
		goto out;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		rc = serr(st, -EIO, "%s: migration to schema version %d broke a foreign key",
		    st->path, v + 1);
		goto out;
	}
	if (rc != SQLITE_DONE) {
		rc = sqlerr(st, rc);
		goto out;
	}
	snprintf(buf, sizeof(buf), "PRAGMA application_id = %d; PRAGMA user_version = %d",
	    STORE_APP_ID, v + 1);
	if ((rc = exec_sql(st, buf)) != 0)
		goto out;
	snprintf(o, sizeof(o), "%d", v);
	snprintf(nw, sizeof(nw), "%d", v + 1);
	if ((rc = audit_add(st, command, "schema", v ? o : NULL, nw)) != 0)
		goto out;
	rc = tx_commit(st);
out:
	sqlite3_finalize(s);
	/* Also ends the read-only transaction of a step with nothing to do. */
	tx_rollback(st);
	return rc;
}

/* Apply sql[v..n-1] to a db at version v.  Foreign keys are off during a
 * migration (SQLite's advice for table rebuilds; the pragma is a no-op inside
 * a transaction) and checked before each commit. */
static int
migrate_list(struct store *st, const char *const *sql, int n, const char *command,
    int *from, int *to)
{
	bool done = false;
	int v0, rc;

	if ((rc = db_version(st, &v0)) != 0)
		return rc;
	if (v0 > n)
		return serr(st, -ENOTSUP,
		    "%s: schema version %d is newer than this program supports (%d); "
		    "use the sipedge release that wrote it", st->path, v0, n);
	if (v0 < n) {
		if ((rc = exec_sql(st, "PRAGMA journal_mode = WAL")) != 0 ||
		    (rc = exec_sql(st, "PRAGMA foreign_keys = OFF")) != 0)
			goto out;
		while (!done)
			if ((rc = migrate_step(st, sql, n, command, &done)) != 0)
				goto out;
	}
	if (from)
		*from = v0;
	if (to)
		*to = n;
out:
	if (v0 < n)
		exec_sql(st, "PRAGMA foreign_keys = ON");
	return rc;
}

int
store_init(struct store *st)
{
	int v, rc;
	bool has;

	if ((rc = db_version(st, &v)) != 0)
		return rc;
	if ((rc = db_has_schema(st, &has)) != 0)
		return rc;
	if (v != 0)
		return serr(st, -EEXIST, "%s: already initialised (schema version %d)%s",
		    st->path, v, v < store__nsql ? "; run \"sipedgectl db migrate\"" : "");
	if (has)
		return serr(st, -EILSEQ, "%s: not a sipedge policy database", st->path);
	return migrate_list(st, store__sql, store__nsql, "db init", NULL, NULL);
}

int
store_migrate(struct store *st, int *from, int *to)
{
	return migrate_list(st, store__sql, store__nsql, "db migrate", from, to);
}

int
store_generation(struct store *st, uint64_t *out)
{
	int64_t g;
	int rc = query_int(st, &g, "SELECT value FROM meta WHERE key = 'generation'", NULL);

	if (rc == -ENOENT)
		return serr(st, -EILSEQ, "%s: no generation counter; corrupt policy database",
		    st->path);
	if (rc == 0)
		*out = (uint64_t)g;
	return rc;
}

/* --------------------------------------------------------------- settings */

static const char *const routing_names[] = { "dns-srv", "default-route", NULL };

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

const struct store_setting *
store_settings(void)
{
	return settings;
}

const struct store_setting *
store_setting_find(const char *name)
{
	for (const struct store_setting *s = settings; s->name; s++)
		if (strcmp(s->name, name) == 0)
			return s;
	return NULL;
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
	return 0;
}

/* The effective configuration: defaults, then the rows of the config table. */
static int
config_read(struct store *st, struct store_config *c)
{
	sqlite3_stmt *s = NULL;
	char err[256];
	int rc;

	store_config_defaults(c);
	if ((rc = prep(st, &s, "SELECT name, value FROM config ORDER BY name", NULL)) != 0)
		return rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(s, 0);
		const char *value = (const char *)sqlite3_column_text(s, 1);
		const struct store_setting *set = name ? store_setting_find(name) : NULL;

		if (set == NULL) {
			rc = serr(st, -EINVAL, "%s: unknown setting \"%s\" in the config table",
			    st->path, name ? name : "");
			goto out;
		}
		if (set->apply(set, value ? value : "", c, err, sizeof(err)) != 0) {
			rc = serr(st, -EINVAL, "%s: config table: %s", st->path, err);
			goto out;
		}
	}
	if (rc != SQLITE_DONE) {
		rc = sqlerr(st, rc);
		goto out;
	}
	if (store_config_check(c, err, sizeof(err)) != 0) {
		rc = serr(st, -EINVAL, "%s: config table: %s", st->path, err);
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(s);
	return rc;
}

/* Audit every setting whose effective value differs between old and new. */
static int
config_audit(struct store *st, const char *command, const struct store_config *old,
    const struct store_config *new)
{
	char a[NAMES_MAX + 16], b[NAMES_MAX + 16], obj[64];
	int rc;

	for (const struct store_setting *s = settings; s->name; s++) {
		s->format(s, old, a, sizeof(a));
		s->format(s, new, b, sizeof(b));
		if (strcmp(a, b) == 0)
			continue;
		snprintf(obj, sizeof(obj), "config %s", s->name);
		rc = run(st, NULL, "INSERT INTO audit (at, actor, command, object, old, new) "
		    "VALUES (?, ?, ?, ?, json_quote(?), json_quote(?))",
		    "isssss", (int64_t)time(NULL), st->actor, command, obj, a, b);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int
config_change(struct store *st, const char *name, const char *value, const char *command)
{
	const struct store_setting *s = store_setting_find(name);
	struct store_config old, new;
	char err[256], b[NAMES_MAX + 16];
	int rc;

	if (s == NULL)
		return serr(st, -ENOENT, "unknown setting \"%s\"; \"sipedgectl config show\" "
		    "lists them", name);
	if ((rc = tx_begin(st)) != 0)
		return rc;
	if ((rc = config_read(st, &old)) != 0)
		goto out;
	new = old;
	if (s->apply(s, value ? value : s->def, &new, err, sizeof(err)) != 0 ||
	    store_config_check(&new, err, sizeof(err)) != 0) {
		rc = serr(st, -EINVAL, "%s", err);
		goto out;
	}
	/* "config set" pins the value even when it equals the default; "config
	 * reset" removes the row so that a later release's default applies. */
	s->format(s, &new, b, sizeof(b));
	if (value == NULL)
		rc = run(st, NULL, "DELETE FROM config WHERE name = ?", "s", name);
	else
		rc = run(st, NULL, "INSERT OR REPLACE INTO config (name, value) VALUES (?, ?)",
		    "ss", name, b);
	if (rc != 0 || (rc = config_audit(st, command, &old, &new)) != 0)
		goto out;
	rc = tx_commit(st);
out:
	if (rc != 0)
		tx_rollback(st);
	return rc;
}

int
store_config_set(struct store *st, const char *name, const char *value)
{
	return config_change(st, name, value ? value : "", "config set");
}

int
store_config_reset(struct store *st, const char *name)
{
	return config_change(st, name, NULL, "config reset");
}

/* ---------------------------------------------------------------- names */

static const char *const kind_names[] = { "public", "hosting", NULL };
static const char *const verification_names[] = {
	"use-source", "always-verified", "always-unverified", NULL
};

static int
name_index(const char *const *names, const char *s)
{
	for (int i = 0; names[i]; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return -1;
}

const char *
store_provider_kind_name(enum store_provider_kind k)
{
	return k <= STORE_PROVIDER_HOSTING ? kind_names[k] : "?";
}

int
store_provider_kind_parse(const char *s, enum store_provider_kind *out)
{
	int i = name_index(kind_names, s);

	if (i < 0)
		return -EINVAL;
	*out = (enum store_provider_kind)i;
	return 0;
}

const char *
store_verification_name(enum store_verification v)
{
	return v <= STORE_VERIFY_ALWAYS_UNVERIFIED ? verification_names[v] : "?";
}

int
store_verification_parse(const char *s, enum store_verification *out)
{
	int i = name_index(verification_names, s);

	if (i < 0)
		return -EINVAL;
	*out = (enum store_verification)i;
	return 0;
}

bool
store_provider_name_valid(const char *name)
{
	size_t n = 0;

	for (const char *p = name; *p; p++, n++) {
		char c = *p;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_'))
			return false;
	}
	return n >= 1 && n <= 64;
}

const char *
store_partner_status_name(enum store_partner_status s)
{
	static const char *const n[] = { "discovered", "allowed", "blocked" };

	return s <= STORE_PARTNER_BLOCKED ? n[s] : "?";
}

/* Normalise a domain or FQDN argument; what names it in the message. */
static int
norm(struct store *st, const char *what, const char *in, char out[NAMES_MAX + 1])
{
	const char *why;

	if (names_normalize(in, out, NAMES_MAX + 1, &why) != 0)
		return serr(st, -EINVAL, "invalid %s \"%s\": %s", what, in ? in : "", why);
	return 0;
}

/* Comments are shown in one table cell: one line of printable text. */
static int
check_comment(struct store *st, const char *c)
{
	if (c == NULL)
		return 0;
	if (strlen(c) > STORE_COMMENT_MAX)
		return serr(st, -EINVAL, "comment longer than %d bytes", STORE_COMMENT_MAX);
	for (const unsigned char *p = (const unsigned char *)c; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return serr(st, -EINVAL, "comment contains a control character");
	return 0;
}

/* ------------------------------------------------------- JSON for the audit */

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

static int
json_of(struct store *st, char **out, const char *sql, const char *key)
{
	int rc = query_text(st, out, sql, "s", key);

	if (rc == -ENOENT) {
		*out = NULL;
		rc = 0;
	}
	return rc;
}

static int
allowed_json(struct store *st, const char *domain, char **out)
{
	return json_of(st, out, "SELECT " ALLOWED_JSON " FROM allowed_domain WHERE domain = ?",
	    domain);
}

static int
blocked_json(struct store *st, const char *domain, char **out)
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

/* ----------------------------------------------- allowed and blocked domains */

/* Insert an allowed domain inside the caller's transaction, checking the rules
 * first so the message names what is in the way. */
static int
allowed_insert(struct store *st, const char *domain_in, const char *proxy_in, bool monitor,
    const char *comment)
{
	char domain[NAMES_MAX + 1], proxy[NAMES_MAX + 1];
	char *prov = NULL;
	int64_t one;
	int rc;

	if ((rc = norm(st, "domain", domain_in, domain)) != 0)
		return rc;
	if (proxy_in != NULL && (rc = norm(st, "proxy FQDN", proxy_in, proxy)) != 0)
		return rc;
	if ((rc = check_comment(st, comment)) != 0)
		return rc;
	rc = query_int(st, &one, "SELECT 1 FROM allowed_domain WHERE domain = ?", "s", domain);
	if (rc == 0)
		return serr(st, -EEXIST, "%s is already allowed", domain);
	if (rc != -ENOENT)
		return rc;
	rc = query_int(st, &one, "SELECT 1 FROM blocked_domain WHERE domain = ?", "s", domain);
	if (rc == 0)
		return serr(st, -EEXIST, "%s is blocked; a domain cannot be both allowed and "
		    "blocked (\"sipedgectl block remove %s\" first)", domain, domain);
	if (rc != -ENOENT)
		return rc;
	if (proxy_in != NULL) {
		rc = query_text(st, &prov, "SELECT name FROM provider WHERE proxy_fqdn = ?", "s", proxy);
		if (rc == 0) {
			rc = serr(st, -EEXIST, "%s is the proxy FQDN of provider %s; an FQDN cannot "
			    "be both an allowed partner server and a provider proxy", proxy, prov);
			free(prov);
			return rc;
		}
		if (rc != -ENOENT)
			return rc;
	}
	return run(st, NULL, "INSERT INTO allowed_domain (domain, proxy_fqdn, monitor, comment, added) "
	    "VALUES (?, ?, ?, ?, ?)", "ssdsi", domain, proxy_in ? proxy : NULL, monitor ? 1 : 0,
	    comment ? comment : "", (int64_t)time(NULL));
}

static int
blocked_insert(struct store *st, const char *domain_in, const char *comment)
{
	char domain[NAMES_MAX + 1];
	int64_t one;
	int rc;

	if ((rc = norm(st, "domain", domain_in, domain)) != 0)
		return rc;
	if ((rc = check_comment(st, comment)) != 0)
		return rc;
	rc = query_int(st, &one, "SELECT 1 FROM blocked_domain WHERE domain = ?", "s", domain);
	if (rc == 0)
		return serr(st, -EEXIST, "%s is already blocked", domain);
	if (rc != -ENOENT)
		return rc;
	rc = query_int(st, &one, "SELECT 1 FROM allowed_domain WHERE domain = ?", "s", domain);
	if (rc == 0)
		return serr(st, -EEXIST, "%s is allowed; a domain cannot be both allowed and "
		    "blocked (\"sipedgectl block add %s --replace\" blocks it in one step)",
		    domain, domain);
	if (rc != -ENOENT)
		return rc;
	return run(st, NULL, "INSERT INTO blocked_domain (domain, comment, added) VALUES (?, ?, ?)",
	    "ssi", domain, comment ? comment : "", (int64_t)time(NULL));
}

/* Run one audited change to the object "<kind> <key>" in its own transaction:
 * json gives the object's state before and after change. */
struct change {
	const char *command;
	const char *kind;                  /* "allowed", "blocked", "provider" */
	int (*json)(struct store *, const char *, char **);
};

static int
audited(struct store *st, const struct change *ch, const char *key_in, bool key_is_name,
    int (*change)(struct store *, const char *key, void *arg), void *arg)
{
	char key[NAMES_MAX + 1], obj[NAMES_MAX + 32];
	char *old = NULL, *new = NULL;
	int rc;

	if (key_is_name)
		snprintf(key, sizeof(key), "%s", key_in);
	else if ((rc = norm(st, "domain", key_in, key)) != 0)
		return rc;
	if ((rc = tx_begin(st)) != 0)
		return rc;
	if ((rc = ch->json(st, key, &old)) != 0)
		goto out;
	if ((rc = change(st, key, arg)) != 0)
		goto out;
	if ((rc = ch->json(st, key, &new)) != 0)
		goto out;
	snprintf(obj, sizeof(obj), "%s %s", ch->kind, key);
	if ((rc = audit_add(st, ch->command, obj, old, new)) != 0)
		goto out;
	rc = tx_commit(st);
out:
	if (rc != 0)
		tx_rollback(st);
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

	return allowed_insert(st, domain, a->proxy, a->monitor, a->comment);
}

int
store_allowed_add(struct store *st, const char *domain, const char *proxy_fqdn,
    bool monitor, const char *comment)
{
	static const struct change ch = { "allow add", "allowed", allowed_json };
	struct allowed_args a = { proxy_fqdn, monitor, comment };

	return audited(st, &ch, domain, false, do_allowed_add, &a);
}

static int
do_allowed_remove(struct store *st, const char *domain, void *arg)
{
	int n, rc;

	rc = run(st, &n, "DELETE FROM allowed_domain WHERE domain = ?", "s", domain);
	if (rc == 0 && n == 0)
		rc = serr(st, -ENOENT, "%s is not in the allow list", domain);
	return rc;
}

int
store_allowed_remove(struct store *st, const char *domain)
{
	static const struct change ch = { "allow remove", "allowed", allowed_json };

	return audited(st, &ch, domain, false, do_allowed_remove, NULL);
}

static int
do_blocked_add(struct store *st, const char *domain, void *arg)
{
	return blocked_insert(st, domain, arg);
}

int
store_blocked_add(struct store *st, const char *domain, const char *comment)
{
	static const struct change ch = { "block add", "blocked", blocked_json };

	return audited(st, &ch, domain, false, do_blocked_add, (void *)(uintptr_t)comment);
}

/* Allowed to blocked in one transaction: a running edge reloads either the
 * old policy or the new one, never one where the domain is neither (with
 * partner discovery on, it would be a discovered partner in between). */
int
store_blocked_replace(struct store *st, const char *domain_in, const char *comment)
{
	char domain[NAMES_MAX + 1], obj[NAMES_MAX + 32];
	char *old_allowed = NULL, *new_blocked = NULL;
	int rc;

	if ((rc = norm(st, "domain", domain_in, domain)) != 0)
		return rc;
	if ((rc = tx_begin(st)) != 0)
		return rc;
	if ((rc = allowed_json(st, domain, &old_allowed)) != 0)
		goto out;
	if ((rc = run(st, NULL, "DELETE FROM allowed_domain WHERE domain = ?", "s", domain)) != 0)
		goto out;
	if ((rc = blocked_insert(st, domain, comment)) != 0)
		goto out;
	if ((rc = blocked_json(st, domain, &new_blocked)) != 0)
		goto out;
	snprintf(obj, sizeof(obj), "blocked %s", domain);
	if ((rc = audit_add(st, "block add --replace", obj, old_allowed, new_blocked)) != 0)
		goto out;
	rc = tx_commit(st);
out:
	if (rc != 0)
		tx_rollback(st);
	free(old_allowed);
	free(new_blocked);
	return rc;
}

static int
do_blocked_remove(struct store *st, const char *domain, void *arg)
{
	int n, rc;

	rc = run(st, &n, "DELETE FROM blocked_domain WHERE domain = ?", "s", domain);
	if (rc == 0 && n == 0)
		rc = serr(st, -ENOENT, "%s is not in the block list", domain);
	return rc;
}

int
store_blocked_remove(struct store *st, const char *domain)
{
	static const struct change ch = { "block remove", "blocked", blocked_json };

	return audited(st, &ch, domain, false, do_blocked_remove, NULL);
}

/* -------------------------------------------------------------- providers */

/* A provider's id and stored name by name (case-insensitive). */
static int
provider_id(struct store *st, const char *name, int64_t *id)
{
	int rc = query_int(st, id, "SELECT id FROM provider WHERE name = ?", "s", name);

	if (rc == -ENOENT)
		return serr(st, -ENOENT, "no provider named %s", name);
	return rc;
}

/* The proxy FQDN must not be another provider's nor an allowed partner
 * server's. */
static int
check_provider_proxy(struct store *st, const char *proxy, int64_t self)
{
	char *other = NULL;
	int rc;

	rc = query_text(st, &other, "SELECT name FROM provider WHERE proxy_fqdn = ? AND id <> ?",
	    "si", proxy, self);
	if (rc == 0) {
		rc = serr(st, -EEXIST, "provider %s already uses proxy FQDN %s", other, proxy);
		free(other);
		return rc;
	}
	if (rc != -ENOENT)
		return rc;
	rc = query_text(st, &other, "SELECT domain FROM allowed_domain WHERE proxy_fqdn = ? "
	    "ORDER BY domain LIMIT 1", "s", proxy);
	if (rc == 0) {
		rc = serr(st, -EEXIST, "%s is the proxy FQDN of allowed partner server %s; an "
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

	rc = query_int(st, &owner, "SELECT provider_id FROM provider_domain WHERE domain = ?",
	    "s", domain);
	if (rc == 0) {
		rc = query_text(st, &other, "SELECT name FROM provider WHERE id = ?", "i", owner);
		if (rc == 0)
			rc = serr(st, -EEXIST, "domain %s is already served by provider %s",
			    domain, other ? other : "?");
		free(other);
		return rc;
	}
	if (rc != -ENOENT)
		return rc;
	return run(st, NULL, "INSERT INTO provider_domain (domain, provider_id) VALUES (?, ?)",
	    "si", domain, id);
}

static int
provider_insert(struct store *st, const struct store_provider *p)
{
	char proxy[NAMES_MAX + 1], domain[NAMES_MAX + 1];
	int64_t id;
	int rc;

	if (p->name == NULL || !store_provider_name_valid(p->name))
		return serr(st, -EINVAL, "invalid provider name \"%s\": use 1-64 letters, digits, "
		    "'.', '-' or '_'", p->name ? p->name : "");
	if (p->proxy_fqdn == NULL)
		return serr(st, -EINVAL, "provider %s needs a proxy FQDN", p->name);
	if ((rc = norm(st, "proxy FQDN", p->proxy_fqdn, proxy)) != 0)
		return rc;
	if ((unsigned)p->kind > STORE_PROVIDER_HOSTING ||
	    (unsigned)p->verification > STORE_VERIFY_ALWAYS_UNVERIFIED)
		return serr(st, -EINVAL, "provider %s: bad kind or verification level", p->name);
	if ((rc = check_comment(st, p->comment)) != 0)
		return rc;
	rc = query_int(st, &id, "SELECT id FROM provider WHERE name = ?", "s", p->name);
	if (rc == 0)
		return serr(st, -EEXIST, "a provider named %s already exists", p->name);
	if (rc != -ENOENT)
		return rc;
	if ((rc = check_provider_proxy(st, proxy, -1)) != 0)
		return rc;
	rc = run(st, NULL, "INSERT INTO provider (name, kind, proxy_fqdn, verification, enabled, "
	    "comment, added) VALUES (?, ?, ?, ?, ?, ?, ?)", "ssssdsi", p->name,
	    kind_names[p->kind], proxy, verification_names[p->verification], p->enabled ? 1 : 0,
	    p->comment ? p->comment : "", (int64_t)time(NULL));
	if (rc != 0)
		return rc;
	id = sqlite3_last_insert_rowid(st->db);
	for (size_t i = 0; i < p->ndomains; i++) {
		if ((rc = norm(st, "domain", p->domains[i], domain)) != 0)
			return rc;
		rc = provider_domain_insert(st, id, domain);
		if (rc == -EEXIST) {
			int64_t owner;

			/* The same domain twice in one list is harmless. */
			if (query_int(st, &owner, "SELECT provider_id FROM provider_domain "
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
	return provider_insert(st, arg);
}

int
store_provider_add(struct store *st, const struct store_provider *p)
{
	static const struct change ch = { "provider add", "provider", provider_json };

	if (p->name == NULL || !store_provider_name_valid(p->name))
		return serr(st, -EINVAL, "invalid provider name \"%s\": use 1-64 letters, digits, "
		    "'.', '-' or '_'", p->name ? p->name : "");
	return audited(st, &ch, p->name, true, do_provider_add, (void *)(uintptr_t)p);
}

static int
do_provider_update(struct store *st, const char *name, void *arg)
{
	const struct store_provider_patch *pt = arg;
	char buf[NAMES_MAX + 1];
	int64_t id, owner;
	int rc;

	if ((rc = provider_id(st, name, &id)) != 0)
		return rc;
	if (pt->proxy_fqdn != NULL) {
		if ((rc = norm(st, "proxy FQDN", pt->proxy_fqdn, buf)) != 0)
			return rc;
		if ((rc = check_provider_proxy(st, buf, id)) != 0)
			return rc;
		if ((rc = run(st, NULL, "UPDATE provider SET proxy_fqdn = ? WHERE id = ?", "si",
		    buf, id)) != 0)
			return rc;
	}
	if (pt->kind >= 0) {
		if (pt->kind > STORE_PROVIDER_HOSTING)
			return serr(st, -EINVAL, "bad provider kind");
		if ((rc = run(st, NULL, "UPDATE provider SET kind = ? WHERE id = ?", "si",
		    kind_names[pt->kind], id)) != 0)
			return rc;
	}
	if (pt->verification >= 0) {
		if (pt->verification > STORE_VERIFY_ALWAYS_UNVERIFIED)
			return serr(st, -EINVAL, "bad verification level");
		if ((rc = run(st, NULL, "UPDATE provider SET verification = ? WHERE id = ?", "si",
		    verification_names[pt->verification], id)) != 0)
			return rc;
	}
	if (pt->enabled >= 0 && (rc = run(st, NULL, "UPDATE provider SET enabled = ? WHERE id = ?",
	    "di", pt->enabled ? 1 : 0, id)) != 0)
		return rc;
	if (pt->comment != NULL) {
		if ((rc = check_comment(st, pt->comment)) != 0)
			return rc;
		if ((rc = run(st, NULL, "UPDATE provider SET comment = ? WHERE id = ?", "si",
		    pt->comment, id)) != 0)
			return rc;
	}
	if (pt->set_domains) {
		if ((rc = run(st, NULL, "DELETE FROM provider_domain WHERE provider_id = ?", "i",
		    id)) != 0)
			return rc;
		for (size_t i = 0; i < pt->ndomains; i++) {
			if ((rc = norm(st, "domain", pt->domains[i], buf)) != 0)
				return rc;
			rc = provider_domain_insert(st, id, buf);
			if (rc == -EEXIST && query_int(st, &owner, "SELECT provider_id FROM "
			    "provider_domain WHERE domain = ?", "s", buf) == 0 && owner == id)
				continue;
			if (rc != 0)
				return rc;
		}
	}
	for (size_t i = 0; i < pt->nremove_domains; i++) {
		int n;

		if ((rc = norm(st, "domain", pt->remove_domains[i], buf)) != 0)
			return rc;
		rc = run(st, &n, "DELETE FROM provider_domain WHERE provider_id = ? AND domain = ?",
		    "is", id, buf);
		if (rc != 0)
			return rc;
		if (n == 0)
			return serr(st, -ENOENT, "provider %s does not serve domain %s", name, buf);
	}
	for (size_t i = 0; i < pt->nadd_domains; i++) {
		if ((rc = norm(st, "domain", pt->add_domains[i], buf)) != 0)
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
	int rc = query_text(st, &n, "SELECT name FROM provider WHERE name = ?", "s", name);

	if (rc == -ENOENT)
		return serr(st, -ENOENT, "no provider named %s", name);
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
	return audited(st, &ch, stored, true, do_provider_update, (void *)(uintptr_t)pt);
}

static int
do_provider_remove(struct store *st, const char *name, void *arg)
{
	int n, rc;

	rc = run(st, &n, "DELETE FROM provider WHERE name = ?", "s", name);
	if (rc == 0 && n == 0)
		rc = serr(st, -ENOENT, "no provider named %s", name);
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
	return audited(st, &ch, stored, true, do_provider_remove, NULL);
}

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
	free(p);
}

/* Copy column i as text ("" for NULL unless nullable). */
static int
col_dup(struct store *st, sqlite3_stmt *s, int i, bool nullable, char **out)
{
	const char *t = (const char *)sqlite3_column_text(s, i);

	if (t == NULL && nullable) {
		*out = NULL;
		return 0;
	}
	if ((*out = strdup(t ? t : "")) == NULL)
		return serr(st, -ENOMEM, "out of memory");
	return 0;
}

/* A name read back from the db must be valid: the daemon relies on it. */
static int
col_name(struct store *st, sqlite3_stmt *s, int i, bool nullable, const char *what, char **out)
{
	const char *t = (const char *)sqlite3_column_text(s, i);

	if (t == NULL && nullable) {
		*out = NULL;
		return 0;
	}
	if (t == NULL || !names_is_normal(t))
		return serr(st, -EINVAL, "%s: %s \"%s\" in the db is not a valid name in normal form",
		    st->path, what, t ? t : "");
	return col_dup(st, s, i, false, out);
}

static int
load_allowed(struct store *st, struct store_policy *p)
{
	sqlite3_stmt *s = NULL;
	size_t cap = 0;
	int rc;

	if ((rc = prep(st, &s, "SELECT domain, proxy_fqdn, monitor, comment FROM allowed_domain "
	    "ORDER BY domain", NULL)) != 0)
		return rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_allowed *a;

		if (grow(&p->allowed, &cap, p->nallowed, sizeof(*p->allowed)) != 0) {
			rc = serr(st, -ENOMEM, "out of memory");
			goto out;
		}
		a = &p->allowed[p->nallowed++];
		if ((rc = col_name(st, s, 0, false, "allowed domain", &a->domain)) != 0 ||
		    (rc = col_name(st, s, 1, true, "proxy FQDN", &a->proxy_fqdn)) != 0 ||
		    (rc = col_dup(st, s, 3, false, &a->comment)) != 0)
			goto out;
		a->monitor = sqlite3_column_int(s, 2) != 0;
	}
	rc = rc == SQLITE_DONE ? 0 : sqlerr(st, rc);
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

	if ((rc = prep(st, &s, "SELECT domain, comment FROM blocked_domain ORDER BY domain",
	    NULL)) != 0)
		return rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_blocked *b;

		if (grow(&p->blocked, &cap, p->nblocked, sizeof(*p->blocked)) != 0) {
			rc = serr(st, -ENOMEM, "out of memory");
			goto out;
		}
		b = &p->blocked[p->nblocked++];
		if ((rc = col_name(st, s, 0, false, "blocked domain", &b->domain)) != 0 ||
		    (rc = col_dup(st, s, 1, false, &b->comment)) != 0)
			goto out;
	}
	rc = rc == SQLITE_DONE ? 0 : sqlerr(st, rc);
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

	if ((rc = prep(st, &s, "SELECT domain FROM provider_domain WHERE provider_id = ? "
	    "ORDER BY domain", "i", id)) != 0)
		return rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (grow(&v->domains, &cap, v->ndomains, sizeof(*v->domains)) != 0) {
			rc = serr(st, -ENOMEM, "out of memory");
			goto out;
		}
		if ((rc = col_name(st, s, 0, false, "provider domain",
		    &v->domains[v->ndomains])) != 0)
			goto out;
		v->ndomains++;
	}
	rc = rc == SQLITE_DONE ? 0 : sqlerr(st, rc);
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

	if ((rc = prep(st, &s, "SELECT id, name, kind, proxy_fqdn, verification, enabled, comment "
	    "FROM provider ORDER BY name COLLATE NOCASE", NULL)) != 0)
		return rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_provider *v;
		const char *kind = (const char *)sqlite3_column_text(s, 2);
		const char *verif = (const char *)sqlite3_column_text(s, 4);

		if (grow(&p->providers, &cap, p->nproviders, sizeof(*p->providers)) != 0) {
			rc = serr(st, -ENOMEM, "out of memory");
			goto out;
		}
		v = &p->providers[p->nproviders++];
		if ((rc = col_dup(st, s, 1, false, &v->name)) != 0 ||
		    (rc = col_name(st, s, 3, false, "provider proxy FQDN", &v->proxy_fqdn)) != 0 ||
		    (rc = col_dup(st, s, 6, false, &v->comment)) != 0)
			goto out;
		if (kind == NULL || store_provider_kind_parse(kind, &v->kind) != 0 ||
		    verif == NULL || store_verification_parse(verif, &v->verification) != 0) {
			rc = serr(st, -EINVAL, "%s: provider %s has a bad kind or verification level",
			    st->path, v->name);
			goto out;
		}
		v->enabled = sqlite3_column_int(s, 5) != 0;
		if ((rc = load_provider_domains(st, sqlite3_column_int64(s, 0), v)) != 0)
			goto out;
	}
	rc = rc == SQLITE_DONE ? 0 : sqlerr(st, rc);
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
		return serr(st, -ENOMEM, "out of memory");
	/* One read transaction: the generation and the rows belong together. */
	if ((rc = exec_sql(st, "BEGIN")) != 0)
		goto out;
	if ((rc = store_generation(st, &p->generation)) != 0 ||
	    (rc = config_read(st, &p->config)) != 0 ||
	    (rc = load_allowed(st, p)) != 0 ||
	    (rc = load_blocked(st, p)) != 0 ||
	    (rc = load_providers(st, p)) != 0)
		goto out;
	if ((rc = exec_sql(st, "COMMIT")) != 0)
		goto out;
	*out = p;
	return 0;
out:
	tx_rollback(st);
	store_policy_free(p);
	return rc;
}

/* Every allowed, blocked and provider object as (object, json), for the audit
 * of an import: compared before and after. */
#define OBJECTS_JSON \
	"SELECT 'allowed ' || domain, " ALLOWED_JSON " FROM allowed_domain " \
	"UNION ALL SELECT 'blocked ' || domain, " BLOCKED_JSON " FROM blocked_domain " \
	"UNION ALL SELECT 'provider ' || p.name, " PROVIDER_JSON " FROM provider p"

int
store_policy_replace(struct store *st, const struct store_policy *p, const char *command)
{
	struct store_config old;
	char err[sizeof(st->err)];
	int rc;

	if (store_config_check(&p->config, err, sizeof(err)) != 0)
		return serr(st, -EINVAL, "config: %s", err);
	if ((rc = tx_begin(st)) != 0)
		return rc;
	if ((rc = config_read(st, &old)) != 0)
		goto out;
	if ((rc = exec_sql(st,
	    "CREATE TEMP TABLE IF NOT EXISTS import_before (object TEXT PRIMARY KEY, j TEXT);"
	    "CREATE TEMP TABLE IF NOT EXISTS import_after (object TEXT PRIMARY KEY, j TEXT);"
	    "DELETE FROM temp.import_before; DELETE FROM temp.import_after;"
	    "INSERT INTO temp.import_before " OBJECTS_JSON ";"
	    "DELETE FROM allowed_domain; DELETE FROM blocked_domain; DELETE FROM provider;"
	    "DELETE FROM config;")) != 0)
		goto out;
	/* Config: only values that differ from the default are stored. */
	{
		struct store_config def;
		char a[NAMES_MAX + 16], b[NAMES_MAX + 16];

		store_config_defaults(&def);
		for (const struct store_setting *s = settings; s->name; s++) {
			s->format(s, &def, a, sizeof(a));
			s->format(s, &p->config, b, sizeof(b));
			if (strcmp(a, b) != 0 && (rc = run(st, NULL, "INSERT INTO config (name, "
			    "value) VALUES (?, ?)", "ss", s->name, b)) != 0)
				goto out;
		}
	}
	for (size_t i = 0; i < p->nallowed; i++) {
		const struct store_allowed *a = &p->allowed[i];

		if ((rc = allowed_insert(st, a->domain, a->proxy_fqdn, a->monitor, a->comment)) != 0) {
			snprintf(err, sizeof(err), "%s", st->err);
			rc = serr(st, rc, "allowed[%zu]: %s", i, err);
			goto out;
		}
	}
	for (size_t i = 0; i < p->nblocked; i++) {
		const struct store_blocked *b = &p->blocked[i];

		if ((rc = blocked_insert(st, b->domain, b->comment)) != 0) {
			snprintf(err, sizeof(err), "%s", st->err);
			rc = serr(st, rc, "blocked[%zu]: %s", i, err);
			goto out;
		}
	}
	for (size_t i = 0; i < p->nproviders; i++) {
		if ((rc = provider_insert(st, &p->providers[i])) != 0) {
			snprintf(err, sizeof(err), "%s", st->err);
			rc = serr(st, rc, "providers[%zu]: %s", i, err);
			goto out;
		}
	}
	if ((rc = config_audit(st, command, &old, &p->config)) != 0)
		goto out;
	if ((rc = exec_sql(st, "INSERT INTO temp.import_after " OBJECTS_JSON)) != 0)
		goto out;
	if ((rc = run(st, NULL,
	    "INSERT INTO audit (at, actor, command, object, old, new) "
	    "SELECT ?1, ?2, ?3, b.object, b.j, a.j FROM temp.import_before b "
	    "LEFT JOIN temp.import_after a ON a.object = b.object WHERE a.j IS NOT b.j "
	    "UNION ALL "
	    "SELECT ?1, ?2, ?3, a.object, NULL, a.j FROM temp.import_after a "
	    "WHERE a.object NOT IN (SELECT object FROM temp.import_before)",
	    "iss", (int64_t)time(NULL), st->actor, command)) != 0)
		goto out;
	rc = tx_commit(st);
out:
	if (rc != 0)
		tx_rollback(st);
	return rc;
}

/* ------------------------------------------------------ discovered partners */

int
store_partners_record(struct store *st, const struct store_partner_delta *d, size_t n)
{
	sqlite3_stmt *up = NULL, *peer = NULL;
	char domain[NAMES_MAX + 1], fqdn[NAMES_MAX + 1];
	time_t now = time(NULL);
	int rc;

	if (n == 0)
		return 0;
	if ((rc = tx_begin(st)) != 0)
		return rc;
	if ((rc = prep(st, &up,
	    "INSERT INTO partner (domain, first_seen, last_seen, requests, contacts, throttled) "
	    "VALUES (?1, ?2, ?2, ?3, ?4, ?5) ON CONFLICT (domain) DO UPDATE SET "
	    "last_seen = max(last_seen, excluded.last_seen), "
	    "requests = requests + excluded.requests, contacts = contacts + excluded.contacts, "
	    "throttled = throttled + excluded.throttled", NULL)) != 0)
		goto out;
	if ((rc = prep(st, &peer,
	    "INSERT INTO partner_peer (domain, fqdn, last_seen) VALUES (?1, ?2, ?3) "
	    "ON CONFLICT (domain, fqdn) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)",
	    NULL)) != 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		int64_t seen = d[i].seen ? (int64_t)d[i].seen : (int64_t)now;

		if ((rc = norm(st, "partner domain", d[i].domain, domain)) != 0)
			goto out;
		sqlite3_reset(up);
		sqlite3_bind_text(up, 1, domain, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(up, 2, seen);
		/* Counters are SQLite int64: clamp rather than wrap negative. */
		sqlite3_bind_int64(up, 3, (int64_t)(d[i].requests > INT64_MAX ? INT64_MAX : d[i].requests));
		sqlite3_bind_int64(up, 4, (int64_t)(d[i].contacts > INT64_MAX ? INT64_MAX : d[i].contacts));
		sqlite3_bind_int64(up, 5, (int64_t)(d[i].throttled > INT64_MAX ? INT64_MAX : d[i].throttled));
		if ((rc = sqlite3_step(up)) != SQLITE_DONE) {
			rc = sqlerr(st, rc);
			goto out;
		}
		for (size_t j = 0; j < d[i].npeers; j++) {
			if ((rc = norm(st, "peer FQDN", d[i].peers[j], fqdn)) != 0)
				goto out;
			sqlite3_reset(peer);
			sqlite3_bind_text(peer, 1, domain, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(peer, 2, fqdn, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(peer, 3, seen);
			if ((rc = sqlite3_step(peer)) != SQLITE_DONE) {
				rc = sqlerr(st, rc);
				goto out;
			}
		}
	}
	sqlite3_finalize(up);
	sqlite3_finalize(peer);
	up = peer = NULL;
	rc = tx_commit(st);
out:
	sqlite3_finalize(up);
	sqlite3_finalize(peer);
	if (rc != 0)
		tx_rollback(st);
	return rc;
}

void
store_partners_free(struct store_partner *p, size_t n)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(p[i].domain);
		for (size_t j = 0; j < p[i].npeers; j++)
			free(p[i].peers[j]);
		free(p[i].peers);
	}
	free(p);
}

int
store_partners_list(struct store *st, struct store_partner **out, size_t *nout)
{
	sqlite3_stmt *s = NULL, *ps = NULL;
	struct store_partner *v = NULL;
	size_t n = 0, cap = 0;
	int rc;

	if ((rc = exec_sql(st, "BEGIN")) != 0)
		return rc;
	if ((rc = prep(st, &s, "SELECT p.domain, p.first_seen, p.last_seen, p.requests, "
	    "p.contacts, p.throttled, "
	    "EXISTS (SELECT 1 FROM allowed_domain a WHERE a.domain = p.domain), "
	    "EXISTS (SELECT 1 FROM blocked_domain b WHERE b.domain = p.domain) "
	    "FROM partner p ORDER BY p.domain", NULL)) != 0)
		goto out;
	if ((rc = prep(st, &ps, "SELECT fqdn FROM partner_peer WHERE domain = ? ORDER BY fqdn",
	    NULL)) != 0)
		goto out;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_partner *p;
		size_t pcap = 0;

		if (grow(&v, &cap, n, sizeof(*v)) != 0) {
			rc = serr(st, -ENOMEM, "out of memory");
			goto out;
		}
		p = &v[n++];
		if ((rc = col_dup(st, s, 0, false, &p->domain)) != 0)
			goto out;
		p->first_seen = (time_t)sqlite3_column_int64(s, 1);
		p->last_seen = (time_t)sqlite3_column_int64(s, 2);
		p->requests = (uint64_t)sqlite3_column_int64(s, 3);
		p->contacts = (uint64_t)sqlite3_column_int64(s, 4);
		p->throttled = (uint64_t)sqlite3_column_int64(s, 5);
		p->status = sqlite3_column_int(s, 7) ? STORE_PARTNER_BLOCKED :
		    sqlite3_column_int(s, 6) ? STORE_PARTNER_ALLOWED : STORE_PARTNER_DISCOVERED;
		sqlite3_reset(ps);
		sqlite3_bind_text(ps, 1, p->domain, -1, SQLITE_TRANSIENT);
		while ((rc = sqlite3_step(ps)) == SQLITE_ROW) {
			if (grow(&p->peers, &pcap, p->npeers, sizeof(*p->peers)) != 0) {
				rc = serr(st, -ENOMEM, "out of memory");
				goto out;
			}
			if ((rc = col_dup(st, ps, 0, false, &p->peers[p->npeers])) != 0)
				goto out;
			p->npeers++;
		}
		if (rc != SQLITE_DONE) {
			rc = sqlerr(st, rc);
			goto out;
		}
	}
	if (rc != SQLITE_DONE) {
		rc = sqlerr(st, rc);
		goto out;
	}
	sqlite3_finalize(s);
	sqlite3_finalize(ps);
	s = ps = NULL;
	if ((rc = exec_sql(st, "COMMIT")) != 0)
		goto out;
	*out = v;
	*nout = n;
	return 0;
out:
	sqlite3_finalize(s);
	sqlite3_finalize(ps);
	tx_rollback(st);
	store_partners_free(v, n);
	return rc;
}

static int
partner_known(struct store *st, const char *domain)
{
	int64_t one;
	int rc = query_int(st, &one, "SELECT 1 FROM partner WHERE domain = ?", "s", domain);

	if (rc == -ENOENT)
		return serr(st, -ENOENT, "%s is not a discovered partner", domain);
	return rc;
}

static int
do_partner_promote(struct store *st, const char *domain, void *arg)
{
	int rc = partner_known(st, domain);

	return rc ? rc : allowed_insert(st, domain, NULL, false, arg);
}

static int
do_partner_block(struct store *st, const char *domain, void *arg)
{
	int rc = partner_known(st, domain);

	return rc ? rc : blocked_insert(st, domain, arg);
}

int
store_partner_promote(struct store *st, const char *domain, const char *comment)
{
	static const struct change ch = { "partners promote", "allowed", allowed_json };

	return audited(st, &ch, domain, false, do_partner_promote, (void *)(uintptr_t)comment);
}

int
store_partner_block(struct store *st, const char *domain, const char *comment)
{
	static const struct change ch = { "partners block", "blocked", blocked_json };

	return audited(st, &ch, domain, false, do_partner_block, (void *)(uintptr_t)comment);
}

/* --------------------------------------------------------------- audit */

void
store_audit_free(struct store_audit *a, size_t n)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(a[i].actor);
		free(a[i].command);
		free(a[i].object);
		free(a[i].old_json);
		free(a[i].new_json);
	}
	free(a);
}

int
store_audit_list(struct store *st, size_t limit, struct store_audit **out, size_t *nout)
{
	sqlite3_stmt *s = NULL;
	struct store_audit *v = NULL;
	size_t n = 0, cap = 0;
	int rc;

	if ((rc = prep(st, &s, "SELECT id, at, actor, command, object, old, new FROM "
	    "(SELECT * FROM audit ORDER BY id DESC LIMIT ?) ORDER BY id", "i",
	    limit == 0 || limit > INT64_MAX ? (int64_t)-1 : (int64_t)limit)) != 0)
		return rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_audit *a;

		if (grow(&v, &cap, n, sizeof(*v)) != 0) {
			rc = serr(st, -ENOMEM, "out of memory");
			goto out;
		}
		a = &v[n++];
		a->id = sqlite3_column_int64(s, 0);
		a->at = (time_t)sqlite3_column_int64(s, 1);
		if ((rc = col_dup(st, s, 2, false, &a->actor)) != 0 ||
		    (rc = col_dup(st, s, 3, false, &a->command)) != 0 ||
		    (rc = col_dup(st, s, 4, false, &a->object)) != 0 ||
		    (rc = col_dup(st, s, 5, true, &a->old_json)) != 0 ||
		    (rc = col_dup(st, s, 6, true, &a->new_json)) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE) {
		rc = sqlerr(st, rc);
		goto out;
	}
	sqlite3_finalize(s);
	*out = v;
	*nout = n;
	return 0;
out:
	sqlite3_finalize(s);
	store_audit_free(v, n);
	return rc;
}
