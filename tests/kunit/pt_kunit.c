// SPDX-License-Identifier: MIT
/*
 * fencealloc_pt: the page-table tree in the kernel, for every format and
 * page size. Tables live in VRAM simulated in vmalloc memory (reached through
 * the direct accessor) and come from a fencealloc buddy; shadow nodes come
 * from kmalloc, counted. ref at submit allocates exactly the estimate; map
 * and unmap in the run stage (inside a signalling section, reclaim primed)
 * only write entries; unref queues empty tables for the next TLB epoch and
 * reclaim frees them only once it completed. Every mapping is checked by the
 * MMU-model walk; at the end both allocators are empty.
 */
#include "fa_kunit.h"

#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include <fencealloc/buddy.h>
#include <fencealloc/pt.h>
#include <fencealloc/signalling.h>

#define FA_KT_VRAM (8u << 20)	/* table memory */

struct fa_kt {
	u8 *vram;
	struct fa_pramin_direct dir;
	struct fa_pramin_accessor acc;
	struct fa_buddy tables;
	void *tables_meta;
	long shadow_live, tables_live;
	long fail_tables_after;	/* fail the table allocator after this many; -1 never */
	struct mutex ref_lock, map_lock;
	struct fa_pt pt;
	const struct fa_pt_format *fmt;
};

static int fa_kt_table_alloc(void *ctx, uint64_t size, uint64_t align, fa_gfp_t gfp,
			     uint64_t *addr)
{
	struct fa_kt *k = ctx;
	uint64_t sz = roundup_pow_of_two(size);
	int ret;

	(void)gfp;
	if (k->fail_tables_after == 0)
		return -FA_ENOMEM;
	if (k->fail_tables_after > 0)
		k->fail_tables_after--;
	ret = fa_buddy_alloc(&k->tables, sz < 16 ? 16 : sz, align > sz ? align : 0, 0, addr);
	if (!ret)
		k->tables_live++;
	return ret;
}

static void fa_kt_table_free(void *ctx, uint64_t addr, uint64_t size)
{
	struct fa_kt *k = ctx;
	uint64_t sz = roundup_pow_of_two(size);

	WARN_ON(fa_buddy_free(&k->tables, addr, sz < 16 ? 16 : sz));
	k->tables_live--;
}

static void *fa_kt_shadow_alloc(void *ctx, size_t size, fa_gfp_t gfp)
{
	struct fa_kt *k = ctx;
	void *p = kzalloc(size, gfp & FA_GFP_DIRECT_RECLAIM ? GFP_KERNEL : GFP_NOWAIT);

	if (p)
		k->shadow_live++;
	return p;
}

static void fa_kt_shadow_free(void *ctx, void *obj, size_t size)
{
	struct fa_kt *k = ctx;

	(void)size;
	k->shadow_live--;
	kfree(obj);
}

static void fa_kt_init(struct kunit *test, struct fa_kt *k, const struct fa_pt_format *fmt)
{
	struct fa_pt_table_alloc ta = { fa_kt_table_alloc, fa_kt_table_free, k };
	struct fa_reserve_source ss = { fa_kt_shadow_alloc, fa_kt_shadow_free, k };
	uint64_t need = fa_buddy_storage_size(FA_KT_VRAM, 16);
	struct fa_pt_config cfg;

	memset(k, 0, sizeof(*k));
	k->fail_tables_after = -1;
	k->fmt = fmt;
	mutex_init(&k->ref_lock);
	mutex_init(&k->map_lock);
	k->vram = vzalloc(FA_KT_VRAM);
	KUNIT_ASSERT_NOT_NULL(test, k->vram);
	KUNIT_ASSERT_EQ(test, fa_pramin_direct_init(&k->dir, k->vram, 0, FA_KT_VRAM, &k->acc), 0);
	k->tables_meta = kvmalloc(need, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, k->tables_meta);
	KUNIT_ASSERT_EQ(test, fa_buddy_init(&k->tables, k->tables_meta, need, 0, FA_KT_VRAM, 16), 0);
	fa_pt_config_init(&cfg, fmt, &k->acc, &ta, &ss);
	mutex_lock(&k->ref_lock);
	KUNIT_ASSERT_EQ(test, fa_pt_init(&k->pt, &cfg, FA_GFP_KERNEL), 0);
	mutex_unlock(&k->ref_lock);
}

