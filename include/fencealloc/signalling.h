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
 * | - | section → GFP_NOFS alloc (no fs_reclaim)                 | fence → mmu_notifier (+ contract)         | direct rule + cycle through mmu_notifier |
 * | - | lock R; copy_from_user / fault handler → lock R          | R → mmap_lock; mmap_lock → R              | cycle R → mmap_lock → R (lock order inversion) |
 *
 * What is NOT reported: a lock held around a section (entry is a read-trylock),
 * a trylock under another lock, an #FA_GFP_NOWAIT allocation anywhere, and
 * locks taken only outside sections and never across waits or reclaiming
 * allocations. docs/annotating.md is the step-by-step guide.
 *
 * The rules are lockdep's, so a run under the validator and a run under
 * lockdep agree: a new lock depends on the nearest held lock that is not a
 * trylock; dependencies are typed by reader kind (shared or exclusive holder,
 * recursive reader or not) and only a *strong* cycle is reported; a class
 * serialised by a nest lock gains no dependency. The kernel's locking
 * self-test families are checked against lockdep's verdicts in
 * tests/unit/test_signalling_lockdep.c; the two deliberate differences are
 * listed in docs/annotating.md.
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
 * validator is never compiled, even with `FA_VALIDATE`: the kernel has
 * lockdep, and with `CONFIG_LOCKDEP` the annotations become the kernel's own
 * (compiled to nothing without it): fa_signalling_begin() / fa_signalling_end()
 * are `dma_fence_begin_signalling()` / `dma_fence_end_signalling()`,
 * fa_signalling_fence_wait() annotates `dma_fence_map` as `dma_fence_wait()`
 * does, fa_signalling_reclaim_enter() holds `fs_reclaim` as a shrinker does,
 * and fa_signalling_assert_external_held() is lockdep's `lock_is_held()`. Lock
 * maps stay empty there (a kernel mutex is its own lockdep map; assert it with
 * `lockdep_assert_held()` or the external-lock hook). fa_signalling_might_alloc()
 * becomes the kernel's own `might_alloc()` with the matching `gfp_t` in every
 * kernel build: a reservation filled from a warm cache allocates nothing that
 * lockdep could see, yet the same call may reach the page allocator next time,
 * so fencealloc announces it the way `kmalloc()` does. docs/kernel.md shows
 * lockdep catching each classic deadlock through these annotations.
 *
 * **Enabling it (userspace).** Define `FA_VALIDATE` in every translation unit
 * (e.g. `-DFA_VALIDATE`), and in exactly ONE of them also define
 * `FA_SIGNALLING_IMPLEMENTATION` before including this header: that unit holds
 * the validator's single copy of its state (class table, dependency graph,
 * edge history) and its functions, which use libc and pthreads (it is a
 * debugging tool). Defining `FA_SIGNALLING_STATIC` there too makes that copy
 * private to the unit, for a test program that links several units each with
 * its own validator (each must then annotate only through its own copy).
 * Limits are set in that unit: `FA_SIGNALLING_MAX_CLASSES`,
 * `FA_SIGNALLING_MAX_EDGES`, `FA_SIGNALLING_MAX_HELD`, `FA_SIGNALLING_MAX_REPORTS`.
 * All storage is static; a full table reports once and switches the validator
 * off cleanly. Each thread keeps its held stack in thread-local storage; an
 * acquisition whose dependencies are all known costs a few relaxed loads and no
 * lock; a new dependency takes the validator's lock and searches the graph.
 * The validator keeps running after a report and reports each distinct cycle
 * (and each direct-rule violation site) once.
 *
 * @code
 * #include <fencealloc/reserve.h>
 *
 * FA_SIGNALLING_DEFINE_STATIC_CLASS(vm_map_lock_class);
 * struct vm { pthread_mutex_t map_lock; FA_SIGNALLING_MAP_MEMBER(map_dep) };
 *
 * void vm_init(struct vm *vm)
 * {
 *         pthread_mutex_init(&vm->map_lock, NULL);
 *         fa_signalling_map_init(&vm->map_dep, &vm_map_lock_class);     // once
 * }
 *
 * // run stage: the job's fence is public
 * void *vm_run_take(struct vm *vm, struct fa_reserve *pts)
 * {
 *         fa_signalling_cookie_t c = fa_signalling_begin();
 *         void *pte;
 *
 *         pthread_mutex_lock(&vm->map_lock);
 *         fa_signalling_acquire(&vm->map_dep);
 *         pte = fa_reserve_take(pts);               // never allocates
 *         fa_signalling_release(&vm->map_dep);
 *         pthread_mutex_unlock(&vm->map_lock);
 *         fa_signalling_end(c);
 *         return pte;
 * }
 * @endcode
 */
#ifndef FA_SIGNALLING_H
#define FA_SIGNALLING_H

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @cond INTERNAL */
#if defined(__KERNEL__)
#include <linux/gfp.h>
#include <linux/sched/mm.h>
/* The kernel gfp_t that makes the same promises as @p g: what lockdep's
 * might_alloc() needs to order the allocation against fs_reclaim and the
 * MMU-notifier map. */
static inline gfp_t fa__signalling_kernel_gfp(fa_gfp_t g)
{
	if (!(g & FA_GFP_DIRECT_RECLAIM))
		return GFP_NOWAIT;
	if (g & FA_GFP_FS)
		return GFP_KERNEL;
	if (g & FA_GFP_IO)
		return GFP_NOFS;
	return GFP_NOIO;
}
#endif

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
	unsigned int thread;                 /**< Validator thread number (T1, T2...) of the culprit. */
	const char *text;                    /**< Full multi-line text (valid during the callback). */
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
 * Bind a lock map to its class (before its first acquisition). Binding a map
 * this thread holds is reported (FA_SIGNALLING_REPORT_HELD, like lockdep's
 * "held lock freed") and leaves the map bound to its old class, so the held
 * stack stays consistent; only the calling thread's held stack is checked.
 * @stage any
 * @locking the lock of @p map must not be held
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
 * The lock of @p map was acquired shared by a *non-recursive* reader: the
 * read side of an rwsem (`down_read()`) or of a fair rwlock, where a reader
 * queues behind a waiting writer. Modelled as lockdep does since its
 * read-lock rework (read = 1): taking the same class again while holding it
 * is recursion (a waiting writer in between deadlocks both), and the reader
 * is ordered like a writer against what it waits for. Dependencies out of a
 * held reader are "shared" ones (see docs/annotating.md, "Readers").
 * @stage any
 * @locking the annotated lock, just taken
 * @param map Lock map.
 */
#define fa_signalling_acquire_shared(map) FA__SIGNALLING_LOCK(map, 0u, FA__SIGNALLING_SHARED)
/**
 * The lock of @p map was acquired shared by a *recursive* reader: the read
 * side of a lock whose readers never wait for readers, even with a writer
 * queued (`read_lock()` on a kernel `rwlock_t` in interrupt context, RCU-like
 * read sides; lockdep's read = 2). A recursive reader may take its class again
 * while any reader of it is held, and a dependency cycle only counts if it is
 * a *strong* path: never a dependency that ends in a recursive reader followed
 * by one that starts from a held reader.
 * @stage any
 * @locking the annotated lock, just taken
 * @param map Lock map.
 */
