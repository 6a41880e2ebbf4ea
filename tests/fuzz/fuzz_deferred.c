/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the deferred-free list against a model. The input picks
 * 64-bit or 32-bit epochs and a starting epoch (near 0, near 2^32 or near
 * 2^64, so comparisons wrap), then pushes, drains (plain and locked, with
 * callbacks that push again), splices, pending counts and oldest-epoch
 * queries. The model keeps every pending entry with its epoch and push
 * number; each drain must hand out exactly the entries whose epoch is not
 * after the completed one, in (wrap-safe) epoch order and push order within
 * an epoch, each exactly once; pending() and oldest_epoch() must agree with
 * the model after every step; the locked drain must drop the lock around
 * every callback and hold it on return.
 */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include "fa_test.h"
#define FZ_NAME "deferred"
#include "fz_input.h"
#include <fencealloc/deferred.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FZ_N 256

struct fz_ent {
	struct fa_deferred_node node;
	uint64_t epoch;
	unsigned long seq; /* push number */
	bool pending;
};

static struct fz_ent fz_ents[FZ_N];
static unsigned long fz_step, fz_seq;
static bool fz_seq32;

/* Expected hand-out order of one drain pass. */
static struct fz_ent *fz_expect[FZ_N];
static unsigned int fz_nexpect, fz_got;

struct fz_drain {
	struct fa_deferred *d;
	uint64_t completed;
	unsigned int repush; /* callbacks that push again (budget) */
	uint64_t repush_delta;
	bool locked, lock_held;
	unsigned long calls; /* callbacks run by this drain */
};

static bool fz_after(uint64_t a, uint64_t b)
{
	return fz_seq32 ? (int32_t)((uint32_t)a - (uint32_t)b) > 0 : (int64_t)(a - b) > 0;
}

/* (epoch, seq) order: the order a drain hands entries out. */
static bool fz_before(const struct fz_ent *a, const struct fz_ent *b)
{
	if (fz_after(b->epoch, a->epoch))
		return true;
	if (fz_after(a->epoch, b->epoch))
		return false;
	return a->seq < b->seq;
}

static unsigned long fz_npending(void)
{
	unsigned long n = 0;
	unsigned int i;

	for (i = 0; i < FZ_N; i++)
		n += fz_ents[i].pending;
	return n;
}

/* The eligible entries, sorted; insertion sort over at most FZ_N. */
static void fz_plan(uint64_t completed)
{
	unsigned int i, j;

	fz_nexpect = 0;
	fz_got = 0;
	for (i = 0; i < FZ_N; i++) {
		struct fz_ent *e = &fz_ents[i];

		if (!e->pending || fz_after(e->epoch, completed))
			continue;
		for (j = fz_nexpect; j > 0 && fz_before(e, fz_expect[j - 1]); j--)
			fz_expect[j] = fz_expect[j - 1];
		fz_expect[j] = e;
		fz_nexpect++;
	}
}

static struct fz_ent *fz_free_slot(void)
{
	unsigned int i;

	for (i = 0; i < FZ_N; i++)
		if (!fz_ents[i].pending)
			return &fz_ents[i];
	return NULL;
}

static void fz_push(struct fa_deferred *d, struct fz_ent *e, uint64_t epoch)
{
	e->epoch = epoch;
	e->seq = fz_seq++;
	e->pending = true;
	fa_deferred_push(d, &e->node, epoch);
}

static void fz_lock(void *ctx)
{
	struct fz_drain *z = (struct fz_drain *)ctx;

	FZ_CHECK(!z->lock_held);
	z->lock_held = true;
}

static void fz_unlock(void *ctx)
{
	struct fz_drain *z = (struct fz_drain *)ctx;

	FZ_CHECK(z->lock_held);
	z->lock_held = false;
}

static struct fz_drain *fz_cur;

/* The callback: checks order against the plan; may push again. A drain
 * repeats until nothing is eligible, so a new plan starts when the current
 * one is used up and something eligible was pushed meanwhile. */
static void fz_cb(struct fa_deferred_node *n, void *arg)
{
	struct fz_drain *z = (struct fz_drain *)arg;
	struct fz_ent *e = FA_CONTAINER_OF(n, struct fz_ent, node);
	struct fz_ent *f;

	FZ_CHECK(z == fz_cur);
	if (z->locked)
		FZ_CHECK(!z->lock_held);
	if (fz_got == fz_nexpect)
		fz_plan(z->completed); /* the next pass: entries pushed by callbacks */
	FZ_CHECK(fz_got < fz_nexpect);
	FZ_CHECK(fz_expect[fz_got] == e);
	FZ_CHECK(e->pending);
	FZ_CHECK(n->link.next == NULL);
	fz_got++;
	z->calls++;
	e->pending = false;
	if (z->repush) {
		z->repush--;
		f = fz_free_slot();
		if (f)
			fz_push(z->d, f, z->completed + z->repush_delta - 2);
	}
}

