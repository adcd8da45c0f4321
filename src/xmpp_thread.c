/* xmpp_thread.c: the conversation threads kept across the gateway
 * (xmpp_thread.h): a hash map by (local, remote) for the look-ups and a
 * list in order of last use for the bounds, behind a mutex (worker 0 notes
 * threads, any worker that writes a pool user's message reads them). */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sipedge/hmap.h"
#include "sipedge/list.h"
#include "sipedge/xmpp_addr.h"
#include "sipedge/xmpp_thread.h"

struct conv {
	struct hnode node;
	struct link use;                   /* in xthreads.used */
	uint64_t at;
	char thread[XTHREAD_MAX + 1];
	char key[];                        /* "local" '\n' "remote" */
};

struct xthreads {
	pthread_mutex_t mu;
	struct hmap map;
	struct link used;                  /* by last use, the oldest first */
	size_t max;
	uint64_t idle_ms;
};

int
xthreads_new(size_t max, uint64_t idle_ms, struct xthreads **out)
{
	struct xthreads *t;

	if (max == 0 || idle_ms == 0)
		return -EINVAL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return -ENOMEM;
	if (pthread_mutex_init(&t->mu, NULL) != 0) {
		free(t);
		return -ENOMEM;
	}
	hmap_init(&t->map);
	link_init(&t->used);
	t->max = max;
	t->idle_ms = idle_ms;
	*out = t;
	return 0;
}

/* How long since at; 0 when at is later (the workers' loops cache their
 * clocks at slightly different moments). */
static uint64_t
idle_for(uint64_t now, uint64_t at)
{
	return now > at ? now - at : 0;
}

static struct conv *
oldest(struct xthreads *t)
{
	return link_empty(&t->used) ? NULL : container_of(t->used.next, struct conv, use);
}

/* c was used now: it goes to the end of the list. */
static void
touch(struct xthreads *t, struct conv *c, uint64_t now)
{
	c->at = now;
	link_del(&c->use);
	link_add_tail(&t->used, &c->use);
}

static void
drop(struct xthreads *t, struct conv *c)
{
	link_del(&c->use);
	hmap_del(&t->map, &c->node);
	free(c);
}

void
xthreads_free(struct xthreads *t)
{
	if (t == NULL)
		return;
	while (!link_empty(&t->used))
		drop(t, oldest(t));
	hmap_free(&t->map);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

/* "local\nremote" in buf; false when it does not fit or an address is
 * empty.  A newline is in no JID (RFC 7622 forbids controls). */
static bool
make_key(const char *local, const char *remote, char *buf, size_t len)
{
	int n;

	if (local == NULL || remote == NULL || !local[0] || !remote[0])
		return false;
	n = snprintf(buf, len, "%s\n%s", local, remote);
	return n > 0 && (size_t)n < len;
}

static struct conv *
find(struct xthreads *t, const char *local, const char *remote)
{
	char key[2 * XMPP_JID_MAX + 2];
	struct hnode *n;

	if (!make_key(local, remote, key, sizeof(key)) || (n = hmap_get(&t->map, key)) == NULL)
		return NULL;
	return hmap_entry(n, struct conv, node);
}

int
xthreads_note(struct xthreads *t, const char *local, const char *remote, const char *thread,
    uint64_t now)
{
	char key[2 * XMPP_JID_MAX + 2];
	struct conv *c;
	size_t klen;

	if (thread == NULL || thread[0] == '\0' || strlen(thread) > XTHREAD_MAX ||
	    !make_key(local, remote, key, sizeof(key)))
		return -EINVAL;
	pthread_mutex_lock(&t->mu);
	if ((c = find(t, local, remote)) == NULL) {
		klen = strlen(key) + 1;
		if ((c = calloc(1, sizeof(*c) + klen)) == NULL) {
			pthread_mutex_unlock(&t->mu);
			return -ENOMEM;
		}
		memcpy(c->key, key, klen);
		link_init(&c->use);
		if (hmap_put(&t->map, &c->node, c->key) < 0) {
			pthread_mutex_unlock(&t->mu);
			free(c);
			return -ENOMEM;
		}
		if (t->map.count > t->max)
			drop(t, oldest(t));    /* the conversation unused for longest */
	}
	snprintf(c->thread, sizeof(c->thread), "%s", thread);
	touch(t, c, now);
	pthread_mutex_unlock(&t->mu);
	return 0;
}

bool
xthreads_get(struct xthreads *t, const char *local, const char *remote, uint64_t now,
    char out[XTHREAD_MAX + 1])
{
	struct conv *c;
	bool hit = false;

	pthread_mutex_lock(&t->mu);
	if ((c = find(t, local, remote)) != NULL) {
		if (idle_for(now, c->at) >= t->idle_ms) {
			drop(t, c);
		} else {
			touch(t, c, now);
			memcpy(out, c->thread, sizeof(c->thread));
			hit = true;
		}
	}
	pthread_mutex_unlock(&t->mu);
	return hit;
}

void
xthreads_expire(struct xthreads *t, uint64_t now)
{
	struct conv *c;

	pthread_mutex_lock(&t->mu);
	while ((c = oldest(t)) != NULL && idle_for(now, c->at) >= t->idle_ms)
		drop(t, c);
	pthread_mutex_unlock(&t->mu);
}

size_t
xthreads_count(struct xthreads *t)
{
	size_t n;

	pthread_mutex_lock(&t->mu);
	n = t->map.count;
	pthread_mutex_unlock(&t->mu);
	return n;
}
