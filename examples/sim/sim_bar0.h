/* SPDX-License-Identifier: MIT */
/**
 * @file sim_bar0.h
 * @brief Simulated BAR0 of an NVIDIA GPU: VRAM, the PRAMIN window register and aperture.
 *
 * Userspace only (uses libc and mmap). Shared by the tests, the benchmarks
 * and the reference VMM's simulated GPU (sim_gpu.h builds on it).
 *
 * - **VRAM** is host memory from `mmap(MAP_PRIVATE | MAP_ANONYMOUS |
 *   MAP_NORESERVE)`: a 16 GiB VRAM costs only the pages that are touched.
 *   sim_bar0_vram() gives checkers (and the MMU walker) a direct pointer.
 * - **BAR0**: sim_bar0_rd32() / sim_bar0_wr32() take a BAR0 offset, with the
 *   exact signatures of #fa_pramin_hw, so a PRAMIN window plugs straight in
 *   (sim_bar0_pramin_hw()). The window register is at the generation's
 *   offset (`0x1700` or `0x10FD40`) and holds `vram_addr >> 16`; the 1 MiB
 *   aperture at `0x700000` maps [base, base + 1 MiB) of VRAM. Other offsets
 *   go to an optional register hook (the TLB-invalidate register of
 *   sim_gpu.h); without one, reads return #SIM_BAR0_BAD_READ.
 * - **Recording**: counters (#sim_bar0_stats) and an optional bounded log
 *   of every access (sim_bar0_log_enable()).
 * - **Torn-entry checker** (on by default): for every 8-byte VRAM slot
 *   written through the aperture, the state between the first and second
 *   32-bit write of an update is checked; if that intermediate value has
 *   VALID (bit 0) set and is neither the old nor the new value (a stale
 *   other half was observable), it counts as a violation in
 *   #sim_bar0_stats::torn_valid and the first one is kept for the report.
 *
 * Not thread-safe: like real hardware behind the PRAMIN lock, the caller
 * serialises MMIO. Reading VRAM through sim_bar0_vram() from another thread
 * while MMIO writes happen is the caller's race.
 *
 * @code
 * struct sim_bar0 bar;
 * struct fa_pramin_gen gen;
 * struct fa_pramin_hw hw;
 * struct fa_pramin_window win;
 * struct fa_pramin_accessor acc;
 *
 * fa_pramin_gen_get(FA_PRAMIN_GEN_PBUS, &gen);
 * sim_bar0_init(&bar, 16ull << 30, &gen);
 * sim_bar0_pramin_hw(&bar, &hw);
 * fa_pramin_window_init(&win, &hw, &gen, bar.vram_size, &acc);
 * fa_pramin_wr64(&acc, 0x12340000, pte, FA_PRAMIN_HIGH_FIRST);
 * assert(bar.stats.torn_valid == 0);
 * sim_bar0_fini(&bar);
 * @endcode
 */
#ifndef SIM_BAR0_H
#define SIM_BAR0_H

#include <fencealloc/pramin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Strict -std=c11 hides these two; the values are Linux's (the sim is Linux userspace). */
#ifndef MAP_ANONYMOUS
#define MAP_ANONYMOUS 0x20
#endif
#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0x4000
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** Value returned by reads of unknown registers and of the aperture beyond VRAM. */
#define SIM_BAR0_BAD_READ 0xBADF5040u
/** Size of BAR0 (16 MiB); offsets at or above it are errors. */
#define SIM_BAR0_SIZE 0x1000000u
/**
 * Buckets of the torn-entry checker: half-written 8-byte slots are tracked in
 * a direct-mapped table indexed by slot number, so any run of up to this many
 * consecutive entries (e.g. "all high halves, then all low halves") is
 * tracked exactly; a collision drops the older slot (counted in
 * #sim_bar0_stats::torn_untracked).
 */
