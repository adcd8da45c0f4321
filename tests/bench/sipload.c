/*
 * sipload.c: the SIP-over-TLS load generator and sink of make bench (RFC 3261
 * §7 messages, §18.3 stream framing by Content-Length, §8.2.6 responses;
 * RFC 5626 §3.5.1 CRLF keep-alives), speaking mutual TLS itself with OpenSSL.
 *
 * One process, one thread, one level-triggered epoll loop, non-blocking
 * sockets; every mode ends by itself (--max-time bounds each run).  Targets
 * must be loopback addresses: this is a lab tool.
 *
 *   uac        open-loop MESSAGE sender: --rate R per second for --duration S
 *              (or --phases R:S,R:S,...) over --conns N connections, each
 *              request answered or timed out (--timeout ms); one JSON line
 *              when the connections are up ({"event":"ready"}) and one summary
 *              line at the end.
 *   uas        TLS server (client certificate required) that answers every
 *              request but ACK with --status; JSON counts on SIGTERM/SIGINT or
 *              at --max-time, and on SIGUSR1 without stopping.  A request
 *              whose body starts with "T" and a CLOCK_MONOTONIC time in
 *              nanoseconds (the XMPP bench's stamp, put there by the sender)
 *              adds now minus that time to the one-way latency histogram
 *              "stamp_us", which SIGUSR2 empties.
 *   idle       opens --count K connections, prints a JSON line, holds them
 *              until stdin has a line or closes (or --hold s), closes them and
 *              prints a second line.
 *   handshake  new connections at --rate R for --duration S (or --parallel P
 *              at a time with --rate 0): a full mutual-TLS handshake (with
 *              --resume, each offers the ticket the one before got), then
 *              close_notify and FIN, and the server's close awaited; counts
 *              and handshake latency.
 *
 * Latencies are measured from the moment a request is handed to TLS (not from
 * its scheduled time: the 1 ms tick would otherwise add up to 1 ms); how late
 * the generator was against the schedule is reported apart (send_lag_us), so
 * a generator that cannot keep up shows.
 */

#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define MAX_PHASES	16
#define MAX_BINDS	64
#define MAX_HDR		65536		/* a header block larger than this is garbage */
#define MAX_OUT		(8u << 20)	/* queued bytes per connection before shedding */
#define READ_CHUNK	65536
#define ST_PENDING	0		/* transaction states below 100 */
#define ST_TIMEOUT	1
#define ST_UNSENT	2

/* ---- time ---------------------------------------------------------------- */

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- latency histogram ------------------------------------------------------
 * Log-linear, in microseconds: values below 2048 us have their own bucket;
 * above, each power of two is cut into 1024 buckets (0.1 % resolution), as
 * HdrHistogram does, up to 2^40 us. */

#define H_SUB_BITS	10
#define H_SUB		(1u << H_SUB_BITS)
#define H_LINEAR	(2u * H_SUB)
#define H_TOP_BIT	40
#define H_BUCKETS	(H_LINEAR + (H_TOP_BIT - H_SUB_BITS) * H_SUB)

struct hist {
	uint64_t n, sum, max;
	uint32_t *b;
};

static int
hist_init(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->b = calloc(H_BUCKETS, sizeof(*h->b));
	return h->b ? 0 : -ENOMEM;
}

static size_t
hist_index(uint64_t v)
{
	int msb;

	if (v < H_LINEAR)
		return (size_t)v;
	if (v >= (UINT64_C(1) << H_TOP_BIT))
		v = (UINT64_C(1) << H_TOP_BIT) - 1;
	msb = 63 - __builtin_clzll(v);
	return H_LINEAR + (size_t)(msb - H_SUB_BITS - 1) * H_SUB +
	    (size_t)((v >> (msb - H_SUB_BITS)) & (H_SUB - 1));
}

/* The middle of bucket i (its only value below H_LINEAR). */
static uint64_t
hist_value(size_t i)
{
	size_t k, sub;
	int shift;

	if (i < H_LINEAR)
		return i;
	k = (i - H_LINEAR) / H_SUB;
	sub = (i - H_LINEAR) % H_SUB;
	shift = (int)k + 1;
	return ((uint64_t)(H_SUB + sub) << shift) + ((UINT64_C(1) << shift) >> 1);
}

static void
hist_add(struct hist *h, uint64_t us)
{
	h->b[hist_index(us)]++;
	h->n++;
	h->sum += us;
	if (us > h->max)
		h->max = us;
}

static uint64_t
hist_pct(const struct hist *h, double q)
{
	uint64_t rank, seen = 0, v;
	size_t i;

	if (h->n == 0)
		return 0;
	rank = (uint64_t)(q * (double)h->n + 0.999999);
	if (rank < 1)
		rank = 1;
	for (i = 0; i < H_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= rank) {
			v = hist_value(i);
			return v < h->max ? v : h->max;
		}
	}
	return h->max;
}

static void
hist_json(FILE *f, const char *name, const struct hist *h)
{
	fprintf(f, "\"%s\":{\"n\":%llu,\"mean\":%.1f,\"p50\":%llu,\"p90\":%llu,"
	    "\"p99\":%llu,\"p999\":%llu,\"max\":%llu}", name, (unsigned long long)h->n,
	    h->n ? (double)h->sum / (double)h->n : 0.0,
	    (unsigned long long)hist_pct(h, 0.50), (unsigned long long)hist_pct(h, 0.90),
	    (unsigned long long)hist_pct(h, 0.99), (unsigned long long)hist_pct(h, 0.999),
	    (unsigned long long)h->max);
}

/* ---- byte buffers -------------------------------------------------------- */

/* Bytes p[off..len) are live; the owner is the connection holding the buf. */
struct buf {
	char *p;
	size_t off, len, cap;
};

