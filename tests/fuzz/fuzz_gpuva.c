/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the VMM's mapping set (examples/vmm/gpuva.h) against a
 * sorted-array model. The input picks the policy (merge or not, which page
 * sizes are accepted: any, the NVIDIA ones, or arbitrary bits) and where the
 * addresses cluster (low VA, mid VA, or just below 2^64), then runs map,
 * unmap, remove, check-only and lookup ops. Requests are mostly page-aligned
 * ranges over a small lattice (so they overlap, split and continue one
 * another) and sometimes raw values (huge, wrapping, zero, misaligned, page
 * shifts up to 70).
 *
 * vmm_va_set_check_map()/_check_unmap() must return what the documented
 * rules say (-FA_EINVAL or 0) and leave the set unchanged; an accepted op is
 * applied and must then hold exactly the model's mappings (range, BO,
 * offset, page shift, flags), take exactly the nodes the model inserts
 * (never more than VMM_VA_NODES_PER_MAP / _UNMAP), report each of them
 * through `inserted`, and retire exactly the nodes the model removes, in
 * address order, with the model's cut_va/cut_size. Every removed node is
 * freed at once, so ASan catches a set that still links one. After every op
 * lookups, floor and first_from at addresses around every mapping agree with
 * the model and no warning fired.
 */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include "fa_test.h"
#define FZ_NAME "gpuva"
#include "fz_input.h"
#include <vmm/gpuva.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FZ_MAX 160    /* mappings the model holds at most (an op adds at most 2) */
#define FZ_STEPS 300  /* ops per input */
#define FZ_BOS 3

static unsigned long fz_step;

/* Distinct BOs: the set only compares their addresses. */
static struct vmm_bo *fz_bo[FZ_BOS] = {
	(struct vmm_bo *)(uintptr_t)0x1000, (struct vmm_bo *)(uintptr_t)0x2000,
	(struct vmm_bo *)(uintptr_t)0x3000,
};

struct fz_map {
	uint64_t va, size, off;
	struct vmm_bo *bo;
	unsigned int shift;
	uint32_t flags;
	uint64_t cut_va, cut_size; /* removed nodes only */
};

struct fz {
	struct vmm_va_set set;
	struct fz_map m[FZ_MAX];   /* the model, sorted by va */
	unsigned int n;
	struct fz_map gone[FZ_MAX]; /* what the last op removed, by address */
	unsigned int ngone, nnew;   /* ... and how many nodes it inserted */
	bool merge;
	uint64_t sizes;             /* accepted page sizes (0: any) */
	uint64_t base;              /* where addresses cluster */
	unsigned int taken, inserted, live_nodes;
	struct vmm_va *last_inserted[4];
};

static struct vmm_va *fz_take(void *ctx)
{
	struct fz *z = (struct fz *)ctx;
	struct vmm_va *v = (struct vmm_va *)malloc(sizeof(*v));

	FZ_CHECK(v != NULL);
	memset(v, 0xA5, sizeof(*v)); /* the set must set every field it relies on */
	z->taken++;
	z->live_nodes++;
	return v;
}

static void fz_inserted(void *ctx, struct vmm_va *n)
{
	struct fz *z = (struct fz *)ctx;

	FZ_CHECK(z->inserted < 4);
	z->last_inserted[z->inserted++] = n;
}

static uint64_t fz_end(const struct fz_map *m)
{
	return m->va + m->size;
}

/* The model's mapping containing @a, or -1. */
static int fz_find(const struct fz *z, uint64_t a)
{
	unsigned int i;

	for (i = 0; i < z->n; i++)
		if (z->m[i].va <= a && a - z->m[i].va < z->m[i].size)
			return (int)i;
	return -1;
}

/* @m continues @r at @r's start (documented merge rule, left side). */
static bool fz_continues(const struct fz_map *m, const struct fz_map *r)
{
	return m->bo == r->bo && m->shift == r->shift && m->flags == r->flags &&
	       m->off + (r->va - m->va) == r->off;
}