/*
 * The fixture lives in test-managed memory, not on the stack: struct fa_pt
 * with its level cursors is larger than the kernel's 2 KiB frame budget.
 */
static struct fa_kt *fa_kt_new(struct kunit *test, const struct fa_pt_format *fmt)
{
	struct fa_kt *k = kunit_kzalloc(test, sizeof(*k), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, k);
	fa_kt_init(test, k, fmt);
	return k;
}

/* Teardown: the tree frees everything, both allocators end empty. */
static void fa_kt_fini(struct kunit *test, struct fa_kt *k)
{
	mutex_lock(&k->ref_lock);
	KUNIT_EXPECT_EQ(test, fa_pt_fini(&k->pt), 0);
	mutex_unlock(&k->ref_lock);
	KUNIT_EXPECT_EQ(test, k->tables_live, 0l);
	KUNIT_EXPECT_EQ(test, k->shadow_live, 0l);
	KUNIT_EXPECT_EQ(test, fa_buddy_avail(&k->tables), (uint64_t)FA_KT_VRAM);
	fa_buddy_fini(&k->tables);
	kvfree(k->tables_meta);
	vfree(k->vram);
}

/* Submit: ref the range under the ref lock (allocates). */
static int fa_kt_ref(struct fa_kt *k, uint64_t va, uint64_t size, uint64_t ps)
{
	int ret;

	mutex_lock(&k->ref_lock);
	ret = fa_pt_ref(&k->pt, va, size, ps, FA_GFP_KERNEL);
	mutex_unlock(&k->ref_lock);
	return ret;
}

/* Run: write PTEs inside a signalling section under the map lock. */
static int fa_kt_map(struct fa_kt *k, uint64_t va, uint64_t size, uint64_t ps, uint64_t pa)
{
	fa_signalling_cookie_t c = fa_signalling_begin();
	int ret;

	mutex_lock(&k->map_lock);
	ret = fa_pt_map(&k->pt, va, size, ps, pa, FA_PT_APER_VRAM);
	if (!ret)
		ret = fa_pramin_flush(&k->acc);
	mutex_unlock(&k->map_lock);
	fa_signalling_end(c);
	return ret;
}

static int fa_kt_unmap(struct fa_kt *k, uint64_t va, uint64_t size, uint64_t ps)
{
	fa_signalling_cookie_t c = fa_signalling_begin();
	int ret;

	mutex_lock(&k->map_lock);
	ret = fa_pt_unmap(&k->pt, va, size, ps);
	mutex_unlock(&k->map_lock);
	fa_signalling_end(c);
	return ret;
}

/* Cleanup: unref under the ref lock, tagged with the next TLB epoch. */
static int fa_kt_unref(struct fa_kt *k, uint64_t va, uint64_t size, uint64_t ps, uint64_t epoch)
{
	int ret;

	mutex_lock(&k->ref_lock);
	ret = fa_pt_unref(&k->pt, va, size, ps, epoch);
	mutex_unlock(&k->ref_lock);
	return ret;
}

static void fa_kt_prime_reclaim(void)
{
	fa_signalling_reclaim_enter();
	fa_signalling_fence_wait();
	fa_signalling_reclaim_leave();
}

/* Every page of the range translates to its PA with its page size. */
static void fa_kt_expect_mapped(struct kunit *test, struct fa_kt *k, uint64_t va, uint64_t size,
				uint64_t ps, uint64_t pa)
{
	uint64_t off, step = size / ps > 64 ? size / 64 : ps;
	struct fa_pt_xlate x;

	for (off = 0; off < size; off += step) {
		uint64_t o = off & ~(ps - 1);

		KUNIT_ASSERT_EQ_MSG(test, fa_pt_translate(&k->pt, va + o + 8, &x), 0,
				    "va 0x%llx", va + o);
		KUNIT_EXPECT_EQ(test, x.pa, pa + o + 8);
		KUNIT_EXPECT_EQ(test, 1ull << x.page_shift, ps);
	}
}

static void fa_kt_expect_unmapped(struct kunit *test, struct fa_kt *k, uint64_t va, uint64_t size,
				  uint64_t ps)
{
	uint64_t off, step = size / ps > 64 ? size / 64 : ps;
	struct fa_pt_xlate x;

	for (off = 0; off < size; off += step)
		KUNIT_EXPECT_EQ_MSG(test, fa_pt_translate(&k->pt, va + off, &x), -FA_ENOENT,
				    "va 0x%llx", va + off);
}

