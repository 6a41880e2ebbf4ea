/* SPDX-License-Identifier: MIT */
/*
 * A counting, fault-injecting allocator for struct fa_reserve_source, for the
 * reservation tests and benchmarks (userspace only; thread-safe counters).
 *
 * - live: objects allocated and not freed (the leak check: after a failed fill
 *   live must equal what the pool legitimately owns);
 * - calls: alloc calls since the last ra_alloc_arm(); fail_at = k makes call k
 *   (1-based) fail once; 0 never fails;
 * - last_gfp: the context flags of the last call (to check they pass through);
 * - every object carries a header with a magic and its size, checked on free,
 *   so a free with the wrong size or of a foreign pointer aborts.
 */
#ifndef FA_TEST_RESERVE_ALLOC_H
#define FA_TEST_RESERVE_ALLOC_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fencealloc/reserve.h>

#define RA_MAGIC 0x5eed0b1ec7a110c5ULL

struct ra_alloc {
	long live;               /* atomic */
	unsigned long calls;     /* atomic */
	unsigned long fail_at;   /* atomic; 0 = never */
	unsigned long failures;  /* atomic */
	unsigned long allocs;    /* atomic: successful allocations, ever */
	fa_gfp_t last_gfp;       /* atomic */
};

struct ra_hdr {
	uint64_t magic;
	uint64_t size;
};

static inline void *ra_alloc_fn(void *ctx, size_t size, fa_gfp_t gfp)
{
	struct ra_alloc *a = (struct ra_alloc *)ctx;
	unsigned long call = __atomic_add_fetch(&a->calls, 1UL, __ATOMIC_RELAXED);
	unsigned long fail_at = __atomic_load_n(&a->fail_at, __ATOMIC_RELAXED);
	struct ra_hdr *h;

	__atomic_store_n(&a->last_gfp, gfp, __ATOMIC_RELAXED);
	if (fail_at && call == fail_at) {
		__atomic_add_fetch(&a->failures, 1UL, __ATOMIC_RELAXED);
		return NULL;
	}
	h = (struct ra_hdr *)malloc(sizeof(*h) + size);
	if (!h)
		return NULL;
	h->magic = RA_MAGIC;
	h->size = size;
	memset(h + 1, 0xa5, size);
	__atomic_add_fetch(&a->live, 1L, __ATOMIC_RELAXED);
	__atomic_add_fetch(&a->allocs, 1UL, __ATOMIC_RELAXED);
	return h + 1;
}

static inline void ra_free_fn(void *ctx, void *obj, size_t size)
{
	struct ra_alloc *a = (struct ra_alloc *)ctx;
	struct ra_hdr *h = (struct ra_hdr *)obj - 1;

	if (h->magic != RA_MAGIC || h->size != size) {
		fprintf(stderr, "ra_free_fn: bad object %p (size %zu)\n", obj, size);
		abort();
	}
	h->magic = 0;
	__atomic_sub_fetch(&a->live, 1L, __ATOMIC_RELAXED);
	free(h);
}

static inline void ra_alloc_init(struct ra_alloc *a)
{
	memset(a, 0, sizeof(*a));
}

/* Make alloc call k (1-based, counted from now) fail once; 0 disarms. */
static inline void ra_alloc_arm(struct ra_alloc *a, unsigned long k)
{
	__atomic_store_n(&a->calls, 0UL, __ATOMIC_RELAXED);
	__atomic_store_n(&a->fail_at, k, __ATOMIC_RELAXED);
}

static inline long ra_alloc_live(struct ra_alloc *a)
{
	return __atomic_load_n(&a->live, __ATOMIC_RELAXED);
}

static inline unsigned long ra_alloc_calls(struct ra_alloc *a)
{
	return __atomic_load_n(&a->calls, __ATOMIC_RELAXED);
}

static inline struct fa_reserve_source ra_source(struct ra_alloc *a)
{
	struct fa_reserve_source s;

	s.alloc = ra_alloc_fn;
	s.free = ra_free_fn;
	s.ctx = a;
	return s;
}

#endif /* FA_TEST_RESERVE_ALLOC_H */
