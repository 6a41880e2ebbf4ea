/* SPDX-License-Identifier: MIT */
/*
 * The demo's job timeline as Chrome trace-event JSON (`demo --trace=FILE`),
 * which Perfetto (ui.perfetto.dev) and chrome://tracing open: one complete
 * event ("ph":"X") per job and stage, on the thread that ran it,
 *
 *   submit   on the submitter thread: vmm_host_submit(), after which the job's
 *            fence is published (an instant event "fence published");
 *   run      on the scheduler thread: the run stage, ending where the fence
 *            signals (its fence callback);
 *   cleanup  on the cleanup worker: vmm_job_cleanup();
 *
 * plus an instant event for every host allocation ("alloc") and free, on the
 * thread that made it, with its stage. A trace file's events all come from the
 * run that wrote it.
 *
 * How the recorder sees the VMM's threads without hooks inside the host or the core: the
 * submit span is timed around vmm_host_submit(); a fence callback registered
 * right after the submit runs on the scheduler thread as the job's fence
 * signals, and reads the run stage's own duration sample (lat_run, written by
 * that thread only, just before the signal). The scheduler and the cleanup
 * worker are single threads and the worker cleans jobs in the order they ran,
 * so the job's cleanup is sample number k of lat_cleanup / lat_e2e when its
 * run was sample k; its end is the job's submit start plus its end-to-end
 * latency. A job whose fence signalled before its callback was registered
 * has no run or cleanup events (counted in the file's "otherData").
 *
 * Recording never allocates and takes no lock (the callback runs inside the
 * signalling section, under the fence's timeline lock): every array is
 * allocated by demo_trace_init() before the workload starts; once full,
 * further jobs and allocations are counted, not recorded.
 */
#ifndef VMM_HOST_TRACE_H
#define VMM_HOST_TRACE_H

#include "vmm/host/host.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEMO_TRACE_MAX_JOBS 30000u
#define DEMO_TRACE_MAX_ALLOCS 150000u
#define DEMO_TRACE_MAX_THREADS 64u
#define DEMO_TRACE_NO_RUN UINT64_MAX

struct demo_trace_job {
	struct vmm_fence_cb cb;
	uint64_t submit_t0, submit_t1; /* around vmm_host_submit() */
	uint64_t t_submit_vmm;         /* the VMM's own submit timestamp (job->t_submit) */
	uint64_t signal_t;             /* fence callback time, on the scheduler thread */
	uint64_t run_k;                /* index of its run in lat_run, or DEMO_TRACE_NO_RUN */
	unsigned int submit_tid, run_tid, ops;
	int done;                      /* the callback ran (atomic) */
};

struct demo_trace_alloc {
	uint64_t t;
	uint64_t size;
	unsigned int tid;
	int is_free, in_run;
};

struct demo_trace {
	const struct vmm_host *dev;
	struct demo_trace_job *jobs;
	struct demo_trace_alloc *allocs;
	unsigned long njobs, nallocs;             /* slots taken (atomic; may exceed the cap) */
	unsigned int nthreads;                    /* ids handed out (atomic) */
	const char *thread_name[DEMO_TRACE_MAX_THREADS];
	unsigned int thread_index[DEMO_TRACE_MAX_THREADS]; /* submitter number */
	uint64_t t0;                              /* timestamps are written relative to this */
};

/* The one recorder of the process (the allocator hook has no other way to reach it). */
static struct demo_trace *demo_trace_g;

/* Small thread ids for the trace, handed out at a thread's first event. */
static inline unsigned int demo_trace_tid(struct demo_trace *tr, const char *name,
					  unsigned int index)
{
	static VMM_HOST__THREAD_LOCAL unsigned int tid;

	if (!tid) {
		tid = __atomic_add_fetch(&tr->nthreads, 1, __ATOMIC_RELAXED);
		if (tid < DEMO_TRACE_MAX_THREADS && name) {
			tr->thread_name[tid] = name;
			tr->thread_index[tid] = index;
		}
	}
	return tid;
}

/* @stage setup, before any job: allocates every array. */
static inline int demo_trace_init(struct demo_trace *tr, const struct vmm_host *dev)
{
	tr->dev = dev;
	tr->jobs = (struct demo_trace_job *)calloc(DEMO_TRACE_MAX_JOBS, sizeof(*tr->jobs));
	tr->allocs = (struct demo_trace_alloc *)calloc(DEMO_TRACE_MAX_ALLOCS, sizeof(*tr->allocs));
	if (!tr->jobs || !tr->allocs) {
		free(tr->jobs);
		free(tr->allocs);
		return -FA_ENOMEM;
	}
	tr->t0 = vmm_host_now_ns();
	demo_trace_g = tr;
	return 0;
}

