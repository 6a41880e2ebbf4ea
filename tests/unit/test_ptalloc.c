/* SPDX-License-Identifier: MIT */
/*
 * ptalloc.h against a model: random claims, claimed allocations (with every
 * allocator armed to abort, as in the run stage), unclaimed allocations,
 * frees and trims. Checked after every step: tables never overlap, lie in
 * blocks held and are aligned; a block goes back to its source only with no
 * table in it; a table reported zeroed was never handed out since its block
 * came clear from the source; claims are never short; counters match.
 */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include "fa_test.h"
#include "fa_rng.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <fencealloc/ptalloc.h>

#define BLOCK 4096u
#define UNIT 256u
#define SPACE (64u << 20)             /* device space the fake VRAM source hands out */
#define NUNITS (SPACE / UNIT)

struct src {
	uint8_t *held;      /* per block: 1 held by the allocator */
	uint8_t *unit_live; /* per unit: 1 inside a live table */
	uint8_t *written;   /* per unit: handed out since its block came from the source */
	uint64_t next, held_n, allocs, frees;
	int forbidden;      /* "run stage": any source or meta call aborts */
	long fail_in;       /* fail the alloc when it reaches 0 */
	struct fa_rng *rng;
	uint64_t meta_live;
};

static int src_alloc(void *ctx, fa_gfp_t gfp, uint64_t *addr, bool *clear)
{
	struct src *s = (struct src *)ctx;
	uint64_t b, u;

	(void)gfp;
	cr_assert_not(s->forbidden, "block allocated in the run stage");
	if (s->fail_in >= 0 && s->fail_in-- == 0)
		return -FA_ENOSPC;
	for (b = 0; b < SPACE / BLOCK; b++) {
		uint64_t k = (s->next + b) % (SPACE / BLOCK);

		if (!s->held[k]) {
			s->held[k] = 1;
			s->next = k + 1;
			*addr = (uint64_t)k * BLOCK + 0x100000000ull;
			*clear = fa_rng_below(s->rng, 2) == 0;
			for (u = 0; u < BLOCK / UNIT; u++)
				s->written[k * (BLOCK / UNIT) + u] = *clear ? 0 : 1;
			s->held_n++;
			s->allocs++;
			return 0;
		}
	}
	return -FA_ENOSPC;
}

static void src_free(void *ctx, uint64_t addr)
{
	struct src *s = (struct src *)ctx;
	uint64_t k = (addr - 0x100000000ull) / BLOCK, u;

	cr_assert_not(s->forbidden, "block freed in the run stage");
	cr_assert(s->held[k], "block freed twice");
	for (u = 0; u < BLOCK / UNIT; u++)
		cr_assert_not(s->unit_live[k * (BLOCK / UNIT) + u], "block freed with a table in it");
	s->held[k] = 0;
	s->held_n--;
	s->frees++;
}

static void *meta_alloc(void *ctx, size_t size, fa_gfp_t gfp)
{
	struct src *s = (struct src *)ctx;

	(void)gfp;
	cr_assert_not(s->forbidden, "record allocated in the run stage");
	s->meta_live++;
	return malloc(size);
}

static void meta_free(void *ctx, void *p, size_t size)
{
	struct src *s = (struct src *)ctx;

	(void)size;
	cr_assert_not(s->forbidden, "record freed in the run stage");
	s->meta_live--;
	free(p);
}

struct live {
	uint64_t addr, size;
};

static void mark(struct src *s, uint64_t addr, uint64_t size, int live, bool zeroed)
{
	uint64_t u0 = (addr - 0x100000000ull) / UNIT, n = size < UNIT ? 1 : size / UNIT, u;

	cr_assert(s->held[(addr - 0x100000000ull) / BLOCK], "table in a block not held");
	for (u = u0; u < u0 + n; u++) {
		if (live) {
			cr_assert_not(s->unit_live[u], "tables overlap at 0x%llx",
				      (unsigned long long)addr);
			if (zeroed)
				cr_assert_not(s->written[u], "table at 0x%llx reported zeroed but dirty",
					      (unsigned long long)addr);
			s->written[u] = 1;
		} else {
			cr_assert(s->unit_live[u]);
		}
		s->unit_live[u] = (uint8_t)live;
	}
}

