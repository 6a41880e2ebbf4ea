/* SPDX-License-Identifier: MIT */
/*
 * base.h: bit helpers at their boundaries and against reference models,
 * checked arithmetic, wrap-safe sequence numbers, the warning/assert hooks,
 * fa_list against an array model, and fa_llist under concurrent producers.
 */
#include "fa_test.h"

#include <fencealloc/base.h>

#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "fa_rng.h"

__extension__ typedef unsigned __int128 u128;

#define U64_MAX FA_U64_MAX
#define BIT63 FA_BIT64(63)

/* ------------------------------------------------------------ references */

static unsigned int ref_fls(uint64_t x)
{
	unsigned int n = 0;

	while (x) {
		n++;
		x >>= 1;
	}
	return n;
}

static unsigned int ref_ffs(uint64_t x)
{
	unsigned int n = 1;

	if (!x)
		return 0;
	while (!(x & 1)) {
		n++;
		x >>= 1;
	}
	return n;
}

/* Random values biased towards the interesting ones: powers of two, their
 * neighbours, small numbers and the top of the range. */
static uint64_t interesting(struct fa_rng *r)
{
	uint64_t p = FA_BIT64(fa_rng_below(r, 64));

	switch (fa_rng_below(r, 6)) {
	case 0: return p;
	case 1: return p - 1;
	case 2: return p + 1;
	case 3: return fa_rng_below(r, 70);
	case 4: return U64_MAX - fa_rng_below(r, 70);
	default: return fa_rng_next(r) >> fa_rng_below(r, 64);
	}
}

/* ------------------------------------------------------------ bit helpers */

Test(base, fls_ffs_boundaries)
{
	cr_assert_eq(fa_fls64(0), 0);
	cr_assert_eq(fa_fls64(1), 1);
	cr_assert_eq(fa_fls64(2), 2);
	cr_assert_eq(fa_fls64(3), 2);
	cr_assert_eq(fa_fls64(BIT63), 64);
	cr_assert_eq(fa_fls64(U64_MAX), 64);

	cr_assert_eq(fa_ffs64(0), 0);
	cr_assert_eq(fa_ffs64(1), 1);
	cr_assert_eq(fa_ffs64(2), 2);
	cr_assert_eq(fa_ffs64(6), 2);
	cr_assert_eq(fa_ffs64(BIT63), 64);
	cr_assert_eq(fa_ffs64(U64_MAX), 1);
}

Test(base, fls_ffs_every_bit)
{
	unsigned int i;

	for (i = 0; i < 64; i++) {
		cr_assert_eq(fa_fls64(FA_BIT64(i)), i + 1, "bit %u", i);
		cr_assert_eq(fa_ffs64(FA_BIT64(i)), i + 1, "bit %u", i);
		/* all bits from i up: lowest is i, highest is 63 */
		cr_assert_eq(fa_ffs64(U64_MAX << i), i + 1, "bit %u", i);
		cr_assert_eq(fa_fls64(U64_MAX << i), 64);
		/* all bits up to i: highest is i */
		cr_assert_eq(fa_fls64(U64_MAX >> (63 - i)), i + 1, "bit %u", i);
	}
}

Test(base, fls_ffs_ilog2_match_reference)
{
	struct fa_rng r;
	uint64_t i, n = fa_test_iters(200000);

	fa_rng_seed(&r, fa_test_seed(0xba5e0001));
	for (i = 0; i < n; i++) {
		uint64_t x = interesting(&r);

		cr_assert_eq(fa_fls64(x), ref_fls(x), "x=%#llx", (unsigned long long)x);
		cr_assert_eq(fa_ffs64(x), ref_ffs(x), "x=%#llx", (unsigned long long)x);
		cr_assert_eq(fa_ilog2_u64(x), (int)ref_fls(x) - 1, "x=%#llx", (unsigned long long)x);
	}
}

Test(base, ilog2_boundaries)
{
	cr_assert_eq(fa_ilog2_u64(0), -1);
	cr_assert_eq(fa_ilog2_u64(1), 0);
	cr_assert_eq(fa_ilog2_u64(2), 1);
	cr_assert_eq(fa_ilog2_u64(3), 1);
	cr_assert_eq(fa_ilog2_u64(4096), 12);
	cr_assert_eq(fa_ilog2_u64(4097), 12);
	cr_assert_eq(fa_ilog2_u64(BIT63), 63);
	cr_assert_eq(fa_ilog2_u64(U64_MAX), 63);
}

