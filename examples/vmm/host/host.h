/* SPDX-License-Identifier: MIT */
/**
 * @file host.h
 * @brief A userspace "driver" around the VMM core: pthread locks, a small fence,
 *        scheduler threads and a cleanup worker.
 *
 * What a driver writes around vmm.h, the way a kernel driver would with
 * drm_sched, dma_fence and struct mutex (docs/vmm.md has the kernel sketch):
 *
 * - **locks**: every #vmm_lock the core asks for is a #vmm_host_lock, a
 *   pthread mutex annotated for the signalling validator;
 * - **submit** (vmm_host_submit()): under the VM lock, vmm_job_submit(), then
 *   a fence (host/fence.h) and the job on the scheduler queue behind the VM's
 *   previous job (jobs of one VM run in submission order) and an optional
 *   in-fence;
 * - **run_job** (a scheduler thread; vmm_host_config::run_workers of them
 *   share one queue, and run stages of different VMs then run in parallel):
 *   fa_signalling_begin(), the VM's
 *   page-table lock, vmm_job_run(), unlock, signal the fence,
 *   fa_signalling_end();
 * - **free_job** (the cleanup worker): the VM lock, vmm_job_cleanup().
 *
 * Host lock order, outermost first: `vms_lock` (the VM list; taken alone,
 * except by vmm_host_lock_stats(), which nests each VM's VM, page-table and
 * timeline locks inside it), then the core's order (VM lock → page-table
 * lock → VRAM / hw lock).
 *
 * It also keeps what only a test harness wants: latency samples, a
 * "inside a run stage" flag per thread (so an allocator can count
 * allocations attempted in a signalling section), and the deliberate bugs
 * the demo seeds (#vmm_seed_bug).
 *
 * @code
 * struct vmm_host *host;
 * struct vmm_host_vm *vm;
 * struct vmm_bo *bo;
 * struct vmm_op op;
 * struct vmm_fence *f;
 *
 * vmm_host_create(&hw, &alloc, NULL, &host);      // starts the scheduler and cleanup threads
 * vmm_host_vm_create(host, 1ull << 32, 1ull << 40, &vm);
 * vmm_bo_create(&host->dev, 2u << 20, &bo);
 * vmm_op_map(&op, 1ull << 32, 2u << 20, bo, 0, 16);
 * if (vmm_host_submit(vm, &op, 1, NULL, &f) == 0) {
 *         vmm_fence_wait(f);
 *         vmm_fence_put(f);
 * }
 * vmm_host_wait_idle(host);
 * vmm_host_vm_destroy(vm);
 * vmm_bo_put(bo);
 * vmm_host_destroy(host);
 * @endcode
 */
#ifndef VMM_HOST_H
#define VMM_HOST_H

#include <fencealloc/signalling.h>

#include "../vmm.h"
#include "fence.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Deliberate bugs the demo can seed (vmm_host_config::seed_bug). */
enum vmm_seed_bug {
	VMM_BUG_NONE = 0,           /**< Correct driver. */
	VMM_BUG_ALLOC_IN_RUN = 1,   /**< Allocate under the page-table lock in the run stage. */
	VMM_BUG_WAIT_UNDER_REF = 2, /**< Wait on a fence while holding the page-table lock (cleanup). */
	VMM_BUG_NO_TLB_INVALIDATE = 3, /**< Change PTEs without invalidating the TLB. */
};

/** Most scheduler threads (vmm_host_config::run_workers). */
#define VMM_HOST_MAX_RUN_WORKERS 8

/** Host tunables (all zero = defaults). */
struct vmm_host_config {
	unsigned int seed_bug;     /**< #vmm_seed_bug (0 for a correct driver). */
	unsigned long lat_cap;     /**< Latency samples kept per stage (default 1 << 20). */
	unsigned long node_budget; /**< vmm_config::node_budget of the core. */
	uint64_t pt_budget;        /**< vmm_config::pt_budget of the core (page-table bytes per VM). */
	bool merge;                /**< vmm_config::merge of the core. */
	bool lock_stats;           /**< Count acquisitions, contention and hold times of every lock (vmm_host_lock_stats()). */
	/**
	 * Scheduler threads running run stages (default 1, at most
	 * #VMM_HOST_MAX_RUN_WORKERS). With more than one, run stages of
	 * different VMs run in parallel; a VM's jobs still run one at a time in
	 * submission order (each depends on the previous one's fence).
	 */
	unsigned int run_workers;
};

/** Lock classes, as vmm_host_lock_stats() reports them. */
enum vmm_host_lock_class {
	VMM_HOST_LOCK_VM,       /**< VM locks (one per VM; submit, cleanup). */
	VMM_HOST_LOCK_PT,       /**< Page-table locks (one per VM; the run stage). */
	VMM_HOST_LOCK_TIMELINE, /**< Fence timeline locks (one per VM; signal, callbacks, waits). */
	VMM_HOST_LOCK_VRAM,     /**< The VRAM buddy lock (device-wide; submit, cleanup). */
	VMM_HOST_LOCK_HW,       /**< The MMIO lock: PRAMIN window, flush, TLB invalidate (device-wide). */
	VMM_HOST_LOCK_SCHED,    /**< The scheduler queue lock (device-wide). */
	VMM_HOST_LOCK_CLEANUP,  /**< The cleanup worker's lock (device-wide). */
	VMM_HOST_LOCK_CLASSES   /**< Number of classes. */
};

/** A pthread mutex as a core #vmm_lock, annotated for the signalling validator. */
struct vmm_host_lock {
	struct vmm_lock ops;         /**< What the core calls. */
	pthread_mutex_t mtx;         /**< The mutex. */
	pthread_t owner;             /**< Holder (valid while @ref held). */
	bool held;                   /**< Whether someone holds it (for assert_held). */
	struct vmm_lock_stat stat;   /**< Contention counters (vmm_host_config::lock_stats). */
	FA_SIGNALLING_MAP_MEMBER(dep)
};

/** Latency samples of one stage (preallocated; recording never allocates). */
struct vmm_lat {
	uint64_t *ns;       /**< Samples (nanoseconds). */
	unsigned long cap;  /**< Capacity. */
	unsigned long n;    /**< Samples recorded (atomic; may exceed cap, extra ones dropped). */
};

