/* SPDX-License-Identifier: MIT */
/*
 * Signalling validator against Linux lockdep: the scenario families of the
 * kernel's locking self-tests (lib/locking-selftest.c: AA, ABBA, ABBCCA ...
 * for every lock type, recursive and non-recursive readers, the strong
 * dependency path cases, double unlock, initialise-held, ww_mutex nest
 * locks, fs_reclaim nesting) plus the dma_fence_map annotations of
 * drivers/dma-buf/dma-fence.c, each restated as a sequence of annotations
 * with the verdict lockdep gives (FAILURE: it reports; SUCCESS: it does not).
 *
 * Every scenario runs on a fresh, primed graph (the kernel primes its
 * dma-fence contract at boot); the validator's verdict is "at least one
 * report". It must match lockdep's, except for the documented differences
 * (each named in docs/annotating.md, "Differences from lockdep"), which must
 * give exactly the verdict documented there.
 *
 * Lock types, as the self-tests' 6R families: spin, wlock (rwlock_t write),
 * rlock (rwlock_t read: a recursive reader, as the self-tests force it),
 * mutex, wsem (rwsem write), rsem (rwsem read: a non-recursive reader).
 *
 * This file is the program's one validator implementation unit.
 */
#define FA_VALIDATE
#define FA_SIGNALLING_IMPLEMENTATION
#define FA_SIGNALLING_STATIC /* its own validator: linked with test_signalling.c by make check */
#include "fa_test.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include <fencealloc/signalling.h>

#include "fa_rng.h"

/* ----------------------------------------------------------- the locks */

FA_SIGNALLING_DEFINE_STATIC_CLASS(A);
FA_SIGNALLING_DEFINE_STATIC_CLASS(B);
FA_SIGNALLING_DEFINE_STATIC_CLASS(C);
FA_SIGNALLING_DEFINE_STATIC_CLASS(D);
FA_SIGNALLING_DEFINE_STATIC_CLASS(X);
FA_SIGNALLING_DEFINE_STATIC_CLASS(Y);
FA_SIGNALLING_DEFINE_STATIC_CLASS(Z);
FA_SIGNALLING_DEFINE_STATIC_CLASS(ww_acquire_ctx);
FA_SIGNALLING_DEFINE_STATIC_CLASS(ww_mutex);

#define WW_MANY 60 /* more than the held stack's 48 entries */

static struct lock_def {
	const char *name;
	struct fa_signalling_class *cls;
	struct fa_signalling_map map;
} locks[] = {
	{ "A", &A, { NULL } },   { "B", &B, { NULL } },   { "C", &C, { NULL } },
	{ "D", &D, { NULL } },   { "X1", &X, { NULL } },  { "X2", &X, { NULL } },
	{ "Y1", &Y, { NULL } },  { "Y2", &Y, { NULL } },  { "Z1", &Z, { NULL } },
	{ "t", &ww_acquire_ctx, { NULL } },               { "o", &ww_mutex, { NULL } },
	{ "o2", &ww_mutex, { NULL } },
};

static struct fa_signalling_map ww_many[WW_MANY];

static struct fa_signalling_map *lock_named(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < FA_ARRAY_SIZE(locks); i++)
		if (strlen(locks[i].name) == len && !strncmp(locks[i].name, name, len))
			return &locks[i].map;
	cr_assert_fail("no lock named %.*s", (int)len, name);
	return NULL;
}

static struct fa_signalling_class *class_of(const struct fa_signalling_map *m)
{
	size_t i;

	for (i = 0; i < FA_ARRAY_SIZE(locks); i++)
		if (&locks[i].map == m)
			return locks[i].cls;
	return NULL;
}

/* ------------------------------------------------------- lock types */

enum lock_type { T_SPIN, T_WLOCK, T_RLOCK, T_MUTEX, T_WSEM, T_RSEM, T_NTYPES };

static const char *const type_names[T_NTYPES] = {
	[T_SPIN] = "spin", [T_WLOCK] = "wlock", [T_RLOCK] = "rlock",
	[T_MUTEX] = "mutex", [T_WSEM] = "wsem", [T_RSEM] = "rsem",
};

static void acquire_as(struct fa_signalling_map *m, enum lock_type type)
{
	switch (type) {
	case T_RLOCK:
		fa_signalling_acquire_shared_recursive(m);
		break;
	case T_RSEM:
		fa_signalling_acquire_shared(m);
		break;
	default: /* spinlock, mutex and write sides are all exclusive */
		fa_signalling_acquire(m);
		break;
	}
}