static void fz_check(const struct fa_deferred *d)
{
	unsigned long n = fz_npending();
	uint64_t ep = 0x1234, best = 0;
	bool found = false;
	unsigned int i;

	FZ_CHECK(fa_deferred_pending(d) == n);
	for (i = 0; i < FZ_N; i++) {
		const struct fz_ent *e = &fz_ents[i];

		if (e->pending && (!found || fz_after(best, e->epoch))) {
			best = e->epoch;
			found = true;
		}
	}
	FZ_CHECK(fa_deferred_oldest_epoch(d, &ep) == found);
	FZ_CHECK(fa_deferred_oldest_epoch(d, NULL) == found);
	if (found) {
		if (fz_seq32)
			FZ_CHECK((uint32_t)ep == (uint32_t)best);
		else
			FZ_CHECK(ep == best);
	} else {
		FZ_CHECK(ep == 0x1234);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t starts[4] = { 0, (1ull << 32) - 300, ~0ull - 300, 1ull << 63 };
	struct fz_in in = { data, size };
	struct fa_deferred d;
	struct fz_drain z;
	struct fa_deferred_lock lk = { fz_lock, fz_unlock, &z };
	unsigned int mode = fz_byte(&in);
	uint64_t now; /* newest completed epoch so far; pushes land within 256 of it */

	memset(fz_ents, 0, sizeof(fz_ents));
	fz_step = 0;
	fz_seq = 0;
	fz_seq32 = mode & 1;
	now = starts[(mode >> 1) & 3];
	if (fz_seq32)
		fa_deferred_init_seq32(&d);
	else
		fa_deferred_init(&d);
	fz_check(&d);
	while (in.n > 0 && fz_step < 3000) {
		unsigned int op = fz_byte(&in) % 8, arg = fz_byte(&in);
		struct fz_ent *e;
		unsigned long k, w0 = fa_test_warnings();

		fz_step++;
		switch (op) {
		case 0:
		case 1:
		case 2: /* push an epoch just behind or ahead of the completed one */
			e = fz_free_slot();
			if (e)
				fz_push(&d, e, now + (arg & 0x7f) - 16);
			break;
		case 3: /* time passes */
			now += arg % 40;
			break;
		case 4:
		case 5: { /* drain, plain or locked, callbacks may push again */
			unsigned long handed;

			memset(&z, 0, sizeof(z));
			z.d = &d;
			z.completed = now + (arg & 3) - 1;
			z.repush = (arg >> 2) & 3;
			z.repush_delta = (arg >> 4) & 3; /* 0..1 eligible again, 2..3 not */
			z.locked = op == 5;
			fz_cur = &z;
			fz_plan(z.completed);
			if (z.locked) {
				z.lock_held = true;
				handed = fa_deferred_drain_locked(&d, z.completed, fz_cb, &z, &lk);
				FZ_CHECK(z.lock_held);
			} else {
				handed = fa_deferred_drain(&d, z.completed, fz_cb, &z);
			}
			FZ_CHECK(fz_got == fz_nexpect);
			FZ_CHECK(handed == z.calls); /* every pass of this drain counts */
			fz_plan(z.completed);
			FZ_CHECK(fz_nexpect == 0); /* nothing eligible is left */
			break;
		}
		case 6: { /* splice: the caller finishes the chain itself */
			struct fa_deferred_node *c;
			uint64_t completed = now + (arg & 3) - 1;
			unsigned int i = 0;

			fz_plan(completed);
			c = fa_deferred_splice(&d, completed, &k);
			FZ_CHECK(k == fz_nexpect);
			while (c) {
				struct fa_llist_node *next = c->link.next;

				e = FA_CONTAINER_OF(c, struct fz_ent, node);
				FZ_CHECK(i < fz_nexpect && fz_expect[i] == e);
				e->pending = false;
				i++;
				c = next ? FA_CONTAINER_OF(next, struct fa_deferred_node, link) : NULL;
			}
			FZ_CHECK(i == fz_nexpect);
			break;
		}
		default: /* misuse: NULL arguments warn and change nothing */
			fa_deferred_push(&d, NULL, now);
			fa_deferred_push(NULL, &fz_ents[0].node, now);
			FZ_CHECK(fa_deferred_drain(&d, now, NULL, NULL) == 0);
			FZ_CHECK(fa_deferred_drain(NULL, now, fz_cb, NULL) == 0);
			FZ_CHECK(fa_deferred_drain_locked(&d, now, fz_cb, NULL, NULL) == 0);
			FZ_CHECK(fa_deferred_splice(NULL, now, &k) == NULL && k == 0);
			FZ_CHECK(fa_test_warnings() == w0 + 6);
			break;
		}
		fz_check(&d);
	}
	/* drain everything: the list ends empty, every entry handed once */
	memset(&z, 0, sizeof(z));
	z.d = &d;
	z.completed = now + 1000;
	fz_cur = &z;
	fz_plan(z.completed);
	fa_deferred_drain(&d, z.completed, fz_cb, &z);
	FZ_CHECK(fz_got == fz_nexpect);
	FZ_CHECK(fz_npending() == 0);
	fz_check(&d);
	return 0;
}
