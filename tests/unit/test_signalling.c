/* SPDX-License-Identifier: MIT */
/*
 * Signalling validator: the five fence-signalling deadlock scenarios and the
 * fault-path inversion must be reported (whole chain, every edge's file:line),
 * the known-good disciplines must not; direct rules, balance checks, table
 * limits, report deduplication, a randomized comparison against a reference
 * graph, multi-threaded use (suite signalling_mt), and the reservation
 * module's allocator hook (suite signalling_reserve).
 *
 * Threads that play the two sides of a deadlock run one after the other
 * (start, join, start, join), in both orders, so nothing can actually hang:
 * the validator must find the cycle from orderings seen at different times.
 *
 * This file is the program's one validator implementation unit.
 */
#define FA_VALIDATE
#define FA_SIGNALLING_IMPLEMENTATION
#define FA_SIGNALLING_MAX_CLASSES 128
#include "fa_test.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <fencealloc/signalling.h>
#include <fencealloc/reserve.h>

#include "fa_rng.h"
#include "reserve_alloc.h"

/* ------------------------------------------------------------ capture */

#define MAX_CAPTURED 32

struct captured {
	enum fa_signalling_report_kind kind;
	unsigned int thread;
	char text[FA_SIGNALLING_REPORT_BYTES];
};

static struct captured cap[MAX_CAPTURED];
static unsigned int ncap;
static enum fa_signalling_report_kind last_kind;

static void capture(const struct fa_signalling_report *r, void *arg)
{
	(void)arg;
	if (getenv("FA_SIGNALLING_SHOW"))
		fputs(r->text, stderr);
	last_kind = r->kind;
	if (ncap < MAX_CAPTURED) {
		cap[ncap].kind = r->kind;
		cap[ncap].thread = r->thread;
		snprintf(cap[ncap].text, sizeof(cap[ncap].text), "%s", r->text);
	}
	ncap++;
}

static void setup(void)
{
	fa_signalling_reset();
	fa_signalling_set_report_fn(capture, NULL);
	ncap = 0;
}

static void setup_unprimed(void)
{
	setup();
	fa_signalling_reset_unprimed();
}

/* "this file:line" as the validator prints it */
static const char *site(int line)
{
	static char buf[8][256];
	static unsigned int i;
	char *b = buf[i++ & 7];

	snprintf(b, sizeof(buf[0]), "%s:%d", __FILE__, line);
	return b;
}

/* The only captured report of @kind (asserts there is exactly one). */
static const char *only_report(enum fa_signalling_report_kind kind)
{
	unsigned int i, n = 0, at = 0;

	for (i = 0; i < ncap && i < MAX_CAPTURED; i++)
		if (cap[i].kind == kind) {
			n++;
			at = i;
		}
	cr_assert_eq(n, 1, "expected exactly one report of kind %d, got %u (of %u)", kind, n, ncap);
	return cap[at].text;
}

static unsigned int count_kind(enum fa_signalling_report_kind kind)
{
	unsigned int i, n = 0;

	for (i = 0; i < ncap && i < MAX_CAPTURED; i++)
		n += cap[i].kind == kind;
	return n;
}

static void assert_has(const char *text, const char *needle)
{
	cr_assert(strstr(text, needle) != NULL, "report lacks \"%s\":\n%s", needle, text);
}

static void assert_no_reports(void)
{
	cr_assert_eq(ncap, 0, "unexpected report:\n%s", ncap ? cap[0].text : "");
	cr_assert_eq(fa_signalling_report_count(), 0);
}

/* The "Chain exists of:" line of a cycle report. */
static const char *chain_line(const char *text)
{
	static char line[1024];
	const char *p = strstr(text, "Chain exists of:\n  ");
	size_t n;

	cr_assert(p != NULL, "no chain in:\n%s", text);
	p += strlen("Chain exists of:\n  ");
	n = strcspn(p, "\n");
	cr_assert_lt(n, sizeof(line));
	memcpy(line, p, n);
	line[n] = '\0';
	return line;
}

static void run_thread(void *(*fn)(void *), void *arg)
{
	pthread_t th;

	cr_assert_eq(pthread_create(&th, NULL, fn, arg), 0);
	cr_assert_eq(pthread_join(th, NULL), 0);
}

/* ------------------------------------------------------ the driver model */

FA_SIGNALLING_DEFINE_STATIC_CLASS(lock_b);
FA_SIGNALLING_DEFINE_STATIC_CLASS(lock_c);
FA_SIGNALLING_DEFINE_STATIC_CLASS(vm_map_lock);
FA_SIGNALLING_DEFINE_STATIC_CLASS(vm_ref_lock);
FA_SIGNALLING_DEFINE_STATIC_CLASS(bo_resv);
FA_SIGNALLING_DEFINE_STATIC_CLASS(drain_lock);

static struct fa_signalling_map map_b, map_c, map_map, map_ref, map_resv, map_drain;

/* Lines of the annotations each scenario step uses (filled as they run). */
static struct {
	int begin, b_in_section, alloc, b, wait, c_under_b, c, reclaim, notifier;
	int resv, fault, fault_resv, end;
} L;

static void bind_maps(void)
{
	fa_signalling_map_init(&map_b, &lock_b);
	fa_signalling_map_init(&map_c, &lock_c);
	fa_signalling_map_init(&map_map, &vm_map_lock);
	fa_signalling_map_init(&map_ref, &vm_ref_lock);
	fa_signalling_map_init(&map_resv, &bo_resv);
	fa_signalling_map_init(&map_drain, &drain_lock);
}

static void std_setup(void)
{
	setup();
	bind_maps();
}

static void std_setup_unprimed(void)
{
	setup_unprimed();
	bind_maps();
}

/* run stage: section; alloc(gfp) */
static void *t_section_alloc(void *arg)
{
	fa_gfp_t gfp = *(const fa_gfp_t *)arg;
	fa_signalling_cookie_t c = fa_signalling_begin(); L.begin = __LINE__;

	fa_signalling_might_alloc(gfp); L.alloc = __LINE__;
	fa_signalling_end(c);
	fa_signalling_assert_none_held();
	return NULL;
}

/* run stage: section; lock B */
static void *t_section_lock_b(void *arg)
{
	fa_signalling_cookie_t c = fa_signalling_begin(); L.begin = __LINE__;

	(void)arg;
	fa_signalling_acquire(&map_b); L.b_in_section = __LINE__;
	fa_signalling_release(&map_b);
	fa_signalling_end(c);
	fa_signalling_assert_none_held();
	return NULL;
}

/* lock B; wait for a fence */
static void *t_lock_b_wait(void *arg)
{
	(void)arg;
	fa_signalling_acquire(&map_b); L.b = __LINE__;
	fa_signalling_fence_wait(); L.wait = __LINE__;
	fa_signalling_release(&map_b);
	return NULL;
}

/* lock B; allocate(gfp) */
static void *t_lock_b_alloc(void *arg)
{
	fa_gfp_t gfp = *(const fa_gfp_t *)arg;

	fa_signalling_acquire(&map_b); L.b = __LINE__;
	fa_signalling_might_alloc(gfp); L.alloc = __LINE__;
	fa_signalling_release(&map_b);
	return NULL;
}

/* lock B; lock C */
static void *t_lock_b_c(void *arg)
{
	(void)arg;
	fa_signalling_acquire(&map_b); L.b = __LINE__;
	fa_signalling_acquire(&map_c); L.c_under_b = __LINE__;
	fa_signalling_release(&map_c);
	fa_signalling_release(&map_b);
	return NULL;
}

/* lock C; allocate GFP_KERNEL */
static void *t_lock_c_alloc(void *arg)
{
	(void)arg;
	fa_signalling_acquire(&map_c); L.c = __LINE__;
	fa_signalling_might_alloc(FA_GFP_KERNEL); L.alloc = __LINE__;
	fa_signalling_release(&map_c);
	return NULL;
}

/* a shrinker: reclaim context; wait for a fence */
static void *t_shrinker_wait(void *arg)
{
	(void)arg;
	fa_signalling_reclaim_enter(); L.reclaim = __LINE__;
	fa_signalling_fence_wait(); L.wait = __LINE__;
	fa_signalling_reclaim_leave();
	return NULL;
}

/* an MMU notifier: invalidate callback waits for a fence */
static void *t_notifier_wait(void *arg)
{
	(void)arg;
	fa_signalling_mmu_notifier_enter(); L.notifier = __LINE__;
	fa_signalling_fence_wait(); L.wait = __LINE__;
	fa_signalling_mmu_notifier_leave();
	return NULL;
}

static const fa_gfp_t gfp_kernel = FA_GFP_KERNEL;
static const fa_gfp_t gfp_nofs = FA_GFP_NOFS;
static const fa_gfp_t gfp_nowait = FA_GFP_NOWAIT;

/* --------------------------------------------------- must report: 1 - 5 */

