/* health.h: the next hops that failed, shared by every worker (RFC 3263 §4.3
 * failover that learns).  A target — a hop's FQDN, address and port, transport,
 * on one side of the edge — that could not be connected to, or whose TLS
 * handshake made no progress while another target answered, is down: requests
 * try it only after every other target of their list, and a worker probes it in
 * the background every retry interval until a handshake completes; then it is
 * up and used again in its place.
 *
 * Threading: one struct health per process; every function may be called from
 * any worker thread (one mutex; a request looks it up once, before its first
 * dial).  Times are uv_now() milliseconds, which all loops share. */
#ifndef SIPEDGE_HEALTH_H
#define SIPEDGE_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sipedge/conf.h"

struct health;

/* retry_ms: between probes of a down target; max: targets remembered (the
 * longest-down are forgotten first). */
int health_new(unsigned retry_ms, size_t max, struct health **out);
void health_free(struct health *h);

/* The target of hop on side failed (why: for the log).  It is probed first
 * retry_ms after now. */
void health_down(struct health *h, const struct hop *hop, enum side side, uint64_t now,
    const char *why);
/* The target answered: up again.  Returns true when it was down. */
bool health_up(struct health *h, const struct hop *hop, enum side side);
bool health_is_down(struct health *h, const struct hop *hop, enum side side);
/* Targets that are up first, in their order, then the down ones, in theirs.
 * Returns how many are down. */
size_t health_order(struct health *h, struct hop *hops, size_t n, enum side side);
/* Up to max targets due for a probe at now, into hops and sides; each is not
 * due again before now + retry_ms.  Returns how many. */
size_t health_due(struct health *h, uint64_t now, struct hop *hops, enum side *sides, size_t max);
/* How many targets are down now. */
size_t health_count(struct health *h);

#endif
