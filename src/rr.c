/* rr.c: signed Via branches and Record-Route tokens (RFC 3261 §16.6, RFC 5658),
 * SipHash-2-4 (Aumasson & Bernstein, 2012) as the keyed tag. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sipedge/fmt.h"
#include "sipedge/keyfile.h"
#include "sipedge/rr.h"

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND                                                          \
	do {                                                              \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                    \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                    \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
	} while (0)

static uint64_t
load64_le(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* Incremental SipHash-2-4 over several buffers. */
struct sip_hash {
	uint64_t v0, v1, v2, v3;
	uint8_t buf[8];
	size_t nbuf, total;
};

static void
sh_init(struct sip_hash *h, const struct rr_key *k)
{
	h->v0 = 0x736f6d6570736575ULL ^ k->k0;
	h->v1 = 0x646f72616e646f6dULL ^ k->k1;
	h->v2 = 0x6c7967656e657261ULL ^ k->k0;
	h->v3 = 0x7465646279746573ULL ^ k->k1;
	h->nbuf = h->total = 0;
}

static void
sh_block(struct sip_hash *h, uint64_t m)
{
	uint64_t v0 = h->v0, v1 = h->v1, v2 = h->v2, v3 = h->v3;

	v3 ^= m;
	SIPROUND;
	SIPROUND;
	v0 ^= m;
	h->v0 = v0; h->v1 = v1; h->v2 = v2; h->v3 = v3;
}

static void
sh_update(struct sip_hash *h, const void *data, size_t len)
{
	const uint8_t *p = data;

	h->total += len;
	while (len > 0) {
		if (h->nbuf == 0 && len >= 8) {
			sh_block(h, load64_le(p));
			p += 8;
			len -= 8;
			continue;
		}
		h->buf[h->nbuf++] = *p++;
		len--;
		if (h->nbuf == 8) {
			sh_block(h, load64_le(h->buf));
			h->nbuf = 0;
		}
	}
}

static uint64_t
sh_final(struct sip_hash *h)
{
	uint64_t b = (uint64_t)(h->total & 0xff) << 56;
	uint64_t v0, v1, v2, v3;

	for (size_t i = 0; i < h->nbuf; i++)
		b |= (uint64_t)h->buf[i] << (8 * i);
	sh_block(h, b);
	v0 = h->v0; v1 = h->v1; v2 = h->v2; v3 = h->v3;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* Compare two tags in constant time: how long a comparison takes must not
 * tell a forger how many leading bits of a guess were right. */
static bool
tags_equal(uint64_t a, uint64_t b)
{
	volatile uint64_t d = a ^ b;

	return d == 0;
}

uint64_t
rr_siphash(const struct rr_key *k, const void *data, size_t len)
{
	struct sip_hash h;

	sh_init(&h, k);
	sh_update(&h, data, len);
	return sh_final(&h);
}

int
rr_key_load(const char *path, struct rr_key *out, char *err, size_t errlen)
{
	uint8_t raw[16];
	int rc;

	if ((rc = keyfile_load(path, "record-route key", raw, sizeof(raw), err, errlen)) < 0)
		return rc;
	out->k0 = load64_le(raw);
	out->k1 = load64_le(raw + 8);
	explicit_bzero(raw, sizeof(raw));
	return 0;
}

/* base64url without padding (RFC 4648 §5): token characters in a SIP URI
 * parameter (RFC 3261 "token" allows - and _ but not + or /). */
static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static size_t
b64_encode(const uint8_t *in, size_t n, char *out)
{
	size_t o = 0, i = 0;

	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = b64[v >> 18];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = b64[(v >> 6) & 63];
		out[o++] = b64[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;

		out[o++] = b64[v >> 18];
		out[o++] = b64[(v >> 12) & 63];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;

		out[o++] = b64[v >> 18];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = b64[(v >> 6) & 63];
	}
	out[o] = '\0';
	return o;
}

static int
b64_val(char c)
{
	const char *p = c ? strchr(b64, c) : NULL;

	return p ? (int)(p - b64) : -1;
}

static int
b64_decode(const char *in, uint8_t *out, size_t outmax, size_t *outlen)
{
	size_t n = strlen(in), o = 0;
	uint32_t acc = 0;
	int bits = 0;

	if (n % 4 == 1)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		int v = b64_val(in[i]);

		if (v < 0)
			return -EINVAL;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == outmax)
				return -EINVAL;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	*outlen = o;
	return 0;
}

