/* test_xmpp_ops.c: unit tests for what operators read of the XMPP gateway
 * (src/xmpp_query.c) and for the probe's pure parts and early outcomes
 * (src/xmpp_probe.c): streams listed from a gateway whose streams are made
 * here (no socket), the counters read as another thread does, the step a
 * stream that ended had reached, an XEP-0199 answer told from a request,
 * and a probe refused before any stream (no policy, a domain not ours, a
 * gateway closing). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sipedge/xmpp_probe.h"
#include "sipedge/xmpp_query.h"
#include "../../src/xmpp_int.h"
#include "unit.h"

/* A gateway on a loop that never runs: what the readers need of it. */
struct fx {
	uv_loop_t loop;
	struct conf cf;
	struct xmpp_gw gw;
	char *domains[1];
};

static int
fx_init(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	if (uv_loop_init(&f->loop) < 0)
		return -1;
	conf_defaults(&f->cf);
	f->domains[0] = "contoso.test";
	f->cf.domains = f->domains;
	f->cf.ndomains = 1;
	f->gw.loop = &f->loop;
	f->gw.cf = &f->cf;
	return 0;
}

/* A stream linked into the gateway, as xs_new and xgw_link_stream leave it
 * (without a parser or a socket, which the readers do not touch). */
static struct xstream *
fx_stream(struct fx *f, bool outbound, enum xs_state st, const char *local, const char *remote)
{
	struct xstream *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->gw = &f->gw;
	s->outbound = outbound;
	s->id = ++f->gw.next_id;
	s->state = st;
	s->t_start = s->t_in = s->t_out = uv_now(&f->loop);
	snprintf(s->local, sizeof(s->local), "%s", local);
	snprintf(s->remote, sizeof(s->remote), "%s", remote);
	xgw_link_stream(&f->gw, s);
	return s;
}

static void
fx_fini(struct fx *f)
{
	struct xstream *s, *next;

	for (s = f->gw.streams; s; s = next) {
		next = s->next;
		free(s);
	}
	uv_loop_close(&f->loop);
}

static int
test_xmpp_ops_streams(void)
{
	struct fx f;
	struct xmpp_stream_row *v;
	struct xstream *a, *b, *c;
	uint64_t now;
	size_t n;

	CHECK(fx_init(&f) == 0);
	CHECK_EQ_INT(xmpp_query_streams(&f.gw, &v, &n), 0);
	CHECK(v == NULL && n == 0);
	CHECK((a = fx_stream(&f, true, XS_READY, "contoso.test", "fabrikam.test")) != NULL);
	CHECK((b = fx_stream(&f, false, XS_NEGOTIATING, "contoso.test", "")) != NULL);
	CHECK((c = fx_stream(&f, true, XS_CLOSED, "contoso.test", "northwind.test")) != NULL);
	now = uv_now(&f.loop);
	a->auth = XMPP_AUTH_EXTERNAL;
	a->stanzas_out = 3;
	a->bytes_in = 1200;
	a->bytes_out = 900;
	a->qlen = 2;
	snprintf(a->peer, sizeof(a->peer), "127.0.0.20:5269");
	/* Started 5 s ago, ready a second ago, the last stanza now. */
	a->t_start = now - 5000;
	a->t_ready = now - 1000;
	a->t_stanza = now;
	/* Started 4 s ago, never ready, no stanza: idle since it started. */
	b->auth = XMPP_AUTH_DIALBACK;
	b->stanzas_in = 1;
	b->t_start = now - 4000;

	CHECK_EQ_INT(xmpp_query_streams(&f.gw, &v, &n), 0);
	CHECK_EQ_INT(n, 2);                 /* the closed one is left out */
	/* Oldest first, whatever the list's order. */
	CHECK_EQ_INT(v[0].id, a->id);
	CHECK_EQ_INT(v[1].id, b->id);
	CHECK(v[0].outbound && !v[1].outbound);
	CHECK_EQ_STR(v[0].state, "ready");
	CHECK_EQ_STR(v[1].state, "negotiating");
	CHECK_EQ_STR(v[0].auth, "EXTERNAL");
	CHECK_EQ_STR(v[1].auth, "dialback");
	CHECK_EQ_STR(v[0].local, "contoso.test");
	CHECK_EQ_STR(v[0].remote, "fabrikam.test");
	CHECK_EQ_STR(v[1].remote, "");
	CHECK_EQ_STR(v[0].peer, "127.0.0.20:5269");
	CHECK(!v[0].tls && v[0].tls_version[0] == '\0' && v[0].cert[0] == '\0');
	CHECK(!v[0].bidi && !v[1].bidi && !v[0].probe);
	CHECK_EQ_INT(v[0].age_ms, 5000);
	CHECK_EQ_INT(v[0].idle_ms, 0);
	CHECK_EQ_INT(v[1].age_ms, 4000);
	CHECK_EQ_INT(v[1].idle_ms, 4000);
	CHECK_EQ_INT(v[0].stanzas_out, 3);
	CHECK_EQ_INT(v[0].bytes_in, 1200);
	CHECK_EQ_INT(v[0].bytes_out, 900);
	CHECK_EQ_INT(v[0].queued, 2);
	CHECK_EQ_INT(v[1].stanzas_in, 1);
	free(v);
	fx_fini(&f);
	return 0;
}

