/* SPDX-License-Identifier: MIT */
/**
 * @file pramin.h
 * @brief Page-table memory accessor trait, with direct and PRAMIN-window implementations.
 *
 * Page tables of NVIDIA GPUs live in VRAM. Before BAR2 is up (and in drivers
 * that always write page tables this way) the CPU reaches VRAM through
 * PRAMIN: a 1 MiB aperture at BAR0 `0x700000` whose VRAM base is set by one
 * register, `NV_PBUS_BAR0_WINDOW` (BAR0 `0x1700`, Maxwell to Ada) or
 * `NV_XAL_EP_BAR0_WINDOW` (BAR0 `0x10FD40`, Hopper and Blackwell). The
 * register holds `vram_addr >> 16`, so the base is 64 KiB granular, and its
 * field width limits the reach: 2^40 bytes before Hopper, 2^38 on GH100,
 * 2^39 on GB100. Moving the window is one posted 32-bit MMIO write; making
 * the writes land in VRAM is one read through the window. 64-bit entries go
 * out as two 32-bit writes, so a live entry can be seen half written.
 *
 * The page-table code must not care where its tables live, so it talks to a
 * small trait, #fa_pramin_accessor: an ops table (#fa_pramin_ops) and a
 * context. Two implementations are provided:
 *
 * - **direct** (#fa_pramin_direct): a CPU pointer onto the table memory
 *   (system-memory page tables, BAR2-mapped VRAM, tests). 64-bit entries are
 *   stored with one naturally aligned store on 64-bit CPUs, so the ordering
 *   hint only matters on 32-bit CPUs, where the halves go in the hinted order.
 * - **PRAMIN window** (#fa_pramin_window): drives the window register and
 *   the aperture through a tiny driver-supplied hardware interface
 *   (#fa_pramin_hw) and a generation descriptor (#fa_pramin_gen). It caches
 *   the base, moves the window only when an access falls outside the current
 *   1 MiB (not every 64 KiB), chooses the new base so that ascending and
 *   descending runs need the fewest moves, never restores an old base behind
 *   the caller's back, writes the two halves of a 64-bit entry in the hinted
 *   order and flushes with exactly one read.
 *
 * **Ordering of 64-bit halves** (#fa_pramin_order). VALID is bit 0, in the
 * low half. To map, write the high half first so that the low half, which
 * sets VALID, lands last (#FA_PRAMIN_HIGH_FIRST). To unmap, write the low
 * half first so VALID clears before the address changes
 * (#FA_PRAMIN_LOW_FIRST). Neither order makes rewriting a *live* entry to a
 * different live entry safe: clear it first, flush and invalidate.
 *
 * **Stage contract.** Every op is `@stage run` safe: no allocation, no
 * sleeping, cost O(1) or linear in the bytes touched. Errors are reported
 * before anything is written: bad input changes nothing (no VRAM byte, no
 * window move, no counter).
 *
 * **Preconditions: checked.** Every pointer argument is checked: a NULL (or
 * uninitialised) accessor, object, descriptor or buffer gets -FA_EINVAL,
 * with nothing changed; functions that return no error warn (#FA_WARN) and
 * do nothing (fa_pramin_window_base() gives false, fa_pramin_gen_reach()
 * 0). Descriptor fields are validated with overflow-checked arithmetic.
 * Re-initialising a window or direct object only resets its cached state
 * (it owns no memory), so it is allowed at any time outside the PRAMIN lock.
 *
 * **Locking.** The library takes no lock. A direct accessor needs whatever
 * lock protects the tables. The PRAMIN window is one shared hardware
 * resource: the caller serialises every use of one #fa_pramin_window (and
 * every other writer of the window register) with its *PRAMIN lock*. That
 * lock is taken inside the fence-signalling section, so it must only ever be
 * taken in non-allocating contexts: never allocate (GFP_KERNEL, NOFS, NOIO)
 * while holding it. A spinlock is fine: the implementation neither sleeps nor
 * allocates, but keep runs bounded (a 4 KiB table is 1024 MMIO writes).
 *
 * Device layout is little endian (the low half of a 64-bit entry is at the
 * lower address); the direct implementation assumes a little-endian CPU.
 *
 * @code
 * uint32_t my_rd32(void *dev, uint32_t bar0_off);     // the driver's MMIO accessors
 * void my_wr32(void *dev, uint32_t bar0_off, uint32_t val);
 *
 * static spinlock_t pramin_lock;
 * static struct fa_pramin_direct dir;
 * static struct fa_pramin_window win;
 *
 * // System-memory tables (or tests): a direct accessor.
 * int tables_in_sysmem(void *cpu_ptr, uint64_t dma_addr, uint64_t size,
 *                      struct fa_pramin_accessor *acc)
 * {
 *         return fa_pramin_direct_init(&dir, cpu_ptr, dma_addr, size, acc);
 * }
 *
 * // VRAM tables behind PRAMIN: describe the hardware once.
 * int tables_in_vram(void *my_dev, uint64_t vram_size, struct fa_pramin_accessor *acc)
 * {
 *         struct fa_pramin_hw hw = { NULL, my_rd32, my_wr32, my_dev };
 *         struct fa_pramin_gen gen;
 *         int err = fa_pramin_gen_get(FA_PRAMIN_GEN_GH100, &gen);
 *
 *         return err ? err : fa_pramin_window_init(&win, &hw, &gen, vram_size, acc);
 * }
 *
 * // Either way (run stage, under the PRAMIN lock): map 512 contiguous 4 KiB pages.
 * int map_2m(const struct fa_pramin_accessor *acc, uint64_t pt_addr, uint64_t pte0)
 * {
 *         int err;
 *
 *         spin_lock(&pramin_lock);
 *         err = fa_pramin_fill64(acc, pt_addr, pte0, 1ull << 8, 512, FA_PRAMIN_HIGH_FIRST);
 *         if (!err)
 *                 err = fa_pramin_flush(acc);  // before the TLB invalidate
 *         spin_unlock(&pramin_lock);
 *         return err;
 * }
 * @endcode
 */
#ifndef FA_PRAMIN_H
#define FA_PRAMIN_H

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------- */
/** @name The accessor trait
 * @{ */

/** How the two 32-bit halves of a 64-bit entry are ordered when written. */
enum fa_pramin_order {
	/** No requirement: the implementation's choice (low half, then high half). */
	FA_PRAMIN_ORDER_ANY = 0,
	/** Map: the high half first, so the low half holding VALID (bit 0) lands last. */
	FA_PRAMIN_HIGH_FIRST,
	/** Unmap: the low half first, so VALID clears before the high half changes. */
	FA_PRAMIN_LOW_FIRST,
};

