/* SPDX-License-Identifier: MIT */
/**
 * @file gpuva.h
 * @brief The GPU VA mapping set of the reference VMM: split and merge without allocation.
 *
 * A VM's address space is a set of non-overlapping mappings (#vmm_va), each
 * `[va, va + size)` backed by a buffer object at an offset, with one page size.
 * Changing the set is what a VM_BIND job does in its run stage, inside a
 * fence-signalling section, so the set **never allocates**: every node it
 * inserts is handed over by the caller through #vmm_va_alloc (drawn from a
 * reservation filled at submit), and every node it removes is handed back on
 * a "retired" list for the caller to free later (cleanup stage). This is
 * drm_gpuvm's contract ("it is enough to pre-allocate the drm_gpuva
 * structures"), with its worst-case counts:
 *
 * | operation | nodes it may take | why |
 * |-----------|-------------------|-----|
 * | map       | #VMM_VA_NODES_PER_MAP (3)   | the new mapping + prev/next remnants of split neighbours |
 * | unmap     | #VMM_VA_NODES_PER_UNMAP (2) | prev/next remnants (one mapping split in the middle, or two partially covered) |
 *
 * **Split.** A map or unmap over part of an existing mapping removes it and
 * inserts what remains on either side (the "remnants"), offsets adjusted.
 * **Merge** (only when the driver asks for it, vmm_va_set_config(); drm_gpuvm
 * keeps neighbours separate and so does a set by default). A map that
 * continues a neighbour — same BO, contiguous BO offset, same page size and
 * flags, touching or overlapping it — absorbs it into one node; the
 * neighbour's pages outside the new range keep their PTEs (drm_gpuvm's
 * `keep`). Every removed node records in `cut_va`/`cut_size` the
 * part of it the operation took away (the part whose PTEs change and whose
 * page-table references its owner must drop at cleanup); an absorbed node has
 * `cut_size == 0` outside the new range.
 *
 * Storage: a top-down splay tree keyed by start address (amortised
 * O(log n), no recursion, no parent pointers) plus a sorted list for ordered
 * walks. Not thread-safe: the caller's lock protects a set (the VM's map lock
 * for the run-stage set).
 *
 * Submit-time checks (vmm_va_set_check_map(), vmm_va_set_check_unmap()) are
 * read-only and tell whether an operation is acceptable before anything is
 * allocated: no split may cut a mapping at an address its page size cannot
 * express (a 2 MiB page cannot be split at 64 KiB), and a map's page size must
 * be one the set accepts. An unmap over a range with holes unmaps what exists
 * (drm_gpuvm's semantics): holes are not an error.
 *
 * @code
 * struct vmm_va_set set;
 * struct vmm_va req;                 // va, size, bo, bo_offset, page_shift, flags
 * struct fa_list retired;
 * struct vmm_va *node;
 *
 * vmm_va_set_init(&set);
 * fa_list_init(&retired);
 * if (vmm_va_set_check_map(&set, &req) == 0)            // submit: validate
 *         node = vmm_va_set_map(&set, &req, &my_alloc, &retired);  // run: never fails
 * // cleanup: free every node on `retired`
 * @endcode
 */
#ifndef VMM_GPUVA_H
#define VMM_GPUVA_H

#include <fencealloc/base.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Worst-case nodes one map operation takes: new + prev remnant + next remnant. */
#define VMM_VA_NODES_PER_MAP 3u
/** Worst-case nodes one unmap operation takes: prev remnant + next remnant. */
#define VMM_VA_NODES_PER_UNMAP 2u

struct vmm_bo;

/** One mapping: `[va, va + size)` → @ref bo at @ref bo_offset. */
struct vmm_va {
	struct vmm_va *left;   /**< Splay tree: smaller start addresses. */
	struct vmm_va *right;  /**< Splay tree: larger start addresses. */
	struct fa_list link;   /**< Sorted list while in a set; the retired list after removal. */
	uint64_t va;           /**< First GPU virtual address. */
	uint64_t size;         /**< Length in bytes (multiple of the page size). */
	struct vmm_bo *bo;     /**< Backing buffer object (opaque to the set). */
	uint64_t bo_offset;    /**< Offset of @ref va inside @ref bo. */
	unsigned int page_shift; /**< log2 of the page size used for this mapping. */
	uint32_t flags;        /**< Caller's flags (read-only, ...); must match to merge. */
	uint64_t cut_va;       /**< After removal: start of the part the operation took away. */
	uint64_t cut_size;     /**< After removal: length of that part (0: absorbed by a merge). */
};

