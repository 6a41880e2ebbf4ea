// SPDX-License-Identifier: MIT
/*
 * Kernel build of pt.h and pt_formats.h: every public function and macro,
 * over a static "VRAM" buffer with the direct accessor, a bump table
 * allocator and kmalloc'ed shadow nodes; results are checked so that a
 * miscompiled walk fails the module's load as well as its build.
 */
#include <linux/kernel.h>
#include <linux/slab.h>
#include <fencealloc/pt.h>

#define FA_KCHECK_PT_VRAM 0x10000

static unsigned char fa_kcheck_pt_vram[FA_KCHECK_PT_VRAM] __aligned(4096);
static struct fa_pramin_direct fa_kcheck_pt_direct;
static struct fa_pramin_accessor fa_kcheck_pt_acc;
static struct fa_pt fa_kcheck_pt_tree;

struct fa_kcheck_pt_mem {
	uint64_t bump;
	int live;
};

static struct fa_kcheck_pt_mem fa_kcheck_pt_mem;

static int fa_kcheck_pt_alloc(void *ctx, uint64_t size, uint64_t align, fa_gfp_t gfp,
			      uint64_t *addr)
{
	struct fa_kcheck_pt_mem *m = ctx;
	uint64_t at;

	(void)gfp;
	if (fa_align_up(m->bump, align, &at) || at + size > FA_KCHECK_PT_VRAM)
		return -FA_ENOSPC;
	m->bump = at + size;
	m->live++;
	*addr = at;
	return 0;
}

static void fa_kcheck_pt_free(void *ctx, uint64_t addr, uint64_t size)
{
	struct fa_kcheck_pt_mem *m = ctx;

	(void)addr;
	(void)size;
	m->live--;
}

static void *fa_kcheck_pt_shadow_alloc(void *ctx, size_t size, fa_gfp_t gfp)
{
	(void)ctx;
	(void)gfp;
	return kmalloc(size, GFP_KERNEL);
}

static void fa_kcheck_pt_shadow_free(void *ctx, void *obj, size_t size)
{
	(void)ctx;
	(void)size;
	kfree(obj);
}

static int fa_kcheck_pt_formats(void)
{
	const struct fa_pt_format *v2 = fa_pt_format_nv_ver2();
	const struct fa_pt_format *v3 = fa_pt_format_nv_ver3();
	const struct fa_pt_format *x86 = fa_pt_format_x86_64();
	uint64_t sub[2], raw[2];
	struct fa_pt_entry e;
	int bad = 0;

	bad |= fa_pt_format_validate(v2) || fa_pt_format_validate(v3) ||
	       fa_pt_format_validate(x86);
	bad |= fa_pt_level_entries(v2, FA_PT_NV2_LVL_PD0) != 256;
	bad |= fa_pt_level_bytes(v2, FA_PT_NV2_LVL_PT_BIG) != 256;
	bad |= fa_pt_page_index(v2, 1ull << 21) != 2 || fa_pt_page_index(x86, 1ull << 16) != -1;
	bad |= !fa_pt_pa_ok(v2, 0x1000, 12, FA_PT_APER_VRAM);
	raw[0] = fa_pt_pte_encode(v3, FA_PT_NV3_LVL_PT_SMALL, 0x12345000,
				  FA_PT_RO | FA_PT_KIND(1) | FA_PT_APER_PEER | FA_PT_PEER(2));
	raw[1] = 0;
	fa_pt_entry_decode(v3, FA_PT_NV3_LVL_PT_SMALL, raw, &e);
	bad |= e.type != FA_PT_ENTRY_PTE || e.addr != 0x12345000;
	sub[0] = 0x1100;
	sub[1] = 0x2000;
	fa_pt_pde_encode(v2, FA_PT_NV2_LVL_PD0, sub, 3, FA_PT_APER_VRAM, raw);
	fa_pt_entry_decode(v2, FA_PT_NV2_LVL_PD0, raw, &e);
	bad |= e.type != FA_PT_ENTRY_PDE || e.present != 3 || e.sub[0] != 0x1100 ||
	       e.sub[1] != 0x2000;
	return bad ? -EINVAL : 0;
}

