/* SPDX-License-Identifier: MIT */
/*
 * fencealloc's main demo: a reference GPU VMM (examples/vmm/vmm.h) running a
 * VM_BIND workload over a simulated NVIDIA GPU (examples/sim/sim_gpu.h), with
 * the signalling validator on, verified through an MMU walker that reads the
 * raw page tables from simulated VRAM.
 *
 *   make demo                         # default run (about 10 s on 2 cores)
 *   make demo DEMO_ARGS='--seconds=30 --vms=8 --threads=4'
 *   make demo DEMO_ARGS='--seed-bug=1'   # allocation under the map lock in the run stage
 *   make demo DEMO_ARGS='--seed-bug=2'   # fence wait while holding the ref lock
 *   make demo DEMO_ARGS='--seed-bug=3'   # PTEs changed without a TLB invalidate
 *   build/demo/demo --help
 *
 * Exit status: 0 when every check passed, 1 when any failed (a seeded bug
 * must make it fail), 2 for bad arguments.
 */
#if defined(FA_VALIDATE) && !defined(VMM_DEMO_NO_MAIN)
#define FA_SIGNALLING_IMPLEMENTATION
#endif
#include <fencealloc/signalling.h>

#include "vmm/host/host.h"
#include "vmm/host/trace.h"
#include "sim/sim_gpu.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* ------------------------------------------------------------ options */

struct demo_opts {
	double seconds;          /* random workload duration */
	unsigned int vms;        /* VMs */
	unsigned int threads;    /* submitter threads */
	uint64_t seed;           /* PRNG seed */
	unsigned int vram_gib;   /* simulated VRAM */
	unsigned int max_bo_mib; /* largest buffer object */
	unsigned int seed_bug;   /* 0, 1, 2 */
	unsigned int verify_ms;  /* period of the live verification */
	unsigned int big_gib;    /* size of the big bind (0: skip) */
	unsigned int inflight;   /* fences a submitter keeps in flight */
	unsigned int run_workers; /* scheduler threads running run stages */
	unsigned long node_budget; /* mapping nodes per VM, live + reserved (0: none) */
	bool direct;             /* page tables written through a CPU mapping, not PRAMIN */
	bool ver3;               /* NVIDIA MMU ver3 (Hopper, Blackwell) instead of ver2 */
	bool quiet;
	bool lock_stats;         /* count every lock's acquisitions, contention, wait and hold time */
	bool no_live_check;      /* no live-range checker (throughput of the VMM, not of the checker) */
	const char *trace;       /* --trace=FILE: Chrome trace-event JSON of the jobs */
};

static void demo_usage(FILE *f)
{
	fprintf(f,
		"usage: demo [options]\n"
		"  --seconds=S      random workload duration (default 6)\n"
		"  --vms=N          VMs (default 4)\n"
		"  --threads=N      submitter threads (default 3)\n"
		"  --seed=N         PRNG seed (default 1)\n"
		"  --vram-gib=N     simulated VRAM in GiB (default 16)\n"
		"  --max-bo-mib=N   largest buffer object in MiB (default 256)\n"
		"  --verify-ms=N    live verification period (default 500)\n"
		"  --big-gib=N      size of the big 4 KiB-page bind (default 4, 0 = skip)\n"
		"  --inflight=N     jobs a submitter keeps in flight (default 16)\n"
		"  --node-budget=N  mapping nodes per VM, live + reserved (default 0: no limit);\n"
		"                   a submit over budget fails with -ENOSPC and is retried\n"
		"                   once the submitter's jobs in flight have completed\n"
		"  --format=ver2|ver3  page-table format: NVIDIA MMU ver2 (Pascal..Ada, default)\n"
		"                   or ver3 (Hopper, Blackwell: 57-bit VA, one more level)\n"
		"  --pt-access=pramin|direct  page-table writes through the PRAMIN window (default)\n"
		"                   or a CPU mapping of VRAM (BAR2-style, nouveau's path after boot)\n"
		"  --seed-bug=N     1: allocate a page table under the map lock in the run stage\n"
		"                   2: wait on a fence while holding the ref lock\n"
		"                   3: change PTEs without invalidating the TLB (the MMU check fails)\n"
		"  --trace=FILE     write the jobs' submit/run/cleanup timeline as Chrome\n"
		"                   trace-event JSON (open in ui.perfetto.dev or chrome://tracing)\n"
		"  --run-workers=N  scheduler threads running run stages (default 1, at most 8);\n"
		"                   run stages of different VMs run in parallel. The live-range\n"
		"                   checker follows one run stage at a time: off with N > 1\n"
		"  --no-live-check  no live-range checker (it re-walks pages after every aperture\n"
		"                   write, under the PRAMIN lock); the other checks stay\n"
		"  --lock-stats     count acquisitions, contended acquisitions (a trylock failed\n"
		"                   first), wait and hold time of every lock, per lock class\n"
		"  --quiet          summary only\n");
}

static int demo_parse(int argc, char **argv, struct demo_opts *o)
{
	int i;

	memset(o, 0, sizeof(*o));
	o->seconds = 6;
	o->vms = 4;
	o->threads = 3;
	o->seed = 1;
	o->vram_gib = 16;
	o->max_bo_mib = 256;
	o->verify_ms = 500;
	o->big_gib = 4;
	o->inflight = 16;
	o->run_workers = 1;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = strchr(a, '=');
		unsigned long long n = v ? strtoull(v + 1, NULL, 0) : 0;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			demo_usage(stdout);
			return 1;
		} else if (!strncmp(a, "--trace=", 8) && a[8]) {
			o->trace = a + 8;
		} else if (!strcmp(a, "--quiet")) {
			o->quiet = true;
		} else if (!strncmp(a, "--run-workers=", 14) && n >= 1 &&
			   n <= VMM_HOST_MAX_RUN_WORKERS) {
			o->run_workers = (unsigned int)n;
		} else if (!strcmp(a, "--no-live-check")) {
			o->no_live_check = true;
		} else if (!strcmp(a, "--lock-stats")) {
			o->lock_stats = true;
		} else if (!strncmp(a, "--seconds=", 10)) {
			o->seconds = strtod(v + 1, NULL);
		} else if (!strncmp(a, "--vms=", 6) && n >= 1 && n <= 64) {
			o->vms = (unsigned int)n;
		} else if (!strncmp(a, "--threads=", 10) && n >= 1 && n <= 32) {
			o->threads = (unsigned int)n;
		} else if (!strncmp(a, "--seed=", 7)) {
			o->seed = n;
		} else if (!strncmp(a, "--vram-gib=", 11) && n >= 1 && n <= 1024) {
			o->vram_gib = (unsigned int)n;
		} else if (!strncmp(a, "--max-bo-mib=", 13) && n >= 1 && n <= 4096) {
			o->max_bo_mib = (unsigned int)n;
		} else if (!strncmp(a, "--verify-ms=", 12) && n >= 1) {
			o->verify_ms = (unsigned int)n;
		} else if (!strncmp(a, "--big-gib=", 10) && n <= 64) {
			o->big_gib = (unsigned int)n;
		} else if (!strncmp(a, "--node-budget=", 14)) {
			o->node_budget = (unsigned long)n;
		} else if (!strncmp(a, "--inflight=", 11) && n >= 1 && n <= 1024) {
			o->inflight = (unsigned int)n;
		} else if (!strcmp(a, "--format=ver2") || !strcmp(a, "--format=ver3")) {
			o->ver3 = a[12] == '3';
		} else if (!strcmp(a, "--pt-access=pramin") || !strcmp(a, "--pt-access=direct")) {
			o->direct = a[12] == 'd';
		} else if (!strncmp(a, "--seed-bug=", 11) && n <= 3) {
			o->seed_bug = (unsigned int)n;
		} else {
			fprintf(stderr, "demo: bad argument '%s'\n", a);
			demo_usage(stderr);
			return 2;
		}
	}
	if (o->big_gib && (o->big_gib & (o->big_gib - 1))) {
		fprintf(stderr, "demo: --big-gib must be a power of two (a buffer object is)\n");
		return 2;
	}
	if (o->big_gib && (uint64_t)o->big_gib * 2 > o->vram_gib) {
		fprintf(stderr, "demo: --big-gib=%u needs --vram-gib=%u or more\n", o->big_gib,
			o->big_gib * 2);
		return 2;
	}
	if (o->trace && o->run_workers > 1) {
		/* The recorder pairs a signal with the latest run-stage sample:
		 * true only with one scheduler thread. */
		fprintf(stderr, "demo: --trace needs --run-workers=1\n");
		return 2;
	}
	if (o->seconds < 0 || o->seconds > 3600) {
		fprintf(stderr, "demo: --seconds must be in [0, 3600]\n");
		return 2;
	}
	return 0;
}

