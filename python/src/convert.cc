#include "convert.h"

#include "meshreduce/error.h"

namespace meshreduce::python {

std::string path_text(py::handle path) {
  return py::module_::import("os").attr("fspath")(path).cast<std::string>();
}

std::optional<long long> index_integer(py::handle value) {
  const auto index = py::reinterpret_steal<py::object>(PyNumber_Index(value.ptr()));
  if (!index) throw py::error_already_set();
  int overflow = 0;
  const long long result = PyLong_AsLongLongAndOverflow(index.ptr(), &overflow);
  if (overflow != 0) return std::nullopt;
  if (result == -1 && PyErr_Occurred()) throw py::error_already_set();
  return result;
}

std::optional<Topology> topology_argument(py::handle topology) {
  if (topology.is_none()) return std::nullopt;
  if (py::isinstance<Topology>(topology)) return topology.cast<Topology>();
  return topology_preset(path_text(topology));
}


}  // namespace meshreduce::python
