/* health.c: the next hops that failed, shared by every worker (see health.h).
 * A small list under one mutex: an edge has few next hops, and a request looks
 * them up once, before its first dial. */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sipedge/health.h"
#include "sipedge/log.h"

struct target {
	struct hop hop;
	enum side side;
	uint64_t since;            /* down since */
	uint64_t probe_at;         /* next probe due */
};

struct health {
	pthread_mutex_t mu;
	unsigned retry_ms;
	size_t max, n;
	struct target *v;
};

int
health_new(unsigned retry_ms, size_t max, struct health **out)
{
	struct health *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return -ENOMEM;
	if (pthread_mutex_init(&h->mu, NULL) != 0) {
		free(h);
		return -ENOMEM;
	}
	h->retry_ms = retry_ms ? retry_ms : 10000;
	h->max = max ? max : 256;
	if ((h->v = calloc(h->max, sizeof(*h->v))) == NULL) {
		pthread_mutex_destroy(&h->mu);
		free(h);
		return -ENOMEM;
	}
	*out = h;
	return 0;
}

void
health_free(struct health *h)
{
	if (h == NULL)
		return;
	pthread_mutex_destroy(&h->mu);
	free(h->v);
	free(h);
}

/* The same target: name, transport, side, and address and port (or, for a
 * hop to be resolved, the port). */
static bool
same(const struct hop *a, const struct hop *b)
{
	if (a->kind != b->kind || a->has_addr != b->has_addr || strcasecmp(a->fqdn, b->fqdn) != 0)
		return false;
	if (!a->has_addr)
		return a->port == b->port;
	return conf_sockaddr_port(&a->addr) == conf_sockaddr_port(&b->addr) &&
	    conf_sockaddr_same_ip(&a->addr, &b->addr);
}

static struct target *
find(struct health *h, const struct hop *hop, enum side side)
{
	for (size_t i = 0; i < h->n; i++)
		if (h->v[i].side == side && same(&h->v[i].hop, hop))
			return &h->v[i];
	return NULL;
}

void
health_down(struct health *h, const struct hop *hop, enum side side, uint64_t now,
    const char *why)
{
	struct target *t;
	char a[80];

	pthread_mutex_lock(&h->mu);
	if ((t = find(h, hop, side)) != NULL) {
		t->probe_at = now + h->retry_ms;
		pthread_mutex_unlock(&h->mu);
		return;
	}
	if (h->n == h->max) {
		/* Forget the one down the longest: it is tried last anyway. */
		size_t oldest = 0;

		for (size_t i = 1; i < h->n; i++)
			if (h->v[i].since < h->v[oldest].since)
				oldest = i;
		h->v[oldest] = h->v[--h->n];
	}
	t = &h->v[h->n++];
	t->hop = *hop;
	t->side = side;
	t->since = now;
	t->probe_at = now + h->retry_ms;
	pthread_mutex_unlock(&h->mu);
	log_info("next hop %s (%s) is down: %s; tried after the others, probed every %u ms",
	    hop->fqdn, hop->has_addr ? conf_sockaddr_str(&hop->addr, a, sizeof(a)) : "by name",
	    why ? why : "failed", h->retry_ms);
}

bool
health_up(struct health *h, const struct hop *hop, enum side side)
{
	struct target *t;
	char a[80];

	pthread_mutex_lock(&h->mu);
	if ((t = find(h, hop, side)) == NULL) {
		pthread_mutex_unlock(&h->mu);
		return false;
	}
	*t = h->v[--h->n];
	pthread_mutex_unlock(&h->mu);
	log_info("next hop %s (%s) is up again", hop->fqdn,
	    hop->has_addr ? conf_sockaddr_str(&hop->addr, a, sizeof(a)) : "by name");
	return true;
}

bool
health_is_down(struct health *h, const struct hop *hop, enum side side)
{
	bool down;

	pthread_mutex_lock(&h->mu);
	down = find(h, hop, side) != NULL;
	pthread_mutex_unlock(&h->mu);
	return down;
}

size_t
health_order(struct health *h, struct hop *hops, size_t n, enum side side)
{
	bool down[64];
	struct hop *tmp;
	size_t k = 0, ndown = 0;

	if (n == 0 || n > 64)
		return 0;
	pthread_mutex_lock(&h->mu);
	if (h->n == 0) {
		pthread_mutex_unlock(&h->mu);
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		if ((down[i] = find(h, &hops[i], side) != NULL))
			ndown++;
	pthread_mutex_unlock(&h->mu);
	if (ndown == 0 || (tmp = malloc(n * sizeof(*tmp))) == NULL)
		return ndown;
	for (size_t i = 0; i < n; i++)
		if (!down[i])
			tmp[k++] = hops[i];
	for (size_t i = 0; i < n; i++)
		if (down[i])
			tmp[k++] = hops[i];
	memcpy(hops, tmp, n * sizeof(*tmp));
	free(tmp);
	return ndown;
}

size_t
health_due(struct health *h, uint64_t now, struct hop *hops, enum side *sides, size_t max)
{
	size_t k = 0;

	pthread_mutex_lock(&h->mu);
	for (size_t i = 0; i < h->n && k < max; i++)
		if (h->v[i].probe_at <= now) {
			hops[k] = h->v[i].hop;
			sides[k++] = h->v[i].side;
			h->v[i].probe_at = now + h->retry_ms;
		}
	pthread_mutex_unlock(&h->mu);
	return k;
}

size_t
health_count(struct health *h)
{
	size_t n;

	pthread_mutex_lock(&h->mu);
	n = h->n;
	pthread_mutex_unlock(&h->mu);
	return n;
}
