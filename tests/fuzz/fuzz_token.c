/* fuzz_token.c: libFuzzer target for what the edge signs and later reads back
 * from peers (rr.c): Record-Route tokens (a Route parameter in every in-dialog
 * request, RFC 5658) and Via branches (RFC 3261 §16.6 item 8, in every
 * response and in loop detection).
 *
 * Each input is used three ways:
 *   1. as "TOKEN\nCALL-ID" for rr_token_decode under a fixed key; a token that
 *      decodes is encoded again, and must decode to the same fields, verify
 *      under that Call-ID only and under that key only;
 *   2. as a Via branch for rr_branch_parse, and as the fields of a branch
 *      (rr_branch_make) that must parse back and stop verifying when one hex
 *      digit changes;
 *   3. as the fields of a struct rr_peer (octet 0: side, kind and address
 *      family; 1-8 connection id; 9-10 port; 11-26 address; then the FQDN up
 *      to a newline, and the Call-ID) whose token must decode to them. */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>

#include "sipedge/rr.h"
#include "fuzz.h"

static const struct rr_key key = { 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL };
static const struct rr_key other_key = { 0x0706050403020100ULL, 0x0f0e0d0c0b0a0909ULL };

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Everything a token carries, field by field.  struct rr_peer grows with the
 * proxy (a domain, a federation type): compare each new field here. */
static void
peer_check_equal(const struct rr_peer *a, const struct rr_peer *b)
{
	FUZZ_CHECK(a->side == b->side);
	FUZZ_CHECK(a->kind == b->kind);
	FUZZ_CHECK(a->conn_id == b->conn_id);
	FUZZ_CHECK(strcmp(a->fqdn, b->fqdn) == 0);
	FUZZ_CHECK(a->has_addr == b->has_addr);
	if (!a->has_addr)
		return;
	FUZZ_CHECK(a->addr.ss_family == b->addr.ss_family);
	if (a->addr.ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)&a->addr, *y = (const void *)&b->addr;

		FUZZ_CHECK(x->sin_port == y->sin_port);
		FUZZ_CHECK(memcmp(&x->sin_addr, &y->sin_addr, sizeof(x->sin_addr)) == 0);
	} else {
		const struct sockaddr_in6 *x = (const void *)&a->addr, *y = (const void *)&b->addr;

		FUZZ_CHECK(a->addr.ss_family == AF_INET6);
		FUZZ_CHECK(x->sin6_port == y->sin6_port);
		FUZZ_CHECK(memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0);
	}
}

/* What any decoded peer must look like. */
static void
peer_check_sane(const struct rr_peer *p)
{
	FUZZ_CHECK(p->side == SIDE_INTERNAL || p->side == SIDE_EXTERNAL);
	FUZZ_CHECK(p->kind == TP_TLS || p->kind == TP_TCP);
	FUZZ_CHECK(memchr(p->fqdn, '\0', sizeof(p->fqdn)) != NULL);
	FUZZ_CHECK(!p->has_addr || p->addr.ss_family == AF_INET || p->addr.ss_family == AF_INET6);
}

/* Encode p for callid; the token must be a URI parameter value that decodes
 * to p under this Call-ID and key only. */
static void
round_trip(const struct rr_peer *p, const char *callid)
{
	char tok[RR_TOKEN_MAX + 1], *other;
	struct rr_peer q;
	size_t n = strlen(callid);

	FUZZ_CHECK(rr_token_encode(&key, p, callid, tok, sizeof(tok)) == 0);
	FUZZ_CHECK(strlen(tok) <= RR_TOKEN_MAX);
	FUZZ_CHECK(strspn(tok, b64url) == strlen(tok));
	memset(&q, 0, sizeof(q));
	FUZZ_CHECK(rr_token_decode(&key, tok, callid, &q) == 0);
	peer_check_equal(p, &q);
	FUZZ_CHECK(rr_token_decode(&other_key, tok, callid, &q) == -EPERM);
	if ((other = malloc(n + 2)) != NULL) {
		memcpy(other, callid, n);
		other[n] = 'x';
		other[n + 1] = '\0';
		FUZZ_CHECK(rr_token_decode(&key, tok, other, &q) == -EPERM);
		free(other);
	}
}

