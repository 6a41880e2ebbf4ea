/* SPDX-License-Identifier: MIT */
/*
 * Deferred-free list, each figure against a baseline measured in the same run:
 * - push, uncontended: vs a bare atomic exchange and a bare fa_llist_push;
 * - drain of a pre-filled list (one thread): vs fa_llist_del_all + reverse +
 *   walk calling the same callback;
 * - drain throughput with 1 and 2 producer threads pushing while the main
 *   thread drains: vs the same loop over a bare fa_llist.
 * Best of several repetitions (the machine is shared with other work).
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <fencealloc/deferred.h>

#define REPS 5
#define N_PUSH (1u << 20)
#define N_PROD 2000000ul

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double best(double a, double b)
{
	return a < b ? a : b;
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

int main(void)
{
	double x = 1e30, lp = 1e30, p = 1e30, bd = 1e30, dd = 1e30;
	double c1b = 0, c1 = 0, c2b = 0, c2 = 0;
	int rep;

	nodes = (struct fa_deferred_node *)calloc(N_PROD > N_PUSH ? N_PROD : N_PUSH,
						  sizeof(*nodes));
	if (!nodes)
		return 1;
	for (rep = 0; rep < REPS; rep++) {
		x = best(x, bench_xchg());
		lp = best(lp, bench_llist_push());
		p = best(p, bench_push());
		bd = best(bd, bench_drain_prefilled(1));
		dd = best(dd, bench_drain_prefilled(0));
	}
	for (rep = 0; rep < 3; rep++) {
		double v;

		v = bench_concurrent(1, 1);
		c1b = v > c1b ? v : c1b;
		v = bench_concurrent(1, 0);
		c1 = v > c1 ? v : c1;
		v = bench_concurrent(2, 1);
		c2b = v > c2b ? v : c2b;
		v = bench_concurrent(2, 0);
		c2 = v > c2 ? v : c2;
	}
	printf("deferred benchmarks (best of %d runs; 1M pushes, 2M entries concurrent)\n", REPS);
	printf("%-50s %12s %8s\n", "operation", "ns/entry", "ratio");
	printf("%-50s %12.2f %8s\n", "baseline: bare atomic exchange", x, "1.00");
	printf("%-50s %12.2f %7.2fx\n", "baseline: fa_llist_push (compare-and-swap)", lp, lp / x);
	printf("%-50s %12.2f %7.2fx\n", "fa_deferred_push (uncontended)", p, p / x);
	printf("%-50s %12.2f %8s\n", "baseline: del_all + reverse + walk (prefilled)", bd, "1.00");
	printf("%-50s %12.2f %7.2fx\n", "fa_deferred_drain (prefilled, all eligible)", dd, dd / bd);
	printf("%-50s %12s %8s\n", "concurrent drain throughput", "Mentries/s", "ratio");
	printf("%-50s %12.1f %8s\n", "baseline: bare llist, 1 producer", c1b * 1e-6, "1.00");
	printf("%-50s %12.1f %7.2fx\n", "fa_deferred, 1 producer", c1 * 1e-6, c1 / c1b);
	printf("%-50s %12.1f %8s\n", "baseline: bare llist, 2 producers", c2b * 1e-6, "1.00");
	printf("%-50s %12.1f %7.2fx\n", "fa_deferred, 2 producers", c2 * 1e-6, c2 / c2b);
	printf("target: push <= 20 ns uncontended: %s\n", p <= 20.0 ? "met" : "NOT met");
	free(nodes);
	return handled ? 0 : 1;
}