Test(base, is_pow2)
{
	unsigned int i;

	cr_assert_not(fa_is_pow2(0));
	cr_assert(fa_is_pow2(1));
	cr_assert(fa_is_pow2(2));
	cr_assert_not(fa_is_pow2(3));
	cr_assert(fa_is_pow2(BIT63));
	cr_assert_not(fa_is_pow2(U64_MAX));
	cr_assert_not(fa_is_pow2(BIT63 + 1));
	for (i = 0; i < 64; i++) {
		cr_assert(fa_is_pow2(FA_BIT64(i)), "bit %u", i);
		if (i >= 2)
			cr_assert_not(fa_is_pow2(FA_BIT64(i) - 1), "bit %u", i);
		if (i >= 1)
			cr_assert_not(fa_is_pow2(FA_BIT64(i) + 1), "bit %u", i);
	}
}

Test(base, align_down_and_is_aligned)
{
	struct fa_rng r;
	uint64_t i, n = fa_test_iters(100000);

	cr_assert_eq(fa_align_down(0, 1), 0);
	cr_assert_eq(fa_align_down(U64_MAX, 1), U64_MAX);
	cr_assert_eq(fa_align_down(4095, 4096), 0);
	cr_assert_eq(fa_align_down(4096, 4096), 4096);
	cr_assert_eq(fa_align_down(8191, 4096), 4096);
	cr_assert_eq(fa_align_down(U64_MAX, BIT63), BIT63);
	cr_assert_eq(fa_align_down(BIT63 - 1, BIT63), 0);
	cr_assert(fa_is_aligned(0, BIT63));
	cr_assert(fa_is_aligned(BIT63, BIT63));
	cr_assert_not(fa_is_aligned(U64_MAX, 2));
	cr_assert(fa_is_aligned(U64_MAX, 1));

	fa_rng_seed(&r, fa_test_seed(0xba5e0002));
	for (i = 0; i < n; i++) {
		uint64_t x = interesting(&r), a = FA_BIT64(fa_rng_below(&r, 64));
		uint64_t d = fa_align_down(x, a);

		/* largest multiple of a not above x */
		cr_assert(d <= x && x - d < a && d % a == 0, "x=%#llx a=%#llx",
			  (unsigned long long)x, (unsigned long long)a);
		cr_assert_eq(fa_is_aligned(x, a), x % a == 0);
	}
}

/* FA_ASSERT guards the power-of-two precondition (fa_test.h: abort). */
Test(base, align_down_asserts_pow2, .signal = SIGABRT)
{
	volatile uint64_t a = 3;

	(void)fa_align_down(100, a);
}

Test(base, is_aligned_asserts_pow2, .signal = SIGABRT)
{
	volatile uint64_t a = 0;

	(void)fa_is_aligned(100, a);
}

Test(base, align_up_boundaries)
{
	uint64_t res;

	cr_assert_eq(fa_align_up(0, 1, &res), 0);
	cr_assert_eq(res, 0);
	cr_assert_eq(fa_align_up(0, 4096, &res), 0);
	cr_assert_eq(res, 0);
	cr_assert_eq(fa_align_up(1, 4096, &res), 0);
	cr_assert_eq(res, 4096);
	cr_assert_eq(fa_align_up(4096, 4096, &res), 0);
	cr_assert_eq(res, 4096);
	cr_assert_eq(fa_align_up(U64_MAX, 1, &res), 0);
	cr_assert_eq(res, U64_MAX);
	cr_assert_eq(fa_align_up(U64_MAX - 4095, 4096, &res), 0);
	cr_assert_eq(res, U64_MAX - 4095);
	cr_assert_eq(fa_align_up(1, BIT63, &res), 0);
	cr_assert_eq(res, BIT63);
	cr_assert_eq(fa_align_up(BIT63, BIT63, &res), 0);
	cr_assert_eq(res, BIT63);
}