/* ------------------------------------------------------------ host allocator */

/*
 * Every allocation of the VMM goes through here: counted, optionally failed
 * on purpose (tests), and checked against the thread's "in run stage" flag,
 * independently of the validator.
 */
struct demo_alloc {
	unsigned long allocs, frees, run_allocs, fails;
	uint64_t bytes, bytes_freed;
	long fail_at; /* fail the allocation with this index (0-based), -1 never */
	unsigned long index;
};

static void *demo_alloc_fn(void *ctx, size_t size, fa_gfp_t gfp)
{
	struct demo_alloc *a = (struct demo_alloc *)ctx;
	unsigned long i = __atomic_fetch_add(&a->index, 1, __ATOMIC_RELAXED);
	void *p;

	(void)gfp;
	if (vmm_host_in_run_stage())
		__atomic_fetch_add(&a->run_allocs, 1, __ATOMIC_RELAXED);
	demo_trace_alloc_event(size, 0, vmm_host_in_run_stage());
	if (a->fail_at >= 0 && (unsigned long)a->fail_at == i) {
		__atomic_fetch_add(&a->fails, 1, __ATOMIC_RELAXED);
		return NULL;
	}
	p = malloc(size ? size : 1);
	if (p) {
		__atomic_fetch_add(&a->allocs, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&a->bytes, (uint64_t)size, __ATOMIC_RELAXED);
	}
	return p;
}

static void demo_free_fn(void *ctx, void *obj, size_t size)
{
	struct demo_alloc *a = (struct demo_alloc *)ctx;

	__atomic_fetch_add(&a->frees, 1, __ATOMIC_RELAXED);
	demo_trace_alloc_event(size, 1, vmm_host_in_run_stage());
	__atomic_fetch_add(&a->bytes_freed, (uint64_t)size, __ATOMIC_RELAXED);
	free(obj);
}

/* ------------------------------------------------------------ simulated GPU hooks */

static uint64_t demo_tlb_invalidate(void *ctx, uint64_t pdb)
{
	(void)pdb;
	return sim_gpu_tlb_invalidate((struct sim_gpu *)ctx);
}

static uint64_t demo_tlb_epoch(void *ctx)
{
	return sim_gpu_tlb_epoch((struct sim_gpu *)ctx);
}

/* The live-range checker: the walker re-walks a changing live range after
 * every MMIO write that lands on one of its entries. */
static void demo_live_begin(void *ctx, uint64_t pdb, uint64_t va, uint64_t size, uint64_t new_pa,
			    unsigned int shift)
{
	sim_gpu_watch_begin((struct sim_gpu *)ctx, pdb, va, size,
			    new_pa == VMM_NO_PA ? SIM_GPU_NO_PA : new_pa, shift);
}

static void demo_live_end(void *ctx)
{
	sim_gpu_watch_end((struct sim_gpu *)ctx);
}

/* ------------------------------------------------------------ PRNG (xoshiro256**) */

struct demo_rng {
	uint64_t s[4];
};

static uint64_t demo_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static void demo_rng_seed(struct demo_rng *r, uint64_t seed)
{
	int i;

	for (i = 0; i < 4; i++) {
		uint64_t z = (seed += 0x9e3779b97f4a7c15ULL);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		r->s[i] = z ^ (z >> 31);
	}
}

static uint64_t demo_rng_next(struct demo_rng *r)
{
	uint64_t *s = r->s, result = demo_rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = demo_rotl(s[3], 45);
	return result;
}

static uint64_t demo_rng_below(struct demo_rng *r, uint64_t n)
{
	return n ? demo_rng_next(r) % n : 0;
}

/* ------------------------------------------------------------ the world */

#define DEMO_LANE_SHIFT 30          /* 1 GiB of VA per lane */
#define DEMO_LANES 48               /* lanes per thread per VM */
#define DEMO_PIECES 8               /* mapped pieces a lane tracks */
#define DEMO_BOS 24                 /* buffer objects per thread */
#define DEMO_VM_BASE (1ull << 40)   /* VA of the first lane */

struct demo_piece {
	uint64_t va, size, bo_off;
	struct vmm_bo *bo;
	unsigned int shift;
};

struct demo_lane {
	unsigned int n;
	struct demo_piece p[DEMO_PIECES];
};

struct demo;

struct demo_thread {
	struct demo *d;
	unsigned int id;
	pthread_t th;
	struct demo_rng rng;
	struct vmm_bo *bos[DEMO_BOS];
	struct demo_lane *lanes; /* vms * DEMO_LANES */
	struct vmm_fence **ring; /* in-flight fences */
	unsigned int ring_head, ring_n;
	struct vmm_fence *last[64]; /* last fence per VM, for cross-VM dependencies */
	unsigned long jobs, rejected, remaps, splits, merges, deps, throttled;
	int unexpected_err;
};

struct demo_verify {
	unsigned long passes, mappings, pages, gaps, mismatches, stale, model_pages;
	char first[256];
};

