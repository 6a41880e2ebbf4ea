/* SPDX-License-Identifier: MIT */
/**
 * @file signalling.h
 * @brief Signalling validator: lockdep-style checks for fence-signalling deadlocks.
 *
 * Once a job's DMA fence is visible, the code that will signal it runs in a
 * *fence-signalling section*. Anything that code waits on must never itself
 * wait on that fence: locks held elsewhere around fence waits, memory reclaim
 * (shrinkers wait on fences), MMU notifiers (they wait on fences too). All of
 * the known deadlocks are one rule: the resources a signalling section waits on
 * must form a partial order together with fence waits and reclaim. This header
 * records that order as a *class dependency graph* while the code runs and
 * reports a *possible* deadlock as soon as an ordering closes a cycle, even if
 * the two halves ran at different times on different threads and nothing ever
 * hung.
 *
 * The graph has three built-in pseudo-classes, as in the kernel:
 * - `fence_signalling`: held from fa_signalling_begin() to fa_signalling_end();
 *   fa_signalling_fence_wait() acquires and releases it (dma_fence_map);
 * - `fs_reclaim`: held by reclaim (fa_signalling_reclaim_enter(): shrinkers);
 *   a `__GFP_FS` allocation acquires and releases it;
 * - `mmu_notifier`: held by invalidation callbacks
 *   (fa_signalling_mmu_notifier_enter()); every allocation that may reclaim
 *   (even NOFS/NOIO) acquires and releases it;
 * and a fourth one for page faults, `mmap_lock`, held by
 * fa_signalling_fault_enter() and touched by fa_signalling_might_fault().
 * The kernel's standing contract, *mmap_lock → fs_reclaim → mmu_notifier →
 * fence_signalling* (what `dma_resv_lockdep()` primes at boot), is recorded at
 * start-up and after every reset, so one run of a driver path suffices.
 *
 * The five classic deadlocks (`A -> B`: B taken/waited on while A is held):
 *
 * | # | what happens                                             | edges the validator sees                 | reported as |
 * |---|----------------------------------------------------------|------------------------------------------|-------------|
 * | 1 | section → GFP_KERNEL alloc → shrinker → fence wait       | fence → fs_reclaim (+ primed contract)    | direct rule "reclaiming allocation inside signalling section" + cycle |
 * | 2 | CPU0: section → alloc; CPU1: shrinker → fence wait       | fence → fs_reclaim; fs_reclaim → fence    | cycle, whichever order runs first |
 * | 3 | CPU0: section → lock B; CPU1: lock B → fence wait        | fence → B; B → fence                      | cycle fence → B → fence |
 * | 4 | CPU0: section → lock B; CPU1: lock B → GFP_KERNEL alloc  | fence → B; B → fs_reclaim (+ contract)    | cycle through fs_reclaim and mmu_notifier |
 * | 5 | section → B; B → C; C → alloc                            | fence → B → C → fs_reclaim (+ contract)   | cycle naming every class |
 *
 * A report of a cycle prints the whole chain, each edge with the thread and the
 * file:line where it was first seen, in the shape of lockdep's "possible
 * circular locking dependency detected". Direct rules give clearer messages
 * for the common mistakes: a reclaiming allocation or a fence wait inside a
 * signalling section, recursive locking of one class, an unbalanced release or
 * end, locks still held at thread exit or at fa_signalling_assert_none_held().
 *
 * **Zero cost when off.** Unless `FA_VALIDATE` is defined, every annotation
 * compiles to nothing (no code, no data, no symbol reference; tests check the
 * object code), FA_SIGNALLING_MAP_MEMBER() adds no bytes, and the class
 * definitions reserve no storage. In kernel builds (`__KERNEL__`) the
 * annotations always compile to nothing, even with `FA_VALIDATE`: the kernel
 * already has lockdep, and the driver's real `dma_fence_begin_signalling()`,
 * `might_alloc()` and mutexes are annotated there.
 *
 * **Enabling it (userspace).** Define `FA_VALIDATE` in every translation unit
 * (e.g. `-DFA_VALIDATE`), and in exactly ONE of them also define
 * `FA_SIGNALLING_IMPLEMENTATION` before including this header: that unit holds
 * the validator's single copy of its state (class table, dependency graph,
 * edge history) and its functions, which use libc and pthreads (it is a
 * debugging tool). Limits are set in that unit: #FA_SIGNALLING_MAX_CLASSES,
 * #FA_SIGNALLING_MAX_EDGES, #FA_SIGNALLING_MAX_HELD, #FA_SIGNALLING_MAX_REPORTS.
 * All storage is static; a full table reports once and switches the validator
 * off cleanly. Each thread keeps its held stack in thread-local storage; an
 * acquisition whose dependencies are all known costs a few relaxed loads and no
 * lock; a new dependency takes the validator's lock and searches the graph.
 * The validator keeps running after a report and reports each distinct cycle
 * (and each direct-rule violation site) once.
 *
 * @code
 * FA_SIGNALLING_DEFINE_STATIC_CLASS(vm_map_lock_class);
 * struct vm { pthread_mutex_t map_lock; FA_SIGNALLING_MAP_MEMBER(map_dep) };
 *
 * fa_signalling_map_init(&vm->map_dep, &vm_map_lock_class);      // once
 *
 * // run stage: the job's fence is public
 * fa_signalling_cookie_t c = fa_signalling_begin();
 * pthread_mutex_lock(&vm->map_lock);
 * fa_signalling_acquire(&vm->map_dep);
 * pte = fa_reserve_take(&job->pts);          // never allocates
 * fa_signalling_release(&vm->map_dep);
 * pthread_mutex_unlock(&vm->map_lock);
 * fa_signalling_end(c);
 * @endcode
 */
