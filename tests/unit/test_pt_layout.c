/* SPDX-License-Identifier: MIT */
/*
 * Page-table tree: raw layout and write discipline. Huge pages (2 MiB in
 * PD0, 512 MiB in PD1, x86 1 GiB), big and small tables under one dual PD0
 * entry, the MMU's big-before-small rule, deferred free only after the
 * epoch, and the accessor calls each stage makes: one fill per table run,
 * map high half first, unmap and PDE clears low half first, new tables
 * cleared before they are linked; plus a concurrent map vs ref/unref run.
 */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include "fa_test.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include <fencealloc/pt.h>

#include "fa_rng.h"
#include "pt_alloc.h"
#include <sim/sim_bar0.h>

#define K4 (1ull << 12)
#define K64 (1ull << 16)
#define M2 (1ull << 21)
#define M512 (1ull << 29)
#define G1 (1ull << 30)

/* ------------------------------------------------ recording accessor */

enum rec_op { R_RD32, R_WR32, R_RD64, R_WR64, R_FILL32, R_FILL64, R_COPY64, R_FLUSH };

struct rec_entry {
	enum rec_op op;
	uint64_t addr, val, step, count;
	enum fa_pramin_order order;
};

struct rec_acc {
	const struct fa_pramin_accessor *inner;
	struct fa_pramin_ops ops;
	struct fa_pramin_accessor acc;
	struct rec_entry log[4096];
	unsigned int n;
	int rec;
};

static void rec_add(struct rec_acc *a, enum rec_op op, uint64_t addr, uint64_t val, uint64_t step,
		    uint64_t count, enum fa_pramin_order order)
{
	if (!a->rec || a->n >= 4096)
		return;
	a->log[a->n].op = op;
	a->log[a->n].addr = addr;
	a->log[a->n].val = val;
	a->log[a->n].step = step;
	a->log[a->n].count = count;
	a->log[a->n++].order = order;
}

static int r_rd32(void *c, uint64_t addr, uint32_t *v)
{
	return fa_pramin_rd32(((struct rec_acc *)c)->inner, addr, v);
}

static int r_wr32(void *c, uint64_t addr, uint32_t v)
{
	struct rec_acc *a = (struct rec_acc *)c;

	rec_add(a, R_WR32, addr, v, 0, 1, FA_PRAMIN_ORDER_ANY);
	return fa_pramin_wr32(a->inner, addr, v);
}

static int r_rd64(void *c, uint64_t addr, uint64_t *v)
{
	return fa_pramin_rd64(((struct rec_acc *)c)->inner, addr, v);
}

static int r_wr64(void *c, uint64_t addr, uint64_t v, enum fa_pramin_order o)
{
	struct rec_acc *a = (struct rec_acc *)c;

	rec_add(a, R_WR64, addr, v, 0, 1, o);
	return fa_pramin_wr64(a->inner, addr, v, o);
}

static int r_fill32(void *c, uint64_t addr, uint32_t v, uint64_t n)
{
	struct rec_acc *a = (struct rec_acc *)c;

	rec_add(a, R_FILL32, addr, v, 0, n, FA_PRAMIN_ORDER_ANY);
	return fa_pramin_fill32(a->inner, addr, v, n);
}

static int r_fill64(void *c, uint64_t addr, uint64_t v, uint64_t step, uint64_t n,
		    enum fa_pramin_order o)
{
	struct rec_acc *a = (struct rec_acc *)c;

	rec_add(a, R_FILL64, addr, v, step, n, o);
	return fa_pramin_fill64(a->inner, addr, v, step, n, o);
}

static int r_copy64(void *c, uint64_t addr, const uint64_t *src, uint64_t n,
		    enum fa_pramin_order o)
{
	struct rec_acc *a = (struct rec_acc *)c;

	rec_add(a, R_COPY64, addr, src[0], 0, n, o);
	return fa_pramin_copy64(a->inner, addr, src, n, o);
}

