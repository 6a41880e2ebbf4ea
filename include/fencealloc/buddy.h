/* SPDX-License-Identifier: MIT */
/**
 * @file buddy.h
 * @brief Non-reclaiming buddy allocator for VRAM and GPU VA ranges.
 *
 * (Being written.)
 */
#ifndef FA_BUDDY_H
#define FA_BUDDY_H

#include "base.h"

#endif /* FA_BUDDY_H */
