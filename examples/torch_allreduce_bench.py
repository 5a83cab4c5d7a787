#!/usr/bin/python3
"""torch.distributed.all_reduce on meshreduce and on gloo, side by side in one run.

    /usr/bin/python3 examples/torch_allreduce_bench.py --worlds 2 4 --sizes-mib 1 4 16 64

For each world size, the processes create both groups (gloo as the default group, meshreduce
with new_group) and time float32 SUM allreduces of each size, alternating the backends call by
call so that both see the same machine load. Before every timed call a gloo barrier lines the
ranks up; a call's time is the slowest rank's. Printed: medians, algbw = S/t and nccl-tests'
busbw = algbw * 2(K-1)/K, and the ratio gloo time / meshreduce time.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import tempfile
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def worker(rank, world, sizes_mib, repeats, store_path, queue):
    torch.set_num_threads(1)
    import meshreduce.torch as mrt
    dist.init_process_group("gloo", init_method=f"file://{store_path}", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=300))
    mesh = dist.new_group(backend="meshreduce", pg_options=mrt.Options(timeout=120.0))
    groups = {"gloo": None, "meshreduce": mesh}
    times = {(b, s): [] for b in groups for s in sizes_mib}
    buffers = {s: torch.full((s * (1 << 20) // 4,), float(rank + 1)) for s in sizes_mib}
    for repeat in range(repeats + 1):  # the first round warms up (layouts, segments, pages)
        for size in sizes_mib:
            order = list(groups) if repeat % 2 == 0 else list(reversed(groups))
            for backend in order:
                dist.barrier()
                start = time.perf_counter()
                dist.all_reduce(buffers[size], group=groups[backend])
                elapsed = time.perf_counter() - start
                slowest = torch.tensor([elapsed], dtype=torch.float64)
                dist.all_reduce(slowest, op=dist.ReduceOp.MAX)
                if repeat > 0:
                    times[(backend, size)].append(slowest.item())
                buffers[size].fill_(float(rank + 1))
    if rank == 0:
        queue.put({key: statistics.median(value) for key, value in times.items()})
    dist.barrier()
    os._exit(0)  # gloo's destroy_process_group can hang here; the processes end anyway


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worlds", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--sizes-mib", type=int, nargs="+", default=[1, 4, 16, 64])
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    if any(not 1 <= s <= 1024 for s in args.sizes_mib) or any(not 2 <= w <= 64 for w in args.worlds):
        parser.error("sizes must be 1..1024 MiB and worlds 2..64")
    print(f"load average {os.getloadavg()[0]:.1f} {os.getloadavg()[1]:.1f} {os.getloadavg()[2]:.1f} on "
          f"{os.cpu_count()} cores; float32 SUM, {args.repeats} timed calls per cell, medians")
    print("| K | MiB | gloo ms | meshreduce ms | gloo busbw GB/s | meshreduce busbw GB/s | speed-up |")
    print("|---|-----|---------|---------------|-----------------|-----------------------|----------|")
    context = mp.get_context("spawn")
    for world in args.worlds:
        queue = context.SimpleQueue()
        with tempfile.TemporaryDirectory(prefix="bench-store-") as directory:
            mp.start_processes(worker, args=(world, args.sizes_mib, args.repeats, os.path.join(directory, "s"), queue),
                               nprocs=world, join=True, start_method="spawn")
        medians = queue.get()
        for size in args.sizes_mib:
            gloo, mesh = medians[("gloo", size)], medians[("meshreduce", size)]
            bus = lambda t: size * (1 << 20) / t * 2 * (world - 1) / world / 1e9  # noqa: E731
            print(f"| {world} | {size} | {1e3 * gloo:.2f} | {1e3 * mesh:.2f} | {bus(gloo):.2f} | {bus(mesh):.2f} "
                  f"| {gloo / mesh:.2f}x |")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
