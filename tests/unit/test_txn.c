/* test_txn.c: the proxy core's transactions against a fake transport (no
 * sockets): the transport's functions are defined here, so the linker takes
 * none of transport.c.  A "connection" records what the core sends on it; the
 * test feeds messages in as if they had been read, and runs the workers'
 * loops for the timers.  What no scenario test reaches reliably: Timer C,
 * CANCEL before any provisional response, 430 when a dialog's flow is gone
 * and nothing names where to reach its peer, the redial after a send to
 * another worker's flow failed, and a 2xx retransmission after its
 * transaction ended (RFC 3261 §16.7, §16.8, §16.10, §9.1). */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/msg.h>
#include <sofia-sip/msg_addr.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>

#include "../../src/proxy_int.h"
#include "sipedge/health.h"
#include "sipedge/log.h"
#include "unit.h"

/* ---- the fake transport ---------------------------------------------------- */

#define MAXSENT 32

struct conn {
	struct conn_info info;
	void *user[2];
	unsigned refs;
	bool open;
	char names[2][64];
	const char *np[2];
	char *sent[MAXSENT];
	int nsent;
};

static struct {
	struct conn *conns[16];
	int n;
	struct conn *dial_to;         /* what transport_dial hands out */
	int dials;
} F;

const struct conn_info *conn_info(const struct conn *c) { return &c->info; }
void **conn_user(struct conn *c) { return c->user; }
void conn_ref(struct conn *c) { c->refs++; }
void conn_unref(struct conn *c) { if (c) c->refs--; }
void conn_close(struct conn *c) { c->open = false; }
bool conn_is_open(const struct conn *c) { return c->open; }
const char *transport_strerror(int status) { return status ? "failed" : "success"; }
uint64_t transport_dial_progress(const struct dial_req *req) { (void)req; return 0; }
void transport_dial_cancel(struct dial_req *req) { (void)req; }
void transport_worker_adopt(struct tp_worker *tw, struct tp_handoff *h) { (void)tw; (void)h; }
void transport_handoff_drop(struct tp_handoff *h) { (void)h; }
void transport_worker_each_conn(struct tp_worker *tw, void (*fn)(const struct conn_stat *cs, void *arg),
    void *arg) { (void)tw; (void)fn; (void)arg; }
void transport_worker_trace(struct tp_worker *tw, bool on) { (void)tw; (void)on; }
void transport_worker_set_conf(struct tp_worker *tw, const struct transport_conf *tc,
    struct tls_ctx *mutual, struct tls_ctx *plain) { (void)tw; (void)tc; (void)mutual; (void)plain; }

int
conn_peer_matches(const struct conn *c, const char *fqdn)
{
	return c->info.npeer_names && strcasecmp(c->names[0], fqdn) == 0;
}

int
conn_send(struct conn *c, msg_t *msg)
{
	msg_iovec_t iov[64];
	size_t n, len = 0;
	char *text;

	if (!c->open || c->nsent == MAXSENT)
		return TP_ECLOSED;
	if (msg_serialize(msg, NULL) < 0 || msg_prepare(msg) < 0)
		return -EINVAL;
	n = (size_t)msg_iovec(msg, iov, 64);
	for (size_t i = 0; i < n; i++)
		len += iov[i].mv_len;
	if ((text = malloc(len + 1)) == NULL)
		return -ENOMEM;
	len = 0;
	for (size_t i = 0; i < n; i++) {
		memcpy(text + len, iov[i].mv_base, iov[i].mv_len);
		len += iov[i].mv_len;
	}
	text[len] = '\0';
	c->sent[c->nsent++] = text;
	return 0;
}

struct conn *
transport_conn_find(struct tp_worker *tw, uint64_t id)
{
	(void)tw;
	for (int i = 0; i < F.n; i++)
		if (F.conns[i]->info.id == id && F.conns[i]->open)
			return F.conns[i];
	return NULL;
}

