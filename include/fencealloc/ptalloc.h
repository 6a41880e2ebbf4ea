/* SPDX-License-Identifier: MIT */
/**
 * @file ptalloc.h
 * @brief Page-table memory: small tables packed into shared VRAM blocks, reserved at submit.
 *
 * A VRAM allocator hands out blocks (4 KiB for a buddy with 4 KiB chunks),
 * but many page tables are smaller: an NVIDIA ver2/ver3 big-page table is
 * 256 bytes, the ver2 root 32 bytes. Giving each its own block spends 16×
 * the memory on 64 KiB mappings. This module packs tables of up to one
 * **unit** (256 bytes for the NVIDIA formats) into shared blocks, gives
 * block-sized tables a block each, and keeps the three promises the
 * fence-signalling stages need:
 *
 * - **Nothing is allocated in the run stage.** At submit, fa_ptalloc_reserve()
 *   records a *claim* of so many block-sized and so many unit-sized tables
 *   and takes enough blocks from the VRAM allocator (and block records from
 *   the host allocator) that every claim outstanding can be met whatever
 *   order the run stages allocate in. fa_ptalloc_alloc_claimed() (run) only
 *   consumes a claim and carves a table from blocks already held: no
 *   allocator is called. An alloc with no claim left warns and fails
 *   (-FA_ENOSPC), everything consistent.
 * - **A block goes back only when every table in it was freed.** fa_ptalloc_free()
 *   never gives memory back itself; it only marks the table's units free
 *   (a page-table tree frees a table after its TLB invalidate has
 *   completed, see pt.h). fa_ptalloc_trim() (cleanup) returns blocks that are
 *   entirely free and not needed for outstanding claims.
 * - **Known-clear memory is reported.** The VRAM allocator tells, per block,
 *   whether it is cleared (zeroed; fa_buddy tracks it). A table carved from
 *   units never written since is reported clear, so a tree whose invalid
 *   entry is 0 skips filling it through the PRAMIN window (pt.h:
 *   #FA_PT_TABLE_ZEROED). Units once handed out are dirty from then on.
 *
 * Size classes: a table of at most one unit and aligned at most to a unit is
 * **small** (one unit anywhere); anything else up to a block is **whole** (a
 * block of its own). A small-sized table with a larger alignment (the ver2
 * root: 32 bytes, 4 KiB aligned) is placed at an aligned unit of a shared
 * block by fa_ptalloc_alloc() (submit only, not claimable). x86-64 tables
 * are all 4 KiB: with a 4 KiB block everything is whole and nothing is packed.
 *
 * Claim arithmetic: with E blocks entirely free, P free units in shared
 * blocks, and claims for B whole and U small tables outstanding, every claim
 * can be met in any order when `B <= E` and `U <= P + (E - B) × units`,
 * provided small tables take free units of shared blocks before breaking a
 * free block (fa_ptalloc_alloc_claimed() does). Frees only grow both sides.
 *
 * | function | stage | allocates |
 * |---|---|---|
 * | fa_ptalloc_init() / fa_ptalloc_fini() | submit / cleanup | hash array / frees everything |
 * | fa_ptalloc_reserve() | submit | VRAM blocks + block records, as needed |
 * | fa_ptalloc_deficit(), fa_ptalloc_batch_fill(), fa_ptalloc_commit() | submit | the same in two steps: allocate outside the lock, then commit under it |
 * | fa_ptalloc_alloc() | submit | may take a block (no claim) |
 * | fa_ptalloc_alloc_claimed() | run | **never** |
 * | fa_ptalloc_unreserve() | any | no |
 * | fa_ptalloc_free() | any (cleanup, or a failed ref in run) | no |
 * | fa_ptalloc_trim() | cleanup | frees free blocks beyond the claims |
 *
 * Locking: one lock of the caller's (the VM lock, or the page-table tree's
 * ref lock) serialises every call on one #fa_ptalloc. Pointer arguments are
 * FA_ASSERTed, not checked (one policy for the module); bad sizes and
 * alignments return -FA_EINVAL.
 *
 * @code
 * struct my_vm { struct fa_ptalloc ptalloc; uint64_t left_whole, left_small; };
 *
 * // submit (VM lock): the job's plan says it creates 3 block-sized and 40 small tables
 * int job_reserve(struct my_vm *vm)
 * {
 *         return fa_ptalloc_reserve(&vm->ptalloc, 3, 40, FA_GFP_KERNEL);
 * }
 *
 * // run (signalling section), the tree's table-alloc callback: no allocation
 * int table_alloc(void *ctx, uint64_t size, uint64_t align, fa_gfp_t gfp, uint64_t *addr)
 * {
 *         struct my_vm *vm = (struct my_vm *)ctx;
 *
 *         (void)gfp;
 *         return fa_ptalloc_alloc_claimed(&vm->ptalloc, size, align, addr); // FA_PTALLOC_ZEROED when clear
 * }
 *
 * // after the run: give back what the job did not use; cleanup: blocks back to VRAM
 * void job_done(struct my_vm *vm)
 * {
 *         fa_ptalloc_unreserve(&vm->ptalloc, vm->left_whole, vm->left_small);
 *         fa_ptalloc_trim(&vm->ptalloc);
 * }
 * @endcode
 */
