/* dns.c: asynchronous SRV and A/AAAA look-ups (RFC 1035 §4.1, RFC 2782, RFC 3596) over
 * c-ares driven by libuv, a TTL cache (RFC 2181 §8, RFC 2308 §5) and RFC 2782
 * ordering.  Failover memory (which targets are down) is health.c's.
 *
 * Structure: a cache entry per (type, name) owns at most one c-ares query in flight
 * and the last answer (a refcounted, immutable rrset).  A caller's struct dns_query
 * waits on one entry (SRV) or two (A and AAAA).  c-ares callbacks never run caller
 * code: a finished query is put on a ready list, and a 0 ms timer delivers it, so a
 * callback never runs inside dns_srv/dns_addr/c-ares and may call anything here. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/random.h>
#include <ares.h>

#include "sipedge/dns.h"
#include "sipedge/stats.h"
#include "dns_int.h"
#include "dns_hosts.h"
#include "sipedge/hmap.h"
#include "sipedge/list.h"
#include "sipedge/log.h"






struct entry {
	struct hnode node;
	struct link fifo;                    /* d->fifo: age order, for eviction */
	struct link waiters;                 /* struct waiter.link */
	struct link dlink;                   /* d->deadlines while someone waits */
	struct dns *d;
	int type;
	bool inflight;                       /* a c-ares query holds this entry */
	int status;                          /* of rs: 0 or DNS_ENOTFOUND */
	struct rrset *rs;                    /* cached answer or NULL */
	uint64_t expires;                    /* uv_now() ms */
	uint64_t deadline;                   /* uv_now() ms, while in d->deadlines */
	char key[2 + DNS_NAME_MAX + 1];      /* type letter + name */
};

struct waiter {
	struct link link;                    /* entry->waiters while waiting */
	struct dns_query *q;
	struct entry *e;                     /* while waiting */
	int status;
	struct rrset *rs;                    /* a reference, once done */
	bool done;
};

enum qkind { Q_SRV, Q_ADDR };
enum qstate { Q_WAITING, Q_READY, Q_DELIVERING };

struct dns_query {
	struct link live;                    /* d->live: every query not yet delivered */
	struct link rlink;                   /* d->ready (or a delivery batch) when ready */
	struct dns *d;
	enum qkind kind;
	enum qstate state;
	union {
		dns_srv_cb srv;
		dns_addr_cb addr;
	} cb;
	void *arg;
	unsigned short port;
	unsigned nw, npending;
	struct waiter w[2];                  /* SRV: w[0]; addresses: A, AAAA */
};

struct dpoll {
	uv_poll_t h;
	struct link link;                    /* d->polls until closed */
	struct dns *d;
	ares_socket_t fd;
};

struct dns {
	struct stats *stats;            /* the worker's counters, or NULL */
	uv_loop_t *loop;
	ares_channel ch;
	uv_timer_t ares_timer;               /* c-ares retransmissions and timeouts */
	uv_timer_t deliver;                  /* 0 ms: runs the ready list */
	uv_timer_t deadline_timer;           /* our overall per-look-up bound */
	unsigned handles;                    /* open libuv handles, to free d at the last */
	bool closing;
	struct link polls;
	struct hmap cache;
	struct link fifo;
	struct link deadlines;               /* entries by deadline (all get the same bound) */
	struct link live;
	struct link ready;
	uint64_t rng;
	uint64_t bound_ms;                   /* timeout_ms * tries * servers */
	unsigned timeout_ms, tries;
	struct dns_hosts *hosts;             /* the hosts file, asked before DNS for A/AAAA */
	unsigned max_ttl_s, neg_ttl_s, max_entries;
	struct dns_stats st;
};

void
dns_set_stats(struct dns *d, struct stats *s)
{
	d->stats = s;
}

const char *
dns_strerror(int status)
{
	switch (status) {
	case 0:
		return "success";
	case DNS_ENOTFOUND:
		return "no such name or no records";
	case DNS_ETIMEOUT:
		return "no answer from the DNS servers";
	case DNS_EFAIL:
		return "DNS server failure or bad reply";
	default:
		return uv_strerror(status);
	}
}

