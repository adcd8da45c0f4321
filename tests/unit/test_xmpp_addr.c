/* test_xmpp_addr.c: unit tests for xmpp_addr.c: JID rules and limits
 * (RFC 7622 sections 3.1-3.5), the SIP/XMPP address mapping of RFC 7247
 * sections 6.2-6.5 with the XEP-0106 escapes, and gr= (section 6.3). */
#include <errno.h>
#include <string.h>

#include "sipedge/xmpp_addr.h"
#include "unit.h"

/* Parse in and expect the full JID out, or (out NULL) a refusal whose reason
 * contains why_part. */
static int
expect_jid(const char *in, const char *out, const char *why_part)
{
	struct xmpp_jid j;
	char buf[XMPP_JID_MAX];
	const char *why = NULL;
	int rc = xmpp_jid_parse(in, &j, &why);

	if (out == NULL) {
		if (rc != -EINVAL || why == NULL || strstr(why, why_part) == NULL) {
			fprintf(stderr, "# %s: rc %d, why \"%s\", expected \"%s\"\n", in, rc,
			    why ? why : "(null)", why_part);
			return 1;
		}
		return 0;
	}
	if (rc != 0) {
		fprintf(stderr, "# %s: refused: %s\n", in, why ? why : "(null)");
		return 1;
	}
	CHECK_EQ_INT(xmpp_jid_format(&j, true, buf, sizeof(buf)), 0);
	CHECK_EQ_STR(buf, out);
	return 0;
}

/* Map a URI and expect the full JID out, or a refusal naming why_part. */
static int
expect_from_uri(const char *uri, const char *out, const char *why_part)
{
	struct xmpp_jid j;
	char buf[XMPP_JID_MAX];
	const char *why = NULL;
	int rc = xmpp_jid_from_sip_uri(uri, &j, &why);

	if (out == NULL) {
		if (rc != -EINVAL || why == NULL || strstr(why, why_part) == NULL) {
			fprintf(stderr, "# %s: rc %d, why \"%s\", expected \"%s\"\n", uri, rc,
			    why ? why : "(null)", why_part);
			return 1;
		}
		return 0;
	}
	if (rc != 0) {
		fprintf(stderr, "# %s: refused: %s\n", uri, why ? why : "(null)");
		return 1;
	}
	CHECK_EQ_INT(xmpp_jid_format(&j, true, buf, sizeof(buf)), 0);
	CHECK_EQ_STR(buf, out);
	return 0;
}

/* Parse the JID and expect its URI in the given scheme. */
static int
expect_to_uri(const char *jid, enum xmpp_uri_scheme scheme, bool gr, const char *uri)
{
	struct xmpp_jid j;
	char buf[XMPP_URI_MAX];

	CHECK_EQ_INT(xmpp_jid_parse(jid, &j, NULL), 0);
	CHECK_EQ_INT(xmpp_jid_to_uri(&j, scheme, gr, buf, sizeof(buf)), 0);
	CHECK_EQ_STR(buf, uri);
	return 0;
}

static char *
repeat(char *buf, const char *unit, size_t times)
{
	buf[0] = '\0';
	for (size_t i = 0; i < times; i++)
		strcat(buf, unit);
	return buf;
}

/* ------------------------------------------------------------ JID rules */

/* RFC 7622 Table 1, the ASCII rows (7 to 11 have non-ASCII localparts). */
static int
test_xmpp_addr_rfc7622_legal(void)
{
	CHECK(expect_jid("juliet@example.com", "juliet@example.com", NULL) == 0);
	CHECK(expect_jid("juliet@example.com/foo", "juliet@example.com/foo", NULL) == 0);
	CHECK(expect_jid("juliet@example.com/foo bar", "juliet@example.com/foo bar", NULL) == 0);
	CHECK(expect_jid("juliet@example.com/foo@bar", "juliet@example.com/foo@bar", NULL) == 0);
	CHECK(expect_jid("foo\\20bar@example.com", "foo\\20bar@example.com", NULL) == 0);
	CHECK(expect_jid("fussball@example.com", "fussball@example.com", NULL) == 0);
	CHECK(expect_jid("king@example.com/\xe2\x99\x9a", "king@example.com/\xe2\x99\x9a", NULL) == 0);
	CHECK(expect_jid("example.com", "example.com", NULL) == 0);
	CHECK(expect_jid("example.com/foobar", "example.com/foobar", NULL) == 0);
	return 0;
}

