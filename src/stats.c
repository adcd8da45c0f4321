/* stats.c: the edge's counters (stats.h): counting on the workers' threads,
 * summing for a reader, and the two renderings, JSON for sipedgectl and the
 * Prometheus text exposition format (version 0.0.4) for a scraper. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sipedge/stats.h"

#define LOAD(c) atomic_load_explicit(&(c), memory_order_relaxed)

int
stats_init(struct stats *s)
{
	int rc;

	memset(s, 0, sizeof(*s));
	if ((rc = pthread_mutex_init(&s->lock, NULL)) != 0)
		return -rc;
	hmap_init(&s->domains);
	snprintf(s->other.name, sizeof(s->other.name), "%s", STATS_OTHER_DOMAIN);
	return 0;
}

static void
domain_free(struct hnode *n, void *arg)
{
	struct hmap *m = arg;

	hmap_del(m, n);
	free(hmap_entry(n, struct stats_domain, node));
}

void
stats_fini(struct stats *s)
{
	hmap_each(&s->domains, domain_free, &s->domains);
	hmap_free(&s->domains);
	pthread_mutex_destroy(&s->lock);
}

void
stats_refusal(struct stats *s, enum diag_code d)
{
	int i = diag_index(d);

	if (s && i >= 0 && i < STATS_DIAG_MAX)
		stats_add(&s->refusals[i], 1);
}

/* The domain's entry, made if there is room (else the "(other)" one); called
 * with the lock held. */
static struct stats_domain *
domain_get(struct stats *s, const char *domain)
{
	struct stats_domain *d;
	struct hnode *n;

	if (domain == NULL || domain[0] == '\0' || strlen(domain) >= sizeof(d->name))
		return &s->other;
	if ((n = hmap_get(&s->domains, domain)) != NULL)
		return hmap_entry(n, struct stats_domain, node);
	if (s->ndomains >= STATS_DOMAINS_MAX || (d = calloc(1, sizeof(*d))) == NULL)
		return &s->other;
	memcpy(d->name, domain, strlen(domain) + 1);
	if (hmap_put(&s->domains, &d->node, d->name) < 0) {
		free(d);
		return &s->other;
	}
	s->ndomains++;
	return d;
}

void
stats_federated(struct stats *s, enum fed_type t, const char *domain, enum stats_dir dir,
    bool refused)
{
	struct stats_domain *d;

	if (s == NULL)
		return;
	if (!refused && (unsigned)t < STATS_FED_TYPES)
		stats_add(&s->fed_requests[t][dir], 1);
	pthread_mutex_lock(&s->lock);
	d = domain_get(s, domain);
	if (refused)
		d->refused[dir]++;
	else
		d->requests[dir]++;
	pthread_mutex_unlock(&s->lock);
}

void
stats_throttled(struct stats *s, const char *domain)
{
	if (s == NULL)
		return;
	stats_add(&s->throttled, 1);
	pthread_mutex_lock(&s->lock);
	domain_get(s, domain)->throttled++;
	pthread_mutex_unlock(&s->lock);
}

/* ---- reading ------------------------------------------------------------ */

/* Domains being summed: a growable array, merged by name at the end. */
struct dom_acc {
	struct stats_domain_total *v;
	size_t n, cap;
	int err;
};

static void
dom_acc_add(struct dom_acc *a, const struct stats_domain *d)
{
	struct stats_domain_total *x;

	if (d->requests[0] + d->requests[1] + d->refused[0] + d->refused[1] + d->throttled == 0)
		return;
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 16;

		if ((x = realloc(a->v, cap * sizeof(*x))) == NULL) {
			a->err = -ENOMEM;
			return;
		}
		a->v = x;
		a->cap = cap;
	}
	x = &a->v[a->n++];
	memcpy(x->name, d->name, sizeof(x->name));
	memcpy(x->requests, d->requests, sizeof(x->requests));
	memcpy(x->refused, d->refused, sizeof(x->refused));
	x->throttled = d->throttled;
}

static void
dom_each(struct hnode *n, void *arg)
{
	dom_acc_add(arg, hmap_entry(n, struct stats_domain, node));
}

static int
dom_cmp(const void *a, const void *b)
{
	return strcmp(((const struct stats_domain_total *)a)->name,
	    ((const struct stats_domain_total *)b)->name);
}