#ifndef FA_PTALLOC_H
#define FA_PTALLOC_H

#include "base.h"
#include "reserve.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Return value of a successful allocation whose memory reads as zero (pt.h's #FA_PT_TABLE_ZEROED). */
#define FA_PTALLOC_ZEROED 1

/** Where blocks come from: the caller's VRAM allocator (e.g. fa_buddy, 4 KiB blocks). */
struct fa_ptalloc_source {
	/**
	 * Allocate one block (block_size bytes, block aligned). Store its
	 * address in @p *addr and whether it is cleared (zeroed) memory in
	 * @p *clear. Returns 0 or a negative errno. Called only by
	 * fa_ptalloc_reserve() and fa_ptalloc_alloc().
	 */
	int (*alloc)(void *ctx, fa_gfp_t gfp, uint64_t *addr, bool *clear);
	/** Give a block back (its contents are not known to be clear). Called by trim and fini. */
	void (*free)(void *ctx, uint64_t addr);
	void *ctx; /**< First argument of both. */
};

/** Configuration of fa_ptalloc_init(). */
struct fa_ptalloc_config {
	uint64_t block_size;             /**< Bytes of a VRAM block (power of two, >= unit). */
	uint64_t unit_size;              /**< Bytes of a unit (power of two; block / unit <= 64). */
	unsigned int hash_bits;          /**< log2 of the shared-block hash buckets (0: 6). */
	struct fa_ptalloc_source blocks; /**< VRAM blocks (copied). */
	struct fa_reserve_source meta;   /**< Host memory for block records and the hash (copied). */
};

/** One VRAM block held (private; on exactly one list or in the hash). */
struct fa_ptalloc_block {
	struct fa_list link;           /**< On the free, partial or spare list. */
	struct fa_ptalloc_block *hnext; /**< Next in the hash bucket (shared blocks). */
	uint64_t addr;                 /**< Block address (unused on the spare list). */
	uint64_t used;                 /**< Bit per unit: handed out (shared blocks). */
	uint64_t dirty;                /**< Bit per unit: may hold non-zero bytes. */
};

/** Counters (read under the caller's lock). */
struct fa_ptalloc_stats {
	uint64_t blocks;        /**< Blocks held (free, shared or whole tables). */
	uint64_t tables;        /**< Tables handed out and not freed. */
	uint64_t table_bytes;   /**< Their exact sizes, summed (the format's minimum). */
	uint64_t allocs_clear;  /**< Allocations reported clear (#FA_PTALLOC_ZEROED). */
	uint64_t allocs_dirty;  /**< Allocations of memory that may be dirty. */
	uint64_t short_claims;  /**< fa_ptalloc_alloc_claimed() with no claim left (a caller bug). */
};

/** A table allocator. Members are private. */
struct fa_ptalloc {
	uint64_t block_size;              /**< Block bytes. */
	unsigned int block_shift;         /**< log2 of block_size. */
	unsigned int unit_shift;          /**< log2 of the unit. */
	unsigned int units;               /**< Units per block. */
	uint64_t all_units;               /**< Mask of every unit of a block. */
	struct fa_ptalloc_source src;     /**< Blocks. */
	struct fa_reserve_source meta;    /**< Records. */
	struct fa_list free_blocks;       /**< Blocks held with every unit free. */
	struct fa_list partial;           /**< Shared blocks with some units free, some used. */
	struct fa_list spare;             /**< Records whose block is a whole table now. */
	struct fa_ptalloc_block **hash;   /**< Shared blocks (some unit used), by address. */
	unsigned int hash_bits;           /**< log2 of the buckets. */
	uint64_t nfree;                   /**< Blocks on free_blocks. */
	uint64_t free_units;              /**< Free units in shared blocks. */
	uint64_t claim_whole;             /**< Outstanding claims for whole tables. */
	uint64_t claim_small;             /**< Outstanding claims for small tables. */
	struct fa_ptalloc_stats stats;    /**< Counters. */
};

