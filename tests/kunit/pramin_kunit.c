// SPDX-License-Identifier: MIT
/*
 * fencealloc_pramin: page-table memory through the PRAMIN window, over a
 * BAR0 simulated in kernel memory (VRAM in vmalloc, a window register, the
 * 1 MiB aperture, every MMIO write logged). Window moves only when an access
 * leaves the aperture, 64-bit entries go out as two 32-bit writes in the
 * hinted order, one read flushes, bad input writes nothing. The direct
 * accessor is specified against the same expectations.
 */
#include "fa_kunit.h"

#include <linux/spinlock.h>
#include <linux/vmalloc.h>

#include <fencealloc/pramin.h>

#define FA_KP_LOG 64u

/* The simulated device: VRAM, the window register, and a log of MMIO writes. */
struct fa_kp_bar0 {
	u8 *vram;
	uint64_t vram_size;
	struct fa_pramin_gen gen;
	u32 reg;
	unsigned long reg_writes, ap_writes, ap_reads;
	struct { u32 off, val; } log[FA_KP_LOG];	/* the last aperture writes */
	unsigned int nlog;
};

static uint64_t fa_kp_base(const struct fa_kp_bar0 *b)
{
	return (uint64_t)(b->reg & ((1u << b->gen.base_bits) - 1)) << b->gen.base_shift;
}

static u32 fa_kp_rd32(void *ctx, u32 off)
{
	struct fa_kp_bar0 *b = ctx;
	uint64_t va;

	if (off == b->gen.window_reg)
		return b->reg;
	if (off < b->gen.aperture || off >= b->gen.aperture + b->gen.aperture_size)
		return 0xbadf00d;
	va = fa_kp_base(b) + (off - b->gen.aperture);
	b->ap_reads++;
	return va + 4 <= b->vram_size ? *(u32 *)(b->vram + va) : 0xffffffff;
}

static void fa_kp_wr32(void *ctx, u32 off, u32 val)
{
	struct fa_kp_bar0 *b = ctx;
	uint64_t va;

	if (off == b->gen.window_reg) {
		b->reg = val;
		b->reg_writes++;
		return;
	}
	if (off < b->gen.aperture || off >= b->gen.aperture + b->gen.aperture_size)
		return;
	va = fa_kp_base(b) + (off - b->gen.aperture);
	if (va + 4 <= b->vram_size)
		*(u32 *)(b->vram + va) = val;
	b->ap_writes++;
	b->log[b->nlog % FA_KP_LOG].off = off;
	b->log[b->nlog % FA_KP_LOG].val = val;
	b->nlog++;
}

struct fa_kp {
	struct fa_kp_bar0 bar;
	struct fa_pramin_hw hw;
	struct fa_pramin_window win;
	struct fa_pramin_accessor acc;
	spinlock_t pramin_lock;	/* the caller's PRAMIN lock */
};

static void fa_kp_init(struct kunit *test, struct fa_kp *k, enum fa_pramin_gen_id id,
		       uint64_t vram)
{
	memset(k, 0, sizeof(*k));
	KUNIT_ASSERT_EQ(test, fa_pramin_gen_get(id, &k->bar.gen), 0);
	k->bar.vram = vzalloc(vram);
	KUNIT_ASSERT_NOT_NULL(test, k->bar.vram);
	k->bar.vram_size = vram;
	k->hw.rd32 = fa_kp_rd32;
	k->hw.wr32 = fa_kp_wr32;
	k->hw.ctx = &k->bar;
	spin_lock_init(&k->pramin_lock);
	KUNIT_ASSERT_EQ(test, fa_pramin_window_init(&k->win, &k->hw, &k->bar.gen, vram, &k->acc), 0);
}

static void fa_kp_fini(struct fa_kp *k)
{
	vfree(k->bar.vram);
}

static u64 fa_kp_vram64(const struct fa_kp *k, uint64_t addr)
{
	return *(u64 *)(k->bar.vram + addr);
}

/* ---------------------------------------------------------- generations */
struct fa_kp_gen {
	const char *name;
	enum fa_pramin_gen_id id;
	uint64_t reach;
};

static const struct fa_kp_gen fa_kp_gens[] = {
	{ "PBUS (Maxwell..Ada)", FA_PRAMIN_GEN_PBUS, 1ull << 40 },
	{ "GH100", FA_PRAMIN_GEN_GH100, 1ull << 38 },
	{ "GB100", FA_PRAMIN_GEN_GB100, 1ull << 39 },
};

