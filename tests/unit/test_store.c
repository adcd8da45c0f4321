/* test_store.c: unit tests for store.c: open and version checks, migrations,
 * consistency rules, settings, generation counter, partners, audit, import. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/store.c"
#include "unit.h"

#include "store_fixture.h"

/* ------------------------------------------------------------------ open */

STORE_TEST(test_store_init_creates_current_schema)
{
	struct store *st = new_store();
	char *mode = NULL;
	int v = -1;

	CHECK(st != NULL);
	CHECK_EQ_INT(store_db_version(st, &v), 0);
	CHECK_EQ_INT(v, store_schema_version());
	CHECK(store_schema_version() >= 1);
	CHECK_EQ_INT(count(st, "PRAGMA application_id"), STORE_APP_ID);
	CHECK_EQ_INT(count(st, "PRAGMA foreign_keys"), 1);
	CHECK_EQ_INT(store__query_text(st, &mode, "PRAGMA journal_mode", NULL), 0);
	CHECK_EQ_STR(mode, "wal");
	free(mode);
	/* A second init is refused and says why. */
	CHECK_EQ_INT(store_init(st), -EEXIST);
	CHECK(has(store_error(st), "already initialised"));
	/* The init is in the audit log, one entry per schema version. */
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM audit WHERE command = 'db init'"),
	    store_schema_version());
	store_close(st);
	return 0;
}

STORE_TEST(test_store_open_missing_file)
{
	struct store *st = NULL;
	char err[512];

	CHECK(tmpdb() == 0);
	CHECK_EQ_INT(store_open(dbpath, 0, &st, err, sizeof(err)), -ENOENT);
	CHECK(st == NULL);
	CHECK(has(err, "no such file"));
	CHECK(has(err, "db init"));
	CHECK(access(dbpath, F_OK) != 0);
	CHECK_EQ_INT(store_open(dir, 0, &st, err, sizeof(err)), -EISDIR);
	return 0;
}

STORE_TEST(test_store_open_uninitialised)
{
	struct store *st = NULL;
	char err[512];
	int fd;

	CHECK(tmpdb() == 0);
	/* An empty file (e.g. from mktemp) is a db of version 0. */
	CHECK((fd = open(dbpath, O_CREAT | O_WRONLY, 0600)) >= 0);
	close(fd);
	CHECK_EQ_INT(store_open(dbpath, 0, &st, err, sizeof(err)), -ENODATA);
	CHECK(has(err, "not initialised"));
	CHECK_EQ_INT(store_open(dbpath, STORE_OPEN_ANY, &st, err, sizeof(err)), 0);
	CHECK_EQ_INT(store_init(st), 0);
	store_close(st);
	CHECK_EQ_INT(store_open(dbpath, 0, &st, err, sizeof(err)), 0);
	store_close(st);
	return 0;
}

STORE_TEST(test_store_refuses_newer_db)
{
	struct store *st = new_store();
	char err[512], sql[64];

	CHECK(st != NULL);
	store_close(st);
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", store_schema_version() + 1);
	CHECK(raw_sql(sql) == SQLITE_OK);
	CHECK_EQ_INT(store_open(dbpath, 0, &st, err, sizeof(err)), -ENOTSUP);
	CHECK(has(err, "newer"));
	/* Migration refuses too, and does not touch it. */
	CHECK_EQ_INT(store_open(dbpath, STORE_OPEN_ANY, &st, err, sizeof(err)), -ENOTSUP);
	return 0;
}

STORE_TEST(test_store_refuses_garbage_file)
{
	struct store *st = NULL;
	char err[512], junk[8192];
	FILE *f;

	CHECK(tmpdb() == 0);
	memset(junk, 'x', sizeof(junk));
	CHECK((f = fopen(dbpath, "w")) != NULL);
	CHECK(fwrite(junk, 1, sizeof(junk), f) == sizeof(junk));
	fclose(f);
	CHECK_EQ_INT(store_open(dbpath, 0, &st, err, sizeof(err)), -EILSEQ);
	CHECK(has(err, "not a sipedge policy database, or corrupt"));
	CHECK_EQ_INT(store_open(dbpath, STORE_OPEN_CREATE | STORE_OPEN_ANY, &st, err,
	    sizeof(err)), -EILSEQ);
	return 0;
}

STORE_TEST(test_store_refuses_foreign_sqlite_db)
{
	struct store *st = NULL;
	char err[512];

	CHECK(tmpdb() == 0);
	CHECK(raw_sql("CREATE TABLE users (name TEXT)") == SQLITE_OK);
	CHECK_EQ_INT(store_open(dbpath, 0, &st, err, sizeof(err)), -EILSEQ);
	CHECK(has(err, "not a sipedge policy database"));
	/* db init will not take it over. */
	CHECK_EQ_INT(store_open(dbpath, STORE_OPEN_ANY, &st, err, sizeof(err)), -EILSEQ);
	/* Nor one with our version number but another application id. */
	CHECK(raw_sql("DROP TABLE users; PRAGMA user_version = 1") == SQLITE_OK);
	CHECK_EQ_INT(store_open(dbpath, 0, &st, err, sizeof(err)), -EILSEQ);
	return 0;
}

