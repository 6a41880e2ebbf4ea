/* SPDX-License-Identifier: MIT */
/*
 * Reference model and checkers for pt.h (Criterion tests only).
 *
 * The model is a dictionary over a VA window: per page size, per slot, the
 * reference count and the mapping (pa, attr). From it follow the expected
 * result of every operation, the set of tables that must exist (a table of
 * level l exists iff some referenced slot of a page size whose chain passes
 * through l lies in the VA block it translates), what translate must return,
 * and how many tables each unref releases. The checkers compare the tree's
 * shadow and the raw table memory with the model.
 *
 * Uses Criterion's cr_assert / cr_assert_eq; a user without Criterion (the
 * fuzzer) defines PT_MODEL_NO_CRITERION and its own versions of both.
 */
#ifndef PT_MODEL_H
#define PT_MODEL_H

#ifndef PT_MODEL_NO_CRITERION
#include <criterion/criterion.h>
#endif

#include "pt_alloc.h"

struct pt_mslot {
	uint32_t refs;
	uint32_t attr;
	uint64_t pa;
	uint8_t mapped;
	uint8_t sparse; /* written with fa_pt_sparse() (not mapped) */
};

struct pt_model {
	const struct fa_pt_format *f;
	uint64_t base, size; /* VA window */
	struct fa__pt_chain chain[FA_PT_MAX_PAGES];
	struct pt_mslot *slot[FA_PT_MAX_PAGES];
	uint64_t nslot[FA_PT_MAX_PAGES];
	uint32_t *blk[FA_PT_MAX_LEVELS];
	uint64_t nblk[FA_PT_MAX_LEVELS];
	uint64_t tables[FA_PT_MAX_LEVELS]; /* below the root */
	uint64_t pend_epoch[64];
	uint64_t pend_count[64];
	unsigned int npend;
};

static inline unsigned int pt_cover(const struct fa_pt_format *f, unsigned int l)
{
	return f->level[l].shift + f->level[l].bits;
}

static inline void pt_model_init(struct pt_model *m, const struct fa_pt_format *f, uint64_t base,
				 uint64_t size)
{
	unsigned int p, l;

	memset(m, 0, sizeof(*m));
	m->f = f;
	m->base = base;
	m->size = size;
	for (p = 0; p < f->npages; p++) {
		fa__pt_chain_make(f, p, &m->chain[p]);
		m->nslot[p] = size >> f->page[p].shift;
		m->slot[p] = (struct pt_mslot *)calloc(m->nslot[p], sizeof(struct pt_mslot));
		cr_assert(m->slot[p]);
	}
	for (l = 1; l < f->nlevels; l++) {
		m->nblk[l] = (size >> pt_cover(f, l)) + 2;
		m->blk[l] = (uint32_t *)calloc(m->nblk[l], sizeof(uint32_t));
		cr_assert(m->blk[l]);
	}
}

static inline void pt_model_destroy(struct pt_model *m)
{
	unsigned int i;

	for (i = 0; i < FA_PT_MAX_PAGES; i++)
		free(m->slot[i]);
	for (i = 0; i < FA_PT_MAX_LEVELS; i++)
		free(m->blk[i]);
}

static inline struct pt_mslot *pt_model_slot(struct pt_model *m, unsigned int p, uint64_t va)
{
	uint64_t i = (va - m->base) >> m->f->page[p].shift;

	cr_assert(va >= m->base && i < m->nslot[p], "va 0x%llx outside the window",
		  (unsigned long long)va);
	return &m->slot[p][i];
}

static inline uint64_t pt_model_total_tables(const struct pt_model *m)
{
	uint64_t t = 0;
	unsigned int l;

	for (l = 0; l < FA_PT_MAX_LEVELS; l++)
		t += m->tables[l];
	return t;
}

/* A slot of page p at va went 0 -> 1 (delta +1) or 1 -> 0 (delta -1). */
static inline void pt_model_blocks(struct pt_model *m, unsigned int p, uint64_t va, int delta)
{
	const struct fa__pt_chain *c = &m->chain[p];
	unsigned int d;

	for (d = 1; d <= c->depth; d++) {
		unsigned int l = c->lvl[d], cs = pt_cover(m->f, l);
		uint64_t b = (va >> cs) - (m->base >> cs);

		cr_assert(b < m->nblk[l]);
		if (delta > 0) {
			if (m->blk[l][b]++ == 0)
				m->tables[l]++;
		} else {
			cr_assert(m->blk[l][b] > 0);
			if (--m->blk[l][b] == 0)
				m->tables[l]--;
		}
	}
}

