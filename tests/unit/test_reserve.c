/* SPDX-License-Identifier: MIT */
/*
 * Reservations and pools: accounting against a reference model, fault
 * injection on every allocation of a fill, budget limits, caller-bug
 * warnings, and a multi-threaded budget test (suite reserve_mt).
 */
#include "fa_test.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include <fencealloc/reserve.h>

#include "fa_rng.h"
#include "reserve_alloc.h"

#define OBJ_SIZE 48

struct rfix {
	struct ra_alloc a;
	struct fa_reserve_source src;
	struct fa_reserve_pool pool;
};

static void rfix_init(struct rfix *f, unsigned int cap, unsigned long budget)
{
	ra_alloc_init(&f->a);
	f->src = ra_source(&f->a);
	cr_assert_eq(fa_reserve_pool_init(&f->pool, &f->src, OBJ_SIZE, cap, budget), 0);
}

/* Everything the allocator has live is owned by the pool (cache) or charged. */
static void assert_no_leak(struct rfix *f, unsigned long charged_outside_cache)
{
	cr_assert_eq((unsigned long)ra_alloc_live(&f->a),
		     fa_reserve_pool_cached(&f->pool) + charged_outside_cache,
		     "live %ld cached %u charged %lu", ra_alloc_live(&f->a),
		     fa_reserve_pool_cached(&f->pool), charged_outside_cache);
}

static void rfix_fini(struct rfix *f)
{
	fa_reserve_pool_fini(&f->pool);
	cr_assert_eq(ra_alloc_live(&f->a), 0, "leaked %ld objects", ra_alloc_live(&f->a));
}

TestSuite(reserve, .timeout = 30);

Test(reserve, pool_init_rejects_bad_input)
{
	struct ra_alloc a;
	struct fa_reserve_source src, bad;
	struct fa_reserve_pool p, before;

	ra_alloc_init(&a);
	src = ra_source(&a);
	memset(&p, 0x5a, sizeof(p));
	before = p;
	cr_assert_eq(fa_reserve_pool_init(&p, &src, sizeof(void *) - 1, 8, 10), -FA_EINVAL);
	cr_assert_eq(fa_reserve_pool_init(&p, NULL, 64, 8, 10), -FA_EINVAL);
	cr_assert_eq(fa_reserve_pool_init(NULL, &src, 64, 8, 10), -FA_EINVAL);
	bad = src;
	bad.alloc = NULL;
	cr_assert_eq(fa_reserve_pool_init(&p, &bad, 64, 8, 10), -FA_EINVAL);
	bad = src;
	bad.free = NULL;
	cr_assert_eq(fa_reserve_pool_init(&p, &bad, 64, 8, 10), -FA_EINVAL);
	cr_assert_eq(memcmp(&p, &before, sizeof(p)), 0, "failed init changed the pool");
	cr_assert_eq(fa_reserve_pool_init(&p, &src, sizeof(void *), 8, 10), 0);
	cr_assert_eq(ra_alloc_calls(&a), 0, "init must not allocate");
}

Test(reserve, fill_take_give_back_release)
{
	struct rfix f;
	struct fa_reserve r;
	void *objs[5];
	int i, j;

	rfix_init(&f, 8, FA_RESERVE_NO_BUDGET);
	fa_reserve_init(&r, &f.pool);
	cr_assert_eq(fa_reserve_count(&r), 0);
	cr_assert_eq(fa_reserve_fill(&r, 0, FA_GFP_KERNEL), 0);
	cr_assert_eq(ra_alloc_calls(&f.a), 0);
	cr_assert_eq(fa_reserve_fill(&r, 3, FA_GFP_KERNEL), 0);
	cr_assert_eq(fa_reserve_fill(&r, 2, FA_GFP_NOFS), 0, "fill is cumulative");
	cr_assert_eq(f.a.last_gfp, FA_GFP_NOFS, "gfp passed through to the source");
	cr_assert_eq(fa_reserve_count(&r), 5);
	cr_assert_eq(fa_reserve_pool_charged(&f.pool), 5);
	cr_assert_eq(ra_alloc_live(&f.a), 5);

	for (i = 0; i < 5; i++) {
		objs[i] = fa_reserve_take(&r);
		cr_assert_not_null(objs[i]);
		cr_assert_null(*(void **)objs[i], "link word of a taken object reads zero");
		for (j = 0; j < i; j++)
			cr_assert_neq(objs[i], objs[j], "object handed out twice");
		memset(objs[i], i, OBJ_SIZE); /* the whole object is the caller's */
		cr_assert_eq(fa_reserve_count(&r), (unsigned int)(4 - i));
	}
	cr_assert_eq(fa_reserve_pool_charged(&f.pool), 5, "taken objects stay charged");
	fa_reserve_give_back(&r, objs[4]);
	fa_reserve_give_back(&r, objs[3]);
	cr_assert_eq(fa_reserve_count(&r), 2);
	cr_assert_eq(fa_reserve_take(&r), objs[3], "LIFO: last given back is first taken");
	fa_reserve_give_back(&r, objs[3]);

	/* Release: the two held go back to the cache; three taken stay charged. */
	fa_reserve_release(&r);
	cr_assert_eq(fa_reserve_count(&r), 0);
	cr_assert_eq(fa_reserve_pool_charged(&f.pool), 3);
	cr_assert_eq(fa_reserve_pool_cached(&f.pool), 2);
	for (i = 0; i < 3; i++)
		fa_reserve_pool_put(&f.pool, objs[i]);
	cr_assert_eq(fa_reserve_pool_charged(&f.pool), 0);
	cr_assert_eq(fa_reserve_pool_cached(&f.pool), 5);
	assert_no_leak(&f, 0);

	/* A refill is served from the cache: no source call. */
	ra_alloc_arm(&f.a, 0);
	cr_assert_eq(fa_reserve_fill(&r, 5, FA_GFP_KERNEL), 0);
	cr_assert_eq(ra_alloc_calls(&f.a), 0, "steady-state fill must hit the cache");
	cr_assert_eq(fa_reserve_pool_cached(&f.pool), 0);
	fa_reserve_release(&r);
	rfix_fini(&f);
	cr_assert_eq(fa_test_warnings(), 0, "unexpected warning");
}

