#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# `demo --trace=FILE` writes a Chrome trace-event file that the tools accept
# and that tells the truth about the stages: valid JSON with the agreed keys,
# every traced job's run starts after its submit started and ends at its
# signal, its cleanup starts after the signal, and no host allocation is
# recorded in the run stage. With --seed-bug=1 (an allocation planted in the
# run stage) the same check must find run-stage allocations, so it can fail.
set -u
BUILD=${BUILD:-build}
CC=${CC:-gcc}
dir=$BUILD/demo-trace
mkdir -p "$dir"
src=examples/vmm/host/demo.c
[ -f "$src" ] || src=examples/vmm/host/demo.c
$CC -std=c11 -Wall -Wextra -Werror -O2 -g -pthread -Iinclude -Iexamples -DFA_VALIDATE "$src" \
	-o "$dir/demo" || exit 1

check() {
	python3 - "$1" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
ev = doc["traceEvents"]
jobs, bad, run_allocs = {}, [], 0
for e in ev:
    if e["ph"] == "M":
        continue
    for k in ("name", "ph", "ts", "pid", "tid"):
        if k not in e:
            bad.append("event without %s: %s" % (k, e))
    if e["ph"] == "X":
        if e["cat"] not in ("submit", "run", "cleanup") or e["dur"] < 0:
            bad.append("bad complete event: %s" % e)
        jobs.setdefault(e["args"]["job"], {})[e["name"]] = (e["ts"], e["ts"] + e["dur"], e["tid"])
    elif e["name"] == "signal":
        jobs.setdefault(e["args"]["job"], {})["signal"] = e["ts"]
    elif e["name"] == "alloc" and e["cat"] == "run":
        run_allocs += 1
full = [j for j in jobs.values() if "run" in j]
for j in full:
    if j["run"][0] < j["submit"][0] or abs(j["run"][1] - j["signal"]) > 50 or \
            j["cleanup"][0] < j["signal"] - 0.5 or j["run"][2] == j["submit"][2]:
        bad.append("stages out of order: %s" % j)
print("trace: %d events, %d jobs (%d with run and cleanup), %d allocations in the run stage, %d problems"
      % (len(ev), len(jobs), len(full), run_allocs, len(bad)))
for b in bad[:5]:
    print("  " + b)
sys.exit(2 if bad or len(full) < 100 else 1 if run_allocs else 0)
PY
}

fail=0
"$dir/demo" --seconds=1 --big-gib=0 --quiet --trace="$dir/ok.json" >"$dir/ok.out" || {
	cat "$dir/ok.out"
	fail=1
}
check "$dir/ok.json" || { echo "FAIL: the trace of a correct run"; fail=1; }
"$dir/demo" --seconds=1 --big-gib=0 --quiet --seed-bug=1 --trace="$dir/bug.json" >"$dir/bug.out" 2>&1
check "$dir/bug.json"
rc=$?
[ $rc -eq 1 ] && echo "ok: the planted run-stage allocation shows in the trace" ||
	{ echo "FAIL: --seed-bug=1 left no run-stage allocation in the trace (rc=$rc)"; fail=1; }
exit $fail
