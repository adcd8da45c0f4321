/* hmap.c: intrusive hash map (see hmap.h). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "sipedge/hmap.h"
#include "sipedge/rr.h"

static struct rr_key hkey;
static pthread_once_t hkey_once = PTHREAD_ONCE_INIT;

static void
hkey_init(void)
{
	/* One random key per process, so collisions cannot be precomputed. */
	if (getrandom(&hkey, sizeof(hkey), 0) != (ssize_t)sizeof(hkey)) {
		hkey.k0 = (uint64_t)(uintptr_t)&hkey;
		hkey.k1 = 0x9e3779b97f4a7c15ULL;
	}
}

static uint64_t
hash_str(const char *s)
{
	pthread_once(&hkey_once, hkey_init);
	return rr_siphash(&hkey, s, strlen(s));
}

void
hmap_init(struct hmap *m)
{
	memset(m, 0, sizeof(*m));
}

void
hmap_free(struct hmap *m)
{
	free(m->buckets);
	memset(m, 0, sizeof(*m));
}

static int
grow(struct hmap *m)
{
	size_t nb = m->nbuckets ? m->nbuckets * 2 : 64;
	struct hnode **b = calloc(nb, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct hnode *n = m->buckets[i], *next;

		for (; n; n = next) {
			next = n->next;
			n->next = b[n->hash & (nb - 1)];
			b[n->hash & (nb - 1)] = n;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->nbuckets = nb;
	return 0;
}

int
hmap_put(struct hmap *m, struct hnode *n, const char *key)
{
	size_t i;

	if (m->count >= m->nbuckets && grow(m) < 0)
		return -ENOMEM;
	n->key = key;
	n->hash = hash_str(key);
	i = n->hash & (m->nbuckets - 1);
	n->next = m->buckets[i];
	m->buckets[i] = n;
	m->count++;
	return 0;
}

struct hnode *
hmap_get(const struct hmap *m, const char *key)
{
	uint64_t h;

	if (!m->nbuckets)
		return NULL;
	h = hash_str(key);
	for (struct hnode *n = m->buckets[h & (m->nbuckets - 1)]; n; n = n->next)
		if (n->hash == h && strcmp(n->key, key) == 0)
			return n;
	return NULL;
}

void
hmap_del(struct hmap *m, struct hnode *n)
{
	struct hnode **pp;

	if (!m->nbuckets)
		return;
	for (pp = &m->buckets[n->hash & (m->nbuckets - 1)]; *pp; pp = &(*pp)->next)
		if (*pp == n) {
			*pp = n->next;
			n->next = NULL;
			m->count--;
			return;
		}
}

void
hmap_each(struct hmap *m, void (*fn)(struct hnode *, void *), void *arg)
{
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct hnode *n = m->buckets[i], *next;

		for (; n; n = next) {
			next = n->next;
			fn(n, arg);
		}
	}
}
