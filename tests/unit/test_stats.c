/* test_stats.c: unit tests for the counters (src/stats.c): per-worker counting
 * from their own threads summed by a reader, the per-domain table and its
 * bound, the reset baseline, and both renderings (JSON read back with the
 * project's parser, Prometheus text line by line). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sipedge/json.h"
#include "sipedge/stats.h"
#include "unit.h"

#define ROUNDS 200000

static void *
count_thread(void *arg)
{
	struct stats *s = arg;

	for (int i = 0; i < ROUNDS; i++) {
		STATS_INC(s, messages[SIDE_EXTERNAL][STATS_IN]);
		STATS_ADD(s, bytes[SIDE_EXTERNAL][STATS_IN], 3);
		if (i % 1000 == 0)
			stats_federated(s, FED_ALLOWED_DOMAIN, "fabrikam.test", STATS_IN, false);
	}
	return NULL;
}

/* Two workers count on their own threads while a reader sums: the reader
 * never sees a value go back, and the end total is exact. */
static int
test_stats_threads(void)
{
	struct stats a, b;
	struct stats *v[2] = { &a, &b };
	struct stats_total t;
	pthread_t ta, tb;
	uint64_t last = 0;

	CHECK_EQ_INT(stats_init(&a), 0);
	CHECK_EQ_INT(stats_init(&b), 0);
	CHECK_EQ_INT(pthread_create(&ta, NULL, count_thread, &a), 0);
	CHECK_EQ_INT(pthread_create(&tb, NULL, count_thread, &b), 0);
	for (int i = 0; i < 50; i++) {
		CHECK_EQ_INT(stats_sum(v, 2, &t), 0);
		CHECK(t.messages[SIDE_EXTERNAL][STATS_IN] >= last);
		last = t.messages[SIDE_EXTERNAL][STATS_IN];
		stats_total_free(&t);
	}
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	CHECK_EQ_INT(stats_sum(v, 2, &t), 0);
	CHECK_EQ_INT(t.messages[SIDE_EXTERNAL][STATS_IN], 2 * ROUNDS);
	CHECK_EQ_INT(t.bytes[SIDE_EXTERNAL][STATS_IN], 6 * ROUNDS);
	CHECK_EQ_INT(t.fed_requests[FED_ALLOWED_DOMAIN][STATS_IN], 2 * ROUNDS / 1000);
	/* One domain, folded over the two workers. */
	CHECK_EQ_INT(t.ndomains, 1);
	CHECK_EQ_STR(t.domains[0].name, "fabrikam.test");
	CHECK_EQ_INT(t.domains[0].requests[STATS_IN], 2 * ROUNDS / 1000);
	stats_total_free(&t);
	stats_fini(&a);
	stats_fini(&b);
	return 0;
}

/* Made-up domains beyond the bound add up under "(other)". */
static int
test_stats_domain_bound(void)
{
	struct stats s;
	struct stats *v[1] = { &s };
	struct stats_total t;
	char name[64];
	uint64_t sum = 0;

	CHECK_EQ_INT(stats_init(&s), 0);
	for (int i = 0; i < STATS_DOMAINS_MAX + 100; i++) {
		snprintf(name, sizeof(name), "d%05d.test", i);
		stats_federated(&s, FED_DISCOVERED, name, STATS_IN, i % 2 == 1);
	}
	stats_throttled(&s, "d00000.test");
	CHECK_EQ_INT(stats_sum(v, 1, &t), 0);
	CHECK_EQ_INT(t.ndomains, STATS_DOMAINS_MAX + 1);
	CHECK_EQ_STR(t.domains[0].name, STATS_OTHER_DOMAIN);  /* '(' sorts first */
	CHECK_EQ_INT(t.domains[0].requests[STATS_IN] + t.domains[0].refused[STATS_IN], 100);
	for (size_t i = 0; i < t.ndomains; i++)
		sum += t.domains[i].requests[STATS_IN] + t.domains[i].refused[STATS_IN];
	CHECK_EQ_INT(sum, STATS_DOMAINS_MAX + 100);
	CHECK_EQ_INT(t.fed_requests[FED_DISCOVERED][STATS_IN], (STATS_DOMAINS_MAX + 100) / 2);
	CHECK_EQ_INT(t.throttled, 1);
	CHECK_EQ_INT(t.domains[1].throttled, 1);
	stats_total_free(&t);
	stats_fini(&s);
	return 0;
}