#define SIM_BAR0_PENDING 4096
/** #sim_bar0_access::vram for accesses outside the aperture. */
#define SIM_BAR0_NO_VRAM (~(uint64_t)0)

/** One recorded MMIO access. */
struct sim_bar0_access {
	uint64_t vram; /**< VRAM address of an aperture access, else #SIM_BAR0_NO_VRAM. */
	uint32_t off;  /**< BAR0 offset. */
	uint32_t val;  /**< Value read or written. */
	bool write;    /**< true for a write. */
};

/** Counters of a simulated BAR0. */
struct sim_bar0_stats {
	uint64_t reads;           /**< All 32-bit MMIO reads. */
	uint64_t writes;          /**< All 32-bit MMIO writes. */
	uint64_t aperture_reads;  /**< Reads through the PRAMIN aperture. */
	uint64_t aperture_writes; /**< Writes through the PRAMIN aperture. */
	uint64_t window_writes;   /**< Writes of the window register. */
	uint64_t window_changes;  /**< Window-register writes that changed the base. */
	uint64_t errors;          /**< Misaligned, out-of-BAR0, beyond-VRAM or bad-target accesses. */
	uint64_t unknown;         /**< Accesses to registers nobody handles. */
	uint64_t torn_valid;      /**< Torn-entry violations (see the file overview). */
	uint64_t torn_untracked;  /**< Half-written slots dropped on a checker-table collision. */
	uint64_t log_dropped;     /**< Accesses not logged because the log was full. */
};

/** A slot whose first half has been written and whose second half is awaited. */
struct sim_bar0_pending {
	uint64_t slot; /**< 8-byte aligned VRAM address. */
	uint64_t old;  /**< Slot value before the first half was written. */
	unsigned half; /**< Half written first (0 low, 1 high). */
	bool used;     /**< Whether the bucket holds a slot. */
};

/** The first torn-entry violation, for the report. */
struct sim_bar0_torn {
	uint64_t slot; /**< VRAM address of the entry. */
	uint64_t old;  /**< Value before the update. */
	uint64_t mid;  /**< Observable intermediate value (VALID set, one half stale). */
	uint64_t now;  /**< Value after the update. */
};

/**
 * Hook for registers other than the window register and the aperture.
 * @param ctx Hook context.
 * @param off BAR0 offset.
 * @param val Value to write, or where to store the value read.
 * @param write true for a write.
 * @return true when the hook handled the register.
 */
typedef bool (*sim_bar0_reg_fn)(void *ctx, uint32_t off, uint32_t *val, bool write);

/**
 * Hook called after every 32-bit write through the aperture has landed in VRAM
 * (a checker that looks at what the device could see now).
 * @param ctx Hook context.
 * @param vram VRAM address written (4-byte aligned).
 */
typedef void (*sim_bar0_vram_fn)(void *ctx, uint64_t vram);

/** A simulated BAR0 with its VRAM. */
struct sim_bar0 {
	unsigned char *vram;      /**< Host copy of VRAM (direct access for checkers). */
	uint64_t vram_size;       /**< Bytes of VRAM. */
	struct fa_pramin_gen gen; /**< Window register layout. */
	uint32_t window_reg;      /**< Last value written to the window register. */
	uint64_t window_base;     /**< VRAM address the aperture currently maps. */
	struct sim_bar0_stats stats; /**< Counters. */
	struct sim_bar0_access *log; /**< Access log (NULL when disabled). */
	size_t log_cap;           /**< Capacity of @c log. */
	size_t log_len;           /**< Entries in @c log. */
	bool check_torn;          /**< Torn-entry checker on (default true). */
	struct sim_bar0_pending *pending; /**< #SIM_BAR0_PENDING buckets of half-written slots. */
	struct sim_bar0_torn first_torn; /**< First violation (valid when stats.torn_valid). */
	sim_bar0_reg_fn reg_hook; /**< Other registers (NULL: none). */
	void *reg_ctx;            /**< Context of @c reg_hook. */
	sim_bar0_vram_fn vram_hook; /**< After every aperture write (NULL: none). */
	void *vram_ctx;           /**< Context of @c vram_hook. */
};