static int
buf_reserve(struct buf *b, size_t more)
{
	size_t cap;
	char *p;

	if (b->off == b->len)
		b->off = b->len = 0;
	if (b->len + more <= b->cap)
		return 0;
	if (b->off > 0) {
		/* SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER lets a pending write move. */
		memmove(b->p, b->p + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
		if (b->len + more <= b->cap)
			return 0;
	}
	cap = b->cap ? b->cap : 16384;
	while (cap < b->len + more)
		cap *= 2;
	if ((p = realloc(b->p, cap)) == NULL)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

static int
buf_add(struct buf *b, const char *p, size_t n)
{
	if (buf_reserve(b, n) < 0)
		return -ENOMEM;
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

static size_t
buf_used(const struct buf *b)
{
	return b->len - b->off;
}

/* ---- options ------------------------------------------------------------- */

enum mode { M_UAC, M_UAS, M_IDLE, M_HANDSHAKE };

struct phase {
	double rate;
	double secs;
	uint64_t first, count;	/* sequence numbers of its requests */
	uint64_t t0;		/* start, ns */
};

static struct {
	enum mode mode;
	struct sockaddr_storage dst;
	socklen_t dstlen;
	struct sockaddr_storage bind[MAX_BINDS];
	int nbind;
	const char *cert, *key, *ca, *sni;
	int conns;
	struct phase ph[MAX_PHASES];
	int nph;
	int timeout_ms, timeline_ms, slow_ms;
	const char *ruri, *from, *to, *via;
	int body;
	int status;
	int count, parallel;
	double hold, max_time;
	char via_host[128];
	bool resume;		/* handshake: offer the last session's ticket */
} opt;

static volatile sig_atomic_t stop_signal, report_signal, reset_signal;

static void
on_signal(int sig)
{
	stop_signal = sig;
}

static void
on_report(int sig)
{
	if (sig == SIGUSR2)
		reset_signal = sig;
	else
		report_signal = sig;
}

static void
die(const char *what)
{
	unsigned long e = ERR_get_error();

	if (e)
		fprintf(stderr, "sipload: %s: %s\n", what, ERR_error_string(e, NULL));
	else
		fprintf(stderr, "sipload: %s\n", what);
	exit(2);
}

/* "ip:port" or "[ip6]:port"; only loopback addresses are accepted as targets. */
static int
parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len, bool need_port)
{
	char host[128];
	const char *colon, *h = s;
	size_t hl;
	long port = 0;

	memset(ss, 0, sizeof(*ss));
	if (*s == '[') {
		const char *e = strchr(s, ']');
		if (!e)
			return -EINVAL;
		h = s + 1;
		hl = (size_t)(e - h);
		colon = e[1] == ':' ? e + 1 : NULL;
	} else {
		colon = strrchr(s, ':');
		hl = colon ? (size_t)(colon - s) : strlen(s);
	}
	if (hl == 0 || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (colon) {
		char *end;
		port = strtol(colon + 1, &end, 10);
		if (*end || port < 0 || port > 65535)
			return -EINVAL;
	} else if (need_port)
		return -EINVAL;
	if (strchr(host, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			return -EINVAL;
		*len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			return -EINVAL;
		*len = sizeof(*a);
	}
	return 0;
}

static bool
is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

static int
parse_phases(const char *s)
{
	char *end;

	opt.nph = 0;
	while (*s) {
		if (opt.nph == MAX_PHASES)
			return -EINVAL;
		opt.ph[opt.nph].rate = strtod(s, &end);
		if (*end != ':' || opt.ph[opt.nph].rate <= 0)
			return -EINVAL;
		opt.ph[opt.nph].secs = strtod(end + 1, &end);
		if (opt.ph[opt.nph].secs <= 0 || (*end && *end != ','))
			return -EINVAL;
		opt.nph++;
		s = *end ? end + 1 : end;
	}
	return opt.nph ? 0 : -EINVAL;
}

static void
usage(void)
{
	fputs("usage: sipload uac --connect IP:PORT --cert F --key F --ca F [--sni NAME]\n"
	    "         [--bind IP[,IP...]] [--conns N] [--rate R --duration S | --phases R:S,...]\n"
	    "         [--timeout MS] [--timeline MS] [--slow MS] [--ruri URI] [--from URI]\n"
	    "         [--to URI] [--via HOST:PORT] [--body BYTES] [--max-time S]\n"
	    "       sipload uas --listen IP:PORT --cert F --key F --ca F [--status N] [--max-time S]\n"
	    "       sipload idle --connect IP:PORT ... --count K [--parallel P] [--hold S]\n"
	    "       sipload handshake --connect IP:PORT ... [--rate R] --duration S [--parallel P]\n"
	    "                [--resume]\n",
	    stderr);
	exit(2);
}

static void
parse_options(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "connect", required_argument, NULL, 'c' }, { "listen", required_argument, NULL, 'l' },
		{ "cert", required_argument, NULL, 'C' }, { "key", required_argument, NULL, 'K' },
		{ "ca", required_argument, NULL, 'A' }, { "sni", required_argument, NULL, 'S' },
		{ "bind", required_argument, NULL, 'b' }, { "conns", required_argument, NULL, 'n' },
		{ "rate", required_argument, NULL, 'r' }, { "duration", required_argument, NULL, 'd' },
		{ "phases", required_argument, NULL, 'P' }, { "timeout", required_argument, NULL, 't' },
		{ "timeline", required_argument, NULL, 'T' }, { "slow", required_argument, NULL, 'w' },
		{ "ruri", required_argument, NULL, 'u' }, { "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 'o' }, { "via", required_argument, NULL, 'v' },
		{ "body", required_argument, NULL, 'B' }, { "status", required_argument, NULL, 's' },
		{ "count", required_argument, NULL, 'k' }, { "parallel", required_argument, NULL, 'p' },
		{ "hold", required_argument, NULL, 'h' }, { "max-time", required_argument, NULL, 'm' },
		{ "resume", no_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 }
	};
	double rate = 0, duration = 0;
	const char *phases = NULL;
	bool have_dst = false;
	int ch;

	if (argc < 2)
		usage();
	if (strcmp(argv[1], "uac") == 0)
		opt.mode = M_UAC;
	else if (strcmp(argv[1], "uas") == 0)
		opt.mode = M_UAS;
	else if (strcmp(argv[1], "idle") == 0)
		opt.mode = M_IDLE;
	else if (strcmp(argv[1], "handshake") == 0)
		opt.mode = M_HANDSHAKE;
	else
		usage();
	opt.conns = 4;
	opt.timeout_ms = 5000;
	opt.slow_ms = 50;
	opt.ruri = "sip:bob@fabrikam.test";
	opt.from = "sip:alice@contoso.test";
	opt.body = 32;
	opt.status = 200;
	opt.count = 1000;
	opt.parallel = 64;
	opt.max_time = 0;
	optind = 2;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'c':
		case 'l':
			if (parse_addr(optarg, &opt.dst, &opt.dstlen, true) < 0)
				die("bad address");
			have_dst = true;
			break;
		case 'C': opt.cert = optarg; break;
		case 'K': opt.key = optarg; break;
		case 'A': opt.ca = optarg; break;
		case 'S': opt.sni = optarg; break;
		case 'b': {
			char *s = strdup(optarg), *save = NULL, *tok;
			socklen_t len;
			for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
				if (opt.nbind == MAX_BINDS ||
				    parse_addr(tok, &opt.bind[opt.nbind], &len, false) < 0)
					die("bad --bind");
				opt.nbind++;
			}
			free(s);
			break;
		}
		case 'n': opt.conns = atoi(optarg); break;
		case 'r': rate = strtod(optarg, NULL); break;
		case 'd': duration = strtod(optarg, NULL); break;
		case 'P': phases = optarg; break;
		case 't': opt.timeout_ms = atoi(optarg); break;
		case 'T': opt.timeline_ms = atoi(optarg); break;
		case 'w': opt.slow_ms = atoi(optarg); break;
		case 'u': opt.ruri = optarg; break;
		case 'f': opt.from = optarg; break;
		case 'o': opt.to = optarg; break;
		case 'v': opt.via = optarg; break;
		case 'B': opt.body = atoi(optarg); break;
		case 's': opt.status = atoi(optarg); break;
		case 'k': opt.count = atoi(optarg); break;
		case 'p': opt.parallel = atoi(optarg); break;
		case 'h': opt.hold = strtod(optarg, NULL); break;
		case 'm': opt.max_time = strtod(optarg, NULL); break;
		case 'R': opt.resume = true; break;
		default: usage();
		}
	}
	if (!have_dst || !opt.cert || !opt.key || !opt.ca)
		usage();
	if (opt.mode != M_UAS && !is_loopback(&opt.dst))
		die("refusing a target that is not a loopback address");
	if (opt.conns < 1 || opt.parallel < 1 || opt.timeout_ms < 1 || opt.body < 0 ||
	    opt.body > 60000 || opt.status < 100 || opt.status > 699 || opt.count < 0)
		die("option out of range");
	if (!opt.to)
		opt.to = opt.ruri;
	if (phases) {
		if (parse_phases(phases) < 0)
			die("bad --phases (RATE:SECONDS,...)");
	} else if (opt.mode == M_UAC || opt.mode == M_HANDSHAKE) {
		if (duration <= 0 || rate < 0 || (opt.mode == M_UAC && rate <= 0))
			die("need --rate and --duration (or --phases)");
		opt.ph[0].rate = rate;
		opt.ph[0].secs = duration;
		opt.nph = 1;
	}
	if (opt.via) {
		snprintf(opt.via_host, sizeof(opt.via_host), "%s", opt.via);
	} else {
		char ip[INET6_ADDRSTRLEN] = "127.0.0.1";
		if (opt.nbind && opt.bind[0].ss_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)&opt.bind[0])->sin_addr, ip, sizeof(ip));
		snprintf(opt.via_host, sizeof(opt.via_host), "%s:5061", ip);
	}
	if (opt.max_time <= 0) {
		double t = 600;
		int i;
		if (opt.mode == M_UAC || opt.mode == M_HANDSHAKE) {
			for (t = 30 + opt.timeout_ms / 1000.0, i = 0; i < opt.nph; i++)
				t += opt.ph[i].secs;
		} else if (opt.mode == M_IDLE) {
			t = 120 + (opt.hold > 0 ? opt.hold : 0);
		}
		opt.max_time = t;
	}
}

/* ---- TLS ------------------------------------------------------------------- */

