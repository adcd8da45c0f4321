/* test_store_xmpp.c: unit tests for the XMPP part of the store (store_xmpp.c,
 * store_xmpp_sub.c, the XMPP settings of store_config.c, migration 2): every
 * row of the negotiation matrix, the one-thing-per-domain rules both ways,
 * block --replace, generation and audit, settings, migration 1 -> 2, the
 * presence subscriptions, load and replace. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/store.c"
#include "unit.h"

#include "store_fixture.h"

static uint64_t
gen(struct store *st)
{
	uint64_t g = 0;

	return store_generation(st, &g) == 0 ? g : 0;
}

/* A partner with Lync's defaults for domain. */
static struct store_xmpp_partner
partner(const char *domain)
{
	struct store_xmpp_partner p;

	store_xmpp_partner_defaults(&p);
	p.domain = (char *)(uintptr_t)domain;
	return p;
}

static const struct store_xmpp_patch no_change = {
	-1, -1, -1, -1, -1, -1, NULL, NULL, false, NULL, 0
};

/* ------------------------------------------------------------- defaults */

STORE_TEST(test_store_xmpp_defaults)
{
	struct store_xmpp_partner p = partner("x.test");
	struct store_config c;
	const struct store_setting *s;

	/* Lync's New-CsXmppAllowedPartner defaults. */
	CHECK_EQ_INT(p.type, STORE_XMPP_PUBLIC_UNVERIFIED);
	CHECK_EQ_INT(p.tls, STORE_XMPP_REQUIRED);
	CHECK_EQ_INT(p.sasl, STORE_XMPP_REQUIRED);
	CHECK(p.dialback);
	CHECK(p.keepalive);
	CHECK_EQ_INT(p.connection_limit, 0);
	CHECK(p.proxy_fqdn == NULL && p.nadditional == 0);
	/* Set-CsXmppGatewayConfiguration's, and ours for the message type. */
	store_config_defaults(&c);
	CHECK_EQ_INT(c.xmpp.connection_limit, 1000);
	CHECK_EQ_INT(c.xmpp.partner_connection_limit, 20);
	CHECK_EQ_INT(c.xmpp.keepalive_interval, 300);
	CHECK_EQ_INT(c.xmpp.stream_establishment_timeout, 60);
	CHECK_EQ_INT(c.xmpp.stream_inactivity_timeout, 600);
	CHECK_EQ_INT(c.xmpp.subscription_refresh_interval, 8 * 3600);
	CHECK(!c.xmpp.log_message_bodies);
	CHECK_EQ_INT(c.xmpp.message_type, STORE_XMPP_MSG_CHAT);
	/* The two tables are apart: no XMPP name in the access-edge one. */
	CHECK(store_setting_find("connection-limit") == NULL);
	CHECK(store_xmpp_setting_find("federation") == NULL);
	CHECK((s = store_xmpp_setting_find("message-type")) != NULL);
	CHECK_EQ_STR(s->def, "chat");
	CHECK((s = store_xmpp_setting_find("keepalive-interval")) != NULL);
	CHECK_EQ_STR(s->unit, "seconds");
	CHECK_EQ_STR(store_xmpp_type_name(STORE_XMPP_PUBLIC_VERIFIED), "public-verified");
	CHECK_EQ_STR(store_xmpp_nego_name(STORE_XMPP_NOT_SUPPORTED), "not-supported");
	return 0;
}

/* ------------------------------------------------------ negotiation matrix */

/* Lync's table (TLS, SASL, dialback): 0 valid, 1 valid with a warning, -1
 * refused. */
static const struct {
	enum store_xmpp_nego tls, sasl;
	bool dialback;
	int want;
	const char *msg;
} matrix[] = {
	{ STORE_XMPP_REQUIRED, STORE_XMPP_REQUIRED, true, 0, NULL },
	{ STORE_XMPP_REQUIRED, STORE_XMPP_REQUIRED, false, 0, NULL },
	{ STORE_XMPP_OPTIONAL, STORE_XMPP_REQUIRED, true, 0, NULL },
	{ STORE_XMPP_OPTIONAL, STORE_XMPP_REQUIRED, false, 0, NULL },
	{ STORE_XMPP_NOT_SUPPORTED, STORE_XMPP_REQUIRED, true, 1,
	  "SASL cannot be used without TLS: with --tls not-supported, --sasl required has no effect" },
	{ STORE_XMPP_NOT_SUPPORTED, STORE_XMPP_REQUIRED, false, -1,
	  "SASL needs TLS: --sasl required with --tls not-supported leaves only dialback, which is off" },
	{ STORE_XMPP_REQUIRED, STORE_XMPP_OPTIONAL, true, 0, NULL },
	{ STORE_XMPP_REQUIRED, STORE_XMPP_OPTIONAL, false, 0, NULL },
	{ STORE_XMPP_OPTIONAL, STORE_XMPP_OPTIONAL, true, 0, NULL },
	{ STORE_XMPP_OPTIONAL, STORE_XMPP_OPTIONAL, false, 0, NULL },
	{ STORE_XMPP_NOT_SUPPORTED, STORE_XMPP_OPTIONAL, true, 1,
	  "--sasl optional has no effect" },
	{ STORE_XMPP_NOT_SUPPORTED, STORE_XMPP_OPTIONAL, false, -1,
	  "SASL needs TLS: --sasl optional with --tls not-supported leaves only dialback" },
	{ STORE_XMPP_REQUIRED, STORE_XMPP_NOT_SUPPORTED, true, 0, NULL },
	{ STORE_XMPP_REQUIRED, STORE_XMPP_NOT_SUPPORTED, false, -1,
	  "a partner must authenticate by SASL or dialback: --sasl not-supported with "
	  "--dialback off leaves neither" },
	{ STORE_XMPP_OPTIONAL, STORE_XMPP_NOT_SUPPORTED, true, 0, NULL },
	{ STORE_XMPP_OPTIONAL, STORE_XMPP_NOT_SUPPORTED, false, -1, "SASL or dialback" },
	{ STORE_XMPP_NOT_SUPPORTED, STORE_XMPP_NOT_SUPPORTED, true, 0, NULL },
	{ STORE_XMPP_NOT_SUPPORTED, STORE_XMPP_NOT_SUPPORTED, false, -1, "SASL or dialback" },
};

/* Row i of the matrix, by itself and through the store. */
static int
matrix_row(struct store *st, size_t i)
{
	struct store_xmpp_partner p;
	char msg[256], dom[32];
	int rc = store_xmpp_nego_check(matrix[i].tls, matrix[i].sasl, matrix[i].dialback,
	    msg, sizeof(msg));

	CHECK_EQ_INT(rc, matrix[i].want < 0 ? -EINVAL : matrix[i].want);
	CHECK(matrix[i].msg == NULL ? msg[0] == '\0' : has(msg, matrix[i].msg));
	/* The store applies the same rule, in the transaction, and says why. */
	snprintf(dom, sizeof(dom), "row%zu.test", i);
	p = partner(dom);
	p.tls = matrix[i].tls;
	p.sasl = matrix[i].sasl;
	p.dialback = matrix[i].dialback;
	rc = store_xmpp_partner_add(st, &p);
	CHECK_EQ_INT(rc, matrix[i].want < 0 ? -EINVAL : 0);
	if (matrix[i].want < 0)
		CHECK(has(store_error(st), matrix[i].msg));
	return 0;
}

