#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# `make check`: the whole test gate, in this order:
#   deps        install missing Debian packages (or print the exact command)
#   unit-*      all tests/unit/test_*.c linked into one Criterion binary per
#               variant: gcc, clang, ASan+UBSan, and ThreadSanitizer on the
#               multi-threaded suites (names ending in _mt)
#   headers     each header alone in every language/compiler/world
#   kmod        tests/kernel/ compiled as a kernel module (+ W=1, sparse)
#   docs        Doxygen with warnings as errors
#   install     install to a prefix and a DESTDIR, consume via pkg-config
#   examples    examples, the demo and the benchmarks compile with -Werror
#   fuzz        every tests/fuzz/fuzz_*.c for a short time
#   check_*     every tests/scripts/check_*.sh
# A failed step does not stop the run; the summary lists every step, and the
# last line is the gcc run's Criterion synthesis line (CI reads it).
set -u

BUILD=${BUILD:-build}
CC=${CC:-gcc}
CLANG=${CLANG:-clang}
MAKE=${MAKE:-make}
export BUILD CC CLANG

mkdir -p "$BUILD"
out=$(cd "$BUILD" && pwd)/check
rm -rf "$out"
mkdir -p "$out"

DEPS="make gcc g++ clang libclang-rt-14-dev libcriterion-dev pkg-config doxygen graphviz
 python3 chromium cmake meson ninja-build gnuplot-nox
 linux-headers-amd64 sparse valgrind"
TEST_CFLAGS="-std=c11 -Wall -Wextra -Werror -pedantic -Iinclude -Itests/support -Iexamples -pthread"
UNIT_SRCS=$(ls tests/unit/test_*.c 2>/dev/null)
SAN_ITERS_PCT=25
TEST_TIMEOUT=300	# seconds per Criterion test: a hang guard, not a benchmark
STEP_TIMEOUT=900	# seconds per step

steps=()
results=()
seconds=()
notes=()

now() { date +%s%N; }

# run_step <name> <function> [args...]: run, log, time and record one step.
# The function returns 0 (PASS), 77 (SKIP) or anything else (FAIL), and may
# write a one-line note to $out/<name>.note.
run_step() {
	local name=$1 t0 t1 rc res
	shift
	printf '\n======== %s ========\n' "$name"
	t0=$(now)
	"$@" > >(tee "$out/$name.log") 2>&1
	rc=$?
	wait
	t1=$(now)
	case $rc in
	0) res=PASS ;;
	77) res=SKIP ;;
	*) res=FAIL ;;
	esac
	# a failed step without its own note names its first errors
	if [ "$res" = FAIL ] && [ ! -s "$out/$name.note" ]; then
		grep -hE '^FAIL|error:|FAILED' "$out/$name.log" | head -n 2 | cut -c1-90 |
			tr '\n' ' ' >"$out/$name.note"
	fi
	steps+=("$name")
	results+=("$res")
	seconds+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')")
	notes+=("$(cat "$out/$name.note" 2>/dev/null)")
	echo "-------- $name: $res"
}

note() { echo "$*" >"$out/$current.note"; }

# ------------------------------------------------------------------ deps
step_deps() {
	local p missing="" cmd
	current=deps
	if ! command -v dpkg-query >/dev/null 2>&1; then
		note "not Debian: install the equivalents of: $(echo $DEPS)"
		return 77
	fi
	for p in $DEPS; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing="$missing $p"
	done
	if [ -z "$missing" ]; then
		note "all present"
		return 0
	fi
	echo "missing packages:$missing"
	cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y$missing"
	if [ "$(id -u)" -eq 0 ]; then
		sh -c "$cmd" || return 1
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo sh -c "$cmd" || return 1
	else
		echo "make check: cannot install packages (not root, no passwordless sudo). Run:"
		echo "  sudo sh -c '$cmd'"
		note "run: sudo sh -c '$cmd'"
		return 2
	fi
	note "installed:$missing"
	return 0
}