Test(reserve, cache_is_capped)
{
	struct rfix f;
	struct fa_reserve r;

	rfix_init(&f, 8, FA_RESERVE_NO_BUDGET);
	fa_reserve_init(&r, &f.pool);
	cr_assert_eq(fa_reserve_fill(&r, 20, FA_GFP_KERNEL), 0);
	fa_reserve_release(&r);
	cr_assert_eq(fa_reserve_pool_cached(&f.pool), 8);
	cr_assert_eq(ra_alloc_live(&f.a), 8);
	cr_assert_eq(f.pool.source_frees, 12);
	cr_assert_eq(fa_reserve_pool_trim(&f.pool), 8);
	cr_assert_eq(ra_alloc_live(&f.a), 0);
	cr_assert_eq(fa_reserve_pool_cached(&f.pool), 0);

	/* Cap 0: a pass-through pool. */
	cr_assert_eq(fa_reserve_pool_init(&f.pool, &f.src, OBJ_SIZE, 0, FA_RESERVE_NO_BUDGET), 0);
	fa_reserve_init(&r, &f.pool);
	cr_assert_eq(fa_reserve_fill(&r, 4, FA_GFP_KERNEL), 0);
	fa_reserve_release(&r);
	cr_assert_eq(ra_alloc_live(&f.a), 0);
	rfix_fini(&f);
}

Test(reserve, budget_is_hard)
{
	struct rfix f;
	struct fa_reserve r1, r2;
	void *o, *g = NULL;

	rfix_init(&f, 8, 10);
	fa_reserve_init(&r1, &f.pool);
	fa_reserve_init(&r2, &f.pool);
	cr_assert_eq(fa_reserve_fill(&r1, 6, FA_GFP_KERNEL), 0);
	ra_alloc_arm(&f.a, 0);
	cr_assert_eq(fa_reserve_fill(&r2, 5, FA_GFP_KERNEL), -FA_ENOSPC);
	cr_assert_eq(ra_alloc_calls(&f.a), 0, "ENOSPC must not touch the source");
	cr_assert_eq(fa_reserve_count(&r2), 0);
	cr_assert_eq(fa_reserve_pool_charged(&f.pool), 6);
	cr_assert_eq(fa_reserve_fill(&r2, 4, FA_GFP_KERNEL), 0, "exactly up to the budget");
	cr_assert_eq(fa_reserve_fill(&r2, 1, FA_GFP_KERNEL), -FA_ENOSPC);
	cr_assert_eq(fa_reserve_pool_get(&f.pool, FA_GFP_KERNEL, &g), -FA_ENOSPC);
	cr_assert_null(g, "failed get leaves the output untouched");
	cr_assert_eq(fa_reserve_count(&r2), 4);

	/* A taken object stays charged after its reservation is released. */
	o = fa_reserve_take(&r1);
	fa_reserve_release(&r1);
	cr_assert_eq(fa_reserve_pool_charged(&f.pool), 5);
	cr_assert_eq(fa_reserve_fill(&r1, 6, FA_GFP_KERNEL), -FA_ENOSPC);
	cr_assert_eq(fa_reserve_fill(&r1, 5, FA_GFP_KERNEL), 0);
	fa_reserve_release(&r1);
	fa_reserve_pool_put(&f.pool, o);
	cr_assert_eq(fa_reserve_pool_charged(&f.pool), 4);
	cr_assert_eq(fa_reserve_pool_get(&f.pool, FA_GFP_KERNEL, &g), 0);
	cr_assert_not_null(g);
	cr_assert_eq(fa_reserve_pool_charged(&f.pool), 5);
	fa_reserve_pool_put(&f.pool, g);
	fa_reserve_release(&r2);
	cr_assert_eq(fa_reserve_pool_charged(&f.pool), 0);
	rfix_fini(&f);
}

