/* SPDX-License-Identifier: MIT */
/*
 * The driver side of the documentation's examples: names a driver supplies
 * that no fencealloc header defines, declared here so that
 * tests/scripts/check_examples.sh can compile every example as C11 and C++17.
 * Kernel names keep their kernel signatures; nothing here is ever run.
 */
#ifndef FA_EXAMPLE_ENV_H
#define FA_EXAMPLE_ENV_H

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* clock_gettime() in the VMM's headers */
#endif

#include <assert.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <fencealloc/base.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef unsigned int gfp_t;
#define GFP_KERNEL 0u
#define SZ_4K 4096ull
typedef struct { int locked; } spinlock_t;
void *kvmalloc(size_t size, gfp_t gfp);
void kvfree(const void *p);
void spin_lock(spinlock_t *l);
void spin_unlock(spinlock_t *l);

#ifdef __cplusplus
}
#endif

#endif
