/* xmpp_addr.c: JIDs (RFC 7622 sections 3.1-3.4) and the SIP/XMPP address
 * mapping of RFC 7247 sections 6.2-6.5, with XEP-0106 JID escaping. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "sipedge/fmt.h"
#include "sipedge/names.h"
#include "sipedge/utf8.h"
#include "sipedge/xmpp_addr.h"

/* ----------------------------------------------------------- characters */

static bool
is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static char
lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The ASCII characters RFC 7622 section 3.3.1 excludes from localparts although
 * the PRECIS IdentifierClass allows them.  Space is excluded by the
 * IdentifierClass itself (RFC 8264 section 9.1); XEP-0106 escapes all nine. */
static bool
local_excluded(unsigned char c)
{
	return c != '\0' && strchr(" \"&'/:<>@", c) != NULL;
}

/* The XEP-0106 escape sequences, lower case: "CASE IS SIGNIFICANT" there, so
 * "\2F" is no escape and is left alone both ways. */
static bool
is_jid_escape(const char *p)
{
	static const char *const seq[] = {
		"20", "22", "26", "27", "2f", "3a", "3c", "3e", "40", "5c",
	};

	if (p[0] == '\0' || p[1] == '\0')
		return false;
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++)
		if (p[0] == seq[i][0] && p[1] == seq[i][1])
			return true;
	return false;
}

/* Characters allowed unencoded in the user part of a 'sip'/'sips' URI: the
 * "user" rule of RFC 3261 section 25.1, the "A" row of RFC 7247 Table 1. */
static bool
sip_user_char(unsigned char c)
{
	return is_alnum(c) || (c != '\0' && strchr("-_.!~*'()&=+$,;?/", c) != NULL);
}

/* Characters left unencoded in the local part of an 'im'/'pres' URI: the
 * "atext" of RFC 5322 less what RFC 7247 section 6.5 step 5 encodes
 * ("(),.;[\]" and so also the dot), less '%', which in a URI would start a
 * percent-encoding (RFC 3986 section 2.4) and so must be encoded itself. */
static bool
im_user_char(unsigned char c)
{
	return is_alnum(c) || (c != '\0' && strchr("!#$&'*+-/=?^_`{|}~", c) != NULL);
}

/* Characters allowed unencoded in a SIP URI parameter value: "paramchar" of
 * RFC 3261 section 25.1 (param-unreserved and unreserved). */
static bool
sip_param_char(unsigned char c)
{
	return is_alnum(c) || (c != '\0' && strchr("[]/:&+$-_.!~*'()", c) != NULL);
}

static void
pct_encode(struct fmt *f, const char *s, bool (*keep)(unsigned char))
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (keep(*p)) {
			fmt_char(f, (char)*p);
		} else {
			/* RFC 3986 section 2.1: upper-case hexadecimal digits. */
			fmt_char(f, '%');
			fmt_char(f, "0123456789ABCDEF"[*p >> 4]);
			fmt_char(f, "0123456789ABCDEF"[*p & 15]);
		}
	}
}

/* Percent-decode n octets of s into out (outlen >= n + 1).  A NUL octet
 * (%00) is refused: it would cut the string short. */
static int
pct_decode(const char *s, size_t n, char *out, size_t outlen, const char **why)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int hi, lo;

		if (c == '%') {
			if (i + 2 >= n) {
				*why = "malformed percent-encoding";
				return -EINVAL;
			}
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0) {
				*why = "malformed percent-encoding";
				return -EINVAL;
			}
			c = (unsigned char)(hi << 4 | lo);
			if (c == '\0') {
				*why = "percent-encoded NUL";
				return -EINVAL;
			}
			i += 2;
		} else if (c <= 0x20 || c >= 0x7f) {
			/* A URI is printable ASCII (RFC 3986 section 2). */
			*why = "URI contains a character outside printable ASCII";
			return -EINVAL;
		}
		if (o + 1 >= outlen) {
			*why = "URI part longer than 1023 octets";
			return -EINVAL;
		}
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