/**
 * Operations of a page-table memory accessor. Addresses are device (VRAM or
 * DMA) byte addresses; 32-bit ops need 4-byte and 64-bit ops 8-byte
 * alignment. Every op returns 0, or -FA_EINVAL (misaligned, zero count,
 * overflowing range, NULL pointer), -FA_ERANGE (beyond the memory the
 * accessor covers) or -FA_EFAULT (beyond what the hardware can reach); on
 * error nothing was written. All ops are `@stage run` safe (no allocation,
 * no sleeping) and run under the caller's lock for the memory (the PRAMIN
 * lock for a window).
 */
struct fa_pramin_ops {
	/** Read the 32-bit word at `addr` into `*val`. */
	int (*rd32)(void *ctx, uint64_t addr, uint32_t *val);
	/** Write the 32-bit word `val` at `addr`. */
	int (*wr32)(void *ctx, uint64_t addr, uint32_t val);
	/** Read the 64-bit entry at `addr` into `*val` (not atomic through a window). */
	int (*rd64)(void *ctx, uint64_t addr, uint64_t *val);
	/** Write the 64-bit entry `val` at `addr`, halves ordered by `order`. */
	int (*wr64)(void *ctx, uint64_t addr, uint64_t val, enum fa_pramin_order order);
	/** Write `val` to `count` consecutive 32-bit words from `addr`. */
	int (*fill32)(void *ctx, uint64_t addr, uint32_t val, uint64_t count);
	/**
	 * Write `val + i * step` (modulo 2^64) to the 64-bit entry `i`, for `i` in
	 * [0, `count`), from `addr`: a run of PTEs for contiguous pages in one call.
	 */
	int (*fill64)(void *ctx, uint64_t addr, uint64_t val, uint64_t step, uint64_t count,
		      enum fa_pramin_order order);
	/** Write `src[i]` to the 64-bit entry `i` from `addr`, for `i` in [0, `count`). */
	int (*copy64)(void *ctx, uint64_t addr, const uint64_t *src, uint64_t count,
		      enum fa_pramin_order order);
	/** Make previous writes visible to the device (do it before a TLB invalidate). */
	int (*flush)(void *ctx);
};

/** A page-table memory accessor: an ops table and the context its ops receive. */
struct fa_pramin_accessor {
	const struct fa_pramin_ops *ops; /**< Operations (never NULL once initialised). */
	void *ctx;                       /**< First argument of every op. */
};

/**
 * Check that an accessor and one of its ops exist.
 * @param a Accessor.
 * @param has_op Whether the op the caller wants is present.
 * @return 0, -FA_EINVAL (and a warning) for a NULL or uninitialised accessor,
 *         -FA_EOPNOTSUPP when the op is missing.
 */
static inline int fa__pramin_check_acc(const struct fa_pramin_accessor *a, bool has_op)
{
	if (FA_WARN(!a || !a->ops))
		return -FA_EINVAL;
	return has_op ? 0 : -FA_EOPNOTSUPP;
}

/** @cond INTERNAL */
/* Whether accessor `a` is set up and has op `name`. */
#define FA__PRAMIN_OP(a, name) ((a) && (a)->ops && (a)->ops->name)
/** @endcond */

/**
 * Read a 32-bit word.
 * @stage run
 * @locking the caller's lock for the table memory (PRAMIN lock for a window)
 * @param a Accessor.
 * @param addr Device byte address, 4-byte aligned.
 * @param val Where the word is stored (untouched on error).
 * @return 0 or a negative errno (see #fa_pramin_ops).
 */
static inline int fa_pramin_rd32(const struct fa_pramin_accessor *a, uint64_t addr, uint32_t *val)
{
	int err = fa__pramin_check_acc(a, FA__PRAMIN_OP(a, rd32));

	return err ? err : a->ops->rd32(a->ctx, addr, val);
}

/**
 * Write a 32-bit word.
 * @stage run
 * @locking the caller's lock for the table memory (PRAMIN lock for a window)
 * @param a Accessor.
 * @param addr Device byte address, 4-byte aligned.
 * @param val Value.
 * @return 0 or a negative errno (see #fa_pramin_ops).
 */
static inline int fa_pramin_wr32(const struct fa_pramin_accessor *a, uint64_t addr, uint32_t val)
{
	int err = fa__pramin_check_acc(a, FA__PRAMIN_OP(a, wr32));

	return err ? err : a->ops->wr32(a->ctx, addr, val);
}

/**
 * Read a 64-bit entry (two 32-bit reads through a window: low, then high).
 * @stage run
 * @locking the caller's lock for the table memory (PRAMIN lock for a window)
 * @param a Accessor.
 * @param addr Device byte address, 8-byte aligned.
 * @param val Where the entry is stored (untouched on error).
 * @return 0 or a negative errno (see #fa_pramin_ops).
 */
static inline int fa_pramin_rd64(const struct fa_pramin_accessor *a, uint64_t addr, uint64_t *val)
{
	int err = fa__pramin_check_acc(a, FA__PRAMIN_OP(a, rd64));

	return err ? err : a->ops->rd64(a->ctx, addr, val);
}

/**
 * Write a 64-bit entry.
 * @stage run
 * @locking the caller's lock for the table memory (PRAMIN lock for a window)
 * @param a Accessor.
 * @param addr Device byte address, 8-byte aligned.
 * @param val Entry.
 * @param order Half order: #FA_PRAMIN_HIGH_FIRST to map, #FA_PRAMIN_LOW_FIRST to unmap.
 * @return 0 or a negative errno (see #fa_pramin_ops).
 */
static inline int fa_pramin_wr64(const struct fa_pramin_accessor *a, uint64_t addr, uint64_t val,
				 enum fa_pramin_order order)
{
	int err = fa__pramin_check_acc(a, FA__PRAMIN_OP(a, wr64));

	return err ? err : a->ops->wr64(a->ctx, addr, val, order);
}

/**
 * Fill consecutive 32-bit words with one value.
 * @stage run (linear in @p count)
 * @locking the caller's lock for the table memory (PRAMIN lock for a window)
 * @param a Accessor.
 * @param addr Device byte address of the first word, 4-byte aligned.
 * @param val Value.
 * @param count Number of words, > 0.
 * @return 0 or a negative errno (see #fa_pramin_ops).
 */
static inline int fa_pramin_fill32(const struct fa_pramin_accessor *a, uint64_t addr, uint32_t val,
				   uint64_t count)
{
	int err = fa__pramin_check_acc(a, FA__PRAMIN_OP(a, fill32));

	return err ? err : a->ops->fill32(a->ctx, addr, val, count);
}

/**
 * Write a run of 64-bit entries: entry @c i gets `val + i * step` (modulo 2^64).
 * With @p step 0 this is a plain fill (e.g. invalid or sparse entries); with
 * the encoded page size as @p step it maps contiguous pages.
 * @stage run (linear in @p count)
 * @locking the caller's lock for the table memory (PRAMIN lock for a window)
 * @param a Accessor.
 * @param addr Device byte address of entry 0, 8-byte aligned.
 * @param val Entry 0.
 * @param step Increment between consecutive entries.
 * @param count Number of entries, > 0.
 * @param order Half order of every entry.
 * @return 0 or a negative errno (see #fa_pramin_ops).
 */
