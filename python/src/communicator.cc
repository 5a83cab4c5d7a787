// Communicator and the seed's call for Python. Arguments are checked and turned into tensor
// views with the GIL held; the library then runs with the GIL released, so other Python threads
// run meanwhile (the library serializes calls on one communicator itself).
#include <pybind11/stl.h>

#include <chrono>
#include <string>

#include "arrays.h"
#include "bindings.h"
#include "meshreduce/communicator.h"
#include "meshreduce/error.h"
#include "options.h"

namespace meshreduce::python {
namespace {

// grads alone: in place. With outputs: out of place, outputs[k][n] receiving the reduction of
// grads[*][n] (an output may be its own input). Calls `run(inputs, outputs)` without the GIL.
template <typename Run>
void with_tensor_lists(py::handle grads, py::handle outputs, Run&& run) {
  if (outputs.is_none()) {
    TensorLists lists = tensor_lists(grads, "grads", Access::write);
    check_shapes(lists, nullptr, "grads");
    const auto inputs = lists.const_views();
    py::gil_scoped_release release;
    run(inputs, lists.views);
  } else {
    TensorLists inputs = tensor_lists(grads, "grads", Access::read);
    TensorLists outs = tensor_lists(outputs, "outputs", Access::write);
    check_shapes(inputs, &outs, "grads");
    const auto const_inputs = inputs.const_views();
    py::gil_scoped_release release;
    run(const_inputs, outs.views);
  }
}

}  // namespace

void bind_communicator(py::module_& module) {
  const std::string doc =
      "Communicator(**options): allreduce over K devices (memory spaces of this process), planned once per\n"
      "tensor layout and cached, so that a training loop pays only for execution. Options:\n" +
      communicator_options_doc();
  py::class_<Communicator>(module, "Communicator", doc.c_str())
      .def(py::init([](const py::kwargs& kwargs) { return Communicator(communicator_options(kwargs)); }))
      .def(
          "allreduce",
          [](Communicator& self, py::handle grads, const std::string& op, py::handle outputs) {
            const ReduceOp reduce_op = parse_reduce_op(op);
            with_tensor_lists(grads, outputs, [&](const auto& inputs, const auto& outs) {
              if (outputs.is_none()) self.allreduce(outs, reduce_op);
              else self.allreduce(inputs, outs, reduce_op);
            });
          },
          py::arg("grads"), py::arg("op") = "sum", py::kw_only(), py::arg("outputs") = py::none(),
          "grads[k][n] is device k's tensor n (a C-contiguous NumPy array or a BFloat16). In place, or into\n"
          "outputs shaped like grads. op: 'sum', 'average', 'min' or 'max'. Raises InvalidArgument before\n"
          "writing anything when the arrays do not match across devices.")
      .def(
          "plan",
          [](Communicator& self, py::handle layout, const std::string& op) {
            const std::vector<TensorSpec> specs = layout_from_python(layout);
            const ReduceOp reduce_op = parse_reduce_op(op);
            py::gil_scoped_release release;
            return Plan(self.plan(specs, reduce_op));
          },
          py::arg("layout"), py::arg("op") = "sum",
          "The plan for one device's tensors: a list of arrays, TensorSpec or (count, dtype) pairs\n"
          "(Workload.layout() gives one). Built on first use and cached; returns a copy.")
      .def(
          "simulate",
          [](Communicator& self, py::handle layout, const std::string& op, bool trace) {
            if (!self.options().topology)
              throw InvalidArgument("simulate needs a communicator made with a topology; this one has none");
            const std::vector<TensorSpec> specs = layout_from_python(layout);
            const ReduceOp reduce_op = parse_reduce_op(op);
            py::gil_scoped_release release;
            SimulationOptions options = self.options().simulation;
            options.trace = trace;
            return simulate(self.plan(specs, reduce_op).schedule, *self.options().topology, self.options().devices,
                            options);
          },
          py::arg("layout"), py::arg("op") = "sum", py::arg("trace") = false,
          "The plan's predicted time on the communicator's topology (see meshreduce.simulate).")
      .def_property_readonly("size", &Communicator::size, "K, the number of devices.")
      .def_property_readonly("devices", [](const Communicator& self) { return self.options().devices; })
      .def_property_readonly("groups", &Communicator::groups)
      .def_property_readonly("algorithm", [](const Communicator& self) { return self.options().algorithm; })
      .def_property_readonly("bucketing",
                             [](const Communicator& self) { return bucketing_name(self.options().bucketing.mode); })
      .def_property_readonly("topology", [](const Communicator& self) { return self.options().topology; })
      .def_property_readonly("threads", [](const Communicator& self) { return self.options().threads; })
      .def_property_readonly("timeout",
                             [](const Communicator& self) {
                               return std::chrono::duration<double>(self.options().timeout).count();
                             },
                             "Seconds.")
      .def("__repr__", [](const Communicator& self) {
        return "meshreduce.Communicator(" + std::to_string(self.size()) + " devices, algorithm='" +
               self.options().algorithm + "'" +
               (self.options().topology ? ", topology='" + self.options().topology->name + "'" : std::string()) + ")";
      });

  module.def(
      "allreduce_grads_hierarchical",
      [](py::handle all_grads, py::handle devices_arg, bool average, py::handle groups_arg, py::handle outputs) {
        std::vector<int> devices;
        if (devices_arg.is_none()) {
          if (!py::isinstance<py::list>(all_grads) && !py::isinstance<py::tuple>(all_grads))
            throw py::type_error("all_grads must be a list of lists of arrays (one list per device), got a " +
                                 std::string(py::str(py::type::handle_of(all_grads).attr("__name__"))));
          for (int k = 0; k < static_cast<int>(py::len(all_grads)); ++k) devices.push_back(k);
        } else {
          devices = int_list(devices_arg, "devices");
        }
        std::vector<std::vector<int>> groups =
            groups_arg.is_none() ? std::vector<std::vector<int>>{} : int_lists(groups_arg, "groups");
        with_tensor_lists(all_grads, outputs, [&](const auto& inputs, const auto& outs) {
          if (outputs.is_none()) allreduce_grads_hierarchical(outs, devices, average, groups);
          else allreduce_grads_hierarchical(inputs, outs, devices, average, groups);
        });
      },
      py::arg("all_grads"), py::arg("devices") = py::none(), py::arg("average") = false, py::kw_only(),
      py::arg("groups") = py::none(), py::arg("outputs") = py::none(),
      "tensorpack's allreduce_grads_hierarchical(all_grads, devices, average), generalized: any K >= 1;\n"
      "all_grads[k][n] is device k's tensor n. devices: distinct int labels (default 0..K-1). The devices\n"
      "form two groups (the first ceil(K/2) and the rest) unless groups are given. With K = 8 the result is\n"
      "bitwise the seed's. In place, or into outputs shaped like all_grads.");
}

}  // namespace meshreduce::python
