/* SPDX-License-Identifier: MIT */
/*
 * Format descriptors and PTE/PDE encoders/decoders: known bit patterns from
 * the documented layouts, randomized encode/decode round trips on every level
 * of every built-in format, special encodings, descriptor validation.
 */
#include "fa_test.h"
#include "fa_rng.h"

#include <criterion/criterion.h>
#include <string.h>

#include <fencealloc/pt_formats.h>

static uint64_t pte_of(const struct fa_pt_format *f, unsigned int l, uint64_t pa, uint32_t attr)
{
	return fa_pt_pte_encode(f, l, pa, attr);
}

static void decode1(const struct fa_pt_format *f, unsigned int l, uint64_t lo, uint64_t hi,
		    struct fa_pt_entry *e)
{
	uint64_t raw[2];

	raw[0] = lo;
	raw[1] = hi;
	fa_pt_entry_decode(f, l, raw, e);
}

Test(pt_formats, builtins_validate)
{
	cr_assert_eq(fa_pt_format_validate(fa_pt_format_nv_ver2()), 0);
	cr_assert_eq(fa_pt_format_validate(fa_pt_format_nv_ver3()), 0);
	cr_assert_eq(fa_pt_format_validate(fa_pt_format_x86_64()), 0);
	cr_assert_eq(fa_pt_format_nv_ver2()->nlevels, 6);
	cr_assert_eq(fa_pt_format_nv_ver3()->nlevels, 7);
	cr_assert_eq(fa_pt_level_bytes(fa_pt_format_nv_ver2(), FA_PT_NV2_LVL_PT_BIG), 256);
	cr_assert_eq(fa_pt_level_bytes(fa_pt_format_nv_ver2(), FA_PT_NV2_LVL_PT_SMALL), 4096);
	cr_assert_eq(fa_pt_level_bytes(fa_pt_format_nv_ver2(), FA_PT_NV2_LVL_PD0), 4096);
	cr_assert_eq(fa_pt_level_entries(fa_pt_format_nv_ver2(), FA_PT_NV2_LVL_PD0), 256);
	cr_assert_eq(fa_pt_level_bytes(fa_pt_format_nv_ver2(), FA_PT_NV2_LVL_PD3), 32);
	cr_assert_eq(fa_pt_level_bytes(fa_pt_format_nv_ver3(), FA_PT_NV3_LVL_PD4), 16);
	cr_assert_eq(fa_pt_page_index(fa_pt_format_nv_ver2(), 1ull << 29), 3);
	cr_assert_eq(fa_pt_page_index(fa_pt_format_nv_ver2(), 1ull << 30), -1);
	cr_assert_eq(fa_pt_page_index(fa_pt_format_x86_64(), 1ull << 30), 2);
	cr_assert_eq(fa_pt_page_index(fa_pt_format_x86_64(), 1ull << 16), -1);
}

Test(pt_formats, validate_rejects_broken)
{
	struct fa_pt_format f;

	memcpy(&f, fa_pt_format_nv_ver2(), sizeof(f));
	f.level[2].shift = 28; /* gap between PD1 and PD2 */
	cr_assert_eq(fa_pt_format_validate(&f), -FA_EINVAL);
	memcpy(&f, fa_pt_format_nv_ver2(), sizeof(f));
	f.page[0].level = FA_PT_NV2_LVL_PT_BIG; /* 4 KiB page in the 64 KiB table */
	cr_assert_eq(fa_pt_format_validate(&f), -FA_EINVAL);
	memcpy(&f, fa_pt_format_nv_ver2(), sizeof(f));
	f.level[FA_PT_NV2_LVL_PD0].entry_log2 = 3; /* dual needs 16-byte entries */
	cr_assert_eq(fa_pt_format_validate(&f), -FA_EINVAL);
	memcpy(&f, fa_pt_format_nv_ver2(), sizeof(f));
	f.va_bits = 50;
	cr_assert_eq(fa_pt_format_validate(&f), -FA_EINVAL);
	memcpy(&f, fa_pt_format_nv_ver2(), sizeof(f));
	f.level[5].depth = 6;
	cr_assert_eq(fa_pt_format_validate(&f), -FA_EINVAL);
	memcpy(&f, fa_pt_format_nv_ver2(), sizeof(f));
	f.decode = NULL;
	cr_assert_eq(fa_pt_format_validate(&f), -FA_EINVAL);
	cr_assert_eq(fa_pt_format_validate(NULL), -FA_EINVAL);
}

