/* SPDX-License-Identifier: MIT */
/*
 * The one translation unit that holds the signalling validator (its state and
 * reporting code). Every other unit is built with -DFA_VALIDATE, as this one:
 * `pkg-config --cflags --libs fencealloc-validate`, or the fencealloc::validate
 * target in CMake, or dependency('fencealloc-validate') in Meson.
 */
#define FA_SIGNALLING_IMPLEMENTATION
#include <fencealloc/signalling.h>
