/* SPDX-License-Identifier: MIT */
/*
 * Bad-input sweep of the public API of include/fencealloc/: every public
 * function is called with NULL, zero, maximal, misaligned, wrapping and
 * overlapping arguments, over live objects of every module. Built with ASan
 * and UBSan (tests/scripts/check_sweep.sh), one process per case:
 *
 *   sweep --list        print every case: "<name> <return|assert>"
 *   sweep <name>        run one case
 *
 * A "return" case must return normally: no sanitizer report, no crash, and
 * the checks inside it (refusals give the documented errno, nothing changes)
 * hold; it exits 0. An "assert" case passes a pointer the function documents
 * as "must not be NULL": its #FA_ASSERT must fire (exit 42 from the FA_BUG
 * hook below) before anything is dereferenced. Any other outcome fails.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned long sw_warns;
static void sw_warn(void) { sw_warns++; }
static void sw_bug(const char *file, int line)
{
	fprintf(stderr, "sweep: FA_ASSERT at %s:%d\n", file, line);
	fflush(stderr);
	_exit(42);
}
#define FA_WARN_HOOK(file, line, expr) ((void)(file), (void)(line), (void)(expr), sw_warn())
#define FA_BUG() sw_bug(__FILE__, __LINE__)

#define FA_VALIDATE /* the signalling validator is swept too */
#define FA_SIGNALLING_IMPLEMENTATION
#include <fencealloc/fencealloc.h>

#include "pt_alloc.h"

#define SW_CHECK(c)                                                               \
	do {                                                                      \
		if (!(c)) {                                                       \
			fprintf(stderr, "sweep: check failed: %s (line %d)\n", #c, \
				__LINE__);                                        \
			exit(3);                                                  \
		}                                                                 \
	} while (0)

/* Value grids. */
static const uint64_t U64S[] = {
	0, 1, 2, 3, 7, 8, 15, 16, 255, 4095, 4096, 4097, 65536, 1ull << 20, (1ull << 32) - 1,
	1ull << 32, 1ull << 40, (1ull << 62) + 8, 1ull << 63, (1ull << 63) + 4096,
	~0ull - 4096, ~0ull - 8, ~0ull - 1, ~0ull,
};
#define NU64 (sizeof(U64S) / sizeof(U64S[0]))
static const unsigned int UINTS[] = { 0, 1, 2, 3, 7, 31, 32, 59, 60, 63, 64, 65, 255, 0x7fffffffu, ~0u };
#define NUINT (sizeof(UINTS) / sizeof(UINTS[0]))

/* ------------------------------------------------------------------ base */
static void base_values(void)
{
	unsigned int i, j;
	uint64_t r;

	for (i = 0; i < NU64; i++) {
		(void)fa_fls64(U64S[i]);
		(void)fa_ffs64(U64S[i]);
		(void)fa_ilog2_u64(U64S[i]);
		(void)fa_is_pow2(U64S[i]);
		for (j = 0; j < NU64; j++) {
			(void)fa_add_overflow(U64S[i], U64S[j], &r);
			(void)fa_mul_overflow(U64S[i], U64S[j], &r);
			SW_CHECK(fa_align_up(U64S[i], U64S[j], &r) <= 0);
			(void)fa_min_u64(U64S[i], U64S[j]);
			(void)fa_max_u64(U64S[i], U64S[j]);
			(void)fa_seq64_after(U64S[i], U64S[j]);
			(void)fa_seq32_after((uint32_t)U64S[i], (uint32_t)U64S[j]);
			if (fa_is_pow2(U64S[j])) {
				(void)fa_align_down(U64S[i], U64S[j]);
				(void)fa_is_aligned(U64S[i], U64S[j]);
			}
		}
	}
	SW_CHECK(fa_warn_record_get() != NULL);
}

static void base_lists_overlap(void)
{
	struct fa_list a, b, n[4];
	struct fa_llist l;
	struct fa_llist_node m[3];
	unsigned int i;

	fa_list_init(&a);
	fa_list_init(&b);
	for (i = 0; i < 4; i++)
		fa_list_add_tail(&n[i], &a);
	fa_list_splice_tail_init(&a, &a); /* the same list as source and destination */
	fa_list_splice_tail_init(&b, &a); /* empty source */
	fa_list_move_tail(&n[0], &a);     /* onto its own list */
	fa_list_del_init(&n[1]);
	fa_list_del_init(&n[1]);          /* twice: documented safe */
	SW_CHECK(fa_list_empty(&n[1]));
	(void)fa_list_is_last(&n[0], &a);
	(void)fa_list_is_last(&n[0], NULL); /* head is only compared */
	fa_llist_init(&l);
	SW_CHECK(fa_llist_reverse(NULL) == NULL);
	SW_CHECK(fa_llist_del_all(&l) == NULL);
	m[0].next = &m[1];
	fa_llist_push_batch(&m[0], &m[1], &l);
	fa_llist_push(&m[2], &l);
	SW_CHECK(fa_llist_reverse(fa_llist_del_all(&l)) == &m[1]); /* the batch counts as pushed last to first */
	SW_CHECK(fa_llist_empty(&l));
}

static void a_add_overflow(void) { (void)fa_add_overflow(1, 2, NULL); }
static void a_mul_overflow(void) { (void)fa_mul_overflow(1, 2, NULL); }
static void a_align_up(void) { (void)fa_align_up(1, 8, NULL); }
static void a_align_down(void) { (void)fa_align_down(5, 3); }
static void a_is_aligned(void) { (void)fa_is_aligned(5, 0); }
static void a_list_init(void) { fa_list_init(NULL); }
static void a_list_empty(void) { (void)fa_list_empty(NULL); }
static void a_list_add(void) { struct fa_list h; fa_list_init(&h); fa_list_add(NULL, &h); }
static void a_list_add_head(void) { struct fa_list n; fa_list_add(&n, NULL); }
static void a_list_add_tail(void) { struct fa_list h; fa_list_init(&h); fa_list_add_tail(NULL, &h); }
static void a_list_del_init(void) { fa_list_del_init(NULL); }
static void a_list_move_tail(void) { struct fa_list h; fa_list_init(&h); fa_list_move_tail(NULL, &h); }
static void a_list_splice(void) { struct fa_list h; fa_list_init(&h); fa_list_splice_tail_init(&h, NULL); }
static void a_list_is_last(void) { struct fa_list h; (void)fa_list_is_last(NULL, &h); }
static void a_llist_init(void) { fa_llist_init(NULL); }
static void a_llist_empty(void) { (void)fa_llist_empty(NULL); }
static void a_llist_push(void) { struct fa_llist l; fa_llist_init(&l); (void)fa_llist_push(NULL, &l); }
static void a_llist_push_head(void) { struct fa_llist_node n; (void)fa_llist_push(&n, NULL); }
static void a_llist_batch(void) { struct fa_llist l; struct fa_llist_node n; fa_llist_init(&l); (void)fa_llist_push_batch(&n, NULL, &l); }
static void a_llist_del_all(void) { (void)fa_llist_del_all(NULL); }

