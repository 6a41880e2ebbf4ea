#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The rendering checks of `make docs` (tests/scripts/docs_lint.py) can fail:
# copy the documentation sources, plant one fault a reader would see, run
# Doxygen and the lint, and require the lint to name that fault. The
# unplanted copy must pass, so a fault is only reported when present.
set -u
BUILD=${BUILD:-build}
dir=$(mkdir -p "$BUILD" && cd "$BUILD" && pwd)/docs-render
rm -rf "$dir"
mkdir -p "$dir"
fail=0
n=0

# run <name> <expected lint message or ""> <command planting the fault>
run() {
	local name=$1 want=$2 plant=$3 src=$dir/$1/src rc
	mkdir -p "$src"
	cp -r README.md docs include "$src/"
	(cd "$src" && eval "$plant")
	(cd "$src" && FA_VERSION=0 FA_DOCS_OUT=out doxygen docs/Doxyfile >"$dir/$name/doxygen.log" 2>&1)
	python3 tests/scripts/docs_lint.py "$src/out/html" "$src" >"$dir/$name/lint.log" 2>&1
	rc=$?
	n=$((n + 1))
	if [ -z "$want" ]; then
		[ $rc -eq 0 ] && echo "ok   $name: clean copy passes" ||
			{ echo "FAIL $name: clean copy rejected:"; head -5 "$dir/$name/lint.log"; fail=1; }
	elif [ $rc -ne 0 ] && grep -q "$want" "$dir/$name/lint.log"; then
		echo "ok   $name: $(grep -m1 "$want" "$dir/$name/lint.log" | cut -c1-110)"
	else
		echo "FAIL $name: lint did not report '$want' (rc=$rc)"
		fail=1
	fi
}

page() { printf '# Planted {#planted}\n\n%s\n' "$1" >docs/planted.md; }

run clean "" ":"
run ilinebr 'ilinebr' "page 'The tag (see \`the @stage run\` tag) expands inside a code span.'"
run raw-table 'raw Markdown table row' \
	"page '| a | b |
|---|---|---|
| 1 | 2 |'"
run at-tag 'unexpanded Doxygen command' "page 'Escaped, so printed: \\@param x is the thing.'"
run abs-path 'absolute path' "sed -i 's/^STRIP_FROM_PATH .*/STRIP_FROM_PATH = include/' docs/Doxyfile"
run no-label 'page without a {#label}' "sed -i '1s/ {#annotating}//' docs/annotating.md"
run internal 'internal symbol published' "page 'Calls fa__pramin_win_move() to slide the window.'"
run picture 'missing picture' "page '![A picture nobody drew](img/nothing.svg)'"
run stage-table 'stage table missing' "sed -i '/^| .@stage /d' docs/design.md"
echo "check_docs_render: $n cases"
exit $fail