/* ------------------------------------------------------------ JID parts */

/* Check and canonicalize a localpart of n octets into out: RFC 7622 section
 * 3.3.  Case mapping is the only PRECIS rule that changes an ASCII string. */
static int
local_prep(const char *s, size_t n, char *out, const char **why)
{
	if (n == 0) {
		*why = "empty localpart";
		return -EINVAL;
	}
	if (n > XMPP_JID_PART_MAX) {
		*why = "localpart longer than 1023 octets";
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x80) {
			*why = "non-ASCII localpart (the PRECIS UsernameCaseMapped profile is not implemented)";
			return -EINVAL;
		}
		if (c < 0x20 || c == 0x7f) {
			*why = "control character in localpart";
			return -EINVAL;
		}
		if (c == ' ') {
			*why = "space in localpart";
			return -EINVAL;
		}
		if (local_excluded(c)) {
			*why = "localpart contains one of \" & ' / : < > @ (RFC 7622 section 3.3.1)";
			return -EINVAL;
		}
		out[i] = lower((char)c);
	}
	out[n] = '\0';
	return 0;
}

/* An IP literal "[v6]" of n octets: RFC 3986 IP-literal as RFC 6874 updates
 * it.  The zone identifier RFC 6874 adds names an interface of one host, which
 * means nothing to a remote server, and IPvFuture has no address to parse;
 * both are refused.  The address is rewritten in the RFC 5952 form so that
 * two spellings of it compare equal. */
static int
domain_ipv6(const char *s, size_t n, char *out, const char **why)
{
	struct in6_addr a6;
	char tmp[INET6_ADDRSTRLEN + 1];

	if (n < 3 || s[n - 1] != ']') {
		*why = "IP literal without its closing bracket";
		return -EINVAL;
	}
	if (s[1] == 'v' || s[1] == 'V') {
		*why = "IPvFuture literal is not supported";
		return -EINVAL;
	}
	if (memchr(s, '%', n) != NULL) {
		*why = "IPv6 zone identifier in domainpart";
		return -EINVAL;
	}
	if (n - 2 >= sizeof(tmp)) {
		*why = "invalid IPv6 address";
		return -EINVAL;
	}
	memcpy(tmp, s + 1, n - 2);
	tmp[n - 2] = '\0';
	if (inet_pton(AF_INET6, tmp, &a6) != 1) {
		*why = "invalid IPv6 address";
		return -EINVAL;
	}
	out[0] = '[';
	inet_ntop(AF_INET6, &a6, out + 1, INET6_ADDRSTRLEN);
	strcat(out, "]");
	return 0;
}

/* Check and canonicalize a domainpart of n octets into out: RFC 7622 section
 * 3.2.  A domain name goes through names_normalize (the DNS rules the rest
 * of the edge applies to domain names): letters, digits and hyphens in labels
 * of at most 63, 253 in all, lower case, one trailing dot stripped as section
 * 3.2 requires. */
static int
domain_prep(const char *s, size_t n, char *out, const char **why)
{
	char tmp[NAMES_MAX + 2];
	struct in_addr a4;
	bool dotted = true;

	if (n == 0) {
		*why = "empty domainpart";
		return -EINVAL;
	}
	if (n > XMPP_JID_PART_MAX) {
		*why = "domainpart longer than 1023 octets";
		return -EINVAL;
	}
	if (s[0] == '[')
		return domain_ipv6(s, n, out, why);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x80) {
			*why = "non-ASCII domainpart (IDNA2008 U-labels are not supported; use A-labels)";
			return -EINVAL;
		}
		if (!(c == '.' || (c >= '0' && c <= '9')))
			dotted = false;
	}
	if (dotted && n <= 15) {
		/* IPv4address of RFC 3986: four decimal octets without leading
		 * zeros, which is what inet_pton accepts. */
		memcpy(tmp, s, n);
		tmp[n] = '\0';
		if (inet_pton(AF_INET, tmp, &a4) == 1) {
			memcpy(out, s, n);
			out[n] = '\0';
			return 0;
		}
	}
	if (n > NAMES_MAX + 1) {
		*why = "domain name longer than 253 characters";
		return -EINVAL;
	}
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	return names_normalize(tmp, out, XMPP_JID_PART_MAX + 1, why);
}