/* ----------------------------------------------------------------- buddy */
static uint64_t sw_bstore[1 << 14];

static void buddy_make(struct fa_buddy *b, uint64_t base, uint64_t size)
{
	SW_CHECK(fa_buddy_init(b, sw_bstore, sizeof(sw_bstore), base, size, 4096) == 0);
}

static void buddy_init_grid(void)
{
	struct fa_buddy b;
	unsigned int i, j, k;
	static const uint64_t chunks[] = { 0, 1, 15, 16, 17, 4096, 4097, 1ull << 40, 1ull << 63, ~0ull };

	SW_CHECK(fa_buddy_init(NULL, sw_bstore, sizeof(sw_bstore), 0, 1 << 20, 4096) == -FA_EINVAL);
	SW_CHECK(fa_buddy_init(&b, NULL, sizeof(sw_bstore), 0, 1 << 20, 4096) == -FA_EINVAL);
	SW_CHECK(fa_buddy_init(&b, (char *)sw_bstore + 1, sizeof(sw_bstore) - 8, 0, 1 << 20, 4096) ==
		 -FA_EINVAL);
	for (i = 0; i < NU64; i++)
		for (j = 0; j < NU64; j++)
			for (k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
				(void)fa_buddy_storage_size(U64S[j], chunks[k]);
				(void)fa_buddy_init(&b, sw_bstore, sizeof(sw_bstore), U64S[i], U64S[j],
						    chunks[k]);
			}
}

static void buddy_alloc_grid(void)
{
	struct fa_buddy b;
	struct fa_buddy_req r;
	struct fa_buddy_block out[8];
	unsigned int i, j, f, n;
	uint64_t a;
	bool cl;
	static const unsigned int flags[] = { 0, FA_BUDDY_TOPDOWN, FA_BUDDY_CONTIGUOUS, FA_BUDDY_CLEAR,
					      FA_BUDDY_CONTIGUOUS | FA_BUDDY_TOPDOWN, FA_BUDDY_CLEARED, ~0u };

	buddy_make(&b, 1ull << 40, 3ull << 20);
	for (i = 0; i < NU64; i++)
		for (j = 0; j < NU64; j++)
			for (f = 0; f < sizeof(flags) / sizeof(flags[0]); f++) {
				if (fa_buddy_alloc(&b, U64S[i], U64S[j], flags[f], &a) == 0)
					SW_CHECK(fa_buddy_free(&b, a, U64S[i]) == 0 ||
						 fa_buddy_free(&b, a, (U64S[i] + 4095) & ~4095ull) == 0);
				fa_buddy_req_init(&r, U64S[i]);
				r.align = U64S[j];
				r.flags = flags[f];
				r.min_block = U64S[(i + j) % NU64];
				r.start = U64S[j];
				r.end = U64S[(j + 3) % NU64];
				if (fa_buddy_alloc_req(&b, &r, &a, &cl) == 0)
					(void)fa_buddy_free(&b, a, U64S[i]);
				if (fa_buddy_alloc_blocks(&b, &r, out, 8, &n) == 0)
					while (n--)
						SW_CHECK(fa_buddy_free(&b, out[n].addr, out[n].size) == 0);
				(void)fa_buddy_blocks_max(U64S[i], U64S[j]);
			}
	SW_CHECK(fa_buddy_avail(&b) == fa_buddy_size(&b));
	SW_CHECK(fa_buddy_check(&b, NULL) == 0);
}

static void buddy_range_grid(void)
{
	struct fa_buddy b;
	unsigned int i, j, k;
	uint64_t a, base = 1ull << 40;

	buddy_make(&b, base, 3ull << 20);
	for (i = 0; i < NU64; i++)
		for (j = 0; j < NU64; j++) {
			uint64_t addr = base + U64S[i];

			if (fa_buddy_alloc_exact(&b, addr, U64S[j]) == 0) {
				/* overlapping: the same range again, and a range inside it */
				SW_CHECK(fa_buddy_alloc_exact(&b, addr, U64S[j]) == -FA_ENOSPC);
				SW_CHECK(fa_buddy_free(&b, addr, U64S[j]) == 0);
				SW_CHECK(fa_buddy_free(&b, addr, U64S[j]) == -FA_EALREADY);
			}
			(void)fa_buddy_free(&b, U64S[i], U64S[j]);
			(void)fa_buddy_free_flags(&b, addr, U64S[j], UINTS[j % NUINT]);
			(void)fa_buddy_trim(&b, addr, U64S[j], U64S[(i + j) % NU64], 0);
			for (k = 0; k < 4; k++)
				if (fa_buddy_alloc_range(&b, U64S[i], U64S[j], 4096ull << k, 0, k & 1, &a) == 0)
					SW_CHECK(fa_buddy_free(&b, a, 4096ull << k) == 0);
			(void)fa_buddy_free_blocks(&b, UINTS[i % NUINT], j & 1);
		}
	/* trim of a live allocation to every size */
	SW_CHECK(fa_buddy_alloc(&b, 1 << 20, 0, 0, &a) == 0);
	for (i = 0; i < NU64; i++)
		(void)fa_buddy_trim(&b, a, 1 << 20, U64S[i], FA_BUDDY_CLEARED);
	fa_buddy_reset_clear(&b, true);
	fa_buddy_reset_clear(&b, false);
	SW_CHECK(fa_buddy_check(&b, NULL) == 0);
}

