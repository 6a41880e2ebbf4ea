/* SPDX-License-Identifier: MIT */
/*
 * What the VMM's stream tests share (tests/unit/test_vmm.c, tests/fuzz/fuzz_vmm.c):
 *
 * - a page model of a VM's expected GPU mapping over a window of 4 KiB
 *   pages (what a page should translate to, with which page size and
 *   read-only bit, or whether it reads as sparse), the split rule the
 *   submit-side check enforces, and the comparison of one page with what
 *   the simulated MMU (examples/sim/sim_gpu.h) returned for it;
 * - a snapshot of everything a refused submit must leave alone (both views,
 *   the page-table plan, table claims, pools, VRAM, host memory).
 *
 * Neither takes a lock: the caller holds the VM's locks (or knows nothing
 * runs). No Criterion here: results are returned for the caller to assert.
 */
#ifndef FA_TEST_VMM_MODEL_H
#define FA_TEST_VMM_MODEL_H

#include <vmm/vmm.h>
#include <sim/sim_gpu.h>

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* ------------------------------------------------------------ page model */

/** What one 4 KiB page of the window should be. */
struct vmm_model_page {
	const struct vmm_bo *bo; /* NULL: unmapped */
	uint64_t off;            /* offset of this page in @bo */
	unsigned int shift;      /* page size of the mapping */
	uint32_t flags;          /* VMM_MAP_* */
	bool sparse;             /* inside a sparse region (reads as zero when unmapped) */
};

/*
 * Would a range boundary at page @p cut a mapping at an address its page
 * size cannot express? Mappings cover whole pages of their size, so when the
 * page before @p is mapped and @p is off that mapping's page grid, the
 * mapping crosses @p. (With merging on, a continuing map has the same page
 * size as the mapping it continues, so its ends are on the grid anyway.)
 */
static inline bool vmm_model_bad_split(const struct vmm_model_page *m, unsigned int npages,
				       unsigned int p)
{
	const struct vmm_model_page *prev;

	if (p == 0 || p >= npages || !m[p - 1].bo)
		return false;
	prev = &m[p - 1];
	return (p & ((1u << (prev->shift - 12)) - 1)) != 0;
}

/* Apply one accepted op to the model of the window starting at @va0. */
static inline void vmm_model_apply(struct vmm_model_page *m, uint64_t va0, const struct vmm_op *op)
{
	unsigned int a = (unsigned int)((op->va - va0) >> 12), n = (unsigned int)(op->size >> 12), i;

	for (i = a; i < a + n; i++) {
		switch (op->kind) {
		case VMM_OP_MAP:
			m[i].bo = op->bo;
			m[i].off = op->bo_offset + ((uint64_t)(i - a) << 12);
			m[i].shift = op->page_shift;
			m[i].flags = op->flags;
			break;
		case VMM_OP_UNMAP:
			m[i].bo = NULL; /* inside a region: sparse again */
			break;
		case VMM_OP_SPARSE:
			m[i].sparse = true;
			break;
		default:
			m[i].sparse = false;
			break;
		}
	}
}

/*
 * Does what the MMU returned for a page (@err, @x from sim_gpu_walk() or
 * sim_gpu_translate()) match the model? A mapped page translates to its BO
 * page with the mapping's page size and read-only bit; an unmapped page in a
 * sparse region faults as SPARSE; any other page faults, not as SPARSE.
 */
static inline bool vmm_model_page_ok(const struct vmm_model_page *pg, int err,
				     const struct sim_gpu_xlat *x)
{
	if (pg->bo)
		return err == 0 && x->pa == pg->bo->pa + pg->off && x->page_shift == pg->shift &&
		       !!(x->attr & FA_PT_RO) == !!(pg->flags & VMM_MAP_READ_ONLY);
	if (err == 0)
		return false;
	return pg->sparse ? x->type == FA_PT_ENTRY_SPARSE : x->type != FA_PT_ENTRY_SPARSE;
}

/* ------------------------------------------------------------ "nothing changed" */

/** Everything a refused submit must leave as it was. */
struct vmm_snap {
	unsigned long staged, live, sparse, charged, tables, cached;
	uint64_t hash, vram, plan, claims;
};

