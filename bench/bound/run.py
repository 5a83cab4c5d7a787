#!/usr/bin/python3
"""The thread executor against the streaming bound, K = 2..8: `meshreduce bench --json` run round
robin over K for several repetitions (rotating the order each time), then per K and size the median
fraction of the bound over the repetitions, out of place and in place. Each run measures its own B
(docs/benchmarking.md), so every fraction is a ratio taken within one run.

    bench/bound/run.py [--meshreduce build/tools/meshreduce/meshreduce] [--ks 2,3,4,5,6,7,8]
                       [--sizes 16M 256M 4] [--reps 3] [--iterations 10]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--meshreduce", default="build/tools/meshreduce/meshreduce")
    parser.add_argument("--ks", default="2,3,4,5,6,7,8")
    parser.add_argument("--min-bytes", default="16M")
    parser.add_argument("--max-bytes", default="256M")
    parser.add_argument("--factor", default="4")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=10)
    args = parser.parse_args()
    ks = [int(k) for k in args.ks.split(",")]
    if args.reps < 1 or not ks or min(ks) < 1:
        parser.error("--reps and every K must be at least 1")
    if not os.access(args.meshreduce, os.X_OK):
        parser.error(f"--meshreduce {args.meshreduce}: not an executable (build first: make build)")

    fractions = {}  # (k, bytes, in_place) -> [fraction per repetition]
    loads = []
    for rep in range(args.reps):
        order = ks[rep % len(ks):] + ks[:rep % len(ks)]
        for k in order:
            loads.append(os.getloadavg()[0])
            out = subprocess.run([args.meshreduce, "bench", "-k", str(k), "-b", args.min_bytes, "-e", args.max_bytes,
                                  "-f", args.factor, "-n", str(args.iterations), "--json"],
                                 check=True, capture_output=True, text=True).stdout
            for row in json.loads(out)["results"]:
                if row["wrong"] or row["in_place"]["wrong"]:
                    sys.exit(f"K={k} {row['bytes']} bytes: wrong elements; the figures do not count")
                fractions.setdefault((k, row["bytes"], False), []).append(row["bound"])
                fractions.setdefault((k, row["bytes"], True), []).append(row["in_place"]["bound"])
            print(f"# rep {rep + 1}/{args.reps}, K={k} done (load {loads[-1]:.1f})", file=sys.stderr, flush=True)

    sizes = sorted({size for (_, size, _) in fractions})
    print(f"# fraction of the streaming bound (t_bound / t), median of {args.reps} interleaved runs;"
          f" load average {min(loads):.1f}-{max(loads):.1f}")
    print("# out of place / in place")
    print("#  K " + "".join(f"{size >> 20:>10}M" for size in sizes))
    for k in ks:
        cells = [f"{statistics.median(fractions[(k, s, False)]):.2f}/{statistics.median(fractions[(k, s, True)]):.2f}"
                 for s in sizes]
        print(f"  {k:2d} " + "".join(f"{c:>11}" for c in cells))


if __name__ == "__main__":
    main()
