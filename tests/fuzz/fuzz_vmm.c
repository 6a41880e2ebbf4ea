/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the reference VMM's job stream (examples/vmm/vmm.h)
 * against a page model, single-threaded and deterministic. The input picks
 * a page-table format (NVIDIA ver2, ver2 GP100, ver3, x86-64), merging, one
 * or two VMs, a page-table budget and a node budget, then interleaves
 * submits of 1-4 op jobs (maps of 4 KiB / 64 KiB / 2 MiB pages over
 * anything, unmaps over holes, sparse binds and unbinds, and raw bad ops),
 * run steps of the oldest pending job of a VM, cleanups in any order, and
 * submits with an injected allocation failure. Each VM spans 4 MiB across a
 * 1 GiB page-directory boundary: 1024 pages the model checks one by one.
 * A warning from the core (FA_WARN) fails the input.
 *
 * The driver is the smallest one the core allows: lock hooks over flags
 * that check the lock order (VM, page table, VRAM, hw) and every
 * assert_held, a counting allocator that fails on demand and traps if
 * called inside a run step, and the simulated GPU (PRAMIN window with its
 * torn-entry checker, TLB-invalidate register, MMU walker and TLB).
 *
 * Checked: a submit returns exactly the error the documented rules give
 * (op checks, overlap, splits, sparse rules) or, when they accept it, 0 or
 * a resource error the configuration allows (-FA_EDQUOT with a page-table
 * budget, -FA_ENOSPC with a node budget, -FA_ENOMEM/-FA_ENOSPC when an
 * allocation failed); a refused submit changes nothing (views, plan,
 * claims, pools, VRAM, host memory); a run step uses exactly what its
 * submit reserved (tables, mapping and shadow nodes), allocates nothing and
 * leaves VRAM alone; after it, the pages of the 64 KiB blocks it touched
 * (and one block either side) translate through the TLB as the model says,
 * and at every quiesce every page of every VM does (one walk per leaf or
 * single-level fault, the rest of its span derived); when no job is
 * pending both views agree, no released table is left unfreed, no table is
 * claimed, and the pools hold exactly the views' nodes and one shadow node
 * per table; at the
 * end, after every cleanup and the VMs' fini, VRAM, page tables, BOs and
 * host memory are back to where they started.
 */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include "fa_test.h"
#define FZ_NAME "vmm"
#include "fz_input.h"
#include <fencealloc/pt_formats.h>
#include "vmm_model.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FZ_VMS 2
#define FZ_PAGES 1024u                                 /* 4 MiB of VA per VM */
#define FZ_VA ((1ull << 32) + (1ull << 30) - (2ull << 20)) /* straddles a 1 GiB PDE */
#define FZ_VRAM (32ull << 20)
#define FZ_BOS 3
#define FZ_JOBS 24       /* jobs pending or run, not yet cleaned up, all VMs */
#define FZ_STEPS 96
#define FZ_OPS 4

static unsigned long fz_step;

/* ------------------------------------------------------------ the driver */

enum { FZ_L_VM, FZ_L_PT, FZ_L_VRAM, FZ_L_HW, FZ_RANKS };

struct fz_lock {
	struct vmm_lock ops;
	unsigned int rank;
	bool held;
};

static unsigned int fz_held[FZ_RANKS]; /* locks held per rank */

static void fz_lock_fn(struct vmm_lock *l)
{
	struct fz_lock *k = FA_CONTAINER_OF(l, struct fz_lock, ops);
	unsigned int r;

	FZ_CHECK(!k->held);
	for (r = k->rank; r < FZ_RANKS; r++)
		FZ_CHECK(fz_held[r] == 0); /* nested in the documented order only */
	k->held = true;
	fz_held[k->rank]++;
}

static void fz_unlock_fn(struct vmm_lock *l)
{
	struct fz_lock *k = FA_CONTAINER_OF(l, struct fz_lock, ops);

	FZ_CHECK(k->held);
	k->held = false;
	fz_held[k->rank]--;
}