/* Check a resourcepart of n octets into out: RFC 7622 section 3.4, as far as
 * this phase goes.  It must be UTF-8 and free of control characters (C0, DEL
 * and C1: the FreeformClass disallows the Cc category, RFC 8264 section 9.12);
 * the width mapping and normalization of the OpaqueString profile are not
 * applied, so a resourcepart is compared octet for octet. */
static int
resource_prep(const char *s, size_t n, char *out, const char **why)
{
	if (n == 0) {
		*why = "empty resourcepart";
		return -EINVAL;
	}
	if (n > XMPP_JID_PART_MAX) {
		*why = "resourcepart longer than 1023 octets";
		return -EINVAL;
	}
	for (size_t i = 0; i < n;) {
		unsigned cp;
		size_t l = utf8_decode((const unsigned char *)s + i, n - i, &cp);

		if (l == 0) {
			*why = "resourcepart is not valid UTF-8";
			return -EINVAL;
		}
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
			*why = "control character in resourcepart";
			return -EINVAL;
		}
		i += l;
	}
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

int
xmpp_jid_parse(const char *s, struct xmpp_jid *out, const char **why)
{
	const char *dummy, *slash, *at, *dom;
	size_t n;
	int rc;

	if (why == NULL)
		why = &dummy;
	if (s == NULL || s[0] == '\0') {
		*why = "empty JID";
		return -EINVAL;
	}
	/* Section 3.2: split at the first '/' before looking for '@', so that
	 * "a.example.com/b@example.net" has no localpart. */
	slash = strchr(s, '/');
	n = slash ? (size_t)(slash - s) : strlen(s);
	at = memchr(s, '@', n);
	out->local[0] = out->resource[0] = '\0';
	if (at != NULL && (rc = local_prep(s, (size_t)(at - s), out->local, why)) < 0)
		return rc;
	dom = at ? at + 1 : s;
	if ((rc = domain_prep(dom, (size_t)(s + n - dom), out->domain, why)) < 0)
		return rc;
	if (slash != NULL &&
	    (rc = resource_prep(slash + 1, strlen(slash + 1), out->resource, why)) < 0)
		return rc;
	return 0;
}

int
xmpp_jid_format(const struct xmpp_jid *j, bool full, char *buf, size_t len)
{
	struct fmt f;

	if (len == 0)
		return -ENOSPC;
	f = fmt_init(buf, len);
	if (j->local[0]) {
		fmt_str(&f, j->local);
		fmt_char(&f, '@');
	}
	fmt_str(&f, j->domain);
	if (full && j->resource[0]) {
		fmt_char(&f, '/');
		fmt_str(&f, j->resource);
	}
	if (f.over) {
		buf[0] = '\0';
		return -ENOSPC;
	}
	return 0;
}

/* --------------------------------------------------------- URI to JID */

/* The scheme at the start of uri (case-insensitive, RFC 3986 section 3.1):
 * its length with the colon, or -EINVAL. */
static int
uri_scheme(const char *uri, enum xmpp_uri_scheme *scheme, const char **why)
{
	static const struct {
		const char *name;
		enum xmpp_uri_scheme scheme;
	} known[] = {
		{ "sip:", XMPP_URI_SIP }, { "sips:", XMPP_URI_SIPS },
		{ "im:", XMPP_URI_IM }, { "pres:", XMPP_URI_PRES },
	};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		size_t l = strlen(known[i].name);

		if (strncasecmp(uri, known[i].name, l) == 0) {
			*scheme = known[i].scheme;
			return (int)l;
		}
	}
	if (strncasecmp(uri, "tel:", 4) == 0)
		*why = "tel URI: telephone numbers are out of scope of RFC 7247 section 6";
	else
		*why = "URI scheme is not sip, sips, im or pres";
	return -EINVAL;
}

