// SPDX-License-Identifier: MIT
/*
 * fencealloc_buddy: the buddy allocator, specified case by case in the kernel.
 *
 * The scenarios the kernel's own buddy suite checks (range-restricted
 * allocation, top-down, contiguous, cleared/dirty memory, pathological,
 * pessimistic and optimistic fills, the size limit, trim) restated against
 * fencealloc's API, plus what a kernel buddy that allocates block nodes
 * cannot promise: after init nothing allocates, so a whole workload runs
 * inside a fence-signalling section with reclaim primed and lockdep stays
 * silent (the runner fails on any report). Randomised cases print their seed.
 */
#include "fa_kunit.h"

#include <linux/log2.h>
#include <linux/prandom.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include <fencealloc/buddy.h>
#include <fencealloc/signalling.h>

#define KB(x) ((uint64_t)(x) << 10)
#define MB(x) ((uint64_t)(x) << 20)

struct fa_kb {
	struct fa_buddy b;
	void *meta;
};

/* Storage is allocated once, at init (submit time); never again. */
static void fa_kb_init_at(struct kunit *test, struct fa_kb *kb, uint64_t base, uint64_t size,
			  uint64_t chunk)
{
	uint64_t need = fa_buddy_storage_size(size, chunk);

	KUNIT_ASSERT_GT(test, need, 0ull);
	kb->meta = kvmalloc(need, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, kb->meta);
	KUNIT_ASSERT_EQ(test, fa_buddy_init(&kb->b, kb->meta, need, base, size, chunk), 0);
}

static void fa_kb_init(struct kunit *test, struct fa_kb *kb, uint64_t size, uint64_t chunk)
{
	fa_kb_init_at(test, kb, 0, size, chunk);
}

static void fa_kb_expect_consistent(struct kunit *test, struct fa_kb *kb)
{
	const char *why = NULL;

	KUNIT_EXPECT_EQ_MSG(test, fa_buddy_check(&kb->b, &why), 0, "%s", why ? why : "");
}

/* Teardown: consistent, and everything was given back. */
static void fa_kb_fini(struct kunit *test, struct fa_kb *kb)
{
	fa_kb_expect_consistent(test, kb);
	KUNIT_EXPECT_EQ(test, fa_buddy_avail(&kb->b), fa_buddy_size(&kb->b));
	fa_buddy_fini(&kb->b);
	kvfree(kb->meta);
}

/* ------------------------------------------------------------ geometries */
struct fa_kb_geo {
	const char *name;
	uint64_t base, size, chunk;
};

static const struct fa_kb_geo fa_kb_geos[] = {
	{ "16M/4K", 0, MB(16), KB(4) },
	{ "8M-4K/4K (many roots)", 0, MB(8) - KB(4), KB(4) },
	{ "1M/16B", 0, MB(1), 16 },
	{ "256M/64K at 1G", 1ull << 30, MB(256), KB(64) },
	{ "3M/4K (two roots)", 0, MB(3), KB(4) },
	{ "2G/2M", 0, 2ull << 30, MB(2) },
	{ "12K/4K", 0, KB(12), KB(4) },
};

static void fa_kb_geo_desc(const struct fa_kb_geo *g, char *desc)
{
	strscpy(desc, g->name, KUNIT_PARAM_DESC_SIZE);
}
KUNIT_ARRAY_PARAM(fa_kb_geo, fa_kb_geos, fa_kb_geo_desc);

/* A fresh buddy: all free, the largest root free, one root per set bit. */
static void fa_buddy_test_init_geometry(struct kunit *test)
{
	const struct fa_kb_geo *g = test->param_value;
	uint64_t chunks = g->size / g->chunk, roots = 0, k;
	struct fa_kb kb;

	fa_kb_init_at(test, &kb, g->base, g->size, g->chunk);
	KUNIT_EXPECT_EQ(test, fa_buddy_size(&kb.b), g->size);
	KUNIT_EXPECT_EQ(test, fa_buddy_avail(&kb.b), g->size);
	KUNIT_EXPECT_EQ(test, fa_buddy_largest_free(&kb.b),
			g->chunk << fa_ilog2_u64(chunks));
	KUNIT_EXPECT_EQ(test, fa_buddy_max_order(&kb.b), (unsigned int)fa_ilog2_u64(chunks));
	for (k = 0; k <= fa_buddy_max_order(&kb.b); k++)
		roots += fa_buddy_free_blocks(&kb.b, (unsigned int)k, false);
	KUNIT_EXPECT_EQ(test, roots, (uint64_t)hweight64(chunks));
	fa_kb_fini(test, &kb);
}

/* Every chunk can be allocated, each exactly once, and all frees merge back. */
static void fa_buddy_test_fill_by_chunks(struct kunit *test)
{
	const struct fa_kb_geo *g = test->param_value;
	uint64_t chunks = g->size / g->chunk, i, a, *addr;
	struct fa_kb kb;

	if (chunks > 65536)
		chunks = 65536;		/* a prefix is enough to say it */
	addr = kvmalloc_array(chunks, sizeof(*addr), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, addr);
	fa_kb_init_at(test, &kb, g->base, chunks * g->chunk, g->chunk);
	for (i = 0; i < chunks; i++) {
		KUNIT_ASSERT_EQ(test, fa_buddy_alloc(&kb.b, g->chunk, 0, 0, &addr[i]), 0);
		KUNIT_EXPECT_GE(test, addr[i], g->base);
		KUNIT_EXPECT_LT(test, addr[i], g->base + chunks * g->chunk);
	}
	KUNIT_EXPECT_EQ(test, fa_buddy_avail(&kb.b), 0ull);
	KUNIT_EXPECT_EQ(test, fa_buddy_alloc(&kb.b, g->chunk, 0, 0, &a), -FA_ENOSPC);
	fa_kb_expect_consistent(test, &kb);
	for (i = 0; i < chunks; i++)
		KUNIT_ASSERT_EQ(test, fa_buddy_free(&kb.b, addr[chunks - 1 - i], g->chunk), 0);
	KUNIT_EXPECT_EQ(test, fa_buddy_largest_free(&kb.b),
			g->chunk << fa_ilog2_u64(chunks));
	fa_kb_fini(test, &kb);
	kvfree(addr);
}

