#include "api/validate.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

#include "meshreduce/error.h"
#include "meshreduce/limits.h"

namespace meshreduce::detail {
namespace {

std::string where(std::size_t device, std::size_t tensor) {
  return "tensor " + std::to_string(tensor) + " on device " + std::to_string(device);
}

using Range = CallChecks::Range;

std::string describe(const Range& range) {
  return std::string(range.output ? "output " : "input ") + where(range.device, range.tensor);
}

// `what` and `reference_what` name the two tensors; they are called only to build the message of
// a failure, so a call whose tensors are fine builds no string (this runs on every call).
template <typename What, typename ReferenceWhat>
void check_tensor(const ConstTensorView& tensor, const ConstTensorView& reference, What&& what,
                  ReferenceWhat&& reference_what) {
  if (tensor.count < 0)
    throw InvalidArgument(what() + " has a negative element count " + std::to_string(tensor.count));
  if (tensor.count != reference.count)
    throw InvalidArgument(what() + " has " + std::to_string(tensor.count) + " elements, " + reference_what() +
                          " has " + std::to_string(reference.count));
  if (tensor.dtype != reference.dtype)
    throw InvalidArgument(what() + " is " + std::string(dtype_name(tensor.dtype)) + ", " + reference_what() + " is " +
                          std::string(dtype_name(reference.dtype)));
  if (tensor.count > 0 && tensor.data == nullptr)
    throw InvalidArgument(what() + " has null data for " + std::to_string(tensor.count) + " elements");
}

// Outputs must not overlap each other, and an output may overlap an input only when it is
// exactly that same tensor's input (in place).
void check_overlaps(std::span<const std::vector<ConstTensorView>> inputs,
                    std::span<const std::vector<TensorView>> outputs, std::vector<Range>& ranges) {
  ranges.clear();
  for (std::size_t k = 0; k < outputs.size(); ++k)
    for (std::size_t n = 0; n < outputs[k].size(); ++n) {
      const TensorView& out = outputs[k][n];
      const ConstTensorView& in = inputs[k][n];
      if (out.count == 0) continue;
      const auto begin = reinterpret_cast<std::uintptr_t>(out.data);
      ranges.push_back({begin, begin + static_cast<std::uintptr_t>(out.bytes()), true, k, n});
      if (in.data != out.data) {
        const auto in_begin = reinterpret_cast<std::uintptr_t>(in.data);
        ranges.push_back({in_begin, in_begin + static_cast<std::uintptr_t>(in.bytes()), false, k, n});
      }
    }
  std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) { return a.begin < b.begin; });
  // Sweep: remember the output reaching furthest and the input reaching furthest so far.
  const Range* last_output = nullptr;
  const Range* last_input = nullptr;
  for (const Range& range : ranges) {
    const Range* conflict = nullptr;
    if (last_output && last_output->end > range.begin) conflict = last_output;
    else if (range.output && last_input && last_input->end > range.begin) conflict = last_input;
    if (conflict)
      throw InvalidArgument(describe(range) + " overlaps " + describe(*conflict) + " (bytes [" +
                            std::to_string(range.begin) + ", " + std::to_string(range.end) + ") and [" +
                            std::to_string(conflict->begin) + ", " + std::to_string(conflict->end) + "))");
    const Range*& furthest = range.output ? last_output : last_input;
    if (!furthest || range.end > furthest->end) furthest = &range;
  }
}

}  // namespace

