/* SPDX-License-Identifier: MIT */
/**
 * @file vmm.h
 * @brief Reference GPU VMM core: the VM_BIND logic of submit / run / cleanup that a driver embeds.
 *
 * What a driver with a VM_BIND ioctl has to write, composed from fencealloc's
 * modules, as a kernel-grade core: C11, freestanding, no threads, no
 * condition variables, no fence type, no global allocator, no clock. The
 * driver brings its scheduler (drm_sched: `run_job` calls vmm_job_run(),
 * `free_job` calls vmm_job_cleanup()), its fences (the core never signals or
 * waits on one), its locks (#vmm_lock: lock/unlock/assert hooks over the
 * driver's own mutexes) and its hardware hooks (#vmm_hw). The userspace host
 * in `host/` (POSIX threads, a small fence, a scheduler thread) and the KUnit
 * suite are two such drivers.
 *
 * - **Device** (#vmm_device, embedded in the driver's device): VRAM managed by
 *   the buddy (buffer objects and page-table memory), the page-table memory
 *   accessor (a PRAMIN window in the simulator), the TLB-invalidate hook.
 * - **VM** (#vmm_vm, embedded in the driver's VM): a GPU VA range, two views
 *   of its mappings (#vmm_va_set, gpuva.h), a page-table tree (pt.h), and two
 *   of the driver's locks.
 * - **Job** (#vmm_job, allocated by vmm_job_submit() through the driver's
 *   allocator): the ops, their reservations, what the run step removed.
 *
 * **The lock model** (the same in docs/design.md and docs/vmm.md). Four
 * driver locks, always nested in this order:
 *
 * | lock | protects | held by the driver around | taken by the core | never |
 * |------|----------|---------------------------|-------------------|-------|
 * | VM lock (`vm_lock`)   | submit-side view, reservation pools, job bookkeeping | vmm_job_submit(), vmm_job_cleanup(), vmm_vm_fini() | — | taken in a run step (it is held across allocations) |
 * | page-table lock (`pt_lock`) | run-side view, the page-table tree (references, PTEs, deferred frees) | vmm_job_run() | inside submit (a read of the tree) and cleanup (reclaim), nested in the VM lock | held across an allocation or a fence wait |
 * | VRAM lock (`vram_lock`) | the VRAM buddy | — | vmm_vram_alloc(), vmm_vram_free() (submit, cleanup; nested in the VM and page-table locks) | taken in a run step |
 * | hw lock (`hw_lock`) | MMIO: the PRAMIN window, flush, TLB invalidate | — | every page-table memory access through the PRAMIN window (none with vmm_hw::pt_mem_direct) and the run step's flush + invalidate (innermost) | held across anything but MMIO |
 *
 * Where the kernel can check a lock, the driver's `assert_held` hook does
 * (lockdep_assert_held()); every entry point calls it for the locks its
 * `@locking` names.
 *
 * **The three stages**:
 *
 * | stage   | driver context | does | may fail? |
 * |---------|----------------|------|-----------|
 * | submit  | the ioctl, VM lock held | validate every op; check unmaps and splits against the submit-side view; plan and reserve mapping nodes and page tables (the caller's allocator, #FA_GFP_KERNEL); apply the ops to the submit-side view | yes, with nothing changed |
 * | run     | the scheduler's `run_job`, inside the driver's fence-signalling section, page-table lock held | apply the ops to the run-side view (nodes from the reservation), clear replaced PTEs, drop their table references (tables reaching zero are queued, not freed), reference the new range (tables from the reservation), write PTEs, flush, invalidate the TLB | no; never allocates |
 * | cleanup | `free_job` or a worker, after the job's fence signalled, VM lock held | free the tables whose invalidate has completed, give reservation leftovers back, free removed mapping nodes, drop buffer references, free the job | no |
 *
 * **Ordering.** Jobs of one VM must run in submission order (one drm_sched
 * entity per VM, or a dependency on the VM's previous fence): submit plans
 * against the state after every earlier job. vmm_job_run() checks it (a job
 * out of order warns and is counted in #vmm_stats::order_errors).
 * Cleanups may happen in any order after the fences signalled.
 *
 * **fa_pt_ref() in the run stage.** pt.h lists fa_pt_ref() (and
 * fa_pt_ref_map(), which the run step uses for maps: reference, then PTEs,
 * in one walk) as `@stage submit` because with a general allocator they
 * allocate. The run step calls them on purpose: a map of 4 KiB pages over a live 2 MiB page needs the huge slot's
 * reference dropped first (pt.h refuses small tables under a referenced huge
 * slot, -FA_EBUSY), and that can only happen when the job runs. It stays
 * allocation-free because both allocators it is handed (with #FA_GFP_NOWAIT)
 * draw only from the job's reservation, sized at submit: the table allocator
 * pops a reserved VRAM address, the shadow allocator fa_reserve_take()s a
 * reserved node; an empty reservation returns an error (counted as a run
 * error), never a fallback allocation. fa_pt_unref() in the run stage only
 * clears PDEs and queues tables on the tree's deferred list, tagged with the
 * epoch of the TLB invalidate the same run step issues at its end; cleanup
 * frees them once that epoch has completed (PDE clear → flush → invalidate →
 * free).
 *
 * Two views of the address space: the **submit-side view** is the state after
 * every *submitted* job (what submit validates against, like nouveau updating
 * drm_gpuvm at submit); the **run-side view** is the state after every job
 * that has *run*: what the page tables hold. When the VM is idle they are
 * equal (vmm_vm_views_equal()).
 *
 * Pointer preconditions: documented and FA_ASSERTed (a NULL VM, job or op
 * array is a caller bug); values coming from the ioctl (ops) are checked and
 * refused with a negative errno.
 *
 * @code
 * // driver VM: embeds the core VM and its own locks
 * vmm_device_init(&drv->vmm, &hw, &alloc, NULL);         // hw.hw_lock, hw.vram_lock set
 * vmm_vm_init(&dvm->vm, &drv->vmm, 1ull << 32, 1ull << 40, &locks);
 * vmm_bo_create(&drv->vmm, 2u << 20, &bo);
 * vmm_op_map(&op, 1ull << 32, 2u << 20, bo, 0, 16);     // 64 KiB pages
 * mutex_lock(&dvm->lock);
 * err = vmm_job_submit(&dvm->vm, &op, 1, &job);          // plans, reserves
 * mutex_unlock(&dvm->lock);
 * // run_job():   cookie = dma_fence_begin_signalling(); mutex_lock(&dvm->pt_lock);
 * //              vmm_job_run(job); mutex_unlock(&dvm->pt_lock); signal; dma_fence_end_signalling(cookie);
 * // free_job():  mutex_lock(&dvm->lock); vmm_job_cleanup(job); mutex_unlock(&dvm->lock);
 * @endcode
 */
#ifndef VMM_VMM_H
#define VMM_VMM_H

#include <fencealloc/base.h>
#include <fencealloc/reserve.h>
#include <fencealloc/deferred.h>
#include <fencealloc/buddy.h>
#include <fencealloc/pramin.h>
#include <fencealloc/pt.h>
#include <fencealloc/ptalloc.h>

#include "gpuva.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Most ops in one job (the ioctl's array limit). */
#define VMM_JOB_MAX_OPS 64u
/** Op kind: map a BO range. */
#define VMM_OP_MAP 1u
/** Op kind: unmap a VA range (parts inside a sparse region become sparse again). */
#define VMM_OP_UNMAP 2u
/** Op kind: make a VA range a sparse region: reads return zero, writes are dropped, no fault. */
#define VMM_OP_SPARSE 3u
/** Op kind: remove a sparse region (exactly as bound, with no mapping left inside). */
#define VMM_OP_UNSPARSE 4u
/** Mapping flag: read-only. */
#define VMM_MAP_READ_ONLY 0x1u
/** VRAM block of page-table memory (the buddy's chunk); smaller tables share blocks (ptalloc.h). */
#define VMM_TABLE_BYTES 4096u
/** Unit tables up to this size are packed by (256 bytes: an NVIDIA big-page table). */
#define VMM_TABLE_UNIT 256u
/** Distinct shadow-node sizes a format may have (one reservation pool each). */
#define VMM_SHADOW_KINDS FA_PT_MAX_LEVELS
/** No physical address (vmm_hw::live_begin: the range becomes unmapped). */
#define VMM_NO_PA (~(uint64_t)0)

/** One operation of a VM_BIND job, as the ioctl hands it over. */
struct vmm_op {
	uint32_t kind;        /**< #VMM_OP_MAP, #VMM_OP_UNMAP, #VMM_OP_SPARSE or #VMM_OP_UNSPARSE. */
	uint32_t page_shift;  /**< Page size, log2 (12, 16, 21 for NVIDIA ver2). */
	uint64_t va;          /**< First GPU virtual address. */
	uint64_t size;        /**< Bytes. */
	struct vmm_bo *bo;    /**< Map: buffer object (NULL for unmap). */
	uint64_t bo_offset;   /**< Map: offset in @ref bo. */
	uint32_t flags;       /**< Map: #VMM_MAP_READ_ONLY. */
};

/** A buffer object: contiguous VRAM. Refcounted (creator, pending jobs, mapping nodes). */
struct vmm_bo {
	struct vmm_device *dev; /**< Owner. */
	uint64_t pa;            /**< VRAM address. */
	uint64_t size;          /**< Bytes (a power of two, >= 4 KiB). */
	int refcount;           /**< References (atomic). */
};

/**
 * One of the driver's locks, as the core sees it: embed it next to the
 * driver's mutex and recover the mutex with FA_CONTAINER_OF in the hooks.
 * The core never initialises, destroys or sleeps on it beyond lock().
 */
struct vmm_lock {
	void (*lock)(struct vmm_lock *l);   /**< Take it (mutex_lock()). */
	void (*unlock)(struct vmm_lock *l); /**< Release it (mutex_unlock()). */
	/** Optional: complain unless the caller holds it (lockdep_assert_held()). */
	void (*assert_held)(struct vmm_lock *l);
};

/** What the core needs from the driver's hardware layer. */
struct vmm_hw {
	/** Page-table memory accessor (PRAMIN window); used under @ref hw_lock unless @ref pt_mem_direct. */
	struct fa_pramin_accessor pt_mem;
	/** Invalidate the TLB for the VM whose root is @p pdb (MMIO; hw lock held); returns its epoch. */
	uint64_t (*tlb_invalidate)(void *ctx, uint64_t pdb);
	/** Epoch of the last completed invalidate (any context). */
	uint64_t (*tlb_epoch)(void *ctx);
	/** Optional: a monotonic clock in ns, for the run-stage time statistics (NULL: not timed). */
	uint64_t (*now_ns)(void *ctx);
	/**
	 * Optional (a simulator's checker): the run step is about to change live
	 * PTEs of `[va, va + size)`, which will then map @p new_pa onwards
	 * (#VMM_NO_PA: nothing); @p shift is the smallest page size involved.
	 * Called under the page-table lock, without the hw lock.
	 */
	void (*live_begin)(void *ctx, uint64_t pdb, uint64_t va, uint64_t size, uint64_t new_pa,
			   unsigned int shift);
	/** Optional: the change announced by @ref live_begin is complete. */
	void (*live_end)(void *ctx);
	void *ctx;                      /**< Argument of the hooks. */
	uint64_t vram_size;             /**< Bytes of VRAM managed by the buddy. */
	const struct fa_pt_format *fmt; /**< Page-table format. */
	struct vmm_lock *hw_lock;       /**< The driver's MMIO lock (innermost; run-safe). */
	struct vmm_lock *vram_lock;     /**< The driver's VRAM-allocator lock (submit/cleanup). */
	/** VRAM reads as zero at init (cleared at boot, or a simulator): the
	 * buddy starts all clear, and page tables on clear memory are not filled. */
	bool vram_cleared;
	/**
	 * @ref pt_mem is a CPU mapping of the table memory (fa_pramin_direct,
	 * BAR2-style), not the shared PRAMIN window: a VM's page-table accesses
	 * touch only its own tables, under its page-table lock, and take no
	 * device-wide lock. The hw lock then covers only the run step's flush
	 * and TLB invalidate (MMIO registers). Default false: every access
	 * under the hw lock.
	 */
	bool pt_mem_direct;
};

