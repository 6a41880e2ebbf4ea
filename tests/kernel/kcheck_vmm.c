// SPDX-License-Identifier: MIT
/*
 * Kernel build of the reference VMM core (examples/vmm/vmm.h, gpuva.h) with
 * kernel primitives: struct mutex behind the core's lock hooks (asserted with
 * lockdep_assert_held()), kmalloc as the driver's allocator, a static "VRAM"
 * buffer written through the direct accessor, a counter as the TLB. One job
 * goes through submit, run (inside dma_fence_begin/end_signalling) and
 * cleanup, and the PTE it wrote is read back, so a miscompiled core fails the
 * module's load as well as its build.
 */
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/mutex.h>
#include <linux/lockdep.h>
#include <linux/dma-fence.h>
#include <fencealloc/pt_formats.h>
#include <vmm/vmm.h>

#define KC_VMM_VRAM (4u << 20)

static unsigned char kc_vmm_vram[KC_VMM_VRAM] __aligned(4096);

struct kc_vmm_lock {
	struct vmm_lock ops;
	struct mutex mtx;
};

static void kc_vmm_lock(struct vmm_lock *l)
{
	mutex_lock(&container_of(l, struct kc_vmm_lock, ops)->mtx);
}

static void kc_vmm_unlock(struct vmm_lock *l)
{
	mutex_unlock(&container_of(l, struct kc_vmm_lock, ops)->mtx);
}

static void kc_vmm_assert_held(struct vmm_lock *l)
{
	lockdep_assert_held(&container_of(l, struct kc_vmm_lock, ops)->mtx);
}

static void kc_vmm_lock_init(struct kc_vmm_lock *l)
{
	l->ops.lock = kc_vmm_lock;
	l->ops.unlock = kc_vmm_unlock;
	l->ops.assert_held = kc_vmm_assert_held;
	mutex_init(&l->mtx);
}

static void *kc_vmm_alloc(void *ctx, size_t size, fa_gfp_t gfp)
{
	(void)ctx;
	(void)gfp;
	return kmalloc(size, GFP_KERNEL);
}

static void kc_vmm_free(void *ctx, void *obj, size_t size)
{
	(void)ctx;
	(void)size;
	kfree(obj);
}

static uint64_t kc_vmm_epoch;

static uint64_t kc_vmm_tlb_invalidate(void *ctx, uint64_t pdb)
{
	(void)ctx;
	(void)pdb;
	return ++kc_vmm_epoch;
}

static uint64_t kc_vmm_tlb_epoch(void *ctx)
{
	(void)ctx;
	return kc_vmm_epoch;
}

struct kc_vmm {
	struct fa_pramin_direct direct;
	struct kc_vmm_lock hw_lock, vram_lock, vm_lock, pt_lock;
	struct vmm_device dev;
	struct vmm_vm vm;
};

static int kc_vmm_job(struct kc_vmm *k, const struct vmm_op *op)
{
	struct vmm_job *job;
	bool cookie;
	int err;

	mutex_lock(&k->vm_lock.mtx);
	err = vmm_job_submit(&k->vm, op, 1, &job);
	mutex_unlock(&k->vm_lock.mtx);
	if (err)
		return err;
	cookie = dma_fence_begin_signalling();
	mutex_lock(&k->pt_lock.mtx);
	vmm_job_run(job);
	mutex_unlock(&k->pt_lock.mtx);
	dma_fence_end_signalling(cookie);
	mutex_lock(&k->vm_lock.mtx);
	vmm_job_cleanup(job);
	mutex_unlock(&k->vm_lock.mtx);
	return 0;
}

int fa_kcheck_vmm(void);
int fa_kcheck_vmm(void)
{
	struct fa_reserve_source src = { kc_vmm_alloc, kc_vmm_free, NULL };
	struct vmm_vm_locks locks;
	struct fa_pt_xlate x;
	struct vmm_hw hw;
	struct vmm_bo *bo;
	struct vmm_op op;
	struct kc_vmm *k;
	int err, bad = 0;

	k = kzalloc(sizeof(*k), GFP_KERNEL);
	if (!k)
		return -ENOMEM;
	kc_vmm_lock_init(&k->hw_lock);
	kc_vmm_lock_init(&k->vram_lock);
	kc_vmm_lock_init(&k->vm_lock);
	kc_vmm_lock_init(&k->pt_lock);
	memset(&hw, 0, sizeof(hw));
	err = fa_pramin_direct_init(&k->direct, kc_vmm_vram, 0, KC_VMM_VRAM, &hw.pt_mem);
	if (err)
		goto out;
	hw.tlb_invalidate = kc_vmm_tlb_invalidate;
	hw.tlb_epoch = kc_vmm_tlb_epoch;
	hw.vram_size = KC_VMM_VRAM;
	hw.fmt = fa_pt_format_nv_ver2();
	hw.hw_lock = &k->hw_lock.ops;
	hw.vram_lock = &k->vram_lock.ops;
	err = vmm_device_init(&k->dev, &hw, &src, NULL);
	if (err)
		goto out;
	locks.vm = &k->vm_lock.ops;
	locks.pt = &k->pt_lock.ops;
	err = vmm_vm_init(&k->vm, &k->dev, 1ull << 32, 1ull << 30, &locks);
	if (err)
		goto out_dev;
	err = vmm_bo_create(&k->dev, 64u << 10, &bo);
	if (err)
		goto out_vm;
	vmm_op_map(&op, 1ull << 32, 64u << 10, bo, 0, 12);
	bad |= kc_vmm_job(k, &op) != 0;
	bad |= fa_pt_walk(hw.fmt, &k->dev.hw.pt_mem, k->vm.pdb, (1ull << 32) + 0x3000, &x) != 0 ||
	       x.pa != bo->pa + 0x3000;
	vmm_op_unmap(&op, 1ull << 32, 64u << 10, 12);
	bad |= kc_vmm_job(k, &op) != 0;
	bad |= fa_pt_walk(hw.fmt, &k->dev.hw.pt_mem, k->vm.pdb, 1ull << 32, &x) == 0;
	vmm_bo_put(bo);
out_vm:
	mutex_lock(&k->vm_lock.mtx);
	bad |= vmm_vm_fini(&k->vm) != 0;
	mutex_unlock(&k->vm_lock.mtx);
out_dev:
	vmm_device_fini(&k->dev);
out:
	kfree(k);
	return err ? err : bad ? -EINVAL : 0;
}