struct demo {
	struct demo_opts o;
	struct demo_alloc alloc;
	struct fa_reserve_source src;
	struct sim_gpu *gpu;
	struct fa_pramin_direct direct;
	struct vmm_host *dev;
	struct vmm_host_vm *vm[64];
	struct demo_thread *t;
	volatile int stop;
	struct demo_verify ver;
	struct demo_trace trace, *tr; /* tr: &trace with --trace, else NULL */
	int failed;
	/* the big bind */
	double big_ns_per_page, big_submit_ms, big_run_ms, big_total_ms, big_pte_share;
	unsigned long big_pages, big_tables;
	unsigned long validator_reports;
	struct vmm_stats final; /* device counters after every VM is destroyed */
	struct {
		const char *what;
		bool ok;
	} checks[24];
	unsigned int nchecks;
};

/* What the last vmm_demo_main() measured (for the benchmark that embeds the demo). */
static struct demo_result {
	double jobs_per_s;
	unsigned long jobs;
	struct vmm_lock_stat locks[VMM_HOST_LOCK_CLASSES]; /* --lock-stats: the workload only */
	unsigned long fence_sleeps;  /* fence waits that slept */
	unsigned long fence_wakeups; /* their wake-ups (more than sleeps: woken for nothing) */
	unsigned long csw_vol, csw_invol; /* context switches of the process during the workload */
	unsigned long runs_overlapped; /* run stages begun while another was in progress */
	uint64_t cpu_ns;               /* CPU time of the process during the workload */
} demo_last;

static uint64_t demo_lane_va(unsigned int t, unsigned int lane)
{
	return DEMO_VM_BASE + ((uint64_t)(t * DEMO_LANES + lane) << DEMO_LANE_SHIFT);
}

/* ------------------------------------------------------------ verification */

static void demo_mismatch(struct demo *d, const char *fmt, uint64_t a, uint64_t b, uint64_t c)
{
	if (d->ver.mismatches++ == 0)
		snprintf(d->ver.first, sizeof(d->ver.first), fmt, (unsigned long long)a,
			 (unsigned long long)b, (unsigned long long)c);
}

static void demo_check_page(struct demo *d, struct vmm_host_vm *vm, const struct vmm_va *n, uint64_t va)
{
	struct sim_gpu_xlat x;
	uint64_t want = n->bo->pa + n->bo_offset + (va - n->va);
	int err = sim_gpu_translate(d->gpu, vm->vm.pdb, va, &x);

	d->ver.pages++;
	if (err)
		demo_mismatch(d, "va 0x%llx should map pa 0x%llx but faults (err %lld)", va, want,
			      (uint64_t)(int64_t)err);
	else if (x.pa != want)
		demo_mismatch(d, "va 0x%llx maps pa 0x%llx, expected 0x%llx", va, x.pa, want);
	else if (x.page_shift != n->page_shift)
		demo_mismatch(d, "va 0x%llx mapped with 2^%llu pages, expected 2^%llu", va,
			      (uint64_t)x.page_shift, (uint64_t)n->page_shift);
	else if (!!(x.attr & FA_PT_RO) != !!(n->flags & VMM_MAP_READ_ONLY))
		demo_mismatch(d, "va 0x%llx: read-only bit %llu, expected %llu", va,
			      (uint64_t)!!(x.attr & FA_PT_RO), (uint64_t)!!(n->flags & VMM_MAP_READ_ONLY));
}

static void demo_probe_gap(struct demo *d, struct vmm_host_vm *vm, uint64_t va, uint64_t hi)
{
	struct sim_gpu_xlat x;

	if (sim_gpu_translate(d->gpu, vm->vm.pdb, va, &x) == 0)
		demo_mismatch(d, "va 0x%llx is unmapped but translates to pa 0x%llx (gap ends 0x%llx)",
			      va, x.pa, hi);
	d->ver.pages++;
}

/* An unmapped range faults: its first and last page, a random one, and with
 * @full 64 pages spread over it. */
static void demo_check_gap(struct demo *d, struct vmm_host_vm *vm, uint64_t lo, uint64_t hi,
			   struct demo_rng *r, bool full)
{
	uint64_t pages = (hi - lo) >> 12, i;

	if (hi <= lo)
		return;
	d->ver.gaps++;
	demo_probe_gap(d, vm, lo, hi);
	demo_probe_gap(d, vm, hi - 4096, hi);
	demo_probe_gap(d, vm, lo + (demo_rng_below(r, pages) << 12), hi);
	for (i = 1; full && i < 64 && i < pages; i++)
		demo_probe_gap(d, vm, lo + ((pages * i / 64) << 12), hi);
}

/* Every mapping translates (first, last and random pages; every page of small
 * ones and 256 spread over large ones when @full), every gap faults. Holds the
 * VM's ref and map locks, so no run stage of this VM changes its tables. */
static void demo_verify_vm(struct demo *d, struct vmm_host_vm *vm, struct demo_rng *r, bool full)
{
	struct vmm_va *n;
	uint64_t prev_end = vm->vm.va_start, pages, i, stride;

	vmm_host_vm_lock_tables(vm);
	for (n = vmm_va_set_first_from(&vm->vm.live, 0); n; n = vmm_va_set_next(&vm->vm.live, n)) {
		demo_check_gap(d, vm, prev_end, n->va, r, full);
		pages = n->size >> 12;
		d->ver.mappings++;
		demo_check_page(d, vm, n, n->va);
		demo_check_page(d, vm, n, n->va + n->size - 4096);
		demo_check_page(d, vm, n, n->va + (demo_rng_below(r, pages) << 12) + 0x123);
		if (full) {
			stride = pages <= 256 ? 1 : pages >> 8;
			for (i = 0; i < pages; i += stride)
				demo_check_page(d, vm, n, n->va + (i << 12));
		}
		prev_end = n->va + n->size;
	}
	demo_check_gap(d, vm, prev_end, vm->vm.va_end, r, full);
	vmm_host_vm_unlock_tables(vm);
}

static void demo_verify_all(struct demo *d, struct demo_rng *r, bool full)
{
	unsigned int v;

	for (v = 0; v < d->o.vms; v++)
		demo_verify_vm(d, d->vm[v], r, full);
	d->ver.passes++;
}

/* ------------------------------------------------------------ workload */

static unsigned int demo_pick_shift(struct demo_rng *r, uint64_t max_size, uint64_t align_va)
{
	static const unsigned int shifts[3] = { 12, 16, 21 };
	unsigned int s = shifts[demo_rng_below(r, 3)];

	while (s > 12 && (FA_BIT64(s) > max_size || (align_va & (FA_BIT64(s) - 1))))
		s = s == 21 ? 16 : 12;
	return s;
}

/* Retire the oldest in-flight fence when the ring is full (backpressure). */
static void demo_track(struct demo_thread *t, struct vmm_fence *f)
{
	unsigned int cap = t->d->o.inflight;

	if (t->ring_n == cap) {
		struct vmm_fence *old = t->ring[t->ring_head];

		vmm_fence_wait(old);
		vmm_fence_put(old);
		t->ring_head = (t->ring_head + 1) % cap;
		t->ring_n--;
	}
	t->ring[(t->ring_head + t->ring_n) % cap] = f;
	t->ring_n++;
}

