#!/usr/bin/env python3
"""Turns the raw runs of bench/compare/run.sh into one table and one plot.

Reads RAW/<implementation>_k<K>_r<repetition>.json (the schema of `meshreduce bench --json`) and
RAW/machine.json; per implementation, K and size takes the median time over repetitions, derives busbw
from it, and compares each meshreduce variant (threads, processes, emulated machines) with the fastest peer of all
variants, as installed and with the heap mitigation (speedup = best peer time / its time). meshreduce's "of bound" is the fraction of the
streaming bound (t >= 2 K S / B, B measured by `meshreduce bench`'s probe in the same run) it reaches.
Prints the table, writes it as Markdown (--table) and draws busbw against size as SVG (--plot), by hand:
the standard library only.
"""
import argparse
import glob
import json
import math
import os
import re
import statistics
import sys
from collections import defaultdict

ORDER = ["meshreduce", "mr-procs", "mr-procs-shared", "openmpi", "openmpi-heap", "mpich", "mpich-heap", "gloo",
         "mr-2machines", "mr-2machines-ring", "openmpi-tcp"]
# meshreduce's variants: threads of one process; processes under mpirun with private buffers
# (copied in and out) and with buffers from its shared arena; two emulated machines of K/2
# processes joined by MPI over TCP on loopback (hierarchical-rs, and a flat ring).
OURS = ["meshreduce", "mr-procs", "mr-procs-shared", "mr-2machines", "mr-2machines-ring"]
# Emulated machines are compared with MPI_Allreduce over TCP on loopback only (every pair over
# TCP), not with the peers that share memory across all K.
EMULATED = {"mr-2machines": "openmpi-tcp", "mr-2machines-ring": "openmpi-tcp"}
COLORS = {"meshreduce": "#d62728", "mr-procs": "#9467bd", "mr-procs-shared": "#e377c2", "mr-2machines": "#8c564b",
          "mr-2machines-ring": "#7f7f7f", "openmpi-tcp": "#aec7e8", "openmpi": "#1f77b4", "openmpi-heap": "#17becf", "mpich": "#2ca02c",
          "mpich-heap": "#bcbd22", "gloo": "#ff7f0e"}
DASHES = ["", "7,4", "2,3", "10,3,2,3"]


def size_label(n):
    for unit, scale in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale}{unit}"
    return str(n)


def fmt_time(us):
    return f"{us:.2f}" if us < 10 else f"{us:.1f}" if us < 1000 else f"{us:.0f}"


def fmt_bw(gbps):
    return f"{gbps:.3g}" if gbps >= 0.001 else f"{gbps:.1e}"


def busbw(bytes_, time_us, k):
    return bytes_ / (time_us * 1e3) * 2 * (k - 1) / k if time_us > 0 else 0.0


def load_runs(raw, in_place):
    """{(impl, K): {bytes: {"times": [...], "wrong": n, "algorithms": [...], "bounds": [...]}}},
    the probe's B per K (GB/s of traffic), versions, notes."""
    data = defaultdict(lambda: defaultdict(lambda: {"times": [], "wrong": 0, "algorithms": [], "bounds": []}))
    limits, versions, notes = defaultdict(list), {}, []
    other_timing = set()  # (impl, rule) of multi-process runs not timed from the earliest start to the latest end
    for path in sorted(glob.glob(os.path.join(raw, "*_k*_r*.json"))):
        name = os.path.basename(path)
        impl, k, rep = re.match(r"(.+)_k(\d+)_r(\d+)\.json$", name).groups()
        try:
            with open(path) as f:
                run = json.load(f)
        except (OSError, ValueError):
            notes.append(f"{impl} K={k} repetition {rep}: no result (see {name[:-5]}.err)")
            continue
        if run.get("skipped"):
            notes.append(f"{impl} K={k}: skipped, {run['skipped']}")
        versions[impl] = run.get("version") or run.get("algorithm", "")
        # Every multi-process run says how it timed a call; older harnesses and meshreduce builds,
        # which took the slowest rank's own span, say nothing.
        if (impl not in OURS or run.get("backend") == "processes") and run.get("timing") != "job_span":
            other_timing.add((impl, run.get("timing") or "slowest_rank"))
        if impl in OURS:
            versions[impl] = f"algorithm {run.get('algorithm')}"
            probe = run.get("probe", {}).get("best_gbps", 0)
            if probe:
                limits[int(k)].append(probe)
        for row in run["results"]:
            cell = data[(impl, int(k))][row["bytes"]]
            # meshreduce measures both in one row; the peers ran the one that run.sh asked for.
            figures = row["in_place"] if in_place and isinstance(row.get("in_place"), dict) else row
            cell["times"].append(figures["time_us"])
            cell["wrong"] += figures["wrong"]
            if figures.get("bound") is not None:
                cell["bounds"].append(figures["bound"])
            if "algorithm" in row:
                cell["algorithms"].append(row["algorithm"])
    for impl, rule in sorted(other_timing):
        notes.append(f"{impl}: some runs timed a call as {rule.replace('_', ' ')} (not from the earliest rank's start to"
                     " the latest rank's end), which undercounts calls whose ranks do not start together")
    return data, {k: statistics.median(v) for k, v in limits.items()}, versions, notes