/* ------------------------------------------- the scenario interpreter */

/*
 * A scenario is a line of space-separated operations, as the self-tests
 * write them: L(x)/U(x) lock and unlock with the family's lock type;
 * RL/RU recursive read (rwlock_t read), RSL/RSU non-recursive read (rwsem
 * read), WL/WU and WSL/WSU write sides, ML/MU mutex, SL/SU spinlock;
 * INIT(x) re-initialises x's map; ww_mutex: WWAI(t) acquire context,
 * WWL(o,t) lock under the context, WWL1(o) lock without one, WWT(o)
 * trylock, WWU(o) unlock, WWMANY(t) lock and unlock WW_MANY ww_mutexes
 * under t; NEST(x,n) spin_lock_nest_lock(x, n); TRY(x) a successful
 * trylock. Fence and memory: BEGIN/END a signalling section, WAIT a fence
 * wait, ALLOC(K|NOFS|NOWAIT), RECLAIM(+|-) reclaim context (a shrinker),
 * NOTIFIER(+|-), FAULT(+|-) the page-fault handler, MIGHT_FAULT.
 */
struct interp {
	enum lock_type type;
	fa_signalling_cookie_t cookies[8];
	unsigned int ncookies;
};

static int tok_is(const char *tok, size_t len, const char *name)
{
	return strlen(name) == len && !strncmp(tok, name, len);
}

static void run_op(struct interp *in, const char *op, size_t oplen, const char *arg,
		   size_t arglen, const char *arg2, size_t arg2len)
{
	struct fa_signalling_map *m = NULL, *n = NULL;
	unsigned int i;

#define OP(name) tok_is(op, oplen, name)
#define ARG(name) tok_is(arg, arglen, name)
	if (arglen && !OP("ALLOC") && !OP("RECLAIM") && !OP("NOTIFIER") && !OP("FAULT"))
		m = lock_named(arg, arglen);
	if (arg2len)
		n = lock_named(arg2, arg2len);

	if (OP("L"))
		acquire_as(m, in->type);
	else if (OP("U") || OP("RU") || OP("RSU") || OP("WU") || OP("WSU") || OP("MU") ||
		 OP("SU") || OP("WWU"))
		fa_signalling_release(m);
	else if (OP("RL"))
		fa_signalling_acquire_shared_recursive(m);
	else if (OP("RSL"))
		fa_signalling_acquire_shared(m);
	else if (OP("WL") || OP("WSL") || OP("ML") || OP("SL") || OP("WWAI") || OP("WWL1"))
		fa_signalling_acquire(m);
	else if (OP("TRY") || OP("WWT"))
		fa_signalling_trylock(m);
	else if (OP("WWL") || OP("NEST"))
		fa_signalling_acquire_nest_lock(m, n);
	else if (OP("WWMANY")) {
		for (i = 0; i < WW_MANY; i++)
			fa_signalling_acquire_nest_lock(&ww_many[i], m);
		for (i = 0; i < WW_MANY; i++)
			fa_signalling_release(&ww_many[i]);
	} else if (OP("INIT"))
		fa_signalling_map_init(m, class_of(m));
	else if (OP("BEGIN")) {
		cr_assert_lt(in->ncookies, FA_ARRAY_SIZE(in->cookies));
		in->cookies[in->ncookies++] = fa_signalling_begin();
	} else if (OP("END")) {
		cr_assert_gt(in->ncookies, 0);
		fa_signalling_end(in->cookies[--in->ncookies]);
	} else if (OP("WAIT"))
		fa_signalling_fence_wait();
	else if (OP("ALLOC"))
		fa_signalling_might_alloc(ARG("K") ? FA_GFP_KERNEL : ARG("NOFS") ? FA_GFP_NOFS :
					  FA_GFP_NOWAIT);
	else if (OP("RECLAIM") && ARG("+"))
		fa_signalling_reclaim_enter();
	else if (OP("RECLAIM"))
		fa_signalling_reclaim_leave();
	else if (OP("NOTIFIER") && ARG("+"))
		fa_signalling_mmu_notifier_enter();
	else if (OP("NOTIFIER"))
		fa_signalling_mmu_notifier_leave();
	else if (OP("FAULT") && ARG("+"))
		fa_signalling_fault_enter();
	else if (OP("FAULT"))
		fa_signalling_fault_leave();
	else if (OP("MIGHT_FAULT"))
		fa_signalling_might_fault();
	else
		cr_assert_fail("unknown operation %.*s", (int)oplen, op);
#undef OP
#undef ARG
}