/* Page q's level lies on page p's chain above p's table (a huge slot on p's path). */
static inline int pt_model_is_ancestor(const struct pt_model *m, unsigned int q, unsigned int p)
{
	const struct fa__pt_chain *c = &m->chain[p];
	unsigned int d, lq = m->f->page[q].level;

	for (d = 0; d < c->depth; d++)
		if (c->lvl[d] == lq)
			return 1;
	return 0;
}

/* Expected result of fa_pt_ref(p, [va, end)) for in-window arguments. */
static inline int pt_model_ref_result(struct pt_model *m, unsigned int p, uint64_t va,
				      uint64_t end)
{
	const struct fa_pt_format *f = m->f;
	unsigned int q, l = f->page[p].level, s;
	uint64_t ps = FA_BIT64(f->page[p].shift), x;

	/* (a) a referenced huge slot on the path */
	for (q = 0; q < f->npages; q++) {
		uint64_t qs;

		if (!pt_model_is_ancestor(m, q, p))
			continue;
		qs = FA_BIT64(f->page[q].shift);
		for (x = va & ~(qs - 1); x < end; x += qs)
			if (pt_model_slot(m, q, x)->refs)
				return -FA_EBUSY;
	}
	/* (b) a table below a huge slot to reference */
	for (s = 0; s < f->level[l].nsub; s++) {
		unsigned int cl = f->level[l].sub[s], cs = pt_cover(f, cl);

		for (x = va; x < end; x += ps)
			if (m->blk[cl][(x >> cs) - (m->base >> cs)])
				return -FA_EBUSY;
	}
	for (x = va; x < end; x += ps)
		if (pt_model_slot(m, p, x)->refs >= 0xffff)
			return -FA_EOVERFLOW;
	return 0;
}

static inline void pt_model_ref(struct pt_model *m, unsigned int p, uint64_t va, uint64_t end)
{
	uint64_t ps = FA_BIT64(m->f->page[p].shift), x;

	for (x = va; x < end; x += ps)
		if (pt_model_slot(m, p, x)->refs++ == 0)
			pt_model_blocks(m, p, x, +1);
}

static inline int pt_model_all_refd(struct pt_model *m, unsigned int p, uint64_t va, uint64_t end)
{
	uint64_t ps = FA_BIT64(m->f->page[p].shift), x;

	for (x = va; x < end; x += ps)
		if (!pt_model_slot(m, p, x)->refs)
			return 0;
	return 1;
}

/* Returns how many tables the unref releases. */
static inline uint64_t pt_model_unref(struct pt_model *m, unsigned int p, uint64_t va,
				      uint64_t end, uint64_t epoch)
{
	uint64_t ps = FA_BIT64(m->f->page[p].shift), x, before = pt_model_total_tables(m), rel;

	for (x = va; x < end; x += ps) {
		struct pt_mslot *s = pt_model_slot(m, p, x);

		cr_assert(s->refs > 0);
		if (--s->refs == 0) {
			cr_assert(!s->mapped, "test bug: unref of a mapped slot");
			pt_model_blocks(m, p, x, -1);
		}
	}
	rel = before - pt_model_total_tables(m);
	if (rel) {
		if (m->npend && m->pend_epoch[m->npend - 1] == epoch) {
			m->pend_count[m->npend - 1] += rel;
		} else {
			cr_assert(m->npend < 64);
			m->pend_epoch[m->npend] = epoch;
			m->pend_count[m->npend++] = rel;
		}
	}
	return rel;
}

/* Tables the model expects a reclaim(completed) to free. */
static inline uint64_t pt_model_reclaim(struct pt_model *m, uint64_t completed)
{
	uint64_t n = 0;
	unsigned int i, k = 0;

	for (i = 0; i < m->npend; i++) {
		if (m->pend_epoch[i] <= completed) {
			n += m->pend_count[i];
		} else {
			m->pend_epoch[k] = m->pend_epoch[i];
			m->pend_count[k++] = m->pend_count[i];
		}
	}
	m->npend = k;
	return n;
}

static inline uint64_t pt_model_pending(const struct pt_model *m)
{
	uint64_t n = 0;
	unsigned int i;

	for (i = 0; i < m->npend; i++)
		n += m->pend_count[i];
	return n;
}

