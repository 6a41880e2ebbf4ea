/* SPDX-License-Identifier: MIT */
/**
 * @file deferred.h
 * @brief Deferred-free list: pushed in the run stage, drained in cleanup after an epoch.
 *
 * (Being written.)
 */
#ifndef FA_DEFERRED_H
#define FA_DEFERRED_H

#include "base.h"

#endif /* FA_DEFERRED_H */
