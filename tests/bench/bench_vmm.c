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
 * 3. Cost breakdown (--json: "breakdown"): a first bind (fresh VM) and its
 *    unbind of 1 GiB and 4 GiB in 4 KiB / 64 KiB / 2 MiB pages, direct and
 *    PRAMIN, median [min-max] of BENCH_RUNS fresh VMs: ns per page of submit
 *    and run (and of the PTE writes inside run), the rest until the fence
 *    signalled; PTE entries written; through PRAMIN the aperture bytes, MMIO
 *    writes per PTE entry and window moves per MiB of aperture bytes; the run
 *    stage against memset() of the same PTE bytes (direct, target <= 2x), and
 *    against what kernel code has instead (`rep stosb`, the kernel's memset()
 *    on x86-64: no SIMD in kernel code) and the engine's own 8-byte stores, or
 *    the MMIO writes against the minimum, two 32-bit writes per 8 bytes
 *    (PRAMIN, target = the minimum), also with the PDE words the job must
 *    write (one per table linked or released) and the count of new tables
 *    filled with the invalid entry (not on clear VRAM). The run stage is
 *    split into a fixed cost per job (a one-page job on a fresh VM) and a
 *    marginal cost per PTE, each against memset(); host page faults during
 *    the job (first touch of the simulated VRAM, which real VRAM never
 *    takes) are counted.
 * 4. Throughput scaling (--json: "scaling"): the demo's own workload for one
 *    second with 1, 2, 4 submitter threads and 1, 4, 16 VMs, jobs/s per line,
 *    then one more run with the host's lock counters (--lock-stats): per lock
 *    class the contended share and per job the wait, the device-wide locks
 *    taken in run stages, fence sleeps and context switches.
 *
 * Machine noise (two shared cores): the best of several runs is reported, the
 * first (cold) bind separately.
 */
#define VMM_DEMO_NO_MAIN
#include "vmm/host/demo.c"
#include "bench_json.h"

#include <sys/resource.h>
#include <unistd.h>

#define BENCH_RUNS 3

/*
 * Sections 1-3 time the VMM as a production driver runs it: the simulator's
 * debug checkers are off (the live-range checker re-walks every page of a
 * changing live range, up to 262,144 walks for an unbind of 1 GiB of 4 KiB
 * pages; the torn-entry checker inspects every PRAMIN write). The demo and
 * the unit tests run with both on.
 */
static void bench_checkers_off(struct demo *d)
{
	sim_gpu_watch_disable(d->gpu);
	d->gpu->bar.check_torn = false;
}

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
	if (!err)
		bench_checkers_off(d);
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
		bench_checkers_off(d);
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

/* ------------------------------------------------ 3. cost breakdown */
struct bind_cost {
	double submit, run, pte, rest; /* ns per page */
	uint64_t ptes, ap_writes, moves;
	uint64_t pde_words;             /* PDE words written: tables linked plus tables released */
	uint64_t filled;                /* new tables filled with the invalid entry (not on clear VRAM) */
	long faults;                    /* host page faults (first touch of simulated VRAM) */
};

static uint64_t bench_tables_live(const struct fa_pt_stats *ps)
{
	uint64_t n = 0;
	unsigned int l;

	for (l = 0; l < FA_PT_MAX_LEVELS; l++)
		n += ps->live[l];
	return n;
}

static long bench_minflt(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_SELF, &ru) ? 0 : ru.ru_minflt;
}

/* One map (or unmap) job over [va, va + size) on vm, measured stage by stage. */
static int bench_job(struct demo *d, struct vmm_host_vm *vm, const struct vmm_op *op, uint64_t pages,
		     struct bind_cost *c)
{
	struct vmm_stats *st = &d->dev->dev.stats;
	uint64_t run0 = st->run_ns, pte0 = st->run_pte_ns, n0 = st->pte_writes;
	uint64_t w0 = d->gpu->bar.stats.aperture_writes, m0 = d->gpu->bar.stats.window_changes;
	uint64_t t0, t1, t2, tf0, ta0, live0;
	struct fa_pt_stats ps;
	struct vmm_fence *f;
	long pf0;
	int err;

