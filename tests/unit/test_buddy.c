/* SPDX-License-Identifier: MIT */
/*
 * Buddy allocator: scenarios of the Linux gpu_buddy KUnit suite (our own
 * code), bad input that must change nothing, and invariant checks after every
 * step. The model-based randomized test lives in test_buddy_model.c.
 */
#include "fa_test.h"
#include <criterion/criterion.h>
#include <fencealloc/buddy.h>
#include <string.h>

#include "buddy_model.h"
#include "fa_rng.h"

#define K4 4096ull
#define M1 (1ull << 20)
#define G1 (1ull << 30)

/* Storage big enough for every test here (16 MiB). */
static uint64_t storage[2u << 20];

static void setup_at(struct fa_buddy *b, uint64_t base, uint64_t size, uint64_t chunk)
{
	uint64_t need = fa_buddy_storage_size(size, chunk);

	cr_assert(need > 0 && need <= sizeof(storage), "storage %llu", (unsigned long long)need);
	cr_assert_eq(fa_buddy_init(b, storage, sizeof(storage), base, size, chunk), 0);
}

static void setup(struct fa_buddy *b, uint64_t size, uint64_t chunk)
{
	setup_at(b, 0, size, chunk);
}

#define CHECK(b)                                                            \
	do {                                                                \
		const char *why_ = NULL;                                    \
		cr_assert_eq(fa_buddy_check((b), &why_), 0, "invariant: %s", why_); \
	} while (0)

/* ---------------------------------------------------------------- sizing */

Test(buddy, storage_size_budget)
{
	uint64_t s16 = fa_buddy_storage_size(16 * G1, K4);

	cr_assert(s16 > 0);
	cr_assert_leq(s16, 4 * M1, "16 GiB / 4 KiB needs %llu bytes", (unsigned long long)s16);
	/* about 6.1 bits per chunk: 3 interleaved leaf bits per node, 2 nodes per chunk */
	cr_assert_geq(s16 * 8, 6 * (16 * G1 / K4));
	cr_assert_leq(s16 * 8, 7 * (16 * G1 / K4));
	cr_assert_eq(fa_buddy_storage_size(16 * G1, 3000), 0);
	cr_assert_eq(fa_buddy_storage_size(16 * G1, 8), 0);
	cr_assert_eq(fa_buddy_storage_size(K4 - 1, K4), 0);
	cr_assert_eq(fa_buddy_storage_size(0, K4), 0);
	/* the whole u64 space is a valid (if huge) request */
	cr_assert_gt(fa_buddy_storage_size(FA_U64_MAX, K4), 1ull << 48);
	cr_assert_eq(fa_buddy_storage_size(FA_U64_MAX, K4) % 8, 0);
}

Test(buddy, init_bad_input_changes_nothing)
{
	struct fa_buddy b, ref;
	uint64_t need = fa_buddy_storage_size(M1, K4);

	memset(&b, 0xa5, sizeof(b));
	memcpy(&ref, &b, sizeof(b));
	cr_assert_eq(fa_buddy_init(&b, storage, sizeof(storage), 0, M1, 3000), -FA_EINVAL);
	cr_assert_eq(fa_buddy_init(&b, storage, sizeof(storage), 0, M1, 8), -FA_EINVAL);
	cr_assert_eq(fa_buddy_init(&b, storage, sizeof(storage), 0, 100, K4), -FA_EINVAL);
	cr_assert_eq(fa_buddy_init(&b, NULL, sizeof(storage), 0, M1, K4), -FA_EINVAL);
	cr_assert_eq(fa_buddy_init(&b, (char *)storage + 4, sizeof(storage), 0, M1, K4), -FA_EINVAL);
	cr_assert_eq(fa_buddy_init(&b, storage, sizeof(storage), 100, M1, K4), -FA_EINVAL);
	cr_assert_eq(fa_buddy_init(&b, storage, (size_t)need - 8, 0, M1, K4), -FA_ENOSPC);
	cr_assert_eq(fa_buddy_init(&b, storage, sizeof(storage), 0 - M1 + K4, M1, K4),
		     -FA_EOVERFLOW);
	cr_assert_eq(memcmp(&b, &ref, sizeof(b)), 0, "failed init touched the buddy");
	/* exactly enough storage works */
	cr_assert_eq(fa_buddy_init(&b, storage, (size_t)need, 0, M1, K4), 0);
	CHECK(&b);
}

Test(buddy, init_rounds_down_and_roots)
{
	struct fa_buddy b;
	uint64_t a;

	/* 7 MiB + 100 bytes: three roots, 4 + 2 + 1 MiB */
	setup(&b, 7 * M1 + 100, K4);
	cr_assert_eq(fa_buddy_size(&b), 7 * M1);
	cr_assert_eq(fa_buddy_avail(&b), 7 * M1);
	cr_assert_eq(fa_buddy_max_order(&b), 10);
	cr_assert_eq(fa_buddy_free_blocks(&b, 10, false), 1);
	cr_assert_eq(fa_buddy_free_blocks(&b, 9, false), 1);
	cr_assert_eq(fa_buddy_free_blocks(&b, 8, false), 1);
	cr_assert_eq(fa_buddy_largest_free(&b), 4 * M1);
	CHECK(&b);
	/* the roots never merge: 8 MiB can't exist, 4 MiB once, then 2, then 1 */
	cr_assert_eq(fa_buddy_alloc(&b, 8 * M1, 0, 0, &a), -FA_ERANGE);
	cr_assert_eq(fa_buddy_alloc(&b, 4 * M1, 0, 0, &a), 0);
	cr_assert_eq(a, 0);
	cr_assert_eq(fa_buddy_alloc(&b, 4 * M1, 0, 0, &a), -FA_ENOSPC);
	cr_assert_eq(fa_buddy_alloc(&b, 2 * M1, 0, 0, &a), 0);
	cr_assert_eq(a, 4 * M1);
	cr_assert_eq(fa_buddy_alloc(&b, 1 * M1, 0, 0, &a), 0);
	cr_assert_eq(a, 6 * M1);
	cr_assert_eq(fa_buddy_avail(&b), 0);
	CHECK(&b);
}

/* ------------------------------------------------------ KUnit scenarios */

/* alloc_limit: a space up to the top of u64 gives the largest order block. */
Test(buddy, alloc_limit)
{
	struct fa_buddy b;
	uint64_t chunk = 1ull << 44, a, top;

	/* A u64-sized space at 4 KiB chunks needs ~2^49 bytes of bitmaps; the
	 * same scenario with big chunks keeps every computation at the u64 edge. */
	setup(&b, FA_U64_MAX, chunk);
	cr_assert_eq(fa_buddy_size(&b), FA_U64_MAX & ~(chunk - 1));
	cr_assert_eq(fa_buddy_max_order(&b), 19);
	top = chunk << fa_buddy_max_order(&b);
	cr_assert_eq(fa_buddy_alloc(&b, top, 0, 0, &a), 0);
	cr_assert_eq(a, 0);
	cr_assert_eq(fa_buddy_largest_free(&b), top >> 1);
	/* the last chunk ends one chunk below 2^64 (U64_MAX rounded down) */
	cr_assert_eq(fa_buddy_alloc(&b, chunk, 0, FA_BUDDY_TOPDOWN, &a), 0);
	cr_assert_eq(a, 0 - 2 * chunk);
	cr_assert_eq(fa_buddy_free(&b, a, chunk), 0);
	cr_assert_eq(fa_buddy_alloc_exact(&b, 0 - 2 * chunk, chunk), 0);
	cr_assert_eq(fa_buddy_alloc_exact(&b, 0 - chunk, chunk), -FA_ERANGE);
	cr_assert_eq(fa_buddy_free(&b, 0 - 2 * chunk, chunk), 0);
	cr_assert_eq(fa_buddy_free(&b, 0, top), 0);
	cr_assert_eq(fa_buddy_avail(&b), fa_buddy_size(&b));
	CHECK(&b);
}

