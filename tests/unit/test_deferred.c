/* SPDX-License-Identifier: MIT */
/*
 * Deferred-free list: order and epoch gating against a reference model
 * (including wrap-around and out-of-order completion), re-entrant callbacks,
 * the locked drain variant, and concurrent producers with a concurrent
 * drainer (suite deferred_mt): every entry handed over exactly once.
 */
#include "fa_test.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include <fencealloc/deferred.h>

#include "fa_rng.h"

struct item {
	struct fa_deferred_node dn;
	unsigned int id;
	unsigned int seen; /* times handed to a callback */
};

struct log {
	unsigned int ids[4096];
	unsigned int n;
};

static void log_fn(struct fa_deferred_node *n, void *arg)
{
	struct log *l = (struct log *)arg;
	struct item *it = FA_CONTAINER_OF(n, struct item, dn);

	it->seen++;
	cr_assert_lt(l->n, FA_ARRAY_SIZE(l->ids));
	l->ids[l->n++] = it->id;
}

static void fail_fn(struct fa_deferred_node *n, void *arg)
{
	(void)n;
	(void)arg;
	cr_assert_fail("callback called on an empty or ineligible list");
}

TestSuite(deferred, .timeout = 30);

Test(deferred, empty_list)
{
	struct fa_deferred d;
	uint64_t e = 77;
	unsigned long k = 5;

	fa_deferred_init(&d);
	cr_assert_eq(fa_deferred_pending(&d), 0);
	cr_assert_not(fa_deferred_oldest_epoch(&d, &e));
	cr_assert_eq(e, 77, "untouched when empty");
	cr_assert_eq(fa_deferred_drain(&d, 100, fail_fn, NULL), 0);
	cr_assert_null(fa_deferred_splice(&d, 100, &k));
	cr_assert_eq(k, 0);
}

Test(deferred, push_order_within_epoch_and_gating)
{
	static const uint64_t epochs[] = { 5, 3, 7, 3, 1, 9, 2, 2, 8, 4 };
	static const unsigned int first[] = { 4, 6, 7, 1, 3, 9 };  /* epochs <= 4 */
	static const unsigned int second[] = { 0, 2, 8 };          /* epochs 5..8 */
	struct item it[10];
	struct fa_deferred d;
	struct log l;
	uint64_t e;
	unsigned int i;

	memset(&l, 0, sizeof(l));
	fa_deferred_init(&d);
	for (i = 0; i < 10; i++) {
		it[i].id = i;
		it[i].seen = 0;
		fa_deferred_push(&d, &it[i].dn, epochs[i]);
	}
	cr_assert_eq(fa_deferred_pending(&d), 10);
	cr_assert(fa_deferred_oldest_epoch(&d, &e));
	cr_assert_eq(e, 1);

	cr_assert_eq(fa_deferred_drain(&d, 0, fail_fn, NULL), 0);
	cr_assert_eq(fa_deferred_drain(&d, 4, log_fn, &l), 6);
	cr_assert_eq(l.n, 6);
	for (i = 0; i < 6; i++)
		cr_assert_eq(l.ids[i], first[i], "position %u: id %u, want %u", i, l.ids[i], first[i]);
	cr_assert_eq(fa_deferred_pending(&d), 4);
	cr_assert(fa_deferred_oldest_epoch(&d, &e));
	cr_assert_eq(e, 5);

	l.n = 0;
	cr_assert_eq(fa_deferred_drain(&d, 8, log_fn, &l), 3);
	for (i = 0; i < 3; i++)
		cr_assert_eq(l.ids[i], second[i]);
	cr_assert_eq(fa_deferred_drain(&d, 9, log_fn, &l), 1);
	cr_assert_eq(l.ids[3], 5);
	for (i = 0; i < 10; i++)
		cr_assert_eq(it[i].seen, 1);
	cr_assert_eq(fa_deferred_pending(&d), 0);
	cr_assert_not(fa_deferred_oldest_epoch(&d, &e));
}

