/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the input picks a space (size in chunks, base) and then a
 * sequence of operations (every allocation kind and flag, frees, trims,
 * refused frees), each checked against the chunk model with fa_buddy_check()
 * after every step (tests/support/buddy_driver.h, shared with the unit test).
 */
#include "fa_test.h"
#include <fencealloc/buddy.h>
#include <stdio.h>

#include "buddy_driver.h"

struct fz_in {
	const uint8_t *p;
	size_t n;
};

/* Two input bytes per value: small numbers mutate well. */
static uint64_t fz_next(void *ctx)
{
	struct fz_in *in = (struct fz_in *)ctx;
	uint64_t v = 0;

	if (in->n >= 2) {
		v = (uint64_t)in->p[0] | ((uint64_t)in->p[1] << 8);
		in->p += 2;
		in->n -= 2;
	} else if (in->n == 1) {
		v = in->p[0];
		in->p++;
		in->n--;
	}
	return v;
}

static uint64_t fz_storage[1 << 12];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in;
	struct bd_src src;
	struct bd_state d;
	struct fa_buddy b;
	struct bm_model m;
	uint64_t nchunks, base;
	const char *err = NULL;
	unsigned long steps = 0;

	in.p = data;
	in.n = size;
	src.next = fz_next;
	src.ctx = &in;
	nchunks = 1 + fz_next(&in) % 600;
	base = (fz_next(&in) & 1) ? (uint64_t)1 << 44 : 0;
	if (fa_buddy_init(&b, fz_storage, sizeof(fz_storage), base, nchunks * 4096, 4096))
		__builtin_trap();
	bm_init(&m, nchunks);
	d.b = &b;
	d.m = &m;
	d.base = base;
	d.chunk = 4096;
	d.ops = d.misses = 0;
	while (in.n > 0 && steps++ < 4096) {
		err = bd_step(&d, &src);
		if (err) {
			fprintf(stderr, "buddy fuzz: %llu chunks, step %lu: %s\n",
				(unsigned long long)nchunks, steps, err);
			__builtin_trap();
		}
	}
	while (m.nlive) {
		struct bm_alloc a = m.live[0];

		if (fa_buddy_free(&b, base + a.pos * 4096, a.len * 4096))
			__builtin_trap();
		bm_on_free(&m, 0, false);
	}
	if (fa_buddy_avail(&b) != nchunks * 4096 || fa_buddy_check(&b, NULL))
		__builtin_trap();
	bm_fini(&m);
	return 0;
}
