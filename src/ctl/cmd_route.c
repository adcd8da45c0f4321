/* cmd_route.c: sipedgectl route, a dry run of the daemon's routing of a new
 * (out-of-dialog) request: the same federation decision (fedroute.c), our
 * SIP domains, host pins and DNS servers from the daemon's configuration, and
 * real DNS look-ups (dns.c on a private libuv loop), in the order of
 * src/proxy.c route_request, route_outbound, route_inbound, inbound_accept;
 * each step is printed, then the outcome (RFC 3263 §4 next hops, or the status
 * and diagnostic code the daemon would answer with). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/url.h>

#include "ctl.h"
#include "sipedge/conf.h"
#include "sipedge/diag.h"
#include "sipedge/dns.h"
#include "sipedge/fedroute.h"
#include "sipedge/policy.h"
#include "sipedge/sipmsg.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

#define DEFAULT_CONF SYSCONFDIR "/sipedge/sipedge.conf"
/* What src/proxy.c keeps: at most MAX_HOPS next hops and SRV targets, reason
 * text cut as its struct sip_problem detail (192) and the ms-diagnostics
 * header's cleaned copy (256) cut it. */
#define ROUTE_MAX_HOPS 8
#define PROB_DETAIL_MAX 192
#define REASON_MAX 256
#define TRUST_HEADER "ms-edge-proxy-message-trust"

/* One dry run.  Owns its steps, the policy reference, the loop and resolver. */
struct route {
	struct ctl *c;
	const struct conf *cf;
	const char *conf_path;
	struct policy *pol;
	uv_loop_t loop;
	bool loop_open;
	struct dns *dns;

	char **steps;
	size_t nsteps;

	/* The outcome: refused (status != 0), else forwarded or accepted. */
	bool inbound;
	int status;
	enum diag_code diag;
	char reason[REASON_MAX];
	enum fed_type type;
	char domain[NAMES_MAX + 1];
	char provider[65];
	char peer[NAMES_MAX + 1];
	char trust[FEDROUTE_TRUST_MAX];
	bool default_route, throttled;
	struct hop hops[ROUTE_MAX_HOPS];
	size_t nhops;
	/* The SRV targets' resolution, as the daemon's res_diag and last_detail. */
	enum diag_code res_diag;
	char last_detail[384];
};

/* A look-up run to its end on the private loop; results copied out of the
 * callback (dns.h: its data is valid only during the call). */
struct sync_q {
	bool done;
	int status;
	struct dns_srv *srv;
	struct sockaddr_storage *addr;
	size_t n;
};

/* ------------------------------------------------------------------ output */