/**
 * Create a simulated BAR0 with @p vram_size bytes of zeroed, lazily backed VRAM.
 * @param b Object to initialise.
 * @param vram_size VRAM bytes: > 0, a multiple of 8, at most 2^46 (16 GiB is fine: only
 *        touched pages cost memory).
 * @param gen Window register layout (copied); NULL for #FA_PRAMIN_GEN_PBUS.
 * @return 0, -FA_EINVAL or -FA_ENOMEM.
 */
static inline int sim_bar0_init(struct sim_bar0 *b, uint64_t vram_size,
				const struct fa_pramin_gen *gen)
{
	void *p;

	if (!b || vram_size == 0 || (vram_size & 7) != 0 || vram_size > ((uint64_t)1 << 46))
		return -FA_EINVAL;
	memset(b, 0, sizeof(*b));
	if (gen)
		b->gen = *gen;
	else
		fa_pramin_gen_get(FA_PRAMIN_GEN_PBUS, &b->gen);
	if (fa__pramin_gen_check(&b->gen))
		return -FA_EINVAL;
	b->pending = (struct sim_bar0_pending *)calloc(SIM_BAR0_PENDING, sizeof(*b->pending));
	if (!b->pending)
		return -FA_ENOMEM;
	p = mmap(NULL, (size_t)vram_size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		free(b->pending);
		b->pending = NULL;
		return -FA_ENOMEM;
	}
	b->vram = (unsigned char *)p;
	b->vram_size = vram_size;
	b->check_torn = true;
	return 0;
}

/**
 * Release the VRAM and the log.
 * @param b Simulated BAR0.
 */
static inline void sim_bar0_fini(struct sim_bar0 *b)
{
	if (b->vram)
		munmap(b->vram, (size_t)b->vram_size);
	free(b->log);
	free(b->pending);
	b->vram = NULL;
	b->log = NULL;
	b->pending = NULL;
	b->log_cap = b->log_len = 0;
}

/**
 * Record every subsequent access in a log of @p cap entries (replacing any
 * previous log). When full, further accesses only count in log_dropped.
 * @param b Simulated BAR0.
 * @param cap Entries; 0 disables logging.
 * @return 0 or -FA_ENOMEM.
 */
static inline int sim_bar0_log_enable(struct sim_bar0 *b, size_t cap)
{
	struct sim_bar0_access *log = NULL;

	if (cap) {
		log = (struct sim_bar0_access *)calloc(cap, sizeof(*log));
		if (!log)
			return -FA_ENOMEM;
	}
	free(b->log);
	b->log = log;
	b->log_cap = cap;
	b->log_len = 0;
	return 0;
}

/**
 * Empty the log (keeps its capacity).
 * @param b Simulated BAR0.
 */
static inline void sim_bar0_log_clear(struct sim_bar0 *b)
{
	b->log_len = 0;
}

/**
 * Install the handler of other registers.
 * @param b Simulated BAR0.
 * @param fn Hook (NULL to remove).
 * @param ctx Its context.
 */
static inline void sim_bar0_set_reg_hook(struct sim_bar0 *b, sim_bar0_reg_fn fn, void *ctx)
{
	b->reg_hook = fn;
	b->reg_ctx = ctx;
}

/**
 * Install the hook called after every aperture write (a live checker).
 * @param b Simulated BAR0.
 * @param fn Hook (NULL to remove).
 * @param ctx Its context.
 */
static inline void sim_bar0_set_vram_hook(struct sim_bar0 *b, sim_bar0_vram_fn fn, void *ctx)
{
	b->vram_hook = fn;
	b->vram_ctx = ctx;
}

/**
 * Direct pointer to VRAM (for checkers and an MMU walker).
 * @param b Simulated BAR0.
 * @return Host address of VRAM address 0.
 */
