/* fuzz_policy.c: libFuzzer target for the federation decision (fedroute.c over
 * a policy.c snapshot) on names taken from a request a peer sent: the
 * Request-URI host (outbound), the From host (inbound), the peer's
 * certificate names and the SRV targets of its domain.
 *
 * The input is one SIP request (msg_make with our message class).  Certificate
 * names are the Via hosts and Contact hosts as written (any case, trailing
 * dot), SRV targets the Route and Record-Route hosts; the sender's own trust
 * mark is its ms-edge-proxy-message-trust header, as proxy.c reads it.  Each
 * request goes through three snapshots built once: federation on with partner
 * discovery (dns-srv), federation on with a default route and no discovery,
 * and federation off.  Every decision is checked against the rules of
 * fedroute.h; a broken one aborts. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/msg.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>

#include "sipedge/conf.h"
#include "sipedge/fedroute.h"
#include "sipedge/policy.h"
#include "sipedge/sipmsg.h"
#include "sipedge/store.h"
#include "fuzz.h"

#define TRUST_HEADER "ms-edge-proxy-message-trust"
#define MAX_NAMES 8

/* ---- the fixture: our domain contoso.test; blocked evil.test and
 * spam.example; allowed partner servers litware.test (edge.litware.test,
 * monitored) and northwind.test (sip.northwind.test); allowed partner domain
 * fabrikam.test; providers PubIM (fed.provider.test: provider.test and
 * im.provider.test, use-source), Hoster (sip.hoster.test: hosted.test,
 * disabled) and Unverif (sip.unverif.test: unverif.test, always-unverified). */

static char *pubim_domains[] = { "im.provider.test", "provider.test" };
static char *hoster_domains[] = { "hosted.test" };
static char *unverif_domains[] = { "unverif.test" };
static const char *const local_domains[] = { "contoso.test" };
static struct store_allowed fixture_allowed[] = {
	{ "fabrikam.test", NULL, false, "" },
	{ "litware.test", "edge.litware.test", true, "" },
	{ "northwind.test", "sip.northwind.test", false, "" },
};
static struct store_blocked fixture_blocked[] = {
	{ "evil.test", "" },
	{ "spam.example", "" },
};
static struct store_provider fixture_providers[] = {
	{ "Hoster", STORE_PROVIDER_HOSTING, "sip.hoster.test", STORE_VERIFY_ALWAYS_VERIFIED,
	  false, "", hoster_domains, 1 },
	{ "PubIM", STORE_PROVIDER_PUBLIC, "fed.provider.test", STORE_VERIFY_USE_SOURCE,
	  true, "", pubim_domains, 2 },
	{ "Unverif", STORE_PROVIDER_PUBLIC, "sip.unverif.test", STORE_VERIFY_ALWAYS_UNVERIFIED,
	  true, "", unverif_domains, 1 },
};

enum { P_DISCOVERY, P_DEFAULT_ROUTE, P_OFF, NPOL };

/* Read-only once built; never freed (the process ends with them). */
static struct policy *pols[NPOL];

static struct policy *
build(int which)
{
	struct store_policy sp;
	struct policy *p = NULL;

	memset(&sp, 0, sizeof(sp));
	store_config_defaults(&sp.config);
	sp.generation = 1;
	sp.config.federation = which != P_OFF;
	sp.config.partner_discovery = which == P_DISCOVERY;
	if (which == P_DEFAULT_ROUTE) {
		sp.config.routing = STORE_ROUTING_DEFAULT_ROUTE;
		snprintf(sp.config.default_route_fqdn, sizeof(sp.config.default_route_fqdn),
		    "upstream.contoso.test");
	}
	sp.allowed = fixture_allowed;
	sp.nallowed = sizeof(fixture_allowed) / sizeof(fixture_allowed[0]);
	sp.blocked = fixture_blocked;
	sp.nblocked = sizeof(fixture_blocked) / sizeof(fixture_blocked[0]);
	sp.providers = fixture_providers;
	sp.nproviders = sizeof(fixture_providers) / sizeof(fixture_providers[0]);
	FUZZ_CHECK(policy_build_local(&sp, local_domains, 1, &p) == 0);
	return p;
}

/* ---- names out of the request ---- */

struct names {
	const char *v[MAX_NAMES];
	size_t n;
};