static int step(struct route *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Record a step; for people it is printed at once, so that a slow look-up
 * shows where the time goes.  0 or -ENOMEM. */
static int
step(struct route *r, const char *fmt, ...)
{
	char buf[2048], **v, *s;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if ((s = strdup(buf)) == NULL ||
	    (v = realloc(r->steps, (r->nsteps + 1) * sizeof(*v))) == NULL) {
		free(s);
		return -ENOMEM;
	}
	r->steps = v;
	r->steps[r->nsteps++] = s;
	if (!r->c->json) {
		fprintf(r->c->out, "%zu. %s\n", r->nsteps, s);
		fflush(r->c->out);
	}
	return 0;
}

/* The refusal the daemon would answer with.  Its reason text is the detail
 * (cut at max, as the daemon's buffer for it) or the code's text, cleaned as
 * sipmsg.c puts it in the ms-diagnostics header. */
static int
refuse(struct route *r, int status, enum diag_code d, const char *detail, size_t max)
{
	const char *text = detail && detail[0] ? detail : diag_lookup(d)->text;
	size_t i;

	r->status = status;
	r->diag = d;
	if (max > sizeof(r->reason))
		max = sizeof(r->reason);
	for (i = 0; text[i] && i + 1 < max; i++)
		r->reason[i] = text[i] >= 0x20 && text[i] < 0x7f && text[i] != '"' &&
		    text[i] != '\\' ? text[i] : '?';
	r->reason[i] = '\0';
	return -1;
}

static const char *
addr_str(const struct sockaddr_storage *a, char *buf, size_t len)
{
	return conf_sockaddr_str(a, buf, len);
}

/* "127.0.0.20:5061 (sip.fabrikam.test)", with " tcp" for a lab hop. */
static const char *
hop_str(const struct hop *h, char *buf, size_t len)
{
	char a[80];

	if (h->has_addr)
		snprintf(buf, len, "%s%s (%s)", addr_str(&h->addr, a, sizeof(a)),
		    h->kind == TP_TCP ? " tcp" : "", h->fqdn);
	else
		snprintf(buf, len, "%s:%u%s (address looked up when dialled)", h->fqdn, h->port,
		    h->kind == TP_TCP ? " tcp" : "");
	return buf;
}

static const char *
hops_str(const struct route *r, char *buf, size_t len)
{
	size_t used = 0;
	char one[CONF_MAX_NAME + 96];

	buf[0] = '\0';
	for (size_t i = 0; i < r->nhops && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
		    hop_str(&r->hops[i], one, sizeof(one)));
	return buf;
}

/* "allowed partner domain fabrikam.test", "provider MSN for msn.test". */
static const char *
type_str(enum fed_type t, const char *domain, const char *provider, char *buf, size_t len)
{
	switch (t) {
	case FED_ALLOWED_SERVER:
		snprintf(buf, len, "allowed partner server %s", domain);
		break;
	case FED_PROVIDER:
		snprintf(buf, len, "provider %s for %s", provider, domain);
		break;
	case FED_ALLOWED_DOMAIN:
		snprintf(buf, len, "allowed partner domain %s", domain);
		break;
	case FED_DISCOVERED:
		snprintf(buf, len, "discovered partner %s", domain);
		break;
	case FED_NONE:
		snprintf(buf, len, "%s", domain);
		break;
	}
	return buf;
}

static void
print_text(const struct route *r)
{
	char type[NAMES_MAX + 128], hops[ROUTE_MAX_HOPS * (CONF_MAX_NAME + 96)];

	if (r->status != 0) {
		fprintf(r->c->out, "result: refused %d (%u) %s\n", r->status, (unsigned)r->diag,
		    r->reason);
		return;
	}
	type_str(r->type, r->domain, r->provider, type, sizeof(type));
	if (r->inbound)
		fprintf(r->c->out, "result: accept from %s (peer %s), forward to the pool via %s\n",
		    type, r->peer, hops_str(r, hops, sizeof(hops)));
	else
		fprintf(r->c->out, "result: forward to %s%s via %s\n", type,
		    r->default_route ? " by the default route" : "", hops_str(r, hops, sizeof(hops)));
}

/* A hop's address without its port (which has its own key), or null. */
static void
json_address(struct json_out *o, const struct hop *h)
{
	char a[80], *end;

	if (!h->has_addr) {
		json_out_null(o);
		return;
	}
	addr_str(&h->addr, a, sizeof(a));
	if ((end = strrchr(a, ':')) != NULL)
		*end = '\0';
	if (a[0] == '[') {
		memmove(a, a + 1, strlen(a));
		a[strlen(a) - 1] = '\0';
	}
	json_out_string(o, a);
}

/* The keys of a forwarded or accepted request. */
static void
json_accepted(struct json_out *o, const struct route *r)
{
	json_out_key(o, "type");
	json_out_string(o, fedroute_type_name(r->type));
	json_out_key(o, "domain");
	json_out_string(o, r->domain);
	if (r->type == FED_PROVIDER) {
		json_out_key(o, "provider");
		json_out_string(o, r->provider);
	}
	json_out_key(o, r->inbound ? "peer" : "default_route");
	if (r->inbound)
		json_out_string(o, r->peer);
	else
		json_out_bool(o, r->default_route);
	json_out_key(o, "throttled");
	json_out_bool(o, r->throttled);
	json_out_key(o, "trust");
	json_out_string(o, r->trust[0] ? r->trust : NULL);
	json_out_key(o, "hops");
	json_out_begin_array(o);
	for (size_t i = 0; i < r->nhops; i++) {
		json_out_begin_object(o);
		json_out_key(o, "fqdn");
		json_out_string(o, r->hops[i].fqdn);
		json_out_key(o, "address");
		json_address(o, &r->hops[i]);
		json_out_key(o, "port");
		json_out_int(o, r->hops[i].port);
		json_out_key(o, "transport");
		json_out_string(o, r->hops[i].kind == TP_TCP ? "tcp" : "tls");
		json_out_end_object(o);
	}
	json_out_end_array(o);
}

static void
print_json(const struct route *r)
{
	struct json_out o;

	json_out_init(&o, r->c->out);
	json_out_begin_object(&o);
	json_out_key(&o, "steps");
	json_out_begin_array(&o);
	for (size_t i = 0; i < r->nsteps; i++)
		json_out_string(&o, r->steps[i]);
	json_out_end_array(&o);
	json_out_key(&o, "result");
	json_out_begin_object(&o);
	json_out_key(&o, "action");
	json_out_string(&o, r->status ? "refuse" : r->inbound ? "accept" : "forward");
	if (r->status != 0) {
		json_out_key(&o, "status");
		json_out_int(&o, r->status);
		json_out_key(&o, "code");
		json_out_int(&o, r->diag);
		json_out_key(&o, "reason");
		json_out_string(&o, r->reason);
	} else {
		json_accepted(&o, r);
	}
	json_out_end_object(&o);
	json_out_end_object(&o);
	json_out_end(&o);
}

/* --------------------------------------------------------------------- DNS */

static void
sync_srv_cb(int status, const struct dns_srv *v, size_t n, void *arg)
{
	struct sync_q *q = arg;

	q->done = true;
	q->status = status;
	if (status == 0 && n > 0 && (q->srv = calloc(n, sizeof(*v))) != NULL) {
		memcpy(q->srv, v, n * sizeof(*v));
		q->n = n;
	} else if (status == 0 && n > 0) {
		q->status = -ENOMEM;
	}
}

static void
sync_addr_cb(int status, const struct sockaddr_storage *a, size_t n, void *arg)
{
	struct sync_q *q = arg;

	q->done = true;
	q->status = status;
	if (status == 0 && n > 0 && (q->addr = calloc(n, sizeof(*a))) != NULL) {
		memcpy(q->addr, a, n * sizeof(*a));
		q->n = n;
	} else if (status == 0 && n > 0) {
		q->status = -ENOMEM;
	}
}

/* Run the loop until q's callback ran: the resolver's own time-outs bound
 * this (dns-timeout × 2 tries × servers). */
static void
sync_wait(struct route *r, struct sync_q *q)
{
	while (!q->done)
		if (uv_run(&r->loop, UV_RUN_ONCE) == 0 && !q->done) {
			/* Nothing left that could call back: a broken promise of
			 * dns.c; treat it as a failed look-up. */
			q->done = true;
			q->status = DNS_EFAIL;
		}
}

static void
sync_free(struct sync_q *q)
{
	free(q->srv);
	free(q->addr);
	memset(q, 0, sizeof(*q));
}

/* The resolver the daemon's workers make from the same configuration
 * (worker.c). */
static int
dns_open(struct route *r)
{
	struct dns_conf dc;
	int rc;

	if ((rc = uv_loop_init(&r->loop)) != 0)
		return ctl_fail(r->c, CTL_FAIL, "event loop: %s", uv_strerror(rc));
	r->loop_open = true;
	memset(&dc, 0, sizeof(dc));
	dc.servers = r->cf->dns_servers[0] ? r->cf->dns_servers : NULL;
	dc.timeout_ms = r->cf->dns_timeout_ms;
	dc.tries = 2;
	dc.max_ttl_s = 3600;
	dc.neg_ttl_s = 60;
	if ((rc = dns_new(&r->loop, &dc, &r->dns)) < 0)
		return ctl_fail(r->c, CTL_DB, "%s: dns-server %s: %s", r->conf_path,
		    dc.servers ? dc.servers : "(system)",
		    rc > -10000 ? strerror(-rc) : dns_strerror(rc));
	return 0;
}

static void
dns_end(struct route *r)
{
	if (r->dns != NULL)
		dns_close(r->dns);
	r->dns = NULL;
	if (!r->loop_open)
		return;
	/* dns_close frees from close callbacks: let them run. */
	uv_run(&r->loop, UV_RUN_DEFAULT);
	uv_loop_close(&r->loop);
	r->loop_open = false;
}

/* ---------------------------------------------------------------- next hops */

static void
add_hop(struct route *r, const char *fqdn, const struct sockaddr_storage *a, enum tp_kind kind)
{
	if (r->nhops < ROUTE_MAX_HOPS)
		conf_hop_set(&r->hops[r->nhops++], fqdn, a, kind);
}

/* A host line of the configuration: its address, its port or the given one,
 * and its transport, without DNS (as proxy.c add_pinned_hop). */
static bool
add_pinned(struct route *r, const char *fqdn, unsigned short port)
{
	struct hop h;
	char buf[80];

	if (!conf_host_hop(r->cf, fqdn, port, &h))
		return false;
	if (r->nhops < ROUTE_MAX_HOPS)
		r->hops[r->nhops++] = h;
	step(r, "host pin %s → %s%s (host line in %s, no DNS)", fqdn, addr_str(&h.addr, buf, sizeof(buf)),
	    h.kind == TP_TCP ? " tcp" : "", r->conf_path);
	return true;
}

/* DNS A/AAAA for one target, its addresses added as hops.  0 found, 1 the
 * name could not be asked (the daemon skips it), -1 failed (the daemon
 * remembers why, for when no target at all is left). */
static int
resolve_addr(struct route *r, const char *fqdn, unsigned short port)
{
	struct sync_q q = { 0 };
	char list[ROUTE_MAX_HOPS * 48], a[80];
	size_t used = 0;
	int rc;

	if ((rc = dns_addr(r->dns, fqdn, port, sync_addr_cb, &q, NULL)) < 0) {
		step(r, "DNS A/AAAA %s: not asked: %s", fqdn, strerror(-rc));
		return 1;
	}
	sync_wait(r, &q);
	if (q.status != 0) {
		step(r, "DNS A/AAAA %s: %s", fqdn, dns_strerror(q.status));
		snprintf(r->last_detail, sizeof(r->last_detail), "%.253s: %.100s", fqdn,
		    dns_strerror(q.status));
		r->res_diag = DIAG_HOPS_FAILED;
		sync_free(&q);
		return -1;
	}
	list[0] = '\0';
	for (size_t i = 0; i < q.n; i++) {
		char *colon;

		addr_str(&q.addr[i], a, sizeof(a));
		if ((colon = strrchr(a, ':')) != NULL)
			*colon = '\0';
		if (used < sizeof(list))
			used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
			    i ? ", " : "", a);
		add_hop(r, fqdn, &q.addr[i], TP_TLS);
	}
	step(r, "DNS A/AAAA %s → %s", fqdn, list);
	sync_free(&q);
	return 0;
}

