/* SPDX-License-Identifier: MIT */
/**
 * @file buddy.h
 * @brief Non-reclaiming buddy allocator for VRAM and GPU VA ranges.
 *
 * Why: the kernel's `gpu_buddy` allocates a block node with `GFP_KERNEL` on
 * every split, so the lock around it can never be taken inside a
 * fence-signalling section, and its metadata grows with fragmentation
 * (~576 MiB for 16 GiB in 4 KiB blocks). This buddy keeps its whole state in
 * bitmaps inside storage the caller hands over at init (size given by the pure
 * function fa_buddy_storage_size()), **never allocates afterwards**, never
 * touches the managed range itself (it may be VRAM or a VA space), and bounds
 * the time of every operation.
 *
 * Stage contract: every function is `@stage any` (usable inside a signalling
 * section, under the caller's lock) except fa_buddy_init() and
 * fa_buddy_fini(). The library takes no lock: the caller serialises all calls
 * on one #fa_buddy with its own lock ("the buddy lock" below).
 *
 * The facts that matter:
 * - The space is `[base, base + size)`, `size` a multiple of the chunk size
 *   (init rounds down), any power of two ≥ #FA_BUDDY_MIN_CHUNK. `size` need not
 *   be a power of two: the space is then made of several roots (one per set bit
 *   of `size / chunk`, largest first), exactly like `gpu_buddy`.
 * - State per block of order k (2^k chunks, aligned to its size): free-dirty,
 *   free-clear, split, or "other" (allocated, or inside a larger block). One bit
 *   per state and node in per-order bitmaps, with 64-ary summary words on the
 *   free bitmaps: finding the first / last / next / previous free block of an
 *   order costs O(log64 n) word operations. The dirty, clear and split words
 *   of the same 64 nodes are interleaved so one node's state is one cache
 *   line. About 6.1 bits per chunk in all: 3.04 MiB for 16 GiB in 4 KiB chunks.
 * - Free blocks are always merged with a free buddy: a buddy pair is never
 *   both free. When a clear and a dirty buddy merge, the result is dirty
 *   ("dirty wins", as in `gpu_buddy`'s force-merge): `clear_avail` drops.
 * - Every allocation is the canonical decomposition of its range into maximal
 *   aligned power-of-two blocks (a single block for a power-of-two size at a
 *   size-aligned address). fa_buddy_free() takes the address and the size,
 *   checks every block of that decomposition and frees nothing unless all are
 *   allocated blocks: double frees (-FA_EALREADY), sizes or addresses that are
 *   not an allocation (-FA_EINVAL) leave the allocator unchanged.
 * - Worst case per operation (M = log2 of the number of chunks, ≤ 60): a
 *   power-of-two allocation or free is O(M · log64 n); a range-restricted or
 *   aligned search probes at most #FA_BUDDY_PROBES candidates per order; an
 *   exact range, contiguous allocation, trim or free of a non-power-of-two
 *   range touches at most 2·M blocks, each O(M). No operation scans the free
 *   blocks (unlike `gpu_buddy`'s contiguous "try harder" and force-merge).
 *   The exceptions are meant for debugging and rare events: fa_buddy_check()
 *   is O(n) and fa_buddy_reset_clear() O(n / 64).
 *
 * **Preconditions: checked.** Every pointer argument is checked: a NULL
 * buddy (or one not initialised, or after fa_buddy_fini()), request or
 * result pointer is refused with -FA_EINVAL and nothing changes; functions
 * that return no error warn (#FA_WARN) and do nothing, getters give 0. The
 * optional outputs (`cleared`, `why`) may be NULL. fa_buddy_init() over a
 * live buddy starts a new, empty allocator: the old allocations are
 * forgotten (fini it first).
 *
 * @code
 * int vram_demo(void)
 * {
 *         struct fa_buddy vram;
 *         uint64_t need = fa_buddy_storage_size(16ull << 30, 4096);   // ~3 MiB
 *         void *meta = kvmalloc(need, GFP_KERNEL);                    // init time
 *         uint64_t pt;
 *         int err;
 *
 *         if (!meta)
 *                 return -FA_ENOMEM;
 *         err = fa_buddy_init(&vram, meta, need, 0, 16ull << 30, 4096);
 *         // later, even inside a fence-signalling section, under the caller's lock:
 *         if (!err && fa_buddy_alloc(&vram, 4096, 0, 0, &pt) == 0)
 *                 fa_buddy_free(&vram, pt, 4096);
 *         if (!err)
 *                 fa_buddy_fini(&vram);
 *         kvfree(meta);
 *         return err;
 * }
 * @endcode
 */
