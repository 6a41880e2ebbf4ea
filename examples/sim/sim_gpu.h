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

/** Result of a walk or a translation. */
struct sim_gpu_xlat {
	uint64_t pa;             /**< Physical address of the byte at the VA (valid when 0 is returned). */
	unsigned int page_shift; /**< log2 of the page size of the leaf that mapped it. */
	unsigned int level;      /**< Level of the leaf, or of the entry that faulted. */
	uint32_t attr;           /**< PTE attributes (FA_PT_* bits). */
	enum fa_pt_entry_type type; /**< Leaf type (PTE) or why it faulted (INVALID, SPARSE, NV4K). */
	unsigned int reads;      /**< Raw 8-byte VRAM reads the walk made. */
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
	if (L->entry_log2 == 4)
		raw[1] = sim_bar0_peek64(&g->bar, at + 8);
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
static inline int sim_gpu_walk(struct sim_gpu *g, uint64_t pdb, uint64_t va, struct sim_gpu_xlat *x)
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
	pthread_mutex_lock(&g->tlb_lock);
	g->stats.walks++;
	g->stats.walk_reads += x->reads;
	if (err)
		g->stats.faults++;
	pthread_mutex_unlock(&g->tlb_lock);
	return err;
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