static void buddy_null(void)
{
	struct fa_buddy b, dead;
	struct fa_buddy_req r;
	struct fa_buddy_block out[2];
	unsigned int n;
	uint64_t a;
	const char *why;

	buddy_make(&b, 0, 1 << 20);
	fa_buddy_req_init(&r, 4096);
	SW_CHECK(fa_buddy_alloc(NULL, 4096, 0, 0, &a) == -FA_EINVAL);
	SW_CHECK(fa_buddy_alloc(&b, 4096, 0, 0, NULL) == -FA_EINVAL);
	SW_CHECK(fa_buddy_alloc_req(&b, NULL, &a, NULL) == -FA_EINVAL);
	SW_CHECK(fa_buddy_alloc_req(&b, &r, NULL, NULL) == -FA_EINVAL);
	SW_CHECK(fa_buddy_alloc_range(NULL, 0, 0, 4096, 0, 0, &a) == -FA_EINVAL);
	SW_CHECK(fa_buddy_alloc_range(&b, 0, 0, 4096, 0, 0, NULL) == -FA_EINVAL);
	SW_CHECK(fa_buddy_alloc_exact(NULL, 0, 4096) == -FA_EINVAL);
	SW_CHECK(fa_buddy_alloc_blocks(&b, &r, out, 2, NULL) == -FA_EINVAL);
	SW_CHECK(fa_buddy_alloc_blocks(&b, &r, NULL, 2, &n) == -FA_EINVAL);
	SW_CHECK(fa_buddy_alloc_blocks(&b, NULL, out, 2, &n) == -FA_EINVAL);
	SW_CHECK(fa_buddy_alloc_blocks(NULL, &r, out, 2, &n) == -FA_EINVAL);
	SW_CHECK(fa_buddy_free(NULL, 0, 4096) == -FA_EINVAL);
	SW_CHECK(fa_buddy_free_flags(NULL, 0, 4096, 0) == -FA_EINVAL);
	SW_CHECK(fa_buddy_trim(NULL, 0, 4096, 4096, 0) == -FA_EINVAL);
	SW_CHECK(fa_buddy_check(NULL, &why) == -FA_EINVAL);
	SW_CHECK(fa_buddy_avail(NULL) == 0 && fa_buddy_clear_avail(NULL) == 0);
	SW_CHECK(fa_buddy_size(NULL) == 0 && fa_buddy_largest_free(NULL) == 0);
	SW_CHECK(fa_buddy_max_order(NULL) == 0 && fa_buddy_free_blocks(NULL, 0, 0) == 0);
	fa_buddy_reset_clear(NULL, true);
	fa_buddy_req_init(NULL, 4096);
	fa_buddy_dump(NULL, NULL, NULL);
	fa_buddy_dump(&b, NULL, NULL);
	fa_buddy_fini(NULL);
	SW_CHECK(fa_buddy_avail(&b) == fa_buddy_size(&b));
	/* a finished buddy refuses everything */
	buddy_make(&dead, 0, 1 << 20);
	fa_buddy_fini(&dead);
	SW_CHECK(fa_buddy_alloc(&dead, 4096, 0, 0, &a) == -FA_EINVAL);
	SW_CHECK(fa_buddy_alloc_exact(&dead, 0, 4096) == -FA_EINVAL);
	SW_CHECK(fa_buddy_free(&dead, 0, 4096) == -FA_EINVAL);
	SW_CHECK(fa_buddy_alloc_blocks(&dead, &r, out, 2, &n) == -FA_EINVAL);
	fa_buddy_reset_clear(&dead, true);
	SW_CHECK(fa_buddy_check(&dead, &why) != 0);
}

/* --------------------------------------------------------------- reserve */
static long sw_live;
static void *sw_alloc(void *ctx, size_t size, fa_gfp_t gfp)
{
	(void)ctx;
	(void)gfp;
	sw_live++;
	return malloc(size);
}
static void sw_free(void *ctx, void *obj, size_t size)
{
	(void)ctx;
	(void)size;
	sw_live--;
	free(obj);
}
static const struct fa_reserve_source sw_src = { sw_alloc, sw_free, NULL };

static void reserve_grid(void)
{
	struct fa_reserve_pool p;
	struct fa_reserve r, r2;
	unsigned int i, j, need;
	void *o;
	static const size_t sizes[] = { 0, 1, sizeof(void *) - 1, sizeof(void *), 64, 4096 };

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (j = 0; j < NUINT; j++)
			(void)fa_reserve_pool_init(&p, &sw_src, sizes[i], UINTS[j], UINTS[j]);
	SW_CHECK(fa_reserve_pool_init(&p, &sw_src, 64, 4, 16) == 0);
	fa_reserve_init(&r, &p);
	fa_reserve_init(&r2, &p);
	for (i = 0; i < NUINT; i++) {
		(void)fa_reserve_fill(&r, UINTS[i], FA_GFP_KERNEL);
		(void)fa_reserve_fill(&r2, UINTS[i] & 7, FA_GFP_NOWAIT);
		SW_CHECK(p.charged <= 16);
	}
	/* take everything and one more; give back more than taken */
	while ((o = fa_reserve_take(&r)) != NULL) {
		unsigned int before = fa_reserve_count(&r2);

		fa_reserve_give_back(&r2, o); /* a foreign reservation: refused once "full" */
		if (fa_reserve_count(&r2) == before)
			fa_reserve_pool_put(&p, o);
	}
	SW_CHECK(fa_reserve_take(&r) == NULL);
	fa_reserve_release(&r);
	fa_reserve_release(&r);
	fa_reserve_release(&r2);
	for (i = 0; i < 20; i++)
		if (fa_reserve_pool_get(&p, FA_GFP_KERNEL, &o) == 0)
			fa_reserve_pool_put(&p, o);
	(void)fa_reserve_pool_trim(&p);
	(void)fa_reserve_pool_trim(&p);
	SW_CHECK(fa_reserve_pool_charged(&p) == 0 && fa_reserve_pool_cached(&p) == 0);
	fa_reserve_pool_fini(&p);
	SW_CHECK(sw_live == 0);
	for (i = 0; i < NUINT; i++)
		for (j = 0; j < NUINT; j++) {
			need = UINTS[(i + j) % NUINT];
			(void)fa_reserve_need_add(&need, UINTS[i], UINTS[j]);
		}
	/* a reservation without a pool */
	fa_reserve_init(&r, NULL);
	SW_CHECK(fa_reserve_fill(&r, 1, FA_GFP_KERNEL) == -FA_EINVAL);
	fa_reserve_release(&r);
	SW_CHECK(fa_reserve_take(&r) == NULL);
}