/* stats --reset: what came after the baseline; gauges stay whole. */
static int
test_stats_baseline(void)
{
	struct stats s;
	struct stats *v[1] = { &s };
	struct stats_total base, t;

	CHECK_EQ_INT(stats_init(&s), 0);
	stats_refusal(&s, DIAG_RELAY_DENIED);
	stats_refusal(&s, DIAG_RELAY_DENIED);
	stats_federated(&s, FED_PROVIDER, "msn.test", STATS_OUT, false);
	STATS_INC(&s, transactions);
	STATS_INC(&s, transactions);
	CHECK_EQ_INT(stats_sum(v, 1, &t), 0);
	CHECK_EQ_INT(stats_total_copy(&t, &base), 0);
	stats_total_free(&t);
	stats_refusal(&s, DIAG_RELAY_DENIED);
	stats_refusal(&s, (enum diag_code)4242);         /* unknown: not counted */
	stats_federated(&s, FED_PROVIDER, "msn.test", STATS_OUT, false);
	stats_federated(&s, FED_PROVIDER, "aol.test", STATS_OUT, false);
	stats_gauge_dec(&s.transactions);
	CHECK_EQ_INT(stats_sum(v, 1, &t), 0);
	stats_total_sub(&t, &base);
	CHECK_EQ_INT(t.refusals[diag_index(DIAG_RELAY_DENIED)], 1);
	CHECK_EQ_INT(t.fed_requests[FED_PROVIDER][STATS_OUT], 2);
	CHECK_EQ_INT(t.ndomains, 2);
	CHECK_EQ_STR(t.domains[0].name, "aol.test");
	CHECK_EQ_INT(t.domains[0].requests[STATS_OUT], 1);
	CHECK_EQ_STR(t.domains[1].name, "msn.test");
	CHECK_EQ_INT(t.domains[1].requests[STATS_OUT], 1);
	CHECK_EQ_INT(t.transactions, 1);
	stats_total_free(&t);
	stats_total_free(&base);
	stats_fini(&s);
	return 0;
}

static char *
render(const struct stats_total *t, bool prom, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	struct json_out o;

	if (f == NULL)
		return NULL;
	if (prom) {
		stats_total_prometheus(t, f);
	} else {
		json_out_init(&o, f);
		stats_total_json(t, &o);
		json_out_end(&o);
	}
	fclose(f);
	return buf;
}

static int
test_stats_render(void)
{
	struct stats s;
	struct stats *v[1] = { &s };
	struct stats_total t;
	struct json *j;
	const struct json *x;
	char err[128], *text;
	size_t len;
	int64_t n;

	CHECK_EQ_INT(stats_init(&s), 0);
	STATS_INC(&s, messages[SIDE_INTERNAL][STATS_OUT]);
	STATS_INC(&s, tls_failures[SIDE_EXTERNAL][STATS_TLS_WRONG_NAME]);
	stats_refusal(&s, DIAG_FED_BLOCKED);
	stats_federated(&s, FED_ALLOWED_SERVER, "we\"ird.test", STATS_IN, false);
	CHECK_EQ_INT(stats_sum(v, 1, &t), 0);

	CHECK((text = render(&t, false, &len)) != NULL);
	CHECK_EQ_INT(json_parse(text, len, &j, err, sizeof(err)), 0);
	x = json_get(json_get(j, "internal"), "messages");
	CHECK(x != NULL && json_to_int(json_get(x, "out"), &n) == 0 && n == 1);
	x = json_get(json_get(json_get(j, "external"), "tls_failures"), "wrong_name");
	CHECK(x != NULL && json_to_int(x, &n) == 0 && n == 1);
	x = json_get(json_get(j, "refusals"), "2002");
	CHECK(x != NULL && json_to_int(x, &n) == 0 && n == 1);
	CHECK(json_get(json_get(j, "refusals"), "1102") == NULL);   /* zeros left out */
	x = json_get(j, "partners");
	CHECK(x != NULL && x->type == JSON_ARRAY && x->n == 1);
	CHECK_EQ_STR(json_get(x->items[0], "domain")->str, "we\"ird.test");
	json_free(j);
	free(text);

	CHECK((text = render(&t, true, &len)) != NULL);
	CHECK(strstr(text, "# TYPE sipedge_messages_total counter\n") != NULL);
	CHECK(strstr(text, "\nsipedge_messages_total{side=\"internal\",direction=\"out\"} 1\n") != NULL);
	CHECK(strstr(text, "\nsipedge_tls_handshake_failures_total{side=\"external\","
	    "cause=\"wrong_name\"} 1\n") != NULL);
	CHECK(strstr(text, "\nsipedge_refusals_total{code=\"2002\",status=\"403\"} 1\n") != NULL);
	CHECK(strstr(text, "\nsipedge_federated_requests_total{type=\"AllowedPartnerServer\","
	    "direction=\"in\"} 1\n") != NULL);
	/* A label value is escaped. */
	CHECK(strstr(text, "{domain=\"we\\\"ird.test\",direction=\"in\",result=\"accepted\"} 1\n")
	    != NULL);
	/* Every line is a comment or "name{labels} value". */
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
		CHECK(line[0] == '#' || strncmp(line, "sipedge_", 8) == 0);
	free(text);
	stats_total_free(&t);
	stats_fini(&s);
	return 0;
}

