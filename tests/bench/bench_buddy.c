/* SPDX-License-Identifier: MIT */
/*
 * Buddy allocator benchmark: replays the W1 / W1x / W2L traces on a 16 GiB
 * space in 4 KiB chunks and prints ns/op (median of 3), latency percentiles,
 * allocation failures while enough bytes were free, and metadata bytes, next
 * to the Linux gpu_buddy figures measured on the same traces.
 *
 * Traces (xoshiro256** from fa_rng.h, seeded with 0x5eed2024 through its
 * splitmix64 seeding; one generator per trace, restarted for every run):
 *  - W1: each op draws a size class (60 % 4-64 KiB, 30 % 64 KiB-2 MiB,
 *    10 % 2-256 MiB), a log-uniform size inside it rounded up to a power of
 *    two; it is allocated when live bytes + size <= 70 % of the space, else a
 *    random live allocation is freed instead. 10^6 ops.
 *  - W1x: the same with the exact size rounded up to 4 KiB, allocated with
 *    FA_BUDDY_CONTIGUOUS (so it costs exactly that size).
 *  - W2L: 4 KiB allocations fill 90 % of the space (not measured), then
 *    2*10^5 ops, each a fair coin: free a random live page or allocate one.
 *
 * Modes (each takes --json FILE: the figures as JSON, see write_json()):
 *   bench_buddy               native runs of all three (what `make bench` runs, < 60 s)
 *   bench_buddy --callgrind   re-runs itself under valgrind --tool=callgrind for each
 *                             trace and prints instructions per op
 *   bench_buddy --one W1      one instrumented pass (used by --callgrind): the measured
 *                             ops run inside bench_op_alloc/bench_op_free, which are the
 *                             only functions collected (--toggle-collect), with
 *                             instrumentation started at the measured phase
 *                             (--instr-atstart=no + CALLGRIND_START_INSTRUMENTATION).
 */
#define _GNU_SOURCE
#include "fa_test.h"
#include <fencealloc/buddy.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fa_rng.h"
#include "bench_json.h"

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_START_INSTRUMENTATION do { } while (0)
#define CALLGRIND_STOP_INSTRUMENTATION do { } while (0)
#endif

#define SPACE (16ull << 30)
#define CHUNK 4096ull
#define SEED 0x5eed2024ull

enum wl { W1, W1X, W2L, NWL };
static const char *const wl_name[NWL] = { "W1", "W1x", "W2L" };
/* Linux gpu_buddy (rb-tree version) on the same traces, from the issue. */
static const double ref_instr[NWL] = { 256, 1958, 263 };
static const double target_instr[NWL] = { 150, 250, 150 };

struct live {
	uint64_t addr, size;
};

struct result {
	uint64_t ops, fails_enough_free, fails;
	double ns_per_op;
};

static struct fa_buddy B;
static void *storage;
static uint64_t storage_bytes;
static struct live *lv;
static uint64_t nlive, live_bytes;
static uint64_t *lat;

/* 2^u for u >= 0 without libm: 2^floor(u) * e^(frac*ln2) by its series. */
static double exp2_frac(double u)
{
	uint64_t e = (uint64_t)u;
	double x = (u - (double)e) * 0.69314718055994530942, term = 1, sum = 1;
	int n;

	for (n = 1; n < 20; n++) {
		term *= x / n;
		sum += term;
	}
	return sum * (double)(1ull << e);
}