/* Bit patterns worked out by hand from the documented field positions. */
Test(pt_formats, ver2_known_patterns)
{
	const struct fa_pt_format *f = fa_pt_format_nv_ver2();
	uint64_t sub[2], out[2];

	cr_assert_eq(pte_of(f, FA_PT_NV2_LVL_PT_SMALL, 0x12345000, FA_PT_RO | FA_PT_KIND(6)),
		     0x0600000001234541ull);
	cr_assert_eq(pte_of(f, FA_PT_NV2_LVL_PT_SMALL, 0x300000001000ull,
			    FA_PT_APER_SYS_COH | FA_PT_VOL), 0x3000000010Dull);
	cr_assert_eq(pte_of(f, FA_PT_NV2_LVL_PT_BIG, 0x10000, FA_PT_PRIV | FA_PT_NO_ATOMIC |
			    FA_PT_ENCRYPTED), 0x10B1ull);
	cr_assert_eq(pte_of(f, FA_PT_NV2_LVL_PT_SMALL, 0x1000, FA_PT_APER_PEER | FA_PT_PEER(5)),
		     (5ull << 33) | 0x100 | 0x2 | 1);
	sub[0] = 0x45000;
	sub[1] = 0;
	fa_pt_pde_encode(f, FA_PT_NV2_LVL_PD2, sub, 1, FA_PT_APER_VRAM, out);
	cr_assert_eq(out[0], 0x4502ull);
	cr_assert_eq(out[1], 0);
	sub[0] = 0x12300;
	sub[1] = 0x45000;
	fa_pt_pde_encode(f, FA_PT_NV2_LVL_PD0, sub, 3, FA_PT_APER_VRAM, out);
	cr_assert_eq(out[0], 0x1232ull);
	cr_assert_eq(out[1], 0x4502ull);
	fa_pt_pde_encode(f, FA_PT_NV2_LVL_PD0, sub, 2, FA_PT_APER_SYS_NONCOH | FA_PT_VOL, out);
	cr_assert_eq(out[0], 0);
	cr_assert_eq(out[1], 0x450Eull);
}

Test(pt_formats, ver3_known_patterns)
{
	const struct fa_pt_format *f = fa_pt_format_nv_ver3();
	uint64_t sub[2], out[2];

	/* default PCF: regular, RW, atomic, cached, access counting disabled = 0x10 */
	cr_assert_eq(pte_of(f, FA_PT_NV3_LVL_PT_SMALL, 0x12345000, 0), 0x12345081ull);
	cr_assert_eq(pte_of(f, FA_PT_NV3_LVL_PT_SMALL, 0x12345000, FA_PT_RO | FA_PT_VOL),
		     0x123450A9ull);
	cr_assert_eq(pte_of(f, FA_PT_NV3_LVL_PT_SMALL, 0x1000, FA_PT_ACCESS_COUNT | FA_PT_KIND(6) |
			    FA_PT_APER_SYS_NONCOH), 0x1607ull);
	sub[0] = 0x45000;
	fa_pt_pde_encode(f, FA_PT_NV3_LVL_PD3, sub, 1, FA_PT_APER_VRAM, out);
	cr_assert_eq(out[0], 0x45012ull); /* aperture vid, PCF valid-cached ATS not allowed */
	sub[0] = 0x12300;
	sub[1] = 0x45000;
	fa_pt_pde_encode(f, FA_PT_NV3_LVL_PD0, sub, 3, FA_PT_APER_VRAM, out);
	cr_assert_eq(out[0], 0x12312ull);
	cr_assert_eq(out[1], 0x45012ull);
}