/** Tunables (all zero = defaults). */
struct vmm_config {
	/**
	 * Most mapping nodes one VM may hold, live plus reserved by pending jobs
	 * (0: no limit). Submit fails with -FA_ENOSPC, nothing changed, when a job's
	 * worst case does not fit: back-pressure instead of unbounded reservations.
	 */
	unsigned long node_budget;
	/**
	 * Most page-table bytes one VM may pin (0: no limit): the tables it
	 * holds after every submitted job, plus tables released by those jobs
	 * and not yet freed (they wait for their TLB invalidate). A submit over
	 * it fails with -FA_EDQUOT, nothing changed.
	 */
	uint64_t pt_budget;
	/**
	 * Merge a map with neighbours it continues (same BO, contiguous offset,
	 * page size and flags) into one mapping. Default false: neighbours stay
	 * separate, as with drm_gpuvm.
	 */
	bool merge;
};

/** Device-wide counters (atomic). */
struct vmm_stats {
	unsigned long jobs_submitted;  /**< Jobs accepted at submit. */
	unsigned long jobs_rejected;   /**< Submits that failed (nothing changed). */
	unsigned long jobs_run;        /**< Run steps completed. */
	unsigned long jobs_cleaned;    /**< Cleanups completed. */
	unsigned long ops_map;         /**< Map ops run. */
	unsigned long ops_unmap;       /**< Unmap ops run. */
	unsigned long nodes_reserved;  /**< Mapping nodes reserved at submit (the split/merge plan). */
	unsigned long nodes_used;      /**< Of those, taken by run steps. */
	unsigned long pt_reserved;     /**< Page tables reserved at submit (the page-table plan). */
	unsigned long pt_estimated;    /**< What a tree-aware estimate without the plan said at submit (comparison). */
	unsigned long pt_estimate_short; /**< Jobs that needed more tables than that estimate said. */
	unsigned long pt_used;         /**< Of those, created by run steps. */
	unsigned long pt_static;       /**< What the static worst case (fa_pt_estimate_static()) would have reserved. */
	unsigned long reserve_short;   /**< Run steps that found a reservation short (tables, shadow or mapping nodes; must stay 0). */
	unsigned long jobs_inexact;    /**< Jobs whose run used other than exactly what was reserved (must stay 0). */
	unsigned long pt_budget_rejects; /**< Submits refused by the page-table budget (-FA_EDQUOT). */
	unsigned long pt_allocated;    /**< Page tables allocated (roots included). */
	unsigned long pt_freed;        /**< Page tables freed (after their invalidate, or at VM fini). */
	unsigned long pte_writes;      /**< PTEs written (map) or cleared (unmap). */
	unsigned long run_errors;      /**< Page-table calls that failed in a run step (must stay 0). */
	unsigned long order_errors;    /**< Run steps called out of submission order (must stay 0). */
	unsigned long bo_live;         /**< Buffer objects alive. */
	uint64_t run_ns;               /**< Total run-step time (with vmm_hw::now_ns; hw lock). */
	uint64_t run_pte_ns;           /**< Of which: PTE writes and clears (fa_pt_ref_map(), which links a map's new tables too; fa_pt_unmap_unref(), which releases emptied tables too; hw lock). */
};

/** The device: VRAM, hardware hooks. Embedded in the driver's device. */
struct vmm_device {
	struct vmm_hw hw;               /**< Hardware hooks and locks (copied at init). */
	struct fa_reserve_source src;   /**< The driver's allocator for every core object. */
	struct vmm_config cfg;          /**< Tunables. */
	struct fa_buddy vram;           /**< VRAM allocator (vram lock). */
	void *vram_meta;                /**< Buddy metadata storage. */
	size_t vram_meta_size;          /**< Its size. */
	struct vmm_stats stats;         /**< Counters. */
};

/** The driver's locks of one VM (see the lock model in the file overview). */
struct vmm_vm_locks {
	struct vmm_lock *vm; /**< VM lock: submit and cleanup; allocations happen under it. */
	struct vmm_lock *pt; /**< Page-table lock: the run step; never held across an allocation. */
};

/** A GPU virtual address space. Embedded in the driver's VM. */
struct vmm_vm {
	struct vmm_device *dev;         /**< Owner. */
	uint64_t va_start;              /**< First usable VA. */
	uint64_t va_end;                /**< End of the usable VA range. */
	struct vmm_vm_locks locks;      /**< The driver's locks. */
	struct vmm_va_set staged;       /**< Submit-side view (VM lock). */
	struct vmm_va_set live;         /**< Run-side view (page-table lock). */
	struct vmm_va_set sparse_staged; /**< Sparse regions, submit side (VM lock; bo NULL). */
	struct vmm_va_set sparse_live;  /**< Sparse regions, run side (page-table lock). */
	struct fa_reserve_pool node_pool;   /**< Nodes of the run-side view (VM lock). */
	struct fa_reserve_pool staged_pool; /**< Nodes of the submit-side view (VM lock). */
	unsigned int nshadow;           /**< Distinct shadow-node sizes of the format. */
	size_t shadow_size[VMM_SHADOW_KINDS];              /**< Those sizes. */
	unsigned int shadow_kind[FA_PT_MAX_LEVELS];        /**< Level → index into the pools. */
	struct fa_reserve_pool shadow_pool[VMM_SHADOW_KINDS]; /**< Page-table shadow nodes (VM lock). */
	struct fa_pt pt;                /**< Page-table tree (page-table lock). */
	struct fa_ptalloc ptalloc;      /**< Page-table VRAM, small tables packed (page-table lock). */
	struct fa_pt plan;              /**< Submit-side plan of the tree: counts only, no VRAM (VM lock). */
	struct fa_pramin_accessor plan_null; /**< The plan's accessor: writes nothing. */
	void *plan_stash[VMM_SHADOW_KINDS]; /**< Plan nodes released while a submit is undone (VM lock). */
	uint64_t pt_unfreed_bytes;      /**< Table bytes released by submitted jobs, not yet freed (VM lock). */
	struct vmm_job *building;       /**< Job whose reservations fa_pt_ref() draws from (page-table lock). */
	uint64_t pdb;                   /**< Device address of the root table. */
	unsigned long tables_live;      /**< Tables allocated and not yet freed (page-table lock). */
	unsigned long jobs_pending;     /**< Jobs submitted and not yet cleaned up (VM lock). */
	unsigned long seq_submitted;    /**< Sequence number of the last submitted job (VM lock). */
	unsigned long seq_run;          /**< Sequence number of the last job run (page-table lock). */
};

/** A VM_BIND job: what submit planned and reserved, for the run and cleanup steps. */
struct vmm_job {
	struct vmm_vm *vm;              /**< Target VM. */
	unsigned long seq;              /**< Position in the VM's submission order (1, 2, ...). */
	unsigned int nops;              /**< Number of ops. */
	struct vmm_op *ops;             /**< Copy of the ops. */
	struct fa_reserve nodes;        /**< Mapping nodes for the run-side view. */
	struct fa_reserve shadow[VMM_SHADOW_KINDS]; /**< Page-table shadow nodes per size. */
	uint64_t claim_whole;           /**< Block-sized tables still claimed in the VM's ptalloc. */
	uint64_t claim_small;           /**< Packed (small) tables still claimed. */
	unsigned long tables_reserved;  /**< Tables the plan said the run step creates. */
	unsigned long tables_used;      /**< Tables the run step created. */
	unsigned int nodes_reserved;    /**< Mapping nodes the plan said the run step takes. */
	unsigned long tables_estimated; /**< Tree-aware estimate at submit (statistics only). */
	struct fa_list **last;          /**< Per op, the submit-side retired list before it (submit only). */
	struct vmm_va **ins;            /**< Submit-side nodes the submit inserted (submit only). */
	struct vmm_va_set **ins_set;    /**< The view each went into (submit only). */
	bool ran;                       /**< The run step completed. */
	struct fa_list retired;         /**< Run-side nodes removed by the run step. */
	size_t alloc_size;              /**< Bytes of the job allocation. */
};

/** @cond INTERNAL */
static inline void vmm__lock(struct vmm_lock *l)
{
	l->lock(l);
}

static inline void vmm__unlock(struct vmm_lock *l)
{
	l->unlock(l);
}

static inline void vmm__assert_held(struct vmm_lock *l)
{
	if (l->assert_held)
		l->assert_held(l);
}

static inline void vmm__zero(void *p, size_t n)
{
	__builtin_memset(p, 0, n);
}

static inline uint64_t vmm__now(const struct vmm_device *dev)
{
	return dev->hw.now_ns ? dev->hw.now_ns(dev->hw.ctx) : 0;
}

static inline void vmm__stat_add(unsigned long *c, unsigned long v)
{
	__atomic_fetch_add(c, v, __ATOMIC_RELAXED);
}

static inline void *vmm__alloc(struct vmm_device *dev, size_t size)
{
	return fa_reserve_source_alloc(&dev->src, size, FA_GFP_KERNEL);
}

static inline void vmm__free(struct vmm_device *dev, void *p, size_t size)
{
	if (p)
		fa_reserve_source_free(&dev->src, p, size);
}
/** @endcond */

/**
 * Read a device counter.
 * @stage any
 * @locking none (a relaxed atomic load)
 * @param c A field of #vmm_stats.
 * @return Its value.
 */