TestSuite(signalling, .init = std_setup);
TestSuite(signalling_mt, .init = std_setup);
TestSuite(signalling_unprimed, .init = std_setup_unprimed);

Test(signalling, s1_kernel_alloc_in_section_reports_rule_and_cycle)
{
	const char *rule, *cyc;

	t_section_alloc((void *)&gfp_kernel);
	rule = only_report(FA_SIGNALLING_REPORT_ALLOC_IN_SECTION);
	assert_has(rule, "reclaiming allocation inside a fence-signalling section");
	assert_has(rule, site(L.alloc));
	assert_has(rule, site(L.begin));
	cyc = only_report(FA_SIGNALLING_REPORT_CYCLE);
	assert_has(cyc, "possible circular locking dependency detected");
	cr_assert_str_eq(chain_line(cyc),
			 "fs_reclaim --> mmu_notifier --> fence_signalling --> fs_reclaim");
	assert_has(cyc, "fs_reclaim -> mmu_notifier: primed (kernel contract)");
	assert_has(cyc, "mmu_notifier -> fence_signalling: primed (kernel contract)");
	assert_has(cyc, "fence_signalling -> fs_reclaim: [new]");
	assert_has(cyc, site(L.alloc));
	assert_has(cyc, site(L.begin));
	cr_assert_eq(ncap, 2);
}

/* Without priming: a shrinker that waited on a fence earlier is enough. */
Test(signalling_unprimed, s1_after_a_shrinker_waited)
{
	const char *cyc;
	int wait_line;

	t_shrinker_wait(NULL);
	wait_line = L.wait;
	cr_assert_eq(ncap, 0);
	t_section_alloc((void *)&gfp_kernel);
	cyc = only_report(FA_SIGNALLING_REPORT_CYCLE);
	cr_assert_str_eq(chain_line(cyc), "fs_reclaim --> fence_signalling --> fs_reclaim");
	assert_has(cyc, site(wait_line));
	assert_has(cyc, site(L.reclaim));
	assert_has(cyc, site(L.alloc));
	assert_has(cyc, site(L.begin));
	cr_assert_eq(count_kind(FA_SIGNALLING_REPORT_ALLOC_IN_SECTION), 1);
}

/* Scenario 2 (two threads), unprimed, both orders, shrinker and notifier. */
static void s2_case(int alloc_first, void *(*waiter)(void *), const char *chain)
{
	const char *cyc;

	if (alloc_first) {
		run_thread(t_section_alloc, (void *)&gfp_kernel);
		run_thread(waiter, NULL);
	} else {
		run_thread(waiter, NULL);
		run_thread(t_section_alloc, (void *)&gfp_kernel);
	}
	cyc = only_report(FA_SIGNALLING_REPORT_CYCLE);
	cr_assert_str_eq(chain_line(cyc), chain);
	assert_has(cyc, site(L.wait));
	assert_has(cyc, site(L.alloc));
	assert_has(cyc, site(L.begin));
	/* the main thread is T1; the two sides ran as T2 and T3 */
	assert_has(cyc, "T2 took");
	assert_has(cyc, "T3 took");
}

Test(signalling_unprimed, s2_alloc_then_shrinker)
{
	s2_case(1, t_shrinker_wait, "fence_signalling --> fs_reclaim --> fence_signalling");
	assert_has(only_report(FA_SIGNALLING_REPORT_CYCLE), site(L.reclaim));
}

Test(signalling_unprimed, s2_shrinker_then_alloc)
{
	s2_case(0, t_shrinker_wait, "fs_reclaim --> fence_signalling --> fs_reclaim");
}

Test(signalling_unprimed, s2_alloc_then_notifier)
{
	/* the notifier map is taken under fs_reclaim, as fs_reclaim_acquire() does */
	s2_case(1, t_notifier_wait,
		"fence_signalling --> fs_reclaim --> mmu_notifier --> fence_signalling");
	assert_has(only_report(FA_SIGNALLING_REPORT_CYCLE), site(L.notifier));
}

Test(signalling_unprimed, s2_notifier_then_alloc)
{
	s2_case(0, t_notifier_wait,
		"mmu_notifier --> fence_signalling --> fs_reclaim --> mmu_notifier");
	assert_has(only_report(FA_SIGNALLING_REPORT_CYCLE), site(L.notifier));
}

/* Scenario 3: section -> B; B -> fence wait. */
Test(signalling, s3_section_lock_then_lock_wait)
{
	const char *cyc;

	run_thread(t_section_lock_b, NULL);
	run_thread(t_lock_b_wait, NULL);
	cyc = only_report(FA_SIGNALLING_REPORT_CYCLE);
	cr_assert_str_eq(chain_line(cyc), "fence_signalling --> lock_b --> fence_signalling");
	assert_has(cyc, "held across a fence wait");
	assert_has(cyc, site(L.b_in_section));
	assert_has(cyc, site(L.begin));
	assert_has(cyc, site(L.wait));
	assert_has(cyc, site(L.b));
	assert_has(cyc, "*** DEADLOCK ***");
	cr_assert_eq(ncap, 1);
}

Test(signalling, s3_lock_wait_then_section_lock)
{
	const char *cyc;

	run_thread(t_lock_b_wait, NULL);
	run_thread(t_section_lock_b, NULL);
	cyc = only_report(FA_SIGNALLING_REPORT_CYCLE);
	cr_assert_str_eq(chain_line(cyc), "lock_b --> fence_signalling --> lock_b");
	assert_has(cyc, site(L.b_in_section));
	assert_has(cyc, site(L.begin));
	assert_has(cyc, site(L.wait));
	assert_has(cyc, site(L.b));
	cr_assert_eq(ncap, 1);
}

/* Scenario 4: section -> B; B -> GFP_KERNEL allocation. */
Test(signalling, s4_section_lock_then_lock_alloc)
{
	const char *cyc;

	run_thread(t_section_lock_b, NULL);
	run_thread(t_lock_b_alloc, (void *)&gfp_kernel);
	cyc = only_report(FA_SIGNALLING_REPORT_CYCLE);
	cr_assert_str_eq(chain_line(cyc),
			 "fs_reclaim --> mmu_notifier --> fence_signalling --> lock_b --> fs_reclaim");
	assert_has(cyc, "held across a reclaiming allocation");
	assert_has(cyc, site(L.b_in_section));
	assert_has(cyc, site(L.begin));
	assert_has(cyc, site(L.alloc));
	assert_has(cyc, site(L.b));
	cr_assert_eq(ncap, 1);
}

Test(signalling, s4_lock_alloc_then_section_lock)
{
	const char *cyc;

	run_thread(t_lock_b_alloc, (void *)&gfp_kernel);
	run_thread(t_section_lock_b, NULL);
	cyc = only_report(FA_SIGNALLING_REPORT_CYCLE);
	/* dependencies come from the nearest held lock, as in lockdep */
	cr_assert_str_eq(chain_line(cyc),
			 "lock_b --> fs_reclaim --> mmu_notifier --> fence_signalling --> lock_b");
	assert_has(cyc, site(L.b_in_section));
	assert_has(cyc, site(L.begin));
	assert_has(cyc, site(L.alloc));
	assert_has(cyc, site(L.b));
	cr_assert_eq(ncap, 1);
}

/* Scenario 5: section -> B; B -> C; C -> alloc, in every order of the three. */
static void *(*const s5_steps[3])(void *) = { t_section_lock_b, t_lock_b_c, t_lock_c_alloc };

static void s5_case(unsigned int a, unsigned int b, unsigned int c)
{
	const char *cyc;
	/* fence_signalling is entered only from mmu_notifier (primed contract) */
	const char *needles[] = { "fence_signalling", "lock_b", "lock_c", "mmu_notifier" };
	unsigned int i;

	run_thread(s5_steps[a], NULL);
	run_thread(s5_steps[b], NULL);
	run_thread(s5_steps[c], NULL);
	cyc = only_report(FA_SIGNALLING_REPORT_CYCLE);
	assert_has(cyc, "transitive");
	for (i = 0; i < FA_ARRAY_SIZE(needles); i++)
		assert_has(chain_line(cyc), needles[i]);
	assert_has(cyc, "fence_signalling -> lock_b:");
	assert_has(cyc, "lock_b -> lock_c:");
	assert_has(cyc, "lock_c -> ");
	assert_has(cyc, site(L.begin));
	assert_has(cyc, site(L.b_in_section));
	assert_has(cyc, site(L.b));
	assert_has(cyc, site(L.c_under_b));
	assert_has(cyc, site(L.c));
	assert_has(cyc, site(L.alloc));
	cr_assert_eq(ncap, 1);
}

