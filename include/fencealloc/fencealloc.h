/* SPDX-License-Identifier: MIT */
/**
 * @file fencealloc.h
 * @brief Umbrella header: includes every fencealloc module.
 */
#ifndef FA_FENCEALLOC_H
#define FA_FENCEALLOC_H

#include "base.h"
#include "signalling.h"
#include "buddy.h"
#include "reserve.h"
#include "deferred.h"
#include "pramin.h"
#include "pt_formats.h"
#include "pt.h"
#include "ptalloc.h"

#endif /* FA_FENCEALLOC_H */
