/* SPDX-License-Identifier: MIT */
/**
 * @file deferred.h
 * @brief Deferred-free list: pushed in the run stage, drained in cleanup after an epoch.
 *
 * Objects released in the run stage (an unmapped page table, an old mapping
 * node, a buffer reference) may not be freed there: freeing can take locks
 * that are held elsewhere around reclaiming allocations, and the GPU may
 * still walk a page table until the TLB invalidate that follows the unmap has
 * completed. So the run stage pushes the object here and the cleanup stage
 * frees it later, once its epoch has completed (xe's `xe_bo_put_deferred`,
 * drm_gpuvm's `bo_defer`, nouveau freeing page tables only at job cleanup).
 *
 * How it works:
 * - the node (#fa_deferred_node) is embedded in the object, so a push never
 *   allocates. It records the epoch (a TLB-invalidate count, a fence seqno)
 *   that must complete before the object may be freed;
 * - fa_deferred_push() is one atomic add and one compare-and-swap on a
 *   lock-free list (#fa_llist): usable from any context, any thread, inside a
 *   fence-signalling section;
 * - fa_deferred_drain() takes the whole incoming list at once, puts it back in
 *   push order, merges it into a drainer-private backlog kept sorted by epoch
 *   (stable: push order within an epoch), detaches the eligible prefix and
 *   calls the callback on it with no list state held; then it repeats, so that
 *   entries pushed meanwhile (by other threads or by the callback itself) are
 *   handled before it returns. Entries whose epoch has not completed stay in
 *   the backlog, in order, for a later drain. Epochs compare wrap-safely
 *   (fa_seq64_after(); pending epochs must lie within 2^63 of each other).
 *   A list set up with fa_deferred_init_seq32() compares only the low 32
 *   bits (fa_seq32_after()), for 32-bit fence seqnos that wrap at 2^32;
 * - fa_deferred_drain_locked() is the same loop for a caller that serialises
 *   drains with its own lock (say the VM's ref lock) but must not hold it
 *   while freeing: *splice under the lock → unlock → process → relock →
 *   repeat*, the pattern used to issue callbacks without holding the lock
 *   that protects the list. fa_deferred_splice() is the building block for
 *   callers with other needs.
 *
 * **Preconditions: checked.** Every pointer argument is checked: a NULL list,
 * node, callback or lock warns (#FA_WARN) and the call does nothing (a
 * drain or splice hands out nothing and returns 0 / NULL); the optional
 * outputs (`count` of fa_deferred_splice(), `epoch` of
 * fa_deferred_oldest_epoch()) may be NULL. Re-initialising a list that still
 * holds entries forgets them: drain it first.
 *
 * Stage contract:
 * | function                    | stage   | caller lock                          |
 * |-----------------------------|---------|--------------------------------------|
 * | fa_deferred_init(), _seq32 | any     | none (not shared yet)                |
 * | fa_deferred_push()          | any     | none (lock-free)                     |
 * | fa_deferred_drain()         | cleanup | drains serialised (one drainer)      |
 * | fa_deferred_drain_locked()  | cleanup | caller's lock held; dropped around callbacks |
 * | fa_deferred_splice()        | cleanup | drains serialised                    |
 * | fa_deferred_pending()       | any     | none (approximate under concurrency) |
 * | fa_deferred_oldest_epoch()  | cleanup | drains serialised                    |
 *
 * Facts that matter: a callback may free its node and may push again (the
 * drain loop picks the new entries up); it may even drain the same list
 * (each spliced chain is private to the drain that took it). A callback that
 * keeps pushing entries that are already eligible, or producers that never
 * stop pushing eligible entries, keep a drain going (bounded only by what
 * they push). fa_deferred_pending() costs two loads; fa_deferred_oldest_epoch()
 * walks the entries pushed since the last drain. Sorting is
 * free when epochs are pushed in order (the usual case: checked while the
 * incoming chain is reversed) and O(n log r) for r ascending runs otherwise.
 *
 * @code
 * // A VM_BIND job unmaps a range: the run stage pushes the freed page table,
 * // the cleanup worker frees it once the TLB invalidate has completed.
 * struct my_pt { struct fa_deferred_node dnode; void *mem; };
 * struct my_vm { struct fa_deferred dfree; };
 *
 * uint64_t issue_tlb_invalidate(struct my_vm *vm);   // the driver's: returns its seqno
 * uint64_t tlb_completed_seq(struct my_vm *vm);      // last completed invalidate
 * void my_pt_free(struct my_vm *vm, struct my_pt *pt);
 *
 * static void free_pt(struct fa_deferred_node *n, void *arg)
 * {
 *         struct my_pt *pt = FA_CONTAINER_OF(n, struct my_pt, dnode);
 *         my_pt_free((struct my_vm *)arg, pt);        // may take locks, may sleep
 * }
 *
 * void vm_init(struct my_vm *vm)
 * {
 *         fa_deferred_init(&vm->dfree);
 * }
 *
 * void run_job_unlinked(struct my_vm *vm, struct my_pt *pt)   // signalling section
 * {
 *         // the PDE is cleared and flushed; the invalidate is issued, not awaited
 *         fa_deferred_push(&vm->dfree, &pt->dnode, issue_tlb_invalidate(vm));
 * }
 *
 * void free_job_worker(struct my_vm *vm)
 * {
 *         fa_deferred_drain(&vm->dfree, tlb_completed_seq(vm), free_pt, vm);
 * }
 * @endcode
 */
