/* SPDX-License-Identifier: MIT */
/*
 * Page-table memory accessors: the trait wrappers, the direct implementation,
 * and the PRAMIN window driven through the simulated BAR0: minimal window
 * moves for ascending/descending runs, random accesses inside one window,
 * the 1 MiB edge, each generation's reach and register, the half order of
 * 64-bit writes (from the MMIO log), flush = one read, rejected input leaves
 * everything as it was, and a model test against the direct implementation.
 */
#include "fa_test.h"

#include <criterion/criterion.h>
#include <string.h>

#include <fencealloc/pramin.h>
#include <sim/sim_bar0.h>

#include "fa_rng.h"

#define MiB (1ull << 20)
#define KiB (1ull << 10)

/* ------------------------------------------------------------------ rigs */

/* A PRAMIN window over a simulated BAR0. */
struct prig {
	struct sim_bar0 bar;
	struct fa_pramin_gen gen;
	struct fa_pramin_hw hw;
	struct fa_pramin_window win;
	struct fa_pramin_accessor acc;
};

static void prig_init(struct prig *r, enum fa_pramin_gen_id id, uint64_t vram)
{
	cr_assert_eq(fa_pramin_gen_get(id, &r->gen), 0);
	cr_assert_eq(sim_bar0_init(&r->bar, vram, &r->gen), 0);
	sim_bar0_pramin_hw(&r->bar, &r->hw);
	cr_assert_eq(fa_pramin_window_init(&r->win, &r->hw, &r->gen, vram, &r->acc), 0);
}

static void prig_fini(struct prig *r)
{
	sim_bar0_fini(&r->bar);
}

static uint64_t ceil_mib(uint64_t bytes)
{
	return (bytes + MiB - 1) / MiB;
}

/* A hardware stub with no memory behind it: for reach tests up to 2^40. */
struct stub_hw {
	uint32_t last_reg_off, last_reg_val;
	uint64_t reg_writes, data_writes, reads, set_window_calls;
};

static uint32_t stub_rd32(void *ctx, uint32_t off)
{
	struct stub_hw *s = (struct stub_hw *)ctx;

	(void)off;
	s->reads++;
	return 0;
}

static void stub_wr32(void *ctx, uint32_t off, uint32_t val)
{
	struct stub_hw *s = (struct stub_hw *)ctx;

	if (off >= FA_PRAMIN_APERTURE && off < FA_PRAMIN_APERTURE + FA_PRAMIN_APERTURE_SIZE) {
		s->data_writes++;
		return;
	}
	s->reg_writes++;
	s->last_reg_off = off;
	s->last_reg_val = val;
}

static void stub_set_window(void *ctx, uint32_t val)
{
	struct stub_hw *s = (struct stub_hw *)ctx;

	s->set_window_calls++;
	s->last_reg_val = val;
}

/* ------------------------------------------------------- trait wrappers */

Test(pramin, wrappers_warn_on_null_accessor_and_report_missing_ops)
{
	struct fa_pramin_accessor none = { NULL, NULL };
	struct fa_pramin_ops empty;
	struct fa_pramin_accessor partial;
	uint32_t v32 = 7;
	uint64_t v64 = 7;
	int err = 0;

	FA_EXPECT_WARN(err = fa_pramin_rd32(NULL, 0, &v32));
	cr_assert_eq(err, -FA_EINVAL);
	FA_EXPECT_WARN(err = fa_pramin_flush(&none));
	cr_assert_eq(err, -FA_EINVAL);
	cr_assert_eq(v32, 7);

	memset(&empty, 0, sizeof(empty));
	partial.ops = &empty;
	partial.ctx = NULL;
	cr_assert_eq(fa_pramin_rd32(&partial, 0, &v32), -FA_EOPNOTSUPP);
	cr_assert_eq(fa_pramin_wr32(&partial, 0, 1), -FA_EOPNOTSUPP);
	cr_assert_eq(fa_pramin_rd64(&partial, 0, &v64), -FA_EOPNOTSUPP);
	cr_assert_eq(fa_pramin_wr64(&partial, 0, 1, FA_PRAMIN_ORDER_ANY), -FA_EOPNOTSUPP);
	cr_assert_eq(fa_pramin_fill32(&partial, 0, 1, 1), -FA_EOPNOTSUPP);
	cr_assert_eq(fa_pramin_fill64(&partial, 0, 1, 0, 1, FA_PRAMIN_ORDER_ANY), -FA_EOPNOTSUPP);
	cr_assert_eq(fa_pramin_copy64(&partial, 0, &v64, 1, FA_PRAMIN_ORDER_ANY), -FA_EOPNOTSUPP);
	cr_assert_eq(fa_pramin_flush(&partial), -FA_EOPNOTSUPP);
}

/* ---------------------------------------------------------------- direct */

Test(pramin, direct_init_rejects_bad_arguments)
{
	static uint64_t buf[16];
	struct fa_pramin_direct d;
	struct fa_pramin_accessor a;

	memset(&d, 0xAB, sizeof(d));
	memset(&a, 0xAB, sizeof(a));
	cr_assert_eq(fa_pramin_direct_init(NULL, buf, 0, sizeof(buf), &a), -FA_EINVAL);
	cr_assert_eq(fa_pramin_direct_init(&d, NULL, 0, sizeof(buf), &a), -FA_EINVAL);
	cr_assert_eq(fa_pramin_direct_init(&d, buf, 0, 0, &a), -FA_EINVAL);
	cr_assert_eq(fa_pramin_direct_init(&d, buf, 4, sizeof(buf), &a), -FA_EINVAL);
	cr_assert_eq(fa_pramin_direct_init(&d, (char *)buf + 4, 0, 64, &a), -FA_EINVAL);
	cr_assert_eq(fa_pramin_direct_init(&d, buf, FA_U64_MAX - 63, 128, &a), -FA_EINVAL);
	cr_assert_eq(((unsigned char *)&d)[0], 0xAB, "failed init must not touch the object");
	cr_assert_eq(((unsigned char *)&a)[0], 0xAB, "failed init must not touch the accessor");
	cr_assert_eq(fa_pramin_direct_init(&d, buf, 0x10000, sizeof(buf), NULL), 0);
	fa_pramin_direct_accessor(&d, &a);
	cr_assert_eq(a.ctx, &d);
}