static void reserve_null(void)
{
	struct fa_reserve_pool p;
	struct fa_reserve_source half = { sw_alloc, NULL, NULL };
	void *o = NULL;
	unsigned long w0;

	SW_CHECK(fa_reserve_pool_init(NULL, &sw_src, 64, 1, 1) == -FA_EINVAL);
	SW_CHECK(fa_reserve_pool_init(&p, NULL, 64, 1, 1) == -FA_EINVAL);
	SW_CHECK(fa_reserve_pool_init(&p, &half, 64, 1, 1) == -FA_EINVAL);
	SW_CHECK(fa_reserve_pool_init(&p, &sw_src, 64, 1, 4) == 0);
	w0 = sw_warns;
	SW_CHECK(fa_reserve_take(NULL) == NULL);
	fa_reserve_release(NULL);
	fa_reserve_give_back(NULL, &o);
	fa_reserve_init(NULL, &p);
	SW_CHECK(fa_reserve_fill(NULL, 1, FA_GFP_KERNEL) == -FA_EINVAL);
	SW_CHECK(fa_reserve_count(NULL) == 0);
	SW_CHECK(fa_reserve_pool_get(NULL, FA_GFP_KERNEL, &o) == -FA_EINVAL);
	SW_CHECK(fa_reserve_pool_get(&p, FA_GFP_KERNEL, NULL) == -FA_EINVAL);
	fa_reserve_pool_put(NULL, &o);
	fa_reserve_pool_put(&p, NULL);
	SW_CHECK(fa_reserve_pool_trim(NULL) == 0);
	fa_reserve_pool_fini(NULL);
	SW_CHECK(fa_reserve_pool_charged(NULL) == 0 && fa_reserve_pool_cached(NULL) == 0);
	SW_CHECK(fa_reserve_source_alloc(NULL, 8, FA_GFP_KERNEL) == NULL);
	fa_reserve_source_free(NULL, &o, 8);
	fa_reserve_source_free(&sw_src, NULL, 8);
	SW_CHECK(fa_reserve_need_add(NULL, 1, 1) == -FA_EINVAL);
	SW_CHECK(sw_warns > w0);
	SW_CHECK(p.charged == 0 && p.cached == 0 && sw_live == 0);
	fa_reserve_pool_fini(&p);
}

/* -------------------------------------------------------------- deferred */
static void sw_dfn(struct fa_deferred_node *n, void *arg)
{
	(void)n;
	(*(unsigned long *)arg)++;
}
static void sw_lock(void *ctx) { (void)ctx; }

static void deferred_grid(void)
{
	struct fa_deferred d, d32;
	struct fa_deferred_node n[NU64], m[NU64];
	struct fa_deferred_lock lk = { sw_lock, sw_lock, NULL };
	unsigned long k = 0, c;
	unsigned int i;
	uint64_t e;

	fa_deferred_init(&d);
	fa_deferred_init_seq32(&d32);
	for (i = 0; i < NU64; i++) {
		fa_deferred_push(&d, &n[i], U64S[i]);
		fa_deferred_push(&d32, &m[i], U64S[i]);
		(void)fa_deferred_oldest_epoch(&d, &e);
		(void)fa_deferred_oldest_epoch(&d32, NULL);
	}
	for (i = 0; i < NU64; i++) {
		(void)fa_deferred_drain(&d, U64S[i], sw_dfn, &k);
		(void)fa_deferred_drain_locked(&d32, U64S[i], sw_dfn, &k, &lk);
		(void)fa_deferred_splice(&d, U64S[i], NULL);
		(void)fa_deferred_splice(&d32, U64S[i], &c);
		(void)fa_deferred_pending(&d);
	}
}

static void deferred_null(void)
{
	struct fa_deferred d;
	struct fa_deferred_node n;
	struct fa_deferred_lock half = { sw_lock, NULL, NULL };
	unsigned long k = 7;
	uint64_t e = 5;

	fa_deferred_init(NULL);
	fa_deferred_init_seq32(NULL);
	fa_deferred_init(&d);
	fa_deferred_push(NULL, &n, 1);
	fa_deferred_push(&d, NULL, 1);
	SW_CHECK(fa_deferred_drain(NULL, 1, sw_dfn, &k) == 0);
	SW_CHECK(fa_deferred_drain(&d, 1, NULL, NULL) == 0);
	SW_CHECK(fa_deferred_drain_locked(&d, 1, sw_dfn, &k, NULL) == 0);
	SW_CHECK(fa_deferred_drain_locked(&d, 1, sw_dfn, &k, &half) == 0);
	SW_CHECK(fa_deferred_drain_locked(NULL, 1, sw_dfn, &k, &half) == 0);
	SW_CHECK(fa_deferred_splice(NULL, 1, &k) == NULL && k == 0);
	SW_CHECK(fa_deferred_pending(NULL) == 0);
	SW_CHECK(!fa_deferred_oldest_epoch(NULL, &e) && e == 5);
	SW_CHECK(!fa_deferred_oldest_epoch(&d, &e) && e == 5);
	fa_deferred_push(&d, &n, 9);
	SW_CHECK(fa_deferred_oldest_epoch(&d, NULL));
	SW_CHECK(fa_deferred_drain(&d, 9, NULL, NULL) == 0 && fa_deferred_pending(&d) == 1);
	SW_CHECK(fa_deferred_drain(&d, 9, sw_dfn, &k) == 1);
}

/* ---------------------------------------------------------------- pramin */
static uint32_t sw_mmio[(0x800000 + (1 << 20)) / 4];
static uint32_t sw_rd(void *ctx, uint32_t off)
{
	(void)ctx;
	return off / 4 < sizeof(sw_mmio) / 4 ? sw_mmio[off / 4] : 0xFFFFFFFFu;
}
static void sw_wr(void *ctx, uint32_t off, uint32_t v)
{
	(void)ctx;
	if (off / 4 < sizeof(sw_mmio) / 4)
		sw_mmio[off / 4] = v;
}