/** The host device: the core device, its locks, the scheduler and the cleanup worker. */
struct vmm_host {
	struct vmm_device dev;          /**< The core device. */
	struct vmm_host_config cfg;     /**< Tunables. */
	struct vmm_hw user_hw;          /**< The caller's hooks (the core gets wrappers with this host as context). */
	struct vmm_host_lock hw_lock;   /**< MMIO (innermost; run-safe). */
	struct vmm_host_lock vram_lock; /**< The VRAM buddy (submit/cleanup). */
	pthread_mutex_t sched_lock;     /**< Scheduler queue (run-safe: fence callbacks take it). */
	struct vmm_lock_stat sched_stat; /**< Its contention counters. */
	FA_SIGNALLING_MAP_MEMBER(sched_dep)
	pthread_cond_t sched_cond;      /**< Wakes the scheduler. */
	pthread_cond_t sched_idle_cond; /**< Broadcast when the scheduler goes idle having seen new jobs. */
	unsigned long sched_queued;     /**< Jobs ever put on the queue (scheduler lock). */
	unsigned long sched_idle_seen;  /**< @ref sched_queued when the scheduler last went idle. */
	unsigned int sched_busy;        /**< Run workers inside a run stage (scheduler lock). */
	struct fa_list queue;           /**< Jobs waiting for their run stage, in submission order. */
	bool stopping;                  /**< Threads exit when idle (atomic). */
	pthread_t sched_thread[VMM_HOST_MAX_RUN_WORKERS]; /**< Run run stages (vmm_host_config::run_workers of them). */
	unsigned long runs_active;      /**< Run stages in progress (atomic; counted with lock_stats). */
	unsigned long runs_overlapped;  /**< Run stages that began while another was in progress (atomic; lock_stats). */
	pthread_t cleanup_thread;       /**< Runs cleanups. */
	struct fa_llist done;           /**< Jobs whose fence signalled, for the cleanup worker. */
	pthread_mutex_t cleanup_lock;   /**< Cleanup worker sleep/wake and idle tracking (run-safe). */
	struct vmm_lock_stat cleanup_stat; /**< Its contention counters. */
	FA_SIGNALLING_MAP_MEMBER(cleanup_dep)
	pthread_cond_t cleanup_cond;    /**< Wakes the cleanup worker. */
	pthread_cond_t idle_cond;       /**< Broadcast after every cleanup batch. */
	unsigned long jobs_submitted;   /**< Jobs queued (atomic). */
	unsigned long jobs_cleaned;     /**< Jobs whose host cleanup finished (atomic). */
	struct vmm_lat lat_submit;      /**< Submit-stage latencies. */
	struct vmm_lat lat_run;         /**< Run-stage latencies. */
	struct vmm_lat lat_cleanup;     /**< Cleanup-stage latencies. */
	struct vmm_lat lat_e2e;         /**< Submit-to-cleanup latencies. */
	pthread_mutex_t vms_lock;       /**< @ref vms and @ref lock_retired (VM create/destroy, statistics). */
	struct fa_list vms;             /**< Live VMs (for vmm_host_lock_stats()). */
	struct vmm_lock_stat lock_retired[VMM_HOST_LOCK_CLASSES]; /**< Per-VM counters of destroyed VMs. */
};

/** A host VM: the core VM, its two locks, a fence timeline. */
struct vmm_host_vm {
	struct vmm_vm vm;               /**< The core VM. */
	struct vmm_host *host;          /**< Owner. */
	struct vmm_host_lock lock;      /**< VM lock (submit, cleanup; allocations under it). */
	struct vmm_host_lock pt_lock;   /**< Page-table lock (run; never across an allocation). */
	struct vmm_fence_timeline timeline; /**< Fences of this VM's jobs. */
	struct vmm_fence *last_fence;   /**< Fence of the last submitted job (VM lock). */
	unsigned long jobs_pending;     /**< Jobs queued and not fully cleaned up (atomic). */
	struct fa_list link;            /**< On vmm_host::vms. */
};

/** Callback registration on a dependency fence. */
struct vmm_job_dep {
	struct vmm_fence_cb cb;      /**< Registration. */
	struct vmm_host_job *job;    /**< Job waiting for it. */
};

/** A host job: the core job plus what the scheduler needs. */
struct vmm_host_job {
	struct vmm_host_vm *vm;         /**< Target VM. */
	struct vmm_job *job;            /**< The core job (freed by its cleanup step). */
	struct vmm_fence fence;         /**< Signalled after the run step; owns this memory. */
	struct fa_list queue_link;      /**< On the scheduler queue. */
	struct fa_llist_node done_link; /**< On the cleanup list. */
	struct vmm_job_dep dep[2];      /**< Dependencies: previous job of the VM, in-fence. */
	struct vmm_fence *deps[2];      /**< Their fences (references held until cleanup). */
	int pending_deps;               /**< Unsignalled dependencies (+1 while submitting; atomic). */
	uint64_t t_submit;              /**< Submit start (ns). */
};

/** @cond INTERNAL */
#ifdef __cplusplus
#define VMM_HOST__THREAD_LOCAL thread_local
#else
#define VMM_HOST__THREAD_LOCAL _Thread_local
#endif

/* The run-stage depth lives with the lock counters: they count acquisitions
 * made inside a run stage. */
static inline int *vmm_host__run_depth(void)
{
	return vmm_lock_stat__run_depth();
}

/* The host whose scheduler thread this is (NULL on any other thread): a
 * fence it signals needs no wake-up of the scheduler (it picks next). */
static inline struct vmm_host **vmm_host__sched_self(void)
{
	static VMM_HOST__THREAD_LOCAL struct vmm_host *self;

	return &self;
}

static inline uint64_t vmm_host_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void vmm_host__lat_record(struct vmm_lat *l, uint64_t ns)
{
	unsigned long i = __atomic_fetch_add(&l->n, 1, __ATOMIC_RELAXED);

	if (i < l->cap)
		l->ns[i] = ns;
}

