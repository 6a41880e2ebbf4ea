/* SPDX-License-Identifier: MIT */
/*
 * Page-table tree: model-based randomized ref/map/unmap/unref/reclaim per
 * built-in format (translate agrees with the model, shadow refcounts and
 * child links agree with raw table memory, no table freed while referenced,
 * every table back with the allocator at the end), fence safety (no
 * allocator call inside map/unmap), fault injection at every allocation of
 * ref, exact and static estimates, bad input, huge and dual pages, accessor
 * write ordering and batching.
 */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include "fa_test.h"
#include "fa_rng.h"

#include <criterion/criterion.h>
#include <string.h>

#include <fencealloc/pt.h>

#include "pt_model.h"

#define SZ_4K (1ull << 12)
#define SZ_64K (1ull << 16)
#define SZ_2M (1ull << 21)
#define SZ_1G (1ull << 30)
#define SZ_512M (1ull << 29)

struct env {
	struct pt_vram v;
	struct fa_pt pt;
	struct pt_model m;
	struct fa_rng r;
	uint64_t epoch;     /* epoch of the next TLB invalidate */
	uint64_t completed; /* last completed epoch */
	unsigned long warns;
	/* outcome counters: the run must exercise every path */
	unsigned long refs_ok, refs_busy, maps_ok, maps_bad, unrefs_ok, released, reclaimed;
	unsigned long huge_maps, dual_both, sparsed, ref_maps, unmap_unrefs;
};

static void env_init(struct env *e, const struct fa_pt_format *f, uint64_t base, uint64_t size,
		     uint64_t vram, uint64_t seed, int buddy)
{
	pt_vram_init(&e->v, vram);
	if (buddy)
		pt_vram_use_buddy(&e->v);
	cr_assert_eq(pt_tree_init(&e->pt, &e->v, f), 0);
	pt_model_init(&e->m, f, base, size);
	fa_rng_seed(&e->r, seed);
	e->epoch = 1;
	e->completed = 0;
}

static void env_destroy(struct env *e)
{
	pt_model_destroy(&e->m);
	pt_vram_destroy(&e->v);
}

/* Window per format: straddles a root-entry boundary so every level is used. */
static void window_of(const struct fa_pt_format *f, uint64_t *base, uint64_t *size)
{
	unsigned int top = f->level[0].shift;
	uint64_t big = FA_BIT64(f->page[f->npages - 1].shift);

	*base = FA_BIT64(top) - big;
	*size = 2 * big;
}

static uint64_t rnd(struct env *e, uint64_t n)
{
	return fa_rng_below(&e->r, n);
}

/* A random page-aligned range inside the window, biased to collide. */
static void random_range(struct env *e, unsigned int *pp, uint64_t *va, uint64_t *end)
{
	const struct fa_pt_format *f = e->m.f;
	unsigned int p = (unsigned int)rnd(e, f->npages);
	uint64_t ps = FA_BIT64(f->page[p].shift);
	uint64_t big = FA_BIT64(f->page[f->npages - 1].shift);
	uint64_t nbig = e->m.size / big, n, lim = e->m.base + e->m.size;
	int64_t off;

	if (ps == big) {
		*va = e->m.base + rnd(e, nbig) * big;
		n = 1 + rnd(e, (lim - *va) / big);
	} else {
		uint64_t cluster = e->m.base + rnd(e, nbig) * big + rnd(e, 4) * (big / 4);

		off = (int64_t)rnd(e, 33) - 16;
		if (off < 0 && (uint64_t)(-off) * ps > cluster - e->m.base)
			off = 0;
		*va = cluster + (uint64_t)off * ps;
		if (*va >= lim)
			*va = lim - ps;
		n = 1 + (rnd(e, 8) == 0 ? rnd(e, 700) : rnd(e, 8));
	}
	if (*va + n * ps > lim)
		n = (lim - *va) / ps;
	*end = *va + n * ps;
	*pp = p;
}

