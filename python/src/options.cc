#include "options.h"

#include <pybind11/stl.h>

#include <chrono>
#include <climits>
#include <cmath>
#include <functional>
#include <span>
#include <vector>

#include "arrays.h"
#include "convert.h"
#include "meshreduce/error.h"
#include "meshreduce/limits.h"

namespace meshreduce::python {
namespace {

// Worker threads a communicator may start: the command line's limit. The library starts as many
// as it is told, before any other check, so the bound is kept here.
constexpr std::int64_t kMaxThreads = 1024;
constexpr double kLongestTimeoutSeconds = 365.0 * 24 * 3600;  // the library's own limit

std::int64_t integer(py::handle value, const char* name, std::int64_t lowest, std::int64_t highest) {
  if (!PyIndex_Check(value.ptr()) || py::isinstance<py::bool_>(value))
    throw py::type_error(std::string(name) + " must be an int, got a " +
                         std::string(py::str(py::type::handle_of(value).attr("__name__"))));
  const std::optional<long long> result = index_integer(value);
  if (!result || *result < lowest || *result > highest)
    throw InvalidArgument(std::string(name) + " = " + std::string(py::str(value)) + " is outside " +
                          std::to_string(lowest) + " to " + std::to_string(highest));
  return *result;
}

bool boolean(py::handle value, const char* name) {
  if (!py::isinstance<py::bool_>(value))
    throw py::type_error(std::string(name) + " must be True or False, got " + std::string(py::repr(value)));
  return value.cast<bool>();
}

std::string text(py::handle value, const char* name) {
  if (!py::isinstance<py::str>(value))
    throw py::type_error(std::string(name) + " must be a str, got " + std::string(py::repr(value)));
  return value.cast<std::string>();
}

// Seconds as an int, a float or a datetime.timedelta.
std::chrono::nanoseconds seconds(py::handle value, const char* name) {
  double s = 0;
  if (py::hasattr(value, "total_seconds")) {
    s = value.attr("total_seconds")().cast<double>();
  } else if ((PyFloat_Check(value.ptr()) || PyLong_Check(value.ptr())) && !py::isinstance<py::bool_>(value)) {
    s = py::float_(py::reinterpret_borrow<py::object>(value));
  } else {
    throw py::type_error(std::string(name) + " must be seconds (int or float) or a datetime.timedelta, got " +
                         std::string(py::repr(value)));
  }
  if (!(s > 0) || s > kLongestTimeoutSeconds)
    throw InvalidArgument(std::string(name) + " = " + std::string(py::str(py::float_(s))) +
                          " s must be positive and at most a year (" + std::to_string(kLongestTimeoutSeconds) + " s)");
  return std::chrono::nanoseconds(std::llround(s * 1e9));
}

BucketingMode bucketing(const std::string& name) {
  if (name == "none") return BucketingMode::per_tensor;
  if (name == "fused") return BucketingMode::fused;
  if (name == "packer") return BucketingMode::seed_packer;
  throw InvalidArgument("bucketing '" + name + "' is not one of none (a bucket per tensor), fused, packer (the seed's)");
}

struct Option {
  const char* name;
  const char* doc;
  std::function<void(CommunicatorOptions&, py::handle)> set;
};

const std::vector<Option>& options_table() {
  static const std::vector<Option> table{
      {"topology", "None, a preset name, a topology file or a Topology (default None: this machine's threads)",
       [](CommunicatorOptions& o, py::handle v) { o.topology = topology_argument(v); }},
      {"devices", "list of distinct int ids, the participants in order (default: every device of the topology)",
       [](CommunicatorOptions& o, py::handle v) { o.devices = int_list(v, "devices"); }},
      {"groups", "list of lists of positions 0..K-1 partitioning the devices (default: the topology's innermost level)",
       [](CommunicatorOptions& o, py::handle v) { o.groups = int_lists(v, "groups"); }},
      {"algorithm", "an algorithm name (meshreduce.algorithms()) or 'auto' (default)",
       [](CommunicatorOptions& o, py::handle v) { o.algorithm = text(v, "algorithm"); }},
      {"bucketing", "'none' (a bucket per tensor, default), 'fused' or 'packer' (the seed's GradientPacker)",
       [](CommunicatorOptions& o, py::handle v) { o.bucketing.mode = bucketing(text(v, "bucketing")); }},
      {"fuse_bytes", "bytes per bucket with bucketing='fused' (default 25 MiB)",
       [](CommunicatorOptions& o, py::handle v) {
         o.bucketing.fuse_bytes = integer(v, "fuse_bytes", 1, limits::kMaxTotalBytes);
       }},
      {"packer_splits", "chunks with bucketing='packer' (default 8)",
       [](CommunicatorOptions& o, py::handle v) {
         o.bucketing.packer_splits = static_cast<int>(integer(v, "packer_splits", 1, limits::kMaxTensors));
       }},
      {"chunk_elements", "largest pipelined chunk, 0 = the algorithm's choice (default 0)",
       [](CommunicatorOptions& o, py::handle v) {
         o.algorithm_options.chunk_elements = integer(v, "chunk_elements", 0, limits::kMaxTensorElements);
       }},
      {"threads", "worker threads including the caller's, 0 = the hardware threads (default 0)",
       [](CommunicatorOptions& o, py::handle v) { o.threads = static_cast<int>(integer(v, "threads", 0, kMaxThreads)); }},
      {"pin_threads", "bind worker i to core i with hwloc (default False)",
       [](CommunicatorOptions& o, py::handle v) { o.pin_threads = boolean(v, "pin_threads"); }},
      {"timeout", "seconds or a datetime.timedelta a call may take before TimeoutError (default 300)",
       [](CommunicatorOptions& o, py::handle v) { o.timeout = seconds(v, "timeout"); }},
      {"piece_elements", "largest piece one worker handles at a time (default 65536)",
       [](CommunicatorOptions& o, py::handle v) {
         o.piece_elements = integer(v, "piece_elements", 1, limits::kMaxTensorElements);
       }},
      {"stream_min_bytes", "outputs of calls at least this large use non-temporal stores, negative = never (default 32 MiB)",
       [](CommunicatorOptions& o, py::handle v) {
         o.stream_min_bytes = integer(v, "stream_min_bytes", LLONG_MIN, limits::kMaxTotalBytes);
       }},
      {"inline_bytes", "calls moving fewer bytes run on the caller's thread alone (default 256 KiB)",
       [](CommunicatorOptions& o, py::handle v) {
         o.inline_bytes = integer(v, "inline_bytes", 0, limits::kMaxTotalBytes);
       }},
      // `reproducible` joins here when CommunicatorOptions has it: one entry, no other change.
  };
  return table;
}

}  // namespace

CommunicatorOptions communicator_options(const py::kwargs& kwargs) {
  CommunicatorOptions options;
  for (const auto& [key, value] : kwargs) {
    const std::string name = py::str(key);
    const auto& table = options_table();
    const auto found = std::find_if(table.begin(), table.end(), [&](const Option& o) { return name == o.name; });
    if (found == table.end()) {
      std::string known;
      for (const Option& option : table) known += std::string(known.empty() ? "" : ", ") + option.name;
      throw py::type_error("Communicator() got an unknown keyword '" + name + "' (known: " + known + ")");
    }
    if (!value.is_none() || name == "topology") found->set(options, value);
  }
  return options;
}

std::string communicator_options_doc() {
  std::string doc;
  for (const Option& option : options_table()) doc += "  " + std::string(option.name) + ": " + option.doc + "\n";
  return doc;
}

std::string bucketing_name(BucketingMode mode) {
  switch (mode) {
    case BucketingMode::per_tensor: return "none";
    case BucketingMode::fused: return "fused";
    case BucketingMode::seed_packer: return "packer";
  }
  return "unknown";
}

}  // namespace meshreduce::python