STORE_TEST(test_store_corrupt_pages)
{
	struct store *st = new_store();
	struct store_policy *p = NULL;
	char err[512], junk[4096];
	struct stat sb;
	int fd, rc;

	CHECK(st != NULL);
	for (int i = 0; i < 50; i++) {
		char d[32];

		snprintf(d, sizeof(d), "partner%d.test", i);
		CHECK_EQ_INT(store_allowed_add(st, d, NULL, false, "some comment text"), 0);
	}
	store_close(st);
	/* Keep page 1 (header and schema) and smash every other page. */
	CHECK(stat(dbpath, &sb) == 0);
	CHECK(sb.st_size > 4096);
	memset(junk, 0x5a, sizeof(junk));
	CHECK((fd = open(dbpath, O_WRONLY)) >= 0);
	for (off_t off = 4096; off < sb.st_size; off += 4096)
		CHECK(pwrite(fd, junk, sizeof(junk), off) == (ssize_t)sizeof(junk));
	close(fd);
	rc = store_open(dbpath, 0, &st, err, sizeof(err));
	if (rc == 0) {
		rc = store_policy_load(st, &p);
		snprintf(err, sizeof(err), "%s", store_error(st));
		store_close(st);
	}
	CHECK_EQ_INT(rc, -EILSEQ);
	CHECK(has(err, "corrupt"));
	return 0;
}

STORE_TEST(test_store_busy)
{
	struct store *st = new_store(), *st2 = NULL;
	char err[512];

	CHECK(st != NULL);
	CHECK_EQ_INT(store_open(dbpath, 0, &st2, err, sizeof(err)), 0);
	CHECK_EQ_INT(store__exec_sql(st2, "BEGIN IMMEDIATE"), 0);
	store_busy_timeout(st, 50);
	CHECK_EQ_INT(store_blocked_add(st, "fabrikam.test", NULL), -EBUSY);
	CHECK(has(store_error(st), "locked"));
	CHECK_EQ_INT(store__exec_sql(st2, "ROLLBACK"), 0);
	CHECK_EQ_INT(store_blocked_add(st, "fabrikam.test", NULL), 0);
	store_close(st2);
	store_close(st);
	return 0;
}

/* ------------------------------------------------------------- migrations */

STORE_TEST(test_store_migration_applies_in_order)
{
	struct store *st = new_store_v1();
	const char *list[3];
	int from = -1, to = -1, v = 0;
	struct store_policy *p = NULL;

	CHECK(st != NULL);
	/* As a version 1 sipedgectl wrote it (this one's code expects version 2). */
	CHECK_EQ_INT(store__run(st, NULL, "INSERT INTO allowed_domain (domain, monitor, comment, "
	    "added) VALUES ('fabrikam.test', 1, 'keep me', 0)", NULL), 0);
	list[0] = store__sql[0];
	list[1] = "ALTER TABLE allowed_domain ADD COLUMN note2 TEXT;";
	list[2] = "CREATE TABLE extra (x INTEGER); INSERT INTO extra VALUES (42);";
	CHECK_EQ_INT(migrate_list(st, list, 3, "db migrate", &from, &to), 0);
	CHECK_EQ_INT(from, 1);
	CHECK_EQ_INT(to, 3);
	CHECK_EQ_INT(db_version(st, &v), 0);
	CHECK_EQ_INT(v, 3);
	CHECK_EQ_INT(count(st, "SELECT x FROM extra"), 42);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM audit WHERE command = 'db migrate'"), 2);
	/* Data survives; a second run has nothing to do. */
	CHECK_EQ_INT(count(st, "SELECT monitor FROM allowed_domain WHERE domain = 'fabrikam.test'"), 1);
	CHECK_EQ_INT(migrate_list(st, list, 3, "db migrate", &from, &to), 0);
	CHECK_EQ_INT(from, 3);
	CHECK_EQ_INT(to, 3);
	/* This binary (fewer migrations) now refuses the db. */
	CHECK_EQ_INT(store_migrate(st, NULL, NULL), -ENOTSUP);
	(void)p;
	store_close(st);
	return 0;
}

STORE_TEST(test_store_failed_migration_rolls_back)
{
	struct store *st = new_store_v1();
	const char *list[2];
	int v = 0;

	CHECK(st != NULL);
	list[0] = store__sql[0];
	list[1] = "CREATE TABLE half (x); INSERT INTO no_such_table VALUES (1);";
	CHECK_EQ_INT(migrate_list(st, list, 2, "db migrate", NULL, NULL), -EIO);
	CHECK(has(store_error(st), "migration to schema version 2 failed"));
	CHECK_EQ_INT(db_version(st, &v), 0);
	CHECK_EQ_INT(v, 1);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM sqlite_master WHERE name = 'half'"), 0);
	/* Foreign keys are back on after a failed migration. */
	CHECK_EQ_INT(count(st, "PRAGMA foreign_keys"), 1);
	/* A migration that leaves a dangling reference is refused. */
	list[1] = "PRAGMA foreign_keys = OFF; INSERT INTO provider_domain VALUES ('x.test', 999);";
	CHECK_EQ_INT(migrate_list(st, list, 2, "db migrate", NULL, NULL), -EIO);
	CHECK(has(store_error(st), "foreign key"));
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM provider_domain"), 0);
	store_close(st);
	return 0;
}

STORE_TEST(test_store_migrate_from_empty)
{
	struct store *st = NULL;
	char err[512];
	int from = -1, to = -1;

	CHECK(tmpdb() == 0);
	CHECK_EQ_INT(store_open(dbpath, STORE_OPEN_CREATE | STORE_OPEN_ANY, &st, err,
	    sizeof(err)), 0);
	CHECK_EQ_INT(store_migrate(st, &from, &to), 0);
	CHECK_EQ_INT(from, 0);
	CHECK_EQ_INT(to, store_schema_version());
	store_close(st);
	CHECK_EQ_INT(store_open(dbpath, 0, &st, err, sizeof(err)), 0);
	store_close(st);
	return 0;
}

