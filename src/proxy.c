/* proxy.c: the proxy (proxy.h): its workers, each a worker thread (worker.h)
 * with its own listeners (SO_REUSEPORT), resolver, transactions and a mailbox
 * that carries responses and sends between workers when a transaction and a
 * connection live on different ones; policy snapshots handed to every worker;
 * start, stop and the checks of sipedge -n. */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proxy_int.h"
#include "sipedge/health.h"
#include "sipedge/log.h"
#include "sipedge/store.h"
#include "sipedge/tls.h"

static void
mail_cb(struct worker_thread *wt, struct worker_mail *m)
{
	relay_on_post(wt->ud, (struct post *)m);      /* takes ownership */
}

static void
drop_cb(struct worker_mail *m)
{
	proxy_post_free((struct post *)m);
}

/* On the worker's thread: every request gets its final response, then what
 * the worker opened on its loop is closed. */
static void
stop_cb(struct worker_thread *wt)
{
	struct worker *w = wt->ud;

	relay_shutdown(w);
	if (w->tw)
		transport_worker_shutdown(w->tw);
	proxy_xmpp_stop(w);                /* its streams cancel their look-ups */
	if (w->dns) {
		dns_close(w->dns);
		w->dns = NULL;
		w->renv.dns = NULL;
	}
	if (w->tick_open)
		uv_close((uv_handle_t *)&w->tick, NULL);
	w->tick_open = false;
}

/* Overloaded workers say so, at most every few seconds. */
#define LOAD_REPORT_MS 5000
/* Worker 0 gives freed heap back when this much is free in the allocator. */
#define TICK_TRIM_MS 2000
#define TICK_IDLE_MS 1000
#define TICK_BUSY_PERMILLE 300
#define TRIM_FREE_BYTES (4u << 20)

/* The transport balances inbound connections: deliver one to worker to. */
static void
handoff_cb(struct tp_worker *from, unsigned to, struct tp_handoff *h, void *ud)
{
	struct worker *w = ud, *target = worker_by_index(w->px, to);
	struct post *p;

	(void)from;
	if (target == NULL || (p = calloc(1, sizeof(*p))) == NULL) {
		transport_handoff_drop(h);
		return;
	}
	p->kind = POST_ADOPT;
	p->handoff = h;
	p->from = w->idx;
	(void)proxy_post(target, p);        /* on failure the post (and h) is dropped */
}

/* Every worker nearly idle (read without locks: a hint is enough). */
static bool
proxy_quiet(const struct proxy *px)
{
	for (unsigned i = 0; i < px->nworkers; i++) {
		const struct worker *o = &px->workers[i];

		if (o->load.busy_permille > 200 || o->ntxns > 64)
			return false;
	}
	return true;
}

static void tick_cb(uv_timer_t *t);

/* The tick's pace: every LOAD_INTERVAL_MS while the worker works, once a
 * second while it idles (the request path samples a burst meanwhile). */
static void
tick_pace(struct worker *w)
{
	unsigned want = w->load.busy_permille >= TICK_BUSY_PERMILLE || load_admit_share(&w->load) < 1000 ?
	    LOAD_INTERVAL_MS : TICK_IDLE_MS;

	if (w->tick_open && uv_timer_get_repeat(&w->tick) != want)
		uv_timer_start(&w->tick, tick_cb, want, want);
}

static void
tick_cb(uv_timer_t *t)
{
	struct worker *w = t->data;
	uint64_t now = WORKER_NOW(w);
	unsigned busy;

	busy = load_sample(&w->load, worker_idle_ns(&w->th), w->th.turns, uv_hrtime());
	tick_pace(w);
	if (w->load.refused != w->load_reported && now - w->load_report_at >= LOAD_REPORT_MS) {
		log_warnx("worker %u overloaded: loop busy %u%%, turns of %u ms, admitting %u%% of new "
		    "requests; %" PRIu64 " refused 503 (diagnostic 1204, Retry-After) since the last report",
		    w->idx, busy / 10, w->load.turn_us / 1000, load_admit_share(&w->load) / 10,
		    w->load.refused - w->load_reported);
		w->load_reported = w->load.refused;
		w->load_report_at = now;
	}
	if (w->idx != 0)
		return;
	if (now >= w->next_probe) {
		proxy_xmpp_tick(w);
		hop_probe_due(w);
		w->next_probe = now + 1000;
	}
	if (now >= w->next_trim && proxy_quiet(w->px)) {
		/* After a burst of connections or transactions glibc keeps the
		 * freed memory in its arenas; give it back once it is plenty.
		 * Only when quiet: malloc_trim walks every arena, and with a
		 * large fragmented heap that can hold a loop for a second. */
		struct mallinfo2 mi = mallinfo2();

		if (mi.fordblks > TRIM_FREE_BYTES)
			malloc_trim(0);
		w->next_trim = now + TICK_TRIM_MS;
	}
}

