/* cmd_xmpp_live.c: the sipedgectl commands about the running daemon's XMPP
 * side, through its control socket (control_xmpp.c answers): the server-to-
 * server streams (RFC 6120 §4) as a table in the manner of Prosody's
 * s2s:show(), with the gateway's counters; and the probe of a partner
 * (DNS, TCP, STARTTLS, the certificate's names per XEP-0178, SASL EXTERNAL
 * or dialback, an XEP-0199 ping), step by step, failing with the reason. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "sipedge/control.h"
#include "sipedge/diag.h"

static void
dirs(FILE *f, const char *label, const struct json *obj)
{
	fprintf(f, "  %-26s in %-12" PRIu64 " out %" PRIu64 "\n", label, ctl_jnum(obj, "in"),
	    ctl_jnum(obj, "out"));
}

void
ctl_xmpp_counters(FILE *f, const struct json *x)
{
	fprintf(f, "XMPP server-to-server streams\n");
	dirs(f, "streams started", json_get(x, "streams"));
	dirs(f, "authenticated", json_get(x, "authenticated"));
	fprintf(f, "  %-26s %" PRIu64 " refused by policy or limits, %" PRIu64 " outbound reached "
	    "no server\n", "not established", ctl_jnum(x, "refused"), ctl_jnum(x, "outbound_failed"));
	fprintf(f, "  %-26s TLS %" PRIu64 ", bad XML %" PRIu64 ", stream errors sent %" PRIu64 "\n",
	    "failures", ctl_jnum(x, "tls_failures"), ctl_jnum(x, "bad_xml"),
	    ctl_jnum(x, "stream_errors_sent"));
	dirs(f, "stanzas", json_get(x, "stanzas"));
	fprintf(f, "  %-26s %" PRIu64 "\n", "stanzas not sent", ctl_jnum(x, "stanzas_failed"));
	fprintf(f, "  %-26s %" PRIu64 "\n", "sent without a hand-over",
	    ctl_jnum(x, "stanzas_out_direct"));
	fprintf(f, "  %-26s %" PRIu64 "\n", "presence over the rate", ctl_jnum(x, "presence_limited"));
	dirs(f, "bytes", json_get(x, "bytes"));
	fprintf(f, "  %-26s %" PRIu64 "\n", "streams open", ctl_jnum(x, "streams_open"));
}

/* ---- xmpp streams ----------------------------------------------------------- */

static bool
flag(const struct json *obj, const char *key)
{
	const struct json *v = json_get(obj, key);

	return v && v->type == JSON_BOOL && v->b;
}