/*
 * The allocator fails on call k, for every k: fill returns -FA_ENOMEM, the
 * reservation holds exactly what it held before, the budget charge is
 * unchanged, and every live object is in the pool's cache or charged.
 * Repeated with objects already cached (so the fill mixes cache and source)
 * and with a reservation that already holds objects.
 */
Test(reserve, fault_injection_every_allocation)
{
	static const unsigned int cache_pre[] = { 0, 3, 8 };
	static const unsigned int held_pre[] = { 0, 2 };
	const unsigned int n = 12;
	unsigned int ci, hi, k;

	for (ci = 0; ci < FA_ARRAY_SIZE(cache_pre); ci++) {
		for (hi = 0; hi < FA_ARRAY_SIZE(held_pre); hi++) {
			for (k = 1; k <= n + 1; k++) {
				struct rfix f;
				struct fa_reserve warm, r;
				unsigned long charged;
				unsigned int cached, from_source;
				int err;

				rfix_init(&f, 8, 100);
				fa_reserve_init(&warm, &f.pool);
				cr_assert_eq(fa_reserve_fill(&warm, cache_pre[ci], FA_GFP_KERNEL), 0);
				fa_reserve_release(&warm);
				fa_reserve_init(&r, &f.pool);
				cr_assert_eq(fa_reserve_fill(&r, held_pre[hi], FA_GFP_KERNEL), 0);
				charged = fa_reserve_pool_charged(&f.pool);
				cached = fa_reserve_pool_cached(&f.pool);
				from_source = n - cached;

				ra_alloc_arm(&f.a, k);
				err = fa_reserve_fill(&r, n, FA_GFP_KERNEL);
				if (k <= from_source) {
					cr_assert_eq(err, -FA_ENOMEM, "k=%u", k);
					cr_assert_eq(ra_alloc_calls(&f.a), k, "stops at the failure");
					cr_assert_eq(fa_reserve_count(&r), held_pre[hi]);
					cr_assert_eq(fa_reserve_pool_charged(&f.pool), charged,
						     "budget changed on failure (k=%u)", k);
					assert_no_leak(&f, charged);
					cr_assert_eq(fa_reserve_fill(&r, 100 - charged + 1,
								     FA_GFP_KERNEL), -FA_ENOSPC);
				} else {
					cr_assert_eq(err, 0, "k=%u", k);
					cr_assert_eq(fa_reserve_count(&r), held_pre[hi] + n);
					cr_assert_eq(fa_reserve_pool_charged(&f.pool), charged + n);
					assert_no_leak(&f, charged + n);
				}
				fa_reserve_release(&r);
				cr_assert_eq(fa_reserve_pool_charged(&f.pool), 0);
				rfix_fini(&f);
			}
		}
	}
}

Test(reserve, pool_get_fault_injection)
{
	struct rfix f;
	void *o = (void *)&f;

	rfix_init(&f, 2, FA_RESERVE_NO_BUDGET);
	ra_alloc_arm(&f.a, 1);
	cr_assert_eq(fa_reserve_pool_get(&f.pool, FA_GFP_KERNEL, &o), -FA_ENOMEM);
	cr_assert_eq(o, (void *)&f, "output untouched on error");
	cr_assert_eq(fa_reserve_pool_charged(&f.pool), 0);
	assert_no_leak(&f, 0);
	cr_assert_eq(fa_reserve_pool_get(&f.pool, FA_GFP_KERNEL, &o), 0);
	cr_assert_eq(fa_reserve_pool_charged(&f.pool), 1);
	fa_reserve_pool_put(&f.pool, o);
	rfix_fini(&f);
}

