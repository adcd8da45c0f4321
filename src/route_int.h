/* route_int.h: what route.c, route_in.c and route_hops.c share; private to the routing
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

/* route.c: the marking shared by both directions */
/* Remove every header named name (an extension header Sofia keeps as
 * unknown); true when one of them held flag. */
bool route__strip_unknown(msg_t *msg, sip_t *sip, const char *name, const char *flag);
/* Add our trust header with value (and keep it in op->trust). */
void route__add_trust(struct route_op *op, const char *value);
/* RFC 3325 §5: remove P-Asserted-Identity and P-Preferred-Identity. */
void route__strip_identity(struct route_op *op);
/* The throttle of a discovered partner: 0, or -EACCES with the refusal. */
int route__throttle(struct route_op *op, const char *domain, const char *peer,
    const char *contact);
/* user@host of a name-addr, for the throttle's distinct contacts. */
const char *route__aor_str(const sip_addr_t *a, char *buf, size_t len);

/* route_in.c: from outside to the pool */
/* A request from a federated partner (target: the Request-URI's host, or
 * NULL for OPTIONS to the edge itself). */
int route__inbound(struct route_op *op, const char *target);
/* A partner's request in a dialog: its source checks. */
int route__in_check_source(struct route_op *op);
/* A request the XMPP gateway translated from a partner's stanza. */
int route__xmpp_in(struct route_op *op);
/* The XMPP gateway's own request in its dialog with the pool. */
int route__xmpp_dialog(struct route_op *op);

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