/* optimistic: one free block per order; all allocate, then nothing is left. */
Test(buddy, alloc_optimistic)
{
	struct fa_buddy b;
	uint64_t a;
	unsigned int o;

	setup(&b, K4 * ((1ull << 17) - 1), K4);
	for (o = 0; o <= 16; o++) {
		cr_assert_eq(fa_buddy_alloc(&b, K4 << o, 0, 0, &a), 0, "order %u", o);
		CHECK(&b);
	}
	cr_assert_eq(fa_buddy_alloc(&b, K4, 0, 0, &a), -FA_ENOSPC);
	cr_assert_eq(fa_buddy_avail(&b), 0);
}

/* pessimistic: fill with one block per order plus one page; free in
 * increasing size and each next order becomes allocatable. */
Test(buddy, alloc_pessimistic)
{
	struct fa_buddy b;
	uint64_t blk[16], last = 0, a = 0;
	int o;

	setup(&b, K4 << 16, K4);
	for (o = 0; o < 16; o++)
		cr_assert_eq(fa_buddy_alloc(&b, K4 << o, 0, 0, &blk[o]), 0, "order %d", o);
	cr_assert_eq(fa_buddy_alloc(&b, K4, 0, 0, &last), 0);
	for (o = 16; o >= 0; o--)
		cr_assert_eq(fa_buddy_alloc(&b, K4 << o, 0, 0, &a), -FA_ENOSPC, "order %d", o);
	CHECK(&b);
	cr_assert_eq(fa_buddy_free(&b, last, K4), 0);
	for (o = 0; o < 16; o++) {
		cr_assert_eq(fa_buddy_free(&b, blk[o], K4 << o), 0);
		cr_assert_eq(fa_buddy_alloc(&b, K4 << (o + 1), 0, 0, &a), 0, "order %d", o + 1);
		cr_assert_eq(fa_buddy_free(&b, a, K4 << (o + 1)), 0);
		CHECK(&b);
	}
	cr_assert_eq(fa_buddy_alloc(&b, K4 << 16, 0, 0, &a), 0);
	cr_assert_eq(fa_buddy_free(&b, a, K4 << 16), 0);
}

/* pathological: whittle to 50 % fragmentation with single-page holes. */
Test(buddy, alloc_pathological)
{
	struct fa_buddy b;
	uint64_t a, pages[8];
	int i, o;

	setup(&b, K4 << 3, K4);
	for (i = 0; i < 8; i++)
		cr_assert_eq(fa_buddy_alloc(&b, K4, 0, 0, &pages[i]), 0);
	for (i = 0; i < 8; i += 2)
		cr_assert_eq(fa_buddy_free(&b, pages[i], K4), 0);
	CHECK(&b);
	cr_assert_eq(fa_buddy_avail(&b), 4 * K4);
	for (o = 1; o <= 3; o++) {
		cr_assert_eq(fa_buddy_alloc(&b, K4 << o, 0, 0, &a), -FA_ENOSPC, "order %d", o);
		cr_assert_eq(fa_buddy_alloc(&b, K4 << o, 0, FA_BUDDY_CONTIGUOUS, &a), -FA_ENOSPC);
	}
	for (i = 0; i < 4; i++)
		cr_assert_eq(fa_buddy_alloc(&b, K4, 0, 0, &a), 0);
	cr_assert_eq(fa_buddy_alloc(&b, K4, 0, 0, &a), -FA_ENOSPC);
	CHECK(&b);
}

/* contiguous: pages in three interleaved lists; non-buddy neighbours. */
Test(buddy, alloc_contiguous)
{
	struct fa_buddy b;
	uint64_t pg[48], a1 = 0, a2 = 0;
	int i;

	setup(&b, 48 * K4, K4);
	for (i = 0; i < 48; i++)
		cr_assert_eq(fa_buddy_alloc(&b, K4, 0, FA_BUDDY_TOPDOWN, &pg[i]), 0);
	cr_assert_eq(fa_buddy_alloc(&b, 3 * K4, 0, FA_BUDDY_CONTIGUOUS, &a1), -FA_ENOSPC);
	for (i = 1; i < 48; i += 3) /* middle */
		cr_assert_eq(fa_buddy_free(&b, pg[i], K4), 0);
	cr_assert_eq(fa_buddy_alloc(&b, 3 * K4, 0, FA_BUDDY_CONTIGUOUS, &a1), -FA_ENOSPC);
	cr_assert_eq(fa_buddy_alloc(&b, 2 * K4, 0, FA_BUDDY_CONTIGUOUS, &a1), -FA_ENOSPC);
	for (i = 2; i < 48; i += 3) /* right */
		cr_assert_eq(fa_buddy_free(&b, pg[i], K4), 0);
	CHECK(&b);
	cr_assert_eq(fa_buddy_alloc(&b, 3 * K4, 0, FA_BUDDY_CONTIGUOUS, &a1), -FA_ENOSPC);
	cr_assert_eq(fa_buddy_alloc(&b, 2 * K4, 0, FA_BUDDY_CONTIGUOUS, &a1), 0);
	for (i = 0; i < 48; i += 3) /* left */
		cr_assert_eq(fa_buddy_free(&b, pg[i], K4), 0);
	cr_assert_eq(fa_buddy_alloc(&b, 3 * K4, 0, FA_BUDDY_CONTIGUOUS, &a2), 0);
	cr_assert_eq(fa_buddy_avail(&b), 48 * K4 - 5 * K4, "costs exactly the sizes");
	CHECK(&b);
	cr_assert_eq(fa_buddy_free(&b, a1, 2 * K4), 0);
	cr_assert_eq(fa_buddy_free(&b, a2, 3 * K4), 0);
	cr_assert_eq(fa_buddy_avail(&b), 48 * K4);
}

/* Two free pages that are not buddies form a 2-page contiguous range. */
Test(buddy, contiguous_straddles_non_buddies)
{
	struct fa_buddy b;
	uint64_t a, pg[8];
	int i;

	setup(&b, 8 * K4, K4);
	for (i = 0; i < 8; i++)
		cr_assert_eq(fa_buddy_alloc(&b, K4, 0, 0, &pg[i]), 0);
	cr_assert_eq(fa_buddy_free(&b, 1 * K4, K4), 0);
	cr_assert_eq(fa_buddy_free(&b, 2 * K4, K4), 0);
	cr_assert_eq(fa_buddy_alloc(&b, 2 * K4, 0, 0, &a), -FA_ENOSPC);
	cr_assert_eq(fa_buddy_alloc(&b, 2 * K4, 0, FA_BUDDY_CONTIGUOUS, &a), 0);
	cr_assert_eq(a, 1 * K4);
	CHECK(&b);
	/* it is two blocks: freeing one page of it is "not an allocation" */
	cr_assert_eq(fa_buddy_free(&b, 1 * K4, K4), 0, "the blocks of a contiguous range are separate");
	cr_assert_eq(fa_buddy_free(&b, 2 * K4, K4), 0);
	CHECK(&b);
}

/* Non-power-of-two contiguous sizes cost exactly the size; the tail stays free. */
Test(buddy, contiguous_exact_cost)
{
	struct fa_buddy b;
	uint64_t a = 0, c;

	setup(&b, M1, K4);
	for (c = 1; c <= 256; c += 7) {
		cr_assert_eq(fa_buddy_alloc(&b, c * K4, 0, FA_BUDDY_CONTIGUOUS, &a), 0);
		cr_assert_eq(fa_buddy_avail(&b), M1 - c * K4);
		CHECK(&b);
		cr_assert_neq(fa_buddy_free(&b, a, c * K4 + K4), 0);
		cr_assert_eq(fa_buddy_avail(&b), M1 - c * K4);
		CHECK(&b);
		cr_assert_eq(fa_buddy_free(&b, a, c * K4), 0);
		cr_assert_eq(fa_buddy_avail(&b), M1);
		CHECK(&b);
	}
}

