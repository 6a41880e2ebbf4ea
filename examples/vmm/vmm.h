/* SPDX-License-Identifier: MIT */
/**
 * @file vmm.h
 * @brief Reference GPU VMM: VM_BIND jobs through submit / run / cleanup on real threads.
 *
 * What a driver with a VM_BIND ioctl has to write, composed from fencealloc's
 * modules, small enough to read in one sitting and to copy:
 *
 * - **Device** (#vmm_device): VRAM managed by the buddy (buffer objects and
 *   page-table memory), the page-table memory accessor (a PRAMIN window in the
 *   simulator), the TLB-invalidate hook (#vmm_hw), one scheduler thread and
 *   one cleanup worker shared by every VM.
 * - **VM** (#vmm_vm): a GPU VA range, two views of its mappings (#vmm_va_set,
 *   gpuva.h), a page-table tree (pt.h), a fence timeline, and three locks:
 *   - the **VM lock** (submit, cleanup): the submit-side view and the
 *     reservation pools. Allocations happen under it; the run stage never
 *     takes it;
 *   - the **ref lock** (run, cleanup; submit reads the tree under it): the
 *     page-table tree's references (fa_pt_ref(), fa_pt_unref(),
 *     fa_pt_reclaim()). Never held across an allocation or a fence wait;
 *   - the **map lock** (run): the run-side view and PTE writes. Never held
 *     across an allocation or a fence wait.
 * - **Job** (#vmm_job): map/unmap ops (#vmm_op), its fence, its reservations
 *   (mapping nodes, page-table shadow nodes, page-table VRAM), what its run
 *   stage removed.
 *
 * The three stages:
 *
 * | stage   | thread         | does | may fail? |
 * |---------|----------------|------|-----------|
 * | submit  | the caller     | validate every op (the ioctl boundary); against the submit-side view, check unmaps and splits; reserve 3 mapping nodes per map and 2 per unmap, and the worst-case page tables of every map (fa_pt_estimate_static(): shadow nodes and VRAM); apply the ops to the submit-side view; queue the job behind the VM's previous job | yes, with nothing changed |
 * | run     | scheduler      | inside fa_signalling_begin/end, under the ref and map locks: apply the ops to the run-side view (split/merge, nodes from the reservation), clear replaced PTEs, drop their table references (tables reaching zero are queued, not freed), reference the new range (tables from the reservation), write PTEs, flush, invalidate the TLB; signal the fence | no; never allocates (counted) |
 * | cleanup | cleanup worker | after the fence: free the tables whose invalidate has completed, give reservation leftovers back, free removed mapping nodes, drop buffer references | no |
 *
 * **fa_pt_ref() in the run stage.** pt.h lists fa_pt_ref() as `@stage submit`
 * because with a general allocator it allocates. This VMM calls it in the run
 * stage on purpose: a map of 4 KiB pages over a live 2 MiB page needs the huge
 * slot's reference dropped first (pt.h refuses small tables under a referenced
 * huge slot, -FA_EBUSY), and that can only happen when the job runs; more
 * generally the exact operations are only known then (Danilo Krummrich: "what
 * we don't know is what exact operations this does require"). It stays
 * allocation-free because both allocators it is handed (with #FA_GFP_NOWAIT)
 * draw only from the job's reservation, sized for the worst case at submit:
 * the table allocator pops a reserved VRAM address, the shadow allocator
 * fa_reserve_take()s a reserved node; an empty reservation returns an error
 * (counted as a run error), never a fallback allocation. The demo's allocation
 * counter and the validator check it. fa_pt_unref() in the
 * run stage only clears PDEs and queues tables on the tree's deferred list,
 * tagged with the epoch of the TLB invalidate the same run stage issues at
 * its end; cleanup frees them once that epoch has completed (PDE clear →
 * flush → invalidate → free).
 *
 * Two views of the address space: the **submit-side view** is the state after
 * every *submitted* job (what submit validates against, like nouveau updating
 * drm_gpuvm at submit); the **run-side view** is the state after every job
 * that has *run*: what the page tables hold. When the device is idle they are
 * equal (vmm_vm_check_views()).
 *
 * What to replace for a real driver: docs/vmm.md (the hooks of #vmm_hw, the
 * page-table format, the scheduler threads, pthread locks).
 *
 * Userspace C11 + pthreads (the modules it uses are kernel-grade; this file is
 * the example around them).
 *
 * @code
 * struct vmm_device *dev;
 * struct vmm_vm *vm;
 * struct vmm_bo *bo;
 * struct vmm_op op;
 * struct vmm_fence *f;
 *
 * vmm_device_create(&hw, &host_alloc, NULL, &dev);   // starts the two threads
 * vmm_vm_create(dev, 1ull << 32, 1ull << 40, &vm);
 * vmm_bo_create(dev, 2u << 20, &bo);
 * vmm_op_map(&op, 1ull << 32, 2u << 20, bo, 0, 16);  // 64 KiB pages
 * if (vmm_job_submit(vm, &op, 1, NULL, &f) == 0) {
 *         vmm_fence_wait(f);
 *         vmm_fence_put(f);
 * }
 * vmm_device_wait_idle(dev);
 * vmm_vm_destroy(vm);
 * vmm_bo_put(bo);
 * vmm_device_destroy(dev);
 * @endcode
 */
#ifndef VMM_VMM_H
#define VMM_VMM_H

#include <fencealloc/base.h>
#include <fencealloc/signalling.h>
#include <fencealloc/reserve.h>
#include <fencealloc/deferred.h>
#include <fencealloc/buddy.h>
#include <fencealloc/pramin.h>
#include <fencealloc/pt.h>

#include "fence.h"
#include "gpuva.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Most ops in one job (the ioctl's array limit). */
#define VMM_JOB_MAX_OPS 64u
/** Op kind: map a BO range. */
#define VMM_OP_MAP 1u
/** Op kind: unmap a VA range. */
#define VMM_OP_UNMAP 2u
/** Mapping flag: read-only. */
#define VMM_MAP_READ_ONLY 0x1u
/** VRAM granule of page-table memory (every table gets one, even a 256-byte big-page table). */
#define VMM_TABLE_BYTES 4096u
/** Distinct shadow-node sizes a format may have (one reservation pool each). */
#define VMM_SHADOW_KINDS FA_PT_MAX_LEVELS

/** Deliberate bugs the demo can seed (vmm_config::seed_bug). */
enum vmm_seed_bug {
	VMM_BUG_NONE = 0,           /**< Correct driver. */
	VMM_BUG_ALLOC_IN_RUN = 1,   /**< Allocate a page table under the map lock in the run stage. */
	VMM_BUG_WAIT_UNDER_REF = 2, /**< Wait on a fence while holding the ref lock (cleanup). */
	VMM_BUG_NO_TLB_INVALIDATE = 3, /**< Change PTEs without invalidating the TLB. */
};

