#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Bad-input sweep of the public API (tests/sweep/sweep.c): built with ASan and
# UBSan (no recovery), every case runs in its own process. A "return" case
# must exit 0 (no sanitizer report, no crash, its checks hold); an "assert"
# case passes a pointer documented as "must not be NULL" and must stop in
# that precondition's FA_ASSERT (exit 42). Anything else fails the sweep.
# Exit: 0 clean, 1 a case failed or the sweep did not build.
set -u

BUILD=${BUILD:-build}
CLANG=${CLANG:-clang}
out=$BUILD/sweep
mkdir -p "$out"
bin=$out/sweep

# shellcheck disable=SC2086
if ! $CLANG -std=c11 -Wall -Wextra -Werror -pedantic -Iinclude -Itests/support -Iexamples \
	-g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all -pthread \
	tests/sweep/sweep.c -o "$bin"; then
	echo "sweep: build FAILED"
	exit 1
fi

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=23
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=24
n=0 nret=0 nassert=0 fail=0
while read -r name expect; do
	n=$((n + 1))
	log=$out/$(echo "$name" | tr '/' '_').log
	timeout 300 "$bin" "$name" >"$log" 2>&1
	rc=$?
	ok=0
	case $expect:$rc in
	return:0) ok=1 nret=$((nret + 1)) ;;
	assert:42) ok=1 nassert=$((nassert + 1)) ;;
	esac
	if grep -qE 'runtime error:|ERROR: (Address|Leak)Sanitizer' "$log"; then
		ok=0
	fi
	if [ "$ok" -eq 1 ]; then
		printf '  ok    %-45s %s\n' "$name" "$expect"
	else
		fail=$((fail + 1))
		printf '  FAIL  %-45s expected %s, exit %s (log %s)\n' "$name" "$expect" "$rc" "$log"
		tail -n 15 "$log" | sed 's/^/        /'
	fi
done < <("$bin" --list)
echo "sweep: $n cases ($nret return normally, $nassert stop in a documented FA_ASSERT), $fail failed"
[ "$fail" -eq 0 ] && [ "$n" -gt 0 ]