static const char *
type_name(int type)
{
	return type == RR_SRV ? "SRV" : type == RR_A ? "A" : "AAAA";
}

/* ---- delivery ---- */

static void deliver_cb(uv_timer_t *t);
static void ares_timer_cb(uv_timer_t *t);
static void deadline_cb(uv_timer_t *t);
static void deadline_arm(struct dns *d);

static void
query_ready(struct dns_query *q)
{
	struct dns *d = q->d;

	q->state = Q_READY;
	link_add_tail(&d->ready, &q->rlink);
	if (!uv_is_active((uv_handle_t *)&d->deliver))
		uv_timer_start(&d->deliver, deliver_cb, 0, 0);
}

static void
waiter_done(struct waiter *w, int status, struct rrset *rs)
{
	link_del(&w->link);
	w->e = NULL;
	w->done = true;
	w->status = status;
	w->rs = dns__rrset_ref(rs);
	if (--w->q->npending == 0)
		query_ready(w->q);
}

static void
query_free(struct dns_query *q)
{
	for (unsigned i = 0; i < q->nw; i++) {
		link_del(&q->w[i].link);
		dns__rrset_unref(q->w[i].rs);
	}
	link_del(&q->rlink);
	link_del(&q->live);
	free(q);
}

static void
deliver_srv(struct dns *d, struct dns_query *q)
{
	struct waiter *w = &q->w[0];
	struct dns_srv *v = NULL;
	size_t n = 0;
	int status = w->status;

	if (status == 0 && w->rs->n > 0) {
		n = w->rs->n;
		if ((v = malloc(n * sizeof(*v))) == NULL) {
			status = UV_ENOMEM;
			n = 0;
		}
	}
	if (v) {
		for (size_t i = 0; i < n; i++)
			v[i] = w->rs->v[i].srv;
		dns_srv_order(v, n, dns__rng_next, &d->rng);
	} else if (status == 0) {
		status = DNS_ENOTFOUND;
	}
	q->cb.srv(status, v, n, q->arg);
	free(v);
}

static void
deliver_addr(struct dns_query *q)
{
	struct sockaddr_storage *a = NULL;
	size_t n = 0, total = 0;
	int status = 0;

	for (unsigned i = 0; i < q->nw; i++)
		if (q->w[i].status == 0 && q->w[i].rs)
			total += q->w[i].rs->n;
	if (total > 0 && (a = malloc(total * sizeof(*a))) == NULL)
		status = UV_ENOMEM;
	for (unsigned i = 0; a && i < q->nw; i++) {
		if (q->w[i].status != 0 || q->w[i].rs == NULL)
			continue;
		for (size_t k = 0; k < q->w[i].rs->n; k++) {
			a[n] = q->w[i].rs->v[k].ss;
			if (a[n].ss_family == AF_INET)
				((struct sockaddr_in *)&a[n])->sin_port = htons(q->port);
			else
				((struct sockaddr_in6 *)&a[n])->sin6_port = htons(q->port);
			n++;
		}
	}
	if (n == 0 && status == 0) {
		/* No address: a failure says more than "not found" of the other
		 * family, since the name may well have addresses. */
		status = DNS_ENOTFOUND;
		for (unsigned i = 0; i < q->nw; i++)
			if (q->w[i].status != 0 && q->w[i].status != DNS_ENOTFOUND) {
				status = q->w[i].status;
				break;
			}
	}
	q->cb.addr(status, n ? a : NULL, n, q->arg);
	free(a);
}

static void
deliver_cb(uv_timer_t *t)
{
	struct dns *d = t->data;
	struct link batch;

	/* Queries that become ready during a callback go to the next round. */
	link_init(&batch);
	link_splice(&batch, &d->ready);
	while (!link_empty(&batch) && !d->closing) {
		struct dns_query *q = container_of(batch.next, struct dns_query, rlink);

		link_del(&q->rlink);
		link_del(&q->live);
		q->state = Q_DELIVERING;
		if (q->kind == Q_SRV)
			deliver_srv(d, q);
		else
			deliver_addr(q);
		query_free(q);
	}
}