static void pramin_ops(const struct fa_pramin_accessor *a)
{
	static uint64_t src[(1 << 20) / 8]; /* as big as the memory: a valid copy never reads past it */
	unsigned int i, j, o;
	uint32_t v32;
	uint64_t v64;

	for (i = 0; i < NU64; i++)
		for (j = 0; j < NU64; j++) {
			uint64_t addr = U64S[i], n = U64S[j];

			o = j % 4;
			(void)fa_pramin_rd32(a, addr, &v32);
			(void)fa_pramin_wr32(a, addr, (uint32_t)j);
			(void)fa_pramin_rd64(a, addr, &v64);
			(void)fa_pramin_wr64(a, addr, j, (enum fa_pramin_order)o);
			(void)fa_pramin_fill32(a, addr, 1, n);
			(void)fa_pramin_copy64(a, addr, src, n, (enum fa_pramin_order)o);
			(void)fa_pramin_fill64(a, addr, 1, U64S[i], n, (enum fa_pramin_order)o);
		}
	SW_CHECK(fa_pramin_flush(a) == 0);
}

static void pramin_direct_grid(void)
{
	static uint64_t mem[(1 << 20) / 8];
	struct fa_pramin_direct d;
	struct fa_pramin_accessor a;
	unsigned int i, j;

	for (i = 0; i < NU64; i++)
		for (j = 0; j < NU64; j++)
			(void)fa_pramin_direct_init(&d, mem, U64S[i], U64S[j] <= sizeof(mem) ? U64S[j] : 8,
						    &a);
	SW_CHECK(fa_pramin_direct_init(&d, (char *)mem + 4, 0, 64, &a) == -FA_EINVAL);
	SW_CHECK(fa_pramin_direct_init(&d, mem, ~0ull - 7, 64, &a) == -FA_EINVAL);
	SW_CHECK(fa_pramin_direct_init(&d, mem, 0, sizeof(mem), &a) == 0);
	pramin_ops(&a);
	SW_CHECK(fa_pramin_direct_init(&d, mem, 1ull << 40, sizeof(mem), NULL) == 0);
	fa_pramin_direct_accessor(&d, &a);
	pramin_ops(&a);
}

static void pramin_window_grid(void)
{
	struct fa_pramin_hw hw = { NULL, sw_rd, sw_wr, NULL };
	struct fa_pramin_gen g, bad;
	struct fa_pramin_window w;
	struct fa_pramin_accessor a;
	unsigned int i, j, f;
	uint64_t base;

	/* every field of the descriptor at every extreme, one and two at a time */
	for (f = 0; f < 6; f++)
		for (i = 0; i < NUINT; i++)
			for (j = 0; j < NUINT; j++) {
				uint32_t *fld;

				SW_CHECK(fa_pramin_gen_get(FA_PRAMIN_GEN_PBUS, &bad) == 0);
				fld = &bad.window_reg + f;
				*fld = UINTS[i];
				*(&bad.window_reg + (f + 1) % 6) = UINTS[j];
				(void)fa_pramin_gen_reach(&bad);
				(void)fa_pramin_window_init(&w, &hw, &bad, UINTS[j] ? UINTS[j] : 1, &a);
				bad.base_shift = ~0u - UINTS[i];
				bad.base_bits = UINTS[j];
				SW_CHECK(fa_pramin_window_init(&w, &hw, &bad, 1 << 20, &a) == -FA_EINVAL);
				SW_CHECK(fa_pramin_gen_reach(&bad) == 0);
			}
	for (i = 0; i < 3; i++) {
		SW_CHECK(fa_pramin_gen_get((enum fa_pramin_gen_id)i, &g) == 0);
		for (j = 0; j < NU64; j++)
			(void)fa_pramin_window_init(&w, &hw, &g, U64S[j], &a);
		SW_CHECK(fa_pramin_window_init(&w, &hw, &g, 4ull << 20, &a) == 0);
		pramin_ops(&a);
		SW_CHECK(fa_pramin_window_base(&w, &base));
		SW_CHECK(fa_pramin_window_base(&w, NULL));
		fa_pramin_window_forget(&w);
		SW_CHECK(!fa_pramin_window_base(&w, &base));
		fa_pramin_window_stats_reset(&w);
		fa_pramin_window_accessor(&w, &a);
	}
	SW_CHECK(fa_pramin_gen_get((enum fa_pramin_gen_id)77, &g) == -FA_EINVAL);
}