Test(pramin, direct_ops_address_from_dev_base_and_reject_outside)
{
	static uint64_t buf[64];
	uint64_t src[3] = { 0x1111111122222222ull, 0x3333333344444444ull, 0x5555555566666666ull };
	struct fa_pramin_direct d;
	struct fa_pramin_accessor a;
	const uint64_t base = 0x40000;
	uint64_t v64, snap[64];
	uint32_t v32;

	cr_assert_eq(fa_pramin_direct_init(&d, buf, base, sizeof(buf), &a), 0);
	cr_assert_eq(fa_pramin_wr32(&a, base + 4, 0xdeadbeef), 0);
	cr_assert_eq(buf[0], 0xdeadbeef00000000ull);
	cr_assert_eq(fa_pramin_rd32(&a, base + 4, &v32), 0);
	cr_assert_eq(v32, 0xdeadbeef);
	cr_assert_eq(fa_pramin_wr64(&a, base + 8, 0x0123456789abcdefull, FA_PRAMIN_HIGH_FIRST), 0);
	cr_assert_eq(fa_pramin_rd64(&a, base + 8, &v64), 0);
	cr_assert_eq(v64, 0x0123456789abcdefull);
	cr_assert_eq(fa_pramin_fill64(&a, base + 16, 0x101, 0x1000, 4, FA_PRAMIN_HIGH_FIRST), 0);
	cr_assert_eq(buf[2], 0x101);
	cr_assert_eq(buf[5], 0x3101);
	cr_assert_eq(fa_pramin_fill32(&a, base + 48, 0xa5a5a5a5, 3), 0);
	cr_assert_eq(buf[6], 0xa5a5a5a5a5a5a5a5ull);
	cr_assert_eq(buf[7], 0xa5a5a5a5ull);
	cr_assert_eq(fa_pramin_copy64(&a, base + 8 * 61, src, 3, FA_PRAMIN_LOW_FIRST), 0);
	cr_assert_eq(buf[63], src[2]);
	cr_assert_eq(fa_pramin_flush(&a), 0);

	memcpy(snap, buf, sizeof(buf));
	cr_assert_eq(fa_pramin_wr32(&a, base - 4, 1), -FA_ERANGE);
	cr_assert_eq(fa_pramin_wr64(&a, base + sizeof(buf), 1, FA_PRAMIN_ORDER_ANY), -FA_ERANGE);
	cr_assert_eq(fa_pramin_fill64(&a, base + 8 * 60, 1, 1, 5, FA_PRAMIN_ORDER_ANY), -FA_ERANGE);
	cr_assert_eq(fa_pramin_copy64(&a, base, src, 65, FA_PRAMIN_ORDER_ANY), -FA_ERANGE);
	cr_assert_eq(fa_pramin_wr64(&a, base + 4, 1, FA_PRAMIN_ORDER_ANY), -FA_EINVAL);
	cr_assert_eq(fa_pramin_wr32(&a, base + 2, 1), -FA_EINVAL);
	cr_assert_eq(fa_pramin_fill32(&a, base, 1, 0), -FA_EINVAL);
	cr_assert_eq(fa_pramin_fill64(&a, base, 1, 1, FA_U64_MAX / 4, FA_PRAMIN_ORDER_ANY), -FA_EINVAL);
	cr_assert_eq(fa_pramin_copy64(&a, base, NULL, 1, FA_PRAMIN_ORDER_ANY), -FA_EINVAL);
	cr_assert_eq(fa_pramin_rd64(&a, base, NULL), -FA_EINVAL);
	cr_assert_eq(memcmp(snap, buf, sizeof(buf)), 0, "rejected ops must write nothing");
}

/* ----------------------------------------------------------- generations */

Test(pramin, generations_describe_register_and_reach)
{
	struct fa_pramin_gen g;

	cr_assert_eq(fa_pramin_gen_get(FA_PRAMIN_GEN_PBUS, &g), 0);
	cr_assert_eq(g.window_reg, 0x1700);
	cr_assert_eq(g.aperture, 0x700000);
	cr_assert_eq(g.aperture_size, 1u << 20);
	cr_assert_eq(g.base_shift, 16);
	cr_assert_eq(fa_pramin_gen_reach(&g), 1ull << 40);
	cr_assert_eq(fa_pramin_gen_get(FA_PRAMIN_GEN_GH100, &g), 0);
	cr_assert_eq(g.window_reg, 0x10FD40);
	cr_assert_eq(fa_pramin_gen_reach(&g), 1ull << 38);
	cr_assert_eq(fa_pramin_gen_get(FA_PRAMIN_GEN_GB100, &g), 0);
	cr_assert_eq(g.window_reg, 0x10FD40);
	cr_assert_eq(fa_pramin_gen_reach(&g), 1ull << 39);
	cr_assert_eq(fa_pramin_gen_get((enum fa_pramin_gen_id)42, &g), -FA_EINVAL);
	cr_assert_eq(fa_pramin_gen_get(FA_PRAMIN_GEN_PBUS, NULL), -FA_EINVAL);
}

Test(pramin, window_init_rejects_bad_descriptors_and_interfaces)
{
	struct stub_hw s;
	struct fa_pramin_hw hw = { NULL, stub_rd32, stub_wr32, &s };
	struct fa_pramin_hw nowr = { NULL, stub_rd32, NULL, &s };
	struct fa_pramin_gen g, bad;
	struct fa_pramin_window w;
	struct fa_pramin_accessor a;

	memset(&s, 0, sizeof(s));
	fa_pramin_gen_get(FA_PRAMIN_GEN_PBUS, &g);
	memset(&w, 0xCD, sizeof(w));
	cr_assert_eq(fa_pramin_window_init(&w, &hw, &g, 0, &a), -FA_EINVAL);
	cr_assert_eq(fa_pramin_window_init(&w, &nowr, &g, MiB, &a), -FA_EINVAL);
	cr_assert_eq(fa_pramin_window_init(&w, NULL, &g, MiB, &a), -FA_EINVAL);
	cr_assert_eq(fa_pramin_window_init(&w, &hw, NULL, MiB, &a), -FA_EINVAL);
	bad = g;
	bad.window_reg = 0x1702;
	cr_assert_eq(fa_pramin_window_init(&w, &hw, &bad, MiB, &a), -FA_EINVAL);
	bad = g;
	bad.aperture_size = 64 * KiB; /* must hold two granules */
	cr_assert_eq(fa_pramin_window_init(&w, &hw, &bad, MiB, &a), -FA_EINVAL);
	bad = g;
	bad.aperture_size = 3 * MiB;
	cr_assert_eq(fa_pramin_window_init(&w, &hw, &bad, MiB, &a), -FA_EINVAL);
	bad = g;
	bad.reg_or = 1; /* overlaps the base field */
	cr_assert_eq(fa_pramin_window_init(&w, &hw, &bad, MiB, &a), -FA_EINVAL);
	bad = g;
	bad.base_bits = 0;
	cr_assert_eq(fa_pramin_window_init(&w, &hw, &bad, MiB, &a), -FA_EINVAL);
	bad = g;
	bad.aperture = 0xFFF80000u; /* aperture would pass the end of a 32-bit BAR0 offset */
	cr_assert_eq(fa_pramin_window_init(&w, &hw, &bad, MiB, &a), -FA_EINVAL);
	cr_assert_eq(((unsigned char *)&w)[0], 0xCD, "failed init must not touch the object");
	bad = g;
	bad.reg_or = 2u << 24; /* e.g. TARGET = SYS_MEM_COHERENT: allowed, outside the field */
	cr_assert_eq(fa_pramin_window_init(&w, &hw, &bad, MiB, &a), 0);
	cr_assert_eq(fa_pramin_wr32(&a, 0x30000, 5), 0);
	cr_assert_eq(s.last_reg_val, (2u << 24) | 3u);
	cr_assert_eq(s.reg_writes, 1);
}

/*
 * base_shift + base_bits is computed by the caller's descriptor: a shift near
 * 2^32 makes the 32-bit sum wrap to a small value. Every such descriptor must
 * be refused without ever shifting by the huge amount (UBSan aborts this test
 * in the sanitizer run when it does), and fa_pramin_gen_reach() must not
 * shift by it either.
 */