FA_SIGNALLING_DEFINE_STATIC_CLASS(vmm_vm_lock);
FA_SIGNALLING_DEFINE_STATIC_CLASS(vmm_pt_lock);
FA_SIGNALLING_DEFINE_STATIC_CLASS(vmm_hw_lock);
FA_SIGNALLING_DEFINE_STATIC_CLASS(vmm_vram_lock);
FA_SIGNALLING_DEFINE_STATIC_CLASS(vmm_sched_lock);
FA_SIGNALLING_DEFINE_STATIC_CLASS(vmm_cleanup_lock);

static inline void vmm_host__lock(struct vmm_lock *l)
{
	struct vmm_host_lock *h = FA_CONTAINER_OF(l, struct vmm_host_lock, ops);

	vmm_lock_stat__lock(&h->mtx, &h->stat);
	h->owner = pthread_self();
	__atomic_store_n(&h->held, true, __ATOMIC_RELAXED);
	fa_signalling_acquire(&h->dep);
}

static inline void vmm_host__unlock(struct vmm_lock *l)
{
	struct vmm_host_lock *h = FA_CONTAINER_OF(l, struct vmm_host_lock, ops);

	fa_signalling_release(&h->dep);
	__atomic_store_n(&h->held, false, __ATOMIC_RELAXED);
	vmm_lock_stat__unlock(&h->mtx, &h->stat);
}

/* lockdep_assert_held(), userspace edition: held, and by this thread. */
static inline void vmm_host__assert_held(struct vmm_lock *l)
{
	struct vmm_host_lock *h = FA_CONTAINER_OF(l, struct vmm_host_lock, ops);

	FA_ASSERT(__atomic_load_n(&h->held, __ATOMIC_RELAXED) &&
		  pthread_equal(h->owner, pthread_self()));
}

static inline void vmm_host__lock_init_mutex(struct vmm_host_lock *h)
{
	h->ops.lock = vmm_host__lock;
	h->ops.unlock = vmm_host__unlock;
	h->ops.assert_held = vmm_host__assert_held;
	h->held = false;
	memset(&h->stat, 0, sizeof(h->stat));
	pthread_mutex_init(&h->mtx, NULL);
}

/* A macro: without the validator the class objects do not exist. */
#define vmm_host__lock_init(h, cls)                      \
	do {                                             \
		vmm_host__lock_init_mutex(h);            \
		fa_signalling_map_init(&(h)->dep, cls);  \
	} while (0)

static inline void vmm_host__lock_fini(struct vmm_host_lock *h)
{
	pthread_mutex_destroy(&h->mtx);
}

static inline void *vmm_host__alloc(struct vmm_host *host, size_t size)
{
	return fa_reserve_source_alloc(&host->dev.src, size, FA_GFP_KERNEL);
}

static inline void vmm_host__free(struct vmm_host *host, void *p, size_t size)
{
	if (p)
		fa_reserve_source_free(&host->dev.src, p, size);
}

/** @endcond */

/**
 * Whether the calling thread is inside a host run stage (a signalling
 * section). An allocator wrapper checks this to count allocations attempted
 * in a fence-signalling section, independently of the validator.
 * @stage any
 * @locking none
 * @return true inside a run stage.
 */
static inline bool vmm_host_in_run_stage(void)
{
	return *vmm_host__run_depth() > 0;
}

/* ------------------------------------------------------------ submit */

/** @cond INTERNAL */
static inline void vmm_host__job_release(struct vmm_fence *f, void *arg)
{
	struct vmm_host_job *hj = FA_CONTAINER_OF(f, struct vmm_host_job, fence);

	vmm_host__free((struct vmm_host *)arg, hj, sizeof(*hj));
}

/* Fence callback of a dependency: runs inside the signalling job's run stage,
 * under that fence's timeline lock. Signalled by one of this host's
 * scheduler threads (a job's previous job, or another VM's job), it takes no
 * lock: that thread picks again from the queue right after this run stage,
 * and a job not queued yet still holds its submitter's count. Signalled from any other
 * thread (a foreign in-fence), it wakes the scheduler under its lock. */
static inline void vmm_host__dep_signalled(struct vmm_fence *f, struct vmm_fence_cb *cb)
{
	struct vmm_job_dep *d = FA_CONTAINER_OF(cb, struct vmm_job_dep, cb);
	struct vmm_host *host = d->job->vm->host;

	(void)f;
	if (__atomic_sub_fetch(&d->job->pending_deps, 1, __ATOMIC_ACQ_REL) == 0 &&
	    *vmm_host__sched_self() != host) {
		vmm_fence__lock_stat(&host->sched_lock, &host->sched_dep, &host->sched_stat);
		pthread_cond_signal(&host->sched_cond);
		vmm_fence__unlock_stat(&host->sched_lock, &host->sched_dep, &host->sched_stat);
	}
}

/* VM lock held, the core job submitted: publish the fence, set up
 * dependencies, queue the job. */
static inline void vmm_host__job_queue(struct vmm_host_job *hj, struct vmm_fence *in_fence,
				       struct vmm_fence **out_fence)
{
	struct vmm_host_vm *vm = hj->vm;
	struct vmm_host *host = vm->host;
	unsigned int i;

	vmm_fence_init(&hj->fence, &vm->timeline, vmm_host__job_release, host);
	hj->pending_deps = 1;
	hj->deps[0] = vm->last_fence; /* jobs of one VM run in submission order */
	hj->deps[1] = in_fence ? vmm_fence_get(in_fence) : NULL;
	vm->last_fence = vmm_fence_get(&hj->fence);
	for (i = 0; i < 2; i++) {
		if (!hj->deps[i])
			continue;
		hj->dep[i].job = hj;
		__atomic_fetch_add(&hj->pending_deps, 1, __ATOMIC_RELAXED);
		if (vmm_fence_add_callback(hj->deps[i], &hj->dep[i].cb, vmm_host__dep_signalled))
			__atomic_fetch_sub(&hj->pending_deps, 1, __ATOMIC_RELAXED);
	}
	if (out_fence)
		*out_fence = vmm_fence_get(&hj->fence);
	__atomic_fetch_add(&vm->jobs_pending, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&host->jobs_submitted, 1, __ATOMIC_RELAXED);
	vmm_fence__lock_stat(&host->sched_lock, &host->sched_dep, &host->sched_stat);
	fa_list_add_tail(&hj->queue_link, &host->queue);
	host->sched_queued++;
	__atomic_fetch_sub(&hj->pending_deps, 1, __ATOMIC_RELEASE);
	pthread_cond_signal(&host->sched_cond);
	vmm_fence__unlock_stat(&host->sched_lock, &host->sched_dep, &host->sched_stat);
}
/** @endcond */

