"""meshreduce.torch against gloo (and a plain reference) on integer-valued data, whose sums are
exact in every dtype: equal bits are required. Processes are forked and meet through a file
store; every run has a deadline, so a failure ends the test instead of hanging it."""

from __future__ import annotations

import datetime

import pytest
import torch
import torch.distributed as dist

import meshreduce.torch as mrt

import harness

DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int32, torch.int64]
OPS = [dist.ReduceOp.SUM, dist.ReduceOp.AVG, dist.ReduceOp.MIN, dist.ReduceOp.MAX]


def data(rank, tensor, count, dtype):
    """Small integers, different per rank, per tensor and per element: exact sums in any dtype."""
    index = torch.arange(count, dtype=torch.int64)
    return ((index * 5 + rank * 7 + tensor * 3) % 17 - 8).to(dtype)


def reference(world, tensor, count, dtype, op):
    stacked = torch.stack([data(r, tensor, count, torch.float64) for r in range(world)])
    if op == dist.ReduceOp.SUM:
        result = stacked.sum(0)
    elif op == dist.ReduceOp.MIN:
        result = stacked.min(0).values
    elif op == dist.ReduceOp.MAX:
        result = stacked.max(0).values
    else:  # AVG: meshreduce multiplies the sum by 1/K (floats), divides with truncation (integers)
        total = stacked.sum(0)
        if dtype.is_floating_point:
            return (total.to(torch.float32) * (1.0 / world)).to(dtype) if dtype != torch.float64 \
                else total * (1.0 / world)
        return torch.div(total.to(torch.int64), world, rounding_mode="trunc").to(dtype)
    return result.to(dtype)


