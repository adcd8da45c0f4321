/* route.c: where a request goes (RFC 3261 §16.4-16.5): our own Route entries and
 * the dialog tokens in them, the relay rules (no open relay), the federation
 * policy with DNS SRV and A/AAAA look-ups for the partner's edge, an inbound
 * request's source checks and trust marking, in-dialog requests (bound to the
 * dialog's peers, under the current policy), and OPTIONS for the edge itself.
 *
 * In a dialog the same rules hold as for a new request: a request from outside
 * must come from a peer entitled to speak for its From domain (our own domains
 * never), its identity headers are replaced by our trust marking, and the
 * partner must still be federated; a policy that no longer allows the partner
 * lets only BYE and ACK through, so that calls can end.  On top of that the
 * sender must be the dialog's peer: the connection or certificate recorded in
 * our token, or another edge of the same partner domain. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>

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

/* host (an FQDN or an IP literal) names this edge: one of its FQDNs or the
 * address of one of its listeners. */
bool
route_is_our_host(const struct conf *cf, const char *host)
{
	struct sockaddr_storage ss;

	if (strcasecmp(host, cf->edge_fqdn) == 0 || strcasecmp(host, cf->internal_fqdn) == 0)
		return true;
	if (conf_parse_sockaddr(host, 0, &ss) < 0)
		return false;
	for (size_t i = 0; i < cf->nlisteners; i++)
		if (conf_sockaddr_same_ip(&cf->listeners[i].addr, &ss))
			return true;
	return false;
}

/* host names a server of the internal pool (a pool-server by name or address,
 * an internal-server): the Route entries a pool may have recorded. */
static bool
is_pool_host(const struct conf *cf, const char *host)
{
	struct sockaddr_storage ss;
	bool literal = conf_parse_sockaddr(host, 0, &ss) == 0;

	if (conf_is_internal_server(cf, host))
		return true;
	for (size_t i = 0; i < cf->npool; i++) {
		if (strcasecmp(cf->pool[i].fqdn, host) == 0)
			return true;
		if (literal && cf->pool[i].has_addr && conf_sockaddr_same_ip(&cf->pool[i].addr, &ss))
			return true;
	}
	return false;
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

/* Pop the Route entries that name this edge (RFC 3261 §16.4).  A token is
 * honoured only on a Route naming this edge; the token for the other side says
 * where an in-dialog request goes, the one for this side who may send it.
 * What an outside peer leaves after our entries must name the pool's own
 * servers (the Record-Route entries the pool added): anything else would make
 * the pool relay for it.  0, or -1 with prob set. */
int
route_pop_own(struct worker *w, msg_t *msg, sip_t *sip, enum side in_side,
    struct route_tokens *rt, struct sip_problem *prob)
{
	const struct conf *cf = w->px->conf;
	char tok[RR_TOKEN_MAX + 2], host[CONF_MAX_NAME], why[CONF_MAX_NAME + 64];

	memset(rt, 0, sizeof(*rt));
	while (sip->sip_route) {
		const url_t *u = sip->sip_route->r_url;
		isize_t n = u->url_params ? url_param(u->url_params, RR_PARAM, tok, sizeof(tok)) : 0;
		bool ours = sipmsg_url_host(u, host, sizeof(host)) && route_is_our_host(cf, host);
		struct rr_peer p;
		int rc;

		if (n > 0 && !ours) {
			snprintf(why, sizeof(why), "Route token on a foreign host %s",
			    sipmsg_url_host(u, host, sizeof(host)) ? host : "(none)");
			route_prob_set(prob, 403, DIAG_FOREIGN_ROUTE, why);
			return -1;
		}
		if (!ours)
			break;
		if (n > 0) {
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
				rt->target = p;
				rt->have_target = true;
			} else {
				rt->origin = p;
				rt->have_origin = true;
			}
		}
		sip_route_remove(msg, sip);
	}
	if (!sip->sip_route || in_side == SIDE_INTERNAL)
		return 0;
	/* An outsider may only route through us along our own tokens, and
	 * beyond us only through the pool's own servers: the Record-Route
	 * entries the pool added, which our token's hash vouches for, or hosts
	 * the configuration names. */
	if (!rt->have_target) {
		route_prob_set(prob, 403, DIAG_FOREIGN_ROUTE, "Route to a foreign host");
		return -1;
	}
	if (rt->have_origin && rt->origin.has_routes) {
		char text[4096];
		int n = sipmsg_routes_text(sip->sip_route, NULL, false, text, sizeof(text));

		if (n >= 0 && rr_routes_hash(&w->px->key, text, (size_t)n) == rt->origin.routes)
			return 0;
	}
	for (const sip_route_t *r = sip->sip_route; r; r = r->r_next)
		if (!sipmsg_url_host(r->r_url, host, sizeof(host)) || !is_pool_host(cf, host)) {
			snprintf(why, sizeof(why), "Route after the edge's to a host outside the pool: %s",
			    host);
			route_prob_set(prob, 403, DIAG_FOREIGN_ROUTE, why);
			return -1;
		}
	return 0;
}