/* --resume: the newest session a server gave us (its ticket), offered by the
 * next connection. */
static SSL_SESSION *last_session;

static int
keep_session(SSL *ssl, SSL_SESSION *sess)
{
	(void)ssl;
	if (last_session)
		SSL_SESSION_free(last_session);
	last_session = sess;
	return 1;
}

static SSL_CTX *
tls_ctx(bool server)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());

	if (!ctx)
		die("SSL_CTX_new");
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (SSL_CTX_use_certificate_chain_file(ctx, opt.cert) != 1)
		die(opt.cert);
	if (SSL_CTX_use_PrivateKey_file(ctx, opt.key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		die(opt.key);
	if (SSL_CTX_load_verify_locations(ctx, opt.ca, NULL) != 1)
		die(opt.ca);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | (server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), NULL);
	/* Partial writes let one SSL_write take a whole batch of requests; the
	 * buffer may move between retries because buf_reserve compacts it. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* Every handshake is a full one (the bench measures their cost), unless
	 * --resume: then each offers the ticket of the one before. */
	if (!server && opt.resume) {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
		    SSL_SESS_CACHE_NO_INTERNAL_STORE);
		SSL_CTX_sess_set_new_cb(ctx, keep_session);
		SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	} else {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
		/* A peer that closes without close_notify has just closed: not an error. */
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF);
	}
	if (server) {
		SSL_CTX_set_num_tickets(ctx, 0);
		SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"sipload", 7);
	}
	return ctx;
}

/* ---- connections ---------------------------------------------------------- */

enum cstate { C_CONNECTING, C_HANDSHAKE, C_OPEN, C_CLOSING, C_DEAD };

/* One TLS connection; owned by the mode's table (uac, idle, handshake) or by
 * the loop (uas), freed only by reap() at the end of a loop turn, so an event
 * later in the same epoll batch never touches freed memory.  A table slot
 * that holds it is its `slot`, cleared when it is freed. */
struct conn {
	int fd;
	SSL *ssl;
	enum cstate st;
	uint32_t events;	/* registered with epoll */
	bool read_wants_write;	/* SSL_read said WANT_WRITE */
	bool write_wants_read;	/* SSL_write said WANT_READ */
	bool dirty;		/* output queued since the last flush */
	bool fin_sent;		/* handshake mode: our FIN is out */
	int crlf;		/* CR/LF octets in a row between messages */
	uint64_t t0;		/* connect started, ns */
	uint64_t deadline;	/* of the handshake or the close, ns */
	struct buf in, out;
	struct conn **slot;
	struct conn *next_dead;
};

static int epfd = -1;
static char body_text[60001];	/* the request body: 'x' repeated */
static SSL_CTX *ctx;
static struct conn *dead_list;
static int listen_fd = -1;
static char scratch[READ_CHUNK];

static struct {
	uint64_t accepted, opened, hs_failed, connect_failed, closed_by_peer, errors;
	uint64_t pings;
	char last_error[160];
} cst;

static void
note_error(const char *what)
{
	unsigned long e = ERR_peek_last_error();

	if (e)
		snprintf(cst.last_error, sizeof(cst.last_error), "%s: %s", what,
		    ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "?");
	else
		snprintf(cst.last_error, sizeof(cst.last_error), "%s: %s", what,
		    errno ? strerror(errno) : "closed");
	ERR_clear_error();
}

static void
conn_events(struct conn *c)
{
	struct epoll_event ev;
	uint32_t want = EPOLLIN;

	if (c->st == C_DEAD)
		return;
	if (c->st == C_CONNECTING || c->read_wants_write ||
	    (c->st != C_CLOSING && buf_used(&c->out) > 0 && !c->write_wants_read))
		want |= EPOLLOUT;
	if (c->st == C_CONNECTING)
		want = EPOLLOUT;
	if (want == c->events)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.events = want;
	ev.data.ptr = c;
	if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->events = want;
}

static void
conn_kill(struct conn *c, bool abort_tcp)
{
	if (c->st == C_DEAD)
		return;
	if (abort_tcp) {
		/* RST instead of FIN: no TIME_WAIT for the thousands of short
		 * connections of the handshake mode. */
		struct linger l = { 1, 0 };
		(void)setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	}
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->st = C_DEAD;
	c->next_dead = dead_list;
	dead_list = c;
}

static void
conn_free(struct conn *c)
{
	if (c->slot)
		*c->slot = NULL;
	SSL_free(c->ssl);
	free(c->in.p);
	free(c->out.p);
	free(c);
}

static struct conn *
conn_new(int fd, bool server)
{
	struct conn *c = calloc(1, sizeof(*c));
	struct epoll_event ev;
	int one = 1;

	if (!c)
		return NULL;
	c->fd = fd;
	c->t0 = now_ns();
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((c->ssl = SSL_new(ctx)) == NULL || SSL_set_fd(c->ssl, fd) != 1)
		goto out;
	if (server) {
		SSL_set_accept_state(c->ssl);
		c->st = C_HANDSHAKE;
		c->events = EPOLLIN;
	} else {
		SSL_set_connect_state(c->ssl);
		if (opt.resume && last_session) {
			(void)SSL_set_session(c->ssl, last_session);
			/* One use per ticket (RFC 8446 appendix C.4). */
			SSL_SESSION_free(last_session);
			last_session = NULL;
		}
		if (opt.sni) {
			SSL_set_tlsext_host_name(c->ssl, opt.sni);
			SSL_set_hostflags(c->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
			if (SSL_set1_host(c->ssl, opt.sni) != 1)
				goto out;
		}
		c->st = C_CONNECTING;
		c->events = EPOLLOUT;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = c->events;
	ev.data.ptr = c;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		goto out;
	return c;
out:
	SSL_free(c->ssl);
	free(c);
	return NULL;
}

static unsigned next_bind;

/* A non-blocking connection to the target from the next --bind address. */
static struct conn *
conn_dial(void)
{
	int fd, one = 1;
	struct conn *c;

	fd = socket(opt.dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		note_error("socket");
		cst.connect_failed++;
		return NULL;
	}
	if (opt.nbind) {
		const struct sockaddr_storage *b = &opt.bind[next_bind++ % (unsigned)opt.nbind];
		/* The port is chosen at connect(): a source address then carries
		 * more than 28,000 connections, one per 4-tuple. */
		(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(fd, (const struct sockaddr *)b, b->ss_family == AF_INET ?
		    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)) < 0) {
			note_error("bind");
			close(fd);
			cst.connect_failed++;
			return NULL;
		}
	}
	if (connect(fd, (const struct sockaddr *)&opt.dst, opt.dstlen) < 0 && errno != EINPROGRESS) {
		note_error("connect");
		close(fd);
		cst.connect_failed++;
		return NULL;
	}
	if ((c = conn_new(fd, false)) == NULL) {
		close(fd);
		cst.connect_failed++;
	}
	return c;
}

/* Write queued output; 0, or -1 when the connection failed. */
static int
conn_flush(struct conn *c)
{
	c->dirty = false;
	while (c->st == C_OPEN && buf_used(&c->out) > 0) {
		size_t n = buf_used(&c->out);
		int r, e;

		ERR_clear_error();
		r = SSL_write(c->ssl, c->out.p + c->out.off, n > INT_MAX ? INT_MAX : (int)n);
		if (r > 0) {
			c->out.off += (size_t)r;
			c->write_wants_read = false;
			continue;
		}
		e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_WRITE)
			break;
		if (e == SSL_ERROR_WANT_READ) {
			c->write_wants_read = true;
			break;
		}
		note_error("write");
		cst.errors++;
		return -1;
	}
	conn_events(c);
	return 0;
}

static int
conn_handshake(struct conn *c)
{
	int r, e;

	ERR_clear_error();
	if ((r = SSL_do_handshake(c->ssl)) == 1) {
		c->st = C_OPEN;
		cst.opened++;
		conn_events(c);
		return 1;
	}
	e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		c->read_wants_write = e == SSL_ERROR_WANT_WRITE;
		conn_events(c);
		c->read_wants_write = false;
		return 0;
	}
	note_error("handshake");
	cst.hs_failed++;
	return -1;
}

