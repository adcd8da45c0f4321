/* test_load.c: unit tests for load.c (overload control: busy share of a
 * worker's loop -> share of new requests admitted). */
#include <stdio.h>
#include <time.h>

#include "sipedge/load.h"
#include "sipedge/worker.h"
#include "unit.h"

/* Of n new requests, how many does l admit? */
static unsigned
admitted(struct load_ctl *l, unsigned n)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n; i++)
		k += load_admit(l);
	return k;
}

static int
test_load_idle_admits_all(void)
{
	struct load_ctl l;

	load_init(&l);
	CHECK_EQ_INT(admitted(&l, 1000), 1000);
	for (int i = 0; i < 20; i++)
		load_update(&l, 600, 100);
	CHECK_EQ_INT(load_admit_share(&l), 1000);
	CHECK_EQ_INT(admitted(&l, 1000), 1000);
	CHECK_EQ_INT(l.refused, 0);
	/* A zeroed struct (never initialised) admits everything too. */
	{
		struct load_ctl z = { 0 };

		CHECK_EQ_INT(admitted(&z, 100), 100);
	}
	return 0;
}

static int
test_load_overload_sheds(void)
{
	struct load_ctl l;
	unsigned prev;

	load_init(&l);
	/* Full load: the admitted share falls at every interval, fast. */
	load_update(&l, 1000, 60000);
	CHECK_EQ_INT(load_admit_share(&l), 500);
	prev = load_admit_share(&l);
	for (int i = 0; i < 3; i++) {
		load_update(&l, 1000, 60000);
		CHECK(load_admit_share(&l) < prev);
		prev = load_admit_share(&l);
	}
	/* Spread evenly: 1000 requests at a share s get s of them through. */
	l.credit = 0;
	CHECK_EQ_INT(admitted(&l, 1000), load_admit_share(&l));
	/* Just over the high mark, turns somewhat long: once is a blip, twice
	 * a gentle cut. */
	load_init(&l);
	load_update(&l, 960, 12000);
	CHECK_EQ_INT(load_admit_share(&l), 1000);
	load_update(&l, 960, 12000);
	CHECK_EQ_INT(load_admit_share(&l), 820);
	/* Fully busy but turning fast: it keeps up, nothing is cut. */
	load_init(&l);
	for (int i = 0; i < 10; i++)
		load_update(&l, 1000, 400);
	CHECK_EQ_INT(load_admit_share(&l), 1000);
	/* Never below the floor, however long it lasts. */
	for (int i = 0; i < 200; i++)
		load_update(&l, 1000, 60000);
	CHECK_EQ_INT(load_admit_share(&l), LOAD_ADMIT_MIN_PERMILLE);
	CHECK(admitted(&l, 1000) >= LOAD_ADMIT_MIN_PERMILLE);
	return 0;
}

static int
test_load_hold_and_recover(void)
{
	struct load_ctl l;

	load_init(&l);
	for (int i = 0; i < 10; i++)
		load_update(&l, 1000, 60000);
	/* Between the marks the share holds. */
	{
		unsigned a = load_admit_share(&l);

		load_update(&l, 900, 60000);
		CHECK_EQ_INT(load_admit_share(&l), a);
	}
	/* Below the low mark it grows back by a tenth per interval: all of it
	 * within half a second (10 intervals of 50 ms), even from the floor. */
	for (int i = 0; i < 10; i++)
		load_update(&l, 300, 100);
	CHECK_EQ_INT(load_admit_share(&l), 1000);
	return 0;
}

static int
test_load_sample(void)
{
	struct load_ctl l;

	load_init(&l);
	/* The first sample only sets the origin. */
	CHECK_EQ_INT(load_sample(&l, 0, 0, 1000000000ull), 0);
	/* 50 ms of which 10 ms idle: 80 % busy, 50 turns of 1 ms. */
	CHECK_EQ_INT(load_sample(&l, 10000000ull, 50, 1050000000ull), 800);
	CHECK_EQ_INT(l.turn_us, 1000);
	CHECK_EQ_INT(load_admit_share(&l), 1000);
	/* No idle time, 400 short turns: busy but keeping up. */
	CHECK_EQ_INT(load_sample(&l, 10000000ull, 450, 1100000000ull), 1000);
	CHECK_EQ_INT(l.turn_us, 125);
	CHECK_EQ_INT(load_admit_share(&l), 1000);
	/* No idle time, no turn ended: one long turn, overloaded. */
	CHECK_EQ_INT(load_sample(&l, 10000000ull, 450, 1150000000ull), 1000);
	CHECK_EQ_INT(l.turn_us, 50000);
	CHECK_EQ_INT(load_admit_share(&l), 500);
	/* An interval under half the period is not a measure: it grows on. */
	CHECK_EQ_INT(load_sample(&l, 10000000ull, 450, 1150010000ull), 1000);
	CHECK_EQ_INT(load_admit_share(&l), 500);
	/* A clock that did not move, or counters that went back: resampled. */
	CHECK_EQ_INT(load_sample(&l, 10000000ull, 450, 1150000000ull), 1000);
	CHECK_EQ_INT(load_sample(&l, 5000000ull, 450, 1200000000ull), 1000);
	CHECK_EQ_INT(load_sample(&l, 5000000ull, 10, 1250000000ull), 1000);
	CHECK_EQ_INT(load_admit_share(&l), 500);
	return 0;
}

/* worker_idle_ns on a worker's thread: a thread that sleeps is idle, one
 * that computes is not (the kernel's count of its running time). */
struct idle_probe {
	struct worker_mail m;
	uint64_t slept, spun;              /* idle time gained over each 100 ms */
	bool done;
};

static void
idle_mail_cb(struct worker_thread *wt, struct worker_mail *m)
{
	struct idle_probe *p = (struct idle_probe *)m;
	uint64_t a, b, t0;
	volatile uint64_t x = 0;

	a = worker_idle_ns(wt);
	nanosleep(&(struct timespec){ 0, 100000000 }, NULL);
	b = worker_idle_ns(wt);
	p->slept = b - a;
	t0 = uv_hrtime();
	while (uv_hrtime() - t0 < 100000000u)
		x++;
	p->spun = worker_idle_ns(wt) - b;
	__atomic_store_n(&p->done, true, __ATOMIC_RELEASE);
}

static int
test_load_worker_idle(void)
{
	struct worker_thread wt = { 0 };
	struct idle_probe p = { 0 };

	CHECK_EQ_INT(worker_init(&wt, idle_mail_cb, NULL, NULL), 0);
	CHECK_EQ_INT(worker_start(&wt), 0);
	CHECK_EQ_INT(worker_post(&wt, &p.m), 0);
	while (!__atomic_load_n(&p.done, __ATOMIC_ACQUIRE))
		nanosleep(&(struct timespec){ 0, 5000000 }, NULL);
	worker_stop(&wt);
	worker_fini(&wt, NULL);
	printf("# idle gained: %.1f ms asleep, %.1f ms computing (of 100 each)\n",
	    (double)p.slept / 1e6, (double)p.spun / 1e6);
	CHECK(p.slept >= 80000000u);
	CHECK(p.spun <= 30000000u);
	return 0;
}

static const struct unit_test tests[] = {
	UNIT(test_load_idle_admits_all),
	UNIT(test_load_overload_sheds),
	UNIT(test_load_hold_and_recover),
	UNIT(test_load_sample),
	UNIT(test_load_worker_idle),
	{ NULL, NULL },
};

int
main(int argc, char **argv)
{
	return unit_main(argc, argv, tests);
}
