#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Every code example in the headers' doc comments (@code) and in the ```c
# blocks of README.md and docs/*.md compiles as C11 (gcc, clang) and C++17
# (g++) with -Wall -Wextra -Werror -pedantic; fragments with and without
# -DFA_VALIDATE. Whole programs (with main) are linked and run; in a fragment
# a static helper may have no caller (-Wno-unused-function).
# tests/scripts/extract_examples.py says how blocks become files;
# tests/support/example_env.h declares the driver's own names.
# The C++ examples (examples/*.cpp) are built with g++ and clang++ and run.
set -u
BUILD=${BUILD:-build}
CC=${CC:-gcc}
CLANG=${CLANG:-clang}
CXX=${CXX:-g++}
dir=$BUILD/doc-examples
rm -rf "$dir"
mkdir -p "$dir"
flags="-Wall -Wextra -Werror -pedantic -Iinclude -Iexamples -Itests/support"
fail=0
n=0
list=$(python3 tests/scripts/extract_examples.py "$dir" include/fencealloc/*.h README.md docs/*.md) ||
	exit 1
while read -r src kind; do
	n=$((n + 1))
	obj=${src%.c}
	ok=1
	for cc in "$CC -std=c11" "$CLANG -std=c11" "$CXX -x c++ -std=c++17"; do
		if [ "$kind" = program ]; then
			# shellcheck disable=SC2086
			$cc $flags -pthread "$src" -o "$obj" && "$obj" >"$obj.out" ||
				{ echo "FAIL ($cc) $src"; ok=0; }
		else
			# with the validator off the annotations vanish; on, they are code
			for v in "" -DFA_VALIDATE; do
				# shellcheck disable=SC2086
				$cc $flags $v -Wno-unused-function -c "$src" -o "$obj.o" ||
					{ echo "FAIL ($cc $v) $src"; ok=0; }
			done
		fi
	done
	[ $ok -eq 1 ] && echo "ok   $kind $src" || fail=1
done <<<"$list"
for src in examples/*.cpp; do
	[ -f "$src" ] || continue
	n=$((n + 1))
	bin=$dir/$(basename "$src" .cpp)
	ok=1
	for cxx in "$CXX" "${CLANGXX:-clang++}"; do
		# shellcheck disable=SC2086
		$cxx -std=c++17 $flags -O1 "$src" -o "$bin" && "$bin" >"$bin.out" ||
			{ echo "FAIL ($cxx) $src"; ok=0; }
	done
	[ $ok -eq 1 ] && echo "ok   program $src: $(tail -n 1 "$bin.out")" || fail=1
done
echo "check_examples: $n example files, C11 (gcc, clang) and C++17"
[ "$n" -gt 0 ] || fail=1
exit $fail
