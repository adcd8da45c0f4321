/* control_xmpp.c: the control socket's XMPP commands (control.h; sipedgectl
 * xmpp streams and xmpp probe in sipedgectl(8)): the gateway's server-to-
 * server streams (RFC 6120 §4) with its counters, and the probe of a
 * partner (xmpp_probe.h: DNS, TCP, STARTTLS, XEP-0178 names, SASL EXTERNAL
 * or dialback, an XEP-0199 ping), both asked of worker 0 through proxy.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sipedge/daemon.h"
#include "sipedge/log.h"
#include "sipedge/names.h"
#include "sipedge/proxy.h"
#include "sipedge/stats.h"
#include "sipedge/xmpp_probe.h"
#include "sipedge/xmpp_query.h"

/* How long the probe waits for the ping's answer, which comes back over a
 * stream the partner opens to us (a DNS look-up, TCP, TLS and SASL of its
 * own). */
#define PROBE_PING_TIMEOUT_S 10

/* ---- xmpp-streams ------------------------------------------------------- */

static void
stream_json(struct json_out *o, const struct xmpp_stream_row *s)
{
	json_out_begin_object(o);
	json_out_key_uint(o, "id", s->id);
	json_out_key_string(o, "direction", s->outbound ? "out" : "in");
	json_out_key(o, "verify_only");
	json_out_bool(o, s->verify_only);
	json_out_key(o, "probe");
	json_out_bool(o, s->probe);
	json_out_key_string(o, "state", s->state);
	json_out_key_string(o, "local", s->local[0] ? s->local : NULL);
	json_out_key_string(o, "remote", s->remote[0] ? s->remote : NULL);
	json_out_key_string(o, "peer", s->peer[0] ? s->peer : NULL);
	json_out_key_string(o, "tls_version", s->tls ? s->tls_version : NULL);
	json_out_key_string(o, "tls_cipher", s->tls ? s->tls_cipher : NULL);
	json_out_key(o, "direct_tls");
	json_out_bool(o, s->direct_tls);
	json_out_key_string(o, "certificate_name", s->cert_name[0] ? s->cert_name : NULL);
	json_out_key_string(o, "certificate", s->cert[0] ? s->cert : NULL);
	json_out_key_string(o, "auth", s->auth);
	json_out_key(o, "bidi");
	json_out_bool(o, s->bidi);
	json_out_key_uint(o, "age_s", s->age_ms / 1000);
	json_out_key_uint(o, "idle_s", s->idle_ms / 1000);
	json_out_key_uint(o, "stanzas_in", s->stanzas_in);
	json_out_key_uint(o, "stanzas_out", s->stanzas_out);
	json_out_key_uint(o, "bytes_in", s->bytes_in);
	json_out_key_uint(o, "bytes_out", s->bytes_out);
	json_out_key_uint(o, "queued", s->queued);
	json_out_key(o, "parser_asleep");
	json_out_bool(o, s->parser_asleep);
	json_out_end_object(o);
}

struct streams_req {
	struct control_req *r;
	struct daemon *d;
};

static void
streams_done(int status, const struct xmpp_stream_row *v, size_t n, void *arg)
{
	struct streams_req *sr = arg;
	struct control_req *r = sr->r;
	struct xmpp_counters ctr;
	struct json_out *o;

	if (status < 0 || (o = control_result(r)) == NULL) {
		control_fail(r, "internal", "cannot list the XMPP streams: %s",
		    status == -ECANCELED ? "the edge is stopping" : strerror(status < 0 ? -status :
		    ENOMEM));
		free(sr);
		return;
	}
	/* Read after the rows: the counters are at least as new as they. */
	proxy_xmpp_counters(sr->d->px, &ctr);
	json_out_begin_object(o);
	json_out_key(o, "streams");
	json_out_begin_array(o);
	for (size_t i = 0; i < n; i++)
		stream_json(o, &v[i]);
	json_out_end_array(o);
	json_out_key(o, "counters");
	stats_xmpp_json(&ctr, o);
	json_out_end_object(o);
	control_answer(r);
	free(sr);
}

void
daemon_xmpp_streams(struct control_req *r, int argc, char **argv, void *arg)
{
	struct daemon *d = arg;
	struct streams_req *sr;
	int rc;

	(void)argc;
	(void)argv;
	if ((sr = calloc(1, sizeof(*sr))) == NULL) {
		control_fail(r, "internal", "out of memory");
		return;
	}
	sr->r = r;
	sr->d = d;
	if ((rc = proxy_xmpp_streams(d->px, uv_default_loop(), streams_done, sr)) < 0) {
		free(sr);
		control_fail(r, "internal", "cannot ask worker 0: %s", strerror(-rc));
	}
}

