/* xmpp_out.c: an outbound server-to-server stream, sipedge as the initiating
 * entity (RFC 6120 §4.2): the partner's server found by its proxy FQDN or
 * `_xmpp-server._tcp` SRV (§3.2.1; the domain itself on port 5269 without
 * SRV, §3.2.2), each target and address tried in turn, then STARTTLS (§5)
 * with the certificate checked against the XMPP domain itself (XEP-0178 §4:
 * not the SRV target), SASL EXTERNAL (§6), and the stream restarted; the
 * partner's row says what is required. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sipedge/log.h"
#include "xmpp_int.h"

static void xout_resolve_target(struct xstream *s);

/* Every target failed: the stream ends, its stanzas answered with why. */
static void
xout_fail(struct xstream *s)
{
	char ctx[512];

	s->gw->ctr.streams_out_failed++;
	xs_note(s, DIAG_XMPP_UNREACHABLE, "no server of %s could be reached: %s", s->remote,
	    xs_tried(s)[0] ? xs_tried(s) : "no address");
	log_info("xmpp: %s, %s", s->reason, xs_ctx(s, ctx, sizeof(ctx)));
	xs_abort(s);
}

static void
tried(struct xstream *s, const char *what, const char *why)
{
	struct xs_dial *d = s->dial;
	size_t n = strlen(d->tried);

	snprintf(d->tried + n, sizeof(d->tried) - n, "%s%s: %s", n ? "; " : "", what, why);
}

void
xout_next(struct xstream *s, const char *why)
{
	struct xs_dial *d = s->dial;
	char a[64];

	if (why != NULL && d->addr < d->naddrs)
		tried(s, conf_sockaddr_str(&d->addrs[d->addr], a, sizeof(a)), why);
	while (++d->addr < d->naddrs) {
		int r = xs_connect(s, &d->addrs[d->addr]);

		if (r == 0)
			return;
		tried(s, conf_sockaddr_str(&d->addrs[d->addr], a, sizeof(a)), uv_strerror(r));
	}
	d->target++;
	xout_resolve_target(s);
}

static void
addr_cb(int status, const struct sockaddr_storage *a, size_t n, void *arg)
{
	struct xstream *s = arg;
	struct xs_dial *d = s->dial;
	char what[300];
	int r;

	s->q = NULL;
	if (status < 0) {
		snprintf(what, sizeof(what), "%s", d->targets[d->target].target);
		tried(s, what, dns_strerror(status));
		if (status != DNS_ENOTFOUND)
			s->dns_failed = true;
		else if (s->srv_none && d->ntargets == 1)
			s->dns_nodomain = true;     /* no SRV and no address: no such domain */
		d->target++;
		xout_resolve_target(s);
		return;
	}
	d->naddrs = n < 4 ? n : 4;
	memcpy(d->addrs, a, d->naddrs * sizeof(*a));
	for (d->addr = 0; d->addr < d->naddrs; d->addr++) {
		char as[64];

		if ((r = xs_connect(s, &d->addrs[d->addr])) == 0)
			return;
		tried(s, conf_sockaddr_str(&d->addrs[d->addr], as, sizeof(as)), uv_strerror(r));
	}
	d->target++;
	xout_resolve_target(s);
}

/* The addresses of the current target, or the end. */
static void
xout_resolve_target(struct xstream *s)
{
	struct xs_dial *d = s->dial;

	d->naddrs = d->addr = 0;
	if (d->target >= d->ntargets) {
		xout_fail(s);
		return;
	}
	s->state = XS_RESOLVING;
	if (dns_addr(s->gw->dns, d->targets[d->target].target, d->targets[d->target].port,
	    addr_cb, s, &s->q) < 0) {
		tried(s, d->targets[d->target].target, "not a valid name");
		d->target++;
		xout_resolve_target(s);
	}
}

static void
srv_cb(int status, const struct dns_srv *v, size_t n, void *arg)
{
	struct xstream *s = arg;
	struct xs_dial *d = s->dial;
	char name[CONF_MAX_NAME + 20];
	size_t have = d->ntargets;

	s->q = NULL;
	snprintf(name, sizeof(name), "_xmpp-server._tcp.%s", s->remote);
	if (status == 0) {
		/* After the direct-TLS targets, if any (XEP-0368 §3). */
		for (size_t i = 0; i < n && d->ntargets < XS_MAX_TARGETS; i++) {
			d->target_tls[d->ntargets] = false;
			d->targets[d->ntargets++] = v[i];
		}
	} else if (status == DNS_ENOTFOUND) {
		/* RFC 6120 §3.2.2: no SRV, the domain itself on 5269. */
		s->srv_none = have == 0;
		if (d->ntargets < XS_MAX_TARGETS) {
			snprintf(d->targets[d->ntargets].target, sizeof(d->targets[0].target), "%s",
			    s->remote);
			d->targets[d->ntargets].port = 5269;
			d->target_tls[d->ntargets++] = false;
		}
	} else if (have == 0) {
		tried(s, name, dns_strerror(status));
		s->dns_failed = true;
		xout_fail(s);
		return;
	} else
		tried(s, name, dns_strerror(status));
	d->target = 0;
	xout_resolve_target(s);
}