/**
 * Submit a VM_BIND job: the host job first (the only thing that can fail on
 * the driver side), then vmm_job_submit() under the VM lock, then its fence
 * and the scheduler queue. On any error nothing is changed.
 * @stage submit (allocates, may sleep)
 * @locking none held; takes the VM lock, and under it the core's locks, the
 *          timelines' locks and the scheduler lock
 * @param vm VM.
 * @param ops Ops (copied).
 * @param nops Number of ops.
 * @param in_fence Optional fence the job must also wait for (a reference is taken), or NULL.
 * @param out_fence Where the job's fence is stored, with a reference for the caller (or NULL).
 * @return 0, -FA_ENOMEM, or an error of vmm_job_submit().
 */
static inline int vmm_host_submit(struct vmm_host_vm *vm, const struct vmm_op *ops,
				  unsigned int nops, struct vmm_fence *in_fence,
				  struct vmm_fence **out_fence)
{
	struct vmm_host *host = vm->host;
	uint64_t t0 = vmm_host_now_ns();
	struct vmm_host_job *hj;
	int err;

	hj = (struct vmm_host_job *)vmm_host__alloc(host, sizeof(*hj));
	if (!hj) {
		__atomic_fetch_add(&host->dev.stats.jobs_rejected, 1, __ATOMIC_RELAXED);
		return -FA_ENOMEM;
	}
	memset(hj, 0, sizeof(*hj));
	hj->vm = vm;
	hj->t_submit = t0;
	fa_list_init(&hj->queue_link);
	vmm__lock(&vm->lock.ops);
	err = vmm_job_submit(&vm->vm, ops, nops, &hj->job);
	if (!err)
		vmm_host__job_queue(hj, in_fence, out_fence);
	vmm__unlock(&vm->lock.ops);
	if (err) {
		vmm_host__free(host, hj, sizeof(*hj));
		return err;
	}
	vmm_host__lat_record(&host->lat_submit, vmm_host_now_ns() - t0);
	return 0;
}

/* ------------------------------------------------------------ run_job, free_job */

/** @cond INTERNAL */
/* After the fence signalled: hand the job to the cleanup worker. Not a fence
 * callback: the cleanup may free the VM, whose timeline lock a callback would
 * still be running under. Only a push onto an empty list wakes the worker: a
 * non-empty one has not been taken yet, and the worker takes the whole list
 * (under its lock) before it sleeps. */
static inline void vmm_host__job_done(struct vmm_host_job *hj)
{
	struct vmm_host *host = hj->vm->host;

	if (!fa_llist_push(&hj->done_link, &host->done))
		return;
	vmm_fence__lock_stat(&host->cleanup_lock, &host->cleanup_dep, &host->cleanup_stat);
	pthread_cond_signal(&host->cleanup_cond);
	vmm_fence__unlock_stat(&host->cleanup_lock, &host->cleanup_dep, &host->cleanup_stat);
}

/* run_job(): the core's run step inside a signalling section, then the fence. */
static inline void vmm_host__run(struct vmm_host_job *hj)
{
	struct vmm_host_vm *vm = hj->vm;
	struct vmm_host *host = vm->host;
	uint64_t t0 = vmm_host_now_ns();
	fa_signalling_cookie_t cookie;

	if (host->cfg.lock_stats &&
	    __atomic_fetch_add(&host->runs_active, 1, __ATOMIC_RELAXED) != 0)
		__atomic_fetch_add(&host->runs_overlapped, 1, __ATOMIC_RELAXED);
	cookie = fa_signalling_begin();
	(*vmm_host__run_depth())++;
	vmm__lock(&vm->pt_lock.ops);
	if (host->cfg.seed_bug == VMM_BUG_ALLOC_IN_RUN) {
		/* BUG (seeded): a page table allocated on demand, under the page-table lock. */
		void *pt = vmm_host__alloc(host, VMM_TABLE_BYTES);

		vmm_host__free(host, pt, VMM_TABLE_BYTES);
	}
	vmm_job_run(hj->job);
	vmm__unlock(&vm->pt_lock.ops);
	if (host->cfg.lock_stats)
		__atomic_fetch_sub(&host->runs_active, 1, __ATOMIC_RELAXED);
	vmm_host__lat_record(&host->lat_run, vmm_host_now_ns() - t0);
	/* Hold a reference across the signal: a woken waiter may drop its own
	 * and the cleanup worker the job's before we are done with the fence. */
	vmm_fence_get(&hj->fence);
	vmm_fence_signal(&hj->fence); /* callbacks run here: still counted */
	fa_signalling_end(cookie);
	(*vmm_host__run_depth())--;
	vmm_host__job_done(hj);         /* cleanup may free the VM from here on */
	vmm_fence_put(&hj->fence);      /* may free the job (outside the section) */
}

/* free_job(): the core's cleanup step under the VM lock. */
static inline void vmm_host__cleanup(struct vmm_host_job *hj)
{
	struct vmm_host_vm *vm = hj->vm;
	struct vmm_host *host = vm->host;
	uint64_t t0 = vmm_host_now_ns();
	unsigned int i;

	vmm__lock(&vm->lock.ops);
	if (host->cfg.seed_bug == VMM_BUG_WAIT_UNDER_REF && vm->last_fence &&
	    vm->last_fence != &hj->fence) {
		/* BUG (seeded): wait for the VM to go idle while holding the
		 * page-table lock, which that VM's next run stage needs: a real
		 * deadlock. A kernel would hang here; the example gives up after 20 ms. */
		vmm__lock(&vm->pt_lock.ops);
		(void)vmm_fence_wait_timeout(vm->last_fence, 20);
		vmm__unlock(&vm->pt_lock.ops);
	}
	vmm_job_cleanup(hj->job);
	hj->job = NULL;
	vmm__unlock(&vm->lock.ops);
	for (i = 0; i < 2; i++)
		vmm_fence_put(hj->deps[i]);
	vmm_host__lat_record(&host->lat_cleanup, vmm_host_now_ns() - t0);
	vmm_host__lat_record(&host->lat_e2e, vmm_host_now_ns() - hj->t_submit);
	/* The last access to the VM: after this, vmm_host_vm_destroy() may free it. */
	__atomic_fetch_sub(&vm->jobs_pending, 1, __ATOMIC_RELEASE);
	vmm_fence_put(&hj->fence); /* frees the job unless someone still holds its fence */
}