#ifndef FA_BUDDY_H
#define FA_BUDDY_H

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @name Limits
 * @{ */
/** Smallest chunk size accepted by fa_buddy_init() (keeps chunk counts below 2^60). */
#define FA_BUDDY_MIN_CHUNK 16u
/** Largest block order (in chunks) that can ever exist: 2^59 chunks of 16 bytes. */
#define FA_BUDDY_MAX_ORDER 59
/**
 * Candidates examined per order when a search is constrained by alignment
 * larger than the block, or when a contiguous request falls back to runs
 * that straddle block boundaries. Bounds the worst-case time.
 */
#define FA_BUDDY_PROBES 8u
/** @} */

/** @name Allocation and free flags
 * @{ */
/** Choose the highest suitable address instead of the lowest. */
#define FA_BUDDY_TOPDOWN 0x1u
/**
 * One contiguous range of any chunk-multiple size, built from adjacent
 * power-of-two blocks (it costs exactly the size); alignment applies to its
 * start (default: the chunk size).
 */
#define FA_BUDDY_CONTIGUOUS 0x2u
/** Prefer cleared (zeroed) memory; falls back to dirty memory. */
#define FA_BUDDY_CLEAR 0x4u
/** On free or trim: the freed memory is cleared (zeroed). */
#define FA_BUDDY_CLEARED 0x8u
/** @} */

/** @cond INTERNAL */
#define FA__BUDDY_LEVELS 10 /* 64-ary levels for up to 2^60 bits */
#define FA__BUDDY_NONE FA_U64_MAX
#define FA__BUDDY_DIRTY 0
#define FA__BUDDY_CLEAN 1
#define FA__BUDDY_FLAGS (FA_BUDDY_TOPDOWN | FA_BUDDY_CONTIGUOUS | FA_BUDDY_CLEAR)
/* Leaf words are interleaved: dirty, clear, split word of the same 64 nodes
 * share a cache line, so a node's whole state is one line (order 0 has no
 * split bits: its third word stays 0). */
#define FA__BUDDY_STRIDE 3

/* Bitmaps of one order, all inside the caller's storage. */
struct fa__buddy_order {
	uint64_t *lv[2][FA__BUDDY_LEVELS]; /* free bitmaps [dirty/clear][level], lv 0 = leaves */
	uint64_t *split;                  /* split bitmap (orders >= 1), no summary */
	uint64_t nbits;                   /* nodes of this order fully inside the space */
	unsigned int nlv;                 /* summary levels (top level has one word) */
};
/** @endcond */

/**
 * A buddy allocator over `[base, base + size)`. Embed it anywhere; all bulky
 * state lives in the storage passed to fa_buddy_init(). Read the fields only
 * through the accessors.
 */
struct fa_buddy {
	uint64_t base;          /**< First managed address. */
	uint64_t size;          /**< Managed bytes (a multiple of chunk_size). */
	uint64_t chunk_size;    /**< Smallest block, bytes (a power of two). */
	uint64_t nchunks;       /**< size / chunk_size. */
	uint64_t avail;         /**< Free chunks. */
	uint64_t clear_avail;   /**< Free chunks known to be cleared. */
	uint64_t free_mask[2];  /**< Bit k set: some free block of order k (dirty, clear). */
	uint64_t nfree[FA_BUDDY_MAX_ORDER + 1][2]; /**< Free blocks per order (dirty, clear). */
	/** @cond INTERNAL */
	struct fa__buddy_order *ord; /**< Per-order bitmaps (in storage). */
	/** @endcond */
	void *storage;          /**< The caller's storage. */
	size_t storage_size;    /**< Its size in bytes. */
	unsigned int chunk_shift; /**< log2(chunk_size). */
	unsigned int max_order; /**< Largest order, log2(nchunks). */
};

/**
 * One block of a non-contiguous allocation (see fa_buddy_alloc_blocks()).
 */
struct fa_buddy_block {
	uint64_t addr;  /**< Start address. */
	uint64_t size;  /**< Size in bytes (a power of two). */
	bool cleared;   /**< The block was cleared memory. */
};

/**
 * A full allocation request. Initialise with fa_buddy_req_init(), then set
 * the fields you need.
 */
struct fa_buddy_req {
	/** Bytes: a power of two ≥ chunk, or any chunk multiple (#FA_BUDDY_CONTIGUOUS, blocks). */
	uint64_t size;
	/** Start alignment (power of two; 0 = natural: the size, the chunk when contiguous). */
	uint64_t align;
	/** Lowest allowed address (0 = the base). */
	uint64_t start;
	/** End of the allowed range, exclusive; 0 = the end of the space. `start + size == end`: exact. */
	uint64_t end;
	/** fa_buddy_alloc_blocks(): smallest block (power of two ≥ chunk; 0 = chunk). */
	uint64_t min_block;
	unsigned int flags; /**< OR of #FA_BUDDY_TOPDOWN, #FA_BUDDY_CONTIGUOUS, #FA_BUDDY_CLEAR. */
};

/** @cond INTERNAL */
static inline bool fa__buddy_bt(const uint64_t *m, uint64_t i)
{
	return (m[i >> 6] >> (i & 63)) & 1;
}

static inline void fa__buddy_bset(uint64_t *m, uint64_t i)
{
	m[i >> 6] |= FA_BIT64(i & 63);
}

/* Leaf word w of a strided bitmap (dirty, clear and split words sit side by side). */
static inline uint64_t *fa__buddy_leaf(uint64_t *m, const struct fa__buddy_order *o, uint64_t w)
{
	(void)o;
	return m + w * FA__BUDDY_STRIDE;
}

/* Word w of level l of free bitmap st of order o. */
static inline uint64_t *fa__buddy_lw(const struct fa__buddy_order *o, int st, unsigned int l,
				     uint64_t w)
{
	return l ? o->lv[st][l] + w : o->lv[st][0] + w * FA__BUDDY_STRIDE;
}

/* Test / set / clear bit i of a leaf bitmap of order o. */
static inline bool fa__buddy_lbt(const uint64_t *m, const struct fa__buddy_order *o, uint64_t i)
{
	(void)o;
	return (m[(i >> 6) * FA__BUDDY_STRIDE] >> (i & 63)) & 1;
}

static inline void fa__buddy_lset(uint64_t *m, const struct fa__buddy_order *o, uint64_t i)
{
	(void)o;
	m[(i >> 6) * FA__BUDDY_STRIDE] |= FA_BIT64(i & 63);
}

static inline void fa__buddy_lclr(uint64_t *m, const struct fa__buddy_order *o, uint64_t i)
{
	(void)o;
	m[(i >> 6) * FA__BUDDY_STRIDE] &= ~FA_BIT64(i & 63);
}

/* Population count without libgcc's __popcountdi2 (kernels do not link it). */
static inline uint64_t fa__buddy_popcount(uint64_t x)
{
	x = x - ((x >> 1) & 0x5555555555555555ull);
	x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
	x = x + (x >> 8);
	x = x + (x >> 16);
	x = x + (x >> 32);
	return x & 0x7f;
}

/* Words needed for n bits. */
static inline uint64_t fa__buddy_words(uint64_t n)
{
	return (n >> 6) + ((n & 63) != 0);
}

/* Words of a summarised bitmap of nb >= 1 bits, all levels; *nlv gets the level count. */
static inline uint64_t fa__buddy_hwords(uint64_t nb, unsigned int *nlv)
{
	uint64_t w = fa__buddy_words(nb), total = 0;
	unsigned int l = 0;

	for (;;) {
		total += w;
		l++;
		if (w == 1)
			break;
		w = fa__buddy_words(w);
	}
	*nlv = l;
	return total;
}

/* Branch hints for the direct paths (the error and fallback branches are cold). */
#define FA__BUDDY_LIKELY(x) __builtin_expect(!!(x), 1)
#define FA__BUDDY_UNLIKELY(x) __builtin_expect(!!(x), 0)
/* The helpers of the direct paths: inlined so the hot path is one frame. */
#define FA__BUDDY_HOT static inline __attribute__((__always_inline__))
/* The general paths behind them: out of line, so the direct paths stay small. */
#define FA__BUDDY_COLD static __attribute__((__noinline__, __unused__))
/*
 * The direct paths themselves, behind fa_buddy_alloc() and
 * fa_buddy_free_flags(). In userspace they inline into the caller (one
 * frame, no call). In the kernel they stay out of line: a caller's frame
 * does not absorb their locals at every call site (KASAN's redzones grow
 * each one, against the kernel's 2 KiB frame warning), for a call and a
 * return per operation.
 */
#ifdef __KERNEL__
#define FA__BUDDY_ENTRY FA__BUDDY_COLD
#else
#define FA__BUDDY_ENTRY FA__BUDDY_HOT
#endif
/* A switch case that continues into the next one (the kernel's fallthrough). */
#if defined(__has_attribute)
#if __has_attribute(__fallthrough__)
#define FA__BUDDY_FALLTHROUGH __attribute__((__fallthrough__))
#endif
#endif
#ifndef FA__BUDDY_FALLTHROUGH
#define FA__BUDDY_FALLTHROUGH do { } while (0)
#endif

/*
 * Set bit i in free bitmap st of order k. The summaries only change on a
 * transition: a level is written only when the word below it was empty, and
 * the order mask only when the top word was (the order had no free block of
 * that state).
 */
FA__BUDDY_HOT void fa__buddy_hset(struct fa_buddy *b, unsigned int k, int st, uint64_t i)
{
	const struct fa__buddy_order *o = &b->ord[k];
	uint64_t *const *lp = o->lv[st];
	uint64_t *w = lp[0] + (i >> 6) * FA__BUDDY_STRIDE, old = *w;
	unsigned int nlv, l;

	*w = old | FA_BIT64(i & 63);
	if (FA__BUDDY_LIKELY(old))
		return;
	nlv = o->nlv;
	/* unrolled: one level is a load, a set, a store and a test */
#pragma GCC unroll 10
	for (l = 1; l < FA__BUDDY_LEVELS; l++) {
		if (l >= nlv)
			break;
		i >>= 6;
		w = lp[l] + (i >> 6);
		old = *w;
		*w = old | FA_BIT64(i & 63);
		if (old)
			return;
	}
	b->free_mask[st] |= FA_BIT64(k);
}

/* Clear bit i in free bitmap st of order k (transitions to empty only, as above). */
FA__BUDDY_HOT void fa__buddy_hclr(struct fa_buddy *b, unsigned int k, int st, uint64_t i)
{
	const struct fa__buddy_order *o = &b->ord[k];
	uint64_t *const *lp = o->lv[st];
	uint64_t *w = lp[0] + (i >> 6) * FA__BUDDY_STRIDE, v = *w & ~FA_BIT64(i & 63);
	unsigned int nlv, l;

	*w = v;
	if (FA__BUDDY_LIKELY(v))
		return;
	nlv = o->nlv;
#pragma GCC unroll 10
	for (l = 1; l < FA__BUDDY_LEVELS; l++) {
		if (l >= nlv)
			break;
		i >>= 6;
		w = lp[l] + (i >> 6);
		v = *w & ~FA_BIT64(i & 63);
		*w = v;
		if (v)
			return;
	}
	b->free_mask[st] &= ~FA_BIT64(k);
}

/* Descend from bit i at level l to a leaf, lowest (or highest) path. */
static inline uint64_t fa__buddy_hdown(const struct fa__buddy_order *o, int st, unsigned int l,
				       uint64_t i, bool high)
{
	uint64_t w;

	/* summary levels are dense arrays, the leaves strided: no select per level */
	while (l-- > 1) {
		w = o->lv[st][l][i];
		i = (i << 6) | (high ? (uint64_t)(63 - __builtin_clzll(w)) : (uint64_t)__builtin_ctzll(w));
	}
	if (l == 0) {
		w = o->lv[st][0][i * FA__BUDDY_STRIDE];
		i = (i << 6) | (high ? (uint64_t)(63 - __builtin_clzll(w)) : (uint64_t)__builtin_ctzll(w));
	}
	return i;
}

/* One step down: the lowest set bit of word i of a summary level. */
#define FA__BUDDY_DOWN(lvl, i) (((i) << 6) | (unsigned int)__builtin_ctzll((lvl)[i]))

/*
 * The cases of a switch on a bitmap's level count (1..10) that run @p STEP(l)
 * for every summary level l from the top one down to 1, entering at the top
 * and falling through: an unrolled walk with no loop control. STEP is the
 * name of a function-like macro of one argument, the level.
 */
#define FA__BUDDY_LEVELS_DOWN(STEP)                                      \
	case 10: STEP(9); FA__BUDDY_FALLTHROUGH;                         \
	case 9: STEP(8); FA__BUDDY_FALLTHROUGH;                          \
	case 8: STEP(7); FA__BUDDY_FALLTHROUGH;                          \
	case 7: STEP(6); FA__BUDDY_FALLTHROUGH;                          \
	case 6: STEP(5); FA__BUDDY_FALLTHROUGH;                          \
	case 5: STEP(4); FA__BUDDY_FALLTHROUGH;                          \
	case 4: STEP(3); FA__BUDDY_FALLTHROUGH;                          \
	case 3: STEP(2); FA__BUDDY_FALLTHROUGH;                          \
	case 2: STEP(1); FA__BUDDY_FALLTHROUGH

/* The steps of the three unrolled walks (lv and i are the walk's locals). */
#define FA__BUDDY_DESCEND(l) (i = FA__BUDDY_DOWN(lv[l], i))
#define FA__BUDDY_SET_ONLY(l) (FA__BUDDY_PW(lv, l, i) = FA__BUDDY_PB(l, i))
#define FA__BUDDY_CLEAR_ALL(l) (FA__BUDDY_PW(lv, l, i) = 0)

/*
 * Lowest set bit of a non-empty free bitmap: straight down from the top
 * word, unrolled (the switch enters at the top level, each case falls through
 * to the level below).
 */
FA__BUDDY_HOT uint64_t fa__buddy_hfirst(const struct fa__buddy_order *o, int st)
{
	uint64_t *const *lv = o->lv[st];
	uint64_t i = 0;

	switch (o->nlv) {
	FA__BUDDY_LEVELS_DOWN(FA__BUDDY_DESCEND);
	default:
		break;
	}
	return (i << 6) | (unsigned int)__builtin_ctzll(lv[0][i * FA__BUDDY_STRIDE]);
}

/* Word of level l (>= 1) on the path of leaf bit i, and the bit of the level below in it. */
#define FA__BUDDY_PW(lv, l, i) ((lv)[l][(i) >> (6 * (l) + 6)])
#define FA__BUDDY_PB(l, i) FA_BIT64(((i) >> (6 * (l))) & 63)

/*
 * Set bit i in free bitmap st of order k, which has no free block of that
 * state: every word of its path is empty, so each is written with its one
 * bit, without a read or a test (the order mask is the caller's).
 */
FA__BUDDY_HOT void fa__buddy_hset_empty(struct fa_buddy *b, unsigned int k, int st, uint64_t i)
{
	const struct fa__buddy_order *o = &b->ord[k];
	uint64_t *const *lv = o->lv[st];

	lv[0][(i >> 6) * FA__BUDDY_STRIDE] = FA_BIT64(i & 63);
	switch (o->nlv) {
	FA__BUDDY_LEVELS_DOWN(FA__BUDDY_SET_ONLY);
	default:
		break;
	}
}

/*
 * Clear bit i, the only set bit of free bitmap st of order k: every word of
 * its path becomes empty, so each is written with 0 without a read or a
 * test (the order mask is the caller's).
 */
FA__BUDDY_HOT void fa__buddy_hclr_last(struct fa_buddy *b, unsigned int k, int st, uint64_t i)
{
	const struct fa__buddy_order *o = &b->ord[k];
	uint64_t *const *lv = o->lv[st];

	lv[0][(i >> 6) * FA__BUDDY_STRIDE] = 0;
	switch (o->nlv) {
	FA__BUDDY_LEVELS_DOWN(FA__BUDDY_CLEAR_ALL);
	default:
		break;
	}
}

/* First set bit at or after p (p may be >= n), or NONE. */
static inline uint64_t fa__buddy_hnext(const struct fa__buddy_order *o, int st, uint64_t n,
				       uint64_t p)
{
	unsigned int l = 0;
	uint64_t w;

	if (p >= n)
		return FA__BUDDY_NONE;
	w = o->lv[st][0][(p >> 6) * FA__BUDDY_STRIDE] & (FA_U64_MAX << (p & 63));
	while (!w) {
		if (++l == o->nlv)
			return FA__BUDDY_NONE;
		p = (p >> 6) + 1;
		n = fa__buddy_words(n);
		if (p >= n)
			return FA__BUDDY_NONE;
		w = o->lv[st][l][p >> 6] & (FA_U64_MAX << (p & 63));
	}
	return fa__buddy_hdown(o, st, l, (p & ~(uint64_t)63) | (uint64_t)__builtin_ctzll(w), false);
}

/* Last set bit at or before p (p < number of bits), or NONE. */
static inline uint64_t fa__buddy_hprev(const struct fa__buddy_order *o, int st, uint64_t p)
{
	unsigned int l = 0;
	uint64_t w;

	w = o->lv[st][0][(p >> 6) * FA__BUDDY_STRIDE] & (FA_U64_MAX >> (63 - (p & 63)));
	while (!w) {
		if ((p >> 6) == 0 || ++l == o->nlv)
			return FA__BUDDY_NONE;
		p = (p >> 6) - 1;
		w = o->lv[st][l][p >> 6] & (FA_U64_MAX >> (63 - (p & 63)));
	}
	return fa__buddy_hdown(o, st, l, (p & ~(uint64_t)63) | (uint64_t)(63 - __builtin_clzll(w)), true);
}

/* Free state of node (k, i): 0 not free, 1 dirty, 2 clear. i < nbits. */
static inline int fa__buddy_fstate(const struct fa_buddy *b, unsigned int k, uint64_t i)
{
	const struct fa__buddy_order *o = &b->ord[k];

	const uint64_t *w = fa__buddy_leaf(o->lv[FA__BUDDY_DIRTY][0], o, i >> 6);
	uint64_t bit = FA_BIT64(i & 63);

	if (w[0] & bit)
		return 1;
	if (w[1] & bit)
		return 2;
	return 0;
}

/* Whether node (k, i) (i < nbits) is split. */
static inline bool fa__buddy_is_split(const struct fa_buddy *b, unsigned int k, uint64_t i)
{
	return k > 0 && fa__buddy_lbt(b->ord[k].split, &b->ord[k], i);
}

/* Whether the parent of node (k, i) is split; roots have a virtual split parent. */
FA__BUDDY_HOT bool fa__buddy_parent_split(const struct fa_buddy *b, unsigned int k, uint64_t i)
{
	if (k >= b->max_order || (i >> 1) >= b->ord[k + 1].nbits)
		return true;
	return fa__buddy_lbt(b->ord[k + 1].split, &b->ord[k + 1], i >> 1);
}

/*
 * Link / unlink free block (k, i) of state st: bitmaps, counters and
 * clear_avail, but not avail, which the multi-step paths below adjust once
 * by the size they free or allocate.
 */
FA__BUDDY_HOT void fa__buddy_link(struct fa_buddy *b, unsigned int k, uint64_t i, int st)
{
	fa__buddy_hset(b, k, st, i);
	b->nfree[k][st]++;
	if (st == FA__BUDDY_CLEAN)
		b->clear_avail += FA_BIT64(k);
}

FA__BUDDY_HOT void fa__buddy_unlink(struct fa_buddy *b, unsigned int k, uint64_t i, int st)
{
	fa__buddy_hclr(b, k, st, i);
	b->nfree[k][st]--;
	if (st == FA__BUDDY_CLEAN)
		b->clear_avail -= FA_BIT64(k);
}

/* Make (k, i) a free block of state st (no merging). */
FA__BUDDY_HOT void fa__buddy_put(struct fa_buddy *b, unsigned int k, uint64_t i, int st)
{
	fa__buddy_link(b, k, i, st);
	b->avail += FA_BIT64(k);
}

/* Remove free block (k, i) of state st. */
FA__BUDDY_HOT void fa__buddy_take(struct fa_buddy *b, unsigned int k, uint64_t i, int st)
{
	fa__buddy_unlink(b, k, i, st);
	b->avail -= FA_BIT64(k);
}

/*
 * One merge step's test: if node (k, bi) of order @p o is free, unlink it,
 * fold its state into *st (dirty wins) and return true. No bound check: a
 * buddy index past the end of its order (i even, i + 1 == nbits, so in i's
 * own leaf word) and the missing buddy of the top root (index 1 of a
 * one-bit order) read as not free, because no bit beyond the end of a
 * bitmap is ever set.
 */
FA__BUDDY_HOT bool fa__buddy_absorb(struct fa_buddy *b, const struct fa__buddy_order *o,
				    unsigned int k, uint64_t bi, int *st)
{
	uint64_t bit = FA_BIT64(bi & 63);
	const uint64_t *w = o->lv[FA__BUDDY_DIRTY][0] + (bi >> 6) * FA__BUDDY_STRIDE;
	int bs;

	if (w[0] & bit)
		bs = FA__BUDDY_DIRTY;
	else if (w[1] & bit)
		bs = FA__BUDDY_CLEAN;
	else
		return false;
	fa__buddy_unlink(b, k, bi, bs);
	*st &= bs;	/* FA__BUDDY_DIRTY is 0 */
	return true;
}

/*
 * Link (k, i) as free, merging with free buddies (dirty wins); avail is the
 * caller's. No bound checks in the loop (see fa__buddy_absorb()).
 */
FA__BUDDY_HOT void fa__buddy_merge(struct fa_buddy *b, unsigned int k, uint64_t i, int st)
{
	while (fa__buddy_absorb(b, &b->ord[k], k, i ^ 1, &st)) {
		i >>= 1;
		k++;
		fa__buddy_lclr(b->ord[k].split, &b->ord[k], i);
	}
	fa__buddy_link(b, k, i, st);
}

/* Free the allocated block (k, i), merging with free buddies. */
FA__BUDDY_HOT void fa__buddy_release(struct fa_buddy *b, unsigned int k, uint64_t i, int st)
{
	fa__buddy_merge(b, k, i, st);
	b->avail += FA_BIT64(k);
}

/* Split the unlinked block (j, i) of state st down to the order-k block at chunk pos. */
FA__BUDDY_HOT void fa__buddy_split_down(struct fa_buddy *b, unsigned int j, uint64_t i, int st,
					unsigned int k, uint64_t pos)
{
	while (j > k) {
		fa__buddy_lset(b->ord[j].split, &b->ord[j], i);
		j--;
		i = pos >> j;
		fa__buddy_link(b, j, i ^ 1, st);
	}
}

/* Take free block (j, i) of state st and split it down to the order-k block at chunk pos. */
FA__BUDDY_HOT void fa__buddy_take_split(struct fa_buddy *b, unsigned int j, uint64_t i, int st,
					unsigned int k, uint64_t pos)
{
	fa__buddy_unlink(b, j, i, st);
	fa__buddy_split_down(b, j, i, st, k, pos);
	b->avail -= FA_BIT64(k);
}

/* Mark split every node from order j down that has chunk x strictly inside. */
static inline void fa__buddy_split_path(struct fa_buddy *b, unsigned int j, uint64_t x)
{
	while (j > 0 && (x & (FA_BIT64(j) - 1)) != 0) {
		fa__buddy_lset(b->ord[j].split, &b->ord[j], x >> j);
		j--;
	}
}

/* Order of the largest aligned block starting at chunk a that fits in [a, e) (a < e). */
static inline unsigned int fa__buddy_piece(uint64_t a, uint64_t e)
{
	/* min(ctz(a), log2(e - a)): the top bit of e - a (a < e) bounds a's ctz */
	return (unsigned int)__builtin_ctzll(a | FA_BIT64(63 - __builtin_clzll(e - a)));
}

/* Put [a, e) (free, inside a taken block) back as canonical free blocks of state st. */
static inline void fa__buddy_put_range(struct fa_buddy *b, uint64_t a, uint64_t e, int st)
{
	while (a < e) {
		unsigned int k = fa__buddy_piece(a, e);

		fa__buddy_put(b, k, a >> k, st);
		a += FA_BIT64(k);
	}
}

/* Allocate [a, e) out of the free block (j, i) of state st that contains it. */
static inline void fa__buddy_carve(struct fa_buddy *b, unsigned int j, uint64_t i, int st,
				   uint64_t a, uint64_t e)
{
	uint64_t bs = i << j, be = bs + FA_BIT64(j);
	unsigned int k = fa__buddy_piece(a, e);

	if (a + FA_BIT64(k) == e) {		/* one aligned block: split along one path */
		fa__buddy_take_split(b, j, i, st, k, a);
		return;
	}
	fa__buddy_take(b, j, i, st);
	if (a > bs)
		fa__buddy_split_path(b, j, a);
	if (e < be)
		fa__buddy_split_path(b, j, e);
	fa__buddy_put_range(b, bs, a, st);
	fa__buddy_put_range(b, e, be, st);
}

/*
 * The free block containing chunk pos: walks up from order 0 until a free
 * node (found), a split node or the top (not free). Returns its order, or -1.
 */
static inline int fa__buddy_container(const struct fa_buddy *b, uint64_t pos, int *st)
{
	unsigned int k;

	for (k = 0; k <= b->max_order; k++) {
		uint64_t i = pos >> k;
		int f;

		if (i >= b->ord[k].nbits)
			return -1;
		f = fa__buddy_fstate(b, k, i);
		if (f) {
			*st = f - 1;
			return (int)k;
		}
		if (fa__buddy_is_split(b, k, i))
			return -1;
	}
	return -1;
}

/* Whether the whole chunk range [a, e) is free (any clear state). */
static inline bool fa__buddy_range_free(const struct fa_buddy *b, uint64_t a, uint64_t e)
{
	while (a < e) {
		int st;
		int k = fa__buddy_container(b, a, &st);

		if (k < 0)
			return false;
		a = ((a >> k) + 1) << k;
	}
	return true;
}

/* Allocate the free chunk range [a, e); *clear = all of it was clear. */
static inline void fa__buddy_carve_range(struct fa_buddy *b, uint64_t a, uint64_t e, bool *clear)
{
	bool all = true;

	while (a < e) {
		int st = 0;
		int k = fa__buddy_container(b, a, &st);
		uint64_t i, ce;

		FA_ASSERT(k >= 0);
		i = a >> k;
		ce = (i + 1) << k;
		all = all && st == FA__BUDDY_CLEAN;
		fa__buddy_carve(b, (unsigned int)k, i, st, a, fa_min_u64(ce, e));
		a = ce;
	}
	*clear = all;
}

/*
 * Check that [a, e) is exactly a set of allocated blocks (its canonical
 * decomposition). 0, -FA_EALREADY (part of it is free), -FA_EINVAL (not the
 * blocks of an allocation).
 */
static inline int fa__buddy_check_alloc(const struct fa_buddy *b, uint64_t a, uint64_t e)
{
	uint64_t len = e - a;

	/* One aligned block (every free of a power-of-two allocation): its three
	 * state words share a line; an allocated block is in none of them. */
	if (fa_is_pow2(len) && !(a & (len - 1))) {
		unsigned int k = (unsigned int)__builtin_ctzll(len);
		uint64_t i = a >> k;
		const uint64_t *w = fa__buddy_leaf(b->ord[k].lv[FA__BUDDY_DIRTY][0], &b->ord[k], i >> 6);

		/* order 0 has no split bits: its third word is always 0 */
		if (!((w[0] | w[1] | w[2]) & FA_BIT64(i & 63)) && fa__buddy_parent_split(b, k, i))
			return 0;
	}
	while (a < e) {
		unsigned int k = fa__buddy_piece(a, e);
		uint64_t i = a >> k, p = i >> 1;
		const struct fa__buddy_order *o = &b->ord[k];
		const uint64_t *w = o->lv[FA__BUDDY_DIRTY][0] + (i >> 6) * FA__BUDDY_STRIDE;
		int st;

		/* free or split: one test of the node's line, as above; then the
		 * parent (order k + 1, o[1]) must be split or beyond the space */
		if (((w[0] | w[1] | w[2]) & FA_BIT64(i & 63)) ||
		    (k < b->max_order && p < o[1].nbits && !fa__buddy_lbt(o[1].split, &o[1], p))) {
			if (fa__buddy_container(b, a, &st) >= 0)
				return -FA_EALREADY;
			return -FA_EINVAL;
		}
		a += FA_BIT64(k);
	}
	return 0;
}

/* Order of the largest aligned block ending at chunk e that fits in [a, e) (a < e). */
static inline unsigned int fa__buddy_piece_end(uint64_t a, uint64_t e)
{
	/* min(ctz(e), log2(e - a)), as fa__buddy_piece() */
	return (unsigned int)__builtin_ctzll(e | FA_BIT64(63 - __builtin_clzll(e - a)));
}

/*
 * Free the allocated blocks of [a, e) (already checked), right to left. The
 * block being freed is carried, not linked, while its buddy is free (merge)
 * or is the next block of the range (merge without linking and unlinking
 * that one): a range carved from the start of a block, the usual contiguous
 * allocation, collapses into one free block with no intermediate link. The
 * result is the state the blocks' releases in any order give.
 */
static inline void fa__buddy_release_range(struct fa_buddy *b, uint64_t a, uint64_t e, int st)
{
	uint64_t len = e - a;

	if (fa_is_pow2(len) && !(a & (len - 1))) {	/* one block */
		unsigned int k = (unsigned int)__builtin_ctzll(len);

		fa__buddy_release(b, k, a >> k, st);
		return;
	}
	b->avail += len;
	while (a < e) {
		unsigned int k = fa__buddy_piece_end(a, e);
		uint64_t i = (e >> k) - 1;
		int cs = st;
		const struct fa__buddy_order *o = &b->ord[k];

		e -= FA_BIT64(k);
		for (;;) {
			uint64_t bi = i ^ 1;

			if (bi < i && e - a >= FA_BIT64(k)) {
				/* the buddy is the next block of the range (checked:
				 * allocated): e is the start of node (k, i), i odd,
				 * so the next piece ends at e with order k exactly
				 * when it fits */
				e -= FA_BIT64(k);
			} else if (!fa__buddy_absorb(b, o, k, bi, &cs)) {
				break;
			}
			i >>= 1;
			k++;
			o++;
			fa__buddy_lclr(o->split, o, i);
		}
		fa__buddy_link(b, k, i, cs);
	}
}
/** @endcond */

/**
 * Bytes of storage fa_buddy_init() needs for a space of @p size bytes in
 * chunks of @p chunk_size. A pure function: call it before allocating the
 * storage (at probe / init time).
 * @stage any
 * @locking none
 * @param size Bytes to manage (rounded down to a multiple of @p chunk_size).
 * @param chunk_size Smallest block: a power of two ≥ #FA_BUDDY_MIN_CHUNK.
 * @return Bytes of metadata (a multiple of 8), or 0 for invalid input
 *         (bad chunk size, @p size smaller than one chunk).
 */
static inline uint64_t fa_buddy_storage_size(uint64_t size, uint64_t chunk_size)
{
	uint64_t n, words = 0;
	unsigned int k, m, nlv;

	if (!fa_is_pow2(chunk_size) || chunk_size < FA_BUDDY_MIN_CHUNK || size < chunk_size)
		return 0;
	n = size >> fa_ilog2_u64(chunk_size);
	m = (unsigned int)fa_ilog2_u64(n);
	for (k = 0; k <= m; k++) {
		uint64_t nb = n >> k;

		/* two free bitmaps with summaries, plus the split leaf words */
		words += 2 * fa__buddy_hwords(nb, &nlv) + fa__buddy_words(nb);
	}
	return words * 8 + (uint64_t)(m + 1) * sizeof(struct fa__buddy_order);
}

/** @cond INTERNAL */
/* A request converted to chunk units relative to base. */
struct fa__buddy_q {
	uint64_t len;       /* chunks */
	uint64_t rs, re;    /* allowed chunk range [rs, re) */
	unsigned int a;     /* start alignment order (chunks) */
	unsigned int mo;    /* min block order (blocks) */
	unsigned int flags;
	bool exact;
};

/* A free block found by a search and where the allocation goes inside it. */
struct fa__buddy_hit {
	uint64_t i;         /* block index at order j */
	uint64_t pos;       /* first chunk of the allocation */
	unsigned int j;     /* block order */
	int st;             /* its clear state */
};

/* Align down / up to 2^a. */
static inline uint64_t fa__buddy_adown(uint64_t x, unsigned int a)
{
	return x & ~(FA_BIT64(a) - 1);
}

static inline uint64_t fa__buddy_aup(uint64_t x, unsigned int a)
{
	return (x + FA_BIT64(a) - 1) & ~(FA_BIT64(a) - 1);
}

/* Where a len-chunk, 2^a-aligned allocation fits in free block (j, i) ∩ [rs, re). */
static inline bool fa__buddy_fit(uint64_t i, unsigned int j, uint64_t len, unsigned int a,
				 uint64_t rs, uint64_t re, bool top, uint64_t *pos)
{
	uint64_t lo = fa_max_u64(i << j, rs), hi = fa_min_u64((i + 1) << j, re), p;

	if (hi < lo + len)
		return false;
	if (top) {
		p = fa__buddy_adown(hi - len, a);
		if (p < lo)
			return false;
	} else {
		p = fa__buddy_aup(lo, a);
		if (p + len > hi)
			return false;
	}
	*pos = p;
	return true;
}

/*
 * Search the free blocks of order j and state st for a place for len chunks
 * aligned to 2^a inside [rs, re): lowest (or highest) first, at most
 * FA_BUDDY_PROBES candidates. Blocks smaller than the alignment fit only at
 * aligned indices, so the search jumps from one aligned index to the next.
 */
static inline bool fa__buddy_find_order(const struct fa_buddy *b, unsigned int j, int st,
					const struct fa__buddy_q *q, bool top,
					struct fa__buddy_hit *h)
{
	const struct fa__buddy_order *o = &b->ord[j];
	uint64_t lo = q->rs >> j, hi = (q->re - 1) >> j, p, i;
	unsigned int stride = j < q->a ? q->a - j : 0, n;

	if (hi >= o->nbits)
		hi = o->nbits - 1;
	if (lo > hi)
		return false;
	p = top ? fa__buddy_adown(hi, stride) : fa__buddy_aup(lo, stride);
	for (n = 0; n < FA_BUDDY_PROBES; n++) {
		if (top) {
			if (p < lo)
				return false;
			i = fa__buddy_hprev(o, st, p);
			if (i == FA__BUDDY_NONE || i < lo)
				return false;
		} else {
			i = fa__buddy_hnext(o, st, hi + 1, p);
			if (i == FA__BUDDY_NONE || i > hi)
				return false;
		}
		if (fa__buddy_fit(i, j, q->len, q->a, q->rs, q->re, top, &h->pos)) {
			h->i = i;
			h->j = j;
			h->st = st;
			return true;
		}
		if (top) {
			if (i == 0)
				return false;
			p = fa__buddy_adown(i - 1, stride);
		} else {
			p = fa__buddy_aup(i + 1, stride);
		}
	}
	return false;
}

/*
 * Find a free block of order >= jmin and state st for request q. Bottom-up:
 * the smallest order that has a place (least splitting), lowest address in
 * it. Top-down: the highest place over all orders.
 */
static inline bool fa__buddy_find(const struct fa_buddy *b, unsigned int jmin, int st,
				  const struct fa__buddy_q *q, struct fa__buddy_hit *h)
{
	uint64_t m = jmin > b->max_order ? 0 : b->free_mask[st] & (FA_U64_MAX << jmin);
	bool top = (q->flags & FA_BUDDY_TOPDOWN) != 0, found = false;
	struct fa__buddy_hit t;

	while (m) {
		unsigned int j = (unsigned int)__builtin_ctzll(m);

		m &= m - 1;
		if (!fa__buddy_find_order(b, j, st, q, top, &t))
			continue;
		if (!top) {
			*h = t;
			return true;
		}
		if (!found || t.pos > h->pos)
			*h = t;
		found = true;
	}
	return found;
}

/* Free prefix (in chunks) of node (o, i). */
static inline uint64_t fa__buddy_free_prefix(const struct fa_buddy *b, unsigned int o, uint64_t i)
{
	uint64_t len = 0;

	for (;;) {
		if (i < b->ord[o].nbits) {
			if (fa__buddy_fstate(b, o, i))
				return len + FA_BIT64(o);
			if (!fa__buddy_is_split(b, o, i))
				return len;
		} else if ((i << o) >= b->nchunks) {
			return len;
		}
		if (o == 0)
			return len;
		o--;
		i <<= 1;
		if (i < b->ord[o].nbits && fa__buddy_fstate(b, o, i)) {
			len += FA_BIT64(o);
			i |= 1;
		}
	}
}

/* Free suffix (in chunks) of node (o, i). */
static inline uint64_t fa__buddy_free_suffix(const struct fa_buddy *b, unsigned int o, uint64_t i)
{
	uint64_t len = 0;

	for (;;) {
		if (i < b->ord[o].nbits) {
			if (fa__buddy_fstate(b, o, i))
				return len + FA_BIT64(o);
			if (!fa__buddy_is_split(b, o, i))
				return len;
		} else {
			return len;	/* a node that reaches past the space ends allocated */
		}
		if (o == 0)
			return len;
		o--;
		i = (i << 1) | 1;
		if (fa__buddy_fstate(b, o, i)) {
			len += FA_BIT64(o);
			i ^= 1;
		}
	}
}

/*
 * Contiguous fallback: the free run around a free block of order p, for the
 * first FA_BUDDY_PROBES such blocks of each state (lowest or highest first).
 */
static inline bool fa__buddy_find_run(const struct fa_buddy *b, unsigned int p, int st,
				      const struct fa__buddy_q *q, uint64_t *pos)
{
	const struct fa__buddy_order *o = &b->ord[p];
	bool top = (q->flags & FA_BUDDY_TOPDOWN) != 0;
	uint64_t c = top ? o->nbits - 1 : 0, i;
	unsigned int n;

	for (n = 0; n < FA_BUDDY_PROBES; n++) {
		uint64_t lo, hi;

		i = top ? fa__buddy_hprev(o, st, c) : fa__buddy_hnext(o, st, o->nbits, c);
		if (i == FA__BUDDY_NONE)
			return false;
		lo = (i << p) - (i ? fa__buddy_free_suffix(b, p, i - 1) : 0);
		hi = ((i + 1) << p) + fa__buddy_free_prefix(b, p, i + 1);
		lo = fa_max_u64(lo, q->rs);
		hi = fa_min_u64(hi, q->re);
		if (hi >= lo + q->len) {
			*pos = top ? fa__buddy_adown(hi - q->len, q->a) : fa__buddy_aup(lo, q->a);
			if (*pos >= lo && *pos + q->len <= hi)
				return true;
		}
		if (top) {
			if (i == 0)
				return false;
			c = i - 1;
		} else {
			c = i + 1;
		}
	}
	return false;
}

/*
 * The request drivers make most: a power of two anywhere in the space, no
 * alignment beyond the natural one. Fills q exactly as the general path
 * below would and returns true, or returns false (then the general path
 * validates). init guaranteed base + size does not overflow.
 */
static inline bool fa__buddy_prep_simple(const struct fa_buddy *b, const struct fa_buddy_req *r,
					 struct fa__buddy_q *q)
{
	uint64_t len;

	if ((r->flags & ~(FA_BUDDY_CLEAR | FA_BUDDY_CONTIGUOUS)) || r->align || r->end ||
	    r->start != b->base || !fa_is_pow2(r->size) || r->size < b->chunk_size ||
	    r->size > b->size)
		return false;
	len = r->size >> b->chunk_shift;
	q->len = len;
	q->rs = 0;
	q->re = b->nchunks;
	q->exact = len == b->nchunks;
	q->flags = r->flags;
	q->mo = 0;
	q->a = (r->flags & FA_BUDDY_CONTIGUOUS) ? 0 : (unsigned int)fa_ilog2_u64(len);
	return true;
}

/* Validate a request and convert it to chunk units. Changes nothing. */
static inline int fa__buddy_prep(const struct fa_buddy *b, const struct fa_buddy_req *r,
				 bool blocks, struct fa__buddy_q *q)
{
	uint64_t cm = b->chunk_size - 1, end;
	unsigned int sh = b->chunk_shift;

	if (!blocks && fa__buddy_prep_simple(b, r, q))
		return 0;
	if (r->flags & ~FA__BUDDY_FLAGS)
		return -FA_EINVAL;
	if (r->size == 0 || (r->size & cm))
		return -FA_EINVAL;
	if (r->align && !fa_is_pow2(r->align))
		return -FA_EINVAL;
	if (!blocks && !(r->flags & FA_BUDDY_CONTIGUOUS) && !fa_is_pow2(r->size))
		return -FA_EINVAL;
	if (r->start < b->base)
		return -FA_ERANGE;
	if ((r->start - b->base) & cm)
		return -FA_EINVAL;
	if (r->size - 1 > FA_U64_MAX - r->start)
		return -FA_EOVERFLOW;
	if (r->size > b->size)
		return -FA_ERANGE;
	if ((r->start - b->base) >= b->size)
		return -FA_ERANGE;
	q->rs = (r->start - b->base) >> sh;
	if (r->end) {
		if (r->end <= r->start)
			return -FA_EINVAL;
		end = r->end - b->base;
		if (end & cm)
			return -FA_EINVAL;
		if (end > b->size)
			return -FA_ERANGE;
		q->re = end >> sh;
	} else {
		q->re = b->nchunks;
	}
	q->len = r->size >> sh;
	if (q->re - q->rs < q->len)
		return -FA_EINVAL;
	q->exact = q->re - q->rs == q->len;
	q->flags = r->flags;
	q->mo = 0;
	if (blocks) {
		uint64_t mb = r->min_block ? r->min_block : b->chunk_size;

		if (!fa_is_pow2(mb) || mb < b->chunk_size || mb > r->size || (r->size & (mb - 1)))
			return -FA_EINVAL;
		q->mo = (unsigned int)fa_ilog2_u64(mb >> sh);
	}
	q->a = r->align > b->chunk_size ? (unsigned int)fa_ilog2_u64(r->align >> sh) : 0;
	if (!blocks && !(r->flags & FA_BUDDY_CONTIGUOUS))
		q->a = fa_max_u64(q->a, fa_ilog2_u64(q->len));
	if (q->exact && (q->rs & (FA_BIT64(q->a) - 1)))
		return -FA_EINVAL;	/* an exact range must satisfy the alignment */
	return 0;
}

/* The clear state to try first. */
static inline int fa__buddy_first_state(unsigned int flags)
{
	return (flags & FA_BUDDY_CLEAR) ? FA__BUDDY_CLEAN : FA__BUDDY_DIRTY;
}

/*
 * A power of two anywhere, lowest address first: the lowest free block of
 * the smallest order that holds it, found straight down its summary levels
 * (no range or alignment to respect). The same block the general search
 * picks. Returns false when the request is not that simple or no such
 * block exists (then the general path decides, e.g. contiguous runs).
 */
static inline bool fa__buddy_alloc_simple(struct fa_buddy *b, const struct fa__buddy_q *q,
					  uint64_t *pos, bool *clear)
{
	unsigned int k, j;
	int st, s;
	uint64_t i;

	if (q->exact || q->rs || q->re != b->nchunks || (q->flags & FA_BUDDY_TOPDOWN) ||
	    !fa_is_pow2(q->len))
		return false;
	k = (unsigned int)__builtin_ctzll(q->len);
	if (q->a > k)
		return false;
	st = fa__buddy_first_state(q->flags);
	for (s = 0; s < 2; s++, st ^= 1) {
		uint64_t m = b->free_mask[st] & (FA_U64_MAX << k);

		if (!m)
			continue;
		j = (unsigned int)__builtin_ctzll(m);
		i = fa__buddy_hfirst(&b->ord[j], st);
		fa__buddy_take_split(b, j, i, st, k, i << j);
		*pos = i << j;
		*clear = st == FA__BUDDY_CLEAN;
		return true;
	}
	return false;
}

/* Allocate one range for a validated request: exact, power of two, or contiguous. */
static inline int fa__buddy_alloc_q(struct fa_buddy *b, const struct fa__buddy_q *q,
				    uint64_t *pos, bool *clear)
{
	struct fa__buddy_hit h;
	unsigned int jmin = (unsigned int)fa_ilog2_u64(q->len);
	int st0 = fa__buddy_first_state(q->flags), s;

	h.i = h.pos = 0;
	h.j = 0;
	h.st = 0;
	if (q->len > b->avail)
		return -FA_ENOSPC;
	if (fa__buddy_alloc_simple(b, q, pos, clear))
		return 0;
	if (q->exact) {
		if (!fa__buddy_range_free(b, q->rs, q->re))
			return -FA_ENOSPC;
		fa__buddy_carve_range(b, q->rs, q->re, clear);
		*pos = q->rs;
		return 0;
	}
	if (!fa_is_pow2(q->len))
		jmin++;	/* a block that holds len */
	for (s = 0; s < 2; s++) {
		if (!fa__buddy_find(b, jmin, st0 ^ s, q, &h))
			continue;
		fa__buddy_carve(b, h.j, h.i, h.st, h.pos, h.pos + q->len);
		*pos = h.pos;
		*clear = h.st == FA__BUDDY_CLEAN;
		return 0;
	}
	if (!(q->flags & FA_BUDDY_CONTIGUOUS) || jmin == 0)
		return -FA_ENOSPC;
	/* Straddling runs around free blocks of the next order down. */
	for (s = 0; s < 2; s++) {
		uint64_t p;

		if (!fa__buddy_find_run(b, jmin - 1, st0 ^ s, q, &p) ||
		    !fa__buddy_range_free(b, p, p + q->len))
			continue;
		fa__buddy_carve_range(b, p, p + q->len, clear);
		*pos = p;
		return 0;
	}
	return -FA_ENOSPC;
}

/*
 * Unlink free block (j, i) of state st: when it was the order's last one,
 * its path is cleared without the climb's tests.
 */
FA__BUDDY_HOT void fa__buddy_unlink_first(struct fa_buddy *b, unsigned int j, uint64_t i, int st)
{
	if (--b->nfree[j][st] == 0) {
		fa__buddy_hclr_last(b, j, st, i);
		b->free_mask[st] &= ~FA_BIT64(j);
	} else {
		fa__buddy_hclr(b, j, st, i);
	}
	if (st == FA__BUDDY_CLEAN)
		b->clear_avail -= FA_BIT64(j);
}

/*
 * Split the unlinked block (j, i) of state st down its lowest path to order
 * k, where the orders k .. j - 1 have no free block of that state (j is the
 * smallest order >= k that has one): each right half is the first block of
 * its order, and the order mask gains all of them at once.
 */
FA__BUDDY_HOT void fa__buddy_split_empty(struct fa_buddy *b, unsigned int j, uint64_t i, int st,
					 unsigned int k)
{
	uint64_t span = FA_BIT64(j) - FA_BIT64(k);

	while (j > k) {
		fa__buddy_lset(b->ord[j].split, &b->ord[j], i);
		j--;
		i <<= 1;
		fa__buddy_hset_empty(b, j, st, i + 1);
		b->nfree[j][st]++;
	}
	b->free_mask[st] |= span;
	if (st == FA__BUDDY_CLEAN)
		b->clear_avail += span;
}

/*
 * Allocate the first len chunks of the unlinked block (j, i) of state st,
 * len < 2^j and not a power of two (avail is the caller's): the nodes that
 * hold the end strictly inside are split, the right halves beyond the end
 * are linked free (what fa__buddy_carve() does with split_path() and
 * put_range()). Both follow from the bits of the end alone: the split nodes
 * are e >> k, the free halves sit at the zero bits of len.
 */
FA__BUDDY_HOT void fa__buddy_split_head(struct fa_buddy *b, unsigned int j, uint64_t i, int st,
					uint64_t len)
{
	const struct fa__buddy_order *o = &b->ord[j];
	uint64_t e = (i << j) + len, z;
	unsigned int t = (unsigned int)__builtin_ctzll(len);	/* = ctz(e): i << j is aligned */

	/* split: node e >> k of every order k = j .. t + 1 holds the end inside */
	z = ~len & (FA_BIT64(j) - FA_BIT64(t + 1));
	for (; j > t; j--, o--)
		fa__buddy_lset(o->split, o, e >> j);
	/* free: the right half beyond the end at each zero bit of len above t
	 * (node (e >> k) + 1 of order k), and at t the half after the end */
	fa__buddy_link(b, t, e >> t, st);
	while (z) {
		unsigned int k = (unsigned int)__builtin_ctzll(z);

		z &= z - 1;
		fa__buddy_link(b, k, (e >> k) + 1, st);
	}
}

/*
 * The end of a direct contiguous allocation: take the free block (j, i) of
 * state st and keep its first len chunks, len not a power of two, below 2^k
 * (k <= j). Out of line, reached by a tail call: a power-of-two allocation
 * then carries none of the split along the end of a range.
 */
FA__BUDDY_HOT int fa__buddy_alloc_split(struct fa_buddy *b, unsigned int j, uint64_t i, int st,
					unsigned int k, uint64_t len)
{
	fa__buddy_unlink_first(b, j, i, st);
	if (j > k)
		fa__buddy_split_empty(b, j, i, st, k);
	fa__buddy_split_head(b, k, i << (j - k), st, len);
	return 0;
}

/* Its two copies, one per state (a constant in each). */
FA__BUDDY_COLD int fa__buddy_alloc_split_dirty(struct fa_buddy *b, unsigned int j, uint64_t i,
					       unsigned int k, uint64_t len)
{
	return fa__buddy_alloc_split(b, j, i, FA__BUDDY_DIRTY, k, len);
}

FA__BUDDY_COLD int fa__buddy_alloc_split_clean(struct fa_buddy *b, unsigned int j, uint64_t i,
					       unsigned int k, uint64_t len)
{
	return fa__buddy_alloc_split(b, j, i, FA__BUDDY_CLEAN, k, len);
}

FA__BUDDY_COLD int fa__buddy_alloc_slow(struct fa_buddy *b, uint64_t size, uint64_t align,
					unsigned int flags, uint64_t *addr);

/*
 * fa_buddy_alloc() itself. The direct path: natural alignment, bottom-up,
 * smaller than the space; a power of two, or any chunk multiple with
 * CONTIGUOUS (placed at the start of a block of the next power of two). The
 * lowest free block of the smallest order that holds it: the block the
 * general search picks (fa__buddy_alloc_simple(), or fa__buddy_find() whose
 * first candidate always fits here). When the request is not that simple or
 * no such block exists, nothing has changed and the general path validates
 * and decides (e.g. a contiguous run over two blocks). Every way out of line
 * is a tail call, so the usual case pays for one frame only. st, the state
 * the request prefers, is a constant at each call: the counters and bitmaps
 * of the other state are not even addressed.
 */
FA__BUDDY_HOT int fa__buddy_alloc_direct(struct fa_buddy *b, uint64_t size, uint64_t align,
					 unsigned int flags, uint64_t *addr, const int st)
{
	unsigned int k, j;
	uint64_t m, i, len;

	if (FA__BUDDY_UNLIKELY(!b || !b->ord || !addr || align ||
			       (flags & ~(FA_BUDDY_CLEAR | FA_BUDDY_CONTIGUOUS)) ||
			       size < b->chunk_size || size >= b->size))
		return fa__buddy_alloc_slow(b, size, align, flags, addr);
	len = size >> b->chunk_shift;
	if (FA__BUDDY_LIKELY(!(size & (size - 1)))) {
		k = (unsigned int)__builtin_ctzll(len);
	} else {
		if (!(flags & FA_BUDDY_CONTIGUOUS) || (size & (b->chunk_size - 1)))
			return fa__buddy_alloc_slow(b, size, align, flags, addr);
		k = (unsigned int)fa_ilog2_u64(len) + 1;
	}
	/* no block of the preferred state: the general path falls back to
	 * the other one, exactly as it would */
	m = b->free_mask[st] >> k;
	if (FA__BUDDY_UNLIKELY(!m))
		return fa__buddy_alloc_slow(b, size, align, flags, addr);
	j = k + (unsigned int)__builtin_ctzll(m);
	i = fa__buddy_hfirst(&b->ord[j], st);
	*addr = b->base + ((i << j) << b->chunk_shift);
	b->avail -= len;
	if (FA__BUDDY_UNLIKELY(len & (len - 1)))	/* contiguous, not a power of two */
		return st == FA__BUDDY_DIRTY ? fa__buddy_alloc_split_dirty(b, j, i, k, len) :
					       fa__buddy_alloc_split_clean(b, j, i, k, len);
	fa__buddy_unlink_first(b, j, i, st);
	if (j > k)
		fa__buddy_split_empty(b, j, i, st, k);
	return 0;
}

/* Whether @p b can be used: not NULL, initialised and not finished. */
static inline bool fa__buddy_ready(const struct fa_buddy *b)
{
	return b && b->ord;
}

/* Checks an address range given by the caller; converts it to chunks. */
static inline int fa__buddy_user_range(const struct fa_buddy *b, uint64_t addr, uint64_t size,
				       uint64_t *a, uint64_t *e)
{
	uint64_t cm;

	if (!fa__buddy_ready(b))
		return -FA_EINVAL;
	cm = b->chunk_size - 1;
	if (size == 0 || (size & cm))
		return -FA_EINVAL;
	if (addr < b->base || addr - b->base >= b->size)
		return -FA_ERANGE;
	if ((addr - b->base) & cm)
		return -FA_EINVAL;
	if (size - 1 > FA_U64_MAX - addr)
		return -FA_EOVERFLOW;
	if (size > b->size - (addr - b->base))
		return -FA_ERANGE;
	*a = (addr - b->base) >> b->chunk_shift;
	*e = *a + (size >> b->chunk_shift);
	return 0;
}
/** @endcond */

/**
 * Take over @p storage and manage `[base, base + size)`. All of @p storage is
 * written (zeroed, then bitmaps); the managed range is never touched. The
 * whole space starts free and dirty.
 * @stage submit (init time; never allocates, but is O(storage))
 * @locking none (the buddy is not shared yet)
 * @param b Buddy to initialise.
 * @param storage Caller memory, 8-byte aligned, of at least
 *        fa_buddy_storage_size(@p size, @p chunk_size) bytes; owned by the
 *        buddy until fa_buddy_fini().
 * @param storage_size Bytes available at @p storage.
 * @param base First managed address (a multiple of @p chunk_size). Blocks are
 *        aligned relative to @p base.
 * @param size Bytes to manage; rounded down to a multiple of @p chunk_size.
 * @param chunk_size Smallest block: a power of two ≥ #FA_BUDDY_MIN_CHUNK.
 * @return 0; -FA_EINVAL (bad chunk size, size below one chunk, misaligned
 *         base or storage, NULL); -FA_EOVERFLOW (base + size beyond 2^64);
 *         -FA_ENOSPC (storage too small). @p b is untouched on error.
 */
static inline int fa_buddy_init(struct fa_buddy *b, void *storage, size_t storage_size,
				uint64_t base, uint64_t size, uint64_t chunk_size)
{
	uint64_t need = fa_buddy_storage_size(size, chunk_size), w, n, pos = 0;
	struct fa__buddy_order *ord;
	uint64_t *words;
	unsigned int k, l, s;

	if (!b || !storage || need == 0 || ((uintptr_t)storage & 7))
		return -FA_EINVAL;
	if (base & (chunk_size - 1))
		return -FA_EINVAL;
	size &= ~(chunk_size - 1);
	if (size - 1 > FA_U64_MAX - base)
		return -FA_EOVERFLOW;
	if (need > (uint64_t)storage_size)
		return -FA_ENOSPC;
	words = (uint64_t *)storage;
	for (w = 0; w < need / 8; w++)
		words[w] = 0;
	b->base = base;
	b->size = size;
	b->chunk_size = chunk_size;
	b->chunk_shift = (unsigned int)fa_ilog2_u64(chunk_size);
	b->nchunks = n = size >> b->chunk_shift;
	b->max_order = (unsigned int)fa_ilog2_u64(n);
	b->avail = 0;
	b->clear_avail = 0;
	b->free_mask[0] = b->free_mask[1] = 0;
	for (k = 0; k <= FA_BUDDY_MAX_ORDER; k++)
		b->nfree[k][0] = b->nfree[k][1] = 0;
	b->storage = storage;
	b->storage_size = storage_size;
	ord = (struct fa__buddy_order *)storage;
	b->ord = ord;
	words = (uint64_t *)(void *)(ord + b->max_order + 1);
	for (k = 0; k <= b->max_order; k++) {
		struct fa__buddy_order *o = &ord[k];
		uint64_t lw;

		o->nbits = n >> k;
		fa__buddy_hwords(o->nbits, &o->nlv);
		lw = fa__buddy_words(o->nbits);
		/* leaves interleaved: dirty, clear (, split) word of the same 64 nodes */
		o->lv[FA__BUDDY_DIRTY][0] = words;
		o->lv[FA__BUDDY_CLEAN][0] = words + 1;
		o->split = k ? words + 2 : NULL;
		words += lw * FA__BUDDY_STRIDE;
		for (s = 0; s < 2; s++) {
			uint64_t w = lw;

			for (l = 1; l < FA__BUDDY_LEVELS; l++) {
				o->lv[s][l] = NULL;
				if (l < o->nlv) {
					w = fa__buddy_words(w);
					o->lv[s][l] = words;
					words += w;
				}
			}
		}
	}
	for (k = b->max_order + 1; k-- > 0;) {
		if (n & FA_BIT64(k)) {
			fa__buddy_put(b, k, pos >> k, FA__BUDDY_DIRTY);
			pos += FA_BIT64(k);
		}
	}
	return 0;
}

/**
 * Stop using the storage. Warns (#FA_WARN) when allocations are still live.
 * @stage cleanup (teardown)
 * @locking the buddy lock, or none when no one else can reach @p b
 * @param b Buddy (NULL warns and does nothing).
 */
static inline void fa_buddy_fini(struct fa_buddy *b)
{
	if (FA_WARN(!b))
		return;
	FA_WARN(b->avail != b->nchunks);
	b->ord = NULL;
	b->storage = NULL;
	b->storage_size = 0;
	b->avail = b->clear_avail = 0;
}

/**
 * Fill @p r with defaults: @p size bytes, natural alignment, the whole
 * space, no flags.
 * @stage any
 * @locking none
 * @param r Request (NULL warns and does nothing).
 * @param size Bytes.
 */
static inline void fa_buddy_req_init(struct fa_buddy_req *r, uint64_t size)
{
	if (FA_WARN(!r))
		return;
	r->size = size;
	r->align = 0;
	r->start = 0;
	r->end = 0;
	r->min_block = 0;
	r->flags = 0;
}

/**
 * Allocate one range: a single power-of-two block, or with
 * #FA_BUDDY_CONTIGUOUS any chunk multiple made of adjacent blocks; inside
 * `[start, end)` (exactly there when `start + size == end`), aligned,
 * top-down, preferring cleared memory — as @p r says. Note: `r->start == 0`
 * is read as the base when the base is not 0.
 * @stage any (never allocates; bounded time, see the file comment)
 * @locking the buddy lock
 * @param b Buddy.
 * @param r Request.
 * @param addr Where the start address is stored on success.
 * @param cleared If not NULL, set to whether the whole range was cleared memory.
 * @return 0; -FA_EINVAL (NULL @p b, @p r or @p addr, zero size, size not a chunk multiple, not a power of
 *         two without #FA_BUDDY_CONTIGUOUS, alignment not a power of two,
 *         misaligned start/end, `end <= start`, range smaller than size,
 *         unknown flags, exact range not aligned); -FA_ERANGE (start/end or
 *         size outside the space); -FA_EOVERFLOW (`start + size` beyond
 *         2^64); -FA_ENOSPC (no place now). Nothing changes on error.
 */
static inline int fa_buddy_alloc_req(struct fa_buddy *b, const struct fa_buddy_req *r,
				     uint64_t *addr, bool *cleared)
{
	struct fa_buddy_req rr;
	struct fa__buddy_q q;
	uint64_t pos = 0;
	bool clear = false;
	int ret;

	if (!fa__buddy_ready(b) || !r || !addr)
		return -FA_EINVAL;
	rr = *r;
	if (rr.start == 0)
		rr.start = b->base;
	ret = fa__buddy_prep(b, &rr, false, &q);
	if (ret)
		return ret;
	ret = fa__buddy_alloc_q(b, &q, &pos, &clear);
	if (ret)
		return ret;
	*addr = b->base + (pos << b->chunk_shift);
	if (cleared)
		*cleared = clear;
	return 0;
}

/** @cond INTERNAL */
/* fa_buddy_alloc() through the general path. */
FA__BUDDY_COLD int fa__buddy_alloc_slow(struct fa_buddy *b, uint64_t size, uint64_t align,
					unsigned int flags, uint64_t *addr)
{
	struct fa_buddy_req r;

	fa_buddy_req_init(&r, size);
	r.align = align;
	r.flags = flags;
	return fa_buddy_alloc_req(b, &r, addr, NULL);
}

/*
 * fa_buddy_alloc() preferring cleared memory: the direct path with the
 * state a constant, like the usual (dirty) one inlined in fa_buddy_alloc().
 */
FA__BUDDY_COLD int fa__buddy_alloc_clear(struct fa_buddy *b, uint64_t size, uint64_t align,
					 unsigned int flags, uint64_t *addr)
{
	return fa__buddy_alloc_direct(b, size, align, flags, addr, FA__BUDDY_CLEAN);
}

/* fa_buddy_alloc()'s usual (dirty-first) direct path (see FA__BUDDY_ENTRY). */
FA__BUDDY_ENTRY int fa__buddy_alloc_dirty(struct fa_buddy *b, uint64_t size, uint64_t align,
					  unsigned int flags, uint64_t *addr)
{
	return fa__buddy_alloc_direct(b, size, align, flags, addr, FA__BUDDY_DIRTY);
}
/** @endcond */

/**
 * Allocate @p size bytes anywhere in the space.
 * @stage any (never allocates; bounded time)
 * @locking the buddy lock
 * @param b Buddy.
 * @param size Bytes: a power of two ≥ chunk, or a chunk multiple with #FA_BUDDY_CONTIGUOUS.
 * @param align Alignment (power of two), 0 for natural (the size; the chunk when contiguous).
 * @param flags #FA_BUDDY_TOPDOWN, #FA_BUDDY_CONTIGUOUS, #FA_BUDDY_CLEAR.
 * @param addr Where the address is stored on success.
 * @return 0 or a negative errno as fa_buddy_alloc_req().
 */
static inline int fa_buddy_alloc(struct fa_buddy *b, uint64_t size, uint64_t align,
				 unsigned int flags, uint64_t *addr)
{
	if (FA__BUDDY_UNLIKELY(flags & FA_BUDDY_CLEAR))
		return fa__buddy_alloc_clear(b, size, align, flags, addr);
	return fa__buddy_alloc_dirty(b, size, align, flags, addr);
}

/**
 * Allocate @p size bytes inside `[start, end)`; when `start + size == end`
 * exactly that range (any chunk multiple, as its canonical blocks).
 * @stage any (never allocates; bounded time)
 * @locking the buddy lock
 * @param b Buddy.
 * @param start Lowest address allowed.
 * @param end End of the allowed range, exclusive; 0 for the end of the space.
 * @param size Bytes (see fa_buddy_alloc()).
 * @param align Alignment, 0 for natural.
 * @param flags #FA_BUDDY_TOPDOWN, #FA_BUDDY_CONTIGUOUS, #FA_BUDDY_CLEAR.
 * @param addr Where the address is stored on success.
 * @return 0 or a negative errno as fa_buddy_alloc_req().
 */
static inline int fa_buddy_alloc_range(struct fa_buddy *b, uint64_t start, uint64_t end,
				       uint64_t size, uint64_t align, unsigned int flags,
				       uint64_t *addr)
{
	struct fa_buddy_req r;

	fa_buddy_req_init(&r, size);
	r.start = start;
	r.end = end;
	r.align = align;
	r.flags = flags;
	if (!fa__buddy_ready(b))
		return -FA_EINVAL;
	if (start == 0 && b->base != 0)
		return -FA_ERANGE;
	return fa_buddy_alloc_req(b, &r, addr, NULL);
}

/**
 * Allocate exactly `[addr, addr + size)` (any chunk multiple).
 * @stage any (never allocates; O(log² n))
 * @locking the buddy lock
 * @param b Buddy.
 * @param addr Start (chunk aligned).
 * @param size Bytes (a chunk multiple).
 * @return 0; -FA_ENOSPC when part of the range is allocated; else as fa_buddy_alloc_req().
 */
static inline int fa_buddy_alloc_exact(struct fa_buddy *b, uint64_t addr, uint64_t size)
{
	uint64_t out;
	struct fa_buddy_req r;

	fa_buddy_req_init(&r, size);
	r.start = addr;
	r.end = addr + size;	/* 0 when the range ends at 2^64: the end of the space */
	r.flags = FA_BUDDY_CONTIGUOUS;
	if (!fa__buddy_ready(b))
		return -FA_EINVAL;
	if (addr < b->base)
		return -FA_ERANGE;
	if (size - 1 > FA_U64_MAX - addr && size)
		return -FA_EOVERFLOW;
	return fa_buddy_alloc_req(b, &r, &out, NULL);
}

/** @cond INTERNAL */
/* fa_buddy_free_flags() through the general path: any range, every error. */
FA__BUDDY_HOT int fa__buddy_free_general(struct fa_buddy *b, uint64_t addr, uint64_t size, int st)
{
	uint64_t a = 0, e = 0;
	int ret;

	ret = fa__buddy_user_range(b, addr, size, &a, &e);
	if (ret)
		return ret;
	ret = fa__buddy_check_alloc(b, a, e);
	if (ret)
		return ret;
	fa__buddy_release_range(b, a, e, st);
	return 0;
}

/* Its two copies, one per state of the freed memory (a constant in each). */
FA__BUDDY_COLD int fa__buddy_free_general_dirty(struct fa_buddy *b, uint64_t addr, uint64_t size)
{
	return fa__buddy_free_general(b, addr, size, FA__BUDDY_DIRTY);
}

FA__BUDDY_COLD int fa__buddy_free_general_clean(struct fa_buddy *b, uint64_t addr, uint64_t size)
{
	return fa__buddy_free_general(b, addr, size, FA__BUDDY_CLEAN);
}

FA__BUDDY_HOT int fa__buddy_free_general_st(struct fa_buddy *b, uint64_t addr, uint64_t size,
					    const int st)
{
	return st == FA__BUDDY_DIRTY ? fa__buddy_free_general_dirty(b, addr, size) :
				       fa__buddy_free_general_clean(b, addr, size);
}

/*
 * The end of a direct free whose block (k, i) has a free buddy, of state bs:
 * out of line, reached by a tail call (most frees merge nothing).
 */
FA__BUDDY_COLD int fa__buddy_free_merge(struct fa_buddy *b, unsigned int k, uint64_t i, int st,
					int bs)
{
	fa__buddy_unlink(b, k, i ^ 1, bs);
	b->avail += FA_BIT64(k);
	i >>= 1;
	k++;
	fa__buddy_lclr(b->ord[k].split, &b->ord[k], i);
	fa__buddy_merge(b, k, i, st & bs);
	return 0;
}

/*
 * A free of a range that is not a power of two, starting at a multiple of
 * the next power of two, inside the space: the shape of a direct contiguous
 * allocation, [a, e) with len = e - a < 2^K and a aligned to 2^K. Its blocks
 * sit at the set bits m of len, node (e >> m) - 1 of order m, under the
 * parents e >> (m + 1) on the end's path; those parents are ancestors of the
 * lowest piece's, so (split bits hang under split parents) testing that one
 * parent tests them all. Checked over every block first, then released from
 * the lowest piece up as fa__buddy_release_range() does: a piece above is
 * merged without a read, a buddy beyond the end is read, and once a buddy is
 * not free, the pieces left have split buddies and are linked as they are.
 * Anything else, or any failed check, goes unchanged to the general path,
 * which validates and reports the error.
 */
FA__BUDDY_HOT int fa__buddy_free_run(struct fa_buddy *b, uint64_t addr, uint64_t size,
				     const int st)
{
	uint64_t off, mask, len, e, z, i;
	const struct fa__buddy_order *o;
	const uint64_t *w;
	unsigned int k, t;
	int cs = st;

	if (!b || !b->ord || !(size & (size - 1)))
		return fa__buddy_free_general_st(b, addr, size, st);
	off = addr - b->base;
	mask = FA_U64_MAX >> __builtin_clzll(size);
	if ((off & mask) || (size & (b->chunk_size - 1)) || (off | mask) >= b->size)
		return fa__buddy_free_general_st(b, addr, size, st);
	len = size >> b->chunk_shift;
	e = (off >> b->chunk_shift) + len;
	t = (unsigned int)__builtin_ctzll(len);
	/* the lowest piece's parent (order t + 1 <= K, inside the space) */
	o = &b->ord[t + 1];
	i = e >> (t + 1);
	if (FA__BUDDY_UNLIKELY(!fa__buddy_lbt(o->split, o, i)))
		return fa__buddy_free_general_st(b, addr, size, st);
	/* every piece: none of its three state bits */
	z = len;
	do {
		k = (unsigned int)__builtin_ctzll(z);
		z &= z - 1;
		i = (e >> k) - 1;
		w = b->ord[k].lv[FA__BUDDY_DIRTY][0] + (i >> 6) * FA__BUDDY_STRIDE;
		if (FA__BUDDY_UNLIKELY((w[0] | w[1] | w[2]) & FA_BIT64(i & 63)))
			return fa__buddy_free_general_st(b, addr, size, st);
	} while (z);
	b->avail += len;
	z = len & (len - 1);	/* the pieces above the lowest */
	k = t;
	o = &b->ord[t];
	i = (e >> t) - 1;
	for (;;) {
		if (z & FA_BIT64(k)) {
			z &= z - 1;	/* the buddy is the next piece: merged */
		} else if (!fa__buddy_absorb(b, o, k, i ^ 1, &cs)) {
			break;
		}
		i >>= 1;
		k++;
		o++;
		fa__buddy_lclr(o->split, o, i);
	}
	fa__buddy_link(b, k, i, cs);
	while (z) {
		k = (unsigned int)__builtin_ctzll(z);
		z &= z - 1;
		fa__buddy_link(b, k, (e >> k) - 1, st);
	}
	return 0;
}

/*
 * Where the direct free sends what it does not take, one copy per state:
 * a run, else (or on any failed check) the general path.
 */
FA__BUDDY_COLD int fa__buddy_free_slow_dirty(struct fa_buddy *b, uint64_t addr, uint64_t size)
{
	return fa__buddy_free_run(b, addr, size, FA__BUDDY_DIRTY);
}

FA__BUDDY_COLD int fa__buddy_free_slow_clean(struct fa_buddy *b, uint64_t addr, uint64_t size)
{
	return fa__buddy_free_run(b, addr, size, FA__BUDDY_CLEAN);
}

FA__BUDDY_HOT int fa__buddy_free_slow(struct fa_buddy *b, uint64_t addr, uint64_t size, int st)
{
	return st == FA__BUDDY_DIRTY ? fa__buddy_free_slow_dirty(b, addr, size) :
				       fa__buddy_free_slow_clean(b, addr, size);
}

/*
 * fa_buddy_free_flags() after its flags check. The direct path: one
 * size-aligned power-of-two block inside the space whose node is an
 * allocated block (none of its three state bits set, split parent).
 * Anything else goes, unchanged, to the general path, which validates and
 * reports the error. Every way out of line is a tail call.
 */
FA__BUDDY_HOT int fa__buddy_free_direct(struct fa_buddy *b, uint64_t addr, uint64_t size, int st)
{
	uint64_t off, i, bit, dirty, clear;
	const struct fa__buddy_order *o;
	const uint64_t *w;
	unsigned int k;
	int bs;

	/* a power of two >= chunk, aligned to itself (so to the chunk) relative
	 * to base, inside the space: off | (size - 1) is the block's last byte
	 * once off is aligned (no overflow), below b->size */
	if (FA__BUDDY_UNLIKELY(!b || !b->ord))
		return fa__buddy_free_slow(b, addr, size, st);
	off = addr - b->base;
	if (FA__BUDDY_UNLIKELY(((off | size) & (size - 1)) || size < b->chunk_size ||
			       (off | (size - 1)) >= b->size))
		return fa__buddy_free_slow(b, addr, size, st);
	k = (unsigned int)__builtin_ctzll(size);
	i = off >> k;
	k -= b->chunk_shift;
	bit = FA_BIT64(i & 63);
	o = &b->ord[k];
	w = o->lv[FA__BUDDY_DIRTY][0] + (i >> 6) * FA__BUDDY_STRIDE;
	dirty = w[0];
	clear = w[1];
	/* order 0 has no split bits: its third word is always 0 */
	if (FA__BUDDY_UNLIKELY((dirty | clear | w[2]) & bit))
		return fa__buddy_free_slow(b, addr, size, st);
	/* the first merge step from the words just read: the buddy is in the
	 * same word (beyond the end of the order it reads as not free) */
	bit = FA_BIT64((i ^ 1) & 63);
	if (dirty & bit) {
		bs = FA__BUDDY_DIRTY;
	} else if (clear & bit) {
		bs = FA__BUDDY_CLEAN;
	} else {
		/* the parent, o[1], is split or beyond the space */
		if (FA__BUDDY_UNLIKELY(k < b->max_order && (i >> 1) < o[1].nbits &&
				       !fa__buddy_lbt(o[1].split, &o[1], i >> 1)))
			return fa__buddy_free_slow(b, addr, size, st);
		fa__buddy_put(b, k, i, st);
		return 0;
	}
	/* a free buddy hangs under a split parent: (k, i) is an allocated block */
	return fa__buddy_free_merge(b, k, i, st, bs);
}
/* fa_buddy_free_flags()'s direct path (see FA__BUDDY_ENTRY). */
FA__BUDDY_ENTRY int fa__buddy_free_entry(struct fa_buddy *b, uint64_t addr, uint64_t size, int st)
{
	return fa__buddy_free_direct(b, addr, size, st);
}
/** @endcond */

/**
 * Free an allocation: `[addr, addr + size)` must be exactly what one
 * allocation returned (or a contiguous run of whole allocations that form the
 * same blocks, e.g. one block of a fa_buddy_alloc_blocks() result).
 * @stage any (never allocates; O(log n) for one block)
 * @locking the buddy lock
 * @param b Buddy.
 * @param addr Start address.
 * @param size Bytes.
 * @param flags #FA_BUDDY_CLEARED when the memory was zeroed, else 0.
 * @return 0; -FA_EALREADY (some of it is already free: double free);
 *         -FA_EINVAL (not an allocation's start/size, bad size or flags);
 *         -FA_ERANGE (outside the space); -FA_EOVERFLOW. Nothing changes on error.
 */
static inline int fa_buddy_free_flags(struct fa_buddy *b, uint64_t addr, uint64_t size,
				      unsigned int flags)
{
	int st = (flags & FA_BUDDY_CLEARED) ? FA__BUDDY_CLEAN : FA__BUDDY_DIRTY;

	if (FA__BUDDY_UNLIKELY(flags & ~FA_BUDDY_CLEARED))
		return -FA_EINVAL;
	return fa__buddy_free_entry(b, addr, size, st);
}

/**
 * Free an allocation as dirty memory (see fa_buddy_free_flags()).
 * @stage any (never allocates; O(log n) for one block)
 * @locking the buddy lock
 * @param b Buddy.
 * @param addr Start address.
 * @param size Bytes, as allocated.
 * @return 0 or a negative errno as fa_buddy_free_flags().
 */
static inline int fa_buddy_free(struct fa_buddy *b, uint64_t addr, uint64_t size)
{
	return fa_buddy_free_flags(b, addr, size, 0);
}

/**
 * Bytes currently free.
 * @stage any
 * @locking the buddy lock (or a racy read)
 * @param b Buddy (NULL warns and gives 0).
 * @return Free bytes.
 */
static inline uint64_t fa_buddy_avail(const struct fa_buddy *b)
{
	if (FA_WARN(!b))
		return 0;
	return b->avail << b->chunk_shift;
}

/**
 * Bytes currently free and known to be cleared.
 * @stage any
 * @locking the buddy lock (or a racy read)
 * @param b Buddy (NULL warns and gives 0).
 * @return Free cleared bytes.
 */
static inline uint64_t fa_buddy_clear_avail(const struct fa_buddy *b)
{
	if (FA_WARN(!b))
		return 0;
	return b->clear_avail << b->chunk_shift;
}

/**
 * Managed bytes (the size given to init, rounded down to chunks).
 * @stage any
 * @locking none
 * @param b Buddy (NULL warns and gives 0).
 * @return Bytes.
 */
static inline uint64_t fa_buddy_size(const struct fa_buddy *b)
{
	if (FA_WARN(!b))
		return 0;
	return b->size;
}

/**
 * Size of the largest free block.
 * @stage any
 * @locking the buddy lock
 * @param b Buddy (NULL warns and gives 0).
 * @return Bytes, 0 when nothing is free.
 */
static inline uint64_t fa_buddy_largest_free(const struct fa_buddy *b)
{
	uint64_t m;

	if (FA_WARN(!b))
		return 0;
	m = b->free_mask[0] | b->free_mask[1];
	return m ? b->chunk_size << (fa_fls64(m) - 1) : 0;
}

/**
 * Largest block order (log2 of the largest root, in chunks).
 * @stage any
 * @locking none
 * @param b Buddy (NULL warns and gives 0).
 * @return The order.
 */
static inline unsigned int fa_buddy_max_order(const struct fa_buddy *b)
{
	if (FA_WARN(!b))
		return 0;
	return b->max_order;
}

/**
 * Number of free blocks of one order and clear state.
 * @stage any
 * @locking the buddy lock
 * @param b Buddy (NULL warns and gives 0).
 * @param order Block order (block size = chunk << order).
 * @param cleared true for cleared blocks, false for dirty ones.
 * @return The count (0 for an order above fa_buddy_max_order()).
 */
static inline uint64_t fa_buddy_free_blocks(const struct fa_buddy *b, unsigned int order,
					    bool cleared)
{
	if (FA_WARN(!b))
		return 0;
	if (order > b->max_order)
		return 0;
	return b->nfree[order][cleared ? FA__BUDDY_CLEAN : FA__BUDDY_DIRTY];
}

/**
 * Mark all free memory cleared (after the driver zeroed it all, e.g. at
 * boot) or dirty (e.g. after a reset that lost VRAM contents), like
 * `gpu_buddy_reset_clear`. Free blocks are always merged here, so nothing
 * needs merging: the bits move from one free bitmap to the other.
 * @stage any (never allocates; O(n / 64) word operations)
 * @locking the buddy lock
 * @param b Buddy (NULL or not initialised warns and does nothing).
 * @param cleared true: everything free becomes cleared; false: dirty.
 */
static inline void fa_buddy_reset_clear(struct fa_buddy *b, bool cleared)
{
	int to = cleared ? FA__BUDDY_CLEAN : FA__BUDDY_DIRTY, from = to ^ 1;
	unsigned int k, l;

	if (FA_WARN(!fa__buddy_ready(b)))
		return;
	for (k = 0; k <= b->max_order; k++) {
		struct fa__buddy_order *o = &b->ord[k];
		uint64_t nb = o->nbits;

		for (l = 0; l < o->nlv; l++) {
			uint64_t w, nw = fa__buddy_words(nb);

			for (w = 0; w < nw; w++) {
				uint64_t *src = fa__buddy_lw(o, from, l, w);

				*fa__buddy_lw(o, to, l, w) |= *src;
				*src = 0;
			}
			nb = nw;
		}
		b->nfree[k][to] += b->nfree[k][from];
		b->nfree[k][from] = 0;
	}
	b->free_mask[to] |= b->free_mask[from];
	b->free_mask[from] = 0;
	b->clear_avail = cleared ? b->avail : 0;
}

/**
 * Upper bound of the blocks fa_buddy_alloc_blocks() can return for @p size in
 * blocks of at least @p min_block: `size / min_block` (every block could be
 * the smallest one when the space is fragmented). Size the output array with
 * it to never see -FA_EOVERFLOW; a smaller array is fine when the caller
 * prefers failing over holding many small blocks.
 * @stage any
 * @locking none
 * @param size Bytes requested.
 * @param min_block Smallest block, bytes (a power of two).
 * @return The bound, or 0 when @p min_block is not a power of two.
 */
static inline uint64_t fa_buddy_blocks_max(uint64_t size, uint64_t min_block)
{
	if (!fa_is_pow2(min_block))
		return 0;
	return (size >> fa_ilog2_u64(min_block)) + ((size & (min_block - 1)) != 0);
}

/**
 * Allocate @p r->size bytes as power-of-two blocks of at least
 * @p r->min_block bytes, not necessarily adjacent, largest first (like
 * `gpu_buddy_alloc_blocks` without CONTIGUOUS). The blocks go to the caller's
 * array: nothing is allocated. Each block is freed with fa_buddy_free() (its
 * address and size). Time: each order is searched at most once after it
 * fails, so O((M + @p max_out) · log n).
 * @stage any (never allocates; bounded time)
 * @locking the buddy lock
 * @param b Buddy.
 * @param r Request: size a multiple of min_block; start/end, align (minimum
 *        alignment of each block), #FA_BUDDY_TOPDOWN, #FA_BUDDY_CLEAR apply.
 * @param out Array of @p max_out entries receiving the blocks.
 * @param max_out Entries in @p out (see fa_buddy_blocks_max()).
 * @param count Where the number of blocks is stored on success.
 * @return 0; -FA_EINVAL (as fa_buddy_alloc_req(), plus min_block not a power
 *         of two ≥ chunk or not dividing size, #FA_BUDDY_CONTIGUOUS, @p out
 *         or @p count NULL or @p max_out 0); -FA_ENOSPC (not enough free blocks of at
 *         least min_block in the range); -FA_EOVERFLOW (more than @p max_out
 *         blocks would be needed). Nothing changes on error (blocks taken
 *         before a failure are given back exactly).
 */
static inline int fa_buddy_alloc_blocks(struct fa_buddy *b, const struct fa_buddy_req *r,
					struct fa_buddy_block *out, unsigned int max_out,
					unsigned int *count)
{
	struct fa_buddy_req rr;
	struct fa__buddy_q q;
	struct fa__buddy_hit h;
	uint64_t left;
	unsigned int o, n = 0, al;
	int ret, st0, s;
	bool got;

	if (!fa__buddy_ready(b) || !r || !count)
		return -FA_EINVAL;
	rr = *r;
	if (rr.start == 0)
		rr.start = b->base;
	if ((rr.flags & FA_BUDDY_CONTIGUOUS) || !out || max_out == 0)
		return -FA_EINVAL;
	ret = fa__buddy_prep(b, &rr, true, &q);
	if (ret)
		return ret;
	if (q.len > b->avail)
		return -FA_ENOSPC;
	h.i = h.pos = 0;
	h.j = 0;
	h.st = 0;
	al = q.a;
	q.exact = false;
	st0 = fa__buddy_first_state(q.flags);
	left = q.len;
	o = (unsigned int)fa_min_u64(fa_ilog2_u64(left), b->max_order);
	ret = 0;
	while (left) {
		if (FA_BIT64(o) > left)
			o = (unsigned int)fa_ilog2_u64(left);
		q.len = FA_BIT64(o);
		q.a = o > al ? o : al;
		got = false;
		for (s = 0; s < 2 && !got; s++)
			got = fa__buddy_find(b, o, st0 ^ s, &q, &h);
		if (!got) {
			if (o == q.mo) {
				ret = -FA_ENOSPC;
				break;
			}
			o--;
			continue;
		}
		if (n == max_out) {
			ret = -FA_EOVERFLOW;
			break;
		}
		fa__buddy_take_split(b, h.j, h.i, h.st, o, h.pos);
		out[n].addr = b->base + (h.pos << b->chunk_shift);
		out[n].size = b->chunk_size << o;
		out[n].cleared = h.st == FA__BUDDY_CLEAN;
		n++;
		left -= FA_BIT64(o);
	}
	if (ret) {
		while (n-- > 0) {
			uint64_t p = (out[n].addr - b->base) >> b->chunk_shift;
			unsigned int k = (unsigned int)fa_ilog2_u64(out[n].size >> b->chunk_shift);

			fa__buddy_release(b, k, p >> k, out[n].cleared ? FA__BUDDY_CLEAN : FA__BUDDY_DIRTY);
		}
		return ret;
	}
	*count = n;
	return 0;
}

/**
 * Shrink an allocation to its first @p new_size bytes and free the tail
 * (like `gpu_buddy_block_trim`, but without allocating: the allocated blocks
 * that straddle the new end are split in place).
 * @stage any (never allocates; O(log² n))
 * @locking the buddy lock
 * @param b Buddy.
 * @param addr Start of the allocation.
 * @param size Its current size in bytes.
 * @param new_size Bytes to keep: a chunk multiple, 0 < new_size ≤ size.
 * @param flags #FA_BUDDY_CLEARED when the freed tail is cleared memory.
 * @return 0; -FA_EINVAL (bad sizes or flags, not an allocation);
 *         -FA_EALREADY (the range is free); -FA_ERANGE; -FA_EOVERFLOW.
 *         Nothing changes on error.
 */
static inline int fa_buddy_trim(struct fa_buddy *b, uint64_t addr, uint64_t size,
				uint64_t new_size, unsigned int flags)
{
	uint64_t a = 0, e = 0, x, p;
	int ret;

	if (flags & ~FA_BUDDY_CLEARED)
		return -FA_EINVAL;
	ret = fa__buddy_user_range(b, addr, size, &a, &e);
	if (ret)
		return ret;
	if (new_size == 0 || new_size > size || (new_size & (b->chunk_size - 1)))
		return -FA_EINVAL;
	ret = fa__buddy_check_alloc(b, a, e);
	if (ret)
		return ret;
	x = a + (new_size >> b->chunk_shift);
	for (p = a; p < x;) {
		unsigned int k = fa__buddy_piece(p, e);

		if (x < p + FA_BIT64(k)) {
			fa__buddy_split_path(b, k, x);
			break;
		}
		p += FA_BIT64(k);
	}
	fa__buddy_release_range(b, x, e, (flags & FA_BUDDY_CLEARED) ? FA__BUDDY_CLEAN : FA__BUDDY_DIRTY);
	return 0;
}

/**
 * Receives one line of fa_buddy_dump() output (NUL-terminated, no newline).
 * @param ctx The caller's context.
 * @param line The text.
 */
typedef void (*fa_buddy_print_fn)(void *ctx, const char *line);

/** @cond INTERNAL */
/* Append a string; the buffer has room for FA__BUDDY_LINE bytes. */
#define FA__BUDDY_LINE 112
static inline unsigned int fa__buddy_puts(char *buf, unsigned int n, const char *s)
{
	while (*s && n < FA__BUDDY_LINE - 1)
		buf[n++] = *s++;
	buf[n] = 0;
	return n;
}

/* Append a number in decimal (no division: subtracts powers of ten). */
static inline unsigned int fa__buddy_putu(char *buf, unsigned int n, uint64_t v)
{
	static const uint64_t pow10[20] = {
		10000000000000000000ull, 1000000000000000000ull, 100000000000000000ull, 10000000000000000ull,
		1000000000000000ull, 100000000000000ull, 10000000000000ull, 1000000000000ull,
		100000000000ull, 10000000000ull, 1000000000ull, 100000000ull,
		10000000ull, 1000000ull, 100000ull, 10000ull,
		1000ull, 100ull, 10ull, 1ull,
	};
	bool started = false;
	unsigned int i;

	for (i = 0; i < 20; i++) {
		char d = '0';

		while (v >= pow10[i]) {
			v -= pow10[i];
			d++;
		}
		if ((d != '0' || started || i == 19) && n < FA__BUDDY_LINE - 1) {
			buf[n++] = d;
			started = true;
		}
	}
	buf[n] = 0;
	return n;
}
/** @endcond */

/**
 * Print the allocator's state through @p print: geometry, avail,
 * clear_avail, largest free block, and the free blocks of every order that
 * has some. No libc: numbers are formatted here.
 * @stage any (O(max order))
 * @locking the buddy lock
 * @param b Buddy (NULL or not initialised warns and prints nothing).
 * @param print Line sink (NULL warns).
 * @param ctx Passed to @p print.
 */
static inline void fa_buddy_dump(const struct fa_buddy *b, fa_buddy_print_fn print, void *ctx)
{
	char line[FA__BUDDY_LINE];
	unsigned int n, k;

	if (FA_WARN(!fa__buddy_ready(b) || !print))
		return;
	n = fa__buddy_puts(line, 0, "buddy: size ");
	n = fa__buddy_putu(line, n, b->size);
	n = fa__buddy_puts(line, n, " chunk ");
	n = fa__buddy_putu(line, n, b->chunk_size);
	n = fa__buddy_puts(line, n, " max_order ");
	n = fa__buddy_putu(line, n, b->max_order);
	n = fa__buddy_puts(line, n, " base ");
	fa__buddy_putu(line, n, b->base);
	print(ctx, line);
	n = fa__buddy_puts(line, 0, "buddy: avail ");
	n = fa__buddy_putu(line, n, fa_buddy_avail(b));
	n = fa__buddy_puts(line, n, " clear_avail ");
	n = fa__buddy_putu(line, n, fa_buddy_clear_avail(b));
	n = fa__buddy_puts(line, n, " largest_free ");
	fa__buddy_putu(line, n, fa_buddy_largest_free(b));
	print(ctx, line);
	for (k = 0; k <= b->max_order; k++) {
		if (!b->nfree[k][0] && !b->nfree[k][1])
			continue;
		n = fa__buddy_puts(line, 0, "buddy: order ");
		n = fa__buddy_putu(line, n, k);
		n = fa__buddy_puts(line, n, ": dirty ");
		n = fa__buddy_putu(line, n, b->nfree[k][0]);
		n = fa__buddy_puts(line, n, " clear ");
		fa__buddy_putu(line, n, b->nfree[k][1]);
		print(ctx, line);
	}
}

/** @cond INTERNAL */
#define FA__BUDDY_FAIL(msg) do { if (why) *why = (msg); return -FA_EFAULT; } while (0)

/* Summary levels of one free bitmap agree with the level below, no stray bits. */
static inline int fa__buddy_check_hbm(const struct fa__buddy_order *o, int st, uint64_t *count,
				      const char **why)
{
	unsigned int l;
	uint64_t w, nb = o->nbits;

	*count = 0;
	for (l = 0; l < o->nlv; l++) {
		uint64_t nw = fa__buddy_words(nb);

		if ((nb & 63) && (*fa__buddy_lw(o, st, l, nw - 1) >> (nb & 63)))
			FA__BUDDY_FAIL("bit set beyond the end of a bitmap level");
		for (w = 0; w < nw; w++) {
			uint64_t v = *fa__buddy_lw(o, st, l, w);

			if (l == 0)
				*count += fa__buddy_popcount(v);
			if (l + 1 < o->nlv && fa__buddy_bt(o->lv[st][l + 1], w) != (v != 0))
				FA__BUDDY_FAIL("summary bit disagrees with its word");
		}
		nb = nw;
	}
	if (nb != 1)
		FA__BUDDY_FAIL("top summary level is not one word");
	return 0;
}

/* Node-level invariants of one order. */
static inline int fa__buddy_check_nodes(const struct fa_buddy *b, unsigned int k, const char **why)
{
	const struct fa__buddy_order *o = &b->ord[k];
	uint64_t w, nw = fa__buddy_words(o->nbits);

	for (w = 0; w < nw; w++) {
		const uint64_t *lf = fa__buddy_leaf(o->lv[0][0], o, w);
		uint64_t d = lf[0], c = lf[1], s = k ? lf[2] : 0;
		uint64_t f = d | c, any = f | s;

		if (d & c)
			FA__BUDDY_FAIL("block both clear and dirty");
		if (f & s)
			FA__BUDDY_FAIL("block both free and split");
		if (f & (f >> 1) & 0x5555555555555555ull)
			FA__BUDDY_FAIL("two free buddies not merged");
		if (k && (o->nbits & 63) && w == nw - 1 && (s >> (o->nbits & 63)))
			FA__BUDDY_FAIL("split bit beyond the end");
		while (any) {
			uint64_t i = (w << 6) | (uint64_t)__builtin_ctzll(any);

			any &= any - 1;
			if (!fa__buddy_parent_split(b, k, i))
				FA__BUDDY_FAIL("free or split block whose parent is not split");
		}
	}
	return 0;
}
/** @endcond */

/**
 * Verify every invariant: bitmap summaries, no block both free and split or
 * both clear and dirty, no two free buddies, every free or split block hangs
 * under split parents up to a root, per-order counters, the order masks,
 * `avail` and `clear_avail`. O(n) — for tests and debug builds.
 * @stage any (O(n) time)
 * @locking the buddy lock
 * @param b Buddy.
 * @param why If not NULL, receives a description of the first violation.
 * @return 0 when consistent, -FA_EFAULT on the first violation; -FA_EINVAL
 *         for a NULL @p b.
 */
static inline int fa_buddy_check(const struct fa_buddy *b, const char **why)
{
	uint64_t avail = 0, clear = 0, cnt;
	unsigned int k, s;
	int ret;

	if (!b)
		return -FA_EINVAL;
	if (!b->ord || b->nchunks != b->size >> b->chunk_shift || b->nchunks == 0 ||
	    b->max_order != (unsigned int)fa_ilog2_u64(b->nchunks))
		FA__BUDDY_FAIL("header fields inconsistent");
	for (k = 0; k <= b->max_order; k++) {
		const struct fa__buddy_order *o = &b->ord[k];

		if (o->nbits != b->nchunks >> k)
			FA__BUDDY_FAIL("order size inconsistent");
		for (s = 0; s < 2; s++) {
			ret = fa__buddy_check_hbm(o, (int)s, &cnt, why);
			if (ret)
				return ret;
			if (cnt != b->nfree[k][s])
				FA__BUDDY_FAIL("free block counter wrong");
			if (((b->free_mask[s] >> k) & 1) != (cnt != 0))
				FA__BUDDY_FAIL("order mask wrong");
			avail += cnt << k;
			if (s == FA__BUDDY_CLEAN)
				clear += cnt << k;
		}
		ret = fa__buddy_check_nodes(b, k, why);
		if (ret)
			return ret;
	}
	if ((b->free_mask[0] | b->free_mask[1]) >> b->max_order >> 1)
		FA__BUDDY_FAIL("order mask above max order");
	if (avail != b->avail || clear != b->clear_avail || avail > b->nchunks)
		FA__BUDDY_FAIL("avail or clear_avail wrong");
	return 0;
}

#ifdef __cplusplus
}
#endif

#endif /* FA_BUDDY_H */