/* XEP-0368 §3: _xmpps-server first (TLS from the first octet), then the
 * STARTTLS targets. */
static void
srv_tls_cb(int status, const struct dns_srv *v, size_t n, void *arg)
{
	struct xstream *s = arg;
	struct xs_dial *d = s->dial;
	char name[CONF_MAX_NAME + 20];

	s->q = NULL;
	d->ntargets = 0;
	if (status == 0)
		for (size_t i = 0; i < n && d->ntargets < XS_MAX_TARGETS / 2; i++) {
			d->target_tls[d->ntargets] = true;
			d->targets[d->ntargets++] = v[i];
		}
	snprintf(name, sizeof(name), "_xmpp-server._tcp.%s", s->remote);
	if (dns_srv(s->gw->dns, name, srv_cb, s, &s->q) < 0) {
		tried(s, name, "not a valid name");
		xout_fail(s);
	}
}

/* Find the partner's server and connect (the stream is new). */
int
xout_dial(struct xstream *s)
{
	char name[CONF_MAX_NAME + 20];
	struct xs_dial *d;

	s->state = XS_RESOLVING;
	if (s->dial == NULL && (s->dial = calloc(1, sizeof(*s->dial))) == NULL)
		return -ENOMEM;
	d = s->dial;
	d->ntargets = 0;
	if (s->partner->proxy_fqdn != NULL && s->partner->proxy_fqdn[0]) {
		/* The partner's configured server (the reference system's
		 * ProxyFqdn), on 5269. */
		snprintf(d->targets[0].target, sizeof(d->targets[0].target), "%s",
		    s->partner->proxy_fqdn);
		d->targets[0].port = 5269;
		d->target_tls[0] = false;
		d->ntargets = 1;
		d->target = 0;
		xout_resolve_target(s);
		return 0;
	}
	if (s->partner->tls != STORE_XMPP_NOT_SUPPORTED) {
		snprintf(name, sizeof(name), "_xmpps-server._tcp.%s", s->remote);
		return dns_srv(s->gw->dns, name, srv_tls_cb, s, &s->q);
	}
	snprintf(name, sizeof(name), "_xmpp-server._tcp.%s", s->remote);
	return dns_srv(s->gw->dns, name, srv_cb, s, &s->q);
}

void
xout_start(struct xstream *s)
{
	const struct xs_dial *d = s->dial;

	if (d->target < d->ntargets && d->target_tls[d->target]) {
		/* XEP-0368: TLS first (SNI and the certificate check name the
		 * XMPP domain, ALPN xmpp-server); the header once it is up. */
		s->direct_tls = true;
		if (xs_tls_start(s) < 0) {
			xs_note(s, DIAG_XMPP_TLS_FAILED, "cannot start TLS");
			xs_abort(s);
		}
		return;
	}
	s->direct_tls = false;
	if (xs_send_header(s) < 0)
		xs_abort(s);
}

int
xout_open(struct xstream *s, const struct xml_elem *h, const char *default_ns)
{
	const char *id = xml_attr_get(h, "id");

	(void)default_ns;
	/* The receiving entity's id (dialback keys are made from it). */
	snprintf(s->sid, sizeof(s->sid), "%.39s", id ? id : "");
	return 0;
}