static uint32_t random_attr(struct env *e)
{
	uint32_t a = (uint32_t)fa_rng_next(&e->r) & e->m.f->pte_attr_mask;

	a &= ~(uint32_t)FA_PT_APER_MASK;
	a &= ~FA_PT_PEER_MASK;
	return a | (rnd(e, 2) ? FA_PT_APER_VRAM : FA_PT_APER_SYS_COH);
}

static void check_sample(struct env *e, uint64_t va, uint64_t end)
{
	int i;

	e->v.forbidden = 1;
	for (i = 0; i < 4; i++) {
		pt_model_check_va(&e->m, &e->pt, va + rnd(e, end - va));
		pt_model_check_va(&e->m, &e->pt, e->m.base + rnd(e, e->m.size));
	}
	pt_model_check_va(&e->m, &e->pt, va);
	pt_model_check_va(&e->m, &e->pt, end - 1);
	e->v.forbidden = 0;
}

static void do_ref(struct env *e, unsigned int p, uint64_t va, uint64_t end)
{
	const struct fa_pt_format *f = e->m.f;
	uint64_t ps = FA_BIT64(f->page[p].shift);
	struct fa_pt_estimate est, st;
	uint64_t before[FA_PT_MAX_LEVELS], allocs = e->v.table_allocs, calls;
	int expect = pt_model_ref_result(&e->m, p, va, end), rc;
	unsigned int l;

	cr_assert_eq(fa_pt_estimate(&e->pt, va, end - va, ps, &est), 0);
	cr_assert_eq(fa_pt_estimate_static(f, va, end - va, ps, &st), 0);
	for (l = 0; l < FA_PT_MAX_LEVELS; l++) {
		cr_assert_geq(st.tables[l], est.tables[l]);
		before[l] = e->m.tables[l];
	}
	calls = e->v.calls;
	rc = fa_pt_ref(&e->pt, va, end - va, ps, FA_GFP_KERNEL);
	cr_assert_eq(rc, expect, "%s ref p%u [0x%llx,0x%llx): %d, model %d", f->name, p,
		     (unsigned long long)va, (unsigned long long)end, rc, expect);
	if (rc) {
		cr_assert_eq(e->v.calls, calls, "failed ref called an allocator");
		e->refs_busy += rc == -FA_EBUSY;
		return;
	}
	e->refs_ok++;
	pt_model_ref(&e->m, p, va, end);
	for (l = 0; l < FA_PT_MAX_LEVELS; l++)
		cr_assert_eq(est.tables[l], e->m.tables[l] - before[l],
			     "level %u: estimate %llu, allocated %llu", l,
			     (unsigned long long)est.tables[l],
			     (unsigned long long)(e->m.tables[l] - before[l]));
	cr_assert_eq(e->v.table_allocs - allocs, est.total);
}

static void do_map(struct env *e, unsigned int p, uint64_t va, uint64_t end)
{
	const struct fa_pt_format *f = e->m.f;
	uint64_t ps = FA_BIT64(f->page[p].shift);
	uint64_t pa = (0x123400000ull + rnd(e, 1u << 20) * ps) & ((FA_BIT64(36) - 1) & ~(ps - 1));
	uint32_t attr = random_attr(e);
	int refd = pt_model_all_refd(&e->m, p, va, end), rc;
	unsigned long w = fa_test_warnings();
	uint64_t calls = e->v.calls;

	e->v.forbidden = 1;
	if (rnd(e, 3) == 0) {
		uint64_t n = (end - va) / ps, k, *pages = (uint64_t *)malloc(n * 8);

		e->v.forbidden = 0;
		cr_assert(pages);
		for (k = 0; k < n; k++)
			pages[k] = rnd(e, 2) && k ? pages[k - 1] + ps : pa + rnd(e, 64) * ps;
		e->v.forbidden = 1;
		rc = fa_pt_map_pages(&e->pt, va, end - va, ps, pages, attr);
		e->v.forbidden = 0;
		if (!rc)
			for (k = 0; k < n; k++)
				pt_model_map(&e->m, p, va + k * ps, va + (k + 1) * ps, pages[k], attr);
		free(pages);
	} else {
		rc = fa_pt_map(&e->pt, va, end - va, ps, pa, attr);
		e->v.forbidden = 0;
		if (!rc)
			pt_model_map(&e->m, p, va, end, pa, attr);
	}
	cr_assert_eq(e->v.calls, calls, "map called an allocator");
	if (refd) {
		cr_assert_eq(rc, 0, "%s map p%u: %d", f->name, p, rc);
		cr_assert_eq(fa_test_warnings(), w);
		e->maps_ok++;
		e->huge_maps += f->level[f->page[p].level].nsub != 0;
	} else {
		e->maps_bad++;
		cr_assert_eq(rc, -FA_ENOENT);
		cr_assert_gt(fa_test_warnings(), w, "map of an unreferenced range must warn");
	}
}