/** @cond INTERNAL */
static inline unsigned int fa__ptalloc_bucket(const struct fa_ptalloc *pa, uint64_t addr)
{
	uint64_t k = (addr >> pa->block_shift) * 0x9e3779b97f4a7c15ull;

	return (unsigned int)(k >> (64 - pa->hash_bits));
}

static inline void fa__ptalloc_hash_add(struct fa_ptalloc *pa, struct fa_ptalloc_block *b)
{
	unsigned int h = fa__ptalloc_bucket(pa, b->addr);

	b->hnext = pa->hash[h];
	pa->hash[h] = b;
}

static inline void fa__ptalloc_hash_del(struct fa_ptalloc *pa, struct fa_ptalloc_block *b)
{
	struct fa_ptalloc_block **p = &pa->hash[fa__ptalloc_bucket(pa, b->addr)];

	while (*p && *p != b)
		p = &(*p)->hnext;
	FA_ASSERT(*p == b);
	*p = b->hnext;
	b->hnext = NULL;
}

static inline struct fa_ptalloc_block *fa__ptalloc_hash_find(const struct fa_ptalloc *pa,
							      uint64_t block_addr)
{
	struct fa_ptalloc_block *b = pa->hash[fa__ptalloc_bucket(pa, block_addr)];

	while (b && b->addr != block_addr)
		b = b->hnext;
	return b;
}

/* Whether every outstanding claim (plus @p w whole and @p s small more) can be
 * met from @p nfree free blocks and @p fu free units of shared blocks. */
static inline bool fa__ptalloc_covers(const struct fa_ptalloc *pa, uint64_t nfree, uint64_t fu,
				      uint64_t w, uint64_t s)
{
	uint64_t cw = pa->claim_whole + w, cs = pa->claim_small + s;

	return cw <= nfree && cs <= fu + ((nfree - cw) << (pa->block_shift - pa->unit_shift));
}

/* 0 small, 1 small but aligned above a unit, 2 whole, -1 too big. */
static inline int fa__ptalloc_class(const struct fa_ptalloc *pa, uint64_t size, uint64_t align)
{
	if (!size || !fa_is_pow2(size) || !align || !fa_is_pow2(align) || size > pa->block_size ||
	    align > pa->block_size)
		return -1;
	if (size <= FA_BIT64(pa->unit_shift))
		return align <= FA_BIT64(pa->unit_shift) ? 0 : 1;
	return 2;
}

/* Take one block from the source with a record; onto free_blocks. */
static inline int fa__ptalloc_grow(struct fa_ptalloc *pa, fa_gfp_t gfp)
{
	struct fa_ptalloc_block *b;
	bool clear = false;
	int err;

	b = (struct fa_ptalloc_block *)fa_reserve_source_alloc(&pa->meta, sizeof(*b), gfp);
	if (!b)
		return -FA_ENOMEM;
	err = pa->src.alloc(pa->src.ctx, gfp, &b->addr, &clear);
	if (err) {
		fa_reserve_source_free(&pa->meta, b, sizeof(*b));
		return err < 0 ? err : -FA_ENOMEM;
	}
	if (FA_WARN(!fa_is_aligned(b->addr, pa->block_size))) {
		pa->src.free(pa->src.ctx, b->addr);
		fa_reserve_source_free(&pa->meta, b, sizeof(*b));
		return -FA_EFAULT;
	}
	b->used = 0;
	b->dirty = clear ? 0 : pa->all_units;
	b->hnext = NULL;
	fa_list_add(&b->link, &pa->free_blocks);
	pa->nfree++;
	pa->stats.blocks++;
	return 0;
}

