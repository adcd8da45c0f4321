/* store.c: the SQLite policy store: errors, statement and transaction helpers,
 * open and version checks, migrations, names.  The store's SQL is in its files
 * (store*.c) and in db/ *.sql; store_int.h is what they share. */
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


/* ------------------------------------------------------------------ errors */

int
store__serr(struct store *st, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->err, sizeof(st->err), fmt, ap);
	va_end(ap);
	return rc;
}

/* Map a failed SQLite call to an errno and a message naming the db. */
int
store__sqlerr(struct store *st, int rc)
{
	const char *msg = st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc);

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return store__serr(st, -EBUSY, "%s: locked by another process; try again (%s)",
		    st->path, msg);
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return store__serr(st, -EILSEQ, "%s: not a sipedge policy database, or corrupt (%s)",
		    st->path, msg);
	case SQLITE_CONSTRAINT:
		return store__serr(st, -EEXIST, "%s", msg);
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return store__serr(st, -EACCES, "%s: cannot write: %s", st->path, msg);
	case SQLITE_CANTOPEN:
		return store__serr(st, -EACCES, "%s: cannot open: %s", st->path, msg);
	case SQLITE_FULL:
		return store__serr(st, -ENOSPC, "%s: %s", st->path, msg);
	default:
		return store__serr(st, -EIO, "%s: %s", st->path, msg);
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
int
store__prep(struct store *st, sqlite3_stmt **out, const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *s = NULL;
	va_list ap;
	int rc;

	rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return store__sqlerr(st, rc);
	va_start(ap, fmt);
	rc = bindv(s, fmt, ap);
	va_end(ap);
	if (rc != SQLITE_OK) {
		rc = store__sqlerr(st, rc);
		sqlite3_finalize(s);
		return rc;
	}
	*out = s;
	return 0;
}

/* Run one statement that returns no rows.  *changes (may be NULL) gets the
 * number of rows changed. */
int
store__run(struct store *st, int *changes, const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *s = NULL;
	va_list ap;
	int rc;

	rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return store__sqlerr(st, rc);
	va_start(ap, fmt);
	rc = bindv(s, fmt, ap);
	va_end(ap);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		rc = store__sqlerr(st, rc);
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
int
store__query_int(struct store *st, int64_t *out, const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *s = NULL;
	va_list ap;
	int rc;

	rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return store__sqlerr(st, rc);
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
		rc = store__sqlerr(st, rc);
	}
	sqlite3_finalize(s);
	return rc;
}

/* First column of the first row as a fresh string (NULL for SQL NULL);
 * -ENOENT when there is no row. */
int
store__query_text(struct store *st, char **out, const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *s = NULL;
	va_list ap;
	int rc;

	rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return store__sqlerr(st, rc);
	va_start(ap, fmt);
	rc = bindv(s, fmt, ap);
	va_end(ap);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(s, 0);
		char *v = NULL;

		if (t != NULL && (v = strdup(t)) == NULL) {
			rc = store__serr(st, -ENOMEM, "out of memory");
		} else {
			*out = v;
			rc = 0;
		}
	} else if (rc == SQLITE_DONE) {
		rc = -ENOENT;
	} else {
		rc = store__sqlerr(st, rc);
	}
	sqlite3_finalize(s);
	return rc;
}

int
store__exec_sql(struct store *st, const char *sql)
{
	int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : store__sqlerr(st, rc);
}

/* Writers take the lock at BEGIN so two sipedgectl runs cannot both read the
 * old state and then collide at commit. */
int
store__tx_begin(struct store *st)
{
	return store__exec_sql(st, "BEGIN IMMEDIATE");
}

int
store__tx_commit(struct store *st)
{
	return store__exec_sql(st, "COMMIT");
}

/* Keep the first error's message: a rollback only cleans up. */
void
store__tx_rollback(struct store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Grow *arr (of elsize elements) so that it holds at least n + 1. */
int
store__grow(void *arr, size_t *cap, size_t n, size_t elsize)
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
	int rc = store__query_int(st, &v, "PRAGMA user_version", NULL);

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
	int rc = store__query_int(st, &n, "SELECT count(*) FROM sqlite_master", NULL);

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

	if ((rc = store__query_int(st, &app, "PRAGMA application_id", NULL)) != 0)
		return rc;
	if ((rc = db_version(st, &v)) != 0)
		return rc;
	if ((rc = db_has_schema(st, &has)) != 0)
		return rc;
	if ((v == 0 && has) || (v > 0 && app != STORE_APP_ID) || (app != 0 && app != STORE_APP_ID))
		return store__serr(st, -EILSEQ, "%s: not a sipedge policy database", st->path);
	if (v > store__nsql)
		return store__serr(st, -ENOTSUP,
		    "%s: schema version %d is newer than this program supports (%d); "
		    "use the sipedge release that wrote it", st->path, v, store__nsql);
	if (any)
		return 0;
	if (v == 0)
		return store__serr(st, -ENODATA,
		    "%s: not initialised; run \"sipedgectl db init\"", st->path);
	if (v < store__nsql)
		return store__serr(st, -ESTALE,
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
				store__serr(st, rc, "%s: no such file; create it with \"sipedgectl db init\"", path);
			else
				store__serr(st, rc, "%s: %s", path, strerror(errno));
			goto out;
		}
		oflags |= SQLITE_OPEN_CREATE;
	} else if (S_ISDIR(sb.st_mode)) {
		rc = store__serr(st, -EISDIR, "%s: is a directory", path);
		goto out;
	} else if (access(path, R_OK) != 0) {
		rc = store__serr(st, -errno, "%s: %s", path, strerror(errno));
		goto out;
	} else if (access(path, W_OK) != 0) {
		/* Let a reader list the policy; a change then fails with -EACCES. */
		oflags = SQLITE_OPEN_READONLY;
	}

	rc = sqlite3_open_v2(path, &st->db, oflags, NULL);
	if (rc != SQLITE_OK) {
		rc = store__sqlerr(st, rc);
		goto out;
	}
	sqlite3_busy_timeout(st->db, STORE_BUSY_MS);
	if ((rc = check_version(st, flags & STORE_OPEN_ANY)) != 0)
		goto out;
	if ((rc = store__exec_sql(st, "PRAGMA foreign_keys = ON")) != 0)
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