def same_bits(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(a.contiguous().view(torch.uint8),
                                                                     b.contiguous().view(torch.uint8))


def collectives_worker(rank, world, store_path):
    harness.init_gloo(rank, world, store_path)
    mr = dist.new_group(backend="meshreduce", pg_options=mrt.Options(timeout=20.0))
    checked = 0

    # all_reduce: every dtype and op, a size that is not a multiple of anything and a size of 1.
    for dtype in DTYPES:
        for op in OPS:
            for count in (1, 1003):
                mine = data(rank, 0, count, dtype)
                dist.all_reduce(mine, op=op, group=mr)
                expected = reference(world, 0, count, dtype, op)
                assert same_bits(mine, expected), f"all_reduce {dtype} {op} x{count}: {mine[:8]} != {expected[:8]}"
                if op != dist.ReduceOp.AVG and dtype not in (torch.bfloat16,):
                    theirs = data(rank, 0, count, dtype)
                    dist.all_reduce(theirs, op=op)  # gloo
                    assert same_bits(mine, theirs), f"all_reduce {dtype} {op} differs from gloo"
                checked += 1

    # Real-valued data: the sum's error is within the summation-order bound (K-1) u sum|x_k|
    # (u = 2^-24, float32) of the exact sum, for meshreduce's order and for gloo's alike.
    def noise(r):  # float32 values, summed exactly in float64 for the reference
        return torch.randn(4096, generator=torch.Generator().manual_seed(1000 + r)).to(torch.float64)
    exact = sum(noise(r) for r in range(world))
    bound = (world - 1) * 2.0 ** -24 * sum(noise(r).abs() for r in range(world))
    for group in (mr, None):
        mine = noise(rank).to(torch.float32)
        dist.all_reduce(mine, group=group)
        error = (mine.to(torch.float64) - exact).abs()
        assert bool((error <= bound).all()), f"{'gloo' if group is None else 'meshreduce'}: error above the bound"
        if world <= 2:  # one order of a two-term sum: the correctly rounded result, both backends
            assert same_bits(mine, exact.to(torch.float32))
    checked += 1

    # An uneven coalesced list of several dtypes: one schedule, in place.
    shapes = [(1, torch.float32), (4099, torch.float32), (37, torch.float64), (5, torch.int64),
              (300, torch.bfloat16), (0, torch.float32), (64, torch.int32)]
    # torch's all_reduce_coalesced wants one dtype; the group's own method takes any mix.
    tensors = [data(rank, t, count, dtype) for t, (count, dtype) in enumerate(shapes)]
    mr.allreduce_coalesced(tensors, dist.AllreduceCoalescedOptions()).wait()
    for t, (count, dtype) in enumerate(shapes):
        assert same_bits(tensors[t], reference(world, t, count, dtype, dist.ReduceOp.SUM)), f"coalesced tensor {t}"
    for dtype in (torch.float32, torch.int64):
        counts = [3, 1, 1000, 0, 17]
        tensors = [data(rank, t, count, dtype) for t, count in enumerate(counts)]
        dist.all_reduce_coalesced(tensors, op=dist.ReduceOp.MAX, group=mr)
        for t, count in enumerate(counts):
            assert same_bits(tensors[t], reference(world, t, count, dtype, dist.ReduceOp.MAX)), f"coalesced {t}"
    checked += 1

    # A non-contiguous tensor goes through a contiguous copy and back.
    base = data(rank, 1, 64, torch.float32).reshape(8, 8)
    view = base.t()
    dist.all_reduce(view, group=mr)
    assert same_bits(base.flatten(), reference(world, 1, 64, torch.float32, dist.ReduceOp.SUM)), "non-contiguous"

    # broadcast from every root; any dtype (bytes), odd byte counts included.
    for root in range(world):
        for dtype, count in ((torch.float32, 1000), (torch.uint8, 3), (torch.bool, 5), (torch.float16, 7),
                             (torch.int64, 9)):
            def of(r):
                values = data(r, root, count, torch.int64)
                return values > 0 if dtype == torch.bool else values.to(dtype)
            mine = of(rank)
            dist.broadcast(mine, src=root, group=mr)
            assert same_bits(mine, of(root)), f"broadcast {dtype} from {root}: {mine} != {of(root)}"
            if dtype != torch.bool:  # gloo has no bool
                theirs = of(rank)
                dist.broadcast(theirs, src=root)
                assert same_bits(mine, theirs), f"broadcast {dtype} from {root}: {mine} != gloo {theirs}"
            checked += 1
    # Negative zero keeps its sign bit (a float sum would make it +0).
    negative_zero = torch.tensor([-0.0, 1.5, -2.0]) if rank == 0 else torch.full((3,), 9.0)
    dist.broadcast(negative_zero, src=0, group=mr)
    assert same_bits(negative_zero, torch.tensor([-0.0, 1.5, -2.0])), f"broadcast of -0.0: {negative_zero}"

    # all_gather (lists) and the flat _allgather_base.
    for dtype, count in ((torch.float32, 513), (torch.uint8, 3), (torch.bfloat16, 10)):
        mine = data(rank, 2, count, torch.int64).to(dtype)
        outs = [torch.empty(count, dtype=dtype) for _ in range(world)]
        dist.all_gather(outs, mine, group=mr)
        for k in range(world):
            assert same_bits(outs[k], data(k, 2, count, torch.int64).to(dtype)), f"all_gather {dtype} piece {k}"
        if dtype != torch.bfloat16:  # gloo has no bfloat16
            gloo_outs = [torch.empty(count, dtype=dtype) for _ in range(world)]
            dist.all_gather(gloo_outs, mine)
            for k in range(world):
                assert same_bits(outs[k], gloo_outs[k]), f"all_gather {dtype} piece {k} differs from gloo"
        checked += 1
    flat = torch.empty(world * 11, dtype=torch.int32)
    dist._all_gather_base(flat, data(rank, 3, 11, torch.int32), group=mr)
    assert same_bits(flat, torch.cat([data(k, 3, 11, torch.int32) for k in range(world)])), "_all_gather_base"

    # reduce_scatter: gloo has none in torch 1.13, so against the plain reference.
    for dtype in (torch.float32, torch.int64, torch.float16):
        for op in (dist.ReduceOp.SUM, dist.ReduceOp.MAX):
            inputs = [data(rank, k, 129, dtype) for k in range(world)]
            out = torch.empty(129, dtype=dtype)
            dist.reduce_scatter(out, inputs, op=op, group=mr)
            assert same_bits(out, reference(world, rank, 129, dtype, op)), f"reduce_scatter {dtype} {op}"
            checked += 1
    flat_in = torch.cat([data(rank, k, 20, torch.float32) for k in range(world)])
    out = torch.empty(20)
    dist._reduce_scatter_base(out, flat_in, group=mr)
    assert same_bits(out, reference(world, rank, 20, torch.float32, dist.ReduceOp.SUM)), "_reduce_scatter_base"

    # Asynchronous: several collectives in flight, completed in order, through futures too.
    pending = [data(rank, t, 2000, torch.float32) for t in range(4)]
    works = [dist.all_reduce(t, group=mr, async_op=True) for t in pending]
    futures = [w.get_future() for w in works]
    for t, (work, future) in enumerate(zip(works, futures)):
        work.wait()
        assert future.done()
        assert same_bits(future.value()[0], reference(world, t, 2000, torch.float32, dist.ReduceOp.SUM))
    dist.barrier(group=mr)
    assert mrt.options_of(mr)["timeout"] == datetime.timedelta(seconds=20)
    dist.barrier()  # gloo's, instead of destroy_process_group (which can hang with gloo here)
    return checked


@pytest.mark.parametrize("world", [1, 2, 3, 4])
def test_every_collective_matches_gloo(world):
    counts = harness.values(harness.run(collectives_worker, world, deadline_s=120))
    assert all(c == counts[0] and c > 60 for c in counts)


def mismatch_worker(rank, world, store_path):
    harness.init_gloo(rank, world, store_path)
    # Mismatches raise at once; the timeout only bounds calls that succeed on a loaded machine.
    mr = dist.new_group(backend="meshreduce", pg_options=mrt.Options(timeout=15.0))
    raised = []
    # Sizes differ across ranks.
    try:
        dist.all_reduce(torch.ones(100 + rank), group=mr)
    except RuntimeError as error:
        raised.append(str(error))
    # Dtypes differ across ranks.
    try:
        dist.all_reduce(torch.ones(50, dtype=torch.float32 if rank == 0 else torch.float64), group=mr)
    except RuntimeError as error:
        raised.append(str(error))
    # The group still works for calls that agree.
    ok = torch.full((10,), float(rank + 1))
    dist.all_reduce(ok, group=mr)
    assert same_bits(ok, torch.full((10,), float(sum(range(1, world + 1)))))
    # Local errors raise at the call, on the rank that made them.
    for bad in (lambda: dist.all_reduce(torch.ones(3, dtype=torch.uint8), group=mr),
                lambda: dist.all_reduce(torch.ones(3), op=dist.ReduceOp.PRODUCT, group=mr)):
        try:
            bad()
            dist.barrier(group=mr)
        except RuntimeError as error:
            raised.append(str(error))
    dist.barrier()
    return raised


def test_mismatches_raise_on_every_rank():
    reports = harness.values(harness.run(mismatch_worker, 3, deadline_s=60))
    for rank, raised in enumerate(reports):
        assert len(raised) == 4, f"rank {rank}: {raised}"
        assert "layout mismatch" in raised[0] and "f32 x 100" in raised[0] and "f32 x 101" in raised[0], raised[0]
        assert "layout mismatch" in raised[1] and "f64" in raised[1], raised[1]
        assert "Byte" in raised[2] and "int64" in raised[2], raised[2]
        assert "SUM, AVG, MIN and MAX" in raised[3], raised[3]


def dead_peer_worker(rank, world, store_path):
    import os
    import time
    harness.init_gloo(rank, world, store_path)
    mr = dist.new_group(backend="meshreduce", pg_options=mrt.Options(timeout=4.0))
    dist.all_reduce(torch.ones(1000), group=mr)  # the layout is known to all now
    if rank == world - 1:
        os._exit(3)  # dies without a word
    start = time.monotonic()
    try:
        dist.all_reduce(torch.ones(1000), group=mr)
        return "no error"
    except RuntimeError as error:
        return (str(error), time.monotonic() - start)


def test_a_dead_peer_makes_the_others_raise_within_the_timeout():
    outcome = harness.run(dead_peer_worker, 3, deadline_s=60)
    for rank in (0, 1):
        status, value = outcome[rank]
        assert status == "ok", value
        text, seconds = value
        assert "TimeoutError" in text or "waited" in text or "failed" in text, text
        assert seconds < 4.0 + 10, f"rank {rank} took {seconds:.1f} s to notice (timeout 4 s)"


def shutdown_worker(rank, world, store_path):
    import time
    harness.init_gloo(rank, world, store_path)
    mr = dist.new_group(backend="meshreduce", pg_options=mrt.Options(timeout=2.0))
    # Rank 0 queues collectives its peer never joins, then destroys the group: the running one
    # ends at its deadline, the queued ones fail, and nothing hangs.
    if rank == 0:
        works = [dist.all_reduce(torch.ones(10 + i), group=mr, async_op=True) for i in range(3)]
        start = time.monotonic()
        dist.destroy_process_group(mr)
        del mr  # the last reference: the group's destructor runs here
        elapsed = time.monotonic() - start
        errors = []
        for work in works:
            try:
                work.wait()
                errors.append("completed")
            except RuntimeError as error:
                errors.append(str(error))
        return elapsed, errors
    time.sleep(4)
    return None


def test_shutdown_with_work_in_flight_does_not_hang():
    elapsed, errors = harness.values(harness.run(shutdown_worker, 2, deadline_s=60))[0]
    assert elapsed < 10
    assert len(errors) == 3 and all(e != "completed" for e in errors), errors
    assert any("destroyed" in e for e in errors), errors


def init_methods_worker(rank, world, store_path, method, port):
    import os
    # meshreduce as the default group, found through each of torch's rendezvous methods.
    if method == "env":
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world))
        dist.init_process_group("meshreduce", init_method="env://", timeout=datetime.timedelta(seconds=20))
    elif method == "tcp":
        dist.init_process_group("meshreduce", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world,
                                timeout=datetime.timedelta(seconds=20))
    else:
        dist.init_process_group("meshreduce", init_method=f"file://{store_path}", rank=rank, world_size=world,
                                timeout=datetime.timedelta(seconds=20),
                                pg_options=mrt.Options(algorithm="ring", timeout=5.0))
    assert dist.get_backend() == "meshreduce"
    options = mrt.options_of(dist.group.WORLD)
    mine = data(rank, 0, 777, torch.float32)
    dist.all_reduce(mine)
    assert same_bits(mine, reference(world, 0, 777, torch.float32, dist.ReduceOp.SUM))
    dist.barrier()
    dist.destroy_process_group()  # meshreduce's own shutdown, with every rank still present
    return options["algorithm"], options["timeout"].total_seconds()