static inline void demo_trace_fini(struct demo_trace *tr)
{
	demo_trace_g = NULL;
	free(tr->jobs);
	free(tr->allocs);
}

/* A submitter thread names itself once. */
static inline void demo_trace_thread(struct demo_trace *tr, const char *name, unsigned int index)
{
	if (tr)
		(void)demo_trace_tid(tr, name, index);
}

/* Fence callback: the scheduler thread, inside the job's run stage. */
static inline void demo_trace_signalled(struct vmm_fence *f, struct vmm_fence_cb *cb)
{
	struct demo_trace_job *j = FA_CONTAINER_OF(cb, struct demo_trace_job, cb);
	struct demo_trace *tr = demo_trace_g;
	unsigned long n = __atomic_load_n(&tr->dev->lat_run.n, __ATOMIC_RELAXED);

	(void)f;
	j->signal_t = vmm_host_now_ns();
	j->run_tid = demo_trace_tid(tr, "scheduler", 0);
	if (j->run_tid < DEMO_TRACE_MAX_THREADS)
		tr->thread_name[j->run_tid] = "scheduler";
	j->run_k = n ? n - 1 : DEMO_TRACE_NO_RUN;
	__atomic_store_n(&j->done, 1, __ATOMIC_RELEASE);
}

/* After a successful vmm_host_submit() that started at @t0: record the submit
 * span, and ask for the fence's signal. @stage submit. */
static inline void demo_trace_submit(struct demo_trace *tr, uint64_t t0, struct vmm_fence *f,
				     unsigned int nops)
{
	unsigned long i;
	struct demo_trace_job *j;

	if (!tr)
		return;
	i = __atomic_fetch_add(&tr->njobs, 1, __ATOMIC_RELAXED);
	if (i >= DEMO_TRACE_MAX_JOBS)
		return;
	j = &tr->jobs[i];
	j->submit_t0 = t0;
	j->submit_t1 = vmm_host_now_ns();
	j->t_submit_vmm = FA_CONTAINER_OF(f, struct vmm_host_job, fence)->t_submit;
	j->submit_tid = demo_trace_tid(tr, NULL, 0);
	j->ops = nops;
	j->run_k = DEMO_TRACE_NO_RUN;
	if (vmm_fence_add_callback(f, &j->cb, demo_trace_signalled))
		j->run_k = DEMO_TRACE_NO_RUN; /* already signalled: not traced */
}

/* From the host allocator: one allocation or free of @size bytes. */
static inline void demo_trace_alloc_event(uint64_t size, int is_free, int in_run)
{
	struct demo_trace *tr = demo_trace_g;
	unsigned long i;

	if (!tr)
		return;
	i = __atomic_fetch_add(&tr->nallocs, 1, __ATOMIC_RELAXED);
	if (i >= DEMO_TRACE_MAX_ALLOCS)
		return;
	tr->allocs[i].t = vmm_host_now_ns();
	tr->allocs[i].size = size;
	tr->allocs[i].tid = demo_trace_tid(tr, NULL, 0);
	tr->allocs[i].is_free = is_free;
	tr->allocs[i].in_run = in_run;
}

static inline double demo_trace_us(const struct demo_trace *tr, uint64_t t)
{
	return t >= tr->t0 ? (double)(t - tr->t0) / 1e3 : -(double)(tr->t0 - t) / 1e3;
}

/*
 * Write the JSON. Call once the device is idle (every job cleaned) and before
 * it is destroyed (the latency samples live in it). The cleanup worker never
 * names itself: it is the one thread that is neither a submitter, the
 * scheduler nor the main thread; its id is taken from its frees, or made up.
 * Returns 0 or -1 (the file could not be written).
 */