/* fa_pt_ref_map(): the ref's result and tables, then the map's PTEs; new
 * tables it covers whole are written without a fill first (this table memory
 * is never reported zeroed, so every fill it skips is one of those). */
static void do_ref_map(struct env *e, unsigned int p, uint64_t va, uint64_t end)
{
	const struct fa_pt_format *f = e->m.f;
	uint64_t ps = FA_BIT64(f->page[p].shift);
	uint64_t pa = (0x123400000ull + rnd(e, 1u << 20) * ps) & ((FA_BIT64(36) - 1) & ~(ps - 1));
	uint64_t before[FA_PT_MAX_LEVELS], allocs = e->v.table_allocs, calls = e->v.calls;
	uint32_t attr = random_attr(e);
	int expect = pt_model_ref_result(&e->m, p, va, end), rc;
	struct fa_pt_estimate est;
	unsigned int l;

	cr_assert_eq(fa_pt_estimate(&e->pt, va, end - va, ps, &est), 0);
	for (l = 0; l < FA_PT_MAX_LEVELS; l++)
		before[l] = e->m.tables[l];
	rc = fa_pt_ref_map(&e->pt, va, end - va, ps, pa, attr, FA_GFP_KERNEL);
	cr_assert_eq(rc, expect, "%s ref_map p%u [0x%llx,0x%llx): %d, model %d", f->name, p,
		     (unsigned long long)va, (unsigned long long)end, rc, expect);
	if (rc) {
		cr_assert_eq(e->v.calls, calls, "failed ref_map called an allocator");
		return;
	}
	e->ref_maps++;
	pt_model_ref(&e->m, p, va, end);
	pt_model_map(&e->m, p, va, end, pa, attr);
	for (l = 0; l < FA_PT_MAX_LEVELS; l++)
		cr_assert_eq(est.tables[l], e->m.tables[l] - before[l]);
	cr_assert_eq(e->v.table_allocs - allocs, est.total);
}

static void do_unmap(struct env *e, unsigned int p, uint64_t va, uint64_t end)
{
	uint64_t ps = FA_BIT64(e->m.f->page[p].shift), calls = e->v.calls;
	int refd = pt_model_all_refd(&e->m, p, va, end), rc;
	unsigned long w = fa_test_warnings();

	e->v.forbidden = 1;
	rc = fa_pt_unmap(&e->pt, va, end - va, ps);
	e->v.forbidden = 0;
	cr_assert_eq(e->v.calls, calls, "unmap called an allocator");
	if (refd) {
		cr_assert_eq(rc, 0);
		pt_model_unmap(&e->m, p, va, end);
		cr_assert_eq(fa_test_warnings(), w);
	} else {
		cr_assert_eq(rc, -FA_ENOENT);
		cr_assert_gt(fa_test_warnings(), w);
	}
}

