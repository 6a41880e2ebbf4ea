/* SPDX-License-Identifier: MIT */
/*
 * Reference VMM (examples/vmm/): the mapping set's split and merge, fences,
 * every bad input at the submit boundary (specific error, nothing changed,
 * nothing leaked), fault injection at every allocation of submit, page-size
 * changes checked through the simulated GPU's MMU walker, a randomized
 * multi-threaded run checked by the walker (suite vmm_mt, run under TSan), and
 * the demo's main loop with assertions on its summary.
 */
#define _GNU_SOURCE /* mkstemp, dup2 */
#include "fa_test.h"

#include <criterion/criterion.h>

#define VMM_DEMO_NO_MAIN
#include "vmm/host/demo.c"

#include "fa_rng.h"
#include "vmm_model.h"

#include <unistd.h>

/* ------------------------------------------------------------ mapping set */

#define SET_NODES 64

struct set_pool {
	struct vmm_va nodes[SET_NODES];
	unsigned int used;
};

static struct vmm_va *set_take(void *ctx)
{
	struct set_pool *p = (struct set_pool *)ctx;

	return p->used < SET_NODES ? &p->nodes[p->used++] : NULL;
}

static struct set_pool g_pool;
static struct vmm_va_alloc g_alloc = { set_take, NULL, &g_pool };
/* Distinct "BOs" for the set tests: only their addresses matter. */
static struct vmm_bo bo_a, bo_b;

static struct vmm_va req_of(uint64_t va, uint64_t size, struct vmm_bo *bo, uint64_t off)
{
	struct vmm_va r;

	memset(&r, 0, sizeof(r));
	r.va = va;
	r.size = size;
	r.bo = bo;
	r.bo_offset = off;
	r.page_shift = 12;
	return r;
}

/* Map and return the number of nodes taken. */
static unsigned int set_map(struct vmm_va_set *s, uint64_t va, uint64_t size, struct vmm_bo *bo,
			    uint64_t off, struct fa_list *retired)
{
	struct vmm_va r = req_of(va, size, bo, off);
	unsigned int before = g_pool.used;

	cr_assert_eq(vmm_va_set_check_map(s, &r), 0);
	cr_assert_not_null(vmm_va_set_map(s, &r, &g_alloc, retired));
	cr_assert(vmm_va_set_valid(s));
	return g_pool.used - before;
}

/* Expect the set to hold exactly @n mappings given as (va, size, bo, offset) quads. */
static void expect_set(struct vmm_va_set *s, unsigned int n, const uint64_t *want,
		       struct vmm_bo *const *bos)
{
	struct vmm_va *v = vmm_va_set_first_from(s, 0);
	unsigned int i;

	cr_assert_eq(s->count, n, "set holds %lu mappings, expected %u", s->count, n);
	for (i = 0; i < n; i++, v = vmm_va_set_next(s, v)) {
		cr_assert_not_null(v);
		cr_assert_eq(v->va, want[3 * i], "mapping %u starts at 0x%llx", i,
			     (unsigned long long)v->va);
		cr_assert_eq(v->size, want[3 * i + 1], "mapping %u size 0x%llx", i,
			     (unsigned long long)v->size);
		cr_assert_eq(v->bo_offset, want[3 * i + 2], "mapping %u offset", i);
		cr_assert_eq(v->bo, bos[i], "mapping %u backing", i);
	}
}

static unsigned int retired_count(struct fa_list *l)
{
	struct fa_list *pos;
	unsigned int n = 0;

	fa_list_for_each(pos, l)
		n++;
	return n;
}

#define K4 0x1000ull

static void set_setup(void)
{
	memset(&g_pool, 0, sizeof(g_pool));
}

TestSuite(vmm_gpuva, .init = set_setup);

Test(vmm_gpuva, map_inside_splits_into_three)
{
	struct vmm_va_set s;
	struct fa_list ret;
	const uint64_t want[] = { 0, 40 * K4, 0, 40 * K4, 20 * K4, 0, 60 * K4, 40 * K4, 60 * K4 };
	struct vmm_bo *const bos[] = { &bo_a, &bo_b, &bo_a };
	struct vmm_va *old;

	vmm_va_set_init(&s);
	fa_list_init(&ret);
	set_map(&s, 0, 100 * K4, &bo_a, 0, &ret);
	cr_assert_eq(set_map(&s, 40 * K4, 20 * K4, &bo_b, 0, &ret), 3u, "new + two remnants");
	expect_set(&s, 3, want, bos);
	cr_assert_eq(retired_count(&ret), 1u);
	old = vmm_va_entry(ret.next);
	cr_assert_eq(old->cut_va, 40 * K4);
	cr_assert_eq(old->cut_size, 20 * K4);
}

Test(vmm_gpuva, map_across_start_and_end)
{
	struct vmm_va_set s;
	struct fa_list ret;
	const uint64_t want1[] = { 0, 60 * K4, 0, 60 * K4, 40 * K4, 20 * K4 };
	struct vmm_bo *const bos1[] = { &bo_b, &bo_a };
	const uint64_t want2[] = { 0, 30 * K4, 0, 30 * K4, 70 * K4, 7 * K4 };
	struct vmm_bo *const bos2[] = { &bo_b, &bo_a };

	vmm_va_set_init(&s);
	fa_list_init(&ret);
	set_map(&s, 40 * K4, 60 * K4, &bo_a, 0, &ret);
	/* Across the start of [40, 100): the tail survives with its offset moved. */
	cr_assert_eq(set_map(&s, 0, 60 * K4, &bo_b, 0, &ret), 2u);
	expect_set(&s, 2, want1, bos1);
	/* Across the end of [0, 60) (and the start of [60, 100)). */
	cr_assert_eq(set_map(&s, 30 * K4, 70 * K4, &bo_a, 7 * K4, &ret), 2u);
	expect_set(&s, 2, want2, bos2);
	cr_assert_eq(retired_count(&ret), 3u);
}

Test(vmm_gpuva, map_exactly_over_replaces)
{
	struct vmm_va_set s;
	struct fa_list ret;
	const uint64_t want[] = { 8 * K4, 8 * K4, 3 * K4 };
	struct vmm_bo *const bos[] = { &bo_b };
	struct vmm_va *old;

	vmm_va_set_init(&s);
	fa_list_init(&ret);
	set_map(&s, 8 * K4, 8 * K4, &bo_a, 0, &ret);
	cr_assert_eq(set_map(&s, 8 * K4, 8 * K4, &bo_b, 3 * K4, &ret), 1u);
	expect_set(&s, 1, want, bos);
	old = vmm_va_entry(ret.next);
	cr_assert_eq(old->cut_va, 8 * K4);
	cr_assert_eq(old->cut_size, 8 * K4);
}

Test(vmm_gpuva, adjacent_continuation_merges_other_backing_does_not)
{
	struct vmm_va_set s;
	struct fa_list ret;
	const uint64_t merged[] = { 0, 100 * K4, 0 };
	struct vmm_bo *const bos1[] = { &bo_a };
	const uint64_t two[] = { 0, 100 * K4, 0, 100 * K4, 10 * K4, 0 };
	struct vmm_bo *const bos2[] = { &bo_a, &bo_b };
	struct vmm_va *old;

	vmm_va_set_init(&s);
	vmm_va_set_config(&s, true, 0);
	fa_list_init(&ret);
	set_map(&s, 0, 40 * K4, &bo_a, 0, &ret);
	set_map(&s, 60 * K4, 40 * K4, &bo_a, 60 * K4, &ret);
	/* The gap, same BO at the contiguous offset: both neighbours are absorbed. */
	cr_assert_eq(set_map(&s, 40 * K4, 20 * K4, &bo_a, 40 * K4, &ret), 1u);
	expect_set(&s, 1, merged, bos1);
	cr_assert_eq(retired_count(&ret), 2u);
	old = vmm_va_entry(ret.next);
	cr_assert_eq(old->cut_size, 0, "absorbed neighbours keep their PTEs");
	old = vmm_va_entry(ret.next->next);
	cr_assert_eq(old->cut_size, 0, "absorbed neighbours keep their PTEs");
	/* Adjacent but another BO: no merge. */
	set_map(&s, 100 * K4, 10 * K4, &bo_b, 0, &ret);
	expect_set(&s, 2, two, bos2);
	/* Adjacent, same BO but a discontiguous offset: no merge either. */
	set_map(&s, 110 * K4, K4, &bo_b, 50 * K4, &ret);
	cr_assert_eq(s.count, 3u);
}

Test(vmm_gpuva, unmap_middle_and_across_two)
{
	struct vmm_va_set s;
	struct fa_list ret;
	const uint64_t want1[] = { 0, 10 * K4, 0, 20 * K4, 30 * K4, 20 * K4, 50 * K4, 10 * K4, 0 };
	struct vmm_bo *const bos1[] = { &bo_a, &bo_a, &bo_b };
	const uint64_t want2[] = { 0, 10 * K4, 0, 20 * K4, 5 * K4, 20 * K4, 55 * K4, 5 * K4, 5 * K4 };
	unsigned int before;

	vmm_va_set_init(&s);
	fa_list_init(&ret);
	set_map(&s, 0, 50 * K4, &bo_a, 0, &ret);
	set_map(&s, 50 * K4, 10 * K4, &bo_b, 0, &ret);
	cr_assert_eq(vmm_va_set_check_unmap(&s, 10 * K4, 10 * K4), 0);
	before = g_pool.used;
	vmm_va_set_unmap(&s, 10 * K4, 10 * K4, &g_alloc, &ret);
	cr_assert_eq(g_pool.used - before, 2u, "an unmap in the middle takes two nodes");
	expect_set(&s, 3, want1, bos1);
	/* Across the end of one mapping and the start of the next. */
	before = g_pool.used;
	vmm_va_set_unmap(&s, 25 * K4, 30 * K4, &g_alloc, &ret);
	cr_assert_eq(g_pool.used - before, 2u, "two partially covered mappings take two nodes");
	expect_set(&s, 3, want2, bos1);
	cr_assert(vmm_va_set_valid(&s));
}

Test(vmm_gpuva, submit_checks)
{
	struct vmm_va_set s;
	struct fa_list ret;
	struct vmm_va r;

	vmm_va_set_init(&s);
	fa_list_init(&ret);
	r = req_of(0, 0x400000, &bo_a, 0);
	r.page_shift = 21;
	cr_assert_eq(vmm_va_set_check_map(&s, &r), 0);
	cr_assert_not_null(vmm_va_set_map(&s, &r, &g_alloc, &ret));
	cr_assert_eq(vmm_va_set_check_unmap(&s, 0x400000, K4), 0, "unmap of nothing: a no-op");
	cr_assert_eq(vmm_va_set_check_unmap(&s, 0x200000, 0x400000), 0, "holes unmap what exists");
	cr_assert_eq(vmm_va_set_check_unmap(&s, 0x10000, 0x400000), -FA_EINVAL,
		     "a hole after the range does not hide a bad split at its start");
	cr_assert_eq(vmm_va_set_check_unmap(&s, 0x10000, 0x10000), -FA_EINVAL,
		     "a 2 MiB page cannot be split at 64 KiB");
	cr_assert_eq(vmm_va_set_check_unmap(&s, 0x200000, 0x200000), 0);
	cr_assert_eq(vmm_va_set_check_unmap(&s, 0, 0), -FA_EINVAL);
	cr_assert_eq(vmm_va_set_check_unmap(&s, ~0ull - K4 + 1, 2 * K4), -FA_EINVAL);
	r = req_of(0x101000, K4, &bo_b, 0);
	cr_assert_eq(vmm_va_set_check_map(&s, &r), -FA_EINVAL);
	r = req_of(0x200000, 0x200000, &bo_b, 0);
	cr_assert_eq(vmm_va_set_check_map(&s, &r), 0);
	/* Page sizes: below 2^64 always (no shift by 64 or more), the set's own otherwise. */
	r = req_of(0x200000, 0x200000, &bo_b, 0);
	r.page_shift = 64;
	cr_assert_eq(vmm_va_set_check_map(&s, &r), -FA_EINVAL);
	r.page_shift = 70;
	cr_assert_eq(vmm_va_set_check_map(&s, &r), -FA_EINVAL);
	r.page_shift = ~0u;
	cr_assert_eq(vmm_va_set_check_map(&s, &r), -FA_EINVAL);
	vmm_va_set_config(&s, false, FA_BIT64(12) | FA_BIT64(21));
	r.page_shift = 16;
	cr_assert_eq(vmm_va_set_check_map(&s, &r), -FA_EINVAL, "64 KiB pages not accepted");
	r.page_shift = 21;
	cr_assert_eq(vmm_va_set_check_map(&s, &r), 0);
	r = req_of(0x201000, K4, &bo_b, 0);
	r.page_shift = 21;
	cr_assert_eq(vmm_va_set_check_map(&s, &r), -FA_EINVAL, "range not aligned to its page size");
}