static void
add(struct names *ns, const char *s)
{
	if (s && ns->n < MAX_NAMES)
		ns->v[ns->n++] = s;
}

/* Normal form of s into buf, or NULL. */
static const char *
norm(const char *s, char *buf)
{
	return s && names_normalize(s, buf, NAMES_MAX + 1, NULL) == 0 ? buf : NULL;
}

static bool
names_have(const struct names *ns, const char *want)
{
	char buf[NAMES_MAX + 1];

	for (size_t i = 0; i < ns->n; i++)
		if (norm(ns->v[i], buf) && strcmp(buf, want) == 0)
			return true;
	return false;
}

/* Refusal texts end up in headers and logs. */
static void
check_detail(const char *s)
{
	FUZZ_CHECK(s[0] != '\0');
	for (; *s; s++)
		FUZZ_CHECK(isprint((unsigned char)*s));
}

/* ---- outbound ---- */

static void
outbound(const struct policy *p, const char *target)
{
	const struct store_config *cf = policy_config(p);
	struct fed_out d;
	char buf[NAMES_MAX + 1], want[FEDROUTE_NEXT_MAX];
	int rc = fedroute_outbound(p, target, &d);

	FUZZ_CHECK(rc == 0 || rc == -EACCES);
	if (rc < 0) {
		FUZZ_CHECK(d.status >= 400 && d.status <= 699 && d.diag != DIAG_NONE);
		FUZZ_CHECK(d.type == FED_NONE && d.via == FED_VIA_NONE && d.next[0] == '\0');
		FUZZ_CHECK(!d.throttled);
		check_detail(d.detail);
		if (!cf->federation)
			FUZZ_CHECK(d.diag == DIAG_FED_DISABLED);
		else if (norm(target, buf) && policy_blocked(p, buf) && !policy_local(p, buf))
			FUZZ_CHECK(d.diag == DIAG_FED_BLOCKED);
		return;
	}
	FUZZ_CHECK(cf->federation);
	FUZZ_CHECK(d.status == 0 && d.diag == DIAG_NONE);
	FUZZ_CHECK(d.type != FED_NONE && d.via != FED_VIA_NONE && d.next[0] != '\0');
	FUZZ_CHECK(names_is_normal(d.domain));
	FUZZ_CHECK(norm(target, buf) && strcmp(buf, d.domain) == 0);
	/* Never to a blocked or our own domain. */
	FUZZ_CHECK(!policy_blocked(p, d.domain) && !policy_local(p, d.domain));
	switch (d.type) {
	case FED_ALLOWED_SERVER:
		FUZZ_CHECK(policy_allowed(p, d.domain) && policy_allowed(p, d.domain)->proxy_fqdn);
		break;
	case FED_PROVIDER: {
		const struct policy_provider *q = policy_provider_by_domain(p, d.domain);

		FUZZ_CHECK(q && q->enabled && strcmp(q->name, d.provider) == 0);
		break;
	}
	case FED_ALLOWED_DOMAIN:
		FUZZ_CHECK(policy_allowed(p, d.domain) && !policy_allowed(p, d.domain)->proxy_fqdn);
		break;
	case FED_DISCOVERED:
		FUZZ_CHECK(cf->partner_discovery && d.throttled && !policy_allowed(p, d.domain));
		break;
	case FED_NONE:
		FUZZ_CHECK(!"accepted without a type");
	}
	if (cf->routing == STORE_ROUTING_DEFAULT_ROUTE) {
		FUZZ_CHECK(d.default_route && d.via == FED_VIA_FQDN);
		FUZZ_CHECK(strcmp(d.next, cf->default_route_fqdn) == 0);
	} else if (d.via == FED_VIA_SRV) {
		snprintf(want, sizeof(want), "%s%s", FEDROUTE_SRV_PREFIX, d.domain);
		FUZZ_CHECK(strcmp(d.next, want) == 0);
	} else {
		FUZZ_CHECK(names_is_normal(d.next));
	}
}

/* ---- inbound ---- */