#ifndef FA_DEFERRED_H
#define FA_DEFERRED_H

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * A deferred-free entry, embedded in the object to be freed later.
 * Owned by the list from fa_deferred_push() until the drain calls the
 * callback for it.
 */
struct fa_deferred_node {
	struct fa_llist_node link; /**< Link on the incoming list, the backlog or a spliced chain. */
	uint64_t epoch;            /**< The object may be freed once this epoch has completed. */
};

/**
 * A deferred-free list: a lock-free incoming list that any context pushes to,
 * a backlog private to the drainer (sorted by epoch, push order within an
 * epoch) and counters. Initialise with fa_deferred_init(); treat the members
 * as private.
 */
struct fa_deferred {
	struct fa_llist incoming;          /**< Pushed, not yet seen by a drain (newest first). */
	struct fa_llist_node *backlog;     /**< Seen by a drain, epoch not completed yet (drainer-private). */
	struct fa_llist_node *backlog_tail; /**< Last backlog entry, or NULL when empty. */
	unsigned long pushed;              /**< Entries pushed so far (atomic, wraps). */
	unsigned long handed;              /**< Entries handed to callbacks / spliced out so far (wraps). */
	bool seq32;                        /**< Epochs are 32-bit sequence numbers (low 32 bits compared). */
};

/**
 * Callback that frees (or otherwise finishes) one deferred entry.
 * It runs in the drainer's context with no list state held, may free the
 * object that embeds @p node, and may push new entries.
 * @param node The entry; not referenced by the list any more.
 * @param arg The argument given to the drain.
 */
typedef void (*fa_deferred_fn)(struct fa_deferred_node *node, void *arg);

/**
 * Lock callbacks for fa_deferred_drain_locked(): the caller's lock that
 * serialises drains.
 */
struct fa_deferred_lock {
	void (*lock)(void *ctx);   /**< Take the caller's lock. */
	void (*unlock)(void *ctx); /**< Release the caller's lock. */
	void *ctx;                 /**< Argument to both (the lock itself, typically). */
};

/**
 * Initialise an empty deferred-free list.
 * @stage any
 * @locking none (the list is not shared yet)
 * @param d The list (NULL warns and does nothing). Must not hold entries:
 *        initialising a list with pending entries forgets them.
 */
static inline void fa_deferred_init(struct fa_deferred *d)
{
	if (FA_WARN(!d))
		return;
	fa_llist_init(&d->incoming);
	d->backlog = NULL;
	d->backlog_tail = NULL;
	d->pushed = 0;
	d->handed = 0;
	d->seq32 = false;
}

/**
 * Initialise an empty deferred-free list whose epochs are 32-bit sequence
 * numbers: only the low 32 bits are compared (fa_seq32_after()), so epochs
 * may wrap at 2^32; pending epochs must lie within 2^31 of each other.
 * @stage any
 * @locking none (the list is not shared yet)
 * @param d The list (NULL warns and does nothing).
 */
static inline void fa_deferred_init_seq32(struct fa_deferred *d)
{
	if (FA_WARN(!d))
		return;
	fa_deferred_init(d);
	d->seq32 = true;
}

/** @cond INTERNAL */
/* Atomic counter increment (the only read-modify-write besides the push). */
static inline void fa__deferred_count_inc(unsigned long *p)
{
#if defined(__KERNEL__)
	unsigned long old = READ_ONCE(*p);

	while (!try_cmpxchg(p, &old, old + 1))
		;
#else
	__atomic_fetch_add(p, 1UL, __ATOMIC_RELAXED);
#endif
}