/* Example 15: the '/' is found first, so the '@' belongs to the resource. */
static int
test_xmpp_addr_split_order(void)
{
	struct xmpp_jid j;

	CHECK_EQ_INT(xmpp_jid_parse("a.example.com/b@example.net", &j, NULL), 0);
	CHECK_EQ_STR(j.local, "");
	CHECK_EQ_STR(j.domain, "a.example.com");
	CHECK_EQ_STR(j.resource, "b@example.net");
	CHECK(!xmpp_jid_is_full(&(struct xmpp_jid){ .domain = "x" }));
	CHECK(xmpp_jid_is_full(&j));
	/* The resourcepart runs to the end, '/' and all. */
	CHECK(expect_jid("a@b.example/c/d", "a@b.example/c/d", NULL) == 0);
	return 0;
}

/* RFC 7622 Table 2 (examples 16, 17, 19, 22, 23) and the other localpart
 * rules: the excluded characters of section 3.3.1 that can stand in a
 * localpart, controls, and this phase's refusal of non-ASCII. */
static int
test_xmpp_addr_rfc7622_illegal(void)
{
	CHECK(expect_jid("\"juliet\"@example.com", NULL, "3.3.1") == 0);
	CHECK(expect_jid("foo bar@example.com", NULL, "space") == 0);
	CHECK(expect_jid("@example.com/", NULL, "empty localpart") == 0);
	CHECK(expect_jid("juliet@", NULL, "empty domainpart") == 0);
	CHECK(expect_jid("/foobar", NULL, "empty domainpart") == 0);
	CHECK(expect_jid("", NULL, "empty JID") == 0);
	CHECK(expect_jid("a&b@example.com", NULL, "3.3.1") == 0);
	CHECK(expect_jid("o'malley@example.com", NULL, "3.3.1") == 0);
	CHECK(expect_jid("a:b@example.com", NULL, "3.3.1") == 0);
	CHECK(expect_jid("a<b@example.com", NULL, "3.3.1") == 0);
	CHECK(expect_jid("a>b@example.com", NULL, "3.3.1") == 0);
	/* A second '@' falls into the domainpart, which refuses it. */
	CHECK(expect_jid("a@b@example.com", NULL, "") == 0);
	CHECK(expect_jid("a\x01" "b@example.com", NULL, "control") == 0);
	CHECK(expect_jid("a\tb@example.com", NULL, "control") == 0);
	CHECK(expect_jid("a\x7f" "b@example.com", NULL, "control") == 0);
	CHECK(expect_jid("fu\xc3\x9f" "ball@example.com", NULL, "non-ASCII localpart") == 0);
	CHECK(expect_jid("\xcf\x80@example.com", NULL, "non-ASCII localpart") == 0);
	/* Every other printable ASCII character is allowed (PRECIS ASCII7). */
	CHECK(expect_jid("!#$%()*+,-.;=?[\\]^_`{|}~@example.com",
	    "!#$%()*+,-.;=?[\\]^_`{|}~@example.com", NULL) == 0);
	return 0;
}

static int
test_xmpp_addr_case_mapping(void)
{
	CHECK(expect_jid("Juliet@Example.COM/Balcony", "juliet@example.com/Balcony", NULL) == 0);
	CHECK(expect_jid("ROMEO@EXAMPLE.NET", "romeo@example.net", NULL) == 0);
	return 0;
}

static int
test_xmpp_addr_domainpart(void)
{
	/* Section 3.2: the trailing dot is stripped, one only. */
	CHECK(expect_jid("juliet@example.com./balcony", "juliet@example.com/balcony", NULL) == 0);
	CHECK(expect_jid("juliet@example.com..", NULL, "empty label") == 0);
	CHECK(expect_jid("juliet@.", NULL, "empty") == 0);
	CHECK(expect_jid("juliet@localhost", "juliet@localhost", NULL) == 0);
	/* IDNA A-labels are ASCII; U-labels are refused in this phase. */
	CHECK(expect_jid("a@xn--bcher-kva.example", "a@xn--bcher-kva.example", NULL) == 0);
	CHECK(expect_jid("a@b\xc3\xbc" "cher.example", NULL, "non-ASCII domainpart") == 0);
	CHECK(expect_jid("a@bad_name.example", NULL, "") == 0);
	CHECK(expect_jid("a@-bad.example", NULL, "hyphen") == 0);
	CHECK(expect_jid("a@1.2.3", NULL, "all digits") == 0);
	return 0;
}