Test(reserve, over_take_warns_and_stays_consistent)
{
	struct rfix f;
	struct fa_reserve r;
	void *a, *b = (void *)1;

	rfix_init(&f, 8, 4);
	fa_reserve_init(&r, &f.pool);
	FA_EXPECT_WARN(b = fa_reserve_take(&r));
	cr_assert_null(b);
	cr_assert_eq(fa_reserve_count(&r), 0);

	cr_assert_eq(fa_reserve_fill(&r, 1, FA_GFP_KERNEL), 0);
	a = fa_reserve_take(&r);
	cr_assert_not_null(a);
	FA_EXPECT_WARN(b = fa_reserve_take(&r));
	cr_assert_null(b);
	cr_assert_eq(fa_reserve_count(&r), 0);
	cr_assert_eq(fa_reserve_pool_charged(&f.pool), 1);

	/* Still usable afterwards. */
	fa_reserve_give_back(&r, a);
	cr_assert_eq(fa_reserve_count(&r), 1);
	cr_assert_eq(fa_reserve_take(&r), a);
	cr_assert_eq(fa_reserve_fill(&r, 3, FA_GFP_KERNEL), 0);
	cr_assert_eq(fa_reserve_count(&r), 3);
	fa_reserve_give_back(&r, a);
	fa_reserve_release(&r);
	cr_assert_eq(fa_reserve_pool_charged(&f.pool), 0);
	rfix_fini(&f);
}

Test(reserve, give_back_misuse_warns)
{
	struct rfix f;
	struct fa_reserve r;
	void *a, *foreign = NULL;
	unsigned long charged;

	rfix_init(&f, 8, FA_RESERVE_NO_BUDGET);
	fa_reserve_init(&r, &f.pool);
	cr_assert_eq(fa_reserve_fill(&r, 2, FA_GFP_KERNEL), 0);
	FA_EXPECT_WARN(fa_reserve_give_back(&r, NULL));
	cr_assert_eq(fa_reserve_count(&r), 2);
	cr_assert_eq(fa_reserve_pool_get(&f.pool, FA_GFP_KERNEL, &foreign), 0);
	FA_EXPECT_WARN(fa_reserve_give_back(&r, foreign));
	cr_assert_eq(fa_reserve_count(&r), 2, "more give-backs than takes are refused");
	a = fa_reserve_take(&r);
	fa_reserve_give_back(&r, a);
	FA_EXPECT_WARN(fa_reserve_give_back(&r, a));
	cr_assert_eq(fa_reserve_count(&r), 2);

	charged = fa_reserve_pool_charged(&f.pool);
	FA_EXPECT_WARN(fa_reserve_pool_put(&f.pool, NULL));
	cr_assert_eq(fa_reserve_pool_charged(&f.pool), charged);
	fa_reserve_pool_put(&f.pool, foreign);
	fa_reserve_release(&r);
	FA_EXPECT_WARN(fa_reserve_pool_put(&f.pool, (void *)&f));
	cr_assert_eq(fa_reserve_pool_charged(&f.pool), 0);
	rfix_fini(&f);
}

Test(reserve, fini_with_charged_objects_warns)
{
	struct rfix f;
	struct fa_reserve r;

	rfix_init(&f, 8, FA_RESERVE_NO_BUDGET);
	fa_reserve_init(&r, &f.pool);
	cr_assert_eq(fa_reserve_fill(&r, 2, FA_GFP_KERNEL), 0);
	FA_EXPECT_WARN(fa_reserve_pool_fini(&f.pool));
	f.pool.charged = 0; /* the objects are the caller's now */
	fa_reserve_release(&r);
	fa_reserve_pool_trim(&f.pool);
	cr_assert_eq(ra_alloc_live(&f.a), 0);
}

Test(reserve, fill_rejects_bad_input)
{
	struct rfix f;
	struct fa_reserve r;

	rfix_init(&f, 8, FA_RESERVE_NO_BUDGET);
	fa_reserve_init(&r, NULL);
	cr_assert_eq(fa_reserve_fill(&r, 1, FA_GFP_KERNEL), -FA_EINVAL);
	fa_reserve_release(&r); /* nothing held: a no-op, not a crash */
	cr_assert_eq(fa_reserve_count(&r), 0);
	cr_assert_eq(fa_reserve_fill(NULL, 1, FA_GFP_KERNEL), -FA_EINVAL);
	fa_reserve_init(&r, &f.pool);
	cr_assert_eq(fa_reserve_fill(&r, 2, FA_GFP_KERNEL), 0);
	r.filled = ~0u - 1; /* pretend: a reservation about to overflow */
	ra_alloc_arm(&f.a, 0);
	cr_assert_eq(fa_reserve_fill(&r, 2, FA_GFP_KERNEL), -FA_EOVERFLOW);
	cr_assert_eq(ra_alloc_calls(&f.a), 0);
	cr_assert_eq(fa_reserve_pool_charged(&f.pool), 2);
	cr_assert_eq(fa_reserve_count(&r), 2);
	r.filled = 2;
	fa_reserve_release(&r);
	rfix_fini(&f);
}