/* Epoch of the node linked through @p l. */
static inline uint64_t fa__deferred_epoch(const struct fa_llist_node *l)
{
	return FA_CONTAINER_OF(l, const struct fa_deferred_node, link)->epoch;
}

/* Wrap-safe "epoch a is after epoch b" in the list's sequence width. */
static inline bool fa__deferred_after(bool seq32, uint64_t a, uint64_t b)
{
	/* mask before narrowing: a plain cast of a wide constant trips sparse */
	return seq32 ? fa_seq32_after((uint32_t)(a & 0xffffffffu), (uint32_t)(b & 0xffffffffu))
		     : fa_seq64_after(a, b);
}

/* Whether @p a must come after @p b in the backlog (strictly later epoch). */
static inline bool fa__deferred_later(bool seq32, const struct fa_llist_node *a,
				      const struct fa_llist_node *b)
{
	return fa__deferred_after(seq32, fa__deferred_epoch(a), fa__deferred_epoch(b));
}

/*
 * Cut the ascending run that starts at @p head off the chain. Returns the
 * run's last node; *rest receives the remainder (or NULL).
 */
static inline struct fa_llist_node *fa__deferred_cut_run(bool seq32, struct fa_llist_node *head,
							 struct fa_llist_node **rest)
{
	struct fa_llist_node *n = head;

	while (n->next && !fa__deferred_later(seq32, n, n->next))
		n = n->next;
	*rest = n->next;
	n->next = NULL;
	return n;
}

/*
 * Stable merge of two sorted chains (a's entries first on equal epochs).
 * Either may be NULL. Returns the head; *tail receives the last node.
 */
static inline struct fa_llist_node *fa__deferred_merge(bool seq32, struct fa_llist_node *a,
						       struct fa_llist_node *a_tail,
						       struct fa_llist_node *b,
						       struct fa_llist_node *b_tail,
						       struct fa_llist_node **tail)
{
	struct fa_llist_node head;
	struct fa_llist_node *t = &head;

	while (a && b) {
		if (fa__deferred_later(seq32, a, b)) {
			t->next = b;
			b = b->next;
		} else {
			t->next = a;
			a = a->next;
		}
		t = t->next;
	}
	t->next = a ? a : b;
	if (a)
		*tail = a_tail;
	else if (b)
		*tail = b_tail;
	else
		*tail = t == &head ? NULL : t;
	return head.next;
}

/*
 * Stable natural merge sort of a chain by epoch (no recursion, O(1) space):
 * each pass merges neighbouring ascending runs. Returns the head (non-NULL
 * input) and the last node in *tail.
 */
static inline struct fa_llist_node *fa__deferred_sort(bool seq32, struct fa_llist_node *head,
						      struct fa_llist_node **tail)
{
	for (;;) {
		struct fa_llist_node out;
		struct fa_llist_node *out_tail = &out, *p = head;
		unsigned int runs = 0;

		out.next = NULL;
		while (p) {
			struct fa_llist_node *a = p, *b, *a_tail, *b_tail = NULL, *m_tail;

			a_tail = fa__deferred_cut_run(seq32, a, &p);
			b = p;
			if (b)
				b_tail = fa__deferred_cut_run(seq32, b, &p);
			out_tail->next = fa__deferred_merge(seq32, a, a_tail, b, b_tail, &m_tail);
			out_tail = m_tail;
			runs++;
		}
		head = out.next;
		if (runs <= 1) {
			*tail = out_tail;
			return head;
		}
	}
}

/*
 * Reverse a chain taken from the incoming list (newest first) into push
 * order, noting whether it came out sorted by epoch (the usual case, which
 * then skips the sort). *tail receives the last node (the newest-first head).
 */
static inline struct fa_llist_node *fa__deferred_reverse(bool seq32, struct fa_llist_node *node,
							 struct fa_llist_node **tail, bool *sorted)
{
	struct fa_llist_node *rev = NULL;
	bool ok = true;

	*tail = node;
	while (node) {
		struct fa_llist_node *next = node->next;

		/* node was pushed just before rev */
		if (rev && fa__deferred_later(seq32, node, rev))
			ok = false;
		node->next = rev;
		rev = node;
		node = next;
	}
	*sorted = ok;
	return rev;
}

