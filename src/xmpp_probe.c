/* xmpp_probe.c: the XMPP federation probe (xmpp_probe.h; sipedgectl xmpp
 * probe): an outbound stream like any other (xmpp_out.c finds the server by
 * `_xmpp-server._tcp` SRV, RFC 6120 §3.2, connects, negotiates STARTTLS §5
 * and SASL EXTERNAL §6 or dialback XEP-0220), marked as the probe's so that
 * no stanza of the pool uses it; once authenticated it carries an XMPP ping
 * (XEP-0199 §4.2: an iq get from our domain to the partner's domain), whose
 * answer comes back on whatever stream the partner uses to reach us
 * (xgw_stanza hands it here).  A stream that ends before it is ready is read
 * for the step it reached and why (its reason and diagnostic code, recorded
 * by the stream code as for the pool's stanzas). */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sipedge/log.h"
#include "sipedge/xmpp_query.h"
#include "xmpp_int.h"

/* Ping ids start so; anything else is not a probe's. */
#define XPROBE_ID_PREFIX "sipedge-probe-"

struct xprobe {
	struct xmpp_gw *gw;
	struct xstream *s;                 /* its stream, NULL once gone */
	struct xmpp_probe_result res;
	xmpp_probe_cb cb;
	void *arg;
	unsigned timeout_s;
	uint64_t t0;                       /* loop ms: started */
	uint64_t t_ping, deadline;         /* the ping sent, its answer due (0: not sent) */
	char id[64];                       /* the ping's id */
	char inbound[512];                 /* an inbound stream of the partner that failed */
};

const char *
xmpp_probe_step_name(enum xmpp_probe_step_id id)
{
	switch (id) {
	case XMPP_PROBE_POLICY:
		return "policy";
	case XMPP_PROBE_DNS:
		return "dns";
	case XMPP_PROBE_CONNECT:
		return "connect";
	case XMPP_PROBE_STREAM:
		return "stream";
	case XMPP_PROBE_TLS:
		return "tls";
	case XMPP_PROBE_CERTIFICATE:
		return "certificate";
	case XMPP_PROBE_AUTH:
		return "auth";
	case XMPP_PROBE_PING:
		break;
	}
	return "ping";
}

