/* SPDX-License-Identifier: MIT */
/**
 * @file reserve.h
 * @brief Preallocation reservations: filled at submit, drawn at run, returned at cleanup.
 *
 * (Being written.)
 */
#ifndef FA_RESERVE_H
#define FA_RESERVE_H

#include "base.h"

#include "signalling.h"

#endif /* FA_RESERVE_H */
