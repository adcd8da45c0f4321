/* test_core.c: unit tests for the pure parts of the proxy core: configuration
 * parsing, signed branches and Record-Route tokens, request checks and local
 * responses (Sofia-SIP), and the static relay rules. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <sofia-sip/msg.h>
#include <sofia-sip/msg_addr.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_protos.h>
#include <sofia-sip/sip_util.h>

#include "sipedge/conf.h"
#include "sipedge/rr.h"
#include "sipedge/sdnotify.h"
#include "sipedge/fmt.h"
#include "sipedge/sipmsg.h"
#include "unit.h"

/* ---- helpers ---- */

static const char *
write_tmp(const char *text)
{
	static char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/sipedge-unit-%ld.conf", (long)getpid());
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

static const char base_conf[] =
    "edge-fqdn sip.contoso.test\n"
    "sip-domain contoso.test\n"
    "listen external tls 127.0.0.1:5061\n"
    "listen internal tcp 127.0.0.1:5060\n"
    "certificate /x.crt\nprivate-key /x.key\nca-bundle /ca.crt\n"
    "pool-server pool1.contoso.test:5071 127.0.0.10\n"
    "pool-server pool2.contoso.test 127.0.0.11\n"
    "internal-server pool1.contoso.test\n"
    "internal-server 127.0.0.2\n"
    "host sip.fabrikam.test 127.0.0.20\n"
    "host sip2.fabrikam.test 127.0.0.21:5062 tcp\n"
    "dns-server 127.0.0.1:5353\n"
    "timer-f 2s\n";

static struct conf *
load(const char *text, char *err, size_t errlen)
{
	struct conf *c = NULL;

	if (conf_load(write_tmp(text), &c, err, errlen) < 0)
		return NULL;
	return c;
}

static msg_t *
parse(const char *text)
{
	msg_t *m = msg_create(sipmsg_mclass(), MSG_DO_EXTRACT_COPY);
	size_t len = strlen(text);
	msg_iovec_t iov[2];
	int n;

	n = msg_recv_iovec(m, iov, 2, len, 1);
	if (n < 1 || iov[0].mv_len < len) {
		msg_destroy(m);
		return NULL;
	}
	memcpy(iov[0].mv_base, text, len);
	msg_recv_commit(m, len, 1);
	if (msg_extract(m) <= 0) {
		msg_destroy(m);
		return NULL;
	}
	return m;
}

static const char invite[] =
    "INVITE sip:bob@fabrikam.test SIP/2.0\r\n"
    "Via: SIP/2.0/TLS 10.0.0.1:5061;branch=z9hG4bK-1;rport\r\n"
    "Max-Forwards: 70\r\n"
    "From: <sip:alice@contoso.test>;tag=a1\r\n"
    "To: <sip:bob@fabrikam.test>\r\n"
    "Call-ID: call-1@contoso.test\r\n"
    "CSeq: 1 INVITE\r\n"
    "Contact: <sip:alice@10.0.0.1:5061;transport=tls>\r\n"
    "Content-Length: 0\r\n\r\n";

/* Check text: 0 (fine), or the status and diagnostic code of its refusal. */
static int
check_text_code(const char *text, int want_status, enum diag_code want_code)
{
	msg_t *m = parse(text);
	struct sip_problem p;
	int rc;

	CHECK(m != NULL);
	rc = sipmsg_check_request(m, sip_object(m), &p);
	if (want_status == 0) {
		CHECK_EQ_INT(rc, 0);
	} else {
		CHECK_EQ_INT(rc, -EINVAL);
		CHECK_EQ_INT(p.status, want_status);
		CHECK_EQ_INT(p.diag, want_code);
		CHECK(p.detail[0] != '\0');
	}
	msg_destroy(m);
	return 0;
}

static int
check_text(const char *text, int want_status)
{
	return check_text_code(text, want_status, want_status == 0 ? DIAG_NONE :
	    want_status == 483 ? DIAG_TOO_MANY_HOPS : want_status == 505 ? DIAG_BAD_VERSION :
	    want_status == 416 ? DIAG_BAD_SCHEME : want_status == 420 ? DIAG_BAD_EXTENSION :
	    DIAG_MALFORMED);
}

/* ---- conf ---- */

static int
test_conf_sample(void)
{
	char err[512];
	struct conf *c = load(base_conf, err, sizeof(err));
	const struct host_conf *h;

	CHECK(c != NULL);
	CHECK_EQ_STR(c->internal_fqdn, "sip.contoso.test");
	CHECK_EQ_INT(c->nlisteners, 2);
	CHECK(c->listeners[0].mutual_tls);
	CHECK(!c->listeners[1].mutual_tls);
	CHECK_EQ_INT(c->npool, 2);
	CHECK_EQ_INT(c->pool[0].port, 5071);
	CHECK_EQ_INT(c->pool[1].port, 5061);
	CHECK(c->pool[1].has_addr);
	CHECK_EQ_INT(ntohs(((struct sockaddr_in *)&c->pool[1].addr)->sin_port), 5061);
	CHECK_EQ_INT(c->timer_f_ms, 2000);
	CHECK(conf_is_internal_server(c, "POOL1.contoso.test"));
	CHECK(conf_is_internal_server(c, "127.0.0.2"));
	h = conf_host_find(c, "SIP.fabrikam.test");
	CHECK(h && !h->has_port && h->kind == TP_TLS);
	h = conf_host_find(c, "sip2.fabrikam.test");
	CHECK(h && h->has_port && h->kind == TP_TCP);
	CHECK_EQ_INT(ntohs(((struct sockaddr_in *)&h->addr)->sin_port), 5062);
	CHECK(conf_host_find(c, "other.test") == NULL);
	CHECK_EQ_STR(c->dns_servers, "127.0.0.1:5353");
	conf_free(c);
	return 0;
}

static int
bad_conf(const char *extra, const char *want)
{
	char err[512], text[2048];
	struct conf *c;

	snprintf(text, sizeof(text), "%s%s", base_conf, extra);
	c = load(text, err, sizeof(err));
	CHECK(c == NULL);
	if (!strstr(err, want)) {
		fprintf(stderr, "# got: %s\n# want: %s\n", err, want);
		return 1;
	}
	return 0;
}

static int
test_conf_errors(void)
{
	CHECK(bad_conf("bogus-key 1\n", ":16: unknown key 'bogus-key'") == 0);
	CHECK(bad_conf("listen external tcp 127.0.0.1:1\n", ":16: listen: the external listener must use TLS") == 0);
	CHECK(bad_conf("listen external tls 127.0.0.1:1 mutual-tls no\n", "always requires mutual TLS") == 0);
	CHECK(bad_conf("listen internal tls nowhere:99\n", "is not ADDRESS[:PORT]") == 0);
	CHECK(bad_conf("workers lots\n", "workers: expected a whole number") == 0);
	CHECK(bad_conf("timer-c 5 parsecs\n", "timer-c: expected one value") == 0);
	CHECK(bad_conf("timer-c 5x\n", "timer-c: expected a duration") == 0);
	CHECK(bad_conf("pool-server bad_name!\n", "is not a valid host name") == 0);
	CHECK(bad_conf("pool-server ok.test:99999\n", "bad port") == 0);
	CHECK(bad_conf("host x.test 1.2.3.4 udp\n", "host: unexpected 'udp'") == 0);
	CHECK(bad_conf("host sip.fabrikam.test 1.2.3.5\n", "already pinned") == 0);
	CHECK(bad_conf("dns-server localhost\n", "dns-server: 'localhost' is not ADDRESS[:PORT]") == 0);
	CHECK(bad_conf("route x.test a.test\n", "unknown key 'route'") == 0);
	return 0;
}

/* listen xmpp|xmpps: the XMPP listeners, their default ports, and errors
 * that name the line. */
static int
test_conf_xmpp(void)
{
	char err[512], text[2048];
	struct conf *c;

	snprintf(text, sizeof(text), "%slisten xmpp 127.0.0.1\nlisten xmpps [::1]:15270\n"
	    "xmpp-dialback-key-file /tmp/db.key\n", base_conf);
	CHECK((c = load(text, err, sizeof(err))) != NULL);
	CHECK_EQ_INT(c->nxmpp_listeners, 2);
	CHECK(!c->xmpp_listeners[0].direct_tls);
	CHECK_EQ_INT(conf_sockaddr_port(&c->xmpp_listeners[0].addr), 5269);
	CHECK(c->xmpp_listeners[1].direct_tls);
	CHECK_EQ_INT(conf_sockaddr_port(&c->xmpp_listeners[1].addr), 15270);
	CHECK_EQ_STR(c->xmpp_dialback_key_file, "/tmp/db.key");
	CHECK_EQ_INT(c->nlisteners, 2);        /* the SIP listeners are untouched */
	conf_free(c);
	CHECK((c = load(base_conf, err, sizeof(err))) != NULL);
	CHECK_EQ_INT(c->nxmpp_listeners, 0);
	CHECK(strstr(c->xmpp_dialback_key_file, "/xmpp-dialback.key") != NULL);
	conf_free(c);
	CHECK(bad_conf("listen xmpp\n", ":16: listen: expected xmpp ADDRESS[:PORT]") == 0);
	CHECK(bad_conf("listen xmpps 127.0.0.1 5270\n", "expected xmpps ADDRESS[:PORT]") == 0);
	CHECK(bad_conf("listen xmpp nowhere:5269\n", "'nowhere:5269' is not ADDRESS[:PORT]") == 0);
	return 0;
}

static int
test_conf_missing(void)
{
	char err[512];

	CHECK(load("sip-domain a.test\n", err, sizeof(err)) == NULL);
	CHECK(strstr(err, "edge-fqdn is not set") != NULL);
	CHECK(conf_load("/nonexistent/sipedge.conf", &(struct conf *){ NULL }, err, sizeof(err)) < 0);
	CHECK(strstr(err, "/nonexistent/sipedge.conf: No such file") != NULL);
	return 0;
}

/* user and group: looked up by name while the file is read. */
static int
test_conf_user(void)
{
	char err[512], text[2048];
	struct passwd *pw = getpwnam("nobody");
	struct group *gr = getgrnam("daemon");
	uid_t uid;
	gid_t pgid, gid;
	struct conf *c;

	CHECK(load(base_conf, err, sizeof(err)) != NULL);
	if (!pw || !gr) {
		fprintf(stderr, "# no user nobody or group daemon here: only the errors checked\n");
	} else {
		uid = pw->pw_uid;
		pgid = pw->pw_gid;
		gid = gr->gr_gid;
		snprintf(text, sizeof(text), "%suser nobody\n", base_conf);
		CHECK((c = load(text, err, sizeof(err))) != NULL);
		CHECK_EQ_STR(c->user, "nobody");
		CHECK_EQ_INT(c->uid, uid);
		CHECK_EQ_INT(c->gid, pgid);
		conf_free(c);
		/* group replaces the login group, before or after user. */
		snprintf(text, sizeof(text), "%sgroup daemon\nuser nobody\n", base_conf);
		CHECK((c = load(text, err, sizeof(err))) != NULL);
		CHECK_EQ_INT(c->uid, uid);
		CHECK_EQ_INT(c->gid, gid);
		conf_free(c);
		snprintf(text, sizeof(text), "%suser nobody\ngroup daemon\n", base_conf);
		CHECK((c = load(text, err, sizeof(err))) != NULL);
		CHECK_EQ_INT(c->gid, gid);
		CHECK_EQ_STR(c->group, "daemon");
		conf_free(c);
		CHECK(bad_conf("group daemon\n", ": group is set without user") == 0);
	}
	CHECK(bad_conf("user no-such-user-sipedge\n", ":16: user: unknown user 'no-such-user-sipedge'") == 0);
	CHECK(bad_conf("user root\n", ":16: user: 'root' has uid 0") == 0);
	CHECK(bad_conf("user nobody\ngroup no-such-group-sipedge\n",
	    ":17: group: unknown group 'no-such-group-sipedge'") == 0 || !pw);
	CHECK(bad_conf("user a b\n", ":16: user: expected one user name") == 0);
	return 0;
}

/* ---- sdnotify ---- */

/* A datagram socket at addr (path, or "@name"), what sdnotify_send sends to
 * it with NOTIFY_SOCKET=addr in buf; -1 on any failure. */
static int
notify_roundtrip(const char *addr, const char *state, char *buf, size_t len)
{
	struct sockaddr_un sun;
	size_t n = strlen(addr);
	ssize_t got;
	int fd, rc;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, addr, n);
	if (addr[0] == '@')
		sun.sun_path[0] = '\0';
	if ((fd = socket(AF_UNIX, SOCK_DGRAM, 0)) < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sun, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) < 0) {
		close(fd);
		return -1;
	}
	setenv("NOTIFY_SOCKET", addr, 1);
	rc = sdnotify_send(state);
	got = rc == 0 ? recv(fd, buf, len - 1, MSG_DONTWAIT) : -1;
	close(fd);
	if (addr[0] == '/')
		unlink(addr);
	if (got < 0)
		return -1;
	buf[got] = '\0';
	return 0;
}