/* SRV targets in order, pins first, then DNS, until MAX_HOPS hops
 * (proxy.c res_next_target). */
static void
resolve_targets(struct route *r, const struct dns_srv *v, size_t n)
{
	for (size_t i = 0; i < n && r->nhops < ROUTE_MAX_HOPS; i++)
		if (!add_pinned(r, v[i].target, v[i].port))
			resolve_addr(r, v[i].target, v[i].port);
}

/* Describe an SRV answer: "sip.fabrikam.test:5061 (prio 10, weight 60), …". */
static void
srv_step(struct route *r, const char *name, const struct dns_srv *v, size_t n, size_t total)
{
	char list[ROUTE_MAX_HOPS * (NAMES_MAX + 48)];
	size_t used = 0;

	list[0] = '\0';
	for (size_t i = 0; i < n && used < sizeof(list); i++)
		used += (size_t)snprintf(list + used, sizeof(list) - used,
		    "%s%s:%u (prio %u, weight %u)", i ? ", " : "", v[i].target, v[i].port,
		    v[i].priority, v[i].weight);
	if (total > n)
		step(r, "DNS SRV %s: %s (the first %zu of %zu records)", name, list, n, total);
	else
		step(r, "DNS SRV %s: %s", name, list);
}

/* Ask for an SRV name.  0 with *q holding the records in RFC 2782 order (at
 * most MAX_HOPS, as the daemon keeps), or -1 with the refusal set as the
 * daemon words it: the outbound detail names the domain, the inbound one the
 * SRV name. */