static void demo_drain(struct demo_thread *t)
{
	unsigned int cap = t->d->o.inflight;

	while (t->ring_n) {
		vmm_fence_wait(t->ring[t->ring_head]);
		vmm_fence_put(t->ring[t->ring_head]);
		t->ring_head = (t->ring_head + 1) % cap;
		t->ring_n--;
	}
}

/* Build one op on a lane and the lane's new state (applied if the job is accepted). */
static bool demo_make_op(struct demo_thread *t, unsigned int vmi, unsigned int li,
			 struct vmm_op *op, struct demo_lane *next)
{
	struct demo_lane *lane = &t->lanes[vmi * DEMO_LANES + li];
	struct demo_rng *r = &t->rng;
	uint64_t base = demo_lane_va(t->id, li), page, lo, hi, off;
	struct demo_piece *p, q;
	struct vmm_bo *bo;
	unsigned int k, i, s, action;

	*next = *lane;
	if (lane->n == 0) {
		/* Fresh map of (part of) a buffer object. */
		bo = t->bos[demo_rng_below(r, DEMO_BOS)];
		s = demo_pick_shift(r, bo->size, 0);
		page = FA_BIT64(s);
		off = demo_rng_below(r, bo->size >> s) << s;
		hi = bo->size - off;
		hi = page << demo_rng_below(r, (uint64_t)fa_fls64(hi >> s));
		vmm_op_map(op, base, hi, bo, off, s);
		op->flags = demo_rng_below(r, 4) == 0 ? VMM_MAP_READ_ONLY : 0;
		next->n = 1;
		next->p[0].va = base;
		next->p[0].size = hi;
		next->p[0].bo = bo;
		next->p[0].bo_off = off;
		next->p[0].shift = s;
		return true;
	}
	k = (unsigned int)demo_rng_below(r, lane->n);
	p = &lane->p[k];
	page = FA_BIT64(p->shift);
	action = (unsigned int)demo_rng_below(r, 10);
	if (action < 3) {
		/* Unmap a whole piece. */
		vmm_op_unmap(op, p->va, p->size, p->shift);
		for (i = k; i + 1 < next->n; i++)
			next->p[i] = next->p[i + 1];
		next->n--;
		return true;
	}
	if (lane->n + 2 > DEMO_PIECES || p->size < 2 * page)
		return false;
	/* A page-aligned sub-range [lo, hi) of the piece. */
	lo = p->va + (demo_rng_below(r, p->size >> p->shift) << p->shift);
	hi = lo + ((1 + demo_rng_below(r, (p->va + p->size - lo) >> p->shift)) << p->shift);
	if (action < 6) {
		/* Unmap from the middle: splits the piece. */
		vmm_op_unmap(op, lo, hi - lo, p->shift);
		t->splits++;
	} else {
		/* Overlapping remap of the sub-range: another BO or page size. */
		bo = t->bos[demo_rng_below(r, DEMO_BOS)];
		if (bo->size < hi - lo)
			return false;
		s = demo_pick_shift(r, hi - lo, lo | hi);
		if (((hi - lo) & (FA_BIT64(s) - 1)) != 0)
			s = p->shift;
		off = demo_rng_below(r, ((bo->size - (hi - lo)) >> s) + 1) << s;
		if (off + (hi - lo) > bo->size)
			off = 0;
		vmm_op_map(op, lo, hi - lo, bo, off, s);
		t->remaps++;
	}
	/* New pieces: left remnant, [remap], right remnant. */
	q = *p;
	for (i = k; i + 1 < next->n; i++)
		next->p[i] = next->p[i + 1];
	next->n--;
	if (lo > q.va) {
		next->p[next->n] = q;
		next->p[next->n].size = lo - q.va;
		next->n++;
	}
	if (op->kind == VMM_OP_MAP) {
		next->p[next->n].va = lo;
		next->p[next->n].size = hi - lo;
		next->p[next->n].bo = op->bo;
		next->p[next->n].bo_off = op->bo_offset;
		next->p[next->n].shift = op->page_shift;
		next->n++;
	}
	if (hi < q.va + q.size) {
		next->p[next->n] = q;
		next->p[next->n].va = hi;
		next->p[next->n].size = q.va + q.size - hi;
		next->p[next->n].bo_off = q.bo_off + (hi - q.va);
		next->n++;
	}
	return true;
}

/* One page checked against a submitter's lane record. */
static void demo_model_page(struct demo *d, struct vmm_host_vm *vm, const struct demo_lane *lane,
			    uint64_t base, uint64_t va)
{
	const struct demo_piece *p = NULL;
	struct sim_gpu_xlat x;
	unsigned int k;
	int err;

	for (k = 0; k < lane->n; k++)
		if (va - lane->p[k].va < lane->p[k].size)
			p = &lane->p[k];
	err = sim_gpu_translate(d->gpu, vm->vm.pdb, va, &x);
	d->ver.model_pages++;
	if (!p && !err)
		demo_mismatch(d, "submitter record: va 0x%llx is unmapped but translates to 0x%llx"
			      " (lane at 0x%llx)", va, x.pa, base);
	else if (p && err)
		demo_mismatch(d, "submitter record: va 0x%llx should map 0x%llx, faults (%lld)", va,
			      p->bo->pa + p->bo_off + (va - p->va), (uint64_t)(int64_t)err);
	else if (p && x.pa != p->bo->pa + p->bo_off + (va - p->va))
		demo_mismatch(d, "submitter record: va 0x%llx maps 0x%llx, expected 0x%llx", va, x.pa,
			      p->bo->pa + p->bo_off + (va - p->va));
}

static void *demo_submitter(void *arg)
{
	struct demo_thread *t = (struct demo_thread *)arg;
	struct demo *d = t->d;
	struct vmm_op ops[4];
	struct demo_lane next[4];
	unsigned int lanes[4], nops, i, vmi, want;
	struct vmm_fence *f, *in;
	uint64_t t0;
	int err;

	demo_trace_thread(d->tr, "submitter", t->id);
	while (!__atomic_load_n(&d->stop, __ATOMIC_ACQUIRE)) {
		vmi = (unsigned int)demo_rng_below(&t->rng, d->o.vms);
		want = 1 + (unsigned int)demo_rng_below(&t->rng, 4);
		nops = 0;
		for (i = 0; i < want; i++) {
			unsigned int li = (unsigned int)demo_rng_below(&t->rng, DEMO_LANES), j;
			bool dup = false;

			for (j = 0; j < nops; j++)
				dup |= lanes[j] == li;
			if (!dup && demo_make_op(t, vmi, li, &ops[nops], &next[nops]))
				lanes[nops++] = li;
		}
		if (!nops)
			continue;
		in = NULL;
		if (demo_rng_below(&t->rng, 8) == 0) {
			/* Cross-VM dependency: wait for this thread's last job on another VM. */
			unsigned int other = (unsigned int)demo_rng_below(&t->rng, d->o.vms);

			in = t->last[other];
			t->deps += in != NULL;
		}
		t0 = vmm_host_now_ns();
		err = vmm_host_submit(d->vm[vmi], ops, nops, in, &f);
		for (i = 0; err == -FA_ENOSPC && i < 64; i++) {
			/* Over budget: let this thread's jobs finish (their cleanups free
			 * reservations), then retry. Nothing was changed by the failure. */
			t->throttled++;
			demo_drain(t);
			vmm_host_wait_idle(d->dev);
			t0 = vmm_host_now_ns();
			err = vmm_host_submit(d->vm[vmi], ops, nops, in, &f);
		}
		if (err) {
			t->rejected++;
			if (!t->unexpected_err)
				t->unexpected_err = err;
			continue;
		}
		t->jobs++;
		demo_trace_submit(d->tr, t0, f, nops);
		for (i = 0; i < nops; i++)
			t->lanes[vmi * DEMO_LANES + lanes[i]] = next[i];
		if (t->last[vmi])
			vmm_fence_put(t->last[vmi]);
		t->last[vmi] = vmm_fence_get(f);
		demo_track(t, f);
	}
	demo_drain(t);
	return NULL;
}