Test(vmm_gpuva, unmap_over_holes_unmaps_what_exists)
{
	struct vmm_va_set s;
	struct fa_list ret;
	const uint64_t want[] = { 0, 2 * K4, 0, 98 * K4, 2 * K4, 98 * K4 };
	struct vmm_bo *const bos[] = { &bo_a, &bo_b };

	vmm_va_set_init(&s);
	fa_list_init(&ret);
	set_map(&s, 0, 10 * K4, &bo_a, 0, &ret);
	set_map(&s, 20 * K4, 10 * K4, &bo_a, 20 * K4, &ret);
	set_map(&s, 40 * K4, 10 * K4, &bo_b, 0, &ret);
	set_map(&s, 90 * K4, 10 * K4, &bo_b, 90 * K4, &ret);
	/* [2, 98) pages: two holes inside, two mappings cut at the ends, two removed whole. */
	cr_assert_eq(vmm_va_set_check_unmap(&s, 2 * K4, 96 * K4), 0);
	fa_list_init(&ret);
	vmm_va_set_unmap(&s, 2 * K4, 96 * K4, &g_alloc, &ret);
	expect_set(&s, 2, want, bos);
	cr_assert_eq(retired_count(&ret), 4u);
	/* Nothing left in the range: unmapping it again is accepted and changes nothing. */
	cr_assert_eq(vmm_va_set_check_unmap(&s, 2 * K4, 96 * K4), 0);
	fa_list_init(&ret);
	vmm_va_set_unmap(&s, 2 * K4, 96 * K4, &g_alloc, &ret);
	cr_assert_eq(retired_count(&ret), 0u);
	cr_assert_eq(s.count, 2u);
}

Test(vmm_gpuva, neighbours_stay_separate_unless_the_set_merges)
{
	struct vmm_va_set s;
	struct fa_list ret;
	const uint64_t three[] = { 0, 40 * K4, 0, 40 * K4, 20 * K4, 40 * K4, 60 * K4, 40 * K4, 60 * K4 };
	struct vmm_bo *const bos[] = { &bo_a, &bo_a, &bo_a };

	vmm_va_set_init(&s);
	fa_list_init(&ret);
	set_map(&s, 0, 40 * K4, &bo_a, 0, &ret);
	set_map(&s, 60 * K4, 40 * K4, &bo_a, 60 * K4, &ret);
	/* The continuation of both neighbours: drm_gpuvm keeps three mappings. */
	cr_assert_eq(set_map(&s, 40 * K4, 20 * K4, &bo_a, 40 * K4, &ret), 1u);
	expect_set(&s, 3, three, bos);
	cr_assert_eq(retired_count(&ret), 0u, "nothing absorbed, nothing split");
}

struct bump_pool {
	struct vmm_va *nodes;
	unsigned int used, cap;
};

static struct vmm_va *bump_take(void *ctx)
{
	struct bump_pool *p = (struct bump_pool *)ctx;

	return p->used < p->cap ? &p->nodes[p->used++] : NULL;
}

/* After a map at @va: the mapping covering it is not continued by either neighbour. */
static bool merged_ok(struct vmm_va_set *s, uint64_t va)
{
	struct vmm_va *v = vmm_va_set_lookup(s, va), *l, *r;

	if (!v)
		return true;
	l = vmm_va_set_floor(s, v->va - 1);
	r = vmm_va_set_next(s, v);
	if (v->va && l && l != v && vmm_va_end(l) == v->va && l->bo == v->bo &&
	    l->bo_offset + l->size == v->bo_offset && l->page_shift == v->page_shift)
		return false;
	return !(r && r->va == vmm_va_end(v) && r->bo == v->bo &&
		 v->bo_offset + v->size == r->bo_offset && r->page_shift == v->page_shift);
}

Test(vmm_gpuva, random_against_page_model)
{
	/* Property test: the set always describes exactly the page map of a simple model. */
	enum { PAGES = 256 };
	struct { struct vmm_bo *bo; uint64_t off; } model[PAGES];
	struct vmm_bo *bos[2] = { &bo_a, &bo_b };
	struct bump_pool pool;
	struct vmm_va_alloc alloc = { bump_take, NULL, &pool };
	struct vmm_va_set s;
	struct fa_list ret;
	struct fa_rng rng;
	unsigned int it, i, before, iters = (unsigned int)fa_test_iters(3000);

	pool.cap = 3 * iters + 3;
	pool.used = 0;
	pool.nodes = (struct vmm_va *)calloc(pool.cap, sizeof(struct vmm_va));
	cr_assert_not_null(pool.nodes);
	fa_rng_seed(&rng, fa_test_seed(0x5e7));
	vmm_va_set_init(&s);
	vmm_va_set_config(&s, true, 0);
	memset(model, 0, sizeof(model));
	for (it = 0; it < iters; it++) {
		uint64_t a = fa_rng_below(&rng, PAGES), n = 1 + fa_rng_below(&rng, PAGES - a);
		struct vmm_va r, *v;

		fa_list_init(&ret);
		before = pool.used;
		if (fa_rng_below(&rng, 3)) {
			/* Offsets often continue a neighbour, so merges happen. */
			r = req_of(a * K4, n * K4, bos[fa_rng_below(&rng, 2)],
				   fa_rng_below(&rng, 2) ? a * K4 : fa_rng_below(&rng, 4) * K4);
			cr_assert_eq(vmm_va_set_check_map(&s, &r), 0);
			cr_assert_not_null(vmm_va_set_map(&s, &r, &alloc, &ret));
			for (i = 0; i < n; i++) {
				model[a + i].bo = r.bo;
				model[a + i].off = r.bo_offset + i * K4;
			}
			cr_assert_leq(pool.used - before, VMM_VA_NODES_PER_MAP);
		} else {
			vmm_va_set_unmap(&s, a * K4, n * K4, &alloc, &ret);
			for (i = 0; i < n; i++)
				model[a + i].bo = NULL;
			cr_assert_leq(pool.used - before, VMM_VA_NODES_PER_UNMAP);
		}
		cr_assert(vmm_va_set_valid(&s));
		for (i = 0; i < PAGES; i++) {
			v = vmm_va_set_lookup(&s, i * K4);
			if (!model[i].bo) {
				cr_assert_null(v, "page %u should be unmapped (iteration %u)", i, it);
				continue;
			}
			cr_assert_not_null(v, "page %u should be mapped (iteration %u)", i, it);
			cr_assert_eq(v->bo, model[i].bo);
			cr_assert_eq(v->bo_offset + (i * K4 - v->va), model[i].off,
				     "page %u offset (iteration %u)", i, it);
		}
		if (!merged_ok(&s, a * K4))
			cr_assert_fail("a neighbour continuing the new mapping was not merged (iteration %u)", it);
	}
	free(pool.nodes);
}

/* ------------------------------------------------------------ fences */

static int cb_n;

static void cb_count(struct vmm_fence *f, struct vmm_fence_cb *cb)
{
	(void)f;
	(void)cb;
	cb_n++;
}

static int released;

static void rel_fn(struct vmm_fence *f, void *arg)
{
	(void)f;
	(void)arg;
	released++;
}

Test(vmm_fence, callbacks_wait_refcount)
{
	struct vmm_fence_timeline tl;
	struct vmm_fence a, b;
	struct vmm_fence_cb c1, c2, c3;

	cb_n = 0;
	released = 0;
	vmm_fence_timeline_init(&tl);
	vmm_fence_init(&a, &tl, rel_fn, NULL);
	vmm_fence_init(&b, &tl, rel_fn, NULL);
	cr_assert(fa_seq64_after(b.seqno, a.seqno));
	cr_assert_eq(vmm_fence_add_callback(&a, &c1, cb_count), 0);
	cr_assert_eq(vmm_fence_add_callback(&a, &c2, cb_count), 0);
	cr_assert_not(vmm_fence_is_signalled(&a));
	cr_assert_eq(vmm_fence_wait_timeout(&a, 1), -FA_EAGAIN);
	vmm_fence_signal(&a);
	cr_assert_eq(cb_n, 2);
	cr_assert(vmm_fence_is_signalled(&a));
	cr_assert_eq(vmm_fence_wait_timeout(&a, 1), 0);
	vmm_fence_wait(&a);
	cr_assert_eq(vmm_fence_add_callback(&a, &c3, cb_count), -FA_EALREADY);
	cr_assert_eq(cb_n, 2, "a late callback is not called");
	FA_EXPECT_WARN(vmm_fence_signal(&a));
	cr_assert_eq(cb_n, 2);
	vmm_fence_get(&a);
	vmm_fence_put(&a);
	cr_assert_eq(released, 0);
	vmm_fence_put(&a);
	cr_assert_eq(released, 1);
	vmm_fence_signal(&b);
	vmm_fence_put(&b);
	cr_assert_eq(released, 2);
	vmm_fence_timeline_fini(&tl);
}

/* ------------------------------------------------------------ VMM fixture */

struct fx {
	struct demo_alloc alloc;
	struct fa_reserve_source src;
	struct sim_gpu *gpu;
	struct vmm_host *dev;
	struct vmm_host_vm *vm;
	struct vmm_bo *bo[4];
};

#define FX_VA (1ull << 32)
#define FX_VA_SIZE (1ull << 34)

static void fx_demo_live_begin(void *ctx, uint64_t pdb, uint64_t va, uint64_t size,
			       uint64_t new_pa, unsigned int shift)
{
	demo_live_begin(ctx, pdb, va, size, new_pa, shift);
}

static void fx_init_fmt(struct fx *f, uint64_t vram, const struct vmm_host_config *cfg,
			const struct fa_pt_format *fmt);

static void fx_init_cfg(struct fx *f, uint64_t vram, const struct vmm_host_config *cfg)
{
	fx_init_fmt(f, vram, cfg, fa_pt_format_nv_ver2());
}

static void fx_init_fmt(struct fx *f, uint64_t vram, const struct vmm_host_config *cfg,
			const struct fa_pt_format *fmt)
{
	struct vmm_hw hw;
	unsigned int i;

	memset(f, 0, sizeof(*f));
	f->alloc.fail_at = -1;
	f->src.alloc = demo_alloc_fn;
	f->src.free = demo_free_fn;
	f->src.ctx = &f->alloc;
	f->gpu = (struct sim_gpu *)calloc(1, sizeof(*f->gpu));
	cr_assert_not_null(f->gpu);
	cr_assert_eq(sim_gpu_init(f->gpu, vram, fmt), 0);
	cr_assert_eq(sim_gpu_watch_enable(f->gpu), 0);
	memset(&hw, 0, sizeof(hw));
	hw.pt_mem = f->gpu->acc;
	hw.tlb_invalidate = demo_tlb_invalidate;
	hw.tlb_epoch = demo_tlb_epoch;
	hw.live_begin = fx_demo_live_begin;
	hw.live_end = demo_live_end;
	hw.ctx = f->gpu;
	hw.vram_size = vram;
	hw.vram_cleared = true; /* the simulated VRAM starts zero-filled */
	hw.fmt = f->gpu->fmt;
	cr_assert_eq(vmm_host_create(&hw, &f->src, cfg, &f->dev), 0);
	cr_assert_eq(vmm_host_vm_create(f->dev, FX_VA, FX_VA_SIZE, &f->vm), 0);
	for (i = 0; i < 4; i++)
		cr_assert_eq(vmm_bo_create(&f->dev->dev, 8ull << 20, &f->bo[i]), 0);
}

static void fx_init(struct fx *f, uint64_t vram)
{
	fx_init_cfg(f, vram, NULL);
}

