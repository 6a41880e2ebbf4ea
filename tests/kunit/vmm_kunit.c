// SPDX-License-Identifier: MIT
/*
 * fencealloc_vmm: the reference VMM core (examples/vmm/vmm.h) driven the way
 * a kernel driver drives it. Kernel primitives only: struct mutex behind the
 * core's lock hooks (asserted with lockdep_assert_held()), one ordered
 * workqueue per VM as the scheduler (jobs of a VM run in submission order,
 * VMs run concurrently), real struct dma_fence objects signalled inside
 * dma_fence_begin/end_signalling() around every run step, a cleanup
 * workqueue as free_job, kmalloc(GFP_KERNEL) only at submit, VRAM in vmalloc
 * memory written through the direct accessor. A randomized VM_BIND stream
 * (maps, unmaps, splitting remaps, 4 KiB / 64 KiB / 2 MiB pages) over
 * several VMs keeps jobs in flight while others run; at checkpoints every
 * page of every VM is translated by an MMU walker reading the raw tables
 * (pt.h's fa_pt_walk(), which knows nothing of the VMM's state) and compared
 * with a page model of what was submitted.
 */
#include "fa_kunit.h"

#include <linux/dma-fence.h>
#include <linux/lockdep.h>
#include <linux/mutex.h>
#include <linux/random.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>

#include <fencealloc/pt_formats.h>
#include <vmm/vmm.h>

#define KV_VMS 4
#define KV_BOS 4
#define KV_BO_SIZE (8u << 20)
#define KV_PAGES 4096u			/* 16 MiB of VA per VM, as 4 KiB pages */
#define KV_VA (1ull << 32)
#define KV_VRAM (96u << 20)
#define KV_JOBS 12000u
#define KV_INFLIGHT 32u
#define KV_CHECK_EVERY 2000u

struct kv_lock {
	struct vmm_lock ops;
	struct mutex mtx;
};

struct kv_page {
	struct vmm_bo *bo;
	uint64_t off;
	unsigned int shift;
};

struct kv_vm {
	struct vmm_vm vm;
	struct kv_lock lock, pt_lock;
	struct workqueue_struct *wq;	/* the VM's scheduler: ordered */
	u64 context;
	u64 seqno;
	struct kv_page model[KV_PAGES];	/* what was submitted */
};

struct kv {
	struct fa_pramin_direct direct;
	void *vram;
	struct kv_lock hw_lock, vram_lock;
	struct vmm_device dev;
	struct vmm_bo *bo[KV_BOS];
	struct kv_vm *vms[KV_VMS];
	struct workqueue_struct *cleanup_wq;	/* free_job */
	atomic64_t epoch;
	atomic_t cleaned;
	unsigned long mismatches, verified;
};

struct kv_job {
	struct dma_fence fence;		/* first: dma_fence_free() frees the job */
	spinlock_t lock;
	struct vmm_job *job;
	struct kv_vm *vm;
	struct kv *kv;
	struct work_struct run, cleanup;
};

static void kv_lock_fn(struct vmm_lock *l)
{
	mutex_lock(&container_of(l, struct kv_lock, ops)->mtx);
}

static void kv_unlock_fn(struct vmm_lock *l)
{
	mutex_unlock(&container_of(l, struct kv_lock, ops)->mtx);
}

static void kv_assert_held(struct vmm_lock *l)
{
	lockdep_assert_held(&container_of(l, struct kv_lock, ops)->mtx);
}

static void kv_lock_init(struct kv_lock *l, struct lock_class_key *key, const char *name)
{
	l->ops.lock = kv_lock_fn;
	l->ops.unlock = kv_unlock_fn;
	l->ops.assert_held = kv_assert_held;
	__mutex_init(&l->mtx, name, key);
}

static struct lock_class_key kv_hw_key, kv_vram_key, kv_vm_key, kv_pt_key;

/* The driver's allocator: GFP_KERNEL, which lockdep's fs_reclaim -> dma_fence
 * priming turns into a report if it is ever reached inside a run step. */
static void *kv_alloc(void *ctx, size_t size, fa_gfp_t gfp)
{
	(void)ctx;
	(void)gfp;
	return kvmalloc(size, GFP_KERNEL);
}

static void kv_free(void *ctx, void *obj, size_t size)
{
	(void)ctx;
	(void)size;
	kvfree(obj);
}

static uint64_t kv_tlb_invalidate(void *ctx, uint64_t pdb)
{
	(void)pdb;
	return (uint64_t)atomic64_inc_return(&((struct kv *)ctx)->epoch);
}