int
transport_dial(struct tp_worker *tw, const struct hop *hop, enum side side, tp_dial_cb cb,
    void *arg, struct conn **conn_out, struct dial_req **req_out)
{
	(void)tw; (void)side; (void)cb; (void)arg; (void)req_out;
	F.dials++;
	if (!hop->has_addr || !F.dial_to)
		return -EINVAL;
	*conn_out = F.dial_to;           /* an established connection, reused */
	return 0;
}

static struct conn *
mkconn(unsigned worker, unsigned seq, enum side side, const char *name, const char *addr)
{
	struct conn *c = calloc(1, sizeof(*c));

	c->info.id = ((uint64_t)worker << 56) | seq;
	c->info.side = side;
	c->info.kind = TP_TLS;
	c->open = true;
	c->refs = 1;
	conf_parse_sockaddr(addr, 5061, &c->info.peer);
	snprintf(c->names[0], sizeof(c->names[0]), "%s", name);
	c->np[0] = c->names[0];
	c->info.peer_names = c->np;
	c->info.npeer_names = 1;
	F.conns[F.n++] = c;
	return c;
}

/* ---- an edge of two workers ---------------------------------------------------- */

static struct conf CF;
static struct proxy PX;
static struct worker W[2];
static struct hop POOL[1];
static char *DOMAINS[] = { "contoso.test" };
static char *INTERNAL[] = { "pool1.contoso.test" };
static struct host_conf HOSTS[1];

static void
mail_cb(struct worker_thread *wt, struct worker_mail *m)
{
	relay_on_post(wt->ud, (struct post *)m);
}

static int
setup(void)
{
	static struct store_allowed allowed[] = { { "fabrikam.test", "sip.fabrikam.test", false, "" } };
	static const char *const local[] = { "contoso.test" };
	struct store_policy sp;
	struct policy *pol;

	log_init("test_txn", 1, getenv("TEST_TXN_VERBOSE") ? LOG_LVL_DEBUG : LOG_LVL_WARNING);
	memset(&F, 0, sizeof(F));
	conf_defaults(&CF);
	snprintf(CF.edge_fqdn, sizeof(CF.edge_fqdn), "sip.contoso.test");
	snprintf(CF.internal_fqdn, sizeof(CF.internal_fqdn), "edge-int.contoso.test");
	CF.domains = DOMAINS;
	CF.ndomains = 1;
	CF.internal_servers = INTERNAL;
	CF.ninternal_servers = 1;
	conf_parse_sockaddr("127.0.0.10:5061", 5061, &POOL[0].addr);
	conf_hop_set(&POOL[0], "pool1.contoso.test", &POOL[0].addr, TP_TLS);
	CF.pool = POOL;
	CF.npool = 1;
	snprintf(HOSTS[0].fqdn, sizeof(HOSTS[0].fqdn), "sip.fabrikam.test");
	conf_parse_sockaddr("127.0.0.20:5061", 5061, &HOSTS[0].addr);
	HOSTS[0].has_port = true;
	CF.hosts = HOSTS;
	CF.nhosts = 1;
	CF.timer_c_ms = 300;
	CF.timer_f_ms = 300;
	CF.failover_delay_ms = 0;
	memset(&sp, 0, sizeof(sp));
	store_config_defaults(&sp.config);
	sp.config.federation = true;
	sp.allowed = allowed;
	sp.nallowed = 1;
	CHECK(policy_build_local(&sp, local, 1, &pol) == 0);
	memset(&PX, 0, sizeof(PX));
	PX.conf = &CF;
	PX.key.k0 = 1;
	PX.key.k1 = 2;
	PX.workers = W;
	PX.nworkers = 2;
	PX.port[SIDE_INTERNAL] = PX.port[SIDE_EXTERNAL] = 5061;
	CHECK(health_new(10000, 16, &PX.health) == 0);
	CHECK(throttle_new(16, 16, &PX.throttle) == 0);
	for (unsigned i = 0; i < 2; i++) {
		struct worker *w = &W[i];

		memset(w, 0, sizeof(*w));
		w->px = &PX;
		w->cf = &CF;
		w->idx = i;
		w->max_txns = 100;
		CHECK(stats_init(&w->stats) == 0);
		hmap_init(&w->by_branch);
		hmap_init(&w->by_key);
		CHECK(worker_init(&w->th, mail_cb, NULL, w) == 0);
		w->renv.cf = &CF;
		w->renv.pol = policy_ref(pol);
		w->renv.loop = &w->th.loop;
		w->renv.key = &PX.key;
		w->renv.throttle = PX.throttle;
	}
	policy_unref(pol);
	return 0;
}

