/* xmpp_gw.c: the XMPP side as a whole: listeners (RFC 6120 §3; XEP-0368 for
 * direct TLS), the streams by domain pair, connection limits, the partner
 * policy (closing the streams of a partner it no longer allows within a
 * second), the timers of the reference system's XMPP gateway (stream
 * establishment, keep-alive, inactivity), and each authenticated stanza's
 * addresses checked against its stream (§8.1.1, §8.1.2, §4.9.3.9) before it
 * goes to the SIP side. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sipedge/log.h"
#include "sipedge/xmpp_addr.h"
#include "xmpp_int.h"

const struct store_xmpp_config *
xgw_set(const struct xmpp_gw *gw)
{
	static struct store_xmpp_config defaults;
	static bool made;

	if (gw->pol != NULL)
		return policy_xmpp_config(gw->pol);
	if (!made) {
		/* The store's defaults (the reference system's). */
		defaults.connection_limit = 1000;
		defaults.partner_connection_limit = 20;
		defaults.keepalive_interval = 300;
		defaults.stream_establishment_timeout = 60;
		defaults.stream_inactivity_timeout = 600;
		defaults.subscription_refresh_interval = 28800;
		made = true;
	}
	return &defaults;
}

const struct policy_xmpp_partner *
xgw_partner(struct xmpp_gw *gw, const char *domain, enum diag_code *d, const char **why)
{
	static char text[CONF_MAX_NAME + 96];
	const struct policy_xmpp_partner *p = NULL;

	if (gw->pol == NULL) {
		*d = DIAG_FED_DISABLED;
		*why = "no policy is loaded";
		return NULL;
	}
	switch (policy_xmpp_decide(gw->pol, domain, &p)) {
	case POLICY_XMPP_PARTNER:
		return p;
	case POLICY_XMPP_FEDERATION_OFF:
		*d = DIAG_FED_DISABLED;
		snprintf(text, sizeof(text), "federation is off: %.200s refused", domain);
		break;
	case POLICY_XMPP_LOCAL:
		*d = DIAG_XMPP_HOST_UNKNOWN;
		snprintf(text, sizeof(text), "%.200s is one of our own domains, not a partner", domain);
		break;
	case POLICY_XMPP_BLOCKED:
		*d = DIAG_FED_BLOCKED;
		snprintf(text, sizeof(text), "%.200s is blocked", domain);
		break;
	case POLICY_XMPP_NOT_PARTNER:
	default:
		*d = DIAG_XMPP_NOT_PARTNER;
		snprintf(text, sizeof(text), "%.200s is not an allowed XMPP partner", domain);
		break;
	}
	*why = text;
	return NULL;
}

/* ---- stanza errors and the presence rate ---- */

void
xmpp_gw_sent_log(int status, enum diag_code d, const char *text, void *arg)
{
	if (status != 0)
		log_info("xmpp: %s not sent: %u %s", arg ? (const char *)arg : "a stanza",
		    (unsigned)d, text);
}

/* A stanza error reply (RFC 6120 §8.3) to a stanza from `from` (the
 * partner's JID) for `to` (ours): the addresses swapped, the id kept. */
