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
mkdir -p "$BUILD"
exec 9>"$BUILD/.headers.lock"	# serialise concurrent runs in one tree
flock 9
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
	$1 ${2/-fsyntax-only/} -Iinclude -Iexamples -E -P "$3" 2>/dev/null |
		perl -0777 -ne 'while (/\bstatic\s+(?:__inline__|__inline|inline)\b[^;{}]*?\b((?:fa|FA|vmm)_\w*)\s*\(/g) { print "$1\n" }' |
		sort -u
}

# gen_tu <file> <compiler> <flags> <header>...: write the address-taking TU.
gen_tu() {
	local tu=$1 cc=$2 flags=$3 h fn
	shift 3
	: >"$tu"
	for h in "$@"; do
		case $h in */*) ;; *) h=fencealloc/$h ;; esac
		printf '#include <%s>\n#include <%s>\n' "$h" "$h" >>"$tu"
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
	# shellcheck disable=SC2086
	if ! $cc -x "$lang" $flags -Iinclude -Iexamples -c "$tu" -o "$obj" >"$log" 2>&1; then
		echo "FAIL $name: $cc -x $lang $(echo $flags) -Iinclude -Iexamples -c $tu"
		cat "$log"
		return 1
	fi
	return 0
}

# One background job per header (its nine configurations), at most one job
# per CPU; each job records "<checks> <failures>" in $out/<header>.result.
# Function bodies are fully type-checked even with -fsyntax-only; code is
# generated (at -O2, where frame-size and uninitialised-use warnings live)
# for gcc and clang C11 and the kernel-like build.
jobs=$(nproc 2>/dev/null || echo 2)
header_checks() {
	local h=$1 b=${1%.h} n=0 f=0 name cc lang flags
	while IFS='|' read -r name cc lang flags; do
		n=$((n + 1))
		check "$b-$name" "$cc" "$lang" "$flags" "$h" || f=$((f + 1))
	done <<CONFIGS
gcc-c11|$CC|c|-std=c11 $WARN -O2
gcc-c17|$CC|c|-std=c17 $WARN -fsyntax-only
clang-c11|$CLANG|c|-std=c11 $WARN -O2
clang-c17|$CLANG|c|-std=c17 $WARN -fsyntax-only
gxx-cxx17|$CXX|c++|-std=c++17 $WARN -fsyntax-only
clangxx-cxx17|$CLANGXX|c++|-std=c++17 $WARN -fsyntax-only
gcc-validate|$CC|c|-std=c11 $WARN -fsyntax-only -DFA_VALIDATE
gcc-freestanding|$CC|c|-std=c11 $WARN -fsyntax-only -ffreestanding
kernel-like|$CC|c|$(echo $KERNEL_LIKE)
CONFIGS
	echo "$n $f" >"$out/$b.result"
}
for path in $headers; do
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
		wait -n
	done
	header_checks "$(basename "$path")" >"$out/$(basename "$path" .h).out" 2>&1 &
done
wait
for path in $headers; do
	b=$(basename "$path" .h)
	cat "$out/$b.out"
	read -r n f <"$out/$b.result"
	checks=$((checks + n))
	failures=$((failures + f))
done

# The umbrella header must pull in every header (directly or through another).
deps=$($CC -std=c11 -Iinclude -MM include/fencealloc/fencealloc.h 2>/dev/null)
for path in $headers; do
	h=$(basename "$path")
	[ "$h" = fencealloc.h ] && continue
	checks=$((checks + 1))
	if ! echo "$deps" | grep -q "include/fencealloc/$h"; then
		failures=$((failures + 1))
		echo "FAIL fencealloc.h does not include $h (directly or indirectly)"
	fi
done

# The VMM core (the headers directly under examples/vmm/; host/ is userspace)
# must hold to the same rules: no libc, no threads, no global allocator, and
# it must build in every configuration above.
vmm_headers=$(ls examples/vmm/*.h 2>/dev/null)
for path in $vmm_headers; do
	h=vmm/$(basename "$path")
	b=vmm-$(basename "$path" .h)
	checks=$((checks + 1))
	bad=$(grep -nE 'pthread|malloc|\bfree\(|<stdlib\.h>|<stdio\.h>|<string\.h>|<time\.h>|_Thread_local|thread_local' "$path")
	if [ -n "$bad" ]; then
		failures=$((failures + 1))
		echo "FAIL $h: userspace-only names in a core header (move them to examples/vmm/host/):"
		echo "$bad"
	fi
	while IFS='|' read -r name cc lang flags; do
		checks=$((checks + 1))
		check "$b-$name" "$cc" "$lang" "$flags" "$h" || failures=$((failures + 1))
	done <<CONFIGS
gcc-c11|$CC|c|-std=c11 $WARN -O2
clang-c11|$CLANG|c|-std=c11 $WARN -O2
gxx-cxx17|$CXX|c++|-std=c++17 $WARN -fsyntax-only
clangxx-cxx17|$CLANGXX|c++|-std=c++17 $WARN -fsyntax-only
kernel-like|$CC|c|$(echo $KERNEL_LIKE)
m32-O2|$CLANG|c|-m32 -fno-pic -ffreestanding -std=c11 $WARN -O2
CONFIGS
	if [ -f "$out/$b-m32-O2.o" ]; then
		bad=$(nm "$out/$b-m32-O2.o" | grep -E "$HELPERS_RE")
		if [ -n "$bad" ]; then
			failures=$((failures + 1))
			echo "FAIL $b-m32-O2: 64-bit division helpers referenced:"
			echo "$bad"
		fi
	fi
done

# 32-bit freestanding: no 64-bit division helpers may be referenced, at the
# kernel's usual -O2 and at -Os (CONFIG_CC_OPTIMIZE_FOR_SIZE, where gcc and
# clang prefer a helper call even for constant divisors).
all_headers=$(for p in $headers; do basename "$p"; done)
for opt in O2 Os; do
	checks=$((checks + 2))
	# shellcheck disable=SC2086
	if ! check "all-m32-$opt" "$CLANG" c "-m32 -fno-pic -ffreestanding -std=c11 $WARN -$opt" $all_headers; then
		failures=$((failures + 1))
	else
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
echo "headers: $checks checks over $(echo "$headers $vmm_headers" | wc -w) headers ($nfn static inline functions), $failures failed"
[ "$failures" -eq 0 ]