/* From the user part as it stands in the URI to a localpart: percent-decode,
 * lower-case, then escape what XMPP disallows (RFC 7247 sections 6.2 and 6.4,
 * XEP-0106 section 4).  Case mapping comes before escaping, not after as in
 * the list of section 6.4: lower-casing "\2F" after escaping would make it
 * the escape of '/', a character the SIP user never wrote. */
static int
user_to_local(const char *s, size_t n, char *out, const char **why)
{
	char dec[XMPP_JID_PART_MAX + 1];
	char esc[XMPP_JID_PART_MAX + 1];
	struct fmt f;
	size_t dn;
	int rc;

	if (n == 0) {
		*why = "empty user part";
		return -EINVAL;
	}
	if ((rc = pct_decode(s, n, dec, sizeof(dec), why)) < 0)
		return rc;
	dn = strlen(dec);
	for (size_t i = 0; i < dn; i++)
		dec[i] = lower(dec[i]);
	/* XEP-0106 section 4: \20 may not begin or end an escaped localpart. */
	if (dec[0] == ' ' || dec[dn - 1] == ' ') {
		*why = "user part begins or ends with a space, which XEP-0106 cannot escape";
		return -EINVAL;
	}
	f = fmt_init(esc, sizeof(esc));
	for (size_t i = 0; i < dn; i++) {
		unsigned char c = (unsigned char)dec[i];

		if (local_excluded(c) || (c == '\\' && is_jid_escape(dec + i + 1))) {
			fmt_char(&f, '\\');
			fmt_hex(&f, c, 2);
		} else {
			fmt_char(&f, (char)c);
		}
	}
	if (f.over) {
		*why = "localpart longer than 1023 octets";
		return -EINVAL;
	}
	return local_prep(esc, strlen(esc), out, why);
}

/* The URI parameters of a 'sip'/'sips' URI, from just after the host (p at a
 * ';' or at the end): only "gr" with a value maps (RFC 7247 section 6.3). */
static int
uri_params(const char *p, struct xmpp_jid *out, const char **why)
{
	bool have_gr = false;

	while (*p == ';') {
		const char *name = p + 1, *end = name + strcspn(name, ";?");
		const char *eq = memchr(name, '=', (size_t)(end - name));
		size_t nlen = (size_t)((eq ? eq : end) - name);
		char val[XMPP_JID_PART_MAX + 1];
		int rc;

		if (nlen == 2 && strncasecmp(name, "gr", 2) == 0) {
			if (eq == NULL) {
				*why = "temporary GRUU (gr without a value) cannot be mapped (RFC 7247 section 6.3)";
				return -EINVAL;
			}
			if (have_gr) {
				*why = "more than one gr parameter";
				return -EINVAL;
			}
			have_gr = true;
			if ((rc = pct_decode(eq + 1, (size_t)(end - eq - 1), val, sizeof(val), why)) < 0)
				return rc;
			if ((rc = resource_prep(val, strlen(val), out->resource, why)) < 0)
				return rc;
		} else if (nlen == 4 && strncasecmp(name, "user", 4) == 0 && eq != NULL &&
		    (size_t)(end - eq - 1) == 5 && strncasecmp(eq + 1, "phone", 5) == 0) {
			*why = "user=phone: telephone numbers are out of scope of RFC 7247 section 6";
			return -EINVAL;
		} else {
			*why = "URI parameter other than gr cannot be mapped to a JID";
			return -EINVAL;
		}
		p = end;
	}
	if (*p == '?') {
		*why = "URI headers cannot be mapped to a JID";
		return -EINVAL;
	}
	return 0;
}

