/* cmd_route.c: sipedgectl route, a dry run of the daemon's routing of a new
 * (out-of-dialog) request: the daemon's own routing step (route.h) on a request
 * made from the command line, with the daemon's configuration (our SIP domains,
 * pool servers, host pins, DNS servers), the policy in the db, and real DNS
 * look-ups on a private libuv loop; each step is printed as route.c takes it,
 * then the outcome (RFC 3263 §4 next hops, or the status and diagnostic code
 * the daemon would answer with).  Nothing is counted: the discovered-partner
 * throttle is described, not applied. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/msg_addr.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/url.h>

#include "ctl.h"
#include "sipedge/conf.h"
#include "sipedge/diag.h"
#include "sipedge/dns.h"
#include "sipedge/fedroute.h"
#include "sipedge/policy.h"
#include "sipedge/route.h"
#include "sipedge/sipmsg.h"

/* One dry run.  Owns its steps, the policy reference, the loop, the resolver
 * and the request. */
struct dry {
	struct ctl *c;
	const struct conf *cf;
	const char *conf_path;
	struct policy *pol;
	uv_loop_t loop;
	bool loop_open;
	struct dns *dns;
	msg_t *msg;
	char **steps;
	size_t nsteps;
	struct route_env env;
	struct route_op op;
	bool inbound, done;
	char reason[256];                  /* as the ms-diagnostics header words it */
};

/* ------------------------------------------------------------------ output */

/* Record a step; for people it is printed at once, so that a slow look-up
 * shows where the time goes. */
static void
add_step(struct dry *r, const char *text)
{
	char **v, *s;

	if ((s = strdup(text)) == NULL || (v = realloc(r->steps, (r->nsteps + 1) * sizeof(*v))) == NULL) {
		free(s);
		return;
	}
	r->steps = v;
	r->steps[r->nsteps++] = s;
	if (!r->c->json) {
		fprintf(r->c->out, "%zu. %s\n", r->nsteps, s);
		fflush(r->c->out);
	}
}

static void
step_cb(void *arg, const struct route_op *op, const char *text)
{
	(void)op;
	add_step(arg, text);
}

/* "127.0.0.20:5061 (sip.fabrikam.test)", with " tcp" for a lab hop. */
static const char *
hop_str(const struct hop *h, char *buf, size_t len)
{
	char a[80];

	snprintf(buf, len, "%s%s (%s)", conf_sockaddr_str(&h->addr, a, sizeof(a)),
	    h->kind == TP_TCP ? " tcp" : "", h->fqdn);
	return buf;
}

static const char *
hops_str(const struct dry *r, char *buf, size_t len)
{
	size_t used = 0;
	char one[CONF_MAX_NAME + 96];

	buf[0] = '\0';
	for (size_t i = 0; i < r->op.nhops && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
		    hop_str(&r->op.hops[i], one, sizeof(one)));
	return buf;
}

static void
print_text(const struct dry *r)
{
	char type[NAMES_MAX + 128], hops[ROUTE_MAX_HOPS * (CONF_MAX_NAME + 96)];

	if (r->op.verdict == ROUTE_REFUSE) {
		fprintf(r->c->out, "result: refused %d (%u) %s\n", r->op.prob.status,
		    (unsigned)r->op.prob.diag, r->reason);
		return;
	}
	if (r->op.verdict == ROUTE_XMPP) {
		fprintf(r->c->out, "result: translate to XMPP for partner %s (its server by "
		    "_xmpp-server._tcp SRV or its proxy FQDN)\n", r->op.domain);
		return;
	}
	route_type_str(r->op.type, r->op.domain, r->op.provider, type, sizeof(type));
	if (r->inbound)
		fprintf(r->c->out, "result: accept from %s (peer %s), forward to the pool via %s\n",
		    type, r->op.peer, hops_str(r, hops, sizeof(hops)));
	else
		fprintf(r->c->out, "result: forward to %s%s via %s\n", type,
		    r->op.default_route ? " by the default route" : "", hops_str(r, hops, sizeof(hops)));
}

/* A hop's address without its port (which has its own key). */
static void
json_address(struct json_out *o, const struct hop *h)
{
	char a[80], *end;

	conf_sockaddr_str(&h->addr, a, sizeof(a));
	if ((end = strrchr(a, ':')) != NULL)
		*end = '\0';
	if (a[0] == '[') {
		memmove(a, a + 1, strlen(a));
		a[strlen(a) - 1] = '\0';
	}
	json_out_string(o, a);
}

