/* test_fedroute.c: unit tests for fedroute.c, table-driven: every federation
 * type x direction x setting (federation off, discovery off/on, default
 * route), block-list precedence, certificate and source-domain matching, the
 * SRV completion, the trust header and the 2000-2099 diagnostic codes. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sipedge/fedroute.h"
#include "unit.h"

/* ----------------------------------------------------------------- fixture */

enum setting { S_OFF, S_DISC_OFF, S_DISC_ON, S_DEFROUTE, S_DEFROUTE_DISC };

static const char *const setting_names[] = {
	"federation off", "discovery off", "discovery on", "default-route",
	"default-route+discovery",
};

/* Our domain contoso.test; blocked evil.test; allowed partner server
 * litware.test (edge.litware.test, monitored); allowed partner domain
 * fabrikam.test; provider PubIM (fed.provider.test: provider.test,
 * im.provider.test, use-source), Hoster (sip.hoster.test: hosted.test,
 * disabled, always-verified), Unverif (sip.unverif.test: unverif.test,
 * always-unverified). */
static char *pubim_domains[] = { "im.provider.test", "provider.test" };
static char *hoster_domains[] = { "hosted.test" };
static char *unverif_domains[] = { "unverif.test" };
static const char *const local_domains[] = { "contoso.test" };

static struct store_allowed fixture_allowed[] = {
	{ "fabrikam.test", NULL, false, "" },
	{ "litware.test", "edge.litware.test", true, "" },
};
static struct store_blocked fixture_blocked[] = { { "evil.test", "" } };
static struct store_provider fixture_providers[] = {
	{ "Hoster", STORE_PROVIDER_HOSTING, "sip.hoster.test", STORE_VERIFY_ALWAYS_VERIFIED,
	  false, "", hoster_domains, 1 },
	{ "PubIM", STORE_PROVIDER_PUBLIC, "fed.provider.test", STORE_VERIFY_USE_SOURCE,
	  true, "", pubim_domains, 2 },
	{ "Unverif", STORE_PROVIDER_PUBLIC, "sip.unverif.test", STORE_VERIFY_ALWAYS_UNVERIFIED,
	  true, "", unverif_domains, 1 },
};

static void
fixture(struct store_policy *sp, enum setting s)
{
	memset(sp, 0, sizeof(*sp));
	store_config_defaults(&sp->config);
	sp->generation = 7;
	sp->config.federation = s != S_OFF;
	sp->config.partner_discovery = s == S_DISC_ON || s == S_DEFROUTE_DISC;
	if (s == S_DEFROUTE || s == S_DEFROUTE_DISC) {
		sp->config.routing = STORE_ROUTING_DEFAULT_ROUTE;
		snprintf(sp->config.default_route_fqdn, sizeof(sp->config.default_route_fqdn),
		    "upstream.contoso.test");
	}
	sp->allowed = fixture_allowed;
	sp->nallowed = 2;
	sp->blocked = fixture_blocked;
	sp->nblocked = 1;
	sp->providers = fixture_providers;
	sp->nproviders = 3;
}

static struct policy *
build(enum setting s)
{
	struct store_policy sp;
	struct policy *p = NULL;

	fixture(&sp, s);
	if (policy_build_local(&sp, local_domains, 1, &p) != 0)
		return NULL;
	return p;
}

/* --------------------------------------------------------------- outbound */

struct out_case {
	enum setting s;
	const char *domain;
	enum diag_code diag;               /* DIAG_NONE: accepted */
	enum fed_type type;
	enum fed_via via;
	const char *next;
	bool throttled, default_route;
};

#define SRV(d) FEDROUTE_SRV_PREFIX d
#define UP "upstream.contoso.test"