int
xmpp_jid_from_sip_uri(const char *uri, struct xmpp_jid *out, const char **why)
{
	enum xmpp_uri_scheme scheme;
	const char *dummy, *p, *at, *host, *hend;
	int rc;

	if (why == NULL)
		why = &dummy;
	if (uri == NULL) {
		*why = "empty URI";
		return -EINVAL;
	}
	if ((rc = uri_scheme(uri, &scheme, why)) < 0)
		return rc;
	p = uri + rc;
	out->local[0] = out->resource[0] = '\0';
	/* Section 6.4 step 2: the user part ends at the first '@'; neither the
	 * host, the parameters nor the headers may hold one. */
	at = strchr(p, '@');
	if (at != NULL) {
		if (memchr(p, ':', (size_t)(at - p)) != NULL) {
			*why = "a password in the URI cannot be mapped";
			return -EINVAL;
		}
		if ((rc = user_to_local(p, (size_t)(at - p), out->local, why)) < 0)
			return rc;
		host = at + 1;
	} else {
		host = p;
	}
	if (host[0] == '[')
		hend = strchr(host, ']') ? strchr(host, ']') + 1 : host + strlen(host);
	else
		hend = host + strcspn(host, ":;?");
	if ((rc = domain_prep(host, (size_t)(hend - host), out->domain, why)) < 0)
		return rc;
	if (*hend == ':') {
		*why = "a port cannot be part of a JID";
		return -EINVAL;
	}
	if (scheme == XMPP_URI_IM || scheme == XMPP_URI_PRES) {
		/* RFC 3860/3859: "im:" and "pres:" URIs have no parameters. */
		if (*hend == ';') {
			*why = "URI parameter other than gr cannot be mapped to a JID";
			return -EINVAL;
		}
		if (*hend == '?') {
			*why = "URI headers cannot be mapped to a JID";
			return -EINVAL;
		}
		return 0;
	}
	return uri_params(hend, out, why);
}

/* --------------------------------------------------------- JID to URI */

int
xmpp_jid_to_uri(const struct xmpp_jid *j, enum xmpp_uri_scheme scheme, bool gr,
    char *buf, size_t len)
{
	static const char *const prefix[] = {
		[XMPP_URI_SIP] = "sip:", [XMPP_URI_SIPS] = "sips:",
		[XMPP_URI_IM] = "im:", [XMPP_URI_PRES] = "pres:",
	};
	bool sip = scheme == XMPP_URI_SIP || scheme == XMPP_URI_SIPS;
	char unesc[XMPP_JID_PART_MAX + 1];
	struct fmt f;

	if (len == 0)
		return -ENOSPC;
	f = fmt_init(buf, len);
	fmt_str(&f, prefix[scheme]);
	if (j->local[0]) {
		/* Section 6.5 step 3, as section 6.2 step 1 generalizes it: undo
		 * every XEP-0106 escape, and only those. */
		size_t o = 0;

		for (const char *p = j->local; *p; p++) {
			if (p[0] == '\\' && is_jid_escape(p + 1)) {
				unesc[o++] = (char)(hexval(p[1]) << 4 | hexval(p[2]));
				p += 2;
			} else {
				unesc[o++] = *p;
			}
		}
		unesc[o] = '\0';
		/* Step 5: percent-encode what the destination scheme reserves. */
		pct_encode(&f, unesc, sip ? sip_user_char : im_user_char);
		fmt_char(&f, '@');
	}
	fmt_str(&f, j->domain);
	/* Step 8.  The RFC's text says to append "/" before the resourcepart, but
	 * its own example (baz@xmpp.example/qux to sip:baz@xmpp.example;gr=qux)
	 * and RFC 5627 have the gr parameter carry the resourcepart alone. */
	if (gr && sip && j->resource[0]) {
		fmt_str(&f, ";gr=");
		pct_encode(&f, j->resource, sip_param_char);
	}
	if (f.over) {
		buf[0] = '\0';
		return -ENOSPC;
	}
	return 0;
}

int
xmpp_jid_to_sip_uri(const struct xmpp_jid *j, char *buf, size_t len)
{
	return xmpp_jid_to_uri(j, XMPP_URI_SIP, true, buf, len);
}
