/* SPDX-License-Identifier: MIT */
/**
 * @file reserve.h
 * @brief Preallocation reservations: filled at submit, drawn at run, returned at cleanup.
 *
 * In the run stage (inside a fence-signalling section) a driver may not
 * allocate, so every object the run stage will need is set aside at submit:
 * panthor's `rsvd_page_tables`, the maple tree's `mas_preallocate()`. Three
 * things go wrong in practice and this module is shaped around them: the
 * count is too small (one gpuva reserved for an unmap that needs two), too
 * large (a page-table formula that reserves 514 pages where 2 are used), or
 * not cumulative across the jobs pending at once. Counts come from
 * estimators (the page-table module has one; fa_reserve_need_add() covers
 * "at most k objects per operation"); this module provides the mechanism.
 *
 * Three pieces:
 * - #fa_reserve_source: the caller's allocator (alloc/free with a context).
 *   The library never calls a global allocator. fa_reserve_source_alloc()
 *   announces every allocation to the signalling validator first
 *   (fa_signalling_might_alloc()).
 * - #fa_reserve_pool: shared by all jobs for one kind of object (one size).
 *   It keeps a small capped cache of free objects in front of the source
 *   (nouveau keeps at most 8 freed page tables per size), so fill and
 *   release are cheap in the steady state, and an optional hard **budget**:
 *   the number of objects charged to the pool (held in reservations, or
 *   taken from one and not yet returned with fa_reserve_pool_put()) never
 *   exceeds it, however many jobs are pending at once.
 * - #fa_reserve: one job's objects of one kind. fa_reserve_fill() (submit)
 *   is all or nothing; fa_reserve_take() (run) is a pointer pop: O(1), no
 *   allocation, no lock, no sleeping; taking from an empty reservation is a
 *   caller bug that warns (#FA_WARN) and returns NULL with everything
 *   consistent; fa_reserve_release() (cleanup) returns the leftovers.
 *
 * Objects are held **intrusively**: while an object sits unused in a pool or
 * a reservation its first pointer-sized bytes link it to the next one. So
 * objects must be at least `sizeof(void *)` bytes and aligned for a pointer
 * (fa_reserve_pool_init() checks the size), and the contents of a taken
 * object are undefined except that the link word reads as zero.
 *
 * **Preconditions: checked.** Every pointer argument is checked: a NULL one
 * is refused with -FA_EINVAL where the function returns an error, and
 * otherwise warns (#FA_WARN) and does nothing (returning NULL or 0); in
 * every case nothing changes. Re-initialising a live pool or reservation is
 * a caller bug the module cannot detect (it cannot tell a live object from
 * uninitialised memory): fa_reserve_pool_init() over a pool that still
 * caches objects, or fa_reserve_init() over a reservation that still holds
 * some, forgets them; call fa_reserve_pool_fini() / fa_reserve_release()
 * first.
 *
 * Stage and lock contract:
 * | function                         | stage         | caller lock                     |
 * |----------------------------------|---------------|---------------------------------|
 * | fa_reserve_pool_init/fini/trim   | submit/cleanup| pool lock                       |
 * | fa_reserve_pool_get / _put       | submit/cleanup| pool lock                       |
 * | fa_reserve_fill()                | submit        | pool lock                       |
 * | fa_reserve_release()             | cleanup       | pool lock                       |
 * | fa_reserve_take / give_back      | run           | none (the job's own reservation)|
 * | fa_reserve_count()               | any           | the reservation's owner         |
 *
 * The **pool lock** is whatever the caller uses to protect the shared pool
 * (typically the VM's ref lock). fa_reserve_fill() allocates under it, so it
 * is taken only in submit and cleanup and **never** inside a signalling
 * section. A reservation belongs to one job; if only that job's run stage
 * takes from and gives back to it, those calls need no lock.
 *
 * @code
 * struct my_vm { struct fa_reserve_pool pt_pool; };
 * struct my_job { struct my_vm *vm; struct fa_reserve pts; };
 * unsigned int pt_estimate(uint64_t va, uint64_t size);   // worst-case tables for a map
 *
 * // One pool of page tables per VM, with a budget of VRAM for page tables.
 * int vm_init(struct my_vm *vm, const struct fa_reserve_source *vram_source,
 *             unsigned long budget_pages)
 * {
 *         return fa_reserve_pool_init(&vm->pt_pool, vram_source, 4096, 8, budget_pages);
 * }
 *
 * // VM_BIND submit (may allocate; pool lock held):
 * int job_submit(struct my_job *job, uint64_t va, uint64_t size)
 * {
 *         fa_reserve_init(&job->pts, &job->vm->pt_pool);
 *         return fa_reserve_fill(&job->pts, pt_estimate(va, size), FA_GFP_KERNEL);
 *         // on error: -FA_ENOMEM or -FA_ENOSPC, nothing held
 * }
 *
 * // run_job (signalling section, no lock, no allocation):
 * void *job_run_take_table(struct my_job *job)
 * {
 *         return fa_reserve_take(&job->pts);    // never NULL if the estimate was right
 * }
 *
 * // free_job worker (pool lock held):
 * void job_cleanup(struct my_job *job, void *old_pt)
 * {
 *         fa_reserve_release(&job->pts);        // leftovers back to the pool
 *         fa_reserve_pool_put(&job->vm->pt_pool, old_pt); // a table freed by an unmap
 * }
 * @endcode
 */