/* exceeds_max_order: 9 GiB contiguous on a 10 GiB space spans two roots. */
Test(buddy, exceeds_max_order)
{
	struct fa_buddy b;
	uint64_t a;

	setup(&b, 10 * G1, 1ull << 20);
	cr_assert_eq(fa_buddy_alloc(&b, 8 * G1 * 2, 0, 0, &a), -FA_ERANGE);
	cr_assert_eq(fa_buddy_alloc(&b, 9 * G1, 0, 0, &a), -FA_EINVAL);
	cr_assert_eq(fa_buddy_alloc(&b, 9 * G1, 0, FA_BUDDY_CONTIGUOUS, &a), 0);
	cr_assert_eq(a, 0);
	cr_assert_eq(fa_buddy_avail(&b), 1 * G1);
	CHECK(&b);
	cr_assert_eq(fa_buddy_free(&b, a, 9 * G1), 0);
	cr_assert_eq(fa_buddy_alloc(&b, 9 * G1, 0, FA_BUDDY_CONTIGUOUS | FA_BUDDY_TOPDOWN, &a), 0);
	cr_assert_eq(a, 1 * G1);
	CHECK(&b);
	cr_assert_eq(fa_buddy_free(&b, a, 9 * G1), 0);
	cr_assert_eq(fa_buddy_avail(&b), 10 * G1);
}

/* offset_aligned: small sizes at large alignment cost just their size. */
Test(buddy, offset_aligned)
{
	struct fa_buddy b;
	uint64_t a[4], x;
	int i;

	setup(&b, M1, K4);
	for (i = 0; i < 4; i++) {
		cr_assert_eq(fa_buddy_alloc(&b, 8192, 256 * 1024, 0, &a[i]), 0);
		cr_assert_eq(a[i] % (256 * 1024), 0);
	}
	cr_assert_eq(fa_buddy_avail(&b), M1 - 4 * 8192, "no round-up to the alignment");
	cr_assert_eq(fa_buddy_alloc(&b, 8192, 256 * 1024, 0, &x), -FA_ENOSPC);
	/* free alternate ones, refill with 16 KiB, then it is full again */
	cr_assert_eq(fa_buddy_free(&b, a[1], 8192), 0);
	cr_assert_eq(fa_buddy_free(&b, a[3], 8192), 0);
	cr_assert_eq(fa_buddy_alloc(&b, 16384, 256 * 1024, 0, &a[1]), 0);
	cr_assert_eq(fa_buddy_alloc(&b, 16384, 256 * 1024, 0, &a[3]), 0);
	cr_assert_eq(a[1] % (256 * 1024), 0);
	cr_assert_eq(a[3] % (256 * 1024), 0);
	cr_assert_eq(fa_buddy_alloc(&b, 16384, 256 * 1024, 0, &x), -FA_ENOSPC);
	cr_assert_eq(fa_buddy_avail(&b), M1 - 2 * 8192 - 2 * 16384);
	CHECK(&b);
}

/* An aligned small free block is reused instead of splitting a big one. */
Test(buddy, aligned_reuses_small_block)
{
	struct fa_buddy b;
	uint64_t a, big, x;

	setup(&b, 2 * M1, K4);
	cr_assert_eq(fa_buddy_alloc(&b, 8192, 256 * 1024, 0, &a), 0);
	cr_assert_eq(a, 0);
	cr_assert_eq(fa_buddy_alloc(&b, 4096, 0, 0, &x), 0);
	cr_assert_eq(x, 8192);
	cr_assert_eq(fa_buddy_free(&b, a, 8192), 0);     /* a free 8 KiB block at 0 */
	big = fa_buddy_free_blocks(&b, 9, false) + fa_buddy_free_blocks(&b, 8, false);
	cr_assert_eq(fa_buddy_alloc(&b, 4096, 256 * 1024, 0, &a), 0);
	cr_assert_eq(a, 0);
	cr_assert_eq(fa_buddy_free_blocks(&b, 9, false) + fa_buddy_free_blocks(&b, 8, false), big,
		     "a large block was split needlessly");
	CHECK(&b);
}

/* alignment stress: 4 KiB allocations at alignments 1 MiB .. 8 KiB until full. */
Test(buddy, alignment_stress)
{
	struct fa_buddy b;
	uint64_t al, a, n = 0, list[512];
	unsigned int i;

	setup(&b, 2 * M1, K4);
	for (al = M1; al >= 8192; al >>= 1) {
		while (fa_buddy_alloc(&b, K4, al, 0, &a) == 0) {
			cr_assert_eq(a % al, 0);
			cr_assert_lt(n, 512);
			list[n++] = a;
		}
		CHECK(&b);
	}
	cr_assert_eq(n, 2 * M1 / 8192, "every 8 KiB-aligned page taken once");
	for (i = (unsigned int)n; i-- > 0;) {
		cr_assert_eq(fa_buddy_free(&b, list[i], K4), 0);
		if ((i & 31) == 0)
			CHECK(&b);
	}
	cr_assert_eq(fa_buddy_avail(&b), 2 * M1);
}

/* clear tracking: prefer-clear, fallback, dirty wins on merge. */
Test(buddy, alloc_clear)
{
	struct fa_buddy b;
	uint64_t a[8], x = 0;
	bool cl = true;
	struct fa_buddy_req r;
	int i;

	setup(&b, 8 * K4, K4);
	cr_assert_eq(fa_buddy_clear_avail(&b), 0);
	for (i = 0; i < 8; i++)
		cr_assert_eq(fa_buddy_alloc(&b, K4, 0, 0, &a[i]), 0);
	/* free 0..3 cleared, 4..7 dirty */
	for (i = 0; i < 4; i++)
		cr_assert_eq(fa_buddy_free_flags(&b, a[i], K4, FA_BUDDY_CLEARED), 0);
	cr_assert_eq(fa_buddy_clear_avail(&b), 4 * K4);
	cr_assert_eq(fa_buddy_free_blocks(&b, 2, true), 1, "clear buddies merge clear");
	for (i = 4; i < 8; i++)
		cr_assert_eq(fa_buddy_free(&b, a[i], K4), 0);
	/* the clear 16 KiB and the dirty 16 KiB are buddies: dirty wins */
	cr_assert_eq(fa_buddy_clear_avail(&b), 0);
	cr_assert_eq(fa_buddy_free_blocks(&b, 3, false), 1);
	CHECK(&b);

	/* split clear and dirty halves apart again (allocated spacer in each) */
	cr_assert_eq(fa_buddy_alloc_exact(&b, 0, 8 * K4), 0);
	cr_assert_eq(fa_buddy_free_flags(&b, 0, 8 * K4, FA_BUDDY_CLEARED), 0);
	cr_assert_eq(fa_buddy_clear_avail(&b), 8 * K4);
	fa_buddy_req_init(&r, K4);
	cr_assert_eq(fa_buddy_alloc_req(&b, &r, &x, &cl), 0);
	cr_assert(cl, "only clear memory left: reported cleared");
	cr_assert_eq(fa_buddy_free(&b, x, K4), 0); /* dirty again, merges: all dirty */
	cr_assert_eq(fa_buddy_clear_avail(&b), 0);

	/* half clear (allocated separator keeps them apart), half dirty */
	cr_assert_eq(fa_buddy_alloc_exact(&b, 0, 8 * K4), 0);
	cr_assert_eq(fa_buddy_free_flags(&b, 0, 4 * K4, FA_BUDDY_CLEARED), -FA_EINVAL);
	cr_assert_eq(fa_buddy_free(&b, 0, 8 * K4), 0);
	cr_assert_eq(fa_buddy_alloc(&b, 4 * K4, 0, 0, &a[0]), 0);
	cr_assert_eq(fa_buddy_alloc(&b, 4 * K4, 0, 0, &a[1]), 0);
	cr_assert_eq(fa_buddy_free_flags(&b, a[0], 4 * K4, FA_BUDDY_CLEARED), 0);
	/* only clear memory is free: a default allocation falls back to it */
	cr_assert_eq(fa_buddy_alloc_req(&b, &r, &x, &cl), 0);
	cr_assert(cl);
	cr_assert_eq(fa_buddy_avail(&b), 3 * K4);
	cr_assert_eq(fa_buddy_clear_avail(&b), 3 * K4);
	/* fini with mixed clear / dirty roots after everything is back */
	cr_assert_eq(fa_buddy_free(&b, x, K4), 0);
	cr_assert_eq(fa_buddy_clear_avail(&b), 0, "the dirty page merged with clear buddies: dirty wins");
	cr_assert_eq(fa_buddy_free_flags(&b, a[1], 4 * K4, FA_BUDDY_CLEARED), 0);
	cr_assert_eq(fa_buddy_clear_avail(&b), 0, "a clear root half merged with a dirty one");
	cr_assert_eq(fa_buddy_free_blocks(&b, 3, false), 1);
	CHECK(&b);
	fa_buddy_fini(&b);
	cr_assert_eq(fa_test_warnings(), 0);
}