static void setup(struct fa_ptalloc *pa, struct src *s, struct fa_rng *r)
{
	struct fa_ptalloc_config cfg;

	memset(s, 0, sizeof(*s));
	s->held = (uint8_t *)calloc(SPACE / BLOCK, 1);
	s->unit_live = (uint8_t *)calloc(NUNITS, 1);
	s->written = (uint8_t *)calloc(NUNITS, 1);
	s->fail_in = -1;
	s->rng = r;
	cfg.block_size = BLOCK;
	cfg.unit_size = UNIT;
	cfg.hash_bits = 4;
	cfg.blocks.alloc = src_alloc;
	cfg.blocks.free = src_free;
	cfg.blocks.ctx = s;
	cfg.meta.alloc = meta_alloc;
	cfg.meta.free = meta_free;
	cfg.meta.ctx = s;
	cr_assert_eq(fa_ptalloc_init(pa, &cfg, FA_GFP_KERNEL), 0);
}

static void teardown(struct fa_ptalloc *pa, struct src *s)
{
	cr_assert_eq(fa_ptalloc_fini(pa), 0);
	cr_assert_eq(s->held_n, 0);
	cr_assert_eq(s->meta_live, 0);
	free(s->held);
	free(s->unit_live);
	free(s->written);
}

Test(ptalloc, packs_small_tables)
{
	struct fa_ptalloc pa;
	struct fa_ptalloc_stats st;
	struct src s;
	struct fa_rng r;
	uint64_t a[64], root;
	unsigned int i;

	fa_rng_seed(&r, 1);
	setup(&pa, &s, &r);
	cr_assert_eq(fa_ptalloc_reserve(&pa, 2, 64, FA_GFP_KERNEL), 0);
	cr_assert_eq(s.held_n, 6, "2 whole + 64 small of 256 B = 6 blocks, got %llu",
		     (unsigned long long)s.held_n);
	s.forbidden = 1;
	for (i = 0; i < 64; i++) {
		cr_assert_geq(fa_ptalloc_alloc_claimed(&pa, UNIT, UNIT, &a[i]), 0);
		mark(&s, a[i], UNIT, 1, false);
	}
	cr_assert_geq(fa_ptalloc_alloc_claimed(&pa, BLOCK, BLOCK, &root), 0);
	cr_assert(fa_is_aligned(root, BLOCK));
	mark(&s, root, BLOCK, 1, false);
	setenv("FA_TEST_QUIET_WARN", "1", 1);
	cr_assert_eq(fa_ptalloc_alloc_claimed(&pa, UNIT, UNIT, &a[0]), -FA_ENOSPC); /* no claim left */
	fa_ptalloc_get_stats(&pa, &st);
	cr_assert_eq(st.short_claims, 1);
	cr_assert_eq(st.table_bytes, 64 * UNIT + BLOCK);
	cr_assert_eq(st.blocks, 6);
	fa_ptalloc_unreserve(&pa, 1, 0);
	for (i = 0; i < 64; i++) {
		mark(&s, a[i], UNIT, 0, false);
		cr_assert_eq(fa_ptalloc_free(&pa, a[i], UNIT), 0);
	}
	mark(&s, root, BLOCK, 0, false);
	cr_assert_eq(fa_ptalloc_free(&pa, root, BLOCK), 0);
	s.forbidden = 0;
	cr_assert_eq(fa_ptalloc_trim(&pa), 6);
	/* a 32-byte root aligned to 4 KiB shares its block with 15 big tables */
	cr_assert_geq(fa_ptalloc_alloc(&pa, 32, BLOCK, FA_GFP_KERNEL, &root), 0);
	cr_assert(fa_is_aligned(root, BLOCK));
	cr_assert_eq(fa_ptalloc_reserve(&pa, 0, 15, FA_GFP_KERNEL), 0);
	cr_assert_eq(s.held_n, 1, "the root's block has room for 15 more");
	for (i = 0; i < 15; i++) {
		cr_assert_geq(fa_ptalloc_alloc_claimed(&pa, UNIT, UNIT, &a[i]), 0);
		cr_assert_eq(a[i] & ~(uint64_t)(BLOCK - 1), root);
	}
	for (i = 0; i < 15; i++)
		cr_assert_eq(fa_ptalloc_free(&pa, a[i], UNIT), 0);
	cr_assert_eq(fa_ptalloc_free(&pa, root, 32), 0);
	cr_assert_eq(fa_ptalloc_free(&pa, root, 32), -FA_EINVAL); /* double free */
	fa_ptalloc_trim(&pa);
	teardown(&pa, &s);
}