static void fz_assert_held(struct vmm_lock *l)
{
	FZ_CHECK(FA_CONTAINER_OF(l, struct fz_lock, ops)->held);
}

static void fz_lock_init(struct fz_lock *k, unsigned int rank)
{
	k->ops.lock = fz_lock_fn;
	k->ops.unlock = fz_unlock_fn;
	k->ops.assert_held = fz_assert_held;
	k->rank = rank;
	k->held = false;
}

struct fz_alloc {
	unsigned long allocs, frees;
	unsigned long fail_in; /* the fail_in-th allocation from now fails (0: none) */
	bool failed;           /* one did */
	bool in_run;           /* inside vmm_job_run() */
};

static void *fz_alloc_fn(void *ctx, size_t size, fa_gfp_t gfp)
{
	struct fz_alloc *a = (struct fz_alloc *)ctx;
	void *p;

	(void)gfp;
	FZ_CHECK(!a->in_run); /* the run stage never allocates */
	if (a->fail_in && --a->fail_in == 0) {
		a->failed = true;
		return NULL;
	}
	p = malloc(size ? size : 1);
	FZ_CHECK(p != NULL);
	a->allocs++;
	return p;
}

static void fz_free_fn(void *ctx, void *obj, size_t size)
{
	struct fz_alloc *a = (struct fz_alloc *)ctx;

	(void)size;
	a->frees++;
	free(obj);
}

static uint64_t fz_tlb_invalidate(void *ctx, uint64_t pdb);
static uint64_t fz_tlb_epoch(void *ctx);

/* ------------------------------------------------------------ state */

struct fz_vm {
	struct vmm_vm vm;
	struct fz_lock lock, pt_lock;
	struct vmm_model_page staged[FZ_PAGES]; /* after every submitted job */
	struct vmm_model_page live[FZ_PAGES];   /* after every job that ran */
	struct vmm_job *queue[FZ_JOBS];         /* submitted, not run, in order */
	unsigned int nqueue;
	bool dirty; /* a job ran since the last full check */
};

struct fz {
	struct sim_gpu gpu;
	struct fz_lock hw_lock, vram_lock;
	struct fz_alloc alloc;
	struct vmm_device dev;
	struct vmm_bo *bo[FZ_BOS];
	struct fz_vm vms[FZ_VMS];
	unsigned int nvms;
	struct vmm_job *ran[FZ_JOBS]; /* run, not cleaned up */
	unsigned int nran;
	const struct fa_pt_format *fmt;
	unsigned long pt_budget, node_budget;
	uint64_t vram0;
};

static struct fz fz;

static uint64_t fz_tlb_invalidate(void *ctx, uint64_t pdb)
{
	(void)pdb;
	FZ_CHECK(fz.hw_lock.held); /* MMIO */
	return sim_gpu_tlb_invalidate((struct sim_gpu *)ctx);
}

static uint64_t fz_tlb_epoch(void *ctx)
{
	return sim_gpu_tlb_epoch((struct sim_gpu *)ctx);
}

/* ------------------------------------------------------------ the model's rules */

static bool fz_page_ok(unsigned int shift)
{
	if (shift == 12 || shift == 21)
		return true;
	return shift == 16 && fz.fmt != fa_pt_format_x86_64();
}

/* vmm_op_check(), from its documentation. */
static int fz_expect_op(const struct fz_vm *v, const struct vmm_op *op)
{
	uint64_t page, end, va0 = v->vm.va_start, va1 = v->vm.va_end;

	if (op->kind < VMM_OP_MAP || op->kind > VMM_OP_UNSPARSE)
		return -FA_EINVAL;
	if (op->kind >= VMM_OP_SPARSE && !fz.fmt->sparse_pte)
		return -FA_EOPNOTSUPP;
	if (!fz_page_ok(op->page_shift))
		return -FA_EOPNOTSUPP;
	page = 1ull << op->page_shift;
	if (!op->size || (op->va & (page - 1)) || (op->size & (page - 1)))
		return -FA_EINVAL;
	end = op->va + op->size;
	if (end < op->va || op->va < va0 || end > va1)
		return -FA_ERANGE;
	if (op->kind != VMM_OP_MAP)
		return 0;
	if (!op->bo || (op->bo_offset & (page - 1)) || (op->flags & ~VMM_MAP_READ_ONLY))
		return -FA_EINVAL;
	if (op->bo_offset + op->size < op->bo_offset || op->bo_offset + op->size > op->bo->size)
		return -FA_ERANGE;
	return 0;
}