static void fa_kp_gen_desc(const struct fa_kp_gen *g, char *desc)
{
	strscpy(desc, g->name, KUNIT_PARAM_DESC_SIZE);
}
KUNIT_ARRAY_PARAM(fa_kp_gen, fa_kp_gens, fa_kp_gen_desc);

/* Each generation's facts: register, 64 KiB granules, reach. */
static void fa_pramin_test_generation_facts(struct kunit *test)
{
	const struct fa_kp_gen *g = test->param_value;
	struct fa_pramin_gen gen;

	KUNIT_ASSERT_EQ(test, fa_pramin_gen_get(g->id, &gen), 0);
	KUNIT_EXPECT_EQ(test, fa_pramin_gen_reach(&gen), g->reach);
	KUNIT_EXPECT_EQ(test, gen.base_shift, 16u);
	KUNIT_EXPECT_EQ(test, gen.aperture, (u32)FA_PRAMIN_APERTURE);
	KUNIT_EXPECT_EQ(test, gen.aperture_size, (u32)FA_PRAMIN_APERTURE_SIZE);
	KUNIT_EXPECT_EQ(test, gen.window_reg, g->id == FA_PRAMIN_GEN_PBUS ?
			(u32)FA_PRAMIN_REG_PBUS_BAR0_WINDOW : (u32)FA_PRAMIN_REG_XAL_EP_BAR0_WINDOW);
}

/* A write lands in VRAM at its address, whatever the generation. */
static void fa_pramin_test_write_lands_in_vram(struct kunit *test)
{
	const struct fa_kp_gen *g = test->param_value;
	struct fa_kp k;
	u32 v = 0;

	fa_kp_init(test, &k, g->id, 8u << 20);
	spin_lock(&k.pramin_lock);
	KUNIT_EXPECT_EQ(test, fa_pramin_wr32(&k.acc, 0x345670, 0xcafe1234), 0);
	KUNIT_EXPECT_EQ(test, fa_pramin_rd32(&k.acc, 0x345670, &v), 0);
	KUNIT_EXPECT_EQ(test, fa_pramin_wr64(&k.acc, 0x7ffff8, 0x1122334455667788ull,
					     FA_PRAMIN_HIGH_FIRST), 0);
	KUNIT_EXPECT_EQ(test, fa_pramin_flush(&k.acc), 0);
	spin_unlock(&k.pramin_lock);
	KUNIT_EXPECT_EQ(test, v, 0xcafe1234u);
	KUNIT_EXPECT_EQ(test, *(u32 *)(k.bar.vram + 0x345670), 0xcafe1234u);
	KUNIT_EXPECT_EQ(test, fa_kp_vram64(&k, 0x7ffff8), 0x1122334455667788ull);
	fa_kp_fini(&k);
}

/* ----------------------------------------------------------- window moves */
/* Accesses inside the current 1 MiB never move the window; leaving it moves
 * it once, and the base is 64 KiB granular. */
static void fa_pramin_test_window_moves_only_when_needed(struct kunit *test)
{
	struct fa_kp k;
	uint64_t base = 1, a;

	fa_kp_init(test, &k, FA_PRAMIN_GEN_PBUS, 16u << 20);
	KUNIT_EXPECT_FALSE(test, fa_pramin_window_base(&k.win, &base));
	KUNIT_EXPECT_EQ(test, fa_pramin_wr32(&k.acc, 0x10000, 1), 0);
	KUNIT_EXPECT_EQ(test, k.bar.reg_writes, 1ul);
	for (a = 0x10000; a < 0x10000 + (1u << 20); a += 0x1000)
		KUNIT_EXPECT_EQ(test, fa_pramin_wr32(&k.acc, a, (u32)a), 0);
	KUNIT_EXPECT_EQ(test, k.bar.reg_writes, 1ul);
	KUNIT_EXPECT_EQ(test, fa_pramin_wr32(&k.acc, 0x10000 + (1u << 20), 2), 0);
	KUNIT_EXPECT_EQ(test, k.bar.reg_writes, 2ul);
	KUNIT_EXPECT_TRUE(test, fa_pramin_window_base(&k.win, &base));
	KUNIT_EXPECT_EQ(test, base & 0xffff, 0ull);
	KUNIT_EXPECT_EQ(test, k.win.stats.moves, (uint64_t)k.bar.reg_writes);
	fa_pramin_window_forget(&k.win);	/* e.g. after resume: reprogram next time */
	KUNIT_EXPECT_EQ(test, fa_pramin_wr32(&k.acc, 0x10000 + (1u << 20), 3), 0);
	KUNIT_EXPECT_EQ(test, k.bar.reg_writes, 3ul);
	fa_kp_fini(&k);
}