/* ---- c-ares plumbing ---- */

static void
handle_closed(uv_handle_t *h)
{
	struct dns *d = h->data;

	if (h->type == UV_POLL)
		free(container_of((uv_poll_t *)h, struct dpoll, h));
	if (--d->handles == 0 && d->closing) {
		dns_hosts_free(d->hosts);
		free(d);
	}
}

static void
ares_timer_arm(struct dns *d)
{
	struct timeval tv, *tp;

	if (d->closing)
		return;
	tp = ares_timeout(d->ch, NULL, &tv);
	if (tp == NULL) {
		uv_timer_stop(&d->ares_timer);
		return;
	}
	uv_timer_start(&d->ares_timer, ares_timer_cb,
	    (uint64_t)tp->tv_sec * 1000 + ((uint64_t)tp->tv_usec + 999) / 1000, 0);
}

static void
ares_timer_cb(uv_timer_t *t)
{
	struct dns *d = t->data;

	ares_process_fd(d->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	ares_timer_arm(d);
}

static void
poll_cb(uv_poll_t *h, int status, int events)
{
	struct dpoll *p = container_of(h, struct dpoll, h);
	struct dns *d = p->d;
	ares_socket_t fd = p->fd;

	/* On a poll error (an ICMP error queued on the socket, say) let c-ares read
	 * the socket and find out for itself.  p may be closed inside this call. */
	ares_process_fd(d->ch,
	    status < 0 || (events & UV_READABLE) ? fd : ARES_SOCKET_BAD,
	    status < 0 || (events & UV_WRITABLE) ? fd : ARES_SOCKET_BAD);
	ares_timer_arm(d);
}

static void
sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dns *d = data;
	struct dpoll *p = NULL;
	int rc;

	for (struct link *l = d->polls.next; l != &d->polls; l = l->next)
		if (container_of(l, struct dpoll, link)->fd == fd) {
			p = container_of(l, struct dpoll, link);
			break;
		}
	if (!readable && !writable) {
		/* c-ares closes fd right after this; uv_close stops polling now. */
		if (p) {
			link_del(&p->link);
			uv_close((uv_handle_t *)&p->h, handle_closed);
		}
		return;
	}
	if (p == NULL) {
		if ((p = calloc(1, sizeof(*p))) == NULL) {
			log_warnx("%s: out of memory; the DNS query will time out", __func__);
			return;
		}
		if ((rc = uv_poll_init_socket(d->loop, &p->h, fd)) < 0) {
			log_warnx("%s: uv_poll_init_socket: %s; the DNS query will time out",
			    __func__, uv_strerror(rc));
			free(p);
			return;
		}
		p->d = d;
		p->fd = fd;
		p->h.data = d;
		d->handles++;
		link_add_tail(&d->polls, &p->link);
	}
	rc = uv_poll_start(&p->h, (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0),
	    poll_cb);
	if (rc < 0)
		log_warnx("%s: uv_poll_start: %s", __func__, uv_strerror(rc));
}

/* ---- cache ---- */

static void
entry_free(struct dns *d, struct entry *e)
{
	hmap_del(&d->cache, &e->node);
	link_del(&e->fifo);
	link_del(&e->dlink);
	dns__rrset_unref(e->rs);
	free(e);
	d->st.entries--;
	if (d->stats)
		stats_gauge_dec(&d->stats->dns_cache);
}

/* Makes room for one more entry: expired ones first would need a scan, so the
 * oldest entries not in use go, which is close enough for a bound. */
static void
cache_evict(struct dns *d)
{
	struct link *l = d->fifo.next;

	while (d->st.entries >= d->max_entries && l != &d->fifo) {
		struct entry *e = container_of(l, struct entry, fifo);

		l = l->next;
		if (!e->inflight)
			entry_free(d, e);
	}
}

static int
map_ares_status(int status)
{
	switch (status) {
	case ARES_SUCCESS:
		return 0;
	case ARES_ENOTFOUND:
	case ARES_ENODATA:
		return DNS_ENOTFOUND;
	case ARES_ETIMEOUT:
		return DNS_ETIMEOUT;
	default:
		return DNS_EFAIL;
	}
}