void
xmpp_gw_reply_error(struct xmpp_gw *gw, const char *ldom, const char *rdom, const char *kind,
    const char *from, const char *to, const char *id, enum xmpp_cond cond, enum diag_code d,
    const char *text)
{
	struct xml_doc *doc;
	struct xml_elem *m, *e, *t;
	char line[512];

	if (xml_doc_new(&doc, XMPP_NS_SERVER, kind) < 0)
		return;
	m = xml_doc_root(doc);
	snprintf(line, sizeof(line), "%u %s", (unsigned)d, text);
	if (xml_attr_set(doc, m, NULL, "type", "error") < 0 ||
	    xml_attr_set(doc, m, NULL, "from", to) < 0 || xml_attr_set(doc, m, NULL, "to", from) < 0 ||
	    (id[0] && xml_attr_set(doc, m, NULL, "id", id) < 0) ||
	    (e = xml_elem_add(doc, m, NULL, "error")) == NULL ||
	    xml_attr_set(doc, e, NULL, "type", xmpp_errtype_name(xmpp_cond_type(cond))) < 0 ||
	    xml_attr_set(doc, e, NULL, "by", ldom) < 0 ||
	    xml_elem_add(doc, e, XMPP_NS_STANZAS, xmpp_cond_name(cond)) == NULL ||
	    (t = xml_elem_add(doc, e, XMPP_NS_STANZAS, "text")) == NULL ||
	    xml_attr_set(doc, t, XMPP_NS_XML, "lang", "en") < 0 ||
	    xml_text_set(doc, t, line, strlen(line)) < 0) {
		xml_doc_free(doc);
		return;
	}
	xmpp_gw_send(gw, ldom, rdom, doc, xmpp_gw_sent_log, (void *)"an error stanza");
}

/* A partner domain's presence bucket: xmpp-presence-burst tokens, refilled
 * at xmpp-presence-rate a second. */
struct xrate {
	struct xrate *next;
	char domain[CONF_MAX_NAME];
	double tokens;
	uint64_t at;                       /* loop ms of the last refill */
	uint64_t logged;                   /* loop ms of the last log line */
	uint64_t refused;                  /* since that line */
};

static struct xrate *
rate_of(struct xmpp_gw *gw, const char *domain, uint64_t now)
{
	struct xrate *r;

	for (r = gw->rates; r; r = r->next)
		if (strcmp(r->domain, domain) == 0)
			return r;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	snprintf(r->domain, sizeof(r->domain), "%s", domain);
	r->tokens = gw->cf->xmpp_presence_burst;
	r->at = now;
	r->next = gw->rates;
	gw->rates = r;
	return r;
}

/* Whether one more presence stanza from domain is within its rate. */
static bool
presence_admit(struct xmpp_gw *gw, const char *domain, uint64_t now)
{
	struct xrate *r = rate_of(gw, domain, now);
	double burst = gw->cf->xmpp_presence_burst;

	if (r == NULL)
		return true;                   /* out of memory: no bucket, no limit */
	r->tokens += (double)(now - r->at) * gw->cf->xmpp_presence_rate / 1000.0;
	if (r->tokens > burst)
		r->tokens = burst;
	r->at = now;
	if (r->tokens >= 1.0) {
		r->tokens -= 1.0;
		return true;
	}
	r->refused++;
	if (r->logged == 0 || now - r->logged >= 60000) {
		log_warnx("xmpp: %s sends presence faster than %u a second (after a burst of %u): "
		    "%llu stanza%s refused with resource-constraint (%u)", domain,
		    gw->cf->xmpp_presence_rate, gw->cf->xmpp_presence_burst,
		    (unsigned long long)r->refused, r->refused == 1 ? "" : "s",
		    (unsigned)DIAG_XMPP_PRES_RATE);
		r->logged = now;
		r->refused = 0;
	}
	return false;
}

/* Buckets full again and quiet for a minute go. */
static void
rates_prune(struct xmpp_gw *gw, uint64_t now, bool all)
{
	for (struct xrate **pp = &gw->rates; *pp;) {
		struct xrate *r = *pp;

		if (all || (now - r->at >= 60000 && r->tokens + (double)(now - r->at) *
		    gw->cf->xmpp_presence_rate / 1000.0 >= gw->cf->xmpp_presence_burst)) {
			*pp = r->next;
			free(r);
		} else
			pp = &r->next;
	}
}

/* After xmpp_gw_close: the memory goes once the timer and every stream
 * (whose close callbacks reach the gateway) are closed. */
static void
gw_maybe_free(struct xmpp_gw *gw)
{
	if (!gw->stopping || !gw->tick_closed || !gw->kick_closed || gw->nstreams > 0)
		return;
	if (gw->pol)
		policy_unref(gw->pol);
	tls_ctx_free(gw->server);
	tls_ctx_free(gw->client);
	rates_prune(gw, 0, true);
	free(gw->listeners);
	free(gw->listener_tls);
	free(gw);
}