Test(buddy, prefer_clear_and_fallback)
{
	struct fa_buddy b;
	uint64_t a[4], x;
	bool cl;
	struct fa_buddy_req r;
	int i;

	setup(&b, 16 * K4, K4);
	for (i = 0; i < 4; i++)
		cr_assert_eq(fa_buddy_alloc(&b, 4 * K4, 0, 0, &a[i]), 0);
	cr_assert_eq(fa_buddy_free_flags(&b, a[1], 4 * K4, FA_BUDDY_CLEARED), 0);
	cr_assert_eq(fa_buddy_free(&b, a[2], 4 * K4), 0);
	cr_assert_eq(fa_buddy_clear_avail(&b), 4 * K4);
	fa_buddy_req_init(&r, K4);
	/* default allocation takes dirty memory first */
	cr_assert_eq(fa_buddy_alloc_req(&b, &r, &x, &cl), 0);
	cr_assert(!cl);
	cr_assert_geq(x, a[2]);
	cr_assert_lt(x, a[2] + 4 * K4);
	/* CLEAR takes the clear block, four times, then falls back to dirty */
	r.flags = FA_BUDDY_CLEAR;
	for (i = 0; i < 4; i++) {
		cr_assert_eq(fa_buddy_alloc_req(&b, &r, &x, &cl), 0);
		cr_assert(cl, "prefer clear #%d", i);
		cr_assert_geq(x, a[1]);
		cr_assert_lt(x, a[1] + 4 * K4);
	}
	cr_assert_eq(fa_buddy_clear_avail(&b), 0);
	cr_assert_eq(fa_buddy_alloc_req(&b, &r, &x, &cl), 0);
	cr_assert(!cl, "fallback to dirty");
	CHECK(&b);
}

/* range: exact ranges on a multi-root space, per root and across roots. */
Test(buddy, alloc_range_exact)
{
	struct fa_buddy b;
	uint64_t a, q;
	struct fa_rng rng;
	int i;

	setup(&b, 7 * M1, K4);
	/* whole space, then quarters of it */
	cr_assert_eq(fa_buddy_alloc_exact(&b, 0, 7 * M1), 0);
	cr_assert_eq(fa_buddy_avail(&b), 0);
	CHECK(&b);
	cr_assert_eq(fa_buddy_alloc_exact(&b, 0, K4), -FA_ENOSPC);
	cr_assert_eq(fa_buddy_free(&b, 0, 7 * M1), 0);
	q = 7 * M1 / 4;
	for (i = 0; i < 4; i++)
		cr_assert_eq(fa_buddy_alloc_exact(&b, i * q, q), 0);
	CHECK(&b);
	for (i = 0; i < 4; i++)
		cr_assert_eq(fa_buddy_free(&b, i * q, q), 0);
	/* per root, and spanning roots */
	cr_assert_eq(fa_buddy_alloc_exact(&b, 4 * M1, 2 * M1), 0);
	cr_assert_eq(fa_buddy_alloc_exact(&b, 3 * M1, 2 * M1), -FA_ENOSPC);
	cr_assert_eq(fa_buddy_free(&b, 4 * M1, 2 * M1), 0);
	cr_assert_eq(fa_buddy_alloc_exact(&b, 3 * M1, 4 * M1 - K4), 0);
	CHECK(&b);
	cr_assert_eq(fa_buddy_free(&b, 3 * M1, 4 * M1 - K4), 0);
	/* single pages, checkerboard, then a range over it fails */
	for (i = 0; i < 64; i += 2)
		cr_assert_eq(fa_buddy_alloc_exact(&b, i * K4, K4), 0);
	cr_assert_eq(fa_buddy_alloc_exact(&b, 0, 64 * K4), -FA_ENOSPC);
	cr_assert_eq(fa_buddy_alloc_exact(&b, K4, 3 * K4), -FA_ENOSPC);
	CHECK(&b);
	for (i = 0; i < 64; i += 2)
		cr_assert_eq(fa_buddy_free(&b, i * K4, K4), 0);
	/* misaligned and beyond the end */
	cr_assert_eq(fa_buddy_alloc_exact(&b, 100, K4), -FA_EINVAL);
	cr_assert_eq(fa_buddy_alloc_exact(&b, 7 * M1 - K4, 2 * K4), -FA_ERANGE);
	cr_assert_eq(fa_buddy_alloc_exact(&b, 7 * M1, K4), -FA_ERANGE);
	/* random slices, freed and reallocated */
	fa_rng_seed(&rng, fa_test_seed(0xb0dd1e));
	for (i = 0; i < 64; i++) {
		uint64_t s = fa_rng_below(&rng, 7 * M1 / K4), n = 1 + fa_rng_below(&rng, 7 * M1 / K4 - s);

		cr_assert_eq(fa_buddy_alloc_exact(&b, s * K4, n * K4), 0);
		cr_assert_eq(fa_buddy_avail(&b), 7 * M1 - n * K4);
		CHECK(&b);
		cr_assert_eq(fa_buddy_free(&b, s * K4, n * K4), 0);
		cr_assert_eq(fa_buddy_avail(&b), 7 * M1);
	}
	(void)a;
}

/*
 * fa_buddy_alloc()'s direct path (a power of two, or contiguous, anywhere,
 * bottom-up) picks the block the general path picks: the same request with
 * an explicit range goes through fa__buddy_prep() and fa__buddy_alloc_q()
 * (for a contiguous size, fa__buddy_find(); a power of two over the whole
 * space still takes fa__buddy_alloc_simple() there, whose search
 * test_buddy_model checks against a chunk model). Two buddies replay the
 * same random trace, one through each path (the frees too:
 * fa_buddy_free_flags() against the general free, which checks and
 * releases any range block by block); every result and, after every step,
 * every bitmap word must match.
 */
static uint64_t storage2[1u << 16];

