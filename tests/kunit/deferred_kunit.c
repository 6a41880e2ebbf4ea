// SPDX-License-Identifier: MIT
/*
 * fencealloc_deferred: objects released in the run stage are pushed
 * (lock-free, no allocation) and freed at cleanup once their epoch has
 * completed. Pushers run on kthreads while the test drains; drains splice
 * under the caller's mutex and free without it; epochs compare wrap-safely,
 * in 64 and 32 bits.
 */
#include "fa_kunit.h"

#include <linux/completion.h>
#include <linux/kthread.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include <fencealloc/deferred.h>
#include <fencealloc/signalling.h>

struct fa_kd_obj {
	struct fa_deferred_node dnode;
	unsigned int id;
	uint64_t epoch;
	int handed;		/* times a drain handed it out */
};

/* What a drain saw: counts, order, and any entry handed out too early. */
struct fa_kd_seen {
	uint64_t completed;
	uint64_t last_epoch;
	bool seq32;
	bool ordered;
	unsigned long n, early;
};

static bool fa_kd_after(bool seq32, uint64_t a, uint64_t b)
{
	return seq32 ? fa_seq32_after((uint32_t)a, (uint32_t)b) : fa_seq64_after(a, b);
}

static void fa_kd_cb(struct fa_deferred_node *node, void *arg)
{
	struct fa_kd_obj *o = FA_CONTAINER_OF(node, struct fa_kd_obj, dnode);
	struct fa_kd_seen *s = arg;

	o->handed++;
	if (fa_kd_after(s->seq32, o->epoch, s->completed))
		s->early++;
	if (s->n && fa_kd_after(s->seq32, s->last_epoch, o->epoch))
		s->ordered = false;
	s->last_epoch = o->epoch;
	s->n++;
}

static void fa_kd_seen_init(struct fa_kd_seen *s, uint64_t completed, bool seq32)
{
	memset(s, 0, sizeof(*s));
	s->completed = completed;
	s->seq32 = seq32;
	s->ordered = true;
}

/* ------------------------------------------------------ order and epochs */
struct fa_kd_pattern {
	const char *name;
	uint64_t base;	/* first epoch */
	int stride;	/* epoch step per push (may be 0 or negative) */
	unsigned int n;
	bool seq32;
};

static const struct fa_kd_pattern fa_kd_patterns[] = {
	{ "ascending", 1, 1, 64, false },
	{ "all one epoch", 7, 0, 64, false },
	{ "descending", 1000, -1, 64, false },
	{ "ascending by 3", 0, 3, 100, false },
	{ "64-bit wrap", ~0ull - 20, 1, 41, false },
	{ "64-bit wrap, descending", 20, -1, 41, false },
	{ "32-bit wrap", 0xffffffffull - 20, 1, 41, true },
	{ "32-bit wrap, descending", 0x100000014ull, -1, 41, true },
};

static void fa_kd_pattern_desc(const struct fa_kd_pattern *p, char *desc)
{
	strscpy(desc, p->name, KUNIT_PARAM_DESC_SIZE);
}
KUNIT_ARRAY_PARAM(fa_kd_pattern, fa_kd_patterns, fa_kd_pattern_desc);

/*
 * Drains hand out exactly the entries whose epoch has completed, in epoch
 * order (push order within an epoch), each exactly once, whatever order they
 * were pushed in and across the wrap of the epoch counter.
 */
static void fa_deferred_test_epoch_order(struct kunit *test)
{
	const struct fa_kd_pattern *p = test->param_value;
	struct fa_kd_obj *objs;
	struct fa_deferred d;
	struct fa_kd_seen s;
	uint64_t mid, hi, e;
	unsigned int i, want = 0;

	objs = kunit_kcalloc(test, p->n, sizeof(*objs), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, objs);
	if (p->seq32)
		fa_deferred_init_seq32(&d);
	else
		fa_deferred_init(&d);
	for (i = 0; i < p->n; i++) {
		objs[i].id = i;
		objs[i].epoch = p->base + (int64_t)p->stride * i;
		fa_deferred_push(&d, &objs[i].dnode, objs[i].epoch);
	}
	KUNIT_EXPECT_EQ(test, fa_deferred_pending(&d), (unsigned long)p->n);
	/* the middle epoch in push order, and the newest */
	mid = objs[p->n / 2].epoch;
	hi = p->stride >= 0 ? objs[p->n - 1].epoch : objs[0].epoch;
	for (i = 0; i < p->n; i++)
		want += !fa_kd_after(p->seq32, objs[i].epoch, mid);
	KUNIT_EXPECT_TRUE(test, fa_deferred_oldest_epoch(&d, &e));
	fa_kd_seen_init(&s, mid, p->seq32);
	KUNIT_EXPECT_EQ(test, fa_deferred_drain(&d, mid, fa_kd_cb, &s), (unsigned long)want);
	KUNIT_EXPECT_EQ(test, s.early, 0ul);
	KUNIT_EXPECT_TRUE(test, s.ordered);
	KUNIT_EXPECT_EQ(test, fa_deferred_pending(&d), (unsigned long)(p->n - want));
	fa_kd_seen_init(&s, hi, p->seq32);
	KUNIT_EXPECT_EQ(test, fa_deferred_drain(&d, hi, fa_kd_cb, &s), (unsigned long)(p->n - want));
	KUNIT_EXPECT_TRUE(test, s.ordered);
	KUNIT_EXPECT_EQ(test, fa_deferred_pending(&d), 0ul);
	KUNIT_EXPECT_FALSE(test, fa_deferred_oldest_epoch(&d, &e));
	for (i = 0; i < p->n; i++)
		KUNIT_EXPECT_EQ_MSG(test, objs[i].handed, 1, "entry %u (epoch %llu)", i,
				    objs[i].epoch);
}

