"""The NumPy API's results: every dtype, op and algorithm, in place and out of place, against
the exact reduction computed here in float64 (inputs whose sums are exact in any order)."""

import numpy as np
import pytest

import meshreduce
from support import (DTYPES, as_float64, bits, copy_tensor, empty_like, exact_values, expected,
                     make_grads)

SHAPES = [(3, 5), (1,), (1000,), (0,), (2, 3, 4), ()]
OPS = ["sum", "average", "min", "max"]


def check(results, grads_before, op, dtype):
    want = expected(grads_before, op, dtype)
    for k, device in enumerate(results):
        for n, tensor in enumerate(device):
            got = as_float64(tensor)
            assert got.shape == want[n].shape, f"tensor {n} on device {k}"
            np.testing.assert_array_equal(got, want[n], err_msg=f"tensor {n} on device {k}, {dtype} {op}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("in_place", [True, False])
def test_communicator_every_dtype_and_op(dtype, op, in_place):
    K = 4  # a power of two: the floating average (sum x 1/K) stays exact
    grads = make_grads(K, SHAPES, dtype)
    before = [[copy_tensor(t) for t in device] for device in grads]
    comm = meshreduce.Communicator(devices=[10, 3, 7, 1], threads=2)
    if in_place:
        comm.allreduce(grads, op)
        check(grads, before, op, dtype)
    else:
        outputs = [[empty_like(t) for t in device] for device in grads]
        comm.allreduce(grads, op, outputs=outputs)
        check(outputs, before, op, dtype)
        for k in range(K):  # the inputs are left alone
            for n in range(len(SHAPES)):
                assert bits(grads[k][n]) == bits(before[k][n])


@pytest.mark.parametrize("algorithm", sorted(meshreduce.algorithms()))
@pytest.mark.parametrize("devices", [1, 3, 8])
def test_every_algorithm_on_a_topology(algorithm, devices):
    if algorithm == "dgx1-hierarchical" and devices != 8:
        pytest.skip("dgx1-hierarchical serves the DGX-1's 8 devices only")
    topology = "dgx1-v100" if devices == 8 else f"flat:{devices}"
    if algorithm == "nic-rings":  # one ring per NIC across machines: two DGX-1s
        if devices != 8:
            pytest.skip("nic-rings spans machines: run on two DGX-1s")
        topology, devices = "cluster:2xdgx1-v100", 16
    comm = meshreduce.Communicator(topology=topology, algorithm=algorithm, threads=2, chunk_elements=7)
    grads = make_grads(devices, [(100,), (33, 3), (1,)], "f32")
    before = [[t.copy() for t in device] for device in grads]
    comm.allreduce(grads, "sum")
    check(grads, before, "sum", "f32")
    assert comm.plan(grads[0]).schedule.algorithm == algorithm


@pytest.mark.parametrize("devices", [1, 2, 3, 8, 11])
@pytest.mark.parametrize("in_place", [True, False])
def test_seed_call_any_device_count(devices, in_place):
    grads = make_grads(devices, [(257,), (4, 4)], "f32")
    before = [[t.copy() for t in device] for device in grads]
    ids = list(range(100, 100 + 7 * devices, 7))
    if in_place:
        meshreduce.allreduce_grads_hierarchical(grads, ids, False)
        check(grads, before, "sum", "f32")
    else:
        outputs = [[np.zeros_like(t) for t in device] for device in grads]
        meshreduce.allreduce_grads_hierarchical(grads, ids, outputs=outputs)
        check(outputs, before, "sum", "f32")


def test_seed_call_average_and_groups():
    grads = make_grads(8, [(64,)], "f64")
    before = [[t.copy() for t in device] for device in grads]
    meshreduce.allreduce_grads_hierarchical(grads, average=True, groups=[[0, 1, 2], [3, 4, 5, 6, 7]])
    check(grads, before, "average", "f64")


@pytest.mark.parametrize("bucketing", ["none", "fused", "packer"])
def test_bucketing_modes(bucketing):
    grads = make_grads(8, [(5000,), (3,), (1200,), (77,)], "f32")
    before = [[t.copy() for t in device] for device in grads]
    comm = meshreduce.Communicator(topology="dgx1-v100", algorithm="dgx1-hierarchical", bucketing=bucketing,
                                   fuse_bytes=4096, threads=2)
    assert comm.bucketing == bucketing
    comm.allreduce(grads, "sum")
    check(grads, before, "sum", "f32")


def test_an_output_may_be_its_own_input():
    grads = make_grads(3, [(50,), (20,)], "i64")
    before = [[t.copy() for t in device] for device in grads]
    outputs = [[grads[k][0], np.zeros(20, np.int64)] for k in range(3)]  # tensor 0 in place
    meshreduce.Communicator(devices=[0, 1, 2], threads=1).allreduce(grads, "max", outputs=outputs)
    check(outputs, before, "max", "i64")


def test_readonly_inputs_out_of_place():
    grads = make_grads(2, [(40,)], "i32")
    before = [[t.copy() for t in device] for device in grads]
    for device in grads:
        device[0].flags.writeable = False
    outputs = [[np.zeros(40, np.int32)] for _ in range(2)]
    meshreduce.Communicator(devices=[0, 1], threads=1).allreduce(grads, "sum", outputs=outputs)
    check(outputs, before, "sum", "i32")


def test_tuples_and_numpy_ints_are_accepted():
    grads = tuple(tuple(device) for device in make_grads(2, [(9,)], "f32"))
    before = [[t.copy() for t in device] for device in grads]
    meshreduce.allreduce_grads_hierarchical(grads, (np.int64(4), np.int32(9)))
    check(grads, before, "sum", "f32")


def test_bfloat16_round_trip_rounds_to_nearest_even():
    # 1 + 2^-8 lies halfway between bfloat16 neighbours 1 and 1 + 2^-7: even is 1.
    # 1 + 3 x 2^-8 lies halfway between 1 + 2^-7 and 1 + 2^-6: even is 1 + 2^-6.
    values = np.array([1 + 2**-8, 1 + 3 * 2**-8, -2.5, 0.0], np.float32)
    converted = meshreduce.to_bfloat16(values)
    assert converted.bits.dtype == np.uint16
    np.testing.assert_array_equal(converted.to_float32(), np.array([1, 1 + 2**-6, -2.5, 0], np.float32))
    assert converted.shape == (4,) and converted.size == 4
    np.testing.assert_array_equal(converted.bits, [0x3F80, 0x3F82, 0xC020, 0])


def test_bfloat16_views_the_callers_array():
    bits = [meshreduce.to_bfloat16(exact_values(k, 0, 30).astype(np.float32)).bits for k in range(2)]
    grads = [[meshreduce.BFloat16(b)] for b in bits]
    meshreduce.Communicator(devices=[0, 1], threads=1).allreduce(grads, "sum")
    want = exact_values(0, 0, 30) + exact_values(1, 0, 30)
    for b in bits:  # the caller's uint16 arrays hold the result
        np.testing.assert_array_equal(meshreduce.BFloat16(b).to_float32(), want)


def test_two_python_threads_share_a_communicator():
    import threading
    comm = meshreduce.Communicator(devices=[0, 1, 2, 3], threads=2)
    failures = []

    def work(seed):
        for repeat in range(20):
            grads = make_grads(4, [(999 + seed,), (5,)], "f64")
            before = [[t.copy() for t in device] for device in grads]
            comm.allreduce(grads, "sum")
            try:
                check(grads, before, "sum", "f64")
            except AssertionError as error:
                failures.append(error)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
