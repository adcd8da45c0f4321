/* xmpp_xml_mem.c: expat's memory for the XMPP parser (xmpp_xml.c): a quota
 * per parser (struct xmpp_parser_limits.memory_max, resource-constraint when
 * exceeded) and, for a stream's parser, pages of its own.
 *
 * expat's allocator takes no argument, so the quota to charge is the one of
 * the parser being worked on by this thread, set around every call into
 * expat (a parser is used from one thread); each block records its owner,
 * so that it is credited back to the right one whatever runs when it is
 * freed.
 *
 * Why pages of its own: an idle stream gives its expat back
 * (xmpp_parser_sleep), about 11 KiB a stream.  From the common heap that
 * memory stays resident: expat's blocks were taken while the stream's TLS
 * and stream state were, between them, so few whole pages come free.  A
 * stream parser's blocks come instead from an arena of mmap'd chunks (16
 * KiB, then doubling), in size classes with a free list each
 * (expat frees and takes blocks of the same sizes as it goes, which the
 * lists give back), and the arena is unmapped as a whole when its parser is
 * freed: the kernel has the pages back at once.  A whole document
 * (xml_doc_parse, doc mode) lives for microseconds and takes the common heap
 * (no system call per message). */
#include <errno.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <expat.h>

#include "xmpp_xml_int.h"

/* Under AddressSanitizer the arena's free blocks, the slack of each block
 * past what was asked for and the unused end of a chunk are poisoned, so
 * that expat's reads and writes are checked as they are on the heap. */
#if defined(__SANITIZE_ADDRESS__)
#define ARENA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_ASAN 1
#endif
#endif
#ifdef ARENA_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

_Thread_local struct xmpp_xml__quota *xmpp_xml__cur_quota;

/* Block classes: a header and 32, 48, 64, 96, … 49152, 65536 octets (each
 * power of two and one and a half times it: expat asks for powers of two,
 * and a header on top of one must not double it); a larger block gets a
 * mapping of its own, unmapped when it is freed.  Chunks are mapped larger
 * than they are used: a page the bump pointer has not reached is not
 * resident. */
#define NCLS 23
#define CLS_BIG 0xffffu
#define CHUNK_FIRST (16 * 1024)
#define CHUNK_MAX (256 * 1024)

struct blk {
	alignas(max_align_t) void *owner;  /* the arena (cls != CLS_NONE) or the quota */
	uint32_t size;                     /* what was asked for */
	uint16_t cls;                      /* class, CLS_BIG, or CLS_NONE (malloc) */
};
#define CLS_NONE 0xfffeu

static size_t
cls_size(unsigned k)
{
	return sizeof(struct blk) + ((k & 1) ? (size_t)48 << (k / 2) : (size_t)32 << (k / 2));
}

struct chunk {
	struct chunk *next;
	size_t len;                        /* mapped, this header included */
};

struct xmpp_xml__arena {
	struct xmpp_xml__quota *q;
	struct chunk *chunks;              /* the first holds this arena */
	char *bump;                        /* unused end of the newest chunk */
	size_t left;
	size_t next_len;                   /* the next chunk's size */
	size_t mapped;
	struct blk *freel[NCLS];
};

static size_t
align_up(size_t n, size_t a)
{
	return (n + a - 1) & ~(a - 1);
}