@pytest.mark.parametrize("method", ["env", "tcp", "file"])
def test_init_process_group_through_each_rendezvous(method):
    import socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    results = harness.values(harness.run(init_methods_worker, 3, method, port, deadline_s=60))
    expected = ("ring", 5.0) if method == "file" else ("auto", 20.0)
    assert results == [expected] * 3, results


def test_options_are_checked():
    with pytest.raises(TypeError, match="meshreduce.torch.Options"):
        mrt.create_process_group(dist.HashStore(), 0, 1, options={"algorithm": "ring"})
    with pytest.raises(ValueError, match="timeout must be positive"):
        mrt.create_process_group(dist.HashStore(), 0, 1, options=mrt.Options(timeout=0))
    with pytest.raises(RuntimeError, match="piece_elements must be positive, got 0"):
        mrt.create_process_group(dist.HashStore(), 0, 1, options=mrt.Options(piece_elements=0))
    with pytest.raises(RuntimeError, match="no-such-algorithm"):
        group = mrt.create_process_group(dist.HashStore(), 0, 1, options=mrt.Options(algorithm="no-such-algorithm"))
        group.allreduce([torch.ones(4)]).wait()
    group = mrt.create_process_group(dist.HashStore(), 0, 1, timeout=7.5)
    assert mrt.options_of(group) == {"algorithm": "auto", "timeout": datetime.timedelta(seconds=7.5),
                                     "piece_elements": 1 << 16}
    with pytest.raises(TypeError, match="not a meshreduce process group"):
        mrt.options_of(dist.ProcessGroupGloo(dist.HashStore(), 0, 1, datetime.timedelta(seconds=5)))