/* The sparse region of the submit-side model containing page @p: its first
 * page and length, or false. Regions are runs of sparse pages bound as one;
 * the model keeps their bounds in @reg. */
struct fz_region {
	unsigned int a, n, shift;
};

static struct fz_region fz_regions[FZ_VMS][FZ_PAGES];
static unsigned int fz_nregions[FZ_VMS];

static const struct fz_region *fz_region_overlap(unsigned int vm, unsigned int a, unsigned int n)
{
	const struct fz_region *best = NULL;
	unsigned int i;

	for (i = 0; i < fz_nregions[vm]; i++) {
		const struct fz_region *r = &fz_regions[vm][i];

		if (r->a < a + n && a < r->a + r->n && (!best || r->a < best->a))
			best = r;
	}
	return best;
}

static bool fz_mapped(const struct fz_vm *v, unsigned int a, unsigned int n)
{
	unsigned int i;

	for (i = a; i < a + n; i++)
		if (v->staged[i].bo)
			return true;
	return false;
}

/* The view checks of one op against the submit-side model (sparse rules,
 * then splits), as vmm_job_submit() documents them. */
static int fz_expect_view(unsigned int vi, const struct vmm_op *op)
{
	const struct fz_vm *v = &fz.vms[vi];
	unsigned int a = (unsigned int)((op->va - v->vm.va_start) >> 12);
	unsigned int n = (unsigned int)(op->size >> 12);
	const struct fz_region *r = fz_region_overlap(vi, a, n);

	switch (op->kind) {
	case VMM_OP_MAP:
		if (r && (r->a > a || r->a + r->n < a + n || r->shift != op->page_shift))
			return -FA_EINVAL;
		break;
	case VMM_OP_SPARSE:
		return r || fz_mapped(v, a, n) ? -FA_EBUSY : 0;
	case VMM_OP_UNSPARSE:
		if (!r || r->a != a || r->n != n || r->shift != op->page_shift)
			return -FA_ENOENT;
		return fz_mapped(v, a, n) ? -FA_EBUSY : 0;
	default:
		break;
	}
	if (vmm_model_bad_split(v->staged, FZ_PAGES, a) || vmm_model_bad_split(v->staged, FZ_PAGES, a + n))
		return -FA_EINVAL;
	return 0;
}

static int fz_expect_job(unsigned int vi, const struct vmm_op *ops, unsigned int nops)
{
	unsigned int i, j;
	int err;

	if (nops == 0 || nops > VMM_JOB_MAX_OPS)
		return -FA_EINVAL;
	for (i = 0; i < nops; i++) {
		err = fz_expect_op(&fz.vms[vi], &ops[i]);
		if (err)
			return err;
	}
	for (i = 0; i < nops; i++)
		for (j = i + 1; j < nops; j++)
			if (ops[i].va < ops[j].va + ops[j].size && ops[j].va < ops[i].va + ops[i].size)
				return -FA_EINVAL;
	for (i = 0; i < nops; i++) {
		err = fz_expect_view(vi, &ops[i]);
		if (err)
			return err;
	}
	return 0;
}

static void fz_apply_regions(unsigned int vi, const struct vmm_op *op)
{
	unsigned int a = (unsigned int)((op->va - fz.vms[vi].vm.va_start) >> 12), i;

	if (op->kind == VMM_OP_SPARSE) {
		struct fz_region *r = &fz_regions[vi][fz_nregions[vi]++];

		r->a = a;
		r->n = (unsigned int)(op->size >> 12);
		r->shift = op->page_shift;
	} else if (op->kind == VMM_OP_UNSPARSE) {
		for (i = 0; i < fz_nregions[vi]; i++)
			if (fz_regions[vi][i].a == a) {
				fz_regions[vi][i] = fz_regions[vi][--fz_nregions[vi]];
				break;
			}
	}
}