static uint64_t kv_tlb_epoch(void *ctx)
{
	return (uint64_t)atomic64_read(&((struct kv *)ctx)->epoch);
}

static const char *kv_fence_name(struct dma_fence *f)
{
	return "fencealloc_vmm";
}

static const struct dma_fence_ops kv_fence_ops = {
	.get_driver_name = kv_fence_name,
	.get_timeline_name = kv_fence_name,
};

/* free_job: after the fence signalled, under the VM lock. */
static void kv_cleanup_work(struct work_struct *w)
{
	struct kv_job *j = container_of(w, struct kv_job, cleanup);
	struct kv *kv = j->kv;

	mutex_lock(&j->vm->lock.mtx);
	vmm_job_cleanup(j->job);
	mutex_unlock(&j->vm->lock.mtx);
	atomic_inc(&kv->cleaned);
	dma_fence_put(&j->fence);	/* the scheduler's reference */
}

/* run_job: the run step inside a fence-signalling section, then the fence. */
static void kv_run_work(struct work_struct *w)
{
	struct kv_job *j = container_of(w, struct kv_job, run);
	bool cookie = dma_fence_begin_signalling();

	mutex_lock(&j->vm->pt_lock.mtx);
	vmm_job_run(j->job);
	mutex_unlock(&j->vm->pt_lock.mtx);
	dma_fence_signal(&j->fence);
	dma_fence_end_signalling(cookie);
	queue_work(j->kv->cleanup_wq, &j->cleanup);
}

/* The ioctl: driver job first (can fail), then the core's submit under the VM lock. */
static int kv_submit(struct kv *kv, struct kv_vm *vm, const struct vmm_op *ops, unsigned int n,
		     struct dma_fence **out)
{
	struct kv_job *j = kzalloc(sizeof(*j), GFP_KERNEL);
	int err;

	if (!j)
		return -ENOMEM;
	mutex_lock(&vm->lock.mtx);
	err = vmm_job_submit(&vm->vm, ops, n, &j->job);
	if (!err) {
		spin_lock_init(&j->lock);
		dma_fence_init(&j->fence, &kv_fence_ops, &j->lock, vm->context, ++vm->seqno);
		j->vm = vm;
		j->kv = kv;
		INIT_WORK(&j->run, kv_run_work);
		INIT_WORK(&j->cleanup, kv_cleanup_work);
		*out = dma_fence_get(&j->fence);
		queue_work(vm->wq, &j->run);	/* in submission order, under the VM lock */
	}
	mutex_unlock(&vm->lock.mtx);
	if (err)
		kfree(j);
	return err;
}

static void kv_wait_idle(struct kv *kv)
{
	unsigned int v;

	for (v = 0; v < KV_VMS; v++)
		flush_workqueue(kv->vms[v]->wq);
	flush_workqueue(kv->cleanup_wq);
}

/* Every page of every VM through the MMU walker, against the model. */
static void kv_verify(struct kunit *test, struct kv *kv)
{
	struct fa_pt_xlate x;
	unsigned int v, p;

	for (v = 0; v < KV_VMS; v++) {
		struct kv_vm *vm = kv->vms[v];

		mutex_lock(&vm->pt_lock.mtx);
		for (p = 0; p < KV_PAGES; p++) {
			const struct kv_page *m = &vm->model[p];
			int e = fa_pt_walk(kv->dev.hw.fmt, &kv->dev.hw.pt_mem, vm->vm.pdb,
					   KV_VA + ((uint64_t)p << 12), &x);

			if (!m->bo) {
				if (e == 0 && kv->mismatches++ < 5)
					kunit_err(test, "vm %u page %u should fault, maps 0x%llx\n", v, p,
						  (unsigned long long)x.pa);
				continue;
			}
			if (e || x.pa != m->bo->pa + m->off || x.page_shift != m->shift) {
				if (kv->mismatches++ < 5)
					kunit_err(test, "vm %u page %u: err %d pa 0x%llx shift %u, want 0x%llx shift %u\n",
						  v, p, e, (unsigned long long)x.pa, x.page_shift,
						  (unsigned long long)(m->bo->pa + m->off), m->shift);
				continue;
			}
			kv->verified++;
		}
		mutex_unlock(&vm->pt_lock.mtx);
	}
}

