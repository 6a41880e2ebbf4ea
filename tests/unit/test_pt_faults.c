/* SPDX-License-Identifier: MIT */
/*
 * Page-table tree: fault injection at every allocation of ref (and in the
 * accessor), bad input (specific error, nothing changed), exact tree-aware
 * and safe static estimates on random ranges and random trees.
 */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include "fa_test.h"
#include "fa_rng.h"

#include <criterion/criterion.h>
#include <string.h>

#include <fencealloc/pt.h>

#include "pt_alloc.h"

#define K4 (1ull << 12)
#define K64 (1ull << 16)
#define M2 (1ull << 21)
#define M512 (1ull << 29)
#define G1 (1ull << 30)

/* An accessor that wraps another and fails the N-th write (fill or wr). */
struct failing_acc {
	const struct fa_pramin_accessor *inner;
	long fail_in;
	struct fa_pramin_ops ops;
	struct fa_pramin_accessor acc;
};

static int fail_step(struct failing_acc *a)
{
	if (a->fail_in < 0)
		return 0;
	if (a->fail_in-- == 0)
		return 1;
	return 0;
}

static int fa_rd32(void *c, uint64_t addr, uint32_t *v)
{
	return fa_pramin_rd32(((struct failing_acc *)c)->inner, addr, v);
}

static int fa_wr32(void *c, uint64_t addr, uint32_t v)
{
	struct failing_acc *a = (struct failing_acc *)c;

	return fail_step(a) ? -FA_EFAULT : fa_pramin_wr32(a->inner, addr, v);
}

static int fa_rd64(void *c, uint64_t addr, uint64_t *v)
{
	return fa_pramin_rd64(((struct failing_acc *)c)->inner, addr, v);
}

static int fa_wr64(void *c, uint64_t addr, uint64_t v, enum fa_pramin_order o)
{
	struct failing_acc *a = (struct failing_acc *)c;

	return fail_step(a) ? -FA_EFAULT : fa_pramin_wr64(a->inner, addr, v, o);
}

static int fa_fill32(void *c, uint64_t addr, uint32_t v, uint64_t n)
{
	struct failing_acc *a = (struct failing_acc *)c;

	return fail_step(a) ? -FA_EFAULT : fa_pramin_fill32(a->inner, addr, v, n);
}

static int fa_fill64(void *c, uint64_t addr, uint64_t v, uint64_t step, uint64_t n,
		     enum fa_pramin_order o)
{
	struct failing_acc *a = (struct failing_acc *)c;

	return fail_step(a) ? -FA_EFAULT : fa_pramin_fill64(a->inner, addr, v, step, n, o);
}

static int fa_copy64(void *c, uint64_t addr, const uint64_t *src, uint64_t n,
		     enum fa_pramin_order o)
{
	struct failing_acc *a = (struct failing_acc *)c;

	return fail_step(a) ? -FA_EFAULT : fa_pramin_copy64(a->inner, addr, src, n, o);
}

static int fa_flush(void *c)
{
	return fa_pramin_flush(((struct failing_acc *)c)->inner);
}

static void failing_acc_init(struct failing_acc *a, const struct fa_pramin_accessor *inner)
{
	a->inner = inner;
	a->fail_in = -1;
	a->ops.rd32 = fa_rd32;
	a->ops.wr32 = fa_wr32;
	a->ops.rd64 = fa_rd64;
	a->ops.wr64 = fa_wr64;
	a->ops.fill32 = fa_fill32;
	a->ops.fill64 = fa_fill64;
	a->ops.copy64 = fa_copy64;
	a->ops.flush = fa_flush;
	a->acc.ops = &a->ops;
	a->acc.ctx = a;
}

/* A random ref range (size in pages log-uniform) near a few hot spots. */
static void rand_ref(struct fa_rng *r, const struct fa_pt_format *f, uint64_t base, uint64_t *va,
		     uint64_t *size, uint64_t *ps)
{
	unsigned int p = (unsigned int)fa_rng_below(r, f->npages);
	uint64_t n = 1 + fa_rng_below(r, FA_BIT64(fa_rng_below(r, 12)));

	*ps = FA_BIT64(f->page[p].shift);
	if (*ps >= M512)
		n = 1 + fa_rng_below(r, 3);
	*va = base + fa_rng_below(r, 4) * G1 * 4 + fa_rng_below(r, 4096) * *ps;
	*va &= ~(*ps - 1);
	*size = n * *ps;
}

/* References a test still holds, to drop at its end. */
struct held_refs {
	struct { uint64_t va, size, ps; } *r;
	unsigned long n, cap;
};

static void held_init(struct held_refs *h, unsigned long cap)
{
	h->r = calloc(cap ? cap : 1, sizeof(*h->r));
	cr_assert_not_null(h->r);
	h->n = 0;
	h->cap = cap;
}

static void held_add(struct held_refs *h, uint64_t va, uint64_t size, uint64_t ps)
{
	cr_assert_lt(h->n, h->cap);
	h->r[h->n].va = va;
	h->r[h->n].size = size;
	h->r[h->n++].ps = ps;
}

/* Drop every held reference (newest first), then free the list. */
static void held_unref_all(struct held_refs *h, struct fa_pt *pt, uint64_t epoch)
{
	while (h->n) {
		h->n--;
		cr_assert_eq(fa_pt_unref(pt, h->r[h->n].va, h->r[h->n].size, h->r[h->n].ps, epoch),
			     0);
	}
	free(h->r);
	h->r = NULL;
}