/*
 * Best fit first, then the address order: on an empty space bottom-up takes
 * the lowest chunk of the smallest root (roots are laid out largest first, so
 * with one root that is the base), top-down the highest chunk. With one root,
 * the next request reuses the split remainder instead of splitting again.
 */
static void fa_buddy_test_topdown(struct kunit *test)
{
	const struct fa_kb_geo *g = test->param_value;
	uint64_t lo, hi, end = g->base + g->size, before, chunks = g->size / g->chunk;
	uint64_t smallest_root = g->chunk << (__ffs64(chunks));
	struct fa_kb kb;

	fa_kb_init_at(test, &kb, g->base, g->size, g->chunk);
	KUNIT_ASSERT_EQ(test, fa_buddy_alloc(&kb.b, g->chunk, 0, 0, &lo), 0);
	KUNIT_EXPECT_EQ(test, lo, end - smallest_root);
	KUNIT_EXPECT_EQ(test, fa_buddy_free(&kb.b, lo, g->chunk), 0);
	KUNIT_ASSERT_EQ(test, fa_buddy_alloc(&kb.b, g->chunk, 0, FA_BUDDY_TOPDOWN, &hi), 0);
	KUNIT_EXPECT_EQ(test, hi, end - g->chunk);
	before = fa_buddy_largest_free(&kb.b);
	KUNIT_ASSERT_EQ(test, fa_buddy_alloc(&kb.b, g->chunk, 0, 0, &lo), 0);
	if (is_power_of_2(chunks)) {
		KUNIT_EXPECT_EQ(test, fa_buddy_largest_free(&kb.b), before);	/* no new split */
		KUNIT_EXPECT_EQ(test, lo, hi - g->chunk);			/* hi's buddy */
	}
	KUNIT_EXPECT_EQ(test, fa_buddy_free(&kb.b, hi, g->chunk), 0);
	KUNIT_EXPECT_EQ(test, fa_buddy_free(&kb.b, lo, g->chunk), 0);
	fa_kb_fini(test, &kb);
}

/* ------------------------------------------------- fill patterns by order */
struct fa_kb_order {
	const char *name;
	unsigned int max_order;
};

static const struct fa_kb_order fa_kb_orders[] = {
	{ "order 1", 1 }, { "order 3", 3 }, { "order 6", 6 }, { "order 9", 9 }, { "order 12", 12 },
};

static void fa_kb_order_desc(const struct fa_kb_order *o, char *desc)
{
	strscpy(desc, o->name, KUNIT_PARAM_DESC_SIZE);
}
KUNIT_ARRAY_PARAM(fa_kb_order, fa_kb_orders, fa_kb_order_desc);

/*
 * Optimistic: a space of 2^(n+1) - 1 chunks holds exactly one block of each
 * order 0..n; once they are allocated nothing else fits.
 */
static void fa_buddy_test_optimistic(struct kunit *test)
{
	unsigned int n = ((const struct fa_kb_order *)test->param_value)->max_order, k;
	uint64_t chunk = KB(4), addr[16], a;
	struct fa_kb kb;

	fa_kb_init(test, &kb, ((2ull << n) - 1) * chunk, chunk);
	for (k = 0; k <= n; k++)
		KUNIT_ASSERT_EQ_MSG(test, fa_buddy_alloc(&kb.b, chunk << k, 0, 0, &addr[k]), 0,
				    "order %u", k);
	KUNIT_EXPECT_EQ(test, fa_buddy_avail(&kb.b), 0ull);
	KUNIT_EXPECT_EQ(test, fa_buddy_alloc(&kb.b, chunk, 0, 0, &a), -FA_ENOSPC);
	for (k = 0; k <= n; k++)
		KUNIT_EXPECT_EQ(test, fa_buddy_free(&kb.b, addr[k], chunk << k), 0);
	fa_kb_fini(test, &kb);
}

/*
 * Pessimistic: fill a 2^n space with single chunks, free every other one.
 * Half is free yet nothing larger than a chunk fits, not even contiguously;
 * freeing the rest merges everything back into one block.
 */
static void fa_buddy_test_pessimistic(struct kunit *test)
{
	unsigned int n = ((const struct fa_kb_order *)test->param_value)->max_order;
	uint64_t chunk = KB(4), i, a, cnt = 1ull << n;
	struct fa_kb kb;

	fa_kb_init(test, &kb, cnt * chunk, chunk);
	for (i = 0; i < cnt; i++)
		KUNIT_ASSERT_EQ(test, fa_buddy_alloc(&kb.b, chunk, 0, 0, &a), 0);
	for (i = 0; i < cnt; i += 2)
		KUNIT_ASSERT_EQ(test, fa_buddy_free(&kb.b, i * chunk, chunk), 0);
	KUNIT_EXPECT_EQ(test, fa_buddy_avail(&kb.b), cnt / 2 * chunk);
	KUNIT_EXPECT_EQ(test, fa_buddy_largest_free(&kb.b), chunk);
	KUNIT_EXPECT_EQ(test, fa_buddy_alloc(&kb.b, 2 * chunk, 0, 0, &a), -FA_ENOSPC);
	KUNIT_EXPECT_EQ(test, fa_buddy_alloc(&kb.b, 2 * chunk, 0, FA_BUDDY_CONTIGUOUS, &a),
			-FA_ENOSPC);
	fa_kb_expect_consistent(test, &kb);
	for (i = 1; i < cnt; i += 2)
		KUNIT_ASSERT_EQ(test, fa_buddy_free(&kb.b, i * chunk, chunk), 0);
	KUNIT_EXPECT_EQ(test, fa_buddy_largest_free(&kb.b), cnt * chunk);
	fa_kb_fini(test, &kb);
}

