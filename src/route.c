/* route.c: where a request goes (RFC 3261 §16.4-16.5): our own Route entries and
 * the dialog tokens in them, the relay rules (no open relay), and the federation
 * policy with DNS SRV and A/AAAA look-ups for the partner's edge; an inbound
 * request's source checks and trust marking. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/msg_header.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_protos.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_util.h>
#include <sofia-sip/su_alloc.h>
#include <sofia-sip/url.h>

#include "proxy_int.h"
#include "sipedge/log.h"
#include "sipedge/fedroute.h"
#include "sipedge/sipmsg.h"

static void res_next_target(struct txn *t);

bool
route_internal_allowed(const struct conf *cf, const struct conn_info *ci)
{
	char a[80], *colon;

	if (ci->kind == TP_TLS) {
		for (size_t i = 0; i < ci->npeer_names; i++)
			if (conf_is_internal_server(cf, ci->peer_names[i]))
				return true;
		return false;
	}
	/* Plain TCP (labs): by source address. */
	conf_sockaddr_str(&ci->peer, a, sizeof(a));
	if (a[0] == '[') {
		colon = strchr(a, ']');
		if (colon)
			*colon = '\0';
		return conf_is_internal_server(cf, a + 1);
	}
	if ((colon = strrchr(a, ':')) != NULL)
		*colon = '\0';
	return conf_is_internal_server(cf, a);
}

static bool
is_our_host(const struct conf *cf, const char *host)
{
	return strcasecmp(host, cf->edge_fqdn) == 0 || strcasecmp(host, cf->internal_fqdn) == 0;
}

/* A peer's dialable address, when a configured hop names it. */
static void
fill_peer_from_hops(struct rr_peer *p, const struct hop *hops, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (hops[i].has_addr && hops[i].kind == TP_TLS && strcasecmp(hops[i].fqdn, p->fqdn) == 0) {
			p->has_addr = true;
			p->addr = hops[i].addr;
			return;
		}
}

void
route_prob_set(struct sip_problem *prob, int status, enum diag_code d, const char *detail)
{
	size_t n = detail ? strlen(detail) : 0;

	prob->status = status;
	prob->diag = d;
	/* Truncation is fine: this is reason text. */
	if (n >= sizeof(prob->detail))
		n = sizeof(prob->detail) - 1;
	memcpy(prob->detail, detail ? detail : "", n);
	prob->detail[n] = '\0';
}

/* Pop the Route entries that name this edge (RFC 3261 §16.4).  A token for the
 * other side tells where an in-dialog request goes.  0, or -1 with prob set. */
int
route_pop_own(struct worker *w, msg_t *msg, sip_t *sip, enum side in_side,
    struct rr_peer *target, bool *have_target, struct sip_problem *prob)
{
	const struct conf *cf = w->px->conf;
	char tok[RR_TOKEN_MAX + 2], host[CONF_MAX_NAME];

	*have_target = false;
	while (sip->sip_route) {
		const url_t *u = sip->sip_route->r_url;
		isize_t n = u->url_params ? url_param(u->url_params, RR_PARAM, tok, sizeof(tok)) : 0;
		struct rr_peer p;

		if (n > 0) {
			int rc;

			if ((size_t)n >= sizeof(tok)) {
				route_prob_set(prob, 403, DIAG_BAD_ROUTE_TOKEN, "Route token too long");
				return -1;
			}
			rc = rr_token_decode(&w->px->key, tok, sip->sip_call_id->i_id, &p);
			if (rc < 0) {
				route_prob_set(prob, 403, DIAG_BAD_ROUTE_TOKEN,
				    rc == -EPERM ? "Route token does not verify for this dialog" :
						   "Route token is malformed");
				return -1;
			}
			if (p.side != in_side) {
				*target = p;
				*have_target = true;
			}
			sip_route_remove(msg, sip);
			continue;
		}
		if (sipmsg_url_host(u, host, sizeof(host)) && is_our_host(cf, host)) {
			sip_route_remove(msg, sip);
			continue;
		}
		break;
	}
	if (sip->sip_route && !*have_target && in_side == SIDE_EXTERNAL) {
		/* An outsider may only route through us along our own tokens. */
		route_prob_set(prob, 403, DIAG_FOREIGN_ROUTE, "Route to a foreign host");
		return -1;
	}
	return 0;
}

