"""Every error path of the NumPy API: the exception's class (meshreduce's, under the built-in
one a Python caller catches), a message naming the argument, device and tensor and both values,
and buffers untouched after an argument error."""

import datetime
import math

import numpy as np
import pytest

import meshreduce
from meshreduce import _core
from support import make_grads

CLASSES = {
    "Error": RuntimeError,
    "InvalidArgument": ValueError,
    "Unsupported": NotImplementedError,
    "TopologyError": ValueError,
    "ScheduleError": ValueError,
    "OutOfMemory": MemoryError,
    "ExecutionError": RuntimeError,
    "TimeoutError": TimeoutError,
    "PeerError": RuntimeError,
}


@pytest.mark.parametrize("kind", sorted(CLASSES))
def test_each_cxx_exception_reaches_python_as_its_class(kind):
    with pytest.raises(getattr(meshreduce, kind)) as raised:
        _core._throw_for_testing(kind, "step 3 on device 2: boom")
    assert type(raised.value) is getattr(meshreduce, kind)
    assert isinstance(raised.value, meshreduce.Error)
    assert isinstance(raised.value, CLASSES[kind])
    assert str(raised.value) == "step 3 on device 2: boom"
    assert type(raised.value).__module__ == "meshreduce"


def comm(devices=3, **options):
    options.setdefault("threads", 1)
    return meshreduce.Communicator(devices=list(range(devices)), **options)


def untouched_after(call, grads):
    before = [[t.copy() for t in device] for device in grads]
    call()
    for k, device in enumerate(grads):
        for n, tensor in enumerate(device):
            assert tensor.tobytes() == before[k][n].tobytes(), f"tensor {n} on device {k} was written"


def raises_on_call(error, match, grads, outputs=None, op="sum"):
    """The call raises `error` matching `match`, and every buffer is as it was."""
    buffers = grads if outputs is None else grads + outputs

    def call():
        with pytest.raises(error, match=match):
            comm(len(grads)).allreduce(grads, op, outputs=outputs)

    untouched_after(call, [d for d in buffers if isinstance(d, list)])


def test_not_contiguous():
    grads = make_grads(3, [(8,), (20,)], "f32")
    grads[2][1] = np.arange(40, dtype=np.float32)[::2]
    raises_on_call(meshreduce.InvalidArgument, r"grads: tensor 1 on device 2 is not C-contiguous", grads)


def test_fortran_order_is_not_c_contiguous():
    grads = make_grads(2, [(3, 4)], "f64")
    grads[1][0] = np.asfortranarray(grads[1][0])
    raises_on_call(meshreduce.InvalidArgument, r"tensor 0 on device 1 is not C-contiguous", grads)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.complex64, np.bool_, np.int16, ">f4", ">i8"])
def test_unsupported_dtypes(dtype):
    grads = make_grads(2, [(6,)], "f32")
    grads[0][0] = np.zeros(6, dtype)
    raises_on_call(meshreduce.InvalidArgument, r"grads: tensor 0 on device 0 is .*meshreduce reduces float32", grads)


def test_unaligned():
    grads = make_grads(2, [(10,)], "f32")
    grads[1][0] = np.frombuffer(bytearray(41), dtype=np.float32, offset=1, count=10)
    raises_on_call(meshreduce.InvalidArgument, r"tensor 0 on device 1 is not aligned", grads)


def test_read_only_in_place():
    grads = make_grads(2, [(5,), (5,)], "i32")
    grads[1][1].flags.writeable = False
    raises_on_call(meshreduce.InvalidArgument, r"grads: tensor 1 on device 1 is read-only", grads)


def test_read_only_output():
    grads = make_grads(2, [(5,)], "i32")
    outputs = [[np.zeros(5, np.int32)], [np.zeros(5, np.int32)]]
    outputs[0][0].flags.writeable = False
    raises_on_call(meshreduce.InvalidArgument, r"outputs: tensor 0 on device 0 is read-only", grads, outputs)


