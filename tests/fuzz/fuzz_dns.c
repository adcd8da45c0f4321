/* fuzz_dns.c: libFuzzer target for the DNS answers the edge reads (dns.c): the
 * answer-section walk of RFC 1035 §4.1 with CNAMEs and TTLs (RFC 2181 §8),
 * SRV, A and AAAA records (RFC 2782, RFC 3596), then RFC 2782 ordering of
 * whatever SRV records parse.  A DNS server on the path, or anyone who can
 * spoof its UDP answers, controls these octets.
 *
 * The parser is dns__parse_answer() (dns_answer.c, through dns_int.h); dns.c is
 * included, as the unit tests do, for its static literal().  The input is one DNS message, parsed for
 * each record type under a fixed query name (those of the seeds, made as
 * tests/unit/test_dns.c's dnsmasq zone answers). */
#include "../../src/dns.c"

#include <limits.h>

#include "fuzz.h"

#define SRV_NAME "_sipfederationtls._tcp.fabrikam.test"

static const struct {
	int type;
	const char *qname;
} queries[] = {
	{ RR_SRV, SRV_NAME },
	{ RR_A, "sip.fabrikam.test" },
	{ RR_AAAA, "sip.fabrikam.test" },
	{ RR_A, "alias.fabrikam.test" },
};

static bool
same_srv(const struct dns_srv *a, const struct dns_srv *b)
{
	return a->port == b->port && a->priority == b->priority && a->weight == b->weight &&
	    strcmp(a->target, b->target) == 0;
}

/* dns_srv_order permutes: priorities ascend and every record is still there. */
static void
order(const struct parsed *pr, uint64_t seed)
{
	struct dns_srv v[DNS_MAX_RR];
	bool used[DNS_MAX_RR] = { false };

	for (size_t i = 0; i < pr->n; i++)
		v[i] = pr->v[i].srv;
	dns_srv_order(v, pr->n, dns__rng_next, &seed);
	for (size_t i = 1; i < pr->n; i++)
		FUZZ_CHECK(v[i - 1].priority <= v[i].priority);
	for (size_t i = 0; i < pr->n; i++) {
		size_t j = 0;

		while (j < pr->n && (used[j] || !same_srv(&v[j], &pr->v[i].srv)))
			j++;
		FUZZ_CHECK(j < pr->n);
		used[j] = true;
	}
}

static void
check(int type, const struct parsed *pr)
{
	char norm[DNS_NAME_MAX + 1];

	FUZZ_CHECK(pr->n <= DNS_MAX_RR);
	if (pr->n > 0)
		FUZZ_CHECK(pr->ttl < 0x80000000u);
	for (size_t i = 0; i < pr->n; i++) {
		const union rr *r = &pr->v[i];

		if (type == RR_SRV) {
			/* Targets reach the logs, the dead-target keys and TLS name
			 * checks: only names name_norm accepts, in its normal form. */
			FUZZ_CHECK(dns__name_norm(r->srv.target, norm, sizeof(norm)) == 0);
			FUZZ_CHECK(strcmp(norm, r->srv.target) == 0);
		} else if (type == RR_A) {
			FUZZ_CHECK(r->ss.ss_family == AF_INET);
		} else {
			FUZZ_CHECK(r->ss.ss_family == AF_INET6);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct parsed *pr;
	char *s, norm[DNS_NAME_MAX + 1];
	struct rrset *rs;

	if (size > INT_MAX || (pr = malloc(sizeof(*pr))) == NULL)
		return 0;
	for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
		if (dns__parse_answer(data, (int)size, queries[i].type, queries[i].qname, pr) < 0)
			continue;
		check(queries[i].type, pr);
		if (queries[i].type == RR_SRV)
			order(pr, size ? data[size - 1] : 0);
	}
	free(pr);

	/* The same octets as a name a caller passes (name_norm, literal). */
	if ((s = malloc(size + 1)) != NULL) {
		memcpy(s, data, size);
		s[size] = '\0';
		if (dns__name_norm(s, norm, sizeof(norm)) == 0)
			FUZZ_CHECK(strlen(norm) <= DNS_NAME_MAX);
		if ((rs = literal(s)) != NULL) {
			FUZZ_CHECK(rs->n == 1);
			dns__rrset_unref(rs);
		}
		free(s);
	}
	return 0;
}
