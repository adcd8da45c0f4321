/* fuzz.h: what every libFuzzer target in tests/fuzz shares: the entry point
 * (defined once per target, run by libFuzzer or by replay.c) and FUZZ_CHECK,
 * which aborts on a broken invariant so that libFuzzer keeps the input as a
 * crash and replay.c fails. */
#ifndef SIPEDGE_FUZZ_H
#define SIPEDGE_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                      \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "%s:%d: invariant broken: %s\n",      \
			    __FILE__, __LINE__, #cond);                       \
			abort();                                              \
		}                                                             \
	} while (0)

#endif
