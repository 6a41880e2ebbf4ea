/* SPDX-License-Identifier: MIT */
/*
 * Reference model for the buddy allocator: one byte per chunk (free dirty,
 * free "possibly clear", allocated) plus the list of live allocations. Shared
 * by the unit test and the fuzzer. It knows nothing about blocks: it answers
 * "is this range free", "is there an aligned free range of this length", and
 * records what was allocated, so the buddy's answers can be checked.
 *
 * Checks done on every allocation the buddy reports (bm_on_alloc):
 *   inside [start, end), aligned, not overlapping anything live,
 *   "cleared" only if every chunk was freed as cleared.
 * On a failure the buddy reports, the caller asks the model whether a place
 * existed (bm_has_place) where the buddy's search is exhaustive.
 */
#ifndef BUDDY_MODEL_H
#define BUDDY_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { BM_DIRTY = 0, BM_CLEAR = 1, BM_USED = 2 };

struct bm_alloc {
	uint64_t pos, len; /* chunks */
};

struct bm_model {
	uint64_t n;              /* chunks */
	uint8_t *st;             /* per chunk state */
	struct bm_alloc *live;   /* live allocations */
	size_t nlive, cap;
	uint64_t nfree, nclear;
};

static inline void bm_init(struct bm_model *m, uint64_t n)
{
	m->n = n;
	m->st = (uint8_t *)calloc(n, 1);
	m->cap = 1024;
	m->live = (struct bm_alloc *)malloc(m->cap * sizeof(*m->live));
	m->nlive = 0;
	m->nfree = n;
	m->nclear = 0;
}

static inline void bm_fini(struct bm_model *m)
{
	free(m->st);
	free(m->live);
}

static inline bool bm_range_free(const struct bm_model *m, uint64_t a, uint64_t e)
{
	for (; a < e; a++)
		if (m->st[a] == BM_USED)
			return false;
	return true;
}

/* Is there a free run of len chunks at a 2^align-aligned start inside [rs, re)? */
static inline bool bm_has_place(const struct bm_model *m, uint64_t len, unsigned int align,
				uint64_t rs, uint64_t re)
{
	uint64_t step = (uint64_t)1 << align, p = (rs + step - 1) & ~(step - 1), run = 0, i;

	/* Sliding check: free-run length ending at each chunk. */
	for (i = rs; i < re; i++) {
		run = m->st[i] == BM_USED ? 0 : run + 1;
		if (run >= len) {
			uint64_t s = i + 1 - len;

			if ((s & (step - 1)) == 0 && s >= p)
				return true;
		}
	}
	return false;
}

/* Returns an error string, or NULL when the allocation is legal. Records it. */
static inline const char *bm_on_alloc(struct bm_model *m, uint64_t pos, uint64_t len,
				      unsigned int align, uint64_t rs, uint64_t re, bool cleared)
{
	uint64_t i;

	if (pos < rs || pos + len > re || pos + len < pos)
		return "allocation outside the requested range";
	if (pos & (((uint64_t)1 << align) - 1))
		return "allocation misaligned";
	for (i = pos; i < pos + len; i++) {
		if (m->st[i] == BM_USED)
			return "allocation overlaps a live one";
		if (cleared && m->st[i] != BM_CLEAR)
			return "reported cleared but some chunk was dirty";
	}
	for (i = pos; i < pos + len; i++) {
		if (m->st[i] == BM_CLEAR)
			m->nclear--;
		m->st[i] = BM_USED;
	}
	m->nfree -= len;
	if (m->nlive == m->cap) {
		m->cap *= 2;
		m->live = (struct bm_alloc *)realloc(m->live, m->cap * sizeof(*m->live));
	}
	m->live[m->nlive].pos = pos;
	m->live[m->nlive].len = len;
	m->nlive++;
	return NULL;
}

/* Forget live allocation idx and mark its chunks free (clear or dirty). */
static inline void bm_on_free(struct bm_model *m, size_t idx, bool clear)
{
	struct bm_alloc a = m->live[idx];
	uint64_t i;

	for (i = a.pos; i < a.pos + a.len; i++)
		m->st[i] = clear ? BM_CLEAR : BM_DIRTY;
	m->nfree += a.len;
	if (clear)
		m->nclear += a.len;
	m->live[idx] = m->live[--m->nlive];
}

/* Shrink live allocation idx to new_len chunks, freeing the tail. */
static inline void bm_on_trim(struct bm_model *m, size_t idx, uint64_t new_len, bool clear)
{
	struct bm_alloc *a = &m->live[idx];
	uint64_t i;

	for (i = a->pos + new_len; i < a->pos + a->len; i++)
		m->st[i] = clear ? BM_CLEAR : BM_DIRTY;
	m->nfree += a->len - new_len;
	if (clear)
		m->nclear += a->len - new_len;
	a->len = new_len;
}

#endif /* BUDDY_MODEL_H */
