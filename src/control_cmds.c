/* control_cmds.c: the commands the daemon answers on its control socket
 * (control.h; sipedgectl(8) has the user's side): status, connections, stats,
 * reload and partners (the XMPP ones are control_xmpp.c's).  They read the
 * core through proxy.h only. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "sipedge/daemon.h"
#include "sipedge/log.h"
#include "sipedge/names.h"
#include "sipedge/proxy.h"
#include "sipedge/stats.h"

static const char *
iso_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (t == 0 || gmtime_r(&t, &tm) == NULL)
		return NULL;
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

/* ---- status ------------------------------------------------------------- */

static void
cmd_status(struct control_req *r, int argc, char **argv, void *arg)
{
	struct daemon *d = arg;
	const struct conf *c = d->conf;
	struct json_out *o = control_result(r);
	struct stats_total t;
	char buf[64];
	time_t now = time(NULL);

	(void)argc;
	(void)argv;
	if (o == NULL || proxy_stats(d->px, &t) < 0) {
		control_fail(r, "internal", "out of memory");
		return;
	}
	json_out_begin_object(o);
	json_out_key_string(o, "version", PACKAGE_VERSION);
	json_out_key_uint(o, "pid", (uint64_t)getpid());
	json_out_key_string(o, "started", iso_time(d->started, buf, sizeof(buf)));
	json_out_key_uint(o, "uptime_s", (uint64_t)(now > d->started ? now - d->started : 0));
	json_out_key_string(o, "config", d->conf_path);
	json_out_key_string(o, "edge_fqdn", c->edge_fqdn);
	json_out_key_string(o, "internal_fqdn", c->internal_fqdn);
	json_out_key_uint(o, "workers", proxy_nworkers(d->px));
	json_out_key(o, "listeners");
	json_out_begin_array(o);
	for (size_t i = 0; i < c->nlisteners; i++) {
		const struct listener_conf *l = &c->listeners[i];

		json_out_begin_object(o);
		json_out_key_string(o, "side", stats_side_name(l->side));
		json_out_key_string(o, "transport", l->kind == TP_TLS ? "tls" : "tcp");
		json_out_key_string(o, "address", conf_sockaddr_str(&l->addr, buf, sizeof(buf)));
		json_out_key(o, "mutual_tls");
		json_out_bool(o, l->mutual_tls);
		json_out_end_object(o);
	}
	json_out_end_array(o);
	json_out_key(o, "connections");
	json_out_begin_object(o);
	for (int s = 0; s < 2; s++)
		json_out_key_uint(o, stats_side_name(s), t.connections[s]);
	json_out_end_object(o);
	json_out_key_uint(o, "transactions", t.transactions);
	json_out_key_uint(o, "max_transactions", c->max_transactions);
	json_out_key(o, "policy");
	json_out_begin_object(o);
	json_out_key_uint(o, "generation", d->policy_generation);
	json_out_key_string(o, "loaded", iso_time(d->policy_loaded, buf, sizeof(buf)));
	json_out_key_uint(o, "allowed", d->policy_allowed);
	json_out_key_uint(o, "blocked", d->policy_blocked);
	json_out_key_uint(o, "providers", d->policy_providers);
	json_out_key_uint(o, "xmpp_partners", d->policy_xmpp_partners);
	json_out_key_string(o, "db", c->db_path);
	json_out_end_object(o);
	json_out_key(o, "xmpp");
	json_out_begin_object(o);
	json_out_key(o, "listeners");
	json_out_begin_array(o);
	for (size_t i = 0; i < c->nxmpp_listeners; i++) {
		const struct xmpp_listener_conf *xl = &c->xmpp_listeners[i];

		json_out_begin_object(o);
		json_out_key_string(o, "address", conf_sockaddr_str(&xl->addr, buf, sizeof(buf)));
		json_out_key(o, "direct_tls");
		json_out_bool(o, xl->direct_tls);
		json_out_end_object(o);
	}
	json_out_end_array(o);
	json_out_key_uint(o, "streams_open", t.xmpp.open_streams);
	json_out_end_object(o);
	json_out_key_uint(o, "dns_cache_entries", t.dns_cache);
	if (d->has_cert) {
		json_out_key(o, "certificate");
		json_out_begin_object(o);
		json_out_key_string(o, "file", c->certificate);
		json_out_key_string(o, "subject", d->cert.subject);
		json_out_key_string(o, "issuer", d->cert.issuer);
		json_out_key_string(o, "serial", d->cert.serial);
		json_out_key_string(o, "key", d->cert.key);
		json_out_key_string(o, "not_after", iso_time(d->cert.not_after, buf, sizeof(buf)));
		json_out_key(o, "days_left");
		json_out_int(o, (int64_t)(d->cert.not_after - now) / 86400);
		json_out_key(o, "names");
		json_out_begin_array(o);
		for (size_t i = 0; i < d->cert.nsans; i++)
			json_out_string(o, d->cert.sans[i]);
		json_out_end_array(o);
		json_out_end_object(o);
	}
	json_out_key_uint(o, "reloads", d->reloads);
	json_out_key_string(o, "reloaded", iso_time(d->reloaded_at, buf, sizeof(buf)));
	json_out_end_object(o);
	stats_total_free(&t);
	control_answer(r);
}