static void do_sparse(struct env *e, unsigned int p, uint64_t va, uint64_t end)
{
	uint64_t ps = FA_BIT64(e->m.f->page[p].shift), calls = e->v.calls;
	int refd = pt_model_all_refd(&e->m, p, va, end), rc;
	unsigned long w = fa_test_warnings();

	e->v.forbidden = 1;
	rc = fa_pt_sparse(&e->pt, va, end - va, ps);
	e->v.forbidden = 0;
	cr_assert_eq(e->v.calls, calls, "sparse called an allocator");
	if (!e->m.f->sparse_pte) {
		cr_assert_eq(rc, -FA_EOPNOTSUPP);
	} else if (refd) {
		cr_assert_eq(rc, 0);
		pt_model_sparse(&e->m, p, va, end);
		cr_assert_eq(fa_test_warnings(), w);
	} else {
		cr_assert_eq(rc, -FA_ENOENT);
		cr_assert_gt(fa_test_warnings(), w);
	}
}

static void do_unref(struct env *e, unsigned int p, uint64_t va, uint64_t end)
{
	uint64_t ps = FA_BIT64(e->m.f->page[p].shift), calls = e->v.calls;
	int refd = pt_model_all_refd(&e->m, p, va, end), rc;

	if (refd)
		do_unmap(e, p, va, end); /* unmap before unref (the VMM's order) */
	rc = fa_pt_unref(&e->pt, va, end - va, ps, e->epoch);
	cr_assert_eq(e->v.calls, calls, "unref allocated or freed");
	if (!refd) {
		cr_assert_eq(rc, -FA_ENOENT);
		return;
	}
	cr_assert_eq(rc, 0);
	e->unrefs_ok++;
	e->released += pt_model_unref(&e->m, p, va, end, e->epoch);
}

/* fa_pt_unmap_unref(): what do_unref() does with two calls, in one walk. */
static void do_unmap_unref(struct env *e, unsigned int p, uint64_t va, uint64_t end)
{
	uint64_t ps = FA_BIT64(e->m.f->page[p].shift), calls = e->v.calls;
	int refd = pt_model_all_refd(&e->m, p, va, end), rc;
	unsigned long w = fa_test_warnings();

	e->v.forbidden = 1;
	rc = fa_pt_unmap_unref(&e->pt, va, end - va, ps, e->epoch);
	e->v.forbidden = 0;
	cr_assert_eq(e->v.calls, calls, "unmap_unref allocated or freed");
	if (!refd) {
		cr_assert_eq(rc, -FA_ENOENT);
		cr_assert_gt(fa_test_warnings(), w);
		return;
	}
	cr_assert_eq(rc, 0);
	cr_assert_eq(fa_test_warnings(), w);
	pt_model_unmap(&e->m, p, va, end);
	e->unrefs_ok++;
	e->unmap_unrefs++;
	e->released += pt_model_unref(&e->m, p, va, end, e->epoch);
}

static void do_reclaim(struct env *e)
{
	uint64_t want, got, frees = e->v.table_frees;

	e->epoch += rnd(e, 2);
	e->completed += rnd(e, e->epoch - e->completed + 1);
	want = pt_model_reclaim(&e->m, e->completed);
	got = fa_pt_reclaim(&e->pt, e->completed);
	cr_assert_eq(got, want, "reclaim freed %llu, model %llu", (unsigned long long)got,
		     (unsigned long long)want);
	cr_assert_eq(e->v.table_frees - frees, want);
	e->reclaimed += want;
}

struct held {
	unsigned int p;
	uint64_t va, end;
};

