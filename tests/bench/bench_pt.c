/* SPDX-License-Identifier: MIT */
/*
 * Page-table tree, NVIDIA MMU ver2: ref + map + unmap + unref (+ reclaim) of
 * 1 GiB in 4 KiB, 64 KiB and 2 MiB pages, table memory from fa_buddy, with
 * the direct accessor and with the simulated PRAMIN window.
 *
 * Printed per page size and accessor:
 * - ns per page of each stage and of the whole cycle (best of REPS);
 * - tables allocated by ref against the tree-aware and static estimates;
 * - map ns per PTE against memset() of the same PTE bytes, measured in the
 *   same run (ratio; the target is <= 4x on the direct path);
 * - PRAMIN: MMIO writes per PTE of map (target exactly 2) and window moves
 *   of map against a lower bound (distinct 1 MiB regions holding the PTE
 *   tables), counted by the simulated BAR0.
 * --json FILE writes every stage's min / median / max per page as well.
 * Exits non-zero only on a functional failure (wrong count, failed call);
 * timings are reported, never asserted.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fencealloc/pt.h>
#include <sim/sim_bar0.h>

#include "pt_alloc.h"
#include "bench_json.h"

#define GiB (1ull << 30)
#define MiB (1ull << 20)
#define REPS 7
#define VA_BASE (5ull << 40) /* somewhere in the 49-bit space, crossing no PD2 entry */

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int failed;

