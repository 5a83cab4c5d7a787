// Internal: the thread executor's test seam. A call runs `before_piece` (when set) on the thread
// that is about to run each piece; the hook may throw (a worker that raises mid-call) or block
// (a worker that stalls). Per execution, never global; absent, it costs one untaken branch per
// piece.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>

namespace meshreduce::detail {

struct PieceEvent {
  int worker = 0;          // 0 is the calling thread
  int step = 0;            // program step
  std::size_t piece = 0;   // program piece
  int device = 0;          // the device the piece writes
  std::uint64_t call = 0;  // calls of this execution so far, this one included
  // A blocking hook should return once the call is cancelled (another thread gave up on it) or
  // its deadline has passed, as a stalled worker that finally gets its core back would.
  const std::atomic<bool>* cancelled = nullptr;
  std::chrono::steady_clock::time_point deadline;
};

struct ExecutionHooks {
  std::function<void(const PieceEvent&)> before_piece;
};

}  // namespace meshreduce::detail