static void release_everything(struct env *e)
{
	const struct fa_pt_format *f = e->m.f;
	unsigned int p;
	uint64_t i;

	for (p = 0; p < f->npages; p++)
		for (i = 0; i < e->m.nslot[p]; i++) {
			uint64_t va = e->m.base + (i << f->page[p].shift);

			while (e->m.slot[p][i].refs)
				do_unref(e, p, va, va + FA_BIT64(f->page[p].shift));
		}
	e->epoch++;
	e->completed = e->epoch;
	cr_assert_eq(fa_pt_reclaim(&e->pt, e->completed), pt_model_reclaim(&e->m, e->completed));
	pt_check_tree(&e->v, &e->m, &e->pt);
	/* leak check: only the root is still out */
	cr_assert_eq(e->v.live_tables, 1);
	cr_assert_eq(e->v.live_shadow, 1);
	cr_assert_eq(e->pt.root->used, 0);
	cr_assert_eq(fa_pt_fini(&e->pt), 0);
	cr_assert_eq(e->v.live_tables, 0);
	cr_assert_eq(e->v.live_shadow, 0);
	if (e->v.buddy) {
		cr_assert_eq(fa_buddy_avail(e->v.buddy), e->v.size, "table memory leaked in the buddy");
		cr_assert_eq(fa_buddy_check(e->v.buddy, NULL), 0);
	}
}

static void model_run(const struct fa_pt_format *f, uint64_t seed, unsigned long steps, int buddy)
{
	static struct env e;
	struct held h[48];
	unsigned int nh = 0;
	unsigned long i;
	uint64_t base, size;

	window_of(f, &base, &size);
	env_init(&e, f, base, size, 64ull << 20, seed, buddy);
	for (i = 0; i < steps; i++) {
		unsigned int p, op = (unsigned int)rnd(&e, 100);
		uint64_t va, end;

		random_range(&e, &p, &va, &end);
		if (op < 35) {
			unsigned int before = e.m.slot[p] ? 0 : 1;

			(void)before;
			if (pt_model_ref_result(&e.m, p, va, end) == 0 && nh < 48) {
				h[nh].p = p;
				h[nh].va = va;
				h[nh++].end = end;
			}
			if (rnd(&e, 3) == 0)
				do_ref_map(&e, p, va, end);
			else
				do_ref(&e, p, va, end);
		} else if (op < 60) {
			if (nh && rnd(&e, 3)) {
				struct held *x = &h[rnd(&e, nh)];
				uint64_t ps = FA_BIT64(f->page[x->p].shift);
				uint64_t a = x->va + rnd(&e, (x->end - x->va) / ps) * ps;
				uint64_t b = a + (1 + rnd(&e, (x->end - a) / ps)) * ps;

				p = x->p;
				va = a;
				end = b;
			}
			do_map(&e, p, va, end);
		} else if (op < 64) {
			do_unmap(&e, p, va, end);
		} else if (op < 68) {
			do_sparse(&e, p, va, end);
		} else if (op < 92) {
			if (nh && rnd(&e, 4)) {
				unsigned int k = (unsigned int)rnd(&e, nh);

				p = h[k].p;
				va = h[k].va;
				end = h[k].end;
				h[k] = h[--nh];
			}
			if (rnd(&e, 3) == 0)
				do_unmap_unref(&e, p, va, end);
			else
				do_unref(&e, p, va, end);
		} else {
			do_reclaim(&e);
		}
		check_sample(&e, va, end);
		if ((i & 31) == 0)
			pt_check_tree(&e.v, &e.m, &e.pt);
	}
	pt_check_tree(&e.v, &e.m, &e.pt);
	fprintf(stderr, "%s: refs %lu (busy %lu) maps %lu (huge %lu, rejected %lu) unrefs %lu "
		"released %lu reclaimed %lu ref_maps %lu (tables written whole %llu) unmap_unrefs %lu\n",
		f->name, e.refs_ok, e.refs_busy, e.maps_ok, e.huge_maps, e.maps_bad, e.unrefs_ok,
		e.released, e.reclaimed, e.ref_maps, (unsigned long long)e.pt.stats.fills_skipped,
		e.unmap_unrefs);
	if (steps >= 300) { /* enough steps to demand that every path was taken */
		cr_assert_gt(e.refs_ok, steps / 20);
		cr_assert_gt(e.refs_busy, 0);
		cr_assert_gt(e.maps_ok, steps / 20);
		cr_assert_gt(e.huge_maps, 0);
		cr_assert_gt(e.maps_bad, 0);
		cr_assert_gt(e.released, 0);
		cr_assert_gt(e.reclaimed, 0);
		cr_assert_gt(e.ref_maps, 0);
		cr_assert_gt(e.unmap_unrefs, 0);
		/* x86-64's 512-entry tables under a 1 GiB window: ranges rarely cover one */
		if (f != fa_pt_format_x86_64())
			cr_assert_gt(e.pt.stats.fills_skipped, 0, "no new table was written whole");
	}
	release_everything(&e);
	env_destroy(&e);
}