/* The keys of a forwarded or accepted request. */
static void
json_accepted(struct json_out *o, const struct dry *r)
{
	json_out_key(o, "type");
	json_out_string(o, fedroute_type_name(r->op.type));
	json_out_key(o, "domain");
	json_out_string(o, r->op.domain);
	if (r->op.type == FED_PROVIDER) {
		json_out_key(o, "provider");
		json_out_string(o, r->op.provider);
	}
	json_out_key(o, r->inbound ? "peer" : "default_route");
	if (r->inbound)
		json_out_string(o, r->op.peer);
	else
		json_out_bool(o, r->op.default_route);
	json_out_key(o, "throttled");
	json_out_bool(o, r->op.throttled);
	json_out_key(o, "trust");
	json_out_string(o, r->op.trust[0] ? r->op.trust : NULL);
	json_out_key(o, "hops");
	json_out_begin_array(o);
	for (size_t i = 0; i < r->op.nhops; i++) {
		json_out_begin_object(o);
		json_out_key(o, "fqdn");
		json_out_string(o, r->op.hops[i].fqdn);
		json_out_key(o, "address");
		json_address(o, &r->op.hops[i]);
		json_out_key(o, "port");
		json_out_int(o, r->op.hops[i].port);
		json_out_key(o, "transport");
		json_out_string(o, r->op.hops[i].kind == TP_TCP ? "tcp" : "tls");
		json_out_end_object(o);
	}
	json_out_end_array(o);
}

static void
print_json(const struct dry *r)
{
	struct json_out o;

	json_out_init(&o, r->c->out);
	json_out_begin_object(&o);
	json_out_key(&o, "steps");
	json_out_begin_array(&o);
	for (size_t i = 0; i < r->nsteps; i++)
		json_out_string(&o, r->steps[i]);
	json_out_end_array(&o);
	json_out_key(&o, "result");
	json_out_begin_object(&o);
	json_out_key(&o, "action");
	json_out_string(&o, r->op.verdict == ROUTE_REFUSE ? "refuse" : r->op.verdict == ROUTE_XMPP ?
	    "xmpp" : r->inbound ? "accept" : "forward");
	if (r->op.verdict == ROUTE_XMPP) {
		json_out_key(&o, "domain");
		json_out_string(&o, r->op.domain);
	} else if (r->op.verdict == ROUTE_REFUSE) {
		json_out_key(&o, "status");
		json_out_int(&o, r->op.prob.status);
		json_out_key(&o, "code");
		json_out_int(&o, r->op.prob.diag);
		json_out_key(&o, "reason");
		json_out_string(&o, r->reason);
	} else {
		json_accepted(&o, r);
	}
	json_out_end_object(&o);
	json_out_end_object(&o);
	json_out_end(&o);
}

/* --------------------------------------------------------------------- DNS */


/* --------------------------------------------------------------------- DNS */

/* The resolver the daemon's workers make from the same configuration
 * (worker.c). */
static int
dns_open(struct dry *r)
{
	struct dns_conf dc;
	int rc;

	if ((rc = uv_loop_init(&r->loop)) != 0)
		return ctl_fail(r->c, CTL_FAIL, "event loop: %s", uv_strerror(rc));
	r->loop_open = true;
	memset(&dc, 0, sizeof(dc));
	dc.servers = r->cf->dns_servers[0] ? r->cf->dns_servers : NULL;
	dc.timeout_ms = r->cf->dns_timeout_ms;
	dc.tries = 2;
	dc.max_ttl_s = 3600;
	dc.neg_ttl_s = 60;
	if ((rc = dns_new(&r->loop, &dc, &r->dns)) < 0)
		return ctl_fail(r->c, CTL_DB, "%s: dns-server %s: %s", r->conf_path,
		    dc.servers ? dc.servers : "(system)",
		    rc > -10000 ? strerror(-rc) : dns_strerror(rc));
	return 0;
}

static void
dns_end(struct dry *r)
{
	if (r->dns != NULL)
		dns_close(r->dns);
	r->dns = NULL;
	if (!r->loop_open)
		return;
	/* dns_close frees from close callbacks: let them run. */
	uv_run(&r->loop, UV_RUN_DEFAULT);
	uv_loop_close(&r->loop);
	r->loop_open = false;
}