/*
 * Pathological: for each order k, allocate the space as blocks of order k,
 * then free one block per pair: every order above k now fails, every order
 * up to k still succeeds, and the state stays consistent.
 */
static void fa_buddy_test_pathological(struct kunit *test)
{
	unsigned int n = ((const struct fa_kb_order *)test->param_value)->max_order, k, j;
	uint64_t chunk = KB(4), i, a, size = (chunk << n) * 2;
	struct fa_kb kb;

	fa_kb_init(test, &kb, size, chunk);
	for (k = 0; k <= n; k++) {
		uint64_t bs = chunk << k, cnt = size / bs;

		for (i = 0; i < cnt; i++)
			KUNIT_ASSERT_EQ(test, fa_buddy_alloc(&kb.b, bs, 0, 0, &a), 0);
		for (i = 0; i < cnt; i += 2)
			KUNIT_ASSERT_EQ(test, fa_buddy_free(&kb.b, i * bs, bs), 0);
		for (j = k + 1; j <= n + 1; j++)
			KUNIT_EXPECT_EQ_MSG(test, fa_buddy_alloc(&kb.b, chunk << j, 0, 0, &a),
					    -FA_ENOSPC, "order %u after holes of order %u", j, k);
		for (j = 0; j <= k; j++) {
			KUNIT_EXPECT_EQ(test, fa_buddy_alloc(&kb.b, chunk << j, 0, 0, &a), 0);
			KUNIT_EXPECT_EQ(test, fa_buddy_free(&kb.b, a, chunk << j), 0);
		}
		fa_kb_expect_consistent(test, &kb);
		for (i = 1; i < cnt; i += 2)
			KUNIT_ASSERT_EQ(test, fa_buddy_free(&kb.b, i * bs, bs), 0);
		KUNIT_ASSERT_EQ(test, fa_buddy_avail(&kb.b), size);
	}
	fa_kb_fini(test, &kb);
}

/* ------------------------------------------------------------- ranges */
/*
 * Range-restricted allocation: split the space into windows and fill them in
 * a random order with random sizes; nothing may land outside its window,
 * and a full window refuses more while the others still have room.
 */
static void fa_buddy_test_range_windows(struct kunit *test)
{
	const uint64_t chunk = KB(4), win = MB(1), size = MB(8);
	unsigned int w, order[8], i, seed = 0x5eed0b1a;
	struct rnd_state rs;
	struct fa_kb kb;

	prandom_seed_state(&rs, seed);
	kunit_info(test, "seed 0x%x\n", seed);
	for (i = 0; i < 8; i++)
		order[i] = i;
	for (i = 7; i > 0; i--) {
		unsigned int j = prandom_u32_state(&rs) % (i + 1);

		swap(order[i], order[j]);
	}
	fa_kb_init(test, &kb, size, chunk);
	for (i = 0; i < 8; i++) {
		uint64_t s = order[i] * win, e = s + win, used = 0, a, bs;

		w = order[i];
		/* larger than the window: not a request this window can satisfy */
		KUNIT_EXPECT_EQ(test, fa_buddy_alloc_range(&kb.b, s, e, 2 * win, 0, 0, &a),
				-FA_EINVAL);
		while (used < win) {
			bs = chunk << (prandom_u32_state(&rs) % 6);
			if (bs > win - used)
				bs = chunk;
			if (fa_buddy_alloc_range(&kb.b, s, e, bs, 0, 0, &a) != 0) {
				bs = chunk;
				KUNIT_ASSERT_EQ(test, fa_buddy_alloc_range(&kb.b, s, e, bs, 0, 0, &a), 0);
			}
			KUNIT_EXPECT_GE(test, a, s);
			KUNIT_EXPECT_LE(test, a + bs, e);
			used += bs;
		}
		KUNIT_EXPECT_EQ_MSG(test, fa_buddy_alloc_range(&kb.b, s, e, chunk, 0, 0, &a),
				    -FA_ENOSPC, "window %u is full", w);
	}
	KUNIT_EXPECT_EQ(test, fa_buddy_avail(&kb.b), 0ull);
	fa_kb_expect_consistent(test, &kb);
	FA_KUNIT_EXPECT_WARNS(test, 1, fa_buddy_fini(&kb.b));	/* all still allocated */
	kvfree(kb.meta);
}

/* An exact range is that range or nothing; overlaps are refused. */
static void fa_buddy_test_exact(struct kunit *test)
{
	const uint64_t c = KB(4);
	struct fa_kb kb;

	fa_kb_init(test, &kb, MB(1), c);
	KUNIT_EXPECT_EQ(test, fa_buddy_alloc_exact(&kb.b, 3 * c, 13 * c), 0);
	KUNIT_EXPECT_EQ(test, fa_buddy_avail(&kb.b), MB(1) - 13 * c);
	KUNIT_EXPECT_EQ(test, fa_buddy_alloc_exact(&kb.b, 15 * c, 2 * c), -FA_ENOSPC);
	KUNIT_EXPECT_EQ(test, fa_buddy_alloc_exact(&kb.b, 0, 3 * c), 0);
	KUNIT_EXPECT_EQ(test, fa_buddy_alloc_exact(&kb.b, 16 * c, 1 * c), 0);
	KUNIT_EXPECT_EQ(test, fa_buddy_alloc_exact(&kb.b, MB(1), c), -FA_ERANGE);
	fa_kb_expect_consistent(test, &kb);
	KUNIT_EXPECT_EQ(test, fa_buddy_free(&kb.b, 3 * c, 13 * c), 0);
	KUNIT_EXPECT_EQ(test, fa_buddy_free(&kb.b, 0, 3 * c), 0);
	KUNIT_EXPECT_EQ(test, fa_buddy_free(&kb.b, 16 * c, c), 0);
	fa_kb_fini(test, &kb);
}

