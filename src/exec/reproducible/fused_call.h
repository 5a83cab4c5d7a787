// Internal: a whole reproducible call on the thread executor with the fused kernel.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <vector>

#include "exec/threads/thread_pool.h"
#include "meshreduce/tensor.h"
#include "meshreduce/types.h"

namespace meshreduce::detail::repro {

struct FusedCallOptions {
  std::int64_t piece_elements = std::int64_t{1} << 16;
  std::int64_t inline_bytes = std::int64_t{256} << 10;  // smaller calls run on the caller alone
  std::chrono::nanoseconds timeout = kDefaultTimeout;
  // Non-temporal stores when the call's outputs (all devices) are at least this large; < 0 never.
  std::int64_t stream_min_bytes = std::int64_t{32} << 20;
};

// Every device's output of every tensor (all floating, op sum or average, arguments validated)
// gets the reproducible reduction, computed once per element by one fused pass over the K
// inputs: the direct algorithm with the arithmetic of arithmetic.h. The elements are cut into
// pieces of piece_elements that the pool's threads take in turn. TimeoutError when pieces are
// still untaken after the timeout (outputs then unspecified).
void run_fused_call(ThreadPool& pool, std::span<const std::vector<ConstTensorView>> inputs,
                    std::span<const std::vector<TensorView>> outputs, ReduceOp op, const FusedCallOptions& options);

}  // namespace meshreduce::detail::repro