Test(base, align_up_rejects_and_leaves_output_untouched)
{
	static const uint64_t bad_align[] = { 0, 3, 6, 4095, 4097, BIT63 + 1, U64_MAX };
	const uint64_t sentinel = 0x5a5a5a5a5a5a5a5aULL;
	uint64_t res;
	size_t i;

	for (i = 0; i < FA_ARRAY_SIZE(bad_align); i++) {
		res = sentinel;
		cr_assert_eq(fa_align_up(16, bad_align[i], &res), -FA_EINVAL, "a=%#llx",
			     (unsigned long long)bad_align[i]);
		cr_assert_eq(res, sentinel);
	}
	/* overflow: the rounded value would need 65 bits */
	res = sentinel;
	cr_assert_eq(fa_align_up(U64_MAX, 2, &res), -FA_EOVERFLOW);
	cr_assert_eq(res, sentinel);
	cr_assert_eq(fa_align_up(U64_MAX - 4094, 4096, &res), -FA_EOVERFLOW);
	cr_assert_eq(res, sentinel);
	cr_assert_eq(fa_align_up(BIT63 + 1, BIT63, &res), -FA_EOVERFLOW);
	cr_assert_eq(res, sentinel);
	/* an invalid alignment wins over an overflow */
	cr_assert_eq(fa_align_up(U64_MAX, 3, &res), -FA_EINVAL);
	cr_assert_eq(res, sentinel);
}

Test(base, align_up_matches_reference)
{
	struct fa_rng r;
	uint64_t i, n = fa_test_iters(200000);

	fa_rng_seed(&r, fa_test_seed(0xba5e0003));
	for (i = 0; i < n; i++) {
		uint64_t x = interesting(&r), a = FA_BIT64(fa_rng_below(&r, 64));
		u128 want = ((u128)x + a - 1) / a * a;
		uint64_t res = 7;
		int ret = fa_align_up(x, a, &res);

		if (want > U64_MAX) {
			cr_assert_eq(ret, -FA_EOVERFLOW, "x=%#llx a=%#llx", (unsigned long long)x,
				     (unsigned long long)a);
			cr_assert_eq(res, 7);
		} else {
			cr_assert_eq(ret, 0, "x=%#llx a=%#llx", (unsigned long long)x,
				     (unsigned long long)a);
			cr_assert_eq(res, (uint64_t)want);
		}
	}
}

/* ------------------------------------------------------ checked arithmetic */

Test(base, add_mul_overflow_boundaries)
{
	uint64_t res;

	cr_assert_not(fa_add_overflow(0, 0, &res));
	cr_assert_eq(res, 0);
	cr_assert_not(fa_add_overflow(U64_MAX, 0, &res));
	cr_assert_eq(res, U64_MAX);
	cr_assert_not(fa_add_overflow(BIT63, BIT63 - 1, &res));
	cr_assert_eq(res, U64_MAX);
	cr_assert(fa_add_overflow(BIT63, BIT63, &res));
	cr_assert_eq(res, 0, "the wrapped sum is stored");
	cr_assert(fa_add_overflow(U64_MAX, 1, &res));
	cr_assert(fa_add_overflow(U64_MAX, U64_MAX, &res));
	cr_assert_eq(res, U64_MAX - 1);

	cr_assert_not(fa_mul_overflow(0, U64_MAX, &res));
	cr_assert_eq(res, 0);
	cr_assert_not(fa_mul_overflow(1, U64_MAX, &res));
	cr_assert_eq(res, U64_MAX);
	cr_assert_not(fa_mul_overflow(FA_BIT64(31), FA_BIT64(32), &res));
	cr_assert_eq(res, BIT63);
	cr_assert(fa_mul_overflow(FA_BIT64(32), FA_BIT64(32), &res));
	cr_assert_eq(res, 0, "the wrapped product is stored");
	cr_assert(fa_mul_overflow(2, BIT63, &res));
	cr_assert(fa_mul_overflow(U64_MAX, U64_MAX, &res));
	cr_assert_eq(res, 1);
	cr_assert_not(fa_mul_overflow(0xffffffffULL, 0x100000001ULL, &res));
	cr_assert_eq(res, U64_MAX);
}

Test(base, add_mul_overflow_match_reference)
{
	struct fa_rng r;
	uint64_t i, n = fa_test_iters(200000);

	fa_rng_seed(&r, fa_test_seed(0xba5e0004));
	for (i = 0; i < n; i++) {
		uint64_t a = interesting(&r), b = interesting(&r), res;
		u128 sum = (u128)a + b, prod = (u128)a * b;

		cr_assert_eq(fa_add_overflow(a, b, &res), sum > U64_MAX);
		cr_assert_eq(res, (uint64_t)sum);
		cr_assert_eq(fa_mul_overflow(a, b, &res), prod > U64_MAX);
		cr_assert_eq(res, (uint64_t)prod);
	}
}

