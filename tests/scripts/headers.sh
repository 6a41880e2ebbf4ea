#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Every public header must compile on its own in every world fencealloc
# promises: C11 and C17 with gcc and clang, C++17 with g++ and clang++, with
# the signalling validator on, in a freestanding kernel-like configuration,
# and as 32-bit freestanding code that links no libgcc division helpers.
#
# Each check compiles a generated translation unit that includes the header
# (twice, to prove the include guard) and takes the address of every
# `static inline` function the header defines in that configuration, so the
# compiler must emit and diagnose every body. The function list comes from
# the preprocessed header, so new functions are picked up without edits here.
set -u

BUILD=${BUILD:-build}
CC=${CC:-gcc}
CXX=${CXX:-g++}
CLANG=${CLANG:-clang}
CLANGXX=${CLANGXX:-clang++}
out=$BUILD/headers
rm -rf "$out"
mkdir -p "$out"

WARN="-Wall -Wextra -Werror -pedantic -Wvla"
# The flags Debian's 6.1 kbuild uses that matter for header code, plus the
# house rules (declarations first, no VLAs, small frames, no FPU/SIMD).
KERNEL_LIKE="-std=gnu11 -O2 -ffreestanding -nostdinc -isystem $($CC -print-file-name=include)
 -mno-sse -mno-mmx -mno-sse2 -mno-80387 -mno-red-zone -mgeneral-regs-only
 -Wall -Wextra -Wundef -Wvla -Wframe-larger-than=1024 -Wdeclaration-after-statement
 -Wimplicit-fallthrough=5 -Wstrict-prototypes -Wmissing-prototypes -Werror"
# libgcc / compiler-rt helpers a 32-bit kernel cannot link (64-bit divide,
# modulo, and overflow-checked multiply).
HELPERS_RE='__(u?div|u?mod|udivmod|divmod|mulo)[dt]i[34]'

headers=$(ls include/fencealloc/*.h)
checks=0
failures=0

# static_inline_functions <compiler> <flags> <tu>: names of the fa_/FA_ static
# inline functions visible after preprocessing <tu> with those flags.
static_inline_functions() {
	# shellcheck disable=SC2086
	$1 $2 -Iinclude -E -P "$3" 2>/dev/null |
		perl -0777 -ne 'while (/\bstatic\s+(?:__inline__|__inline|inline)\b[^;{}]*?\b((?:fa|FA)_\w*)\s*\(/g) { print "$1\n" }' |
		sort -u
}

# gen_tu <file> <compiler> <flags> <header>...: write the address-taking TU.
gen_tu() {
	local tu=$1 cc=$2 flags=$3 h fn
	shift 3
	: >"$tu"
	for h in "$@"; do
		printf '#include <fencealloc/%s>\n#include <fencealloc/%s>\n' "$h" "$h" >>"$tu"
	done
	{
		printf 'typedef void (*fa_hdrcheck_fn)(void);\n'
		printf 'extern fa_hdrcheck_fn fa_hdrcheck_fns[];\n'
		printf 'fa_hdrcheck_fn fa_hdrcheck_fns[] = {\n'
		for fn in $(static_inline_functions "$cc" "$flags" "$tu"); do
			printf '\t(fa_hdrcheck_fn)%s,\n' "$fn"
		done
		printf '\t(fa_hdrcheck_fn)0\n};\n'
	} >>"$tu.tail"
	cat "$tu.tail" >>"$tu"
	rm -f "$tu.tail"
}

# check <name> <compiler> <lang: c|c++> <flags> <header>...
check() {
	local name=$1 cc=$2 lang=$3 flags=$4 tu obj log
	shift 4
	tu=$out/$name.c
	obj=$out/$name.o
	log=$out/$name.log
	gen_tu "$tu" "$cc" "$flags" "$@"
	checks=$((checks + 1))
	# shellcheck disable=SC2086
	if ! $cc -x "$lang" $flags -Iinclude -c "$tu" -o "$obj" >"$log" 2>&1; then
		failures=$((failures + 1))
		echo "FAIL $name: $cc -x $lang $(echo $flags) -Iinclude -c $tu"
		cat "$log"
		return 1
	fi
	return 0
}

for path in $headers; do
	h=$(basename "$path")
	b=${h%.h}
	check "$b-gcc-c11"     "$CC"      c   "-std=c11 $WARN -O2" "$h"
	check "$b-gcc-c17"     "$CC"      c   "-std=c17 $WARN -O2" "$h"
	check "$b-clang-c11"   "$CLANG"   c   "-std=c11 $WARN -O2" "$h"
	check "$b-clang-c17"   "$CLANG"   c   "-std=c17 $WARN -O2" "$h"
	check "$b-gxx-cxx17"   "$CXX"     c++ "-std=c++17 $WARN -O2" "$h"
	check "$b-clangxx-cxx17" "$CLANGXX" c++ "-std=c++17 $WARN -O2" "$h"
	check "$b-gcc-validate" "$CC"     c   "-std=c11 $WARN -O2 -DFA_VALIDATE" "$h"
	check "$b-gcc-freestanding" "$CC" c   "-std=c11 $WARN -O2 -ffreestanding" "$h"
	check "$b-kernel-like" "$CC"      c   "$KERNEL_LIKE" "$h"
done

# The umbrella header must include every module header.
for path in $headers; do
	h=$(basename "$path")
	[ "$h" = fencealloc.h ] && continue
	checks=$((checks + 1))
	if ! grep -q "^#include \"$h\"" include/fencealloc/fencealloc.h; then
		failures=$((failures + 1))
		echo "FAIL fencealloc.h does not include $h"
	fi
done

# 32-bit freestanding: no 64-bit division helpers may be referenced, at the
# kernel's usual -O2 and at -Os (CONFIG_CC_OPTIMIZE_FOR_SIZE, where gcc and
# clang prefer a helper call even for constant divisors).
all_headers=$(for p in $headers; do basename "$p"; done)
for opt in O2 Os; do
	# shellcheck disable=SC2086
	if check "all-m32-$opt" "$CLANG" c "-m32 -fno-pic -ffreestanding -std=c11 $WARN -$opt" $all_headers; then
		checks=$((checks + 1))
		bad=$(nm "$out/all-m32-$opt.o" | grep -E "$HELPERS_RE")
		if [ -n "$bad" ]; then
			failures=$((failures + 1))
			echo "FAIL all-m32-$opt: 64-bit division helpers referenced (use shifts and masks):"
			echo "$bad"
			echo "  find the caller with: objdump -dr $out/all-m32-$opt.o | grep -B30 -E '$HELPERS_RE'"
		fi
		undef=$(nm -u "$out/all-m32-$opt.o" | awk '{print $2}' | tr '\n' ' ')
		[ -n "$undef" ] && echo "note all-m32-$opt: undefined symbols: $undef"
	fi
done

nfn=$(static_inline_functions "$CC" "-std=c11" "$out/all-m32-O2.c" | wc -l)
echo "headers: $checks checks over $(echo "$headers" | wc -w) headers ($nfn static inline functions), $failures failed"
[ "$failures" -eq 0 ]