Test(pt_formats, x86_known_patterns)
{
	const struct fa_pt_format *f = fa_pt_format_x86_64();
	uint64_t sub[2], out[2];

	cr_assert_eq(pte_of(f, FA_PT_X86_LVL_PT, 0x1000, 0), 0x1007ull);
	cr_assert_eq(pte_of(f, FA_PT_X86_LVL_PD, 0x200000, 0), 0x200087ull);
	cr_assert_eq(pte_of(f, FA_PT_X86_LVL_PDPT, 0x40000000, FA_PT_RO | FA_PT_NO_EXEC),
		     0x8000000040000085ull);
	sub[0] = 0x7000;
	fa_pt_pde_encode(f, FA_PT_X86_LVL_PML4, sub, 1, 0, out);
	cr_assert_eq(out[0], 0x7007ull);
}

Test(pt_formats, special_encodings)
{
	const struct fa_pt_format *v2 = fa_pt_format_nv_ver2();
	const struct fa_pt_format *v3 = fa_pt_format_nv_ver3();
	const struct fa_pt_format *x = fa_pt_format_x86_64();
	struct fa_pt_entry e;

	decode1(v2, FA_PT_NV2_LVL_PT_SMALL, 0, 0, &e);
	cr_assert_eq(e.type, FA_PT_ENTRY_INVALID);
	decode1(v2, FA_PT_NV2_LVL_PT_SMALL, v2->sparse_pte, 0, &e);
	cr_assert_eq(e.type, FA_PT_ENTRY_SPARSE);
	decode1(v2, FA_PT_NV2_LVL_PT_BIG, 0x28, 0, &e);
	cr_assert_eq(e.type, FA_PT_ENTRY_NV4K);
	decode1(v2, FA_PT_NV2_LVL_PD2, v2->sparse_pde, 0, &e);
	cr_assert_eq(e.type, FA_PT_ENTRY_SPARSE);
	decode1(v2, FA_PT_NV2_LVL_PD0, 0, 0, &e);
	cr_assert_eq(e.type, FA_PT_ENTRY_INVALID);
	decode1(v3, FA_PT_NV3_LVL_PT_SMALL, v3->sparse_pte, 0, &e);
	cr_assert_eq(e.type, FA_PT_ENTRY_SPARSE);
	decode1(v3, FA_PT_NV3_LVL_PT_BIG, 3u << 3, 0, &e);
	cr_assert_eq(e.type, FA_PT_ENTRY_NV4K);
	decode1(v3, FA_PT_NV3_LVL_PD1, v3->sparse_pde, 0, &e);
	cr_assert_eq(e.type, FA_PT_ENTRY_SPARSE);
	decode1(x, FA_PT_X86_LVL_PT, 0x1006, 0, &e); /* P clear */
	cr_assert_eq(e.type, FA_PT_ENTRY_INVALID);
	/* a 2 MiB PTE in PD0 is told apart from a PDE by bit 0 */
	decode1(v2, FA_PT_NV2_LVL_PD0, pte_of(v2, FA_PT_NV2_LVL_PD0, 0x200000, 0), 0, &e);
	cr_assert_eq(e.type, FA_PT_ENTRY_PTE);
	cr_assert_eq(e.addr, 0x200000);
	/* x86: PS tells a huge PTE from a PDE */
	decode1(x, FA_PT_X86_LVL_PD, 0x200007, 0, &e);
	cr_assert_eq(e.type, FA_PT_ENTRY_PDE);
	cr_assert_eq(e.sub[0], 0x200000);
}

Test(pt_formats, pa_ok_limits)
{
	const struct fa_pt_format *v2 = fa_pt_format_nv_ver2();

	cr_assert(fa_pt_pa_ok(v2, (1ull << 37) - 4096, 12, FA_PT_APER_VRAM));
	cr_assert_not(fa_pt_pa_ok(v2, (1ull << 37), 12, FA_PT_APER_VRAM));
	cr_assert_not(fa_pt_pa_ok(v2, (1ull << 37) - 4096, 16, FA_PT_APER_VRAM));
	cr_assert(fa_pt_pa_ok(v2, (1ull << 37), 12, FA_PT_APER_SYS_COH));
	cr_assert_not(fa_pt_pa_ok(v2, (1ull << 58), 12, FA_PT_APER_SYS_COH));
	cr_assert_not(fa_pt_pa_ok(v2, FA_U64_MAX - 4095, 12, FA_PT_APER_SYS_COH));
}