static inline int fa_pramin_fill64(const struct fa_pramin_accessor *a, uint64_t addr, uint64_t val,
				   uint64_t step, uint64_t count, enum fa_pramin_order order)
{
	int err = fa__pramin_check_acc(a, FA__PRAMIN_OP(a, fill64));

	return err ? err : a->ops->fill64(a->ctx, addr, val, step, count, order);
}

/**
 * Copy an array of 64-bit entries to consecutive entries.
 * @stage run (linear in @p count)
 * @locking the caller's lock for the table memory (PRAMIN lock for a window)
 * @param a Accessor.
 * @param addr Device byte address of entry 0, 8-byte aligned.
 * @param src Source entries (CPU memory), @p count of them.
 * @param count Number of entries, > 0.
 * @param order Half order of every entry.
 * @return 0 or a negative errno (see #fa_pramin_ops).
 */
static inline int fa_pramin_copy64(const struct fa_pramin_accessor *a, uint64_t addr,
				   const uint64_t *src, uint64_t count, enum fa_pramin_order order)
{
	int err = fa__pramin_check_acc(a, FA__PRAMIN_OP(a, copy64));

	return err ? err : a->ops->copy64(a->ctx, addr, src, count, order);
}

/**
 * Make previous writes visible to the device. Call it after a batch of
 * writes and before the TLB invalidate that publishes them.
 * @stage run
 * @locking the caller's lock for the table memory (PRAMIN lock for a window)
 * @param a Accessor.
 * @return 0 or a negative errno.
 */
static inline int fa_pramin_flush(const struct fa_pramin_accessor *a)
{
	int err = fa__pramin_check_acc(a, FA__PRAMIN_OP(a, flush));

	return err ? err : a->ops->flush(a->ctx);
}
/** @} */

/* ------------------------------------------------------------------------- */
/** @name Range checks shared by the implementations
 * @{ */

/**
 * Validate an access of @p count elements of `1 << shift` bytes at @p addr.
 * @stage any
 * @param addr First byte address.
 * @param count Number of elements.
 * @param shift log2 of the element size (2 or 3); also the alignment.
 * @param end Where the exclusive end address is stored on success.
 * @return 0, or -FA_EINVAL (zero count, misaligned, range overflows 64 bits).
 */
static inline int fa__pramin_range(uint64_t addr, uint64_t count, unsigned int shift, uint64_t *end)
{
	if (count == 0 || (addr & ((FA_BIT64(shift)) - 1)) != 0)
		return -FA_EINVAL;
	if (count > (FA_U64_MAX >> shift))
		return -FA_EINVAL;
	if (fa_add_overflow(addr, count << shift, end))
		return -FA_EINVAL;
	return 0;
}
/** @} */

/* ------------------------------------------------------------------------- */
/** @name Direct implementation (CPU pointer)
 * @{ */

/**
 * A direct accessor: device addresses [@c dev_base, @c dev_base + @c size)
 * are the CPU bytes at [@c cpu, @c cpu + @c size). Entries are written with
 * volatile stores, one 64-bit store per entry on 64-bit CPUs (single-copy
 * atomic, so the order hint is moot); on 32-bit CPUs the halves are written
 * in the hinted order. Flush is a compiler barrier plus, in the kernel, a
 * write memory barrier (`wmb()`); the caller still owns cache maintenance of
 * non-coherent memory.
 */
struct fa_pramin_direct {
	unsigned char *cpu; /**< CPU address of device address @c dev_base. */
	uint64_t dev_base;  /**< First device address covered. */
	uint64_t size;      /**< Bytes covered. */
};

/**
 * Translate and check a direct access.
 * @param d Direct accessor.
 * @param addr Device address.
 * @param count Element count.
 * @param shift log2 of the element size.
 * @return CPU pointer, or NULL with @p *err set.
 * @param err Where the error is stored (0 on success).
 */
static inline unsigned char *fa__pramin_direct_ptr(const struct fa_pramin_direct *d, uint64_t addr,
						   uint64_t count, unsigned int shift, int *err)
{
	uint64_t end;

	*err = fa__pramin_range(addr, count, shift, &end);
	if (*err)
		return NULL;
	if (addr < d->dev_base || end - d->dev_base > d->size) {
		*err = -FA_ERANGE;
		return NULL;
	}
	return d->cpu + (size_t)(addr - d->dev_base);
}

/**
 * Store one 64-bit entry through a volatile pointer.
 * @param p Entry (8-byte aligned).
 * @param val Value.
 * @param order Half order, honoured when the CPU cannot store 64 bits at once.
 */
static inline void fa__pramin_direct_st64(volatile uint64_t *p, uint64_t val,
					  enum fa_pramin_order order)
{
	volatile uint32_t *h = (volatile uint32_t *)p;

	if (sizeof(void *) >= 8) {
		*p = val;
	} else if (order == FA_PRAMIN_HIGH_FIRST) {
		h[1] = (uint32_t)(val >> 32);
		h[0] = (uint32_t)val;
	} else {
		h[0] = (uint32_t)val;
		h[1] = (uint32_t)(val >> 32);
	}
}

/**
 * Direct op: read 32 bits.
 * @stage run
 * @locking the caller's lock for the table memory
 * @param ctx #fa_pramin_direct.
 * @param addr Device address.
 * @param val Result.
 * @return 0 or negative errno.
 */
static inline int fa__pramin_direct_rd32(void *ctx, uint64_t addr, uint32_t *val)
{
	int err;
	unsigned char *p = fa__pramin_direct_ptr((const struct fa_pramin_direct *)ctx, addr, 1, 2, &err);

	if (!p)
		return err;
	if (!val)
		return -FA_EINVAL;
	*val = *(volatile uint32_t *)(void *)p;
	return 0;
}

/**
 * Direct op: write 32 bits.
 * @stage run
 * @locking the caller's lock for the table memory
 * @param ctx #fa_pramin_direct.
 * @param addr Device address.
 * @param val Value.
 * @return 0 or negative errno.
 */
static inline int fa__pramin_direct_wr32(void *ctx, uint64_t addr, uint32_t val)
{
	int err;
	unsigned char *p = fa__pramin_direct_ptr((const struct fa_pramin_direct *)ctx, addr, 1, 2, &err);

	if (!p)
		return err;
	*(volatile uint32_t *)(void *)p = val;
	return 0;
}

/**
 * Direct op: read 64 bits.
 * @stage run
 * @locking the caller's lock for the table memory
 * @param ctx #fa_pramin_direct.
 * @param addr Device address.
 * @param val Result.
 * @return 0 or negative errno.
 */
