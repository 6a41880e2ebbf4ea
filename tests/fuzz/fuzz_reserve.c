/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: a reservation pool against a model. The input picks the
 * pool (cache cap, budget) and then a sequence of fills (with an injected
 * source failure), takes, give-backs, releases, pool gets/puts and trims over
 * four reservations. Every object the source hands out is tracked with its
 * owner (pool, a reservation, taken, got, freed); after every step the
 * model's counts must equal the pool's, every object must be where the model
 * says it is (a take returns an object held by that reservation, with a zero
 * link word), the source must never see a free of an object still in use,
 * and caller misuse (take from an empty reservation, too many give-backs,
 * NULL arguments) must warn and change nothing.
 */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include "fa_test.h"
#define FZ_NAME "reserve"
#include "fz_input.h"
#include <fencealloc/reserve.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FZ_RES 4
#define FZ_OBJS 512
#define FZ_SIZE 32

enum fz_where { FZ_FREED, FZ_POOL, FZ_HELD, FZ_TAKEN, FZ_GOT };

struct fz_obj {
	void *p;
	enum fz_where where;
	int res; /* reservation, for HELD / TAKEN */
};

static struct fz_obj fz_objs[FZ_OBJS];
static unsigned int fz_nobjs;
static unsigned long fz_step;
static unsigned long fz_fail_in; /* source allocation that fails: 1 = the next, 0 = none */
static unsigned long fz_frees_seen;

static struct fz_obj *fz_find(void *p)
{
	unsigned int i;

	for (i = 0; i < fz_nobjs; i++)
		if (fz_objs[i].p == p)
			return &fz_objs[i];
	return NULL;
}

static void *fz_alloc(void *ctx, size_t size, fa_gfp_t gfp)
{
	struct fz_obj *o;

	(void)ctx;
	(void)gfp;
	FZ_CHECK(size == FZ_SIZE);
	if (fz_fail_in && --fz_fail_in == 0)
		return NULL;
	if (fz_nobjs == FZ_OBJS)
		return NULL; /* the model's table is full: a source failure */
	o = &fz_objs[fz_nobjs++];
	o->p = malloc(size);
	if (!o->p) {
		fz_nobjs--;
		return NULL;
	}
	memset(o->p, 0xA5, size);
	o->where = FZ_POOL; /* in flight: the pool owns it until a reservation does */
	o->res = -1;
	return o->p;
}

static void fz_free(void *ctx, void *obj, size_t size)
{
	struct fz_obj *o = fz_find(obj);

	(void)ctx;
	FZ_CHECK(size == FZ_SIZE);
	FZ_CHECK(o != NULL);
	FZ_CHECK(o->where == FZ_POOL); /* never an object someone holds */
	free(o->p);
	o->p = NULL;
	o->where = FZ_FREED;
	fz_frees_seen++;
}

/* The model. */
struct fz_model {
	unsigned long charged, budget;
	unsigned int cached, cap;
	unsigned int count[FZ_RES], filled[FZ_RES];
};

static unsigned int fz_count(enum fz_where w, int res)
{
	unsigned int i, n = 0;

	for (i = 0; i < fz_nobjs; i++)
		if (fz_objs[i].where == w && (res < 0 || fz_objs[i].res == res))
			n++;
	return n;
}

static void fz_check(const struct fa_reserve_pool *p, struct fa_reserve *r, const struct fz_model *m)
{
	unsigned int i;

	FZ_CHECK(fa_reserve_pool_charged(p) == m->charged);
	FZ_CHECK(fa_reserve_pool_cached(p) == m->cached);
	FZ_CHECK(fz_count(FZ_POOL, -1) == m->cached);
	FZ_CHECK(m->charged == fz_count(FZ_HELD, -1) + fz_count(FZ_TAKEN, -1) + fz_count(FZ_GOT, -1));
	FZ_CHECK(m->budget == FA_RESERVE_NO_BUDGET || m->charged <= m->budget);
	for (i = 0; i < FZ_RES; i++) {
		FZ_CHECK(fa_reserve_count(&r[i]) == m->count[i]);
		FZ_CHECK(fz_count(FZ_HELD, (int)i) == m->count[i]);
		FZ_CHECK(m->count[i] <= m->filled[i]);
	}
	FZ_CHECK(p->source_allocs - p->source_frees == fz_nobjs - fz_count(FZ_FREED, -1));
	FZ_CHECK(p->source_frees == fz_frees_seen);
}

/* An object held in no reservation goes back to the pool: cached or freed. */
static void fz_model_stash(struct fz_model *m)
{
	if (m->cached < m->cap)
		m->cached++;
}

