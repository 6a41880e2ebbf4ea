/* SPDX-License-Identifier: MIT */
/**
 * @file pt.h
 * @brief Refcounted multi-level GPU page-table tree with deferred free.
 *
 * The format descriptors and entry encoders/decoders live in pt_formats.h,
 * included from here. The tree (ref / map / unmap / unref / estimate /
 * translate) follows.
 */
#ifndef FA_PT_H
#define FA_PT_H

#include "base.h"
#include "pt_formats.h"

#endif /* FA_PT_H */