static inline int fa__pramin_direct_rd64(void *ctx, uint64_t addr, uint64_t *val)
{
	int err;
	unsigned char *p = fa__pramin_direct_ptr((const struct fa_pramin_direct *)ctx, addr, 1, 3, &err);
	volatile uint32_t *h;

	if (!p)
		return err;
	if (!val)
		return -FA_EINVAL;
	if (sizeof(void *) >= 8) {
		*val = *(volatile uint64_t *)(void *)p;
	} else {
		h = (volatile uint32_t *)(void *)p;
		*val = (uint64_t)h[0] | ((uint64_t)h[1] << 32);
	}
	return 0;
}

/**
 * Direct op: write 64 bits.
 * @stage run
 * @locking the caller's lock for the table memory
 * @param ctx #fa_pramin_direct.
 * @param addr Device address.
 * @param val Value.
 * @param order Half order.
 * @return 0 or negative errno.
 */
static inline int fa__pramin_direct_wr64(void *ctx, uint64_t addr, uint64_t val,
					 enum fa_pramin_order order)
{
	int err;
	unsigned char *p = fa__pramin_direct_ptr((const struct fa_pramin_direct *)ctx, addr, 1, 3, &err);

	if (!p)
		return err;
	fa__pramin_direct_st64((volatile uint64_t *)(void *)p, val, order);
	return 0;
}

/**
 * Direct op: fill 32-bit words.
 * @stage run
 * @locking the caller's lock for the table memory
 * @param ctx #fa_pramin_direct.
 * @param addr Device address.
 * @param val Value.
 * @param count Words.
 * @return 0 or negative errno.
 */
static inline int fa__pramin_direct_fill32(void *ctx, uint64_t addr, uint32_t val, uint64_t count)
{
	int err;
	unsigned char *p = fa__pramin_direct_ptr((const struct fa_pramin_direct *)ctx, addr, count, 2,
						 &err);
	volatile uint32_t *w = (volatile uint32_t *)(void *)p;
	uint64_t i;

	if (!p)
		return err;
	for (i = 0; i < count; i++)
		w[i] = val;
	return 0;
}

/**
 * Direct op: fill a run of 64-bit entries (`val + i * step`).
 * @stage run
 * @locking the caller's lock for the table memory
 * @param ctx #fa_pramin_direct.
 * @param addr Device address.
 * @param val Entry 0.
 * @param step Increment.
 * @param count Entries.
 * @param order Half order.
 * @return 0 or negative errno.
 */
static inline int fa__pramin_direct_fill64(void *ctx, uint64_t addr, uint64_t val, uint64_t step,
					   uint64_t count, enum fa_pramin_order order)
{
	int err;
	unsigned char *p = fa__pramin_direct_ptr((const struct fa_pramin_direct *)ctx, addr, count, 3,
						 &err);
	volatile uint64_t *e = (volatile uint64_t *)(void *)p;
	uint64_t i = 0, s2 = step * 2, s3 = step * 3, s4 = step * 4;

	if (!p)
		return err;
	if (sizeof(void *) >= 8) {
		/* four independent stores per iteration: store-bound, like memset */
		for (; count - i >= 4; i += 4, val += s4) {
			e[i] = val;
			e[i + 1] = val + step;
			e[i + 2] = val + s2;
			e[i + 3] = val + s3;
		}
	}
	for (; i < count; i++, val += step)
		fa__pramin_direct_st64(&e[i], val, order);
	return 0;
}

/**
 * Direct op: copy 64-bit entries.
 * @stage run
 * @locking the caller's lock for the table memory
 * @param ctx #fa_pramin_direct.
 * @param addr Device address.
 * @param src Source entries.
 * @param count Entries.
 * @param order Half order.
 * @return 0 or negative errno.
 */
static inline int fa__pramin_direct_copy64(void *ctx, uint64_t addr, const uint64_t *src,
					   uint64_t count, enum fa_pramin_order order)
{
	int err;
	unsigned char *p = fa__pramin_direct_ptr((const struct fa_pramin_direct *)ctx, addr, count, 3,
						 &err);
	volatile uint64_t *e = (volatile uint64_t *)(void *)p;
	uint64_t i;

	if (!p)
		return err;
	if (!src)
		return -FA_EINVAL;
	for (i = 0; i < count; i++)
		fa__pramin_direct_st64(&e[i], src[i], order);
	return 0;
}

/**
 * Direct op: flush (order the stores before whatever the caller does next).
 * @stage run
 * @locking the caller's lock for the table memory
 * @param ctx #fa_pramin_direct (unused).
 * @return 0.
 */
static inline int fa__pramin_direct_flush(void *ctx)
{
	(void)ctx;
#if defined(__KERNEL__)
	wmb();
#else
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
	return 0;
}

/**
 * The ops table of the direct implementation.
 * @return Pointer to a static const table.
 */
static inline const struct fa_pramin_ops *fa__pramin_direct_ops(void)
{
	static const struct fa_pramin_ops ops = {
		fa__pramin_direct_rd32,   fa__pramin_direct_wr32,   fa__pramin_direct_rd64,
		fa__pramin_direct_wr64,   fa__pramin_direct_fill32, fa__pramin_direct_fill64,
		fa__pramin_direct_copy64, fa__pramin_direct_flush,
	};
	return &ops;
}

/**
 * Set up a direct accessor over CPU-addressable table memory.
 * @stage any
 * @locking none (the object is not shared yet)
 * @param d Object to initialise (caller storage; must outlive the accessor).
 * @param cpu CPU address of device address @p dev_base; 8-byte aligned.
 * @param dev_base First device address covered; 8-byte aligned. Use 0 to
 *        address the memory by offset.
 * @param size Bytes covered, > 0.
 * @param out Accessor to fill in (may be NULL; see fa_pramin_direct_accessor()).
 * @return 0; -FA_EINVAL for a NULL @p d or @p cpu, misalignment, zero size or
 *         a device range that overflows 64 bits (then @p d and @p out are untouched).
 */
static inline int fa_pramin_direct_init(struct fa_pramin_direct *d, void *cpu, uint64_t dev_base,
					uint64_t size, struct fa_pramin_accessor *out)
{
	uint64_t end;

	if (!d || !cpu || size == 0 || (dev_base & 7) != 0 || ((uintptr_t)cpu & 7) != 0)
		return -FA_EINVAL;
	if (fa_add_overflow(dev_base, size, &end) || size > (uint64_t)(uintptr_t)-1)
		return -FA_EINVAL;
	d->cpu = (unsigned char *)cpu;
	d->dev_base = dev_base;
	d->size = size;
	if (out) {
		out->ops = fa__pramin_direct_ops();
		out->ctx = d;
	}
	return 0;
}

/**
 * Make an accessor for an initialised direct object.
 * @stage any
 * @locking none
 * @param d Initialised by fa_pramin_direct_init() (NULL warns, @p out untouched).
 * @param out Accessor to fill in (NULL warns).
 */