static void pramin_null(void)
{
	struct fa_pramin_hw hw = { NULL, sw_rd, sw_wr, NULL }, nohw = { NULL, NULL, sw_wr, NULL };
	struct fa_pramin_gen g;
	struct fa_pramin_window w;
	struct fa_pramin_direct d;
	struct fa_pramin_accessor a, none = { NULL, NULL };
	static uint64_t mem[64];
	uint64_t base = 3;
	uint32_t v;

	SW_CHECK(fa_pramin_gen_get(FA_PRAMIN_GEN_PBUS, NULL) == -FA_EINVAL);
	SW_CHECK(fa_pramin_gen_get(FA_PRAMIN_GEN_PBUS, &g) == 0);
	SW_CHECK(fa_pramin_gen_reach(NULL) == 0);
	SW_CHECK(fa_pramin_window_init(NULL, &hw, &g, 1 << 20, &a) == -FA_EINVAL);
	SW_CHECK(fa_pramin_window_init(&w, NULL, &g, 1 << 20, &a) == -FA_EINVAL);
	SW_CHECK(fa_pramin_window_init(&w, &nohw, &g, 1 << 20, &a) == -FA_EINVAL);
	SW_CHECK(fa_pramin_window_init(&w, &hw, NULL, 1 << 20, &a) == -FA_EINVAL);
	SW_CHECK(fa_pramin_window_init(&w, &hw, &g, 1 << 20, NULL) == 0);
	SW_CHECK(!fa_pramin_window_base(NULL, &base) && base == 3);
	fa_pramin_window_forget(NULL);
	fa_pramin_window_stats_reset(NULL);
	fa_pramin_window_accessor(NULL, &a);
	fa_pramin_window_accessor(&w, NULL);
	SW_CHECK(fa_pramin_direct_init(NULL, mem, 0, 64, &a) == -FA_EINVAL);
	SW_CHECK(fa_pramin_direct_init(&d, NULL, 0, 64, &a) == -FA_EINVAL);
	SW_CHECK(fa_pramin_direct_init(&d, mem, 0, 64, NULL) == 0);
	fa_pramin_direct_accessor(NULL, &a);
	fa_pramin_direct_accessor(&d, NULL);
	SW_CHECK(fa_pramin_rd32(NULL, 0, &v) == -FA_EINVAL);
	SW_CHECK(fa_pramin_rd32(&none, 0, &v) == -FA_EINVAL);
	SW_CHECK(fa_pramin_flush(NULL) == -FA_EINVAL);
	SW_CHECK(fa_pramin_wr64(NULL, 0, 0, FA_PRAMIN_ORDER_ANY) == -FA_EINVAL);
	SW_CHECK(fa_pramin_fill32(NULL, 0, 0, 1) == -FA_EINVAL);
	SW_CHECK(fa_pramin_fill64(NULL, 0, 0, 0, 1, FA_PRAMIN_ORDER_ANY) == -FA_EINVAL);
	SW_CHECK(fa_pramin_copy64(NULL, 0, mem, 1, FA_PRAMIN_ORDER_ANY) == -FA_EINVAL);
	fa_pramin_window_accessor(&w, &a);
	SW_CHECK(fa_pramin_rd32(&a, 0, NULL) == -FA_EINVAL);
	SW_CHECK(fa_pramin_rd64(&a, 0, NULL) == -FA_EINVAL);
	SW_CHECK(fa_pramin_copy64(&a, 0, NULL, 1, FA_PRAMIN_ORDER_ANY) == -FA_EINVAL);
	fa_pramin_direct_accessor(&d, &a);
	SW_CHECK(fa_pramin_rd32(&a, 0, NULL) == -FA_EINVAL);
	SW_CHECK(fa_pramin_rd64(&a, 0, NULL) == -FA_EINVAL);
	SW_CHECK(fa_pramin_copy64(&a, 0, NULL, 1, FA_PRAMIN_ORDER_ANY) == -FA_EINVAL);
}

/* -------------------------------------------------------- pt, pt_formats */
static const struct fa_pt_format *sw_fmt(unsigned int i)
{
	return i == 0 ? fa_pt_format_nv_ver2() : i == 1 ? fa_pt_format_nv_ver3() : fa_pt_format_x86_64();
}

static void pt_formats_grid(void)
{
	unsigned int i, l, j;
	uint64_t sub[2] = { 0x1000, 0x2000 }, raw[2];
	struct fa_pt_entry e;
	struct fa_pt_format bad;

	for (i = 0; i < 3; i++) {
		const struct fa_pt_format *f = sw_fmt(i);

		SW_CHECK(fa_pt_format_validate(f) == 0);
		for (l = 0; l < f->nlevels; l++) {
			(void)fa_pt_level_entries(f, l);
			(void)fa_pt_level_bytes(f, l);
			for (j = 0; j < NU64; j++) {
				raw[0] = fa_pt_pte_encode(f, l, U64S[j], UINTS[j % NUINT]);
				raw[1] = U64S[(j + 5) % NU64];
				fa_pt_entry_decode(f, l, raw, &e);
				sub[0] = U64S[j];
				fa_pt_pde_encode(f, l, sub, UINTS[j % NUINT], UINTS[j % NUINT], raw);
				fa_pt_entry_decode(f, l, raw, &e);
			}
		}
		for (j = 0; j < NU64; j++) {
			for (l = 0; l < NUINT; l++)
				(void)fa_pt_pa_ok(f, U64S[j], UINTS[l], UINTS[(l + j) % NUINT]);
			(void)fa_pt_page_index(f, U64S[j]);
		}
		/* every byte of the descriptor corrupted: validate refuses or accepts, never UB */
		for (j = 0; j < sizeof(bad); j++) {
			memcpy(&bad, f, sizeof(bad));
			((unsigned char *)&bad)[j] ^= 0xFF;
			(void)fa_pt_format_validate(&bad);
			((unsigned char *)&bad)[j] = 0x80;
			(void)fa_pt_format_validate(&bad);
		}
	}
	SW_CHECK(fa_pt_format_validate(NULL) == -FA_EINVAL);
}

static void a_pt_level_entries(void) { (void)fa_pt_level_entries(NULL, 0); }
static void a_pt_level_range(void) { (void)fa_pt_level_bytes(fa_pt_format_nv_ver2(), 99); }
static void a_pt_pte_encode(void) { (void)fa_pt_pte_encode(NULL, 0, 0, 0); }
static void a_pt_pde_encode(void) { uint64_t s[2] = { 0, 0 }; fa_pt_pde_encode(fa_pt_format_nv_ver2(), 0, s, 1, 0, NULL); }
static void a_pt_decode(void) { struct fa_pt_entry e; fa_pt_entry_decode(fa_pt_format_nv_ver2(), 0, NULL, &e); }
static void a_pt_decode_level(void) { uint64_t r[2] = { 0, 0 }; struct fa_pt_entry e; fa_pt_entry_decode(fa_pt_format_nv_ver2(), 8, r, &e); }
static void a_pt_pa_ok(void) { (void)fa_pt_pa_ok(NULL, 0, 12, 0); }
static void a_pt_page_index(void) { (void)fa_pt_page_index(NULL, 4096); }