static int
test_sdnotify(void)
{
	char path[64], buf[64];

	unsetenv("NOTIFY_SOCKET");
	CHECK_EQ_INT(sdnotify_send("READY=1"), 0);     /* not under systemd: nothing to do */
	snprintf(path, sizeof(path), "@sipedge-unit-notify-%ld", (long)getpid());
	CHECK(notify_roundtrip(path, "READY=1", buf, sizeof(buf)) == 0);
	CHECK_EQ_STR(buf, "READY=1");
	snprintf(path, sizeof(path), "/tmp/sipedge-unit-notify-%ld", (long)getpid());
	CHECK(notify_roundtrip(path, "STOPPING=1", buf, sizeof(buf)) == 0);
	CHECK_EQ_STR(buf, "STOPPING=1");
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	CHECK_EQ_INT(sdnotify_send("READY=1"), -EINVAL);
	setenv("NOTIFY_SOCKET", "/nonexistent/notify", 1);
	CHECK_EQ_INT(sdnotify_send("READY=1"), -ENOENT);
	unsetenv("NOTIFY_SOCKET");
	return 0;
}

/* ---- rr ---- */

static const struct rr_key key1 = { 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL };

static int
test_rr_siphash_vector(void)
{
	/* SipHash-2-4 reference vector: key 00..0f, message 00..0e. */
	unsigned char m[15];

	for (int i = 0; i < 15; i++)
		m[i] = (unsigned char)i;
	CHECK(rr_siphash(&key1, m, 15) == 0xa129ca6149be45e5ULL);
	CHECK(rr_siphash(&key1, m, 0) == 0x726fdb47dd0e0e31ULL);
	return 0;
}