/* 1: the input as "TOKEN\nCALL-ID". */
static void
decode(const char *s)
{
	const char *nl = strchr(s, '\n');
	size_t tl = nl ? (size_t)(nl - s) : strlen(s);
	char *tok = malloc(tl + 1);
	struct rr_peer p;
	int rc;

	if (tok == NULL)
		return;
	memcpy(tok, s, tl);
	tok[tl] = '\0';
	rc = rr_token_decode(&key, tok, nl ? nl + 1 : "", &p);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -EPERM);
	if (rc == 0) {
		peer_check_sane(&p);
		round_trip(&p, nl ? nl + 1 : "");
	}
	free(tok);
}

static uint64_t
get_be(const uint8_t *d, size_t size, size_t off, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v = (v << 8) | (off + i < size ? d[off + i] : 0);
	return v;
}

/* 2: the input as a branch, and as the fields of one. */
static void
branch(const char *s, const uint8_t *d, size_t size)
{
	char b[RR_BRANCH_LEN + 1];
	uint64_t id = 0, id2;
	uint32_t loop = 0, loop2, counter;
	size_t k;
	int rc;

	rc = rr_branch_parse(&key, s, &id, &loop);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -EPERM);
	if (rc == 0)
		FUZZ_CHECK(strlen(s) == RR_BRANCH_LEN &&
		    strncmp(s, RR_BRANCH_PREFIX, strlen(RR_BRANCH_PREFIX)) == 0);

	id = get_be(d, size, 0, 8);
	counter = (uint32_t)get_be(d, size, 8, 4);
	loop = (uint32_t)get_be(d, size, 12, 4);
	rr_branch_make(&key, id, counter, loop, b);
	FUZZ_CHECK(strlen(b) == RR_BRANCH_LEN);
	FUZZ_CHECK(rr_branch_parse(&key, b, &id2, &loop2) == 0 && id2 == id && loop2 == loop);
	FUZZ_CHECK(rr_branch_parse(&other_key, b, NULL, NULL) == -EPERM);
	/* One hex digit changed, anywhere after the prefix. */
	k = strlen(RR_BRANCH_PREFIX) + (size ? d[size - 1] : 0) % (RR_BRANCH_LEN - strlen(RR_BRANCH_PREFIX));
	b[k] = b[k] == '0' ? '1' : '0';
	FUZZ_CHECK(rr_branch_parse(&key, b, NULL, NULL) == -EPERM);
}

/* 3: a peer made of the input's octets. */
static void
encode(const uint8_t *d, size_t size)
{
	struct rr_peer p;
	size_t i = 27, n = 0;
	unsigned fam = size ? (d[0] >> 2) % 3 : 0;
	char *callid;

	memset(&p, 0, sizeof(p));
	p.side = size && (d[0] & 1) ? SIDE_EXTERNAL : SIDE_INTERNAL;
	p.kind = size && (d[0] & 2) ? TP_TCP : TP_TLS;
	p.conn_id = get_be(d, size, 1, 8);
	if (fam == 1) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&p.addr;

		p.has_addr = true;
		sin->sin_family = AF_INET;
		sin->sin_port = (in_port_t)get_be(d, size, 9, 2);
		sin->sin_addr.s_addr = (in_addr_t)get_be(d, size, 11, 4);
	} else if (fam == 2) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&p.addr;

		p.has_addr = true;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = (in_port_t)get_be(d, size, 9, 2);
		for (int b = 0; b < 16; b++)
			sin6->sin6_addr.s6_addr[b] = (uint8_t)get_be(d, size, 11 + (size_t)b, 1);
	}
	for (; i < size && d[i] != '\n' && d[i] != '\0' && n < sizeof(p.fqdn) - 1; i++)
		p.fqdn[n++] = (char)d[i];
	p.fqdn[n] = '\0';
	if (i < size && d[i] == '\n')
		i++;
	if ((callid = malloc(size - (i < size ? i : size) + 1)) == NULL)
		return;
	n = 0;
	for (; i < size && d[i] != '\0'; i++)
		callid[n++] = (char)d[i];
	callid[n] = '\0';
	round_trip(&p, callid);
	free(callid);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	decode(s);
	branch(s, data, size);
	encode(data, size);
	free(s);
	return 0;
}