/* ------------------------------------------------------------ contiguous */
struct fa_kb_len {
	const char *name;
	uint64_t chunks;
};

static const struct fa_kb_len fa_kb_lens[] = {
	{ "1", 1 }, { "3", 3 }, { "5", 5 }, { "7", 7 }, { "13", 13 }, { "100", 100 },
	{ "255", 255 }, { "257", 257 }, { "1000", 1000 },
};

static void fa_kb_len_desc(const struct fa_kb_len *l, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s chunks", l->name);
}
KUNIT_ARRAY_PARAM(fa_kb_len, fa_kb_lens, fa_kb_len_desc);

/* A contiguous allocation costs exactly its size (no power-of-two rounding). */
static void fa_buddy_test_contiguous_exact_cost(struct kunit *test)
{
	uint64_t n = ((const struct fa_kb_len *)test->param_value)->chunks, c = KB(4), a, b;
	struct fa_kb kb;

	fa_kb_init(test, &kb, MB(16), c);
	KUNIT_ASSERT_EQ(test, fa_buddy_alloc(&kb.b, n * c, 0, FA_BUDDY_CONTIGUOUS, &a), 0);
	KUNIT_EXPECT_EQ(test, fa_buddy_avail(&kb.b), MB(16) - n * c);
	KUNIT_ASSERT_EQ(test, fa_buddy_alloc(&kb.b, n * c, 0,
					     FA_BUDDY_CONTIGUOUS | FA_BUDDY_TOPDOWN, &b), 0);
	KUNIT_EXPECT_EQ(test, b + n * c, MB(16));
	KUNIT_EXPECT_TRUE(test, a + n * c <= b);
	KUNIT_EXPECT_EQ(test, fa_buddy_free(&kb.b, a, n * c), 0);
	KUNIT_EXPECT_EQ(test, fa_buddy_free(&kb.b, b, n * c), 0);
	fa_kb_fini(test, &kb);
}

/*
 * Contiguous needs adjacency: 48 chunks handed out one by one into three
 * interleaved sets; freeing one set leaves 16 free chunks, none adjacent, so
 * two contiguous chunks fail; freeing a second set makes runs of two.
 */
static void fa_buddy_test_contiguous_needs_adjacency(struct kunit *test)
{
	const uint64_t c = KB(4), n = 48;
	uint64_t i, a;
	struct fa_kb kb;

	fa_kb_init(test, &kb, n * c, c);
	for (i = 0; i < n; i++)
		KUNIT_ASSERT_EQ(test, fa_buddy_alloc(&kb.b, c, 0, 0, &a), 0);
	for (i = 0; i < n; i += 3)
		KUNIT_ASSERT_EQ(test, fa_buddy_free(&kb.b, i * c, c), 0);
	KUNIT_EXPECT_EQ(test, fa_buddy_alloc(&kb.b, 2 * c, 0, FA_BUDDY_CONTIGUOUS, &a),
			-FA_ENOSPC);
	for (i = 1; i < n; i += 3)
		KUNIT_ASSERT_EQ(test, fa_buddy_free(&kb.b, i * c, c), 0);
	KUNIT_EXPECT_EQ(test, fa_buddy_alloc(&kb.b, 3 * c, 0, FA_BUDDY_CONTIGUOUS, &a),
			-FA_ENOSPC);
	KUNIT_ASSERT_EQ(test, fa_buddy_alloc(&kb.b, 2 * c, 0, FA_BUDDY_CONTIGUOUS, &a), 0);
	KUNIT_EXPECT_EQ(test, a % (3 * c), 0ull);
	KUNIT_EXPECT_EQ(test, fa_buddy_free(&kb.b, a, 2 * c), 0);
	for (i = 2; i < n; i += 3)
		KUNIT_ASSERT_EQ(test, fa_buddy_free(&kb.b, i * c, c), 0);
	KUNIT_ASSERT_EQ(test, fa_buddy_alloc(&kb.b, n * c, 0, FA_BUDDY_CONTIGUOUS, &a), 0);
	KUNIT_EXPECT_EQ(test, fa_buddy_free(&kb.b, a, n * c), 0);
	fa_kb_fini(test, &kb);
}

