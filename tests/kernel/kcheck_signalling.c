// SPDX-License-Identifier: MIT
/*
 * Kernel build of signalling.h: every annotation, class and map macro. In a
 * kernel build they all compile to nothing, even with FA_VALIDATE defined
 * (the kernel has lockdep); this proves they still parse, that their
 * arguments need not exist, and that a lock-map member adds no bytes.
 */
#define FA_VALIDATE
#include <linux/kernel.h>
#include <fencealloc/signalling.h>

FA_SIGNALLING_DEFINE_STATIC_CLASS(fa_kcheck_signalling_map_class);
FA_SIGNALLING_DEFINE_CLASS(fa_kcheck_signalling_ref_class);
FA_SIGNALLING_DECLARE_CLASS(fa_kcheck_signalling_ref_class);
FA_SIGNALLING_DEFINE_STATIC_MAP(fa_kcheck_signalling_global, fa_kcheck_signalling_ref_class);

struct fa_kcheck_signalling_vm {
	int pages;
	FA_SIGNALLING_MAP_MEMBER(map_dep)
	int ptes;
};

struct fa_kcheck_signalling_plain {
	int pages;
	int ptes;
};

FA_STATIC_ASSERT(sizeof(struct fa_kcheck_signalling_vm) ==
		 sizeof(struct fa_kcheck_signalling_plain),
		 "a lock-map member must cost nothing in a kernel build");

static struct fa_kcheck_signalling_vm fa_kcheck_signalling_vm;

static void fa_kcheck_signalling_report(const struct fa_signalling_report *r, void *arg)
{
	(void)r;
	(void)arg;
}

int fa_kcheck_signalling(void);
int fa_kcheck_signalling(void)
{
	struct fa_kcheck_signalling_vm *vm = &fa_kcheck_signalling_vm;
	fa_signalling_cookie_t c;
	fa_gfp_t gfp = FA_GFP_KERNEL;

	fa_signalling_map_init(&vm->map_dep, &fa_kcheck_signalling_map_class);
	c = fa_signalling_begin();
	fa_signalling_acquire(&vm->map_dep);
	fa_signalling_acquire_shared(&vm->map_dep);
	fa_signalling_trylock(&vm->map_dep);
	fa_signalling_acquire_nested(&vm->map_dep, 1);
	fa_signalling_acquire_nest_lock(&vm->map_dep, &fa_kcheck_signalling_global);
	fa_signalling_assert_held(&vm->map_dep);
	fa_signalling_release(&vm->map_dep);
	fa_signalling_might_lock(&fa_kcheck_signalling_global);
	fa_signalling_might_alloc(FA_GFP_NOWAIT);
	vm->ptes++;
	fa_signalling_end(c);
	fa_signalling_might_alloc(gfp);
	fa_signalling_fence_wait();
	fa_signalling_reclaim_enter();
	fa_signalling_reclaim_leave();
	fa_signalling_mmu_notifier_enter();
	fa_signalling_mmu_notifier_leave();
	fa_signalling_fault_enter();
	fa_signalling_might_fault();
	fa_signalling_fault_leave();
	fa_signalling_prime();
	fa_signalling_prime_taken_in_reclaim(&vm->map_dep);
	fa_signalling_prime_taken_in_mmu_notifier(&vm->map_dep);
	fa_signalling_set_report_fn(fa_kcheck_signalling_report, NULL);
	fa_signalling_assert_none_held();
	fa_signalling_reset();
	fa_signalling_reset_unprimed();
	if (c != 0 || fa_signalling_report_count() != 0 || vm->ptes != 1)
		return -FA_EINVAL;
	return 0;
}