static int r_flush(void *c)
{
	return fa_pramin_flush(((struct rec_acc *)c)->inner);
}

static void rec_init(struct rec_acc *a, const struct fa_pramin_accessor *inner)
{
	memset(a, 0, sizeof(*a));
	a->inner = inner;
	a->ops.rd32 = r_rd32;
	a->ops.wr32 = r_wr32;
	a->ops.rd64 = r_rd64;
	a->ops.wr64 = r_wr64;
	a->ops.fill32 = r_fill32;
	a->ops.fill64 = r_fill64;
	a->ops.copy64 = r_copy64;
	a->ops.flush = r_flush;
	a->acc.ops = &a->ops;
	a->acc.ctx = a;
	a->rec = 1;
}

static void tree_over(struct fa_pt *pt, struct pt_vram *v, const struct fa_pt_format *f,
		      const struct fa_pramin_accessor *acc)
{
	cr_assert_eq(pt_tree_init_acc(pt, v, f, acc), 0);
}

static uint64_t xl(struct fa_pt *pt, uint64_t va, int *err, unsigned int *shift)
{
	struct fa_pt_xlate x;

	*err = fa_pt_translate(pt, va, &x);
	*shift = x.page_shift;
	return x.pa;
}

Test(pt_layout, write_order_and_batching_nv_ver2)
{
	static struct pt_vram v;
	static struct rec_acc ra;
	struct fa_pt pt;
	const struct fa_pt_format *f = fa_pt_format_nv_ver2();
	uint64_t va = 5 * G1 + M2 - 4 * K4; /* straddles a small-PT boundary */
	unsigned int i, fills = 0, pdes = 0;

	pt_vram_init(&v, 8 << 20);
	rec_init(&ra, &v.acc);
	tree_over(&pt, &v, f, &ra.acc);
	ra.n = 0;
	cr_assert_eq(fa_pt_ref(&pt, va, 8 * K4, K4, FA_GFP_KERNEL), 0);
	/* 5 new tables (PD2, PD1, PD0, 2 small PTs): all cleared first, then 4 PDE words */
	for (i = 0; i < ra.n; i++) {
		if (ra.log[i].op == R_FILL64) {
			cr_assert_eq(pdes, 0, "a table was cleared after a PDE was written");
			cr_assert_eq(ra.log[i].val, 0);
			cr_assert_eq(ra.log[i].step, 0);
			fills++;
		} else {
			cr_assert_eq(ra.log[i].op, R_WR64);
			cr_assert_eq(ra.log[i].order, FA_PRAMIN_HIGH_FIRST);
			pdes++;
		}
	}
	cr_assert_eq(fills, 5);
	cr_assert_eq(pdes, 5); /* root→PD2, PD2→PD1, PD1→PD0, PD0 small half ×2 */

	ra.n = 0;
	cr_assert_eq(fa_pt_map(&pt, va, 8 * K4, K4, 0x7000000, FA_PT_RO), 0);
	cr_assert_eq(ra.n, 2, "one fill per table touched");
	for (i = 0; i < 2; i++) {
		cr_assert_eq(ra.log[i].op, R_FILL64);
		cr_assert_eq(ra.log[i].order, FA_PRAMIN_HIGH_FIRST);
		cr_assert_eq(ra.log[i].count, 4);
		cr_assert_eq(ra.log[i].step, fa_pt_pte_encode(f, FA_PT_NV2_LVL_PT_SMALL, K4, 0) -
						 fa_pt_pte_encode(f, FA_PT_NV2_LVL_PT_SMALL, 0, 0));
	}
	cr_assert_eq(ra.log[1].val, fa_pt_pte_encode(f, FA_PT_NV2_LVL_PT_SMALL, 0x7004000, FA_PT_RO));

	ra.n = 0;
	{
		uint64_t pages[8] = { 0x10000, 0x11000, 0x12000, 0x40000, 0x41000, 0x9000, 0x8000,
				      0x7000 };
		uint64_t pages2[24];

		cr_assert_eq(fa_pt_map_pages(&pt, va, 8 * K4, K4, pages, 0), 0);
		/* short runs and singles are batched: one copy per table */
		cr_assert_eq(ra.n, 2);
		cr_assert_eq(ra.log[0].op, R_COPY64);
		cr_assert_eq(ra.log[0].count, 4);
		cr_assert_eq(ra.log[0].order, FA_PRAMIN_HIGH_FIRST);
		cr_assert_eq(ra.log[0].val, fa_pt_pte_encode(f, FA_PT_NV2_LVL_PT_SMALL, 0x10000, 0));
		cr_assert_eq(ra.log[1].op, R_COPY64);
		cr_assert_eq(ra.log[1].count, 4);
		cr_assert_eq(ra.log[0].addr & 0xfff, 508 * 8, "entries 508..511 of the first table");
		cr_assert_eq(ra.log[1].addr & 0xfff, 0, "entries 0..3 of the second table");

		/* a run of 4+ contiguous pages is one fill between batched copies */
		cr_assert_eq(fa_pt_ref(&pt, 9 * G1, 24 * K4, K4, 0), 0);
		for (i = 0; i < 24; i++)
			pages2[i] = i >= 2 && i < 20 ? 0x100000 + i * K4 : 0x900000 - i * K4;
		ra.n = 0;
		cr_assert_eq(fa_pt_map_pages(&pt, 9 * G1, 24 * K4, K4, pages2, 0), 0);
		cr_assert_eq(ra.n, 3);
		cr_assert_eq(ra.log[0].op, R_COPY64);
		cr_assert_eq(ra.log[0].count, 2);
		cr_assert_eq(ra.log[1].op, R_FILL64);
		cr_assert_eq(ra.log[1].count, 18);
		cr_assert_eq(ra.log[1].order, FA_PRAMIN_HIGH_FIRST);
		cr_assert_eq(ra.log[2].op, R_COPY64);
		cr_assert_eq(ra.log[2].count, 4);
		for (i = 0; i < 24; i++) {
			int err;
			unsigned int sh;

			cr_assert_eq(xl(&pt, 9 * G1 + i * K4 + 3, &err, &sh), pages2[i] + 3);
		}
		cr_assert_eq(fa_pt_unmap(&pt, 9 * G1, 24 * K4, K4), 0);
		ra.n = 0;
		cr_assert_eq(fa_pt_unref(&pt, 9 * G1, 24 * K4, K4, 7), 0);
		cr_assert_eq(fa_pt_reclaim(&pt, 7), 2); /* its PD0 and PT; PD2 and PD1 are shared */
	}
	ra.n = 0;
	cr_assert_eq(fa_pt_unmap(&pt, va, 8 * K4, K4), 0);
	cr_assert_eq(ra.n, 2);
	for (i = 0; i < 2; i++) {
		cr_assert_eq(ra.log[i].op, R_FILL64);
		cr_assert_eq(ra.log[i].order, FA_PRAMIN_LOW_FIRST);
		cr_assert_eq(ra.log[i].val, f->invalid);
	}

	ra.n = 0;
	cr_assert_eq(fa_pt_unref(&pt, va, 8 * K4, K4, 7), 0);
	cr_assert_eq(ra.n, 5, "one PDE clear per released table");
	for (i = 0; i < ra.n; i++) {
		cr_assert_eq(ra.log[i].op, R_WR64);
		cr_assert_eq(ra.log[i].order, FA_PRAMIN_LOW_FIRST);
		cr_assert_eq(ra.log[i].val, 0);
	}
	/* nothing freed before the epoch completes */
	cr_assert_eq(v.live_tables, 6);
	cr_assert_eq(fa_pt_reclaim(&pt, 6), 0);
	cr_assert_eq(v.live_tables, 6);
	cr_assert_eq(fa_pt_pending(&pt), 5);
	cr_assert_eq(fa_pt_reclaim(&pt, 7), 5);
	cr_assert_eq(v.live_tables, 1);
	cr_assert_eq(pt_tree_teardown(&pt, &v), 0);
	pt_vram_destroy(&v);
}