Test(pramin, window_init_refuses_descriptor_whose_shift_plus_bits_wraps)
{
	struct stub_hw s;
	struct fa_pramin_hw hw = { NULL, stub_rd32, stub_wr32, &s };
	struct fa_pramin_gen g, bad;
	struct fa_pramin_window w;
	struct fa_pramin_accessor a;
	uint32_t bits, back;
	unsigned int tried = 0;

	memset(&s, 0, sizeof(s));
	fa_pramin_gen_get(FA_PRAMIN_GEN_PBUS, &g);
	for (bits = 1; bits <= 32; bits++) {
		for (back = 1; back <= 64; back++) {
			bad = g;
			bad.base_bits = bits;
			bad.base_shift = (uint32_t)0 - back; /* shift + bits wraps when back <= bits */
			memset(&w, 0xCD, sizeof(w));
			memset(&a, 0xCD, sizeof(a));
			cr_assert_eq(fa_pramin_window_init(&w, &hw, &bad, MiB, &a), -FA_EINVAL,
				     "base_shift %u base_bits %u accepted", bad.base_shift, bits);
			cr_assert_eq(((unsigned char *)&w)[0], 0xCD);
			cr_assert_eq(((unsigned char *)&a)[0], 0xCD);
			cr_assert_eq(fa_pramin_gen_reach(&bad), 0);
			tried++;
		}
	}
	/* the largest shift on its own that still leaves one field bit */
	bad = g;
	bad.base_shift = 61;
	bad.base_bits = 1;
	bad.aperture_size = 0; /* refused for the aperture, not for the shift */
	cr_assert_eq(fa_pramin_window_init(&w, &hw, &bad, MiB, &a), -FA_EINVAL);
	cr_assert_eq(fa_pramin_gen_reach(&bad), 0);
	cr_assert_eq(fa_pramin_gen_reach(NULL), 0);
	cr_assert_eq(fa_pramin_gen_reach(&g), 1ull << 40);
	cr_assert_eq(tried, 32u * 64u);
	cr_assert_eq(s.reg_writes + s.data_writes + s.reads, 0);
}

Test(pramin, window_register_offset_and_value_per_generation)
{
	static const enum fa_pramin_gen_id ids[] = { FA_PRAMIN_GEN_PBUS, FA_PRAMIN_GEN_GH100,
						     FA_PRAMIN_GEN_GB100 };
	static const uint32_t regs[] = { 0x1700, 0x10FD40, 0x10FD40 };
	size_t i;

	for (i = 0; i < FA_ARRAY_SIZE(ids); i++) {
		struct prig r;
		uint64_t base = 0;

		prig_init(&r, ids[i], 64 * MiB);
		cr_assert_eq(sim_bar0_log_enable(&r.bar, 16), 0);
		cr_assert_not(fa_pramin_window_base(&r.win, &base), "no base before the first access");
		cr_assert_eq(fa_pramin_wr32(&r.acc, 0x2345678, 0x11), 0);
		cr_assert_eq(r.bar.log_len, 2);
		cr_assert(r.bar.log[0].write);
		cr_assert_eq(r.bar.log[0].off, regs[i]);
		cr_assert_eq(r.bar.log[0].val, 0x2345678 >> 16);
		cr_assert_eq(r.bar.log[1].off, 0x700000 + (0x2345678 & 0xffff));
		cr_assert_eq(r.bar.log[1].vram, 0x2345678);
		cr_assert(fa_pramin_window_base(&r.win, &base));
		cr_assert_eq(base, 0x2340000);
		cr_assert_eq(r.bar.window_base, 0x2340000);
		cr_assert_eq(r.bar.stats.errors, 0);
		prig_fini(&r);
	}
}

Test(pramin, set_window_callback_replaces_the_register_write)
{
	struct stub_hw s;
	struct fa_pramin_hw hw = { stub_set_window, stub_rd32, stub_wr32, &s };
	struct fa_pramin_gen g;
	struct fa_pramin_window w;
	struct fa_pramin_accessor a;

	memset(&s, 0, sizeof(s));
	fa_pramin_gen_get(FA_PRAMIN_GEN_GH100, &g);
	cr_assert_eq(fa_pramin_window_init(&w, &hw, &g, 1ull << 36, &a), 0);
	cr_assert_eq(fa_pramin_wr64(&a, 0x987650008ull, 1, FA_PRAMIN_ORDER_ANY), 0);
	cr_assert_eq(s.set_window_calls, 1);
	cr_assert_eq(s.reg_writes, 0);
	cr_assert_eq(s.last_reg_val, 0x98765);
	cr_assert_eq(s.data_writes, 2);
	cr_assert_eq(w.stats.moves, 1);
}

/* ---------------------------------------------------------- window moves */

Test(pramin, ascending_fills_move_once_per_mib)
{
	struct prig r;
	const uint64_t start = 0x3450000, bytes = 37 * MiB + 192 * KiB;
	uint64_t a, s;

	prig_init(&r, FA_PRAMIN_GEN_PBUS, 128 * MiB);
	for (a = start; a < start + bytes; a += 4 * KiB)
		cr_assert_eq(fa_pramin_fill64(&r.acc, a, a | 1, 0x1000, 512, FA_PRAMIN_HIGH_FIRST), 0);
	cr_assert_eq(r.win.stats.moves, ceil_mib(bytes), "moves %llu, want %llu",
		     (unsigned long long)r.win.stats.moves, (unsigned long long)ceil_mib(bytes));
	cr_assert_eq(r.win.stats.writes, 2 * (bytes / 8));
	cr_assert_eq(r.bar.stats.window_changes, r.win.stats.moves);
	for (a = start; a < start + bytes; a += 4 * KiB)
		cr_assert_eq(sim_bar0_peek64(&r.bar, a + 8), (a | 1) + 0x1000);

	/* one call spanning many MiB, from an address that is not 64 KiB aligned */
	fa_pramin_window_stats_reset(&r.win);
	s = 0x5012340;
	cr_assert_eq(fa_pramin_fill64(&r.acc, s, 0, 1, (9 * MiB + 40) / 8, FA_PRAMIN_ORDER_ANY), 0);
	cr_assert_eq(r.win.stats.moves, ceil_mib(s + 9 * MiB + 40 - fa_align_down(s, 64 * KiB)));
	cr_assert_eq(sim_bar0_peek64(&r.bar, s + 9 * MiB + 32), (9 * MiB + 32) / 8);
	cr_assert_eq(r.bar.stats.torn_valid, 0);
	prig_fini(&r);
}