Test(deferred, epochs_wrap_around)
{
	const uint64_t top = FA_U64_MAX;
	struct item it[6];
	struct fa_deferred d;
	struct log l;
	uint64_t e;
	unsigned int i;
	/* Pushed out of order across the wrap: 1, MAX-1, 0, MAX, 2, MAX-1. */
	const uint64_t epochs[6] = { 1, top - 1, 0, top, 2, top - 1 };

	memset(&l, 0, sizeof(l));
	fa_deferred_init(&d);
	for (i = 0; i < 6; i++) {
		it[i].id = i;
		it[i].seen = 0;
		fa_deferred_push(&d, &it[i].dn, epochs[i]);
	}
	cr_assert(fa_deferred_oldest_epoch(&d, &e));
	cr_assert_eq(e, top - 1, "oldest is before the wrap");
	cr_assert_eq(fa_deferred_drain(&d, top - 2, fail_fn, NULL), 0);
	cr_assert_eq(fa_deferred_drain(&d, top, log_fn, &l), 3);
	cr_assert_eq(l.ids[0], 1u);
	cr_assert_eq(l.ids[1], 5u);
	cr_assert_eq(l.ids[2], 3u);
	cr_assert(fa_deferred_oldest_epoch(&d, &e));
	cr_assert_eq(e, 0);
	cr_assert_eq(fa_deferred_drain(&d, 1, log_fn, &l), 2);
	cr_assert_eq(l.ids[3], 2u);
	cr_assert_eq(l.ids[4], 0u);
	cr_assert_eq(fa_deferred_drain(&d, 2, log_fn, &l), 1);
	cr_assert_eq(l.ids[5], 4u);
	cr_assert_eq(fa_deferred_pending(&d), 0);
}

/*
 * Reference model: random pushes (epochs within a window that crosses the
 * 64-bit wrap) and random drains with a completed epoch that moves forward
 * and sometimes backward (out-of-order completion is the caller's business;
 * the list must gate on whatever it is told). Expected order: eligible
 * entries sorted by epoch, then push order.
 */
#define MODEL_N 2048

struct mentry {
	uint64_t epoch;
	unsigned int id;
	bool pending;
};

static bool model_seq32;

/* Signed distance from base to e, in the list's sequence width. */
static int64_t rel(uint64_t e, uint64_t base)
{
	if (model_seq32)
		return (int32_t)(uint32_t)(e - base);
	return (int64_t)(e - base);
}

static void random_model(bool seq32, uint64_t base, uint64_t seed)
{
	static struct item it[MODEL_N];
	static struct mentry m[MODEL_N];
	static unsigned int expect[MODEL_N];
	struct fa_deferred d;
	struct fa_rng rng;
	struct log *l = (struct log *)calloc(1, sizeof(*l));
	uint64_t epoch = 0;
	unsigned int pushed = 0, round, rounds = (unsigned int)fa_test_iters(300);

	cr_assert_not_null(l);
	model_seq32 = seq32;
	fa_rng_seed(&rng, fa_test_seed(seed));
	for (round = 0; round < rounds; round++) {
		unsigned long got, want = 0;
		unsigned int i, j, npush;
		uint64_t completed;
		bool any = false;
		uint64_t oldest = 0;

		if (seq32)
			fa_deferred_init_seq32(&d);
		else
			fa_deferred_init(&d);
		pushed = 0;
		npush = 1 + (unsigned int)fa_rng_below(&rng, MODEL_N);
		while (pushed < npush) {
			unsigned int burst = 1 + (unsigned int)fa_rng_below(&rng, 64);
			/* mostly monotone epochs, sometimes jumping back */
			uint64_t e = base + fa_rng_below(&rng, 1000);

			for (i = 0; i < burst && pushed < npush; i++) {
				if (fa_rng_below(&rng, 4))
					e += fa_rng_below(&rng, 3);
				else
					e = base + fa_rng_below(&rng, 1000);
				if (seq32) /* upper bits must be ignored */
					e = (e & 0xffffffffULL) | (fa_rng_next(&rng) << 32);
				it[pushed].id = pushed;
				it[pushed].seen = 0;
				m[pushed].epoch = e;
				m[pushed].id = pushed;
				m[pushed].pending = true;
				fa_deferred_push(&d, &it[pushed].dn, e);
				pushed++;
			}
			/* interleave drains with pushes */
			completed = base + fa_rng_below(&rng, 1100);
			want = 0;
			for (j = 0; j < pushed; j++)
				if (m[j].pending && rel(m[j].epoch, completed) <= 0)
					expect[want++] = j;
			/* stable sort of expected ids by epoch (insertion sort; small) */
			for (j = 1; j < want; j++) {
				unsigned int v = expect[j], k = j;

				while (k > 0 && rel(m[expect[k - 1]].epoch, m[v].epoch) > 0) {
					expect[k] = expect[k - 1];
					k--;
				}
				expect[k] = v;
			}
			l->n = 0;
			got = fa_deferred_drain(&d, completed, log_fn, l);
			cr_assert_eq(got, want, "round %u: drained %lu, want %lu", round, got, want);
			for (j = 0; j < want; j++) {
				cr_assert_eq(l->ids[j], expect[j], "round %u pos %u", round, j);
				m[expect[j]].pending = false;
			}
			any = false;
			want = 0;
			for (j = 0; j < pushed; j++) {
				if (!m[j].pending)
					continue;
				want++;
				if (!any || rel(oldest, m[j].epoch) > 0)
					oldest = m[j].epoch;
				any = true;
			}
			cr_assert_eq(fa_deferred_pending(&d), want);
			cr_assert_eq(fa_deferred_oldest_epoch(&d, &epoch), any);
			if (any)
				cr_assert_eq(rel(epoch, oldest), 0);
		}
		l->n = 0;
		fa_deferred_drain(&d, base + 2000, log_fn, l);
		for (j = 0; j < pushed; j++)
			cr_assert_eq(it[j].seen, 1, "round %u: entry %u seen %u times", round, j,
				     it[j].seen);
		cr_assert_eq(fa_deferred_pending(&d), 0);
	}
	free(l);
}