Test(pt, model_nv_ver2, .timeout = 60)
{
	setenv("FA_TEST_QUIET_WARN", "1", 1);
	model_run(fa_pt_format_nv_ver2(), fa_test_seed(0x9e3779b9u), fa_test_iters(3000), 0);
}

Test(pt, model_nv_ver3, .timeout = 60)
{
	setenv("FA_TEST_QUIET_WARN", "1", 1);
	model_run(fa_pt_format_nv_ver3(), fa_test_seed(0x7f4a7c15u), fa_test_iters(3000), 1);
}

Test(pt, model_x86_64, .timeout = 60)
{
	setenv("FA_TEST_QUIET_WARN", "1", 1);
	model_run(fa_pt_format_x86_64(), fa_test_seed(0x85ebca6bu), fa_test_iters(3000), 0);
}

/* Table memory from fa_buddy (the allocator a driver would use for VRAM). */
Test(pt, model_nv_ver2_over_buddy, .timeout = 60)
{
	setenv("FA_TEST_QUIET_WARN", "1", 1);
	model_run(fa_pt_format_nv_ver2(), fa_test_seed(0xb0dd1e5u), fa_test_iters(3000), 1);
}

/*
 * fa_pt_ref_map() over table memory full of garbage: new PTE tables it
 * covers whole are written once (PTEs, and for a dual entry an invalid
 * small-table half), never filled; after the unmap every page faults (a
 * garbage word left behind would translate), and the raw words read back.
 */
static void ref_map_whole(uint64_t ps, uint64_t tables)
{
	const struct fa_pt_format *f = fa_pt_format_nv_ver2();
	static struct env e;
	uint64_t va = 1ull << 40, size, pa = 1ull << 33, k, n, last_filled;
	struct fa_pt_xlate x;
	struct fa_pt_stats st;
	unsigned int l = f->page[fa_pt_page_index(f, ps)].level;

	size = tables * fa_pt_level_entries(f, l) * ps;
	env_init(&e, f, va, size, 64ull << 20, 1, 0);
	fa_pt_get_stats(&e.pt, &st);
	last_filled = st.tables_filled;
	cr_assert_eq(fa_pt_ref_map(&e.pt, va, size, ps, pa, FA_PT_APER_VRAM, FA_GFP_KERNEL), 0);
	fa_pt_get_stats(&e.pt, &st);
	cr_assert_eq(st.fills_skipped, tables, "every PTE table written whole");
	cr_assert_lt(st.tables_filled - last_filled, 4ull, "only directory tables filled");
	n = size / ps;
	for (k = 0; k < n; k += 1 + n / 61) {
		cr_assert_eq(fa_pt_translate(&e.pt, va + k * ps + 0x123 * 8, &x), 0);
		cr_assert_eq(x.pa, pa + k * ps + 0x123 * 8);
		cr_assert_eq(x.page_shift, fa_ilog2_u64(ps));
	}
	cr_assert_eq(fa_pt_unmap(&e.pt, va, size, ps), 0);
	for (k = 0; k < n; k += 1 + n / 61) {
		/* an invalid entry ends the walk, never a garbage word behind it */
		cr_assert_eq(fa_pt_translate(&e.pt, va + k * ps, &x), -FA_ENOENT,
			     "page %llu does not read invalid", (unsigned long long)k);
		cr_assert_eq(x.type, FA_PT_ENTRY_INVALID);
	}
	cr_assert_eq(fa_pt_unref(&e.pt, va, size, ps, e.epoch), 0);
	cr_assert_gt(fa_pt_reclaim(&e.pt, e.epoch), 0ul);
	cr_assert_eq(fa_pt_fini(&e.pt), 0);
	cr_assert_eq(e.v.live_tables, 0);
	env_destroy(&e);
}