/* Run @ops on a fresh primed graph; returns the number of reports. */
static unsigned long run_scenario(const char *ops, enum lock_type type)
{
	struct interp in;
	const char *p = ops;

	memset(&in, 0, sizeof(in));
	in.type = type;
	fa_signalling_reset();
	while (*p) {
		const char *op, *arg = "", *arg2 = "";
		size_t oplen, arglen = 0, arg2len = 0;

		while (*p == ' ')
			p++;
		if (!*p)
			break;
		op = p;
		while (*p && *p != ' ' && *p != '(')
			p++;
		oplen = (size_t)(p - op);
		if (*p == '(') {
			arg = ++p;
			while (*p && *p != ')' && *p != ',')
				p++;
			arglen = (size_t)(p - arg);
			if (*p == ',') {
				arg2 = ++p;
				while (*p && *p != ')')
					p++;
				arg2len = (size_t)(p - arg2);
			}
			cr_assert_eq(*p, ')', "unterminated operation in \"%s\"", ops);
			p++;
		}
		run_op(&in, op, oplen, arg, arglen, arg2, arg2len);
	}
	return fa_signalling_report_count();
}

/* -------------------------------------------------------- the table */

#define FAILURE 1
#define SUCCESS 0

/*
 * One scenario. @lockdep is lockdep's verdict; @diff names the documented
 * difference when the validator deliberately gives the other verdict.
 */
struct scenario {
	const char *name;
	const char *ops;
	int lockdep;
	const char *diff;
};

/* The self-tests' 6R families: FAILURE for every type but rlock (recursive readers). */
static const struct scenario families_6r[] = {
	{ "A-A deadlock", "L(X1) L(X2)", FAILURE, NULL },
	{ "A-B-B-A deadlock", "L(A) L(B) U(B) U(A) L(B) L(A) U(A) U(B)", FAILURE, NULL },
	{ "A-B-B-C-C-A deadlock",
	  "L(A) L(B) U(B) U(A) L(B) L(C) U(C) U(B) L(C) L(A) U(A) U(C)", FAILURE, NULL },
	{ "A-B-C-A-B-C deadlock",
	  "L(A) L(B) U(B) U(A) L(C) L(A) U(A) U(C) L(B) L(C) U(C) U(B)", FAILURE, NULL },
	{ "A-B-B-C-C-D-D-A deadlock",
	  "L(A) L(B) U(B) U(A) L(B) L(C) U(C) U(B) L(C) L(D) U(D) U(C) L(D) L(A) U(A) U(D)",
	  FAILURE, NULL },
	{ "A-B-C-D-B-D-D-A deadlock",
	  "L(A) L(B) U(B) U(A) L(C) L(D) U(D) U(C) L(B) L(D) U(D) U(B) L(D) L(A) U(A) U(D)",
	  FAILURE, NULL },
	{ "A-B-C-D-B-C-D-A deadlock",
	  "L(A) L(B) U(B) U(A) L(C) L(D) U(D) U(C) L(B) L(C) U(C) U(B) L(D) L(A) U(A) U(D)",
	  FAILURE, NULL },
};

/* The self-tests' 6 families: FAILURE for every type. */
static const struct scenario families_6[] = {
	{ "double unlock", "L(A) U(A) U(A)", FAILURE, NULL },
	{ "initialize held", "L(A) INIT(A)", FAILURE, NULL },
};