static void step(struct xprobe *p, enum xmpp_probe_step_id id, bool ok, int64_t ms,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* One more step (ms < 0: no time to show). */
static void
step(struct xprobe *p, enum xmpp_probe_step_id id, bool ok, int64_t ms, const char *fmt, ...)
{
	struct xmpp_probe_step *st;
	va_list ap;

	if (p->res.nsteps >= XMPP_PROBE_STEPS)
		return;
	st = &p->res.steps[p->res.nsteps++];
	st->id = id;
	st->ok = ok;
	st->has_ms = ms >= 0;
	st->ms = ms >= 0 ? (uint64_t)ms : 0;
	va_start(ap, fmt);
	vsnprintf(st->text, sizeof(st->text), fmt, ap);
	va_end(ap);
}

static void
fail(struct xprobe *p, enum xmpp_probe_step_id id, int64_t ms, enum diag_code d, const char *why)
{
	step(p, id, false, ms, "%s", why);
	p->res.diag = d;
	snprintf(p->res.reason, sizeof(p->res.reason), "%.639s", why);
}

/* The end: the result to its owner, the stream (if any) closed, p freed. */
static void
finish(struct xprobe *p)
{
	struct xstream *s = p->s;
	char ctx[512];

	p->res.total_ms = uv_now(p->gw->loop) - p->t0;
	p->res.ok = p->res.answered && p->res.nsteps > 0 &&
	    p->res.steps[p->res.nsteps - 1].ok;
	if (p->res.ok)
		log_info("xmpp: probe of %s from %s: the ping came back after %llu ms",
		    p->res.remote, p->res.local, (unsigned long long)p->res.rtt_ms);
	else
		log_info("xmpp: probe of %s from %s failed at %s: %s", p->res.remote, p->res.local,
		    p->res.nsteps ? xmpp_probe_step_name(p->res.steps[p->res.nsteps - 1].id) : "?",
		    p->res.reason);
	p->cb(&p->res, p->arg);
	if (s != NULL) {
		s->probe = NULL;
		p->s = NULL;
		log_debug("xmpp: probe done, %s", xs_ctx(s, ctx, sizeof(ctx)));
		xs_close(s, XMPP_SERR_NONE, DIAG_NONE, "the probe is done");
	}
	free(p);
}

/* ---- what a stream reached ---- */

enum xmpp_probe_step_id
xprobe_fail_step(const struct xstream *s)
{
	if (s->t_ready)
		return XMPP_PROBE_PING;            /* it ended while the ping was out */
	if (s->peer[0] == '\0')
		return XMPP_PROBE_DNS;             /* no address was ever dialled */
	if (s->t_connected == 0)
		return XMPP_PROBE_CONNECT;
	if (s->tls_up)
		return XMPP_PROBE_AUTH;
	if (s->tls != NULL) {
		enum tls_fail f = tls_sess_fail(s->tls);

		return f == TLS_FAIL_NAME || f == TLS_FAIL_UNTRUSTED || f == TLS_FAIL_NO_CERT ?
		    XMPP_PROBE_CERTIFICATE : XMPP_PROBE_TLS;
	}
	if (s->diag == DIAG_XMPP_TLS_FAILED || s->diag == DIAG_XMPP_TLS_REQUIRED)
		return XMPP_PROBE_TLS;
	/* Without TLS (a partner whose row says not-supported) the next thing
	 * after the headers is authentication. */
	if (s->partner != NULL && s->partner->tls == STORE_XMPP_NOT_SUPPORTED &&
	    s->diag == DIAG_XMPP_AUTH_FAILED)
		return XMPP_PROBE_AUTH;
	return XMPP_PROBE_STREAM;
}

/* The server look-up's outcome: where the stream went to. */
static void
dns_step(struct xprobe *p, const struct xstream *s)
{
	const struct xs_dial *d = s->dial;
	char list[640] = "";
	size_t n = 0;

	p->res.ntargets = 0;
	for (size_t i = 0; d != NULL && i < d->ntargets && i < XMPP_PROBE_TARGETS; i++) {
		snprintf(p->res.targets[i], sizeof(p->res.targets[i]), "%s:%u", d->targets[i].target,
		    (unsigned)d->targets[i].port);
		p->res.ntargets++;
		if (n < sizeof(list))
			n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s (priority %u, weight %u)",
			    i ? ", " : "", p->res.targets[i], (unsigned)d->targets[i].priority,
			    (unsigned)d->targets[i].weight);
	}
	if (s->partner && s->partner->proxy_fqdn && s->partner->proxy_fqdn[0])
		step(p, XMPP_PROBE_DNS, true, -1, "the partner's proxy FQDN %s (no SRV look-up)",
		    p->res.targets[0]);
	else if (s->srv_none)
		step(p, XMPP_PROBE_DNS, true, -1, "no _xmpp-server._tcp.%s SRV record: the domain "
		    "itself, %s (RFC 6120 §3.2.2)", s->remote, p->res.targets[0]);
	else
		step(p, XMPP_PROBE_DNS, true, -1, "_xmpp-server._tcp.%s: %s", s->remote, list);
}

