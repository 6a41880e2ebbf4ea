#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Draw the documentation's pictures from real runs (`make plots`).

usage: plots.py DEMO_TRACE.json BENCH_BUDDY.json WORKDIR OUTDIR

  DEMO_TRACE.json   `demo --trace=FILE` (Chrome trace-event JSON)
  BENCH_BUDDY.json  `bench_buddy --json FILE`
  WORKDIR           data files and gnuplot scripts (build/plots)
  OUTDIR            the SVGs (docs/img)

Writes stage-timeline.svg, demo-stage-latency.svg, buddy-latency-cdf.svg and
buddy-metadata.svg with gnuplot; every number in them comes from the two
input files, and each picture's caption line names its run.
"""
import json
import os
import subprocess
import sys

STAGE_COLOR = {"submit": "#4e79a7", "run": "#e15759", "cleanup": "#59a14f"}
FONT = "DejaVu Sans,11"


def gnuplot(workdir, name, script):
    path = os.path.join(workdir, name + ".gp")
    with open(path, "w", encoding="utf-8") as f:
        f.write(script)
    subprocess.run(["gnuplot", path], check=True)


def esc(text):
    """A literal string inside a gnuplot enhanced-text label or title."""
    return text.replace("_", "\\\\_")


def pct(sorted_vals, p):
    return sorted_vals[min(len(sorted_vals) - 1, int(len(sorted_vals) * p))]


def load_trace(path):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    names, jobs, allocs = {}, {}, []
    for e in doc["traceEvents"]:
        ph = e.get("ph")
        if ph == "M" and e.get("name") == "thread_name":
            names[e["tid"]] = e["args"]["name"]
        elif ph == "X":
            j = jobs.setdefault(e["args"]["job"], {})
            j[e["name"]] = (e["ts"], e["ts"] + e["dur"], e["tid"])
            j["ops"] = e["args"].get("ops", j.get("ops"))
        elif ph == "i" and e["name"] in ("alloc", "free"):
            allocs.append((e["ts"], e["tid"], e["name"], e["cat"]))
        elif ph == "i" and e["name"] == "signal":
            jobs.setdefault(e["args"]["job"], {})["signal"] = e["ts"]
    return doc, names, jobs, allocs


def complete(jobs):
    return {k: j for k, j in jobs.items() if "submit" in j and "run" in j and "cleanup" in j}


def pick_window(jobs):
    """The job with the shortest life (submit start to cleanup end) among the
    steady-state half of the recording, and a window around that life."""
    done = complete(jobs)
    ids = sorted(done)
    steady = [k for k in ids[len(ids) // 4:len(ids) * 3 // 4]
              if done[k]["run"][0] >= done[k]["submit"][1] and done[k]["cleanup"][0] >= done[k]["signal"]]
    hero = min(steady or ids, key=lambda k: done[k]["cleanup"][1] - done[k]["submit"][0])
    j = done[hero]
    life = j["cleanup"][1] - j["submit"][0]
    return hero, j["submit"][0] - 0.08 * life, j["cleanup"][1] + 0.05 * life


def timeline(doc, names, jobs, allocs, workdir, outdir, caption):
    hero, lo, hi = pick_window(jobs)
    span = hi - lo
    lanes = sorted((t for t, n in names.items() if n.startswith("submitter")), key=lambda t: names[t])
    sched = [t for t, n in names.items() if n == "scheduler"]
    clean = [t for t, n in names.items() if n == "cleanup"]
    order = lanes + sched + clean
    gap = 1.6
    y = {t: gap * (len(order) - i) for i, t in enumerate(order)}
    info = {}
    for t in lanes:
        info[t] = (names[t], "submit stage: may allocate; takes the VM lock (VRAM, timeline, scheduler locks briefly)")
    for t in sched:
        info[t] = ("scheduler", "run stage, inside the signalling section: ref lock + map lock (+ hw lock); never allocates")
    for t in clean:
        info[t] = ("cleanup worker", "cleanup stage, after the signal: VM lock + ref lock; frees")
    whole = {t: [0, 0] for t in order}
    ticks = {t: [] for t in order}
    for ts, tid, kind, cat in allocs:
        if tid in whole:
            whole[tid][0 if kind == "alloc" else 1] += 1
            if lo <= ts <= hi:
                ticks[tid].append((ts - lo, kind))
    objs, labels, n = [], [], 0
    minw = span * 0.004
    h = jobs[hero]
    for k, j in list(jobs.items()) + [(hero, h)]:
        for stage in ("submit", "run", "cleanup"):
            if stage not in j:
                continue
            a, b, tid = j[stage]
            if b < lo or a > hi or tid not in y:
                continue
            a, b = max(a, lo) - lo, min(b, hi) - lo
            n += 1
            if j is h and k == hero:
                b = max(b, a + minw)
                style = "fs solid 1.0 border lc rgb '#000000' lw 2"
            else:
                style = "fs solid 0.3 noborder"
            objs.append("set object %d rect from %.3f,%.3f to %.3f,%.3f fc rgb '%s' %s front" %
                        (n, a, y[tid] - 0.3, b, y[tid] + 0.3, STAGE_COLOR[stage], style))
    with open(os.path.join(workdir, "ticks.dat"), "w") as f:
        for t in order:
            for x, kind in ticks[t]:
                f.write("%.3f %.3f %d\n" % (x, y[t] - 0.45, 1 if kind == "alloc" else 2))
        f.write("-1e9 -1e9 1\n-1e9 -1e9 2\n")
    for t in order:
        na = sum(1 for _, kind in ticks[t] if kind == "alloc")
        labels.append("set label '{/:Bold %s}   %s' at graph 0.0, first %.2f left front" %
                      (info[t][0], info[t][1], y[t] + 0.5))
        labels.append("set label 'here: %d allocations, %d frees · whole recording: %d, %d' at graph 1.0, first %.2f right front font ',9' tc rgb '#444444'" %
                      (na, len(ticks[t]) - na, whole[t][0], whole[t][1], y[t] + 0.5))
    sy, ry, cy = y[h["submit"][2]], y[h["run"][2]], y[h["cleanup"][2]]
    pub, sig = h["submit"][1] - lo, h["signal"] - lo
    def dur(stage):
        return h[stage][1] - h[stage][0]
    marks = [
        "set arrow from %.3f,%.2f to %.3f,%.2f lw 1.5 lc rgb '#000000' dt 2 head filled front" % (pub, sy - 0.3, h["run"][0] - lo, ry + 0.3),
        "set arrow from %.3f,%.2f to %.3f,%.2f lw 1.5 lc rgb '#000000' dt 2 head filled front" % (sig, ry - 0.3, h["cleanup"][0] - lo, cy + 0.3),
        "set label 'job %d: submit %.1f µs, fence published' at %.3f,%.2f left offset 0.8,0 font ',9' front" % (hero, dur("submit"), pub, sy - 0.1),
        "set label 'queued behind the VM' at %.3f,%.2f center font ',9' front boxed tc rgb '#333333'" % ((pub + h["run"][0] - lo) / 2, (sy + ry) / 2 + 0.25),
        "set label 'and its dependencies: %.0f µs' at %.3f,%.2f center font ',9' front boxed tc rgb '#333333'" % (h["run"][0] - h["submit"][1], (pub + h["run"][0] - lo) / 2, (sy + ry) / 2 - 0.05),
        "set label 'run %.1f µs, signal' at %.3f,%.2f left offset 0.8,0 font ',9' front" % (dur("run"), sig, ry - 0.1),
        "set label 'waits for the cleanup worker: %.0f µs' at %.3f,%.2f right offset -1,0 font ',9' front boxed tc rgb '#333333'" % (h["cleanup"][0] - h["signal"], (sig + h["cleanup"][0] - lo) / 2, (ry + cy) / 2 + 0.1),
        "set label 'cleanup %.1f µs' at %.3f,%.2f right offset -0.8,0 font ',9' front" % (dur("cleanup"), h["cleanup"][0] - lo, cy - 0.1),
    ]
    script = """set terminal svg size 1000,%d dynamic font '%s' background rgb 'white'
