/* SPDX-License-Identifier: MIT */
/*
 * Linked into the ThreadSanitizer unit-test binary only.
 *
 * Criterion's sandbox (BoxFort) maps a shared arena at a random address in
 * [0x200000000000, 0x7f0000000000), chosen with rand_r() and mapped with
 * MAP_FIXED. ThreadSanitizer reserves most of that window for its shadow and
 * meta memory and refuses such mappings, so `criterion: Could not initialize
 * inheritable arena` aborts about nine runs in ten. This rand_r() (which the
 * executable exports ahead of libc's) keeps the pick inside the window TSan
 * leaves to the application on x86-64 (0x550000000000-0x568000000000);
 * BoxFort still skips pages already mapped there. Nothing else in the test
 * binary calls rand_r().
 */
#include <stdint.h>

int rand_r(unsigned int *seed);

int rand_r(unsigned int *seed)
{
	/* BoxFort: base = 0x200000000000 + (r & 0x3fffff) << 24. */
	const unsigned int first = (unsigned int)((0x550000000000ull - 0x200000000000ull) >> 24);
	const unsigned int span = (unsigned int)((0x568000000000ull - 0x550000000000ull) >> 24) - 1;

	*seed = *seed * 1103515245u + 12345u;
	return (int)(first + (*seed >> 8) % span);
}
