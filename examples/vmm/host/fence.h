/* SPDX-License-Identifier: MIT */
/**
 * @file fence.h
 * @brief A small, real completion fence for the reference VMM: seqno, wait, callbacks.
 *
 * A VM_BIND job publishes a fence when it is queued; the scheduler signals it
 * at the end of the job's run stage; waiters sleep on it and callbacks run when
 * it signals (a dependent job's pending count drops in one). This is the shape
 * of the kernel's `dma_fence`, reduced to what the VMM needs:
 *
 * - a **timeline** (#vmm_fence_timeline) owns a mutex shared by its fences,
 *   and hands out increasing seqnos;
 * - a **fence** (#vmm_fence) is refcounted (the job holds one reference, every
 *   waiter takes its own), carries a seqno, a signalled flag, a callback
 *   list and its own condition variable: a signal wakes only the waiters of
 *   that fence, not every sleeper on the timeline;
 * - vmm_fence_signal() marks the fence signalled, runs the callbacks under the
 *   timeline lock (they must not block, allocate or take the timeline lock;
 *   pushing to a lock-free list and waking a worker is the intended use) and
 *   wakes every waiter.
 *
 * Stage contract: vmm_fence_signal() and vmm_fence_add_callback() are
 * `@stage run` safe (no allocation; only the timeline lock, which is never
 * held around an allocation or a wait, plus whatever run-safe lock a callback
 * takes: the VMM's takes its scheduler lock). The timeline lock is annotated
 * for the signalling validator (class `vmm_fence_timeline_lock`), like every
 * VMM lock. vmm_fence_wait() sleeps and is
 * annotated as a fence wait for the signalling validator: never call it from
 * a run stage or while holding a lock the run stage takes.
 *
 * Userspace (pthreads). In a kernel driver this whole file is `dma_fence`.
 *
 * @code
 * struct vmm_fence_timeline tl;
 * struct vmm_fence *f;
 *
 * vmm_fence_timeline_init(&tl);
 * f = (struct vmm_fence *)malloc(sizeof(*f));
 * vmm_fence_init(f, &tl, my_release, NULL);  // seqno = next on the timeline
 * vmm_fence_get(f);                          // a waiter's reference
 * // scheduler thread:  vmm_fence_signal(f);
 * vmm_fence_wait(f);                         // submitter thread
 * vmm_fence_put(f);
 * @endcode
 */
#ifndef VMM_FENCE_H
#define VMM_FENCE_H

#include <fencealloc/base.h>
#include <fencealloc/signalling.h>

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vmm_fence;
struct vmm_fence_cb;

/**
 * Contention counters of one lock (a test harness's lockstat). Written only
 * by the lock's holder, under the lock: no atomics, no shared cache line
 * between locks of different objects. Off unless @ref on is set.
 */
struct vmm_lock_stat {
	bool on;                /**< Count (set before the lock is used concurrently). */
	unsigned long acquired; /**< Acquisitions. */
	unsigned long contended; /**< Of those, where a trylock failed first (the caller blocked). */
	unsigned long in_run;   /**< Of those, by a thread inside a run stage (a signalling section). */
	uint64_t wait_ns;       /**< Time spent blocked before acquiring. */
	uint64_t hold_ns;       /**< Time held (a condition-variable wait excluded). */
	uint64_t t_held;        /**< When the current holder took it (or came back from a wait). */
};

/** @cond INTERNAL */
static inline uint64_t vmm_lock_stat__now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Whether the calling thread is inside a run stage (host.h counts it). */
static inline int *vmm_lock_stat__run_depth(void)
{
#ifdef __cplusplus
	static thread_local int depth;
#else
	static _Thread_local int depth;
#endif

	return &depth;
}

/* pthread_mutex_lock(), counted when @p s is on. */
static inline void vmm_lock_stat__lock(pthread_mutex_t *mtx, struct vmm_lock_stat *s)
{
	uint64_t t0;

	if (!s || !s->on) {
		pthread_mutex_lock(mtx);
		return;
	}
	if (pthread_mutex_trylock(mtx) == 0) {
		t0 = vmm_lock_stat__now();
	} else {
		uint64_t w = vmm_lock_stat__now();

		pthread_mutex_lock(mtx);
		t0 = vmm_lock_stat__now();
		s->contended++;
		s->wait_ns += t0 - w;
	}
	s->acquired++;
	s->in_run += *vmm_lock_stat__run_depth() > 0;
	s->t_held = t0;
}