static int
resolve_srv(struct route *r, const char *name, const char *what, size_t detail_max,
    struct sync_q *q)
{
	char detail[sizeof(r->last_detail)];
	enum diag_code d;
	size_t total;

	if (dns_srv(r->dns, name, sync_srv_cb, q, NULL) < 0) {
		step(r, "DNS SRV %s: not asked: not a valid name", name);
		return refuse(r, 504, DIAG_FED_SRV_FAILED, name, PROB_DETAIL_MAX);
	}
	sync_wait(r, q);
	if (q->status != 0 || q->n == 0) {
		d = q->status == DNS_ENOTFOUND || q->status == 0 ? DIAG_FED_SRV_NONE :
		    DIAG_FED_SRV_FAILED;
		step(r, "DNS SRV %s: %s", name, q->status ? dns_strerror(q->status) : "no records");
		snprintf(detail, sizeof(detail), detail_max == PROB_DETAIL_MAX ?
		    "%.80s: %.100s" : "%.253s: %.100s", what,
		    q->status ? dns_strerror(q->status) : "no SRV records");
		return refuse(r, diag_lookup(d)->status, d, detail, detail_max);
	}
	total = q->n;
	if (q->n > ROUTE_MAX_HOPS)
		q->n = ROUTE_MAX_HOPS;
	srv_step(r, name, q->srv, q->n, total);
	return 0;
}