Test(pramin, descending_fills_move_once_per_mib_after_the_first_access)
{
	struct prig r;
	const uint64_t top = 0x6000000, bytes = 24 * MiB;
	uint64_t a;

	prig_init(&r, FA_PRAMIN_GEN_GB100, 128 * MiB);
	/* page tables written from the top down, 4 KiB at a time */
	for (a = top; a > top - bytes; a -= 4 * KiB)
		cr_assert_eq(fa_pramin_fill64(&r.acc, a - 4 * KiB, 0, 0, 512, FA_PRAMIN_LOW_FIRST), 0);
	/*
	 * The first access cannot know the run descends (it is placed as an
	 * ascending one); from the second on, each MiB costs exactly one move.
	 */
	cr_assert_eq(r.win.stats.moves, ceil_mib(bytes) + 1, "moves %llu, want %llu",
		     (unsigned long long)r.win.stats.moves, (unsigned long long)ceil_mib(bytes) + 1);

	/* a descending walk of single entries, continuing the run: no extra move */
	fa_pramin_window_stats_reset(&r.win);
	for (a = top - bytes; a > top - bytes - 5 * MiB; a -= 8)
		cr_assert_eq(fa_pramin_wr64(&r.acc, a - 8, a, FA_PRAMIN_HIGH_FIRST), 0);
	cr_assert_eq(r.win.stats.moves, 5);
	cr_assert_eq(sim_bar0_peek64(&r.bar, top - bytes - 8), top - bytes);
	prig_fini(&r);
}

/* One contiguous run of random-sized writes; returns the window moves it took. */
static uint64_t run_moves(struct prig *r, struct fa_rng *rng, uint64_t lo, uint64_t hi, bool desc,
			  uint64_t *src)
{
	uint64_t before = r->win.stats.moves, a = desc ? hi : lo;

	while (desc ? a > lo : a < hi) {
		uint64_t room = (desc ? a - lo : hi - a) / 8;
		uint64_t n = 1 + fa_rng_below(rng, room < 3000 ? room : 3000);
		uint64_t at = desc ? a - 8 * n : a, i;

		switch (fa_rng_below(rng, 3)) {
		case 0:
			cr_assert_eq(fa_pramin_fill64(&r->acc, at, at, 8, n, FA_PRAMIN_HIGH_FIRST), 0);
			break;
		case 1:
			for (i = 0; i < n; i++)
				src[i] = at + 8 * i;
			cr_assert_eq(fa_pramin_copy64(&r->acc, at, src, n, FA_PRAMIN_LOW_FIRST), 0);
			break;
		default: /* entry by entry, in the run's direction */
			for (i = 0; i < n; i++) {
				uint64_t e = desc ? at + 8 * (n - 1 - i) : at + 8 * i;

				cr_assert_eq(fa_pramin_wr64(&r->acc, e, e, FA_PRAMIN_HIGH_FIRST), 0);
			}
			break;
		}
		a = desc ? at : at + 8 * n;
	}
	return r->win.stats.moves - before;
}

Test(pramin, runs_in_either_direction_take_the_fewest_moves)
{
	struct prig r;
	struct fa_rng rng;
	uint64_t *src = (uint64_t *)malloc(3000 * 8), k, runs = fa_test_iters(60);
	const uint64_t g = 64 * KiB;

	cr_assert_not_null(src);
	fa_rng_seed(&rng, fa_test_seed(0x7e57d1e));
	prig_init(&r, FA_PRAMIN_GEN_PBUS, 256 * MiB);
	for (k = 0; k < runs; k++) {
		uint64_t lo = 8 * MiB + fa_rng_below(&rng, 200 * MiB) / 8 * 8;
		uint64_t hi = lo + 8 + fa_rng_below(&rng, 6 * MiB) / 8 * 8;
		uint64_t lo_g = fa_align_down(lo, g), hi_g, want, got;
		bool desc = fa_rng_below(&rng, 2);

		cr_assert_eq(fa_align_up(hi, g, &hi_g), 0);
		/* start far from the run, on the side it comes from */
		fa_pramin_window_forget(&r.win);
		cr_assert_eq(fa_pramin_wr32(&r.acc, desc ? 255 * MiB : 0, 0), 0);
		cr_assert_eq(fa_pramin_wr32(&r.acc, desc ? 255 * MiB + 4 : 4, 0), 0);
		got = run_moves(&r, &rng, lo, hi, desc, src);
		want = ceil_mib(desc ? hi_g - lo : hi - lo_g);
		cr_assert_eq(got, want, "%s run [0x%llx, 0x%llx): %llu moves, minimum %llu",
			     desc ? "descending" : "ascending", (unsigned long long)lo,
			     (unsigned long long)hi, (unsigned long long)got,
			     (unsigned long long)want);
		cr_assert_eq(sim_bar0_peek64(&r.bar, lo), lo);
		cr_assert_eq(sim_bar0_peek64(&r.bar, hi - 8), hi - 8);
	}
	cr_assert_eq(r.bar.stats.torn_valid, 0);
	free(src);
	prig_fini(&r);
}

Test(pramin, single_accesses_follow_the_run_direction)
{
	struct prig r;
	uint64_t a;
	uint32_t v;

	prig_init(&r, FA_PRAMIN_GEN_PBUS, 64 * MiB);
	for (a = 8 * MiB; a < 12 * MiB; a += 8)
		cr_assert_eq(fa_pramin_wr64(&r.acc, a, a, FA_PRAMIN_HIGH_FIRST), 0);
	cr_assert_eq(r.win.stats.moves, 4);
	for (a = 12 * MiB; a > 8 * MiB; a -= 4)
		cr_assert_eq(fa_pramin_rd32(&r.acc, a - 4, &v), 0);
	/* the ascending run left the window at [11, 12) MiB: three more moves down */
	cr_assert_eq(r.win.stats.moves, 4 + 3);
	cr_assert_eq(r.win.stats.reads, 1 * MiB);
	prig_fini(&r);
}

Test(pramin, random_accesses_inside_one_window_never_move_it)
{
	struct prig r;
	struct fa_rng rng;
	const uint64_t wbase = 0x7770000;
	uint64_t i, n = fa_test_iters(20000), base = 0, v64;
	uint32_t v32;

	fa_rng_seed(&rng, fa_test_seed(0x9a3a1));
	prig_init(&r, FA_PRAMIN_GEN_GH100, 256 * MiB);
	cr_assert_eq(fa_pramin_wr32(&r.acc, wbase, 1), 0); /* establishes [wbase, wbase + 1 MiB) */
	cr_assert_eq(r.win.stats.moves, 1);
	for (i = 0; i < n; i++) {
		uint64_t off = fa_rng_below(&rng, MiB / 8) * 8, cnt;

		switch (fa_rng_below(&rng, 6)) {
		case 0:
			cr_assert_eq(fa_pramin_rd32(&r.acc, wbase + off + 4, &v32), 0);
			break;
		case 1:
			cr_assert_eq(fa_pramin_wr32(&r.acc, wbase + off, (uint32_t)i), 0);
			break;
		case 2:
			cr_assert_eq(fa_pramin_rd64(&r.acc, wbase + off, &v64), 0);
			break;
		case 3:
			cr_assert_eq(fa_pramin_wr64(&r.acc, wbase + off, i, FA_PRAMIN_HIGH_FIRST), 0);
			break;
		case 4:
			cnt = 1 + fa_rng_below(&rng, (MiB - off) / 8 < 64 ? (MiB - off) / 8 : 64);
			cr_assert_eq(fa_pramin_fill64(&r.acc, wbase + off, i, 8, cnt,
						      FA_PRAMIN_LOW_FIRST), 0);
			break;
		default:
			cr_assert_eq(fa_pramin_flush(&r.acc), 0);
			break;
		}
	}
	cr_assert_eq(r.win.stats.moves, 1, "random accesses inside the window moved it");
	cr_assert(fa_pramin_window_base(&r.win, &base));
	cr_assert_eq(base, wbase);
	cr_assert_eq(r.bar.stats.window_writes, 1);
	prig_fini(&r);
}