static inline unsigned long vmm_stat_get(const unsigned long *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

/**
 * Fill in a map op.
 * @stage any
 * @locking none
 * @param op Op to fill.
 * @param va First VA.
 * @param size Bytes.
 * @param bo Buffer object.
 * @param bo_offset Offset in @p bo.
 * @param page_shift log2 of the page size.
 */
static inline void vmm_op_map(struct vmm_op *op, uint64_t va, uint64_t size, struct vmm_bo *bo,
			      uint64_t bo_offset, unsigned int page_shift)
{
	vmm__zero(op, sizeof(*op));
	op->kind = VMM_OP_MAP;
	op->va = va;
	op->size = size;
	op->bo = bo;
	op->bo_offset = bo_offset;
	op->page_shift = page_shift;
}

/**
 * Fill in an unmap op.
 * @stage any
 * @locking none
 * @param op Op to fill.
 * @param va First VA.
 * @param size Bytes.
 * @param page_shift Page size the caller expects (checked for support and alignment).
 */
static inline void vmm_op_unmap(struct vmm_op *op, uint64_t va, uint64_t size,
				unsigned int page_shift)
{
	vmm__zero(op, sizeof(*op));
	op->kind = VMM_OP_UNMAP;
	op->va = va;
	op->size = size;
	op->page_shift = page_shift;
}

/**
 * Fill in a sparse-region op: bind (#VMM_OP_SPARSE) or unbind (#VMM_OP_UNSPARSE)
 * `[va, va + size)` as a region whose unmapped pages read as zero without
 * faulting (Vulkan sparse residency). Mappings inside it use its page size;
 * unmapping them makes their pages sparse again.
 * @stage any
 * @locking none
 * @param op Op to fill.
 * @param kind #VMM_OP_SPARSE or #VMM_OP_UNSPARSE.
 * @param va First VA.
 * @param size Bytes.
 * @param page_shift Page size of the region (its mappings use it too).
 */
static inline void vmm_op_sparse(struct vmm_op *op, uint32_t kind, uint64_t va, uint64_t size,
				 unsigned int page_shift)
{
	vmm__zero(op, sizeof(*op));
	op->kind = kind;
	op->va = va;
	op->size = size;
	op->page_shift = page_shift;
}

/* ------------------------------------------------------------------ VRAM */

/**
 * Allocate VRAM (buffer objects, page tables): a naturally aligned block.
 * @stage submit (or cleanup) — never run
 * @locking takes the driver's VRAM lock (nests inside the VM and page-table locks)
 * @param dev Device.
 * @param size Bytes (a power of two >= 4 KiB).
 * @param pa Where the address is stored.
 * @return 0, -FA_ENOSPC, or -FA_EINVAL.
 */
static inline int vmm_vram_alloc(struct vmm_device *dev, uint64_t size, uint64_t *pa)
{
	int err;

	vmm__lock(dev->hw.vram_lock);
	err = fa_buddy_alloc(&dev->vram, size, size, 0, pa);
	vmm__unlock(dev->hw.vram_lock);
	return err;
}

/**
 * Free VRAM.
 * @stage cleanup
 * @locking takes the driver's VRAM lock
 * @param dev Device.
 * @param pa Address from vmm_vram_alloc().
 * @param size Its size.
 */
static inline void vmm_vram_free(struct vmm_device *dev, uint64_t pa, uint64_t size)
{
	vmm__lock(dev->hw.vram_lock);
	(void)FA_WARN(fa_buddy_free(&dev->vram, pa, size) != 0);
	vmm__unlock(dev->hw.vram_lock);
}

/**
 * Free VRAM bytes.
 * @stage submit or cleanup
 * @locking takes the driver's VRAM lock
 * @param dev Device.
 * @return Bytes available.
 */
static inline uint64_t vmm_vram_avail(struct vmm_device *dev)
{
	uint64_t n;

	vmm__lock(dev->hw.vram_lock);
	n = fa_buddy_avail(&dev->vram);
	vmm__unlock(dev->hw.vram_lock);
	return n;
}

/* ------------------------------------------------------------ buffer objects */

/**
 * Create a buffer object of @p size bytes of contiguous VRAM.
 * @stage submit (allocates)
 * @locking none of the VM's locks needed; takes the VRAM lock
 * @param dev Device.
 * @param size Bytes: a power of two, at least 4 KiB.
 * @param out The BO, with one reference for the caller.
 * @return 0; -FA_EINVAL for a bad size; -FA_ENOMEM; -FA_ENOSPC when VRAM is full.
 */
static inline int vmm_bo_create(struct vmm_device *dev, uint64_t size, struct vmm_bo **out)
{
	struct vmm_bo *bo;
	int err;

	if (!fa_is_pow2(size) || size < 4096)
		return -FA_EINVAL;
	bo = (struct vmm_bo *)vmm__alloc(dev, sizeof(*bo));
	if (!bo)
		return -FA_ENOMEM;
	err = vmm_vram_alloc(dev, size, &bo->pa);
	if (err) {
		vmm__free(dev, bo, sizeof(*bo));
		return err;
	}
	bo->dev = dev;
	bo->size = size;
	bo->refcount = 1;
	vmm__stat_add(&dev->stats.bo_live, 1);
	*out = bo;
	return 0;
}

/**
 * Take a reference on a BO.
 * @stage any (run-safe: one atomic increment)
 * @locking none
 * @param bo BO.
 */
static inline void vmm_bo_get(struct vmm_bo *bo)
{
	__atomic_fetch_add(&bo->refcount, 1, __ATOMIC_RELAXED);
}

/**
 * Drop a reference; the last one frees the VRAM and the object.
 * @stage cleanup (frees)
 * @locking not the hw lock (takes the VRAM lock)
 * @param bo BO (NULL is ignored).
 */
static inline void vmm_bo_put(struct vmm_bo *bo)
{
	struct vmm_device *dev;

	if (!bo || __atomic_sub_fetch(&bo->refcount, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	dev = bo->dev;
	vmm_vram_free(dev, bo->pa, bo->size);
	vmm__free(dev, bo, sizeof(*bo));
	__atomic_fetch_sub(&dev->stats.bo_live, 1, __ATOMIC_RELAXED);
}

/* ------------------------------------------------- page-table glue (pt.h) */

/** @cond INTERNAL */
/* A table of @p size bytes is packed (one unit of a shared block) or whole. */
static inline bool vmm__table_small(uint64_t size, uint64_t align)
{
	return size <= VMM_TABLE_UNIT && align <= VMM_TABLE_UNIT;
}

/* Table memory for fa_pt, from the VM's ptalloc (page-table lock held): in a
 * run step against the job's claims (no allocation), else (the root at VM
 * init) wherever it fits. */
static inline int vmm__pt_table_alloc(void *ctx, uint64_t size, uint64_t align, fa_gfp_t gfp,
				      uint64_t *addr)
{
	struct vmm_vm *vm = (struct vmm_vm *)ctx;
	struct vmm_job *job = vm->building;
	bool small = vmm__table_small(size, align);
	int ret;

	if (job) {
		if (FA_WARN(small ? job->claim_small == 0 : job->claim_whole == 0)) {
			vmm__stat_add(&vm->dev->stats.reserve_short, 1);
			return -FA_ENOSPC;
		}
		ret = fa_ptalloc_alloc_claimed(&vm->ptalloc, size, align, addr);
		if (ret < 0) {
			vmm__stat_add(&vm->dev->stats.reserve_short, 1);
			return ret;
		}
		if (small)
			job->claim_small--;
		else
			job->claim_whole--;
		job->tables_used++;
		vmm__stat_add(&vm->dev->stats.pt_used, 1);
	} else {
		ret = fa_ptalloc_alloc(&vm->ptalloc, size, align, gfp, addr);
		if (ret < 0)
			return ret;
	}
	vm->tables_live++;
	vmm__stat_add(&vm->dev->stats.pt_allocated, 1);
	return ret; /* FA_PTALLOC_ZEROED == FA_PT_TABLE_ZEROED: the tree skips the fill */
}

static inline void vmm__pt_table_free(void *ctx, uint64_t addr, uint64_t size)
{
	struct vmm_vm *vm = (struct vmm_vm *)ctx;
	struct vmm_job *job = vm->building;
	struct fa_ptalloc_batch none;

	vm->tables_live--;
	(void)FA_WARN(fa_ptalloc_free(&vm->ptalloc, addr, size) != 0);
	if (job) {
		/* fa_pt_ref() undoing a partial build: the claim comes back too. */
		bool small = vmm__table_small(size, size);

		fa_list_init(&none.blocks);
		none.n = 0;
		(void)fa_ptalloc_commit(&vm->ptalloc, &none, small ? 0 : 1, small ? 1 : 0);
		if (small)
			job->claim_small++;
		else
			job->claim_whole++;
		job->tables_used--;
		__atomic_fetch_sub(&vm->dev->stats.pt_used, 1, __ATOMIC_RELAXED);
		return;
	}
	vm->pt_unfreed_bytes -= fa_min_u64(vm->pt_unfreed_bytes, size);
	vmm__stat_add(&vm->dev->stats.pt_freed, 1);
}

/* VRAM blocks for the ptalloc: 4 KiB from the buddy, cleared ones preferred,
 * with the buddy's word on whether they are clear. Submit (two-step claim,
 * outside the page-table lock) and VM init only. */
static inline int vmm__pt_block_alloc(void *ctx, fa_gfp_t gfp, uint64_t *addr, bool *clear)
{
	struct vmm_device *dev = ((struct vmm_vm *)ctx)->dev;
	struct fa_buddy_req rq;
	int err;

	(void)gfp;
	fa_buddy_req_init(&rq, VMM_TABLE_BYTES);
	rq.flags = FA_BUDDY_CLEAR;
	vmm__lock(dev->hw.vram_lock);
	err = fa_buddy_alloc_req(&dev->vram, &rq, addr, clear);
	vmm__unlock(dev->hw.vram_lock);
	return err;
}

/* Cleanup (fa_ptalloc_trim() under the page-table lock; the VRAM lock nests inside). */
static inline void vmm__pt_block_free(void *ctx, uint64_t addr)
{
	vmm_vram_free(((struct vmm_vm *)ctx)->dev, addr, VMM_TABLE_BYTES);
}

static inline int vmm__shadow_kind(const struct vmm_vm *vm, size_t size)
{
	unsigned int k;

	for (k = 0; k < vm->nshadow; k++)
		if (vm->shadow_size[k] == size)
			return (int)k;
	return -1;
}

/* Shadow nodes for fa_pt: from the job's reservation in the run step, else
 * from the pool (VM init). Every node is charged to its pool. */
static inline void *vmm__pt_shadow_alloc(void *ctx, size_t size, fa_gfp_t gfp)
{
	struct vmm_vm *vm = (struct vmm_vm *)ctx;
	int k = vmm__shadow_kind(vm, size);
	void *obj = NULL;

	if (FA_WARN(k < 0))
		return NULL;
	if (vm->building) {
		obj = fa_reserve_take(&vm->building->shadow[k]);
		if (!obj)
			vmm__stat_add(&vm->dev->stats.reserve_short, 1);
		return obj;
	}
	if (fa_reserve_pool_get(&vm->shadow_pool[k], gfp, &obj))
		return NULL;
	return obj;
}

/* Called from fa_pt_reclaim()/fa_pt_fini(): cleanup, VM lock held (pool lock). */
static inline void vmm__pt_shadow_free(void *ctx, void *obj, size_t size)
{
	struct vmm_vm *vm = (struct vmm_vm *)ctx;
	int k = vmm__shadow_kind(vm, size);

	if (FA_WARN(k < 0))
		return;
	if (vm->building)
		fa_reserve_give_back(&vm->building->shadow[k], obj); /* partial build undone */
	else
		fa_reserve_pool_put(&vm->shadow_pool[k], obj);
}

/* The plan tree: the same fa_pt over counts only. Its tables have no memory
 * (address 0, "zeroed" so nothing is filled) and its accessor writes nothing. */
static inline int vmm__null_rd32(void *c, uint64_t a, uint32_t *v)
{
	(void)c;
	(void)a;
	*v = 0;
	return 0;
}

static inline int vmm__null_wr32(void *c, uint64_t a, uint32_t v)
{
	(void)c;
	(void)a;
	(void)v;
	return 0;
}

static inline int vmm__null_rd64(void *c, uint64_t a, uint64_t *v)
{
	(void)c;
	(void)a;
	*v = 0;
	return 0;
}

static inline int vmm__null_wr64(void *c, uint64_t a, uint64_t v, enum fa_pramin_order o)
{
	(void)c;
	(void)a;
	(void)v;
	(void)o;
	return 0;
}

static inline int vmm__null_fill32(void *c, uint64_t a, uint32_t v, uint64_t n)
{
	(void)c;
	(void)a;
	(void)v;
	(void)n;
	return 0;
}

static inline int vmm__null_fill64(void *c, uint64_t a, uint64_t v, uint64_t step, uint64_t n,
				   enum fa_pramin_order o)
{
	(void)c;
	(void)a;
	(void)v;
	(void)step;
	(void)n;
	(void)o;
	return 0;
}

static inline int vmm__null_copy64(void *c, uint64_t a, const uint64_t *src, uint64_t n,
				   enum fa_pramin_order o)
{
	(void)c;
	(void)a;
	(void)src;
	(void)n;
	(void)o;
	return 0;
}

static inline int vmm__null_flush(void *c)
{
	(void)c;
	return 0;
}

/* File scope: sparse duplicates a static initialiser inside an inline function. */
static const struct fa_pramin_ops vmm__null_ops = {
	vmm__null_rd32, vmm__null_wr32, vmm__null_rd64, vmm__null_wr64,
	vmm__null_fill32, vmm__null_fill64, vmm__null_copy64, vmm__null_flush,
};

static inline int vmm__plan_table_alloc(void *ctx, uint64_t size, uint64_t align, fa_gfp_t gfp,
					uint64_t *addr)
{
	(void)ctx;
	(void)size;
	(void)align;
	(void)gfp;
	*addr = 0;
	return FA_PT_TABLE_ZEROED;
}

static inline void vmm__plan_table_free(void *ctx, uint64_t addr, uint64_t size)
{
	(void)ctx;
	(void)addr;
	(void)size;
}

/* Plan shadow nodes: the stash first (undoing a submit), else the driver's allocator. */
static inline void *vmm__plan_shadow_alloc(void *ctx, size_t size, fa_gfp_t gfp)
{
	struct vmm_vm *vm = (struct vmm_vm *)ctx;
	int k = vmm__shadow_kind(vm, size);
	void *obj;

	if (FA_WARN(k < 0))
		return NULL;
	obj = vm->plan_stash[k];
	if (obj) {
		vm->plan_stash[k] = *(void **)obj;
		*(void **)obj = NULL;
		return obj;
	}
	return fa_reserve_source_alloc(&vm->dev->src, size, gfp);
}

static inline void vmm__plan_shadow_free(void *ctx, void *obj, size_t size)
{
	struct vmm_vm *vm = (struct vmm_vm *)ctx;
	int k = vmm__shadow_kind(vm, size);

	if (FA_WARN(k < 0))
		return;
	*(void **)obj = vm->plan_stash[k];
	vm->plan_stash[k] = obj;
}

/* Give the stash back to the driver's allocator. */
static inline void vmm__plan_stash_drain(struct vmm_vm *vm)
{
	unsigned int k;
	void *obj;

	for (k = 0; k < vm->nshadow; k++)
		while ((obj = vm->plan_stash[k]) != NULL) {
			vm->plan_stash[k] = *(void **)obj;
			fa_reserve_source_free(&vm->dev->src, obj, vm->shadow_size[k]);
		}
}

/* Plan tables released by this submit go to the stash at once (their epoch
 * is always "completed": a plan table has no memory the GPU could walk). */
static inline void vmm__plan_settle(struct vmm_vm *vm)
{
	fa_pt_reclaim(&vm->plan, 1);
}

static inline void vmm__hw_lock(void *ctx)
{
	vmm__lock(((struct vmm_device *)ctx)->hw.hw_lock);
}

static inline void vmm__hw_unlock(void *ctx)
{
	vmm__unlock(((struct vmm_device *)ctx)->hw.hw_lock);
}

static inline uint32_t vmm__pte_attr(uint32_t flags)
{
	return FA_PT_APER_VRAM | ((flags & VMM_MAP_READ_ONLY) ? FA_PT_RO : 0u);
}

/* Run step: count a failure that must never happen (reservations were sized
 * for the worst case, ops were validated). */
static inline void vmm__run_check(struct vmm_device *dev, int err)
{
	if (FA_WARN(err != 0))
		vmm__stat_add(&dev->stats.run_errors, 1);
}
/** @endcond */

/**
 * Whether the VMM can map pages of 2^@p page_shift bytes: the format must
 * have the size, and this VMM maps at most 2 MiB pages (512 MiB pages would
 * need 512 MiB-aligned contiguous buffers).
 * @stage any
 * @locking none
 * @param fmt Page-table format.
 * @param page_shift log2 of the page size.
 * @return true when supported.
 */
static inline bool vmm_page_supported(const struct fa_pt_format *fmt, unsigned int page_shift)
{
	return page_shift < 64 && page_shift <= 21 &&
	       fa_pt_page_index(fmt, FA_BIT64(page_shift)) >= 0;
}

/** @cond INTERNAL */
/* The page sizes this VMM maps with the format, as a vmm_va_set mask. */
static inline uint64_t vmm__page_sizes(const struct fa_pt_format *fmt)
{
	uint64_t mask = 0;
	unsigned int s;

	for (s = 12; s <= 21; s++)
		if (vmm_page_supported(fmt, s))
			mask |= FA_BIT64(s);
	return mask;
}
/** @endcond */

/* ------------------------------------------------------------ device */

/**
 * Initialise a device: copy the hooks, set up the VRAM buddy.
 * @stage submit (driver init; allocates through @p src)
 * @locking none
 * @param dev Device storage (embedded in the driver's device).
 * @param hw Hooks and locks (copied; hw_lock and vram_lock must be set).
 * @param src The driver's allocator (copied).
 * @param cfg Tunables, or NULL for defaults.
 * @return 0; -FA_EINVAL (bad hooks or VRAM size); -FA_ENOMEM.
 */
static inline int vmm_device_init(struct vmm_device *dev, const struct vmm_hw *hw,
				  const struct fa_reserve_source *src, const struct vmm_config *cfg)
{
	uint64_t meta;
	int err;

	FA_ASSERT(dev);
	if (!hw || !src || !hw->fmt || !hw->tlb_invalidate || !hw->tlb_epoch || !hw->hw_lock ||
	    !hw->vram_lock)
		return -FA_EINVAL;
	meta = fa_buddy_storage_size(hw->vram_size, VMM_TABLE_BYTES);
	if (!meta || meta > (size_t)-1)
		return -FA_EINVAL;
	vmm__zero(dev, sizeof(*dev));
	dev->hw = *hw;
	dev->src = *src;
	if (cfg)
		dev->cfg = *cfg;
	dev->vram_meta_size = (size_t)meta;
	dev->vram_meta = vmm__alloc(dev, dev->vram_meta_size);
	if (!dev->vram_meta)
		return -FA_ENOMEM;
	err = fa_buddy_init(&dev->vram, dev->vram_meta, dev->vram_meta_size, 0, hw->vram_size,
			    VMM_TABLE_BYTES);
	if (err) {
		vmm__free(dev, dev->vram_meta, dev->vram_meta_size);
		dev->vram_meta = NULL;
	} else if (hw->vram_cleared) {
		fa_buddy_reset_clear(&dev->vram, true);
	}
	return err;
}

/**
 * Tear a device down. Every VM must have been finalised and every BO put.
 * @stage cleanup
 * @locking none
 * @param dev Device.
 */
static inline void vmm_device_fini(struct vmm_device *dev)
{
	(void)FA_WARN(vmm_stat_get(&dev->stats.bo_live) != 0);
	fa_buddy_fini(&dev->vram);
	vmm__free(dev, dev->vram_meta, dev->vram_meta_size);
	dev->vram_meta = NULL;
}

/* ------------------------------------------------------------ VMs */

/** @cond INTERNAL */
static inline void vmm__vm_pools_fini(struct vmm_vm *vm)
{
	unsigned int k;

	fa_reserve_pool_fini(&vm->node_pool);
	fa_reserve_pool_fini(&vm->staged_pool);
	for (k = 0; k < vm->nshadow; k++)
		fa_reserve_pool_fini(&vm->shadow_pool[k]);
}

static inline int vmm__vm_pools_init(struct vmm_vm *vm)
{
	const struct fa_pt_format *f = vm->dev->hw.fmt;
	unsigned int l;
	int k, err;

	err = fa_reserve_pool_init(&vm->node_pool, &vm->dev->src, sizeof(struct vmm_va), 256,
				   vm->dev->cfg.node_budget ? vm->dev->cfg.node_budget :
							      FA_RESERVE_NO_BUDGET);
	if (!err)
		err = fa_reserve_pool_init(&vm->staged_pool, &vm->dev->src, sizeof(struct vmm_va),
					   256, FA_RESERVE_NO_BUDGET);
	for (l = 0; !err && l < f->nlevels; l++) {
		size_t sz = fa_pt_node_bytes(f, l);

		k = vmm__shadow_kind(vm, sz);
		if (k < 0) {
			k = (int)vm->nshadow;
			vm->shadow_size[k] = sz;
			err = fa_reserve_pool_init(&vm->shadow_pool[k], &vm->dev->src, sz, 64,
						   FA_RESERVE_NO_BUDGET);
			if (!err)
				vm->nshadow++;
		}
		vm->shadow_kind[l] = (unsigned int)k;
	}
	return err;
}
/** @endcond */

/**
 * Initialise a VM covering `[va_start, va_start + va_size)` with an empty
 * page-table tree (the root table is allocated here).
 * @stage submit (allocates)
 * @locking none (the VM is not shared yet); takes the VRAM lock and the hw lock
 * @param vm VM storage (embedded in the driver's VM).
 * @param dev Device.
 * @param va_start First usable VA (aligned to 2 MiB).
 * @param va_size Bytes of VA (multiple of 2 MiB, within the format's VA width).
 * @param locks The driver's VM lock and page-table lock (copied; both required).
 * @return 0; -FA_EINVAL (bad range or locks); -FA_ENOMEM; -FA_ENOSPC (VRAM for the root table).
 */
static inline int vmm_vm_init(struct vmm_vm *vm, struct vmm_device *dev, uint64_t va_start,
			      uint64_t va_size, const struct vmm_vm_locks *locks)
{
	const struct fa_pt_format *f = dev->hw.fmt;
	struct fa_pt_table_alloc tables;
	struct fa_reserve_source shadow;
	struct fa_ptalloc_config pcfg;
	struct fa_pt_config cfg;
	uint64_t end;
	int err;

	FA_ASSERT(vm && dev);
	if (!locks || !locks->vm || !locks->pt || !va_size ||
	    fa_add_overflow(va_start, va_size, &end) ||
	    (f->va_bits < 64 && end > FA_BIT64(f->va_bits)) || !fa_is_aligned(va_start, 2u << 20) ||
	    !fa_is_aligned(va_size, 2u << 20))
		return -FA_EINVAL;
	vmm__zero(vm, sizeof(*vm));
	vm->dev = dev;
	vm->va_start = va_start;
	vm->va_end = end;
	vm->locks = *locks;
	vmm_va_set_init(&vm->staged);
	vmm_va_set_init(&vm->live);
	vmm_va_set_config(&vm->staged, dev->cfg.merge, vmm__page_sizes(f));
	vmm_va_set_config(&vm->live, dev->cfg.merge, vmm__page_sizes(f));
	vmm_va_set_init(&vm->sparse_staged);
	vmm_va_set_init(&vm->sparse_live);
	err = vmm__vm_pools_init(vm);
	if (err)
		goto fail;
	pcfg.block_size = VMM_TABLE_BYTES;
	pcfg.unit_size = VMM_TABLE_UNIT;
	pcfg.hash_bits = 8;
	pcfg.blocks.alloc = vmm__pt_block_alloc;
	pcfg.blocks.free = vmm__pt_block_free;
	pcfg.blocks.ctx = vm;
	pcfg.meta = dev->src;
	err = fa_ptalloc_init(&vm->ptalloc, &pcfg, FA_GFP_KERNEL);
	if (err)
		goto fail;
	tables.alloc = vmm__pt_table_alloc;
	tables.free = vmm__pt_table_free;
	tables.ctx = vm;
	shadow.alloc = vmm__pt_shadow_alloc;
	shadow.free = vmm__pt_shadow_free;
	shadow.ctx = vm;
	fa_pt_config_init(&cfg, f, &dev->hw.pt_mem, &tables, &shadow);
	if (!dev->hw.pt_mem_direct) {
		/* The PRAMIN window is one device-wide register: serialise it. A
		 * CPU mapping needs only the page-table lock the caller holds. */
		cfg.acc_lock.lock = vmm__hw_lock;
		cfg.acc_lock.unlock = vmm__hw_unlock;
		cfg.acc_lock.ctx = dev;
	}
	err = fa_pt_init(&vm->pt, &cfg, FA_GFP_KERNEL);
	if (err)
		goto fail_ptalloc;
	vm->pdb = fa_pt_root_addr(&vm->pt);
	/* The plan: the same tree over counts only (no VRAM, no MMIO). */
	tables.alloc = vmm__plan_table_alloc;
	tables.free = vmm__plan_table_free;
	shadow.alloc = vmm__plan_shadow_alloc;
	shadow.free = vmm__plan_shadow_free;
	vm->plan_null.ops = &vmm__null_ops;
	vm->plan_null.ctx = NULL;
	fa_pt_config_init(&cfg, f, &vm->plan_null, &tables, &shadow);
	err = fa_pt_init(&vm->plan, &cfg, FA_GFP_KERNEL);
	if (err) {
		(void)FA_WARN(fa_pt_fini(&vm->pt) != 0);
		goto fail_ptalloc;
	}
	return 0;
fail_ptalloc:
	fa_ptalloc_trim(&vm->ptalloc);
	(void)fa_ptalloc_fini(&vm->ptalloc);
fail:
	vmm__vm_pools_fini(vm);
	return err;
}

/**
 * Whether every job of the VM has been cleaned up.
 * @stage any
 * @locking the VM lock held
 * @param vm VM.
 * @return true when idle.
 */
static inline bool vmm_vm_idle(struct vmm_vm *vm)
{
	vmm__assert_held(vm->locks.vm);
	return vm->jobs_pending == 0;
}

/**
 * Finalise an idle VM: unmap every mapping, release every sparse region
 * (page tables and plan alike), free the page tables, the nodes,
 * the pools. Every job of the VM must have been cleaned up; no submit may race.
 * @stage cleanup
 * @locking the VM lock held (asserted); takes the page-table lock, then the hw lock
 * @param vm VM.
 * @return 0; -FA_EBUSY when a job of the VM has not been cleaned up yet (nothing freed).
 */
static inline int vmm_vm_fini(struct vmm_vm *vm)
{
	struct vmm_device *dev = vm->dev;
	struct fa_list *pos, *n;
	uint64_t next;

	vmm__assert_held(vm->locks.vm);
	if (vm->jobs_pending != 0)
		return -FA_EBUSY;
	vmm__lock(vm->locks.pt);
	next = dev->hw.tlb_epoch(dev->hw.ctx) + 1;
	fa_list_for_each_safe(pos, n, &vm->live.list) {
		struct vmm_va *v = vmm_va_entry(pos);
		uint64_t page = FA_BIT64(v->page_shift);

		(void)FA_WARN(fa_pt_unmap(&vm->pt, v->va, v->size, page) != 0);
		(void)FA_WARN(fa_pt_unref(&vm->pt, v->va, v->size, page, next) != 0);
		vmm_va_set_remove(&vm->live, v);
		vmm_bo_put(v->bo);
		fa_reserve_pool_put(&vm->node_pool, v);
	}
	fa_list_for_each_safe(pos, n, &vm->sparse_live.list) {
		struct vmm_va *v = vmm_va_entry(pos);
		uint64_t page = FA_BIT64(v->page_shift);

		(void)FA_WARN(fa_pt_sparse_unref(&vm->pt, v->va, v->size, page, next) != 0);
		vmm_va_set_remove(&vm->sparse_live, v);
		fa_reserve_pool_put(&vm->node_pool, v);
	}
	fa_list_for_each_safe(pos, n, &vm->staged.list) {
		struct vmm_va *v = vmm_va_entry(pos);

		(void)FA_WARN(fa_pt_unref(&vm->plan, v->va, v->size, FA_BIT64(v->page_shift), 1) != 0);
		vmm_va_set_remove(&vm->staged, v);
		fa_reserve_pool_put(&vm->staged_pool, v);
	}
	/* a region still bound holds its references on the plan too */
	fa_list_for_each_safe(pos, n, &vm->sparse_staged.list) {
		struct vmm_va *v = vmm_va_entry(pos);

		(void)FA_WARN(fa_pt_sparse_unref(&vm->plan, v->va, v->size, FA_BIT64(v->page_shift),
						 1) != 0);
		vmm_va_set_remove(&vm->sparse_staged, v);
		fa_reserve_pool_put(&vm->staged_pool, v);
	}
	vmm__plan_settle(vm);
	(void)FA_WARN(fa_pt_fini(&vm->plan) != 0);
	vmm__plan_stash_drain(vm);
	vmm__lock(dev->hw.hw_lock);
	(void)fa_pramin_flush(&dev->hw.pt_mem);
	(void)dev->hw.tlb_invalidate(dev->hw.ctx, vm->pdb);
	vmm__unlock(dev->hw.hw_lock);
	fa_pt_reclaim(&vm->pt, dev->hw.tlb_epoch(dev->hw.ctx));
	(void)FA_WARN(fa_pt_fini(&vm->pt) != 0);
	(void)FA_WARN(vm->tables_live != 0);
	fa_ptalloc_trim(&vm->ptalloc);
	(void)FA_WARN(fa_ptalloc_fini(&vm->ptalloc) != 0);
	vmm__unlock(vm->locks.pt);
	vmm__vm_pools_fini(vm);
	return 0;
}

/**
 * Compare the submit-side and run-side views (equal when no job is pending).
 * @stage any
 * @locking the VM lock and the page-table lock held (asserted)
 * @param vm VM.
 * @return true when both views hold the same mappings and both are consistent.
 */
static inline bool vmm_vm_views_equal(struct vmm_vm *vm)
{
	struct fa_list *a, *b;
	bool same;

	vmm__assert_held(vm->locks.vm);
	vmm__assert_held(vm->locks.pt);
	same = vmm_va_set_valid(&vm->staged) && vmm_va_set_valid(&vm->live) &&
	       vm->staged.count == vm->live.count &&
	       vm->sparse_staged.count == vm->sparse_live.count;
	for (a = vm->staged.list.next, b = vm->live.list.next;
	     same && a != &vm->staged.list && b != &vm->live.list; a = a->next, b = b->next) {
		const struct vmm_va *x = vmm_va_entry(a), *y = vmm_va_entry(b);

		same = x->va == y->va && x->size == y->size && x->bo == y->bo &&
		       x->bo_offset == y->bo_offset && x->page_shift == y->page_shift &&
		       x->flags == y->flags;
	}
	return same;
}

/* ------------------------------------------------------------ validation */

/**
 * Validate one op at the ioctl boundary (no VM state read).
 * @stage submit
 * @locking none
 * @param vm VM.
 * @param op Op.
 * @return 0; -FA_EINVAL (kind, zero size, unaligned VA/size/offset, no BO,
 *         unknown flags); -FA_EOPNOTSUPP (page size not supported);
 *         -FA_ERANGE (VA outside the VM, or BO range past the BO).
 */
static inline int vmm_op_check(const struct vmm_vm *vm, const struct vmm_op *op)
{
	uint64_t end, page, bo_end;

	if (op->kind < VMM_OP_MAP || op->kind > VMM_OP_UNSPARSE)
		return -FA_EINVAL;
	if (op->kind >= VMM_OP_SPARSE && !vm->dev->hw.fmt->sparse_pte)
		return -FA_EOPNOTSUPP;
	if (!vmm_page_supported(vm->dev->hw.fmt, op->page_shift))
		return -FA_EOPNOTSUPP;
	page = FA_BIT64(op->page_shift);
	if (!op->size || !fa_is_aligned(op->va, page) || !fa_is_aligned(op->size, page))
		return -FA_EINVAL;
	if (fa_add_overflow(op->va, op->size, &end) || op->va < vm->va_start || end > vm->va_end)
		return -FA_ERANGE;
	if (op->kind != VMM_OP_MAP)
		return 0;
	if (!op->bo || !fa_is_aligned(op->bo_offset, page) || (op->flags & ~VMM_MAP_READ_ONLY))
		return -FA_EINVAL;
	if (fa_add_overflow(op->bo_offset, op->size, &bo_end) || bo_end > op->bo->size)
		return -FA_ERANGE;
	return 0;
}

/**
 * Validate a whole op array: each op, then pairwise overlap.
 * @stage submit
 * @locking none
 * @param vm VM.
 * @param ops Ops.
 * @param nops Count.
 * @return 0; -FA_EINVAL for no ops, more than #VMM_JOB_MAX_OPS, or two
 *         overlapping ops; else the first failing op's vmm_op_check() error.
 */
static inline int vmm_ops_check(const struct vmm_vm *vm, const struct vmm_op *ops, unsigned int nops)
{
	unsigned int i, j;
	int err;

	if (!ops || nops == 0 || nops > VMM_JOB_MAX_OPS)
		return -FA_EINVAL;
	for (i = 0; i < nops; i++) {
		err = vmm_op_check(vm, &ops[i]);
		if (err)
			return err;
	}
	for (i = 0; i < nops; i++)
		for (j = i + 1; j < nops; j++)
			if (ops[i].va < ops[j].va + ops[j].size && ops[j].va < ops[i].va + ops[i].size)
				return -FA_EINVAL;
	return 0;
}

/** @cond INTERNAL */
static inline void vmm__op_to_va(const struct vmm_op *op, struct vmm_va *req)
{
	vmm__zero(req, sizeof(*req));
	req->va = op->va;
	req->size = op->size;
	req->bo = op->bo;
	req->bo_offset = op->bo_offset;
	req->page_shift = op->page_shift;
	req->flags = op->flags;
}

/* Run step: a node from the job's reservation (exactly what the plan said). */
static inline struct vmm_va *vmm__take_node(void *ctx)
{
	struct vmm_job *job = (struct vmm_job *)ctx;
	struct vmm_va *n = (struct vmm_va *)fa_reserve_take(&job->nodes);

	if (!n)
		vmm__stat_add(&job->vm->dev->stats.reserve_short, 1);
	return n;
}

/* Run-side nodes hold a reference on their BO (dropped when freed at cleanup). */
static inline void vmm__node_inserted(void *ctx, struct vmm_va *n)
{
	(void)ctx;
	vmm_bo_get(n->bo);
}

static inline void vmm__alloc_of(struct vmm_va_alloc *a, struct vmm_job *job, bool bo_refs)
{
	a->take = vmm__take_node;
	a->inserted = bo_refs ? vmm__node_inserted : NULL;
	a->ctx = job;
}

/* The first node of @set overlapping [va, va + size), or NULL. */
static inline struct vmm_va *vmm__overlap(struct vmm_va_set *set, uint64_t va, uint64_t size)
{
	struct vmm_va *r = vmm_va_set_first_from(set, va);

	return r && r->va < va + size ? r : NULL;
}

/* Submit: sparse rules of one op against the submit-side views. A map that
 * touches a region lies inside it with its page size (the region's table
 * references then cover it); a region is bound over unmapped, region-free VA
 * and unbound exactly as bound, empty. */
static inline int vmm__op_check_sparse(struct vmm_vm *vm, const struct vmm_op *op)
{
	struct vmm_va *r = vmm__overlap(&vm->sparse_staged, op->va, op->size);

	switch (op->kind) {
	case VMM_OP_MAP:
		if (r && (r->va > op->va || vmm_va_end(r) < op->va + op->size ||
			  r->page_shift != op->page_shift))
			return -FA_EINVAL;
		return 0;
	case VMM_OP_SPARSE:
		if (r || vmm__overlap(&vm->staged, op->va, op->size))
			return -FA_EBUSY;
		return 0;
	case VMM_OP_UNSPARSE:
		if (!r || r->va != op->va || r->size != op->size || r->page_shift != op->page_shift)
			return -FA_ENOENT;
		if (vmm__overlap(&vm->staged, op->va, op->size))
			return -FA_EBUSY;
		return 0;
	default:
		return 0;
	}
}

/* Submit: check every op against the submit-side view (read-only). */
static inline int vmm__ops_check_view(struct vmm_vm *vm, const struct vmm_op *ops, unsigned int nops)
{
	struct vmm_va req;
	unsigned int i;
	int err;

	for (i = 0; i < nops; i++) {
		err = vmm__op_check_sparse(vm, &ops[i]);
		if (err)
			return err;
		if (ops[i].kind == VMM_OP_MAP) {
			vmm__op_to_va(&ops[i], &req);
			err = vmm_va_set_check_map(&vm->staged, &req);
		} else if (ops[i].kind == VMM_OP_UNMAP) {
			err = vmm_va_set_check_unmap(&vm->staged, ops[i].va, ops[i].size);
		}
		if (err)
			return err;
	}
	return 0;
}
/** @endcond */

/* -------------------------------------------- submit: planning and reservations
 *
 * Submit reserves exactly what the run step will use. It can, because every
 * job of a VM runs in submission order and submit sees every job submitted
 * before: the **plan** is the state after all of them. Two plans, updated
 * op by op exactly the way the run step will update the real thing:
 *
 * - the mapping plan is the submit-side view itself (gpuva.h): applying an op
 *   to it takes exactly the nodes applying it to the run-side view will take
 *   when the job runs (same state, same op), so the job reserves that count;
 * - the page-table plan (vmm_vm::plan) is a second fa_pt tree over counts
 *   only (no VRAM: its accessor writes nothing). Submit drops and takes the
 *   same references on it as the run step will on the real tree, in the same
 *   order; before each reference, fa_pt_estimate() on the plan gives exactly
 *   the tables (per level) the run step's fa_pt_ref() will create. A table a
 *   pending job releases is gone from the plan at once, as it is from the
 *   real tree when that job runs (unlinked, then freed only after its TLB
 *   invalidate): a later job that needs a table there plans a new one and is
 *   never promised one still waiting for its invalidate, and the released
 *   one is not counted twice.
 *
 * If anything fails after the plans were updated (the budget, a
 * reservation), both are undone exactly (the plan by the inverse reference
 * operations in reverse order, with the shadow nodes it released kept aside
 * so the undo allocates nothing; the view by removing what was inserted and
 * re-inserting what was removed): nothing changed.
 */

/** @cond INTERNAL */
/* What a job's run step will create and take, from the plans. */
struct vmm__plan {
	unsigned int nodes;                /* mapping nodes of the run-side view */
	uint64_t tables[FA_PT_MAX_LEVELS]; /* page tables per level */
	uint64_t whole, small, total;      /* the same by ptalloc class, and in total */
	uint64_t released_bytes;           /* table bytes the job releases (pinned until freed) */
};

/* Worst-case mapping nodes (per op), for the submit-side view's own reservation. */
static inline unsigned int vmm__plan_nodes(const struct vmm_op *ops, unsigned int nops)
{
	unsigned int i, need = 0;

	for (i = 0; i < nops; i++)
		need += ops[i].kind == VMM_OP_MAP ? VMM_VA_NODES_PER_MAP :
			ops[i].kind == VMM_OP_UNMAP ? VMM_VA_NODES_PER_UNMAP : 1u;
	return need;
}

/* Statistics only: what the static worst case (every table missing) would reserve. */
static inline unsigned long vmm__plan_static(const struct vmm_vm *vm, const struct vmm_op *ops,
					     unsigned int nops)
{
	struct fa_pt_estimate est;
	unsigned long n = 0;
	unsigned int i;

	for (i = 0; i < nops; i++)
		if ((ops[i].kind == VMM_OP_MAP || ops[i].kind == VMM_OP_SPARSE) &&
		    !fa_pt_estimate_static(vm->dev->hw.fmt, ops[i].va, ops[i].size,
					   FA_BIT64(ops[i].page_shift), &est))
			n += (unsigned long)est.total;
	return n;
}

/* Statistics only: the tables fa_pt_ref() would allocate if the job ran now
 * (the tree-aware estimate on the real tree, without the plan). Too small to
 * reserve: jobs queued before this one change the tree before it runs. Takes
 * the page-table lock. */
static inline unsigned long vmm__plan_estimate_now(struct vmm_vm *vm, const struct vmm_op *ops,
						   unsigned int nops)
{
	struct fa_pt_estimate est;
	unsigned long n = 0;
	unsigned int i;

	vmm__lock(vm->locks.pt);
	for (i = 0; i < nops; i++)
		if (ops[i].kind == VMM_OP_MAP &&
		    !fa_pt_estimate(&vm->pt, ops[i].va, ops[i].size, FA_BIT64(ops[i].page_shift), &est))
			n += (unsigned long)est.total;
	vmm__unlock(vm->locks.pt);
	return n;
}

/* The submit-side view's node source during planning: records what it inserts. */
struct vmm__staged_alloc {
	struct fa_reserve *r;
	struct vmm_va **ins;
	struct vmm_va_set **ins_set; /* the set each one went into */
	struct vmm_va_set *cur;      /* the set the current op changes */
	unsigned int n, cap;
};

static inline struct vmm_va *vmm__staged_take(void *ctx)
{
	return (struct vmm_va *)fa_reserve_take(((struct vmm__staged_alloc *)ctx)->r);
}

static inline void vmm__staged_inserted(void *ctx, struct vmm_va *node)
{
	struct vmm__staged_alloc *sa = (struct vmm__staged_alloc *)ctx;

	if (!FA_WARN(sa->n >= sa->cap)) {
		sa->ins_set[sa->n] = sa->cur;
		sa->ins[sa->n++] = node;
	}
}

/* Whether the reference on a removed node's cut goes before the new range is
 * referenced (another page size, or an unmap) — the run step's order. */
static inline bool vmm__cut_first(const struct vmm_op *op, const struct vmm_va *n)
{
	return op->kind != VMM_OP_MAP || n->page_shift != op->page_shift;
}

/* A sparse region is mirrored on the plan the way the run step applies it
 * (vmm__run_sparse_op(): fa_pt_sparse_ref() / fa_pt_sparse_unref()); the
 * tables the bind creates are those the plan tree had to allocate. */
static inline int vmm__plan_sparse_op(struct vmm_vm *vm, const struct vmm_op *op,
				      struct vmm__plan *p, unsigned int *done)
{
	const struct fa_pt_format *f = vm->dev->hw.fmt;
	uint64_t page = FA_BIT64(op->page_shift);
	struct fa_pt_stats before, after;
	unsigned int l;
	int err;

	if (op->kind == VMM_OP_UNSPARSE) {
		(void)FA_WARN(fa_pt_sparse_unref(&vm->plan, op->va, op->size, page, 1) != 0);
		*done = 3;
		return 0;
	}
	fa_pt_get_stats(&vm->plan, &before);
	err = fa_pt_sparse_ref(&vm->plan, op->va, op->size, page, FA_GFP_KERNEL);
	if (err)
		return err;
	fa_pt_get_stats(&vm->plan, &after);
	for (l = 0; l < f->nlevels; l++)
		p->tables[l] += after.live[l] + after.pending[l] - before.live[l] - before.pending[l];
	*done = 3;
	return 0;
}

/* Mirror one op's reference changes on the plan (the run step's steps 1-3);
 * @p done says how far it got (for the undo). Nodes [from, stop) are the op's. */
static inline int vmm__plan_op(struct vmm_vm *vm, const struct vmm_op *op, struct fa_list *from,
			       struct fa_list *stop, struct vmm__plan *p, unsigned int *done)
{
	const struct fa_pt_format *f = vm->dev->hw.fmt;
	struct fa_pt_estimate est;
	struct fa_list *pos;
	unsigned int l;
	int err;

	*done = 0;
	if (op->kind == VMM_OP_SPARSE || op->kind == VMM_OP_UNSPARSE)
		return vmm__plan_sparse_op(vm, op, p, done);
	for (pos = from; pos != stop; pos = pos->next) {
		const struct vmm_va *n = vmm_va_entry(pos);

		if (n->cut_size && vmm__cut_first(op, n))
			(void)FA_WARN(fa_pt_unref(&vm->plan, n->cut_va, n->cut_size,
						  FA_BIT64(n->page_shift), 1) != 0);
	}
	*done = 1;
	if (op->kind != VMM_OP_MAP)
		return 0;
	err = fa_pt_estimate(&vm->plan, op->va, op->size, FA_BIT64(op->page_shift), &est);
	if (!err)
		err = fa_pt_ref(&vm->plan, op->va, op->size, FA_BIT64(op->page_shift), FA_GFP_KERNEL);
	if (err)
		return err;
	for (l = 0; l < f->nlevels; l++)
		p->tables[l] += est.tables[l];
	*done = 2;
	for (pos = from; pos != stop; pos = pos->next) {
		const struct vmm_va *n = vmm_va_entry(pos);

		if (n->cut_size && !vmm__cut_first(op, n))
			(void)FA_WARN(fa_pt_unref(&vm->plan, n->cut_va, n->cut_size,
						  FA_BIT64(n->page_shift), 1) != 0);
	}
	*done = 3;
	return 0;
}

/* Undo vmm__plan_op() as far as it got, inverse operations in reverse order. */
static inline void vmm__plan_op_undo(struct vmm_vm *vm, const struct vmm_op *op,
				     struct fa_list *from, struct fa_list *stop, unsigned int done)
{
	struct fa_list *pos;

	vmm__plan_settle(vm);
	if (op->kind == VMM_OP_SPARSE || op->kind == VMM_OP_UNSPARSE) {
		if (done < 3)
			return; /* a failed bind changed nothing */
		if (op->kind == VMM_OP_SPARSE)
			(void)FA_WARN(fa_pt_sparse_unref(&vm->plan, op->va, op->size,
							 FA_BIT64(op->page_shift), 1) != 0);
		else
			(void)FA_WARN(fa_pt_sparse_ref(&vm->plan, op->va, op->size,
						       FA_BIT64(op->page_shift), FA_GFP_KERNEL) != 0);
		return;
	}
	for (pos = from; done >= 3 && pos != stop; pos = pos->next) {
		const struct vmm_va *n = vmm_va_entry(pos);

		if (n->cut_size && !vmm__cut_first(op, n))
			(void)FA_WARN(fa_pt_ref(&vm->plan, n->cut_va, n->cut_size,
						FA_BIT64(n->page_shift), FA_GFP_KERNEL) != 0);
	}
	if (done >= 2 && op->kind == VMM_OP_MAP) /* only a map referenced its range */
		(void)FA_WARN(fa_pt_unref(&vm->plan, op->va, op->size, FA_BIT64(op->page_shift), 1) != 0);
	vmm__plan_settle(vm); /* released plan nodes to the stash: the refs below take them */
	for (pos = from; done >= 1 && pos != stop; pos = pos->next) {
		const struct vmm_va *n = vmm_va_entry(pos);

		if (n->cut_size && vmm__cut_first(op, n))
			(void)FA_WARN(fa_pt_ref(&vm->plan, n->cut_va, n->cut_size,
						FA_BIT64(n->page_shift), FA_GFP_KERNEL) != 0);
	}
}

/* Undo the submit-side views (mappings and sparse regions) after ops
 * [0, k]: drop what this submit inserted, put back what it removed. */
static inline void vmm__staged_undo(struct vmm_vm *vm, struct vmm_job *job, unsigned int k,
				    struct vmm__staged_alloc *sa, struct fa_list *retired)
{
	struct fa_list orig_main, orig_sparse, *pos, *n;
	unsigned int i, q;

	fa_list_init(&orig_main);
	fa_list_init(&orig_sparse);
	for (i = 0; i <= k; i++)
		job->last[i] = job->last[i]->next; /* first node of op i (or the head) */
	for (i = 0; i <= k; i++) {
		struct fa_list *stop = i < k ? job->last[i + 1] : retired;
		bool sparse = job->ops[i].kind == VMM_OP_SPARSE || job->ops[i].kind == VMM_OP_UNSPARSE;

		for (pos = job->last[i]; pos != stop; pos = n) {
			struct vmm_va *v = vmm_va_entry(pos);
			bool mine = false;

			n = pos->next;
			for (q = 0; q < sa->n; q++)
				if (sa->ins[q] == v) {
					sa->ins[q] = NULL; /* inserted, then removed by a later op */
					mine = true;
				}
			fa_list_del_init(pos);
			if (mine)
				fa_reserve_give_back(sa->r, v);
			else
				fa_list_add_tail(pos, sparse ? &orig_sparse : &orig_main);
		}
	}
	for (q = sa->n; q-- > 0;)
		if (sa->ins[q]) {
			vmm_va_set_remove(sa->ins_set[q], sa->ins[q]);
			fa_reserve_give_back(sa->r, sa->ins[q]);
		}
	fa_list_for_each_safe(pos, n, &orig_main) {
		fa_list_del_init(pos);
		vmm__va_insert(&vm->staged, vmm_va_entry(pos));
	}
	fa_list_for_each_safe(pos, n, &orig_sparse) {
		fa_list_del_init(pos);
		vmm__va_insert(&vm->sparse_staged, vmm_va_entry(pos));
	}
	sa->n = 0;
}

/* Undo ops [0, k) fully and op k up to @p done_k (k < nops), then the view. */
static inline void vmm__plan_undo(struct vmm_vm *vm, struct vmm_job *job, unsigned int k,
				  unsigned int done_k, struct vmm__staged_alloc *sa,
				  struct fa_list *retired)
{
	unsigned int i = k + 1;

	while (i-- > 0) {
		struct fa_list *stop = i + 1 <= k ? job->last[i + 1]->next : retired;

		vmm__plan_op_undo(vm, &job->ops[i], job->last[i]->next, stop, i == k ? done_k : 3);
	}
	vmm__plan_settle(vm);
	vmm__plan_stash_drain(vm);
	vmm__staged_undo(vm, job, k, sa, retired);
}

/* Apply a job's ops to the submit-side view and the page-table plan, op by op,
 * counting what its run step will take. On error both are as they were. */
static inline int vmm__plan_job(struct vmm_vm *vm, struct vmm_job *job, struct vmm__staged_alloc *sa,
				struct fa_list *retired, struct vmm__plan *p)
{
	const struct fa_pt_format *f = vm->dev->hw.fmt;
	unsigned int before = fa_reserve_count(sa->r), i, l, done = 0;
	struct vmm_va_alloc a;
	struct vmm_va req;
	int err = 0;

	vmm__zero(p, sizeof(*p));
	a.take = vmm__staged_take;
	a.inserted = vmm__staged_inserted;
	a.ctx = sa;
	for (i = 0; i < job->nops && !err; i++) {
		const struct vmm_op *op = &job->ops[i];

		job->last[i] = retired->prev;
		vmm__op_to_va(op, &req);
		sa->cur = op->kind == VMM_OP_MAP || op->kind == VMM_OP_UNMAP ? &vm->staged :
								      &vm->sparse_staged;
		if (op->kind == VMM_OP_MAP || op->kind == VMM_OP_SPARSE)
			(void)vmm_va_set_map(sa->cur, &req, &a, retired);
		else
			vmm_va_set_unmap(sa->cur, op->va, op->size, &a, retired);
		err = vmm__plan_op(vm, op, job->last[i]->next, retired, p, &done);
	}
	if (err) {
		vmm__plan_undo(vm, job, i - 1, done, sa, retired);
		return err;
	}
	p->nodes = before - fa_reserve_count(sa->r);
	for (l = 0; l < f->nlevels; l++) {
		uint64_t bytes = fa_pt_level_bytes(f, l);

		if (vmm__table_small(bytes, FA_BIT64(f->level[l].align_log2)))
			p->small += p->tables[l];
		else
			p->whole += p->tables[l];
		p->released_bytes += vm->plan.stats.pending[l] * bytes;
	}
	p->total = p->whole + p->small;
	return 0;
}

/* Bytes of page tables the VM may pin once this job's plan is in: every table
 * of the plan, those the job releases (waiting for their invalidate), and
 * those earlier jobs released that are not freed yet. */
static inline uint64_t vmm__plan_charge(const struct vmm_vm *vm, const struct vmm__plan *p)
{
	const struct fa_pt_format *f = vm->dev->hw.fmt;
	uint64_t bytes = p->released_bytes + vm->pt_unfreed_bytes;
	unsigned int l;

	for (l = 0; l < f->nlevels; l++)
		bytes += vm->plan.stats.live[l] * fa_pt_level_bytes(f, l);
	return bytes;
}

/* Release a job's page-table reservations: shadow nodes (VM lock), and
 * unused table claims with the blocks no claim needs any more (takes the
 * page-table lock). */
static inline void vmm__job_release_tables(struct vmm_job *job)
{
	struct vmm_vm *vm = job->vm;
	unsigned int k;

	for (k = 0; k < vm->nshadow; k++)
		if (job->shadow[k].pool)
			fa_reserve_release(&job->shadow[k]);
	if (job->claim_whole || job->claim_small) {
		vmm__lock(vm->locks.pt);
		fa_ptalloc_unreserve(&vm->ptalloc, job->claim_whole, job->claim_small);
		fa_ptalloc_trim(&vm->ptalloc);
		vmm__unlock(vm->locks.pt);
		job->claim_whole = 0;
		job->claim_small = 0;
	}
}

/* Release every reservation a job still holds (VM lock held). */
static inline void vmm__job_release_reservations(struct vmm_job *job)
{
	if (job->nodes.pool)
		fa_reserve_release(&job->nodes);
	vmm__job_release_tables(job);
}

/* Fill a job's reservations with what the plan says: mapping nodes, shadow
 * nodes per size, and a claim on the VM's page-table VRAM (blocks taken from
 * the buddy outside the page-table lock, committed under it). VM lock held;
 * allocates. On failure nothing is held. */
static inline int vmm__job_reserve(struct vmm_job *job, const struct vmm__plan *p)
{
	struct vmm_vm *vm = job->vm;
	const struct fa_pt_format *f = vm->dev->hw.fmt;
	uint64_t per_kind[VMM_SHADOW_KINDS], deficit;
	struct fa_ptalloc_batch batch;
	unsigned int k, l;
	int err;

	for (k = 0; k < VMM_SHADOW_KINDS; k++)
		per_kind[k] = 0;
	for (l = 0; l < f->nlevels; l++)
		per_kind[vm->shadow_kind[l]] += p->tables[l];
	fa_reserve_init(&job->nodes, &vm->node_pool);
	err = fa_reserve_fill(&job->nodes, p->nodes, FA_GFP_KERNEL);
	for (k = 0; !err && k < vm->nshadow; k++) {
		fa_reserve_init(&job->shadow[k], &vm->shadow_pool[k]);
		err = per_kind[k] > 0xffffffu ? -FA_ENOSPC :
		      fa_reserve_fill(&job->shadow[k], (unsigned int)per_kind[k], FA_GFP_KERNEL);
	}
	if (err)
		goto fail;
	vmm__lock(vm->locks.pt);
	deficit = fa_ptalloc_deficit(&vm->ptalloc, p->whole, p->small);
	vmm__unlock(vm->locks.pt);
	err = fa_ptalloc_batch_fill(&vm->ptalloc, &batch, deficit, FA_GFP_KERNEL);
	if (err)
		goto fail;
	vmm__lock(vm->locks.pt);
	err = fa_ptalloc_commit(&vm->ptalloc, &batch, p->whole, p->small);
	if (err)
		fa_ptalloc_trim(&vm->ptalloc);
	vmm__unlock(vm->locks.pt);
	if (err)
		goto fail;
	job->claim_whole = p->whole;
	job->claim_small = p->small;
	job->tables_reserved = (unsigned long)p->total;
	job->nodes_reserved = p->nodes;
	return 0;
fail:
	vmm__job_release_reservations(job);
	return err;
}
/** @endcond */

/* ------------------------------------------------------------ submit */

/** @cond INTERNAL */
static inline struct vmm_job *vmm__job_alloc(struct vmm_vm *vm, const struct vmm_op *ops,
					     unsigned int nops, unsigned int worst_nodes)
{
	size_t sz = sizeof(struct vmm_job) + nops * sizeof(*ops) +
		    nops * sizeof(struct fa_list *) + worst_nodes * sizeof(struct vmm_va *) +
		    worst_nodes * sizeof(struct vmm_va_set *);
	struct vmm_job *job = (struct vmm_job *)vmm__alloc(vm->dev, sz);

	if (!job)
		return NULL;
	vmm__zero(job, sizeof(*job));
	job->alloc_size = sz;
	job->vm = vm;
	job->nops = nops;
	job->ops = (struct vmm_op *)(void *)(job + 1);
	__builtin_memcpy(job->ops, ops, nops * sizeof(*ops));
	job->last = (struct fa_list **)(void *)(job->ops + nops);
	job->ins = (struct vmm_va **)(void *)(job->last + nops);
	job->ins_set = (struct vmm_va_set **)(void *)(job->ins + worst_nodes);
	fa_list_init(&job->retired);
	return job;
}

/* Submit, the plans are in and reserved: keep them. */
static inline void vmm__plan_commit(struct vmm_vm *vm, const struct vmm__plan *p,
				    struct fa_list *retired)
{
	struct fa_list *pos, *n;

	vm->pt_unfreed_bytes += p->released_bytes;
	vmm__plan_settle(vm);
	vmm__plan_stash_drain(vm);
	fa_list_for_each_safe(pos, n, retired) {
		fa_list_del_init(pos);
		fa_reserve_pool_put(&vm->staged_pool, vmm_va_entry(pos));
	}
}
/** @endcond */

/**
 * Submit a VM_BIND job: validate the ops, plan them against the submit-side
 * view and the page-table plan (the state after every job submitted before),
 * fill the job's reservations with exactly what the plans say its run step
 * will take, keep the plans. On any error nothing is changed and nothing is
 * held. The driver then queues the job behind the VM's previous one (its
 * scheduler runs jobs of one VM in submission order) and calls vmm_job_run()
 * and vmm_job_cleanup() exactly once each. Do everything that can fail on
 * the driver side (its job and fence) *before* this call: a submitted job
 * cannot be withdrawn, only run.
 * @stage submit (allocates with #FA_GFP_KERNEL, may sleep)
 * @locking the driver's VM lock held (asserted); takes, one at a time, the
 *          page-table lock (a read of the tree, the ptalloc claim) and the VRAM lock
 * @param vm VM.
 * @param ops Ops (copied).
 * @param nops Number of ops, 1 .. #VMM_JOB_MAX_OPS.
 * @param out The job (owned by the core until vmm_job_cleanup()).
 * @return 0; the errors of vmm_ops_check(); -FA_EINVAL (a split at an address
 *         the split mapping's page size cannot express, or a map that reaches
 *         out of a sparse region or uses another page size; an unmap over
 *         holes is not an error: it unmaps what exists); -FA_EBUSY (a sparse
 *         bind over mapped VA or another region, a sparse unbind with mappings
 *         left inside); -FA_ENOENT (a sparse unbind that matches no region);
 *         -FA_ENOMEM;
 *         -FA_ENOSPC (VRAM for page tables, or the VM's node budget: wait for
 *         pending jobs and retry); -FA_EDQUOT (the VM's page-table budget,
 *         vmm_config::pt_budget).
 */
static inline int vmm_job_submit(struct vmm_vm *vm, const struct vmm_op *ops, unsigned int nops,
				 struct vmm_job **out)
{
	struct vmm_device *dev = vm->dev;
	struct vmm__staged_alloc sa;
	struct fa_reserve staged_res;
	struct fa_list retired;
	struct vmm__plan plan;
	struct vmm_job *job = NULL;
	unsigned int worst, i;
	int err;

	FA_ASSERT(out);
	vmm__assert_held(vm->locks.vm);
	err = vmm_ops_check(vm, ops, nops);
	if (!err)
		err = vmm__ops_check_view(vm, ops, nops);
	if (err)
		goto out_rejected;
	worst = vmm__plan_nodes(ops, nops);
	job = vmm__job_alloc(vm, ops, nops, worst);
	if (!job) {
		err = -FA_ENOMEM;
		goto out_rejected;
	}
	fa_reserve_init(&staged_res, &vm->staged_pool);
	err = fa_reserve_fill(&staged_res, worst, FA_GFP_KERNEL);
	if (err)
		goto out_free;
	sa.r = &staged_res;
	sa.ins = job->ins;
	sa.ins_set = job->ins_set;
	sa.cur = &vm->staged;
	sa.n = 0;
	sa.cap = worst;
	fa_list_init(&retired);
	err = vmm__plan_job(vm, job, &sa, &retired, &plan);
	if (err)
		goto out_staged;
	if (dev->cfg.pt_budget && vmm__plan_charge(vm, &plan) > dev->cfg.pt_budget) {
		vmm__stat_add(&dev->stats.pt_budget_rejects, 1);
		err = -FA_EDQUOT;
	}
	if (!err)
		err = vmm__job_reserve(job, &plan);
	if (err) {
		vmm__plan_undo(vm, job, job->nops - 1, 3, &sa, &retired);
		goto out_staged;
	}

	/* Nothing can fail from here on. */
	vmm__plan_commit(vm, &plan, &retired);
	fa_reserve_release(&staged_res);
	job->tables_estimated = vmm__plan_estimate_now(vm, ops, nops);
	vmm__stat_add(&dev->stats.pt_estimated, job->tables_estimated);
	vmm__stat_add(&dev->stats.pt_static, vmm__plan_static(vm, ops, nops));
	for (i = 0; i < nops; i++)
		if (ops[i].kind == VMM_OP_MAP)
			vmm_bo_get(ops[i].bo); /* the job's own reference until cleanup */
	job->seq = ++vm->seq_submitted;
	vm->jobs_pending++;
	vmm__stat_add(&dev->stats.nodes_reserved, plan.nodes);
	vmm__stat_add(&dev->stats.pt_reserved, (unsigned long)plan.total);
	vmm__stat_add(&dev->stats.jobs_submitted, 1);
	*out = job;
	return 0;

out_staged:
	fa_reserve_release(&staged_res);
out_free:
	vmm__free(dev, job, job->alloc_size);
out_rejected:
	vmm__stat_add(&dev->stats.jobs_rejected, 1);
	return err;
}

/* ------------------------------------------------------------ run */

/** @cond INTERNAL */
/* End of a run step (page-table lock held): whatever the plan promised and
 * the run did not use goes back now (it never should: the job then counts
 * as inexact). */
static inline void vmm__run_settle(struct vmm_job *job)
{
	struct vmm_vm *vm = job->vm;
	bool exact = job->tables_used == job->tables_reserved && fa_reserve_count(&job->nodes) == 0;
	unsigned int k;

	for (k = 0; k < vm->nshadow; k++)
		exact &= fa_reserve_count(&job->shadow[k]) == 0;
	if (!exact)
		vmm__stat_add(&vm->dev->stats.jobs_inexact, 1);
	fa_ptalloc_unreserve(&vm->ptalloc, job->claim_whole, job->claim_small);
	job->claim_whole = 0;
	job->claim_small = 0;
}

/* Run step: clear the PTEs of a removed node's cut and drop its references
 * now (another page size, or an unmap), or leave the references for after the
 * new range is referenced (same page size: the tables stay). */
static inline void vmm__run_clear(struct vmm_job *job, const struct vmm_va *n, bool unref,
				  uint64_t next_epoch, uint64_t *pte_ns)
{
	struct vmm_vm *vm = job->vm;
	struct vmm_device *dev = vm->dev;
	uint64_t t = vmm__now(dev), page = FA_BIT64(n->page_shift);

	/* inside a sparse region the pages read as zero again (the region's
	 * sparse PDE comes back by itself once the table empties) */
	if (vmm__overlap(&vm->sparse_live, n->cut_va, n->cut_size)) {
		vmm__run_check(dev, fa_pt_sparse(&vm->pt, n->cut_va, n->cut_size, page));
	} else if (unref) {
		/* one walk: PTEs invalid, references dropped, emptied tables released after */
		vmm__run_check(dev, fa_pt_unmap_unref(&vm->pt, n->cut_va, n->cut_size, page,
						      next_epoch));
		unref = false;
	} else {
		vmm__run_check(dev, fa_pt_unmap(&vm->pt, n->cut_va, n->cut_size, page));
	}
	*pte_ns += vmm__now(dev) - t;
	vmm__stat_add(&dev->stats.pte_writes, (unsigned long)(n->cut_size >> n->page_shift));
	if (unref)
		vmm__run_check(dev, fa_pt_unref(&vm->pt, n->cut_va, n->cut_size, page, next_epoch));
}

/* Tell the optional checker hook that live PTEs of the op's range change
 * (some node removed by the op had PTEs in it). */
static inline bool vmm__run_live_begin(struct vmm_job *job, const struct vmm_op *op,
				       struct fa_list *last)
{
	struct vmm_device *dev = job->vm->dev;
	unsigned int shift = op->page_shift;
	bool live = false;
	struct fa_list *pos;

	if (!dev->hw.live_begin || !dev->hw.live_end)
		return false;
	for (pos = last->next; pos != &job->retired; pos = pos->next) {
		const struct vmm_va *n = vmm_va_entry(pos);

		if (!n->cut_size)
			continue;
		live = true;
		if (n->page_shift < shift)
			shift = n->page_shift;
	}
	if (live)
		dev->hw.live_begin(dev->hw.ctx, job->vm->pdb, op->va, op->size,
				   op->kind == VMM_OP_MAP ? op->bo->pa + op->bo_offset : VMM_NO_PA,
				   shift);
	return live;
}

/* Run step of a sparse-region op: the region holds its own table
 * references over its range, and its free pages hold sparse PTEs. */
static inline void vmm__run_sparse_op(struct vmm_job *job, const struct vmm_op *op,
				      uint64_t next_epoch)
{
	struct vmm_vm *vm = job->vm;
	struct vmm_device *dev = vm->dev;
	uint64_t page = FA_BIT64(op->page_shift);
	unsigned int before = fa_reserve_count(&job->nodes);
	struct vmm_va_alloc a;
	struct vmm_va req;

	vmm__alloc_of(&a, job, false);
	if (op->kind == VMM_OP_SPARSE) {
		vmm__op_to_va(op, &req);
		(void)vmm_va_set_map(&vm->sparse_live, &req, &a, &job->retired);
		vm->building = job;
		vmm__run_check(dev, fa_pt_sparse_ref(&vm->pt, op->va, op->size, page,
						     FA_GFP_NOWAIT));
		vm->building = NULL;
	} else {
		vmm_va_set_unmap(&vm->sparse_live, op->va, op->size, &a, &job->retired);
		vmm__run_check(dev, fa_pt_sparse_unref(&vm->pt, op->va, op->size, page, next_epoch));
	}
	/* the region's node comes from the job's reservation like a mapping's */
	vmm__stat_add(&dev->stats.nodes_used, before - fa_reserve_count(&job->nodes));
	vmm__stat_add(&dev->stats.pte_writes, (unsigned long)(op->size >> op->page_shift));
}

/* Run step of one op: page-table lock held. */
static inline void vmm__run_op(struct vmm_job *job, const struct vmm_op *op, uint64_t next_epoch,
			       uint64_t *pte_ns)
{
	struct vmm_vm *vm = job->vm;
	struct vmm_device *dev = vm->dev;
	struct fa_list *last = job->retired.prev, *pos;
	unsigned int before = fa_reserve_count(&job->nodes);
	struct vmm_va_alloc a;
	struct vmm_va req, *n;
	uint64_t t, page = FA_BIT64(op->page_shift);
	bool live;

	if (op->kind == VMM_OP_SPARSE || op->kind == VMM_OP_UNSPARSE) {
		vmm__run_sparse_op(job, op, next_epoch);
		return;
	}
	vmm__alloc_of(&a, job, true);
	if (op->kind == VMM_OP_MAP) {
		vmm__op_to_va(op, &req);
		(void)vmm_va_set_map(&vm->live, &req, &a, &job->retired);
	} else {
		vmm_va_set_unmap(&vm->live, op->va, op->size, &a, &job->retired);
	}
	vmm__stat_add(&dev->stats.nodes_used, before - fa_reserve_count(&job->nodes));
	live = vmm__run_live_begin(job, op, last);
	/* 1. Clear every replaced PTE; drop the references of another page size now.
	 * Clearing first (VALID off, low half first), then writing the new PTEs
	 * into invalid entries, means no walker ever sees an entry whose address
	 * belongs to neither the old nor the new mapping, as an in-place rewrite
	 * of a live 64-bit PTE in two 32-bit halves could show. */
	for (pos = last->next; pos != &job->retired; pos = pos->next) {
		n = vmm_va_entry(pos);
		if (n->cut_size)
			vmm__run_clear(job, n, op->kind != VMM_OP_MAP || n->page_shift != op->page_shift,
				       next_epoch, pte_ns);
	}
	if (op->kind != VMM_OP_MAP) {
		if (live)
			dev->hw.live_end(dev->hw.ctx);
		return;
	}
	/* 2. Reference the new range and write its PTEs in one walk: missing
	 * tables come from the job's reservation; a new PTE table the range
	 * covers whole gets its PTEs before its PDE (no invalid fill first).
	 * Every entry of the range is invalid now, so no intermediate state of
	 * a two-half write maps a foreign address. */
	t = vmm__now(dev);
	vm->building = job;
	vmm__run_check(dev, fa_pt_ref_map(&vm->pt, op->va, op->size, page,
					  op->bo->pa + op->bo_offset, vmm__pte_attr(op->flags),
					  FA_GFP_NOWAIT));
	vm->building = NULL;
	*pte_ns += vmm__now(dev) - t;
	vmm__stat_add(&dev->stats.pte_writes, (unsigned long)(op->size >> op->page_shift));
	/* 3. Same page size: the tables stayed referenced across the switch;
	 * drop the old references (the new ones hold every slot of the range,
	 * so no table the new PTEs live in can be released here). */
	for (pos = last->next; pos != &job->retired; pos = pos->next) {
		n = vmm_va_entry(pos);
		if (n->cut_size && n->page_shift == op->page_shift)
			vmm__run_check(dev, fa_pt_unref(&vm->pt, n->cut_va, n->cut_size, page,
							next_epoch));
	}
	if (live)
		dev->hw.live_end(dev->hw.ctx);
}
/** @endcond */

/**
 * The run step of a job: applies the plan to the run-side view with reserved
 * nodes, updates page-table references from the job's reservations, writes
 * PTEs through the accessor, flushes, invalidates the TLB. Never allocates,
 * never waits, never fails (a reservation found short is a caller bug: it
 * warns and counts in #vmm_stats::run_errors, state stays consistent).
 * The driver signals the job's fence afterwards, still inside its section.
 * @stage run (inside the driver's fence-signalling section)
 * @locking the driver's page-table lock held (asserted); takes the hw lock (innermost)
 * @param job A submitted job; every earlier job of its VM has run.
 */
static inline void vmm_job_run(struct vmm_job *job)
{
	struct vmm_vm *vm = job->vm;
	struct vmm_device *dev = vm->dev;
	uint64_t t0 = vmm__now(dev), pte_ns = 0, next_epoch;
	unsigned int i, maps = 0;

	vmm__assert_held(vm->locks.pt);
	if (FA_WARN(job->ran))
		return;
	if (FA_WARN(job->seq != vm->seq_run + 1))
		vmm__stat_add(&dev->stats.order_errors, 1);
	vm->seq_run = job->seq;
	/* Another VM's run step may invalidate between this read and this
	 * step's own invalidate (run steps of different VMs may run in
	 * parallel), completing next_epoch without touching this VM's TLB.
	 * Still safe: the tables queued here are reclaimed only under this
	 * VM's page-table lock, which this step holds through its own
	 * invalidate, so no reclaim sees next_epoch completed before it. */
	next_epoch = dev->hw.tlb_epoch(dev->hw.ctx) + 1;
	for (i = 0; i < job->nops; i++) {
		vmm__run_op(job, &job->ops[i], next_epoch, &pte_ns);
		maps += job->ops[i].kind == VMM_OP_MAP || job->ops[i].kind == VMM_OP_SPARSE;
	}
	if (job->tables_used > job->tables_estimated)
		vmm__stat_add(&dev->stats.pt_estimate_short, 1);
	vmm__run_settle(job);
	vmm__lock(dev->hw.hw_lock);
	vmm__run_check(dev, fa_pramin_flush(&dev->hw.pt_mem));
	(void)dev->hw.tlb_invalidate(dev->hw.ctx, vm->pdb);
	/* 64-bit sums without 64-bit atomics (i386): under the device-wide hw lock. */
	dev->stats.run_pte_ns += pte_ns;
	dev->stats.run_ns += vmm__now(dev) - t0;
	vmm__unlock(dev->hw.hw_lock);
	job->ran = true;
	vmm__stat_add(&dev->stats.ops_map, maps);
	vmm__stat_add(&dev->stats.ops_unmap, job->nops - maps);
	vmm__stat_add(&dev->stats.jobs_run, 1);
}

/* ------------------------------------------------------------ cleanup */

/**
 * The cleanup step of a job whose fence has signalled: free page tables
 * whose TLB invalidate has completed, give reservation leftovers back, free
 * the mapping nodes the run step removed, drop buffer references, free the
 * job. Also valid for a job that never ran (the driver tore its queue down):
 * its reservations are returned; the views then disagree until the VM is
 * finalised.
 * @stage cleanup (frees)
 * @locking the driver's VM lock held (asserted); takes the page-table lock, then the VRAM lock
 * @param job Job (freed on return).
 */
static inline void vmm_job_cleanup(struct vmm_job *job)
{
	struct vmm_vm *vm = job->vm;
	struct vmm_device *dev = vm->dev;
	struct fa_list *pos, *n;
	unsigned int i;

	vmm__assert_held(vm->locks.vm);
	vmm__lock(vm->locks.pt);
	fa_pt_reclaim(&vm->pt, dev->hw.tlb_epoch(dev->hw.ctx));
	fa_ptalloc_trim(&vm->ptalloc); /* blocks whose every table was freed, no claim needs */
	vmm__unlock(vm->locks.pt);
	vmm__job_release_reservations(job);
	fa_list_for_each_safe(pos, n, &job->retired) {
		struct vmm_va *node = vmm_va_entry(pos);

		fa_list_del_init(pos);
		vmm_bo_put(node->bo);
		fa_reserve_pool_put(&vm->node_pool, node);
	}
	for (i = 0; i < job->nops; i++)
		if (job->ops[i].kind == VMM_OP_MAP)
			vmm_bo_put(job->ops[i].bo);
	vm->jobs_pending--;
	vmm__stat_add(&dev->stats.jobs_cleaned, 1);
	vmm__free(dev, job, job->alloc_size);
}

#ifdef __cplusplus
}
#endif

#endif /* VMM_VMM_H */