static inline void vmm_lock_stat__unlock(pthread_mutex_t *mtx, struct vmm_lock_stat *s)
{
	if (s && s->on)
		s->hold_ns += vmm_lock_stat__now() - s->t_held;
	pthread_mutex_unlock(mtx);
}

/* pthread_cond_wait() on a counted mutex: the wait is not hold time. */
static inline void vmm_lock_stat__cond_wait(pthread_cond_t *cond, pthread_mutex_t *mtx,
					    struct vmm_lock_stat *s)
{
	if (s && s->on)
		s->hold_ns += vmm_lock_stat__now() - s->t_held;
	pthread_cond_wait(cond, mtx);
	if (s && s->on)
		s->t_held = vmm_lock_stat__now();
}

/* Copy @p s, taking @p mtx uncounted (the holder writes it). */
static inline void vmm_lock_stat__read(pthread_mutex_t *mtx, const struct vmm_lock_stat *s,
				       struct vmm_lock_stat *out)
{
	pthread_mutex_lock(mtx);
	*out = *s;
	pthread_mutex_unlock(mtx);
}

/* Every VMM lock is taken through these, so the signalling validator sees it:
 * the mutex first, then its validator map (and the reverse on release). */
#define vmm_fence__lock_stat(mtx, dep, st)      \
	do {                                    \
		vmm_lock_stat__lock(mtx, st);   \
		fa_signalling_acquire(dep);     \
	} while (0)
#define vmm_fence__unlock_stat(mtx, dep, st)    \
	do {                                    \
		fa_signalling_release(dep);     \
		vmm_lock_stat__unlock(mtx, st); \
	} while (0)
#define vmm_fence__lock(mtx, dep) vmm_fence__lock_stat(mtx, dep, NULL)
#define vmm_fence__unlock(mtx, dep) vmm_fence__unlock_stat(mtx, dep, NULL)

/* One class for every timeline lock: a run stage takes it to signal. */
FA_SIGNALLING_DEFINE_STATIC_CLASS(vmm_fence_timeline_lock);
/** @endcond */

/**
 * Callback run when a fence signals.
 * @param fence The fence that signalled.
 * @param cb The registration (embed it in your object; FA_CONTAINER_OF gets it back).
 */
typedef void (*vmm_fence_cb_fn)(struct vmm_fence *fence, struct vmm_fence_cb *cb);

/** Called when the last reference to a fence is dropped (frees its memory). */
typedef void (*vmm_fence_release_fn)(struct vmm_fence *fence, void *arg);

/** A callback registration, embedded in the caller's object (no allocation). */
struct vmm_fence_cb {
	struct fa_list link; /**< On the fence's callback list until it runs. */
	vmm_fence_cb_fn fn;  /**< Function to call at signal time. */
};

/** A timeline: seqno source plus the lock and wait queue its fences share. */
struct vmm_fence_timeline {
	pthread_mutex_t lock;     /**< Protects fences' flags and callback lists (run-safe). */
	FA_SIGNALLING_MAP_MEMBER(lock_dep)
	uint64_t next_seqno;      /**< Seqno of the next fence (under @ref lock). */
	unsigned long signalled;  /**< Fences signalled so far (under @ref lock). */
	unsigned long waits;      /**< Waits that had to sleep (under @ref lock). */
	unsigned long wakeups;    /**< Wake-ups of those sleeps (under @ref lock): one per wait, more when spurious. */
	struct vmm_lock_stat lock_stat; /**< Contention of @ref lock (off unless lock_stat.on is set). */
};