/* ------------------------------------------------------ format x page size */
struct fa_kt_case {
	const char *name;
	const struct fa_pt_format *(*fmt)(void);
	uint64_t ps;
	uint64_t pages;
};

#define KT_K(x) ((uint64_t)(x) << 10)
#define KT_M(x) ((uint64_t)(x) << 20)
#define KT_G(x) ((uint64_t)(x) << 30)

static const struct fa_kt_case fa_kt_cases[] = {
	{ "nv_ver2 4K", fa_pt_format_nv_ver2, KT_K(4), 700 },
	{ "nv_ver2 64K", fa_pt_format_nv_ver2, KT_K(64), 70 },
	{ "nv_ver2 2M", fa_pt_format_nv_ver2, KT_M(2), 9 },
	{ "nv_ver2 512M", fa_pt_format_nv_ver2, KT_M(512), 3 },
	{ "nv_ver3 4K", fa_pt_format_nv_ver3, KT_K(4), 700 },
	{ "nv_ver3 64K", fa_pt_format_nv_ver3, KT_K(64), 70 },
	{ "nv_ver3 2M", fa_pt_format_nv_ver3, KT_M(2), 9 },
	{ "nv_ver3 512M", fa_pt_format_nv_ver3, KT_M(512), 3 },
	{ "x86_64 4K", fa_pt_format_x86_64, KT_K(4), 700 },
	{ "x86_64 2M", fa_pt_format_x86_64, KT_M(2), 9 },
	{ "x86_64 1G", fa_pt_format_x86_64, KT_G(1), 3 },
};

static void fa_kt_case_desc(const struct fa_kt_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}
KUNIT_ARRAY_PARAM(fa_kt_case, fa_kt_cases, fa_kt_case_desc);

/* VA for a case: crosses a table boundary of the page size's level. */
static uint64_t fa_kt_va(uint64_t ps)
{
	return KT_G(16) - 5 * ps;
}

/*
 * The whole lifecycle: ref allocates exactly the estimate; map (run stage)
 * writes PTEs that the MMU walk translates; unmap clears them; unref queues
 * the tables for the next epoch; reclaim frees them only once that epoch
 * completed.
 */
static void fa_pt_test_lifecycle(struct kunit *test)
{
	const struct fa_kt_case *c = test->param_value;
	uint64_t va = fa_kt_va(c->ps), size = c->pages * c->ps, pa = KT_G(3);
	struct fa_pt_estimate est;
	struct fa_pt_stats s0, s1;
	struct fa_kt *k;

	k = fa_kt_new(test, c->fmt());
	fa_kt_prime_reclaim();
	KUNIT_ASSERT_EQ(test, fa_pt_estimate(&k->pt, va, size, c->ps, &est), 0);
	fa_pt_get_stats(&k->pt, &s0);
	KUNIT_ASSERT_EQ(test, fa_kt_ref(k, va, size, c->ps), 0);
	fa_pt_get_stats(&k->pt, &s1);
	KUNIT_EXPECT_EQ(test, s1.allocated - s0.allocated, est.total);	/* the estimate is exact */
	KUNIT_EXPECT_EQ(test, fa_kt_map(k, va, size, c->ps, pa), 0);
	fa_kt_expect_mapped(test, k, va, size, c->ps, pa);
	KUNIT_EXPECT_EQ(test, fa_kt_unmap(k, va, size, c->ps), 0);
	fa_kt_expect_unmapped(test, k, va, size, c->ps);
	KUNIT_EXPECT_EQ(test, fa_kt_unref(k, va, size, c->ps, 7), 0);
	KUNIT_EXPECT_EQ(test, fa_pt_pending(&k->pt), (unsigned long)est.total);
	mutex_lock(&k->ref_lock);
	KUNIT_EXPECT_EQ(test, fa_pt_reclaim(&k->pt, 6), 0ul);		/* epoch not reached */
	KUNIT_EXPECT_EQ(test, fa_pt_reclaim(&k->pt, 7), (unsigned long)est.total);
	mutex_unlock(&k->ref_lock);
	KUNIT_EXPECT_TRUE(test, debug_locks);
	fa_kt_fini(test, k);
}

