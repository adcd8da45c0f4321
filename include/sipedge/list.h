/* list.h: a circular doubly-linked list embedded in its nodes (the DNS
 * cache's entries, waiters and deadlines), and container_of. */
#ifndef SIPEDGE_LIST_H
#define SIPEDGE_LIST_H

#include <stdbool.h>
#include <stddef.h>

#define container_of(p, type, member) \
	((type *)(void *)((char *)(p) - offsetof(type, member)))

/* A circular doubly-linked list; a node that is in no list points to itself, so
 * unlinking twice is harmless. */
struct link {
	struct link *prev, *next;
};

static inline void
link_init(struct link *l)
{
	l->prev = l->next = l;
}

static inline bool
link_empty(const struct link *l)
{
	return l->next == l;
}

static inline void
link_del(struct link *l)
{
	l->prev->next = l->next;
	l->next->prev = l->prev;
	link_init(l);
}

static inline void
link_add_tail(struct link *head, struct link *l)
{
	l->prev = head->prev;
	l->next = head;
	head->prev->next = l;
	head->prev = l;
}

/* Moves every node of from to the end of to; from becomes empty. */
static inline void
link_splice(struct link *to, struct link *from)
{
	if (link_empty(from))
		return;
	from->next->prev = to->prev;
	to->prev->next = from->next;
	from->prev->next = to;
	to->prev = from->prev;
	link_init(from);
}

#endif