Test(pramin, accesses_at_the_1mib_edge_land_whole)
{
	struct prig r;
	const uint64_t w = 0x2000000;
	uint64_t src[4] = { 0xa0000001a0000002ull, 0xb0000001b0000002ull, 0xc0000001c0000002ull,
			    0xd0000001d0000002ull };
	uint64_t base = 0, v;

	prig_init(&r, FA_PRAMIN_GEN_PBUS, 64 * MiB);
	cr_assert_eq(fa_pramin_wr32(&r.acc, w, 0), 0);
	/* the last entry of the window: no move */
	cr_assert_eq(fa_pramin_wr64(&r.acc, w + MiB - 8, 0x1122334455667788ull, FA_PRAMIN_HIGH_FIRST), 0);
	cr_assert_eq(r.win.stats.moves, 1);
	/* the first entry past it: one move, and both halves land at the right place */
	cr_assert_eq(fa_pramin_wr64(&r.acc, w + MiB, 0x99aabbccddeeff00ull, FA_PRAMIN_HIGH_FIRST), 0);
	cr_assert_eq(r.win.stats.moves, 2);
	cr_assert(fa_pramin_window_base(&r.win, &base));
	cr_assert_eq(base, w + MiB);
	cr_assert_eq(sim_bar0_peek64(&r.bar, w + MiB - 8), 0x1122334455667788ull);
	cr_assert_eq(sim_bar0_peek64(&r.bar, w + MiB), 0x99aabbccddeeff00ull);
	/* a copy straddling the next edge: split across two windows, one move */
	cr_assert_eq(fa_pramin_copy64(&r.acc, w + 2 * MiB - 16, src, 4, FA_PRAMIN_HIGH_FIRST), 0);
	cr_assert_eq(r.win.stats.moves, 3);
	cr_assert_eq(sim_bar0_peek64(&r.bar, w + 2 * MiB - 16), src[0]);
	cr_assert_eq(sim_bar0_peek64(&r.bar, w + 2 * MiB - 8), src[1]);
	cr_assert_eq(sim_bar0_peek64(&r.bar, w + 2 * MiB), src[2]);
	cr_assert_eq(sim_bar0_peek64(&r.bar, w + 2 * MiB + 8), src[3]);
	/* reading back across it goes down: the window is placed to end at the access */
	cr_assert_eq(fa_pramin_rd64(&r.acc, w + MiB - 8, &v), 0);
	cr_assert_eq(v, 0x1122334455667788ull);
	cr_assert(fa_pramin_window_base(&r.win, &base));
	cr_assert_eq(base, w);
	cr_assert_eq(r.bar.stats.errors, 0);
	prig_fini(&r);
}

Test(pramin, reach_limit_of_each_generation)
{
	static const enum fa_pramin_gen_id ids[] = { FA_PRAMIN_GEN_PBUS, FA_PRAMIN_GEN_GH100,
						     FA_PRAMIN_GEN_GB100 };
	static const unsigned int bits[] = { 40, 38, 39 };
	size_t i;

	for (i = 0; i < FA_ARRAY_SIZE(ids); i++) {
		struct stub_hw s;
		struct fa_pramin_hw hw = { NULL, stub_rd32, stub_wr32, &s };
		struct fa_pramin_gen g;
		struct fa_pramin_window w;
		struct fa_pramin_accessor a;
		uint64_t reach = 1ull << bits[i], base = 0;

		memset(&s, 0, sizeof(s));
		fa_pramin_gen_get(ids[i], &g);
		/* more VRAM than the register reaches: the reach is the limit */
		cr_assert_eq(fa_pramin_window_init(&w, &hw, &g, reach * 2, &a), 0);
		cr_assert_eq(fa_pramin_wr64(&a, reach - 8, 1, FA_PRAMIN_HIGH_FIRST), 0);
		cr_assert_eq(s.last_reg_val, (uint32_t)((reach - 64 * KiB) >> 16));
		cr_assert_eq(s.last_reg_val, (1u << (bits[i] - 16)) - 1, "top of the base field");
		cr_assert_eq(fa_pramin_fill64(&a, reach - 4 * KiB, 0, 0, 512, FA_PRAMIN_ORDER_ANY), 0);
		cr_assert_eq(w.stats.moves, 1);
		fa_pramin_window_stats_reset(&w);
		s.reg_writes = s.data_writes = 0;
		cr_assert_eq(fa_pramin_wr64(&a, reach, 1, FA_PRAMIN_HIGH_FIRST), -FA_EFAULT);
		cr_assert_eq(fa_pramin_wr32(&a, reach + 4, 1), -FA_EFAULT);
		cr_assert_eq(fa_pramin_fill64(&a, reach - 8, 0, 0, 2, FA_PRAMIN_ORDER_ANY), -FA_EFAULT);
		cr_assert_eq(fa_pramin_fill32(&a, reach - 4 * KiB, 0, 1025), -FA_EFAULT);
		cr_assert_eq(s.reg_writes + s.data_writes, 0, "nothing may reach the hardware");
		cr_assert_eq(w.stats.moves + w.stats.writes, 0);
		cr_assert(fa_pramin_window_base(&w, &base));
		cr_assert_eq(base, reach - 64 * KiB, "the window stays where it was");

		/* less VRAM than the reach: the VRAM size is the limit */
		cr_assert_eq(fa_pramin_window_init(&w, &hw, &g, 3 * MiB, &a), 0);
		cr_assert_eq(fa_pramin_wr64(&a, 3 * MiB - 8, 1, FA_PRAMIN_HIGH_FIRST), 0);
		cr_assert_eq(fa_pramin_wr64(&a, 3 * MiB, 1, FA_PRAMIN_HIGH_FIRST), -FA_ERANGE);
	}
}

Test(pramin, sixteen_gib_of_vram_costs_only_what_is_touched)
{
	struct prig r;
	uint64_t v = 0;

	prig_init(&r, FA_PRAMIN_GEN_PBUS, 16ull << 30);
	cr_assert_eq(fa_pramin_wr64(&r.acc, (16ull << 30) - 8, 0xfeed, FA_PRAMIN_HIGH_FIRST), 0);
	cr_assert_eq(fa_pramin_wr64(&r.acc, 0, 0xbeef, FA_PRAMIN_HIGH_FIRST), 0);
	cr_assert_eq(fa_pramin_rd64(&r.acc, (16ull << 30) - 8, &v), 0);
	cr_assert_eq(v, 0xfeed);
	cr_assert_eq(sim_bar0_peek64(&r.bar, 0), 0xbeef);
	cr_assert_eq(fa_pramin_wr64(&r.acc, 16ull << 30, 1, FA_PRAMIN_HIGH_FIRST), -FA_ERANGE);
	prig_fini(&r);
}

/* -------------------------------------------------------- half ordering */