/* One random op on a VM and what the model becomes if it is accepted. */
static void kv_make_op(struct kv *kv, struct kv_vm *vm, struct rnd_state *r, struct vmm_op *op)
{
	static const unsigned int shifts[3] = { 12, 16, 21 };
	unsigned int sh = shifts[prandom_u32_state(r) % 3], step = 1u << (sh - 12);
	unsigned int a = (prandom_u32_state(r) % (KV_PAGES / step)) * step;
	unsigned int n = (1 + prandom_u32_state(r) % (sh == 21 ? 2 : 16)) * step;

	if (a + n > KV_PAGES)
		n = KV_PAGES - a;
	if (prandom_u32_state(r) % 3) {
		struct vmm_bo *bo = kv->bo[prandom_u32_state(r) % KV_BOS];
		uint64_t slots = ((uint64_t)KV_BO_SIZE >> sh) - (n >> (sh - 12)) + 1;
		uint64_t off = (uint64_t)(prandom_u32_state(r) % slots) << sh;

		vmm_op_map(op, KV_VA + ((uint64_t)a << 12), (uint64_t)n << 12, bo, off, sh);
	} else {
		unsigned int p = prandom_u32_state(r) % KV_PAGES;

		/* Mostly unmap what is there, with its page size (holes are fine). */
		if (vm->model[p].bo && prandom_u32_state(r) % 4) {
			sh = vm->model[p].shift;
			step = 1u << (sh - 12);
			a = p & ~(step - 1);
			n = (1 + prandom_u32_state(r) % 3) * step;
			if (a + n > KV_PAGES)
				n = KV_PAGES - a;
		}
		vmm_op_unmap(op, KV_VA + ((uint64_t)a << 12), (uint64_t)n << 12, sh);
	}
}

static void kv_model_apply(struct kv_vm *vm, const struct vmm_op *op)
{
	unsigned int a = (unsigned int)((op->va - KV_VA) >> 12), n = (unsigned int)(op->size >> 12), i;

	for (i = 0; i < n; i++) {
		vm->model[a + i].bo = op->kind == VMM_OP_MAP ? op->bo : NULL;
		vm->model[a + i].off = op->bo_offset + ((uint64_t)i << 12);
		vm->model[a + i].shift = op->page_shift;
	}
}

static int kv_init(struct kunit *test, struct kv *kv)
{
	struct fa_reserve_source src = { kv_alloc, kv_free, NULL };
	struct vmm_vm_locks locks;
	struct vmm_hw hw;
	unsigned int v, b;
	int err;

	kv->vram = vzalloc(KV_VRAM);
	KUNIT_ASSERT_NOT_NULL(test, kv->vram);
	atomic64_set(&kv->epoch, 1);
	kv_lock_init(&kv->hw_lock, &kv_hw_key, "fa_vmm_hw_lock");
	kv_lock_init(&kv->vram_lock, &kv_vram_key, "fa_vmm_vram_lock");
	memset(&hw, 0, sizeof(hw));
	KUNIT_ASSERT_EQ(test, fa_pramin_direct_init(&kv->direct, kv->vram, 0, KV_VRAM, &hw.pt_mem), 0);
	hw.tlb_invalidate = kv_tlb_invalidate;
	hw.tlb_epoch = kv_tlb_epoch;
	hw.ctx = kv;
	hw.vram_size = KV_VRAM;
	hw.fmt = fa_pt_format_nv_ver2();
	hw.hw_lock = &kv->hw_lock.ops;
	hw.vram_lock = &kv->vram_lock.ops;
	/* vzalloc'd memory is a CPU mapping: table writes need only each VM's pt_lock */
	hw.pt_mem_direct = true;
	err = vmm_device_init(&kv->dev, &hw, &src, NULL);
	KUNIT_ASSERT_EQ(test, err, 0);
	kv->cleanup_wq = alloc_workqueue("fa_vmm_cleanup", WQ_UNBOUND, 0);
	KUNIT_ASSERT_NOT_NULL(test, kv->cleanup_wq);
	for (b = 0; b < KV_BOS; b++)
		KUNIT_ASSERT_EQ(test, vmm_bo_create(&kv->dev, KV_BO_SIZE, &kv->bo[b]), 0);
	for (v = 0; v < KV_VMS; v++) {
		struct kv_vm *vm = kvzalloc(sizeof(*vm), GFP_KERNEL);

		KUNIT_ASSERT_NOT_NULL(test, vm);
		kv->vms[v] = vm;
		kv_lock_init(&vm->lock, &kv_vm_key, "fa_vmm_vm_lock");
		kv_lock_init(&vm->pt_lock, &kv_pt_key, "fa_vmm_pt_lock");
		vm->wq = alloc_ordered_workqueue("fa_vmm_vm%u", 0, v);
		KUNIT_ASSERT_NOT_NULL(test, vm->wq);
		vm->context = dma_fence_context_alloc(1);
		locks.vm = &vm->lock.ops;
		locks.pt = &vm->pt_lock.ops;
		KUNIT_ASSERT_EQ(test, vmm_vm_init(&vm->vm, &kv->dev, KV_VA, 1ull << 30, &locks), 0);
	}
	return 0;
}