Test(buddy, direct_paths_match_general_search)
{
	const uint64_t base = 5 * M1, size = 1013 * K4;	/* several roots */
	struct fa_buddy d, g;
	uint64_t live[512][2], hdr;
	unsigned int nlive = 0, i;
	struct fa_rng rng;

	setup_at(&d, base, size, K4);
	cr_assert_eq(fa_buddy_init(&g, storage2, sizeof(storage2), base, size, K4), 0);
	hdr = (fa_buddy_max_order(&d) + 1) * sizeof(struct fa__buddy_order);	/* pointers */
	fa_rng_seed(&rng, fa_test_seed(0xd1ec7));
	for (i = 0; i < 20000; i++) {
		uint64_t r = fa_rng_below(&rng, 100);

		if (r < 55 && nlive < 512) {
			unsigned int fl = (r & 1) ? FA_BUDDY_CLEAR : 0;
			uint64_t sz, ad = 0, ag = 0;
			int rd, rg;

			if (r < 30) {
				sz = K4 << fa_rng_below(&rng, 9);
			} else {
				sz = K4 * (1 + fa_rng_below(&rng, 200));
				fl |= FA_BUDDY_CONTIGUOUS;
			}
			rd = fa_buddy_alloc(&d, sz, 0, fl, &ad);
			rg = fa_buddy_alloc_range(&g, base, base + size, sz, 0, fl, &ag);
			cr_assert_eq(rd, rg, "step %u: %llu bytes flags %u: %d vs %d", i,
				     (unsigned long long)sz, fl, rd, rg);
			if (rd)
				continue;
			cr_assert_eq(ad, ag, "step %u: %llu bytes flags %u at %#llx vs %#llx", i,
				     (unsigned long long)sz, fl, (unsigned long long)ad,
				     (unsigned long long)ag);
			live[nlive][0] = ad;
			live[nlive++][1] = sz;
		} else if (nlive) {
			unsigned int k = (unsigned int)fa_rng_below(&rng, nlive);
			unsigned int fl = (r & 1) ? FA_BUDDY_CLEARED : 0;

			cr_assert_eq(fa_buddy_free_flags(&d, live[k][0], live[k][1], fl), 0);
			/* the general free: any range, checked block by block */
			cr_assert_eq(fa__buddy_free_general(&g, live[k][0], live[k][1],
							    fl ? FA__BUDDY_CLEAN : FA__BUDDY_DIRTY), 0);
			live[k][0] = live[--nlive][0];
			live[k][1] = live[nlive][1];
		}
		cr_assert_eq(fa_buddy_avail(&d), fa_buddy_avail(&g), "step %u", i);
		cr_assert_eq(fa_buddy_clear_avail(&d), fa_buddy_clear_avail(&g), "step %u", i);
		cr_assert_eq(memcmp((char *)storage + hdr, (char *)storage2 + hdr,
				    (size_t)(fa_buddy_storage_size(size, K4) - hdr)), 0,
			     "step %u: the bitmaps differ", i);
	}
	CHECK(&d);
	CHECK(&g);
}

/* range_bias: allocations stay inside [start, end); bad windows fail. */
Test(buddy, alloc_range_bias)
{
	struct fa_buddy b;
	uint64_t a, s, e, got = 0;
	struct fa_rng rng;
	int i;

	setup(&b, 13 * M1, K4);
	fa_rng_seed(&rng, fa_test_seed(0xb1a5));
	for (i = 0; i < 12; i++) {
		s = i * M1;
		e = s + M1;
		cr_assert_eq(fa_buddy_alloc_range(&b, s, e, 2 * M1, 0, 0, &a), -FA_EINVAL, "bigger than window");
		cr_assert_eq(fa_buddy_alloc_range(&b, s + 100, e, K4, 0, 0, &a), -FA_EINVAL, "misaligned");
		cr_assert_eq(fa_buddy_alloc_range(&b, s, e, 3 * K4, 0, 0, &a), -FA_EINVAL, "not pow2");
		while (fa_buddy_alloc_range(&b, s, e, K4 << fa_rng_below(&rng, 5), 0,
					    (fa_rng_next(&rng) & 1) ? FA_BUDDY_TOPDOWN : 0, &a) == 0) {
			cr_assert_geq(a, s);
			cr_assert_lt(a, e);
			got++;
		}
		/* fill the window up with single pages: it must become full */
		while (fa_buddy_alloc_range(&b, s, e, K4, 0, 0, &a) == 0) {
			cr_assert_geq(a, s);
			cr_assert_lt(a, e);
		}
		CHECK(&b);
	}
	cr_assert_eq(fa_buddy_avail(&b), M1, "only the last MiB stays free");
	/* growing window at the end, top-down, clear preference with no clear memory */
	cr_assert_eq(fa_buddy_alloc_range(&b, 12 * M1, 0, M1, 0, FA_BUDDY_CLEAR | FA_BUDDY_TOPDOWN, &a), 0);
	cr_assert_eq(a, 12 * M1);
	(void)got;
}

Test(buddy, topdown)
{
	struct fa_buddy b;
	uint64_t a;

	setup(&b, 7 * M1, K4);
	cr_assert_eq(fa_buddy_alloc(&b, K4, 0, FA_BUDDY_TOPDOWN, &a), 0);
	cr_assert_eq(a, 7 * M1 - K4);
	cr_assert_eq(fa_buddy_alloc(&b, M1, 0, FA_BUDDY_TOPDOWN, &a), 0);
	cr_assert_eq(a, 5 * M1, "highest free MiB");
	cr_assert_eq(fa_buddy_alloc(&b, 3 * K4, 0, FA_BUDDY_TOPDOWN | FA_BUDDY_CONTIGUOUS, &a), 0);
	/* highest place inside the highest free block that holds it (16 KiB at 7M - 32K) */
	cr_assert_eq(a, 7 * M1 - 4 * K4 - 3 * K4);
	/* bottom-up is best fit: the lowest free page-sized block, not address 0 */
	cr_assert_eq(fa_buddy_alloc(&b, K4, 0, 0, &a), 0);
	cr_assert_eq(a, 7 * M1 - 8 * K4);
	CHECK(&b);
}

/* ------------------------------------------------------------- non-zero base */

Test(buddy, nonzero_base)
{
	struct fa_buddy b;
	uint64_t base = 1ull << 47, a, c;

	setup_at(&b, base, 3 * M1, K4);
	cr_assert_eq(fa_buddy_alloc(&b, K4, 0, FA_BUDDY_TOPDOWN, &a), 0);
	cr_assert_eq(a, base + 3 * M1 - K4);
	cr_assert_eq(fa_buddy_alloc(&b, M1, 0, 0, &c), 0);
	cr_assert_eq(c, base, "the 2 MiB root is split, the 1 MiB root is not whole");
	cr_assert_eq(fa_buddy_free(&b, 0, K4), -FA_ERANGE);
	cr_assert_eq(fa_buddy_free(&b, a, K4), 0);
	cr_assert_eq(fa_buddy_alloc_range(&b, base + M1, base + 2 * M1, K4, 0, FA_BUDDY_TOPDOWN, &a), 0);
	cr_assert_eq(a, base + 2 * M1 - K4);
	cr_assert_eq(fa_buddy_alloc_range(&b, 0, 0, K4, 0, 0, &a), -FA_ERANGE);
	CHECK(&b);
}

Test(buddy, space_ending_at_u64_top)
{
	struct fa_buddy b;
	uint64_t base = 0 - 4 * M1, a;

	setup_at(&b, base, 4 * M1, K4);
	cr_assert_eq(fa_buddy_alloc(&b, 2 * M1, 0, FA_BUDDY_TOPDOWN, &a), 0);
	cr_assert_eq(a, 0 - 2 * M1);
	cr_assert_eq(fa_buddy_alloc_range(&b, base, 0, 2 * M1, 0, 0, &a), 0);
	cr_assert_eq(a, base);
	cr_assert_eq(fa_buddy_free(&b, 0 - 2 * M1, 2 * M1), 0);
	cr_assert_eq(fa_buddy_alloc_exact(&b, 0 - K4, K4), 0);
	cr_assert_eq(fa_buddy_alloc_exact(&b, 0 - K4, 2 * K4), -FA_EOVERFLOW);
	cr_assert_eq(fa_buddy_free(&b, 0 - K4, 2 * K4), -FA_EOVERFLOW);
	CHECK(&b);
}

/* ------------------------------------------------------------- bad input */

struct bad_case {
	const char *what;
	uint64_t start, end, size, align;
	unsigned int flags;
	int err;
};