Test(pt_layout, dual_pd0_big_and_small_and_huge_nv_ver2)
{
	static struct pt_vram v;
	const struct fa_pt_format *f = fa_pt_format_nv_ver2();
	struct fa_pt pt;
	struct fa_pt_node *pd0;
	uint64_t base = 3 * G1, raw[2], pa;
	struct fa_pt_entry e;
	unsigned int sh;
	int err;

	pt_vram_init(&v, 8 << 20);
	tree_over(&pt, &v, f, &v.acc);
	/* big pages in the first 128 KiB, small pages in the next 128 KiB of one 2 MiB */
	cr_assert_eq(fa_pt_ref(&pt, base, 2 * K64, K64, 0), 0);
	cr_assert_eq(fa_pt_ref(&pt, base + 2 * K64, 32 * K4, K4, 0), 0);
	cr_assert_eq(fa_pt_map(&pt, base, 2 * K64, K64, 0x1000000, 0), 0);
	cr_assert_eq(fa_pt_map(&pt, base + 2 * K64, 32 * K4, K4, 0x2000000, FA_PT_VOL), 0);
	pd0 = pt.root->child[0]->child[0]->child[6]; /* 3 GiB: PD2 0, PD1 6 */
	cr_assert_eq(pd0->level, FA_PT_NV2_LVL_PD0);
	memcpy(raw, v.mem + (pd0->addr - v.base), 16);
	fa_pt_entry_decode(f, FA_PT_NV2_LVL_PD0, raw, &e);
	cr_assert_eq(e.type, FA_PT_ENTRY_PDE);
	cr_assert_eq(e.present, 3, "both halves of the dual entry");
	cr_assert_eq(e.sub[0], pd0->child[0]->addr);
	cr_assert_eq(e.sub[1], pd0->child[1]->addr);
	cr_assert_eq(fa_pt_level_bytes(f, pd0->child[0]->level), 256);
	pa = xl(&pt, base + K64 + 0x1234, &err, &sh);
	cr_assert_eq(err, 0);
	cr_assert_eq(sh, 16);
	cr_assert_eq(pa, 0x1010000 + 0x1234);
	pa = xl(&pt, base + 2 * K64 + 5 * K4 + 7, &err, &sh);
	cr_assert_eq(err, 0);
	cr_assert_eq(sh, 12);
	cr_assert_eq(pa, 0x2005007);
	/* small pages under a valid big PTE: the big PTE wins (MMU rule) */
	cr_assert_eq(fa_pt_ref(&pt, base, K4, K4, 0), 0);
	cr_assert_eq(fa_pt_map(&pt, base, K4, K4, 0x3000000, 0), 0);
	pa = xl(&pt, base + 8, &err, &sh);
	cr_assert_eq(sh, 16);
	cr_assert_eq(pa, 0x1000008);
	cr_assert_eq(fa_pt_unmap(&pt, base, K64, K64), 0);
	pa = xl(&pt, base + 8, &err, &sh);
	cr_assert_eq(sh, 12);
	cr_assert_eq(pa, 0x3000008);
	/* releasing the big table keeps the small half of the entry */
	cr_assert_eq(fa_pt_unmap(&pt, base + K64, K64, K64), 0);
	cr_assert_eq(fa_pt_unref(&pt, base, 2 * K64, K64, 1), 0);
	memcpy(raw, v.mem + (pd0->addr - v.base), 16);
	fa_pt_entry_decode(f, FA_PT_NV2_LVL_PD0, raw, &e);
	cr_assert_eq(e.present, 2);
	cr_assert_eq(xl(&pt, base + 2 * K64 + 5 * K4, &err, &sh), 0x2005000);

	/* 2 MiB PTE in PD0 next door, 512 MiB PTE in PD1 elsewhere */
	cr_assert_eq(fa_pt_ref(&pt, base + M2, 2 * M2, M2, 0), 0);
	cr_assert_eq(fa_pt_map(&pt, base + M2, 2 * M2, M2, 0x40000000, FA_PT_KIND(0x11)), 0);
	memcpy(raw, v.mem + (pd0->addr - v.base) + 16, 16);
	fa_pt_entry_decode(f, FA_PT_NV2_LVL_PD0, raw, &e);
	cr_assert_eq(e.type, FA_PT_ENTRY_PTE);
	cr_assert_eq(raw[1], 0, "the small half of a 2 MiB PTE entry stays invalid");
	pa = xl(&pt, base + 2 * M2 + 0x12345, &err, &sh);
	cr_assert_eq(sh, 21);
	cr_assert_eq(pa, 0x40200000 + 0x12345);
	cr_assert_eq(fa_pt_ref(&pt, 7 * M512, M512, M512, 0), 0);
	cr_assert_eq(fa_pt_map(&pt, 7 * M512, M512, M512, 0x20000000, 0), 0);
	pa = xl(&pt, 7 * M512 + 0x1234567, &err, &sh);
	cr_assert_eq(sh, 29);
	cr_assert_eq(pa, 0x21234567);
	cr_assert_eq(fa_pt_unmap(&pt, 7 * M512, M512, M512), 0);
	xl(&pt, 7 * M512 + 0x1234567, &err, &sh);
	cr_assert_eq(err, -FA_ENOENT);

	/* tear down: unmap and drop what is still referenced */
	cr_assert_eq(fa_pt_unmap(&pt, base, K4, K4), 0);
	cr_assert_eq(fa_pt_unmap(&pt, base + 2 * K64, 32 * K4, K4), 0);
	cr_assert_eq(fa_pt_unmap(&pt, base + M2, 2 * M2, M2), 0);
	cr_assert_eq(fa_pt_unref(&pt, base, K4, K4, 2), 0);
	cr_assert_eq(fa_pt_unref(&pt, base + 2 * K64, 32 * K4, K4, 2), 0);
	cr_assert_eq(fa_pt_unref(&pt, base + M2, 2 * M2, M2, 2), 0);
	cr_assert_eq(fa_pt_unref(&pt, 7 * M512, M512, M512, 2), 0);
	cr_assert_eq(pt_tree_teardown(&pt, &v), 0);
	pt_vram_destroy(&v);
}