STORE_TEST(test_store_xmpp_nego_matrix)
{
	struct store *st = new_store();
	char msg[256];
	int added = 0;

	CHECK(st != NULL);
	for (size_t i = 0; i < sizeof(matrix) / sizeof(matrix[0]); i++) {
		if (matrix_row(st, i) != 0) {
			fprintf(stderr, "# in row %zu: tls %s, sasl %s, dialback %s\n", i,
			    store_xmpp_nego_name(matrix[i].tls), store_xmpp_nego_name(matrix[i].sasl),
			    matrix[i].dialback ? "on" : "off");
			return 1;
		}
		added += matrix[i].want >= 0;
	}
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM xmpp_partner"), added);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM audit WHERE command = 'xmpp partner add'"), added);
	CHECK_EQ_INT(store_xmpp_nego_check((enum store_xmpp_nego)3, STORE_XMPP_REQUIRED, true,
	    msg, sizeof(msg)), -EINVAL);
	/* A change that breaks the rule is refused and changes nothing. */
	{
		struct store_xmpp_patch pt = no_change;
		struct store_xmpp_partner *got = NULL;

		pt.dialback = 0;
		pt.sasl = STORE_XMPP_NOT_SUPPORTED;
		CHECK_EQ_INT(store_xmpp_partner_update(st, "row0.test", &pt), -EINVAL);
		CHECK(has(store_error(st), "SASL or dialback"));
		CHECK_EQ_INT(store_xmpp_partner_get(st, "row0.test", &got), 0);
		CHECK(got->dialback && got->sasl == STORE_XMPP_REQUIRED);
		store_xmpp_partner_free(got, 1);
		/* Dialback off alone is fine: TLS and SASL are both required. */
		pt.sasl = -1;
		CHECK_EQ_INT(store_xmpp_partner_update(st, "row0.test", &pt), 0);
		pt.dialback = -1;
		pt.tls = STORE_XMPP_NOT_SUPPORTED;
		CHECK_EQ_INT(store_xmpp_partner_update(st, "row0.test", &pt), -EINVAL);
		CHECK(has(store_error(st), "SASL needs TLS"));
	}
	store_close(st);
	/* The schema holds the rule for the sqlite3 shell too. */
	CHECK(raw_sql("INSERT INTO xmpp_partner (domain, tls, dialback, added) "
	    "VALUES ('raw.test', 'not-supported', 0, 0)") == SQLITE_CONSTRAINT);
	CHECK(raw_sql("INSERT INTO xmpp_partner (domain, sasl, dialback, added) "
	    "VALUES ('raw.test', 'not-supported', 0, 0)") == SQLITE_CONSTRAINT);
	CHECK(raw_sql("UPDATE xmpp_partner SET dialback = 0, tls = 'not-supported' "
	    "WHERE domain = 'row0.test'") == SQLITE_CONSTRAINT);
	return 0;
}

/* -------------------------------------------------------- add, set, remove */

STORE_TEST(test_store_xmpp_add_get_list)
{
	struct store *st = new_store();
	struct store_xmpp_partner p = partner("Gmail.Test."), *v = NULL, *g = NULL;
	char *more[] = { "GTalk.Test", "googlemail.test", "gtalk.test." };
	size_t n = 0;

	CHECK(st != NULL);
	p.additional = more;
	p.nadditional = 3;
	p.type = STORE_XMPP_PUBLIC_VERIFIED;
	p.tls = STORE_XMPP_OPTIONAL;
	p.sasl = STORE_XMPP_NOT_SUPPORTED;
	p.keepalive = false;
	p.connection_limit = 4;
	p.proxy_fqdn = "XMPP.Gmail.Test";
	p.comment = "Google";
	CHECK_EQ_INT(store_xmpp_partner_add(st, &p), 0);
	p = partner("aaa.test");
	CHECK_EQ_INT(store_xmpp_partner_add(st, &p), 0);
	CHECK_EQ_INT(store_xmpp_partner_list(st, &v, &n), 0);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_STR(v[0].domain, "aaa.test");
	CHECK_EQ_STR(v[0].comment, "");
	CHECK_EQ_INT(v[0].nadditional, 0);
	CHECK(v[0].proxy_fqdn == NULL);
	CHECK_EQ_STR(v[1].domain, "gmail.test");
	/* Normalised, sorted, the repeated one once. */
	CHECK_EQ_INT(v[1].nadditional, 2);
	CHECK_EQ_STR(v[1].additional[0], "googlemail.test");
	CHECK_EQ_STR(v[1].additional[1], "gtalk.test");
	CHECK_EQ_INT(v[1].type, STORE_XMPP_PUBLIC_VERIFIED);
	CHECK_EQ_INT(v[1].tls, STORE_XMPP_OPTIONAL);
	CHECK_EQ_INT(v[1].sasl, STORE_XMPP_NOT_SUPPORTED);
	CHECK(v[1].dialback);
	CHECK(!v[1].keepalive);
	CHECK_EQ_INT(v[1].connection_limit, 4);
	CHECK_EQ_STR(v[1].proxy_fqdn, "xmpp.gmail.test");
	CHECK_EQ_STR(v[1].comment, "Google");
	store_xmpp_partner_free(v, n);
	/* Get by its own domain or an additional one. */
	CHECK_EQ_INT(store_xmpp_partner_get(st, "GTALK.test", &g), 0);
	CHECK_EQ_STR(g->domain, "gmail.test");
	CHECK_EQ_INT(g->nadditional, 2);
	store_xmpp_partner_free(g, 1);
	CHECK_EQ_INT(store_xmpp_partner_get(st, "nobody.test", &g), -ENOENT);
	CHECK(has(store_error(st), "nobody.test is not an XMPP partner"));
	CHECK_EQ_INT(store_xmpp_partner_get(st, "bad_name", &g), -EINVAL);
	/* Bad values. */
	p = partner("bad_.test");
	CHECK_EQ_INT(store_xmpp_partner_add(st, &p), -EINVAL);
	CHECK(has(store_error(st), "invalid domain \"bad_.test\""));
	p = partner("x.test");
	p.proxy_fqdn = "*.x.test";
	CHECK_EQ_INT(store_xmpp_partner_add(st, &p), -EINVAL);
	CHECK(has(store_error(st), "invalid proxy FQDN"));
	p = partner("x.test");
	more[0] = "y..test";
	p.additional = more;
	p.nadditional = 1;
	CHECK_EQ_INT(store_xmpp_partner_add(st, &p), -EINVAL);
	CHECK(has(store_error(st), "invalid additional domain \"y..test\""));
	p = partner("x.test");
	p.connection_limit = STORE_XMPP_CONN_LIMIT_MAX + 1;
	CHECK_EQ_INT(store_xmpp_partner_add(st, &p), -EINVAL);
	CHECK(has(store_error(st), "connection limit"));
	p = partner("x.test");
	p.comment = "two\nlines";
	CHECK_EQ_INT(store_xmpp_partner_add(st, &p), -EINVAL);
	p = partner("x.test");
	p.type = (enum store_xmpp_type)9;
	CHECK_EQ_INT(store_xmpp_partner_add(st, &p), -EINVAL);
	/* Nothing of the refused ones is left behind. */
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM xmpp_partner"), 2);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM xmpp_partner_domain"), 2);
	store_close(st);
	return 0;
}

