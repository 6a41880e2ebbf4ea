/* SPDX-License-Identifier: MIT */
/**
 * @file base.h
 * @brief Portability layer and small helpers shared by every fencealloc module.
 *
 * fencealloc is header-only and builds in three worlds from the same source:
 *
 * | world                         | how it is detected          | types / errno from            |
 * |-------------------------------|-----------------------------|-------------------------------|
 * | Linux kernel module (kbuild)  | `__KERNEL__` defined        | `<linux/types.h>`, `<linux/errno.h>` |
 * | hosted userspace C11 / C++    | `__STDC_HOSTED__ == 1`      | `<stdint.h>`, `<errno.h>`     |
 * | freestanding (`-ffreestanding`) | `__STDC_HOSTED__ == 0`    | `<stdint.h>`, Linux errno numbers |
 *
 * Only freestanding headers are used outside the kernel (`<errno.h>` is taken
 * only when hosted, to keep `strerror()` meaningful). Nothing here allocates,
 * sleeps, uses floating point, or divides 64-bit numbers (32-bit kernels cannot
 * link `__udivdi3`); everything is `static inline` so two drivers that embed
 * fencealloc never clash at link time.
 *
 * What is here:
 * - error codes: every fallible function returns 0 or a negative errno
 *   (`-FA_EINVAL`, `-FA_ENOMEM`, ...);
 * - hooks a user may override before including any fencealloc header:
 *   #FA_ASSERT, #FA_HEAVY_ASSERT, #FA_WARN_HOOK (behind #FA_WARN), #FA_BUG.
 *   A configuration header named by `FA_CONFIG_HEADER` is included first;
 * - allocation-context flags (#fa_gfp_t) used by the allocator interfaces and
 *   the signalling validator;
 * - bit helpers with defined results for every input and checked arithmetic;
 * - wrap-safe sequence-number comparison for epochs and fence seqnos;
 * - #fa_list, an intrusive doubly-linked list (the kernel's `list.h` shape);
 * - #fa_llist, a lock-free singly-linked list: many producers push, one
 *   consumer takes everything at once (the kernel's `llist.h` shape).
 *
 * **Preconditions: documented and asserted.** These are the primitives every
 * hot path is built from (the kernel's `list.h` shape), so pointer arguments
 * are not checked at run time: each one that must not be NULL says so in its
 * doc comment and is checked with #FA_ASSERT (a `WARN_ON_ONCE` in the kernel,
 * a trap in userspace debug builds, nothing with `NDEBUG`). The one pointer
 * that may be NULL is the chain given to fa_llist_reverse() (an empty chain).
 *
 * Stage tags used throughout the library (see docs/design.md):
 * `@stage submit` may allocate, `@stage run` never allocates or sleeps,
 * `@stage cleanup` may free, `@stage any` is a pure helper usable everywhere.
 *
 * @code
 * struct job { struct fa_list link; struct fa_llist_node done; };
 *
 * static struct fa_list pending = FA_LIST_HEAD_INIT(pending);
 * static struct fa_llist completed;       // push from run stage, take all at cleanup
 *
 * void job_queue(struct job *j)           // submit: under the caller's queue lock
 * {
 *         fa_list_add_tail(&j->link, &pending);
 * }
 *
 * void job_done(struct job *j)            // run: lock-free, allocation-free
 * {
 *         fa_llist_push(&j->done, &completed);
 * }
 *
 * void jobs_init(void)
 * {
 *         fa_llist_init(&completed);
 * }
 * @endcode
 */
#ifndef FA_BASE_H
#define FA_BASE_H

#ifdef FA_CONFIG_HEADER
#include FA_CONFIG_HEADER
#endif