	fa_pt_get_stats(&vm->vm.pt, &ps);
	tf0 = ps.tables_filled;
	ta0 = ps.allocated;
	live0 = bench_tables_live(&ps);
	pf0 = bench_minflt();
	fa_pramin_window_forget(&d->gpu->win); /* a cold window, as for a first bind */
	t0 = vmm_host_now_ns();
	err = vmm_host_submit(vm, op, 1, NULL, &f);
	t1 = vmm_host_now_ns();
	if (err)
		return err;
	vmm_fence_wait(f);
	t2 = vmm_host_now_ns();
	vmm_fence_put(f);
	vmm_host_wait_idle(d->dev);
	c->submit = (double)(t1 - t0) / (double)pages;
	c->run = (double)(st->run_ns - run0) / (double)pages;
	c->pte = (double)(st->run_pte_ns - pte0) / (double)pages;
	c->rest = (double)(t2 - t1) / (double)pages - c->run;
	c->ptes = st->pte_writes - n0;
	c->ap_writes = d->gpu->bar.stats.aperture_writes - w0;
	c->moves = d->gpu->bar.stats.window_changes - m0;
	c->faults = bench_minflt() - pf0;
	/* What the MMIO minimum counts besides the PTEs: one PDE word per table
	 * linked and one per table released (its PDE cleared). Tables filled
	 * with the invalid entry (new tables not on clear VRAM) are counted apart. */
	fa_pt_get_stats(&vm->vm.pt, &ps);
	c->filled = ps.tables_filled - tf0;
	c->pde_words = (ps.allocated - ta0) + (live0 + (ps.allocated - ta0) - bench_tables_live(&ps));
	return 0;
}

/*
 * The kernel's memset(): on x86-64, Linux's memset() is `rep stosb` when the
 * CPU has ERMS/FSRM (arch/x86/lib/memset_64.S, patched in by alternatives),
 * and kernel code cannot use SIMD registers outside kernel_fpu_begin()/end()
 * (built with -mno-sse -mno-avx). That, not glibc's AVX-512 memset(), is what
 * a page-table write in a driver can be held against. Elsewhere: a loop of
 * 8-byte volatile stores the compiler cannot vectorise.
 */
static void bench_kernel_memset(void *p, int c, size_t n)
{
#if defined(__x86_64__)
	__asm__ __volatile__("rep stosb" : "+D"(p), "+c"(n) : "a"(c) : "memory");
#else
	volatile uint64_t *q = (volatile uint64_t *)p;
	uint64_t v = 0x0101010101010101ull * (unsigned char)c;
	size_t i;

	for (i = 0; i < n / 8; i++)
		q[i] = v;
#endif
}

/* What bench_write_ns() times. */
enum bench_write {
	BENCH_MEMSET,        /* glibc memset(): the target's baseline */
	BENCH_KERNEL_MEMSET, /* bench_kernel_memset(): what kernel code has */
	BENCH_STORE64,       /* the direct accessor's fill64: the engine's store floor */
};

/*
 * Best of BENCH_RUNS writes of @p bytes into one warm host buffer: memset()
 * (the target's baseline), the kernel's memset, or the direct accessor's
 * fill64 of PTE-like values (val + i * step): the 8-byte volatile stores the
 * engine writes PTEs with, the floor of its marginal cost per PTE.
 */