static const struct out_case out_cases[] = {
	/* Federation off refuses every type. */
	{ S_OFF, "litware.test", DIAG_FED_DISABLED, 0, 0, NULL, 0, 0 },
	{ S_OFF, "provider.test", DIAG_FED_DISABLED, 0, 0, NULL, 0, 0 },
	{ S_OFF, "hosted.test", DIAG_FED_DISABLED, 0, 0, NULL, 0, 0 },
	{ S_OFF, "fabrikam.test", DIAG_FED_DISABLED, 0, 0, NULL, 0, 0 },
	{ S_OFF, "unknown.test", DIAG_FED_DISABLED, 0, 0, NULL, 0, 0 },
	{ S_OFF, "evil.test", DIAG_FED_DISABLED, 0, 0, NULL, 0, 0 },
	/* dns-srv, discovery off. */
	{ S_DISC_OFF, "litware.test", DIAG_NONE, FED_ALLOWED_SERVER, FED_VIA_FQDN, "edge.litware.test", 0, 0 },
	{ S_DISC_OFF, "LitWare.TEST.", DIAG_NONE, FED_ALLOWED_SERVER, FED_VIA_FQDN, "edge.litware.test", 0, 0 },
	{ S_DISC_OFF, "provider.test", DIAG_NONE, FED_PROVIDER, FED_VIA_FQDN, "fed.provider.test", 0, 0 },
	{ S_DISC_OFF, "im.provider.test", DIAG_NONE, FED_PROVIDER, FED_VIA_FQDN, "fed.provider.test", 0, 0 },
	{ S_DISC_OFF, "hosted.test", DIAG_FED_PROVIDER_DISABLED, 0, 0, NULL, 0, 0 },
	{ S_DISC_OFF, "fabrikam.test", DIAG_NONE, FED_ALLOWED_DOMAIN, FED_VIA_SRV, SRV("fabrikam.test"), 0, 0 },
	{ S_DISC_OFF, "unknown.test", DIAG_FED_NOT_FEDERATED, 0, 0, NULL, 0, 0 },
	{ S_DISC_OFF, "sub.fabrikam.test", DIAG_FED_NOT_FEDERATED, 0, 0, NULL, 0, 0 },
	{ S_DISC_OFF, "sub.evil.test", DIAG_FED_NOT_FEDERATED, 0, 0, NULL, 0, 0 },
	{ S_DISC_OFF, "evil.test", DIAG_FED_BLOCKED, 0, 0, NULL, 0, 0 },
	{ S_DISC_OFF, "EVIL.test.", DIAG_FED_BLOCKED, 0, 0, NULL, 0, 0 },
	{ S_DISC_OFF, "contoso.test", DIAG_LOCAL_TARGET, 0, 0, NULL, 0, 0 },
	{ S_DISC_OFF, "127.0.0.1", DIAG_FED_NOT_FEDERATED, 0, 0, NULL, 0, 0 },
	{ S_DISC_OFF, "*.fabrikam.test", DIAG_FED_NOT_FEDERATED, 0, 0, NULL, 0, 0 },
	{ S_DISC_OFF, "", DIAG_FED_NOT_FEDERATED, 0, 0, NULL, 0, 0 },
	/* dns-srv, discovery on: unknown domains become discovered partners. */
	{ S_DISC_ON, "litware.test", DIAG_NONE, FED_ALLOWED_SERVER, FED_VIA_FQDN, "edge.litware.test", 0, 0 },
	{ S_DISC_ON, "provider.test", DIAG_NONE, FED_PROVIDER, FED_VIA_FQDN, "fed.provider.test", 0, 0 },
	{ S_DISC_ON, "hosted.test", DIAG_FED_PROVIDER_DISABLED, 0, 0, NULL, 0, 0 },
	{ S_DISC_ON, "fabrikam.test", DIAG_NONE, FED_ALLOWED_DOMAIN, FED_VIA_SRV, SRV("fabrikam.test"), 0, 0 },
	{ S_DISC_ON, "unknown.test", DIAG_NONE, FED_DISCOVERED, FED_VIA_SRV, SRV("unknown.test"), 1, 0 },
	{ S_DISC_ON, "Sub.Fabrikam.Test", DIAG_NONE, FED_DISCOVERED, FED_VIA_SRV, SRV("sub.fabrikam.test"), 1, 0 },
	{ S_DISC_ON, "evil.test", DIAG_FED_BLOCKED, 0, 0, NULL, 0, 0 },
	{ S_DISC_ON, "contoso.test", DIAG_LOCAL_TARGET, 0, 0, NULL, 0, 0 },
	/* default-route: every federated type to the one FQDN, the type kept;
	 * blocked, disabled and unknown still refused. */
	{ S_DEFROUTE, "litware.test", DIAG_NONE, FED_ALLOWED_SERVER, FED_VIA_FQDN, UP, 0, 1 },
	{ S_DEFROUTE, "provider.test", DIAG_NONE, FED_PROVIDER, FED_VIA_FQDN, UP, 0, 1 },
	{ S_DEFROUTE, "hosted.test", DIAG_FED_PROVIDER_DISABLED, 0, 0, NULL, 0, 0 },
	{ S_DEFROUTE, "fabrikam.test", DIAG_NONE, FED_ALLOWED_DOMAIN, FED_VIA_FQDN, UP, 0, 1 },
	{ S_DEFROUTE, "unknown.test", DIAG_FED_NOT_FEDERATED, 0, 0, NULL, 0, 0 },
	{ S_DEFROUTE, "evil.test", DIAG_FED_BLOCKED, 0, 0, NULL, 0, 0 },
	{ S_DEFROUTE, "contoso.test", DIAG_LOCAL_TARGET, 0, 0, NULL, 0, 0 },
	/* A hand-edited db with both (store_config_check forbids it): the
	 * default route still carries discovered traffic, throttled. */
	{ S_DEFROUTE_DISC, "unknown.test", DIAG_NONE, FED_DISCOVERED, FED_VIA_FQDN, UP, 1, 1 },
};

static int
check_out(const struct policy *p, const struct out_case *c)
{
	struct fed_out d;
	int rc;

	memset(&d, 0xa5, sizeof(d));
	rc = fedroute_outbound(p, c->domain, &d);
	if (c->diag != DIAG_NONE) {
		CHECK_EQ_INT(rc, -EACCES);
		CHECK_EQ_INT(d.diag, c->diag);
		CHECK_EQ_INT(d.status, diag_lookup(c->diag)->status);
		CHECK(d.detail[0] != '\0');
		CHECK_EQ_INT(d.type, FED_NONE);
		CHECK_EQ_INT(d.via, FED_VIA_NONE);
		CHECK_EQ_STR(d.next, "");
		CHECK(!d.throttled);
		return 0;
	}
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_INT(d.status, 0);
	CHECK_EQ_INT(d.diag, DIAG_NONE);
	CHECK_EQ_INT(d.type, c->type);
	CHECK_EQ_INT(d.via, c->via);
	CHECK_EQ_STR(d.next, c->next);
	CHECK_EQ_INT(d.throttled, c->throttled);
	CHECK_EQ_INT(d.default_route, c->default_route);
	CHECK(strchr(d.domain, '.') != NULL && strspn(d.domain, "abcdefghijklmnopqrstuvwxyz.-") ==
	    strlen(d.domain));
	return 0;
}