struct fa_kp_run {
	const char *name;
	bool descending;
	unsigned int mib;
};

static const struct fa_kp_run fa_kp_runs[] = {
	{ "ascending 4 MiB", false, 4 }, { "descending 4 MiB", true, 4 },
	{ "ascending 13 MiB", false, 13 }, { "descending 13 MiB", true, 13 },
};

static void fa_kp_run_desc(const struct fa_kp_run *r, char *desc)
{
	strscpy(desc, r->name, KUNIT_PARAM_DESC_SIZE);
}
KUNIT_ARRAY_PARAM(fa_kp_run, fa_kp_runs, fa_kp_run_desc);

/* A run over N MiB, either direction, costs at most N + 1 window moves and
 * writes every entry exactly where it belongs. */
static void fa_pramin_test_runs_need_few_moves(struct kunit *test)
{
	const struct fa_kp_run *r = test->param_value;
	uint64_t n = (uint64_t)r->mib << 17, i;	/* 8-byte entries */
	struct fa_kp k;

	fa_kp_init(test, &k, FA_PRAMIN_GEN_GH100, 16u << 20);
	for (i = 0; i < n; i++) {
		uint64_t e = r->descending ? n - 1 - i : i;

		KUNIT_ASSERT_EQ(test, fa_pramin_wr64(&k.acc, e * 8, e | 1, FA_PRAMIN_HIGH_FIRST), 0);
	}
	KUNIT_EXPECT_LE(test, k.bar.reg_writes, (unsigned long)r->mib + 1);
	KUNIT_EXPECT_EQ(test, k.bar.ap_writes, (unsigned long)(2 * n));
	for (i = 0; i < n; i += 4099)
		KUNIT_EXPECT_EQ(test, fa_kp_vram64(&k, i * 8), i | 1);
	fa_kp_fini(&k);
}

/* fill64 over a range crossing aperture boundaries: one write per half, the
 * minimum number of moves, the arithmetic progression intact. */
static void fa_pramin_test_fill64_across_windows(struct kunit *test)
{
	const uint64_t start = 0xf0000, count = 3 << 17;	/* 3 MiB of entries */
	uint64_t i;
	struct fa_kp k;

	fa_kp_init(test, &k, FA_PRAMIN_GEN_PBUS, 8u << 20);
	KUNIT_EXPECT_EQ(test, fa_pramin_fill64(&k.acc, start, 0x1001, 0x1000, count,
					       FA_PRAMIN_HIGH_FIRST), 0);
	KUNIT_EXPECT_EQ(test, k.bar.ap_writes, (unsigned long)(2 * count));
	KUNIT_EXPECT_LE(test, k.bar.reg_writes, 4ul);
	for (i = 0; i < count; i += 997)
		KUNIT_EXPECT_EQ(test, fa_kp_vram64(&k, start + i * 8), 0x1001 + i * 0x1000);
	KUNIT_EXPECT_EQ(test, fa_kp_vram64(&k, start + (count - 1) * 8),
			0x1001 + (count - 1) * 0x1000);
	fa_kp_fini(&k);
}

/* --------------------------------------------------------- write order */
struct fa_kp_order {
	const char *name;
	enum fa_pramin_order order;
	bool high_first;
};

static const struct fa_kp_order fa_kp_orders[] = {
	{ "HIGH_FIRST (map)", FA_PRAMIN_HIGH_FIRST, true },
	{ "LOW_FIRST (unmap)", FA_PRAMIN_LOW_FIRST, false },
	{ "ANY (low, then high)", FA_PRAMIN_ORDER_ANY, false },
};

static void fa_kp_order_desc(const struct fa_kp_order *o, char *desc)
{
	strscpy(desc, o->name, KUNIT_PARAM_DESC_SIZE);
}
KUNIT_ARRAY_PARAM(fa_kp_order, fa_kp_orders, fa_kp_order_desc);

/* Each 64-bit entry is exactly two 32-bit MMIO writes, in the hinted order:
 * to map, VALID (bit 0, low half) lands last. */