/* W1R2_W2R3_W3R1 & co. (RL: recursive read, WL: write), six orders of three events each. */
static const struct {
	const char *name;
	const char *e[3];
	int lockdep;
} rlock_triples[] = {
	{ "rlock W1R2/W2R3/W3R1",
	  { "WL(X1) RL(Y1) RU(Y1) WU(X1)", "WL(Y1) RL(Z1) RU(Z1) WU(Y1)",
	    "WL(Z1) RL(X1) RU(X1) WU(Z1)" }, FAILURE },
	{ "rlock W1W2/R2R3/W3R1",
	  { "WL(X1) WL(Y1) WU(Y1) WU(X1)", "RL(Y1) RL(Z1) RU(Z1) RU(Y1)",
	    "WL(Z1) RL(X1) RU(X1) WU(Z1)" }, FAILURE },
	{ "rlock W1W2/R2R3/R3W1",
	  { "WL(X1) WL(Y1) WU(Y1) WU(X1)", "RL(Y1) RL(Z1) RU(Z1) RU(Y1)",
	    "RL(Z1) WL(X1) WU(X1) RU(Z1)" }, SUCCESS },
	{ "rlock W1R2/R2R3/W3W1",
	  { "WL(X1) RL(Y1) RU(Y1) WU(X1)", "RL(Y1) RL(Z1) RU(Z1) RU(Y1)",
	    "WL(Z1) WL(X1) WU(X1) WU(Z1)" }, SUCCESS },
};