static int
test_fedroute_outbound_table(void)
{
	struct policy *p[5] = { 0 };
	size_t fails = 0;

	for (int s = S_OFF; s <= S_DEFROUTE_DISC; s++)
		CHECK((p[s] = build((enum setting)s)) != NULL);
	for (size_t i = 0; i < sizeof(out_cases) / sizeof(out_cases[0]); i++) {
		const struct out_case *c = &out_cases[i];

		if (check_out(p[c->s], c) != 0) {
			fprintf(stderr, "# case %zu: outbound %s, %s\n", i, c->domain,
			    setting_names[c->s]);
			fails++;
		}
	}
	for (int s = S_OFF; s <= S_DEFROUTE_DISC; s++)
		policy_unref(p[s]);
	CHECK_EQ_INT(fails, 0);
	return 0;
}

static int
test_fedroute_outbound_details(void)
{
	struct policy *p = build(S_DISC_OFF);
	struct fed_out d;

	CHECK(p != NULL);
	CHECK_EQ_INT(fedroute_outbound(p, "litware.test", &d), 0);
	CHECK(d.monitor);
	CHECK(d.mark_verified);             /* mark-source-verifiable defaults on */
	CHECK_EQ_STR(d.domain, "litware.test");
	CHECK_EQ_INT(fedroute_outbound(p, "provider.test", &d), 0);
	CHECK_EQ_STR(d.provider, "PubIM");
	CHECK_EQ_INT(d.verification, STORE_VERIFY_USE_SOURCE);
	CHECK(!d.monitor);
	CHECK_EQ_INT(fedroute_outbound(p, "hosted.test", &d), -EACCES);
	CHECK(strstr(d.detail, "Hoster") != NULL);
	CHECK_EQ_INT(fedroute_outbound(p, "evil.test", &d), -EACCES);
	CHECK(strstr(d.detail, "evil.test") != NULL);
	CHECK_EQ_INT(fedroute_outbound(p, NULL, &d), -EACCES);
	CHECK_EQ_INT(d.diag, DIAG_FED_NOT_FEDERATED);
	/* A bad name from the peer reaches the detail (a header's reason) only
	 * in printable form. */
	CHECK_EQ_INT(fedroute_outbound(p, "bad\r\nX-Injected: \"y\"", &d), -EACCES);
	CHECK_EQ_STR(d.detail, "target is not a domain name: bad??X-Injected:??y?");
	policy_unref(p);
	return 0;
}

/* ---------------------------------------------------------------- inbound */

struct in_case {
	enum setting s;
	const char *source;
	const char *peers[3];              /* NULL-terminated */
	int rc;                            /* enum fed_in_result */
	enum diag_code diag;
	enum fed_type type;
	const char *peer;                  /* accepted: the matched name */
	bool throttled;
};