/* ---- connections ---------------------------------------------------------- */

struct conns_req {
	struct control_req *r;
	int side;                          /* -1: both */
};

static void
conns_done(int status, const struct proxy_conn *v, size_t n, void *arg)
{
	struct conns_req *cr = arg;
	struct control_req *r = cr->r;
	struct json_out *o;

	if (status < 0 || (o = control_result(r)) == NULL) {
		control_fail(r, "internal", "cannot list the connections: %s", strerror(-status));
		free(cr);
		return;
	}
	json_out_begin_array(o);
	for (size_t i = 0; i < n; i++) {
		const struct proxy_conn *c = &v[i];
		char id[24];

		if (cr->side >= 0 && (int)c->side != cr->side)
			continue;
		snprintf(id, sizeof(id), "%016llx", (unsigned long long)c->id);
		json_out_begin_object(o);
		json_out_key_string(o, "id", id);
		json_out_key_uint(o, "worker", c->worker);
		json_out_key_string(o, "side", stats_side_name(c->side));
		json_out_key_string(o, "direction", c->outbound ? "out" : "in");
		json_out_key_string(o, "peer", c->peer);
		json_out_key_string(o, "local", c->local);
		json_out_key_string(o, "certificate_name", c->name[0] ? c->name : NULL);
		json_out_key_string(o, "dialled", c->dialled[0] ? c->dialled : NULL);
		json_out_key_string(o, "transport", c->tls ? "tls" : "tcp");
		json_out_key_string(o, "tls_version", c->tls ? c->tls_version : NULL);
		json_out_key_string(o, "tls_cipher", c->tls ? c->tls_cipher : NULL);
		json_out_key(o, "resumed");
		json_out_bool(o, c->resumed);
		json_out_key_uint(o, "age_s", c->age_ms / 1000);
		json_out_key_uint(o, "idle_s", c->idle_ms / 1000);
		json_out_key_uint(o, "bytes_in", c->bytes_in);
		json_out_key_uint(o, "bytes_out", c->bytes_out);
		json_out_key_uint(o, "messages_in", c->messages_in);
		json_out_key_uint(o, "messages_out", c->messages_out);
		json_out_end_object(o);
	}
	json_out_end_array(o);
	control_answer(r);
	free(cr);
}