static uint32_t random_attr(struct fa_rng *r, const struct fa_pt_format *f)
{
	uint32_t a = (uint32_t)fa_rng_next(r) & f->pte_attr_mask;

	if ((a & FA_PT_APER_MASK) != FA_PT_APER_PEER)
		a &= ~FA_PT_PEER_MASK;
	return a;
}

static void roundtrip_format(const struct fa_pt_format *f, struct fa_rng *r, unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++) {
		unsigned int p = (unsigned int)fa_rng_below(r, f->npages);
		unsigned int l = f->page[p].level, shift = f->page[p].shift;
		uint32_t attr = random_attr(r, f);
		unsigned int bits = fa__pt_aper_sys(attr & FA_PT_APER_MASK) ? f->pa_bits_sys :
				    f->pa_bits_vid;
		uint64_t pa = (fa_rng_next(r) & (FA_BIT64(bits) - 1)) & ~(FA_BIT64(shift) - 1);
		uint64_t raw[2], sub[2], out[2];
		struct fa_pt_entry e;
		unsigned int pl, present;

		cr_assert(fa_pt_pa_ok(f, pa, shift, attr));
		raw[0] = fa_pt_pte_encode(f, l, pa, attr);
		raw[1] = f->invalid;
		fa_pt_entry_decode(f, l, raw, &e);
		cr_assert_eq(e.type, FA_PT_ENTRY_PTE, "%s level %u", f->name, l);
		cr_assert_eq(e.addr, pa, "%s level %u pa %llx", f->name, l, (unsigned long long)pa);
		cr_assert_eq(e.attr, attr, "%s level %u attr %x vs %x", f->name, l, e.attr, attr);

		/* a PDE at every directory level */
		pl = (unsigned int)fa_rng_below(r, f->nlevels);
		if (f->level[pl].nsub == 0)
			continue;
		present = f->level[pl].nsub == 2 ? 1u + (unsigned int)fa_rng_below(r, 3) : 1u;
		attr = (uint32_t)fa_rng_next(r) & f->pde_attr_mask;
		if ((attr & FA_PT_APER_MASK) == FA_PT_APER_PEER)
			attr &= ~FA_PT_APER_MASK;
		bits = fa__pt_aper_sys(attr & FA_PT_APER_MASK) ? f->pa_bits_sys : f->pa_bits_vid;
		sub[0] = (fa_rng_next(r) & (FA_BIT64(bits) - 1)) &
			 ~(FA_BIT64(f->level[f->level[pl].sub[0]].align_log2) - 1);
		sub[1] = f->level[pl].nsub == 2 ?
			 (fa_rng_next(r) & (FA_BIT64(bits) - 1)) &
			 ~(FA_BIT64(f->level[f->level[pl].sub[1]].align_log2) - 1) : 0;
		fa_pt_pde_encode(f, pl, sub, present, attr, out);
		if (f->level[pl].nsub == 1)
			cr_assert_eq(out[1], 0);
		fa_pt_entry_decode(f, pl, out, &e);
		cr_assert_eq(e.type, FA_PT_ENTRY_PDE);
		cr_assert_eq(e.present, present);
		cr_assert_eq(e.attr, attr, "%s pde level %u attr %x vs %x", f->name, pl, e.attr, attr);
		if (present & 1u)
			cr_assert_eq(e.sub[0], sub[0], "%s level %u", f->name, pl);
		if (present & 2u)
			cr_assert_eq(e.sub[1], sub[1], "%s level %u", f->name, pl);
	}
}

Test(pt_formats, roundtrip_random)
{
	struct fa_rng r;

	fa_rng_seed(&r, fa_test_seed(0x5eed0001));
	roundtrip_format(fa_pt_format_nv_ver2(), &r, fa_test_iters(20000));
	roundtrip_format(fa_pt_format_nv_ver3(), &r, fa_test_iters(20000));
	roundtrip_format(fa_pt_format_x86_64(), &r, fa_test_iters(20000));
}

