// SPDX-License-Identifier: MIT
/*
 * fencealloc_reserve: reservations filled at submit from the driver's own
 * allocator (kmalloc here, counted), drawn in the run stage without
 * allocating, returned at cleanup; budgets hold however many jobs are
 * pending, and exhaustion leaves everything consistent.
 */
#include "fa_kunit.h"

#include <linux/mutex.h>
#include <linux/slab.h>

#include <fencealloc/reserve.h>
#include <fencealloc/signalling.h>

/* The driver's allocator: kmalloc, counting, and able to fail on demand. */
struct fa_kr_src {
	long live;
	unsigned long allocs, frees;
	long fail_after;	/* fail the allocation after this many more; -1: never */
	size_t last_size;
	fa_gfp_t last_gfp;
};

static void *fa_kr_alloc(void *ctx, size_t size, fa_gfp_t gfp)
{
	struct fa_kr_src *s = ctx;
	void *p;

	if (s->fail_after == 0)
		return NULL;
	if (s->fail_after > 0)
		s->fail_after--;
	p = kmalloc(size, gfp & FA_GFP_DIRECT_RECLAIM ? GFP_KERNEL : GFP_NOWAIT);
	if (p) {
		s->live++;
		s->allocs++;
		s->last_size = size;
		s->last_gfp = gfp;
	}
	return p;
}

static void fa_kr_free(void *ctx, void *obj, size_t size)
{
	struct fa_kr_src *s = ctx;

	(void)size;
	s->live--;
	s->frees++;
	kfree(obj);
}

struct fa_kr {
	struct fa_kr_src s;
	struct fa_reserve_pool pool;
	struct mutex pool_lock;	/* the caller's pool lock (submit/cleanup only) */
};

static void fa_kr_init(struct kunit *test, struct fa_kr *k, size_t obj, unsigned int cap,
		       unsigned long budget)
{
	struct fa_reserve_source src = { fa_kr_alloc, fa_kr_free, &k->s };

	memset(&k->s, 0, sizeof(k->s));
	k->s.fail_after = -1;
	mutex_init(&k->pool_lock);
	KUNIT_ASSERT_EQ(test, fa_reserve_pool_init(&k->pool, &src, obj, cap, budget), 0);
}

/* Teardown: nothing charged, nothing leaked to the driver's allocator. */
static void fa_kr_fini(struct kunit *test, struct fa_kr *k)
{
	KUNIT_EXPECT_EQ(test, fa_reserve_pool_charged(&k->pool), 0ul);
	fa_reserve_pool_fini(&k->pool);
	KUNIT_EXPECT_EQ(test, k->s.live, 0l);
}

/* ------------------------------------------------ fill / take / give back */
struct fa_kr_shape {
	const char *name;
	size_t obj;
	unsigned int cap, n;
};

static const struct fa_kr_shape fa_kr_shapes[] = {
	{ "8B x1, no cache", 8, 0, 1 },
	{ "64B x4, cache 2", 64, 2, 4 },
	{ "4K x32, cache 8", 4096, 8, 32 },
	{ "24B x100, cache 100", 24, 100, 100 },
	{ "512B x7, cache 3", 512, 3, 7 },
	{ "16K x3, cache 0", 16384, 0, 3 },
};

static void fa_kr_shape_desc(const struct fa_kr_shape *s, char *desc)
{
	strscpy(desc, s->name, KUNIT_PARAM_DESC_SIZE);
}
KUNIT_ARRAY_PARAM(fa_kr_shape, fa_kr_shapes, fa_kr_shape_desc);

/* Every object filled can be taken exactly once in the run stage; what is
 * given back returns at cleanup, and the cache keeps at most its cap. */