/** Where the set takes nodes from (a reservation) during map/unmap. */
struct vmm_va_alloc {
	/** Return a node; must not allocate (run stage). NULL only on a caller bug. */
	struct vmm_va *(*take)(void *ctx);
	/** Optional: told about every node the operation inserted (e.g. to take a BO reference). */
	void (*inserted)(void *ctx, struct vmm_va *node);
	void *ctx; /**< Argument of the callbacks. */
};

/** A set of non-overlapping mappings. */
struct vmm_va_set {
	struct vmm_va *root; /**< Splay tree root. */
	struct fa_list list; /**< Every node, by address. */
	unsigned long count; /**< Number of nodes. */
	bool merge;          /**< Merge continuing neighbours (default false, as drm_gpuvm). */
	uint64_t page_sizes; /**< Accepted page sizes: bit n = 2^n bytes (0: any below 2^64). */
};

/**
 * Initialise an empty set: neighbours stay separate, any page size below
 * 2^64 bytes is accepted (see vmm_va_set_config()).
 * @stage any
 * @locking none (the set is not shared yet)
 * @param set Set.
 */
static inline void vmm_va_set_init(struct vmm_va_set *set)
{
	set->root = NULL;
	fa_list_init(&set->list);
	set->count = 0;
	set->merge = false;
	set->page_sizes = 0;
}

/**
 * Choose the set's policy: whether a map absorbs neighbours it continues, and
 * which page sizes vmm_va_set_check_map() accepts (the page-table format's).
 * @stage any (before the set holds mappings)
 * @locking the set's lock, or none before it is shared
 * @param set Set.
 * @param merge true to merge continuing neighbours.
 * @param page_sizes Bit n set: pages of 2^n bytes are accepted (0: any below 2^64).
 */
static inline void vmm_va_set_config(struct vmm_va_set *set, bool merge, uint64_t page_sizes)
{
	set->merge = merge;
	set->page_sizes = page_sizes;
}

/**
 * End address of a node.
 * @stage any
 * @locking none
 * @param n Node.
 * @return `va + size`.
 */
static inline uint64_t vmm_va_end(const struct vmm_va *n)
{
	return n->va + n->size;
}

/** @cond INTERNAL */
/* Top-down splay (Sleator & Tarjan): brings the node with start @key, or the
 * last node on its search path (a neighbour of @key), to the root. */
static inline struct vmm_va *vmm__va_splay(struct vmm_va *t, uint64_t key)
{
	struct vmm_va hdr, *l, *r, *y;

	if (!t)
		return NULL;
	hdr.left = hdr.right = NULL;
	l = r = &hdr;
	for (;;) {
		if (key < t->va) {
			if (!t->left)
				break;
			if (key < t->left->va) {
				y = t->left;
				t->left = y->right;
				y->right = t;
				t = y;
				if (!t->left)
					break;
			}
			r->left = t;
			r = t;
			t = t->left;
		} else if (key > t->va) {
			if (!t->right)
				break;
			if (key > t->right->va) {
				y = t->right;
				t->right = y->left;
				y->left = t;
				t = y;
				if (!t->right)
					break;
			}
			l->right = t;
			l = t;
			t = t->right;
		} else {
			break;
		}
	}
	l->right = t->left;
	r->left = t->right;
	t->left = hdr.right;
	t->right = hdr.left;
	return t;
}

static inline struct vmm_va *vmm__va_entry(struct fa_list *l)
{
	return fa_list_entry(l, struct vmm_va, link);
}

static inline struct vmm_va *vmm__va_next(struct vmm_va_set *set, struct vmm_va *n)
{
	return n->link.next == &set->list ? NULL : vmm__va_entry(n->link.next);
}

static inline struct vmm_va *vmm__va_prev(struct vmm_va_set *set, struct vmm_va *n)
{
	return n->link.prev == &set->list ? NULL : vmm__va_entry(n->link.prev);
}

static inline void vmm__va_insert(struct vmm_va_set *set, struct vmm_va *node)
{
	struct vmm_va *t = vmm__va_splay(set->root, node->va);

	node->left = node->right = NULL;
	if (!t) {
		fa_list_add_tail(&node->link, &set->list);
	} else if (node->va < t->va) {
		node->left = t->left;
		node->right = t;
		t->left = NULL;
		fa_list_add_tail(&node->link, &t->link); /* just before t */
	} else {
		FA_ASSERT(node->va != t->va);
		node->right = t->right;
		node->left = t;
		t->right = NULL;
		fa_list_add(&node->link, &t->link); /* just after t */
	}
	set->root = node;
	set->count++;
}