static void fx_fini(struct fx *f)
{
	unsigned int i;

	vmm_host_wait_idle(f->dev);
	cr_assert(vmm_host_vm_check_views(f->vm));
	cr_assert_eq(vmm_host_vm_destroy(f->vm), 0);
	for (i = 0; i < 4; i++)
		vmm_bo_put(f->bo[i]);
	cr_assert_eq(vmm_vram_avail(&f->dev->dev), f->gpu->bar.vram_size, "VRAM leaked");
	cr_assert_eq(f->dev->dev.stats.pt_allocated, f->dev->dev.stats.pt_freed, "page tables leaked");
	cr_assert_eq(f->dev->dev.stats.run_errors, 0ul);
	/* every job of every test (sparse regions included) used exactly its reservation */
	cr_assert_eq(f->dev->dev.stats.reserve_short, 0ul, "a reservation ran short");
	cr_assert_eq(f->dev->dev.stats.jobs_inexact, 0ul, "a job used other than it reserved");
	cr_assert_eq(f->dev->dev.stats.pt_used, f->dev->dev.stats.pt_reserved);
	cr_assert_eq(f->dev->dev.stats.nodes_used, f->dev->dev.stats.nodes_reserved,
		     "mapping nodes: %lu used, %lu reserved", f->dev->dev.stats.nodes_used,
		     f->dev->dev.stats.nodes_reserved);
	cr_assert_eq(f->alloc.run_allocs, 0ul, "allocation inside a run stage");
	vmm_host_destroy(f->dev);
	cr_assert_eq(f->alloc.allocs, f->alloc.frees, "host allocations leaked");
	cr_assert_eq(f->gpu->bar.stats.torn_valid, 0ull);
	cr_assert_eq(f->gpu->watch.foreign, 0ull, "foreign PTE at va 0x%llx -> 0x%llx",
		     (unsigned long long)f->gpu->watch.first_va,
		     (unsigned long long)f->gpu->watch.first_pa);
	cr_assert_eq(f->gpu->watch.overflow, 0ull);
	sim_gpu_fini(f->gpu);
	free(f->gpu);
}

static int fx_run(struct fx *f, const struct vmm_op *ops, unsigned int n)
{
	struct vmm_fence *fence;
	int err = vmm_host_submit(f->vm, ops, n, NULL, &fence);

	if (!err) {
		vmm_fence_wait(fence);
		vmm_fence_put(fence);
		vmm_host_wait_idle(f->dev);
	}
	return err;
}

/* What "nothing changed" means: views, plan, claims, pools, VRAM, tables
 * (tests/support/vmm_model.h), and host memory. */
struct snap {
	struct vmm_snap vm;
	unsigned long host; /* allocations - frees - objects cached in pools */
};

/* Snapshot without waiting (the caller knows no job can run meanwhile). */
static void fx_snap_now(struct fx *f, struct snap *s)
{
	vmm__lock(&f->vm->lock.ops);
	vmm__lock(&f->vm->pt_lock.ops);
	vmm_snap_take(&f->vm->vm, &s->vm);
	vmm__unlock(&f->vm->pt_lock.ops);
	vmm__unlock(&f->vm->lock.ops);
	s->host = f->alloc.allocs - f->alloc.frees - s->vm.cached;
}

static void fx_snap(struct fx *f, struct snap *s)
{
	vmm_host_wait_idle(f->dev);
	fx_snap_now(f, s);
}

static void expect_unchanged_now(struct fx *f, const struct snap *before, const char *what,
				 bool wait)
{
	const char *diff;
	struct snap now;

	if (wait)
		fx_snap(f, &now);
	else
		fx_snap_now(f, &now);
	diff = vmm_snap_diff(&before->vm, &now.vm);
	cr_assert_null(diff, "%s: %s", what, diff);
	/* Objects a failed fill obtained may stay cached in their pool: not a leak. */
	cr_assert_eq(now.host, before->host, "%s: host memory leaked", what);
}

static void expect_unchanged(struct fx *f, const struct snap *before, const char *what)
{
	expect_unchanged_now(f, before, what, true);
}

/* Translate through the MMU walker (raw tables in simulated VRAM). */
static void expect_maps(struct fx *f, uint64_t va, uint64_t size, const struct vmm_bo *bo,
			uint64_t off, unsigned int shift)
{
	struct sim_gpu_xlat x;
	uint64_t i;

	vmm_host_vm_lock_tables(f->vm);
	for (i = 0; i < size; i += 4096) {
		cr_assert_eq(sim_gpu_translate(f->gpu, f->vm->vm.pdb, va + i, &x), 0,
			     "va 0x%llx should be mapped", (unsigned long long)(va + i));
		cr_assert_eq(x.pa, bo->pa + off + i, "va 0x%llx", (unsigned long long)(va + i));
		cr_assert_eq(sim_gpu_walk(f->gpu, f->vm->vm.pdb, va + i, &x), 0);
		cr_assert_eq(x.page_shift, shift, "va 0x%llx mapped with page shift %u, want %u",
			     (unsigned long long)(va + i), x.page_shift, shift);
	}
	vmm_host_vm_unlock_tables(f->vm);
}

static void expect_faults(struct fx *f, uint64_t va, uint64_t size)
{
	struct sim_gpu_xlat x;
	uint64_t i;

	vmm_host_vm_lock_tables(f->vm);
	for (i = 0; i < size; i += 4096)
		cr_assert_neq(sim_gpu_translate(f->gpu, f->vm->vm.pdb, va + i, &x), 0,
			      "va 0x%llx should fault", (unsigned long long)(va + i));
	vmm_host_vm_unlock_tables(f->vm);
}

#define M2 0x200000ull
#define K64 0x10000ull

Test(vmm_submit, bad_input_specific_error_nothing_changed)
{
	struct fx f;
	struct snap s;
	struct vmm_op ops[VMM_JOB_MAX_OPS + 1];
	unsigned int i;

	fx_init(&f, 1ull << 30);
	/* Some state to keep: a 2 MiB-page mapping and a 4 KiB one. */
	vmm_op_map(&ops[0], FX_VA, 2 * M2, f.bo[0], 0, 21);
	vmm_op_map(&ops[1], FX_VA + 4 * M2, 16 * K4, f.bo[1], 0, 12);
	cr_assert_eq(fx_run(&f, ops, 2), 0);
	fx_snap(&f, &s);

#define BAD(expect, n, what)                                                          \
	do {                                                                          \
		cr_assert_eq(vmm_host_submit(f.vm, ops, n, NULL, NULL), expect, "%s", what); \
		expect_unchanged(&f, &s, what);                                       \
	} while (0)

	vmm_op_map(&ops[0], FX_VA + 8 * M2, 8 * K4, f.bo[2], 0, 12);
	vmm_op_map(&ops[1], FX_VA + 8 * M2 + 4 * K4, 8 * K4, f.bo[3], 0, 12);
	BAD(-FA_EINVAL, 2, "overlapping ops in one job");
	vmm_op_map(&ops[0], FX_VA + 8 * M2 + 0x800, 8 * K4, f.bo[2], 0, 12);
	BAD(-FA_EINVAL, 1, "unaligned VA");
	vmm_op_map(&ops[0], FX_VA + 8 * M2, 8 * K4 + 8, f.bo[2], 0, 12);
	BAD(-FA_EINVAL, 1, "unaligned size");
	vmm_op_map(&ops[0], FX_VA + 8 * M2 + K4, K64, f.bo[2], 0, 16);
	BAD(-FA_EINVAL, 1, "VA not aligned to the 64 KiB page size");
	vmm_op_map(&ops[0], FX_VA + 8 * M2, 0, f.bo[2], 0, 12);
	BAD(-FA_EINVAL, 1, "zero size");
	vmm_op_map(&ops[0], FX_VA - K4, 2 * K4, f.bo[2], 0, 12);
	BAD(-FA_ERANGE, 1, "VA below the VM");
	vmm_op_map(&ops[0], FX_VA + FX_VA_SIZE - K4, 2 * K4, f.bo[2], 0, 12);
	BAD(-FA_ERANGE, 1, "VA past the end of the VM");
	vmm_op_unmap(&ops[0], ~0ull - K4 + 1, 2 * K4, 12);
	BAD(-FA_ERANGE, 1, "VA range wrapping around");
	vmm_op_map(&ops[0], FX_VA + 8 * M2, 2 * K4, f.bo[2], (8ull << 20) - K4, 12);
	BAD(-FA_ERANGE, 1, "BO offset + size past the BO");
	vmm_op_map(&ops[0], FX_VA + 8 * M2, 2 * K4, f.bo[2], 8ull << 20, 12);
	BAD(-FA_ERANGE, 1, "BO offset past the BO");
	vmm_op_map(&ops[0], FX_VA + 8 * M2, 2 * K4, f.bo[2], 0x800, 12);
	BAD(-FA_EINVAL, 1, "unaligned BO offset");
	vmm_op_map(&ops[0], FX_VA + 8 * M2, 2 * K4, NULL, 0, 12);
	BAD(-FA_EINVAL, 1, "map without a BO");
	vmm_op_map(&ops[0], FX_VA + 8 * M2, 2 * K4, f.bo[2], 0, 12);
	ops[0].flags = 0x80;
	BAD(-FA_EINVAL, 1, "unknown flag");
	ops[0].flags = 0;
	ops[0].kind = 7;
	BAD(-FA_EINVAL, 1, "unknown op kind");
	vmm_op_map(&ops[0], FX_VA + 8 * M2, 2 * K4, f.bo[2], 0, 13);
	BAD(-FA_EOPNOTSUPP, 1, "8 KiB pages");
	vmm_op_map(&ops[0], FX_VA, 1ull << 30, f.bo[2], 0, 30);
	BAD(-FA_EOPNOTSUPP, 1, "1 GiB pages (not in ver2)");
	vmm_op_map(&ops[0], FX_VA, 1ull << 29, f.bo[2], 0, 29);
	BAD(-FA_EOPNOTSUPP, 1, "512 MiB pages (not supported by this VMM)");
	vmm_op_unmap(&ops[0], FX_VA + K64, K64, 16);
	BAD(-FA_EINVAL, 1, "unmap splitting a 2 MiB page");
	vmm_op_map(&ops[0], FX_VA + K4, K4, f.bo[2], 0, 12);
	BAD(-FA_EINVAL, 1, "map splitting a 2 MiB page");
	/* A bad op after good ones: the whole job is refused. */
	vmm_op_map(&ops[0], FX_VA + 8 * M2, 2 * K4, f.bo[2], 0, 12);
	vmm_op_unmap(&ops[1], FX_VA + 4 * M2, 16 * K4, 12);
	vmm_op_unmap(&ops[2], FX_VA + K64, K64, 16);
	BAD(-FA_EINVAL, 3, "a job with one bad unmap");
	BAD(-FA_EINVAL, 0, "no ops");
	for (i = 0; i <= VMM_JOB_MAX_OPS; i++)
		vmm_op_map(&ops[i], FX_VA + 16 * M2 + i * K4, K4, f.bo[2], 0, 12);
	BAD(-FA_EINVAL, VMM_JOB_MAX_OPS + 1, "too many ops");
#undef BAD
	cr_assert_eq(f.dev->dev.stats.jobs_rejected, 22ul);
	expect_maps(&f, FX_VA, 2 * M2, f.bo[0], 0, 21);
	expect_maps(&f, FX_VA + 4 * M2, 16 * K4, f.bo[1], 0, 12);
	expect_faults(&f, FX_VA + 8 * M2, 4 * K4);
	fx_fini(&f);
}

