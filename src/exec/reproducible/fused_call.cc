// The fused reproducible call: pieces of every tensor handed to the pool's threads through one
// atomic counter. Each piece reads all K inputs of its elements and writes all K outputs, so no
// piece depends on another and no scratch memory is needed.
#include "exec/reproducible/fused_call.h"

#include <algorithm>
#include <atomic>
#include <string>

#include "exec/reproducible/fused_kernel.h"
#include "meshreduce/error.h"

namespace meshreduce::detail::repro {

void run_fused_call(ThreadPool& pool, std::span<const std::vector<ConstTensorView>> inputs,
                    std::span<const std::vector<TensorView>> outputs, ReduceOp op, const FusedCallOptions& options) {
  const std::size_t devices = inputs.size();
  if (devices == 0 || inputs[0].empty()) return;
  const std::size_t tensors = inputs[0].size();
  const std::int64_t piece = std::max<std::int64_t>(1, options.piece_elements);

  // first_piece[n]: the index of tensor n's first piece; the last entry counts them all.
  std::vector<std::int64_t> first_piece(tensors + 1, 0);
  std::int64_t bytes = 0;
  for (std::size_t n = 0; n < tensors; ++n) {
    const std::int64_t count = inputs[0][n].count;
    first_piece[n + 1] = first_piece[n] + (count + piece - 1) / piece;
    bytes += 2 * static_cast<std::int64_t>(devices) * inputs[0][n].bytes();  // read and written
  }
  const std::int64_t pieces = first_piece.back();
  const bool stream = options.stream_min_bytes >= 0 && bytes / 2 >= options.stream_min_bytes;  // outputs: half

  std::vector<const void*> srcs_all(devices * tensors);
  std::vector<void*> dsts_all(devices * tensors);
  for (std::size_t n = 0; n < tensors; ++n)
    for (std::size_t d = 0; d < devices; ++d) {
      srcs_all[n * devices + d] = inputs[d][n].data;
      dsts_all[n * devices + d] = outputs[d][n].data;
    }

  const auto started = std::chrono::steady_clock::now();
  const auto deadline = started + options.timeout;
  std::atomic<std::int64_t> next{0};
  std::atomic<bool> expired{false};
  const auto job = [&](int /*thread*/) {
    // Per-thread pointer lists, offset to the piece: the kernel sees plain element 0.
    std::vector<const void*> srcs(devices);
    std::vector<void*> dsts(devices);
    for (;;) {
      const std::int64_t p = next.fetch_add(1, std::memory_order_relaxed);
      if (p >= pieces) return;
      if (std::chrono::steady_clock::now() > deadline) {
        expired.store(true, std::memory_order_relaxed);
        next.store(pieces, std::memory_order_relaxed);
        return;
      }
      const auto n = static_cast<std::size_t>(std::upper_bound(first_piece.begin(), first_piece.end(), p) -
                                              first_piece.begin() - 1);
      const ConstTensorView& first = inputs[0][n];
      const std::int64_t begin = (p - first_piece[n]) * piece;
      const std::int64_t count = std::min(piece, first.count - begin);
      const auto offset = static_cast<std::size_t>(begin) * dtype_size(first.dtype);
      for (std::size_t d = 0; d < devices; ++d) {
        srcs[d] = static_cast<const std::byte*>(srcs_all[n * devices + d]) + offset;
        dsts[d] = static_cast<std::byte*>(dsts_all[n * devices + d]) + offset;
      }
      run_fused({first.dtype, op == ReduceOp::average, count, srcs, dsts, stream});
    }
  };
  if (bytes < options.inline_bytes || pool.size() == 1 || pieces == 1)
    job(0);
  else
    pool.help(job, deadline + options.timeout);  // pieces never wait: the second timeout is slack
  if (expired.load())
    throw TimeoutError("reproducible allreduce of " + std::to_string(tensors) + " tensors on " +
                       std::to_string(devices) + " devices passed its timeout of " +
                       std::to_string(options.timeout.count()) + " ns with pieces left untaken");
}

}  // namespace meshreduce::detail::repro
