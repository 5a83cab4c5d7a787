// The pieces of the extension meshreduce._core, one file each; module.cc calls them in order.
#pragma once

#include <pybind11/pybind11.h>

namespace meshreduce::python {

namespace py = pybind11;

void bind_errors(py::module_& module);        // errors.cc: the exception classes
void bind_arrays(py::module_& module);        // arrays.cc: BFloat16 and the dtype helpers
void bind_topology(py::module_& module);      // topology.cc: Topology and its parts, presets
void bind_workload(py::module_& module);      // workload.cc: Workload and its readers
void bind_plan(py::module_& module);          // plan.cc: Plan, Bucket, Schedule, TensorSpec
void bind_simulation(py::module_& module);    // simulation.cc: simulate() and its result
void bind_communicator(py::module_& module);  // communicator.cc: Communicator, the seed's call

}  // namespace meshreduce::python