Test(signalling, s5_transitive_all_orders)
{
	static const unsigned int perm[6][3] = {
		{ 0, 1, 2 }, { 0, 2, 1 }, { 1, 0, 2 }, { 1, 2, 0 }, { 2, 0, 1 }, { 2, 1, 0 },
	};
	unsigned int i;

	for (i = 0; i < 6; i++) {
		std_setup();
		memset(&L, 0, sizeof(L));
		s5_case(perm[i][0], perm[i][1], perm[i][2]);
	}
}

/* GFP_NOFS in a section: no fs_reclaim, still caught through mmu_notifier. */
Test(signalling, nofs_alloc_in_section_caught_via_notifier)
{
	const char *cyc, *rule;

	t_section_alloc((void *)&gfp_nofs);
	cyc = only_report(FA_SIGNALLING_REPORT_CYCLE);
	cr_assert_str_eq(chain_line(cyc), "mmu_notifier --> fence_signalling --> mmu_notifier");
	assert_has(cyc, site(L.alloc));
	assert_has(cyc, site(L.begin));
	cr_assert(strstr(cyc, "fs_reclaim") == NULL, "%s", cyc);
	rule = only_report(FA_SIGNALLING_REPORT_ALLOC_IN_SECTION);
	assert_has(rule, "GFP_NOFS/NOIO-like");
}

Test(signalling, nofs_alloc_under_lock_taken_in_section)
{
	const char *cyc;

	run_thread(t_section_lock_b, NULL);
	run_thread(t_lock_b_alloc, (void *)&gfp_nofs);
	cyc = only_report(FA_SIGNALLING_REPORT_CYCLE);
	cr_assert_str_eq(chain_line(cyc), "mmu_notifier --> fence_signalling --> lock_b --> mmu_notifier");
	assert_has(cyc, site(L.alloc));
	assert_has(cyc, site(L.b_in_section));
}

/* Seed 004: copy_from_user under a reservation the fault handler takes. */
static void *t_ioctl_copy_under_resv(void *arg)
{
	(void)arg;
	fa_signalling_acquire(&map_resv); L.resv = __LINE__;
	fa_signalling_might_fault(); L.fault = __LINE__;
	fa_signalling_release(&map_resv);
	return NULL;
}

static void *t_fault_handler_blocking(void *arg)
{
	(void)arg;
	fa_signalling_fault_enter();
	fa_signalling_acquire(&map_resv); L.fault_resv = __LINE__;
	fa_signalling_release(&map_resv);
	fa_signalling_fault_leave();
	return NULL;
}

Test(signalling, might_fault_under_resv_vs_fault_handler)
{
	unsigned int order;

	for (order = 0; order < 2; order++) {
		const char *cyc;

		std_setup();
		run_thread(order ? t_fault_handler_blocking : t_ioctl_copy_under_resv, NULL);
		run_thread(order ? t_ioctl_copy_under_resv : t_fault_handler_blocking, NULL);
		cyc = only_report(FA_SIGNALLING_REPORT_CYCLE);
		assert_has(chain_line(cyc), "mmap_lock");
		assert_has(chain_line(cyc), "bo_resv");
		assert_has(cyc, "lock order inversion");
		assert_has(cyc, site(L.resv));
		assert_has(cyc, site(L.fault));
		assert_has(cyc, site(L.fault_resv));
		cr_assert_eq(ncap, 1);
	}
}

/* ---------------------------------------------------- must not report */

/* nouveau: ref allocates under the ref lock, map/unmap only take the map
 * lock in the section, unref runs in the cleanup worker, the notifier takes
 * the map lock. */
static void *t_nv_ref(void *arg)
{
	(void)arg;
	fa_signalling_acquire(&map_ref);
	fa_signalling_might_alloc(FA_GFP_KERNEL);
	fa_signalling_might_alloc(FA_GFP_KERNEL);
	fa_signalling_release(&map_ref);
	return NULL;
}

static void *t_nv_map_unmap(void *arg)
{
	fa_signalling_cookie_t c = fa_signalling_begin();

	(void)arg;
	fa_signalling_acquire(&map_map);
	fa_signalling_might_alloc(FA_GFP_NOWAIT); /* draws from the reservation */
	fa_signalling_release(&map_map);
	fa_signalling_acquire(&map_map);
	fa_signalling_release(&map_map);
	fa_signalling_end(c);
	return NULL;
}

static void *t_nv_unref_cleanup(void *arg)
{
	(void)arg;
	fa_signalling_fence_wait();
	fa_signalling_acquire(&map_ref);
	fa_signalling_acquire(&map_map); /* clear the PDE */
	fa_signalling_release(&map_map);
	fa_signalling_release(&map_ref);
	return NULL;
}

static void *t_nv_invalidate(void *arg)
{
	(void)arg;
	fa_signalling_mmu_notifier_enter();
	fa_signalling_acquire(&map_map);
	fa_signalling_release(&map_map);
	fa_signalling_mmu_notifier_leave();
	return NULL;
}

static void *t_nv_unref_in_section(void *arg)
{
	fa_signalling_cookie_t c = fa_signalling_begin();

	(void)arg;
	fa_signalling_acquire(&map_ref); L.b_in_section = __LINE__;
	fa_signalling_release(&map_ref);
	fa_signalling_end(c);
	return NULL;
}

Test(signalling_mt, nouveau_discipline_is_clean_in_any_order)
{
	static void *(*const steps[4])(void *) = { t_nv_ref, t_nv_map_unmap, t_nv_unref_cleanup,
						   t_nv_invalidate };
	unsigned int rot, i;

	for (rot = 0; rot < 4; rot++) {
		std_setup();
		for (i = 0; i < 4; i++)
			run_thread(steps[(rot + i) & 3], NULL);
		for (i = 0; i < 4; i++)
			run_thread(steps[(rot + 4 - i) & 3], NULL);
		assert_no_reports();
	}
}

Test(signalling_mt, nouveau_unref_inside_section_reports)
{
	const char *cyc;

	run_thread(t_nv_ref, NULL);
	run_thread(t_nv_map_unmap, NULL);
	run_thread(t_nv_unref_in_section, NULL);
	cyc = only_report(FA_SIGNALLING_REPORT_CYCLE);
	assert_has(chain_line(cyc), "vm_ref_lock");
	assert_has(chain_line(cyc), "fence_signalling");
	assert_has(cyc, site(L.b_in_section));
}

/* Danilo's stages: allocate at submit, draw at run, free at cleanup. */
Test(signalling, preallocate_then_run_is_clean)
{
	fa_signalling_cookie_t c;
	int i;

	for (i = 0; i < 3; i++) {
		/* submit */
		fa_signalling_acquire(&map_ref);
		fa_signalling_might_alloc(FA_GFP_KERNEL);
		fa_signalling_release(&map_ref);
		/* run */
		c = fa_signalling_begin();
		fa_signalling_acquire(&map_map);
		fa_signalling_might_alloc(FA_GFP_NOWAIT);
		fa_signalling_release(&map_map);
		fa_signalling_end(c);
		/* cleanup */
		fa_signalling_fence_wait();
		fa_signalling_acquire(&map_ref);
		fa_signalling_might_alloc(FA_GFP_KERNEL);
		fa_signalling_release(&map_ref);
	}
	fa_signalling_assert_none_held();
	assert_no_reports();
}

/* Seed 003: lock, splice, unlock, run the callbacks unlocked, repeat. */
static int drain_callbacks_locked;

static void *t_run_push(void *arg)
{
	fa_signalling_cookie_t c = fa_signalling_begin(); L.begin = __LINE__;

	(void)arg;
	fa_signalling_acquire(&map_drain); L.b_in_section = __LINE__;
	fa_signalling_release(&map_drain);
	fa_signalling_end(c);
	return NULL;
}

static void drain_callback(void)
{
	fa_signalling_fence_wait(); L.wait = __LINE__;
	fa_signalling_might_alloc(FA_GFP_KERNEL);
	fa_signalling_acquire(&map_drain); /* re-queue */
	fa_signalling_release(&map_drain);
}

static void *t_cleanup_drain(void *arg)
{
	int round;

	(void)arg;
	for (round = 0; round < 3; round++) {
		fa_signalling_acquire(&map_drain); L.b = __LINE__;
		/* splice the list */
		if (drain_callbacks_locked) {
			/* wrong: wait for the TLB-invalidate fence with the list locked */
			fa_signalling_fence_wait(); L.wait = __LINE__;
			fa_signalling_release(&map_drain);
			continue;
		}
		fa_signalling_release(&map_drain);
		drain_callback();
	}
	return NULL;
}

Test(signalling_mt, splice_unlock_callback_drain_is_clean)
{
	run_thread(t_run_push, NULL);
	run_thread(t_cleanup_drain, NULL);
	run_thread(t_run_push, NULL);
	assert_no_reports();
}

