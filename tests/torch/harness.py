"""Runs a function on `world` processes that meet through a file store, and never hangs: each
process has a deadline, stragglers are killed, and every rank's exception comes back."""

from __future__ import annotations

import datetime
import multiprocessing
import os
import queue
import tempfile
import time
import traceback

import torch.distributed as dist


def _entry(fn, rank, world, store_path, args, results):
    try:
        value = fn(rank, world, store_path, *args)
        results.put((rank, "ok", value))
    except BaseException as error:  # reported to the parent, which decides what it means
        results.put((rank, "error", f"{type(error).__name__}: {error}\n{traceback.format_exc()}"))
    finally:
        results.close()
        results.join_thread()  # the result is in the pipe before the process ends
        # Skip interpreter teardown: a gloo group's destructor can hang (issue 12's fact).
        os._exit(0)


def run(fn, world, *args, deadline_s=60.0):
    """{rank: ("ok", value) | ("error", text) | ("killed", None)} after every rank ended or the
    deadline passed. fork: the parent has imported torch, and no thread of its runs yet."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    with tempfile.TemporaryDirectory(prefix="meshreduce-torch-") as directory:
        store_path = os.path.join(directory, "store")
        processes = [context.Process(target=_entry, args=(fn, rank, world, store_path, args, results))
                     for rank in range(world)]
        for process in processes:
            process.start()
        outcome = {}
        end = time.monotonic() + deadline_s
        while len(outcome) < world and time.monotonic() < end:
            try:
                rank, status, value = results.get(timeout=max(0.05, min(1.0, end - time.monotonic())))
                outcome[rank] = (status, value)
            except queue.Empty:
                if all(not p.is_alive() for p in processes) and results.empty():
                    break
        for process in processes:
            process.join(timeout=max(0.0, end - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
        for rank in range(world):
            outcome.setdefault(rank, ("killed", None))
        return outcome


def values(outcome):
    """Every rank's returned value; raises with every failing rank's report otherwise."""
    failures = {rank: result for rank, result in outcome.items() if result[0] != "ok"}
    if failures:
        raise AssertionError("\n".join(f"rank {rank}: {status}: {text}" for rank, (status, text) in failures.items()))
    return [outcome[rank][1] for rank in sorted(outcome)]


def init_gloo(rank, world, store_path, timeout_s=30.0):
    dist.init_process_group("gloo", init_method=f"file://{store_path}", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=timeout_s))
