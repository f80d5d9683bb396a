/*
 * fuzz.h: what every harness in tests/fuzz/ shares.
 *
 * A harness is one file, fuzz_NAME.c, that defines LLVMFuzzerTestOneInput() for one
 * parser that reads untrusted bytes.  It is linked twice: with libFuzzer in a GG_FUZZ
 * build (tools/fuzz runs it), and with replay.c in every build, where ctest replays
 * its committed corpus (tests/fuzz/corpus/NAME/) so that every crash once found stays
 * a regression test, also without clang and under the plain ASan build.
 *
 * A harness checks more than "does not crash": it asserts the parser's promises
 * (what it accepts round-trips, nothing escapes a directory) with FUZZ_ASSERT, which
 * aborts so that both libFuzzer and ctest report the input as a failure.
 */
#ifndef GG_FUZZ_H
#define GG_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * jansson seeds its hash tables from /dev/urandom, so objects would iterate in
 * another order in every process, and what the code under test does with them (and
 * the coverage libFuzzer steers by) with it.  A fixed seed, set before main, keeps
 * one input doing one thing, and the gate's seed-1 runs (tools/fuzz) alike.
 */
__attribute__((constructor)) static void fuzz_fixed_json_seed(void)
{
	json_object_seed(1);
}

#define FUZZ_ASSERT(cond)                                                          \
	do {                                                                       \
		if (!(cond)) {                                                     \
			fprintf(stderr, "%s:%d: fuzz assertion failed: %s\n",      \
				__FILE__, __LINE__, #cond);                        \
			abort();                                                   \
		}                                                                  \
	} while (0)

/*
 * Causes are printed on a terminal and quote untrusted input: true when cause is one
 * line free of control characters (C0, DEL, UTF-8 encoded C1), as error.h promises.
 */
static inline int fuzz_cause_is_printable(const char *cause)
{
	const unsigned char *p;

	for (p = (const unsigned char *)cause; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f || (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
			return 0;
	return 1;
}

#endif
