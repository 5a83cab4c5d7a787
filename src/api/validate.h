// Internal: checks of a call's arguments, made before anything is written. Each failure throws
// InvalidArgument naming the device, the tensor and the conflicting values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "meshreduce/bucketing.h"
#include "meshreduce/tensor.h"

namespace meshreduce::detail {

// K lists of N tensors, tensor n alike on every device, data present, outputs shaped like the
// inputs, no output overlapping another output or another tensor's input. Returns the layout.
std::vector<TensorSpec> validate_call(std::span<const std::vector<ConstTensorView>> inputs,
                                      std::span<const std::vector<TensorView>> outputs, int num_devices);

// The same checks with storage the caller keeps from call to call, so that a caller's steady
// state allocates nothing (the process executor's hot path): the layout is left in `layout`.
struct CallChecks {
  struct Range {  // one tensor's bytes, for the overlap sweep
    std::uintptr_t begin = 0;
    std::uintptr_t end = 0;
    bool output = false;
    std::size_t device = 0;
    std::size_t tensor = 0;
  };
  std::vector<TensorSpec> layout;
  std::vector<Range> ranges;
};
void validate_call(std::span<const std::vector<ConstTensorView>> inputs,
                   std::span<const std::vector<TensorView>> outputs, int num_devices, CallChecks& checks);

// A layout from outside (Communicator::plan, or a call's): at most limits::kMaxTensors tensors,
// each of 0..limits::kMaxTensorElements elements, all of them at most limits::kMaxTotalBytes,
// checked before any plan is sized by them. InvalidArgument names the tensor and its value.
void validate_layout(std::span<const TensorSpec> layout);

// A device list of distinct ids (any int: ids are labels) and, when `known_ids` is given, each
// one of them. O(K log K) time, O(K) memory.
void validate_devices(std::span<const int> devices, const std::vector<int>* known_ids);

}  // namespace meshreduce::detail
