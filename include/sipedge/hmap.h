/* hmap.h: intrusive chained hash map with string keys, keyed SipHash so that
 * peer-chosen keys (Via branches, Call-IDs) cannot be made to collide. */
#ifndef SIPEDGE_HMAP_H
#define SIPEDGE_HMAP_H

#include <stddef.h>
#include <stdint.h>

/* Embed in the object; key points into the object and must outlive membership. */
struct hnode {
	struct hnode *next;
	uint64_t hash;
	const char *key;
};

struct hmap {
	struct hnode **buckets;
	size_t nbuckets;
	size_t count;
};

void hmap_init(struct hmap *m);
void hmap_free(struct hmap *m);          /* frees the buckets, not the objects */
int hmap_put(struct hmap *m, struct hnode *n, const char *key);  /* 0 or -ENOMEM */
struct hnode *hmap_get(const struct hmap *m, const char *key);
void hmap_del(struct hmap *m, struct hnode *n);
/* Visit every node; fn may delete the node it is given. */
void hmap_each(struct hmap *m, void (*fn)(struct hnode *, void *), void *arg);

#define hmap_entry(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#endif