/* Move everything pushed so far into the backlog, keeping it sorted. */
static inline void fa__deferred_collect(struct fa_deferred *d)
{
	struct fa_llist_node *in = fa_llist_del_all(&d->incoming);
	struct fa_llist_node *tail;
	bool sorted;

	if (!in)
		return;
	in = fa__deferred_reverse(d->seq32, in, &tail, &sorted);
	if (!sorted)
		in = fa__deferred_sort(d->seq32, in, &tail);
	if (!d->backlog) {
		d->backlog = in;
		d->backlog_tail = tail;
	} else if (!fa__deferred_later(d->seq32, d->backlog_tail, in)) {
		/* Usual case: epochs pushed in order, append. */
		d->backlog_tail->next = in;
		d->backlog_tail = tail;
	} else {
		d->backlog = fa__deferred_merge(d->seq32, d->backlog, d->backlog_tail, in, tail,
						&d->backlog_tail);
	}
}
/** @endcond */

/**
 * Queue @p node to be handed to a drain once @p epoch has completed.
 * @stage any (run-safe: lock-free, no allocation, never sleeps)
 * @locking none; any number of concurrent pushers and one drainer
 * @param d The list (NULL warns and queues nothing).
 * @param node Entry embedded in the object; not on any list (NULL warns).
 * @param epoch The object may be freed once this epoch has completed
 *              (fa_deferred_drain() with a completed epoch not before it).
 */
static inline void fa_deferred_push(struct fa_deferred *d, struct fa_deferred_node *node,
				    uint64_t epoch)
{
	if (FA_WARN(!d || !node))
		return;
	node->epoch = epoch;
	/* Count first: a drain can only hand out what is already counted. */
	fa__deferred_count_inc(&d->pushed);
	fa_llist_push(&node->link, &d->incoming);
}

/**
 * Detach, in order, every entry whose epoch has completed: the "splice" step
 * of a drain. The caller then owns the chain (linked through
 * `link.next`, NULL-terminated, epoch order, push order within an epoch) and
 * must finish every entry on it. Entries that are not eligible stay queued.
 * @stage cleanup
 * @locking drains serialised (the caller's drain lock, or a single worker);
 *          concurrent pushes are fine
 * @param d The list (NULL warns: nothing detached, @p count set to 0).
 * @param completed_epoch The newest completed epoch: entries with
 *        `!fa_seq64_after(epoch, completed_epoch)` are eligible (32-bit
 *        comparison for a list set up with fa_deferred_init_seq32()).
 * @param count Where the number of detached entries is stored (may be NULL).
 * @return The first detached entry, or NULL when nothing is eligible.
 */
static inline struct fa_deferred_node *fa_deferred_splice(struct fa_deferred *d,
							   uint64_t completed_epoch,
							   unsigned long *count)
{
	struct fa_llist_node *first, *last = NULL, *n;
	unsigned long k = 0;

	if (FA_WARN(!d)) {
		if (count)
			*count = 0;
		return NULL;
	}
	fa__deferred_collect(d);
	first = d->backlog;
	for (n = first; n && !fa__deferred_after(d->seq32, fa__deferred_epoch(n), completed_epoch);
	     n = n->next) {
		last = n;
		k++;
	}
	if (count)
		*count = k;
	if (!last)
		return NULL;
	d->backlog = last->next;
	if (!d->backlog)
		d->backlog_tail = NULL;
	last->next = NULL;
	/* release: the pushes counted in @c pushed that these entries came from
	 * are visible to whoever reads this new value (fa_deferred_pending()). */
	FA_STORE_RELEASE(d->handed, d->handed + k);
	return FA_CONTAINER_OF(first, struct fa_deferred_node, link);
}

/** @cond INTERNAL */
/* Hand a spliced chain to @p fn; reads the next link before the callback may free. */
static inline void fa__deferred_run(struct fa_deferred_node *node, fa_deferred_fn fn, void *arg)
{
	while (node) {
		struct fa_llist_node *next = node->link.next;

		node->link.next = NULL;
		fn(node, arg);
		node = next ? FA_CONTAINER_OF(next, struct fa_deferred_node, link) : NULL;
	}
}
/** @endcond */

/**
 * Hand every eligible entry to @p fn, repeating until nothing eligible is
 * left (entries pushed during the drain, including by @p fn, are included).
 * Calls `fn(node, arg)` for every entry whose epoch is not after
 * @p completed_epoch, in epoch order and push order within an epoch; keeps
 * the rest, in order, for a later drain.
 * @stage cleanup (calls @p fn, which may sleep, take locks and free)
 * @locking drains serialised (one drainer at a time, e.g. the cleanup
 *          worker); concurrent pushes are fine. No lock of the library's is
 *          held while @p fn runs.
 * @param d The list (NULL warns and drains nothing).
 * @param completed_epoch The newest completed epoch.
 * @param fn Callback; may free the node and may push again (NULL warns and
 *        drains nothing: the entries stay queued).
 * @param arg Passed to @p fn.
 * @return The number of entries handed to @p fn.
 */