static int
test_xmpp_addr_ip_literals(void)
{
	CHECK(expect_jid("a@192.0.2.1/r", "a@192.0.2.1/r", NULL) == 0);
	CHECK(expect_jid("192.0.2.1", "192.0.2.1", NULL) == 0);
	CHECK(expect_jid("a@192.0.2.256", NULL, "all digits") == 0);
	CHECK(expect_jid("a@192.0.2.01", NULL, "all digits") == 0);
	CHECK(expect_jid("a@[2001:DB8::1]", "a@[2001:db8::1]", NULL) == 0);
	CHECK(expect_jid("a@[2001:db8:0:0:0:0:0:1]/x", "a@[2001:db8::1]/x", NULL) == 0);
	CHECK(expect_jid("[::1]", "[::1]", NULL) == 0);
	CHECK(expect_jid("a@[::ffff:192.0.2.1]", "a@[::ffff:192.0.2.1]", NULL) == 0);
	CHECK(expect_jid("a@[fe80::1%25eth0]", NULL, "zone") == 0);
	CHECK(expect_jid("a@[v1.fe80::a+en1]", NULL, "IPvFuture") == 0);
	CHECK(expect_jid("a@[2001:db8::1", NULL, "closing bracket") == 0);
	CHECK(expect_jid("a@[2001:db8::g]", NULL, "invalid IPv6") == 0);
	CHECK(expect_jid("a@[192.0.2.1]", NULL, "invalid IPv6") == 0);
	CHECK(expect_jid("a@[]", NULL, "closing bracket") == 0);
	return 0;
}

static int
test_xmpp_addr_resourcepart(void)
{
	CHECK(expect_jid("a@b.example/", NULL, "empty resourcepart") == 0);
	CHECK(expect_jid("a@b.example/x\x01y", NULL, "control") == 0);
	CHECK(expect_jid("a@b.example/x\x7fy", NULL, "control") == 0);
	CHECK(expect_jid("a@b.example/x\xc2\x85y", NULL, "control") == 0);
	CHECK(expect_jid("a@b.example/x\xc3", NULL, "UTF-8") == 0);
	CHECK(expect_jid("a@b.example/\xc0\xaf", NULL, "UTF-8") == 0);
	CHECK(expect_jid("a@b.example/\xed\xa0\x80", NULL, "UTF-8") == 0);
	CHECK(expect_jid("a@b.example/\xf4\x90\x80\x80", NULL, "UTF-8") == 0);
	CHECK(expect_jid("a@b.example/\x80", NULL, "UTF-8") == 0);
	/* U+00A0 and a leading space are no controls.  RFC 7622 example 18
	 * lists "/ foo" as illegal, but the OpaqueString profile it points to
	 * (RFC 8265 section 4.2) allows the space; the profile is followed. */
	CHECK(expect_jid("a@b.example/\xc2\xa0x", "a@b.example/\xc2\xa0x", NULL) == 0);
	CHECK(expect_jid("juliet@example.com/ foo", "juliet@example.com/ foo", NULL) == 0);
	return 0;
}

/* Section 3.1: each part 1 to 1023 octets; the domain name is also bound by
 * DNS (253), which section 3.2 keeps. */
static int
test_xmpp_addr_lengths(void)
{
	static char part[2100], in[4200], out[4200];

	repeat(part, "a", 1023);
	snprintf(in, sizeof(in), "%s@example.com/%s", part, part);
	CHECK(expect_jid(in, in, NULL) == 0);
	repeat(part, "a", 1024);
	snprintf(in, sizeof(in), "%s@example.com", part);
	CHECK(expect_jid(in, NULL, "localpart longer than 1023") == 0);
	snprintf(in, sizeof(in), "a@example.com/%s", part);
	CHECK(expect_jid(in, NULL, "resourcepart longer than 1023") == 0);
	/* Octets, not characters: 341 three-octet characters are 1023. */
	repeat(part, "\xe2\x99\x9a", 341);
	snprintf(in, sizeof(in), "a@example.com/%s", part);
	CHECK(expect_jid(in, in, NULL) == 0);
	strcat(in, "x");
	CHECK(expect_jid(in, NULL, "resourcepart longer than 1023") == 0);
	/* A 253-character name (three labels of 63 and one of 61), with and
	 * without the trailing dot; 254 characters are refused. */
	snprintf(part, sizeof(part), "%s.%s.%s.%.61s", repeat(in, "a", 63), in, in, in);
	CHECK_EQ_INT(strlen(part), 253);
	snprintf(out, sizeof(out), "x@%s", part);
	CHECK(expect_jid(out, out, NULL) == 0);
	snprintf(in, sizeof(in), "x@%s.", part);
	CHECK(expect_jid(in, out, NULL) == 0);
	snprintf(in, sizeof(in), "x@%sa", part);
	CHECK(expect_jid(in, NULL, "longer than 253") == 0);
	repeat(part, "a", 1024);
	snprintf(in, sizeof(in), "x@%s", part);
	CHECK(expect_jid(in, NULL, "domainpart longer than 1023") == 0);
	repeat(part, "a", 64);
	snprintf(in, sizeof(in), "x@%s.example", part);
	CHECK(expect_jid(in, NULL, "63") == 0);
	return 0;
}