/* ---- SIP text ---------------------------------------------------------------- */

/* The value of header `name` (or its compact form, if any) in the header
 * block p[0..n), which starts after the start line's CRLF; NULL if absent. */
static const char *
hdr_find(const char *p, size_t n, const char *name, char compact, size_t *vlen)
{
	size_t nl = strlen(name);
	const char *end = p + n, *line = p;

	while (line < end) {
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		const char *q = NULL;

		if (!eol)
			eol = end;
		if ((size_t)(eol - line) > nl && strncasecmp(line, name, nl) == 0)
			q = line + nl;
		else if (compact && (line[0] | 0x20) == compact)
			q = line + 1;
		if (q) {
			while (q < eol && (*q == ' ' || *q == '\t'))
				q++;
			if (q < eol && *q == ':') {
				const char *v = q + 1, *ve = eol;
				while (v < ve && (*v == ' ' || *v == '\t'))
					v++;
				while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
					ve--;
				*vlen = (size_t)(ve - v);
				return v;
			}
		}
		line = eol + 1;
	}
	return NULL;
}

/* Length of the SIP message at the start of p[0..n): 0 while incomplete, -1
 * when it cannot be framed (no Content-Length framing possible). */
static long
sip_frame(const char *p, size_t n)
{
	const char *e, *v, *sol;
	size_t hlen, vl;
	long clen = 0;

	if (p == NULL || n < 4)
		return 0;	/* also tells the compiler memmem gets a buffer */
	if ((e = memmem(p, n, "\r\n\r\n", 4)) == NULL)
		return n > MAX_HDR ? -1 : 0;
	hlen = (size_t)(e - p) + 4;
	sol = memchr(p, '\n', hlen);
	if (sol && (v = hdr_find(sol + 1, hlen - (size_t)(sol + 1 - p), "content-length", 'l', &vl))) {
		char num[16];
		if (vl == 0 || vl >= sizeof(num))
			return -1;
		memcpy(num, v, vl);
		num[vl] = '\0';
		clen = strtol(num, NULL, 10);
		if (clen < 0 || clen > 16 * 1024 * 1024)
			return -1;
	}
	if (hlen + (size_t)clen > n)
		return 0;
	return (long)(hlen + (size_t)clen);
}

/* Drop CR/LF octets before a message; a CRLFCRLF ping gets its CRLF pong. */
static void
skip_crlf(struct conn *c)
{
	while (buf_used(&c->in) > 0) {
		char ch = c->in.p[c->in.off];
		if (ch != '\r' && ch != '\n') {
			c->crlf = 0;
			return;
		}
		c->in.off++;
		if (++c->crlf == 4) {
			c->crlf = 0;
			cst.pings++;
			if (c->st == C_OPEN && buf_add(&c->out, "\r\n", 2) == 0)
				c->dirty = true;
		}
	}
}

/* ---- uac ---------------------------------------------------------------------- */

struct txn {
	uint64_t t;		/* handed to TLS, ns */
	uint16_t status;	/* ST_* or the final status */
};

struct pstat {			/* per phase */
	uint64_t sent, ok, rejected, timeouts, unsent, late, r503, retry_after;
	uint64_t by_status[600];
	struct hist lat_ok, lat_rej;
};

static struct {
	struct conn **c;
	int nconn;
	unsigned rr;
	struct txn *tx;
	uint64_t total, nsent, oldest, answered, dups, stray;
	uint32_t token;
	uint64_t t_start, t_end_send;
	struct pstat ps[MAX_PHASES];
	struct hist lag;
	/* timeline, by send time */
	int nbins;
	uint64_t bin_ns;
	uint32_t *b_sent, *b_ok, *b_rej, *b_tmo, *b_slow, *b_max;
} U;

static int
phase_of(uint64_t seq)
{
	int i;

	for (i = 0; i < opt.nph - 1; i++)
		if (seq < opt.ph[i].first + opt.ph[i].count)
			return i;
	return opt.nph - 1;
}

static int
bin_of(uint64_t t)
{
	uint64_t b;

	if (!U.nbins)
		return -1;
	b = t > U.t_start ? (t - U.t_start) / U.bin_ns : 0;
	return b >= (uint64_t)U.nbins ? U.nbins - 1 : (int)b;
}

static void
uac_response(const char *p, size_t n, uint64_t now)
{
	const char *sol = memchr(p, '\n', n), *v;
	size_t vl, plen;
	char pre[32];
	int status, ph, b;
	struct txn *t;
	struct pstat *ps;
	uint64_t seq, us;

	if (n < 12 || memcmp(p, "SIP/2.0 ", 8) != 0 || !sol)
		return;		/* a request to us: not expected, ignored */
	status = (p[8] - '0') * 100 + (p[9] - '0') * 10 + (p[10] - '0');
	if (status < 100 || status > 699)
		return;
	if (status < 200)
		return;
	v = hdr_find(sol + 1, n - (size_t)(sol + 1 - p), "call-id", 'i', &vl);
	plen = (size_t)snprintf(pre, sizeof(pre), "sl%08x-", U.token);
	if (!v || vl <= plen || memcmp(v, pre, plen) != 0) {
		U.stray++;
		return;
	}
	seq = strtoull(v + plen, NULL, 10);
	if (seq >= U.nsent) {
		U.stray++;
		return;
	}
	t = &U.tx[seq];
	ph = phase_of(seq);
	ps = &U.ps[ph];
	if (t->status != ST_PENDING) {
		if (t->status == ST_TIMEOUT)
			ps->late++;
		else
			U.dups++;
		return;
	}
	t->status = (uint16_t)status;
	U.answered++;
	us = (now - t->t) / 1000;
	ps->by_status[status - 100]++;
	b = bin_of(t->t);
	if (status < 300) {
		ps->ok++;
		hist_add(&ps->lat_ok, us);
		if (b >= 0) {
			U.b_ok[b]++;
			if (us > (uint64_t)opt.slow_ms * 1000)
				U.b_slow[b]++;
			if (us > U.b_max[b])
				U.b_max[b] = (uint32_t)(us > UINT32_MAX ? UINT32_MAX : us);
		}
	} else {
		ps->rejected++;
		hist_add(&ps->lat_rej, us);
		if (b >= 0)
			U.b_rej[b]++;
		if (status == 503) {
			ps->r503++;
			if (hdr_find(sol + 1, n - (size_t)(sol + 1 - p), "retry-after", 0, &vl))
				ps->retry_after++;
		}
	}
}

/* Consume every complete message in c->in; -1 when the stream is garbage. */
static int
consume(struct conn *c, void (*fn)(struct conn *, const char *, size_t, uint64_t), uint64_t now)
{
	for (;;) {
		long len;

		skip_crlf(c);
		if (buf_used(&c->in) == 0)
			return 0;
		if ((len = sip_frame(c->in.p + c->in.off, buf_used(&c->in))) == 0)
			return 0;
		if (len < 0) {
			snprintf(cst.last_error, sizeof(cst.last_error), "unframeable input");
			cst.errors++;
			return -1;
		}
		fn(c, c->in.p + c->in.off, (size_t)len, now);
		c->in.off += (size_t)len;
	}
}

static void
uac_msg(struct conn *c, const char *p, size_t n, uint64_t now)
{
	(void)c;
	uac_response(p, n, now);
}

static void
msg_ignore(struct conn *c, const char *p, size_t n, uint64_t now)
{
	(void)c;
	(void)p;
	(void)n;
	(void)now;
}

static void (*on_msg)(struct conn *, const char *, size_t, uint64_t);

/* Read what TLS has; each chunk's messages are handled at once, stamped with
 * the time of that read.  -1: the connection is finished. */
static int
conn_read(struct conn *c)
{
	int i;

	for (i = 0; i < 32 && c->st == C_OPEN; i++) {
		int r, e;

		if (buf_reserve(&c->in, READ_CHUNK) < 0)
			return -1;
		ERR_clear_error();
		r = SSL_read(c->ssl, c->in.p + c->in.len, (int)(c->in.cap - c->in.len));
		if (r > 0) {
			c->in.len += (size_t)r;
			c->read_wants_write = false;
			if (consume(c, on_msg, now_ns()) < 0)
				return -1;
			continue;
		}
		e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ)
			return 0;
		if (e == SSL_ERROR_WANT_WRITE) {
			c->read_wants_write = true;
			return 0;
		}
		if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)) {
			cst.closed_by_peer++;
			errno = 0;
			note_error("closed by peer");
			return -1;
		}
		note_error("read");
		cst.errors++;
		return -1;
	}
	return 0;
}

