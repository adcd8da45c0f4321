/* test_dns.c: unit tests for dns.c (RFC 2782 SRV ordering, A/AAAA, TTL and negative
 * caching per RFC 2181 §8 / RFC 2308 §5) against a real dnsmasq on a loopback port. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "sipedge/dns.h"
#include "sipedge/log.h"
#include "unit.h"

#define DNSMASQ "/usr/sbin/dnsmasq"
#define SRV_NAME "_sipfederationtls._tcp.fabrikam.test"
#define MAXREC 16

/* ---- dnsmasq ---- */

static pid_t dm_pid = -1;
static unsigned short dm_port;

static void
dm_stop(void)
{
	if (dm_pid > 0) {
		kill(dm_pid, SIGTERM);
		waitpid(dm_pid, NULL, 0);
		dm_pid = -1;
	}
}

/* A loopback UDP port nobody holds now (dnsmasq binds it right after). */
static unsigned short
free_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	unsigned short port = 0;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
		port = ntohs(sin.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Asks dnsmasq for ready.test until it answers: a readiness probe bounded at 5 s. */
static bool
dm_wait_ready(void)
{
	static const unsigned char q[] = {
		0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
		5, 'r', 'e', 'a', 'd', 'y', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1,
	};
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(dm_port) };
	uint64_t end = now_ms() + 5000;
	bool ok = false;
	int fd;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) < 0)
		return false;
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		goto out;
	while (!ok && now_ms() < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		unsigned char buf[512];
		uint64_t slice = now_ms() + 50;

		if (waitpid(dm_pid, NULL, WNOHANG) == dm_pid) {
			dm_pid = -1;
			break;
		}
		(void)send(fd, q, sizeof(q), 0);
		if (poll(&p, 1, 50) == 1 && recv(fd, buf, sizeof(buf), 0) >= 12 &&
		    buf[0] == 0x12 && buf[1] == 0x34)
			ok = true;
		else if (now_ms() < slice)
			/* Refused at once: dnsmasq has not bound yet; space the probes. */
			(void)poll(NULL, 0, (int)(slice - now_ms()));
	}
out:
	close(fd);
	return ok;
}

/* Starts dnsmasq with the fabrikam.test zone plus extra arguments (NULL-terminated
 * list in extra).  0, 77 when dnsmasq is missing, or 1. */