static uint64_t draw_size(struct fa_rng *r, enum wl w)
{
	uint64_t c = fa_rng_below(r, 10), e;
	double lo, hi, u, bytes;

	if (w == W2L)
		return CHUNK;
	if (c < 6) {
		lo = 12;
		hi = 16;
	} else if (c < 9) {
		lo = 16;
		hi = 21;
	} else {
		lo = 21;
		hi = 28;
	}
	u = lo + (hi - lo) * (double)(fa_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
	if (w == W1) {
		e = (uint64_t)u;
		if ((double)e < u)
			e++;
		return 1ull << e;
	}
	bytes = exp2_frac(u);
	e = (uint64_t)bytes;
	if ((double)e < bytes)
		e++;
	return (e + CHUNK - 1) & ~(CHUNK - 1);
}

/* Harness-only baseline: the same replay with an allocator that does nothing. */
static int fake;
static uint64_t fake_next;

__attribute__((noinline)) static int bench_op_alloc(uint64_t size, unsigned int flags, uint64_t *addr)
{
	if (fake) {
		*addr = fake_next;
		fake_next += size;
		return 0;
	}
	return fa_buddy_alloc(&B, size, 0, flags, addr);
}

__attribute__((noinline)) static int bench_op_free(uint64_t addr, uint64_t size)
{
	if (fake)
		return 0;
	return fa_buddy_free(&B, addr, size);
}

static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void setup(void)
{
	nlive = live_bytes = 0;
	if (fa_buddy_init(&B, storage, (size_t)storage_bytes, 0, SPACE, CHUNK)) {
		fprintf(stderr, "init failed\n");
		exit(1);
	}
}

static void teardown(void)
{
	uint64_t i;

	if (fake) {
		fa_buddy_fini(&B);
		return;
	}
	for (i = 0; i < nlive; i++)
		if (fa_buddy_free(&B, lv[i].addr, lv[i].size)) {
			fprintf(stderr, "teardown free failed\n");
			exit(1);
		}
	if (fa_buddy_avail(&B) != SPACE || fa_buddy_check(&B, NULL)) {
		fprintf(stderr, "allocator inconsistent after the run\n");
		exit(1);
	}
	fa_buddy_fini(&B);
}

static void do_alloc(uint64_t size, unsigned int flags, struct result *res, bool timed)
{
	uint64_t addr = 0, t0 = 0;
	int ret;

	if (timed)
		t0 = now_ns();
	ret = bench_op_alloc(size, flags, &addr);
	if (timed)
		lat[res->ops] = now_ns() - t0;
	res->ops++;
	if (ret) {
		res->fails++;
		if (fa_buddy_avail(&B) >= size)
			res->fails_enough_free++;
		return;
	}
	lv[nlive].addr = addr;
	lv[nlive].size = size;
	nlive++;
	live_bytes += size;
}

static void do_free(uint64_t idx, struct result *res, bool timed)
{
	uint64_t t0 = 0;
	int ret;

	if (timed)
		t0 = now_ns();
	ret = bench_op_free(lv[idx].addr, lv[idx].size);
	if (timed)
		lat[res->ops] = now_ns() - t0;
	res->ops++;
	if (ret) {
		fprintf(stderr, "free failed: %d\n", ret);
		exit(1);
	}
	live_bytes -= lv[idx].size;
	lv[idx] = lv[--nlive];
}

/* One full replay. timed: per-op latencies into lat[]; instr: callgrind window. */
static struct result replay(enum wl w, bool timed, bool instr)
{
	struct fa_rng r;
	struct result res;
	uint64_t i, t0, n = w == W2L ? 200000 : 1000000;
	unsigned int flags = w == W1X ? FA_BUDDY_CONTIGUOUS : 0;

	memset(&res, 0, sizeof(res));
	fa_rng_seed(&r, SEED);
	setup();
	if (w == W2L) {
		struct result fill;

		memset(&fill, 0, sizeof(fill));
		while (live_bytes < SPACE / 10 * 9)
			do_alloc(CHUNK, 0, &fill, false);
	}
	if (instr)
		CALLGRIND_START_INSTRUMENTATION;
	t0 = cpu_ns();
	for (i = 0; i < n; i++) {
		if (w == W2L) {
			if ((fa_rng_next(&r) & 1) && nlive)
				do_free(fa_rng_below(&r, nlive), &res, timed);
			else
				do_alloc(CHUNK, 0, &res, timed);
			continue;
		}
		{
			uint64_t size = draw_size(&r, w);

			if (live_bytes + size <= SPACE / 10 * 7)
				do_alloc(size, flags, &res, timed);
			else
				do_free(fa_rng_below(&r, nlive), &res, timed);
		}
	}
	res.ns_per_op = (double)(cpu_ns() - t0) / (double)n;
	if (instr)
		CALLGRIND_STOP_INSTRUMENTATION;
	teardown();
	return res;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Empty timer pairs, 10^6 of them: the noise floor of the percentiles. */
static void timer_noise(uint64_t *p50, uint64_t *p99, uint64_t *p999)
{
	uint64_t i, n = 1000000;

	for (i = 0; i < n; i++) {
		uint64_t t0 = now_ns();

		lat[i] = now_ns() - t0;
	}
	qsort(lat, n, sizeof(lat[0]), cmp_u64);
	*p50 = lat[n / 2];
	*p99 = lat[n * 99 / 100];
	*p999 = lat[n * 999 / 1000];
}

#define REPS 5

/* Latency CDF points (permille) written to JSON: every 1 %, then the tail. */
static const unsigned int cdf_permille[] = { 0,   10,  20,  30,  40,  50,  60,  70,  80,  90,  100,
					     150, 200, 250, 300, 350, 400, 450, 500, 550, 600, 650,
					     700, 750, 800, 850, 900, 950, 960, 970, 980, 990, 995,
					     998, 999, 1000 };

/* Latency at a permille of n sorted samples (1000 = the maximum). */
static uint64_t lat_at(uint64_t n, unsigned int permille)
{
	uint64_t i = n * permille / 1000;

	return lat[i < n ? i : n - 1];
}

/* One workload's JSON object: the format the docs plots read (see RULES). */
static void json_workload(enum wl w, const struct bs *ns, const struct bs *rep, const struct bs *base,
			  const struct result *res)
{
	size_t c;

	bj_begin(wl_name[w]);
	bj_num("ns_per_op", bs_median(ns));
	bj_num("ns_per_op_min", bs_min(ns));
	bj_num("ns_per_op_max", bs_max(ns));
	bj_stat("replay_ns_per_op", rep);
	bj_stat("harness_ns_per_op", base);
	bj_u64("p50_ns", lat_at(res->ops, 500));
	bj_u64("p99_ns", lat_at(res->ops, 990));
	bj_u64("p999_ns", lat_at(res->ops, 999));
	bj_u64("max_ns", lat_at(res->ops, 1000));
	bj_begin_array("cdf");
	for (c = 0; c < sizeof(cdf_permille) / sizeof(cdf_permille[0]); c++)
		bj_pair_u64(lat_at(res->ops, cdf_permille[c]), cdf_permille[c]);
	bj_end();
	bj_u64("ops", res->ops);
	bj_u64("fails", res->fails);
	bj_u64("fails_enough_free", res->fails_enough_free);
	bj_end();
}

/*
 * Metadata against live blocks: the bitmaps are sized at init for the whole
 * space, so the bytes do not move with the number of live blocks. The points
 * are measured along the W2L fill (live 4 KiB blocks) by reading what the
 * allocator holds: its storage plus struct fa_buddy.
 */
static void json_metadata(void)
{
	uint64_t live, next = 0, last = SPACE / CHUNK / 10 * 9;

	bj_u64("metadata_bytes", storage_bytes);
	bj_u64("struct_bytes", sizeof(struct fa_buddy));
	bj_begin_array("metadata_vs_live");
	setup();
	for (live = 0;; live++) {
		uint64_t addr;

		if (live == next || live == last) {
			bj_pair_u64(live, (uint64_t)B.storage_size + sizeof(B));
			if (live == last)
				break;
			next = next ? next * 4 : 1;
		}
		if (fa_buddy_alloc(&B, CHUNK, 0, 0, &addr)) {
			fprintf(stderr, "metadata fill failed\n");
			exit(1);
		}
		lv[live].addr = addr;
		lv[live].size = CHUNK;
		nlive = live + 1;
	}
	bj_end();
	teardown();
}

static void run_native(void)
{
	int w, k;
	uint64_t ovh, t99, t999;

	timer_noise(&ovh, &t99, &t999);
	printf("buddy bench: 16 GiB in 4 KiB chunks, seed 0x%llx (xoshiro256** seeded via splitmix64)\n",
	       (unsigned long long)SEED);
	printf("metadata: %llu bytes (%.2f MiB; gpu_buddy on W2L: 576 MiB -> %.0fx less), struct fa_buddy %zu bytes\n",
	       (unsigned long long)storage_bytes, storage_bytes / 1048576.0,
	       576.0 * 1048576.0 / (double)storage_bytes, sizeof(struct fa_buddy));
	printf("replay: thread CPU ns per op of a whole replay; harness: the same replay with a\n"
	       "do-nothing allocator; ns/op = replay - harness, %d interleaved repetitions, median\n"
	       "[min-max]. Percentiles: one more replay timing each call with CLOCK_MONOTONIC (pair\n"
	       "overhead %llu ns included)\n\n",
	       REPS, (unsigned long long)ovh);
	printf("%-4s %9s %8s %15s %8s %8s %7s %7s %7s %10s %6s\n", "wl", "ops", "ns/op", "[min-max]",
	       "replay", "harness", "p50", "p99", "p99.9", "fail/free", "fails");
	bj_str("bench", "buddy");
	bj_u64("seed", SEED);
	bj_u64("space_bytes", SPACE);
	bj_u64("chunk_bytes", CHUNK);
	bj_u64("timer_pair_p50_ns", ovh);
	for (w = 0; w < NWL; w++) {
		struct bs ns, rep, base;
		struct result res;

		memset(&ns, 0, sizeof(ns));
		memset(&rep, 0, sizeof(rep));
		memset(&base, 0, sizeof(base));
		for (k = 0; k < REPS; k++) {
			double r0 = replay((enum wl)w, false, false).ns_per_op, b0;

			fake = 1;
			fake_next = 0;
			b0 = replay((enum wl)w, false, false).ns_per_op;
			fake = 0;
			bs_add(&rep, r0);
			bs_add(&base, b0);
			bs_add(&ns, r0 - b0);
		}
		res = replay((enum wl)w, true, false);
		qsort(lat, res.ops, sizeof(lat[0]), cmp_u64);
		printf("%-4s %9llu %8.1f [%6.1f-%6.1f] %8.1f %8.1f %7llu %7llu %7llu %10llu %6llu\n",
		       wl_name[w], (unsigned long long)res.ops, bs_median(&ns), bs_min(&ns), bs_max(&ns),
		       bs_median(&rep), bs_median(&base), (unsigned long long)lat_at(res.ops, 500),
		       (unsigned long long)lat_at(res.ops, 990), (unsigned long long)lat_at(res.ops, 999),
		       (unsigned long long)res.fails_enough_free, (unsigned long long)res.fails);
		json_workload((enum wl)w, &ns, &rep, &base, &res);
	}
	printf("%-4s %9s %8s %15s %8s %8s %7llu %7llu %7llu   (empty timer pair: noise floor of this run)\n",
	       "timer", "1000000", "-", "", "-", "-", (unsigned long long)ovh, (unsigned long long)t99,
	       (unsigned long long)t999);
	printf("\nfail/free = allocation failures while enough bytes were free (gpu_buddy W1x: 284)\n");
	printf("instructions per op: run `%s --callgrind` (valgrind); gpu_buddy: 256 / 1958 / 263\n",
	       "bench_buddy");
	json_metadata();
}

/* Total Ir of a callgrind output file (the "totals:" or "summary:" line). */
static double callgrind_total(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	double v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "totals:", 7) || !strncmp(line, "summary:", 8))
			v = strtod(strchr(line, ':') + 1, NULL);
	}
	fclose(f);
	return v;
}