Test(deferred, random_matches_model)
{
	random_model(false, FA_U64_MAX - 500, 0xdefe44edULL);
}

Test(deferred, random_matches_model_seq32)
{
	random_model(true, 0xffffffffULL - 500, 0x5e932ULL);
}

Test(deferred, seq32_wraps_at_2_32)
{
	struct item it[4];
	struct fa_deferred d;
	struct log l;
	uint64_t e = 0;
	unsigned int i;
	/* 32-bit seqnos around the wrap; upper halves differ and must not matter */
	const uint64_t epochs[4] = { 0x1ffffffffULL, 0xfffffffeULL, 0x700000000ULL, 0x5fffffffeULL };

	memset(&l, 0, sizeof(l));
	fa_deferred_init_seq32(&d);
	for (i = 0; i < 4; i++) {
		it[i].id = i;
		it[i].seen = 0;
		fa_deferred_push(&d, &it[i].dn, epochs[i]);
	}
	cr_assert(fa_deferred_oldest_epoch(&d, &e));
	cr_assert_eq((uint32_t)e, 0xfffffffeu);
	cr_assert_eq(fa_deferred_drain(&d, 0xfffffffdULL, fail_fn, NULL), 0);
	cr_assert_eq(fa_deferred_drain(&d, 0xffffffffULL, log_fn, &l), 3);
	cr_assert_eq(l.ids[0], 1u);
	cr_assert_eq(l.ids[1], 3u);
	cr_assert_eq(l.ids[2], 0u);
	cr_assert_eq(fa_deferred_drain(&d, 0x100000000ULL, log_fn, &l), 1, "0 is after 0xffffffff");
	cr_assert_eq(l.ids[3], 2u);

	/* The same epochs in a 64-bit list: 0x700000000 is far in the future. */
	fa_deferred_init(&d);
	for (i = 0; i < 4; i++)
		fa_deferred_push(&d, &it[i].dn, epochs[i]);
	l.n = 0;
	cr_assert_eq(fa_deferred_drain(&d, 0x200000000ULL, log_fn, &l), 2);
	cr_assert_eq(fa_deferred_pending(&d), 2);
	cr_assert_eq(fa_deferred_drain(&d, 0x700000000ULL, log_fn, &l), 2);
}

/* Re-entrancy: a callback that pushes again, eligible or not. */
struct chain_ctx {
	struct fa_deferred *d;
	struct item *items;
	unsigned int n;
	unsigned int next;
	unsigned int calls;
	uint64_t epoch_for_new;
};