static void fa_pramin_test_64bit_half_order(struct kunit *test)
{
	const struct fa_kp_order *o = test->param_value;
	const uint64_t addr = 0x123458, val = 0xaaaabbbb00000001ull;
	u64 src[3] = { 0x100000001ull, 0x200000001ull, 0x300000001ull };
	unsigned int first, second, i;
	struct fa_kp k;

	fa_kp_init(test, &k, FA_PRAMIN_GEN_PBUS, 4u << 20);
	KUNIT_ASSERT_EQ(test, fa_pramin_wr64(&k.acc, addr, val, o->order), 0);
	KUNIT_ASSERT_EQ(test, k.bar.nlog, 2u);
	first = o->high_first ? 1 : 0;	/* 1: the high half's offset is +4 */
	KUNIT_EXPECT_EQ(test, k.bar.log[0].off & 4, first ? 4u : 0u);
	KUNIT_EXPECT_EQ(test, k.bar.log[0].val, first ? (u32)(val >> 32) : (u32)val);
	KUNIT_EXPECT_EQ(test, k.bar.log[1].val, first ? (u32)val : (u32)(val >> 32));
	/* the same for every entry of a copy */
	k.bar.nlog = 0;
	KUNIT_ASSERT_EQ(test, fa_pramin_copy64(&k.acc, 0x200000, src, 3, o->order), 0);
	KUNIT_ASSERT_EQ(test, k.bar.nlog, 6u);
	for (i = 0; i < 3; i++) {
		second = 2 * i + 1;
		KUNIT_EXPECT_EQ(test, k.bar.log[2 * i].off & 4, first ? 4u : 0u);
		KUNIT_EXPECT_EQ(test, k.bar.log[second].off & 4, first ? 0u : 4u);
		KUNIT_EXPECT_EQ(test, fa_kp_vram64(&k, 0x200000 + 8 * i), src[i]);
	}
	fa_kp_fini(&k);
}

/* A flush is exactly one MMIO read through the aperture. */
static void fa_pramin_test_flush_is_one_read(struct kunit *test)
{
	struct fa_kp k;
	unsigned long reads;

	fa_kp_init(test, &k, FA_PRAMIN_GEN_GB100, 2u << 20);
	KUNIT_EXPECT_EQ(test, fa_pramin_fill32(&k.acc, 0, 0, 4096), 0);
	reads = k.bar.ap_reads;
	KUNIT_EXPECT_EQ(test, fa_pramin_flush(&k.acc), 0);
	KUNIT_EXPECT_EQ(test, k.bar.ap_reads, reads + 1);
	KUNIT_EXPECT_EQ(test, k.win.stats.flushes, 1ull);
	fa_kp_fini(&k);
}

/* ------------------------------------------------------------ bad input */
struct fa_kp_bad {
	const char *name;
	uint64_t addr, count;
	int want;
};

static const struct fa_kp_bad fa_kp_bads[] = {
	{ "misaligned 64-bit", 0x1004, 1, -FA_EINVAL },
	{ "zero count", 0x1000, 0, -FA_EINVAL },
	{ "past the end of VRAM", 4u << 20, 1, -FA_ERANGE },
	{ "straddles the end of VRAM", (4u << 20) - 8, 2, -FA_ERANGE },
	{ "count overflows", 0x1000, ~0ull / 4, -FA_EINVAL },
};

static void fa_kp_bad_desc(const struct fa_kp_bad *b, char *desc)
{
	strscpy(desc, b->name, KUNIT_PARAM_DESC_SIZE);
}
KUNIT_ARRAY_PARAM(fa_kp_bad, fa_kp_bads, fa_kp_bad_desc);

/* Bad input is refused before any MMIO: no VRAM byte, no window move. */
static void fa_pramin_test_bad_input_writes_nothing(struct kunit *test)
{
	const struct fa_kp_bad *b = test->param_value;
	struct fa_kp k;
	int ret;

	fa_kp_init(test, &k, FA_PRAMIN_GEN_PBUS, 4u << 20);
	ret = fa_pramin_fill64(&k.acc, b->addr, 1, 0, b->count, FA_PRAMIN_HIGH_FIRST);
	KUNIT_EXPECT_EQ(test, ret, b->want);
	KUNIT_EXPECT_EQ(test, k.bar.ap_writes, 0ul);
	KUNIT_EXPECT_EQ(test, k.bar.reg_writes, 0ul);
	fa_kp_fini(&k);
}