STORE_TEST(test_store_xmpp_update_and_remove)
{
	struct store *st = new_store();
	struct store_xmpp_partner p = partner("gmail.test"), *g = NULL;
	const char *list1[] = { "gtalk.test", "googlemail.test" }, *list2[] = { "Other.Test" };
	char *more[] = { "gtalk.test" };
	struct store_xmpp_patch pt = no_change;

	CHECK(st != NULL);
	p.additional = more;
	p.nadditional = 1;
	p.comment = "first";
	CHECK_EQ_INT(store_xmpp_partner_add(st, &p), 0);
	/* Each field on its own; the others are kept. */
	pt.type = STORE_XMPP_FEDERATED;
	pt.keepalive = 0;
	pt.connection_limit = 9;
	pt.proxy_fqdn = "Xmpp.Gmail.Test";
	CHECK_EQ_INT(store_xmpp_partner_update(st, "GMAIL.test", &pt), 0);
	CHECK_EQ_INT(store_xmpp_partner_get(st, "gmail.test", &g), 0);
	CHECK_EQ_INT(g->type, STORE_XMPP_FEDERATED);
	CHECK(!g->keepalive && g->dialback);
	CHECK_EQ_INT(g->connection_limit, 9);
	CHECK_EQ_STR(g->proxy_fqdn, "xmpp.gmail.test");
	CHECK_EQ_STR(g->comment, "first");
	CHECK_EQ_INT(g->nadditional, 1);
	store_xmpp_partner_free(g, 1);
	/* Back to the defaults: the global limit, DNS SRV. */
	pt = no_change;
	pt.connection_limit = 0;
	pt.proxy_fqdn = "";
	pt.comment = "second";
	pt.set_additional = true;
	pt.additional = list1;
	pt.nadditional = 2;
	CHECK_EQ_INT(store_xmpp_partner_update(st, "gmail.test", &pt), 0);
	CHECK_EQ_INT(store_xmpp_partner_get(st, "googlemail.test", &g), 0);
	CHECK_EQ_INT(g->connection_limit, 0);
	CHECK(g->proxy_fqdn == NULL);
	CHECK_EQ_STR(g->comment, "second");
	CHECK_EQ_INT(g->nadditional, 2);
	CHECK_EQ_INT(g->type, STORE_XMPP_FEDERATED);
	store_xmpp_partner_free(g, 1);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM xmpp_partner WHERE connection_limit IS NULL "
	    "AND proxy_fqdn IS NULL"), 1);
	/* Replace the list, then empty it. */
	pt = no_change;
	pt.set_additional = true;
	pt.additional = list2;
	pt.nadditional = 1;
	CHECK_EQ_INT(store_xmpp_partner_update(st, "gmail.test", &pt), 0);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM xmpp_partner_domain WHERE domain = "
	    "'other.test' AND partner = 'gmail.test'"), 1);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM xmpp_partner_domain"), 1);
	pt.nadditional = 0;
	CHECK_EQ_INT(store_xmpp_partner_update(st, "gmail.test", &pt), 0);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM xmpp_partner_domain"), 0);
	/* A partner is named by its own domain. */
	pt.additional = list2;
	pt.nadditional = 1;
	CHECK_EQ_INT(store_xmpp_partner_update(st, "gmail.test", &pt), 0);
	pt = no_change;
	pt.comment = "x";
	CHECK_EQ_INT(store_xmpp_partner_update(st, "other.test", &pt), -ENOENT);
	CHECK(has(store_error(st), "other.test is an additional domain of XMPP partner gmail.test"));
	CHECK_EQ_INT(store_xmpp_partner_remove(st, "other.test"), -ENOENT);
	CHECK_EQ_INT(store_xmpp_partner_update(st, "nobody.test", &pt), -ENOENT);
	CHECK(has(store_error(st), "nobody.test is not an XMPP partner"));
	pt.comment = NULL;
	pt.connection_limit = STORE_XMPP_CONN_LIMIT_MAX + 1;
	CHECK_EQ_INT(store_xmpp_partner_update(st, "gmail.test", &pt), -EINVAL);
	pt.connection_limit = -1;
	pt.proxy_fqdn = "bad fqdn";
	CHECK_EQ_INT(store_xmpp_partner_update(st, "gmail.test", &pt), -EINVAL);
	/* Remove takes the additional domains along. */
	CHECK_EQ_INT(store_xmpp_partner_remove(st, "Gmail.Test."), 0);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM xmpp_partner"), 0);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM xmpp_partner_domain"), 0);
	CHECK_EQ_INT(store_xmpp_partner_remove(st, "gmail.test"), -ENOENT);
	CHECK(has(store_error(st), "gmail.test is not an XMPP partner"));
	store_close(st);
	return 0;
}

/* ---------------------------------------------------- one thing per domain */

