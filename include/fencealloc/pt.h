/* SPDX-License-Identifier: MIT */
/**
 * @file pt.h
 * @brief Refcounted multi-level GPU page-table tree with deferred free.
 *
 * A page-table tree over a format descriptor (pt_formats.h: NVIDIA MMU ver2,
 * ver3, x86-64 4-level, or your own), split the way nouveau splits its VMM
 * so that nothing in the fence-signalling path allocates:
 *
 * | function            | stage   | caller lock | allocates | touches table memory |
 * |---------------------|---------|-------------|-----------|----------------------|
 * | fa_pt_init()        | submit  | ref lock    | root      | fills the root invalid |
 * | fa_pt_estimate()    | submit  | ref lock    | no        | no (shadow only) |
 * | fa_pt_estimate_static() | any | none        | no        | no |
 * | fa_pt_ref()         | submit  | ref lock    | **yes**: missing tables + shadow nodes | fills new tables, writes PDEs |
 * | fa_pt_map()         | run     | map lock    | **never** | writes PTEs (high half first) |
 * | fa_pt_map_pages()   | run     | map lock    | **never** | writes PTEs |
 * | fa_pt_unmap()       | run     | map lock    | **never** | writes invalid PTEs (low half first) |
 * | fa_pt_sparse()      | run     | map lock    | **never** | writes sparse PTEs (low half first) |
 * | fa_pt_sparse_ref()  | submit  | ref + map lock | **yes**: as fa_pt_ref() | sparse PDEs over whole tables, sparse PTEs at the ends |
 * | fa_pt_sparse_unref() | cleanup | ref + map lock | no     | invalid PDEs/PTEs; queues emptied tables |
 * | fa_pt_unref()       | cleanup | ref lock    | no        | clears PDEs of tables that reach zero; queues them |
 * | fa_pt_reclaim()     | cleanup | ref lock    | frees     | no |
 * | fa_pt_translate()   | any     | map lock or ref lock (or none: racy read) | no | reads, like the MMU |
 * | fa_pt_fini()        | cleanup | ref lock    | frees     | no |
 *
 * **Tables.** Table memory comes from the caller's table allocator
 * (#fa_pt_table_alloc: a device address, e.g. from fa_buddy) and is reached
 * only through the accessor trait (#fa_pramin_accessor): direct CPU pointer
 * or the PRAMIN window. New tables are filled with the invalid entry in one
 * fill; PTE runs of contiguous pages go out as one fill64 (value + step), so
 * a window moves only when the run crosses a 1 MiB boundary. The software
 * shadow (#fa_pt_node, one per table) lives in host memory from the caller's
 * #fa_reserve_source; it holds child pointers, a reference count per PTE slot
 * and a bitmap of referenced slots.
 *
 * **Ref from reservations.** fa_pt_ref() allocates only through the two
 * allocators it is given. When those only draw from per-job reservations
 * filled at submit (sized with fa_pt_estimate_static() and
 * fa_pt_node_bytes()), never sleep and never reclaim (#FA_GFP_NOWAIT), ref
 * itself becomes run-stage safe: a VM_BIND job can then ref the holes it
 * discovers only when it runs. fa_pt_unref() never allocates or sleeps either
 * (the deferred push is lock-free), so it too may run in the run stage.
 *
 * **References.** fa_pt_ref() takes one reference on every PTE slot of the
 * range (overlapping ranges stack), after making every table on the path
 * exist. It first walks the shadow read-only (the same walk as
 * fa_pt_estimate()), then allocates exactly the missing tables (so the
 * tree-aware estimate is exact), initialises them, and only then links them:
 * any failure before linking frees what it allocated and leaves the tree,
 * the table memory and the allocators exactly as they were.
 * fa_pt_unref() drops the references; a table left with no referenced slot
 * and no child has its PDE cleared (through the accessor) and goes on a
 * deferred-free list (#fa_deferred) tagged with the epoch the caller gives:
 * the epoch of the *next* TLB invalidate. Parents follow bottom-up. The
 * memory is only freed by fa_pt_reclaim() once that epoch has completed: the
 * order is PDE clear → flush → TLB invalidate → free (what nouveau and UVM
 * do; RM's walker frees before the invalidate).
 *
 * **Map and unmap** only write entries. They check first (without writing)
 * that every slot of the range is referenced; if not they warn (#FA_WARN)
 * and return -FA_ENOENT with nothing written: the run stage can never
 * allocate a table. Neither flushes: call fa_pramin_flush() once after a
 * batch, then invalidate the TLB.
 *
 * **The NVIDIA ver2 tree** (fa_pt_format_nv_ver2(); bit layouts in pt_formats.h):
 * @verbatim
 *  PDB → PD3 (4 × 8 B, VA 48:47) → PD2 (512 × 8 B, 46:38) → PD1 (512 × 8 B, 37:29) ─┬─ 512 MiB PTE
 *                                                                                 └→ PD0 (256 × 16 B, 28:21)
 *  PD0 entry: [ low 8 B: big half, or a 2 MiB PTE ][ high 8 B: small half ]
 *                 └→ big PT (32 × 8 B = 256 B, 64 KiB pages, VA 20:16)
 *                                                     └→ small PT (512 × 8 B, 4 KiB pages, VA 20:12)
 * @endverbatim
 *
 * **Huge and dual pages.** A PTE-capable directory level (ver2 PD0: 2 MiB,
 * PD1: 512 MiB) holds huge PTEs in the low 8 bytes of its entry; a slot is
 * either a huge PTE slot or a directory slot, never both (fa_pt_ref()
 * returns -FA_EBUSY). Under a dual PD0 entry the big (64 KiB) and small
 * (4 KiB) tables are independent: both may exist for one 2 MiB region. The
 * MMU model in fa_pt_walk() lets the big PTE decide unless it is invalid
 * (then the small table does), as nouveau's LPTE handling assumes.
 *
 * **Concurrency contract.** fa_pt_map()/fa_pt_unmap() of a range A may run
 * at the same time as fa_pt_ref()/fa_pt_unref()/fa_pt_reclaim()/
 * fa_pt_estimate() of any range B (even overlapping A), provided that:
 * 1. every slot of A was referenced by a fa_pt_ref() that returned before the
 *    map started (the job became runnable after its submit; any lock or
 *    queue hand-off gives the needed happens-before), and stays referenced
 *    until the map/unmap returns (unref of A only from the job's cleanup);
 * 2. map/unmap calls are serialised with each other (the map lock), and
 *    ref/unref/reclaim/estimate with each other (the ref lock);
 * 3. accessor use is serialised: pass lock hooks (#fa_pt_lock) and the tree
 *    takes them around every batch of accessor calls in ref/unref (never
 *    across an allocation); map/unmap take them around their writes too.
 * Why it is safe: map and unmap never write the shadow; they read child
 * pointers with #FA_LOAD_ACQUIRE and the referenced-slot bitmap with
 * #FA_READ_ONCE; ref publishes a child with #FA_STORE_RELEASE only after it is
 * initialised and linked (so a walker that sees the pointer sees the node,
 * on weakly ordered CPUs too), and sets bitmap bits with #FA_WRITE_ONCE. A table on A's path has a referenced slot, so unref of B never
 * releases it. Per-slot counts are touched only under the ref lock.
 *
 * **Sparse.** fa_pt_sparse() writes sparse PTEs into referenced slots (the
 * referenced slots keep the tables alive; fa_pt_unmap() undoes it).
 * fa_pt_sparse_ref() goes one level up where it can: a directory entry whose
 * whole span is sparse and has no table gets the format's sparse PDE, one
 * bit in fa_pt_node::sparsemap and one count in fa_pt_node::nsparse; a
 * table lives while used + nsparse != 0, as RM's MMU_WALK keeps its
 * valid/sparse/reserved counters. A ref into a sparse entry opens the PTE
 * table all sparse; the unref that empties it writes the sparse PDE back.
 *
 * **Preconditions: checked.** Every pointer argument is checked: a NULL or
 * not initialised tree (never initialised, failed init, after fini), format,
 * accessor, page array or result pointer is refused with -FA_EINVAL and
 * nothing changes (no allocation, no table write); functions that return no
 * error warn (#FA_WARN) and give 0 or do nothing. fa_pt_init() over a live
 * tree is the caller's bug it cannot see (a live tree cannot be told from
 * uninitialised storage): fini it first, or its tables leak.
 *
 * Every walk iterates with an explicit path of at most #FA_PT_MAX_DEPTH
 * nodes; there is no recursion, no division, no floating point.
 *
 * @code
 * struct my_vm { struct fa_pt pt; };
 * uint64_t tlb_invalidate(struct my_vm *vm);       // the driver's: issue, return its epoch
 * uint64_t tlb_next_epoch(struct my_vm *vm);       // epoch of the next invalidate
 * uint64_t tlb_completed_epoch(struct my_vm *vm);  // last completed invalidate
 *
 * // init (submit, ref lock): tables from a buddy over VRAM, shadow from kmalloc
 * int vm_pt_init(struct my_vm *vm, const struct fa_pramin_accessor *acc,
 *                const struct fa_pt_table_alloc *table_alloc,
 *                const struct fa_reserve_source *shadow_src)
 * {
 *         struct fa_pt_config cfg;
 *
 *         fa_pt_config_init(&cfg, fa_pt_format_nv_ver2(), acc, table_alloc, shadow_src);
 *         return fa_pt_init(&vm->pt, &cfg, FA_GFP_KERNEL);
 * }
 *
 * int vm_bind(struct my_vm *vm, const struct fa_pramin_accessor *acc,
 *             uint64_t va, uint64_t size, uint64_t pa)
 * {
 *         // submit (ref lock): make the tables exist, reserve nothing else
 *         int err = fa_pt_ref(&vm->pt, va, size, 4096, FA_GFP_KERNEL);
 *
 *         if (err)
 *                 return err;
 *         // run (map lock, inside the signalling section): write PTEs only
 *         err = fa_pt_map(&vm->pt, va, size, 4096, pa, FA_PT_APER_VRAM);
 *         fa_pramin_flush(acc);
 *         tlb_invalidate(vm);
 *         // later, run (map lock): unmap, flush, invalidate
 *         fa_pt_unmap(&vm->pt, va, size, 4096);
 *         fa_pramin_flush(acc);
 *         tlb_invalidate(vm);
 *         // cleanup (ref lock): the epoch is that of the NEXT invalidate, the one
 *         // that follows the PDE clears this unref makes
 *         fa_pt_unref(&vm->pt, va, size, 4096, tlb_next_epoch(vm));
 *         fa_pramin_flush(acc);
 *         tlb_invalidate(vm);
 *         fa_pt_reclaim(&vm->pt, tlb_completed_epoch(vm)); // frees tables whose epoch completed
 *         return err;
 * }
 * @endcode
 */
#ifndef FA_PT_H
#define FA_PT_H

#include "base.h"
#include "pt_formats.h"
#include "pramin.h"
#include "deferred.h"
#include "reserve.h"
#include "signalling.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * What a table allocator returns for a successful allocation whose memory
 * reads as zero (cleared VRAM, e.g. from fa_buddy with #FA_BUDDY_CLEAR or
 * from fa_ptalloc_alloc_claimed()). When the format's invalid entry is 0
 * the tree then skips filling the new table (no PRAMIN writes).
 */
#define FA_PT_TABLE_ZEROED 1

/**
 * Where table memory comes from: the caller's device-memory allocator (a
 * buddy over VRAM, a pool of pre-reserved tables...). @c alloc is called
 * only by fa_pt_init() and fa_pt_ref(), @c free only by fa_pt_ref() (undoing
 * a failed ref), fa_pt_reclaim() and fa_pt_fini(); never by map, unmap,
 * sparse or unref.
 */
struct fa_pt_table_alloc {
	/**
	 * Allocate @p size bytes aligned to @p align (both powers of two);
	 * store the device address in @p *addr. Returns 0, #FA_PT_TABLE_ZEROED
	 * (success, and the memory reads as zero) or a negative errno (passed
	 * back to the caller of fa_pt_ref()). The tree checks the
	 * address before it writes any PDE (fa_pt_table_addr_ok()): one that is
	 * misaligned or that the format cannot encode is freed again and the
	 * call fails with -FA_EFAULT, nothing changed.
	 */
	int (*alloc)(void *ctx, uint64_t size, uint64_t align, fa_gfp_t gfp, uint64_t *addr);
	/** Free a table allocated with @c alloc (same @p size). */
	void (*free)(void *ctx, uint64_t addr, uint64_t size);
	void *ctx; /**< First argument of both. */
};

/** Optional lock hooks (the caller's PRAMIN lock) taken around accessor use. */
struct fa_pt_lock {
	void (*lock)(void *ctx);   /**< Take the lock (NULL: no locking). */
	void (*unlock)(void *ctx); /**< Release it (NULL: no locking). */
	void *ctx;                 /**< Argument to both. */
};

/** Everything fa_pt_init() needs; fill with fa_pt_config_init() then adjust. */
struct fa_pt_config {
	const struct fa_pt_format *fmt;       /**< The format (validated at init). */
	const struct fa_pramin_accessor *acc; /**< Table memory accessor (must outlive the tree). */
	struct fa_pt_table_alloc tables;      /**< Table memory allocator (copied). */
	struct fa_reserve_source shadow;      /**< Host memory for shadow nodes (copied). */
	struct fa_pt_lock acc_lock;           /**< Lock hooks around accessor use (copied; may be empty). */
	uint32_t pde_attr;                    /**< Aperture / #FA_PT_VOL of the tables (default VRAM). */
};

