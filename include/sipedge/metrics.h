/* metrics.h: the Prometheus text exposition (format version 0.0.4) of the
 * edge's counters on an optional plain-HTTP listener (metrics-listen in
 * sipedge.conf, off by default): GET /metrics answers 200 with the text,
 * other paths 404, other methods 405; one request per connection.  It runs on
 * the main thread's loop; what it shows is the daemon's (render). */
#ifndef SIPEDGE_METRICS_H
#define SIPEDGE_METRICS_H

#include <stdio.h>
#include <sys/socket.h>
#include <uv.h>

#include "sipedge/conf.h"

struct metrics;

/* Write the whole exposition to f. */
typedef void (*metrics_render_fn)(FILE *f, void *arg);

/* Listen on addr.  0, or a libuv error with err saying why. */
int metrics_new(uv_loop_t *loop, const struct sockaddr_storage *addr, metrics_render_fn render,
    void *arg, struct metrics **out, char *err, size_t errlen);
/* Stop listening and drop the clients; frees itself when the handles close. */
void metrics_close(struct metrics *m);

#endif
