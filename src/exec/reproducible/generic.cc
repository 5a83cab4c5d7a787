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
                       const RunAllreduce& run) {
  const std::size_t local = inputs.size();
  const std::size_t tensors = local == 0 ? 0 : inputs[0].size();
  const int bits = magnitude_bits(total_devices);

  // Pass 1: the maximum code per element. Sizes are validated: K * bytes * 2 < 2^61, so no
  // count below overflows; running out of memory is std::bad_alloc, typed by the caller.
  std::vector<std::vector<std::vector<std::int32_t>>> codes(local, std::vector<std::vector<std::int32_t>>(tensors));
  std::vector<std::vector<TensorView>> code_views(local);
  for (std::size_t d = 0; d < local; ++d)
    for (std::size_t n = 0; n < tensors; ++n) {
      const ConstTensorView& in = inputs[d][n];
      auto& mine = codes[d][n];
      mine.resize(static_cast<std::size_t>(in.count));
      for (std::int64_t i = 0; i < in.count; ++i) mine[static_cast<std::size_t>(i)] = code_of(in.dtype, in.data, i);
      code_views[d].emplace_back(mine.data(), in.count, DType::i32);
    }
  {
    std::vector<std::vector<ConstTensorView>> code_inputs(local);
    for (std::size_t d = 0; d < local; ++d) code_inputs[d].assign(code_views[d].begin(), code_views[d].end());
    run(code_inputs, code_views, ReduceOp::max);
  }

  // Pass 2: the exact sum of the quantized values (f64: hi in [0, count), lo in [count, 2 count)).
  std::vector<std::vector<std::vector<double>>> sums(local, std::vector<std::vector<double>>(tensors));
  std::vector<std::vector<TensorView>> sum_views(local);
  for (std::size_t d = 0; d < local; ++d)
    for (std::size_t n = 0; n < tensors; ++n) {
      const ConstTensorView& in = inputs[d][n];
      const auto count = static_cast<std::size_t>(in.count);
      auto& mine = sums[d][n];
      mine.resize(count * static_cast<std::size_t>(levels(in.dtype)));
      for (std::size_t i = 0; i < count; ++i) {
        const int s = scale_exponent(in.dtype, codes[d][n][i], bits);
        if (in.dtype == DType::f64)
          quantize(static_cast<const double*>(in.data)[i], s, bits, mine[i], mine[count + i]);
        else
          mine[i] = quantize(widen(in.dtype, in.data, static_cast<std::int64_t>(i)), s);
      }
      sum_views[d].emplace_back(mine.data(), static_cast<std::int64_t>(mine.size()), DType::f64);
    }
  {
    std::vector<std::vector<ConstTensorView>> sum_inputs(local);
    for (std::size_t d = 0; d < local; ++d) sum_inputs[d].assign(sum_views[d].begin(), sum_views[d].end());
    run(sum_inputs, sum_views, ReduceOp::sum);
  }

  // Each device rounds its own copy of the exact sums: the same bits everywhere.
  const bool average = op == ReduceOp::average;
  for (std::size_t d = 0; d < local; ++d)
    for (std::size_t n = 0; n < tensors; ++n) {
      const TensorView& out = outputs[d][n];
      const auto count = static_cast<std::size_t>(out.count);
      const auto& sum = sums[d][n];
      for (std::size_t i = 0; i < count; ++i) {
        const int s = scale_exponent(out.dtype, codes[d][n][i], bits);
        const double value = out.dtype == DType::f64 ? value_of(sum[i], sum[count + i], s, bits) : value_of(sum[i], s);
        store_result(out.dtype, finish(value, average, total_devices), out.data, static_cast<std::int64_t>(i));
      }
    }
}

void allreduce(std::span<const std::vector<ConstTensorView>> inputs, std::span<const std::vector<TensorView>> outputs,
               ReduceOp op, int total_devices, const RunAllreduce& run) {
  const Split split = split_tensors(inputs, op);
  if (split.reproducible.empty()) return run(inputs, outputs, op);
  if (!split.plain.empty()) run(select(inputs, split.plain), select(outputs, split.plain), op);
  generic_allreduce(select(inputs, split.reproducible), select(outputs, split.reproducible), op, total_devices, run);
}

}  // namespace meshreduce::detail::repro
