/* SPDX-License-Identifier: MIT */
/*
 * Test allocators for pt.h (userspace only; used by unit tests, fuzzer and
 * benchmark):
 * - pt_vram: simulated VRAM as host memory at a non-zero device base, with a
 *   direct accessor over it;
 * - a table allocator over that VRAM: 4 KiB chunks from a bump pointer and
 *   free list, 256-byte chunks carved from 4 KiB chunks, an allocation
 *   bitmap (double free and bad free abort), poison on free, live counts;
 * - a shadow allocator over malloc with live counts;
 * - fault injection shared by both (fail the N-th allocation from now) and a
 *   "forbidden" switch that aborts on any allocation or free (run stage).
 */
#ifndef PT_ALLOC_H
#define PT_ALLOC_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fencealloc/buddy.h>
#include <fencealloc/pt.h>

#define PT_VRAM_BASE 0x40000000ull /* device address of the first VRAM byte */

struct pt_vram {
	unsigned char *mem;
	uint64_t base, size;
	struct fa_pramin_direct direct;
	struct fa_pramin_accessor acc;
	/* table allocator */
	uint64_t bump;         /* next never-used 4 KiB offset */
	uint64_t *free4k;      /* stack of free 4 KiB offsets */
	uint64_t nfree4k;
	uint64_t *free256;     /* stack of free 256 B offsets */
	uint64_t nfree256;
	uint8_t *granule;      /* per 256 B granule: 0 free, 1 allocated (256), 2 allocated (4K head), 3 (4K tail) */
	uint64_t live_tables, live_bytes, table_allocs, table_frees;
	/* shadow allocator */
	uint64_t live_shadow, shadow_bytes, shadow_allocs;
	/* shared controls */
	long fail_in;          /* fail the allocation when this reaches 0; <0: never */
	int forbidden;         /* abort on any allocator call */
	uint64_t calls;        /* allocator calls (alloc + free, both allocators) */
	int poison;            /* fill freed tables with 0xA5 */
	/* optional: table memory from fa_buddy (256-byte chunks) instead of the free lists */
	struct fa_buddy *buddy;
	void *buddy_storage;
	/* optional log of table allocations (address, bytes) for benchmarks */
	uint64_t *alog;
	size_t alog_n, alog_cap;
};

/* Block size the buddy is asked for: a power of two covering size and alignment. */
static inline uint64_t pt__buddy_block(uint64_t size, uint64_t align)
{
	uint64_t b = 256;

	while (b < size || b < align)
		b <<= 1;
	return b;
}

static inline void pt_vram_init(struct pt_vram *v, uint64_t size)
{
	uint64_t g = size >> 8;

	memset(v, 0, sizeof(*v));
	v->mem = (unsigned char *)aligned_alloc(4096, size);
	if (!v->mem)
		abort();
	v->base = PT_VRAM_BASE;
	v->size = size;
	v->free4k = (uint64_t *)malloc(sizeof(uint64_t) * (size >> 12));
	v->free256 = (uint64_t *)malloc(sizeof(uint64_t) * g);
	v->granule = (uint8_t *)calloc(g, 1);
	if (!v->free4k || !v->free256 || !v->granule)
		abort();
	v->fail_in = -1;
	v->poison = 1;
	if (fa_pramin_direct_init(&v->direct, v->mem, v->base, size, &v->acc))
		abort();
}

/* Serve table memory from a fa_buddy over the whole VRAM (chunk 256 bytes). */
static inline void pt_vram_use_buddy(struct pt_vram *v)
{
	uint64_t need = fa_buddy_storage_size(v->size, 256);

	v->buddy = (struct fa_buddy *)malloc(sizeof(*v->buddy));
	v->buddy_storage = aligned_alloc(64, (need + 63) & ~63ull);
	if (!v->buddy || !v->buddy_storage ||
	    fa_buddy_init(v->buddy, v->buddy_storage, (size_t)need, v->base, v->size, 256))
		abort();
}

static inline void pt_vram_destroy(struct pt_vram *v)
{
	if (v->buddy) {
		fa_buddy_fini(v->buddy);
		free(v->buddy);
		free(v->buddy_storage);
	}
	free(v->mem);
	free(v->free4k);
	free(v->free256);
	free(v->granule);
}

/* Per-thread "this thread is in the run stage" flag (multi-threaded tests). */
static _Thread_local int pt_tls_forbidden;

static inline void pt__forbid_check(struct pt_vram *v, const char *what)
{
	if (pt_tls_forbidden) {
		fprintf(stderr, "pt test: %s called from a thread in the run stage\n", what);
		abort();
	}
	v->calls++;
	if (v->forbidden) {
		fprintf(stderr, "pt test: %s called in a stage that must not allocate or free\n",
			what);
		abort();
	}
}

static inline int pt__fail_now(struct pt_vram *v)
{
	if (v->fail_in < 0)
		return 0;
	if (v->fail_in == 0) {
		v->fail_in = -1;
		return 1;
	}
	v->fail_in--;
	return 0;
}