Test(vmm_submit, vram_exhausted_at_every_page_table)
{
	struct fx f;
	struct snap s;
	struct vmm_op op;
	struct vmm_bo *hog[4096];
	struct fa_pt_estimate est;
	unsigned int n = 0, k, small = 0;
	uint64_t avail;
	int err = -FA_ENOSPC;

	memset(&est, 0, sizeof(est));
	fx_init(&f, 64ull << 20);
	/* Take all VRAM: big buffers first, then every remaining 4 KiB block. */
	while ((avail = vmm_vram_avail(&f.dev->dev)) > 64 * K4 && n < 64)
		cr_assert_eq(vmm_bo_create(&f.dev->dev, 4096ull << (fa_fls64((avail - 32 * K4) >> 12) - 1),
					   &hog[n++]), 0);
	while (vmm_vram_avail(&f.dev->dev) && n < 4096) {
		cr_assert_eq(vmm_bo_create(&f.dev->dev, K4, &hog[n++]), 0);
		small++;
	}
	cr_assert_eq(vmm_vram_avail(&f.dev->dev), 0ull);
	vmm_op_map(&op, FX_VA + (1ull << 33), 8ull << 20, f.bo[0], 0, 12);
	cr_assert_eq(fa_pt_estimate_static(f.gpu->fmt, op.va, op.size, K4, &est), 0);
	cr_assert_leq(est.total, (uint64_t)small);
	/* Free one block at a time: the reservation fails at every table until it fits. */
	for (k = 0; k <= est.total; k++) {
		if (k)
			vmm_bo_put(hog[--n]);
		fx_snap(&f, &s);
		err = vmm_host_submit(f.vm, &op, 1, NULL, NULL);
		if (k < est.total) {
			cr_assert_eq(err, -FA_ENOSPC, "with %u free tables: %d", k, err);
			expect_unchanged(&f, &s, "page-table VRAM exhausted");
		}
	}
	cr_assert_eq(err, 0, "fits with exactly the worst case free");
	vmm_host_wait_idle(f.dev);
	expect_maps(&f, FX_VA + (1ull << 33), 64 * K4, f.bo[0], 0, 12);
	while (n)
		vmm_bo_put(hog[--n]);
	fx_fini(&f);
}

Test(vmm_submit, node_budget_back_pressure)
{
	struct vmm_host_config cfg;
	struct fx f;
	struct snap s;
	struct vmm_op ops[5];
	struct vmm_fence_timeline tl;
	struct vmm_fence gate, *fence;
	unsigned int i;

	memset(&cfg, 0, sizeof(cfg));
	cfg.node_budget = 4;
	fx_init_cfg(&f, 1ull << 30, &cfg);
	vmm_fence_timeline_init(&tl);
	vmm_fence_init(&gate, &tl, NULL, NULL);
	for (i = 0; i < 3; i++)
		vmm_op_map(&ops[i], FX_VA + i * M2, 4 * K4, f.bo[i], 0, 12);
	/* 3 fresh maps: the plan reserves exactly 3 nodes of the budget of 4;
	 * the gate keeps the job pending. */
	cr_assert_eq(vmm_host_submit(f.vm, ops, 3, &gate, &fence), 0);
	cr_assert_eq(fa_reserve_pool_charged(&f.vm->vm.node_pool), 3ul);
	/* Unmapping a whole mapping takes no node (its node stays charged until cleanup). */
	vmm_op_unmap(&ops[3], FX_VA, 4 * K4, 12);
	cr_assert_eq(vmm_host_submit(f.vm, &ops[3], 1, NULL, NULL), 0);
	cr_assert_eq(fa_reserve_pool_charged(&f.vm->vm.node_pool), 3ul);
	/* Unmapping from the middle splits: 2 nodes, 3 + 2 > 4. */
	vmm_op_unmap(&ops[4], FX_VA + M2 + K4, K4, 12);
	fx_snap_now(&f, &s);
	cr_assert_eq(vmm_host_submit(f.vm, &ops[4], 1, NULL, NULL), -FA_ENOSPC);
	expect_unchanged_now(&f, &s, "over the node budget", false);
	vmm_fence_signal(&gate);
	vmm_fence_wait(fence);
	vmm_fence_put(fence);
	vmm_host_wait_idle(f.dev);
	/* Cleaned up: the unmapped mapping's node is freed, 2 live nodes charged. */
	cr_assert_eq(fa_reserve_pool_charged(&f.vm->vm.node_pool), 2ul);
	cr_assert_eq(fx_run(&f, &ops[4], 1), 0, "fits once the unmap is cleaned up");
	expect_faults(&f, FX_VA, 4 * K4);
	expect_maps(&f, FX_VA + M2, K4, f.bo[1], 0, 12);
	expect_faults(&f, FX_VA + M2 + K4, K4);
	expect_maps(&f, FX_VA + M2 + 2 * K4, 2 * K4, f.bo[1], 2 * K4, 12);
	cr_assert_eq(fa_test_warnings(), 0ul, "undoing a refused job warned: %s",
		     fa_test_last_warning());
	fx_fini(&f);
	vmm_fence_timeline_fini(&tl);
}

Test(vmm_submit, fault_injection_every_allocation)
{
	struct fx f;
	struct snap s;
	struct vmm_op ops[3];
	struct vmm_fence *fence;
	unsigned int k;
	int err = -FA_ENOMEM;

	fx_init(&f, 1ull << 30);
	vmm_op_map(&ops[0], FX_VA, 64 * K4, f.bo[0], 0, 12);
	cr_assert_eq(fx_run(&f, ops, 1), 0);
	/* A job that splits, remaps with another page size, unmaps and maps fresh. */
	vmm_op_map(&ops[0], FX_VA + 16 * K4, 2 * K64, f.bo[1], 0, 16);
	vmm_op_unmap(&ops[1], FX_VA + 48 * K4, 4 * K4, 12);
	vmm_op_map(&ops[2], FX_VA + (1ull << 32), 2 * M2, f.bo[2], 0, 21);
	for (k = 0; k < 1000; k++) {
		fx_snap(&f, &s);
		f.alloc.fail_at = (long)(f.alloc.index + k);
		err = vmm_host_submit(f.vm, ops, 3, NULL, &fence);
		f.alloc.fail_at = -1;
		if (err == 0)
			break;
		cr_assert_eq(err, -FA_ENOMEM, "allocation %u failed: %d", k, err);
		expect_unchanged(&f, &s, "failed allocation");
	}
	cr_assert_eq(err, 0);
	cr_assert_geq(k, 5u, "submit allocates the job, nodes and page-table shadows");
	cr_assert_eq(f.alloc.fails, (unsigned long)k);
	vmm_fence_wait(fence);
	vmm_fence_put(fence);
	vmm_host_wait_idle(f.dev);
	expect_maps(&f, FX_VA, 16 * K4, f.bo[0], 0, 12);
	expect_maps(&f, FX_VA + 16 * K4, 2 * K64, f.bo[1], 0, 16);
	expect_maps(&f, FX_VA + 48 * K4, 0, f.bo[0], 48 * K4, 12);
	expect_faults(&f, FX_VA + 48 * K4, 4 * K4);
	expect_maps(&f, FX_VA + 52 * K4, 12 * K4, f.bo[0], 52 * K4, 12);
	expect_maps(&f, FX_VA + (1ull << 32), 2 * M2, f.bo[2], 0, 21);
	cr_assert_eq(fa_test_warnings(), 0ul, "undoing a refused job warned: %s",
		     fa_test_last_warning());
	fx_fini(&f);
}

Test(vmm_walker, page_size_changes_split_and_merge)
{
	struct vmm_host_config cfg;
	struct fx f;
	struct vmm_op ops[2];
	unsigned long allocated;

	memset(&cfg, 0, sizeof(cfg));
	cfg.merge = true; /* the driver asks for merged neighbours */
	fx_init_cfg(&f, 1ull << 30, &cfg);
	/* 2 MiB pages, then 4 KiB pages over the second 2 MiB (the huge slot gives way). */
	vmm_op_map(&ops[0], FX_VA, 2 * M2, f.bo[0], 0, 21);
	cr_assert_eq(fx_run(&f, ops, 1), 0);
	expect_maps(&f, FX_VA, 2 * M2, f.bo[0], 0, 21);
	vmm_op_map(&ops[0], FX_VA + M2, M2, f.bo[1], M2, 12);
	cr_assert_eq(fx_run(&f, ops, 1), 0);
	expect_maps(&f, FX_VA, M2, f.bo[0], 0, 21);
	expect_maps(&f, FX_VA + M2, M2, f.bo[1], M2, 12);
	/* 64 KiB pages inside the 4 KiB mapping: small and big tables under one PD0 entry. */
	vmm_op_map(&ops[0], FX_VA + M2 + 4 * K64, 2 * K64, f.bo[2], 0, 16);
	cr_assert_eq(fx_run(&f, ops, 1), 0);
	expect_maps(&f, FX_VA + M2, 4 * K64, f.bo[1], M2, 12);
	expect_maps(&f, FX_VA + M2 + 4 * K64, 2 * K64, f.bo[2], 0, 16);
	expect_maps(&f, FX_VA + M2 + 6 * K64, M2 - 6 * K64, f.bo[1], M2 + 6 * K64, 12);
	/* Unmap the middle: a hole that faults, remnants that still translate. */
	vmm_op_unmap(&ops[0], FX_VA + M2 + 4 * K64, 2 * K64, 16);
	cr_assert_eq(fx_run(&f, ops, 1), 0);
	expect_faults(&f, FX_VA + M2 + 4 * K64, 2 * K64);
	expect_maps(&f, FX_VA + M2 + 6 * K64, 4 * K4, f.bo[1], M2 + 6 * K64, 12);
	/* Fill the hole with the continuation of bo[1]: one merged mapping again. */
	vmm_op_map(&ops[0], FX_VA + M2 + 4 * K64, 2 * K64, f.bo[1], M2 + 4 * K64, 12);
	cr_assert_eq(fx_run(&f, ops, 1), 0);
	cr_assert_eq(f.vm->vm.live.count, 2ul, "2 MiB mapping + one merged 4 KiB mapping");
	expect_maps(&f, FX_VA + M2, M2, f.bo[1], M2, 12);
	/* Back to one 2 MiB page: the small table is released, freed after the invalidate. */
	allocated = f.dev->dev.stats.pt_freed;
	vmm_op_map(&ops[0], FX_VA + M2, M2, f.bo[3], 0, 21);
	cr_assert_eq(fx_run(&f, ops, 1), 0);
	expect_maps(&f, FX_VA + M2, M2, f.bo[3], 0, 21);
	cr_assert_gt(f.dev->dev.stats.pt_freed, allocated, "small and big tables freed at cleanup");
	/* Unmap everything: every address faults. */
	vmm_op_unmap(&ops[0], FX_VA, 2 * M2, 21);
	cr_assert_eq(fx_run(&f, ops, 1), 0);
	expect_faults(&f, FX_VA, 2 * M2);
	fx_fini(&f);
}

/* The live-range checker: a remap of live PTEs through the VMM shows no
 * foreign PTE after any MMIO write; an in-place rewrite of a live PTE in two
 * 32-bit halves (high half first, the order that is right for a fresh map)
 * does, and the checker catches it. ver3 keeps address bits in both halves. */
Test(vmm_walker, live_checker_catches_planted_in_place_overwrite)
{
	struct sim_gpu_xlat x;
	struct vmm_op op;
	struct fx f;
	uint64_t slot, old, new_pa, val, writes;

	fx_init_fmt(&f, 1ull << 30, NULL, fa_pt_format_nv_ver3());
	vmm_op_map(&op, FX_VA, 16 * K4, f.bo[0], 0, 12);
	cr_assert_eq(fx_run(&f, &op, 1), 0);
	cr_assert_eq(f.gpu->watch.watches, 0ull, "a fresh map changes no live PTE");
	vmm_op_map(&op, FX_VA, 16 * K4, f.bo[1], 0, 12);
	cr_assert_eq(fx_run(&f, &op, 1), 0);
	expect_maps(&f, FX_VA, 16 * K4, f.bo[1], 0, 12);
	cr_assert_eq(f.gpu->watch.watches, 1ull);
	cr_assert_gt(f.gpu->watch.checked, 0ull, "the remap's writes were re-walked");
	cr_assert_eq(f.gpu->watch.foreign, 0ull, "the VMM's remap shows no foreign PTE");

	/* Planted: rewrite the live PTE of FX_VA in place, to an address whose
	 * halves both differ from the old one's. */
	vmm_host_vm_lock_tables(f.vm);
	cr_assert_eq(sim_gpu_walk(f.gpu, f.vm->vm.pdb, FX_VA, &x), 0);
	slot = x.path[x.npath - 1];
	old = sim_bar0_peek64(&f.gpu->bar, slot);
	new_pa = x.pa ^ (1ull << 32) ^ (1ull << 20);
	val = fa_pt_pte_encode(f.gpu->fmt, x.level, new_pa, x.attr);
	cr_assert_neq((uint32_t)val, (uint32_t)old);
	cr_assert_neq((uint32_t)(val >> 32), (uint32_t)(old >> 32));
	writes = f.gpu->watch.writes;
	sim_gpu_watch_begin(f.gpu, f.vm->vm.pdb, FX_VA, K4, new_pa, 12);
	cr_assert_eq(fa_pramin_wr64(&f.gpu->acc, slot, val, FA_PRAMIN_HIGH_FIRST), 0);
	sim_gpu_watch_end(f.gpu);
	cr_assert_eq(f.gpu->watch.writes - writes, 2ull, "two 32-bit MMIO writes");
	cr_assert_eq(f.gpu->watch.foreign, 1ull, "the state between the halves maps a foreign address");
	cr_assert_eq(f.gpu->watch.first_va, FX_VA);
	cr_assert_eq(f.gpu->watch.first_pa, x.pa ^ (1ull << 32), "new high half, old low half");
	/* Undo the plant: invalid first, then the old PTE (no foreign state). */
	cr_assert_eq(fa_pramin_wr64(&f.gpu->acc, slot, f.gpu->fmt->invalid, FA_PRAMIN_LOW_FIRST), 0);
	cr_assert_eq(fa_pramin_wr64(&f.gpu->acc, slot, old, FA_PRAMIN_HIGH_FIRST), 0);
	vmm_host_vm_unlock_tables(f.vm);
	f.gpu->watch.foreign = 0;       /* both checkers saw the plant; the fixture's */
	f.gpu->bar.stats.torn_valid = 0; /* end-of-test checks are about the VMM */
	fx_fini(&f);
}