/*
 * The page-table plan's content: every table's place, per-slot counts and
 * sparse entries (not node addresses: an undone submit may rebuild a node
 * elsewhere). Iterative, bounded stack; 0 if the tree is deeper or wider
 * than the stack (never for the tests' address spaces).
 */
static inline uint64_t vmm_snap_plan_hash(const struct fa_pt *pt)
{
	static const struct fa_pt_node *stack[8192];
	const struct fa_pt_format *f = pt->fmt;
	uint64_t h = 0xcbf29ce484222325ull;
	unsigned int sp = 0;

	stack[sp++] = pt->root;
	while (sp) {
		const struct fa_pt_node *n = stack[--sp];
		const struct fa_pt_level *lv = &f->level[n->level];
		uint64_t entries = FA_BIT64(lv->bits), i;

		h = (h ^ n->va ^ ((uint64_t)n->level << 56) ^ ((uint64_t)n->index << 40) ^ n->used ^
		     ((uint64_t)n->nsparse << 32)) * 0x100000001b3ull;
		for (i = 0; lv->pte && i < entries; i++)
			h = (h ^ n->refs[i] ^ (i << 20)) * 0x100000001b3ull;
		for (i = 0; i < entries * lv->nsub; i++)
			if (n->child[i]) {
				if (sp == sizeof(stack) / sizeof(stack[0]))
					return 0;
				stack[sp++] = n->child[i];
				h = (h ^ i) * 0x100000001b3ull;
			}
	}
	return h;
}

static inline uint64_t vmm_snap__set_hash(struct vmm_va_set *s)
{
	struct vmm_va *v;
	uint64_t h = 0;

	for (v = vmm_va_set_first_from(s, 0); v; v = vmm_va_set_next(s, v))
		h = h * 1000003u ^ v->va ^ (v->size << 7) ^ (uint64_t)(uintptr_t)v->bo ^
		    (v->bo_offset << 3) ^ v->page_shift ^ ((uint64_t)v->flags << 11);
	return h;
}

/*
 * Take a snapshot of @vm (VM and page-table locks held by the caller, or
 * nothing running). VRAM is read with vmm_vram_avail(): the VRAM lock must
 * not be held.
 */
static inline void vmm_snap_take(struct vmm_vm *vm, struct vmm_snap *s)
{
	unsigned int k;

	memset(s, 0, sizeof(*s));
	s->staged = vm->staged.count;
	s->live = vm->live.count;
	s->sparse = vm->sparse_staged.count * 1000u + vm->sparse_live.count;
	s->hash = vmm_snap__set_hash(&vm->staged) * 31u ^ vmm_snap__set_hash(&vm->sparse_staged);
	s->charged = fa_reserve_pool_charged(&vm->node_pool) +
		     fa_reserve_pool_charged(&vm->staged_pool);
	s->cached = fa_reserve_pool_cached(&vm->node_pool) + fa_reserve_pool_cached(&vm->staged_pool);
	for (k = 0; k < vm->nshadow; k++) {
		s->charged += fa_reserve_pool_charged(&vm->shadow_pool[k]);
		s->cached += fa_reserve_pool_cached(&vm->shadow_pool[k]);
	}
	s->tables = vm->tables_live;
	s->plan = vmm_snap_plan_hash(&vm->plan) ^ vm->pt_unfreed_bytes;
	s->claims = vm->ptalloc.claim_whole * 1000003u + vm->ptalloc.claim_small;
	s->vram = vmm_vram_avail(vm->dev);
}

/*
 * The first field that differs between two snapshots, or NULL. Host memory
 * is compared by the caller (allocations minus frees, less the objects
 * cached in pools: a failed fill may leave some cached, which is no leak).
 */
static inline const char *vmm_snap_diff(const struct vmm_snap *a, const struct vmm_snap *b)
{
	if (a->staged != b->staged || a->hash != b->hash)
		return "submit-side view changed";
	if (a->sparse != b->sparse)
		return "sparse regions changed";
	if (a->live != b->live)
		return "run-side view changed";
	if (a->charged != b->charged)
		return "reservation left charged";
	if (a->vram != b->vram)
		return "VRAM leaked";
	if (a->tables != b->tables)
		return "page tables changed";
	if (a->plan != b->plan)
		return "page-table plan changed";
	if (a->claims != b->claims)
		return "page-table claims changed";
	return NULL;
}

#endif