/* Give the free block at the head of free_blocks back to the source. */
static inline void fa__ptalloc_shrink_one(struct fa_ptalloc *pa)
{
	struct fa_ptalloc_block *b = fa_list_first_entry(&pa->free_blocks, struct fa_ptalloc_block, link);

	fa_list_del_init(&b->link);
	pa->nfree--;
	pa->stats.blocks--;
	pa->src.free(pa->src.ctx, b->addr);
	fa_reserve_source_free(&pa->meta, b, sizeof(*b));
}

static inline int fa__ptalloc_done(struct fa_ptalloc *pa, uint64_t size, bool clear)
{
	pa->stats.tables++;
	pa->stats.table_bytes += size;
	if (clear) {
		pa->stats.allocs_clear++;
		return FA_PTALLOC_ZEROED;
	}
	pa->stats.allocs_dirty++;
	return 0;
}

/* A whole table: the first free block; its record goes spare. */
static inline int fa__ptalloc_take_whole(struct fa_ptalloc *pa, uint64_t size, uint64_t *addr)
{
	struct fa_ptalloc_block *b = fa_list_first_entry(&pa->free_blocks, struct fa_ptalloc_block, link);
	bool clear = b->dirty == 0;

	fa_list_del_init(&b->link);
	pa->nfree--;
	*addr = b->addr;
	fa_list_add(&b->link, &pa->spare);
	return fa__ptalloc_done(pa, size, clear);
}

/* A unit of shared block @p b whose index is in @p candidates. */
static inline int fa__ptalloc_take_unit(struct fa_ptalloc *pa, struct fa_ptalloc_block *b,
					uint64_t candidates, uint64_t size, uint64_t *addr)
{
	unsigned int u = fa_ffs64(candidates & ~b->used) - 1;
	bool clear = !(b->dirty & FA_BIT64(u));

	if (b->used == 0) { /* a free block becomes shared */
		fa_list_del_init(&b->link);
		pa->nfree--;
		pa->free_units += pa->units;
		fa__ptalloc_hash_add(pa, b);
		fa_list_add(&b->link, &pa->partial);
	}
	b->used |= FA_BIT64(u);
	b->dirty |= FA_BIT64(u); /* the tree will write it */
	pa->free_units--;
	if (b->used == pa->all_units)
		fa_list_del_init(&b->link); /* full: only in the hash */
	*addr = b->addr + ((uint64_t)u << pa->unit_shift);
	return fa__ptalloc_done(pa, size, clear);
}

/* Mask of the units at which a table of alignment @p align may start. */
static inline uint64_t fa__ptalloc_slots(const struct fa_ptalloc *pa, uint64_t align)
{
	unsigned int step = align > FA_BIT64(pa->unit_shift) ?
			    (unsigned int)(align >> pa->unit_shift) : 1u, u;
	uint64_t m = 0;

	for (u = 0; u < pa->units; u += step)
		m |= FA_BIT64(u);
	return m;
}
/** @endcond */

/**
 * Set up an allocator holding no block.
 * @stage submit (allocates the hash array)
 * @locking none (not shared yet)
 * @param pa Allocator.
 * @param cfg Configuration.
 * @param gfp Allocation context for the hash array.
 * @return 0; -FA_EINVAL (sizes not powers of two, unit > block, more than 64
 *         units a block, missing callbacks); -FA_ENOMEM.
 */
static inline int fa_ptalloc_init(struct fa_ptalloc *pa, const struct fa_ptalloc_config *cfg,
				  fa_gfp_t gfp)
{
	unsigned int i, hb;

	FA_ASSERT(pa && cfg);
	if (!fa_is_pow2(cfg->block_size) || !fa_is_pow2(cfg->unit_size) ||
	    cfg->unit_size > cfg->block_size || (cfg->block_size >> 6) > cfg->unit_size ||
	    !cfg->blocks.alloc || !cfg->blocks.free || !cfg->meta.alloc || !cfg->meta.free ||
	    cfg->hash_bits > 20)
		return -FA_EINVAL;
	hb = cfg->hash_bits ? cfg->hash_bits : 6;
	pa->block_size = cfg->block_size;
	pa->block_shift = (unsigned int)fa_ilog2_u64(cfg->block_size);
	pa->unit_shift = (unsigned int)fa_ilog2_u64(cfg->unit_size);
	pa->units = 1u << (pa->block_shift - pa->unit_shift);
	pa->all_units = pa->units == 64 ? FA_U64_MAX : FA_BIT64(pa->units) - 1;
	pa->src = cfg->blocks;
	pa->meta = cfg->meta;
	pa->hash_bits = hb;
	pa->hash = (struct fa_ptalloc_block **)fa_reserve_source_alloc(&pa->meta,
								       sizeof(void *) << hb, gfp);
	if (!pa->hash)
		return -FA_ENOMEM;
	for (i = 0; i < (1u << hb); i++)
		pa->hash[i] = NULL;
	fa_list_init(&pa->free_blocks);
	fa_list_init(&pa->partial);
	fa_list_init(&pa->spare);
	pa->nfree = 0;
	pa->free_units = 0;
	pa->claim_whole = 0;
	pa->claim_small = 0;
	pa->stats.blocks = 0;
	pa->stats.tables = 0;
	pa->stats.table_bytes = 0;
	pa->stats.allocs_clear = 0;
	pa->stats.allocs_dirty = 0;
	pa->stats.short_claims = 0;
	return 0;
}