static void assert_write(const struct sim_bar0 *b, size_t i, uint64_t vram, uint32_t val)
{
	cr_assert_lt(i, b->log_len);
	cr_assert(b->log[i].write, "log[%zu] is a read", i);
	cr_assert_eq(b->log[i].vram, vram, "log[%zu] at 0x%llx, want 0x%llx", i,
		     (unsigned long long)b->log[i].vram, (unsigned long long)vram);
	cr_assert_eq(b->log[i].val, val, "log[%zu] = 0x%x, want 0x%x", i, b->log[i].val, val);
}

Test(pramin, ordering_hints_give_the_documented_half_order)
{
	struct prig r;
	const uint64_t e = 0x100000 + 0x40;
	uint64_t src[2] = { 0x0000000200000003ull, 0x0000000400000005ull };
	size_t i;

	prig_init(&r, FA_PRAMIN_GEN_PBUS, 8 * MiB);
	cr_assert_eq(fa_pramin_wr32(&r.acc, 0x100000, 0), 0); /* place the window */
	cr_assert_eq(sim_bar0_log_enable(&r.bar, 64), 0);

	cr_assert_eq(fa_pramin_wr64(&r.acc, e, 0xAAAAAAAA00000001ull, FA_PRAMIN_HIGH_FIRST), 0);
	assert_write(&r.bar, 0, e + 4, 0xAAAAAAAA);
	assert_write(&r.bar, 1, e, 0x00000001);
	cr_assert_eq(fa_pramin_wr64(&r.acc, e, 0xBBBBBBBB00000000ull, FA_PRAMIN_LOW_FIRST), 0);
	assert_write(&r.bar, 2, e, 0x00000000);
	assert_write(&r.bar, 3, e + 4, 0xBBBBBBBB);
	cr_assert_eq(fa_pramin_wr64(&r.acc, e, 0xCCCCCCCC00000002ull, FA_PRAMIN_ORDER_ANY), 0);
	assert_write(&r.bar, 4, e, 0x00000002);
	assert_write(&r.bar, 5, e + 4, 0xCCCCCCCC);
	cr_assert_eq(r.bar.log_len, 6);

	sim_bar0_log_clear(&r.bar);
	cr_assert_eq(fa_pramin_fill64(&r.acc, e, 0x100000001ull, 0x100000001ull, 3,
				      FA_PRAMIN_HIGH_FIRST), 0);
	for (i = 0; i < 3; i++) {
		assert_write(&r.bar, 2 * i, e + 8 * i + 4, (uint32_t)(i + 1));
		assert_write(&r.bar, 2 * i + 1, e + 8 * i, (uint32_t)(i + 1));
	}
	sim_bar0_log_clear(&r.bar);
	cr_assert_eq(fa_pramin_copy64(&r.acc, e, src, 2, FA_PRAMIN_LOW_FIRST), 0);
	assert_write(&r.bar, 0, e, 3);
	assert_write(&r.bar, 1, e + 4, 2);
	assert_write(&r.bar, 2, e + 8, 5);
	assert_write(&r.bar, 3, e + 12, 4);
	cr_assert_eq(r.bar.log_len, 4);
	prig_fini(&r);
}

Test(pramin, torn_entry_checker_flags_only_unsafe_orders)
{
	struct prig r;
	const uint64_t e = 0x200000;
	const uint64_t pte_a = 0x0000001200345001ull, pte_b = 0x0000003400678001ull;

	prig_init(&r, FA_PRAMIN_GEN_PBUS, 8 * MiB);
	/* map an invalid entry high-first, unmap low-first: never torn */
	cr_assert_eq(fa_pramin_wr64(&r.acc, e, pte_a, FA_PRAMIN_HIGH_FIRST), 0);
	cr_assert_eq(fa_pramin_wr64(&r.acc, e, 0, FA_PRAMIN_LOW_FIRST), 0);
	cr_assert_eq(fa_pramin_fill64(&r.acc, e, pte_a, 0x1000, 512, FA_PRAMIN_HIGH_FIRST), 0);
	cr_assert_eq(fa_pramin_fill64(&r.acc, e, 0, 0, 512, FA_PRAMIN_LOW_FIRST), 0);
	cr_assert_eq(r.bar.stats.torn_valid, 0);

	/* map low-first: VALID with a stale high half was observable */
	cr_assert_eq(fa_pramin_wr64(&r.acc, e + 8, 0x0000009900000000ull, FA_PRAMIN_ORDER_ANY), 0);
	cr_assert_eq(fa_pramin_wr64(&r.acc, e + 8, pte_b, FA_PRAMIN_LOW_FIRST), 0);
	cr_assert_eq(r.bar.stats.torn_valid, 1);
	cr_assert_eq(r.bar.first_torn.slot, e + 8);
	cr_assert_eq(r.bar.first_torn.mid, 0x0000009900678001ull);
	/* unmap high-first: VALID still set with the new high half */
	cr_assert_eq(fa_pramin_wr64(&r.acc, e + 8, 0x0000005600000000ull, FA_PRAMIN_HIGH_FIRST), 0);
	cr_assert_eq(r.bar.stats.torn_valid, 2);
	/* rewriting a live entry with the same high half is not torn in either order */
	cr_assert_eq(fa_pramin_wr64(&r.acc, e, pte_a, FA_PRAMIN_HIGH_FIRST), 0);
	cr_assert_eq(fa_pramin_wr64(&r.acc, e, pte_a + 0x1000, FA_PRAMIN_LOW_FIRST), 0);
	cr_assert_eq(r.bar.stats.torn_valid, 2);
	prig_fini(&r);
}

Test(pramin, torn_entry_checker_tracks_split_passes_over_a_whole_table)
{
	struct prig r;
	const uint64_t t = 0x300000;
	uint64_t i;

	prig_init(&r, FA_PRAMIN_GEN_GH100, 8 * MiB);
	/* a safe map of a whole table in two passes: every high half, then every low half */
	for (i = 0; i < 512; i++)
		cr_assert_eq(fa_pramin_wr32(&r.acc, t + 8 * i + 4, (uint32_t)i + 1), 0);
	for (i = 0; i < 512; i++)
		cr_assert_eq(fa_pramin_wr32(&r.acc, t + 8 * i, 0x1001), 0);
	cr_assert_eq(r.bar.stats.torn_valid, 0);
	cr_assert_eq(r.bar.stats.torn_untracked, 0);
	/* the same two passes over live entries: each one was torn */
	for (i = 0; i < 512; i++)
		cr_assert_eq(fa_pramin_wr32(&r.acc, t + 8 * i + 4, (uint32_t)i + 1000), 0);
	for (i = 0; i < 512; i++)
		cr_assert_eq(fa_pramin_wr32(&r.acc, t + 8 * i, 0x2001), 0);
	cr_assert_eq(r.bar.stats.torn_valid, 512);
	cr_assert_eq(r.bar.first_torn.slot, t);
	cr_assert_eq(r.bar.first_torn.mid, (1000ull << 32) | 0x1001);
	cr_assert_eq(r.bar.stats.torn_untracked, 0);
	prig_fini(&r);
}

/* ----------------------------------------------------------------- flush */