/* Beyond the window's reach (not just beyond VRAM): -FA_EFAULT. */
static void fa_pramin_test_beyond_reach(struct kunit *test)
{
	struct fa_pramin_window w;
	struct fa_pramin_accessor a;
	struct fa_pramin_hw hw = { NULL, fa_kp_rd32, fa_kp_wr32, NULL };
	struct fa_kp_bar0 bar = {};
	struct fa_pramin_gen gen;

	KUNIT_ASSERT_EQ(test, fa_pramin_gen_get(FA_PRAMIN_GEN_GH100, &gen), 0);
	bar.gen = gen;
	hw.ctx = &bar;
	KUNIT_ASSERT_EQ(test, fa_pramin_window_init(&w, &hw, &gen, 1ull << 40, &a), 0);
	KUNIT_EXPECT_EQ(test, fa_pramin_wr32(&a, 1ull << 38, 1), -FA_EFAULT);
	KUNIT_EXPECT_EQ(test, bar.reg_writes + bar.ap_writes, 0ul);
}

/* ------------------------------------------------------------ direct */
/* The direct accessor: same results, plain stores into the table memory. */
static void fa_pramin_test_direct(struct kunit *test)
{
	u64 *mem = kunit_kzalloc(test, 4096, GFP_KERNEL);
	u64 src[2] = { 5, 7 }, v = 0;
	struct fa_pramin_direct d;
	struct fa_pramin_accessor a;

	KUNIT_ASSERT_NOT_NULL(test, mem);
	KUNIT_ASSERT_EQ(test, fa_pramin_direct_init(&d, mem, 0x10000, 4096, &a), 0);
	KUNIT_EXPECT_EQ(test, fa_pramin_fill64(&a, 0x10000, 1, 2, 8, FA_PRAMIN_HIGH_FIRST), 0);
	KUNIT_EXPECT_EQ(test, mem[7], 15ull);
	KUNIT_EXPECT_EQ(test, fa_pramin_copy64(&a, 0x10ff0, src, 2, FA_PRAMIN_LOW_FIRST), 0);
	KUNIT_EXPECT_EQ(test, fa_pramin_rd64(&a, 0x10ff8, &v), 0);
	KUNIT_EXPECT_EQ(test, v, 7ull);
	KUNIT_EXPECT_EQ(test, fa_pramin_wr64(&a, 0x11000, 1, FA_PRAMIN_HIGH_FIRST), -FA_ERANGE);
	KUNIT_EXPECT_EQ(test, fa_pramin_wr64(&a, 0x0fff8, 1, FA_PRAMIN_HIGH_FIRST), -FA_ERANGE);
	KUNIT_EXPECT_EQ(test, fa_pramin_flush(&a), 0);
	KUNIT_EXPECT_EQ(test, fa_pramin_direct_init(&d, (u8 *)mem + 4, 0, 64, &a), -FA_EINVAL);
}

/* A NULL accessor is a caller bug: warned, refused. */
static void fa_pramin_test_null_accessor_warns(struct kunit *test)
{
	int ret = 0;

	FA_KUNIT_EXPECT_WARNS(test, 1, ret = fa_pramin_flush(NULL));
	KUNIT_EXPECT_EQ(test, ret, -FA_EINVAL);
}

static struct kunit_case fa_pramin_cases[] = {
	KUNIT_CASE_PARAM(fa_pramin_test_generation_facts, fa_kp_gen_gen_params),
	KUNIT_CASE_PARAM(fa_pramin_test_write_lands_in_vram, fa_kp_gen_gen_params),
	KUNIT_CASE(fa_pramin_test_window_moves_only_when_needed),
	KUNIT_CASE_PARAM(fa_pramin_test_runs_need_few_moves, fa_kp_run_gen_params),
	KUNIT_CASE(fa_pramin_test_fill64_across_windows),
	KUNIT_CASE_PARAM(fa_pramin_test_64bit_half_order, fa_kp_order_gen_params),
	KUNIT_CASE(fa_pramin_test_flush_is_one_read),
	KUNIT_CASE_PARAM(fa_pramin_test_bad_input_writes_nothing, fa_kp_bad_gen_params),
	KUNIT_CASE(fa_pramin_test_beyond_reach),
	KUNIT_CASE(fa_pramin_test_direct),
	KUNIT_CASE(fa_pramin_test_null_accessor_warns),
	{}
};

static struct kunit_suite fa_pramin_suite = {
	.name = "fencealloc_pramin",
	.test_cases = fa_pramin_cases,
};
kunit_test_suite(fa_pramin_suite);

MODULE_LICENSE("Dual MIT/GPL");
