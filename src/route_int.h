/* route_int.h: what route.c and route_hops.c share; private to the routing
 * module (route.h is its interface). */
#ifndef SIPEDGE_ROUTE_INT_H
#define SIPEDGE_ROUTE_INT_H

#include "sipedge/route.h"

/* A step of the decision, traced when env->step is set. */
void route__step(const struct route_op *op, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Refuse with status, code and reason detail; returns ROUTE_REFUSE. */
int route__refuse(struct route_op *op, int status, enum diag_code d, const char *detail);
/* Set the verdict and, unless pending, call op->done. */
void route__finish(struct route_op *op, int verdict);

/* route_hops.c */
void route__add_hop(struct route_op *op, const char *fqdn, const struct sockaddr_storage *a,
    enum tp_kind kind);
/* Hops for next (an FQDN on port, or an SRV owner name when srv): the
 * verdict now (a host pin), or ROUTE_PENDING (route__finish later). */
int route__resolve(struct route_op *op, const char *next, bool srv, unsigned short port);
/* Hops for configured servers (pool servers): their addresses, else their
 * names looked up (host pins, the hosts file, DNS), in order. */
int route__resolve_hops(struct route_op *op, const struct hop *hops, size_t n);
/* The verdict once the look-ups are over: the hops, or why there are none. */
int route__hops_done(struct route_op *op);
/* "DNS SRV name: target:port (prio, weight), ...". */
void route__srv_step(struct route_op *op, const char *name, const struct dns_srv *v, size_t n,
    size_t total);

#endif
