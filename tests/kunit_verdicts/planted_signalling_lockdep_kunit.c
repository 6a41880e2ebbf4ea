// SPDX-License-Identifier: MIT
/*
 * planted_fencealloc_signalling_lockdep: the dma_fence_map scenarios of
 * tests/unit/test_signalling_lockdep.c whose lockdep verdict is FAILURE (and
 * the fs_reclaim case behind difference D1), written with the kernel's own
 * primitives: each must make lockdep report. One boot per case (lockdep
 * switches itself off after its first report), so they are not part of
 * `make kunit`; run them with
 *
 *   KUNIT_PLANTED=tests/kunit_verdicts \
 *       tests/scripts/kunit.sh 'fencealloc_signalling_lockdep'
 *
 * which also boots the SUCCESS side once and requires it silent.
 *
 * The SUCCESS side is tests/kunit/signalling_lockdep_kunit.c. Every case uses
 * its own lock classes.
 */
#include <kunit/test.h>
#include <linux/dma-fence.h>
#include <linux/gfp.h>
#include <linux/lockdep.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <linux/sched/mm.h>

static void fa_pv_fence_wait(void)
{
	struct dma_fence *stub = dma_fence_get_stub();

	dma_fence_wait(stub, false);
	dma_fence_put(stub);
}

static DEFINE_MUTEX(fa_pv_section_lock);

/* "fence: lock in section vs lock across wait" */
static void planted_fence_lock_in_section_vs_wait(struct kunit *test)
{
	bool c;

	kunit_info(test, "fencealloc-expect-lockdep: fa_pv_section_lock\n");
	c = dma_fence_begin_signalling();
	mutex_lock(&fa_pv_section_lock);
	mutex_unlock(&fa_pv_section_lock);
	dma_fence_end_signalling(c);
	mutex_lock(&fa_pv_section_lock);
	fa_pv_fence_wait();
	mutex_unlock(&fa_pv_section_lock);
}

static DEFINE_MUTEX(fa_pv_wait_lock);

/* "fence: wait in section under a lock" */
static void planted_fence_wait_in_section_under_lock(struct kunit *test)
{
	bool c;

	kunit_info(test, "fencealloc-expect-lockdep: fa_pv_wait_lock\n");
	c = dma_fence_begin_signalling();
	mutex_lock(&fa_pv_wait_lock);
	fa_pv_fence_wait();
	mutex_unlock(&fa_pv_wait_lock);
	dma_fence_end_signalling(c);
}

static DEFINE_MUTEX(fa_pv_outer_lock);
static DEFINE_MUTEX(fa_pv_inner_lock);

/* "fence: section around a lock held across a wait elsewhere" */
static void planted_fence_section_around_lock_waited_elsewhere(struct kunit *test)
{
	bool c;

	kunit_info(test, "fencealloc-expect-lockdep: fa_pv_inner_lock\n");
	mutex_lock(&fa_pv_outer_lock);
	c = dma_fence_begin_signalling();
	mutex_lock(&fa_pv_inner_lock);
	mutex_unlock(&fa_pv_inner_lock);
	dma_fence_end_signalling(c);
	mutex_unlock(&fa_pv_outer_lock);
	mutex_lock(&fa_pv_inner_lock);
	fa_pv_fence_wait();
	mutex_unlock(&fa_pv_inner_lock);
}

static DECLARE_RWSEM(fa_pv_rwsem);

/* "fence: rwsem read in section vs read across wait" (non-recursive readers) */
static void planted_fence_rwsem_read_in_section_vs_read_wait(struct kunit *test)
{
	bool c;

	kunit_info(test, "fencealloc-expect-lockdep: fa_pv_rwsem\n");
	c = dma_fence_begin_signalling();
	down_read(&fa_pv_rwsem);
	up_read(&fa_pv_rwsem);
	dma_fence_end_signalling(c);
	down_read(&fa_pv_rwsem);
	fa_pv_fence_wait();
	up_read(&fa_pv_rwsem);
}

static struct lock_class_key fa_pv_reader_key;
static struct lockdep_map fa_pv_reader_map =
	STATIC_LOCKDEP_MAP_INIT("fa_pv_recursive_reader", &fa_pv_reader_key);

/* "fence: recursive read in section vs write across wait" */
static void planted_fence_recursive_read_in_section_vs_write_wait(struct kunit *test)
{
	bool c;

	kunit_info(test, "fencealloc-expect-lockdep: fa_pv_recursive_reader\n");
	c = dma_fence_begin_signalling();
	lock_map_acquire_read(&fa_pv_reader_map);
	lock_map_release(&fa_pv_reader_map);
	dma_fence_end_signalling(c);
	lock_map_acquire(&fa_pv_reader_map);
	fa_pv_fence_wait();
	lock_map_release(&fa_pv_reader_map);
}

/* D1: lockdep reports the self-test's "fs_reclaim wrong nesting". */
static void planted_fs_reclaim_wrong_nesting(struct kunit *test)
{
	kunit_info(test, "fencealloc-expect-lockdep: fs_reclaim\n");
	fs_reclaim_acquire(GFP_KERNEL);
	might_alloc(GFP_KERNEL);
	fs_reclaim_release(GFP_KERNEL);
}

static struct kunit_case planted_fa_pv_cases[] = {
	KUNIT_CASE(planted_fence_lock_in_section_vs_wait),
	KUNIT_CASE(planted_fence_wait_in_section_under_lock),
	KUNIT_CASE(planted_fence_section_around_lock_waited_elsewhere),
	KUNIT_CASE(planted_fence_rwsem_read_in_section_vs_read_wait),
	KUNIT_CASE(planted_fence_recursive_read_in_section_vs_write_wait),
	KUNIT_CASE(planted_fs_reclaim_wrong_nesting),
	{}
};

static struct kunit_suite planted_fa_pv_suite = {
	.name = "planted_fencealloc_signalling_lockdep",
	.test_cases = planted_fa_pv_cases,
};
kunit_test_suite(planted_fa_pv_suite);

MODULE_LICENSE("Dual MIT/GPL");
