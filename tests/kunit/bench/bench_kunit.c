// SPDX-License-Identifier: MIT
/*
 * fencealloc_bench: fencealloc's buddy against the kernel's own drm_buddy, in
 * one kernel, on the same traces, through each allocator's API the way a
 * driver calls it. Printed per workload (one line, then the repetitions):
 *
 *   fencealloc_bench: W1 fencealloc X ns/op, drm_buddy Y ns/op, ratio R,
 *     p99.9 A ns vs B ns, metadata M vs N bytes, frag fails F vs G
 *
 * Workloads (4 KiB chunks; integer-only traces from one xoshiro256** stream
 * seeded with 0x5eed2024 through splitmix64, restarted for every replay):
 *  - W1: 16 GiB, 10^6 ops. Size class 60 % 4-64 KiB, 30 % 64 KiB-2 MiB,
 *    10 % 2-256 MiB, a power of two uniform over the exponents of the class
 *    (the ceiling of a log-uniform size); allocated while live bytes stay
 *    <= 70 %, else a random live allocation is freed.
 *  - W1x: 10^5 ops of the same trace with log-uniform exact sizes (2^u in fixed point,
 *    rounded up to 4 KiB), contiguous. fencealloc: FA_BUDDY_CONTIGUOUS;
 *    drm_buddy as drivers do it on 6.1: a power-of-two block, then
 *    drm_buddy_block_trim() to the exact size.
 *  - W2: 1 GiB filled to 90 % with 4 KiB blocks (not timed), then 2*10^5
 *    ops, each a fair coin: free a random live block or allocate one.
 *  - W2L: the same at 16 GiB (3.8 M live blocks). Each allocator is filled
 *    once; the repetitions are successive churn segments on that state.
 *    drm_buddy runs after fencealloc there: its 0.5 GiB of block nodes and
 *    three live sets do not fit in the 1 GiB UML kernel that kunit.py boots.
 *
 * ns/op: kernel time of a whole replay (ktime_get_ns) minus the same replay
 * with a do-nothing allocator (the harness), per op; three repetitions
 * interleaved fencealloc / drm_buddy / harness, median (min and max printed
 * too). p99.9: one more replay per allocator timing every call with the
 * CPU's time-stamp counter, calibrated against ktime_get_ns() (UML's
 * ktime_get_ns() ticks in 256 ns steps, too coarse for one call); the empty
 * pair of each clock is printed as the noise floor. metadata: fencealloc's storage
 * plus struct fa_buddy against drm_buddy's block nodes (counted in its trees,
 * at their slab object size) plus its free-list heads and roots, at the end
 * of the replay (W1, W1x) or after the fill (W2, W2L). frag fails:
 * allocations that failed while the allocator had enough free bytes.
 *
 * Benchmarks print; nothing here fails on timing. The cases fail only when an
 * allocator ends inconsistent or fencealloc reports caller misuse.
 */
#include "fa_kunit.h"

#include <drm/drm_buddy.h>
#include <linux/ktime.h>
#include <linux/list.h>
#include <linux/log2.h>
#include <linux/math64.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/vmalloc.h>

#include <fencealloc/buddy.h>

#define BK_SEED 0x5eed2024ull
#define BK_CHUNK 4096ull
#define BK_REPS 3
#define BK_RESCHED 1024 /* ops between cond_resched() calls, both allocators alike */

/* ------------------------------------------------------------ the clock */
/* Per-call timestamps: the TSC where there is one (raw cycles, converted at the end). */
static inline u64 bk_stamp(void)
{
#if defined(__x86_64__) || defined(__i386__)
	u32 lo, hi;

	asm volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return ((u64)hi << 32) | lo;
#else
	return ktime_get_ns();
#endif
}

/* Stamps per 2^20 ns, measured over 50 ms of ktime_get_ns(). */
static u64 bk_stamps_per_mns;

static void bk_calibrate(void)
{
	u64 t0 = ktime_get_ns(), c0 = bk_stamp(), t1, c1;

	do {
		t1 = ktime_get_ns();
	} while (t1 - t0 < 50000000ull);
	c1 = bk_stamp();
	bk_stamps_per_mns = div64_u64((c1 - c0) << 20, t1 - t0);
	if (!bk_stamps_per_mns)
		bk_stamps_per_mns = 1;
}