/* A drain before anything completed hands nothing out and loses nothing. */
static void fa_deferred_test_nothing_eligible(struct kunit *test)
{
	struct fa_kd_obj o[3] = {};
	struct fa_deferred d;
	struct fa_kd_seen s;
	uint64_t e = 0;

	fa_deferred_init(&d);
	fa_deferred_push(&d, &o[0].dnode, o[0].epoch = 10);
	fa_deferred_push(&d, &o[1].dnode, o[1].epoch = 12);
	fa_deferred_push(&d, &o[2].dnode, o[2].epoch = 11);
	fa_kd_seen_init(&s, 9, false);
	KUNIT_EXPECT_EQ(test, fa_deferred_drain(&d, 9, fa_kd_cb, &s), 0ul);
	KUNIT_EXPECT_TRUE(test, fa_deferred_oldest_epoch(&d, &e));
	KUNIT_EXPECT_EQ(test, e, 10ull);
	KUNIT_EXPECT_EQ(test, fa_deferred_pending(&d), 3ul);
	fa_kd_seen_init(&s, 12, false);
	KUNIT_EXPECT_EQ(test, fa_deferred_drain(&d, 12, fa_kd_cb, &s), 3ul);
	KUNIT_EXPECT_TRUE(test, s.ordered);
}

/* A callback that pushes again: the same drain picks the new entry up. */
struct fa_kd_chain {
	struct fa_deferred *d;
	struct fa_kd_obj *next;
	unsigned int calls;
};

static void fa_kd_repush_cb(struct fa_deferred_node *node, void *arg)
{
	struct fa_kd_chain *c = arg;

	(void)node;
	c->calls++;
	if (c->next) {
		struct fa_kd_obj *n = c->next;

		c->next = NULL;
		fa_deferred_push(c->d, &n->dnode, 1);
	}
}

static void fa_deferred_test_callback_pushes_again(struct kunit *test)
{
	struct fa_kd_obj a = {}, b = {};
	struct fa_deferred d;
	struct fa_kd_chain c;

	fa_deferred_init(&d);
	c.d = &d;
	c.next = &b;
	c.calls = 0;
	fa_deferred_push(&d, &a.dnode, 1);
	KUNIT_EXPECT_EQ(test, fa_deferred_drain(&d, 1, fa_kd_repush_cb, &c), 2ul);
	KUNIT_EXPECT_EQ(test, c.calls, 2u);
	KUNIT_EXPECT_EQ(test, fa_deferred_pending(&d), 0ul);
}

/* A callback frees its own object (the usual case): the drain does not touch it after. */
static void fa_kd_kfree_cb(struct fa_deferred_node *node, void *arg)
{
	unsigned long *freed = arg;

	kfree(FA_CONTAINER_OF(node, struct fa_kd_obj, dnode));
	(*freed)++;
}

static void fa_deferred_test_callback_frees(struct kunit *test)
{
	struct fa_deferred d;
	unsigned long freed = 0;
	unsigned int i;

	fa_deferred_init(&d);
	for (i = 0; i < 100; i++) {
		struct fa_kd_obj *o = kzalloc(sizeof(*o), GFP_KERNEL);

		KUNIT_ASSERT_NOT_NULL(test, o);
		fa_deferred_push(&d, &o->dnode, i % 7);
	}
	KUNIT_EXPECT_EQ(test, fa_deferred_drain(&d, 6, fa_kd_kfree_cb, &freed), 100ul);
	KUNIT_EXPECT_EQ(test, freed, 100ul);
}