set output '%s'
set title "Stage timeline of real jobs: every job's submit, run and cleanup on the thread that ran it\\n{/*0.8 %s}"
set xlabel 'time (µs, from the start of the window)'
set xrange [0:%.3f]
set yrange [0.6:%.2f]
unset ytics
set xtics nomirror
set border 1
set style textbox opaque noborder
set bmargin 6
set key at screen 0.98, screen 0.04 horizontal right
%s
%s
%s
plot '%s' using 1:($3==1?$2:1/0) with points pt 9 ps 0.55 lc rgb '#e15759' title 'host allocation', \\
     '' using 1:($3==2?$2:1/0) with points pt 11 ps 0.55 lc rgb '#59a14f' title 'host free', \\
     1/0 with boxes fs solid 0.6 lc rgb '%s' title 'submit', 1/0 with boxes fs solid 0.6 lc rgb '%s' title 'run', \\
     1/0 with boxes fs solid 0.6 lc rgb '%s' title 'cleanup'
""" % (200 + 110 * len(order), FONT, os.path.join(outdir, "stage-timeline.svg"), caption, span,
       gap * len(order) + 0.9, "\n".join(objs), "\n".join(labels), "\n".join(marks),
       os.path.join(workdir, "ticks.dat"), STAGE_COLOR["submit"], STAGE_COLOR["run"], STAGE_COLOR["cleanup"])
    gnuplot(workdir, "stage-timeline", script)
    return hero


def demo_latency(jobs, workdir, outdir, caption):
    lines, plots = [], []
    for stage in ("submit", "run", "cleanup"):
        d = sorted(j[stage][1] - j[stage][0] for j in jobs.values() if stage in j)
        path = os.path.join(workdir, "lat-%s.dat" % stage)
        with open(path, "w") as f:
            step = max(1, len(d) // 600)
            for i in range(0, len(d), step):
                f.write("%.4f %.5f\n" % (max(d[i], 0.01), 100.0 * (i + 1) / len(d)))
            f.write("%.4f 100\n" % max(d[-1], 0.01))
        plots.append("'%s' using 1:2 with lines lw 2.5 lc rgb '%s' title '%s: %d jobs, p50 %.1f µs, p99 %.1f µs, max %.0f µs'" %
                     (path, STAGE_COLOR[stage], stage, len(d), pct(d, .5), pct(d, .99), d[-1]))
    script = """set terminal svg size 900,480 dynamic font '%s' background rgb 'white'