# ------------------------------------------------------------ unit tests
# Criterion test functions named in sanitizer stack traces (suite_name_impl).
sanitized_tests() {
	grep -oE ' in [A-Za-z0-9_]+_impl ' "$1" | sed 's/^ in //; s/_impl $//' | sort -u | tr '\n' ' '
}
synthesis() { grep -a 'Synthesis:' "$1" 2>/dev/null | tail -n 1 | sed 's/\x1b\[[0-9;]*m//g'; }

# compile_unit <compiler> <objdir> <cflags> <src>: one object (run in parallel).
# Exit status 255 makes xargs stop starting new compiles after a failure.
compile_unit() {
	# shellcheck disable=SC2086
	$1 $TEST_CFLAGS $3 $(pkg-config --cflags criterion) -c "$4" -o "$2/$(basename "$4" .c).o" ||
		exit 255
}
export -f compile_unit
export TEST_CFLAGS

# unit <variant> <compiler> <run filter or ""> <extra sources or ""> <cflags>
unit() {
	local variant=$1 cc=$2 filter=$3 extra=$4 cflags=$5 dir bin log syn n
	current=unit-$variant
	if [ -z "$UNIT_SRCS" ]; then
		note "no tests/unit/test_*.c"
		return 77
	fi
	dir=$out/unit-$variant
	bin=$dir/tests
	log=$dir/run.log
	mkdir -p "$dir/obj"
	n=$(echo "$UNIT_SRCS" | wc -w)
	echo "building $n test files with $cc $cflags"
	# shellcheck disable=SC2086
	if ! printf '%s\n' $UNIT_SRCS $extra |
		xargs -P "$(nproc 2>/dev/null || echo 2)" -I{} bash -c 'compile_unit "$@"' _ \
			"$cc" "$dir/obj" "$cflags" {}; then
		echo "unit-$variant: build FAILED"
		return 1
	fi
	# shellcheck disable=SC2046,SC2086
	if ! $cc $TEST_CFLAGS $cflags "$dir"/obj/*.o -o "$bin" $(pkg-config --libs criterion); then
		echo "unit-$variant: link FAILED"
		return 1
	fi
	set -- --jobs=2 --timeout="$TEST_TIMEOUT"
	[ -n "$filter" ] && set -- "$@" --filter="$filter"
	timeout "$STEP_TIMEOUT" "$bin" "$@" 2>&1 | tee "$log"
	local rc=${PIPESTATUS[0]}
	syn=$(synthesis "$log")
	syn=${syn#*Synthesis: }
	note "${syn:-no synthesis line (rc=$rc)}"
	case $variant in
	tsan)
		if echo "$syn" | grep -q 'Tested: 0 '; then
			note "no suite named *_mt"
			return 77
		fi
		if grep -q 'WARNING: ThreadSanitizer' "$log"; then
			echo "ThreadSanitizer reported a race (see above)"
			note "$syn; ThreadSanitizer report in: $(sanitized_tests "$log")"
			return 1
		fi
		;;
	asan)
		# Criterion ignores a worker's exit status once the test reported,
		# so a leak found at exit would pass silently: grep for it.
		if grep -qE 'ERROR: (LeakSanitizer|AddressSanitizer)|runtime error:' "$log"; then
			echo "sanitizer report found in the log (see above)"
			note "$syn; sanitizer report in: $(sanitized_tests "$log")"
			return 1
		fi
		;;
	esac
	[ "$rc" -eq 0 ] && [ -n "$syn" ]
}

step_unit_gcc() { unit gcc "$CC" "" "" "-O1 -g"; }
step_unit_clang() { unit clang "$CLANG" "" "" "-O1 -g"; }
step_unit_asan() {
	FA_TEST_ITERS_PCT=$SAN_ITERS_PCT ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		unit asan "$CLANG" "" tests/scripts/lsan_workers_only.c \
		"-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all"
}
step_unit_tsan() {
	if ! grep -qE '^(Test|TestSuite|ParameterizedTest|Theory)\([a-z0-9_]*_mt\b' $UNIT_SRCS 2>/dev/null; then
		current=unit-tsan
		note "no suite named *_mt"
		return 77
	fi
	# tsan_arena.c steers Criterion's shared-memory arena into memory
	# ThreadSanitizer allows (see that file).
	FA_TEST_ITERS_PCT=$SAN_ITERS_PCT TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
		unit tsan "$CLANG" '*_mt/*' tests/scripts/tsan_arena.c "-O1 -g -fsanitize=thread"
}

# ------------------------------------------------------- make sub-targets
step_make() {
	current=$1
	$MAKE --no-print-directory BUILD="$BUILD" "$1"
}

# ----------------------------------------------- install + pkg-config use
step_install() {
	local dir=$out/install prefix stage pc cflags c bin h fail=0 version
	current=install
	prefix=$dir/prefix
	stage=$dir/stage
	version=$($MAKE --no-print-directory -s -f Makefile print-version 2>/dev/null)

	echo "-- make install PREFIX=$prefix"
	$MAKE --no-print-directory -s install PREFIX="$prefix" BUILD="$BUILD" || return 1
	export PKG_CONFIG_PATH=$prefix/share/pkgconfig
	pkg-config --validate fencealloc || { echo "invalid fencealloc.pc"; fail=1; }
	if [ "$(pkg-config --modversion fencealloc)" != "$version" ]; then
		echo "pkg-config --modversion: '$(pkg-config --modversion fencealloc)', expected '$version'"
		fail=1
	fi
	cflags=$(pkg-config --cflags fencealloc | sed 's/ *$//')
	[ "$cflags" = "-I$prefix/include" ] || { echo "unexpected cflags: '$cflags'"; fail=1; }
	[ -z "$(pkg-config --libs fencealloc)" ] || { echo "header-only: --libs must be empty"; fail=1; }
	for c in tests/consumer/*.c; do
		bin=$dir/$(basename "$c" .c)
		echo "-- consumer $c: $CC \$(pkg-config --cflags fencealloc) = $cflags"
		# shellcheck disable=SC2086
		$CC -std=c11 -Wall -Wextra -Werror -pedantic $cflags "$c" -o "$bin" && "$bin" || fail=1
		# shellcheck disable=SC2086
		g++ -x c++ -std=c++17 -Wall -Wextra -Werror -pedantic $cflags "$c" -o "$bin-cxx" &&
			"$bin-cxx" || fail=1
	done
	unset PKG_CONFIG_PATH

	echo "-- make install DESTDIR=$stage PREFIX=/usr"
	$MAKE --no-print-directory -s install DESTDIR="$stage" PREFIX=/usr BUILD="$BUILD" || return 1
	for h in include/fencealloc/*.h; do
		[ -f "$stage/usr/include/fencealloc/$(basename "$h")" ] ||
			{ echo "missing $stage/usr/include/fencealloc/$(basename "$h")"; fail=1; }
	done
	pc=$stage/usr/share/pkgconfig/fencealloc.pc
	if [ -f "$pc" ]; then
		grep -q '^prefix=/usr$' "$pc" || { echo "$pc: prefix is not /usr"; fail=1; }
		! grep -q "$stage" "$pc" || { echo "$pc: DESTDIR leaked into the .pc file"; fail=1; }
		cflags=$(PKG_CONFIG_PATH=$stage/usr/share/pkgconfig PKG_CONFIG_SYSROOT_DIR=$stage \
			pkg-config --cflags fencealloc)
		for c in tests/consumer/*.c; do
			# shellcheck disable=SC2086
			$CC -std=c11 -Wall -Wextra -Werror -pedantic $cflags "$c" -o "$dir/staged" &&
				"$dir/staged" || fail=1
		done
	else
		echo "missing $pc"
		fail=1
	fi
	echo "-- make uninstall DESTDIR=$stage PREFIX=/usr"
	$MAKE --no-print-directory -s uninstall DESTDIR="$stage" PREFIX=/usr BUILD="$BUILD" || fail=1
	left=$(find "$stage" -type f)
	[ -z "$left" ] || { echo "uninstall left files behind: $left"; fail=1; }
	[ "$fail" -eq 0 ] && note "prefix + DESTDIR installs, pkg-config consumer (C11, C++17), uninstall"
	return $fail
}

# ------------------------------------- examples, demo and benches compile
step_examples() {
	local dir=$out/examples src fail=0 n=0 extra
	current=examples
	mkdir -p "$dir"
	for src in examples/basic.c examples/vmm/host/demo.c tests/bench/bench_*.c; do
		[ -f "$src" ] || continue
		n=$((n + 1))
		echo "-- $src"
		extra=
		[ "$src" = examples/vmm/host/demo.c ] && extra=-DFA_VALIDATE
		# shellcheck disable=SC2086
		$CC $TEST_CFLAGS -O2 -g $extra "$src" -o "$dir/$(basename "$src" .c)" || fail=1
	done
	if [ -f examples/basic.c ] && [ -x "$dir/basic" ]; then
		"$dir/basic" >"$dir/basic.out" || { echo "examples/basic.c failed:"; fail=1; }
		cat "$dir/basic.out"
	fi
	note "$n programs compile with -Werror"
	return $fail
}

# ----------------------------------------------------------------- fuzz
step_fuzz() {
	current=fuzz
	FUZZ_SECONDS=15 bash tests/scripts/fuzz.sh
	local rc=$?
	[ -f "$BUILD/fuzz/summary" ] && note "$(cat "$BUILD/fuzz/summary")"
	return $rc
}

# ---------------------------------------------------- extra check scripts
step_script() {
	current=$1
	BUILD=$BUILD CC=$CC CLANG=$CLANG bash "$2"
}

t_start=$(now)
run_step deps step_deps
if [ "${results[0]}" = FAIL ]; then
	echo "make check: dependencies missing; see above."
	exit 2
fi
run_step unit-gcc step_unit_gcc
run_step unit-clang step_unit_clang
run_step unit-asan step_unit_asan
run_step unit-tsan step_unit_tsan
run_step headers step_make headers
run_step kmod step_make kmod
run_step docs step_make docs
run_step install step_install
run_step examples step_examples
run_step fuzz step_fuzz
for s in tests/scripts/check_*.sh; do
	[ -f "$s" ] || continue
	n=$(basename "$s" .sh)
	run_step "$n" step_script "$n" "$s"
done
t_end=$(now)

failed=()
printf '\n==================== make check summary ====================\n'
printf '%-22s %-6s %8s  %s\n' step result seconds notes
for i in "${!steps[@]}"; do
	printf '%-22s %-6s %8s  %s\n' "${steps[$i]}" "${results[$i]}" "${seconds[$i]}" "${notes[$i]}"
	[ "${results[$i]}" = FAIL ] && failed+=("${steps[$i]}")
done
total=$(awk -v a="$t_start" -v b="$t_end" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
if [ "${#failed[@]}" -eq 0 ]; then
	printf '%-22s %-6s %8s  %s\n' total PASS "$total" "all steps passed"
else
	printf '%-22s %-6s %8s  %s\n' total FAIL "$total" "failed: ${failed[*]} (logs in $out/)"
fi
printf '=============================================================\n'
syn=$(synthesis "$out/unit-gcc/run.log")
printf '%s\n' "${syn:-[====] Synthesis: the gcc unit-test run produced no result (see $out/unit-gcc.log)}"
[ "${#failed[@]}" -eq 0 ]
