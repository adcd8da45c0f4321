/* fedroute.c: the federation decision by type, outbound and inbound, and the
 * inbound trust header (see fedroute.h for the order and the rules). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sipedge/fedroute.h"

/* An outbound criterion returns DECIDED when d is final, GO_ON to go on; an
 * inbound one returns its enum fed_in_result when final, IN_GO_ON to go on
 * (distinct from every fed_in_result, FED_IN_ACCEPT being 0). */
#define DECIDED 1
#define GO_ON 0
#define IN_GO_ON 2

/* FEDROUTE_DETAIL_MAX holds the longest detail below (two names and a
 * provider name), so names are never cut. */
static int out_refuse(struct fed_out *d, enum diag_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int in_refuse(struct fed_in *d, enum diag_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
out_refuse(struct fed_out *d, enum diag_code code, const char *fmt, ...)
{
	va_list ap;

	d->status = diag_lookup(code)->status;
	d->diag = code;
	va_start(ap, fmt);
	vsnprintf(d->detail, sizeof(d->detail), fmt, ap);
	va_end(ap);
	return DECIDED;
}

static int
in_refuse(struct fed_in *d, enum diag_code code, const char *fmt, ...)
{
	va_list ap;

	d->status = diag_lookup(code)->status;
	d->diag = code;
	va_start(ap, fmt);
	vsnprintf(d->detail, sizeof(d->detail), fmt, ap);
	va_end(ap);
	return FED_IN_REFUSE;
}

/* A copy of a name that failed to normalise, fit for a header's reason text:
 * it came from the peer, so anything but the characters of a host (name, IPv4
 * or IPv6 reference) becomes '?', and it is cut at NAMES_MAX characters. */
static const char *
printable(const char *in, char *buf)
{
	size_t i = 0;

	for (; in && in[i] && i < NAMES_MAX; i++)
		buf[i] = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]",
		    in[i]) ? in[i] : '?';
	buf[i] = '\0';
	return buf;
}

static void
copy(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src);
}

/* The first of names that equals want (normal form), or NULL.  Each name is
 * normalised first; a name that does not normalise (a wildcard, an address,
 * garbage) never matches. */
static const char *
match_name(const char *want, const char *const *names, size_t n, char *buf)
{
	for (size_t i = 0; i < n; i++)
		if (names[i] && names_normalize(names[i], buf, NAMES_MAX + 1, NULL) == 0 &&
		    strcmp(buf, want) == 0)
			return buf;
	return NULL;
}

/* True when one of peer_names is the proxy FQDN of some provider (which one:
 * *prov). */
static bool
peer_is_provider(const struct policy *p, const char *const *names, size_t n,
    const struct policy_provider **prov)
{
	char buf[NAMES_MAX + 1];

	for (size_t i = 0; i < n; i++)
		if (names[i] && names_normalize(names[i], buf, sizeof(buf), NULL) == 0 &&
		    (*prov = policy_provider_by_proxy(p, buf)) != NULL)
			return true;
	return false;
}

/* ---------------------------------------------------------------- outbound */

static int
out_federation_off(const struct policy *p, struct fed_out *d)
{
	if (!policy_config(p)->federation)
		return out_refuse(d, DIAG_FED_DISABLED, "federation is off");
	return GO_ON;
}

static int
out_local(const struct policy *p, const char *dom, struct fed_out *d)
{
	if (policy_local(p, dom))
		return out_refuse(d, DIAG_LOCAL_TARGET, "target is a local domain: %s", dom);
	return GO_ON;
}

static int
out_blocked(const struct policy *p, const char *dom, struct fed_out *d)
{
	if (policy_blocked(p, dom))
		return out_refuse(d, DIAG_FED_BLOCKED, "domain is blocked: %s", dom);
	return GO_ON;
}

/* Decide the type (and the natural next hop); refuse disabled providers and
 * unknown domains. */
