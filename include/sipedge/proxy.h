/* proxy.h: the stateful proxy (RFC 3261 §16) as a whole: workers, each with its own
 * libuv loop, listeners and transactions. */
#ifndef SIPEDGE_PROXY_H
#define SIPEDGE_PROXY_H

#include <stddef.h>

#include "sipedge/conf.h"

struct proxy;
struct policy;
struct store;

/* Load keys and TLS contexts, create workers and bind every listener (in the
 * calling thread, before any worker runs).  On error a negative status (an
 * errno, or a libuv, transport or DNS code) and one line in err. */
int proxy_new(const struct conf *c, struct proxy **out, char *err, size_t errlen);
/* After daemon(): let the workers' loops renew their kernel state. */
void proxy_after_fork(struct proxy *p);
/* Start the worker threads. */
int proxy_start(struct proxy *p);
/* Give every worker a new policy snapshot (takes one reference of pol, which
 * the caller may drop afterwards). */
void proxy_set_policy(struct proxy *p, struct policy *pol);
/* Write the discovered-partner counters gathered since the last call. */
int proxy_record_partners(struct proxy *p, struct store *st);
/* Ask every worker to stop (async-signal-unsafe; call from a loop). */
void proxy_stop(struct proxy *p);
/* Join the workers and free everything. */
void proxy_free(struct proxy *p);

/* Only TLS contexts and the key: the checks behind "sipedge -n". */
int proxy_check(const struct conf *c, char *err, size_t errlen);

#endif