static int
test_rr_token_roundtrip(void)
{
	struct rr_peer p, q;
	char tok[RR_TOKEN_MAX + 1];
	struct rr_key other = { 1, 2 };

	memset(&p, 0, sizeof(p));
	p.side = SIDE_EXTERNAL;
	p.kind = TP_TLS;
	p.conn_id = 0x0100000000000042ULL;
	strcpy(p.fqdn, "sip.fabrikam.test");
	CHECK(conf_parse_sockaddr("127.0.0.20:5061", 0, &p.addr) == 0);
	p.has_addr = true;
	CHECK(rr_token_encode(&key1, &p, "call-1", tok, sizeof(tok)) == 0);
	for (const char *s = tok; *s; s++)
		CHECK((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		    *s == '-' || *s == '_');
	CHECK(rr_token_decode(&key1, tok, "call-1", &q) == 0);
	CHECK(q.side == SIDE_EXTERNAL && q.conn_id == p.conn_id && q.has_addr);
	CHECK_EQ_STR(q.fqdn, "sip.fabrikam.test");
	CHECK(memcmp(&q.addr, &p.addr, sizeof(struct sockaddr_in)) == 0);
	/* Another dialog, another key, or a changed byte: refused. */
	CHECK_EQ_INT(rr_token_decode(&key1, tok, "call-2", &q), -EPERM);
	CHECK_EQ_INT(rr_token_decode(&other, tok, "call-1", &q), -EPERM);
	tok[5] = tok[5] == 'A' ? 'B' : 'A';
	CHECK(rr_token_decode(&key1, tok, "call-1", &q) < 0);
	CHECK_EQ_INT(rr_token_decode(&key1, "not a token!", "call-1", &q), -EINVAL);
	CHECK_EQ_INT(rr_token_decode(&key1, "", "call-1", &q), -EINVAL);
	return 0;
}

/* Format 2: the partner's domain and federation type travel in the token,
 * and the longest names fit. */
static int
test_rr_token_domain(void)
{
	struct rr_peer p, q;
	char tok[RR_TOKEN_MAX + 1];

	memset(&p, 0, sizeof(p));
	p.side = SIDE_EXTERNAL;
	p.kind = TP_TLS;
	p.conn_id = 7;
	strcpy(p.fqdn, "sip.fabrikam.test");
	strcpy(p.domain, "fabrikam.test");
	p.fed = 3;
	CHECK(rr_token_encode(&key1, &p, "call-d", tok, sizeof(tok)) == 0);
	CHECK(rr_token_decode(&key1, tok, "call-d", &q) == 0);
	CHECK_EQ_STR(q.domain, "fabrikam.test");
	CHECK_EQ_INT(q.fed, 3);
	CHECK(!q.has_addr && !q.has_routes);
	p.has_routes = true;
	p.routes = rr_routes_hash(&key1, "sip:fe1.contoso.test;lr\n", 24);
	CHECK(p.routes != rr_routes_hash(&key1, "sip:fe2.contoso.test;lr\n", 24));
	CHECK(rr_token_encode(&key1, &p, "call-d", tok, sizeof(tok)) == 0);
	CHECK(rr_token_decode(&key1, tok, "call-d", &q) == 0);
	CHECK(q.has_routes && q.routes == p.routes);
	memset(p.fqdn, 'a', 255);
	p.fqdn[255] = '\0';
	memset(p.domain, 'b', 255);
	p.domain[255] = '\0';
	CHECK(conf_parse_sockaddr("[2001:db8::1]:5061", 0, &p.addr) == 0);
	p.has_addr = true;
	CHECK(rr_token_encode(&key1, &p, "call-d", tok, sizeof(tok)) == 0);
	CHECK(strlen(tok) <= RR_TOKEN_MAX);
	CHECK(rr_token_decode(&key1, tok, "call-d", &q) == 0);
	CHECK(strlen(q.fqdn) == 255 && strlen(q.domain) == 255 && q.has_addr);
	CHECK(rr_token_encode(&key1, &p, "call-d", tok, 100) == -ENOSPC);
	return 0;
}

/* A format 1 token (made before the domain was added) still decodes: dialogs
 * set up before an upgrade keep working. */
static int
test_rr_token_format1(void)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char raw[64], both[128];
	char tok[128];
	size_t n = 0, o = 0;
	uint64_t tag;
	struct rr_peer q;
	const char *callid = "call-v1", *fq = "pool1.contoso.test";

	raw[n++] = 1;
	raw[n++] = SIDE_INTERNAL;
	raw[n++] = TP_TLS;
	raw[n++] = 0;
	for (int i = 7; i >= 0; i--)
		raw[n++] = (unsigned char)((uint64_t)0x42 >> (8 * i));
	raw[n++] = (unsigned char)strlen(fq);
	memcpy(raw + n, fq, strlen(fq));
	n += strlen(fq);
	memcpy(both, raw, n);
	memcpy(both + n, callid, strlen(callid));
	tag = rr_siphash(&key1, both, n + strlen(callid));
	for (int i = 7; i >= 0; i--)
		raw[n++] = (unsigned char)(tag >> (8 * i));
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)raw[i] << 16 | (i + 1 < n ? (uint32_t)raw[i + 1] << 8 : 0) |
		    (i + 2 < n ? raw[i + 2] : 0);

		tok[o++] = b64[v >> 18];
		tok[o++] = b64[(v >> 12) & 63];
		if (i + 1 < n)
			tok[o++] = b64[(v >> 6) & 63];
		if (i + 2 < n)
			tok[o++] = b64[v & 63];
	}
	tok[o] = '\0';
	CHECK(rr_token_decode(&key1, tok, callid, &q) == 0);
	CHECK_EQ_STR(q.fqdn, fq);
	CHECK_EQ_STR(q.domain, "");
	CHECK_EQ_INT(q.fed, 0);
	CHECK_EQ_INT(q.conn_id, 0x42);
	CHECK_EQ_INT(rr_token_decode(&key1, tok, "call-v2", &q), -EPERM);
	return 0;
}