Test(signalling_mt, callbacks_under_the_list_lock_report)
{
	const char *cyc;

	drain_callbacks_locked = 1;
	run_thread(t_run_push, NULL);
	run_thread(t_cleanup_drain, NULL);
	cyc = only_report(FA_SIGNALLING_REPORT_CYCLE);
	cr_assert_str_eq(chain_line(cyc), "fence_signalling --> drain_lock --> fence_signalling");
	assert_has(cyc, site(L.wait));
	assert_has(cyc, site(L.b));
	assert_has(cyc, site(L.b_in_section));
	assert_has(cyc, site(L.begin));
}

/*
 * Seed 003 itself: HMM's ->release callbacks must wait for in-flight device
 * operations to drain, and an in-flight operation (a migration) triggers an
 * invalidation that takes mirrors_sem. The drain is an event: an operation
 * holds it from start to finish (entered like a section: it cannot block on
 * entry), and a waiter "acquires" it (might_lock).
 */
FA_SIGNALLING_DEFINE_STATIC_CLASS(hmm_mirrors_sem);
FA_SIGNALLING_DEFINE_STATIC_CLASS(hmm_device_op);

static struct fa_signalling_map map_mirrors, map_op;
static int hmm_release_unlocked;

static void *t_hmm_device_op(void *arg)
{
	(void)arg;
	fa_signalling_trylock(&map_op); L.begin = __LINE__;
	/* migrate_vma() -> unmap -> hmm_invalidate_range() */
	fa_signalling_acquire_shared(&map_mirrors); L.b_in_section = __LINE__;
	fa_signalling_release(&map_mirrors);
	fa_signalling_release(&map_op);
	return NULL;
}

static void hmm_release_callback(void)
{
	/* wait until in-flight operations are done */
	fa_signalling_might_lock(&map_op); L.wait = __LINE__;
}

static void *t_hmm_release(void *arg)
{
	int round;

	(void)arg;
	for (round = 0; round < 2; round++) {
		fa_signalling_acquire(&map_mirrors); L.b = __LINE__;
		if (!hmm_release_unlocked) {
			hmm_release_callback(); /* callbacks with mirrors_sem held */
			fa_signalling_release(&map_mirrors);
			continue;
		}
		/* move the list to a local one, drop the lock, call back, repeat */
		fa_signalling_release(&map_mirrors);
		hmm_release_callback();
	}
	return NULL;
}

static void hmm_bind(void)
{
	fa_signalling_map_init(&map_mirrors, &hmm_mirrors_sem);
	fa_signalling_map_init(&map_op, &hmm_device_op);
}

Test(signalling_mt, seed003_release_callbacks_under_mirrors_sem_report)
{
	unsigned int order;

	for (order = 0; order < 2; order++) {
		const char *cyc;

		std_setup();
		hmm_bind();
		run_thread(order ? t_hmm_release : t_hmm_device_op, NULL);
		run_thread(order ? t_hmm_device_op : t_hmm_release, NULL);
		cyc = only_report(FA_SIGNALLING_REPORT_CYCLE);
		assert_has(chain_line(cyc), "hmm_mirrors_sem");
		assert_has(chain_line(cyc), "hmm_device_op");
		assert_has(cyc, site(L.wait));
		assert_has(cyc, site(L.b));
		assert_has(cyc, site(L.begin));
		assert_has(cyc, site(L.b_in_section));
		cr_assert_eq(ncap, 1);
	}
}

Test(signalling_mt, seed003_splice_unlock_release_is_clean)
{
	hmm_bind();
	hmm_release_unlocked = 1;
	run_thread(t_hmm_device_op, NULL);
	run_thread(t_hmm_release, NULL);
	run_thread(t_hmm_device_op, NULL);
	assert_no_reports();
}

/* Seed 004: trylock, drop mmap_lock, block on the reservation, retry. */
static void *t_fault_handler_trylock_retry(void *arg)
{
	int attempt, busy = 1;

	(void)arg;
	for (attempt = 0; attempt < 2; attempt++) {
		fa_signalling_fault_enter();
		if (busy) {
			/* trylock failed: nothing to annotate; drop mmap_lock */
			fa_signalling_fault_leave();
			fa_signalling_acquire(&map_resv); /* wait until unreserved */
			fa_signalling_release(&map_resv);
			busy = 0;
			continue; /* VM_FAULT_RETRY */
		}
		fa_signalling_trylock(&map_resv);
		fa_signalling_might_alloc(FA_GFP_KERNEL);
		fa_signalling_release(&map_resv);
		fa_signalling_fault_leave();
	}
	return NULL;
}

Test(signalling_mt, trylock_drop_block_retry_is_clean)
{
	run_thread(t_ioctl_copy_under_resv, NULL);
	run_thread(t_fault_handler_trylock_retry, NULL);
	run_thread(t_ioctl_copy_under_resv, NULL);
	assert_no_reports();
}

Test(signalling_mt, nowait_alloc_in_section_is_clean)
{
	run_thread(t_section_alloc, (void *)&gfp_nowait);
	run_thread(t_section_lock_b, NULL);
	run_thread(t_lock_b_alloc, (void *)&gfp_nowait);
	run_thread(t_section_alloc, (void *)&gfp_nowait);
	assert_no_reports();
}

Test(signalling, nested_sections_and_lock_around_section_are_clean)
{
	fa_signalling_cookie_t outer, inner;

	outer = fa_signalling_begin();
	inner = fa_signalling_begin();
	fa_signalling_acquire(&map_map);
	fa_signalling_release(&map_map);
	fa_signalling_end(inner);
	fa_signalling_end(outer);
	/* a lock held around a section gains no dependency on it (read-trylock entry) */
	fa_signalling_acquire(&map_map);
	outer = fa_signalling_begin();
	fa_signalling_end(outer);
	fa_signalling_release(&map_map);
	fa_signalling_assert_none_held();
	assert_no_reports();
}

Test(signalling, alloc_inside_reclaim_context_records_nothing)
{
	fa_signalling_cookie_t c;

	/* a shrinker allocating does not recurse into reclaim (PF_MEMALLOC) */
	fa_signalling_reclaim_enter();
	fa_signalling_acquire(&map_b);
	fa_signalling_might_alloc(FA_GFP_KERNEL);
	fa_signalling_release(&map_b);
	fa_signalling_reclaim_leave();
	c = fa_signalling_begin();
	fa_signalling_acquire(&map_c);
	fa_signalling_release(&map_c);
	fa_signalling_end(c);
	assert_no_reports();
}

/* ww_mutex-style: many reservations of one class under an acquire context. */
FA_SIGNALLING_DEFINE_STATIC_CLASS(ww_acquire_ctx);
FA_SIGNALLING_DEFINE_STATIC_CLASS(ww_resv);

Test(signalling, nest_lock_many_of_one_class)
{
	struct fa_signalling_map ctx, r1, r2;
	fa_signalling_cookie_t c;
	const char *cyc;

	fa_signalling_map_init(&ctx, &ww_acquire_ctx);
	fa_signalling_map_init(&r1, &ww_resv);
	fa_signalling_map_init(&r2, &ww_resv);
	fa_signalling_acquire(&ctx);
	fa_signalling_acquire_nest_lock(&r1, &ctx); int first = __LINE__;
	fa_signalling_acquire_nest_lock(&r2, &ctx);
	fa_signalling_might_alloc(FA_GFP_KERNEL); int alloc = __LINE__; /* not in a section */
	fa_signalling_release(&r1);
	fa_signalling_release(&r2);
	fa_signalling_release(&ctx);
	assert_no_reports();

	/* the same two without the context are recursion */
	fa_signalling_acquire(&r1);
	fa_signalling_acquire(&r2); int plain = __LINE__;
	assert_has(only_report(FA_SIGNALLING_REPORT_RECURSION), site(plain));
	fa_signalling_release(&r2);
	fa_signalling_release(&r1);

	/* a nest lock that is not held */
	fa_signalling_acquire_nest_lock(&r2, &ctx); int orphan = __LINE__;
	assert_has(only_report(FA_SIGNALLING_REPORT_NOT_HELD), site(orphan));
	assert_has(only_report(FA_SIGNALLING_REPORT_NOT_HELD), "ww_acquire_ctx");
	fa_signalling_release(&r2);

	/* the class is still ordered against the others: reservations were held
	 * across a reclaiming allocation above, so one in a section is a cycle */
	c = fa_signalling_begin();
	fa_signalling_acquire(&ctx); int ctx_in_section = __LINE__;
	fa_signalling_acquire_nest_lock(&r1, &ctx); int in_section = __LINE__;
	fa_signalling_release(&r1);
	fa_signalling_release(&ctx);
	fa_signalling_end(c);
	/* one cycle, found when the context is taken in the section: as in
	 * lockdep, only the nearest held lock (the reservation) gained a
	 * dependency on fs_reclaim, and the context reaches it through ww_resv */
	cr_assert_eq(count_kind(FA_SIGNALLING_REPORT_CYCLE), 1);
	cyc = only_report(FA_SIGNALLING_REPORT_CYCLE);
	cr_assert_str_eq(chain_line(cyc), "ww_acquire_ctx --> ww_resv --> fs_reclaim --> "
					  "mmu_notifier --> fence_signalling --> ww_acquire_ctx");
	assert_has(cyc, site(first));
	assert_has(cyc, site(alloc));
	assert_has(cyc, site(ctx_in_section));
	(void)in_section;
	fa_signalling_assert_none_held();
}