/**
 * Software shadow of one table. Members are private to pt.h (tests and
 * debuggers read them); the concurrency rules are in the @ref pt.h overview.
 */
struct fa_pt_node {
	struct fa_deferred_node dnode; /**< Deferred-free entry; also the link while ref builds. */
	struct fa_pt_node *parent;     /**< Parent node, NULL for the root. */
	struct fa_pt_node **child;     /**< entries × nsub child pointers (slot-major), or NULL. */
	uint32_t *refmap;              /**< Bit per slot: PTE references > 0 (NULL if no PTEs here);
					    32-bit words so READ_ONCE/WRITE_ONCE are single-copy atomic
					    on 32-bit CPUs too. */
	uint16_t *refs;                /**< PTE references per slot (NULL if no PTEs here). */
	uint32_t *sparsemap;           /**< Bit per entry: its span is sparse at this level
					    (fa_pt_sparse_ref(); NULL on leaf levels; ref lock). */
	uint64_t addr;                 /**< Device address of the table. */
	uint64_t va;                   /**< First VA the table translates. */
	uint32_t used;                 /**< Children present + slots with references (ref lock). */
	uint32_t multi;                /**< Slots with more than one reference (ref lock): at 0,
					    every referenced slot's count is 1. */
	uint32_t nsparse;              /**< Entries with a fa_pt_node::sparsemap bit (ref lock). */
	uint16_t index;                /**< Entry index in the parent. */
	uint8_t level;                 /**< Format level of the table. */
	uint8_t zeroed;                /**< The table memory was handed out zeroed (not yet filled). */
};

/** Result of an estimate: tables a fa_pt_ref() may allocate. */
struct fa_pt_estimate {
	uint64_t tables[FA_PT_MAX_LEVELS]; /**< Tables per format level. */
	uint64_t total;                    /**< Sum of fa_pt_estimate::tables. */
	uint64_t bytes;                    /**< Table memory bytes (before allocator rounding). */
	uint64_t shadow_bytes;             /**< Shadow node bytes. */
};

/** Counters of a tree (read under the ref lock; fa_pt_stats::ptes_written under the map lock). */
struct fa_pt_stats {
	uint64_t live[FA_PT_MAX_LEVELS];    /**< Tables linked in the tree, per level (root included). */
	uint64_t pending[FA_PT_MAX_LEVELS]; /**< Released tables waiting for their epoch, per level. */
	uint64_t allocated;                 /**< Tables allocated since init. */
	uint64_t freed;                     /**< Tables freed since init. */
	uint64_t ptes_written;              /**< Entries written by map/unmap/sparse since init. */
	uint64_t tables_filled;             /**< New tables filled with the invalid entry. */
	uint64_t fills_skipped;             /**< New tables not filled invalid: zeroed memory with invalid entry 0, or a PTE table fa_pt_ref_map() wrote whole. */
};

/** A page-table tree. Members are private; use the functions. */
struct fa_pt {
	const struct fa_pt_format *fmt;       /**< Format. */
	const struct fa_pramin_accessor *acc; /**< Table memory accessor. */
	struct fa_pt_table_alloc tables;      /**< Table allocator. */
	struct fa_reserve_source shadow;      /**< Shadow node allocator. */
	struct fa_pt_lock acc_lock;           /**< Accessor lock hooks. */
	uint32_t pde_attr;                    /**< PDE attributes of tables. */
	struct fa_pt_node *root;              /**< Root node (always present after init). */
	struct fa_deferred dfree;             /**< Released tables waiting for their epoch. */
	struct fa_pt_stats stats;             /**< Counters. */
};

/** Result of a translation. */
struct fa_pt_xlate {
	enum fa_pt_entry_type type; /**< What the final entry was (PTE when translated). */
	uint64_t pa;                /**< Physical address of @c va (page address + offset). */
	uint32_t attr;              /**< PTE attributes. */
	uint8_t page_shift;         /**< log2 of the page size that translated it. */
	uint8_t level;              /**< Level of the final entry. */
};

/** @cond INTERNAL */

/* Chain of levels from the root to @p level, and which child slot leads down. */
struct fa__pt_chain {
	uint8_t lvl[FA_PT_MAX_DEPTH];  /* lvl[d]: level of the table at depth d */
	uint8_t slot[FA_PT_MAX_DEPTH]; /* slot[d]: child slot of depth-d entries towards lvl[d+1] */
	unsigned int depth;            /* depth of the PTE table (lvl[depth] = page level) */
	unsigned int shift;            /* page shift */
};

static inline void fa__pt_chain_make(const struct fa_pt_format *f, unsigned int pidx,
				     struct fa__pt_chain *c)
{
	unsigned int l = f->page[pidx].level;
	unsigned int d = f->level[l].depth;

	c->depth = d;
	c->shift = f->page[pidx].shift;
	c->slot[d] = 0;
	for (;;) {
		c->lvl[d] = (uint8_t)l;
		if (d == 0)
			break;
		c->slot[d - 1] = f->level[l].slot;
		l = f->level[l].parent;
		d--;
	}
}

static inline unsigned int fa__pt_index(const struct fa_pt_format *f, unsigned int l, uint64_t va)
{
	return (unsigned int)((va >> f->level[l].shift) & (FA_BIT64(f->level[l].bits) - 1));
}

/* The child pointer cell of entry @p idx, slot @p s. */
static inline struct fa_pt_node **fa__pt_cell(const struct fa_pt_format *f,
					      const struct fa_pt_node *n, unsigned int idx,
					      unsigned int s)
{
	return &n->child[((size_t)idx * f->level[n->level].nsub) + s];
}

/* Whether entry @p idx of @p n is sparse at this level (ref lock, or the map
 * lock for a node on a referenced path: the bit never changes under it). */
static inline bool fa__pt_is_sparse(const struct fa_pt_node *n, unsigned int idx)
{
	return n->sparsemap && (n->sparsemap[idx >> 5] & ((uint32_t)1 << (idx & 31u)));
}

static inline uint64_t fa__pt_round8(uint64_t x)
{
	return (x + 7) & ~(uint64_t)7;
}

/* Bytes of a shadow node of level @p l: header, children, bitmap, counts. */
static inline size_t fa__pt_node_size(const struct fa_pt_format *f, unsigned int l)
{
	uint64_t n = fa_pt_level_entries(f, l);
	uint64_t sz = fa__pt_round8(sizeof(struct fa_pt_node));

	sz += fa__pt_round8(n * f->level[l].nsub * sizeof(struct fa_pt_node *));
	if (f->level[l].nsub)
		sz += ((n + 63) >> 6) * 8;
	if (f->level[l].pte)
		sz += ((n + 63) >> 6) * 8 + fa__pt_round8(n * sizeof(uint16_t));
	return (size_t)sz;
}

static inline void fa__pt_zero(void *p, size_t bytes)
{
	uint64_t *w = (uint64_t *)p;
	size_t i;

	for (i = 0; i < (bytes >> 3); i++)
		w[i] = 0;
}

/* Lay out a freshly allocated node (everything zero, arrays set up). */
static inline void fa__pt_node_setup(const struct fa_pt_format *f, struct fa_pt_node *n,
				     unsigned int l, uint64_t addr)
{
	uint64_t entries = fa_pt_level_entries(f, l);
	char *p = (char *)n;
	size_t off = (size_t)fa__pt_round8(sizeof(*n));

	fa__pt_zero(n, fa__pt_node_size(f, l));
	n->level = (uint8_t)l;
	n->addr = addr;
	if (f->level[l].nsub) {
		n->child = (struct fa_pt_node **)(void *)(p + off);
		off += (size_t)fa__pt_round8(entries * f->level[l].nsub * sizeof(n));
		n->sparsemap = (uint32_t *)(void *)(p + off);
		off += (size_t)(((entries + 63) >> 6) * 8);
	}
	if (f->level[l].pte) {
		n->refmap = (uint32_t *)(void *)(p + off);
		off += (size_t)(((entries + 63) >> 6) * 8);
		n->refs = (uint16_t *)(void *)(p + off);
	}
}

static inline void fa__pt_lock(const struct fa_pt *pt)
{
	if (pt->acc_lock.lock)
		pt->acc_lock.lock(pt->acc_lock.ctx);
}

static inline void fa__pt_unlock(const struct fa_pt *pt)
{
	if (pt->acc_lock.unlock)
		pt->acc_lock.unlock(pt->acc_lock.ctx);
}

/* Write the invalid entry into every entry of table @p n. */
static inline int fa__pt_table_fill(const struct fa_pt *pt, const struct fa_pt_node *n)
{
	const struct fa_pt_format *f = pt->fmt;
	unsigned int l = n->level;
	uint64_t words = fa_pt_level_entries(f, l) << (f->level[l].entry_log2 - 3);

	return fa_pramin_fill64(pt->acc, n->addr, f->invalid, 0, words, FA_PRAMIN_ORDER_ANY);
}

/* Fill a new table with the invalid entry, unless its memory is known to be
 * zero and the invalid entry is 0 (then it already reads as all invalid).
 * Counts into @p filled / @p skipped (the caller adds them to the stats once
 * every new table is ready, so a failed ref leaves the counters alone). */
static inline int fa__pt_table_clear(const struct fa_pt *pt, const struct fa_pt_node *n,
				     uint64_t *filled, uint64_t *skipped)
{
	if (n->zeroed && pt->fmt->invalid == 0) {
		(*skipped)++;
		return 0;
	}
	(*filled)++;
	return fa__pt_table_fill(pt, n);
}

/* Allocate table memory + shadow for level @p l; *out set on success. */
static inline int fa__pt_node_alloc(struct fa_pt *pt, unsigned int l, fa_gfp_t gfp,
				    struct fa_pt_node **out)
{
	const struct fa_pt_format *f = pt->fmt;
	struct fa_pt_node *n;
	uint64_t addr = 0;
	bool zeroed;
	int err;

	n = (struct fa_pt_node *)fa_reserve_source_alloc(&pt->shadow, fa__pt_node_size(f, l), gfp);
	if (!n)
		return -FA_ENOMEM;
	fa_signalling_might_alloc(gfp);
	err = pt->tables.alloc(pt->tables.ctx, fa_pt_level_bytes(f, l),
			       FA_BIT64(f->level[l].align_log2), gfp, &addr);
	zeroed = err == FA_PT_TABLE_ZEROED;
	if (zeroed)
		err = 0;
	if (err) {
		fa_reserve_source_free(&pt->shadow, n, fa__pt_node_size(f, l));
		return err < 0 ? err : -FA_ENOMEM;
	}
	if (!fa_pt_table_addr_ok(f, l, addr, pt->pde_attr)) {
		/* Misaligned, or beyond what a PDE can hold (ver2 VRAM: 2^37):
		 * encoding it would truncate the address silently. */
		pt->tables.free(pt->tables.ctx, addr, fa_pt_level_bytes(f, l));
		fa_reserve_source_free(&pt->shadow, n, fa__pt_node_size(f, l));
		return -FA_EFAULT;
	}
	fa__pt_node_setup(f, n, l, addr);
	n->zeroed = zeroed;
	pt->stats.allocated++;
	*out = n;
	return 0;
}

static inline void fa__pt_node_free(struct fa_pt *pt, struct fa_pt_node *n)
{
	const struct fa_pt_format *f = pt->fmt;
	unsigned int l = n->level;

	pt->tables.free(pt->tables.ctx, n->addr, fa_pt_level_bytes(f, l));
	fa_reserve_source_free(&pt->shadow, n, fa__pt_node_size(f, l));
	pt->stats.freed++;
}

/* Validate (va, size, page_size) for @p f; build the chain. */
static inline int fa__pt_args(const struct fa_pt_format *f, uint64_t va, uint64_t size,
			      uint64_t page_size, struct fa__pt_chain *c)
{
	int p;
	uint64_t end;

	if (!f)
		return -FA_EINVAL;
	p = fa_pt_page_index(f, page_size);
	if (p < 0)
		return -FA_EOPNOTSUPP;
	if (size == 0 || !fa_is_aligned(va, page_size) || !fa_is_aligned(size, page_size))
		return -FA_EINVAL;
	if (fa_add_overflow(va, size, &end))
		return -FA_EOVERFLOW;
	if (end > FA_BIT64(f->va_bits))
		return -FA_ERANGE;
	fa__pt_chain_make(f, (unsigned int)p, c);
	return 0;
}

/* fa__pt_args() plus a physically contiguous target: @p pa aligned to the
 * page size, and the whole [pa, pa + size) encodable by the format. */
static inline int fa__pt_map_args(const struct fa_pt_format *f, uint64_t va, uint64_t size,
				  uint64_t page_size, uint64_t pa, uint32_t attr,
				  struct fa__pt_chain *c)
{
	int err = fa__pt_args(f, va, size, page_size, c);

	if (err)
		return err;
	if (!fa_is_aligned(pa, page_size))
		return -FA_EINVAL;
	if (!fa_pt_pa_ok(f, pa, 0, attr) || pa + (size - 1) < pa ||
	    !fa_pt_pa_ok(f, pa + (size - 1), 0, attr))
		return -FA_ERANGE;
	return 0;
}

/* Add the tables a missing subtree rooted at depth @p d needs for [a, b). */
static inline void fa__pt_count_missing(const struct fa_pt_format *f, const struct fa__pt_chain *c,
					unsigned int d, uint64_t a, uint64_t b,
					struct fa_pt_estimate *est)
{
	unsigned int e;

	for (e = d; e <= c->depth; e++) {
		unsigned int l = c->lvl[e];
		unsigned int s = f->level[l].shift + f->level[l].bits;
		uint64_t n = ((b - 1) >> s) - (a >> s) + 1;

		est->tables[l] += n;
		est->total += n;
		est->bytes += n * fa_pt_level_bytes(f, l);
		est->shadow_bytes += n * fa__pt_node_size(f, l);
	}
}

