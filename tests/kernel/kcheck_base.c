// SPDX-License-Identifier: MIT
/*
 * Kernel build of base.h: every function and macro, with results checked so
 * that a miscompiled helper fails the module's load as well as its build.
 */
#include <linux/kernel.h>
#include <fencealloc/base.h>

struct fa_kcheck_base_obj {
	int id;
	struct fa_list link;
	struct fa_llist_node node;
};

static struct fa_kcheck_base_obj fa_kcheck_base_objs[4];

static int fa_kcheck_base_bits(void)
{
	uint64_t r = 0;
	int bad = 0;

	bad |= fa_fls64(0) != 0 || fa_fls64(FA_U64_MAX) != 64;
	bad |= fa_ffs64(0) != 0 || fa_ffs64(FA_BIT64(63)) != 64;
	bad |= fa_ilog2_u64(0) != -1 || fa_ilog2_u64(4096) != 12;
	bad |= !fa_is_pow2(1) || fa_is_pow2(0) || fa_is_pow2(6);
	bad |= fa_align_down(4097, 4096) != 4096;
	bad |= !fa_is_aligned(8192, 4096) || fa_is_aligned(8193, 4096);
	bad |= fa_align_up(4097, 4096, &r) != 0 || r != 8192;
	bad |= fa_align_up(1, 3, &r) != -FA_EINVAL;
	bad |= fa_align_up(FA_U64_MAX, 2, &r) != -FA_EOVERFLOW || r != 8192;
	bad |= !fa_add_overflow(FA_U64_MAX, 1, &r) || fa_add_overflow(1, 2, &r) || r != 3;
	bad |= !fa_mul_overflow(FA_BIT64(32), FA_BIT64(32), &r) || fa_mul_overflow(3, 5, &r) || r != 15;
	bad |= fa_min_u64(1, 2) != 1 || fa_max_u64(1, 2) != 2;
	bad |= !fa_seq64_after(0, FA_U64_MAX) || fa_seq64_after(5, 5);
	bad |= !fa_seq32_after(0, 0xffffffffu) || fa_seq32_after(1, 2);
	bad |= FA_BIT64(3) != 8 || FA_ARRAY_SIZE(fa_kcheck_base_objs) != 4;
	bad |= FA_LIKELY(r == 15) != 1 || FA_UNLIKELY(r != 15) != 0;
	return bad ? -FA_EINVAL : 0;
}

static int fa_kcheck_base_hooks(void)
{
	int bad = 0;

	FA_ASSERT(bad == 0);
	FA_HEAVY_ASSERT(bad == 0);
	bad |= FA_WARN(bad != 0);	/* false: must not warn */
	bad |= fa__warn(false, __FILE__, __LINE__, "never") != false;
	fa__warn_default(__FILE__, __LINE__, "kcheck");	/* the userspace sink builds too */
	bad |= fa_warn_record_get()->line != __LINE__ - 1;
	if (bad)
		FA_BUG();
	return 0;
}

static int fa_kcheck_base_lists(void)
{
	static struct fa_list head = FA_LIST_HEAD_INIT(head);
	static struct fa_list other;
	struct fa_llist ll;
	struct fa_llist_node *n;
	struct fa_list *pos, *tmp;
	struct fa_kcheck_base_obj *o;
	int i, sum = 0, bad = 0;

	fa_list_init(&other);
	for (i = 0; i < 4; i++) {
		fa_kcheck_base_objs[i].id = i;
		if (i & 1)
			fa_list_add_tail(&fa_kcheck_base_objs[i].link, &head);
		else
			fa_list_add(&fa_kcheck_base_objs[i].link, &head);
	}
	/* head: 2 0 1 3 */
	o = fa_list_first_entry(&head, struct fa_kcheck_base_obj, link);
	bad |= o->id != 2;
	bad |= !fa_list_is_last(&fa_kcheck_base_objs[3].link, &head);
	fa_list_move_tail(&fa_kcheck_base_objs[2].link, &other);
	fa_list_splice_tail_init(&head, &other);
	bad |= !fa_list_empty(&head);
	fa_list_for_each(pos, &other)
		sum = sum * 10 + fa_list_entry(pos, struct fa_kcheck_base_obj, link)->id;
	bad |= sum != 2013;
	fa_list_for_each_safe(pos, tmp, &other)
		fa_list_del_init(pos);
	bad |= !fa_list_empty(&other);

	fa_llist_init(&ll);
	bad |= !fa_llist_empty(&ll);
	bad |= !fa_llist_push(&fa_kcheck_base_objs[0].node, &ll);
	/* A batch is a chain in list order, newest first (llist_add_batch()):
	 * pushing 1 then 2 one by one would leave 2 -> 1 on the list. */
	fa_kcheck_base_objs[2].node.next = &fa_kcheck_base_objs[1].node;
	bad |= fa_llist_push_batch(&fa_kcheck_base_objs[2].node, &fa_kcheck_base_objs[1].node, &ll);
	n = fa_llist_reverse(fa_llist_del_all(&ll));
	bad |= !fa_llist_empty(&ll);
	sum = 0;
	for (; n; n = n->next)
		sum = sum * 10 + FA_CONTAINER_OF(n, struct fa_kcheck_base_obj, node)->id;
	bad |= sum != 12;	/* push order 0 1 2 -> "012" */
	return bad ? -FA_EINVAL : 0;
}

FA_STATIC_ASSERT(FA_VERSION_MAJOR >= 0 && FA_VERSION_MINOR >= 0 && FA_VERSION_PATCH >= 0,
		 "version macros");
FA_STATIC_ASSERT(FA_GFP_KERNEL == (FA_GFP_DIRECT_RECLAIM | FA_GFP_IO | FA_GFP_FS) &&
		 FA_GFP_NOFS != FA_GFP_NOIO && FA_GFP_NOWAIT == 0, "gfp flags");
FA_STATIC_ASSERT(FA_EINVAL && FA_ENOMEM && FA_ENOSPC && FA_EBUSY && FA_EEXIST && FA_ENOENT &&
		 FA_ERANGE && FA_EOVERFLOW && FA_EFAULT && FA_EAGAIN && FA_EALREADY &&
		 FA_EOPNOTSUPP, "error codes");

int fa_kcheck_base(void);
int fa_kcheck_base(void)
{
	fa_gfp_t gfp = FA_GFP_NOWAIT;
	int x = 1, y;

	y = FA_LOAD_ACQUIRE(x);
	FA_STORE_RELEASE(x, y);
	y = FA_READ_ONCE(x);
	FA_WRITE_ONCE(x, y + 1);
	y = FA_XCHG(&x, 5);			/* y = 2, x = 5 */
	if (y != 2 || FA_TRY_CMPXCHG(&x, &y, 9) || y != 5)
		return -FA_EINVAL;		/* must fail and report 5 */
	if (!FA_TRY_CMPXCHG(&x, &y, 7) || x != 7 || (gfp & FA_GFP_DIRECT_RECLAIM))
		return -FA_EINVAL;
	return fa_kcheck_base_bits() ?: fa_kcheck_base_hooks() ?: fa_kcheck_base_lists();
}