/* @m continues @r at @r's end (right side). */
static bool fz_continued_by(const struct fz_map *m, const struct fz_map *r)
{
	return m->bo == r->bo && m->shift == r->shift && m->flags == r->flags &&
	       m->off + (fz_end(r) - m->va) == r->off + r->size;
}

static bool fz_aligned(uint64_t a, unsigned int shift)
{
	return !(a & ((1ull << shift) - 1));
}

/* The documented check of a map request. */
static int fz_expect_map(const struct fz *z, const struct fz_map *r)
{
	uint64_t end;
	int i;

	if (r->shift >= 64 || (z->sizes && !(z->sizes & (1ull << r->shift))))
		return -FA_EINVAL;
	if (!r->size || r->va + r->size < r->va || r->va + r->size == 0 ||
	    !fz_aligned(r->va, r->shift) || !fz_aligned(r->size, r->shift))
		return -FA_EINVAL;
	end = r->va + r->size;
	i = fz_find(z, r->va);
	if (i >= 0 && z->m[i].va < r->va && !(z->merge && fz_continues(&z->m[i], r)) &&
	    !fz_aligned(r->va, z->m[i].shift))
		return -FA_EINVAL;
	i = fz_find(z, end - 1);
	if (i >= 0 && fz_end(&z->m[i]) > end && !(z->merge && fz_continued_by(&z->m[i], r)) &&
	    !fz_aligned(end, z->m[i].shift))
		return -FA_EINVAL;
	return 0;
}

/* The documented check of an unmap request (holes are fine). */
static int fz_expect_unmap(const struct fz *z, uint64_t va, uint64_t size)
{
	uint64_t end = va + size;
	int i;

	if (!size || end < va || end == 0)
		return -FA_EINVAL;
	i = fz_find(z, va);
	if (i >= 0 && z->m[i].va < va && !fz_aligned(va, z->m[i].shift))
		return -FA_EINVAL;
	i = fz_find(z, end - 1);
	if (i >= 0 && fz_end(&z->m[i]) > end && !fz_aligned(end, z->m[i].shift))
		return -FA_EINVAL;
	return 0;
}

static void fz_model_insert(struct fz *z, const struct fz_map *m)
{
	unsigned int i = z->n;

	FZ_CHECK(z->n < FZ_MAX);
	while (i > 0 && z->m[i - 1].va > m->va) {
		z->m[i] = z->m[i - 1];
		i--;
	}
	z->m[i] = *m;
	z->n++;
	z->nnew++;
}

/* Remove every mapping overlapping [lo, hi), cut = its overlap with
 * [cva, cend), keep what lies outside [lo, hi) as remnants. */
static void fz_model_carve(struct fz *z, uint64_t lo, uint64_t hi, uint64_t cva, uint64_t cend)
{
	struct fz_map keep[FZ_MAX], rem[2];
	unsigned int i, nk = 0, nr = 0;

	for (i = 0; i < z->n; i++) {
		struct fz_map m = z->m[i];
		uint64_t a, b;

		if (fz_end(&m) <= lo || m.va >= hi) {
			keep[nk++] = m;
			continue;
		}
		a = m.va > cva ? m.va : cva;
		b = fz_end(&m) < cend ? fz_end(&m) : cend;
		m.cut_va = a;
		m.cut_size = b > a ? b - a : 0;
		z->gone[z->ngone++] = m;
		if (m.va < lo) {
			FZ_CHECK(nr < 2);
			rem[nr] = m;
			rem[nr].size = lo - m.va;
			nr++;
		}
		if (fz_end(&m) > hi) {
			FZ_CHECK(nr < 2);
			rem[nr] = m;
			rem[nr].va = hi;
			rem[nr].size = fz_end(&m) - hi;
			rem[nr].off = m.off + (hi - m.va);
			nr++;
		}
	}
	memcpy(z->m, keep, nk * sizeof(keep[0]));
	z->n = nk;
	for (i = 0; i < nr; i++)
		fz_model_insert(z, &rem[i]);
}