int
cmd_xmpp_streams(struct ctl *c, const struct ctl_args *a)
{
	static const char *const heads[] = { "ID", "DIR", "LOCAL", "REMOTE", "PEER", "STATE", "TLS",
		"AUTH", "CERTIFICATE", "BIDI", "AGE", "IDLE", "STANZAS IN", "STANZAS OUT", "BYTES IN",
		"BYTES OUT" };
	struct json *doc = NULL;
	const struct json *r, *v;
	struct ctl_table t;
	int rc;

	(void)a;
	if ((rc = ctl_daemon_call(c, "xmpp-streams", &doc, &r)) != CTL_OK)
		return rc;
	v = json_get(r, "streams");
	if (c->json || v == NULL || v->type != JSON_ARRAY) {
		ctl_print_json(c, r);
		json_free(doc);
		return CTL_OK;
	}
	ctl_table_init(&t, 16, heads);
	for (size_t i = 0; i < v->n; i++) {
		const struct json *x = v->items[i];
		char id[24], dir[24], age[32], idle[32], si[24], so[24], bi[24], bo[24];

		snprintf(id, sizeof(id), "%" PRIu64, ctl_jnum(x, "id"));
		snprintf(dir, sizeof(dir), "%s%s", ctl_jstr(x, "direction"), flag(x, "verify_only") ?
		    " (verify)" : flag(x, "probe") ? " (probe)" : "");
		ctl_duration(ctl_jnum(x, "age_s"), age, sizeof(age));
		ctl_duration(ctl_jnum(x, "idle_s"), idle, sizeof(idle));
		snprintf(si, sizeof(si), "%" PRIu64, ctl_jnum(x, "stanzas_in"));
		snprintf(so, sizeof(so), "%" PRIu64, ctl_jnum(x, "stanzas_out"));
		snprintf(bi, sizeof(bi), "%" PRIu64, ctl_jnum(x, "bytes_in"));
		snprintf(bo, sizeof(bo), "%" PRIu64, ctl_jnum(x, "bytes_out"));
		if (ctl_table_add(&t, id, dir, ctl_jstr(x, "local"), ctl_jstr(x, "remote"),
		    ctl_jstr(x, "peer"), ctl_jstr(x, "state"), ctl_jstr(x, "tls_version"),
		    ctl_jstr(x, "auth"), ctl_jstr(x, "certificate"), flag(x, "bidi") ? "yes" : "no",
		    age, idle, si, so, bi, bo) < 0) {
			ctl_table_free(&t);
			json_free(doc);
			return ctl_fail(c, CTL_FAIL, "out of memory");
		}
	}
	ctl_table_print(&t, c->out);
	fprintf(c->out, "%zu stream%s\n", v->n, v->n == 1 ? "" : "s");
	ctl_table_free(&t);
	if ((v = json_get(r, "counters")) != NULL && v->type == JSON_OBJECT)
		ctl_xmpp_counters(c->out, v);
	json_free(doc);
	return CTL_OK;
}

/* ---- xmpp probe ------------------------------------------------------------- */

int
cmd_xmpp_probe(struct ctl *c, const struct ctl_args *a)
{
	const char *domain = a->pos[0], *from = ctl_opt(a, "from");
	struct json *doc = NULL;
	const struct json *r, *x;
	FILE *f = c->out;
	char line[CONTROL_LINE_MAX];
	bool ok;
	int rc;

	if (strpbrk(domain, " \t\r\n") || (from && strpbrk(from, " \t\r\n")))
		return ctl_fail(c, CTL_USAGE, "a domain has no white space");
	if ((size_t)snprintf(line, sizeof(line), "xmpp-probe %s%s%s", domain, from ? " " : "",
	    from ? from : "") >= sizeof(line))
		return ctl_fail(c, CTL_USAGE, "the domain or --from is too long");
	if ((rc = ctl_daemon_call(c, line, &doc, &r)) != CTL_OK)
		return rc;
	ok = flag(r, "ok");
	if (c->json) {
		ctl_print_json(c, r);
	} else {
		fprintf(f, "XMPP probe of %s from %s\n", ctl_jstr(r, "domain"), ctl_jstr(r, "from"));
		if ((x = json_get(r, "steps")) != NULL && x->type == JSON_ARRAY)
			for (size_t i = 0; i < x->n; i++) {
				const struct json *s = x->items[i];
				char ms[32] = "";

				if (json_get(s, "ms") != NULL)
					snprintf(ms, sizeof(ms), " (%" PRIu64 " ms)", ctl_jnum(s, "ms"));
				fprintf(f, "  %-4s %-12s %s%s\n", flag(s, "ok") ? "ok" : "FAIL",
				    ctl_jstr(s, "step"), ctl_jstr(s, "text"), ms);
			}
		if (ok)
			fprintf(f, "XMPP federation with %s works: ping round trip %" PRIu64 " ms, "
			    "%" PRIu64 " ms in all\n", ctl_jstr(r, "domain"), ctl_jnum(r, "rtt_ms"),
			    ctl_jnum(r, "total_ms"));
	}
	if (!ok) {
		uint64_t code = ctl_jnum(r, "diagnostic");

		ctl_fail(c, CTL_FAIL, "%s: %s (diagnostic %" PRIu64 ": %s)", ctl_jstr(r, "domain"),
		    ctl_jstr(r, "reason"), code, diag_lookup((enum diag_code)code)->text);
	}
	json_free(doc);
	return ok ? CTL_OK : CTL_FAIL;
}