Test(ptalloc, reserve_failure_changes_nothing)
{
	struct fa_ptalloc pa;
	struct src s;
	struct fa_rng r;
	long k;

	fa_rng_seed(&r, 2);
	setup(&pa, &s, &r);
	cr_assert_eq(fa_ptalloc_reserve(&pa, 1, 3, FA_GFP_KERNEL), 0);
	for (k = 0; k < 5; k++) {
		uint64_t held = s.held_n, cw = pa.claim_whole, cs = pa.claim_small;

		s.fail_in = k;
		cr_assert_eq(fa_ptalloc_reserve(&pa, 4, 40, FA_GFP_KERNEL), -FA_ENOSPC);
		cr_assert_eq(s.held_n, held);
		cr_assert_eq(pa.claim_whole, cw);
		cr_assert_eq(pa.claim_small, cs);
	}
	s.fail_in = -1;
	fa_ptalloc_unreserve(&pa, 1, 3);
	fa_ptalloc_trim(&pa);
	teardown(&pa, &s);
}

/* Random jobs: claim at "submit", allocate against the claim at "run" with
 * every allocator forbidden, give back the rest, free tables later (cleanup),
 * interleaved with unclaimed allocations. */
Test(ptalloc, random_against_model, .timeout = 60)
{
	struct fa_ptalloc pa;
	struct fa_ptalloc_stats st;
	struct src s;
	struct fa_rng r;
	struct live *lv = (struct live *)malloc(sizeof(*lv) * 20000);
	struct { uint64_t w, s; } jobs[16];
	unsigned int njobs = 0;
	uint64_t nlive = 0, step, bytes = 0;

	fa_rng_seed(&r, fa_test_seed(0x9a11));
	setup(&pa, &s, &r);
	for (step = 0; step < 20000; step++) {
		unsigned int op = (unsigned int)fa_rng_below(&r, 10);

		if (op < 3 && njobs < 16) { /* submit */
			jobs[njobs].w = fa_rng_below(&r, 4);
			jobs[njobs].s = fa_rng_below(&r, 40);
			if (fa_ptalloc_reserve(&pa, jobs[njobs].w, jobs[njobs].s, FA_GFP_KERNEL) == 0)
				njobs++;
		} else if (op < 6 && njobs) { /* run the oldest job */
			uint64_t use_w = fa_rng_below(&r, jobs[0].w + 1), use_s = fa_rng_below(&r, jobs[0].s + 1), k;

			s.forbidden = 1;
			for (k = 0; k < use_w + use_s && nlive < 20000; k++) {
				uint64_t sz = k < use_w ? BLOCK : UNIT, a;
				int rc = fa_ptalloc_alloc_claimed(&pa, sz, sz, &a);

				cr_assert_geq(rc, 0, "claimed alloc failed: %d", rc);
				cr_assert(fa_is_aligned(a, sz));
				mark(&s, a, sz, 1, rc == FA_PTALLOC_ZEROED);
				lv[nlive].addr = a;
				lv[nlive++].size = sz;
				bytes += sz;
				if (k < use_w)
					jobs[0].w--;
				else
					jobs[0].s--;
			}
			fa_ptalloc_unreserve(&pa, jobs[0].w, jobs[0].s);
			s.forbidden = 0;
			memmove(&jobs[0], &jobs[1], sizeof(jobs[0]) * (--njobs));
		} else if (op < 8 && nlive) { /* cleanup: free a random table */
			uint64_t k = fa_rng_below(&r, nlive);

			s.forbidden = 1; /* free gives nothing back itself */
			mark(&s, lv[k].addr, lv[k].size, 0, false);
			cr_assert_eq(fa_ptalloc_free(&pa, lv[k].addr, lv[k].size), 0);
			bytes -= lv[k].size;
			lv[k] = lv[--nlive];
			s.forbidden = 0;
			if (fa_rng_below(&r, 4) == 0)
				fa_ptalloc_trim(&pa);
		} else if (op == 8 && nlive < 20000) { /* unclaimed (a root) */
			uint64_t sz = fa_rng_below(&r, 2) ? 32 : UNIT, al = fa_rng_below(&r, 2) ? BLOCK : UNIT, a;
			int rc = fa_ptalloc_alloc(&pa, sz, al, FA_GFP_KERNEL, &a);

			cr_assert_geq(rc, 0);
			cr_assert(fa_is_aligned(a, al));
			mark(&s, a, sz, 1, rc == FA_PTALLOC_ZEROED);
			lv[nlive].addr = a;
			lv[nlive++].size = sz;
			bytes += sz;
		}
		fa_ptalloc_get_stats(&pa, &st);
		cr_assert_eq(st.tables, nlive);
		cr_assert_eq(st.table_bytes, bytes);
		cr_assert_eq(st.blocks, s.held_n);
		cr_assert_eq(st.short_claims, 0);
	}
	while (njobs) {
		njobs--;
		fa_ptalloc_unreserve(&pa, jobs[njobs].w, jobs[njobs].s);
	}
	while (nlive) {
		nlive--;
		mark(&s, lv[nlive].addr, lv[nlive].size, 0, false);
		cr_assert_eq(fa_ptalloc_free(&pa, lv[nlive].addr, lv[nlive].size), 0);
	}
	fa_ptalloc_trim(&pa);
	cr_assert_eq(s.held_n, 0);
	fa_ptalloc_get_stats(&pa, &st);
	cr_assert_gt(st.allocs_clear, 0);
	cr_assert_gt(st.allocs_dirty, 0);
	teardown(&pa, &s);
	free(lv);
}

