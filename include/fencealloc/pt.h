/* SPDX-License-Identifier: MIT */
/**
 * @file pt.h
 * @brief Refcounted multi-level GPU page-table tree with deferred free.
 *
 * (Being written.)
 */
#ifndef FA_PT_H
#define FA_PT_H

#include "base.h"

#endif /* FA_PT_H */