/* After the run, against the submitters' own records (independent of the
 * VMM's mapping set): every piece they mapped translates to their buffer at
 * their offset, and random pages of their lanes are mapped exactly when a
 * piece covers them. Device idle; takes each VM's ref and map locks. */
static void demo_verify_models(struct demo *d, struct demo_rng *r)
{
	unsigned int t, v, l, k, i;

	for (v = 0; v < d->o.vms; v++) {
		struct vmm_host_vm *vm = d->vm[v];

		vmm_host_vm_lock_tables(vm);
		for (t = 0; t < d->o.threads; t++) {
			for (l = 0; l < DEMO_LANES; l++) {
				const struct demo_lane *lane = &d->t[t].lanes[v * DEMO_LANES + l];
				uint64_t base = demo_lane_va(t, l);

				for (k = 0; k < lane->n; k++)
					demo_model_page(d, vm, lane, base, lane->p[k].va);
				for (i = 0; i < 16; i++)
					demo_model_page(d, vm, lane, base,
							base + (demo_rng_below(r, 1ull << (DEMO_LANE_SHIFT - 12)) << 12));
			}
		}
		vmm_host_vm_unlock_tables(vm);
	}
}

/* ------------------------------------------------------------ summary */

static int demo_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void demo_print_lat(const char *name, struct vmm_lat *l)
{
	unsigned long n = l->n < l->cap ? l->n : l->cap;

	if (!n) {
		printf("  %-12s      -\n", name);
		return;
	}
	qsort(l->ns, n, sizeof(uint64_t), demo_cmp_u64);
	printf("  %-12s %9.1f %9.1f %9.1f   (%lu samples)\n", name, l->ns[n / 2] / 1e3,
	       l->ns[n - 1 - n / 100] / 1e3, l->ns[n - 1] / 1e3, n);
}

/* Record a check (the same text twice: both must pass); printed at the end. */
static int demo_check(struct demo *d, bool ok, const char *what)
{
	unsigned int i;

	if (!ok)
		d->failed = 1;
	for (i = 0; i < d->nchecks; i++)
		if (!strcmp(d->checks[i].what, what))
			break;
	if (i == d->nchecks && i < FA_ARRAY_SIZE(d->checks)) {
		d->checks[i].what = what;
		d->checks[i].ok = true;
		d->nchecks++;
	}
	if (i < d->nchecks)
		d->checks[i].ok &= ok;
	return ok;
}

static void demo_print_checks(const struct demo *d)
{
	unsigned int i;

	printf("checks\n");
	for (i = 0; i < d->nchecks; i++)
		printf("  %-7s %s\n", d->checks[i].ok ? "ok" : "FAILED", d->checks[i].what);
}

/* ------------------------------------------------------------ the big bind */

static int demo_big_bind(struct demo *d)
{
	uint64_t size = (uint64_t)d->o.big_gib << 30, va = 1ull << 39, t0, t1, t2, run0, pte0, i;
	struct vmm_host_vm *vm;
	struct vmm_bo *bo;
	struct vmm_op op;
	struct vmm_fence *f;
	struct sim_gpu_xlat x;
	int err;

	if (!size)
		return 0;
	err = vmm_host_vm_create(d->dev, va, size, &vm);
	if (err) {
		printf("big bind: VM creation failed (%d)\n", err);
		return err;
	}
	err = vmm_bo_create(&d->dev->dev, size, &bo);
	if (err) {
		printf("big bind: no %u GiB of VRAM for the buffer (%d)\n", d->o.big_gib, err);
		demo_check(d, vmm_host_vm_destroy(vm) == 0, "every VM destroyed once idle");
		return err;
	}
	run0 = d->dev->dev.stats.run_ns;
	pte0 = d->dev->dev.stats.run_pte_ns;
	vmm_op_map(&op, va, size, bo, 0, 12);
	t0 = vmm_host_now_ns();
	err = vmm_host_submit(vm, &op, 1, NULL, &f);
	t1 = vmm_host_now_ns();
	if (!err) {
		vmm_fence_wait(f);
		t2 = vmm_host_now_ns();
		vmm_fence_put(f);
		vmm_host_wait_idle(d->dev);
		d->big_pages = (unsigned long)(size >> 12);
		d->big_submit_ms = (t1 - t0) / 1e6;
		d->big_total_ms = (t2 - t0) / 1e6;
		d->big_run_ms = (d->dev->dev.stats.run_ns - run0) / 1e6;
		d->big_pte_share = (double)(d->dev->dev.stats.run_pte_ns - pte0) /
				   (double)(d->dev->dev.stats.run_ns - run0 + 1);
		d->big_ns_per_page = (double)(t2 - t0) / (double)d->big_pages;
		d->big_tables = vm->vm.tables_live;
		vmm_host_vm_lock_tables(vm);
		for (i = 0; i < size; i += (4097ull << 12)) {
			if (sim_gpu_walk(d->gpu, vm->vm.pdb, va + i, &x) || x.pa != bo->pa + i)
				demo_mismatch(d, "big bind: va 0x%llx -> 0x%llx (want 0x%llx)", va + i,
					      x.pa, bo->pa + i);
			d->ver.pages++;
		}
		vmm_host_vm_unlock_tables(vm);
	}
	demo_check(d, vmm_host_vm_destroy(vm) == 0, "every VM destroyed once idle");
	vmm_bo_put(bo);
	return err;
}

/* ------------------------------------------------------------ lock statistics */

/* Fence sleeps and wake-ups of every VM's timeline (device idle). */
static void demo_fence_sleeps(struct demo *d, unsigned long *sleeps, unsigned long *wakeups)
{
	unsigned int v;

	*sleeps = *wakeups = 0;
	for (v = 0; v < d->o.vms; v++) {
		struct vmm_fence_timeline *tl = &d->vm[v]->timeline;

		pthread_mutex_lock(&tl->lock);
		*sleeps += tl->waits;
		*wakeups += tl->wakeups;
		pthread_mutex_unlock(&tl->lock);
	}
}