static void pt_grid(void)
{
	static struct pt_vram v;
	struct fa_pt pt;
	struct fa_pt_estimate est;
	struct fa_pt_xlate x;
	struct fa_pt_stats st;
	static uint64_t pages[512];
	unsigned int i, j, k, fi;

	for (fi = 0; fi < 3; fi++) {
		const struct fa_pt_format *f = sw_fmt(fi);

		pt_vram_init(&v, 16ull << 20);
		SW_CHECK(pt_tree_init(&pt, &v, f) == 0);
		for (i = 0; i < NU64; i++)
			for (j = 0; j < NU64; j++)
				for (k = 0; k < NU64; k += 5) {
					uint64_t va = U64S[i], size = U64S[j], ps = U64S[k];

					(void)fa_pt_estimate_static(f, va, size, ps, &est);
					(void)fa_pt_estimate(&pt, va, size, ps, &est);
					if (size > (2ull << 20))
						size = ps; /* keep the tree small */
					if (fa_pt_ref(&pt, va, size, ps, FA_GFP_KERNEL) == 0) {
						(void)fa_pt_map(&pt, va, size, ps, U64S[k], 0);
						if (size / (ps ? ps : 1) <= 512)
							(void)fa_pt_map_pages(&pt, va, size, ps, pages, 0);
						(void)fa_pt_sparse(&pt, va, size, ps);
						/* overlapping: the same range again, then half of it */
						if (fa_pt_ref(&pt, va, size, ps, FA_GFP_KERNEL) == 0)
							SW_CHECK(fa_pt_unref(&pt, va, size, ps, 1) == 0);
						(void)fa_pt_unmap(&pt, va, size, ps);
						SW_CHECK(fa_pt_unref(&pt, va, size, ps, 1) == 0);
					} else {
						(void)fa_pt_map(&pt, va, size, ps, 0, 0);
						(void)fa_pt_unmap(&pt, va, size, ps);
						(void)fa_pt_unref(&pt, va, size, ps, 1);
					}
					(void)fa_pt_translate(&pt, va, &x);
					(void)fa_pt_walk(f, &v.acc, fa_pt_root_addr(&pt), va, &x);
				}
		for (i = 0; i < f->nlevels; i++)
			(void)fa_pt_estimate_tables_of_size(f, &est, fa_pt_node_bytes(f, i));
		(void)fa_pt_reclaim(&pt, ~0ull); /* before epoch 1 (wrap-safe): nothing */
		(void)fa_pt_reclaim(&pt, 1);
		SW_CHECK(fa_pt_pending(&pt) == 0);
		fa_pt_get_stats(&pt, &st);
		SW_CHECK(pt_tree_teardown(&pt, &v) == 0);
		/* after fini every call refuses */
		SW_CHECK(fa_pt_ref(&pt, 0, 4096, 4096, FA_GFP_KERNEL) == -FA_EINVAL);
		SW_CHECK(fa_pt_fini(&pt) == -FA_EINVAL);
		pt_vram_destroy(&v);
	}
}

static void pt_null(void)
{
	static struct pt_vram v;
	struct fa_pt pt;
	struct fa_pt_config cfg;
	struct fa_pt_estimate est;
	struct fa_pt_xlate x;
	struct fa_pt_table_alloc ta = { pt_table_alloc_cb, pt_table_free_cb, &v };
	struct fa_reserve_source rs = { pt_shadow_alloc_cb, pt_shadow_free_cb, &v };
	const struct fa_pt_format *f = fa_pt_format_nv_ver2();

	pt_vram_init(&v, 4ull << 20);
	fa_pt_config_init(NULL, f, &v.acc, &ta, &rs);
	fa_pt_config_init(&cfg, f, &v.acc, NULL, &rs);
	fa_pt_config_init(&cfg, f, &v.acc, &ta, NULL);
	fa_pt_config_init(&cfg, NULL, NULL, &ta, &rs);
	SW_CHECK(fa_pt_init(&pt, &cfg, FA_GFP_KERNEL) == -FA_EINVAL);
	SW_CHECK(fa_pt_init(NULL, &cfg, FA_GFP_KERNEL) == -FA_EINVAL);
	SW_CHECK(fa_pt_init(&pt, NULL, FA_GFP_KERNEL) == -FA_EINVAL);
	fa_pt_config_init(&cfg, f, NULL, &ta, &rs);
	SW_CHECK(fa_pt_init(&pt, &cfg, FA_GFP_KERNEL) == -FA_EINVAL);
	SW_CHECK(fa_pt_ref(NULL, 0, 4096, 4096, FA_GFP_KERNEL) == -FA_EINVAL);
	SW_CHECK(fa_pt_map(NULL, 0, 4096, 4096, 0, 0) == -FA_EINVAL);
	SW_CHECK(fa_pt_map_pages(NULL, 0, 4096, 4096, NULL, 0) == -FA_EINVAL);
	SW_CHECK(fa_pt_unmap(NULL, 0, 4096, 4096) == -FA_EINVAL);
	SW_CHECK(fa_pt_sparse(NULL, 0, 4096, 4096) == -FA_EINVAL);
	SW_CHECK(fa_pt_unref(NULL, 0, 4096, 4096, 0) == -FA_EINVAL);
	SW_CHECK(fa_pt_reclaim(NULL, 0) == 0);
	SW_CHECK(fa_pt_pending(NULL) == 0);
	SW_CHECK(fa_pt_fini(NULL) == -FA_EINVAL);
	SW_CHECK(fa_pt_root_addr(NULL) == 0);
	SW_CHECK(fa_pt_estimate(NULL, 0, 4096, 4096, &est) == -FA_EINVAL);
	SW_CHECK(fa_pt_estimate_static(NULL, 0, 4096, 4096, &est) == -FA_EINVAL);
	SW_CHECK(fa_pt_estimate_static(f, 0, 4096, 4096, NULL) == -FA_EINVAL);
	SW_CHECK(fa_pt_estimate_tables_of_size(NULL, &est, 4096) == 0);
	SW_CHECK(fa_pt_estimate_tables_of_size(f, NULL, 4096) == 0);
	SW_CHECK(fa_pt_node_bytes(NULL, 0) == 0 && fa_pt_node_bytes(f, 99) == 0);
	SW_CHECK(fa_pt_translate(NULL, 0, &x) == -FA_EINVAL);
	SW_CHECK(fa_pt_walk(NULL, &v.acc, 0, 0, &x) == -FA_EINVAL);
	SW_CHECK(fa_pt_walk(f, NULL, 0, 0, &x) == -FA_EINVAL);
	SW_CHECK(fa_pt_walk(f, &v.acc, 0, 0, NULL) == -FA_EINVAL);
	fa_pt_get_stats(NULL, NULL);
	fa_pt_config_init(&cfg, f, &v.acc, &ta, &rs);
	SW_CHECK(fa_pt_init(&pt, &cfg, FA_GFP_KERNEL) == 0);
	SW_CHECK(fa_pt_map_pages(&pt, 0, 4096, 4096, NULL, 0) == -FA_EINVAL);
	SW_CHECK(fa_pt_estimate(&pt, 0, 4096, 4096, NULL) == -FA_EINVAL);
	SW_CHECK(fa_pt_translate(&pt, 0, NULL) == -FA_EINVAL);
	fa_pt_get_stats(&pt, NULL);
	SW_CHECK(pt_tree_teardown(&pt, &v) == 0);
	pt_vram_destroy(&v);
}

