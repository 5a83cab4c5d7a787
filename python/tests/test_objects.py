"""Topologies, workloads, plans, schedules and simulations as Python objects, checked against
what the library (and the command line) says about the same things."""

import json

import numpy as np
import pytest

import meshreduce


def test_presets_and_their_parts():
    names = meshreduce.topology_presets()
    assert "dgx1-v100" in names and "pcie8" in names
    t = meshreduce.topology("dgx1-v100")
    assert t == meshreduce.Topology.preset("dgx1-v100")
    assert t.name == "dgx1-v100" and t.size == 8 and len(t) == 8 and t.device_ids == list(range(8))
    assert [d.kind for d in t.devices] == ["gpu"] * 8
    nvlinks = [link for link in t.links if link.kind == "nvlink"]
    assert len(nvlinks) == 16 and sum(link.count for link in nvlinks) == 24
    two = next(link for link in nvlinks if {link.a, link.b} == {0, 3})
    assert two.count == 2 and two.bandwidth_gbps == 25.0
    assert two.effective_gbps == pytest.approx(two.bandwidth_gbps * two.efficiency)
    assert t.levels[0].groups == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert len(t.routes) == 8 * 7
    assert "meshreduce.Topology('dgx1-v100', 8 devices" in repr(t)


def test_topology_json_round_trip_and_files(tmp_path):
    t = meshreduce.topology("groups:3,1,4")
    text = t.to_json()
    assert json.loads(text)["devices"][0]["id"] == t.devices[0].id
    assert meshreduce.Topology.from_json(text) == t
    path = tmp_path / "groups.json"
    t.save(path)  # os.PathLike
    assert meshreduce.Topology.load(str(path)) == t
    assert meshreduce.topology(path) == t
    assert [len(g) for g in t.levels[0].groups] == [3, 1, 4]
    assert meshreduce.topology("flat:5") != t


def test_workloads():
    assert "resnet50" in meshreduce.workload_names()
    w = meshreduce.workload("resnet50")
    assert len(w) == 161 and w.elements == 25557032  # as the README's `make demo` line says
    layout = w.layout("f16")
    assert len(layout) == 161 and layout[0].dtype == "f16"
    assert sum(spec.count for spec in layout) == w.elements
    parsed = meshreduce.parse_workload("a\t2x3\t6\nb\t\t1\n", "tiny")
    assert [(t.name, t.shape, t.elements) for t in parsed.tensors] == [("a", "2x3", 6), ("b", "", 1)]
    assert meshreduce.uniform_workload(3, 10).elements == 30


def test_plan_objects():
    comm = meshreduce.Communicator(topology="dgx1-v100", algorithm="dgx1-hierarchical", threads=1)
    plan = comm.plan([np.zeros((10, 10), np.float32), (7, "f64"), meshreduce.TensorSpec(3, "bf16")], "average")
    assert [(s.count, s.dtype) for s in plan.layout] == [(100, "f32"), (7, "f64"), (3, "bf16")]
    assert [b.count for b in plan.buckets] == [100, 7, 3]  # a bucket per tensor
    assert [b.rotation for b in plan.buckets] == [0, 1, 2]
    assert [c.algorithm for c in plan.choices] == ["dgx1-hierarchical"] * 3
    assert all(c.predicted_s == 0 for c in plan.choices)  # named, not chosen
    schedule = plan.schedule
    assert schedule.num_devices == 8 and schedule.op == "average" and schedule.algorithm == "dgx1-hierarchical"
    assert [b.dtype for b in schedule.buffers] == ["f32", "f64", "bf16"]
    assert schedule.num_steps == len(schedule.steps) > 0
    assert {s.kind for s in schedule.steps} <= {"reduce", "copy", "scale"}
    traffic = schedule.traffic()
    assert len(traffic.bytes_sent) == 8 and traffic.steps == schedule.num_steps
    # The seed's single crossing between the halves: each byte of a tensor crosses once each way.
    assert sum(traffic.bytes_sent) == sum(traffic.bytes_received)
    again = meshreduce.Schedule.from_json(schedule.to_json())
    assert again.num_steps == schedule.num_steps and again.to_json() == schedule.to_json()
    report = meshreduce.verify(schedule)
    assert report.ok and bool(report) and report.kind == "none"


