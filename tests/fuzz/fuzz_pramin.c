/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the PRAMIN window accessor against the direct accessor
 * (the model: a plain buffer as big as VRAM). The input describes a
 * generation (granule 4 KiB .. 64 KiB, aperture 2 granules .. 1 MiB, a base
 * field wide enough or not to reach all of VRAM) and a VRAM size, then runs
 * reads, writes, fills, copies, flushes and forgets at addresses clustered
 * around aperture-sized boundaries, the end of VRAM and the reach. Every op
 * must return what the range rules say (-FA_EINVAL, -FA_EFAULT beyond the
 * reach, -FA_ERANGE beyond VRAM) and, when it succeeds, read and write
 * exactly what the direct accessor does; a refused op touches nothing (no
 * MMIO, no counter); the window never reaches outside VRAM, moves at most
 * once per aperture's worth of bytes plus one, keeps a granule-aligned base
 * below the reach, and a flush is exactly one read.
 */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include "fa_test.h"
#define FZ_NAME "pramin"
#include "fz_input.h"
#include <fencealloc/pramin.h>
#include <sim/sim_bar0.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FZ_MAX_N 300

static unsigned long fz_step;

struct fz {
	struct sim_bar0 bar;
	struct fa_pramin_gen gen;
	struct fa_pramin_hw hw;
	struct fa_pramin_window win;
	struct fa_pramin_accessor wa, da;
	struct fa_pramin_direct dir;
	uint64_t *ref;
	uint64_t vram, reach;
	uint64_t src[FZ_MAX_N];
};

/* What the range rules say an access of n elements of 2^shift bytes gets. */
static int fz_expect(const struct fz *z, uint64_t addr, uint64_t n, unsigned int shift)
{
	uint64_t end;

	if (n == 0 || (addr & ((1ull << shift) - 1)) || n > (~0ull >> shift) ||
	    fa_add_overflow(addr, n << shift, &end))
		return -FA_EINVAL;
	if (end > z->reach)
		return -FA_EFAULT;
	if (end > z->vram)
		return -FA_ERANGE;
	return 0;
}

static uint64_t fz_addr(struct fz_in *in, const struct fz *z)
{
	unsigned int how = fz_byte(in) % 5;
	uint64_t ap = z->gen.aperture_size, off = fz_u16(in) % 2048;
	uint64_t a;

	switch (how) {
	case 0: /* around an aperture-sized boundary inside VRAM */
		a = (fz_u16(in) % (z->vram / ap + 1)) * ap + off - 1024;
		break;
	case 1: /* around the end of VRAM */
		a = z->vram + off - 1536;
		break;
	case 2: /* around the reach */
		a = z->reach + off - 1536;
		break;
	case 3: /* anywhere in VRAM */
		a = (fz_u16(in) << 16 | fz_u16(in)) % (z->vram + 64);
		break;
	default: /* near 2^64: the range overflows */
		a = ~0ull - off;
		break;
	}
	if (fz_byte(in) % 16)
		a &= ~7ull; /* mostly aligned */
	return a;
}