/* The documented map: merge with a continuing neighbour (touching or
 * overlapping), else split what it overlaps. Returns the new mapping. */
static struct fz_map fz_model_map(struct fz *z, const struct fz_map *r)
{
	uint64_t end = fz_end(r), lo = r->va, hi = end, off = r->off;
	struct fz_map n;
	int i;

	if (z->merge) {
		i = r->va ? fz_find(z, r->va - 1) : -1;
		if (i >= 0 && fz_continues(&z->m[i], r)) {
			lo = z->m[i].va;
			off = z->m[i].off;
		}
		i = fz_find(z, end);
		if (i >= 0 && fz_continued_by(&z->m[i], r))
			hi = fz_end(&z->m[i]);
	}
	fz_model_carve(z, lo, hi, r->va, end);
	n = *r;
	n.va = lo;
	n.size = hi - lo;
	n.off = off;
	n.cut_va = n.cut_size = 0;
	fz_model_insert(z, &n);
	return n;
}

static bool fz_same(const struct vmm_va *v, const struct fz_map *m)
{
	return v->va == m->va && v->size == m->size && v->bo == m->bo && v->bo_offset == m->off &&
	       v->page_shift == m->shift && v->flags == m->flags;
}

/* The set holds exactly the model's mappings, and its lookups agree. */
static void fz_compare(struct fz *z)
{
	struct vmm_va *v;
	unsigned int i, k;

	FZ_CHECK(vmm_va_set_valid(&z->set));
	FZ_CHECK(z->set.count == z->n);
	FZ_CHECK(z->live_nodes == z->n);
	for (i = 0, v = vmm_va_set_first_from(&z->set, 0); v; v = vmm_va_set_next(&z->set, v), i++) {
		FZ_CHECK(i < z->n);
		FZ_CHECK(fz_same(v, &z->m[i]));
	}
	FZ_CHECK(i == z->n);
	/* The tree (not the list) answers these: probe around a few mappings
	 * (a different few at every step). */
	for (i = 0; i < z->n && i < 6; i++) {
		const struct fz_map *m = &z->m[(i + fz_step * 7) % z->n];
		uint64_t probe[4] = { m->va, fz_end(m) - 1, m->va - 1, fz_end(m) };

		for (k = 0; k < 4; k++) {
			int want = fz_find(z, probe[k]);
			struct vmm_va *l = vmm_va_set_lookup(&z->set, probe[k]);
			struct vmm_va *f = vmm_va_set_first_from(&z->set, probe[k]);
			unsigned int j;

			FZ_CHECK(want < 0 ? l == NULL : l && fz_same(l, &z->m[want]));
			/* first_from: the first mapping ending above the address */
			for (j = 0; j < z->n && fz_end(&z->m[j]) <= probe[k]; j++)
				;
			FZ_CHECK(j == z->n ? f == NULL : f && fz_same(f, &z->m[j]));
			f = vmm_va_set_floor(&z->set, probe[k]);
			for (j = z->n; j > 0 && z->m[j - 1].va > probe[k]; j--)
				;
			FZ_CHECK(j == 0 ? f == NULL : f && fz_same(f, &z->m[j - 1]));
		}
	}
	FZ_CHECK(fa_test_warnings() == 0);
}

/* The retired list holds exactly the nodes the model removed, in order;
 * free them (cleanup stage). */
static void fz_check_retired(struct fz *z, struct fa_list *retired)
{
	struct fa_list *pos, *nx;
	unsigned int i = 0;

	fa_list_for_each_safe(pos, nx, retired) {
		struct vmm_va *v = vmm_va_entry(pos);

		FZ_CHECK(i < z->ngone);
		FZ_CHECK(fz_same(v, &z->gone[i]));
		FZ_CHECK(v->cut_va == z->gone[i].cut_va && v->cut_size == z->gone[i].cut_size);
		fa_list_del_init(pos);
		free(v);
		z->live_nodes--;
		i++;
	}
	FZ_CHECK(i == z->ngone);
}

