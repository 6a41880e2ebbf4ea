/* SPDX-License-Identifier: MIT */
/*
 * Deferred-free list, each figure against a baseline measured in the same run:
 * - push, uncontended: vs a bare atomic exchange and a bare fa_llist_push;
 * - drain of a pre-filled list (one thread): vs fa_llist_del_all + reverse +
 *   walk calling the same callback;
 * - drain throughput with 1 and 2 producer threads pushing while the main
 *   thread drains: vs the same loop over a bare fa_llist.
 * Every figure repeated (the machine is shared): best, median and worst; --json FILE.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <fencealloc/deferred.h>

#include "bench_json.h"

#define REPS 5
#define N_PUSH (1u << 20)
#define N_PROD 2000000ul

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static struct fa_deferred_node *nodes;
static struct fa_deferred dlist;
static struct fa_llist blist;
static void *xchg_word;
static unsigned long handled;

static void count_fn(struct fa_deferred_node *n, void *arg)
{
	(void)n;
	(*(unsigned long *)arg)++;
}

static __attribute__((noinline)) double bench_xchg(void)
{
	double t0 = now_ns();
	unsigned int i;

	for (i = 0; i < N_PUSH; i++)
		(void)__atomic_exchange_n(&xchg_word, (void *)&nodes[i], __ATOMIC_ACQ_REL);
	return (now_ns() - t0) / N_PUSH;
}

static __attribute__((noinline)) double bench_llist_push(void)
{
	double t0;
	unsigned int i;

	fa_llist_init(&blist);
	t0 = now_ns();
	for (i = 0; i < N_PUSH; i++)
		fa_llist_push(&nodes[i].link, &blist);
	return (now_ns() - t0) / N_PUSH;
}

static __attribute__((noinline)) double bench_push(void)
{
	double t0;
	unsigned int i;

	fa_deferred_init(&dlist);
	t0 = now_ns();
	for (i = 0; i < N_PUSH; i++)
		fa_deferred_push(&dlist, &nodes[i], i);
	return (now_ns() - t0) / N_PUSH;
}

/* Bare consumer: take all, restore push order, hand each to the callback. */
static unsigned long bare_drain(struct fa_llist *l, fa_deferred_fn fn, void *arg)
{
	struct fa_llist_node *n = fa_llist_reverse(fa_llist_del_all(l));
	unsigned long k = 0;

	while (n) {
		struct fa_llist_node *next = n->next;

		fn(FA_CONTAINER_OF(n, struct fa_deferred_node, link), arg);
		n = next;
		k++;
	}
	return k;
}

static __attribute__((noinline)) double bench_drain_prefilled(int bare)
{
	unsigned long k = 0;
	double t0;

	(void)(bare ? bench_llist_push() : bench_push());
	t0 = now_ns();
	if (bare)
		k = bare_drain(&blist, count_fn, &handled);
	else
		k = fa_deferred_drain(&dlist, FA_U64_MAX >> 1, count_fn, &handled);
	if (k != N_PUSH)
		abort();
	return (now_ns() - t0) / N_PUSH;
}

struct prod {
	unsigned long from, to;
	int bare;
};

static unsigned int producers_done;

static void *producer(void *p)
{
	struct prod *pr = (struct prod *)p;
	unsigned long i;

	for (i = pr->from; i < pr->to; i++) {
		if (pr->bare)
			fa_llist_push(&nodes[i].link, &blist);
		else
			fa_deferred_push(&dlist, &nodes[i], 0);
	}
	__atomic_add_fetch(&producers_done, 1u, __ATOMIC_RELEASE);
	return NULL;
}

/* Entries per second drained while @p np producers push N_PROD entries in total. */
static double bench_concurrent(unsigned int np, int bare)
{
	struct prod pr[2];
	pthread_t th[2];
	unsigned long total = 0;
	unsigned int i;
	double t0;

	fa_deferred_init(&dlist);
	fa_llist_init(&blist);
	producers_done = 0;
	t0 = now_ns();
	for (i = 0; i < np; i++) {
		pr[i].from = N_PROD / np * i;
		pr[i].to = N_PROD / np * (i + 1);
		pr[i].bare = bare;
		if (pthread_create(&th[i], NULL, producer, &pr[i]))
			abort();
	}
	for (;;) {
		int last = __atomic_load_n(&producers_done, __ATOMIC_ACQUIRE) == np;

		total += bare ? bare_drain(&blist, count_fn, &handled)
			      : fa_deferred_drain(&dlist, 0, count_fn, &handled);
		if (last)
			break;
	}
	for (i = 0; i < np; i++)
		pthread_join(th[i], NULL);
	if (total != N_PROD)
		abort();
	return (double)N_PROD / ((now_ns() - t0) * 1e-9);
}