static inline void fa_pramin_direct_accessor(struct fa_pramin_direct *d,
					     struct fa_pramin_accessor *out)
{
	if (FA_WARN(!d || !out))
		return;
	out->ops = fa__pramin_direct_ops();
	out->ctx = d;
}
/** @} */

/* ------------------------------------------------------------------------- */
/** @name PRAMIN window: hardware facts
 * @{ */
/** BAR0 offset of the PRAMIN aperture (`NV_PRAMIN`), the same on every generation. */
#define FA_PRAMIN_APERTURE 0x700000u
/** Size of the PRAMIN aperture: 1 MiB. */
#define FA_PRAMIN_APERTURE_SIZE 0x100000u
/** `NV_PBUS_BAR0_WINDOW`: the window register from Tesla to Ada. */
#define FA_PRAMIN_REG_PBUS_BAR0_WINDOW 0x1700u
/** `NV_XAL_EP_BAR0_WINDOW`: the window register on Hopper and Blackwell (XAL base 0x10F000 + 0xD40). */
#define FA_PRAMIN_REG_XAL_EP_BAR0_WINDOW 0x10FD40u
/** The register holds `vram_addr >> 16`: the window base is 64 KiB granular. */
#define FA_PRAMIN_BASE_SHIFT 16u
/** @} */

/** @name PRAMIN window implementation
 * @{ */

/** Known window-register layouts. */
enum fa_pramin_gen_id {
	/** Tesla to Ada: `NV_PBUS_BAR0_WINDOW`, `_BASE` 23:0, `_TARGET` 25:24 = VID_MEM (0); reach 2^40. */
	FA_PRAMIN_GEN_PBUS = 0,
	/** Hopper (GH100): `NV_XAL_EP_BAR0_WINDOW`, `_BASE` 21:0, VRAM only; reach 2^38. */
	FA_PRAMIN_GEN_GH100,
	/** Blackwell (GB100): `NV_XAL_EP_BAR0_WINDOW`, `_BASE` 22:0, VRAM only; reach 2^39. */
	FA_PRAMIN_GEN_GB100,
};

/**
 * Generation descriptor: where the window register is and how its base field
 * is laid out. Get a known one with fa_pramin_gen_get() or fill one in for
 * other hardware (fa_pramin_window_init() validates it).
 */
struct fa_pramin_gen {
	uint32_t window_reg;    /**< BAR0 offset of the window register (4-byte aligned). */
	uint32_t base_shift;    /**< Register value = VRAM base >> this (16: 64 KiB granules). */
	uint32_t base_bits;     /**< Width of the base field at bit 0; reach = 2^(shift + bits). */
	uint32_t reg_or;        /**< Bits ORed into every register value (e.g. a target field); 0 = VRAM. */
	uint32_t aperture;      /**< BAR0 offset of the aperture (#FA_PRAMIN_APERTURE). */
	uint32_t aperture_size; /**< Aperture bytes, a power of two >= 2 granules (#FA_PRAMIN_APERTURE_SIZE). */
};

/**
 * Fill in the descriptor of a known generation.
 * @stage any
 * @locking none
 * @param id Generation.
 * @param out Descriptor to fill in.
 * @return 0; -FA_EINVAL for an unknown @p id or NULL @p out (then @p out is untouched).
 */
static inline int fa_pramin_gen_get(enum fa_pramin_gen_id id, struct fa_pramin_gen *out)
{
	uint32_t reg, bits;

	switch (id) {
	case FA_PRAMIN_GEN_PBUS:
		reg = FA_PRAMIN_REG_PBUS_BAR0_WINDOW;
		bits = 24;
		break;
	case FA_PRAMIN_GEN_GH100:
		reg = FA_PRAMIN_REG_XAL_EP_BAR0_WINDOW;
		bits = 22;
		break;
	case FA_PRAMIN_GEN_GB100:
		reg = FA_PRAMIN_REG_XAL_EP_BAR0_WINDOW;
		bits = 23;
		break;
	default:
		return -FA_EINVAL;
	}
	if (!out)
		return -FA_EINVAL;
	out->window_reg = reg;
	out->base_shift = FA_PRAMIN_BASE_SHIFT;
	out->base_bits = bits;
	out->reg_or = 0;
	out->aperture = FA_PRAMIN_APERTURE;
	out->aperture_size = FA_PRAMIN_APERTURE_SIZE;
	return 0;
}

/**
 * Validate a generation descriptor.
 * @param g Descriptor.
 * @return 0 or -FA_EINVAL.
 */
static inline int fa__pramin_gen_check(const struct fa_pramin_gen *g)
{
	uint64_t field;

	if (!g || (g->window_reg & 3) != 0 || (g->aperture & 3) != 0)
		return -FA_EINVAL;
	/* Each field is bounded before they are added, and the sum is taken in
	 * 64 bits: a shift near 2^32 must not wrap the sum into range and then
	 * be used as a shift count below. */
	if (g->base_shift < 12 || g->base_shift > 61 || g->base_bits < 1 || g->base_bits > 32 ||
	    (uint64_t)g->base_shift + g->base_bits > 62)
		return -FA_EINVAL;
	if (!fa_is_pow2(g->aperture_size) || g->aperture_size < (FA_BIT64(g->base_shift) << 1))
		return -FA_EINVAL;
	if ((uint64_t)g->aperture + g->aperture_size > FA_BIT64(32))
		return -FA_EINVAL;
	field = FA_BIT64(g->base_bits) - 1;
	if (((uint64_t)g->reg_or & field) != 0)
		return -FA_EINVAL;
	return 0;
}

/**
 * Highest VRAM address (exclusive) a descriptor's window register can reach.
 * @stage any
 * @locking none
 * @param gen Descriptor (checked: NULL or invalid gives 0).
 * @return 2^(base_shift + base_bits); 0 when @p gen is NULL or would be
 *         refused by fa_pramin_window_init().
 */
static inline uint64_t fa_pramin_gen_reach(const struct fa_pramin_gen *gen)
{
	if (fa__pramin_gen_check(gen))
		return 0;
	return FA_BIT64(gen->base_shift + gen->base_bits);
}

/**
 * The driver's BAR0 access functions. All three must be callable under a
 * spinlock with interrupts off (posted writes, one non-posted read: plain
 * `readl`/`writel`).
 */
struct fa_pramin_hw {
	/**
	 * Optional: write @p reg_value to the window register. When NULL the
	 * window uses @c wr32 on #fa_pramin_gen::window_reg.
	 */
	void (*set_window)(void *ctx, uint32_t reg_value);
	/** Required: 32-bit MMIO read at BAR0 offset @p bar0_off. */
	uint32_t (*rd32)(void *ctx, uint32_t bar0_off);
	/** Required: 32-bit MMIO write at BAR0 offset @p bar0_off. */
	void (*wr32)(void *ctx, uint32_t bar0_off, uint32_t val);
	void *ctx; /**< First argument of the three functions. */
};