/* ------------------------------------------------------------------ command */

/* A SIP or SIPS URI with a host, parsed as the daemon's Sofia-SIP parses a
 * Request-URI; host gets the host as the daemon compares it (lower case, no
 * trailing dot). */
static int
parse_uri(struct ctl *c, const char *what, const char *uri, char *host, size_t len)
{
	char *copy = strdup(uri);
	url_t u;
	bool ok = copy != NULL;

	for (const char *s = uri; ok && *s; s++)
		ok = (unsigned char)*s > 0x20 && *s != 0x7f;
	ok = ok && url_d(&u, copy) == 0 && (u.url_type == url_sip || u.url_type == url_sips) &&
	    sipmsg_url_host(&u, host, len) != NULL;
	free(copy);
	if (!ok)
		return ctl_fail(c, CTL_USAGE, "%s \"%s\" is not a SIP URI (sip: or sips:, a host)",
		    what, uri);
	return 0;
}

/* The options that go together: --inbound needs --peer and --from. */
static int
check_opts(struct ctl *c, const struct ctl_args *a, const char **peers, size_t npeers)
{
	char buf[NAMES_MAX + 1];
	bool in = ctl_flag(a, "inbound");

	if (in && npeers == 0)
		return ctl_fail(c, CTL_USAGE, "--inbound needs --peer FQDN (the name in the "
		    "partner's certificate)");
	if (in && ctl_opt(a, "from") == NULL)
		return ctl_fail(c, CTL_USAGE, "--inbound needs --from URI (the source)");
	if (!in && npeers > 0)
		return ctl_fail(c, CTL_USAGE, "--peer is for --inbound requests");
	for (size_t i = 0; i < npeers; i++)
		if (names_normalize(peers[i], buf, sizeof(buf), NULL) != 0)
			return ctl_fail(c, CTL_USAGE, "--peer \"%s\" is not an FQDN", peers[i]);
	return 0;
}

/* Whether two names of files are the same file (or, when either cannot be
 * resolved, the same name). */
static bool
same_file(const char *a, const char *b)
{
	char *ra = realpath(a, NULL), *rb = realpath(b, NULL);
	bool same = ra && rb ? strcmp(ra, rb) == 0 : strcmp(a, b) == 0;

	free(ra);
	free(rb);
	return same;
}

/* Our domains come from the configuration, the rest from the db: the
 * snapshot the daemon would build (main.c load_policy). */
static int
load_policy(struct dry *r)
{
	struct store_policy *sp;
	int rc;

	if ((rc = store_policy_load(r->c->st, &sp)) != 0)
		return ctl_store_fail(r->c, rc);
	rc = policy_build_local(sp, (const char *const *)r->cf->domains, r->cf->ndomains, &r->pol);
	store_policy_free(sp);
	if (rc != 0)
		return ctl_fail(r->c, CTL_DB, "%s: cannot build the policy: %s", r->c->db_path,
		    strerror(-rc));
	if (!same_file(r->cf->db_path, r->c->db_path)) {
		char note[3 * 1024 + 64];

		snprintf(note, sizeof(note), "note: the policy is read from %s; %s names %s for the daemon",
		    r->c->db_path, r->conf_path, r->cf->db_path);
		add_step(r, note);
	}
	return 0;
}

/* What the command line asks about, checked before anything is opened. */
struct route_req {
	const char *uri, *from;
	char host[CONF_MAX_NAME], source[CONF_MAX_NAME];
	const char **peers;
	size_t npeers;
	bool inbound;
};

/* The request the daemon would get: a MESSAGE to uri from from (inbound) or
 * from an internal user (outbound), as the peer would send it. */
static int
make_request(struct dry *r, const struct route_req *q)
{
	char text[4096];
	int n;

	n = snprintf(text, sizeof(text), "MESSAGE %s SIP/2.0\r\n"
	    "Via: SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bK-sipedgectl-route\r\n"
	    "Max-Forwards: 70\r\nFrom: <%s>;tag=dry-run\r\nTo: <%s>\r\n"
	    "Call-ID: sipedgectl-route\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n",
	    q->uri, q->from ? q->from : "sip:someone@invalid", q->uri);
	if (n < 0 || (size_t)n >= sizeof(text) ||
	    (r->msg = msg_make(sipmsg_mclass(), MSG_DO_EXTRACT_COPY, text, n)) == NULL ||
	    !sip_object(r->msg) || !sip_object(r->msg)->sip_request || !sip_object(r->msg)->sip_from)
		return ctl_fail(r->c, CTL_USAGE, "cannot make a SIP request of \"%s\"", q->uri);
	return 0;
}