/* PTE values are linear in the address: a run of contiguous pages is one fill. */
Test(pt_formats, pte_linear_in_address)
{
	const struct fa_pt_format *fs[3];
	unsigned int i, p;

	fs[0] = fa_pt_format_nv_ver2();
	fs[1] = fa_pt_format_nv_ver3();
	fs[2] = fa_pt_format_x86_64();
	for (i = 0; i < 3; i++) {
		for (p = 0; p < fs[i]->npages; p++) {
			unsigned int l = fs[i]->page[p].level;
			uint64_t ps = FA_BIT64(fs[i]->page[p].shift);
			uint64_t a = fa_pt_pte_encode(fs[i], l, 0, FA_PT_RO);
			uint64_t b = fa_pt_pte_encode(fs[i], l, ps, FA_PT_RO);
			uint64_t c = fa_pt_pte_encode(fs[i], l, 77 * ps, FA_PT_RO);

			cr_assert_eq(c - a, 77 * (b - a), "%s page %u", fs[i]->name, p);
		}
	}
}

/* The generation picks the format: 512 MiB pages (PTE in PD1) only from Ampere on. */
Test(pt_formats, generation_decides_512m_pages)
{
	static const enum fa_pt_nv_gen no512[] = { FA_PT_NV_PASCAL, FA_PT_NV_VOLTA, FA_PT_NV_TURING };
	static const enum fa_pt_nv_gen with512[] = { FA_PT_NV_AMPERE, FA_PT_NV_ADA, FA_PT_NV_HOPPER,
						     FA_PT_NV_BLACKWELL };
	unsigned int i;

	for (i = 0; i < FA_ARRAY_SIZE(no512); i++) {
		const struct fa_pt_format *f = fa_pt_format_nv(no512[i]);

		cr_assert_not_null(f);
		cr_assert_eq(fa_pt_format_validate(f), 0);
		cr_assert_eq(f->va_bits, 49);
		cr_assert_eq(fa_pt_page_index(f, 1ull << 29), -1, "gen %d offers 512 MiB pages",
			     (int)no512[i]);
		cr_assert_eq(fa_pt_page_index(f, 1ull << 21), 2);
		cr_assert_eq(f->level[FA_PT_NV2_LVL_PD1].pte, 0);
		cr_assert_eq(f->level[FA_PT_NV2_LVL_PD0].pte, 1);
	}
	for (i = 0; i < FA_ARRAY_SIZE(with512); i++) {
		const struct fa_pt_format *f = fa_pt_format_nv(with512[i]);

		cr_assert_not_null(f);
		cr_assert_eq(fa_pt_format_validate(f), 0);
		cr_assert_geq(fa_pt_page_index(f, 1ull << 29), 0);
	}
	cr_assert_eq(fa_pt_format_nv(FA_PT_NV_TURING), fa_pt_format_nv_ver2_gp100());
	cr_assert_eq(fa_pt_format_nv(FA_PT_NV_AMPERE), fa_pt_format_nv_ver2());
	cr_assert_eq(fa_pt_format_nv(FA_PT_NV_HOPPER), fa_pt_format_nv_ver3());
	cr_assert_null(fa_pt_format_nv((enum fa_pt_nv_gen)0));
	cr_assert_null(fa_pt_format_nv((enum fa_pt_nv_gen)99));
	/* on Pascal..Turing a PD1 entry with bit 0 set is not a 512 MiB PTE */
	{
		const struct fa_pt_format *f = fa_pt_format_nv_ver2_gp100();
		struct fa_pt_entry e;

		decode1(f, FA_PT_NV2_LVL_PD1, 0x1ull | (0x20000000ull >> 4), 0, &e);
		cr_assert_neq(e.type, FA_PT_ENTRY_PTE);
	}
}

/* What docs/pt.md says: every ver3 PDE half has PCF "ATS not allowed"
 * (bit 1 of PCF 5:3 = entry bit 4), VRAM and system tables alike, and the
 * decoder does not report it. */