static inline void fa__pt_est_zero(struct fa_pt_estimate *est)
{
	unsigned int i;

	for (i = 0; i < FA_PT_MAX_LEVELS; i++)
		est->tables[i] = 0;
	est->total = 0;
	est->bytes = 0;
	est->shadow_bytes = 0;
}

/* End of the VA block of size 2^s that holds @p va, clamped to @p end. */
static inline uint64_t fa__pt_block_end(uint64_t va, unsigned int s, uint64_t end)
{
	uint64_t be = (va | (FA_BIT64(s) - 1));

	return be >= end - 1 ? end : be + 1;
}

/* Check the slots [i, i + n) of an existing PTE table for a ref: no count at
 * the maximum, and on a directory level no child table in the slot. */
static inline int fa__pt_ref_check_slots(const struct fa_pt_format *f, const struct fa_pt_node *t,
					 unsigned int i, unsigned int n)
{
	unsigned int k, s, nsub = f->level[t->level].nsub;

	for (k = i; k < i + n; k++) {
		if (t->refs[k] == 0xffffu)
			return -FA_EOVERFLOW;
		for (s = 0; s < nsub; s++)
			if (*fa__pt_cell(f, t, k, s))
				return -FA_EBUSY;
	}
	return 0;
}

/*
 * Read-only walk of [va, end) for a ref of chain @p c: count the missing
 * tables into @p est and, when @p check, report conflicts (-FA_EBUSY: a huge
 * PTE slot on the path or a child table under a huge slot to reference;
 * -FA_EOVERFLOW: a slot count at its maximum). Ref lock held.
 */
static inline int fa__pt_scan(const struct fa_pt *pt, const struct fa__pt_chain *c, uint64_t va,
			      uint64_t end, bool check, struct fa_pt_estimate *est)
{
	const struct fa_pt_format *f = pt->fmt;

	while (va < end) {
		const struct fa_pt_node *n = pt->root;
		unsigned int d, idx, l;
		uint64_t next;

		for (d = 0; d < c->depth; d++) {
			const struct fa_pt_node *ch;

			l = c->lvl[d];
			idx = fa__pt_index(f, l, va);
			if (check && n->refs && n->refs[idx])
				return -FA_EBUSY; /* a huge PTE is referenced here */
			ch = *fa__pt_cell(f, n, idx, c->slot[d]);
			if (check && !ch && d + 1 < c->depth && fa__pt_is_sparse(n, idx))
				return -FA_EBUSY; /* only PTE tables open a sparse entry */
			if (!ch)
				break;
			n = ch;
		}
		l = c->lvl[d];
		if (d < c->depth) {
			/* the child of entry idx is missing: its whole subtree is */
			next = fa__pt_block_end(va, f->level[l].shift, end);
			fa__pt_count_missing(f, c, d + 1, va, next, est);
			va = next;
			continue;
		}
		next = fa__pt_block_end(va, f->level[l].shift + f->level[l].bits, end);
		if (check) {
			unsigned int i = fa__pt_index(f, l, va);
			int err = fa__pt_ref_check_slots(f, n, i,
							 (unsigned int)((next - va) >> c->shift));
			if (err)
				return err;
		}
		va = next;
	}
	return 0;
}

/*
 * Descend to the PTE table of chain @p c holding @p va, filling @p path.
 * Reads child pointers with FA_LOAD_ACQUIRE (map lock or ref lock).
 * Returns the table or NULL when one is missing.
 */
static inline struct fa_pt_node *fa__pt_find(const struct fa_pt *pt, const struct fa__pt_chain *c,
					     uint64_t va, struct fa_pt_node **path)
{
	const struct fa_pt_format *f = pt->fmt;
	struct fa_pt_node *n = pt->root;
	unsigned int d;

	for (d = 0; d < c->depth; d++) {
		path[d] = n;
		n = FA_LOAD_ACQUIRE(*fa__pt_cell(f, n, fa__pt_index(f, c->lvl[d], va), c->slot[d]));
		if (!n)
			return NULL;
	}
	path[c->depth] = n;
	return n;
}

/*
 * fa__pt_find() for a walk that moves up through a range: @p path and
 * @p *last (the VA of the previous successful call, FA_U64_MAX for none)
 * are kept between calls, and the descent restarts at the deepest table the
 * previous one shares with this one (usually the PTE table's parent), not
 * at the root. Only while no table on the path can be unlinked: a walk of
 * referenced slots, or reset *last after anything was released.
 */
static inline struct fa_pt_node *fa__pt_find_next(const struct fa_pt *pt,
						  const struct fa__pt_chain *c, uint64_t va,
						  struct fa_pt_node **path, uint64_t *last)
{
	const struct fa_pt_format *f = pt->fmt;
	struct fa_pt_node *n;
	unsigned int d = 0;

	if (*last != FA_U64_MAX) {
		while (d < c->depth && ((va ^ *last) >> f->level[c->lvl[d]].shift) == 0)
			d++;
		if (d == c->depth)
			return path[d];
	}
	n = d ? path[d] : pt->root;
	for (; d < c->depth; d++) {
		path[d] = n;
		n = FA_LOAD_ACQUIRE(*fa__pt_cell(f, n, fa__pt_index(f, c->lvl[d], va), c->slot[d]));
		if (!n) {
			*last = FA_U64_MAX;
			return NULL;
		}
	}
	path[c->depth] = n;
	*last = va;
	return n;
}

/* Bits [lo, hi) of a 32-bit word, 0 <= lo < hi <= 32. */
static inline uint32_t fa__pt_mask32(unsigned int lo, unsigned int hi)
{
	return (hi == 32u ? ~(uint32_t)0 : ((uint32_t)1 << hi) - 1) & ~(((uint32_t)1 << lo) - 1);
}

/* Whether bits [i, i + n) of @p map are all set (FA_READ_ONCE: map lock).
 * Whole words in between are compared with all ones, one load each. */
static inline bool fa__pt_bits_all(const uint32_t *map, unsigned int i, unsigned int n)
{
	unsigned int end = i + n;

	while (i < end) {
		unsigned int w = i >> 5, lo = i & 31u, base = i & ~31u;
		unsigned int hi = end - base < 32u ? end - base : 32u;
		uint32_t mask;

		if (lo == 0 && hi == 32u) {
			for (; end - i >= 32u; i += 32, w++)
				if (FA_READ_ONCE(map[w]) != ~(uint32_t)0)
					return false;
			continue;
		}
		mask = fa__pt_mask32(lo, hi);
		if ((FA_READ_ONCE(map[w]) & mask) != mask)
			return false;
		i = base + hi;
	}
	return true;
}

/* Whether every slot of [va, end) is referenced for chain @p c. Reads the
 * slot bitmap, which is exactly "refs > 0" (fa__pt_take_refs() and
 * fa__pt_drop_refs() keep it so): lock-free under the map lock, exact under
 * the ref lock, so map/unmap and unref share it. */
static inline bool fa__pt_all_referenced(const struct fa_pt *pt, const struct fa__pt_chain *c,
					 uint64_t va, uint64_t end)
{
	const struct fa_pt_format *f = pt->fmt;
	struct fa_pt_node *path[FA_PT_MAX_DEPTH];
	uint64_t last = FA_U64_MAX;

	while (va < end) {
		unsigned int l = c->lvl[c->depth];
		uint64_t next = fa__pt_block_end(va, f->level[l].shift + f->level[l].bits, end);
		struct fa_pt_node *t = fa__pt_find_next(pt, c, va, path, &last);

		if (!t || !fa__pt_bits_all(t->refmap, fa__pt_index(f, l, va),
					   (unsigned int)((next - va) >> c->shift)))
			return false;
		va = next;
	}
	return true;
}

/* Device address of the 8-byte word of entry @p idx, slot @p s of node @p n. */
static inline uint64_t fa__pt_word(const struct fa_pt_format *f, const struct fa_pt_node *n,
				   unsigned int idx, unsigned int s)
{
	return n->addr + ((uint64_t)idx << f->level[n->level].entry_log2) + ((uint64_t)s << 3);
}

/* Point entry @p idx slot @p s of @p parent at @p child (one 8-byte word). */
static inline int fa__pt_write_pde(const struct fa_pt *pt, const struct fa_pt_node *parent,
				   unsigned int idx, unsigned int s, uint64_t child)
{
	const struct fa_pt_format *f = pt->fmt;
	uint64_t sub[2], out[2];

	sub[0] = child;
	sub[1] = child;
	fa_pt_pde_encode(f, parent->level, sub, 1u << s, pt->pde_attr, out);
	return fa_pramin_wr64(pt->acc, fa__pt_word(f, parent, idx, s), out[s],
			      FA_PRAMIN_HIGH_FIRST);
}

/* Pop a preallocated node of level @p l. */
static inline struct fa_pt_node *fa__pt_pop(struct fa_pt_node **lists, unsigned int l)
{
	struct fa_pt_node *n = lists[l];

	if (n)
		lists[l] = n->dnode.link.next ?
			   FA_CONTAINER_OF(n->dnode.link.next, struct fa_pt_node, dnode.link) :
			   NULL;
	if (n)
		n->dnode.link.next = NULL;
	return n;
}

static inline void fa__pt_push(struct fa_pt_node **lists, struct fa_pt_node *n)
{
	unsigned int l = n->level;

	n->dnode.link.next = lists[l] ? &lists[l]->dnode.link : NULL;
	lists[l] = n;
}

static inline void fa__pt_free_lists(struct fa_pt *pt, struct fa_pt_node **lists)
{
	unsigned int l;
	struct fa_pt_node *n;

	for (l = 0; l < FA_PT_MAX_LEVELS; l++)
		while ((n = fa__pt_pop(lists, l)) != NULL) {
			fa__pt_node_free(pt, n);
			pt->stats.allocated--;
			pt->stats.freed--;
		}
}

/* Allocate and clear every table @p est asks for, onto per-level lists;
 * tables of level @p defer (-1: none) are left for the link phase to clear
 * or to write whole (fa_pt_ref_map()). */
static inline int fa__pt_prealloc(struct fa_pt *pt, const struct fa_pt_estimate *est,
				  fa_gfp_t gfp, struct fa_pt_node **lists, int defer)
{
	unsigned int l;
	uint64_t k, filled = 0, skipped = 0;
	struct fa_pt_node *n;
	int err;

	for (l = 0; l < pt->fmt->nlevels; l++)
		for (k = 0; k < est->tables[l]; k++) {
			err = fa__pt_node_alloc(pt, l, gfp, &n);
			if (err)
				return err;
			fa__pt_push(lists, n);
		}
	fa__pt_lock(pt);
	for (l = 0; l < pt->fmt->nlevels; l++)
		for (n = (int)l == defer ? NULL : lists[l]; n; n = n->dnode.link.next ?
		     FA_CONTAINER_OF(n->dnode.link.next, struct fa_pt_node, dnode.link) : NULL) {
			err = fa__pt_table_clear(pt, n, &filled, &skipped);
			if (err) {
				fa__pt_unlock(pt);
				return err;
			}
		}
	fa__pt_unlock(pt);
	pt->stats.tables_filled += filled;
	pt->stats.fills_skipped += skipped;
	return 0;
}

/* Four 16-bit counts of 1, as one 64-bit word. */
#define FA__PT_REFS_ONE 0x0001000100010001ull

/* Set the 32 counts at @p r (8-byte aligned: a bitmap word's slots) to the
 * 16-bit value repeated in @p v, eight 64-bit stores. */
static inline void fa__pt_refs32_set(uint16_t *r, uint64_t v)
{
	unsigned int j;

	for (j = 0; j < 8; j++)
		__builtin_memcpy(r + 4 * j, &v, sizeof(v));
}

/* Whether the 32 counts at @p r (8-byte aligned) are all 1: eight 64-bit loads. */
static inline bool fa__pt_refs32_one(const uint16_t *r)
{
	uint64_t x = 0, w;
	unsigned int j;

	for (j = 0; j < 8; j++) {
		__builtin_memcpy(&w, r + 4 * j, sizeof(w));
		x |= w ^ FA__PT_REFS_ONE;
	}
	return x == 0;
}

/* Set the counts of slots [i, i + n) of PTE table @p t to @p one (0 or 1)
 * and their bitmap bits to match, for a range whose counts are all known
 * (all 0 before a take, all 1 before a drop): no reads of the counts; a
 * whole bitmap word (32 slots) is eight 64-bit stores of counts and one
 * store of the word. */
static inline void fa__pt_refs_set_range(struct fa_pt_node *t, unsigned int i, unsigned int n,
					 unsigned int one)
{
	uint64_t v = one ? FA__PT_REFS_ONE : 0;
	unsigned int end = i + n, k;

	while (i < end) {
		unsigned int base = i & ~31u, hi = end - base < 32u ? end - base : 32u;
		unsigned int e = base + hi;
		uint32_t *w = &t->refmap[i >> 5], mask;

		if (e - i == 32u) {
			fa__pt_refs32_set(t->refs + i, v);
			FA_WRITE_ONCE(*w, one ? ~(uint32_t)0 : 0);
		} else {
			for (k = i; k < e; k++)
				t->refs[k] = (uint16_t)one;
			mask = fa__pt_mask32(i & 31u, hi);
			FA_WRITE_ONCE(*w, one ? *w | mask : *w & ~mask);
		}
		i = e;
	}
}