static void chain_fn(struct fa_deferred_node *node, void *arg)
{
	struct chain_ctx *c = (struct chain_ctx *)arg;
	struct item *it = FA_CONTAINER_OF(node, struct item, dn);

	it->seen++;
	c->calls++;
	if (c->next < c->n) {
		struct item *nx = &c->items[c->next++];

		fa_deferred_push(c->d, &nx->dn, c->epoch_for_new);
	}
}

Test(deferred, callback_pushes_again)
{
	static struct item items[1000];
	struct fa_deferred d;
	struct chain_ctx c;
	uint64_t e;
	unsigned int i;

	memset(items, 0, sizeof(items));
	fa_deferred_init(&d);
	c.d = &d;
	c.items = items;
	c.n = 1000;
	c.next = 1;
	c.calls = 0;
	c.epoch_for_new = 10;
	fa_deferred_push(&d, &items[0].dn, 10);
	/* Every callback pushes one more eligible entry: one drain takes them all. */
	cr_assert_eq(fa_deferred_drain(&d, 10, chain_fn, &c), 1000);
	cr_assert_eq(c.calls, 1000);
	for (i = 0; i < 1000; i++)
		cr_assert_eq(items[i].seen, 1);
	cr_assert_eq(fa_deferred_pending(&d), 0);

	/* Now the pushed entries are not eligible: they wait, in order. */
	memset(items, 0, sizeof(items));
	c.next = 1;
	c.calls = 0;
	c.n = 4;
	c.epoch_for_new = 11;
	fa_deferred_push(&d, &items[0].dn, 10);
	cr_assert_eq(fa_deferred_drain(&d, 10, chain_fn, &c), 1);
	cr_assert_eq(fa_deferred_pending(&d), 1);
	cr_assert(fa_deferred_oldest_epoch(&d, &e));
	cr_assert_eq(e, 11);
	cr_assert_eq(fa_deferred_drain(&d, 11, chain_fn, &c), 3);
	cr_assert_eq(fa_deferred_pending(&d), 0);
	for (i = 0; i < 4; i++)
		cr_assert_eq(items[i].seen, 1);
}

/* A callback that drains the same list again (same thread): still exactly once. */
struct nested_ctx {
	struct fa_deferred *d;
	struct log *l;
	unsigned int depth;
};

static void nested_fn(struct fa_deferred_node *node, void *arg)
{
	struct nested_ctx *c = (struct nested_ctx *)arg;

	log_fn(node, c->l);
	if (c->depth < 3) {
		c->depth++;
		fa_deferred_drain(c->d, 5, nested_fn, c);
	}
}

Test(deferred, callback_may_drain_the_same_list)
{
	struct item it[20];
	struct fa_deferred d;
	struct log l;
	struct nested_ctx c;
	unsigned int i;

	memset(&l, 0, sizeof(l));
	memset(it, 0, sizeof(it));
	fa_deferred_init(&d);
	for (i = 0; i < 20; i++) {
		it[i].id = i;
		fa_deferred_push(&d, &it[i].dn, i % 10);
	}
	c.d = &d;
	c.l = &l;
	c.depth = 0;
	fa_deferred_drain(&d, 5, nested_fn, &c);
	cr_assert_eq(l.n, 12);
	for (i = 0; i < 20; i++)
		cr_assert_eq(it[i].seen, i % 10 <= 5 ? 1u : 0u, "entry %u", i);
	cr_assert_eq(fa_deferred_pending(&d), 8);
}

/* A callback that frees the object embedding the node (ASan checks the drain never touches it again). */
static void free_fn(struct fa_deferred_node *node, void *arg)
{
	struct item *it = FA_CONTAINER_OF(node, struct item, dn);

	(*(unsigned int *)arg)++;
	memset(it, 0xdd, sizeof(*it));
	free(it);
}

Test(deferred, callback_frees_node)
{
	struct fa_deferred d;
	unsigned int i, freed = 0;

	fa_deferred_init(&d);
	for (i = 0; i < 100; i++) {
		struct item *it = (struct item *)malloc(sizeof(*it));

		cr_assert_not_null(it);
		fa_deferred_push(&d, &it->dn, i % 7);
	}
	cr_assert_eq(fa_deferred_drain(&d, 3, free_fn, &freed), 100 / 7 * 4 + 2);
	cr_assert_eq(fa_deferred_drain(&d, 6, free_fn, &freed), 100 - (100 / 7 * 4 + 2));
	cr_assert_eq(freed, 100);
}