Test(buddy, bad_alloc_input_changes_nothing)
{
	static const struct bad_case cases[] = {
		{ "zero size", 0, 0, 0, 0, 0, -FA_EINVAL },
		{ "size > space", 0, 0, 2 * M1, 0, 0, -FA_ERANGE },
		{ "size not chunk multiple", 0, 0, K4 + 512, 0, FA_BUDDY_CONTIGUOUS, -FA_EINVAL },
		{ "size not pow2", 0, 0, 3 * K4, 0, 0, -FA_EINVAL },
		{ "misaligned start", 100, 0, K4, 0, 0, -FA_EINVAL },
		{ "misaligned end", 0, M1 - 100, K4, 0, 0, -FA_EINVAL },
		{ "start >= end", 8 * K4, 8 * K4, K4, 0, 0, -FA_EINVAL },
		{ "start > end", 8 * K4, 4 * K4, K4, 0, 0, -FA_EINVAL },
		{ "range smaller than size", 0, 4 * K4, 8 * K4, 0, 0, -FA_EINVAL },
		{ "start outside", M1, 0, K4, 0, 0, -FA_ERANGE },
		{ "end outside", 0, 2 * M1, K4, 0, 0, -FA_ERANGE },
		{ "start + size overflows", FA_U64_MAX - K4 + 1, 0, 2 * K4, 0, 0, -FA_EOVERFLOW },
		{ "alignment not pow2", 0, 0, K4, 3 * K4, 0, -FA_EINVAL },
		{ "exact range misaligned for its size", K4, 3 * K4, 2 * K4, 0, 0, -FA_EINVAL },
		{ "unknown flag", 0, 0, K4, 0, 0x1000, -FA_EINVAL },
		{ "free flag on alloc", 0, 0, K4, 0, FA_BUDDY_CLEARED, -FA_EINVAL },
	};
	struct fa_buddy b;
	uint64_t a = 0x1234, keep;
	unsigned int i;
	static uint64_t snap[1 << 12];
	struct fa_buddy_req r;

	setup(&b, M1, K4);
	cr_assert_eq(fa_buddy_alloc(&b, 8 * K4, 0, 0, &keep), 0);
	cr_assert_leq(b.storage_size, sizeof(storage));
	memcpy(snap, storage, sizeof(snap));
	for (i = 0; i < FA_ARRAY_SIZE(cases); i++) {
		struct fa_buddy before = b;

		fa_buddy_req_init(&r, cases[i].size);
		r.start = cases[i].start;
		r.end = cases[i].end;
		r.align = cases[i].align;
		r.flags = cases[i].flags;
		cr_assert_eq(fa_buddy_alloc_req(&b, &r, &a, NULL), cases[i].err, "%s", cases[i].what);
		cr_assert_eq(a, 0x1234, "%s: output written", cases[i].what);
		cr_assert_eq(memcmp(&before, &b, sizeof(b)), 0, "%s: buddy changed", cases[i].what);
		cr_assert_eq(memcmp(snap, storage, sizeof(snap)), 0, "%s: bitmaps changed", cases[i].what);
	}
	CHECK(&b);
}

Test(buddy, bad_free_changes_nothing)
{
	struct fa_buddy b, before;
	uint64_t a = 0, c = 0;
	static uint64_t snap[1 << 12];

	setup(&b, M1, K4);
	cr_assert_eq(fa_buddy_alloc(&b, 8 * K4, 0, 0, &a), 0);
	cr_assert_eq(fa_buddy_alloc(&b, 5 * K4, 0, FA_BUDDY_CONTIGUOUS, &c), 0);
	cr_assert_eq(fa_buddy_free(&b, a, 8 * K4), 0);
	cr_assert_eq(fa_buddy_alloc(&b, 8 * K4, 0, 0, &a), 0);
	before = b;
	memcpy(snap, storage, sizeof(snap));
	cr_assert_eq(fa_buddy_free(&b, a + 8 * K4 + 5 * K4 + 64 * K4, 8 * K4), -FA_EALREADY, "never allocated");
	cr_assert_eq(fa_buddy_free(&b, a, 4 * K4), -FA_EINVAL, "wrong size (smaller)");
	cr_assert_eq(fa_buddy_free(&b, a, 16 * K4), -FA_EINVAL, "wrong size (larger, covers another)");
	cr_assert_eq(fa_buddy_free(&b, a + K4, K4), -FA_EINVAL, "not an allocation start");
	cr_assert_eq(fa_buddy_free(&b, a + 100, 8 * K4), -FA_EINVAL, "misaligned");
	cr_assert_eq(fa_buddy_free(&b, a, 0), -FA_EINVAL, "zero size");
	cr_assert_eq(fa_buddy_free(&b, a, 8 * K4 + 1), -FA_EINVAL, "size not chunk multiple");
	cr_assert_eq(fa_buddy_free(&b, M1, K4), -FA_ERANGE, "outside");
	cr_assert_eq(fa_buddy_free(&b, M1 - K4, 2 * K4), -FA_ERANGE, "crosses the end");
	cr_assert_eq(fa_buddy_free(&b, FA_U64_MAX - K4 + 1, 2 * K4), -FA_ERANGE, "outside and overflowing");
	cr_assert_eq(fa_buddy_free(&b, c, 3 * K4), -FA_EINVAL, "part of a contiguous range");
	cr_assert_eq(fa_buddy_free(&b, c, 6 * K4), -FA_EINVAL, "beyond a contiguous range");
	cr_assert_eq(fa_buddy_free(&b, c, 7 * K4), -FA_EINVAL, "beyond a contiguous range, a run");
	cr_assert_eq(fa_buddy_free(&b, a, 6 * K4), -FA_EINVAL, "part of a block, as a run");
	cr_assert_eq(fa_buddy_free(&b, a, 5 * K4), -FA_EINVAL, "part of a block, as a run");
	cr_assert_eq(fa_buddy_free_flags(&b, a, 8 * K4, 0x1), -FA_EINVAL, "bad flag");
	cr_assert_eq(memcmp(&before, &b, sizeof(b)), 0);
	cr_assert_eq(memcmp(snap, storage, sizeof(snap)), 0);
	/* double free */
	cr_assert_eq(fa_buddy_free(&b, a, 8 * K4), 0);
	before = b;
	memcpy(snap, storage, sizeof(snap));
	cr_assert_eq(fa_buddy_free(&b, a, 8 * K4), -FA_EALREADY, "double free");
	cr_assert_eq(fa_buddy_free(&b, a, K4), -FA_EALREADY, "double free of a part");
	cr_assert_eq(memcmp(&before, &b, sizeof(b)), 0);
	cr_assert_eq(memcmp(snap, storage, sizeof(snap)), 0);
	cr_assert_eq(fa_buddy_free(&b, c, 5 * K4), 0);
	before = b;
	memcpy(snap, storage, sizeof(snap));
	cr_assert_eq(fa_buddy_free(&b, c, 5 * K4), -FA_EALREADY, "double free of a run");
	cr_assert_eq(fa_buddy_free(&b, c, 3 * K4), -FA_EALREADY, "double free of a run's part");
	cr_assert_eq(memcmp(&before, &b, sizeof(b)), 0);
	cr_assert_eq(memcmp(snap, storage, sizeof(snap)), 0);
	CHECK(&b);
}

Test(buddy, fini_warns_on_leak)
{
	struct fa_buddy b;
	uint64_t a;

	setup(&b, M1, K4);
	cr_assert_eq(fa_buddy_alloc(&b, K4, 0, 0, &a), 0);
	FA_EXPECT_WARN(fa_buddy_fini(&b));
	setup(&b, M1, K4);
	fa_buddy_fini(&b);
	cr_assert_eq(fa_test_warnings(), 1);
}

/* check() notices corruption (it is not a test that cannot fail). */
Test(buddy, check_detects_corruption)
{
	struct fa_buddy b;
	const char *why = NULL;
	uint64_t a;

	setup(&b, M1, K4);
	cr_assert_eq(fa_buddy_alloc(&b, K4, 0, 0, &a), 0);
	CHECK(&b);
	b.avail++;
	cr_assert_eq(fa_buddy_check(&b, &why), -FA_EFAULT);
	cr_assert_not_null(why);
	b.avail--;
	fa__buddy_bset(b.ord[0].lv[0][0], 0); /* the allocated page marked free */
	cr_assert_eq(fa_buddy_check(&b, NULL), -FA_EFAULT);
}