static void
check_refused(const struct fed_in *d)
{
	char buf[FEDROUTE_TRUST_MAX];

	FUZZ_CHECK(d->status >= 400 && d->status <= 699 && d->diag != DIAG_NONE);
	FUZZ_CHECK(d->type == FED_NONE && !d->throttled && d->peer[0] == '\0');
	check_detail(d->detail);
	FUZZ_CHECK(fedroute_trust_header(d, NULL, buf, sizeof(buf)) == -EINVAL);
	FUZZ_CHECK(buf[0] == '\0');
}

/* An accepted decision: the header the pool gets. */
static void
check_accepted(const struct policy *p, struct fed_in *d, const struct names *peers,
    bool verified)
{
	char buf[FEDROUTE_TRUST_MAX], small[16], want[NAMES_MAX + 16];
	int n;

	FUZZ_CHECK(d->status == 0 && d->diag == DIAG_NONE && d->type != FED_NONE);
	FUZZ_CHECK(names_is_normal(d->domain) && names_is_normal(d->peer));
	FUZZ_CHECK(names_have(peers, d->peer));
	FUZZ_CHECK(!policy_blocked(p, d->domain) && !policy_local(p, d->domain));
	d->source_verified = verified;
	n = fedroute_trust_header(d, NULL, buf, sizeof(buf));
	FUZZ_CHECK(n > 0 && (size_t)n < sizeof(buf) && strlen(buf) == (size_t)n);
	snprintf(want, sizeof(want), ";ms-ep-fqdn=%s;", d->peer);
	FUZZ_CHECK(strstr(buf, want) != NULL);
	FUZZ_CHECK(strchr(buf, '\r') == NULL && strchr(buf, '\n') == NULL);
	if (d->type == FED_ALLOWED_SERVER || d->type == FED_ALLOWED_DOMAIN)
		FUZZ_CHECK(strstr(buf, "ms-source-verified-user=verified") != NULL);
	FUZZ_CHECK(fedroute_trust_header(d, NULL, small, sizeof(small)) == -ENOSPC);
	FUZZ_CHECK(small[0] == '\0');
	/* Another peer name: only a valid name may go into the header. */
	for (size_t i = 0; i < peers->n; i++) {
		char nb[NAMES_MAX + 1];

		n = fedroute_trust_header(d, peers->v[i], buf, sizeof(buf));
		FUZZ_CHECK(norm(peers->v[i], nb) ? n > 0 : n == -EINVAL);
	}
}

static void
inbound(const struct policy *p, const char *source, const struct names *peers,
    const struct names *targets, bool verified)
{
	const struct store_config *cf = policy_config(p);
	struct fed_in d, out, again;
	char buf[NAMES_MAX + 1], want[FEDROUTE_NEXT_MAX];
	int rc = fedroute_inbound(p, source, peers->v, peers->n, &d), rc2;

	FUZZ_CHECK(rc == FED_IN_REFUSE || rc == FED_IN_ACCEPT || rc == FED_IN_NEED_SRV);
	if (rc == FED_IN_REFUSE) {
		check_refused(&d);
		if (!cf->federation)
			FUZZ_CHECK(d.diag == DIAG_FED_DISABLED);
		else if (norm(source, buf) && policy_blocked(p, buf) && !policy_local(p, buf))
			FUZZ_CHECK(d.diag == DIAG_FED_BLOCKED);
		/* No SRV check is pending on a refusal. */
		FUZZ_CHECK(fedroute_inbound_srv(&d, targets->v, targets->n, peers->v, peers->n,
		    &out) == FED_IN_REFUSE);
		check_refused(&out);
		return;
	}
	FUZZ_CHECK(cf->federation);
	FUZZ_CHECK(norm(source, buf) && strcmp(buf, d.domain) == 0);
	if (rc == FED_IN_ACCEPT) {
		const struct policy_allowed *a = policy_allowed(p, d.domain);
		const struct policy_provider *q = policy_provider_by_domain(p, d.domain);

		if (d.type == FED_ALLOWED_SERVER) {
			FUZZ_CHECK(a && a->proxy_fqdn && strcmp(a->proxy_fqdn, d.peer) == 0);
		} else {
			FUZZ_CHECK(d.type == FED_PROVIDER);
			FUZZ_CHECK(q && q->enabled && strcmp(q->proxy_fqdn, d.peer) == 0);
		}
		check_accepted(p, &d, peers, verified);
		return;
	}
	/* FED_IN_NEED_SRV */
	FUZZ_CHECK(d.status == 0 && d.diag == DIAG_NONE && d.peer[0] == '\0');
	FUZZ_CHECK(d.type == FED_ALLOWED_DOMAIN || d.type == FED_DISCOVERED);
	FUZZ_CHECK(d.type != FED_DISCOVERED || (cf->partner_discovery && d.throttled));
	FUZZ_CHECK(!policy_blocked(p, d.domain) && !policy_local(p, d.domain));
	snprintf(want, sizeof(want), "%s%s", FEDROUTE_SRV_PREFIX, d.domain);
	FUZZ_CHECK(strcmp(d.srv, want) == 0);
	/* A provider's proxy speaks for its own domains only. */
	for (size_t i = 0; i < peers->n; i++)
		FUZZ_CHECK(!norm(peers->v[i], buf) || !policy_provider_by_proxy(p, buf));

	FUZZ_CHECK(fedroute_inbound_srv(&d, targets->v, 0, peers->v, peers->n, &out) ==
	    FED_IN_REFUSE);
	FUZZ_CHECK(out.diag == DIAG_FED_SRV_NONE);
	check_refused(&out);

	rc = fedroute_inbound_srv(&d, targets->v, targets->n, peers->v, peers->n, &out);
	again = d;
	rc2 = fedroute_inbound_srv(&again, targets->v, targets->n, peers->v, peers->n, &again);
	FUZZ_CHECK(rc == rc2 && strcmp(out.peer, again.peer) == 0 && out.diag == again.diag);
	if (rc == FED_IN_REFUSE) {
		check_refused(&out);
		FUZZ_CHECK(out.diag == (targets->n ? DIAG_FED_NOT_SRV_TARGET : DIAG_FED_SRV_NONE));
		return;
	}
	FUZZ_CHECK(rc == FED_IN_ACCEPT);
	FUZZ_CHECK(out.type == d.type && names_have(targets, out.peer));
	check_accepted(p, &out, peers, verified);
}