static void
entry_complete(struct entry *e, int status, struct rrset *rs, uint32_t ttl)
{
	struct dns *d = e->d;

	e->inflight = false;
	if (!link_empty(&e->dlink)) {
		link_del(&e->dlink);
		deadline_arm(d);
	}
	if (status == 0 || status == DNS_ENOTFOUND) {
		dns__rrset_unref(e->rs);
		e->rs = dns__rrset_ref(rs);
		e->status = status;
		e->expires = uv_now(d->loop) + (uint64_t)ttl * 1000;
	}
	while (!link_empty(&e->waiters))
		waiter_done(container_of(e->waiters.next, struct waiter, link), status, rs);
}

static void
query_cb(void *arg, int astatus, int timeouts, unsigned char *abuf, int alen)
{
	struct entry *e = arg;
	struct dns *d = e->d;
	struct parsed *pr = NULL;
	struct rrset *rs = NULL;
	int status = map_ares_status(astatus);
	uint32_t ttl = d->neg_ttl_s;

	/* ares_destroy in dns_close calls back every query; everything is going. */
	if (d->closing || astatus == ARES_EDESTRUCTION)
		return;
	if (status == 0) {
		if ((pr = malloc(sizeof(*pr))) == NULL) {
			status = UV_ENOMEM;
		} else if (dns__parse_answer(abuf, alen, e->type, e->key + 1, pr) < 0) {
			status = DNS_EFAIL;
		} else if (pr->n == 0) {
			/* No-data, or only a "." target: both mean nothing to try. */
			status = DNS_ENOTFOUND;
		} else if ((rs = dns__rrset_new(pr->n)) == NULL) {
			status = UV_ENOMEM;
		} else {
			rs->n = pr->n;
			memcpy(rs->v, pr->v, pr->n * sizeof(pr->v[0]));
			ttl = pr->ttl < d->max_ttl_s ? pr->ttl : d->max_ttl_s;
		}
	}
	if (status == DNS_ETIMEOUT && !link_empty(&e->waiters))
		d->st.timeouts++;
	if (status != 0 && status != DNS_ENOTFOUND)
		STATS_INC(d->stats, dns_failures);
	log_debug("dns: %s %s: %s%s, %zu records, ttl %u s", type_name(e->type),
	    e->key + 1, status ? dns_strerror(status) : "ok",
	    pr && pr->dot_target ? " (target \".\": service not offered)" : "",
	    rs ? rs->n : 0, status == 0 || status == DNS_ENOTFOUND ? (unsigned)ttl : 0);
	free(pr);
	entry_complete(e, status, rs, ttl);
	dns__rrset_unref(rs);
}

static void
deadline_arm(struct dns *d)
{
	uint64_t now = uv_now(d->loop);
	struct entry *e;

	if (link_empty(&d->deadlines)) {
		uv_timer_stop(&d->deadline_timer);
		return;
	}
	e = container_of(d->deadlines.next, struct entry, dlink);
	uv_timer_start(&d->deadline_timer, deadline_cb,
	    e->deadline > now ? e->deadline - now : 0, 0);
}

/* c-ares doubles the timeout on each round over the servers; the caller was
 * promised timeout_ms per try, so waiters are answered DNS_ETIMEOUT at the bound.
 * The c-ares query goes on, and a late answer still fills the cache. */
static void
deadline_cb(uv_timer_t *t)
{
	struct dns *d = t->data;
	uint64_t now = uv_now(d->loop);

	while (!link_empty(&d->deadlines)) {
		struct entry *e = container_of(d->deadlines.next, struct entry, dlink);

		if (e->deadline > now)
			break;
		link_del(&e->dlink);
		log_debug("dns: %s %s: no answer in %llu ms", type_name(e->type), e->key + 1,
		    (unsigned long long)d->bound_ms);
		if (!link_empty(&e->waiters))
			d->st.timeouts++;
		while (!link_empty(&e->waiters))
			waiter_done(container_of(e->waiters.next, struct waiter, link),
			    DNS_ETIMEOUT, NULL);
	}
	deadline_arm(d);
}