Test(pt_formats, ver3_pde_ats_not_allowed_everywhere)
{
	const struct fa_pt_format *f = fa_pt_format_nv_ver3();
	static const uint32_t apers[] = { FA_PT_APER_VRAM, FA_PT_APER_SYS_COH, FA_PT_APER_SYS_NONCOH };
	uint64_t sub[2], out[2];
	struct fa_pt_entry e;
	unsigned int i, vol;

	for (i = 0; i < FA_ARRAY_SIZE(apers); i++)
		for (vol = 0; vol < 2; vol++) {
			uint32_t attr = apers[i] | (vol ? FA_PT_VOL : 0);

			sub[0] = 0x45000;
			sub[1] = 0x46000;
			fa_pt_pde_encode(f, FA_PT_NV3_LVL_PD2, sub, 1, attr, out);
			cr_assert_eq((out[0] >> 3) & 7u, 2u | vol, "PCF 0x%llx",
				     (unsigned long long)((out[0] >> 3) & 7u));
			fa_pt_pde_encode(f, FA_PT_NV3_LVL_PD0, sub, 3, attr, out);
			cr_assert_eq((out[0] >> 3) & 7u, 2u | vol);
			cr_assert_eq((out[1] >> 3) & 7u, 2u | vol); /* PCF_SMALL 69:67 */
			decode1(f, FA_PT_NV3_LVL_PD0, out[0], out[1], &e);
			cr_assert_eq(e.type, FA_PT_ENTRY_PDE);
			cr_assert_eq(e.attr, attr); /* aperture and VOL only: no ATS bit */
		}
}

Test(pt_formats, table_addr_ok_alignment_and_width)
{
	const struct fa_pt_format *v2 = fa_pt_format_nv_ver2();
	const struct fa_pt_format *v3 = fa_pt_format_nv_ver3();

	/* ver2 VRAM: 37 address bits, whole table below 2^37 */
	cr_assert(fa_pt_table_addr_ok(v2, FA_PT_NV2_LVL_PT_SMALL, (1ull << 37) - 4096, FA_PT_APER_VRAM));
	cr_assert_not(fa_pt_table_addr_ok(v2, FA_PT_NV2_LVL_PT_SMALL, 1ull << 37, FA_PT_APER_VRAM));
	cr_assert(fa_pt_table_addr_ok(v2, FA_PT_NV2_LVL_PT_BIG, (1ull << 37) - 256, FA_PT_APER_VRAM));
	cr_assert_not(fa_pt_table_addr_ok(v2, FA_PT_NV2_LVL_PT_BIG, (1ull << 37) - 128, FA_PT_APER_VRAM));
	cr_assert(fa_pt_table_addr_ok(v2, FA_PT_NV2_LVL_PT_SMALL, 1ull << 37, FA_PT_APER_SYS_COH));
	/* alignment of the level: big PT 256 B, the rest 4 KiB (PD3 too) */
	cr_assert(fa_pt_table_addr_ok(v2, FA_PT_NV2_LVL_PT_BIG, 0x1100, FA_PT_APER_VRAM));
	cr_assert_not(fa_pt_table_addr_ok(v2, FA_PT_NV2_LVL_PT_BIG, 0x1080, FA_PT_APER_VRAM));
	cr_assert_not(fa_pt_table_addr_ok(v2, FA_PT_NV2_LVL_PD0, 0x1100, FA_PT_APER_VRAM));
	cr_assert_not(fa_pt_table_addr_ok(v2, FA_PT_NV2_LVL_PD3, 0x1020, FA_PT_APER_VRAM));
	/* ver3: 52 bits */
	cr_assert(fa_pt_table_addr_ok(v3, FA_PT_NV3_LVL_PT_SMALL, 1ull << 40, FA_PT_APER_VRAM));
	cr_assert_not(fa_pt_table_addr_ok(v3, FA_PT_NV3_LVL_PT_SMALL, 1ull << 52, FA_PT_APER_VRAM));
}

/* ------------------------------------------- a wrong table fails */

