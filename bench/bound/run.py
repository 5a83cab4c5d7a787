#!/usr/bin/python3
"""The thread executor against the streaming bound, K = 2..8: `meshreduce bench --json` run round
robin over K for several repetitions (rotating the order each time), then per K and size the median
fraction of the bound over the repetitions, out of place and in place. Each run measures its own B
(docs/benchmarking.md), so every fraction is a ratio taken within one run.

Given several binaries (--meshreduce twice or more, e.g. before and after a change), each K's runs
alternate between them, so that all see the same load, and a table is printed per binary, then the
ratio of each binary's fractions to the first's.

    bench/bound/run.py [--meshreduce build/tools/meshreduce/meshreduce ...] [--ks 2,3,4,5,6,7,8]
                       [--min-bytes 16M] [--max-bytes 256M] [--factor 4] [--reps 3] [--iterations 10]
                       [--spread] [--save runs.json]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys


def size_text(size):
    return f"{size >> 10}K" if size < 1 << 20 else f"{size >> 20}M"


def table(title, ks, sizes, cell):
    print(title)
    print("# out of place / in place")
    print("#  K " + "".join(f"{size_text(size):>11}" for size in sizes))
    for k in ks:
        print(f"  {k:2d} " + "".join(f"{cell(k, s):>11}" for s in sizes))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--meshreduce", action="append",
                        help="binary to run (repeat to compare binaries; default build/tools/meshreduce/meshreduce)")
    parser.add_argument("--ks", default="2,3,4,5,6,7,8")
    parser.add_argument("--min-bytes", default="16M")
    parser.add_argument("--max-bytes", default="256M")
    parser.add_argument("--factor", default="4")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--spread", action="store_true",
                        help="also print each cell's lowest and highest single run")
    parser.add_argument("--save", metavar="FILE",
                        help="write every run's bench JSON there, with its binary, K, repetition and load")
    args = parser.parse_args()
    binaries = args.meshreduce or ["build/tools/meshreduce/meshreduce"]
    ks = [int(k) for k in args.ks.split(",")]
    if args.reps < 1 or not ks or min(ks) < 1:
        parser.error("--reps and every K must be at least 1")
    for binary in binaries:
        if not os.access(binary, os.X_OK):
            parser.error(f"--meshreduce {binary}: not an executable (build first: make build)")

    fractions = {}  # (binary, k, bytes, in_place) -> [fraction per repetition]
    times = {}  # (binary, k, bytes, in_place) -> [median call time per repetition, us]
    loads = []
    saved = []  # every run's bench JSON, for --save
    for rep in range(args.reps):
        order = ks[rep % len(ks):] + ks[:rep % len(ks)]
        for k in order:
            # Alternate which binary goes first, so that neither always follows the other.
            for b in (range(len(binaries)) if rep % 2 == 0 else reversed(range(len(binaries)))):
                loads.append(os.getloadavg()[0])
                out = subprocess.run([binaries[b], "bench", "-k", str(k), "-b", args.min_bytes, "-e", args.max_bytes,
                                      "-f", args.factor, "-n", str(args.iterations), "--json"],
                                     check=True, capture_output=True, text=True).stdout
                run = json.loads(out)
                saved.append({"binary": binaries[b], "k": k, "rep": rep + 1, "load": loads[-1], "bench": run})
                for row in run["results"]:
                    if row["wrong"] or row["in_place"]["wrong"]:
                        sys.exit(f"{binaries[b]} K={k} {row['bytes']} bytes: wrong elements; the figures do not count")
                    fractions.setdefault((b, k, row["bytes"], False), []).append(row["bound"])
                    fractions.setdefault((b, k, row["bytes"], True), []).append(row["in_place"]["bound"])
                    times.setdefault((b, k, row["bytes"], False), []).append(row["time_us"])
                    times.setdefault((b, k, row["bytes"], True), []).append(row["in_place"]["time_us"])
            print(f"# rep {rep + 1}/{args.reps}, K={k} done (load {loads[-1]:.1f})", file=sys.stderr, flush=True)

    if args.save:
        with open(args.save, "w") as file:
            json.dump(saved, file, indent=1)
    sizes = sorted({size for (_, _, size, _) in fractions})
    med = {key: statistics.median(values) for key, values in fractions.items()}
    time = {key: statistics.median(values) for key, values in times.items()}
    for b, binary in enumerate(binaries):
        name = f" ({binary})" if len(binaries) > 1 else ""
        table(f"# fraction of the streaming bound (t_bound / t){name}, median of {args.reps} interleaved runs;"
              f" load average {min(loads):.1f}-{max(loads):.1f}", ks, sizes,
              lambda k, s: f"{med[(b, k, s, False)]:.2f}/{med[(b, k, s, True)]:.2f}")
        # A fraction above 1.0 in any single run means that run's B was too low: a bound must hold
        # in every run, not only in the median.
        highest = max((value, k, s, in_place) for (bb, k, s, in_place), values in fractions.items() if bb == b
                      for value in values)
        # Three decimals: a run that read 1.004 would print as 1.00 in bench's own table.
        print(f"# highest fraction of any single run: {highest[0]:.3f} (K={highest[1]}, {size_text(highest[2])}, "
              f"{'in place' if highest[3] else 'out of place'})")
        if args.spread:
            for name, pick in (("lowest", min), ("highest", max)):
                table(f"# {name} single run per cell", ks, sizes,
                      lambda k, s: f"{pick(fractions[(b, k, s, False)]):.2f}/{pick(fractions[(b, k, s, True)]):.2f}")
    for b in range(1, len(binaries)):
        table(f"# ratio of fractions, {binaries[b]} / {binaries[0]} (each row's B measured in its own run)", ks, sizes,
              lambda k, s: f"{med[(b, k, s, False)] / med[(0, k, s, False)]:.2f}/"
                           f"{med[(b, k, s, True)] / med[(0, k, s, True)]:.2f}")
        table(f"# speed-up of the calls, median time of {binaries[0]} / of {binaries[b]}", ks, sizes,
              lambda k, s: f"{time[(0, k, s, False)] / time[(b, k, s, False)]:.2f}/"
                           f"{time[(0, k, s, True)] / time[(b, k, s, True)]:.2f}")


if __name__ == "__main__":
    main()