/* A non-blocking connect finished: on to the handshake, or -1. */
static int
conn_connected(struct conn *c)
{
	int err = 0;
	socklen_t l = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0 || err) {
		errno = err;
		note_error("connect");
		cst.connect_failed++;
		return -1;
	}
	c->st = C_HANDSHAKE;
	return 0;
}

/* Dispatch one epoll event of a connection. */
static void
conn_io(struct conn *c, uint32_t ev)
{
	if (c->st == C_DEAD)
		return;
	if (c->st == C_CONNECTING && conn_connected(c) < 0) {
		conn_kill(c, true);
		return;
	}
	if (c->st == C_HANDSHAKE) {
		int r = conn_handshake(c);
		if (r < 0)
			conn_kill(c, true);
		if (r <= 0)
			return;
		/* FALLTHROUGH: application data may already be there */
	}
	if (c->st == C_OPEN) {
		if ((ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) || (c->read_wants_write && (ev & EPOLLOUT))) {
			if (conn_read(c) < 0) {
				conn_kill(c, false);
				return;
			}
		}
		if (buf_used(&c->out) > 0 && conn_flush(c) < 0) {
			conn_kill(c, false);
			return;
		}
		conn_events(c);
	}
}

static void
reap(void)
{
	while (dead_list) {
		struct conn *c = dead_list;
		dead_list = c->next_dead;
		conn_free(c);
	}
}

/* Open n client connections (at most --parallel handshakes at a time) and
 * wait up to `secs` for them; returns how many are open. */
static int
open_conns(struct conn **out, int n, double secs)
{
	struct epoll_event evs[256];
	uint64_t deadline = now_ns() + (uint64_t)(secs * 1e9);
	int started = 0, open = 0, failed = 0, i;

	while (!stop_signal && open + failed < n && now_ns() < deadline) {
		int inflight = started - open - failed, k;

		while (started < n && inflight < opt.parallel) {
			out[started] = conn_dial();
			if (!out[started])
				failed++;
			else
				out[started]->slot = &out[started];
			started++;
			inflight++;
		}
		k = epoll_wait(epfd, evs, 256, 10);
		for (i = 0; i < k; i++) {
			struct conn *c = evs[i].data.ptr;
			enum cstate before;
			if (c == NULL)
				continue;	/* stdin */
			before = c->st;
			conn_io(c, evs[i].events);
			if (before != C_OPEN && c->st == C_OPEN)
				open++;
			else if (before != C_DEAD && c->st == C_DEAD)
				failed++;
		}
	}
	for (i = 0; i < started; i++)
		if (out[i] && out[i]->st != C_OPEN)
			conn_kill(out[i], true);
	reap();		/* clears the slots of the dead */
	return open;
}

/* How many requests should have gone out by time t (ns). */
static uint64_t
uac_due(uint64_t t, int *phase)
{
	int i;

	for (i = 0; i < opt.nph; i++) {
		const struct phase *p = &opt.ph[i];
		uint64_t end = p->t0 + (uint64_t)(p->secs * 1e9);
		if (t < end) {
			uint64_t k = (uint64_t)((double)(t - p->t0) * p->rate / 1e9) + 1;
			*phase = i;
			return p->first + (k < p->count ? k : p->count);
		}
	}
	*phase = opt.nph - 1;
	return U.total;
}

static void
uac_send(uint64_t now)
{
	char hdr[1024];
	int ph, i;
	uint64_t due = uac_due(now, &ph);

	while (U.nsent < due) {
		uint64_t seq = U.nsent++;
		int pi = phase_of(seq), b = bin_of(now), hl;
		const struct phase *p = &opt.ph[pi];
		struct txn *t = &U.tx[seq];
		struct conn *c = NULL;
		uint64_t sched = p->t0 + (uint64_t)((double)(seq - p->first) * 1e9 / p->rate);

		t->t = now;
		U.ps[pi].sent++;
		if (b >= 0)
			U.b_sent[b]++;
		hist_add(&U.lag, now > sched ? (now - sched) / 1000 : 0);
		for (i = 0; i < U.nconn; i++) {
			struct conn *x = U.c[U.rr++ % (unsigned)U.nconn];
			if (x && x->st == C_OPEN) {
				c = x;
				break;
			}
		}
		if (!c || buf_used(&c->out) > MAX_OUT) {
			/* Open loop: nowhere to put it is a failure, not a pause. */
			t->status = ST_UNSENT;
			U.ps[pi].unsent++;
			if (b >= 0)
				U.b_tmo[b]++;
			continue;
		}
		hl = snprintf(hdr, sizeof(hdr),
		    "MESSAGE %s SIP/2.0\r\n"
		    "Via: SIP/2.0/TLS %s;branch=z9hG4bK-sl%08x-%llu;rport\r\n"
		    "Max-Forwards: 70\r\n"
		    "From: <%s>;tag=sl%08x\r\n"
		    "To: <%s>\r\n"
		    "Call-ID: sl%08x-%llu@%s\r\n"
		    "CSeq: 1 MESSAGE\r\n"
		    "Content-Type: text/plain\r\n"
		    "Content-Length: %d\r\n\r\n",
		    opt.ruri, opt.via_host, U.token, (unsigned long long)seq, opt.from, U.token,
		    opt.to, U.token, (unsigned long long)seq, opt.via_host, opt.body);
		if (hl < 0 || (size_t)hl >= sizeof(hdr) || buf_add(&c->out, hdr, (size_t)hl) < 0 ||
		    buf_add(&c->out, body_text, (size_t)opt.body) < 0) {
			t->status = ST_UNSENT;
			U.ps[pi].unsent++;
			continue;
		}
		c->dirty = true;
	}
	for (i = 0; i < U.nconn; i++) {
		struct conn *c = U.c[i];
		if (c && c->dirty && c->st == C_OPEN && conn_flush(c) < 0)
			conn_kill(c, false);
	}
}

static void
uac_expire(uint64_t now)
{
	uint64_t tmo = (uint64_t)opt.timeout_ms * 1000000u;

	while (U.oldest < U.nsent) {
		struct txn *t = &U.tx[U.oldest];
		if (t->status == ST_PENDING) {
			int b;
			if (now - t->t < tmo)
				break;
			t->status = ST_TIMEOUT;
			U.ps[phase_of(U.oldest)].timeouts++;
			if ((b = bin_of(t->t)) >= 0)
				U.b_tmo[b]++;
		}
		U.oldest++;
	}
}

static void
json_u32s(FILE *f, const char *name, const uint32_t *a, int n)
{
	int i;

	fprintf(f, "\"%s\":[", name);
	for (i = 0; i < n; i++)
		fprintf(f, "%s%u", i ? "," : "", a[i]);
	fputc(']', f);
}

static void
json_rusage(FILE *f)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	fprintf(f, "\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f,\"maxrss_kib\":%ld",
	    (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6, ru.ru_maxrss);
}

static void
json_conn_counts(FILE *f)
{
	fprintf(f, "\"conns_opened\":%llu,\"connect_failed\":%llu,\"handshake_failed\":%llu,"
	    "\"closed_by_peer\":%llu,\"io_errors\":%llu,\"pings\":%llu,\"last_error\":\"",
	    (unsigned long long)cst.opened, (unsigned long long)cst.connect_failed,
	    (unsigned long long)cst.hs_failed, (unsigned long long)cst.closed_by_peer,
	    (unsigned long long)cst.errors, (unsigned long long)cst.pings);
	for (const char *s = cst.last_error; *s; s++)
		if (*s != '"' && *s != '\\' && (unsigned char)*s >= 0x20)
			fputc(*s, f);
	fputc('"', f);
}