static inline void pt_model_map(struct pt_model *m, unsigned int p, uint64_t va, uint64_t end,
				uint64_t pa, uint32_t attr)
{
	uint64_t ps = FA_BIT64(m->f->page[p].shift), x;

	for (x = va; x < end; x += ps, pa += ps) {
		struct pt_mslot *s = pt_model_slot(m, p, x);

		s->mapped = 1;
		s->sparse = 0;
		s->pa = pa;
		s->attr = attr & m->f->pte_attr_mask;
	}
}

static inline void pt_model_unmap(struct pt_model *m, unsigned int p, uint64_t va, uint64_t end)
{
	uint64_t ps = FA_BIT64(m->f->page[p].shift), x;

	for (x = va; x < end; x += ps) {
		pt_model_slot(m, p, x)->mapped = 0;
		pt_model_slot(m, p, x)->sparse = 0;
	}
}

static inline void pt_model_sparse(struct pt_model *m, unsigned int p, uint64_t va, uint64_t end)
{
	uint64_t ps = FA_BIT64(m->f->page[p].shift), x;

	for (x = va; x < end; x += ps) {
		pt_model_slot(m, p, x)->mapped = 0;
		pt_model_slot(m, p, x)->sparse = 1;
	}
}

/* translate(va) must agree with the largest page covering va that is mapped
 * or sparse (a sparse PTE ends the walk, like a valid one: under a dual PD0
 * entry a sparse big PTE hides the small table). */
static inline void pt_model_check_va(struct pt_model *m, const struct fa_pt *pt, uint64_t va)
{
	const struct fa_pt_format *f = m->f;
	struct fa_pt_xlate x;
	int p, err = fa_pt_translate(pt, va, &x);

	for (p = (int)f->npages - 1; p >= 0; p--) {
		struct pt_mslot *s = pt_model_slot(m, (unsigned int)p, va);

		if (s->sparse) {
			cr_assert_eq(err, -FA_ENOENT);
			cr_assert_eq(x.type, FA_PT_ENTRY_SPARSE, "%s: va 0x%llx sparse (page %d), got %d",
				     f->name, (unsigned long long)va, p, x.type);
			return;
		}
		if (s->mapped) {
			uint64_t off = va & (FA_BIT64(f->page[p].shift) - 1);

			cr_assert_eq(err, 0, "%s: va 0x%llx mapped (page %d) but translate says %d",
				     f->name, (unsigned long long)va, p, err);
			cr_assert_eq(x.pa, s->pa + off, "%s: va 0x%llx pa 0x%llx expected 0x%llx",
				     f->name, (unsigned long long)va, (unsigned long long)x.pa,
				     (unsigned long long)(s->pa + off));
			cr_assert_eq(x.attr, s->attr);
			cr_assert_eq(x.page_shift, f->page[p].shift);
			return;
		}
	}
	cr_assert_eq(err, -FA_ENOENT, "%s: va 0x%llx unmapped but translate says %d (pa 0x%llx)",
		     f->name, (unsigned long long)va, err, (unsigned long long)x.pa);
}

/* ---- shadow / raw memory cross-check ---- */

static inline void pt_raw_entry(const struct pt_vram *v, const struct fa_pt_format *f,
				const struct fa_pt_node *n, unsigned int idx, uint64_t raw[2])
{
	uint64_t off = n->addr - v->base + ((uint64_t)idx << f->level[n->level].entry_log2);

	memcpy(&raw[0], v->mem + off, 8);
	raw[1] = f->invalid;
	if (f->level[n->level].entry_log2 == 4)
		memcpy(&raw[1], v->mem + off + 8, 8);
}

struct pt_walk_counts {
	uint64_t nodes[FA_PT_MAX_LEVELS];
};

