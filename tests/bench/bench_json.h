/* SPDX-License-Identifier: MIT */
/*
 * Benchmark helpers shared by tests/bench/bench_*.c:
 *  - repeated samples of one figure and their min / median / max (the
 *    machine is shared, so a single run says little);
 *  - a small streaming JSON writer behind `--json FILE`, so plots are drawn
 *    from real runs. Without --json every writer call does nothing.
 *
 * Writer use: bj_open_args(&argc, argv) strips "--json FILE" from the
 * arguments and opens FILE; then nested bj_begin(key) / bj_end(), values with
 * bj_num / bj_u64 / bj_str / bj_stat; bj_close() at the end. A NULL key is an
 * array element or the top-level object.
 */
#ifndef BENCH_JSON_H
#define BENCH_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BS_MAX 64

/* Samples of one figure. */
struct bs {
	double v[BS_MAX];
	int n;
};

static inline void bs_add(struct bs *s, double v)
{
	if (s->n < BS_MAX)
		s->v[s->n++] = v;
}

static inline int bs__cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static inline double bs_min(const struct bs *s)
{
	double m = s->n ? s->v[0] : 0;
	int i;

	for (i = 1; i < s->n; i++)
		m = s->v[i] < m ? s->v[i] : m;
	return m;
}

static inline double bs_max(const struct bs *s)
{
	double m = s->n ? s->v[0] : 0;
	int i;

	for (i = 1; i < s->n; i++)
		m = s->v[i] > m ? s->v[i] : m;
	return m;
}

/* Median (lower middle for an even count). */
static inline double bs_median(const struct bs *s)
{
	double t[BS_MAX];

	if (!s->n)
		return 0;
	memcpy(t, s->v, sizeof(t[0]) * (size_t)s->n);
	qsort(t, (size_t)s->n, sizeof(t[0]), bs__cmp);
	return t[(s->n - 1) / 2];
}

/* The JSON writer: one output file per program. */
static struct {
	FILE *f;
	int depth;
	bool first[16];
	bool array[16];
} bj;

static inline void bj__sep(const char *key)
{
	if (!bj.f)
		return;
	if (bj.depth > 0) {
		if (!bj.first[bj.depth])
			fputc(',', bj.f);
		bj.first[bj.depth] = false;
		fprintf(bj.f, "\n%*s", 2 * bj.depth, "");
	}
	if (key)
		fprintf(bj.f, "\"%s\": ", key);
}

static inline void bj__open(const char *key, char c, bool array)
{
	if (!bj.f)
		return;
	bj__sep(key);
	fputc(c, bj.f);
	bj.depth++;
	bj.first[bj.depth] = true;
	bj.array[bj.depth] = array;
}

/* Begin an object (bj_begin) or an array (bj_begin_array) under key. */
static inline void bj_begin(const char *key)
{
	bj__open(key, '{', false);
}

static inline void bj_begin_array(const char *key)
{
	bj__open(key, '[', true);
}

static inline void bj_end(void)
{
	if (!bj.f || bj.depth == 0)
		return;
	bj.depth--;
	fprintf(bj.f, "\n%*s%c", 2 * bj.depth, "", bj.array[bj.depth + 1] ? ']' : '}');
}

static inline void bj_num(const char *key, double v)
{
	if (!bj.f)
		return;
	bj__sep(key);
	if (v != v || v > 1e300 || v < -1e300)
		fputs("null", bj.f);	/* JSON has no NaN or infinity */
	else
		fprintf(bj.f, "%.6g", v);
}

static inline void bj_u64(const char *key, uint64_t v)
{
	if (!bj.f)
		return;
	bj__sep(key);
	fprintf(bj.f, "%llu", (unsigned long long)v);
}

static inline void bj_str(const char *key, const char *s)
{
	if (!bj.f)
		return;
	bj__sep(key);
	fputc('"', bj.f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', bj.f);
		if ((unsigned char)*s >= 0x20)
			fputc(*s, bj.f);
	}
	fputc('"', bj.f);
}

/* A pair [a, b] as an array element (CDF points, series). */
static inline void bj_pair_u64(uint64_t a, uint64_t b)
{
	if (!bj.f)
		return;
	bj__sep(NULL);
	fprintf(bj.f, "[%llu, %llu]", (unsigned long long)a, (unsigned long long)b);
}

/* {"min": …, "median": …, "max": …, "n": …} of repeated samples. */
static inline void bj_stat(const char *key, const struct bs *s)
{
	bj_begin(key);
	bj_num("min", bs_min(s));
	bj_num("median", bs_median(s));
	bj_num("max", bs_max(s));
	bj_u64("n", (uint64_t)s->n);
	bj_end();
}

/* The same with every sample multiplied by scale (e.g. 1 / pages: per page). */
static inline void bj_stat_scaled(const char *key, const struct bs *s, double scale)
{
	bj_begin(key);
	bj_num("min", bs_min(s) * scale);
	bj_num("median", bs_median(s) * scale);
	bj_num("max", bs_max(s) * scale);
	bj_u64("n", (uint64_t)s->n);
	bj_end();
}

/*
 * Strip "--json FILE" (or "--json=FILE") from argv, open FILE and begin the
 * top-level object. Returns 0, or -1 (missing file name, cannot open).
 */
static inline int bj_open_args(int *argc, char **argv)
{
	int i, j;
	const char *path = NULL;

	for (i = 1; i < *argc; i++) {
		int eat = 0;

		if (!strcmp(argv[i], "--json")) {
			if (i + 1 >= *argc) {
				fprintf(stderr, "--json needs a file name\n");
				return -1;
			}
			path = argv[i + 1];
			eat = 2;
		} else if (!strncmp(argv[i], "--json=", 7)) {
			path = argv[i] + 7;
			eat = 1;
		}
		if (eat) {
			for (j = i; j + eat < *argc; j++)
				argv[j] = argv[j + eat];
			*argc -= eat;
			argv[*argc] = NULL;
			i--;
		}
	}
	if (!path)
		return 0;
	bj.f = fopen(path, "w");
	if (!bj.f) {
		perror(path);
		return -1;
	}
	bj.depth = 0;
	bj__open(NULL, '{', false);
	return 0;
}

/* Close every open object and the file. Returns 0, or -1 on a write error. */
static inline int bj_close(void)
{
	int rc;

	if (!bj.f)
		return 0;
	while (bj.depth > 0)
		bj_end();
	fputc('\n', bj.f);
	rc = ferror(bj.f) ? -1 : 0;
	if (fclose(bj.f))
		rc = -1;
	bj.f = NULL;
	return rc;
}

#endif