/* Attaches waiter w to the (type, name) entry: answered from the cache, joined to
 * the query in flight, or a new c-ares query.  0 or -ENOMEM. */
static int
lookup(struct dns *d, struct waiter *w, int type, const char *name)
{
	char key[sizeof(((struct entry *)0)->key)];
	uint64_t now = uv_now(d->loop);
	struct hnode *n;
	struct entry *e;

	snprintf(key, sizeof(key), "%c%s", type == RR_SRV ? 'S' : type == RR_A ? 'A' : 'Q',
	    name);
	if ((n = hmap_get(&d->cache, key)) != NULL) {
		e = hmap_entry(n, struct entry, node);
		if (!e->inflight && e->expires > now) {
			d->st.cache_hits++;
			waiter_done(w, e->status, e->rs);
			return 0;
		}
	} else {
		cache_evict(d);
		if ((e = calloc(1, sizeof(*e))) == NULL)
			return -ENOMEM;
		e->d = d;
		e->type = type;
		snprintf(e->key, sizeof(e->key), "%s", key);
		link_init(&e->waiters);
		link_init(&e->dlink);
		if (hmap_put(&d->cache, &e->node, e->key) < 0) {
			free(e);
			return -ENOMEM;
		}
		link_add_tail(&d->fifo, &e->fifo);
		d->st.entries++;
		STATS_INC(d->stats, dns_cache);
	}
	w->e = e;
	link_add_tail(&e->waiters, &w->link);
	if (link_empty(&e->dlink)) {
		/* Every bound is the same length, so appending keeps the list sorted. */
		e->deadline = now + d->bound_ms;
		link_add_tail(&d->deadlines, &e->dlink);
		if (!uv_is_active((uv_handle_t *)&d->deadline_timer))
			deadline_arm(d);
	}
	if (e->inflight) {
		d->st.shared++;
		return 0;
	}
	/* Set first: c-ares may call query_cb before ares_query returns. */
	e->inflight = true;
	d->st.sent++;
	STATS_INC(d->stats, dns_queries);
	ares_query(d->ch, e->key + 1, CLASS_IN, type, query_cb, e);
	ares_timer_arm(d);
	return 0;
}

/* ---- queries ---- */

static struct dns_query *
query_new(struct dns *d, enum qkind kind, void *arg)
{
	struct dns_query *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return NULL;
	q->d = d;
	q->kind = kind;
	q->arg = arg;
	link_init(&q->rlink);
	link_init(&q->live);
	for (unsigned i = 0; i < 2; i++) {
		link_init(&q->w[i].link);
		q->w[i].q = q;
	}
	return q;
}

/* Undoes a half-started query: nothing was delivered, no callback will run. */
static void
query_abort(struct dns_query *q)
{
	q->state = Q_DELIVERING;
	query_free(q);
}

int
dns_srv(struct dns *d, const char *name, dns_srv_cb cb, void *arg, struct dns_query **out)
{
	char norm[DNS_NAME_MAX + 1];
	struct dns_query *q;
	int rc;

	if (d == NULL || d->closing || cb == NULL)
		return -EINVAL;
	if ((rc = dns__name_norm(name, norm, sizeof(norm))) < 0)
		return rc;
	if ((q = query_new(d, Q_SRV, arg)) == NULL)
		return -ENOMEM;
	q->cb.srv = cb;
	q->nw = q->npending = 1;
	link_add_tail(&d->live, &q->live);
	if ((rc = lookup(d, &q->w[0], RR_SRV, norm)) < 0) {
		query_abort(q);
		return rc;
	}
	d->st.lookups++;
	if (out)
		*out = q;
	return 0;
}

