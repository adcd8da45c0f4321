/* hop.c: reaching a transaction's next hop (RFC 3263 §4.3 failover, with what
 * RFC 8305 does for addresses): the dialog's own connection first; then the
 * hops in order, those the health table knows as down after the others; a hop
 * whose TLS handshake shows no progress for failover-delay lets the next one
 * start beside it, and the first to be established takes the request.  A hop
 * that fails, or stays silent while another answers, is marked down (probed in
 * the background until it answers again, see health.h).  Each hop's failure is
 * kept for the reason of the final 503. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy_int.h"
#include "sipedge/health.h"
#include "sipedge/log.h"
#include "sipedge/sipmsg.h"

static void start_hops(struct txn *t);

static unsigned
failover_delay(const struct txn *t)
{
	return t->w->cf->failover_delay_ms;
}

static void
race_timer_free(uv_handle_t *h)
{
	free(h);
}

/* Stop racing: cancel the dials still pending.  silent: mark down those that
 * made no progress for failover-delay (another hop answered meanwhile). */
void
txn_dials_stop(struct txn *t, bool silent)
{
	uint64_t now = uv_now(&t->w->th.loop);
	char why[96];

	for (size_t i = 0; i < t->op.nhops && t->ndials > 0; i++) {
		struct dial_req *rq = t->dials[i].rq;

		if (!rq)
			continue;
		if (silent && now - transport_dial_progress(rq) >= failover_delay(t)) {
			snprintf(why, sizeof(why), "no TLS progress in %u ms while another hop answered",
			    (unsigned)(now - transport_dial_progress(rq)));
			health_down(t->w->px->health, &t->op.hops[i], t->op.out_side, now, why);
		}
		t->dials[i].rq = NULL;
		t->ndials--;
		transport_dial_cancel(rq);
	}
	t->ndials = 0;
	if (t->race)
		uv_timer_stop(t->race);
}

void
txn_dials_close(struct txn *t)
{
	txn_dials_stop(t, false);
	if (t->race) {
		uv_close((uv_handle_t *)t->race, race_timer_free);
		t->race = NULL;
	}
}

/* The dial started last: the one whose silence lets the next start. */
static const struct dial_req *
newest_dial(const struct txn *t)
{
	for (size_t i = t->nexthop; i-- > 0;)
		if (t->dials[i].rq)
			return t->dials[i].rq;
	return NULL;
}

static void race_cb(uv_timer_t *tm);

static void
race_arm(struct txn *t)
{
	const struct dial_req *rq = newest_dial(t);
	uint64_t now = uv_now(&t->w->th.loop), due;

	if (!rq || t->nexthop >= t->op.nhops || failover_delay(t) == 0) {
		if (t->race)
			uv_timer_stop(t->race);
		return;
	}
	if (!t->race) {
		if ((t->race = malloc(sizeof(*t->race))) == NULL)
			return;      /* serial failover only */
		uv_timer_init(&t->w->th.loop, t->race);
		t->race->data = t;
	}
	due = transport_dial_progress(rq) + failover_delay(t);
	uv_timer_start(t->race, race_cb, due > now ? due - now : 1, 0);
}

static void
race_cb(uv_timer_t *tm)
{
	struct txn *t = tm->data;
	const struct dial_req *rq = newest_dial(t);
	uint64_t now = uv_now(&t->w->th.loop);

	if (t->state == TX_COMPLETED || !rq)
		return;
	if (now - transport_dial_progress(rq) >= failover_delay(t) && t->nexthop < t->op.nhops) {
		char desc[256];

		log_info("next hop %s silent for %u ms for %s: trying %s beside it",
		    t->op.hops[t->nexthop - 1].fqdn, failover_delay(t),
		    sipmsg_describe(t->sip, desc, sizeof(desc)), t->op.hops[t->nexthop].fqdn);
		start_hops(t);
		return;
	}
	race_arm(t);
}

/* Hop i failed: why, in the reason and the log; down in the health table. */
static void
hop_failed(struct txn *t, size_t i, int status, const char *detail)
{
	const struct hop *h = &t->op.hops[i];
	const char *what = detail && detail[0] ? detail : transport_strerror(status);
	char why[CONF_MAX_NAME + 256], desc[256], a[80];

	snprintf(why, sizeof(why), "%s (%s): %s", h->fqdn,
	    h->has_addr ? conf_sockaddr_str(&h->addr, a, sizeof(a)) : "DNS", what);
	log_info("next hop failed for %s: %s", sipmsg_describe(t->sip, desc, sizeof(desc)), why);
	route_cause(&t->op, why);
	t->last_diag = DIAG_HOPS_FAILED;
	if (status != TP_ECLOSED)
		health_down(t->w->px->health, h, t->op.out_side, uv_now(&t->w->th.loop), what);
}

/* Every hop failed. */
static void
hops_exhausted(struct txn *t)
{
	if (t->stateless) {
		txn_destroy(t);
		return;
	}
	txn_reply(t, 503, DIAG_HOPS_FAILED, t->op.causes[0] ? t->op.causes : NULL);
	txn_complete(t, 503);
}