static inline unsigned char *sim_bar0_vram(struct sim_bar0 *b)
{
	return b->vram;
}

/**
 * Read a 64-bit little-endian VRAM word directly (no MMIO, not counted).
 * @param b Simulated BAR0.
 * @param addr VRAM address; must be inside VRAM.
 * @return The value.
 */
static inline uint64_t sim_bar0_peek64(const struct sim_bar0 *b, uint64_t addr)
{
	uint64_t v;

	memcpy(&v, b->vram + addr, sizeof(v));
	return v;
}

/** @cond INTERNAL */
static inline void sim_bar0__log(struct sim_bar0 *b, uint32_t off, uint32_t val, uint64_t vram,
				 bool write)
{
	struct sim_bar0_access *a;

	if (!b->log)
		return;
	if (b->log_len == b->log_cap) {
		b->stats.log_dropped++;
		return;
	}
	a = &b->log[b->log_len++];
	a->off = off;
	a->val = val;
	a->vram = vram;
	a->write = write;
}

static inline void sim_bar0__torn_check(struct sim_bar0 *b, uint64_t slot, unsigned half,
					uint64_t before, uint64_t now)
{
	struct sim_bar0_pending *p = &b->pending[(slot >> 3) & (SIM_BAR0_PENDING - 1)];

	if (p->used && p->slot == slot) {
		if (p->half == half) { /* the earlier write was a lone half: restart */
			p->old = before;
			return;
		}
		/* second half: `before` is what the device could see in between */
		if ((before & 1) && before != p->old && before != now && !b->stats.torn_valid++) {
			b->first_torn.slot = slot;
			b->first_torn.old = p->old;
			b->first_torn.mid = before;
			b->first_torn.now = now;
		}
		p->used = false;
		return;
	}
	if (p->used)
		b->stats.torn_untracked++;
	p->used = true;
	p->slot = slot;
	p->old = before;
	p->half = half;
}

/* A 32-bit write through the aperture at VRAM address `vram` (4-byte aligned). */
static inline void sim_bar0__aperture_write(struct sim_bar0 *b, uint64_t vram, uint32_t val)
{
	uint64_t slot = vram & ~(uint64_t)7, before, now;
	unsigned half = (unsigned)((vram >> 2) & 1);

	b->stats.aperture_writes++;
	if (vram + 4 > b->vram_size) {
		b->stats.errors++;
		return;
	}
	memcpy(&before, b->vram + slot, sizeof(before));
	memcpy(b->vram + vram, &val, sizeof(val));
	if (b->vram_hook)
		b->vram_hook(b->vram_ctx, vram);
	if (!b->check_torn)
		return;
	now = half ? (before & 0xFFFFFFFFull) | ((uint64_t)val << 32)
		   : (before & ~0xFFFFFFFFull) | val;
	sim_bar0__torn_check(b, slot, half, before, now);
}

static inline void sim_bar0__window_write(struct sim_bar0 *b, uint32_t val)
{
	uint64_t field = ((uint64_t)1 << b->gen.base_bits) - 1;
	uint64_t base = ((uint64_t)val & field) << b->gen.base_shift;

	if (((uint64_t)(val & ~b->gen.reg_or) & ~field) != 0)
		b->stats.errors++; /* a non-VRAM target or reserved bits: not simulated */
	b->window_reg = val;
	b->stats.window_writes++;
	if (base != b->window_base)
		b->stats.window_changes++;
	b->window_base = base;
}
/** @endcond */

/**
 * 32-bit MMIO read (the #fa_pramin_hw::rd32 signature).
 * @param ctx The #sim_bar0.
 * @param off BAR0 offset.
 * @return The value; #SIM_BAR0_BAD_READ for unknown registers, 0xFFFFFFFF
 *         for aperture reads beyond VRAM or bad offsets (counted as errors).
 */