/* ------------------------------------------------------ direct rules */

Test(signalling, fence_wait_in_own_section)
{
	const char *r;
	fa_signalling_cookie_t c = fa_signalling_begin(); int begin = __LINE__;

	fa_signalling_fence_wait(); int wait = __LINE__;
	fa_signalling_end(c);
	r = only_report(FA_SIGNALLING_REPORT_WAIT_IN_SECTION);
	assert_has(r, "fence wait inside a fence-signalling section");
	assert_has(r, site(wait));
	assert_has(r, site(begin));
	cr_assert_eq(ncap, 1);
}

Test(signalling, recursion_nested_and_shared)
{
	const char *r;

	fa_signalling_acquire(&map_b); int first = __LINE__;
	fa_signalling_acquire_nested(&map_b, 1);
	fa_signalling_release(&map_b);
	cr_assert_eq(ncap, 0);
	fa_signalling_acquire(&map_b); int second = __LINE__;
	r = only_report(FA_SIGNALLING_REPORT_RECURSION);
	assert_has(r, "possible recursive locking detected");
	assert_has(r, site(first));
	assert_has(r, site(second));
	fa_signalling_release(&map_b);
	fa_signalling_release(&map_b);
	/* recursive readers may recurse on any reader of their class */
	fa_signalling_acquire_shared(&map_c);
	fa_signalling_acquire_shared_recursive(&map_c);
	fa_signalling_acquire_shared_recursive(&map_c);
	fa_signalling_release(&map_c);
	fa_signalling_release(&map_c);
	fa_signalling_release(&map_c);
	fa_signalling_assert_none_held();
	cr_assert_eq(ncap, 1);
	/* a non-recursive reader queues behind a waiting writer: recursion */
	fa_signalling_acquire_shared(&map_c); int rd1 = __LINE__;
	fa_signalling_acquire_shared(&map_c); int rd2 = __LINE__;
	cr_assert_eq(ncap, 2);
	assert_has(cap[1].text, "possible recursive locking detected");
	assert_has(cap[1].text, site(rd1));
	assert_has(cap[1].text, site(rd2));
	fa_signalling_release(&map_c);
	fa_signalling_release(&map_c);
	fa_signalling_assert_none_held();
	cr_assert_eq(ncap, 2);
}

Test(signalling, unbalanced_release_end_and_leave)
{
	fa_signalling_cookie_t outer, inner;

	fa_signalling_release(&map_b); int rel = __LINE__;
	assert_has(only_report(FA_SIGNALLING_REPORT_UNBALANCED), site(rel));
	assert_has(cap[0].text, "bad unlock balance detected");
	assert_has(cap[0].text, "lock_b");

	fa_signalling_end(0u); int end = __LINE__;
	cr_assert_eq(count_kind(FA_SIGNALLING_REPORT_UNBALANCED), 2);
	assert_has(cap[1].text, site(end));
	assert_has(cap[1].text, "not in");

	outer = fa_signalling_begin();
	inner = fa_signalling_begin();
	fa_signalling_end(outer); int wrong = __LINE__;
	cr_assert_eq(count_kind(FA_SIGNALLING_REPORT_UNBALANCED), 3);
	assert_has(cap[2].text, "out of order");
	assert_has(cap[2].text, site(wrong));
	fa_signalling_end(inner); int swapped = __LINE__; /* swapped: out of order too */
	cr_assert_eq(count_kind(FA_SIGNALLING_REPORT_UNBALANCED), 4);
	assert_has(cap[3].text, site(swapped));

	fa_signalling_reclaim_leave(); int leave = __LINE__;
	cr_assert_eq(count_kind(FA_SIGNALLING_REPORT_UNBALANCED), 5);
	assert_has(cap[4].text, site(leave));
	assert_has(cap[4].text, "fs_reclaim");
	fa_signalling_assert_none_held();
	cr_assert_eq(ncap, 5);
}

Test(signalling, held_at_check)
{
	const char *r;

	fa_signalling_acquire(&map_b); int b = __LINE__;
	fa_signalling_assert_none_held(); int check = __LINE__;
	r = only_report(FA_SIGNALLING_REPORT_HELD);
	assert_has(r, site(b));
	assert_has(r, site(check));
	assert_has(r, "lock_b");
	fa_signalling_release(&map_b);
	fa_signalling_assert_none_held();
	cr_assert_eq(ncap, 1);
}

static int exit_lock_line;

static void *t_exit_holding(void *arg)
{
	fa_signalling_cookie_t c;

	(void)arg;
	fa_signalling_acquire(&map_c); exit_lock_line = __LINE__;
	c = fa_signalling_begin();
	(void)c;
	return NULL;
}

Test(signalling_mt, held_at_thread_exit)
{
	const char *r;

	run_thread(t_exit_holding, NULL);
	r = only_report(FA_SIGNALLING_REPORT_HELD);
	assert_has(r, "thread exit");
	assert_has(r, site(exit_lock_line));
	assert_has(r, "lock_c");
	assert_has(r, "fence_signalling");
}

Test(signalling, assert_held)
{
	fa_signalling_acquire(&map_b);
	fa_signalling_assert_held(&map_b);
	fa_signalling_release(&map_b);
	cr_assert_eq(ncap, 0);
	fa_signalling_assert_held(&map_b); int line = __LINE__;
	assert_has(only_report(FA_SIGNALLING_REPORT_NOT_HELD), site(line));
}

Test(signalling, uninitialised_map_warns_and_is_ignored)
{
	struct fa_signalling_map blank;

	memset(&blank, 0, sizeof(blank));
	FA_EXPECT_WARN(fa_signalling_acquire(&blank));
	FA_EXPECT_WARN(fa_signalling_release(&blank));
	FA_EXPECT_WARN(fa_signalling_acquire_nested(&map_b, FA_SIGNALLING_MAX_SUBCLASSES));
	fa_signalling_assert_none_held();
	cr_assert_eq(ncap, 0);
}

/* ------------------------------------------------- dedup, reset, limits */

Test(signalling, each_cycle_reported_once_later_bugs_still_reported)
{
	int i;

	for (i = 0; i < 50; i++) {
		t_section_lock_b(NULL);
		t_lock_b_wait(NULL);
	}
	cr_assert_eq(count_kind(FA_SIGNALLING_REPORT_CYCLE), 1);
	/* an independent bug later is still reported */
	t_lock_c_alloc(NULL);
	{
		fa_signalling_cookie_t c = fa_signalling_begin();

		fa_signalling_acquire(&map_c);
		fa_signalling_release(&map_c);
		fa_signalling_end(c);
	}
	cr_assert_eq(count_kind(FA_SIGNALLING_REPORT_CYCLE), 2);
	assert_has(chain_line(cap[1].text), "lock_c");
	cr_assert_eq(fa_signalling_report_count(), 2);
}

Test(signalling, reset_forgets_and_reports_again)
{
	t_section_lock_b(NULL);
	t_lock_b_wait(NULL);
	cr_assert_eq(ncap, 1);
	cr_assert_eq(fa_signalling_report_count(), 1);
	fa_signalling_reset();
	cr_assert_eq(fa_signalling_report_count(), 0);
	t_lock_b_wait(NULL);
	cr_assert_eq(ncap, 1);
	t_section_lock_b(NULL);
	cr_assert_eq(ncap, 2);
}

static struct fa_signalling_class many[FA_SIGNALLING_MAX_CLASSES + 8];
static struct fa_signalling_map many_map[FA_SIGNALLING_MAX_CLASSES + 8];
static char many_name[FA_SIGNALLING_MAX_CLASSES + 8][16];

static void many_init(unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		snprintf(many_name[i], sizeof(many_name[i]), "k%u", i);
		memset(&many[i], 0, sizeof(many[i]));
		many[i].name = many_name[i];
		fa_signalling_map_init(&many_map[i], &many[i]);
	}
}

Test(signalling, class_table_full_reports_once_and_disables)
{
	unsigned int i, n = FA_SIGNALLING_MAX_CLASSES + 4;

	many_init(n);
	for (i = 0; i < n; i++) {
		fa_signalling_acquire(&many_map[i]);
		fa_signalling_release(&many_map[i]);
	}
	assert_has(only_report(FA_SIGNALLING_REPORT_TABLE_FULL), "FA_SIGNALLING_MAX_CLASSES too low");
	cr_assert_eq(ncap, 1);
	/* switched off: even a blatant bug goes unreported, nothing crashes */
	t_section_lock_b(NULL);
	t_lock_b_wait(NULL);
	fa_signalling_release(&map_b);
	cr_assert_eq(ncap, 1);
	/* reset re-enables */
	fa_signalling_reset();
	t_section_lock_b(NULL);
	t_lock_b_wait(NULL);
	cr_assert_eq(count_kind(FA_SIGNALLING_REPORT_CYCLE), 1);
}