/** Counters kept by a PRAMIN window (for tests, benchmarks, debugfs). */
struct fa_pramin_window_stats {
	uint64_t moves;   /**< Window-register writes. */
	uint64_t reads;   /**< 32-bit MMIO reads through the aperture (flushes included). */
	uint64_t writes;  /**< 32-bit MMIO writes through the aperture (register writes excluded). */
	uint64_t flushes; /**< Flushes (each is exactly one of @c reads). */
};

/**
 * A PRAMIN window accessor. One object per GPU; the caller's PRAMIN lock
 * serialises every use (see the file overview). All members are private to
 * the implementation except #stats, which may be read under the lock.
 */
struct fa_pramin_window {
	struct fa_pramin_hw hw;               /**< Driver access functions (copied at init). */
	struct fa_pramin_gen gen;             /**< Register layout (copied at init). */
	uint64_t vram_size;                   /**< Accesses must end at or below this: -FA_ERANGE. */
	uint64_t reach;                       /**< Accesses must end at or below this: -FA_EFAULT. */
	uint64_t base;                        /**< Current window base (valid when @c base_valid). */
	uint64_t last;                        /**< Address of the last element accessed. */
	bool base_valid;                      /**< Whether @c base is what the register holds. */
	bool last_valid;                      /**< Whether @c last is meaningful. */
	bool descending;                      /**< Direction of the current run of accesses. */
	struct fa_pramin_window_stats stats;  /**< Counters. */
};

/**
 * Program the window register to @p base (one posted MMIO write).
 * @param w Window.
 * @param base New base, granule aligned, below the reach.
 */
static inline void fa__pramin_win_move(struct fa_pramin_window *w, uint64_t base)
{
	uint32_t v = (uint32_t)(base >> w->gen.base_shift) | w->gen.reg_or;

	FA_ASSERT(base < w->reach && (base & (FA_BIT64(w->gen.base_shift) - 1)) == 0);
	if (w->hw.set_window)
		w->hw.set_window(w->hw.ctx, v);
	else
		w->hw.wr32(w->hw.ctx, w->gen.window_reg, v);
	w->base = base;
	w->base_valid = true;
	w->stats.moves++;
}

/**
 * Make [@p lo, @p hi) (at most one element) visible through the window,
 * moving it only if needed. An ascending run gets the window placed with the
 * access at its start, a descending run with the access at its end, so the
 * run continues inside the window for as long as possible.
 * @param w Window.
 * @param lo First byte.
 * @param hi End byte (exclusive), hi - lo <= 8.
 * @param desc Direction of the run.
 */
static inline void fa__pramin_win_cover(struct fa_pramin_window *w, uint64_t lo, uint64_t hi,
					bool desc)
{
	uint64_t ap = w->gen.aperture_size, gmask = FA_BIT64(w->gen.base_shift) - 1;
	uint64_t b, top = lo & ~gmask;

	if (w->base_valid && lo >= w->base && hi - w->base <= ap)
		return;
	b = top;
	if (desc) {
		b = hi > ap ? ((hi - ap + gmask) & ~gmask) : 0;
		if (b > top)
			b = top;
	}
	fa__pramin_win_move(w, b);
}

/**
 * Validate an access against alignment, overflow, the register's reach and the VRAM size.
 * @param w Window.
 * @param addr First byte.
 * @param count Elements.
 * @param shift log2 of the element size.
 * @param end Exclusive end, on success.
 * @return 0, -FA_EINVAL, -FA_EFAULT (beyond reach) or -FA_ERANGE (beyond VRAM).
 */
static inline int fa__pramin_win_check(const struct fa_pramin_window *w, uint64_t addr,
				       uint64_t count, unsigned int shift, uint64_t *end)
{
	int err = fa__pramin_range(addr, count, shift, end);

	if (err)
		return err;
	if (*end > w->reach)
		return -FA_EFAULT;
	if (*end > w->vram_size)
		return -FA_ERANGE;
	return 0;
}

/**
 * Note the direction of the access stream and pick the direction of this op:
 * an op wholly below the previous access continues (or starts) a descending
 * run, one wholly above it an ascending run, an overlapping one keeps the
 * current direction. The first op ever counts as ascending.
 * @param w Window.
 * @param lo First byte of the op.
 * @param hi End of the op.
 * @param esize Element size.
 * @return true when the op should be processed descending.
 */
static inline bool fa__pramin_win_track(struct fa_pramin_window *w, uint64_t lo, uint64_t hi,
					uint64_t esize)
{
	if (w->last_valid) {
		if (hi <= w->last)
			w->descending = true;
		else if (lo > w->last)
			w->descending = false;
	}
	w->last = w->descending ? lo : hi - esize;
	w->last_valid = true;
	return w->descending;
}

/**
 * BAR0 offset of a VRAM address inside the current window.
 * @param w Window (base valid, @p addr inside).
 * @param addr VRAM address.
 * @return BAR0 offset.
 */
static inline uint32_t fa__pramin_win_off(const struct fa_pramin_window *w, uint64_t addr)
{
	return w->gen.aperture + (uint32_t)(addr - w->base);
}

/**
 * Write one 64-bit entry as two 32-bit MMIO writes in the hinted order.
 * @param w Window.
 * @param off BAR0 offset of the low half.
 * @param val Entry.
 * @param order #FA_PRAMIN_HIGH_FIRST writes the high half first, anything else the low half.
 */
static inline void fa__pramin_win_put64(struct fa_pramin_window *w, uint32_t off, uint64_t val,
					enum fa_pramin_order order)
{
	if (order == FA_PRAMIN_HIGH_FIRST) {
		w->hw.wr32(w->hw.ctx, off + 4, (uint32_t)(val >> 32));
		w->hw.wr32(w->hw.ctx, off, (uint32_t)val);
	} else {
		w->hw.wr32(w->hw.ctx, off, (uint32_t)val);
		w->hw.wr32(w->hw.ctx, off + 4, (uint32_t)(val >> 32));
	}
	w->stats.writes += 2;
}

/** @cond INTERNAL */
#define FA__PRAMIN_JOB_FILL32 0u
#define FA__PRAMIN_JOB_FILL64 1u
#define FA__PRAMIN_JOB_COPY64 2u
/** @endcond */

/** A ranged write in progress: what goes at each element of [addr, end). */
struct fa__pramin_job {
	uint64_t addr;              /**< First byte of the whole op. */
	uint64_t val;               /**< Fill value (entry 0 for fill64). */
	uint64_t step;              /**< fill64 increment. */
	const uint64_t *src;        /**< copy64 source. */
	unsigned int kind;          /**< FA__PRAMIN_JOB_*. */
	enum fa_pramin_order order; /**< Half order of 64-bit entries. */
};

/**
 * Write the elements of [@p s, @p e), which lie inside the current window.
 * @param w Window.
 * @param j Job.
 * @param s First byte.
 * @param e End byte.
 */