/* The counters as the main thread reads them: every field copied. */
static int
test_xmpp_ops_counters(void)
{
	struct fx f;
	struct xmpp_counters c;
	uint64_t *p = (uint64_t *)&c;

	CHECK(fx_init(&f) == 0);
	f.gw.ctr.streams_in++;
	f.gw.ctr.streams_out += 2;
	f.gw.ctr.streams_in_ok = 3;
	f.gw.ctr.streams_out_ok = 4;
	f.gw.ctr.streams_refused = 5;
	f.gw.ctr.streams_out_failed = 6;
	f.gw.ctr.tls_failures = 7;
	f.gw.ctr.bad_xml = 8;
	f.gw.ctr.stream_errors_sent = 9;
	f.gw.ctr.stanzas_in = 10;
	f.gw.ctr.stanzas_out = 11;
	f.gw.ctr.stanzas_failed = 12;
	f.gw.ctr.stanzas_out_direct = 13;
	f.gw.ctr.presence_limited = 14;
	f.gw.ctr.bytes_in = 15;
	f.gw.ctr.bytes_out = 16;
	f.gw.ctr.open_streams = 17;
	xmpp_gw_counters(&f.gw, &c);
	/* In declaration order, 1 to 17: none forgotten, none swapped. */
	for (size_t i = 0; i < sizeof(c) / sizeof(uint64_t); i++)
		CHECK_EQ_INT(p[i], i + 1);
	fx_fini(&f);
	return 0;
}

/* The step a stream stopped at, from what it had reached. */
static int
test_xmpp_ops_fail_step(void)
{
	struct policy_xmpp_partner plain = { .tls = STORE_XMPP_NOT_SUPPORTED };
	struct xstream s;

	memset(&s, 0, sizeof(s));
	CHECK_EQ_INT(xprobe_fail_step(&s), XMPP_PROBE_DNS);
	snprintf(s.peer, sizeof(s.peer), "127.0.0.20:5269");
	CHECK_EQ_INT(xprobe_fail_step(&s), XMPP_PROBE_CONNECT);
	s.t_connected = 10;
	CHECK_EQ_INT(xprobe_fail_step(&s), XMPP_PROBE_STREAM);
	s.diag = DIAG_XMPP_TLS_REQUIRED;
	CHECK_EQ_INT(xprobe_fail_step(&s), XMPP_PROBE_TLS);
	s.diag = DIAG_XMPP_AUTH_FAILED;
	CHECK_EQ_INT(xprobe_fail_step(&s), XMPP_PROBE_STREAM);
	s.partner = &plain;                 /* no TLS by policy: authentication next */
	CHECK_EQ_INT(xprobe_fail_step(&s), XMPP_PROBE_AUTH);
	s.partner = NULL;
	s.tls_up = true;
	s.diag = DIAG_XMPP_PEER_ERROR;
	CHECK_EQ_INT(xprobe_fail_step(&s), XMPP_PROBE_AUTH);
	s.t_ready = 20;
	CHECK_EQ_INT(xprobe_fail_step(&s), XMPP_PROBE_PING);
	CHECK_EQ_STR(xmpp_probe_step_name(XMPP_PROBE_CERTIFICATE), "certificate");
	CHECK_EQ_STR(xmpp_probe_step_name(XMPP_PROBE_PING), "ping");
	return 0;
}