static inline void vmm__va_remove(struct vmm_va_set *set, struct vmm_va *node)
{
	struct vmm_va *t = vmm__va_splay(set->root, node->va), *x;

	FA_ASSERT(t == node);
	if (!t->left) {
		set->root = t->right;
	} else {
		x = vmm__va_splay(t->left, node->va);
		x->right = t->right;
		set->root = x;
	}
	fa_list_del_init(&node->link);
	node->left = node->right = NULL;
	set->count--;
}

/* Same backing, contiguous offsets, same page size and flags: may merge. */
static inline bool vmm__va_continues(const struct vmm_va *n, const struct vmm_va *req)
{
	return n->bo == req->bo && n->page_shift == req->page_shift && n->flags == req->flags &&
	       n->bo_offset + (req->va - n->va) == req->bo_offset;
}

/* @n (which extends past @end) continues the request at its right end. */
static inline bool vmm__va_continued_by(const struct vmm_va *n, const struct vmm_va *req,
					uint64_t end)
{
	return n->bo == req->bo && n->page_shift == req->page_shift && n->flags == req->flags &&
	       n->bo_offset + (end - n->va) == req->bo_offset + req->size;
}

static inline void vmm__va_copy_attrs(struct vmm_va *dst, const struct vmm_va *src)
{
	dst->bo = src->bo;
	dst->bo_offset = src->bo_offset;
	dst->page_shift = src->page_shift;
	dst->flags = src->flags;
	dst->cut_va = 0;
	dst->cut_size = 0;
}
/** @endcond */

/**
 * The mapping with the greatest start address not above @p addr.
 * @stage any (reorganises the tree: needs the set's lock, not shared readers)
 * @locking the set's lock
 * @param set Set.
 * @param addr Address.
 * @return That node, or NULL when every mapping starts above @p addr.
 */
static inline struct vmm_va *vmm_va_set_floor(struct vmm_va_set *set, uint64_t addr)
{
	struct vmm_va *t = vmm__va_splay(set->root, addr);

	set->root = t;
	if (!t)
		return NULL;
	if (t->va <= addr)
		return t;
	return vmm__va_prev(set, t);
}

/**
 * The mapping that contains @p addr.
 * @stage any
 * @locking the set's lock
 * @param set Set.
 * @param addr Address.
 * @return The node, or NULL when @p addr is not mapped.
 */
static inline struct vmm_va *vmm_va_set_lookup(struct vmm_va_set *set, uint64_t addr)
{
	struct vmm_va *n = vmm_va_set_floor(set, addr);

	return n && addr - n->va < n->size ? n : NULL;
}

/**
 * The first mapping (by address) that ends above @p addr.
 * @stage any
 * @locking the set's lock
 * @param set Set.
 * @param addr Address.
 * @return The node, or NULL.
 */
static inline struct vmm_va *vmm_va_set_first_from(struct vmm_va_set *set, uint64_t addr)
{
	struct vmm_va *n = vmm_va_set_floor(set, addr);

	if (!n)
		return fa_list_empty(&set->list) ? NULL : vmm__va_entry(set->list.next);
	if (vmm_va_end(n) > addr)
		return n;
	return vmm__va_next(set, n);
}

/**
 * Next mapping in address order.
 * @stage any
 * @locking the set's lock
 * @param set Set.
 * @param n A node of @p set.
 * @return The following node, or NULL.
 */
static inline struct vmm_va *vmm_va_set_next(struct vmm_va_set *set, struct vmm_va *n)
{
	return vmm__va_next(set, n);
}

/**
 * The mapping that embeds list node @p l (a node of a set's list or of a retired list).
 * @stage any
 * @locking none
 * @param l List node.
 * @return The mapping.
 */
static inline struct vmm_va *vmm_va_entry(struct fa_list *l)
{
	return vmm__va_entry(l);
}

/**
 * Remove one mapping from the set (tear-down; the caller frees it).
 * @stage any
 * @locking the set's lock
 * @param set Set.
 * @param node A node of @p set.
 */
static inline void vmm_va_set_remove(struct vmm_va_set *set, struct vmm_va *node)
{
	vmm__va_remove(set, node);
}