static int
test_xmpp_addr_format(void)
{
	struct xmpp_jid j;
	char buf[64];

	CHECK_EQ_INT(xmpp_jid_parse("juliet@example.com/balcony", &j, NULL), 0);
	CHECK_EQ_INT(xmpp_jid_format(&j, false, buf, sizeof(buf)), 0);
	CHECK_EQ_STR(buf, "juliet@example.com");
	CHECK_EQ_INT(xmpp_jid_format(&j, true, buf, sizeof(buf)), 0);
	CHECK_EQ_STR(buf, "juliet@example.com/balcony");
	/* 26 characters need 27 octets. */
	CHECK_EQ_INT(xmpp_jid_format(&j, true, buf, 27), 0);
	CHECK_EQ_INT(xmpp_jid_format(&j, true, buf, 26), -ENOSPC);
	CHECK_EQ_STR(buf, "");
	CHECK_EQ_INT(xmpp_jid_format(&j, false, buf, 0), -ENOSPC);
	CHECK_EQ_INT(xmpp_jid_parse("example.com", &j, NULL), 0);
	CHECK_EQ_INT(xmpp_jid_format(&j, true, buf, sizeof(buf)), 0);
	CHECK_EQ_STR(buf, "example.com");
	return 0;
}

/* ----------------------------------------------------------- SIP to XMPP */

/* RFC 7247 section 6.4, the examples of its table (the first, with U+00FC in
 * the localpart, is refused in this phase). */
static int
test_xmpp_addr_rfc7247_sip_to_xmpp(void)
{
	CHECK(expect_from_uri("sip:f%C3%BC@sip.example", NULL, "non-ASCII localpart") == 0);
	CHECK(expect_from_uri("sip:o'malley@sip.example", "o\\27malley@sip.example", NULL) == 0);
	CHECK(expect_from_uri("sip:foo@sip.example;gr=bar", "foo@sip.example/bar", NULL) == 0);
	return 0;
}

/* Step 5 and section 6.2 step 3: every character XMPP excludes is escaped. */
static int
test_xmpp_addr_escape_each(void)
{
	CHECK(expect_from_uri("sip:m&m@x.example", "m\\26m@x.example", NULL) == 0);
	CHECK(expect_from_uri("sip:a/b@x.example", "a\\2fb@x.example", NULL) == 0);
	CHECK(expect_from_uri("sip:a%20b@x.example", "a\\20b@x.example", NULL) == 0);
	CHECK(expect_from_uri("sip:a%22b@x.example", "a\\22b@x.example", NULL) == 0);
	CHECK(expect_from_uri("sip:a%3Ab@x.example", "a\\3ab@x.example", NULL) == 0);
	CHECK(expect_from_uri("sip:a%3cb%3E@x.example", "a\\3cb\\3e@x.example", NULL) == 0);
	CHECK(expect_from_uri("sip:user%40host@x.example", "user\\40host@x.example", NULL) == 0);
	/* Allowed in both: kept as they are, after percent-decoding. */
	CHECK(expect_from_uri("sip:%23a%25b@x.example", "#a%b@x.example", NULL) == 0);
	CHECK(expect_from_uri("sip:a;b=c+d$e,f?g!h~i*j(k)l-m_n.o@x.example",
	    "a;b=c+d$e,f?g!h~i*j(k)l-m_n.o@x.example", NULL) == 0);
	return 0;
}

/* XEP-0106 section 4.3: a backslash that starts an escape sequence (in lower
 * case) is escaped itself; any other is left alone. */
static int
test_xmpp_addr_escape_backslash(void)
{
	CHECK(expect_from_uri("sip:a%5C27b@x.example", "a\\5c27b@x.example", NULL) == 0);
	CHECK(expect_from_uri("sip:a%5C5cb@x.example", "a\\5c5cb@x.example", NULL) == 0);
	CHECK(expect_from_uri("sip:a%5Cb@x.example", "a\\b@x.example", NULL) == 0);
	CHECK(expect_from_uri("sip:a%5C41@x.example", "a\\41@x.example", NULL) == 0);
	CHECK(expect_from_uri("sip:a%5C2@x.example", "a\\2@x.example", NULL) == 0);
	/* Case mapping comes first: "\2F" becomes "\2f", an escape sequence,
	 * so its backslash must be escaped, else it would read as '/'. */
	CHECK(expect_from_uri("sip:A%5C2Fb@x.example", "a\\5c2fb@x.example", NULL) == 0);
	return 0;
}

