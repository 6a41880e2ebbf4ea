/* SPDX-License-Identifier: MIT */
/*
 * Shared by the fencealloc KUnit files: route fencealloc's caller-misuse
 * warnings (FA_WARN) into a counter instead of the kernel's WARN(), so a suite
 * can assert that a misuse warned while the kernel log stays free of WARN
 * splats (the runner fails on any). Include it before any fencealloc header.
 */
#ifndef FA_KUNIT_H
#define FA_KUNIT_H

#include <kunit/test.h>
#include <linux/atomic.h>
#include <linux/printk.h>

/* One counter per translation unit: each KUnit file is its own suite. */
static atomic_t fa_kunit_warnings = ATOMIC_INIT(0);

static inline void fa_kunit_warn(const char *file, int line, const char *expr)
{
	atomic_inc(&fa_kunit_warnings);
	pr_info("fencealloc: caller misuse reported (expected by the test?) %s:%d: %s\n",
		file, line, expr);
}

#define FA_WARN_HOOK(file, line, expr) fa_kunit_warn(file, line, expr)

/* Number of FA_WARN reports so far in this file. */
static inline int fa_kunit_warned(void)
{
	return atomic_read(&fa_kunit_warnings);
}

/* Run @stmt and expect it to report exactly @n misuses. */
#define FA_KUNIT_EXPECT_WARNS(test, n, stmt)                                  \
	do {                                                                  \
		int fa__w0 = fa_kunit_warned();                               \
		stmt;                                                         \
		KUNIT_EXPECT_EQ_MSG(test, fa_kunit_warned() - fa__w0, (n),    \
				    "FA_WARN reports from: %s", #stmt);       \
	} while (0)

#endif /* FA_KUNIT_H */