Test(base, min_max)
{
	cr_assert_eq(fa_min_u64(0, U64_MAX), 0);
	cr_assert_eq(fa_min_u64(U64_MAX, 0), 0);
	cr_assert_eq(fa_max_u64(0, U64_MAX), U64_MAX);
	cr_assert_eq(fa_max_u64(U64_MAX, 0), U64_MAX);
	cr_assert_eq(fa_min_u64(5, 5), 5);
	cr_assert_eq(fa_max_u64(BIT63, BIT63 - 1), BIT63);
}

/* --------------------------------------------------------- sequence numbers */

Test(base, seq64_after_wraps)
{
	cr_assert(fa_seq64_after(1, 0));
	cr_assert_not(fa_seq64_after(0, 1));
	cr_assert_not(fa_seq64_after(0, 0));
	cr_assert_not(fa_seq64_after(U64_MAX, U64_MAX));
	/* across the wrap: 0 comes right after 2^64-1 */
	cr_assert(fa_seq64_after(0, U64_MAX));
	cr_assert_not(fa_seq64_after(U64_MAX, 0));
	cr_assert(fa_seq64_after(5, U64_MAX - 5));
	/* the window is 0 < a - b < 2^63; exactly half-way is neither */
	cr_assert(fa_seq64_after(BIT63 - 1, 0));
	cr_assert_not(fa_seq64_after(BIT63, 0));
	cr_assert_not(fa_seq64_after(0, BIT63));
	cr_assert(fa_seq64_after(0, BIT63 + 1));
}

Test(base, seq32_after_wraps)
{
	const uint32_t max = 0xffffffffu, half = 0x80000000u;

	cr_assert(fa_seq32_after(1, 0));
	cr_assert_not(fa_seq32_after(0, 1));
	cr_assert_not(fa_seq32_after(7, 7));
	cr_assert(fa_seq32_after(0, max));
	cr_assert_not(fa_seq32_after(max, 0));
	cr_assert(fa_seq32_after(half - 1, 0));
	cr_assert_not(fa_seq32_after(half, 0));
	cr_assert_not(fa_seq32_after(0, half));
	cr_assert(fa_seq32_after(0, half + 1));
}

Test(base, seq_after_is_antisymmetric_near_any_base)
{
	struct fa_rng r;
	uint64_t i, n = fa_test_iters(100000);

	fa_rng_seed(&r, fa_test_seed(0xba5e0005));
	for (i = 0; i < n; i++) {
		uint64_t b = fa_rng_next(&r), d = 1 + fa_rng_below(&r, BIT63 - 1);
		uint32_t b32 = (uint32_t)b, d32 = 1 + (uint32_t)fa_rng_below(&r, 0x7fffffffu);

		cr_assert(fa_seq64_after(b + d, b));
		cr_assert_not(fa_seq64_after(b, b + d));
		cr_assert(fa_seq32_after(b32 + d32, b32));
		cr_assert_not(fa_seq32_after(b32, b32 + d32));
	}
}

/* ---------------------------------------------------- constants and macros */

Test(base, error_codes_distinct_positive_and_match_errno)
{
	static const int codes[] = { FA_EINVAL, FA_ENOMEM, FA_ENOSPC, FA_EBUSY, FA_EEXIST,
				     FA_ENOENT, FA_ERANGE, FA_EOVERFLOW, FA_EFAULT, FA_EAGAIN,
				     FA_EALREADY, FA_EOPNOTSUPP, FA_EDQUOT };
	size_t i, j;

	for (i = 0; i < FA_ARRAY_SIZE(codes); i++) {
		cr_assert_gt(codes[i], 0);
		for (j = 0; j < i; j++)
			cr_assert_neq(codes[i], codes[j], "codes %zu and %zu collide", i, j);
	}
	/* hosted: the system's own numbers, so strerror(-ret) is meaningful */
	cr_assert_eq(FA_EINVAL, EINVAL);
	cr_assert_eq(FA_ENOMEM, ENOMEM);
	cr_assert_eq(FA_EOVERFLOW, EOVERFLOW);
	cr_assert_eq(FA_EOPNOTSUPP, EOPNOTSUPP);
	cr_assert_eq(FA_EDQUOT, EDQUOT);
}

