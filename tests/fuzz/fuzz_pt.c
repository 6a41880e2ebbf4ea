/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for pt.h: the input is a format choice and a sequence of
 * ref / map / map_pages / unmap / unref / ref_map / unmap_unref / reclaim
 * operations on a window that
 * straddles a root-entry boundary. Every result is compared with the
 * dictionary model of tests/support/pt_model.h (expected error, tables
 * allocated == tree-aware estimate <= static estimate, translate of the
 * touched range), allocators abort if map/unmap call them, and each input
 * ends with a full shadow/raw-memory cross-check, unref of everything, a
 * drain, and a leak check.
 */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include "fa_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PT_MODEL_NO_CRITERION
#define PT_FZ_CHECK(cond, text)                                                     \
	do {                                                                        \
		if (!(cond)) {                                                      \
			fprintf(stderr, "fuzz_pt: %s:%d: %s\n", __FILE__, __LINE__, \
				text);                                              \
			abort();                                                    \
		}                                                                   \
	} while (0)
#define PT_FZ_FIRST(a, ...) (a)
#define PT_FZ_EQ(a, b, ...) ((a) == (b))
/* Criterion's two assertions, as used by pt_model.h (messages dropped) */
#define cr_assert(...) PT_FZ_CHECK(PT_FZ_FIRST(__VA_ARGS__, 0), #__VA_ARGS__)
#define cr_assert_eq(...) PT_FZ_CHECK(PT_FZ_EQ(__VA_ARGS__, 0), #__VA_ARGS__)

#include <fencealloc/pt.h>

#include "pt_model.h"

struct fz {
	struct pt_vram v;
	struct fa_pt pt;
	struct pt_model m;
	uint64_t epoch, completed;
	int ready;
	/* ranges this input touched (teardown only scans these) */
	unsigned int nt;
	unsigned int tp[256];
	uint64_t tva[256], tend[256];
};

static struct fz fzs[3];

struct in {
	const uint8_t *p;
	size_t n;
};

static unsigned int take(struct in *in)
{
	unsigned int b;

	if (!in->n)
		return 0;
	b = *in->p++;
	in->n--;
	return b;
}

static void fz_setup(struct fz *z, const struct fa_pt_format *f)
{
	uint64_t big = FA_BIT64(f->page[f->npages - 1].shift);

	if (!z->ready) {
		pt_vram_init(&z->v, 32ull << 20);
		pt_model_init(&z->m, f, FA_BIT64(f->level[0].shift) - big, 2 * big);
		z->ready = 1;
	}
	z->v.fail_in = -1;
	cr_assert(pt_tree_init(&z->pt, &z->v, f) == 0);
	z->epoch = 1;
	z->completed = 0;
	z->m.npend = 0;
	z->nt = 0;
}

static void fz_range(struct fz *z, struct in *in, unsigned int *pp, uint64_t *va, uint64_t *end)
{
	const struct fa_pt_format *f = z->m.f;
	unsigned int p = take(in) % f->npages;
	uint64_t ps = FA_BIT64(f->page[p].shift), nslots = z->m.size >> f->page[p].shift;
	uint64_t first = ((uint64_t)take(in) << 8 | take(in));
	uint64_t n = 1 + (take(in) & 63);

	/* cluster around the middle of the window (a root-entry boundary) */
	first = (nslots / 2 + first - 0x8000) % nslots;
	if (first + n > nslots)
		n = nslots - first;
	*pp = p;
	*va = z->m.base + first * ps;
	*end = *va + n * ps;
}

static void fz_xlate(struct fz *z, uint64_t va, uint64_t end)
{
	z->v.forbidden = 1;
	pt_model_check_va(&z->m, &z->pt, va);
	pt_model_check_va(&z->m, &z->pt, end - 1);
	pt_model_check_va(&z->m, &z->pt, va + ((end - va) >> 1));
	z->v.forbidden = 0;
}