static void
dial_cb(struct conn *c, int status, const char *detail, void *arg)
{
	struct txn_dial *d = arg;
	struct txn *t = d->t;
	size_t i = (size_t)(d - t->dials);
	const struct hop *h = &t->op.hops[i];

	d->rq = NULL;
	t->ndials--;
	if (t->probe)
		probe_hop_done(t->probe, i, status, detail, status < 0 ? NULL : c);
	if (status < 0) {
		hop_failed(t, i, status, detail);
		if (t->state == TX_COMPLETED)
			return;
		if (t->nexthop < t->op.nhops)
			start_hops(t);          /* the next at once (RFC 8305 §5) */
		else if (t->ndials == 0)
			hops_exhausted(t);
		return;
	}
	if (t->state == TX_COMPLETED)
		return;
	health_up(t->w->px->health, h, t->op.out_side);
	txn_dials_stop(t, true);
	t->cur = i;
	txn_send_request(t, c, conn_info(c)->id, h->kind, &conn_info(c)->peer, h->fqdn);
}

/* Start dialling the next hop not started yet: an established connection
 * takes the request at once; a pending one races (failover-delay). */
static void
start_hops(struct txn *t)
{
	struct worker *w = t->w;

	while (t->nexthop < t->op.nhops) {
		size_t i = t->nexthop++;
		struct conn *c = NULL;
		int rc;

		if (i > 0)
			STATS_INC(&w->stats, failovers);   /* the one before failed or is silent */
		t->dials[i].t = t;
		if (t->probe)
			probe_hop_start(t->probe, i, &t->op.hops[i]);
		rc = transport_dial(w->tw, &t->op.hops[i], t->op.out_side, dial_cb, &t->dials[i], &c,
		    &t->dials[i].rq);
		if (rc == 0) {
			if (t->probe)
				probe_hop_done(t->probe, i, 0, "reused", c);
			t->dials[i].rq = NULL;
			txn_dials_stop(t, false);
			t->cur = i;
			txn_send_request(t, c, conn_info(c)->id, t->op.hops[i].kind, &conn_info(c)->peer,
			    t->op.hops[i].fqdn);
			return;
		}
		if (rc == 1) {
			t->ndials++;
			race_arm(t);
			return;
		}
		t->dials[i].rq = NULL;
		if (t->probe)
			probe_hop_done(t->probe, i, rc, rc > -10000 ? uv_strerror(rc) :
			    transport_strerror(rc), NULL);
		hop_failed(t, i, rc, rc > -10000 ? uv_strerror(rc) : transport_strerror(rc));
	}
	if (t->ndials == 0)
		hops_exhausted(t);
}

void
txn_next_hop(struct txn *t)
{
	struct worker *w = t->w;

	if (t->use_flow) {
		uint64_t id = t->op.target.conn_id;
		struct conn *c = NULL;

		t->use_flow = false;
		if (id && CONN_ID_WORKER(id) == w->idx)
			c = transport_conn_find(w->tw, id);
		if (c && !txn_flow_matches(c, &t->op.target))
			c = NULL;
		if (c) {
			txn_send_request(t, c, id, conn_info(c)->kind, NULL, NULL);
			return;
		}
		if (id && CONN_ID_WORKER(id) != w->idx && CONN_ID_WORKER(id) < w->px->nworkers) {
			/* The flow lives on another worker: if it is gone, the
			 * owner tells us (POST_SEND_FAILED) and we fall back. */
			txn_send_request(t, NULL, id, t->op.target.kind, NULL, NULL);
			return;
		}
		/* The dialog's connection is gone: reach the peer its token
		 * names by the configuration or DNS. */
		switch (txn_fallback(t)) {
		case ROUTE_FORWARD:
			break;
		case ROUTE_PENDING:
			return;         /* the look-up continues with txn_route_done */
		default:
			txn_branch_failed(t, 430, DIAG_FLOW_GONE, NULL);
			return;
		}
	}
	if (!t->ordered) {
		/* Targets known to be down go after the others. */
		t->ordered = true;
		health_order(w->px->health, t->op.hops + t->nexthop, t->op.nhops - t->nexthop, t->op.out_side);
	}
	start_hops(t);
}

/* A background probe of a down target: a handshake brings it back. */
struct probe {
	struct proxy *px;
	struct hop hop;
	enum side side;
};

static void
probe_cb(struct conn *c, int status, const char *detail, void *arg)
{
	struct probe *pr = arg;

	if (status == 0)
		health_up(pr->px->health, &pr->hop, pr->side);
	else
		log_debug("probe of next hop %s failed: %s", pr->hop.fqdn,
		    detail && detail[0] ? detail : transport_strerror(status));
	free(pr);
}

void
hop_probe_due(struct worker *w)
{
	struct hop hops[16];
	enum side sides[16];
	size_t n = health_due(w->px->health, uv_now(&w->th.loop), hops, sides, 16);

	for (size_t i = 0; i < n; i++) {
		struct probe *pr = calloc(1, sizeof(*pr));
		struct conn *c = NULL;
		int rc;

		if (!pr)
			return;
		pr->px = w->px;
		pr->hop = hops[i];
		pr->side = sides[i];
		rc = transport_dial(w->tw, &hops[i], sides[i], probe_cb, pr, &c, NULL);
		if (rc == 0) {
			health_up(w->px->health, &hops[i], sides[i]);
			free(pr);
		} else if (rc < 0) {
			free(pr);
		}
	}
}
