/* store_fixture.h: what the store's unit tests share (test_store.c,
 * test_store_xmpp.c): a temporary db per test, raw SQL as an admin's shell
 * would run it, small checks.  Include after ../../src/store.c and unit.h
 * (it reaches the store's statics). */
#ifndef SIPEDGE_STORE_FIXTURE_H
#define SIPEDGE_STORE_FIXTURE_H

/* Each test runs in its own process (unit.h) with its own temporary dir. */
static char dir[64];
static char dbpath[128];

static void
cleanup(void)
{
	char cmd[160];

	if (dir[0] == '\0')
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "# could not remove %s\n", dir);
}

/* unit.h ends a test's process with _exit(), which skips atexit(): wrap each
 * test so that its directory goes whatever the result. */
#define STORE_TEST(name)                                                      \
	static int name##_body(void);                                         \
	static int name(void)                                                 \
	{                                                                     \
		int rc_ = name##_body();                                      \
		cleanup();                                                    \
		return rc_;                                                   \
	}                                                                     \
	static int name##_body(void)

static int
tmpdb(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_store.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(dbpath, sizeof(dbpath), "%s/policy.db", dir);
	return 0;
}

/* A fresh, initialised db. */
static struct store *
new_store(void)
{
	struct store *st = NULL;
	char err[512];

	if (tmpdb() != 0)
		return NULL;
	if (store_open(dbpath, STORE_OPEN_CREATE | STORE_OPEN_ANY, &st, err, sizeof(err)) != 0) {
		fprintf(stderr, "# open: %s\n", err);
		return NULL;
	}
	if (store_init(st) != 0) {
		fprintf(stderr, "# init: %s\n", store_error(st));
		store_close(st);
		return NULL;
	}
	store_set_actor(st, "tester");
	return st;
}

/* A fresh db at schema version 1 (as the first release wrote it), for the
 * migration tests. */
static struct store *
new_store_v1(void)
{
	struct store *st = NULL;
	char err[512];

	if (tmpdb() != 0)
		return NULL;
	if (store_open(dbpath, STORE_OPEN_CREATE | STORE_OPEN_ANY, &st, err, sizeof(err)) != 0) {
		fprintf(stderr, "# open: %s\n", err);
		return NULL;
	}
	if (migrate_list(st, store__sql, 1, "db init", NULL, NULL) != 0) {
		fprintf(stderr, "# init v1: %s\n", store_error(st));
		store_close(st);
		return NULL;
	}
	store_set_actor(st, "tester");
	return st;
}

/* Run SQL on the db file through a separate connection (an admin with the
 * sqlite3 shell). */
static int
raw_sql(const char *sql)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open(dbpath, &db);

	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		fprintf(stderr, "# raw sql: %s\n", sqlite3_errmsg(db));
	sqlite3_close(db);
	return rc;
}

static int
count(struct store *st, const char *sql)
{
	int64_t n = -1;

	if (store__query_int(st, &n, sql, NULL) != 0)
		return -1;
	return (int)n;
}

static bool
has(const char *s, const char *want)
{
	if (s == NULL || strstr(s, want) == NULL) {
		fprintf(stderr, "# \"%s\" lacks \"%s\"\n", s ? s : "(null)", want);
		return false;
	}
	return true;
}

#endif