def test_malformed_calls_raise_naming_both_values():
    group = mrt.create_process_group(dist.HashStore(), 0, 1, timeout=5.0)
    with pytest.raises(RuntimeError, match="allreduce takes one tensor per process .one device., got 2"):
        group.allreduce([torch.ones(2), torch.ones(2)])
    with pytest.raises(RuntimeError, match="_allgather_base: output has 5 elements, not 1 x the input's 4"):
        group._allgather_base(torch.empty(5), torch.ones(4))
    with pytest.raises(RuntimeError, match="_reduce_scatter_base: input has 3 elements, not 1 x the output's 4"):
        group._reduce_scatter_base(torch.empty(4), torch.ones(3))
    with pytest.raises(RuntimeError, match="allgather: 2 output tensors for a group of 1 ranks"):
        group.allgather([[torch.empty(3), torch.empty(3)]], [torch.ones(3)]).wait()
    with pytest.raises(RuntimeError, match="allgather output 0 is Float x 4, the input is Float x 3"):
        group.allgather([[torch.empty(4)]], [torch.ones(3)]).wait()
    with pytest.raises(RuntimeError, match="reduce_scatter input 0 is Double x 3, the output is Float x 3"):
        group.reduce_scatter([torch.empty(3)], [[torch.ones(3, dtype=torch.float64)]],
                             dist.ReduceScatterOptions()).wait()
    options = dist.BroadcastOptions()
    options.rootRank = 3
    with pytest.raises(RuntimeError, match="broadcast root 3 is not a rank of a group of 1"):
        group.broadcast([torch.ones(3)], options).wait()
    # The group still serves a good call after all of these.
    ones = torch.ones(3)
    group.allreduce([ones]).wait()
    assert torch.equal(ones, torch.ones(3))


def subgroup_worker(rank, world, store_path):
    harness.init_gloo(rank, world, store_path)
    # Two meshreduce groups at once: the odd ranks and all of them, used interleaved.
    odd = dist.new_group(ranks=[r for r in range(world) if r % 2 == 1], backend="meshreduce",
                         pg_options=mrt.Options(timeout=15.0))
    everyone = dist.new_group(backend="meshreduce", pg_options=mrt.Options(timeout=15.0))
    results = []
    for round_ in range(3):
        if rank % 2 == 1:
            mine = data(rank, round_, 300, torch.int64)
            dist.all_reduce(mine, group=odd)
            results.append(same_bits(mine, sum(data(r, round_, 300, torch.int64) for r in range(1, world, 2))))
        mine = data(rank, round_, 500, torch.float32)
        dist.all_reduce(mine, group=everyone)
        results.append(same_bits(mine, reference(world, round_, 500, torch.float32, dist.ReduceOp.SUM)))
    dist.barrier()
    return results


def test_subgroups_and_several_groups_at_once():
    results = harness.values(harness.run(subgroup_worker, 4, deadline_s=90))
    assert results == [[True] * 3, [True] * 6, [True] * 3, [True] * 6], results