#if defined(__KERNEL__)
#include <linux/types.h>
#include <linux/stddef.h>
#include <linux/errno.h>
#include <linux/bug.h>
#include <linux/compiler.h>
#include <linux/atomic.h>
#else
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#if defined(__STDC_HOSTED__) && __STDC_HOSTED__ == 1 && !defined(FA_NO_ERRNO_H)
#include <errno.h>
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** @name Version
 *  @{ */
/** Major version of the fencealloc headers. */
#define FA_VERSION_MAJOR 0
/** Minor version of the fencealloc headers. */
#define FA_VERSION_MINOR 1
/** Patch version of the fencealloc headers. */
#define FA_VERSION_PATCH 0
/** @} */

/** @name Error codes
 * Positive errno numbers; functions return their negation (`return -FA_EINVAL;`).
 * In the kernel and in hosted userspace they are the system's own values; in a
 * freestanding build they are Linux's numbers.
 * @{ */
#if defined(__KERNEL__) || defined(EINVAL)
#define FA_EINVAL EINVAL       /**< Invalid argument (bad size, alignment, range...). */
#define FA_ENOMEM ENOMEM       /**< The caller's allocator failed. */
#define FA_ENOSPC ENOSPC       /**< No space: allocator or budget exhausted. */
#define FA_EBUSY EBUSY         /**< Object still in use (referenced, mapped...). */
#define FA_EEXIST EEXIST       /**< Already exists (already mapped, already allocated). */
#define FA_ENOENT ENOENT       /**< No such object (free of something never allocated). */
#define FA_ERANGE ERANGE       /**< Outside the managed range. */
#define FA_EOVERFLOW EOVERFLOW /**< Arithmetic would overflow 64 bits. */
#define FA_EFAULT EFAULT       /**< Access outside what the hardware can reach. */
#define FA_EAGAIN EAGAIN       /**< Try again later (resource temporarily short). */
#define FA_EALREADY EALREADY   /**< Operation already done (double free, double unref). */
#define FA_EOPNOTSUPP EOPNOTSUPP /**< Not supported by this format or configuration. */
#ifdef EDQUOT
#define FA_EDQUOT EDQUOT       /**< Over a budget (quota) the caller set for one client. */
#else
#define FA_EDQUOT 122          /**< Over a budget (quota) the caller set for one client. */
#endif
#else
#define FA_EINVAL 22
#define FA_ENOMEM 12
#define FA_ENOSPC 28
#define FA_EBUSY 16
#define FA_EEXIST 17
#define FA_ENOENT 2
#define FA_ERANGE 34
#define FA_EOVERFLOW 75
#define FA_EFAULT 14
#define FA_EAGAIN 11
#define FA_EALREADY 114
#define FA_EOPNOTSUPP 95
#define FA_EDQUOT 122          /**< Over a budget (quota) the caller set for one client. */
#endif
/** @} */

/** @name Compiler helpers
 * @{ */
/** Branch hint: @p x is expected to be true. */
#define FA_LIKELY(x) __builtin_expect(!!(x), 1)
/** Branch hint: @p x is expected to be false. */
#define FA_UNLIKELY(x) __builtin_expect(!!(x), 0)
/** Number of elements of a true array (not a pointer). */
#define FA_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
/** Pointer to the structure of type @p type whose member @p member is at @p ptr. */
#define FA_CONTAINER_OF(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))
/** Compile-time assertion usable in C11, C++ and the kernel. */
#if defined(__cplusplus)
#define FA_STATIC_ASSERT(expr, msg) static_assert(expr, msg)
#else
#define FA_STATIC_ASSERT(expr, msg) _Static_assert(expr, msg)
#endif
/** 64-bit value with only bit @p n set (@p n < 64). */
#define FA_BIT64(n) ((uint64_t)1 << (n))
/** Largest uint64_t value. */
#define FA_U64_MAX (~(uint64_t)0)
/** @} */

/** @name Overridable hooks
 * Define any of these (directly, or in the header named by `FA_CONFIG_HEADER`)
 * before the first fencealloc include to route them into your driver or test
 * harness.
 * @{ */
#ifndef FA_BUG
#if defined(__KERNEL__)
#define FA_BUG() BUG()
#else
/** Unrecoverable internal error. Default: `BUG()` in the kernel, a trap in userspace. */
#define FA_BUG() __builtin_trap()
#endif
#endif

#ifndef FA_ASSERT
#if defined(__KERNEL__)
#define FA_ASSERT(expr) ((void)WARN_ON_ONCE(!(expr)))
#elif defined(NDEBUG)
#define FA_ASSERT(expr) ((void)sizeof(!(expr)))
#else
/**
 * Internal invariant that the library itself maintains; never used for
 * checking caller input (that returns an error). Default: `WARN_ON_ONCE` in the
 * kernel, #FA_BUG in userspace unless `NDEBUG`.
 */
#define FA_ASSERT(expr) ((expr) ? (void)0 : FA_BUG())
#endif
#endif

#ifndef FA_HEAVY_ASSERT
/** Expensive invariant check (O(n) walks); off unless `FA_DEBUG_HEAVY` is defined. */
#if defined(FA_DEBUG_HEAVY)
#define FA_HEAVY_ASSERT(expr) FA_ASSERT(expr)
#else
#define FA_HEAVY_ASSERT(expr) ((void)0)
#endif
#endif

/**
 * Record of the most recent warning, kept when #FA_WARN_HOOK is not overridden
 * in userspace. One record per translation unit (the header is static inline).
 */
struct fa_warn_record {
	unsigned long count; /**< Warnings raised so far in this translation unit. */
	const char *file;    /**< Source file of the last warning. */
	int line;            /**< Source line of the last warning. */
	const char *expr;    /**< Text of the condition that fired. */
};

/**
 * The default userspace warning record of this translation unit.
 * @stage any
 * @return Pointer to the record (never NULL).
 */
static inline struct fa_warn_record *fa_warn_record_get(void)
{
	static struct fa_warn_record rec;
	return &rec;
}

/**
 * Default userspace sink for warnings: counts them and remembers the last one.
 * @param file Source file.
 * @param line Source line.
 * @param expr Condition text.
 */
static inline void fa__warn_default(const char *file, int line, const char *expr)
{
	struct fa_warn_record *r = fa_warn_record_get();

	__atomic_fetch_add(&r->count, 1UL, __ATOMIC_RELAXED);
	r->file = file;
	r->line = line;
	r->expr = expr;
}

#ifndef FA_WARN_HOOK
#if defined(__KERNEL__)
#define FA_WARN_HOOK(file, line, expr) WARN(1, "fencealloc: %s:%d: %s\n", file, line, expr)
#else
/**
 * Called with file, line and condition text when #FA_WARN fires. Default:
 * `WARN()` in the kernel; in userspace a per-translation-unit record
 * (#fa_warn_record_get). Test suites override it to count and print, so they
 * can assert that a misuse warned.
 */
#define FA_WARN_HOOK(file, line, expr) fa__warn_default(file, line, expr)
#endif
#endif

/**
 * Report a caller bug that the library survived (like the kernel's `WARN_ON`).
 * @param cond Condition; when true the warning fires.
 * @return The truth value of @p cond, so it can guard an early return:
 *         `if (FA_WARN(!obj)) return NULL;`.
 */
#define FA_WARN(cond) fa__warn(!!(cond), __FILE__, __LINE__, #cond)

/**
 * Implementation of #FA_WARN.
 * @param cond Evaluated condition.
 * @param file Source file.
 * @param line Source line.
 * @param expr Condition text.
 * @return @p cond.
 */
static inline bool fa__warn(bool cond, const char *file, int line, const char *expr)
{
	if (FA_UNLIKELY(cond))
		FA_WARN_HOOK(file, line, expr);
	return cond;
}
/** @} */

/** @name Allocation context flags
 * Describe what an allocation may do, in the kernel's terms. Allocator
 * interfaces take them and the signalling validator checks them: inside a
 * fence-signalling section only #FA_GFP_NOWAIT is allowed.
 * @{ */
/** Allocation context flags: an OR of `FA_GFP_*` bits. */
typedef unsigned int fa_gfp_t;
/** May sleep and enter direct reclaim (`__GFP_DIRECT_RECLAIM`). */
#define FA_GFP_DIRECT_RECLAIM 0x1u
/** Reclaim may start I/O (`__GFP_IO`). */
#define FA_GFP_IO 0x2u
/** Reclaim may call into filesystems and shrinkers (`__GFP_FS`). */
#define FA_GFP_FS 0x4u
/** Ordinary sleeping allocation (`GFP_KERNEL`). */
#define FA_GFP_KERNEL (FA_GFP_DIRECT_RECLAIM | FA_GFP_IO | FA_GFP_FS)
/** Reclaims, but not through filesystems (`GFP_NOFS`): still waits on MMU notifiers. */
#define FA_GFP_NOFS (FA_GFP_DIRECT_RECLAIM | FA_GFP_IO)
/** Reclaims without I/O (`GFP_NOIO`). */
#define FA_GFP_NOIO (FA_GFP_DIRECT_RECLAIM)
/** Never sleeps, never reclaims (`GFP_NOWAIT` / `GFP_ATOMIC`); may fail. */
#define FA_GFP_NOWAIT 0x0u
/** @} */

/** @name Bit helpers
 * Defined for every input (no undefined shifts or builtins on zero).
 * @{ */

/**
 * Find last (most significant) set bit, 1-based.
 * @stage any
 * @param x Value.
 * @return 0 when @p x is 0, else 1 + the index of the highest set bit (1..64).
 */
static inline unsigned int fa_fls64(uint64_t x)
{
	return x ? 64u - (unsigned int)__builtin_clzll(x) : 0u;
}

/**
 * Find first (least significant) set bit, 1-based.
 * @stage any
 * @param x Value.
 * @return 0 when @p x is 0, else 1 + the index of the lowest set bit (1..64).
 */
static inline unsigned int fa_ffs64(uint64_t x)
{
	return x ? 1u + (unsigned int)__builtin_ctzll(x) : 0u;
}

/**
 * Floor of log2.
 * @stage any
 * @param x Value.
 * @return floor(log2(@p x)) in 0..63, or -1 when @p x is 0.
 */
static inline int fa_ilog2_u64(uint64_t x)
{
	return (int)fa_fls64(x) - 1;
}

/**
 * Power-of-two test.
 * @stage any
 * @param x Value.
 * @return true when @p x is a power of two (0 is not).
 */
static inline bool fa_is_pow2(uint64_t x)
{
	return x != 0 && (x & (x - 1)) == 0;
}

/**
 * Round down to a power-of-two alignment.
 * @stage any
 * @param x Value.
 * @param a Alignment; must be a power of two (asserted).
 * @return Largest multiple of @p a not above @p x.
 */
static inline uint64_t fa_align_down(uint64_t x, uint64_t a)
{
	FA_ASSERT(fa_is_pow2(a));
	return x & ~(a - 1);
}

/**
 * Test alignment.
 * @stage any
 * @param x Value.
 * @param a Alignment; must be a power of two (asserted).
 * @return true when @p x is a multiple of @p a.
 */
static inline bool fa_is_aligned(uint64_t x, uint64_t a)
{
	FA_ASSERT(fa_is_pow2(a));
	return (x & (a - 1)) == 0;
}

/**
 * Checked addition.
 * @stage any
 * @param a First operand.
 * @param b Second operand.
 * @param res Where the sum is stored (the wrapped sum on overflow); must not be NULL.
 * @return true when the sum does not fit in 64 bits.
 */
static inline bool fa_add_overflow(uint64_t a, uint64_t b, uint64_t *res)
{
	FA_ASSERT(res);
	return __builtin_add_overflow(a, b, res);
}

/**
 * Checked multiplication.
 * @stage any
 * @param a First operand.
 * @param b Second operand.
 * @param res Where the product is stored (the wrapped product on overflow); must not be NULL.
 * @return true when the product does not fit in 64 bits.
 */
static inline bool fa_mul_overflow(uint64_t a, uint64_t b, uint64_t *res)
{
	FA_ASSERT(res);
	return __builtin_mul_overflow(a, b, res);
}

/**
 * Round up to a power-of-two alignment, checked.
 * @stage any
 * @param x Value.
 * @param a Alignment.
 * @param res Where the rounded value is stored on success (untouched on
 *        error); must not be NULL.
 * @return 0; -FA_EINVAL when @p a is not a power of two; -FA_EOVERFLOW when the
 *         result does not fit in 64 bits.
 */
static inline int fa_align_up(uint64_t x, uint64_t a, uint64_t *res)
{
	uint64_t sum;

	FA_ASSERT(res);
	if (!fa_is_pow2(a))
		return -FA_EINVAL;
	if (fa_add_overflow(x, a - 1, &sum))
		return -FA_EOVERFLOW;
	*res = sum & ~(a - 1);
	return 0;
}

/**
 * Smaller of two values.
 * @stage any
 * @param a First value.
 * @param b Second value.
 * @return The minimum.
 */
static inline uint64_t fa_min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/**
 * Larger of two values.
 * @stage any
 * @param a First value.
 * @param b Second value.
 * @return The maximum.
 */
static inline uint64_t fa_max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}
/** @} */