static double bench_write_ns(uint64_t bytes, enum bench_write how)
{
	static unsigned char *buf;
	static uint64_t have;
	struct fa_pramin_direct dir;
	struct fa_pramin_accessor acc;
	double best = 0;
	int i;

	if (bytes > have) {
		free(buf);
		buf = (unsigned char *)aligned_alloc(4096, (size_t)((bytes + 4095) & ~4095ull));
		have = buf ? bytes : 0;
		if (!buf)
			return 0;
		memset(buf, 1, (size_t)bytes);
	}
	if (fa_pramin_direct_init(&dir, buf, 0, bytes, &acc))
		return 0;
	for (i = 0; i < BENCH_RUNS; i++) {
		uint64_t t0 = vmm_host_now_ns(), t;

		if (how == BENCH_STORE64)
			(void)fa_pramin_fill64(&acc, 0, 0x100000005ull + (uint64_t)i, 0x100, bytes / 8,
					       FA_PRAMIN_HIGH_FIRST);
		else if (how == BENCH_KERNEL_MEMSET)
			bench_kernel_memset(buf, i + 2, (size_t)bytes);
		else
			memset(buf, i + 2, (size_t)bytes);
		__asm__ __volatile__("" : : "r"(buf) : "memory");
		t = vmm_host_now_ns() - t0;
		if (i == 0 || (double)t < best)
			best = (double)t;
	}
	return best;
}

static double memset_ns(uint64_t bytes)
{
	return bench_write_ns(bytes, BENCH_MEMSET);
}

static void print_stage(const char *what, const struct bs *v)
{
	printf(" %s %7.2f [%6.2f-%6.2f]", what, bs_median(v), bs_min(v), bs_max(v));
}

/*
 * The fixed cost of a job's run stage: a bind (and its unbind) of one page
 * of 2^shift bytes in a fresh VM, median of BENCH_RUNS, in ns per job. It
 * holds what does not grow with the page count: the job's op loop, the
 * mapping-set update, the tree walks of one table path (tables created or
 * released), the flush, the TLB invalidate, the clock reads. A big job's
 * run stage is then fixed + (PTEs - 1) * marginal.
 */
static int bench_fixed(struct demo *d, unsigned int shift, struct bs fixed[2])
{
	uint64_t va = 1ull << 39, page = 1ull << shift;
	struct bind_cost c[2];
	int r, j, err = 0;

	for (r = 0; r < BENCH_RUNS && !err; r++) {
		struct vmm_host_vm *vm;
		struct vmm_bo *bo = NULL;
		struct vmm_op op;

		err = vmm_host_vm_create(d->dev, va, fa_max_u64(page, 2u << 20), &vm);
		if (err)
			break;
		err = vmm_bo_create(&d->dev->dev, fa_max_u64(page, 4096), &bo);
		if (!err) {
			vmm_op_map(&op, va, page, bo, 0, shift);
			err = bench_job(d, vm, &op, 1, &c[0]);
			if (!err) {
				vmm_op_unmap(&op, va, page, shift);
				err = bench_job(d, vm, &op, 1, &c[1]);
			}
		}
		if (vmm_host_vm_destroy(vm))
			err = err ? err : -FA_EFAULT;
		if (bo)
			vmm_bo_put(bo);
		for (j = 0; j < 2 && !err; j++)
			bs_add(&fixed[j], c[j].run);
	}
	return err;
}

