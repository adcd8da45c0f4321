/* route.c: the static relay rules (see route.h).  No open relay: internal → a
 * routed foreign domain; external → one of our domains, to the pool. */
#include <stdio.h>
#include <string.h>

#include "sipedge/route.h"

static int
refuse(struct route_decision *d, int status, enum diag_code code, const char *what, const char *dom)
{
	d->status = status;
	d->diag = code;
	snprintf(d->detail, sizeof(d->detail), "%s%s%s", what, dom ? ": " : "", dom ? dom : "");
	return -1;
}

static int
route_outbound(const struct conf *c, const struct route_facts *f, struct route_decision *d)
{
	const struct route_conf *r;

	if (conf_is_our_domain(c, f->target_domain))
		return refuse(d, 403, DIAG_LOCAL_TARGET, "target is a local domain", f->target_domain);
	if ((r = conf_route_find(c, f->target_domain)) == NULL || r->nhops == 0)
		return refuse(d, 403, DIAG_NO_ROUTE, "no route for", f->target_domain);
	d->out_side = SIDE_EXTERNAL;
	d->hops = r->hops;
	d->nhops = r->nhops;
	return 0;
}

static int
route_inbound(const struct conf *c, const struct route_facts *f, struct route_decision *d)
{
	if (!conf_is_our_domain(c, f->target_domain))
		return refuse(d, 403, DIAG_RELAY_DENIED, "domain not served here", f->target_domain);
	if (c->npool == 0)
		return refuse(d, 503, DIAG_HOPS_FAILED, "no pool-server configured", NULL);
	d->out_side = SIDE_INTERNAL;
	d->hops = c->pool;
	d->nhops = c->npool;
	return 0;
}

int
route_decide(const struct conf *c, const struct route_facts *f, struct route_decision *out)
{
	memset(out, 0, sizeof(*out));
	if (!f->target_domain || !f->target_domain[0])
		return refuse(out, 400, DIAG_MALFORMED, "Request-URI has no host", NULL);
	if (f->in_side == SIDE_INTERNAL)
		return route_outbound(c, f, out);
	return route_inbound(c, f, out);
}