static void builtins(const struct fa_pt_format *out[4])
{
	out[0] = fa_pt_format_nv_ver2();
	out[1] = fa_pt_format_nv_ver2_gp100();
	out[2] = fa_pt_format_nv_ver3();
	out[3] = fa_pt_format_x86_64();
}

/* Every field of every level of every built-in table, changed by one step,
 * makes the table fail validation (fa_pt_init() refuses it), except the
 * alignment, which the hardware-facts test below pins. */
Test(pt_formats, any_field_off_by_one_fails_validation)
{
	const struct fa_pt_format *fm[4];
	unsigned int k, i, fld;
	static const char *const names[] = { "shift", "bits", "entry_log2", "parent", "slot",
					     "nsub", "sub0", "sub1", "pte", "depth" };

	builtins(fm);
	for (k = 0; k < 4; k++) {
		for (i = 0; i < fm[k]->nlevels; i++) {
			for (fld = 0; fld < FA_ARRAY_SIZE(names); fld++) {
				struct fa_pt_format f;
				struct fa_pt_level *l;

				memcpy(&f, fm[k], sizeof(f));
				l = &f.level[i];
				switch (fld) {
				case 0: l->shift++; break;
				case 1: l->bits++; break;
				case 2: l->entry_log2 = l->entry_log2 == 3 ? 4 : 3; break;
				case 3: l->parent = l->parent == FA_PT_LEVEL_NONE ? 0 : (uint8_t)(l->parent + 1); break;
				case 4: l->slot ^= 1; break;
				case 5: l->nsub = (uint8_t)((l->nsub + 1) % 3); break;
				case 6: l->sub[0] = l->sub[0] == FA_PT_LEVEL_NONE ? (uint8_t)(i + 1) : FA_PT_LEVEL_NONE; break;
				case 7: l->sub[1] = l->sub[1] == FA_PT_LEVEL_NONE ? (uint8_t)(i + 1) : FA_PT_LEVEL_NONE; break;
				case 8: l->pte ^= 1; break;
				default: l->depth++; break;
				}
				cr_assert_eq(fa_pt_format_validate(&f), -FA_EINVAL,
					     "%s level %u: %s changed and still valid", fm[k]->name, i,
					     names[fld]);
			}
		}
		/* a count that does not match the rows given */
		{
			struct fa_pt_format f;

			memcpy(&f, fm[k], sizeof(f));
			f.nlevels--;
			cr_assert_eq(fa_pt_format_validate(&f), -FA_EINVAL, "%s nlevels-1", f.name);
			memcpy(&f, fm[k], sizeof(f));
			f.npages--;
			cr_assert_eq(fa_pt_format_validate(&f), -FA_EINVAL, "%s npages-1", f.name);
			memcpy(&f, fm[k], sizeof(f));
			f.page[0].shift++;
			cr_assert_eq(fa_pt_format_validate(&f), -FA_EINVAL, "%s page shift", f.name);
		}
	}
}

/* The hardware facts the tables encode, level by level: table bytes and
 * alignment (RM's pool_alloc.c: "PD3..PD0 4 KB, small PT 4 KB, big PT 256
 * Bytes"; the PDB is 4 KiB aligned), PTE levels and page sizes. */