/* One access mode, size and page size: BENCH_RUNS fresh VMs, bind then unbind. */
static int bench_breakdown_one(struct demo *d, bool direct, uint64_t size, unsigned int shift)
{
	struct bs sub[2], run[2], pte[2], rest[2], fixed[2];
	struct bind_cost c[2];
	uint64_t va = 1ull << 39, pages = size >> shift;
	double ms, ratio;
	int r, j, err = 0;

	memset(sub, 0, sizeof(sub));
	memset(run, 0, sizeof(run));
	memset(pte, 0, sizeof(pte));
	memset(rest, 0, sizeof(rest));
	memset(fixed, 0, sizeof(fixed));
	memset(c, 0, sizeof(c));
	for (r = 0; r < BENCH_RUNS && !err; r++) {
		struct vmm_host_vm *vm;
		struct vmm_bo *bo = NULL;
		struct vmm_op op;

		err = vmm_host_vm_create(d->dev, va, size, &vm);
		if (err)
			break;
		err = vmm_bo_create(&d->dev->dev, size, &bo);
		if (!err) {
			vmm_op_map(&op, va, size, bo, 0, shift);
			err = bench_job(d, vm, &op, pages, &c[0]);
			if (!err) {
				vmm_op_unmap(&op, va, size, shift);
				err = bench_job(d, vm, &op, pages, &c[1]);
			}
		}
		if (vmm_host_vm_destroy(vm))
			err = err ? err : -FA_EFAULT;
		if (bo)
			vmm_bo_put(bo);
		for (j = 0; j < 2 && !err; j++) {
			bs_add(&sub[j], c[j].submit);
			bs_add(&run[j], c[j].run);
			bs_add(&pte[j], c[j].pte);
			bs_add(&rest[j], c[j].rest);
		}
	}
	if (!err)
		err = bench_fixed(d, shift, fixed);
	if (err) {
		printf("  %-6s %4llu MiB %4u KiB: FAILED (%d)\n", direct ? "direct" : "pramin",
		       (unsigned long long)(size >> 20), 1u << (shift - 10), err);
		return err;
	}
	for (j = 0; j < 2; j++) {
		uint64_t bytes = c[j].ptes * 8;
		double fix = bs_median(&fixed[j]), total = bs_median(&run[j]) * (double)pages;
		double marg = c[j].ptes > 1 ? (total - fix) / (double)(c[j].ptes - 1) : 0;

		printf("  %-6s %4llu MiB %4u KiB %-6s", direct ? "direct" : "pramin",
		       (unsigned long long)(size >> 20), 1u << (shift - 10), j ? "unbind" : "bind");
		print_stage("submit", &sub[j]);
		print_stage("run", &run[j]);
		print_stage("(PTE", &pte[j]);
		printf(")  rest %6.2f | PTEs %8llu | run = fixed %6.0f ns + %5.2f ns/PTE",
		       bs_median(&rest[j]), (unsigned long long)c[j].ptes, fix, marg);
		bj_begin(NULL);
		bj_str("access", direct ? "direct" : "pramin");
		bj_u64("bytes", size);
		bj_u64("page_bytes", 1ull << shift);
		bj_str("job", j ? "unbind" : "bind");
		bj_stat("submit_ns_per_page", &sub[j]);
		bj_stat("run_ns_per_page", &run[j]);
		bj_stat("run_pte_ns_per_page", &pte[j]);
		bj_stat("rest_ns_per_page", &rest[j]);
		bj_stat("run_fixed_ns", &fixed[j]);
		bj_num("run_marginal_ns_per_pte", marg);
		bj_u64("pte_entries", c[j].ptes);
		bj_u64("pte_bytes", bytes);
		bj_u64("host_page_faults", (uint64_t)(c[j].faults > 0 ? c[j].faults : 0));
		if (direct) {
			uint64_t np = c[j].ptes ? c[j].ptes : 1;
			double st = bench_write_ns(bytes, BENCH_STORE64) / (double)np;
			double km = bench_write_ns(bytes, BENCH_KERNEL_MEMSET), km_pte = km / (double)np;
			double per_pte;

			ms = memset_ns(bytes);
			per_pte = c[j].ptes ? ms / (double)c[j].ptes : 0;
			ratio = ms > 0 ? total / ms : 0;
			printf(" | run / memset(%llu KiB) %6.2fx (target <= 2): fixed %6.2fx, marginal"
			       " %5.2fx of %.3f ns/PTE; run / kernel memset %6.2fx: marginal %5.2fx of"
			       " %.3f ns/PTE; 8-byte stores %.3f ns/PTE = %.2fx memset,"
			       " marginal %.2fx of them | faults %ld\n",
			       (unsigned long long)(bytes >> 10), ratio, ms > 0 ? fix / ms : 0,
			       per_pte > 0 ? marg / per_pte : 0, per_pte, km > 0 ? total / km : 0,
			       km_pte > 0 ? marg / km_pte : 0, km_pte, st,
			       per_pte > 0 ? st / per_pte : 0, st > 0 ? marg / st : 0, c[j].faults);
			bj_num("store64_ns_per_pte", st);
			bj_num("store64_vs_memset", per_pte > 0 ? st / per_pte : 0);
			bj_num("marginal_vs_store64", st > 0 ? marg / st : 0);
			bj_num("memset_ns", ms);
			bj_num("run_vs_memset", ratio);
			bj_num("pte_part_vs_memset", ms > 0 ? bs_median(&pte[j]) * (double)pages / ms : 0);
			bj_num("fixed_vs_memset", ms > 0 ? fix / ms : 0);
			bj_num("memset_ns_per_pte", per_pte);
			bj_num("marginal_vs_memset", per_pte > 0 ? marg / per_pte : 0);
			bj_num("kernel_memset_ns", km);
			bj_num("kernel_memset_ns_per_pte", km_pte);
			bj_num("run_vs_kernel_memset", km > 0 ? total / km : 0);
			bj_num("marginal_vs_kernel_memset", km_pte > 0 ? marg / km_pte : 0);
			bj_num("fixed_vs_kernel_memset", km > 0 ? fix / km : 0);
		} else {
			double mib = (double)c[j].ap_writes * 4 / 1048576.0;
			uint64_t min = bytes / 4, smin = min + 2 * c[j].pde_words;

			printf(" | MMIO %9llu = %.3f/PTE, min %llu (%.3fx), with %llu PDE words %llu"
			       " (%.3fx), %llu tables filled | moves %llu = %.2f/MiB\n",
			       (unsigned long long)c[j].ap_writes,
			       c[j].ptes ? (double)c[j].ap_writes / (double)c[j].ptes : 0,
			       (unsigned long long)min, min ? (double)c[j].ap_writes / (double)min : 0,
			       (unsigned long long)c[j].pde_words, (unsigned long long)smin,
			       smin ? (double)c[j].ap_writes / (double)smin : 0,
			       (unsigned long long)c[j].filled,
			       (unsigned long long)c[j].moves, mib > 0 ? (double)c[j].moves / mib : 0);
			bj_u64("mmio_writes", c[j].ap_writes);
			bj_u64("mmio_writes_min", min);
			bj_u64("pde_words", c[j].pde_words);
			bj_u64("mmio_writes_min_with_pdes", smin);
			bj_num("mmio_vs_min", min ? (double)c[j].ap_writes / (double)min : 0);
			bj_num("mmio_vs_min_with_pdes", smin ? (double)c[j].ap_writes / (double)smin : 0);
			bj_u64("tables_filled", c[j].filled);
			bj_num("mmio_writes_per_pte", c[j].ptes ? (double)c[j].ap_writes / (double)c[j].ptes : 0);
			bj_u64("window_moves", c[j].moves);
			bj_num("window_moves_per_mib", mib > 0 ? (double)c[j].moves / mib : 0);
		}
		bj_end();
	}
	return 0;
}