/* The request is for the edge itself: an OPTIONS keep-alive to one of its
 * names or listener addresses, without a user part. */
bool
route_for_edge(const struct conf *cf, const sip_t *sip)
{
	const url_t *u = sip->sip_request->rq_url;
	char host[CONF_MAX_NAME];

	return sip->sip_request->rq_method == sip_method_options && !sip->sip_route &&
	    (!u->url_user || !u->url_user[0]) && sipmsg_url_host(u, host, sizeof(host)) &&
	    route_is_our_host(cf, host);
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

/* ---- finding the next hops: pins, SRV, A/AAAA --------------------------- */

/* Hops of t->prefer first (a dialog's own peer among its partner's edges),
 * keeping the order otherwise. */
static void
prefer_hops(struct txn *t)
{
	struct hop tmp[MAX_HOPS];
	size_t k = 0;

	if (!t->prefer[0])
		return;
	for (size_t i = 0; i < t->nhops; i++)
		if (strcasecmp(t->hops[i].fqdn, t->prefer) == 0)
			tmp[k++] = t->hops[i];
	for (size_t i = 0; i < t->nhops; i++)
		if (strcasecmp(t->hops[i].fqdn, t->prefer) != 0)
			tmp[k++] = t->hops[i];
	memcpy(t->hops, tmp, k * sizeof(tmp[0]));
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

		if (t->dialog && !t->res_diag)
			d = DIAG_FLOW_GONE;
		txn_reply(t, diag_lookup(d)->status, d, t->last_detail[0] ? t->last_detail : NULL);
		txn_complete(t, diag_lookup(d)->status);
		return;
	}
	prefer_hops(t);
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
	free(t->res);
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

/* Find the hops for next (an FQDN on port, or an SRV owner name when srv):
 * 0 when they are there already (a pin), 1 when a look-up continues the
 * transaction, -1 with prob set. */
static int
resolve(struct txn *t, const char *next, bool srv, unsigned short port, struct sip_problem *prob)
{
	struct worker *w = t->w;

	if (!srv) {
		if (txn_add_pinned_hop(t, next, port))
			return 0;
		free(t->res);
		if (!(t->res = calloc(1, sizeof(*t->res)))) {
			route_prob_set(prob, 503, DIAG_OVERLOAD, "out of memory");
			return -1;
		}
		snprintf(t->res[0].fqdn, sizeof(t->res[0].fqdn), "%s", next);
		t->res[0].port = port;
		t->res_n = 1;
		t->res_i = 0;
		if (dns_addr(w->dns, next, port, res_addr_cb, t, &t->q) < 0) {
			route_prob_set(prob, 503, DIAG_HOPS_FAILED, next);
			return -1;
		}
		return 1;
	}
	if (dns_srv(w->dns, next, res_srv_cb, t, &t->q) < 0) {
		route_prob_set(prob, 504, DIAG_FED_SRV_FAILED, next);
		return -1;
	}
	return 1;
}

/* ---- marking ------------------------------------------------------------ */

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

/* Outbound: our own marking replaces whatever the pool put there. */
static void
mark_outbound(struct worker *w, struct txn *t, sip_t *sip, bool mark_verified)
{
	char value[FEDROUTE_TRUST_MAX];

	strip_unknown(t->req, sip, TRUST_HEADER, NULL);
	if (mark_verified) {
		snprintf(value, sizeof(value), "ms-source-type=InternalUser;ms-ep-fqdn=%s;"
		    "ms-source-network=federation;ms-source-verified-user=verified",
		    w->px->conf->edge_fqdn);
		add_trust(t->req, sip, value);
	}
}

/* Inbound: nothing from outside may assert identity or trust to the pool
 * (RFC 3325 §5): only our own marking goes in.  fi is an accepted decision. */
static void
mark_inbound(struct txn *t, sip_t *sip, struct fed_in *fi)
{
	char value[FEDROUTE_TRUST_MAX];

	fi->source_verified = strip_unknown(t->req, sip, TRUST_HEADER, "ms-source-verified-user=verified");
	strip_unknown(t->req, sip, "P-Asserted-Identity", NULL);
	strip_unknown(t->req, sip, "P-Preferred-Identity", NULL);
	if (fedroute_trust_header(fi, fi->peer, value, sizeof(value)) > 0)
		add_trust(t->req, sip, value);
}

/* ---- outbound: internal → partner --------------------------------------- */

/* The policy for an outbound request to domain: refusals, discovered-partner
 * limits, our marking.  0 with *fo filled, or -1 with prob set.  ending: a
 * BYE or ACK in a dialog, which a policy refusal does not stop (*fo then
 * has type FED_NONE). */
static int
out_decide(struct worker *w, struct txn *t, sip_t *sip, const char *domain, bool ending,
    struct fed_out *fo, struct sip_problem *prob)
{
	enum diag_code why;
	char contact[CONF_MAX_NAME * 2];

	if (fedroute_outbound(w->pol, domain, fo) < 0) {
		if (!ending) {
			route_prob_set(prob, fo->status, fo->diag, fo->detail);
			return -1;
		}
		fo->type = FED_NONE;
		fo->mark_verified = false;
		log_info("%s ends a dialog with %s although the policy refuses it now (%u %s)",
		    sip->sip_request->rq_method_name, domain, (unsigned)fo->diag, fo->detail);
		mark_outbound(w, t, sip, false);
		return 0;
	}
	t->fed = fo->type;
	snprintf(t->fed_domain, sizeof(t->fed_domain), "%s", fo->domain);
	if (fo->throttled && !ending && throttle_admit(w->px->throttle, w->pol, fo->domain, NULL,
	    aor_str(sip->sip_from, contact, sizeof(contact)), uv_now(&w->loop), &why) < 0) {
		route_prob_set(prob, diag_lookup(why)->status, why, fo->domain);
		return -1;
	}
	mark_outbound(w, t, sip, fo->mark_verified);
	return 0;
}

/* Internal → partner (RFC 3261 §16.5 target set from the federation policy). */
static int
route_outbound(struct worker *w, struct txn *t, sip_t *sip, const char *domain,
    struct sip_problem *prob)
{
	struct fed_out fo;

	if (conf_is_our_domain(w->px->conf, domain)) {
		route_prob_set(prob, 403, DIAG_LOCAL_TARGET, domain);
		return -1;
	}
	if (out_decide(w, t, sip, domain, false, &fo, prob) < 0)
		return -1;
	t->out_side = SIDE_EXTERNAL;
	t->add_rr = sipmsg_is_dialog_forming(sip);
	if (t->add_rr) {
		/* The partner will send the pool's Record-Route entries back
		 * after ours: our external token vouches for exactly these. */
		char text[4096];
		int n = sipmsg_routes_text(sip->sip_record_route, NULL, false, text, sizeof(text));

		if (n >= 0) {
			t->has_routes = true;
			t->routes = rr_routes_hash(&w->px->key, text, (size_t)n);
		}
	}
	return resolve(t, fo.next, fo.via == FED_VIA_SRV, 5061, prob);
}

/* ---- inbound: partner → internal ---------------------------------------- */

/* A trust marking for a dialog-ending request the policy refuses now: the
 * dialog's own type and peer, from our token. */
static void
ending_decision(const struct rr_peer *origin, const char *domain, struct fed_in *fi)
{
	memset(fi, 0, sizeof(*fi));
	fi->type = origin->fed && origin->fed <= FED_DISCOVERED ? (enum fed_type)origin->fed :
	    FED_DISCOVERED;
	snprintf(fi->domain, sizeof(fi->domain), "%.253s", domain);
	snprintf(fi->peer, sizeof(fi->peer), "%.253s", origin->fqdn);
}

/* An inbound request passed its source checks (fi accepted): the dialog
 * binding, discovered-partner limits, our marking, the next hops.  0 hops
 * ready, 2 answer locally (OPTIONS for the edge), -1 refused. */
static int
in_accept(struct worker *w, struct txn *t, sip_t *sip, struct fed_in *fi, struct sip_problem *prob)
{
	const struct conf *cf = w->px->conf;
	enum diag_code why;
	char contact[CONF_MAX_NAME * 2], detail[3 * CONF_MAX_NAME + 96];

	if (t->dialog && !t->bound && strcasecmp(fi->domain, t->origin.domain) != 0) {
		snprintf(detail, sizeof(detail), "%s is not the dialog's peer %s nor an edge of %s",
		    fi->peer[0] ? fi->peer : "the sender", t->origin.fqdn,
		    t->origin.domain[0] ? t->origin.domain : "its partner");
		route_prob_set(prob, 403, DIAG_DIALOG_PEER, detail);
		return -1;
	}
	t->fed = fi->type;
	snprintf(t->fed_domain, sizeof(t->fed_domain), "%s", fi->domain);
	if (fi->throttled && !t->ending && throttle_admit(w->px->throttle, w->pol, fi->domain,
	    fi->peer, aor_str(sip->sip_to, contact, sizeof(contact)), uv_now(&w->loop), &why) < 0) {
		route_prob_set(prob, diag_lookup(why)->status, why, fi->domain);
		return -1;
	}
	mark_inbound(t, sip, fi);
	/* The name the partner's edge was accepted under is the one to dial it
	 * by, should its connection be gone later in the dialog. */
	if (fi->peer[0] && !t->in_peer.has_addr)
		snprintf(t->in_peer.fqdn, sizeof(t->in_peer.fqdn), "%s", fi->peer);
	snprintf(t->in_peer.domain, sizeof(t->in_peer.domain), "%s", fi->domain);
	t->in_peer.fed = (unsigned char)fi->type;
	if (t->local)
		return 2;
	if (t->dialog)
		return 0;            /* along the dialog's token (route_dialog) */
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

/* A policy refusal (fi refused) of a request from outside: final, unless it
 * ends a dialog with its own peer and is not a spoofed source.  0 to go on
 * with fi made an acceptance, -1 with prob set. */
static int
in_refused(struct txn *t, struct fed_in *fi, struct sip_problem *prob)
{
	if (t->dialog && t->ending && t->bound && fi->diag != DIAG_FED_SPOOFED) {
		log_info("%s ends a dialog with %s although the policy refuses it now (%u %s)",
		    t->sip->sip_request->rq_method_name, t->origin.domain, (unsigned)fi->diag,
		    fi->detail);
		ending_decision(&t->origin, t->origin.domain[0] ? t->origin.domain : fi->domain, fi);
		return 0;
	}
	route_prob_set(prob, fi->status, fi->diag, fi->detail);
	return -1;
}

/* The inbound request after the look-up: answer, dial, or refuse. */
static void
in_continue(struct txn *t, int rc, struct sip_problem *prob)
{
	if (rc < 0) {
		txn_reply(t, prob->status, prob->diag, prob->detail);
		txn_complete(t, prob->status);
	} else if (rc == 2) {
		txn_answer_options(t);
	} else {
		txn_next_hop(t);
	}
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
		memset(&out, 0, sizeof(out));
		out.status = diag_lookup(d)->status;
		out.diag = d;
		snprintf(out.detail, sizeof(out.detail), "%.80s: %.100s", t->fin->srv,
		    status ? dns_strerror(status) : "no SRV records");
		in_continue(t, in_refused(t, &out, &prob) < 0 ? -1 :
		    in_accept(t->w, t, t->sip, &out, &prob), &prob);
		return;
	}
	if (n > MAX_HOPS)
		n = MAX_HOPS;
	for (size_t i = 0; i < n; i++)
		names[i] = v[i].target;
	if (fedroute_inbound_srv(t->fin, names, n, (const char *const *)ci->peer_names,
		ci->npeer_names, &out) < 0 && in_refused(t, &out, &prob) < 0) {
		in_continue(t, -1, &prob);
		return;
	}
	in_continue(t, in_accept(t->w, t, t->sip, &out, &prob), &prob);
}

/* The source checks of a request from outside: entitled to speak for its From
 * domain.  Returns what in_accept returns, 1 when an SRV look-up continues
 * (in_srv_cb), -1 refused. */
static int
in_check_source(struct worker *w, struct txn *t, const struct conn_info *ci, sip_t *sip,
    struct sip_problem *prob)
{
	char source[CONF_MAX_NAME];
	struct fed_in fi;
	int rc;

	if (!sipmsg_url_host(sip->sip_from->a_url, source, sizeof(source))) {
		route_prob_set(prob, 400, DIAG_MALFORMED, "From has no host");
		return -1;
	}
	rc = fedroute_inbound(w->pol, source, (const char *const *)ci->peer_names, ci->npeer_names, &fi);
	if (rc == FED_IN_REFUSE) {
		if (in_refused(t, &fi, prob) < 0)
			return -1;
		return in_accept(w, t, sip, &fi, prob);
	}
	if (rc == FED_IN_ACCEPT)
		return in_accept(w, t, sip, &fi, prob);
	snprintf(t->fed_domain, sizeof(t->fed_domain), "%s", fi.domain);
	free(t->fin);
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

/* Partner → internal: for one of our domains (or the edge itself), from a
 * peer entitled to speak for its own. */
static int
route_inbound(struct worker *w, struct txn *t, const struct conn_info *ci, sip_t *sip,
    const char *target, struct sip_problem *prob)
{
	if (!t->local && !conf_is_our_domain(w->px->conf, target)) {
		route_prob_set(prob, 403, DIAG_RELAY_DENIED, target);
		return -1;
	}
	return in_check_source(w, t, ci, sip, prob);
}

/* ---- in a dialog --------------------------------------------------------- */

/* A request from outside in a dialog: from the dialog's peer, under the same
 * checks as a new request. */
static int
route_dialog_in(struct worker *w, struct conn *c, sip_t *sip, struct txn *t,
    const struct route_tokens *rt, struct sip_problem *prob)
{
	const struct conn_info *ci = conn_info(c);

	if (!rt->have_origin) {
		route_prob_set(prob, 403, DIAG_DIALOG_PEER, "no Route of the edge names the sender's side");
		return -1;
	}
	t->origin = rt->origin;
	t->bound = (ci->id == rt->origin.conn_id && txn_flow_matches(c, &rt->origin)) ||
	    (rt->origin.fqdn[0] && ci->kind == TP_TLS && conn_peer_matches(c, rt->origin.fqdn));
	return in_check_source(w, t, ci, sip, prob);
}

/* A request from the pool in a dialog: the partner must still be federated
 * (but BYE and ACK may end the dialog); our marking replaces the pool's. */
static int
route_dialog_out(struct worker *w, sip_t *sip, struct txn *t, const struct rr_peer *target,
    struct sip_problem *prob)
{
	char domain[CONF_MAX_NAME];
	struct fed_out fo;

	if (target->domain[0])
		snprintf(domain, sizeof(domain), "%s", target->domain);
	else if (!sipmsg_url_host(sip->sip_to->a_url, domain, sizeof(domain)))
		domain[0] = '\0';
	snprintf(t->fed_domain, sizeof(t->fed_domain), "%s", domain);
	return out_decide(w, t, sip, domain, t->ending, &fo, prob);
}

int
route_dialog_fallback(struct txn *t)
{
	const struct conf *cf = t->w->px->conf;
	const struct rr_peer *p = &t->flow;
	struct sip_problem prob;
	struct fed_out fo;
	char srv[FEDROUTE_NEXT_MAX];
	int rc;

	if (t->fallback_done)
		return -1;
	t->fallback_done = true;
	t->nhops = t->cur = t->nexthop = 0;
	t->ordered = false;
	snprintf(t->prefer, sizeof(t->prefer), "%s", p->fqdn);
	if (p->has_addr) {
		txn_add_hop(t, p->fqdn, &p->addr, p->kind);
		return 0;
	}
	if (p->side == SIDE_INTERNAL) {
		/* The pool server the token names, as configured. */
		for (size_t i = 0; i < cf->npool; i++)
			if (strcasecmp(cf->pool[i].fqdn, p->fqdn) == 0) {
				t->hops[t->nhops++] = cf->pool[i];
				return 0;
			}
		if (!p->fqdn[0])
			return -1;
		return resolve(t, p->fqdn, false, 5061, &prob) < 0 ? -1 : 1;
	}
	/* A partner's edge: through the current policy and DNS, verifying its
	 * certificate as for a new request; the edge the dialog used first. */
	if (p->domain[0] && fedroute_outbound(t->w->pol, p->domain, &fo) == 0 &&
	    !fo.default_route) {
		rc = resolve(t, fo.next, fo.via == FED_VIA_SRV, 5061, &prob);
	} else if (p->domain[0]) {
		snprintf(srv, sizeof(srv), "%s%.253s", FEDROUTE_SRV_PREFIX, p->domain);
		rc = resolve(t, srv, true, 5061, &prob);
	} else if (p->fqdn[0]) {
		rc = resolve(t, p->fqdn, false, 5061, &prob);
	} else
		return -1;
	if (rc == 0)
		prefer_hops(t);
	return rc < 0 ? -1 : rc;
}

/* ---- the routing step ----------------------------------------------------- */

/* Decide where a request goes: in-dialog along our tokens, or by the relay
 * rules and the federation policy.  0: hops ready; 1: a look-up is under way
 * and will continue the transaction; 2: the edge answers it itself (OPTIONS);
 * -1: refused (prob set). */
int
route_request(struct worker *w, struct conn *c, sip_t *sip, struct txn *t,
    const struct route_tokens *rt, struct sip_problem *prob)
{
	const struct conf *cf = w->px->conf;
	const struct conn_info *ci = conn_info(c);
	sip_method_t m = sip->sip_request->rq_method;
	char host[CONF_MAX_NAME];
	int rc;

	if (ci->side == SIDE_INTERNAL && !route_internal_allowed(cf, ci)) {
		route_prob_set(prob, 403, DIAG_INTERNAL_NOT_ALLOWED, ci->npeer_names ? ci->peer_names[0] : "peer");
		return -1;
	}
	if (!w->pol) {
		route_prob_set(prob, 403, DIAG_FED_DISABLED, "no policy loaded");
		return -1;
	}
	if (rt->have_target) {
		t->dialog = true;
		t->ending = m == sip_method_bye || m == sip_method_ack;
		t->out_side = rt->target.side;
		t->use_flow = true;
		t->flow = rt->target;
		rc = ci->side == SIDE_EXTERNAL ? route_dialog_in(w, c, sip, t, rt, prob) :
		    route_dialog_out(w, sip, t, &rt->target, prob);
		return rc;
	}
	if (route_for_edge(cf, sip)) {
		/* A keep-alive ping for the edge itself, from an allowed peer. */
		t->local = true;
		if (ci->side == SIDE_INTERNAL)
			return 2;
		return route_inbound(w, t, ci, sip, NULL, prob);
	}
	if (!sipmsg_url_host(sip->sip_request->rq_url, host, sizeof(host))) {
		route_prob_set(prob, 400, DIAG_MALFORMED, "Request-URI has no host");
		return -1;
	}
	if (ci->side == SIDE_INTERNAL)
		return route_outbound(w, t, sip, host, prob);
	return route_inbound(w, t, ci, sip, host, prob);
}

/* The pool server a connection from the pool belongs to: by certificate name,
 * or (plain TCP, labs) by address. */
static const struct hop *
pool_server_of(const struct conf *cf, const struct conn_info *ci)
{
	for (size_t i = 0; i < cf->npool; i++) {
		const struct hop *h = &cf->pool[i];

		if (ci->kind != h->kind)
			continue;
		if (ci->kind == TP_TCP) {
			if (h->has_addr && conf_sockaddr_same_ip(&h->addr, &ci->peer))
				return h;
			continue;
		}
		for (size_t k = 0; k < ci->npeer_names; k++)
			if (strcasecmp(h->fqdn, ci->peer_names[k]) == 0)
				return h;
	}
	return NULL;
}

void
route_fill_in_peer(struct worker *w, struct txn *t, const struct conn_info *ci)
{
	const struct conf *cf = w->px->conf;
	const struct hop *ps;

	memset(&t->in_peer, 0, sizeof(t->in_peer));
	t->in_peer.side = ci->side;
	t->in_peer.kind = ci->kind;
	t->in_peer.conn_id = ci->id;
	if (ci->npeer_names)
		snprintf(t->in_peer.fqdn, sizeof(t->in_peer.fqdn), "%s", ci->peer_names[0]);
	if (ci->outbound) {
		/* A connection we dialled can be dialled again. */
		t->in_peer.has_addr = true;
		t->in_peer.addr = ci->peer;
		if (ci->dialled_fqdn)
			snprintf(t->in_peer.fqdn, sizeof(t->in_peer.fqdn), "%s", ci->dialled_fqdn);
	} else if (ci->side == SIDE_INTERNAL && (ps = pool_server_of(cf, ci)) != NULL) {
		/* The pool server as configured: its name, and its address
		 * when the configuration gives one (else it is looked up). */
		snprintf(t->in_peer.fqdn, sizeof(t->in_peer.fqdn), "%s", ps->fqdn);
		if (ps->has_addr) {
			t->in_peer.has_addr = true;
			t->in_peer.addr = ps->addr;
		}
	} else if (t->in_peer.fqdn[0] && ci->side == SIDE_EXTERNAL) {
		const struct host_conf *hc = conf_host_find(cf, t->in_peer.fqdn);

		if (hc && hc->kind == TP_TLS) {
			t->in_peer.has_addr = true;
			t->in_peer.addr = hc->addr;
			if (!hc->has_port)
				((struct sockaddr_in *)&t->in_peer.addr)->sin_port = htons(5061);
		}
	}
}

/* A dialog-forming response from the pool to a partner's request (RFC 3261
 * §16.7 item 4 lets a proxy rewrite its own Record-Route value): our external
 * token now vouches for the pool's Record-Route entries above ours, which the
 * partner will send back after ours, in reverse order. */
void
route_seal_response(struct txn *t, msg_t *msg, sip_t *sip)
{
	struct worker *w = t->w;
	const char *callid = t->sip->sip_call_id->i_id;
	sip_record_route_t *r, *ours_int = NULL, *ours_ext = NULL, *fresh;
	struct rr_peer ext, p;
	char tok[RR_TOKEN_MAX + 2], text[4096];
	int n;

	for (r = sip->sip_record_route; r; r = r->r_next) {
		isize_t k = r->r_url->url_params ?
		    url_param(r->r_url->url_params, RR_PARAM, tok, sizeof(tok)) : 0;

		if (k <= 0 || (size_t)k >= sizeof(tok) ||
		    rr_token_decode(&w->px->key, tok, callid, &p) < 0)
			continue;
		if (p.side == SIDE_INTERNAL && !ours_int)
			ours_int = r;
		else if (p.side == SIDE_EXTERNAL && !ours_ext) {
			ours_ext = r;
			ext = p;
		}
	}
	if (!ours_int || !ours_ext)
		return;
	n = sipmsg_routes_text(sip->sip_record_route, ours_int, true, text, sizeof(text));
	if (n < 0)
		return;
	ext.has_routes = true;
	ext.routes = rr_routes_hash(&w->px->key, text, (size_t)n);
	if ((fresh = txn_make_rr(t, msg, SIDE_EXTERNAL, &ext)) == NULL ||
	    msg_header_replace(msg, (msg_pub_t *)sip, (msg_header_t *)ours_ext, (msg_header_t *)fresh) < 0)
		log_debug("%s: cannot seal the Record-Route of a response", __func__);
}