void
xgw_unlink(struct xstream *s)
{
	struct xmpp_gw *gw = s->gw;

	xgw_lock(gw);                      /* other workers walk the list */
	if (s->prev)
		s->prev->next = s->next;
	else if (gw->streams == s)
		gw->streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
	if (gw->nstreams)
		gw->nstreams--;
	gw->ctr.open_streams = gw->nstreams;
	xgw_unlock(gw);
	gw_maybe_free(gw);
}

void
xgw_link_stream(struct xmpp_gw *gw, struct xstream *s)
{
	xgw_lock(gw);
	s->next = gw->streams;
	if (gw->streams)
		gw->streams->prev = s;
	gw->streams = s;
	gw->nstreams++;
	gw->ctr.open_streams = gw->nstreams;
	xgw_unlock(gw);
}

/* Another worker left a stream's rest, or saw its socket fail. */
static void
on_kick(uv_async_t *a)
{
	struct xmpp_gw *gw = a->data;
	struct xmpp_share *sh = gw->share;
	struct xstream *s, *next;

	if (sh == NULL)
		return;
	pthread_mutex_lock(&sh->mu);       /* recursive: xs_take_rest takes it too */
	for (s = gw->streams; s; s = next) {
		next = s->next;
		if (s->rest != NULL || s->wire_failed)
			xs_take_rest(s);
	}
	pthread_mutex_unlock(&sh->mu);
}

static void
kick_closed_cb(uv_handle_t *h)
{
	struct xmpp_gw *gw = h->data;

	gw->kick_closed = true;
	gw_maybe_free(gw);
}

static unsigned
partner_streams(struct xmpp_gw *gw, const char *remote, const struct xstream *except)
{
	unsigned n = 0;

	for (struct xstream *s = gw->streams; s; s = s->next)
		if (s != except && s->state != XS_CLOSED && strcmp(s->remote, remote) == 0)
			n++;
	return n;
}

/* The partner's connection limit, checked once its domain is known. */
int
xgw_admit(struct xstream *s)
{
	struct xmpp_gw *gw = s->gw;
	unsigned limit = s->partner->connection_limit;

	if (limit && partner_streams(gw, s->remote, s) >= limit) {
		gw->ctr.streams_refused++;
		xs_close(s, XMPP_SERR_RESOURCE_CONSTRAINT, DIAG_XMPP_LIMIT,
		    "%s has %u streams open, its limit", s->remote, limit);
		return -EPROTO;
	}
	return 0;
}

/* ---- listeners ---- */

static void
on_accept(uv_stream_t *ls, int status)
{
	struct xmpp_gw *gw = ls->data;
	size_t i = (size_t)((uv_tcp_t *)ls - gw->listeners);
	struct xstream *s;
	char ctx[512];

	if (status < 0 || gw->stopping)
		return;
	if (xs_new(gw, false, &s) < 0)
		return;
	if (uv_accept(ls, (uv_stream_t *)&s->tcp) < 0) {
		xs_abort(s);
		return;
	}
	xgw_link_stream(gw, s);
	gw->ctr.streams_in++;
	s->direct_tls = gw->listener_tls[i];
	if (xs_accepted(s) < 0) {
		xs_abort(s);
		return;
	}
	if (xgw_set(gw)->connection_limit && gw->nstreams > xgw_set(gw)->connection_limit) {
		gw->ctr.streams_refused++;
		log_warnx("%s: XMPP connection-limit %u reached, refusing %s", __func__,
		    xgw_set(gw)->connection_limit, xs_ctx(s, ctx, sizeof(ctx)));
		xs_close(s, XMPP_SERR_RESOURCE_CONSTRAINT, DIAG_XMPP_LIMIT,
		    "the edge has %u XMPP streams open, its limit", xgw_set(gw)->connection_limit);
	}
}