static void kv_fini(struct kunit *test, struct kv *kv)
{
	unsigned int v, b;

	for (v = 0; v < KV_VMS; v++) {
		struct kv_vm *vm = kv->vms[v];

		mutex_lock(&vm->lock.mtx);
		mutex_lock(&vm->pt_lock.mtx);
		KUNIT_EXPECT_TRUE(test, vmm_vm_views_equal(&vm->vm));
		mutex_unlock(&vm->pt_lock.mtx);
		KUNIT_EXPECT_EQ(test, vmm_vm_fini(&vm->vm), 0);
		mutex_unlock(&vm->lock.mtx);
		destroy_workqueue(vm->wq);
		kvfree(vm);
	}
	destroy_workqueue(kv->cleanup_wq);
	for (b = 0; b < KV_BOS; b++)
		vmm_bo_put(kv->bo[b]);
	KUNIT_EXPECT_EQ(test, vmm_vram_avail(&kv->dev), (uint64_t)KV_VRAM);
	KUNIT_EXPECT_EQ(test, kv->dev.stats.pt_allocated, kv->dev.stats.pt_freed);
	KUNIT_EXPECT_EQ(test, kv->dev.stats.run_errors, 0ul);
	KUNIT_EXPECT_EQ(test, kv->dev.stats.order_errors, 0ul);
	vmm_device_fini(&kv->dev);
	vfree(kv->vram);
}

static void fa_vmm_test_random_stream(struct kunit *test)
{
	struct dma_fence *ring[KV_INFLIGHT] = { NULL };
	unsigned long jobs = 0, refused = 0, it;
	struct rnd_state r;
	struct kv *kv;
	u64 seed = get_random_u64();
	int w0 = fa_kunit_warned();

	kv = kzalloc(sizeof(*kv), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, kv);
	kunit_info(test, "seed %llu\n", (unsigned long long)seed);
	prandom_seed_state(&r, seed);
	kv_init(test, kv);
	for (it = 0; jobs < KV_JOBS && it < 4 * KV_JOBS; it++) {
		struct kv_vm *vm = kv->vms[prandom_u32_state(&r) % KV_VMS];
		struct dma_fence *f;
		struct vmm_op op;
		int err;

		kv_make_op(kv, vm, &r, &op);
		err = kv_submit(kv, vm, &op, 1, &f);
		if (err == -FA_EINVAL) {
			refused++;	/* a split off a mapping's page grid: nothing changed */
			continue;
		}
		KUNIT_ASSERT_EQ(test, err, 0);
		kv_model_apply(vm, &op);
		if (ring[jobs % KV_INFLIGHT]) {
			dma_fence_wait(ring[jobs % KV_INFLIGHT], false);
			dma_fence_put(ring[jobs % KV_INFLIGHT]);
		}
		ring[jobs % KV_INFLIGHT] = f;
		jobs++;
		if (jobs % KV_CHECK_EVERY == 0) {
			kv_wait_idle(kv);
			kv_verify(test, kv);
		}
	}
	for (it = 0; it < KV_INFLIGHT; it++) {
		if (!ring[it])
			continue;
		dma_fence_wait(ring[it], false);
		dma_fence_put(ring[it]);
	}
	kv_wait_idle(kv);
	kv_verify(test, kv);
	KUNIT_EXPECT_GE(test, jobs, (unsigned long)KV_JOBS);
	KUNIT_EXPECT_EQ(test, (unsigned long)atomic_read(&kv->cleaned), jobs);
	KUNIT_EXPECT_GT(test, refused, 0ul);
	KUNIT_EXPECT_EQ(test, kv->mismatches, 0ul);
	KUNIT_EXPECT_EQ(test, fa_kunit_warned() - w0, 0);
	pr_info("fencealloc_vmm: %lu jobs, %lu mappings verified, %lu mismatches\n", jobs,
		kv->verified, kv->mismatches);
	kv_fini(test, kv);
	kfree(kv);
}

static struct kunit_case fa_vmm_cases[] = {
	KUNIT_CASE(fa_vmm_test_random_stream),
	{}
};

static struct kunit_suite fa_vmm_suite = {
	.name = "fencealloc_vmm",
	.test_cases = fa_vmm_cases,
};

kunit_test_suite(fa_vmm_suite);

MODULE_LICENSE("Dual MIT/GPL");