STORE_TEST(test_store_xmpp_domain_is_one_thing)
{
	struct store *st = new_store();
	struct store_xmpp_partner p = partner("gmail.test");
	struct store_provider pr = { 0 };
	struct store_provider_patch pp = { 0 };
	struct store_partner_delta d = { .domain = "found.test", .requests = 1 };
	char *more[] = { "gtalk.test" }, *pdoms[] = { "msn.test" }, *one[1];
	const char *add[] = { "gtalk.test" };

	CHECK(st != NULL);
	p.additional = more;
	p.nadditional = 1;
	CHECK_EQ_INT(store_xmpp_partner_add(st, &p), 0);
	CHECK_EQ_INT(store_allowed_add(st, "fabrikam.test", NULL, false, NULL), 0);
	CHECK_EQ_INT(store_blocked_add(st, "evil.test", NULL), 0);
	pr.name = "MSN";
	pr.proxy_fqdn = "fed.msn.test";
	pr.domains = pdoms;
	pr.ndomains = 1;
	pr.enabled = true;
	CHECK_EQ_INT(store_provider_add(st, &pr), 0);

	/* An XMPP partner's domains against everything else... */
	p = partner("gmail.test");
	CHECK_EQ_INT(store_xmpp_partner_add(st, &p), -EEXIST);
	CHECK(has(store_error(st), "gmail.test is already an XMPP partner"));
	p = partner("gtalk.test");
	CHECK_EQ_INT(store_xmpp_partner_add(st, &p), -EEXIST);
	CHECK(has(store_error(st), "gtalk.test is an additional domain of XMPP partner gmail.test"));
	p = partner("fabrikam.test");
	CHECK_EQ_INT(store_xmpp_partner_add(st, &p), -EEXIST);
	CHECK(has(store_error(st), "fabrikam.test is a SIP allowed domain; a domain is either a "
	    "SIP federation partner or an XMPP partner, never both"));
	p = partner("msn.test");
	CHECK_EQ_INT(store_xmpp_partner_add(st, &p), -EEXIST);
	CHECK(has(store_error(st), "msn.test is served by SIP provider MSN"));
	p = partner("evil.test");
	CHECK_EQ_INT(store_xmpp_partner_add(st, &p), -EEXIST);
	CHECK(has(store_error(st), "evil.test is blocked; a blocked domain cannot be an XMPP partner"));
	/* ... its additional domains too. */
	p = partner("new.test");
	p.additional = one;
	p.nadditional = 1;
	one[0] = "Gmail.Test";
	CHECK_EQ_INT(store_xmpp_partner_add(st, &p), -EEXIST);
	CHECK(has(store_error(st), "gmail.test is an XMPP partner; a domain belongs to at most one"));
	one[0] = "gtalk.test";
	CHECK_EQ_INT(store_xmpp_partner_add(st, &p), -EEXIST);
	CHECK(has(store_error(st), "gtalk.test is an additional domain of XMPP partner gmail.test"));
	one[0] = "fabrikam.test";
	CHECK_EQ_INT(store_xmpp_partner_add(st, &p), -EEXIST);
	CHECK(has(store_error(st), "fabrikam.test is a SIP allowed domain"));
	one[0] = "msn.test";
	CHECK_EQ_INT(store_xmpp_partner_add(st, &p), -EEXIST);
	CHECK(has(store_error(st), "served by SIP provider MSN"));
	one[0] = "evil.test";
	CHECK_EQ_INT(store_xmpp_partner_add(st, &p), -EEXIST);
	CHECK(has(store_error(st), "evil.test is blocked"));
	one[0] = "NEW.test";
	CHECK_EQ_INT(store_xmpp_partner_add(st, &p), -EEXIST);
	CHECK(has(store_error(st), "new.test is the partner's own domain"));
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM xmpp_partner"), 1);

	/* The SIP side refuses an XMPP partner's domains. */
	CHECK_EQ_INT(store_allowed_add(st, "gmail.test", NULL, false, NULL), -EEXIST);
	CHECK(has(store_error(st), "gmail.test is an XMPP partner; a domain is either a SIP "
	    "federation partner or an XMPP partner, never both"));
	CHECK_EQ_INT(store_allowed_add(st, "GTalk.test", "sip.gtalk.test", false, NULL), -EEXIST);
	CHECK(has(store_error(st), "gtalk.test is an additional domain of XMPP partner gmail.test"));
	pr.name = "Other";
	pr.proxy_fqdn = "fed.other.test";
	pdoms[0] = "gtalk.test";
	CHECK_EQ_INT(store_provider_add(st, &pr), -EEXIST);
	CHECK(has(store_error(st), "domain gtalk.test is an additional domain of XMPP partner"));
	pp.kind = pp.verification = pp.enabled = -1;
	pp.add_domains = add;
	pp.nadd_domains = 1;
	CHECK_EQ_INT(store_provider_update(st, "MSN", &pp), -EEXIST);
	CHECK(has(store_error(st), "never both"));
	CHECK_EQ_INT(store_blocked_add(st, "gmail.test", NULL), -EEXIST);
	CHECK(has(store_error(st), "gmail.test is an XMPP partner; a domain cannot be both blocked "
	    "and an XMPP partner (\"sipedgectl block add gmail.test --replace\""));
	CHECK_EQ_INT(store_blocked_add(st, "gtalk.test", NULL), -EEXIST);
	CHECK(has(store_error(st), "gtalk.test is an additional domain of XMPP partner gmail.test"));
	/* A discovered partner that is also an XMPP partner cannot be allowed. */
	d.domain = "gtalk.test";
	CHECK_EQ_INT(store_partners_record(st, &d, 1), 0);
	CHECK_EQ_INT(store_partner_promote(st, "gtalk.test", NULL), -EEXIST);
	CHECK_EQ_INT(store_partner_block(st, "gtalk.test", NULL), -EEXIST);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM allowed_domain"), 1);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM blocked_domain"), 1);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM provider_domain"), 1);
	store_close(st);

	/* The triggers hold for the sqlite3 shell, in every direction. */
	CHECK(raw_sql("INSERT INTO allowed_domain (domain, added) VALUES ('gmail.test', 0)")
	    == SQLITE_CONSTRAINT);
	CHECK(raw_sql("INSERT INTO allowed_domain (domain, added) VALUES ('gtalk.test', 0)")
	    == SQLITE_CONSTRAINT);
	CHECK(raw_sql("INSERT INTO blocked_domain (domain, added) VALUES ('gtalk.test', 0)")
	    == SQLITE_CONSTRAINT);
	CHECK(raw_sql("INSERT INTO provider_domain (domain, provider_id) SELECT 'gmail.test', id "
	    "FROM provider") == SQLITE_CONSTRAINT);
	CHECK(raw_sql("INSERT INTO xmpp_partner (domain, added) VALUES ('fabrikam.test', 0)")
	    == SQLITE_CONSTRAINT);
	CHECK(raw_sql("INSERT INTO xmpp_partner (domain, added) VALUES ('msn.test', 0)")
	    == SQLITE_CONSTRAINT);
	CHECK(raw_sql("INSERT INTO xmpp_partner (domain, added) VALUES ('evil.test', 0)")
	    == SQLITE_CONSTRAINT);
	CHECK(raw_sql("INSERT INTO xmpp_partner (domain, added) VALUES ('gtalk.test', 0)")
	    == SQLITE_CONSTRAINT);
	CHECK(raw_sql("INSERT INTO xmpp_partner_domain (domain, partner) VALUES ('gmail.test', "
	    "'gmail.test')") == SQLITE_CONSTRAINT);
	CHECK(raw_sql("INSERT INTO xmpp_partner_domain (domain, partner) VALUES ('evil.test', "
	    "'gmail.test')") == SQLITE_CONSTRAINT);
	CHECK(raw_sql("INSERT INTO xmpp_partner_domain (domain, partner) VALUES ('fabrikam.test', "
	    "'gmail.test')") == SQLITE_CONSTRAINT);
	CHECK(raw_sql("UPDATE allowed_domain SET domain = 'gtalk.test'") == SQLITE_CONSTRAINT);
	return 0;
}

