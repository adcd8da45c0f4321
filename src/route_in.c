/* route_in.c: the routing step of a request from outside (route.h): a
 * federated partner's (its source checks against the federation policy,
 * through a DNS SRV look-up for a partner's edges where its certificate
 * must be matched to them, the dialog binding, the discovered-partner
 * limits), an XMPP partner's translated by the gateway (its stream
 * authenticated the domain), and the gateway's own requests in its
 * dialogs; each marked with our trust header alone and sent to the pool
 * servers.  route.c starts the step and calls in here. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_protos.h>

#include "route_int.h"
#include "sipedge/log.h"

/* Whether the trust header's verified mark is the partner's own. */
static bool
mark_is_senders(const struct fed_in *fi)
{
	return fi->type == FED_DISCOVERED ||
	    (fi->type == FED_PROVIDER && fi->verification == STORE_VERIFY_USE_SOURCE);
}

/* Inbound: nothing from outside may assert identity or trust to the pool
 * (RFC 3325 §5): only our own marking goes in.  fi is an accepted decision. */
static void
mark_inbound(struct route_op *op, struct fed_in *fi)
{
	char value[FEDROUTE_TRUST_MAX];

	fi->source_verified = route__strip_unknown(op->msg, op->sip, ROUTE_TRUST_HEADER,
	    "ms-source-verified-user=verified");
	op->source_verified = fi->source_verified;
	route__strip_identity(op);
	if (fedroute_trust_header(fi, fi->peer, value, sizeof(value)) > 0)
		route__add_trust(op, value);
	route__step(op, "trust: %s: %s%s (the partner's own %s, P-Asserted-Identity and "
	    "P-Preferred-Identity headers removed)", ROUTE_TRUST_HEADER, op->trust,
	    mark_is_senders(fi) && !fi->source_verified ? "; ms-source-verified-user=verified "
	    "instead when the partner's request carries that mark" : "", ROUTE_TRUST_HEADER);
}

/* ---- inbound: partner → internal ------------------------------------------ */

static void
inbound_policy_step(struct route_op *op, int rc, const struct fed_in *fi)
{
	char type[NAMES_MAX + 128];

	if (!op->env->step)
		return;
	route_type_str(fi->type, fi->domain, fi->provider, type, sizeof(type));
	if (rc == FED_IN_REFUSE)
		route__step(op, "policy: refused: %s", fi->detail);
	else if (rc == FED_IN_NEED_SRV)
		route__step(op, "policy: %s%s: the peer must be a target of SRV %s", type,
		    fi->monitor ? " (monitored)" : "", fi->srv);
	else
		route__step(op, "policy: %s%s: the certificate names its proxy %s", type,
		    fi->monitor ? " (monitored)" : "", fi->peer);
}

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

/* A policy refusal (fi refused) of a request from outside: final, unless it
 * ends a dialog with its own peer and is not a spoofed source.  0 to go on
 * with fi made an acceptance, -EACCES with op->prob set. */
static int
in_refused(struct route_op *op, struct fed_in *fi)
{
	if (op->dialog && op->ending && op->bound && fi->diag != DIAG_FED_SPOOFED) {
		log_info("%s ends a dialog with %s although the policy refuses it now (%u %s)",
		    op->sip->sip_request->rq_method_name, op->origin.domain, (unsigned)fi->diag,
		    fi->detail);
		ending_decision(&op->origin, op->origin.domain[0] ? op->origin.domain : fi->domain, fi);
		return 0;
	}
	route__refuse(op, fi->status, fi->diag, fi->detail);
	return -EACCES;
}

/* The next hops are the pool servers (pool-server, in order). */
static int
to_pool(struct route_op *op)
{
	const struct conf *cf = op->env->cf;

	op->out_side = SIDE_INTERNAL;
	if (cf->npool == 0) {
		route__step(op, "pool: no pool-server in %s", cf->path);
		return route__refuse(op, 503, DIAG_HOPS_FAILED, "no pool-server configured");
	}
	return route__resolve_hops(op, cf->pool, cf->npool < ROUTE_MAX_HOPS ? cf->npool : ROUTE_MAX_HOPS);
}