static void fa_reserve_test_fill_take_release(struct kunit *test)
{
	const struct fa_kr_shape *sh = test->param_value;
	struct fa_reserve r;
	void **got;
	fa_signalling_cookie_t c;
	unsigned long allocs;
	unsigned int i, j;
	struct fa_kr k;

	got = kunit_kcalloc(test, sh->n, sizeof(*got), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, got);
	fa_kr_init(test, &k, sh->obj, sh->cap, FA_RESERVE_NO_BUDGET);
	fa_reserve_init(&r, &k.pool);
	mutex_lock(&k.pool_lock);
	KUNIT_ASSERT_EQ(test, fa_reserve_fill(&r, sh->n, FA_GFP_KERNEL), 0);
	mutex_unlock(&k.pool_lock);
	KUNIT_EXPECT_EQ(test, fa_reserve_count(&r), sh->n);
	KUNIT_EXPECT_EQ(test, fa_reserve_pool_charged(&k.pool), (unsigned long)sh->n);
	allocs = k.s.allocs;
	c = fa_signalling_begin();
	for (i = 0; i < sh->n; i++) {
		got[i] = fa_reserve_take(&r);
		KUNIT_ASSERT_NOT_NULL(test, got[i]);
		KUNIT_EXPECT_NULL(test, *(void **)got[i]);	/* the link word reads zero */
		for (j = 0; j < i; j++)
			KUNIT_ASSERT_PTR_NE(test, got[i], got[j]);
		memset(got[i], 0xa5, sh->obj);			/* the object is ours */
	}
	for (i = 0; i < sh->n; i += 2)
		fa_reserve_give_back(&r, got[i]);
	fa_signalling_end(c);
	KUNIT_EXPECT_EQ(test, k.s.allocs, allocs);		/* the run stage allocated nothing */
	KUNIT_EXPECT_EQ(test, fa_reserve_count(&r), (sh->n + 1) / 2);
	mutex_lock(&k.pool_lock);
	fa_reserve_release(&r);
	for (i = 1; i < sh->n; i += 2)			/* taken objects go back one by one */
		fa_reserve_pool_put(&k.pool, got[i]);
	mutex_unlock(&k.pool_lock);
	KUNIT_EXPECT_LE(test, fa_reserve_pool_cached(&k.pool), sh->cap);
	KUNIT_EXPECT_EQ(test, (long)fa_reserve_pool_cached(&k.pool), k.s.live);
	fa_kr_fini(test, &k);
}

/* A warm cache serves the next fill without touching the allocator. */
static void fa_reserve_test_cache_serves_next_fill(struct kunit *test)
{
	struct fa_reserve a, b;
	unsigned long allocs;
	struct fa_kr k;

	fa_kr_init(test, &k, 64, 8, FA_RESERVE_NO_BUDGET);
	fa_reserve_init(&a, &k.pool);
	KUNIT_ASSERT_EQ(test, fa_reserve_fill(&a, 8, FA_GFP_KERNEL), 0);
	fa_reserve_release(&a);
	KUNIT_EXPECT_EQ(test, fa_reserve_pool_cached(&k.pool), 8u);
	allocs = k.s.allocs;
	fa_reserve_init(&b, &k.pool);
	KUNIT_ASSERT_EQ(test, fa_reserve_fill(&b, 6, FA_GFP_KERNEL), 0);
	KUNIT_EXPECT_EQ(test, k.s.allocs, allocs);
	KUNIT_EXPECT_EQ(test, fa_reserve_pool_cached(&k.pool), 2u);
	fa_reserve_release(&b);
	KUNIT_EXPECT_EQ(test, fa_reserve_pool_trim(&k.pool), 8u);
	KUNIT_EXPECT_EQ(test, k.s.live, 0l);
	fa_kr_fini(test, &k);
}

/* Fills accumulate: two fills on one reservation hold the sum. */
static void fa_reserve_test_fills_accumulate(struct kunit *test)
{
	struct fa_reserve r;
	struct fa_kr k;

	fa_kr_init(test, &k, 32, 0, FA_RESERVE_NO_BUDGET);
	fa_reserve_init(&r, &k.pool);
	KUNIT_EXPECT_EQ(test, fa_reserve_fill(&r, 3, FA_GFP_KERNEL), 0);
	KUNIT_EXPECT_EQ(test, fa_reserve_fill(&r, 0, FA_GFP_KERNEL), 0);
	KUNIT_EXPECT_EQ(test, fa_reserve_fill(&r, 4, FA_GFP_NOFS), 0);
	KUNIT_EXPECT_EQ(test, fa_reserve_count(&r), 7u);
	KUNIT_EXPECT_EQ(test, k.s.last_gfp, FA_GFP_NOFS);	/* the caller's context, passed on */
	KUNIT_EXPECT_EQ(test, k.s.last_size, (size_t)32);
	fa_reserve_release(&r);
	fa_kr_fini(test, &k);
}