/* Take one reference on slots [i, i + n) of PTE table @p t (ref lock). A
 * table with nothing in it (the first bind of a new table) has every count
 * at 0: they become 1 in one store pass (fa__pt_refs_set_range()). Otherwise
 * one bitmap word (32 slots) at a time: the bitmap is exactly "refs > 0", so
 * a word with no bit set in the range has every count at 0 too. */
static inline void fa__pt_take_refs(struct fa_pt_node *t, unsigned int i, unsigned int n)
{
	unsigned int end = i + n;

	if (t->used == 0) {
		fa__pt_refs_set_range(t, i, n, 1);
		t->used = n;
		return;
	}
	while (i < end) {
		unsigned int base = i & ~31u, hi = end - base < 32u ? end - base : 32u;
		unsigned int k, e = base + hi;
		uint32_t *w = &t->refmap[i >> 5];
		uint32_t mask = fa__pt_mask32(i & 31u, hi);

		if ((*w & mask) == 0) {
			if (e - i == 32u)
				fa__pt_refs32_set(t->refs + i, FA__PT_REFS_ONE);
			else
				for (k = i; k < e; k++)
					t->refs[k] = 1;
			t->used += e - i;
			FA_WRITE_ONCE(*w, *w | mask);
		} else {
			for (k = i; k < e; k++) {
				uint16_t r = t->refs[k]++;

				if (r == 0) {
					FA_WRITE_ONCE(*w, *w | ((uint32_t)1 << (k & 31u)));
					t->used++;
				} else {
					t->multi += r == 1;
				}
			}
		}
		i = e;
	}
}

/* Link a new table @p ch under entry @p idx, slot @p s of @p n. Under a
 * sparse entry the table opens the sparse span: every entry of it is sparse
 * first, and on a dual entry the big half's sparse mark goes (the small
 * table decides now), so the walker reads zero except where a map writes. */
static inline int fa__pt_link_one(struct fa_pt *pt, struct fa_pt_node *n, unsigned int idx,
				  unsigned int s, struct fa_pt_node *ch)
{
	const struct fa_pt_format *f = pt->fmt;
	bool sparse = fa__pt_is_sparse(n, idx);
	int err = 0, e;

	if (sparse)
		err = fa_pramin_fill64(pt->acc, ch->addr, f->sparse_pte, 0,
				       fa_pt_level_entries(f, ch->level) <<
				       (f->level[ch->level].entry_log2 - 3), FA_PRAMIN_ORDER_ANY);
	e = fa__pt_write_pde(pt, n, idx, s, ch->addr);
	if (!err)
		err = e;
	if (sparse && s == 1 && !*fa__pt_cell(f, n, idx, 0)) {
		e = fa_pramin_wr64(pt->acc, fa__pt_word(f, n, idx, 0), f->invalid,
				   FA_PRAMIN_LOW_FIRST);
		if (!err)
			err = e;
	}
	return err;
}

/* Descend to depth @p upto of chain @p c for @p va, linking missing tables
 * from @p lists; the first accessor error goes to @p *err. */
static inline struct fa_pt_node *fa__pt_link_path(struct fa_pt *pt, const struct fa__pt_chain *c,
						  uint64_t va, unsigned int upto,
						  struct fa_pt_node **lists, int *err)
{
	const struct fa_pt_format *f = pt->fmt;
	struct fa_pt_node *n = pt->root;
	unsigned int d, idx, l;
	int e;

	for (d = 0; d < upto; d++) {
		struct fa_pt_node **cell, *ch;

		l = c->lvl[d];
		idx = fa__pt_index(f, l, va);
		cell = fa__pt_cell(f, n, idx, c->slot[d]);
		ch = *cell;
		if (!ch) {
			ch = fa__pt_pop(lists, c->lvl[d + 1]);
			FA_ASSERT(ch != NULL);
			ch->parent = n;
			ch->index = (uint16_t)idx;
			ch->va = va & ~(FA_BIT64(f->level[l].shift) - 1);
			e = fa__pt_link_one(pt, n, idx, c->slot[d], ch);
			if (FA_WARN(e) && !*err)
				*err = e;
			FA_STORE_RELEASE(*cell, ch); /* publish: initialised and linked */
			n->used++;
			pt->stats.live[ch->level]++;
		}
		n = ch;
	}
	return n;
}

/* Link phase of a ref: every table exists afterwards; refs taken. */
static inline int fa__pt_ref_link(struct fa_pt *pt, const struct fa__pt_chain *c, uint64_t va,
				  uint64_t end, struct fa_pt_node **lists)
{
	const struct fa_pt_format *f = pt->fmt;
	int err = 0;

	while (va < end) {
		struct fa_pt_node *n = fa__pt_link_path(pt, c, va, c->depth, lists, &err);
		unsigned int l = c->lvl[c->depth];
		uint64_t next = fa__pt_block_end(va, f->level[l].shift + f->level[l].bits, end);

		fa__pt_take_refs(n, fa__pt_index(f, l, va), (unsigned int)((next - va) >> c->shift));
		va = next;
	}
	return err;
}

/* Release @p n (no slot used): clear its PDE, unlink, queue; then its parents. */
static inline int fa__pt_release_up(struct fa_pt *pt, struct fa_pt_node *n, uint64_t epoch)
{
	const struct fa_pt_format *f = pt->fmt;
	int err = 0, e;

	while (n->parent && n->used == 0 && n->nsparse == 0) {
		struct fa_pt_node *p = n->parent;
		unsigned int s = f->level[n->level].slot, k;
		bool collapse = fa__pt_is_sparse(p, n->index);

		/* Under a sparse entry the last table out leaves a sparse PDE: the
		 * low word turns sparse first (the table it hides reads sparse
		 * too), then the small half goes, so no walker sees a fault. */
		for (k = 0; collapse && k < f->level[p->level].nsub; k++)
			if (k != s && *fa__pt_cell(f, p, n->index, k))
				collapse = false;
		if (collapse) {
			e = fa_pramin_wr64(pt->acc, fa__pt_word(f, p, n->index, 0), f->sparse_pde,
					   FA_PRAMIN_LOW_FIRST);
			if (FA_WARN(e) && !err)
				err = e;
		}
		if (!collapse || s != 0) {
			e = fa_pramin_wr64(pt->acc, fa__pt_word(f, p, n->index, s), f->invalid,
					   FA_PRAMIN_LOW_FIRST);
			if (FA_WARN(e) && !err)
				err = e;
		}
		FA_WRITE_ONCE(*fa__pt_cell(f, p, n->index, s), (struct fa_pt_node *)NULL);
		p->used--;
		pt->stats.live[n->level]--;
		pt->stats.pending[n->level]++;
		fa_deferred_push(&pt->dfree, &n->dnode, epoch);
		n = p;
	}
	return err;
}

/* Drop one reference on slots [i, i + n) of @p t; returns whether it emptied.
 * A table with no slot referenced twice (fa_pt_node::multi at 0, the
 * common unbind: one mapping per slot) has every count of the range at 1:
 * they become 0 in one store pass (fa__pt_refs_set_range()). Otherwise one
 * bitmap word (32 slots) at a time: a word whose counts are all 1 is zeroed
 * in a plain store loop; otherwise the counts reaching 0 are gathered
 * without branches. Either way the bitmap changes in one store per word. */
static inline bool fa__pt_drop_refs(struct fa_pt_node *t, unsigned int i, unsigned int n)
{
	unsigned int end = i + n;

	if (t->multi == 0) {
		fa__pt_refs_set_range(t, i, n, 0);
		t->used -= n;
		return t->used == 0;
	}
	while (i < end) {
		unsigned int base = i & ~31u, hi = end - base < 32u ? end - base : 32u;
		unsigned int k, e = base + hi, zeros = 0, twos = 0;
		uint32_t *w = &t->refmap[i >> 5], gone = 0;
		unsigned int not_one = 0;

		if (e - i == 32u)
			not_one = !fa__pt_refs32_one(t->refs + i);
		else
			for (k = i; k < e; k++)
				not_one |= t->refs[k] ^ 1u;
		if (!not_one) {
			if (e - i == 32u)
				fa__pt_refs32_set(t->refs + i, 0);
			else
				for (k = i; k < e; k++)
					t->refs[k] = 0;
			FA_WRITE_ONCE(*w, *w & ~fa__pt_mask32(i & 31u, hi));
			t->used -= e - i;
			i = e;
			continue;
		}
		for (k = i; k < e; k++) {
			uint16_t r = (uint16_t)(t->refs[k] - 1u);

			t->refs[k] = r;
			gone |= (uint32_t)(r == 0) << (k & 31u);
			zeros += r == 0;
			twos += r == 1;
		}
		t->multi -= twos;
		if (gone) {
			FA_WRITE_ONCE(*w, *w & ~gone);
			t->used -= zeros;
		}
		i = e;
	}
	return t->used == 0;
}

static inline void fa__pt_reclaim_one(struct fa_deferred_node *dn, void *arg)
{
	struct fa_pt *pt = (struct fa_pt *)arg;
	struct fa_pt_node *n = FA_CONTAINER_OF(dn, struct fa_pt_node, dnode);

	pt->stats.pending[n->level]--;
	fa__pt_node_free(pt, n);
}

/* Write PTEs for [va, va + n pages) of PTE table @p t: one fill for 8-byte
 * entries, one write per entry for dual (16-byte) levels. */
static inline int fa__pt_write_run(const struct fa_pt *pt, const struct fa_pt_node *t,
				   unsigned int i, unsigned int n, uint64_t val, uint64_t step,
				   enum fa_pramin_order order)
{
	const struct fa_pt_format *f = pt->fmt;
	unsigned int k;
	int err;

	if (f->level[t->level].entry_log2 == 3)
		return fa_pramin_fill64(pt->acc, fa__pt_word(f, t, i, 0), val, step, n, order);
	for (k = 0; k < n; k++) {
		err = fa_pramin_wr64(pt->acc, fa__pt_word(f, t, i + k, 0), val + k * step, order);
		if (err)
			return err;
	}
	return 0;
}

/* Write every entry of a new, not yet linked PTE table @p t of @p n entries:
 * PTE i = @p val + i * @p step. A dual (16-byte) entry gets its PTE in word 0
 * and the invalid entry in word 1 (its small-table half, which a walker
 * reads once the PTE goes), 8 entries per copy. */
static inline int fa__pt_write_whole(const struct fa_pt *pt, const struct fa_pt_node *t,
				     unsigned int n, uint64_t val, uint64_t step)
{
	const struct fa_pt_format *f = pt->fmt;
	uint64_t buf[16];
	unsigned int i, k, b;
	int err = 0;

	if (f->level[t->level].entry_log2 == 3)
		return fa__pt_write_run(pt, t, 0, n, val, step, FA_PRAMIN_HIGH_FIRST);
	for (i = 0; i < n && !err; i += b) {
		b = n - i < 8u ? n - i : 8u;
		for (k = 0; k < b; k++, val += step) {
			buf[2 * k] = val;
			buf[2 * k + 1] = f->invalid;
		}
		err = fa_pramin_copy64(pt->acc, fa__pt_word(f, t, i, 0), buf, 2 * b,
				       FA_PRAMIN_HIGH_FIRST);
	}
	return err;
}

/* Write the PDEs of entries [idx, idx + n) of @p p, slot @p s, whose tables
 * are linked in the shadow already (fa__pt_ref_map_link()); first error. */
static inline int fa__pt_write_pdes(const struct fa_pt *pt, const struct fa_pt_node *p,
				    unsigned int idx, unsigned int n, unsigned int s)
{
	int err = 0, e;

	for (; n; n--, idx++) {
		e = fa__pt_write_pde(pt, p, idx, s, (*fa__pt_cell(pt->fmt, p, idx, s))->addr);
		if (!err)
			err = e;
	}
	return err;
}

/* A new table's whole write failed part-way: on reused memory it may hold
 * stale words a walker would read as PTEs, so it must never be reachable as
 * it is. Fill it invalid and link it (its PTEs then fault, as after any
 * failed map), or, when that fails too, leave it unlinked (the shadow keeps
 * it; fa_pt_unref() releases it). Returns the first error, @p e. */
static inline int fa__pt_ref_map_whole_failed(struct fa_pt *pt, struct fa_pt_node *p,
					      unsigned int idx, unsigned int s,
					      struct fa_pt_node *t, int e, uint64_t *filled)
{
	(*filled)++;
	if (fa__pt_table_fill(pt, t) == 0)
		(void)FA_WARN(fa__pt_link_one(pt, p, idx, s, t) != 0);
	return e;
}

/*
 * Link phase of fa_pt_ref_map(): every table exists afterwards, refs taken,
 * PTEs written (entry 0 = @p val, then + @p step). A new PTE table of the
 * deferred level (not cleared by the prealloc) that the range covers
 * entirely, outside a sparse entry, gets its PTEs first (fa__pt_write_whole())
 * and its PDE after:
 * written once, and no walker can reach it before every entry is a PTE.
 * Those PDEs go out together, per run of entries of one parent, so the
 * accessor (a PRAMIN window) does not move between a table and its parent
 * for every table. Any other new table of that level is cleared (or opened
 * sparse) and linked first, as fa_pt_ref() does. Accessor errors: warned,
 * the first one returned, the shadow kept consistent.
 */
