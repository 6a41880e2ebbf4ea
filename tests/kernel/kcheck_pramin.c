// SPDX-License-Identifier: MIT
/*
 * Kernel build of pramin.h: every public function and macro, through a
 * direct accessor over static memory and a PRAMIN window over a fake BAR0
 * (128 KiB of static "VRAM"), with results checked.
 */
#include <linux/kernel.h>
#include <fencealloc/pramin.h>

#define FA_KCHECK_PRAMIN_VRAM (128u << 10)

struct fa_kcheck_pramin_bar {
	u32 vram[FA_KCHECK_PRAMIN_VRAM / 4];
	u32 window;
	u32 reg_writes;
};

static struct fa_kcheck_pramin_bar fa_kcheck_pramin_bar0;
static u64 fa_kcheck_pramin_sysmem[64];

static u32 fa_kcheck_pramin_rd32(void *ctx, u32 off)
{
	struct fa_kcheck_pramin_bar *b = (struct fa_kcheck_pramin_bar *)ctx;
	u64 a = ((u64)b->window << FA_PRAMIN_BASE_SHIFT) + (off - FA_PRAMIN_APERTURE);

	return a < FA_KCHECK_PRAMIN_VRAM ? b->vram[a >> 2] : 0xffffffffu;
}

static void fa_kcheck_pramin_wr32(void *ctx, u32 off, u32 val)
{
	struct fa_kcheck_pramin_bar *b = (struct fa_kcheck_pramin_bar *)ctx;
	u64 a = ((u64)b->window << FA_PRAMIN_BASE_SHIFT) + (off - FA_PRAMIN_APERTURE);

	if (off == FA_PRAMIN_REG_PBUS_BAR0_WINDOW || off == FA_PRAMIN_REG_XAL_EP_BAR0_WINDOW) {
		b->window = val;
		b->reg_writes++;
	} else if (off >= FA_PRAMIN_APERTURE && a < FA_KCHECK_PRAMIN_VRAM) {
		b->vram[a >> 2] = val;
	}
}

static int fa_kcheck_pramin_ops(const struct fa_pramin_accessor *acc, u64 base)
{
	static const u64 src[3] = { 0x100000001ull, 0x200000002ull, 0x300000003ull };
	u64 v64 = 0;
	u32 v32 = 0;
	int bad = 0;

	bad |= fa_pramin_wr32(acc, base, 0x12345678);
	bad |= fa_pramin_rd32(acc, base, &v32);
	bad |= v32 != 0x12345678;
	bad |= fa_pramin_wr64(acc, base + 8, 0xabcdef0000000001ull, FA_PRAMIN_HIGH_FIRST);
	bad |= fa_pramin_rd64(acc, base + 8, &v64);
	bad |= v64 != 0xabcdef0000000001ull;
	bad |= fa_pramin_fill32(acc, base + 16, 7, 2);
	bad |= fa_pramin_fill64(acc, base + 24, 0x1001, 0x1000, 4, FA_PRAMIN_LOW_FIRST);
	bad |= fa_pramin_rd64(acc, base + 48, &v64);
	bad |= v64 != 0x4001;
	bad |= fa_pramin_copy64(acc, base + 56, src, 3, FA_PRAMIN_ORDER_ANY);
	bad |= fa_pramin_rd64(acc, base + 72, &v64);
	bad |= v64 != src[2];
	bad |= fa_pramin_flush(acc);
	bad |= fa_pramin_wr64(acc, base + 4, 0, FA_PRAMIN_ORDER_ANY) != -FA_EINVAL;
	return bad;
}

int fa_kcheck_pramin(void);
int fa_kcheck_pramin(void)
{
	static struct fa_pramin_direct dir;
	static struct fa_pramin_window win;
	struct fa_pramin_hw hw = { NULL, fa_kcheck_pramin_rd32, fa_kcheck_pramin_wr32,
				   &fa_kcheck_pramin_bar0 };
	struct fa_pramin_accessor acc;
	struct fa_pramin_gen gen;
	u64 base = 1;
	int bad = 0;

	bad |= fa_pramin_direct_init(&dir, fa_kcheck_pramin_sysmem, 0x100000,
				     sizeof(fa_kcheck_pramin_sysmem), &acc);
	fa_pramin_direct_accessor(&dir, &acc);
	bad |= fa_kcheck_pramin_ops(&acc, 0x100000);
	bad |= fa_pramin_wr32(&acc, 0, 1) != -FA_ERANGE;

	bad |= fa_pramin_gen_get(FA_PRAMIN_GEN_GB100, &gen);
	bad |= fa_pramin_gen_reach(&gen) != (1ull << 39);
	bad |= fa_pramin_gen_get(FA_PRAMIN_GEN_GH100, &gen);
	bad |= fa_pramin_gen_reach(&gen) != (1ull << 38);
	bad |= fa_pramin_gen_get(FA_PRAMIN_GEN_PBUS, &gen);
	bad |= gen.aperture != FA_PRAMIN_APERTURE || gen.aperture_size != FA_PRAMIN_APERTURE_SIZE;
	bad |= fa_pramin_window_init(&win, &hw, &gen, FA_KCHECK_PRAMIN_VRAM, &acc);
	fa_pramin_window_accessor(&win, &acc);
	bad |= fa_pramin_window_base(&win, &base); /* no base before the first access */
	bad |= fa_kcheck_pramin_ops(&acc, 0x10000);
	bad |= !fa_pramin_window_base(&win, &base) || base != 0x10000;
	bad |= win.stats.moves != 1 || fa_kcheck_pramin_bar0.reg_writes != 1;
	bad |= fa_pramin_rd32(&acc, FA_KCHECK_PRAMIN_VRAM, NULL) != -FA_ERANGE;
	fa_pramin_window_forget(&win);
	bad |= fa_pramin_wr32(&acc, 0x10000, 2);
	bad |= win.stats.moves != 2;
	fa_pramin_window_stats_reset(&win);
	bad |= win.stats.moves != 0 || win.stats.writes != 0;
	return bad ? -EINVAL : 0;
}
