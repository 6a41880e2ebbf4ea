// SPDX-License-Identifier: MIT
/*
 * fencealloc_signalling_lockdep: the dma_fence_map scenarios of
 * tests/unit/test_signalling_lockdep.c whose lockdep verdict is SUCCESS,
 * written with the kernel's own primitives (mutexes, lockdep maps,
 * dma_fence_begin_signalling(), dma_fence_wait()) and run under lockdep. The
 * runner fails on any lockdep report in this boot, so each case shows lockdep
 * staying silent where the userspace table says it does, including the one
 * case where the userspace validator deliberately reports (difference D2:
 * a bare fence wait inside the thread's own section). Every case uses its own
 * lock classes, so cases cannot combine into a cycle.
 */
#include "fa_kunit.h"

#include <linux/dma-fence.h>
#include <linux/gfp.h>
#include <linux/lockdep.h>
#include <linux/mutex.h>
#include <linux/sched/mm.h>

/* What dma_fence_wait() tells lockdep, through a wait that cannot block. */
static void fa_sl_fence_wait(void)
{
	struct dma_fence *stub = dma_fence_get_stub();

	dma_fence_wait(stub, false);
	dma_fence_put(stub);
}

/* D2: lockdep drops the section's read side before annotating the wait. */
static void fa_sl_bare_wait_in_own_section(struct kunit *test)
{
	bool c = dma_fence_begin_signalling();

	fa_sl_fence_wait();
	dma_fence_end_signalling(c);
	KUNIT_SUCCEED(test);
}

static DEFINE_MUTEX(fa_sl_around_lock);

/* A lock held around a section, and held across a wait elsewhere. */
static void fa_sl_lock_around_section(struct kunit *test)
{
	bool c;

	mutex_lock(&fa_sl_around_lock);
	c = dma_fence_begin_signalling();
	dma_fence_end_signalling(c);
	mutex_unlock(&fa_sl_around_lock);
	mutex_lock(&fa_sl_around_lock);
	fa_sl_fence_wait();
	mutex_unlock(&fa_sl_around_lock);
	KUNIT_SUCCEED(test);
}

static void fa_sl_nested_sections(struct kunit *test)
{
	bool outer = dma_fence_begin_signalling();
	bool inner = dma_fence_begin_signalling();

	dma_fence_end_signalling(inner);
	dma_fence_end_signalling(outer);
	KUNIT_SUCCEED(test);
}

static void fa_sl_nowait_alloc_in_section(struct kunit *test)
{
	bool c = dma_fence_begin_signalling();

	might_alloc(GFP_NOWAIT);
	dma_fence_end_signalling(c);
	KUNIT_SUCCEED(test);
}

static DEFINE_MUTEX(fa_sl_try_lock);

/* A trylock in a section adds no dependency into its class. */
static void fa_sl_trylock_in_section(struct kunit *test)
{
	bool c = dma_fence_begin_signalling();

	KUNIT_ASSERT_TRUE(test, mutex_trylock(&fa_sl_try_lock));
	mutex_unlock(&fa_sl_try_lock);
	dma_fence_end_signalling(c);
	mutex_lock(&fa_sl_try_lock);
	fa_sl_fence_wait();
	mutex_unlock(&fa_sl_try_lock);
	KUNIT_SUCCEED(test);
}

static struct lock_class_key fa_sl_reader_key;
static struct lockdep_map fa_sl_reader_map =
	STATIC_LOCKDEP_MAP_INIT("fa_sl_recursive_reader", &fa_sl_reader_key);

/*
 * A recursive reader in a section, and the same class read across a wait:
 * fence -(SR)-> reader -(SN)-> fence is not a strong cycle.
 */
static void fa_sl_recursive_reader_vs_reader_wait(struct kunit *test)
{
	bool c = dma_fence_begin_signalling();

	lock_map_acquire_read(&fa_sl_reader_map);
	lock_map_release(&fa_sl_reader_map);
	dma_fence_end_signalling(c);
	lock_map_acquire_read(&fa_sl_reader_map);
	fa_sl_fence_wait();
	lock_map_release(&fa_sl_reader_map);
	KUNIT_SUCCEED(test);
}

/* fs_reclaim correct and protected nesting (as lib/locking-selftest.c). */
static void fa_sl_fs_reclaim_nesting(struct kunit *test)
{
	unsigned int flags;

	fs_reclaim_acquire(GFP_KERNEL);
	might_alloc(GFP_NOFS);
	fs_reclaim_release(GFP_KERNEL);
	fs_reclaim_acquire(GFP_KERNEL);
	flags = memalloc_nofs_save();
	might_alloc(GFP_KERNEL);
	memalloc_nofs_restore(flags);
	fs_reclaim_release(GFP_KERNEL);
	KUNIT_SUCCEED(test);
}

static struct kunit_case fa_sl_cases[] = {
	KUNIT_CASE(fa_sl_bare_wait_in_own_section),
	KUNIT_CASE(fa_sl_lock_around_section),
	KUNIT_CASE(fa_sl_nested_sections),
	KUNIT_CASE(fa_sl_nowait_alloc_in_section),
	KUNIT_CASE(fa_sl_trylock_in_section),
	KUNIT_CASE(fa_sl_recursive_reader_vs_reader_wait),
	KUNIT_CASE(fa_sl_fs_reclaim_nesting),
	{}
};

static struct kunit_suite fa_sl_suite = {
	.name = "fencealloc_signalling_lockdep",
	.test_cases = fa_sl_cases,
};
kunit_test_suite(fa_sl_suite);

MODULE_LICENSE("Dual MIT/GPL");