/* Map into slots nobody referenced: warned, -FA_ENOENT, nothing written;
 * the run stage never creates a table. */
static void fa_pt_test_map_without_ref_refused(struct kunit *test)
{
	const struct fa_kt_case *c = test->param_value;
	uint64_t va = fa_kt_va(c->ps);
	struct fa_pt_stats s0, s1;
	struct fa_kt *k;
	int ret = 0;

	k = fa_kt_new(test, c->fmt());
	KUNIT_ASSERT_EQ(test, fa_kt_ref(k, va, c->ps, c->ps), 0);
	fa_pt_get_stats(&k->pt, &s0);
	FA_KUNIT_EXPECT_WARNS(test, 1, ret = fa_kt_map(k, va, 2 * c->ps, c->ps, 0));
	KUNIT_EXPECT_EQ(test, ret, -FA_ENOENT);
	fa_pt_get_stats(&k->pt, &s1);
	KUNIT_EXPECT_EQ(test, s1.ptes_written, s0.ptes_written);
	KUNIT_EXPECT_EQ(test, s1.allocated, s0.allocated);
	fa_kt_expect_unmapped(test, k, va, 2 * c->ps, c->ps);
	KUNIT_EXPECT_EQ(test, fa_kt_unref(k, va, c->ps, c->ps, 1), 0);
	fa_kt_fini(test, k);
}

/* Overlapping refs stack: the tables live until the last unref. */
static void fa_pt_test_refs_stack(struct kunit *test)
{
	const struct fa_kt_case *c = test->param_value;
	uint64_t va = fa_kt_va(c->ps), size = 2 * c->ps;
	struct fa_kt *k;

	k = fa_kt_new(test, c->fmt());
	KUNIT_ASSERT_EQ(test, fa_kt_ref(k, va, size, c->ps), 0);
	KUNIT_ASSERT_EQ(test, fa_kt_ref(k, va + c->ps, size, c->ps), 0);
	KUNIT_EXPECT_EQ(test, fa_kt_unref(k, va, size, c->ps, 1), 0);
	KUNIT_EXPECT_EQ(test, fa_kt_map(k, va + c->ps, size, c->ps, KT_G(1)), 0);	/* still referenced */
	fa_kt_expect_mapped(test, k, va + c->ps, size, c->ps, KT_G(1));
	KUNIT_EXPECT_EQ(test, fa_kt_unmap(k, va + c->ps, size, c->ps), 0);
	KUNIT_EXPECT_EQ(test, fa_kt_unref(k, va + c->ps, size, c->ps, 2), 0);
	KUNIT_EXPECT_EQ(test, fa_kt_unref(k, va, c->ps, c->ps, 2), -FA_ENOENT);	/* already gone */
	mutex_lock(&k->ref_lock);
	fa_pt_reclaim(&k->pt, 2);
	mutex_unlock(&k->ref_lock);
	fa_kt_fini(test, k);
}

/* A failing table allocator: ref fails and leaves tree and allocators as they were. */
static void fa_pt_test_ref_failure_rolls_back(struct kunit *test)
{
	const struct fa_kt_case *c = test->param_value;
	uint64_t va = fa_kt_va(c->ps), size = c->pages * c->ps;
	struct fa_pt_estimate est;
	struct fa_pt_stats s0, s1;
	long tables, shadow;
	struct fa_kt *k;

	k = fa_kt_new(test, c->fmt());
	fa_pt_get_stats(&k->pt, &s0);
	tables = k->tables_live;
	shadow = k->shadow_live;
	KUNIT_ASSERT_EQ(test, fa_pt_estimate(&k->pt, va, size, c->ps, &est), 0);
	KUNIT_ASSERT_GT(test, est.total, 0ull);
	k->fail_tables_after = (long)est.total - 1;	/* the last table fails */
	KUNIT_EXPECT_EQ(test, fa_kt_ref(k, va, size, c->ps), -FA_ENOMEM);
	fa_pt_get_stats(&k->pt, &s1);
	KUNIT_EXPECT_EQ(test, k->tables_live, tables);
	KUNIT_EXPECT_EQ(test, k->shadow_live, shadow);
	KUNIT_EXPECT_EQ(test, s1.live[0] + s1.live[1], s0.live[0] + s0.live[1]);
	k->fail_tables_after = -1;
	KUNIT_EXPECT_EQ(test, fa_kt_ref(k, va, size, c->ps), 0);
	KUNIT_EXPECT_EQ(test, fa_kt_unref(k, va, size, c->ps, 1), 0);
	fa_kt_fini(test, k);
}