/** @name Sequence numbers
 * Wrap-safe ordering of epochs and fence seqnos: @p a is after @p b when it is
 * ahead by less than half the number space (serial-number arithmetic).
 * @{ */

/**
 * Wrap-safe "a comes after b" on 64-bit sequence numbers.
 * @stage any
 * @param a Sequence number.
 * @param b Sequence number.
 * @return true when 0 < a - b < 2^63 (modulo 2^64).
 */
static inline bool fa_seq64_after(uint64_t a, uint64_t b)
{
	uint64_t d = a - b;

	return d != 0 && d < FA_BIT64(63);
}

/**
 * Wrap-safe "a comes after b" on 32-bit sequence numbers.
 * @stage any
 * @param a Sequence number.
 * @param b Sequence number.
 * @return true when 0 < a - b < 2^31 (modulo 2^32).
 */
static inline bool fa_seq32_after(uint32_t a, uint32_t b)
{
	uint32_t d = a - b;

	return d != 0 && d < ((uint32_t)1 << 31);
}
/** @} */

/** @name Atomics
 * Minimal set used by the lock-free lists: the kernel's own primitives in a
 * kernel build, GCC/Clang `__atomic` builtins elsewhere (C and C++ alike).
 * @{ */
#if defined(__KERNEL__)
#define FA_READ_ONCE(x) READ_ONCE(x)
#define FA_WRITE_ONCE(x, v) WRITE_ONCE(x, v)
#define FA_LOAD_ACQUIRE(x) smp_load_acquire(&(x))
#define FA_STORE_RELEASE(x, v) smp_store_release(&(x), v)
#define FA_XCHG(p, v) xchg(p, v)
#define FA_TRY_CMPXCHG(p, oldp, v) try_cmpxchg(p, oldp, v)
#else
/**
 * Load that the compiler may not tear, fuse or move. Promises no ordering
 * with other accesses (the kernel's `READ_ONCE`); the userspace build happens
 * to be stronger (acquire), so code that needs ordering must say so with
 * #FA_LOAD_ACQUIRE or it will be wrong on arm64 and POWER kernels.
 */