/* --------------------------------------------------------- clear / dirty */
/* Freed-as-cleared memory is preferred by CLEAR requests; dirty ones take dirty. */
static void fa_buddy_test_clear_preferred(struct kunit *test)
{
	const uint64_t c = KB(4);
	uint64_t a[8], x;
	bool cleared;
	struct fa_buddy_req r;
	int i;

	struct fa_kb kb;

	fa_kb_init(test, &kb, 64 * c, c);
	for (i = 0; i < 8; i++)
		KUNIT_ASSERT_EQ(test, fa_buddy_alloc(&kb.b, 4 * c, 0, 0, &a[i]), 0);
	for (i = 0; i < 8; i += 2)
		KUNIT_ASSERT_EQ(test, fa_buddy_free_flags(&kb.b, a[i], 4 * c, FA_BUDDY_CLEARED), 0);
	KUNIT_EXPECT_EQ(test, fa_buddy_clear_avail(&kb.b), 16 * c);
	fa_buddy_req_init(&r, 4 * c);
	r.flags = FA_BUDDY_CLEAR;
	KUNIT_ASSERT_EQ(test, fa_buddy_alloc_req(&kb.b, &r, &x, &cleared), 0);
	KUNIT_EXPECT_TRUE(test, cleared);
	KUNIT_EXPECT_EQ(test, fa_buddy_clear_avail(&kb.b), 12 * c);
	r.flags = 0;
	KUNIT_ASSERT_EQ(test, fa_buddy_alloc_req(&kb.b, &r, &a[0], &cleared), 0);
	KUNIT_EXPECT_FALSE(test, cleared);	/* dirty first: keep cleared memory for who asks */
	KUNIT_EXPECT_EQ(test, fa_buddy_clear_avail(&kb.b), 12 * c);
	KUNIT_EXPECT_EQ(test, fa_buddy_free(&kb.b, a[0], 4 * c), 0);
	KUNIT_EXPECT_EQ(test, fa_buddy_free_flags(&kb.b, x, 4 * c, FA_BUDDY_CLEARED), 0);
	for (i = 1; i < 8; i += 2)
		KUNIT_ASSERT_EQ(test, fa_buddy_free(&kb.b, a[i], 4 * c), 0);
	/* Dirty wins when a clear and a dirty buddy merge. */
	KUNIT_EXPECT_EQ(test, fa_buddy_clear_avail(&kb.b), 0ull);
	fa_kb_fini(test, &kb);
}

/* CLEAR falls back to dirty memory, and reset_clear() marks all free memory. */
static void fa_buddy_test_clear_fallback_and_reset(struct kunit *test)
{
	const uint64_t c = KB(4);
	struct fa_buddy_req r;
	struct fa_kb kb;
	bool cleared = true;
	uint64_t a;

	fa_kb_init(test, &kb, MB(1), c);
	fa_buddy_req_init(&r, c);
	r.flags = FA_BUDDY_CLEAR;
	KUNIT_ASSERT_EQ(test, fa_buddy_alloc_req(&kb.b, &r, &a, &cleared), 0);
	KUNIT_EXPECT_FALSE(test, cleared);
	KUNIT_EXPECT_EQ(test, fa_buddy_free(&kb.b, a, c), 0);
	fa_buddy_reset_clear(&kb.b, true);
	KUNIT_EXPECT_EQ(test, fa_buddy_clear_avail(&kb.b), MB(1));
	KUNIT_ASSERT_EQ(test, fa_buddy_alloc_req(&kb.b, &r, &a, &cleared), 0);
	KUNIT_EXPECT_TRUE(test, cleared);
	KUNIT_EXPECT_EQ(test, fa_buddy_free(&kb.b, a, c), 0);
	fa_buddy_reset_clear(&kb.b, false);
	KUNIT_EXPECT_EQ(test, fa_buddy_clear_avail(&kb.b), 0ull);
	fa_kb_fini(test, &kb);
}

/* ------------------------------------------------------------------ trim */
struct fa_kb_trim {
	const char *name;
	uint64_t from, to;	/* chunks */
	unsigned int flags;
};

static const struct fa_kb_trim fa_kb_trims[] = {
	{ "64->13", 64, 13, 0 }, { "64->1", 64, 1, 0 }, { "64->63", 64, 63, 0 },
	{ "7->5 contiguous", 7, 5, FA_BUDDY_CONTIGUOUS }, { "100->3 contiguous", 100, 3,
	  FA_BUDDY_CONTIGUOUS }, { "16->16", 16, 16, 0 },
};

static void fa_kb_trim_desc(const struct fa_kb_trim *t, char *desc)
{
	strscpy(desc, t->name, KUNIT_PARAM_DESC_SIZE);
}
KUNIT_ARRAY_PARAM(fa_kb_trim, fa_kb_trims, fa_kb_trim_desc);

/* Trim keeps the head and frees the tail, in place (no node allocation). */
static void fa_buddy_test_trim(struct kunit *test)
{
	const struct fa_kb_trim *t = test->param_value;
	const uint64_t c = KB(4);
	struct fa_kb kb;
	uint64_t a, b;

	fa_kb_init(test, &kb, MB(2), c);
	KUNIT_ASSERT_EQ(test, fa_buddy_alloc(&kb.b, t->from * c, 0, t->flags, &a), 0);
	KUNIT_ASSERT_EQ(test, fa_buddy_trim(&kb.b, a, t->from * c, t->to * c, 0), 0);
	KUNIT_EXPECT_EQ(test, fa_buddy_avail(&kb.b), MB(2) - t->to * c);
	if (t->to < t->from) {	/* the tail is really free: exact-allocate it */
		KUNIT_EXPECT_EQ(test, fa_buddy_alloc_exact(&kb.b, a + t->to * c, c), 0);
		KUNIT_EXPECT_EQ(test, fa_buddy_free(&kb.b, a + t->to * c, c), 0);
	}
	KUNIT_EXPECT_EQ(test, fa_buddy_trim(&kb.b, a, t->to * c, t->to * c + c, 0), -FA_EINVAL);
	KUNIT_EXPECT_EQ(test, fa_buddy_free(&kb.b, a, t->to * c), 0);
	KUNIT_EXPECT_EQ(test, fa_buddy_alloc(&kb.b, MB(2), 0, 0, &b), 0);	/* all merged */
	KUNIT_EXPECT_EQ(test, fa_buddy_free(&kb.b, b, MB(2)), 0);
	fa_kb_fini(test, &kb);
}