/* ------------------------------------------------------------ specifics */
/* ver2: a 2 MiB region can hold big (64K) and small (4K) tables at once; the
 * big PTE decides where it is valid, the small table elsewhere. */
static void fa_pt_test_ver2_dual_pd0(struct kunit *test)
{
	const uint64_t base = KT_G(1);
	struct fa_pt_xlate x;
	struct fa_kt *k;

	k = fa_kt_new(test, fa_pt_format_nv_ver2());
	KUNIT_ASSERT_EQ(test, fa_kt_ref(k, base, KT_K(64), KT_K(64)), 0);
	KUNIT_ASSERT_EQ(test, fa_kt_ref(k, base + KT_K(64), KT_K(4), KT_K(4)), 0);
	KUNIT_EXPECT_EQ(test, fa_kt_map(k, base, KT_K(64), KT_K(64), KT_M(64)), 0);
	KUNIT_EXPECT_EQ(test, fa_kt_map(k, base + KT_K(64), KT_K(4), KT_K(4), KT_M(128)), 0);
	KUNIT_ASSERT_EQ(test, fa_pt_translate(&k->pt, base + 0x1234, &x), 0);
	KUNIT_EXPECT_EQ(test, x.pa, KT_M(64) + 0x1234);
	KUNIT_EXPECT_EQ(test, x.page_shift, 16);
	KUNIT_ASSERT_EQ(test, fa_pt_translate(&k->pt, base + KT_K(64) + 4, &x), 0);
	KUNIT_EXPECT_EQ(test, x.pa, KT_M(128) + 4);
	KUNIT_EXPECT_EQ(test, x.page_shift, 12);
	KUNIT_EXPECT_EQ(test, fa_kt_unmap(k, base, KT_K(64), KT_K(64)), 0);
	KUNIT_EXPECT_EQ(test, fa_kt_unmap(k, base + KT_K(64), KT_K(4), KT_K(4)), 0);
	KUNIT_EXPECT_EQ(test, fa_kt_unref(k, base, KT_K(64), KT_K(64), 1), 0);
	KUNIT_EXPECT_EQ(test, fa_kt_unref(k, base + KT_K(64), KT_K(4), KT_K(4), 1), 0);
	fa_kt_fini(test, k);
}

/* A slot is a huge PTE or a directory, never both: -FA_EBUSY. */
static void fa_pt_test_huge_vs_table_busy(struct kunit *test)
{
	struct fa_kt *k;

	k = fa_kt_new(test, fa_pt_format_x86_64());
	KUNIT_ASSERT_EQ(test, fa_kt_ref(k, KT_G(2), KT_K(4), KT_K(4)), 0);
	KUNIT_EXPECT_EQ(test, fa_kt_ref(k, KT_G(2), KT_M(2), KT_M(2)), -FA_EBUSY);
	KUNIT_EXPECT_EQ(test, fa_kt_unref(k, KT_G(2), KT_K(4), KT_K(4), 1), 0);
	fa_kt_fini(test, k);
}

/* Sparse PTEs read back as sparse (not translated), unmap makes them invalid. */
static void fa_pt_test_sparse(struct kunit *test)
{
	struct fa_pt_xlate x;
	struct fa_kt *k;
	int ret;

	k = fa_kt_new(test, fa_pt_format_nv_ver2());
	KUNIT_ASSERT_EQ(test, fa_kt_ref(k, KT_G(4), KT_K(256), KT_K(64)), 0);
	mutex_lock(&k->map_lock);
	ret = fa_pt_sparse(&k->pt, KT_G(4), KT_K(256), KT_K(64));
	mutex_unlock(&k->map_lock);
	KUNIT_EXPECT_EQ(test, ret, 0);
	KUNIT_EXPECT_EQ(test, fa_pt_translate(&k->pt, KT_G(4), &x), -FA_ENOENT);
	KUNIT_EXPECT_EQ(test, (int)x.type, (int)FA_PT_ENTRY_SPARSE);
	KUNIT_EXPECT_EQ(test, fa_kt_unmap(k, KT_G(4), KT_K(256), KT_K(64)), 0);
	KUNIT_EXPECT_EQ(test, fa_pt_translate(&k->pt, KT_G(4), &x), -FA_ENOENT);
	KUNIT_EXPECT_NE(test, (int)x.type, (int)FA_PT_ENTRY_SPARSE);
	KUNIT_EXPECT_EQ(test, fa_kt_unref(k, KT_G(4), KT_K(256), KT_K(64), 1), 0);
	fa_kt_fini(test, k);
}