static inline uint32_t sim_bar0_rd32(void *ctx, uint32_t off)
{
	struct sim_bar0 *b = (struct sim_bar0 *)ctx;
	uint64_t vram = SIM_BAR0_NO_VRAM;
	uint32_t val = 0xFFFFFFFFu;

	b->stats.reads++;
	if ((off & 3) || off >= SIM_BAR0_SIZE) {
		b->stats.errors++;
	} else if (off >= b->gen.aperture && off - b->gen.aperture < b->gen.aperture_size) {
		b->stats.aperture_reads++;
		vram = b->window_base + (off - b->gen.aperture);
		if (vram + 4 <= b->vram_size)
			memcpy(&val, b->vram + vram, 4);
		else
			b->stats.errors++;
	} else if (off == b->gen.window_reg) {
		val = b->window_reg;
	} else if (!b->reg_hook || !b->reg_hook(b->reg_ctx, off, &val, false)) {
		b->stats.unknown++;
		val = SIM_BAR0_BAD_READ;
	}
	sim_bar0__log(b, off, val, vram, false);
	return val;
}

/**
 * 32-bit MMIO write (the #fa_pramin_hw::wr32 signature).
 * @param ctx The #sim_bar0.
 * @param off BAR0 offset.
 * @param val Value.
 */
static inline void sim_bar0_wr32(void *ctx, uint32_t off, uint32_t val)
{
	struct sim_bar0 *b = (struct sim_bar0 *)ctx;
	uint64_t vram = SIM_BAR0_NO_VRAM;
	uint32_t rel = off - b->gen.aperture, v = val;

	b->stats.writes++;
	if ((off & 3) || off >= SIM_BAR0_SIZE) {
		b->stats.errors++;
	} else if (rel < b->gen.aperture_size) { /* unsigned: also false below the aperture */
		vram = b->window_base + rel;
		sim_bar0__aperture_write(b, vram, val);
	} else if (off == b->gen.window_reg) {
		sim_bar0__window_write(b, val);
	} else if (!b->reg_hook || !b->reg_hook(b->reg_ctx, off, &v, true)) {
		b->stats.unknown++;
	}
	if (b->log)
		sim_bar0__log(b, off, val, vram, true);
}

/**
 * Fill in a PRAMIN hardware interface that drives this BAR0.
 * @param b Simulated BAR0.
 * @param hw Interface to fill in (set_window NULL: the window register is
 *        written with wr32 at the generation's offset, and logged as such).
 */
static inline void sim_bar0_pramin_hw(struct sim_bar0 *b, struct fa_pramin_hw *hw)
{
	hw->set_window = NULL;
	hw->rd32 = sim_bar0_rd32;
	hw->wr32 = sim_bar0_wr32;
	hw->ctx = b;
}

/**
 * Print the counters (and the first torn-entry violation, if any).
 * @param b Simulated BAR0.
 * @param f Stream.
 */
static inline void sim_bar0_print(const struct sim_bar0 *b, FILE *f)
{
	const struct sim_bar0_stats *s = &b->stats;

	fprintf(f, "sim_bar0: rd %llu wr %llu (aperture rd %llu wr %llu) window writes %llu "
		   "changes %llu errors %llu unknown %llu torn %llu\n",
		(unsigned long long)s->reads, (unsigned long long)s->writes,
		(unsigned long long)s->aperture_reads, (unsigned long long)s->aperture_writes,
		(unsigned long long)s->window_writes, (unsigned long long)s->window_changes,
		(unsigned long long)s->errors, (unsigned long long)s->unknown,
		(unsigned long long)s->torn_valid);
	if (s->torn_valid)
		fprintf(f, "sim_bar0: first torn entry at 0x%llx: 0x%016llx -> 0x%016llx -> 0x%016llx\n",
			(unsigned long long)b->first_torn.slot, (unsigned long long)b->first_torn.old,
			(unsigned long long)b->first_torn.mid, (unsigned long long)b->first_torn.now);
}

#ifdef __cplusplus
}
#endif

#endif /* SIM_BAR0_H */