/* -------------------------------------------------------------- limits */
/* The largest space and block the format allows: 2^62 bytes in 2^40 chunks. */
static void fa_buddy_test_limit(struct kunit *test)
{
	const uint64_t c = 1ull << 40, size = 1ull << 62;
	struct fa_kb kb;
	uint64_t a;

	fa_kb_init(test, &kb, size, c);
	KUNIT_EXPECT_EQ(test, fa_buddy_max_order(&kb.b), 22u);
	KUNIT_ASSERT_EQ(test, fa_buddy_alloc(&kb.b, size, 0, 0, &a), 0);
	KUNIT_EXPECT_EQ(test, a, 0ull);
	KUNIT_EXPECT_EQ(test, fa_buddy_alloc(&kb.b, c, 0, 0, &a), -FA_ENOSPC);
	KUNIT_EXPECT_EQ(test, fa_buddy_free(&kb.b, 0, size), 0);
	KUNIT_EXPECT_EQ(test, fa_buddy_alloc(&kb.b, size * 2, 0, 0, &a), -FA_ERANGE);
	fa_kb_fini(test, &kb);
}

/* Init refuses what it cannot represent, and leaves the buddy untouched. */
static void fa_buddy_test_init_refuses(struct kunit *test)
{
	uint64_t buf[64];
	struct fa_buddy b;

	KUNIT_EXPECT_EQ(test, fa_buddy_storage_size(MB(1), 8), 0ull);
	KUNIT_EXPECT_EQ(test, fa_buddy_storage_size(MB(1), 3000), 0ull);
	KUNIT_EXPECT_EQ(test, fa_buddy_storage_size(KB(2), KB(4)), 0ull);
	KUNIT_EXPECT_EQ(test, fa_buddy_init(&b, buf, sizeof(buf), 0, MB(1), 8), -FA_EINVAL);
	KUNIT_EXPECT_EQ(test, fa_buddy_init(&b, buf, sizeof(buf), 0, MB(1024), KB(4)), -FA_ENOSPC);
	KUNIT_EXPECT_EQ(test, fa_buddy_init(&b, buf, sizeof(buf), 100, MB(1), KB(4)), -FA_EINVAL);
	KUNIT_EXPECT_EQ(test, fa_buddy_init(&b, buf, sizeof(buf), ~0ull - KB(4) + 1 - KB(4),
					    MB(1), KB(4)), -FA_EOVERFLOW);
}

/* ------------------------------------------------------------ bad input */
struct fa_kb_bad {
	const char *name;
	int op;		/* 0 alloc, 1 free */
	uint64_t addr, size, align;
	unsigned int flags;
	int want;
};

#define C4 KB(4)
static const struct fa_kb_bad fa_kb_bads[] = {
	{ "alloc 0 bytes", 0, 0, 0, 0, 0, -FA_EINVAL },
	{ "alloc 3 chunks not contiguous", 0, 0, 3 * C4, 0, 0, -FA_EINVAL },
	{ "alloc half a chunk", 0, 0, C4 / 2, 0, 0, -FA_EINVAL },
	{ "alloc align not pow2", 0, 0, C4, 3 * C4, 0, -FA_EINVAL },
	{ "alloc unknown flag", 0, 0, C4, 0, 0x100, -FA_EINVAL },
	{ "alloc more than the space", 0, 0, MB(2), 0, 0, -FA_ERANGE },
	{ "alloc more than is free", 0, 0, MB(1), 0, 0, -FA_ENOSPC },
	{ "free never allocated", 1, 8 * C4, C4, 0, 0, -FA_EALREADY },
	{ "free wrong size", 1, 0, 2 * C4, 0, 0, -FA_EINVAL },
	{ "free beyond the space", 1, MB(4), C4, 0, 0, -FA_ERANGE },
	{ "free misaligned", 1, 100, C4, 0, 0, -FA_EINVAL },
};

static void fa_kb_bad_desc(const struct fa_kb_bad *t, char *desc)
{
	strscpy(desc, t->name, KUNIT_PARAM_DESC_SIZE);
}
KUNIT_ARRAY_PARAM(fa_kb_bad, fa_kb_bads, fa_kb_bad_desc);

/* Bad input gets its errno and changes nothing. */
static void fa_buddy_test_bad_input(struct kunit *test)
{
	const struct fa_kb_bad *t = test->param_value;
	struct fa_kb kb;
	uint64_t a = 0, held, avail;
	int ret;

	fa_kb_init(test, &kb, MB(1), C4);
	KUNIT_ASSERT_EQ(test, fa_buddy_alloc(&kb.b, C4, 0, 0, &held), 0);	/* at 0 */
	avail = fa_buddy_avail(&kb.b);
	if (t->op == 0)
		ret = fa_buddy_alloc(&kb.b, t->size, t->align, t->flags, &a);
	else
		ret = fa_buddy_free(&kb.b, t->addr, t->size);
	KUNIT_EXPECT_EQ(test, ret, t->want);
	KUNIT_EXPECT_EQ(test, fa_buddy_avail(&kb.b), avail);
	fa_kb_expect_consistent(test, &kb);
	KUNIT_EXPECT_EQ(test, fa_buddy_free(&kb.b, held, C4), 0);
	KUNIT_EXPECT_EQ(test, fa_buddy_free(&kb.b, held, C4), -FA_EALREADY);	/* double free */
	fa_kb_fini(test, &kb);
}