def test_shape_differs_across_devices():
    grads = make_grads(3, [(3, 4)], "f32")
    grads[2][0] = grads[2][0].reshape(4, 3).copy()
    raises_on_call(meshreduce.InvalidArgument,
                   r"tensor 0 on device 2 has shape \(4, 3\), on device 0 it has shape \(3, 4\)", grads)


def test_count_differs_across_devices():
    grads = make_grads(3, [(12,), (5,)], "f32")
    grads[1][1] = np.zeros(6, np.float32)
    raises_on_call(meshreduce.InvalidArgument, r"tensor 1 on device 1 has shape \(6,\), on device 0 it has shape \(5,\)",
                   grads)


def test_dtype_differs_across_devices():
    grads = make_grads(3, [(7,)], "f32")
    grads[2][0] = grads[2][0].astype(np.float64)
    raises_on_call(meshreduce.InvalidArgument, r"tensor 0 on device 2 is f64, on device 0 is f32", grads)


def test_tensor_count_differs_across_devices():
    grads = make_grads(3, [(7,), (2,)], "f32")
    grads[1].pop()
    raises_on_call(meshreduce.InvalidArgument, r"device 1 has 1 tensors, device 0 has 2", grads)


def test_output_shape_differs_from_its_input():
    grads = make_grads(2, [(6,)], "f32")
    outputs = [[np.zeros(6, np.float32)], [np.zeros((2, 3), np.float32)]]
    raises_on_call(meshreduce.InvalidArgument, r"outputs: tensor 0 on device 1 has shape \(2, 3\), its input has shape \(6,\)",
                   grads, outputs)


def test_outputs_overlap():
    grads = make_grads(2, [(6,)], "f32")
    shared = np.zeros(6, np.float32)
    outputs = [[shared], [shared]]
    raises_on_call(meshreduce.InvalidArgument, r"output tensor 0 on device . overlaps output tensor 0 on device", grads,
                   outputs)


def test_lists_for_a_different_device_count():
    grads = make_grads(2, [(6,)], "f32")
    with pytest.raises(meshreduce.InvalidArgument, match=r"got 2 lists of tensors for 3 devices"):
        comm(3).allreduce(grads)


def test_unknown_op():
    grads = make_grads(2, [(6,)], "f32")
    with pytest.raises(meshreduce.InvalidArgument, match=r"unknown reduce op 'prod'"):
        comm(2).allreduce(grads, "prod")


@pytest.mark.parametrize("grads,match", [
    (np.zeros((2, 3), np.float32), r"grads must be a list of lists of arrays .* got a ndarray"),
    ([np.zeros(3, np.float32)], r"grads\[0\] \(device 0\) must be a list of arrays, got a ndarray"),
    ([[[1.0, 2.0]]], r"grads: tensor 0 on device 0 is a list, not a numpy.ndarray"),
])
def test_not_lists_of_arrays_are_type_errors(grads, match):
    with pytest.raises(TypeError, match=match):
        comm(1).allreduce(grads)


def test_seed_call_argument_errors():
    grads = make_grads(2, [(6,)], "f32")
    with pytest.raises(meshreduce.InvalidArgument, match=r"device 5 appears twice in the device list, at positions 0 and 1"):
        meshreduce.allreduce_grads_hierarchical(grads, [5, 5])
    with pytest.raises(meshreduce.InvalidArgument, match=r"device list has 3 entries for 2 lists of gradients"):
        meshreduce.allreduce_grads_hierarchical(grads, [0, 1, 2])
    with pytest.raises(meshreduce.InvalidArgument, match=r"devices\[1\] = 1099511627776 does not fit in an int"):
        meshreduce.allreduce_grads_hierarchical(grads, [0, 2**40])
    with pytest.raises(TypeError, match=r"devices\[1\] is a float, not an int"):
        meshreduce.allreduce_grads_hierarchical(grads, [0, 1.5])
    with pytest.raises(meshreduce.InvalidArgument, match=r"groups are not a partition"):
        meshreduce.allreduce_grads_hierarchical(grads, [0, 1], groups=[[0], [0]])
    with pytest.raises(meshreduce.InvalidArgument, match=r"allreduce needs at least one device"):
        meshreduce.allreduce_grads_hierarchical([])