static inline int demo_trace_write(struct demo_trace *tr, const char *path)
{
	const struct vmm_host *dev = tr->dev;
	unsigned long nj = tr->njobs < DEMO_TRACE_MAX_JOBS ? tr->njobs : DEMO_TRACE_MAX_JOBS;
	unsigned long na = tr->nallocs < DEMO_TRACE_MAX_ALLOCS ? tr->nallocs : DEMO_TRACE_MAX_ALLOCS;
	unsigned long i, untraced = 0;
	unsigned int t, nt = tr->nthreads < DEMO_TRACE_MAX_THREADS ? tr->nthreads + 1 : DEMO_TRACE_MAX_THREADS;
	unsigned int cleanup_tid = 0;
	const char *sep = "";
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	for (i = 0; i < na && !cleanup_tid; i++)
		if (tr->allocs[i].tid < nt && !tr->thread_name[tr->allocs[i].tid] && tr->allocs[i].is_free)
			cleanup_tid = tr->allocs[i].tid;
	if (!cleanup_tid)
		cleanup_tid = nt; /* no free seen on it: a made-up id */
	fprintf(f, "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n");
	for (t = 1; t < nt || t == cleanup_tid; t++) {
		const char *name = tr->thread_name[t < nt ? t : 0];
		char buf[48];

		if (t == cleanup_tid)
			name = "cleanup";
		else if (!name)
			name = "main";
		if (!strcmp(name, "submitter")) {
			snprintf(buf, sizeof(buf), "submitter %u", tr->thread_index[t]);
			name = buf;
		}
		fprintf(f, "%s{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":%u,"
			   "\"args\":{\"name\":\"%s\"}}", sep, t, name);
		sep = ",\n";
	}
	for (i = 0; i < nj; i++) {
		const struct demo_trace_job *j = &tr->jobs[i];
		uint64_t k = j->run_k, run, cl, end;

		fprintf(f, "%s{\"name\":\"submit\",\"cat\":\"submit\",\"ph\":\"X\",\"ts\":%.3f,"
			   "\"dur\":%.3f,\"pid\":1,\"tid\":%u,\"args\":{\"job\":%lu,\"ops\":%u}}",
			sep, demo_trace_us(tr, j->submit_t0),
			(double)(j->submit_t1 - j->submit_t0) / 1e3, j->submit_tid, i, j->ops);
		fprintf(f, ",\n{\"name\":\"fence published\",\"cat\":\"submit\",\"ph\":\"i\",\"s\":\"t\","
			   "\"ts\":%.3f,\"pid\":1,\"tid\":%u,\"args\":{\"job\":%lu}}",
			demo_trace_us(tr, j->submit_t1), j->submit_tid, i);
		if (!__atomic_load_n(&j->done, __ATOMIC_ACQUIRE) || k == DEMO_TRACE_NO_RUN ||
		    k >= dev->lat_run.cap || k >= dev->lat_cleanup.cap || k >= dev->lat_e2e.cap ||
		    k >= dev->lat_cleanup.n) {
			untraced++;
			continue;
		}
		run = dev->lat_run.ns[k];
		cl = dev->lat_cleanup.ns[k];
		end = j->t_submit_vmm + dev->lat_e2e.ns[k];
		fprintf(f, ",\n{\"name\":\"run\",\"cat\":\"run\",\"ph\":\"X\",\"ts\":%.3f,\"dur\":%.3f,"
			   "\"pid\":1,\"tid\":%u,\"args\":{\"job\":%lu,\"ops\":%u}}",
			demo_trace_us(tr, j->signal_t - run), (double)run / 1e3, j->run_tid, i, j->ops);
		fprintf(f, ",\n{\"name\":\"signal\",\"cat\":\"run\",\"ph\":\"i\",\"s\":\"t\",\"ts\":%.3f,"
			   "\"pid\":1,\"tid\":%u,\"args\":{\"job\":%lu}}",
			demo_trace_us(tr, j->signal_t), j->run_tid, i);
		fprintf(f, ",\n{\"name\":\"cleanup\",\"cat\":\"cleanup\",\"ph\":\"X\",\"ts\":%.3f,"
			   "\"dur\":%.3f,\"pid\":1,\"tid\":%u,\"args\":{\"job\":%lu}}",
			demo_trace_us(tr, end - cl), (double)cl / 1e3, cleanup_tid, i);
	}
	for (i = 0; i < na; i++) {
		const struct demo_trace_alloc *a = &tr->allocs[i];
		const char *cat = a->in_run ? "run" : a->tid == cleanup_tid ? "cleanup" : "submit";

		fprintf(f, ",\n{\"name\":\"%s\",\"cat\":\"%s\",\"ph\":\"i\",\"s\":\"t\",\"ts\":%.3f,"
			   "\"pid\":1,\"tid\":%u,\"args\":{\"bytes\":%" PRIu64 "}}",
			a->is_free ? "free" : "alloc", cat, demo_trace_us(tr, a->t), a->tid, a->size);
	}
	fprintf(f, "\n],\"otherData\":{\"jobs_recorded\":%lu,\"jobs_seen\":%lu,"
		   "\"jobs_without_run\":%lu,\"allocs_recorded\":%lu,\"allocs_seen\":%lu}}\n",
		nj, tr->njobs, untraced, na, tr->nallocs);
	return fclose(f) ? -1 : 0;
}

#endif