STORE_TEST(test_store_xmpp_block_replace)
{
	struct store *st = new_store();
	struct store_xmpp_partner p = partner("gmail.test"), *g = NULL;
	char *more[] = { "gtalk.test", "googlemail.test" };
	uint64_t g0, g1;

	CHECK(st != NULL);
	p.additional = more;
	p.nadditional = 2;
	p.comment = "old partner";
	CHECK_EQ_INT(store_xmpp_partner_add(st, &p), 0);
	/* An additional domain: only it leaves the partner. */
	g0 = gen(st);
	CHECK_EQ_INT(store_blocked_replace(st, "GTalk.Test", "spam"), 0);
	CHECK(gen(st) > g0);
	CHECK_EQ_INT(store_xmpp_partner_get(st, "gmail.test", &g), 0);
	CHECK_EQ_INT(g->nadditional, 1);
	CHECK_EQ_STR(g->additional[0], "googlemail.test");
	store_xmpp_partner_free(g, 1);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM blocked_domain WHERE domain = 'gtalk.test' "
	    "AND comment = 'spam'"), 1);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM audit WHERE command = 'block add --replace' "
	    "AND object = 'xmpp partner gmail.test' AND old LIKE '%gtalk.test%' AND "
	    "new NOT LIKE '%gtalk.test%' AND new LIKE '%googlemail.test%'"), 1);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM audit WHERE command = 'block add --replace' "
	    "AND object = 'blocked gtalk.test' AND old IS NULL"), 1);
	/* A refused replace (a bad comment, found after the partner was taken)
	 * rolls everything back. */
	g0 = gen(st);
	CHECK_EQ_INT(store_blocked_replace(st, "gmail.test", "bad\ncomment"), -EINVAL);
	CHECK_EQ_INT(gen(st), g0);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM xmpp_partner"), 1);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM audit WHERE object = 'xmpp partner gmail.test' "
	    "AND new IS NULL"), 0);
	/* Its own domain: the partner goes, with its additional domains. */
	CHECK_EQ_INT(store_blocked_replace(st, "gmail.test", "ended"), 0);
	g1 = gen(st);
	CHECK(g1 > g0);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM xmpp_partner"), 0);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM xmpp_partner_domain"), 0);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM blocked_domain"), 2);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM audit WHERE command = 'block add --replace' "
	    "AND object = 'xmpp partner gmail.test' AND old LIKE '%old partner%' AND new IS NULL"), 1);
	/* googlemail.test was only the partner's: now it is nothing. */
	CHECK_EQ_INT(store_xmpp_partner_get(st, "googlemail.test", &g), -ENOENT);
	store_close(st);
	return 0;
}

/* ------------------------------------------------------ generation, audit */

STORE_TEST(test_store_xmpp_generation_and_audit)
{
	struct store *st = new_store();
	struct store_xmpp_partner p = partner("gmail.test");
	struct store_xmpp_patch pt = no_change;
	struct store_xmpp_sub sub = { .local_uri = "sip:bob@contoso.test",
	    .remote_jid = "alice@gmail.test", .state = STORE_XMPP_SUB_BOTH };
	struct store_audit *a = NULL;
	uint64_t g;
	size_t n = 0;

	CHECK(st != NULL);
	p.comment = "c\"q";
	g = gen(st);
	CHECK_EQ_INT(store_xmpp_partner_add(st, &p), 0);
	CHECK(gen(st) > g);
	g = gen(st);
	pt.connection_limit = 3;
	CHECK_EQ_INT(store_xmpp_partner_update(st, "gmail.test", &pt), 0);
	CHECK(gen(st) > g);
	g = gen(st);
	CHECK_EQ_INT(store_xmpp_config_set(st, "keepalive-interval", "120"), 0);
	CHECK(gen(st) > g);
	g = gen(st);
	/* Refused changes and subscriptions leave it alone. */
	CHECK_EQ_INT(store_xmpp_partner_add(st, &p), -EEXIST);
	CHECK_EQ_INT(store_xmpp_config_set(st, "keepalive-interval", "1"), -EINVAL);
	CHECK_EQ_INT(store_xmpp_sub_put(st, &sub), 0);
	CHECK_EQ_INT(gen(st), g);
	CHECK_EQ_INT(store_xmpp_partner_remove(st, "gmail.test"), 0);
	CHECK(gen(st) > g);
	/* A change by another connection (the CLI while the daemon polls). */
	g = gen(st);
	CHECK(raw_sql("INSERT INTO xmpp_partner (domain, added) VALUES ('raw.test', 0)") == SQLITE_OK);
	CHECK(gen(st) > g);

	CHECK_EQ_INT(store_audit_list(st, 0, &a, &n), 0);
	CHECK_EQ_INT(n, (size_t)store_schema_version() + 4);
	{
		struct store_audit *e = a + store_schema_version();

		CHECK_EQ_STR(e[0].command, "xmpp partner add");
		CHECK_EQ_STR(e[0].object, "xmpp partner gmail.test");
		CHECK_EQ_STR(e[0].actor, "tester");
		CHECK(e[0].old_json == NULL);
		CHECK_EQ_STR(e[0].new_json, "{\"domain\":\"gmail.test\",\"additional_domains\":[],"
		    "\"type\":\"public-unverified\",\"tls\":\"required\",\"sasl\":\"required\","
		    "\"dialback\":true,\"keepalive\":true,\"connection_limit\":null,"
		    "\"proxy_fqdn\":null,\"comment\":\"c\\\"q\"}");
		CHECK_EQ_STR(e[1].command, "xmpp partner set");
		CHECK(has(e[1].old_json, "\"connection_limit\":null"));
		CHECK(has(e[1].new_json, "\"connection_limit\":3"));
		CHECK_EQ_STR(e[2].command, "xmpp config set");
		CHECK_EQ_STR(e[2].object, "xmpp config keepalive-interval");
		CHECK_EQ_STR(e[2].old_json, "\"300\"");
		CHECK_EQ_STR(e[2].new_json, "\"120\"");
		CHECK_EQ_STR(e[3].command, "xmpp partner remove");
		CHECK(has(e[3].old_json, "\"connection_limit\":3"));
		CHECK(e[3].new_json == NULL);
	}
	store_audit_free(a, n);
	store_close(st);
	return 0;
}

/* ---------------------------------------------------------------- settings */