static inline struct vmm_host_job *vmm_host__pick(struct vmm_host *host)
{
	struct fa_list *pos;

	fa_list_for_each(pos, &host->queue) {
		struct vmm_host_job *hj = fa_list_entry(pos, struct vmm_host_job, queue_link);

		if (__atomic_load_n(&hj->pending_deps, __ATOMIC_ACQUIRE) == 0) {
			fa_list_del_init(pos);
			return hj;
		}
	}
	return NULL;
}

static inline void *vmm_host__sched_main(void *arg)
{
	struct vmm_host *host = (struct vmm_host *)arg;
	struct vmm_host_job *hj;

	*vmm_host__sched_self() = host;
	vmm_fence__lock_stat(&host->sched_lock, &host->sched_dep, &host->sched_stat);
	for (;;) {
		hj = vmm_host__pick(host);
		if (hj) {
			host->sched_busy++;
			vmm_fence__unlock_stat(&host->sched_lock, &host->sched_dep, &host->sched_stat);
			vmm_host__run(hj);
			vmm_fence__lock_stat(&host->sched_lock, &host->sched_dep, &host->sched_stat);
			host->sched_busy--;
			continue;
		}
		if (__atomic_load_n(&host->stopping, __ATOMIC_ACQUIRE) && fa_list_empty(&host->queue))
			break;
		/*
		 * Idle: every job queued so far was examined and none is runnable,
		 * and no other worker is inside a run stage (whose end may make
		 * one runnable): the last worker to stop marks it.
		 */
		if (!host->sched_busy && host->sched_idle_seen != host->sched_queued) {
			host->sched_idle_seen = host->sched_queued;
			pthread_cond_broadcast(&host->sched_idle_cond);
		}
		vmm_lock_stat__cond_wait(&host->sched_cond, &host->sched_lock, &host->sched_stat);
	}
	vmm_fence__unlock_stat(&host->sched_lock, &host->sched_dep, &host->sched_stat);
	return NULL;
}

static inline void *vmm_host__cleanup_main(void *arg)
{
	struct vmm_host *host = (struct vmm_host *)arg;
	struct fa_llist_node *list, *next;

	vmm_fence__lock_stat(&host->cleanup_lock, &host->cleanup_dep, &host->cleanup_stat);
	for (;;) {
		list = fa_llist_del_all(&host->done);
		if (!list) {
			if (__atomic_load_n(&host->stopping, __ATOMIC_ACQUIRE) &&
			    __atomic_load_n(&host->jobs_cleaned, __ATOMIC_ACQUIRE) ==
				    __atomic_load_n(&host->jobs_submitted, __ATOMIC_ACQUIRE))
				break;
			vmm_lock_stat__cond_wait(&host->cleanup_cond, &host->cleanup_lock, &host->cleanup_stat);
			continue;
		}
		vmm_fence__unlock_stat(&host->cleanup_lock, &host->cleanup_dep, &host->cleanup_stat);
		for (list = fa_llist_reverse(list); list; list = next) {
			next = list->next;
			vmm_host__cleanup(FA_CONTAINER_OF(list, struct vmm_host_job, done_link));
			__atomic_fetch_add(&host->jobs_cleaned, 1, __ATOMIC_RELEASE);
		}
		vmm_fence__lock_stat(&host->cleanup_lock, &host->cleanup_dep, &host->cleanup_stat);
		pthread_cond_broadcast(&host->idle_cond);
	}
	vmm_fence__unlock_stat(&host->cleanup_lock, &host->cleanup_dep, &host->cleanup_stat);
	return NULL;
}

/* Stop the first @p n scheduler threads (the queue is empty or being torn down). */
static inline void vmm_host__sched_stop(struct vmm_host *host, unsigned int n)
{
	unsigned int i;

	vmm_fence__lock_stat(&host->sched_lock, &host->sched_dep, &host->sched_stat);
	__atomic_store_n(&host->stopping, true, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&host->sched_cond);
	vmm_fence__unlock_stat(&host->sched_lock, &host->sched_dep, &host->sched_stat);
	for (i = 0; i < n; i++)
		pthread_join(host->sched_thread[i], NULL);
}

static inline uint64_t vmm_host__tlb_invalidate(void *ctx, uint64_t pdb)
{
	struct vmm_host *host = (struct vmm_host *)ctx;

	if (host->cfg.seed_bug == VMM_BUG_NO_TLB_INVALIDATE && vmm_host_in_run_stage())
		return host->user_hw.tlb_epoch(host->user_hw.ctx); /* BUG (seeded): skipped */
	return host->user_hw.tlb_invalidate(host->user_hw.ctx, pdb);
}

static inline uint64_t vmm_host__tlb_epoch(void *ctx)
{
	struct vmm_host *host = (struct vmm_host *)ctx;

	return host->user_hw.tlb_epoch(host->user_hw.ctx);
}

static inline void vmm_host__live_begin(void *ctx, uint64_t pdb, uint64_t va, uint64_t size,
					uint64_t new_pa, unsigned int shift)
{
	struct vmm_host *host = (struct vmm_host *)ctx;

	host->user_hw.live_begin(host->user_hw.ctx, pdb, va, size, new_pa, shift);
}

static inline void vmm_host__live_end(void *ctx)
{
	struct vmm_host *host = (struct vmm_host *)ctx;

	host->user_hw.live_end(host->user_hw.ctx);
}