Test(base, gfp_flags_follow_the_kernel)
{
	cr_assert_eq(FA_GFP_KERNEL, FA_GFP_DIRECT_RECLAIM | FA_GFP_IO | FA_GFP_FS);
	cr_assert_eq(FA_GFP_NOFS & FA_GFP_FS, 0);
	cr_assert_neq(FA_GFP_NOFS & FA_GFP_DIRECT_RECLAIM, 0);
	cr_assert_eq(FA_GFP_NOIO & (FA_GFP_IO | FA_GFP_FS), 0);
	cr_assert_neq(FA_GFP_NOIO & FA_GFP_DIRECT_RECLAIM, 0);
	cr_assert_eq(FA_GFP_NOWAIT & FA_GFP_DIRECT_RECLAIM, 0);
}

struct outer {
	char pad[3];
	uint64_t inner;
	struct fa_list link;
};

FA_STATIC_ASSERT(sizeof(struct fa_llist_node) == sizeof(void *), "llist node is one pointer");

Test(base, helper_macros)
{
	struct outer o;
	int arr[7];

	cr_assert_eq(FA_CONTAINER_OF(&o.inner, struct outer, inner), &o);
	cr_assert_eq(fa_list_entry(&o.link, struct outer, link), &o);
	cr_assert_eq(FA_ARRAY_SIZE(arr), 7);
	cr_assert_eq(FA_BIT64(0), 1);
	cr_assert_eq(FA_BIT64(63), 0x8000000000000000ULL);
	cr_assert_eq(FA_U64_MAX, 0xffffffffffffffffULL);
	cr_assert_eq(FA_LIKELY(42), 1);
	cr_assert_eq(FA_UNLIKELY(0), 0);
}

Test(base, atomics_wrappers)
{
	int x = 1, old = 1;
	int *p = NULL, q = 0;

	cr_assert_eq(FA_READ_ONCE(x), 1);
	FA_WRITE_ONCE(x, 2);
	cr_assert_eq(x, 2);
	cr_assert_eq(FA_LOAD_ACQUIRE(x), 2);
	FA_STORE_RELEASE(x, 3);
	cr_assert_eq(x, 3);
	FA_WRITE_ONCE(x, 2);
	cr_assert_eq(FA_XCHG(&x, 3), 2);
	cr_assert_eq(x, 3);
	cr_assert_not(FA_TRY_CMPXCHG(&x, &old, 4));
	cr_assert_eq(old, 3, "a failed compare-and-swap reports the current value");
	cr_assert_eq(x, 3);
	cr_assert(FA_TRY_CMPXCHG(&x, &old, 4));
	cr_assert_eq(x, 4);
	cr_assert_null(FA_XCHG(&p, &q));
	cr_assert_eq(p, &q);
}

/* ------------------------------------------------------------------ hooks */

Test(base, warn_returns_condition_and_is_observable)
{
	unsigned long before = fa_test_warnings();
	int evaluations = 0;

	cr_assert_not(FA_WARN(0));
	cr_assert_eq(fa_test_warnings(), before, "a false condition must not warn");
	cr_assert(FA_WARN(++evaluations == 1));
	cr_assert_eq(evaluations, 1, "the condition is evaluated exactly once");
	cr_assert_eq(fa_test_warnings(), before + 1);
	cr_assert_str_eq(fa_test_last_warning(), "++evaluations == 1");
	cr_assert_eq(FA_WARN(17), true, "returns the truth value, not the operand");
	FA_EXPECT_WARN(FA_WARN(evaluations));
	cr_assert_eq(fa_test_warnings(), before + 3);
	cr_assert(fa__warn(true, "f.c", 1, "direct"));
	cr_assert_str_eq(fa_test_last_warning(), "direct");
	cr_assert_not(fa__warn(false, "f.c", 1, "quiet"));
	cr_assert_str_eq(fa_test_last_warning(), "direct");
}

Test(base, assert_passes_when_true)
{
	FA_ASSERT(1 + 1 == 2);
	FA_HEAVY_ASSERT(0); /* off unless FA_DEBUG_HEAVY */
	cr_assert_eq(fa_test_warnings(), 0);
}

Test(base, assert_failure_is_a_bug, .signal = SIGABRT)
{
	volatile int zero = 0;

	FA_ASSERT(zero);
}

Test(base, bug_aborts, .signal = SIGABRT)
{
	FA_BUG();
}