Test(deferred, splice_hands_over_an_ordered_chain)
{
	struct item it[5];
	struct fa_deferred d;
	struct fa_deferred_node *n;
	static const uint64_t epochs[5] = { 2, 1, 2, 9, 1 };
	static const unsigned int order[4] = { 1, 4, 0, 2 };
	unsigned long k = 0;
	unsigned int i;

	fa_deferred_init(&d);
	for (i = 0; i < 5; i++) {
		it[i].id = i;
		fa_deferred_push(&d, &it[i].dn, epochs[i]);
	}
	n = fa_deferred_splice(&d, 2, &k);
	cr_assert_eq(k, 4);
	cr_assert_eq(fa_deferred_pending(&d), 1, "spliced entries are no longer pending");
	for (i = 0; i < 4; i++) {
		cr_assert_not_null(n);
		cr_assert_eq(FA_CONTAINER_OF(n, struct item, dn)->id, order[i]);
		n = n->link.next ? FA_CONTAINER_OF(n->link.next, struct fa_deferred_node, link) : NULL;
	}
	cr_assert_null(n, "chain is NULL-terminated");
	cr_assert_null(fa_deferred_splice(&d, 8, NULL));
	n = fa_deferred_splice(&d, 9, NULL);
	cr_assert_eq(n, &it[3].dn);
	cr_assert_null(n->link.next);
}

/* Locked drain: the lock is dropped exactly around the callbacks. */
struct fake_lock {
	bool held;
	unsigned int locks, unlocks;
	unsigned int calls_unlocked;
	unsigned int calls_locked;
};

static void fake_lock_fn(void *ctx)
{
	struct fake_lock *l = (struct fake_lock *)ctx;

	cr_assert_not(l->held, "lock taken twice");
	l->held = true;
	l->locks++;
}

static void fake_unlock_fn(void *ctx)
{
	struct fake_lock *l = (struct fake_lock *)ctx;

	cr_assert(l->held, "unlock without lock");
	l->held = false;
	l->unlocks++;
}

struct locked_ctx {
	struct fake_lock *lock;
	struct fa_deferred *d;
	struct item *extra;
	unsigned int nextra;
};

static void locked_fn(struct fa_deferred_node *node, void *arg)
{
	struct locked_ctx *c = (struct locked_ctx *)arg;

	(void)node;
	if (c->lock->held)
		c->lock->calls_locked++;
	else
		c->lock->calls_unlocked++;
	if (c->nextra) /* push more: the loop must come back for them */
		fa_deferred_push(c->d, &c->extra[--c->nextra].dn, 1);
}

Test(deferred, drain_locked_drops_the_lock_around_callbacks)
{
	struct item it[8], extra[3];
	struct fa_deferred d;
	struct fake_lock fl;
	struct fa_deferred_lock lk;
	struct locked_ctx c;
	unsigned int i;

	memset(&fl, 0, sizeof(fl));
	lk.lock = fake_lock_fn;
	lk.unlock = fake_unlock_fn;
	lk.ctx = &fl;
	c.lock = &fl;
	c.d = &d;
	c.extra = extra;
	c.nextra = 3;
	fa_deferred_init(&d);
	for (i = 0; i < 8; i++)
		fa_deferred_push(&d, &it[i].dn, i < 6 ? 1 : 5);
	fake_lock_fn(&fl);
	cr_assert_eq(fa_deferred_drain_locked(&d, 1, locked_fn, &c, &lk), 9);
	cr_assert(fl.held, "returns with the lock held");
	cr_assert_eq(fl.calls_locked, 0);
	cr_assert_eq(fl.calls_unlocked, 9);
	cr_assert_eq(fl.locks, fl.unlocks + 1);
	cr_assert_geq(fl.unlocks, 2, "pushes made during processing need a second splice");
	cr_assert_eq(fa_deferred_pending(&d), 2);
	/* nothing eligible: no unlock at all */
	cr_assert_eq(fa_deferred_drain_locked(&d, 4, locked_fn, &c, &lk), 0);
	cr_assert_eq(fl.locks, fl.unlocks + 1);
	fake_unlock_fn(&fl);
}

/*
 * 4 producers x 10^6 pushes, epochs increasing per producer; one drainer
 * drains concurrently while advancing the completed epoch. Every entry must
 * be handed over exactly once, only once eligible, and each producer's
 * entries in the order it pushed them.
 */