/* An address: mostly on a small page lattice around the input's base. */
static uint64_t fz_addr(struct fz_in *in, const struct fz *z)
{
	unsigned int how = fz_byte(in);

	if (how < 200)
		return z->base + ((fz_u16(in) & 0x3ff) << 12);
	if (how < 230)
		return z->base + (fz_u16(in) << (fz_byte(in) % 24));
	return fz_u16(in) << 48 | fz_u16(in) << 32 | fz_u16(in) << 16 | fz_u16(in);
}

static uint64_t fz_size(struct fz_in *in)
{
	unsigned int how = fz_byte(in);

	if (how < 120)
		return (1 + (fz_byte(in) & 0x3f)) << 12;
	if (how < 200)
		return (1ull + (fz_byte(in) & 0x7)) << (12 + fz_byte(in) % 10);
	if (how < 215)
		return 0;
	if (how < 235)
		return fz_u16(in) << (fz_byte(in) % 64);
	return ~0ull - fz_u16(in);
}

static unsigned int fz_shift(struct fz_in *in)
{
	static const unsigned int common[4] = { 12, 16, 21, 12 };
	unsigned int b = fz_byte(in);

	return b < 200 ? common[b & 3] : b % 71;
}

/* A map request; @near: continue (or overlap) an existing mapping. */
static void fz_req(struct fz_in *in, const struct fz *z, struct fz_map *r)
{
	memset(r, 0, sizeof(*r));
	r->shift = fz_shift(in);
	r->bo = fz_bo[fz_byte(in) % FZ_BOS];
	r->flags = fz_byte(in) % 4 == 0;
	if (z->n && fz_byte(in) % 2) {
		/* at, just before or just after a mapping, continuing its offsets */
		const struct fz_map *m = &z->m[fz_byte(in) % z->n];
		int64_t d = ((int64_t)(fz_byte(in) % 32) - 16) * 4096;

		r->va = m->va + (uint64_t)d;
		r->size = fz_size(in);
		r->bo = m->bo;
		r->off = m->off + (uint64_t)d;
		r->shift = fz_byte(in) % 4 ? m->shift : r->shift;
		r->flags = fz_byte(in) % 8 ? m->flags : m->flags ^ 1;
		return;
	}
	r->va = fz_addr(in, z);
	r->size = fz_size(in);
	r->off = fz_byte(in) % 2 ? (uint64_t)(fz_byte(in) & 0x3f) << 12 : r->va - z->base;
}

/* The set's request for @p r; every other byte of the node is @p junk. */
static void fz_req_node(const struct fz_map *r, int junk, struct vmm_va *req)
{
	memset(req, junk, sizeof(*req));
	req->va = r->va;
	req->size = r->size;
	req->bo = r->bo;
	req->bo_offset = r->off;
	req->page_shift = r->shift;
	req->flags = r->flags;
}

