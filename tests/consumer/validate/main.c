/* SPDX-License-Identifier: MIT */
/*
 * A program using the signalling validator from an installed fencealloc: it
 * plants a reclaiming allocation inside a fence-signalling section and
 * expects it reported (directly, and as a cycle through reclaim). Fails when FA_VALIDATE did not reach this unit
 * or validator.c was not linked.
 */
#include <fencealloc/signalling.h>

#include <stdio.h>

#ifndef FA_VALIDATE
#error "built without FA_VALIDATE: the fencealloc-validate flags did not arrive"
#endif

static void on_report(const struct fa_signalling_report *r, void *arg)
{
	(void)r;
	(*(int *)arg)++;
}

int main(void)
{
	int reports = 0;
	fa_signalling_cookie_t c;

	fa_signalling_reset();
	fa_signalling_set_report_fn(on_report, &reports);
	c = fa_signalling_begin();
	fa_signalling_might_alloc(FA_GFP_KERNEL); /* the bug the validator exists for */
	fa_signalling_end(c);
	fa_signalling_set_report_fn(NULL, NULL);
	if (reports < 1 || fa_signalling_report_count() != (unsigned long)reports) {
		fprintf(stderr, "validate consumer: %d reports, expected at least 1\n", reports);
		return 1;
	}
	printf("validate consumer: the planted allocation was reported (%d reports)\n", reports);
	return 0;
}
