/* SPDX-License-Identifier: MIT */
/*
 * xoshiro256** PRNG (Blackman & Vigna), seeded through splitmix64, for
 * randomized tests, fuzz models and benchmark traces. Deterministic for a seed.
 */
#ifndef FA_RNG_H
#define FA_RNG_H

#include <stdint.h>

__extension__ typedef unsigned __int128 fa_rng__u128;

struct fa_rng {
	uint64_t s[4];
};

static inline uint64_t fa_rng__rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline void fa_rng_seed(struct fa_rng *r, uint64_t seed)
{
	int i;

	for (i = 0; i < 4; i++) {
		uint64_t z = (seed += 0x9e3779b97f4a7c15ULL);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		r->s[i] = z ^ (z >> 31);
	}
}

static inline uint64_t fa_rng_next(struct fa_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = fa_rng__rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = fa_rng__rotl(s[3], 45);
	return result;
}

/* Uniform in [0, n), n > 0 (Lemire's multiply-shift; bias negligible for tests). */
static inline uint64_t fa_rng_below(struct fa_rng *r, uint64_t n)
{
	return (uint64_t)(((fa_rng__u128)fa_rng_next(r) * n) >> 64);
}

#endif /* FA_RNG_H */