static void fault_injection_run(const struct fa_pt_format *f, uint64_t seed)
{
	static struct pt_vram v;
	struct failing_acc fa;
	struct fa_pt pt;
	struct fa_rng r;
	struct held_refs held;
	uint64_t base = FA_BIT64(f->level[0].shift) - 8 * G1;
	unsigned long tries = 0, injected = 0, i;

	fa_rng_seed(&r, seed);
	held_init(&held, fa_test_iters(60));
	pt_vram_init(&v, 128ull << 20);
	failing_acc_init(&fa, &v.acc);
	cr_assert_eq(pt_tree_init_acc(&pt, &v, f, &fa.acc), 0);
	for (i = 0; i < fa_test_iters(60); i++) {
		uint64_t va, size, ps, h;
		struct fa_pt_estimate est;
		long k, nalloc;
		int rc;

		rand_ref(&r, f, base, &va, &size, &ps);
		cr_assert_eq(fa_pt_estimate(&pt, va, size, ps, &est), 0);
		nalloc = (long)est.total * 2; /* a shadow node and a table each */
		h = pt_state_hash(&v, &pt);
		for (k = 0; k < nalloc; k++) {
			v.fail_in = k;
			rc = fa_pt_ref(&pt, va, size, ps, FA_GFP_KERNEL);
			v.fail_in = -1;
			if (rc == -FA_EBUSY)
				break;
			cr_assert_eq(rc, -FA_ENOMEM, "allocation %ld of %ld: %d", k, nalloc, rc);
			cr_assert_eq(pt_state_hash(&v, &pt), h, "state changed by a failed ref");
			injected++;
		}
		/* accessor failures while clearing the new tables */
		for (k = 0; k < (long)est.total; k++) {
			fa.fail_in = k;
			rc = fa_pt_ref(&pt, va, size, ps, FA_GFP_KERNEL);
			fa.fail_in = -1;
			if (rc == -FA_EBUSY)
				break;
			cr_assert_eq(rc, -FA_EFAULT);
			cr_assert_eq(pt_state_hash(&v, &pt), h, "state changed by a failed ref");
			injected++;
		}
		rc = fa_pt_ref(&pt, va, size, ps, FA_GFP_KERNEL);
		cr_assert(rc == 0 || rc == -FA_EBUSY);
		if (rc == 0 && fa_rng_below(&r, 3) == 0)
			cr_assert_eq(fa_pt_unref(&pt, va, size, ps, i), 0);
		else if (rc == 0)
			held_add(&held, va, size, ps);
		tries++;
	}
	cr_assert_geq(injected, fa_test_iters(60), "only %lu injected failures", injected);
	fa_pt_reclaim(&pt, FA_U64_MAX >> 2);
	(void)tries;
	held_unref_all(&held, &pt, i);
	cr_assert_eq(pt_tree_teardown(&pt, &v), 0);
	pt_vram_destroy(&v);
}

Test(pt_faults, every_allocation_of_ref_nv_ver2, .timeout = 60)
{
	fault_injection_run(fa_pt_format_nv_ver2(), fa_test_seed(0xfa171));
}

Test(pt_faults, every_allocation_of_ref_nv_ver3, .timeout = 60)
{
	fault_injection_run(fa_pt_format_nv_ver3(), fa_test_seed(0xfa173));
}

Test(pt_faults, every_allocation_of_ref_x86_64, .timeout = 60)
{
	fault_injection_run(fa_pt_format_x86_64(), fa_test_seed(0xfa172));
}

/* Every public call on a tree whose init failed (or that was never
 * initialised): -FA_EINVAL, or a warning for those that cannot return it,
 * and no allocator or accessor call. */
static void expect_not_initialised(struct fa_pt *pt, struct pt_vram *v, struct failing_acc *fa,
				   int after_fini)
{
	struct fa_pt_estimate est;
	struct fa_pt_xlate x;
	struct fa_pt_stats st;
	uint64_t page = 0x1000, calls = v->calls;
	long acc_fail = fa->fail_in;

	fa->fail_in = 0; /* any accessor write would fail: none may happen */
	cr_assert_eq(fa_pt_fini(pt), -FA_EINVAL);
	cr_assert_eq(fa_pt_unmap(pt, 0, K4, K4), -FA_EINVAL);
	cr_assert_eq(fa_pt_ref(pt, 0, K4, K4, FA_GFP_KERNEL), -FA_EINVAL);
	cr_assert_eq(fa_pt_estimate(pt, 0, K4, K4, &est), -FA_EINVAL);
	cr_assert_eq(fa_pt_map(pt, 0, K4, K4, 0, 0), -FA_EINVAL);
	cr_assert_eq(fa_pt_map_pages(pt, 0, K4, K4, &page, 0), -FA_EINVAL);
	cr_assert_eq(fa_pt_sparse(pt, 0, K4, K4), -FA_EINVAL);
	cr_assert_eq(fa_pt_unref(pt, 0, K4, K4, 1), -FA_EINVAL);
	cr_assert_eq(fa_pt_translate(pt, 0, &x), -FA_EINVAL);
	{
		uint64_t root = 1;
		unsigned long n = 1;

		FA_EXPECT_WARN(root = fa_pt_root_addr(pt));
		cr_assert_eq(root, 0);
		FA_EXPECT_WARN(n = fa_pt_reclaim(pt, FA_U64_MAX >> 2));
		cr_assert_eq(n, 0);
		n = 1;
		FA_EXPECT_WARN(n = fa_pt_pending(pt));
		cr_assert_eq(n, 0);
	}
	memset(&st, 0x55, sizeof(st));
	FA_EXPECT_WARN(fa_pt_get_stats(pt, &st));
	if (after_fini) {
		cr_assert_gt(st.allocated, 0, "fini leaves the final counters");
		cr_assert_eq(st.freed, st.allocated);
	} else {
		cr_assert_eq(st.allocated, 0, "a failed init leaves zero counters");
		cr_assert_eq(st.freed, 0);
	}
	cr_assert_eq(st.live[0], 0);
	cr_assert_eq(st.pending[0], 0);
	cr_assert_eq(fa_pt_fini(pt), -FA_EINVAL, "still not initialised");
	cr_assert_eq(v->calls, calls, "an allocator was called");
	cr_assert_eq(fa->fail_in, 0, "the accessor was written");
	fa->fail_in = acc_fail;
	cr_assert_eq(pt_vram_live(v), 0);
}

