/* unit.h: a header-only TAP runner for unit tests (libuv test/runner.c style).
 *
 * Each test is a function registered in a table; the runner forks one process
 * per test, kills it after a timeout, and prints one TAP line per test.  A test
 * fails by returning non-zero, by a failed CHECK, or by crashing.
 *
 *   static int test_route_blocked(void) { CHECK(decide(...) == 403); return 0; }
 *   static const struct unit_test tests[] = { UNIT(test_route_blocked), { 0 } };
 *   int main(int argc, char **argv) { return unit_main(argc, argv, tests); }
 *
 * Run one test in-process (for gdb): ./test_x test_route_blocked */
#ifndef SIPEDGE_UNIT_H
#define SIPEDGE_UNIT_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct unit_test {
	const char *name;
	int (*fn)(void);
};

#define UNIT(f) { #f, f }

#define CHECK(cond)                                                           \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "# %s:%d: CHECK failed: %s\n",        \
			    __FILE__, __LINE__, #cond);                       \
			return 1;                                             \
		}                                                             \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                    \
	do {                                                                  \
		long long a_ = (long long)(a), b_ = (long long)(b);           \
		if (a_ != b_) {                                               \
			fprintf(stderr, "# %s:%d: %s == %lld, expected %s == %lld\n", \
			    __FILE__, __LINE__, #a, a_, #b, b_);              \
			return 1;                                             \
		}                                                             \
	} while (0)

#define CHECK_EQ_STR(a, b)                                                    \
	do {                                                                  \
		const char *a_ = (a), *b_ = (b);                              \
		if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) {        \
			fprintf(stderr, "# %s:%d: %s == \"%s\", expected \"%s\"\n", \
			    __FILE__, __LINE__, #a, a_ ? a_ : "(null)",       \
			    b_ ? b_ : "(null)");                              \
			return 1;                                             \
		}                                                             \
	} while (0)

static inline int
unit_main(int argc, char **argv, const struct unit_test *tests)
{
	const char *t = getenv("UNIT_TIMEOUT");
	unsigned timeout = t ? (unsigned)atoi(t) : 60;
	int n = 0, failed = 0;

	/* As the daemon does: a write to a peer that has gone is an error to
	 * handle, not a signal that ends the process. */
	signal(SIGPIPE, SIG_IGN);

	if (argc > 1) {
		for (const struct unit_test *u = tests; u->name; u++)
			if (strcmp(u->name, argv[1]) == 0)
				return u->fn();
		fprintf(stderr, "no test named %s\n", argv[1]);
		return 2;
	}
	for (const struct unit_test *u = tests; u->name; u++)
		n++;
	printf("1..%d\n", n);
	fflush(stdout);
	n = 0;
	for (const struct unit_test *u = tests; u->name; u++) {
		int status = 0;
		pid_t pid = fork();

		n++;
		if (pid == 0) {
			alarm(timeout);
			_exit(u->fn() == 0 ? 0 : 1);
		}
		if (pid < 0 || waitpid(pid, &status, 0) < 0) {
			printf("not ok %d - %s # fork/wait failed\n", n, u->name);
			failed++;
			continue;
		}
		if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
			printf("ok %d - %s # SKIP\n", n, u->name);
		} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			printf("ok %d - %s\n", n, u->name);
		} else {
			failed++;
			if (WIFSIGNALED(status))
				printf("not ok %d - %s # killed by signal %d%s\n", n, u->name,
				    WTERMSIG(status),
				    WTERMSIG(status) == SIGALRM ? " (timeout)" : "");
			else
				printf("not ok %d - %s\n", n, u->name);
		}
		fflush(stdout);
	}
	return failed ? 1 : 0;
}

#endif