static inline int pt__take4k(struct pt_vram *v, uint64_t *off)
{
	if (v->nfree4k) {
		*off = v->free4k[--v->nfree4k];
		return 0;
	}
	if (v->bump + 4096 > v->size)
		return -FA_ENOSPC;
	*off = v->bump;
	memset(v->mem + v->bump, 0x5a, 4096); /* fresh memory is garbage, not zero */
	v->bump += 4096;
	return 0;
}

static inline int pt_table_alloc_cb(void *ctx, uint64_t size, uint64_t align, fa_gfp_t gfp,
				    uint64_t *addr)
{
	struct pt_vram *v = (struct pt_vram *)ctx;
	uint64_t off, i;

	(void)gfp;
	pt__forbid_check(v, "table alloc");
	if (pt__fail_now(v))
		return -FA_ENOMEM;
	if (v->buddy) {
		uint64_t blk = pt__buddy_block(size, align), a;
		int err = fa_buddy_alloc(v->buddy, blk, blk, 0, &a);

		if (err)
			return err;
		off = a - v->base;
		for (i = 0; i < (blk >> 8); i++) {
			if (v->granule[(off >> 8) + i])
				abort();
			v->granule[(off >> 8) + i] = blk == 256 ? 1 : i ? 3 : 2;
		}
		if (off + blk > v->bump)
			v->bump = off + blk; /* hashes cover [0, bump) */
		if (v->poison)
			memset(v->mem + off, 0x5a, blk);
	} else if (size <= 256 && align <= 256) {
		if (!v->nfree256) {
			uint64_t page;

			if (pt__take4k(v, &page))
				return -FA_ENOSPC;
			for (i = 16; i-- > 0;)
				v->free256[v->nfree256++] = page + i * 256;
		}
		off = v->free256[--v->nfree256];
		if (v->granule[off >> 8])
			abort();
		v->granule[off >> 8] = 1;
	} else {
		if (size > 4096 || align > 4096 || pt__take4k(v, &off))
			return -FA_ENOSPC;
		for (i = 0; i < 16; i++) {
			if (v->granule[(off >> 8) + i])
				abort();
			v->granule[(off >> 8) + i] = i ? 3 : 2;
		}
	}
	v->live_tables++;
	v->live_bytes += size;
	v->table_allocs++;
	*addr = v->base + off;
	if (v->alog && v->alog_n + 2 <= v->alog_cap) {
		v->alog[v->alog_n++] = *addr;
		v->alog[v->alog_n++] = size;
	}
	return 0;
}

static inline void pt_table_free_cb(void *ctx, uint64_t addr, uint64_t size)
{
	struct pt_vram *v = (struct pt_vram *)ctx;
	uint64_t off = addr - v->base, i;

	pt__forbid_check(v, "table free");
	if (addr < v->base || off >= v->size) {
		fprintf(stderr, "pt test: free of 0x%llx outside VRAM\n", (unsigned long long)addr);
		abort();
	}
	if (v->buddy) {
		uint64_t blk = v->granule[off >> 8] == 1 ? 256 : 4096;

		if (v->granule[off >> 8] != 1 && v->granule[off >> 8] != 2)
			abort();
		for (i = 0; i < (blk >> 8); i++)
			v->granule[(off >> 8) + i] = 0;
		if (v->poison)
			memset(v->mem + off, 0xa5, blk);
		if (fa_buddy_free(v->buddy, addr, blk))
			abort();
	} else if (v->granule[off >> 8] == 1) {
		v->granule[off >> 8] = 0;
		if (v->poison)
			memset(v->mem + off, 0xa5, 256);
		v->free256[v->nfree256++] = off;
	} else if (v->granule[off >> 8] == 2) {
		for (i = 0; i < 16; i++)
			v->granule[(off >> 8) + i] = 0;
		if (v->poison)
			memset(v->mem + off, 0xa5, 4096);
		v->free4k[v->nfree4k++] = off;
	} else {
		fprintf(stderr, "pt test: bad or double free of 0x%llx size %llu\n",
			(unsigned long long)addr, (unsigned long long)size);
		abort();
	}
	v->live_tables--;
	v->live_bytes -= size;
	v->table_frees++;
}

/* Whether [addr, addr + size) is inside a live table allocation. */
static inline int pt_vram_is_live(const struct pt_vram *v, uint64_t addr)
{
	uint64_t off = addr - v->base;

	return addr >= v->base && off < v->size && v->granule[off >> 8] != 0;
}

static inline void *pt_shadow_alloc_cb(void *ctx, size_t size, fa_gfp_t gfp)
{
	struct pt_vram *v = (struct pt_vram *)ctx;
	void *p;

	(void)gfp;
	pt__forbid_check(v, "shadow alloc");
	if (pt__fail_now(v))
		return NULL;
	p = malloc(size);
	if (!p)
		return NULL;
	memset(p, 0xc3, size); /* the tree must initialise what it uses */
	v->live_shadow++;
	v->shadow_bytes += size;
	v->shadow_allocs++;
	return p;
}