/* The XMPP gateway's counters (proxy_stats fills t.xmpp): both renderings,
 * and a reset's baseline, which leaves the open streams (a gauge) alone. */
static int
test_stats_xmpp(void)
{
	struct stats_total t, base;
	struct json *j;
	const struct json *x;
	char err[128], *text;
	size_t len;
	int64_t n;

	memset(&t, 0, sizeof(t));
	t.xmpp.streams_in = 3;
	t.xmpp.streams_out = 2;
	t.xmpp.streams_in_ok = 2;
	t.xmpp.streams_out_ok = 1;
	t.xmpp.streams_refused = 1;
	t.xmpp.streams_out_failed = 1;
	t.xmpp.stanzas_in = 7;
	t.xmpp.stanzas_out = 5;
	t.xmpp.bytes_in = 1000;
	t.xmpp.open_streams = 4;
	CHECK((text = render(&t, false, &len)) != NULL);
	CHECK_EQ_INT(json_parse(text, len, &j, err, sizeof(err)), 0);
	x = json_get(j, "xmpp");
	CHECK(x != NULL && x->type == JSON_OBJECT);
	CHECK(json_to_int(json_get(json_get(x, "streams"), "in"), &n) == 0 && n == 3);
	CHECK(json_to_int(json_get(json_get(x, "authenticated"), "out"), &n) == 0 && n == 1);
	CHECK(json_to_int(json_get(json_get(x, "stanzas"), "in"), &n) == 0 && n == 7);
	CHECK(json_to_int(json_get(x, "outbound_failed"), &n) == 0 && n == 1);
	CHECK(json_to_int(json_get(x, "streams_open"), &n) == 0 && n == 4);
	json_free(j);
	free(text);

	CHECK((text = render(&t, true, &len)) != NULL);
	CHECK(strstr(text, "# TYPE sipedge_xmpp_streams_total counter\n"
	    "sipedge_xmpp_streams_total{direction=\"in\"} 3\n"
	    "sipedge_xmpp_streams_total{direction=\"out\"} 2\n") != NULL);
	CHECK(strstr(text, "\nsipedge_xmpp_streams_authenticated_total{direction=\"in\"} 2\n") != NULL);
	CHECK(strstr(text, "\nsipedge_xmpp_streams_refused_total 1\n") != NULL);
	CHECK(strstr(text, "\nsipedge_xmpp_streams_failed_total 1\n") != NULL);
	CHECK(strstr(text, "\nsipedge_xmpp_stanzas_total{direction=\"out\"} 5\n") != NULL);
	CHECK(strstr(text, "\nsipedge_xmpp_bytes_total{direction=\"in\"} 1000\n") != NULL);
	CHECK(strstr(text, "# TYPE sipedge_xmpp_streams_open gauge\nsipedge_xmpp_streams_open 4\n")
	    != NULL);
	free(text);

	CHECK_EQ_INT(stats_total_copy(&t, &base), 0);
	t.xmpp.stanzas_in += 2;
	t.xmpp.open_streams = 1;
	stats_total_sub(&t, &base);
	CHECK_EQ_INT(t.xmpp.stanzas_in, 2);
	CHECK_EQ_INT(t.xmpp.streams_in, 0);
	CHECK_EQ_INT(t.xmpp.bytes_in, 0);
	CHECK_EQ_INT(t.xmpp.open_streams, 1);
	stats_total_free(&base);
	return 0;
}

static const struct unit_test tests[] = {
	UNIT(test_stats_threads),
	UNIT(test_stats_domain_bound),
	UNIT(test_stats_baseline),
	UNIT(test_stats_render),
	UNIT(test_stats_xmpp),
	{ NULL, NULL },
};

int
main(int argc, char **argv)
{
	return unit_main(argc, argv, tests);
}