static const struct in_case in_cases[] = {
	/* Federation off refuses every type, even with the right certificate. */
	{ S_OFF, "litware.test", { "edge.litware.test" }, FED_IN_REFUSE, DIAG_FED_DISABLED, 0, NULL, 0 },
	{ S_OFF, "provider.test", { "fed.provider.test" }, FED_IN_REFUSE, DIAG_FED_DISABLED, 0, NULL, 0 },
	{ S_OFF, "fabrikam.test", { "sip.fabrikam.test" }, FED_IN_REFUSE, DIAG_FED_DISABLED, 0, NULL, 0 },
	{ S_OFF, "unknown.test", { "sip.unknown.test" }, FED_IN_REFUSE, DIAG_FED_DISABLED, 0, NULL, 0 },
	/* Allowed partner server: the certificate must name the configured proxy. */
	{ S_DISC_OFF, "litware.test", { "edge.litware.test" }, FED_IN_ACCEPT, 0, FED_ALLOWED_SERVER, "edge.litware.test", 0 },
	{ S_DISC_OFF, "LITWARE.test.", { "EDGE.Litware.Test." }, FED_IN_ACCEPT, 0, FED_ALLOWED_SERVER, "edge.litware.test", 0 },
	{ S_DISC_OFF, "litware.test", { "other.litware.test", "edge.litware.test" }, FED_IN_ACCEPT, 0, FED_ALLOWED_SERVER, "edge.litware.test", 0 },
	{ S_DISC_OFF, "litware.test", { "*.litware.test" }, FED_IN_REFUSE, DIAG_FED_CERT_MISMATCH, 0, NULL, 0 },
	{ S_DISC_OFF, "litware.test", { "edge.litware.test.evil.test" }, FED_IN_REFUSE, DIAG_FED_CERT_MISMATCH, 0, NULL, 0 },
	{ S_DISC_OFF, "litware.test", { "sip.fabrikam.test" }, FED_IN_REFUSE, DIAG_FED_CERT_MISMATCH, 0, NULL, 0 },
	{ S_DISC_OFF, "litware.test", { "fed.provider.test" }, FED_IN_REFUSE, DIAG_FED_CERT_MISMATCH, 0, NULL, 0 },
	{ S_DISC_OFF, "litware.test", { NULL }, FED_IN_REFUSE, DIAG_FED_CERT_MISMATCH, 0, NULL, 0 },
	/* Provider: its proxy, only for its domains, only while enabled. */
	{ S_DISC_OFF, "provider.test", { "fed.provider.test" }, FED_IN_ACCEPT, 0, FED_PROVIDER, "fed.provider.test", 0 },
	{ S_DISC_OFF, "IM.Provider.Test", { "Fed.Provider.Test." }, FED_IN_ACCEPT, 0, FED_PROVIDER, "fed.provider.test", 0 },
	{ S_DISC_OFF, "provider.test", { "sip.unverif.test" }, FED_IN_REFUSE, DIAG_FED_CERT_MISMATCH, 0, NULL, 0 },
	{ S_DISC_OFF, "provider.test", { "*.provider.test" }, FED_IN_REFUSE, DIAG_FED_CERT_MISMATCH, 0, NULL, 0 },
	{ S_DISC_OFF, "hosted.test", { "sip.hoster.test" }, FED_IN_REFUSE, DIAG_FED_PROVIDER_DISABLED, 0, NULL, 0 },
	{ S_DISC_OFF, "fabrikam.test", { "fed.provider.test" }, FED_IN_REFUSE, DIAG_FED_PROVIDER_FOREIGN, 0, NULL, 0 },
	{ S_DISC_OFF, "unknown.test", { "fed.provider.test" }, FED_IN_REFUSE, DIAG_FED_PROVIDER_FOREIGN, 0, NULL, 0 },
	{ S_DISC_OFF, "unknown.test", { "sip.unknown.test", "SIP.HOSTER.TEST" }, FED_IN_REFUSE, DIAG_FED_PROVIDER_FOREIGN, 0, NULL, 0 },
	/* Allowed partner domain: the SRV check decides. */
	{ S_DISC_OFF, "fabrikam.test", { "sip.fabrikam.test" }, FED_IN_NEED_SRV, 0, FED_ALLOWED_DOMAIN, NULL, 0 },
	{ S_DISC_OFF, "Fabrikam.Test.", { "anything.test" }, FED_IN_NEED_SRV, 0, FED_ALLOWED_DOMAIN, NULL, 0 },
	/* Unknown, blocked, ours, not a name. */
	{ S_DISC_OFF, "unknown.test", { "sip.unknown.test" }, FED_IN_REFUSE, DIAG_FED_NOT_FEDERATED, 0, NULL, 0 },
	{ S_DISC_OFF, "sub.litware.test", { "edge.litware.test" }, FED_IN_REFUSE, DIAG_FED_NOT_FEDERATED, 0, NULL, 0 },
	{ S_DISC_OFF, "evil.test", { "sip.evil.test" }, FED_IN_REFUSE, DIAG_FED_BLOCKED, 0, NULL, 0 },
	{ S_DISC_OFF, "contoso.test", { "sip.contoso.test" }, FED_IN_REFUSE, DIAG_FED_SPOOFED, 0, NULL, 0 },
	{ S_DISC_OFF, "CONTOSO.TEST.", { "edge.litware.test" }, FED_IN_REFUSE, DIAG_FED_SPOOFED, 0, NULL, 0 },
	{ S_DISC_OFF, "192.0.2.1", { "sip.unknown.test" }, FED_IN_REFUSE, DIAG_FED_NOT_FEDERATED, 0, NULL, 0 },
	/* Discovery on: unknown domains go to the SRV check, throttled. */
	{ S_DISC_ON, "litware.test", { "edge.litware.test" }, FED_IN_ACCEPT, 0, FED_ALLOWED_SERVER, "edge.litware.test", 0 },
	{ S_DISC_ON, "litware.test", { "sip.litware.test" }, FED_IN_REFUSE, DIAG_FED_CERT_MISMATCH, 0, NULL, 0 },
	{ S_DISC_ON, "provider.test", { "fed.provider.test" }, FED_IN_ACCEPT, 0, FED_PROVIDER, "fed.provider.test", 0 },
	{ S_DISC_ON, "hosted.test", { "sip.hoster.test" }, FED_IN_REFUSE, DIAG_FED_PROVIDER_DISABLED, 0, NULL, 0 },
	{ S_DISC_ON, "fabrikam.test", { "sip.fabrikam.test" }, FED_IN_NEED_SRV, 0, FED_ALLOWED_DOMAIN, NULL, 0 },
	{ S_DISC_ON, "unknown.test", { "sip.unknown.test" }, FED_IN_NEED_SRV, 0, FED_DISCOVERED, NULL, 1 },
	{ S_DISC_ON, "unknown.test", { "fed.provider.test" }, FED_IN_REFUSE, DIAG_FED_PROVIDER_FOREIGN, 0, NULL, 0 },
	{ S_DISC_ON, "evil.test", { "sip.evil.test" }, FED_IN_REFUSE, DIAG_FED_BLOCKED, 0, NULL, 0 },
	{ S_DISC_ON, "contoso.test", { "sip.contoso.test" }, FED_IN_REFUSE, DIAG_FED_SPOOFED, 0, NULL, 0 },
	/* The routing method does not change the inbound rules. */
	{ S_DEFROUTE, "litware.test", { "edge.litware.test" }, FED_IN_ACCEPT, 0, FED_ALLOWED_SERVER, "edge.litware.test", 0 },
	{ S_DEFROUTE, "litware.test", { UP }, FED_IN_REFUSE, DIAG_FED_CERT_MISMATCH, 0, NULL, 0 },
	{ S_DEFROUTE, "provider.test", { "fed.provider.test" }, FED_IN_ACCEPT, 0, FED_PROVIDER, "fed.provider.test", 0 },
	{ S_DEFROUTE, "fabrikam.test", { "sip.fabrikam.test" }, FED_IN_NEED_SRV, 0, FED_ALLOWED_DOMAIN, NULL, 0 },
	{ S_DEFROUTE, "unknown.test", { UP }, FED_IN_REFUSE, DIAG_FED_NOT_FEDERATED, 0, NULL, 0 },
	{ S_DEFROUTE, "evil.test", { "sip.evil.test" }, FED_IN_REFUSE, DIAG_FED_BLOCKED, 0, NULL, 0 },
};

static size_t
npeers(const char *const *peers)
{
	size_t n = 0;

	while (n < 3 && peers[n])
		n++;
	return n;
}