static int
out_type(const struct policy *p, const char *dom, struct fed_out *d)
{
	const struct policy_allowed *a = policy_allowed(p, dom);
	const struct policy_provider *q;

	if (a != NULL && a->proxy_fqdn != NULL) {
		d->type = FED_ALLOWED_SERVER;
		d->via = FED_VIA_FQDN;
		d->monitor = a->monitor;
		copy(d->next, sizeof(d->next), a->proxy_fqdn);
		return GO_ON;
	}
	if ((q = policy_provider_by_domain(p, dom)) != NULL) {
		if (!q->enabled)
			return out_refuse(d, DIAG_FED_PROVIDER_DISABLED,
			    "provider %s is disabled: %s", q->name, dom);
		d->type = FED_PROVIDER;
		d->via = FED_VIA_FQDN;
		d->verification = q->verification;
		copy(d->provider, sizeof(d->provider), q->name);
		copy(d->next, sizeof(d->next), q->proxy_fqdn);
		return GO_ON;
	}
	if (a != NULL) {
		d->type = FED_ALLOWED_DOMAIN;
		d->monitor = a->monitor;
	} else if (policy_config(p)->partner_discovery) {
		d->type = FED_DISCOVERED;
		d->throttled = true;
	} else {
		return out_refuse(d, DIAG_FED_NOT_FEDERATED,
		    "not a federated domain (partner discovery is off): %s", dom);
	}
	d->via = FED_VIA_SRV;
	snprintf(d->next, sizeof(d->next), "%s%s", FEDROUTE_SRV_PREFIX, dom);
	return GO_ON;
}

static int
out_default_route(const struct policy *p, const char *dom, struct fed_out *d)
{
	const struct store_config *c = policy_config(p);

	if (c->routing != STORE_ROUTING_DEFAULT_ROUTE)
		return GO_ON;
	/* store_config_check makes an empty FQDN impossible; a db edited by hand
	 * could still have one, and dialling "" must not be the result. */
	if (c->default_route_fqdn[0] == '\0')
		return out_refuse(d, DIAG_FED_NOT_FEDERATED,
		    "routing-method default-route without default-route-fqdn");
	d->via = FED_VIA_FQDN;
	d->default_route = true;
	copy(d->next, sizeof(d->next), c->default_route_fqdn);
	return DECIDED;
}

int
fedroute_outbound(const struct policy *p, const char *target_domain, struct fed_out *d)
{
	static int (*const rules[])(const struct policy *, const char *, struct fed_out *) = {
		out_local, out_blocked, out_type, out_default_route,
	};
	char raw[NAMES_MAX + 1];

	memset(d, 0, sizeof(*d));
	d->mark_verified = policy_config(p)->mark_source_verifiable;
	if (out_federation_off(p, d))
		return -EACCES;
	if (target_domain == NULL ||
	    names_normalize(target_domain, d->domain, sizeof(d->domain), NULL) != 0) {
		d->domain[0] = '\0';
		out_refuse(d, DIAG_FED_NOT_FEDERATED, "target is not a domain name: %s",
		    printable(target_domain, raw));
		return -EACCES;
	}
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		if (rules[i](p, d->domain, d) == DECIDED)
			break;
	if (d->diag != DIAG_NONE) {
		d->type = FED_NONE;
		d->via = FED_VIA_NONE;
		d->next[0] = '\0';
		d->throttled = false;
		return -EACCES;
	}
	return 0;
}

/* ----------------------------------------------------------------- inbound */

struct in_facts {
	const char *dom;                   /* normal form */
	const char *const *peers;
	size_t npeers;
};

static int
in_local(const struct policy *p, const struct in_facts *f, struct fed_in *d)
{
	if (policy_local(p, f->dom))
		return in_refuse(d, DIAG_FED_SPOOFED, "source domain is ours: %s", f->dom);
	return IN_GO_ON;
}

static int
in_blocked(const struct policy *p, const struct in_facts *f, struct fed_in *d)
{
	if (policy_blocked(p, f->dom))
		return in_refuse(d, DIAG_FED_BLOCKED, "domain is blocked: %s", f->dom);
	return IN_GO_ON;
}