def test_auto_plans_a_fused_workload_and_predicts_it():
    comm = meshreduce.Communicator(topology="dgx1-v100", bucketing="fused", threads=1)
    plan = comm.plan(meshreduce.workload("resnet50").layout())
    assert len(plan.buckets) < 161
    assert all(c.predicted_s > 0 for c in plan.choices)  # auto: every bucket predicted
    pieces = [p for b in plan.buckets for p in b.pieces]
    assert sum(p.count for p in pieces) == 25557032


def test_verify_finds_a_broken_schedule():
    schedule = meshreduce.Communicator(topology="flat:3", algorithm="ring", threads=1).plan([(5, "f32")]).schedule
    data = json.loads(schedule.to_json())
    data["steps"] = data["steps"][:-1]  # the last step never runs: some output is never written
    report = meshreduce.verify(meshreduce.Schedule.from_json(json.dumps(data)))
    assert not report.ok and report.violation
    assert "meshreduce.VerifyReport(" in repr(report)


def test_simulate_matches_the_command_lines_figure():
    # `meshreduce simulate --topology dgx1-v100 --sizes 256M`: multiring at 11x GB/s busbw.
    comm = meshreduce.Communicator(topology="dgx1-v100", algorithm="multiring", threads=1)
    result = comm.simulate([(64 << 20, "f32")])
    assert 110 <= result.busbw_gbps < 120
    assert result.bytes_per_device == 256 << 20
    assert result.algbw_gbps == pytest.approx(result.bytes_per_device / result.time_s / 1e9)
    assert result.busbw_gbps == pytest.approx(result.algbw_gbps * 2 * 7 / 8)
    assert result.protocol == "simple"
    busiest = result.busiest_link
    assert busiest is not None and busiest.bytes > 0 and 0 < busiest.utilization <= 1.0 + 1e-9
    assert len(result.devices) == 8 and all(d.bytes_sent > 0 for d in result.devices)
    same = meshreduce.simulate(comm.plan([(64 << 20, "f32")]).schedule, "dgx1-v100")
    assert same.time_s == result.time_s


def test_simulate_trace(tmp_path):
    comm = meshreduce.Communicator(topology="flat:4", algorithm="ring", threads=1)
    result = comm.simulate([(1 << 16, "f32")], trace=True)
    trace = json.loads(result.chrome_trace_json())
    assert trace["traceEvents"]
    path = tmp_path / "trace.json"
    result.write_trace(path)
    assert json.loads(path.read_text()) == trace
    assert comm.simulate([(1 << 16, "f32")]).chrome_trace_json().count('"ph": "X"') == 0  # trace off


def test_version_is_the_projects():
    import os
    import re
    source = os.path.join(os.path.dirname(__file__), "..", "..", "CMakeLists.txt")
    with open(source, encoding="utf-8") as cmake:
        version = re.search(r"project\(meshreduce VERSION ([0-9.]+)", cmake.read()).group(1)
    assert meshreduce.__version__ == version


def test_algorithms_describe_themselves():
    algorithms = meshreduce.algorithms()
    assert {"ring", "direct", "hierarchical", "dgx1-hierarchical"} <= set(algorithms)
    assert all(isinstance(d, str) and d for d in algorithms.values())


def test_communicator_properties():
    comm = meshreduce.Communicator(topology="dgx1-v100", devices=[7, 6, 5, 4], algorithm="ring", threads=2, timeout=2.5)
    assert comm.size == 4 and comm.devices == [7, 6, 5, 4]
    assert comm.algorithm == "ring" and comm.threads == 2 and comm.timeout == 2.5
    assert comm.topology == meshreduce.topology("dgx1-v100")
    assert comm.groups == [[0, 1, 2, 3]]  # the DGX-1's quad {4..7}, as positions
    assert comm.bucketing == "none"
    assert "4 devices" in repr(comm)
    plain = meshreduce.Communicator(devices=[5, 1])
    assert plain.topology is None and plain.algorithm == "auto" and plain.timeout == 300.0