static void
uac_report(bool interrupted)
{
	struct pstat tot;
	uint64_t t_end = now_ns();
	double send_s = (double)(U.t_end_send - U.t_start) / 1e9;
	int i, s;
	bool first = true;
	FILE *f = stdout;

	memset(&tot, 0, sizeof(tot));
	for (i = 0; i < opt.nph; i++) {
		tot.sent += U.ps[i].sent;
		tot.ok += U.ps[i].ok;
		tot.rejected += U.ps[i].rejected;
		tot.timeouts += U.ps[i].timeouts;
		tot.unsent += U.ps[i].unsent;
		tot.late += U.ps[i].late;
		tot.r503 += U.ps[i].r503;
		tot.retry_after += U.ps[i].retry_after;
		for (s = 0; s < 600; s++)
			tot.by_status[s] += U.ps[i].by_status[s];
	}
	/* Whole-run histograms: the sum of the phases'. */
	if (hist_init(&tot.lat_ok) < 0 || hist_init(&tot.lat_rej) < 0)
		die("out of memory");
	for (i = 0; i < opt.nph; i++) {
		size_t k;
		for (k = 0; k < H_BUCKETS; k++) {
			tot.lat_ok.b[k] += U.ps[i].lat_ok.b[k];
			tot.lat_rej.b[k] += U.ps[i].lat_rej.b[k];
		}
		tot.lat_ok.n += U.ps[i].lat_ok.n;
		tot.lat_ok.sum += U.ps[i].lat_ok.sum;
		if (U.ps[i].lat_ok.max > tot.lat_ok.max)
			tot.lat_ok.max = U.ps[i].lat_ok.max;
		tot.lat_rej.n += U.ps[i].lat_rej.n;
		tot.lat_rej.sum += U.ps[i].lat_rej.sum;
		if (U.ps[i].lat_rej.max > tot.lat_rej.max)
			tot.lat_rej.max = U.ps[i].lat_rej.max;
	}
	fprintf(f, "{\"mode\":\"uac\",\"interrupted\":%s,\"conns\":%d,\"sent\":%llu,"
	    "\"answered\":%llu,\"ok\":%llu,\"rejected\":%llu,\"timeouts\":%llu,\"unsent\":%llu,"
	    "\"late\":%llu,\"dups\":%llu,\"stray\":%llu,\"r503\":%llu,\"retry_after\":%llu,"
	    "\"send_s\":%.3f,\"run_s\":%.3f,\"rate_sent\":%.1f,\"rate_ok\":%.1f,\"failed\":{",
	    interrupted ? "true" : "false", U.nconn, (unsigned long long)tot.sent,
	    (unsigned long long)U.answered, (unsigned long long)tot.ok,
	    (unsigned long long)tot.rejected, (unsigned long long)tot.timeouts,
	    (unsigned long long)tot.unsent, (unsigned long long)tot.late,
	    (unsigned long long)U.dups, (unsigned long long)U.stray,
	    (unsigned long long)tot.r503, (unsigned long long)tot.retry_after, send_s,
	    (double)(t_end - U.t_start) / 1e9, send_s > 0 ? (double)tot.sent / send_s : 0.0,
	    send_s > 0 ? (double)tot.ok / send_s : 0.0);
	for (s = 0; s < 600; s++) {
		if (tot.by_status[s] && s + 100 >= 300) {
			fprintf(f, "%s\"%d\":%llu", first ? "" : ",", s + 100,
			    (unsigned long long)tot.by_status[s]);
			first = false;
		}
	}
	fputs("},\"ok_by_status\":{", f);
	first = true;
	for (s = 100; s < 200; s++) {
		if (tot.by_status[s]) {
			fprintf(f, "%s\"%d\":%llu", first ? "" : ",", s + 100,
			    (unsigned long long)tot.by_status[s]);
			first = false;
		}
	}
	fputs("},", f);
	hist_json(f, "lat_ok_us", &tot.lat_ok);
	fputc(',', f);
	hist_json(f, "lat_rej_us", &tot.lat_rej);
	fputc(',', f);
	hist_json(f, "send_lag_us", &U.lag);
	fputs(",\"phases\":[", f);
	for (i = 0; i < opt.nph; i++) {
		const struct pstat *p = &U.ps[i];
		fprintf(f, "%s{\"rate\":%.1f,\"secs\":%.3f,\"sent\":%llu,\"ok\":%llu,\"rejected\":%llu,"
		    "\"timeouts\":%llu,\"unsent\":%llu,\"late\":%llu,\"r503\":%llu,\"retry_after\":%llu,",
		    i ? "," : "", opt.ph[i].rate, opt.ph[i].secs, (unsigned long long)p->sent,
		    (unsigned long long)p->ok, (unsigned long long)p->rejected,
		    (unsigned long long)p->timeouts, (unsigned long long)p->unsent,
		    (unsigned long long)p->late, (unsigned long long)p->r503,
		    (unsigned long long)p->retry_after);
		hist_json(f, "lat_ok_us", &p->lat_ok);
		fputc(',', f);
		hist_json(f, "lat_rej_us", &p->lat_rej);
		fputc('}', f);
	}
	fputs("],", f);
	if (U.nbins) {
		fprintf(f, "\"timeline\":{\"bin_ms\":%d,\"slow_ms\":%d,", opt.timeline_ms, opt.slow_ms);
		json_u32s(f, "sent", U.b_sent, U.nbins);
		fputc(',', f);
		json_u32s(f, "ok", U.b_ok, U.nbins);
		fputc(',', f);
		json_u32s(f, "rejected", U.b_rej, U.nbins);
		fputc(',', f);
		json_u32s(f, "lost", U.b_tmo, U.nbins);
		fputc(',', f);
		json_u32s(f, "slow", U.b_slow, U.nbins);
		fputc(',', f);
		json_u32s(f, "max_ok_us", U.b_max, U.nbins);
		fputs("},", f);
	}
	json_conn_counts(f);
	fputc(',', f);
	json_rusage(f);
	fputs("}\n", f);
	fflush(f);
	free(tot.lat_ok.b);
	free(tot.lat_rej.b);
}

static int
run_uac(void)
{
	struct epoll_event evs[256];
	uint64_t t, end_send, hard_end;
	int i;

	U.token = (uint32_t)getpid() ^ (uint32_t)now_ns();
	for (i = 0; i < opt.nph; i++) {
		opt.ph[i].first = U.total;
		opt.ph[i].count = (uint64_t)(opt.ph[i].rate * opt.ph[i].secs + 0.5);
		U.total += opt.ph[i].count;
		if (hist_init(&U.ps[i].lat_ok) < 0 || hist_init(&U.ps[i].lat_rej) < 0)
			die("out of memory");
	}
	if (U.total == 0 || U.total > 50000000)
		die("--rate x --duration must be 1 .. 50,000,000 requests");
	if ((U.tx = calloc(U.total, sizeof(*U.tx))) == NULL || hist_init(&U.lag) < 0 ||
	    (U.c = calloc((size_t)opt.conns, sizeof(*U.c))) == NULL)
		die("out of memory");
	U.nconn = opt.conns;
	on_msg = uac_msg;
	if (open_conns(U.c, opt.conns, 10) == 0) {
		printf("{\"mode\":\"uac\",\"error\":\"no connection\",");
		json_conn_counts(stdout);
		printf("}\n");
		return 1;
	}
	printf("{\"event\":\"ready\",\"conns\":%d}\n", (int)cst.opened);
	fflush(stdout);

	U.t_start = now_ns();
	for (t = U.t_start, i = 0; i < opt.nph; i++) {
		opt.ph[i].t0 = t;
		t += (uint64_t)(opt.ph[i].secs * 1e9);
	}
	end_send = t;
	hard_end = end_send + (uint64_t)opt.timeout_ms * 1000000u + 2000000000u;
	if (opt.timeline_ms > 0) {
		U.bin_ns = (uint64_t)opt.timeline_ms * 1000000u;
		U.nbins = (int)((hard_end - U.t_start) / U.bin_ns) + 1;
		if (U.nbins > 100000)
			die("--timeline bins too small for the run");
		U.b_sent = calloc((size_t)U.nbins, 4);
		U.b_ok = calloc((size_t)U.nbins, 4);
		U.b_rej = calloc((size_t)U.nbins, 4);
		U.b_tmo = calloc((size_t)U.nbins, 4);
		U.b_slow = calloc((size_t)U.nbins, 4);
		U.b_max = calloc((size_t)U.nbins, 4);
		if (!U.b_sent || !U.b_ok || !U.b_rej || !U.b_tmo || !U.b_slow || !U.b_max)
			die("out of memory");
	}
	while (!stop_signal) {
		uint64_t now = now_ns();
		int k;

		if (U.nsent < U.total) {
			uac_send(now);
			if (U.nsent == U.total)
				U.t_end_send = now;
		}
		uac_expire(now);
		if ((U.nsent == U.total && U.oldest == U.nsent) || now > hard_end)
			break;
		k = epoll_wait(epfd, evs, 256, U.nsent < U.total ? 1 : 10);
		for (i = 0; i < k; i++)
			conn_io(evs[i].data.ptr, evs[i].events);
		reap();
	}
	if (!U.t_end_send)
		U.t_end_send = now_ns();
	for (i = 0; i < U.nconn; i++) {
		if (U.c[i] && U.c[i]->st == C_OPEN) {
			ERR_clear_error();
			(void)SSL_shutdown(U.c[i]->ssl);
			conn_kill(U.c[i], false);
		}
	}
	reap();
	uac_report(stop_signal != 0);
	return 0;
}