/* user@host of a name-addr, for the throttle's distinct contacts. */
static const char *
aor_str(const sip_addr_t *a, char *buf, size_t len)
{
	char host[CONF_MAX_NAME];

	if (!a || !sipmsg_url_host(a->a_url, host, sizeof(host)))
		return "";
	snprintf(buf, len, "%s@%s", a->a_url->url_user ? a->a_url->url_user : "", host);
	return buf;
}

/* Resolution done: dial what was found, or answer for the partner. */
static void
res_done(struct txn *t)
{
	t->q = NULL;
	if (t->state == TX_COMPLETED)
		return;
	if (t->nhops == 0) {
		enum diag_code d = t->res_diag ? t->res_diag : DIAG_HOPS_FAILED;

		txn_reply(t, diag_lookup(d)->status, d, t->last_detail[0] ? t->last_detail : NULL);
		txn_complete(t, diag_lookup(d)->status);
		return;
	}
	txn_next_hop(t);
}

static void
res_addr_cb(int status, const struct sockaddr_storage *a, size_t n, void *arg)
{
	struct txn *t = arg;
	const struct res_target *rt = &t->res[t->res_i];

	t->q = NULL;
	if (status == 0) {
		for (size_t i = 0; i < n; i++)
			txn_add_hop(t, rt->fqdn, &a[i], TP_TLS);
	} else {
		snprintf(t->last_detail, sizeof(t->last_detail), "%.253s: %.100s", rt->fqdn,
		    dns_strerror(status));
		t->res_diag = DIAG_HOPS_FAILED;
	}
	t->res_i++;
	res_next_target(t);
}

/* Resolve the targets in order (pins first, then DNS A/AAAA), one at a time:
 * the cache makes the later ones cheap, and order is failover order. */
static void
res_next_target(struct txn *t)
{
	while (t->res_i < t->res_n && t->nhops < MAX_HOPS) {
		const struct res_target *rt = &t->res[t->res_i];

		if (txn_add_pinned_hop(t, rt->fqdn, rt->port)) {
			t->res_i++;
			continue;
		}
		if (dns_addr(t->w->dns, rt->fqdn, rt->port, res_addr_cb, t, &t->q) == 0)
			return;
		t->res_i++;
	}
	res_done(t);
}

static void
res_srv_cb(int status, const struct dns_srv *v, size_t n, void *arg)
{
	struct txn *t = arg;

	t->q = NULL;
	if (status != 0 || n == 0) {
		t->res_diag = status == DNS_ENOTFOUND || status == 0 ? DIAG_FED_SRV_NONE : DIAG_FED_SRV_FAILED;
		snprintf(t->last_detail, sizeof(t->last_detail), "%.253s: %.100s", t->fed_domain,
		    status ? dns_strerror(status) : "no SRV records");
		res_done(t);
		return;
	}
	if (n > MAX_HOPS)
		n = MAX_HOPS;
	if (!(t->res = calloc(n, sizeof(*t->res)))) {
		res_done(t);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(t->res[i].fqdn, sizeof(t->res[i].fqdn), "%s", v[i].target);
		t->res[i].port = v[i].port;
	}
	t->res_n = n;
	t->res_i = 0;
	res_next_target(t);
}

/* Remove every header named name (an extension header Sofia keeps as unknown). */
static bool
strip_unknown(msg_t *msg, sip_t *sip, const char *name, const char *flag)
{
	bool found = false;
	sip_unknown_t *u, *next;

	for (u = sip->sip_unknown; u; u = next) {
		next = u->un_next;
		if (u->un_name && strcasecmp(u->un_name, name) == 0) {
			if (flag && u->un_value && strstr(u->un_value, flag))
				found = true;
			msg_header_remove(msg, (msg_pub_t *)sip, (msg_header_t *)u);
		}
	}
	return found;
}