/* The steps s passed, up to (not including) the one it stopped at. */
static void
steps_passed(struct xprobe *p, const struct xstream *s, enum xmpp_probe_step_id upto)
{
	const char *const *names;
	size_t nnames, n = 0;
	char why[256];

	if (upto <= XMPP_PROBE_DNS)
		return;
	dns_step(p, s);
	if (upto <= XMPP_PROBE_CONNECT)
		return;
	snprintf(p->res.address, sizeof(p->res.address), "%s", s->peer);
	step(p, XMPP_PROBE_CONNECT, true, (int64_t)(s->t_connected - s->t_start),
	    "%s (%s)%s%s", s->peer,
	    s->dial && s->dial->target < s->dial->ntargets ? s->dial->targets[s->dial->target].target :
	    "?", xs_tried(s)[0] ? " after: " : "", xs_tried(s));
	/* A failed handshake has no version to show; the failure says it. */
	if (upto <= XMPP_PROBE_CERTIFICATE)
		return;
	if (!s->tls_up) {
		/* The partner's row let the stream go on without TLS. */
		step(p, XMPP_PROBE_TLS, true, -1, "not used: %s",
		    s->partner && s->partner->tls == STORE_XMPP_NOT_SUPPORTED ?
		    "the partner's policy says TLS not-supported" :
		    "the partner offered no STARTTLS, and its policy says TLS optional");
	} else {
		snprintf(p->res.tls_version, sizeof(p->res.tls_version), "%s", tls_sess_version(s->tls));
		snprintf(p->res.tls_cipher, sizeof(p->res.tls_cipher), "%s", tls_sess_cipher(s->tls));
		step(p, XMPP_PROBE_TLS, true, (int64_t)(s->t_tls - s->t_connected), "STARTTLS: %s %s%s",
		    p->res.tls_version, p->res.tls_cipher,
		    tls_sess_resumed(s->tls) ? " (resumed)" : "");
		tls_sess_peer_names(s->tls, &names, &nnames);
		for (size_t i = 0; i < nnames && n + 2 < sizeof(p->res.cert_names); i++)
			n += (size_t)snprintf(p->res.cert_names + n, sizeof(p->res.cert_names) - n,
			    "%s%s", i ? " " : "", names[i]);
		p->res.names_match = tls_sess_peer_check(s->tls, s->remote, why, sizeof(why)) == 0;
		/* The handshake has already refused a certificate that does
		 * not name the domain: a success says so. */
		step(p, XMPP_PROBE_CERTIFICATE, p->res.names_match, -1, "%s%s%s",
		    p->res.names_match ? "valid for " : why, p->res.names_match ? s->remote : "",
		    p->res.names_match ? " (XEP-0178: the XMPP domain itself)" : "");
		if (p->res.cert_names[0] && p->res.nsteps > 0) {
			struct xmpp_probe_step *st = &p->res.steps[p->res.nsteps - 1];
			size_t len = strlen(st->text);

			snprintf(st->text + len, sizeof(st->text) - len, "; it names %s",
			    p->res.cert_names);
		}
	}
	if (upto <= XMPP_PROBE_AUTH)
		return;
	p->res.auth = xmpp_query_auth_name(s->auth);
	step(p, XMPP_PROBE_AUTH, true, (int64_t)(s->t_ready - (s->t_tls ? s->t_tls : s->t_connected)),
	    "%s", s->auth == XMPP_AUTH_EXTERNAL ? "SASL EXTERNAL (RFC 6120 §6, XEP-0178): the partner "
	    "accepts our certificate for our domain" : "server dialback (XEP-0220)");
}

/* ---- the gateway's hooks ---- */

void
xprobe_stream_gone(struct xstream *s)
{
	struct xprobe *p = s->probe;
	enum xmpp_probe_step_id at;
	char why[1024];

	if (p == NULL) {
		/* An inbound stream of a partner being pinged that ends
		 * unauthenticated may be why the answer never comes. */
		if (s->outbound || s->t_ready || !s->remote[0] || !s->reason[0])
			return;
		for (struct xstream *o = s->gw->streams; o; o = o->next)
			if (o->probe && o->probe->t_ping && strcmp(o->remote, s->remote) == 0 &&
			    strcmp(o->local, s->local) == 0)
				snprintf(o->probe->inbound, sizeof(o->probe->inbound), "its stream to us "
				    "(from %s) failed: %.440s", s->peer[0] ? s->peer : "?", s->reason);
		return;
	}
	s->probe = NULL;
	p->s = NULL;
	at = xprobe_fail_step(s);
	steps_passed(p, s, at);
	snprintf(why, sizeof(why), "%s", s->reason[0] ? s->reason : "the stream closed");
	if (at == XMPP_PROBE_DNS && s->dns_nodomain)
		/* RFC 6120 §3.2.2: without SRV the domain's own address, and
		 * there is none either: the domain is not in the DNS at all. */
		snprintf(why, sizeof(why), "no _xmpp-server._tcp.%.200s SRV record and no address for "
		    "%.200s itself: %.384s", s->remote, s->remote, s->reason);
	else if (at == XMPP_PROBE_AUTH && s->auth == XMPP_AUTH_NONE) {
		/* What SASL EXTERNAL needs of us (XEP-0178 §4), which a
		 * refusal seldom says. */
		size_t n = strlen(why);

		snprintf(why + n, sizeof(why) - n, " (the partner must accept our certificate for "
		    "%.200s: it must name %.200s itself; see sipedgectl cert check)", s->local,
		    s->local);
	} else if (at == XMPP_PROBE_PING)
		snprintf(why, sizeof(why), "the stream closed before the ping's answer came: %.400s",
		    s->reason[0] ? s->reason : "no reason given");
	fail(p, at, -1, s->diag != DIAG_NONE ? s->diag : DIAG_XMPP_STREAM_CLOSED, why);
	finish(p);
}