/* ------------------------------------------------------------ signalling */
static unsigned long sw_reports;
static void sw_report(const struct fa_signalling_report *r, void *arg)
{
	(void)r;
	(void)arg;
	sw_reports++;
}

/* NULL maps and out-of-order annotations: reported (or ignored), never a crash. */
static void signalling_null_and_misuse(void)
{
	static FA_SIGNALLING_DEFINE_CLASS(sw_cls);
	static struct fa_signalling_map m;
	fa_signalling_cookie_t c;

	fa_signalling_set_report_fn(sw_report, NULL);
	fa_signalling_map_init(&m, &sw_cls);
	fa_signalling_map_init(NULL, &sw_cls);
	fa_signalling_acquire(NULL);
	fa_signalling_acquire_shared(NULL);
	(void)fa_signalling_trylock(NULL);
	fa_signalling_acquire_nested(NULL, 3);
	fa_signalling_release(NULL);
	fa_signalling_might_lock(NULL);
	fa_signalling_assert_held(NULL);
	fa_signalling_acquire_nest_lock(&m, NULL);
	fa_signalling_release(&m);           /* never acquired */
	fa_signalling_release(&m);
	fa_signalling_end((fa_signalling_cookie_t)~0ul); /* a cookie never begun */
	c = fa_signalling_begin();
	fa_signalling_end(c);
	fa_signalling_end(c);                /* twice */
	fa_signalling_reclaim_leave();       /* without enter */
	fa_signalling_mmu_notifier_leave();
	fa_signalling_fault_leave();
	fa_signalling_might_alloc(~(fa_gfp_t)0);
	fa_signalling_prime_taken_in_reclaim(NULL);
	fa_signalling_prime_taken_in_mmu_notifier(NULL);
	SW_CHECK(sw_reports > 0 && fa_signalling_report_count() > 0); /* the validator is on */
	fa_signalling_set_report_fn(NULL, NULL);
	fa_signalling_reset();
}

/* ----------------------------------------------------------------- table */
enum sw_expect { SW_RETURN, SW_ASSERT };
struct sw_case {
	const char *name;
	void (*fn)(void);
	enum sw_expect expect;
};

#define R(n, f) { n, f, SW_RETURN }
#define A(n, f) { n, f, SW_ASSERT }
static const struct sw_case sw_cases[] = {
	R("base/values-zero-max-wrap", base_values),
	R("base/lists-overlap", base_lists_overlap),
	A("base/add_overflow-null", a_add_overflow),
	A("base/mul_overflow-null", a_mul_overflow),
	A("base/align_up-null", a_align_up),
	A("base/align_down-not-pow2", a_align_down),
	A("base/is_aligned-zero", a_is_aligned),
	A("base/list_init-null", a_list_init),
	A("base/list_empty-null", a_list_empty),
	A("base/list_add-null-node", a_list_add),
	A("base/list_add-null-head", a_list_add_head),
	A("base/list_add_tail-null", a_list_add_tail),
	A("base/list_del_init-null", a_list_del_init),
	A("base/list_move_tail-null", a_list_move_tail),
	A("base/list_splice_tail_init-null", a_list_splice),
	A("base/list_is_last-null", a_list_is_last),
	A("base/llist_init-null", a_llist_init),
	A("base/llist_empty-null", a_llist_empty),
	A("base/llist_push-null-node", a_llist_push),
	A("base/llist_push-null-head", a_llist_push_head),
	A("base/llist_push_batch-null", a_llist_batch),
	A("base/llist_del_all-null", a_llist_del_all),
	R("buddy/init-zero-max-misaligned-wrap", buddy_init_grid),
	R("buddy/alloc-zero-max-misaligned-wrap", buddy_alloc_grid),
	R("buddy/range-free-trim-overlap", buddy_range_grid),
	R("buddy/null-and-finished", buddy_null),
	R("reserve/zero-max-overlap", reserve_grid),
	R("reserve/null", reserve_null),
	R("deferred/zero-max-wrap", deferred_grid),
	R("deferred/null", deferred_null),
	R("pramin/direct-zero-max-misaligned-wrap", pramin_direct_grid),
	R("pramin/window-descriptors-wrap", pramin_window_grid),
	R("pramin/null", pramin_null),
	R("pt_formats/zero-max-corrupt", pt_formats_grid),
	A("pt_formats/level_entries-null", a_pt_level_entries),
	A("pt_formats/level_bytes-level-range", a_pt_level_range),
	A("pt_formats/pte_encode-null", a_pt_pte_encode),
	A("pt_formats/pde_encode-null", a_pt_pde_encode),
	A("pt_formats/entry_decode-null", a_pt_decode),
	A("pt_formats/entry_decode-level-range", a_pt_decode_level),
	A("pt_formats/pa_ok-null", a_pt_pa_ok),
	A("pt_formats/page_index-null", a_pt_page_index),
	R("pt/zero-max-misaligned-wrap-overlap", pt_grid),
	R("pt/null", pt_null),
	R("signalling/null-and-misuse", signalling_null_and_misuse),
};
#define NCASES (sizeof(sw_cases) / sizeof(sw_cases[0]))

int main(int argc, char **argv)
{
	unsigned int i;

	if (argc == 2 && strcmp(argv[1], "--list") == 0) {
		for (i = 0; i < NCASES; i++)
			printf("%s %s\n", sw_cases[i].name,
			       sw_cases[i].expect == SW_RETURN ? "return" : "assert");
		return 0;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: %s --list | <case>\n", argv[0]);
		return 2;
	}
	for (i = 0; i < NCASES; i++) {
		if (strcmp(argv[1], sw_cases[i].name) == 0) {
			sw_cases[i].fn();
			if (sw_cases[i].expect == SW_ASSERT) {
				fprintf(stderr, "sweep: %s returned; its FA_ASSERT did not fire\n",
					argv[1]);
				return 4;
			}
			return 0;
		}
	}
	fprintf(stderr, "sweep: no case %s\n", argv[1]);
	return 2;
}
