#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# `make docs`: Doxygen HTML with warnings as errors, then the rendering
# checks a reader would otherwise find:
#   1. every header has a @file block (Doxygen skips one without it silently);
#   2. tests/scripts/docs_lint.py: no "ilinebr", raw Markdown table rows,
#      unexpanded @-tags, absolute paths of this machine, or fa__ internals;
#   3. headless Chromium loads the design page and a header page, saves a
#      screenshot of each to $BUILD/docs/shots/ (never into the repository),
#      and the design page's DOM, as the browser built it, holds the stage
#      table as an HTML <table>.
# Needs doxygen, graphviz (dot), python3 and chromium: installed like
# `make check` does (tests/scripts/need.sh), or named exactly.
set -u
BUILD=${BUILD:-build}
VERSION=${VERSION:?}
out=$BUILD/docs
html=$out/html
shots=$out/shots

bash tests/scripts/need.sh 'make docs' doxygen graphviz python3 chromium || exit 2
for c in doxygen dot python3 chromium; do
	command -v "$c" >/dev/null 2>&1 ||
		{ echo "make docs: '$c' not found: install doxygen graphviz python3 chromium"; exit 2; }
done

mkdir -p "$out"
exec 9>"$BUILD/.docs.lock"
flock 9
rm -rf "$html" "$shots"
echo "FA_VERSION='$VERSION' FA_DOCS_OUT='$out' doxygen docs/Doxyfile"
FA_VERSION=$VERSION FA_DOCS_OUT=$out doxygen docs/Doxyfile || exit 1

missing=$(grep -L '@file' include/fencealloc/*.h)
if [ -n "$missing" ]; then
	echo "docs: header without a @file block (Doxygen would skip it silently): $missing"
	exit 1
fi

python3 tests/scripts/docs_lint.py "$html" . || exit 1

# chromium <args...>: one headless run with a fresh profile and no network
# chatter (no sync, component updates or first-run pages).
chromium_run() {
	local profile rc
	profile=$(mktemp -d)
	timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
		--disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" \
		--hide-scrollbars "$@" 2>"$profile.log"
	rc=$?
	[ $rc -eq 0 ] || cat "$profile.log" >&2
	rm -rf "$profile" "$profile.log"
	return $rc
}

mkdir -p "$shots"
abs=$(cd "$html" && pwd)
for page in design.html buddy_8h.html; do
	png=$shots/${page%.html}.png
	chromium_run --window-size=1280,1800 --screenshot="$png" "file://$abs/$page" >/dev/null || exit 1
	[ -s "$png" ] || { echo "docs: no screenshot of $page"; exit 1; }
	echo "docs: screenshot $png ($(stat -c %s "$png") bytes)"
done
chromium_run --dump-dom "file://$abs/design.html" >"$shots/design.dom.html" || exit 1
python3 - "$shots/design.dom.html" <<'PY' || exit 1
import re, sys
dom = open(sys.argv[1], encoding="utf-8").read()
tables = re.findall(r"<table\b.*?</table>", dom, re.S)
rows = [t for t in tables if "@stage submit" in t and "may allocate" in t]
if not rows or len(re.findall(r"<tr\b", rows[0])) != 5:
    sys.exit("docs: the design page has no stage table (header + 4 stages) in the browser's DOM")
print("docs: design page shows the stage table as an HTML table (5 rows)")
PY
echo "docs: OK -> $html/index.html"