static int
test_rr_branch(void)
{
	char b[RR_BRANCH_LEN + 1];
	uint64_t id;
	uint32_t loop;

	rr_branch_make(&key1, 0x0200000000000007ULL, 9, 0xdeadbeef, b);
	CHECK_EQ_INT(strlen(b), RR_BRANCH_LEN);
	CHECK(strncmp(b, "z9hG4bK", 7) == 0);
	CHECK(rr_branch_parse(&key1, b, &id, &loop) == 0);
	CHECK(id == 0x0200000000000007ULL && loop == 0xdeadbeef);
	b[20] = b[20] == '0' ? '1' : '0';
	CHECK_EQ_INT(rr_branch_parse(&key1, b, &id, &loop), -EPERM);
	CHECK(rr_branch_parse(&key1, "z9hG4bK-other", &id, &loop) < 0);
	return 0;
}

/* ---- sipmsg ---- */

static int
test_sipmsg_valid(void)
{
	return check_text(invite, 0);
}

static int
test_sipmsg_bad_requests(void)
{
	char buf[2048];

	/* Max-Forwards 0 → 483 */
	snprintf(buf, sizeof(buf), "%s", invite);
	memcpy(strstr(buf, "Max-Forwards: 70"), "Max-Forwards: 00", 16);
	CHECK(check_text(buf, 483) == 0);
	/* CSeq method mismatch → 400 */
	snprintf(buf, sizeof(buf), "%s", invite);
	memcpy(strstr(buf, "CSeq: 1 INVITE"), "CSeq: 1 UPDATE", 14);
	CHECK(check_text_code(buf, 400, DIAG_CSEQ_MISMATCH) == 0);
	/* SIP/3.0 → 505 */
	snprintf(buf, sizeof(buf), "%s", invite);
	memcpy(strstr(buf, "SIP/2.0\r\n"), "SIP/3.0", 7);
	CHECK(check_text(buf, 505) == 0);
	/* unknown scheme → 416 */
	CHECK(check_text("OPTIONS nobodyKnowsThisScheme:opaque SIP/2.0\r\n"
			 "Via: SIP/2.0/TCP h;branch=z9hG4bK-2\r\nFrom: <sip:a@b>;tag=1\r\n"
			 "To: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 7\r\n"
			 "Content-Length: 0\r\n\r\n", 416) == 0);
	/* Proxy-Require → 420 */
	CHECK(check_text("OPTIONS sip:c@d SIP/2.0\r\n"
			 "Via: SIP/2.0/TCP h;branch=z9hG4bK-3\r\nFrom: <sip:a@b>;tag=1\r\n"
			 "To: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 7\r\n"
			 "Proxy-Require: newfeature1, newfeature2\r\n"
			 "Content-Length: 0\r\n\r\n", 420) == 0);
	/* missing Call-ID → 400 */
	CHECK(check_text_code("OPTIONS sip:c@d SIP/2.0\r\n"
			 "Via: SIP/2.0/TCP h;branch=z9hG4bK-4\r\nFrom: <sip:a@b>;tag=1\r\n"
			 "To: <sip:c@d>\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 7\r\n"
			 "Content-Length: 0\r\n\r\n", 400, DIAG_MISSING_HEADER) == 0);
	return 0;
}