/* ------------------------------------------------------------ checks */

static void fz_snap(struct fz_vm *v, struct vmm_snap *s, unsigned long *host)
{
	vmm_snap_take(&v->vm, s);
	*host = fz.alloc.allocs - fz.alloc.frees - s->cached;
}

/*
 * Pages [a, b) of the VM, each compared with the model. The MMU is asked
 * through the TLB (a missing invalidate shows) once per entry that decides
 * a page: one leaf of 2^s bytes, or a fault at a single-kind level, covers
 * its whole aligned span, so the other pages of that span get the same
 * answer at their offset without another walk. (A fault at a dual level
 * does not: the big-page table may map a neighbouring 64 KiB.)
 */
static void fz_check_pages(struct fz_vm *v, unsigned int a, unsigned int b)
{
	const struct fa_pt_format *f = fz.fmt;
	struct sim_gpu_xlat x, y;
	unsigned int i = a, j, shift;
	uint64_t span;
	int err;

	while (i < b) {
		err = sim_gpu_translate(&fz.gpu, v->vm.pdb, v->vm.va_start + ((uint64_t)i << 12), &x);
		if (!err)
			shift = x.page_shift;
		else if (f->level[x.level].nsub == 2)
			shift = 12;
		else
			shift = f->level[x.level].shift;
		span = 1ull << (fa_min_u64(shift, 40) - 12);
		span -= ((v->vm.va_start >> 12) + i) & (span - 1); /* to the span's end */
		for (j = i; j < i + span && j < b; j++) {
			y = x;
			y.pa = x.pa + ((uint64_t)(j - i) << 12);
			if (!vmm_model_page_ok(&v->live[j], err, &y)) {
				fprintf(stderr, "vmm fuzz: vm %u page %u: err %d pa 0x%llx shift %u type %d\n",
					(unsigned int)(v - fz.vms), j, err, (unsigned long long)y.pa,
					y.page_shift, (int)y.type);
				FZ_CHECK(!"page differs from the model");
			}
		}
		i = j;
	}
}

static void fz_check_counters(void)
{
	const struct vmm_stats *st = &fz.dev.stats;
	unsigned int i, pending = 0;

	for (i = 0; i < fz.nvms; i++)
		pending += fz.vms[i].nqueue;
	FZ_CHECK(st->jobs_inexact == 0);
	FZ_CHECK(st->reserve_short == 0);
	FZ_CHECK(st->run_errors == 0);
	FZ_CHECK(st->order_errors == 0);
	/* pending jobs hold reservations not used yet */
	FZ_CHECK(pending ? st->pt_used <= st->pt_reserved : st->pt_used == st->pt_reserved);
	FZ_CHECK(pending ? st->nodes_used <= st->nodes_reserved : st->nodes_used == st->nodes_reserved);
	FZ_CHECK(fz.gpu.bar.stats.torn_valid == 0 && fz.gpu.bar.stats.errors == 0);
	if (fa_test_warnings())
		fprintf(stderr, "vmm fuzz: warning: %s\n", fa_test_last_warning());
	FZ_CHECK(fa_test_warnings() == 0);
}

/* ------------------------------------------------------------ stages */

