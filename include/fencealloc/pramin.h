/* SPDX-License-Identifier: MIT */
/**
 * @file pramin.h
 * @brief Page-table memory accessor trait, with direct and PRAMIN-window implementations.
 *
 * (Being written.)
 */
#ifndef FA_PRAMIN_H
#define FA_PRAMIN_H

#include "base.h"

#endif /* FA_PRAMIN_H */