static void
cmd_connections(struct control_req *r, int argc, char **argv, void *arg)
{
	struct daemon *d = arg;
	struct conns_req *cr;
	int side = -1, rc;

	if (argc == 1) {
		if (strcmp(argv[0], "internal") == 0)
			side = SIDE_INTERNAL;
		else if (strcmp(argv[0], "external") == 0)
			side = SIDE_EXTERNAL;
		else {
			control_fail(r, "usage", "connections: side \"%.32s\" is neither internal nor "
			    "external", argv[0]);
			return;
		}
	}
	if ((cr = calloc(1, sizeof(*cr))) == NULL) {
		control_fail(r, "internal", "out of memory");
		return;
	}
	cr->r = r;
	cr->side = side;
	if ((rc = proxy_connections(d->px, uv_default_loop(), conns_done, cr)) < 0) {
		free(cr);
		control_fail(r, "internal", "cannot ask the workers: %s", strerror(-rc));
	}
}

/* ---- stats -------------------------------------------------------------- */

static void
cmd_stats(struct control_req *r, int argc, char **argv, void *arg)
{
	struct daemon *d = arg;
	struct json_out *o;
	struct stats_total t, shown;
	bool reset = argc == 1;
	char buf[64];

	if (reset && strcmp(argv[0], "reset") != 0) {
		control_fail(r, "usage", "stats: unknown argument \"%.32s\" (reset?)", argv[0]);
		return;
	}
	if (proxy_stats(d->px, &t) < 0 || stats_total_copy(&t, &shown) < 0) {
		control_fail(r, "internal", "out of memory");
		return;
	}
	if (d->has_baseline)
		stats_total_sub(&shown, &d->baseline);
	if ((o = control_result(r)) == NULL) {
		stats_total_free(&t);
		stats_total_free(&shown);
		control_fail(r, "internal", "out of memory");
		return;
	}
	json_out_begin_object(o);
	json_out_key_string(o, "since", iso_time(d->has_baseline ? d->reset_at : d->started, buf, sizeof(buf)));
	json_out_key(o, "counters");
	stats_total_json(&shown, o);
	json_out_key(o, "reset");
	json_out_bool(o, reset);
	json_out_end_object(o);
	stats_total_free(&shown);
	if (reset) {
		/* Prometheus counters never go back: a reset only moves the
		 * baseline sipedgectl's figures start from. */
		if (d->has_baseline)
			stats_total_free(&d->baseline);
		d->baseline = t;
		d->has_baseline = true;
		d->reset_at = time(NULL);
	} else {
		stats_total_free(&t);
	}
	control_answer(r);
}

/* ---- partners ------------------------------------------------------------ */

struct partners_req {
	struct json_out *o;
	uint64_t now_ms;                   /* the workers' clock */
	time_t now;                        /* the same instant, wall clock */
};

/* A time on the workers' clock as UTC. */
static const char *
partner_time(const struct partners_req *pr, uint64_t t_ms, char *buf, size_t len)
{
	uint64_t ago = pr->now_ms > t_ms ? (pr->now_ms - t_ms) / 1000 : 0;

	return iso_time(pr->now - (time_t)ago, buf, len);
}

static void
partner_json(const struct throttle_entry *e, void *arg)
{
	struct partners_req *pr = arg;
	struct json_out *o = pr->o;
	char buf[64];

	json_out_begin_object(o);
	json_out_key_string(o, "domain", e->domain);
	json_out_key_uint(o, "rate", e->rate);
	json_out_key_uint(o, "limit", e->limit);
	json_out_key(o, "suspicious");
	json_out_bool(o, e->suspicious);
	json_out_key_uint(o, "contacts", e->contacts);
	json_out_key_uint(o, "contacts_limit", e->contacts_limit);
	json_out_key_uint(o, "requests", e->requests);
	json_out_key_uint(o, "throttled", e->throttled);
	json_out_key_uint(o, "successes", e->ok);
	json_out_key_uint(o, "failures", e->failed);
	json_out_key_string(o, "period_start", e->period_open ?
	    partner_time(pr, e->period_start_ms, buf, sizeof(buf)) : NULL);
	json_out_key_string(o, "last_seen", partner_time(pr, e->last_seen_ms, buf, sizeof(buf)));
	json_out_key_uint(o, "idle_s", pr->now_ms > e->last_seen_ms ? (pr->now_ms - e->last_seen_ms) / 1000 : 0);
	json_out_key(o, "peers");
	json_out_begin_array(o);
	for (size_t i = 0; i < e->npeers; i++)
		json_out_string(o, e->peers[i]);
	json_out_end_array(o);
	json_out_end_object(o);
}