static void fz_run(unsigned int vi)
{
	struct fz_vm *v = &fz.vms[vi];
	struct vmm_job *job;
	unsigned long nodes0 = fz.dev.stats.nodes_used, pt0 = fz.dev.stats.pt_used;
	uint64_t vram = vmm_vram_avail(&fz.dev);
	unsigned int i, k, lo = FZ_PAGES, hi = 0;

	if (!v->nqueue)
		return;
	job = v->queue[0];
	memmove(&v->queue[0], &v->queue[1], --v->nqueue * sizeof(v->queue[0]));
	fz_lock_fn(&v->pt_lock.ops);
	fz.alloc.in_run = true;
	vmm_job_run(job);
	fz.alloc.in_run = false;
	fz_unlock_fn(&v->pt_lock.ops);
	/* exactly what submit reserved */
	FZ_CHECK(job->ran);
	FZ_CHECK(job->tables_used == job->tables_reserved);
	FZ_CHECK(fz.dev.stats.pt_used - pt0 == job->tables_reserved);
	FZ_CHECK(fz.dev.stats.nodes_used - nodes0 == job->nodes_reserved);
	FZ_CHECK(fa_reserve_count(&job->nodes) == 0);
	for (k = 0; k < v->vm.nshadow; k++)
		FZ_CHECK(fa_reserve_count(&job->shadow[k]) == 0);
	FZ_CHECK(vmm_vram_avail(&fz.dev) == vram); /* tables came from claims made at submit */
	for (i = 0; i < job->nops; i++) {
		uint64_t a = (job->ops[i].va - v->vm.va_start) >> 12, b = a + (job->ops[i].size >> 12);

		vmm_model_apply(v->live, v->vm.va_start, &job->ops[i]);
		lo = a < lo ? (unsigned int)a : lo;
		hi = b > hi ? (unsigned int)b : hi;
	}
	fz.ran[fz.nran++] = job;
	v->dirty = true;
	fz_check_counters();
	/* the 64 KiB blocks the job touched and one on either side, page by page
	 * (the whole VM at the next quiesce) */
	lo = lo >= 16 ? (lo & ~15u) - 16 : 0;
	hi = ((hi + 15u) & ~15u) + 16;
	fz_check_pages(v, lo, hi < FZ_PAGES ? hi : FZ_PAGES);
}

static void fz_cleanup(unsigned int which)
{
	struct vmm_job *job = fz.ran[which];
	struct fz_lock *l = FA_CONTAINER_OF(job->vm->locks.vm, struct fz_lock, ops);

	fz.ran[which] = fz.ran[--fz.nran];
	fz_lock_fn(&l->ops);
	vmm_job_cleanup(job);
	fz_unlock_fn(&l->ops);
}

/* Run and clean everything up: both views of every VM agree. */
static void fz_quiesce(void)
{
	unsigned long shadows;
	unsigned int i, k;

	for (i = 0; i < fz.nvms; i++)
		while (fz.vms[i].nqueue)
			fz_run(i);
	while (fz.nran)
		fz_cleanup(fz.nran - 1);
	for (i = 0; i < fz.nvms; i++) {
		struct fz_vm *v = &fz.vms[i];

		fz_lock_fn(&v->lock.ops);
		fz_lock_fn(&v->pt_lock.ops);
		FZ_CHECK(vmm_vm_idle(&v->vm));
		FZ_CHECK(vmm_vm_views_equal(&v->vm));
		FZ_CHECK(v->vm.pt_unfreed_bytes == 0); /* every released table was freed */
		/* no reservation left: pools hold exactly the views' nodes, no table claimed */
		FZ_CHECK(fa_reserve_pool_charged(&v->vm.node_pool) ==
			 v->vm.live.count + v->vm.sparse_live.count);
		FZ_CHECK(fa_reserve_pool_charged(&v->vm.staged_pool) ==
			 v->vm.staged.count + v->vm.sparse_staged.count);
		FZ_CHECK(v->vm.ptalloc.claim_whole == 0 && v->vm.ptalloc.claim_small == 0);
		for (k = 0, shadows = 0; k < v->vm.nshadow; k++)
			shadows += fa_reserve_pool_charged(&v->vm.shadow_pool[k]);
		FZ_CHECK(shadows == v->vm.tables_live); /* one shadow node per table */
		fz_unlock_fn(&v->pt_lock.ops);
		fz_unlock_fn(&v->lock.ops);
		FZ_CHECK(memcmp(v->staged, v->live, sizeof(v->live)) == 0);
		if (v->dirty)
			fz_check_pages(v, 0, FZ_PAGES);
		v->dirty = false;
	}
}