static const struct scenario singles[] = {
	/* recursive read-lock and mixed read/write cases */
	{ "recursive read-lock (rlock)", "RL(X1) RL(X1)", SUCCESS, NULL },
	{ "recursive read-lock (rsem)", "RSL(X1) RSL(X1)", FAILURE, NULL },
	{ "recursive read-lock #2 (rlock)", "RL(X1) RL(X2)", SUCCESS, NULL },
	{ "recursive read-lock #2 (rsem)", "RSL(X1) RSL(X2)", FAILURE, NULL },
	{ "mixed read-write-lock (rlock)", "RL(X1) WL(X2)", FAILURE, NULL },
	{ "mixed read-write-lock (rsem)", "RSL(X1) WSL(X2)", FAILURE, NULL },
	{ "mixed write-read-lock (rlock)", "WL(X1) RL(X2)", FAILURE, NULL },
	{ "mixed write-read-lock (rsem)", "WSL(X1) RSL(X2)", FAILURE, NULL },
	{ "mixed read-lock/lock-write ABBA (rlock)",
	  "RL(X1) SL(Y1) SU(Y1) RU(X1) SL(Y1) WL(X1) WU(X1) SU(Y1)", FAILURE, NULL },
	{ "mixed read-lock/lock-write ABBA (rwsem)",
	  "RSL(X1) ML(Y1) MU(Y1) RSU(X1) ML(Y1) WSL(X1) WSU(X1) MU(Y1)", FAILURE, NULL },
	{ "mixed read-lock/lock-read ABBA (rlock)",
	  "RL(X1) SL(Y1) SU(Y1) RU(X1) SL(Y1) RL(X1) RU(X1) SU(Y1)", SUCCESS, NULL },
	{ "mixed read-lock/lock-read ABBA (rwsem)",
	  "RSL(X1) ML(Y1) MU(Y1) RSU(X1) ML(Y1) RSL(X1) RSU(X1) MU(Y1)", FAILURE, NULL },
	{ "mixed write-lock/lock-write ABBA (rlock)",
	  "WL(X1) SL(Y1) SU(Y1) WU(X1) SL(Y1) WL(X1) WU(X1) SU(Y1)", FAILURE, NULL },
	{ "mixed write-lock/lock-write ABBA (rwsem)",
	  "WSL(X1) ML(Y1) MU(Y1) WSU(X1) ML(Y1) WSL(X1) WSU(X1) MU(Y1)", FAILURE, NULL },
	{ "chain cached mixed R-L/L-W ABBA",
	  "RL(X1) SL(Y1) SU(Y1) RU(X1) SL(Y1) RL(X1) RU(X1) SU(Y1) SL(Y1) WL(X1) WU(X1) SU(Y1)",
	  FAILURE, NULL },

	/* ww_mutex: "block" = no context, "try" = trylock, "context" = under the context */
	{ "ww spinlock nest unlocked", "NEST(A,o) SU(A)", FAILURE, NULL },
	{ "ww spinlock nest test",
	  "SL(X1) NEST(Y1,X1) SL(A) NEST(Y2,X1) SU(A) SU(Y2) SU(Y1) SU(X1)", SUCCESS, NULL },
	{ "ww context/block", "WWAI(t) WWL(o,t) WWL1(o2)", FAILURE, NULL },
	{ "ww context/try", "WWAI(t) WWL(o,t) WWT(o2) WWU(o2) WWU(o)", SUCCESS, NULL },
	{ "ww context/context", "WWAI(t) WWL(o,t) WWL(o2,t) WWU(o2) WWU(o)", SUCCESS, NULL },
	{ "ww try/block", "WWT(o) WWL1(o2) WWU(o2) WWU(o)", FAILURE, NULL },
	{ "ww try/try", "WWT(o) WWT(o2) WWU(o2) WWU(o)", SUCCESS, NULL },
	{ "ww try/context", "WWT(o) WWAI(t) WWL(o2,t)", FAILURE, NULL },
	{ "ww block/block", "WWL1(o) WWL1(o2)", FAILURE, NULL },
	{ "ww block/try", "WWL1(o) WWT(o2)", SUCCESS, NULL },
	{ "ww block/context", "WWL1(o) WWAI(t) WWL(o2,t)", FAILURE, NULL },
	{ "ww spinlock/block",
	  "SL(A) SU(A) WWL1(o) SL(A) SU(A) WWU(o) SL(A) WWL1(o) WWU(o) SU(A)", FAILURE, NULL },
	{ "ww spinlock/try",
	  "SL(A) SU(A) WWT(o) SL(A) SU(A) WWU(o) SL(A) WWT(o) WWU(o) SU(A)", SUCCESS, NULL },
	{ "ww spinlock/context",
	  "SL(A) SU(A) WWAI(t) WWL(o,t) SL(A) SU(A) WWU(o) SL(A) WWL(o,t) WWU(o) SU(A)",
	  FAILURE, NULL },
	/* lockdep keeps one held entry (with a count) for consecutive nest-lock locks */
	{ "ww many under one context", "WWAI(t) WWMANY(t) WWU(t)", SUCCESS, NULL },

	/* fs_reclaim: fs_reclaim_acquire(GFP_KERNEL) is the reclaim context */
	{ "fs_reclaim correct nesting", "RECLAIM(+) ALLOC(NOFS) RECLAIM(-)", SUCCESS, NULL },
	{ "fs_reclaim wrong nesting", "RECLAIM(+) ALLOC(K) RECLAIM(-)", FAILURE, "D1" },
	{ "fs_reclaim protected nesting", "RECLAIM(+) ALLOC(NOFS) RECLAIM(-)", SUCCESS, NULL },

	/* dma_fence_map: sections are read-trylocks, waits acquire it exclusively */
	{ "fence: lock in section vs lock across wait",
	  "BEGIN ML(A) MU(A) END ML(A) WAIT MU(A)", FAILURE, NULL },
	{ "fence: lock across wait vs lock in section",
	  "ML(A) WAIT MU(A) BEGIN ML(A) MU(A) END", FAILURE, NULL },
	{ "fence: lock held around a section", "ML(A) BEGIN END MU(A) ML(A) WAIT MU(A)",
	  SUCCESS, NULL },
	/* entering a section cannot block: no dependency into it (Hellström's
	 * read-trylock, upstream since 2024; a plain read lock before that) */
	{ "fence: lock held around one section, taken inside another",
	  "ML(A) BEGIN END MU(A) BEGIN ML(A) MU(A) END", SUCCESS, NULL },
	{ "fence: section around a lock held across a wait elsewhere",
	  "ML(A) BEGIN ML(B) MU(B) END MU(A) ML(B) WAIT MU(B)", FAILURE, NULL },
	{ "fence: nested sections", "BEGIN BEGIN END END", SUCCESS, NULL },
	{ "fence: bare wait in own section", "BEGIN WAIT END", SUCCESS, "D2" },
	{ "fence: wait in section under a lock", "BEGIN ML(A) WAIT MU(A) END", FAILURE, NULL },
	{ "fence: GFP_KERNEL allocation in section", "BEGIN ALLOC(K) END", FAILURE, NULL },
	{ "fence: GFP_NOFS allocation in section", "BEGIN ALLOC(NOFS) END", FAILURE, NULL },
	{ "fence: GFP_NOWAIT allocation in section", "BEGIN ALLOC(NOWAIT) END", SUCCESS, NULL },
	{ "fence: lock in section vs allocation under it",
	  "BEGIN ML(A) MU(A) END ML(A) ALLOC(K) MU(A)", FAILURE, NULL },
	{ "fence: allocation under a lock vs lock in section",
	  "ML(A) ALLOC(K) MU(A) BEGIN ML(A) MU(A) END", FAILURE, NULL },
	{ "fence: transitive through two locks",
	  "BEGIN ML(A) MU(A) END ML(A) ML(B) MU(B) MU(A) ML(B) ALLOC(K) MU(B)", FAILURE, NULL },
	{ "fence: shrinker waits, section allocates",
	  "RECLAIM(+) WAIT RECLAIM(-) BEGIN ALLOC(K) END", FAILURE, NULL },
	{ "fence: notifier takes a lock taken in a section",
	  "NOTIFIER(+) ML(A) MU(A) NOTIFIER(-) BEGIN ML(A) MU(A) END", SUCCESS, NULL },
	{ "fence: trylock in section vs lock across wait",
	  "BEGIN TRY(A) MU(A) END ML(A) WAIT MU(A)", SUCCESS, NULL },
	{ "fence: rwsem read in section vs read across wait",
	  "BEGIN RSL(A) RSU(A) END RSL(A) WAIT RSU(A)", FAILURE, NULL },
	{ "fence: recursive read in section vs read across wait",
	  "BEGIN RL(A) RU(A) END RL(A) WAIT RU(A)", SUCCESS, NULL },
	{ "fence: recursive read in section vs write across wait",
	  "BEGIN RL(A) RU(A) END WL(A) WAIT WU(A)", FAILURE, NULL },
	/* might_fault(): a read of mmap_lock */
	{ "fault: lock across copy_from_user vs fault handler taking it",
	  "ML(A) MIGHT_FAULT MU(A) FAULT(+) ML(A) MU(A) FAULT(-)", FAILURE, NULL },
	{ "fault: fault handler only trylocks",
	  "ML(A) MIGHT_FAULT MU(A) FAULT(+) TRY(A) MU(A) FAULT(-)", SUCCESS, NULL },
};

