/* SPDX-License-Identifier: MIT */
/*
 * Reservation hot paths, each against a baseline measured in the same run:
 * - take + give_back pair vs a bare intrusive pointer pop + push;
 * - fill + release of 16 objects served by the pool cache (steady state) vs
 *   16 malloc + free.
 * Every figure is the best of several repetitions (the machine is shared);
 * an empty asm with the object as input keeps the compiler from deleting the
 * loops, identically in the measured and the baseline loop.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <fencealloc/reserve.h>

#include "bench_json.h"

#define REPS 7

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void *src_alloc(void *ctx, size_t size, fa_gfp_t gfp)
{
	(void)ctx;
	(void)gfp;
	return malloc(size);
}

static void src_free(void *ctx, void *obj, size_t size)
{
	(void)ctx;
	(void)size;
	free(obj);
}

#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

/* Globals, so the asm's memory clobber forces both loops through memory alike. */
static void *bare_head;
static struct fa_reserve bench_r;

static __attribute__((noinline)) double bench_baseline_pop_push(unsigned long iters)
{
	double t0 = now_ns();
	unsigned long i;

	for (i = 0; i < iters; i++) {
		void *obj = bare_head;

		bare_head = *(void **)obj;
		KEEP(obj);
		*(void **)obj = bare_head;
		bare_head = obj;
	}
	return (now_ns() - t0) / (double)iters;
}

static __attribute__((noinline)) double bench_take_give_back(struct fa_reserve *r,
							     unsigned long iters)
{
	double t0 = now_ns();
	unsigned long i;

	for (i = 0; i < iters; i++) {
		void *obj = fa_reserve_take(r);

		KEEP(obj);
		fa_reserve_give_back(r, obj);
	}
	return (now_ns() - t0) / (double)iters;
}

#define BATCH 16

static __attribute__((noinline)) double bench_malloc_free(unsigned long iters)
{
	void *objs[BATCH];
	double t0 = now_ns();
	unsigned long i;
	int k;

	for (i = 0; i < iters; i++) {
		for (k = 0; k < BATCH; k++) {
			objs[k] = malloc(64);
			KEEP(objs[k]);
		}
		for (k = 0; k < BATCH; k++)
			free(objs[k]);
	}
	return (now_ns() - t0) / (double)(iters * BATCH);
}

static __attribute__((noinline)) double bench_fill_release(struct fa_reserve *r, unsigned long iters)
{
	double t0 = now_ns();
	unsigned long i;

	for (i = 0; i < iters; i++) {
		if (fa_reserve_fill(r, BATCH, FA_GFP_KERNEL))
			abort();
		KEEP(r->head);
		fa_reserve_release(r);
	}
	return (now_ns() - t0) / (double)(iters * BATCH);
}

/* One figure: text row (min = best, then median and max) and a JSON object. */
static void row(const char *key, const char *label, const struct bs *v, const struct bs *base)
{
	printf("%-44s %10.2f %9.2fx %8.2f %8.2f\n", label, bs_min(v), bs_min(v) / bs_min(base),
	       bs_median(v), bs_max(v));
	bj_begin(key);
	bj_str("label", label);
	bj_stat("ns_per_op", v);
	bj_num("ratio_min", bs_min(v) / bs_min(base));
	bj_end();
}

int main(int argc, char **argv)
{
	struct fa_reserve_source src;
	struct fa_reserve_pool pool;
	struct fa_reserve *r = &bench_r, fr;
	struct bs base = { { 0 }, 0 }, take = base, mf = base, fr_ns = base;
	unsigned long iters = 20000000, biters = 400000;
	int rep, i;

	if (bj_open_args(&argc, argv) || argc != 1)
		return 2;
	src.alloc = src_alloc;
	src.free = src_free;
	src.ctx = NULL;
	if (fa_reserve_pool_init(&pool, &src, 64, BATCH, FA_RESERVE_NO_BUDGET))
		return 1;
	fa_reserve_init(r, &pool);
	fa_reserve_init(&fr, &pool);
	if (fa_reserve_fill(r, 64, FA_GFP_KERNEL))
		return 1;
	for (i = 0; i < 64; i++) {
		void *o = malloc(64);

		*(void **)o = bare_head;
		bare_head = o;
	}
	/* warm the cache for the fill/release loop */
	if (fa_reserve_fill(&fr, BATCH, FA_GFP_KERNEL))
		return 1;
	fa_reserve_release(&fr);

	for (rep = 0; rep < REPS; rep++) {
		bs_add(&base, bench_baseline_pop_push(iters));
		bs_add(&take, bench_take_give_back(r, iters));
		bs_add(&mf, bench_malloc_free(biters));
		bs_add(&fr_ns, bench_fill_release(&fr, biters));
	}
	printf("reserve benchmarks (%d runs: best, its ratio to the best baseline, median, max)\n", REPS);
	printf("%-44s %10s %10s %8s %8s\n", "operation", "ns/op", "ratio", "median", "max");
	bj_str("bench", "reserve");
	row("baseline_pop_push", "baseline: bare pointer pop + push", &base, &base);
	row("take_give_back", "fa_reserve_take + fa_reserve_give_back", &take, &base);
	row("baseline_malloc_free", "baseline: malloc + free (per object)", &mf, &mf);
	row("fill_release", "fill(16) + release from cache (per object)", &fr_ns, &mf);
	printf("target: take + give_back <= 10 ns: %s\n", bs_min(&take) <= 10.0 ? "met" : "NOT met");

	fa_reserve_release(r);
	fa_reserve_pool_fini(&pool);
	while (bare_head) {
		void *n = *(void **)bare_head;

		free(bare_head);
		bare_head = n;
	}
	return bj_close() ? 1 : 0;
}
