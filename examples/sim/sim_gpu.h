/* SPDX-License-Identifier: MIT */
/**
 * @file sim_gpu.h
 * @brief Simulated GPU for the reference VMM: BAR0 + PRAMIN window, a TLB with an
 *        invalidate register, and an MMU walker that reads the raw page tables.
 *
 * Builds on sim_bar0.h (VRAM as sparse host memory, BAR0 with the PRAMIN
 * window register and 1 MiB aperture). Adds what a VMM needs to be checked
 * the way hardware would check it:
 *
 * - a **TLB-invalidate register** (#SIM_GPU_REG_TLB_INVALIDATE): writing it
 *   invalidates every cached translation and bumps the invalidate epoch
 *   (readable at #SIM_GPU_REG_TLB_EPOCH and with sim_gpu_tlb_epoch()). The
 *   invalidate completes immediately, so "epoch N has completed" is simply
 *   `epoch >= N`; page tables freed under epoch N may be reused afterwards;
 * - an **MMU walker** (sim_gpu_walk()): starting at a VM's page directory
 *   base, it reads each level's raw entry straight from simulated VRAM and
 *   decodes it with the page-table format's own decoder (pt_formats.h), as
 *   the GPU's MMU does — it never looks at any software state. For NVIDIA's
 *   dual PD0 entry the big-page table is consulted first: a valid big PTE
 *   wins, an NV4K marker faults, anything else falls through to the
 *   small-page table;
 * - a **TLB** (sim_gpu_translate()): a small direct-mapped cache of 4 KiB
 *   translations tagged with the epoch they were filled in; an invalidate
 *   makes every entry stale. A VMM that forgets to invalidate after changing
 *   a mapping is caught because translate() keeps returning the old page.
 *
 * Thread safety: MMIO (the PRAMIN window, the invalidate register) is not
 * thread-safe, like the hardware behind a driver's PRAMIN lock: the caller
 * serialises it. sim_gpu_walk() reads VRAM directly; the caller makes sure no
 * page-table write races with it (the VMM's verifier holds the VM's locks).
 * The TLB has its own mutex.
 *
 * @code
 * struct sim_gpu *gpu = (struct sim_gpu *)calloc(1, sizeof(*gpu));
 * struct sim_gpu_xlat x;
 *
 * sim_gpu_init(gpu, 16ull << 30, fa_pt_format_nv_ver2());
 * // ... a VMM writes tables through &gpu->acc (the PRAMIN window) ...
 * sim_gpu_tlb_invalidate(gpu);                 // MMIO write; epoch++
 * if (sim_gpu_translate(gpu, pdb, 0x100000000ull, &x) == 0)
 *         printf("pa %llx\n", (unsigned long long)x.pa);
 * sim_gpu_fini(gpu);
 * @endcode
 */
#ifndef SIM_GPU_H
#define SIM_GPU_H

#include "sim_bar0.h"

#include <fencealloc/pt_formats.h>

#include <pthread.h>