static int
in_allowed_server(const struct policy *p, const struct in_facts *f, struct fed_in *d)
{
	const struct policy_allowed *a = policy_allowed(p, f->dom);
	char buf[NAMES_MAX + 1];

	if (a == NULL || a->proxy_fqdn == NULL)
		return IN_GO_ON;
	if (match_name(a->proxy_fqdn, f->peers, f->npeers, buf) == NULL)
		return in_refuse(d, DIAG_FED_CERT_MISMATCH,
		    "certificate does not name %s, the proxy of: %s", a->proxy_fqdn, f->dom);
	d->type = FED_ALLOWED_SERVER;
	d->monitor = a->monitor;
	copy(d->peer, sizeof(d->peer), buf);
	return FED_IN_ACCEPT;
}

static int
in_provider(const struct policy *p, const struct in_facts *f, struct fed_in *d)
{
	const struct policy_provider *q = policy_provider_by_domain(p, f->dom);
	char buf[NAMES_MAX + 1];

	if (q == NULL)
		return IN_GO_ON;
	if (!q->enabled)
		return in_refuse(d, DIAG_FED_PROVIDER_DISABLED, "provider %s is disabled: %s",
		    q->name, f->dom);
	if (match_name(q->proxy_fqdn, f->peers, f->npeers, buf) == NULL)
		return in_refuse(d, DIAG_FED_CERT_MISMATCH, "certificate does not name %s, "
		    "the proxy of provider %s for: %s", q->proxy_fqdn, q->name, f->dom);
	d->type = FED_PROVIDER;
	d->verification = q->verification;
	copy(d->provider, sizeof(d->provider), q->name);
	copy(d->peer, sizeof(d->peer), buf);
	return FED_IN_ACCEPT;
}

static int
in_provider_foreign(const struct policy *p, const struct in_facts *f, struct fed_in *d)
{
	const struct policy_provider *q;

	if (!peer_is_provider(p, f->peers, f->npeers, &q))
		return IN_GO_ON;
	return in_refuse(d, DIAG_FED_PROVIDER_FOREIGN, "provider %s does not serve: %s",
	    q->name, f->dom);
}

static int
in_srv(const struct policy *p, const struct in_facts *f, struct fed_in *d)
{
	const struct policy_allowed *a = policy_allowed(p, f->dom);

	if (a != NULL) {
		d->type = FED_ALLOWED_DOMAIN;
		d->monitor = a->monitor;
	} else if (policy_config(p)->partner_discovery) {
		d->type = FED_DISCOVERED;
		d->throttled = true;
	} else {
		return in_refuse(d, DIAG_FED_NOT_FEDERATED,
		    "not a federated domain (partner discovery is off): %s", f->dom);
	}
	snprintf(d->srv, sizeof(d->srv), "%s%s", FEDROUTE_SRV_PREFIX, f->dom);
	return FED_IN_NEED_SRV;
}

int
fedroute_inbound(const struct policy *p, const char *source_domain,
    const char *const *peer_names, size_t npeer, struct fed_in *d)
{
	/* Each returns IN_GO_ON or its final enum fed_in_result; in_srv always decides. */
	static int (*const rules[])(const struct policy *, const struct in_facts *,
	    struct fed_in *) = {
		in_local, in_blocked, in_allowed_server, in_provider, in_provider_foreign, in_srv,
	};
	struct in_facts f = { d->domain, peer_names, npeer };
	char raw[NAMES_MAX + 1];
	int rc = FED_IN_REFUSE;

	memset(d, 0, sizeof(*d));
	if (!policy_config(p)->federation)
		return in_refuse(d, DIAG_FED_DISABLED, "federation is off");
	if (source_domain == NULL ||
	    names_normalize(source_domain, d->domain, sizeof(d->domain), NULL) != 0) {
		d->domain[0] = '\0';
		return in_refuse(d, DIAG_FED_NOT_FEDERATED, "source is not a domain name: %s",
		    printable(source_domain, raw));
	}
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		if ((rc = rules[i](p, &f, d)) != IN_GO_ON)
			break;
	if (rc == FED_IN_REFUSE) {
		d->type = FED_NONE;
		d->throttled = false;
		d->peer[0] = '\0';
	}
	return rc;
}