static int
check_in(const struct policy *p, const struct in_case *c)
{
	struct fed_in d;
	int rc;

	memset(&d, 0xa5, sizeof(d));
	rc = fedroute_inbound(p, c->source, c->peers, npeers(c->peers), &d);
	CHECK_EQ_INT(rc, c->rc);
	if (c->rc == FED_IN_REFUSE) {
		CHECK_EQ_INT(d.diag, c->diag);
		CHECK_EQ_INT(d.status, diag_lookup(c->diag)->status);
		CHECK(d.detail[0] != '\0');
		CHECK_EQ_INT(d.type, FED_NONE);
		CHECK_EQ_STR(d.peer, "");
		CHECK(!d.throttled);
		return 0;
	}
	CHECK_EQ_INT(d.diag, DIAG_NONE);
	CHECK_EQ_INT(d.status, 0);
	CHECK_EQ_INT(d.type, c->type);
	CHECK_EQ_INT(d.throttled, c->throttled);
	if (c->rc == FED_IN_ACCEPT) {
		CHECK_EQ_STR(d.peer, c->peer);
		CHECK_EQ_STR(d.srv, "");
	} else {
		char want[FEDROUTE_NEXT_MAX];

		snprintf(want, sizeof(want), "%s%s", FEDROUTE_SRV_PREFIX, d.domain);
		CHECK_EQ_STR(d.srv, want);
		CHECK_EQ_STR(d.peer, "");
	}
	return 0;
}

static int
test_fedroute_inbound_table(void)
{
	struct policy *p[5] = { 0 };
	size_t fails = 0;

	for (int s = S_OFF; s <= S_DEFROUTE_DISC; s++)
		CHECK((p[s] = build((enum setting)s)) != NULL);
	for (size_t i = 0; i < sizeof(in_cases) / sizeof(in_cases[0]); i++) {
		const struct in_case *c = &in_cases[i];

		if (check_in(p[c->s], c) != 0) {
			fprintf(stderr, "# case %zu: inbound from %s, %s\n", i, c->source,
			    setting_names[c->s]);
			fails++;
		}
	}
	for (int s = S_OFF; s <= S_DEFROUTE_DISC; s++)
		policy_unref(p[s]);
	CHECK_EQ_INT(fails, 0);
	return 0;
}

static int
test_fedroute_inbound_details(void)
{
	struct policy *p = build(S_DISC_OFF);
	const char *peers[] = { "edge.litware.test" };
	const char *wrong[] = { "sip.litware.test" };
	struct fed_in d;

	CHECK(p != NULL);
	CHECK_EQ_INT(fedroute_inbound(p, "litware.test", peers, 1, &d), FED_IN_ACCEPT);
	CHECK(d.monitor);
	CHECK_EQ_STR(d.domain, "litware.test");
	CHECK_EQ_INT(fedroute_inbound(p, "litware.test", wrong, 1, &d), FED_IN_REFUSE);
	/* The detail names the expected proxy and the domain. */
	CHECK(strstr(d.detail, "edge.litware.test") != NULL);
	CHECK(strstr(d.detail, "litware.test") != NULL);
	peers[0] = "fed.provider.test";
	CHECK_EQ_INT(fedroute_inbound(p, "provider.test", peers, 1, &d), FED_IN_ACCEPT);
	CHECK_EQ_STR(d.provider, "PubIM");
	CHECK_EQ_INT(d.verification, STORE_VERIFY_USE_SOURCE);
	CHECK_EQ_INT(fedroute_inbound(p, "fabrikam.test", peers, 1, &d), FED_IN_REFUSE);
	CHECK(strstr(d.detail, "PubIM") != NULL);
	CHECK_EQ_INT(fedroute_inbound(p, NULL, peers, 1, &d), FED_IN_REFUSE);
	CHECK_EQ_INT(d.diag, DIAG_FED_NOT_FEDERATED);
	policy_unref(p);
	return 0;
}

/* ------------------------------------------------------------------- SRV */