/* The default sink exists even when a test overrides the hook. */
Test(base, default_warn_sink_records)
{
	struct fa_warn_record *rec = fa_warn_record_get();

	cr_assert_eq(rec, fa_warn_record_get(), "one record per translation unit");
	cr_assert_eq(rec->count, 0);
	fa__warn_default("x.c", 12, "cond");
	fa__warn_default("y.c", 34, "other");
	cr_assert_eq(rec->count, 2);
	cr_assert_str_eq(rec->file, "y.c");
	cr_assert_eq(rec->line, 34);
	cr_assert_str_eq(rec->expr, "other");
}

/* ------------------------------------------------------------ fa_list */

#define NODES 48

struct lnode {
	int id;
	struct fa_list link;
};

struct lmodel {
	int ids[NODES];
	int n;
};

static void model_insert(struct lmodel *m, int pos, int id)
{
	memmove(&m->ids[pos + 1], &m->ids[pos], (size_t)(m->n - pos) * sizeof(int));
	m->ids[pos] = id;
	m->n++;
}

static int model_remove(struct lmodel *m, int id)
{
	int i;

	for (i = 0; i < m->n; i++) {
		if (m->ids[i] == id) {
			memmove(&m->ids[i], &m->ids[i + 1], (size_t)(m->n - i - 1) * sizeof(int));
			m->n--;
			return 1;
		}
	}
	return 0;
}

/* Walk forwards and backwards and compare with the model. */
static void check_list(const struct fa_list *head, const struct lmodel *m, const char *what)
{
	const struct fa_list *pos;
	int i = 0;

	cr_assert_eq(fa_list_empty(head), m->n == 0, "%s: empty()", what);
	for (pos = head->next; pos != head; pos = pos->next) {
		cr_assert_lt(i, m->n, "%s: forward walk longer than the model", what);
		cr_assert_eq(pos->next->prev, pos, "%s: broken back link", what);
		cr_assert_eq(fa_list_entry(pos, struct lnode, link)->id, m->ids[i],
			     "%s: forward position %d", what, i);
		cr_assert_eq(fa_list_is_last(pos, head), i == m->n - 1, "%s: is_last", what);
		i++;
	}
	cr_assert_eq(i, m->n, "%s: forward walk length", what);
	for (pos = head->prev; pos != head; pos = pos->prev) {
		i--;
		cr_assert_geq(i, 0, "%s: backward walk longer than the model", what);
		cr_assert_eq(fa_list_entry(pos, struct lnode, link)->id, m->ids[i],
			     "%s: backward position %d", what, i);
	}
	cr_assert_eq(i, 0, "%s: backward walk length", what);
}

Test(base, list_basic_operations)
{
	struct fa_list head = FA_LIST_HEAD_INIT(head), other;
	struct lnode n[4];
	struct lmodel m = { { 0 }, 0 }, mo = { { 0 }, 0 };
	struct fa_list *pos, *tmp;
	int i;

	fa_list_init(&other);
	for (i = 0; i < 4; i++) {
		n[i].id = i;
		fa_list_init(&n[i].link);
		cr_assert(fa_list_empty(&n[i].link));
	}
	fa_list_add(&n[1].link, &head);       /* 1 */
	fa_list_add(&n[0].link, &head);       /* 0 1 */
	fa_list_add_tail(&n[2].link, &head);  /* 0 1 2 */
	fa_list_add_tail(&n[3].link, &head);  /* 0 1 2 3 */
	m.n = 4;
	for (i = 0; i < 4; i++)
		m.ids[i] = i;
	check_list(&head, &m, "built");
	cr_assert_eq(fa_list_first_entry(&head, struct lnode, link), &n[0]);

	fa_list_del_init(&n[1].link);
	model_remove(&m, 1);
	check_list(&head, &m, "deleted 1");
	cr_assert(fa_list_empty(&n[1].link), "a deleted node is an empty list");
	fa_list_del_init(&n[1].link); /* second delete is harmless */
	check_list(&head, &m, "deleted 1 twice");

	fa_list_move_tail(&n[0].link, &head); /* 2 3 0 */
	model_remove(&m, 0);
	model_insert(&m, m.n, 0);
	check_list(&head, &m, "moved 0 to the tail");

	fa_list_splice_tail_init(&other, &head); /* empty splice: no change */
	check_list(&head, &m, "spliced nothing");
	fa_list_splice_tail_init(&head, &other);
	mo = m;
	m.n = 0;
	check_list(&head, &m, "spliced away");
	check_list(&other, &mo, "spliced in");

	i = 0;
	fa_list_for_each_safe(pos, tmp, &other) {
		fa_list_del_init(pos);
		i++;
	}
	cr_assert_eq(i, 3);
	cr_assert(fa_list_empty(&other));
}