static int
test_xmpp_addr_from_uri_schemes(void)
{
	CHECK(expect_from_uri("SIP:Alice@Fabrikam.TEST", "alice@fabrikam.test", NULL) == 0);
	CHECK(expect_from_uri("sips:alice@fabrikam.test;gr=x", "alice@fabrikam.test/x", NULL) == 0);
	CHECK(expect_from_uri("im:alice@fabrikam.test", "alice@fabrikam.test", NULL) == 0);
	CHECK(expect_from_uri("pres:alice@fabrikam.test", "alice@fabrikam.test", NULL) == 0);
	CHECK(expect_from_uri("sip:fabrikam.test", "fabrikam.test", NULL) == 0);
	CHECK(expect_from_uri("sip:alice@[2001:db8::1]", "alice@[2001:db8::1]", NULL) == 0);
	CHECK(expect_from_uri("sip:alice@192.0.2.7;gr=r", "alice@192.0.2.7/r", NULL) == 0);
	CHECK(expect_from_uri("sip:alice@fabrikam.test.", "alice@fabrikam.test", NULL) == 0);
	CHECK(expect_from_uri("tel:+15551234567", NULL, "tel URI") == 0);
	CHECK(expect_from_uri("TEL:+15551234567", NULL, "tel URI") == 0);
	CHECK(expect_from_uri("xmpp:alice@fabrikam.test", NULL, "scheme") == 0);
	CHECK(expect_from_uri("alice@fabrikam.test", NULL, "scheme") == 0);
	CHECK(expect_from_uri(NULL, NULL, "empty") == 0);
	return 0;
}

/* What has no place in a JID is refused, with a reason. */
static int
test_xmpp_addr_from_uri_refusals(void)
{
	CHECK(expect_from_uri("sip:+15551234567@fabrikam.test;user=phone", NULL, "user=phone") == 0);
	CHECK(expect_from_uri("sip:+15551234567@fabrikam.test;USER=Phone", NULL, "user=phone") == 0);
	CHECK(expect_from_uri("sip:alice@fabrikam.test;user=ip", NULL, "other than gr") == 0);
	CHECK(expect_from_uri("sip:alice@fabrikam.test;transport=tls", NULL, "other than gr") == 0);
	CHECK(expect_from_uri("sip:alice@fabrikam.test;lr", NULL, "other than gr") == 0);
	CHECK(expect_from_uri("sip:alice@fabrikam.test;gr", NULL, "temporary GRUU") == 0);
	CHECK(expect_from_uri("sip:alice@fabrikam.test;gr=a;gr=b", NULL, "more than one gr") == 0);
	CHECK(expect_from_uri("sip:alice@fabrikam.test;gr=", NULL, "empty resourcepart") == 0);
	CHECK(expect_from_uri("sip:alice@fabrikam.test?subject=hi", NULL, "headers") == 0);
	CHECK(expect_from_uri("sip:alice@fabrikam.test;gr=x?subject=hi", NULL, "headers") == 0);
	CHECK(expect_from_uri("sip:alice@fabrikam.test:5061", NULL, "port") == 0);
	CHECK(expect_from_uri("sip:alice@[2001:db8::1]:5061", NULL, "port") == 0);
	CHECK(expect_from_uri("sip:alice:secret@fabrikam.test", NULL, "password") == 0);
	CHECK(expect_from_uri("sip:@fabrikam.test", NULL, "empty user part") == 0);
	CHECK(expect_from_uri("sip:alice@", NULL, "empty domainpart") == 0);
	CHECK(expect_from_uri("im:alice@fabrikam.test;gr=x", NULL, "other than gr") == 0);
	CHECK(expect_from_uri("pres:alice@fabrikam.test?x=y", NULL, "headers") == 0);
	CHECK(expect_from_uri("sip:a%2@fabrikam.test", NULL, "malformed percent") == 0);
	CHECK(expect_from_uri("sip:a%zz@fabrikam.test", NULL, "malformed percent") == 0);
	CHECK(expect_from_uri("sip:a%@fabrikam.test", NULL, "malformed percent") == 0);
	CHECK(expect_from_uri("sip:a%00b@fabrikam.test", NULL, "NUL") == 0);
	CHECK(expect_from_uri("sip:a%01b@fabrikam.test", NULL, "control") == 0);
	CHECK(expect_from_uri("sip:a b@fabrikam.test", NULL, "printable ASCII") == 0);
	CHECK(expect_from_uri("sip:%20alice@fabrikam.test", NULL, "space") == 0);
	CHECK(expect_from_uri("sip:alice%20@fabrikam.test", NULL, "space") == 0);
	CHECK(expect_from_uri("sip:alice@fabrikam.test;gr=%01", NULL, "control") == 0);
	CHECK(expect_from_uri("sip:alice@fabrikam.test;gr=%C3", NULL, "UTF-8") == 0);
	CHECK(expect_from_uri("sip:alice@bad_host.test", NULL, "") == 0);
	return 0;
}

