/* SPDX-License-Identifier: MIT */
/*
 * base.h's DEFAULT userspace hooks, as a driver or program that overrides
 * nothing gets them. Unlike every other test file this one deliberately does
 * NOT include fa_test.h, which would replace the hooks under test.
 */
#include <fencealloc/base.h>

#include <criterion/criterion.h>
#include <signal.h>

static int fire(int cond)
{
	return FA_WARN(cond == 42); /* the line number is checked below */
}

static const int fire_line = __LINE__ - 3;

Test(base_default_hooks, warn_records_file_line_and_expression)
{
	const struct fa_warn_record *rec = fa_warn_record_get();

	cr_assert_eq(rec->count, 0);
	cr_assert_null(rec->file);
	cr_assert_not(fire(1), "a false condition returns false");
	cr_assert_eq(rec->count, 0, "and records nothing");

	cr_assert(fire(42), "a true condition returns true");
	cr_assert_eq(rec->count, 1);
	cr_assert_str_eq(rec->file, __FILE__);
	cr_assert_eq(rec->line, fire_line);
	cr_assert_str_eq(rec->expr, "cond == 42");

	cr_assert(FA_WARN(rec->count == 1));
	cr_assert_eq(rec->count, 2, "every warning counts");
	cr_assert_eq(rec->line, __LINE__ - 2, "the record keeps the latest warning");
	cr_assert_str_eq(rec->expr, "rec->count == 1");
}

/* Without NDEBUG an internal invariant failure traps (__builtin_trap). */
Test(base_default_hooks, assert_traps, .signal = SIGILL)
{
	volatile int zero = 0;

	FA_ASSERT(zero);
}

Test(base_default_hooks, bug_traps, .signal = SIGILL)
{
	FA_BUG();
}

Test(base_default_hooks, heavy_assert_off_by_default)
{
	volatile int zero = 0;

	FA_HEAVY_ASSERT(zero);
	FA_ASSERT(!zero);
	cr_assert_eq(fa_warn_record_get()->count, 0);
}