/* Sort by name and fold the entries of the same domain (one per worker). */
static void
dom_fold(struct dom_acc *a)
{
	size_t k = 0;

	if (a->n == 0)
		return;
	qsort(a->v, a->n, sizeof(a->v[0]), dom_cmp);
	for (size_t i = 1; i < a->n; i++) {
		struct stats_domain_total *x = &a->v[k], *y = &a->v[i];

		if (strcmp(x->name, y->name) != 0) {
			a->v[++k] = *y;
			continue;
		}
		for (int d = 0; d < 2; d++) {
			x->requests[d] += y->requests[d];
			x->refused[d] += y->refused[d];
		}
		x->throttled += y->throttled;
	}
	a->n = k + 1;
}

int
stats_sum(struct stats *const *v, size_t n, struct stats_total *out)
{
	struct dom_acc acc = { 0 };

	memset(out, 0, sizeof(*out));
	for (size_t w = 0; w < n; w++) {
		struct stats *s = v[w];

		for (int a = 0; a < 2; a++) {
			for (int b = 0; b < 2; b++) {
				out->messages[a][b] += LOAD(s->messages[a][b]);
				out->bytes[a][b] += LOAD(s->bytes[a][b]);
			}
			out->accepted[a] += LOAD(s->accepted[a]);
			out->dialled[a] += LOAD(s->dialled[a]);
			out->connections[a] += LOAD(s->connections[a]);
			for (int c = 0; c < STATS_TLS_NCAUSES; c++)
				out->tls_failures[a][c] += LOAD(s->tls_failures[a][c]);
		}
		for (int t = 0; t < STATS_FED_TYPES; t++)
			for (int d = 0; d < 2; d++)
				out->fed_requests[t][d] += LOAD(s->fed_requests[t][d]);
		for (int i = 0; i < STATS_DIAG_MAX; i++)
			out->refusals[i] += LOAD(s->refusals[i]);
		out->dns_queries += LOAD(s->dns_queries);
		out->dns_failures += LOAD(s->dns_failures);
		out->failovers += LOAD(s->failovers);
		out->timeouts += LOAD(s->timeouts);
		out->overload += LOAD(s->overload);
		out->throttled += LOAD(s->throttled);
		out->transactions += LOAD(s->transactions);
		out->dns_cache += LOAD(s->dns_cache);

		pthread_mutex_lock(&s->lock);
		hmap_each(&s->domains, dom_each, &acc);
		dom_acc_add(&acc, &s->other);
		pthread_mutex_unlock(&s->lock);
	}
	if (acc.err < 0) {
		free(acc.v);
		return acc.err;
	}
	dom_fold(&acc);
	out->domains = acc.v;
	out->ndomains = acc.n;
	return 0;
}

void
stats_total_free(struct stats_total *t)
{
	free(t->domains);
	t->domains = NULL;
	t->ndomains = 0;
}

int
stats_total_copy(const struct stats_total *from, struct stats_total *to)
{
	*to = *from;
	to->domains = NULL;
	if (from->ndomains == 0)
		return 0;
	if ((to->domains = malloc(from->ndomains * sizeof(*to->domains))) == NULL) {
		to->ndomains = 0;
		return -ENOMEM;
	}
	memcpy(to->domains, from->domains, from->ndomains * sizeof(*to->domains));
	return 0;
}

/* a - b, never below 0 (a worker's counters are never reset, so only a
 * domain evicted from nowhere could make it so; be safe anyway). */