/* ------------------------------------------------------------ blocks */
/* Non-contiguous requests come back as the fewest blocks, largest first. */
static void fa_buddy_test_blocks_largest_first(struct kunit *test)
{
	struct fa_buddy_block out[16];
	struct fa_buddy_req r;
	unsigned int n = 0, i;
	uint64_t sum = 0;
	struct fa_kb kb;

	fa_kb_init(test, &kb, MB(16), C4);
	fa_buddy_req_init(&r, 13 * C4);	/* 8 + 4 + 1 */
	KUNIT_ASSERT_EQ(test, fa_buddy_alloc_blocks(&kb.b, &r, out, 16, &n), 0);
	KUNIT_EXPECT_EQ(test, n, 3u);
	for (i = 0; i < n; i++) {
		sum += out[i].size;
		if (i)
			KUNIT_EXPECT_GT(test, out[i - 1].size, out[i].size);
		KUNIT_EXPECT_EQ(test, out[i].addr % out[i].size, 0ull);
	}
	KUNIT_EXPECT_EQ(test, sum, 13 * C4);
	for (i = 0; i < n; i++)
		KUNIT_EXPECT_EQ(test, fa_buddy_free(&kb.b, out[i].addr, out[i].size), 0);
	/* min_block: 13 chunks in blocks of at least 4 -> 16 chunks, as drivers expect */
	r.min_block = 4 * C4;
	r.size = 16 * C4;
	KUNIT_ASSERT_EQ(test, fa_buddy_alloc_blocks(&kb.b, &r, out, 16, &n), 0);
	for (i = 0; i < n; i++) {
		KUNIT_EXPECT_GE(test, out[i].size, 4 * C4);
		KUNIT_EXPECT_EQ(test, fa_buddy_free(&kb.b, out[i].addr, out[i].size), 0);
	}
	fa_kb_fini(test, &kb);
}

/* Too few output slots: -FA_EOVERFLOW and everything rolled back. */
static void fa_buddy_test_blocks_rollback(struct kunit *test)
{
	struct fa_buddy_block out[4];
	struct fa_buddy_req r;
	unsigned int n = 0;
	struct fa_kb kb;

	fa_kb_init(test, &kb, MB(1), C4);
	fa_buddy_req_init(&r, 31 * C4);	/* five blocks */
	KUNIT_EXPECT_EQ(test, fa_buddy_alloc_blocks(&kb.b, &r, out, 4, &n), -FA_EOVERFLOW);
	KUNIT_EXPECT_EQ(test, fa_buddy_avail(&kb.b), MB(1));
	fa_kb_fini(test, &kb);
}

/* ------------------------------------------------- random vs a model */
struct fa_kb_seed {
	const char *name;
	u32 seed;
};

static const struct fa_kb_seed fa_kb_seeds[] = {
	{ "seed 1", 1 }, { "seed 2", 2 }, { "seed 0xdecafbad", 0xdecafbad },
	{ "seed 0x5eed", 0x5eed }, { "seed 42", 42 }, { "seed 0xffffffff", 0xffffffff },
};

static void fa_kb_seed_desc(const struct fa_kb_seed *s, char *desc)
{
	strscpy(desc, s->name, KUNIT_PARAM_DESC_SIZE);
}
KUNIT_ARRAY_PARAM(fa_kb_seed, fa_kb_seeds, fa_kb_seed_desc);

#define FA_KB_CHUNKS 1024u
#define FA_KB_LIVE 128u

struct fa_kb_live {
	uint64_t addr, size;
};

/*
 * Random alloc (pow2, contiguous, exact, top-down) and free against a
 * one-byte-per-chunk model: no chunk is ever handed out twice, avail always
 * equals the model's count, and the bitmaps stay consistent.
 */
static void fa_buddy_test_random_vs_model(struct kunit *test)
{
	u32 seed = ((const struct fa_kb_seed *)test->param_value)->seed;
	struct fa_kb_live *live;
	u8 *model;
	unsigned int nlive = 0, step, i;
	uint64_t freec = FA_KB_CHUNKS;
	struct rnd_state rs;
	struct fa_kb kb;

	kunit_info(test, "seed 0x%x\n", seed);
	prandom_seed_state(&rs, seed);
	live = kunit_kcalloc(test, FA_KB_LIVE, sizeof(*live), GFP_KERNEL);
	model = kunit_kzalloc(test, FA_KB_CHUNKS, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, live);
	KUNIT_ASSERT_NOT_NULL(test, model);
	fa_kb_init(test, &kb, FA_KB_CHUNKS * C4, C4);
	for (step = 0; step < 4000; step++) {
		u32 r = prandom_u32_state(&rs);

		if (nlive < FA_KB_LIVE && (r & 1)) {
			uint64_t n = 1ull << ((r >> 1) % 7), a;
			unsigned int flags = 0, kind = (r >> 8) % 4;
			int ret;

			if (kind == 1) {
				n = 1 + (r >> 12) % 37;
				flags = FA_BUDDY_CONTIGUOUS;
			} else if (kind == 2) {
				flags = FA_BUDDY_TOPDOWN;
			}
			if (kind == 3) {
				a = ((r >> 12) % FA_KB_CHUNKS) * C4;
				n = 1 + (r >> 24) % 9;
				if (a + n * C4 > FA_KB_CHUNKS * C4)
					continue;
				ret = fa_buddy_alloc_exact(&kb.b, a, n * C4);
			} else {
				ret = fa_buddy_alloc(&kb.b, n * C4, 0, flags, &a);
			}
			if (ret) {
				KUNIT_ASSERT_EQ(test, ret, -FA_ENOSPC);
				continue;
			}
			for (i = 0; i < n; i++) {
				KUNIT_ASSERT_EQ_MSG(test, model[a / C4 + i], 0,
						    "chunk %llu handed out twice (step %u)",
						    a / C4 + i, step);
				model[a / C4 + i] = 1;
			}
			live[nlive].addr = a;
			live[nlive++].size = n * C4;
			freec -= n;
		} else if (nlive) {
			unsigned int k = (r >> 1) % nlive;

			KUNIT_ASSERT_EQ(test, fa_buddy_free(&kb.b, live[k].addr, live[k].size), 0);
			for (i = 0; i < live[k].size / C4; i++)
				model[live[k].addr / C4 + i] = 0;
			freec += live[k].size / C4;
			live[k] = live[--nlive];
		}
		KUNIT_ASSERT_EQ(test, fa_buddy_avail(&kb.b), freec * C4);
		if (step % 500 == 0)
			fa_kb_expect_consistent(test, &kb);
	}
	while (nlive--)
		KUNIT_ASSERT_EQ(test, fa_buddy_free(&kb.b, live[nlive].addr, live[nlive].size), 0);
	fa_kb_fini(test, &kb);
}