set output '%s'
set title "Demo: how long each stage takes, per job\\n{/*0.8 %s}"
set logscale x
set xlabel 'stage duration (µs, log scale)'
set ylabel 'jobs (%%, cumulative)'
set yrange [0:100]
set grid xtics ytics mxtics lc rgb '#dddddd'
set key bottom right
plot %s
""" % (FONT, os.path.join(outdir, "demo-stage-latency.svg"), caption, ", \\\n     ".join(plots))
    gnuplot(workdir, "demo-stage-latency", script)


def buddy_cdf(bench, workdir, outdir, caption):
    plots = []
    colors = {"W1": "#4e79a7", "W1x": "#f28e2b", "W2L": "#76b7b2"}
    for w in ("W1", "W1x", "W2L"):
        r = bench[w]
        path = os.path.join(workdir, "cdf-%s.dat" % w)
        with open(path, "w") as f:
            for ns, pm in r["cdf"]:
                f.write("%d %.1f\n" % (max(ns, 1), pm / 10.0))
        plots.append("'%s' using 1:2 with linespoints lw 2.5 pt 7 ps 0.5 lc rgb '%s' title '%s: %d ops, p50 %d ns, p99 %d ns, p99.9 %d ns'" %
                     (path, colors[w], w, r["ops"], r["p50_ns"], r["p99_ns"], r["p999_ns"]))
    script = """set terminal svg size 900,480 dynamic font '%s' background rgb 'white'