#ifndef FA_SIGNALLING_H
#define FA_SIGNALLING_H

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @cond INTERNAL */
#if defined(FA_VALIDATE) && !defined(__KERNEL__)
#define FA__SIGNALLING_ON 1
#else
#define FA__SIGNALLING_ON 0
#endif
/** @endcond */

/** Number of subclasses a class can be acquired under (fa_signalling_acquire_nested()). */
#define FA_SIGNALLING_MAX_SUBCLASSES 8

/**
 * A lock class: every lock (or lock-like resource) playing the same role
 * shares one class, and the validator orders classes, not instances, so an
 * inversion between two different VMs' locks is still caught. Define classes
 * with FA_SIGNALLING_DEFINE_CLASS() or FA_SIGNALLING_DEFINE_STATIC_CLASS();
 * the object's address is its identity.
 */
struct fa_signalling_class {
	const char *name; /**< Name printed in reports. */
	/** Per-subclass graph node, assigned lazily by the validator (generation-tagged). */
	uint32_t node[FA_SIGNALLING_MAX_SUBCLASSES];
};

/**
 * A lock map: the annotation handle of one lock instance, bound to its class
 * with fa_signalling_map_init(). Embed it with FA_SIGNALLING_MAP_MEMBER() so
 * it costs nothing when the validator is off.
 */
struct fa_signalling_map {
	struct fa_signalling_class *cls; /**< Class of this lock. */
};

/**
 * Cookie returned by fa_signalling_begin(), handed back to fa_signalling_end().
 * It records the section nesting depth so an end out of order is reported.
 */
typedef unsigned int fa_signalling_cookie_t;

/** Kind of a validator report (struct fa_signalling_report::kind). */
enum fa_signalling_report_kind {
	/** A new dependency closes a cycle: possible circular locking dependency. */
	FA_SIGNALLING_REPORT_CYCLE = 1,
	/** An allocation that may reclaim inside a fence-signalling section. */
	FA_SIGNALLING_REPORT_ALLOC_IN_SECTION,
	/** A fence wait inside the thread's own fence-signalling section. */
	FA_SIGNALLING_REPORT_WAIT_IN_SECTION,
	/** A class acquired again while already held (not nested, not shared). */
	FA_SIGNALLING_REPORT_RECURSION,
	/** A release of something not held, or an end that does not match its begin. */
	FA_SIGNALLING_REPORT_UNBALANCED,
	/** Locks or sections still held at thread exit or at an explicit check. */
	FA_SIGNALLING_REPORT_HELD,
	/** A lock asserted held (fa_signalling_assert_held()) is not held. */
	FA_SIGNALLING_REPORT_NOT_HELD,
	/** A fixed table is full; the validator has switched itself off. */
	FA_SIGNALLING_REPORT_TABLE_FULL,
};

/** One report, as handed to the report callback. */
struct fa_signalling_report {
	enum fa_signalling_report_kind kind; /**< What was detected. */
	unsigned int thread;                 /**< Validator thread number (T1, T2...) that triggered it. */
	const char *text;                    /**< Full multi-line report text (valid during the callback). */
};