#ifndef FA_RESERVE_H
#define FA_RESERVE_H

#include "base.h"

#include "signalling.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @name Per-operation counts
 * Worst-case object counts for one operation, to feed fa_reserve_need_add().
 * @{ */
/**
 * drm_gpuva nodes for one map request: the new mapping plus the two
 * remainders (prev and next) of mappings it splits at either end.
 */
#define FA_RESERVE_GPUVA_PER_MAP 3u
/**
 * drm_gpuva nodes for one unmap request: two remainders, either from an
 * unmap in the middle of one mapping or from two partially covered mappings.
 */
#define FA_RESERVE_GPUVA_PER_UNMAP 2u
/** Budget value meaning "no budget" for fa_reserve_pool_init(). */
#define FA_RESERVE_NO_BUDGET (~0UL)
/** @} */

/**
 * Where objects come from: the caller's allocator. The library never calls
 * a global allocator.
 */
struct fa_reserve_source {
	/**
	 * Allocate @p size bytes with context @p gfp; NULL on failure. The result
	 * must be aligned for a pointer.
	 */
	void *(*alloc)(void *ctx, size_t size, fa_gfp_t gfp);
	/** Free an object of @p size bytes obtained from @c alloc. */
	void (*free)(void *ctx, void *obj, size_t size);
	void *ctx; /**< First argument of both. */
};

/**
 * Allocate from a source, announcing the allocation to the signalling
 * validator first (it reports a reclaiming allocation inside a signalling
 * section).
 * @stage submit (or cleanup)
 * @locking whatever the source needs; never inside a signalling section
 *          unless @p gfp is #FA_GFP_NOWAIT
 * @param src The source (NULL, or one without @c alloc, warns and gives NULL).
 * @param size Bytes.
 * @param gfp Allocation context.
 * @return The object, or NULL when the source failed.
 */
static inline void *fa_reserve_source_alloc(const struct fa_reserve_source *src, size_t size,
					    fa_gfp_t gfp)
{
	fa_signalling_might_alloc(gfp);
	if (FA_WARN(!src || !src->alloc))
		return NULL;
	return src->alloc(src->ctx, size, gfp);
}

/**
 * Return an object to its source.
 * @stage cleanup (or submit, to undo)
 * @locking whatever the source needs
 * @param src The source (NULL, or one without @c free, warns and frees nothing).
 * @param obj Object from fa_reserve_source_alloc() with the same @p size; NULL is ignored.
 * @param size Bytes, as allocated.
 */
static inline void fa_reserve_source_free(const struct fa_reserve_source *src, void *obj,
					  size_t size)
{
	if (!obj || FA_WARN(!src || !src->free))
		return;
	src->free(src->ctx, obj, size);
}

/**
 * A pool of objects of one size shared by every job: a capped cache of free
 * objects in front of the source, plus budget accounting. Initialise with
 * fa_reserve_pool_init(); members are read-only for callers.
 */
struct fa_reserve_pool {
	struct fa_reserve_source src; /**< The caller's allocator (copied at init). */
	size_t obj_size;              /**< Size of every object, >= sizeof(void *). */
	void *cache;                  /**< Cached free objects, linked through their first word. */
	unsigned int cached;          /**< Objects in the cache. */
	unsigned int cache_cap;       /**< Most objects the cache keeps; the rest go to the source. */
	unsigned long budget;         /**< Most objects charged at once, or #FA_RESERVE_NO_BUDGET. */
	unsigned long charged;        /**< Objects held in reservations or taken and not put back. */
	unsigned long source_allocs;  /**< Objects obtained from the source so far. */
	unsigned long source_frees;   /**< Objects returned to the source so far. */
};

/**
 * One job's reservation of objects from one pool. Initialise with
 * fa_reserve_init(); members are private.
 */
struct fa_reserve {
	struct fa_reserve_pool *pool; /**< Where objects come from and go back to. */
	void *head;                   /**< Held objects, linked through their first word. */
	unsigned int count;           /**< Objects held now. */
	unsigned int filled;          /**< Objects filled since the last release: held + taken out. */
};

/** @cond INTERNAL */
/* The link word of an object sitting in a cache or a reservation. */
static inline void *fa__reserve_next(void *obj)
{
	return *(void **)obj;
}

static inline void fa__reserve_set_next(void *obj, void *next)
{
	*(void **)obj = next;
}

/* Return one object to the pool's cache, or to the source when the cache is full. */
static inline void fa__reserve_pool_stash(struct fa_reserve_pool *p, void *obj)
{
	if (p->cached < p->cache_cap) {
		fa__reserve_set_next(obj, p->cache);
		p->cache = obj;
		p->cached++;
		return;
	}
	fa_reserve_source_free(&p->src, obj, p->obj_size);
	p->source_frees++;
}

/* Return a chain of objects (NULL-terminated) to the pool. */
static inline void fa__reserve_pool_stash_chain(struct fa_reserve_pool *p, void *chain)
{
	while (chain) {
		void *next = fa__reserve_next(chain);

		fa__reserve_pool_stash(p, chain);
		chain = next;
	}
}

/* One object from the cache, else from the source; NULL when the source fails.
 * Callers announce the allocation (fa_signalling_might_alloc()) once per
 * public call, warm cache or not, so the source is called directly here. */
static inline void *fa__reserve_pool_obtain(struct fa_reserve_pool *p, fa_gfp_t gfp)
{
	void *obj = p->cache;

	if (obj) {
		p->cache = fa__reserve_next(obj);
		p->cached--;
		return obj;
	}
	obj = p->src.alloc(p->src.ctx, p->obj_size, gfp);
	if (obj)
		p->source_allocs++;
	return obj;
}

/* Whether @p n more objects fit in the budget. */
static inline bool fa__reserve_pool_fits(const struct fa_reserve_pool *p, unsigned long n)
{
	return n <= p->budget - p->charged;
}
/** @endcond */

/**
 * Initialise a pool.
 * @stage submit (driver or VM init)
 * @locking none (the pool is not shared yet)
 * @param p The pool.
 * @param src The caller's allocator; copied, both callbacks required.
 * @param obj_size Size of every object; at least `sizeof(void *)` (objects are
 *        linked through their first word while unused).
 * @param cache_cap Most free objects the pool keeps cached (0: none).
 * @param budget Most objects charged at once, or #FA_RESERVE_NO_BUDGET.
 * @return 0; -FA_EINVAL for a NULL pool/source/callback or an object smaller
 *         than a pointer (nothing changed).
 *
 * @p p must not be live: initialising a pool that still caches objects or has
 * objects charged forgets them (they leak); fa_reserve_pool_fini() it first.
 */
static inline int fa_reserve_pool_init(struct fa_reserve_pool *p,
				       const struct fa_reserve_source *src, size_t obj_size,
				       unsigned int cache_cap, unsigned long budget)
{
	if (!p || !src || !src->alloc || !src->free || obj_size < sizeof(void *))
		return -FA_EINVAL;
	p->src = *src;
	p->obj_size = obj_size;
	p->cache = NULL;
	p->cached = 0;
	p->cache_cap = cache_cap;
	p->budget = budget;
	p->charged = 0;
	p->source_allocs = 0;
	p->source_frees = 0;
	return 0;
}

/**
 * Return every cached object to the source (a shrinker, or before fini).
 * @stage cleanup
 * @locking pool lock
 * @param p The pool (NULL warns and frees nothing).
 * @return The number of objects freed.
 */
static inline unsigned int fa_reserve_pool_trim(struct fa_reserve_pool *p)
{
	unsigned int n, cap;

	if (FA_WARN(!p))
		return 0;
	n = p->cached;
	cap = p->cache_cap;
	p->cache_cap = 0;
	while (p->cache) {
		void *obj = p->cache;

		p->cache = fa__reserve_next(obj);
		p->cached--;
		fa__reserve_pool_stash(p, obj);
	}
	p->cache_cap = cap;
	return n;
}

/**
 * Tear a pool down: frees the cache. Every reservation must have been
 * released and every taken object put back; otherwise this warns and leaves
 * those objects to the caller.
 * @stage cleanup
 * @locking pool lock (or the pool is no longer shared)
 * @param p The pool (NULL warns and does nothing).
 */
static inline void fa_reserve_pool_fini(struct fa_reserve_pool *p)
{
	if (FA_WARN(!p))
		return;
	(void)FA_WARN(p->charged != 0);
	fa_reserve_pool_trim(p);
}

/**
 * Take one object from the pool outside any reservation (e.g. a root page
 * table at VM creation). It is charged to the budget until
 * fa_reserve_pool_put().
 * @stage submit
 * @locking pool lock
 * @param p The pool.
 * @param gfp Allocation context for the source.
 * @param obj Where the object is stored on success (untouched on error).
 * @return 0; -FA_EINVAL for a NULL @p p or @p obj; -FA_ENOSPC when the
 *         budget is full; -FA_ENOMEM when the source failed (nothing changed
 *         in any of these cases).
 */
static inline int fa_reserve_pool_get(struct fa_reserve_pool *p, fa_gfp_t gfp, void **obj)
{
	void *o;

	fa_signalling_might_alloc(gfp); /* every call, as in fa_reserve_fill() */
	if (FA_WARN(!p || !obj))
		return -FA_EINVAL;
	if (!fa__reserve_pool_fits(p, 1))
		return -FA_ENOSPC;
	o = fa__reserve_pool_obtain(p, gfp);
	if (!o)
		return -FA_ENOMEM;
	fa__reserve_set_next(o, NULL);
	p->charged++;
	*obj = o;
	return 0;
}

/**
 * Give back to the pool an object that was charged to it: one taken from a
 * reservation and used (a page table freed after an unmap, typically from a
 * deferred-free drain), or one from fa_reserve_pool_get(). It is cached or
 * returned to the source, and its charge ends.
 * @stage cleanup
 * @locking pool lock
 * @param p The pool (NULL warns and does nothing).
 * @param obj The object (NULL warns and does nothing; so does a pool with
 *        nothing charged).
 */
static inline void fa_reserve_pool_put(struct fa_reserve_pool *p, void *obj)
{
	if (FA_WARN(!p || !obj) || FA_WARN(p->charged == 0))
		return;
	p->charged--;
	fa__reserve_pool_stash(p, obj);
}

/**
 * Objects currently charged to the pool's budget.
 * @stage any
 * @locking pool lock for an exact value
 * @param p The pool (NULL warns and gives 0).
 * @return Objects held in reservations plus objects taken and not put back.
 */
static inline unsigned long fa_reserve_pool_charged(const struct fa_reserve_pool *p)
{
	if (FA_WARN(!p))
		return 0;
	return p->charged;
}

/**
 * Objects currently cached (free, owned by the pool).
 * @stage any
 * @locking pool lock for an exact value
 * @param p The pool (NULL warns and gives 0).
 * @return Cached objects.
 */
static inline unsigned int fa_reserve_pool_cached(const struct fa_reserve_pool *p)
{
	if (FA_WARN(!p))
		return 0;
	return p->cached;
}

/**
 * Initialise an empty reservation drawing from @p pool.
 * @stage submit
 * @locking none (the reservation is the job's own)
 * @param r The reservation (NULL warns and does nothing). Must not hold
 *        objects: initialising a filled reservation forgets them (release it first).
 * @param pool Its pool (NULL is allowed: every fill then fails with -FA_EINVAL).
 */
static inline void fa_reserve_init(struct fa_reserve *r, struct fa_reserve_pool *pool)
{
	if (FA_WARN(!r))
		return;
	r->pool = pool;
	r->head = NULL;
	r->count = 0;
	r->filled = 0;
}

/**
 * Add @p n objects to a reservation, all or nothing: from the pool's cache
 * first, then from the source. Cumulative: filling twice holds the sum.
 * @stage submit (allocates)
 * @locking pool lock (never taken inside a signalling section)
 * @param r The reservation.
 * @param n Objects to add; 0 does nothing and succeeds.
 * @param gfp Allocation context for the source.
 * @return 0; -FA_EINVAL for a NULL reservation or one with no pool (an
 *         fa_reserve_init() with a NULL pool);
 *         -FA_ENOSPC when @p n more objects exceed the pool's budget;
 *         -FA_EOVERFLOW when the reservation's count would overflow;
 *         -FA_ENOMEM when the source failed. On any error nothing is held
 *         and the budget is unchanged (objects obtained so far went back).
 */
static inline int fa_reserve_fill(struct fa_reserve *r, unsigned int n, fa_gfp_t gfp)
{
	struct fa_reserve_pool *p;
	void *chain = NULL, *tail = NULL;
	unsigned int i;

	if (!r || !r->pool)
		return -FA_EINVAL;
	p = r->pool;
	/* Announce on every call, warm cache or not, as kmalloc does: the
	 * validator must see a fill inside a signalling section even when it
	 * would have been served from the cache this time. */
	fa_signalling_might_alloc(gfp);
	if (!fa__reserve_pool_fits(p, n))
		return -FA_ENOSPC;
	if (r->filled + n < r->filled)
		return -FA_EOVERFLOW;
	for (i = 0; i < n; i++) {
		void *obj = fa__reserve_pool_obtain(p, gfp);

		if (!obj) {
			fa__reserve_pool_stash_chain(p, chain);
			return -FA_ENOMEM;
		}
		fa__reserve_set_next(obj, chain);
		if (!chain)
			tail = obj;
		chain = obj;
	}
	if (tail) {
		fa__reserve_set_next(tail, r->head);
		r->head = chain;
	}
	r->count += n;
	r->filled += n;
	p->charged += n;
	return 0;
}

/**
 * Take one object. O(1): a pointer pop; never allocates, sleeps or locks.
 * The object's contents are undefined except that its first pointer-sized
 * word is zero. It stays charged to the pool until fa_reserve_give_back()
 * or fa_reserve_pool_put().
 * @stage run
 * @locking none (the job's own reservation)
 * @param r The reservation.
 * @return The object; NULL with an #FA_WARN when the reservation is empty (a
 *         caller bug: the estimate was too small) or @p r is NULL, state
 *         unchanged.
 */
static inline void *fa_reserve_take(struct fa_reserve *r)
{
	void *obj;

	if (FA_WARN(!r))
		return NULL;
	obj = r->head;
	if (FA_WARN(!obj))
		return NULL;
	r->head = fa__reserve_next(obj);
	fa__reserve_set_next(obj, NULL);
	r->count--;
	return obj;
}

/**
 * Return an unused object taken from this reservation. O(1): a pointer push.
 * @stage run (or cleanup)
 * @locking none (the job's own reservation)
 * @param r The reservation (NULL warns and does nothing).
 * @param obj An object taken from @p r since its last fill or release. NULL,
 *        or more give-backs than takes, warn and do nothing.
 */
static inline void fa_reserve_give_back(struct fa_reserve *r, void *obj)
{
	/* More objects held than filled would mean a foreign or doubled object. */
	if (FA_WARN(!r || !obj) || FA_WARN(r->count >= r->filled))
		return;
	fa__reserve_set_next(obj, r->head);
	r->head = obj;
	r->count++;
}

/**
 * Return every object still held to the pool (cache first, then the source)
 * and end their charge. Objects taken and kept stay charged until
 * fa_reserve_pool_put(). The reservation is empty afterwards and may be
 * filled again.
 * @stage cleanup
 * @locking pool lock
 * @param r The reservation (NULL warns and does nothing).
 */
static inline void fa_reserve_release(struct fa_reserve *r)
{
	struct fa_reserve_pool *p;

	if (FA_WARN(!r))
		return;
	p = r->pool;
	if (!p)
		return; /* never attached to a pool: fill always failed, nothing held */
	fa__reserve_pool_stash_chain(p, r->head);
	p->charged -= r->count;
	r->head = NULL;
	r->count = 0;
	r->filled = 0;
}

/**
 * Objects currently held (filled and not taken).
 * @stage any
 * @locking none (the reservation's owner)
 * @param r The reservation (NULL warns and gives 0).
 * @return The count.
 */
static inline unsigned int fa_reserve_count(const struct fa_reserve *r)
{
	if (FA_WARN(!r))
		return 0;
	return r->count;
}

/**
 * Add the worst case of @p n_ops operations needing at most @p per_op
 * objects each to a running count, checked: `*need += per_op * n_ops`.
 * E.g. `fa_reserve_need_add(&n, FA_RESERVE_GPUVA_PER_MAP, maps)` then
 * `fa_reserve_need_add(&n, FA_RESERVE_GPUVA_PER_UNMAP, unmaps)`.
 * @stage any
 * @locking none
 * @param need Running count (unchanged on error).
 * @param per_op Most objects one operation needs.
 * @param n_ops Number of operations.
 * @return 0; -FA_EINVAL when @p need is NULL; -FA_EOVERFLOW when the total
 *         does not fit in an unsigned int.
 */
static inline int fa_reserve_need_add(unsigned int *need, unsigned int per_op,
				      unsigned int n_ops)
{
	uint64_t total;

	if (!need)
		return -FA_EINVAL;
	total = (uint64_t)per_op * n_ops + *need;
	if (total > (uint64_t)(~0u))
		return -FA_EOVERFLOW;
	*need = (unsigned int)total;
	return 0;
}

#ifdef __cplusplus
}
#endif

#endif /* FA_RESERVE_H */