/* Escaping can triple a user part: the 1023-octet limit applies after it. */
static int
test_xmpp_addr_from_uri_lengths(void)
{
	static char user[4000], uri[4100], jid[4100];

	snprintf(uri, sizeof(uri), "sip:%s@x.example", repeat(user, "&", 341));
	snprintf(jid, sizeof(jid), "%s@x.example", repeat(user, "\\26", 341));
	CHECK(expect_from_uri(uri, jid, NULL) == 0);
	snprintf(uri, sizeof(uri), "sip:%s@x.example", repeat(user, "&", 342));
	CHECK(expect_from_uri(uri, NULL, "longer than 1023") == 0);
	snprintf(uri, sizeof(uri), "sip:%s@x.example", repeat(user, "%61", 1023));
	snprintf(jid, sizeof(jid), "%s@x.example", repeat(user, "a", 1023));
	CHECK(expect_from_uri(uri, jid, NULL) == 0);
	snprintf(uri, sizeof(uri), "sip:%s@x.example", repeat(user, "%61", 1024));
	CHECK(expect_from_uri(uri, NULL, "longer than 1023") == 0);
	snprintf(uri, sizeof(uri), "sip:a@x.example;gr=%s", repeat(user, "r", 1023));
	snprintf(jid, sizeof(jid), "a@x.example/%s", user);
	CHECK(expect_from_uri(uri, jid, NULL) == 0);
	snprintf(uri, sizeof(uri), "sip:a@x.example;gr=%s", repeat(user, "r", 1024));
	CHECK(expect_from_uri(uri, NULL, "longer than 1023") == 0);
	return 0;
}

/* Section 6.3: the gr value is percent-decoded into the resourcepart. */
static int
test_xmpp_addr_gr_decoding(void)
{
	CHECK(expect_from_uri("sip:a@x.example;gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
	    "a@x.example/urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6", NULL) == 0);
	CHECK(expect_from_uri("sip:a@x.example;gr=%E2%99%9A", "a@x.example/\xe2\x99\x9a", NULL) == 0);
	CHECK(expect_from_uri("sip:a@x.example;GR=a%20b%3Bc", "a@x.example/a b;c", NULL) == 0);
	return 0;
}

/* ----------------------------------------------------------- XMPP to SIP */

/* RFC 7247 section 6.5, the examples of its table (the second, with U+00FC
 * in the localpart, cannot be parsed in this phase; its percent-encoding of
 * non-ASCII octets is shown on a resourcepart below). */
static int
test_xmpp_addr_rfc7247_xmpp_to_sip(void)
{
	CHECK(expect_to_uri("m\\26m@xmpp.example", XMPP_URI_SIP, true, "sip:m&m@xmpp.example") == 0);
	CHECK(expect_to_uri("baz@xmpp.example/qux", XMPP_URI_SIP, true, "sip:baz@xmpp.example;gr=qux") == 0);
	CHECK(expect_to_uri("baz@xmpp.example/\xe2\x99\x9a", XMPP_URI_SIP, true,
	    "sip:baz@xmpp.example;gr=%E2%99%9A") == 0);
	return 0;
}

/* Section 6.5 step 3 for every XEP-0106 escape, step 5 for every character
 * a SIP user part reserves (RFC 7247 Table 1, SIP "D" row). */
static int
test_xmpp_addr_to_sip_encoding(void)
{
	CHECK(expect_to_uri("a\\20b\\22c\\26d\\27e\\2ff\\3ag\\3ch\\3ei\\40j\\5ck@x.example",
	    XMPP_URI_SIP, false, "sip:a%20b%22c&d'e/f%3Ag%3Ch%3Ei%40j%5Ck@x.example") == 0);
	CHECK(expect_to_uri("#%[\\]^`{|}@x.example", XMPP_URI_SIP, false,
	    "sip:%23%25%5B%5C%5D%5E%60%7B%7C%7D@x.example") == 0);
	CHECK(expect_to_uri("a!$()*+,-.;=?_~@x.example", XMPP_URI_SIP, false,
	    "sip:a!$()*+,-.;=?_~@x.example") == 0);
	/* XEP-0106 section 4.4: partial and unknown sequences are no escapes. */
	CHECK(expect_to_uri("\\2plus\\2is\\4@x.example", XMPP_URI_SIP, false,
	    "sip:%5C2plus%5C2is%5C4@x.example") == 0);
	CHECK(expect_to_uri("foob\\41r@x.example", XMPP_URI_SIP, false, "sip:foob%5C41r@x.example") == 0);
	CHECK(expect_to_uri("foo\\bar@x.example", XMPP_URI_SIP, false, "sip:foo%5Cbar@x.example") == 0);
	CHECK(expect_to_uri("a@x.example", XMPP_URI_SIPS, true, "sips:a@x.example") == 0);
	CHECK(expect_to_uri("x.example", XMPP_URI_SIP, true, "sip:x.example") == 0);
	CHECK(expect_to_uri("a@[2001:db8::1]/r", XMPP_URI_SIP, true, "sip:a@[2001:db8::1];gr=r") == 0);
	return 0;
}