/* One op drawn from the input: mostly valid-looking, over what is there. */
static void fz_draw_op(struct fz_in *in, unsigned int vi, struct vmm_op *op)
{
	static const unsigned int shifts[4] = { 12, 16, 21, 12 };
	const struct fz_vm *v = &fz.vms[vi];
	unsigned int kind = fz_byte(in) % 16, sh = shifts[fz_byte(in) & 3], step = 1u << (sh - 12);
	unsigned int a = (fz_u16(in) % (FZ_PAGES / step)) * step;
	unsigned int n = (1 + fz_byte(in) % (sh == 21 ? 2 : 8)) * step, p;
	struct vmm_bo *bo = fz.bo[fz_byte(in) % FZ_BOS];
	uint64_t off;

	if (kind < 8) { /* map, at an offset that usually fits the BO */
		off = (uint64_t)(fz_byte(in) % 64) << sh;
		if (fz_byte(in) % 4)
			off %= bo->size;
		vmm_op_map(op, v->vm.va_start + ((uint64_t)a << 12), (uint64_t)n << 12, bo,
			   off & ~((1ull << sh) - 1), sh);
		op->flags = fz_byte(in) % 4 == 0 ? VMM_MAP_READ_ONLY : 0;
		return;
	}
	if (kind < 12) { /* unmap, mostly around what is mapped, with its page size */
		p = fz_u16(in) % FZ_PAGES;
		if (v->staged[p].bo && fz_byte(in) % 4) {
			sh = v->staged[p].shift;
			step = 1u << (sh - 12);
			a = p & ~(step - 1);
			n = (1 + fz_byte(in) % 3) * step;
		}
		vmm_op_unmap(op, v->vm.va_start + ((uint64_t)a << 12), (uint64_t)n << 12, sh);
		return;
	}
	if (kind < 14) { /* sparse bind; unbind of a region (or of anything) */
		if (kind == 13 && fz_nregions[vi] && fz_byte(in) % 4) {
			const struct fz_region *r = &fz_regions[vi][fz_byte(in) % fz_nregions[vi]];

			vmm_op_sparse(op, VMM_OP_UNSPARSE, v->vm.va_start + ((uint64_t)r->a << 12),
				      (uint64_t)r->n << 12, r->shift);
			return;
		}
		vmm_op_sparse(op, kind == 12 ? VMM_OP_SPARSE : VMM_OP_UNSPARSE,
			      v->vm.va_start + ((uint64_t)a << 12), (uint64_t)n << 12, sh);
		return;
	}
	/* raw: any kind, page shift, address, size, offset, flags */
	memset(op, 0, sizeof(*op));
	op->kind = fz_byte(in) % 6;
	op->page_shift = fz_byte(in) % 70;
	op->va = fz_byte(in) % 2 ? v->vm.va_start + (fz_u16(in) << (fz_byte(in) % 24)) :
				   fz_u16(in) << 48 | fz_u16(in) << 32 | fz_u16(in) << 16 | fz_u16(in);
	op->size = fz_byte(in) % 2 ? fz_u16(in) << (fz_byte(in) % 24) : ~0ull - fz_u16(in);
	op->bo = fz_byte(in) % 4 ? bo : NULL;
	op->bo_offset = fz_byte(in) % 2 ? fz_u16(in) << 12 : ~0ull - fz_u16(in);
	op->flags = fz_byte(in) % 4 ? 0 : fz_byte(in);
}