Test(base, list_random_against_model)
{
	struct lnode nodes[NODES];
	int where[NODES]; /* -1 free, 0 on list A, 1 on list B */
	struct fa_list heads[2];
	struct lmodel models[2];
	struct fa_rng r;
	uint64_t step, steps = fa_test_iters(30000);
	int i;

	fa_rng_seed(&r, fa_test_seed(0xba5e0006));
	for (i = 0; i < 2; i++) {
		fa_list_init(&heads[i]);
		models[i].n = 0;
	}
	for (i = 0; i < NODES; i++) {
		nodes[i].id = i;
		fa_list_init(&nodes[i].link);
		where[i] = -1;
	}
	for (step = 0; step < steps; step++) {
		int id = (int)fa_rng_below(&r, NODES), l = (int)fa_rng_below(&r, 2);
		struct lmodel *m = &models[l];

		switch (fa_rng_below(&r, 10)) {
		case 0: case 1: case 2: /* insert a free node at the front or back */
			if (where[id] != -1)
				break;
			if (fa_rng_below(&r, 2)) {
				fa_list_add(&nodes[id].link, &heads[l]);
				model_insert(m, 0, id);
			} else {
				fa_list_add_tail(&nodes[id].link, &heads[l]);
				model_insert(m, m->n, id);
			}
			where[id] = l;
			break;
		case 3: case 4: /* delete */
			if (where[id] == -1)
				break;
			fa_list_del_init(&nodes[id].link);
			cr_assert(model_remove(&models[where[id]], id));
			cr_assert(fa_list_empty(&nodes[id].link));
			where[id] = -1;
			break;
		case 5: case 6: case 7: /* move to the back of list l */
			if (where[id] == -1)
				break;
			fa_list_move_tail(&nodes[id].link, &heads[l]);
			cr_assert(model_remove(&models[where[id]], id));
			model_insert(m, m->n, id);
			where[id] = l;
			break;
		case 8: /* splice the other list onto the back of l */
			fa_list_splice_tail_init(&heads[!l], &heads[l]);
			for (i = 0; i < models[!l].n; i++) {
				m->ids[m->n++] = models[!l].ids[i];
				where[models[!l].ids[i]] = l;
			}
			models[!l].n = 0;
			break;
		default: /* walk only */
			break;
		}
		check_list(&heads[0], &models[0], "list A");
		check_list(&heads[1], &models[1], "list B");
	}
}

/* ----------------------------------------------------------- fa_llist */

struct pnode {
	uint32_t producer;
	uint32_t seq;
	struct fa_llist_node node;
};

Test(base, llist_single_thread)
{
	struct fa_llist head;
	struct pnode p[5];
	struct fa_llist_node *n;
	uint32_t i;

	fa_llist_init(&head);
	cr_assert(fa_llist_empty(&head));
	cr_assert_null(fa_llist_del_all(&head));
	cr_assert_null(fa_llist_reverse(NULL));
	for (i = 0; i < 5; i++)
		p[i].seq = i;
	cr_assert(fa_llist_push(&p[0].node, &head), "first push sees an empty list");
	cr_assert_not(fa_llist_empty(&head));
	cr_assert_not(fa_llist_push(&p[1].node, &head));
	/* a pre-linked chain 2 -> 3 -> 4 lands in one step, 2 being newest */
	p[2].node.next = &p[3].node;
	p[3].node.next = &p[4].node;
	cr_assert_not(fa_llist_push_batch(&p[2].node, &p[4].node, &head));

	n = fa_llist_del_all(&head);
	cr_assert(fa_llist_empty(&head));
	{
		static const uint32_t newest_first[] = { 2, 3, 4, 1, 0 };

		for (i = 0; i < 5; i++, n = n->next)
			cr_assert_eq(FA_CONTAINER_OF(n, struct pnode, node)->seq, newest_first[i]);
		cr_assert_null(n);
	}
	/* reverse twice is the identity; reverse once gives 0 1 4 3 2 */
	for (i = 0; i < 5; i++)
		p[i].node.next = i < 4 ? &p[i + 1].node : NULL;
	n = fa_llist_reverse(fa_llist_reverse(&p[0].node));
	for (i = 0; i < 5; i++, n = n->next)
		cr_assert_eq(n, &p[i].node);
	cr_assert_null(n);

	cr_assert(fa_llist_push(&p[0].node, &head), "empty again after del_all");
}