Test(reserve, need_add_counts_with_overflow_check)
{
	unsigned int need = 0;

	cr_assert_eq(fa_reserve_need_add(&need, FA_RESERVE_GPUVA_PER_MAP, 4), 0);
	cr_assert_eq(fa_reserve_need_add(&need, FA_RESERVE_GPUVA_PER_UNMAP, 5), 0);
	cr_assert_eq(need, 4 * 3 + 5 * 2);
	cr_assert_eq(fa_reserve_need_add(&need, 0, ~0u), 0);
	cr_assert_eq(need, 22);
	cr_assert_eq(fa_reserve_need_add(&need, ~0u, 2), -FA_EOVERFLOW);
	cr_assert_eq(need, 22, "unchanged on overflow");
	cr_assert_eq(fa_reserve_need_add(&need, 1, ~0u - 22), 0);
	cr_assert_eq(need, ~0u);
	cr_assert_eq(fa_reserve_need_add(&need, 1, 1), -FA_EOVERFLOW);
	cr_assert_eq(need, ~0u);
	cr_assert_eq(fa_reserve_need_add(NULL, 1, 1), -FA_EINVAL);
}

/*
 * Random fill / take / give back / release / pool get / pool put against a
 * reference model of every count, with a fault armed now and then.
 */
#define MODEL_RES 4
#define MODEL_OUT 256

struct model_res {
	struct fa_reserve r;
	unsigned int held;
	void *taken[MODEL_OUT];
	unsigned int ntaken;
};

Test(reserve, random_ops_match_model)
{
	struct rfix f;
	struct fa_rng rng;
	struct model_res *m = (struct model_res *)calloc(MODEL_RES, sizeof(*m));
	void *used[MODEL_OUT * MODEL_RES];
	unsigned int nused = 0, i, iters = (unsigned int)fa_test_iters(20000);
	unsigned long charged = 0, budget = 64;

	cr_assert_not_null(m);
	fa_rng_seed(&rng, fa_test_seed(0x7e5e7e5eULL));
	rfix_init(&f, 8, budget);
	for (i = 0; i < MODEL_RES; i++)
		fa_reserve_init(&m[i].r, &f.pool);
	for (i = 0; i < iters; i++) {
		struct model_res *x = &m[fa_rng_below(&rng, MODEL_RES)];
		unsigned int op = (unsigned int)fa_rng_below(&rng, 100);

		if (op < 20) {
			unsigned int n = (unsigned int)fa_rng_below(&rng, 20);
			unsigned long fail = fa_rng_below(&rng, 4) == 0 ? 1 + fa_rng_below(&rng, 8) : 0;
			unsigned int cached = fa_reserve_pool_cached(&f.pool);
			int err, want;

			ra_alloc_arm(&f.a, fail);
			err = fa_reserve_fill(&x->r, n, FA_GFP_KERNEL);
			ra_alloc_arm(&f.a, 0);
			if (charged + n > budget)
				want = -FA_ENOSPC;
			else if (fail && n > cached && fail <= n - cached)
				want = -FA_ENOMEM;
			else
				want = 0;
			cr_assert_eq(err, want, "iter %u: fill(%u) = %d, want %d", i, n, err, want);
			if (!err) {
				x->held += n;
				charged += n;
			}
		} else if (op < 55) {
			if (x->held) {
				void *o = fa_reserve_take(&x->r);

				cr_assert_not_null(o);
				memset(o, 0x3c, OBJ_SIZE);
				x->taken[x->ntaken++] = o;
				x->held--;
			}
		} else if (op < 75) {
			if (x->ntaken) {
				unsigned int j = (unsigned int)fa_rng_below(&rng, x->ntaken);

				fa_reserve_give_back(&x->r, x->taken[j]);
				x->taken[j] = x->taken[--x->ntaken];
				x->held++;
			}
		} else if (op < 85) {
			fa_reserve_release(&x->r);
			charged -= x->held;
			x->held = 0;
			while (x->ntaken)
				used[nused++] = x->taken[--x->ntaken];
		} else if (op < 95) {
			if (nused) {
				unsigned int j = (unsigned int)fa_rng_below(&rng, nused);

				fa_reserve_pool_put(&f.pool, used[j]);
				used[j] = used[--nused];
				charged--;
			}
		} else if (nused < MODEL_OUT) {
			void *o = NULL;
			int err = fa_reserve_pool_get(&f.pool, FA_GFP_KERNEL, &o);

			cr_assert_eq(err, charged < budget ? 0 : -FA_ENOSPC);
			if (!err) {
				used[nused++] = o;
				charged++;
			}
		}
		cr_assert_eq(fa_reserve_count(&x->r), x->held, "iter %u", i);
		cr_assert_eq(fa_reserve_pool_charged(&f.pool), charged, "iter %u", i);
		cr_assert_leq(charged, budget);
		cr_assert_leq(fa_reserve_pool_cached(&f.pool), 8u);
		assert_no_leak(&f, charged);
	}
	for (i = 0; i < MODEL_RES; i++) {
		fa_reserve_release(&m[i].r);
		while (m[i].ntaken)
			fa_reserve_pool_put(&f.pool, m[i].taken[--m[i].ntaken]);
	}
	while (nused)
		fa_reserve_pool_put(&f.pool, used[--nused]);
	cr_assert_eq(fa_reserve_pool_charged(&f.pool), 0);
	rfix_fini(&f);
	cr_assert_eq(fa_test_warnings(), 0);
	free(m);
}

