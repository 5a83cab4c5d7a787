"""Test data for the Python module's tests.

Every value differs per element, per device and per tensor, so an offset, a swapped device or a
swapped tensor shows up; `exact` values are small integers whose sums are exact in every dtype in
any order, `spread` values have exponents far apart, so another order of additions gives other bits.
"""

import numpy as np

import meshreduce

DTYPES = ["f32", "f64", "f16", "bf16", "i32", "i64"]
NUMPY = {"f32": np.float32, "f64": np.float64, "f16": np.float16, "i32": np.int32, "i64": np.int64}


def exact_values(k, n, count):
    """Small integers from -8 to 8: |sum| <= 8 K, exact in f16 and bf16 for K <= 16."""
    i = np.arange(count, dtype=np.int64)
    return ((i * 7 + k * 5 + n * 3 + (i * k) % 11) % 17 - 8).astype(np.float64)


def spread_values(k, n, count, dtype):
    """Values whose exponents are far apart (within the dtype's range), so the order of additions
    decides the bits."""
    rng = np.random.default_rng(1000 * k + n + 7)
    span = {"f16": 6, "bf16": 20, "f32": 20, "f64": 40}[dtype]
    mantissa = rng.integers(1, 1 << 10, count).astype(np.float64)
    sign = np.where(rng.integers(0, 2, count) == 1, -1.0, 1.0)
    return sign * mantissa * np.exp2(rng.integers(-span, span + 1, count).astype(np.float64))


def as_tensor(values, dtype, shape=None):
    """A NumPy array (or BFloat16) of `dtype` holding `values` (already representable, or rounded
    to nearest even by NumPy or meshreduce.to_bfloat16)."""
    values = np.asarray(values)
    if shape is not None:
        values = values.reshape(shape)
    if dtype == "bf16":
        return meshreduce.to_bfloat16(values.astype(np.float32))
    return values.astype(NUMPY[dtype])


def as_float64(tensor):
    if isinstance(tensor, meshreduce.BFloat16):
        return tensor.to_float32().astype(np.float64)
    return np.asarray(tensor).astype(np.float64)


def bits(tensor):
    """The raw bytes of a tensor, for bitwise comparisons."""
    if isinstance(tensor, meshreduce.BFloat16):
        return tensor.bits.tobytes()
    return np.ascontiguousarray(tensor).tobytes()


def copy_tensor(tensor):
    if isinstance(tensor, meshreduce.BFloat16):
        return meshreduce.BFloat16(tensor.bits.copy())
    return tensor.copy()


def empty_like(tensor):
    """A tensor of the same dtype and shape filled with a marker value, for outputs."""
    if isinstance(tensor, meshreduce.BFloat16):
        return meshreduce.BFloat16(np.full(tensor.bits.shape, 0x7FC1, np.uint16))
    return np.full_like(tensor, -99)


def make_grads(devices, shapes, dtype, kind="exact"):
    """grads[k][n]: device k's tensor n of shapes[n]."""
    grads = []
    for k in range(devices):
        device = []
        for n, shape in enumerate(shapes):
            count = int(np.prod(shape)) if shape != () else 1
            values = exact_values(k, n, count) if kind == "exact" else spread_values(k, n, count, dtype)
            device.append(as_tensor(values, dtype, shape))
        grads.append(device)
    return grads


def expected(grads, op, dtype):
    """The exact reduction of `exact` inputs over the devices, per tensor, as float64."""
    K = len(grads)
    result = []
    for n in range(len(grads[0])):
        stack = np.stack([as_float64(grads[k][n]) for k in range(K)])
        if op == "sum":
            value = stack.sum(axis=0)
        elif op == "min":
            value = stack.min(axis=0)
        elif op == "max":
            value = stack.max(axis=0)
        elif dtype in ("i32", "i64"):
            value = np.trunc(stack.sum(axis=0) / K)  # integer average truncates toward zero
        else:
            value = stack.sum(axis=0) * (1.0 / K)
        result.append(value)
    return result