static u64 bk_stamps_to_ns(u64 c)
{
	if (!bk_stamps_per_mns)
		bk_calibrate();
	return div64_u64(c << 20, bk_stamps_per_mns);
}

/* ------------------------------------------------------------ the trace */
struct bk_rng {
	u64 s[4];
};

static void bk_rng_seed(struct bk_rng *r, u64 seed)
{
	int i;

	for (i = 0; i < 4; i++) {
		u64 z = (seed += 0x9e3779b97f4a7c15ull);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		r->s[i] = z ^ (z >> 31);
	}
}

static u64 bk_rotl(u64 x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static u64 bk_rng_next(struct bk_rng *r)
{
	u64 *s = r->s, res = bk_rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = bk_rotl(s[3], 45);
	return res;
}

/* Uniform in [0, n), n > 0. */
static u64 bk_rng_below(struct bk_rng *r, u64 n)
{
	return mul_u64_u64_shr(bk_rng_next(r), n, 64);
}

/* 2^(2^-k) for k = 1..24, Q31 (rounded). */
static const u32 bk_exp2_q31[24] = {
	3037000500u, 2553802834u, 2341847524u, 2242560872u, 2194507417u, 2170868212u,
	2159144272u, 2153306067u, 2150392887u, 2148937775u, 2148210589u, 2147847087u,
	2147665360u, 2147574502u, 2147529075u, 2147506361u, 2147495005u, 2147489326u,
	2147486487u, 2147485068u, 2147484358u, 2147484003u, 2147483825u, 2147483737u,
};

/* 2^(f / 2^24) for f < 2^24, Q31: the product over the set bits of f. */
static u64 bk_exp2_frac(u32 f)
{
	u64 r = 1ull << 31;
	int k;

	for (k = 0; k < 24; k++)
		if (f & (1u << (23 - k)))
			r = (r * bk_exp2_q31[k]) >> 31;
	return r;
}

enum bk_wl { BK_W1, BK_W1X, BK_W2, BK_W2L };
static const char *const bk_wl_name[] = { "W1", "W1x", "W2", "W2L" };

static u64 bk_draw_size(struct bk_rng *r, enum bk_wl w)
{
	u64 c = bk_rng_below(r, 10), f, m;
	unsigned int lo, hi, e;

	if (c < 6) {
		lo = 12;
		hi = 16;
	} else if (c < 9) {
		lo = 16;
		hi = 21;
	} else {
		lo = 21;
		hi = 28;
	}
	if (w == BK_W1)
		return 1ull << (lo + 1 + bk_rng_below(r, hi - lo));
	f = bk_rng_below(r, (u64)(hi - lo) << 24);
	e = lo + (unsigned int)(f >> 24);
	m = bk_exp2_frac((u32)(f & ((1u << 24) - 1)));
	m = ((m << e) + (1ull << 31) - 1) >> 31;
	return (m + BK_CHUNK - 1) & ~(BK_CHUNK - 1);
}

/* ------------------------------------------------------- the allocators */
enum bk_who { BK_FA, BK_DRM, BK_NONE, BK_NWHO };
static const char *const bk_who_name[] = { "fencealloc", "drm_buddy", "harness" };

/* One live allocation (drm_buddy's blocks hang on heads[id], a driver keeps one list per object). */
struct bk_entry {
	u64 addr, size;
};

struct bk_alloc {
	enum bk_who who;
	bool contig;
	u64 space;
	struct fa_buddy fb;
	void *meta;
	u64 meta_bytes;
	struct drm_buddy mm;
	u64 fake_next;
	/* live set: entries never move (their list heads stay valid) */
	struct bk_entry *pool;
	struct list_head *heads; /* drm_buddy only */
	u32 *live, *freeids;
	u32 nlive, nfree, cap;
	u64 live_bytes;
	u64 ops, fails, fails_free;
};

static int bk_setup(struct kunit *test, struct bk_alloc *a, enum bk_who who, u64 space, u32 cap,
		    bool contig)
{
	u32 i;

	memset(a, 0, sizeof(*a));
	a->who = who;
	a->space = space;
	a->contig = contig;
	a->cap = cap;
	a->pool = kvmalloc_array(cap, sizeof(*a->pool), GFP_KERNEL);
	a->live = kvmalloc_array(cap, sizeof(u32), GFP_KERNEL);
	a->freeids = kvmalloc_array(cap, sizeof(u32), GFP_KERNEL);
	if (who == BK_DRM)
		a->heads = kvmalloc_array(cap, sizeof(*a->heads), GFP_KERNEL);
	if (!a->pool || !a->live || !a->freeids || (who == BK_DRM && !a->heads))
		goto nomem;
	for (i = 0; i < cap; i++)
		a->freeids[i] = cap - 1 - i;
	a->nfree = cap;
	if (who == BK_FA) {
		a->meta_bytes = fa_buddy_storage_size(space, BK_CHUNK);
		a->meta = kvmalloc(a->meta_bytes, GFP_KERNEL);
		if (!a->meta)
			goto nomem;
		KUNIT_ASSERT_EQ(test, fa_buddy_init(&a->fb, a->meta, a->meta_bytes, 0, space, BK_CHUNK), 0);
	} else if (who == BK_DRM) {
		KUNIT_ASSERT_EQ(test, drm_buddy_init(&a->mm, space, BK_CHUNK), 0);
	}
	return 0;
nomem:
	kvfree(a->heads);
	kvfree(a->pool);
	kvfree(a->live);
	kvfree(a->freeids);
	KUNIT_FAIL(test, "out of memory for the %s live set (%u entries)", bk_who_name[who], cap);
	return -ENOMEM;
}

static u64 bk_avail(const struct bk_alloc *a)
{
	if (a->who == BK_FA)
		return fa_buddy_avail(&a->fb);
	if (a->who == BK_DRM)
		return a->mm.avail;
	return a->space - a->live_bytes;
}

static int bk_op_alloc(struct bk_alloc *a, u32 id)
{
	struct bk_entry *e = &a->pool[id];
	struct list_head *blocks;
	int err;

	if (a->who == BK_FA)
		return fa_buddy_alloc(&a->fb, e->size, 0, a->contig ? FA_BUDDY_CONTIGUOUS : 0, &e->addr);
	if (a->who == BK_NONE) {
		e->addr = a->fake_next;
		a->fake_next += e->size;
		return 0;
	}
	blocks = &a->heads[id];
	INIT_LIST_HEAD(blocks);
	if (a->contig) {
		u64 p2 = roundup_pow_of_two(e->size);

		err = drm_buddy_alloc_blocks(&a->mm, 0, a->mm.size, p2, p2, blocks, 0);
		if (!err && p2 != e->size) {
			err = drm_buddy_block_trim(&a->mm, e->size, blocks);
			if (err)
				drm_buddy_free_list(&a->mm, blocks);
		}
	} else {
		err = drm_buddy_alloc_blocks(&a->mm, 0, a->mm.size, e->size, e->size, blocks, 0);
	}
	if (!err)
		e->addr = drm_buddy_block_offset(list_first_entry(blocks, struct drm_buddy_block, link));
	return err;
}

static int bk_op_free(struct bk_alloc *a, u32 id)
{
	if (a->who == BK_FA)
		return fa_buddy_free(&a->fb, a->pool[id].addr, a->pool[id].size);
	if (a->who == BK_DRM)
		drm_buddy_free_list(&a->mm, &a->heads[id]);
	return 0;
}

/* One allocation of the trace; lat: where its latency goes, or NULL (untimed). */
static void bk_alloc(struct kunit *test, struct bk_alloc *a, u64 size, u32 *lat)
{
	struct bk_entry *e;
	u32 id;
	u64 t0 = 0;
	int err;

	if (!a->nfree) {
		KUNIT_FAIL(test, "live set full");
		return;
	}
	id = a->freeids[--a->nfree];
	e = &a->pool[id];
	e->size = size;
	if (lat)
		t0 = bk_stamp();
	err = bk_op_alloc(a, id);
	if (lat)
		*lat = (u32)min_t(u64, bk_stamp() - t0, U32_MAX);
	a->ops++;
	if (err) {
		a->freeids[a->nfree++] = id;
		a->fails++;
		if (bk_avail(a) >= size)
			a->fails_free++;
		return;
	}
	a->live[a->nlive++] = id;
	a->live_bytes += size;
}

static void bk_free(struct kunit *test, struct bk_alloc *a, u32 k, u32 *lat)
{
	u32 id = a->live[k];
	struct bk_entry *e = &a->pool[id];
	u64 t0 = 0;
	int err;

	if (lat)
		t0 = bk_stamp();
	err = bk_op_free(a, id);
	if (lat)
		*lat = (u32)min_t(u64, bk_stamp() - t0, U32_MAX);
	a->ops++;
	KUNIT_EXPECT_EQ(test, err, 0);
	a->live_bytes -= e->size;
	a->live[k] = a->live[--a->nlive];
	a->freeids[a->nfree++] = id;
}

/* drm_buddy's metadata now: its block nodes (walked in its trees) + list heads + roots. */
static u64 bk_drm_metadata(struct drm_buddy *mm)
{
	struct drm_buddy_block *stack[2 * 64], *blk;
	u64 nodes = 0, node_bytes = sizeof(struct drm_buddy_block);
	unsigned int i, sp;

	for (i = 0; i < mm->n_roots; i++) {
		sp = 0;
		stack[sp++] = mm->roots[i];
		if (i == 0)
			node_bytes = ksize(mm->roots[0]);
		while (sp) {
			blk = stack[--sp];
			nodes++;
			if (drm_buddy_block_is_split(blk)) {
				stack[sp++] = blk->left;
				stack[sp++] = blk->right;
			}
		}
	}
	return nodes * node_bytes + (mm->max_order + 1) * sizeof(struct list_head) +
	       mm->n_roots * sizeof(void *);
}

static u64 bk_metadata(struct bk_alloc *a)
{
	if (a->who == BK_FA)
		return a->meta_bytes + sizeof(a->fb);
	if (a->who == BK_DRM)
		return bk_drm_metadata(&a->mm);
	return 0;
}

static struct bk_entry *bk_sort_pool;

static int bk_cmp_addr(const void *x, const void *y)
{
	u64 p = bk_sort_pool[*(const u32 *)x].addr, q = bk_sort_pool[*(const u32 *)y].addr;

	return p < q ? -1 : p > q;
}

/*
 * Free everything in address order (drm_buddy 6.1 keeps its free lists
 * sorted by insertion, so a random-order teardown of millions of blocks is
 * quadratic), check the allocator is whole again, release it.
 */
static void bk_teardown(struct kunit *test, struct bk_alloc *a)
{
	u32 k;

	if (!a->pool)
		return;
	bk_sort_pool = a->pool;
	sort(a->live, a->nlive, sizeof(u32), bk_cmp_addr, NULL);
	for (k = 0; k < a->nlive; k++) {
		KUNIT_EXPECT_EQ(test, bk_op_free(a, a->live[k]), 0);
		if (!(k % BK_RESCHED))
			cond_resched();
	}
	a->nlive = 0;
	a->live_bytes = 0;
	if (a->who == BK_FA) {
		const char *why = NULL;

		KUNIT_EXPECT_EQ_MSG(test, fa_buddy_check(&a->fb, &why), 0, "%s", why ? why : "");
		KUNIT_EXPECT_EQ(test, fa_buddy_avail(&a->fb), a->space);
		fa_buddy_fini(&a->fb);
		kvfree(a->meta);
	} else if (a->who == BK_DRM) {
		KUNIT_EXPECT_EQ(test, a->mm.avail, a->mm.size);
		drm_buddy_fini(&a->mm);
	}
	kvfree(a->heads);
	kvfree(a->pool);
	kvfree(a->live);
	kvfree(a->freeids);
	a->pool = NULL;
	a->heads = NULL;
}

/* ---------------------------------------------------------- the replays */
/* W1 / W1x: the whole trace. Returns kernel ns of the measured loop. */
static u64 bk_replay_w1(struct kunit *test, struct bk_alloc *a, enum bk_wl w, u64 n, u32 *lat)
{
	struct bk_rng r;
	u64 i, t0, limit = a->space / 10 * 7;

	bk_rng_seed(&r, BK_SEED);
	t0 = ktime_get_ns();
	for (i = 0; i < n; i++) {
		u64 size = bk_draw_size(&r, w);

		if (a->live_bytes + size <= limit)
			bk_alloc(test, a, size, lat ? &lat[i] : NULL);
		else
			bk_free(test, a, (u32)bk_rng_below(&r, a->nlive), lat ? &lat[i] : NULL);
		if (!(i % BK_RESCHED))
			cond_resched();
	}
	return ktime_get_ns() - t0;
}

static void bk_fill(struct kunit *test, struct bk_alloc *a)
{
	u64 i = 0;

	while (a->live_bytes < a->space / 10 * 9) {
		bk_alloc(test, a, BK_CHUNK, NULL);
		if (!(++i % BK_RESCHED))
			cond_resched();
	}
}

/* W2 / W2L: n churn ops on a filled allocator, trace seeded with seed. */
static u64 bk_churn(struct kunit *test, struct bk_alloc *a, u64 seed, u64 n, u32 *lat)
{
	struct bk_rng r;
	u64 i, t0;

	bk_rng_seed(&r, seed);
	t0 = ktime_get_ns();
	for (i = 0; i < n; i++) {
		if ((bk_rng_next(&r) & 1) && a->nlive)
			bk_free(test, a, (u32)bk_rng_below(&r, a->nlive), lat ? &lat[i] : NULL);
		else
			bk_alloc(test, a, BK_CHUNK, lat ? &lat[i] : NULL);
		if (!(i % BK_RESCHED))
			cond_resched();
	}
	return ktime_get_ns() - t0;
}

/* ------------------------------------------------------------ reporting */
struct bk_result {
	u64 ns[BK_NWHO][BK_REPS]; /* replay kernel ns per repetition */
	u64 p999[2], p50[2], p99[2];
	u64 meta[2], frag[2], fails[2];
	u64 ops;
};

static int bk_cmp_u64(const void *x, const void *y)
{
	u64 p = *(const u64 *)x, q = *(const u64 *)y;

	return p < q ? -1 : p > q;
}

static int bk_cmp_u32(const void *x, const void *y)
{
	u32 p = *(const u32 *)x, q = *(const u32 *)y;

	return p < q ? -1 : p > q;
}

/* Net ns per op of repetition k of who, in tenths of a ns (never below 0). */
static u64 bk_net10(const struct bk_result *res, int who, int k)
{
	u64 a = res->ns[who][k], h = res->ns[BK_NONE][k];

	return a > h ? div64_u64((a - h) * 10, res->ops) : 0;
}

/* min / median / max of the net figures of who, tenths of a ns. */
static void bk_stats(const struct bk_result *res, int who, u64 out[3])
{
	u64 v[BK_REPS];
	int k;

	for (k = 0; k < BK_REPS; k++)
		v[k] = bk_net10(res, who, k);
	sort(v, BK_REPS, sizeof(v[0]), bk_cmp_u64, NULL);
	out[0] = v[0];
	out[1] = v[BK_REPS / 2];
	out[2] = v[BK_REPS - 1];
}

static void bk_latency(struct bk_result *res, int who, u32 *lat, u64 n)
{
	sort(lat, n, sizeof(u32), bk_cmp_u32, NULL);
	res->p50[who] = bk_stamps_to_ns(lat[n / 2]);
	res->p99[who] = bk_stamps_to_ns(lat[n * 99 / 100]);
	res->p999[who] = bk_stamps_to_ns(lat[n * 999 / 1000]);
}

static void bk_print(struct kunit *test, enum bk_wl w, const struct bk_result *res)
{
	u64 f[3], d[3], h[3], r10k;
	int k;

	bk_stats(res, BK_FA, f);
	bk_stats(res, BK_DRM, d);
	for (k = 0; k < BK_REPS; k++)
		h[k] = div64_u64(res->ns[BK_NONE][k] * 10, res->ops);
	sort(h, BK_REPS, sizeof(h[0]), bk_cmp_u64, NULL);
	r10k = d[1] ? div64_u64(f[1] * 10000, d[1]) : 0; /* ratio in 1/10000 */
	pr_info("fencealloc_bench: %s fencealloc %llu.%llu ns/op, drm_buddy %llu.%llu ns/op, ratio %llu.%04llu, p99.9 %llu ns vs %llu ns, metadata %llu vs %llu bytes, frag fails %llu vs %llu\n",
		bk_wl_name[w], f[1] / 10, f[1] % 10, d[1] / 10, d[1] % 10, r10k / 10000, r10k % 10000,
		res->p999[BK_FA], res->p999[BK_DRM], res->meta[BK_FA], res->meta[BK_DRM],
		res->frag[BK_FA], res->frag[BK_DRM]);
	pr_info("fencealloc_bench: %s   %llu ops x %d interleaved reps, net of harness (median %llu.%llu ns/op); min/median/max fencealloc %llu.%llu/%llu.%llu/%llu.%llu, drm_buddy %llu.%llu/%llu.%llu/%llu.%llu; p50/p99 fencealloc %llu/%llu ns, drm_buddy %llu/%llu ns; failed allocations %llu vs %llu\n",
		bk_wl_name[w], res->ops, BK_REPS, h[1] / 10, h[1] % 10, f[0] / 10, f[0] % 10,
		f[1] / 10, f[1] % 10, f[2] / 10, f[2] % 10, d[0] / 10, d[0] % 10, d[1] / 10, d[1] % 10,
		d[2] / 10, d[2] % 10, res->p50[BK_FA], res->p99[BK_FA], res->p50[BK_DRM],
		res->p99[BK_DRM], res->fails[BK_FA], res->fails[BK_DRM]);
}

/* Empty timer pairs: the floor under every percentile. */
static void bk_timer_floor(u32 *lat, u64 n)
{
	u64 i;

	for (i = 0; i < n; i++) {
		u64 t0 = ktime_get_ns();

		lat[i] = (u32)(ktime_get_ns() - t0);
	}
	sort(lat, n, sizeof(u32), bk_cmp_u32, NULL);
	pr_info("fencealloc_bench: timer pair ktime_get_ns p50 %u ns, p99 %u ns, p99.9 %u ns over %llu pairs\n",
		lat[n / 2], lat[n * 99 / 100], lat[n * 999 / 1000], n);
	for (i = 0; i < n; i++) {
		u64 t0 = bk_stamp();

		lat[i] = (u32)(bk_stamp() - t0);
	}
	sort(lat, n, sizeof(u32), bk_cmp_u32, NULL);
	pr_info("fencealloc_bench: timer pair per call (TSC, %llu stamps per 1.048576 ms) p50 %llu ns, p99 %llu ns, p99.9 %llu ns\n",
		bk_stamps_per_mns, bk_stamps_to_ns(lat[n / 2]), bk_stamps_to_ns(lat[n * 99 / 100]),
		bk_stamps_to_ns(lat[n * 999 / 1000]));
}

/* ------------------------------------------------------------- the cases */
static void bk_run_w1(struct kunit *test, enum bk_wl w, u64 n)
{
	struct bk_alloc *a = kzalloc(sizeof(*a), GFP_KERNEL);
	struct bk_result *res = kzalloc(sizeof(*res), GFP_KERNEL);
	u64 space = 16ull << 30;
	u32 *lat = kvmalloc_array(n, sizeof(u32), GFP_KERNEL);
	int k, who, warned = fa_kunit_warned();

	KUNIT_ASSERT_NOT_NULL(test, a);
	KUNIT_ASSERT_NOT_NULL(test, res);
	KUNIT_ASSERT_NOT_NULL(test, lat);
	res->ops = n;
	for (k = 0; k < BK_REPS; k++) {
		for (who = 0; who < BK_NWHO; who++) {
			if (bk_setup(test, a, who, space, (u32)n, w == BK_W1X))
				goto out;
			res->ns[who][k] = bk_replay_w1(test, a, w, n, NULL);
			pr_info("fencealloc_bench: %s   rep %d %s: %llu ms\n", bk_wl_name[w], k, bk_who_name[who],
				div64_u64(res->ns[who][k], 1000000));
			if (k == 0 && who != BK_NONE) {
				res->meta[who] = bk_metadata(a);
				res->frag[who] = a->fails_free;
				res->fails[who] = a->fails;
			}
			bk_teardown(test, a);
		}
	}
	for (who = 0; who < BK_NONE; who++) {
		if (bk_setup(test, a, who, space, (u32)n, w == BK_W1X))
			goto out;
		bk_replay_w1(test, a, w, n, lat);
		bk_teardown(test, a);
		bk_latency(res, who, lat, n);
	}
	bk_print(test, w, res);
out:
	KUNIT_EXPECT_EQ(test, fa_kunit_warned(), warned);
	kvfree(lat);
	kfree(res);
	kfree(a);
}

static void bk_w1(struct kunit *test)
{
	u32 *lat = kvmalloc_array(1000000, sizeof(u32), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, lat);
	bk_calibrate();
	bk_timer_floor(lat, 1000000);
	kvfree(lat);
	bk_run_w1(test, BK_W1, 1000000);
}

static void bk_w1x(struct kunit *test)
{
	bk_run_w1(test, BK_W1X, 100000);
}

/*
 * W2 / W2L: every allocator filled once; repetition k is churn segment k on
 * that state (seed + k), interleaved between the allocators alive together;
 * then one timed-per-call segment each. groups[g] is a bit set of the
 * allocators alive in phase g: all three for W2; for W2L fencealloc with the
 * harness, then drm_buddy alone (its 3.8 M block nodes and the live sets of
 * all three do not fit in the 1 GiB UML that kunit.py boots).
 */
static void bk_run_w2(struct kunit *test, enum bk_wl w, u64 space, u64 n, const unsigned int *groups,
		      int ngroups)
{
	struct bk_alloc *a = kcalloc(BK_NWHO, sizeof(*a), GFP_KERNEL);
	struct bk_result *res = kzalloc(sizeof(*res), GFP_KERNEL);
	u32 *lat = kvmalloc_array(n, sizeof(u32), GFP_KERNEL);
	u32 cap = (u32)(space / BK_CHUNK);
	u64 fill_ns[2] = { 0, 0 }, filled[2] = { 0, 0 };
	int g, k, who, warned = fa_kunit_warned();

	KUNIT_ASSERT_NOT_NULL(test, a);
	KUNIT_ASSERT_NOT_NULL(test, res);
	KUNIT_ASSERT_NOT_NULL(test, lat);
	res->ops = n;
	for (g = 0; g < ngroups; g++) {
		for (who = 0; who < BK_NWHO; who++) {
			u64 t0;

			if (!(groups[g] & (1u << who)))
				continue;
			if (bk_setup(test, &a[who], who, space, cap, false))
				goto out;
			t0 = ktime_get_ns();
			bk_fill(test, &a[who]);
			if (who != BK_NONE) {
				fill_ns[who] = ktime_get_ns() - t0;
				filled[who] = a[who].nlive;
				res->meta[who] = bk_metadata(&a[who]);
			}
		}
		for (k = 0; k < BK_REPS; k++)
			for (who = 0; who < BK_NWHO; who++)
				if (groups[g] & (1u << who))
					res->ns[who][k] = bk_churn(test, &a[who], BK_SEED + 1 + k, n, NULL);
		for (who = 0; who < BK_NONE; who++) {
			if (!(groups[g] & (1u << who)))
				continue;
			bk_churn(test, &a[who], BK_SEED + 1 + BK_REPS, n, lat);
			bk_latency(res, who, lat, n);
			res->frag[who] = a[who].fails_free;
			res->fails[who] = a[who].fails;
		}
		for (who = 0; who < BK_NWHO; who++)
			if (groups[g] & (1u << who))
				bk_teardown(test, &a[who]);
	}
	bk_print(test, w, res);
	pr_info("fencealloc_bench: %s   fill to 90 %%: %llu blocks, fencealloc %llu ns/block, drm_buddy %llu ns/block (harness included)%s\n",
		bk_wl_name[w], filled[BK_FA], filled[BK_FA] ? div64_u64(fill_ns[BK_FA], filled[BK_FA]) : 0,
		filled[BK_DRM] ? div64_u64(fill_ns[BK_DRM], filled[BK_DRM]) : 0,
		ngroups > 1 ? "; drm_buddy ran after fencealloc, not interleaved (memory)" : "");
out:
	for (who = 0; who < BK_NWHO; who++)
		bk_teardown(test, &a[who]);
	KUNIT_EXPECT_EQ(test, fa_kunit_warned(), warned);
	kvfree(lat);
	kfree(res);
	kfree(a);
}

static void bk_w2(struct kunit *test)
{
	static const unsigned int all[1] = { 1u << BK_FA | 1u << BK_DRM | 1u << BK_NONE };

	bk_run_w2(test, BK_W2, 1ull << 30, 200000, all, 1);
}

static void bk_w2l(struct kunit *test)
{
	static const unsigned int phases[2] = { 1u << BK_FA | 1u << BK_NONE, 1u << BK_DRM };

	bk_run_w2(test, BK_W2L, 16ull << 30, 200000, phases, 2);
}

static struct kunit_case bk_cases[] = {
	KUNIT_CASE(bk_w1),
	KUNIT_CASE(bk_w1x),
	KUNIT_CASE(bk_w2),
	KUNIT_CASE(bk_w2l),
	{}
};

static struct kunit_suite bk_suite = {
	.name = "fencealloc_bench",
	.test_cases = bk_cases,
};
kunit_test_suite(bk_suite);

MODULE_LICENSE("Dual MIT/GPL");