/*
 * Threads act as concurrent jobs on one pool with a tight budget. Fill,
 * release and pool_put run under the pool lock, where a reference model of
 * the charge is checked; take / give back run unlocked on the job's own
 * reservation, and every taken object is stamped and re-checked so an object
 * handed to two jobs at once is caught.
 */
#define MT_THREADS 4
#define MT_BUDGET 40

struct mt_shared {
	pthread_mutex_t lock;
	struct rfix f;
	unsigned long model_charged;
	unsigned long enospc;
	unsigned long fills;
	unsigned long max_charged;
	uint64_t seed;
	unsigned int jobs;
};

struct mt_arg {
	struct mt_shared *s;
	unsigned int id;
	int ok;
};

static int mt_check_locked(struct mt_shared *s)
{
	unsigned long c = fa_reserve_pool_charged(&s->f.pool);

	if (c > s->max_charged)
		s->max_charged = c;
	return c == s->model_charged && c <= MT_BUDGET;
}

static void *mt_job_thread(void *p)
{
	struct mt_arg *arg = (struct mt_arg *)p;
	struct mt_shared *s = arg->s;
	struct fa_rng rng;
	unsigned int j;

	fa_rng_seed(&rng, s->seed + arg->id);
	arg->ok = 1;
	for (j = 0; j < s->jobs && arg->ok; j++) {
		struct fa_reserve r;
		void *objs[16];
		unsigned int n = 1 + (unsigned int)fa_rng_below(&rng, 16);
		unsigned int use = (unsigned int)fa_rng_below(&rng, n + 1), i;
		int err;

		fa_reserve_init(&r, &s->f.pool);
		pthread_mutex_lock(&s->lock);              /* submit */
		err = fa_reserve_fill(&r, n, FA_GFP_KERNEL);
		if (!err)
			s->model_charged += n;
		else
			s->enospc++;
		s->fills++;
		if (!mt_check_locked(s) || (err && err != -FA_ENOSPC) ||
		    fa_reserve_count(&r) != (err ? 0u : n))
			arg->ok = 0;
		pthread_mutex_unlock(&s->lock);
		if (err)
			continue;

		for (i = 0; i < use; i++) {                /* run: no lock */
			objs[i] = fa_reserve_take(&r);
			if (!objs[i]) {
				arg->ok = 0;
				break;
			}
			memset(objs[i], (int)(arg->id + 1), OBJ_SIZE);
		}
		for (i = 0; i < use && arg->ok; i++) {
			const unsigned char *b = (const unsigned char *)objs[i];
			unsigned int k;

			for (k = 0; k < OBJ_SIZE; k++)
				if (b[k] != arg->id + 1)
					arg->ok = 0;
		}
		if (!arg->ok)
			break;
		if (use && fa_rng_below(&rng, 2)) {
			fa_reserve_give_back(&r, objs[--use]);
		}

		pthread_mutex_lock(&s->lock);              /* cleanup */
		s->model_charged -= fa_reserve_count(&r);
		fa_reserve_release(&r);
		for (i = 0; i < use; i++) {
			fa_reserve_pool_put(&s->f.pool, objs[i]);
			s->model_charged--;
		}
		if (!mt_check_locked(s))
			arg->ok = 0;
		pthread_mutex_unlock(&s->lock);
	}
	return NULL;
}

TestSuite(reserve_mt, .timeout = 60);