#define fa_signalling_acquire_shared_recursive(map) \
	FA__SIGNALLING_LOCK(map, 0u, FA__SIGNALLING_SHARED | FA__SIGNALLING_RECURSIVE)
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
 * The lock of @p map was acquired as one of several locks of its class held
 * together under @p nest, which must be held: a `ww_mutex` under its acquire
 * context (the context's own map), or locks taken in address order under an
 * outer lock (like `mutex_lock_nest_lock()`). As in lockdep, a lock of a class
 * already held (after @p nest) is not recursion and adds no dependency: the
 * nest lock serialises the class. Consecutive such locks share one held-stack
 * entry, so a context may hold any number of them. The first lock of the
 * class is ordered against every other class as usual. A @p nest that is not
 * held is reported (FA_SIGNALLING_REPORT_NOT_HELD).
 * @stage any
 * @locking the annotated lock, just taken; @p nest held
 * @param map Lock map.
 * @param nest Lock map of the acquire context or outer lock.
 */
#define fa_signalling_acquire_nest_lock(map, nest) FA__SIGNALLING_LOCK_NEST(map, nest)
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

/** @name External lock of an object
 * An object whose lock belongs to the caller (the library takes no lock)
 * can still check that the caller holds it, like the maple tree's
 * `mt_set_external_lock()`: embed FA_SIGNALLING_EXTERNAL_LOCK_MEMBER() in the
 * object, tell it once which lock protects it, and assert where the
 * `@locking` contract says that lock is held. In the kernel with
 * `CONFIG_LOCKDEP` the member points at the lock's `dep_map` and the assertion
 * is lockdep's (`lock_is_held()`, a WARN when not held); in userspace with
 * `FA_VALIDATE` it points at the lock's #fa_signalling_map and the validator
 * reports FA_SIGNALLING_REPORT_NOT_HELD. Otherwise the member adds no bytes and
 * the macros compile to nothing (arguments not evaluated). An object whose
 * lock was never set asserts nothing.
 * @code
 * #include <fencealloc/buddy.h>
 *
 * FA_SIGNALLING_DEFINE_STATIC_CLASS(vram_lock_class);
 * struct vram {
 *         struct fa_buddy mm;
 *         pthread_mutex_t lock;                 // kernel: struct mutex
 *         FA_SIGNALLING_MAP_MEMBER(lock_dep)    // kernel: the mutex's own dep_map
 *         FA_SIGNALLING_EXTERNAL_LOCK_MEMBER(ext)
 * };
 *
 * void vram_init_lock(struct vram *v)
 * {
 *         pthread_mutex_init(&v->lock, NULL);
 *         fa_signalling_map_init(&v->lock_dep, &vram_lock_class);
 *         // kernel: fa_signalling_set_external_lock(&v->ext, &v->lock);
 *         fa_signalling_set_external_lock(&v->ext, &v->lock_dep);
 * }
 *
 * // @locking v->lock held
 * int vram_alloc(struct vram *v, uint64_t size, uint64_t *addr)
 * {
 *         fa_signalling_assert_external_held(&v->ext);
 *         return fa_buddy_alloc(&v->mm, size, 0, 0, addr);
 * }
 * @endcode
 * @{ */
/**
 * Declare the external-lock member inside a structure, without a trailing
 * semicolon; expands to nothing when neither lockdep nor the validator runs.
 * @param member Name of the member.
 */
#define FA_SIGNALLING_EXTERNAL_LOCK_MEMBER(member) FA__SIGNALLING_EXT_MEMBER(member)
/**
 * Record which lock protects an object.
 * @stage any (init time, before the object is shared)
 * @locking none
 * @param slot `&obj->member` (the FA_SIGNALLING_EXTERNAL_LOCK_MEMBER()).
 * @param lock Kernel: the lock itself (a mutex, spinlock_t, rw_semaphore, any
 *        lock with a `dep_map`). Userspace: the lock's #fa_signalling_map.
 */
#define fa_signalling_set_external_lock(slot, lock) FA__SIGNALLING_EXT_SET(slot, lock)
/**
 * Check that this thread holds the lock recorded for the object (nothing when
 * none was recorded). Use as a statement.
 * @stage any
 * @locking the object's external lock must be held
 * @param slot `&obj->member`.
 */
#define fa_signalling_assert_external_held(slot) FA__SIGNALLING_EXT_ASSERT(slot)
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
#define FA__SIGNALLING_NEST 8u
#define FA__SIGNALLING_RECURSIVE 16u

#if FA__SIGNALLING_ON
/* FA_SIGNALLING_STATIC: the validator private to its implementation unit. */
#if defined(FA_SIGNALLING_STATIC)
#define FA__SIGNALLING_API static __attribute__((unused))
#else
#define FA__SIGNALLING_API
#endif
FA__SIGNALLING_API void fa__signalling_map_init(struct fa_signalling_map *map, struct fa_signalling_class *cls,
			     const char *file, int line);
FA__SIGNALLING_API void fa__signalling_lock(struct fa_signalling_map *map, unsigned int sub, unsigned int how,
			 const char *file, int line);
FA__SIGNALLING_API void fa__signalling_unlock(struct fa_signalling_map *map, const char *file, int line);
FA__SIGNALLING_API void fa__signalling_lock_nest(struct fa_signalling_map *map, struct fa_signalling_map *nest,
			      const char *file, int line);
FA__SIGNALLING_API void fa__signalling_assert_held(struct fa_signalling_map *map, const char *file, int line);
FA__SIGNALLING_API fa_signalling_cookie_t fa__signalling_begin(const char *file, int line);
FA__SIGNALLING_API void fa__signalling_end(fa_signalling_cookie_t cookie, const char *file, int line);
FA__SIGNALLING_API void fa__signalling_fence_wait(const char *file, int line);
FA__SIGNALLING_API void fa__signalling_might_alloc(fa_gfp_t gfp, const char *file, int line);
FA__SIGNALLING_API void fa__signalling_might_fault(const char *file, int line);
FA__SIGNALLING_API void fa__signalling_ctx(unsigned int node, int enter, const char *file, int line);
FA__SIGNALLING_API void fa__signalling_prime(void);
FA__SIGNALLING_API void fa__signalling_prime_in(unsigned int node, struct fa_signalling_map *map,
			     const char *file, int line);
FA__SIGNALLING_API void fa__signalling_set_report_fn(fa_signalling_report_fn fn, void *arg);
FA__SIGNALLING_API unsigned long fa__signalling_report_count(void);
FA__SIGNALLING_API void fa__signalling_assert_none_held(const char *file, int line);
FA__SIGNALLING_API void fa__signalling_reset(int prime);

#define FA__SIGNALLING_MAP_INIT(map, c) fa__signalling_map_init(map, c, __FILE__, __LINE__)
#define FA__SIGNALLING_LOCK(map, sub, how) fa__signalling_lock(map, sub, how, __FILE__, __LINE__)
#define FA__SIGNALLING_UNLOCK(map) fa__signalling_unlock(map, __FILE__, __LINE__)
#define FA__SIGNALLING_LOCK_NEST(map, nest) fa__signalling_lock_nest(map, nest, __FILE__, __LINE__)
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
#define FA__SIGNALLING_EXT_MEMBER(member) struct fa_signalling_map *member;
#define FA__SIGNALLING_EXT_SET(slot, lock) ((void)(*(slot) = (lock)))
#define FA__SIGNALLING_EXT_ASSERT(slot) \
	((void)(*(slot) ? FA__SIGNALLING_ASSERT_HELD(*(slot)) : (void)0))
#else
/*
 * Off in userspace, and every kernel build: the kernel already has lockdep,
 * and the driver's real mutexes are annotated there. What lockdep cannot see
 * by itself is mapped onto the kernel's own annotations when CONFIG_LOCKDEP
 * is set (without it each is free): a signalling section is the driver's
 * dma_fence_begin_signalling(), a fence wait is a real dma_fence_wait() on the
 * already signalled stub fence (it annotates dma_fence_map exactly as every
 * wait does, and returns at once), reclaim context holds fs_reclaim as a
 * shrinker does, an object's external lock is checked with lock_is_held(),
 * and might_alloc() announces every allocation (with or without lockdep).
 * Lock maps stay empty: a kernel lock is its own lockdep map.
 */
#if defined(__KERNEL__) && defined(CONFIG_LOCKDEP)
#include <linux/lockdep.h>
#define FA__SIGNALLING_EXT_MEMBER(member) struct lockdep_map *member;
#define FA__SIGNALLING_EXT_SET(slot, lock) ((void)(*(slot) = &(lock)->dep_map))
#define FA__SIGNALLING_EXT_ASSERT(slot) lockdep_assert(!*(slot) || lock_is_held(*(slot)))
#define FA__SIGNALLING_CTX(node, enter) fa__signalling_kernel_ctx(node, enter)
/* A shrinker runs with fs_reclaim held; the other contexts stay unmapped. */
static inline void fa__signalling_kernel_ctx(unsigned int node, int enter)
{
	if (node != FA__SIGNALLING_NODE_RECLAIM)
		return;
	if (enter)
		fs_reclaim_acquire(GFP_KERNEL);
	else
		fs_reclaim_release(GFP_KERNEL);
}
#else
#define FA__SIGNALLING_EXT_MEMBER(member)
#define FA__SIGNALLING_EXT_SET(slot, lock) ((void)0)
#define FA__SIGNALLING_EXT_ASSERT(slot) ((void)0)
#define FA__SIGNALLING_CTX(node, enter) ((void)0)
#endif
#if defined(__KERNEL__) && defined(CONFIG_LOCKDEP)
#define FA__SIGNALLING_KERNEL_FENCE IS_REACHABLE(CONFIG_DMA_SHARED_BUFFER)
#else
#define FA__SIGNALLING_KERNEL_FENCE 0
#endif
#if FA__SIGNALLING_KERNEL_FENCE
#include <linux/dma-fence.h>
#define FA__SIGNALLING_BEGIN() ((fa_signalling_cookie_t)dma_fence_begin_signalling())
#define FA__SIGNALLING_END(cookie) dma_fence_end_signalling(!!(cookie))
#define FA__SIGNALLING_FENCE_WAIT() fa__signalling_kernel_fence_wait()
/* What dma_fence_wait() tells lockdep, through a wait that cannot block. */
static inline void fa__signalling_kernel_fence_wait(void)
{
	struct dma_fence *stub = dma_fence_get_stub();

	dma_fence_wait(stub, false);
	dma_fence_put(stub);
}
#else
#define FA__SIGNALLING_BEGIN() ((fa_signalling_cookie_t)0)
#define FA__SIGNALLING_END(cookie) ((void)(cookie))
#define FA__SIGNALLING_FENCE_WAIT() ((void)0)
#endif
#define FA__SIGNALLING_MAP_INIT(map, c) ((void)0)
#define FA__SIGNALLING_LOCK(map, sub, how) ((void)0)
#define FA__SIGNALLING_UNLOCK(map) ((void)0)
#define FA__SIGNALLING_LOCK_NEST(map, nest) ((void)0)
#define FA__SIGNALLING_ASSERT_HELD(map) ((void)0)
#if defined(__KERNEL__)
#define FA__SIGNALLING_MIGHT_ALLOC(gfp) might_alloc(fa__signalling_kernel_gfp(gfp))
#else
#define FA__SIGNALLING_MIGHT_ALLOC(gfp) ((void)(gfp))
#endif
#define FA__SIGNALLING_MIGHT_FAULT() ((void)0)
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

/*
 * The validator itself: compiled only in the one translation unit that
 * defines FA_SIGNALLING_IMPLEMENTATION (with FA_VALIDATE, in userspace).
 */
#if defined(FA_SIGNALLING_IMPLEMENTATION) && FA__SIGNALLING_ON && \
	!defined(FA__SIGNALLING_IMPLEMENTED)
#define FA__SIGNALLING_IMPLEMENTED
/** @cond INTERNAL */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef FA_SIGNALLING_MAX_CLASSES
/** Graph nodes (class/subclass pairs, 4 pseudo-classes included): a multiple of 64, <= 65536. */
#define FA_SIGNALLING_MAX_CLASSES 256
#endif
#ifndef FA_SIGNALLING_MAX_EDGES
/** Distinct dependencies remembered with their first file:line. */
#define FA_SIGNALLING_MAX_EDGES 4096
#endif
#ifndef FA_SIGNALLING_MAX_HELD
/** Locks, sections and contexts one thread may hold at once (lockdep: 48). */
#define FA_SIGNALLING_MAX_HELD 48
#endif
#ifndef FA_SIGNALLING_MAX_REPORTS
/** Distinct reports (cycles, rule-violation sites) remembered so each is made once. */
#define FA_SIGNALLING_MAX_REPORTS 1024
#endif
#ifndef FA_SIGNALLING_REPORT_BYTES
/** Size of the buffer a report's text is formatted into (longer text is cut). */
#define FA_SIGNALLING_REPORT_BYTES 8192
#endif

FA_STATIC_ASSERT(FA_SIGNALLING_MAX_CLASSES % 64 == 0 && FA_SIGNALLING_MAX_CLASSES <= 65536 &&
			 FA_SIGNALLING_MAX_CLASSES >= 64,
		 "FA_SIGNALLING_MAX_CLASSES must be a multiple of 64 in [64, 65536]");
FA_STATIC_ASSERT(FA_SIGNALLING_MAX_HELD >= 4 && FA_SIGNALLING_MAX_HELD < 65536,
		 "FA_SIGNALLING_MAX_HELD out of range");

#define FA__SIG_WORDS (FA_SIGNALLING_MAX_CLASSES / 32)
#define FA__SIG_FIRST_USER_NODE 5u
#define FA__SIG_COOKIE_MAGIC 0x5ec00000u
#define FA__SIG_NCTX 5

#if defined(__cplusplus)
#define FA__SIG_TLS thread_local
#else
#define FA__SIG_TLS _Thread_local
#endif

/*
 * Dependency types, as lockdep's since its read-lock rework: the held end is
 * Shared (any reader) or Exclusive, the new end Recursive reader or
 * Non-recursive (writer or non-recursive reader). Index = E + 2 * N.
 */
#define FA__SIG_DEP_SR 0u
#define FA__SIG_DEP_ER 1u
#define FA__SIG_DEP_SN 2u
#define FA__SIG_DEP_EN 3u
#define FA__SIG_NDEP 4u

/* A node of the graph: one (class, subclass) or a pseudo-class. */
struct fa__sig_node {
	const char *name;
	unsigned int sub;
	/*
	 * The class slot (&cls->node[sub]) this node was numbered for, so a
	 * stale generation tag can never make one class alias another (atomic).
	 */
	const uint32_t *owner;
};

/* First sighting of a dependency "to was taken while from was held". */
struct fa__sig_edge {
	uint32_t from, to;
	unsigned int thread;   /* 0: primed kernel contract */
	const char *from_file; /* where from was taken */
	int from_line;
	const char *to_file;   /* where to was taken (the edge's own site) */
	int to_line;
};

/* One entry of a thread's held stack. */
struct fa__sig_held {
	uint32_t node;
	unsigned int how;
	unsigned int refs;                   /* 0, or nest-lock acquisitions merged in (>= 2) */
	const struct fa_signalling_map *map; /* NULL for sections and contexts */
	const char *file;
	int line;
};

/* Per-thread state (thread-local storage). */
struct fa__sig_thread {
	struct fa__sig_held held[FA_SIGNALLING_MAX_HELD];
	unsigned int depth;
	unsigned int section_depth;
	unsigned int ctx_depth[FA__SIG_NCTX];
	unsigned int thread;      /* 0 until first use */
	unsigned int gen;         /* global generation this stack belongs to */
	int cycle_reported;       /* one cycle report per annotation call */
};

/* Global state: exactly one per program (this translation unit). */
struct fa__sig_state {
	int disabled;                       /* atomic */
	unsigned int gen;                   /* atomic; low 16 bits tag class nodes */
	unsigned int next_thread;           /* atomic */
	unsigned long reports;              /* atomic */
	unsigned int nnodes;
	struct fa__sig_node nodes[FA_SIGNALLING_MAX_CLASSES];
	/* per dependency type; 32-bit words: aligned for atomics on 32-bit targets too */
	uint32_t known[FA__SIG_NDEP][FA_SIGNALLING_MAX_CLASSES][FA__SIG_WORDS]; /* decided */
	uint32_t dep[FA__SIG_NDEP][FA_SIGNALLING_MAX_CLASSES][FA__SIG_WORDS];   /* in the graph */
	unsigned int nedges;
	struct fa__sig_edge edges[FA_SIGNALLING_MAX_EDGES];
	unsigned int nsigs;
	uint64_t sigs[FA_SIGNALLING_MAX_REPORTS];
	fa_signalling_report_fn fn;
	void *arg;
	/*
	 * Breadth-first search scratch (under lock). A search state is a node
	 * and whether the path to it ends in a recursive reader (node * 2 + xr);
	 * each state is queued at most once, so the queue cannot overflow.
	 */
	uint32_t queue[2 * FA_SIGNALLING_MAX_CLASSES];
	uint32_t parent[2 * FA_SIGNALLING_MAX_CLASSES];
	uint32_t visited[2 * FA__SIG_WORDS];
	uint32_t cycle[FA_SIGNALLING_MAX_CLASSES + 1];
	/* report formatting (under lock) */
	char buf[FA_SIGNALLING_REPORT_BYTES];
	size_t len;
};

static struct fa__sig_state fa__sig;
static pthread_mutex_t fa__sig_mutex = PTHREAD_MUTEX_INITIALIZER;
static FA__SIG_TLS struct fa__sig_thread fa__sig_self;
static pthread_once_t fa__sig_once = PTHREAD_ONCE_INIT;
static pthread_key_t fa__sig_exit_key;

static const char *const fa__sig_pseudo_names[FA__SIG_FIRST_USER_NODE] = {
	"(none)", "fence_signalling", "fs_reclaim", "mmu_notifier", "mmap_lock",
};

static uint64_t fa__sig_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static uint64_t fa__sig_str_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (s && *s)
		h = (h ^ (unsigned char)*s++) * 0x100000001b3ULL;
	return h;
}