void
xprobe_ready(struct xstream *s)
{
	struct xprobe *p = s->probe;
	struct xml_buf b = { 0 };
	int r;

	steps_passed(p, s, XMPP_PROBE_PING);
	snprintf(p->id, sizeof(p->id), XPROBE_ID_PREFIX "%llu-%08x", (unsigned long long)s->id,
	    (unsigned)(uv_hrtime() & 0xffffffffu));
	/* XEP-0199 §4.2: server to server, from our domain to theirs. */
	r = xml_buf_str(&b, "<iq type='get' id='");
	r = r ? r : xml_buf_str(&b, p->id);
	r = r ? r : xml_buf_str(&b, "' from='");
	r = r ? r : xml_buf_escape(&b, s->local, strlen(s->local), true);
	r = r ? r : xml_buf_str(&b, "' to='");
	r = r ? r : xml_buf_escape(&b, s->remote, strlen(s->remote), true);
	r = r ? r : xml_buf_str(&b, "'><ping xmlns='" XMPP_NS_PING "'/></iq>");
	r = r ? r : xs_write(s, b.p, b.len);
	xml_buf_free(&b);
	if (r < 0) {
		fail(p, XMPP_PROBE_PING, -1, DIAG_XMPP_STREAM_CLOSED, "cannot send the ping on the "
		    "authenticated stream");
		finish(p);
		return;
	}
	s->stanzas_out++;
	s->gw->ctr.stanzas_out++;
	s->t_stanza = p->t_ping = uv_now(s->gw->loop);
	p->deadline = p->t_ping + (uint64_t)p->timeout_s * 1000;
}

int
xprobe_answer(const struct xml_elem *iq, char *what, size_t len)
{
	const char *type = xml_attr_get(iq, "type");
	const struct xml_elem *err, *c, *t;

	if (type == NULL)
		return 0;
	if (strcmp(type, "result") == 0) {
		snprintf(what, len, "result");
		return 1;
	}
	if (strcmp(type, "error") != 0)
		return 0;                  /* a get or set is a request, not the answer */
	/* RFC 6120 §8.3.2: the condition is the child of <error/> in the
	 * stanzas namespace; a <text/> may say more. */
	err = xml_child(iq, XMPP_NS_SERVER, "error");
	for (c = err ? err->first_child : NULL; c; c = c->next)
		if (strcmp(c->ns, XMPP_NS_STANZAS) == 0 && strcmp(c->name, "text") != 0)
			break;
	t = err ? xml_child(err, XMPP_NS_STANZAS, "text") : NULL;
	snprintf(what, len, "error: %s%s%.200s", c ? c->name : "undefined-condition",
	    t && t->text_len ? ": " : "", t ? t->text : "");
	return 1;
}

bool
xprobe_stanza(struct xstream *s, struct xml_doc *doc)
{
	const struct xml_elem *e = xml_doc_root(doc);
	const char *id = xml_attr_get(e, "id");
	struct xprobe *p = NULL;
	char what[256];

	if (id == NULL || strncmp(id, XPROBE_ID_PREFIX, strlen(XPROBE_ID_PREFIX)) != 0 ||
	    !xml_is(e, XMPP_NS_SERVER, "iq"))
		return false;
	for (struct xstream *o = s->gw->streams; o && p == NULL; o = o->next)
		if (o->probe && o->probe->t_ping && strcmp(o->probe->id, id) == 0 &&
		    strcmp(o->local, s->local) == 0 && strcmp(o->remote, s->remote) == 0)
			p = o->probe;
	if (p == NULL || !xprobe_answer(e, what, sizeof(what)))
		return false;
	p->res.answered = true;
	p->res.rtt_ms = uv_now(s->gw->loop) - p->t_ping;
	snprintf(p->res.answer, sizeof(p->res.answer), "%s", what);
	/* Any answer from the partner's domain proves the round trip; an error
	 * (service-unavailable: no XEP-0199 there) is said as it is. */
	step(p, XMPP_PROBE_PING, true, (int64_t)p->res.rtt_ms, "%s from %s after %llu ms, on %s "
	    "(%s, %s, %s)%s", what, s->remote, (unsigned long long)p->res.rtt_ms,
	    s->outbound ? "our stream" : "its stream to us", s->peer[0] ? s->peer : "?",
	    s->tls_up ? tls_sess_version(s->tls) : "no TLS", s->auth == XMPP_AUTH_EXTERNAL ?
	    "SASL EXTERNAL" : s->auth == XMPP_AUTH_DIALBACK ? "dialback" : "not authenticated",
	    strncmp(what, "error", 5) == 0 ? "; the partner does not answer XMPP ping but the "
	    "round trip works" : "");
	xml_doc_free(doc);
	finish(p);
	return true;
}