static void fz_op(struct fz *z, struct in *in)
{
	const struct fa_pt_format *f = z->m.f;
	unsigned int op = take(in) % 10, p;
	uint64_t va, end, ps;
	int rc, refd;

	fz_range(z, in, &p, &va, &end);
	ps = FA_BIT64(f->page[p].shift);
	refd = pt_model_all_refd(&z->m, p, va, end);
	if (z->nt < 256) {
		z->tp[z->nt] = p;
		z->tva[z->nt] = va;
		z->tend[z->nt++] = end;
	}
	switch (op) {
	case 0:
	case 1: {
		struct fa_pt_estimate est, st;
		uint64_t allocs = z->v.table_allocs, before = pt_model_total_tables(&z->m);
		int expect = pt_model_ref_result(&z->m, p, va, end);

		cr_assert(fa_pt_estimate(&z->pt, va, end - va, ps, &est) == 0);
		cr_assert(fa_pt_estimate_static(f, va, end - va, ps, &st) == 0);
		cr_assert(st.total >= est.total);
		rc = fa_pt_ref(&z->pt, va, end - va, ps, FA_GFP_KERNEL);
		cr_assert(rc == expect);
		if (!rc) {
			pt_model_ref(&z->m, p, va, end);
			cr_assert(z->v.table_allocs - allocs == est.total);
			cr_assert(pt_model_total_tables(&z->m) - before == est.total);
		}
		break;
	}
	case 2:
	case 3: {
		uint64_t pa = ((uint64_t)take(in) << 24) * ps & (FA_BIT64(36) - 1);

		pa &= ~(ps - 1);
		z->v.forbidden = 1;
		rc = fa_pt_map(&z->pt, va, end - va, ps, pa, FA_PT_RO);
		z->v.forbidden = 0;
		cr_assert(rc == (refd ? 0 : -FA_ENOENT));
		if (!rc)
			pt_model_map(&z->m, p, va, end, pa, FA_PT_RO);
		break;
	}
	case 4: {
		uint64_t pages[64], k, n = (end - va) / ps;

		for (k = 0; k < n; k++)
			pages[k] = (k && (take(in) & 1)) ? pages[k - 1] + ps :
				   ((uint64_t)take(in) * ps) & (FA_BIT64(34) - 1) & ~(ps - 1);
		z->v.forbidden = 1;
		rc = fa_pt_map_pages(&z->pt, va, end - va, ps, pages, 0);
		z->v.forbidden = 0;
		cr_assert(rc == (refd ? 0 : -FA_ENOENT));
		if (!rc)
			for (k = 0; k < n; k++)
				pt_model_map(&z->m, p, va + k * ps, va + (k + 1) * ps, pages[k], 0);
		break;
	}
	case 5:
		z->v.forbidden = 1;
		if (take(in) & 1) {
			rc = fa_pt_sparse(&z->pt, va, end - va, ps);
			z->v.forbidden = 0;
			cr_assert(rc == (!f->sparse_pte ? -FA_EOPNOTSUPP : refd ? 0 : -FA_ENOENT));
			if (!rc)
				pt_model_sparse(&z->m, p, va, end);
			break;
		}
		rc = fa_pt_unmap(&z->pt, va, end - va, ps);
		z->v.forbidden = 0;
		cr_assert(rc == (refd ? 0 : -FA_ENOENT));
		if (!rc)
			pt_model_unmap(&z->m, p, va, end);
		break;
	case 6:
		if (refd) {
			cr_assert(fa_pt_unmap(&z->pt, va, end - va, ps) == 0);
			pt_model_unmap(&z->m, p, va, end);
		}
		rc = fa_pt_unref(&z->pt, va, end - va, ps, z->epoch);
		cr_assert(rc == (refd ? 0 : -FA_ENOENT));
		if (!rc)
			pt_model_unref(&z->m, p, va, end, z->epoch);
		break;
	case 7: {
		/* reference and map in one walk: fa_pt_ref() then fa_pt_map() */
		struct fa_pt_estimate est;
		uint64_t allocs = z->v.table_allocs;
		uint64_t pa = ((uint64_t)take(in) << 24) * ps & (FA_BIT64(36) - 1) & ~(ps - 1);
		int expect = pt_model_ref_result(&z->m, p, va, end);

		cr_assert(fa_pt_estimate(&z->pt, va, end - va, ps, &est) == 0);
		rc = fa_pt_ref_map(&z->pt, va, end - va, ps, pa, FA_PT_RO, FA_GFP_KERNEL);
		cr_assert(rc == expect);
		if (!rc) {
			pt_model_ref(&z->m, p, va, end);
			pt_model_map(&z->m, p, va, end, pa, FA_PT_RO);
			cr_assert(z->v.table_allocs - allocs == est.total);
		}
		break;
	}
	case 8:
		/* unmap and unreference in one walk: nothing changes unless all is referenced */
		z->v.forbidden = 1;
		rc = fa_pt_unmap_unref(&z->pt, va, end - va, ps, z->epoch);
		z->v.forbidden = 0;
		cr_assert(rc == (refd ? 0 : -FA_ENOENT));
		if (!rc) {
			pt_model_unmap(&z->m, p, va, end);
			pt_model_unref(&z->m, p, va, end, z->epoch);
		}
		break;
	default:
		z->epoch += take(in) & 1;
		z->completed += take(in) % (z->epoch - z->completed + 1);
		cr_assert(fa_pt_reclaim(&z->pt, z->completed) ==
			  pt_model_reclaim(&z->m, z->completed));
		break;
	}
	fz_xlate(z, va, end);
}

static void fz_teardown(struct fz *z)
{
	const struct fa_pt_format *f = z->m.f;
	unsigned int p, t;
	uint64_t ps;

	pt_check_tree(&z->v, &z->m, &z->pt);
	for (t = 0; t < z->nt; t++) {
		uint64_t va;

		p = z->tp[t];
		ps = FA_BIT64(f->page[p].shift);
		for (va = z->tva[t]; va < z->tend[t]; va += ps) {
			struct pt_mslot *s = pt_model_slot(&z->m, p, va);

			if (s->mapped || s->sparse) {
				cr_assert(fa_pt_unmap(&z->pt, va, ps, ps) == 0);
				s->mapped = 0;
				s->sparse = 0;
			}
			while (s->refs) {
				cr_assert(fa_pt_unref(&z->pt, va, ps, ps, z->epoch) == 0);
				pt_model_unref(&z->m, p, va, va + ps, z->epoch);
			}
		}
	}
	z->completed = ++z->epoch;
	cr_assert(fa_pt_reclaim(&z->pt, z->completed) == pt_model_reclaim(&z->m, z->completed));
	cr_assert(pt_model_total_tables(&z->m) == 0);
	cr_assert(fa_pt_fini(&z->pt) == 0);
	cr_assert(z->v.live_tables == 0 && z->v.live_shadow == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in;
	unsigned int fi, ops = 0;
	struct fz *z;
	const struct fa_pt_format *f;

	if (size < 1)
		return 0;
	in.p = data;
	in.n = size;
	fi = take(&in) % 3;
	f = fi == 0 ? fa_pt_format_nv_ver2() : fi == 1 ? fa_pt_format_nv_ver3() :
		      fa_pt_format_x86_64();
	z = &fzs[fi];
	setenv("FA_TEST_QUIET_WARN", "1", 1);
	fz_setup(z, f);
	while (in.n && ops++ < 256)
		fz_op(z, &in);
	fz_teardown(z);
	return 0;
}