static int
test_fedroute_inbound_srv(void)
{
	struct policy *p = build(S_DISC_ON);
	const char *targets[] = { "SIP.Fabrikam.Test.", "sip2.fabrikam.test", "*.fabrikam.test" };
	const char *good[] = { "other.fabrikam.test", "sip2.fabrikam.test" };
	const char *upper[] = { "Sip.FABRIKAM.test." };
	const char *wild[] = { "*.fabrikam.test" };
	const char *none[] = { "sip.litware.test" };
	struct fed_in d, r;

	CHECK(p != NULL);
	CHECK_EQ_INT(fedroute_inbound(p, "fabrikam.test", good, 2, &d), FED_IN_NEED_SRV);
	CHECK_EQ_INT(fedroute_inbound_srv(&d, targets, 3, good, 2, &r), FED_IN_ACCEPT);
	CHECK_EQ_INT(r.type, FED_ALLOWED_DOMAIN);
	CHECK_EQ_STR(r.peer, "sip2.fabrikam.test");
	CHECK_EQ_INT(fedroute_inbound_srv(&d, targets, 3, upper, 1, &r), FED_IN_ACCEPT);
	CHECK_EQ_STR(r.peer, "sip.fabrikam.test");
	/* A wildcard in the certificate or in DNS matches nothing. */
	CHECK_EQ_INT(fedroute_inbound_srv(&d, targets, 3, wild, 1, &r), FED_IN_REFUSE);
	CHECK_EQ_INT(r.diag, DIAG_FED_NOT_SRV_TARGET);
	CHECK_EQ_INT(r.status, 403);
	CHECK_EQ_INT(r.type, FED_NONE);
	CHECK_EQ_INT(fedroute_inbound_srv(&d, targets, 3, none, 1, &r), FED_IN_REFUSE);
	CHECK_EQ_INT(r.diag, DIAG_FED_NOT_SRV_TARGET);
	CHECK_EQ_INT(fedroute_inbound_srv(&d, targets, 3, NULL, 0, &r), FED_IN_REFUSE);
	/* No record. */
	CHECK_EQ_INT(fedroute_inbound_srv(&d, NULL, 0, good, 2, &r), FED_IN_REFUSE);
	CHECK_EQ_INT(r.diag, DIAG_FED_SRV_NONE);
	CHECK_EQ_INT(r.status, 504);
	CHECK(strstr(r.detail, "_sipfederationtls._tcp.fabrikam.test") != NULL);
	/* Discovered, in place (out == d): stays throttled when accepted. */
	CHECK_EQ_INT(fedroute_inbound(p, "unknown.test", none, 1, &d), FED_IN_NEED_SRV);
	targets[0] = "sip.litware.test";
	CHECK_EQ_INT(fedroute_inbound_srv(&d, targets, 1, none, 1, &d), FED_IN_ACCEPT);
	CHECK_EQ_INT(d.type, FED_DISCOVERED);
	CHECK(d.throttled);
	CHECK_EQ_STR(d.peer, "sip.litware.test");
	/* Only a pending SRV decision can be finished. */
	CHECK_EQ_INT(fedroute_inbound(p, "evil.test", none, 1, &d), FED_IN_REFUSE);
	CHECK_EQ_INT(fedroute_inbound_srv(&d, targets, 1, none, 1, &r), FED_IN_REFUSE);
	policy_unref(p);
	return 0;
}

/* ----------------------------------------------------- block precedence */

/* x.test is blocked and, in turn, also an allowed partner server, an allowed
 * partner domain, a provider domain, and (discovery on) unknown: blocked
 * wins in both directions, whatever the routing method. */
static int
test_fedroute_block_precedence(void)
{
	static struct store_allowed as_server[] = { { "x.test", "edge.x.test", false, "" } };
	static struct store_allowed as_domain[] = { { "x.test", NULL, false, "" } };
	static char *xdom[] = { "x.test" };
	static struct store_provider as_provider[] = {
		{ "X", STORE_PROVIDER_PUBLIC, "edge.x.test", STORE_VERIFY_USE_SOURCE, true, "", xdom, 1 },
	};
	static struct store_blocked blocked[] = { { "x.test", "" } };
	const char *peers[] = { "edge.x.test" };

	for (int kind = 0; kind < 4; kind++) {
		for (int route = 0; route < 2; route++) {
			struct store_policy sp;
			struct policy *p = NULL;
			struct fed_out o;
			struct fed_in in;

			memset(&sp, 0, sizeof(sp));
			store_config_defaults(&sp.config);
			sp.config.federation = true;
			sp.config.partner_discovery = kind == 3;
			if (route) {
				sp.config.routing = STORE_ROUTING_DEFAULT_ROUTE;
				snprintf(sp.config.default_route_fqdn,
				    sizeof(sp.config.default_route_fqdn), "up.test");
			}
			sp.blocked = blocked;
			sp.nblocked = 1;
			if (kind == 0)
				sp.allowed = as_server, sp.nallowed = 1;
			else if (kind == 1)
				sp.allowed = as_domain, sp.nallowed = 1;
			else if (kind == 2)
				sp.providers = as_provider, sp.nproviders = 1;
			CHECK_EQ_INT(policy_build(&sp, &p), 0);
			CHECK_EQ_INT(fedroute_outbound(p, "X.test.", &o), -EACCES);
			CHECK_EQ_INT(o.diag, DIAG_FED_BLOCKED);
			CHECK_EQ_INT(o.status, 403);
			CHECK_EQ_INT(fedroute_inbound(p, "x.TEST", peers, 1, &in), FED_IN_REFUSE);
			CHECK_EQ_INT(in.diag, DIAG_FED_BLOCKED);
			CHECK_EQ_INT(in.status, 403);
			/* Without the block the same entry is accepted. */
			sp.nblocked = 0;
			policy_unref(p);
			CHECK_EQ_INT(policy_build(&sp, &p), 0);
			CHECK_EQ_INT(fedroute_outbound(p, "x.test", &o), 0);
			CHECK(fedroute_inbound(p, "x.test", peers, 1, &in) != FED_IN_REFUSE);
			policy_unref(p);
		}
	}
	return 0;
}

/* An allowed partner server entry outranks a provider that lists the same
 * domain; a provider outranks an allowed partner domain (DESIGN.md order). */