static inline int fa__pt_ref_map_link(struct fa_pt *pt, const struct fa__pt_chain *c, uint64_t va,
				      uint64_t end, struct fa_pt_node **lists, bool defer,
				      uint64_t val, uint64_t step)
{
	const struct fa_pt_format *f = pt->fmt;
	unsigned int l = c->lvl[c->depth], pl = c->lvl[c->depth - 1], s = c->slot[c->depth - 1];
	uint64_t filled = 0, skipped = 0, whole = fa_pt_level_entries(f, l);
	struct fa_pt_node *pp = NULL; /* parent of the PDEs not written yet */
	unsigned int pidx = 0, pn = 0;
	int err = 0, e;

	while (va < end) {
		uint64_t next = fa__pt_block_end(va, f->level[l].shift + f->level[l].bits, end);
		unsigned int i = fa__pt_index(f, l, va), n = (unsigned int)((next - va) >> c->shift);
		struct fa_pt_node *p = fa__pt_link_path(pt, c, va, c->depth - 1, lists, &err);
		unsigned int idx = fa__pt_index(f, pl, va);
		struct fa_pt_node **cell = fa__pt_cell(f, p, idx, s), *t = *cell;
		bool done = false;

		if (pn && (p != pp || idx != pidx + pn)) {
			e = fa__pt_write_pdes(pt, pp, pidx, pn, s);
			if (FA_WARN(e) && !err)
				err = e;
			pn = 0;
		}
		if (!t) {
			bool sparse = fa__pt_is_sparse(p, idx);

			t = fa__pt_pop(lists, l);
			FA_ASSERT(t != NULL);
			t->parent = p;
			t->index = (uint16_t)idx;
			t->va = va & ~(FA_BIT64(f->level[pl].shift) - 1);
			e = 0;
			if (defer && !sparse && n == whole) {
				e = fa__pt_write_whole(pt, t, n, val, step);
				if (!e) {
					skipped++;
					if (!pn) {
						pp = p;
						pidx = idx;
					}
					pn++; /* its PDE: with the next ones of this parent */
				} else {
					e = fa__pt_ref_map_whole_failed(pt, p, idx, s, t, e, &filled);
				}
				done = true;
			} else {
				if (defer && !sparse)
					e = fa__pt_table_clear(pt, t, &filled, &skipped);
				if (!e)
					e = fa__pt_link_one(pt, p, idx, s, t);
			}
			if (FA_WARN(e) && !err)
				err = e;
			FA_STORE_RELEASE(*cell, t); /* in the shadow; the device sees it once its PDE is out */
			p->used++;
			pt->stats.live[l]++;
		}
		fa__pt_take_refs(t, i, n);
		if (!done) {
			e = fa__pt_write_run(pt, t, i, n, val, step, FA_PRAMIN_HIGH_FIRST);
			if (e && !err)
				err = e;
		}
		pt->stats.ptes_written += n;
		val += (uint64_t)n * step;
		va = next;
	}
	if (pn) {
		e = fa__pt_write_pdes(pt, pp, pidx, pn, s);
		if (FA_WARN(e) && !err)
			err = e;
	}
	pt->stats.tables_filled += filled;
	pt->stats.fills_skipped += skipped;
	return err;
}

/** Entries map_pages encodes on the stack before one copy64 (128 bytes). */
#define FA__PT_BATCH 16u

/* Length of the run of physically contiguous pages starting at pages[0], at most @p n. */
static inline unsigned int fa__pt_run_len(const uint64_t *pages, unsigned int n, uint64_t ps)
{
	unsigned int r = 1;

	while (r < n && pages[r] == pages[0] + r * ps)
		r++;
	return r;
}

/*
 * Write the PTEs of entries [i, i + n) of table @p t from @p pages: runs of
 * at least 4 contiguous pages as one fill, scattered pages batched into one
 * copy of up to FA__PT_BATCH encoded entries (dual levels: per run).
 */
static inline int fa__pt_write_pages(const struct fa_pt *pt, const struct fa_pt_node *t,
				     unsigned int i, unsigned int n, const uint64_t *pages,
				     uint64_t ps, uint32_t attr)
{
	const struct fa_pt_format *f = pt->fmt;
	unsigned int l = t->level, j = 0, nb = 0, b0 = 0, r, q;
	uint64_t buf[FA__PT_BATCH], v;
	int err = 0;

	while (j < n && !err) {
		r = fa__pt_run_len(pages + j, n - j, ps);
		if (r >= 4 || f->level[l].entry_log2 != 3) {
			if (nb)
				err = fa_pramin_copy64(pt->acc, fa__pt_word(f, t, i + b0, 0), buf, nb,
						       FA_PRAMIN_HIGH_FIRST);
			nb = 0;
			v = fa_pt_pte_encode(f, l, pages[j], attr);
			if (!err)
				err = fa__pt_write_run(pt, t, i + j, r, v,
						       fa_pt_pte_encode(f, l, pages[j] + ps, attr) - v,
						       FA_PRAMIN_HIGH_FIRST);
			j += r;
			continue;
		}
		for (q = 0; q < r && !err; q++, j++) {
			if (nb == 0)
				b0 = j;
			buf[nb++] = fa_pt_pte_encode(f, l, pages[j], attr);
			if (nb == FA__PT_BATCH) {
				err = fa_pramin_copy64(pt->acc, fa__pt_word(f, t, i + b0, 0), buf, nb,
						       FA_PRAMIN_HIGH_FIRST);
				nb = 0;
			}
		}
	}
	if (nb && !err)
		err = fa_pramin_copy64(pt->acc, fa__pt_word(f, t, i + b0, 0), buf, nb,
				       FA_PRAMIN_HIGH_FIRST);
	return err;
}
/** @endcond */

/** @cond INTERNAL */
/* Mark @p pt not initialised: no format, no root (what every entry point
 * checks), empty deferred list and zero counters, so nothing in the struct
 * is left undefined whatever the caller's storage held before. */
static inline void fa__pt_blank(struct fa_pt *pt)
{
	unsigned int i;

	pt->fmt = NULL;
	pt->acc = NULL;
	pt->root = NULL;
	pt->tables.alloc = NULL;
	pt->tables.free = NULL;
	pt->tables.ctx = NULL;
	pt->shadow.alloc = NULL;
	pt->shadow.free = NULL;
	pt->shadow.ctx = NULL;
	pt->acc_lock.lock = NULL;
	pt->acc_lock.unlock = NULL;
	pt->acc_lock.ctx = NULL;
	pt->pde_attr = 0;
	for (i = 0; i < FA_PT_MAX_LEVELS; i++) {
		pt->stats.live[i] = 0;
		pt->stats.pending[i] = 0;
	}
	pt->stats.allocated = 0;
	pt->stats.freed = 0;
	pt->stats.ptes_written = 0;
	pt->stats.tables_filled = 0;
	pt->stats.fills_skipped = 0;
	fa_deferred_init(&pt->dfree);
}

/* Whether @p pt is an initialised tree (fa_pt_init() succeeded, no fa_pt_fini() yet). */
static inline bool fa__pt_ready(const struct fa_pt *pt)
{
	return pt && pt->root && pt->fmt;
}
/** @endcond */

/**
 * Fill a configuration with the required parts and defaults (tables in
 * VRAM, no accessor lock hooks).
 * @stage any
 * @locking none
 * @param cfg Configuration to fill (NULL warns and does nothing).
 * @param fmt Format (NULL is stored; fa_pt_init() then refuses the configuration).
 * @param acc Table memory accessor (must outlive the tree; NULL as for @p fmt).
 * @param tables Table allocator (copied; NULL warns and leaves @p cfg untouched).
 * @param shadow Shadow node allocator (copied; NULL as for @p tables).
 */
static inline void fa_pt_config_init(struct fa_pt_config *cfg, const struct fa_pt_format *fmt,
				     const struct fa_pramin_accessor *acc,
				     const struct fa_pt_table_alloc *tables,
				     const struct fa_reserve_source *shadow)
{
	if (FA_WARN(!cfg || !tables || !shadow))
		return;
	cfg->fmt = fmt;
	cfg->acc = acc;
	cfg->tables = *tables;
	cfg->shadow = *shadow;
	cfg->acc_lock.lock = NULL;
	cfg->acc_lock.unlock = NULL;
	cfg->acc_lock.ctx = NULL;
	cfg->pde_attr = FA_PT_APER_VRAM;
}

/**
 * Shadow node bytes for a table of level @p level (what the shadow source is
 * asked for).
 * @stage any
 * @locking none
 * @param f Format (NULL warns and gives 0).
 * @param level Level index (< fa_pt_format::nlevels; beyond warns and gives 0).
 * @return Bytes.
 */
static inline size_t fa_pt_node_bytes(const struct fa_pt_format *f, unsigned int level)
{
	if (FA_WARN(!f || level >= f->nlevels))
		return 0;
	return fa__pt_node_size(f, level);
}

/**
 * Set up a tree: validate the format, allocate and clear the root table.
 * The first thing it does (when @p pt is not NULL) is mark @p *pt not
 * initialised, so after a failed init every other function sees that and
 * refuses (-FA_EINVAL, or a warning): a generic unwind may call
 * fa_pt_fini() on it safely whatever the storage held before.
 * @stage submit (allocates the root)
 * @locking ref lock (or none: the tree is not shared yet)
 * @param pt Tree (caller storage, any content; not an initialised tree,
 *        whose tables would be lost).
 * @param cfg Configuration.
 * @param gfp Allocation context for the root.
 * @return 0; -FA_EINVAL for a bad configuration or format; the allocators'
 *         error (-FA_ENOMEM ...) or the accessor's; -FA_EFAULT when the root
 *         table's address is misaligned or not encodable; on error nothing is held
 *         and @p *pt is marked not initialised.
 */
static inline int fa_pt_init(struct fa_pt *pt, const struct fa_pt_config *cfg, fa_gfp_t gfp)
{
	struct fa_pt_node *root = NULL;
	int err;

	if (pt)
		fa__pt_blank(pt);
	if (!pt || !cfg || !cfg->acc || !cfg->tables.alloc || !cfg->tables.free ||
	    !cfg->shadow.alloc || !cfg->shadow.free || fa_pt_format_validate(cfg->fmt) ||
	    (cfg->pde_attr & FA_PT_APER_MASK) == FA_PT_APER_PEER ||
	    !cfg->acc_lock.lock != !cfg->acc_lock.unlock)
		return -FA_EINVAL;
	pt->fmt = cfg->fmt;
	pt->acc = cfg->acc;
	pt->tables = cfg->tables;
	pt->shadow = cfg->shadow;
	pt->acc_lock = cfg->acc_lock;
	pt->pde_attr = cfg->pde_attr & cfg->fmt->pde_attr_mask;
	err = fa__pt_node_alloc(pt, 0, gfp, &root);
	if (err) {
		fa__pt_blank(pt);
		return err;
	}
	fa__pt_lock(pt);
	err = fa__pt_table_clear(pt, root, &pt->stats.tables_filled, &pt->stats.fills_skipped);
	fa__pt_unlock(pt);
	if (err) {
		fa__pt_node_free(pt, root);
		fa__pt_blank(pt);
		return err;
	}
	pt->root = root;
	pt->stats.live[0] = 1;
	return 0;
}

/**
 * Device address of the root table (the PDB to program into the instance
 * block / the TLB-invalidate register).
 * @stage any
 * @locking none
 * @param pt Initialised tree.
 * @return Root table address; 0 with a warning when @p pt is NULL or not
 *         initialised.
 */
static inline uint64_t fa_pt_root_addr(const struct fa_pt *pt)
{
	if (FA_WARN(!fa__pt_ready(pt)))
		return 0;
	return pt->root->addr;
}

/**
 * Static worst case: the tables a fa_pt_ref() of the range can allocate in
 * any tree (every table below the root counted as missing; misaligned ends
 * counted: a range straddling a boundary needs a table on each side). Needs
 * no tree, so it can size a reservation before the ref lock is taken.
 * @stage any
 * @locking none
 * @param f Format.
 * @param va First VA (aligned to @p page_size).
 * @param size Bytes (a non-zero multiple of @p page_size).
 * @param page_size Page size the range will be referenced with.
 * @param out Estimate (written on success only).
 * @return 0; -FA_EINVAL (misaligned, zero size, NULL), -FA_EOPNOTSUPP (page
 *         size not in the format), -FA_EOVERFLOW (va + size wraps),
 *         -FA_ERANGE (beyond the format's VA bits).
 */
static inline int fa_pt_estimate_static(const struct fa_pt_format *f, uint64_t va, uint64_t size,
					uint64_t page_size, struct fa_pt_estimate *out)
{
	struct fa__pt_chain c;
	int err = fa__pt_args(f, va, size, page_size, &c);

	if (err || !out)
		return err ? err : -FA_EINVAL;
	fa__pt_est_zero(out);
	if (c.depth > 0)
		fa__pt_count_missing(f, &c, 1, va, va + size, out);
	return 0;
}

/**
 * Exact number of tables a fa_pt_ref() of the range would allocate now,
 * from a read-only walk of the shadow (existing tables are not counted).
 * Equal to what fa_pt_ref() allocates when nothing else changes the tree in
 * between (fa_pt_ref() itself uses this walk).
 * @stage submit
 * @locking ref lock
 * @param pt Tree.
 * @param va First VA.
 * @param size Bytes.
 * @param page_size Page size.
 * @param out Estimate (written on success only).
 * @return 0, or the errors of fa_pt_estimate_static().
 */
static inline int fa_pt_estimate(const struct fa_pt *pt, uint64_t va, uint64_t size,
				 uint64_t page_size, struct fa_pt_estimate *out)
{
	struct fa__pt_chain c;
	int err;

	if (!fa__pt_ready(pt) || !out)
		return -FA_EINVAL;
	err = fa__pt_args(pt->fmt, va, size, page_size, &c);
	if (err)
		return err;
	fa__pt_est_zero(out);
	return fa__pt_scan(pt, &c, va, va + size, false, out);
}

