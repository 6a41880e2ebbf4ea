// SPDX-License-Identifier: MIT
/*
 * fencealloc_signalling: in a kernel with lockdep, fencealloc's annotations
 * are the kernel's own. These cases show the mapping is live (a section is a
 * dma_fence signalling section, a fence wait annotates dma_fence_map, reclaim
 * context holds fs_reclaim, the external-lock hook asks lockdep) and that the
 * correct patterns of the stage contract stay silent: the runner fails on any
 * lockdep report in this boot. The misuse that must be reported lives in
 * tests/kunit/planted/ (lockdep switches itself off after one report).
 */
#include "fa_kunit.h"

#include <linux/dma-fence.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include <fencealloc/reserve.h>
#include <fencealloc/signalling.h>

/* A run-stage lock, a submit-stage lock, and an object with an external lock. */
struct fa_ks_vm {
	struct mutex map_lock;	/* taken in the run stage */
	struct mutex ref_lock;	/* submit/cleanup: held around allocation */
	spinlock_t irq_lock;
	int ptes;
	FA_SIGNALLING_EXTERNAL_LOCK_MEMBER(ext)
};

static void fa_ks_vm_init(struct fa_ks_vm *vm)
{
	mutex_init(&vm->map_lock);
	mutex_init(&vm->ref_lock);
	spin_lock_init(&vm->irq_lock);
	vm->ptes = 0;
	fa_signalling_set_external_lock(&vm->ext, &vm->map_lock);
}

static void fa_sig_test_section_is_dma_fence_section(struct kunit *test)
{
	fa_signalling_cookie_t c = fa_signalling_begin();
	/* dma_fence_begin_signalling() says "already inside" only when ours is one. */
	bool nested = dma_fence_begin_signalling();

	KUNIT_EXPECT_TRUE(test, nested);
	dma_fence_end_signalling(nested);
	fa_signalling_end(c);
	KUNIT_EXPECT_EQ(test, (int)c, 0);	/* outermost: a real begin */
}

static void fa_sig_test_sections_nest(struct kunit *test)
{
	fa_signalling_cookie_t outer = fa_signalling_begin();
	fa_signalling_cookie_t inner = fa_signalling_begin();

	KUNIT_EXPECT_EQ(test, (int)outer, 0);
	KUNIT_EXPECT_NE(test, (int)inner, 0);	/* nested: its end does nothing */
	fa_signalling_end(inner);
	fa_signalling_end(outer);
}

static void fa_sig_test_external_lock_held(struct kunit *test)
{
	struct fa_ks_vm vm;

	fa_ks_vm_init(&vm);
	mutex_lock(&vm.map_lock);
	fa_signalling_assert_external_held(&vm.ext);	/* silent: held */
	KUNIT_EXPECT_TRUE(test, lock_is_held(vm.ext));
	mutex_unlock(&vm.map_lock);
	KUNIT_EXPECT_FALSE(test, lock_is_held(vm.ext));
}

static void fa_sig_test_external_lock_unset_checks_nothing(struct kunit *test)
{
	struct fa_ks_vm vm = { .ext = NULL };

	fa_signalling_assert_external_held(&vm.ext);	/* no lock recorded: nothing */
	KUNIT_EXPECT_NULL(test, vm.ext);
}

static void fa_sig_test_external_lock_spinlock(struct kunit *test)
{
	struct fa_ks_vm vm;

	fa_ks_vm_init(&vm);
	fa_signalling_set_external_lock(&vm.ext, &vm.irq_lock);
	spin_lock(&vm.irq_lock);
	fa_signalling_assert_external_held(&vm.ext);
	KUNIT_EXPECT_TRUE(test, lock_is_held(vm.ext));
	spin_unlock(&vm.irq_lock);
}

/* The run stage: section, then the run lock, no allocation. */
static void fa_ks_run_stage(struct fa_ks_vm *vm)
{
	fa_signalling_cookie_t c = fa_signalling_begin();

	mutex_lock(&vm->map_lock);
	fa_signalling_assert_external_held(&vm->ext);
	fa_signalling_might_alloc(FA_GFP_NOWAIT);
	vm->ptes++;
	mutex_unlock(&vm->map_lock);
	fa_signalling_end(c);
}