/* An inbound request passed its source checks (fi accepted): the dialog
 * binding, discovered-partner limits, our marking, the next hops. */
static int
in_accept(struct route_op *op, struct fed_in *fi)
{
	char contact[CONF_MAX_NAME * 2], detail[3 * CONF_MAX_NAME + 96];

	if (op->dialog && !op->bound && strcasecmp(fi->domain, op->origin.domain) != 0) {
		snprintf(detail, sizeof(detail), "%s is not the dialog's peer %s nor an edge of %s",
		    fi->peer[0] ? fi->peer : "the sender", op->origin.fqdn,
		    op->origin.domain[0] ? op->origin.domain : "its partner");
		return route__refuse(op, 403, DIAG_DIALOG_PEER, detail);
	}
	op->type = fi->type;
	snprintf(op->domain, sizeof(op->domain), "%s", fi->domain);
	snprintf(op->peer, sizeof(op->peer), "%s", fi->peer);
	snprintf(op->provider, sizeof(op->provider), "%s", fi->provider);
	if (fi->throttled && route__throttle(op, fi->domain, fi->peer,
	    route__aor_str(op->sip->sip_to, contact, sizeof(contact))) < 0)
		return ROUTE_REFUSE;
	mark_inbound(op, fi);
	if (op->local)
		return op->verdict = ROUTE_LOCAL;
	if (op->dialog)
		return op->verdict = ROUTE_FORWARD;     /* along the dialog's token */
	op->add_rr = sipmsg_is_dialog_forming(op->sip);
	return to_pool(op);
}

static void
in_srv_cb(int status, const struct dns_srv *v, size_t n, void *arg)
{
	struct route_op *op = arg;
	const char *names[ROUTE_MAX_HOPS];
	struct fed_in out;
	size_t total = n;
	enum diag_code d;

	op->q = NULL;
	if (status != 0 || n == 0) {
		d = status == DNS_ENOTFOUND || status == 0 ? DIAG_FED_SRV_NONE : DIAG_FED_SRV_FAILED;
		route__step(op, "DNS SRV %s: %s", op->fin->srv, status ? dns_strerror(status) : "no records");
		memset(&out, 0, sizeof(out));
		out.status = diag_lookup(d)->status;
		out.diag = d;
		snprintf(out.detail, sizeof(out.detail), "%.80s: %.100s", op->fin->srv,
		    status ? dns_strerror(status) : "no SRV records");
		route__finish(op, in_refused(op, &out) < 0 ? ROUTE_REFUSE : in_accept(op, &out));
		return;
	}
	if (n > ROUTE_MAX_HOPS)
		n = ROUTE_MAX_HOPS;
	route__srv_step(op, op->fin->srv, v, n, total);
	for (size_t i = 0; i < n; i++)
		names[i] = v[i].target;
	if (fedroute_inbound_srv(op->fin, names, n, op->peer_names, op->npeer, &out) < 0) {
		route__step(op, "policy: refused: %s", out.detail);
		if (in_refused(op, &out) < 0) {
			route__finish(op, ROUTE_REFUSE);
			return;
		}
	} else
		route__step(op, "the certificate name %s is an SRV target", out.peer);
	route__finish(op, in_accept(op, &out));
}

/* The source checks of a request from outside: entitled to speak for its From
 * domain. */