/* ----------------------------------------------- with a page-table tree */

#include <fencealloc/pt.h>
#include "pt_alloc.h"

struct tree_rig {
	struct pt_vram v;
	struct fa_buddy buddy;
	void *storage;
	struct fa_ptalloc pa;
	int claimed;
};

static int rig_blk_alloc(void *ctx, fa_gfp_t gfp, uint64_t *addr, bool *clear)
{
	struct tree_rig *r = (struct tree_rig *)ctx;
	struct fa_buddy_req rq;

	(void)gfp;
	fa_buddy_req_init(&rq, BLOCK);
	rq.flags = FA_BUDDY_CLEAR;
	return fa_buddy_alloc_req(&r->buddy, &rq, addr, clear) ? -FA_ENOSPC : 0;
}

static void rig_blk_free(void *ctx, uint64_t addr)
{
	struct tree_rig *r = (struct tree_rig *)ctx;

	cr_assert_eq(fa_buddy_free(&r->buddy, addr, BLOCK), 0);
}

static void *rig_meta_alloc(void *ctx, size_t size, fa_gfp_t gfp)
{
	(void)ctx;
	(void)gfp;
	return malloc(size);
}

static void rig_meta_free(void *ctx, void *p, size_t size)
{
	(void)ctx;
	(void)size;
	free(p);
}

static int rig_table_alloc(void *ctx, uint64_t size, uint64_t align, fa_gfp_t gfp, uint64_t *addr)
{
	struct tree_rig *r = (struct tree_rig *)ctx;

	return r->claimed ? fa_ptalloc_alloc_claimed(&r->pa, size, align, addr) :
			    fa_ptalloc_alloc(&r->pa, size, align, gfp, addr);
}

