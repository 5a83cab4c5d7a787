// Internal: reproducible mode over any schedule, for any executor (docs/reproducible.md).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "meshreduce/tensor.h"
#include "meshreduce/types.h"

namespace meshreduce::detail::repro {

// The executor's own allreduce over this process's devices (out of place, or in place where an
// output is its input), run with the same schedule options as the call.
using RunAllreduce = std::function<void(std::span<const std::vector<ConstTensorView>>,
                                        std::span<const std::vector<TensorView>>, ReduceOp)>;

// True when reproducible mode changes what a tensor's reduction computes: floating types under
// sum and average. Integer arithmetic and min/max are already exact in any order.
bool changes(DType dtype, ReduceOp op) noexcept;

// The tensors of a call (by index) that reproducible mode computes, and the others.
struct Split {
  std::vector<std::size_t> reproducible;
  std::vector<std::size_t> plain;
};
Split split_tensors(std::span<const std::vector<ConstTensorView>> inputs, ReduceOp op);

// The tensors `which` of every device.
std::vector<std::vector<ConstTensorView>> select(std::span<const std::vector<ConstTensorView>> lists,
                                                 std::span<const std::size_t> which);
std::vector<std::vector<TensorView>> select(std::span<const std::vector<TensorView>> lists,
                                            std::span<const std::size_t> which);

// The generic path's buffers, kept between calls so that a call of a size seen before neither
// allocates nor touches fresh pages. One call at a time per Scratch.
struct Scratch {
  std::vector<std::vector<std::int32_t>> codes;  // per device and tensor
  std::vector<std::vector<double>> sums;
};

// Two allreduces through `run` (arguments already validated): max over the per-element exponent
// codes, then sum over the quantized values in f64 (exact in every order, so partial sums may
// travel through any schedule); then each device rounds its own copy. `total_devices` is K over
// all processes. Only the tensors split_tensors() calls reproducible are passed here.
void generic_allreduce(std::span<const std::vector<ConstTensorView>> inputs,
                       std::span<const std::vector<TensorView>> outputs, ReduceOp op, int total_devices,
                       const RunAllreduce& run, Scratch& scratch);

// A whole call: plain tensors through `run`, the others through generic_allreduce.
void allreduce(std::span<const std::vector<ConstTensorView>> inputs, std::span<const std::vector<TensorView>> outputs,
               ReduceOp op, int total_devices, const RunAllreduce& run, Scratch& scratch);

}  // namespace meshreduce::detail::repro