void
xmpp_gw_reload(struct xmpp_gw *gw, const struct conf *cf, struct tls_ctx *server,
    struct tls_ctx *client)
{
	struct tls_ctx *os = gw->server, *oc = gw->client;

	gw->cf = cf;
	gw->server = server ? tls_ctx_ref(server) : NULL;
	gw->client = client ? tls_ctx_ref(client) : NULL;
	tls_ctx_free(os);
	tls_ctx_free(oc);
}

int
xmpp_gw_new(uv_loop_t *loop, const struct conf *cf, struct dns *dns, struct tls_ctx *server,
    struct tls_ctx *client, const struct xmpp_hooks *hooks, void *hooks_arg,
    struct xmpp_gw **out, char *err, size_t errlen)
{
	struct xmpp_gw *gw;
	int r;

	if ((gw = calloc(1, sizeof(*gw))) == NULL) {
		snprintf(err, errlen, "xmpp: out of memory");
		return -ENOMEM;
	}
	gw->loop = loop;
	gw->cf = cf;
	gw->dns = dns;
	gw->server = server ? tls_ctx_ref(server) : NULL;
	gw->client = client ? tls_ctx_ref(client) : NULL;
	gw->hooks = hooks;
	gw->hooks_arg = hooks_arg;
	if ((r = uv_timer_init(loop, &gw->tick)) < 0) {
		snprintf(err, errlen, "xmpp: timer: %s", uv_strerror(r));
		tls_ctx_free(gw->server);
		tls_ctx_free(gw->client);
		free(gw);
		return r;
	}
	gw->tick.data = gw;
	gw->kick.data = gw;
	if ((r = uv_async_init(loop, &gw->kick, on_kick)) < 0) {
		snprintf(err, errlen, "xmpp: async: %s", uv_strerror(r));
		gw->kick_closed = true;
		goto out;
	}
	if ((r = xdb_load_secret(gw, err, errlen)) < 0)
		goto out;
	if (cf->nxmpp_listeners &&
	    ((gw->listeners = calloc(cf->nxmpp_listeners, sizeof(*gw->listeners))) == NULL ||
	    (gw->listener_tls = calloc(cf->nxmpp_listeners, sizeof(bool))) == NULL)) {
		snprintf(err, errlen, "xmpp: out of memory");
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < cf->nxmpp_listeners; i++) {
		const struct xmpp_listener_conf *xl = &cf->xmpp_listeners[i];
		char a[64];

		if ((r = uv_tcp_init(loop, &gw->listeners[i])) < 0)
			goto fail;
		gw->nlisteners++;
		gw->listeners[i].data = gw;
		gw->listener_tls[i] = xl->direct_tls;
		if ((r = uv_tcp_bind(&gw->listeners[i], (const struct sockaddr *)&xl->addr, 0)) < 0 ||
		    (r = uv_listen((uv_stream_t *)&gw->listeners[i], 128, on_accept)) < 0) {
		fail:
			snprintf(err, errlen, "%s: listen %s %s: %s", xl->source,
			    xl->direct_tls ? "xmpps" : "xmpp", conf_sockaddr_str(&xl->addr, a, sizeof(a)),
			    uv_strerror(r));
			goto out;
		}
	}
	*out = gw;
	return 0;
out:
	/* Freed once its handles are closed (the loop runs them down). */
	xmpp_gw_close(gw);
	return r;
}

/* ---- policy and timers ---- */

/* Streams of partners the policy no longer allows end now. */
static void
recheck(struct xmpp_gw *gw)
{
	struct xstream *s, *next;
	enum diag_code d;
	const char *why;

	for (s = gw->streams; s; s = next) {
		next = s->next;
		if (!s->remote[0] || s->state == XS_CLOSED || s->state == XS_CLOSING)
			continue;
		if ((s->partner = xgw_partner(gw, s->remote, &d, &why)) == NULL)
			xs_close(s, XMPP_SERR_POLICY_VIOLATION, d, "%s", why);
	}
}