/** A fence: one-shot completion with a seqno, waiters and callbacks. */
struct vmm_fence {
	struct vmm_fence_timeline *tl; /**< Timeline (lock). */
	pthread_cond_t cond;           /**< Waiters of this fence sleep on it (timeline lock); broadcast at signal. */
	uint64_t seqno;                /**< Position on the timeline. */
	int signalled;                 /**< Non-zero once signalled (atomic load outside the lock). */
	int refcount;                  /**< References (atomic). */
	struct fa_list cbs;            /**< Pending callbacks (under the timeline lock). */
	vmm_fence_release_fn release;  /**< Frees the fence when the last reference goes. */
	void *release_arg;             /**< Argument of @ref release. */
};

/**
 * Initialise a timeline.
 * @stage submit (setup)
 * @locking none
 * @param tl Timeline.
 */
static inline void vmm_fence_timeline_init(struct vmm_fence_timeline *tl)
{
	pthread_mutex_init(&tl->lock, NULL);
	fa_signalling_map_init(&tl->lock_dep, &vmm_fence_timeline_lock);
	tl->next_seqno = 1;
	tl->signalled = 0;
	tl->waits = 0;
	tl->wakeups = 0;
	memset(&tl->lock_stat, 0, sizeof(tl->lock_stat));
}

/**
 * Destroy a timeline whose fences have all been released.
 * @stage cleanup
 * @locking none
 * @param tl Timeline.
 */
static inline void vmm_fence_timeline_fini(struct vmm_fence_timeline *tl)
{
	pthread_mutex_destroy(&tl->lock);
}

/**
 * Initialise a fence with one reference and the next seqno of @p tl.
 * @stage submit
 * @locking takes the timeline lock
 * @param f Fence storage (caller-allocated).
 * @param tl Timeline.
 * @param release Called with @p arg when the last reference is dropped (may be NULL).
 * @param arg Argument of @p release.
 */
static inline void vmm_fence_init(struct vmm_fence *f, struct vmm_fence_timeline *tl,
				  vmm_fence_release_fn release, void *arg)
{
	f->tl = tl;
	f->signalled = 0;
	f->refcount = 1;
	pthread_cond_init(&f->cond, NULL);
	fa_list_init(&f->cbs);
	f->release = release;
	f->release_arg = arg;
	vmm_fence__lock_stat(&tl->lock, &tl->lock_dep, &tl->lock_stat);
	f->seqno = tl->next_seqno++;
	vmm_fence__unlock_stat(&tl->lock, &tl->lock_dep, &tl->lock_stat);
}

/**
 * Take a reference.
 * @stage any
 * @locking none
 * @param f Fence.
 * @return @p f.
 */
static inline struct vmm_fence *vmm_fence_get(struct vmm_fence *f)
{
	__atomic_fetch_add(&f->refcount, 1, __ATOMIC_RELAXED);
	return f;
}

/**
 * Drop a reference; the last one calls the release function.
 * @stage cleanup (the release frees memory) — or any stage when another reference is known to remain
 * @locking none
 * @param f Fence (NULL is ignored).
 */
