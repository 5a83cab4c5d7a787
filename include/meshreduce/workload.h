// Workloads: the parameter tensors of a real model, read from a TSV file
// (name <TAB> shape <TAB> elements per line; '#' starts a comment line).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "meshreduce/bucketing.h"
#include "meshreduce/types.h"

namespace meshreduce {

struct WorkloadTensor {
  std::string name;
  std::string shape;
  std::int64_t elements = 0;
};

struct Workload {
  std::string name;
  std::vector<WorkloadTensor> tensors;  // in model.parameters() order

  std::int64_t elements() const noexcept;
  // The layout of a gradient call with every tensor of one dtype.
  std::vector<TensorSpec> layout(DType dtype) const;
};

// Parse TSV text; throws InvalidArgument naming the line, the tensor and what is wrong: a line
// that is not three tab-separated fields, a count that is not an integer in
// 0..limits::kMaxTensorElements, a shape ("64x3x7x7"; empty for a scalar) whose product differs
// from the count, more than limits::kMaxTensors tensors or limits::kMaxTensorElements elements in
// all, or no tensor at all. Quoted text is cut short and its control bytes escaped.
Workload parse_workload(std::string_view text, std::string name);
// Read a TSV file (at most limits::kMaxFileBytes); throws InvalidArgument when it cannot be read,
// is a directory, or does not parse.
Workload load_workload_file(const std::string& path);
// A workload of `count` tensors of `elements` each (synthetic sweeps), within the same limits.
Workload uniform_workload(int count, std::int64_t elements);

}  // namespace meshreduce