static int
answer(const char *xml, char *what, size_t len)
{
	struct xml_doc *d;
	enum xmpp_serr e;
	const char *text;
	int r;

	if (xml_doc_parse(xml, strlen(xml), NULL, &d, &e, &text) < 0)
		return -1;
	r = xprobe_answer(xml_doc_root(d), what, len);
	xml_doc_free(d);
	return r;
}

/* XEP-0199 §4.2: a result, or an error (RFC 6120 §8.3) with its condition. */
static int
test_xmpp_ops_answer(void)
{
	char what[256];

	CHECK_EQ_INT(answer("<iq xmlns='jabber:server' type='result' id='x'/>", what,
	    sizeof(what)), 1);
	CHECK_EQ_STR(what, "result");
	CHECK_EQ_INT(answer("<iq xmlns='jabber:server' type='error' id='x'><error type='cancel'>"
	    "<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
	    "<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>no ping here</text></error></iq>",
	    what, sizeof(what)), 1);
	CHECK_EQ_STR(what, "error: service-unavailable: no ping here");
	CHECK_EQ_INT(answer("<iq xmlns='jabber:server' type='error' id='x'><error type='cancel'>"
	    "<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>?</text></error></iq>", what,
	    sizeof(what)), 1);
	CHECK_EQ_STR(what, "error: undefined-condition: ?");
	/* A request with the same id is not the answer. */
	CHECK_EQ_INT(answer("<iq xmlns='jabber:server' type='get' id='x'><ping xmlns='urn:xmpp:ping'/>"
	    "</iq>", what, sizeof(what)), 0);
	CHECK_EQ_INT(answer("<iq xmlns='jabber:server' id='x'/>", what, sizeof(what)), 0);
	return 0;
}

struct got {
	int calls;
	struct xmpp_probe_result res;
};

static void
got_cb(const struct xmpp_probe_result *res, void *arg)
{
	struct got *g = arg;

	g->calls++;
	g->res = *res;
}

/* Before any stream: the policy's refusal (here: none loaded yet) comes
 * back at once, as the policy step; a local domain that is not ours and a
 * closing gateway are errors without a callback. */
static int
test_xmpp_ops_probe_refused(void)
{
	struct fx f;
	struct got g = { 0 };

	CHECK(fx_init(&f) == 0);
	CHECK_EQ_INT(xmpp_probe_start(&f.gw, "contoso.test", "fabrikam.test", 5, got_cb, &g), 0);
	CHECK_EQ_INT(g.calls, 1);
	CHECK(!g.res.ok && !g.res.answered);
	CHECK_EQ_INT(g.res.nsteps, 1);
	CHECK_EQ_INT(g.res.steps[0].id, XMPP_PROBE_POLICY);
	CHECK(!g.res.steps[0].ok);
	CHECK_EQ_INT(g.res.diag, DIAG_FED_DISABLED);
	CHECK_EQ_STR(g.res.reason, "no policy is loaded");
	CHECK_EQ_STR(g.res.local, "contoso.test");
	CHECK_EQ_STR(g.res.remote, "fabrikam.test");
	CHECK_EQ_STR(g.res.auth, "none");
	CHECK(f.gw.streams == NULL);        /* no stream was made */

	g.calls = 0;
	CHECK_EQ_INT(xmpp_probe_start(&f.gw, "fabrikam.test", "northwind.test", 5, got_cb, &g),
	    -EINVAL);
	f.gw.stopping = true;
	CHECK_EQ_INT(xmpp_probe_start(&f.gw, "contoso.test", "fabrikam.test", 5, got_cb, &g),
	    -ECANCELED);
	CHECK_EQ_INT(g.calls, 0);
	fx_fini(&f);
	return 0;
}

static const struct unit_test tests[] = {
	UNIT(test_xmpp_ops_streams),
	UNIT(test_xmpp_ops_counters),
	UNIT(test_xmpp_ops_fail_step),
	UNIT(test_xmpp_ops_answer),
	UNIT(test_xmpp_ops_probe_refused),
	{ NULL, NULL },
};

int
main(int argc, char **argv)
{
	return unit_main(argc, argv, tests);
}