STORE_TEST(test_store_xmpp_config)
{
	struct store *st = new_store();
	struct store_policy *p = NULL;

	CHECK(st != NULL);
	CHECK_EQ_INT(store_xmpp_config_set(st, "connection-limit", "50"), 0);
	CHECK_EQ_INT(store_xmpp_config_set(st, "log-message-bodies", "yes"), 0);
	CHECK_EQ_INT(store_xmpp_config_set(st, "message-type", "normal"), 0);
	CHECK_EQ_INT(store_xmpp_config_set(st, "subscription-refresh-interval", "3600"), 0);
	CHECK_EQ_INT(store_policy_load(st, &p), 0);
	CHECK_EQ_INT(p->config.xmpp.connection_limit, 50);
	CHECK(p->config.xmpp.log_message_bodies);
	CHECK_EQ_INT(p->config.xmpp.message_type, STORE_XMPP_MSG_NORMAL);
	CHECK_EQ_INT(p->config.xmpp.subscription_refresh_interval, 3600);
	CHECK_EQ_INT(p->config.xmpp.partner_connection_limit, 20);
	store_policy_free(p);
	/* Kept apart from the access-edge settings. */
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM xmpp_config"), 4);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM config"), 0);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM xmpp_config WHERE name = 'log-message-bodies' "
	    "AND value = 'on'"), 1);
	/* Bounds, syntax, names, and the rule across two settings. */
	CHECK_EQ_INT(store_xmpp_config_set(st, "connection-limit", "0"), -EINVAL);
	CHECK(has(store_error(st), "connection-limit: \"0\" is not a whole number from 1 to 100000"));
	CHECK_EQ_INT(store_xmpp_config_set(st, "keepalive-interval", "86401"), -EINVAL);
	CHECK_EQ_INT(store_xmpp_config_set(st, "message-type", "groupchat"), -EINVAL);
	CHECK(has(store_error(st), "\"groupchat\" is not chat or normal"));
	CHECK_EQ_INT(store_xmpp_config_set(st, "log-message-bodies", "maybe"), -EINVAL);
	CHECK_EQ_INT(store_xmpp_config_set(st, "partner-connection-limit", "51"), -EINVAL);
	CHECK(has(store_error(st), "partner-connection-limit (51) must not be above "
	    "connection-limit (50)"));
	CHECK_EQ_INT(store_xmpp_config_set(st, "federation", "on"), -ENOENT);
	CHECK(has(store_error(st), "unknown setting \"federation\"; \"sipedgectl xmpp config show\""));
	CHECK_EQ_INT(store_config_set(st, "connection-limit", "10"), -ENOENT);
	CHECK(has(store_error(st), "\"sipedgectl config show\" lists them"));
	/* Reset removes the row. */
	CHECK_EQ_INT(store_xmpp_config_reset(st, "message-type"), 0);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM xmpp_config WHERE name = 'message-type'"), 0);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM audit WHERE command = 'xmpp config reset' AND "
	    "object = 'xmpp config message-type' AND old = '\"normal\"' AND new = '\"chat\"'"), 1);
	store_close(st);
	/* A row edited by hand that the table refuses refuses the load. */
	CHECK(raw_sql("INSERT INTO xmpp_config (name, value) VALUES ('bogus', '1')") == SQLITE_OK);
	CHECK(raw_sql("SELECT 1") == SQLITE_OK);
	{
		char err[512];

		CHECK_EQ_INT(store_open(dbpath, 0, &st, err, sizeof(err)), 0);
		CHECK_EQ_INT(store_policy_load(st, &p), -EINVAL);
		CHECK(has(store_error(st), "unknown setting \"bogus\" in the xmpp_config table"));
		store_close(st);
	}
	CHECK(raw_sql("UPDATE xmpp_config SET name = 'keepalive-interval', value = '5' "
	    "WHERE name = 'bogus'") == SQLITE_OK);
	{
		char err[512];

		CHECK_EQ_INT(store_open(dbpath, 0, &st, err, sizeof(err)), 0);
		CHECK_EQ_INT(store_policy_load(st, &p), -EINVAL);
		CHECK(has(store_error(st), "xmpp_config table: keepalive-interval"));
		store_close(st);
	}
	return 0;
}

/* --------------------------------------------------------------- migration */

STORE_TEST(test_store_xmpp_migrate_1_to_2)
{
	struct store *st = new_store_v1();
	struct store_policy *p = NULL;
	struct store_xmpp_partner x = partner("fabrikam.test");
	char err[512];
	int from = -1, to = -1;
	uint64_t g;

	CHECK(st != NULL);
	CHECK_EQ_INT(store_schema_version(), 2);
	/* A version 1 policy, as a version 1 sipedgectl left it. */
	CHECK_EQ_INT(store__exec_sql(st,
	    "INSERT INTO config (name, value) VALUES ('federation', 'on');"
	    "INSERT INTO allowed_domain (domain, proxy_fqdn, monitor, comment, added) VALUES "
	    "('fabrikam.test', 'sip.fabrikam.test', 1, 'direct', 0), ('litware.test', NULL, 0, '', 0);"
	    "INSERT INTO blocked_domain (domain, comment, added) VALUES ('evil.test', 'spam', 0);"
	    "INSERT INTO provider (id, name, kind, proxy_fqdn, added) VALUES "
	    "(1, 'MSN', 'public', 'fed.msn.test', 0);"
	    "INSERT INTO provider_domain (domain, provider_id) VALUES ('msn.test', 1);"), 0);
	g = gen(st);
	store_close(st);
	/* This binary refuses it until it is migrated, and says how. */
	CHECK_EQ_INT(store_open(dbpath, 0, &st, err, sizeof(err)), -ESTALE);
	CHECK(has(err, "schema version 1 is older than this program's (2); run \"sipedgectl db "
	    "migrate\""));
	CHECK_EQ_INT(store_open(dbpath, STORE_OPEN_ANY, &st, err, sizeof(err)), 0);
	CHECK_EQ_INT(store_migrate(st, &from, &to), 0);
	CHECK_EQ_INT(from, 1);
	CHECK_EQ_INT(to, 2);
	store_close(st);
	CHECK_EQ_INT(store_open(dbpath, 0, &st, err, sizeof(err)), 0);
	/* The policy is intact; migrating is not a policy change. */
	CHECK_EQ_INT(gen(st), g);
	CHECK_EQ_INT(store_policy_load(st, &p), 0);
	CHECK(p->config.federation);
	CHECK_EQ_INT(p->config.xmpp.connection_limit, 1000);
	CHECK_EQ_INT(p->nallowed, 2);
	CHECK_EQ_STR(p->allowed[0].proxy_fqdn, "sip.fabrikam.test");
	CHECK(p->allowed[0].monitor);
	CHECK_EQ_STR(p->allowed[0].comment, "direct");
	CHECK_EQ_INT(p->nblocked, 1);
	CHECK_EQ_STR(p->blocked[0].comment, "spam");
	CHECK_EQ_INT(p->nproviders, 1);
	CHECK_EQ_STR(p->providers[0].domains[0], "msn.test");
	CHECK_EQ_INT(p->nxmpp_partners, 0);
	store_policy_free(p);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM audit WHERE command = 'db migrate' AND "
	    "object = 'schema' AND old = '1' AND new = '2'"), 1);
	/* The new rules cover the old entries. */
	CHECK_EQ_INT(store_xmpp_partner_add(st, &x), -EEXIST);
	CHECK(has(store_error(st), "fabrikam.test is a SIP allowed domain"));
	x = partner("msn.test");
	CHECK_EQ_INT(store_xmpp_partner_add(st, &x), -EEXIST);
	x = partner("evil.test");
	CHECK_EQ_INT(store_xmpp_partner_add(st, &x), -EEXIST);
	x = partner("gmail.test");
	CHECK_EQ_INT(store_xmpp_partner_add(st, &x), 0);
	CHECK(gen(st) > g);
	/* Nothing left to do the second time. */
	CHECK_EQ_INT(store_migrate(st, &from, &to), 0);
	CHECK_EQ_INT(from, 2);
	store_close(st);
	return 0;
}

/* ------------------------------------------------------------ subscriptions */