/* Run both workers' loops (mail, timers) for ms. */
static void
run(unsigned ms)
{
	uint64_t end = uv_now(&W[0].th.loop) + ms;

	do {
		for (int i = 0; i < 2; i++) {
			uv_update_time(&W[i].th.loop);
			uv_run(&W[i].th.loop, UV_RUN_NOWAIT);
		}
		usleep(2000);
		uv_update_time(&W[0].th.loop);
	} while (uv_now(&W[0].th.loop) < end);
}

static msg_t *
parse(const char *text)
{
	return msg_make(sipmsg_mclass(), MSG_DO_EXTRACT_COPY, text, (isize_t)strlen(text));
}

/* Feed a message to the core as read from c (on c's worker). */
static void
feed(struct conn *c, const char *text)
{
	msg_t *m = parse(text);

	proxy_on_message(c, m, 0, &W[c->info.id >> 56]);
}

static const char *
last(const struct conn *c)
{
	return c->nsent ? c->sent[c->nsent - 1] : "";
}

static bool
sent_starts(const struct conn *c, int i, const char *prefix)
{
	return i < c->nsent && strncmp(c->sent[i], prefix, strlen(prefix)) == 0;
}

/* A response to the request text req (its Vias, From, To with a tag, Call-ID,
 * CSeq), as the next hop would send it. */
static char *
respond(const char *req, int status, const char *reason, const char *extra)
{
	static char out[8192];
	msg_t *m = parse(req);
	sip_t *sip = sip_object(m);
	size_t o;
	char buf[2048];

	o = (size_t)snprintf(out, sizeof(out), "SIP/2.0 %d %s\r\n", status, reason);
	for (sip_via_t *v = sip->sip_via; v; v = v->v_next) {
		sip_header_field_e(buf, sizeof(buf), (sip_header_t *)v, 0);
		o += (size_t)snprintf(out + o, sizeof(out) - o, "Via: %s\r\n", buf);
	}
	sip_header_field_e(buf, sizeof(buf), (sip_header_t *)sip->sip_from, 0);
	o += (size_t)snprintf(out + o, sizeof(out) - o, "From: %s\r\n", buf);
	sip_header_field_e(buf, sizeof(buf), (sip_header_t *)sip->sip_to, 0);
	o += (size_t)snprintf(out + o, sizeof(out) - o, "To: %s%s\r\n", buf,
	    sip->sip_to->a_tag ? "" : ";tag=callee1");
	o += (size_t)snprintf(out + o, sizeof(out) - o, "Call-ID: %s\r\nCSeq: %u %s\r\n%s"
	    "Content-Length: 0\r\n\r\n", sip->sip_call_id->i_id, sip->sip_cseq->cs_seq,
	    sip->sip_cseq->cs_method_name, extra ? extra : "");
	msg_destroy(m);
	return out;
}

static const char INVITE[] =
    "INVITE sip:bob@fabrikam.test SIP/2.0\r\n"
    "Via: SIP/2.0/TLS 127.0.0.10:5061;branch=z9hG4bK-inv1\r\n"
    "Max-Forwards: 70\r\nFrom: <sip:alice@contoso.test>;tag=a1\r\n"
    "To: <sip:bob@fabrikam.test>\r\nCall-ID: txn-1@contoso.test\r\nCSeq: 1 INVITE\r\n"
    "Contact: <sip:alice@127.0.0.10:5061;transport=tls>\r\nContent-Length: 0\r\n\r\n";