/* ------------------------------------------------------ the verdicts */

struct tally {
	unsigned int total, agree, differ;
	unsigned int mismatches;
	char mismatch[4096];
	char diffs[256];
	size_t mlen, dlen;
};

static void check_one(struct tally *t, const char *name, const char *type, const char *ops,
		      enum lock_type lt, int lockdep, const char *diff)
{
	unsigned long reports = run_scenario(ops, lt);
	int got = reports != 0;
	int want = diff ? !lockdep : lockdep;

	t->total++;
	if (got == lockdep)
		t->agree++;
	else if (diff && got == want && !strstr(t->diffs, diff)) {
		t->differ++;
		t->dlen += (size_t)snprintf(t->diffs + t->dlen, sizeof(t->diffs) - t->dlen, " %s",
					    diff);
	} else if (diff && got == want) {
		t->differ++;
	}
	if (got != want) {
		t->mismatches++;
		if (t->mlen < sizeof(t->mismatch))
			t->mlen += (size_t)snprintf(t->mismatch + t->mlen,
						    sizeof(t->mismatch) - t->mlen,
						    "  %s%s%s: validator %s (%lu reports), expected %s\n",
						    name, type ? "/" : "", type ? type : "",
						    got ? "FAILURE" : "SUCCESS", reports,
						    want ? "FAILURE" : "SUCCESS");
	}
}

static void quiet(const struct fa_signalling_report *r, void *arg)
{
	(void)arg;
	if (getenv("FA_SIGNALLING_SHOW"))
		fputs(r->text, stderr);
}

static void setup(void)
{
	size_t i;

	fa_signalling_set_report_fn(quiet, NULL);
	fa_signalling_reset();
	for (i = 0; i < FA_ARRAY_SIZE(locks); i++)
		fa_signalling_map_init(&locks[i].map, locks[i].cls);
	for (i = 0; i < WW_MANY; i++)
		fa_signalling_map_init(&ww_many[i], &ww_mutex);
}

/* Every documented difference must be listed in docs/annotating.md. */
static void assert_documented(const char *id)
{
	static char doc[65536];
	char needle[32];
	FILE *f = fopen("docs/annotating.md", "r");
	size_t n;

	cr_assert_not_null(f, "run from the repository root (docs/annotating.md)");
	n = fread(doc, 1, sizeof(doc) - 1, f);
	fclose(f);
	doc[n] = '\0';
	snprintf(needle, sizeof(needle), "**%s**", id);
	cr_assert(strstr(doc, needle) != NULL, "difference %s not listed in docs/annotating.md",
		  id);
}

TestSuite(signalling_lockdep, .init = setup);