/* Context switches and CPU time (user + system, ns) of the process so far. */
static void demo_csw(unsigned long *vol, unsigned long *invol, uint64_t *cpu_ns)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	*vol = (unsigned long)ru.ru_nvcsw;
	*invol = (unsigned long)ru.ru_nivcsw;
	*cpu_ns = ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000ull +
		  ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000ull;
}

static void demo_print_locks(const struct vmm_lock_stat *l, unsigned long jobs)
{
	unsigned int c;
	double j = jobs ? (double)jobs : 1;

	printf("locks (per job)   class     acquired contended%%  wait ns  hold ns  in run stage%s\n",
	       "");
	for (c = 0; c < VMM_HOST_LOCK_CLASSES; c++)
		printf("                  %-8s %9.2f %9.2f%% %8.0f %8.0f %9.2f  %s\n",
		       vmm_host_lock_class_name(c), l[c].acquired / j,
		       100.0 * (double)l[c].contended / (double)(l[c].acquired + !l[c].acquired),
		       l[c].wait_ns / j, l[c].hold_ns / j, l[c].in_run / j,
		       vmm_host_lock_class_device_wide(c) ? "device-wide" : "per VM");
	printf("wake-ups (per job) fence sleeps %.2f, their wake-ups %.2f; context switches %.2f"
	       " voluntary, %.2f involuntary\n", demo_last.fence_sleeps / j,
	       demo_last.fence_wakeups / j, demo_last.csw_vol / j, demo_last.csw_invol / j);
	printf("run stages        %lu of %lu began while another was in progress; CPU time %.1f us"
	       " per job\n", demo_last.runs_overlapped, jobs, demo_last.cpu_ns / j / 1e3);
}

/* ------------------------------------------------------------ main */

static const char *demo_bug_name(unsigned int bug)
{
	switch (bug) {
	case VMM_BUG_ALLOC_IN_RUN:
		return "; SEEDED BUG 1: a page table allocated under the map lock in the run stage";
	case VMM_BUG_WAIT_UNDER_REF:
		return "; SEEDED BUG 2: a fence wait while holding the ref lock (cleanup)";
	case VMM_BUG_NO_TLB_INVALIDATE:
		return "; SEEDED BUG 3: PTEs changed without a TLB invalidate";
	default:
		return "";
	}
}

static int demo_setup(struct demo *d)
{
	struct vmm_host_config cfg;
	struct vmm_hw hw;
	unsigned int v, i, b;
	int err;

	d->alloc.fail_at = -1;
	d->src.alloc = demo_alloc_fn;
	d->src.free = demo_free_fn;
	d->src.ctx = &d->alloc;
	d->gpu = (struct sim_gpu *)calloc(1, sizeof(*d->gpu));
	if (!d->gpu)
		return -FA_ENOMEM;
	err = sim_gpu_init(d->gpu, (uint64_t)d->o.vram_gib << 30,
			   d->o.ver3 ? fa_pt_format_nv_ver3() : fa_pt_format_nv_ver2());
	if (err)
		return err;
	memset(&hw, 0, sizeof(hw));
	hw.pt_mem = d->gpu->acc;
	if (d->o.direct && fa_pramin_direct_init(&d->direct, d->gpu->bar.vram, 0,
						 d->gpu->bar.vram_size, &hw.pt_mem))
		return -FA_EINVAL;
	hw.pt_mem_direct = d->o.direct; /* no device-wide lock around PTE writes */
	hw.tlb_invalidate = demo_tlb_invalidate;
	hw.tlb_epoch = demo_tlb_epoch;
	/* The live-range checker re-walks on aperture writes: through a CPU
	 * mapping there are none to check, and it follows one run stage at a
	 * time. */
	if (!d->o.direct && d->o.run_workers == 1 && !d->o.no_live_check) {
		hw.live_begin = demo_live_begin;
		hw.live_end = demo_live_end;
		if (sim_gpu_watch_enable(d->gpu))
			return -FA_ENOMEM;
	}
	hw.ctx = d->gpu;
	hw.vram_size = d->gpu->bar.vram_size;
	hw.vram_cleared = true; /* the simulated VRAM starts zero-filled */
	hw.fmt = d->gpu->fmt;
	memset(&cfg, 0, sizeof(cfg));
	cfg.seed_bug = d->o.seed_bug;
	cfg.node_budget = d->o.node_budget;
	cfg.lock_stats = d->o.lock_stats;
	cfg.run_workers = d->o.run_workers;
	err = vmm_host_create(&hw, &d->src, &cfg, &d->dev);
	if (err)
		return err;
	for (v = 0; v < d->o.vms && !err; v++)
		err = vmm_host_vm_create(d->dev, DEMO_VM_BASE,
				    (uint64_t)d->o.threads * DEMO_LANES << DEMO_LANE_SHIFT, &d->vm[v]);
	if (err)
		return err;
	d->t = (struct demo_thread *)calloc(d->o.threads, sizeof(*d->t));
	if (!d->t)
		return -FA_ENOMEM;
	for (i = 0; i < d->o.threads && !err; i++) {
		struct demo_thread *t = &d->t[i];
		uint64_t budget = ((uint64_t)d->o.vram_gib << 30) / 4 / d->o.threads, max_bo, used = 0;

		t->d = d;
		t->id = i;
		demo_rng_seed(&t->rng, d->o.seed * 1000003u + i);
		t->lanes = (struct demo_lane *)calloc((size_t)d->o.vms * DEMO_LANES, sizeof(*t->lanes));
		t->ring = (struct vmm_fence **)calloc(d->o.inflight, sizeof(*t->ring));
		if (!t->lanes || !t->ring)
			return -FA_ENOMEM;
		max_bo = fa_min_u64((uint64_t)d->o.max_bo_mib << 20, budget / 4);
		max_bo = 4096ull << (fa_fls64(max_bo >> 12) - 1); /* a power of two */
		for (b = 0; b < DEMO_BOS && !err; b++) {
			/* 4 KiB .. max_bo, log-uniform, within the thread's share of VRAM;
			 * the first one is the largest, for big 2 MiB-page mappings. */
			uint64_t sz = 4096ull << demo_rng_below(&t->rng, (uint64_t)fa_fls64(max_bo >> 12));

			if (b == 0)
				sz = max_bo;
			while (sz > 4096 && used + sz > budget)
				sz >>= 1;
			used += sz;
			err = vmm_bo_create(&d->dev->dev, sz, &t->bos[b]);
		}
	}
	return err;
}

static void demo_teardown(struct demo *d)
{
	unsigned int v, i, b;

	for (i = 0; d->t && i < d->o.threads; i++) {
		for (v = 0; v < 64; v++)
			vmm_fence_put(d->t[i].last[v]);
		for (b = 0; b < DEMO_BOS; b++)
			vmm_bo_put(d->t[i].bos[b]);
		free(d->t[i].lanes);
		free(d->t[i].ring);
	}
	free(d->t);
	for (v = 0; v < d->o.vms; v++)
		if (d->vm[v])
			demo_check(d, vmm_host_vm_destroy(d->vm[v]) == 0, "every VM destroyed once idle");
	if (d->dev) {
		demo_check(d, vmm_vram_avail(&d->dev->dev) == d->gpu->bar.vram_size,
			   "every byte of VRAM back in the buddy (no leaked page table or BO)");
		d->final = d->dev->dev.stats;
		vmm_host_destroy(d->dev);
		d->dev = NULL;
	}
}