/**
 * Claim room for @p whole block-sized and @p small unit-sized tables that
 * later fa_ptalloc_alloc_claimed() calls will take; takes blocks from the
 * source until every outstanding claim is covered.
 * @stage submit (allocates VRAM blocks and records with @p gfp)
 * @locking the allocator's lock
 * @param pa Allocator.
 * @param whole Whole tables to claim.
 * @param small Small tables to claim.
 * @param gfp Allocation context.
 * @return 0; the source's or -FA_ENOMEM on failure, with nothing changed
 *         (blocks taken by this call are given back).
 */
static inline int fa_ptalloc_reserve(struct fa_ptalloc *pa, uint64_t whole, uint64_t small,
				     fa_gfp_t gfp)
{
	uint64_t added = 0;
	int err = 0;

	FA_ASSERT(pa);
	while (!fa__ptalloc_covers(pa, pa->nfree, pa->free_units, whole, small)) {
		err = fa__ptalloc_grow(pa, gfp);
		if (err)
			break;
		added++;
	}
	if (err) {
		while (added--)
			fa__ptalloc_shrink_one(pa); /* the ones this call pushed, at the head */
		return err;
	}
	pa->claim_whole += whole;
	pa->claim_small += small;
	return 0;
}

/** Blocks taken from the source outside the allocator's lock, for fa_ptalloc_commit(). */
struct fa_ptalloc_batch {
	struct fa_list blocks; /**< Block records (private). */
	uint64_t n;            /**< Blocks in the batch. */
};

/**
 * Blocks a claim of @p whole and @p small tables would need on top of what
 * is held. Run-stage activity (claimed allocations, frees, unreserves) never
 * makes this grow, so a count read under the lock stays enough after it is
 * dropped: the two-step fa_ptalloc_batch_fill() + fa_ptalloc_commit() keeps
 * the allocation out of the lock the run stage takes.
 * @stage any
 * @locking the allocator's lock
 * @param pa Allocator.
 * @param whole Whole tables.
 * @param small Small tables.
 * @return Blocks to add.
 */
static inline uint64_t fa_ptalloc_deficit(const struct fa_ptalloc *pa, uint64_t whole,
					  uint64_t small)
{
	uint64_t k = 0;

	FA_ASSERT(pa);
	while (!fa__ptalloc_covers(pa, pa->nfree + k, pa->free_units, whole, small))
		k++;
	return k;
}

/**
 * Take @p n blocks (and their records) from the source into @p batch, without
 * touching the allocator's shared state.
 * @stage submit (allocates)
 * @locking none of the allocator's (its source and record allocator are
 *          called; the configuration is read only)
 * @param pa Allocator.
 * @param batch Batch (initialised here).
 * @param n Blocks.
 * @param gfp Allocation context.
 * @return 0; the source's error or -FA_ENOMEM with the batch empty (nothing held).
 */