Test(pt_layout, x86_64_huge_pages)
{
	static struct pt_vram v;
	const struct fa_pt_format *f = fa_pt_format_x86_64();
	struct fa_pt pt;
	unsigned int sh;
	int err;

	pt_vram_init(&v, 4 << 20);
	tree_over(&pt, &v, f, &v.acc);
	cr_assert_eq(fa_pt_ref(&pt, 3 * G1, G1, G1, 0), 0);
	cr_assert_eq(fa_pt_map(&pt, 3 * G1, G1, G1, 5 * G1, FA_PT_RO), 0);
	cr_assert_eq(xl(&pt, 3 * G1 + 0x123456, &err, &sh), 5 * G1 + 0x123456);
	cr_assert_eq(sh, 30);
	cr_assert_eq(fa_pt_ref(&pt, 4 * G1 + M2, M2, M2, 0), 0);
	cr_assert_eq(fa_pt_ref(&pt, 4 * G1 + 2 * M2, K4, K4, 0), 0);
	cr_assert_eq(fa_pt_ref(&pt, 4 * G1, G1, G1, 0), -FA_EBUSY);
	cr_assert_eq(fa_pt_map(&pt, 4 * G1 + M2, M2, M2, 0x600000, 0), 0);
	cr_assert_eq(fa_pt_map(&pt, 4 * G1 + 2 * M2, K4, K4, 0x9000, 0), 0);
	cr_assert_eq(xl(&pt, 4 * G1 + M2 + 0x1000, &err, &sh), 0x601000);
	cr_assert_eq(sh, 21);
	cr_assert_eq(xl(&pt, 4 * G1 + 2 * M2 + 0x10, &err, &sh), 0x9010);
	cr_assert_eq(sh, 12);

	/* tear down */
	cr_assert_eq(fa_pt_unmap(&pt, 3 * G1, G1, G1), 0);
	cr_assert_eq(fa_pt_unmap(&pt, 4 * G1 + M2, M2, M2), 0);
	cr_assert_eq(fa_pt_unmap(&pt, 4 * G1 + 2 * M2, K4, K4), 0);
	cr_assert_eq(fa_pt_unref(&pt, 3 * G1, G1, G1, 1), 0);
	cr_assert_eq(fa_pt_unref(&pt, 4 * G1 + M2, M2, M2, 1), 0);
	cr_assert_eq(fa_pt_unref(&pt, 4 * G1 + 2 * M2, K4, K4, 1), 0);
	cr_assert_eq(pt_tree_teardown(&pt, &v), 0);
	pt_vram_destroy(&v);
}