/* Submit: the ref lock around a reclaiming allocation; a fence wait with no
 * run-stage lock held. */
static void fa_ks_submit_stage(struct fa_ks_vm *vm)
{
	void *p;

	fa_signalling_fence_wait();
	mutex_lock(&vm->ref_lock);
	fa_signalling_might_alloc(FA_GFP_KERNEL);
	p = kmalloc(64, GFP_KERNEL);
	kfree(p);
	mutex_unlock(&vm->ref_lock);
}

static void fa_sig_test_stage_contract_silent(struct kunit *test)
{
	struct fa_ks_vm vm;
	int i;

	fa_ks_vm_init(&vm);
	/* What a shrinker does: wait for fences under fs_reclaim. */
	fa_signalling_reclaim_enter();
	fa_signalling_fence_wait();
	fa_signalling_reclaim_leave();
	for (i = 0; i < 3; i++) {
		fa_ks_submit_stage(&vm);
		fa_ks_run_stage(&vm);
	}
	KUNIT_EXPECT_EQ(test, vm.ptes, 3);
	KUNIT_EXPECT_TRUE(test, debug_locks);	/* lockdep still on: nothing reported */
}

static void fa_sig_test_lock_around_section_silent(struct kunit *test)
{
	struct fa_ks_vm vm;
	fa_signalling_cookie_t c;

	fa_ks_vm_init(&vm);
	/* A lock held around a section gains no dependency that a wait under it
	 * could close: section entry is a recursive read. */
	mutex_lock(&vm.ref_lock);
	c = fa_signalling_begin();
	fa_signalling_end(c);
	fa_signalling_fence_wait();
	mutex_unlock(&vm.ref_lock);
	KUNIT_EXPECT_TRUE(test, debug_locks);
}

static void fa_sig_test_reclaim_takes_cleanup_lock(struct kunit *test)
{
	static DEFINE_MUTEX(shrinker_lock);	/* never held around an allocation */
	struct fa_ks_vm vm;

	fa_ks_vm_init(&vm);
	/* A shrinker may take a lock that is never held around a reclaiming
	 * allocation nor inside a section (not the ref lock: it is held around
	 * GFP_KERNEL at submit, and lockdep would rightly object). */
	fa_signalling_reclaim_enter();
	mutex_lock(&shrinker_lock);
	mutex_unlock(&shrinker_lock);
	fa_signalling_reclaim_leave();
	KUNIT_EXPECT_TRUE(test, debug_locks);
}

/* fa_gfp_t -> gfp_t: what might_alloc() is told for each fencealloc context. */
struct fa_sig_gfp_case {
	const char *name;
	fa_gfp_t fa;
	gfp_t kernel;
};

static const struct fa_sig_gfp_case fa_sig_gfp_cases[] = {
	{ "NOWAIT", FA_GFP_NOWAIT, GFP_NOWAIT },
	{ "KERNEL", FA_GFP_KERNEL, GFP_KERNEL },
	{ "NOFS", FA_GFP_NOFS, GFP_NOFS },
	{ "NOIO", FA_GFP_NOIO, GFP_NOIO },
	{ "IO|FS without reclaim", FA_GFP_IO | FA_GFP_FS, GFP_NOWAIT },
	{ "FS without IO", FA_GFP_DIRECT_RECLAIM | FA_GFP_FS, GFP_KERNEL },
};

static void fa_sig_gfp_desc(const struct fa_sig_gfp_case *t, char *desc)
{
	strscpy(desc, t->name, KUNIT_PARAM_DESC_SIZE);
}
KUNIT_ARRAY_PARAM(fa_sig_gfp, fa_sig_gfp_cases, fa_sig_gfp_desc);