static inline uint64_t vmm_host__now(void *ctx)
{
	struct vmm_host *host = (struct vmm_host *)ctx;

	return host->user_hw.now_ns ? host->user_hw.now_ns(host->user_hw.ctx) : vmm_host_now_ns();
}

static inline int vmm_host__lat_init(struct vmm_host *host, struct vmm_lat *l, unsigned long cap)
{
	l->n = 0;
	l->cap = cap;
	l->ns = (uint64_t *)vmm_host__alloc(host, cap * sizeof(uint64_t));
	return l->ns ? 0 : -FA_ENOMEM;
}

static inline void vmm_host__lats_fini(struct vmm_host *host)
{
	vmm_host__free(host, host->lat_submit.ns, host->lat_submit.cap * sizeof(uint64_t));
	vmm_host__free(host, host->lat_run.ns, host->lat_run.cap * sizeof(uint64_t));
	vmm_host__free(host, host->lat_cleanup.ns, host->lat_cleanup.cap * sizeof(uint64_t));
	vmm_host__free(host, host->lat_e2e.ns, host->lat_e2e.cap * sizeof(uint64_t));
}
/** @endcond */

/**
 * Wait until every submitted job has been cleaned up.
 * @stage submit (sleeps)
 * @locking none held; takes the cleanup lock
 * @param host Host.
 */
static inline void vmm_host_wait_idle(struct vmm_host *host)
{
	vmm_fence__lock_stat(&host->cleanup_lock, &host->cleanup_dep, &host->cleanup_stat);
	while (__atomic_load_n(&host->jobs_cleaned, __ATOMIC_ACQUIRE) !=
	       __atomic_load_n(&host->jobs_submitted, __ATOMIC_ACQUIRE))
		vmm_lock_stat__cond_wait(&host->idle_cond, &host->cleanup_lock, &host->cleanup_stat);
	vmm_fence__unlock_stat(&host->cleanup_lock, &host->cleanup_dep, &host->cleanup_stat);
}

/**
 * Wait until the scheduler has examined every job queued before this call
 * and gone idle, finding nothing runnable. A job whose fence is still
 * unsignalled afterwards is provably held back by a dependency.
 * @stage submit (sleeps)
 * @locking none held; takes the scheduler lock
 * @param host Host.
 */
static inline void vmm_host_wait_sched_idle(struct vmm_host *host)
{
	unsigned long target;

	vmm_fence__lock_stat(&host->sched_lock, &host->sched_dep, &host->sched_stat);
	target = host->sched_queued;
	while ((long)(host->sched_idle_seen - target) < 0)
		vmm_lock_stat__cond_wait(&host->sched_idle_cond, &host->sched_lock, &host->sched_stat);
	vmm_fence__unlock_stat(&host->sched_lock, &host->sched_dep, &host->sched_stat);
}

/**
 * Create a host device (the core device with pthread locks) and start its
 * scheduler and cleanup threads.
 * @stage submit (driver init; allocates)
 * @locking none
 * @param hw Hardware hooks (copied; the locks are the host's, any given are ignored).
 * @param src Host allocator (copied).
 * @param cfg Tunables, or NULL for defaults.
 * @param out The host.
 * @return 0; -FA_EINVAL (bad hooks or VRAM size, too many run workers); -FA_ENOMEM;
 *         -FA_EAGAIN (a thread did not start).
 */
static inline int vmm_host_create(const struct vmm_hw *hw, const struct fa_reserve_source *src,
				  const struct vmm_host_config *cfg, struct vmm_host **out)
{
	struct vmm_config core_cfg;
	struct vmm_host *host;
	struct vmm_hw h;
	unsigned int i;
	int err;

	if (!hw || !src || !out || !hw->tlb_invalidate || !hw->tlb_epoch)
		return -FA_EINVAL;
	host = (struct vmm_host *)fa_reserve_source_alloc(src, sizeof(*host), FA_GFP_KERNEL);
	if (!host)
		return -FA_ENOMEM;
	memset(host, 0, sizeof(*host));
	if (cfg)
		host->cfg = *cfg;
	if (!host->cfg.lat_cap)
		host->cfg.lat_cap = 1ul << 20;
	if (!host->cfg.run_workers)
		host->cfg.run_workers = 1;
	if (host->cfg.run_workers > VMM_HOST_MAX_RUN_WORKERS) {
		fa_reserve_source_free(src, host, sizeof(*host));
		return -FA_EINVAL;
	}
	vmm_host__lock_init(&host->hw_lock, &vmm_hw_lock);
	vmm_host__lock_init(&host->vram_lock, &vmm_vram_lock);
	host->user_hw = *hw;
	h = *hw;
	h.tlb_invalidate = vmm_host__tlb_invalidate; /* seeded bug 3 drops run stages' invalidates */
	h.tlb_epoch = vmm_host__tlb_epoch;
	h.now_ns = vmm_host__now;
	h.live_begin = hw->live_begin && hw->live_end ? vmm_host__live_begin : NULL;
	h.live_end = hw->live_begin && hw->live_end ? vmm_host__live_end : NULL;
	h.ctx = host;
	h.hw_lock = &host->hw_lock.ops;
	h.vram_lock = &host->vram_lock.ops;
	memset(&core_cfg, 0, sizeof(core_cfg));
	core_cfg.node_budget = host->cfg.node_budget;
	core_cfg.pt_budget = host->cfg.pt_budget;
	core_cfg.merge = host->cfg.merge;
	err = vmm_device_init(&host->dev, &h, src, &core_cfg);
	if (err)
		goto fail_locks;
	err = vmm_host__lat_init(host, &host->lat_submit, host->cfg.lat_cap);
	if (!err)
		err = vmm_host__lat_init(host, &host->lat_run, host->cfg.lat_cap);
	if (!err)
		err = vmm_host__lat_init(host, &host->lat_cleanup, host->cfg.lat_cap);
	if (!err)
		err = vmm_host__lat_init(host, &host->lat_e2e, host->cfg.lat_cap);
	if (err)
		goto fail_dev;
	pthread_mutex_init(&host->sched_lock, NULL);
	pthread_mutex_init(&host->cleanup_lock, NULL);
	pthread_mutex_init(&host->vms_lock, NULL);
	fa_list_init(&host->vms);
	host->hw_lock.stat.on = host->cfg.lock_stats;
	host->vram_lock.stat.on = host->cfg.lock_stats;
	host->sched_stat.on = host->cfg.lock_stats;
	host->cleanup_stat.on = host->cfg.lock_stats;
	pthread_cond_init(&host->sched_cond, NULL);
	pthread_cond_init(&host->sched_idle_cond, NULL);
	pthread_cond_init(&host->cleanup_cond, NULL);
	pthread_cond_init(&host->idle_cond, NULL);
	fa_signalling_map_init(&host->sched_dep, &vmm_sched_lock);
	fa_signalling_map_init(&host->cleanup_dep, &vmm_cleanup_lock);
	fa_list_init(&host->queue);
	fa_llist_init(&host->done);
	for (i = 0; i < host->cfg.run_workers; i++) {
		if (pthread_create(&host->sched_thread[i], NULL, vmm_host__sched_main, host)) {
			vmm_host__sched_stop(host, i);
			err = -FA_EAGAIN;
			goto fail_dev;
		}
	}
	if (pthread_create(&host->cleanup_thread, NULL, vmm_host__cleanup_main, host)) {
		vmm_host__sched_stop(host, host->cfg.run_workers);
		err = -FA_EAGAIN;
		goto fail_dev;
	}
	*out = host;
	return 0;
fail_dev:
	vmm_host__lats_fini(host);
	vmm_device_fini(&host->dev);
fail_locks:
	vmm_host__lock_fini(&host->hw_lock);
	vmm_host__lock_fini(&host->vram_lock);
	fa_reserve_source_free(src, host, sizeof(*host));
	return err;
}


