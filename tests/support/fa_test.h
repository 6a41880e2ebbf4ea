/* SPDX-License-Identifier: MIT */
/*
 * Test-suite configuration shared by every test, fuzzer and benchmark.
 * Include it FIRST, before any fencealloc header: it routes FA_WARN and FA_BUG
 * into counters the tests can assert on.
 *
 * - fa_test_warnings(): how many FA_WARN fired in this process (each Criterion
 *   test runs in its own process, so counts start at 0 in every test).
 * - FA_EXPECT_WARN(expr): evaluates expr and asserts that it warned at least once.
 * - fa_test_seed(default): the seed of a randomized test, overridable with the
 *   FA_SEED environment variable, printed so any failure can be replayed.
 * - fa_test_iters(n): n scaled by FA_TEST_ITERS_PCT (percent, default 100); the
 *   sanitizer, TSan and valgrind runs use a smaller percentage.
 */
#ifndef FA_TEST_H
#define FA_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>

static unsigned long fa_test__warn_count;
static const char *fa_test__warn_last_expr;

static inline void fa_test__warn(const char *file, int line, const char *expr)
{
	__atomic_fetch_add(&fa_test__warn_count, 1UL, __ATOMIC_RELAXED);
	fa_test__warn_last_expr = expr;
	if (!getenv("FA_TEST_QUIET_WARN"))
		fprintf(stderr, "fencealloc warning (expected by the test?): %s:%d: %s\n",
			file, line, expr);
}

static inline void fa_test__bug(const char *file, int line)
{
	fprintf(stderr, "fencealloc BUG at %s:%d\n", file, line);
	abort();
}

#define FA_WARN_HOOK(file, line, expr) fa_test__warn(file, line, expr)
#define FA_BUG() fa_test__bug(__FILE__, __LINE__)

static inline unsigned long fa_test_warnings(void)
{
	return __atomic_load_n(&fa_test__warn_count, __ATOMIC_RELAXED);
}

static inline const char *fa_test_last_warning(void)
{
	return fa_test__warn_last_expr ? fa_test__warn_last_expr : "";
}

static inline uint64_t fa_test_seed(uint64_t dflt)
{
	const char *s = getenv("FA_SEED");
	uint64_t seed = s ? strtoull(s, NULL, 0) : dflt;

	fprintf(stderr, "seed: 0x%llx (replay with FA_SEED=0x%llx)\n",
		(unsigned long long)seed, (unsigned long long)seed);
	return seed;
}

static inline uint64_t fa_test_iters(uint64_t n)
{
	const char *s = getenv("FA_TEST_ITERS_PCT");
	uint64_t pct = s ? strtoull(s, NULL, 0) : 100;
	uint64_t r = n / 100 * pct + (n % 100) * pct / 100;

	return r ? r : 1;
}

/* Assert (Criterion) that evaluating expr raised at least one FA_WARN. */
#define FA_EXPECT_WARN(expr)                                                      \
	do {                                                                      \
		unsigned long fa_test__before = fa_test_warnings();               \
		(void)(expr);                                                     \
		cr_assert_gt(fa_test_warnings(), fa_test__before,                 \
			     "expected a warning from: %s", #expr);                \
	} while (0)

#endif /* FA_TEST_H */