static inline int fa_ptalloc_batch_fill(const struct fa_ptalloc *pa, struct fa_ptalloc_batch *batch,
					uint64_t n, fa_gfp_t gfp)
{
	struct fa_ptalloc_block *b;
	bool clear;
	int err;

	FA_ASSERT(pa && batch);
	fa_list_init(&batch->blocks);
	batch->n = 0;
	while (batch->n < n) {
		b = (struct fa_ptalloc_block *)fa_reserve_source_alloc(&pa->meta, sizeof(*b), gfp);
		if (!b)
			goto fail_nomem;
		clear = false;
		err = pa->src.alloc(pa->src.ctx, gfp, &b->addr, &clear);
		if (!err && FA_WARN(!fa_is_aligned(b->addr, pa->block_size))) {
			pa->src.free(pa->src.ctx, b->addr);
			err = -FA_EFAULT;
		}
		if (err) {
			fa_reserve_source_free(&pa->meta, b, sizeof(*b));
			goto fail;
		}
		b->used = 0;
		b->dirty = clear ? 0 : pa->all_units;
		b->hnext = NULL;
		fa_list_add_tail(&b->link, &batch->blocks);
		batch->n++;
	}
	return 0;
fail_nomem:
	err = -FA_ENOMEM;
fail:
	while (!fa_list_empty(&batch->blocks)) {
		b = fa_list_first_entry(&batch->blocks, struct fa_ptalloc_block, link);
		fa_list_del_init(&b->link);
		pa->src.free(pa->src.ctx, b->addr);
		fa_reserve_source_free(&pa->meta, b, sizeof(*b));
	}
	batch->n = 0;
	return err < 0 ? err : -FA_ENOMEM;
}

/**
 * Give a filled batch back to the source (the submit failed later).
 * @stage submit or cleanup (frees)
 * @locking none of the allocator's
 * @param pa Allocator.
 * @param batch Batch (empty afterwards).
 */
static inline void fa_ptalloc_batch_release(const struct fa_ptalloc *pa, struct fa_ptalloc_batch *batch)
{
	struct fa_ptalloc_block *b;

	FA_ASSERT(pa && batch);
	while (!fa_list_empty(&batch->blocks)) {
		b = fa_list_first_entry(&batch->blocks, struct fa_ptalloc_block, link);
		fa_list_del_init(&b->link);
		pa->src.free(pa->src.ctx, b->addr);
		fa_reserve_source_free(&pa->meta, b, sizeof(*b));
	}
	batch->n = 0;
}

/**
 * Add a batch's blocks to the allocator and record the claim: no allocation.
 * @stage submit (under the lock the run stage takes: allocation-free)
 * @locking the allocator's lock
 * @param pa Allocator.
 * @param batch Blocks from fa_ptalloc_batch_fill() with at least
 *        fa_ptalloc_deficit() blocks (empty afterwards).
 * @param whole Whole tables claimed.
 * @param small Small tables claimed.
 * @return 0; -FA_ENOSPC with a warning when the blocks do not cover the
 *         claim (a deficit read without the lock: nothing claimed, the
 *         blocks stay held as free blocks).
 */
static inline int fa_ptalloc_commit(struct fa_ptalloc *pa, struct fa_ptalloc_batch *batch,
				    uint64_t whole, uint64_t small)
{
	FA_ASSERT(pa && batch);
	pa->nfree += batch->n;
	pa->stats.blocks += batch->n;
	fa_list_splice_tail_init(&batch->blocks, &pa->free_blocks);
	batch->n = 0;
	if (FA_WARN(!fa__ptalloc_covers(pa, pa->nfree, pa->free_units, whole, small)))
		return -FA_ENOSPC;
	pa->claim_whole += whole;
	pa->claim_small += small;
	return 0;
}

/**
 * Give back claims that will not be used (a job used fewer tables than
 * claimed, or was cancelled). The blocks stay until fa_ptalloc_trim().
 * @stage any (no allocation, no free)
 * @locking the allocator's lock
 * @param pa Allocator.
 * @param whole Whole-table claims to drop.
 * @param small Small-table claims to drop.
 */
static inline void fa_ptalloc_unreserve(struct fa_ptalloc *pa, uint64_t whole, uint64_t small)
{
	FA_ASSERT(pa);
	if (FA_WARN(whole > pa->claim_whole || small > pa->claim_small)) {
		whole = fa_min_u64(whole, pa->claim_whole);
		small = fa_min_u64(small, pa->claim_small);
	}
	pa->claim_whole -= whole;
	pa->claim_small -= small;
}