/* Every page of [va, va + size) reads as sparse (zero, no fault) through the walker. */
static void expect_sparse(struct fx *f, uint64_t va, uint64_t size, uint64_t step)
{
	struct sim_gpu_xlat x;
	uint64_t i;

	vmm_host_vm_lock_tables(f->vm);
	for (i = 0; i < size; i += step) {
		cr_assert_neq(sim_gpu_walk(f->gpu, f->vm->vm.pdb, va + i, &x), 0);
		cr_assert_eq(x.type, FA_PT_ENTRY_SPARSE, "va 0x%llx: entry type %d, want sparse",
			     (unsigned long long)(va + i), (int)x.type);
	}
	vmm_host_vm_unlock_tables(f->vm);
}

static void expect_invalid(struct fx *f, uint64_t va, uint64_t size, uint64_t step)
{
	struct sim_gpu_xlat x;
	uint64_t i;

	vmm_host_vm_lock_tables(f->vm);
	for (i = 0; i < size; i += step) {
		cr_assert_neq(sim_gpu_walk(f->gpu, f->vm->vm.pdb, va + i, &x), 0);
		cr_assert_eq(x.type, FA_PT_ENTRY_INVALID, "va 0x%llx: entry type %d, want invalid",
			     (unsigned long long)(va + i), (int)x.type);
	}
	vmm_host_vm_unlock_tables(f->vm);
}

/* Vulkan sparse residency: a sparse region reads as zero without faulting;
 * maps inside it bind pages, unmaps make them sparse again; unbinding the
 * empty region makes it fault. 64 KiB (big tables) and 4 KiB (small tables). */
Test(vmm_walker, sparse_bind_map_unmap_unbind)
{
	const uint64_t r = FX_VA + 8 * M2, rs = 4 * M2;
	const unsigned int shifts[2] = { 16, 12 };
	struct vmm_op op;
	struct snap before;
	struct fx f;
	unsigned int k;

	fx_init(&f, 1ull << 30);
	for (k = 0; k < 2; k++) {
		unsigned int sh = shifts[k];
		uint64_t pg = FA_BIT64(sh);

		/* An unmap of nothing first: the VM then holds a last fence in both snapshots. */
		vmm_op_unmap(&op, r, rs, 12);
		cr_assert_eq(fx_run(&f, &op, 1), 0);
		fx_snap(&f, &before);
		vmm_op_sparse(&op, VMM_OP_SPARSE, r, rs, sh);
		cr_assert_eq(fx_run(&f, &op, 1), 0);
		expect_sparse(&f, r, rs, pg);
		expect_invalid(&f, r - M2, M2, K4);
		/* A map inside the region with its page size binds pages. */
		vmm_op_map(&op, r + 4 * pg, 8 * pg, f.bo[0], 0, sh);
		cr_assert_eq(fx_run(&f, &op, 1), 0);
		expect_maps(&f, r + 4 * pg, 8 * pg, f.bo[0], 0, sh);
		expect_sparse(&f, r, 4 * pg, pg);
		expect_sparse(&f, r + 12 * pg, rs - 12 * pg, pg);
		/* Refused, nothing changed: another page size, reaching out of the
		 * region, a second region over it, unbinding it while mapped. */
		vmm_op_map(&op, r, M2, f.bo[1], 0, 21);
		cr_assert_eq(vmm_host_submit(f.vm, &op, 1, NULL, NULL), -FA_EINVAL);
		vmm_op_map(&op, r - pg, 2 * pg, f.bo[1], 0, sh);
		cr_assert_eq(vmm_host_submit(f.vm, &op, 1, NULL, NULL), -FA_EINVAL);
		vmm_op_sparse(&op, VMM_OP_SPARSE, r + M2, M2, sh);
		cr_assert_eq(vmm_host_submit(f.vm, &op, 1, NULL, NULL), -FA_EBUSY);
		vmm_op_sparse(&op, VMM_OP_UNSPARSE, r, rs, sh);
		cr_assert_eq(vmm_host_submit(f.vm, &op, 1, NULL, NULL), -FA_EBUSY);
		vmm_op_sparse(&op, VMM_OP_UNSPARSE, r, M2, sh);
		cr_assert_eq(vmm_host_submit(f.vm, &op, 1, NULL, NULL), -FA_ENOENT);
		/* Unmap over the whole region (holes included): sparse again. */
		vmm_op_unmap(&op, r, rs, sh);
		cr_assert_eq(fx_run(&f, &op, 1), 0);
		expect_sparse(&f, r, rs, pg);
		/* Unbind the empty region: the range faults, the tables go. */
		vmm_op_sparse(&op, VMM_OP_UNSPARSE, r, rs, sh);
		cr_assert_eq(fx_run(&f, &op, 1), 0);
		expect_invalid(&f, r, rs, pg);
		expect_unchanged(&f, &before, "sparse bind, map, unmap, unbind");
	}
	/* A sparse bind over mapped VA is refused. */
	vmm_op_map(&op, r, 2 * K4, f.bo[0], 0, 12);
	cr_assert_eq(fx_run(&f, &op, 1), 0);
	vmm_op_sparse(&op, VMM_OP_SPARSE, r, M2, 12);
	cr_assert_eq(vmm_host_submit(f.vm, &op, 1, NULL, NULL), -FA_EBUSY);
	fx_fini(&f);
}

/* A region still bound when the VM is finalised: its references on the
 * page-table plan go too (else the plan cannot be torn down and its nodes
 * leak; fx_fini() counts host allocations). */
Test(vmm_walker, sparse_region_still_bound_at_vm_fini)
{
	struct vmm_op op;
	struct fx f;

	fx_init(&f, 1ull << 30);
	vmm_op_sparse(&op, VMM_OP_SPARSE, FX_VA + K64, 2 * M2, 16);
	cr_assert_eq(fx_run(&f, &op, 1), 0);
	vmm_op_map(&op, FX_VA + 2 * K64, K64, f.bo[0], 0, 16);
	cr_assert_eq(fx_run(&f, &op, 1), 0);
	expect_sparse(&f, FX_VA + K64, K64, K64);
	fx_fini(&f);
	cr_assert_eq(fa_test_warnings(), 0ul, "VM fini warned: %s", fa_test_last_warning());
}

/* A refused job with an unmap (here inside a sparse region) is undone
 * exactly and quietly: the undo re-references what the unmap cut and drops
 * nothing else (an unmap never referenced its own range, so dropping it
 * warned on every refused job that held an unmap). */
Test(vmm_submit, refused_unmap_in_sparse_region_keeps_the_plan)
{
	const uint64_t r = FX_VA + 2 * M2;
	struct vmm_op op, ops[2];
	struct snap s;
	struct fx f;
	unsigned int k;
	int err = -FA_ENOMEM;

	fx_init(&f, 1ull << 30);
	vmm_op_sparse(&op, VMM_OP_SPARSE, r, M2, 16);
	cr_assert_eq(fx_run(&f, &op, 1), 0);
	vmm_op_map(&op, r, 4 * K64, f.bo[0], 0, 16);
	cr_assert_eq(fx_run(&f, &op, 1), 0);
	/* splits the mapping (2 nodes) and maps elsewhere (tables): allocations after planning */
	vmm_op_unmap(&ops[0], r + K64, K64, 16);
	vmm_op_map(&ops[1], FX_VA + 8 * M2, K4, f.bo[1], 0, 12);
	for (k = 0; k < 1000; k++) {
		fx_snap(&f, &s);
		f.alloc.fail_at = (long)(f.alloc.index + k);
		err = vmm_host_submit(f.vm, ops, 2, NULL, NULL);
		f.alloc.fail_at = -1;
		if (err == 0)
			break;
		cr_assert_eq(err, -FA_ENOMEM, "allocation %u failed: %d", k, err);
		expect_unchanged(&f, &s, "refused unmap in a sparse region");
	}
	cr_assert_eq(err, 0);
	vmm_host_wait_idle(f.dev);
	expect_maps(&f, r, K64, f.bo[0], 0, 16);
	expect_sparse(&f, r + K64, K64, K64);
	expect_maps(&f, r + 2 * K64, 2 * K64, f.bo[0], 2 * K64, 16);
	vmm_op_unmap(&op, r, M2, 16);
	cr_assert_eq(fx_run(&f, &op, 1), 0);
	vmm_op_sparse(&op, VMM_OP_UNSPARSE, r, M2, 16);
	cr_assert_eq(fx_run(&f, &op, 1), 0);
	expect_invalid(&f, r, M2, K64);
	cr_assert_eq(fa_test_warnings(), 0ul, "%s", fa_test_last_warning());
	fx_fini(&f);
}

/* Tables of level @p l linked in the VM's tree. */
static uint64_t fx_live_tables(struct fx *f, unsigned int l)
{
	struct fa_pt_stats st;

	vmm_host_vm_lock_tables(f->vm);
	fa_pt_get_stats(&f->vm->vm.pt, &st);
	vmm_host_vm_unlock_tables(f->vm);
	return st.live[l];
}

/* Every page of [va, va + size) reads as sparse at format level @p level. */
static void expect_sparse_at(struct fx *f, uint64_t va, uint64_t size, uint64_t step,
			     unsigned int level)
{
	struct sim_gpu_xlat x;
	uint64_t i;

	expect_sparse(f, va, size, step);
	vmm_host_vm_lock_tables(f->vm);
	for (i = 0; i < size; i += step) {
		(void)sim_gpu_walk(f->gpu, f->vm->vm.pdb, va + i, &x);
		cr_assert_eq(x.level, level, "va 0x%llx: sparse at level %u, want %u",
			     (unsigned long long)(va + i), x.level, level);
	}
	vmm_host_vm_unlock_tables(f->vm);
}

/* Sparse at PDE level: a sparse bind over whole 2 MiB spans allocates no
 * PTE table (the PD0 entry itself is sparse), a map into it opens one table
 * whose other entries read sparse, the unmap collapses it back into the
 * sparse PDE, and a bind with partial ends gets PTE tables at the ends only.
 * ver2 and ver3, 64 KiB and 4 KiB pages. */