/* ------------------------------------------- the no-allocation guarantee */
/*
 * The whole allocator API after init runs inside a fence-signalling section
 * with fs_reclaim -> dma_fence_map primed (what a shrinker does): any
 * reclaiming allocation on any path would be a lockdep report, which fails
 * this boot.
 */
static void fa_buddy_test_inside_signalling_section(struct kunit *test)
{
	struct fa_buddy_block out[8];
	struct fa_buddy_req r;
	fa_signalling_cookie_t c;
	uint64_t a, b, x;
	unsigned int n;
	struct fa_kb kb;

	fa_kb_init(test, &kb, MB(64), C4);	/* submit: may allocate */
	fa_signalling_reclaim_enter();
	fa_signalling_fence_wait();
	fa_signalling_reclaim_leave();
	c = fa_signalling_begin();
	KUNIT_EXPECT_EQ(test, fa_buddy_alloc(&kb.b, MB(2), 0, 0, &a), 0);
	KUNIT_EXPECT_EQ(test, fa_buddy_alloc(&kb.b, 77 * C4, 0, FA_BUDDY_CONTIGUOUS, &b), 0);
	KUNIT_EXPECT_EQ(test, fa_buddy_trim(&kb.b, b, 77 * C4, 33 * C4, FA_BUDDY_CLEARED), 0);
	KUNIT_EXPECT_EQ(test, fa_buddy_alloc_exact(&kb.b, MB(32), MB(1)), 0);
	fa_buddy_req_init(&r, 15 * C4);
	KUNIT_EXPECT_EQ(test, fa_buddy_alloc_blocks(&kb.b, &r, out, 8, &n), 0);
	while (n--)
		KUNIT_EXPECT_EQ(test, fa_buddy_free(&kb.b, out[n].addr, out[n].size), 0);
	KUNIT_EXPECT_EQ(test, fa_buddy_alloc(&kb.b, C4, 0, FA_BUDDY_TOPDOWN | FA_BUDDY_CLEAR, &x), 0);
	KUNIT_EXPECT_EQ(test, fa_buddy_free(&kb.b, x, C4), 0);
	KUNIT_EXPECT_EQ(test, fa_buddy_free(&kb.b, a, MB(2)), 0);
	KUNIT_EXPECT_EQ(test, fa_buddy_free(&kb.b, b, 33 * C4), 0);
	KUNIT_EXPECT_EQ(test, fa_buddy_free(&kb.b, MB(32), MB(1)), 0);
	fa_signalling_end(c);
	KUNIT_EXPECT_TRUE(test, debug_locks);
	fa_kb_fini(test, &kb);			/* cleanup: may free */
}

/* Misuse warns through FA_WARN (counted here) and changes nothing. */
static void fa_buddy_test_fini_with_live_blocks_warns(struct kunit *test)
{
	struct fa_kb kb;
	uint64_t a;

	fa_kb_init(test, &kb, MB(1), C4);
	KUNIT_ASSERT_EQ(test, fa_buddy_alloc(&kb.b, C4, 0, 0, &a), 0);
	FA_KUNIT_EXPECT_WARNS(test, 1, fa_buddy_fini(&kb.b));
	kvfree(kb.meta);
}

static struct kunit_case fa_buddy_cases[] = {
	KUNIT_CASE_PARAM(fa_buddy_test_init_geometry, fa_kb_geo_gen_params),
	KUNIT_CASE_PARAM(fa_buddy_test_fill_by_chunks, fa_kb_geo_gen_params),
	KUNIT_CASE_PARAM(fa_buddy_test_topdown, fa_kb_geo_gen_params),
	KUNIT_CASE_PARAM(fa_buddy_test_optimistic, fa_kb_order_gen_params),
	KUNIT_CASE_PARAM(fa_buddy_test_pessimistic, fa_kb_order_gen_params),
	KUNIT_CASE_PARAM(fa_buddy_test_pathological, fa_kb_order_gen_params),
	KUNIT_CASE(fa_buddy_test_range_windows),
	KUNIT_CASE(fa_buddy_test_exact),
	KUNIT_CASE_PARAM(fa_buddy_test_contiguous_exact_cost, fa_kb_len_gen_params),
	KUNIT_CASE(fa_buddy_test_contiguous_needs_adjacency),
	KUNIT_CASE(fa_buddy_test_clear_preferred),
	KUNIT_CASE(fa_buddy_test_clear_fallback_and_reset),
	KUNIT_CASE_PARAM(fa_buddy_test_trim, fa_kb_trim_gen_params),
	KUNIT_CASE(fa_buddy_test_limit),
	KUNIT_CASE(fa_buddy_test_init_refuses),
	KUNIT_CASE_PARAM(fa_buddy_test_bad_input, fa_kb_bad_gen_params),
	KUNIT_CASE(fa_buddy_test_blocks_largest_first),
	KUNIT_CASE(fa_buddy_test_blocks_rollback),
	KUNIT_CASE_PARAM(fa_buddy_test_random_vs_model, fa_kb_seed_gen_params),
	KUNIT_CASE(fa_buddy_test_inside_signalling_section),
	KUNIT_CASE(fa_buddy_test_fini_with_live_blocks_warns),
	{}
};

static struct kunit_suite fa_buddy_suite = {
	.name = "fencealloc_buddy",
	.test_cases = fa_buddy_cases,
};
kunit_test_suite(fa_buddy_suite);

MODULE_LICENSE("Dual MIT/GPL");