Test(pramin, flush_is_exactly_one_read_and_never_moves)
{
	struct prig r;
	struct fa_pramin_window_stats before;
	uint64_t base = 0;

	prig_init(&r, FA_PRAMIN_GEN_GH100, 8 * MiB);
	cr_assert_eq(sim_bar0_log_enable(&r.bar, 8), 0);
	cr_assert_eq(fa_pramin_flush(&r.acc), 0); /* even before any window was set */
	cr_assert_eq(r.bar.stats.reads, 1);
	cr_assert_eq(r.bar.stats.writes, 0);
	cr_assert_eq(fa_pramin_fill64(&r.acc, 5 * MiB, 1, 0, 1000, FA_PRAMIN_HIGH_FIRST), 0);
	before = r.win.stats;
	sim_bar0_log_clear(&r.bar);
	cr_assert_eq(fa_pramin_flush(&r.acc), 0);
	cr_assert_eq(r.bar.log_len, 1);
	cr_assert_not(r.bar.log[0].write);
	cr_assert_eq(r.bar.log[0].off, FA_PRAMIN_APERTURE);
	cr_assert_eq(r.win.stats.reads, before.reads + 1);
	cr_assert_eq(r.win.stats.flushes, before.flushes + 1);
	cr_assert_eq(r.win.stats.writes, before.writes);
	cr_assert_eq(r.win.stats.moves, before.moves);
	cr_assert(fa_pramin_window_base(&r.win, &base));
	cr_assert_eq(base, 5 * MiB);
	prig_fini(&r);
}

Test(pramin, forget_makes_the_next_access_reprogram_the_register)
{
	struct prig r;
	uint64_t base = 0;

	prig_init(&r, FA_PRAMIN_GEN_PBUS, 8 * MiB);
	cr_assert_eq(fa_pramin_wr32(&r.acc, 0x10000, 1), 0);
	cr_assert_eq(fa_pramin_wr32(&r.acc, 0x10004, 1), 0);
	cr_assert_eq(r.bar.stats.window_writes, 1);
	/* someone else (resume, other code) moved the register behind our back */
	sim_bar0_wr32(&r.bar, FA_PRAMIN_REG_PBUS_BAR0_WINDOW, 0x50);
	fa_pramin_window_forget(&r.win);
	cr_assert_not(fa_pramin_window_base(&r.win, &base));
	cr_assert_eq(fa_pramin_wr32(&r.acc, 0x10008, 0x77), 0);
	cr_assert_eq(r.bar.window_base, 0x10000);
	cr_assert_eq(r.win.stats.moves, 2);
	cr_assert_eq(sim_bar0_peek64(&r.bar, 0x10008) & 0xffffffffu, 0x77);
	prig_fini(&r);
}

/* ------------------------------------------------------------ bad input */

Test(pramin, bad_input_is_rejected_and_leaves_everything_as_it_was)
{
	struct prig r;
	struct fa_pramin_window_stats st;
	uint64_t src[2] = { 1, 2 }, base = 0, v64 = 0x5a5a, vram_size = 16 * MiB;
	uint32_t v32 = 0x5a5a;
	unsigned char *snap;
	size_t log_len;

	prig_init(&r, FA_PRAMIN_GEN_PBUS, vram_size);
	cr_assert_eq(fa_pramin_fill64(&r.acc, 3 * MiB, 0x1001, 0x1000, 4096, FA_PRAMIN_HIGH_FIRST), 0);
	cr_assert_eq(sim_bar0_log_enable(&r.bar, 64), 0);
	snap = (unsigned char *)malloc(vram_size);
	cr_assert_not_null(snap);
	memcpy(snap, sim_bar0_vram(&r.bar), vram_size);
	st = r.win.stats;

	cr_assert_eq(fa_pramin_wr32(&r.acc, 3 * MiB + 2, 1), -FA_EINVAL);
	cr_assert_eq(fa_pramin_rd32(&r.acc, 3 * MiB + 1, &v32), -FA_EINVAL);
	cr_assert_eq(fa_pramin_wr64(&r.acc, 9 * MiB + 4, 1, FA_PRAMIN_HIGH_FIRST), -FA_EINVAL);
	cr_assert_eq(fa_pramin_rd64(&r.acc, 9 * MiB + 4, &v64), -FA_EINVAL);
	cr_assert_eq(fa_pramin_rd64(&r.acc, 9 * MiB, NULL), -FA_EINVAL);
	cr_assert_eq(fa_pramin_rd32(&r.acc, 9 * MiB, NULL), -FA_EINVAL);
	cr_assert_eq(fa_pramin_fill32(&r.acc, 9 * MiB, 1, 0), -FA_EINVAL);
	cr_assert_eq(fa_pramin_fill64(&r.acc, 9 * MiB, 1, 1, 0, FA_PRAMIN_HIGH_FIRST), -FA_EINVAL);
	cr_assert_eq(fa_pramin_copy64(&r.acc, 9 * MiB, src, 0, FA_PRAMIN_HIGH_FIRST), -FA_EINVAL);
	cr_assert_eq(fa_pramin_copy64(&r.acc, 9 * MiB, NULL, 2, FA_PRAMIN_HIGH_FIRST), -FA_EINVAL);
	cr_assert_eq(fa_pramin_fill64(&r.acc, 8, 1, 1, FA_U64_MAX / 8, FA_PRAMIN_ORDER_ANY), -FA_EINVAL);
	cr_assert_eq(fa_pramin_fill64(&r.acc, FA_U64_MAX - 7, 1, 1, 2, FA_PRAMIN_ORDER_ANY), -FA_EINVAL);
	cr_assert_eq(fa_pramin_fill32(&r.acc, 0, 1, FA_U64_MAX / 2), -FA_EINVAL);
	cr_assert_eq(fa_pramin_wr64(&r.acc, vram_size, 1, FA_PRAMIN_HIGH_FIRST), -FA_ERANGE);
	cr_assert_eq(fa_pramin_wr32(&r.acc, vram_size, 1), -FA_ERANGE);
	cr_assert_eq(fa_pramin_fill64(&r.acc, vram_size - 64, 1, 1, 9, FA_PRAMIN_ORDER_ANY), -FA_ERANGE);
	cr_assert_eq(fa_pramin_copy64(&r.acc, vram_size - 8, src, 2, FA_PRAMIN_ORDER_ANY), -FA_ERANGE);
	cr_assert_eq(fa_pramin_fill32(&r.acc, 1ull << 40, 1, 1), -FA_EFAULT);
	cr_assert_eq(fa_pramin_rd64(&r.acc, 1ull << 41, &v64), -FA_EFAULT);

	cr_assert_eq(v32, 0x5a5a);
	cr_assert_eq(v64, 0x5a5a);
	cr_assert_eq(r.bar.log_len, 0, "a rejected op touched BAR0");
	cr_assert_eq(memcmp(&st, &r.win.stats, sizeof(st)), 0, "counters changed");
	cr_assert(fa_pramin_window_base(&r.win, &base));
	cr_assert_eq(base, 3 * MiB);
	cr_assert_eq(memcmp(snap, sim_bar0_vram(&r.bar), vram_size), 0, "VRAM changed");
	/* and the window still works from where it was: no move needed */
	log_len = r.bar.log_len;
	cr_assert_eq(fa_pramin_rd64(&r.acc, 3 * MiB + 8, &v64), 0);
	cr_assert_eq(v64, 0x2001);
	cr_assert_eq(r.bar.log_len, log_len + 2);
	cr_assert_eq(r.win.stats.moves, st.moves);
	free(snap);
	prig_fini(&r);
}