int
store_sync_relaxed(struct store *st)
{
	return store__exec_sql(st, "PRAGMA synchronous = NORMAL");
}

void
store_set_actor(struct store *st, const char *actor)
{
	snprintf(st->actor, sizeof(st->actor), "%s", actor && *actor ? actor : "unknown");
}

/* ------------------------------------------------------------- migrations */

int
store__audit_add(struct store *st, const char *command, const char *object,
    const char *old, const char *new)
{
	return store__run(st, NULL,
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
	if ((rc = store__tx_begin(st)) != 0)
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
			rc = store__serr(st, -EILSEQ, "%s: not a sipedge policy database", st->path);
			goto out;
		}
	}
	if (sqlite3_exec(st->db, sql[v], NULL, NULL, NULL) != SQLITE_OK) {
		rc = store__serr(st, -EIO, "%s: migration to schema version %d failed: %s",
		    st->path, v + 1, sqlite3_errmsg(st->db));
		goto out;
	}
	if ((rc = store__prep(st, &s, "PRAGMA foreign_key_check", NULL)) != 0)
		goto out;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		rc = store__serr(st, -EIO, "%s: migration to schema version %d broke a foreign key",
		    st->path, v + 1);
		goto out;
	}
	if (rc != SQLITE_DONE) {
		rc = store__sqlerr(st, rc);
		goto out;
	}
	snprintf(buf, sizeof(buf), "PRAGMA application_id = %d; PRAGMA user_version = %d",
	    STORE_APP_ID, v + 1);
	if ((rc = store__exec_sql(st, buf)) != 0)
		goto out;
	snprintf(o, sizeof(o), "%d", v);
	snprintf(nw, sizeof(nw), "%d", v + 1);
	if ((rc = store__audit_add(st, command, "schema", v ? o : NULL, nw)) != 0)
		goto out;
	rc = store__tx_commit(st);
out:
	sqlite3_finalize(s);
	/* Also ends the read-only transaction of a step with nothing to do. */
	store__tx_rollback(st);
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
		return store__serr(st, -ENOTSUP,
		    "%s: schema version %d is newer than this program supports (%d); "
		    "use the sipedge release that wrote it", st->path, v0, n);
	if (v0 < n) {
		if ((rc = store__exec_sql(st, "PRAGMA journal_mode = WAL")) != 0 ||
		    (rc = store__exec_sql(st, "PRAGMA foreign_keys = OFF")) != 0)
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
		store__exec_sql(st, "PRAGMA foreign_keys = ON");
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
		return store__serr(st, -EEXIST, "%s: already initialised (schema version %d)%s",
		    st->path, v, v < store__nsql ? "; run \"sipedgectl db migrate\"" : "");
	if (has)
		return store__serr(st, -EILSEQ, "%s: not a sipedge policy database", st->path);
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
	int rc = store__query_int(st, &g, "SELECT value FROM meta WHERE key = 'generation'", NULL);

	if (rc == -ENOENT)
		return store__serr(st, -EILSEQ, "%s: no generation counter; corrupt policy database",
		    st->path);
	if (rc == 0)
		*out = (uint64_t)g;
	return rc;
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
	return -ENOENT;
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
int
store__norm(struct store *st, const char *what, const char *in, char out[NAMES_MAX + 1])
{
	const char *why;

	if (names_normalize(in, out, NAMES_MAX + 1, &why) != 0)
		return store__serr(st, -EINVAL, "invalid %s \"%s\": %s", what, in ? in : "", why);
	return 0;
}

/* Comments are shown in one table cell: one line of printable text. */
int
store__check_comment(struct store *st, const char *c)
{
	if (c == NULL)
		return 0;
	if (strlen(c) > STORE_COMMENT_MAX)
		return store__serr(st, -EINVAL, "comment longer than %d bytes", STORE_COMMENT_MAX);
	for (const unsigned char *p = (const unsigned char *)c; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return store__serr(st, -EINVAL, "comment contains a control character");
	return 0;
}