/** One operation of a VM_BIND job, as the ioctl hands it over. */
struct vmm_op {
	uint32_t kind;        /**< #VMM_OP_MAP or #VMM_OP_UNMAP. */
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

/** What the VMM needs from the hardware. Replace these for a real GPU. */
struct vmm_hw {
	/** Page-table memory accessor (PRAMIN window); used under the device's hw lock. */
	struct fa_pramin_accessor pt_mem;
	/** Invalidate the TLB for the VM whose root is @p pdb (MMIO; hw lock held); returns its epoch. */
	uint64_t (*tlb_invalidate)(void *ctx, uint64_t pdb);
	/** Epoch of the last completed invalidate. */
	uint64_t (*tlb_epoch)(void *ctx);
	void *ctx;                      /**< Argument of the two hooks. */
	uint64_t vram_size;             /**< Bytes of VRAM managed by the buddy. */
	const struct fa_pt_format *fmt; /**< Page-table format. */
};

/** Tunables (all zero = defaults). */
struct vmm_config {
	unsigned int seed_bug;   /**< #vmm_seed_bug (0 for a correct driver). */
	unsigned long lat_cap;   /**< Latency samples kept per stage (default 1 << 20). */
	/**
	 * Most mapping nodes one VM may hold, live plus reserved by pending jobs
	 * (0: no limit). Submit fails with -FA_ENOSPC, nothing changed, when a job's
	 * worst case does not fit: back-pressure instead of unbounded reservations.
	 */
	unsigned long node_budget;
};

/** Latency samples of one stage (preallocated; recording never allocates). */
struct vmm_lat {
	uint64_t *ns;       /**< Samples (nanoseconds). */
	unsigned long cap;  /**< Capacity. */
	unsigned long n;    /**< Samples recorded (atomic; may exceed cap, extra ones dropped). */
};

/** Device-wide counters (atomic). */
struct vmm_stats {
	unsigned long jobs_submitted;  /**< Jobs accepted at submit. */
	unsigned long jobs_rejected;   /**< Submits that failed (nothing changed). */
	unsigned long jobs_run;        /**< Run stages completed. */
	unsigned long jobs_cleaned;    /**< Cleanups completed. */
	unsigned long ops_map;         /**< Map ops run. */
	unsigned long ops_unmap;       /**< Unmap ops run. */
	unsigned long nodes_reserved;  /**< Mapping nodes reserved at submit (run-side view). */
	unsigned long nodes_used;      /**< Of those, taken by run stages. */
	unsigned long pt_reserved;     /**< Page tables reserved at submit (static worst case). */
	unsigned long pt_estimated;    /**< What the tree-aware estimate said at submit (for comparison). */
	unsigned long pt_estimate_short; /**< Jobs that needed more tables than that estimate said. */
	unsigned long pt_used;         /**< Of those, created by run stages. */
	unsigned long pt_allocated;    /**< Page tables allocated (roots included). */
	unsigned long pt_freed;        /**< Page tables freed (after their invalidate, or at VM destroy). */
	unsigned long pte_writes;      /**< PTEs written (map) or cleared (unmap). */
	unsigned long run_errors;      /**< Page-table calls that failed in a run stage (must stay 0). */
	unsigned long bo_live;         /**< Buffer objects alive. */
	uint64_t run_ns;               /**< Total run-stage time. */
	uint64_t run_pte_ns;           /**< Of which: PTE writes and clears (fa_pt_map/unmap). */
};

/** The device: VRAM, hardware hooks, scheduler, cleanup worker. */
struct vmm_device {
	struct vmm_hw hw;               /**< Hardware hooks (copied at create). */
	struct fa_reserve_source src;   /**< Host allocator for every VMM object. */
	struct vmm_config cfg;          /**< Tunables. */
	pthread_mutex_t hw_lock;        /**< PRAMIN window and MMIO (innermost lock; run-safe). */
	FA_SIGNALLING_MAP_MEMBER(hw_dep)
	pthread_mutex_t vram_lock;      /**< The VRAM buddy (submit/cleanup only). */
	FA_SIGNALLING_MAP_MEMBER(vram_dep)
	struct fa_buddy vram;           /**< VRAM allocator. */
	void *vram_meta;                /**< Buddy metadata storage. */
	size_t vram_meta_size;          /**< Its size. */
	pthread_mutex_t sched_lock;     /**< Scheduler queue (run-safe: fence callbacks take it). */
	FA_SIGNALLING_MAP_MEMBER(sched_dep)
	pthread_cond_t sched_cond;      /**< Wakes the scheduler. */
	pthread_cond_t sched_idle_cond; /**< Broadcast when the scheduler goes idle having seen new jobs. */
	unsigned long sched_queued;     /**< Jobs ever put on the queue (scheduler lock). */
	unsigned long sched_idle_seen;  /**< @ref sched_queued when the scheduler last went idle (scheduler lock). */
	struct fa_list queue;           /**< Jobs waiting for their run stage, in submission order. */
	bool stopping;                  /**< Threads exit when idle (atomic). */
	pthread_t sched_thread;         /**< Runs run stages. */
	pthread_t cleanup_thread;       /**< Runs cleanups. */
	struct fa_llist done;           /**< Jobs whose fence signalled, for the cleanup worker. */
	pthread_mutex_t cleanup_lock;   /**< Cleanup worker sleep/wake and idle tracking (run-safe). */
	FA_SIGNALLING_MAP_MEMBER(cleanup_dep)
	pthread_cond_t cleanup_cond;    /**< Wakes the cleanup worker. */
	pthread_cond_t idle_cond;       /**< Broadcast after every cleanup batch. */
	struct vmm_stats stats;         /**< Counters. */
	struct vmm_lat lat_submit;      /**< Submit-stage latencies. */
	struct vmm_lat lat_run;         /**< Run-stage latencies. */
	struct vmm_lat lat_cleanup;     /**< Cleanup-stage latencies. */
	struct vmm_lat lat_e2e;         /**< Submit-to-cleanup latencies. */
};

/** A GPU virtual address space. */
struct vmm_vm {
	struct vmm_device *dev;         /**< Owner. */
	uint64_t va_start;              /**< First usable VA. */
	uint64_t va_end;                /**< End of the usable VA range. */
	pthread_mutex_t lock;           /**< VM lock: submit-side view, pools (submit/cleanup; may allocate). */
	FA_SIGNALLING_MAP_MEMBER(lock_dep)
	pthread_mutex_t ref_lock;       /**< Ref lock: page-table references (run/cleanup). */
	FA_SIGNALLING_MAP_MEMBER(ref_dep)
	pthread_mutex_t map_lock;       /**< Map lock: run-side view, PTE writes (run). */
	FA_SIGNALLING_MAP_MEMBER(map_dep)
	struct vmm_va_set staged;       /**< Submit-side view (VM lock). */
	struct vmm_va_set live;         /**< Run-side view (map lock). */
	struct fa_reserve_pool node_pool;   /**< Nodes of the run-side view (VM lock). */
	struct fa_reserve_pool staged_pool; /**< Nodes of the submit-side view (VM lock). */
	unsigned int nshadow;           /**< Distinct shadow-node sizes of the format. */
	size_t shadow_size[VMM_SHADOW_KINDS];              /**< Those sizes. */
	unsigned int shadow_kind[FA_PT_MAX_LEVELS];        /**< Level → index into the pools. */
	struct fa_reserve_pool shadow_pool[VMM_SHADOW_KINDS]; /**< Page-table shadow nodes (VM lock). */
	struct vmm_fence_timeline timeline; /**< Fences of this VM's jobs. */
	struct vmm_fence *last_fence;   /**< Fence of the last submitted job (VM lock). */
	struct fa_pt pt;                /**< Page-table tree (ref lock). */
	struct vmm_job *building;       /**< Job whose reservations fa_pt_ref() draws from (ref lock). */
	uint64_t pdb;                   /**< Device address of the root table. */
	unsigned long tables_live;      /**< Tables allocated and not yet freed (ref lock). */
	unsigned long jobs_pending;     /**< Jobs submitted and not yet cleaned up (atomic). */
};

/** Callback registration on a dependency fence. */
struct vmm_job_dep {
	struct vmm_fence_cb cb; /**< Registration. */
	struct vmm_job *job;    /**< Job waiting for it. */
};

/** A VM_BIND job. */
struct vmm_job {
	struct vmm_vm *vm;              /**< Target VM. */
	struct vmm_fence fence;         /**< Signalled at the end of the run stage; owns the job's memory. */
	struct fa_list queue_link;      /**< On the scheduler queue. */
	struct fa_llist_node done_link; /**< On the cleanup list. */
	struct vmm_job_dep dep[2];      /**< Dependencies: previous job of the VM, in-fence. */
	struct vmm_fence *deps[2];      /**< Their fences (references held until cleanup). */
	int pending_deps;               /**< Unsignalled dependencies (+1 while submitting; atomic). */
	unsigned int nops;              /**< Number of ops. */
	struct vmm_op *ops;             /**< Copy of the ops. */
	struct fa_reserve nodes;        /**< Run-side view nodes (3 per map, 2 per unmap). */
	struct fa_reserve shadow[VMM_SHADOW_KINDS]; /**< Page-table shadow nodes per size. */
	uint64_t *tables;               /**< Reserved page-table VRAM addresses. */
	unsigned int ntables;           /**< Entries of @ref tables still unused. */
	unsigned int tables_reserved;   /**< Entries reserved at submit. */
	unsigned long tables_estimated; /**< Tree-aware estimate at submit (statistics only). */
	struct fa_list retired;         /**< Run-side nodes removed by the run stage. */
	uint64_t t_submit;              /**< Submit start (ns). */
	size_t alloc_size;              /**< Bytes of the job allocation. */
};

/** @cond INTERNAL */
#ifdef __cplusplus
#define VMM__THREAD_LOCAL thread_local
#else
#define VMM__THREAD_LOCAL _Thread_local
#endif

static inline int *vmm__run_depth(void)
{
	static VMM__THREAD_LOCAL int depth;

	return &depth;
}

static inline uint64_t vmm__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void vmm__stat_add(unsigned long *c, unsigned long v)
{
	__atomic_fetch_add(c, v, __ATOMIC_RELAXED);
}

static inline unsigned long vmm__stat_get(const unsigned long *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

static inline void vmm__lat_record(struct vmm_lat *l, uint64_t ns)
{
	unsigned long i = __atomic_fetch_add(&l->n, 1, __ATOMIC_RELAXED);

	if (i < l->cap)
		l->ns[i] = ns;
}

FA_SIGNALLING_DEFINE_STATIC_CLASS(vmm_vm_lock);
FA_SIGNALLING_DEFINE_STATIC_CLASS(vmm_ref_lock);
FA_SIGNALLING_DEFINE_STATIC_CLASS(vmm_map_lock);
FA_SIGNALLING_DEFINE_STATIC_CLASS(vmm_hw_lock);
FA_SIGNALLING_DEFINE_STATIC_CLASS(vmm_vram_lock);
FA_SIGNALLING_DEFINE_STATIC_CLASS(vmm_sched_lock);
FA_SIGNALLING_DEFINE_STATIC_CLASS(vmm_cleanup_lock);

/* vmm__lock() / vmm__unlock(): fence.h, shared with the timeline lock. */

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
 * Whether the calling thread is inside a VMM run stage. An allocator wrapper
 * checks this to count allocations attempted in a fence-signalling section,
 * independently of the validator.
 * @stage any
 * @locking none
 * @return true inside a run stage.
 */
static inline bool vmm_in_run_stage(void)
{
	return *vmm__run_depth() > 0;
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
	memset(op, 0, sizeof(*op));
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
	memset(op, 0, sizeof(*op));
	op->kind = VMM_OP_UNMAP;
	op->va = va;
	op->size = size;
	op->page_shift = page_shift;
}

/* ------------------------------------------------------------------ VRAM */

/**
 * Allocate VRAM (buffer objects, page tables): a naturally aligned block.
 * @stage submit (or cleanup) — never run
 * @locking takes the VRAM lock
 * @param dev Device.
 * @param size Bytes (a power of two >= 4 KiB).
 * @param pa Where the address is stored.
 * @return 0, -FA_ENOSPC, or -FA_EINVAL.
 */
static inline int vmm_vram_alloc(struct vmm_device *dev, uint64_t size, uint64_t *pa)
{
	int err;

	vmm__lock(&dev->vram_lock, &dev->vram_dep);
	err = fa_buddy_alloc(&dev->vram, size, size, 0, pa);
	vmm__unlock(&dev->vram_lock, &dev->vram_dep);
	return err;
}

/**
 * Free VRAM.
 * @stage cleanup
 * @locking takes the VRAM lock
 * @param dev Device.
 * @param pa Address from vmm_vram_alloc().
 * @param size Its size.
 */
static inline void vmm_vram_free(struct vmm_device *dev, uint64_t pa, uint64_t size)
{
	vmm__lock(&dev->vram_lock, &dev->vram_dep);
	(void)FA_WARN(fa_buddy_free(&dev->vram, pa, size) != 0);
	vmm__unlock(&dev->vram_lock, &dev->vram_dep);
}

/**
 * Free VRAM bytes.
 * @stage any
 * @locking takes the VRAM lock
 * @param dev Device.
 * @return Bytes available.
 */
static inline uint64_t vmm_vram_avail(struct vmm_device *dev)
{
	uint64_t n;

	vmm__lock(&dev->vram_lock, &dev->vram_dep);
	n = fa_buddy_avail(&dev->vram);
	vmm__unlock(&dev->vram_lock, &dev->vram_dep);
	return n;
}

/* ------------------------------------------------------------ buffer objects */

/**
 * Create a buffer object of @p size bytes of contiguous VRAM.
 * @stage submit (allocates)
 * @locking none held
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
 * @locking none of the VM's run-stage locks (takes the VRAM lock)
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
/* Table memory for fa_pt: from the job being built (run stage: its reserved
 * VRAM addresses, no allocation), else straight from the buddy (VM creation). */
static inline int vmm__pt_table_alloc(void *ctx, uint64_t size, uint64_t align, fa_gfp_t gfp,
				      uint64_t *addr)
{
	struct vmm_vm *vm = (struct vmm_vm *)ctx;
	struct vmm_job *job = vm->building;

	int err;

	(void)gfp;
	if (FA_WARN(size > VMM_TABLE_BYTES || align > VMM_TABLE_BYTES))
		return -FA_EINVAL;
	if (job) {
		if (FA_WARN(job->ntables == 0))
			return -FA_ENOSPC;
		*addr = job->tables[--job->ntables];
		vmm__stat_add(&vm->dev->stats.pt_used, 1);
	} else {
		err = vmm_vram_alloc(vm->dev, VMM_TABLE_BYTES, addr);
		if (err)
			return err;
	}
	vm->tables_live++;
	vmm__stat_add(&vm->dev->stats.pt_allocated, 1);
	return 0;
}

static inline void vmm__pt_table_free(void *ctx, uint64_t addr, uint64_t size)
{
	struct vmm_vm *vm = (struct vmm_vm *)ctx;

	(void)size;
	vm->tables_live--;
	if (vm->building) {
		/* fa_pt_ref() undoing a partial build: back into the reservation. */
		vm->building->tables[vm->building->ntables++] = addr;
		__atomic_fetch_sub(&vm->dev->stats.pt_used, 1, __ATOMIC_RELAXED);
		return;
	}
	vmm__stat_add(&vm->dev->stats.pt_freed, 1);
	vmm_vram_free(vm->dev, addr, VMM_TABLE_BYTES);
}

static inline int vmm__shadow_kind(const struct vmm_vm *vm, size_t size)
{
	unsigned int k;

	for (k = 0; k < vm->nshadow; k++)
		if (vm->shadow_size[k] == size)
			return (int)k;
	return -1;
}

/* Shadow nodes for fa_pt: from the job's reservation in the run stage, else
 * from the pool (VM creation). Every node is charged to its pool. */
static inline void *vmm__pt_shadow_alloc(void *ctx, size_t size, fa_gfp_t gfp)
{
	struct vmm_vm *vm = (struct vmm_vm *)ctx;
	int k = vmm__shadow_kind(vm, size);
	void *obj = NULL;

	if (FA_WARN(k < 0))
		return NULL;
	if (vm->building)
		return fa_reserve_take(&vm->building->shadow[k]);
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

static inline void vmm__hw_lock(void *ctx)
{
	struct vmm_device *dev = (struct vmm_device *)ctx;

	vmm__lock(&dev->hw_lock, &dev->hw_dep);
}

static inline void vmm__hw_unlock(void *ctx)
{
	struct vmm_device *dev = (struct vmm_device *)ctx;

	vmm__unlock(&dev->hw_lock, &dev->hw_dep);
}

static inline uint32_t vmm__pte_attr(uint32_t flags)
{
	return FA_PT_APER_VRAM | ((flags & VMM_MAP_READ_ONLY) ? FA_PT_RO : 0u);
}

/* Run stage, map lock: count a failure that must never happen (reservations
 * were sized for the worst case, ops were validated). */
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

	if (op->kind != VMM_OP_MAP && op->kind != VMM_OP_UNMAP)
		return -FA_EINVAL;
	if (!vmm_page_supported(vm->dev->hw.fmt, op->page_shift))
		return -FA_EOPNOTSUPP;
	page = FA_BIT64(op->page_shift);
	if (!op->size || !fa_is_aligned(op->va, page) || !fa_is_aligned(op->size, page))
		return -FA_EINVAL;
	if (fa_add_overflow(op->va, op->size, &end) || op->va < vm->va_start || end > vm->va_end)
		return -FA_ERANGE;
	if (op->kind == VMM_OP_UNMAP)
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
	memset(req, 0, sizeof(*req));
	req->va = op->va;
	req->size = op->size;
	req->bo = op->bo;
	req->bo_offset = op->bo_offset;
	req->page_shift = op->page_shift;
	req->flags = op->flags;
}

static inline struct vmm_va *vmm__take_node(void *ctx)
{
	return (struct vmm_va *)fa_reserve_take((struct fa_reserve *)ctx);
}

/* Run-side nodes hold a reference on their BO (dropped when freed at cleanup). */
static inline void vmm__node_inserted(void *ctx, struct vmm_va *n)
{
	(void)ctx;
	vmm_bo_get(n->bo);
}

static inline void vmm__alloc_of(struct vmm_va_alloc *a, struct fa_reserve *r, bool bo_refs)
{
	a->take = vmm__take_node;
	a->inserted = bo_refs ? vmm__node_inserted : NULL;
	a->ctx = r;
}

/* Submit: check every op against the submit-side view (read-only). */
static inline int vmm__ops_check_view(struct vmm_vm *vm, const struct vmm_op *ops, unsigned int nops)
{
	struct vmm_va req;
	unsigned int i;
	int err;

	for (i = 0; i < nops; i++) {
		if (ops[i].kind == VMM_OP_MAP) {
			vmm__op_to_va(&ops[i], &req);
			err = vmm_va_set_check_map(&vm->staged, &req);
		} else {
			err = vmm_va_set_check_unmap(&vm->staged, ops[i].va, ops[i].size);
		}
		if (err)
			return err;
	}
	return 0;
}

/* Submit: worst-case page tables of every map, per shadow kind and in total. */
static inline int vmm__pt_need(const struct vmm_vm *vm, const struct vmm_op *ops, unsigned int nops,
			       uint64_t per_kind[VMM_SHADOW_KINDS], uint64_t *total)
{
	const struct fa_pt_format *f = vm->dev->hw.fmt;
	struct fa_pt_estimate est;
	unsigned int i, l;
	int err;

	for (l = 0; l < VMM_SHADOW_KINDS; l++)
		per_kind[l] = 0;
	*total = 0;
	for (i = 0; i < nops; i++) {
		if (ops[i].kind != VMM_OP_MAP)
			continue;
		err = fa_pt_estimate_static(f, ops[i].va, ops[i].size, FA_BIT64(ops[i].page_shift),
					    &est);
		if (err)
			return err;
		for (l = 0; l < f->nlevels; l++)
			per_kind[vm->shadow_kind[l]] += est.tables[l];
		*total += est.total;
	}
	return *total > 0xffffffu ? -FA_ENOSPC : 0;
}

/* Submit, for the statistics only: the tables fa_pt_ref() would allocate if
 * the job ran now (the tree-aware estimate). Too small to reserve: jobs queued
 * before this one, and cleanups, change the tree before it runs. */
static inline unsigned long vmm__pt_estimate_now(struct vmm_vm *vm, const struct vmm_op *ops,
						 unsigned int nops)
{
	struct fa_pt_estimate est;
	unsigned long n = 0;
	unsigned int i;

	vmm__lock(&vm->ref_lock, &vm->ref_dep);
	for (i = 0; i < nops; i++)
		if (ops[i].kind == VMM_OP_MAP &&
		    !fa_pt_estimate(&vm->pt, ops[i].va, ops[i].size, FA_BIT64(ops[i].page_shift), &est))
			n += (unsigned long)est.total;
	vmm__unlock(&vm->ref_lock, &vm->ref_dep);
	return n;
}

/* Apply ops to a view; removed nodes go to @retired. */
static inline void vmm__apply(struct vmm_va_set *set, const struct vmm_op *ops, unsigned int nops,
			      struct fa_reserve *r, struct fa_list *retired)
{
	struct vmm_va_alloc a;
	struct vmm_va req;
	unsigned int i;

	vmm__alloc_of(&a, r, false);
	for (i = 0; i < nops; i++) {
		if (ops[i].kind == VMM_OP_MAP) {
			vmm__op_to_va(&ops[i], &req);
			(void)vmm_va_set_map(set, &req, &a, retired);
		} else {
			vmm_va_set_unmap(set, ops[i].va, ops[i].size, &a, retired);
		}
	}
}

/* Undo/release a job's page-table reservations (VM lock held). */
static inline void vmm__job_release_tables(struct vmm_job *job)
{
	struct vmm_vm *vm = job->vm;
	unsigned int k;

	for (k = 0; k < vm->nshadow; k++)
		if (job->shadow[k].pool)
			fa_reserve_release(&job->shadow[k]);
	if (!job->ntables)
		return;
	vmm__lock(&vm->dev->vram_lock, &vm->dev->vram_dep);
	while (job->ntables)
		(void)FA_WARN(fa_buddy_free(&vm->dev->vram, job->tables[--job->ntables],
					    VMM_TABLE_BYTES) != 0);
	vmm__unlock(&vm->dev->vram_lock, &vm->dev->vram_dep);
}

/* Submit, VM lock held: reserve shadow nodes and table VRAM for the worst case. */
static inline int vmm__job_reserve_tables(struct vmm_job *job, const uint64_t per_kind[],
					  uint64_t total)
{
	struct vmm_vm *vm = job->vm;
	unsigned int k;
	int err;

	for (k = 0; k < vm->nshadow; k++) {
		fa_reserve_init(&job->shadow[k], &vm->shadow_pool[k]);
		err = fa_reserve_fill(&job->shadow[k], (unsigned int)per_kind[k], FA_GFP_KERNEL);
		if (err)
			goto fail;
	}
	err = 0;
	vmm__lock(&vm->dev->vram_lock, &vm->dev->vram_dep);
	for (job->ntables = 0; job->ntables < total && !err; job->ntables++)
		err = fa_buddy_alloc(&vm->dev->vram, VMM_TABLE_BYTES, VMM_TABLE_BYTES, 0,
				     &job->tables[job->ntables]);
	vmm__unlock(&vm->dev->vram_lock, &vm->dev->vram_dep);
	if (err) {
		job->ntables--; /* the failed slot holds nothing */
		goto fail;
	}
	job->tables_reserved = (unsigned int)total;
	return 0;
fail:
	vmm__job_release_tables(job);
	return err;
}

static inline void vmm__job_release(struct vmm_fence *f, void *arg)
{
	struct vmm_job *job = FA_CONTAINER_OF(f, struct vmm_job, fence);

	vmm__free((struct vmm_device *)arg, job, job->alloc_size);
}

/* Fence callback of a dependency: runs inside the signalling job's run stage,
 * under that fence's timeline lock, and takes the scheduler lock (annotated:
 * the validator sees fence_signalling -> timeline -> sched). */
static inline void vmm__dep_signalled(struct vmm_fence *f, struct vmm_fence_cb *cb)
{
	struct vmm_job_dep *d = FA_CONTAINER_OF(cb, struct vmm_job_dep, cb);
	struct vmm_device *dev = d->job->vm->dev;

	(void)f;
	if (__atomic_sub_fetch(&d->job->pending_deps, 1, __ATOMIC_ACQ_REL) == 0) {
		vmm__lock(&dev->sched_lock, &dev->sched_dep);
		pthread_cond_signal(&dev->sched_cond);
		vmm__unlock(&dev->sched_lock, &dev->sched_dep);
	}
}

/* Run stage, after the fence signalled: hand the job to the cleanup worker.
 * Not a fence callback: the cleanup may free the VM, whose timeline lock a
 * callback would still be running under. */
static inline void vmm__job_done(struct vmm_job *job)
{
	struct vmm_device *dev = job->vm->dev;

	fa_llist_push(&job->done_link, &dev->done);
	vmm__lock(&dev->cleanup_lock, &dev->cleanup_dep);
	pthread_cond_signal(&dev->cleanup_cond);
	vmm__unlock(&dev->cleanup_lock, &dev->cleanup_dep);
}

/* Submit, VM lock held, nothing can fail any more: publish the fence, set up
 * dependencies, queue the job. Takes (one at a time) the VM's timeline lock,
 * the in-fence's timeline lock, then the scheduler lock. */
static inline void vmm__job_queue(struct vmm_job *job, struct vmm_fence *in_fence,
				  struct vmm_fence **out_fence)
{
	struct vmm_vm *vm = job->vm;
	struct vmm_device *dev = vm->dev;
	unsigned int i;

	vmm_fence_init(&job->fence, &vm->timeline, vmm__job_release, dev);
	job->pending_deps = 1;
	job->deps[0] = vm->last_fence; /* jobs of one VM run in submission order */
	job->deps[1] = in_fence ? vmm_fence_get(in_fence) : NULL;
	vm->last_fence = vmm_fence_get(&job->fence);
	for (i = 0; i < 2; i++) {
		if (!job->deps[i])
			continue;
		job->dep[i].job = job;
		__atomic_fetch_add(&job->pending_deps, 1, __ATOMIC_RELAXED);
		if (vmm_fence_add_callback(job->deps[i], &job->dep[i].cb, vmm__dep_signalled))
			__atomic_fetch_sub(&job->pending_deps, 1, __ATOMIC_RELAXED);
	}
	if (out_fence)
		*out_fence = vmm_fence_get(&job->fence);
	vmm__stat_add(&vm->jobs_pending, 1);
	vmm__stat_add(&dev->stats.jobs_submitted, 1);
	vmm__lock(&dev->sched_lock, &dev->sched_dep);
	fa_list_add_tail(&job->queue_link, &dev->queue);
	dev->sched_queued++;
	__atomic_fetch_sub(&job->pending_deps, 1, __ATOMIC_RELEASE);
	pthread_cond_signal(&dev->sched_cond);
	vmm__unlock(&dev->sched_lock, &dev->sched_dep);
}
/** @endcond */

/* ------------------------------------------------------------ submit */

/**
 * Submit a VM_BIND job: validate, reserve, update the submit-side view,
 * queue behind the VM's previous job. On any error nothing is changed and
 * nothing is held (every allocation made so far is undone).
 * @stage submit (allocates, may sleep)
 * @locking none held; takes the VM lock, and under it briefly, one at a time: the VRAM
 *          lock, the VM's timeline lock, the in-fence's timeline lock, the scheduler lock
 * @param vm VM.
 * @param ops Ops (copied).
 * @param nops Number of ops, 1 .. #VMM_JOB_MAX_OPS.
 * @param in_fence Optional fence the job must also wait for (a reference is taken), or NULL.
 * @param out_fence Where the job's fence is stored, with a reference for the caller (or NULL).
 * @return 0; the errors of vmm_ops_check(); -FA_ENOENT (unmap of a range
 *         that is not entirely mapped); -FA_EINVAL (a split at an address the
 *         split mapping's page size cannot express); -FA_ENOMEM; -FA_ENOSPC
 *         (VRAM for page tables, or the VM's node budget: wait for pending
 *         jobs and retry).
 */
static inline int vmm_job_submit(struct vmm_vm *vm, const struct vmm_op *ops, unsigned int nops,
				 struct vmm_fence *in_fence, struct vmm_fence **out_fence)
{
	struct vmm_device *dev = vm->dev;
	uint64_t t0 = vmm__now_ns(), per_kind[VMM_SHADOW_KINDS], ntables = 0;
	struct fa_reserve staged_res;
	struct fa_list staged_retired, *pos, *n;
	struct vmm_job *job = NULL;
	unsigned int need, i;
	size_t sz = 0;
	int err;

	err = vmm_ops_check(vm, ops, nops);
	if (!err)
		err = vmm__pt_need(vm, ops, nops, per_kind, &ntables);
	if (err)
		goto out_rejected;
	sz = sizeof(*job) + nops * sizeof(*ops) + ntables * sizeof(uint64_t);
	job = (struct vmm_job *)vmm__alloc(dev, sz);
	if (!job) {
		err = -FA_ENOMEM;
		goto out_rejected;
	}
	memset(job, 0, sizeof(*job));
	job->alloc_size = sz;
	job->vm = vm;
	job->nops = nops;
	job->ops = (struct vmm_op *)(void *)(job + 1);
	memcpy(job->ops, ops, nops * sizeof(*ops));
	job->tables = (uint64_t *)(void *)(job->ops + nops);
	fa_list_init(&job->retired);
	fa_list_init(&job->queue_link);
	job->t_submit = t0;
	need = 0;
	for (i = 0; i < nops; i++)
		need += ops[i].kind == VMM_OP_MAP ? VMM_VA_NODES_PER_MAP : VMM_VA_NODES_PER_UNMAP;

	vmm__lock(&vm->lock, &vm->lock_dep);
	err = vmm__ops_check_view(vm, ops, nops);
	if (err)
		goto out_unlock;
	fa_reserve_init(&staged_res, &vm->staged_pool);
	fa_reserve_init(&job->nodes, &vm->node_pool);
	err = fa_reserve_fill(&staged_res, need, FA_GFP_KERNEL);
	if (err)
		goto out_unlock;
	err = fa_reserve_fill(&job->nodes, need, FA_GFP_KERNEL);
	if (err)
		goto out_staged;
	err = vmm__job_reserve_tables(job, per_kind, ntables);
	if (err)
		goto out_nodes;

	/* Nothing can fail from here on. */
	job->tables_estimated = vmm__pt_estimate_now(vm, ops, nops);
	vmm__stat_add(&dev->stats.pt_estimated, job->tables_estimated);
	fa_list_init(&staged_retired);
	vmm__apply(&vm->staged, ops, nops, &staged_res, &staged_retired);
	fa_list_for_each_safe(pos, n, &staged_retired) {
		fa_list_del_init(pos);
		fa_reserve_pool_put(&vm->staged_pool, vmm_va_entry(pos));
	}
	fa_reserve_release(&staged_res);
	for (i = 0; i < nops; i++)
		if (ops[i].kind == VMM_OP_MAP)
			vmm_bo_get(ops[i].bo); /* the job's own reference until cleanup */
	vmm__stat_add(&dev->stats.nodes_reserved, need);
	vmm__stat_add(&dev->stats.pt_reserved, (unsigned long)ntables);
	vmm__job_queue(job, in_fence, out_fence);
	vmm__unlock(&vm->lock, &vm->lock_dep);
	vmm__lat_record(&dev->lat_submit, vmm__now_ns() - t0);
	return 0;

out_nodes:
	fa_reserve_release(&job->nodes);
out_staged:
	fa_reserve_release(&staged_res);
out_unlock:
	vmm__unlock(&vm->lock, &vm->lock_dep);
	vmm__free(dev, job, sz);
out_rejected:
	vmm__stat_add(&dev->stats.jobs_rejected, 1);
	return err;
}

/* ------------------------------------------------------------ run */

/** @cond INTERNAL */
/* Run stage of one op: ref and map locks held. */
static inline void vmm__run_op(struct vmm_job *job, const struct vmm_op *op, uint64_t next_epoch,
			       uint64_t *pte_ns)
{
	struct vmm_vm *vm = job->vm;
	struct vmm_device *dev = vm->dev;
	struct fa_list *last = job->retired.prev, *pos;
	unsigned int before = fa_reserve_count(&job->nodes);
	struct vmm_va_alloc a;
	struct vmm_va req, *n;
	uint64_t t, pages;

	vmm__alloc_of(&a, &job->nodes, true);
	if (op->kind == VMM_OP_MAP) {
		vmm__op_to_va(op, &req);
		(void)vmm_va_set_map(&vm->live, &req, &a, &job->retired);
	} else {
		vmm_va_set_unmap(&vm->live, op->va, op->size, &a, &job->retired);
	}
	vmm__stat_add(&dev->stats.nodes_used, before - fa_reserve_count(&job->nodes));
	/* 1. Replaced with another page size, or unmapped: clear the PTEs, drop the references. */
	for (pos = last->next; pos != &job->retired; pos = pos->next) {
		n = vmm_va_entry(pos);
		if (!n->cut_size || (op->kind == VMM_OP_MAP && n->page_shift == op->page_shift))
			continue;
		t = vmm__now_ns();
		vmm__run_check(dev, fa_pt_unmap(&vm->pt, n->cut_va, n->cut_size, FA_BIT64(n->page_shift)));
		*pte_ns += vmm__now_ns() - t;
		vmm__stat_add(&dev->stats.pte_writes, (unsigned long)(n->cut_size >> n->page_shift));
		vmm__run_check(dev, fa_pt_unref(&vm->pt, n->cut_va, n->cut_size,
						FA_BIT64(n->page_shift), next_epoch));
	}
	if (op->kind != VMM_OP_MAP)
		return;
	/* 2. Reference the new range: missing tables come from the job's reservation. */
	vm->building = job;
	vmm__run_check(dev, fa_pt_ref(&vm->pt, op->va, op->size, FA_BIT64(op->page_shift),
				      FA_GFP_NOWAIT));
	vm->building = NULL;
	/* 3. Replaced with the same page size: the new PTEs overwrite; drop the old references. */
	for (pos = last->next; pos != &job->retired; pos = pos->next) {
		n = vmm_va_entry(pos);
		if (n->cut_size && n->page_shift == op->page_shift)
			vmm__run_check(dev, fa_pt_unref(&vm->pt, n->cut_va, n->cut_size,
							FA_BIT64(n->page_shift), next_epoch));
	}
	/* 4. Write the PTEs. */
	pages = op->size >> op->page_shift;
	t = vmm__now_ns();
	vmm__run_check(dev, fa_pt_map(&vm->pt, op->va, op->size, FA_BIT64(op->page_shift),
				      op->bo->pa + op->bo_offset, vmm__pte_attr(op->flags)));
	*pte_ns += vmm__now_ns() - t;
	vmm__stat_add(&dev->stats.pte_writes, (unsigned long)pages);
}
/** @endcond */

/**
 * The run stage of a job: a fence-signalling section. Applies the ops to the
 * run-side view with reserved nodes, updates page-table references from the
 * job's reservations, writes PTEs, flushes, invalidates the TLB, signals the
 * fence. Never allocates, never waits. After the fence is signalled the job
 * may be freed at any time: the caller must not touch it.
 * @stage run
 * @locking none held; takes the VM's ref lock, then its map lock, then the hw lock; after
 *          releasing them, the VM's timeline lock to signal the fence, and under it (callbacks
 *          of jobs waiting on this one) the scheduler lock; then, outside the section, the
 *          cleanup lock
 * @param job Job whose dependencies have signalled.
 */
static inline void vmm_job_run(struct vmm_job *job)
{
	struct vmm_vm *vm = job->vm;
	struct vmm_device *dev = vm->dev;
	uint64_t t0 = vmm__now_ns(), pte_ns = 0, next_epoch, t1;
	fa_signalling_cookie_t cookie;
	unsigned int i, maps = 0;

	cookie = fa_signalling_begin();
	(*vmm__run_depth())++;
	vmm__lock(&vm->ref_lock, &vm->ref_dep);
	vmm__lock(&vm->map_lock, &vm->map_dep);
	if (dev->cfg.seed_bug == VMM_BUG_ALLOC_IN_RUN) {
		/* BUG (seeded): a page table allocated on demand, under the map lock. */
		void *pt = vmm__alloc(dev, VMM_TABLE_BYTES);

		vmm__free(dev, pt, VMM_TABLE_BYTES);
	}
	/* Only this thread invalidates while jobs run, so the next epoch is known. */
	next_epoch = dev->hw.tlb_epoch(dev->hw.ctx) + 1;
	for (i = 0; i < job->nops; i++) {
		vmm__run_op(job, &job->ops[i], next_epoch, &pte_ns);
		maps += job->ops[i].kind == VMM_OP_MAP;
	}
	if (job->tables_reserved - job->ntables > job->tables_estimated)
		vmm__stat_add(&dev->stats.pt_estimate_short, 1);
	vmm__lock(&dev->hw_lock, &dev->hw_dep);
	vmm__run_check(dev, fa_pramin_flush(&dev->hw.pt_mem));
	if (dev->cfg.seed_bug != VMM_BUG_NO_TLB_INVALIDATE) /* BUG (seeded) when skipped */
		(void)dev->hw.tlb_invalidate(dev->hw.ctx, vm->pdb);
	vmm__unlock(&dev->hw_lock, &dev->hw_dep);
	vmm__unlock(&vm->map_lock, &vm->map_dep);
	vmm__unlock(&vm->ref_lock, &vm->ref_dep);
	vmm__stat_add(&dev->stats.ops_map, maps);
	vmm__stat_add(&dev->stats.ops_unmap, job->nops - maps);
	vmm__stat_add(&dev->stats.jobs_run, 1);
	t1 = vmm__now_ns();
	__atomic_fetch_add(&dev->stats.run_pte_ns, pte_ns, __ATOMIC_RELAXED);
	__atomic_fetch_add(&dev->stats.run_ns, t1 - t0, __ATOMIC_RELAXED);
	vmm__lat_record(&dev->lat_run, t1 - t0);
	/* Hold a reference across the signal: a woken waiter may drop its own
	 * and the cleanup worker the job's before we are done with the fence. */
	vmm_fence_get(&job->fence);
	vmm_fence_signal(&job->fence); /* callbacks run here: still counted */
	fa_signalling_end(cookie);
	(*vmm__run_depth())--;
	vmm__job_done(job);         /* cleanup may free the VM from here on */
	vmm_fence_put(&job->fence); /* may free the job (outside the section) */
}

/* ------------------------------------------------------------ cleanup */

/**
 * The cleanup stage of a job whose fence has signalled: free page tables
 * whose TLB invalidate has completed, give reservation leftovers back, free
 * the mapping nodes the run stage removed, drop buffer and fence references.
 * @stage cleanup (frees)
 * @locking none held; takes the VM lock, then the ref lock
 * @param job Job.
 */
static inline void vmm_job_cleanup(struct vmm_job *job)
{
	struct vmm_vm *vm = job->vm;
	struct vmm_device *dev = vm->dev;
	uint64_t t0 = vmm__now_ns();
	struct fa_list *pos, *n;
	unsigned int i;

	vmm__lock(&vm->lock, &vm->lock_dep);
	vmm__lock(&vm->ref_lock, &vm->ref_dep);
	if (dev->cfg.seed_bug == VMM_BUG_WAIT_UNDER_REF && vm->last_fence &&
	    vm->last_fence != &job->fence) {
		/* BUG (seeded): wait for the VM to go idle while holding the ref lock,
		 * which that VM's next run stage needs: a real deadlock. A kernel
		 * would hang here; the example gives up after 20 ms. */
		(void)vmm_fence_wait_timeout(vm->last_fence, 20);
	}
	fa_pt_reclaim(&vm->pt, dev->hw.tlb_epoch(dev->hw.ctx));
	vmm__unlock(&vm->ref_lock, &vm->ref_dep);
	fa_reserve_release(&job->nodes);
	vmm__job_release_tables(job);
	fa_list_for_each_safe(pos, n, &job->retired) {
		struct vmm_va *node = vmm_va_entry(pos);

		fa_list_del_init(pos);
		vmm_bo_put(node->bo);
		fa_reserve_pool_put(&vm->node_pool, node);
	}
	vmm__unlock(&vm->lock, &vm->lock_dep);
	for (i = 0; i < job->nops; i++)
		if (job->ops[i].kind == VMM_OP_MAP)
			vmm_bo_put(job->ops[i].bo);
	for (i = 0; i < 2; i++)
		vmm_fence_put(job->deps[i]);
	vmm__lat_record(&dev->lat_cleanup, vmm__now_ns() - t0);
	vmm__lat_record(&dev->lat_e2e, vmm__now_ns() - job->t_submit);
	/* The last access to the VM: after this, vmm_vm_destroy() may free it. */
	__atomic_fetch_sub(&vm->jobs_pending, 1, __ATOMIC_RELEASE);
	vmm_fence_put(&job->fence); /* frees the job unless someone still holds its fence */
}

/* ------------------------------------------------------------ threads */

/** @cond INTERNAL */
static inline struct vmm_job *vmm__pick(struct vmm_device *dev)
{
	struct fa_list *pos;

	fa_list_for_each(pos, &dev->queue) {
		struct vmm_job *job = fa_list_entry(pos, struct vmm_job, queue_link);

		if (__atomic_load_n(&job->pending_deps, __ATOMIC_ACQUIRE) == 0) {
			fa_list_del_init(pos);
			return job;
		}
	}
	return NULL;
}

static inline void *vmm__sched_main(void *arg)
{
	struct vmm_device *dev = (struct vmm_device *)arg;
	struct vmm_job *job;

	vmm__lock(&dev->sched_lock, &dev->sched_dep);
	for (;;) {
		job = vmm__pick(dev);
		if (job) {
			vmm__unlock(&dev->sched_lock, &dev->sched_dep);
			vmm_job_run(job);
			vmm__lock(&dev->sched_lock, &dev->sched_dep);
			continue;
		}
		if (__atomic_load_n(&dev->stopping, __ATOMIC_ACQUIRE) && fa_list_empty(&dev->queue))
			break;
		/* Idle: every job queued so far was examined and none is runnable. */
		if (dev->sched_idle_seen != dev->sched_queued) {
			dev->sched_idle_seen = dev->sched_queued;
			pthread_cond_broadcast(&dev->sched_idle_cond);
		}
		pthread_cond_wait(&dev->sched_cond, &dev->sched_lock);
	}
	vmm__unlock(&dev->sched_lock, &dev->sched_dep);
	return NULL;
}

static inline void *vmm__cleanup_main(void *arg)
{
	struct vmm_device *dev = (struct vmm_device *)arg;
	struct fa_llist_node *list, *next;

	vmm__lock(&dev->cleanup_lock, &dev->cleanup_dep);
	for (;;) {
		list = fa_llist_del_all(&dev->done);
		if (!list) {
			if (__atomic_load_n(&dev->stopping, __ATOMIC_ACQUIRE) &&
			    vmm__stat_get(&dev->stats.jobs_cleaned) ==
						     vmm__stat_get(&dev->stats.jobs_submitted))
				break;
			pthread_cond_wait(&dev->cleanup_cond, &dev->cleanup_lock);
			continue;
		}
		vmm__unlock(&dev->cleanup_lock, &dev->cleanup_dep);
		for (list = fa_llist_reverse(list); list; list = next) {
			next = list->next;
			vmm_job_cleanup(FA_CONTAINER_OF(list, struct vmm_job, done_link));
			vmm__stat_add(&dev->stats.jobs_cleaned, 1);
		}
		vmm__lock(&dev->cleanup_lock, &dev->cleanup_dep);
		pthread_cond_broadcast(&dev->idle_cond);
	}
	vmm__unlock(&dev->cleanup_lock, &dev->cleanup_dep);
	return NULL;
}

static inline int vmm__lat_init(struct vmm_device *dev, struct vmm_lat *l, unsigned long cap)
{
	l->n = 0;
	l->cap = cap;
	l->ns = (uint64_t *)vmm__alloc(dev, cap * sizeof(uint64_t));
	return l->ns ? 0 : -FA_ENOMEM;
}
/** @endcond */

/**
 * Wait until every submitted job has been cleaned up.
 * @stage submit (sleeps)
 * @locking none held; takes the cleanup lock
 * @param dev Device.
 */
static inline void vmm_device_wait_idle(struct vmm_device *dev)
{
	vmm__lock(&dev->cleanup_lock, &dev->cleanup_dep);
	while (vmm__stat_get(&dev->stats.jobs_cleaned) != vmm__stat_get(&dev->stats.jobs_submitted))
		pthread_cond_wait(&dev->idle_cond, &dev->cleanup_lock);
	vmm__unlock(&dev->cleanup_lock, &dev->cleanup_dep);
}

/**
 * Wait until the scheduler has examined every job queued before this call
 * and gone idle, finding nothing runnable. A job whose fence is still
 * unsignalled afterwards is provably held back by a dependency, not merely
 * slow: had it been runnable, the scheduler would have run it (and signalled
 * its fence) before going idle. Meant for tests and debugging; it never
 * returns while runnable jobs keep arriving.
 * @stage submit (sleeps)
 * @locking none held; takes the scheduler lock
 * @param dev Device.
 */
static inline void vmm_device_wait_sched_idle(struct vmm_device *dev)
{
	unsigned long target;

	vmm__lock(&dev->sched_lock, &dev->sched_dep);
	target = dev->sched_queued;
	while ((long)(dev->sched_idle_seen - target) < 0)
		pthread_cond_wait(&dev->sched_idle_cond, &dev->sched_lock);
	vmm__unlock(&dev->sched_lock, &dev->sched_dep);
}

/**
 * Create a device and start its scheduler and cleanup threads.
 * @stage submit (driver init; allocates)
 * @locking none held; takes the scheduler lock when a thread fails to start
 * @param hw Hardware hooks (copied).
 * @param src Host allocator (copied).
 * @param cfg Tunables, or NULL for defaults.
 * @param out The device.
 * @return 0; -FA_EINVAL (bad hooks or VRAM size); -FA_ENOMEM; a thread creation error as -FA_EAGAIN.
 */
static inline int vmm_device_create(const struct vmm_hw *hw, const struct fa_reserve_source *src,
				    const struct vmm_config *cfg, struct vmm_device **out)
{
	struct vmm_device *dev;
	uint64_t meta;
	int err;

	if (!hw || !src || !hw->fmt || !hw->tlb_invalidate || !hw->tlb_epoch || !out)
		return -FA_EINVAL;
	meta = fa_buddy_storage_size(hw->vram_size, VMM_TABLE_BYTES);
	if (!meta)
		return -FA_EINVAL;
	dev = (struct vmm_device *)fa_reserve_source_alloc(src, sizeof(*dev), FA_GFP_KERNEL);
	if (!dev)
		return -FA_ENOMEM;
	memset(dev, 0, sizeof(*dev));
	dev->hw = *hw;
	dev->src = *src;
	if (cfg)
		dev->cfg = *cfg;
	if (!dev->cfg.lat_cap)
		dev->cfg.lat_cap = 1ul << 20;
	dev->vram_meta_size = (size_t)meta;
	dev->vram_meta = vmm__alloc(dev, dev->vram_meta_size);
	err = dev->vram_meta ? 0 : -FA_ENOMEM;
	if (!err)
		err = fa_buddy_init(&dev->vram, dev->vram_meta, dev->vram_meta_size, 0,
				    hw->vram_size, VMM_TABLE_BYTES);
	if (!err)
		err = vmm__lat_init(dev, &dev->lat_submit, dev->cfg.lat_cap);
	if (!err)
		err = vmm__lat_init(dev, &dev->lat_run, dev->cfg.lat_cap);
	if (!err)
		err = vmm__lat_init(dev, &dev->lat_cleanup, dev->cfg.lat_cap);
	if (!err)
		err = vmm__lat_init(dev, &dev->lat_e2e, dev->cfg.lat_cap);
	if (err)
		goto fail;
	pthread_mutex_init(&dev->hw_lock, NULL);
	pthread_mutex_init(&dev->vram_lock, NULL);
	pthread_mutex_init(&dev->sched_lock, NULL);
	pthread_mutex_init(&dev->cleanup_lock, NULL);
	pthread_cond_init(&dev->sched_cond, NULL);
	pthread_cond_init(&dev->sched_idle_cond, NULL);
	pthread_cond_init(&dev->cleanup_cond, NULL);
	pthread_cond_init(&dev->idle_cond, NULL);
	fa_signalling_map_init(&dev->hw_dep, &vmm_hw_lock);
	fa_signalling_map_init(&dev->vram_dep, &vmm_vram_lock);
	fa_signalling_map_init(&dev->sched_dep, &vmm_sched_lock);
	fa_signalling_map_init(&dev->cleanup_dep, &vmm_cleanup_lock);
	fa_list_init(&dev->queue);
	fa_llist_init(&dev->done);
	if (pthread_create(&dev->sched_thread, NULL, vmm__sched_main, dev)) {
		err = -FA_EAGAIN;
		goto fail;
	}
	if (pthread_create(&dev->cleanup_thread, NULL, vmm__cleanup_main, dev)) {
		vmm__lock(&dev->sched_lock, &dev->sched_dep);
		__atomic_store_n(&dev->stopping, true, __ATOMIC_RELEASE);
		pthread_cond_signal(&dev->sched_cond);
		vmm__unlock(&dev->sched_lock, &dev->sched_dep);
		pthread_join(dev->sched_thread, NULL);
		err = -FA_EAGAIN;
		goto fail;
	}
	*out = dev;
	return 0;
fail:
	vmm__free(dev, dev->lat_submit.ns, dev->lat_submit.cap * sizeof(uint64_t));
	vmm__free(dev, dev->lat_run.ns, dev->lat_run.cap * sizeof(uint64_t));
	vmm__free(dev, dev->lat_cleanup.ns, dev->lat_cleanup.cap * sizeof(uint64_t));
	vmm__free(dev, dev->lat_e2e.ns, dev->lat_e2e.cap * sizeof(uint64_t));
	vmm__free(dev, dev->vram_meta, dev->vram_meta_size);
	fa_reserve_source_free(src, dev, sizeof(*dev));
	return err;
}

/**
 * Stop the threads (after every submitted job is cleaned up) and free the
 * device. Every VM and BO must have been destroyed.
 * @stage cleanup
 * @locking none held; takes the cleanup lock, then (one at a time) the scheduler lock
 * @param dev Device.
 */
static inline void vmm_device_destroy(struct vmm_device *dev)
{
	struct fa_reserve_source src = dev->src;

	vmm_device_wait_idle(dev);
	vmm__lock(&dev->sched_lock, &dev->sched_dep);
	__atomic_store_n(&dev->stopping, true, __ATOMIC_RELEASE);
	pthread_cond_signal(&dev->sched_cond);
	vmm__unlock(&dev->sched_lock, &dev->sched_dep);
	pthread_join(dev->sched_thread, NULL);
	vmm__lock(&dev->cleanup_lock, &dev->cleanup_dep);
	pthread_cond_signal(&dev->cleanup_cond);
	vmm__unlock(&dev->cleanup_lock, &dev->cleanup_dep);
	pthread_join(dev->cleanup_thread, NULL);
	(void)FA_WARN(dev->stats.bo_live != 0);
	fa_buddy_fini(&dev->vram);
	vmm__free(dev, dev->vram_meta, dev->vram_meta_size);
	vmm__free(dev, dev->lat_submit.ns, dev->lat_submit.cap * sizeof(uint64_t));
	vmm__free(dev, dev->lat_run.ns, dev->lat_run.cap * sizeof(uint64_t));
	vmm__free(dev, dev->lat_cleanup.ns, dev->lat_cleanup.cap * sizeof(uint64_t));
	vmm__free(dev, dev->lat_e2e.ns, dev->lat_e2e.cap * sizeof(uint64_t));
	pthread_cond_destroy(&dev->idle_cond);
	pthread_cond_destroy(&dev->cleanup_cond);
	pthread_cond_destroy(&dev->sched_idle_cond);
	pthread_cond_destroy(&dev->sched_cond);
	pthread_mutex_destroy(&dev->cleanup_lock);
	pthread_mutex_destroy(&dev->sched_lock);
	pthread_mutex_destroy(&dev->vram_lock);
	pthread_mutex_destroy(&dev->hw_lock);
	fa_reserve_source_free(&src, dev, sizeof(*dev));
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
 * Create a VM covering `[va_start, va_start + va_size)` with an empty page-table tree.
 * @stage submit (allocates)
 * @locking none
 * @param dev Device.
 * @param va_start First usable VA (aligned to 2 MiB).
 * @param va_size Bytes of VA (multiple of 2 MiB, within the format's VA width).
 * @param out The VM.
 * @return 0; -FA_EINVAL (bad range); -FA_ENOMEM; -FA_ENOSPC (VRAM for the root table).
 */
static inline int vmm_vm_create(struct vmm_device *dev, uint64_t va_start, uint64_t va_size,
				struct vmm_vm **out)
{
	const struct fa_pt_format *f = dev->hw.fmt;
	struct fa_pt_table_alloc tables;
	struct fa_reserve_source shadow;
	struct fa_pt_config cfg;
	struct vmm_vm *vm;
	uint64_t end;
	int err;

	if (!va_size || fa_add_overflow(va_start, va_size, &end) || (f->va_bits < 64 && end > FA_BIT64(f->va_bits)) ||
	    !fa_is_aligned(va_start, 2u << 20) || !fa_is_aligned(va_size, 2u << 20))
		return -FA_EINVAL;
	vm = (struct vmm_vm *)vmm__alloc(dev, sizeof(*vm));
	if (!vm)
		return -FA_ENOMEM;
	memset(vm, 0, sizeof(*vm));
	vm->dev = dev;
	vm->va_start = va_start;
	vm->va_end = end;
	vmm_va_set_init(&vm->staged);
	vmm_va_set_init(&vm->live);
	err = vmm__vm_pools_init(vm);
	if (err)
		goto fail_pools;
	tables.alloc = vmm__pt_table_alloc;
	tables.free = vmm__pt_table_free;
	tables.ctx = vm;
	shadow.alloc = vmm__pt_shadow_alloc;
	shadow.free = vmm__pt_shadow_free;
	shadow.ctx = vm;
	fa_pt_config_init(&cfg, f, &dev->hw.pt_mem, &tables, &shadow);
	cfg.acc_lock.lock = vmm__hw_lock;
	cfg.acc_lock.unlock = vmm__hw_unlock;
	cfg.acc_lock.ctx = dev;
	err = fa_pt_init(&vm->pt, &cfg, FA_GFP_KERNEL);
	if (err)
		goto fail_pools;
	vm->pdb = fa_pt_root_addr(&vm->pt);
	pthread_mutex_init(&vm->lock, NULL);
	pthread_mutex_init(&vm->ref_lock, NULL);
	pthread_mutex_init(&vm->map_lock, NULL);
	fa_signalling_map_init(&vm->lock_dep, &vmm_vm_lock);
	fa_signalling_map_init(&vm->ref_dep, &vmm_ref_lock);
	fa_signalling_map_init(&vm->map_dep, &vmm_map_lock);
	vmm_fence_timeline_init(&vm->timeline);
	*out = vm;
	return 0;
fail_pools:
	vmm__vm_pools_fini(vm);
	vmm__free(dev, vm, sizeof(*vm));
	return err;
}

/**
 * Destroy an idle VM: unmap every mapping, free the page tables, the nodes,
 * the pools. Every job of the VM must have been cleaned up (wait for its last
 * fence, then vmm_device_wait_idle()); no submit may race with this.
 * @stage cleanup
 * @locking none held (takes the VM's locks)
 * @param vm VM.
 * @return 0; -FA_EBUSY when a job of the VM has not been cleaned up yet (nothing freed).
 */
static inline int vmm_vm_destroy(struct vmm_vm *vm)
{
	struct vmm_device *dev = vm->dev;
	struct fa_list *pos, *n;
	uint64_t next;

	if (__atomic_load_n(&vm->jobs_pending, __ATOMIC_ACQUIRE) != 0)
		return -FA_EBUSY;
	vmm__lock(&vm->lock, &vm->lock_dep);
	vmm__lock(&vm->ref_lock, &vm->ref_dep);
	vmm__lock(&vm->map_lock, &vm->map_dep);
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
	fa_list_for_each_safe(pos, n, &vm->staged.list) {
		vmm_va_set_remove(&vm->staged, vmm_va_entry(pos));
		fa_reserve_pool_put(&vm->staged_pool, vmm_va_entry(pos));
	}
	vmm__lock(&dev->hw_lock, &dev->hw_dep);
	(void)fa_pramin_flush(&dev->hw.pt_mem);
	(void)dev->hw.tlb_invalidate(dev->hw.ctx, vm->pdb);
	vmm__unlock(&dev->hw_lock, &dev->hw_dep);
	fa_pt_reclaim(&vm->pt, dev->hw.tlb_epoch(dev->hw.ctx));
	(void)FA_WARN(fa_pt_fini(&vm->pt) != 0);
	(void)FA_WARN(vm->tables_live != 0);
	vmm__unlock(&vm->map_lock, &vm->map_dep);
	vmm__unlock(&vm->ref_lock, &vm->ref_dep);
	vmm__vm_pools_fini(vm);
	vmm__unlock(&vm->lock, &vm->lock_dep);
	vmm_fence_put(vm->last_fence);
	vmm_fence_timeline_fini(&vm->timeline);
	pthread_mutex_destroy(&vm->map_lock);
	pthread_mutex_destroy(&vm->ref_lock);
	pthread_mutex_destroy(&vm->lock);
	vmm__free(dev, vm, sizeof(*vm));
	return 0;
}

/**
 * Compare the submit-side and run-side views (equal when no job is pending).
 * @stage any (sleeps on the VM's locks)
 * @locking none held
 * @param vm VM.
 * @return true when both views hold the same mappings and both are consistent.
 */
static inline bool vmm_vm_check_views(struct vmm_vm *vm)
{
	struct fa_list *a, *b;
	bool same;

	vmm__lock(&vm->lock, &vm->lock_dep);
	vmm__lock(&vm->map_lock, &vm->map_dep);
	same = vmm_va_set_valid(&vm->staged) && vmm_va_set_valid(&vm->live) &&
	       vm->staged.count == vm->live.count;
	for (a = vm->staged.list.next, b = vm->live.list.next;
	     same && a != &vm->staged.list && b != &vm->live.list; a = a->next, b = b->next) {
		const struct vmm_va *x = vmm_va_entry(a), *y = vmm_va_entry(b);

		same = x->va == y->va && x->size == y->size && x->bo == y->bo &&
		       x->bo_offset == y->bo_offset && x->page_shift == y->page_shift &&
		       x->flags == y->flags;
	}
	vmm__unlock(&vm->map_lock, &vm->map_dep);
	vmm__unlock(&vm->lock, &vm->lock_dep);
	return same;
}

/**
 * Lock a VM's run-side state for an external check (an MMU-walker verifier):
 * no run stage or cleanup of this VM changes its tables or its run-side view
 * until vmm_vm_unlock_tables().
 * @stage any (sleeps)
 * @locking none held; takes the ref lock then the map lock
 * @param vm VM.
 */
static inline void vmm_vm_lock_tables(struct vmm_vm *vm)
{
	vmm__lock(&vm->ref_lock, &vm->ref_dep);
	vmm__lock(&vm->map_lock, &vm->map_dep);
}

/**
 * Undo vmm_vm_lock_tables().
 * @stage any
 * @locking the ref and map locks, released
 * @param vm VM.
 */
static inline void vmm_vm_unlock_tables(struct vmm_vm *vm)
{
	vmm__unlock(&vm->map_lock, &vm->map_dep);
	vmm__unlock(&vm->ref_lock, &vm->ref_dep);
}

#ifdef __cplusplus
}
#endif

#endif /* VMM_VMM_H */