/**
 * Tables of one byte size in an estimate: tables of equal size are
 * interchangeable for a pool (ver2: PD2, PD1, PD0 and small PTs are all
 * 4 KiB; big PTs 256 bytes), so reservations are kept per size.
 * @stage any
 * @locking none
 * @param f Format the estimate was made for (NULL warns and gives 0).
 * @param est Estimate (NULL warns and gives 0).
 * @param bytes Table size (fa_pt_level_bytes() of some level).
 * @return Number of tables of that size.
 */
static inline uint64_t fa_pt_estimate_tables_of_size(const struct fa_pt_format *f,
						     const struct fa_pt_estimate *est,
						     uint64_t bytes)
{
	uint64_t n = 0;
	unsigned int l;

	if (FA_WARN(!f || !est))
		return 0;
	for (l = 0; l < f->nlevels; l++)
		if (fa_pt_level_bytes(f, l) == bytes)
			n += est->tables[l];
	return n;
}

/**
 * Reference every PTE slot of a range, creating the missing tables.
 * Order: read-only walk (validates, counts), allocate every missing table
 * and shadow node, clear them through the accessor, then link them (PDEs
 * written high half first) and take the references. Nothing is visible to
 * a concurrent map until it is initialised and linked.
 * @stage submit (allocates through the caller's allocators with @p gfp; run-safe
 *        when both allocators only draw from reservations, see the overview)
 * @locking ref lock; takes the accessor lock hooks after allocating, never
 *          across an allocation
 * @param pt Tree.
 * @param va First VA (aligned to @p page_size).
 * @param size Bytes (non-zero multiple of @p page_size).
 * @param page_size Page size the range will be mapped with.
 * @param gfp Allocation context.
 * @return 0; -FA_EINVAL, -FA_EOPNOTSUPP, -FA_EOVERFLOW, -FA_ERANGE for bad
 *         arguments; -FA_EBUSY when the range conflicts with a huge page
 *         slot (a huge PTE referenced on the path, or child tables under a
 *         huge slot to reference); -FA_EOVERFLOW when a slot already has
 *         65535 references; the allocators' errors (-FA_ENOMEM, -FA_ENOSPC);
 *         -FA_EFAULT when the table allocator returned an address the
 *         format cannot point at (misaligned, or beyond its address bits:
 *         ver2 VRAM tables must lie below 2^37); the accessor's error while
 *         clearing new tables. On any of these,
 *         nothing changed. An accessor error while writing a PDE after that
 *         point is warned about and returned, with the references taken
 *         (the shadow stays consistent; fa_pt_unref() undoes it).
 */
static inline int fa_pt_ref(struct fa_pt *pt, uint64_t va, uint64_t size, uint64_t page_size,
			    fa_gfp_t gfp)
{
	struct fa_pt_node *lists[FA_PT_MAX_LEVELS];
	struct fa_pt_estimate est;
	struct fa__pt_chain c;
	unsigned int i;
	int err;

	if (!fa__pt_ready(pt))
		return -FA_EINVAL;
	err = fa__pt_args(pt->fmt, va, size, page_size, &c);
	if (err)
		return err;
	fa__pt_est_zero(&est);
	err = fa__pt_scan(pt, &c, va, va + size, true, &est);
	if (err)
		return err;
	for (i = 0; i < FA_PT_MAX_LEVELS; i++)
		lists[i] = NULL;
	err = fa__pt_prealloc(pt, &est, gfp, lists, -1);
	if (err) {
		fa__pt_free_lists(pt, lists);
		return err;
	}
	fa__pt_lock(pt);
	err = fa__pt_ref_link(pt, &c, va, va + size, lists);
	fa__pt_unlock(pt);
	for (i = 0; i < FA_PT_MAX_LEVELS; i++)
		FA_ASSERT(lists[i] == NULL);
	return err;
}

/**
 * Map a physically contiguous range: PTE i gets @p pa + i × @p page_size.
 * Checks first that every slot is referenced; writes one accessor fill per
 * PTE table touched (high half first, so VALID lands last).
 * @stage run (never allocates, never sleeps)
 * @locking map lock; takes the accessor lock hooks around the writes
 * @param pt Tree.
 * @param va First VA (aligned to @p page_size).
 * @param size Bytes (non-zero multiple of @p page_size).
 * @param page_size Page size the range was referenced with.
 * @param pa First physical address (aligned to @p page_size).
 * @param attr PTE attributes (FA_PT_APER_*, FA_PT_RO, FA_PT_KIND() ...).
 * @return 0; -FA_EINVAL, -FA_EOPNOTSUPP, -FA_EOVERFLOW, -FA_ERANGE for bad
 *         arguments or a physical range the format cannot encode; -FA_ENOENT
 *         with a warning when part of the range is not referenced. In all of
 *         these nothing is written. An accessor error is returned as is
 *         (entries before it may have been written).
 */
static inline int fa_pt_map(struct fa_pt *pt, uint64_t va, uint64_t size, uint64_t page_size,
			    uint64_t pa, uint32_t attr)
{
	const struct fa_pt_format *f;
	struct fa_pt_node *path[FA_PT_MAX_DEPTH];
	uint64_t last = FA_U64_MAX;
	struct fa__pt_chain c;
	uint64_t end, val, step;
	int err = 0;

	if (!fa__pt_ready(pt))
		return -FA_EINVAL;
	f = pt->fmt;
	err = fa__pt_map_args(f, va, size, page_size, pa, attr, &c);
	if (err)
		return err;
	end = va + size;
	if (FA_WARN(!fa__pt_all_referenced(pt, &c, va, end)))
		return -FA_ENOENT;
	attr &= f->pte_attr_mask;
	val = fa_pt_pte_encode(f, c.lvl[c.depth], pa, attr);
	step = fa_pt_pte_encode(f, c.lvl[c.depth], pa + page_size, attr) - val;
	fa__pt_lock(pt);
	while (va < end && !err) {
		unsigned int l = c.lvl[c.depth];
		uint64_t next = fa__pt_block_end(va, f->level[l].shift + f->level[l].bits, end);
		unsigned int n = (unsigned int)((next - va) >> c.shift);
		struct fa_pt_node *t = fa__pt_find_next(pt, &c, va, path, &last);

		err = fa__pt_write_run(pt, t, fa__pt_index(f, l, va), n, val, step,
				       FA_PRAMIN_HIGH_FIRST);
		val += (uint64_t)n * step;
		pt->stats.ptes_written += n;
		va = next;
	}
	fa__pt_unlock(pt);
	return err;
}

/**
 * Reference a range and map it, physically contiguous: fa_pt_ref() then
 * fa_pt_map() in one walk, with one difference in the writes. A new PTE
 * table that the range covers entirely (outside a sparse entry) is not
 * filled with the invalid entry first: its PTEs are written (a dual entry:
 * the PTE and an invalid small-table half), then its PDE, so no walker
 * reaches it before every entry is a PTE and the table is written once. On reused (not cleared) table memory that halves
 * the writes of a bind; on cleared memory the count is the same as
 * fa_pt_ref() + fa_pt_map(). Entries of existing tables are written as
 * fa_pt_map() writes them (high half first), after the references are taken.
 * @stage submit (run, when both allocators only draw from reservations, as
 *        for fa_pt_ref())
 * @locking ref lock and map lock; takes the accessor lock hooks after
 *          allocating, never across an allocation
 * @param pt Tree.
 * @param va First VA (aligned to @p page_size).
 * @param size Bytes (non-zero multiple of @p page_size).
 * @param page_size Page size.
 * @param pa First physical address (aligned to @p page_size).
 * @param attr PTE attributes (as fa_pt_map()).
 * @param gfp Allocation context (as fa_pt_ref()).
 * @return 0; the errors of fa_pt_ref() and the argument errors of
 *         fa_pt_map(), with nothing changed; an accessor error after the
 *         tables were allocated is warned about and returned, with the
 *         references taken (fa_pt_unmap() + fa_pt_unref() undo it); a new
 *         table whose whole write failed is linked only once filled invalid,
 *         so a walker never reads what its memory held before.
 */
static inline int fa_pt_ref_map(struct fa_pt *pt, uint64_t va, uint64_t size, uint64_t page_size,
				uint64_t pa, uint32_t attr, fa_gfp_t gfp)
{
	struct fa_pt_node *lists[FA_PT_MAX_LEVELS];
	const struct fa_pt_format *f;
	struct fa_pt_estimate est;
	struct fa__pt_chain c;
	uint64_t val, step;
	unsigned int i;
	bool defer;
	int err;

	if (!fa__pt_ready(pt))
		return -FA_EINVAL;
	f = pt->fmt;
	err = fa__pt_map_args(f, va, size, page_size, pa, attr, &c);
	if (err)
		return err;
	if (c.depth == 0) {
		err = fa_pt_ref(pt, va, size, page_size, gfp);
		return err ? err : fa_pt_map(pt, va, size, page_size, pa, attr);
	}
	fa__pt_est_zero(&est);
	err = fa__pt_scan(pt, &c, va, va + size, true, &est);
	if (err)
		return err;
	for (i = 0; i < FA_PT_MAX_LEVELS; i++)
		lists[i] = NULL;
	defer = f->level[c.lvl[c.depth]].entry_log2 == 3 ||
		(f->level[c.lvl[c.depth]].entry_log2 == 4 && f->level[c.lvl[c.depth]].nsub == 2);
	err = fa__pt_prealloc(pt, &est, gfp, lists, defer ? (int)c.lvl[c.depth] : -1);
	if (err) {
		fa__pt_free_lists(pt, lists);
		return err;
	}
	attr &= f->pte_attr_mask;
	val = fa_pt_pte_encode(f, c.lvl[c.depth], pa, attr);
	step = fa_pt_pte_encode(f, c.lvl[c.depth], pa + page_size, attr) - val;
	fa__pt_lock(pt);
	err = fa__pt_ref_map_link(pt, &c, va, va + size, lists, defer, val, step);
	fa__pt_unlock(pt);
	for (i = 0; i < FA_PT_MAX_LEVELS; i++)
		FA_ASSERT(lists[i] == NULL);
	return err;
}

/**
 * Map a range page by page from an array of physical addresses. Inside each
 * table, runs of 4 or more contiguous pages go out as one fill; scattered
 * pages are encoded into a 16-entry stack buffer and go out as one copy.
 * @stage run (never allocates, never sleeps)
 * @locking map lock; takes the accessor lock hooks around the writes
 * @param pt Tree.
 * @param va First VA.
 * @param size Bytes (non-zero multiple of @p page_size).
 * @param page_size Page size the range was referenced with.
 * @param pages size / page_size physical page addresses, each aligned.
 * @param attr PTE attributes.
 * @return As fa_pt_map(); every page address is checked before anything is written.
 */
static inline int fa_pt_map_pages(struct fa_pt *pt, uint64_t va, uint64_t size,
				  uint64_t page_size, const uint64_t *pages, uint32_t attr)
{
	const struct fa_pt_format *f;
	struct fa_pt_node *path[FA_PT_MAX_DEPTH];
	uint64_t last = FA_U64_MAX;
	struct fa__pt_chain c;
	uint64_t end, k, npages, done = 0;
	int err;

	if (!fa__pt_ready(pt) || !pages)
		return -FA_EINVAL;
	f = pt->fmt;
	err = fa__pt_args(f, va, size, page_size, &c);
	if (err)
		return err;
	npages = size >> c.shift;
	for (k = 0; k < npages; k++) {
		if (!fa_is_aligned(pages[k], page_size))
			return -FA_EINVAL;
		if (!fa_pt_pa_ok(f, pages[k], c.shift, attr))
			return -FA_ERANGE;
	}
	end = va + size;
	if (FA_WARN(!fa__pt_all_referenced(pt, &c, va, end)))
		return -FA_ENOENT;
	attr &= f->pte_attr_mask;
	fa__pt_lock(pt);
	while (va < end && !err) {
		unsigned int l = c.lvl[c.depth];
		uint64_t next = fa__pt_block_end(va, f->level[l].shift + f->level[l].bits, end);
		unsigned int n = (unsigned int)((next - va) >> c.shift);
		struct fa_pt_node *t = fa__pt_find_next(pt, &c, va, path, &last);

		err = fa__pt_write_pages(pt, t, fa__pt_index(f, l, va), n, pages + done, page_size,
					 attr);
		pt->stats.ptes_written += n;
		done += n;
		va = next;
	}
	fa__pt_unlock(pt);
	return err;
}

/** @cond INTERNAL */
/* The checks of a call that rewrites referenced PTEs (unmap, sparse,
 * unmap_unref): a ready tree, valid arguments, and every slot of the range
 * referenced (-FA_ENOENT with a warning: the caller skipped fa_pt_ref()). */
static inline int fa__pt_referenced_args(const struct fa_pt *pt, uint64_t va, uint64_t size,
					 uint64_t page_size, struct fa__pt_chain *c)
{
	int err;

	if (!fa__pt_ready(pt))
		return -FA_EINVAL;
	err = fa__pt_args(pt->fmt, va, size, page_size, c);
	if (err)
		return err;
	if (FA_WARN(!fa__pt_all_referenced(pt, c, va, va + size)))
		return -FA_ENOENT;
	return 0;
}