/* ----------------------------------------------------------------- outbound */

static void
throttle_step(struct route *r)
{
	const struct store_config *cf = policy_config(r->pol);

	step(r, "throttle: %s is a discovered partner: the daemon admits %u requests/s "
	    "(%u/s once suspicious) and %u distinct internal contacts per %u minutes, and "
	    "refuses beyond that (503 2011, 503 2013, 480 2012); its live counters are not "
	    "visible here, so whether this request would be throttled now cannot be told",
	    r->domain, cf->discovered_rate, cf->discovered_suspicious_rate,
	    cf->discovered_contacts, cf->discovered_period);
}

static void
outbound_policy_step(struct route *r, const struct fed_out *fo)
{
	char type[NAMES_MAX + 128];

	type_str(fo->type, fo->domain, fo->provider, type, sizeof(type));
	if (fo->default_route)
		step(r, "policy: %s%s → default route %s (routing-method default-route)", type,
		    fo->monitor ? " (monitored)" : "", fo->next);
	else if (fo->via == FED_VIA_FQDN)
		step(r, "policy: %s%s → proxy %s", type, fo->monitor ? " (monitored)" : "", fo->next);
	else
		step(r, "policy: %s%s → SRV %s", type, fo->monitor ? " (monitored)" : "", fo->next);
}

/* The daemon's trust marking of an outbound request (proxy.c route_outbound). */
static void
outbound_trust(struct route *r, const struct fed_out *fo)
{
	if (!fo->mark_verified) {
		step(r, "trust: mark-source-verifiable is off: any %s header from the pool is "
		    "removed, none is added", TRUST_HEADER);
		return;
	}
	snprintf(r->trust, sizeof(r->trust), "ms-source-type=InternalUser;ms-ep-fqdn=%s;"
	    "ms-source-network=federation;ms-source-verified-user=verified", r->cf->edge_fqdn);
	step(r, "trust: %s: %s (replacing any from the pool)", TRUST_HEADER, r->trust);
}