/* ------------------------------------------------------------ consistency */

STORE_TEST(test_store_allowed_and_blocked_exclusive)
{
	struct store *st = new_store();

	CHECK(st != NULL);
	CHECK_EQ_INT(store_allowed_add(st, "Fabrikam.Test.", NULL, false, NULL), 0);
	CHECK_EQ_INT(store_blocked_add(st, "fabrikam.test", NULL), -EEXIST);
	CHECK(has(store_error(st), "fabrikam.test is allowed"));
	CHECK_EQ_INT(store_blocked_add(st, "litware.test", "spam"), 0);
	CHECK_EQ_INT(store_allowed_add(st, "LITWARE.test", NULL, false, NULL), -EEXIST);
	CHECK(has(store_error(st), "litware.test is blocked"));
	CHECK_EQ_INT(store_allowed_add(st, "fabrikam.test", NULL, false, NULL), -EEXIST);
	CHECK(has(store_error(st), "already allowed"));
	CHECK_EQ_INT(store_blocked_add(st, "litware.test", NULL), -EEXIST);
	CHECK(has(store_error(st), "already blocked"));
	/* The triggers hold for the sqlite3 shell too. */
	store_close(st);
	CHECK(raw_sql("INSERT INTO blocked_domain (domain, added) VALUES ('fabrikam.test', 0)")
	    == SQLITE_CONSTRAINT);
	CHECK(raw_sql("INSERT INTO allowed_domain (domain, added) VALUES ('litware.test', 0)")
	    == SQLITE_CONSTRAINT);
	return 0;
}

STORE_TEST(test_store_remove_unknown)
{
	struct store *st = new_store();

	CHECK(st != NULL);
	CHECK_EQ_INT(store_allowed_remove(st, "fabrikam.test"), -ENOENT);
	CHECK(has(store_error(st), "not in the allow list"));
	CHECK_EQ_INT(store_blocked_remove(st, "fabrikam.test"), -ENOENT);
	CHECK(has(store_error(st), "not in the block list"));
	CHECK_EQ_INT(store_provider_remove(st, "nobody"), -ENOENT);
	CHECK(has(store_error(st), "no provider named nobody"));
	CHECK_EQ_INT(store_allowed_remove(st, "bad_name"), -EINVAL);
	CHECK_EQ_INT(store_allowed_add(st, "fabrikam.test", NULL, false, NULL), 0);
	CHECK_EQ_INT(store_allowed_remove(st, "FABRIKAM.TEST."), 0);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM allowed_domain"), 0);
	store_close(st);
	return 0;
}

STORE_TEST(test_store_bad_names_and_comments)
{
	struct store *st = new_store();
	struct store_provider p = { 0 };

	CHECK(st != NULL);
	CHECK_EQ_INT(store_allowed_add(st, "*.fabrikam.test", NULL, false, NULL), -EINVAL);
	CHECK(has(store_error(st), "invalid domain \"*.fabrikam.test\""));
	CHECK_EQ_INT(store_allowed_add(st, "fabrikam.test", "sip_1.fabrikam.test", false, NULL),
	    -EINVAL);
	CHECK(has(store_error(st), "invalid proxy FQDN"));
	CHECK_EQ_INT(store_allowed_add(st, "fabrikam.test", NULL, false, "two\nlines"), -EINVAL);
	CHECK(has(store_error(st), "control character"));
	CHECK_EQ_INT(store_blocked_add(st, "", NULL), -EINVAL);
	p.name = "has space";
	p.proxy_fqdn = "fed.msn.test";
	CHECK_EQ_INT(store_provider_add(st, &p), -EINVAL);
	CHECK(has(store_error(st), "invalid provider name"));
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM allowed_domain"), 0);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM provider"), 0);
	store_close(st);
	return 0;
}

STORE_TEST(test_store_provider_names_and_proxies_unique)
{
	struct store *st = new_store();
	struct store_provider p = { 0 };
	char *d1[] = { "msn.test", "hotmail.test" }, *d2[] = { "HOTMAIL.test" };

	CHECK(st != NULL);
	p.name = "MSN";
	p.kind = STORE_PROVIDER_PUBLIC;
	p.proxy_fqdn = "fed.msn.test";
	p.enabled = true;
	p.domains = d1;
	p.ndomains = 2;
	CHECK_EQ_INT(store_provider_add(st, &p), 0);
	/* Same name (any case), other kind. */
	p.name = "msn";
	p.kind = STORE_PROVIDER_HOSTING;
	p.proxy_fqdn = "other.test";
	p.domains = NULL;
	p.ndomains = 0;
	CHECK_EQ_INT(store_provider_add(st, &p), -EEXIST);
	CHECK(has(store_error(st), "a provider named msn already exists"));
	/* Same proxy FQDN, other kind. */
	p.name = "Hoster";
	p.proxy_fqdn = "FED.msn.test";
	CHECK_EQ_INT(store_provider_add(st, &p), -EEXIST);
	CHECK(has(store_error(st), "provider MSN already uses proxy FQDN fed.msn.test"));
	/* A domain served by another provider. */
	p.proxy_fqdn = "sip.hoster.test";
	p.domains = d2;
	p.ndomains = 1;
	CHECK_EQ_INT(store_provider_add(st, &p), -EEXIST);
	CHECK(has(store_error(st), "hotmail.test is already served by provider MSN"));
	/* Nothing of the refused provider was kept. */
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM provider"), 1);
	p.domains = NULL;
	p.ndomains = 0;
	CHECK_EQ_INT(store_provider_add(st, &p), 0);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM provider"), 2);
	store_close(st);
	return 0;
}