/* Pick the k-th object in state w (and reservation res unless < 0). */
static struct fz_obj *fz_pick(enum fz_where w, int res, unsigned int k)
{
	unsigned int i, n = fz_count(w, res);

	if (!n)
		return NULL;
	k %= n;
	for (i = 0; i < fz_nobjs; i++)
		if (fz_objs[i].where == w && (res < 0 || fz_objs[i].res == res) && k-- == 0)
			return &fz_objs[i];
	return NULL;
}

static void fz_op(struct fz_in *in, struct fa_reserve_pool *p, struct fa_reserve *r, struct fz_model *m)
{
	unsigned int op = fz_byte(in) % 10, ri = fz_byte(in) % FZ_RES, arg = fz_byte(in);
	unsigned long w0 = fa_test_warnings();
	struct fz_obj *o;
	void *obj;
	int rc;

	if (getenv("FZ_TRACE"))
		fprintf(stderr, "step %lu: op %u res %u arg %u (charged %lu cached %u)\n", fz_step,
			op, ri, arg, m->charged, m->cached);
	switch (op) {
	case 0:
	case 1: { /* fill, with a source failure somewhere or nowhere */
		unsigned int n = arg % 9, i, from_cache, need_src;
		unsigned long allocs0 = p->source_allocs;

		fz_fail_in = (arg & 0x80) ? 1 + (fz_byte(in) % 8) : 0;
		from_cache = n < m->cached ? n : m->cached;
		need_src = n - from_cache;
		rc = fa_reserve_fill(&r[ri], n, FA_GFP_KERNEL);
		if (m->budget != FA_RESERVE_NO_BUDGET && n > m->budget - m->charged) {
			FZ_CHECK(rc == -FA_ENOSPC);
		} else if (rc == -FA_ENOMEM) {
			/* everything obtained went back: nothing held, budget unchanged */
			unsigned long got = p->source_allocs - allocs0;

			FZ_CHECK(need_src > 0 && got < need_src);
			for (i = 0; i < got; i++)
				fz_model_stash(m);
			/* the cached objects taken first came back too */
		} else {
			FZ_CHECK(rc == 0);
			FZ_CHECK(p->source_allocs - allocs0 == need_src);
			/* everything in flight (POOL and not cached any more) is now held by ri */
			m->cached -= from_cache;
			m->count[ri] += n;
			m->filled[ri] += n;
			m->charged += n;
		}
		fz_fail_in = 0;
		/* The model cannot know which cached object went where without the
		 * links: re-derive ownership by walking the reservation. */
		{
			void *x;
			unsigned int k = 0;

			for (i = 0; i < fz_nobjs; i++)
				if (fz_objs[i].where == FZ_HELD && fz_objs[i].res == (int)ri)
					fz_objs[i].where = FZ_POOL;
			for (x = r[ri].head; x; x = *(void **)x) {
				o = fz_find(x);
				FZ_CHECK(o && o->where == FZ_POOL);
				o->where = FZ_HELD;
				o->res = (int)ri;
				k++;
			}
			FZ_CHECK(k == m->count[ri]);
		}
		break;
	}
	case 2:
	case 3: /* take */
		obj = fa_reserve_take(&r[ri]);
		if (!m->count[ri]) {
			FZ_CHECK(obj == NULL && fa_test_warnings() == w0 + 1);
			break;
		}
		o = fz_find(obj);
		FZ_CHECK(o && o->where == FZ_HELD && o->res == (int)ri);
		FZ_CHECK(*(void **)obj == NULL);
		memset((char *)obj + sizeof(void *), 0x5A, FZ_SIZE - sizeof(void *));
		o->where = FZ_TAKEN;
		m->count[ri]--;
		break;
	case 4: /* give back one taken from this reservation, or misuse */
		o = fz_pick(FZ_TAKEN, (int)ri, arg);
		if (!o || (arg & 0x40) || m->count[ri] >= m->filled[ri]) {
			unsigned int c = m->count[ri];

			if (m->count[ri] >= m->filled[ri] && o) {
				fa_reserve_give_back(&r[ri], o->p);
				FZ_CHECK(fa_test_warnings() == w0 + 1);
			} else {
				fa_reserve_give_back(&r[ri], NULL);
				FZ_CHECK(fa_test_warnings() == w0 + 1);
			}
			FZ_CHECK(m->count[ri] == c);
			break;
		}
		fa_reserve_give_back(&r[ri], o->p);
		FZ_CHECK(fa_test_warnings() == w0);
		o->where = FZ_HELD;
		m->count[ri]++;
		break;
	case 5: /* release: the held objects go back to the pool (cache or source) */
		while ((o = fz_pick(FZ_HELD, (int)ri, 0)) != NULL) {
			o->where = FZ_POOL;
			o->res = -1;
		}
		fa_reserve_release(&r[ri]);
		/* objects the source freed were marked FREED by fz_free: what is
		 * left in the pool is the cache */
		m->charged -= m->count[ri];
		m->count[ri] = 0;
		m->filled[ri] = 0;
		m->cached = fz_count(FZ_POOL, -1);
		FZ_CHECK(m->cached <= m->cap);
		break;
	case 6: /* pool get */
		rc = fa_reserve_pool_get(p, FA_GFP_KERNEL, &obj);
		if (m->budget != FA_RESERVE_NO_BUDGET && m->charged >= m->budget) {
			FZ_CHECK(rc == -FA_ENOSPC);
			break;
		}
		if (rc == -FA_ENOMEM)
			break;
		FZ_CHECK(rc == 0);
		o = fz_find(obj);
		FZ_CHECK(o && o->where == FZ_POOL && *(void **)obj == NULL);
		o->where = FZ_GOT;
		if (m->cached) {
			FZ_CHECK(p->cached == m->cached - 1); /* the cache is used first */
			m->cached--;
		}
		m->charged++;
		break;
	case 7: { /* pool put: a got object, or one taken from a reservation */
		enum fz_where w = (arg & 1) ? FZ_GOT : FZ_TAKEN;

		o = fz_pick(w, -1, arg >> 1);
		if (!o) {
			fa_reserve_pool_put(p, NULL);
			FZ_CHECK(fa_test_warnings() == w0 + 1);
			break;
		}
		o->where = FZ_POOL;
		o->res = -1;
		fa_reserve_pool_put(p, o->p);
		FZ_CHECK(fa_test_warnings() == w0);
		fz_model_stash(m);
		m->charged--;
		break;
	}
	case 8: { /* trim */
		unsigned int n = fa_reserve_pool_trim(p);

		FZ_CHECK(n == m->cached);
		m->cached = 0;
		break;
	}
	default: /* NULL arguments: warn or refuse, change nothing */
		FZ_CHECK(fa_reserve_take(NULL) == NULL);
		fa_reserve_release(NULL);
		fa_reserve_give_back(NULL, NULL);
		FZ_CHECK(fa_reserve_fill(NULL, 1, FA_GFP_KERNEL) == -FA_EINVAL);
		FZ_CHECK(fa_reserve_pool_get(p, FA_GFP_KERNEL, NULL) == -FA_EINVAL);
		FZ_CHECK(fa_reserve_pool_get(NULL, FA_GFP_KERNEL, &obj) == -FA_EINVAL);
		FZ_CHECK(fa_reserve_pool_trim(NULL) == 0);
		FZ_CHECK(fa_reserve_count(NULL) == 0);
		FZ_CHECK(fa_test_warnings() > w0);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fa_reserve_source src = { fz_alloc, fz_free, NULL };
	struct fa_reserve_pool pool;
	struct fa_reserve r[FZ_RES];
	struct fz_model m;
	struct fz_in in = { data, size };
	unsigned int i, b;

	fz_nobjs = 0;
	fz_step = 0;
	fz_fail_in = 0;
	fz_frees_seen = 0;
	memset(&m, 0, sizeof(m));
	m.cap = fz_byte(&in) % 12;
	b = fz_byte(&in);
	m.budget = b >= 200 ? FA_RESERVE_NO_BUDGET : b % 48;
	FZ_CHECK(fa_reserve_pool_init(&pool, &src, FZ_SIZE, m.cap, m.budget) == 0);
	for (i = 0; i < FZ_RES; i++)
		fa_reserve_init(&r[i], &pool);
	fz_check(&pool, r, &m);
	while (in.n > 0 && fz_step < 2000) {
		fz_step++;
		fz_op(&in, &pool, r, &m);
		fz_check(&pool, r, &m);
	}
	/* teardown: everything goes back, the source sees every object freed once */
	for (i = 0; i < fz_nobjs; i++) {
		if (fz_objs[i].where == FZ_HELD)
			fz_objs[i].where = FZ_POOL;
	}
	for (i = 0; i < FZ_RES; i++)
		fa_reserve_release(&r[i]);
	for (i = 0; i < fz_nobjs; i++) {
		if (fz_objs[i].where == FZ_TAKEN || fz_objs[i].where == FZ_GOT) {
			fz_objs[i].where = FZ_POOL;
			fa_reserve_pool_put(&pool, fz_objs[i].p);
		}
	}
	FZ_CHECK(fa_reserve_pool_charged(&pool) == 0);
	fa_reserve_pool_fini(&pool);
	FZ_CHECK(pool.source_allocs == pool.source_frees);
	for (i = 0; i < fz_nobjs; i++)
		FZ_CHECK(fz_objs[i].where == FZ_FREED);
	return 0;
}