static void *
map(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static struct xmpp_xml__arena *
arena_new(struct xmpp_xml__quota *q)
{
	struct chunk *c = map(CHUNK_FIRST);
	struct xmpp_xml__arena *a;
	size_t hdr = align_up(sizeof(*c), alignof(max_align_t)) +
	    align_up(sizeof(*a), alignof(max_align_t));

	if (c == NULL)
		return NULL;
	c->next = NULL;
	c->len = CHUNK_FIRST;
	a = (struct xmpp_xml__arena *)((char *)c + align_up(sizeof(*c), alignof(max_align_t)));
	memset(a, 0, sizeof(*a));
	a->q = q;
	a->chunks = c;
	a->bump = (char *)c + hdr;
	a->left = CHUNK_FIRST - hdr;
	a->next_len = 2 * CHUNK_FIRST;
	a->mapped = CHUNK_FIRST;
	POISON(a->bump, a->left);
	return a;
}

void
xmpp_xml__arena_free(struct xmpp_xml__arena *a)
{
	struct chunk *c, *next, *first;

	if (a == NULL)
		return;
	for (first = a->chunks; first->next != NULL; first = first->next)
		;
	for (c = a->chunks; c != first; c = next) {
		next = c->next;
		UNPOISON(c, c->len);       /* the shadow outlives the mapping */
		munmap(c, c->len);
	}
	UNPOISON(first, first->len);
	munmap(first, first->len);         /* the arena itself */
}

size_t
xmpp_xml__arena_mapped(const struct xmpp_xml__arena *a)
{
	return a ? a->mapped : 0;
}

/* A block of class cls (its 32 << cls octets) from the arena. */
static struct blk *
arena_take(struct xmpp_xml__arena *a, unsigned cls)
{
	size_t sz = cls_size(cls), len, hdr;
	struct chunk *c;
	struct blk *b;

	if ((b = a->freel[cls]) != NULL) {
		UNPOISON(b, sz);
		a->freel[cls] = b->owner;
		return b;
	}
	if (a->left < sz) {
		/* The rest of the newest chunk goes to the free lists, largest
		 * classes first, so that nothing mapped is left unusable. */
		for (unsigned k = NCLS; k-- > 0;) {
			size_t ks = cls_size(k);

			while (a->left >= ks) {
				struct blk *r = (struct blk *)a->bump;

				UNPOISON(r, sizeof(*r));
				r->owner = a->freel[k];
				POISON(r, ks);
				a->freel[k] = r;
				a->bump += ks;
				a->left -= ks;
			}
		}
		hdr = align_up(sizeof(*c), alignof(max_align_t));
		len = a->next_len;
		while (len < sz + hdr)
			len *= 2;
		if ((c = map(len)) == NULL)
			return NULL;
		c->len = len;
		c->next = a->chunks;
		a->chunks = c;
		a->bump = (char *)c + hdr;
		a->left = len - hdr;
		a->mapped += len;
		POISON(a->bump, a->left);
		if (a->next_len < CHUNK_MAX)
			a->next_len *= 2;
	}
	b = (struct blk *)a->bump;
	UNPOISON(b, sz);
	a->bump += sz;
	a->left -= sz;
	return b;
}

static int
class_of(size_t total)
{
	for (unsigned k = 0; k < NCLS; k++)
		if (total <= cls_size(k))
			return (int)k;
	return -1;
}

static bool
charge(struct xmpp_xml__quota *q, size_t n)
{
	if (q == NULL)
		return true;
	if (n > q->max || q->used > q->max - n) {
		q->hit = true;
		return false;
	}
	q->used += n;
	if (q->used > q->peak)
		q->peak = q->used;
	return true;
}

static void
credit(struct xmpp_xml__quota *q, size_t n)
{
	if (q)
		q->used -= n;
}

static struct xmpp_xml__quota *
owner_quota(const struct blk *b)
{
	if (b->cls == CLS_NONE)
		return b->owner;
	return ((const struct xmpp_xml__arena *)b->owner)->q;
}

/* A block of n octets from arena a: of the class that holds it, or a
 * mapping of its own. */
static struct blk *
take_arena(struct xmpp_xml__arena *a, size_t n)
{
	size_t total = sizeof(struct blk) + n;
	struct blk *b;
	int cls;

	if ((cls = class_of(total)) >= 0) {
		if ((b = arena_take(a, (unsigned)cls)) == NULL)
			return NULL;
		b->cls = (uint16_t)cls;
	} else {
		if ((b = map(align_up(total, 4096))) == NULL)
			return NULL;
		a->mapped += align_up(total, 4096);
		b->cls = CLS_BIG;
	}
	b->owner = a;
	return b;
}

/* A block of n octets for q: from its arena when it uses pages of its own
 * (made on the first block), else from malloc. */
static struct blk *
take(struct xmpp_xml__quota *q, size_t n)
{
	struct blk *b;

	if (q == NULL || !q->own_pages) {
		if ((b = malloc(sizeof(*b) + n)) == NULL)
			return NULL;
		b->owner = q;
		b->cls = CLS_NONE;
		return b;
	}
	if (q->arena == NULL && (q->arena = arena_new(q)) == NULL)
		return NULL;
	return take_arena(q->arena, n);
}

/* b now holds n octets: the rest of its class is off limits. */
static void
set_size(struct blk *b, size_t n)
{
	b->size = (uint32_t)n;
	if (b->cls < NCLS) {
		UNPOISON(b + 1, n);
		POISON((char *)(b + 1) + n, cls_size(b->cls) - sizeof(*b) - n);
	}
}

static void
give(struct blk *b)
{
	struct xmpp_xml__arena *a;

	switch (b->cls) {
	case CLS_NONE:
		free(b);
		break;
	case CLS_BIG:
		a = b->owner;
		a->mapped -= align_up(sizeof(*b) + b->size, 4096);
		UNPOISON(b, align_up(sizeof(*b) + b->size, 4096));
		munmap(b, align_up(sizeof(*b) + b->size, 4096));
		break;
	default:
		a = b->owner;
		b->owner = a->freel[b->cls];
		a->freel[b->cls] = b;
		POISON(b, cls_size(b->cls));
		break;
	}
}

static void *
quota_malloc(size_t n)
{
	struct xmpp_xml__quota *q = xmpp_xml__cur_quota;
	struct blk *b;

	if (n > UINT32_MAX - sizeof(*b) || !charge(q, n + sizeof(*b)))
		return NULL;
	if ((b = take(q, n)) == NULL) {
		if (q) {
			q->used -= n + sizeof(*b);
			q->sysfail = true;
		}
		return NULL;
	}
	set_size(b, n);
	return b + 1;
}

static void
quota_free(void *ptr)
{
	struct blk *b;

	if (ptr == NULL)
		return;
	b = (struct blk *)ptr - 1;
	credit(owner_quota(b), b->size + sizeof(*b));
	give(b);
}

static void *
quota_realloc(void *ptr, size_t n)
{
	struct xmpp_xml__quota *q;
	struct blk *b, *nb;
	size_t old;

	if (ptr == NULL)
		return quota_malloc(n);
	b = (struct blk *)ptr - 1;
	q = owner_quota(b);
	old = b->size;
	if (n > UINT32_MAX - sizeof(*b))
		return NULL;
	/* Only the difference is charged, as realloc would need. */
	if (n > old && !charge(q, n - old))
		return NULL;
	if (b->cls == CLS_NONE) {
		nb = realloc(b, sizeof(*b) + n);
	} else if (b->cls != CLS_BIG && sizeof(*b) + n <= cls_size(b->cls)) {
		nb = b;                    /* its class still holds it */
	} else if ((nb = take_arena(b->owner, n)) != NULL) {
		/* Moved within the arena it came from (an old parser's, while
		 * a compaction makes a new one, stays in its own). */
		memcpy(nb + 1, ptr, old < n ? old : n);
		give(b);
	}
	if (nb == NULL) {
		if (n > old)
			credit(q, n - old);
		if (q)
			q->sysfail = true;
		return NULL;
	}
	if (n < old)
		credit(q, old - n);
	set_size(nb, n);
	return nb + 1;
}

const XML_Memory_Handling_Suite xmpp_xml__mem_suite = {
	quota_malloc, quota_realloc, quota_free
};