static void
cmd_partners(struct control_req *r, int argc, char **argv, void *arg)
{
	struct daemon *d = arg;
	struct partners_req pr;

	(void)argc;
	(void)argv;
	if ((pr.o = control_result(r)) == NULL) {
		control_fail(r, "internal", "out of memory");
		return;
	}
	pr.now_ms = uv_now(uv_default_loop());
	pr.now = time(NULL);
	json_out_begin_array(pr.o);
	proxy_partners(d->px, pr.now_ms, partner_json, &pr);
	json_out_end_array(pr.o);
	control_answer(r);
}

/* ---- reload ------------------------------------------------------------- */

static void
reload_done(struct daemon *d, const struct daemon_reload_result *res, void *arg)
{
	struct control_req *r = arg;
	struct json_out *o;

	(void)d;
	if (res->status < 0) {
		control_fail(r, "config", "%s", res->message);
		return;
	}
	if ((o = control_result(r)) == NULL) {
		control_fail(r, "internal", "out of memory");
		return;
	}
	json_out_begin_object(o);
	for (int restart = 0; restart < 2; restart++) {
		json_out_key(o, restart ? "restart_needed" : "applied");
		json_out_begin_array(o);
		for (size_t i = 0; i < res->nchanges; i++)
			if (res->changes[i].restart == (restart == 1))
				json_out_string(o, res->changes[i].key);
		json_out_end_array(o);
	}
	json_out_end_object(o);
	control_answer(r);
}

static void
cmd_reload(struct control_req *r, int argc, char **argv, void *arg)
{
	struct daemon *d = arg;

	(void)argc;
	(void)argv;
	if (daemon_reload(d, "sipedgectl reload", reload_done, r) == -EBUSY)
		control_fail(r, "busy", "a reload is already under way");
}

/* ---- probe -------------------------------------------------------------- */

static const char *
verdict_name(int v)
{
	switch (v) {
	case -1:
		return "refuse";
	case 0:
		return "forward";
	case 1:
		return "forward";              /* after look-ups */
	case 2:
		return "local";
	}
	return "?";
}

