/* SPDX-License-Identifier: MIT */
/*
 * Model-based randomized test of the buddy allocator: 10^6 random operations
 * (every allocation kind and flag, frees, trims, refused frees) against a
 * chunk-bitmap model, with fa_buddy_check() after every operation. Small
 * spaces (a few hundred chunks, several roots, non-zero bases) keep the
 * O(n) check cheap and make collisions frequent. Replay with FA_SEED.
 */
#include "fa_test.h"
#include <criterion/criterion.h>
#include <fencealloc/buddy.h>

#include "fa_rng.h"
#include "buddy_driver.h"

static uint64_t storage[1 << 14];

static uint64_t rng_next(void *ctx)
{
	return fa_rng_next((struct fa_rng *)ctx);
}

static void run(uint64_t seed, uint64_t nchunks, uint64_t base, uint64_t ops)
{
	struct fa_buddy b;
	struct bm_model m;
	struct bd_state d;
	struct bd_src src;
	struct fa_rng rng;
	uint64_t i;
	const char *err;

	fa_rng_seed(&rng, seed);
	src.next = rng_next;
	src.ctx = &rng;
	cr_assert_eq(fa_buddy_init(&b, storage, sizeof(storage), base, nchunks * 4096, 4096), 0);
	bm_init(&m, nchunks);
	d.b = &b;
	d.m = &m;
	d.base = base;
	d.chunk = 4096;
	d.ops = d.misses = 0;
	for (i = 0; i < ops; i++) {
		err = bd_step(&d, &src);
		cr_assert_null(err, "seed 0x%llx, %llu chunks, op %llu: %s",
			       (unsigned long long)seed, (unsigned long long)nchunks,
			       (unsigned long long)i, err);
	}
	while (m.nlive) {
		struct bm_alloc a = m.live[0];

		cr_assert_eq(fa_buddy_free(&b, base + a.pos * 4096, a.len * 4096), 0);
		bm_on_free(&m, 0, false);
	}
	cr_assert_eq(fa_buddy_avail(&b), nchunks * 4096);
	cr_assert_eq(fa_buddy_largest_free(&b), 4096ull << fa_ilog2_u64(nchunks));
	cr_assert_eq(fa_buddy_check(&b, NULL), 0);
	fa_buddy_fini(&b);
	cr_log_info("%llu chunks: %lu ops, %lu non-exhaustive misses\n",
		    (unsigned long long)nchunks, d.ops, d.misses);
	bm_fini(&m);
}

Test(buddy_model, million_ops, .timeout = 120)
{
	static const uint64_t sizes[] = { 512, 300, 1000, 64, 777, 256, 1023, 129 };
	uint64_t seed = fa_test_seed(0x5eedb0dd), per = fa_test_iters(1000000) / 8 + 1;
	unsigned int i;

	for (i = 0; i < 8; i++)
		run(seed + i, sizes[i], (i & 1) ? (uint64_t)i << 40 : 0, per);
}
