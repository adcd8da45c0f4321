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
 *      family; 1-8 connection id; 9-10 port; 11-26 address; 27 federation
 *      type; 28 flags, bit 0: a Route hash; 29-36 the hash; then the FQDN and
 *      the partner's domain, each up to a newline, and the Call-ID) whose
 *      token (format 2) must decode to them; the same peer written in format
 *      1 (up to the FQDN) must decode with no domain, type or hash, and a
 *      token whose format octet is changed must not decode. */
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
	FUZZ_CHECK(strcmp(a->domain, b->domain) == 0);
	FUZZ_CHECK(a->fed == b->fed);
	FUZZ_CHECK(a->has_routes == b->has_routes);
	if (a->has_routes)
		FUZZ_CHECK(a->routes == b->routes);
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
	FUZZ_CHECK(memchr(p->domain, '\0', sizeof(p->domain)) != NULL);
	FUZZ_CHECK(p->has_routes || p->routes == 0);
	FUZZ_CHECK(!p->has_addr || p->addr.ss_family == AF_INET || p->addr.ss_family == AF_INET6);
}

/* base64url without padding, as rr.c writes tokens (RFC 4648 §5). */
static void
b64_put(const uint8_t *in, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
		    (i + 2 < n ? in[i + 2] : 0);

		out[o++] = b64url[v >> 18];
		out[o++] = b64url[(v >> 12) & 63];
		if (i + 1 < n)
			out[o++] = b64url[(v >> 6) & 63];
		if (i + 2 < n)
			out[o++] = b64url[v & 63];
	}
	out[o] = '\0';
}

/* The octets of a token (the fuzz target's own reading, not rr.c's). */
static size_t
b64_get(const char *in, uint8_t *out)
{
	size_t o = 0, n = strlen(in);
	uint32_t acc = 0;
	int bits = 0;

	for (size_t i = 0; i < n; i++) {
		acc = (acc << 6) | (uint32_t)(strchr(b64url, in[i]) - b64url);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	return o;
}

/* The octets of p's token up to the FQDN, as format 1 and 2 begin. */
static size_t
head(const struct rr_peer *p, uint8_t ver, uint8_t *raw)
{
	size_t n = 0, flen = strlen(p->fqdn);

	raw[n++] = ver;
	raw[n++] = (uint8_t)p->side;
	raw[n++] = (uint8_t)p->kind;
	raw[n++] = !p->has_addr ? 0 : p->addr.ss_family == AF_INET ? 4 : 6;
	for (int i = 7; i >= 0; i--)
		raw[n++] = (uint8_t)(p->conn_id >> (8 * i));
	if (p->has_addr && p->addr.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)&p->addr;

		memcpy(raw + n, &sin->sin_port, 2);
		memcpy(raw + n + 2, &sin->sin_addr, 4);
		n += 6;
	} else if (p->has_addr) {
		const struct sockaddr_in6 *sin6 = (const void *)&p->addr;

		memcpy(raw + n, &sin6->sin6_port, 2);
		memcpy(raw + n + 2, &sin6->sin6_addr, 16);
		n += 18;
	}
	raw[n++] = (uint8_t)flen;
	memcpy(raw + n, p->fqdn, flen);
	return n + flen;
}

/* p as a format 1 token (before the domain and the type were added), signed
 * as rr.c signs: SipHash of the octets, then the Call-ID.  It must decode to
 * p without them; with its format octet made 2 it must not decode. */
static void
format1(const struct rr_peer *p, const char *callid)
{
	uint8_t raw[RR_TOKEN_MAX];
	char tok[RR_TOKEN_MAX + 1];
	size_t n = head(p, 1, raw), clen = strlen(callid);
	struct rr_peer want = *p, q;
	uint8_t *signed_;
	uint64_t tag;

	if ((signed_ = malloc(n + clen + 1)) == NULL)
		return;
	memcpy(signed_, raw, n);
	memcpy(signed_ + n, callid, clen);
	tag = rr_siphash(&key, signed_, n + clen);
	free(signed_);
	for (int i = 7; i >= 0; i--)
		raw[n++] = (uint8_t)(tag >> (8 * i));
	b64_put(raw, n, tok);
	memset(want.domain, 0, sizeof(want.domain));
	want.fed = 0;
	want.has_routes = false;
	want.routes = 0;
	memset(&q, 0, sizeof(q));
	FUZZ_CHECK(rr_token_decode(&key, tok, callid, &q) == 0);
	peer_check_equal(&want, &q);
	peer_check_sane(&q);
	FUZZ_CHECK(rr_token_decode(&other_key, tok, callid, &q) == -EPERM);
	raw[0] = 2;
	b64_put(raw, n, tok);
	FUZZ_CHECK(rr_token_decode(&key, tok, callid, &q) == -EINVAL);
}

/* Encode p for callid; the token must be a URI parameter value that decodes
 * to p under this Call-ID and key only, laid out as rr.c says (format 2),
 * and read in its own format only. */
static void
round_trip(const struct rr_peer *p, const char *callid)
{
	char tok[RR_TOKEN_MAX + 1], *other;
	uint8_t raw[RR_TOKEN_MAX], want[RR_TOKEN_MAX];
	struct rr_peer q;
	size_t n = strlen(callid), len, wlen, dlen = strlen(p->domain);

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

	/* Format 2: the head, domain_len domain, fed, flags, routes, tag. */
	len = b64_get(tok, raw);
	wlen = head(p, 2, want);
	want[wlen++] = (uint8_t)dlen;
	memcpy(want + wlen, p->domain, dlen);
	wlen += dlen;
	want[wlen++] = p->fed;
	want[wlen++] = p->has_routes ? 1 : 0;
	for (int i = 7; p->has_routes && i >= 0; i--)
		want[wlen++] = (uint8_t)(p->routes >> (8 * i));
	FUZZ_CHECK(len == wlen + 8 && memcmp(raw, want, wlen) == 0);
	/* As format 1 (too long after the FQDN) and as no format at all. */
	raw[0] = 1;
	b64_put(raw, len, tok);
	FUZZ_CHECK(rr_token_decode(&key, tok, callid, &q) == -EINVAL);
	raw[0] = 3;
	b64_put(raw, len, tok);
	FUZZ_CHECK(rr_token_decode(&key, tok, callid, &q) == -EINVAL);
	format1(p, callid);
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
	size_t i = 37, n = 0;
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
	p.fed = (unsigned char)get_be(d, size, 27, 1);
	p.has_routes = get_be(d, size, 28, 1) & 1;
	if (p.has_routes)
		p.routes = get_be(d, size, 29, 8);
	for (; i < size && d[i] != '\n' && d[i] != '\0' && n < sizeof(p.fqdn) - 1; i++)
		p.fqdn[n++] = (char)d[i];
	p.fqdn[n] = '\0';
	if (i < size && d[i] == '\n')
		i++;
	for (n = 0; i < size && d[i] != '\n' && d[i] != '\0' && n < sizeof(p.domain) - 1; i++)
		p.domain[n++] = (char)d[i];
	p.domain[n] = '\0';
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
