/* route_hops.c: the next hops of a request (RFC 3263 §4): host pins of the
 * configuration, then DNS SRV and A/AAAA for the partner's edge, one target at
 * a time in failover order; the dialog's own edge first (prefer).  Part of
 * route.h's routing step. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "route_int.h"

static void res_next_target(struct route_op *op);

void
route__add_hop(struct route_op *op, const char *fqdn, const struct sockaddr_storage *a, enum tp_kind kind)
{
	if (op->nhops < ROUTE_MAX_HOPS)
		conf_hop_set(&op->hops[op->nhops++], fqdn, a, kind);
}

/* A host line of the configuration: its address, its port or the given one,
 * and its transport, without DNS. */
static bool
add_pinned(struct route_op *op, const char *fqdn, unsigned short port)
{
	struct hop h;
	char a[80];

	if (op->nhops >= ROUTE_MAX_HOPS || !conf_host_hop(op->env->cf, fqdn, port, &h))
		return false;
	op->hops[op->nhops++] = h;
	route__step(op, "host pin %s → %s%s (host line in %s, no DNS)", fqdn,
	    conf_sockaddr_str(&h.addr, a, sizeof(a)), h.kind == TP_TCP ? " tcp" : "", op->env->cf->path);
	return true;
}

/* Hops of op->prefer first (a dialog's own peer among its partner's edges),
 * keeping the order otherwise. */
static void
prefer_hops(struct route_op *op)
{
	struct hop tmp[ROUTE_MAX_HOPS];
	size_t k = 0;

	if (!op->prefer[0])
		return;
	for (size_t i = 0; i < op->nhops; i++)
		if (strcasecmp(op->hops[i].fqdn, op->prefer) == 0)
			tmp[k++] = op->hops[i];
	for (size_t i = 0; i < op->nhops; i++)
		if (strcasecmp(op->hops[i].fqdn, op->prefer) != 0)
			tmp[k++] = op->hops[i];
	memcpy(op->hops, tmp, k * sizeof(tmp[0]));
}

/* Resolution done: the hops found, or why there are none. */
int
route__hops_done(struct route_op *op)
{
	enum diag_code d;

	if (op->nhops > 0) {
		prefer_hops(op);
		op->verdict = op->local ? ROUTE_LOCAL : ROUTE_FORWARD;
		return op->verdict;
	}
	d = op->res_diag ? op->res_diag : op->dialog ? DIAG_FLOW_GONE : DIAG_HOPS_FAILED;
	return route__refuse(op, diag_lookup(d)->status, d, op->causes[0] ? op->causes : NULL);
}

static void
res_addr_cb(int status, const struct sockaddr_storage *a, size_t n, void *arg)
{
	struct route_op *op = arg;
	const struct route_target *rt = &op->res[op->res_i];
	char list[ROUTE_MAX_HOPS * 48], s[80], detail[CONF_MAX_NAME + 128];
	size_t used = 0;

	op->q = NULL;
	if (status == 0) {
		list[0] = '\0';
		for (size_t i = 0; i < n; i++) {
			char *colon;

			conf_sockaddr_str(&a[i], s, sizeof(s));
			if ((colon = strrchr(s, ':')) != NULL)
				*colon = '\0';
			if (used < sizeof(list))
				used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
				    i ? ", " : "", s);
			route__add_hop(op, rt->fqdn, &a[i], rt->kind);
		}
		route__step(op, "DNS A/AAAA %s → %s", rt->fqdn, list);
	} else {
		route__step(op, "DNS A/AAAA %s: %s", rt->fqdn, dns_strerror(status));
		snprintf(detail, sizeof(detail), "%.253s: %.100s", rt->fqdn, dns_strerror(status));
		route_cause(op, detail);
		op->res_diag = DIAG_HOPS_FAILED;
	}
	op->res_i++;
	res_next_target(op);
}

/* Resolve the targets in order (pins first, then DNS A/AAAA), one at a time:
 * the cache makes the later ones cheap, and order is failover order. */
static void
res_next_target(struct route_op *op)
{
	while (op->res_i < op->res_n && op->nhops < ROUTE_MAX_HOPS) {
		const struct route_target *rt = &op->res[op->res_i];
		int rc;

		if (rt->has_addr) {
			route__add_hop(op, rt->fqdn, &rt->addr, rt->kind);
			op->res_i++;
			continue;
		}
		if (add_pinned(op, rt->fqdn, rt->port)) {
			op->res_i++;
			continue;
		}
		if ((rc = dns_addr(op->env->dns, rt->fqdn, rt->port, res_addr_cb, op, &op->q)) == 0)
			return;
		route__step(op, "DNS A/AAAA %s: not asked: %s", rt->fqdn, strerror(-rc));
		op->res_i++;
	}
	route__finish(op, route__hops_done(op));
}