static void fa_sig_test_gfp_mapping(struct kunit *test)
{
	const struct fa_sig_gfp_case *t = test->param_value;

	KUNIT_EXPECT_EQ(test, (unsigned int)fa__signalling_kernel_gfp(t->fa),
			(unsigned int)t->kernel);
	/* Outside a section every context is allowed. */
	fa_signalling_might_alloc(t->fa);
	KUNIT_EXPECT_TRUE(test, debug_locks);
}

/* Inside a section only what cannot reclaim is allowed: NOWAIT. */
static void fa_sig_test_nowait_in_section_silent(struct kunit *test)
{
	fa_signalling_cookie_t c;
	void *p;

	fa_signalling_reclaim_enter();
	fa_signalling_fence_wait();
	fa_signalling_reclaim_leave();
	c = fa_signalling_begin();
	fa_signalling_might_alloc(FA_GFP_NOWAIT);
	p = kmalloc(64, GFP_NOWAIT);
	kfree(p);
	fa_signalling_end(c);
	KUNIT_EXPECT_TRUE(test, debug_locks);
}

/* A reservation: filled under the ref lock at submit, taken in the section. */
static void *fa_ks_alloc(void *ctx, size_t size, fa_gfp_t gfp)
{
	(void)ctx;
	return kmalloc(size, gfp == FA_GFP_NOWAIT ? GFP_NOWAIT : GFP_KERNEL);
}

static void fa_ks_free(void *ctx, void *obj, size_t size)
{
	(void)ctx;
	(void)size;
	kfree(obj);
}

static void fa_sig_test_reserve_across_stages_silent(struct kunit *test)
{
	struct fa_reserve_source src = { fa_ks_alloc, fa_ks_free, NULL };
	struct fa_reserve_pool pool;
	struct fa_reserve job;
	struct fa_ks_vm vm;
	fa_signalling_cookie_t c;
	void *obj[4];
	int i;

	fa_ks_vm_init(&vm);
	KUNIT_ASSERT_EQ(test, fa_reserve_pool_init(&pool, &src, 64, 2, FA_RESERVE_NO_BUDGET), 0);
	fa_reserve_init(&job, &pool);
	mutex_lock(&vm.ref_lock);				/* submit */
	KUNIT_EXPECT_EQ(test, fa_reserve_fill(&job, 4, FA_GFP_KERNEL), 0);
	mutex_unlock(&vm.ref_lock);
	c = fa_signalling_begin();				/* run */
	mutex_lock(&vm.map_lock);
	for (i = 0; i < 4; i++)
		obj[i] = fa_reserve_take(&job);
	for (i = 0; i < 4; i++)
		fa_reserve_give_back(&job, obj[i]);
	mutex_unlock(&vm.map_lock);
	fa_signalling_end(c);
	mutex_lock(&vm.ref_lock);				/* cleanup */
	fa_reserve_release(&job);
	mutex_unlock(&vm.ref_lock);
	fa_reserve_pool_fini(&pool);
	KUNIT_EXPECT_TRUE(test, debug_locks);
}

static struct kunit_case fa_sig_cases[] = {
	KUNIT_CASE(fa_sig_test_section_is_dma_fence_section),
	KUNIT_CASE(fa_sig_test_sections_nest),
	KUNIT_CASE(fa_sig_test_external_lock_held),
	KUNIT_CASE(fa_sig_test_external_lock_unset_checks_nothing),
	KUNIT_CASE(fa_sig_test_external_lock_spinlock),
	KUNIT_CASE(fa_sig_test_stage_contract_silent),
	KUNIT_CASE(fa_sig_test_lock_around_section_silent),
	KUNIT_CASE(fa_sig_test_reclaim_takes_cleanup_lock),
	KUNIT_CASE_PARAM(fa_sig_test_gfp_mapping, fa_sig_gfp_gen_params),
	KUNIT_CASE(fa_sig_test_nowait_in_section_silent),
	KUNIT_CASE(fa_sig_test_reserve_across_stages_silent),
	{}
};

static struct kunit_suite fa_sig_suite = {
	.name = "fencealloc_signalling",
	.test_cases = fa_sig_cases,
};
kunit_test_suite(fa_sig_suite);

MODULE_LICENSE("Dual MIT/GPL");