static int
add_trust(msg_t *msg, sip_t *sip, const char *value)
{
	msg_header_t *h = msg_header_format(msg_home(msg), sip_unknown_class, "%s: %s", TRUST_HEADER, value);

	return h ? msg_header_insert(msg, (msg_pub_t *)sip, h) : -1;
}

/* Internal → partner (RFC 3261 §16.5 target set from the federation policy). */
static int
route_outbound(struct worker *w, struct txn *t, sip_t *sip, const char *domain,
    struct sip_problem *prob)
{
	const struct conf *cf = w->px->conf;
	struct fed_out fo;
	enum diag_code why;
	char contact[CONF_MAX_NAME * 2], value[FEDROUTE_TRUST_MAX];

	if (conf_is_our_domain(cf, domain)) {
		route_prob_set(prob, 403, DIAG_LOCAL_TARGET, domain);
		return -1;
	}
	if (fedroute_outbound(w->pol, domain, &fo) < 0) {
		route_prob_set(prob, fo.status, fo.diag, fo.detail);
		return -1;
	}
	t->fed = fo.type;
	snprintf(t->fed_domain, sizeof(t->fed_domain), "%s", fo.domain);
	if (fo.throttled && throttle_admit(w->px->throttle, w->pol, fo.domain, NULL,
				aor_str(sip->sip_from, contact, sizeof(contact)), uv_now(&w->loop), &why) < 0) {
		route_prob_set(prob, diag_lookup(why)->status, why, fo.domain);
		return -1;
	}
	/* Our own marking replaces whatever the pool put there. */
	strip_unknown(t->req, sip, TRUST_HEADER, NULL);
	if (fo.mark_verified) {
		snprintf(value, sizeof(value), "ms-source-type=InternalUser;ms-ep-fqdn=%s;"
		    "ms-source-network=federation;ms-source-verified-user=verified", cf->edge_fqdn);
		add_trust(t->req, sip, value);
	}
	t->out_side = SIDE_EXTERNAL;
	t->add_rr = sipmsg_is_dialog_forming(sip);
	if (fo.via == FED_VIA_FQDN) {
		if (txn_add_pinned_hop(t, fo.next, 5061))
			return 0;
		if (!(t->res = calloc(1, sizeof(*t->res)))) {
			route_prob_set(prob, 503, DIAG_OVERLOAD, "out of memory");
			return -1;
		}
		snprintf(t->res[0].fqdn, sizeof(t->res[0].fqdn), "%s", fo.next);
		t->res[0].port = 5061;
		t->res_n = 1;
		if (dns_addr(w->dns, fo.next, 5061, res_addr_cb, t, &t->q) < 0) {
			route_prob_set(prob, 503, DIAG_HOPS_FAILED, fo.next);
			return -1;
		}
		return 1;
	}
	if (dns_srv(w->dns, fo.next, res_srv_cb, t, &t->q) < 0) {
		route_prob_set(prob, 504, DIAG_FED_SRV_FAILED, fo.next);
		return -1;
	}
	return 1;
}

/* An inbound request passed its checks: throttle, mark it, send it to the pool. */
static int
inbound_accept(struct worker *w, struct txn *t, sip_t *sip, struct fed_in *fi,
    struct sip_problem *prob)
{
	const struct conf *cf = w->px->conf;
	enum diag_code why;
	char contact[CONF_MAX_NAME * 2], value[FEDROUTE_TRUST_MAX];