static int
test_sipmsg_response_diag(void)
{
	msg_t *m = parse(invite), *r;
	struct sip_diag d = { DIAG_RELAY_DENIED, "domain not served here: x.test", "sip.contoso.test" };
	char *text;
	sip_t *rs;

	CHECK(m != NULL);
	r = sipmsg_response(sip_object(m), sip_object(m)->sip_via, 403, NULL, "tag9", &d, NULL);
	CHECK(r != NULL);
	CHECK(msg_serialize(r, NULL) == 0);
	text = msg_as_string(msg_home(r), r, NULL, 0, NULL);
	CHECK(text != NULL);
	CHECK(strstr(text, "SIP/2.0 403 Forbidden\r\n") == text);
	CHECK(strstr(text, "ms-diagnostics: 1102;reason=\"domain not served here: x.test\";source=\"sip.contoso.test\"\r\n"));
	CHECK(strstr(text, "Warning: 399 sip.contoso.test \"1102 domain not served here: x.test\"\r\n"));
	CHECK(strstr(text, ";tag=tag9"));
	CHECK(strstr(text, "branch=z9hG4bK-1"));
	rs = sip_object(r);
	CHECK(rs->sip_content_length && rs->sip_content_length->l_length == 0);
	msg_destroy(r);
	msg_destroy(m);
	return 0;
}

static int
test_sipmsg_via_stamp(void)
{
	msg_t *m = parse(invite);
	struct sockaddr_storage src;
	sip_t *sip;

	CHECK(m != NULL);
	sip = sip_object(m);
	CHECK(conf_parse_sockaddr("127.0.0.9:40000", 0, &src) == 0);
	CHECK(sipmsg_via_stamp(m, sip, &src) == 0);
	CHECK_EQ_STR(sip->sip_via->v_received, "127.0.0.9");
	CHECK_EQ_STR(sip->sip_via->v_rport, "40000");
	msg_destroy(m);
	return 0;
}

