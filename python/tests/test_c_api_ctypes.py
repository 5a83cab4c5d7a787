"""libmeshreduce.so loaded through ctypes: the C API works from an FFI, and the NumPy API gives
the same bits as the C++ library called through it (inputs with exponents far apart, so any other
order of additions or roundings would show). Also tensorpack's order, computed here in NumPy."""

import ctypes
import os

import numpy as np
import pytest

import meshreduce
from support import bits, copy_tensor, empty_like, make_grads

DTYPE_CODES = {"f32": 0, "f64": 1, "f16": 2, "bf16": 3, "i32": 4, "i64": 5}
OP_CODES = {"sum": 0, "average": 1, "min": 2, "max": 3}
INVALID_ARGUMENT = 1


class CTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("count", ctypes.c_int64), ("dtype", ctypes.c_int)]


def load_library():
    path = os.environ.get("MESHREDUCE_SHARED_LIBRARY")
    if not path:
        pytest.fail("MESHREDUCE_SHARED_LIBRARY is not set (ctest sets it to libmeshreduce.so)")
    lib = ctypes.CDLL(path)
    lib.meshreduce_status_name.restype = ctypes.c_char_p
    lib.meshreduce_comm_last_error.restype = ctypes.c_char_p
    lib.meshreduce_comm_last_error.argtypes = [ctypes.c_void_p]
    lib.meshreduce_comm_destroy.argtypes = [ctypes.c_void_p]
    lib.meshreduce_comm_create.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int,
                                           ctypes.POINTER(ctypes.c_void_p), ctypes.c_char_p, ctypes.c_size_t]
    lib.meshreduce_comm_allreduce.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
                                              ctypes.c_int]
    lib.meshreduce_allreduce_grads_hierarchical.argtypes = [
        ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.c_int,
        ctypes.c_char_p, ctypes.c_size_t]
    return lib


LIB = load_library()


def raw(tensor):
    return tensor.bits if isinstance(tensor, meshreduce.BFloat16) else tensor


def c_lists(lists, dtype):
    """The C API's `const meshreduce_tensor* const*` for K lists of N tensors (kept alive by the
    returned objects)."""
    rows = []
    for device in lists:
        row = (CTensor * max(1, len(device)))()
        for n, tensor in enumerate(device):
            array = raw(tensor)
            row[n] = CTensor(array.ctypes.data, array.size, DTYPE_CODES[dtype])
        rows.append(row)
    pointers = (ctypes.POINTER(CTensor) * len(rows))(*[ctypes.cast(r, ctypes.POINTER(CTensor)) for r in rows])
    return pointers, rows


def c_communicator(topology, algorithm):
    comm = ctypes.c_void_p()
    error = ctypes.create_string_buffer(512)
    status = LIB.meshreduce_comm_create(topology.encode(), algorithm.encode(), None, 0, ctypes.byref(comm), error, 512)
    assert status == 0, error.value.decode()
    return comm


def c_allreduce(topology, algorithm, grads, op, dtype, outputs=None):
    comm = c_communicator(topology, algorithm)
    try:
        inputs, keep_in = c_lists(grads, dtype)
        outs, keep_out = c_lists(outputs, dtype) if outputs is not None else (None, None)
        status = LIB.meshreduce_comm_allreduce(comm, inputs, outs, len(grads[0]), OP_CODES[op])
        assert status == 0, LIB.meshreduce_comm_last_error(comm).decode()
    finally:
        LIB.meshreduce_comm_destroy(comm)


def copies(lists):
    return [[copy_tensor(t) for t in device] for device in lists]


SHAPES = [(1000,), (7, 3), (1,), (4099,)]
# nic-rings spans machines (one ring per NIC): it runs on two DGX-1s instead of one machine.
CASES = [(topology, algorithm) for topology in ("dgx1-v100", "flat:5") for algorithm in sorted(meshreduce.algorithms())
         if not (algorithm == "dgx1-hierarchical" and topology != "dgx1-v100") and algorithm != "nic-rings"]
CASES.append(("cluster:2xdgx1-v100", "nic-rings"))