#define FA_READ_ONCE(x) __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
/** Store that the compiler may not tear, fuse or move; no ordering promised (see #FA_READ_ONCE). */
#define FA_WRITE_ONCE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)
/** Load-acquire: later accesses are not reordered before it (`smp_load_acquire`). */
#define FA_LOAD_ACQUIRE(x) __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
/** Store-release: earlier accesses are not reordered after it (`smp_store_release`). */
#define FA_STORE_RELEASE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)
/** Atomic exchange with full ordering; returns the old value. */
#define FA_XCHG(p, v) __atomic_exchange_n((p), (v), __ATOMIC_ACQ_REL)
/** Compare-and-swap; on failure *oldp is updated; returns true on success. */
#define FA_TRY_CMPXCHG(p, oldp, v) \
	__atomic_compare_exchange_n((p), (oldp), (v), false, __ATOMIC_RELEASE, __ATOMIC_RELAXED)
#endif
/** @} */

/** @name Intrusive doubly-linked list
 * Circular, with a head node, like the kernel's `list_head`. Not thread-safe:
 * the caller's lock protects it.
 * @{ */

/** A list node, embedded in an object; also used as the list head. */
struct fa_list {
	struct fa_list *next; /**< Next node (the head when last). */
	struct fa_list *prev; /**< Previous node (the head when first). */
};