Test(signalling_lockdep, selftest_families_agree)
{
	static struct tally t;
	static const int perm[6][3] = {
		{ 0, 1, 2 }, { 0, 2, 1 }, { 1, 0, 2 }, { 1, 2, 0 }, { 2, 0, 1 }, { 2, 1, 0 },
	};
	char ops[512], name[96];
	size_t i, k;
	int ty;

	memset(&t, 0, sizeof(t));
	for (i = 0; i < FA_ARRAY_SIZE(families_6r); i++)
		for (ty = 0; ty < T_NTYPES; ty++)
			check_one(&t, families_6r[i].name, type_names[ty], families_6r[i].ops,
				  (enum lock_type)ty, ty == T_RLOCK ? SUCCESS : FAILURE, NULL);
	for (i = 0; i < FA_ARRAY_SIZE(families_6); i++)
		for (ty = 0; ty < T_NTYPES; ty++)
			check_one(&t, families_6[i].name, type_names[ty], families_6[i].ops,
				  (enum lock_type)ty, FAILURE, NULL);
	for (i = 0; i < FA_ARRAY_SIZE(rlock_triples); i++)
		for (k = 0; k < 6; k++) {
			snprintf(ops, sizeof(ops), "%s %s %s", rlock_triples[i].e[perm[k][0]],
				 rlock_triples[i].e[perm[k][1]], rlock_triples[i].e[perm[k][2]]);
			snprintf(name, sizeof(name), "%s/%d%d%d", rlock_triples[i].name,
				 perm[k][0] + 1, perm[k][1] + 1, perm[k][2] + 1);
			check_one(&t, name, NULL, ops, T_SPIN, rlock_triples[i].lockdep, NULL);
		}
	for (i = 0; i < FA_ARRAY_SIZE(singles); i++) {
		check_one(&t, singles[i].name, NULL, singles[i].ops, T_SPIN, singles[i].lockdep,
			  singles[i].diff);
	}
	fprintf(stderr,
		"signalling vs lockdep: %u scenarios, %u agree, %u differ as documented (%s )\n",
		t.total, t.agree, t.differ, t.dlen ? t.diffs : " none");
	cr_assert_eq(t.mismatches, 0, "%u scenarios give an unexpected verdict:\n%s",
		     t.mismatches, t.mismatch);
	cr_assert_leq(t.differ, 4, "at most four documented differences");
	for (i = 0; i < FA_ARRAY_SIZE(singles); i++)
		if (singles[i].diff)
			assert_documented(singles[i].diff);
	cr_assert_eq(t.agree + t.differ, t.total);
}

/* ------------------------- randomized readers: against a strong-path reference */

/*
 * Random lock sequences over a few classes, each acquisition exclusive, a
 * non-recursive reader, a recursive reader or a trylock, against a reference
 * that keeps the typed dependency graph itself and decides each new
 * dependency by the definition: it closes a cycle iff some walk back from the
 * new lock to the held one, together with the new dependency, never has a
 * -(*R)-> followed by a -(S*)->. The reference finds that walk with a
 * transitive closure over (class, "last step ends in a recursive reader")
 * states, not with the validator's search. Both start each trial empty and
 * leave rejected dependencies out, so the first report must come at exactly
 * the acquisition where the reference first rejects one.
 */
#define RK 6
#define RSTATES (2 * RK)

enum rmode { RM_EXCL, RM_READ, RM_RECURSIVE, RM_TRY, RM_NMODES };

struct rref {
	unsigned char dep[4][RK][RK];   /* dependency types: index E + 2 * N */
	unsigned char known[4][RK][RK]; /* added or rejected */
};

static unsigned int rdep_type(enum rmode prev, enum rmode next)
{
	unsigned int excl = prev == RM_EXCL || prev == RM_TRY;
	unsigned int nonrec = next != RM_RECURSIVE;

	return excl + 2 * nonrec;
}