static int
on_features(struct xstream *s, const struct xml_elem *f)
{
	const struct policy_xmpp_partner *p = s->partner;
	struct xml_elem *m;

	if (s->auth != XMPP_AUTH_NONE) {
		/* After SASL's restart: authenticated. */
		xs_ready(s);
		return 0;
	}
	if (!s->tls_up) {
		bool offered = xml_child(f, XMPP_NS_TLS, "starttls") != NULL;

		if (offered && p->tls != STORE_XMPP_NOT_SUPPORTED) {
			if (xs_send_raw(s, "<starttls xmlns='" XMPP_NS_TLS "'/>") < 0) {
				xs_abort(s);
				return -EPIPE;
			}
			return 0;
		}
		if (p->tls == STORE_XMPP_REQUIRED) {
			xs_close(s, XMPP_SERR_POLICY_VIOLATION, DIAG_XMPP_TLS_REQUIRED,
			    "%s does not offer STARTTLS, which its policy requires", s->remote);
			return -EPROTO;
		}
	}
	if (s->verify_only) {
		/* Only to ask about keys (XEP-0220 §2.2.1): no authentication. */
		xdb_flush(s);
		return 0;
	}
	if (s->tls_up && !s->bidi && xml_child(f, XMPP_NS_BIDI_FEAT, "bidi") != NULL) {
		/* XEP-0288 §2.2: one stream both ways, asked before we
		 * authenticate. */
		if (xs_send_raw(s, "<bidi xmlns='" XMPP_NS_BIDI "'/>") < 0) {
			xs_abort(s);
			return -EPIPE;
		}
		s->bidi = true;
	}
	m = s->tls_up ? xml_child(f, XMPP_NS_SASL, "mechanisms") : NULL;
	if (m != NULL && p->sasl != STORE_XMPP_NOT_SUPPORTED) {
		for (struct xml_elem *c = m->first_child; c; c = c->next)
			if (xml_is(c, XMPP_NS_SASL, "mechanism") && strcmp(c->text, "EXTERNAL") == 0) {
				/* XEP-0178 §4: the authorisation identity is
				 * our domain, or empty ("="). */
				if (xs_send_raw(s, "<auth xmlns='" XMPP_NS_SASL "' "
				    "mechanism='EXTERNAL'>=</auth>") < 0) {
					xs_abort(s);
					return -EPIPE;
				}
				return 0;
			}
	}
	if (xdb_allowed(s)) {
		if (xdb_send_result(s) < 0) {
			xs_abort(s);
			return -EPIPE;
		}
		return 0;
	}
	if (!s->tls_up)
		xs_close(s, XMPP_SERR_POLICY_VIOLATION, DIAG_XMPP_AUTH_FAILED,
		    "no way to authenticate with %s without TLS: its policy allows no dialback",
		    s->remote);
	else
		xs_close(s, XMPP_SERR_NOT_AUTHORIZED, DIAG_XMPP_AUTH_FAILED,
		    "%s offers no SASL EXTERNAL (it does not accept our certificate for %s?)%s",
		    s->remote, s->local, p->dialback ? "" : " and its policy allows no dialback");
	return -EPROTO;
}

int
xout_element(struct xstream *s, struct xml_doc *doc)
{
	struct xml_elem *e = xml_doc_root(doc);
	int r = 0;

	if (xml_is(e, XMPP_NS_STREAM, "features")) {
		r = on_features(s, e);
	} else if (xml_is(e, XMPP_NS_TLS, "proceed") && !s->tls_up && s->tls == NULL) {
		s->after = XS_AFTER_TLS;
		if (xs_tls_start(s) < 0) {
			xs_note(s, DIAG_XMPP_TLS_FAILED, "cannot start TLS");
			xs_abort(s);
			r = -EPIPE;
		} else
			r = XMPP_PARSER_PAUSE;
	} else if (xml_is(e, XMPP_NS_TLS, "failure")) {
		xs_close(s, XMPP_SERR_NONE, DIAG_XMPP_TLS_FAILED, "%s refused STARTTLS", s->remote);
		r = -EPROTO;
	} else if (xml_is(e, XMPP_NS_SASL, "success") && s->tls_up) {
		s->auth = XMPP_AUTH_EXTERNAL;
		s->after = XS_AFTER_RESTART;
		r = xs_send_header(s) < 0 ? -EPIPE : XMPP_PARSER_PAUSE;
	} else if (xml_is(e, XMPP_NS_DIALBACK, "result") || xml_is(e, XMPP_NS_DIALBACK, "verify")) {
		return xdb_element(s, doc);
	} else if (xml_is(e, XMPP_NS_SASL, "failure")) {
		struct xml_elem *c = e->first_child, *t = xml_child(e, XMPP_NS_SASL, "text");

		xs_close(s, XMPP_SERR_NONE, DIAG_XMPP_AUTH_FAILED,
		    "%s refused SASL EXTERNAL for %s: %s%s%.200s", s->remote, s->local,
		    c ? c->name : "failure", t ? ": " : "", t ? t->text : "");
		r = -EPROTO;
	} else {
		xs_close(s, XMPP_SERR_UNSUPPORTED_STANZA_TYPE, DIAG_XMPP_BAD_STREAM,
		    "unexpected <%.60s xmlns='%.100s'> while negotiating", e->name, e->ns);
		r = -EPROTO;
	}
	xml_doc_free(doc);
	return r;
}

void
xout_tls_up(struct xstream *s)
{
	/* The certificate named s->remote (the handshake checked it):
	 * a new stream over TLS (RFC 6120 §5.4.3.3). */
	s->header_got = false;
	if (xs_send_header(s) < 0)
		xs_abort(s);
}