/** Static initialiser of an empty list head named @p name. */
#define FA_LIST_HEAD_INIT(name) { &(name), &(name) }

/**
 * Make @p head an empty list (or mark a node as unlinked).
 * @stage any
 * @param head List head or node; must not be NULL.
 */
static inline void fa_list_init(struct fa_list *head)
{
	FA_ASSERT(head);
	head->next = head;
	head->prev = head;
}

/**
 * Whether a list is empty (or a node unlinked by fa_list_del_init()).
 * @stage any
 * @param head List head; must not be NULL.
 * @return true when @p head has no entries.
 */
static inline bool fa_list_empty(const struct fa_list *head)
{
	FA_ASSERT(head);
	return head->next == head;
}

/**
 * Link @p node between two adjacent nodes.
 * @param node New node.
 * @param prev Node that will precede it.
 * @param next Node that will follow it.
 */
static inline void fa__list_insert(struct fa_list *node, struct fa_list *prev,
				   struct fa_list *next)
{
	next->prev = node;
	node->next = next;
	node->prev = prev;
	prev->next = node;
}

/**
 * Insert @p node at the front of the list (stack order).
 * @stage any
 * @param node Node to insert (not on any list); must not be NULL.
 * @param head List head; must not be NULL.
 */
static inline void fa_list_add(struct fa_list *node, struct fa_list *head)
{
	FA_ASSERT(node && head);
	fa__list_insert(node, head, head->next);
}