/**
 * Check a map request against the set without changing it: the page size must
 * be one the set accepts (below 2^64 bytes in any case), the range non-empty,
 * page-aligned and not wrapping, and every mapping it would split must be cut
 * at an address aligned to that mapping's page size (unless the set merges and
 * the request continues it).
 * @stage submit (read-only)
 * @locking the set's lock
 * @param set Set.
 * @param req Request: va, size, bo, bo_offset, page_shift, flags.
 * @return 0; -FA_EINVAL for a page size the set does not accept, an empty,
 *         unaligned or wrapping range, or a split a page size cannot express.
 */
static inline int vmm_va_set_check_map(struct vmm_va_set *set, const struct vmm_va *req)
{
	uint64_t end, page;
	struct vmm_va *n;

	if (req->page_shift >= 64 ||
	    (set->page_sizes && !(set->page_sizes & FA_BIT64(req->page_shift))))
		return -FA_EINVAL;
	page = FA_BIT64(req->page_shift);
	if (!req->size || fa_add_overflow(req->va, req->size, &end) ||
	    !fa_is_aligned(req->va, page) || !fa_is_aligned(req->size, page))
		return -FA_EINVAL;
	n = vmm_va_set_floor(set, req->va);
	if (n && vmm_va_end(n) > req->va && n->va < req->va &&
	    !(set->merge && vmm__va_continues(n, req)) &&
	    !fa_is_aligned(req->va, FA_BIT64(n->page_shift)))
		return -FA_EINVAL;
	n = vmm_va_set_floor(set, end - 1);
	if (n && vmm_va_end(n) > end && !fa_is_aligned(end, FA_BIT64(n->page_shift)) &&
	    !(set->merge && vmm__va_continued_by(n, req, end)))
		return -FA_EINVAL;
	return 0;
}

/**
 * Check an unmap request against the set without changing it: a mapping cut
 * at either end must be cut at an address aligned to its page size. Holes in
 * the range are fine: the unmap removes what exists (drm_gpuvm's semantics),
 * an unmap of nothing is a no-op.
 * @stage submit (read-only)
 * @locking the set's lock
 * @param set Set.
 * @param va First address.
 * @param size Length.
 * @return 0; -FA_EINVAL for an empty/wrapping range or an inexpressible split.
 */
static inline int vmm_va_set_check_unmap(struct vmm_va_set *set, uint64_t va, uint64_t size)
{
	uint64_t end;
	struct vmm_va *n;

	if (!size || fa_add_overflow(va, size, &end))
		return -FA_EINVAL;
	n = vmm_va_set_lookup(set, va);
	if (n && n->va < va && !fa_is_aligned(va, FA_BIT64(n->page_shift)))
		return -FA_EINVAL;
	n = vmm_va_set_lookup(set, end - 1);
	if (n && vmm_va_end(n) > end && !fa_is_aligned(end, FA_BIT64(n->page_shift)))
		return -FA_EINVAL;
	return 0;
}

/** @cond INTERNAL */
/* Remove every node overlapping [lo, hi); record cut = overlap with [cva, cend);
 * insert remnants outside [lo, hi); move removed nodes to @retired. */
static inline void vmm__va_carve(struct vmm_va_set *set, uint64_t lo, uint64_t hi, uint64_t cva,
				 uint64_t cend, const struct vmm_va_alloc *alloc,
				 struct fa_list *retired)
{
	struct vmm_va *n = vmm_va_set_first_from(set, lo), *next, *rem;
	uint64_t a, b;

	while (n && n->va < hi) {
		next = vmm__va_next(set, n);
		vmm__va_remove(set, n);
		a = fa_max_u64(n->va, cva);
		b = fa_min_u64(vmm_va_end(n), cend);
		n->cut_va = a;
		n->cut_size = b > a ? b - a : 0;
		if (n->va < lo) {
			rem = alloc->take(alloc->ctx);
			if (!FA_WARN(!rem)) {
				vmm__va_copy_attrs(rem, n);
				rem->va = n->va;
				rem->size = lo - n->va;
				vmm__va_insert(set, rem);
				if (alloc->inserted)
					alloc->inserted(alloc->ctx, rem);
			}
		}
		if (vmm_va_end(n) > hi) {
			rem = alloc->take(alloc->ctx);
			if (!FA_WARN(!rem)) {
				vmm__va_copy_attrs(rem, n);
				rem->va = hi;
				rem->size = vmm_va_end(n) - hi;
				rem->bo_offset = n->bo_offset + (hi - n->va);
				vmm__va_insert(set, rem);
				if (alloc->inserted)
					alloc->inserted(alloc->ctx, rem);
			}
		}
		fa_list_add_tail(&n->link, retired);
		n = next;
	}
}
/** @endcond */

