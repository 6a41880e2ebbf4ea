// SPDX-License-Identifier: MIT
/*
 * Kernel build of reserve.h: every public function and macro, over a static
 * bump allocator (no kmalloc needed), with results checked.
 */
#include <linux/kernel.h>
#include <fencealloc/reserve.h>

#define FA_KCHECK_RESERVE_OBJS 16

struct fa_kcheck_reserve_alloc {
	void *objs[FA_KCHECK_RESERVE_OBJS][4];
	unsigned int next;
	int live;
	unsigned int fail_at; /* 1-based call number that fails, 0 = never */
	unsigned int calls;
};

static struct fa_kcheck_reserve_alloc fa_kcheck_reserve_a;
static struct fa_reserve_pool fa_kcheck_reserve_pool;

static void *fa_kcheck_reserve_alloc_fn(void *ctx, size_t size, fa_gfp_t gfp)
{
	struct fa_kcheck_reserve_alloc *a = (struct fa_kcheck_reserve_alloc *)ctx;

	(void)gfp;
	if (++a->calls == a->fail_at || a->next >= FA_KCHECK_RESERVE_OBJS ||
	    size > sizeof(a->objs[0]))
		return NULL;
	a->live++;
	return a->objs[a->next++];
}

static void fa_kcheck_reserve_free_fn(void *ctx, void *obj, size_t size)
{
	struct fa_kcheck_reserve_alloc *a = (struct fa_kcheck_reserve_alloc *)ctx;

	(void)obj;
	(void)size;
	a->live--;
}

int fa_kcheck_reserve(void);
int fa_kcheck_reserve(void)
{
	struct fa_kcheck_reserve_alloc *a = &fa_kcheck_reserve_a;
	struct fa_reserve_pool *p = &fa_kcheck_reserve_pool;
	struct fa_reserve_source src;
	struct fa_reserve r;
	unsigned int need = 0;
	void *o, *g = NULL;
	int bad = 0;

	src.alloc = fa_kcheck_reserve_alloc_fn;
	src.free = fa_kcheck_reserve_free_fn;
	src.ctx = a;
	o = fa_reserve_source_alloc(&src, 8, FA_GFP_KERNEL);
	bad |= !o;
	fa_reserve_source_free(&src, o, 8);
	bad |= a->live != 0;

	bad |= fa_reserve_pool_init(p, &src, 1, 2, 6) != -FA_EINVAL;
	bad |= fa_reserve_pool_init(p, &src, sizeof(a->objs[0]), 2, 6) != 0;
	fa_reserve_init(&r, p);
	a->calls = 0;
	a->fail_at = 3;
	bad |= fa_reserve_fill(&r, 4, FA_GFP_KERNEL) != -FA_ENOMEM;
	bad |= fa_reserve_count(&r) != 0 || fa_reserve_pool_charged(p) != 0;
	bad |= a->live != (int)fa_reserve_pool_cached(p);
	a->fail_at = 0;
	bad |= fa_reserve_fill(&r, 7, FA_GFP_KERNEL) != -FA_ENOSPC;
	bad |= fa_reserve_fill(&r, 4, FA_GFP_KERNEL) != 0 || fa_reserve_count(&r) != 4;
	o = fa_reserve_take(&r);
	bad |= !o || fa_reserve_count(&r) != 3;
	fa_reserve_give_back(&r, o);
	o = fa_reserve_take(&r);
	bad |= fa_reserve_pool_get(p, FA_GFP_KERNEL, &g) != 0 || !g;
	bad |= fa_reserve_pool_charged(p) != 5;
	fa_reserve_release(&r);
	fa_reserve_pool_put(p, o);
	fa_reserve_pool_put(p, g);
	bad |= fa_reserve_pool_charged(p) != 0 || fa_reserve_pool_cached(p) != 2;
	bad |= fa_reserve_pool_trim(p) != 2;
	fa_reserve_pool_fini(p);
	bad |= a->live != 0;

	bad |= fa_reserve_need_add(&need, FA_RESERVE_GPUVA_PER_MAP, 2) != 0;
	bad |= fa_reserve_need_add(&need, FA_RESERVE_GPUVA_PER_UNMAP, 1) != 0 || need != 8;
	bad |= fa_reserve_need_add(&need, ~0u, 2) != -FA_EOVERFLOW || need != 8;
	bad |= FA_RESERVE_NO_BUDGET != ~0UL;
	return bad ? -FA_EINVAL : 0;
}