#ifdef __cplusplus
extern "C" {
#endif

/** BAR0 offset of the TLB-invalidate register (NVIDIA's NV_PFB_PRI_MMU_INVALIDATE). */
#define SIM_GPU_REG_TLB_INVALIDATE 0x100cbcu
/** BAR0 offset of a read-only register holding the low 32 bits of the invalidate epoch. */
#define SIM_GPU_REG_TLB_EPOCH 0x100cc0u
/** Entries of the simulated TLB (direct-mapped, 4 KiB translations). */
#define SIM_GPU_TLB_ENTRIES 1024u
/** Most entry slots one walk reads (two per dual level). */
#define SIM_GPU_PATH_MAX (2 * (FA_PT_MAX_DEPTH + 2))
/** Buckets of the live-range checker's slot table (a power of two). */
#define SIM_GPU_WATCH_SLOTS (1u << 18)
/** Most pages one watch tracks. */
#define SIM_GPU_WATCH_PAGES (1u << 18)
/** No physical address (sim_gpu_watch_begin(): the range becomes unmapped). */
#define SIM_GPU_NO_PA (~(uint64_t)0)

/** Result of a walk or a translation. */
struct sim_gpu_xlat {
	uint64_t pa;             /**< Physical address of the byte at the VA (valid when 0 is returned). */
	unsigned int page_shift; /**< log2 of the page size of the leaf that mapped it. */
	unsigned int level;      /**< Level of the leaf, or of the entry that faulted. */
	uint32_t attr;           /**< PTE attributes (FA_PT_* bits). */
	enum fa_pt_entry_type type; /**< Leaf type (PTE) or why it faulted (INVALID, SPARSE, NV4K). */
	unsigned int reads;      /**< Raw 8-byte VRAM reads the walk made. */
	unsigned int npath;      /**< Entries in @ref path. */
	uint64_t path[SIM_GPU_PATH_MAX]; /**< VRAM address of every 8-byte entry slot the walk read. */
};

/** A slot on the walk path of watched pages: pages [lo, hi) read it. */
struct sim_gpu_watch_slot {
	uint64_t slot;  /**< 8-byte aligned VRAM address. */
	uint64_t lo;    /**< First watched VA whose walk reads it. */
	uint64_t hi;    /**< End of the watched VAs whose walk reads it. */
	uint32_t gen;   /**< Watch generation that filled the entry (stale otherwise). */
};

/**
 * The live-range checker (sim_gpu_watch_enable()): while a watch is armed on
 * `[va, va + size)`, every VRAM write through the aperture that lands on an
 * entry some watched page's walk reads makes the walker re-walk those pages;
 * each must fault or translate to its address before the change or to its
 * new one (@ref new_pa + offset). Anything else is a foreign PTE.
 */
struct sim_gpu_watch {
	struct sim_gpu_watch_slot *slots; /**< #SIM_GPU_WATCH_SLOTS buckets (open addressing). */
	uint64_t *old_pa;     /**< Translation of every watched page when armed (~0: faulted). */
	bool armed;           /**< A watch is active. */
	uint64_t pdb;         /**< Root table of the watched VM. */
	uint64_t va;          /**< Watched range. */
	uint64_t size;        /**< Its length. */
	uint64_t new_pa;      /**< Address the range will map (#SIM_GPU_NO_PA: unmapped). */
	unsigned int shift;   /**< Page granule of the checks (log2). */
	uint32_t gen;         /**< Generation of the current watch. */
	unsigned long nslots; /**< Buckets used by the current watch. */
	uint64_t writes;      /**< Aperture writes while a watch was armed. */
	uint64_t checked;     /**< Of those, writes that re-walked watched pages. */
	uint64_t walks;       /**< Page walks the checker made. */
	uint64_t watches;     /**< Watches armed. */
	uint64_t foreign;     /**< Walks that found a PTE mapping neither the old nor the new address. */
	uint64_t overflow;    /**< Watches (or slots) too large to track: checks incomplete (must be 0). */
	uint64_t first_va;    /**< First foreign PTE: its VA ... */
	uint64_t first_pa;    /**< ... and the address it mapped. */
};

/** One cached translation. */
struct sim_gpu_tlb_entry {
	uint64_t pdb;   /**< Page directory base it belongs to. */
	uint64_t vpn;   /**< VA >> 12. */
	uint64_t pa4k;  /**< Physical address of that 4 KiB piece. */
	uint32_t attr;  /**< PTE attributes of the leaf. */
	unsigned int page_shift; /**< Page size of the leaf. */
	uint64_t epoch; /**< Invalidate epoch at fill time (stale once the epoch moved). */
	bool valid;     /**< Whether the entry holds anything. */
};

/** Counters of the simulated GPU (besides sim_bar0_stats). */
struct sim_gpu_stats {
	uint64_t walks;       /**< Page-table walks. */
	uint64_t walk_reads;  /**< Raw entry reads by walks. */
	uint64_t faults;      /**< Walks that ended in a fault. */
	uint64_t tlb_hits;    /**< Translations served from the TLB. */
	uint64_t invalidates; /**< Writes of the invalidate register. */
};

/** The simulated GPU. */
struct sim_gpu {
	struct sim_bar0 bar;            /**< VRAM and BAR0 (window register, aperture). */
	struct fa_pramin_gen gen;       /**< Window register layout. */
	struct fa_pramin_window win;    /**< The driver-side PRAMIN window over @ref bar. */
	struct fa_pramin_accessor acc;  /**< Accessor for page-table memory (through @ref win). */
	const struct fa_pt_format *fmt; /**< Page-table format the MMU decodes. */
	uint64_t epoch;                 /**< TLB invalidate epoch (atomic). */
	pthread_mutex_t tlb_lock;       /**< Protects @ref tlb and the walk counters. */
	struct sim_gpu_tlb_entry tlb[SIM_GPU_TLB_ENTRIES]; /**< Translation cache. */
	struct sim_gpu_stats stats;     /**< Counters (under @ref tlb_lock; invalidates atomic). */
	struct sim_gpu_watch watch;     /**< Live-range checker (MMIO context: under the caller's MMIO lock). */
};

/** @cond INTERNAL */
static inline bool sim_gpu__reg(void *ctx, uint32_t off, uint32_t *val, bool write)
{
	struct sim_gpu *g = (struct sim_gpu *)ctx;

	if (off == SIM_GPU_REG_TLB_INVALIDATE) {
		if (write) {
			__atomic_fetch_add(&g->epoch, 1, __ATOMIC_ACQ_REL);
			__atomic_fetch_add(&g->stats.invalidates, 1, __ATOMIC_RELAXED);
		} else {
			*val = 0;
		}
		return true;
	}
	if (off == SIM_GPU_REG_TLB_EPOCH) {
		if (!write)
			*val = (uint32_t)__atomic_load_n(&g->epoch, __ATOMIC_ACQUIRE);
		return true;
	}
	return false;
}
/** @endcond */

/**
 * Create a simulated GPU: sparse VRAM, BAR0, a PRAMIN window accessor and the TLB.
 * @param g Object to initialise (large: allocate it, don't put it on the stack).
 * @param vram_size Bytes of VRAM.
 * @param fmt Page-table format the MMU decodes.
 * @return 0, or a negative errno from sim_bar0_init()/fa_pramin_window_init().
 */
static inline int sim_gpu_init(struct sim_gpu *g, uint64_t vram_size, const struct fa_pt_format *fmt)
{
	struct fa_pramin_hw hw;
	int err;

	memset(g, 0, sizeof(*g));
	err = fa_pramin_gen_get(FA_PRAMIN_GEN_PBUS, &g->gen);
	if (err)
		return err;
	err = sim_bar0_init(&g->bar, vram_size, &g->gen);
	if (err)
		return err;
	sim_bar0_pramin_hw(&g->bar, &hw);
	err = fa_pramin_window_init(&g->win, &hw, &g->gen, vram_size, &g->acc);
	if (err) {
		sim_bar0_fini(&g->bar);
		return err;
	}
	sim_bar0_set_reg_hook(&g->bar, sim_gpu__reg, g);
	g->fmt = fmt;
	g->epoch = 1;
	pthread_mutex_init(&g->tlb_lock, NULL);
	return 0;
}

/**
 * Destroy a simulated GPU (unmaps VRAM).
 * @param g GPU.
 */
static inline void sim_gpu_fini(struct sim_gpu *g)
{
	free(g->watch.slots);
	free(g->watch.old_pa);
	g->watch.slots = NULL;
	g->watch.old_pa = NULL;
	pthread_mutex_destroy(&g->tlb_lock);
	sim_bar0_fini(&g->bar);
}

/**
 * Invalidate the TLB the way a driver does: one MMIO write of the invalidate
 * register. Completes immediately in the simulator.
 * @param g GPU (MMIO: under the caller's PRAMIN/MMIO lock).
 * @return The new epoch (every translation filled before it is stale).
 */
static inline uint64_t sim_gpu_tlb_invalidate(struct sim_gpu *g)
{
	sim_bar0_wr32(&g->bar, SIM_GPU_REG_TLB_INVALIDATE, 1);
	return __atomic_load_n(&g->epoch, __ATOMIC_ACQUIRE);
}

/**
 * Current invalidate epoch: every invalidate up to it has completed.
 * @param g GPU.
 * @return The epoch.
 */
static inline uint64_t sim_gpu_tlb_epoch(struct sim_gpu *g)
{
	return __atomic_load_n(&g->epoch, __ATOMIC_ACQUIRE);
}

/** @cond INTERNAL */
static inline int sim_gpu__read_entry(struct sim_gpu *g, unsigned int lvl, uint64_t table,
				      uint64_t va, struct fa_pt_entry *e, struct sim_gpu_xlat *x)
{
	const struct fa_pt_level *L = &g->fmt->level[lvl];
	uint64_t idx = (va >> L->shift) & (FA_BIT64(L->bits) - 1);
	uint64_t at = table + (idx << L->entry_log2);
	uint64_t raw[2] = { 0, 0 };

	if (at + FA_BIT64(L->entry_log2) > g->bar.vram_size || (table & 7))
		return -FA_EFAULT;
	raw[0] = sim_bar0_peek64(&g->bar, at);
	if (x->npath < SIM_GPU_PATH_MAX)
		x->path[x->npath++] = at;
	if (L->entry_log2 == 4) {
		raw[1] = sim_bar0_peek64(&g->bar, at + 8);
		if (x->npath < SIM_GPU_PATH_MAX)
			x->path[x->npath++] = at + 8;
	}
	x->reads++;
	fa_pt_entry_decode(g->fmt, lvl, raw, e);
	return 0;
}

static inline int sim_gpu__leaf(const struct fa_pt_format *f, unsigned int lvl, uint64_t va,
				const struct fa_pt_entry *e, struct sim_gpu_xlat *x)
{
	x->level = lvl;
	x->type = e->type;
	if (e->type != FA_PT_ENTRY_PTE || !f->level[lvl].pte)
		return -FA_EFAULT;
	x->page_shift = f->level[lvl].shift;
	x->pa = e->addr + (va & (FA_BIT64(x->page_shift) - 1));
	x->attr = e->attr;
	return 0;
}
/** @endcond */

/**
 * Walk the page tables for @p va like the GPU's MMU: read each level's raw
 * entry from VRAM and decode it with the format. Uncached, no side effects
 * besides counters.
 * @param g GPU.
 * @param pdb Device address of the root table.
 * @param va GPU virtual address.
 * @param x Result (always written: on a fault, the level and type that faulted).
 * @return 0 when @p va translates (x->pa); -FA_EFAULT when it faults (invalid,
 *         sparse, NV4K, or a table address outside VRAM); -FA_ERANGE when @p va
 *         is beyond the format's VA width.
 */
static inline int sim_gpu__walk(struct sim_gpu *g, uint64_t pdb, uint64_t va,
				struct sim_gpu_xlat *x);

static inline int sim_gpu_walk(struct sim_gpu *g, uint64_t pdb, uint64_t va, struct sim_gpu_xlat *x)
{
	int err = sim_gpu__walk(g, pdb, va, x);

	pthread_mutex_lock(&g->tlb_lock);
	g->stats.walks++;
	g->stats.walk_reads += x->reads;
	if (err)
		g->stats.faults++;
	pthread_mutex_unlock(&g->tlb_lock);
	return err;
}

/** @cond INTERNAL */
/* The walk itself, without counters (the live-range checker's walks). */
static inline int sim_gpu__walk(struct sim_gpu *g, uint64_t pdb, uint64_t va,
				struct sim_gpu_xlat *x)
{
	const struct fa_pt_format *f = g->fmt;
	struct fa_pt_entry e, big;
	unsigned int lvl = 0, depth;
	uint64_t table = pdb;
	int err = -FA_EFAULT;

	memset(x, 0, sizeof(*x));
	x->type = FA_PT_ENTRY_INVALID;
	if (f->va_bits < 64 && (va >> f->va_bits))
		return -FA_ERANGE;
	for (depth = 0; depth <= FA_PT_MAX_DEPTH; depth++) {
		const struct fa_pt_level *L = &f->level[lvl];

		x->level = lvl;
		if (sim_gpu__read_entry(g, lvl, table, va, &e, x))
			break;
		if (e.type != FA_PT_ENTRY_PDE || L->nsub == 0) {
			err = sim_gpu__leaf(f, lvl, va, &e, x);
			break;
		}
		if (L->nsub == 2 && (e.present & 1u)) {
			/* Dual entry: the big-page table decides first. */
			if (sim_gpu__read_entry(g, L->sub[0], e.sub[0], va, &big, x))
				break;
			if (big.type == FA_PT_ENTRY_PTE || big.type == FA_PT_ENTRY_NV4K ||
			    big.type == FA_PT_ENTRY_SPARSE) {
				err = sim_gpu__leaf(f, L->sub[0], va, &big, x);
				break;
			}
		}
		if (L->nsub == 2) {
			if (!(e.present & 2u))
				break;
			table = e.sub[1];
			lvl = L->sub[1];
		} else {
			if (!(e.present & 1u))
				break;
			table = e.sub[0];
			lvl = L->sub[0];
		}
	}
	return err;
}
/** @endcond */

/* ------------------------------------------------ the live-range checker */

/** @cond INTERNAL */
static inline struct sim_gpu_watch_slot *sim_gpu__watch_find(struct sim_gpu_watch *w, uint64_t slot,
							     bool insert)
{
	uint64_t h = ((slot >> 3) * 0x9e3779b97f4a7c15ull) >> 46; /* 18 bits */
	unsigned int i;

	for (i = 0; i < 64; i++) {
		struct sim_gpu_watch_slot *e = &w->slots[(h + i) & (SIM_GPU_WATCH_SLOTS - 1)];

		if (e->gen == w->gen && e->slot == slot)
			return e;
		if (e->gen != w->gen) {
			if (!insert || w->nslots >= SIM_GPU_WATCH_SLOTS / 2)
				break;
			e->gen = w->gen;
			e->slot = slot;
			e->lo = ~(uint64_t)0;
			e->hi = 0;
			w->nslots++;
			return e;
		}
	}
	if (insert)
		w->overflow++;
	return NULL;
}

/* Walk one watched page, remember every slot on its path; returns the walk's error. */
static inline int sim_gpu__watch_walk(struct sim_gpu *g, uint64_t va, struct sim_gpu_xlat *x)
{
	struct sim_gpu_watch *w = &g->watch;
	int err = sim_gpu__walk(g, w->pdb, va, x);
	unsigned int i;

	w->walks++;
	for (i = 0; i < x->npath; i++) {
		struct sim_gpu_watch_slot *e = sim_gpu__watch_find(w, x->path[i], true);

		if (!e)
			continue;
		if (va < e->lo)
			e->lo = va;
		if (va + FA_BIT64(w->shift) > e->hi)
			e->hi = va + FA_BIT64(w->shift);
	}
	return err;
}

static inline void sim_gpu__watch_check(struct sim_gpu *g, uint64_t lo, uint64_t hi)
{
	struct sim_gpu_watch *w = &g->watch;
	struct sim_gpu_xlat x;
	uint64_t va, i;

	for (va = lo; va < hi; va += FA_BIT64(w->shift)) {
		i = (va - w->va) >> w->shift;
		if (sim_gpu__watch_walk(g, va, &x))
			continue; /* a fault is never foreign */
		if (x.pa == w->old_pa[i] || (w->new_pa != SIM_GPU_NO_PA && x.pa == w->new_pa + (va - w->va)))
			continue;
		if (!w->foreign++) {
			w->first_va = va;
			w->first_pa = x.pa;
		}
	}
}

/* After every aperture write: re-walk the watched pages that read this slot. */
static inline void sim_gpu__watch_hook(void *ctx, uint64_t vram)
{
	struct sim_gpu *g = (struct sim_gpu *)ctx;
	struct sim_gpu_watch *w = &g->watch;
	struct sim_gpu_watch_slot *e;
	uint64_t lo, hi;

	if (!w->armed)
		return;
	w->writes++;
	e = sim_gpu__watch_find(w, vram & ~(uint64_t)7, false);
	if (!e)
		return;
	w->checked++;
	lo = e->lo > w->va ? e->lo : w->va;
	hi = e->hi < w->va + w->size ? e->hi : w->va + w->size;
	sim_gpu__watch_check(g, lo, hi);
}
/** @endcond */

/**
 * Turn the live-range checker on (allocates its tables; sim_gpu_fini() frees them).
 * @param g GPU.
 * @return 0 or -FA_ENOMEM.
 */
static inline int sim_gpu_watch_enable(struct sim_gpu *g)
{
	struct sim_gpu_watch *w = &g->watch;

	if (w->slots)
		return 0;
	w->slots = (struct sim_gpu_watch_slot *)calloc(SIM_GPU_WATCH_SLOTS, sizeof(*w->slots));
	w->old_pa = (uint64_t *)calloc(SIM_GPU_WATCH_PAGES, sizeof(*w->old_pa));
	if (!w->slots || !w->old_pa) {
		free(w->slots);
		free(w->old_pa);
		w->slots = NULL;
		w->old_pa = NULL;
		return -FA_ENOMEM;
	}
	sim_bar0_set_vram_hook(&g->bar, sim_gpu__watch_hook, g);
	return 0;
}

/**
 * Turn the live-range checker off again (frees its tables): later
 * sim_gpu_watch_begin() calls do nothing. A benchmark of the VMM itself
 * uses it so that the checker's page walks are not timed as the VMM's.
 * @param g GPU (no watch armed).
 */
static inline void sim_gpu_watch_disable(struct sim_gpu *g)
{
	struct sim_gpu_watch *w = &g->watch;

	sim_bar0_set_vram_hook(&g->bar, NULL, NULL);
	w->armed = false;
	free(w->slots);
	free(w->old_pa);
	w->slots = NULL;
	w->old_pa = NULL;
}

/**
 * Arm the checker on a live range about to change: walk every page of
 * 2^@p shift bytes once, remember its translation and the entry slots its
 * walk reads. Until sim_gpu_watch_end(), every aperture write to one of those
 * slots re-walks the pages that read it. One watch at a time.
 * @param g GPU (checker enabled; under the caller's MMIO lock or with MMIO quiet).
 * @param pdb Root table of the VM.
 * @param va First VA of the range.
 * @param size Bytes.
 * @param new_pa Address @p va will map, or #SIM_GPU_NO_PA when it becomes unmapped.
 * @param shift Granule of the checks (the smallest page size involved).
 */
static inline void sim_gpu_watch_begin(struct sim_gpu *g, uint64_t pdb, uint64_t va, uint64_t size,
				       uint64_t new_pa, unsigned int shift)
{
	struct sim_gpu_watch *w = &g->watch;
	struct sim_gpu_xlat x;
	uint64_t i, n = size >> shift;

	if (!w->slots)
		return;
	w->watches++;
	if (n > SIM_GPU_WATCH_PAGES) {
		w->overflow++;
		return;
	}
	w->gen++;
	w->nslots = 0;
	w->pdb = pdb;
	w->va = va;
	w->size = size;
	w->new_pa = new_pa;
	w->shift = shift;
	for (i = 0; i < n; i++)
		w->old_pa[i] = sim_gpu__watch_walk(g, va + (i << shift), &x) ? SIM_GPU_NO_PA : x.pa;
	w->armed = true;
}

/**
 * Disarm the checker (the change is complete).
 * @param g GPU.
 */
static inline void sim_gpu_watch_end(struct sim_gpu *g)
{
	g->watch.armed = false;
}

/**
 * Translate through the TLB: a hit whose epoch is current returns the cached
 * page; otherwise walk and cache the 4 KiB piece. This is what a GPU access
 * sees, so stale entries after a missing invalidate show up here.
 * @param g GPU.
 * @param pdb Root table of the VM.
 * @param va GPU virtual address.
 * @param x Result (see sim_gpu_walk(); a hit reports the cached page size and attributes, level 0).
 * @return 0 or -FA_EFAULT / -FA_ERANGE as sim_gpu_walk().
 */
static inline int sim_gpu_translate(struct sim_gpu *g, uint64_t pdb, uint64_t va,
				    struct sim_gpu_xlat *x)
{
	uint64_t vpn = va >> 12, epoch = sim_gpu_tlb_epoch(g);
	struct sim_gpu_tlb_entry *t = &g->tlb[(vpn ^ (pdb >> 12)) & (SIM_GPU_TLB_ENTRIES - 1)];
	int err;

	pthread_mutex_lock(&g->tlb_lock);
	if (t->valid && t->pdb == pdb && t->vpn == vpn && t->epoch == epoch) {
		memset(x, 0, sizeof(*x));
		x->pa = t->pa4k + (va & 0xfff);
		x->page_shift = t->page_shift;
		x->attr = t->attr;
		x->type = FA_PT_ENTRY_PTE;
		g->stats.tlb_hits++;
		pthread_mutex_unlock(&g->tlb_lock);
		return 0;
	}
	pthread_mutex_unlock(&g->tlb_lock);
	err = sim_gpu_walk(g, pdb, va, x);
	if (err)
		return err;
	pthread_mutex_lock(&g->tlb_lock);
	t->valid = true;
	t->pdb = pdb;
	t->vpn = vpn;
	t->pa4k = x->pa & ~(uint64_t)0xfff;
	t->attr = x->attr;
	t->page_shift = x->page_shift;
	t->epoch = epoch;
	pthread_mutex_unlock(&g->tlb_lock);
	return 0;
}

#ifdef __cplusplus
}
#endif

#endif /* SIM_GPU_H */