/* Write one value to every PTE of a referenced range (unmap, sparse). */
static inline int fa__pt_fill_range(struct fa_pt *pt, uint64_t va, uint64_t size,
				    uint64_t page_size, uint64_t value)
{
	const struct fa_pt_format *f;
	struct fa_pt_node *path[FA_PT_MAX_DEPTH];
	uint64_t last = FA_U64_MAX;
	struct fa__pt_chain c;
	uint64_t end;
	int err;

	err = fa__pt_referenced_args(pt, va, size, page_size, &c);
	if (err)
		return err;
	f = pt->fmt;
	end = va + size;
	fa__pt_lock(pt);
	while (va < end && !err) {
		unsigned int l = c.lvl[c.depth];
		uint64_t next = fa__pt_block_end(va, f->level[l].shift + f->level[l].bits, end);
		unsigned int n = (unsigned int)((next - va) >> c.shift);
		struct fa_pt_node *t = fa__pt_find_next(pt, &c, va, path, &last);

		err = fa__pt_write_run(pt, t, fa__pt_index(f, l, va), n, value, 0,
				       FA_PRAMIN_LOW_FIRST);
		pt->stats.ptes_written += n;
		va = next;
	}
	fa__pt_unlock(pt);
	return err;
}
/** @endcond */

/**
 * Unmap a range: write the invalid entry to every PTE (low half first, so
 * VALID clears first). Tables stay; fa_pt_unref() releases them.
 * @stage run (never allocates, never frees, never sleeps)
 * @locking map lock; takes the accessor lock hooks around the writes
 * @param pt Tree.
 * @param va First VA.
 * @param size Bytes.
 * @param page_size Page size the range was mapped with (selects the table:
 *        big or small under a dual entry, or the huge level).
 * @return 0; -FA_EINVAL, -FA_EOPNOTSUPP, -FA_EOVERFLOW, -FA_ERANGE for bad
 *         arguments; -FA_ENOENT with a warning when part of the range is not
 *         referenced (nothing written); an accessor error as is.
 */
static inline int fa_pt_unmap(struct fa_pt *pt, uint64_t va, uint64_t size, uint64_t page_size)
{
	if (!fa__pt_ready(pt))
		return -FA_EINVAL; /* before reading the format */
	return fa__pt_fill_range(pt, va, size, page_size, pt->fmt->invalid);
}

/**
 * Unmap a range and drop its references: fa_pt_unmap() then fa_pt_unref()
 * in one walk. Each PTE table's entries are written invalid (low half
 * first) and its references dropped as the walk passes it; the tables left
 * empty are released after the walk, in address order (their PDEs cleared
 * low half first, queued for freeing once @p epoch has completed, their
 * parents following), so every PTE of the range is invalid before any PDE
 * is cleared, as with the two calls, and a PRAMIN window does not move
 * between a table and its parent for every table.
 * @stage run (never allocates, never sleeps, frees nothing itself)
 * @locking ref lock and map lock; takes the accessor lock hooks around the walk
 * @param pt Tree.
 * @param va First VA.
 * @param size Bytes.
 * @param page_size Page size the range was mapped with.
 * @param epoch Epoch of the next TLB invalidate (as fa_pt_unref()).
 * @return 0; the argument errors of fa_pt_unmap(); -FA_ENOENT with a
 *         warning when part of the range is not referenced (nothing
 *         written, nothing dropped); an accessor error (warned for a PDE),
 *         with the shadow updated regardless.
 */
static inline int fa_pt_unmap_unref(struct fa_pt *pt, uint64_t va, uint64_t size,
				    uint64_t page_size, uint64_t epoch)
{
	const struct fa_pt_format *f;
	struct fa_pt_node *path[FA_PT_MAX_DEPTH], *empty = NULL, *prev = NULL, *t;
	uint64_t last = FA_U64_MAX, end;
	struct fa__pt_chain c;
	int err, e;

	err = fa__pt_referenced_args(pt, va, size, page_size, &c);
	if (err)
		return err;
	f = pt->fmt;
	end = va + size;
	fa__pt_lock(pt);
	while (va < end) {
		unsigned int l = c.lvl[c.depth], i = fa__pt_index(f, l, va), n;
		uint64_t next = fa__pt_block_end(va, f->level[l].shift + f->level[l].bits, end);

		n = (unsigned int)((next - va) >> c.shift);
		t = fa__pt_find_next(pt, &c, va, path, &last);
		e = fa__pt_write_run(pt, t, i, n, f->invalid, 0, FA_PRAMIN_LOW_FIRST);
		if (e && !err)
			err = e;
		pt->stats.ptes_written += n;
		if (fa__pt_drop_refs(t, i, n)) {
			/* emptied: released after the walk (the link is free until then) */
			t->dnode.link.next = NULL;
			if (prev)
				prev->dnode.link.next = &t->dnode.link;
			else
				empty = t;
			prev = t;
		}
		va = next;
	}
	while (empty) {
		t = empty;
		empty = t->dnode.link.next ?
			FA_CONTAINER_OF(t->dnode.link.next, struct fa_pt_node, dnode.link) : NULL;
		t->dnode.link.next = NULL;
		e = fa__pt_release_up(pt, t, epoch);
		if (e && !err)
			err = e;
	}
	fa__pt_unlock(pt);
	return err;
}

/**
 * Make a referenced range sparse: write the format's sparse PTE encoding
 * (fa_pt_format::sparse_pte: reads return zero, writes are dropped, no
 * fault) to every PTE, as for the unbound pages of a Vulkan sparse resource.
 * fa_pt_map() over a sparse PTE binds it; fa_pt_unmap() makes it invalid
 * again. This works on referenced slots only (the tables must exist); for
 * sparse directory entries over VA without tables use fa_pt_sparse_ref().
 * @stage run (never allocates, never sleeps)
 * @locking map lock; takes the accessor lock hooks around the writes
 * @param pt Tree.
 * @param va First VA.
 * @param size Bytes.
 * @param page_size Page size the range was referenced with.
 * @return 0; -FA_EOPNOTSUPP when the format has no sparse encoding (x86-64)
 *         or lacks the page size; the other errors and the warning of
 *         fa_pt_unmap(); nothing written on error.
 */
static inline int fa_pt_sparse(struct fa_pt *pt, uint64_t va, uint64_t size, uint64_t page_size)
{
	if (!fa__pt_ready(pt))
		return -FA_EINVAL;
	if (!pt->fmt->sparse_pte)
		return -FA_EOPNOTSUPP;
	return fa__pt_fill_range(pt, va, size, page_size, pt->fmt->sparse_pte);
}

/** @cond INTERNAL */
/* The table at depth c->depth - 1 (the sparse-PDE level) for @p va, or NULL. */
static inline struct fa_pt_node *fa__pt_find_pd(const struct fa_pt *pt,
						const struct fa__pt_chain *c, uint64_t va)
{
	const struct fa_pt_format *f = pt->fmt;
	struct fa_pt_node *n = pt->root;
	unsigned int d;

	for (d = 0; n && d + 1 < c->depth; d++)
		n = FA_LOAD_ACQUIRE(*fa__pt_cell(f, n, fa__pt_index(f, c->lvl[d], va), c->slot[d]));
	return n;
}

/* Whether entry @p idx of @p n has a child table in any slot. */
static inline bool fa__pt_has_child(const struct fa_pt_format *f, const struct fa_pt_node *n,
				    unsigned int idx)
{
	unsigned int k;

	for (k = 0; k < f->level[n->level].nsub; k++)
		if (*fa__pt_cell(f, n, idx, k))
			return true;
	return false;
}

/* One piece of a sparse ref: [va, next) within one entry of the PDE level.
 * Returns 1 when the entry can be sparse as a whole (covered, no table, no
 * huge PTE, no sparse mark yet), 0 when its PTEs must be, -FA_EBUSY when
 * the entry is sparse already. @p pd_out / @p idx_out: the PDE-level table
 * (NULL when missing) and the entry index. */
static inline int fa__pt_sparse_piece(const struct fa_pt *pt, const struct fa__pt_chain *c,
				      uint64_t va, uint64_t next, struct fa_pt_node **pd_out,
				      unsigned int *idx_out)
{
	const struct fa_pt_format *f = pt->fmt;
	unsigned int pl = c->lvl[c->depth - 1];
	struct fa_pt_node *pd = fa__pt_find_pd(pt, c, va);
	unsigned int idx = fa__pt_index(f, pl, va);
	bool covered = next - va == FA_BIT64(f->level[pl].shift);

	*pd_out = pd;
	*idx_out = idx;
	if (!pd)
		return covered ? 1 : 0;
	if (fa__pt_is_sparse(pd, idx))
		return -FA_EBUSY;
	return covered && !fa__pt_has_child(f, pd, idx) && !(pd->refs && pd->refs[idx]) ? 1 : 0;
}
/** @endcond */

/**
 * Make a range sparse the way a Vulkan sparse bind needs it, without
 * allocating page tables where it need not: every directory entry one level
 * above the PTE tables of @p page_size (ver2/ver3 PD0 for 4 KiB and 64 KiB
 * pages, PD1 for 2 MiB) whose whole span lies in the range and has no table
 * gets a sparse PDE (fa_pt_format::sparse_pde: ver2 aperture invalid + VOL,
 * ver3 aperture invalid + PCF sparse; the MMU reads zero below it, no fault)
 * and is counted in its table's fa_pt_node::nsparse, which keeps that table
 * alive. The rest of the range (the partial ends, entries that still have a
 * table) is referenced and gets sparse PTEs, as fa_pt_ref() then
 * fa_pt_sparse() would do.
 *
 * A later fa_pt_ref() of that page size into a sparse entry creates its
 * PTE table with every entry sparse, so mapping writes only the mapped pages;
 * when the table empties again, fa_pt_unref() turns the entry back into a
 * sparse PDE instead of an invalid one. A fa_pt_ref() that would need a
 * directory table under a sparse entry (another page size) is refused with
 * -FA_EBUSY. Tables: exactly those the directory path needs, plus a PTE
 * table for each partial end that has none (fa_pt_estimate_static() of the
 * range is an upper bound).
 * @stage submit (allocates like fa_pt_ref(); run-safe from reservations)
 * @locking ref lock and map lock (it writes PTEs); takes the accessor lock
 *          hooks after allocating
 * @param pt Tree.
 * @param va First VA (aligned to @p page_size).
 * @param size Bytes (non-zero multiple of @p page_size).
 * @param page_size Page size of the sparse range (its maps use it too).
 * @param gfp Allocation context.
 * @return 0; -FA_EOPNOTSUPP when the format has no sparse encoding; the
 *         errors of fa_pt_ref(); -FA_EBUSY as well when part of the range
 *         is a sparse entry already. Nothing changed on these errors.
 */
static inline int fa_pt_sparse_ref(struct fa_pt *pt, uint64_t va, uint64_t size,
				   uint64_t page_size, fa_gfp_t gfp)
{
	struct fa_pt_node *lists[FA_PT_MAX_LEVELS], *pd, *t;
	struct fa_pt_estimate est, tmp;
	struct fa__pt_chain c, c2;
	const struct fa_pt_format *f;
	uint64_t a, next, end;
	unsigned int i, idx, pl, ll;
	int err, whole, e;

	if (!fa__pt_ready(pt))
		return -FA_EINVAL;
	f = pt->fmt;
	if (!f->sparse_pte || !f->sparse_pde)
		return -FA_EOPNOTSUPP;
	err = fa__pt_args(f, va, size, page_size, &c);
	if (err)
		return err;
	if (c.depth == 0) {
		err = fa_pt_ref(pt, va, size, page_size, gfp);
		return err ? err : fa_pt_sparse(pt, va, size, page_size);
	}
	end = va + size;
	pl = c.lvl[c.depth - 1];
	ll = c.lvl[c.depth];
	/* 1. check every piece; count the directory path once, PTE tables per piece */
	c2 = c;
	c2.depth = c.depth - 1;
	fa__pt_est_zero(&est);
	(void)fa__pt_scan(pt, &c2, va, end, false, &est);
	for (a = va; a < end; a = next) {
		next = fa__pt_block_end(a, f->level[pl].shift, end);
		whole = fa__pt_sparse_piece(pt, &c, a, next, &pd, &idx);
		if (whole < 0)
			return whole;
		fa__pt_est_zero(&tmp);
		err = fa__pt_scan(pt, &c, a, next, true, &tmp);
		if (err)
			return err;
		if (!whole && (!pd || !*fa__pt_cell(f, pd, idx, c.slot[c.depth - 1]))) {
			est.tables[ll]++;
			est.total++;
		}
	}
	/* 2. allocate and clear, 3. link: sparse PDEs, or refs and sparse PTEs */
	for (i = 0; i < FA_PT_MAX_LEVELS; i++)
		lists[i] = NULL;
	err = fa__pt_prealloc(pt, &est, gfp, lists, -1);
	if (err) {
		fa__pt_free_lists(pt, lists);
		return err;
	}
	fa__pt_lock(pt);
	for (a = va; a < end; a = next) {
		next = fa__pt_block_end(a, f->level[pl].shift, end);
		whole = fa__pt_sparse_piece(pt, &c, a, next, &pd, &idx);
		if (whole) {
			pd = fa__pt_link_path(pt, &c, a, c.depth - 1, lists, &err);
			pd->sparsemap[idx >> 5] |= (uint32_t)1 << (idx & 31u);
			pd->nsparse++;
			e = fa_pramin_wr64(pt->acc, fa__pt_word(f, pd, idx, 0), f->sparse_pde,
					   FA_PRAMIN_LOW_FIRST);
		} else {
			t = fa__pt_link_path(pt, &c, a, c.depth, lists, &err);
			idx = fa__pt_index(f, ll, a);
			fa__pt_take_refs(t, idx, (unsigned int)((next - a) >> c.shift));
			e = fa__pt_write_run(pt, t, idx, (unsigned int)((next - a) >> c.shift),
					     f->sparse_pte, 0, FA_PRAMIN_LOW_FIRST);
			pt->stats.ptes_written += (next - a) >> c.shift;
		}
		if (FA_WARN(e) && !err)
			err = e;
	}
	fa__pt_unlock(pt);
	for (i = 0; i < FA_PT_MAX_LEVELS; i++)
		FA_ASSERT(lists[i] == NULL);
	return err;
}