/* ------------------------------------------------------------ budgets */
struct fa_kr_budget {
	const char *name;
	unsigned long budget;
	unsigned int jobs, per_job;
};

static const struct fa_kr_budget fa_kr_budgets[] = {
	{ "budget 10, 3 jobs of 3", 10, 3, 3 },
	{ "budget 10, 4 jobs of 3", 10, 4, 3 },
	{ "budget 1, 2 jobs of 1", 1, 2, 1 },
	{ "budget 0, 1 job of 1", 0, 1, 1 },
	{ "budget 64, 8 jobs of 8", 64, 8, 8 },
	{ "budget 63, 8 jobs of 8", 63, 8, 8 },
};

static void fa_kr_budget_desc(const struct fa_kr_budget *b, char *desc)
{
	strscpy(desc, b->name, KUNIT_PARAM_DESC_SIZE);
}
KUNIT_ARRAY_PARAM(fa_kr_budget, fa_kr_budgets, fa_kr_budget_desc);

/* However many jobs are pending, the charge never exceeds the budget; the
 * job that does not fit gets -FA_ENOSPC and holds nothing. */
static void fa_reserve_test_budget_across_pending_jobs(struct kunit *test)
{
	const struct fa_kr_budget *b = test->param_value;
	struct fa_reserve jobs[8];
	unsigned int i, ok = 0;
	struct fa_kr k;

	fa_kr_init(test, &k, 64, 4, b->budget);
	for (i = 0; i < b->jobs; i++) {
		int ret;

		fa_reserve_init(&jobs[i], &k.pool);
		ret = fa_reserve_fill(&jobs[i], b->per_job, FA_GFP_KERNEL);
		if (ret == 0) {
			ok++;
		} else {
			KUNIT_EXPECT_EQ(test, ret, -FA_ENOSPC);
			KUNIT_EXPECT_EQ(test, fa_reserve_count(&jobs[i]), 0u);
		}
		KUNIT_EXPECT_LE(test, fa_reserve_pool_charged(&k.pool), b->budget);
	}
	KUNIT_EXPECT_EQ(test, ok, (unsigned int)min_t(unsigned long, b->jobs,
						      b->budget / b->per_job));
	for (i = 0; i < b->jobs; i++)
		fa_reserve_release(&jobs[i]);
	fa_kr_fini(test, &k);
}

/* A taken object stays charged until it is put back. */
static void fa_reserve_test_taken_objects_stay_charged(struct kunit *test)
{
	struct fa_reserve r;
	struct fa_kr k;
	void *o, *extra;

	fa_kr_init(test, &k, 64, 0, 2);
	fa_reserve_init(&r, &k.pool);
	KUNIT_ASSERT_EQ(test, fa_reserve_fill(&r, 2, FA_GFP_KERNEL), 0);
	o = fa_reserve_take(&r);
	fa_reserve_release(&r);
	KUNIT_EXPECT_EQ(test, fa_reserve_pool_charged(&k.pool), 1ul);
	KUNIT_EXPECT_EQ(test, fa_reserve_pool_get(&k.pool, FA_GFP_KERNEL, &extra), 0);
	KUNIT_EXPECT_EQ(test, fa_reserve_pool_get(&k.pool, FA_GFP_KERNEL, &extra), -FA_ENOSPC);
	fa_reserve_pool_put(&k.pool, o);
	fa_reserve_pool_put(&k.pool, extra);
	fa_kr_fini(test, &k);
}

/* --------------------------------------------------------- exhaustion */
struct fa_kr_fail {
	const char *name;
	unsigned int n;
	long fail_after;
	unsigned int cached;	/* objects warm in the cache first */
};

