/* route.c: the one routing step of a request (see route.h): the relay rules,
 * the federation policy with its look-ups for a request to a partner (and to
 * an XMPP partner: the gateway), the trust marking, OPTIONS for the edge
 * itself, and the same rules in a dialog; a request from outside goes on in
 * route_in.c.  Shared by the daemon and sipedgectl route; no transport, no
 * transaction: what it decides is left in the op.
 *
 * In a dialog the same rules hold as for a new request: a request from outside
 * must come from a peer entitled to speak for its From domain (our own domains
 * never), its identity headers are replaced by our trust marking, and the
 * partner must still be federated; a policy that no longer allows the partner
 * lets only BYE and ACK through, so that calls can end.  On top of that the
 * sender must be the dialog's peer: the connection or certificate recorded in
 * our token (op->bound, the caller's check), or another edge of the same
 * partner domain. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/msg_header.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_protos.h>
#include <sofia-sip/sip_util.h>
#include <sofia-sip/url.h>

#include "route_int.h"
#include "sipedge/log.h"


/* ---- steps --------------------------------------------------------------- */

void
route__step(const struct route_op *op, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;

	if (!op->env->step)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	op->env->step(op->env->step_arg, op, buf);
}

/* Refuse: status, code and the detail (reason text, cut as it may be). */
int
route__refuse(struct route_op *op, int status, enum diag_code d, const char *detail)
{
	size_t n = detail ? strlen(detail) : 0;

	op->prob.status = status;
	op->prob.diag = d;
	if (n >= sizeof(op->prob.detail))
		n = sizeof(op->prob.detail) - 1;
	memcpy(op->prob.detail, detail ? detail : "", n);
	op->prob.detail[n] = '\0';
	op->verdict = ROUTE_REFUSE;
	return ROUTE_REFUSE;
}

void
route_cause(struct route_op *op, const char *text)
{
	size_t n = strlen(op->causes);

	if (!text || !text[0] || strstr(op->causes, text))
		return;
	snprintf(op->causes + n, sizeof(op->causes) - n, "%s%s", n ? "; " : "", text);
}

/* "allowed partner domain fabrikam.test", "provider MSN for msn.test". */
const char *
route_type_str(enum fed_type t, const char *domain, const char *provider, char *buf, size_t len)
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

/* ---- relay rules and our own names ----------------------------------------- */

bool
route_internal_allowed(const struct conf *cf, const char *const *names, size_t n,
    enum tp_kind kind, const struct sockaddr_storage *peer)
{
	char a[80], *colon;