/* ------------------------------------------------------------ sim itself */

static bool hook_reg(void *ctx, uint32_t off, uint32_t *val, bool write)
{
	uint32_t *reg = (uint32_t *)ctx;

	if (off != 0xB830B0)
		return false;
	if (write)
		*reg = *val;
	else
		*val = *reg;
	return true;
}

Test(pramin, sim_bar0_routes_registers_and_counts_errors)
{
	struct sim_bar0 b;
	uint32_t reg = 0;

	cr_assert_eq(sim_bar0_init(&b, 0, NULL), -FA_EINVAL);
	cr_assert_eq(sim_bar0_init(&b, MiB + 4, NULL), -FA_EINVAL);
	cr_assert_eq(sim_bar0_init(&b, 2 * MiB, NULL), 0);
	cr_assert_eq(sim_bar0_rd32(&b, 0x88000), SIM_BAR0_BAD_READ);
	cr_assert_eq(b.stats.unknown, 1);
	sim_bar0_set_reg_hook(&b, hook_reg, &reg);
	sim_bar0_wr32(&b, 0xB830B0, 0x80000001u);
	cr_assert_eq(reg, 0x80000001u);
	cr_assert_eq(sim_bar0_rd32(&b, 0xB830B0), 0x80000001u);
	cr_assert_eq(b.stats.unknown, 1);
	sim_bar0_wr32(&b, 0x1700, 0x10); /* window at 1 MiB: [1, 2) MiB is VRAM */
	sim_bar0_wr32(&b, 0x700000 + 0xFFFFC, 0x1234);
	cr_assert_eq(b.stats.errors, 0);
	cr_assert_eq(sim_bar0_rd32(&b, 0x1700), 0x10);
	sim_bar0_wr32(&b, 0x1700, 0x20); /* [2, 3) MiB: beyond VRAM */
	cr_assert_eq(sim_bar0_rd32(&b, 0x700000), 0xFFFFFFFFu);
	sim_bar0_wr32(&b, 0x700000, 1);
	cr_assert_eq(b.stats.errors, 2);
	sim_bar0_wr32(&b, 0x1700, (3u << 24)); /* TARGET = SYS_MEM_NONCOHERENT: not simulated */
	cr_assert_eq(b.stats.errors, 3);
	cr_assert_eq(sim_bar0_rd32(&b, 0x700002), 0xFFFFFFFFu);
	cr_assert_eq(b.stats.errors, 4);
	cr_assert_eq(sim_bar0_peek64(&b, 2 * MiB - 8), 0x1234ull << 32);
	sim_bar0_fini(&b);
}

/* ------------------------------------------------------------ model test */

#define MODEL_VRAM (6 * MiB)
#define MODEL_MAX_N 300

/* One random op applied to both accessors; return codes and reads must agree. */
static void model_step(struct fa_rng *rng, const struct fa_pramin_accessor *win,
		       const struct fa_pramin_accessor *dir, uint64_t *src)
{
	uint64_t hot = fa_rng_below(rng, 4) == 0 ? fa_rng_below(rng, MODEL_VRAM + 64)
						 : (fa_rng_below(rng, 6) * MiB + MiB - 512 +
						    fa_rng_below(rng, 1024));
	uint64_t addr = hot & ~(uint64_t)(fa_rng_below(rng, 16) == 0 ? 0 : 7);
	uint64_t n = fa_rng_below(rng, 8) == 0 ? 0 : 1 + fa_rng_below(rng, MODEL_MAX_N);
	uint64_t val = fa_rng_next(rng), step = fa_rng_next(rng) >> fa_rng_below(rng, 64);
	uint64_t a64 = 0, b64 = 1, i;
	uint32_t a32 = 0, b32 = 1;
	enum fa_pramin_order ord = (enum fa_pramin_order)fa_rng_below(rng, 3);
	int ea, eb;

	switch (fa_rng_below(rng, 8)) {
	case 0:
		ea = fa_pramin_rd32(win, addr, &a32);
		eb = fa_pramin_rd32(dir, addr, &b32);
		cr_assert_eq(ea, eb);
		if (!ea)
			cr_assert_eq(a32, b32, "rd32 0x%llx", (unsigned long long)addr);
		return;
	case 1:
		ea = fa_pramin_wr32(win, addr, (uint32_t)val);
		eb = fa_pramin_wr32(dir, addr, (uint32_t)val);
		break;
	case 2:
		ea = fa_pramin_rd64(win, addr, &a64);
		eb = fa_pramin_rd64(dir, addr, &b64);
		cr_assert_eq(ea, eb);
		if (!ea)
			cr_assert_eq(a64, b64, "rd64 0x%llx", (unsigned long long)addr);
		return;
	case 3:
		ea = fa_pramin_wr64(win, addr, val, ord);
		eb = fa_pramin_wr64(dir, addr, val, ord);
		break;
	case 4:
		ea = fa_pramin_fill32(win, addr, (uint32_t)val, n);
		eb = fa_pramin_fill32(dir, addr, (uint32_t)val, n);
		break;
	case 5:
		ea = fa_pramin_fill64(win, addr, val, step, n, ord);
		eb = fa_pramin_fill64(dir, addr, val, step, n, ord);
		break;
	case 6:
		for (i = 0; i < n; i++)
			src[i] = fa_rng_next(rng);
		ea = fa_pramin_copy64(win, addr, src, n, ord);
		eb = fa_pramin_copy64(dir, addr, src, n, ord);
		break;
	default:
		ea = fa_pramin_flush(win);
		eb = fa_pramin_flush(dir);
		break;
	}
	cr_assert_eq(ea, eb, "op result differs at 0x%llx n %llu: %d vs %d", (unsigned long long)addr,
		     (unsigned long long)n, ea, eb);
}

Test(pramin, window_matches_direct_on_random_operation_sequences)
{
	struct prig r;
	struct fa_pramin_direct d;
	struct fa_pramin_accessor dacc;
	struct fa_rng rng;
	uint64_t *ref = (uint64_t *)calloc(MODEL_VRAM / 8, 8), *src = (uint64_t *)malloc(MODEL_MAX_N * 8);
	uint64_t seed = fa_test_seed(0x5eed9a3a), round, rounds = fa_test_iters(40), i;

	cr_assert(ref && src);
	prig_init(&r, FA_PRAMIN_GEN_GH100, MODEL_VRAM);
	r.bar.check_torn = false; /* random values: tearing is not the point here */
	cr_assert_eq(fa_pramin_direct_init(&d, ref, 0, MODEL_VRAM, &dacc), 0);
	fa_rng_seed(&rng, seed);
	for (round = 0; round < rounds; round++) {
		for (i = 0; i < 500; i++)
			model_step(&rng, &r.acc, &dacc, src);
		cr_assert_eq(memcmp(ref, sim_bar0_vram(&r.bar), MODEL_VRAM), 0,
			     "VRAM differs after round %llu (seed 0x%llx)", (unsigned long long)round,
			     (unsigned long long)seed);
	}
	cr_assert_eq(r.bar.stats.errors, 0, "the window accessed outside VRAM");
	cr_assert_leq(r.win.stats.moves, rounds * 500);
	free(ref);
	free(src);
	prig_fini(&r);
}