static void rig_table_free(void *ctx, uint64_t addr, uint64_t size)
{
	struct tree_rig *r = (struct tree_rig *)ctx;

	cr_assert_eq(fa_ptalloc_free(&r->pa, addr, size), 0);
}

/* Tables on clear memory are not filled (the invalid entry is 0); after they
 * were used and freed they are dirty and are filled again; either way every
 * unmapped address of them reads invalid. 64 KiB pages pack 16 big tables a block. */
Test(ptalloc, tree_skips_filling_clear_tables)
{
	static struct tree_rig r;
	struct fa_ptalloc_config cfg;
	struct fa_pt_table_alloc ta;
	struct fa_reserve_source rs;
	struct fa_pt_config pc;
	struct fa_pt pt;
	struct fa_pt_stats st;
	struct fa_pt_estimate est;
	struct fa_pt_xlate x;
	struct fa_ptalloc_stats ps;
	uint64_t need, va = 1ull << 32, size = 64ull << 20, pass, small;

	pt_vram_init(&r.v, 16 << 20);
	memset(r.v.mem, 0, r.v.size);
	need = fa_buddy_storage_size(r.v.size, BLOCK);
	r.storage = malloc(need);
	cr_assert_eq(fa_buddy_init(&r.buddy, r.storage, (size_t)need, r.v.base, r.v.size, BLOCK), 0);
	fa_buddy_reset_clear(&r.buddy, true);
	cfg.block_size = BLOCK;
	cfg.unit_size = UNIT;
	cfg.hash_bits = 5;
	cfg.blocks.alloc = rig_blk_alloc;
	cfg.blocks.free = rig_blk_free;
	cfg.blocks.ctx = &r;
	cfg.meta.alloc = rig_meta_alloc;
	cfg.meta.free = rig_meta_free;
	cfg.meta.ctx = NULL;
	cr_assert_eq(fa_ptalloc_init(&r.pa, &cfg, FA_GFP_KERNEL), 0);
	ta.alloc = rig_table_alloc;
	ta.free = rig_table_free;
	ta.ctx = &r;
	rs.alloc = pt_shadow_alloc_cb;
	rs.free = pt_shadow_free_cb;
	rs.ctx = &r.v;
	fa_pt_config_init(&pc, fa_pt_format_nv_ver2(), &r.v.acc, &ta, &rs);
	cr_assert_eq(fa_pt_init(&pt, &pc, FA_GFP_KERNEL), 0);
	for (pass = 0; pass < 2; pass++) {
		struct fa_pt_stats st0;

		fa_pt_get_stats(&pt, &st0);
		cr_assert_eq(fa_pt_estimate(&pt, va, size, 1u << 16, &est), 0);
		small = fa_pt_estimate_tables_of_size(pt.fmt, &est, 256);
		cr_assert_eq(small, 32);
		cr_assert_eq(fa_ptalloc_reserve(&r.pa, est.total - small, small, FA_GFP_KERNEL), 0);
		r.claimed = 1;
		cr_assert_eq(fa_pt_ref(&pt, va, size, 1u << 16, FA_GFP_NOWAIT), 0);
		r.claimed = 0;
		fa_pt_get_stats(&pt, &st);
		if (pass == 0) {
			cr_assert_eq(st.fills_skipped - st0.fills_skipped, est.total);
			cr_assert_eq(st.tables_filled - st0.tables_filled, 0);
		} else {
			cr_assert_eq(st.tables_filled - st0.tables_filled, est.total, "dirty tables filled");
		}
		fa_ptalloc_get_stats(&r.pa, &ps);
		/* 32 big tables in 2 shared blocks (one also holds the root) + PD0, PD1, PD2 */
		cr_assert_leq(ps.blocks, 1 + 2 + 3);
		cr_assert_eq(fa_pt_translate(&pt, va + 0x12345, &x), -FA_ENOENT);
		cr_assert_eq(fa_pt_map(&pt, va, size / 2, 1u << 16, 0x200000000ull, FA_PT_APER_VRAM), 0);
		cr_assert_eq(fa_pt_translate(&pt, va + size / 2 + 0x12345, &x), -FA_ENOENT);
		cr_assert_eq(fa_pt_translate(&pt, va + 0x12345, &x), 0);
		cr_assert_eq(x.pa, 0x200000000ull + 0x12345);
		cr_assert_eq(fa_pt_unmap(&pt, va, size / 2, 1u << 16), 0);
		cr_assert_eq(fa_pt_unref(&pt, va, size, 1u << 16, 1), 0);
		cr_assert_eq(fa_pt_reclaim(&pt, 1), est.total);
		fa_ptalloc_get_stats(&r.pa, &ps);
		cr_assert_eq(ps.tables, 1); /* the root */
	}
	cr_assert_eq(pt_tree_teardown(&pt, &r.v), 0);
	fa_ptalloc_trim(&r.pa);
	cr_assert_eq(fa_ptalloc_fini(&r.pa), 0);
	cr_assert_eq(fa_buddy_avail(&r.buddy), r.v.size);
	fa_buddy_fini(&r.buddy);
	free(r.storage);
	pt_vram_destroy(&r.v);
}