STORE_TEST(test_store_fqdn_not_partner_server_and_provider)
{
	struct store *st = new_store();
	struct store_provider p = { 0 };
	struct store_provider_patch pt = { .kind = -1, .verification = -1, .enabled = -1 };

	CHECK(st != NULL);
	CHECK_EQ_INT(store_allowed_add(st, "fabrikam.test", "sip.fabrikam.test", false, NULL), 0);
	p.name = "Fab";
	p.proxy_fqdn = "SIP.fabrikam.test.";
	CHECK_EQ_INT(store_provider_add(st, &p), -EEXIST);
	CHECK(has(store_error(st), "allowed partner server fabrikam.test"));
	p.proxy_fqdn = "fed.provider.test";
	CHECK_EQ_INT(store_provider_add(st, &p), 0);
	CHECK_EQ_INT(store_allowed_add(st, "litware.test", "fed.provider.test", false, NULL),
	    -EEXIST);
	CHECK(has(store_error(st), "proxy FQDN of provider Fab"));
	pt.proxy_fqdn = "sip.fabrikam.test";
	CHECK_EQ_INT(store_provider_update(st, "fab", &pt), -EEXIST);
	/* Two allowed domains may share a partner server. */
	CHECK_EQ_INT(store_allowed_add(st, "fabrikam2.test", "sip.fabrikam.test", false, NULL), 0);
	store_close(st);
	CHECK(raw_sql("INSERT INTO allowed_domain (domain, proxy_fqdn, added) "
	    "VALUES ('x.test', 'fed.provider.test', 0)") == SQLITE_CONSTRAINT);
	CHECK(raw_sql("UPDATE provider SET proxy_fqdn = 'sip.fabrikam.test'") == SQLITE_CONSTRAINT);
	return 0;
}

STORE_TEST(test_store_provider_update)
{
	struct store *st = new_store();
	struct store_provider p = { 0 };
	struct store_provider_patch pt = { .kind = -1, .verification = -1, .enabled = -1 };
	struct store_policy *pol = NULL;
	char *d[] = { "a.test", "b.test" };
	const char *add[] = { "c.test" }, *rm[] = { "a.test" }, *rm2[] = { "zzz.test" };
	const char *set[] = { "x.test" };

	CHECK(st != NULL);
	p.name = "Prov";
	p.proxy_fqdn = "fed.prov.test";
	p.enabled = true;
	p.domains = d;
	p.ndomains = 2;
	CHECK_EQ_INT(store_provider_add(st, &p), 0);
	pt.kind = STORE_PROVIDER_HOSTING;
	pt.verification = STORE_VERIFY_ALWAYS_UNVERIFIED;
	pt.enabled = 0;
	pt.comment = "changed";
	pt.add_domains = add;
	pt.nadd_domains = 1;
	pt.remove_domains = rm;
	pt.nremove_domains = 1;
	CHECK_EQ_INT(store_provider_update(st, "PROV", &pt), 0);
	CHECK_EQ_INT(store_policy_load(st, &pol), 0);
	CHECK_EQ_INT(pol->nproviders, 1);
	CHECK_EQ_STR(pol->providers[0].name, "Prov");
	CHECK_EQ_INT(pol->providers[0].kind, STORE_PROVIDER_HOSTING);
	CHECK_EQ_INT(pol->providers[0].verification, STORE_VERIFY_ALWAYS_UNVERIFIED);
	CHECK(!pol->providers[0].enabled);
	CHECK_EQ_STR(pol->providers[0].comment, "changed");
	CHECK_EQ_INT(pol->providers[0].ndomains, 2);
	CHECK_EQ_STR(pol->providers[0].domains[0], "b.test");
	CHECK_EQ_STR(pol->providers[0].domains[1], "c.test");
	store_policy_free(pol);
	/* Removing a domain it does not serve fails and changes nothing. */
	memset(&pt, 0, sizeof(pt));
	pt.kind = pt.verification = -1;
	pt.enabled = 1;
	pt.remove_domains = rm2;
	pt.nremove_domains = 1;
	CHECK_EQ_INT(store_provider_update(st, "Prov", &pt), -ENOENT);
	CHECK(has(store_error(st), "does not serve domain zzz.test"));
	CHECK_EQ_INT(count(st, "SELECT enabled FROM provider"), 0);
	/* Replace the list. */
	memset(&pt, 0, sizeof(pt));
	pt.kind = pt.verification = pt.enabled = -1;
	pt.set_domains = true;
	pt.domains = set;
	pt.ndomains = 1;
	CHECK_EQ_INT(store_provider_update(st, "Prov", &pt), 0);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM provider_domain"), 1);
	CHECK_EQ_INT(store_provider_update(st, "Nobody", &pt), -ENOENT);
	/* Removing the provider removes its domains. */
	CHECK_EQ_INT(store_provider_remove(st, "prov"), 0);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM provider_domain"), 0);
	store_close(st);
	return 0;
}

/* --------------------------------------------------------------- settings */