static void
done_cb(struct route_op *op)
{
	struct dry *r = (struct dry *)((char *)op - offsetof(struct dry, op));

	r->done = true;
}

static int
run(struct dry *r, const struct route_req *q)
{
	char names[512], step[2 * 1024];
	size_t used = 0;
	int rc;

	if ((rc = load_policy(r)) != 0 || (rc = dns_open(r)) != 0 || (rc = make_request(r, q)) != 0)
		return rc;
	r->env = (struct route_env){ .cf = r->cf, .pol = r->pol, .dns = r->dns, .loop = &r->loop,
		.step = step_cb, .step_arg = r };
	r->op.env = &r->env;
	r->op.msg = r->msg;
	r->op.sip = sip_object(r->msg);
	r->op.side = q->inbound ? SIDE_EXTERNAL : SIDE_INTERNAL;
	r->op.peer_names = q->peers;
	r->op.npeer = q->npeers;
	r->op.done = done_cb;
	r->inbound = q->inbound;
	if (q->inbound) {
		names[0] = '\0';
		for (size_t i = 0; i < q->npeers && used < sizeof(names); i++)
			used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s",
			    i ? ", " : "", q->peers[i]);
		snprintf(step, sizeof(step), "inbound request to %s from %s, the TLS peer's "
		    "certificate naming %s", q->uri, q->from, names);
	} else
		snprintf(step, sizeof(step), "outbound request to %s%s%s, from an allowed internal "
		    "server: target domain %s", q->uri, q->from ? " from " : "", q->from ? q->from : "",
		    q->host);
	add_step(r, step);
	if (route_start(&r->op) == ROUTE_PENDING)
		while (!r->done)
			if (uv_run(&r->loop, UV_RUN_ONCE) == 0 && !r->done) {
				/* Nothing left that could call back: a broken
				 * promise of dns.c; a failed look-up. */
				route_cancel(&r->op);
				r->op.verdict = ROUTE_REFUSE;
				r->op.prob.status = 504;
				r->op.prob.diag = DIAG_FED_SRV_FAILED;
				break;
			}
	if (r->op.verdict == ROUTE_REFUSE)
		sipmsg_diag_text(r->op.prob.diag, r->op.prob.detail, r->reason, sizeof(r->reason));
	if (r->c->json)
		print_json(r);
	else
		print_text(r);
	return r->op.verdict == ROUTE_REFUSE ? CTL_FAIL : CTL_OK;
}

int
cmd_route(struct ctl *c, const struct ctl_args *a)
{
	struct dry *r = calloc(1, sizeof(*r));
	struct route_req q = { .uri = a->pos[0], .from = ctl_opt(a, "from"),
		.inbound = ctl_flag(a, "inbound") };
	struct conf *cf = NULL;
	char err[1024];
	int rc;

	if (r == NULL)
		return ctl_fail(c, CTL_FAIL, "out of memory");
	r->c = c;
	q.peers = ctl_opt_all(a, "peer", &q.npeers);
	r->conf_path = c->conf_path;
	if ((rc = check_opts(c, a, q.peers, q.npeers)) != 0 ||
	    (rc = parse_uri(c, "URI", q.uri, q.host, sizeof(q.host))) != 0 ||
	    (q.from && (rc = parse_uri(c, "--from", q.from, q.source, sizeof(q.source))) != 0))
		goto out;
	if (conf_load(r->conf_path, &cf, err, sizeof(err)) != 0) {
		rc = ctl_fail(c, CTL_DB, "%s", err);
		goto out;
	}
	r->cf = cf;
	rc = run(r, &q);
out:
	route_cancel(&r->op);
	dns_end(r);
	policy_unref(r->pol);
	if (r->msg)
		msg_destroy(r->msg);
	for (size_t i = 0; i < r->nsteps; i++)
		free(r->steps[i]);
	free(r->steps);
	conf_free(cf);
	free(q.peers);
	free(r);
	return rc;
}