void
xprobe_tick(struct xmpp_gw *gw, uint64_t now)
{
	struct xstream *s, *next;
	char why[640];

	for (s = gw->streams; s; s = next) {
		struct xprobe *p = s->probe;

		next = s->next;
		if (p == NULL || p->t_ping == 0 || now < p->deadline)
			continue;
		if (p->inbound[0])
			snprintf(why, sizeof(why), "no answer to the ping within %u s: %s", p->timeout_s,
			    p->inbound);
		else
			/* The answer travels on a stream of the partner's:
			 * name what it needs of ours. */
			snprintf(why, sizeof(why), "no answer to the ping within %u s: the partner must "
			    "open a stream to %.200s to answer (our _xmpp-server._tcp SRV record, our "
			    "XMPP listener, our certificate for %.200s)", p->timeout_s, s->local, s->local);
		fail(p, XMPP_PROBE_PING, -1, DIAG_XMPP_TIMEOUT, why);
		finish(p);
	}
}

/* ---- starting ---- */

/* The partner's row in words. */
static void
policy_step(struct xprobe *p, const struct policy_xmpp_partner *pt)
{
	step(p, XMPP_PROBE_POLICY, true, -1, "%s is an allowed XMPP partner (%s; TLS %s, SASL %s, "
	    "dialback %s%s%s)", p->res.remote, store_xmpp_type_name(pt->type),
	    store_xmpp_nego_name(pt->tls), store_xmpp_nego_name(pt->sasl),
	    pt->dialback ? "on" : "off", pt->proxy_fqdn && pt->proxy_fqdn[0] ? ", proxy FQDN " : "",
	    pt->proxy_fqdn && pt->proxy_fqdn[0] ? pt->proxy_fqdn : "");
}

int
xmpp_probe_start(struct xmpp_gw *gw, const char *local, const char *remote,
    unsigned ping_timeout_s, xmpp_probe_cb cb, void *arg)
{
	const struct policy_xmpp_partner *pt;
	struct xstream *s;
	struct xprobe *p;
	enum diag_code d;
	const char *why;
	char text[384];
	int r;

	if (strlen(local) >= CONF_MAX_NAME || strlen(remote) >= CONF_MAX_NAME)
		return -ENAMETOOLONG;
	if (!conf_is_our_domain(gw->cf, local))
		return -EINVAL;
	if (gw->stopping)
		return -ECANCELED;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return -ENOMEM;
	p->gw = gw;
	p->cb = cb;
	p->arg = arg;
	p->timeout_s = ping_timeout_s ? ping_timeout_s : 1;
	p->t0 = uv_now(gw->loop);
	p->res.auth = xmpp_query_auth_name(XMPP_AUTH_NONE);
	snprintf(p->res.local, sizeof(p->res.local), "%s", local);
	snprintf(p->res.remote, sizeof(p->res.remote), "%s", remote);
	if ((pt = xgw_partner(gw, remote, &d, &why)) == NULL) {
		fail(p, XMPP_PROBE_POLICY, -1, d, why);
		finish(p);
		return 0;
	}
	policy_step(p, pt);
	if (xgw_set(gw)->connection_limit && gw->nstreams >= xgw_set(gw)->connection_limit) {
		snprintf(text, sizeof(text), "the edge has %zu XMPP streams open, its connection-limit",
		    gw->nstreams);
		fail(p, XMPP_PROBE_CONNECT, -1, DIAG_XMPP_LIMIT, text);
		finish(p);
		return 0;
	}
	if ((r = xs_new(gw, true, &s)) < 0) {
		free(p);
		return r;
	}
	snprintf(s->local, sizeof(s->local), "%s", local);
	snprintf(s->remote, sizeof(s->remote), "%s", remote);
	s->partner = pt;
	s->probe = p;
	p->s = s;
	xgw_link_stream(gw, s);
	gw->ctr.streams_out++;
	if ((r = xout_dial(s)) < 0) {
		/* As xmpp_gw_send: the reason, then the stream ends (and the
		 * probe with it, at the DNS step). */
		xs_note(s, DIAG_XMPP_UNREACHABLE, "cannot look up %s: %s", remote,
		    r < -10000 ? dns_strerror(r) : strerror(-r));
		xs_abort(s);
	}
	return 0;
}