def build_table(data, limits):
    impls = [i for i in ORDER if any(key[0] == i for key in data)]
    ks = sorted({key[1] for key in data})
    header = ["K", "size"]
    for impl in impls:
        header += [f"{impl} us", f"{impl} busbw"]
    peers = [i for i in impls if i not in OURS and i not in EMULATED.values()]
    ours = [i for i in impls if i in OURS]
    if "gloo" in impls:
        header.append("gloo best alg")
    if peers:
        header.append("best peer")
        for impl in ours:
            header.append(f"{impl} speedup")
    for impl in ours:
        header.append(f"{impl} of bound")
    header.append("#wrong")
    rows, series = [], defaultdict(list)
    for k in ks:
        sizes = sorted({b for (impl, kk), cells in data.items() if kk == k for b in cells})
        for b in sizes:
            row, times = [str(k), size_label(b)], {}
            for impl in impls:
                cell = data[(impl, k)].get(b)
                if cell and cell["times"]:
                    t = statistics.median(cell["times"])
                    times[impl] = t
                    series[(impl, k)].append((b, busbw(b, t, k)))
                    row += [fmt_time(t), fmt_bw(busbw(b, t, k))]
                else:
                    row += ["-", "-"]
            if "gloo" in impls:
                algs = (data[("gloo", k)].get(b) or {}).get("algorithms", [])
                row.append("/".join(sorted(set(algs), key=lambda a: (-algs.count(a), a))) if algs else "-")
            if peers:
                best = min((times[p], p) for p in peers if p in times) if any(p in times for p in peers) else None
                row.append(best[1] if best else "-")
                for impl in ours:
                    # speedup = the best peer's time (the emulated machines: MPI over TCP) / ours
                    other = (times.get(EMULATED[impl]), EMULATED[impl]) if impl in EMULATED else best
                    ok = other and other[0] and times.get(impl)  # a time of 0 (below the clock) has no ratio
                    row.append(f"{other[0] / times[impl]:.2f}x" if ok else "-")
            for impl in ours:
                # bench leaves the fraction out where the buffers fit in the caches (no bound applies).
                bounds = (data[(impl, k)].get(b) or {}).get("bounds", [])
                row.append(f"{statistics.median(bounds):.2f}" if bounds else "-")
            row.append(str(sum((data[(i, k)].get(b) or {"wrong": 0})["wrong"] for i in impls)))
            rows.append(row)
    return header, rows, series


def markdown(header, rows):
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    line = lambda cells: "| " + " | ".join(c.rjust(w) for c, w in zip(cells, widths)) + " |"
    rule = "|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|"
    return "\n".join([line(header), rule] + [line(r) for r in rows])