/**
 * Allocate a table against an earlier claim: never calls an allocator.
 * @stage run (no allocation, no sleeping)
 * @locking the allocator's lock
 * @param pa Allocator.
 * @param size Table bytes (power of two, at most a block).
 * @param align Alignment (power of two, at most a block; a small table may
 *        not be aligned beyond a unit here).
 * @param addr Where the address is stored.
 * @return 0 (memory may be dirty) or #FA_PTALLOC_ZEROED (reads as zero);
 *         -FA_EINVAL (bad size or alignment); -FA_ENOSPC with a warning when
 *         no claim of that class is left (counted in
 *         fa_ptalloc_stats::short_claims; nothing changed).
 */
static inline int fa_ptalloc_alloc_claimed(struct fa_ptalloc *pa, uint64_t size, uint64_t align,
					   uint64_t *addr)
{
	int cls;

	FA_ASSERT(pa && addr);
	cls = fa__ptalloc_class(pa, size, align);
	if (cls < 0 || cls == 1)
		return -FA_EINVAL;
	if (cls == 2) {
		if (FA_WARN(pa->claim_whole == 0 || pa->nfree == 0)) {
			pa->stats.short_claims++;
			return -FA_ENOSPC;
		}
		pa->claim_whole--;
		return fa__ptalloc_take_whole(pa, size, addr);
	}
	if (FA_WARN(pa->claim_small == 0 ||
		    (fa_list_empty(&pa->partial) && pa->nfree <= pa->claim_whole))) {
		pa->stats.short_claims++;
		return -FA_ENOSPC;
	}
	pa->claim_small--;
	if (!fa_list_empty(&pa->partial))
		return fa__ptalloc_take_unit(pa, fa_list_first_entry(&pa->partial,
								     struct fa_ptalloc_block, link),
					     pa->all_units, size, addr);
	return fa__ptalloc_take_unit(pa, fa_list_first_entry(&pa->free_blocks,
							     struct fa_ptalloc_block, link),
				     pa->all_units, size, addr);
}

/**
 * Allocate a table without a claim (a root at VM creation, or any caller
 * outside the run stage): uses held memory only where no outstanding claim
 * needs it, else takes a new block.
 * @stage submit (may allocate a block with @p gfp)
 * @locking the allocator's lock
 * @param pa Allocator.
 * @param size Table bytes (power of two, at most a block).
 * @param align Alignment (power of two, at most a block).
 * @param gfp Allocation context.
 * @param addr Where the address is stored.
 * @return 0 or #FA_PTALLOC_ZEROED as fa_ptalloc_alloc_claimed(); -FA_EINVAL;
 *         the source's error or -FA_ENOMEM (nothing changed).
 */
static inline int fa_ptalloc_alloc(struct fa_ptalloc *pa, uint64_t size, uint64_t align,
				   fa_gfp_t gfp, uint64_t *addr)
{
	struct fa_list *pos;
	uint64_t slots;
	int cls, err;

	FA_ASSERT(pa && addr);
	cls = fa__ptalloc_class(pa, size, align);
	if (cls < 0)
		return -FA_EINVAL;
	if (cls == 2) {
		if (!fa__ptalloc_covers(pa, pa->nfree, pa->free_units, 1, 0)) {
			err = fa__ptalloc_grow(pa, gfp);
			if (err)
				return err;
		}
		return fa__ptalloc_take_whole(pa, size, addr);
	}
	slots = fa__ptalloc_slots(pa, align);
	if (pa->free_units && fa__ptalloc_covers(pa, pa->nfree, pa->free_units - 1, 0, 0)) {
		fa_list_for_each(pos, &pa->partial) {
			struct fa_ptalloc_block *b = fa_list_entry(pos, struct fa_ptalloc_block, link);

			if (slots & ~b->used)
				return fa__ptalloc_take_unit(pa, b, slots, size, addr);
		}
	}
	if (!fa__ptalloc_covers(pa, pa->nfree, pa->free_units, 1, 0)) {
		err = fa__ptalloc_grow(pa, gfp);
		if (err)
			return err;
	}
	return fa__ptalloc_take_unit(pa, fa_list_first_entry(&pa->free_blocks,
							     struct fa_ptalloc_block, link),
				     slots, size, addr);
}

/**
 * Free a table: its units become free (dirty); a shared block with no table
 * left, or a whole table's block, joins the free blocks. Nothing is given
 * back to the source here (fa_ptalloc_trim() does), so this is safe in any
 * stage. Call it only once the device can no longer reach the table (after
 * its TLB invalidate; pt.h's deferred free does that).
 * @stage any (no allocation, no free)
 * @locking the allocator's lock
 * @param pa Allocator.
 * @param addr Address from an alloc.
 * @param size Its size.
 * @return 0; -FA_EINVAL with a warning for an address this allocator did not hand out
 *         (nothing changed).
 */
