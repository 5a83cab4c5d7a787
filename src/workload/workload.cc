#include "meshreduce/workload.h"

#include <charconv>
#include <optional>

#include "core/input_file.h"
#include "core/text.h"
#include "meshreduce/error.h"
#include "meshreduce/limits.h"

namespace meshreduce {

// Every tensor's count and their sum are bounded by limits::kMaxTensorElements when parsed, so the
// sums below cannot overflow.
std::int64_t Workload::elements() const noexcept {
  std::int64_t total = 0;
  for (const WorkloadTensor& tensor : tensors) total += tensor.elements;
  return total;
}

std::vector<TensorSpec> Workload::layout(DType dtype) const {
  std::vector<TensorSpec> specs;
  specs.reserve(tensors.size());
  for (const WorkloadTensor& tensor : tensors) specs.push_back({tensor.elements, dtype});
  return specs;
}

namespace {

// A non-negative decimal integer of at most limits::kMaxTensorElements, or nullopt.
std::optional<std::int64_t> parse_count(std::string_view text) {
  std::int64_t value = 0;
  const auto [ptr, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || ptr != text.data() + text.size() || value < 0 || value > limits::kMaxTensorElements)
    return std::nullopt;
  return value;
}

// The element count a shape such as "64x3x7x7" describes ("" and "1" are one element), or an
// error message.
std::int64_t shape_elements(std::string_view shape, const std::string& where) {
  std::int64_t product = 1;
  std::string_view rest = shape;
  while (!rest.empty()) {
    const std::size_t x = std::min(rest.find('x'), rest.size());
    const auto dimension = parse_count(rest.substr(0, x));
    if (!dimension)
      throw InvalidArgument(where + ": shape '" + detail::excerpt(shape) + "' is not dimensions like 64x3x7x7 (each 0.." +
                            std::to_string(limits::kMaxTensorElements) + ")");
    product = limits::checked_mul(where + ": shape '" + detail::excerpt(shape) + "'", product, *dimension,
                                  limits::kMaxTensorElements);
    rest.remove_prefix(x);
    if (!rest.empty()) {
      rest.remove_prefix(1);
      if (rest.empty()) throw InvalidArgument(where + ": shape '" + detail::excerpt(shape) + "' ends with 'x'");
    }
  }
  return product;
}

}  // namespace

Workload parse_workload(std::string_view text, std::string name) {
  Workload workload{std::move(name), {}};
  const std::string title = "workload '" + detail::excerpt(workload.name) + "'";
  std::size_t line_number = 0;
  std::int64_t total = 0;
  while (!text.empty()) {
    const std::size_t end = std::min(text.find('\n'), text.size());
    std::string_view line = text.substr(0, end);
    text.remove_prefix(std::min(end + 1, text.size()));
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    const std::string where = title + " line " + std::to_string(line_number);
    const std::size_t tab1 = line.find('\t');
    const std::size_t tab2 = tab1 == std::string_view::npos ? tab1 : line.find('\t', tab1 + 1);
    if (tab2 == std::string_view::npos || line.find('\t', tab2 + 1) != std::string_view::npos)
      throw InvalidArgument(where + ": expected 'name<TAB>shape<TAB>elements', got '" + detail::excerpt(line) + "'");
    const std::string_view tensor = line.substr(0, tab1);
    const std::string_view shape = line.substr(tab1 + 1, tab2 - tab1 - 1);
    const std::string_view count = line.substr(tab2 + 1);
    if (tensor.empty()) throw InvalidArgument(where + ": the tensor has no name");
    const auto elements = parse_count(count);
    if (!elements)
      throw InvalidArgument(where + " (" + detail::excerpt(tensor) + "): element count '" + detail::excerpt(count) +
                            "' is not an integer in 0.." + std::to_string(limits::kMaxTensorElements));
    if (const std::int64_t described = shape_elements(shape, where); described != *elements)
      throw InvalidArgument(where + " (" + detail::excerpt(tensor) + "): shape " + detail::excerpt(shape) + " has " +
                            std::to_string(described) + " elements, the line says " + std::to_string(*elements));
    if (static_cast<std::int64_t>(workload.tensors.size()) >= limits::kMaxTensors)
      throw InvalidArgument(where + ": more than the largest allowed number of tensors, " +
                            std::to_string(limits::kMaxTensors));
    total = limits::checked_add(where + ": elements of all tensors", total, *elements, limits::kMaxTensorElements);
    workload.tensors.push_back({std::string(tensor), std::string(shape), *elements});
  }
  if (workload.tensors.empty()) throw InvalidArgument(title + " has no tensors");
  return workload;
}

Workload load_workload_file(const std::string& path) {
  const std::string text = detail::read_input_file<InvalidArgument>(path, "workload file");
  std::string name = path.substr(path.find_last_of('/') + 1);
  if (const auto dot = name.rfind('.'); dot != std::string::npos) name.resize(dot);
  return parse_workload(text, name);
}

Workload uniform_workload(int count, std::int64_t elements) {
  limits::check_range("uniform workload: tensors", count, 0, limits::kMaxTensors);
  limits::check_range("uniform workload: elements per tensor", elements, 0, limits::kMaxTensorElements);
  limits::checked_mul("uniform workload: elements of all tensors", count, elements, limits::kMaxTensorElements);
  Workload workload{std::to_string(count) + "x" + std::to_string(elements), {}};
  for (int i = 0; i < count; ++i) workload.tensors.push_back({"t" + std::to_string(i), std::to_string(elements), elements});
  return workload;
}

}  // namespace meshreduce