/**
 * Insert @p node at the back of the list (queue order).
 * @stage any
 * @param node Node to insert (not on any list); must not be NULL.
 * @param head List head; must not be NULL.
 */
static inline void fa_list_add_tail(struct fa_list *node, struct fa_list *head)
{
	FA_ASSERT(node && head);
	fa__list_insert(node, head->prev, head);
}

/**
 * Unlink @p node and leave it as an empty list, so that a second delete or an
 * fa_list_empty() test is safe.
 * @stage any
 * @param node Node on a list (or already unlinked); must not be NULL.
 */
static inline void fa_list_del_init(struct fa_list *node)
{
	FA_ASSERT(node);
	node->prev->next = node->next;
	node->next->prev = node->prev;
	fa_list_init(node);
}

/**
 * Move @p node to the back of another (or the same) list.
 * @stage any
 * @param node Node on a list; must not be NULL.
 * @param head Destination head; must not be NULL.
 */
static inline void fa_list_move_tail(struct fa_list *node, struct fa_list *head)
{
	FA_ASSERT(node && head);
	fa_list_del_init(node);
	fa_list_add_tail(node, head);
}

/**
 * Append every entry of @p from to the back of @p to and leave @p from empty.
 * @stage any
 * @param from Source list head; must not be NULL.
 * @param to Destination list head; must not be NULL.
 */
static inline void fa_list_splice_tail_init(struct fa_list *from, struct fa_list *to)
{
	struct fa_list *first, *last;

	FA_ASSERT(from && to);
	if (fa_list_empty(from))
		return;
	first = from->next;
	last = from->prev;
	first->prev = to->prev;
	to->prev->next = first;
	last->next = to;
	to->prev = last;
	fa_list_init(from);
}

/**
 * Whether @p node is the last entry of the list headed by @p head.
 * @stage any
 * @param node Node on the list; must not be NULL.
 * @param head List head.
 * @return true when @p node is last.
 */
static inline bool fa_list_is_last(const struct fa_list *node, const struct fa_list *head)
{
	FA_ASSERT(node);
	return node->next == head;
}

/** Object of type @p type that embeds the list node @p ptr as @p member. */
#define fa_list_entry(ptr, type, member) FA_CONTAINER_OF(ptr, type, member)
/** First object on a non-empty list. */
#define fa_list_first_entry(head, type, member) fa_list_entry((head)->next, type, member)
/** Iterate over the nodes of a list; do not unlink @p pos inside the loop. */
#define fa_list_for_each(pos, head) \
	for ((pos) = (head)->next; (pos) != (head); (pos) = (pos)->next)