#define MT_PRODUCERS 4

struct mt_item {
	struct fa_deferred_node dn;
	unsigned int producer;
	unsigned int seen; /* written by the drainer only */
};

struct mt_ctx {
	struct fa_deferred d;
	struct mt_item *items[MT_PRODUCERS];
	unsigned long per_producer;
	unsigned int producers_done; /* atomic */
	uint64_t completed;          /* drainer-private */
	uint64_t last_epoch[MT_PRODUCERS];
	bool first_seen[MT_PRODUCERS];
	unsigned long bad_order, bad_gate, handled;
};

struct mt_prod {
	struct mt_ctx *c;
	unsigned int id;
};

static void *mt_producer(void *p)
{
	struct mt_prod *pr = (struct mt_prod *)p;
	struct mt_ctx *c = pr->c;
	unsigned long i;

	for (i = 0; i < c->per_producer; i++) {
		struct mt_item *it = &c->items[pr->id][i];

		it->producer = pr->id;
		fa_deferred_push(&c->d, &it->dn, (uint64_t)i);
	}
	__atomic_add_fetch(&c->producers_done, 1u, __ATOMIC_RELEASE);
	return NULL;
}

static void mt_fn(struct fa_deferred_node *n, void *arg)
{
	struct mt_ctx *c = (struct mt_ctx *)arg;
	struct mt_item *it = FA_CONTAINER_OF(n, struct mt_item, dn);
	unsigned int p = it->producer;

	it->seen++;
	c->handled++;
	if (fa_seq64_after(n->epoch, c->completed))
		c->bad_gate++;
	if (c->first_seen[p] && !fa_seq64_after(n->epoch, c->last_epoch[p]))
		c->bad_order++;
	c->first_seen[p] = true;
	c->last_epoch[p] = n->epoch;
}

static void mt_run(unsigned long per_producer, unsigned int producers)
{
	struct mt_ctx *c = (struct mt_ctx *)calloc(1, sizeof(*c));
	struct mt_prod pr[MT_PRODUCERS];
	pthread_t th[MT_PRODUCERS];
	unsigned long total = 0, i;
	unsigned int p, pending_reads = 0;

	cr_assert_not_null(c);
	fa_deferred_init(&c->d);
	c->per_producer = per_producer;
	for (p = 0; p < producers; p++) {
		c->items[p] = (struct mt_item *)calloc(per_producer, sizeof(struct mt_item));
		cr_assert_not_null(c->items[p]);
	}
	for (p = 0; p < producers; p++) {
		pr[p].c = c;
		pr[p].id = p;
		cr_assert_eq(pthread_create(&th[p], NULL, mt_producer, &pr[p]), 0);
	}
	while (__atomic_load_n(&c->producers_done, __ATOMIC_ACQUIRE) < producers) {
		total += fa_deferred_drain(&c->d, c->completed, mt_fn, c);
		c->completed += 997;
		if (fa_deferred_pending(&c->d) <= per_producer * producers)
			pending_reads++;
	}
	for (p = 0; p < producers; p++)
		pthread_join(th[p], NULL);
	c->completed = per_producer;
	total += fa_deferred_drain(&c->d, c->completed, mt_fn, c);

	cr_assert_eq(total, per_producer * producers);
	cr_assert_eq(c->handled, total);
	cr_assert_eq(c->bad_gate, 0, "entries handed over before their epoch");
	cr_assert_eq(c->bad_order, 0, "a producer's entries out of order");
	for (p = 0; p < producers; p++)
		for (i = 0; i < per_producer; i++)
			if (c->items[p][i].seen != 1)
				cr_assert_fail("producer %u entry %lu seen %u times", p, i,
					       c->items[p][i].seen);
	cr_assert_eq(fa_deferred_pending(&c->d), 0);
	cr_log_info("%u producers x %lu: %u concurrent drain rounds\n", producers, per_producer,
		    pending_reads);
	for (p = 0; p < producers; p++)
		free(c->items[p]);
	free(c);
}

TestSuite(deferred_mt, .timeout = 120);

Test(deferred_mt, four_producers_concurrent_drainer_exactly_once)
{
	mt_run(fa_test_iters(1000000), MT_PRODUCERS);
}

