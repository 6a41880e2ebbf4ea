/* SPDX-License-Identifier: MIT */
/*
 * What every model fuzzer in tests/fuzz/ shares: a byte reader over
 * libFuzzer's input (reads past the end give 0, so every input is a complete
 * program), FZ_CHECK() which names the failing step and traps, and the
 * libFuzzer entry declarations plus an initialiser that silences the
 * library's expected warnings.
 *
 * Before including: #define FZ_NAME "<module>" and declare
 * `static unsigned long fz_step;` (the step counter FZ_CHECK prints).
 */
#ifndef FA_TEST_FZ_INPUT_H
#define FA_TEST_FZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FZ_CHECK(c)                                                                     \
	do {                                                                            \
		if (!(c)) {                                                             \
			fprintf(stderr, FZ_NAME " fuzz: step %lu: %s (line %d)\n",      \
				fz_step, #c, __LINE__);                                 \
			__builtin_trap();                                               \
		}                                                                       \
	} while (0)

struct fz_in {
	const uint8_t *p;
	size_t n;
};

static inline unsigned int fz_byte(struct fz_in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static inline uint64_t fz_u16(struct fz_in *in)
{
	return fz_byte(in) | (uint64_t)fz_byte(in) << 8;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	setenv("FA_TEST_QUIET_WARN", "1", 1);
	return 0;
}

#endif