@pytest.mark.parametrize("options,error,match", [
    ({"threads": 100000}, meshreduce.InvalidArgument, r"threads = 100000 is outside 0 to 1024"),
    ({"threads": -1}, meshreduce.InvalidArgument, r"threads = -1 is outside 0 to 1024"),
    ({"threads": True}, TypeError, r"threads must be an int, got a bool"),
    ({"threads": "2"}, TypeError, r"threads must be an int, got a str"),
    ({"timeout": 0}, meshreduce.InvalidArgument, r"timeout = 0.0 s must be positive and at most a year"),
    ({"timeout": -1.5}, meshreduce.InvalidArgument, r"timeout = -1.5 s must be positive"),
    ({"timeout": math.nan}, meshreduce.InvalidArgument, r"timeout = nan s must be positive"),
    ({"timeout": math.inf}, meshreduce.InvalidArgument, r"timeout = inf s must be positive and at most a year"),
    ({"timeout": 1e30}, meshreduce.InvalidArgument, r"at most a year"),
    ({"timeout": datetime.timedelta(0)}, meshreduce.InvalidArgument, r"timeout = 0.0 s must be positive"),
    ({"timeout": "5"}, TypeError, r"timeout must be seconds"),
    ({"algorithm": "nosuch"}, meshreduce.InvalidArgument, r"nosuch"),
    ({"bucketing": "zip"}, meshreduce.InvalidArgument, r"bucketing 'zip' is not one of none"),
    ({"fuse_bytes": 0}, meshreduce.InvalidArgument, r"fuse_bytes = 0 is outside 1 to"),
    ({"piece_elements": 0}, meshreduce.InvalidArgument, r"piece_elements = 0 is outside 1 to"),
    ({"chunk_elements": 2**62}, meshreduce.InvalidArgument, r"chunk_elements = 4611686018427387904 is outside 0 to"),
    ({"pin_threads": 1}, TypeError, r"pin_threads must be True or False"),
    ({"groups": [[0, 1], [1, 2]]}, meshreduce.InvalidArgument, r"groups are not a partition of the 3 devices"),
    ({"groups": [0, 1, 2]}, TypeError, r"groups\[0\] must be a list of ints, got a int"),
    ({"devices": [0, 0, 1]}, meshreduce.InvalidArgument, r"device 0 appears twice"),
    ({"colour": "blue"}, TypeError, r"unknown keyword 'colour' \(known: topology, devices,"),
])
def test_communicator_options_are_checked(options, error, match):
    options.setdefault("devices", [0, 1, 2])
    with pytest.raises(error, match=match):
        meshreduce.Communicator(**options)


def test_communicator_takes_keywords_only():
    with pytest.raises(TypeError):
        meshreduce.Communicator("flat:2")


def test_device_the_topology_lacks():
    with pytest.raises(meshreduce.InvalidArgument, match=r"names device 9, which the topology does not have"):
        meshreduce.Communicator(topology="flat:4", devices=[0, 9])


def test_unsupported_algorithm_for_the_devices():
    c = meshreduce.Communicator(topology="flat:3", algorithm="dgx1-hierarchical", threads=1)
    grads = make_grads(3, [(4,)], "f32")
    with pytest.raises(meshreduce.Unsupported, match=r"dgx1-hierarchical cannot serve 3 devices: needs exactly 8"):
        c.allreduce(grads)
    with pytest.raises(NotImplementedError):
        c.plan([(4, "f32")])