/* ------------------------------------------------------------------ trim */

Test(buddy, trim_returns_the_tail)
{
	struct fa_buddy b;
	uint64_t a = 0, x = 0;

	setup(&b, M1, K4);
	cr_assert_eq(fa_buddy_alloc(&b, 64 * K4, 0, 0, &a), 0);
	cr_assert_eq(fa_buddy_trim(&b, a, 64 * K4, 13 * K4, 0), 0);
	cr_assert_eq(fa_buddy_avail(&b), M1 - 13 * K4);
	CHECK(&b);
	/* the tail is really free: an exact allocation of it works */
	cr_assert_eq(fa_buddy_alloc_exact(&b, a + 13 * K4, 51 * K4), 0);
	cr_assert_eq(fa_buddy_free(&b, a + 13 * K4, 51 * K4), 0);
	/* the kept part is now a 13-page allocation: wrong sizes are refused */
	cr_assert_eq(fa_buddy_free(&b, a, 64 * K4), -FA_EINVAL);
	cr_assert_eq(fa_buddy_trim(&b, a, 13 * K4, 14 * K4, 0), -FA_EINVAL, "grow");
	cr_assert_eq(fa_buddy_trim(&b, a, 13 * K4, 0, 0), -FA_EINVAL, "to nothing");
	cr_assert_eq(fa_buddy_trim(&b, a, 13 * K4, 5 * K4 + 1, 0), -FA_EINVAL, "not chunk multiple");
	cr_assert_eq(fa_buddy_trim(&b, a, 13 * K4, 5 * K4, 0x1), -FA_EINVAL, "bad flag");
	cr_assert_eq(fa_buddy_trim(&b, a + 64 * K4, K4, K4, 0), -FA_EALREADY, "free memory");
	cr_assert_eq(fa_buddy_trim(&b, a, 13 * K4, 13 * K4, 0), 0, "same size: nothing to do");
	/* trim again, tail cleared, then free what is left */
	cr_assert_eq(fa_buddy_trim(&b, a, 13 * K4, 1 * K4, FA_BUDDY_CLEARED), 0);
	cr_assert_eq(fa_buddy_avail(&b), M1 - K4);
	cr_assert_gt(fa_buddy_clear_avail(&b), 0);
	CHECK(&b);
	cr_assert_eq(fa_buddy_free(&b, a, K4), 0);
	cr_assert_eq(fa_buddy_avail(&b), M1);
	cr_assert_eq(fa_buddy_free_blocks(&b, 8, false), 1, "everything merged back");
	/* a contiguous range trimmed across its blocks */
	cr_assert_eq(fa_buddy_alloc(&b, 7 * K4, 0, FA_BUDDY_CONTIGUOUS, &x), 0);
	cr_assert_eq(fa_buddy_trim(&b, x, 7 * K4, 5 * K4, 0), 0);
	cr_assert_eq(fa_buddy_trim(&b, x, 5 * K4, 3 * K4, 0), 0);
	cr_assert_eq(fa_buddy_avail(&b), M1 - 3 * K4);
	CHECK(&b);
	cr_assert_eq(fa_buddy_free(&b, x, 3 * K4), 0);
	cr_assert_eq(fa_buddy_avail(&b), M1);
}

/* ---------------------------------------------------- non-contiguous blocks */

Test(buddy, alloc_blocks_largest_first)
{
	struct fa_buddy b;
	struct fa_buddy_block out[16];
	struct fa_buddy_req r;
	unsigned int n = 0, i;
	uint64_t sum = 0;

	setup(&b, M1, K4);
	fa_buddy_req_init(&r, 11 * K4);
	cr_assert_eq(fa_buddy_alloc_blocks(&b, &r, out, 16, &n), 0);
	cr_assert_eq(n, 3, "8 + 2 + 1 pages");
	cr_assert_eq(out[0].size, 8 * K4);
	cr_assert_eq(out[1].size, 2 * K4);
	cr_assert_eq(out[2].size, 1 * K4);
	for (i = 0; i < n; i++) {
		sum += out[i].size;
		cr_assert_eq(out[i].addr % out[i].size, 0);
		cr_assert(!out[i].cleared);
	}
	cr_assert_eq(sum, 11 * K4);
	cr_assert_eq(fa_buddy_avail(&b), M1 - 11 * K4);
	CHECK(&b);
	for (i = 0; i < n; i++)
		cr_assert_eq(fa_buddy_free(&b, out[i].addr, out[i].size), 0);
	cr_assert_eq(fa_buddy_avail(&b), M1);
	cr_assert_eq(fa_buddy_blocks_max(11 * K4, K4), 11);
	cr_assert_eq(fa_buddy_blocks_max(11 * K4, 3 * K4), 0);
}

Test(buddy, alloc_blocks_fragmented_and_rollback)
{
	struct fa_buddy b, before;
	struct fa_buddy_block out[64];
	struct fa_buddy_req r;
	uint64_t pg[64];
	unsigned int n = 0, i;
	static uint64_t snap[1 << 10];

	setup(&b, 64 * K4, K4);
	for (i = 0; i < 64; i++)
		cr_assert_eq(fa_buddy_alloc(&b, K4, 0, 0, &pg[i]), 0);
	for (i = 0; i < 64; i += 2)   /* 32 free single pages, none adjacent */
		cr_assert_eq(fa_buddy_free(&b, pg[i], K4), 0);
	fa_buddy_req_init(&r, 8 * K4);
	r.min_block = 2 * K4;
	cr_assert_eq(fa_buddy_alloc_blocks(&b, &r, out, 64, &n), -FA_ENOSPC, "no 2-page block");
	before = b;
	memcpy(snap, storage, sizeof(snap));
	r.min_block = 0;
	cr_assert_eq(fa_buddy_alloc_blocks(&b, &r, out, 4, &n), -FA_EOVERFLOW, "needs 8 entries");
	cr_assert_eq(memcmp(&before, &b, sizeof(b)), 0, "rolled back exactly");
	cr_assert_eq(memcmp(snap, storage, sizeof(snap)), 0, "bitmaps rolled back exactly");
	cr_assert_eq(fa_buddy_alloc_blocks(&b, &r, out, 8, &n), 0);
	cr_assert_eq(n, 8);
	CHECK(&b);
	/* bad input */
	r.min_block = 3 * K4;
	cr_assert_eq(fa_buddy_alloc_blocks(&b, &r, out, 8, &n), -FA_EINVAL);
	r.min_block = 16 * K4;
	cr_assert_eq(fa_buddy_alloc_blocks(&b, &r, out, 8, &n), -FA_EINVAL, "min block above size");
	r.min_block = 0;
	r.flags = FA_BUDDY_CONTIGUOUS;
	cr_assert_eq(fa_buddy_alloc_blocks(&b, &r, out, 8, &n), -FA_EINVAL);
	r.flags = 0;
	cr_assert_eq(fa_buddy_alloc_blocks(&b, &r, NULL, 8, &n), -FA_EINVAL);
	cr_assert_eq(fa_buddy_alloc_blocks(&b, &r, out, 0, &n), -FA_EINVAL);
	r.size = 5 * K4;
	r.min_block = 2 * K4;
	cr_assert_eq(fa_buddy_alloc_blocks(&b, &r, out, 8, &n), -FA_EINVAL, "size not a multiple of min block");
}

