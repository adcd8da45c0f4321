/* test_health.c: unit tests for health.c (next hops that failed: order, probes,
 * recovery, bounds). */
#include <stdio.h>
#include <string.h>

#include "sipedge/health.h"
#include "unit.h"

static void
hop(struct hop *h, const char *fqdn, const char *addr)
{
	struct sockaddr_storage ss;

	memset(h, 0, sizeof(*h));
	if (addr) {
		conf_parse_sockaddr(addr, 5061, &ss);
		conf_hop_set(h, fqdn, &ss, TP_TLS);
		return;
	}
	snprintf(h->fqdn, sizeof(h->fqdn), "%s", fqdn);
	h->port = 5061;
	h->kind = TP_TLS;
}

static int
test_health_order(void)
{
	struct health *h;
	struct hop v[4], a;

	CHECK(health_new(2000, 16, &h) == 0);
	hop(&v[0], "sip.fabrikam.test", "127.0.0.20:5061");
	hop(&v[1], "sip.fabrikam.test", "127.0.0.22:5061");
	hop(&v[2], "sip2.fabrikam.test", "127.0.0.21:5061");
	hop(&v[3], "sip3.fabrikam.test", NULL);
	CHECK_EQ_INT(health_order(h, v, 4, SIDE_EXTERNAL), 0);
	a = v[0];
	health_down(h, &a, SIDE_EXTERNAL, 1000, "timed out");
	CHECK(health_is_down(h, &a, SIDE_EXTERNAL));
	/* Another side, another address, another port: other targets. */
	CHECK(!health_is_down(h, &a, SIDE_INTERNAL));
	CHECK(!health_is_down(h, &v[1], SIDE_EXTERNAL));
	CHECK_EQ_INT(health_order(h, v, 4, SIDE_EXTERNAL), 1);
	CHECK_EQ_STR(v[0].fqdn, "sip.fabrikam.test");
	CHECK(v[3].has_addr && memcmp(&v[3], &a, sizeof(a)) == 0);    /* last */
	CHECK_EQ_STR(v[1].fqdn, "sip2.fabrikam.test");                  /* order kept */
	hop(&a, "SIP3.fabrikam.test", NULL);
	health_down(h, &a, SIDE_EXTERNAL, 1000, "refused");
	CHECK_EQ_INT(health_count(h), 2);
	CHECK_EQ_INT(health_order(h, v, 4, SIDE_EXTERNAL), 2);
	CHECK_EQ_STR(v[0].fqdn, "sip.fabrikam.test");
	CHECK(v[0].has_addr);
	CHECK_EQ_STR(v[1].fqdn, "sip2.fabrikam.test");
	CHECK(health_up(h, &a, SIDE_EXTERNAL));
	CHECK(!health_up(h, &a, SIDE_EXTERNAL));
	CHECK_EQ_INT(health_count(h), 1);
	health_free(h);
	return 0;
}

static int
test_health_due(void)
{
	struct health *h;
	struct hop a, b, out[4];
	enum side sides[4];

	CHECK(health_new(2000, 16, &h) == 0);
	hop(&a, "pool1.contoso.test", "127.0.0.10:5061");
	hop(&b, "sip.fabrikam.test", "127.0.0.20:5061");
	health_down(h, &a, SIDE_INTERNAL, 1000, "refused");
	health_down(h, &b, SIDE_EXTERNAL, 1500, "refused");
	CHECK_EQ_INT(health_due(h, 2999, out, sides, 4), 0);
	CHECK_EQ_INT(health_due(h, 3000, out, sides, 4), 1);
	CHECK_EQ_STR(out[0].fqdn, "pool1.contoso.test");
	CHECK_EQ_INT(sides[0], SIDE_INTERNAL);
	/* Not due again before another interval. */
	CHECK_EQ_INT(health_due(h, 3400, out, sides, 4), 0);
	CHECK_EQ_INT(health_due(h, 3500, out, sides, 4), 1);
	CHECK_EQ_STR(out[0].fqdn, "sip.fabrikam.test");
	CHECK_EQ_INT(health_due(h, 9000, out, sides, 1), 1);
	/* A new failure postpones the probe. */
	health_down(h, &a, SIDE_INTERNAL, 9000, "refused again");
	CHECK_EQ_INT(health_count(h), 2);
	CHECK_EQ_INT(health_due(h, 10999, out, sides, 4), 1);
	health_free(h);
	return 0;
}

/* The table is bounded: the target down longest is forgotten first. */
static int
test_health_bound(void)
{
	struct health *h;
	struct hop v[5];
	char name[32];

	CHECK(health_new(1000, 4, &h) == 0);
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "e%d.fabrikam.test", i);
		hop(&v[i], name, NULL);
		health_down(h, &v[i], SIDE_EXTERNAL, (uint64_t)(100 + i), "refused");
	}
	CHECK_EQ_INT(health_count(h), 4);
	CHECK(!health_is_down(h, &v[0], SIDE_EXTERNAL));
	for (int i = 1; i < 5; i++)
		CHECK(health_is_down(h, &v[i], SIDE_EXTERNAL));
	health_free(h);
	return 0;
}

static const struct unit_test tests[] = {
	UNIT(test_health_order),
	UNIT(test_health_due),
	UNIT(test_health_bound),
	{ 0 },
};

int
main(int argc, char **argv)
{
	return unit_main(argc, argv, tests);
}