static const char CANCEL[] =
    "CANCEL sip:bob@fabrikam.test SIP/2.0\r\n"
    "Via: SIP/2.0/TLS 127.0.0.10:5061;branch=z9hG4bK-inv1\r\n"
    "Max-Forwards: 70\r\nFrom: <sip:alice@contoso.test>;tag=a1\r\n"
    "To: <sip:bob@fabrikam.test>\r\nCall-ID: txn-1@contoso.test\r\nCSeq: 1 CANCEL\r\n"
    "Content-Length: 0\r\n\r\n";

/* Timer C (RFC 3261 §16.8): a ringing INVITE that is never answered is
 * cancelled downstream when Timer C fires, then answered 408 upstream after
 * Timer F. */
static int
test_txn_timer_c(void)
{
	struct conn *pool, *fab;

	CHECK(setup() == 0);
	pool = mkconn(0, 1, SIDE_INTERNAL, "pool1.contoso.test", "127.0.0.10:40000");
	fab = mkconn(0, 2, SIDE_EXTERNAL, "sip.fabrikam.test", "127.0.0.20:5061");
	F.dial_to = fab;
	feed(pool, INVITE);
	CHECK(sent_starts(pool, 0, "SIP/2.0 100 "));
	CHECK_EQ_INT(fab->nsent, 1);
	CHECK(sent_starts(fab, 0, "INVITE sip:bob@fabrikam.test SIP/2.0"));
	CHECK(strstr(fab->sent[0], "Max-Forwards: 69"));
	feed(fab, respond(fab->sent[0], 180, "Ringing", NULL));
	CHECK(sent_starts(pool, 1, "SIP/2.0 180 "));
	run(200);
	CHECK_EQ_INT(fab->nsent, 1);             /* Timer C not yet */
	run(250);
	CHECK_EQ_INT(fab->nsent, 2);
	CHECK(sent_starts(fab, 1, "CANCEL sip:bob@fabrikam.test SIP/2.0"));
	CHECK_EQ_INT(pool->nsent, 2);
	run(400);
	CHECK_EQ_INT(pool->nsent, 3);
	CHECK(sent_starts(pool, 2, "SIP/2.0 408 "));
	CHECK(strstr(last(pool), "1202"));
	return 0;
}

/* CANCEL before any provisional (RFC 3261 §9.1): answered 200 at once, passed
 * on only once the next hop has sent a provisional response; its 487 is
 * relayed and ACKed hop by hop. */
static int
test_txn_cancel_before_provisional(void)
{
	struct conn *pool, *fab;

	CHECK(setup() == 0);
	pool = mkconn(0, 1, SIDE_INTERNAL, "pool1.contoso.test", "127.0.0.10:40000");
	fab = mkconn(0, 2, SIDE_EXTERNAL, "sip.fabrikam.test", "127.0.0.20:5061");
	F.dial_to = fab;
	feed(pool, INVITE);
	CHECK_EQ_INT(fab->nsent, 1);
	feed(pool, CANCEL);
	CHECK(sent_starts(pool, 1, "SIP/2.0 200 "));
	CHECK(strstr(pool->sent[1], "CSeq: 1 CANCEL"));
	CHECK_EQ_INT(fab->nsent, 1);             /* nothing to cancel yet */
	feed(fab, respond(fab->sent[0], 180, "Ringing", NULL));
	CHECK_EQ_INT(fab->nsent, 2);
	CHECK(sent_starts(fab, 1, "CANCEL sip:bob@fabrikam.test SIP/2.0"));
	feed(fab, respond(fab->sent[0], 487, "Request Terminated", NULL));
	CHECK(sent_starts(pool, pool->nsent - 1, "SIP/2.0 487 "));
	CHECK_EQ_INT(fab->nsent, 3);
	CHECK(sent_starts(fab, 2, "ACK sip:bob@fabrikam.test SIP/2.0"));
	return 0;
}