@pytest.mark.parametrize("name,match", [
    ("no-such-machine", r"no-such-machine"),
    ("flat:100000", r"flat:K devices = 100000 is more than the largest allowed, 128"),
    ("/nonexistent/t.json", r"/nonexistent/t.json"),
])
def test_topology_errors(name, match):
    with pytest.raises(meshreduce.TopologyError, match=match):
        meshreduce.topology(name)
    with pytest.raises(meshreduce.TopologyError, match=match):
        meshreduce.Communicator(topology=name)


def test_topology_json_errors():
    with pytest.raises(meshreduce.TopologyError):
        meshreduce.Topology.from_json("{}")
    with pytest.raises(meshreduce.TopologyError, match=r"'id' must be an integer, got 1.5"):
        meshreduce.Topology.from_json('{"devices": [{"id": 1.5}]}')


def test_schedule_json_errors():
    with pytest.raises(meshreduce.ScheduleError):
        meshreduce.Schedule.from_json("[1, 2]")


@pytest.mark.parametrize("layout,error,match", [
    ([(-1, "f32")], meshreduce.InvalidArgument, r"layout: tensor 0 has -1 elements; a count must be from 0 to"),
    ([(4, "f32"), (2**50, "f32")], meshreduce.InvalidArgument, r"layout: tensor 1 has 1125899906842624 elements"),
    ([(4, "f99")], meshreduce.InvalidArgument, r"f99"),
    ([("4", "f32")], TypeError, r"layout: tensor 0: the count is a str, not an int"),
    ([4], TypeError, r"layout: tensor 0 is a int, not an array"),
    ("f32", TypeError, r"layout must be a list"),
    ([np.zeros(3, np.uint8)], meshreduce.InvalidArgument, r"layout: tensor 0 is uint8"),
])
def test_layouts_are_checked(layout, error, match):
    with pytest.raises(error, match=match):
        comm(2).plan(layout)


def test_layout_total_is_bounded():
    with pytest.raises(meshreduce.InvalidArgument, match=r"layout bytes per device"):
        comm(2).plan([(2**45, "f64")] * 3)


def test_tensor_spec_and_bfloat16_arguments():
    with pytest.raises(meshreduce.InvalidArgument, match=r"TensorSpec count = -1 is less than the smallest allowed, 0"):
        meshreduce.TensorSpec(-1)
    with pytest.raises(meshreduce.InvalidArgument, match=r"unknown|f99"):
        meshreduce.TensorSpec(3, "f99")
    with pytest.raises(meshreduce.InvalidArgument, match=r"BFloat16 takes the bit patterns as a uint16 array, got float32"):
        meshreduce.BFloat16(np.zeros(3, np.float32))
    with pytest.raises(TypeError, match=r"BFloat16 takes a numpy.ndarray of uint16, got a list"):
        meshreduce.BFloat16([1, 2])
    with pytest.raises(meshreduce.InvalidArgument, match=r"to_bfloat16 takes a float32 array, got float64"):
        meshreduce.to_bfloat16(np.zeros(3))


def test_simulate_errors():
    c = comm(2)
    with pytest.raises(meshreduce.InvalidArgument, match=r"simulate needs a communicator made with a topology"):
        c.simulate([(4, "f32")])
    schedule = meshreduce.Communicator(topology="flat:2", threads=1).plan([(4, "f32")]).schedule
    with pytest.raises(meshreduce.InvalidArgument, match=r"executor 'gpu' is not one of"):
        meshreduce.simulate(schedule, "flat:2", executor="gpu")
    with pytest.raises(meshreduce.InvalidArgument, match=r"simulate needs a topology, got None"):
        meshreduce.simulate(schedule, None)


def test_workload_errors():
    with pytest.raises(meshreduce.InvalidArgument, match=r"workload 'nosuch' is neither a file nor a packaged workload .*resnet50"):
        meshreduce.workload("nosuch")
    with pytest.raises(meshreduce.InvalidArgument, match=r"shape 64x3 has 192 elements, the line says 100"):
        meshreduce.parse_workload("fc.weight\t64x3\t100\n")