Test(signalling, held_stack_full_reports_once_and_disables)
{
	unsigned int i;

	many_init(FA_SIGNALLING_MAX_HELD + 2);
	for (i = 0; i < FA_SIGNALLING_MAX_HELD + 2; i++)
		fa_signalling_acquire(&many_map[i]);
	for (i = FA_SIGNALLING_MAX_HELD + 2; i-- > 0;)
		fa_signalling_release(&many_map[i]);
	assert_has(only_report(FA_SIGNALLING_REPORT_TABLE_FULL), "FA_SIGNALLING_MAX_HELD too low");
	cr_assert_eq(ncap, 1);
}

/* Overflowing the held stack through sections and contexts: one report, and
 * a clean state after the reset (unprimed, so nothing here closes a cycle). */
Test(signalling_unprimed, held_stack_full_through_sections_and_contexts_reports_once)
{
	fa_signalling_cookie_t outer, inner;
	unsigned int i, round, n = FA_SIGNALLING_MAX_HELD - 3;

	many_init(n);
	for (round = 0; round < 2; round++) {
		for (i = 0; i < n; i++)
			fa_signalling_acquire(&many_map[i]);
		outer = fa_signalling_begin();          /* entry n */
		fa_signalling_reclaim_enter();          /* n + 1 */
		inner = fa_signalling_begin();          /* nested: no entry */
		fa_signalling_mmu_notifier_enter();     /* n + 2: the last one */
		fa_signalling_fault_enter();            /* overflow */
		fa_signalling_mmu_notifier_enter();     /* past it: switched off */
		fa_signalling_fault_leave();
		fa_signalling_mmu_notifier_leave();
		fa_signalling_mmu_notifier_leave();
		fa_signalling_end(inner);
		fa_signalling_reclaim_leave();
		fa_signalling_end(outer);
		for (i = n; i-- > 0;)
			fa_signalling_release(&many_map[i]);
		fa_signalling_assert_none_held();
		cr_assert_eq(ncap, round + 1, "one report per overflow, got %u", ncap);
		cr_assert_eq(cap[round].kind, FA_SIGNALLING_REPORT_TABLE_FULL);
		assert_has(cap[round].text, "FA_SIGNALLING_MAX_HELD too low");
		fa_signalling_reset_unprimed();
		/* the reset leaves nothing behind: a clean round reports nothing */
		outer = fa_signalling_begin();
		fa_signalling_reclaim_enter();
		fa_signalling_reclaim_leave();
		fa_signalling_end(outer);
		fa_signalling_assert_none_held();
		cr_assert_eq(fa_signalling_report_count(), 0);
		fa_signalling_reset_unprimed();
	}
}

/* The overflow inside an annotation that acquires twice (might_alloc takes
 * fs_reclaim, then touches mmu_notifier): the second step, which here would be
 * recursion on the held notifier, must stay silent once the validator is off. */
Test(signalling_unprimed, held_stack_full_inside_might_alloc_reports_once)
{
	unsigned int i, n = FA_SIGNALLING_MAX_HELD - 1;

	many_init(n);
	for (i = 0; i < n; i++)
		fa_signalling_acquire(&many_map[i]);
	fa_signalling_mmu_notifier_enter();       /* the last entry */
	cr_assert_eq(ncap, 0);
	fa_signalling_might_alloc(FA_GFP_KERNEL); /* fs_reclaim overflows */
	fa_signalling_mmu_notifier_leave();
	for (i = n; i-- > 0;)
		fa_signalling_release(&many_map[i]);
	cr_assert_eq(ncap, 1, "one report, got %u; the second: %s", ncap,
		     ncap > 1 ? cap[1].text : "");
	assert_has(only_report(FA_SIGNALLING_REPORT_TABLE_FULL), "FA_SIGNALLING_MAX_HELD too low");
}

/*
 * The generation tag stored in a class wraps after 65,535 or 65,536 resets;
 * a class numbered that many resets ago must not alias the class numbered
 * first after the last one (same tag, same node number).
 */
FA_SIGNALLING_DEFINE_STATIC_CLASS(wrap_p);
FA_SIGNALLING_DEFINE_STATIC_CLASS(wrap_q);

Test(signalling, reset_wrap_never_aliases_classes)
{
	static const unsigned long periods[] = { 65535UL, 65536UL };
	struct fa_signalling_map p, q;
	unsigned int k;
	unsigned long i;

	fa_signalling_map_init(&p, &wrap_p);
	fa_signalling_map_init(&q, &wrap_q);
	for (k = 0; k < FA_ARRAY_SIZE(periods); k++) {
		memset(wrap_p.node, 0, sizeof(wrap_p.node));
		memset(wrap_q.node, 0, sizeof(wrap_q.node));
		fa_signalling_reset();
		fa_signalling_acquire(&p);          /* first user class: numbered first */
		fa_signalling_release(&p);
		for (i = 0; i < periods[k]; i++)
			fa_signalling_reset();
		fa_signalling_set_report_fn(capture, NULL);
		ncap = 0;
		fa_signalling_acquire(&q);          /* first user class of this generation */
		fa_signalling_acquire(&p);          /* aliased, this would be recursion */
		fa_signalling_release(&p);
		fa_signalling_release(&q);
		cr_assert_eq(ncap, 0, "after %lu resets: %s", periods[k], ncap ? cap[0].text : "");
		/* and they are two classes of the graph: the inversion is a cycle */
		fa_signalling_acquire(&p);
		fa_signalling_acquire(&q);
		fa_signalling_release(&q);
		fa_signalling_release(&p);
		cr_assert_str_eq(chain_line(only_report(FA_SIGNALLING_REPORT_CYCLE)),
				 "wrap_q --> wrap_p --> wrap_q");
		cr_assert_eq(ncap, 1);
	}
}

/* Re-initialising a held map is reported (lockdep: "held lock freed!") and
 * refused, so the held stack and the map keep agreeing. */
Test(signalling, map_init_of_held_map_reports)
{
	const char *r;

	fa_signalling_acquire(&map_b); int taken = __LINE__;
	fa_signalling_map_init(&map_b, &lock_c); int init = __LINE__;
	r = only_report(FA_SIGNALLING_REPORT_HELD);
	assert_has(r, "held lock re-initialised");
	assert_has(r, site(taken));
	assert_has(r, site(init));
	assert_has(r, "lock_c");
	cr_assert_eq(map_b.cls, &lock_b, "the held map keeps its class");
	fa_signalling_release(&map_b);
	fa_signalling_assert_none_held();
	cr_assert_eq(ncap, 1);
	/* not held: binding is fine, and binding again to the same class too */
	fa_signalling_map_init(&map_b, &lock_b);
	fa_signalling_acquire_shared(&map_c);
	fa_signalling_map_init(&map_b, &lock_b);
	fa_signalling_release(&map_c);
	cr_assert_eq(ncap, 1);
}

Test(signalling, edge_table_full_reports_once_and_disables)
{
	unsigned int a, b, n = FA_SIGNALLING_MAX_CLASSES - 8;

	cr_assert_gt(n * (n - 1) / 2, FA_SIGNALLING_MAX_EDGES, "test needs more classes");
	many_init(n);
	for (a = 0; a < n; a++) {
		fa_signalling_acquire(&many_map[a]);
		for (b = a + 1; b < n; b++) {
			fa_signalling_acquire(&many_map[b]);
			fa_signalling_release(&many_map[b]);
		}
		fa_signalling_release(&many_map[a]);
	}
	assert_has(only_report(FA_SIGNALLING_REPORT_TABLE_FULL), "FA_SIGNALLING_MAX_EDGES too low");
	cr_assert_eq(ncap, 1);
}

Test(signalling, report_table_full_reports_once_and_disables)
{
	int i;

	/* distinct violation sites, each remembered so it is reported once */
	for (i = 1; i <= FA_SIGNALLING_MAX_REPORTS + 10; i++)
		fa__signalling_assert_held(&map_b, "site.c", i);
	cr_assert_eq(fa_signalling_report_count(), FA_SIGNALLING_MAX_REPORTS + 1);
	cr_assert_eq(count_kind(FA_SIGNALLING_REPORT_NOT_HELD), MAX_CAPTURED);
	cr_assert_eq(ncap, FA_SIGNALLING_MAX_REPORTS + 1);
	cr_assert_eq(last_kind, FA_SIGNALLING_REPORT_TABLE_FULL);
	/* the same site again is not reported twice, even before the table filled */
	fa_signalling_reset();
	ncap = 0;
	fa__signalling_assert_held(&map_b, "site.c", 1);
	fa__signalling_assert_held(&map_b, "site.c", 1);
	cr_assert_eq(ncap, 1);
}