void
xmpp_gw_set_policy(struct xmpp_gw *gw, struct policy *pol)
{
	struct policy *old = gw->pol;

	gw->pol = pol ? policy_ref(pol) : NULL;
	/* Every stream's row now comes from the new snapshot (or it ends)
	 * before the old one may go. */
	recheck(gw);
	if (old)
		policy_unref(old);
}

/* How long an authenticated stream reads nothing before its expat is given
 * back (xmpp_parser_sleep): long enough that a conversation keeps it, short
 * enough that the streams of a quiet partner cost little more than their
 * TLS (a new expat costs some 10 µs when the stream speaks again). */
#define XS_PARSER_SLEEP_MS 10000

static void
on_tick(uv_timer_t *t)
{
	struct xmpp_gw *gw = t->data;
	const struct store_xmpp_config *set = xgw_set(gw);
	uint64_t now = uv_now(gw->loop);
	struct xstream *s, *next;

	for (s = gw->streams; s; s = next) {
		next = s->next;
		if (s->state == XS_CLOSED || s->state == XS_CLOSING)
			continue;
		if (s->state != XS_READY) {
			if (now - s->t_start >= (uint64_t)set->stream_establishment_timeout * 1000) {
				xs_note(s, DIAG_XMPP_TIMEOUT, "the stream with %s was not established "
				    "within %u s (stream-establishment-timeout)%s%s",
				    s->remote[0] ? s->remote : s->peer, set->stream_establishment_timeout,
				    xs_tried(s)[0] ? ": " : "", xs_tried(s));
				xs_close(s, XMPP_SERR_CONNECTION_TIMEOUT, DIAG_XMPP_TIMEOUT, "%s", s->reason);
			}
			continue;
		}
		/* Inactivity counts stanzas, not keep-alives. */
		if (set->stream_inactivity_timeout &&
		    now - s->t_ready >= (uint64_t)set->stream_inactivity_timeout * 1000 &&
		    xs_since(now, s->t_stanza) >= (uint64_t)set->stream_inactivity_timeout * 1000) {
			xs_close(s, XMPP_SERR_NONE, DIAG_NONE, "no stanza for %u s "
			    "(stream-inactivity-timeout)", set->stream_inactivity_timeout);
			continue;
		}
		/* A stream that has read nothing for a while gives its parser's
		 * memory back until it has more than white space to read. */
		if (s->parser && now - s->t_in >= XS_PARSER_SLEEP_MS)
			(void)xmpp_parser_sleep(s->parser);
		if (set->keepalive_interval && (s->partner == NULL || s->partner->keepalive) &&
		    xs_since(now, s->t_out) >= (uint64_t)set->keepalive_interval * 1000)
			(void)xs_send_raw(s, " ");      /* RFC 6120 §4.6.1 */
	}
	xprobe_tick(gw, now);
	rates_prune(gw, now, false);
}

/* ---- stanzas ---- */

/* The domain of a JID, lower case; false if it is not a valid JID. */
static bool
jid_domain(const char *jid, char *out, size_t len)
{
	struct xmpp_jid j;

	if (jid == NULL || xmpp_jid_parse(jid, &j, NULL) < 0 || strlen(j.domain) >= len)
		return false;
	memcpy(out, j.domain, strlen(j.domain) + 1);
	return true;
}

