// Internal: runs a lowered Program on threads in one process; each device is a memory space.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "exec/threads/thread_pool.h"
#include "meshreduce/tensor.h"
#include "plan/program.h"

namespace meshreduce::detail {

// The memory of one call: per device, the base address of every input and output tensor.
struct CallBuffers {
  std::span<const std::vector<ConstTensorView>> inputs;
  std::span<const std::vector<TensorView>> outputs;
};

// Everything a Program needs between calls: its scratch memory (allocated and touched once, so
// calls never pay page faults) and the dependency counters, sized once.
class ThreadExecution {
 public:
  explicit ThreadExecution(const Program& program);
  // Runs the program on `pool`; honours every dependency. One call at a time.
  void run(ThreadPool& pool, const CallBuffers& buffers);

 private:
  void worker(const CallBuffers& buffers);
  void finish_piece(int piece);
  // Queue a step's pieces, or, when it has none, add it to `completed`. Caller holds mutex_.
  void make_ready(int step, std::vector<int>& completed);
  // Count `completed` steps as done and release their dependents. Caller holds mutex_.
  void complete_steps(std::vector<int>& completed);
  std::byte* address(const CallBuffers& buffers, const PhysicalRef& ref, std::size_t element) const;

  const Program& program_;
  std::vector<std::unique_ptr<std::byte[]>> scratch_;
  std::unique_ptr<std::atomic<int>[]> deps_left_;
  std::unique_ptr<std::atomic<int>[]> pieces_left_;
  std::vector<int> queue_;  // each piece is queued exactly once per call: a fixed-size FIFO
  std::size_t head_ = 0;
  std::size_t tail_ = 0;
  std::size_t steps_done_ = 0;
  std::mutex mutex_;
  std::condition_variable ready_;
};

}  // namespace meshreduce::detail