/* Find the next hops of an accepted outbound request. */
static int
outbound_hops(struct route *r, const struct fed_out *fo)
{
	struct sync_q q = { 0 };
	enum diag_code d;

	if (fo->via == FED_VIA_FQDN) {
		if (add_pinned(r, fo->next, 5061))
			return 0;
		if (resolve_addr(r, fo->next, 5061) == 1)
			return refuse(r, 503, DIAG_HOPS_FAILED, fo->next, PROB_DETAIL_MAX);
	} else {
		if (resolve_srv(r, fo->next, fo->domain, sizeof(r->last_detail), &q) < 0) {
			sync_free(&q);
			return -1;
		}
		resolve_targets(r, q.srv, q.n);
		sync_free(&q);
	}
	if (r->nhops > 0)
		return 0;
	d = r->res_diag ? r->res_diag : DIAG_HOPS_FAILED;
	return refuse(r, diag_lookup(d)->status, d, r->last_detail, sizeof(r->last_detail));
}

/* proxy.c route_outbound: our own domain first, then the policy, then the
 * partner's edge. */
static int
route_out(struct route *r, const char *uri, const char *from, const char *host)
{
	struct fed_out fo;

	step(r, "outbound request to %s%s%s, from an allowed internal server: target domain %s",
	    uri, from ? " from " : "", from ? from : "", host);
	if (conf_is_our_domain(r->cf, host)) {
		step(r, "%s is one of our SIP domains (sip-domain in %s): not federated", host,
		    r->conf_path);
		return refuse(r, 403, DIAG_LOCAL_TARGET, host, PROB_DETAIL_MAX);
	}
	if (fedroute_outbound(r->pol, host, &fo) < 0) {
		step(r, "policy: refused: %s", fo.detail);
		return refuse(r, fo.status, fo.diag, fo.detail, PROB_DETAIL_MAX);
	}
	r->type = fo.type;
	r->default_route = fo.default_route;
	r->throttled = fo.throttled;
	snprintf(r->domain, sizeof(r->domain), "%s", fo.domain);
	snprintf(r->provider, sizeof(r->provider), "%s", fo.provider);
	outbound_policy_step(r, &fo);
	if (fo.throttled)
		throttle_step(r);
	outbound_trust(r, &fo);
	return outbound_hops(r, &fo);
}

/* ------------------------------------------------------------------ inbound */

static void
inbound_policy_step(struct route *r, int rc, const struct fed_in *fi)
{
	char type[NAMES_MAX + 128];

	type_str(fi->type, fi->domain, fi->provider, type, sizeof(type));
	if (rc == FED_IN_REFUSE)
		step(r, "policy: refused: %s", fi->detail);
	else if (rc == FED_IN_NEED_SRV)
		step(r, "policy: %s%s: the peer must be a target of SRV %s", type,
		    fi->monitor ? " (monitored)" : "", fi->srv);
	else
		step(r, "policy: %s%s: the certificate names its proxy %s", type,
		    fi->monitor ? " (monitored)" : "", fi->peer);
}

/* Whether the trust header's verified mark is the partner's own. */
static bool
mark_is_senders(const struct fed_in *fi)
{
	return fi->type == FED_DISCOVERED ||
	    (fi->type == FED_PROVIDER && fi->verification == STORE_VERIFY_USE_SOURCE);
}

/* proxy.c inbound_accept: throttle, trust marking, the pool. */
static int
inbound_accept(struct route *r, struct fed_in *fi)
{
	r->type = fi->type;
	r->throttled = fi->throttled;
	snprintf(r->peer, sizeof(r->peer), "%s", fi->peer);
	snprintf(r->provider, sizeof(r->provider), "%s", fi->provider);
	if (fi->throttled)
		throttle_step(r);
	/* What a partner's request without a "verified" mark of its own gets. */
	fi->source_verified = false;
	if (fedroute_trust_header(fi, fi->peer, r->trust, sizeof(r->trust)) < 0)
		r->trust[0] = '\0';
	step(r, "trust: %s: %s%s (the partner's own %s, P-Asserted-Identity and "
	    "P-Preferred-Identity headers removed)", TRUST_HEADER, r->trust,
	    mark_is_senders(fi) ? "; ms-source-verified-user=verified instead when the "
	    "partner's request carries that mark" : "", TRUST_HEADER);
	if (r->cf->npool == 0) {
		step(r, "pool: no pool-server in %s", r->conf_path);
		return refuse(r, 503, DIAG_HOPS_FAILED, "no pool-server configured", PROB_DETAIL_MAX);
	}
	for (size_t i = 0; i < r->cf->npool && i < ROUTE_MAX_HOPS; i++)
		r->hops[r->nhops++] = r->cf->pool[i];
	return 0;
}