STORE_TEST(test_store_config_defaults)
{
	struct store *st = new_store();
	struct store_policy *p = NULL;
	struct store_config c;

	CHECK(st != NULL);
	CHECK_EQ_INT(store_policy_load(st, &p), 0);
	c = p->config;
	CHECK(!c.federation);
	CHECK(!c.partner_discovery);
	CHECK_EQ_INT(c.routing, STORE_ROUTING_DNS_SRV);
	CHECK_EQ_STR(c.default_route_fqdn, "");
	CHECK_EQ_INT(c.discovered_rate, 20);
	CHECK_EQ_INT(c.discovered_suspicious_rate, 1);
	CHECK_EQ_INT(c.discovered_contacts, 1000);
	CHECK_EQ_INT(c.discovered_period, 60);
	CHECK(c.mark_source_verifiable);
	store_policy_free(p);
	/* Every default parses and passes the cross-setting rules. */
	for (const struct store_setting *s = store_settings(); s->name; s++) {
		char err[256];

		store_config_defaults(&c);
		CHECK_EQ_INT(store_setting_parse(s, s->def, &c, err, sizeof(err)), 0);
		CHECK(s->description != NULL && s->description[0] != '\0');
	}
	CHECK_EQ_INT(store_config_check(&c, NULL, 0), 0);
	store_close(st);
	return 0;
}

STORE_TEST(test_store_config_set_and_reset)
{
	struct store *st = new_store();
	struct store_policy *p = NULL;

	CHECK(st != NULL);
	CHECK_EQ_INT(store_config_set(st, "federation", "on"), 0);
	CHECK_EQ_INT(store_config_set(st, "discovered-rate", "50"), 0);
	CHECK_EQ_INT(store_config_set(st, "default-route-fqdn", "Proxy.Contoso.Test."), 0);
	CHECK_EQ_INT(store_policy_load(st, &p), 0);
	CHECK(p->config.federation);
	CHECK_EQ_INT(p->config.discovered_rate, 50);
	CHECK_EQ_STR(p->config.default_route_fqdn, "proxy.contoso.test");
	store_policy_free(p);
	CHECK_EQ_INT(store_config_reset(st, "discovered-rate"), 0);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM config WHERE name = 'discovered-rate'"), 0);
	CHECK_EQ_INT(store_policy_load(st, &p), 0);
	CHECK_EQ_INT(p->config.discovered_rate, 20);
	store_policy_free(p);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM audit WHERE object = 'config discovered-rate'"), 2);
	store_close(st);
	return 0;
}

STORE_TEST(test_store_config_refusals)
{
	struct store *st = new_store();

	CHECK(st != NULL);
	CHECK_EQ_INT(store_config_set(st, "no-such-key", "1"), -ENOENT);
	CHECK(has(store_error(st), "unknown setting \"no-such-key\""));
	CHECK_EQ_INT(store_config_set(st, "federation", "maybe"), -EINVAL);
	CHECK(has(store_error(st), "not on or off"));
	CHECK_EQ_INT(store_config_set(st, "discovered-rate", "0"), -EINVAL);
	CHECK(has(store_error(st), "from 1 to"));
	CHECK_EQ_INT(store_config_set(st, "discovered-rate", "-1"), -EINVAL);
	CHECK_EQ_INT(store_config_set(st, "discovered-rate", "12x"), -EINVAL);
	CHECK_EQ_INT(store_config_set(st, "discovered-rate", ""), -EINVAL);
	CHECK_EQ_INT(store_config_set(st, "discovered-rate", "99999999999999999999"), -EINVAL);
	CHECK_EQ_INT(store_config_set(st, "routing-method", "smtp"), -EINVAL);
	CHECK_EQ_INT(store_config_set(st, "default-route-fqdn", "bad_fqdn"), -EINVAL);
	/* default-route needs its FQDN... */
	CHECK_EQ_INT(store_config_set(st, "routing-method", "default-route"), -EINVAL);
	CHECK(has(store_error(st), "needs default-route-fqdn"));
	CHECK_EQ_INT(store_config_set(st, "default-route-fqdn", "proxy.contoso.test"), 0);
	CHECK_EQ_INT(store_config_set(st, "routing-method", "default-route"), 0);
	/* ...which then cannot be unset, and partner discovery needs DNS SRV. */
	CHECK_EQ_INT(store_config_set(st, "default-route-fqdn", ""), -EINVAL);
	CHECK_EQ_INT(store_config_reset(st, "default-route-fqdn"), -EINVAL);
	CHECK_EQ_INT(store_config_set(st, "partner-discovery", "on"), -EINVAL);
	CHECK(has(store_error(st), "partner-discovery needs routing-method dns-srv"));
	CHECK_EQ_INT(store_config_set(st, "discovered-suspicious-rate", "21"), -EINVAL);
	CHECK(has(store_error(st), "must not be above"));
	store_close(st);
	return 0;
}

STORE_TEST(test_store_hand_edited_rows_refused_on_load)
{
	struct store *st = new_store();
	struct store_policy *p = NULL;

	CHECK(st != NULL);
	CHECK(raw_sql("INSERT INTO config VALUES ('discovered-rate', 'lots')") == SQLITE_OK);
	CHECK_EQ_INT(store_policy_load(st, &p), -EINVAL);
	CHECK(has(store_error(st), "discovered-rate"));
	CHECK(raw_sql("DELETE FROM config; INSERT INTO config VALUES ('bogus', '1')") == SQLITE_OK);
	CHECK_EQ_INT(store_policy_load(st, &p), -EINVAL);
	CHECK(has(store_error(st), "unknown setting \"bogus\""));
	CHECK(raw_sql("DELETE FROM config; INSERT INTO allowed_domain (domain, added) "
	    "VALUES ('bad_name.test', 0)") == SQLITE_OK);
	CHECK_EQ_INT(store_policy_load(st, &p), -EINVAL);
	CHECK(has(store_error(st), "bad_name.test"));
	store_close(st);
	return 0;
}