static inline unsigned long fa_deferred_drain(struct fa_deferred *d, uint64_t completed_epoch,
					      fa_deferred_fn fn, void *arg)
{
	unsigned long total = 0, k;
	struct fa_deferred_node *chain;

	if (FA_WARN(!d || !fn))
		return 0;
	while ((chain = fa_deferred_splice(d, completed_epoch, &k)) != NULL) {
		fa__deferred_run(chain, fn, arg);
		total += k;
	}
	return total;
}

/**
 * fa_deferred_drain() for a caller whose lock serialises drains but must not
 * be held while entries are freed: *splice under the lock → unlock → process
 * → relock → repeat* until nothing eligible is left. Because each spliced
 * chain is private, several threads may drain this way at once; only the
 * splices are serialised (by the lock).
 * @stage cleanup
 * @locking called with @p lock held; returns with it held; it is dropped
 *          while @p fn runs
 * @param d The list (NULL warns and drains nothing).
 * @param completed_epoch The newest completed epoch.
 * @param fn Callback; may free the node, push again, or take @p lock itself
 *        (NULL warns and drains nothing).
 * @param arg Passed to @p fn.
 * @param lock The caller's lock (lock/unlock callbacks; NULL, or a missing
 *        callback, warns and drains nothing).
 * @return The number of entries handed to @p fn by this call.
 */
static inline unsigned long fa_deferred_drain_locked(struct fa_deferred *d,
						     uint64_t completed_epoch, fa_deferred_fn fn,
						     void *arg, const struct fa_deferred_lock *lock)
{
	unsigned long total = 0, k;
	struct fa_deferred_node *chain;

	if (FA_WARN(!d || !fn || !lock || !lock->lock || !lock->unlock))
		return 0;
	while ((chain = fa_deferred_splice(d, completed_epoch, &k)) != NULL) {
		lock->unlock(lock->ctx);
		fa__deferred_run(chain, fn, arg);
		lock->lock(lock->ctx);
		total += k;
	}
	return total;
}

/**
 * Number of entries pushed and not yet handed to a callback (or spliced out).
 * @stage any
 * @locking none; exact when no push or drain runs concurrently, otherwise a
 *          snapshot that may be slightly stale (never below zero)
 * @param d The list (NULL warns and gives 0).
 * @return Pending entries.
 */
static inline unsigned long fa_deferred_pending(const struct fa_deferred *d)
{
	unsigned long handed, pushed;

	if (FA_WARN(!d))
		return 0;
	/* Read handed first, with acquire so that the load of pushed cannot be
	 * satisfied earlier: pushed only grows and always covers handed. */
	handed = FA_LOAD_ACQUIRE(d->handed);
	pushed = FA_READ_ONCE(d->pushed);
	return pushed - handed;
}

/**
 * Oldest (earliest in wrap-safe order) epoch among the pending entries:
 * the epoch that must complete before the next entry can be freed.
 * Walks the entries pushed since the last drain.
 * @stage cleanup
 * @locking drains serialised with this call (a drain may free the entries
 *          it walks); concurrent pushes are fine
 * @param d The list (NULL warns and gives false).
 * @param epoch Where the epoch is stored when there is one (untouched
 *        otherwise); may be NULL to ask only whether an entry is pending.
 * @return true when an entry is pending, false when the list is empty.
 */
static inline bool fa_deferred_oldest_epoch(const struct fa_deferred *d, uint64_t *epoch)
{
	const struct fa_llist_node *n;
	bool found = false;
	uint64_t best = 0;

	if (FA_WARN(!d))
		return false;
	n = FA_READ_ONCE(d->incoming.first);
	if (d->backlog) {
		best = fa__deferred_epoch(d->backlog);
		found = true;
	}
	for (; n; n = n->next) {
		uint64_t e = fa__deferred_epoch(n);

		if (!found || fa__deferred_after(d->seq32, best, e))
			best = e;
		found = true;
	}
	if (found && epoch)
		*epoch = best;
	return found;
}

#ifdef __cplusplus
}
#endif

#endif /* FA_DEFERRED_H */