/* ---- the request ---- */

static bool
sender_verified(const sip_t *sip)
{
	for (const sip_unknown_t *u = sip->sip_unknown; u; u = u->un_next)
		if (u->un_name && strcasecmp(u->un_name, TRUST_HEADER) == 0 && u->un_value &&
		    strstr(u->un_value, "ms-source-verified-user=verified"))
			return true;
	return false;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char target_buf[CONF_MAX_NAME], source_buf[CONF_MAX_NAME];
	const char *target = NULL, *source = NULL;
	struct names peers = { { NULL }, 0 }, targets = { { NULL }, 0 };
	struct sip_problem prob;
	msg_t *msg;
	sip_t *sip;
	bool verified;

	if (pols[0] == NULL)
		for (int i = 0; i < NPOL; i++)
			pols[i] = build(i);
	if (size == 0 || size > 65536)
		return 0;
	msg = msg_make(sipmsg_mclass(), 0, data, (ssize_t)size);
	if (msg == NULL)
		return 0;
	sip = sip_object(msg);
	if (sip == NULL || sip->sip_request == NULL) {
		msg_destroy(msg);
		return 0;
	}
	/* The proxy decides only on requests that pass the checks; the
	 * decision itself must hold for any names, so it runs on all. */
	(void)sipmsg_check_request(msg, sip, &prob);
	target = sipmsg_url_host(sip->sip_request->rq_url, target_buf, sizeof(target_buf));
	if (sip->sip_from)
		source = sipmsg_url_host(sip->sip_from->a_url, source_buf, sizeof(source_buf));
	for (const sip_via_t *v = sip->sip_via; v; v = v->v_next)
		add(&peers, v->v_host);
	for (const sip_contact_t *c = sip->sip_contact; c; c = c->m_next)
		add(&peers, c->m_url->url_host);
	for (const sip_route_t *r = sip->sip_route; r; r = r->r_next)
		add(&targets, r->r_url->url_host);
	for (const sip_record_route_t *r = sip->sip_record_route; r; r = r->r_next)
		add(&targets, r->r_url->url_host);
	verified = sender_verified(sip);

	for (int i = 0; i < NPOL; i++) {
		outbound(pols[i], target);
		inbound(pols[i], source, &peers, &targets, verified);
	}
	msg_destroy(msg);
	return 0;
}