static const struct fa_kr_fail fa_kr_fails[] = {
	{ "first allocation fails", 4, 0, 0 },
	{ "third of four fails", 4, 2, 0 },
	{ "last of four fails", 4, 3, 0 },
	{ "cache covers two, then fails", 4, 1, 2 },
	{ "one of one fails", 1, 0, 0 },
};

static void fa_kr_fail_desc(const struct fa_kr_fail *f, char *desc)
{
	strscpy(desc, f->name, KUNIT_PARAM_DESC_SIZE);
}
KUNIT_ARRAY_PARAM(fa_kr_fail, fa_kr_fails, fa_kr_fail_desc);

/* The allocator failing mid-fill: -FA_ENOMEM, all or nothing, nothing lost. */
static void fa_reserve_test_allocator_fails_midway(struct kunit *test)
{
	const struct fa_kr_fail *f = test->param_value;
	struct fa_reserve r, warm;
	struct fa_kr k;

	fa_kr_init(test, &k, 128, 8, FA_RESERVE_NO_BUDGET);
	if (f->cached) {
		fa_reserve_init(&warm, &k.pool);
		KUNIT_ASSERT_EQ(test, fa_reserve_fill(&warm, f->cached, FA_GFP_KERNEL), 0);
		fa_reserve_release(&warm);
	}
	k.s.fail_after = f->fail_after;
	fa_reserve_init(&r, &k.pool);
	KUNIT_EXPECT_EQ(test, fa_reserve_fill(&r, f->n, FA_GFP_KERNEL), -FA_ENOMEM);
	KUNIT_EXPECT_EQ(test, fa_reserve_count(&r), 0u);
	KUNIT_EXPECT_EQ(test, fa_reserve_pool_charged(&k.pool), 0ul);
	KUNIT_EXPECT_EQ(test, (long)fa_reserve_pool_cached(&k.pool), k.s.live);
	k.s.fail_after = -1;
	KUNIT_EXPECT_EQ(test, fa_reserve_fill(&r, f->n, FA_GFP_KERNEL), 0);	/* recovers */
	fa_reserve_release(&r);
	fa_kr_fini(test, &k);
}

/* Taking more than was reserved is the caller's bug: it warns, returns NULL
 * and everything stays consistent. */
static void fa_reserve_test_take_from_empty_warns(struct kunit *test)
{
	struct fa_reserve r;
	struct fa_kr k;
	void *o, *none = (void *)1;

	fa_kr_init(test, &k, 64, 0, FA_RESERVE_NO_BUDGET);
	fa_reserve_init(&r, &k.pool);
	KUNIT_ASSERT_EQ(test, fa_reserve_fill(&r, 1, FA_GFP_KERNEL), 0);
	o = fa_reserve_take(&r);
	FA_KUNIT_EXPECT_WARNS(test, 1, none = fa_reserve_take(&r));
	KUNIT_EXPECT_NULL(test, none);
	fa_reserve_give_back(&r, o);
	FA_KUNIT_EXPECT_WARNS(test, 1, fa_reserve_give_back(&r, o));	/* more backs than takes */
	KUNIT_EXPECT_EQ(test, fa_reserve_count(&r), 1u);
	fa_reserve_release(&r);
	fa_kr_fini(test, &k);
}