static int
test_fedroute_type_priority(void)
{
	static struct store_allowed allowed[] = {
		{ "a.test", "edge.a.test", false, "" },
		{ "b.test", NULL, false, "" },
	};
	static char *doms[] = { "a.test", "b.test" };
	static struct store_provider prov[] = {
		{ "P", STORE_PROVIDER_HOSTING, "sip.p.test", STORE_VERIFY_USE_SOURCE, true, "", doms, 2 },
	};
	const char *pp[] = { "sip.p.test" }, *ap[] = { "edge.a.test" };
	struct store_policy sp;
	struct policy *p = NULL;
	struct fed_out o;
	struct fed_in in;

	memset(&sp, 0, sizeof(sp));
	store_config_defaults(&sp.config);
	sp.config.federation = true;
	sp.allowed = allowed;
	sp.nallowed = 2;
	sp.providers = prov;
	sp.nproviders = 1;
	CHECK_EQ_INT(policy_build(&sp, &p), 0);
	CHECK_EQ_INT(fedroute_outbound(p, "a.test", &o), 0);
	CHECK_EQ_INT(o.type, FED_ALLOWED_SERVER);
	CHECK_EQ_STR(o.next, "edge.a.test");
	CHECK_EQ_INT(fedroute_outbound(p, "b.test", &o), 0);
	CHECK_EQ_INT(o.type, FED_PROVIDER);
	CHECK_EQ_STR(o.next, "sip.p.test");
	CHECK_EQ_INT(fedroute_inbound(p, "a.test", ap, 1, &in), FED_IN_ACCEPT);
	CHECK_EQ_INT(in.type, FED_ALLOWED_SERVER);
	CHECK_EQ_INT(fedroute_inbound(p, "a.test", pp, 1, &in), FED_IN_REFUSE);
	CHECK_EQ_INT(in.diag, DIAG_FED_CERT_MISMATCH);
	CHECK_EQ_INT(fedroute_inbound(p, "b.test", pp, 1, &in), FED_IN_ACCEPT);
	CHECK_EQ_INT(in.type, FED_PROVIDER);
	/* Disabling the provider refuses b.test although it is also allowed. */
	prov[0].enabled = false;
	policy_unref(p);
	CHECK_EQ_INT(policy_build(&sp, &p), 0);
	CHECK_EQ_INT(fedroute_outbound(p, "b.test", &o), -EACCES);
	CHECK_EQ_INT(o.diag, DIAG_FED_PROVIDER_DISABLED);
	CHECK_EQ_INT(fedroute_inbound(p, "b.test", pp, 1, &in), FED_IN_REFUSE);
	CHECK_EQ_INT(in.diag, DIAG_FED_PROVIDER_DISABLED);
	policy_unref(p);
	return 0;
}

/* ----------------------------------------------------------------- trust */

static int
trust(const struct policy *p, const char *source, const char *peer, bool source_verified,
    char *buf, size_t len)
{
	const char *peers[] = { peer };
	struct fed_in d;
	int rc = fedroute_inbound(p, source, peers, 1, &d);

	if (rc == FED_IN_NEED_SRV)
		rc = fedroute_inbound_srv(&d, peers, 1, peers, 1, &d);
	if (rc != FED_IN_ACCEPT)
		return -100;
	d.source_verified = source_verified;
	return fedroute_trust_header(&d, NULL, buf, len);
}

#define TRUST(type, peer, v) \
	"ms-source-type=" type ";ms-ep-fqdn=" peer ";ms-source-network=federation;" \
	"ms-source-verified-user=" v

static int
test_fedroute_trust_header(void)
{
	static struct store_provider verified_hoster[] = {
		{ "Hoster", STORE_PROVIDER_HOSTING, "sip.hoster.test", STORE_VERIFY_ALWAYS_VERIFIED,
		  true, "", hoster_domains, 1 },
	};
	struct store_policy sp;
	struct policy *p = build(S_DISC_ON), *p2 = NULL;
	char buf[FEDROUTE_TRUST_MAX];
	struct fed_in d;

	CHECK(p != NULL);
	/* Allowed partners are verified whatever the sender says. */
	CHECK(trust(p, "litware.test", "edge.litware.test", false, buf, sizeof(buf)) > 0);
	CHECK_EQ_STR(buf, TRUST("AllowedPartnerServer", "edge.litware.test", "verified"));
	CHECK(trust(p, "fabrikam.test", "SIP.fabrikam.test.", false, buf, sizeof(buf)) > 0);
	CHECK_EQ_STR(buf, TRUST("AllowedPartnerDomain", "sip.fabrikam.test", "verified"));
	/* use-source provider and discovered partner: the sender's mark. */
	CHECK(trust(p, "provider.test", "fed.provider.test", true, buf, sizeof(buf)) > 0);
	CHECK_EQ_STR(buf, TRUST("Provider", "fed.provider.test", "verified"));
	CHECK(trust(p, "provider.test", "fed.provider.test", false, buf, sizeof(buf)) > 0);
	CHECK_EQ_STR(buf, TRUST("Provider", "fed.provider.test", "unverified"));
	CHECK(trust(p, "unknown.test", "sip.unknown.test", true, buf, sizeof(buf)) > 0);
	CHECK_EQ_STR(buf, TRUST("DiscoveredPartner", "sip.unknown.test", "verified"));
	CHECK(trust(p, "unknown.test", "sip.unknown.test", false, buf, sizeof(buf)) > 0);
	CHECK_EQ_STR(buf, TRUST("DiscoveredPartner", "sip.unknown.test", "unverified"));
	/* always-unverified ignores the sender's mark. */
	CHECK(trust(p, "unverif.test", "sip.unverif.test", true, buf, sizeof(buf)) > 0);
	CHECK_EQ_STR(buf, TRUST("Provider", "sip.unverif.test", "unverified"));
	/* always-verified likewise. */
	fixture(&sp, S_DISC_ON);
	sp.providers = verified_hoster;
	sp.nproviders = 1;
	CHECK_EQ_INT(policy_build(&sp, &p2), 0);
	CHECK(trust(p2, "hosted.test", "sip.hoster.test", false, buf, sizeof(buf)) > 0);
	CHECK_EQ_STR(buf, TRUST("Provider", "sip.hoster.test", "verified"));
	policy_unref(p2);
	/* Explicit peer, buffer too small, refused decision. */
	{
		const char *peers[] = { "edge.litware.test" };

		CHECK_EQ_INT(fedroute_inbound(p, "litware.test", peers, 1, &d), FED_IN_ACCEPT);
		CHECK(fedroute_trust_header(&d, "Edge.Litware.Test.", buf, sizeof(buf)) > 0);
		CHECK(strstr(buf, "ms-ep-fqdn=edge.litware.test;") != NULL);
		CHECK_EQ_INT(fedroute_trust_header(&d, "bad peer\r\nX: y", buf, sizeof(buf)), -EINVAL);
		CHECK_EQ_INT(fedroute_trust_header(&d, NULL, buf, 20), -ENOSPC);
		CHECK_EQ_STR(buf, "");
		CHECK_EQ_INT(fedroute_trust_header(&d, NULL, buf, 0), -ENOSPC);
		CHECK_EQ_INT(fedroute_inbound(p, "evil.test", peers, 1, &d), FED_IN_REFUSE);
		CHECK_EQ_INT(fedroute_trust_header(&d, "edge.litware.test", buf, sizeof(buf)), -EINVAL);
	}
	policy_unref(p);
	return 0;
}