static inline void fa__pramin_win_write_seg(struct fa_pramin_window *w,
					    const struct fa__pramin_job *j, uint64_t s, uint64_t e)
{
	uint32_t off = fa__pramin_win_off(w, s);
	uint64_t i = (s - j->addr) >> (j->kind == FA__PRAMIN_JOB_FILL32 ? 2 : 3);
	uint64_t n, v;

	if (j->kind == FA__PRAMIN_JOB_FILL32) {
		for (n = (e - s) >> 2; n; n--, off += 4)
			w->hw.wr32(w->hw.ctx, off, (uint32_t)j->val);
		w->stats.writes += (e - s) >> 2;
	} else if (j->kind == FA__PRAMIN_JOB_FILL64) {
		v = j->val + i * j->step;
		for (n = (e - s) >> 3; n; n--, off += 8, v += j->step)
			fa__pramin_win_put64(w, off, v, j->order);
	} else {
		for (n = (e - s) >> 3; n; n--, off += 8, i++)
			fa__pramin_win_put64(w, off, j->src[i], j->order);
	}
}

/**
 * Write [@p lo, @p hi) in window-sized segments, moving the window only when
 * the next element is outside it.
 * @param w Window.
 * @param j Job.
 * @param lo First byte.
 * @param hi End byte.
 * @param esize Element size (4 or 8).
 * @param desc Process from the top down.
 */
static inline void fa__pramin_win_run(struct fa_pramin_window *w, const struct fa__pramin_job *j,
				      uint64_t lo, uint64_t hi, uint64_t esize, bool desc)
{
	uint64_t wend;

	while (lo < hi) {
		if (desc) {
			fa__pramin_win_cover(w, hi - esize, hi, true);
			wend = fa_max_u64(lo, w->base);
			fa__pramin_win_write_seg(w, j, wend, hi);
			hi = wend;
		} else {
			fa__pramin_win_cover(w, lo, lo + esize, false);
			wend = fa_min_u64(hi, w->base + w->gen.aperture_size);
			fa__pramin_win_write_seg(w, j, lo, wend);
			lo = wend;
		}
	}
}

/**
 * Validate and run a ranged write.
 * @param w Window.
 * @param j Job (addr set).
 * @param count Elements.
 * @param shift log2 of the element size.
 * @return 0 or a negative errno (nothing written).
 */
static inline int fa__pramin_win_job(struct fa_pramin_window *w, const struct fa__pramin_job *j,
				     uint64_t count, unsigned int shift)
{
	uint64_t end;
	int err = fa__pramin_win_check(w, j->addr, count, shift, &end);
	bool desc;

	if (err)
		return err;
	desc = fa__pramin_win_track(w, j->addr, end, FA_BIT64(shift));
	fa__pramin_win_run(w, j, j->addr, end, FA_BIT64(shift), desc);
	return 0;
}

/**
 * Window op: read 32 bits.
 * @stage run
 * @locking the PRAMIN lock
 * @param ctx #fa_pramin_window.
 * @param addr VRAM address.
 * @param val Result.
 * @return 0 or negative errno.
 */
static inline int fa__pramin_win_rd32(void *ctx, uint64_t addr, uint32_t *val)
{
	struct fa_pramin_window *w = (struct fa_pramin_window *)ctx;
	uint64_t end;
	int err = fa__pramin_win_check(w, addr, 1, 2, &end);

	if (err)
		return err;
	if (!val)
		return -FA_EINVAL;
	fa__pramin_win_cover(w, addr, end, fa__pramin_win_track(w, addr, end, 4));
	*val = w->hw.rd32(w->hw.ctx, fa__pramin_win_off(w, addr));
	w->stats.reads++;
	return 0;
}

/**
 * Window op: write 32 bits.
 * @stage run
 * @locking the PRAMIN lock
 * @param ctx #fa_pramin_window.
 * @param addr VRAM address.
 * @param val Value.
 * @return 0 or negative errno.
 */
static inline int fa__pramin_win_wr32(void *ctx, uint64_t addr, uint32_t val)
{
	struct fa_pramin_window *w = (struct fa_pramin_window *)ctx;
	uint64_t end;
	int err = fa__pramin_win_check(w, addr, 1, 2, &end);

	if (err)
		return err;
	fa__pramin_win_cover(w, addr, end, fa__pramin_win_track(w, addr, end, 4));
	w->hw.wr32(w->hw.ctx, fa__pramin_win_off(w, addr), val);
	w->stats.writes++;
	return 0;
}

/**
 * Window op: read 64 bits (low half, then high half).
 * @stage run
 * @locking the PRAMIN lock
 * @param ctx #fa_pramin_window.
 * @param addr VRAM address.
 * @param val Result.
 * @return 0 or negative errno.
 */
static inline int fa__pramin_win_rd64(void *ctx, uint64_t addr, uint64_t *val)
{
	struct fa_pramin_window *w = (struct fa_pramin_window *)ctx;
	uint64_t end, lo, hi;
	uint32_t off;
	int err = fa__pramin_win_check(w, addr, 1, 3, &end);

	if (err)
		return err;
	if (!val)
		return -FA_EINVAL;
	fa__pramin_win_cover(w, addr, end, fa__pramin_win_track(w, addr, end, 8));
	off = fa__pramin_win_off(w, addr);
	lo = w->hw.rd32(w->hw.ctx, off);
	hi = w->hw.rd32(w->hw.ctx, off + 4);
	w->stats.reads += 2;
	*val = lo | (hi << 32);
	return 0;
}

/**
 * Window op: write 64 bits in the hinted half order.
 * @stage run
 * @locking the PRAMIN lock
 * @param ctx #fa_pramin_window.
 * @param addr VRAM address.
 * @param val Value.
 * @param order Half order.
 * @return 0 or negative errno.
 */
static inline int fa__pramin_win_wr64(void *ctx, uint64_t addr, uint64_t val,
				      enum fa_pramin_order order)
{
	struct fa_pramin_window *w = (struct fa_pramin_window *)ctx;
	uint64_t end;
	int err = fa__pramin_win_check(w, addr, 1, 3, &end);

	if (err)
		return err;
	fa__pramin_win_cover(w, addr, end, fa__pramin_win_track(w, addr, end, 8));
	fa__pramin_win_put64(w, fa__pramin_win_off(w, addr), val, order);
	return 0;
}

/**
 * Window op: fill 32-bit words.
 * @stage run
 * @locking the PRAMIN lock
 * @param ctx #fa_pramin_window.
 * @param addr VRAM address.
 * @param val Value.
 * @param count Words.
 * @return 0 or negative errno.
 */
static inline int fa__pramin_win_fill32(void *ctx, uint64_t addr, uint32_t val, uint64_t count)
{
	struct fa__pramin_job j;

	j.addr = addr;
	j.val = val;
	j.step = 0;
	j.src = NULL;
	j.kind = FA__PRAMIN_JOB_FILL32;
	j.order = FA_PRAMIN_ORDER_ANY;
	return fa__pramin_win_job((struct fa_pramin_window *)ctx, &j, count, 2);
}