static inline void vmm_fence_put(struct vmm_fence *f)
{
	if (!f)
		return;
	if (__atomic_sub_fetch(&f->refcount, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	pthread_cond_destroy(&f->cond); /* every waiter held a reference: none is left */
	if (f->release)
		f->release(f, f->release_arg);
}

/**
 * Whether the fence has signalled.
 * @stage any
 * @locking none
 * @param f Fence.
 * @return true once vmm_fence_signal() has run.
 */
static inline bool vmm_fence_is_signalled(const struct vmm_fence *f)
{
	return __atomic_load_n(&f->signalled, __ATOMIC_ACQUIRE) != 0;
}

/**
 * Register @p cb to run when @p f signals.
 * @stage any (run-safe: no allocation)
 * @locking takes the timeline lock
 * @param f Fence.
 * @param cb Registration (caller storage, unused until it runs).
 * @param fn Callback.
 * @return 0 when registered; -FA_EALREADY when the fence had already signalled
 *         (the callback is NOT called; act on it yourself).
 */
static inline int vmm_fence_add_callback(struct vmm_fence *f, struct vmm_fence_cb *cb,
					 vmm_fence_cb_fn fn)
{
	int ret = 0;

	cb->fn = fn;
	vmm_fence__lock_stat(&f->tl->lock, &f->tl->lock_dep, &f->tl->lock_stat);
	if (f->signalled)
		ret = -FA_EALREADY;
	else
		fa_list_add_tail(&cb->link, &f->cbs);
	vmm_fence__unlock_stat(&f->tl->lock, &f->tl->lock_dep, &f->tl->lock_stat);
	if (ret)
		fa_list_init(&cb->link);
	return ret;
}

/**
 * Signal the fence: run its callbacks (in registration order, under the
 * timeline lock) and wake its waiters. Signalling twice is a caller bug:
 * it warns and does nothing. The caller must hold a reference across the
 * call: a callback (or a waiter woken by it) may drop every other one.
 * @stage run (no allocation; the timeline lock only)
 * @locking takes the timeline lock; callbacks run under it (and take their own run-safe locks)
 * @param f Fence.
 */
static inline void vmm_fence_signal(struct vmm_fence *f)
{
	struct vmm_fence_timeline *tl = f->tl;
	struct fa_list *pos, *n;

	vmm_fence__lock_stat(&tl->lock, &tl->lock_dep, &tl->lock_stat);
	if (FA_WARN(f->signalled)) {
		vmm_fence__unlock_stat(&tl->lock, &tl->lock_dep, &tl->lock_stat);
		return;
	}
	__atomic_store_n(&f->signalled, 1, __ATOMIC_RELEASE);
	tl->signalled++;
	fa_list_for_each_safe(pos, n, &f->cbs) {
		struct vmm_fence_cb *cb = fa_list_entry(pos, struct vmm_fence_cb, link);

		fa_list_del_init(pos);
		cb->fn(f, cb);
	}
	pthread_cond_broadcast(&f->cond); /* only this fence's waiters */
	vmm_fence__unlock_stat(&tl->lock, &tl->lock_dep, &tl->lock_stat);
}

/**
 * Sleep until the fence signals. Annotated for the signalling validator as a
 * fence wait (fa_signalling_fence_wait()): waiting while holding a lock that a
 * run stage takes, or inside a signalling section, is reported.
 * @stage submit or cleanup (sleeps)
 * @locking takes the timeline lock; hold no run-stage lock
 * @param f Fence.
 */
static inline void vmm_fence_wait(struct vmm_fence *f)
{
	struct vmm_fence_timeline *tl = f->tl;

	fa_signalling_fence_wait();
	if (vmm_fence_is_signalled(f))
		return;
	vmm_fence__lock_stat(&tl->lock, &tl->lock_dep, &tl->lock_stat);
	if (!f->signalled)
		tl->waits++;
	while (!f->signalled) {
		vmm_lock_stat__cond_wait(&f->cond, &tl->lock, &tl->lock_stat);
		tl->wakeups++;
	}
	vmm_fence__unlock_stat(&tl->lock, &tl->lock_dep, &tl->lock_stat);
}

/**
 * Like vmm_fence_wait(), but give up after @p ms milliseconds.
 * @stage submit or cleanup (sleeps)
 * @locking takes the timeline lock; hold no run-stage lock
 * @param f Fence.
 * @param ms Timeout in milliseconds.
 * @return 0 once signalled; -FA_EAGAIN on timeout.
 */
static inline int vmm_fence_wait_timeout(struct vmm_fence *f, unsigned int ms)
{
	struct vmm_fence_timeline *tl = f->tl;
	struct timespec ts;
	int rc = 0;

	fa_signalling_fence_wait();
	if (vmm_fence_is_signalled(f))
		return 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(ms / 1000u);
	ts.tv_nsec += (long)(ms % 1000u) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	vmm_fence__lock_stat(&tl->lock, &tl->lock_dep, &tl->lock_stat);
	if (tl->lock_stat.on)
		tl->lock_stat.hold_ns += vmm_lock_stat__now() - tl->lock_stat.t_held;
	while (!f->signalled && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&f->cond, &tl->lock, &ts);
	if (tl->lock_stat.on)
		tl->lock_stat.t_held = vmm_lock_stat__now();
	rc = f->signalled ? 0 : -FA_EAGAIN;
	vmm_fence__unlock_stat(&tl->lock, &tl->lock_dep, &tl->lock_stat);
	return rc;
}

#ifdef __cplusplus
}
#endif

#endif /* VMM_FENCE_H */