static int run_callgrind(const char *self)
{
	int w;

	printf("%-4s %12s %10s %12s %10s %8s\n", "wl", "Ir", "instr/op", "gpu_buddy", "ratio", "target");
	for (w = 0; w < NWL; w++) {
		char cmd[1024], out[256];
		double ir, ops = w == W2L ? 200000 : 1000000;

		snprintf(out, sizeof(out), "/tmp/bench_buddy.callgrind.%d.%s", (int)getpid(), wl_name[w]);
		snprintf(cmd, sizeof(cmd),
			 "valgrind --tool=callgrind --instr-atstart=no --toggle-collect='bench_op_alloc*' "
			 "--toggle-collect='bench_op_free*' --callgrind-out-file=%s %s --one %s >/dev/null 2>&1",
			 out, self, wl_name[w]);
		if (system(cmd) != 0) {
			fprintf(stderr, "valgrind run failed (is valgrind installed?): %s\n", cmd);
			return 1;
		}
		ir = callgrind_total(out);
		remove(out);
		printf("%-4s %12.0f %10.1f %12.0f %9.2fx %8.0f\n", wl_name[w], ir, ir / ops, ref_instr[w],
		       ref_instr[w] / (ir / ops), target_instr[w]);
		bj_begin(wl_name[w]);
		bj_num("ir_per_op", ir / ops);
		bj_num("target_ir_per_op", target_instr[w]);
		bj_end();
	}
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t maxlive = SPACE / CHUNK;
	int w, rc;

	if (bj_open_args(&argc, argv))
		return 2;
	storage_bytes = fa_buddy_storage_size(SPACE, CHUNK);
	/* Metadata in 2 MiB pages when the kernel allows it, like a driver's
	 * kvmalloc() memory in the kernel's linear map: TLB misses on 4 KiB
	 * pages would otherwise dominate the latency tail. */
	storage = aligned_alloc(2u << 20, (size_t)((storage_bytes + (2u << 20) - 1) & ~((2ull << 20) - 1)));
	if (storage)
		(void)madvise(storage, (size_t)((storage_bytes + (2u << 20) - 1) & ~((2ull << 20) - 1)),
			      MADV_HUGEPAGE);
	lv = (struct live *)aligned_alloc(2u << 20, (size_t)(maxlive * sizeof(*lv)));
	if (lv)
		(void)madvise(lv, (size_t)(maxlive * sizeof(*lv)), MADV_HUGEPAGE);
	lat = (uint64_t *)malloc(1000000 * sizeof(*lat));
	if (!storage || !lv || !lat)
		return 1;
	if (argc == 3 && !strcmp(argv[1], "--one")) {
		for (w = 0; w < NWL; w++)
			if (!strcmp(argv[2], wl_name[w]))
				break;
		if (w == NWL)
			return 2;
		replay((enum wl)w, false, true);
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "--callgrind")) {
		bj_str("bench", "buddy_callgrind");
		rc = run_callgrind(argv[0]);
		return bj_close() ? 1 : rc;
	}
	run_native();
	return bj_close() ? 1 : 0;
}