/**
 * Window op: fill a run of 64-bit entries.
 * @stage run
 * @locking the PRAMIN lock
 * @param ctx #fa_pramin_window.
 * @param addr VRAM address.
 * @param val Entry 0.
 * @param step Increment.
 * @param count Entries.
 * @param order Half order.
 * @return 0 or negative errno.
 */
static inline int fa__pramin_win_fill64(void *ctx, uint64_t addr, uint64_t val, uint64_t step,
					uint64_t count, enum fa_pramin_order order)
{
	struct fa__pramin_job j;

	j.addr = addr;
	j.val = val;
	j.step = step;
	j.src = NULL;
	j.kind = FA__PRAMIN_JOB_FILL64;
	j.order = order;
	return fa__pramin_win_job((struct fa_pramin_window *)ctx, &j, count, 3);
}

/**
 * Window op: copy 64-bit entries.
 * @stage run
 * @locking the PRAMIN lock
 * @param ctx #fa_pramin_window.
 * @param addr VRAM address.
 * @param src Source entries.
 * @param count Entries.
 * @param order Half order.
 * @return 0 or negative errno.
 */
static inline int fa__pramin_win_copy64(void *ctx, uint64_t addr, const uint64_t *src,
					uint64_t count, enum fa_pramin_order order)
{
	struct fa__pramin_job j;

	if (!src)
		return -FA_EINVAL;
	j.addr = addr;
	j.val = 0;
	j.step = 0;
	j.src = src;
	j.kind = FA__PRAMIN_JOB_COPY64;
	j.order = order;
	return fa__pramin_win_job((struct fa_pramin_window *)ctx, &j, count, 3);
}

/**
 * Window op: flush by exactly one MMIO read through the aperture. The read
 * is non-posted, so it completes only after every earlier posted write
 * (window moves and data) has landed. The window is not moved: any mapped
 * window will do.
 * @stage run
 * @locking the PRAMIN lock
 * @param ctx #fa_pramin_window.
 * @return 0.
 */
static inline int fa__pramin_win_flush(void *ctx)
{
	struct fa_pramin_window *w = (struct fa_pramin_window *)ctx;

	(void)w->hw.rd32(w->hw.ctx, w->gen.aperture);
	w->stats.reads++;
	w->stats.flushes++;
	return 0;
}

/**
 * The ops table of the PRAMIN window implementation.
 * @return Pointer to a static const table.
 */
static inline const struct fa_pramin_ops *fa__pramin_win_ops(void)
{
	static const struct fa_pramin_ops ops = {
		fa__pramin_win_rd32,   fa__pramin_win_wr32,   fa__pramin_win_rd64,
		fa__pramin_win_wr64,   fa__pramin_win_fill32, fa__pramin_win_fill64,
		fa__pramin_win_copy64, fa__pramin_win_flush,
	};
	return &ops;
}

/**
 * Make an accessor for an initialised window.
 * @stage any
 * @locking none
 * @param w Initialised by fa_pramin_window_init() (NULL warns, @p out untouched).
 * @param out Accessor to fill in (NULL warns).
 */
static inline void fa_pramin_window_accessor(struct fa_pramin_window *w,
					     struct fa_pramin_accessor *out)
{
	if (FA_WARN(!w || !out))
		return;
	out->ops = fa__pramin_win_ops();
	out->ctx = w;
}

/**
 * Set up a PRAMIN window accessor. The register is not touched (and not
 * read): the first access programs it, so the window starts "unknown".
 * @stage any (typically at device probe)
 * @locking none (the object is not shared yet)
 * @param w Object to initialise (caller storage).
 * @param hw Driver access functions (copied); @c rd32 and @c wr32 are required.
 * @param gen Register layout (copied and validated), e.g. from fa_pramin_gen_get().
 * @param vram_size Bytes of VRAM, > 0. Accesses beyond it get -FA_ERANGE,
 *        accesses beyond the register's reach -FA_EFAULT.
 * @param out Accessor to fill in (may be NULL; see fa_pramin_window_accessor()).
 * @return 0, or -FA_EINVAL for NULL arguments, missing functions, zero size or
 *         an invalid descriptor (then @p w and @p out are untouched).
 */
static inline int fa_pramin_window_init(struct fa_pramin_window *w, const struct fa_pramin_hw *hw,
					const struct fa_pramin_gen *gen, uint64_t vram_size,
					struct fa_pramin_accessor *out)
{
	if (!w || !hw || !hw->rd32 || !hw->wr32 || vram_size == 0)
		return -FA_EINVAL;
	if (fa__pramin_gen_check(gen))
		return -FA_EINVAL;
	w->hw = *hw;
	w->gen = *gen;
	w->vram_size = vram_size;
	w->reach = fa_pramin_gen_reach(gen);
	w->base = 0;
	w->last = 0;
	w->base_valid = false;
	w->last_valid = false;
	w->descending = false;
	w->stats.moves = 0;
	w->stats.reads = 0;
	w->stats.writes = 0;
	w->stats.flushes = 0;
	if (out)
		fa_pramin_window_accessor(w, out);
	return 0;
}

/**
 * Forget the cached base, so that the next access reprograms the register.
 * Call it after resume, a reset, or any code outside this object wrote the
 * window register (the cache is never refreshed by reading the register).
 * @stage run
 * @locking the PRAMIN lock
 * @param w Window (NULL warns and does nothing).
 */
static inline void fa_pramin_window_forget(struct fa_pramin_window *w)
{
	if (FA_WARN(!w))
		return;
	w->base_valid = false;
}

/**
 * Current window base, as last programmed by this object.
 * @stage run
 * @locking the PRAMIN lock
 * @param w Window (NULL warns and gives false).
 * @param base Where the base is stored when known (untouched otherwise); may
 *        be NULL to ask only whether the base is known.
 * @return true when the base is known; false before the first access or after
 *         fa_pramin_window_forget().
 */
static inline bool fa_pramin_window_base(const struct fa_pramin_window *w, uint64_t *base)
{
	if (FA_WARN(!w))
		return false;
	if (!w->base_valid)
		return false;
	if (base)
		*base = w->base;
	return true;
}

/**
 * Reset the counters to zero.
 * @stage run
 * @locking the PRAMIN lock
 * @param w Window (NULL warns and does nothing).
 */
static inline void fa_pramin_window_stats_reset(struct fa_pramin_window *w)
{
	if (FA_WARN(!w))
		return;
	w->stats.moves = 0;
	w->stats.reads = 0;
	w->stats.writes = 0;
	w->stats.flushes = 0;
}
/** @} */

#ifdef __cplusplus
}
#endif

#endif /* FA_PRAMIN_H */