/* --------------------------------- randomized: against a reference graph */

#define RK 24

struct ref_graph {
	unsigned char edge[RK][RK];
};

static int ref_reaches(const struct ref_graph *g, unsigned int from, unsigned int to)
{
	unsigned int stack[RK], seen[RK] = { 0 }, sp = 0, n, m;

	stack[sp++] = from;
	seen[from] = 1;
	while (sp) {
		n = stack[--sp];
		if (n == to)
			return 1;
		for (m = 0; m < RK; m++)
			if (g->edge[n][m] && !seen[m]) {
				seen[m] = 1;
				stack[sp++] = m;
			}
	}
	return 0;
}

/* Parse "kA --> kB --> ... --> kA" and check every step but the last is a reference edge. */
static void check_chain_against(const struct ref_graph *g, const char *chain)
{
	unsigned int prev = RK, cur, first = RK, steps = 0;
	const char *p = chain;

	while (p && *p) {
		cr_assert_eq(sscanf(p, "k%u", &cur), 1, "bad chain %s", chain);
		cr_assert_lt(cur, RK);
		if (prev != RK) {
			p = strstr(p, " --> ");
			if (!p)
				cr_assert_eq(cur, first, "cycle does not close: %s", chain);
		}
		if (prev != RK && p)
			cr_assert(g->edge[prev][cur], "chain step k%u -> k%u is not a known edge: %s",
				  prev, cur, chain);
		if (first == RK)
			first = cur;
		prev = cur;
		steps++;
		p = p ? strstr(p, " --> ") : NULL;
		if (p)
			p += 5;
	}
	cr_assert_geq(steps, 3, "%s", chain);
}

Test(signalling_unprimed, random_orders_match_reference_graph)
{
	struct fa_rng rng;
	struct ref_graph g;
	unsigned int round, rounds = (unsigned int)fa_test_iters(400), rejected_total = 0;
	unsigned int held[8], depth, i, j, k;

	fa_rng_seed(&rng, fa_test_seed(0x5167a1));
	memset(&g, 0, sizeof(g));
	many_init(RK);
	for (round = 0; round < rounds; round++) {
		unsigned int before = ncap, rejected = 0;
		int inverted = fa_rng_below(&rng, 8) == 0;

		/* a lock sequence: mostly in index order, sometimes inverted */
		depth = 1 + (unsigned int)fa_rng_below(&rng, 4);
		for (i = 0; i < depth; i++) {
			held[i] = (unsigned int)fa_rng_below(&rng, RK);
			for (j = 0; j < i; j++)
				if (held[j] == held[i])
					break;
			if (j < i) {
				i--;
				continue;
			}
		}
		if (!inverted)
			for (i = 1; i < depth; i++)
				for (j = i; j > 0 && held[j - 1] > held[j]; j--) {
					k = held[j];
					held[j] = held[j - 1];
					held[j - 1] = k;
				}
		for (i = 0; i < depth; i++) {
			/* the reference decides the new edge exactly as documented: as
			 * lockdep, from the nearest held lock (none here is a trylock) */
			for (j = i ? i - 1 : 0; j < i; j++) {
				if (g.edge[held[j]][held[i]])
					continue;
				if (ref_reaches(&g, held[i], held[j]))
					rejected++;
				else
					g.edge[held[j]][held[i]] = 1;
			}
			fa_signalling_acquire(&many_map[held[i]]);
		}
		for (i = depth; i-- > 0;)
			fa_signalling_release(&many_map[held[i]]);
		if (!rejected)
			cr_assert_eq(ncap, before, "report without a cycle (round %u):\n%s", round,
				     cap[before < MAX_CAPTURED ? before : 0].text);
		for (i = before; i < ncap && i < MAX_CAPTURED; i++) {
			cr_assert_eq(cap[i].kind, FA_SIGNALLING_REPORT_CYCLE);
			check_chain_against(&g, chain_line(cap[i].text));
		}
		/* reject flags each rejected edge for good, like the validator */
		rejected_total += rejected;
	}
	fa_signalling_assert_none_held();
	cr_assert_eq(ncap > 0, rejected_total > 0, "reports %u, rejected edges %u", ncap,
		     rejected_total);
	cr_assert_gt(rejected_total, 0, "the random trace never inverted an order");
}

/* ------------------------------------------------------ multi-threaded */

#define MT_THREADS 8

static void *t_hammer_known(void *arg)
{
	unsigned int i, n = (unsigned int)(uintptr_t)arg;

	for (i = 0; i < n; i++) {
		fa_signalling_cookie_t c;

		fa_signalling_acquire(&map_ref);
		fa_signalling_might_alloc(FA_GFP_KERNEL);
		fa_signalling_release(&map_ref);
		c = fa_signalling_begin();
		fa_signalling_acquire(&map_map);
		fa_signalling_acquire_nested(&map_map, 1);
		fa_signalling_might_alloc(FA_GFP_NOWAIT);
		fa_signalling_release(&map_map);
		fa_signalling_release(&map_map);
		fa_signalling_end(c);
	}
	fa_signalling_assert_none_held();
	return NULL;
}

Test(signalling_mt, concurrent_clean_traffic_no_reports)
{
	pthread_t th[MT_THREADS];
	unsigned int i, n = (unsigned int)fa_test_iters(20000);

	for (i = 0; i < MT_THREADS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, t_hammer_known, (void *)(uintptr_t)n), 0);
	for (i = 0; i < MT_THREADS; i++)
		cr_assert_eq(pthread_join(th[i], NULL), 0);
	assert_no_reports();
}

/* Threads discover new edges concurrently in one global order, then an inversion. */
static void *t_ordered_pairs(void *arg)
{
	unsigned int id = (unsigned int)(uintptr_t)arg, i, a, b;

	for (i = 0; i < 64; i++) {
		a = (id * 7 + i) % 32;
		b = (id * 13 + i * 5) % 32;
		if (a == b)
			continue;
		if (a > b) {
			unsigned int t = a;

			a = b;
			b = t;
		}
		fa_signalling_acquire(&many_map[a]);
		fa_signalling_acquire(&many_map[b]);
		fa_signalling_release(&many_map[b]);
		fa_signalling_release(&many_map[a]);
	}
	return NULL;
}

Test(signalling_mt, concurrent_new_edges_then_inversion)
{
	pthread_t th[MT_THREADS];
	unsigned int i;

	many_init(32);
	for (i = 0; i < MT_THREADS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, t_ordered_pairs, (void *)(uintptr_t)i), 0);
	for (i = 0; i < MT_THREADS; i++)
		cr_assert_eq(pthread_join(th[i], NULL), 0);
	assert_no_reports();
	fa_signalling_acquire(&many_map[0]);
	fa_signalling_acquire(&many_map[31]);
	fa_signalling_release(&many_map[31]);
	fa_signalling_release(&many_map[0]);
	assert_no_reports();
	fa_signalling_acquire(&many_map[31]);
	fa_signalling_acquire(&many_map[0]);
	fa_signalling_release(&many_map[0]);
	fa_signalling_release(&many_map[31]);
	assert_has(chain_line(only_report(FA_SIGNALLING_REPORT_CYCLE)), "k31 --> k0");
}

/* Annotation-only traffic in random orders from many threads at once. */
static void *t_random_orders(void *arg)
{
	struct fa_rng rng;
	unsigned int round, i, j, depth, held[4];
	unsigned int rounds = (unsigned int)fa_test_iters(3000);

	fa_rng_seed(&rng, (uint64_t)(uintptr_t)arg);
	for (round = 0; round < rounds; round++) {
		depth = 1 + (unsigned int)fa_rng_below(&rng, 4);
		for (i = 0; i < depth; i++) {
			held[i] = (unsigned int)fa_rng_below(&rng, 16);
			for (j = 0; j < i; j++)
				if (held[j] == held[i])
					break;
			if (j < i) {
				depth = i;
				break;
			}
			fa_signalling_acquire(&many_map[held[i]]);
		}
		for (i = depth; i-- > 0;)
			fa_signalling_release(&many_map[held[i]]);
	}
	fa_signalling_assert_none_held();
	return NULL;
}