@pytest.mark.parametrize("topology,algorithm", CASES)
@pytest.mark.parametrize("dtype", ["f32", "f64", "f16", "bf16"])
@pytest.mark.parametrize("op", ["sum", "average"])
@pytest.mark.parametrize("in_place", [True, False])
def test_numpy_api_gives_the_cxx_librarys_bits(topology, algorithm, dtype, op, in_place):
    devices = meshreduce.topology(topology).size
    grads = make_grads(devices, SHAPES, dtype, kind="spread")
    ours, theirs = copies(grads), copies(grads)
    comm = meshreduce.Communicator(topology=topology, algorithm=algorithm, threads=2, chunk_elements=300)
    if in_place:
        comm.allreduce(ours, op)
        c_allreduce(topology, algorithm, theirs, op, dtype)
        results = (ours, theirs)
    else:
        our_out = [[empty_like(t) for t in device] for device in grads]
        their_out = [[empty_like(t) for t in device] for device in grads]
        comm.allreduce(ours, op, outputs=our_out)
        c_allreduce(topology, algorithm, theirs, op, dtype, outputs=their_out)
        results = (our_out, their_out)
    for k in range(devices):
        for n in range(len(SHAPES)):
            assert bits(results[0][k][n]) == bits(results[1][k][n]), f"tensor {n} on device {k}"
            assert bits(results[0][k][n]) == bits(results[0][0][n]), f"replica {k} of tensor {n}"
    # The spread inputs really do depend on the order: the result is not the float64 sum rounded.
    if dtype == "f32" and op == "sum" and devices == 8:
        exact = sum(np.asarray(grads[k][3], np.float64) for k in range(devices)).astype(np.float32)
        assert bits(results[0][0][3]) != exact.tobytes()


@pytest.mark.parametrize("devices", [3, 8])
@pytest.mark.parametrize("dtype", ["f32", "f16", "bf16", "f64"])
@pytest.mark.parametrize("average", [False, True])
@pytest.mark.parametrize("in_place", [True, False])
def test_seed_call_gives_the_c_apis_bits(devices, dtype, average, in_place):
    grads = make_grads(devices, SHAPES, dtype, kind="spread")
    ours, theirs = copies(grads), copies(grads)
    ids = [3 * k + 1 for k in range(devices)]
    c_ids = (ctypes.c_int * devices)(*ids)
    error = ctypes.create_string_buffer(512)
    inputs, keep_in = c_lists(theirs, dtype)
    if in_place:
        meshreduce.allreduce_grads_hierarchical(ours, ids, average)
        status = LIB.meshreduce_allreduce_grads_hierarchical(inputs, None, devices, len(SHAPES), c_ids, int(average),
                                                             error, 512)
        results = (ours, theirs)
    else:
        our_out = [[empty_like(t) for t in device] for device in grads]
        their_out = [[empty_like(t) for t in device] for device in grads]
        outs, keep_out = c_lists(their_out, dtype)
        meshreduce.allreduce_grads_hierarchical(ours, ids, average, outputs=our_out)
        status = LIB.meshreduce_allreduce_grads_hierarchical(inputs, outs, devices, len(SHAPES), c_ids, int(average),
                                                             error, 512)
        results = (our_out, their_out)
    assert status == 0, error.value.decode()
    for k in range(devices):
        for n in range(len(SHAPES)):
            assert bits(results[0][k][n]) == bits(results[1][k][n]), f"tensor {n} on device {k}"


def tensorpack_order(grads, average):
    """tensorpack's allreduce_grads_hierarchical for 8 devices, in float32 step by step: for tensor
    n, main0 = n % 8; each half of 4 devices is added left to right in device order; total =
    (the half holding main0) + (the other half); average multiplies by float32(1/8)."""
    result = []
    for n in range(len(grads[0])):
        main0 = n % 8
        first = range(0, 4) if main0 < 4 else range(4, 8)
        second = range(4, 8) if main0 < 4 else range(0, 4)

        def add_n(devices):
            devices = list(devices)
            total = grads[devices[0]][n].astype(np.float32)
            for d in devices[1:]:
                total = (total + grads[d][n]).astype(np.float32)
            return total

        total = (add_n(first) + add_n(second)).astype(np.float32)
        if average:
            total = (total * np.float32(1.0 / 8)).astype(np.float32)
        result.append(total)
    return result


@pytest.mark.parametrize("average", [False, True])
def test_seed_call_is_tensorpacks_order_bitwise(average):
    shapes = [(513,)] * 5 + [(3, 3)] * 4  # 9 tensors: main0 runs through both halves and wraps
    grads = make_grads(8, shapes, "f32", kind="spread")
    want = tensorpack_order(grads, average)
    meshreduce.allreduce_grads_hierarchical(grads, list(range(8)), average)
    for k in range(8):
        for n in range(len(shapes)):
            assert grads[k][n].tobytes() == want[n].tobytes(), f"tensor {n} on device {k}"


def test_errors_carry_the_same_message_through_both_boundaries():
    grads = make_grads(2, [(4,)], "f32")
    c_ids = (ctypes.c_int * 2)(5, 5)
    error = ctypes.create_string_buffer(512)
    inputs, keep = c_lists(grads, "f32")
    status = LIB.meshreduce_allreduce_grads_hierarchical(inputs, None, 2, 1, c_ids, 0, error, 512)
    assert status == INVALID_ARGUMENT
    assert LIB.meshreduce_status_name(status) == b"invalid argument"
    with pytest.raises(meshreduce.InvalidArgument) as raised:
        meshreduce.allreduce_grads_hierarchical(grads, [5, 5])
    assert str(raised.value) == error.value.decode()
    assert "device 5 appears twice" in str(raised.value)