/* ---- xmpp-probe ---------------------------------------------------------- */

static void
probe_json(struct json_out *o, const struct xmpp_probe_result *p)
{
	const char *names = p->cert_names;

	json_out_begin_object(o);
	json_out_key_string(o, "domain", p->remote);
	json_out_key_string(o, "from", p->local);
	json_out_key(o, "ok");
	json_out_bool(o, p->ok);
	json_out_key(o, "steps");
	json_out_begin_array(o);
	for (size_t i = 0; i < p->nsteps; i++) {
		const struct xmpp_probe_step *st = &p->steps[i];

		json_out_begin_object(o);
		json_out_key_string(o, "step", xmpp_probe_step_name(st->id));
		json_out_key(o, "ok");
		json_out_bool(o, st->ok);
		if (st->has_ms)
			json_out_key_uint(o, "ms", st->ms);
		json_out_key_string(o, "text", st->text);
		json_out_end_object(o);
	}
	json_out_end_array(o);
	json_out_key(o, "targets");
	json_out_begin_array(o);
	for (size_t i = 0; i < p->ntargets; i++)
		json_out_string(o, p->targets[i]);
	json_out_end_array(o);
	json_out_key_string(o, "address", p->address[0] ? p->address : NULL);
	json_out_key_string(o, "tls_version", p->tls_version[0] ? p->tls_version : NULL);
	json_out_key_string(o, "tls_cipher", p->tls_cipher[0] ? p->tls_cipher : NULL);
	json_out_key(o, "certificate_names");
	json_out_begin_array(o);
	while (*names) {
		size_t len = strcspn(names, " ");
		char name[NAMES_MAX + 1];

		snprintf(name, sizeof(name), "%.*s", (int)(len < NAMES_MAX ? len : NAMES_MAX), names);
		json_out_string(o, name);
		names += len;
		names += strspn(names, " ");
	}
	json_out_end_array(o);
	json_out_key(o, "names_match");
	json_out_bool(o, p->names_match);
	json_out_key_string(o, "auth", p->auth);
	json_out_key(o, "answered");
	json_out_bool(o, p->answered);
	if (p->answered) {
		json_out_key_uint(o, "rtt_ms", p->rtt_ms);
		json_out_key_string(o, "answer", p->answer);
	}
	if (!p->ok) {
		json_out_key_uint(o, "diagnostic", (uint64_t)p->diag);
		json_out_key_string(o, "reason", p->reason);
	}
	json_out_key_uint(o, "total_ms", p->total_ms);
	json_out_end_object(o);
}

static void
probe_done(int status, const struct xmpp_probe_result *res, void *arg)
{
	struct control_req *r = arg;
	struct json_out *o;

	if (status < 0) {
		control_fail(r, "internal", "the probe could not run: %s", status == -ECANCELED ?
		    "the edge is stopping" : strerror(-status));
		return;
	}
	if ((o = control_result(r)) == NULL) {
		control_fail(r, "internal", "out of memory");
		return;
	}
	probe_json(o, res);
	control_answer(r);
}

void
daemon_xmpp_probe(struct control_req *r, int argc, char **argv, void *arg)
{
	struct daemon *d = arg;
	const struct conf *c = d->conf;
	char domain[NAMES_MAX + 1], local[NAMES_MAX + 1];
	const char *why = NULL;
	int rc;

	if (names_normalize(argv[0], domain, sizeof(domain), &why) < 0) {
		control_fail(r, "usage", "\"%.64s\" is not a domain: %s", argv[0], why);
		return;
	}
	if (conf_is_our_domain(c, domain)) {
		control_fail(r, "usage", "%s is one of our own domains, not an XMPP partner", domain);
		return;
	}
	if (argc == 2) {
		if (names_normalize(argv[1], local, sizeof(local), &why) < 0) {
			control_fail(r, "usage", "--from \"%.64s\" is not a domain: %s", argv[1], why);
			return;
		}
		if (!conf_is_our_domain(c, local)) {
			control_fail(r, "usage", "--from %s is not one of our domains (sip-domain)", local);
			return;
		}
	} else if (c->ndomains > 0) {
		snprintf(local, sizeof(local), "%s", c->domains[0]);
	} else {
		control_fail(r, "usage", "no sip-domain is configured: the probe has no domain of "
		    "ours to speak for");
		return;
	}
	log_info("xmpp: probe of %s from %s (sipedgectl)", domain, local);
	if ((rc = proxy_xmpp_probe(d->px, uv_default_loop(), local, domain, PROBE_PING_TIMEOUT_S,
	    probe_done, r)) < 0)
		control_fail(r, "internal", "cannot start the probe: %s", strerror(-rc));
}