/* A 2xx retransmission after the INVITE transaction has ended is relayed
 * statelessly along the Via (RFC 3261 §16.7 item 5, §16.11). */
static int
test_txn_2xx_retransmission(void)
{
	struct conn *pool, *fab;
	char ok[8192];

	CHECK(setup() == 0);
	pool = mkconn(0, 1, SIDE_INTERNAL, "pool1.contoso.test", "127.0.0.10:40000");
	fab = mkconn(0, 2, SIDE_EXTERNAL, "sip.fabrikam.test", "127.0.0.20:5061");
	F.dial_to = fab;
	feed(pool, INVITE);
	snprintf(ok, sizeof(ok), "%s", respond(fab->sent[0], 200, "OK",
	    "Contact: <sip:bob@127.0.0.20:5061;transport=tls>\r\n"));
	feed(fab, ok);
	CHECK(sent_starts(pool, pool->nsent - 1, "SIP/2.0 200 "));
	CHECK_EQ_INT(W[0].ntxns, 0);             /* ended */
	feed(fab, ok);
	CHECK_EQ_INT(pool->nsent, 3);
	CHECK(sent_starts(pool, 2, "SIP/2.0 200 "));
	CHECK(!strstr(pool->sent[2], "edge-int.contoso.test") && !strstr(pool->sent[2], "sip.contoso.test"));
	return 0;
}

/* An in-dialog request from outside whose token names a pool peer with no
 * connection, no address and no name left: 430 1203. */
static int
test_txn_flow_gone_430(void)
{
	struct conn *fab;
	struct rr_peer in, ext;
	char tin[RR_TOKEN_MAX + 1], text_[RR_TOKEN_MAX + 1], req[4096];

	CHECK(setup() == 0);
	fab = mkconn(0, 2, SIDE_EXTERNAL, "sip.fabrikam.test", "127.0.0.20:5061");
	memset(&in, 0, sizeof(in));
	in.side = SIDE_INTERNAL;
	in.kind = TP_TCP;
	in.conn_id = 0x77;                       /* long gone */
	memset(&ext, 0, sizeof(ext));
	ext.side = SIDE_EXTERNAL;
	ext.kind = TP_TLS;
	ext.conn_id = fab->info.id;
	snprintf(ext.fqdn, sizeof(ext.fqdn), "sip.fabrikam.test");
	snprintf(ext.domain, sizeof(ext.domain), "fabrikam.test");
	ext.fed = FED_ALLOWED_SERVER;
	CHECK(rr_token_encode(&PX.key, &in, "dlg-1", tin, sizeof(tin)) == 0);
	CHECK(rr_token_encode(&PX.key, &ext, "dlg-1", text_, sizeof(text_)) == 0);
	snprintf(req, sizeof(req), "BYE sip:alice@127.0.0.10:5061;transport=tls SIP/2.0\r\n"
	    "Via: SIP/2.0/TLS 127.0.0.20:5061;branch=z9hG4bK-bye1\r\nMax-Forwards: 70\r\n"
	    "From: <sip:bob@fabrikam.test>;tag=b1\r\nTo: <sip:alice@contoso.test>;tag=a1\r\n"
	    "Call-ID: dlg-1\r\nCSeq: 2 BYE\r\n"
	    "Route: <sip:sip.contoso.test:5061;transport=tls;lr;sipedge=%s>\r\n"
	    "Route: <sip:edge-int.contoso.test:5061;transport=tls;lr;sipedge=%s>\r\n"
	    "Content-Length: 0\r\n\r\n", text_, tin);
	feed(fab, req);
	CHECK_EQ_INT(fab->nsent, 1);
	CHECK(sent_starts(fab, 0, "SIP/2.0 430 "));
	CHECK(strstr(fab->sent[0], "1203"));
	CHECK_EQ_INT(F.dials, 0);
	return 0;
}

