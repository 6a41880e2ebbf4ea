/* SPDX-License-Identifier: MIT */
/*
 * Cost of the signalling validator, against an unannotated
 * pthread_mutex_lock/unlock pair measured in the same run:
 * - fast path: an annotated acquire+release whose dependencies are all known,
 *   with 0, 3 and 7 other locks held;
 * - slow path: an acquire that adds a new dependency (graph search + record);
 * - might_alloc and begin/end pairs;
 * - memory of the validator's tables (default limits).
 * When FA_VALIDATE is off the annotations cost nothing at all (zero bytes,
 * zero instructions): tests/scripts/check_signalling_zero_cost.sh proves it
 * on object code. Best of 5 runs per row; 2 shared cores, so read ratios.
 */
#define FA_VALIDATE
#define FA_SIGNALLING_IMPLEMENTATION
#include <fencealloc/signalling.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_json.h"

#define RUNS 5
#define NCLS 64

static struct fa_signalling_class cls[NCLS];
static struct fa_signalling_map maps[NCLS];
static char names[NCLS][16];
static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static unsigned long reports;

static void count_report(const struct fa_signalling_report *r, void *arg)
{
	(void)r;
	(void)arg;
	reports++;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void setup(void)
{
	unsigned int i;

	fa_signalling_reset();
	fa_signalling_set_report_fn(count_report, NULL);
	for (i = 0; i < NCLS; i++) {
		snprintf(names[i], sizeof(names[i]), "c%u", i);
		memset(&cls[i], 0, sizeof(cls[i]));
		cls[i].name = names[i];
		fa_signalling_map_init(&maps[i], &cls[i]);
	}
}

static double bench_mutex(unsigned long n)
{
	double t0 = now_ns();
	unsigned long i;

	for (i = 0; i < n; i++) {
		pthread_mutex_lock(&mutex);
		pthread_mutex_unlock(&mutex);
	}
	return (now_ns() - t0) / (double)n;
}

/* Hold @depth other locks, then lock/annotate/unlock the mutex n times. */
static double bench_annotated(unsigned long n, unsigned int depth)
{
	struct fa_signalling_map *m = &maps[NCLS - 1];
	unsigned long i;
	unsigned int d;
	double t0, t;

	for (d = 0; d < depth; d++)
		fa_signalling_acquire(&maps[d]);
	/* learn the dependencies once, outside the timing */
	fa_signalling_acquire(m);
	fa_signalling_release(m);
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		pthread_mutex_lock(&mutex);
		fa_signalling_acquire(m);
		fa_signalling_release(m);
		pthread_mutex_unlock(&mutex);
	}
	t = (now_ns() - t0) / (double)n;
	for (d = depth; d-- > 0;)
		fa_signalling_release(&maps[d]);
	return t;
}

static double bench_might_alloc(unsigned long n, fa_gfp_t gfp)
{
	unsigned long i;
	double t0;

	fa_signalling_acquire(&maps[0]);
	fa_signalling_might_alloc(gfp);
	t0 = now_ns();
	for (i = 0; i < n; i++)
		fa_signalling_might_alloc(gfp);
	t0 = (now_ns() - t0) / (double)n;
	fa_signalling_release(&maps[0]);
	return t0;
}

static double bench_section(unsigned long n)
{
	unsigned long i;
	double t0 = now_ns();

	for (i = 0; i < n; i++) {
		fa_signalling_cookie_t c = fa_signalling_begin();

		fa_signalling_acquire(&maps[1]);
		fa_signalling_release(&maps[1]);
		fa_signalling_end(c);
	}
	return (now_ns() - t0) / (double)n;
}

/*
 * Every inner acquisition adds one new dependency c[a] -> c[b], a < b. The
 * outer loop runs downwards, so c[b] already reaches every class above it and
 * each cycle search explores all of them (the expensive case). Timed as a
 * whole: the per-edge figure includes one fast release.
 */
static double bench_new_edges(unsigned int *count)
{
	unsigned int a, b, n = 0;
	double t0;

	setup();
	t0 = now_ns();
	for (a = NCLS; a-- > 0;) {
		fa_signalling_acquire(&maps[a]);
		for (b = a + 1; b < NCLS; b++) {
			fa_signalling_acquire(&maps[b]);
			fa_signalling_release(&maps[b]);
			n++;
		}
		fa_signalling_release(&maps[a]);
	}
	*count = n;
	return (now_ns() - t0) / (double)n;
}