/* Text row (best, its ratio to the best baseline, median, max) and a JSON object. */
static void row(const char *key, const char *label, const char *unit, const struct bs *v,
		const struct bs *base, bool higher_better, double scale)
{
	double best = higher_better ? bs_max(v) : bs_min(v);
	double bb = higher_better ? bs_max(base) : bs_min(base);
	double worst = higher_better ? bs_min(v) : bs_max(v);

	printf("%-50s %12.2f %7.2fx %8.2f %8.2f\n", label, best * scale, best / bb,
	       bs_median(v) * scale, worst * scale);
	bj_begin(key);
	bj_str("label", label);
	bj_stat(unit, v);
	bj_num("ratio_best", best / bb);
	bj_end();
}

int main(int argc, char **argv)
{
	struct bs x = { { 0 }, 0 }, lp = x, p = x, bd = x, dd = x;
	struct bs c1b = x, c1 = x, c2b = x, c2 = x;
	int rep;

	if (bj_open_args(&argc, argv) || argc != 1)
		return 2;
	nodes = (struct fa_deferred_node *)calloc(N_PROD > N_PUSH ? N_PROD : N_PUSH,
						  sizeof(*nodes));
	if (!nodes)
		return 1;
	for (rep = 0; rep < REPS; rep++) {
		bs_add(&x, bench_xchg());
		bs_add(&lp, bench_llist_push());
		bs_add(&p, bench_push());
		bs_add(&bd, bench_drain_prefilled(1));
		bs_add(&dd, bench_drain_prefilled(0));
	}
	for (rep = 0; rep < 3; rep++) {
		bs_add(&c1b, bench_concurrent(1, 1));
		bs_add(&c1, bench_concurrent(1, 0));
		bs_add(&c2b, bench_concurrent(2, 1));
		bs_add(&c2, bench_concurrent(2, 0));
	}
	printf("deferred benchmarks (%d runs, concurrent 3: best, ratio of bests, median, worst;\n"
	       "1M pushes, 2M entries concurrent)\n", REPS);
	printf("%-50s %12s %8s %8s %8s\n", "operation", "ns/entry", "ratio", "median", "worst");
	bj_str("bench", "deferred");
	row("xchg", "baseline: bare atomic exchange", "ns_per_entry", &x, &x, false, 1);
	row("llist_push", "baseline: fa_llist_push (compare-and-swap)", "ns_per_entry", &lp, &x, false, 1);
	row("push", "fa_deferred_push (uncontended)", "ns_per_entry", &p, &x, false, 1);
	row("bare_drain", "baseline: del_all + reverse + walk (prefilled)", "ns_per_entry", &bd, &bd,
	    false, 1);
	row("drain", "fa_deferred_drain (prefilled, all eligible)", "ns_per_entry", &dd, &bd, false, 1);
	printf("%-50s %12s %8s %8s %8s\n", "concurrent drain throughput", "Mentries/s", "ratio",
	       "median", "worst");
	row("bare_1p", "baseline: bare llist, 1 producer", "entries_per_s", &c1b, &c1b, true, 1e-6);
	row("deferred_1p", "fa_deferred, 1 producer", "entries_per_s", &c1, &c1b, true, 1e-6);
	row("bare_2p", "baseline: bare llist, 2 producers", "entries_per_s", &c2b, &c2b, true, 1e-6);
	row("deferred_2p", "fa_deferred, 2 producers", "entries_per_s", &c2, &c2b, true, 1e-6);
	printf("target: push <= 20 ns uncontended: %s\n", bs_min(&p) <= 20.0 ? "met" : "NOT met");
	if (bj_close())
		return 1;
	free(nodes);
	return handled ? 0 : 1;
}
