// The simulator for Python: a schedule's predicted time on a topology's cost model, per link
// and per device, and its Chrome trace.
#include "simulation.h"

#include <pybind11/stl.h>

#include <string>

#include "arrays.h"
#include "bindings.h"
#include "convert.h"
#include "meshreduce/error.h"

namespace meshreduce::python {

Executor executor_argument(const std::string& executor) {
  if (executor == "by_device") return Executor::by_device;
  if (executor == "gpu_kernels") return Executor::gpu_kernels;
  if (executor == "cpu_threads") return Executor::cpu_threads;
  throw InvalidArgument("executor '" + executor + "' is not one of by_device, gpu_kernels, cpu_threads");
}

void bind_simulation(py::module_& module) {
  py::class_<LinkUsage>(module, "LinkUsage", "One link direction: traffic from `from_` to `to` over Topology.links[link].")
      .def_readonly("link", &LinkUsage::link)
      .def_readonly("from_", &LinkUsage::from)
      .def_readonly("to", &LinkUsage::to)
      .def_readonly("bytes", &LinkUsage::bytes)
      .def_readonly("busy_s", &LinkUsage::busy_s)
      .def_readonly("utilization", &LinkUsage::utilization)
      .def("__repr__", [](const LinkUsage& self) {
        return "meshreduce.LinkUsage(link=" + std::to_string(self.link) + ", from_=" + std::to_string(self.from) +
               ", to=" + std::to_string(self.to) + ", bytes=" + std::to_string(self.bytes) + ")";
      });
  py::class_<DeviceUsage>(module, "DeviceUsage", "One schedule position: its topology device, busy time and bytes.")
      .def_readonly("position", &DeviceUsage::position)
      .def_readonly("device", &DeviceUsage::device)
      .def_readonly("busy_s", &DeviceUsage::busy_s)
      .def_readonly("compute_s", &DeviceUsage::compute_s)
      .def_readonly("bytes_sent", &DeviceUsage::bytes_sent)
      .def_readonly("bytes_received", &DeviceUsage::bytes_received);
  py::class_<SimulationResult>(module, "SimulationResult",
                               "A schedule's predicted time; algbw and busbw as nccl-tests defines them.")
      .def_readonly("time_s", &SimulationResult::time_s)
      .def_readonly("bytes_per_device", &SimulationResult::bytes_per_device)
      .def_readonly("algbw_gbps", &SimulationResult::algbw_gbps)
      .def_readonly("busbw_gbps", &SimulationResult::busbw_gbps)
      .def_readonly("links", &SimulationResult::links)
      .def_readonly("devices", &SimulationResult::devices)
      .def_readonly("step_start_s", &SimulationResult::step_start_s)
      .def_readonly("step_end_s", &SimulationResult::step_end_s)
      .def_readonly("events", &SimulationResult::events)
      .def_readonly("protocol", &SimulationResult::protocol)
      .def_property_readonly(
          "busiest_link",
          [](const SimulationResult& self) -> std::optional<LinkUsage> {
            const LinkUsage* busiest = self.busiest_link();
            return busiest ? std::optional<LinkUsage>(*busiest) : std::nullopt;
          },
          "The link direction with the highest utilization, or None when no bytes moved.")
      .def("chrome_trace_json", &chrome_trace_json, "Chrome trace JSON for ui.perfetto.dev (simulate with trace=True).")
      .def("write_trace", [](const SimulationResult& self, py::handle path) { write_chrome_trace(self, path_text(path)); },
           py::arg("path"))
      .def("__repr__", [](const SimulationResult& self) {
        return "meshreduce.SimulationResult(time_s=" + std::string(py::str(py::float_(self.time_s))) +
               ", busbw_gbps=" + std::string(py::str(py::float_(self.busbw_gbps))) + ", protocol='" + self.protocol +
               "')";
      });

  module.def(
      "simulate",
      [](const Schedule& schedule, py::handle topology_arg, py::handle devices_arg, const std::string& executor,
         double reduce_gbps, double launch_overhead_us, double local_copy_gbps, bool trace) {
        const std::optional<Topology> topology = topology_argument(topology_arg);
        if (!topology) throw InvalidArgument("simulate needs a topology, got None");
        const std::vector<int> devices = devices_arg.is_none() ? std::vector<int>{} : int_list(devices_arg, "devices");
        SimulationOptions options;
        options.executor = executor_argument(executor);
        options.reduce_gbps = reduce_gbps;
        options.launch_overhead_us = launch_overhead_us;
        options.local_copy_gbps = local_copy_gbps;
        options.trace = trace;
        py::gil_scoped_release release;
        return simulate(schedule, *topology, devices, options);
      },
      py::arg("schedule"), py::arg("topology"), py::arg("devices") = py::none(), py::arg("executor") = "by_device",
      py::arg("reduce_gbps") = 0.0, py::arg("launch_overhead_us") = 0.0, py::arg("local_copy_gbps") = 0.0,
      py::arg("trace") = false,
      "Predict a schedule's time on a topology (a Topology, a preset name or a file). devices maps schedule\n"
      "positions to topology device ids (None: the first num_devices). See include/meshreduce/simulator.h.");
}

}  // namespace meshreduce::python