/* --------------------------------------- splice under a mutex, free without */
struct fa_kd_locked {
	struct mutex lock;
	bool held_in_cb;
	struct fa_kd_seen seen;
};

static void fa_kd_lock(void *ctx)
{
	mutex_lock(&((struct fa_kd_locked *)ctx)->lock);
}

static void fa_kd_unlock(void *ctx)
{
	mutex_unlock(&((struct fa_kd_locked *)ctx)->lock);
}

static void fa_kd_locked_cb(struct fa_deferred_node *node, void *arg)
{
	struct fa_kd_locked *l = arg;

	if (mutex_is_locked(&l->lock))
		l->held_in_cb = true;
	fa_kd_cb(node, &l->seen);
	mutex_lock(&l->lock);	/* a callback may take the drain lock itself */
	mutex_unlock(&l->lock);
}

static void fa_deferred_test_drain_locked_drops_lock(struct kunit *test)
{
	struct fa_deferred_lock lk = { fa_kd_lock, fa_kd_unlock, NULL };
	struct fa_kd_obj o[32] = {};
	struct fa_kd_locked l;
	struct fa_deferred d;
	unsigned int i;

	mutex_init(&l.lock);
	lk.ctx = &l;
	l.held_in_cb = false;
	fa_kd_seen_init(&l.seen, 20, false);
	fa_deferred_init(&d);
	for (i = 0; i < 32; i++)
		fa_deferred_push(&d, &o[i].dnode, o[i].epoch = i);
	mutex_lock(&l.lock);
	KUNIT_EXPECT_EQ(test, fa_deferred_drain_locked(&d, 20, fa_kd_locked_cb, &l, &lk), 21ul);
	KUNIT_EXPECT_TRUE(test, mutex_is_locked(&l.lock));	/* returns with it held */
	mutex_unlock(&l.lock);
	KUNIT_EXPECT_FALSE(test, l.held_in_cb);
	KUNIT_EXPECT_TRUE(test, l.seen.ordered);
	KUNIT_EXPECT_EQ(test, l.seen.early, 0ul);
	KUNIT_EXPECT_EQ(test, fa_deferred_pending(&d), 11ul);
	fa_kd_seen_init(&l.seen, 31, false);
	mutex_lock(&l.lock);
	KUNIT_EXPECT_EQ(test, fa_deferred_drain_locked(&d, 31, fa_kd_locked_cb, &l, &lk), 11ul);
	mutex_unlock(&l.lock);
	KUNIT_EXPECT_TRUE(test, debug_locks);
}

/* The splice step alone: an epoch-ordered, NULL-terminated private chain. */
static void fa_deferred_test_splice_chain(struct kunit *test)
{
	struct fa_kd_obj o[10] = {};
	struct fa_deferred_node *n;
	struct fa_deferred d;
	unsigned long k = 99;
	uint64_t last = 0;
	unsigned int i, seen = 0;

	fa_deferred_init(&d);
	for (i = 0; i < 10; i++)
		fa_deferred_push(&d, &o[i].dnode, o[i].epoch = (i * 7) % 10);
	KUNIT_EXPECT_NULL(test, fa_deferred_splice(&d, ~0ull, &k));	/* before 0: nothing */
	KUNIT_EXPECT_EQ(test, k, 0ul);
	n = fa_deferred_splice(&d, 4, &k);
	KUNIT_EXPECT_EQ(test, k, 5ul);
	for (; n; n = n->link.next ? FA_CONTAINER_OF(n->link.next, struct fa_deferred_node, link) : NULL) {
		KUNIT_EXPECT_LE(test, last, n->epoch);
		KUNIT_EXPECT_LE(test, n->epoch, 4ull);
		last = n->epoch;
		seen++;
	}
	KUNIT_EXPECT_EQ(test, seen, 5u);
	KUNIT_EXPECT_EQ(test, fa_deferred_pending(&d), 5ul);
	KUNIT_EXPECT_NOT_NULL(test, fa_deferred_splice(&d, 9, &k));
	KUNIT_EXPECT_EQ(test, k, 5ul);
}

/* --------------------------------------------------- concurrent pushers */
#define FA_KD_PER_THREAD 3000u

struct fa_kd_pusher {
	struct fa_deferred *d;
	struct fa_kd_obj *objs;
	unsigned int n;
	uint64_t *epoch;	/* the current epoch, advanced by the drainer */
	struct completion done;
};

