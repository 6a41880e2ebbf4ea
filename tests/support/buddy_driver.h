/* SPDX-License-Identifier: MIT */
/*
 * One random operation on a buddy allocator, checked against the chunk model
 * (buddy_model.h). Shared by the model-based unit test and the fuzzer: the
 * operation is decoded from a stream of 64-bit values (PRNG output or fuzzer
 * bytes), so both explore the same space. Returns NULL when everything agrees,
 * else a description of the disagreement.
 *
 * After every operation: fa_buddy_check(), avail equal to the model's free
 * chunks, clear_avail never above what the model knows to be clear.
 * Success/failure is asserted both ways where the buddy's search is
 * exhaustive (natural alignment, exact ranges) and one way elsewhere (if the
 * model has no place, the buddy must fail too).
 */
#ifndef BUDDY_DRIVER_H
#define BUDDY_DRIVER_H

#include <fencealloc/buddy.h>

#include "buddy_model.h"

struct bd_src {
	uint64_t (*next)(void *ctx);
	void *ctx;
};

struct bd_state {
	struct fa_buddy *b;
	struct bm_model *m;
	uint64_t base, chunk;      /* chunk bytes */
	unsigned long ops, misses; /* misses: buddy failed though the model had room */
	struct fa_buddy_block blk[64];
};

static inline uint64_t bd_below(const struct bd_src *s, uint64_t n)
{
	return n ? s->next(s->ctx) % n : 0;
}

/* Pick a random request range [rs, re) in chunks (usually the whole space). */
static inline void bd_range(const struct bd_src *s, uint64_t n, uint64_t *rs, uint64_t *re)
{
	if (bd_below(s, 3)) {
		*rs = 0;
		*re = n;
		return;
	}
	*rs = bd_below(s, n);
	*re = *rs + 1 + bd_below(s, n - *rs);
}

static inline const char *bd_check(struct bd_state *d)
{
	const char *why = NULL;

	if (fa_buddy_check(d->b, &why))
		return why;
	if (d->b->avail != d->m->nfree)
		return "avail differs from the model";
	if (d->b->clear_avail > d->m->nclear)
		return "clear_avail above what was freed as cleared";
	return NULL;
}

/* Free aligned 2^o units fully free inside [rs, re), in the model. */
static inline uint64_t bd_model_units(const struct bm_model *m, unsigned int o, uint64_t rs, uint64_t re)
{
	uint64_t u = (uint64_t)1 << o, p = (rs + u - 1) & ~(u - 1), cnt = 0;

	for (; p + u <= re; p += u)
		if (bm_range_free(m, p, p + u))
			cnt++;
	return cnt;
}

static inline const char *bd_alloc_one(struct bd_state *d, const struct bd_src *s)
{
	struct fa_buddy_req r;
	uint64_t n = d->m->n, rs, re, len, addr = 0, pos;
	unsigned int kind = (unsigned int)bd_below(s, 4), align = 0, mo;
	bool cl = false, exhaustive;
	int ret;
	const char *err;

	bd_range(s, n, &rs, &re);
	r.flags = (unsigned int)bd_below(s, 8) & (FA_BUDDY_TOPDOWN | FA_BUDDY_CLEAR);
	r.min_block = 0;
	r.align = 0;
	if (kind == 0 || kind == 1) {           /* power of two, maybe over-aligned */
		unsigned int k = (unsigned int)bd_below(s, fa_fls64(n));

		len = (uint64_t)1 << k;
		align = k;
		exhaustive = true;
		if (kind == 1 && bd_below(s, 2)) {
			align = k + 1 + (unsigned int)bd_below(s, 4);
			r.align = d->chunk << align;
			exhaustive = false;
		}
	} else if (kind == 2) {                 /* contiguous, any length */
		len = 1 + bd_below(s, bd_below(s, 2) ? 8 : n);
		r.flags |= FA_BUDDY_CONTIGUOUS;
		exhaustive = false;
		if (bd_below(s, 4) == 0) {
			align = (unsigned int)bd_below(s, 4);
			r.align = d->chunk << align;
		}
		if (bd_below(s, 4) == 0) {      /* exact range */
			rs = bd_below(s, n);
			re = rs + 1 + bd_below(s, fa_min_u64(n - rs, 64));
			len = re - rs;
			align = 0;
			r.align = 0;
			exhaustive = true;
		}
	} else {                                /* non-contiguous blocks */
		unsigned int cnt = 0, i, maxo = 1 + (unsigned int)bd_below(s, 64);

		mo = (unsigned int)bd_below(s, 3);
		len = ((uint64_t)1 + bd_below(s, 16)) << mo;
		r.min_block = d->chunk << mo;
		r.size = len * d->chunk;
		r.start = d->base + rs * d->chunk;
		r.end = re == n ? 0 : d->base + re * d->chunk;
		r.align = 0;
		ret = fa_buddy_alloc_blocks(d->b, &r, d->blk, maxo, &cnt);
		if (ret == -FA_ERANGE)
			return len > n ? NULL : "alloc_blocks: unexpected ERANGE";
		if (ret == -FA_EINVAL)
			return re - rs < len ? NULL : "alloc_blocks: unexpected EINVAL";
		if (ret == -FA_ENOSPC)
			return bd_model_units(d->m, mo, rs, re) >= len >> mo ?
				"alloc_blocks failed with enough free min-blocks in range" : NULL;
		if (ret == -FA_EOVERFLOW)
			return NULL;
		if (ret)
			return "alloc_blocks: unexpected error";
		if (cnt == 0 || cnt > maxo)
			return "alloc_blocks: block count outside [1, max_out]";
		for (i = 0; i < cnt; i++) {
			uint64_t bl = d->blk[i].size / d->chunk;

			len -= bl;
			if (d->blk[i].size < r.min_block || !fa_is_pow2(bl))
				return "alloc_blocks: bad block size";
			err = bm_on_alloc(d->m, (d->blk[i].addr - d->base) / d->chunk, bl,
					  (unsigned int)fa_ilog2_u64(bl), rs, re, d->blk[i].cleared);
			if (err)
				return err;
		}
		return len ? "alloc_blocks: sizes do not add up" : NULL;
	}
	r.size = len * d->chunk;
	r.start = d->base + rs * d->chunk;
	r.end = re == n ? 0 : d->base + re * d->chunk;
	ret = fa_buddy_alloc_req(d->b, &r, &addr, &cl);
	if (ret == -FA_ERANGE)
		return len > n ? NULL : "alloc: unexpected ERANGE";
	if (ret == -FA_EINVAL) {
		if (re - rs < len || (re - rs == len && (rs & (((uint64_t)1 << align) - 1))))
			return NULL;
		return "alloc: unexpected EINVAL";
	}
	if (ret == -FA_ENOSPC) {
		bool place = bm_has_place(d->m, len, align, rs, re);

		if (place && exhaustive)
			return "alloc failed although the model has a place";
		if (place)
			d->misses++;
		return NULL;
	}
	if (ret)
		return "alloc: unexpected error";
	pos = (addr - d->base) / d->chunk;
	return bm_on_alloc(d->m, pos, len, align, rs, re, cl);
}