/* ---- uas ------------------------------------------------------------------------ */

static struct {
	uint64_t requests, acks, responses, invalid, stamped;
	uint64_t by_method[8];	/* MESSAGE OPTIONS INVITE BYE CANCEL other */
	struct hist stamp;	/* one-way latency of stamped bodies, us */
	char tag[16];
	char reason[32];
} S;

/* A body "T<ns>...": its CLOCK_MONOTONIC stamp, into S.stamp. */
static void
uas_stamp(const char *p, size_t n, uint64_t now)
{
	const char *b = memmem(p, n, "\r\n\r\n", 4);
	uint64_t t = 0;

	if (!b || (size_t)(p + n - (b + 4)) < 2 || b[4] != 'T' || b[5] < '0' || b[5] > '9')
		return;
	for (b += 5; b < p + n && *b >= '0' && *b <= '9'; b++)
		t = t * 10 + (uint64_t)(*b - '0');
	S.stamped++;
	hist_add(&S.stamp, now > t ? (now - t) / 1000 : 0);
}

static const char *const methods[] = { "MESSAGE", "OPTIONS", "INVITE", "BYE", "CANCEL", "other" };

/* The response to request p[0..n): its Via, From, To (a tag added), Call-ID
 * and CSeq lines, copied in order (RFC 3261 §8.2.6.2). */
static void
uas_msg(struct conn *c, const char *p, size_t n, uint64_t now)
{
	const char *sol = memchr(p, '\n', n), *line, *end, *sp;
	char head[96];
	bool copying = false;
	int hl, m;

	if (!sol || (n >= 8 && memcmp(p, "SIP/2.0 ", 8) == 0)) {
		if (!sol)
			S.invalid++;
		return;		/* a response: nothing to answer */
	}
	S.requests++;
	sp = memchr(p, ' ', (size_t)(sol - p));
	if (!sp) {
		S.invalid++;
		return;
	}
	for (m = 0; m < 5; m++)
		if ((size_t)(sp - p) == strlen(methods[m]) && memcmp(p, methods[m], (size_t)(sp - p)) == 0)
			break;
	S.by_method[m]++;
	if ((size_t)(sp - p) == 3 && memcmp(p, "ACK", 3) == 0) {
		S.acks++;
		return;
	}
	uas_stamp(p, n, now);
	hl = snprintf(head, sizeof(head), "SIP/2.0 %d %s\r\n", opt.status, S.reason);
	if (buf_add(&c->out, head, (size_t)hl) < 0)
		return;
	end = memmem(p, n, "\r\n\r\n", 4);
	end = end ? end + 2 : p + n;
	for (line = sol + 1; line < end;) {
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		size_t ll;

		eol = eol ? eol + 1 : end;
		ll = (size_t)(eol - line);
		if (line[0] == ' ' || line[0] == '\t') {
			if (copying)
				buf_add(&c->out, line, ll);
		} else {
			size_t nl = 0;
			while (nl < ll && line[nl] != ':' && line[nl] != ' ' && line[nl] != '\t')
				nl++;
#define IS(s) (nl == strlen(s) && strncasecmp(line, s, nl) == 0)
			copying = IS("via") || IS("v") || IS("from") || IS("f") || IS("call-id") ||
			    IS("i") || IS("cseq");
			if (IS("to") || IS("t")) {
				size_t body = ll;
				bool tagged = false, k;
				while (body > 0 && (line[body - 1] == '\r' || line[body - 1] == '\n'))
					body--;
				for (size_t j = 0; j + 5 <= body; j++)
					if (line[j] == ';' && strncasecmp(line + j + 1, "tag=", 4) == 0)
						tagged = true;
				k = buf_add(&c->out, line, body) == 0;
				if (k && !tagged)
					buf_add(&c->out, S.tag, strlen(S.tag));
				buf_add(&c->out, "\r\n", 2);
				copying = false;
			} else if (copying) {
				buf_add(&c->out, line, ll);
			}
#undef IS
		}
		line = eol;
	}
	buf_add(&c->out, "Content-Length: 0\r\n\r\n", 21);
	c->dirty = true;
	S.responses++;
}

static void
uas_report(void)
{
	int m;

	printf("{\"mode\":\"uas\",\"requests\":%llu,\"responses\":%llu,\"acks\":%llu,\"invalid\":%llu,"
	    "\"accepted\":%llu,\"stamped\":%llu,", (unsigned long long)S.requests,
	    (unsigned long long)S.responses, (unsigned long long)S.acks,
	    (unsigned long long)S.invalid, (unsigned long long)cst.accepted,
	    (unsigned long long)S.stamped);
	for (m = 0; m < 6; m++)
		printf("\"%s\":%llu,", methods[m], (unsigned long long)S.by_method[m]);
	hist_json(stdout, "stamp_us", &S.stamp);
	putchar(',');
	json_conn_counts(stdout);
	putchar(',');
	json_rusage(stdout);
	printf("}\n");
	fflush(stdout);
}