/* The longest value (the longest type and a 253-character peer) fits. */
static int
test_fedroute_trust_header_max(void)
{
	struct fed_in d;
	char peer[NAMES_MAX + 1], buf[FEDROUTE_TRUST_MAX];
	int n;

	memset(&d, 0, sizeof(d));
	d.type = FED_ALLOWED_SERVER;
	/* 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 characters. */
	memset(peer, 'a', sizeof(peer));
	peer[63] = peer[127] = peer[191] = '.';
	peer[NAMES_MAX] = '\0';
	CHECK_EQ_INT(strlen(peer), NAMES_MAX);
	d.type = FED_DISCOVERED;
	n = fedroute_trust_header(&d, peer, buf, sizeof(buf));
	CHECK(n > 0);
	d.type = FED_ALLOWED_SERVER;
	n = fedroute_trust_header(&d, peer, buf, sizeof(buf));
	CHECK(n > 0 && (size_t)n < sizeof(buf));
	return 0;
}

/* ---------------------------------------------------------------- diag */

static int
test_fedroute_diag_codes(void)
{
	static const struct { enum diag_code c; int status; } want[] = {
		{ DIAG_FED_DISABLED, 403 }, { DIAG_FED_BLOCKED, 403 },
		{ DIAG_FED_PROVIDER_DISABLED, 403 }, { DIAG_FED_NOT_FEDERATED, 403 },
		{ DIAG_FED_CERT_MISMATCH, 403 }, { DIAG_FED_PROVIDER_FOREIGN, 403 },
		{ DIAG_FED_NOT_SRV_TARGET, 403 }, { DIAG_FED_SRV_NONE, 504 },
		{ DIAG_FED_SRV_FAILED, 504 }, { DIAG_FED_SPOOFED, 403 },
		{ DIAG_FED_RATE, 503 }, { DIAG_FED_CONTACTS, 480 }, { DIAG_FED_SUSPICIOUS, 503 },
	};
	const struct diag_info *a, *b;
	size_t nfed = 0;

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		a = diag_lookup(want[i].c);
		CHECK_EQ_INT(a->code, want[i].c);
		CHECK_EQ_INT(a->status, want[i].status);
		CHECK(a->code >= 2000 && a->code <= 2099);
		CHECK(a->phrase[0] != '\0' && a->text[0] != '\0');
	}
	/* Codes are unique; the 2000 block holds exactly these. */
	for (unsigned i = 0; (a = diag_at(i)) != NULL; i++) {
		if (a->code >= 2000 && a->code <= 2099)
			nfed++;
		for (unsigned j = i + 1; (b = diag_at(j)) != NULL; j++)
			CHECK(a->code != b->code);
	}
	CHECK_EQ_INT(nfed, sizeof(want) / sizeof(want[0]));
	return 0;
}

/* Each code of the 2000 and 3000 blocks is documented in sipedge-diagnostics(7) with its
 * status and default text. */
static int
test_fedroute_diag_documented(void)
{
	char path[1024], want[256];
	static char doc[1 << 16];
	const struct diag_info *a;
	size_t n;
	FILE *f;

#ifdef TOP_SRCDIR
	snprintf(path, sizeof(path), "%s/doc/sipedge-diagnostics.7", TOP_SRCDIR);
#else
	return 77;
#endif
	if ((f = fopen(path, "r")) == NULL)
		return 77;
	n = fread(doc, 1, sizeof(doc) - 1, f);
	fclose(f);
	doc[n] = '\0';
	for (unsigned i = 0; (a = diag_at(i)) != NULL; i++) {
		if ((a->code < 2000 || a->code > 2099) && (a->code < 3000 || a->code > 3099))
			continue;
		snprintf(want, sizeof(want), ".It Sy %d No %d Dq %s\n", a->code, a->status, a->text);
		if (strstr(doc, want) == NULL) {
			fprintf(stderr, "# not in the manual: %s", want);
			return 1;
		}
	}
	return 0;
}

static const struct unit_test tests[] = {
	UNIT(test_fedroute_outbound_table),
	UNIT(test_fedroute_outbound_details),
	UNIT(test_fedroute_inbound_table),
	UNIT(test_fedroute_inbound_details),
	UNIT(test_fedroute_inbound_srv),
	UNIT(test_fedroute_block_precedence),
	UNIT(test_fedroute_type_priority),
	UNIT(test_fedroute_trust_header),
	UNIT(test_fedroute_trust_header_max),
	UNIT(test_fedroute_diag_codes),
	UNIT(test_fedroute_diag_documented),
	{ 0 },
};

int
main(int argc, char **argv)
{
	return unit_main(argc, argv, tests);
}