/* At debug level each routing step is logged with its request. */
static void
route_log_step(void *arg, const struct route_op *op, const char *text)
{
	char desc[256];

	(void)arg;
	log_debug("route %s: %s", sipmsg_describe(op->sip, desc, sizeof(desc)), text);
}

static unsigned
side_port(const struct conf *c, enum side s, enum tp_kind *kind)
{
	for (size_t i = 0; i < c->nlisteners; i++)
		if (c->listeners[i].side == s) {
			const struct sockaddr_storage *ss = &c->listeners[i].addr;

			*kind = c->listeners[i].kind;
			return ss->ss_family == AF_INET6 ?
			    ntohs(((const struct sockaddr_in6 *)ss)->sin6_port) :
			    ntohs(((const struct sockaddr_in *)ss)->sin_port);
		}
	*kind = TP_TLS;
	return 5061;
}

int
proxy_check(const struct conf *c, char *err, size_t errlen)
{
	struct proxy_tls x;
	int rc;

	if ((rc = proxy_tls_make(c, &x, err, errlen)) < 0)
		return rc;
	proxy_tls_free(&x);
	return 0;
}

int
proxy_new(const struct conf *c, struct proxy **out, char *err, size_t errlen)
{
	struct proxy *px = calloc(1, sizeof(*px));
	struct transport_conf tc;
	struct transport_cbs cbs;
	char addr[80];
	long ncpu;
	int rc;

	if (!px) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	px->conf = c;
	if ((rc = rr_key_load(c->rr_key_file, &px->key, err, errlen)) < 0 ||
	    (rc = proxy_tls_make(c, &px->tls, err, errlen)) < 0)
		goto out;
	px->port[SIDE_INTERNAL] = (unsigned short)side_port(c, SIDE_INTERNAL, &px->kind[SIDE_INTERNAL]);
	px->port[SIDE_EXTERNAL] = (unsigned short)side_port(c, SIDE_EXTERNAL, &px->kind[SIDE_EXTERNAL]);

	proxy_transport_conf(c, px->tls.client, &tc);
	if ((rc = transport_new(&tc, &px->tp)) < 0) {
		snprintf(err, errlen, "transport: %s", uv_strerror(rc));
		goto out;
	}
	if ((rc = throttle_new(THROTTLE_MAX_DOMAINS_DEFAULT, THROTTLE_MAX_CONTACTS_DEFAULT,
		 &px->throttle)) < 0) {
		snprintf(err, errlen, "throttle: %s", strerror(-rc));
		goto out;
	}
	if ((rc = health_new(c->hop_retry_ms, 256, &px->health)) < 0) {
		snprintf(err, errlen, "health: %s", strerror(-rc));
		goto out;
	}
	if ((rc = xmpp_share_new(&px->xshare)) < 0) {
		snprintf(err, errlen, "xmpp: %s", strerror(-rc));
		goto out;
	}

	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	px->nworkers = c->workers ? c->workers : (unsigned)(ncpu > 0 ? ncpu : 1);
	if (px->nworkers > 255)
		px->nworkers = 255;
	px->workers = calloc(px->nworkers, sizeof(*px->workers));
	if (!px->workers) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	for (unsigned i = 0; i < px->nworkers; i++) {
		struct worker *w = &px->workers[i];

		if ((rc = stats_init(&w->stats)) < 0) {
			snprintf(err, errlen, "statistics: %s", strerror(-rc));
			goto out;
		}
		w->px = px;
		w->cf = c;
		w->idx = i;
		w->max_txns = c->max_transactions / px->nworkers;
		if (w->max_txns < 16)
			w->max_txns = 16;
		hmap_init(&w->by_branch);
		hmap_init(&w->by_key);
		if ((rc = worker_init(&w->th, mail_cb, stop_cb, w)) < 0) {
			snprintf(err, errlen, "worker: %s", rc > -10000 ? uv_strerror(rc) : strerror(-rc));
			goto out;
		}
		load_init(&w->load);
		uv_timer_init(&w->th.loop, &w->tick);
		w->tick_open = true;
		w->tick.data = w;
		uv_timer_start(&w->tick, tick_cb, LOAD_INTERVAL_MS, LOAD_INTERVAL_MS);
		memset(&cbs, 0, sizeof(cbs));
		cbs.message_cb = proxy_on_message;
		cbs.closed_cb = proxy_on_closed;
		cbs.handoff_cb = handoff_cb;
		cbs.ud = w;
		cbs.stats = &w->stats;
		cbs.trace_cb = relay_trace;
		if ((rc = transport_worker_new(px->tp, &w->th.loop, i, &cbs, &w->tw)) < 0) {
			snprintf(err, errlen, "transport worker: %s", uv_strerror(rc));
			goto out;
		}
		{
			struct dns_conf dc;

			memset(&dc, 0, sizeof(dc));
			dc.servers = c->dns_servers[0] ? c->dns_servers : NULL;
			dc.timeout_ms = c->dns_timeout_ms;
			dc.tries = 2;
			dc.max_ttl_s = 3600;
			dc.neg_ttl_s = 60;
			if ((rc = dns_new(&w->th.loop, &dc, &w->dns)) < 0) {
				snprintf(err, errlen, "%s: dns-server %s: %s", c->path,
				    c->dns_servers[0] ? c->dns_servers : "(system)",
				    rc > -10000 ? strerror(-rc) : dns_strerror(rc));
				goto out;
			}
			dns_set_stats(w->dns, &w->stats);
		}
		if (i == 0 && (rc = proxy_xmpp_start(w, err, errlen)) < 0)
			goto out;
		w->renv.cf = c;
		w->renv.dns = w->dns;
		w->renv.loop = &w->th.loop;
		w->renv.key = &px->key;
		w->renv.throttle = px->throttle;
		if (log_would(LOG_LVL_DEBUG)) {
			w->renv.step = route_log_step;
			w->renv.step_arg = w;
		}
		for (size_t l = 0; l < c->nlisteners; l++) {
			const struct listener_conf *lc = &c->listeners[l];
			struct tls_ctx *tls = lc->kind != TP_TLS ? NULL :
			    lc->mutual_tls ? px->tls.mutual : px->tls.plain;

			if ((rc = transport_worker_listen(w->tw, lc, tls)) < 0) {
				snprintf(err, errlen, "%s: cannot listen on %s: %s", lc->source,
				    conf_sockaddr_str(&lc->addr, addr, sizeof(addr)),
				    rc > -10000 ? uv_strerror(rc) : transport_strerror(rc));
				goto out;
			}
		}
	}
	*out = px;
	return 0;
out:
	proxy_free(px);
	return rc;
}

