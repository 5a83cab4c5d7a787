// Small conversions of Python arguments shared by the bindings.
#pragma once

#include <pybind11/pybind11.h>

#include <optional>
#include <string>

#include "meshreduce/topology.h"
#include "meshreduce/types.h"

namespace meshreduce::python {

namespace py = pybind11;

// A str or os.PathLike as text (os.fspath).
std::string path_text(py::handle path);

// An int (or anything with __index__, as numpy.int64) as a long long; nullopt when it does not
// fit. The caller checks PyIndex_Check first.
std::optional<long long> index_integer(py::handle value);

// None, a preset name or file path (str or os.PathLike), or a Topology.
std::optional<Topology> topology_argument(py::handle topology);

}  // namespace meshreduce::python