/**
 * Map: make `[req->va, req->va + req->size)` point at req's BO, splitting the
 * mappings it overlaps and, in a merging set, merging with a neighbour it continues. Takes at
 * most #VMM_VA_NODES_PER_MAP nodes from @p alloc. Removed nodes go to the tail
 * of @p retired with their `cut_va`/`cut_size` set (the overlap with the
 * request). The caller validated the request with vmm_va_set_check_map().
 * @stage run (no allocation: nodes come from @p alloc)
 * @locking the set's lock (the VM's map lock)
 * @param set Set.
 * @param req Request (only its va, size, bo, bo_offset, page_shift, flags are read).
 * @param alloc Node source (a reservation).
 * @param retired List receiving removed nodes.
 * @return The node now covering the request (possibly larger after a merge),
 *         or NULL when @p alloc ran dry (a caller bug, warned): the range is
 *         then unmapped, and so is any remnant of a split mapping that
 *         could not get its node (pages outside the range included).
 */
static inline struct vmm_va *vmm_va_set_map(struct vmm_va_set *set, const struct vmm_va *req,
					    const struct vmm_va_alloc *alloc,
					    struct fa_list *retired)
{
	uint64_t end = req->va + req->size, lo = req->va, hi = end, off = req->bo_offset;
	struct vmm_va *n, *node;

	/* Merge decisions first, so a continued neighbour is absorbed instead of split. */
	n = set->merge ? vmm_va_set_floor(set, req->va) : NULL;
	if (n && n->va == req->va)
		n = vmm__va_prev(set, n); /* the left neighbour may end exactly at va */
	if (n && vmm_va_end(n) >= req->va && vmm__va_continues(n, req)) {
		lo = n->va;
		off = n->bo_offset;
	}
	n = set->merge ? vmm_va_set_floor(set, end) : NULL;
	if (n && vmm_va_end(n) > end && vmm__va_continued_by(n, req, end))
		hi = vmm_va_end(n);
	vmm__va_carve(set, lo, hi, req->va, end, alloc, retired);
	node = alloc->take(alloc->ctx);
	if (FA_WARN(!node))
		return NULL;
	vmm__va_copy_attrs(node, req);
	node->va = lo;
	node->size = hi - lo;
	node->bo_offset = off;
	vmm__va_insert(set, node);
	if (alloc->inserted)
		alloc->inserted(alloc->ctx, node);
	return node;
}

/**
 * Unmap `[va, va + size)`: remove the mappings it covers, leaving remnants of
 * those it covers partially; holes in the range are skipped. Takes at most #VMM_VA_NODES_PER_UNMAP nodes.
 * Removed nodes go to @p retired with `cut_va`/`cut_size` = the unmapped part.
 * If @p alloc runs dry (a caller bug, warned), a remnant that cannot get its
 * node is dropped with the mapping it came from.
 * @stage run (no allocation)
 * @locking the set's lock (the VM's map lock)
 * @param set Set.
 * @param va First address.
 * @param size Length (validated with vmm_va_set_check_unmap()).
 * @param alloc Node source (a reservation).
 * @param retired List receiving removed nodes.
 */
static inline void vmm_va_set_unmap(struct vmm_va_set *set, uint64_t va, uint64_t size,
				    const struct vmm_va_alloc *alloc, struct fa_list *retired)
{
	vmm__va_carve(set, va, va + size, va, va + size, alloc, retired);
}

/**
 * Check the set's invariants: sorted, non-overlapping, non-empty nodes, the
 * count matches the list.
 * @stage any (O(n))
 * @locking the set's lock
 * @param set Set.
 * @return true when consistent.
 */
static inline bool vmm_va_set_valid(const struct vmm_va_set *set)
{
	const struct fa_list *pos;
	uint64_t prev_end = 0;
	unsigned long n = 0;
	bool first = true;

	for (pos = set->list.next; pos != &set->list; pos = pos->next) {
		const struct vmm_va *v = fa_list_entry(pos, const struct vmm_va, link);

		if (!v->size || (!first && v->va < prev_end) || vmm_va_end(v) < v->va)
			return false;
		prev_end = vmm_va_end(v);
		first = false;
		n++;
	}
	return n == set->count;
}

#ifdef __cplusplus
}
#endif

#endif /* VMM_GPUVA_H */