/*
 * Reference counts taken and dropped over whole tables and over ranges
 * with unaligned ends: a table with nothing in it takes a range in one
 * store pass, a table with no slot referenced twice drops one the same way,
 * and the per-slot path does the rest. After every step the shadow (counts,
 * bitmap, used, slots referenced twice) equals the model's per-slot counts
 * and the raw tables agree.
 */
Test(pt, refs_ranges_vs_slots)
{
	static const struct { int ref, map; uint64_t lo, hi; } step[] = {
		{ 1, 0, 0, 1536 },    /* three empty tables, whole */
		{ 1, 0, 100, 1300 },  /* counts of 2: the per-slot path */
		{ 0, 0, 0, 1536 },    /* back to 1 in [100, 1300), 0 elsewhere */
		{ 0, 0, 100, 1300 },  /* no count above 1: one pass, unaligned ends */
		{ 1, 1, 37, 70 },     /* a new table, part of one word */
		{ 1, 1, 5, 600 },     /* partly 2, partly new */
		{ 0, 1, 37, 70 },
		{ 0, 1, 5, 600 },
		{ 1, 1, 512, 1024 },  /* one whole table, mapped */
		{ 1, 0, 500, 1100 },
		{ 0, 1, 512, 1024 },
		{ 0, 0, 500, 1100 },
	};
	const struct fa_pt_format *f = fa_pt_format_nv_ver2();
	static struct env e;
	uint64_t va = 1ull << 40, ps = SZ_4K;
	unsigned int p = fa_pt_page_index(f, ps), k;

	/* the model's window: one page of the biggest size */
	env_init(&e, f, va, FA_BIT64(f->page[f->npages - 1].shift), 64ull << 20, 1, 0);
	for (k = 0; k < sizeof(step) / sizeof(step[0]); k++) {
		uint64_t a = va + step[k].lo * ps, b = va + step[k].hi * ps;

		if (step[k].ref && step[k].map)
			do_ref_map(&e, p, a, b);
		else if (step[k].ref)
			do_ref(&e, p, a, b);
		else if (step[k].map)
			do_unmap_unref(&e, p, a, b);
		else
			do_unref(&e, p, a, b);
		pt_check_tree(&e.v, &e.m, &e.pt);
	}
	cr_assert_eq(e.refs_ok + e.ref_maps, 6ul);
	cr_assert_eq(e.unrefs_ok, 6ul);
	release_everything(&e);
	env_destroy(&e);
}

/*
 * An accessor over reused table memory whose whole-table write (a stepped
 * fill, or a copy for dual entries) fails the n-th time after one word:
 * an old buffer's PTE.
 */
static const struct fa_pramin_ops *stale_inner;
static long stale_fail_in = -1;

static bool stale_fails(void)
{
	return stale_fail_in >= 0 && stale_fail_in-- == 0;
}

static uint64_t stale_word;

/* The failing write leaves the table's first word as the old buffer's PTE. */
static int stale_fill64(void *c, uint64_t addr, uint64_t v, uint64_t step, uint64_t n,
			enum fa_pramin_order o)
{
	if (step && stale_fails()) {
		(void)stale_inner->wr64(c, addr, stale_word, o);
		return -FA_EFAULT;
	}
	return stale_inner->fill64(c, addr, v, step, n, o);
}