	t->fed = fi->type;
	if (fi->throttled && throttle_admit(w->px->throttle, w->pol, fi->domain, fi->peer,
				aor_str(sip->sip_to, contact, sizeof(contact)), uv_now(&w->loop), &why) < 0) {
		route_prob_set(prob, diag_lookup(why)->status, why, fi->domain);
		return -1;
	}
	/* Nothing from outside may assert identity or trust to the pool
	 * (RFC 3325 §5): only our own marking goes in. */
	fi->source_verified = strip_unknown(t->req, sip, TRUST_HEADER, "ms-source-verified-user=verified");
	strip_unknown(t->req, sip, "P-Asserted-Identity", NULL);
	strip_unknown(t->req, sip, "P-Preferred-Identity", NULL);
	if (fedroute_trust_header(fi, fi->peer, value, sizeof(value)) > 0)
		add_trust(t->req, sip, value);
	t->out_side = SIDE_INTERNAL;
	t->add_rr = sipmsg_is_dialog_forming(sip);
	if (cf->npool == 0) {
		route_prob_set(prob, 503, DIAG_HOPS_FAILED, "no pool-server configured");
		return -1;
	}
	for (size_t i = 0; i < cf->npool && i < MAX_HOPS; i++)
		t->hops[t->nhops++] = cf->pool[i];
	return 0;
}

static void
in_srv_cb(int status, const struct dns_srv *v, size_t n, void *arg)
{
	struct txn *t = arg;
	struct sip_problem prob;
	struct fed_in out;
	const char *names[MAX_HOPS];
	const struct conn_info *ci;
	enum diag_code d;

	t->q = NULL;
	if (t->state == TX_COMPLETED)
		return;
	memset(&prob, 0, sizeof(prob));
	if (!t->in) {
		txn_complete(t, 408);      /* nobody left to answer */
		return;
	}
	ci = conn_info(t->in);
	if (status != 0 || n == 0) {
		d = status == DNS_ENOTFOUND || status == 0 ? DIAG_FED_SRV_NONE : DIAG_FED_SRV_FAILED;
		snprintf(prob.detail, sizeof(prob.detail), "%.80s: %.100s", t->fin->srv,
		    status ? dns_strerror(status) : "no SRV records");
		txn_reply(t, diag_lookup(d)->status, d, prob.detail);
		txn_complete(t, diag_lookup(d)->status);
		return;
	}
	if (n > MAX_HOPS)
		n = MAX_HOPS;
	for (size_t i = 0; i < n; i++)
		names[i] = v[i].target;
	if (fedroute_inbound_srv(t->fin, names, n, (const char *const *)ci->peer_names,
		ci->npeer_names, &out) < 0) {
		txn_reply(t, out.status, out.diag, out.detail);
		txn_complete(t, out.status);
		return;
	}
	if (inbound_accept(t->w, t, t->sip, &out, &prob) < 0) {
		txn_reply(t, prob.status, prob.diag, prob.detail);
		txn_complete(t, prob.status);
		return;
	}
	txn_next_hop(t);
}

/* Partner → internal: entitled to speak for its domain, and for one of ours. */
static int
route_inbound(struct worker *w, struct txn *t, const struct conn_info *ci, sip_t *sip,
    const char *target, struct sip_problem *prob)
{
	const struct conf *cf = w->px->conf;
	char source[CONF_MAX_NAME];
	struct fed_in fi;
	int rc;

	if (!conf_is_our_domain(cf, target)) {
		route_prob_set(prob, 403, DIAG_RELAY_DENIED, target);
		return -1;
	}
	if (!sipmsg_url_host(sip->sip_from->a_url, source, sizeof(source))) {
		route_prob_set(prob, 400, DIAG_MALFORMED, "From has no host");
		return -1;
	}
	rc = fedroute_inbound(w->pol, source, (const char *const *)ci->peer_names, ci->npeer_names, &fi);
	if (rc == FED_IN_REFUSE) {
		route_prob_set(prob, fi.status, fi.diag, fi.detail);
		return -1;
	}
	t->fed = fi.type;
	snprintf(t->fed_domain, sizeof(t->fed_domain), "%s", fi.domain);
	if (rc == FED_IN_ACCEPT)
		return inbound_accept(w, t, sip, &fi, prob);
	if (!(t->fin = malloc(sizeof(*t->fin)))) {
		route_prob_set(prob, 503, DIAG_OVERLOAD, "out of memory");
		return -1;
	}
	*t->fin = fi;
	if (dns_srv(w->dns, fi.srv, in_srv_cb, t, &t->q) < 0) {
		route_prob_set(prob, 504, DIAG_FED_SRV_FAILED, fi.srv);
		return -1;
	}
	return 1;
}