static int
dm_start(const char *ttl, const char *const *extra)
{
	char port_arg[32], ttl_arg[32];
	const char *argv[64];
	int n = 0;

	if (access(DNSMASQ, X_OK) != 0)
		return 77;
	atexit(dm_stop);  /* one test run in-process; forked tests rely on PDEATHSIG */
	dm_port = free_port();
	snprintf(port_arg, sizeof(port_arg), "--port=%u", (unsigned)dm_port);
	snprintf(ttl_arg, sizeof(ttl_arg), "--local-ttl=%s", ttl);
	argv[n++] = DNSMASQ;
	argv[n++] = "--no-daemon";
	argv[n++] = "--conf-file=/dev/null";
	argv[n++] = "--no-resolv";
	argv[n++] = "--no-hosts";
	argv[n++] = port_arg;
	argv[n++] = "--listen-address=127.0.0.1";
	argv[n++] = "--bind-interfaces";
	argv[n++] = "--pid-file=";
	argv[n++] = ttl_arg;
	argv[n++] = "--local=/test/";
	if (geteuid() == 0)
		argv[n++] = "--user=root";
	argv[n++] = "--srv-host=" SRV_NAME ",sip.fabrikam.test,5061,10,60";
	argv[n++] = "--srv-host=" SRV_NAME ",sip3.fabrikam.test,5063,10,40";
	argv[n++] = "--srv-host=" SRV_NAME ",sip2.fabrikam.test,5062,20,0";
	argv[n++] = "--srv-host=_sipfederationtls._tcp.none.test,.";
	argv[n++] = "--host-record=sip.fabrikam.test,127.0.0.20";
	argv[n++] = "--host-record=sip2.fabrikam.test,127.0.0.21,::1";
	argv[n++] = "--host-record=v6only.fabrikam.test,::2";
	argv[n++] = "--cname=alias.fabrikam.test,sip.fabrikam.test";
	for (; extra && *extra && n < 63; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;

	dm_pid = fork();
	if (dm_pid < 0)
		return 1;
	if (dm_pid == 0) {
		int fd = open("/dev/null", O_RDWR);

		/* dnsmasq must not outlive the test, whichever way the test ends. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(1);
		if (fd >= 0 && !getenv("TEST_DNS_VERBOSE")) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(DNSMASQ, (char *const *)argv);
		_exit(127);
	}
	if (!dm_wait_ready()) {
		fprintf(stderr, "# dnsmasq did not answer on 127.0.0.1:%u "
		    "(TEST_DNS_VERBOSE=1 shows its output)\n", (unsigned)dm_port);
		dm_stop();
		return 1;
	}
	return 0;
}

/* ---- the loop ---- */

struct res {
	int calls;
	int status;
	size_t n;
	struct dns_srv srv[MAXREC];
	struct sockaddr_storage ss[MAXREC];
	uint64_t at;                         /* now_ms() of the callback */
	bool inside;                         /* called while the request was being made */
	struct dns *close_d;                 /* dns_close this from the callback */
};

static struct {
	uv_loop_t loop;
	uv_timer_t safety;
	bool timed_out;
	struct dns *d;
	bool in_call;                        /* set around dns_srv / dns_addr */
} T;

static void
srv_cb(int status, const struct dns_srv *v, size_t n, void *arg)
{
	struct res *r = arg;

	r->calls++;
	r->status = status;
	r->n = n;
	r->at = now_ms();
	r->inside = T.in_call;
	for (size_t i = 0; i < n && i < MAXREC; i++)
		r->srv[i] = v[i];
	if (r->close_d)
		dns_close(r->close_d);
	/* uv_run(UV_RUN_ONCE) returns now rather than waiting for the next event. */
	uv_stop(&T.loop);
}

static void
addr_cb(int status, const struct sockaddr_storage *a, size_t n, void *arg)
{
	struct res *r = arg;

	r->calls++;
	r->status = status;
	r->n = n;
	r->at = now_ms();
	r->inside = T.in_call;
	for (size_t i = 0; i < n && i < MAXREC; i++)
		r->ss[i] = a[i];
	uv_stop(&T.loop);
}

static int
srv(const char *name, struct res *r, struct dns_query **q)
{
	int rc;

	T.in_call = true;
	rc = dns_srv(T.d, name, srv_cb, r, q);
	T.in_call = false;
	return rc;
}

static int
addr(const char *host, unsigned short port, struct res *r, struct dns_query **q)
{
	int rc;

	T.in_call = true;
	rc = dns_addr(T.d, host, port, addr_cb, r, q);
	T.in_call = false;
	return rc;
}

static void
safety_cb(uv_timer_t *h)
{
	T.timed_out = true;
}

/* Runs the loop until every r[i] has been called back, or ms have passed. */
static bool
wait_all(struct res *r, size_t n, unsigned ms)
{
	bool all = false;

	T.timed_out = false;
	uv_timer_start(&T.safety, safety_cb, ms, 0);
	for (;;) {
		all = true;
		for (size_t i = 0; i < n; i++)
			if (r[i].calls == 0)
				all = false;
		if (all || T.timed_out)
			break;
		uv_run(&T.loop, UV_RUN_ONCE);
	}
	uv_timer_stop(&T.safety);
	return all;
}

/* Runs the loop for ms (time passing is what is tested, not a synchronisation). */
static void
run_for(unsigned ms)
{
	T.timed_out = false;
	uv_timer_start(&T.safety, safety_cb, ms, 0);
	while (!T.timed_out)
		uv_run(&T.loop, UV_RUN_ONCE);
}

static int
setup(const char *servers, unsigned timeout_ms, unsigned tries)
{
	struct dns_conf c = { .servers = servers, .timeout_ms = timeout_ms, .tries = tries };

	log_init("test_dns", 1, getenv("TEST_DNS_VERBOSE") ? LOG_LVL_DEBUG : LOG_LVL_WARNING);
	CHECK(uv_loop_init(&T.loop) == 0);
	CHECK(uv_timer_init(&T.loop, &T.safety) == 0);
	CHECK_EQ_INT(dns_new(&T.loop, &c, &T.d), 0);
	return 0;
}

static int
setup_dm(void)
{
	char servers[64];

	snprintf(servers, sizeof(servers), "127.0.0.1:%u", (unsigned)dm_port);
	return setup(servers, 1000, 2);
}

/* Closes everything and checks that no handle is left behind. */
static int
teardown(void)
{
	if (T.d)
		dns_close(T.d);
	T.d = NULL;
	uv_close((uv_handle_t *)&T.safety, NULL);
	uv_run(&T.loop, UV_RUN_DEFAULT);
	CHECK_EQ_INT(uv_loop_close(&T.loop), 0);
	dm_stop();
	return 0;
}

static const char *
ntop(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const void *a = ss->ss_family == AF_INET ?
	    (const void *)&((const struct sockaddr_in *)ss)->sin_addr :
	    (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr;

	return inet_ntop(ss->ss_family, a, buf, (socklen_t)len);
}

static unsigned
port_of(const struct sockaddr_storage *ss)
{
	return ntohs(ss->ss_family == AF_INET ?
	    ((const struct sockaddr_in *)ss)->sin_port :
	    ((const struct sockaddr_in6 *)ss)->sin6_port);
}

#define START_DM(ttl, extra)                                                  \
	do {                                                                  \
		int rc_ = dm_start(ttl, extra);                               \
		if (rc_ != 0)                                                 \
			return rc_;                                           \
		CHECK(setup_dm() == 0);                                       \
	} while (0)

/* ---- pure ordering ---- */

static uint32_t
xorshift(void *arg)
{
	uint32_t *s = arg, x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

static uint32_t
always(void *arg)
{
	return *(uint32_t *)arg;
}

static void
fill(struct dns_srv *v, size_t n, const unsigned short (*pw)[2])
{
	for (size_t i = 0; i < n; i++) {
		memset(&v[i], 0, sizeof(v[i]));
		snprintf(v[i].target, sizeof(v[i].target), "t%zu.test", i);
		v[i].port = (unsigned short)(5000 + i);
		v[i].priority = pw[i][0];
		v[i].weight = pw[i][1];
	}
}

/* The output is a permutation of the input with priorities ascending. */
static int
check_perm(const struct dns_srv *v, size_t n, const unsigned short (*pw)[2])
{
	bool seen[16] = { false };

	for (size_t i = 0; i < n; i++) {
		unsigned k = (unsigned)v[i].port - 5000;

		CHECK(k < n && !seen[k]);
		seen[k] = true;
		CHECK_EQ_INT(v[i].priority, pw[k][0]);
		CHECK_EQ_INT(v[i].weight, pw[k][1]);
		if (i > 0)
			CHECK(v[i - 1].priority <= v[i].priority);
	}
	return 0;
}

static int
test_dns_srv_order_priority(void)
{
	static const unsigned short pw[][2] = {
		{ 20, 5 }, { 10, 0 }, { 10, 100 }, { 30, 1 }, { 20, 0 }, { 0, 7 },
		{ 10, 3 }, { 65535, 65535 }, { 20, 65535 },
	};
	size_t n = sizeof(pw) / sizeof(pw[0]);
	struct dns_srv v[16];
	uint32_t seed = 12345, fixed;

	for (int i = 0; i < 2000; i++) {
		fill(v, n, pw);
		dns_srv_order(v, n, xorshift, &seed);
		CHECK(check_perm(v, n, pw) == 0);
		CHECK_EQ_INT(v[0].priority, 0);
		CHECK_EQ_INT(v[n - 1].priority, 65535);
	}
	/* The extremes of the generator stay in bounds. */
	fixed = 0;
	fill(v, n, pw);
	dns_srv_order(v, n, always, &fixed);
	CHECK(check_perm(v, n, pw) == 0);
	fixed = UINT32_MAX;
	fill(v, n, pw);
	dns_srv_order(v, n, always, &fixed);
	CHECK(check_perm(v, n, pw) == 0);
	/* Nothing to order. */
	dns_srv_order(v, 0, always, &fixed);
	fill(v, 1, pw);
	dns_srv_order(v, 1, always, &fixed);
	CHECK_EQ_INT(v[0].port, 5000);
	return 0;
}

/* Counts how often each input record comes first over `draws` orderings. */
static void
first_counts(const unsigned short (*pw)[2], size_t n, int draws, int *count)
{
	struct dns_srv v[16];
	uint32_t seed = 0x9e3779b9u;

	memset(count, 0, n * sizeof(*count));
	for (int i = 0; i < draws; i++) {
		fill(v, n, pw);
		dns_srv_order(v, n, xorshift, &seed);
		count[v[0].port - 5000]++;
	}
}

static bool
near(int count, int draws, double expect, double tol)
{
	double f = (double)count / draws;

	if (f < expect - tol || f > expect + tol) {
		fprintf(stderr, "# frequency %.4f, expected %.4f +- %.4f\n", f, expect, tol);
		return false;
	}
	return true;
}

static int
test_dns_srv_order_weights(void)
{
	static const unsigned short w3[][2] = { { 10, 10 }, { 10, 60 }, { 10, 30 } };
	static const unsigned short w2[][2] = { { 1, 1 }, { 1, 3 } };
	const int draws = 40000;
	int count[16];

	first_counts(w3, 3, draws, count);
	/* RFC 2782 draws in [0, sum]: record 1 of 3 wins 11/101 (the 0 draw too). */
	CHECK(near(count[0], draws, 11.0 / 101, 0.01));
	CHECK(near(count[1], draws, 60.0 / 101, 0.01));
	CHECK(near(count[2], draws, 30.0 / 101, 0.01));
	first_counts(w2, 2, draws, count);
	CHECK(near(count[0], draws, 2.0 / 5, 0.01));
	CHECK(near(count[1], draws, 3.0 / 5, 0.01));

	/* The second place goes by the weights of what is left. */
	{
		struct dns_srv v[3];
		uint32_t seed = 777;
		int after1[3] = { 0 }, n1 = 0;

		for (int i = 0; i < draws; i++) {
			fill(v, 3, w3);
			dns_srv_order(v, 3, xorshift, &seed);
			if (v[0].port == 5001) {
				n1++;
				after1[v[1].port - 5000]++;
			}
		}
		CHECK(n1 > 0);
		CHECK(near(after1[0], n1, 11.0 / 41, 0.02));
		CHECK(near(after1[2], n1, 30.0 / 41, 0.02));
	}
	return 0;
}

static int
test_dns_srv_order_zero_weight(void)
{
	static const unsigned short z1[][2] = { { 5, 0 }, { 5, 100 } };
	static const unsigned short z3[][2] = { { 5, 0 }, { 5, 0 }, { 5, 0 } };
	static const unsigned short z2[][2] = { { 5, 0 }, { 5, 50 }, { 5, 0 } };
	static const unsigned short mix[][2] = { { 7, 0 }, { 3, 0 }, { 7, 9 } };
	const int draws = 40000;
	int count[16];

	/* A weight-0 record beside a weighted one: a very small chance, not none. */
	first_counts(z1, 2, draws, count);
	CHECK(count[0] > 0);
	CHECK(near(count[0], draws, 1.0 / 101, 0.005));
	/* All weight 0: spread evenly, not always the first listed. */
	first_counts(z3, 3, draws, count);
	for (int i = 0; i < 3; i++)
		CHECK(near(count[i], draws, 1.0 / 3, 0.015));
	/* Two zeros and a 50: the 50 wins 50/51; the zeros share the rest. */
	first_counts(z2, 3, draws, count);
	CHECK(near(count[1], draws, 50.0 / 51, 0.005));
	CHECK(count[0] > 0 && count[2] > 0);
	/* Priority comes before weight, zero or not. */
	first_counts(mix, 3, draws, count);
	CHECK_EQ_INT(count[1], draws);
	return 0;
}

/* ---- against dnsmasq ---- */

static int
test_dns_srv(void)
{
	struct res r[2];
	struct dns_query *q = NULL;

	START_DM("30", NULL);
	memset(r, 0, sizeof(r));
	CHECK_EQ_INT(srv(SRV_NAME, &r[0], &q), 0);
	CHECK(q != NULL);
	/* Upper case and a trailing dot name the same records. */
	CHECK_EQ_INT(srv("_SIPfederationTLS._tcp.Fabrikam.TEST.", &r[1], NULL), 0);
	CHECK(r[0].calls == 0 && r[1].calls == 0);
	CHECK(wait_all(r, 2, 5000));
	for (int i = 0; i < 2; i++) {
		CHECK_EQ_INT(r[i].calls, 1);
		CHECK(!r[i].inside);
		CHECK_EQ_INT(r[i].status, 0);
		CHECK_EQ_INT(r[i].n, 3);
		CHECK_EQ_INT(r[i].srv[0].priority, 10);
		CHECK_EQ_INT(r[i].srv[1].priority, 10);
		CHECK_EQ_STR(r[i].srv[2].target, "sip2.fabrikam.test");
		CHECK_EQ_INT(r[i].srv[2].port, 5062);
		CHECK_EQ_INT(r[i].srv[2].priority, 20);
		CHECK_EQ_INT(r[i].srv[2].weight, 0);
		for (int k = 0; k < 2; k++) {
			if (strcmp(r[i].srv[k].target, "sip.fabrikam.test") == 0) {
				CHECK_EQ_INT(r[i].srv[k].port, 5061);
				CHECK_EQ_INT(r[i].srv[k].weight, 60);
			} else {
				CHECK_EQ_STR(r[i].srv[k].target, "sip3.fabrikam.test");
				CHECK_EQ_INT(r[i].srv[k].port, 5063);
				CHECK_EQ_INT(r[i].srv[k].weight, 40);
			}
		}
	}
	{
		struct dns_stats st;

		/* The two look-ups shared one query. */
		dns_get_stats(T.d, &st);
		CHECK_EQ_INT(st.sent, 1);
		CHECK_EQ_INT(st.shared, 1);
	}
	/* A "." target: the service is decidedly not offered (RFC 2782). */
	memset(r, 0, sizeof(r));
	CHECK_EQ_INT(srv("_sipfederationtls._tcp.none.test", &r[0], NULL), 0);
	CHECK(wait_all(r, 1, 5000));
	CHECK_EQ_INT(r[0].status, DNS_ENOTFOUND);
	CHECK_EQ_INT(r[0].n, 0);
	return teardown();
}

static int
test_dns_addr(void)
{
	struct res r[5];
	char buf[64];

	START_DM("30", NULL);
	memset(r, 0, sizeof(r));
	CHECK_EQ_INT(addr("sip.fabrikam.test", 5061, &r[0], NULL), 0);
	CHECK_EQ_INT(addr("SIP2.fabrikam.test.", 5062, &r[1], NULL), 0);
	CHECK_EQ_INT(addr("v6only.fabrikam.test", 5063, &r[2], NULL), 0);
	CHECK_EQ_INT(addr("127.0.0.9", 5064, &r[3], NULL), 0);
	CHECK_EQ_INT(addr("[::1]", 5065, &r[4], NULL), 0);
	for (int i = 0; i < 5; i++)
		CHECK_EQ_INT(r[i].calls, 0);
	CHECK(wait_all(r, 5, 5000));
	for (int i = 0; i < 5; i++) {
		CHECK_EQ_INT(r[i].calls, 1);
		CHECK(!r[i].inside);
		CHECK_EQ_INT(r[i].status, 0);
	}
	CHECK_EQ_INT(r[0].n, 1);
	CHECK_EQ_STR(ntop(&r[0].ss[0], buf, sizeof(buf)), "127.0.0.20");
	CHECK_EQ_INT(port_of(&r[0].ss[0]), 5061);
	/* IPv4 first. */
	CHECK_EQ_INT(r[1].n, 2);
	CHECK_EQ_INT(r[1].ss[0].ss_family, AF_INET);
	CHECK_EQ_STR(ntop(&r[1].ss[0], buf, sizeof(buf)), "127.0.0.21");
	CHECK_EQ_INT(port_of(&r[1].ss[0]), 5062);
	CHECK_EQ_INT(r[1].ss[1].ss_family, AF_INET6);
	CHECK_EQ_STR(ntop(&r[1].ss[1], buf, sizeof(buf)), "::1");
	CHECK_EQ_INT(port_of(&r[1].ss[1]), 5062);
	CHECK_EQ_INT(r[2].n, 1);
	CHECK_EQ_STR(ntop(&r[2].ss[0], buf, sizeof(buf)), "::2");
	CHECK_EQ_INT(port_of(&r[2].ss[0]), 5063);
	/* Literals, without DNS. */
	CHECK_EQ_INT(r[3].n, 1);
	CHECK_EQ_STR(ntop(&r[3].ss[0], buf, sizeof(buf)), "127.0.0.9");
	CHECK_EQ_INT(port_of(&r[3].ss[0]), 5064);
	CHECK_EQ_INT(r[4].n, 1);
	CHECK_EQ_STR(ntop(&r[4].ss[0], buf, sizeof(buf)), "::1");
	CHECK_EQ_INT(port_of(&r[4].ss[0]), 5065);
	/* A name with neither family; an alias followed to its target. */
	memset(r, 0, sizeof(r));
	CHECK_EQ_INT(addr("nothing.fabrikam.test", 5061, &r[0], NULL), 0);
	CHECK_EQ_INT(addr("alias.fabrikam.test", 5061, &r[1], NULL), 0);
	CHECK(wait_all(r, 2, 5000));
	CHECK_EQ_INT(r[0].status, DNS_ENOTFOUND);
	CHECK_EQ_INT(r[0].n, 0);
	CHECK_EQ_INT(r[1].status, 0);
	CHECK_EQ_INT(r[1].n, 1);
	CHECK_EQ_STR(ntop(&r[1].ss[0], buf, sizeof(buf)), "127.0.0.20");
	return teardown();
}

static int
test_dns_nxdomain_cached(void)
{
	struct dns_stats st0, st1;
	struct res r[2];

	START_DM("30", NULL);
	memset(r, 0, sizeof(r));
	CHECK_EQ_INT(srv("_sipfederationtls._tcp.nowhere.test", &r[0], NULL), 0);
	CHECK(wait_all(r, 1, 5000));
	CHECK_EQ_INT(r[0].status, DNS_ENOTFOUND);
	CHECK_EQ_INT(r[0].n, 0);
	dns_get_stats(T.d, &st0);
	/* Without the server, the answer still comes: from the cache, later. */
	dm_stop();
	CHECK_EQ_INT(srv("_sipfederationtls._tcp.NOWHERE.test", &r[1], NULL), 0);
	CHECK_EQ_INT(r[1].calls, 0);
	CHECK(wait_all(r + 1, 1, 5000));
	CHECK(!r[1].inside);
	CHECK_EQ_INT(r[1].status, DNS_ENOTFOUND);
	dns_get_stats(T.d, &st1);
	CHECK_EQ_INT(st1.sent, st0.sent);
	CHECK_EQ_INT(st1.cache_hits, st0.cache_hits + 1);
	return teardown();
}

static int
test_dns_refused(void)
{
	struct res r[1];

	/* dnsmasq has no upstream for names outside test/: it refuses them. */
	START_DM("30", NULL);
	memset(r, 0, sizeof(r));
	CHECK_EQ_INT(srv("_sipfederationtls._tcp.example.org", &r[0], NULL), 0);
	CHECK(wait_all(r, 1, 5000));
	CHECK_EQ_INT(r[0].status, DNS_EFAIL);
	return teardown();
}

static int
test_dns_ttl_expiry(void)
{
	struct dns_stats st0, st1, st2;
	struct res r[3];
	char buf[64];

	START_DM("1", NULL);
	memset(r, 0, sizeof(r));
	CHECK_EQ_INT(addr("sip.fabrikam.test", 5061, &r[0], NULL), 0);
	CHECK(wait_all(r, 1, 5000));
	CHECK_EQ_INT(r[0].status, 0);
	dns_get_stats(T.d, &st0);
	CHECK_EQ_INT(st0.sent, 2);                 /* A and AAAA */
	/* Within the TTL: the cache answers. */
	CHECK_EQ_INT(addr("sip.fabrikam.test", 5070, &r[1], NULL), 0);
	CHECK(wait_all(r + 1, 1, 5000));
	CHECK_EQ_INT(r[1].status, 0);
	CHECK_EQ_INT(port_of(&r[1].ss[0]), 5070);
	dns_get_stats(T.d, &st1);
	CHECK_EQ_INT(st1.sent, st0.sent);
	/* After it: asked again.  AAAA (no data) is cached for neg_ttl_s, A is not. */
	run_for(1200);
	CHECK_EQ_INT(addr("sip.fabrikam.test", 5061, &r[2], NULL), 0);
	CHECK(wait_all(r + 2, 1, 5000));
	CHECK_EQ_INT(r[2].status, 0);
	CHECK_EQ_STR(ntop(&r[2].ss[0], buf, sizeof(buf)), "127.0.0.20");
	dns_get_stats(T.d, &st2);
	CHECK_EQ_INT(st2.sent, st1.sent + 1);
	return teardown();
}

/* A UDP socket that is bound but never read: a server that stays silent. */
static int
silent_socket(unsigned short *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
		return -1;
	*port = ntohs(sin.sin_port);
	return fd;
}

static int
test_dns_timeout(void)
{
	struct dns_stats st;
	struct res r[2];
	unsigned short port;
	char servers[64];
	uint64_t t0;
	int fd = silent_socket(&port);

	CHECK(fd >= 0);
	snprintf(servers, sizeof(servers), "127.0.0.1:%u", (unsigned)port);
	CHECK(setup(servers, 200, 2) == 0);
	memset(r, 0, sizeof(r));
	t0 = now_ms();
	CHECK_EQ_INT(srv(SRV_NAME, &r[0], NULL), 0);
	CHECK_EQ_INT(addr("sip.fabrikam.test", 5061, &r[1], NULL), 0);
	CHECK(wait_all(r, 2, 5000));
	for (int i = 0; i < 2; i++) {
		CHECK_EQ_INT(r[i].status, DNS_ETIMEOUT);
		CHECK_EQ_INT(r[i].n, 0);
		/* timeout_ms * tries = 400 ms, not c-ares's doubling (600 ms). */
		CHECK(r[i].at - t0 >= 380);
		/* Loose upper bound: CI runs tests in parallel on two cores. */
		CHECK(r[i].at - t0 < 2500);
	}
	dns_get_stats(T.d, &st);
	CHECK_EQ_INT(st.timeouts, 3);
	/* A failure is not cached: the next look-up asks again. */
	memset(r, 0, sizeof(r));
	CHECK_EQ_INT(srv(SRV_NAME, &r[0], NULL), 0);
	CHECK(wait_all(r, 1, 5000));
	CHECK_EQ_INT(r[0].status, DNS_ETIMEOUT);
	close(fd);
	return teardown();
}

static int
test_dns_cancel(void)
{
	struct dns_query *q1, *q2, *q3, *q4;
	struct res r[5];

	START_DM("30", NULL);
	memset(r, 0, sizeof(r));
	/* Two on one query in flight: cancel one, the other is answered. */
	CHECK_EQ_INT(srv(SRV_NAME, &r[0], &q1), 0);
	CHECK_EQ_INT(srv(SRV_NAME, &r[1], &q2), 0);
	CHECK_EQ_INT(addr("sip.fabrikam.test", 1, &r[2], &q3), 0);
	dns_cancel(q1);
	dns_cancel(q3);
	CHECK(wait_all(r + 1, 1, 5000));
	CHECK_EQ_INT(r[1].status, 0);
	/* Cancelled while ready: a cache hit waiting for the 0 ms timer. */
	CHECK_EQ_INT(srv(SRV_NAME, &r[3], &q4), 0);
	dns_cancel(q4);
	/* The A/AAAA answers, nobody waiting, still fill the cache. */
	CHECK_EQ_INT(addr("sip.fabrikam.test", 1, &r[4], NULL), 0);
	CHECK(wait_all(r + 4, 1, 5000));
	CHECK_EQ_INT(r[4].status, 0);
	run_for(50);
	CHECK_EQ_INT(r[0].calls, 0);
	CHECK_EQ_INT(r[2].calls, 0);
	CHECK_EQ_INT(r[3].calls, 0);
	CHECK_EQ_INT(r[1].calls, 1);
	CHECK_EQ_INT(r[4].calls, 1);
	return teardown();
}

static int
test_dns_bad_input(void)
{
	char longname[300];
	struct res r;
	struct dns_query *q = NULL;

	CHECK(setup("127.0.0.1:9", 100, 1) == 0);
	memset(&r, 0, sizeof(r));
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	CHECK_EQ_INT(srv("", &r, &q), -EINVAL);
	CHECK_EQ_INT(srv(".", &r, &q), -EINVAL);
	CHECK_EQ_INT(srv("a..test", &r, &q), -EINVAL);
	CHECK_EQ_INT(srv("sp ace.test", &r, &q), -EINVAL);
	CHECK_EQ_INT(srv("semi;colon.test", &r, &q), -EINVAL);
	CHECK_EQ_INT(srv(longname, &r, &q), -EINVAL);
	CHECK_EQ_INT(addr("bad/name", 5061, &r, &q), -EINVAL);
	CHECK_EQ_INT(addr("[not-v6]", 5061, &r, &q), -EINVAL);
	CHECK(q == NULL);
	run_for(20);
	CHECK_EQ_INT(r.calls, 0);
	{
		struct dns *d2 = NULL;
		struct dns_conf c = { .servers = "not an address" };

		CHECK_EQ_INT(dns_new(&T.loop, &c, &d2), -EINVAL);
		CHECK(d2 == NULL);
	}
	{
		struct dns *d3 = NULL;

		/* No configuration: the system resolver and every default. */
		CHECK_EQ_INT(dns_new(&T.loop, NULL, &d3), 0);
		CHECK(d3 != NULL);
		dns_close(d3);
	}
	CHECK_EQ_STR(dns_strerror(DNS_ETIMEOUT), "no answer from the DNS servers");
	return teardown();
}

static int
test_dns_close_pending(void)
{
	struct res r[3];
	unsigned short port;
	char servers[64];
	int fd = silent_socket(&port);

	/* Queries in flight, one ready in the cache: close drops them all. */
	CHECK(fd >= 0);
	snprintf(servers, sizeof(servers), "127.0.0.1:%u", (unsigned)port);
	CHECK(setup(servers, 1000, 2) == 0);
	memset(r, 0, sizeof(r));
	CHECK_EQ_INT(srv(SRV_NAME, &r[0], NULL), 0);
	CHECK_EQ_INT(addr("sip.fabrikam.test", 5061, &r[1], NULL), 0);
	CHECK_EQ_INT(addr("127.0.0.1", 5061, &r[2], NULL), 0);
	uv_run(&T.loop, UV_RUN_NOWAIT);
	CHECK_EQ_INT(r[2].calls, 1);
	CHECK_EQ_INT(addr("127.0.0.1", 5061, &r[2], NULL), 0);
	dns_close(T.d);
	T.d = NULL;
	CHECK(teardown() == 0);
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(r[i].calls, i == 2 ? 1 : 0);
	close(fd);
	return 0;
}

static int
test_dns_close_in_callback(void)
{
	struct res r[3];

	/* The first callback closes the resolver; the others in the same round are
	 * dropped, and nothing is used after it is freed. */
	START_DM("30", NULL);
	memset(r, 0, sizeof(r));
	CHECK_EQ_INT(srv(SRV_NAME, &r[0], NULL), 0);
	CHECK(wait_all(r, 1, 5000));
	memset(r, 0, sizeof(r));
	r[0].close_d = T.d;
	CHECK_EQ_INT(srv(SRV_NAME, &r[0], NULL), 0);
	CHECK_EQ_INT(srv(SRV_NAME, &r[1], NULL), 0);
	CHECK_EQ_INT(addr("sip.fabrikam.test", 5061, &r[2], NULL), 0);
	T.d = NULL;
	CHECK(wait_all(r, 1, 5000));
	run_for(100);
	CHECK_EQ_INT(r[0].calls, 1);
	CHECK_EQ_INT(r[1].calls, 0);
	CHECK_EQ_INT(r[2].calls, 0);
	return teardown();
}

/* ---- a hand-written server, for answers dnsmasq does not give ---- */

enum craft { CRAFT_SERVFAIL, CRAFT_BAD_RDLEN, CRAFT_TWO_TTLS, CRAFT_OTHER_OWNER,
	CRAFT_TTL_HIGH_BIT };

static struct {
	uv_udp_t udp;
	enum craft mode;
	int queries;
} C;

static size_t
put_srv(unsigned char *p, uint32_t ttl, unsigned short port, const char *label,
    bool other_owner)
{
	size_t n = 0, len = strlen(label);
	unsigned rdlen = 6 + 1 + (unsigned)len + 1 + 8 + 1 + 4 + 1;

	if (other_owner) {
		/* "x" then the query name: another owner than the one asked for. */
		p[n++] = 1;
		p[n++] = 'x';
	}
	p[n++] = 0xc0;          /* the query name, by pointer */
	p[n++] = 12;
	p[n++] = 0;
	p[n++] = 33;            /* SRV */
	p[n++] = 0;
	p[n++] = 1;             /* IN */
	p[n++] = (unsigned char)(ttl >> 24);
	p[n++] = (unsigned char)(ttl >> 16);
	p[n++] = (unsigned char)(ttl >> 8);
	p[n++] = (unsigned char)ttl;
	p[n++] = (unsigned char)(rdlen >> 8);
	p[n++] = (unsigned char)rdlen;
	p[n++] = 0;
	p[n++] = 10;            /* priority */
	p[n++] = 0;
	p[n++] = 50;            /* weight */
	p[n++] = (unsigned char)(port >> 8);
	p[n++] = (unsigned char)port;
	p[n++] = (unsigned char)len;
	memcpy(p + n, label, len);
	n += len;
	p[n++] = 8;
	memcpy(p + n, "fabrikam", 8);
	n += 8;
	p[n++] = 4;
	memcpy(p + n, "test", 4);
	n += 4;
	p[n++] = 0;
	return n;
}

static void
craft_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	static char mem[1024];

	*buf = uv_buf_init(mem, sizeof(mem));
}

static void
craft_sent(uv_udp_send_t *req, int status)
{
	free(req);
}

static void
craft_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *from,
    unsigned flags)
{
	struct {
		uv_udp_send_t req;
		unsigned char b[512];
	} *out;
	unsigned char *p;
	size_t n;
	uv_buf_t ub;

	if (nread < 12 || from == NULL || (size_t)nread > 256)
		return;
	C.queries++;
	if ((out = calloc(1, sizeof(*out))) == NULL)
		return;
	p = out->b;
	/* The query's header and question, turned into a response. */
	memcpy(p, buf->base, (size_t)nread);
	n = (size_t)nread;
	p[2] = 0x81;
	p[3] = 0x80;
	p[6] = p[7] = p[8] = p[9] = p[10] = p[11] = 0;
	switch (C.mode) {
	case CRAFT_SERVFAIL:
		p[3] |= 2;
		break;
	case CRAFT_BAD_RDLEN:
		p[7] = 1;
		n += put_srv(p + n, 30, 5061, "sip", false);
		p[n - 26] = 0xff;   /* RDLENGTH low byte (25 bytes of RDATA follow) */
		break;
	case CRAFT_TWO_TTLS:
		p[7] = 2;
		n += put_srv(p + n, 100, 5061, "sip", false);
		n += put_srv(p + n, 1, 5062, "sip2", false);
		break;
	case CRAFT_OTHER_OWNER:
		p[7] = 1;
		n += put_srv(p + n, 30, 5061, "sip", true);
		break;
	case CRAFT_TTL_HIGH_BIT:
		p[7] = 1;
		n += put_srv(p + n, 0x80000010u, 5061, "sip", false);
		break;
	}
	ub = uv_buf_init((char *)out->b, (unsigned)n);
	if (uv_udp_send(&out->req, h, &ub, 1, from, craft_sent) < 0)
		free(out);
}

static int
craft_start(enum craft mode)
{
	struct sockaddr_in sin;
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	char servers[64];

	memset(&C, 0, sizeof(C));
	C.mode = mode;
	CHECK(uv_loop_init(&T.loop) == 0);
	uv_ip4_addr("127.0.0.1", 0, &sin);
	CHECK(uv_udp_init(&T.loop, &C.udp) == 0);
	CHECK(uv_udp_bind(&C.udp, (struct sockaddr *)&sin, 0) == 0);
	CHECK(uv_udp_getsockname(&C.udp, (struct sockaddr *)&ss, &len) == 0);
	CHECK(uv_udp_recv_start(&C.udp, craft_alloc, craft_recv) == 0);
	snprintf(servers, sizeof(servers), "127.0.0.1:%u",
	    (unsigned)ntohs(((struct sockaddr_in *)&ss)->sin_port));
	{
		struct dns_conf c = { .servers = servers, .timeout_ms = 1000, .tries = 1 };

		log_init("test_dns", 1, getenv("TEST_DNS_VERBOSE") ? LOG_LVL_DEBUG :
		    LOG_LVL_WARNING);
		CHECK(uv_timer_init(&T.loop, &T.safety) == 0);
		CHECK_EQ_INT(dns_new(&T.loop, &c, &T.d), 0);
	}
	return 0;
}

static int
craft_one(enum craft mode, int expect)
{
	struct res r;

	CHECK(craft_start(mode) == 0);
	memset(&r, 0, sizeof(r));
	CHECK_EQ_INT(srv(SRV_NAME, &r, NULL), 0);
	CHECK(wait_all(&r, 1, 5000));
	CHECK_EQ_INT(r.status, expect);
	CHECK_EQ_INT(C.queries, 1);
	uv_close((uv_handle_t *)&C.udp, NULL);
	return teardown();
}

static int
test_dns_bad_answers(void)
{
	CHECK(craft_one(CRAFT_SERVFAIL, DNS_EFAIL) == 0);
	CHECK(craft_one(CRAFT_BAD_RDLEN, DNS_EFAIL) == 0);
	/* Records owned by another name than the one asked for are not used. */
	CHECK(craft_one(CRAFT_OTHER_OWNER, DNS_ENOTFOUND) == 0);
	return 0;
}

static int
test_dns_ttl_smallest(void)
{
	struct res r[3];

	/* Two records, TTL 100 and 1: the set is cached for 1 s. */
	CHECK(craft_start(CRAFT_TWO_TTLS) == 0);
	memset(r, 0, sizeof(r));
	CHECK_EQ_INT(srv(SRV_NAME, &r[0], NULL), 0);
	CHECK(wait_all(r, 1, 5000));
	CHECK_EQ_INT(r[0].status, 0);
	CHECK_EQ_INT(r[0].n, 2);
	CHECK_EQ_INT(srv(SRV_NAME, &r[1], NULL), 0);
	CHECK(wait_all(r + 1, 1, 5000));
	CHECK_EQ_INT(C.queries, 1);
	run_for(1100);
	CHECK_EQ_INT(srv(SRV_NAME, &r[2], NULL), 0);
	CHECK(wait_all(r + 2, 1, 5000));
	CHECK_EQ_INT(r[2].n, 2);
	CHECK_EQ_INT(C.queries, 2);
	uv_close((uv_handle_t *)&C.udp, NULL);
	CHECK(teardown() == 0);

	/* RFC 2181 §8: a TTL with the top bit set counts as 0, so nothing is kept. */
	CHECK(craft_start(CRAFT_TTL_HIGH_BIT) == 0);
	memset(r, 0, sizeof(r));
	CHECK_EQ_INT(srv(SRV_NAME, &r[0], NULL), 0);
	CHECK(wait_all(r, 1, 5000));
	CHECK_EQ_INT(r[0].status, 0);
	CHECK_EQ_INT(srv(SRV_NAME, &r[1], NULL), 0);
	CHECK(wait_all(r + 1, 1, 5000));
	CHECK_EQ_INT(r[1].status, 0);
	CHECK_EQ_INT(C.queries, 2);
	uv_close((uv_handle_t *)&C.udp, NULL);
	return teardown();
}

/* The hosts file answers A/AAAA before DNS (as the system resolver does): no
 * query is sent; IPv4 first; case and a trailing dot do not matter; "" turns
 * it off. */
static int
test_dns_hosts_file(void)
{
	char dir[] = "/tmp/sipedge-hosts-XXXXXX", path[64], buf[64];
	struct dns_conf c = { .servers = "127.0.0.1:9", .timeout_ms = 200, .tries = 1 };
	struct dns_stats st;
	struct res r[3];
	FILE *f;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/hosts", dir);
	CHECK((f = fopen(path, "w")) != NULL);
	fprintf(f, "# lab\n127.0.0.10 pool1.contoso.test pool1 # the first\n"
	    "::10 pool1.contoso.test\n127.0.0.11\tPool2.Contoso.TEST\nbogus line\n");
	fclose(f);
	c.hosts_file = path;
	log_init("test_dns", 1, LOG_LVL_WARNING);
	CHECK(uv_loop_init(&T.loop) == 0);
	CHECK(uv_timer_init(&T.loop, &T.safety) == 0);
	CHECK_EQ_INT(dns_new(&T.loop, &c, &T.d), 0);
	memset(r, 0, sizeof(r));
	CHECK_EQ_INT(addr("pool1.contoso.test", 5061, &r[0], NULL), 0);
	CHECK_EQ_INT(addr("POOL2.contoso.test.", 5062, &r[1], NULL), 0);
	CHECK_EQ_INT(addr("pool1", 5063, &r[2], NULL), 0);
	CHECK(wait_all(r, 3, 2000));
	CHECK_EQ_INT(r[0].status, 0);
	CHECK_EQ_INT(r[0].n, 2);
	CHECK_EQ_STR(ntop(&r[0].ss[0], buf, sizeof(buf)), "127.0.0.10");
	CHECK_EQ_STR(ntop(&r[0].ss[1], buf, sizeof(buf)), "::10");
	CHECK_EQ_INT(port_of(&r[0].ss[1]), 5061);
	CHECK_EQ_INT(r[1].n, 1);
	CHECK_EQ_STR(ntop(&r[1].ss[0], buf, sizeof(buf)), "127.0.0.11");
	CHECK_EQ_INT(r[2].n, 1);
	dns_get_stats(T.d, &st);
	CHECK_EQ_INT(st.sent, 0);
	dns_close(T.d);
	T.d = NULL;
	uv_run(&T.loop, UV_RUN_DEFAULT);
	/* Off: the name goes to DNS (which does not answer here). */
	c.hosts_file = "";
	CHECK_EQ_INT(dns_new(&T.loop, &c, &T.d), 0);
	memset(r, 0, sizeof(r));
	CHECK_EQ_INT(addr("pool1.contoso.test", 5061, &r[0], NULL), 0);
	CHECK(wait_all(r, 1, 5000));
	CHECK(r[0].status != 0);
	unlink(path);
	rmdir(dir);
	return teardown();
}

static const struct unit_test tests[] = {
	UNIT(test_dns_srv_order_priority),
	UNIT(test_dns_srv_order_weights),
	UNIT(test_dns_srv_order_zero_weight),
	UNIT(test_dns_srv),
	UNIT(test_dns_addr),
	UNIT(test_dns_hosts_file),
	UNIT(test_dns_nxdomain_cached),
	UNIT(test_dns_refused),
	UNIT(test_dns_ttl_expiry),
	UNIT(test_dns_timeout),
	UNIT(test_dns_cancel),
	UNIT(test_dns_bad_input),
	UNIT(test_dns_close_pending),
	UNIT(test_dns_close_in_callback),
	UNIT(test_dns_bad_answers),
	UNIT(test_dns_ttl_smallest),
	{ 0 },
};

int
main(int argc, char **argv)
{
	return unit_main(argc, argv, tests);
}