/* Section 6.5 step 5 for 'im'/'pres': "(),.;[\]" (and '%', which a URI
 * reserves) are percent-encoded; step 8: no gr outside sip/sips. */
static int
test_xmpp_addr_to_im_pres(void)
{
	CHECK(expect_to_uri("juliet.capulet@example.com/balcony", XMPP_URI_PRES, true,
	    "pres:juliet%2Ecapulet@example.com") == 0);
	CHECK(expect_to_uri("a(b),c;d[e\\f]g%h@x.example", XMPP_URI_IM, true,
	    "im:a%28b%29%2Cc%3Bd%5Be%5Cf%5Dg%25h@x.example") == 0);
	CHECK(expect_to_uri("a!#$\\26\\27*+-\\2f=?^_`{|}~@x.example", XMPP_URI_IM, false,
	    "im:a!#$&'*+-/=?^_`{|}~@x.example") == 0);
	CHECK(expect_to_uri("a\\40b\\20c@x.example", XMPP_URI_PRES, false, "pres:a%40b%20c@x.example") == 0);
	return 0;
}

/* The gr value: everything but "paramchar" (RFC 3261 section 25.1) is
 * percent-encoded, so that the parameter ends where the resourcepart does. */
static int
test_xmpp_addr_to_sip_gr(void)
{
	CHECK(expect_to_uri("a@x.example/a b;c=d?e@f%g", XMPP_URI_SIP, true,
	    "sip:a@x.example;gr=a%20b%3Bc%3Dd%3Fe%40f%25g") == 0);
	CHECK(expect_to_uri("a@x.example/[x]/y:z&+$-_.!~*'()", XMPP_URI_SIP, true,
	    "sip:a@x.example;gr=[x]/y:z&+$-_.!~*'()") == 0);
	CHECK(expect_to_uri("a@x.example/r", XMPP_URI_SIP, false, "sip:a@x.example") == 0);
	return 0;
}

static int
test_xmpp_addr_to_uri_space(void)
{
	struct xmpp_jid j;
	char buf[XMPP_URI_MAX];
	static char in[4200], part[2100];

	CHECK_EQ_INT(xmpp_jid_parse("a@x.example/r", &j, NULL), 0);
	/* "sip:a@x.example;gr=r" is 20 characters. */
	CHECK_EQ_INT(xmpp_jid_to_sip_uri(&j, buf, 21), 0);
	CHECK_EQ_STR(buf, "sip:a@x.example;gr=r");
	CHECK_EQ_INT(xmpp_jid_to_sip_uri(&j, buf, 20), -ENOSPC);
	CHECK_EQ_STR(buf, "");
	CHECK_EQ_INT(xmpp_jid_to_sip_uri(&j, buf, 0), -ENOSPC);
	/* Every octet of the localpart and the resourcepart encoded. */
	repeat(part, "#", 1023);
	snprintf(in, sizeof(in), "%s@%s.example/", part, repeat(buf, "a", 63));
	strcat(in, repeat(part, " ", 1023));
	CHECK_EQ_INT(xmpp_jid_parse(in, &j, NULL), 0);
	CHECK_EQ_INT(xmpp_jid_to_uri(&j, XMPP_URI_SIPS, true, buf, sizeof(buf)), 0);
	CHECK_EQ_INT(strlen(buf), 5 + 3069 + 1 + 71 + 4 + 3069);
	return 0;
}

/* ----------------------------------------------------------- round trips */

/* SIP to XMPP and back gives the same URI (for URIs in the canonical form:
 * lower case, percent-encoding only where the user part requires it). */
static int
round_trip_sip(const char *uri)
{
	struct xmpp_jid j;
	char buf[XMPP_URI_MAX];
	const char *why = NULL;

	if (xmpp_jid_from_sip_uri(uri, &j, &why) != 0) {
		fprintf(stderr, "# %s: %s\n", uri, why);
		return 1;
	}
	CHECK_EQ_INT(xmpp_jid_to_sip_uri(&j, buf, sizeof(buf)), 0);
	CHECK_EQ_STR(buf, uri);
	return 0;
}