/* ------------------------------------------------------------- generation */

STORE_TEST(test_store_generation)
{
	struct store *st = new_store();
	struct store_partner_delta d = { .domain = "open.test", .requests = 1 };
	struct store_policy *p = NULL;
	uint64_t g0 = 0, g1 = 0, g2 = 0, g3 = 0;

	CHECK(st != NULL);
	CHECK_EQ_INT(store_generation(st, &g0), 0);
	CHECK_EQ_INT(store_allowed_add(st, "fabrikam.test", NULL, false, NULL), 0);
	CHECK_EQ_INT(store_generation(st, &g1), 0);
	CHECK(g1 > g0);
	/* A refused change leaves it alone. */
	CHECK_EQ_INT(store_blocked_add(st, "fabrikam.test", NULL), -EEXIST);
	CHECK_EQ_INT(store_generation(st, &g2), 0);
	CHECK_EQ_INT(g2, g1);
	/* Partner counters are not policy. */
	CHECK_EQ_INT(store_partners_record(st, &d, 1), 0);
	CHECK_EQ_INT(store_generation(st, &g2), 0);
	CHECK_EQ_INT(g2, g1);
	/* A change by another connection (the CLI while the daemon polls). */
	CHECK(raw_sql("UPDATE allowed_domain SET monitor = 1") == SQLITE_OK);
	CHECK_EQ_INT(store_generation(st, &g3), 0);
	CHECK(g3 > g2);
	CHECK_EQ_INT(store_policy_load(st, &p), 0);
	CHECK_EQ_INT(p->generation, g3);
	store_policy_free(p);
	CHECK_EQ_INT(store_config_set(st, "federation", "on"), 0);
	CHECK_EQ_INT(store_generation(st, &g0), 0);
	CHECK(g0 > g3);
	store_close(st);
	return 0;
}

/* --------------------------------------------------------------- policy */

STORE_TEST(test_store_policy_load)
{
	struct store *st = new_store();
	struct store_provider pr = { 0 };
	struct store_policy *p = NULL;
	char *d[] = { "z.test", "y.test" };

	CHECK(st != NULL);
	CHECK_EQ_INT(store_allowed_add(st, "b.test", "sip.b.test", true, "direct"), 0);
	CHECK_EQ_INT(store_allowed_add(st, "a.test", NULL, false, NULL), 0);
	CHECK_EQ_INT(store_blocked_add(st, "evil.test", "spam"), 0);
	pr.name = "zeta";
	pr.proxy_fqdn = "fed.zeta.test";
	pr.kind = STORE_PROVIDER_HOSTING;
	pr.verification = STORE_VERIFY_ALWAYS_VERIFIED;
	pr.enabled = true;
	pr.domains = d;
	pr.ndomains = 2;
	CHECK_EQ_INT(store_provider_add(st, &pr), 0);
	pr.name = "Alpha";
	pr.proxy_fqdn = "fed.alpha.test";
	pr.domains = NULL;
	pr.ndomains = 0;
	pr.enabled = false;
	CHECK_EQ_INT(store_provider_add(st, &pr), 0);
	CHECK_EQ_INT(store_policy_load(st, &p), 0);
	CHECK_EQ_INT(p->nallowed, 2);
	CHECK_EQ_STR(p->allowed[0].domain, "a.test");
	CHECK(p->allowed[0].proxy_fqdn == NULL);
	CHECK_EQ_STR(p->allowed[0].comment, "");
	CHECK_EQ_STR(p->allowed[1].proxy_fqdn, "sip.b.test");
	CHECK(p->allowed[1].monitor);
	CHECK_EQ_INT(p->nblocked, 1);
	CHECK_EQ_STR(p->blocked[0].comment, "spam");
	CHECK_EQ_INT(p->nproviders, 2);
	CHECK_EQ_STR(p->providers[0].name, "Alpha");
	CHECK(!p->providers[0].enabled);
	CHECK_EQ_INT(p->providers[0].ndomains, 0);
	CHECK_EQ_STR(p->providers[1].name, "zeta");
	CHECK_EQ_INT(p->providers[1].verification, STORE_VERIFY_ALWAYS_VERIFIED);
	CHECK_EQ_INT(p->providers[1].ndomains, 2);
	CHECK_EQ_STR(p->providers[1].domains[0], "y.test");
	store_policy_free(p);
	store_close(st);
	return 0;
}

static struct store_policy
sample_policy(void)
{
	static char *doms[] = { "msn.test" };
	static struct store_allowed al[] = {
		{ "fabrikam.test", "sip.fabrikam.test", true, "direct" },
		{ "litware.test", NULL, false, "" },
	};
	static struct store_blocked bl[] = { { "evil.test", "spam" } };
	static struct store_provider pr[] = {
		{ "MSN", STORE_PROVIDER_PUBLIC, "fed.msn.test", STORE_VERIFY_USE_SOURCE, true, "",
		  doms, 1 },
	};
	struct store_policy p = { 0 };

	store_config_defaults(&p.config);
	p.config.federation = true;
	p.config.discovered_rate = 30;
	p.allowed = al;
	p.nallowed = 2;
	p.blocked = bl;
	p.nblocked = 1;
	p.providers = pr;
	p.nproviders = 1;
	return p;
}