/*
 * Two drainers using the locked variant with a real mutex, two producers:
 * every callback runs with its thread's lock dropped (checked per call), and
 * every entry is handed out exactly once.
 */
struct lk_ctx {
	struct fa_deferred d;
	pthread_mutex_t mtx;
	struct mt_item *items;
	unsigned long n;
	unsigned int done; /* atomic: producers finished */
	unsigned long handled; /* atomic */
	unsigned long under_lock; /* atomic: callbacks run while their thread held mtx */
};

/* Whether this thread holds the drainers' mutex: the callback checks it. */
static _Thread_local bool lk_held;

static void lk_lock(void *ctx)
{
	pthread_mutex_lock((pthread_mutex_t *)ctx);
	lk_held = true;
}

static void lk_unlock(void *ctx)
{
	lk_held = false;
	pthread_mutex_unlock((pthread_mutex_t *)ctx);
}

static void lk_fn(struct fa_deferred_node *n, void *arg)
{
	struct lk_ctx *c = (struct lk_ctx *)arg;
	struct mt_item *it = FA_CONTAINER_OF(n, struct mt_item, dn);

	__atomic_add_fetch(&it->seen, 1u, __ATOMIC_RELAXED);
	__atomic_add_fetch(&c->handled, 1UL, __ATOMIC_RELAXED);
	if (lk_held)
		__atomic_add_fetch(&c->under_lock, 1UL, __ATOMIC_RELAXED);
}

static void *lk_producer(void *p)
{
	struct lk_ctx *c = (struct lk_ctx *)((void **)p)[0];
	unsigned long half = (unsigned long)(uintptr_t)((void **)p)[1];
	unsigned long i, from = half ? c->n / 2 : 0, to = half ? c->n : c->n / 2;

	for (i = from; i < to; i++)
		fa_deferred_push(&c->d, &c->items[i].dn, 0);
	__atomic_add_fetch(&c->done, 1u, __ATOMIC_RELEASE);
	return NULL;
}

static void *lk_drainer(void *p)
{
	struct lk_ctx *c = (struct lk_ctx *)p;
	struct fa_deferred_lock lk;

	lk.lock = lk_lock;
	lk.unlock = lk_unlock;
	lk.ctx = &c->mtx;
	for (;;) {
		bool last = __atomic_load_n(&c->done, __ATOMIC_ACQUIRE) == 2;

		lk_lock(&c->mtx);
		fa_deferred_drain_locked(&c->d, 0, lk_fn, c, &lk);
		cr_assert(lk_held, "drain_locked returns with the lock held");
		lk_unlock(&c->mtx);
		if (last)
			break;
	}
	return NULL;
}

Test(deferred_mt, two_locked_drainers_two_producers)
{
	struct lk_ctx *c = (struct lk_ctx *)calloc(1, sizeof(*c));
	pthread_t prod[2], drn[2];
	void *args[2][2];
	unsigned long i;
	unsigned int k;

	cr_assert_not_null(c);
	fa_deferred_init(&c->d);
	pthread_mutex_init(&c->mtx, NULL);
	c->n = fa_test_iters(400000);
	c->items = (struct mt_item *)calloc(c->n, sizeof(*c->items));
	cr_assert_not_null(c->items);
	for (k = 0; k < 2; k++)
		cr_assert_eq(pthread_create(&drn[k], NULL, lk_drainer, c), 0);
	for (k = 0; k < 2; k++) {
		args[k][0] = c;
		args[k][1] = (void *)(uintptr_t)k;
		cr_assert_eq(pthread_create(&prod[k], NULL, lk_producer, args[k]), 0);
	}
	for (k = 0; k < 2; k++)
		pthread_join(prod[k], NULL);
	for (k = 0; k < 2; k++)
		pthread_join(drn[k], NULL);
	cr_assert_eq(c->handled, c->n);
	cr_assert_eq(c->under_lock, 0, "callbacks must run with the lock dropped");
	for (i = 0; i < c->n; i++)
		if (c->items[i].seen != 1)
			cr_assert_fail("entry %lu seen %u times", i, c->items[i].seen);
	cr_assert_eq(fa_deferred_pending(&c->d), 0);
	pthread_mutex_destroy(&c->mtx);
	free(c->items);
	free(c);
}