static int
test_sipmsg_ack_cancel(void)
{
	msg_t *m = parse(invite), *ack, *cancel, *resp;
	char *text;

	CHECK(m != NULL);
	cancel = sipmsg_make_cancel(sip_object(m));
	CHECK(cancel != NULL);
	CHECK(msg_serialize(cancel, NULL) == 0);
	text = msg_as_string(msg_home(cancel), cancel, NULL, 0, NULL);
	CHECK(strstr(text, "CANCEL sip:bob@fabrikam.test SIP/2.0\r\n") == text);
	CHECK(strstr(text, "CSeq: 1 CANCEL\r\n"));
	CHECK(strstr(text, "branch=z9hG4bK-1"));
	/* The ACK of a failure (RFC 3261 §17.1.1.3): the INVITE's Request-URI,
	 * top Via (same branch) and Call-ID, From, CSeq number with method ACK,
	 * and the To of the response (its tag). */
	resp = parse("SIP/2.0 486 Busy Here\r\nVia: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-1\r\n"
	    "From: <sip:alice@contoso.test>;tag=1\r\nTo: <sip:bob@fabrikam.test>;tag=busy9\r\n"
	    "Call-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n");
	CHECK(resp != NULL);
	ack = sipmsg_make_ack(sip_object(m), sip_object(resp));
	CHECK(ack != NULL);
	CHECK(msg_serialize(ack, NULL) == 0);
	text = msg_as_string(msg_home(ack), ack, NULL, 0, NULL);
	CHECK(strstr(text, "ACK sip:bob@fabrikam.test SIP/2.0\r\n") == text);
	CHECK(strstr(text, "CSeq: 1 ACK\r\n"));
	CHECK(strstr(text, "branch=z9hG4bK-1"));
	CHECK(strstr(text, ";tag=busy9"));
	CHECK(strstr(text, "Call-ID: "));
	msg_destroy(resp);
	msg_destroy(ack);
	msg_destroy(cancel);
	msg_destroy(m);
	return 0;
}

static int
test_sipmsg_trying(void)
{
	msg_t *m = parse(invite), *r;
	char *text;

	CHECK(m != NULL);
	r = sipmsg_response(sip_object(m), sip_object(m)->sip_via, 100, NULL, "tag7", NULL, NULL);
	CHECK(r != NULL);
	CHECK(msg_serialize(r, NULL) == 0);
	text = msg_as_string(msg_home(r), r, NULL, 0, NULL);
	CHECK(strstr(text, "SIP/2.0 100 Trying\r\n") == text);
	/* A 100 never carries a To tag (RFC 3261 §8.2.6.2); the rest is echoed. */
	CHECK(strstr(text, "tag7") == NULL);
	CHECK(strstr(text, "branch=z9hG4bK-1"));
	CHECK(strstr(text, "CSeq: 1 INVITE\r\n"));
	CHECK(strstr(text, "ms-diagnostics") == NULL && strstr(text, "Warning") == NULL);
	msg_destroy(r);
	msg_destroy(m);
	return 0;
}

/* RFC 4475 "intmeth": every RFC 3261 token character in a method. */
static int
test_sipmsg_token_method(void)
{
	msg_t *m = parse("!interesting-Method0123456789_*+`.%indeed'~ sip:u@example.com SIP/2.0\r\n"
			 "Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~\r\n"
			 "To: <sip:u@example.com>\r\nFrom: <sip:m@example.com>;tag=1\r\n"
			 "Call-ID: intmeth\r\nCSeq: 139122385 !interesting-Method0123456789_*+`.%indeed'~\r\n"
			 "Max-Forwards: 255\r\nContent-Length: 0\r\n\r\n");
	struct sip_problem p;

	CHECK(m != NULL);
	CHECK_EQ_STR(sip_object(m)->sip_request->rq_method_name, "!interesting-Method0123456789_*+`.%indeed'~");
	CHECK_EQ_STR(sip_object(m)->sip_cseq->cs_method_name, "!interesting-Method0123456789_*+`.%indeed'~");
	CHECK_EQ_INT(sipmsg_check_request(m, sip_object(m), &p), 0);
	msg_destroy(m);
	return 0;
}

static int
test_sipmsg_dialog_forming(void)
{
	static const char *const cases[][2] = {
		{ "INVITE", "" }, { "SUBSCRIBE", "" }, { "REFER", "" },
		{ "INVITE", ";tag=t9" }, { "MESSAGE", "" }, { "OPTIONS", "" },
		{ "NOTIFY", "" }, { "SUBSCRIBE", ";tag=t9" },
	};
	static const bool forming[] = { true, true, true, false, false, false, false, false };
	char buf[1024];
	msg_t *m;

	for (size_t i = 0; i < sizeof forming / sizeof forming[0]; i++) {
		snprintf(buf, sizeof buf, "%s sip:bob@fabrikam.test SIP/2.0\r\n"
		    "Via: SIP/2.0/TLS h;branch=z9hG4bK-%zu\r\nFrom: <sip:a@contoso.test>;tag=1\r\n"
		    "To: <sip:bob@fabrikam.test>%s\r\nCall-ID: df%zu\r\nCSeq: 1 %s\r\n"
		    "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
		    cases[i][0], i, cases[i][1], i, cases[i][0]);
		m = parse(buf);
		CHECK(m != NULL);
		CHECK(sipmsg_is_dialog_forming(sip_object(m)) == forming[i]);
		msg_destroy(m);
	}
	/* A response never forms a dialog by itself. */
	m = parse("SIP/2.0 200 OK\r\nVia: SIP/2.0/TLS h;branch=z9hG4bK-r\r\n"
	    "From: <sip:a@contoso.test>;tag=1\r\nTo: <sip:bob@fabrikam.test>;tag=2\r\n"
	    "Call-ID: dr\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n");
	CHECK(m != NULL);
	CHECK(!sipmsg_is_dialog_forming(sip_object(m)));
	msg_destroy(m);
	return 0;
}

