/* test_xmpp_thread.c: unit tests for xmpp_thread.c: the thread of a
 * conversation kept for the pool user's replies (RFC 7572 §5, XEP-0201
 * §5.1), per pair, bounded in number and in idle time. */
#include <errno.h>
#include <string.h>

#include "sipedge/xmpp_thread.h"
#include "unit.h"

#define BOB "bob@contoso.test"
#define ALICE "alice@fabrikam.test"
#define CAROL "carol@fabrikam.test"

/* A pair's thread is its last one; other pairs are apart. */
static int
test_xmpp_thread_pairs(void)
{
	struct xthreads *t;

	CHECK_EQ_INT(xthreads_new(10, 1000, &t), 0);
	CHECK(xthreads_get(t, BOB, ALICE, 0) == NULL);
	CHECK_EQ_INT(xthreads_note(t, BOB, ALICE, "t-1", 0), 0);
	CHECK_EQ_INT(xthreads_note(t, BOB, CAROL, "t-c", 0), 0);
	CHECK_EQ_STR(xthreads_get(t, BOB, ALICE, 10), "t-1");
	CHECK_EQ_STR(xthreads_get(t, BOB, CAROL, 10), "t-c");
	/* The direction matters: (alice, bob) is not (bob, alice). */
	CHECK(xthreads_get(t, ALICE, BOB, 10) == NULL);
	/* A new thread replaces the pair's. */
	CHECK_EQ_INT(xthreads_note(t, BOB, ALICE, "t-2", 20), 0);
	CHECK_EQ_STR(xthreads_get(t, BOB, ALICE, 30), "t-2");
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
	CHECK_EQ_STR(xthreads_get(t, BOB, ALICE, 999), "a");       /* used: 1000 more */
	CHECK_EQ_STR(xthreads_get(t, BOB, ALICE, 1998), "a");
	CHECK(xthreads_get(t, BOB, ALICE, 2998) == NULL);          /* idle 1000 ms */
	CHECK_EQ_INT((int)xthreads_count(t), 0);
	CHECK_EQ_INT(xthreads_note(t, BOB, ALICE, "a", 3000), 0);
	CHECK_EQ_INT(xthreads_note(t, BOB, CAROL, "c", 3001), 0);
	CHECK_EQ_STR(xthreads_get(t, BOB, ALICE, 3002), "a");      /* alice used last */
	CHECK_EQ_INT(xthreads_note(t, "dan@contoso.test", ALICE, "d", 3003), 0);
	CHECK_EQ_INT((int)xthreads_count(t), 2);
	CHECK(xthreads_get(t, BOB, CAROL, 3004) == NULL);          /* carol's went */
	CHECK_EQ_STR(xthreads_get(t, BOB, ALICE, 3004), "a");
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
	CHECK(xthreads_get(t, NULL, ALICE, 0) == NULL);
	CHECK_EQ_INT((int)xthreads_count(t), 1);
	xthreads_free(t);
	xthreads_free(NULL);
	return 0;
}

static const struct unit_test tests[] = {
	UNIT(test_xmpp_thread_pairs),
	UNIT(test_xmpp_thread_bounds),
	UNIT(test_xmpp_thread_refusals),
	{ 0 }
};

int
main(int argc, char **argv)
{
	return unit_main(argc, argv, tests);
}