static void fz_submit(struct fz_in *in, unsigned int vi, unsigned long fail_in)
{
	struct fz_vm *v = &fz.vms[vi];
	struct vmm_op ops[VMM_JOB_MAX_OPS + 1];
	unsigned int nops = 1 + fz_byte(in) % FZ_OPS, i;
	unsigned long host0, host1;
	struct vmm_snap s0, s1;
	struct vmm_job *job = NULL;
	int want, err;

	for (i = 0; i < nops; i++)
		fz_draw_op(in, vi, &ops[i]);
	if (fz_byte(in) == 0xff) { /* too many ops, or none */
		for (i = nops; i <= VMM_JOB_MAX_OPS; i++)
			ops[i] = ops[i % nops];
		nops = fz_byte(in) % 2 ? VMM_JOB_MAX_OPS + 1 : 0;
	}
	if (fz.vms[0].nqueue + fz.vms[1].nqueue + fz.nran >= FZ_JOBS)
		return; /* the test's job tables are full (every VM's jobs count) */
	want = fz_expect_job(vi, ops, nops);
	fz_lock_fn(&v->lock.ops);
	fz_snap(v, &s0, &host0);
	fz.alloc.fail_in = fail_in;
	fz.alloc.failed = false;
	err = vmm_job_submit(&v->vm, ops, nops, &job);
	fz.alloc.fail_in = 0;
	if (err)
		fz_snap(v, &s1, &host1);
	fz_unlock_fn(&v->lock.ops);
	if (err) {
		const char *diff = vmm_snap_diff(&s0, &s1);

		if (diff) {
			fprintf(stderr, "vmm fuzz: refused submit (%d): %s\n", err, diff);
			FZ_CHECK(!"a refused submit changed something");
		}
		FZ_CHECK(host1 == host0);
	}
	if (want) {
		FZ_CHECK(err == want);
		return;
	}
	if (err) {
		FZ_CHECK((err == -FA_EDQUOT && fz.pt_budget) ||
			 (err == -FA_ENOSPC && fz.node_budget) ||
			 ((err == -FA_ENOMEM || err == -FA_ENOSPC) && fz.alloc.failed));
		return;
	}
	FZ_CHECK(job != NULL && job->nops == nops);
	for (i = 0; i < nops; i++) {
		vmm_model_apply(v->staged, v->vm.va_start, &ops[i]);
		fz_apply_regions(vi, &ops[i]);
	}
	v->queue[v->nqueue++] = job;
}

/* ------------------------------------------------------------ setup, teardown */

static void fz_setup(struct fz_in *in)
{
	static const struct fa_pt_format *(*const fmts[4])(void) = {
		fa_pt_format_nv_ver2, fa_pt_format_nv_ver2_gp100, fa_pt_format_nv_ver3,
		fa_pt_format_x86_64,
	};
	static const unsigned long pt_budgets[4] = { 0, 0, 24u << 10, 48u << 10 };
	static const unsigned long node_budgets[4] = { 0, 0, 8, 24 };
	static const uint64_t bo_sizes[FZ_BOS] = { 4u << 20, 2u << 20, 64u << 10 };
	unsigned int cfgb = fz_byte(in), i;
	struct fa_reserve_source src;
	struct vmm_vm_locks locks;
	struct vmm_config cfg;
	struct vmm_hw hw;

	memset(&fz.alloc, 0, sizeof(fz.alloc));
	memset(fz_held, 0, sizeof(fz_held));
	memset(fz_nregions, 0, sizeof(fz_nregions));
	fz.nran = 0;
	for (i = 0; i < FZ_VMS; i++)
		fz.vms[i].nqueue = 0;
	fz.fmt = fmts[cfgb & 3]();
	fz.nvms = 1 + ((cfgb >> 2) & 1);
	fz.pt_budget = pt_budgets[(cfgb >> 3) & 3];
	fz.node_budget = node_budgets[(cfgb >> 5) & 3];
	FZ_CHECK(sim_gpu_init(&fz.gpu, FZ_VRAM, fz.fmt) == 0);
	fz_lock_init(&fz.hw_lock, FZ_L_HW);
	fz_lock_init(&fz.vram_lock, FZ_L_VRAM);
	memset(&hw, 0, sizeof(hw));
	hw.pt_mem = fz.gpu.acc;
	hw.tlb_invalidate = fz_tlb_invalidate;
	hw.tlb_epoch = fz_tlb_epoch;
	hw.ctx = &fz.gpu;
	hw.vram_size = FZ_VRAM;
	hw.vram_cleared = true;
	hw.fmt = fz.fmt;
	hw.hw_lock = &fz.hw_lock.ops;
	hw.vram_lock = &fz.vram_lock.ops;
	src.alloc = fz_alloc_fn;
	src.free = fz_free_fn;
	src.ctx = &fz.alloc;
	memset(&cfg, 0, sizeof(cfg));
	cfg.merge = cfgb >> 7;
	cfg.pt_budget = fz.pt_budget;
	cfg.node_budget = fz.node_budget;
	FZ_CHECK(vmm_device_init(&fz.dev, &hw, &src, &cfg) == 0);
	for (i = 0; i < FZ_BOS; i++)
		FZ_CHECK(vmm_bo_create(&fz.dev, bo_sizes[i], &fz.bo[i]) == 0);
	fz.vram0 = vmm_vram_avail(&fz.dev);
	for (i = 0; i < fz.nvms; i++) {
		struct fz_vm *v = &fz.vms[i];

		fz_lock_init(&v->lock, FZ_L_VM);
		fz_lock_init(&v->pt_lock, FZ_L_PT);
		locks.vm = &v->lock.ops;
		locks.pt = &v->pt_lock.ops;
		FZ_CHECK(vmm_vm_init(&v->vm, &fz.dev, FZ_VA + ((uint64_t)i << 30), FZ_PAGES << 12,
				     &locks) == 0);
		memset(v->staged, 0, sizeof(v->staged));
		memset(v->live, 0, sizeof(v->live));
		v->nqueue = 0;
		v->dirty = true; /* checked once at least */
	}
}