/* An address literal, bracketed or not, as a one-record rrset. */
static struct rrset *
literal(const char *host)
{
	char buf[INET6_ADDRSTRLEN + 2];
	struct sockaddr_storage ss;
	size_t len = strlen(host);
	struct rrset *rs;

	memset(&ss, 0, sizeof(ss));
	if (len >= 2 && host[0] == '[' && host[len - 1] == ']' && len - 2 < sizeof(buf)) {
		memcpy(buf, host + 1, len - 2);
		buf[len - 2] = '\0';
		if (inet_pton(AF_INET6, buf, &((struct sockaddr_in6 *)&ss)->sin6_addr) != 1)
			return NULL;
		ss.ss_family = AF_INET6;
	} else if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
	} else {
		return NULL;
	}
	if ((rs = dns__rrset_new(1)) != NULL) {
		rs->n = 1;
		rs->v[0].ss = ss;
	}
	return rs;
}

/* The addresses the hosts file gives a name, as an rrset (NULL: none). */
static struct rrset *
hosts_rrset(struct dns *d, const char *name)
{
	struct sockaddr_storage a[8];
	size_t n = dns_hosts_find(d->hosts, name, a, 8);
	struct rrset *rs;

	if (n == 0 || (rs = dns__rrset_new(n)) == NULL)
		return NULL;
	rs->n = n;
	for (size_t i = 0; i < n; i++)
		rs->v[i].ss = a[i];
	return rs;
}

int
dns_addr(struct dns *d, const char *host, unsigned short port, dns_addr_cb cb, void *arg,
    struct dns_query **out)
{
	char norm[DNS_NAME_MAX + 1];
	struct dns_query *q;
	struct rrset *lit;
	int rc;

	if (d == NULL || d->closing || cb == NULL || host == NULL)
		return -EINVAL;
	if ((q = query_new(d, Q_ADDR, arg)) == NULL)
		return -ENOMEM;
	q->cb.addr = cb;
	q->port = port;
	link_add_tail(&d->live, &q->live);
	if ((lit = literal(host)) != NULL) {
		q->nw = 1;
		q->npending = 1;
		waiter_done(&q->w[0], 0, lit);
		dns__rrset_unref(lit);
	} else {
		if ((rc = dns__name_norm(host, norm, sizeof(norm))) < 0) {
			query_abort(q);
			return rc;
		}
		if ((lit = hosts_rrset(d, norm)) != NULL) {
			/* The hosts file comes first, as for the system resolver. */
			q->nw = 1;
			q->npending = 1;
			waiter_done(&q->w[0], 0, lit);
			dns__rrset_unref(lit);
			d->st.lookups++;
			if (out)
				*out = q;
			return 0;
		}
		/* Both waiters count before either starts, so a cache hit on A cannot
		 * make the query ready while AAAA is still to be asked. */
		q->nw = q->npending = 2;
		if ((rc = lookup(d, &q->w[0], RR_A, norm)) < 0 ||
		    (rc = lookup(d, &q->w[1], RR_AAAA, norm)) < 0) {
			query_abort(q);
			return rc;
		}
	}
	d->st.lookups++;
	if (out)
		*out = q;
	return 0;
}

void
dns_cancel(struct dns_query *q)
{
	/* The query an entry still waits for stays in flight; its answer is cached. */
	if (q == NULL || q->state == Q_DELIVERING)
		return;
	query_free(q);
}

void
dns_get_stats(const struct dns *d, struct dns_stats *out)
{
	*out = d->st;
}

/* ---- life cycle ---- */

static void
lib_init(void)
{
	/* Needed only on Windows, harmless here; not thread-safe, hence once. */
	(void)ares_library_init(ARES_LIB_INIT_ALL);
}

/* Our bound on a look-up: c-ares's time-out for each try of each server. */
static void
bound_set(struct dns *d)
{
	struct ares_addr_port_node *servers = NULL;
	unsigned nservers = 0;

	if (ares_get_servers_ports(d->ch, &servers) == ARES_SUCCESS) {
		for (struct ares_addr_port_node *s = servers; s; s = s->next)
			nservers++;
		ares_free_data(servers);
	}
	d->bound_ms = (uint64_t)d->timeout_ms * d->tries * (nservers ? nservers : 1);
}

int
dns_set_servers(struct dns *d, const char *servers)
{
	int rc = ares_set_servers_ports_csv(d->ch, servers);

	if (rc != ARES_SUCCESS)
		return rc == ARES_ENOMEM ? -ENOMEM : -EINVAL;
	bound_set(d);
	return 0;
}