void validate_call(std::span<const std::vector<ConstTensorView>> inputs,
                   std::span<const std::vector<TensorView>> outputs, int num_devices, CallChecks& checks) {
  const auto devices = static_cast<std::size_t>(num_devices);
  if (inputs.size() != devices)
    throw InvalidArgument("got " + std::to_string(inputs.size()) + " lists of tensors for " +
                          std::to_string(num_devices) + " devices");
  if (outputs.size() != devices)
    throw InvalidArgument("got " + std::to_string(outputs.size()) + " lists of output tensors for " +
                          std::to_string(num_devices) + " devices");
  const std::size_t tensors = inputs.empty() ? 0 : inputs[0].size();
  for (std::size_t k = 0; k < devices; ++k) {
    if (inputs[k].size() != tensors)
      throw InvalidArgument("device " + std::to_string(k) + " has " + std::to_string(inputs[k].size()) +
                            " tensors, device 0 has " + std::to_string(tensors));
    if (outputs[k].size() != tensors)
      throw InvalidArgument("device " + std::to_string(k) + " has " + std::to_string(outputs[k].size()) +
                            " output tensors for " + std::to_string(tensors) + " input tensors");
  }
  std::vector<TensorSpec>& layout = checks.layout;
  layout.clear();
  for (std::size_t n = 0; n < tensors; ++n) {
    const ConstTensorView& reference = inputs[0][n];
    for (std::size_t k = 0; k < devices; ++k) {
      check_tensor(inputs[k][n], reference, [&] { return where(k, n); }, [] { return std::string("on device 0"); });
      check_tensor(outputs[k][n], inputs[k][n], [&] { return "output " + where(k, n); },
                   [] { return std::string("its input"); });
    }
    layout.push_back({reference.count, reference.dtype});
  }
  validate_layout(layout);
  check_overlaps(inputs, outputs, checks.ranges);
}

std::vector<TensorSpec> validate_call(std::span<const std::vector<ConstTensorView>> inputs,
                                      std::span<const std::vector<TensorView>> outputs, int num_devices) {
  CallChecks checks;
  validate_call(inputs, outputs, num_devices, checks);
  return std::move(checks.layout);
}

void validate_layout(std::span<const TensorSpec> layout) {
  limits::check_range("tensors of the layout", static_cast<std::int64_t>(layout.size()), 0, limits::kMaxTensors);
  // Every call runs this: messages are built only for the tensor at fault (the limits.h checks
  // below throw whenever they are reached).
  std::int64_t bytes = 0;
  for (std::size_t n = 0; n < layout.size(); ++n) {
    const TensorSpec& spec = layout[n];
    if (spec.count < 0 || spec.count > limits::kMaxTensorElements)
      limits::check_range("tensor " + std::to_string(n) + ": elements", spec.count, 0, limits::kMaxTensorElements);
    const auto size = static_cast<std::int64_t>(dtype_size(spec.dtype));
    if (size == 0)
      throw InvalidArgument("tensor " + std::to_string(n) + ": unknown dtype " +
                            std::to_string(static_cast<int>(spec.dtype)));
    static_assert(limits::kMaxTensorElements * 8 <= limits::kMaxTotalBytes, "a tensor's bytes cannot overflow");
    const std::int64_t tensor_bytes = spec.count * size;
    if (tensor_bytes > limits::kMaxTotalBytes - bytes)
      limits::checked_add("bytes of the layout's tensors 0.." + std::to_string(n), bytes, tensor_bytes,
                          limits::kMaxTotalBytes);
    bytes += tensor_bytes;
  }
}

void validate_devices(std::span<const int> devices, const std::vector<int>* known_ids) {
  // Sorting (id, position) pairs finds duplicates in O(K log K) memory O(K): ids are labels, so
  // nothing may be sized or indexed by their values.
  std::vector<std::pair<int, std::size_t>> sorted;
  sorted.reserve(devices.size());
  for (std::size_t i = 0; i < devices.size(); ++i) sorted.emplace_back(devices[i], i);
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 1; i < sorted.size(); ++i)
    if (sorted[i].first == sorted[i - 1].first)
      throw InvalidArgument("device " + std::to_string(sorted[i].first) +
                            " appears twice in the device list, at positions " + std::to_string(sorted[i - 1].second) +
                            " and " + std::to_string(sorted[i].second));
  if (known_ids == nullptr) return;
  std::vector<int> known(known_ids->begin(), known_ids->end());
  std::sort(known.begin(), known.end());
  for (std::size_t i = 0; i < devices.size(); ++i)
    if (!std::binary_search(known.begin(), known.end(), devices[i]))
      throw InvalidArgument("device list position " + std::to_string(i) + " names device " +
                            std::to_string(devices[i]) + ", which the topology does not have");
}

}  // namespace meshreduce::detail