static int stale_copy64(void *c, uint64_t addr, const uint64_t *src, uint64_t n,
			enum fa_pramin_order o)
{
	if (stale_fails()) {
		(void)stale_inner->wr64(c, addr, stale_word, o);
		return -FA_EFAULT;
	}
	return stale_inner->copy64(c, addr, src, n, o);
}

/*
 * fa_pt_ref_map() whose write of a new, whole PTE table fails: that table
 * must never become reachable with the old words in it (they would
 * translate to another buffer's memory). Every page of it faults, every
 * other page maps as asked, and fa_pt_unmap() + fa_pt_unref() undo it all.
 */
static void ref_map_whole_write_fails(uint64_t ps, uint64_t tables)
{
	const struct fa_pt_format *f = fa_pt_format_nv_ver2();
	static struct env e;
	static struct fa_pramin_ops ops;
	uint64_t va = 1ull << 40, pa = 1ull << 33, size, per, k, t;
	unsigned int l = f->page[fa_pt_page_index(f, ps)].level;
	struct fa_pt_xlate x;
	unsigned long warned;

	per = fa_pt_level_entries(f, l);
	size = tables * per * ps;
	for (t = 0; t < tables; t++) {
		env_init(&e, f, va, size, 64ull << 20, 1, 0);
		stale_word = fa_pt_pte_encode(f, l, 0x201234000ull, FA_PT_APER_VRAM);
		stale_inner = e.v.acc.ops;
		ops = *e.v.acc.ops;
		ops.fill64 = stale_fill64;
		ops.copy64 = stale_copy64;
		e.v.acc.ops = &ops;
		warned = fa_test_warnings();
		/* one fill per table of 8-byte entries, one copy per 8 dual entries */
		stale_fail_in = (long)(f->level[l].entry_log2 == 3 ? t : t * ((per + 7) / 8));
		cr_assert_eq(fa_pt_ref_map(&e.pt, va, size, ps, pa, FA_PT_APER_VRAM, FA_GFP_KERNEL),
			     -FA_EFAULT);
		stale_fail_in = -1;
		cr_assert_gt(fa_test_warnings(), warned, "a failed table write is warned about");
		for (k = 0; k < tables * per; k++) {
			int rc = fa_pt_translate(&e.pt, va + k * ps, &x);

			if (k / per == t) {
				cr_assert_eq(rc, -FA_ENOENT, "table %llu page %llu reads 0x%llx",
					     (unsigned long long)t, (unsigned long long)k,
					     (unsigned long long)x.pa);
				continue;
			}
			cr_assert_eq(rc, 0);
			cr_assert_eq(x.pa, pa + k * ps);
		}
		cr_assert_eq(fa_pt_unmap(&e.pt, va, size, ps), 0);
		cr_assert_eq(fa_pt_unref(&e.pt, va, size, ps, e.epoch), 0);
		cr_assert_gt(fa_pt_reclaim(&e.pt, e.epoch), 0ul);
		cr_assert_eq(fa_pt_fini(&e.pt), 0);
		cr_assert_eq(e.v.live_tables, 0);
		e.v.acc.ops = stale_inner;
		env_destroy(&e);
	}
}

Test(pt, ref_map_whole_write_fails_4k)
{
	ref_map_whole_write_fails(SZ_4K, 3);
}

Test(pt, ref_map_whole_write_fails_64k)
{
	ref_map_whole_write_fails(SZ_64K, 3);
}

Test(pt, ref_map_whole_write_fails_dual_2m)
{
	ref_map_whole_write_fails(SZ_2M, 2);
}

Test(pt, ref_map_whole_tables_4k)
{
	ref_map_whole(SZ_4K, 3);
}

Test(pt, ref_map_whole_tables_64k)
{
	ref_map_whole(SZ_64K, 5);
}

Test(pt, ref_map_whole_dual_2m)
{
	ref_map_whole(SZ_2M, 2);
}