/* NEED_SRV: the peer must be one of the source domain's SRV targets
 * (proxy.c in_srv_cb). */
static int
inbound_srv(struct route *r, const struct fed_in *fi, const char *const *peers, size_t npeers)
{
	const char *names[ROUTE_MAX_HOPS];
	struct sync_q q = { 0 };
	struct fed_in out;
	int rc;

	if (resolve_srv(r, fi->srv, fi->srv, PROB_DETAIL_MAX, &q) < 0) {
		sync_free(&q);
		return -1;
	}
	for (size_t i = 0; i < q.n; i++)
		names[i] = q.srv[i].target;
	rc = fedroute_inbound_srv(fi, names, q.n, peers, npeers, &out);
	sync_free(&q);
	if (rc < 0) {
		step(r, "policy: refused: %s", out.detail);
		return refuse(r, out.status, out.diag, out.detail, PROB_DETAIL_MAX);
	}
	step(r, "the certificate name %s is an SRV target", out.peer);
	return inbound_accept(r, &out);
}

/* proxy.c route_inbound: one of our domains, entitled to speak for its own. */
static int
route_in(struct route *r, const char *uri, const char *host, const char *from,
    const char *source, const char *const *peers, size_t npeers)
{
	char names[512];
	size_t used = 0;
	struct fed_in fi;
	int rc;

	names[0] = '\0';
	for (size_t i = 0; i < npeers && used < sizeof(names); i++)
		used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s",
		    i ? ", " : "", peers[i]);
	r->inbound = true;
	step(r, "inbound request to %s from %s, the TLS peer's certificate naming %s", uri, from,
	    names);
	if (!conf_is_our_domain(r->cf, host)) {
		step(r, "%s is not one of our SIP domains (sip-domain in %s)", host, r->conf_path);
		return refuse(r, 403, DIAG_RELAY_DENIED, host, PROB_DETAIL_MAX);
	}
	step(r, "%s is one of our SIP domains; source domain %s", host, source);
	rc = fedroute_inbound(r->pol, source, peers, npeers, &fi);
	snprintf(r->domain, sizeof(r->domain), "%.253s", fi.domain[0] ? fi.domain : source);
	inbound_policy_step(r, rc, &fi);
	if (rc == FED_IN_REFUSE)
		return refuse(r, fi.status, fi.diag, fi.detail, PROB_DETAIL_MAX);
	if (rc == FED_IN_ACCEPT)
		return inbound_accept(r, &fi);
	return inbound_srv(r, &fi, peers, npeers);
}

/* ------------------------------------------------------------------ command */

/* A SIP or SIPS URI with a host, parsed as the daemon's Sofia-SIP parses a
 * Request-URI; host gets the host as the daemon compares it (lower case, no
 * trailing dot). */
static int
parse_uri(struct ctl *c, const char *what, const char *uri, char *host, size_t len)
{
	char *copy = strdup(uri);
	url_t u;
	bool ok = copy != NULL;

	for (const char *s = uri; ok && *s; s++)
		ok = (unsigned char)*s > 0x20 && *s != 0x7f;
	ok = ok && url_d(&u, copy) == 0 && (u.url_type == url_sip || u.url_type == url_sips) &&
	    sipmsg_url_host(&u, host, len) != NULL;
	free(copy);
	if (!ok)
		return ctl_fail(c, CTL_USAGE, "%s \"%s\" is not a SIP URI (sip: or sips:, a host)",
		    what, uri);
	return 0;
}

