/* SPDX-License-Identifier: MIT */
/*
 * The smallest fencealloc program: the stage contract with base.h alone.
 *
 * "Run stage" threads finish jobs and hand them back with fa_llist_push(),
 * which never allocates and never blocks, as code inside a fence-signalling
 * section must. A "cleanup" thread takes everything at once with
 * fa_llist_del_all(), restores completion order, and frees the jobs, the only
 * place where freeing is allowed. Epochs compare wrap-safely with
 * fa_seq64_after(), and sizes are rounded with the checked fa_align_up().
 *
 *   cc -std=c11 -O2 -pthread -Iinclude examples/basic.c -o basic && ./basic
 */
#include <fencealloc/base.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define RUNNERS 3
#define JOBS_PER_RUNNER 20000

struct job {
	uint64_t epoch;               /* completion epoch, wraps near 2^64 */
	uint64_t bytes;               /* page-aligned size the job mapped */
	struct fa_llist_node done;    /* linked by the run stage, no allocation */
};

static struct fa_llist completed;
static struct job *jobs;

/* Run stage: no allocation, no lock, just publish the finished job. */
static void *runner(void *arg)
{
	uintptr_t id = (uintptr_t)arg;
	unsigned int i;

	for (i = 0; i < JOBS_PER_RUNNER; i++)
		fa_llist_push(&jobs[id * JOBS_PER_RUNNER + i].done, &completed);
	return NULL;
}

/* Cleanup stage: take all, oldest first, free what may be freed. */
static unsigned long cleanup_pass(uint64_t *bytes, unsigned long *out_of_order)
{
	struct fa_llist_node *n = fa_llist_reverse(fa_llist_del_all(&completed));
	static uint64_t last_epoch[RUNNERS];
	static bool seen[RUNNERS];
	unsigned long count = 0;

	while (n) {
		struct job *j = FA_CONTAINER_OF(n, struct job, done);
		size_t runner_id = (size_t)(j - jobs) / JOBS_PER_RUNNER;

		n = n->next;
		/* per runner, completions arrive in order even across the wrap */
		if (seen[runner_id] && !fa_seq64_after(j->epoch, last_epoch[runner_id]))
			(*out_of_order)++;
		last_epoch[runner_id] = j->epoch;
		seen[runner_id] = true;
		*bytes += j->bytes;
		count++;
	}
	return count;
}

int main(void)
{
	pthread_t threads[RUNNERS];
	unsigned long taken = 0, passes = 0, out_of_order = 0;
	uint64_t bytes = 0, expect_bytes = 0;
	uintptr_t r;
	unsigned int i;

	jobs = (struct job *)calloc(RUNNERS * JOBS_PER_RUNNER, sizeof(*jobs));
	if (!jobs)
		return 1;
	/* Submit stage: everything the jobs need is allocated and sized here. */
	for (i = 0; i < RUNNERS * JOBS_PER_RUNNER; i++) {
		uint64_t size = 1 + (i * 2654435761u) % (1u << 20);

		jobs[i].epoch = FA_U64_MAX - 1000 + i % JOBS_PER_RUNNER; /* crosses the wrap */
		if (fa_align_up(size, 4096, &jobs[i].bytes) != 0)
			return 1;
		expect_bytes += jobs[i].bytes;
	}
	fa_llist_init(&completed);
	for (r = 0; r < RUNNERS; r++)
		if (pthread_create(&threads[r], NULL, runner, (void *)r) != 0)
			return 1;
	while (taken < RUNNERS * JOBS_PER_RUNNER) {
		unsigned long n = cleanup_pass(&bytes, &out_of_order);

		taken += n;
		passes += n != 0;
	}
	for (r = 0; r < RUNNERS; r++)
		pthread_join(threads[r], NULL);

	printf("fencealloc %d.%d.%d basic example\n", FA_VERSION_MAJOR, FA_VERSION_MINOR,
	       FA_VERSION_PATCH);
	printf("  run stage:     %d threads published %d jobs lock-free, no allocation\n",
	       RUNNERS, RUNNERS * JOBS_PER_RUNNER);
	printf("  cleanup stage: took %lu jobs in %lu passes, %llu MiB page-aligned\n", taken,
	       passes, (unsigned long long)(bytes >> 20));
	printf("  checks:        %s (bytes %s, %lu out-of-order epochs across the 2^64 wrap)\n",
	       bytes == expect_bytes && !out_of_order ? "OK" : "FAILED",
	       bytes == expect_bytes ? "match" : "differ", out_of_order);
	free(jobs);
	return bytes == expect_bytes && !out_of_order ? 0 : 1;
}