/* ------------------------------------------------ concurrency: map vs ref */

struct mt_env {
	struct pt_vram v;
	struct fa_pt pt;
	pthread_mutex_t acc_lock; /* the "PRAMIN lock" */
	uint64_t a_va, a_size;    /* range A: referenced before the mapper starts */
	int stop;
	unsigned long maps, refs;
};

static void mt_lock(void *c)
{
	pthread_mutex_lock((pthread_mutex_t *)c);
}

static void mt_unlock(void *c)
{
	pthread_mutex_unlock((pthread_mutex_t *)c);
}

static void *mt_mapper(void *arg)
{
	struct mt_env *e = (struct mt_env *)arg;
	unsigned long i;

	pt_tls_forbidden = 1; /* this thread is the run stage */
	for (i = 0; !__atomic_load_n(&e->stop, __ATOMIC_ACQUIRE) || i < 200; i++) {
		struct fa_pt_xlate x;
		uint64_t off = (i * 7919) % (e->a_size / K4) * K4;

		cr_assert_eq(fa_pt_map(&e->pt, e->a_va, e->a_size, K4, 0x100000 + (i & 15) * K4 * 1024,
				       0), 0);
		cr_assert_eq(fa_pt_translate(&e->pt, e->a_va + off, &x), 0);
		cr_assert_eq(x.pa, 0x100000 + (i & 15) * K4 * 1024 + off);
		cr_assert_eq(fa_pt_unmap(&e->pt, e->a_va, e->a_size, K4), 0);
		e->maps++;
	}
	return NULL;
}