Test(vmm_walker, sparse_pde_level_allocates_no_table)
{
	const struct fa_pt_format *fmts[2] = { fa_pt_format_nv_ver2(), fa_pt_format_nv_ver3() };
	const unsigned int shifts[2] = { 16, 12 };
	const uint64_t r = FX_VA + 8 * M2, rs = 3 * M2;
	unsigned int fi, k, leaf, pd;
	struct vmm_op op;
	struct snap before;
	struct fx f;
	uint64_t t0, pg;

	for (fi = 0; fi < 2; fi++) {
		fx_init_fmt(&f, 1ull << 30, NULL, fmts[fi]);
		for (k = 0; k < 2; k++) {
			pg = FA_BIT64(shifts[k]);
			leaf = f.gpu->fmt->page[fa_pt_page_index(f.gpu->fmt, pg)].level;
			pd = f.gpu->fmt->level[leaf].parent;
			vmm_op_unmap(&op, r, rs, 12);
			cr_assert_eq(fx_run(&f, &op, 1), 0);
			fx_snap(&f, &before);
			t0 = fx_live_tables(&f, leaf);
			vmm_op_sparse(&op, VMM_OP_SPARSE, r, rs, shifts[k]);
			cr_assert_eq(fx_run(&f, &op, 1), 0);
			cr_assert_eq(fx_live_tables(&f, leaf), t0, "no PTE table under whole sparse spans");
			expect_sparse_at(&f, r, rs, pg, pd);
			expect_invalid(&f, r - M2, M2, K4);
			expect_invalid(&f, r + rs, M2, K4);
			/* map two pages into the middle span: one table, the rest sparse */
			vmm_op_map(&op, r + M2 + 5 * pg, 2 * pg, f.bo[0], 0, shifts[k]);
			cr_assert_eq(fx_run(&f, &op, 1), 0);
			cr_assert_eq(fx_live_tables(&f, leaf), t0 + 1);
			expect_maps(&f, r + M2 + 5 * pg, 2 * pg, f.bo[0], 0, shifts[k]);
			expect_sparse_at(&f, r + M2, 5 * pg, pg, leaf);
			expect_sparse_at(&f, r + M2 + 7 * pg, M2 - 7 * pg, pg, leaf);
			expect_sparse_at(&f, r, M2, pg, pd);
			expect_sparse_at(&f, r + 2 * M2, M2, pg, pd);
			/* unmap: the table empties and the span is a sparse PDE again */
			vmm_op_unmap(&op, r + M2 + 5 * pg, 2 * pg, shifts[k]);
			cr_assert_eq(fx_run(&f, &op, 1), 0);
			cr_assert_eq(fx_live_tables(&f, leaf), t0);
			expect_sparse_at(&f, r, rs, pg, pd);
			vmm_op_sparse(&op, VMM_OP_UNSPARSE, r, rs, shifts[k]);
			cr_assert_eq(fx_run(&f, &op, 1), 0);
			expect_invalid(&f, r, rs, pg);
			expect_unchanged(&f, &before, "PDE-level sparse bind, map, unmap, unbind");
			/* partial ends: PTE tables at both ends, none in between */
			vmm_op_sparse(&op, VMM_OP_SPARSE, r + M2 / 2, rs, shifts[k]);
			cr_assert_eq(fx_run(&f, &op, 1), 0);
			cr_assert_eq(fx_live_tables(&f, leaf), t0 + 2);
			expect_sparse_at(&f, r + M2 / 2, M2 / 2, pg, leaf);
			expect_sparse_at(&f, r + M2, 2 * M2, pg, pd);
			expect_sparse_at(&f, r + 3 * M2, M2 / 2, pg, leaf);
			expect_invalid(&f, r, M2 / 2, pg);
			expect_invalid(&f, r + rs + M2 / 2, M2 / 2, pg);
			vmm_op_sparse(&op, VMM_OP_UNSPARSE, r + M2 / 2, rs, shifts[k]);
			cr_assert_eq(fx_run(&f, &op, 1), 0);
			cr_assert_eq(fx_live_tables(&f, leaf), t0);
			expect_invalid(&f, r, rs + M2, pg);
		}
		fx_fini(&f);
	}
}

Test(vmm_walker, tlb_invalidated_after_every_job)
{
	struct fx f;
	struct vmm_op op;
	uint64_t e0;

	fx_init(&f, 1ull << 30);
	vmm_op_map(&op, FX_VA, 4 * K4, f.bo[0], 0, 12);
	cr_assert_eq(fx_run(&f, &op, 1), 0);
	expect_maps(&f, FX_VA, 4 * K4, f.bo[0], 0, 12); /* fills the TLB */
	e0 = sim_gpu_tlb_epoch(f.gpu);
	vmm_op_map(&op, FX_VA, 4 * K4, f.bo[1], 0, 12);
	cr_assert_eq(fx_run(&f, &op, 1), 0);
	cr_assert_gt(sim_gpu_tlb_epoch(f.gpu), e0);
	expect_maps(&f, FX_VA, 4 * K4, f.bo[1], 0, 12); /* no stale TLB entry */
	fx_fini(&f);
}

Test(vmm_walker, missing_tlb_invalidate_is_visible)
{
	struct vmm_host_config cfg;
	struct fx f;
	struct vmm_op op;
	struct sim_gpu_xlat x;

	memset(&cfg, 0, sizeof(cfg));
	cfg.seed_bug = VMM_BUG_NO_TLB_INVALIDATE;
	fx_init_cfg(&f, 1ull << 30, &cfg);
	vmm_op_map(&op, FX_VA, 4 * K4, f.bo[0], 0, 12);
	cr_assert_eq(fx_run(&f, &op, 1), 0);
	vmm_op_map(&op, FX_VA, 4 * K4, f.bo[1], 0, 12);
	vmm_host_vm_lock_tables(f.vm);
	cr_assert_eq(sim_gpu_translate(f.gpu, f.vm->vm.pdb, FX_VA, &x), 0); /* fills the TLB */
	vmm_host_vm_unlock_tables(f.vm);
	cr_assert_eq(fx_run(&f, &op, 1), 0);
	vmm_host_vm_lock_tables(f.vm);
	cr_assert_eq(sim_gpu_walk(f.gpu, f.vm->vm.pdb, FX_VA, &x), 0);
	cr_assert_eq(x.pa, f.bo[1]->pa, "the page tables hold the new mapping");
	cr_assert_eq(sim_gpu_translate(f.gpu, f.vm->vm.pdb, FX_VA, &x), 0);
	cr_assert_eq(x.pa, f.bo[0]->pa, "without an invalidate the GPU still sees the old page");
	vmm_host_vm_unlock_tables(f.vm);
	fx_fini(&f);
}

/* A job fence's callbacks run inside its run stage: allocations there must be
 * counted like any other in the section. */
static int g_cb_in_run_stage = -1;

static void cb_record_run_stage(struct vmm_fence *f, struct vmm_fence_cb *cb)
{
	(void)f;
	(void)cb;
	__atomic_store_n(&g_cb_in_run_stage, vmm_host_in_run_stage() ? 1 : 0, __ATOMIC_RELEASE);
}

Test(vmm_walker, fence_callbacks_run_inside_the_counted_run_stage)
{
	struct fx f;
	struct vmm_fence_timeline tl;
	struct vmm_fence gate, *j;
	struct vmm_fence_cb cb;
	struct vmm_op op;

	fx_init(&f, 1ull << 30);
	vmm_fence_timeline_init(&tl);
	vmm_fence_init(&gate, &tl, NULL, NULL);
	vmm_op_map(&op, FX_VA, 4 * K4, f.bo[0], 0, 12);
	cr_assert_eq(vmm_host_submit(f.vm, &op, 1, &gate, &j), 0);
	cr_assert_eq(vmm_fence_add_callback(j, &cb, cb_record_run_stage), 0, "held by the gate");
	cr_assert_not(vmm_host_in_run_stage(), "the submitting thread is not in a run stage");
	vmm_fence_signal(&gate);
	vmm_fence_wait(j);
	cr_assert_eq(__atomic_load_n(&g_cb_in_run_stage, __ATOMIC_ACQUIRE), 1,
		     "the callback ran outside the counted run stage");
	vmm_fence_put(j);
	vmm_host_wait_idle(f.dev);
	fx_fini(&f);
	vmm_fence_timeline_fini(&tl);
}

Test(vmm_walker, in_fence_orders_jobs_and_keeps_the_vm_busy)
{
	struct fx f;
	struct vmm_fence_timeline tl;
	struct vmm_fence gate, *j1, *j2;
	struct vmm_op op;

	fx_init(&f, 1ull << 30);
	vmm_fence_timeline_init(&tl);
	vmm_fence_init(&gate, &tl, NULL, NULL);
	vmm_op_map(&op, FX_VA, 4 * K4, f.bo[0], 0, 12);
	cr_assert_eq(vmm_host_submit(f.vm, &op, 1, &gate, &j1), 0);
	/* The VM's next job must wait for the first one, which waits for the gate. */
	vmm_op_map(&op, FX_VA + 4 * K4, 4 * K4, f.bo[1], 0, 12);
	cr_assert_eq(vmm_host_submit(f.vm, &op, 1, NULL, &j2), 0);
	/* The scheduler has now examined both jobs and found neither runnable:
	 * had it run one, its fence would have signalled before it went idle. */
	vmm_host_wait_sched_idle(f.dev);
	cr_assert_not(vmm_fence_is_signalled(j1), "ran before its in-fence signalled");
	cr_assert_not(vmm_fence_is_signalled(j2), "overtook the VM's previous job");
	expect_faults(&f, FX_VA, 8 * K4);
	cr_assert_eq(vmm_host_vm_destroy(f.vm), -FA_EBUSY, "jobs pending");
	vmm_fence_signal(&gate);
	vmm_fence_wait(j2);
	cr_assert(vmm_fence_is_signalled(j1));
	vmm_fence_put(j1);
	vmm_fence_put(j2);
	vmm_host_wait_idle(f.dev);
	expect_maps(&f, FX_VA, 4 * K4, f.bo[0], 0, 12);
	expect_maps(&f, FX_VA + 4 * K4, 4 * K4, f.bo[1], 0, 12);
	fx_fini(&f);
	cr_assert_eq(gate.refcount, 1, "the job dropped its in-fence reference");
	vmm_fence_timeline_fini(&tl);
}

/*
 * With two run workers, one worker going idle while the other is inside a
 * run stage is not the scheduler going idle: the running job's fence would
 * still be unsignalled although nothing holds it back. A gated job on a
 * second VM keeps one worker idle while the other runs 8 MiB binds.
 */
Test(vmm_walker, sched_idle_waits_for_every_run_worker)
{
	struct vmm_host_config cfg;
	struct vmm_host_vm *vm2;
	struct vmm_fence_timeline tl;
	struct vmm_fence gate, *held, *j;
	struct vmm_op op;
	unsigned int round;
	struct fx f;

	memset(&cfg, 0, sizeof(cfg));
	cfg.run_workers = 2;
	fx_init_cfg(&f, 1ull << 30, &cfg);
	cr_assert_eq(vmm_host_vm_create(f.dev, FX_VA, FX_VA_SIZE, &vm2), 0);
	vmm_fence_timeline_init(&tl);
	vmm_fence_init(&gate, &tl, NULL, NULL);
	vmm_op_map(&op, FX_VA, 4 * K4, f.bo[1], 0, 12);
	cr_assert_eq(vmm_host_submit(vm2, &op, 1, &gate, &held), 0);
	for (round = 0; round < 48; round++) {
		vmm_op_map(&op, FX_VA, 8ull << 20, f.bo[0], 0, 12);
		cr_assert_eq(vmm_host_submit(f.vm, &op, 1, NULL, &j), 0);
		vmm_host_wait_sched_idle(f.dev);
		cr_assert(vmm_fence_is_signalled(j), "round %u: idle while a runnable job ran", round);
		vmm_fence_put(j);
		vmm_op_unmap(&op, FX_VA, 8ull << 20, 12);
		cr_assert_eq(vmm_host_submit(f.vm, &op, 1, NULL, &j), 0);
		vmm_fence_wait(j);
		vmm_fence_put(j);
	}
	cr_assert_not(vmm_fence_is_signalled(held), "ran before its in-fence signalled");
	vmm_fence_signal(&gate);
	vmm_fence_wait(held);
	vmm_fence_put(held);
	vmm_host_wait_idle(f.dev);
	cr_assert_eq(vmm_host_vm_destroy(vm2), 0);
	fx_fini(&f);
	vmm_fence_timeline_fini(&tl);
}

/* ------------------------------------------------------------ end to end vs a page model */

#define PM_PAGES 8192u /* 32 MiB of VA: 16 regions of 2 MiB */

/* Every page of the window through the TLB, as the page model says. */
static void pm_check_all(struct fx *f, const struct vmm_model_page *model, unsigned int when)
{
	unsigned int i;

	vmm_host_vm_lock_tables(f->vm);
	for (i = 0; i < PM_PAGES; i++) {
		struct sim_gpu_xlat x;
		int e = sim_gpu_translate(f->gpu, f->vm->vm.pdb, FX_VA + ((uint64_t)i << 12), &x);

		cr_assert(vmm_model_page_ok(&model[i], e, &x),
			  "page %u (after %u): %d, pa 0x%llx, page shift %u, type %d; model: %s", i,
			  when, e, (unsigned long long)x.pa, x.page_shift, (int)x.type,
			  model[i].bo ? "mapped" : "unmapped");
	}
	vmm_host_vm_unlock_tables(f->vm);
}