static inline void pt_shadow_free_cb(void *ctx, void *obj, size_t size)
{
	struct pt_vram *v = (struct pt_vram *)ctx;

	pt__forbid_check(v, "shadow free");
	memset(obj, 0xd7, size);
	free(obj);
	v->live_shadow--;
	v->shadow_bytes -= size;
}

/* Set up a tree over @v with the test allocators, its tables reached through
 * @p acc (a recording or fault-injecting accessor over the same VRAM). */
static inline int pt_tree_init_acc(struct fa_pt *pt, struct pt_vram *v,
				   const struct fa_pt_format *f,
				   const struct fa_pramin_accessor *acc)
{
	struct fa_pt_table_alloc ta;
	struct fa_reserve_source rs;
	struct fa_pt_config cfg;

	ta.alloc = pt_table_alloc_cb;
	ta.free = pt_table_free_cb;
	ta.ctx = v;
	rs.alloc = pt_shadow_alloc_cb;
	rs.free = pt_shadow_free_cb;
	rs.ctx = v;
	fa_pt_config_init(&cfg, f, acc, &ta, &rs);
	return fa_pt_init(pt, &cfg, FA_GFP_KERNEL);
}

/* Set up a tree over @v with the test allocators and @v's own accessor. */
static inline int pt_tree_init(struct fa_pt *pt, struct pt_vram *v, const struct fa_pt_format *f)
{
	return pt_tree_init_acc(pt, v, f, &v->acc);
}

/* Objects the test allocators still hand out: tables and shadow nodes. */
static inline uint64_t pt_vram_live(const struct pt_vram *v)
{
	return v->live_tables + v->live_shadow;
}

/*
 * End of a test that built a tree over @v: every reference must have been
 * dropped already. fa_pt_fini() frees the pending tables and the root; then
 * the allocators must hold nothing (a table or shadow node the library lost
 * shows up here, in every build, not only under LeakSanitizer).
 * Returns 0, fa_pt_fini()'s error, or -FA_EBUSY when objects are left.
 */
static inline int pt_tree_teardown(struct fa_pt *pt, struct pt_vram *v)
{
	int err = fa_pt_fini(pt);

	if (err) {
		fprintf(stderr, "pt test: fa_pt_fini: %d\n", err);
		return err;
	}
	if (pt_vram_live(v)) {
		fprintf(stderr, "pt test: %llu tables and %llu shadow nodes leaked\n",
			(unsigned long long)v->live_tables, (unsigned long long)v->live_shadow);
		return -FA_EBUSY;
	}
	return 0;
}

/* FNV-1a over bytes. */
static inline uint64_t pt_hash(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = (const unsigned char *)p;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

/* Hash of the shadow subtree (iterative, explicit stack). */
static inline uint64_t pt_hash_shadow(const struct fa_pt *pt, uint64_t h)
{
	const struct fa_pt_format *f = pt->fmt;
	const struct fa_pt_node *stack[4096];
	unsigned int sp = 0;

	stack[sp++] = pt->root;
	while (sp) {
		const struct fa_pt_node *n = stack[--sp];
		const struct fa_pt_level *lv = &f->level[n->level];
		uint64_t entries = FA_BIT64(lv->bits), i;

		h = pt_hash(h, &n->addr, 8);
		h = pt_hash(h, &n->va, 8);
		h = pt_hash(h, &n->used, 4);
		h = pt_hash(h, &n->level, 1);
		h = pt_hash(h, &n->index, 2);
		if (lv->pte) {
			h = pt_hash(h, n->refs, entries * 2);
			h = pt_hash(h, n->refmap, ((entries + 63) >> 6) * 8);
		}
		for (i = 0; i < entries * lv->nsub; i++) {
			const struct fa_pt_node *c = n->child[i];

			h = pt_hash(h, &c, sizeof(c));
			if (c) {
				if (sp >= 4096)
					abort();
				stack[sp++] = c;
			}
		}
	}
	return h;
}

/* Everything a failed call must leave as it was: the shadow, the counters,
 * which tables the allocators hold, and the bytes of every live table. */
static inline uint64_t pt_state_hash(const struct pt_vram *v, const struct fa_pt *pt)
{
	uint64_t h = 0xcbf29ce484222325ull, g;
	struct fa_pt_stats st;

	fa_pt_get_stats(pt, &st);
	h = pt_hash(h, &st, sizeof(st));
	h = pt_hash_shadow(pt, h);
	h = pt_hash(h, &v->live_tables, 8);
	h = pt_hash(h, &v->live_bytes, 8);
	h = pt_hash(h, &v->live_shadow, 8);
	h = pt_hash(h, &v->shadow_bytes, 8);
	for (g = 0; g < (v->bump >> 8); g++) {
		if (!v->granule[g])
			continue;
		h = pt_hash(h, &g, 8);
		h = pt_hash(h, &v->granule[g], 1);
		h = pt_hash(h, v->mem + (g << 8), 256);
	}
	return h;
}

#endif /* PT_ALLOC_H */
