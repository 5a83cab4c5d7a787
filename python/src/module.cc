// meshreduce._core: the library bound for Python. The package meshreduce (python/meshreduce)
// re-exports everything here; users import that, not this module.
#include "bindings.h"

PYBIND11_MODULE(_core, module) {
  using namespace meshreduce::python;
  module.doc() = "meshreduce's C++ library bound for NumPy (import meshreduce, not this module)";
  module.attr("__version__") = MESHREDUCE_VERSION;  // the CMake project's version
  bind_errors(module);  // first: the other parts' docstrings and translators name these classes
  bind_arrays(module);
  bind_topology(module);
  bind_workload(module);
  bind_plan(module);
  bind_simulation(module);
  bind_communicator(module);
}
