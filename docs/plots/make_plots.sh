#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# `make plots`: run the demo with --trace and bench_buddy with --json, then
# draw docs/img/*.svg from those two files (docs/plots/plots.py, gnuplot).
# Environment (from the Makefile): BUILD, CC, DEMO_SRC, PLOTS_DEMO_ARGS, and
# optionally BENCH_JSON_FILE (an existing `bench_buddy --json` output to draw
# instead of running the benchmark).
set -u
BUILD=${BUILD:-build}
CC=${CC:-gcc}
DEMO_SRC=${DEMO_SRC:-examples/vmm/host/demo.c}
PLOTS_DEMO_ARGS=${PLOTS_DEMO_ARGS:---seconds=3}
out=$BUILD/plots
mkdir -p "$out"

bash tests/scripts/need.sh 'make plots' gnuplot-nox python3 || exit 2

echo "plots: demo $PLOTS_DEMO_ARGS --trace=$out/demo-trace.json"
$CC -std=c11 -Wall -Wextra -O2 -g -pthread -Iinclude -Iexamples -DFA_VALIDATE "$DEMO_SRC" \
	-o "$out/demo" || exit 1
# shellcheck disable=SC2086
"$out/demo" $PLOTS_DEMO_ARGS --quiet --trace="$out/demo-trace.json" >"$out/demo.out" ||
	{ cat "$out/demo.out"; echo "plots: the demo failed"; exit 1; }
grep -E '^(trace|RESULT)' "$out/demo.out"

bench=${BENCH_JSON_FILE:-}
if [ -z "$bench" ]; then
	bench=$out/bench_buddy.json
	echo "plots: bench_buddy --json $bench"
	$CC -std=c11 -Wall -Wextra -Werror -pedantic -O2 -g -Iinclude -Itests/support -Iexamples \
		-pthread tests/bench/bench_buddy.c -o "$out/bench_buddy" || exit 1
	rm -f "$bench"
	"$out/bench_buddy" --json "$bench" >"$out/bench_buddy.out" 2>&1
	if [ ! -s "$bench" ]; then
		tail -n 5 "$out/bench_buddy.out"
		echo "plots: bench_buddy wrote no JSON (it needs --json FILE); or pass BENCH_JSON_FILE=<its output>"
		exit 1
	fi
fi
FA_PLOTS_DEMO_ARGS="$PLOTS_DEMO_ARGS" python3 docs/plots/plots.py "$out/demo-trace.json" "$bench" \
	"$out" docs/img
