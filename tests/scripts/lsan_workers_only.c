/* SPDX-License-Identifier: MIT */
/*
 * Linked into the ASan+UBSan unit-test binary only.
 *
 * Criterion runs every test in a re-executed copy of the binary whose argv[0]
 * is "boxfort-worker"; the parent only schedules tests and collects results,
 * and leaks a few bytes of its own bookkeeping at exit. LeakSanitizer calls
 * this hook before its exit-time check: keep the check in the test workers,
 * where test code runs, and skip it in the runner.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

int __lsan_is_turned_off(void);

int __lsan_is_turned_off(void)
{
	return strcmp(program_invocation_short_name, "boxfort-worker") != 0;
}