static void mt_run(int pramin)
{
	static struct mt_env e;
	static struct sim_bar0 bar;
	struct fa_pramin_gen gen;
	struct fa_pramin_hw hw;
	struct fa_pramin_window win;
	struct fa_pramin_accessor wacc;
	struct fa_pt_table_alloc ta;
	struct fa_reserve_source rs;
	struct fa_pt_config cfg;
	struct fa_rng r;
	pthread_t th;
	unsigned long i, n = fa_test_iters(pramin ? 1000 : 3000);

	memset(&e, 0, sizeof(e));
	fa_rng_seed(&r, fa_test_seed(0x3713));
	pt_vram_init(&e.v, 64 << 20);
	pthread_mutex_init(&e.acc_lock, NULL);
	ta.alloc = pt_table_alloc_cb;
	ta.free = pt_table_free_cb;
	ta.ctx = &e.v;
	rs.alloc = pt_shadow_alloc_cb;
	rs.free = pt_shadow_free_cb;
	rs.ctx = &e.v;
	if (pramin) {
		/* one shared PRAMIN window: every accessor use must be under the hooks */
		e.v.poison = 0; /* the allocator must not touch (host) table memory */
		cr_assert_eq(fa_pramin_gen_get(FA_PRAMIN_GEN_PBUS, &gen), 0);
		cr_assert_eq(sim_bar0_init(&bar, e.v.base + e.v.size, &gen), 0);
		sim_bar0_pramin_hw(&bar, &hw);
		cr_assert_eq(fa_pramin_window_init(&win, &hw, &gen, bar.vram_size, &wacc), 0);
		fa_pt_config_init(&cfg, fa_pt_format_nv_ver2(), &wacc, &ta, &rs);
	} else {
		fa_pt_config_init(&cfg, fa_pt_format_nv_ver2(), &e.v.acc, &ta, &rs);
	}
	cfg.acc_lock.lock = mt_lock;
	cfg.acc_lock.unlock = mt_unlock;
	cfg.acc_lock.ctx = &e.acc_lock;
	cr_assert_eq(fa_pt_init(&e.pt, &cfg, FA_GFP_KERNEL), 0);
	e.a_va = G1 + M2 - 16 * K4; /* crosses a small-table boundary */
	e.a_size = 32 * K4;
	cr_assert_eq(fa_pt_ref(&e.pt, e.a_va, e.a_size, K4, FA_GFP_KERNEL), 0);
	cr_assert_eq(pthread_create(&th, NULL, mt_mapper, &e), 0);
	/* this thread is the submit/cleanup side: refs and unrefs ranges B that share
	 * tables with A (and overlap it), so PDEs and counts change under the mapper */
	for (i = 0; i < n; i++) {
		uint64_t ps = fa_rng_below(&r, 2) ? K4 : K64;
		uint64_t b = (G1 + M2 - 64 * K64 + fa_rng_below(&r, 128) * K64) & ~(ps - 1);
		uint64_t sz = (1 + fa_rng_below(&r, 48)) * ps;

		cr_assert_eq(fa_pt_ref(&e.pt, b, sz, ps, FA_GFP_KERNEL), 0);
		cr_assert_eq(fa_pt_unref(&e.pt, b, sz, ps, i + 1), 0);
		fa_pt_reclaim(&e.pt, i);
		e.refs++;
	}
	__atomic_store_n(&e.stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	cr_assert_gt(e.maps, 0);
	cr_assert_eq(fa_pt_unref(&e.pt, e.a_va, e.a_size, K4, n + 1), 0);
	fa_pt_reclaim(&e.pt, n + 1);
	cr_assert_eq(e.v.live_tables, 1);
	cr_assert_eq(pt_tree_teardown(&e.pt, &e.v), 0);
	if (pramin) {
		cr_assert_eq(bar.stats.torn_valid, 0);
		cr_assert_eq(bar.stats.errors, 0);
		sim_bar0_fini(&bar);
	}
	pt_vram_destroy(&e.v);
}

Test(pt_mt, map_runs_while_other_ranges_are_refd_and_unrefd, .timeout = 60)
{
	mt_run(0);
}

Test(pt_mt, same_through_one_shared_pramin_window, .timeout = 60)
{
	mt_run(1);
}

Test(pt_layout, sparse_ptes)
{
	static struct pt_vram v;
	struct fa_pt pt;
	struct fa_pt_xlate x;
	unsigned long w;

	setenv("FA_TEST_QUIET_WARN", "1", 1);
	pt_vram_init(&v, 4 << 20);
	tree_over(&pt, &v, fa_pt_format_nv_ver3(), &v.acc);
	cr_assert_eq(fa_pt_ref(&pt, G1, 16 * K4, K4, 0), 0);
	cr_assert_eq(fa_pt_ref(&pt, G1 + M2, M2, M2, 0), 0);
	cr_assert_eq(fa_pt_sparse(&pt, G1, 16 * K4, K4), 0);
	cr_assert_eq(fa_pt_sparse(&pt, G1 + M2, M2, M2), 0);
	cr_assert_eq(fa_pt_translate(&pt, G1 + 5 * K4, &x), -FA_ENOENT);
	cr_assert_eq(x.type, FA_PT_ENTRY_SPARSE);
	cr_assert_eq(fa_pt_translate(&pt, G1 + M2 + 77, &x), -FA_ENOENT);
	cr_assert_eq(x.type, FA_PT_ENTRY_SPARSE);
	cr_assert_eq(x.level, FA_PT_NV3_LVL_PD0);
	/* bind one page inside the sparse range, then make it invalid again */
	cr_assert_eq(fa_pt_map(&pt, G1 + 5 * K4, K4, K4, 0x123000, 0), 0);
	cr_assert_eq(fa_pt_translate(&pt, G1 + 5 * K4 + 1, &x), 0);
	cr_assert_eq(x.pa, 0x123001);
	cr_assert_eq(fa_pt_translate(&pt, G1 + 6 * K4, &x), -FA_ENOENT);
	cr_assert_eq(x.type, FA_PT_ENTRY_SPARSE);
	cr_assert_eq(fa_pt_unmap(&pt, G1, 16 * K4, K4), 0);
	cr_assert_eq(fa_pt_translate(&pt, G1 + 6 * K4, &x), -FA_ENOENT);
	cr_assert_eq(x.type, FA_PT_ENTRY_INVALID);
	/* dual PD0: a sparse big PTE decides; an invalid one hands over to the small table */
	cr_assert_eq(fa_pt_ref(&pt, G1, K64, K64, 0), 0);
	cr_assert_eq(fa_pt_map(&pt, G1 + 5 * K4, K4, K4, 0x456000, 0), 0);
	cr_assert_eq(fa_pt_translate(&pt, G1 + 5 * K4, &x), 0);
	cr_assert_eq(fa_pt_sparse(&pt, G1, K64, K64), 0);
	cr_assert_eq(fa_pt_translate(&pt, G1 + 5 * K4, &x), -FA_ENOENT);
	cr_assert_eq(x.type, FA_PT_ENTRY_SPARSE);
	cr_assert_eq(x.level, FA_PT_NV3_LVL_PT_BIG);
	cr_assert_eq(fa_pt_unmap(&pt, G1, K64, K64), 0);
	cr_assert_eq(fa_pt_translate(&pt, G1 + 5 * K4, &x), 0);
	cr_assert_eq(x.pa, 0x456000);
	cr_assert_eq(fa_pt_unmap(&pt, G1 + 5 * K4, K4, K4), 0);
	/* outside the references: warned, nothing written */
	w = fa_test_warnings();
	cr_assert_eq(fa_pt_sparse(&pt, G1 + 16 * K4, K4, K4), -FA_ENOENT);
	cr_assert_gt(fa_test_warnings(), w);
	cr_assert_eq(fa_pt_unmap(&pt, G1 + M2, M2, M2), 0);
	cr_assert_eq(fa_pt_unref(&pt, G1, K64, K64, 1), 0);
	cr_assert_eq(fa_pt_unref(&pt, G1, 16 * K4, K4, 1), 0);
	cr_assert_eq(fa_pt_unref(&pt, G1 + M2, M2, M2, 1), 0);
	cr_assert_eq(pt_tree_teardown(&pt, &v), 0);
	pt_vram_destroy(&v);

	pt_vram_init(&v, 4 << 20);
	tree_over(&pt, &v, fa_pt_format_x86_64(), &v.acc);
	cr_assert_eq(fa_pt_ref(&pt, G1, K4, K4, 0), 0);
	cr_assert_eq(fa_pt_sparse(&pt, G1, K4, K4), -FA_EOPNOTSUPP);
	cr_assert_eq(fa_pt_sparse(NULL, G1, K4, K4), -FA_EINVAL);
	cr_assert_eq(fa_pt_unref(&pt, G1, K4, K4, 1), 0);
	cr_assert_eq(pt_tree_teardown(&pt, &v), 0);
	pt_vram_destroy(&v);
}