Test(pt_faults, init_failures_leave_nothing)
{
	static struct pt_vram v;
	struct failing_acc fa;
	struct fa_pt_table_alloc ta;
	struct fa_reserve_source rs;
	struct fa_pt_config cfg;
	struct fa_pt pt;
	long k;

	setenv("FA_TEST_QUIET_WARN", "1", 1);
	pt_vram_init(&v, 1 << 20);
	failing_acc_init(&fa, &v.acc);
	/* the struct starts as garbage, as a driver's kzalloc-less storage may */
	for (k = 0; k < 2; k++) {
		memset(&pt, 0xaa, sizeof(pt));
		v.fail_in = k;
		cr_assert_eq(pt_tree_init_acc(&pt, &v, fa_pt_format_nv_ver2(), &fa.acc), -FA_ENOMEM);
		cr_assert_eq(v.live_tables, 0);
		cr_assert_eq(v.live_shadow, 0);
		expect_not_initialised(&pt, &v, &fa, 0);
	}
	memset(&pt, 0xaa, sizeof(pt));
	fa.fail_in = 0;
	cr_assert_eq(pt_tree_init_acc(&pt, &v, fa_pt_format_nv_ver2(), &fa.acc), -FA_EFAULT);
	fa.fail_in = -1;
	cr_assert_eq(v.live_tables, 0);
	cr_assert_eq(v.live_shadow, 0);
	expect_not_initialised(&pt, &v, &fa, 0);
	/* -FA_EINVAL at init (no format, and a format that does not validate) */
	ta.alloc = pt_table_alloc_cb;
	ta.free = pt_table_free_cb;
	ta.ctx = &v;
	rs.alloc = pt_shadow_alloc_cb;
	rs.free = pt_shadow_free_cb;
	rs.ctx = &v;
	fa_pt_config_init(&cfg, NULL, &fa.acc, &ta, &rs);
	memset(&pt, 0xaa, sizeof(pt));
	cr_assert_eq(fa_pt_init(&pt, &cfg, FA_GFP_KERNEL), -FA_EINVAL);
	expect_not_initialised(&pt, &v, &fa, 0);
	memset(&pt, 0xaa, sizeof(pt));
	cr_assert_eq(fa_pt_init(&pt, NULL, FA_GFP_KERNEL), -FA_EINVAL);
	expect_not_initialised(&pt, &v, &fa, 0);
	cr_assert_eq(fa_pt_init(NULL, &cfg, FA_GFP_KERNEL), -FA_EINVAL);
	/* a tree that then initialises fine works and tears down to nothing */
	cr_assert_eq(pt_tree_init_acc(&pt, &v, fa_pt_format_nv_ver2(), &fa.acc), 0);
	cr_assert_eq(fa_pt_ref(&pt, 0, K4, K4, FA_GFP_KERNEL), 0);
	cr_assert_eq(fa_pt_unref(&pt, 0, K4, K4, 1), 0);
	cr_assert_eq(pt_tree_teardown(&pt, &v), 0);
	expect_not_initialised(&pt, &v, &fa, 1);
	pt_vram_destroy(&v);
}

/* ---------------------------------------------------------------- bad input */