/* Text row (best, ratio to the best mutex, median, max) and a JSON object. */
static void row(const char *key, const char *label, const struct bs *v, const struct bs *mutex)
{
	printf("%-52s %9.1f %9.2f %8.1f %8.1f\n", label, bs_min(v), bs_min(v) / bs_min(mutex),
	       bs_median(v), bs_max(v));
	bj_begin(key);
	bj_str("label", label);
	bj_stat("ns_per_op", v);
	bj_num("vs_mutex_min", bs_min(v) / bs_min(mutex));
	bj_end();
}

int main(int argc, char **argv)
{
	unsigned long n = 2000000;
	struct bs mutex_ns = { { 0 }, 0 }, ann[3] = { mutex_ns, mutex_ns, mutex_ns };
	struct bs alloc_k = mutex_ns, alloc_nw = mutex_ns, section = mutex_ns, fresh = mutex_ns;
	static const unsigned int depths[3] = { 0, 3, 7 };
	unsigned int r, d, edges = 0;

	if (bj_open_args(&argc, argv) || argc != 1)
		return 2;
	if (getenv("FA_BENCH_QUICK"))
		n /= 20;
	setup();
	for (r = 0; r < RUNS; r++) {
		bs_add(&mutex_ns, bench_mutex(n));
		for (d = 0; d < 3; d++)
			bs_add(&ann[d], bench_annotated(n, depths[d]));
		bs_add(&alloc_k, bench_might_alloc(n, FA_GFP_KERNEL));
		bs_add(&alloc_nw, bench_might_alloc(n, FA_GFP_NOWAIT));
		bs_add(&section, bench_section(n));
	}
	for (r = 0; r < RUNS; r++)
		bs_add(&fresh, bench_new_edges(&edges));

	printf("signalling validator (FA_VALIDATE on), %d runs (best, ratio, median, max), %lu iterations\n",
	       RUNS, n);
	printf("%-52s %9s %9s %8s %8s\n", "operation", "ns/op", "vs mutex", "median", "max");
	bj_str("bench", "signalling");
	row("mutex", "baseline: pthread_mutex lock+unlock (no annotation)", &mutex_ns, &mutex_ns);
	for (d = 0; d < 3; d++) {
		char label[96], key[32];

		snprintf(label, sizeof(label), "mutex + annotated acquire+release, %u held, known", depths[d]);
		snprintf(key, sizeof(key), "annotated_%u_held", depths[d]);
		row(key, label, &ann[d], &mutex_ns);
	}
	for (d = 0; d < 3; d++) {
		char label[96];
		double c = bs_min(&ann[d]) - bs_min(&mutex_ns);

		snprintf(label, sizeof(label), "  annotation cost alone, %u held (fast path)", depths[d]);
		printf("%-52s %9.1f %9.2f\n", label, c, c / bs_min(&mutex_ns));
	}
	row("new_dependency", "acquire adding a NEW dependency (slow path)", &fresh, &mutex_ns);
	row("might_alloc_kernel", "might_alloc(GFP_KERNEL), 1 held, known", &alloc_k, &mutex_ns);
	row("might_alloc_nowait", "might_alloc(GFP_NOWAIT)", &alloc_nw, &mutex_ns);
	row("section", "begin + acquire + release + end, known", &section, &mutex_ns);
	printf("(slow path averaged over %u new dependencies among %d classes)\n", edges, NCLS);
	printf("\nmemory (default limits: %d classes, %d edges, %d held, %d reports)\n",
	       FA_SIGNALLING_MAX_CLASSES, FA_SIGNALLING_MAX_EDGES, FA_SIGNALLING_MAX_HELD,
	       FA_SIGNALLING_MAX_REPORTS);
	printf("  global tables (one per program): %zu bytes\n", sizeof(fa__sig));
	printf("    dependency bit matrices:       %zu bytes\n",
	       sizeof(fa__sig.known) + sizeof(fa__sig.dep));
	printf("    edge history (first file:line): %zu bytes\n", sizeof(fa__sig.edges));
	printf("    report buffer:                  %zu bytes\n", sizeof(fa__sig.buf));
	printf("  per thread (thread-local):        %zu bytes\n", sizeof(fa__sig_self));
	printf("  per lock class object:            %zu bytes\n", sizeof(struct fa_signalling_class));
	printf("  per lock map (FA_VALIDATE on):    %zu bytes\n", sizeof(struct fa_signalling_map));
	printf("  FA_VALIDATE off: 0 bytes, 0 instructions (check_signalling_zero_cost.sh)\n");
	if (reports) {
		printf("unexpected validator reports: %lu\n", reports);
		return 1;
	}
	return bj_close() ? 1 : 0;
}