/* Refusals: each bad argument gets its errno and changes nothing. */
static void fa_reserve_test_refusals(struct kunit *test)
{
	struct fa_reserve_source src = { fa_kr_alloc, fa_kr_free, NULL };
	struct fa_reserve_source nofree = { fa_kr_alloc, NULL, NULL };
	struct fa_reserve_pool p;
	struct fa_reserve r;
	unsigned int need = 0;

	KUNIT_EXPECT_EQ(test, fa_reserve_pool_init(&p, &src, 4, 0, FA_RESERVE_NO_BUDGET),
			-FA_EINVAL);	/* smaller than the link word */
	KUNIT_EXPECT_EQ(test, fa_reserve_pool_init(&p, &nofree, 64, 0, FA_RESERVE_NO_BUDGET),
			-FA_EINVAL);
	KUNIT_EXPECT_EQ(test, fa_reserve_pool_init(&p, NULL, 64, 0, FA_RESERVE_NO_BUDGET),
			-FA_EINVAL);
	fa_reserve_init(&r, NULL);
	KUNIT_EXPECT_EQ(test, fa_reserve_fill(&r, 1, FA_GFP_KERNEL), -FA_EINVAL);
	fa_reserve_release(&r);		/* never attached: nothing to do */
	KUNIT_EXPECT_EQ(test, fa_reserve_need_add(NULL, 1, 1), -FA_EINVAL);
	KUNIT_EXPECT_EQ(test, fa_reserve_need_add(&need, FA_RESERVE_GPUVA_PER_MAP, 10), 0);
	KUNIT_EXPECT_EQ(test, fa_reserve_need_add(&need, FA_RESERVE_GPUVA_PER_UNMAP, 5), 0);
	KUNIT_EXPECT_EQ(test, need, 40u);
	KUNIT_EXPECT_EQ(test, fa_reserve_need_add(&need, 0x10000, 0x10000), -FA_EOVERFLOW);
	KUNIT_EXPECT_EQ(test, need, 40u);
}

/* ----------------------------------------------- the stage contract */
/*
 * The whole lifecycle of many jobs with lockdep watching: fills under the
 * pool lock at submit (reclaiming allocations, announced), takes inside the
 * signalling section with a run-stage lock held, releases under the pool
 * lock at cleanup, and reclaim primed to wait on fences. Silent.
 */
static void fa_reserve_test_stage_contract_under_lockdep(struct kunit *test)
{
	static DEFINE_MUTEX(run_lock);
	struct fa_reserve jobs[16];
	fa_signalling_cookie_t c;
	struct fa_kr k;
	unsigned int i, round;
	void *o;

	fa_kr_init(test, &k, 256, 8, 64);
	fa_signalling_reclaim_enter();
	fa_signalling_fence_wait();
	fa_signalling_reclaim_leave();
	for (round = 0; round < 8; round++) {
		for (i = 0; i < 16; i++) {
			fa_reserve_init(&jobs[i], &k.pool);
			mutex_lock(&k.pool_lock);
			KUNIT_ASSERT_EQ(test, fa_reserve_fill(&jobs[i], 1 + (i + round) % 4,
							      FA_GFP_KERNEL), 0);
			mutex_unlock(&k.pool_lock);
		}
		for (i = 0; i < 16; i++) {
			c = fa_signalling_begin();
			mutex_lock(&run_lock);
			o = fa_reserve_take(&jobs[i]);
			KUNIT_EXPECT_NOT_NULL(test, o);
			fa_reserve_give_back(&jobs[i], o);
			mutex_unlock(&run_lock);
			fa_signalling_end(c);
		}
		for (i = 0; i < 16; i++) {
			mutex_lock(&k.pool_lock);
			fa_reserve_release(&jobs[i]);
			mutex_unlock(&k.pool_lock);
		}
	}
	KUNIT_EXPECT_TRUE(test, debug_locks);
	fa_kr_fini(test, &k);
}

static struct kunit_case fa_reserve_cases[] = {
	KUNIT_CASE_PARAM(fa_reserve_test_fill_take_release, fa_kr_shape_gen_params),
	KUNIT_CASE(fa_reserve_test_cache_serves_next_fill),
	KUNIT_CASE(fa_reserve_test_fills_accumulate),
	KUNIT_CASE_PARAM(fa_reserve_test_budget_across_pending_jobs, fa_kr_budget_gen_params),
	KUNIT_CASE(fa_reserve_test_taken_objects_stay_charged),
	KUNIT_CASE_PARAM(fa_reserve_test_allocator_fails_midway, fa_kr_fail_gen_params),
	KUNIT_CASE(fa_reserve_test_take_from_empty_warns),
	KUNIT_CASE(fa_reserve_test_refusals),
	KUNIT_CASE(fa_reserve_test_stage_contract_under_lockdep),
	{}
};

static struct kunit_suite fa_reserve_suite = {
	.name = "fencealloc_reserve",
	.test_cases = fa_reserve_cases,
};
kunit_test_suite(fa_reserve_suite);

MODULE_LICENSE("Dual MIT/GPL");
