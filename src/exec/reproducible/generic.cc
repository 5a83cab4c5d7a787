// Reproducible mode over any schedule: the agreed exponent is an allreduce(max) of int32 codes,
// and the exact sum an allreduce(sum) of integer-valued doubles, each run by the executor's own
// schedule (threads or processes, any algorithm). Both reductions are exact in every order and
// grouping, so the result depends on the multiset of inputs alone.
//
// Costs per element and device, f32: codes (4 bytes) and quantized values (8 bytes) are written,
// reduced and read back; the data itself is read twice and the output written once. Against the
// default reduction of 4 bytes that is about 3x the bytes through the schedule (5x for f64,
// which carries two doubles; 6x for f16/bf16). The thread communicator's fused kernel
// (fused_kernel.h) avoids all of it when one step reads every input (the direct algorithm).
#include "exec/reproducible/generic.h"

#include <cstdint>

#include "exec/reproducible/arithmetic.h"
#include "exec/reproducible/transforms.h"

namespace meshreduce::detail::repro {

bool changes(DType dtype, ReduceOp op) noexcept {
  return is_floating(dtype) && (op == ReduceOp::sum || op == ReduceOp::average);
}

Split split_tensors(std::span<const std::vector<ConstTensorView>> inputs, ReduceOp op) {
  Split split;
  if (inputs.empty()) return split;
  for (std::size_t n = 0; n < inputs[0].size(); ++n)
    (changes(inputs[0][n].dtype, op) ? split.reproducible : split.plain).push_back(n);
  return split;
}

namespace {

template <typename View>
std::vector<std::vector<View>> select_views(std::span<const std::vector<View>> lists,
                                            std::span<const std::size_t> which) {
  std::vector<std::vector<View>> selected(lists.size());
  for (std::size_t d = 0; d < lists.size(); ++d)
    for (std::size_t n : which) selected[d].push_back(lists[d][n]);
  return selected;
}

}  // namespace

std::vector<std::vector<ConstTensorView>> select(std::span<const std::vector<ConstTensorView>> lists,
                                                 std::span<const std::size_t> which) {
  return select_views(lists, which);
}

std::vector<std::vector<TensorView>> select(std::span<const std::vector<TensorView>> lists,
                                            std::span<const std::size_t> which) {
  return select_views(lists, which);
}

void generic_allreduce(std::span<const std::vector<ConstTensorView>> inputs,
                       std::span<const std::vector<TensorView>> outputs, ReduceOp op, int total_devices,
                       const RunAllreduce& run, Scratch& scratch) {
  const std::size_t local = inputs.size();
  const std::size_t tensors = local == 0 ? 0 : inputs[0].size();
  const int bits = magnitude_bits(total_devices);
  // Sizes are validated: K * bytes * 2 < 2^61, so no count below overflows; running out of
  // memory is std::bad_alloc, typed by the caller. Buffers only grow.
  if (scratch.codes.size() < local * tensors) scratch.codes.resize(local * tensors);
  if (scratch.sums.size() < local * tensors) scratch.sums.resize(local * tensors);
  const auto slot = [&](std::size_t d, std::size_t n) { return d * tensors + n; };

  // Pass 1: the maximum code per element, through the schedule with op max.
  std::vector<std::vector<ConstTensorView>> reads(local);
  std::vector<std::vector<TensorView>> writes(local);
  for (std::size_t d = 0; d < local; ++d)
    for (std::size_t n = 0; n < tensors; ++n) {
      const ConstTensorView& in = inputs[d][n];
      auto& codes = scratch.codes[slot(d, n)];
      if (codes.size() < static_cast<std::size_t>(in.count)) codes.resize(static_cast<std::size_t>(in.count));
      compute_codes(in.dtype, in.data, in.count, codes.data());
      writes[d].emplace_back(codes.data(), in.count, DType::i32);
      reads[d].emplace_back(writes[d].back());
    }
  run(reads, writes, ReduceOp::max);

  // Pass 2: the exact sum of the quantized values, through the schedule with op sum (f64: hi
  // in [0, count), lo in [count, 2 count)).
  for (std::size_t d = 0; d < local; ++d) {
    reads[d].clear();
    writes[d].clear();
    for (std::size_t n = 0; n < tensors; ++n) {
      const ConstTensorView& in = inputs[d][n];
      const std::int64_t values = in.count * levels(in.dtype);
      auto& sums = scratch.sums[slot(d, n)];
      if (sums.size() < static_cast<std::size_t>(values)) sums.resize(static_cast<std::size_t>(values));
      quantize_all(in.dtype, in.data, scratch.codes[slot(d, n)].data(), in.count, bits, sums.data());
      writes[d].emplace_back(sums.data(), values, DType::f64);
      reads[d].emplace_back(writes[d].back());
    }
  }
  run(reads, writes, ReduceOp::sum);

  // Each device rounds its own copy of the exact sums: the same bits everywhere.
  for (std::size_t d = 0; d < local; ++d)
    for (std::size_t n = 0; n < tensors; ++n) {
      const TensorView& out = outputs[d][n];
      round_all(out.dtype, scratch.sums[slot(d, n)].data(), scratch.codes[slot(d, n)].data(), out.count, bits,
                op == ReduceOp::average, total_devices, out.data);
    }
}

void allreduce(std::span<const std::vector<ConstTensorView>> inputs, std::span<const std::vector<TensorView>> outputs,
               ReduceOp op, int total_devices, const RunAllreduce& run, Scratch& scratch) {
  const Split split = split_tensors(inputs, op);
  if (split.reproducible.empty()) return run(inputs, outputs, op);
  if (!split.plain.empty()) run(select(inputs, split.plain), select(outputs, split.plain), op);
  generic_allreduce(select(inputs, split.reproducible), select(outputs, split.reproducible), op, total_devices, run,
                    scratch);
}

}  // namespace meshreduce::detail::repro