	if (kind == TP_TLS) {
		for (size_t i = 0; i < n; i++)
			if (conf_is_internal_server(cf, names[i]))
				return true;
		return false;
	}
	/* Plain TCP (labs): by source address. */
	conf_sockaddr_str(peer, a, sizeof(a));
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

int
route_pop_own(struct route_op *op)
{
	const struct conf *cf = op->env->cf;
	msg_t *msg = op->msg;
	sip_t *sip = op->sip;
	char tok[RR_TOKEN_MAX + 2], host[CONF_MAX_NAME], why[CONF_MAX_NAME + 64];
	bool have_target = false;

	op->have_origin = false;
	while (sip->sip_route) {
		const url_t *u = sip->sip_route->r_url;
		isize_t n = u->url_params ? url_param(u->url_params, RR_PARAM, tok, sizeof(tok)) : 0;
		bool ours = sipmsg_url_host(u, host, sizeof(host)) && route_is_our_host(cf, host);
		struct rr_peer p;
		int rc;

		if (n > 0 && !ours) {
			snprintf(why, sizeof(why), "Route token on a foreign host %s",
			    sipmsg_url_host(u, host, sizeof(host)) ? host : "(none)");
			return route__refuse(op, 403, DIAG_FOREIGN_ROUTE, why);
		}
		if (!ours)
			break;
		if (n > 0) {
			if ((size_t)n >= sizeof(tok))
				return route__refuse(op, 403, DIAG_BAD_ROUTE_TOKEN, "Route token too long");
			rc = rr_token_decode(op->env->key, tok, sip->sip_call_id->i_id, &p);
			if (rc < 0)
				return route__refuse(op, 403, DIAG_BAD_ROUTE_TOKEN,
				    rc == -EPERM ? "Route token does not verify for this dialog" :
						   "Route token is malformed");
			if (p.side != op->side) {
				op->target = p;
				have_target = true;
			} else {
				op->origin = p;
				op->have_origin = true;
			}
		}
		sip_route_remove(msg, sip);
	}
	op->dialog = have_target;
	if (!sip->sip_route || op->side == SIDE_INTERNAL)
		return 0;
	/* An outsider may only route through us along our own tokens, and
	 * beyond us only through the pool's own servers: the Record-Route
	 * entries the pool added, which our token's hash vouches for, or hosts
	 * the configuration names. */
	if (!have_target)
		return route__refuse(op, 403, DIAG_FOREIGN_ROUTE, "Route to a foreign host");
	if (op->have_origin && op->origin.has_routes) {
		char text[4096];
		int n = sipmsg_routes_text(sip->sip_route, NULL, false, text, sizeof(text));

		if (n >= 0 && rr_routes_hash(op->env->key, text, (size_t)n) == op->origin.routes)
			return 0;
	}
	for (const sip_route_t *r = sip->sip_route; r; r = r->r_next)
		if (!sipmsg_url_host(r->r_url, host, sizeof(host)) || !is_pool_host(cf, host)) {
			snprintf(why, sizeof(why), "Route after the edge's to a host outside the pool: %s",
			    host);
			return route__refuse(op, 403, DIAG_FOREIGN_ROUTE, why);
		}
	return 0;
}

/* The request is for the edge itself: an OPTIONS keep-alive to one of its
 * names or listener addresses, without a user part. */
static bool
for_edge(const struct conf *cf, const sip_t *sip)
{
	const url_t *u = sip->sip_request->rq_url;
	char host[CONF_MAX_NAME];

	return sip->sip_request->rq_method == sip_method_options && !sip->sip_route &&
	    (!u->url_user || !u->url_user[0]) && sipmsg_url_host(u, host, sizeof(host)) &&
	    route_is_our_host(cf, host);
}

/* user@host of a name-addr, for the throttle's distinct contacts. */
const char *
route__aor_str(const sip_addr_t *a, char *buf, size_t len)
{
	char host[CONF_MAX_NAME];

	if (!a || !sipmsg_url_host(a->a_url, host, sizeof(host)))
		return "";
	snprintf(buf, len, "%s@%s", a->a_url->url_user ? a->a_url->url_user : "", host);
	return buf;
}

/* ---- marking ---------------------------------------------------------------- */

/* Remove every header named name (an extension header Sofia keeps as
 * unknown); true when one of them held flag. */
bool
route__strip_unknown(msg_t *msg, sip_t *sip, const char *name, const char *flag)
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

void
route__add_trust(struct route_op *op, const char *value)
{
	msg_header_t *h;

	snprintf(op->trust, sizeof(op->trust), "%s", value);
	h = msg_header_format(msg_home(op->msg), sip_unknown_class, "%s: %s", ROUTE_TRUST_HEADER, value);
	if (h)
		msg_header_insert(op->msg, (msg_pub_t *)op->sip, h);
}

/* Outbound: our own marking replaces whatever the pool put there. */
static void
mark_outbound(struct route_op *op, bool mark_verified)
{
	char value[FEDROUTE_TRUST_MAX];

	route__strip_unknown(op->msg, op->sip, ROUTE_TRUST_HEADER, NULL);
	if (!mark_verified) {
		route__step(op, "trust: mark-source-verifiable is off: any %s header from the pool is "
		    "removed, none is added", ROUTE_TRUST_HEADER);
		return;
	}
	snprintf(value, sizeof(value), "ms-source-type=InternalUser;ms-ep-fqdn=%s;"
	    "ms-source-network=federation;ms-source-verified-user=verified", op->env->cf->edge_fqdn);
	route__add_trust(op, value);
	route__step(op, "trust: %s: %s (replacing any from the pool)", ROUTE_TRUST_HEADER, value);
}

/* RFC 3325 §5: an identity asserted from outside is not trusted. */
void
route__strip_identity(struct route_op *op)
{
	route__strip_unknown(op->msg, op->sip, "P-Asserted-Identity", NULL);
	route__strip_unknown(op->msg, op->sip, "P-Preferred-Identity", NULL);
}

/* The throttle of a discovered partner: counted in the daemon, described in
 * the dry run.  0, or -EACCES with op->prob set. */
int
route__throttle(struct route_op *op, const char *domain, const char *peer, const char *contact)
{
	const struct route_env *env = op->env;
	enum diag_code why;

	op->throttled = true;
	if (!env->throttle) {
		const struct store_config *c = policy_config(env->pol);

		route__step(op, "throttle: %s is a discovered partner: the daemon admits %u requests/s "
		    "(%u/s once suspicious) and %u distinct internal contacts per %u minutes, and "
		    "refuses beyond that (503 2011, 503 2013, 480 2012); its live counters are not "
		    "visible here, so whether this request would be throttled now cannot be told",
		    domain, c->discovered_rate, c->discovered_suspicious_rate,
		    c->discovered_contacts, c->discovered_period);
		return 0;
	}
	if (op->ending)
		return 0;        /* a dialog may always end */
	if (throttle_admit(env->throttle, env->pol, domain, peer, contact, uv_now(env->loop), &why) < 0) {
		route__step(op, "throttle: %s refused (%u)", domain, (unsigned)why);
		route__refuse(op, diag_lookup(why)->status, why, domain);
		return -EACCES;
	}
	return 0;
}

/* ---- outbound: internal → partner ---------------------------------------- */

static void
outbound_policy_step(struct route_op *op, const struct fed_out *fo)
{
	char type[NAMES_MAX + 128];

	if (!op->env->step)
		return;
	route_type_str(fo->type, fo->domain, fo->provider, type, sizeof(type));
	if (fo->default_route)
		route__step(op, "policy: %s%s → default route %s (routing-method default-route)", type,
		    fo->monitor ? " (monitored)" : "", fo->next);
	else if (fo->via == FED_VIA_FQDN)
		route__step(op, "policy: %s%s → proxy %s", type, fo->monitor ? " (monitored)" : "", fo->next);
	else
		route__step(op, "policy: %s%s → SRV %s", type, fo->monitor ? " (monitored)" : "", fo->next);
}

/* The policy for an outbound request to domain: refusals, discovered-partner
 * limits, our marking.  0 with *fo filled, or -EACCES with op->prob set.  A policy
 * refusal does not stop a BYE or ACK in a dialog (*fo then has type
 * FED_NONE). */
static int
out_decide(struct route_op *op, const char *domain, struct fed_out *fo)
{
	char contact[CONF_MAX_NAME * 2];

	if (fedroute_outbound(op->env->pol, domain, fo) < 0) {
		route__step(op, "policy: refused: %s", fo->detail);
		if (!op->ending) {
			route__refuse(op, fo->status, fo->diag, fo->detail);
			return -EACCES;
		}
		log_info("%s ends a dialog with %s although the policy refuses it now (%u %s)",
		    op->sip->sip_request->rq_method_name, domain, (unsigned)fo->diag, fo->detail);
		fo->type = FED_NONE;
		mark_outbound(op, false);
		return 0;
	}
	op->type = fo->type;
	op->default_route = fo->default_route;
	snprintf(op->domain, sizeof(op->domain), "%s", fo->domain);
	snprintf(op->provider, sizeof(op->provider), "%s", fo->provider);
	outbound_policy_step(op, fo);
	if (fo->throttled && route__throttle(op, fo->domain, NULL,
	    route__aor_str(op->sip->sip_from, contact, sizeof(contact))) < 0)
		return -EACCES;
	mark_outbound(op, fo->mark_verified);
	return 0;
}

/* Internal → partner (RFC 3261 §16.5 target set from the federation policy). */
static int
route_outbound(struct route_op *op, const char *domain)
{
	struct fed_out fo;

	if (conf_is_our_domain(op->env->cf, domain)) {
		route__step(op, "%s is one of our SIP domains (sip-domain in %s): not federated", domain,
		    op->env->cf->path);
		return route__refuse(op, 403, DIAG_LOCAL_TARGET, domain);
	}
	{
		const struct policy_xmpp_partner *xp;

		/* RFC 7247 §4: for an XMPP partner the edge is the gateway. */
		if (policy_xmpp_decide(op->env->pol, domain, &xp) == POLICY_XMPP_PARTNER) {
			snprintf(op->domain, sizeof(op->domain), "%s", xp->domain);
			route__step(op, "policy: %s is an XMPP partner (%s%s%s): the request is "
			    "translated and sent over an XMPP server-to-server stream", domain,
			    store_xmpp_type_name(xp->type), strcmp(xp->domain, domain) ? ", of " : "",
			    strcmp(xp->domain, domain) ? xp->domain : "");
			snprintf(op->domain, sizeof(op->domain), "%s", domain);
			return op->verdict = ROUTE_XMPP;
		}
	}
	if (out_decide(op, domain, &fo) < 0)
		return ROUTE_REFUSE;
	op->out_side = SIDE_EXTERNAL;
	op->add_rr = sipmsg_is_dialog_forming(op->sip);
	if (op->add_rr && op->env->key) {
		/* The partner will send the pool's Record-Route entries back
		 * after ours: our external token vouches for exactly these. */
		char text[4096];
		int n = sipmsg_routes_text(op->sip->sip_record_route, NULL, false, text, sizeof(text));

		if (n >= 0) {
			op->has_routes = true;
			op->routes = rr_routes_hash(op->env->key, text, (size_t)n);
		}
	}
	return route__resolve(op, fo.next, fo.via == FED_VIA_SRV, 5061);
}

/* A request from the pool for the gateway's Contact: one of its dialogs. */
static bool
for_xmpp_gw(const struct conf *cf, const sip_t *sip)
{
	const url_t *u = sip->sip_request->rq_url;
	char host[CONF_MAX_NAME];

	return u->url_user && strcmp(u->url_user, ROUTE_XMPP_GW_USER) == 0 &&
	    sipmsg_url_host(u, host, sizeof(host)) && route_is_our_host(cf, host);
}

/* ---- in a dialog ------------------------------------------------------------ */

/* A request from the pool in a dialog: the partner must still be federated
 * (but BYE and ACK may end the dialog); our marking replaces the pool's. */
static int
route_dialog_out(struct route_op *op)
{
	char domain[CONF_MAX_NAME];
	struct fed_out fo;

	if (op->target.domain[0])
		snprintf(domain, sizeof(domain), "%s", op->target.domain);
	else if (!sipmsg_url_host(op->sip->sip_to->a_url, domain, sizeof(domain)))
		domain[0] = '\0';
	snprintf(op->domain, sizeof(op->domain), "%s", domain);
	if (out_decide(op, domain, &fo) < 0)
		return ROUTE_REFUSE;
	return op->verdict = ROUTE_FORWARD;
}

static int fallback(struct route_op *op);

int
route_fallback(struct route_op *op)
{
	int rc;

	op->starting = true;
	rc = fallback(op);
	op->starting = false;
	return op->verdict = rc == ROUTE_PENDING ? op->verdict : rc;
}

static int
fallback(struct route_op *op)
{
	const struct conf *cf = op->env->cf;
	const struct rr_peer *p = &op->target;
	struct fed_out fo;
	char srv[FEDROUTE_NEXT_MAX];

	if (op->fallback_done)
		return ROUTE_REFUSE;
	op->fallback_done = true;
	op->nhops = 0;
	op->res_diag = DIAG_NONE;
	snprintf(op->prefer, sizeof(op->prefer), "%s", p->fqdn);
	if (p->has_addr) {
		route__add_hop(op, p->fqdn, &p->addr, p->kind);
		return op->verdict = ROUTE_FORWARD;
	}
	if (p->side == SIDE_INTERNAL) {
		/* The pool server the token names, as configured. */
		for (size_t i = 0; i < cf->npool; i++)
			if (strcasecmp(cf->pool[i].fqdn, p->fqdn) == 0)
				return route__resolve_hops(op, &cf->pool[i], 1);
		if (!p->fqdn[0])
			return route__refuse(op, 430, DIAG_FLOW_GONE, NULL);
		return route__resolve(op, p->fqdn, false, 5061);
	}
	/* A partner's edge: through the current policy and DNS, verifying its
	 * certificate as for a new request; the edge the dialog used first. */
	if (p->domain[0] && fedroute_outbound(op->env->pol, p->domain, &fo) == 0 && !fo.default_route)
		return route__resolve(op, fo.next, fo.via == FED_VIA_SRV, 5061);
	if (p->domain[0]) {
		snprintf(op->domain, sizeof(op->domain), "%s", p->domain);
		snprintf(srv, sizeof(srv), "%s%.253s", FEDROUTE_SRV_PREFIX, p->domain);
		return route__resolve(op, srv, true, 5061);
	}
	if (p->fqdn[0])
		return route__resolve(op, p->fqdn, false, 5061);
	return route__refuse(op, 430, DIAG_FLOW_GONE, NULL);
}

/* ---- the routing step -------------------------------------------------------- */

void
route__finish(struct route_op *op, int verdict)
{
	op->verdict = verdict;
	/* Inside route_start the verdict is its return value. */
	if (verdict != ROUTE_PENDING && op->done && !op->starting)
		op->done(op);
}

static int start(struct route_op *op);

int
route_start(struct route_op *op)
{
	int rc;

	op->starting = true;
	rc = start(op);
	op->starting = false;
	return op->verdict = rc == ROUTE_PENDING ? op->verdict : rc;
}

static int
start(struct route_op *op)
{
	const struct conf *cf = op->env->cf;
	sip_t *sip = op->sip;
	sip_method_t m = sip->sip_request->rq_method;
	char host[CONF_MAX_NAME];

	op->verdict = ROUTE_PENDING;
	op->ending = op->dialog && (m == sip_method_bye || m == sip_method_ack);
	if (!op->env->pol)
		return route__refuse(op, 403, DIAG_FED_DISABLED, "no policy loaded");
	if (op->xmpp_dialog)
		return route__xmpp_dialog(op);
	if (op->xmpp_domain)
		return route__xmpp_in(op);
	if (op->side == SIDE_INTERNAL && for_xmpp_gw(cf, sip)) {
		route__step(op, "for the XMPP gateway's Contact: one of its presence dialogs");
		op->domain[0] = '\0';
		return op->verdict = ROUTE_XMPP;
	}
	if (op->dialog) {
		op->out_side = op->target.side;
		if (op->side == SIDE_INTERNAL)
			return route_dialog_out(op);
		if (!op->have_origin)
			return route__refuse(op, 403, DIAG_DIALOG_PEER,
			    "no Route of the edge names the sender's side");
		return route__in_check_source(op);
	}
	if (for_edge(cf, sip)) {
		/* A keep-alive ping for the edge itself, from an allowed peer. */
		op->local = true;
		route__step(op, "OPTIONS for the edge itself: answered by the edge");
		if (op->side == SIDE_INTERNAL)
			return op->verdict = ROUTE_LOCAL;
		return route__inbound(op, NULL);
	}
	if (!sipmsg_url_host(sip->sip_request->rq_url, host, sizeof(host)))
		return route__refuse(op, 400, DIAG_MALFORMED, "Request-URI has no host");
	if (op->side == SIDE_INTERNAL)
		return route_outbound(op, host);
	return route__inbound(op, host);
}

void
route_cancel(struct route_op *op)
{
	if (op->q)
		dns_cancel(op->q);
	op->q = NULL;
	free(op->res);
	op->res = NULL;
	op->res_n = op->res_i = 0;
	free(op->fin);
	op->fin = NULL;
}