static int vmm_demo_main(int argc, char **argv)
{
	struct demo *d = (struct demo *)calloc(1, sizeof(*d));
	struct demo_rng vr;
	uint64_t t_start, t_end, deadline;
	unsigned long jobs = 0, rejected = 0, remaps = 0, splits = 0, deps = 0, throttled = 0, torn;
	unsigned long model_before;
	struct vmm_lock_stat locks[VMM_HOST_LOCK_CLASSES];
	unsigned long csw0, icsw0, csw1, icsw1, sleeps, wakeups;
	uint64_t cpu0, cpu1;
	struct vmm_stats *s;
	unsigned int i;
	double secs;
	int err, first_err = 0;

	if (!d)
		return 1;
	err = demo_parse(argc, argv, &d->o);
	if (err) {
		free(d);
		return err == 1 ? 0 : 2;
	}
	demo_rng_seed(&vr, d->o.seed ^ 0x5eed);
	err = demo_setup(d);
	if (err) {
		printf("setup failed: %d\n", err);
		return 1;
	}
	printf("fencealloc reference VMM: NVIDIA MMU %s page tables in a simulated %u GiB VRAM,\n"
	       "written through %s; %u VMs, %u submitter threads, %u scheduler%s, 1 cleanup worker;\n"
	       "seed %" PRIu64 ", %.1f s%s\n",
	       d->o.ver3 ? "ver3" : "ver2", d->o.vram_gib,
	       d->o.direct ? "a CPU mapping of VRAM" : "the PRAMIN window",
	       d->o.vms, d->o.threads, d->o.run_workers, d->o.run_workers > 1 ? "s" : "",
	       d->o.seed, d->o.seconds,
	       demo_bug_name(d->o.seed_bug));
	fflush(stdout);

	if (demo_big_bind(d))
		d->failed = 1;

	if (d->o.trace) {
		if (demo_trace_init(&d->trace, d->dev)) {
			printf("--trace: out of memory\n");
			return 1;
		}
		d->tr = &d->trace;
		demo_trace_thread(d->tr, "main", 0);
	}
	demo_csw(&csw0, &icsw0, &cpu0);
	t_start = vmm_host_now_ns();
	deadline = t_start + (uint64_t)(d->o.seconds * 1e9);
	for (i = 0; i < d->o.threads; i++)
		pthread_create(&d->t[i].th, NULL, demo_submitter, &d->t[i]);
	while (vmm_host_now_ns() < deadline) {
		uint64_t left = deadline - vmm_host_now_ns(), nap = (uint64_t)d->o.verify_ms * 1000000ull;
		struct timespec ts;

		if (nap > left)
			nap = left;
		ts.tv_sec = (time_t)(nap / 1000000000ull);
		ts.tv_nsec = (long)(nap % 1000000000ull);
		nanosleep(&ts, NULL);
		demo_verify_all(d, &vr, false);
		if (!d->o.quiet) {
			printf("  t=%5.1fs  jobs run %8lu  cleaned %8lu  mappings checked %8lu  mismatches %lu\n",
			       (vmm_host_now_ns() - t_start) / 1e9, d->dev->dev.stats.jobs_run,
			       d->dev->dev.stats.jobs_cleaned, d->ver.mappings, d->ver.mismatches);
			fflush(stdout);
		}
	}
	__atomic_store_n(&d->stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < d->o.threads; i++)
		pthread_join(d->t[i].th, NULL);
	vmm_host_wait_idle(d->dev);
	t_end = vmm_host_now_ns();
	/* The workload's locking only: the checks below take locks too. */
	demo_csw(&csw1, &icsw1, &cpu1);
	vmm_host_lock_stats(d->dev, locks);
	demo_fence_sleeps(d, &sleeps, &wakeups);
	if (d->tr) {
		/* before verification: its page-table reads are not part of the timeline */
		demo_check(d, demo_trace_write(d->tr, d->o.trace) == 0, "--trace file written");
		printf("trace             %s: %lu jobs (%lu recorded), %lu host allocations and frees\n",
		       d->o.trace, d->tr->njobs, d->tr->njobs < DEMO_TRACE_MAX_JOBS ? d->tr->njobs :
		       (unsigned long)DEMO_TRACE_MAX_JOBS, d->tr->nallocs);
		demo_trace_fini(d->tr);
		d->tr = NULL;
	}
	demo_verify_all(d, &vr, true);
	model_before = d->ver.mismatches;
	demo_verify_models(d, &vr);

	for (i = 0; i < d->o.threads; i++) {
		jobs += d->t[i].jobs;
		rejected += d->t[i].rejected;
		remaps += d->t[i].remaps;
		splits += d->t[i].splits;
		deps += d->t[i].deps;
		throttled += d->t[i].throttled;
		if (!first_err)
			first_err = d->t[i].unexpected_err;
	}
	s = &d->dev->dev.stats;
	secs = (t_end - t_start) / 1e9;
	torn = (unsigned long)d->gpu->bar.stats.torn_valid;
	d->validator_reports = fa_signalling_report_count();

	printf("\n== summary ==\n");
	printf("jobs              %lu submitted, %lu run, %lu cleaned in %.2f s: %.0f jobs/s"
	       " (%lu cross-VM dependencies)\n",
	       s->jobs_submitted, s->jobs_run, s->jobs_cleaned, secs, jobs / secs, deps);
	memset(&demo_last, 0, sizeof(demo_last));
	demo_last.jobs = jobs;
	demo_last.jobs_per_s = jobs / secs;
	memcpy(demo_last.locks, locks, sizeof(locks));
	demo_last.fence_sleeps = sleeps;
	demo_last.fence_wakeups = wakeups;
	demo_last.csw_vol = csw1 - csw0;
	demo_last.csw_invol = icsw1 - icsw0;
	demo_last.cpu_ns = cpu1 - cpu0;
	demo_last.runs_overlapped = __atomic_load_n(&d->dev->runs_overlapped, __ATOMIC_RELAXED);
	if (d->o.lock_stats)
		demo_print_locks(locks, jobs);
	printf("ops               %lu maps (%lu overlapping remaps), %lu unmaps (%lu splitting)\n",
	       s->ops_map, remaps, s->ops_unmap, splits);
	printf("latency (us)           p50       p99       max\n");
	demo_print_lat("submit", &d->dev->lat_submit);
	demo_print_lat("run", &d->dev->lat_run);
	demo_print_lat("cleanup", &d->dev->lat_cleanup);
	demo_print_lat("end-to-end", &d->dev->lat_e2e);
	printf("PTE writes        %lu (%.1f%% of run-stage time in the page-table walks)\n", s->pte_writes,
	       100.0 * (double)s->run_pte_ns / (double)(s->run_ns + 1));
	printf("PRAMIN            %" PRIu64 " window moves, %" PRIu64 " aperture writes, %" PRIu64
	       " flushes, %lu torn entries, %" PRIu64 " TLB invalidates\n",
	       d->gpu->win.stats.moves, d->gpu->win.stats.writes, d->gpu->win.stats.flushes, torn,
	       d->gpu->stats.invalidates);
	printf("live PTEs         %lu torn or foreign PTEs observed after %" PRIu64 " MMIO writes"
	       " (%" PRIu64 " changed live ranges, %" PRIu64 " re-walks, %" PRIu64 " untracked)\n",
	       torn + (unsigned long)d->gpu->watch.foreign, d->gpu->watch.writes,
	       d->gpu->watch.watches, d->gpu->watch.walks, d->gpu->watch.overflow);
	if (!d->gpu->watch.slots)
		printf("                  (live-range checker off: %s)\n", d->o.direct ?
		       "a CPU mapping makes no aperture writes to follow" : d->o.no_live_check ?
		       "--no-live-check" : "it follows one run stage at a time, --run-workers > 1");
	if (d->gpu->watch.foreign)
		printf("                  first foreign PTE: va 0x%" PRIx64 " -> pa 0x%" PRIx64 "\n",
		       d->gpu->watch.first_va, d->gpu->watch.first_pa);
	{
		uint64_t blocks = 0, tbytes = 0, filled = 0, skipped = 0;

		for (i = 0; i < d->o.vms; i++) {
			blocks += d->vm[i]->vm.ptalloc.stats.blocks;
			tbytes += d->vm[i]->vm.ptalloc.stats.table_bytes;
			filled += d->vm[i]->vm.pt.stats.tables_filled;
			skipped += d->vm[i]->vm.pt.stats.fills_skipped;
		}
		printf("page tables       reserved %lu, used %lu (%.1f%%; planned at submit against every"
		       " pending job), %lu freed after their invalidate;\n"
		       "                  the static worst case would have reserved %lu, a tree-aware"
		       " estimate without the plan %lu (too small for %lu jobs)\n",
		       s->pt_reserved, s->pt_used, 100.0 * s->pt_used / (s->pt_reserved + 1e-9),
		       s->pt_freed, s->pt_static, s->pt_estimated, s->pt_estimate_short);
		printf("page-table VRAM   %.1f KiB in 4 KiB blocks for %.1f KiB of tables (%.3fx) in the"
		       " workload's VMs; new tables on clear VRAM not filled: %" PRIu64 " of %" PRIu64 "\n",
		       blocks * 4.0, tbytes / 1024.0, (double)(blocks * 4096) / ((double)tbytes + 1e-9),
		       skipped, skipped + filled);
	}
	printf("mapping nodes     reserved %lu, used %lu (%.1f%%; the split/merge plan at submit)",
	       s->nodes_reserved, s->nodes_used, 100.0 * s->nodes_used / (s->nodes_reserved + 1e-9));
	if (d->o.node_budget)
		printf("; budget %lu per VM: %lu submits throttled", d->o.node_budget, throttled);
	printf("\n");
	printf("reservation short: %lu (run steps that found a reservation short); jobs not"
	       " exactly as planned: %lu\n", s->reserve_short, s->jobs_inexact);
	printf("verification      %lu passes, %lu mappings, %lu translations, %lu gaps faulted as"
	       " expected,\n                  %lu pages against the submitters' own records,"
	       " %lu mismatches\n",
	       d->ver.passes, d->ver.mappings, d->ver.pages, d->ver.gaps, d->ver.model_pages,
	       d->ver.mismatches);
	if (d->ver.mismatches)
		printf("                  first: %s\n", d->ver.first);
	if (d->big_pages)
		printf("%u GiB bind        %lu pages of 4 KiB: submit %.1f ms, run %.1f ms, end-to-end"
		       " %.1f ms = %.1f ns/page (target <= 100; Asahi's first bind ~1090);"
		       " page-table walks %.0f%% of the run stage; %lu tables\n",
		       d->o.big_gib, d->big_pages, d->big_submit_ms, d->big_run_ms, d->big_total_ms,
		       d->big_ns_per_page, 100.0 * d->big_pte_share, d->big_tables);

	demo_check(d, model_before == 0, "every mapping translates, every gap faults (MMU walker)");
	demo_check(d, d->ver.mismatches == model_before,
		   "the MMU walker agrees with what the submitters mapped");
	demo_check(d, torn == 0, "no torn PTE observable through PRAMIN");
	demo_check(d, d->gpu->watch.foreign == 0 && d->gpu->watch.overflow == 0,
		   "no foreign PTE in a changing live range after any MMIO write (walker)");
	demo_check(d, s->run_errors == 0, "no page-table call failed in a run stage");
	demo_check(d, s->reserve_short == 0, "no reservation short in a run stage");
	demo_check(d, s->jobs_inexact == 0 && s->pt_used == s->pt_reserved &&
		   s->nodes_used == s->nodes_reserved,
		   "every job used exactly what submit reserved (page tables, mapping nodes)");
	demo_check(d, rejected == 0, "no submit rejected (the workload only builds valid jobs)");
	for (i = 0; i < d->o.vms; i++)
		demo_check(d, vmm_host_vm_check_views(d->vm[i]), "submit-side and run-side views agree");
	demo_teardown(d);
	s = &d->final;
	printf("leaks             page tables %lu (%lu allocated, %lu freed), host allocations %lu"
	       " (%" PRIu64 " bytes)\n",
	       s->pt_allocated - s->pt_freed, s->pt_allocated, s->pt_freed,
	       d->alloc.allocs - d->alloc.frees, d->alloc.bytes - d->alloc.bytes_freed);
	demo_check(d, s->pt_allocated == s->pt_freed, "every page table freed");
	printf("allocations attempted inside signalling sections: %lu\n", d->alloc.run_allocs);
	printf("validator reports: %lu%s\n", d->validator_reports,
#ifdef FA_VALIDATE
	       ""
#else
	       " (validator not compiled in: build with -DFA_VALIDATE)"
#endif
	);
	demo_check(d, d->alloc.allocs == d->alloc.frees && d->alloc.bytes == d->alloc.bytes_freed,
		   "every host allocation freed");
	demo_check(d, d->alloc.run_allocs == 0, "no allocation inside a signalling section");
	demo_check(d, d->validator_reports == 0, "no validator report");
	if (first_err)
		printf("note: a submit failed with %d\n", first_err);
	demo_print_checks(d);
	printf("RESULT: %s\n", d->failed ? "FAIL" : "PASS");
	err = d->failed;
	sim_gpu_fini(d->gpu);
	free(d->gpu);
	free(d);
	return err ? 1 : 0;
}

#ifndef VMM_DEMO_NO_MAIN
int main(int argc, char **argv)
{
	return vmm_demo_main(argc, argv);
}
#endif