static int bench_breakdown(void)
{
	static const unsigned int shifts[3] = { 12, 16, 21 };
	int a, z, p, rc = 0;

	printf("\nVM_BIND cost breakdown: first bind of a fresh VM and its unbind, ns per page,\n"
	       "median [min-max] of %d VMs; rest = time from submit's return to the signalled fence\n"
	       "minus run (negative when the run step started before submit returned)\n", BENCH_RUNS);
	bj_begin_array("breakdown");
	for (a = 0; a < 2; a++) {
		struct demo *d = (struct demo *)calloc(1, sizeof(*d));
		char *argv[1] = { (char *)"bench" };

		if (!d || demo_parse(1, argv, &d->o))
			return 1;
		d->o.vms = 1;
		d->o.threads = 1;
		d->o.direct = a == 0;
		if (demo_setup(d)) {
			rc = 1;
		} else {
			bench_checkers_off(d);
			for (z = 0; z < 2; z++)
				for (p = 0; p < 3; p++)
					rc |= bench_breakdown_one(d, a == 0, (z ? 4ull : 1ull) << 30, shifts[p]) != 0;
		}
		demo_teardown(d);
		rc |= d->failed;
		sim_gpu_fini(d->gpu);
		free(d->gpu);
		free(d);
	}
	bj_end();
	return rc;
}