/* Would held @p -(@type)-> new @c close a strong cycle? */
static int rref_closes(const struct rref *g, unsigned int c, int c_rec, unsigned int p,
		       int p_excl)
{
	unsigned char reach[RSTATES][RSTATES];
	unsigned int n, m, k, t, xr;

	memset(reach, 0, sizeof(reach));
	for (n = 0; n < RK; n++)
		for (xr = 0; xr < 2; xr++)
			for (m = 0; m < RK; m++)
				for (t = 0; t < 4; t++) {
					int starts_shared = !(t & 1u), ends_rec = !(t & 2u);

					if (!g->dep[t][n][m] || (xr && starts_shared))
						continue;
					reach[2 * n + xr][2 * m + (unsigned int)ends_rec] = 1;
				}
	for (k = 0; k < RSTATES; k++)
		for (n = 0; n < RSTATES; n++)
			if (reach[n][k])
				for (m = 0; m < RSTATES; m++)
					reach[n][m] |= reach[k][m];
	n = 2 * c + (unsigned int)!!c_rec;
	/* the new dependency starts shared unless the held lock is exclusive,
	 * so the walk must then end in a non-recursive step */
	return reach[n][2 * p] || (p_excl && reach[n][2 * p + 1]);
}

static struct fa_signalling_class rcls[RK];
static struct fa_signalling_map rmap[RK];
static char rname[RK][8];

static void racquire(unsigned int k, enum rmode m)
{
	switch (m) {
	case RM_EXCL:
		fa_signalling_acquire(&rmap[k]);
		break;
	case RM_READ:
		fa_signalling_acquire_shared(&rmap[k]);
		break;
	case RM_RECURSIVE:
		fa_signalling_acquire_shared_recursive(&rmap[k]);
		break;
	default:
		fa_signalling_trylock(&rmap[k]);
		break;
	}
}

Test(signalling_lockdep, random_readers_match_strong_path_reference)
{
	static struct rref g;
	struct fa_rng rng;
	uint64_t seed = fa_test_seed(0x1ead5);
	unsigned int trial, trials = (unsigned int)fa_test_iters(3000), k;
	unsigned int reported = 0, clean = 0, steps_total = 0;

	fa_rng_seed(&rng, seed);
	for (k = 0; k < RK; k++) {
		snprintf(rname[k], sizeof(rname[k]), "r%u", k);
		rcls[k].name = rname[k];
		fa_signalling_map_init(&rmap[k], &rcls[k]);
	}
	for (trial = 0; trial < trials; trial++) {
		unsigned int round, step = 0, first_reject = 0, first_report = 0;

		memset(&g, 0, sizeof(g));
		fa_signalling_reset_unprimed();
		for (round = 0; round < 12 && !first_reject && !first_report; round++) {
			unsigned int held[4], depth = 1 + (unsigned int)fa_rng_below(&rng, 4), i, j;
			enum rmode mode[4];

			for (i = 0; i < depth; i++) {
				held[i] = (unsigned int)fa_rng_below(&rng, RK);
				for (j = 0; j < i; j++)
					if (held[j] == held[i])
						break;
				if (j < i) {
					i--;
					continue;
				}
				mode[i] = (enum rmode)fa_rng_below(&rng, RM_NMODES);
			}
			for (i = 0; i < depth; i++) {
				unsigned long before = fa_signalling_report_count();

				step++;
				/* lockdep's check_prevs_add(): trylocks from the top, then
				 * the nearest held lock that is not one */
				for (j = i; mode[i] != RM_TRY && j-- > 0;) {
					unsigned int t = rdep_type(mode[j], mode[i]);
					unsigned int p = held[j], c = held[i];

					if (!g.known[t][p][c]) {
						g.known[t][p][c] = 1;
						if (rref_closes(&g, c, mode[i] == RM_RECURSIVE, p,
								mode[j] == RM_EXCL || mode[j] == RM_TRY)) {
							if (!first_reject)
								first_reject = step;
						} else {
							g.dep[t][p][c] = 1;
						}
					}
					if (mode[j] != RM_TRY)
						break;
				}
				racquire(held[i], mode[i]);
				if (fa_signalling_report_count() != before && !first_report)
					first_report = step;
			}
			for (i = depth; i-- > 0;)
				fa_signalling_release(&rmap[held[i]]);
		}
		cr_assert_eq(first_report, first_reject,
			     "trial %u (seed 0x%llx): first report at step %u, reference rejects "
			     "first at step %u", trial, (unsigned long long)seed, first_report,
			     first_reject);
		reported += first_report != 0;
		clean += first_report == 0;
		steps_total += step;
	}
	fprintf(stderr, "random readers (seed 0x%llx): %u trials, %u steps, %u with a cycle, "
		"%u clean\n", (unsigned long long)seed, trials, steps_total, reported, clean);
	cr_assert_gt(reported, trials / 20, "too few cycles to mean anything");
	cr_assert_gt(clean, trials / 20, "too few clean trials to mean anything");
}