int
route__in_check_source(struct route_op *op)
{
	char source[CONF_MAX_NAME];
	struct fed_in fi;
	int rc;

	if (!sipmsg_url_host(op->sip->sip_from->a_url, source, sizeof(source)))
		return route__refuse(op, 400, DIAG_MALFORMED, "From has no host");
	rc = fedroute_inbound(op->env->pol, source, op->peer_names, op->npeer, &fi);
	snprintf(op->domain, sizeof(op->domain), "%.253s", fi.domain[0] ? fi.domain : source);
	inbound_policy_step(op, rc, &fi);
	if (rc == FED_IN_REFUSE)
		return in_refused(op, &fi) < 0 ? ROUTE_REFUSE : in_accept(op, &fi);
	if (rc == FED_IN_ACCEPT)
		return in_accept(op, &fi);
	free(op->fin);
	if (!(op->fin = malloc(sizeof(*op->fin))))
		return route__refuse(op, 503, DIAG_OVERLOAD, "out of memory");
	*op->fin = fi;
	if (dns_srv(op->env->dns, fi.srv, in_srv_cb, op, &op->q) < 0) {
		route__step(op, "DNS SRV %s: not asked: not a valid name", fi.srv);
		return route__refuse(op, 504, DIAG_FED_SRV_FAILED, fi.srv);
	}
	return op->verdict = ROUTE_PENDING;
}

/* Partner → internal: for one of our domains (or the edge itself), from a
 * peer entitled to speak for its own. */
int
route__inbound(struct route_op *op, const char *target)
{
	const struct conf *cf = op->env->cf;
	char source[CONF_MAX_NAME];

	if (!op->local && !conf_is_our_domain(cf, target)) {
		route__step(op, "%s is not one of our SIP domains (sip-domain in %s)", target, cf->path);
		return route__refuse(op, 403, DIAG_RELAY_DENIED, target);
	}
	if (!op->local)
		route__step(op, "%s is one of our SIP domains; source domain %s", target,
		    sipmsg_url_host(op->sip->sip_from->a_url, source, sizeof(source)) ? source : "?");
	return route__in_check_source(op);
}

/* XMPP partner → internal (RFC 7247 §4: the gateway at the domain
 * boundary): the stanza's stream authenticated the partner's domain; the
 * target must be one of ours; the pool learns from our trust header that
 * it came over XMPP and which kind of partner sent it. */
int
route__xmpp_in(struct route_op *op)
{
	const struct conf *cf = op->env->cf;
	char host[CONF_MAX_NAME], value[FEDROUTE_TRUST_MAX + 2 * CONF_MAX_NAME];

	if (!sipmsg_url_host(op->sip->sip_request->rq_url, host, sizeof(host)))
		return route__refuse(op, 400, DIAG_MALFORMED, "Request-URI has no host");
	if (!conf_is_our_domain(cf, host)) {
		route__step(op, "%s is not one of our SIP domains (sip-domain in %s)", host, cf->path);
		return route__refuse(op, 403, DIAG_RELAY_DENIED, host);
	}
	snprintf(op->domain, sizeof(op->domain), "%s", op->xmpp_domain);
	route__step(op, "from XMPP partner %s (%s), authenticated by its stream, for %s",
	    op->xmpp_domain, op->xmpp_type ? op->xmpp_type : "?", host);
	route__strip_unknown(op->msg, op->sip, ROUTE_TRUST_HEADER, NULL);
	route__strip_identity(op);
	snprintf(value, sizeof(value), "ms-source-type=XmppPartner;ms-ep-fqdn=%.255s;"
	    "ms-source-network=xmpp;ms-xmpp-partner=%.255s;ms-xmpp-partner-type=%.20s%s", cf->edge_fqdn,
	    op->xmpp_domain, op->xmpp_type ? op->xmpp_type : "public-unverified",
	    op->xmpp_type && strcmp(op->xmpp_type, "public-unverified") != 0 ?
	    ";ms-source-verified-user=verified" : "");
	route__add_trust(op, value);
	route__step(op, "trust: %s: %s", ROUTE_TRUST_HEADER, value);
	op->add_rr = sipmsg_is_dialog_forming(op->sip);
	return to_pool(op);
}

/* The gateway's own request in its dialog with the pool: to the pool servers,
 * which route it by its Request-URI and Route set. */
int
route__xmpp_dialog(struct route_op *op)
{
	route__step(op, "the XMPP gateway's request in its own dialog: to the pool");
	return to_pool(op);
}