/**
 * Report callback. Called with the validator's lock held: it must not call
 * annotations itself. The default prints @p report->text to stderr.
 * @param report The report (only valid during the call).
 * @param arg The pointer given to fa_signalling_set_report_fn().
 */
typedef void (*fa_signalling_report_fn)(const struct fa_signalling_report *report, void *arg);

/** @name Classes and lock maps
 * @{ */
#if !FA__SIGNALLING_ON
/**
 * Define a lock class @p name with external linkage (declare it elsewhere with
 * FA_SIGNALLING_DECLARE_CLASS()). Reserves no storage when the validator is off.
 * @param name Identifier of the class object; also its printed name.
 */
#define FA_SIGNALLING_DEFINE_CLASS(name) extern int fa__signalling_off_class_##name
/**
 * Define a lock class @p name local to this translation unit.
 * @param name Identifier of the class object; also its printed name.
 */
#define FA_SIGNALLING_DEFINE_STATIC_CLASS(name) extern int fa__signalling_off_class_##name
/**
 * Declare a class defined with FA_SIGNALLING_DEFINE_CLASS() in another unit.
 * @param name Identifier of the class object.
 */
#define FA_SIGNALLING_DECLARE_CLASS(name) extern int fa__signalling_off_class_##name
/**
 * Define a lock map @p name (for a global lock), bound to class @p cls, local
 * to this translation unit.
 * @param name Identifier of the map object.
 * @param cls Class object (not a pointer) defined earlier.
 */
#define FA_SIGNALLING_DEFINE_STATIC_MAP(name, cls) extern int fa__signalling_off_map_##name
/**
 * Declare a lock-map member inside a structure, without a trailing semicolon.
 * Expands to nothing when the validator is off, so it adds no bytes.
 * @param member Name of the member.
 */