static void
probe_done(const struct proxy_probe *p, void *arg)
{
	struct control_req *r = arg;
	struct json_out *o = control_result(r);
	char *line, *save = NULL, steps[sizeof(p->steps)];

	if (o == NULL) {
		control_fail(r, "internal", "out of memory");
		return;
	}
	json_out_begin_object(o);
	json_out_key_string(o, "domain", p->domain);
	json_out_key_string(o, "from", p->from);
	json_out_key_string(o, "verdict", verdict_name(p->verdict));
	json_out_key(o, "steps");
	json_out_begin_array(o);
	memcpy(steps, p->steps, sizeof(steps));
	for (line = strtok_r(steps, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		json_out_string(o, line);
	json_out_end_array(o);
	json_out_key(o, "targets");
	json_out_begin_array(o);
	for (size_t i = 0; i < p->nhops; i++) {
		const struct proxy_probe_hop *h = &p->hops[i];

		if (!h->started)
			continue;
		json_out_begin_object(o);
		json_out_key_string(o, "fqdn", h->fqdn);
		json_out_key_string(o, "address", h->address[0] ? h->address : NULL);
		json_out_key_uint(o, "ms", h->ms);
		json_out_key(o, "ok");
		json_out_bool(o, h->ok);
		json_out_key(o, "reused");
		json_out_bool(o, h->reused);
		json_out_key_string(o, "result", h->result);
		json_out_key_string(o, "certificate_names", h->names[0] ? h->names : NULL);
		json_out_key(o, "names_match");
		json_out_bool(o, h->names_match);
		json_out_end_object(o);
	}
	json_out_end_array(o);
	json_out_key(o, "response");
	json_out_begin_object(o);
	json_out_key_uint(o, "status", (uint64_t)(p->status > 0 ? p->status : 0));
	json_out_key_string(o, "reason", p->reason);
	json_out_key_string(o, "from", p->from_partner ? "partner" : "edge");
	json_out_key_string(o, "ms_diagnostics", p->diagnostics[0] ? p->diagnostics : NULL);
	json_out_key_string(o, "server", p->server[0] ? p->server : NULL);
	json_out_end_object(o);
	if (p->diag)
		json_out_key_uint(o, "diagnostic", (uint64_t)p->diag);
	json_out_key_uint(o, "total_ms", p->total_ms);
	json_out_key(o, "answered");
	json_out_bool(o, p->from_partner && p->status >= 200 && p->status < 300);
	json_out_end_object(o);
	control_answer(r);
}

static void
cmd_probe_inbound(struct control_req *r, int argc, char **argv, void *arg)
{
	(void)argc;
	(void)argv;
	daemon_probe_inbound(arg, r);
}

static void
cmd_probe(struct control_req *r, int argc, char **argv, void *arg)
{
	struct daemon *d = arg;
	char domain[NAMES_MAX + 1], from[512];
	const char *why = NULL;
	int rc;

	if (names_normalize(argv[0], domain, sizeof(domain), &why) < 0) {
		control_fail(r, "usage", "\"%.64s\" is not a domain: %s", argv[0], why);
		return;
	}
	if (conf_is_our_domain(d->conf, domain)) {
		control_fail(r, "usage", "%s is one of our own SIP domains", domain);
		return;
	}
	if (argc == 2) {
		if (strncasecmp(argv[1], "sip:", 4) != 0 || strchr(argv[1], '@') == NULL ||
		    strpbrk(argv[1], "<>\"") != NULL || strlen(argv[1]) >= sizeof(from)) {
			control_fail(r, "usage", "--from must be a SIP URI (sip:user@domain)");
			return;
		}
		snprintf(from, sizeof(from), "%s", argv[1]);
	} else {
		snprintf(from, sizeof(from), "sip:probe@%s", d->conf->ndomains ? d->conf->domains[0] :
		    d->conf->edge_fqdn);
	}
	if ((rc = proxy_probe(d->px, uv_default_loop(), domain, from, probe_done, r)) < 0)
		control_fail(r, "internal", "cannot start the probe: %s", strerror(-rc));
}

/* ---- trace -------------------------------------------------------------- */

static void
trace_answer(struct control_req *r, const struct daemon *d)
{
	struct json_out *o = control_result(r);
	char buf[64];

	if (o == NULL) {
		control_fail(r, "internal", "out of memory");
		return;
	}
	json_out_begin_object(o);
	json_out_key(o, "on");
	json_out_bool(o, d->trace_on);
	json_out_key_string(o, "domain", d->trace_on && d->trace_domain[0] ? d->trace_domain : NULL);
	json_out_key_string(o, "since", d->trace_on ? iso_time(d->trace_since, buf, sizeof(buf)) : NULL);
	json_out_key(o, "bodies");
	json_out_bool(o, d->conf->log_message_bodies);
	json_out_end_object(o);
	control_answer(r);
}

static void
cmd_trace(struct control_req *r, int argc, char **argv, void *arg)
{
	struct daemon *d = arg;
	char domain[NAMES_MAX + 1] = "";
	const char *why = NULL;
	bool on;
	int rc;

	if (argc == 0) {
		trace_answer(r, d);
		return;
	}
	if (strcmp(argv[0], "on") == 0)
		on = true;
	else if (strcmp(argv[0], "off") == 0 && argc == 1)
		on = false;
	else {
		control_fail(r, "usage", "trace: on [DOMAIN] or off, not \"%.32s\"", argv[0]);
		return;
	}
	if (argc == 2 && names_normalize(argv[1], domain, sizeof(domain), &why) < 0) {
		control_fail(r, "usage", "\"%.64s\" is not a domain: %s", argv[1], why);
		return;
	}
	if ((rc = proxy_trace(d->px, on, domain)) < 0) {
		control_fail(r, "internal", "cannot tell the workers: %s", strerror(-rc));
		return;
	}
	d->trace_on = on;
	snprintf(d->trace_domain, sizeof(d->trace_domain), "%s", domain);
	d->trace_since = time(NULL);
	log_info("message trace %s%s%s (sipedgectl)", on ? "on" : "off", domain[0] ? " for " : "",
	    domain);
	trace_answer(r, d);
}

/* ---- Prometheus ----------------------------------------------------------- */

void
daemon_metrics(FILE *f, void *arg)
{
	struct daemon *d = arg;
	struct stats_total t;

	fprintf(f, "# HELP sipedge_build_info The running version.\n"
	    "# TYPE sipedge_build_info gauge\nsipedge_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION);
	fprintf(f, "# HELP sipedge_start_time_seconds When the daemon started (Unix time).\n"
	    "# TYPE sipedge_start_time_seconds gauge\nsipedge_start_time_seconds %lld\n",
	    (long long)d->started);
	fprintf(f, "# HELP sipedge_workers Worker threads.\n# TYPE sipedge_workers gauge\n"
	    "sipedge_workers %u\n", proxy_nworkers(d->px));
	fprintf(f, "# HELP sipedge_policy_generation The policy store's generation in force.\n"
	    "# TYPE sipedge_policy_generation gauge\nsipedge_policy_generation %llu\n"
	    "# HELP sipedge_policy_loaded_time_seconds When it was loaded (Unix time).\n"
	    "# TYPE sipedge_policy_loaded_time_seconds gauge\n"
	    "sipedge_policy_loaded_time_seconds %lld\n",
	    (unsigned long long)d->policy_generation, (long long)d->policy_loaded);
	if (d->has_cert)
		fprintf(f, "# HELP sipedge_certificate_expiry_seconds Seconds until the certificate in "
		    "force expires (negative once it has).\n"
		    "# TYPE sipedge_certificate_expiry_seconds gauge\n"
		    "sipedge_certificate_expiry_seconds %lld\n"
		    "# HELP sipedge_certificate_not_after_timestamp_seconds When it expires (Unix time).\n"
		    "# TYPE sipedge_certificate_not_after_timestamp_seconds gauge\n"
		    "sipedge_certificate_not_after_timestamp_seconds %lld\n",
		    (long long)(d->cert.not_after - time(NULL)), (long long)d->cert.not_after);
	if (proxy_stats(d->px, &t) < 0)
		return;
	stats_total_prometheus(&t, f);
	stats_total_free(&t);
}

const struct control_cmd daemon_cmds[] = {
	{ "status", 0, 0, cmd_status },
	{ "connections", 0, 1, cmd_connections },
	{ "stats", 0, 1, cmd_stats },
	{ "reload", 0, 0, cmd_reload },
	{ "probe", 1, 2, cmd_probe },
	{ "probe-inbound", 0, 0, cmd_probe_inbound },
	{ "trace", 0, 2, cmd_trace },
	{ "partners", 0, 0, cmd_partners },
	{ "xmpp-streams", 0, 0, daemon_xmpp_streams },
	{ "xmpp-probe", 1, 2, daemon_xmpp_probe },
	{ NULL, 0, 0, NULL },
};
