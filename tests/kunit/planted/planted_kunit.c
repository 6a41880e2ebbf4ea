// SPDX-License-Identifier: MIT
/*
 * planted_fencealloc: the seeds' deadlocks, written with fencealloc's
 * annotations, each of which the kernel's lockdep must report. The runner
 * boots once per case (lockdep switches itself off after its first report)
 * and requires a lockdep report naming the lock printed after
 * "fencealloc-expect-lockdep:". KUnit itself says `ok` for every case: the
 * verdict is in the kernel log.
 */
#include "fa_kunit.h"

#include <linux/mutex.h>
#include <linux/slab.h>

#include <fencealloc/reserve.h>
#include <fencealloc/signalling.h>

struct planted_vm {
	struct mutex map_lock;	/* the run stage takes it */
	struct mutex ref_lock;
};

static void planted_vm_init(struct planted_vm *vm)
{
	mutex_init(&vm->map_lock);
	mutex_init(&vm->ref_lock);
}

/* A shrinker waits for fences: fs_reclaim -> dma_fence_map. */
static void planted_prime_shrinker(void)
{
	fa_signalling_reclaim_enter();
	fa_signalling_fence_wait();
	fa_signalling_reclaim_leave();
}

static void *planted_alloc(void *ctx, size_t size, fa_gfp_t gfp)
{
	(void)ctx;
	return kmalloc(size, gfp == FA_GFP_NOWAIT ? GFP_NOWAIT : GFP_KERNEL);
}

static void planted_free(void *ctx, void *obj, size_t size)
{
	(void)ctx;
	(void)size;
	kfree(obj);
}

/* 1. A GFP_KERNEL reservation fill inside the run stage's section. */
static void planted_alloc_in_section(struct kunit *test)
{
	struct fa_reserve_source src = { planted_alloc, planted_free, NULL };
	struct fa_reserve_pool pool;
	struct fa_reserve job;
	fa_signalling_cookie_t c;

	kunit_info(test, "fencealloc-expect-lockdep: dma_fence_map\n");
	KUNIT_ASSERT_EQ(test, fa_reserve_pool_init(&pool, &src, 64, 0, FA_RESERVE_NO_BUDGET), 0);
	fa_reserve_init(&job, &pool);
	planted_prime_shrinker();
	c = fa_signalling_begin();
	KUNIT_EXPECT_EQ(test, fa_reserve_fill(&job, 1, FA_GFP_KERNEL), 0);	/* the bug */
	fa_signalling_end(c);
	fa_reserve_release(&job);
	fa_reserve_pool_fini(&pool);
}

/* 2. A fence wait under a lock that a run stage takes. */
static void planted_wait_under_run_lock(struct kunit *test)
{
	struct planted_vm vm;
	fa_signalling_cookie_t c;

	kunit_info(test, "fencealloc-expect-lockdep: map_lock\n");
	planted_vm_init(&vm);
	c = fa_signalling_begin();		/* run: section -> map_lock */
	mutex_lock(&vm.map_lock);
	mutex_unlock(&vm.map_lock);
	fa_signalling_end(c);
	mutex_lock(&vm.map_lock);		/* submit: map_lock -> fence wait */
	fa_signalling_fence_wait();		/* the bug */
	mutex_unlock(&vm.map_lock);
}

/* 3. The ref/map lock order inverted between two paths. */
static void planted_ref_map_inverted(struct kunit *test)
{
	struct planted_vm vm;
	fa_signalling_cookie_t c;

	kunit_info(test, "fencealloc-expect-lockdep: ref_lock\n");
	planted_vm_init(&vm);
	c = fa_signalling_begin();		/* run: ref -> map, as documented */
	mutex_lock(&vm.ref_lock);
	mutex_lock(&vm.map_lock);
	mutex_unlock(&vm.map_lock);
	mutex_unlock(&vm.ref_lock);
	fa_signalling_end(c);
	mutex_lock(&vm.map_lock);		/* cleanup: map -> ref, the bug */
	mutex_lock(&vm.ref_lock);
	mutex_unlock(&vm.ref_lock);
	mutex_unlock(&vm.map_lock);
}

/* 4. A reclaiming allocation under a lock that a run stage takes. */
static void planted_alloc_under_run_lock(struct kunit *test)
{
	struct planted_vm vm;
	fa_signalling_cookie_t c;

	kunit_info(test, "fencealloc-expect-lockdep: fs_reclaim\n");
	planted_vm_init(&vm);
	planted_prime_shrinker();
	c = fa_signalling_begin();		/* run: section -> map_lock */
	mutex_lock(&vm.map_lock);
	mutex_unlock(&vm.map_lock);
	fa_signalling_end(c);
	mutex_lock(&vm.map_lock);		/* submit: map_lock -> fs_reclaim */
	fa_signalling_might_alloc(FA_GFP_KERNEL);	/* the bug */
	mutex_unlock(&vm.map_lock);
}

static struct kunit_case planted_cases[] = {
	KUNIT_CASE(planted_alloc_in_section),
	KUNIT_CASE(planted_wait_under_run_lock),
	KUNIT_CASE(planted_ref_map_inverted),
	KUNIT_CASE(planted_alloc_under_run_lock),
	{}
};

static struct kunit_suite planted_suite = {
	.name = "planted_fencealloc",
	.test_cases = planted_cases,
};
kunit_test_suite(planted_suite);

MODULE_LICENSE("Dual MIT/GPL");
