#!/usr/bin/python3
"""Train a small seeded MLP with DistributedDataParallel on meshreduce and/or gloo.

    /usr/bin/python3 examples/ddp_train.py --backend both --world 4 --steps 300 --plot ddp.svg

Every rank starts from the same seeded weights and trains on its own seeded synthetic batches
(a fixed random teacher network labels them). With --backend both, every process holds one
replica per backend, fed the same batches and stepped alternately, so both do the same
arithmetic except inside the allreduce and both see the same machine load. After training every rank's parameters are compared
bit for bit with rank 0's; with --backend both the two backends' final parameters and losses
are compared too (bitwise at --world 2, where a sum of two numbers has one order). The script
prints the loss curve and per-step times of both side by side and can plot them (SVG/PNG).
Processes start with torch.multiprocessing.spawn and meet through a file store. PYTHONPATH
must reach meshreduce.torch (build/python in a build tree).
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
from torch.nn.parallel import DistributedDataParallel


def make_model(width):
    return torch.nn.Sequential(torch.nn.Linear(128, width), torch.nn.ReLU(), torch.nn.Linear(width, width),
                               torch.nn.ReLU(), torch.nn.Linear(width, 10))


def train(rank, args, backends, store_path, result_dir):
    """One rank: a DDP replica per backend, each from the same seed and fed the same batches,
    stepped alternately (the order flips every step) so that both see the same machine load."""
    torch.set_num_threads(1)
    import meshreduce.torch as mrt
    default = "gloo" if "gloo" in backends else "meshreduce"
    dist.init_process_group(default, init_method=f"file://{store_path}", rank=rank, world_size=args.world,
                            timeout=datetime.timedelta(seconds=120))
    groups = {b: None if b == default else dist.new_group(backend=b, pg_options=mrt.Options() if b == "meshreduce"
                                                          else None) for b in backends}
    replicas = {}
    for backend in backends:
        torch.manual_seed(args.seed)
        teacher = make_model(64)
        model = make_model(args.width)
        ddp = DistributedDataParallel(model, process_group=groups[backend], bucket_cap_mb=args.bucket_mb)
        replicas[backend] = (model, ddp, torch.optim.SGD(ddp.parameters(), lr=args.lr, momentum=0.9))
    batches = torch.Generator().manual_seed(args.seed * 1000 + rank)
    losses = {b: [] for b in backends}
    times = {b: [] for b in backends}
    for step in range(args.steps):
        x = torch.randn(args.batch, 128, generator=batches)
        with torch.no_grad():
            y = teacher(x).argmax(1)
        for backend in (backends if step % 2 == 0 else list(reversed(backends))):
            _, ddp, optimizer = replicas[backend]
            start = time.perf_counter()
            optimizer.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(ddp(x), y)
            loss.backward()
            optimizer.step()
            times[backend].append(time.perf_counter() - start)
            losses[backend].append(loss.item())
    for backend in backends:
        params = torch.cat([p.detach().flatten() for p in replicas[backend][0].parameters()])
        torch.save({"losses": losses[backend], "times": times[backend], "params": params},
                   os.path.join(result_dir, f"{backend}-{rank}.pt"))
    if default == "gloo":
        dist.barrier()  # destroy_process_group can hang with gloo on this machine; exit without it
        os._exit(0)
    dist.destroy_process_group()  # meshreduce's shutdown never hangs


def run(args, backends, result_dir):
    with tempfile.TemporaryDirectory(prefix="ddp-store-") as directory:
        started = time.perf_counter()
        mp.spawn(train, args=(args, backends, os.path.join(directory, "store"), result_dir), nprocs=args.world,
                 join=True)
        wall = time.perf_counter() - started
    runs = {}
    for backend in backends:
        ranks = [torch.load(os.path.join(result_dir, f"{backend}-{r}.pt")) for r in range(args.world)]
        for r in range(1, args.world):
            if not torch.equal(ranks[r]["params"].view(torch.int32), ranks[0]["params"].view(torch.int32)):
                differ = (ranks[r]["params"] != ranks[0]["params"]).sum().item()
                sys.exit(f"{backend}: rank {r}'s parameters differ from rank 0's in {differ} elements")
        print(f"{backend}: {args.world} ranks, {args.steps} steps; parameters bitwise identical on every rank "
              f"({ranks[0]['params'].numel()} values)")
        runs[backend] = ranks
    alternate = "; steps alternate between the backends" if len(backends) > 1 else ""
    print(f"{' and '.join(backends)} trained in {wall:.1f} s (with start-up{alternate})")
    return runs


def median_ms(times, skip):
    return 1e3 * statistics.median(times[skip:])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["meshreduce", "gloo", "both"], default="both")
    parser.add_argument("--world", type=int, default=2)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--width", type=int, default=1024, help="hidden width (1024: 1.2 M parameters)")
    parser.add_argument("--bucket-mb", type=float, default=25.0, help="DDP's bucket_cap_mb")
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--plot", help="write the loss curves and step times to this SVG or PNG")
    parser.add_argument("--every", type=int, default=25, help="print every N-th step")
    args = parser.parse_args()
    if not 1 <= args.world <= 64:
        parser.error(f"--world must be 1..64, got {args.world}")
    if args.steps < 1:
        parser.error(f"--steps must be positive, got {args.steps}")
    backends = ["gloo", "meshreduce"] if args.backend == "both" else [args.backend]
    with tempfile.TemporaryDirectory(prefix="ddp-results-") as result_dir:
        runs = run(args, backends, result_dir)
    skip = min(10, args.steps - 1)  # warm-up steps left out of the medians
    header = "step " + "".join(f"| {b} loss  {b} ms ".ljust(30) for b in backends)
    print(header)
    for step in list(range(0, args.steps, args.every)) + [args.steps - 1]:
        cells = "".join(f"| {runs[b][0]['losses'][step]:.6f}  {1e3 * runs[b][0]['times'][step]:8.2f}".ljust(30)
                        for b in backends)
        print(f"{step:4d} {cells}")
    for backend in backends:
        print(f"{backend}: median step time {median_ms(runs[backend][0]['times'], skip):.2f} ms (rank 0, steps "
              f"{skip}-{args.steps - 1}), final loss {runs[backend][0]['losses'][-1]:.6f}")
    status = 0
    if len(backends) == 2:
        gloo, mesh = runs["gloo"][0], runs["meshreduce"][0]
        bitwise = torch.equal(gloo["params"].view(torch.int32), mesh["params"].view(torch.int32))
        difference = (gloo["params"] - mesh["params"]).abs().max().item()
        loss_gap = abs(gloo["losses"][-1] - mesh["losses"][-1])
        ratio = median_ms(gloo["times"], skip) / median_ms(mesh["times"], skip)
        print(f"meshreduce vs gloo: parameters {'bitwise equal' if bitwise else 'differ'} "
              f"(largest difference {difference:.3g}), final loss difference {loss_gap:.3g}, "
              f"step time gloo/meshreduce {ratio:.2f}x")
        if args.world == 2 and not bitwise:
            print("error: at --world 2 the backends must agree bit for bit (one order of a two-term sum)")
            status = 1
    if args.plot:
        plot(runs, backends, args, args.plot)
    return status


def plot(runs, backends, args, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    for backend, style in zip(backends, ["-", "--"]):
        left.plot(runs[backend][0]["losses"], style, label=backend)
        right.plot([1e3 * t for t in runs[backend][0]["times"]], style, label=backend, linewidth=0.8)
    left.set(title=f"DDP loss, {args.world} processes, {runs[backends[0]][0]['params'].numel()} parameters",
             xlabel="step", ylabel="cross-entropy (rank 0)")
    right.set(title="step time (rank 0)", xlabel="step", ylabel="ms", yscale="log")
    left.legend()
    right.legend()
    figure.tight_layout()
    figure.savefig(path)
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
