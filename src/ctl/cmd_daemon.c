/* cmd_daemon.c: the sipedgectl commands that ask the running daemon through
 * its control socket (control.h has the protocol): status, connections,
 * stats, reload and partners --live.  --json prints the daemon's answer as it
 * came; otherwise a summary for people. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"
#include "sipedge/control.h"
#include "sipedge/diag.h"

#define ANSWER_MAX (64u << 20)             /* a daemon's answer, at most */

/* Send "sipedge-control 1 LINE" and read the answer; on success *out is the
 * parsed "result".  Failures are reported here; returns the exit code. */
static int
daemon_call(struct ctl *c, const char *line, struct json **doc, const struct json **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char req[CONTROL_LINE_MAX + 64], err[256], *buf = NULL;
	size_t len = 0, cap = 0;
	int fd, n;
	const struct json *ok, *v;

	if (strlen(c->socket_path) >= sizeof(sa.sun_path))
		return ctl_fail(c, CTL_USAGE, "control socket %s: name too long", c->socket_path);
	memcpy(sa.sun_path, c->socket_path, strlen(c->socket_path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return ctl_fail(c, CTL_FAIL, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(fd);
		if (e == ENOENT || e == ECONNREFUSED)
			return ctl_fail(c, CTL_DOWN, "sipedge is not running (no daemon on %s)",
			    c->socket_path);
		if (e == EACCES || e == EPERM)
			return ctl_fail(c, CTL_DOWN, "%s: permission denied (root and the daemon's "
			    "group may connect)", c->socket_path);
		return ctl_fail(c, CTL_DOWN, "%s: %s", c->socket_path, strerror(e));
	}
	n = snprintf(req, sizeof(req), "%s %d %s\n", CONTROL_MAGIC, CONTROL_VERSION, line);
	if (n < 0 || (size_t)n >= sizeof(req) || write(fd, req, (size_t)n) != n) {
		close(fd);
		return ctl_fail(c, CTL_DOWN, "%s: cannot send the request", c->socket_path);
	}
	for (;;) {
		ssize_t r;

		if (len + 4096 > cap) {
			char *nb;

			cap = cap ? cap * 2 : 65536;
			if (cap > ANSWER_MAX || (nb = realloc(buf, cap + 1)) == NULL) {
				free(buf);
				close(fd);
				return ctl_fail(c, CTL_FAIL, "the daemon's answer is too large");
			}
			buf = nb;
		}
		if ((r = read(fd, buf + len, cap - len)) < 0) {
			if (errno == EINTR)
				continue;
			free(buf);
			close(fd);
			return ctl_fail(c, CTL_DOWN, "%s: %s", c->socket_path, strerror(errno));
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	if (len == 0) {
		free(buf);
		return ctl_fail(c, CTL_DOWN, "the daemon closed the connection without an answer");
	}
	if (json_parse(buf, len, doc, err, sizeof(err)) < 0) {
		free(buf);
		return ctl_fail(c, CTL_FAIL, "the daemon's answer is not JSON: %s", err);
	}
	free(buf);
	ok = json_get(*doc, "ok");
	if (ok == NULL || ok->type != JSON_BOOL || !ok->b) {
		v = json_get(*doc, "error");
		ctl_fail(c, CTL_FAIL, "%s", v && v->type == JSON_STRING ? v->str : "the daemon refused");
		json_free(*doc);
		*doc = NULL;
		return CTL_FAIL;
	}
	*out = json_get(*doc, "result");
	return CTL_OK;
}

/* --json: the result as the daemon gave it. */
static void
print_json(struct ctl *c, const struct json *v)
{
	struct json_out o;

	json_out_init(&o, c->out);
	json_out_value(&o, v);
	json_out_end(&o);
}

static const char *
str(const struct json *obj, const char *key)
{
	const struct json *v = json_get(obj, key);

	return v && v->type == JSON_STRING ? v->str : "-";
}

static uint64_t
num(const struct json *obj, const char *key)
{
	int64_t n = 0;

	if (json_to_int(json_get(obj, key), &n) < 0 || n < 0)
		return 0;
	return (uint64_t)n;
}

static void
duration(uint64_t s, char *buf, size_t len)
{
	if (s >= 86400)
		snprintf(buf, len, "%" PRIu64 "d %" PRIu64 "h", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, len, "%" PRIu64 "h %" PRIu64 "m", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, len, "%" PRIu64 "m %" PRIu64 "s", s / 60, s % 60);
	else
		snprintf(buf, len, "%" PRIu64 "s", s);
}

/* ---- status ------------------------------------------------------------- */

int
cmd_status(struct ctl *c, const struct ctl_args *a)
{
	struct json *doc = NULL;
	const struct json *r, *l, *x;
	FILE *f = c->out;
	char up[32];
	int rc;

	(void)a;
	if ((rc = daemon_call(c, "status", &doc, &r)) != CTL_OK)
		return rc;
	if (c->json) {
		print_json(c, r);
		json_free(doc);
		return CTL_OK;
	}
	duration(num(r, "uptime_s"), up, sizeof(up));
	fprintf(f, "sipedge %s, pid %" PRIu64 ", up %s (since %s)\n", str(r, "version"),
	    num(r, "pid"), up, str(r, "started"));
	fprintf(f, "%-14s%s\n", "config", str(r, "config"));
	fprintf(f, "%-14s%s (internal %s)\n", "edge", str(r, "edge_fqdn"), str(r, "internal_fqdn"));
	fprintf(f, "%-14s%" PRIu64 "\n", "workers", num(r, "workers"));
	if ((l = json_get(r, "listeners")) != NULL && l->type == JSON_ARRAY)
		for (size_t i = 0; i < l->n; i++) {
			x = json_get(l->items[i], "mutual_tls");
			fprintf(f, "%-14s%s %s %s%s\n", i == 0 ? "listeners" : "",
			    str(l->items[i], "side"), str(l->items[i], "transport"),
			    str(l->items[i], "address"), x && x->b ? " (mutual TLS)" : "");
		}
	x = json_get(r, "connections");
	fprintf(f, "%-14sinternal %" PRIu64 ", external %" PRIu64 "\n", "connections",
	    num(x, "internal"), num(x, "external"));
	fprintf(f, "%-14s%" PRIu64 " of %" PRIu64 "\n", "transactions", num(r, "transactions"),
	    num(r, "max_transactions"));
	x = json_get(r, "policy");
	fprintf(f, "%-14sgeneration %" PRIu64 ", loaded %s: %" PRIu64 " allowed, %" PRIu64
	    " blocked, %" PRIu64 " providers (%s)\n", "policy", num(x, "generation"),
	    str(x, "loaded"), num(x, "allowed"), num(x, "blocked"), num(x, "providers"),
	    str(x, "db"));
	fprintf(f, "%-14s%" PRIu64 " entries\n", "dns cache", num(r, "dns_cache_entries"));
	if ((x = json_get(r, "certificate")) != NULL && x->type == JSON_OBJECT) {
		const struct json *dl = json_get(x, "days_left"), *nm = json_get(x, "names");
		int64_t days = 0;

		json_to_int(dl, &days);
		fprintf(f, "%-14s%s, serial %s, %s, until %s (%" PRId64 " days)\n", "certificate",
		    str(x, "subject"), str(x, "serial"), str(x, "key"), str(x, "not_after"), days);
		if (nm && nm->type == JSON_ARRAY) {
			fprintf(f, "%-14s", "names");
			for (size_t i = 0; i < nm->n; i++)
				fprintf(f, "%s%s", i ? ", " : "", nm->items[i]->str);
			fputc('\n', f);
		}
	}
	json_free(doc);
	return CTL_OK;
}

/* ---- connections -------------------------------------------------------- */

int
cmd_connections(struct ctl *c, const struct ctl_args *a)
{
	static const char *const heads[] = { "SIDE", "DIR", "PEER", "NAME", "TLS", "AGE",
		"IDLE", "MSG IN", "MSG OUT", "BYTES IN", "BYTES OUT" };
	const char *side = ctl_opt(a, "side");
	struct json *doc = NULL;
	const struct json *r;
	struct ctl_table t;
	char line[64];
	int rc;

	if (side && strcmp(side, "internal") != 0 && strcmp(side, "external") != 0)
		return ctl_fail(c, CTL_USAGE, "--side is internal or external, not \"%s\"", side);
	snprintf(line, sizeof(line), "connections%s%s", side ? " " : "", side ? side : "");
	if ((rc = daemon_call(c, line, &doc, &r)) != CTL_OK)
		return rc;
	if (c->json || r == NULL || r->type != JSON_ARRAY) {
		print_json(c, r);
		json_free(doc);
		return CTL_OK;
	}
	ctl_table_init(&t, 11, heads);
	for (size_t i = 0; i < r->n; i++) {
		const struct json *x = r->items[i], *res = json_get(x, "resumed");
		char tls[96], age[32], idle[32], mi[24], mo[24], bi[24], bo[24];

		if (strcmp(str(x, "transport"), "tls") == 0)
			snprintf(tls, sizeof(tls), "%s %s%s", str(x, "tls_version"), str(x, "tls_cipher"),
			    res && res->b ? " resumed" : "");
		else
			snprintf(tls, sizeof(tls), "tcp");
		duration(num(x, "age_s"), age, sizeof(age));
		duration(num(x, "idle_s"), idle, sizeof(idle));
		snprintf(mi, sizeof(mi), "%" PRIu64, num(x, "messages_in"));
		snprintf(mo, sizeof(mo), "%" PRIu64, num(x, "messages_out"));
		snprintf(bi, sizeof(bi), "%" PRIu64, num(x, "bytes_in"));
		snprintf(bo, sizeof(bo), "%" PRIu64, num(x, "bytes_out"));
		if (ctl_table_add(&t, str(x, "side"), str(x, "direction"), str(x, "peer"),
		    str(x, "certificate_name"), tls, age, idle, mi, mo, bi, bo) < 0) {
			ctl_table_free(&t);
			json_free(doc);
			return ctl_fail(c, CTL_FAIL, "out of memory");
		}
	}
	ctl_table_print(&t, c->out);
	fprintf(c->out, "%zu connection%s\n", r->n, r->n == 1 ? "" : "s");
	ctl_table_free(&t);
	json_free(doc);
	return CTL_OK;
}

/* ---- partners --live ----------------------------------------------------- */

int
cmd_partners_live(struct ctl *c, const struct ctl_args *a)
{
	static const char *const heads[] = { "DOMAIN", "RATE", "LIMIT", "SUSPICIOUS", "CONTACTS",
		"REQUESTS", "THROTTLED", "PERIOD-START", "IDLE", "PEERS" };
	struct json *doc = NULL;
	const struct json *r;
	struct ctl_table t;
	int rc;

	(void)a;
	if ((rc = daemon_call(c, "partners", &doc, &r)) != CTL_OK)
		return rc;
	if (c->json || r == NULL || r->type != JSON_ARRAY) {
		print_json(c, r);
		json_free(doc);
		return CTL_OK;
	}
	ctl_table_init(&t, 10, heads);
	for (size_t i = 0; i < r->n; i++) {
		const struct json *x = r->items[i], *su = json_get(x, "suspicious"),
		    *pl = json_get(x, "peers");
		char rate[24], limit[24], ct[48], rq[24], th[24], idle[32], peers[1024];
		size_t used = 0;

		snprintf(rate, sizeof(rate), "%" PRIu64 "/s", num(x, "rate"));
		snprintf(limit, sizeof(limit), "%" PRIu64 "/s", num(x, "limit"));
		snprintf(ct, sizeof(ct), "%" PRIu64 "/%" PRIu64, num(x, "contacts"),
		    num(x, "contacts_limit"));
		snprintf(rq, sizeof(rq), "%" PRIu64, num(x, "requests"));
		snprintf(th, sizeof(th), "%" PRIu64, num(x, "throttled"));
		duration(num(x, "idle_s"), idle, sizeof(idle));
		peers[0] = '\0';
		for (size_t j = 0; pl && pl->type == JSON_ARRAY && j < pl->n && used < sizeof(peers);
		    j++)
			used += (size_t)snprintf(peers + used, sizeof(peers) - used, "%s%s",
			    j ? "," : "", pl->items[j]->type == JSON_STRING ? pl->items[j]->str : "?");
		if (ctl_table_add(&t, str(x, "domain"), rate, limit, su && su->b ? "yes" : "no", ct,
		    rq, th, str(x, "period_start"), idle, peers[0] ? peers : "-") < 0) {
			ctl_table_free(&t);
			json_free(doc);
			return ctl_fail(c, CTL_FAIL, "out of memory");
		}
	}
	ctl_table_print(&t, c->out);
	fprintf(c->out, "%zu discovered partner%s tracked by the daemon; counters of each one's "
	    "current period\n", r->n, r->n == 1 ? "" : "s");
	ctl_table_free(&t);
	json_free(doc);
	return CTL_OK;
}

/* ---- reload ------------------------------------------------------------- */

int
cmd_reload(struct ctl *c, const struct ctl_args *a)
{
	struct json *doc = NULL;
	const struct json *r, *x;
	int rc;

	(void)a;
	if ((rc = daemon_call(c, "reload", &doc, &r)) != CTL_OK)
		return rc;
	if (c->json) {
		print_json(c, r);
		json_free(doc);
		return CTL_OK;
	}
	x = json_get(r, "applied");
	fprintf(c->out, "reloaded; new TLS handshakes use the certificate, key and CA bundle as "
	    "they are now\n");
	if (x && x->type == JSON_ARRAY && x->n) {
		fprintf(c->out, "applied:");
		for (size_t i = 0; i < x->n; i++)
			fprintf(c->out, " %s", x->items[i]->str);
		fputc('\n', c->out);
	}
	x = json_get(r, "restart_needed");
	if (x && x->type == JSON_ARRAY && x->n) {
		fprintf(c->out, "changed but kept until a restart:");
		for (size_t i = 0; i < x->n; i++)
			fprintf(c->out, " %s", x->items[i]->str);
		fputc('\n', c->out);
	}
	json_free(doc);
	return CTL_OK;
}

/* ---- probe -------------------------------------------------------------- */

/* probe --inbound: our own published side. */
static int
probe_inbound(struct ctl *c)
{
	struct json *doc = NULL;
	const struct json *r, *ok, *ds;
	FILE *f = c->out;
	bool all;
	int rc;

	if ((rc = daemon_call(c, "probe-inbound", &doc, &r)) != CTL_OK)
		return rc;
	ok = json_get(r, "ok");
	all = ok && ok->type == JSON_BOOL && ok->b;
	if (c->json) {
		print_json(c, r);
		json_free(doc);
		return all ? CTL_OK : CTL_FAIL;
	}
	if ((ds = json_get(r, "domains")) != NULL && ds->type == JSON_ARRAY)
		for (size_t i = 0; i < ds->n; i++) {
			const struct json *d = ds->items[i], *ts = json_get(d, "targets");

			fprintf(f, "%s: SRV %s: %s\n", str(d, "domain"), str(d, "srv"),
			    str(d, "srv_result"));
			for (size_t k = 0; ts && ts->type == JSON_ARRAY && k < ts->n; k++) {
				const struct json *t = ts->items[k], *as = json_get(t, "addresses"),
				    *cv = json_get(t, "certificate_covers"), *wl = json_get(t, "we_listen");

				fprintf(f, "  %s:%" PRIu64 " (priority %" PRIu64 "): our certificate %s it; "
				    "addresses", str(t, "target"), num(t, "port"), num(t, "priority"),
				    cv && cv->b ? "covers" : "does NOT cover");
				for (size_t m = 0; as && as->type == JSON_ARRAY && m < as->n; m++)
					fprintf(f, " %s", as->items[m]->str);
				if (!as || as->type != JSON_ARRAY || as->n == 0)
					fprintf(f, " none (%s)", str(t, "address_result"));
				fprintf(f, "; %s\n", wl && wl->b ? "we listen there" :
				    "NO external listener of ours there");
			}
			ok = json_get(d, "ok");
			fprintf(f, "  %s\n", ok && ok->b ? "partners can reach us" :
			    "partners cannot reach us through this record");
		}
	json_free(doc);
	return all ? CTL_OK : CTL_FAIL;
}

int
cmd_probe(struct ctl *c, const struct ctl_args *a)
{
	const char *domain = a->npos ? a->pos[0] : NULL, *from = ctl_opt(a, "from");
	struct json *doc = NULL;
	const struct json *r, *x, *resp;
	FILE *f = c->out;
	char line[CONTROL_LINE_MAX];
	bool answered;
	int rc;

	if (ctl_flag(a, "inbound")) {
		if (domain || from)
			return ctl_fail(c, CTL_USAGE, "--inbound takes no domain and no --from");
		return probe_inbound(c);
	}
	if (domain == NULL)
		return ctl_fail(c, CTL_USAGE, "a DOMAIN, or --inbound");
	if (strpbrk(domain, " \t\r\n") || (from && strpbrk(from, " \t\r\n")))
		return ctl_fail(c, CTL_USAGE, "a domain or URI has no white space");
	if ((size_t)snprintf(line, sizeof(line), "probe %s%s%s", domain, from ? " " : "",
	    from ? from : "") >= sizeof(line))
		return ctl_fail(c, CTL_USAGE, "the domain or --from is too long");
	if ((rc = daemon_call(c, line, &doc, &r)) != CTL_OK)
		return rc;
	x = json_get(r, "answered");
	answered = x && x->type == JSON_BOOL && x->b;
	if (c->json) {
		print_json(c, r);
		json_free(doc);
		return answered ? CTL_OK : CTL_FAIL;
	}
	fprintf(f, "probe of %s, from %s\n", str(r, "domain"), str(r, "from"));
	fprintf(f, "route (%s):\n", str(r, "verdict"));
	if ((x = json_get(r, "steps")) != NULL && x->type == JSON_ARRAY)
		for (size_t i = 0; i < x->n; i++)
			fprintf(f, "  %zu. %s\n", i + 1, x->items[i]->str);
	if ((x = json_get(r, "targets")) != NULL && x->type == JSON_ARRAY && x->n) {
		fprintf(f, "targets:\n");
		for (size_t i = 0; i < x->n; i++) {
			const struct json *h = x->items[i], *ok = json_get(h, "ok"),
			    *m = json_get(h, "names_match"), *re = json_get(h, "reused");

			fprintf(f, "  %s %s: %s%s after %" PRIu64 " ms", str(h, "fqdn"), str(h, "address"),
			    ok && ok->b ? "TLS connected" : str(h, "result"),
			    re && re->b ? " (an open connection)" : "", num(h, "ms"));
			if (json_get(h, "certificate_names") && json_get(h, "certificate_names")->type ==
			    JSON_STRING)
				fprintf(f, "; certificate names %s (%s)", str(h, "certificate_names"),
				    m && m->b ? "match" : "do not match");
			fputc('\n', f);
		}
	}
	resp = json_get(r, "response");
	fprintf(f, "response: %" PRIu64 " %s, from the %s, after %" PRIu64 " ms\n", num(resp, "status"),
	    str(resp, "reason"), str(resp, "from"), num(r, "total_ms"));
	if (json_get(resp, "ms_diagnostics") && json_get(resp, "ms_diagnostics")->type == JSON_STRING)
		fprintf(f, "ms-diagnostics: %s\n", str(resp, "ms_diagnostics"));
	if (json_get(resp, "server") && json_get(resp, "server")->type == JSON_STRING)
		fprintf(f, "server: %s\n", str(resp, "server"));
	fprintf(f, "%s\n", answered ? "federation with this domain works" :
	    "the partner did not answer 2xx");
	json_free(doc);
	return answered ? CTL_OK : CTL_FAIL;
}

/* ---- trace -------------------------------------------------------------- */

int
cmd_trace(struct ctl *c, const struct ctl_args *a)
{
	const char *domain = ctl_opt(a, "domain");
	struct json *doc = NULL;
	const struct json *r, *on;
	char line[CONTROL_LINE_MAX];
	int rc;

	if (a->npos == 0 && domain)
		return ctl_fail(c, CTL_USAGE, "--domain goes with trace on");
	if (a->npos == 1 && strcmp(a->pos[0], "on") != 0 && strcmp(a->pos[0], "off") != 0)
		return ctl_fail(c, CTL_USAGE, "trace on [--domain D], trace off or trace; not \"%s\"",
		    a->pos[0]);
	if (a->npos == 1 && strcmp(a->pos[0], "off") == 0 && domain)
		return ctl_fail(c, CTL_USAGE, "--domain goes with trace on");
	if (domain && strpbrk(domain, " \t\r\n"))
		return ctl_fail(c, CTL_USAGE, "a domain has no white space");
	snprintf(line, sizeof(line), "trace%s%s%s%s", a->npos ? " " : "", a->npos ? a->pos[0] : "",
	    domain ? " " : "", domain ? domain : "");
	if ((rc = daemon_call(c, line, &doc, &r)) != CTL_OK)
		return rc;
	if (c->json) {
		print_json(c, r);
		json_free(doc);
		return CTL_OK;
	}
	on = json_get(r, "on");
	if (on && on->b)
		fprintf(c->out, "message trace on since %s for %s%s; the lines go to sipedge's log "
		    "(event=trace)\n", str(r, "since"),
		    json_get(r, "domain") && json_get(r, "domain")->type == JSON_STRING ?
		    str(r, "domain") : "every domain",
		    json_get(r, "bodies") && json_get(r, "bodies")->b ? ", bodies included" : "");
	else
		fprintf(c->out, "message trace off\n");
	json_free(doc);
	return CTL_OK;
}

/* ---- stats -------------------------------------------------------------- */

static void
print_dirs(FILE *f, const char *label, const struct json *obj)
{
	fprintf(f, "  %-26s in %-12" PRIu64 " out %" PRIu64 "\n", label, num(obj, "in"),
	    num(obj, "out"));
}

int
cmd_stats(struct ctl *c, const struct ctl_args *a)
{
	struct json *doc = NULL;
	const struct json *r, *k, *x;
	FILE *f = c->out;
	int rc;

	if ((rc = daemon_call(c, ctl_flag(a, "reset") ? "stats reset" : "stats", &doc, &r)) != CTL_OK)
		return rc;
	if (c->json) {
		print_json(c, r);
		json_free(doc);
		return CTL_OK;
	}
	k = json_get(r, "counters");
	fprintf(f, "counters since %s%s\n", str(r, "since"),
	    (x = json_get(r, "reset")) && x->b ? " (now reset)" : "");
	for (int s = 0; s < 2; s++) {
		const char *side = s ? "external" : "internal";
		const struct json *sd = json_get(k, side), *tf = json_get(sd, "tls_failures");

		fprintf(f, "%s side\n", side);
		print_dirs(f, "messages", json_get(sd, "messages"));
		print_dirs(f, "bytes", json_get(sd, "bytes"));
		fprintf(f, "  %-26s accepted %" PRIu64 ", dialled %" PRIu64 ", open %" PRIu64 "\n",
		    "connections", num(sd, "connections_accepted"), num(sd, "connections_dialled"),
		    num(sd, "connections_open"));
		fprintf(f, "  %-26s no certificate %" PRIu64 ", untrusted %" PRIu64 ", wrong name %"
		    PRIu64 ", timeout %" PRIu64 ", protocol %" PRIu64 "\n", "TLS handshake failures",
		    num(tf, "no_certificate"), num(tf, "untrusted"), num(tf, "wrong_name"),
		    num(tf, "timeout"), num(tf, "protocol"));
	}
	fprintf(f, "federation (new requests accepted; in: from partners)\n");
	if ((x = json_get(k, "federation")) != NULL && x->type == JSON_OBJECT)
		for (size_t i = 0; i < x->n; i++)
			print_dirs(f, x->keys[i], x->items[i]);
	fprintf(f, "partners\n");
	if ((x = json_get(k, "partners")) != NULL && x->type == JSON_ARRAY) {
		for (size_t i = 0; i < x->n; i++) {
			const struct json *p = x->items[i], *rq = json_get(p, "requests"),
			    *rf = json_get(p, "refused");

			fprintf(f, "  %-26s in %-12" PRIu64 " out %-12" PRIu64 " refused in %" PRIu64
			    ", out %" PRIu64 ", throttled %" PRIu64 "\n", str(p, "domain"),
			    num(rq, "in"), num(rq, "out"), num(rf, "in"), num(rf, "out"),
			    num(p, "throttled"));
		}
		if (x->n == 0)
			fprintf(f, "  (none)\n");
	}
	fprintf(f, "refusals by diagnostic code\n");
	if ((x = json_get(k, "refusals")) != NULL && x->type == JSON_OBJECT) {
		for (size_t i = 0; i < x->n; i++) {
			const struct diag_info *di = diag_lookup((enum diag_code)atoi(x->keys[i]));
			int64_t n = 0;

			json_to_int(x->items[i], &n);
			fprintf(f, "  %s %d %-40s %" PRId64 "\n", x->keys[i], di->status, di->text, n);
		}
		if (x->n == 0)
			fprintf(f, "  (none)\n");
	}
	fprintf(f, "%-28s%" PRIu64 " (%" PRIu64 " failed), %" PRIu64 " cached now\n", "DNS queries",
	    num(k, "dns_queries"), num(k, "dns_failures"), num(k, "dns_cache_entries"));
	fprintf(f, "%-28s%" PRIu64 "\n", "failovers", num(k, "failovers"));
	fprintf(f, "%-28s%" PRIu64 "\n", "transactions timed out", num(k, "transaction_timeouts"));
	fprintf(f, "%-28s%" PRIu64 "\n", "overload refusals (1204)", num(k, "overload_refusals"));
	fprintf(f, "%-28s%" PRIu64 "\n", "discovered throttled", num(k, "discovered_throttled"));
	fprintf(f, "%-28s%" PRIu64 "\n", "transactions open", num(k, "transactions_open"));
	json_free(doc);
	return CTL_OK;
}