Test(vmm_walker, random_jobs_against_page_model)
{
	static struct vmm_model_page model[PM_PAGES];
	static const unsigned int shifts[3] = { 12, 16, 21 };
	struct fa_rng rng;
	struct fx f;
	unsigned int it, i, accepted = 0, refused = 0, holes = 0;
	unsigned int iters = (unsigned int)fa_test_iters(3000);

	fa_rng_seed(&rng, fa_test_seed(0xe2e));
	memset(model, 0, sizeof(model));
	fx_init(&f, 1ull << 30);
	for (it = 0; it < iters; it++) {
		struct vmm_op op;
		unsigned int sh = shifts[fa_rng_below(&rng, 3)], step = 1u << (sh - 12);
		unsigned int a = (unsigned int)fa_rng_below(&rng, PM_PAGES / step) * step;
		unsigned int n = (1 + (unsigned int)fa_rng_below(&rng, sh == 21 ? 2 : 8)) * step;
		bool hole = false, split;
		int want, err;

		if (a + n > PM_PAGES)
			n = PM_PAGES - a;
		if (fa_rng_below(&rng, 3)) {
			const struct vmm_bo *bo = f.bo[fa_rng_below(&rng, 4)];
			uint64_t off = fa_rng_below(&rng, ((8ull << 20) >> sh) - (n >> (sh - 12)) + 1) << sh;

			vmm_op_map(&op, FX_VA + ((uint64_t)a << 12), (uint64_t)n << 12,
				   (struct vmm_bo *)bo, off, sh);
			op.flags = fa_rng_below(&rng, 4) == 0 ? VMM_MAP_READ_ONLY : 0;
		} else {
			/* Mostly unmap what is there: one or more pages of the page
			 * size that maps a random page (or a random range otherwise). */
			unsigned int p = (unsigned int)fa_rng_below(&rng, PM_PAGES);

			if (model[p].bo && fa_rng_below(&rng, 4)) {
				sh = model[p].shift;
				step = 1u << (sh - 12);
				a = p & ~(step - 1);
				n = (1 + (unsigned int)fa_rng_below(&rng, 3)) * step;
				if (a + n > PM_PAGES)
					n = PM_PAGES - a;
			}
			vmm_op_unmap(&op, FX_VA + ((uint64_t)a << 12), (uint64_t)n << 12, sh);
			for (i = a; i < a + n; i++)
				hole |= !model[i].bo;
		}
		split = vmm_model_bad_split(model, PM_PAGES, a) ||
			vmm_model_bad_split(model, PM_PAGES, a + n);
		want = split ? -FA_EINVAL : 0; /* holes are fine: the unmap removes what exists */
		holes += hole && !split;
		err = vmm_host_submit(f.vm, &op, 1, NULL, NULL);
		cr_assert_eq(err, want, "job %u (%s va page %u, %u pages, 2^%u): %d, model says %d",
			     it, op.kind == VMM_OP_MAP ? "map" : "unmap", a, n, sh, err, want);
		if (err) {
			refused++;
			continue;
		}
		accepted++;
		vmm_model_apply(model, FX_VA, &op);
		if (it % 100 != 99 && it != iters - 1)
			continue;
		vmm_host_wait_idle(f.dev);
		pm_check_all(&f, model, it);
	}
	cr_assert_gt(accepted, iters / 2, "%u of %u jobs accepted", accepted, iters);
	cr_assert_gt(refused, 0u, "the model predicted some refusals too");
	cr_assert_gt(holes, 0u, "some accepted unmaps covered holes");
	fx_fini(&f);
}

/* ------------------------------------------------------------ exact reservations */

/* A random op valid against @p model (maps of every page size over anything,
 * unmaps of what is mapped); false when the draw would be refused. */
static bool pm_draw_op(struct fa_rng *rng, const struct vmm_model_page *model, struct fx *f,
		       struct vmm_op *op)
{
	static const unsigned int shifts[3] = { 12, 16, 21 };
	unsigned int sh = shifts[fa_rng_below(rng, 3)], step = 1u << (sh - 12), i;
	unsigned int a = (unsigned int)fa_rng_below(rng, PM_PAGES / step) * step;
	unsigned int n = (1 + (unsigned int)fa_rng_below(rng, sh == 21 ? 2 : 8)) * step;

	if (a + n > PM_PAGES)
		n = PM_PAGES - a;
	if (fa_rng_below(rng, 3)) {
		struct vmm_bo *bo = f->bo[fa_rng_below(rng, 4)];
		uint64_t off = fa_rng_below(rng, ((8ull << 20) >> sh) - (n >> (sh - 12)) + 1) << sh;

		vmm_op_map(op, FX_VA + ((uint64_t)a << 12), (uint64_t)n << 12, bo, off, sh);
		op->flags = fa_rng_below(rng, 4) == 0 ? VMM_MAP_READ_ONLY : 0;
	} else {
		unsigned int p = (unsigned int)fa_rng_below(rng, PM_PAGES);

		if (!model[p].bo)
			return false;
		sh = model[p].shift;
		step = 1u << (sh - 12);
		a = p & ~(step - 1);
		n = (1 + (unsigned int)fa_rng_below(rng, 3)) * step;
		if (a + n > PM_PAGES)
			n = PM_PAGES - a;
		vmm_op_unmap(op, FX_VA + ((uint64_t)a << 12), (uint64_t)n << 12, sh);
		for (i = a; i < a + n; i++)
			if (!model[i].bo)
				return false;
	}
	return !vmm_model_bad_split(model, PM_PAGES, a) && !vmm_model_bad_split(model, PM_PAGES, a + n);
}

/*
 * Random streams of multi-op jobs, up to 64 pending on the VM at once (held
 * by a gate fence on the first), with a page-table budget that refuses some.
 * Job by job the core counts whether its run step created exactly the tables
 * and took exactly the mapping and shadow nodes submit reserved
 * (vmm_stats::jobs_inexact) and whether any reservation was short; both must
 * stay 0. A refused submit changes nothing (views, plan, claims, VRAM, host
 * memory), even with jobs pending. After every batch the MMU walker agrees
 * with the page model.
 */
Test(vmm_plan, random_streams_many_pending_reserve_exactly, .timeout = 180)
{
	static struct vmm_model_page model[PM_PAGES];
	struct vmm_host_config cfg;
	struct vmm_fence_timeline tl;
	struct fa_rng rng;
	struct fx f;
	const struct vmm_stats *st;
	unsigned int batch, batches = (unsigned int)fa_test_iters(60), max_pending = 0;
	unsigned long accepted = 0, rejected = 0, multi = 0;

	fa_rng_seed(&rng, fa_test_seed(0x91a7));
	memset(model, 0, sizeof(model));
	memset(&cfg, 0, sizeof(cfg));
	cfg.pt_budget = 72u << 10;
	fx_init_cfg(&f, 1ull << 30, &cfg);
	st = &f.dev->dev.stats;
	vmm_fence_timeline_init(&tl);
	for (batch = 0; batch < batches; batch++) {
		struct vmm_fence gate;
		unsigned int want = 1 + (unsigned int)fa_rng_below(&rng, 64), pending = 0, tries;
		bool gated = false;

		vmm_fence_init(&gate, &tl, NULL, NULL);
		for (tries = 0; pending < want && tries < 4 * want; tries++) {
			struct vmm_op ops[4];
			unsigned int k = 1 + (unsigned int)fa_rng_below(&rng, 4), n = 0, i, j;
			struct snap s;
			int err;

			for (i = 0; i < k; i++) {
				bool ok = pm_draw_op(&rng, model, &f, &ops[n]);

				for (j = 0; ok && j < n; j++)
					ok = ops[j].va + ops[j].size <= ops[n].va ||
					     ops[n].va + ops[n].size <= ops[j].va;
				n += ok;
			}
			if (!n)
				continue;
			fx_snap_now(&f, &s); /* nothing runs: the gate holds every job */
			err = vmm_host_submit(f.vm, ops, n, gated ? NULL : &gate, NULL);
			if (err == -FA_EDQUOT) {
				expect_unchanged_now(&f, &s, "over the page-table budget", false);
				rejected++;
				continue;
			}
			cr_assert_eq(err, 0, "batch %u: submit %d", batch, err);
			gated = true;
			for (i = 0; i < n; i++)
				vmm_model_apply(model, FX_VA, &ops[i]);
			pending++;
			accepted++;
			multi += n > 1;
		}
		if (pending > max_pending)
			max_pending = pending;
		vmm_fence_signal(&gate);
		vmm_host_wait_idle(f.dev);
		cr_assert_eq(vmm_stat_get(&st->jobs_inexact), 0ul, "batch %u: a job used other than reserved",
			     batch);
		cr_assert_eq(vmm_stat_get(&st->reserve_short), 0ul, "batch %u: a reservation ran short", batch);
		cr_assert_eq(vmm_stat_get(&st->pt_used), vmm_stat_get(&st->pt_reserved));
		cr_assert_eq(vmm_stat_get(&st->nodes_used), vmm_stat_get(&st->nodes_reserved));
		cr_assert_eq(vmm_stat_get(&st->run_errors), 0ul);
		pm_check_all(&f, model, batch);
	}
	fprintf(stderr, "vmm_plan: %lu jobs (%lu multi-op), up to %u pending, %lu refused by the budget;"
		" %lu tables and %lu nodes reserved = used (static worst case %lu tables)\n",
		accepted, multi, max_pending, rejected, vmm_stat_get(&st->pt_reserved),
		vmm_stat_get(&st->nodes_reserved), vmm_stat_get(&st->pt_static));
	cr_assert_geq(max_pending, 32u);
	cr_assert_gt(rejected, 0ul, "the budget never refused anything");
	cr_assert_gt(accepted, 10ul * batches);
	cr_assert_gt(vmm_stat_get(&st->pt_reserved), 100ul);
	fx_fini(&f);
	vmm_fence_timeline_fini(&tl);
}

/* The budget alone: a submit that would pin more page-table bytes than the
 * VM may fails with -FA_EDQUOT and changes nothing; tables a pending unmap
 * releases stay charged until they are freed after their invalidate. */
Test(vmm_plan, page_table_budget)
{
	struct vmm_host_config cfg;
	struct vmm_fence_timeline tl;
	struct vmm_fence gate;
	struct vmm_op op;
	struct snap s;
	struct fx f;

	memset(&cfg, 0, sizeof(cfg));
	/* root 32 B + PD2 + PD1 + PD0 + one small PT = 4 x 4 KiB + 32 */
	cfg.pt_budget = 4 * 4096 + 32;
	fx_init_cfg(&f, 1ull << 30, &cfg);
	vmm_fence_timeline_init(&tl);
	vmm_fence_init(&gate, &tl, NULL, NULL);
	vmm_op_map(&op, FX_VA, 2 * M2 - K4, f.bo[0], 0, 12); /* 2 small PTs: 5 tables + root */
	fx_snap(&f, &s);
	cr_assert_eq(vmm_host_submit(f.vm, &op, 1, NULL, NULL), -FA_EDQUOT);
	expect_unchanged(&f, &s, "budget");
	vmm_op_map(&op, FX_VA, M2, f.bo[0], 0, 12);
	cr_assert_eq(vmm_host_submit(f.vm, &op, 1, &gate, NULL), 0);
	/* The pending unmap releases all 4 tables (charged until they are freed
	 * after their invalidate); a map in the next 2 MiB then needs 4 new
	 * ones: 8 tables pinned at once, over budget while the unmap is pending. */
	vmm_op_unmap(&op, FX_VA, M2, 12);
	cr_assert_eq(vmm_host_submit(f.vm, &op, 1, NULL, NULL), 0);
	vmm_op_map(&op, FX_VA + M2, K4, f.bo[1], 0, 12);
	fx_snap_now(&f, &s);
	cr_assert_eq(vmm_host_submit(f.vm, &op, 1, NULL, NULL), -FA_EDQUOT);
	expect_unchanged_now(&f, &s, "budget with a pending unmap", false);
	vmm_fence_signal(&gate);
	vmm_host_wait_idle(f.dev);
	/* cleaned up: the released tables were freed after their invalidate */
	cr_assert_eq(fx_run(&f, &op, 1), 0, "fits once the released tables are freed");
	expect_maps(&f, FX_VA + M2, K4, f.bo[1], 0, 12);
	cr_assert_eq(f.dev->dev.stats.pt_budget_rejects, 2ul);
	fx_fini(&f);
	vmm_fence_timeline_fini(&tl);
}