/* fini with references left refuses (-FA_EBUSY) and frees nothing. */
static void fa_pt_test_fini_busy(struct kunit *test)
{
	struct fa_kt *k;

	k = fa_kt_new(test, fa_pt_format_nv_ver3());
	KUNIT_ASSERT_EQ(test, fa_kt_ref(k, KT_G(8), KT_K(4), KT_K(4)), 0);
	mutex_lock(&k->ref_lock);
	KUNIT_EXPECT_EQ(test, fa_pt_fini(&k->pt), -FA_EBUSY);
	mutex_unlock(&k->ref_lock);
	KUNIT_EXPECT_GT(test, k->tables_live, 0l);
	KUNIT_EXPECT_EQ(test, fa_kt_unref(k, KT_G(8), KT_K(4), KT_K(4), 1), 0);
	fa_kt_fini(test, k);
}

/* Many jobs: refs at submit, maps in the run stage, unrefs at cleanup and
 * reclaim per epoch, lockdep watching throughout. */
static void fa_pt_test_job_stream(struct kunit *test)
{
	const uint64_t ps[3] = { KT_K(4), KT_K(64), KT_M(2) };
	unsigned int j;
	struct fa_kt *k;

	k = fa_kt_new(test, fa_pt_format_nv_ver2());
	fa_kt_prime_reclaim();
	for (j = 0; j < 96; j++) {
		uint64_t p = ps[j % 3], va = KT_G(1) + (uint64_t)(j % 8) * KT_M(4), n = 1 + j % 5;

		KUNIT_ASSERT_EQ(test, fa_kt_ref(k, va, n * p, p), 0);
		KUNIT_ASSERT_EQ(test, fa_kt_map(k, va, n * p, p, KT_G(2) + j * KT_M(16)), 0);
		fa_kt_expect_mapped(test, k, va, n * p, p, KT_G(2) + j * KT_M(16));
		KUNIT_ASSERT_EQ(test, fa_kt_unmap(k, va, n * p, p), 0);
		KUNIT_ASSERT_EQ(test, fa_kt_unref(k, va, n * p, p, j + 1), 0);
		mutex_lock(&k->ref_lock);
		fa_pt_reclaim(&k->pt, j);
		mutex_unlock(&k->ref_lock);
	}
	mutex_lock(&k->ref_lock);
	fa_pt_reclaim(&k->pt, 96);
	mutex_unlock(&k->ref_lock);
	KUNIT_EXPECT_EQ(test, fa_pt_pending(&k->pt), 0ul);
	KUNIT_EXPECT_TRUE(test, debug_locks);
	fa_kt_fini(test, k);
}

static struct kunit_case fa_pt_cases[] = {
	KUNIT_CASE_PARAM(fa_pt_test_lifecycle, fa_kt_case_gen_params),
	KUNIT_CASE_PARAM(fa_pt_test_map_without_ref_refused, fa_kt_case_gen_params),
	KUNIT_CASE_PARAM(fa_pt_test_refs_stack, fa_kt_case_gen_params),
	KUNIT_CASE_PARAM(fa_pt_test_ref_failure_rolls_back, fa_kt_case_gen_params),
	KUNIT_CASE(fa_pt_test_ver2_dual_pd0),
	KUNIT_CASE(fa_pt_test_huge_vs_table_busy),
	KUNIT_CASE(fa_pt_test_sparse),
	KUNIT_CASE(fa_pt_test_fini_busy),
	KUNIT_CASE(fa_pt_test_job_stream),
	{}
};

static struct kunit_suite fa_pt_suite = {
	.name = "fencealloc_pt",
	.test_cases = fa_pt_cases,
};
kunit_test_suite(fa_pt_suite);

MODULE_LICENSE("Dual MIT/GPL");