/**
 * Stop the threads (after every submitted job is cleaned up) and free the
 * host. Every VM and BO must have been destroyed.
 * @stage cleanup
 * @locking none held; takes the cleanup lock, then (one at a time) the scheduler lock
 * @param host Host.
 */
static inline void vmm_host_destroy(struct vmm_host *host)
{
	struct fa_reserve_source src = host->dev.src;

	vmm_host_wait_idle(host);
	vmm_host__sched_stop(host, host->cfg.run_workers);
	vmm_fence__lock_stat(&host->cleanup_lock, &host->cleanup_dep, &host->cleanup_stat);
	pthread_cond_signal(&host->cleanup_cond);
	vmm_fence__unlock_stat(&host->cleanup_lock, &host->cleanup_dep, &host->cleanup_stat);
	pthread_join(host->cleanup_thread, NULL);
	vmm_host__lats_fini(host);
	vmm_device_fini(&host->dev);
	pthread_cond_destroy(&host->idle_cond);
	pthread_cond_destroy(&host->cleanup_cond);
	pthread_cond_destroy(&host->sched_idle_cond);
	pthread_cond_destroy(&host->sched_cond);
	pthread_mutex_destroy(&host->cleanup_lock);
	pthread_mutex_destroy(&host->sched_lock);
	pthread_mutex_destroy(&host->vms_lock);
	vmm_host__lock_fini(&host->vram_lock);
	vmm_host__lock_fini(&host->hw_lock);
	fa_reserve_source_free(&src, host, sizeof(*host));
}

/* ------------------------------------------------------------ lock statistics */

/** @cond INTERNAL */
static inline void vmm_host__lock_stat_add(struct vmm_lock_stat *sum, const struct vmm_lock_stat *s)
{
	sum->on |= s->on;
	sum->acquired += s->acquired;
	sum->contended += s->contended;
	sum->in_run += s->in_run;
	sum->wait_ns += s->wait_ns;
	sum->hold_ns += s->hold_ns;
}

/* Add a VM's counters to @p sum (vms_lock held; no thread of the VM may
 * hold its locks for long: each is taken to copy its counters). */
static inline void vmm_host__lock_stat_vm(struct vmm_host_vm *vm, struct vmm_lock_stat *sum)
{
	struct vmm_lock_stat s;

	vmm_lock_stat__read(&vm->lock.mtx, &vm->lock.stat, &s);
	vmm_host__lock_stat_add(&sum[VMM_HOST_LOCK_VM], &s);
	vmm_lock_stat__read(&vm->pt_lock.mtx, &vm->pt_lock.stat, &s);
	vmm_host__lock_stat_add(&sum[VMM_HOST_LOCK_PT], &s);
	vmm_lock_stat__read(&vm->timeline.lock, &vm->timeline.lock_stat, &s);
	vmm_host__lock_stat_add(&sum[VMM_HOST_LOCK_TIMELINE], &s);
}
/** @endcond */

/**
 * Name of a lock class (for reports).
 * @stage any
 * @locking none
 * @param c #vmm_host_lock_class.
 * @return A short name.
 */
static inline const char *vmm_host_lock_class_name(unsigned int c)
{
	static const char *const names[VMM_HOST_LOCK_CLASSES] = {
		"vm", "pt", "timeline", "vram", "hw", "sched", "cleanup",
	};

	return c < VMM_HOST_LOCK_CLASSES ? names[c] : "?";
}

/**
 * Whether a lock class has one instance for the whole device (every VM
 * contends on it) rather than one per VM.
 * @stage any
 * @locking none
 * @param c #vmm_host_lock_class.
 * @return true for the VRAM, hw, scheduler and cleanup locks.
 */
static inline bool vmm_host_lock_class_device_wide(unsigned int c)
{
	return c >= VMM_HOST_LOCK_VRAM && c < VMM_HOST_LOCK_CLASSES;
}

/**
 * The lock counters of every class, summed over the live VMs and those
 * already destroyed (zero unless vmm_host_config::lock_stats was set). Each
 * lock is taken, uncounted, to copy its counters: call it when the host is
 * quiet for an exact figure.
 * @stage submit (sleeps on every lock)
 * @locking none held
 * @param host Host.
 * @param out Counters per #vmm_host_lock_class (t_held is meaningless).
 */