void
proxy_after_fork(struct proxy *px)
{
	/* The loops were set up before daemon(): renew their kernel state. */
	for (unsigned i = 0; i < px->nworkers; i++)
		worker_after_fork(&px->workers[i].th);
}

int
proxy_start(struct proxy *px)
{
	for (unsigned i = 0; i < px->nworkers; i++) {
		int rc = worker_start(&px->workers[i].th);

		if (rc < 0) {
			log_warnx("%s: worker %u: %s", __func__, i, uv_strerror(rc));
			return rc;
		}
	}
	return 0;
}

void
proxy_set_policy(struct proxy *px, struct policy *pol)
{
	struct policy *old = px->pol;

	px->pol = policy_ref(pol);
	if (old)
		policy_unref(old);
	for (unsigned i = 0; i < px->nworkers; i++) {
		struct worker *w = &px->workers[i];
		struct post *p;

		if (!w->th.started) {
			/* Not running yet: set it directly. */
			if (w->renv.pol)
				policy_unref(w->renv.pol);
			w->renv.pol = policy_ref(pol);
			if (w->xgw)
				proxy_xmpp_policy(w);
			continue;
		}
		if (!(p = calloc(1, sizeof(*p))))
			continue;   /* that worker keeps the old snapshot */
		p->kind = POST_POLICY;
		p->policy = policy_ref(pol);
		proxy_post(w, p);
	}
}

int
proxy_record_partners(struct proxy *px, struct store *st)
{
	struct store_partner_delta d[64];
	size_t n;
	int rc = 0;

	/* Drain in batches; each batch is one transaction. */
	while ((n = throttle_drain(px->throttle, d, sizeof(d) / sizeof(d[0]))) > 0) {
		if ((rc = store_partners_record(st, d, n)) < 0) {
			log_warnx("%s: %s", __func__, store_error(st));
			break;
		}
		if (n < sizeof(d) / sizeof(d[0]))
			break;
	}
	return rc;
}

void
proxy_stop(struct proxy *px)
{
	for (unsigned i = 0; i < px->nworkers; i++)
		worker_stop(&px->workers[i].th);
}

void
proxy_free(struct proxy *px)
{
	if (!px)
		return;
	/* Every thread ends before any worker's parts go: a worker still
	 * running reads the others' (least_loaded, proxy_quiet). */
	for (unsigned i = 0; px->workers && i < px->nworkers; i++)
		if (px->workers[i].px)
			worker_fini(&px->workers[i].th, drop_cb);
	for (unsigned i = 0; px->workers && i < px->nworkers; i++) {
		struct worker *w = &px->workers[i];

		if (!w->px)
			continue;
		if (w->tw)
			transport_worker_free(w->tw);
		if (w->renv.pol)
			policy_unref(w->renv.pol);
		hmap_free(&w->by_branch);
		hmap_free(&w->by_key);
		stats_fini(&w->stats);
	}
	free(px->workers);
	if (px->tp)
		transport_free(px->tp);
	if (px->throttle)
		throttle_free(px->throttle);
	if (px->pol)
		policy_unref(px->pol);
	health_free(px->health);
	xmpp_share_free(px->xshare);
	proxy_tls_free(&px->tls);
	explicit_bzero(&px->key, sizeof(px->key));
	free(px);
}