set output '%s'
set title "buddy.h: latency of one allocation or free, per workload\\n{/*0.8 %s}"
set logscale x
set xlabel 'latency (ns, log scale; timer pair %d ns included)'
set format x '10^{%%L}'
set ylabel 'operations (%%, cumulative)'
set yrange [0:100]
set grid xtics ytics mxtics lc rgb '#dddddd'
set key bottom right
plot %s
""" % (FONT, os.path.join(outdir, "buddy-latency-cdf.svg"), caption, bench.get("timer_pair_p50_ns", 0),
       ", \\\n     ".join(plots))
    gnuplot(workdir, "buddy-latency-cdf", script)


def buddy_metadata(bench, workdir, outdir, caption):
    path = os.path.join(workdir, "metadata.dat")
    pts = bench["metadata_vs_live"]
    with open(path, "w") as f:
        for live, b in pts:
            f.write("%d %.6f\n" % (max(live, 1), b / 1048576.0))
    space_gib = bench["space_bytes"] / 2 ** 30
    script = """set terminal svg size 900,440 dynamic font '%s' background rgb 'white'
set output '%s'
set title "buddy.h: metadata bytes against live allocations ({/*0.9 %.0f GiB in %d KiB chunks})\\n{/*0.8 %s}"
set logscale x
set xlabel 'live 4 KiB blocks (log scale; 0 drawn at 1)'
set format x '10^{%%L}'
set ylabel 'allocator memory (MiB)'
set yrange [0:%.2f]
set grid xtics ytics lc rgb '#dddddd'
set key top left
plot '%s' using 1:2 with linespoints lw 2.5 pt 7 ps 0.6 lc rgb '#4e79a7' title sprintf('fencealloc buddy: its storage + struct fa\\_buddy: %%.2f MiB, fixed at init', %.6f)
""" % (FONT, os.path.join(outdir, "buddy-metadata.svg"), space_gib, bench["chunk_bytes"] // 1024, caption,
       max(b for _, b in pts) / 1048576.0 * 1.6, path, max(b for _, b in pts) / 1048576.0)
    gnuplot(workdir, "buddy-metadata", script)


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    trace_path, bench_path, workdir, outdir = sys.argv[1:]
    os.makedirs(workdir, exist_ok=True)
    os.makedirs(outdir, exist_ok=True)
    doc, names, jobs, allocs = load_trace(trace_path)
    other = doc.get("otherData", {})
    with open(bench_path, encoding="utf-8") as f:
        bench = json.load(f)
    demo_caption = esc("make plots: demo --trace (%s), %d jobs recorded of %d") % (
        os.environ.get("FA_PLOTS_DEMO_ARGS", "default workload"),
        other.get("jobs_recorded", len(jobs)), other.get("jobs_seen", len(jobs)))
    bench_caption = esc("make plots: bench_buddy --json, %d GiB space, seed 0x%x") % (
        bench["space_bytes"] // 2 ** 30, bench.get("seed", 0))
    hero = timeline(doc, names, jobs, allocs, workdir, outdir, demo_caption)
    demo_latency(jobs, workdir, outdir, demo_caption)
    buddy_cdf(bench, workdir, outdir, bench_caption)
    buddy_metadata(bench, workdir, outdir, bench_caption)
    print("plots: %s/{stage-timeline,demo-stage-latency,buddy-latency-cdf,buddy-metadata}.svg"
          " (timeline around job %d)" % (outdir, hero))


if __name__ == "__main__":
    main()