void
xgw_stanza(struct xstream *s, struct xml_doc *doc)
{
	struct xml_elem *e = xml_doc_root(doc);
	char from[CONF_MAX_NAME], to[CONF_MAX_NAME];

	s->t_stanza = uv_now(s->gw->loop);
	/* RFC 6120 §8.1.2.1: from must be the authenticated domain of the
	 * stream (or a JID at it); §8.1.1.1: to must be ours on this stream. */
	if (!jid_domain(xml_attr_get(e, "from"), from, sizeof(from)) ||
	    strcmp(from, s->remote) != 0) {
		xs_close(s, XMPP_SERR_INVALID_FROM, DIAG_XMPP_INVALID_FROM,
		    "stanza from '%.200s' on a stream authenticated for %s",
		    xml_attr_get(e, "from") ? xml_attr_get(e, "from") : "", s->remote);
		xml_doc_free(doc);
		return;
	}
	if (!jid_domain(xml_attr_get(e, "to"), to, sizeof(to)) || strcmp(to, s->local) != 0) {
		xs_close(s, XMPP_SERR_HOST_UNKNOWN, DIAG_XMPP_HOST_UNKNOWN,
		    "stanza to '%.200s' on a stream for %s",
		    xml_attr_get(e, "to") ? xml_attr_get(e, "to") : "", s->local);
		xml_doc_free(doc);
		return;
	}
	if (xprobe_stanza(s, doc))
		return;                     /* a probe's ping answered */
	/* Each presence stanza costs the pool or the store some work (a
	 * probe, a subscription, NOTIFYs to watchers): a partner gets its
	 * rate, and what is over it an error (RFC 6120 §8.3.3.18), never an
	 * error in answer to an error (§8.3.1). */
	if (strcmp(e->name, "presence") == 0 && !presence_admit(s->gw, s->remote, s->t_stanza)) {
		const char *type = xml_attr_get(e, "type"), *id = xml_attr_get(e, "id");

		s->gw->ctr.presence_limited++;
		if (type == NULL || strcmp(type, "error") != 0)
			xmpp_gw_reply_error(s->gw, s->local, s->remote, "presence",
			    xml_attr_get(e, "from"), xml_attr_get(e, "to"), id ? id : "",
			    XMPP_COND_RESOURCE_CONSTRAINT, DIAG_XMPP_PRES_RATE,
			    "presence over the partner's rate (xmpp-presence-rate)");
		xml_doc_free(doc);
		return;
	}
	if (s->gw->hooks && s->gw->hooks->stanza)
		s->gw->hooks->stanza(s->gw->hooks_arg, s->gw, s->local, s->remote, s->partner, doc);
	else
		xml_doc_free(doc);
}

/* A stream we can send local → remote on (xs_carries_ours): the partner's
 * bidirectional one once it is up, else ours, up or on its way. */
static struct xstream *
find_out(struct xmpp_gw *gw, const char *local, const char *remote)
{
	for (struct xstream *s = gw->streams; s; s = s->next)
		if (!s->outbound && s->state == XS_READY && xs_carries_ours(s) &&
		    strcmp(s->local, local) == 0 && strcmp(s->remote, remote) == 0)
			return s;
	for (struct xstream *s = gw->streams; s; s = s->next)
		if (s->outbound && xs_carries_ours(s) && s->state != XS_CLOSED &&
		    s->state != XS_CLOSING &&
		    strcmp(s->local, local) == 0 && strcmp(s->remote, remote) == 0)
			return s;
	return NULL;
}