/* ------------------------------------------------------------ threads + walker */

struct mt_arg {
	struct fx *f;
	unsigned int id;
	uint64_t seed;
	/* model: per slot of 2 MiB, which BO page (or none) each 4 KiB page maps */
	struct vmm_bo *bo[16];
	uint64_t off[16];
	unsigned int shift[16];
	unsigned long jobs;
};

#define MT_SLOT(a, i) (FX_VA + ((uint64_t)((a)->id * 16 + (i)) << 21))

static void *mt_thread(void *p)
{
	struct mt_arg *a = (struct mt_arg *)p;
	struct fa_rng rng;
	unsigned int it, n = (unsigned int)fa_test_iters(400);
	struct vmm_fence *fence[8] = { NULL };

	fa_rng_seed(&rng, a->seed);
	for (it = 0; it < n; it++) {
		unsigned int i = (unsigned int)fa_rng_below(&rng, 16);
		static const unsigned int shifts[3] = { 12, 16, 21 };
		struct vmm_op op;
		int err;

		if (a->bo[i] && fa_rng_below(&rng, 3) == 0) {
			vmm_op_unmap(&op, MT_SLOT(a, i), M2, a->shift[i]);
			a->bo[i] = NULL;
		} else {
			unsigned int s = shifts[fa_rng_below(&rng, 3)];

			a->bo[i] = a->f->bo[fa_rng_below(&rng, 4)];
			a->off[i] = fa_rng_below(&rng, 4) * M2;
			a->shift[i] = s;
			vmm_op_map(&op, MT_SLOT(a, i), M2, a->bo[i], a->off[i], s);
		}
		err = vmm_host_submit(a->f->vm, &op, 1, NULL, &fence[it & 7]);
		if (err)
			return (void *)(intptr_t)err;
		a->jobs++;
		if (fence[(it + 1) & 7]) {
			vmm_fence_wait(fence[(it + 1) & 7]);
			vmm_fence_put(fence[(it + 1) & 7]);
			fence[(it + 1) & 7] = NULL;
		}
	}
	for (it = 0; it < 8; it++)
		if (fence[it]) {
			vmm_fence_wait(fence[it]);
			vmm_fence_put(fence[it]);
		}
	return NULL;
}

/* Two independent MMU models must agree: the simulator's walker (raw VRAM,
 * dual PD0 big-first) and pt.h's fa_pt_walk() through a direct accessor. */
static void cross_check_walkers(struct fx *f, uint64_t seed)
{
	struct fa_pramin_direct direct;
	struct fa_pramin_accessor acc;
	struct sim_gpu_xlat x;
	struct fa_pt_xlate y;
	struct fa_rng rng;
	unsigned int i, agree_mapped = 0;

	memset(&y, 0, sizeof(y));
	cr_assert_eq(fa_pramin_direct_init(&direct, f->gpu->bar.vram, 0, f->gpu->bar.vram_size,
					   &acc), 0);
	fa_rng_seed(&rng, seed ^ 0xc0ffee);
	vmm_host_vm_lock_tables(f->vm);
	for (i = 0; i < (unsigned int)fa_test_iters(4000); i++) {
		uint64_t va = FX_VA + (fa_rng_below(&rng, 3 * 16 * M2 >> 12) << 12);
		int a = sim_gpu_walk(f->gpu, f->vm->vm.pdb, va, &x);
		int b = fa_pt_walk(f->gpu->fmt, &acc, f->vm->vm.pdb, va, &y);

		cr_assert_eq(a == 0, b == 0, "va 0x%llx: simulator %d, pt.h %d",
			     (unsigned long long)va, a, b);
		if (a == 0) {
			cr_assert_eq(x.pa, y.pa, "va 0x%llx", (unsigned long long)va);
			cr_assert_eq(x.page_shift, y.page_shift, "va 0x%llx", (unsigned long long)va);
			agree_mapped++;
		}
	}
	vmm_host_vm_unlock_tables(f->vm);
	cr_assert_gt(agree_mapped, 0u);
}

Test(vmm_mt, threads_then_mmu_walker)
{
	struct fx f;
	struct mt_arg a[3];
	pthread_t th[3];
	uint64_t seed = fa_test_seed(0x7e57);
	unsigned int t, i;
	void *rc;

	fx_init(&f, 1ull << 30);
	memset(a, 0, sizeof(a));
	for (t = 0; t < 3; t++) {
		a[t].f = &f;
		a[t].id = t;
		a[t].seed = seed + t;
		cr_assert_eq(pthread_create(&th[t], NULL, mt_thread, &a[t]), 0);
	}
	for (t = 0; t < 3; t++) {
		cr_assert_eq(pthread_join(th[t], &rc), 0);
		cr_assert_null(rc, "thread %u: submit failed with %d", t, (int)(intptr_t)rc);
	}
	vmm_host_wait_idle(f.dev);
	cr_assert(vmm_host_vm_check_views(f.vm));
	for (t = 0; t < 3; t++)
		for (i = 0; i < 16; i++) {
			if (a[t].bo[i])
				expect_maps(&f, MT_SLOT(&a[t], i), M2, a[t].bo[i], a[t].off[i],
					    a[t].shift[i]);
			else
				expect_faults(&f, MT_SLOT(&a[t], i), M2);
		}
	cr_assert_eq(f.dev->dev.stats.jobs_run, a[0].jobs + a[1].jobs + a[2].jobs);
	cross_check_walkers(&f, seed);
	fx_fini(&f);
}

/* ------------------------------------------------------------ the demo */

static int run_demo(const char *const *args, unsigned int n, char *out, size_t cap)
{
	char *argv[16];
	char path[] = "/tmp/fa_vmm_demo_XXXXXX";
	int fd = mkstemp(path), saved = dup(1), rc;
	unsigned int i;
	ssize_t got;

	cr_assert_geq(fd, 0);
	argv[0] = (char *)"demo";
	for (i = 0; i < n; i++)
		argv[i + 1] = (char *)args[i];
	fflush(stdout);
	dup2(fd, 1);
	rc = vmm_demo_main((int)n + 1, argv);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	lseek(fd, 0, SEEK_SET);
	got = read(fd, out, cap - 1);
	out[got > 0 ? got : 0] = 0;
	close(fd);
	unlink(path);
	return rc;
}

Test(vmm_demo_mt, short_run_summary_passes)
{
	static char out[1 << 16];
	const char *args[] = { "--seconds=0.4", "--vms=2", "--threads=2", "--vram-gib=4",
			       "--big-gib=1", "--verify-ms=100", "--quiet" };

	cr_assert_eq(run_demo(args, 7, out, sizeof(out)), 0, "%s", out);
	cr_assert_not_null(strstr(out, "RESULT: PASS"), "%s", out);
	cr_assert_not_null(strstr(out, "allocations attempted inside signalling sections: 0"), "%s", out);
	cr_assert_not_null(strstr(out, " 0 mismatches"), "%s", out);
	cr_assert_not_null(strstr(out, "leaks             page tables 0 "), "%s", out);
	cr_assert_not_null(strstr(out, "host allocations 0 (0 bytes)"), "%s", out);
	cr_assert_not_null(strstr(out, "0 torn entries"), "%s", out);
	cr_assert_not_null(strstr(out, "live PTEs         0 torn or foreign PTEs observed after "), "%s", out);
	cr_assert_null(strstr(out, "after 0 MMIO writes"), "the checker ran: %s", out);
	cr_assert_not_null(strstr(out, "1 GiB bind"), "%s", out);
	cr_assert_null(strstr(out, "FAILED"), "%s", out);
	cr_assert_not_null(strstr(out, "  ok      no validator report"), "%s", out);
}

Test(vmm_demo_mt, ver3_format_and_direct_access)
{
	static char out[1 << 16];
	const char *args[] = { "--seconds=0.3", "--vms=2", "--threads=2", "--vram-gib=2",
			       "--big-gib=1", "--format=ver3", "--pt-access=direct", "--quiet" };

	cr_assert_eq(run_demo(args, 8, out, sizeof(out)), 0, "%s", out);
	cr_assert_not_null(strstr(out, "NVIDIA MMU ver3"), "%s", out);
	cr_assert_not_null(strstr(out, " 0 mismatches"), "%s", out);
	cr_assert_not_null(strstr(out, "RESULT: PASS"), "%s", out);
}

/*
 * The lock counters against what the host's design says, exactly (counts,
 * never times): a run stage through a CPU mapping takes the device-wide hw
 * lock once (flush + TLB invalidate), its VM's page-table lock once, and no
 * other device-wide lock, whichever thread runs it; through the PRAMIN
 * window it takes the hw lock for every window access besides.
 */
static void expect_run_stage_locks(bool direct, const char *workers)
{
	static char out[1 << 16];
	const char *args[] = { "--seconds=0.3", "--vms=4", "--threads=2", "--vram-gib=2",
			       "--big-gib=0", "--verify-ms=100", "--quiet", "--lock-stats",
			       direct ? "--pt-access=direct" : "--pt-access=pramin", workers };
	const struct vmm_lock_stat *l = demo_last.locks;
	unsigned int c;

	cr_assert_eq(run_demo(args, 10, out, sizeof(out)), 0, "%s", out);
	cr_assert_gt(demo_last.jobs, 0ul);
	cr_assert_not_null(strstr(out, "locks (per job)"), "%s", out);
	for (c = 0; c < VMM_HOST_LOCK_CLASSES; c++) {
		cr_assert(l[c].on, "class %s not counted", vmm_host_lock_class_name(c));
		cr_assert_geq(l[c].acquired, l[c].in_run, "%s", vmm_host_lock_class_name(c));
		cr_assert_geq(l[c].acquired, l[c].contended, "%s", vmm_host_lock_class_name(c));
	}
	cr_assert_eq(l[VMM_HOST_LOCK_PT].in_run, demo_last.jobs);
	cr_assert_eq(l[VMM_HOST_LOCK_VM].in_run, 0ul);
	cr_assert_eq(l[VMM_HOST_LOCK_VRAM].in_run, 0ul);
	cr_assert_eq(l[VMM_HOST_LOCK_SCHED].in_run, 0ul, "dependency callbacks of the host's own jobs");
	cr_assert_eq(l[VMM_HOST_LOCK_CLEANUP].in_run, 0ul);
	if (direct)
		cr_assert_eq(l[VMM_HOST_LOCK_HW].in_run, demo_last.jobs, "%s", out);
	else
		cr_assert_gt(l[VMM_HOST_LOCK_HW].in_run, demo_last.jobs, "%s", out);
	if (!strcmp(workers, "--run-workers=1"))
		cr_assert_eq(demo_last.runs_overlapped, 0ul);
}

Test(vmm_demo_mt, run_stage_locks_direct)
{
	expect_run_stage_locks(true, "--run-workers=1");
	expect_run_stage_locks(true, "--run-workers=3");
}

Test(vmm_demo_mt, run_stage_locks_pramin)
{
	expect_run_stage_locks(false, "--run-workers=1");
	expect_run_stage_locks(false, "--run-workers=2");
}

Test(vmm_demo_mt, seeded_allocation_in_run_stage_fails)
{
	static char out[1 << 16];
	const char *args[] = { "--seconds=0.2", "--vms=1", "--threads=1", "--vram-gib=2",
			       "--big-gib=0", "--quiet", "--seed-bug=1" };

	cr_assert_eq(run_demo(args, 7, out, sizeof(out)), 1, "%s", out);
	cr_assert_not_null(strstr(out, "  FAILED  no allocation inside a signalling section"),
			   "%s", out);
	cr_assert_not_null(strstr(out, "RESULT: FAIL"), "%s", out);
}

Test(vmm_demo_mt, bad_arguments)
{
	static char out[4096];
	const char *args[] = { "--seed-bug=9" };
	const char *help[] = { "--help" };

	cr_assert_eq(run_demo(args, 1, out, sizeof(out)), 2);
	cr_assert_eq(run_demo(help, 1, out, sizeof(out)), 0);
	cr_assert_not_null(strstr(out, "--seed-bug"));
}