def svg_plot(series, limits, title):
    """busbw (log10 y) against bytes per process (log2 x), one line per implementation and K."""
    W, H, left, right, top, bottom = 960, 560, 80, 200, 50, 60
    points = [p for pts in series.values() for p in pts if p[1] > 0] + [(None, v) for v in limits.values()]
    xs = [p[0] for p in points if p[0]]
    ys = [p[1] for p in points]
    if not xs:
        return f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}"><text x="20" y="40">no data</text></svg>\n'
    x0, x1 = math.log2(min(xs)), math.log2(max(xs))
    x1 = x1 if x1 > x0 else x0 + 1
    y0, y1 = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))
    y1 = y1 if y1 > y0 else y0 + 1
    px = lambda b: left + (math.log2(b) - x0) / (x1 - x0) * (W - left - right)
    py = lambda v: top + (y1 - math.log10(v)) / (y1 - y0) * (H - top - bottom)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2 - right / 2}" y="24" text-anchor="middle" font-size="15">{title}</text>']
    for e in range(int(x0), int(math.ceil(x1)) + 1):
        if e % 2 == int(x0) % 2 or x1 - x0 <= 10:
            x = px(2 ** e)
            out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{H - bottom}" stroke="#e5e5e5"/>')
            out.append(f'<text x="{x:.1f}" y="{H - bottom + 18}" text-anchor="middle">{size_label(2 ** e)}</text>')
    for e in range(y0, y1 + 1):
        y = py(10 ** e)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{W - right}" y2="{y:.1f}" stroke="#e5e5e5"/>')
        out.append(f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">{10.0 ** e:g}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{W - left - right}" height="{H - top - bottom}" fill="none" stroke="black"/>')
    out.append(f'<text x="{(left + W - right) / 2}" y="{H - 15}" text-anchor="middle">bytes per process (log2)</text>')
    out.append(f'<text transform="translate(22,{(top + H - bottom) / 2}) rotate(-90)" text-anchor="middle">busbw, GB/s (log10)</text>')
    ks = sorted({k for _, k in series} | set(limits))
    dash = {k: DASHES[i % len(DASHES)] for i, k in enumerate(sorted(ks, reverse=True))}
    legend = []
    for k, limit in sorted(limits.items()):
        y = py(limit)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{W - right}" y2="{y:.1f}" stroke="#999" stroke-dasharray="{dash[k]}"/>')
        legend.append((f"streaming bound K={k}", "#999", dash[k]))
    for impl in ORDER:
        for k in ks:
            pts = sorted(p for p in series.get((impl, k), []) if p[1] > 0)
            if not pts:
                continue
            path = " ".join(f"{px(b):.1f},{py(v):.1f}" for b, v in pts)
            out.append(f'<polyline points="{path}" fill="none" stroke="{COLORS[impl]}" stroke-width="2" stroke-dasharray="{dash[k]}"/>')
            out += [f'<circle cx="{px(b):.1f}" cy="{py(v):.1f}" r="3" fill="{COLORS[impl]}"/>' for b, v in pts]
            legend.append((f"{impl} K={k}", COLORS[impl], dash[k]))
    for i, (label, color, d) in enumerate(legend):
        y = top + 10 + 20 * i
        out.append(f'<line x1="{W - right + 15}" y1="{y}" x2="{W - right + 45}" y2="{y}" stroke="{color}" stroke-width="2" stroke-dasharray="{d}"/>')
        out.append(f'<text x="{W - right + 52}" y="{y + 4}">{label}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--plot", required=True)
    args = parser.parse_args()
    machine = {}
    if os.path.exists(os.path.join(args.raw, "machine.json")):
        with open(os.path.join(args.raw, "machine.json")) as f:
            machine = json.load(f)
    data, probes, versions, notes = load_runs(args.raw, machine.get("in_place", False))
    if not data:
        sys.exit("report.py: no results under " + args.raw)
    # The bound as busbw, for the plot: busbw <= B (K - 1) / K^2.
    limits = {k: v * (k - 1) / (k * k) for k, v in probes.items()}
    header, rows, series = build_table(data, probes)
    table = markdown(header, rows)
    lines = [f"Command: `{machine.get('command', '?')}`", "",
             f"Machine: {machine.get('cpu', '?')}, {machine.get('cores', '?')} cores, {machine.get('memory_gib', '?')} GiB,"
             f" Linux {machine.get('kernel', '?')}; load average before the runs {machine.get('load_before', '?')},"
             f" after {machine.get('load_after', '?')}; {machine.get('repetitions', '?')} repetitions in"
             f" {machine.get('minutes', '?')} min.", "",
             "Time: median over repetitions of each run's median call time (us); every call starts with a barrier"
             " and, for every implementation of several processes, lasts from the earliest rank's start to the latest"
             " rank's end, all ranks reading this host's CLOCK_MONOTONIC (the slowest rank's own span would undercount"
             " calls whose ranks do not start together); busbw in GB/s;"
             " -heap: the same MPI with MALLOC_MMAP_THRESHOLD_ and MALLOC_TOP_PAD_ at"
             f" {machine.get('heap_bytes', '?')} bytes (freed temporaries stay in the heap: no page faults on reuse);"
             " best peer = the fastest of every peer and variant; X speedup = best peer's time / X's time (above 1: X"
             " is faster); meshreduce: one process, a thread per device; mr-procs: `meshreduce bench --backend"
             " processes` under mpirun, one process per rank, private buffers (copied in and out of its shared"
             " segment); mr-procs-shared: buffers from its shared arena (no copy); mr-2machines: two emulated machines of"
             " K/2 processes (--ranks-per-node), hierarchical-rs, traffic between them over MPI on TCP loopback;"
             " mr-2machines-ring: the same layout, a flat ring; openmpi-tcp: MPI_Allreduce with Open MPI's TCP transport"
             " only (every pair over loopback), the peer of the mr-2machines rows, whose speedup is over it;"
             " X of bound = the streaming bound's time 2 K S / B over X's time (at most 1), B being the best"
             " traffic rate of `meshreduce bench`'s probe in the same run"
             + "".join(f" (K={k}: B = {v:.2f} GB/s)" for k, v in sorted(probes.items()))
             + "; for buffers smaller than the probe's, B over buffers of their size (the caches may serve them).", ""]
    lines += ["Implementations: " + "; ".join(f"{i}: {versions[i]}" for i in ORDER if i in versions) + ".", ""]
    lines += [table, ""] + [f"- {n}" for n in notes]
    text = "\n".join(lines).rstrip() + "\n"
    print(text)
    for path in (args.table, args.plot):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(args.table, "w") as f:
        f.write("# meshreduce against Open MPI, MPICH and Gloo\n\n" + text + f"\n![busbw against size]({os.path.relpath(args.plot, os.path.dirname(os.path.abspath(args.table)))})\n")
    title = "allreduce busbw against size per process (this machine)"
    with open(args.plot, "w") as f:
        f.write(svg_plot(series, limits, title))
    print(f"table: {args.table}\nplot: {args.plot}", file=sys.stderr)


if __name__ == "__main__":
    main()