/* Layout (format 2): ver side kind family | conn_id(8) | port(2) | addr(0/4/16) |
 * fqdn_len(1) fqdn | domain_len(1) domain | fed(1) | flags(1) | routes(0/8) |
 * tag(8).  Format 1 ended after fqdn. */
#define TOKEN_RAW_MAX (4 + 8 + 2 + 16 + 1 + 255 + 1 + 255 + 1 + 1 + 8 + 8)
#define TOKEN_HAS_ROUTES 0x01

uint64_t
rr_routes_hash(const struct rr_key *k, const char *text, size_t len)
{
	struct sip_hash h;

	sh_init(&h, k);
	sh_update(&h, "routes\n", 7);
	sh_update(&h, text, len);
	return sh_final(&h);
}

int
rr_token_encode(const struct rr_key *k, const struct rr_peer *p, const char *callid,
    char *out, size_t outlen)
{
	uint8_t raw[TOKEN_RAW_MAX];
	size_t n = 0, flen = strlen(p->fqdn), dlen = strlen(p->domain);
	struct sip_hash h;
	uint64_t tag;

	if (flen > 255 || dlen > 255 || outlen < ((sizeof(raw) + 2) / 3) * 4 + 1)
		return -ENOSPC;
	raw[n++] = 2;
	raw[n++] = (uint8_t)p->side;
	raw[n++] = (uint8_t)p->kind;
	raw[n++] = !p->has_addr ? 0 : p->addr.ss_family == AF_INET ? 4 : 6;
	for (int i = 7; i >= 0; i--)
		raw[n++] = (uint8_t)(p->conn_id >> (8 * i));
	if (p->has_addr && p->addr.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&p->addr;

		memcpy(raw + n, &sin->sin_port, 2);
		memcpy(raw + n + 2, &sin->sin_addr, 4);
		n += 6;
	} else if (p->has_addr) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&p->addr;

		memcpy(raw + n, &sin6->sin6_port, 2);
		memcpy(raw + n + 2, &sin6->sin6_addr, 16);
		n += 18;
	}
	raw[n++] = (uint8_t)flen;
	memcpy(raw + n, p->fqdn, flen);
	n += flen;
	raw[n++] = (uint8_t)dlen;
	memcpy(raw + n, p->domain, dlen);
	n += dlen;
	raw[n++] = p->fed;
	raw[n++] = p->has_routes ? TOKEN_HAS_ROUTES : 0;
	if (p->has_routes)
		for (int i = 7; i >= 0; i--)
			raw[n++] = (uint8_t)(p->routes >> (8 * i));
	sh_init(&h, k);
	sh_update(&h, raw, n);
	sh_update(&h, callid ? callid : "", callid ? strlen(callid) : 0);
	tag = sh_final(&h);
	for (int i = 7; i >= 0; i--)
		raw[n++] = (uint8_t)(tag >> (8 * i));
	b64_encode(raw, n, out);
	return 0;
}

/* A length-prefixed name at raw[*i] into out (size CONF_MAX_NAME); no NULs. */
static int
take_name(const uint8_t *raw, size_t n, size_t *i, char *out)
{
	size_t len;

	if (n < *i + 1)
		return -EINVAL;
	len = raw[(*i)++];
	if (len >= CONF_MAX_NAME || n < *i + len || memchr(raw + *i, '\0', len))
		return -EINVAL;
	memcpy(out, raw + *i, len);
	out[len] = '\0';
	*i += len;
	return 0;
}

int
rr_token_decode(const struct rr_key *k, const char *tok, const char *callid,
    struct rr_peer *out)
{
	uint8_t raw[TOKEN_RAW_MAX];
	struct rr_peer p;
	size_t n, i = 0;
	struct sip_hash h;
	uint64_t tag = 0, want;

