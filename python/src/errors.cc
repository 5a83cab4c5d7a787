// The library's typed exceptions (include/meshreduce/error.h) as Python classes. Each subclasses
// meshreduce.Error and the built-in exception a Python caller would catch for that kind of fault:
//   Error            RuntimeError        (std::runtime_error)
//   InvalidArgument  ValueError          a malformed argument; nothing was written
//   Unsupported      NotImplementedError the algorithm or topology cannot serve the request
//   TopologyError    ValueError          a topology description is inconsistent or unreadable
//   ScheduleError    ValueError          a schedule is not a correct allreduce
//   OutOfMemory      MemoryError         memory ran out planning or running a call
//   ExecutionError   (Error only)        a step raised mid-call; outputs unspecified
//   TimeoutError     TimeoutError        a call passed its timeout; outputs unspecified
//   PeerError        (Error only)        another process of the job failed
#include <Python.h>

#include <exception>
#include <initializer_list>
#include <string>

#include "bindings.h"
#include "meshreduce/error.h"

namespace meshreduce::python {
namespace {

void add_class(py::module_& module, const char* name, const char* doc, std::initializer_list<py::handle> bases) {
  py::tuple base_tuple(bases.size());
  std::size_t i = 0;
  for (py::handle base : bases) base_tuple[i++] = py::reinterpret_borrow<py::object>(base);
  const std::string qualified = std::string("meshreduce.") + name;
  PyObject* created = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, base_tuple.ptr(), nullptr);
  if (created == nullptr) throw py::error_already_set();
  module.add_object(name, py::reinterpret_steal<py::object>(created));
}

// Sets the Python error to the class `name` of this module (looked up here rather than kept in a
// static: the module owns its classes).
void raise(const char* name, const std::exception& error) {
  py::object cls = py::module_::import("meshreduce._core").attr(name);
  PyErr_SetString(cls.ptr(), error.what());
}

void translate(std::exception_ptr thrown) {
  try {
    std::rethrow_exception(thrown);
  } catch (const InvalidArgument& e) {
    raise("InvalidArgument", e);
  } catch (const Unsupported& e) {
    raise("Unsupported", e);
  } catch (const TopologyError& e) {
    raise("TopologyError", e);
  } catch (const ScheduleError& e) {
    raise("ScheduleError", e);
  } catch (const OutOfMemory& e) {
    raise("OutOfMemory", e);
  } catch (const ExecutionError& e) {
    raise("ExecutionError", e);
  } catch (const TimeoutError& e) {
    raise("TimeoutError", e);
  } catch (const PeerError& e) {
    raise("PeerError", e);
  } catch (const Error& e) {
    raise("Error", e);
  }
  // Anything else goes on to pybind11's own translators (std::bad_alloc is MemoryError, ...).
}

}  // namespace

void bind_errors(py::module_& module) {
  const py::module_ builtins = py::module_::import("builtins");
  add_class(module, "Error", "Base of every error meshreduce raises.", {builtins.attr("RuntimeError")});
  const py::object error = module.attr("Error");
  add_class(module, "InvalidArgument",
            "A malformed argument (shapes, dtypes, devices, options); raised before anything is written.",
            {error, builtins.attr("ValueError")});
  add_class(module, "Unsupported", "The chosen algorithm or topology cannot serve the request.",
            {error, builtins.attr("NotImplementedError")});
  add_class(module, "TopologyError", "A topology description is inconsistent or cannot be read.",
            {error, builtins.attr("ValueError")});
  add_class(module, "ScheduleError", "A schedule is not a correct allreduce.", {error, builtins.attr("ValueError")});
  add_class(module, "OutOfMemory", "Memory ran out while planning or running a call; the communicator stays usable.",
            {error, builtins.attr("MemoryError")});
  add_class(module, "ExecutionError",
            "A step raised mid-call; the outputs are unspecified, the communicator stays usable.", {error});
  add_class(module, "TimeoutError",
            "A call did not finish within its timeout; the outputs are unspecified, the communicator stays usable.",
            {error, builtins.attr("TimeoutError")});
  add_class(module, "PeerError", "Another process of the job failed.", {error});
  py::register_exception_translator(&translate);

  // The test seam of the translation: most of these errors cannot be provoked from Python on
  // purpose (a step that raises, memory running out), yet each must reach Python as its class.
  module.def(
      "_throw_for_testing",
      [](const std::string& kind, const std::string& message) {
        if (kind == "Error") throw Error(message);
        if (kind == "InvalidArgument") throw InvalidArgument(message);
        if (kind == "Unsupported") throw Unsupported(message);
        if (kind == "TopologyError") throw TopologyError(message);
        if (kind == "ScheduleError") throw ScheduleError(message);
        if (kind == "OutOfMemory") throw OutOfMemory(message);
        if (kind == "ExecutionError") throw ExecutionError(message);
        if (kind == "TimeoutError") throw TimeoutError(message);
        if (kind == "PeerError") throw PeerError(message);
        throw py::value_error("no error kind '" + kind + "'");
      },
      py::arg("kind"), py::arg("message"), "Throws the C++ exception `kind` (tests only).");
}

}  // namespace meshreduce::python
