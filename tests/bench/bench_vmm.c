/* SPDX-License-Identifier: MIT */
/*
 * Reference VMM benchmark (production build: no validator).
 *
 * 1. A 4 GiB buffer bound with 4 KiB pages (1,048,576 PTEs, 2,059 page
 *    tables) through the whole VM_BIND path: submit (worst-case reservation),
 *    run (tables built from the reservation, PTEs written, flush, TLB
 *    invalidate), fence; nanoseconds per page end to end. Page tables written
 *    through the simulated PRAMIN window (every 32-bit write is a simulated
 *    MMIO access) and through a CPU mapping of VRAM (what a driver uses once
 *    BAR2 is up). Baseline measured in the same run: memset() of the same
 *    8 MiB of PTE bytes. Reference: Asahi's first bind of a 4 GiB buffer costs
 *    about 1.09 us per page; target <= 100 ns per page in the simulator.
 * 2. Binds per second: one submitter, 64 KiB map then unmap jobs, 16 in flight.
 *
 * Machine noise (two shared cores): the best of several runs is reported, the
 * first (cold) bind separately.
 */
#define VMM_DEMO_NO_MAIN
#include "vmm/host/demo.c"
#include "bench_json.h"

#define BENCH_RUNS 3

struct bench_row {
	double first, best, submit_ms, run_ms, share;
};

static int bench_big(bool direct, struct bench_row *row)
{
	struct demo *d = (struct demo *)calloc(1, sizeof(*d));
	char *argv[1] = { (char *)"bench" };
	int i, err;

	if (!d || demo_parse(1, argv, &d->o))
		return -FA_ENOMEM;
	d->o.vms = 1;
	d->o.threads = 1;
	d->o.direct = direct;
	err = demo_setup(d);
	for (i = 0; i < BENCH_RUNS && !err; i++) {
		err = demo_big_bind(d);
		if (i == 0)
			row->first = d->big_ns_per_page;
		if (i == 0 || d->big_ns_per_page < row->best) {
			row->best = d->big_ns_per_page;
			row->submit_ms = d->big_submit_ms;
			row->run_ms = d->big_run_ms;
			row->share = d->big_pte_share;
		}
	}
	if (!err && d->ver.mismatches)
		err = -FA_EFAULT;
	demo_teardown(d);
	if (d->failed)
		err = err ? err : -FA_EFAULT;
	sim_gpu_fini(d->gpu);
	free(d->gpu);
	free(d);
	return err;
}

static double bench_memset_ns_per_page(void)
{
	size_t bytes = (4ull << 30) >> 12 << 3;
	unsigned char *buf = (unsigned char *)malloc(bytes);
	double best = 0;
	int i;

	if (!buf)
		return 0;
	memset(buf, 1, bytes);
	for (i = 0; i < BENCH_RUNS; i++) {
		uint64_t t0 = vmm_host_now_ns(), t;

		memset(buf, i + 2, bytes);
		__asm__ __volatile__("" : : "r"(buf) : "memory");
		t = vmm_host_now_ns() - t0;
		if (i == 0 || t < best)
			best = (double)t;
	}
	free(buf);
	return best / (double)((4ull << 30) >> 12);
}

static double bench_binds_per_s(bool direct)
{
	struct demo *d = (struct demo *)calloc(1, sizeof(*d));
	char *argv[1] = { (char *)"bench" };
	struct vmm_fence *ring[16] = { NULL };
	struct vmm_bo *bo;
	struct vmm_op op;
	uint64_t t0, va = DEMO_VM_BASE, n = 0;
	double rate = 0;
	unsigned int i;

	if (!d || demo_parse(1, argv, &d->o))
		return 0;
	d->o.vms = 1;
	d->o.threads = 1;
	d->o.direct = direct;
	if (demo_setup(d) == 0) {
		bo = d->t[0].bos[0];
		t0 = vmm_host_now_ns();
		while (vmm_host_now_ns() - t0 < 1000000000ull) {
			for (i = 0; i < 64; i++, n++) {
				if (n & 1)
					vmm_op_unmap(&op, va + ((n >> 1) & 255) * 0x10000, 0x10000, 12);
				else
					vmm_op_map(&op, va + ((n >> 1) & 255) * 0x10000, 0x10000, bo, 0, 12);
				if (ring[n & 15]) {
					vmm_fence_wait(ring[n & 15]);
					vmm_fence_put(ring[n & 15]);
				}
				if (vmm_host_submit(d->vm[0], &op, 1, NULL, &ring[n & 15]))
					ring[n & 15] = NULL;
			}
		}
		for (i = 0; i < 16; i++)
			if (ring[i]) {
				vmm_fence_wait(ring[i]);
				vmm_fence_put(ring[i]);
			}
		vmm_host_wait_idle(d->dev);
		rate = (double)n * 1e9 / (double)(vmm_host_now_ns() - t0);
		if (d->dev->dev.stats.jobs_rejected)
			rate = 0;
	}
	demo_teardown(d);
	sim_gpu_fini(d->gpu);
	free(d->gpu);
	free(d);
	return rate;
}

int main(int argc, char **argv)
{
	struct bench_row rows[2];
	double base, binds[2];
	const char *name[2] = { "pramin", "direct" };
	int i, rc = 0;

	if (bj_open_args(&argc, argv) || argc != 1)
		return 2;
	base = bench_memset_ns_per_page();
	bj_str("bench", "vmm");
	bj_num("memset_ns_per_page", base);
	(void)vmm_demo_main; /* the demo's own entry point is not used here */
	printf("bench_vmm: 4 GiB bound with 4 KiB pages through submit/run/fence (1,048,576 PTEs),\n"
	       "NVIDIA MMU ver2 in a simulated 16 GiB VRAM, no validator; best of %d, first bind apart\n",
	       BENCH_RUNS);
	printf("baseline: memset() of the 8 MiB of PTE bytes = %.2f ns/page\n\n", base);
	printf("access   first ns/pg  best ns/pg  submit ms  run ms  PTE share  best/memset  Asahi(1090)/best\n");
	for (i = 0; i < 2; i++) {
		memset(&rows[i], 0, sizeof(rows[i]));
		if (bench_big(i == 1, &rows[i])) {
			printf("%-8s FAILED\n", name[i]);
			rc = 1;
			continue;
		}
		printf("%-8s %11.1f %11.1f %10.1f %7.1f %9.0f%% %11.1fx %16.1fx\n", name[i],
		       rows[i].first, rows[i].best, rows[i].submit_ms, rows[i].run_ms,
		       100.0 * rows[i].share, rows[i].best / (base > 0 ? base : 1),
		       1090.0 / rows[i].best);
		bj_begin(name[i]);
		bj_num("first_ns_per_page", rows[i].first);
		bj_num("best_ns_per_page", rows[i].best);
		bj_num("submit_ms", rows[i].submit_ms);
		bj_num("run_ms", rows[i].run_ms);
		bj_num("pte_share", rows[i].share);
		bj_end();
	}
	for (i = 0; i < 2; i++)
		binds[i] = bench_binds_per_s(i == 1);
	printf("\nbinds per second (64 KiB map or unmap jobs, 1 submitter, 16 in flight):"
	       " pramin %.0f, direct %.0f\n", binds[0], binds[1]);
	if (binds[0] <= 0 || binds[1] <= 0)
		rc = 1;
	bj_num("binds_per_s_pramin", binds[0]);
	bj_num("binds_per_s_direct", binds[1]);
	if (bj_close())
		rc = 1;
	return rc;
}