/* Decide where a request goes: in-dialog along our tokens, or by the relay
 * rules and the federation policy.  0: hops ready; 1: a look-up is under way
 * and will continue the transaction; -1: refused (prob set). */
int
route_request(struct worker *w, struct conn *c, sip_t *sip, struct txn *t,
    const struct rr_peer *target, bool have_target, struct sip_problem *prob)
{
	const struct conf *cf = w->px->conf;
	const struct conn_info *ci = conn_info(c);
	char host[CONF_MAX_NAME], partner[CONF_MAX_NAME];
	const sip_addr_t *pa;

	if (ci->side == SIDE_INTERNAL && !route_internal_allowed(cf, ci)) {
		route_prob_set(prob, 403, DIAG_INTERNAL_NOT_ALLOWED, ci->npeer_names ? ci->peer_names[0] : "peer");
		return -1;
	}
	if (!w->pol) {
		route_prob_set(prob, 403, DIAG_FED_DISABLED, "no policy loaded");
		return -1;
	}
	if (have_target) {
		/* In a dialog: the partner is the To party seen from inside, the
		 * From party seen from outside; a block applies at once. */
		pa = ci->side == SIDE_INTERNAL ? sip->sip_to : sip->sip_from;
		if (pa && sipmsg_url_host(pa->a_url, partner, sizeof(partner)) &&
		    policy_blocked(w->pol, partner)) {
			route_prob_set(prob, 403, DIAG_FED_BLOCKED, partner);
			return -1;
		}
		t->out_side = target->side;
		t->use_flow = true;
		t->flow = *target;
		if (target->has_addr)
			txn_add_hop(t, target->fqdn, &target->addr, target->kind);
		return 0;
	}
	if (!sipmsg_url_host(sip->sip_request->rq_url, host, sizeof(host))) {
		route_prob_set(prob, 400, DIAG_MALFORMED, "Request-URI has no host");
		return -1;
	}
	if (ci->side == SIDE_INTERNAL)
		return route_outbound(w, t, sip, host, prob);
	return route_inbound(w, t, ci, sip, host, prob);
}

void
route_fill_in_peer(struct worker *w, struct txn *t, const struct conn_info *ci)
{
	const struct conf *cf = w->px->conf;

	memset(&t->in_peer, 0, sizeof(t->in_peer));
	t->in_peer.side = ci->side;
	t->in_peer.kind = ci->kind;
	t->in_peer.conn_id = ci->id;
	if (ci->npeer_names)
		snprintf(t->in_peer.fqdn, sizeof(t->in_peer.fqdn), "%s", ci->peer_names[0]);
	if (ci->outbound && ci->kind == TP_TLS) {
		/* A connection we dialled can be dialled again. */
		t->in_peer.has_addr = true;
		t->in_peer.addr = ci->peer;
		if (ci->dialled_fqdn)
			snprintf(t->in_peer.fqdn, sizeof(t->in_peer.fqdn), "%s", ci->dialled_fqdn);
	} else if (t->in_peer.fqdn[0] && ci->side == SIDE_INTERNAL) {
		fill_peer_from_hops(&t->in_peer, cf->pool, cf->npool);
	} else if (t->in_peer.fqdn[0]) {
		const struct host_conf *hc = conf_host_find(cf, t->in_peer.fqdn);

		if (hc && hc->kind == TP_TLS) {
			t->in_peer.has_addr = true;
			t->in_peer.addr = hc->addr;
			if (!hc->has_port)
				((struct sockaddr_in *)&t->in_peer.addr)->sin_port = htons(5061);
		}
	}
}