int
fedroute_inbound_srv(const struct fed_in *d, const char *const *targets, size_t ntargets,
    const char *const *peer_names, size_t npeer, struct fed_in *out)
{
	char tbuf[NAMES_MAX + 1], pbuf[NAMES_MAX + 1];

	if (out != d)
		*out = *d;
	if (d->type != FED_ALLOWED_DOMAIN && d->type != FED_DISCOVERED) {
		/* Not a FED_IN_NEED_SRV decision: a bug in the caller; refuse. */
		out->type = FED_NONE;
		return in_refuse(out, DIAG_FED_NOT_FEDERATED, "no SRV check pending for: %s",
		    d->domain);
	}
	if (ntargets == 0) {
		out->type = FED_NONE;
		out->throttled = false;
		return in_refuse(out, DIAG_FED_SRV_NONE, "no SRV record: %s", d->srv);
	}
	for (size_t i = 0; i < ntargets; i++) {
		if (targets[i] == NULL ||
		    names_normalize(targets[i], tbuf, sizeof(tbuf), NULL) != 0)
			continue;
		if (match_name(tbuf, peer_names, npeer, pbuf) != NULL) {
			copy(out->peer, sizeof(out->peer), pbuf);
			return FED_IN_ACCEPT;
		}
	}
	out->type = FED_NONE;
	out->throttled = false;
	return in_refuse(out, DIAG_FED_NOT_SRV_TARGET, "certificate names no SRV target of: %s",
	    d->domain);
}

/* ------------------------------------------------------------------ trust */

const char *
fedroute_type_name(enum fed_type t)
{
	switch (t) {
	case FED_ALLOWED_SERVER:
		return "AllowedPartnerServer";
	case FED_PROVIDER:
		return "Provider";
	case FED_ALLOWED_DOMAIN:
		return "AllowedPartnerDomain";
	case FED_DISCOVERED:
		return "DiscoveredPartner";
	case FED_NONE:
		break;
	}
	return "None";
}

static bool
verified(const struct fed_in *d)
{
	switch (d->type) {
	case FED_ALLOWED_SERVER:
	case FED_ALLOWED_DOMAIN:
		return true;
	case FED_PROVIDER:
		if (d->verification == STORE_VERIFY_ALWAYS_VERIFIED)
			return true;
		if (d->verification == STORE_VERIFY_ALWAYS_UNVERIFIED)
			return false;
		return d->source_verified;
	case FED_DISCOVERED:
		return d->source_verified;
	case FED_NONE:
		break;
	}
	return false;
}

int
fedroute_trust_header(const struct fed_in *d, const char *peer_fqdn, char *buf, size_t len)
{
	char peer[NAMES_MAX + 1];
	int n;

	if (len > 0)
		buf[0] = '\0';
	if (d->type == FED_NONE || d->diag != DIAG_NONE)
		return -EINVAL;
	/* The peer goes into a header: only a valid name, never raw certificate
	 * text, may appear there. */
	if (names_normalize(peer_fqdn ? peer_fqdn : d->peer, peer, sizeof(peer), NULL) != 0)
		return -EINVAL;
	n = snprintf(buf, len, "ms-source-type=%s;ms-ep-fqdn=%s;ms-source-network=federation;"
	    "ms-source-verified-user=%s", fedroute_type_name(d->type), peer,
	    verified(d) ? "verified" : "unverified");
	if (n < 0 || (size_t)n >= len) {
		if (len > 0)
			buf[0] = '\0';
		return -ENOSPC;
	}
	return n;
}
