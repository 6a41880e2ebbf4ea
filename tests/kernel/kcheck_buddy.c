// SPDX-License-Identifier: MIT
/*
 * Kernel build of buddy.h: every public function and macro over static
 * storage, with results checked (a float, VLA, big frame or 64-bit division
 * in any body fails the module build).
 */
#include <linux/kernel.h>
#include <fencealloc/buddy.h>

#define FA_KCHECK_BUDDY_SIZE (7ull << 20)

static u64 fa_kcheck_buddy_storage[4096];
static struct fa_buddy fa_kcheck_buddy_b;
static struct fa_buddy_block fa_kcheck_buddy_blocks[8];

static void fa_kcheck_buddy_print(void *ctx, const char *line)
{
	(void)ctx;
	pr_debug("%s\n", line);
}

static int fa_kcheck_buddy_allocs(struct fa_buddy *b)
{
	struct fa_buddy_req r;
	u64 a, c, e;
	bool cl = false;
	unsigned int n = 0;

	if (fa_buddy_alloc(b, 4096, 0, FA_BUDDY_TOPDOWN | FA_BUDDY_CLEAR, &a))
		return -1;
	if (fa_buddy_alloc_range(b, 1 << 20, 2 << 20, 3 * 4096, 0, FA_BUDDY_CONTIGUOUS, &c) ||
	    c < (1 << 20))
		return -2;
	if (fa_buddy_alloc_exact(b, 4 << 20, 8192))
		return -3;
	fa_buddy_req_init(&r, 8192);
	r.align = 256 << 10;
	if (fa_buddy_alloc_req(b, &r, &e, &cl) || (e & ((256 << 10) - 1)))
		return -4;
	fa_buddy_req_init(&r, 5 * 4096);
	if (fa_buddy_alloc_blocks(b, &r, fa_kcheck_buddy_blocks,
				  (unsigned int)fa_buddy_blocks_max(5 * 4096, 4096), &n) || n != 2)
		return -5;
	if (fa_buddy_trim(b, c, 3 * 4096, 4096, FA_BUDDY_CLEARED))
		return -6;
	if (fa_buddy_free(b, c, 4096) || fa_buddy_free(b, a, 4096) ||
	    fa_buddy_free_flags(b, 4 << 20, 8192, FA_BUDDY_CLEARED) || fa_buddy_free(b, e, 8192))
		return -7;
	while (n-- > 0)
		if (fa_buddy_free(b, fa_kcheck_buddy_blocks[n].addr, fa_kcheck_buddy_blocks[n].size))
			return -8;
	if (fa_buddy_free(b, a, 4096) != -FA_EALREADY)
		return -9;
	return 0;
}

int fa_kcheck_buddy(void);
int fa_kcheck_buddy(void)
{
	struct fa_buddy *b = &fa_kcheck_buddy_b;
	u64 need = fa_buddy_storage_size(FA_KCHECK_BUDDY_SIZE, 4096);
	int ret;

	if (need == 0 || need > sizeof(fa_kcheck_buddy_storage) || FA_BUDDY_MIN_CHUNK > 4096 ||
	    FA_BUDDY_MAX_ORDER < 50 || FA_BUDDY_PROBES == 0)
		return -20;
	if (fa_buddy_init(b, fa_kcheck_buddy_storage, sizeof(fa_kcheck_buddy_storage), 0,
			  FA_KCHECK_BUDDY_SIZE, 4096))
		return -21;
	ret = fa_kcheck_buddy_allocs(b);
	if (ret)
		return ret;
	if (fa_buddy_avail(b) != fa_buddy_size(b) || fa_buddy_clear_avail(b) > fa_buddy_avail(b) ||
	    fa_buddy_largest_free(b) != (4ull << 20) || fa_buddy_max_order(b) != 10 ||
	    fa_buddy_free_blocks(b, 10, false) + fa_buddy_free_blocks(b, 10, true) != 1)
		return -22;
	if (fa_buddy_check(b, NULL))
		return -23;
	fa_buddy_reset_clear(b, true);
	if (fa_buddy_clear_avail(b) != fa_buddy_size(b))
		return -24;
	fa_buddy_reset_clear(b, false);
	fa_buddy_dump(b, fa_kcheck_buddy_print, NULL);
	fa_buddy_fini(b);
	return 0;
}