static int
run_uas(uint64_t hard_end)
{
	struct epoll_event evs[256], ev;
	int one = 1, i;

	if (hist_init(&S.stamp) < 0)
		die("out of memory");
	snprintf(S.tag, sizeof(S.tag), ";tag=sl%x", (unsigned)getpid());
	snprintf(S.reason, sizeof(S.reason), "%s", opt.status == 200 ? "OK" :
	    opt.status == 503 ? "Service Unavailable" : opt.status < 300 ? "Accepted" : "Failure");
	listen_fd = socket(opt.dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (listen_fd < 0 ||
	    setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(listen_fd, (struct sockaddr *)&opt.dst, opt.dstlen) < 0 ||
	    listen(listen_fd, 4096) < 0)
		die("listen");
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(epfd, EPOLL_CTL_ADD, listen_fd, &ev);
	on_msg = uas_msg;
	fprintf(stderr, "sipload uas: listening\n");
	while (!stop_signal && now_ns() < hard_end) {
		int k = epoll_wait(epfd, evs, 256, 200);
		if (reset_signal) {
			reset_signal = 0;
			memset(S.stamp.b, 0, H_BUCKETS * sizeof(*S.stamp.b));
			S.stamp.n = S.stamp.sum = S.stamp.max = 0;
		}
		if (report_signal) {
			report_signal = 0;
			uas_report();
		}
		for (i = 0; i < k; i++) {
			struct conn *c = evs[i].data.ptr;
			if (c == NULL) {
				int fd;
				while ((fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					cst.accepted++;
					if ((c = conn_new(fd, true)) == NULL)
						close(fd);
				}
				continue;
			}
			conn_io(c, evs[i].events);
			if (c->st == C_OPEN && c->dirty && conn_flush(c) < 0)
				conn_kill(c, false);
		}
		reap();
	}
	uas_report();
	return 0;
}

/* ---- idle --------------------------------------------------------------------- */

static int
run_idle(void)
{
	struct conn **cs = calloc((size_t)opt.count + 1, sizeof(*cs));
	struct epoll_event evs[256], ev;
	uint64_t t0 = now_ns(), hold_end;
	int open, i, closed = 0;
	bool done = false;

	if (!cs)
		die("out of memory");
	open = open_conns(cs, opt.count, 60);
	printf("{\"mode\":\"idle\",\"open\":%d,\"wanted\":%d,\"secs\":%.3f,", open, opt.count,
	    (double)(now_ns() - t0) / 1e9);
	json_conn_counts(stdout);
	printf("}\n");
	fflush(stdout);
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	(void)epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &ev);	/* stdin; not pollable when /dev/null */
	hold_end = opt.hold > 0 ? now_ns() + (uint64_t)(opt.hold * 1e9) : UINT64_MAX;
	while (!done && !stop_signal && now_ns() < hold_end) {
		int k = epoll_wait(epfd, evs, 256, 200);
		for (i = 0; i < k; i++) {
			struct conn *c = evs[i].data.ptr;
			if (c == NULL) {
				ssize_t r = read(0, scratch, sizeof(scratch));
				(void)r;
				done = true;	/* a line or EOF: let them go */
				continue;
			}
			/* The peers may ping or close; nothing is expected. */
			conn_io(c, evs[i].events);
		}
		reap();
	}
	for (i = 0; i < opt.count; i++) {
		struct conn *c = cs[i];
		if (c && c->st == C_OPEN) {
			ERR_clear_error();
			(void)SSL_shutdown(c->ssl);
			conn_kill(c, true);	/* close_notify, then RST: no TIME_WAIT */
			closed++;
		}
	}
	reap();
	printf("{\"mode\":\"idle\",\"closed\":%d,\"closed_by_peer\":%llu}\n", closed,
	    (unsigned long long)cst.closed_by_peer);
	fflush(stdout);
	free(cs);
	return 0;
}

/* ---- handshake -------------------------------------------------------------------- */

static struct {
	uint64_t started, ok, resumed, closed, closed_after_fin, close_timeout, failed;
	struct hist lat;
} H;

/* The close of a handshake-mode connection: close_notify goes first, and the
 * server, having read it after our Finished, has done all of the handshake's
 * work when it closes.  Our FIN follows only if it has not closed within a
 * second, and whoever closes first, we end with RST: neither side keeps a
 * TIME_WAIT socket per handshake. */
#define HS_FIN_AFTER	1000000000u
#define HS_GIVE_UP	2000000000u

static void
hs_io(struct conn *c, uint32_t ev)
{
	if (c->st == C_CLOSING) {
		/* Waiting for the server's close: it has read our Finished and our
		 * close_notify, so it did all of the handshake's work.  With
		 * --resume its ticket comes first: TLS reads it. */
		ssize_t r;
		size_t got;

		if (opt.resume) {
			ERR_clear_error();
			while (SSL_read_ex(c->ssl, scratch, sizeof(scratch), &got) == 1)
				;
			ERR_clear_error();
		}
		while ((r = read(c->fd, scratch, sizeof(scratch))) > 0)
			;
		if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
			if (c->fin_sent)
				H.closed_after_fin++;
			else
				H.closed++;
			conn_kill(c, true);
		}
		return;
	}
	(void)ev;
	if (c->st == C_CONNECTING && conn_connected(c) < 0) {
		H.failed++;
		conn_kill(c, true);
		return;
	}
	if (c->st == C_HANDSHAKE) {
		int r = conn_handshake(c);
		if (r < 0) {
			H.failed++;
			conn_kill(c, true);
		}
		if (r <= 0)
			return;
		hist_add(&H.lat, (now_ns() - c->t0) / 1000);
		H.ok++;
		if (SSL_session_reused(c->ssl))
			H.resumed++;
		ERR_clear_error();
		(void)SSL_shutdown(c->ssl);
		c->st = C_CLOSING;
		c->t0 = now_ns();
		c->deadline = c->t0 + HS_GIVE_UP;
		conn_events(c);
	}
}

static int
run_handshake(void)
{
	struct epoll_event evs[256];
	struct conn **live;
	uint64_t t0, end, hard_end;
	int nlive = 0, i, cap = 65536;

	if (hist_init(&H.lat) < 0 || (live = calloc((size_t)cap, sizeof(*live))) == NULL)
		die("out of memory");
	t0 = now_ns();
	end = t0 + (uint64_t)(opt.ph[0].secs * 1e9);
	hard_end = end + 10000000000u;
	while (!stop_signal) {
		uint64_t now = now_ns();
		uint64_t due = opt.ph[0].rate > 0 ?
		    (uint64_t)((double)(now - t0) * opt.ph[0].rate / 1e9) + 1 : UINT64_MAX;
		int k, j;

		while (now < end && H.started < due && nlive < cap &&
		    (opt.ph[0].rate > 0 || nlive < opt.parallel)) {
			struct conn *c = conn_dial();
			H.started++;
			if (!c) {
				H.failed++;
				continue;
			}
			c->deadline = now + 5000000000u;
			live[nlive++] = c;
		}
		if ((now >= end && nlive == 0) || now > hard_end)
			break;
		k = epoll_wait(epfd, evs, 256, 1);
		for (i = 0; i < k; i++)
			hs_io(evs[i].data.ptr, evs[i].events);
		now = now_ns();
		for (i = j = 0; i < nlive; i++) {
			struct conn *c = live[i];
			if (c->st == C_CLOSING && !c->fin_sent && now > c->t0 + HS_FIN_AFTER) {
				c->fin_sent = true;
				(void)shutdown(c->fd, SHUT_WR);
			}
			if (c->st != C_DEAD && now > c->deadline) {
				if (c->st == C_CLOSING)
					H.close_timeout++;
				else {
					H.failed++;
					snprintf(cst.last_error, sizeof(cst.last_error), "handshake timed out");
				}
				conn_kill(c, true);
			}
			if (c->st != C_DEAD)
				live[j++] = c;
		}
		nlive = j;
		reap();
	}
	for (i = 0; i < nlive; i++)
		conn_kill(live[i], true);
	reap();
	{
		double secs = (double)(now_ns() - t0) / 1e9;
		printf("{\"mode\":\"handshake\",\"started\":%llu,\"ok\":%llu,\"resumed\":%llu,"
		    "\"server_closed\":%llu,"
		    "\"server_closed_after_fin\":%llu,\"close_timeout\":%llu,\"failed\":%llu,"
		    "\"secs\":%.3f,\"rate_ok\":%.1f,",
		    (unsigned long long)H.started, (unsigned long long)H.ok,
		    (unsigned long long)H.resumed,
		    (unsigned long long)H.closed, (unsigned long long)H.closed_after_fin,
		    (unsigned long long)H.close_timeout,
		    (unsigned long long)H.failed, secs, secs > 0 ? (double)H.ok / secs : 0.0);
		hist_json(stdout, "lat_us", &H.lat);
		putchar(',');
		json_conn_counts(stdout);
		putchar(',');
		json_rusage(stdout);
		printf("}\n");
	}
	free(live);
	return 0;
}

/* ---- main ------------------------------------------------------------------------ */

int
main(int argc, char **argv)
{
	struct sigaction sa;
	struct rlimit rl;
	uint64_t hard_end;

	parse_options(argc, argv);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	sa.sa_handler = on_report;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Every run is bounded: SIGALRM ends it like SIGTERM. */
	alarm((unsigned)(opt.max_time + 0.999));
	hard_end = now_ns() + (uint64_t)(opt.max_time * 1e9);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("epoll_create1");
	ctx = tls_ctx(opt.mode == M_UAS);
	memset(body_text, 'x', sizeof(body_text));
	on_msg = msg_ignore;
	switch (opt.mode) {
	case M_UAC:
		return run_uac();
	case M_UAS:
		return run_uas(hard_end);
	case M_IDLE:
		return run_idle();
	case M_HANDSHAKE:
		return run_handshake();
	}
	return 2;
}
