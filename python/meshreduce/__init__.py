"""meshreduce: topology-aware allreduce for NumPy arrays.

K devices each hold N gradient tensors; every device ends with the sum (or the average, minimum
or maximum) over the K devices, tensor by tensor. Here a device is a memory space of this process
(a list of NumPy arrays); the library's threads do the work with the GIL released.

    import numpy as np
    import meshreduce

    grads = [[np.full(1000, k, np.float32), np.ones(10, np.float32)] for k in range(8)]
    meshreduce.allreduce_grads_hierarchical(grads, average=True)   # tensorpack's call, in place
    comm = meshreduce.Communicator(topology="dgx1-v100", algorithm="dgx1-hierarchical")
    comm.allreduce(grads, "sum")

Element types: float32, float64, float16, int32, int64 as NumPy arrays; bfloat16, which NumPy
lacks, as uint16 bit patterns wrapped in BFloat16 (to_bfloat16 converts float32 values).
Errors are the library's typed exceptions: InvalidArgument (a ValueError), Unsupported,
TopologyError, ScheduleError, OutOfMemory (a MemoryError), ExecutionError, TimeoutError (a
TimeoutError), PeerError, all subclasses of meshreduce.Error.
"""

import os as _os

from meshreduce._core import (  # noqa: F401  (re-exported)
    BFloat16,
    Bucket,
    BucketChoice,
    BucketPiece,
    BufferRef,
    BufferSpec,
    Communicator,
    Device,
    DeviceUsage,
    Error,
    ExecutionError,
    GroupLevel,
    InvalidArgument,
    Link,
    LinkUsage,
    OutOfMemory,
    PeerError,
    Plan,
    Route,
    Schedule,
    ScheduleError,
    ScratchSpec,
    SimulationResult,
    Step,
    TensorSpec,
    TimeoutError,
    Topology,
    TopologyError,
    TrafficSummary,
    Unsupported,
    VerifyReport,
    Workload,
    WorkloadTensor,
    __version__,
    algorithms,
    allreduce_grads_hierarchical,
    load_workload,
    parse_workload,
    simulate,
    to_bfloat16,
    topology,
    topology_presets,
    uniform_workload,
    verify,
)

_WORKLOADS = _os.path.join(_os.path.dirname(__file__), "workloads")


def workload_names():
    """The workloads packaged with meshreduce (the models of data/workloads)."""
    if not _os.path.isdir(_WORKLOADS):
        return []
    return sorted(name[:-4] for name in _os.listdir(_WORKLOADS) if name.endswith(".tsv"))


def workload(name_or_path):
    """A packaged workload by name ('resnet50', 'bert_base', ...) or a TSV file's workload."""
    path = _os.fspath(name_or_path)
    if _os.path.exists(path):
        return load_workload(path)
    packaged = _os.path.join(_WORKLOADS, path + ".tsv")
    if _os.sep not in path and _os.path.isfile(packaged):
        return load_workload(packaged)
    raise InvalidArgument(
        "workload '%s' is neither a file nor a packaged workload (packaged: %s)"
        % (path, " ".join(workload_names()) or "none"))
