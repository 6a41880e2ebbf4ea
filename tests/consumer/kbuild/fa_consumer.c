// SPDX-License-Identifier: MIT
/* A kernel module built against fencealloc's headers: base.h and buddy.h. */
#include <linux/module.h>
#include <linux/slab.h>

#include <fencealloc/buddy.h>

static int __init fa_consumer_init(void)
{
	uint64_t need = fa_buddy_storage_size(1ull << 24, 4096), addr;
	struct fa_buddy b;
	void *meta = kvmalloc(need, GFP_KERNEL);
	int err;

	if (!meta)
		return -ENOMEM;
	err = fa_buddy_init(&b, meta, need, 0, 1ull << 24, 4096);
	if (!err) {
		err = fa_buddy_alloc(&b, 4096, 0, 0, &addr);
		if (!err)
			fa_buddy_free(&b, addr, 4096);
		fa_buddy_fini(&b);
	}
	kvfree(meta);
	return err;
}

static void __exit fa_consumer_exit(void)
{
}

module_init(fa_consumer_init);
module_exit(fa_consumer_exit);
MODULE_LICENSE("Dual MIT/GPL");
MODULE_DESCRIPTION("fencealloc consumer check");
