/* dns_int.h: what dns.c and dns_answer.c share: answers as refcounted,
 * immutable record sets, names in normal form, the answer parser.  Private to
 * the resolver (dns.h is its interface). */
#ifndef SIPEDGE_DNS_INT_H
#define SIPEDGE_DNS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "sipedge/dns.h"

#define DNS_MAX_RR      64      /* records kept per answer; more are never tried */
#define DNS_NAME_MAX    253     /* RFC 1035 §2.3.4, in text form without the root dot */
enum { RR_A = 1, RR_CNAME = 5, RR_AAAA = 28, RR_SRV = 33, CLASS_IN = 1 };

union rr {
	struct dns_srv srv;
	struct sockaddr_storage ss;          /* port 0 */
};

/* One answer, immutable once built; shared by the cache and by delivered queries. */
struct rrset {
	unsigned refs;
	size_t n;
	union rr v[];
};

struct parsed {
	size_t n;
	union rr v[DNS_MAX_RR];
	uint32_t ttl;                        /* smallest TTL of the records used */
	bool dot_target;                     /* an SRV "." target: service not offered */
};

int dns__name_norm(const char *in, char *out, size_t outlen);
struct rrset *dns__rrset_new(size_t n);
struct rrset *dns__rrset_ref(struct rrset *rs);
void dns__rrset_unref(struct rrset *rs);
int dns__parse_answer(const unsigned char *abuf, int alen, int type, const char *qname, struct parsed *out);
uint32_t dns__rng_next(void *arg);

#endif
