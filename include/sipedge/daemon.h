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

#include "sipedge/certcheck.h"
#include "sipedge/conf.h"
#include "sipedge/control.h"
#include "sipedge/stats.h"

struct proxy;
struct policy;
struct store;

struct daemon {
	struct proxy *px;
	struct conf *conf;                 /* in force (owned) */
	const char *conf_path;
	struct store *st;                  /* the policy store */
	bool verbose;                      /* -v: debug whatever log-level says */
	/* Reloads (SIGHUP, sipedgectl reload): one at a time. */
	bool reloading;
	struct conf *old_conf;             /* freed once every worker has the new */
	uint64_t reloads;
	time_t reloaded_at;
	/* The certificate in force (read at start and at each reload): status,
	 * the expiry metric, a warning a day under 30 days. */
	struct certcheck_info cert;
	bool has_cert;
	time_t cert_warned;
	/* sipedgectl trace */
	bool trace_on;
	char trace_domain[CONF_MAX_NAME];
	time_t trace_since;
	time_t started;
	/* The policy snapshot in force. */
	uint64_t policy_generation;
	time_t policy_loaded;
	size_t policy_allowed, policy_blocked, policy_providers, policy_xmpp_partners;
	/* sipedgectl stats --reset: counters shown from here on. */
	struct stats_total baseline;
	bool has_baseline;
	time_t reset_at;
};

/* The store's policy with our own SIP domains as local.  0 or a negative
 * errno, err saying why. */
int daemon_load_policy(struct store *st, const struct conf *c, struct policy **out, char *err,
    size_t errlen);
/* Note the snapshot in force (status, metrics). */
void daemon_policy_noted(struct daemon *d, const struct policy *pol);
/* Read what the configured certificate says (status, metrics), after a start
 * or a reload. */
void daemon_cert_noted(struct daemon *d);
/* Each second: a warning once a day while the certificate in force has less
 * than 30 days left (or has expired). */
void daemon_cert_tick(struct daemon *d, time_t now);

/* reload.c: read the configuration file again and put in force what can be
 * without a restart.  The result, when every worker has it (or at once when
 * refused): status 0 or a negative errno; message: the refusal, as
 * "sipedge -n" prints it; changes: the keys that differ, each applied or
 * needing a restart. */
struct daemon_reload_result {
	int status;
	char message[2048];
	struct conf_change changes[64];
	size_t nchanges;
};
typedef void (*daemon_reload_cb)(struct daemon *d, const struct daemon_reload_result *res,
    void *arg);
/* Start a reload (why: "SIGHUP", "sipedgectl"); -EBUSY while one runs. */
int daemon_reload(struct daemon *d, const char *why, daemon_reload_cb cb, void *arg);

/* probe_in.c: sipedgectl probe --inbound, answered on r when done. */
void daemon_probe_inbound(struct daemon *d, struct control_req *r);

/* control_xmpp.c: the control socket's "xmpp-streams" and "xmpp-probe
 * DOMAIN [LOCAL]" (control_cmd functions, arg: the struct daemon). */
void daemon_xmpp_streams(struct control_req *r, int argc, char **argv, void *arg);
void daemon_xmpp_probe(struct control_req *r, int argc, char **argv, void *arg);

/* The commands of the control socket (control.h), arg: the struct daemon. */
extern const struct control_cmd daemon_cmds[];
/* The Prometheus exposition (metrics.h), arg: the struct daemon: the
 * counters as they are (a stats --reset does not touch them) and the
 * daemon's own gauges. */
void daemon_metrics(FILE *f, void *arg);

#endif