/* ------------------------------------------------ 4. throughput scaling */
/* One run of the demo (its stdout captured in a temporary file): jobs/s and,
 * with @p locks, its lock counters (demo_last). */
static double demo_jobs_per_s(unsigned int threads, unsigned int vms, unsigned int workers,
			      bool direct, bool locks, int *ok)
{
	char a0[] = "demo", a1[32], a2[32], a3[] = "--seconds=1", a4[] = "--quiet", a5[] = "--big-gib=0";
	char a6[] = "--pt-access=direct", a7[] = "--pt-access=pramin", a8[] = "--no-live-check";
	char a9[32], a10[] = "--lock-stats";
	char *args[11] = { a0, a1, a2, a3, a4, a5, direct ? a6 : a7, a8, a9, a10, NULL };
	char line[512];
	double rate = 0;
	FILE *tmp = tmpfile();
	int saved, rc;

	*ok = 0;
	if (!tmp)
		return 0;
	snprintf(a1, sizeof(a1), "--threads=%u", threads);
	snprintf(a2, sizeof(a2), "--vms=%u", vms);
	snprintf(a9, sizeof(a9), "--run-workers=%u", workers);
	fflush(stdout);
	saved = dup(1);
	if (saved < 0 || dup2(fileno(tmp), 1) < 0) {
		fclose(tmp);
		return 0;
	}
	rc = vmm_demo_main(locks ? 10 : 9, args);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	rewind(tmp);
	while (fgets(line, sizeof(line), tmp)) {
		const char *q = strstr(line, " jobs/s");

		if (!strncmp(line, "jobs ", 5) && q) {
			while (q > line && q[-1] != ' ')
				q--;
			rate = strtod(q, NULL);
		}
		if (!strncmp(line, "RESULT: PASS", 12))
			*ok = rc == 0;
	}
	fclose(tmp);
	return rate;
}

/* The contention figures of one counted run: printed after its line, and
 * written per lock class into the line's JSON object. */
static void bench_scaling_locks(void)
{
	const struct demo_result *r = &demo_last;
	double j = r->jobs ? (double)r->jobs : 1, dev_run = 0;
	unsigned int c;

	printf("         contended%%:");
	for (c = 0; c < VMM_HOST_LOCK_CLASSES; c++) {
		const struct vmm_lock_stat *l = &r->locks[c];

		printf(" %s %.2f", vmm_host_lock_class_name(c),
		       100.0 * (double)l->contended / (double)(l->acquired + !l->acquired));
		if (vmm_host_lock_class_device_wide(c) && c != VMM_HOST_LOCK_HW)
			dev_run += (double)l->in_run / j;
	}
	printf("\n         per job: wait %.1f us, run stage takes hw %.2f and other device-wide"
	       " %.2f locks; fence sleeps %.2f (wake-ups %.2f); context switches %.2f;"
	       " CPU %.1f us; %.1f%% of run stages overlapped another\n",
	       (double)(r->locks[VMM_HOST_LOCK_VM].wait_ns + r->locks[VMM_HOST_LOCK_PT].wait_ns +
			r->locks[VMM_HOST_LOCK_TIMELINE].wait_ns + r->locks[VMM_HOST_LOCK_VRAM].wait_ns +
			r->locks[VMM_HOST_LOCK_HW].wait_ns + r->locks[VMM_HOST_LOCK_SCHED].wait_ns +
			r->locks[VMM_HOST_LOCK_CLEANUP].wait_ns) / j / 1e3,
	       (double)r->locks[VMM_HOST_LOCK_HW].in_run / j, dev_run, r->fence_sleeps / j,
	       r->fence_wakeups / j, (r->csw_vol + r->csw_invol) / j, r->cpu_ns / j / 1e3,
	       100.0 * (double)r->runs_overlapped / j);
	bj_num("counted_jobs_per_s", r->jobs_per_s);
	bj_num("fence_sleeps_per_job", r->fence_sleeps / j);
	bj_num("fence_wakeups_per_job", r->fence_wakeups / j);
	bj_num("csw_voluntary_per_job", r->csw_vol / j);
	bj_num("csw_involuntary_per_job", r->csw_invol / j);
	bj_num("cpu_us_per_job", r->cpu_ns / j / 1e3);
	bj_num("runs_overlapped_pct", 100.0 * (double)r->runs_overlapped / j);
	bj_begin("locks");
	for (c = 0; c < VMM_HOST_LOCK_CLASSES; c++) {
		const struct vmm_lock_stat *l = &r->locks[c];

		bj_begin(vmm_host_lock_class_name(c));
		bj_str("scope", vmm_host_lock_class_device_wide(c) ? "device" : "vm");
		bj_num("acquired_per_job", (double)l->acquired / j);
		bj_num("contended_pct",
		       100.0 * (double)l->contended / (double)(l->acquired + !l->acquired));
		bj_num("in_run_stage_per_job", (double)l->in_run / j);
		bj_num("wait_ns_per_job", (double)l->wait_ns / j);
		bj_num("hold_ns_per_job", (double)l->hold_ns / j);
		bj_end();
	}
	bj_end();
}