static void fz_teardown(void)
{
	const struct vmm_stats *st = &fz.dev.stats;
	unsigned int i;

	fz_quiesce();
	for (i = 0; i < fz.nvms; i++) {
		struct fz_vm *v = &fz.vms[i];

		fz_lock_fn(&v->lock.ops);
		FZ_CHECK(vmm_vm_fini(&v->vm) == 0);
		fz_unlock_fn(&v->lock.ops);
	}
	/* every page table back, every BO reference but the creator's dropped */
	FZ_CHECK(vmm_vram_avail(&fz.dev) == fz.vram0);
	FZ_CHECK(st->pt_allocated == st->pt_freed);
	for (i = 0; i < FZ_BOS; i++) {
		FZ_CHECK(fz.bo[i]->refcount == 1);
		vmm_bo_put(fz.bo[i]);
	}
	FZ_CHECK(st->bo_live == 0);
	FZ_CHECK(vmm_vram_avail(&fz.dev) == FZ_VRAM);
	FZ_CHECK(st->jobs_submitted == st->jobs_run && st->jobs_run == st->jobs_cleaned);
	fz_check_counters();
	vmm_device_fini(&fz.dev);
	FZ_CHECK(fz.alloc.allocs == fz.alloc.frees);
	FZ_CHECK(fz_held[FZ_L_VM] + fz_held[FZ_L_PT] + fz_held[FZ_L_VRAM] + fz_held[FZ_L_HW] == 0);
	sim_gpu_fini(&fz.gpu);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };

	fz_step = 0;
	fz_setup(&in);
	while (in.n > 0 && fz_step < FZ_STEPS) {
		unsigned int op = fz_byte(&in), vi = fz_byte(&in) % fz.nvms;

		fz_step++;
		switch (op % 8) {
		case 0: case 1: case 2:
			fz_submit(&in, vi, 0);
			break;
		case 3: case 4:
			fz_run(vi);
			break;
		case 5:
			if (fz.nran)
				fz_cleanup(fz_byte(&in) % fz.nran);
			break;
		case 6:
			fz_submit(&in, vi, 1 + fz_byte(&in) % 24);
			break;
		default:
			fz_quiesce();
			break;
		}
	}
	fz_teardown();
	return 0;
}
