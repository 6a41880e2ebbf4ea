#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Build every tests/fuzz/fuzz_*.c as a libFuzzer target with ASan and UBSan
# and run each for FUZZ_SECONDS (make check: 15 s; make fuzz: 300 s). The
# corpus grows in $BUILD/fuzz/corpus-<name>; tests/fuzz/corpus/<name>/, when
# present, seeds it. A crash leaves its reproducer in $BUILD/fuzz/.
# FUZZ_ONLY="fuzz_a fuzz_b" runs only those targets (e.g. one long run at a
# time). Each target prints its executions and its final coverage (libFuzzer's
# `cov:` edges and `ft:` features).
# Exit: 0 all clean, 1 a target failed to build or crashed, 77 no targets.
set -u

BUILD=${BUILD:-build}
CLANG=${CLANG:-clang}
FUZZ_SECONDS=${FUZZ_SECONDS:-300}
out=$BUILD/fuzz
mkdir -p "$out"
rm -f "$out/summary"

srcs=$(ls tests/fuzz/fuzz_*.c 2>/dev/null)
if [ -n "${FUZZ_ONLY:-}" ]; then
	only=""
	for t in $FUZZ_ONLY; do
		[ -f "tests/fuzz/$t.c" ] || { echo "fuzz: no tests/fuzz/$t.c"; exit 1; }
		only="$only tests/fuzz/$t.c"
	done
	srcs=$only
fi
if [ -z "$srcs" ]; then
	echo "fuzz: no tests/fuzz/fuzz_*.c"
	echo "no fuzz targets" >"$out/summary"
	exit 77
fi

CFLAGS="-std=c11 -Wall -Wextra -Werror -pedantic -Iinclude -Itests/support -Iexamples -pthread
 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all"
fail=0
ran=""
for src in $srcs; do
	name=$(basename "$src" .c)
	bin=$out/$name
	corpus=$out/corpus-$name
	mkdir -p "$corpus"
	echo "-- $name: build"
	# shellcheck disable=SC2086
	if ! $CLANG $CFLAGS "$src" -o "$bin"; then
		fail=1
		ran="$ran $name:BUILD-FAILED"
		continue
	fi
	seeds=
	[ -d "tests/fuzz/corpus/$name" ] && seeds=tests/fuzz/corpus/$name
	echo "-- $name: run ${FUZZ_SECONDS}s"
	# shellcheck disable=SC2086
	if "$bin" -max_total_time="$FUZZ_SECONDS" -timeout=25 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$out/$name-" "$corpus" $seeds \
		>"$out/$name.log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$name.log")
		cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$out/$name.log" | tail -n 1 |
			awk '{ print $2 "/" $4 }')
		echo "   ok: ${runs:-?} executions, coverage ${cov:-?} (edges/features)"
		ran="$ran $name:${runs:-?}x,cov=${cov:-?}"
	else
		fail=1
		ran="$ran $name:FAILED"
		tail -n 60 "$out/$name.log"
		echo "   FAILED: full log $out/$name.log; reproducer: $(ls "$out/$name"-* 2>/dev/null | head -n 1)"
	fi
done
echo "runs:$ran" >"$out/summary"
echo "fuzz:$ran"
exit $fail
