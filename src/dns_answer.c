/* dns_answer.c: DNS answers (RFC 1035 §4.1): names in normal form, the
 * answer section walked for the records of a type (through CNAMEs) with their
 * smallest TTL, record sets, and RFC 2782 SRV ordering. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ares.h>

#include "dns_int.h"

/* ---- names ---- */

/* Lower case without the trailing dot, checked for DNS syntax.  Underscores are
 * allowed (service labels, RFC 2782); other characters a host name cannot hold are
 * refused so that nothing odd reaches the wire or the logs. */
int
dns__name_norm(const char *in, char *out, size_t outlen)
{
	size_t len, label = 0;

	if (in == NULL)
		return -EINVAL;
	len = strlen(in);
	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0 || len > DNS_NAME_MAX || len >= outlen)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)in[i];

		if (ch == '.') {
			if (label == 0)
				return -EINVAL;
			label = 0;
		} else if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    ch == '-' || ch == '_') {
			label++;
		} else if (ch >= 'A' && ch <= 'Z') {
			ch = (unsigned char)(ch - 'A' + 'a');
			label++;
		} else {
			return -EINVAL;
		}
		if (label > 63)
			return -EINVAL;
		out[i] = (char)ch;
	}
	out[len] = '\0';
	return 0;
}

/* ---- rrsets ---- */

struct rrset *
dns__rrset_new(size_t n)
{
	struct rrset *rs = calloc(1, sizeof(*rs) + n * sizeof(rs->v[0]));

	if (rs)
		rs->refs = 1;
	return rs;
}

struct rrset *
dns__rrset_ref(struct rrset *rs)
{
	if (rs)
		rs->refs++;
	return rs;
}

void
dns__rrset_unref(struct rrset *rs)
{
	if (rs && --rs->refs == 0)
		free(rs);
}

/* ---- answer parsing (RFC 1035 §4.1) ---- */

static unsigned
get16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Expands the name at p into out (normalised; "" for the root) and the length it
 * takes in the message into *used.  0 or -EBADMSG. */
static int
expand(const unsigned char *p, const unsigned char *abuf, int alen, char *out,
    size_t outlen, long *used)
{
	char *s = NULL;
	int rc = 0;

	if (ares_expand_name(p, abuf, alen, &s, used) != ARES_SUCCESS)
		return -EBADMSG;
	if (s[0] == '\0' || (s[0] == '.' && s[1] == '\0')) {
		out[0] = '\0';
	} else if (dns__name_norm(s, out, outlen) != 0) {
		/* A name we would refuse from a caller: keep the record out, but the
		 * message itself is still well formed. */
		out[0] = '\x01';
		out[1] = '\0';
	}
	ares_free_string(s);
	return rc;
}


/* Walks the answer section for records of type `type` owned by qname or, through
 * CNAMEs, by its alias target.  ares_parse_srv_reply gives no TTL, hence this walk.
 * 0, or -1 for a malformed message. */
int
dns__parse_answer(const unsigned char *abuf, int alen, int type, const char *qname,
    struct parsed *out)
{
	const unsigned char *p = abuf + 12, *end = abuf + alen;
	char owner[DNS_NAME_MAX + 2], cur[DNS_NAME_MAX + 2], target[DNS_NAME_MAX + 2];
	unsigned qd, an;
	long used;