STORE_TEST(test_store_xmpp_subscriptions)
{
	struct store *st = new_store();
	struct store_xmpp_sub s = { 0 }, got, *v = NULL;
	char err[512], big[STORE_XMPP_PRESENCE_MAX + 2];
	const char *pidf = "<?xml version=\"1.0\"?>\n<presence xmlns=\"urn:ietf:params:xml:ns:pidf\">"
	    "\n\t<tuple id=\"a\"><status><basic>open</basic></status></tuple>\n</presence>";
	size_t n = 0;
	int changed = -1;

	CHECK(st != NULL);
	s.local_uri = "sip:bob@contoso.test";
	s.remote_jid = "Alice@GMail.Test.";
	s.state = STORE_XMPP_SUB_FROM;
	s.pending_out = true;
	s.last_presence = (char *)(uintptr_t)pidf;
	s.sip_dialog = "abc@pool;from-tag=1;to-tag=2";
	s.sip_expires = 1900000000;
	CHECK_EQ_INT(store_xmpp_sub_put(st, &s), 0);
	/* The JID's domain is stored in normal form, its localpart as given. */
	CHECK_EQ_INT(store_xmpp_sub_get(st, "sip:bob@contoso.test", "Alice@gmail.test", &got), 0);
	CHECK_EQ_STR(got.remote_jid, "Alice@gmail.test");
	CHECK_EQ_INT(got.state, STORE_XMPP_SUB_FROM);
	CHECK(got.pending_out && !got.pending_in);
	CHECK_EQ_STR(got.last_presence, pidf);
	CHECK_EQ_STR(got.sip_dialog, "abc@pool;from-tag=1;to-tag=2");
	CHECK_EQ_INT(got.sip_expires, 1900000000);
	CHECK(got.updated_at >= time(NULL) - 5);
	store_xmpp_sub_clear(&got);
	CHECK_EQ_INT(store_xmpp_sub_get(st, "sip:bob@contoso.test", "alice@gmail.test", &got),
	    -ENOENT);
	/* Put replaces the pair's row. */
	s.state = STORE_XMPP_SUB_BOTH;
	s.pending_out = false;
	s.last_presence = NULL;
	s.sip_dialog = NULL;
	s.sip_expires = 0;
	CHECK_EQ_INT(store_xmpp_sub_put(st, &s), 0);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM xmpp_subscription"), 1);
	/* More pairs, for the lists. */
	s.remote_jid = "carol@gtalk.test";
	s.state = STORE_XMPP_SUB_TO;
	s.pending_in = true;
	CHECK_EQ_INT(store_xmpp_sub_put(st, &s), 0);
	s.local_uri = "sip:dan@contoso.test";
	s.remote_jid = "gmail.test";
	s.state = STORE_XMPP_SUB_NONE;
	s.pending_out = true;
	CHECK_EQ_INT(store_xmpp_sub_put(st, &s), 0);
	store_close(st);
	/* They outlive the process: a probe after a restart finds them. */
	CHECK_EQ_INT(store_open(dbpath, 0, &st, err, sizeof(err)), 0);
	CHECK_EQ_INT(store_xmpp_sub_get(st, "sip:bob@contoso.test", "Alice@gmail.test", &got), 0);
	CHECK_EQ_INT(got.state, STORE_XMPP_SUB_BOTH);
	CHECK(got.last_presence == NULL && got.sip_dialog == NULL && got.sip_expires == 0);
	store_xmpp_sub_clear(&got);
	CHECK_EQ_INT(store_xmpp_sub_list(st, NULL, NULL, &v, &n), 0);
	CHECK_EQ_INT(n, 3);
	CHECK_EQ_STR(v[0].remote_jid, "Alice@gmail.test");
	CHECK_EQ_STR(v[1].remote_jid, "carol@gtalk.test");
	CHECK(v[1].pending_in);
	CHECK_EQ_STR(v[2].local_uri, "sip:dan@contoso.test");
	store_xmpp_sub_free(v, n);
	CHECK_EQ_INT(store_xmpp_sub_list(st, "sip:bob@contoso.test", NULL, &v, &n), 0);
	CHECK_EQ_INT(n, 2);
	store_xmpp_sub_free(v, n);
	CHECK_EQ_INT(store_xmpp_sub_list(st, NULL, "GMAIL.test", &v, &n), 0);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_STR(v[0].remote_jid, "Alice@gmail.test");
	CHECK_EQ_STR(v[1].remote_jid, "gmail.test");
	store_xmpp_sub_free(v, n);
	CHECK_EQ_INT(store_xmpp_sub_list(st, "sip:bob@contoso.test", "gtalk.test", &v, &n), 0);
	CHECK_EQ_INT(n, 1);
	store_xmpp_sub_free(v, n);
	/* "mail.test" is not the domain of "alice@gmail.test". */
	CHECK_EQ_INT(store_xmpp_sub_list(st, NULL, "mail.test", &v, &n), 0);
	CHECK_EQ_INT(n, 0);
	store_xmpp_sub_free(v, n);
	/* Delete. */
	CHECK_EQ_INT(store_xmpp_sub_delete(st, "sip:dan@contoso.test", "GMAIL.TEST"), 0);
	CHECK_EQ_INT(store_xmpp_sub_delete(st, "sip:dan@contoso.test", "gmail.test"), -ENOENT);
	CHECK(has(store_error(st), "no subscription between sip:dan@contoso.test and gmail.test"));
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM xmpp_subscription"), 2);
	/* Our user's presence on every watcher at a domain in one write: Alice
	 * (both) receives it; carol (to) does not; "mail.test" is not gmail. */
	CHECK_EQ_INT(store_xmpp_sub_set_presence(st, "sip:bob@contoso.test", "GMAIL.test", pidf,
	    &changed), 0);
	CHECK_EQ_INT(changed, 1);
	CHECK_EQ_INT(store_xmpp_sub_get(st, "sip:bob@contoso.test", "Alice@gmail.test", &got), 0);
	CHECK_EQ_STR(got.last_presence, pidf);
	store_xmpp_sub_clear(&got);
	CHECK_EQ_INT(store_xmpp_sub_set_presence(st, "sip:bob@contoso.test", "gtalk.test", pidf,
	    &changed), 0);
	CHECK_EQ_INT(changed, 0);
	CHECK_EQ_INT(store_xmpp_sub_set_presence(st, "sip:bob@contoso.test", "mail.test", pidf,
	    &changed), 0);
	CHECK_EQ_INT(changed, 0);
	CHECK_EQ_INT(store_xmpp_sub_set_presence(st, "sip:bob@contoso.test", "bad domain", pidf,
	    NULL), -EINVAL);
	CHECK_EQ_INT(store_xmpp_sub_set_presence(st, "sip:bob@contoso.test", "gmail.test",
	    "nul\001", NULL), -EINVAL);
	CHECK_EQ_INT(store_xmpp_sub_set_presence(st, "tel:+1555", "gmail.test", pidf, NULL),
	    -EINVAL);
	/* A connection for the daemon's frequent writes. */
	CHECK_EQ_INT(store_sync_relaxed(st), 0);
	CHECK_EQ_INT(count(st, "PRAGMA synchronous"), 1);

	/* The nine states of RFC 6121: no pending request in a direction that is
	 * already subscribed. */
	s.local_uri = "sip:eve@contoso.test";
	s.remote_jid = "eve@gmail.test";
	s.state = STORE_XMPP_SUB_TO;
	s.pending_out = true;
	s.pending_in = false;
	CHECK_EQ_INT(store_xmpp_sub_put(st, &s), -EINVAL);
	CHECK(has(store_error(st), "subscription state to cannot be pending out"));
	s.state = STORE_XMPP_SUB_BOTH;
	s.pending_out = false;
	s.pending_in = true;
	CHECK_EQ_INT(store_xmpp_sub_put(st, &s), -EINVAL);
	CHECK(has(store_error(st), "cannot be pending in"));
	s.state = STORE_XMPP_SUB_NONE;
	s.pending_out = true;
	CHECK_EQ_INT(store_xmpp_sub_put(st, &s), 0);
	/* Bad addresses and fields. */
	s.pending_out = s.pending_in = false;
	s.remote_jid = "eve@gmail.test/phone";
	CHECK_EQ_INT(store_xmpp_sub_put(st, &s), -EINVAL);
	CHECK(has(store_error(st), "invalid bare JID \"eve@gmail.test/phone\""));
	s.remote_jid = "a@b@gmail.test";
	CHECK_EQ_INT(store_xmpp_sub_put(st, &s), -EINVAL);
	s.remote_jid = "@gmail.test";
	CHECK_EQ_INT(store_xmpp_sub_put(st, &s), -EINVAL);
	s.remote_jid = "e<v>e@gmail.test";
	CHECK_EQ_INT(store_xmpp_sub_put(st, &s), -EINVAL);
	s.remote_jid = "eve@10.0.0.1";
	CHECK_EQ_INT(store_xmpp_sub_put(st, &s), -EINVAL);
	s.remote_jid = "eve@gmail.test";
	s.local_uri = "tel:+15551234";
	CHECK_EQ_INT(store_xmpp_sub_put(st, &s), -EINVAL);
	CHECK(has(store_error(st), "invalid local URI \"tel:+15551234\""));
	s.local_uri = "sip:eve@contoso.test";
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	s.last_presence = big;
	CHECK_EQ_INT(store_xmpp_sub_put(st, &s), -EINVAL);
	s.last_presence = "nul\001";
	CHECK_EQ_INT(store_xmpp_sub_put(st, &s), -EINVAL);
	s.last_presence = NULL;
	s.state = (enum store_xmpp_sub_state)4;
	CHECK_EQ_INT(store_xmpp_sub_put(st, &s), -EINVAL);
	CHECK_EQ_INT(store_xmpp_sub_list(st, "not a uri", NULL, &v, &n), -EINVAL);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM xmpp_subscription"), 3);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM audit WHERE object LIKE '%eve%'"), 0);
	store_close(st);
	/* The schema holds the pending rule for the sqlite3 shell too. */
	CHECK(raw_sql("UPDATE xmpp_subscription SET state = 'both' WHERE pending_out = 1")
	    == SQLITE_CONSTRAINT);
	return 0;
}