static void fz_op(struct fz_in *in, struct fz *z)
{
	unsigned int op = fz_byte(in) % 10;
	uint64_t addr = fz_addr(in, z);
	uint64_t n = (fz_byte(in) % 8) ? 1 + fz_u16(in) % FZ_MAX_N : 0;
	uint64_t val = fz_u16(in) * 0x9E3779B97F4A7C15ull, step = fz_u16(in) << (fz_byte(in) % 48);
	enum fa_pramin_order ord = (enum fa_pramin_order)(fz_byte(in) % 3);
	struct fa_pramin_window_stats s0 = z->win.stats;
	uint64_t bw0 = z->bar.stats.writes, br0 = z->bar.stats.reads, base, i, bytes = 0;
	uint64_t a64 = 1, b64 = 2;
	uint32_t a32 = 1, b32 = 2;
	int want = 0, ea = 0, eb = 0;
	bool access = true;

	switch (op) {
	case 0:
		want = fz_expect(z, addr, 1, 2);
		ea = fa_pramin_rd32(&z->wa, addr, &a32);
		if (want != -FA_EFAULT) {
			eb = fa_pramin_rd32(&z->da, addr, &b32);
			FZ_CHECK(ea != 0 || a32 == b32);
		}
		bytes = 4;
		break;
	case 1:
		want = fz_expect(z, addr, 1, 2);
		ea = fa_pramin_wr32(&z->wa, addr, (uint32_t)val);
		if (want != -FA_EFAULT)
			eb = fa_pramin_wr32(&z->da, addr, (uint32_t)val);
		bytes = 4;
		break;
	case 2:
		want = fz_expect(z, addr, 1, 3);
		ea = fa_pramin_rd64(&z->wa, addr, &a64);
		if (want != -FA_EFAULT) {
			eb = fa_pramin_rd64(&z->da, addr, &b64);
			FZ_CHECK(ea != 0 || a64 == b64);
		}
		bytes = 8;
		break;
	case 3:
		want = fz_expect(z, addr, 1, 3);
		ea = fa_pramin_wr64(&z->wa, addr, val, ord);
		if (want != -FA_EFAULT)
			eb = fa_pramin_wr64(&z->da, addr, val, ord);
		bytes = 8;
		break;
	case 4:
		want = fz_expect(z, addr, n, 2);
		ea = fa_pramin_fill32(&z->wa, addr, (uint32_t)val, n);
		if (want != -FA_EFAULT)
			eb = fa_pramin_fill32(&z->da, addr, (uint32_t)val, n);
		bytes = n * 4;
		break;
	case 5:
		want = fz_expect(z, addr, n, 3);
		ea = fa_pramin_fill64(&z->wa, addr, val, step, n, ord);
		if (want != -FA_EFAULT)
			eb = fa_pramin_fill64(&z->da, addr, val, step, n, ord);
		bytes = n * 8;
		break;
	case 6:
		for (i = 0; i < n; i++)
			z->src[i] = val + i * step;
		want = fz_expect(z, addr, n, 3);
		ea = fa_pramin_copy64(&z->wa, addr, z->src, n, ord);
		if (want != -FA_EFAULT)
			eb = fa_pramin_copy64(&z->da, addr, z->src, n, ord);
		bytes = n * 8;
		break;
	case 7:
		access = false;
		FZ_CHECK(fa_pramin_flush(&z->wa) == 0);
		FZ_CHECK(z->win.stats.flushes == s0.flushes + 1);
		FZ_CHECK(z->win.stats.reads == s0.reads + 1);
		FZ_CHECK(z->win.stats.writes == s0.writes);
		break;
	case 8:
		access = false;
		fa_pramin_window_forget(&z->win);
		FZ_CHECK(!fa_pramin_window_base(&z->win, &base));
		break;
	default: /* misuse: NULL arguments are refused and change nothing */
		access = false;
		FZ_CHECK(fa_pramin_rd32(&z->wa, 0, NULL) == -FA_EINVAL);
		FZ_CHECK(fa_pramin_rd64(&z->wa, 0, NULL) == -FA_EINVAL);
		FZ_CHECK(fa_pramin_copy64(&z->wa, 0, NULL, 1, ord) == -FA_EINVAL);
		FZ_CHECK(fa_pramin_wr32(NULL, 0, 0) == -FA_EINVAL);
		FZ_CHECK(z->win.stats.moves == s0.moves && z->win.stats.writes == s0.writes &&
			 z->win.stats.reads == s0.reads);
		FZ_CHECK(z->bar.stats.writes == bw0 && z->bar.stats.reads == br0);
		break;
	}
	if (!access)
		return;
	FZ_CHECK(ea == want);
	if (want != -FA_EFAULT)
		FZ_CHECK(eb == want);
	if (ea) {
		/* refused: nothing touched */
		FZ_CHECK(z->win.stats.moves == s0.moves && z->win.stats.writes == s0.writes &&
			 z->win.stats.reads == s0.reads);
		FZ_CHECK(z->bar.stats.writes == bw0 && z->bar.stats.reads == br0);
		return;
	}
	/* one move per aperture's worth of bytes (less a granule of slack), plus one */
	FZ_CHECK(z->win.stats.moves - s0.moves <=
		 bytes / (z->gen.aperture_size - (1ull << z->gen.base_shift)) + 1);
	FZ_CHECK(fa_pramin_window_base(&z->win, &base));
	FZ_CHECK(fa_pramin_window_base(&z->win, NULL));
	FZ_CHECK((base & ((1ull << z->gen.base_shift) - 1)) == 0 && base < z->reach);
	FZ_CHECK(z->bar.stats.errors == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz z;
	struct fz_in in = { data, size };
	unsigned int shift = 12 + fz_byte(&in) % 5, ap_log2, bits;

	fz_step = 0;
	memset(&z, 0, sizeof(z));
	FZ_CHECK(fa_pramin_gen_get(FA_PRAMIN_GEN_PBUS, &z.gen) == 0);
	ap_log2 = shift + 1 + fz_byte(&in) % (20 - shift);      /* 2 granules .. 1 MiB */
	bits = 1 + fz_byte(&in) % (26 - shift);                  /* reach 2^13 .. 2^26 */
	z.gen.base_shift = shift;
	z.gen.base_bits = bits;
	z.gen.aperture_size = 1u << ap_log2;
	z.reach = 1ull << (shift + bits);
	z.vram = (1 + fz_u16(&in) % 96) << 15;                   /* 32 KiB .. 3 MiB */
	if (fz_byte(&in) & 1)
		z.vram += 8 * (fz_byte(&in) + 1);                /* not a granule multiple */
	FZ_CHECK(fa_pramin_gen_reach(&z.gen) == z.reach);
	FZ_CHECK(sim_bar0_init(&z.bar, z.vram, &z.gen) == 0);
	z.bar.check_torn = false; /* values are arbitrary: tearing is not the point here */
	sim_bar0_pramin_hw(&z.bar, &z.hw);
	FZ_CHECK(fa_pramin_window_init(&z.win, &z.hw, &z.gen, z.vram, &z.wa) == 0);
	z.ref = (uint64_t *)calloc(1, (size_t)z.vram);
	FZ_CHECK(z.ref != NULL);
	FZ_CHECK(fa_pramin_direct_init(&z.dir, z.ref, 0, z.vram, &z.da) == 0);
	while (in.n > 0 && fz_step < 400) {
		fz_step++;
		fz_op(&in, &z);
	}
	FZ_CHECK(memcmp(z.ref, sim_bar0_vram(&z.bar), (size_t)z.vram) == 0);
	FZ_CHECK(z.bar.stats.errors == 0);
	free(z.ref);
	sim_bar0_fini(&z.bar);
	return 0;
}