static uint64_t
sub(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

void
stats_total_sub(struct stats_total *t, const struct stats_total *b)
{
	for (int x = 0; x < 2; x++) {
		for (int y = 0; y < 2; y++) {
			t->messages[x][y] = sub(t->messages[x][y], b->messages[x][y]);
			t->bytes[x][y] = sub(t->bytes[x][y], b->bytes[x][y]);
		}
		t->accepted[x] = sub(t->accepted[x], b->accepted[x]);
		t->dialled[x] = sub(t->dialled[x], b->dialled[x]);
		for (int c = 0; c < STATS_TLS_NCAUSES; c++)
			t->tls_failures[x][c] = sub(t->tls_failures[x][c], b->tls_failures[x][c]);
	}
	for (int f = 0; f < STATS_FED_TYPES; f++)
		for (int d = 0; d < 2; d++)
			t->fed_requests[f][d] = sub(t->fed_requests[f][d], b->fed_requests[f][d]);
	for (int i = 0; i < STATS_DIAG_MAX; i++)
		t->refusals[i] = sub(t->refusals[i], b->refusals[i]);
	t->dns_queries = sub(t->dns_queries, b->dns_queries);
	t->dns_failures = sub(t->dns_failures, b->dns_failures);
	t->failovers = sub(t->failovers, b->failovers);
	t->timeouts = sub(t->timeouts, b->timeouts);
	t->overload = sub(t->overload, b->overload);
	t->throttled = sub(t->throttled, b->throttled);
	{
		struct xmpp_counters *x = &t->xmpp;
		const struct xmpp_counters *y = &b->xmpp;

		x->streams_in = sub(x->streams_in, y->streams_in);
		x->streams_out = sub(x->streams_out, y->streams_out);
		x->streams_in_ok = sub(x->streams_in_ok, y->streams_in_ok);
		x->streams_out_ok = sub(x->streams_out_ok, y->streams_out_ok);
		x->streams_refused = sub(x->streams_refused, y->streams_refused);
		x->streams_out_failed = sub(x->streams_out_failed, y->streams_out_failed);
		x->tls_failures = sub(x->tls_failures, y->tls_failures);
		x->bad_xml = sub(x->bad_xml, y->bad_xml);
		x->stream_errors_sent = sub(x->stream_errors_sent, y->stream_errors_sent);
		x->stanzas_in = sub(x->stanzas_in, y->stanzas_in);
		x->stanzas_out = sub(x->stanzas_out, y->stanzas_out);
		x->stanzas_failed = sub(x->stanzas_failed, y->stanzas_failed);
		x->stanzas_out_direct = sub(x->stanzas_out_direct, y->stanzas_out_direct);
		x->presence_limited = sub(x->presence_limited, y->presence_limited);
		x->bytes_in = sub(x->bytes_in, y->bytes_in);
		x->bytes_out = sub(x->bytes_out, y->bytes_out);
		/* open_streams is a gauge. */
	}
	/* Both arrays are sorted by name: walk them together. */
	for (size_t i = 0, k = 0; i < t->ndomains; i++) {
		struct stats_domain_total *d = &t->domains[i];
		int c = 1;

		while (k < b->ndomains && (c = strcmp(b->domains[k].name, d->name)) < 0)
			k++;
		if (k >= b->ndomains || c != 0)
			continue;
		for (int x = 0; x < 2; x++) {
			d->requests[x] = sub(d->requests[x], b->domains[k].requests[x]);
			d->refused[x] = sub(d->refused[x], b->domains[k].refused[x]);
		}
		d->throttled = sub(d->throttled, b->domains[k].throttled);
	}
}

/* ---- names -------------------------------------------------------------- */

const char *
stats_side_name(int side)
{
	return side == SIDE_EXTERNAL ? "external" : "internal";
}

const char *
stats_dir_name(enum stats_dir d)
{
	return d == STATS_IN ? "in" : "out";
}

const char *
stats_tls_cause_name(enum stats_tls_cause c)
{
	switch (c) {
	case STATS_TLS_NO_CERT:
		return "no_certificate";
	case STATS_TLS_UNTRUSTED:
		return "untrusted";
	case STATS_TLS_WRONG_NAME:
		return "wrong_name";
	case STATS_TLS_TIMEOUT:
		return "timeout";
	case STATS_TLS_PROTOCOL:
	case STATS_TLS_NCAUSES:
		break;
	}
	return "protocol";
}

/* ---- JSON --------------------------------------------------------------- */

static void
json_dirs(struct json_out *o, const char *k, const uint64_t v[2])
{
	json_out_key(o, k);
	json_out_begin_object(o);
	json_out_key_uint(o, "in", v[0]);
	json_out_key_uint(o, "out", v[1]);
	json_out_end_object(o);
}

void
stats_xmpp_json(const struct xmpp_counters *x, struct json_out *o)
{
	json_out_begin_object(o);
	json_dirs(o, "streams", (const uint64_t[2]){ x->streams_in, x->streams_out });
	json_dirs(o, "authenticated", (const uint64_t[2]){ x->streams_in_ok, x->streams_out_ok });
	json_out_key_uint(o, "refused", x->streams_refused);
	json_out_key_uint(o, "outbound_failed", x->streams_out_failed);
	json_out_key_uint(o, "tls_failures", x->tls_failures);
	json_out_key_uint(o, "bad_xml", x->bad_xml);
	json_out_key_uint(o, "stream_errors_sent", x->stream_errors_sent);
	json_dirs(o, "stanzas", (const uint64_t[2]){ x->stanzas_in, x->stanzas_out });
	json_out_key_uint(o, "stanzas_failed", x->stanzas_failed);
	json_out_key_uint(o, "stanzas_out_direct", x->stanzas_out_direct);
	json_out_key_uint(o, "presence_limited", x->presence_limited);
	json_dirs(o, "bytes", (const uint64_t[2]){ x->bytes_in, x->bytes_out });
	json_out_key_uint(o, "streams_open", x->open_streams);
	json_out_end_object(o);
}

void
stats_total_json(const struct stats_total *t, struct json_out *o)
{
	char code[16];

	json_out_begin_object(o);
	for (int s = 0; s < 2; s++) {
		json_out_key(o, stats_side_name(s));
		json_out_begin_object(o);
		json_dirs(o, "messages", t->messages[s]);
		json_dirs(o, "bytes", t->bytes[s]);
		json_out_key_uint(o, "connections_accepted", t->accepted[s]);
		json_out_key_uint(o, "connections_dialled", t->dialled[s]);
		json_out_key_uint(o, "connections_open", t->connections[s]);
		json_out_key(o, "tls_failures");
		json_out_begin_object(o);
		for (int c = 0; c < STATS_TLS_NCAUSES; c++)
			json_out_key_uint(o, stats_tls_cause_name(c), t->tls_failures[s][c]);
		json_out_end_object(o);
		json_out_end_object(o);
	}
	json_out_key(o, "federation");
	json_out_begin_object(o);
	for (int f = 1; f < STATS_FED_TYPES; f++)
		json_dirs(o, fedroute_type_name(f), t->fed_requests[f]);
	json_out_end_object(o);
	json_out_key(o, "refusals");
	json_out_begin_object(o);
	for (unsigned i = 0; i < STATS_DIAG_MAX; i++) {
		const struct diag_info *di = diag_at(i);

		if (di == NULL)
			break;
		if (t->refusals[i] == 0)
			continue;
		snprintf(code, sizeof(code), "%u", (unsigned)di->code);
		json_out_key_uint(o, code, t->refusals[i]);
	}
	json_out_end_object(o);
	json_out_key(o, "partners");
	json_out_begin_array(o);
	for (size_t i = 0; i < t->ndomains; i++) {
		const struct stats_domain_total *d = &t->domains[i];

		json_out_begin_object(o);
		json_out_key(o, "domain");
		json_out_string(o, d->name);
		json_dirs(o, "requests", d->requests);
		json_dirs(o, "refused", d->refused);
		json_out_key_uint(o, "throttled", d->throttled);
		json_out_end_object(o);
	}
	json_out_end_array(o);
	json_out_key_uint(o, "dns_queries", t->dns_queries);
	json_out_key_uint(o, "dns_failures", t->dns_failures);
	json_out_key_uint(o, "failovers", t->failovers);
	json_out_key_uint(o, "transaction_timeouts", t->timeouts);
	json_out_key_uint(o, "overload_refusals", t->overload);
	json_out_key_uint(o, "discovered_throttled", t->throttled);
	json_out_key_uint(o, "transactions_open", t->transactions);
	json_out_key_uint(o, "dns_cache_entries", t->dns_cache);
	json_out_key(o, "xmpp");
	stats_xmpp_json(&t->xmpp, o);
	json_out_end_object(o);
}

/* ---- Prometheus ----------------------------------------------------------- */

/* A label value: backslash, double quote and newline escaped.  Domains are
 * host names, but "(other)" and whatever a future label holds stay valid. */
static void
prom_label(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(f, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

static void
prom_head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP sipedge_%s %s\n# TYPE sipedge_%s %s\n", name, help, name, type);
}

/* name{direction="in"} and {direction="out"}. */
static void
prom_dirs(FILE *f, const char *name, uint64_t in, uint64_t out)
{
	fprintf(f, "sipedge_%s{direction=\"in\"} %llu\nsipedge_%s{direction=\"out\"} %llu\n", name,
	    (unsigned long long)in, name, (unsigned long long)out);
}

static void
prom_one(FILE *f, const char *name, const char *type, const char *help, uint64_t v)
{
	prom_head(f, name, type, help);
	fprintf(f, "sipedge_%s %llu\n", name, (unsigned long long)v);
}

/* The XMPP gateway's counters (RFC 6120 server-to-server streams). */
static void
prom_xmpp(const struct xmpp_counters *x, FILE *f)
{
	prom_head(f, "xmpp_streams_total", "counter", "XMPP server-to-server streams started; "
	    "in: accepted on an XMPP listener, out: opened by the edge.");
	prom_dirs(f, "xmpp_streams_total", x->streams_in, x->streams_out);
	prom_head(f, "xmpp_streams_authenticated_total", "counter",
	    "XMPP streams authenticated (SASL EXTERNAL or dialback), per direction.");
	prom_dirs(f, "xmpp_streams_authenticated_total", x->streams_in_ok, x->streams_out_ok);
	prom_one(f, "xmpp_streams_refused_total", "counter",
	    "XMPP streams refused by the partner policy or the connection limits.",
	    x->streams_refused);
	prom_one(f, "xmpp_streams_failed_total", "counter",
	    "Outbound XMPP streams that reached no server of the partner.", x->streams_out_failed);
	prom_one(f, "xmpp_tls_failures_total", "counter", "XMPP TLS handshakes that failed.",
	    x->tls_failures);
	prom_one(f, "xmpp_bad_xml_total", "counter",
	    "XMPP streams that sent XML not well-formed or not allowed.", x->bad_xml);
	prom_one(f, "xmpp_stream_errors_total", "counter",
	    "XMPP stream errors the edge sent.", x->stream_errors_sent);
	prom_head(f, "xmpp_stanzas_total", "counter",
	    "Stanzas received from (in) or sent to (out) XMPP partners.");
	prom_dirs(f, "xmpp_stanzas_total", x->stanzas_in, x->stanzas_out);
	prom_one(f, "xmpp_stanzas_failed_total", "counter",
	    "Stanzas for XMPP partners that could not be sent.", x->stanzas_failed);
	prom_one(f, "xmpp_stanzas_direct_total", "counter",
	    "Of the stanzas sent, those the SIP request's own worker wrote to the stream.",
	    x->stanzas_out_direct);
	prom_one(f, "xmpp_presence_limited_total", "counter",
	    "Presence stanzas refused over a partner's xmpp-presence-rate.", x->presence_limited);
	prom_head(f, "xmpp_bytes_total", "counter", "Octets on the wire of XMPP streams.");
	prom_dirs(f, "xmpp_bytes_total", x->bytes_in, x->bytes_out);
	prom_one(f, "xmpp_streams_open", "gauge", "XMPP streams open now, either direction.",
	    x->open_streams);
}

void
stats_total_prometheus(const struct stats_total *t, FILE *f)
{
	prom_head(f, "messages_total", "counter",
	    "SIP messages (requests and responses) received (in) or sent (out), per side.");
	for (int s = 0; s < 2; s++)
		for (int d = 0; d < 2; d++)
			fprintf(f, "sipedge_messages_total{side=\"%s\",direction=\"%s\"} %llu\n",
			    stats_side_name(s), stats_dir_name(d), (unsigned long long)t->messages[s][d]);
	prom_head(f, "bytes_total", "counter", "Octets on the wire, per side and direction.");
	for (int s = 0; s < 2; s++)
		for (int d = 0; d < 2; d++)
			fprintf(f, "sipedge_bytes_total{side=\"%s\",direction=\"%s\"} %llu\n",
			    stats_side_name(s), stats_dir_name(d), (unsigned long long)t->bytes[s][d]);
	prom_head(f, "connections_accepted_total", "counter", "Connections accepted, per side.");
	for (int s = 0; s < 2; s++)
		fprintf(f, "sipedge_connections_accepted_total{side=\"%s\"} %llu\n",
		    stats_side_name(s), (unsigned long long)t->accepted[s]);
	prom_head(f, "connections_dialled_total", "counter",
	    "Connections the edge opened, per side.");
	for (int s = 0; s < 2; s++)
		fprintf(f, "sipedge_connections_dialled_total{side=\"%s\"} %llu\n",
		    stats_side_name(s), (unsigned long long)t->dialled[s]);
	prom_head(f, "tls_handshake_failures_total", "counter",
	    "TLS handshakes that failed, per side and cause.");
	for (int s = 0; s < 2; s++)
		for (int c = 0; c < STATS_TLS_NCAUSES; c++)
			fprintf(f, "sipedge_tls_handshake_failures_total{side=\"%s\",cause=\"%s\"} %llu\n",
			    stats_side_name(s), stats_tls_cause_name(c),
			    (unsigned long long)t->tls_failures[s][c]);
	prom_head(f, "federated_requests_total", "counter",
	    "New requests accepted between the pool and a partner, per federation type; "
	    "in: from the partner.");
	for (int ty = 1; ty < STATS_FED_TYPES; ty++)
		for (int d = 0; d < 2; d++)
			fprintf(f, "sipedge_federated_requests_total{type=\"%s\",direction=\"%s\"} %llu\n",
			    fedroute_type_name(ty), stats_dir_name(d),
			    (unsigned long long)t->fed_requests[ty][d]);
	prom_head(f, "partner_requests_total", "counter",
	    "New requests per partner domain, accepted or refused by policy.");
	for (size_t i = 0; i < t->ndomains; i++)
		for (int d = 0; d < 2; d++)
			for (int r = 0; r < 2; r++) {
				fputs("sipedge_partner_requests_total{domain=\"", f);
				prom_label(f, t->domains[i].name);
				fprintf(f, "\",direction=\"%s\",result=\"%s\"} %llu\n", stats_dir_name(d),
				    r ? "refused" : "accepted", (unsigned long long)(r ?
				    t->domains[i].refused[d] : t->domains[i].requests[d]));
			}
	prom_head(f, "partner_throttled_total", "counter",
	    "Requests of a discovered partner refused by its limits, per domain.");
	for (size_t i = 0; i < t->ndomains; i++) {
		if (t->domains[i].throttled == 0)
			continue;
		fputs("sipedge_partner_throttled_total{domain=\"", f);
		prom_label(f, t->domains[i].name);
		fprintf(f, "\"} %llu\n", (unsigned long long)t->domains[i].throttled);
	}
	prom_head(f, "refusals_total", "counter",
	    "Requests the edge refused itself, per diagnostic code (sipedge-diagnostics(7)).");
	for (unsigned i = 0; i < STATS_DIAG_MAX; i++) {
		const struct diag_info *di = diag_at(i);

		if (di == NULL)
			break;
		fprintf(f, "sipedge_refusals_total{code=\"%u\",status=\"%d\"} %llu\n",
		    (unsigned)di->code, di->status, (unsigned long long)t->refusals[i]);
	}
	prom_head(f, "dns_queries_total", "counter", "DNS look-ups sent (SRV, A, AAAA).");
	fprintf(f, "sipedge_dns_queries_total %llu\n", (unsigned long long)t->dns_queries);
	prom_head(f, "dns_failures_total", "counter",
	    "DNS look-ups that failed (time-out, server failure, no such name).");
	fprintf(f, "sipedge_dns_failures_total %llu\n", (unsigned long long)t->dns_failures);
	prom_head(f, "failovers_total", "counter",
	    "Next targets tried because the one before failed or stayed silent.");
	fprintf(f, "sipedge_failovers_total %llu\n", (unsigned long long)t->failovers);
	prom_head(f, "transaction_timeouts_total", "counter",
	    "Transactions the edge answered 408 itself (Timer B, C or F).");
	fprintf(f, "sipedge_transaction_timeouts_total %llu\n", (unsigned long long)t->timeouts);
	prom_head(f, "overload_refusals_total", "counter",
	    "New requests refused 503 1204 because the edge was over its limits.");
	fprintf(f, "sipedge_overload_refusals_total %llu\n", (unsigned long long)t->overload);
	prom_head(f, "discovered_throttled_total", "counter",
	    "Requests of discovered partners refused by their rate or contact limits.");
	fprintf(f, "sipedge_discovered_throttled_total %llu\n", (unsigned long long)t->throttled);
	prom_head(f, "connections", "gauge", "Established connections, per side.");
	for (int s = 0; s < 2; s++)
		fprintf(f, "sipedge_connections{side=\"%s\"} %llu\n", stats_side_name(s),
		    (unsigned long long)t->connections[s]);
	prom_head(f, "dns_cache_entries", "gauge", "DNS answers held in the cache.");
	fprintf(f, "sipedge_dns_cache_entries %llu\n", (unsigned long long)t->dns_cache);
	prom_head(f, "transactions", "gauge", "Transactions in progress.");
	fprintf(f, "sipedge_transactions %llu\n", (unsigned long long)t->transactions);
	prom_xmpp(&t->xmpp, f);
}