Test(buddy, alloc_blocks_range_topdown_clear)
{
	struct fa_buddy b;
	struct fa_buddy_block out[8];
	struct fa_buddy_req r;
	unsigned int n = 0, i;
	uint64_t a = 0, keep = 0;

	setup(&b, 4 * M1, K4);
	cr_assert_eq(fa_buddy_alloc(&b, M1, 0, 0, &a), 0);
	cr_assert_eq(fa_buddy_alloc(&b, M1, 0, 0, &keep), 0); /* a's buddy stays allocated */
	cr_assert_eq(fa_buddy_free_flags(&b, a, M1, FA_BUDDY_CLEARED), 0);
	cr_assert_eq(fa_buddy_clear_avail(&b), M1);
	fa_buddy_req_init(&r, 96 * K4);
	r.start = 2 * M1;
	r.end = 3 * M1;
	r.flags = FA_BUDDY_TOPDOWN;
	cr_assert_eq(fa_buddy_alloc_blocks(&b, &r, out, 8, &n), 0);
	for (i = 0; i < n; i++) {
		cr_assert_geq(out[i].addr, 2 * M1, "top-down inside the range");
		cr_assert_leq(out[i].addr + out[i].size, 3 * M1);
	}
	fa_buddy_req_init(&r, 8 * K4);
	r.flags = FA_BUDDY_CLEAR;
	cr_assert_eq(fa_buddy_alloc_blocks(&b, &r, out, 8, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert(out[0].cleared);
	cr_assert_lt(out[0].addr, M1);
	CHECK(&b);
}

/* --------------------------------------------------------- stats and dump */

static void collect(void *ctx, const char *line)
{
	char *buf = (char *)ctx;

	strcat(buf, line);
	strcat(buf, "\n");
}

Test(buddy, stats_and_dump)
{
	struct fa_buddy b;
	static char text[4096];
	uint64_t a = 0, a2 = 0;
	unsigned int k;
	uint64_t total = 0;

	setup_at(&b, 1ull << 40, 7 * M1, K4);
	cr_assert_eq(fa_buddy_alloc(&b, K4, 0, 0, &a), 0);
	cr_assert_eq(fa_buddy_alloc(&b, K4, 0, 0, &a2), 0);
	cr_assert_eq(a2, a + K4);
	cr_assert_eq(fa_buddy_free_flags(&b, a, K4, FA_BUDDY_CLEARED), 0); /* buddy a2 allocated: stays clear */
	for (k = 0; k <= fa_buddy_max_order(&b); k++)
		total += (fa_buddy_free_blocks(&b, k, false) + fa_buddy_free_blocks(&b, k, true)) * (K4 << k);
	cr_assert_eq(total, fa_buddy_avail(&b));
	cr_assert_eq(fa_buddy_free_blocks(&b, 60, false), 0);
	text[0] = 0;
	fa_buddy_dump(&b, collect, text);
	cr_assert(strstr(text, "buddy: size 7340032 chunk 4096 max_order 10 base 1099511627776\n"), "%s", text);
	cr_assert(strstr(text, "buddy: avail 7335936 clear_avail 4096 largest_free 4194304\n"), "%s", text);
	cr_assert(strstr(text, "buddy: order 0: dirty 0 clear 1\n"), "%s", text);
	cr_assert(strstr(text, "buddy: order 7: dirty 1 clear 0\n"), "%s", text);
	cr_assert(strstr(text, "buddy: order 9: dirty 1 clear 0\n"), "%s", text);
	cr_assert_null(strstr(text, "order 8:"), "the 1 MiB root is split");
}

/* The real geometry: 16 GiB in 4 KiB chunks fits the 4 MiB budget and works. */
Test(buddy, vram_16g)
{
	struct fa_buddy b;
	uint64_t a[64], x = 0;
	int i;

	setup(&b, 16 * G1, K4);
	cr_assert_eq(fa_buddy_max_order(&b), 22);
	for (i = 0; i < 64; i++)
		cr_assert_eq(fa_buddy_alloc(&b, K4 << (i % 18), 0, (i & 1) ? FA_BUDDY_TOPDOWN : 0, &a[i]), 0);
	cr_assert_eq(fa_buddy_alloc(&b, 3 * G1 + 5 * K4, 0, FA_BUDDY_CONTIGUOUS, &x), 0);
	cr_assert_eq(x % (4 * G1), 0, "placed at the start of a free 4 GiB block");
	cr_assert_eq(fa_buddy_avail(&b) % K4, 0);
	CHECK(&b);
	for (i = 0; i < 64; i++)
		cr_assert_eq(fa_buddy_free(&b, a[i], K4 << (i % 18)), 0);
	cr_assert_eq(fa_buddy_free(&b, x, 3 * G1 + 5 * K4), 0);
	cr_assert_eq(fa_buddy_avail(&b), 16 * G1);
	cr_assert_eq(fa_buddy_largest_free(&b), 16 * G1);
	CHECK(&b);
}

/* fragmentation scenario: 8 KiB at 64 KiB alignment everywhere, freed clear /
 * dirty alternately; unconditional merging gives the whole space back, then
 * 64 KiB allocations fill it and are freed in reverse order. */
Test(buddy, fragmentation_clear_dirty)
{
	struct fa_buddy b;
	static uint64_t a[65536];
	unsigned int i;

	setup(&b, 4 * G1, K4);
	for (i = 0; i < 65536; i++)
		cr_assert_eq(fa_buddy_alloc(&b, 8192, 65536, 0, &a[i]), 0, "#%u", i);
	cr_assert_eq(fa_buddy_avail(&b), 4 * G1 - 65536ull * 8192);
	for (i = 0; i < 65536; i++)
		cr_assert_eq(fa_buddy_free_flags(&b, a[i], 8192, (i & 1) ? FA_BUDDY_CLEARED : 0), 0);
	cr_assert_eq(fa_buddy_avail(&b), 4 * G1);
	cr_assert_eq(fa_buddy_largest_free(&b), 4 * G1, "clear and dirty buddies merged (dirty wins)");
	cr_assert_eq(fa_buddy_clear_avail(&b), 0);
	CHECK(&b);
	for (i = 0; i < 65536; i++)
		cr_assert_eq(fa_buddy_alloc(&b, 65536, 0, 0, &a[i]), 0, "#%u", i);
	cr_assert_eq(fa_buddy_avail(&b), 0);
	for (i = 65536; i-- > 0;)
		cr_assert_eq(fa_buddy_free(&b, a[i], 65536), 0);
	cr_assert_eq(fa_buddy_avail(&b), 4 * G1);
	CHECK(&b);
}

/* reset_clear: everything free becomes clear, then dirty again. */
Test(buddy, reset_clear)
{
	struct fa_buddy b;
	uint64_t a = 0, x = 0;
	bool cl = false;
	struct fa_buddy_req r;

	setup(&b, 7 * M1, K4);
	cr_assert_eq(fa_buddy_alloc(&b, 3 * K4, 0, FA_BUDDY_CONTIGUOUS, &a), 0);
	fa_buddy_reset_clear(&b, true);
	cr_assert_eq(fa_buddy_clear_avail(&b), 7 * M1 - 3 * K4);
	cr_assert_eq(fa_buddy_free_blocks(&b, 10, true), 1);
	cr_assert_eq(fa_buddy_free_blocks(&b, 10, false), 0);
	CHECK(&b);
	fa_buddy_req_init(&r, M1);
	cr_assert_eq(fa_buddy_alloc_req(&b, &r, &x, &cl), 0);
	cr_assert(cl, "only clear memory left");
	cr_assert_eq(fa_buddy_free(&b, x, M1), 0); /* dirty again, and merged: dirty wins */
	cr_assert_lt(fa_buddy_clear_avail(&b), 7 * M1 - 3 * K4);
	CHECK(&b);
	fa_buddy_reset_clear(&b, false);
	cr_assert_eq(fa_buddy_clear_avail(&b), 0);
	cr_assert_eq(fa_buddy_avail(&b), 7 * M1 - 3 * K4);
	CHECK(&b);
	fa_buddy_reset_clear(&b, false);
	CHECK(&b);
	cr_assert_eq(fa_buddy_free(&b, a, 3 * K4), 0);
	fa_buddy_reset_clear(&b, true);
	cr_assert_eq(fa_buddy_clear_avail(&b), 7 * M1);
	CHECK(&b);
}
