/* test_xmpp_thread.c: unit tests for xmpp_thread.c: the thread of a
 * conversation kept for the pool user's replies (RFC 7572 §5, XEP-0201
 * §5.1), per pair, bounded in number and in idle time, read by one thread
 * while another notes. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "sipedge/xmpp_thread.h"
#include "unit.h"

#define BOB "bob@contoso.test"
#define ALICE "alice@fabrikam.test"
#define CAROL "carol@fabrikam.test"

/* xthreads_get's copy, or NULL. */
static const char *
get(struct xthreads *t, const char *local, const char *remote, uint64_t now)
{
	static char out[XTHREAD_MAX + 1];

	return xthreads_get(t, local, remote, now, out) ? out : NULL;
}

/* A pair's thread is its last one; other pairs are apart. */
static int
test_xmpp_thread_pairs(void)
{
	struct xthreads *t;

	CHECK_EQ_INT(xthreads_new(10, 1000, &t), 0);
	CHECK(get(t, BOB, ALICE, 0) == NULL);
	CHECK_EQ_INT(xthreads_note(t, BOB, ALICE, "t-1", 0), 0);
	CHECK_EQ_INT(xthreads_note(t, BOB, CAROL, "t-c", 0), 0);
	CHECK_EQ_STR(get(t, BOB, ALICE, 10), "t-1");
	CHECK_EQ_STR(get(t, BOB, CAROL, 10), "t-c");
	/* The direction matters: (alice, bob) is not (bob, alice). */
	CHECK(get(t, ALICE, BOB, 10) == NULL);
	/* A new thread replaces the pair's. */
	CHECK_EQ_INT(xthreads_note(t, BOB, ALICE, "t-2", 20), 0);
	CHECK_EQ_STR(get(t, BOB, ALICE, 30), "t-2");
	CHECK_EQ_INT((int)xthreads_count(t), 2);
	xthreads_free(t);
	return 0;
}

/* Bounds: idle time (a use counts), and the number of pairs (the one
 * unused for longest goes). */
static int
test_xmpp_thread_bounds(void)
{
	struct xthreads *t;

	CHECK_EQ_INT(xthreads_new(2, 1000, &t), 0);
	CHECK_EQ_INT(xthreads_note(t, BOB, ALICE, "a", 0), 0);
	CHECK_EQ_STR(get(t, BOB, ALICE, 999), "a");       /* used: 1000 more */
	CHECK_EQ_STR(get(t, BOB, ALICE, 1998), "a");
	CHECK(get(t, BOB, ALICE, 2998) == NULL);          /* idle 1000 ms */
	CHECK_EQ_INT((int)xthreads_count(t), 0);
	CHECK_EQ_INT(xthreads_note(t, BOB, ALICE, "a", 3000), 0);
	CHECK_EQ_INT(xthreads_note(t, BOB, CAROL, "c", 3001), 0);
	CHECK_EQ_STR(get(t, BOB, ALICE, 3002), "a");      /* alice used last */
	CHECK_EQ_INT(xthreads_note(t, "dan@contoso.test", ALICE, "d", 3003), 0);
	CHECK_EQ_INT((int)xthreads_count(t), 2);
	CHECK(get(t, BOB, CAROL, 3004) == NULL);          /* carol's went */
	CHECK_EQ_STR(get(t, BOB, ALICE, 3004), "a");
	xthreads_expire(t, 4003);                                  /* dan idle 1000 ms */
	CHECK_EQ_INT((int)xthreads_count(t), 1);
	xthreads_expire(t, 5004);
	CHECK_EQ_INT((int)xthreads_count(t), 0);
	xthreads_free(t);
	return 0;
}

static int
test_xmpp_thread_refusals(void)
{
	struct xthreads *t;
	char big[XTHREAD_MAX + 2];

	CHECK_EQ_INT(xthreads_new(0, 1000, &t), -EINVAL);
	CHECK_EQ_INT(xthreads_new(1, 0, &t), -EINVAL);
	CHECK_EQ_INT(xthreads_new(1, 1000, &t), 0);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK_EQ_INT(xthreads_note(t, BOB, ALICE, big, 0), -EINVAL);
	big[XTHREAD_MAX] = '\0';
	CHECK_EQ_INT(xthreads_note(t, BOB, ALICE, big, 0), 0);     /* exactly the limit */
	CHECK_EQ_INT(xthreads_note(t, BOB, ALICE, "", 0), -EINVAL);
	CHECK_EQ_INT(xthreads_note(t, BOB, ALICE, NULL, 0), -EINVAL);
	CHECK_EQ_INT(xthreads_note(t, "", ALICE, "x", 0), -EINVAL);
	CHECK_EQ_INT(xthreads_note(t, BOB, NULL, "x", 0), -EINVAL);
	CHECK(get(t, NULL, ALICE, 0) == NULL);
	CHECK_EQ_INT((int)xthreads_count(t), 1);
	xthreads_free(t);
	xthreads_free(NULL);
	return 0;
}

/* The workers' loops cache the clock at different moments: a time a little
 * before the pair's last use is no time, not an idle age near 2^64. */
static int
test_xmpp_thread_clocks(void)
{
	struct xthreads *t;

	CHECK_EQ_INT(xthreads_new(10, 1000, &t), 0);
	CHECK_EQ_INT(xthreads_note(t, BOB, ALICE, "t-1", 5000), 0);
	CHECK_EQ_STR(get(t, BOB, ALICE, 4998), "t-1");
	xthreads_expire(t, 4990);
	CHECK_EQ_INT((int)xthreads_count(t), 1);
	CHECK_EQ_STR(get(t, BOB, ALICE, 5500), "t-1");
	xthreads_free(t);
	return 0;
}

struct noter {
	struct xthreads *t;
	int n;
};

static void *
noter_run(void *arg)
{
	struct noter *a = arg;
	char th[32];

	for (int i = 0; i < a->n; i++) {
		snprintf(th, sizeof(th), "thread-%d", i % 7);
		(void)xthreads_note(a->t, BOB, i % 2 ? ALICE : CAROL, th, (uint64_t)i);
		if (i % 100 == 0)
			xthreads_expire(a->t, (uint64_t)i);
	}
	return NULL;
}

/* One thread notes (worker 0) while another reads (a worker translating a
 * pool user's message): every read is a whole thread id (under ASan, no
 * use of a freed entry). */
static int
test_xmpp_thread_shared(void)
{
	struct noter a = { NULL, 20000 };
	char out[XTHREAD_MAX + 1];
	pthread_t th;

	CHECK_EQ_INT(xthreads_new(4, 1000000, &a.t), 0);
	CHECK_EQ_INT(pthread_create(&th, NULL, noter_run, &a), 0);
	for (int i = 0; i < 20000; i++) {
		if (xthreads_get(a.t, BOB, i % 2 ? ALICE : CAROL, (uint64_t)i, out)) {
			CHECK(strncmp(out, "thread-", 7) == 0 && out[7] >= '0' && out[7] <= '6' &&
			    out[8] == '\0');
		}
	}
	CHECK_EQ_INT(pthread_join(th, NULL), 0);
	CHECK(get(a.t, BOB, ALICE, 20000) != NULL);
	xthreads_free(a.t);
	return 0;
}

static const struct unit_test tests[] = {
	UNIT(test_xmpp_thread_pairs),
	UNIT(test_xmpp_thread_bounds),
	UNIT(test_xmpp_thread_refusals),
	UNIT(test_xmpp_thread_clocks),
	UNIT(test_xmpp_thread_shared),
	{ 0 }
};

int
main(int argc, char **argv)
{
	return unit_main(argc, argv, tests);
}