/** Iterate over the nodes of a list; @p pos may be unlinked (@p n is scratch). */
#define fa_list_for_each_safe(pos, n, head) \
	for ((pos) = (head)->next, (n) = (pos)->next; (pos) != (head); \
	     (pos) = (n), (n) = (pos)->next)
/** @} */

/** @name Lock-free push / take-all list
 * Any number of producers push concurrently without locks; one consumer at a
 * time takes the whole list with fa_llist_del_all(). Push is `@stage run` safe
 * (no allocation: the node is embedded in the object; no lock). It is
 * lock-free, not wait-free: a compare-and-swap retries only when another push
 * or take succeeded meanwhile, so some thread always makes progress. Entries come out newest first; fa_llist_reverse()
 * restores push order.
 * @{ */

/** A node of an #fa_llist, embedded in the object. */
struct fa_llist_node {
	struct fa_llist_node *next; /**< Next (older) node, or NULL. */
};

/** Head of a lock-free list. */
struct fa_llist {
	struct fa_llist_node *first; /**< Newest node, or NULL when empty. */
};

/**
 * Make @p head empty.
 * @stage any
 * @param head List head; must not be NULL.
 */
static inline void fa_llist_init(struct fa_llist *head)
{
	FA_ASSERT(head);
	head->first = NULL;
}

/**
 * Whether the list looked empty at the moment of the call.
 * @stage any
 * @param head List head; must not be NULL.
 * @return true when no node was on the list.
 */
static inline bool fa_llist_empty(const struct fa_llist *head)
{
	FA_ASSERT(head);
	return FA_READ_ONCE(head->first) == NULL;
}

/**
 * Push a chain of nodes (@p first ... @p last, linked through next) at once.
 * The chain keeps its order and @p first becomes the newest node, as with the
 * kernel's `llist_add_batch()`: to push A then B in one go, link B -> A and
 * pass (B, A); fa_llist_reverse() then yields A, B.
 * @stage any (lock-free, no allocation; safe in a signalling section)
 * @param first First node of the chain; must not be NULL.
 * @param last Last node of the chain (its next is overwritten); must not be NULL.
 * @param head List head; must not be NULL.
 * @return true when the list was empty before the push (the consumer may need a kick).
 */
static inline bool fa_llist_push_batch(struct fa_llist_node *first, struct fa_llist_node *last,
				       struct fa_llist *head)
{
	struct fa_llist_node *old;

	FA_ASSERT(first && last && head);
	old = FA_READ_ONCE(head->first);
	do {
		last->next = old;
	} while (!FA_TRY_CMPXCHG(&head->first, &old, first));
	return old == NULL;
}

/**
 * Push one node.
 * @stage any (lock-free, no allocation; safe in a signalling section)
 * @param node Node, not on any list; must not be NULL.
 * @param head List head; must not be NULL.
 * @return true when the list was empty before the push.
 */
static inline bool fa_llist_push(struct fa_llist_node *node, struct fa_llist *head)
{
	return fa_llist_push_batch(node, node, head);
}

/**
 * Take every node at once, leaving the list empty. Only one consumer may call
 * this at a time for a given list (the caller's lock or a single worker), but
 * producers may keep pushing concurrently.
 * @stage any
 * @param head List head; must not be NULL.
 * @return The nodes, newest first, or NULL.
 */
static inline struct fa_llist_node *fa_llist_del_all(struct fa_llist *head)
{
	FA_ASSERT(head);
	return FA_XCHG(&head->first, (struct fa_llist_node *)NULL);
}

/**
 * Reverse a chain taken with fa_llist_del_all() (newest first → push order).
 * @stage any
 * @param node First node of the chain, or NULL.
 * @return The new first node.
 */
static inline struct fa_llist_node *fa_llist_reverse(struct fa_llist_node *node)
{
	struct fa_llist_node *rev = NULL;

	while (node) {
		struct fa_llist_node *next = node->next;

		node->next = rev;
		rev = node;
		node = next;
	}
	return rev;
}
/** @} */

#ifdef __cplusplus
}
#endif

#endif /* FA_BASE_H */