#define EXPECT_UNCHANGED(call, err)                                                   \
	do {                                                                          \
		uint64_t h__ = pt_state_hash(&v, &pt);                               \
		int rc__ = (call);                                                    \
		cr_assert_eq(rc__, (err), "%s: %d, expected %d", #call, rc__, (err)); \
		cr_assert_eq(pt_state_hash(&v, &pt), h__, "%s changed state", #call); \
	} while (0)

Test(pt_faults, bad_input_specific_errors_nothing_changed)
{
	static struct pt_vram v;
	const struct fa_pt_format *f = fa_pt_format_nv_ver2();
	struct fa_pt pt;
	struct fa_pt_estimate est;
	struct fa_pt_xlate x;
	uint64_t top = FA_BIT64(49), i;
	unsigned long w;

	setenv("FA_TEST_QUIET_WARN", "1", 1);
	pt_vram_init(&v, 16 << 20);
	cr_assert_eq(pt_tree_init(&pt, &v, f), 0);
	cr_assert_eq(fa_pt_ref(&pt, 0x200000, 0x10000, K4, FA_GFP_KERNEL), 0);
	cr_assert_eq(fa_pt_ref(&pt, 0x400000, 0x20000, K64, FA_GFP_KERNEL), 0);
	cr_assert_eq(fa_pt_map(&pt, 0x200000, 0x10000, K4, 0x100000, 0), 0);

	/* ref */
	EXPECT_UNCHANGED(fa_pt_ref(&pt, 0x1000, K64, K64, 0), -FA_EINVAL);      /* va */
	EXPECT_UNCHANGED(fa_pt_ref(&pt, 0x10000, 0x1000, K64, 0), -FA_EINVAL);  /* size */
	EXPECT_UNCHANGED(fa_pt_ref(&pt, 0x10000, 0, K64, 0), -FA_EINVAL);       /* empty */
	EXPECT_UNCHANGED(fa_pt_ref(&pt, 0, 0x2000, 0x2000, 0), -FA_EOPNOTSUPP); /* 8 KiB */
	EXPECT_UNCHANGED(fa_pt_ref(&pt, 0, G1, G1, 0), -FA_EOPNOTSUPP);         /* no 1 GiB on ver2 */
	EXPECT_UNCHANGED(fa_pt_ref(&pt, top, K4, K4, 0), -FA_ERANGE);
	EXPECT_UNCHANGED(fa_pt_ref(&pt, top - K4, 2 * K4, K4, 0), -FA_ERANGE);
	EXPECT_UNCHANGED(fa_pt_ref(&pt, FA_U64_MAX - K4 + 1, 2 * K4, K4, 0), -FA_EOVERFLOW);
	EXPECT_UNCHANGED(fa_pt_ref(NULL, 0, K4, K4, 0), -FA_EINVAL);
	/* 2 MiB page over a region with a small table; 4 KiB under a referenced 2 MiB */
	EXPECT_UNCHANGED(fa_pt_ref(&pt, 0x200000, M2, M2, 0), -FA_EBUSY);
	cr_assert_eq(fa_pt_ref(&pt, 0x800000, M2, M2, FA_GFP_KERNEL), 0);
	EXPECT_UNCHANGED(fa_pt_ref(&pt, 0x900000, K4, K4, 0), -FA_EBUSY);
	EXPECT_UNCHANGED(fa_pt_ref(&pt, 0x800000, K64, K64, 0), -FA_EBUSY);
	/* 512 MiB over a PD1 entry that has a PD0 */
	EXPECT_UNCHANGED(fa_pt_ref(&pt, 0, M512, M512, 0), -FA_EBUSY);

	/* estimate */
	EXPECT_UNCHANGED(fa_pt_estimate(&pt, 0x1000, K64, K64, &est), -FA_EINVAL);
	EXPECT_UNCHANGED(fa_pt_estimate(&pt, 0, K4, 0x3000, &est), -FA_EOPNOTSUPP);
	EXPECT_UNCHANGED(fa_pt_estimate(&pt, top, K4, K4, &est), -FA_ERANGE);
	EXPECT_UNCHANGED(fa_pt_estimate(&pt, 0, K4, K4, NULL), -FA_EINVAL);
	cr_assert_eq(fa_pt_estimate_static(f, FA_U64_MAX & ~(K4 - 1), 2 * K4, K4, &est),
		     -FA_EOVERFLOW);
	cr_assert_eq(fa_pt_estimate_static(NULL, 0, K4, K4, &est), -FA_EINVAL);

	/* map: unreferenced range warns; bad addresses */
	w = fa_test_warnings();
	EXPECT_UNCHANGED(fa_pt_map(&pt, 0x300000, K4, K4, 0, 0), -FA_ENOENT);
	cr_assert_gt(fa_test_warnings(), w);
	w = fa_test_warnings();
	EXPECT_UNCHANGED(fa_pt_map(&pt, 0x20f000, 2 * K4, K4, 0, 0), -FA_ENOENT); /* half in */
	cr_assert_gt(fa_test_warnings(), w);
	EXPECT_UNCHANGED(fa_pt_map(&pt, 0x400000, K4, K4, 0, 0), -FA_ENOENT);    /* 64K refs only */
	EXPECT_UNCHANGED(fa_pt_map(&pt, 0x200000, K4, K4, 0x1001, 0), -FA_EINVAL);
	EXPECT_UNCHANGED(fa_pt_map(&pt, 0x200000, K4, K4, FA_BIT64(37), 0), -FA_ERANGE);
	EXPECT_UNCHANGED(fa_pt_map(&pt, 0x200000, 2 * K4, K4, FA_BIT64(37) - K4, 0), -FA_ERANGE);
	cr_assert_eq(fa_pt_map(&pt, 0x200000, K4, K4, FA_BIT64(37), FA_PT_APER_SYS_COH), 0);
	{
		uint64_t pages[2];

		pages[0] = 0x1000;
		pages[1] = 0x1800;
		EXPECT_UNCHANGED(fa_pt_map_pages(&pt, 0x200000, 2 * K4, K4, pages, 0), -FA_EINVAL);
		pages[1] = FA_BIT64(40);
		EXPECT_UNCHANGED(fa_pt_map_pages(&pt, 0x200000, 2 * K4, K4, pages, 0), -FA_ERANGE);
		EXPECT_UNCHANGED(fa_pt_map_pages(&pt, 0x200000, 2 * K4, K4, NULL, 0), -FA_EINVAL);
		w = fa_test_warnings();
		pages[1] = 0x2000;
		EXPECT_UNCHANGED(fa_pt_map_pages(&pt, 0x3ff000, 2 * K4, K4, pages, 0), -FA_ENOENT);
		cr_assert_gt(fa_test_warnings(), w);
	}

	/* unmap / unref */
	w = fa_test_warnings();
	EXPECT_UNCHANGED(fa_pt_unmap(&pt, 0x300000, K4, K4), -FA_ENOENT);
	cr_assert_gt(fa_test_warnings(), w);
	EXPECT_UNCHANGED(fa_pt_unmap(&pt, 0x200800, K4, K4), -FA_EINVAL);
	EXPECT_UNCHANGED(fa_pt_unref(&pt, 0x300000, K4, K4, 1), -FA_ENOENT);      /* never */
	EXPECT_UNCHANGED(fa_pt_unref(&pt, 0x20f000, 2 * K4, K4, 1), -FA_ENOENT);  /* partly */
	EXPECT_UNCHANGED(fa_pt_unref(&pt, 0x200000, K4, K64, 1), -FA_EINVAL);
	EXPECT_UNCHANGED(fa_pt_unref(&pt, 0x200000, K4, 0x8000, 1), -FA_EOPNOTSUPP);
	EXPECT_UNCHANGED(fa_pt_unref(&pt, 0x200000, K64, K64, 1), -FA_ENOENT);    /* wrong size */

	/* translate */
	cr_assert_eq(fa_pt_translate(&pt, top, &x), -FA_ERANGE);
	cr_assert_eq(fa_pt_translate(&pt, 0x200000, NULL), -FA_EINVAL);

	/* per-slot count saturation: 65535 references, then EOVERFLOW */
	for (i = 1; i < 0xffff; i++)
		cr_assert_eq(fa_pt_ref(&pt, 0x200000, K4, K4, FA_GFP_KERNEL), 0);
	EXPECT_UNCHANGED(fa_pt_ref(&pt, 0x1ff000, 2 * K4, K4, 0), -FA_EOVERFLOW);
	for (i = 1; i < 0xffff; i++)
		cr_assert_eq(fa_pt_unref(&pt, 0x200000, K4, K4, 1), 0);

	/* fini with references left */
	EXPECT_UNCHANGED(fa_pt_fini(&pt), -FA_EBUSY);

	/* tear down: unmap and drop every reference taken above */
	cr_assert_eq(fa_pt_unmap(&pt, 0x200000, 0x10000, K4), 0);
	cr_assert_eq(fa_pt_unref(&pt, 0x200000, 0x10000, K4, 2), 0);
	cr_assert_eq(fa_pt_unref(&pt, 0x400000, 0x20000, K64, 2), 0);
	cr_assert_eq(fa_pt_unref(&pt, 0x800000, M2, M2, 2), 0);
	cr_assert_eq(pt_tree_teardown(&pt, &v), 0);
	pt_vram_destroy(&v);
}

Test(pt_faults, bad_config)
{
	static struct pt_vram v;
	struct fa_pt_table_alloc ta;
	struct fa_reserve_source rs;
	struct fa_pt_config cfg;
	struct fa_pt_format bad;
	struct fa_pt pt;

	pt_vram_init(&v, 1 << 20);
	ta.alloc = pt_table_alloc_cb;
	ta.free = pt_table_free_cb;
	ta.ctx = &v;
	rs.alloc = pt_shadow_alloc_cb;
	rs.free = pt_shadow_free_cb;
	rs.ctx = &v;
	fa_pt_config_init(&cfg, fa_pt_format_nv_ver2(), &v.acc, &ta, &rs);
	cfg.pde_attr = FA_PT_APER_PEER;
	cr_assert_eq(fa_pt_init(&pt, &cfg, 0), -FA_EINVAL);
	fa_pt_config_init(&cfg, NULL, &v.acc, &ta, &rs);
	cr_assert_eq(fa_pt_init(&pt, &cfg, 0), -FA_EINVAL);
	memcpy(&bad, fa_pt_format_nv_ver2(), sizeof(bad));
	bad.level[3].bits = 7;
	fa_pt_config_init(&cfg, &bad, &v.acc, &ta, &rs);
	cr_assert_eq(fa_pt_init(&pt, &cfg, 0), -FA_EINVAL);
	fa_pt_config_init(&cfg, fa_pt_format_nv_ver2(), NULL, &ta, &rs);
	cr_assert_eq(fa_pt_init(&pt, &cfg, 0), -FA_EINVAL);
	fa_pt_config_init(&cfg, fa_pt_format_nv_ver2(), &v.acc, &ta, &rs);
	cfg.acc_lock.lock = (void (*)(void *))abort; /* lock without unlock */
	cr_assert_eq(fa_pt_init(&pt, &cfg, 0), -FA_EINVAL);
	cr_assert_eq(v.calls, 0);
	pt_vram_destroy(&v);
}

/* ---------------------------------------------------------------- estimates */

/* Hand-checked cases: misaligned ends need a table on each side. */
Test(pt_faults, estimate_static_counts_misaligned_ends)
{
	const struct fa_pt_format *f = fa_pt_format_nv_ver2();
	struct fa_pt_estimate e;

	/* two 4 KiB pages straddling a 2 MiB boundary: 2 small PTs, 1 PD0, 1 PD1, 1 PD2 */
	cr_assert_eq(fa_pt_estimate_static(f, M2 - K4, 2 * K4, K4, &e), 0);
	cr_assert_eq(e.tables[FA_PT_NV2_LVL_PT_SMALL], 2);
	cr_assert_eq(e.tables[FA_PT_NV2_LVL_PD0], 1);
	cr_assert_eq(e.tables[FA_PT_NV2_LVL_PD1], 1);
	cr_assert_eq(e.tables[FA_PT_NV2_LVL_PD2], 1);
	cr_assert_eq(e.tables[FA_PT_NV2_LVL_PT_BIG], 0);
	cr_assert_eq(e.total, 5);
	cr_assert_eq(e.bytes, 5 * 4096);
	cr_assert_eq(fa_pt_estimate_tables_of_size(f, &e, 4096), 5);
	cr_assert_eq(fa_pt_estimate_tables_of_size(f, &e, 256), 0);
	/* 1 GiB of 4 KiB pages, aligned: 512 PTs + 2 PD0 + 1 PD1 + 1 PD2 */
	cr_assert_eq(fa_pt_estimate_static(f, G1, G1, K4, &e), 0);
	cr_assert_eq(e.tables[FA_PT_NV2_LVL_PT_SMALL], 512);
	cr_assert_eq(e.tables[FA_PT_NV2_LVL_PD0], 2);
	/* the same, shifted by one page: one more PT and one more PD0 */
	cr_assert_eq(fa_pt_estimate_static(f, G1 + K4, G1, K4, &e), 0);
	cr_assert_eq(e.tables[FA_PT_NV2_LVL_PT_SMALL], 513);
	cr_assert_eq(e.tables[FA_PT_NV2_LVL_PD0], 3);
	/* 64 KiB pages use 256-byte big PTs */
	cr_assert_eq(fa_pt_estimate_static(f, 0, 4 * M2, K64, &e), 0);
	cr_assert_eq(e.tables[FA_PT_NV2_LVL_PT_BIG], 4);
	cr_assert_eq(e.bytes, 4 * 256 + 3 * 4096);
	cr_assert_eq(fa_pt_estimate_tables_of_size(f, &e, 256), 4);
	cr_assert_eq(fa_pt_estimate_tables_of_size(f, &e, 4096), 3);
	/* a 512 MiB page needs PD2 and PD1 only */
	cr_assert_eq(fa_pt_estimate_static(f, M512, M512, M512, &e), 0);
	cr_assert_eq(e.total, 2);
	cr_assert_eq(e.tables[FA_PT_NV2_LVL_PD1], 1);
	cr_assert_eq(e.shadow_bytes, fa_pt_node_bytes(f, 1) + fa_pt_node_bytes(f, 2));
}

static void estimate_run(const struct fa_pt_format *f, uint64_t seed, unsigned long n)
{
	static struct pt_vram v;
	struct fa_pt pt;
	struct fa_rng r;
	uint64_t base = FA_BIT64(f->level[0].shift) - 8 * G1;
	struct { uint64_t va, size, ps; } held[64];
	unsigned int nh = 0, l;
	unsigned long i, refs = 0, nonzero = 0;

	fa_rng_seed(&r, seed);
	pt_vram_init(&v, 512ull << 20);
	cr_assert_eq(pt_tree_init(&pt, &v, f), 0);
	for (i = 0; i < n; i++) {
		uint64_t va, size, ps, allocs;
		struct fa_pt_estimate est, st;
		int rc;

		rand_ref(&r, f, base, &va, &size, &ps);
		cr_assert_eq(fa_pt_estimate(&pt, va, size, ps, &est), 0);
		cr_assert_eq(fa_pt_estimate_static(f, va, size, ps, &st), 0);
		for (l = 0; l < FA_PT_MAX_LEVELS; l++)
			cr_assert_geq(st.tables[l], est.tables[l]);
		cr_assert_geq(st.bytes, est.bytes);
		nonzero += est.total != 0;
		if (fa_rng_below(&r, 8))
			continue; /* most ranges: estimate only */
		allocs = v.table_allocs;
		rc = fa_pt_ref(&pt, va, size, ps, FA_GFP_KERNEL);
		if (rc == -FA_EBUSY)
			continue;
		cr_assert_eq(rc, 0);
		cr_assert_eq(v.table_allocs - allocs, est.total, "estimate %llu, allocated %llu",
			     (unsigned long long)est.total,
			     (unsigned long long)(v.table_allocs - allocs));
		refs++;
		if (nh == 64) {
			unsigned int k = (unsigned int)fa_rng_below(&r, nh);

			cr_assert_eq(fa_pt_unref(&pt, held[k].va, held[k].size, held[k].ps, i), 0);
			held[k] = held[--nh];
			fa_pt_reclaim(&pt, i);
		}
		held[nh].va = va;
		held[nh].size = size;
		held[nh++].ps = ps;
	}
	cr_assert_gt(refs, n / 20);
	cr_assert_gt(nonzero, n / 4);
	while (nh) {
		nh--;
		cr_assert_eq(fa_pt_unref(&pt, held[nh].va, held[nh].size, held[nh].ps, n), 0);
	}
	fa_pt_reclaim(&pt, n);
	cr_assert_eq(v.live_tables, 1);
	cr_assert_eq(pt_tree_teardown(&pt, &v), 0);
	pt_vram_destroy(&v);
}

Test(pt_faults, estimates_exact_and_safe_nv_ver2, .timeout = 60)
{
	estimate_run(fa_pt_format_nv_ver2(), fa_test_seed(0xe571), fa_test_iters(100000) / 2);
}

Test(pt_faults, estimates_exact_and_safe_x86_64, .timeout = 60)
{
	estimate_run(fa_pt_format_x86_64(), fa_test_seed(0xe572), fa_test_iters(100000) / 2);
}

/* An accessor failure while linking (after the allocation phase) warns, returns
 * the error, and leaves a consistent tree that unref fully undoes. */
Test(pt_faults, pde_write_failure_warns_and_unref_undoes)
{
	static struct pt_vram v;
	struct failing_acc fa;
	struct fa_pt pt;
	struct fa_pt_estimate est;
	int rc = 0;

	setenv("FA_TEST_QUIET_WARN", "1", 1);
	pt_vram_init(&v, 8 << 20);
	failing_acc_init(&fa, &v.acc);
	cr_assert_eq(pt_tree_init_acc(&pt, &v, fa_pt_format_nv_ver2(), &fa.acc), 0);
	cr_assert_eq(fa_pt_estimate(&pt, M2 - K4, 2 * K4, K4, &est), 0);
	cr_assert_eq(est.total, 5);
	fa.fail_in = (long)est.total + 1; /* clears succeed; the second PDE write fails */
	FA_EXPECT_WARN(rc = fa_pt_ref(&pt, M2 - K4, 2 * K4, K4, FA_GFP_KERNEL));
	cr_assert_eq(rc, -FA_EFAULT);
	fa.fail_in = -1;
	cr_assert_eq(v.live_tables, 6);
	cr_assert_eq(fa_pt_unref(&pt, M2 - K4, 2 * K4, K4, 1), 0);
	cr_assert_eq(fa_pt_reclaim(&pt, 1), 5);
	cr_assert_eq(v.live_tables, 1);
	cr_assert_eq(pt_tree_teardown(&pt, &v), 0);
	pt_vram_destroy(&v);
}

Test(pt_faults, calls_after_fini_are_rejected)
{
	static struct pt_vram v;
	struct fa_pt pt;
	struct fa_pt_estimate est;
	struct fa_pt_xlate x;
	uint64_t page = 0x1000;

	pt_vram_init(&v, 1 << 20);
	cr_assert_eq(pt_tree_init(&pt, &v, fa_pt_format_nv_ver2()), 0);
	cr_assert_eq(fa_pt_fini(&pt), 0);
	cr_assert_eq(v.live_tables, 0);
	cr_assert_eq(fa_pt_fini(&pt), -FA_EINVAL);
	cr_assert_eq(fa_pt_ref(&pt, 0, K4, K4, 0), -FA_EINVAL);
	cr_assert_eq(fa_pt_estimate(&pt, 0, K4, K4, &est), -FA_EINVAL);
	cr_assert_eq(fa_pt_map(&pt, 0, K4, K4, 0, 0), -FA_EINVAL);
	cr_assert_eq(fa_pt_map_pages(&pt, 0, K4, K4, &page, 0), -FA_EINVAL);
	cr_assert_eq(fa_pt_unmap(&pt, 0, K4, K4), -FA_EINVAL);
	cr_assert_eq(fa_pt_sparse(&pt, 0, K4, K4), -FA_EINVAL);
	cr_assert_eq(fa_pt_unref(&pt, 0, K4, K4, 0), -FA_EINVAL);
	cr_assert_eq(fa_pt_translate(&pt, 0, &x), -FA_EINVAL);
	cr_assert_eq(v.calls, 4); /* the init's two allocations and the fini's two frees */
	cr_assert_eq(pt_vram_live(&v), 0);
	pt_vram_destroy(&v);
}

/* ---------------------------------------------- ref from per-job reservations */

/* Tables and shadow nodes set aside at "submit" from the static estimate, per
 * level; the allocators handed to fa_pt_ref() only pop from them (no real
 * allocation: the backing allocator is armed to abort). */
struct resv {
	struct pt_vram *v;
	const struct fa_pt_format *f;
	uint64_t taddr[FA_PT_MAX_LEVELS][64];
	void *shadow[FA_PT_MAX_LEVELS][64];
	unsigned int nt[FA_PT_MAX_LEVELS], ns[FA_PT_MAX_LEVELS];
	unsigned long popped;
};

static unsigned int level_of_size(const struct fa_pt_format *f, uint64_t bytes, int shadow)
{
	unsigned int l;

	for (l = 0; l < f->nlevels; l++)
		if ((shadow ? fa_pt_node_bytes(f, l) : fa_pt_level_bytes(f, l)) == bytes)
			return l;
	cr_assert_fail("no level has %llu bytes", (unsigned long long)bytes);
	return 0;
}

static int resv_table_alloc(void *ctx, uint64_t size, uint64_t align, fa_gfp_t gfp, uint64_t *addr)
{
	struct resv *r = (struct resv *)ctx;
	unsigned int l = level_of_size(r->f, size, 0);

	(void)align;
	cr_assert_eq(gfp, FA_GFP_NOWAIT);
	cr_assert_gt(r->nt[l], 0, "table reservation of level %u ran dry", l);
	*addr = r->taddr[l][--r->nt[l]];
	r->popped++;
	return 0;
}

static void resv_table_free(void *ctx, uint64_t addr, uint64_t size)
{
	struct resv *r = (struct resv *)ctx;
	int forbidden = r->v->forbidden;

	r->v->forbidden = 0;
	pt_table_free_cb(r->v, addr, size); /* cleanup: back to the real allocator */
	r->v->forbidden = forbidden;
}

static void *resv_shadow_alloc(void *ctx, size_t size, fa_gfp_t gfp)
{
	struct resv *r = (struct resv *)ctx;
	unsigned int l = level_of_size(r->f, size, 1);

	cr_assert_eq(gfp, FA_GFP_NOWAIT);
	cr_assert_gt(r->ns[l], 0, "shadow reservation of level %u ran dry", l);
	r->popped++;
	return r->shadow[l][--r->ns[l]];
}

static void resv_shadow_free(void *ctx, void *obj, size_t size)
{
	struct resv *r = (struct resv *)ctx;
	int forbidden = r->v->forbidden;

	r->v->forbidden = 0;
	pt_shadow_free_cb(r->v, obj, size);
	r->v->forbidden = forbidden;
}

/* submit: fill the reservation from the static estimate (real allocations) */
static void resv_fill(struct resv *r, const struct fa_pt_estimate *st)
{
	unsigned int l;
	uint64_t k;

	/* pools are per size (the first level of that size), not per level:
	 * tables of one size are interchangeable (PD2, PD1, PD0 and small PTs
	 * are all 4 KiB) */
	for (l = 0; l < r->f->nlevels; l++)
		for (k = 0; k < st->tables[l]; k++) {
			unsigned int t = level_of_size(r->f, fa_pt_level_bytes(r->f, l), 0);
			unsigned int s = level_of_size(r->f, fa_pt_node_bytes(r->f, l), 1);

			cr_assert_lt(r->nt[t], 64);
			cr_assert_lt(r->ns[s], 64);
			cr_assert_eq(pt_table_alloc_cb(r->v, fa_pt_level_bytes(r->f, l),
						       FA_BIT64(r->f->level[l].align_log2), 0,
						       &r->taddr[t][r->nt[t]++]), 0);
			r->shadow[s][r->ns[s]++] = pt_shadow_alloc_cb(r->v, fa_pt_node_bytes(r->f, l), 0);
		}
}

/* cleanup: give back what the job did not use */
static void resv_release(struct resv *r)
{
	unsigned int l;

	for (l = 0; l < r->f->nlevels; l++) {
		while (r->nt[l])
			pt_table_free_cb(r->v, r->taddr[l][--r->nt[l]], fa_pt_level_bytes(r->f, l));
		while (r->ns[l])
			pt_shadow_free_cb(r->v, r->shadow[l][--r->ns[l]], fa_pt_node_bytes(r->f, l));
	}
}

Test(pt_faults, ref_from_static_estimate_reservations_never_runs_dry, .timeout = 60)
{
	static struct pt_vram v;
	static struct resv r;
	const struct fa_pt_format *f = fa_pt_format_nv_ver2();
	struct fa_pt_table_alloc ta;
	struct fa_reserve_source rs;
	struct fa_pt_config cfg;
	struct fa_pt pt;
	struct fa_rng rng;
	struct held_refs held;
	uint64_t base = FA_BIT64(f->level[0].shift) - 8 * G1;
	unsigned long i, refs = 0;

	fa_rng_seed(&rng, fa_test_seed(0x5e5e));
	held_init(&held, fa_test_iters(2000));
	pt_vram_init(&v, 64ull << 20);
	memset(&r, 0, sizeof(r));
	r.v = &v;
	r.f = f;
	ta.alloc = resv_table_alloc;
	ta.free = resv_table_free;
	ta.ctx = &r;
	rs.alloc = resv_shadow_alloc;
	rs.free = resv_shadow_free;
	rs.ctx = &r;
	fa_pt_config_init(&cfg, f, &v.acc, &ta, &rs);
	/* the root comes from a one-table reservation too */
	{
		struct fa_pt_estimate root;

		memset(&root, 0, sizeof(root));
		root.tables[0] = 1;
		resv_fill(&r, &root);
	}
	v.forbidden = 1;
	cr_assert_eq(fa_pt_init(&pt, &cfg, FA_GFP_NOWAIT), 0);
	v.forbidden = 0;
	for (i = 0; i < fa_test_iters(2000); i++) {
		uint64_t va, size, ps;
		struct fa_pt_estimate st;
		int rc;

		rand_ref(&rng, f, base, &va, &size, &ps);
		if (size > 32 * M2 && ps <= M2)
			size = 32 * M2; /* keep reservations small */
		cr_assert_eq(fa_pt_estimate_static(f, va, size, ps, &st), 0);
		resv_fill(&r, &st);            /* submit */
		v.forbidden = 1;               /* run: no real allocation from here */
		rc = fa_pt_ref(&pt, va, size, ps, FA_GFP_NOWAIT);
		v.forbidden = 0;
		cr_assert(rc == 0 || rc == -FA_EBUSY, "ref: %d", rc);
		resv_release(&r);              /* cleanup */
		if (rc == 0) {
			refs++;
			if (fa_rng_below(&rng, 2))
				cr_assert_eq(fa_pt_unref(&pt, va, size, ps, i), 0);
			else
				held_add(&held, va, size, ps);
		}
		fa_pt_reclaim(&pt, i);
	}
	cr_assert_gt(refs, 0);
	cr_assert_gt(r.popped, 0);
	/* cleanup frees through the reservation's free hooks, into the real allocators */
	held_unref_all(&held, &pt, i);
	cr_assert_eq(pt_tree_teardown(&pt, &v), 0);
	pt_vram_destroy(&v);
}

/* ------------------------------------------- table addresses the format cannot encode */

/* A table allocator that hands out one address shifted by @off (beyond 2^37,
 * or misaligned) at the @bad_in-th call, and takes it back on free. */
struct shifty_alloc {
	struct pt_vram *v;
	long bad_in;
	uint64_t off, bad;
	unsigned long handed, taken_back;
};

static int shifty_table_alloc(void *ctx, uint64_t size, uint64_t align, fa_gfp_t gfp, uint64_t *addr)
{
	struct shifty_alloc *s = (struct shifty_alloc *)ctx;
	int err = pt_table_alloc_cb(s->v, size, align, gfp, addr);

	if (!err && s->bad_in >= 0 && s->bad_in-- == 0) {
		*addr += s->off;
		s->bad = *addr;
		s->handed++;
	}
	return err;
}

static void shifty_table_free(void *ctx, uint64_t addr, uint64_t size)
{
	struct shifty_alloc *s = (struct shifty_alloc *)ctx;

	if (s->bad && addr == s->bad) {
		addr -= s->off;
		s->bad = 0;
		s->taken_back++;
	}
	pt_table_free_cb(s->v, addr, size);
}

static void unencodable_run(const struct fa_pt_format *f, uint64_t off, uint64_t page)
{
	static struct pt_vram v;
	struct shifty_alloc s;
	struct fa_pt_table_alloc ta;
	struct fa_reserve_source rs;
	struct fa_pt_config cfg;
	struct fa_pt pt;
	struct fa_pt_estimate est;
	uint64_t va = (3ull << 30) + (2ull << 21) - page, size = 4 * page; /* crosses a PD0 entry */
	long k;

	pt_vram_init(&v, 4 << 20);
	memset(&s, 0, sizeof(s));
	s.v = &v;
	s.off = off;
	s.bad_in = -1;
	ta.alloc = shifty_table_alloc;
	ta.free = shifty_table_free;
	ta.ctx = &s;
	rs.alloc = pt_shadow_alloc_cb;
	rs.free = pt_shadow_free_cb;
	rs.ctx = &v;
	fa_pt_config_init(&cfg, f, &v.acc, &ta, &rs);
	/* the root itself */
	s.bad_in = 0;
	cr_assert_eq(fa_pt_init(&pt, &cfg, FA_GFP_KERNEL), -FA_EFAULT);
	cr_assert_eq(s.taken_back, 1);
	cr_assert_eq(pt_vram_live(&v), 0);
	cr_assert_eq(fa_pt_init(&pt, &cfg, FA_GFP_KERNEL), 0);
	cr_assert_eq(fa_pt_estimate(&pt, va, size, page, &est), 0);
	cr_assert_geq(est.total, 2);
	/* every table of the ref in turn comes back unencodable */
	for (k = 0; k < (long)est.total; k++) {
		uint64_t h = pt_state_hash(&v, &pt);

		s.bad_in = k;
		cr_assert_eq(fa_pt_ref(&pt, va, size, page, FA_GFP_KERNEL), -FA_EFAULT, "table %ld", k);
		cr_assert_eq(s.bad, 0, "the bad address was not given back");
		cr_assert_eq(pt_state_hash(&v, &pt), h, "table %ld: state changed", k);
		s.bad_in = -1;
	}
	cr_assert_eq(s.handed, 1 + est.total);
	cr_assert_eq(s.taken_back, s.handed);
	/* with honest addresses it works */
	cr_assert_eq(fa_pt_ref(&pt, va, size, page, FA_GFP_KERNEL), 0);
	cr_assert_eq(fa_pt_unref(&pt, va, size, page, 1), 0);
	cr_assert_eq(pt_tree_teardown(&pt, &v), 0);
	pt_vram_destroy(&v);
}

Test(pt_faults, table_at_2_37_refused_nothing_changed)
{
	/* the test VRAM sits at 1 GiB: + 2^37 puts every table beyond a ver2 VRAM PDE */
	unencodable_run(fa_pt_format_nv_ver2(), 1ull << 37, K4);
	unencodable_run(fa_pt_format_nv_ver2(), 1ull << 37, K64);
	unencodable_run(fa_pt_format_nv_ver2_gp100(), 1ull << 37, K4);
	/* ver3 and x86-64 encode 52 bits */
	unencodable_run(fa_pt_format_nv_ver3(), 1ull << 52, K4);
	unencodable_run(fa_pt_format_x86_64(), 1ull << 52, K4);
}

Test(pt_faults, misaligned_table_refused_nothing_changed)
{
	unencodable_run(fa_pt_format_nv_ver2(), 0x80, K64); /* big PT needs 256 B */
	unencodable_run(fa_pt_format_nv_ver2(), 0x100, K4); /* the others 4 KiB */
	unencodable_run(fa_pt_format_x86_64(), 0x800, K4);
}

/* 512 MiB pages: refused on Pascal..Turing, accepted on Ampere/Ada (and ver3). */
Test(pt_faults, pages_512m_by_generation)
{
	static struct pt_vram v;
	struct fa_pt pt;
	struct fa_pt_estimate est;
	struct fa_pt_xlate x;
	uint64_t va = 2 * M512, h;
	static const enum fa_pt_nv_gen gens[] = { FA_PT_NV_PASCAL, FA_PT_NV_VOLTA, FA_PT_NV_TURING,
						  FA_PT_NV_AMPERE, FA_PT_NV_ADA, FA_PT_NV_HOPPER };
	unsigned int i;

	setenv("FA_TEST_QUIET_WARN", "1", 1);
	for (i = 0; i < FA_ARRAY_SIZE(gens); i++) {
		const struct fa_pt_format *f = fa_pt_format_nv(gens[i]);
		bool has = gens[i] >= FA_PT_NV_AMPERE;

		pt_vram_init(&v, 1 << 20);
		cr_assert_eq(pt_tree_init(&pt, &v, f), 0);
		h = pt_state_hash(&v, &pt);
		if (!has) {
			cr_assert_eq(fa_pt_ref(&pt, va, M512, M512, FA_GFP_KERNEL), -FA_EOPNOTSUPP);
			cr_assert_eq(fa_pt_estimate(&pt, va, M512, M512, &est), -FA_EOPNOTSUPP);
			cr_assert_eq(fa_pt_estimate_static(f, va, M512, M512, &est), -FA_EOPNOTSUPP);
			cr_assert_eq(fa_pt_map(&pt, va, M512, M512, 0, FA_PT_APER_VRAM), -FA_EOPNOTSUPP);
			cr_assert_eq(pt_state_hash(&v, &pt), h);
			/* 2 MiB pages in the same place still work */
			cr_assert_eq(fa_pt_ref(&pt, va, M2, M2, FA_GFP_KERNEL), 0);
			cr_assert_eq(fa_pt_unref(&pt, va, M2, M2, 1), 0);
		} else {
			cr_assert_eq(fa_pt_ref(&pt, va, M512, M512, FA_GFP_KERNEL), 0);
			cr_assert_eq(fa_pt_map(&pt, va, M512, M512, 3 * M512, FA_PT_APER_VRAM), 0);
			cr_assert_eq(fa_pt_translate(&pt, va + 0x123456, &x), 0);
			cr_assert_eq(x.pa, 3 * M512 + 0x123456);
			cr_assert_eq(x.page_shift, 29);
			cr_assert_eq(fa_pt_unmap(&pt, va, M512, M512), 0);
			cr_assert_eq(fa_pt_unref(&pt, va, M512, M512, 1), 0);
		}
		fa_pt_reclaim(&pt, 1);
		cr_assert_eq(pt_tree_teardown(&pt, &v), 0);
		pt_vram_destroy(&v);
	}
}
