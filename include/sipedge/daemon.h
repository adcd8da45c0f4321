/* daemon.h: what the running daemon knows about itself, shared by main.c
 * (which owns it) and the commands of its control socket (control_cmds.c).
 * Everything here lives on the main thread. */
#ifndef SIPEDGE_DAEMON_H
#define SIPEDGE_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "sipedge/conf.h"
#include "sipedge/control.h"
#include "sipedge/stats.h"

struct proxy;

struct daemon {
	struct proxy *px;
	const struct conf *conf;           /* in force */
	const char *conf_path;
	time_t started;
	/* The policy snapshot in force. */
	uint64_t policy_generation;
	time_t policy_loaded;
	size_t policy_allowed, policy_blocked, policy_providers;
	/* sipedgectl stats --reset: counters shown from here on. */
	struct stats_total baseline;
	bool has_baseline;
	time_t reset_at;
};

/* The commands of the control socket (control.h), arg: the struct daemon. */
extern const struct control_cmd daemon_cmds[];
/* The Prometheus exposition (metrics.h), arg: the struct daemon: the
 * counters as they are (a stats --reset does not touch them) and the
 * daemon's own gauges. */
void daemon_metrics(FILE *f, void *arg);

#endif