#define FA_SIGNALLING_MAP_MEMBER(member)
#else
/** @cond INTERNAL */
#define FA_SIGNALLING_DEFINE_CLASS(name) struct fa_signalling_class name = { #name, { 0 } }
#define FA_SIGNALLING_DEFINE_STATIC_CLASS(name) \
	static struct fa_signalling_class name = { #name, { 0 } }
#define FA_SIGNALLING_DECLARE_CLASS(name) extern struct fa_signalling_class name
#define FA_SIGNALLING_DEFINE_STATIC_MAP(name, cls) \
	static struct fa_signalling_map name = { &(cls) }
#define FA_SIGNALLING_MAP_MEMBER(member) struct fa_signalling_map member;
/** @endcond */
#endif

/**
 * Bind a lock map to its class (before its first acquisition).
 * @stage any
 * @locking none
 * @param map Lock map (`&obj->member`); not evaluated when off.
 * @param cls Class (`&my_class`); not evaluated when off.
 */
#define fa_signalling_map_init(map, cls) FA__SIGNALLING_MAP_INIT(map, cls)
/** @} */

/** @name Lock annotations
 * Call right after taking (or right before releasing) the real lock, so the
 * annotation describes what the thread actually holds. Arguments are not
 * evaluated when the validator is off.
 * @{ */
/**
 * The lock of @p map was acquired exclusively (mutex, spinlock, write side).
 * @stage any
 * @locking the annotated lock, just taken
 * @param map Lock map.
 */
#define fa_signalling_acquire(map) FA__SIGNALLING_LOCK(map, 0u, FA__SIGNALLING_EXCL)
/**
 * The lock of @p map was acquired shared (read side of an rwlock/rwsem).
 * Readers are ordered like writers (may over-report, never under-report);
 * a second shared acquisition of a held class is allowed.
 * @stage any
 * @locking the annotated lock, just taken
 * @param map Lock map.
 */
#define fa_signalling_acquire_shared(map) FA__SIGNALLING_LOCK(map, 0u, FA__SIGNALLING_SHARED)
/**
 * A trylock of @p map SUCCEEDED (do not annotate a failed one). A trylock
 * cannot block, so it adds no dependency into its class; what is taken while
 * it is held still depends on it.
 * @stage any
 * @locking the annotated lock, just taken
 * @param map Lock map.
 */
#define fa_signalling_trylock(map) FA__SIGNALLING_LOCK(map, 0u, FA__SIGNALLING_TRY)
/**
 * The lock of @p map was acquired as subclass @p sub of its class (like
 * `mutex_lock_nested()`): e.g. parent and child page-table locks, taken in a
 * fixed order. Each subclass is a separate node of the graph.
 * @stage any
 * @locking the annotated lock, just taken
 * @param map Lock map.
 * @param sub Subclass, 0 .. #FA_SIGNALLING_MAX_SUBCLASSES - 1.
 */
#define fa_signalling_acquire_nested(map, sub) FA__SIGNALLING_LOCK(map, sub, FA__SIGNALLING_EXCL)
/**
 * The lock of @p map is about to be released (the most recent acquisition of
 * that map by this thread is dropped; out-of-order release is fine).
 * Releasing a map this thread does not hold is reported.
 * @stage any
 * @locking the annotated lock, still held
 * @param map Lock map.
 */
#define fa_signalling_release(map) FA__SIGNALLING_UNLOCK(map)
/**
 * This thread may block on the lock of @p map here (acquire + release, like
 * the kernel's `might_lock()`): use it for waits on an event that a holder of
 * @p map completes.
 * @stage any
 * @locking none required
 * @param map Lock map.
 */
#define fa_signalling_might_lock(map) FA__SIGNALLING_LOCK(map, 0u, FA__SIGNALLING_CHECK)
/**
 * Report (FA_SIGNALLING_REPORT_NOT_HELD) unless this thread holds @p map.
 * @stage any
 * @locking the lock of @p map must be held
 * @param map Lock map.
 */
#define fa_signalling_assert_held(map) FA__SIGNALLING_ASSERT_HELD(map)
/** @} */

/** @name Fence signalling
 * @{ */
/**
 * Enter a fence-signalling section (like `dma_fence_begin_signalling()`):
 * from here until fa_signalling_end() the thread must not wait for anything
 * that may wait on a fence. Nestable. Entry is modelled as a successful
 * read-trylock, so locks held around the section gain no dependency on it.
 * @stage run
 * @locking none
 * @return A cookie to pass to fa_signalling_end() (0 when off).
 */
#define fa_signalling_begin() FA__SIGNALLING_BEGIN()
/**
 * Leave the section entered by the fa_signalling_begin() that returned
 * @p cookie. Ends out of order are reported.
 * @stage run
 * @locking none
 * @param cookie Value returned by the matching fa_signalling_begin().
 */
#define fa_signalling_end(cookie) FA__SIGNALLING_END(cookie)
/**
 * This thread is about to wait for a fence to signal (like
 * `dma_fence_wait()`). Every lock held here becomes ordered before
 * fence_signalling; waiting inside the thread's own section is reported.
 * @stage submit or cleanup (never run)
 * @locking any (that is what is checked)
 */
#define fa_signalling_fence_wait() FA__SIGNALLING_FENCE_WAIT()
/** @} */

/** @name Allocation, reclaim, notifiers, faults
 * @{ */
/**
 * This thread may allocate with context @p gfp (like the kernel's
 * `might_alloc()`; call it on EVERY allocation, not only when memory is short).
 * With #FA_GFP_DIRECT_RECLAIM the allocation is ordered before `mmu_notifier`,
 * with #FA_GFP_FS also before `fs_reclaim`; #FA_GFP_NOWAIT records nothing.
 * Inside reclaim context (fa_signalling_reclaim_enter()) it records nothing,
 * as a PF_MEMALLOC task does not recurse into reclaim.
 * @stage any (that is what is checked)
 * @locking any
 * @param gfp Allocation context, #fa_gfp_t (evaluated once, even when off).
 */
#define fa_signalling_might_alloc(gfp) FA__SIGNALLING_MIGHT_ALLOC(gfp)
/**
 * Enter reclaim context: what a shrinker, or direct reclaim, runs under
 * (holds `fs_reclaim`). Locks taken here are ordered after fs_reclaim.
 * @stage any
 * @locking none
 */
#define fa_signalling_reclaim_enter() FA__SIGNALLING_CTX(FA__SIGNALLING_NODE_RECLAIM, 1)
/**
 * Leave reclaim context.
 * @stage any
 * @locking none
 */
#define fa_signalling_reclaim_leave() FA__SIGNALLING_CTX(FA__SIGNALLING_NODE_RECLAIM, 0)
/**
 * Enter MMU-notifier context: what an `invalidate_range_start` callback runs
 * under (holds `mmu_notifier`).
 * @stage any
 * @locking none
 */
#define fa_signalling_mmu_notifier_enter() FA__SIGNALLING_CTX(FA__SIGNALLING_NODE_NOTIFIER, 1)
/**
 * Leave MMU-notifier context.
 * @stage any
 * @locking none
 */
#define fa_signalling_mmu_notifier_leave() FA__SIGNALLING_CTX(FA__SIGNALLING_NODE_NOTIFIER, 0)
/**
 * Enter the CPU page-fault handler (holds `mmap_lock`, shared): locks the
 * fault path takes become ordered after mmap_lock.
 * @stage any
 * @locking none
 */
#define fa_signalling_fault_enter() FA__SIGNALLING_CTX(FA__SIGNALLING_NODE_MMAP, 1)
/**
 * Leave the CPU page-fault handler.
 * @stage any
 * @locking none
 */
#define fa_signalling_fault_leave() FA__SIGNALLING_CTX(FA__SIGNALLING_NODE_MMAP, 0)
/**
 * This thread may take a page fault here (a `copy_from_user()`; like the
 * kernel's `might_fault()`): every held lock is ordered before mmap_lock.
 * @stage any
 * @locking any (that is what is checked)
 */
#define fa_signalling_might_fault() FA__SIGNALLING_MIGHT_FAULT()
/** @} */

/** @name Priming
 * Record orderings that are true even if this run never exercises them
 * (rare paths such as shrinkers under memory pressure).
 * @{ */
/**
 * Record the kernel's contract mmap_lock → fs_reclaim → mmu_notifier →
 * fence_signalling (what `dma_resv_lockdep()` does at boot). Done automatically
 * at start-up and by fa_signalling_reset(); needed only after
 * fa_signalling_reset_unprimed().
 * @stage any
 * @locking none
 */
#define fa_signalling_prime() FA__SIGNALLING_PRIME()
/**
 * Record that the lock of @p map is taken inside reclaim (a shrinker takes it),
 * like i915 tainting its shrinker mutex: fs_reclaim → class of @p map. Only
 * ever prime "X is taken inside reclaim", never the reverse.
 * @stage any
 * @locking none (must not be held)
 * @param map Lock map.
 */
#define fa_signalling_prime_taken_in_reclaim(map) \
	FA__SIGNALLING_PRIME_IN(FA__SIGNALLING_NODE_RECLAIM, map)
/**
 * Record that the lock of @p map is taken inside an MMU-notifier callback:
 * mmu_notifier → class of @p map.
 * @stage any
 * @locking none (must not be held)
 * @param map Lock map.
 */
#define fa_signalling_prime_taken_in_mmu_notifier(map) \
	FA__SIGNALLING_PRIME_IN(FA__SIGNALLING_NODE_NOTIFIER, map)
/** @} */

/** @name Reports and test support
 * @{ */
/**
 * Route reports to @p fn (NULL restores the default: print to stderr).
 * @stage any
 * @locking none
 * @param fn Callback, #fa_signalling_report_fn, or NULL.
 * @param arg Passed to @p fn.
 */
#define fa_signalling_set_report_fn(fn, arg) FA__SIGNALLING_SET_REPORT_FN(fn, arg)
/**
 * Number of reports made since start-up or the last reset.
 * @stage any
 * @locking none
 * @return An unsigned long (0 when off).
 */
#define fa_signalling_report_count() FA__SIGNALLING_REPORT_COUNT()
/**
 * Report (FA_SIGNALLING_REPORT_HELD) if this thread still holds any lock or is
 * inside a signalling or context section. Call at the end of a test or of a
 * worker's loop iteration; the same check runs automatically at thread exit.
 * @stage any
 * @locking none must be held
 */
#define fa_signalling_assert_none_held() FA__SIGNALLING_ASSERT_NONE_HELD()
/**
 * Forget every class, dependency, report and the calling thread's held stack,
 * re-enable a validator switched off by a full table, then prime the kernel
 * contract. Other threads must not be inside annotations. For tests.
 * @stage any
 * @locking none
 */
#define fa_signalling_reset() FA__SIGNALLING_RESET(1)
/**
 * Like fa_signalling_reset() but without priming: only orderings actually
 * seen count (for tests that exercise the shrinker/notifier paths themselves).
 * @stage any
 * @locking none
 */
#define fa_signalling_reset_unprimed() FA__SIGNALLING_RESET(0)
/** @} */

/** @cond INTERNAL */
#define FA__SIGNALLING_NODE_FENCE 1u
#define FA__SIGNALLING_NODE_RECLAIM 2u
#define FA__SIGNALLING_NODE_NOTIFIER 3u
#define FA__SIGNALLING_NODE_MMAP 4u
#define FA__SIGNALLING_EXCL 0u
#define FA__SIGNALLING_SHARED 1u
#define FA__SIGNALLING_TRY 2u
#define FA__SIGNALLING_CHECK 4u

#if FA__SIGNALLING_ON
void fa__signalling_lock(struct fa_signalling_map *map, unsigned int sub, unsigned int how,
			 const char *file, int line);
void fa__signalling_unlock(struct fa_signalling_map *map, const char *file, int line);
void fa__signalling_assert_held(struct fa_signalling_map *map, const char *file, int line);
fa_signalling_cookie_t fa__signalling_begin(const char *file, int line);
void fa__signalling_end(fa_signalling_cookie_t cookie, const char *file, int line);
void fa__signalling_fence_wait(const char *file, int line);
void fa__signalling_might_alloc(fa_gfp_t gfp, const char *file, int line);
void fa__signalling_might_fault(const char *file, int line);
void fa__signalling_ctx(unsigned int node, int enter, const char *file, int line);
void fa__signalling_prime(void);
void fa__signalling_prime_in(unsigned int node, struct fa_signalling_map *map,
			     const char *file, int line);
void fa__signalling_set_report_fn(fa_signalling_report_fn fn, void *arg);
unsigned long fa__signalling_report_count(void);
void fa__signalling_assert_none_held(const char *file, int line);
void fa__signalling_reset(int prime);

#define FA__SIGNALLING_MAP_INIT(map, c) ((void)((map)->cls = (c)))
#define FA__SIGNALLING_LOCK(map, sub, how) fa__signalling_lock(map, sub, how, __FILE__, __LINE__)
#define FA__SIGNALLING_UNLOCK(map) fa__signalling_unlock(map, __FILE__, __LINE__)
#define FA__SIGNALLING_ASSERT_HELD(map) fa__signalling_assert_held(map, __FILE__, __LINE__)
#define FA__SIGNALLING_BEGIN() fa__signalling_begin(__FILE__, __LINE__)
#define FA__SIGNALLING_END(cookie) fa__signalling_end(cookie, __FILE__, __LINE__)
#define FA__SIGNALLING_FENCE_WAIT() fa__signalling_fence_wait(__FILE__, __LINE__)
#define FA__SIGNALLING_MIGHT_ALLOC(gfp) fa__signalling_might_alloc(gfp, __FILE__, __LINE__)
#define FA__SIGNALLING_MIGHT_FAULT() fa__signalling_might_fault(__FILE__, __LINE__)
#define FA__SIGNALLING_CTX(node, enter) fa__signalling_ctx(node, enter, __FILE__, __LINE__)
#define FA__SIGNALLING_PRIME() fa__signalling_prime()
#define FA__SIGNALLING_PRIME_IN(node, map) fa__signalling_prime_in(node, map, __FILE__, __LINE__)
#define FA__SIGNALLING_SET_REPORT_FN(fn, arg) fa__signalling_set_report_fn(fn, arg)
#define FA__SIGNALLING_REPORT_COUNT() fa__signalling_report_count()
#define FA__SIGNALLING_ASSERT_NONE_HELD() fa__signalling_assert_none_held(__FILE__, __LINE__)
#define FA__SIGNALLING_RESET(prime) fa__signalling_reset(prime)
#else
#define FA__SIGNALLING_MAP_INIT(map, c) ((void)0)
#define FA__SIGNALLING_LOCK(map, sub, how) ((void)0)
#define FA__SIGNALLING_UNLOCK(map) ((void)0)
#define FA__SIGNALLING_ASSERT_HELD(map) ((void)0)
#define FA__SIGNALLING_BEGIN() ((fa_signalling_cookie_t)0)
#define FA__SIGNALLING_END(cookie) ((void)(cookie))
#define FA__SIGNALLING_FENCE_WAIT() ((void)0)
#define FA__SIGNALLING_MIGHT_ALLOC(gfp) ((void)(gfp))
#define FA__SIGNALLING_MIGHT_FAULT() ((void)0)
#define FA__SIGNALLING_CTX(node, enter) ((void)0)
#define FA__SIGNALLING_PRIME() ((void)0)
#define FA__SIGNALLING_PRIME_IN(node, map) ((void)0)
#define FA__SIGNALLING_SET_REPORT_FN(fn, arg) ((void)(fn), (void)(arg))
#define FA__SIGNALLING_REPORT_COUNT() (0UL)
#define FA__SIGNALLING_ASSERT_NONE_HELD() ((void)0)
#define FA__SIGNALLING_RESET(prime) ((void)0)
#endif
/** @endcond */

#ifdef __cplusplus
}
#endif

#endif /* FA_SIGNALLING_H */