/* "sip.fabrikam.test:5061 (prio 10, weight 60), …". */
void
route__srv_step(struct route_op *op, const char *name, const struct dns_srv *v, size_t n, size_t total)
{
	char list[ROUTE_MAX_HOPS * (NAMES_MAX + 48)];
	size_t used = 0;

	if (!op->env->step)
		return;
	list[0] = '\0';
	for (size_t i = 0; i < n && used < sizeof(list); i++)
		used += (size_t)snprintf(list + used, sizeof(list) - used,
		    "%s%s:%u (prio %u, weight %u)", i ? ", " : "", v[i].target, v[i].port,
		    v[i].priority, v[i].weight);
	if (total > n)
		route__step(op, "DNS SRV %s: %s (the first %zu of %zu records)", name, list, n, total);
	else
		route__step(op, "DNS SRV %s: %s", name, list);
}

static void
res_srv_cb(int status, const struct dns_srv *v, size_t n, void *arg)
{
	struct route_op *op = arg;
	const char *name = op->asked;
	char detail[CONF_MAX_NAME + 128];
	size_t total = n;

	op->q = NULL;
	if (status != 0 || n == 0) {
		route__step(op, "DNS SRV %s: %s", name, status ? dns_strerror(status) : "no records");
		op->res_diag = status == DNS_ENOTFOUND || status == 0 ? DIAG_FED_SRV_NONE :
		    DIAG_FED_SRV_FAILED;
		snprintf(detail, sizeof(detail), "%.253s: %.100s", op->domain,
		    status ? dns_strerror(status) : "no SRV records");
		route_cause(op, detail);
		route__finish(op, route__hops_done(op));
		return;
	}
	if (n > ROUTE_MAX_HOPS)
		n = ROUTE_MAX_HOPS;
	route__srv_step(op, name, v, n, total);
	free(op->res);
	if (!(op->res = calloc(n, sizeof(*op->res)))) {
		route__finish(op, route__refuse(op, 503, DIAG_OVERLOAD, "out of memory"));
		return;
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(op->res[i].fqdn, sizeof(op->res[i].fqdn), "%s", v[i].target);
		op->res[i].port = v[i].port;
		op->res[i].kind = TP_TLS;
	}
	op->res_n = n;
	op->res_i = 0;
	res_next_target(op);
}

/* Find the hops for next (an FQDN on port, or an SRV owner name when srv):
 * the verdict now (a pin), or ROUTE_PENDING. */
int
route__resolve(struct route_op *op, const char *next, bool srv, unsigned short port)
{
	int rc;

	if (!srv) {
		if (add_pinned(op, next, port))
			return route__hops_done(op);
		free(op->res);
		if (!(op->res = calloc(1, sizeof(*op->res))))
			return route__refuse(op, 503, DIAG_OVERLOAD, "out of memory");
		snprintf(op->res[0].fqdn, sizeof(op->res[0].fqdn), "%s", next);
		op->res[0].port = port;
		op->res[0].kind = TP_TLS;
		op->res_n = 1;
		op->res_i = 0;
		if ((rc = dns_addr(op->env->dns, next, port, res_addr_cb, op, &op->q)) < 0) {
			route__step(op, "DNS A/AAAA %s: not asked: %s", next, strerror(-rc));
			return route__refuse(op, 503, DIAG_HOPS_FAILED, next);
		}
		return op->verdict = ROUTE_PENDING;
	}
	snprintf(op->asked, sizeof(op->asked), "%s", next);
	if (dns_srv(op->env->dns, next, res_srv_cb, op, &op->q) < 0) {
		route__step(op, "DNS SRV %s: not asked: not a valid name", next);
		return route__refuse(op, 504, DIAG_FED_SRV_FAILED, next);
	}
	return op->verdict = ROUTE_PENDING;
}


int
route__resolve_hops(struct route_op *op, const struct hop *hops, size_t n)
{
	bool all = true;

	for (size_t i = 0; i < n; i++)
		all = all && hops[i].has_addr;
	if (all) {
		/* The usual case: addresses in the configuration, no look-up. */
		for (size_t i = 0; i < n && op->nhops < ROUTE_MAX_HOPS; i++)
			op->hops[op->nhops++] = hops[i];
		return route__hops_done(op);
	}
	free(op->res);
	if (!(op->res = calloc(n, sizeof(*op->res))))
		return route__refuse(op, 503, DIAG_OVERLOAD, "out of memory");
	for (size_t i = 0; i < n; i++) {
		snprintf(op->res[i].fqdn, sizeof(op->res[i].fqdn), "%s", hops[i].fqdn);
		op->res[i].port = hops[i].port;
		op->res[i].kind = hops[i].kind;
		op->res[i].has_addr = hops[i].has_addr;
		op->res[i].addr = hops[i].addr;
	}
	op->res_n = n;
	op->res_i = 0;
	op->verdict = ROUTE_PENDING;
	res_next_target(op);
	return op->verdict;
}
