// meshreduce.torch._backend: the factory torch.distributed calls to make a meshreduce process
// group. The group is returned as a c10d ProcessGroup, whose Python type and holder torch
// registered; torch's holder drops the GIL before destroying a group, which lets the group's
// worker finish a collective whose completion runs Python callbacks.
#include <chrono>
#include <cstdint>
#include <string>

#include <pybind11/chrono.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <torch/csrc/utils/pybind.h>

#include "process_group.h"

namespace py = pybind11;
using meshreduce::torch_backend::BackendOptions;
using meshreduce::torch_backend::ProcessGroupMeshreduce;

PYBIND11_MODULE(_backend, m) {
  m.doc() = "meshreduce's c10d ProcessGroup (use it through meshreduce.torch)";
  py::module_::import("torch.distributed");  // registers the ProcessGroup and Store types

  m.def(
      "create_process_group",
      [](const c10::intrusive_ptr<c10d::Store>& store, int rank, int size, const std::string& algorithm,
         std::chrono::milliseconds timeout, std::int64_t piece_elements) -> c10::intrusive_ptr<c10d::ProcessGroup> {
        BackendOptions options;
        options.algorithm = algorithm;
        options.timeout = timeout;
        options.piece_elements = piece_elements;
        return c10::make_intrusive<ProcessGroupMeshreduce>(store, rank, size, std::move(options));
      },
      py::arg("store"), py::arg("rank"), py::arg("size"), py::arg("algorithm"), py::arg("timeout"),
      py::arg("piece_elements"), py::call_guard<py::gil_scoped_release>(),
      "A meshreduce process group of `size` ranks meeting through `store` (collective)");

  m.def(
      "options_of",
      [](const c10::intrusive_ptr<c10d::ProcessGroup>& group) {
        const auto* mine = dynamic_cast<const ProcessGroupMeshreduce*>(group.get());
        if (mine == nullptr) throw py::type_error("not a meshreduce process group: " + group->getBackendName());
        const BackendOptions& options = mine->options();
        return py::dict(py::arg("algorithm") = options.algorithm, py::arg("timeout") = options.timeout,
                        py::arg("piece_elements") = options.piece_elements);
      },
      py::arg("group"), "The options a meshreduce process group runs with");
}