static int fa__sig_test(uint32_t (*m)[FA__SIG_WORDS], uint32_t from, uint32_t to)
{
	return (__atomic_load_n(&m[from][to >> 5], __ATOMIC_RELAXED) >> (to & 31)) & 1;
}

static void fa__sig_set(uint32_t (*m)[FA__SIG_WORDS], uint32_t from, uint32_t to)
{
	__atomic_fetch_or(&m[from][to >> 5], (uint32_t)1 << (to & 31), __ATOMIC_RELAXED);
}

static int fa__sig_disabled(void)
{
	return __atomic_load_n(&fa__sig.disabled, __ATOMIC_RELAXED);
}

static void fa__sig_lock_state(void)
{
	pthread_mutex_lock(&fa__sig_mutex);
}

static void fa__sig_unlock_state(void)
{
	pthread_mutex_unlock(&fa__sig_mutex);
}

/* ---------------------------------------------------------------- reports */

static void fa__sig_printf(const char *fmt, ...)
{
	va_list ap;
	size_t room = sizeof(fa__sig.buf) - fa__sig.len;
	int n;

	if (room <= 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(fa__sig.buf + fa__sig.len, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	fa__sig.len += (size_t)n < room ? (size_t)n : room - 1;
}

static void fa__sig_node_name(uint32_t node, char *out, size_t size)
{
	const struct fa__sig_node *n = &fa__sig.nodes[node];

	if (n->sub)
		snprintf(out, size, "%s/%u", n->name, n->sub);
	else
		snprintf(out, size, "%s", n->name ? n->name : "?");
}

/* Print a node name into the report buffer. */
static void fa__sig_put_node(uint32_t node)
{
	char name[128];

	fa__sig_node_name(node, name, sizeof(name));
	fa__sig_printf("%s", name);
}

static void fa__sig_begin_report(const char *title, const struct fa__sig_thread *t)
{
	fa__sig.len = 0;
	fa__sig.buf[0] = '\0';
	fa__sig_printf("\n======================================================\n");
	fa__sig_printf("WARNING: %s\n", title);
	fa__sig_printf("fencealloc signalling validator, thread T%u\n", t->thread);
	fa__sig_printf("------------------------------------------------------\n");
}

static void fa__sig_put_held(const struct fa__sig_thread *t)
{
	unsigned int i;

	if (!t->depth) {
		fa__sig_printf("\nT%u holds nothing.\n", t->thread);
		return;
	}
	fa__sig_printf("\nT%u holds %u:\n", t->thread, t->depth);
	for (i = 0; i < t->depth; i++) {
		const struct fa__sig_held *h = &t->held[i];

		fa__sig_printf(" #%u: ", i);
		fa__sig_put_node(h->node);
		fa__sig_printf("%s%s", (h->how & FA__SIGNALLING_TRY) ? " (trylock)" : "",
			       (h->how & FA__SIGNALLING_RECURSIVE) ? " (recursive read)" :
			       (h->how & FA__SIGNALLING_SHARED) ? " (read)" : "");
		if (h->refs)
			fa__sig_printf(" (x%u, nested)", h->refs);
		fa__sig_printf(", at: %s:%d\n", h->file, h->line);
	}
}

static void fa__sig_default_report(const struct fa_signalling_report *r, void *arg)
{
	(void)arg;
	fputs(r->text, stderr);
	fflush(stderr);
}

/* Deliver the formatted report (under the state lock). */
static void fa__sig_emit(enum fa_signalling_report_kind kind, const struct fa__sig_thread *t)
{
	struct fa_signalling_report r;

	fa__sig_printf("======================================================\n");
	r.kind = kind;
	r.thread = t->thread;
	r.text = fa__sig.buf;
	__atomic_fetch_add(&fa__sig.reports, 1UL, __ATOMIC_RELAXED);
	if (fa__sig.fn)
		fa__sig.fn(&r, fa__sig.arg);
	else
		fa__sig_default_report(&r, NULL);
}

/* Report a full table once and switch the validator off (under the state lock). */
static void fa__sig_table_full(const char *limit, const struct fa__sig_thread *t)
{
	if (fa__sig_disabled())
		return;
	__atomic_store_n(&fa__sig.disabled, 1, __ATOMIC_RELAXED);
	fa__sig_begin_report("signalling validator table full", t);
	fa__sig_printf("BUG: %s too low! The signalling validator is switched off.\n", limit);
	fa__sig_printf("Raise it where FA_SIGNALLING_IMPLEMENTATION is defined.\n");
	fa__sig_emit(FA_SIGNALLING_REPORT_TABLE_FULL, t);
}

/*
 * Remember a report signature; false when it was already reported, or when
 * the validator is switched off (under the state lock): after a full table's
 * one report, an annotation call still under way reports nothing more. A
 * full signature table switches the validator off.
 */
static int fa__sig_first_time(uint64_t sig, const struct fa__sig_thread *t)
{
	unsigned int i;

	if (fa__sig_disabled())
		return 0;
	for (i = 0; i < fa__sig.nsigs; i++)
		if (fa__sig.sigs[i] == sig)
			return 0;
	if (fa__sig.nsigs == FA_SIGNALLING_MAX_REPORTS) {
		fa__sig_table_full("FA_SIGNALLING_MAX_REPORTS", t);
		return 0;
	}
	fa__sig.sigs[fa__sig.nsigs++] = sig;
	return 1;
}

static uint64_t fa__sig_site_sig(enum fa_signalling_report_kind kind, const char *file, int line)
{
	return fa__sig_mix(((uint64_t)kind << 40) ^ fa__sig_str_hash(file) ^
			   fa__sig_mix((uint64_t)(unsigned int)line));
}

/* ------------------------------------------------------------- threads */

static void fa__sig_thread_exit(void *arg);

static void fa__sig_init_once(void)
{
	pthread_key_create(&fa__sig_exit_key, fa__sig_thread_exit);
}

/* Set up the graph's pseudo-classes (under the state lock, or before any thread runs). */
static void fa__sig_clear_locked(void)
{
	unsigned int i, gen = __atomic_load_n(&fa__sig.gen, __ATOMIC_RELAXED) + 1;
	/* only rows of numbered nodes can hold bits (and only in their columns) */
	size_t rows = fa__sig.nnodes ? fa__sig.nnodes : FA_SIGNALLING_MAX_CLASSES;

	if (gen == 0)
		gen++;
	__atomic_store_n(&fa__sig.gen, gen, __ATOMIC_RELAXED);
	for (i = 0; i < FA__SIG_NDEP; i++) {
		memset(fa__sig.known[i], 0, rows * sizeof(fa__sig.known[i][0]));
		memset(fa__sig.dep[i], 0, rows * sizeof(fa__sig.dep[i][0]));
	}
	/* un-owned nodes first: a stale tag that still matches finds no owner */
	for (i = 0; i < rows; i++)
		__atomic_store_n(&fa__sig.nodes[i].owner, (const uint32_t *)NULL, __ATOMIC_RELAXED);
	memset(fa__sig.nodes, 0, rows * sizeof(fa__sig.nodes[0]));
	for (i = 0; i < FA__SIG_FIRST_USER_NODE; i++)
		fa__sig.nodes[i].name = fa__sig_pseudo_names[i];
	fa__sig.nnodes = FA__SIG_FIRST_USER_NODE;
	fa__sig.nedges = 0;
	fa__sig.nsigs = 0;
	__atomic_store_n(&fa__sig.reports, 0UL, __ATOMIC_RELAXED);
	__atomic_store_n(&fa__sig.disabled, 0, __ATOMIC_RELAXED);
}

static void fa__sig_prime_locked(struct fa__sig_thread *t);

/* First use by a thread, first use at all, or first use after a reset. */
static __attribute__((noinline)) struct fa__sig_thread *fa__sig_self_slow(void)
{
	struct fa__sig_thread *t = &fa__sig_self;
	unsigned int gen;

	if (!t->thread) {
		pthread_once(&fa__sig_once, fa__sig_init_once);
		t->thread = __atomic_add_fetch(&fa__sig.next_thread, 1u, __ATOMIC_RELAXED);
		pthread_setspecific(fa__sig_exit_key, t);
	}
	gen = __atomic_load_n(&fa__sig.gen, __ATOMIC_ACQUIRE);
	if (gen == 0) {
		fa__sig_lock_state();
		if (fa__sig.gen == 0) {
			fa__sig_clear_locked();
			fa__sig_prime_locked(t);
		}
		fa__sig_unlock_state();
		gen = __atomic_load_n(&fa__sig.gen, __ATOMIC_ACQUIRE);
	}
	if (t->gen != gen) {
		/* a reset happened: this thread's stack belongs to the old graph */
		t->gen = gen;
		t->depth = 0;
		t->section_depth = 0;
		memset(t->ctx_depth, 0, sizeof(t->ctx_depth));
	}
	t->cycle_reported = 0;
	return t;
}

/* The calling thread's state; numbers the thread and arms the exit check on first use. */
static inline struct fa__sig_thread *fa__sig_self_get(void)
{
	struct fa__sig_thread *t = &fa__sig_self;

	if (FA_UNLIKELY(!t->thread || t->gen != __atomic_load_n(&fa__sig.gen, __ATOMIC_ACQUIRE)))
		return fa__sig_self_slow();
	t->cycle_reported = 0;
	return t;
}

/* Report what a thread still holds (under the state lock). */
static void fa__sig_report_held(const struct fa__sig_thread *t, const char *where,
				const char *file, int line)
{
	const struct fa__sig_held *top = &t->held[t->depth - 1];

	if (!fa__sig_first_time(fa__sig_site_sig(FA_SIGNALLING_REPORT_HELD, top->file, top->line) ^
					fa__sig_site_sig(FA_SIGNALLING_REPORT_HELD, file, line), t))
		return;
	fa__sig_begin_report("lock held when it should not be", t);
	if (file)
		fa__sig_printf("T%u still holds locks at %s (%s:%d).\n", t->thread, where, file, line);
	else
		fa__sig_printf("T%u still holds locks at %s.\n", t->thread, where);
	fa__sig_put_held(t);
	fa__sig_emit(FA_SIGNALLING_REPORT_HELD, t);
}

static void fa__sig_thread_exit(void *arg)
{
	struct fa__sig_thread *t = (struct fa__sig_thread *)arg;

	if (!t || !t->depth || fa__sig_disabled() ||
	    t->gen != __atomic_load_n(&fa__sig.gen, __ATOMIC_ACQUIRE))
		return;
	fa__sig_lock_state();
	fa__sig_report_held(t, "thread exit", NULL, 0);
	fa__sig_unlock_state();
}

/* -------------------------------------------------------------- graph */

/*
 * The node a class slot's value names in this generation, or 0. The tag is
 * only a filter: it repeats every 65,535 resets, so the node must also be
 * owned by this very slot (numbered for this class and subclass since the
 * last reset), which no stale value can fake.
 */
static inline uint32_t fa__sig_node_valid(const uint32_t *slot, uint32_t v,
					  const struct fa__sig_thread *t)
{
	uint32_t node = v & 0xffffu;

	if ((v >> 16) != (t->gen & 0xffffu) || !node || node >= FA_SIGNALLING_MAX_CLASSES ||
	    __atomic_load_n(&fa__sig.nodes[node].owner, __ATOMIC_ACQUIRE) != slot)
		return 0;
	return node;
}

/* Graph node of (class, subclass) not yet numbered in this generation. */
static __attribute__((noinline)) uint32_t fa__sig_node_slow(struct fa_signalling_class *cls,
							   unsigned int sub,
							   const struct fa__sig_thread *t)
{
	uint32_t tag = t->gen & 0xffffu;
	uint32_t v, node = 0;

	fa__sig_lock_state();
	v = __atomic_load_n(&cls->node[sub], __ATOMIC_ACQUIRE);
	node = fa__sig_node_valid(&cls->node[sub], v, t);
	if (node) {
		/* numbered by another thread meanwhile */
	} else if (fa__sig.nnodes >= FA_SIGNALLING_MAX_CLASSES ||
		   fa__sig.nnodes > 0xffffu) {
		fa__sig_table_full("FA_SIGNALLING_MAX_CLASSES", t);
	} else {
		node = fa__sig.nnodes++;
		fa__sig.nodes[node].name = cls->name;
		fa__sig.nodes[node].sub = sub;
		__atomic_store_n(&fa__sig.nodes[node].owner, (const uint32_t *)&cls->node[sub],
				 __ATOMIC_RELEASE);
		__atomic_store_n(&cls->node[sub], (tag << 16) | node, __ATOMIC_RELEASE);
	}
	fa__sig_unlock_state();
	return node;
}

/* Graph node of (class, subclass); 0 when the class table is full. */
static inline uint32_t fa__sig_node_of(struct fa_signalling_class *cls, unsigned int sub,
				       const struct fa__sig_thread *t)
{
	uint32_t node = fa__sig_node_valid(&cls->node[sub],
					   __atomic_load_n(&cls->node[sub], __ATOMIC_ACQUIRE), t);

	if (FA_LIKELY(node))
		return node;
	return fa__sig_node_slow(cls, sub, t);
}

/* Type of the dependency "@next (taken as @how) while @prev is held". */
static inline unsigned int fa__sig_dep_type(unsigned int prev_how, unsigned int how)
{
	return (unsigned int)!(prev_how & FA__SIGNALLING_SHARED) +
	       ((unsigned int)!(how & FA__SIGNALLING_RECURSIVE) << 1);
}

/* Visited bits of search states (n, xr): one bitset of nodes per xr. */
static uint32_t *fa__sig_visited(unsigned int xr)
{
	return &fa__sig.visited[xr * FA__SIG_WORDS];
}

/* Visit search state @s, reached from @from: mark it and queue it. */
static void fa__sig_visit(uint32_t s, uint32_t from, unsigned int *tail)
{
	uint32_t n = s >> 1;

	fa__sig_visited(s & 1u)[n >> 5] |= (uint32_t)1 << (n & 31);
	fa__sig.parent[s] = from;
	fa__sig.queue[(*tail)++] = s;
}

/*
 * Is there a strong dependency path from @from to @target (under the state
 * lock)? A path is strong when no dependency ending in a recursive reader
 * (-(*R)->) is followed by one starting from a held reader (-(S*)->): only
 * such paths can deadlock (lockdep's rule). The search is over states (node,
 * "the path so far ends in -(*R)->"), iterative, and queues each state at
 * most once; a node reached by a -(*N)-> step needs no -(*R)-> visit, which
 * could only continue along fewer dependencies.
 * @from_xr: the new lock is a recursive reader (the first step may not be S*).
 * @target_excl: the held lock is exclusive, so any path to it closes a cycle
 * (the new dependency is -(E*)->); else the path must end -(*N)->.
 * On success returns 1 and *@found is the matching state; parent[] holds the
 * path back to (from, from_xr).
 */
static int fa__sig_reaches(uint32_t from, int from_xr, uint32_t target, int target_excl,
			   uint32_t *found)
{
	/* only numbered nodes have dependencies: skip the words beyond them */
	unsigned int head = 0, tail = 0, w, words = (fa__sig.nnodes + 31u) / 32u;
	uint32_t root = from * 2u + (uint32_t)!!from_xr;
	const uint32_t *seen_n = fa__sig_visited(0), *seen_r = fa__sig_visited(1);

	memset(fa__sig.visited, 0, sizeof(fa__sig.visited));
	fa__sig_visit(root, root, &tail);
	while (head < tail) {
		uint32_t s = fa__sig.queue[head++], n = s >> 1;
		int xr = (int)(s & 1u);

		for (w = 0; w < words; w++) {
			uint32_t n_ends =
				__atomic_load_n(&fa__sig.dep[FA__SIG_DEP_EN][n][w], __ATOMIC_RELAXED);
			uint32_t r_ends =
				__atomic_load_n(&fa__sig.dep[FA__SIG_DEP_ER][n][w], __ATOMIC_RELAXED);
			unsigned int pass;

			if (!xr) {
				n_ends |= __atomic_load_n(&fa__sig.dep[FA__SIG_DEP_SN][n][w],
							  __ATOMIC_RELAXED);
				r_ends |= __atomic_load_n(&fa__sig.dep[FA__SIG_DEP_SR][n][w],
							  __ATOMIC_RELAXED);
			}
			n_ends &= ~seen_n[w];
			r_ends &= ~n_ends & ~seen_n[w] & ~seen_r[w];
			for (pass = 0; pass < 2; pass++) {
				uint32_t bits = pass ? r_ends : n_ends;

				while (bits) {
					uint32_t m = (uint32_t)(w * 32u +
								(unsigned int)__builtin_ctz(bits));

					bits &= bits - 1;
					fa__sig_visit(m * 2u + pass, s, &tail);
					if (m == target && (target_excl || !pass)) {
						*found = m * 2u + pass;
						return 1;
					}
				}
			}
		}
	}
	return 0;
}

static const struct fa__sig_edge *fa__sig_find_edge(uint32_t from, uint32_t to)
{
	unsigned int i;

	for (i = 0; i < fa__sig.nedges; i++)
		if (fa__sig.edges[i].from == from && fa__sig.edges[i].to == to)
			return &fa__sig.edges[i];
	return NULL;
}
/* Label a cycle by the kinds of classes it goes through (the five scenarios). */
static const char *fa__sig_cycle_label(const uint32_t *cyc, unsigned int len)
{
	unsigned int i, user = 0, fence = 0, mem = 0;

	for (i = 0; i < len; i++) {
		if (cyc[i] >= FA__SIG_FIRST_USER_NODE)
			user++;
		else if (cyc[i] == FA__SIGNALLING_NODE_FENCE)
			fence = 1;
		else if (cyc[i] == FA__SIGNALLING_NODE_RECLAIM ||
			 cyc[i] == FA__SIGNALLING_NODE_NOTIFIER)
			mem = 1;
	}
	if (!fence)
		return "lock order inversion";
	if (!user)
		return "reclaiming allocation in the signalling path";
	if (user >= 2)
		return "transitive: locks taken in the signalling path lead to a fence wait";
	if (mem)
		return "lock taken in the signalling path is held across a reclaiming allocation";
	return "lock taken in the signalling path is held across a fence wait";
}

static void fa__sig_put_edge(unsigned int idx, uint32_t from, uint32_t to,
			     const struct fa__sig_edge *e, int is_new)
{
	fa__sig_printf("-> #%u ", idx);
	fa__sig_put_node(from);
	fa__sig_printf(" -> ");
	fa__sig_put_node(to);
	if (!e) {
		fa__sig_printf(": (unknown)\n");
		return;
	}
	if (!e->thread) {
		fa__sig_printf(": primed (kernel contract)\n");
		return;
	}
	fa__sig_printf(":%s\n       T%u took ", is_new ? " [new]" : "", e->thread);
	fa__sig_put_node(to);
	fa__sig_printf(" at %s:%d\n       holding ", e->to_file, e->to_line);
	fa__sig_put_node(from);
	fa__sig_printf(" taken at %s:%d\n", e->from_file, e->from_line);
}


/*
 * The dependency h -> node would close a cycle node -> ... -> h (found by
 * fa__sig_reaches as state @found, path in parent[]). Report it once (under
 * the state lock).
 */
static void fa__sig_report_cycle(struct fa__sig_thread *t, const struct fa__sig_held *h,
				 uint32_t node, uint32_t found, const char *file, int line)
{
	uint32_t *cyc = fa__sig.cycle;
	unsigned int len = 0, i;
	uint32_t s = found;
	uint64_t sig = 0;
	struct fa__sig_edge fresh;

	/* walk back from the held class to the new one: cyc[] = held ... node */
	while (fa__sig.parent[s] != s && len < FA_SIGNALLING_MAX_CLASSES) {
		cyc[len++] = s >> 1;
		s = fa__sig.parent[s];
	}
	cyc[len++] = node;
	for (i = 0; i < len / 2; i++) {
		uint32_t tmp = cyc[i];

		cyc[i] = cyc[len - 1 - i];
		cyc[len - 1 - i] = tmp;
	}
	for (i = 0; i < len; i++)
		sig += fa__sig_mix(((uint64_t)cyc[i] << 20) | cyc[(i + 1) % len]);
	sig = fa__sig_mix(sig ^ ((uint64_t)FA_SIGNALLING_REPORT_CYCLE << 56));
	if (t->cycle_reported || !fa__sig_first_time(sig, t))
		return;
	t->cycle_reported = 1;

	fa__sig_begin_report("possible circular locking dependency detected", t);
	fa__sig_printf("T%u is trying to acquire:\n  ", t->thread);
	fa__sig_put_node(node);
	fa__sig_printf(", at: %s:%d\n\nbut T%u is already holding:\n  ", file, line, t->thread);
	fa__sig_put_node(h->node);
	fa__sig_printf(", at: %s:%d\n\nwhich already depends on the new lock (%s).\n",
		       h->file, h->line, fa__sig_cycle_label(cyc, len));
	fa__sig_printf("\nthe existing dependency chain is:\n");
	for (i = 0; i + 1 < len; i++)
		fa__sig_put_edge(i, cyc[i], cyc[i + 1], fa__sig_find_edge(cyc[i], cyc[i + 1]), 0);
	fresh.from = h->node;
	fresh.to = node;
	fresh.thread = t->thread;
	fresh.from_file = h->file;
	fresh.from_line = h->line;
	fresh.to_file = file;
	fresh.to_line = line;
	fa__sig_put_edge(len - 1, h->node, node, &fresh, 1);
	fa__sig_printf("\nChain exists of:\n  ");
	for (i = 0; i < len; i++) {
		fa__sig_put_node(cyc[i]);
		fa__sig_printf(" --> ");
	}
	fa__sig_put_node(node);
	fa__sig_printf("\n");
	if (len == 2) {
		fa__sig_printf("\n Possible unsafe locking scenario:\n\n");
		fa__sig_printf("       CPU0                    CPU1\n");
		fa__sig_printf("       ----                    ----\n  lock(");
		fa__sig_put_node(h->node);
		fa__sig_printf(");\n                               lock(");
		fa__sig_put_node(node);
		fa__sig_printf(");\n                               lock(");
		fa__sig_put_node(h->node);
		fa__sig_printf(");\n  lock(");
		fa__sig_put_node(node);
		fa__sig_printf(");\n\n *** DEADLOCK ***\n");
	}
	fa__sig_put_held(t);
	fa__sig_emit(FA_SIGNALLING_REPORT_CYCLE, t);
}

/*
 * Decide the dependency h -> to of the given type, first seen as described by
 * the arguments (under the state lock): add it, or report the cycle it would
 * close and leave it out (lockdep's check_prev_add()). Returns 0, or -1 when
 * a table filled up.
 */
static int fa__sig_add_edge_locked(struct fa__sig_thread *t, const struct fa__sig_held *h,
				   unsigned int thread, uint32_t to, unsigned int how,
				   const char *file, int line)
{
	unsigned int type = fa__sig_dep_type(h->how, how);
	struct fa__sig_edge *e;
	uint32_t found;

	if (fa__sig_test(fa__sig.known[type], h->node, to))
		return 0;
	if (fa__sig_reaches(to, !!(how & FA__SIGNALLING_RECURSIVE), h->node,
			    !(h->how & FA__SIGNALLING_SHARED), &found)) {
		fa__sig_report_cycle(t, h, to, found, file, line);
		fa__sig_set(fa__sig.known[type], h->node, to);
		return 0;
	}
	/* one history record per pair, kept from its first dependency of any type */
	if (!fa__sig_test(fa__sig.dep[FA__SIG_DEP_SR], h->node, to) &&
	    !fa__sig_test(fa__sig.dep[FA__SIG_DEP_ER], h->node, to) &&
	    !fa__sig_test(fa__sig.dep[FA__SIG_DEP_SN], h->node, to) &&
	    !fa__sig_test(fa__sig.dep[FA__SIG_DEP_EN], h->node, to)) {
		if (fa__sig.nedges == FA_SIGNALLING_MAX_EDGES) {
			fa__sig_table_full("FA_SIGNALLING_MAX_EDGES", t);
			return -1;
		}
		e = &fa__sig.edges[fa__sig.nedges++];
		e->from = h->node;
		e->to = to;
		e->thread = thread;
		e->from_file = h->file;
		e->from_line = h->line;
		e->to_file = file;
		e->to_line = line;
	}
	fa__sig_set(fa__sig.dep[type], h->node, to);
	fa__sig_set(fa__sig.known[type], h->node, to);
	return 0;
}

/*
 * True when acquiring @node needs no check: a trylock, or no held entry of the
 * same node and every dependency into @node already decided. As in lockdep,
 * the dependencies are the ones from the nearest held entry that is not a
 * trylock and from each trylock above it (older entries are connected through
 * it). Relaxed loads only; a stale zero just sends the caller down the locked
 * slow path.
 */
static inline int fa__sig_all_known(const struct fa__sig_thread *t, uint32_t node,
				    unsigned int how)
{
	unsigned int i = t->depth;
	int deps = 1;

	if (how & FA__SIGNALLING_TRY)
		return 1;
	while (i-- > 0) {
		const struct fa__sig_held *h = &t->held[i];

		if (h->node == node)
			return 0;
		if (!deps)
			continue;
		if (!fa__sig_test(fa__sig.known[fa__sig_dep_type(h->how, how)], h->node, node))
			return 0;
		deps = (h->how & FA__SIGNALLING_TRY) != 0;
	}
	return 1;
}

/*
 * Dependencies into @node (lockdep's check_prevs_add()): from the nearest
 * held entry that is not a trylock and from the trylocks above it. Held
 * entries of @node itself are skipped: the only way here with one held is a
 * fence wait inside a section, and the kernel drops its read side first.
 */
static void fa__sig_add_deps(struct fa__sig_thread *t, uint32_t node, unsigned int how,
			     const char *file, int line)
{
	unsigned int i = t->depth;

	fa__sig_lock_state();
	while (i-- > 0 && !fa__sig_disabled()) {
		const struct fa__sig_held *h = &t->held[i];

		if (h->node == node)
			continue;
		if (fa__sig_add_edge_locked(t, h, t->thread, node, how, file, line))
			break;
		if (!(h->how & FA__SIGNALLING_TRY))
			break;
	}
	fa__sig_unlock_state();
}

static void fa__sig_report_recursion(struct fa__sig_thread *t, const struct fa__sig_held *h,
				     uint32_t node, const char *file, int line)
{
	fa__sig_lock_state();
	if (fa__sig_first_time(fa__sig_site_sig(FA_SIGNALLING_REPORT_RECURSION, file, line), t)) {
		fa__sig_begin_report("possible recursive locking detected", t);
		fa__sig_printf("T%u is trying to acquire:\n  ", t->thread);
		fa__sig_put_node(node);
		fa__sig_printf(", at: %s:%d\n\nbut T%u is already holding:\n  ", file, line,
			       t->thread);
		fa__sig_put_node(h->node);
		fa__sig_printf(", at: %s:%d\n\nIf the two are different locks taken in a fixed "
			       "order, annotate with fa_signalling_acquire_nested() or "
			       "fa_signalling_acquire_nest_lock().\n",
			       h->file, h->line);
		fa__sig_put_held(t);
		fa__sig_emit(FA_SIGNALLING_REPORT_RECURSION, t);
	}
	fa__sig_unlock_state();
}

/*
 * Same class already held (lockdep's check_deadlock()): 1 when not held or a
 * recursive reader after a reader, 2 when @nest is held below the held entry
 * (the nest lock serialises the class: no new dependency), 0 after reporting
 * recursion.
 */
static int fa__sig_check_deadlock(struct fa__sig_thread *t, uint32_t node, unsigned int how,
				  const struct fa_signalling_map *nest, const char *file, int line)
{
	unsigned int i;
	int nested = 0;

	for (i = 0; i < t->depth; i++) {
		const struct fa__sig_held *h = &t->held[i];

		if (nest && h->map == nest)
			nested = 1;
		if (h->node != node)
			continue;
		if ((how & FA__SIGNALLING_RECURSIVE) && (h->how & FA__SIGNALLING_SHARED))
			continue;
		if (nested)
			return 2;
		fa__sig_report_recursion(t, h, node, file, line);
		return 0;
	}
	return 1;
}

static void fa__sig_push(struct fa__sig_thread *t, uint32_t node, unsigned int how,
			 const struct fa_signalling_map *map, const char *file, int line)
{
	struct fa__sig_held *h;

	if (FA_UNLIKELY(t->depth == FA_SIGNALLING_MAX_HELD)) {
		fa__sig_lock_state();
		fa__sig_table_full("FA_SIGNALLING_MAX_HELD", t);
		fa__sig_unlock_state();
		return;
	}
	h = &t->held[t->depth++];
	h->node = node;
	h->how = how;
	h->refs = 0;
	h->map = map;
	h->file = file;
	h->line = line;
}

/*
 * The common acquisition path for locks, contexts and acquire+release checks
 * (lockdep's validate_chain()). @nest: the nest lock of a nest-lock
 * acquisition, else NULL. Returns 0 when the acquisition is not on the held
 * stack (a check, or a full table).
 */
static int fa__sig_acquire(struct fa__sig_thread *t, uint32_t node, unsigned int how,
			   const struct fa_signalling_map *map,
			   const struct fa_signalling_map *nest, const char *file, int line)
{
	struct fa__sig_held *top = t->depth ? &t->held[t->depth - 1] : NULL;
	int ret = 1;

	/* switched off by an earlier step of the same annotation (a full table) */
	if (fa__sig_disabled())
		return 0;
	/* another lock of the class on top, under its nest lock: one entry, counted */
	if (nest && top && top->node == node && !(how & FA__SIGNALLING_CHECK) &&
	    top->refs < 0xffffu) {
		top->refs = top->refs ? top->refs + 1 : 2;
		return 1;
	}
	if (!fa__sig_all_known(t, node, how)) {
		/* the fence map is re-entered by nesting, never recursively */
		if (node != FA__SIGNALLING_NODE_FENCE)
			ret = fa__sig_check_deadlock(t, node, how, nest, file, line);
		if (ret == 1)
			fa__sig_add_deps(t, node, how, file, line);
	}
	if ((how & FA__SIGNALLING_CHECK) || fa__sig_disabled())
		return 0;
	fa__sig_push(t, node, how, map, file, line);
	return !fa__sig_disabled();
}

/* Node of @map's subclass-0 slot if numbered in this generation, else 0. */
static uint32_t fa__sig_map_node(const struct fa_signalling_map *map, const struct fa__sig_thread *t)
{
	const uint32_t *slot = &map->cls->node[0];

	return fa__sig_node_valid(slot, __atomic_load_n(slot, __ATOMIC_ACQUIRE), t);
}

/*
 * Drop the most recent entry of @map (or of pseudo @node when map is NULL).
 * An entry that merged several nest-lock acquisitions of @map's class gives
 * up one of them, whichever lock it was (lockdep matches them by class), and
 * goes with the last.
 */
static int fa__sig_pop(struct fa__sig_thread *t, const struct fa_signalling_map *map,
		       uint32_t node)
{
	unsigned int i = t->depth;
	uint32_t cls_node = map ? fa__sig_map_node(map, t) : 0;

	while (i-- > 0) {
		struct fa__sig_held *h = &t->held[i];

		if ((h->map == map && (map || h->node == node)) ||
		    (map && h->refs && cls_node && h->node == cls_node)) {
			if (h->refs > 1) {
				h->refs--;
				return 1;
			}
			for (; i + 1 < t->depth; i++)
				t->held[i] = t->held[i + 1];
			t->depth--;
			return 1;
		}
	}
	return 0;
}

static void fa__sig_report_unbalanced(struct fa__sig_thread *t, const char *what,
				      const char *name, const char *file, int line)
{
	fa__sig_lock_state();
	if (fa__sig_first_time(fa__sig_site_sig(FA_SIGNALLING_REPORT_UNBALANCED, file, line), t)) {
		fa__sig_begin_report("bad unlock balance detected", t);
		fa__sig_printf("T%u %s %s at: %s:%d\n", t->thread, what, name, file, line);
		fa__sig_put_held(t);
		fa__sig_emit(FA_SIGNALLING_REPORT_UNBALANCED, t);
	}
	fa__sig_unlock_state();
}

/* Report a direct rule broken inside the thread's signalling section. */
static void fa__sig_report_in_section(struct fa__sig_thread *t, enum fa_signalling_report_kind kind,
				      const char *title, const char *what, const char *hint,
				      const char *file, int line)
{
	unsigned int i;
	const struct fa__sig_held *s = NULL;

	for (i = 0; i < t->depth; i++)
		if (t->held[i].node == FA__SIGNALLING_NODE_FENCE && !t->held[i].map) {
			s = &t->held[i];
			break;
		}
	fa__sig_lock_state();
	if (fa__sig_first_time(fa__sig_site_sig(kind, file, line), t)) {
		fa__sig_begin_report(title, t);
		fa__sig_printf("T%u %s at: %s:%d\n", t->thread, what, file, line);
		if (s)
			fa__sig_printf("inside the fence-signalling section begun at: %s:%d\n",
				       s->file, s->line);
		fa__sig_printf("%s\n", hint);
		fa__sig_put_held(t);
		fa__sig_emit(kind, t);
	}
	fa__sig_unlock_state();
}

/* Record the contract mmap_lock -> fs_reclaim -> mmu_notifier -> fence (under the lock). */
static void fa__sig_prime_locked(struct fa__sig_thread *t)
{
	static const uint32_t chain[] = {
		FA__SIGNALLING_NODE_MMAP, FA__SIGNALLING_NODE_RECLAIM,
		FA__SIGNALLING_NODE_NOTIFIER, FA__SIGNALLING_NODE_FENCE,
	};
	struct fa__sig_held h;
	unsigned int i;

	for (i = 0; i + 1 < FA_ARRAY_SIZE(chain); i++) {
		h.node = chain[i];
		/* dma_resv_lockdep() holds mmap_lock for read, the rest exclusively */
		h.how = chain[i] == FA__SIGNALLING_NODE_MMAP ? FA__SIGNALLING_SHARED :
							       FA__SIGNALLING_EXCL;
		h.refs = 0;
		h.map = NULL;
		h.file = "(primed)";
		h.line = 0;
		fa__sig_add_edge_locked(t, &h, 0, chain[i + 1], FA__SIGNALLING_EXCL, "(primed)", 0);
	}
}

/* ------------------------------------------------------- entry points */

/* Warn about a map that cannot be annotated (kept out of line: it is never hot). */
static __attribute__((noinline)) int fa__sig_map_bad(const struct fa_signalling_map *map,
						    unsigned int sub)
{
	if (FA_WARN(!map || !map->cls))
		return 1;
	return FA_WARN(sub >= FA_SIGNALLING_MAX_SUBCLASSES);
}

/* A map bound to a class, and a valid subclass. */
static inline int fa__sig_map_ok(const struct fa_signalling_map *map, unsigned int sub)
{
	if (FA_LIKELY(map && map->cls && sub < FA_SIGNALLING_MAX_SUBCLASSES))
		return 1;
	return !fa__sig_map_bad(map, sub);
}

/* Everything but the fast path of fa__signalling_lock(); @nest as for fa__sig_acquire(). */
static __attribute__((noinline)) void fa__sig_lock_slow(struct fa_signalling_map *map,
						       unsigned int sub, unsigned int how,
						       const struct fa_signalling_map *nest,
						       const char *file, int line)
{
	struct fa__sig_thread *t = fa__sig_self_get();
	uint32_t node;

	if (fa__sig_disabled() || !fa__sig_map_ok(map, sub))
		return;
	node = fa__sig_node_of(map->cls, sub, t);
	if (node)
		fa__sig_acquire(t, node, how, map, nest, file, line);
}

/*
 * Fast path: a known thread in the current generation, a numbered class and
 * every dependency already decided. No call before the tail call, so the
 * compiler needs no stack frame.
 */
void fa__signalling_lock(struct fa_signalling_map *map, unsigned int sub, unsigned int how,
			 const char *file, int line)
{
	struct fa__sig_thread *t = &fa__sig_self;
	struct fa__sig_held *h;
	uint32_t v, node;

	if (FA_UNLIKELY(!t->thread || t->gen != __atomic_load_n(&fa__sig.gen, __ATOMIC_ACQUIRE) ||
			fa__sig_disabled() || !map || !map->cls ||
			sub >= FA_SIGNALLING_MAX_SUBCLASSES))
		goto slow;
	v = __atomic_load_n(&map->cls->node[sub], __ATOMIC_ACQUIRE);
	node = fa__sig_node_valid(&map->cls->node[sub], v, t);
	if (FA_UNLIKELY(!node || t->depth >= FA_SIGNALLING_MAX_HELD ||
			!fa__sig_all_known(t, node, how)))
		goto slow;
	if (how & FA__SIGNALLING_CHECK)
		return;
	h = &t->held[t->depth++];
	h->node = node;
	h->how = how;
	h->refs = 0;
	h->map = map;
	h->file = file;
	h->line = line;
	return;
slow:
	fa__sig_lock_slow(map, sub, how, NULL, file, line);
}

/* Everything but the fast path of fa__signalling_unlock(). */
static __attribute__((noinline)) void fa__sig_unlock_slow(struct fa_signalling_map *map,
							 const char *file, int line)
{
	struct fa__sig_thread *t = fa__sig_self_get();

	if (fa__sig_disabled() || !fa__sig_map_ok(map, 0))
		return;
	if (!fa__sig_pop(t, map, 0))
		fa__sig_report_unbalanced(t, "is trying to release", map->cls->name, file, line);
}

/* Fast path: releasing the most recent acquisition (no call, no frame). */
void fa__signalling_unlock(struct fa_signalling_map *map, const char *file, int line)
{
	struct fa__sig_thread *t = &fa__sig_self;
	unsigned int depth = t->depth;

	if (FA_LIKELY(map && depth && t->held[depth - 1].map == map && !t->held[depth - 1].refs &&
		      t->thread &&
		      t->gen == __atomic_load_n(&fa__sig.gen, __ATOMIC_ACQUIRE) &&
		      !fa__sig_disabled())) {
		t->depth = depth - 1;
		return;
	}
	fa__sig_unlock_slow(map, file, line);
}

void fa__signalling_assert_held(struct fa_signalling_map *map, const char *file, int line)
{
	struct fa__sig_thread *t = fa__sig_self_get();
	unsigned int i;

	if (fa__sig_disabled() || !fa__sig_map_ok(map, 0))
		return;
	for (i = 0; i < t->depth; i++)
		if (t->held[i].map == map)
			return;
	fa__sig_lock_state();
	if (fa__sig_first_time(fa__sig_site_sig(FA_SIGNALLING_REPORT_NOT_HELD, file, line), t)) {
		fa__sig_begin_report("lock not held", t);
		fa__sig_printf("T%u asserts it holds %s at: %s:%d, but does not.\n", t->thread,
			       map->cls->name, file, line);
		fa__sig_put_held(t);
		fa__sig_emit(FA_SIGNALLING_REPORT_NOT_HELD, t);
	}
	fa__sig_unlock_state();
}

void fa__signalling_lock_nest(struct fa_signalling_map *map, struct fa_signalling_map *nest,
			      const char *file, int line)
{
	fa__signalling_assert_held(nest, file, line);
	fa__sig_lock_slow(map, 0, FA__SIGNALLING_EXCL | FA__SIGNALLING_NEST, nest, file, line);
}

/*
 * Binding a held map would leave the held stack naming a class the map no
 * longer has (lockdep: "held lock freed!" from debug_check_no_locks_freed()).
 */
void fa__signalling_map_init(struct fa_signalling_map *map, struct fa_signalling_class *cls,
			     const char *file, int line)
{
	struct fa__sig_thread *t = &fa__sig_self;
	unsigned int i;

	if (FA_WARN(!map))
		return;
	if (t->thread && t->gen == __atomic_load_n(&fa__sig.gen, __ATOMIC_ACQUIRE) &&
	    !fa__sig_disabled()) {
		for (i = 0; i < t->depth; i++)
			if (t->held[i].map == map)
				break;
		if (i < t->depth) {
			fa__sig_lock_state();
			if (fa__sig_first_time(fa__sig_site_sig(FA_SIGNALLING_REPORT_HELD, file, line),
					       t)) {
				fa__sig_begin_report("held lock re-initialised", t);
				fa__sig_printf("T%u binds lock map %p (class %s) to class %s at: "
					       "%s:%d, but holds it:\n", t->thread, (void *)map,
					       map->cls ? map->cls->name : "?",
					       cls ? cls->name : "(null)", file, line);
				fa__sig_printf(" #%u taken at: %s:%d\nThe map keeps its class.\n", i,
					       t->held[i].file, t->held[i].line);
				fa__sig_put_held(t);
				fa__sig_emit(FA_SIGNALLING_REPORT_HELD, t);
			}
			fa__sig_unlock_state();
			return;
		}
	}
	map->cls = cls;
}

fa_signalling_cookie_t fa__signalling_begin(const char *file, int line)
{
	struct fa__sig_thread *t = fa__sig_self_get();
	unsigned int depth = t->section_depth;

	if (fa__sig_disabled())
		return FA__SIG_COOKIE_MAGIC | (depth & 0xffffu);
	if (depth == 0)
		/* a successful non-recursive read-trylock, as dma_fence_begin_signalling() */
		fa__sig_acquire(t, FA__SIGNALLING_NODE_FENCE, FA__SIGNALLING_TRY | FA__SIGNALLING_SHARED,
				NULL, NULL, file, line);
	t->section_depth = depth + 1;
	return FA__SIG_COOKIE_MAGIC | (depth & 0xffffu);
}

void fa__signalling_end(fa_signalling_cookie_t cookie, const char *file, int line)
{
	struct fa__sig_thread *t = fa__sig_self_get();

	if (fa__sig_disabled())
		return;
	if (t->section_depth == 0) {
		fa__sig_report_unbalanced(t, "ends a signalling section it is not in,",
					  "fence_signalling", file, line);
		return;
	}
	if ((cookie & ~0xffffu) != FA__SIG_COOKIE_MAGIC ||
	    (cookie & 0xffffu) != t->section_depth - 1)
		fa__sig_report_unbalanced(t, "ends a signalling section out of order (wrong cookie),",
					  "fence_signalling", file, line);
	if (--t->section_depth == 0)
		fa__sig_pop(t, NULL, FA__SIGNALLING_NODE_FENCE);
}

void fa__signalling_fence_wait(const char *file, int line)
{
	struct fa__sig_thread *t = fa__sig_self_get();

	if (fa__sig_disabled())
		return;
	if (t->section_depth)
		fa__sig_report_in_section(t, FA_SIGNALLING_REPORT_WAIT_IN_SECTION,
					  "fence wait inside a fence-signalling section",
					  "waits for a fence",
					  "The fence may depend on this section's own fence: "
					  "wait at submit or cleanup, never at run.", file, line);
	fa__sig_acquire(t, FA__SIGNALLING_NODE_FENCE, FA__SIGNALLING_CHECK, NULL, NULL, file, line);
}

void fa__signalling_might_alloc(fa_gfp_t gfp, const char *file, int line)
{
	struct fa__sig_thread *t = fa__sig_self_get();
	int pushed = 0;

	if (!(gfp & FA_GFP_DIRECT_RECLAIM) || fa__sig_disabled() ||
	    t->ctx_depth[FA__SIGNALLING_NODE_RECLAIM])
		return;
	if (t->section_depth)
		fa__sig_report_in_section(t, FA_SIGNALLING_REPORT_ALLOC_IN_SECTION,
					  "reclaiming allocation inside a fence-signalling section",
					  (gfp & FA_GFP_FS) ?
					  "may allocate with reclaim (GFP_KERNEL-like: fs_reclaim, mmu_notifier)" :
					  "may allocate with reclaim (GFP_NOFS/NOIO-like: mmu_notifier)",
					  "Reclaim (shrinkers) and MMU notifiers may wait on fences: "
					  "reserve at submit and draw with FA_GFP_NOWAIT at run.",
					  file, line);
	/* the kernel's fs_reclaim_acquire(): notifier map touched under fs_reclaim */
	if (gfp & FA_GFP_FS)
		pushed = fa__sig_acquire(t, FA__SIGNALLING_NODE_RECLAIM, FA__SIGNALLING_EXCL, NULL,
					 NULL, file, line);
	fa__sig_acquire(t, FA__SIGNALLING_NODE_NOTIFIER, FA__SIGNALLING_CHECK, NULL, NULL, file, line);
	if (pushed)
		fa__sig_pop(t, NULL, FA__SIGNALLING_NODE_RECLAIM);
}

void fa__signalling_might_fault(const char *file, int line)
{
	struct fa__sig_thread *t = fa__sig_self_get();

	if (fa__sig_disabled())
		return;
	fa__sig_acquire(t, FA__SIGNALLING_NODE_MMAP, FA__SIGNALLING_CHECK | FA__SIGNALLING_SHARED,
			NULL, NULL, file, line);
}

void fa__signalling_ctx(unsigned int node, int enter, const char *file, int line)
{
	struct fa__sig_thread *t = fa__sig_self_get();
	unsigned int how = node == FA__SIGNALLING_NODE_MMAP ? FA__SIGNALLING_SHARED :
							     FA__SIGNALLING_EXCL;

	if (fa__sig_disabled() || node >= FA__SIG_NCTX)
		return;
	if (enter) {
		/* counted only when on the held stack, so a full table leaves no stray depth */
		if (fa__sig_acquire(t, node, how, NULL, NULL, file, line))
			t->ctx_depth[node]++;
		return;
	}
	if (!t->ctx_depth[node] || !fa__sig_pop(t, NULL, node)) {
		fa__sig_report_unbalanced(t, "leaves a context it is not in:",
					  fa__sig_pseudo_names[node], file, line);
		return;
	}
	t->ctx_depth[node]--;
}

void fa__signalling_prime(void)
{
	struct fa__sig_thread *t = fa__sig_self_get();

	if (fa__sig_disabled())
		return;
	fa__sig_lock_state();
	fa__sig_prime_locked(t);
	fa__sig_unlock_state();
}

void fa__signalling_prime_in(unsigned int node, struct fa_signalling_map *map,
			     const char *file, int line)
{
	fa__signalling_ctx(node, 1, file, line);
	fa__signalling_lock(map, 0, FA__SIGNALLING_CHECK, file, line);
	fa__signalling_ctx(node, 0, file, line);
}

void fa__signalling_set_report_fn(fa_signalling_report_fn fn, void *arg)
{
	fa__sig_lock_state();
	fa__sig.fn = fn;
	fa__sig.arg = arg;
	fa__sig_unlock_state();
}

unsigned long fa__signalling_report_count(void)
{
	return __atomic_load_n(&fa__sig.reports, __ATOMIC_RELAXED);
}

void fa__signalling_assert_none_held(const char *file, int line)
{
	struct fa__sig_thread *t = fa__sig_self_get();

	if (fa__sig_disabled() || !t->depth)
		return;
	fa__sig_lock_state();
	fa__sig_report_held(t, "a check that nothing is held", file, line);
	fa__sig_unlock_state();
}

void fa__signalling_reset(int prime)
{
	struct fa__sig_thread *t = fa__sig_self_get();

	fa__sig_lock_state();
	fa__sig_clear_locked();
	t->gen = __atomic_load_n(&fa__sig.gen, __ATOMIC_RELAXED);
	t->depth = 0;
	t->section_depth = 0;
	memset(t->ctx_depth, 0, sizeof(t->ctx_depth));
	if (prime)
		fa__sig_prime_locked(t);
	fa__sig_unlock_state();
}

#ifdef __cplusplus
}
#endif
/** @endcond */
#endif