STORE_TEST(test_store_policy_replace)
{
	struct store *st = new_store();
	struct store_policy in = sample_policy(), *p = NULL;

	CHECK(st != NULL);
	CHECK_EQ_INT(store_allowed_add(st, "old.test", NULL, false, NULL), 0);
	CHECK_EQ_INT(store_allowed_add(st, "litware.test", NULL, false, "will change"), 0);
	CHECK_EQ_INT(store_config_set(st, "discovered-period", "30"), 0);
	CHECK_EQ_INT(store_policy_replace(st, &in, "import"), 0);
	CHECK_EQ_INT(store_policy_load(st, &p), 0);
	CHECK(p->config.federation);
	CHECK_EQ_INT(p->config.discovered_rate, 30);
	CHECK_EQ_INT(p->config.discovered_period, 60);
	CHECK_EQ_INT(p->nallowed, 2);
	CHECK_EQ_STR(p->allowed[0].domain, "fabrikam.test");
	CHECK_EQ_INT(p->nblocked, 1);
	CHECK_EQ_INT(p->nproviders, 1);
	CHECK_EQ_STR(p->providers[0].domains[0], "msn.test");
	store_policy_free(p);
	/* Only non-default settings are stored. */
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM config"), 2);
	/* Audited per object: old.test removed, litware.test changed, fabrikam,
	 * evil, MSN added, three settings changed. */
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM audit WHERE command = 'import'"), 8);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM audit WHERE command = 'import' AND "
	    "object = 'allowed old.test' AND new IS NULL"), 1);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM audit WHERE command = 'import' AND "
	    "object = 'allowed litware.test' AND old LIKE '%will change%'"), 1);
	/* The same policy again changes nothing. */
	CHECK_EQ_INT(store_policy_replace(st, &in, "import"), 0);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM audit WHERE command = 'import'"), 8);
	store_close(st);
	return 0;
}

STORE_TEST(test_store_policy_replace_all_or_nothing)
{
	struct store *st = new_store();
	struct store_policy in = sample_policy();
	struct store_blocked bl[] = { { "evil.test", "" }, { "litware.test", "" } };
	struct store_allowed al[] = { { "ok.test", NULL, false, "" }, { "bad_.test", NULL, false, "" } };
	uint64_t g0 = 0, g1 = 0;

	CHECK(st != NULL);
	CHECK_EQ_INT(store_allowed_add(st, "keep.test", NULL, false, NULL), 0);
	CHECK_EQ_INT(store_generation(st, &g0), 0);
	/* A domain both allowed and blocked within the file. */
	in.blocked = bl;
	in.nblocked = 2;
	CHECK_EQ_INT(store_policy_replace(st, &in, "import"), -EEXIST);
	CHECK(has(store_error(st), "blocked[1]: litware.test is allowed"));
	/* A bad name. */
	in = sample_policy();
	in.allowed = al;
	in.nallowed = 2;
	CHECK_EQ_INT(store_policy_replace(st, &in, "import"), -EINVAL);
	CHECK(has(store_error(st), "allowed[1]: invalid domain \"bad_.test\""));
	/* A broken config rule. */
	in = sample_policy();
	in.config.routing = STORE_ROUTING_DEFAULT_ROUTE;
	CHECK_EQ_INT(store_policy_replace(st, &in, "import"), -EINVAL);
	CHECK(has(store_error(st), "config: routing-method default-route needs"));
	/* Nothing changed. */
	CHECK_EQ_INT(store_generation(st, &g1), 0);
	CHECK_EQ_INT(g1, g0);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM allowed_domain"), 1);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM audit WHERE command = 'import'"), 0);
	store_close(st);
	return 0;
}

/* --------------------------------------------------------------- partners */

STORE_TEST(test_store_partners_record)
{
	struct store *st = new_store();
	const char *peers1[] = { "sip.open.test", "SIP2.open.test." };
	const char *peers2[] = { "sip.open.test" };
	struct store_partner_delta d[2] = {
		{ "Open.Test", peers1, 2, 10, 3, 1, 1000 },
		{ "other.test", NULL, 0, 5, 1, 0, 2000 },
	};
	struct store_partner_delta d2 = { "open.test", peers2, 1, 7, 2, 4, 1500 };
	struct store_partner *p = NULL;
	size_t n = 0;

	CHECK(st != NULL);
	CHECK_EQ_INT(store_partners_record(st, d, 2), 0);
	CHECK_EQ_INT(store_partners_record(st, &d2, 1), 0);
	CHECK_EQ_INT(store_partners_list(st, &p, &n), 0);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_STR(p[0].domain, "open.test");
	CHECK_EQ_INT(p[0].requests, 17);
	CHECK_EQ_INT(p[0].contacts, 5);
	CHECK_EQ_INT(p[0].throttled, 5);
	CHECK_EQ_INT(p[0].first_seen, 1000);
	CHECK_EQ_INT(p[0].last_seen, 1500);
	CHECK_EQ_INT(p[0].npeers, 2);
	CHECK_EQ_STR(p[0].peers[0], "sip.open.test");
	CHECK_EQ_STR(p[0].peers[1], "sip2.open.test");
	CHECK_EQ_INT(p[0].status, STORE_PARTNER_DISCOVERED);
	CHECK_EQ_INT(p[1].npeers, 0);
	store_partners_free(p, n);
	/* A bad name refuses the whole batch. */
	d[1].domain = "bad name";
	CHECK_EQ_INT(store_partners_record(st, d, 2), -EINVAL);
	CHECK_EQ_INT(count(st, "SELECT requests FROM partner WHERE domain = 'open.test'"), 17);
	CHECK_EQ_INT(store_partners_record(st, NULL, 0), 0);
	store_close(st);
	return 0;
}

