/* proxy_partners.c: the discovered partners as the throttle sees them, read on
 * the main thread (proxy.h): the control socket's live view, and the
 * reference system's two events as key=value lines in the log: 14601, the
 * periodic report of discovered partners, and 14603, a partner refused for
 * the first time in its period.  The workers only set flags and counters in
 * the throttle; every line is written here, at most once a second. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy_int.h"
#include "sipedge/log.h"

size_t
proxy_partners(struct proxy *px, uint64_t now_ms, throttle_list_cb cb, void *arg)
{
	if (px->pol == NULL)
		return 0;
	return throttle_list(px->throttle, px->pol, now_ms, cb, arg);
}

/* Lines are formatted under the throttle's lock and logged after it. */
struct lines {
	char **v;
	size_t n, cap;
	bool report;                       /* 14601, else 14603 */
};

#define LINE_MAX_LEN (160 + NAMES_MAX * (THROTTLE_PEERS_MAX + 1))

static const char *
reason_name(enum diag_code why)
{
	switch (why) {
	case DIAG_FED_RATE:
		return "rate";
	case DIAG_FED_SUSPICIOUS:
		return "suspicious";
	case DIAG_FED_CONTACTS:
		return "contacts";
	default:
		return "overload";         /* out of memory while counting */
	}
}

static void
peers_str(const struct throttle_entry *e, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < e->npeers && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? "," : "", e->peers[i]);
	if (buf[0] == '\0')
		snprintf(buf, len, "-");
}

static void
add_line(const struct throttle_entry *e, void *arg)
{
	struct lines *l = arg;
	char peers[NAMES_MAX * THROTTLE_PEERS_MAX + THROTTLE_PEERS_MAX + 2], *s;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		char **v = realloc(l->v, cap * sizeof(*v));

		if (v == NULL)
			return;            /* the line is lost, not the daemon */
		l->v = v;
		l->cap = cap;
	}
	if ((s = malloc(LINE_MAX_LEN)) == NULL)
		return;
	peers_str(e, peers, sizeof(peers));
	if (l->report)
		snprintf(s, LINE_MAX_LEN, "event=14601 domain=%s requests=%llu throttled=%llu "
		    "contacts=%llu suspicious=%s peers=%s", e->domain,
		    (unsigned long long)e->report_requests, (unsigned long long)e->report_throttled,
		    (unsigned long long)e->report_contacts, e->report_suspicious ? "yes" : "no", peers);
	else
		snprintf(s, LINE_MAX_LEN, "event=14603 domain=%s reason=%s code=%d limit=%u rate=%llu "
		    "suspicious=%s requests=%llu throttled=%llu contacts=%zu contacts_limit=%zu "
		    "peers=%s", e->domain, reason_name(e->why), (int)e->why, e->limit,
		    (unsigned long long)e->rate, e->suspicious ? "yes" : "no",
		    (unsigned long long)e->requests, (unsigned long long)e->throttled, e->contacts,
		    e->contacts_limit, peers);
	l->v[l->n++] = s;
}

static void
log_lines(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++) {
		log_info("%s", l->v[i]);
		free(l->v[i]);
	}
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

void
proxy_partners_log(struct proxy *px, uint64_t now_ms)
{
	const struct store_config *c;
	struct lines l = { 0 };
	uint64_t period_ms;
	size_t n;

	if (px->pol == NULL)
		return;
	c = policy_config(px->pol);
	throttle_newly_throttled(px->throttle, px->pol, now_ms, add_line, &l);
	log_lines(&l);
	/* The period is read each time: a new setting applies from the
	 * previous report on. */
	period_ms = (uint64_t)c->discovered_period * 60000u;
	if (px->report_at == 0 || now_ms < px->report_at) {
		px->report_at = now_ms ? now_ms : 1;
		return;
	}
	if (now_ms - px->report_at < period_ms)
		return;
	px->report_at = now_ms;
	l.report = true;
	n = throttle_report(px->throttle, px->pol, now_ms, add_line, &l);
	/* With discovery off and nobody throttled before, there is nothing to
	 * report, and saying so every period is noise. */
	if (n > 0 || c->partner_discovery)
		log_info("event=14601 period_min=%u partners=%zu", c->discovered_period, n);
	log_lines(&l);
}