static inline void pt_check_node(const struct pt_vram *v, struct pt_model *m,
				 const struct fa_pt_node *n, struct pt_walk_counts *wc)
{
	const struct fa_pt_format *f = m->f;
	const struct fa_pt_level *lv = &f->level[n->level];
	unsigned int idx, s, entries = 1u << lv->bits;
	uint32_t used = 0, multi = 0;
	int p = -1;
	unsigned int q;

	wc->nodes[n->level]++;
	cr_assert(pt_vram_is_live(v, n->addr), "node table 0x%llx not allocated",
		  (unsigned long long)n->addr);
	cr_assert(fa_is_aligned(n->addr, FA_BIT64(lv->align_log2)));
	for (q = 0; q < f->npages; q++)
		if (f->page[q].level == n->level)
			p = (int)q;
	for (idx = 0; idx < entries; idx++) {
		uint64_t raw[2];
		struct fa_pt_entry e;
		uint64_t va = n->va + ((uint64_t)idx << lv->shift);
		unsigned int present = 0;

		pt_raw_entry(v, f, n, idx, raw);
		fa_pt_entry_decode(f, n->level, raw, &e);
		for (s = 0; s < lv->nsub; s++) {
			const struct fa_pt_node *ch = n->child[(size_t)idx * lv->nsub + s];

			if (!ch)
				continue;
			present |= 1u << s;
			used++;
			cr_assert_eq(ch->parent, n);
			cr_assert_eq(ch->index, idx);
			cr_assert_eq(ch->level, lv->sub[s]);
			cr_assert_eq(ch->va, va);
			cr_assert_eq(e.type, FA_PT_ENTRY_PDE, "level %u idx %u: child but raw type %d",
				     n->level, idx, e.type);
			cr_assert_eq(e.sub[s], ch->addr);
			pt_check_node(v, m, ch, wc);
		}
		if (lv->nsub && present)
			cr_assert_eq(e.present, present, "level %u idx %u raw present %x shadow %x",
				     n->level, idx, e.present, present);
		if (!lv->pte) {
			if (!present)
				cr_assert_eq(e.type, FA_PT_ENTRY_INVALID);
			continue;
		}
		/* PTE-capable slot */
		cr_assert_eq(!!(n->refmap[idx >> 5] & (1u << (idx & 31))), !!n->refs[idx]);
		if (n->refs[idx])
			used++;
		multi += n->refs[idx] > 1;
		if (p >= 0 && va >= m->base && va - m->base < m->size) {
			struct pt_mslot *ms = pt_model_slot(m, (unsigned int)p, va);

			cr_assert_eq(n->refs[idx], ms->refs, "level %u va 0x%llx refs %u model %u",
				     n->level, (unsigned long long)va, n->refs[idx], ms->refs);
			if (!present)
				cr_assert_eq(e.type, ms->mapped ? FA_PT_ENTRY_PTE :
					     ms->sparse ? FA_PT_ENTRY_SPARSE : FA_PT_ENTRY_INVALID,
					     "level %u va 0x%llx raw %d mapped %d sparse %d", n->level,
					     (unsigned long long)va, e.type, ms->mapped, ms->sparse);
		} else if (!present) {
			cr_assert_eq(n->refs[idx], 0);
			cr_assert_eq(e.type, FA_PT_ENTRY_INVALID);
		}
	}
	cr_assert_eq(n->used, used, "level %u: used %u, counted %u", n->level, n->used, used);
	cr_assert_eq(n->multi, multi, "level %u: multi %u, counted %u", n->level, n->multi, multi);
	cr_assert_eq(n->nsparse, 0);
}

/* Full cross-check of the tree against raw memory and the model. */
static inline void pt_check_tree(const struct pt_vram *v, struct pt_model *m, const struct fa_pt *pt)
{
	struct pt_walk_counts wc;
	struct fa_pt_stats st;
	unsigned int l;
	uint64_t pend = 0;

	memset(&wc, 0, sizeof(wc));
	pt_check_node(v, m, pt->root, &wc);
	fa_pt_get_stats(pt, &st);
	cr_assert_eq(wc.nodes[0], 1);
	for (l = 1; l < m->f->nlevels; l++) {
		cr_assert_eq(wc.nodes[l], m->tables[l], "level %u: %llu tables, model %llu", l,
			     (unsigned long long)wc.nodes[l], (unsigned long long)m->tables[l]);
		cr_assert_eq(st.live[l], wc.nodes[l]);
		pend += st.pending[l];
	}
	cr_assert_eq(pend, pt_model_pending(m));
	cr_assert_eq(fa_pt_pending(pt), pend);
	/* every table is either linked, pending, or back with the allocator */
	cr_assert_eq(v->live_tables, 1 + pt_model_total_tables(m) + pend,
		     "allocator holds %llu tables, tree %llu + pending %llu",
		     (unsigned long long)v->live_tables,
		     (unsigned long long)(1 + pt_model_total_tables(m)), (unsigned long long)pend);
	cr_assert_eq(v->live_shadow, v->live_tables);
}

#endif /* PT_MODEL_H */