static int fa_kcheck_pt_tree_ops(void)
{
	struct fa_pt *pt = &fa_kcheck_pt_tree;
	struct fa_pt_table_alloc ta;
	struct fa_reserve_source rs;
	struct fa_pt_config cfg;
	struct fa_pt_estimate est;
	struct fa_pt_xlate x;
	struct fa_pt_stats st;
	uint64_t pages[2];
	int bad = 0;

	if (fa_pramin_direct_init(&fa_kcheck_pt_direct, fa_kcheck_pt_vram, 0, FA_KCHECK_PT_VRAM,
				  &fa_kcheck_pt_acc))
		return -EINVAL;
	ta.alloc = fa_kcheck_pt_alloc;
	ta.free = fa_kcheck_pt_free;
	ta.ctx = &fa_kcheck_pt_mem;
	rs.alloc = fa_kcheck_pt_shadow_alloc;
	rs.free = fa_kcheck_pt_shadow_free;
	rs.ctx = NULL;
	fa_pt_config_init(&cfg, fa_pt_format_nv_ver2(), &fa_kcheck_pt_acc, &ta, &rs);
	if (fa_pt_init(pt, &cfg, FA_GFP_KERNEL))
		return -ENOMEM;
	bad |= fa_pt_node_bytes(pt->fmt, 0) == 0;
	bad |= fa_pt_estimate_static(pt->fmt, 0x1ff000, 0x2000, 0x1000, &est) || est.total != 5;
	bad |= fa_pt_estimate(pt, 0x1ff000, 0x2000, 0x1000, &est) || est.total != 5;
	bad |= fa_pt_estimate_tables_of_size(pt->fmt, &est, 4096) != 5;
	bad |= fa_pt_ref(pt, 0x1ff000, 0x2000, 0x1000, FA_GFP_KERNEL) != 0;
	bad |= fa_pt_ref(pt, 0x400000, 0x10000, 0x10000, FA_GFP_KERNEL) != 0;
	bad |= fa_pt_map(pt, 0x1ff000, 0x2000, 0x1000, 0x100000, FA_PT_APER_VRAM) != 0;
	pages[0] = 0x30000;
	pages[1] = 0x20000;
	bad |= fa_pt_map(pt, 0x400000, 0x10000, 0x10000, 0x40000, 0) != 0;
	bad |= fa_pt_translate(pt, 0x200123, &x) != 0 || x.pa != 0x101123;
	bad |= fa_pt_walk(pt->fmt, &fa_kcheck_pt_acc, fa_pt_root_addr(pt), 0x401000, &x) != 0 ||
	       x.pa != 0x41000;
	bad |= fa_pt_sparse(pt, 0x1ff000, 0x2000, 0x1000) != 0;
	bad |= fa_pt_translate(pt, 0x200123, &x) != -FA_ENOENT || x.type != FA_PT_ENTRY_SPARSE;
	bad |= fa_pt_map_pages(pt, 0x1ff000, 0x2000, 0x1000, pages, 0) != 0;
	bad |= fa_pt_unmap(pt, 0x1ff000, 0x2000, 0x1000) != 0;
	bad |= fa_pt_unmap(pt, 0x400000, 0x10000, 0x10000) != 0;
	bad |= fa_pt_unref(pt, 0x1ff000, 0x2000, 0x1000, 1) != 0;
	bad |= fa_pt_unref(pt, 0x400000, 0x10000, 0x10000, 2) != 0;
	bad |= fa_pt_pending(pt) != 6;
	bad |= fa_pt_reclaim(pt, 1) != 2 || fa_pt_reclaim(pt, 2) != 4;
	fa_pt_get_stats(pt, &st);
	bad |= st.allocated != 7 || st.freed != 6;
	bad |= fa_pt_fini(pt) != 0 || fa_kcheck_pt_mem.live != 0;
	return bad ? -EINVAL : 0;
}

int fa_kcheck_pt(void);
int fa_kcheck_pt(void)
{
	int ret = fa_kcheck_pt_formats();

	if (ret)
		return ret;
	return fa_kcheck_pt_tree_ops();
}