/* One line: BENCH_RUNS plain runs for jobs/s, one counted run for the locks. */
static int bench_scaling_line(bool direct, unsigned int workers, unsigned int threads,
			      unsigned int vms)
{
	struct bs v;
	int k, o, ok = 1;

	memset(&v, 0, sizeof(v));
	for (k = 0; k < BENCH_RUNS; k++) {
		double r = demo_jobs_per_s(threads, vms, workers, direct, false, &o);

		ok &= o;
		bs_add(&v, r);
	}
	(void)demo_jobs_per_s(threads, vms, workers, direct, true, &o);
	ok &= o;
	printf("  %-6s %u worker%s %u submitter%s %2u VM%s %9.0f jobs/s [%.0f-%.0f]%s\n",
	       direct ? "direct" : "pramin", workers, workers > 1 ? "s" : " ", threads,
	       threads > 1 ? "s" : " ", vms, vms > 1 ? "s" : " ", bs_median(&v), bs_min(&v),
	       bs_max(&v), ok ? "" : "  (demo reported FAIL)");
	bj_begin(NULL);
	bj_str("access", direct ? "direct" : "pramin");
	bj_u64("threads", threads);
	bj_u64("vms", vms);
	bj_u64("run_workers", workers);
	bj_stat("jobs_per_s", &v);
	bench_scaling_locks();
	bj_end();
	return !ok;
}

static int bench_scaling(void)
{
	static const unsigned int th[3] = { 1, 2, 4 }, vm[3] = { 1, 4, 16 };
	unsigned int i, j, a, w;
	int rc = 0;

	printf("\nthroughput scaling: the demo's workload, 1 s per line (--seconds=1 --big-gib=0\n"
	       "--no-live-check: the live-range checker, a test harness, would dominate), 1 or 2 run\n"
	       "workers; %d runs: median [min-max] jobs/s; the machine has %ld online CPUs. Then one\n"
	       "more run with --lock-stats (its counters cost time: its jobs/s is not in the median):\n"
	       "per lock class the share of acquisitions that found the lock taken; per job the time\n"
	       "spent waiting, the device-wide locks taken inside run stages, fence sleeps, context\n"
	       "switches and CPU time; the share of run stages that began while another ran\n",
	       BENCH_RUNS, sysconf(_SC_NPROCESSORS_ONLN));
	bj_begin_array("scaling");
	for (a = 0; a < 2; a++)
		for (w = 1; w <= 2; w++)
			for (i = 0; i < 3; i++)
				for (j = 0; j < 3; j++)
					rc |= bench_scaling_line(a == 1, w, th[i], vm[j]);
	bj_end();
	return rc;
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
	rc |= bench_breakdown();
	rc |= bench_scaling();
	if (bj_close())
		rc = 1;
	return rc;
}