Test(signalling_mt, concurrent_random_orders_report_only_closed_cycles)
{
	pthread_t th[MT_THREADS];
	uint64_t seed = fa_test_seed(0xc0ffee);
	unsigned int i;

	many_init(16);
	for (i = 0; i < MT_THREADS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, t_random_orders,
					    (void *)(uintptr_t)(seed + i)), 0);
	for (i = 0; i < MT_THREADS; i++)
		cr_assert_eq(pthread_join(th[i], NULL), 0);
	cr_assert_gt(ncap, 0, "random orders over 16 classes must invert some pair");
	for (i = 0; i < ncap && i < MAX_CAPTURED; i++) {
		const char *chain = chain_line(cap[i].text);
		unsigned int first, last;
		const char *tail = strrchr(chain, 'k');

		cr_assert_eq(cap[i].kind, FA_SIGNALLING_REPORT_CYCLE, "%s", cap[i].text);
		cr_assert_eq(sscanf(chain, "k%u", &first), 1, "%s", chain);
		cr_assert(tail && sscanf(tail, "k%u", &last) == 1, "%s", chain);
		cr_assert_eq(first, last, "cycle does not close: %s", chain);
		cr_assert(strstr(chain, " --> ") != NULL);
	}
}

/* ------------------------------------- wired into the reservation module */

/*
 * fa_reserve_source_alloc() announces every source allocation
 * (fa_signalling_might_alloc()), so the stage contract is checked on real
 * reservation code: fill at submit and take at run is clean; a fill inside a
 * section, or the pool lock taken inside a section while fill allocates under
 * it (scenario 4), is reported.
 */
#define OBJ 64

FA_SIGNALLING_DEFINE_STATIC_CLASS(pool_lock);
FA_SIGNALLING_DEFINE_STATIC_CLASS(map_lock);

struct rvm {
	struct ra_alloc a;
	struct fa_reserve_source src;
	struct fa_reserve_pool pool;
	pthread_mutex_t pool_mutex;
	FA_SIGNALLING_MAP_MEMBER(pool_dep)
	FA_SIGNALLING_MAP_MEMBER(map_dep)
};

static struct rvm rvm;

static void rvm_setup(void)
{
	setup();
	ra_alloc_init(&rvm.a);
	rvm.src = ra_source(&rvm.a);
	cr_assert_eq(fa_reserve_pool_init(&rvm.pool, &rvm.src, OBJ, 0, FA_RESERVE_NO_BUDGET), 0);
	pthread_mutex_init(&rvm.pool_mutex, NULL);
	fa_signalling_map_init(&rvm.pool_dep, &pool_lock);
	fa_signalling_map_init(&rvm.map_dep, &map_lock);
}

static void rvm_teardown(void)
{
	fa_reserve_pool_fini(&rvm.pool);
	cr_assert_eq(ra_alloc_live(&rvm.a), 0);
}

static void rvm_lock_pool(void)
{
	pthread_mutex_lock(&rvm.pool_mutex);
	fa_signalling_acquire(&rvm.pool_dep);
}

static void rvm_unlock_pool(void)
{
	fa_signalling_release(&rvm.pool_dep);
	pthread_mutex_unlock(&rvm.pool_mutex);
}

TestSuite(signalling_reserve, .init = rvm_setup, .fini = rvm_teardown);

/* The three VM_BIND stages on a real reservation: nothing to report. */
Test(signalling_reserve, fill_at_submit_take_at_run_is_clean)
{
	struct fa_reserve r;
	void *objs[4];
	fa_signalling_cookie_t c;
	int round, i;

	for (round = 0; round < 3; round++) {
		fa_reserve_init(&r, &rvm.pool);
		rvm_lock_pool(); /* submit */
		cr_assert_eq(fa_reserve_fill(&r, 4, FA_GFP_KERNEL), 0);
		rvm_unlock_pool();

		c = fa_signalling_begin(); /* run */
		fa_signalling_acquire(&rvm.map_dep);
		for (i = 0; i < 4; i++)
			cr_assert_not_null(objs[i] = fa_reserve_take(&r));
		fa_signalling_release(&rvm.map_dep);
		fa_signalling_end(c);

		fa_signalling_fence_wait(); /* cleanup */
		rvm_lock_pool();
		for (i = 0; i < 4; i++)
			fa_reserve_give_back(&r, objs[i]);
		fa_reserve_release(&r);
		rvm_unlock_pool();
	}
	fa_signalling_assert_none_held();
	assert_no_reports();
	cr_assert_gt(ra_alloc_calls(&rvm.a), 0, "the source was never asked");
}

/* A NOWAIT draw from the pool inside a section is allowed. */
Test(signalling_reserve, nowait_pool_get_in_section_is_clean)
{
	fa_signalling_cookie_t c = fa_signalling_begin();
	void *obj = NULL;

	cr_assert_eq(fa_reserve_pool_get(&rvm.pool, FA_GFP_NOWAIT, &obj), 0);
	fa_signalling_end(c);
	fa_reserve_pool_put(&rvm.pool, obj);
	assert_no_reports();
}

/* Scenario 1 on real code: a GFP_KERNEL fill in the run stage. */
Test(signalling_reserve, kernel_fill_in_section_reports)
{
	struct fa_reserve r;
	fa_signalling_cookie_t c;

	fa_reserve_init(&r, &rvm.pool);
	c = fa_signalling_begin(); int begin = __LINE__;
	cr_assert_eq(fa_reserve_fill(&r, 2, FA_GFP_KERNEL), 0);
	fa_signalling_end(c);
	fa_reserve_release(&r);
	cr_assert_eq(count_kind(FA_SIGNALLING_REPORT_ALLOC_IN_SECTION), 1);
	cr_assert_eq(count_kind(FA_SIGNALLING_REPORT_CYCLE), 1);
	{
		char where[256];

		snprintf(where, sizeof(where), "%s:%d", __FILE__, begin);
		cr_assert(strstr(only_report(FA_SIGNALLING_REPORT_ALLOC_IN_SECTION), where), "%s",
			  only_report(FA_SIGNALLING_REPORT_ALLOC_IN_SECTION));
		cr_assert(strstr(only_report(FA_SIGNALLING_REPORT_ALLOC_IN_SECTION), "reserve.h"));
	}
}

/* A fill served entirely from a warm cache allocates nothing this time, but
 * the next one may: it must be reported all the same, as kmalloc announces
 * every call. */
Test(signalling_reserve, kernel_fill_from_warm_cache_in_section_reports)
{
	struct fa_reserve_pool warm;
	struct fa_reserve r;
	fa_signalling_cookie_t c;
	long allocs;

	memset(&warm, 0, sizeof(warm));
	cr_assert_eq(fa_reserve_pool_init(&warm, &rvm.src, OBJ, 8, FA_RESERVE_NO_BUDGET), 0);
	fa_reserve_init(&r, &warm);
	cr_assert_eq(fa_reserve_fill(&r, 4, FA_GFP_KERNEL), 0);
	fa_reserve_release(&r);
	cr_assert_eq(fa_reserve_pool_cached(&warm), 4);
	assert_no_reports();
	allocs = ra_alloc_live(&rvm.a);

	c = fa_signalling_begin();
	cr_assert_eq(fa_reserve_fill(&r, 2, FA_GFP_KERNEL), 0);
	fa_signalling_end(c);
	cr_assert_eq(ra_alloc_live(&rvm.a), allocs, "served from the cache");
	cr_assert_eq(count_kind(FA_SIGNALLING_REPORT_ALLOC_IN_SECTION), 1);
	fa_reserve_release(&r);
	fa_reserve_pool_fini(&warm);
}

/* Scenario 4 on real code: the pool lock, taken around fill at submit, is
 * also taken in the run stage (to give an object back early). */
static void *t_rvm_submit(void *arg)
{
	struct fa_reserve *r = (struct fa_reserve *)arg;

	rvm_lock_pool();
	cr_assert_eq(fa_reserve_fill(r, 2, FA_GFP_KERNEL), 0);
	rvm_unlock_pool();
	return NULL;
}

static void *t_run_gives_back_under_pool_lock(void *arg)
{
	struct fa_reserve *r = (struct fa_reserve *)arg;
	fa_signalling_cookie_t c = fa_signalling_begin();
	void *obj = fa_reserve_take(r);

	rvm_lock_pool();
	fa_reserve_give_back(r, obj);
	rvm_unlock_pool();
	fa_signalling_end(c);
	return NULL;
}

Test(signalling_reserve, pool_lock_in_section_vs_fill_under_it_reports)
{
	struct fa_reserve r;
	pthread_t th;
	const char *cyc;

	fa_reserve_init(&r, &rvm.pool);
	cr_assert_eq(pthread_create(&th, NULL, t_rvm_submit, &r), 0);
	cr_assert_eq(pthread_join(th, NULL), 0);
	cr_assert_eq(pthread_create(&th, NULL, t_run_gives_back_under_pool_lock, &r), 0);
	cr_assert_eq(pthread_join(th, NULL), 0);
	fa_reserve_release(&r);
	cr_assert_eq(ncap, 1);
	cyc = only_report(FA_SIGNALLING_REPORT_CYCLE);
	cr_assert(strstr(cyc, "pool_lock --> fs_reclaim --> mmu_notifier --> fence_signalling --> pool_lock"), "%s",
		  cyc);
	cr_assert(strstr(cyc, "held across a reclaiming allocation"), "%s", cyc);
}