	out->n = 0;
	out->ttl = UINT32_MAX;
	out->dot_target = false;
	if (alen < 12)
		return -EBADMSG;
	qd = get16(abuf + 4);
	an = get16(abuf + 6);
	for (unsigned i = 0; i < qd; i++) {
		if (expand(p, abuf, alen, owner, sizeof(owner), &used) < 0 ||
		    end - p < used + 4)
			return -EBADMSG;
		p += used + 4;
	}
	snprintf(cur, sizeof(cur), "%s", qname);
	for (unsigned i = 0; i < an; i++) {
		unsigned rtype, rclass, rdlen;
		uint32_t ttl;

		if (expand(p, abuf, alen, owner, sizeof(owner), &used) < 0 ||
		    end - p < used + 10)
			return -EBADMSG;
		p += used;
		rtype = get16(p);
		rclass = get16(p + 2);
		ttl = get32(p + 4);
		rdlen = get16(p + 8);
		p += 10;
		if ((size_t)(end - p) < rdlen)
			return -EBADMSG;
		/* RFC 2181 §8: a TTL with the top bit set is read as zero. */
		if (ttl & 0x80000000u)
			ttl = 0;
		if (rclass != CLASS_IN || strcmp(owner, cur) != 0) {
			p += rdlen;
			continue;
		}
		if (rtype == RR_CNAME && (int)rtype != type) {
			if (expand(p, abuf, alen, target, sizeof(target), &used) < 0)
				return -EBADMSG;
			snprintf(cur, sizeof(cur), "%s", target);
			if (ttl < out->ttl)
				out->ttl = ttl;
		} else if ((int)rtype == type && out->n < DNS_MAX_RR) {
			union rr *r = &out->v[out->n];

			memset(r, 0, sizeof(*r));
			if (type == RR_SRV) {
				if (rdlen < 7 || expand(p + 6, abuf, alen, target,
				    sizeof(target), &used) < 0)
					return -EBADMSG;
				if (target[0] == '\0') {
					out->dot_target = true;
				} else if (target[0] != '\x01') {
					r->srv.priority = (unsigned short)get16(p);
					r->srv.weight = (unsigned short)get16(p + 2);
					r->srv.port = (unsigned short)get16(p + 4);
					snprintf(r->srv.target, sizeof(r->srv.target), "%s",
					    target);
					out->n++;
				}
			} else if (type == RR_A && rdlen == 4) {
				struct sockaddr_in *sin = (struct sockaddr_in *)&r->ss;

				sin->sin_family = AF_INET;
				memcpy(&sin->sin_addr, p, 4);
				out->n++;
			} else if (type == RR_AAAA && rdlen == 16) {
				struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&r->ss;

				sin6->sin6_family = AF_INET6;
				memcpy(&sin6->sin6_addr, p, 16);
				out->n++;
			} else {
				return -EBADMSG;
			}
			if (ttl < out->ttl)
				out->ttl = ttl;
		}
		p += rdlen;
	}
	return 0;
}

/* ---- RFC 2782 ordering ---- */

static void
srv_swap(struct dns_srv *a, struct dns_srv *b)
{
	struct dns_srv t = *a;

	*a = *b;
	*b = t;
}

/* Uniform in [0, bound) from a 32-bit draw, by scaling rather than modulo. */
static uint32_t
draw(uint32_t (*rnd)(void *), void *arg, uint64_t bound)
{
	return (uint32_t)(((uint64_t)rnd(arg) * bound) >> 32);
}

/* RFC 2782 "Usage rules": order one priority group v[0..n) in place. */
static void
order_group(struct dns_srv *v, size_t n, uint32_t (*rnd)(void *), void *rnd_arg)
{
	size_t zeros = 0;

	/* "All those with weight 0 are placed at the beginning of the list"; among
	 * themselves their order is ours to choose, and a shuffle spreads the load
	 * when every weight is 0. */
	for (size_t i = 0; i < n; i++)
		if (v[i].weight == 0)
			srv_swap(&v[zeros++], &v[i]);
	for (size_t i = zeros; i > 1; i--)
		srv_swap(&v[i - 1], &v[draw(rnd, rnd_arg, i)]);
	for (size_t done = 0; done + 1 < n; done++) {
		uint64_t sum = 0, pick, run = 0;
		size_t k = done;

		for (size_t i = done; i < n; i++)
			sum += v[i].weight;
		/* A number between 0 and the sum, inclusive; the first record whose
		 * running sum reaches it is next.  A weight-0 record at the front is
		 * chosen only when the number is 0: rarely, as the RFC asks. */
		pick = draw(rnd, rnd_arg, sum + 1);
		for (size_t i = done; i < n; i++) {
			run += v[i].weight;
			if (run >= pick) {
				k = i;
				break;
			}
		}
		/* Keep the rest in their order, so weight-0 records stay in front. */
		if (k != done) {
			struct dns_srv t = v[k];

			memmove(&v[done + 1], &v[done], (k - done) * sizeof(v[0]));
			v[done] = t;
		}
	}
}

void
dns_srv_order(struct dns_srv *v, size_t n, uint32_t (*rnd)(void *), void *rnd_arg)
{
	/* Insertion sort by priority: stable, and n is at most DNS_MAX_RR here. */
	for (size_t i = 1; i < n; i++) {
		struct dns_srv t = v[i];
		size_t j = i;

		for (; j > 0 && v[j - 1].priority > t.priority; j--)
			v[j] = v[j - 1];
		v[j] = t;
	}
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;

		while (j < n && v[j].priority == v[i].priority)
			j++;
		order_group(v + i, j - i, rnd, rnd_arg);
		i = j;
	}
}

uint32_t
dns__rng_next(void *arg)
{
	/* splitmix64: load spreading only, nothing secret depends on it. */
	uint64_t *s = arg, z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (uint32_t)((z ^ (z >> 31)) >> 32);
}