/**
 * Drop one reference on every PTE slot of a range. A table left with no
 * referenced slot and no child has its PDE cleared (low half first) and is
 * queued for freeing once @p epoch has completed; its parents follow,
 * bottom-up. The range must be unmapped already (entries are not checked).
 * @stage cleanup (run-safe too: no allocation, no sleeping, frees nothing itself)
 * @locking ref lock; takes the accessor lock hooks around the walk
 * @param pt Tree.
 * @param va First VA.
 * @param size Bytes.
 * @param page_size Page size the range was referenced with.
 * @param epoch Epoch of the next TLB invalidate (the one that follows this
 *        unref's PDE clears): the tables are freed once it has completed.
 * @return 0; -FA_EINVAL, -FA_EOPNOTSUPP, -FA_EOVERFLOW, -FA_ERANGE for bad
 *         arguments; -FA_ENOENT when some slot of the range has no reference
 *         (nothing changed). An accessor error while clearing a PDE is
 *         warned about and returned; the shadow is updated regardless.
 */
static inline int fa_pt_unref(struct fa_pt *pt, uint64_t va, uint64_t size, uint64_t page_size,
			      uint64_t epoch)
{
	const struct fa_pt_format *f;
	struct fa_pt_node *path[FA_PT_MAX_DEPTH];
	uint64_t last = FA_U64_MAX;
	struct fa__pt_chain c;
	uint64_t end;
	int err = 0, e;

	if (!fa__pt_ready(pt))
		return -FA_EINVAL;
	f = pt->fmt;
	err = fa__pt_args(f, va, size, page_size, &c);
	if (err)
		return err;
	end = va + size;
	if (!fa__pt_all_referenced(pt, &c, va, end))
		return -FA_ENOENT;
	fa__pt_lock(pt);
	while (va < end) {
		unsigned int l = c.lvl[c.depth];
		uint64_t next = fa__pt_block_end(va, f->level[l].shift + f->level[l].bits, end);
		struct fa_pt_node *t = fa__pt_find_next(pt, &c, va, path, &last);

		if (fa__pt_drop_refs(t, fa__pt_index(f, l, va),
				     (unsigned int)((next - va) >> c.shift))) {
			e = fa__pt_release_up(pt, t, epoch);
			if (e && !err)
				err = e;
			last = FA_U64_MAX; /* tables on the path may be unlinked */
		}
		va = next;
	}
	fa__pt_unlock(pt);
	return err;
}

/**
 * Undo fa_pt_sparse_ref() of exactly the same range and page size: sparse
 * PDEs become invalid (their tables go once empty, as in fa_pt_unref()); a
 * PTE table that a map opened under a sparse entry is filled invalid (the
 * range holds no mapping any more: the caller's precondition) and goes when
 * its last reference does; the referenced rest is unmapped and unreferenced.
 * @stage cleanup (run-safe: no allocation, frees nothing itself)
 * @locking ref lock and map lock; takes the accessor lock hooks
 * @param pt Tree.
 * @param va First VA.
 * @param size Bytes.
 * @param page_size Page size given to fa_pt_sparse_ref().
 * @param epoch Epoch of the next TLB invalidate (as fa_pt_unref()).
 * @return 0; the argument errors of fa_pt_unref(); -FA_ENOENT when the range
 *         is not one that fa_pt_sparse_ref() made sparse (nothing changed).
 */
static inline int fa_pt_sparse_unref(struct fa_pt *pt, uint64_t va, uint64_t size,
				     uint64_t page_size, uint64_t epoch)
{
	struct fa_pt_node *pd, *ch;
	struct fa__pt_chain c;
	const struct fa_pt_format *f;
	uint64_t a, next, end;
	unsigned int idx, pl, k;
	int err, e;

	if (!fa__pt_ready(pt))
		return -FA_EINVAL;
	f = pt->fmt;
	err = fa__pt_args(f, va, size, page_size, &c);
	if (err)
		return err;
	if (c.depth == 0) {
		err = fa_pt_unmap(pt, va, size, page_size);
		return err ? err : fa_pt_unref(pt, va, size, page_size, epoch);
	}
	end = va + size;
	pl = c.lvl[c.depth - 1];
	for (a = va; a < end; a = next) {
		next = fa__pt_block_end(a, f->level[pl].shift, end);
		pd = fa__pt_find_pd(pt, &c, a);
		idx = fa__pt_index(f, pl, a);
		if (pd && fa__pt_is_sparse(pd, idx)) {
			if (next - a != FA_BIT64(f->level[pl].shift))
				return -FA_ENOENT;
		} else if (!fa__pt_all_referenced(pt, &c, a, next)) {
			return -FA_ENOENT;
		}
	}
	for (a = va; a < end; a = next) {
		next = fa__pt_block_end(a, f->level[pl].shift, end);
		pd = fa__pt_find_pd(pt, &c, a);
		idx = fa__pt_index(f, pl, a);
		if (!pd || !fa__pt_is_sparse(pd, idx)) {
			e = fa_pt_unmap(pt, a, next - a, page_size);
			if (!e)
				e = fa_pt_unref(pt, a, next - a, page_size, epoch);
			if (e && !err)
				err = e;
			continue;
		}
		fa__pt_lock(pt);
		pd->sparsemap[idx >> 5] &= ~((uint32_t)1 << (idx & 31u));
		pd->nsparse--;
		e = 0;
		if (!fa__pt_has_child(f, pd, idx))
			e = fa_pramin_wr64(pt->acc, fa__pt_word(f, pd, idx, 0), f->invalid,
					   FA_PRAMIN_LOW_FIRST);
		for (k = 0; k < f->level[pl].nsub && !e; k++) {
			ch = *fa__pt_cell(f, pd, idx, k);
			if (ch)
				e = fa__pt_table_fill(pt, ch);
		}
		if (FA_WARN(e) && !err)
			err = e;
		if (pd->used == 0 && pd->nsparse == 0) {
			e = fa__pt_release_up(pt, pd, epoch);
			if (e && !err)
				err = e;
		}
		fa__pt_unlock(pt);
	}
	return err;
}

/**
 * Free every released table whose epoch has completed (table memory back to
 * the table allocator, shadow back to its source).
 * @stage cleanup
 * @locking ref lock (serialises drains and the stats)
 * @param pt Tree.
 * @param completed_epoch Newest completed TLB-invalidate epoch.
 * @return Tables freed; 0 with a warning when @p pt is NULL or not
 *         initialised (fa_pt_fini() already freed everything).
 */
static inline unsigned long fa_pt_reclaim(struct fa_pt *pt, uint64_t completed_epoch)
{
	if (FA_WARN(!fa__pt_ready(pt)))
		return 0;
	return fa_deferred_drain(&pt->dfree, completed_epoch, fa__pt_reclaim_one, pt);
}

/**
 * Tables released and not yet freed.
 * @stage any
 * @locking none (approximate under concurrency)
 * @param pt Tree.
 * @return Count; 0 with a warning when @p pt is NULL or not initialised.
 */
static inline unsigned long fa_pt_pending(const struct fa_pt *pt)
{
	if (FA_WARN(!fa__pt_ready(pt)))
		return 0;
	return fa_deferred_pending(&pt->dfree);
}

/**
 * Tear a tree down: frees every released table (the caller guarantees the
 * device no longer walks this tree) and the root.
 * @stage cleanup
 * @locking ref lock (and no map/unmap running)
 * @param pt Tree.
 * @return 0; -FA_EBUSY when references remain (nothing freed); -FA_EINVAL
 *         when @p pt is NULL or not initialised (never initialised, a failed
 *         fa_pt_init(), or already torn down), nothing done.
 */
static inline int fa_pt_fini(struct fa_pt *pt)
{
	uint64_t oldest;

	if (!fa__pt_ready(pt))
		return -FA_EINVAL;
	if (pt->root->used || pt->root->nsparse)
		return -FA_EBUSY;
	/* treat every queued epoch as completed, oldest first */
	while (fa_deferred_oldest_epoch(&pt->dfree, &oldest))
		fa_deferred_drain(&pt->dfree, oldest, fa__pt_reclaim_one, pt);
	pt->stats.live[0] = 0;
	fa__pt_node_free(pt, pt->root);
	pt->root = NULL;
	return 0;
}

/**
 * Translate @p va by reading raw tables through an accessor, the way the GPU
 * MMU walks them: from the root, decode each entry, follow PDEs; under a dual
 * entry the big table's PTE decides unless it is invalid, then the small
 * table's. Works
 * on any table memory (a tree's or one built elsewhere). The dual rule
 * follows nouveau's use of the big PTE: a valid, sparse or NV4K big PTE
 * decides for its 64 KiB; an invalid one hands the range to the small table.
 * @stage any (reads only)
 * @locking whatever serialises the accessor (the PRAMIN lock)
 * @param f Format.
 * @param acc Accessor.
 * @param root Device address of the root table.
 * @param va Virtual address.
 * @param out Result (type says what stopped the walk).
 * @return 0 when a valid PTE translated @p va; -FA_ENOENT when an invalid,
 *         sparse or NV4K entry was reached (see fa_pt_xlate::type);
 *         -FA_ERANGE when @p va is beyond the format's VA bits; -FA_EINVAL
 *         for NULL arguments; an accessor error as is.
 */
static inline int fa_pt_walk(const struct fa_pt_format *f, const struct fa_pramin_accessor *acc,
			     uint64_t root, uint64_t va, struct fa_pt_xlate *out)
{
	unsigned int l = 0, steps;
	uint64_t table = root;

	if (!f || !acc || !out)
		return -FA_EINVAL;
	if (va >> f->va_bits)
		return -FA_ERANGE;
	out->type = FA_PT_ENTRY_INVALID;
	out->pa = 0;
	out->attr = 0;
	out->page_shift = 0;
	out->level = 0;
	for (steps = 0; steps < FA_PT_MAX_DEPTH; steps++) {
		const struct fa_pt_level *lv = &f->level[l];
		uint64_t raw[2], a = table + ((uint64_t)fa__pt_index(f, l, va) << lv->entry_log2);
		struct fa_pt_entry e;
		int err;

		raw[1] = f->invalid;
		err = fa_pramin_rd64(acc, a, &raw[0]);
		if (!err && lv->entry_log2 == 4)
			err = fa_pramin_rd64(acc, a + 8, &raw[1]);
		if (err)
			return err;
		fa_pt_entry_decode(f, l, raw, &e);
		out->type = e.type;
		out->level = (uint8_t)l;
		if (e.type == FA_PT_ENTRY_PTE) {
			out->pa = e.addr + (va & (FA_BIT64(lv->shift) - 1));
			out->attr = e.attr;
			out->page_shift = lv->shift;
			return 0;
		}
		if (e.type != FA_PT_ENTRY_PDE)
			return -FA_ENOENT;
		if ((e.present & 1u) && lv->nsub == 2 && (e.present & 2u)) {
			/* dual: the big PTE decides unless it is invalid */
			unsigned int bl = lv->sub[0];
			uint64_t ba = e.sub[0] + ((uint64_t)fa__pt_index(f, bl, va) << 3);
			struct fa_pt_entry be;

			raw[1] = f->invalid;
			err = fa_pramin_rd64(acc, ba, &raw[0]);
			if (err)
				return err;
			fa_pt_entry_decode(f, bl, raw, &be);
			if (be.type != FA_PT_ENTRY_INVALID) {
				/* valid, sparse or NV4K: the big PTE decides */
				out->type = be.type;
				out->level = (uint8_t)bl;
				if (be.type != FA_PT_ENTRY_PTE)
					return -FA_ENOENT;
				out->pa = be.addr + (va & (FA_BIT64(f->level[bl].shift) - 1));
				out->attr = be.attr;
				out->page_shift = f->level[bl].shift;
				return 0;
			}
			l = lv->sub[1];
			table = e.sub[1];
		} else {
			unsigned int s = (e.present & 1u) ? 0u : 1u;

			l = lv->sub[s];
			table = e.sub[s];
		}
	}
	return -FA_ENOENT;
}

/**
 * Translate @p va through the tree's tables (fa_pt_walk() from its root).
 * @stage any (reads only)
 * @locking map lock or ref lock (so tables are not freed under the walk);
 *          takes the accessor lock hooks
 * @param pt Tree.
 * @param va Virtual address.
 * @param out Result.
 * @return As fa_pt_walk().
 */
static inline int fa_pt_translate(const struct fa_pt *pt, uint64_t va, struct fa_pt_xlate *out)
{
	int err;

	if (!fa__pt_ready(pt))
		return -FA_EINVAL;
	fa__pt_lock(pt);
	err = fa_pt_walk(pt->fmt, pt->acc, pt->root->addr, va, out);
	fa__pt_unlock(pt);
	return err;
}

/**
 * Copy the tree's counters. On a tree that is not initialised it warns and
 * still copies them: all zero after a failed fa_pt_init(), the final
 * counts after fa_pt_fini().
 * @stage any
 * @locking ref lock for consistent table counts
 * @param pt Tree.
 * @param out Counters (untouched, with a warning, when @p pt or @p out is NULL).
 */
static inline void fa_pt_get_stats(const struct fa_pt *pt, struct fa_pt_stats *out)
{
	if (FA_WARN(!pt || !out))
		return;
	(void)FA_WARN(!fa__pt_ready(pt));
	*out = pt->stats;
}

#ifdef __cplusplus
}
#endif

#endif /* FA_PT_H */