/* The pool's diagnostics towards partners: ms-diagnostics-public, no source. */
static int
test_sipmsg_diag_public(void)
{
	msg_t *m = parse("SIP/2.0 404 Not Found\r\n"
			 "Via: SIP/2.0/TLS h;branch=z9hG4bK-1\r\nFrom: <sip:a@b>;tag=1\r\n"
			 "To: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 1 MESSAGE\r\n"
			 "ms-diagnostics: 4005;reason=\"Destination; not \\\"found\\\"\";"
			 "source=\"fe1.contoso.local\";appName=\"InboundRouting\"\r\n"
			 "ms-diagnostics: 1033;source=fe2.contoso.local\r\n"
			 "ms-diagnostics-public: 9;reason=\"kept\"\r\n"
			 "Content-Length: 0\r\n\r\n");
	char *text;

	CHECK(m != NULL);
	CHECK_EQ_INT(sipmsg_diag_public(m, sip_object(m)), 2);
	CHECK(msg_serialize(m, NULL) == 0);
	text = msg_as_string(msg_home(m), m, NULL, 0, NULL);
	CHECK(text != NULL);
	CHECK(strstr(text, "\r\nms-diagnostics:") == NULL);
	CHECK(strstr(text, "contoso.local") == NULL);
	CHECK(strstr(text, "ms-diagnostics-public: 4005;reason=\"Destination; not \\\"found\\\"\";"
	    "appName=\"InboundRouting\"\r\n"));
	CHECK(strstr(text, "ms-diagnostics-public: 1033\r\n"));
	CHECK(strstr(text, "ms-diagnostics-public: 9;reason=\"kept\"\r\n"));
	CHECK_EQ_INT(sipmsg_diag_public(m, sip_object(m)), 0);
	msg_destroy(m);
	return 0;
}

/* The edge's own 200 to an OPTIONS for itself. */
static int
test_sipmsg_options_response(void)
{
	msg_t *m = parse("OPTIONS sip:sip.contoso.test:5061;transport=tls SIP/2.0\r\n"
			 "Via: SIP/2.0/TLS h;branch=z9hG4bK-o1\r\nFrom: <sip:ping@fabrikam.test>;tag=1\r\n"
			 "To: <sip:sip.contoso.test>\r\nCall-ID: o1\r\nCSeq: 5 OPTIONS\r\n"
			 "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"), *r;
	char *text;

	CHECK(m != NULL);
	r = sipmsg_options_response(m, sip_object(m)->sip_via, "t1");
	CHECK(r != NULL);
	CHECK(msg_serialize(r, NULL) == 0);
	text = msg_as_string(msg_home(r), r, NULL, 0, NULL);
	CHECK(strstr(text, "SIP/2.0 200 OK\r\n") == text);
	CHECK(strstr(text, "\r\nAllow: INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE"));
	CHECK(strstr(text, "\r\nAccept: */*\r\n"));
	CHECK(strstr(text, "\r\nSupported:"));
	CHECK(strstr(text, "CSeq: 5 OPTIONS\r\n"));
	CHECK(strstr(text, ";tag=t1"));
	msg_destroy(r);
	msg_destroy(m);
	return 0;
}

/* Route lists as text, in order and reversed, for the token's route hash. */
static int
test_sipmsg_routes_text(void)
{
	msg_t *m = parse("MESSAGE sip:c@d SIP/2.0\r\n"
			 "Via: SIP/2.0/TLS h;branch=z9hG4bK-r1\r\nFrom: <sip:a@b>;tag=1\r\n"
			 "To: <sip:c@d>\r\nCall-ID: r1\r\nCSeq: 1 MESSAGE\r\n"
			 "Route: <sip:fe1.contoso.test;lr>, <sip:10.0.0.5:5061;transport=tls;lr>\r\n"
			 "Route: <sip:fe3.contoso.test;lr;x=y>\r\n"
			 "Content-Length: 0\r\n\r\n");
	char buf[512];
	const sip_route_t *third;

	CHECK(m != NULL);
	CHECK(sipmsg_routes_text(sip_object(m)->sip_route, NULL, false, buf, sizeof(buf)) > 0);
	CHECK_EQ_STR(buf, "sip:fe1.contoso.test;lr\nsip:10.0.0.5:5061;transport=tls;lr\n"
	    "sip:fe3.contoso.test;lr;x=y\n");
	third = sip_object(m)->sip_route->r_next->r_next;
	CHECK(sipmsg_routes_text(sip_object(m)->sip_route, third, true, buf, sizeof(buf)) > 0);
	CHECK_EQ_STR(buf, "sip:10.0.0.5:5061;transport=tls;lr\nsip:fe1.contoso.test;lr\n");
	CHECK_EQ_INT(sipmsg_routes_text(sip_object(m)->sip_route, NULL, false, buf, 20), -ENOSPC);
	CHECK_EQ_INT(sipmsg_routes_text(NULL, NULL, false, buf, sizeof(buf)), 0);
	msg_destroy(m);
	/* The scheme in any case gives the same text (fuzz_framing found that
	 * a copy made by the peer may spell it differently). */
	m = parse("MESSAGE sip:c@d SIP/2.0\r\n"
		  "Via: SIP/2.0/TLS h;branch=z9hG4bK-r2\r\nFrom: <sip:a@b>;tag=1\r\n"
		  "To: <sip:c@d>\r\nCall-ID: r2\r\nCSeq: 1 MESSAGE\r\n"
		  "Route: <sIP:fe1.contoso.test;lr>, <SIPS:fe2.contoso.test;lr>\r\n"
		  "Content-Length: 0\r\n\r\n");
	CHECK(m != NULL);
	CHECK(sipmsg_routes_text(sip_object(m)->sip_route, NULL, false, buf, sizeof(buf)) > 0);
	CHECK_EQ_STR(buf, "sip:fe1.contoso.test;lr\nsips:fe2.contoso.test;lr\n");
	msg_destroy(m);
	return 0;
}