int
dns_new(uv_loop_t *loop, const struct dns_conf *c, struct dns **out)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct ares_options o;
	unsigned timeout_ms, tries;
	struct dns *d;
	int rc;

	pthread_once(&once, lib_init);
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return -ENOMEM;
	timeout_ms = c && c->timeout_ms ? c->timeout_ms : 1000;
	tries = c && c->tries ? c->tries : 2;
	d->max_ttl_s = c && c->max_ttl_s ? c->max_ttl_s : 3600;
	d->neg_ttl_s = c && c->neg_ttl_s ? c->neg_ttl_s : 60;
	d->max_entries = c && c->max_entries ? c->max_entries : 4096;

	memset(&o, 0, sizeof(o));
	o.sock_state_cb = sock_state_cb;
	o.sock_state_cb_data = d;
	o.timeout = (int)timeout_ms;
	o.tries = (int)tries;
	/* Queries are full names: no search list, no ndots games. */
	o.flags = ARES_FLAG_NOSEARCH;
	rc = ares_init_options(&d->ch, &o,
	    ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS);
	if (rc != ARES_SUCCESS) {
		log_warnx("%s: ares_init_options: %s", __func__, ares_strerror(rc));
		free(d);
		return rc == ARES_ENOMEM ? -ENOMEM : -EINVAL;
	}
	if (c && c->servers &&
	    (rc = ares_set_servers_ports_csv(d->ch, c->servers)) != ARES_SUCCESS) {
		log_warnx("%s: DNS servers \"%s\": %s", __func__, c->servers,
		    ares_strerror(rc));
		ares_destroy(d->ch);
		free(d);
		return rc == ARES_ENOMEM ? -ENOMEM : -EINVAL;
	}
	d->timeout_ms = timeout_ms;
	d->tries = tries;
	bound_set(d);

	if (!c || !c->hosts_file || c->hosts_file[0]) {
		if ((rc = dns_hosts_load(c && c->hosts_file ? c->hosts_file : "/etc/hosts",
		    &d->hosts)) < 0) {
			ares_destroy(d->ch);
			free(d);
			return rc;
		}
	}
	if (getrandom(&d->rng, sizeof(d->rng), 0) != (ssize_t)sizeof(d->rng))
		d->rng = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)d;
	d->loop = loop;
	link_init(&d->polls);
	link_init(&d->fifo);
	link_init(&d->deadlines);
	link_init(&d->live);
	link_init(&d->ready);
	hmap_init(&d->cache);
	uv_timer_init(loop, &d->ares_timer);
	uv_timer_init(loop, &d->deliver);
	uv_timer_init(loop, &d->deadline_timer);
	d->ares_timer.data = d->deliver.data = d->deadline_timer.data = d;
	d->handles = 3;
	*out = d;
	return 0;
}

static void
cache_free_one(struct hnode *n, void *arg)
{
	entry_free(arg, hmap_entry(n, struct entry, node));
}

void
dns_close(struct dns *d)
{
	if (d == NULL || d->closing)
		return;
	d->closing = true;
	/* Callbacks with ARES_EDESTRUCTION are ignored (closing); sock_state_cb
	 * closes the poll handles of the sockets c-ares closes. */
	ares_destroy(d->ch);
	while (!link_empty(&d->polls)) {
		struct dpoll *p = container_of(d->polls.next, struct dpoll, link);

		link_del(&p->link);
		uv_close((uv_handle_t *)&p->h, handle_closed);
	}
	while (!link_empty(&d->live)) {
		struct dns_query *q = container_of(d->live.next, struct dns_query, live);

		q->state = Q_DELIVERING;
		query_free(q);
	}
	hmap_each(&d->cache, cache_free_one, d);
	hmap_free(&d->cache);
	uv_close((uv_handle_t *)&d->ares_timer, handle_closed);
	uv_close((uv_handle_t *)&d->deliver, handle_closed);
	uv_close((uv_handle_t *)&d->deadline_timer, handle_closed);
}