#define CHECK(cond)                                                                   \
	do {                                                                          \
		if (!(cond)) {                                                        \
			fprintf(stderr, "bench_pt: check failed at line %d: %s\n",   \
				__LINE__, #cond);                                     \
			failed = 1;                                                   \
		}                                                                     \
	} while (0)

struct rig {
	struct pt_vram v;    /* table bookkeeping (buddy) + direct memory */
	struct sim_bar0 bar; /* simulated VRAM behind PRAMIN */
	struct fa_pramin_gen gen;
	struct fa_pramin_hw hw;
	struct fa_pramin_window win;
	struct fa_pramin_accessor win_acc;
	int pramin;
};

struct result {
	double ref, map, unmap, unref, reclaim, memset_ns; /* best of the repetitions */
	struct bs s_ref, s_map, s_unmap, s_unref, s_reclaim, s_memset; /* every repetition */
	uint64_t tables, est_tree, est_static, pages;
	uint64_t mmio_writes, moves, regions;
	uint64_t ref_moves, ref_regions;
};

static void rig_init(struct rig *r, int pramin)
{
	memset(r, 0, sizeof(*r));
	pt_vram_init(&r->v, 64 * MiB);
	r->v.poison = 0;
	pt_vram_use_buddy(&r->v);
	r->v.alog_cap = 4096;
	r->v.alog = (uint64_t *)malloc(r->v.alog_cap * sizeof(uint64_t));
	if (!r->v.alog)
		exit(1);
	r->pramin = pramin;
	if (pramin) {
		fa_pramin_gen_get(FA_PRAMIN_GEN_PBUS, &r->gen);
		if (sim_bar0_init(&r->bar, r->v.base + r->v.size, &r->gen))
			exit(1);
		r->bar.check_torn = true;
		sim_bar0_pramin_hw(&r->bar, &r->hw);
		if (fa_pramin_window_init(&r->win, &r->hw, &r->gen, r->bar.vram_size, &r->win_acc))
			exit(1);
	}
}

static void rig_fini(struct rig *r)
{
	if (r->pramin)
		sim_bar0_fini(&r->bar);
	free(r->v.alog);
	r->v.alog = NULL;
	pt_vram_destroy(&r->v);
}

static int tree_init(struct rig *r, struct fa_pt *pt)
{
	struct fa_pt_table_alloc ta;
	struct fa_reserve_source rs;
	struct fa_pt_config cfg;

	ta.alloc = pt_table_alloc_cb;
	ta.free = pt_table_free_cb;
	ta.ctx = &r->v;
	rs.alloc = pt_shadow_alloc_cb;
	rs.free = pt_shadow_free_cb;
	rs.ctx = &r->v;
	fa_pt_config_init(&cfg, fa_pt_format_nv_ver2(), r->pramin ? &r->win_acc : &r->v.acc, &ta,
			  &rs);
	return fa_pt_init(pt, &cfg, FA_GFP_KERNEL);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Fewest window positions that reach every PTE table of the range: sort the
 * tables and cover them greedily with 1 MiB windows at 64 KiB-aligned bases
 * (a lower bound for the moves of any write order).
 */
static uint64_t min_positions(struct fa_pt *pt, uint64_t va, uint64_t size, uint64_t ps)
{
	const struct fa_pt_format *f = pt->fmt;
	int p = fa_pt_page_index(f, ps);
	unsigned int l = f->page[p].level;
	uint64_t step = FA_BIT64(f->level[l].shift + f->level[l].bits), x, bytes, end = 0;
	static uint64_t addr[1024];
	unsigned int n = 0, i;
	uint64_t pos = 0;
	struct fa__pt_chain c;
	struct fa_pt_node *path[FA_PT_MAX_DEPTH], *t;

	fa__pt_chain_make(f, (unsigned int)p, &c);
	bytes = fa_pt_level_bytes(f, l);
	for (x = va; x < va + size && n < 1024; x += step) {
		t = fa__pt_find(pt, &c, x, path);
		if (t)
			addr[n++] = t->addr;
	}
	qsort(addr, n, sizeof(addr[0]), cmp_u64);
	for (i = 0; i < n; i++) {
		if (pos && addr[i] + bytes <= end)
			continue;
		pos++;
		end = (addr[i] & ~0xffffull) + MiB;
	}
	return pos;
}

/* Fewest 1 MiB window positions (64 KiB-aligned bases) covering the logged
 * table allocations, pairs of (address, bytes). */
static uint64_t min_positions_log(const uint64_t *log, size_t n)
{
	static uint64_t addr[2048];
	uint64_t pos = 0, end = 0, bytes = 4096;
	size_t i, k = 0;

	for (i = 0; i + 1 < n && k < 2048; i += 2)
		addr[k++] = log[i];
	qsort(addr, k, sizeof(addr[0]), cmp_u64);
	for (i = 0; i < k; i++) {
		if (pos && addr[i] + bytes <= end)
			continue;
		pos++;
		end = (addr[i] & ~0xffffull) + MiB;
	}
	return pos;
}

static void run_once(struct rig *r, uint64_t ps, struct result *res, int first)
{
	struct fa_pt pt;
	struct fa_pt_estimate est, st;
	uint64_t npages = GiB / ps, allocs, mmio = 0, moves = 0;
	double t0, t1;
	static uint64_t *membuf;

	memset(&est, 0, sizeof(est));
	memset(&st, 0, sizeof(st));
	CHECK(tree_init(r, &pt) == 0);
	CHECK(fa_pt_estimate(&pt, VA_BASE, GiB, ps, &est) == 0);
	CHECK(fa_pt_estimate_static(pt.fmt, VA_BASE, GiB, ps, &st) == 0);
	allocs = r->v.table_allocs;
	r->v.alog_n = 0;
	if (r->pramin)
		moves = r->bar.stats.window_changes;

	t0 = now_ns();
	CHECK(fa_pt_ref(&pt, VA_BASE, GiB, ps, FA_GFP_KERNEL) == 0);
	t1 = now_ns();
	if (r->pramin) {
		res->ref_moves = r->bar.stats.window_changes - moves;
		res->ref_regions = min_positions_log(r->v.alog, r->v.alog_n);
	}
	res->ref = first || t1 - t0 < res->ref ? t1 - t0 : res->ref;
	bs_add(&res->s_ref, t1 - t0);
	res->tables = r->v.table_allocs - allocs;
	res->est_tree = est.total;
	res->est_static = st.total;

	if (r->pramin) {
		fa_pramin_window_forget(&r->win);
		mmio = r->bar.stats.aperture_writes;
		moves = r->bar.stats.window_changes;
	}
	t0 = now_ns();
	CHECK(fa_pt_map(&pt, VA_BASE, GiB, ps, 0x100000000ull, FA_PT_APER_VRAM) == 0);
	t1 = now_ns();
	res->map = first || t1 - t0 < res->map ? t1 - t0 : res->map;
	bs_add(&res->s_map, t1 - t0);
	if (r->pramin) {
		res->mmio_writes = r->bar.stats.aperture_writes - mmio;
		res->moves = r->bar.stats.window_changes - moves;
		CHECK(r->bar.stats.torn_valid == 0);
	}
	res->regions = min_positions(&pt, VA_BASE, GiB, ps);
	{
		struct fa_pt_xlate x;

		memset(&x, 0, sizeof(x));
		CHECK(fa_pt_translate(&pt, VA_BASE + GiB - 1, &x) == 0);
		CHECK(x.pa == 0x100000000ull + GiB - 1);
	}

	/* memset of the same PTE bytes, same run */
	if (!membuf) {
		membuf = (uint64_t *)malloc(npages * 8 > 2 * MiB ? npages * 8 : 2 * MiB);
		memset(membuf, 1, npages * 8);
	}
	t0 = now_ns();
	memset(membuf, first ? 3 : 5, npages * 8);
	__asm__ __volatile__("" : : "r"(membuf) : "memory");
	t1 = now_ns();
	res->memset_ns = first || t1 - t0 < res->memset_ns ? t1 - t0 : res->memset_ns;
	bs_add(&res->s_memset, t1 - t0);

	t0 = now_ns();
	CHECK(fa_pt_unmap(&pt, VA_BASE, GiB, ps) == 0);
	t1 = now_ns();
	res->unmap = first || t1 - t0 < res->unmap ? t1 - t0 : res->unmap;
	bs_add(&res->s_unmap, t1 - t0);

	t0 = now_ns();
	CHECK(fa_pt_unref(&pt, VA_BASE, GiB, ps, 1) == 0);
	t1 = now_ns();
	res->unref = first || t1 - t0 < res->unref ? t1 - t0 : res->unref;
	bs_add(&res->s_unref, t1 - t0);

	t0 = now_ns();
	CHECK(fa_pt_reclaim(&pt, 1) == res->tables);
	t1 = now_ns();
	res->reclaim = first || t1 - t0 < res->reclaim ? t1 - t0 : res->reclaim;
	bs_add(&res->s_reclaim, t1 - t0);
	CHECK(fa_pt_fini(&pt) == 0);
	CHECK(r->v.live_tables == 0 && r->v.live_shadow == 0);
	res->pages = npages;
}

static void report(const char *acc, uint64_t ps, const struct result *s, int pramin)
{
	double n = (double)s->pages;
	double cycle = s->ref + s->map + s->unmap + s->unref + s->reclaim;

	printf("  %-7s %5llu KiB %7.2f %7.2f %7.2f %7.2f %7.2f | %8.2f | %5.2fx | %4llu/%4llu/%4llu",
	       acc, (unsigned long long)(ps >> 10), s->ref / n, s->map / n, s->unmap / n,
	       s->unref / n, s->reclaim / n, cycle / n, s->map / s->memset_ns,
	       (unsigned long long)s->tables, (unsigned long long)s->est_tree,
	       (unsigned long long)s->est_static);
	if (pramin)
		printf(" | %.3f  %llu/%llu  %llu/%llu", (double)s->mmio_writes / n,
		       (unsigned long long)s->moves, (unsigned long long)s->regions,
		       (unsigned long long)s->ref_moves, (unsigned long long)s->ref_regions);
	printf("\n");

	bj_begin(NULL);
	bj_str("access", acc);
	bj_u64("page_bytes", ps);
	bj_u64("pages", s->pages);
	bj_stat_scaled("ref_ns_per_page", &s->s_ref, 1 / n);
	bj_stat_scaled("map_ns_per_page", &s->s_map, 1 / n);
	bj_stat_scaled("unmap_ns_per_page", &s->s_unmap, 1 / n);
	bj_stat_scaled("unref_ns_per_page", &s->s_unref, 1 / n);
	bj_stat_scaled("reclaim_ns_per_page", &s->s_reclaim, 1 / n);
	bj_stat_scaled("memset_ns_per_page", &s->s_memset, 1 / n);
	bj_num("map_vs_memset_best", s->map / s->memset_ns);
	bj_u64("tables", s->tables);
	bj_u64("tables_estimate_tree", s->est_tree);
	bj_u64("tables_estimate_static", s->est_static);
	if (pramin) {
		bj_num("mmio_writes_per_pte", (double)s->mmio_writes / n);
		bj_u64("map_window_moves", s->moves);
		bj_u64("map_window_min", s->regions);
		bj_u64("ref_window_moves", s->ref_moves);
		bj_u64("ref_window_min", s->ref_regions);
	}
	bj_end();
}

int main(int argc, char **argv)
{
	static const uint64_t sizes[3] = { 1ull << 12, 1ull << 16, 1ull << 21 };
	int a, i, rep;

	if (bj_open_args(&argc, argv) || argc != 1)
		return 2;
	bj_str("bench", "pt");
	bj_u64("bytes", GiB);
	bj_begin_array("runs");
	printf("bench_pt: NVIDIA MMU ver2, 1 GiB at VA 0x%llx, tables from fa_buddy, best of %d (--json: min/median/max)\n",
	       (unsigned long long)VA_BASE, REPS);
	printf("  ns per page per stage; map/memset = map time over memset() of the same PTE bytes\n");
	printf("  tables = allocated / tree-aware estimate / static estimate\n");
	printf("  PRAMIN: MMIO writes per PTE of map (target 2); window moves of map / fewest "
	       "1 MiB window positions covering the PTE tables;\n"
	       "          window moves of ref / fewest positions covering every new table\n");
	printf("  %-7s %9s %7s %7s %7s %7s %7s | %8s | %6s | %14s | %s\n", "access", "page", "ref",
	       "map", "unmap", "unref", "reclaim", "cycle", "map/ms", "tables", "PRAMIN");
	for (a = 0; a < 2; a++) {
		for (i = 0; i < 3; i++) {
			struct rig r;
			struct result res;

			memset(&res, 0, sizeof(res));
			rig_init(&r, a);
			for (rep = 0; rep < REPS; rep++)
				run_once(&r, sizes[i], &res, rep == 0);
			CHECK(res.tables == res.est_tree);
			CHECK(res.est_static >= res.est_tree);
			if (a) {
				CHECK(res.mmio_writes == 2 * res.pages);
				CHECK(res.moves <= 2 * res.regions + 1); /* no per-table thrashing */
			}
			report(a ? "pramin" : "direct", sizes[i], &res, a);
			rig_fini(&r);
		}
	}
	if (failed)
		printf("bench_pt: FAILED\n");
	if (bj_close())
		return 1;
	return failed;
}