static int
test_xmpp_addr_round_trip_sip(void)
{
	static const char *const uris[] = {
		"sip:o'malley@sip.example", "sip:m&m@xmpp.example", "sip:a/b@x.example",
		"sip:user%40host@x.example", "sip:a%20b@x.example", "sip:%22q%22@x.example",
		"sip:a%3Ab%3Cc%3E@x.example", "sip:%23a%25b%5Bc%5D%5E%60%7B%7C%7D@x.example",
		"sip:a%5C27b@x.example", "sip:a%5C5c@x.example", "sip:a%5Cb@x.example",
		"sip:a;b=c+d$e,f?g!h~i*j(k)l-m_n.o@x.example", "sip:foo@sip.example;gr=bar",
		"sip:a@x.example;gr=%E2%99%9A", "sip:a@x.example;gr=a%20b%3Bc",
		"sip:a@x.example;gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
		"sip:x.example", "sip:a@[2001:db8::1];gr=r", "sip:a@192.0.2.1",
	};

	for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++)
		CHECK(round_trip_sip(uris[i]) == 0);
	return 0;
}

/* XMPP to SIP and back gives the same JID: the XEP-0106 examples (section
 * 5.1) and resourceparts that need percent-encoding. */
static int
test_xmpp_addr_round_trip_xmpp(void)
{
	static const char *const jids[] = {
		"space\\20cadet@example.com", "call\\20me\\20\\22ishmael\\22@example.com",
		"at\\26t\\20guy@example.com", "d\\27artagnan@example.com", "\\2f.fanboy@example.com",
		"\\3a\\3afoo\\3a\\3a@example.com", "\\3cfoo\\3e@example.com", "user\\40host@example.com",
		"c\\3a\\net@example.com", "c\\3a\\cool\\20stuff@example.com",
		"c\\3a\\5c5commas@example.com", "c\\3a\\5c5cnet@example.com", "\\2plus\\2is\\4@example.com",
		"foo\\bar@example.com", "foob\\41r@example.com", "a\\5c27b@example.com",
		"#%[\\]^`{|}@example.com", "baz@xmpp.example/qux", "a@x.example/\xe2\x99\x9a",
		"a@x.example/ a b;c=d?e@f%g", "example.com/r",
	};

	for (size_t i = 0; i < sizeof(jids) / sizeof(jids[0]); i++) {
		struct xmpp_jid j, k;
		char uri[XMPP_URI_MAX], back[XMPP_JID_MAX];
		const char *why = NULL;

		CHECK_EQ_INT(xmpp_jid_parse(jids[i], &j, NULL), 0);
		CHECK_EQ_INT(xmpp_jid_to_sip_uri(&j, uri, sizeof(uri)), 0);
		if (xmpp_jid_from_sip_uri(uri, &k, &why) != 0) {
			fprintf(stderr, "# %s -> %s: %s\n", jids[i], uri, why);
			return 1;
		}
		CHECK_EQ_INT(xmpp_jid_format(&k, true, back, sizeof(back)), 0);
		CHECK_EQ_STR(back, jids[i]);
	}
	return 0;
}

static const struct unit_test tests[] = {
	UNIT(test_xmpp_addr_rfc7622_legal),
	UNIT(test_xmpp_addr_split_order),
	UNIT(test_xmpp_addr_rfc7622_illegal),
	UNIT(test_xmpp_addr_case_mapping),
	UNIT(test_xmpp_addr_domainpart),
	UNIT(test_xmpp_addr_ip_literals),
	UNIT(test_xmpp_addr_resourcepart),
	UNIT(test_xmpp_addr_lengths),
	UNIT(test_xmpp_addr_format),
	UNIT(test_xmpp_addr_rfc7247_sip_to_xmpp),
	UNIT(test_xmpp_addr_escape_each),
	UNIT(test_xmpp_addr_escape_backslash),
	UNIT(test_xmpp_addr_from_uri_schemes),
	UNIT(test_xmpp_addr_from_uri_refusals),
	UNIT(test_xmpp_addr_from_uri_lengths),
	UNIT(test_xmpp_addr_gr_decoding),
	UNIT(test_xmpp_addr_rfc7247_xmpp_to_sip),
	UNIT(test_xmpp_addr_to_sip_encoding),
	UNIT(test_xmpp_addr_to_im_pres),
	UNIT(test_xmpp_addr_to_sip_gr),
	UNIT(test_xmpp_addr_to_uri_space),
	UNIT(test_xmpp_addr_round_trip_sip),
	UNIT(test_xmpp_addr_round_trip_xmpp),
	{ 0 }
};

int
main(int argc, char **argv)
{
	return unit_main(argc, argv, tests);
}
