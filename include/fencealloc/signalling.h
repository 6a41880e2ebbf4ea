/* SPDX-License-Identifier: MIT */
/**
 * @file signalling.h
 * @brief Signalling validator: lockdep-style checks for fence-signalling deadlocks.
 *
 * (Being written.)
 */
#ifndef FA_SIGNALLING_H
#define FA_SIGNALLING_H

#include "base.h"

/**
 * Annotate an allocation with context @p gfp (see #fa_gfp_t); reports an
 * allocation that may reclaim inside a fence-signalling section.
 */
#define fa_signalling_might_alloc(gfp) ((void)(gfp))

#endif /* FA_SIGNALLING_H */