static void fz_op(struct fz_in *in, struct fz *z)
{
	unsigned int op = fz_byte(in) % 8;
	struct vmm_va_alloc a = { fz_take, fz_inserted, z };
	struct fa_list retired;
	struct fz_map r, got;
	struct vmm_va req, *node;
	uint64_t va, size;
	unsigned int i;
	int want, err;

	fa_list_init(&retired);
	z->ngone = z->nnew = 0;
	z->taken = z->inserted = 0;
	switch (op) {
	case 0: case 1: case 2: /* map */
		fz_req(in, z, &r);
		fz_req_node(&r, 0x5A, &req); /* only the documented fields are read */
		want = fz_expect_map(z, &r);
		err = vmm_va_set_check_map(&z->set, &req);
		FZ_CHECK(err == want);
		if (err || z->n + 3 > FZ_MAX)
			break;
		got = fz_model_map(z, &r);
		node = vmm_va_set_map(&z->set, &req, &a, &retired);
		FZ_CHECK(node != NULL && fz_same(node, &got));
		FZ_CHECK(z->taken == z->nnew && z->taken <= VMM_VA_NODES_PER_MAP);
		FZ_CHECK(z->inserted == z->taken);
		fz_check_retired(z, &retired);
		break;
	case 3: case 4: /* unmap */
		if (z->n && fz_byte(in) % 2) {
			const struct fz_map *m = &z->m[fz_byte(in) % z->n];

			va = m->va + ((uint64_t)(fz_byte(in) % 16) << 12) - (8ull << 12);
			size = fz_size(in);
		} else {
			va = fz_addr(in, z);
			size = fz_size(in);
		}
		want = fz_expect_unmap(z, va, size);
		err = vmm_va_set_check_unmap(&z->set, va, size);
		FZ_CHECK(err == want);
		if (err || z->n + 2 > FZ_MAX)
			break;
		fz_model_carve(z, va, va + size, va, va + size);
		vmm_va_set_unmap(&z->set, va, size, &a, &retired);
		FZ_CHECK(z->taken == z->nnew && z->taken <= VMM_VA_NODES_PER_UNMAP);
		FZ_CHECK(z->inserted == z->taken);
		fz_check_retired(z, &retired);
		break;
	case 5: /* tear-down of one mapping */
		if (!z->n)
			break;
		i = fz_byte(in) % z->n;
		node = vmm_va_set_lookup(&z->set, z->m[i].va);
		FZ_CHECK(node && fz_same(node, &z->m[i]));
		vmm_va_set_remove(&z->set, node);
		free(node);
		z->live_nodes--;
		memmove(&z->m[i], &z->m[i + 1], (z->n - i - 1) * sizeof(z->m[0]));
		z->n--;
		break;
	case 6: /* lookups anywhere */
		for (i = 0; i < 4; i++) {
			int w;

			va = fz_addr(in, z) + fz_byte(in) - 128;
			w = fz_find(z, va);
			node = vmm_va_set_lookup(&z->set, va);
			FZ_CHECK(w < 0 ? node == NULL : node && fz_same(node, &z->m[w]));
		}
		break;
	default: /* a request checked twice (the tree splays) changes nothing */
		fz_req(in, z, &r);
		fz_req_node(&r, 0, &req);
		want = fz_expect_map(z, &r);
		FZ_CHECK(vmm_va_set_check_map(&z->set, &req) == want);
		FZ_CHECK(vmm_va_set_check_map(&z->set, &req) == want);
		want = fz_expect_unmap(z, r.va, r.size);
		FZ_CHECK(vmm_va_set_check_unmap(&z->set, r.va, r.size) == want);
		break;
	}
	FZ_CHECK(z->taken == 0 || op <= 4);
	fz_compare(z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz z;
	static const uint64_t bases[4] = { 0, 1ull << 32, (1ull << 40) + (7ull << 21), 0 - (8ull << 20) };
	struct fz_in in = { data, size };
	struct fa_list *pos, *nx;
	unsigned int pol = fz_byte(&in);

	fz_step = 0;
	memset(&z, 0, sizeof(z));
	vmm_va_set_init(&z.set);
	z.merge = pol & 1;
	switch ((pol >> 1) & 3) {
	case 0:
		z.sizes = 0; /* any page size below 2^64 */
		break;
	case 1:
		z.sizes = (1ull << 12) | (1ull << 16) | (1ull << 21); /* NVIDIA ver2/ver3 */
		break;
	default:
		z.sizes = fz_u16(&in) << 48 | fz_u16(&in) << 32 | fz_u16(&in) << 16 | fz_u16(&in);
		break;
	}
	z.base = bases[(pol >> 3) & 3];
	vmm_va_set_config(&z.set, z.merge, z.sizes);
	while (in.n > 0 && fz_step < FZ_STEPS) {
		fz_step++;
		fz_op(&in, &z);
	}
	fa_list_for_each_safe(pos, nx, &z.set.list) {
		struct vmm_va *v = vmm_va_entry(pos);

		vmm_va_set_remove(&z.set, v);
		free(v);
	}
	FZ_CHECK(z.set.count == 0 && z.set.root == NULL);
	return 0;
}