static inline void vmm_host_lock_stats(struct vmm_host *host,
				       struct vmm_lock_stat out[VMM_HOST_LOCK_CLASSES])
{
	struct vmm_lock_stat s;
	struct fa_list *pos;

	memset(out, 0, sizeof(*out) * VMM_HOST_LOCK_CLASSES);
	pthread_mutex_lock(&host->vms_lock);
	memcpy(out, host->lock_retired, sizeof(*out) * VMM_HOST_LOCK_CLASSES);
	fa_list_for_each(pos, &host->vms)
		vmm_host__lock_stat_vm(fa_list_entry(pos, struct vmm_host_vm, link), out);
	pthread_mutex_unlock(&host->vms_lock);
	vmm_lock_stat__read(&host->vram_lock.mtx, &host->vram_lock.stat, &s);
	vmm_host__lock_stat_add(&out[VMM_HOST_LOCK_VRAM], &s);
	vmm_lock_stat__read(&host->hw_lock.mtx, &host->hw_lock.stat, &s);
	vmm_host__lock_stat_add(&out[VMM_HOST_LOCK_HW], &s);
	vmm_lock_stat__read(&host->sched_lock, &host->sched_stat, &s);
	vmm_host__lock_stat_add(&out[VMM_HOST_LOCK_SCHED], &s);
	vmm_lock_stat__read(&host->cleanup_lock, &host->cleanup_stat, &s);
	vmm_host__lock_stat_add(&out[VMM_HOST_LOCK_CLEANUP], &s);
}

/* ------------------------------------------------------------ VMs */

/**
 * Create a host VM: its locks, its timeline, the core VM.
 * @stage submit (allocates)
 * @locking none
 * @param host Host.
 * @param va_start First usable VA (aligned to 2 MiB).
 * @param va_size Bytes of VA.
 * @param out The VM.
 * @return 0 or an error of vmm_vm_init(); -FA_ENOMEM.
 */
static inline int vmm_host_vm_create(struct vmm_host *host, uint64_t va_start, uint64_t va_size,
				     struct vmm_host_vm **out)
{
	struct vmm_vm_locks locks;
	struct vmm_host_vm *vm;
	int err;

	vm = (struct vmm_host_vm *)vmm_host__alloc(host, sizeof(*vm));
	if (!vm)
		return -FA_ENOMEM;
	memset(vm, 0, sizeof(*vm));
	vm->host = host;
	vmm_host__lock_init(&vm->lock, &vmm_vm_lock);
	vmm_host__lock_init(&vm->pt_lock, &vmm_pt_lock);
	locks.vm = &vm->lock.ops;
	locks.pt = &vm->pt_lock.ops;
	err = vmm_vm_init(&vm->vm, &host->dev, va_start, va_size, &locks);
	if (err) {
		vmm_host__lock_fini(&vm->pt_lock);
		vmm_host__lock_fini(&vm->lock);
		vmm_host__free(host, vm, sizeof(*vm));
		return err;
	}
	vmm_fence_timeline_init(&vm->timeline);
	vm->lock.stat.on = host->cfg.lock_stats;
	vm->pt_lock.stat.on = host->cfg.lock_stats;
	vm->timeline.lock_stat.on = host->cfg.lock_stats;
	pthread_mutex_lock(&host->vms_lock);
	fa_list_add_tail(&vm->link, &host->vms);
	pthread_mutex_unlock(&host->vms_lock);
	*out = vm;
	return 0;
}

/**
 * Destroy an idle VM (every job cleaned up: wait for its last fence, then
 * vmm_host_wait_idle()).
 * @stage cleanup
 * @locking none held (takes the VM lock; the core takes the page-table lock)
 * @param vm VM.
 * @return 0; -FA_EBUSY when a job of the VM has not been cleaned up yet (nothing freed).
 */
static inline int vmm_host_vm_destroy(struct vmm_host_vm *vm)
{
	struct vmm_host *host = vm->host;
	int err;

	if (__atomic_load_n(&vm->jobs_pending, __ATOMIC_ACQUIRE) != 0)
		return -FA_EBUSY;
	vmm__lock(&vm->lock.ops);
	err = vmm_vm_fini(&vm->vm);
	vmm__unlock(&vm->lock.ops);
	if (err)
		return err;
	vmm_fence_put(vm->last_fence);
	pthread_mutex_lock(&host->vms_lock);
	fa_list_del_init(&vm->link);
	vmm_host__lock_stat_vm(vm, host->lock_retired);
	pthread_mutex_unlock(&host->vms_lock);
	vmm_fence_timeline_fini(&vm->timeline);
	vmm_host__lock_fini(&vm->pt_lock);
	vmm_host__lock_fini(&vm->lock);
	vmm_host__free(host, vm, sizeof(*vm));
	return 0;
}

/**
 * Compare the submit-side and run-side views (equal when no job is pending).
 * @stage any (sleeps on the VM's locks)
 * @locking none held; takes the VM lock, then the page-table lock
 * @param vm VM.
 * @return true when both views hold the same mappings.
 */
static inline bool vmm_host_vm_check_views(struct vmm_host_vm *vm)
{
	bool same;

	vmm__lock(&vm->lock.ops);
	vmm__lock(&vm->pt_lock.ops);
	same = vmm_vm_views_equal(&vm->vm);
	vmm__unlock(&vm->pt_lock.ops);
	vmm__unlock(&vm->lock.ops);
	return same;
}

/**
 * Lock a VM's run-side state for an external check (an MMU-walker verifier):
 * no run step or cleanup of this VM changes its tables or its run-side view
 * until vmm_host_vm_unlock_tables().
 * @stage any (sleeps)
 * @locking none held; takes the page-table lock
 * @param vm VM.
 */
static inline void vmm_host_vm_lock_tables(struct vmm_host_vm *vm)
{
	vmm__lock(&vm->pt_lock.ops);
}

/**
 * Undo vmm_host_vm_lock_tables().
 * @stage any
 * @locking the page-table lock, released
 * @param vm VM.
 */
static inline void vmm_host_vm_unlock_tables(struct vmm_host_vm *vm)
{
	vmm__unlock(&vm->pt_lock.ops);
}

#ifdef __cplusplus
}
#endif

#endif /* VMM_HOST_H */