Test(pt_formats, tables_match_the_hardware)
{
	static const struct { unsigned int bytes, align, pte; } v2[6] = {
		{ 32, 4096, 0 }, { 4096, 4096, 0 }, { 4096, 4096, 1 },
		{ 4096, 4096, 1 }, { 256, 256, 1 }, { 4096, 4096, 1 } };
	static const struct { unsigned int bytes, align, pte; } v3[7] = {
		{ 16, 4096, 0 }, { 4096, 4096, 0 }, { 4096, 4096, 0 }, { 4096, 4096, 1 },
		{ 4096, 4096, 1 }, { 256, 256, 1 }, { 4096, 4096, 1 } };
	const struct fa_pt_format *f;
	unsigned int i;

	f = fa_pt_format_nv_ver2();
	for (i = 0; i < 6; i++) {
		cr_assert_eq(fa_pt_level_bytes(f, i), v2[i].bytes, "ver2 level %u", i);
		cr_assert_eq(FA_BIT64(f->level[i].align_log2), v2[i].align, "ver2 level %u", i);
		cr_assert_eq(f->level[i].pte, v2[i].pte, "ver2 level %u", i);
		cr_assert_eq(fa_pt_format_nv_ver2_gp100()->level[i].pte, i == 2 ? 0 : v2[i].pte);
		cr_assert_eq(fa_pt_level_bytes(fa_pt_format_nv_ver2_gp100(), i), v2[i].bytes);
		cr_assert_eq(fa_pt_format_nv_ver2_gp100()->level[i].align_log2, f->level[i].align_log2);
	}
	f = fa_pt_format_nv_ver3();
	for (i = 0; i < 7; i++) {
		cr_assert_eq(fa_pt_level_bytes(f, i), v3[i].bytes, "ver3 level %u", i);
		cr_assert_eq(FA_BIT64(f->level[i].align_log2), v3[i].align, "ver3 level %u", i);
		cr_assert_eq(f->level[i].pte, v3[i].pte, "ver3 level %u", i);
	}
	f = fa_pt_format_x86_64();
	for (i = 0; i < 4; i++) {
		cr_assert_eq(fa_pt_level_bytes(f, i), 4096);
		cr_assert_eq(f->level[i].align_log2, 12);
	}
	cr_assert_eq(fa_pt_format_nv_ver2()->npages, 4);
	cr_assert_eq(fa_pt_format_nv_ver2_gp100()->npages, 3);
	cr_assert_eq(fa_pt_format_nv_ver3()->npages, 4);
	cr_assert_eq(fa_pt_format_x86_64()->npages, 3);
}

/* A format written with the named-field macros, as a user would. */
static uint64_t two_pte(const struct fa_pt_format *f, unsigned int l, uint64_t pa, uint32_t a)
{
	(void)f; (void)l; (void)a;
	return pa | 1;
}

static void two_pde(const struct fa_pt_format *f, unsigned int l, const uint64_t sub[2],
		    unsigned int present, uint32_t a, uint64_t out[2])
{
	(void)f; (void)l; (void)a;
	out[0] = (present & 1u) ? sub[0] | 1 : 0;
	out[1] = 0;
}

static void two_decode(const struct fa_pt_format *f, unsigned int l, const uint64_t raw[2],
		       struct fa_pt_entry *e)
{
	(void)f; (void)raw;
	memset(e, 0, sizeof(*e));
	e->type = l ? FA_PT_ENTRY_PTE : FA_PT_ENTRY_PDE;
}

static const struct fa_pt_format two_level = FA_PT_FORMAT(
	name("two-level"), va_bits(32), nlevels(2), npages(1), pa_bits_vid(40), pa_bits_sys(40),
	pte_attr_mask(FA_PT_RO), pde_attr_mask(0),
	invalid(0), sparse_pte(0), sparse_pde(0),
	levels(FA_PT_LEVEL(shift(22), bits(10), entry_log2(3), align_log2(12),
			   parent(FA_PT_LEVEL_NONE), slot(0), sub(1, FA_PT_LEVEL_NONE), pte(0), depth(0)),
	       FA_PT_LEVEL(shift(12), bits(10), entry_log2(3), align_log2(12),
			   parent(0), slot(0), sub(FA_PT_LEVEL_NONE, FA_PT_LEVEL_NONE), pte(1), depth(1))),
	pages(FA_PT_PAGE(shift(12), level(1))),
	pte(two_pte), pde(two_pde), decode(two_decode));

Test(pt_formats, named_field_macros_build_a_valid_format)
{
	cr_assert_eq(fa_pt_format_validate(&two_level), 0);
	cr_assert_eq(two_level.level[0].nsub, 1); /* computed from sub(...) */
	cr_assert_eq(two_level.level[1].nsub, 0);
	cr_assert_eq(two_level.level[0].sub[0], 1);
	cr_assert_eq(fa_pt_level_bytes(&two_level, 1), 8192);
	cr_assert_str_eq(two_level.name, "two-level");
}