void
xmpp_gw_send(struct xmpp_gw *gw, const char *local, const char *remote, struct xml_doc *doc,
    xmpp_sent_cb cb, void *arg)
{
	const struct policy_xmpp_partner *p;
	struct xs_pending *q;
	struct xstream *s;
	enum diag_code d;
	const char *why;
	int r;

	if (gw->stopping) {
		cb(503, DIAG_XMPP_STREAM_CLOSED, "the edge is shutting down", arg);
		xml_doc_free(doc);
		return;
	}
	if ((p = xgw_partner(gw, remote, &d, &why)) == NULL) {
		gw->ctr.stanzas_failed++;
		cb(diag_lookup(d)->status, d, why, arg);
		xml_doc_free(doc);
		return;
	}
	if ((s = find_out(gw, local, remote)) == NULL) {
		if (xgw_set(gw)->connection_limit && gw->nstreams >= xgw_set(gw)->connection_limit) {
			gw->ctr.stanzas_failed++;
			cb(503, DIAG_XMPP_LIMIT, "the edge's XMPP connection-limit is reached", arg);
			xml_doc_free(doc);
			return;
		}
		if ((r = xs_new(gw, true, &s)) < 0) {
			cb(503, DIAG_XMPP_STREAM_CLOSED, "out of memory", arg);
			xml_doc_free(doc);
			return;
		}
		snprintf(s->local, sizeof(s->local), "%s", local);
		snprintf(s->remote, sizeof(s->remote), "%s", remote);
		s->partner = p;
		xgw_link_stream(gw, s);
		gw->ctr.streams_out++;
		if ((r = xout_dial(s)) < 0) {
			xs_note(s, DIAG_XMPP_UNREACHABLE, "cannot look up %s: %s", remote,
			    r < -10000 ? dns_strerror(r) : strerror(-r));
			/* Queue first, so that the error reaches cb. */
		}
	}
	if (s->state == XS_READY) {
		r = xs_send_doc(s, xml_doc_root(doc));
		xml_doc_free(doc);
		if (r == 0) {
			s->stanzas_out++;
			gw->ctr.stanzas_out++;
			s->t_stanza = uv_now(gw->loop);
			cb(0, DIAG_NONE, "sent", arg);
		} else {
			gw->ctr.stanzas_failed++;
			cb(503, DIAG_XMPP_STREAM_CLOSED, "the XMPP stream failed while sending", arg);
		}
		return;
	}
	if (s->qlen >= XS_QUEUE_MAX || (q = calloc(1, sizeof(*q))) == NULL) {
		gw->ctr.stanzas_failed++;
		cb(503, DIAG_XMPP_QUEUE_FULL, "too many stanzas wait for the stream", arg);
		xml_doc_free(doc);
		return;
	}
	q->doc = doc;
	q->cb = cb;
	q->arg = arg;
	if (s->qtail)
		s->qtail->next = q;
	else
		s->qhead = q;
	s->qtail = q;
	s->qlen++;
	if (s->diag != DIAG_NONE && s->state == XS_RESOLVING && s->q == NULL)
		xs_abort(s);                /* the look-up could not even start */
}

unsigned
xmpp_gw_subscription_refresh(const struct xmpp_gw *gw)
{
	return xgw_set(gw)->subscription_refresh_interval;
}

const char *
xmpp_message_type(const struct store_xmpp_config *set)
{
	return set != NULL && set->message_type == STORE_XMPP_MSG_NORMAL ? "normal" : "chat";
}

static void
gw_free_cb(uv_handle_t *h)
{
	struct xmpp_gw *gw = h->data;

	gw->tick_closed = true;
	gw_maybe_free(gw);
}

void
xmpp_gw_close(struct xmpp_gw *gw)
{
	struct xstream *s, *next;

	gw->stopping = true;
	if (gw->share) {
		/* Other workers hand their requests to worker 0 from now. */
		pthread_mutex_lock(&gw->share->mu);
		gw->share->gw = NULL;
		gw->share->thr = NULL;
		pthread_mutex_unlock(&gw->share->mu);
	}
	for (s = gw->streams; s; s = next) {
		next = s->next;
		xs_close(s, XMPP_SERR_SYSTEM_SHUTDOWN, DIAG_XMPP_STREAM_CLOSED, "the edge is shutting down");
		if (s->state != XS_CLOSED)
			xs_abort(s);
	}
	for (size_t i = 0; i < gw->nlisteners; i++)
		uv_close((uv_handle_t *)&gw->listeners[i], NULL);
	if (!gw->kick_closed)
		uv_close((uv_handle_t *)&gw->kick, kick_closed_cb);
	uv_close((uv_handle_t *)&gw->tick, gw_free_cb);
}

/* Start the timers (after the first policy). */
void
xmpp_gw_start(struct xmpp_gw *gw)
{
	uv_timer_start(&gw->tick, on_tick, 1000, 1000);
}