static inline const char *bd_free_one(struct bd_state *d, const struct bd_src *s)
{
	size_t idx;
	struct bm_alloc a;
	bool clear = bd_below(s, 2) != 0;
	int ret;

	if (!d->m->nlive)
		return NULL;
	idx = (size_t)bd_below(s, d->m->nlive);
	a = d->m->live[idx];
	if (bd_below(s, 4) == 0 && a.len > 1) {       /* trim */
		uint64_t nl = 1 + bd_below(s, a.len);

		ret = fa_buddy_trim(d->b, d->base + a.pos * d->chunk, a.len * d->chunk, nl * d->chunk,
				    clear ? FA_BUDDY_CLEARED : 0);
		if (ret)
			return "trim of a live allocation failed";
		bm_on_trim(d->m, idx, nl, clear);
		return NULL;
	}
	ret = fa_buddy_free_flags(d->b, d->base + a.pos * d->chunk, a.len * d->chunk,
				  clear ? FA_BUDDY_CLEARED : 0);
	if (ret)
		return "free of a live allocation failed";
	bm_on_free(d->m, idx, clear);
	/* the same range again must be refused and change nothing */
	if (bd_below(s, 4) == 0) {
		uint64_t av = d->b->avail, cav = d->b->clear_avail;

		ret = fa_buddy_free(d->b, d->base + a.pos * d->chunk, a.len * d->chunk);
		if (ret == 0)
			return "double free accepted";
		if (ret != -FA_EALREADY && ret != -FA_EINVAL)
			return "double free: unexpected error code";
		if (av != d->b->avail || cav != d->b->clear_avail)
			return "refused double free changed the counters";
	}
	return NULL;
}

/* A free of a random range that is not a live allocation must be refused. */
static inline const char *bd_bad_free(struct bd_state *d, const struct bd_src *s)
{
	uint64_t n = d->m->n, p = bd_below(s, n), l = 1 + bd_below(s, fa_min_u64(n - p, 16)), av = d->b->avail;
	size_t i;
	int ret;

	for (i = 0; i < d->m->nlive; i++) {
		uint64_t a = d->m->live[i].pos, e = a + d->m->live[i].len;

		if (p < e && a < p + l)
			return NULL; /* overlaps something live: it might be legal (sub-blocks) */
	}
	ret = fa_buddy_free(d->b, d->base + p * d->chunk, l * d->chunk);
	if (ret != -FA_EALREADY)
		return "free of free memory not refused with EALREADY";
	return av == d->b->avail ? NULL : "refused free changed avail";
}

/* fa_buddy_reset_clear(): every free chunk becomes clear (or dirty). */
static inline const char *bd_reset_clear(struct bd_state *d, const struct bd_src *s)
{
	bool clear = bd_below(s, 2) != 0;
	uint64_t i;

	fa_buddy_reset_clear(d->b, clear);
	for (i = 0; i < d->m->n; i++)
		if (d->m->st[i] != BM_USED)
			d->m->st[i] = clear ? BM_CLEAR : BM_DIRTY;
	d->m->nclear = clear ? d->m->nfree : 0;
	if (d->b->clear_avail != d->m->nclear)
		return "reset_clear: clear_avail wrong";
	return NULL;
}

static inline const char *bd_step(struct bd_state *d, const struct bd_src *s)
{
	const char *err;
	unsigned int op = (unsigned int)bd_below(s, 64);

	d->ops++;
	if (op < 28)
		err = bd_alloc_one(d, s);
	else if (op < 60)
		err = bd_free_one(d, s);
	else if (op < 63)
		err = bd_bad_free(d, s);
	else
		err = bd_reset_clear(d, s);
	return err ? err : bd_check(d);
}

#endif /* BUDDY_DRIVER_H */