#define PRODUCERS 4

struct producer {
	pthread_t thread;
	struct fa_llist *head;
	struct pnode *nodes;
	uint32_t id;
	uint32_t count;
	uint64_t seed;
};

/* Pushes its nodes in sequence order, singly or in short pre-linked batches. */
static void *producer_main(void *arg)
{
	struct producer *p = (struct producer *)arg;
	struct fa_rng r;
	uint32_t i = 0, k, len;

	fa_rng_seed(&r, p->seed);
	while (i < p->count) {
		len = 1 + (uint32_t)fa_rng_below(&r, 4);
		if (len > p->count - i)
			len = p->count - i;
		if (len == 1) {
			fa_llist_push(&p->nodes[i].node, p->head);
		} else {
			/* newest first inside the chain: i+len-1 -> ... -> i */
			for (k = i + len - 1; k > i; k--)
				p->nodes[k].node.next = &p->nodes[k - 1].node;
			fa_llist_push_batch(&p->nodes[i + len - 1].node, &p->nodes[i].node, p->head);
		}
		i += len;
	}
	return NULL;
}

struct consumer_state {
	uint32_t next_seq[PRODUCERS]; /* per producer: the next sequence expected */
	uint64_t taken;
	uint64_t batches;
	int error;
	char msg[160];
};

/* Take everything, put it back in push order and check that each producer's
 * nodes arrive exactly once and in order (no loss, no duplicate). */
static void consume(struct fa_llist *head, struct consumer_state *c)
{
	struct fa_llist_node *n = fa_llist_reverse(fa_llist_del_all(head));

	if (n)
		c->batches++;
	for (; n && !c->error; n = n->next) {
		struct pnode *p = FA_CONTAINER_OF(n, struct pnode, node);

		if (p->producer >= PRODUCERS || p->seq != c->next_seq[p->producer]) {
			c->error = 1;
			snprintf(c->msg, sizeof(c->msg),
				 "producer %u: got seq %u, expected %u (lost, duplicated or reordered)",
				 p->producer, p->seq,
				 p->producer < PRODUCERS ? c->next_seq[p->producer] : 0);
			break;
		}
		c->next_seq[p->producer]++;
		c->taken++;
	}
}

Test(base_mt, llist_producers_and_concurrent_consumer, .timeout = 120)
{
	uint64_t total = fa_test_iters(1000000), seed = fa_test_seed(0xba5e0007);
	uint32_t per = (uint32_t)(total / PRODUCERS), i, j;
	struct producer prod[PRODUCERS];
	struct consumer_state c;
	struct fa_llist head;
	struct pnode *nodes;
	int running;

	nodes = (struct pnode *)calloc((size_t)per * PRODUCERS, sizeof(*nodes));
	cr_assert_not_null(nodes);
	memset(&c, 0, sizeof(c));
	fa_llist_init(&head);
	for (i = 0; i < PRODUCERS; i++) {
		prod[i].head = &head;
		prod[i].nodes = &nodes[(size_t)i * per];
		prod[i].id = i;
		prod[i].count = per;
		prod[i].seed = seed + i;
		for (j = 0; j < per; j++) {
			prod[i].nodes[j].producer = i;
			prod[i].nodes[j].seq = j;
		}
	}
	for (i = 0; i < PRODUCERS; i++)
		cr_assert_eq(pthread_create(&prod[i].thread, NULL, producer_main, &prod[i]), 0);
	/* consume while the producers run; stop polling once all have pushed */
	do {
		running = 0;
		consume(&head, &c);
		for (i = 0; i < PRODUCERS; i++)
			running |= c.next_seq[i] < per;
	} while (running && !c.error);
	for (i = 0; i < PRODUCERS; i++)
		cr_assert_eq(pthread_join(prod[i].thread, NULL), 0);
	consume(&head, &c);
	cr_assert_not(c.error, "%s", c.msg);
	cr_assert_eq(c.taken, (uint64_t)per * PRODUCERS, "every push taken exactly once");
	cr_assert(fa_llist_empty(&head));
	cr_log_info("%llu pushes from %d producers taken in %llu batches",
		    (unsigned long long)c.taken, PRODUCERS, (unsigned long long)c.batches);
	free(nodes);
}
