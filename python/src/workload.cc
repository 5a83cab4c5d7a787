// Workloads for Python: the parameter tensors of a real model (TSV: name, shape, elements), whose
// layout a Communicator can plan or simulate. meshreduce.workload(name) (python/meshreduce)
// finds the packaged ones by name.
#include <pybind11/stl.h>

#include <string>

#include "bindings.h"
#include "convert.h"
#include "meshreduce/workload.h"

namespace meshreduce::python {

void bind_workload(py::module_& module) {
  py::class_<WorkloadTensor>(module, "WorkloadTensor", "One parameter tensor of a model.")
      .def_readonly("name", &WorkloadTensor::name)
      .def_readonly("shape", &WorkloadTensor::shape, "'64x3x7x7'; empty for a scalar.")
      .def_readonly("elements", &WorkloadTensor::elements)
      .def("__repr__", [](const WorkloadTensor& self) {
        return "meshreduce.WorkloadTensor('" + self.name + "', '" + self.shape + "', " + std::to_string(self.elements) +
               ")";
      });
  py::class_<Workload>(module, "Workload", "The parameter tensors of a model, in model.parameters() order.")
      .def_readonly("name", &Workload::name)
      .def_readonly("tensors", &Workload::tensors)
      .def_property_readonly("elements", &Workload::elements, "Elements of all tensors together.")
      .def("layout", [](const Workload& self, const std::string& dtype) { return self.layout(parse_dtype(dtype)); },
           py::arg("dtype") = "f32", "The layout of a gradient call with every tensor of this dtype.")
      .def("__len__", [](const Workload& self) { return self.tensors.size(); })
      .def("__repr__", [](const Workload& self) {
        return "meshreduce.Workload('" + self.name + "', " + std::to_string(self.tensors.size()) + " tensors, " +
               std::to_string(self.elements()) + " elements)";
      });
  module.def("parse_workload", &parse_workload, py::arg("text"), py::arg("name") = "workload",
             "A workload from TSV text; raises InvalidArgument naming the line and what is wrong.");
  module.def("load_workload", [](py::handle path) { return load_workload_file(path_text(path)); }, py::arg("path"),
             "A workload from a TSV file.");
  module.def("uniform_workload", &uniform_workload, py::arg("count"), py::arg("elements"),
             "`count` tensors of `elements` each.");
}

}  // namespace meshreduce::python