/* The two-step claim: deficit read, blocks taken outside the lock, commit;
 * claimed allocations in between never make the deficit insufficient. */
Test(ptalloc, two_step_claim_survives_run_activity)
{
	struct fa_ptalloc pa;
	struct fa_ptalloc_batch batch;
	struct src s;
	struct fa_rng r;
	uint64_t a[64], sz[64], k, n = 0, round;

	fa_rng_seed(&r, fa_test_seed(0x2575));
	setup(&pa, &s, &r);
	for (round = 0; round < 2000; round++) {
		uint64_t w = fa_rng_below(&r, 3), sm = fa_rng_below(&r, 20), d, use;

		d = fa_ptalloc_deficit(&pa, w, sm);
		cr_assert_eq(fa_ptalloc_batch_fill(&pa, &batch, d, FA_GFP_KERNEL), 0);
		/* a run stage of an earlier job consumes its claims meanwhile */
		use = fa_rng_below(&r, 6);
		s.forbidden = 1;
		for (k = 0; k < use && n < 64 && (pa.claim_small || pa.claim_whole); k++) {
			sz[n] = pa.claim_small && (fa_rng_below(&r, 2) || !pa.claim_whole) ? UNIT : BLOCK;
			cr_assert_geq(fa_ptalloc_alloc_claimed(&pa, sz[n], sz[n], &a[n]), 0);
			mark(&s, a[n], sz[n], 1, false);
			n++;
		}
		s.forbidden = 0;
		cr_assert_eq(fa_ptalloc_commit(&pa, &batch, w, sm), 0, "round %llu",
			     (unsigned long long)round);
		while (n > 32 || (n && fa_rng_below(&r, 3) == 0)) { /* cleanup */
			n--;
			mark(&s, a[n], sz[n], 0, false);
			cr_assert_eq(fa_ptalloc_free(&pa, a[n], sz[n]), 0);
		}
		if (fa_rng_below(&r, 3) == 0)
			fa_ptalloc_trim(&pa);
	}
	while (n) {
		n--;
		mark(&s, a[n], sz[n], 0, false);
		cr_assert_eq(fa_ptalloc_free(&pa, a[n], sz[n]), 0);
	}
	fa_ptalloc_unreserve(&pa, pa.claim_whole, pa.claim_small);
	/* a batch given back leaves nothing */
	cr_assert_eq(fa_ptalloc_batch_fill(&pa, &batch, 3, FA_GFP_KERNEL), 0);
	fa_ptalloc_batch_release(&pa, &batch);
	s.fail_in = 1;
	cr_assert_eq(fa_ptalloc_batch_fill(&pa, &batch, 3, FA_GFP_KERNEL), -FA_ENOSPC);
	cr_assert_eq(batch.n, 0);
	s.fail_in = -1;
	fa_ptalloc_trim(&pa);
	teardown(&pa, &s);
}
