/* load.c: a worker's overload control (load.h): its loop busy and turning
 * slowly → a smaller share of new requests admitted; multiplicative decrease
 * while overloaded, additive increase below the low mark (the shape TCP's
 * congestion control made familiar: it settles fast and does not oscillate
 * wildly). */
#include <stdbool.h>
#include <stdint.h>

#include "sipedge/load.h"

void
load_init(struct load_ctl *l)
{
	*l = (struct load_ctl){ .shed_permille = 0 };
}

unsigned
load_sample(struct load_ctl *l, uint64_t idle_ns, uint64_t turns, uint64_t now_ns)
{
	uint64_t wall, idle, nturns, turn;
	unsigned busy;

	if (!l->sampled || now_ns <= l->last_ns || idle_ns < l->last_idle_ns ||
	    turns < l->last_turns) {
		l->sampled = true;
		l->last_ns = now_ns;
		l->last_idle_ns = idle_ns;
		l->last_turns = turns;
		return l->busy_permille;
	}
	wall = now_ns - l->last_ns;
	/* Two samplers (the worker's tick, the request path) can come close
	 * together; a short interval says nothing: let it grow. */
	if (wall < (uint64_t)LOAD_INTERVAL_MS * 1000000u / 2)
		return l->busy_permille;
	idle = idle_ns - l->last_idle_ns;
	nturns = turns - l->last_turns;
	busy = idle >= wall ? 0 : (unsigned)((wall - idle) * 1000 / wall);
	/* No turn ended in the interval: the one in progress is that long. */
	turn = (nturns ? wall / nturns : wall) / 1000;
	l->last_ns = now_ns;
	l->last_idle_ns = idle_ns;
	l->last_turns = turns;
	load_update(l, busy, turn > UINT32_MAX ? UINT32_MAX : (unsigned)turn);
	return busy;
}

void
load_update(struct load_ctl *l, unsigned busy, unsigned turn_us)
{
	unsigned a = load_admit_share(l);

	bool over = busy > LOAD_BUSY_HIGH_PERMILLE && turn_us >= LOAD_TURN_US;

	l->busy_permille = busy;
	l->turn_us = turn_us;
	/* One interval over is often a blip (a neighbour took the CPU for a
	 * moment): cut when it lasts, or at once when the turns are very long. */
	if (over && (l->was_over || turn_us >= LOAD_TURN_SEVERE_US)) {
		/* The further over, the harder the cut: at full load a half (a
		 * backlog builds while the share is too high, and only the time
		 * left over drains it). */
		unsigned excess = busy - LOAD_BUSY_HIGH_PERMILLE;
		unsigned cut = 100 + excess * 400 / (1000 - LOAD_BUSY_HIGH_PERMILLE);

		a = a * (1000 - cut) / 1000;
	} else if (busy < LOAD_BUSY_LOW_PERMILLE) {
		a += 100;
	}
	l->was_over = over;
	if (a < LOAD_ADMIT_MIN_PERMILLE)
		a = LOAD_ADMIT_MIN_PERMILLE;
	if (a > 1000)
		a = 1000;
	l->shed_permille = 1000 - a;
}

bool
load_admit(struct load_ctl *l)
{
	if (l->shed_permille == 0) {
		l->admitted++;
		return true;
	}
	l->credit += load_admit_share(l);
	if (l->credit >= 1000) {
		l->credit -= 1000;
		l->admitted++;
		return true;
	}
	l->refused++;
	return false;
}