/* The dialog's pool connection lives on the other worker and is gone there:
 * that worker says so (POST_SEND_FAILED), and the request is sent on a new
 * connection to the address the token records. */
static int
test_txn_redial_after_cross_worker_failure(void)
{
	struct conn *fab, *pool_new;
	struct rr_peer in, ext;
	char tin[RR_TOKEN_MAX + 1], text_[RR_TOKEN_MAX + 1], req[4096];

	CHECK(setup() == 0);
	fab = mkconn(0, 2, SIDE_EXTERNAL, "sip.fabrikam.test", "127.0.0.20:5061");
	pool_new = mkconn(0, 3, SIDE_INTERNAL, "pool1.contoso.test", "127.0.0.10:5061");
	F.dial_to = pool_new;
	memset(&in, 0, sizeof(in));
	in.side = SIDE_INTERNAL;
	in.kind = TP_TLS;
	in.conn_id = ((uint64_t)1 << 56) | 9;    /* worker 1's, closed */
	snprintf(in.fqdn, sizeof(in.fqdn), "pool1.contoso.test");
	in.has_addr = true;
	conf_parse_sockaddr("127.0.0.10:5061", 5061, &in.addr);
	memset(&ext, 0, sizeof(ext));
	ext.side = SIDE_EXTERNAL;
	ext.kind = TP_TLS;
	ext.conn_id = fab->info.id;
	snprintf(ext.fqdn, sizeof(ext.fqdn), "sip.fabrikam.test");
	snprintf(ext.domain, sizeof(ext.domain), "fabrikam.test");
	ext.fed = FED_ALLOWED_SERVER;
	CHECK(rr_token_encode(&PX.key, &in, "dlg-2", tin, sizeof(tin)) == 0);
	CHECK(rr_token_encode(&PX.key, &ext, "dlg-2", text_, sizeof(text_)) == 0);
	snprintf(req, sizeof(req), "BYE sip:alice@127.0.0.10:5061;transport=tls SIP/2.0\r\n"
	    "Via: SIP/2.0/TLS 127.0.0.20:5061;branch=z9hG4bK-bye2\r\nMax-Forwards: 70\r\n"
	    "From: <sip:bob@fabrikam.test>;tag=b1\r\nTo: <sip:alice@contoso.test>;tag=a1\r\n"
	    "Call-ID: dlg-2\r\nCSeq: 2 BYE\r\n"
	    "Route: <sip:sip.contoso.test:5061;transport=tls;lr;sipedge=%s>\r\n"
	    "Route: <sip:edge-int.contoso.test:5061;transport=tls;lr;sipedge=%s>\r\n"
	    "Content-Length: 0\r\n\r\n", text_, tin);
	feed(fab, req);
	CHECK_EQ_INT(pool_new->nsent, 0);        /* first tried on worker 1 */
	run(50);                                 /* the send, its failure, the redial */
	CHECK_EQ_INT(F.dials, 1);
	CHECK_EQ_INT(pool_new->nsent, 1);
	CHECK(sent_starts(pool_new, 0, "BYE sip:alice@127.0.0.10:5061;transport=tls SIP/2.0"));
	CHECK(strstr(pool_new->sent[0], "Via: SIP/2.0/TLS edge-int.contoso.test"));
	feed(pool_new, respond(pool_new->sent[0], 200, "OK", NULL));
	CHECK(sent_starts(fab, fab->nsent - 1, "SIP/2.0 200 "));
	return 0;
}

static const struct unit_test tests[] = {
	UNIT(test_txn_timer_c),
	UNIT(test_txn_cancel_before_provisional),
	UNIT(test_txn_2xx_retransmission),
	UNIT(test_txn_flow_gone_430),
	UNIT(test_txn_redial_after_cross_worker_failure),
	{ 0 },
};

int
main(int argc, char **argv)
{
	return unit_main(argc, argv, tests);
}
