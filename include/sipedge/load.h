/* load.h: overload control for one worker (RFC 3261 §21.5.4 503 with
 * Retry-After; the policy of RFC 7339 §5.10, without its Via parameters): how
 * busy the worker's loop was over the last interval decides what share of new
 * requests it admits.  Refusing early and cheaply, before a transaction, a
 * route or a next-hop write exists, keeps the requests it admits fast; letting
 * the kernel's socket buffers fill instead would delay every one of them.
 *
 * Pure arithmetic: the caller measures (worker_idle_ns) and feeds
 * load_update(); load_admit() is called once per new request. */
#ifndef SIPEDGE_LOAD_H
#define SIPEDGE_LOAD_H

#include <stdbool.h>
#include <stdint.h>

/* Overloaded means both: the loop was busy above this share of the interval,
 * and its turns (one poll for input and the work on what it returned) lasted
 * LOAD_TURN_US on average.  A loop that is busy but turns fast keeps up, every
 * message waiting at most one short turn; long turns are a backlog, and every
 * message in them waits for the whole turn. */
#define LOAD_BUSY_HIGH_PERMILLE  950
#define LOAD_TURN_US             10000
/* Overloaded in two intervals in a row, or in one with turns this long,
 * before the share is cut. */
#define LOAD_TURN_SEVERE_US      50000
/* Below this busy share the admitted share grows back. */
#define LOAD_BUSY_LOW_PERMILLE   850
/* Never below this share (some requests always get through, so the measure
 * keeps seeing real work and recovery needs no probe). */
#define LOAD_ADMIT_MIN_PERMILLE  20
/* The measuring interval. */
#define LOAD_INTERVAL_MS         50

struct load_ctl {
	/* Share of new requests refused; 0 (a zeroed struct) admits all. */
	unsigned shed_permille;
	unsigned credit;                /* permille carried between requests */
	_Atomic unsigned busy_permille; /* the last interval's measures (read by other workers) */
	unsigned turn_us;
	uint64_t last_idle_ns, last_ns; /* the previous sample */
	uint64_t last_turns;
	bool sampled;
	bool was_over;                  /* the last interval was overloaded */
	uint64_t admitted, refused;     /* since load_init */
};

void load_init(struct load_ctl *l);
/* One sample: the loop's cumulative idle time, its turns so far, and the
 * clock (ns).  Returns the busy share of the interval since the previous
 * sample, permille (an interval under half the period is left to grow). */
unsigned load_sample(struct load_ctl *l, uint64_t idle_ns, uint64_t turns, uint64_t now_ns);
/* The controller's step for an interval's busy share (permille) and mean
 * turn (us), also used by tests. */
void load_update(struct load_ctl *l, unsigned busy_permille, unsigned turn_us);
/* Admit one new request?  Deterministic: load_admit_share() of them, evenly spread. */
bool load_admit(struct load_ctl *l);
/* The share admitted, permille. */
static inline unsigned
load_admit_share(const struct load_ctl *l)
{
	return 1000 - l->shed_permille;
}

#endif