/* A scheme not in lower case prints the same parsed and duplicated (Sofia's
 * url_dup writes the scheme's own name; found by fuzz_framing). */
static int
test_sipmsg_routes_text_scheme(void)
{
	msg_t *m = parse("SIP/2.0 200 OK\r\n"
			 "Via: SIP/2.0/TLS h;branch=z9hG4bK-r2\r\nFrom: <sip:a@b>;tag=1\r\n"
			 "To: <sip:c@d>;tag=2\r\nCall-ID: r2\r\nCSeq: 1 INVITE\r\n"
			 "Record-Route: <Sip:Pool1.contoso.test:5071;lr>, <SIPS:fe2.contoso.test;lr>\r\n"
			 "Content-Length: 0\r\n\r\n");
	char a[512], b[512];
	sip_route_t *rev;

	CHECK(m != NULL);
	CHECK(sipmsg_routes_text(sip_object(m)->sip_record_route, NULL, true, a, sizeof(a)) > 0);
	CHECK_EQ_STR(a, "sips:fe2.contoso.test;lr\nsip:Pool1.contoso.test:5071;lr\n");
	rev = sip_route_reverse(msg_home(m), sip_object(m)->sip_record_route);
	CHECK(rev != NULL);
	CHECK(sipmsg_routes_text(rev, NULL, false, b, sizeof(b)) > 0);
	CHECK_EQ_STR(a, b);
	msg_destroy(m);
	return 0;
}

/* More Via header field values than hops allow: 400 1012. */
static int
test_sipmsg_too_many_vias(void)
{
	static char buf[16384];
	size_t n = 0;
	struct sip_problem p;
	msg_t *m;

	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "MESSAGE sip:c@d SIP/2.0\r\n");
	for (int i = 0; i < SIPMSG_MAX_VIA + 1; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
		    "Via: SIP/2.0/TLS h%d;branch=z9hG4bK-v%d\r\n", i, i);
	snprintf(buf + n, sizeof(buf) - n, "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\n"
	    "Call-ID: v1\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n");
	CHECK((m = parse(buf)) != NULL);
	CHECK_EQ_INT(sipmsg_check_request(m, sip_object(m), &p), -EINVAL);
	CHECK_EQ_INT(p.status, 400);
	CHECK_EQ_INT(p.diag, DIAG_TOO_MANY_VIAS);
	msg_destroy(m);
	/* Exactly the limit is fine. */
	n = (size_t)snprintf(buf, sizeof(buf), "MESSAGE sip:c@d SIP/2.0\r\n");
	for (int i = 0; i < SIPMSG_MAX_VIA; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
		    "Via: SIP/2.0/TLS h%d;branch=z9hG4bK-v%d\r\n", i, i);
	snprintf(buf + n, sizeof(buf) - n, "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\n"
	    "Call-ID: v1\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n");
	CHECK((m = parse(buf)) != NULL);
	CHECK_EQ_INT(sipmsg_check_request(m, sip_object(m), &p), 0);
	msg_destroy(m);
	return 0;
}

/* fmt.h: the printf-free builders of the message path. */
static int
test_fmt(void)
{
	char buf[24], small[6];
	struct fmt f = fmt_init(buf, sizeof(buf));

	fmt_str(&f, "se");
	fmt_hex(&f, 0xabcULL, 8);
	fmt_char(&f, ':');
	fmt_uint(&f, 0);
	fmt_char(&f, ',');
	fmt_uint(&f, 4294967295u);
	CHECK_EQ_STR(buf, "se00000abc:0,4294967295");
	CHECK(!f.over);
	f = fmt_init(buf, sizeof(buf));
	fmt_hex(&f, 0xfedcba9876543210ULL, 16);
	CHECK_EQ_STR(buf, "fedcba9876543210");
	f = fmt_init(small, sizeof(small));
	fmt_str(&f, "branch=");
	CHECK(f.over);
	CHECK_EQ_STR(small, "branc");
	return 0;
}

static const struct unit_test tests[] = {
	UNIT(test_conf_sample),
	UNIT(test_conf_errors),
	UNIT(test_conf_xmpp),
	UNIT(test_conf_missing),
	UNIT(test_conf_user),
	UNIT(test_sdnotify),
	UNIT(test_rr_siphash_vector),
	UNIT(test_rr_token_roundtrip),
	UNIT(test_rr_token_domain),
	UNIT(test_rr_token_format1),
	UNIT(test_rr_branch),
	UNIT(test_sipmsg_valid),
	UNIT(test_sipmsg_bad_requests),
	UNIT(test_sipmsg_response_diag),
	UNIT(test_sipmsg_via_stamp),
	UNIT(test_sipmsg_ack_cancel),
	UNIT(test_sipmsg_trying),
	UNIT(test_sipmsg_token_method),
	UNIT(test_sipmsg_dialog_forming),
	UNIT(test_sipmsg_diag_public),
	UNIT(test_sipmsg_options_response),
	UNIT(test_sipmsg_routes_text),
	UNIT(test_sipmsg_routes_text_scheme),
	UNIT(test_sipmsg_too_many_vias),
	UNIT(test_fmt),
	{ NULL, NULL },
};

int
main(int argc, char **argv)
{
	return unit_main(argc, argv, tests);
}
