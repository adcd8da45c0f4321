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
int
ctl_daemon_call(struct ctl *c, const char *line, struct json **doc, const struct json **out)
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
void
ctl_print_json(struct ctl *c, const struct json *v)
{
	struct json_out o;

	json_out_init(&o, c->out);
	json_out_value(&o, v);
	json_out_end(&o);
}

const char *
ctl_jstr(const struct json *obj, const char *key)
{
	const struct json *v = json_get(obj, key);

	return v && v->type == JSON_STRING ? v->str : "-";
}

uint64_t
ctl_jnum(const struct json *obj, const char *key)
{
	int64_t n = 0;

	if (json_to_int(json_get(obj, key), &n) < 0 || n < 0)
		return 0;
	return (uint64_t)n;
}

void
ctl_duration(uint64_t s, char *buf, size_t len)
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
	if ((rc = ctl_daemon_call(c, "status", &doc, &r)) != CTL_OK)
		return rc;
	if (c->json) {
		ctl_print_json(c, r);
		json_free(doc);
		return CTL_OK;
	}
	ctl_duration(ctl_jnum(r, "uptime_s"), up, sizeof(up));
	fprintf(f, "sipedge %s, pid %" PRIu64 ", up %s (since %s)\n", ctl_jstr(r, "version"),
	    ctl_jnum(r, "pid"), up, ctl_jstr(r, "started"));
	fprintf(f, "%-14s%s\n", "config", ctl_jstr(r, "config"));
	fprintf(f, "%-14s%s (internal %s)\n", "edge", ctl_jstr(r, "edge_fqdn"),
	    ctl_jstr(r, "internal_fqdn"));
	fprintf(f, "%-14s%" PRIu64 "\n", "workers", ctl_jnum(r, "workers"));
	if ((l = json_get(r, "listeners")) != NULL && l->type == JSON_ARRAY)
		for (size_t i = 0; i < l->n; i++) {
			x = json_get(l->items[i], "mutual_tls");
			fprintf(f, "%-14s%s %s %s%s\n", i == 0 ? "listeners" : "",
			    ctl_jstr(l->items[i], "side"), ctl_jstr(l->items[i], "transport"),
			    ctl_jstr(l->items[i], "address"), x && x->b ? " (mutual TLS)" : "");
		}
	x = json_get(r, "connections");
	fprintf(f, "%-14sinternal %" PRIu64 ", external %" PRIu64 "\n", "connections",
	    ctl_jnum(x, "internal"), ctl_jnum(x, "external"));
	fprintf(f, "%-14s%" PRIu64 " of %" PRIu64 "\n", "transactions", ctl_jnum(r, "transactions"),
	    ctl_jnum(r, "max_transactions"));
	x = json_get(r, "policy");
	fprintf(f, "%-14sgeneration %" PRIu64 ", loaded %s: %" PRIu64 " allowed, %" PRIu64
	    " blocked, %" PRIu64 " providers, %" PRIu64 " XMPP partners (%s)\n", "policy",
	    ctl_jnum(x, "generation"), ctl_jstr(x, "loaded"), ctl_jnum(x, "allowed"),
	    ctl_jnum(x, "blocked"), ctl_jnum(x, "providers"), ctl_jnum(x, "xmpp_partners"),
	    ctl_jstr(x, "db"));
	if ((x = json_get(r, "xmpp")) != NULL && x->type == JSON_OBJECT) {
		const struct json *xl = json_get(x, "listeners");

		fprintf(f, "%-14s", "xmpp");
		for (size_t i = 0; xl && xl->type == JSON_ARRAY && i < xl->n; i++) {
			const struct json *dt = json_get(xl->items[i], "direct_tls");

			fprintf(f, "%s%s %s", i ? ", " : "listeners ", dt && dt->b ? "xmpps" : "xmpp",
			    ctl_jstr(xl->items[i], "address"));
		}
		if (!xl || xl->type != JSON_ARRAY || xl->n == 0)
			fprintf(f, "no listener");
		fprintf(f, "; %" PRIu64 " stream%s open\n", ctl_jnum(x, "streams_open"),
		    ctl_jnum(x, "streams_open") == 1 ? "" : "s");
	}
	fprintf(f, "%-14s%" PRIu64 " entries\n", "dns cache", ctl_jnum(r, "dns_cache_entries"));
	if ((x = json_get(r, "certificate")) != NULL && x->type == JSON_OBJECT) {
		const struct json *dl = json_get(x, "days_left"), *nm = json_get(x, "names");
		int64_t days = 0;

		json_to_int(dl, &days);
		fprintf(f, "%-14s%s, serial %s, %s, until %s (%" PRId64 " days)\n", "certificate",
		    ctl_jstr(x, "subject"), ctl_jstr(x, "serial"), ctl_jstr(x, "key"),
		    ctl_jstr(x, "not_after"), days);
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
	if ((rc = ctl_daemon_call(c, line, &doc, &r)) != CTL_OK)
		return rc;
	if (c->json || r == NULL || r->type != JSON_ARRAY) {
		ctl_print_json(c, r);
		json_free(doc);
		return CTL_OK;
	}
	ctl_table_init(&t, 11, heads);
	for (size_t i = 0; i < r->n; i++) {
		const struct json *x = r->items[i], *res = json_get(x, "resumed");
		char tls[96], age[32], idle[32], mi[24], mo[24], bi[24], bo[24];

		if (strcmp(ctl_jstr(x, "transport"), "tls") == 0)
			snprintf(tls, sizeof(tls), "%s %s%s", ctl_jstr(x, "tls_version"), ctl_jstr(x, "tls_cipher"),
			    res && res->b ? " resumed" : "");
		else
			snprintf(tls, sizeof(tls), "tcp");
		ctl_duration(ctl_jnum(x, "age_s"), age, sizeof(age));
		ctl_duration(ctl_jnum(x, "idle_s"), idle, sizeof(idle));
		snprintf(mi, sizeof(mi), "%" PRIu64, ctl_jnum(x, "messages_in"));
		snprintf(mo, sizeof(mo), "%" PRIu64, ctl_jnum(x, "messages_out"));
		snprintf(bi, sizeof(bi), "%" PRIu64, ctl_jnum(x, "bytes_in"));
		snprintf(bo, sizeof(bo), "%" PRIu64, ctl_jnum(x, "bytes_out"));
		if (ctl_table_add(&t, ctl_jstr(x, "side"), ctl_jstr(x, "direction"), ctl_jstr(x, "peer"),
		    ctl_jstr(x, "certificate_name"), tls, age, idle, mi, mo, bi, bo) < 0) {
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
	if ((rc = ctl_daemon_call(c, "partners", &doc, &r)) != CTL_OK)
		return rc;
	if (c->json || r == NULL || r->type != JSON_ARRAY) {
		ctl_print_json(c, r);
		json_free(doc);
		return CTL_OK;
	}
	ctl_table_init(&t, 10, heads);
	for (size_t i = 0; i < r->n; i++) {
		const struct json *x = r->items[i], *su = json_get(x, "suspicious"),
		    *pl = json_get(x, "peers");
		char rate[24], limit[24], ct[48], rq[24], th[24], idle[32], peers[1024];
		size_t used = 0;

		snprintf(rate, sizeof(rate), "%" PRIu64 "/s", ctl_jnum(x, "rate"));
		snprintf(limit, sizeof(limit), "%" PRIu64 "/s", ctl_jnum(x, "limit"));
		snprintf(ct, sizeof(ct), "%" PRIu64 "/%" PRIu64, ctl_jnum(x, "contacts"),
		    ctl_jnum(x, "contacts_limit"));
		snprintf(rq, sizeof(rq), "%" PRIu64, ctl_jnum(x, "requests"));
		snprintf(th, sizeof(th), "%" PRIu64, ctl_jnum(x, "throttled"));
		ctl_duration(ctl_jnum(x, "idle_s"), idle, sizeof(idle));
		peers[0] = '\0';
		for (size_t j = 0; pl && pl->type == JSON_ARRAY && j < pl->n && used < sizeof(peers);
		    j++)
			used += (size_t)snprintf(peers + used, sizeof(peers) - used, "%s%s",
			    j ? "," : "", pl->items[j]->type == JSON_STRING ? pl->items[j]->str : "?");
		if (ctl_table_add(&t, ctl_jstr(x, "domain"), rate, limit, su && su->b ? "yes" : "no", ct,
		    rq, th, ctl_jstr(x, "period_start"), idle, peers[0] ? peers : "-") < 0) {
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
	if ((rc = ctl_daemon_call(c, "reload", &doc, &r)) != CTL_OK)
		return rc;
	if (c->json) {
		ctl_print_json(c, r);
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

	if ((rc = ctl_daemon_call(c, "probe-inbound", &doc, &r)) != CTL_OK)
		return rc;
	ok = json_get(r, "ok");
	all = ok && ok->type == JSON_BOOL && ok->b;
	if (c->json) {
		ctl_print_json(c, r);
		json_free(doc);
		return all ? CTL_OK : CTL_FAIL;
	}
	if ((ds = json_get(r, "domains")) != NULL && ds->type == JSON_ARRAY)
		for (size_t i = 0; i < ds->n; i++) {
			const struct json *d = ds->items[i], *ts = json_get(d, "targets");

			fprintf(f, "%s: SRV %s: %s\n", ctl_jstr(d, "domain"), ctl_jstr(d, "srv"),
			    ctl_jstr(d, "srv_result"));
			for (size_t k = 0; ts && ts->type == JSON_ARRAY && k < ts->n; k++) {
				const struct json *t = ts->items[k], *as = json_get(t, "addresses"),
				    *cv = json_get(t, "certificate_covers"), *wl = json_get(t, "we_listen");

				fprintf(f, "  %s:%" PRIu64 " (priority %" PRIu64 "): our certificate %s it; "
				    "addresses", ctl_jstr(t, "target"), ctl_jnum(t, "port"), ctl_jnum(t, "priority"),
				    cv && cv->b ? "covers" : "does NOT cover");
				for (size_t m = 0; as && as->type == JSON_ARRAY && m < as->n; m++)
					fprintf(f, " %s", as->items[m]->str);
				if (!as || as->type != JSON_ARRAY || as->n == 0)
					fprintf(f, " none (%s)", ctl_jstr(t, "address_result"));
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
	if ((rc = ctl_daemon_call(c, line, &doc, &r)) != CTL_OK)
		return rc;
	x = json_get(r, "answered");
	answered = x && x->type == JSON_BOOL && x->b;
	if (c->json) {
		ctl_print_json(c, r);
		json_free(doc);
		return answered ? CTL_OK : CTL_FAIL;
	}
	fprintf(f, "probe of %s, from %s\n", ctl_jstr(r, "domain"), ctl_jstr(r, "from"));
	fprintf(f, "route (%s):\n", ctl_jstr(r, "verdict"));
	if ((x = json_get(r, "steps")) != NULL && x->type == JSON_ARRAY)
		for (size_t i = 0; i < x->n; i++)
			fprintf(f, "  %zu. %s\n", i + 1, x->items[i]->str);
	if ((x = json_get(r, "targets")) != NULL && x->type == JSON_ARRAY && x->n) {
		fprintf(f, "targets:\n");
		for (size_t i = 0; i < x->n; i++) {
			const struct json *h = x->items[i], *ok = json_get(h, "ok"),
			    *m = json_get(h, "names_match"), *re = json_get(h, "reused");

			fprintf(f, "  %s %s: %s%s after %" PRIu64 " ms", ctl_jstr(h, "fqdn"), ctl_jstr(h, "address"),
			    ok && ok->b ? "TLS connected" : ctl_jstr(h, "result"),
			    re && re->b ? " (an open connection)" : "", ctl_jnum(h, "ms"));
			if (json_get(h, "certificate_names") && json_get(h, "certificate_names")->type ==
			    JSON_STRING)
				fprintf(f, "; certificate names %s (%s)", ctl_jstr(h, "certificate_names"),
				    m && m->b ? "match" : "do not match");
			fputc('\n', f);
		}
	}
	resp = json_get(r, "response");
	fprintf(f, "response: %" PRIu64 " %s, from the %s, after %" PRIu64 " ms\n",
	    ctl_jnum(resp, "status"),
	    ctl_jstr(resp, "reason"), ctl_jstr(resp, "from"), ctl_jnum(r, "total_ms"));
	if (json_get(resp, "ms_diagnostics") && json_get(resp, "ms_diagnostics")->type == JSON_STRING)
		fprintf(f, "ms-diagnostics: %s\n", ctl_jstr(resp, "ms_diagnostics"));
	if (json_get(resp, "server") && json_get(resp, "server")->type == JSON_STRING)
		fprintf(f, "server: %s\n", ctl_jstr(resp, "server"));
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
	if ((rc = ctl_daemon_call(c, line, &doc, &r)) != CTL_OK)
		return rc;
	if (c->json) {
		ctl_print_json(c, r);
		json_free(doc);
		return CTL_OK;
	}
	on = json_get(r, "on");
	if (on && on->b)
		fprintf(c->out, "message trace on since %s for %s%s; the lines go to sipedge's log "
		    "(event=trace)\n", ctl_jstr(r, "since"),
		    json_get(r, "domain") && json_get(r, "domain")->type == JSON_STRING ?
		    ctl_jstr(r, "domain") : "every domain",
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
	fprintf(f, "  %-26s in %-12" PRIu64 " out %" PRIu64 "\n", label, ctl_jnum(obj, "in"),
	    ctl_jnum(obj, "out"));
}

int
cmd_stats(struct ctl *c, const struct ctl_args *a)
{
	struct json *doc = NULL;
	const struct json *r, *k, *x;
	FILE *f = c->out;
	int rc;

	if ((rc = ctl_daemon_call(c, ctl_flag(a, "reset") ? "stats reset" : "stats", &doc, &r)) != CTL_OK)
		return rc;
	if (c->json) {
		ctl_print_json(c, r);
		json_free(doc);
		return CTL_OK;
	}
	k = json_get(r, "counters");
	fprintf(f, "counters since %s%s\n", ctl_jstr(r, "since"),
	    (x = json_get(r, "reset")) && x->b ? " (now reset)" : "");
	for (int s = 0; s < 2; s++) {
		const char *side = s ? "external" : "internal";
		const struct json *sd = json_get(k, side), *tf = json_get(sd, "tls_failures");

		fprintf(f, "%s side\n", side);
		print_dirs(f, "messages", json_get(sd, "messages"));
		print_dirs(f, "bytes", json_get(sd, "bytes"));
		fprintf(f, "  %-26s accepted %" PRIu64 ", dialled %" PRIu64 ", open %" PRIu64 "\n",
		    "connections", ctl_jnum(sd, "connections_accepted"), ctl_jnum(sd, "connections_dialled"),
		    ctl_jnum(sd, "connections_open"));
		fprintf(f, "  %-26s no certificate %" PRIu64 ", untrusted %" PRIu64 ", wrong name %"
		    PRIu64 ", timeout %" PRIu64 ", protocol %" PRIu64 "\n", "TLS handshake failures",
		    ctl_jnum(tf, "no_certificate"), ctl_jnum(tf, "untrusted"), ctl_jnum(tf, "wrong_name"),
		    ctl_jnum(tf, "timeout"), ctl_jnum(tf, "protocol"));
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
			    ", out %" PRIu64 ", throttled %" PRIu64 "\n", ctl_jstr(p, "domain"),
			    ctl_jnum(rq, "in"), ctl_jnum(rq, "out"), ctl_jnum(rf, "in"), ctl_jnum(rf, "out"),
			    ctl_jnum(p, "throttled"));
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
	    ctl_jnum(k, "dns_queries"), ctl_jnum(k, "dns_failures"), ctl_jnum(k, "dns_cache_entries"));
	fprintf(f, "%-28s%" PRIu64 "\n", "failovers", ctl_jnum(k, "failovers"));
	fprintf(f, "%-28s%" PRIu64 "\n", "transactions timed out", ctl_jnum(k, "transaction_timeouts"));
	fprintf(f, "%-28s%" PRIu64 "\n", "overload refusals (1204)", ctl_jnum(k, "overload_refusals"));
	fprintf(f, "%-28s%" PRIu64 "\n", "discovered throttled", ctl_jnum(k, "discovered_throttled"));
	fprintf(f, "%-28s%" PRIu64 "\n", "transactions open", ctl_jnum(k, "transactions_open"));
	if ((x = json_get(k, "xmpp")) != NULL && x->type == JSON_OBJECT)
		ctl_xmpp_counters(f, x);
	json_free(doc);
	return CTL_OK;
}
