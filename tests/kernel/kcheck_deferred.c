// SPDX-License-Identifier: MIT
/*
 * Kernel build of deferred.h: every public function, with results checked
 * (order, epoch gating across the 64-bit wrap, re-entrant push, locked drain).
 */
#include <linux/kernel.h>
#include <fencealloc/deferred.h>

struct fa_kcheck_deferred_obj {
	struct fa_deferred_node dn;
	int id;
};

struct fa_kcheck_deferred_ctx {
	struct fa_deferred *d;
	struct fa_kcheck_deferred_obj *extra;
	int order;   /* ids seen, as decimal digits */
	int pushes;  /* re-entrant pushes left */
	int locked;  /* fake lock state */
	int bad;
};

static struct fa_kcheck_deferred_obj fa_kcheck_deferred_objs[6];
static struct fa_deferred fa_kcheck_deferred_list;

static void fa_kcheck_deferred_fn(struct fa_deferred_node *n, void *arg)
{
	struct fa_kcheck_deferred_ctx *c = (struct fa_kcheck_deferred_ctx *)arg;

	c->order = c->order * 10 + FA_CONTAINER_OF(n, struct fa_kcheck_deferred_obj, dn)->id;
	c->bad |= c->locked;
	if (c->pushes > 0) {
		c->pushes--;
		fa_deferred_push(c->d, &c->extra->dn, 0);
	}
}

static void fa_kcheck_deferred_lock(void *ctx)
{
	((struct fa_kcheck_deferred_ctx *)ctx)->locked = 1;
}

static void fa_kcheck_deferred_unlock(void *ctx)
{
	((struct fa_kcheck_deferred_ctx *)ctx)->locked = 0;
}

int fa_kcheck_deferred(void);
int fa_kcheck_deferred(void)
{
	/* epochs: 2, MAX, 0, 1, MAX, 9 */
	static const uint64_t epochs[6] = { 2, FA_U64_MAX, 0, 1, FA_U64_MAX, 9 };
	struct fa_deferred *d = &fa_kcheck_deferred_list;
	struct fa_kcheck_deferred_obj *o = fa_kcheck_deferred_objs;
	struct fa_kcheck_deferred_ctx c = { 0 };
	struct fa_deferred_lock lk;
	struct fa_deferred_node *n;
	unsigned long k = 0;
	uint64_t e = 0;
	int i, bad = 0;

	fa_deferred_init(d);
	for (i = 0; i < 6; i++) {
		o[i].id = i;
		fa_deferred_push(d, &o[i].dn, epochs[i]);
	}
	bad |= fa_deferred_pending(d) != 6;
	bad |= !fa_deferred_oldest_epoch(d, &e) || e != FA_U64_MAX;
	c.d = d;
	c.extra = &o[0];
	/* completed = MAX: ids 1 and 4 (epoch MAX, push order) */
	bad |= fa_deferred_drain(d, FA_U64_MAX, fa_kcheck_deferred_fn, &c) != 2 || c.order != 14;
	/* completed = 1: ids 2 (epoch 0) then 3 (epoch 1) */
	c.order = 0;
	bad |= fa_deferred_drain(d, 1, fa_kcheck_deferred_fn, &c) != 2 || c.order != 23;
	n = fa_deferred_splice(d, 2, &k);
	bad |= !n || k != 1 || n != &o[0].dn || n->link.next;
	bad |= fa_deferred_pending(d) != 1;
	/* locked drain: id 5 (9), whose callback re-pushes id 0 at epoch 0 */
	lk.lock = fa_kcheck_deferred_lock;
	lk.unlock = fa_kcheck_deferred_unlock;
	lk.ctx = &c;
	c.order = 0;
	c.pushes = 1;
	c.locked = 1;
	bad |= fa_deferred_drain_locked(d, 9, fa_kcheck_deferred_fn, &c, &lk) != 2;
	bad |= c.order != 50 || !c.locked || c.bad;
	bad |= fa_deferred_pending(d) != 0 || fa_deferred_oldest_epoch(d, &e);

	/* 32-bit epochs: 0 (as 0x100000000) comes after 0xffffffff */
	fa_deferred_init_seq32(d);
	fa_deferred_push(d, &o[1].dn, 0xffffffffULL);
	c.order = 0;
	c.locked = 0;
	bad |= fa_deferred_drain(d, 0x100000000ULL, fa_kcheck_deferred_fn, &c) != 1 || c.order != 1;
	return bad ? -FA_EINVAL : 0;
}