STORE_TEST(test_store_partners_promote_and_block)
{
	struct store *st = new_store();
	struct store_partner_delta d[2] = {
		{ "a.test", NULL, 0, 1, 1, 0, 0 },
		{ "b.test", NULL, 0, 1, 1, 0, 0 },
	};
	struct store_partner *p = NULL;
	size_t n = 0;

	CHECK(st != NULL);
	CHECK_EQ_INT(store_partners_record(st, d, 2), 0);
	CHECK_EQ_INT(store_partner_promote(st, "never.test", NULL), -ENOENT);
	CHECK(has(store_error(st), "never.test is not a discovered partner"));
	CHECK_EQ_INT(store_partner_promote(st, "A.test", "reviewed"), 0);
	CHECK_EQ_INT(store_partner_promote(st, "a.test", NULL), -EEXIST);
	CHECK_EQ_INT(store_partner_block(st, "a.test", NULL), -EEXIST);
	CHECK(has(store_error(st), "a.test is allowed"));
	CHECK_EQ_INT(store_partner_block(st, "b.test", NULL), 0);
	CHECK_EQ_INT(store_partners_list(st, &p, &n), 0);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(p[0].status, STORE_PARTNER_ALLOWED);
	CHECK_EQ_INT(p[1].status, STORE_PARTNER_BLOCKED);
	store_partners_free(p, n);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM allowed_domain WHERE domain = 'a.test' "
	    "AND comment = 'reviewed' AND proxy_fqdn IS NULL"), 1);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM audit WHERE command LIKE 'partners %'"), 2);
	store_close(st);
	return 0;
}

/* ------------------------------------------------------------------ audit */

STORE_TEST(test_store_audit)
{
	struct store *st = new_store();
	struct store_audit *a = NULL;
	size_t n = 0;
	int k = store_schema_version() - 1; /* the last "db init" entry */

	CHECK(st != NULL);
	CHECK_EQ_INT(store_allowed_add(st, "fabrikam.test", NULL, false, "c\"q"), 0);
	CHECK_EQ_INT(store_allowed_remove(st, "fabrikam.test"), 0);
	CHECK_EQ_INT(store_config_set(st, "federation", "on"), 0);
	CHECK_EQ_INT(store_audit_list(st, 0, &a, &n), 0);
	CHECK_EQ_INT(n, (size_t)k + 4);
	CHECK_EQ_STR(a[0].command, "db init");
	CHECK_EQ_STR(a[k].command, "db init");
	a += k;
	n -= (size_t)k;
	CHECK_EQ_STR(a[1].command, "allow add");
	CHECK_EQ_STR(a[1].actor, "tester");
	CHECK_EQ_STR(a[1].object, "allowed fabrikam.test");
	CHECK(a[1].old_json == NULL);
	CHECK_EQ_STR(a[1].new_json, "{\"domain\":\"fabrikam.test\",\"proxy_fqdn\":null,"
	    "\"monitor\":false,\"comment\":\"c\\\"q\"}");
	CHECK_EQ_STR(a[2].command, "allow remove");
	CHECK(a[2].new_json == NULL);
	CHECK_EQ_STR(a[3].object, "config federation");
	CHECK_EQ_STR(a[3].old_json, "\"off\"");
	CHECK_EQ_STR(a[3].new_json, "\"on\"");
	CHECK(a[3].at > 0);
	store_audit_free(a - k, n + (size_t)k);
	/* The last two, oldest first. */
	CHECK_EQ_INT(store_audit_list(st, 2, &a, &n), 0);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_STR(a[0].command, "allow remove");
	store_audit_free(a, n);
	store_close(st);
	return 0;
}

static const struct unit_test tests[] = {
	UNIT(test_store_init_creates_current_schema),
	UNIT(test_store_open_missing_file),
	UNIT(test_store_open_uninitialised),
	UNIT(test_store_refuses_newer_db),
	UNIT(test_store_refuses_garbage_file),
	UNIT(test_store_refuses_foreign_sqlite_db),
	UNIT(test_store_corrupt_pages),
	UNIT(test_store_busy),
	UNIT(test_store_migration_applies_in_order),
	UNIT(test_store_failed_migration_rolls_back),
	UNIT(test_store_migrate_from_empty),
	UNIT(test_store_allowed_and_blocked_exclusive),
	UNIT(test_store_remove_unknown),
	UNIT(test_store_bad_names_and_comments),
	UNIT(test_store_provider_names_and_proxies_unique),
	UNIT(test_store_fqdn_not_partner_server_and_provider),
	UNIT(test_store_provider_update),
	UNIT(test_store_config_defaults),
	UNIT(test_store_config_set_and_reset),
	UNIT(test_store_config_refusals),
	UNIT(test_store_hand_edited_rows_refused_on_load),
	UNIT(test_store_generation),
	UNIT(test_store_policy_load),
	UNIT(test_store_policy_replace),
	UNIT(test_store_policy_replace_all_or_nothing),
	UNIT(test_store_partners_record),
	UNIT(test_store_partners_promote_and_block),
	UNIT(test_store_audit),
	{ 0 }
};

int
main(int argc, char **argv)
{
	return unit_main(argc, argv, tests);
}