/* A run stage on a kthread: push inside a signalling section, as a scheduler would. */
static int fa_kd_pusher_fn(void *arg)
{
	struct fa_kd_pusher *p = arg;
	unsigned int i;

	for (i = 0; i < p->n; i++) {
		fa_signalling_cookie_t c = fa_signalling_begin();
		uint64_t e = READ_ONCE(*p->epoch) + 1;

		p->objs[i].epoch = e;
		fa_deferred_push(p->d, &p->objs[i].dnode, e);
		fa_signalling_end(c);
		if ((i & 63) == 0)
			cond_resched();
	}
	complete(&p->done);
	return 0;
}

struct fa_kd_threads {
	const char *name;
	unsigned int threads;
};

static const struct fa_kd_threads fa_kd_threadss[] = {
	{ "1 pusher", 1 }, { "2 pushers", 2 }, { "4 pushers", 4 }, { "8 pushers", 8 },
};

static void fa_kd_threads_desc(const struct fa_kd_threads *t, char *desc)
{
	strscpy(desc, t->name, KUNIT_PARAM_DESC_SIZE);
}
KUNIT_ARRAY_PARAM(fa_kd_threads, fa_kd_threadss, fa_kd_threads_desc);

/*
 * Pushers on kthreads, the drainer here advancing the epoch and draining
 * while they run: every entry is handed out exactly once, never before its
 * epoch completed. (UML has one CPU: the threads interleave at scheduling
 * points, so this checks the protocol, not memory ordering on SMP.)
 */
static void fa_deferred_test_concurrent_pushers(struct kunit *test)
{
	unsigned int t, i, nt = ((const struct fa_kd_threads *)test->param_value)->threads;
	struct fa_kd_pusher *p;
	struct fa_deferred d;
	struct fa_kd_seen s;
	uint64_t epoch = 0;
	unsigned long handed = 0;
	bool all_done = false;

	p = kunit_kcalloc(test, nt, sizeof(*p), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	fa_deferred_init(&d);
	for (t = 0; t < nt; t++) {
		struct task_struct *k;

		p[t].d = &d;
		p[t].n = FA_KD_PER_THREAD;
		p[t].epoch = &epoch;
		p[t].objs = vzalloc(sizeof(*p[t].objs) * FA_KD_PER_THREAD);
		KUNIT_ASSERT_NOT_NULL(test, p[t].objs);
		init_completion(&p[t].done);
		k = kthread_run(fa_kd_pusher_fn, &p[t], "fa_kd_push/%u", t);
		KUNIT_ASSERT_FALSE(test, IS_ERR(k));
	}
	while (!all_done) {
		all_done = true;
		for (t = 0; t < nt; t++)
			all_done &= completion_done(&p[t].done);
		WRITE_ONCE(epoch, epoch + 1);
		fa_kd_seen_init(&s, epoch - 1, false);
		handed += fa_deferred_drain(&d, epoch - 1, fa_kd_cb, &s);
		KUNIT_EXPECT_EQ(test, s.early, 0ul);
		cond_resched();
	}
	fa_kd_seen_init(&s, ~0ull >> 1, false);
	handed += fa_deferred_drain(&d, epoch + 1, fa_kd_cb, &s);
	KUNIT_EXPECT_EQ(test, handed, (unsigned long)nt * FA_KD_PER_THREAD);
	KUNIT_EXPECT_EQ(test, fa_deferred_pending(&d), 0ul);
	for (t = 0; t < nt; t++) {
		for (i = 0; i < FA_KD_PER_THREAD; i++)
			if (p[t].objs[i].handed != 1) {
				KUNIT_FAIL(test, "thread %u entry %u handed %d times", t, i,
					   p[t].objs[i].handed);
				break;
			}
		vfree(p[t].objs);
	}
	kunit_info(test, "%u pushers: %lu entries, final epoch %llu\n", nt, handed, epoch);
}

static struct kunit_case fa_deferred_cases[] = {
	KUNIT_CASE_PARAM(fa_deferred_test_epoch_order, fa_kd_pattern_gen_params),
	KUNIT_CASE(fa_deferred_test_nothing_eligible),
	KUNIT_CASE(fa_deferred_test_callback_pushes_again),
	KUNIT_CASE(fa_deferred_test_callback_frees),
	KUNIT_CASE(fa_deferred_test_drain_locked_drops_lock),
	KUNIT_CASE(fa_deferred_test_splice_chain),
	KUNIT_CASE_PARAM(fa_deferred_test_concurrent_pushers, fa_kd_threads_gen_params),
	{}
};

static struct kunit_suite fa_deferred_suite = {
	.name = "fencealloc_deferred",
	.test_cases = fa_deferred_cases,
};
kunit_test_suite(fa_deferred_suite);

MODULE_LICENSE("Dual MIT/GPL");
