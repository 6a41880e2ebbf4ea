// SPDX-License-Identifier: MIT
/*
 * fencealloc_kcheck: proves that every fencealloc header builds inside a Linux
 * kernel module with kbuild's own flags (no libc, no FPU, -Werror, sparse).
 *
 * Each kcheck_<module>.c in this directory defines `int fa_kcheck_<module>(void)`
 * calling every public function and macro of its header, so that a float, a
 * VLA, a large frame or a 64-bit division in any body surfaces here. Kbuild
 * passes the list of modules as FA_KCHECKS; module_init runs them all, prints
 * each result, and the load fails if any returns non-zero. `make kmod` builds
 * the module, then loads it into the stock kernel its headers belong to,
 * booted under qemu (tests/scripts/kmod.sh).
 */
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/init.h>

#include <fencealloc/fencealloc.h>

#define FA_KCHECK(m) int fa_kcheck_##m(void);
FA_KCHECKS
#undef FA_KCHECK

struct fa_kcheck_entry {
	const char *name;
	int (*run)(void);
};

#define FA_KCHECK(m) { #m, fa_kcheck_##m },
static const struct fa_kcheck_entry fa_kcheck_entries[] = { FA_KCHECKS };
#undef FA_KCHECK

static int __init fa_kcheck_init(void)
{
	size_t i;
	int failed = 0;

	for (i = 0; i < ARRAY_SIZE(fa_kcheck_entries); i++) {
		int ret = fa_kcheck_entries[i].run();

		if (ret) {
			pr_err("fencealloc kcheck %s: failed (%d)\n", fa_kcheck_entries[i].name, ret);
			failed++;
		} else {
			pr_info("fencealloc kcheck %s: ok\n", fa_kcheck_entries[i].name);
		}
	}
	pr_info("fencealloc kcheck: %zu modules checked, %d failed\n",
		ARRAY_SIZE(fa_kcheck_entries), failed);
	return failed ? -EINVAL : 0;
}

static void __exit fa_kcheck_exit(void)
{
}

module_init(fa_kcheck_init);
module_exit(fa_kcheck_exit);
MODULE_LICENSE("Dual MIT/GPL");
MODULE_DESCRIPTION("fencealloc header compile and smoke check");