	if (strlen(tok) > RR_TOKEN_MAX || b64_decode(tok, raw, sizeof(raw), &n) < 0)
		return -EINVAL;
	if (n < 4 + 8 + 1 + 8 || (raw[0] != 1 && raw[0] != 2) || raw[1] > SIDE_EXTERNAL ||
	    raw[2] > TP_TCP)
		return -EINVAL;
	memset(&p, 0, sizeof(p));
	p.side = (enum side)raw[1];
	p.kind = (enum tp_kind)raw[2];
	i = 4;
	for (int b = 0; b < 8; b++)
		p.conn_id = (p.conn_id << 8) | raw[i++];
	if (raw[3] == 4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&p.addr;

		if (n < i + 6)
			return -EINVAL;
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_port, raw + i, 2);
		memcpy(&sin->sin_addr, raw + i + 2, 4);
		i += 6;
		p.has_addr = true;
	} else if (raw[3] == 6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&p.addr;

		if (n < i + 18)
			return -EINVAL;
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_port, raw + i, 2);
		memcpy(&sin6->sin6_addr, raw + i + 2, 16);
		i += 18;
		p.has_addr = true;
	} else if (raw[3] != 0)
		return -EINVAL;
	if (take_name(raw, n, &i, p.fqdn) < 0)
		return -EINVAL;
	if (raw[0] == 2) {
		if (take_name(raw, n, &i, p.domain) < 0 || n < i + 2)
			return -EINVAL;
		p.fed = raw[i++];
		if (raw[i] & ~TOKEN_HAS_ROUTES)
			return -EINVAL;
		p.has_routes = raw[i++] & TOKEN_HAS_ROUTES;
		if (p.has_routes) {
			if (n < i + 8)
				return -EINVAL;
			for (int b = 0; b < 8; b++)
				p.routes = (p.routes << 8) | raw[i++];
		}
	}
	if (n != i + 8)
		return -EINVAL;
	sh_init(&h, k);
	sh_update(&h, raw, i);
	sh_update(&h, callid ? callid : "", callid ? strlen(callid) : 0);
	want = sh_final(&h);
	for (int b = 0; b < 8; b++)
		tag = (tag << 8) | raw[i++];
	if (!tags_equal(tag, want))
		return -EPERM;
	*out = p;
	return 0;
}

static uint64_t
branch_tag(const struct rr_key *k, uint64_t conn_in_id, uint32_t counter, uint32_t loop)
{
	uint8_t raw[17];

	raw[0] = 'b';
	for (int i = 0; i < 8; i++)
		raw[1 + i] = (uint8_t)(conn_in_id >> (56 - 8 * i));
	for (int i = 0; i < 4; i++) {
		raw[9 + i] = (uint8_t)(counter >> (24 - 8 * i));
		raw[13 + i] = (uint8_t)(loop >> (24 - 8 * i));
	}
	return rr_siphash(k, raw, sizeof(raw));
}

void
rr_branch_make(const struct rr_key *k, uint64_t conn_in_id, uint32_t counter, uint32_t loop,
    char out[RR_BRANCH_LEN + 1])
{
	struct fmt f = fmt_init(out, RR_BRANCH_LEN + 1);

	fmt_str(&f, RR_BRANCH_PREFIX);
	fmt_hex(&f, conn_in_id, 16);
	fmt_hex(&f, counter, 8);
	fmt_hex(&f, loop, 8);
	fmt_hex(&f, branch_tag(k, conn_in_id, counter, loop), 16);
}

static int
hex_field(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		int d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else
			return -EINVAL;
		v = (v << 4) | (uint64_t)d;
	}
	*out = v;
	return 0;
}

int
rr_branch_parse(const struct rr_key *k, const char *branch, uint64_t *conn_in_id, uint32_t *loop)
{
	const size_t plen = sizeof(RR_BRANCH_PREFIX) - 1;
	uint64_t id, counter, lp, tag;

	if (!branch || strlen(branch) != RR_BRANCH_LEN || strncmp(branch, RR_BRANCH_PREFIX, plen) != 0)
		return -EINVAL;
	branch += plen;
	if (hex_field(branch, 16, &id) < 0 || hex_field(branch + 16, 8, &counter) < 0 ||
	    hex_field(branch + 24, 8, &lp) < 0 || hex_field(branch + 32, 16, &tag) < 0)
		return -EINVAL;
	if (!tags_equal(tag, branch_tag(k, id, (uint32_t)counter, (uint32_t)lp)))
		return -EPERM;
	if (conn_in_id)
		*conn_in_id = id;
	if (loop)
		*loop = (uint32_t)lp;
	return 0;
}