static inline int fa_ptalloc_free(struct fa_ptalloc *pa, uint64_t addr, uint64_t size)
{
	struct fa_ptalloc_block *b;
	unsigned int u;
	int cls;

	FA_ASSERT(pa);
	cls = fa__ptalloc_class(pa, size, 1);
	if (FA_WARN(cls < 0))
		return -FA_EINVAL;
	if (cls == 2) {
		if (FA_WARN(!fa_is_aligned(addr, pa->block_size) || fa_list_empty(&pa->spare) ||
			    fa__ptalloc_hash_find(pa, addr)))
			return -FA_EINVAL;
		b = fa_list_first_entry(&pa->spare, struct fa_ptalloc_block, link);
		fa_list_del_init(&b->link);
		b->addr = addr;
		b->used = 0;
		b->dirty = pa->all_units;
		fa_list_add_tail(&b->link, &pa->free_blocks);
		pa->nfree++;
	} else {
		b = fa__ptalloc_hash_find(pa, addr & ~(pa->block_size - 1));
		u = (unsigned int)((addr & (pa->block_size - 1)) >> pa->unit_shift);
		if (FA_WARN(!b || !fa_is_aligned(addr, FA_BIT64(pa->unit_shift)) ||
			    !(b->used & FA_BIT64(u))))
			return -FA_EINVAL;
		if (b->used == pa->all_units)
			fa_list_add_tail(&b->link, &pa->partial); /* was full */
		b->used &= ~FA_BIT64(u);
		pa->free_units++;
		if (b->used == 0) { /* every table in it freed: a free block again */
			fa_list_del_init(&b->link);
			fa__ptalloc_hash_del(pa, b);
			pa->free_units -= pa->units;
			fa_list_add_tail(&b->link, &pa->free_blocks);
			pa->nfree++;
		}
	}
	pa->stats.tables--;
	pa->stats.table_bytes -= size;
	return 0;
}

/**
 * Give free blocks back to the source, keeping what outstanding claims need.
 * @stage cleanup (frees)
 * @locking the allocator's lock
 * @param pa Allocator.
 * @return Blocks given back.
 */
static inline uint64_t fa_ptalloc_trim(struct fa_ptalloc *pa)
{
	uint64_t n = 0;

	FA_ASSERT(pa);
	while (pa->nfree && fa__ptalloc_covers(pa, pa->nfree - 1, pa->free_units, 0, 0)) {
		fa__ptalloc_shrink_one(pa);
		n++;
	}
	return n;
}

/**
 * Copy the counters.
 * @stage any
 * @locking the allocator's lock for a consistent copy
 * @param pa Allocator.
 * @param out Counters.
 */
static inline void fa_ptalloc_get_stats(const struct fa_ptalloc *pa, struct fa_ptalloc_stats *out)
{
	FA_ASSERT(pa && out);
	*out = pa->stats;
}

/**
 * Tear down: every table must have been freed and every claim dropped; gives
 * every block back and frees the records.
 * @stage cleanup
 * @locking the allocator's lock (no other user left)
 * @param pa Allocator.
 * @return 0; -FA_EBUSY with a warning when tables or claims remain (nothing freed).
 */
static inline int fa_ptalloc_fini(struct fa_ptalloc *pa)
{
	struct fa_ptalloc_block *b;

	FA_ASSERT(pa);
	if (FA_WARN(pa->stats.tables || pa->claim_whole || pa->claim_small))
		return -FA_EBUSY;
	while (pa->nfree)
		fa__ptalloc_shrink_one(pa);
	while (!fa_list_empty(&pa->spare)) {
		b = fa_list_first_entry(&pa->spare, struct fa_ptalloc_block, link);
		fa_list_del_init(&b->link);
		fa_reserve_source_free(&pa->meta, b, sizeof(*b));
	}
	fa_reserve_source_free(&pa->meta, pa->hash, sizeof(void *) << pa->hash_bits);
	pa->hash = NULL;
	return 0;
}

#ifdef __cplusplus
}
#endif

#endif /* FA_PTALLOC_H */