/* The options that go together: --inbound needs --peer and --from. */
static int
check_opts(struct ctl *c, const struct ctl_args *a, const char **peers, size_t npeers)
{
	char buf[NAMES_MAX + 1];
	bool in = ctl_flag(a, "inbound");

	if (in && npeers == 0)
		return ctl_fail(c, CTL_USAGE, "--inbound needs --peer FQDN (the name in the "
		    "partner's certificate)");
	if (in && ctl_opt(a, "from") == NULL)
		return ctl_fail(c, CTL_USAGE, "--inbound needs --from URI (the source)");
	if (!in && npeers > 0)
		return ctl_fail(c, CTL_USAGE, "--peer is for --inbound requests");
	for (size_t i = 0; i < npeers; i++)
		if (names_normalize(peers[i], buf, sizeof(buf), NULL) != 0)
			return ctl_fail(c, CTL_USAGE, "--peer \"%s\" is not an FQDN", peers[i]);
	if (ctl_opt(a, "config") != NULL && ctl_opt(a, "config")[0] == '\0')
		return ctl_fail(c, CTL_USAGE, "--config needs a file name");
	return 0;
}

/* Whether two names of files are the same file (or, when either cannot be
 * resolved, the same name). */
static bool
same_file(const char *a, const char *b)
{
	char *ra = realpath(a, NULL), *rb = realpath(b, NULL);
	bool same = ra && rb ? strcmp(ra, rb) == 0 : strcmp(a, b) == 0;

	free(ra);
	free(rb);
	return same;
}

/* Our domains come from the configuration, the rest from the db: the
 * snapshot the daemon would build (main.c load_policy). */
static int
load_policy(struct route *r)
{
	struct store_policy *sp;
	int rc;

	if ((rc = store_policy_load(r->c->st, &sp)) != 0)
		return ctl_store_fail(r->c, rc);
	rc = policy_build_local(sp, (const char *const *)r->cf->domains, r->cf->ndomains, &r->pol);
	store_policy_free(sp);
	if (rc != 0)
		return ctl_fail(r->c, CTL_DB, "%s: cannot build the policy: %s", r->c->db_path,
		    strerror(-rc));
	if (!same_file(r->cf->db_path, r->c->db_path))
		step(r, "note: the policy is read from %s; %s names %s for the daemon",
		    r->c->db_path, r->conf_path, r->cf->db_path);
	return 0;
}

/* What the command line asks about, checked before anything is opened. */
struct route_req {
	const char *uri, *from;
	char host[CONF_MAX_NAME], source[CONF_MAX_NAME];
	const char **peers;
	size_t npeers;
	bool inbound;
};

static int
run(struct route *r, const struct route_req *q)
{
	int rc;

	if ((rc = load_policy(r)) != 0 || (rc = dns_open(r)) != 0)
		return rc;
	if (q->inbound)
		route_in(r, q->uri, q->host, q->from, q->source, q->peers, q->npeers);
	else
		route_out(r, q->uri, q->from, q->host);
	if (r->c->json)
		print_json(r);
	else
		print_text(r);
	return r->status ? CTL_FAIL : CTL_OK;
}

int
cmd_route(struct ctl *c, const struct ctl_args *a)
{
	struct route r = { .c = c };
	struct route_req q = { .uri = a->pos[0], .from = ctl_opt(a, "from"),
		.inbound = ctl_flag(a, "inbound") };
	struct conf *cf = NULL;
	char err[1024];
	int rc;

	q.peers = ctl_opt_all(a, "peer", &q.npeers);
	r.conf_path = ctl_opt(a, "config") ? ctl_opt(a, "config") : DEFAULT_CONF;
	if ((rc = check_opts(c, a, q.peers, q.npeers)) != 0 ||
	    (rc = parse_uri(c, "URI", q.uri, q.host, sizeof(q.host))) != 0 ||
	    (q.from && (rc = parse_uri(c, "--from", q.from, q.source, sizeof(q.source))) != 0))
		goto out;
	if (conf_load(r.conf_path, &cf, err, sizeof(err)) != 0) {
		rc = ctl_fail(c, CTL_DB, "%s", err);
		goto out;
	}
	r.cf = cf;
	rc = run(&r, &q);
out:
	dns_end(&r);
	policy_unref(r.pol);
	for (size_t i = 0; i < r.nsteps; i++)
		free(r.steps[i]);
	free(r.steps);
	conf_free(cf);
	free(q.peers);
	return rc;
}