/* ---------------------------------------------------------- load, replace */

STORE_TEST(test_store_xmpp_policy_replace)
{
	struct store *st = new_store();
	struct store_xmpp_partner x[2], keep = partner("keep.test");
	struct store_allowed al[] = { { "fabrikam.test", NULL, false, "" } };
	struct store_policy in, *p = NULL;
	char *more[] = { "GTalk.test" };
	uint64_t g;

	CHECK(st != NULL);
	CHECK_EQ_INT(store_xmpp_partner_add(st, &keep), 0);
	memset(&in, 0, sizeof(in));
	store_config_defaults(&in.config);
	in.config.xmpp.message_type = STORE_XMPP_MSG_NORMAL;
	in.config.xmpp.keepalive_interval = 60;
	x[0] = partner("Gmail.test");
	x[0].additional = more;
	x[0].nadditional = 1;
	x[0].tls = STORE_XMPP_NOT_SUPPORTED;
	x[0].sasl = STORE_XMPP_NOT_SUPPORTED;
	x[0].comment = "g";
	x[1] = partner("jabber.test");
	x[1].connection_limit = 8;
	in.xmpp_partners = x;
	in.nxmpp_partners = 2;
	CHECK_EQ_INT(store_policy_replace(st, &in, "import"), 0);
	CHECK_EQ_INT(store_policy_load(st, &p), 0);
	CHECK_EQ_INT(p->nxmpp_partners, 2);
	CHECK_EQ_STR(p->xmpp_partners[0].domain, "gmail.test");
	CHECK_EQ_STR(p->xmpp_partners[0].additional[0], "gtalk.test");
	CHECK_EQ_INT(p->xmpp_partners[0].tls, STORE_XMPP_NOT_SUPPORTED);
	CHECK_EQ_STR(p->xmpp_partners[1].domain, "jabber.test");
	CHECK_EQ_INT(p->xmpp_partners[1].connection_limit, 8);
	CHECK_EQ_INT(p->config.xmpp.message_type, STORE_XMPP_MSG_NORMAL);
	CHECK_EQ_INT(p->config.xmpp.keepalive_interval, 60);
	store_policy_free(p);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM xmpp_config"), 2);
	/* Audited per object: keep.test removed, two partners added, two
	 * settings changed. */
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM audit WHERE command = 'import'"), 5);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM audit WHERE command = 'import' AND "
	    "object = 'xmpp partner keep.test' AND new IS NULL"), 1);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM audit WHERE command = 'import' AND "
	    "object = 'xmpp config message-type'"), 1);
	/* The same again changes nothing. */
	CHECK_EQ_INT(store_policy_replace(st, &in, "import"), 0);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM audit WHERE command = 'import'"), 5);
	/* The store's rules, all or nothing, with the entry's index. */
	g = gen(st);
	x[1].dialback = false;
	x[1].sasl = STORE_XMPP_NOT_SUPPORTED;
	CHECK_EQ_INT(store_policy_replace(st, &in, "import"), -EINVAL);
	CHECK(has(store_error(st), "xmpp_partners[1]: a partner must authenticate by SASL or "
	    "dialback"));
	x[1] = partner("jabber.test");
	in.allowed = al;
	in.nallowed = 1;
	more[0] = "fabrikam.test";
	CHECK_EQ_INT(store_policy_replace(st, &in, "import"), -EEXIST);
	CHECK(has(store_error(st), "xmpp_partners[0]: fabrikam.test is a SIP allowed domain"));
	more[0] = "jabber.test";
	in.nallowed = 0;
	CHECK_EQ_INT(store_policy_replace(st, &in, "import"), -EEXIST);
	CHECK(has(store_error(st), "xmpp_partners[1]: jabber.test is an additional domain of XMPP "
	    "partner gmail.test"));
	in.config.xmpp.partner_connection_limit = 2000;
	CHECK_EQ_INT(store_policy_replace(st, &in, "import"), -EINVAL);
	CHECK(has(store_error(st), "partner-connection-limit"));
	CHECK_EQ_INT(gen(st), g);
	CHECK_EQ_INT(count(st, "SELECT count(*) FROM xmpp_partner_domain WHERE domain = 'gtalk.test'"),
	    1);
	store_close(st);
	return 0;
}

static const struct unit_test tests[] = {
	UNIT(test_store_xmpp_defaults),
	UNIT(test_store_xmpp_nego_matrix),
	UNIT(test_store_xmpp_add_get_list),
	UNIT(test_store_xmpp_update_and_remove),
	UNIT(test_store_xmpp_domain_is_one_thing),
	UNIT(test_store_xmpp_block_replace),
	UNIT(test_store_xmpp_generation_and_audit),
	UNIT(test_store_xmpp_config),
	UNIT(test_store_xmpp_migrate_1_to_2),
	UNIT(test_store_xmpp_subscriptions),
	UNIT(test_store_xmpp_policy_replace),
	{ 0 }
};

int
main(int argc, char **argv)
{
	return unit_main(argc, argv, tests);
}