Test(reserve_mt, budget_never_exceeded_by_concurrent_jobs)
{
	struct mt_shared *s = (struct mt_shared *)calloc(1, sizeof(*s));
	struct mt_arg args[MT_THREADS];
	pthread_t th[MT_THREADS];
	unsigned int i;

	cr_assert_not_null(s);
	pthread_mutex_init(&s->lock, NULL);
	rfix_init(&s->f, 8, MT_BUDGET);
	s->seed = fa_test_seed(0xb0d6e7ULL);
	s->jobs = (unsigned int)fa_test_iters(20000);
	for (i = 0; i < MT_THREADS; i++) {
		args[i].s = s;
		args[i].id = i;
		cr_assert_eq(pthread_create(&th[i], NULL, mt_job_thread, &args[i]), 0);
	}
	for (i = 0; i < MT_THREADS; i++) {
		pthread_join(th[i], NULL);
		cr_assert(args[i].ok, "thread %u saw an inconsistent pool", i);
	}
	cr_assert_eq(fa_reserve_pool_charged(&s->f.pool), 0);
	cr_assert_leq(s->max_charged, MT_BUDGET);
	cr_log_info("fills %lu, ENOSPC %lu, max charged %lu of %d\n", s->fills, s->enospc,
		    s->max_charged, MT_BUDGET);
	rfix_fini(&s->f);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/*
 * The two modules together, the way a VM_BIND pipeline uses them, on three
 * threads: submit fills a job's reservation under the pool lock (retrying
 * while the budget is full); run takes page tables from it with no lock,
 * installs them in a slot table and pushes the tables they replace onto the
 * deferred list tagged with the TLB invalidate that follows the job; cleanup
 * releases the reservation and drains the tables whose invalidate has
 * completed back into the pool, under the pool lock. Every object carries a
 * state that must go FREE -> INUSE -> DEFERRED -> FREE; the budget is checked
 * under the lock after every step.
 */
#include <fencealloc/deferred.h>
#include <sched.h>

#define PL_SLOTS 16
#define PL_BUDGET 48
#define PL_QUEUE 8

enum { PT_INUSE = 0x1a5e, PT_DEFERRED = 0xdefe, PT_FREE = 0xf4ee };

struct pl_pt {
	void *link;                /* the pool's / reservation's link word */
	struct fa_deferred_node dn;
	unsigned int state;
};

struct pl_job {
	struct fa_reserve r;
	unsigned int need;
};

struct pl_queue {
	struct pl_job *slot[PL_QUEUE];
	unsigned int head, tail;   /* atomic */
};

struct pl {
	pthread_mutex_t pool_lock;
	struct rfix f;
	struct fa_deferred dfree;
	struct pl_queue to_run, to_cleanup;
	struct pl_pt *slots[PL_SLOTS]; /* run-stage state */
	uint64_t tlb_issued;           /* atomic: written by run */
	unsigned int jobs;
	unsigned int bad;              /* atomic */
	unsigned long enospc, drained; /* under pool_lock */
	uint64_t seed;
};

static void pl_put(struct pl_queue *q, struct pl_job *j)
{
	unsigned int t = __atomic_load_n(&q->tail, __ATOMIC_RELAXED);

	while (t - __atomic_load_n(&q->head, __ATOMIC_ACQUIRE) >= PL_QUEUE)
		sched_yield();
	q->slot[t % PL_QUEUE] = j;
	__atomic_store_n(&q->tail, t + 1, __ATOMIC_RELEASE);
}

static struct pl_job *pl_get(struct pl_queue *q)
{
	unsigned int h = __atomic_load_n(&q->head, __ATOMIC_RELAXED);
	struct pl_job *j;

	while (__atomic_load_n(&q->tail, __ATOMIC_ACQUIRE) == h)
		sched_yield();
	j = q->slot[h % PL_QUEUE];
	__atomic_store_n(&q->head, h + 1, __ATOMIC_RELEASE);
	return j;
}

static void pl_bad(struct pl *s)
{
	__atomic_add_fetch(&s->bad, 1u, __ATOMIC_RELAXED);
}

static void *pl_submit(void *p)
{
	struct pl *s = (struct pl *)p;
	struct fa_rng rng;
	unsigned int i;

	fa_rng_seed(&rng, s->seed);
	for (i = 0; i < s->jobs; i++) {
		struct pl_job *j = (struct pl_job *)malloc(sizeof(*j));
		int err;

		j->need = 1 + (unsigned int)fa_rng_below(&rng, 4);
		fa_reserve_init(&j->r, &s->f.pool);
		for (;;) {
			pthread_mutex_lock(&s->pool_lock);
			err = fa_reserve_fill(&j->r, j->need, FA_GFP_KERNEL);
			if (err == -FA_ENOSPC)
				s->enospc++;
			if (fa_reserve_pool_charged(&s->f.pool) > PL_BUDGET)
				pl_bad(s);
			pthread_mutex_unlock(&s->pool_lock);
			if (err != -FA_ENOSPC)
				break;
			sched_yield(); /* budget full: wait for cleanup */
		}
		if (err)
			pl_bad(s);
		pl_put(&s->to_run, j);
	}
	pl_put(&s->to_run, NULL);
	return NULL;
}

static void pl_retire(struct pl *s, struct pl_pt *old, uint64_t epoch)
{
	if (old->state != PT_INUSE)
		pl_bad(s);
	old->state = PT_DEFERRED;
	fa_deferred_push(&s->dfree, &old->dn, epoch);
}

static void *pl_run(void *p)
{
	struct pl *s = (struct pl *)p;
	struct fa_rng rng;
	struct pl_job *j;
	unsigned int i;

	fa_rng_seed(&rng, s->seed ^ 0x9e3779b9ULL);
	while ((j = pl_get(&s->to_run)) != NULL) {
		/* signalling section: no allocation, no pool lock */
		uint64_t epoch = __atomic_load_n(&s->tlb_issued, __ATOMIC_RELAXED) + 1;

		for (i = 0; i < j->need; i++) {
			struct pl_pt *pt = (struct pl_pt *)fa_reserve_take(&j->r);
			unsigned int k = (unsigned int)fa_rng_below(&rng, PL_SLOTS);

			if (!pt || pt->state == PT_INUSE || pt->state == PT_DEFERRED) {
				pl_bad(s);
				continue;
			}
			pt->state = PT_INUSE;
			if (s->slots[k])
				pl_retire(s, s->slots[k], epoch);
			s->slots[k] = pt;
		}
		__atomic_store_n(&s->tlb_issued, epoch, __ATOMIC_RELEASE); /* invalidate */
		pl_put(&s->to_cleanup, j);
	}
	/* VM teardown: every table goes through the deferred list too */
	for (i = 0; i < PL_SLOTS; i++)
		if (s->slots[i])
			pl_retire(s, s->slots[i], __atomic_load_n(&s->tlb_issued, __ATOMIC_RELAXED) + 1);
	__atomic_add_fetch(&s->tlb_issued, 1, __ATOMIC_RELEASE);
	pl_put(&s->to_cleanup, NULL);
	return NULL;
}

struct pl_drain_ctx {
	struct pl *s;
	uint64_t completed;
};

/* Called with the pool lock held: fa_reserve_pool_put() never allocates or waits. */
static void pl_free_pt(struct fa_deferred_node *n, void *arg)
{
	struct pl_drain_ctx *c = (struct pl_drain_ctx *)arg;
	struct pl_pt *pt = FA_CONTAINER_OF(n, struct pl_pt, dn);

	if (pt->state != PT_DEFERRED || fa_seq64_after(n->epoch, c->completed))
		pl_bad(c->s);
	pt->state = PT_FREE;
	c->s->drained++;
	fa_reserve_pool_put(&c->s->f.pool, pt);
}

static void pl_cleanup_step(struct pl *s, uint64_t completed)
{
	struct pl_drain_ctx c;

	c.s = s;
	c.completed = completed;
	fa_deferred_drain(&s->dfree, completed, pl_free_pt, &c);
}

Test(reserve_mt, vm_bind_pipeline_with_deferred_frees)
{
	struct pl *s = (struct pl *)calloc(1, sizeof(*s));
	pthread_t th[2];
	struct pl_job *j;
	unsigned int lag = 0;

	cr_assert_not_null(s);
	pthread_mutex_init(&s->pool_lock, NULL);
	rfix_init(&s->f, 8, PL_BUDGET);
	fa_deferred_init(&s->dfree);
	s->seed = fa_test_seed(0x91be11eULL);
	s->jobs = (unsigned int)fa_test_iters(50000);
	cr_assert_eq(pthread_create(&th[0], NULL, pl_submit, s), 0);
	cr_assert_eq(pthread_create(&th[1], NULL, pl_run, s), 0);
	while ((j = pl_get(&s->to_cleanup)) != NULL) {
		uint64_t issued = __atomic_load_n(&s->tlb_issued, __ATOMIC_ACQUIRE);

		/* the GPU completes invalidates a little late, sometimes */
		lag = (lag + 1) % 3;
		pthread_mutex_lock(&s->pool_lock);
		fa_reserve_release(&j->r);
		pl_cleanup_step(s, issued - lag);
		if (fa_reserve_pool_charged(&s->f.pool) > PL_BUDGET)
			pl_bad(s);
		pthread_mutex_unlock(&s->pool_lock);
		free(j);
	}
	pthread_join(th[0], NULL);
	pthread_join(th[1], NULL);
	pthread_mutex_lock(&s->pool_lock);
	pl_cleanup_step(s, __atomic_load_n(&s->tlb_issued, __ATOMIC_ACQUIRE));
	pthread_mutex_unlock(&s->pool_lock);

	cr_assert_eq(s->bad, 0, "state machine or budget violated %u times", s->bad);
	cr_assert_eq(fa_deferred_pending(&s->dfree), 0);
	cr_assert_eq(fa_reserve_pool_charged(&s->f.pool), 0, "charged %lu after teardown",
		     fa_reserve_pool_charged(&s->f.pool));
	assert_no_leak(&s->f, 0);
	cr_assert_eq(fa_test_warnings(), 0);
	cr_log_info("jobs %u, tables freed through the deferred list %lu, ENOSPC retries %lu\n",
		    s->jobs, s->drained, s->enospc);
	rfix_fini(&s->f);
	pthread_mutex_destroy(&s->pool_lock);
	free(s);
}
