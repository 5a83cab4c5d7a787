// Internal: runs a lowered Program on threads in one process; each device is a memory space.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "exec/threads/faults.h"
#include "exec/threads/thread_pool.h"
#include "meshreduce/tensor.h"
#include "plan/program.h"

namespace meshreduce::detail {

// The memory of one call: per device, the base address of every input and output tensor.
struct CallBuffers {
  std::span<const std::vector<ConstTensorView>> inputs;
  std::span<const std::vector<TensorView>> outputs;
};

// How long a call may take, and the test seam (faults.h; null in production).
struct ExecutionControl {
  std::chrono::nanoseconds timeout = kDefaultTimeout;
  const ExecutionHooks* hooks = nullptr;
};

// Everything a Program needs between calls, sized once so that a call allocates nothing: its
// scratch memory (allocated and touched once, so calls never pay page faults), dependency
// counters, the ready queue and each worker's pointer lists.
class ThreadExecution {
 public:
  // Programs that move fewer than `inline_bytes` bytes run on the calling thread alone.
  ThreadExecution(const Program& program, int threads, std::int64_t inline_bytes = kInlineBytes);
  // Runs the program, honouring every dependency. One call at a time. Small programs run on
  // the calling thread alone: waking workers would cost more than the work.
  // A piece that raises ends the call with ExecutionError (OutOfMemory for std::bad_alloc); a
  // call still unfinished after control.timeout ends with TimeoutError naming the pieces in
  // progress. Either way every worker has left the call when run() throws, and the next call
  // starts afresh. A worker that stays inside one piece for a further timeout (at least 30 s)
  // after the call was cancelled would still write the caller's buffers: the process aborts
  // then (ThreadPool::help), since returning would be unsafe.
  void run(ThreadPool& pool, const CallBuffers& buffers, const ExecutionControl& control = {});

  // The default inline limit: one thread moves 256 KiB
  // in about 8 us here (30 GB/s), as long as waking a worker costs at best (about 4 us,
  // `meshreduce calibrate`) plus its share of the work, and waking costs far more when another
  // process holds the worker's core.
  static constexpr std::int64_t kInlineBytes = std::int64_t{256} << 10;

 private:
  void worker(int index, const CallBuffers& buffers);
  bool take(std::size_t& piece);  // false when every step is done or the call failed
  void run_piece(int index, std::size_t piece, const CallBuffers& buffers);
  void finish_piece(std::size_t piece);
  // Queue the pieces of newly ready steps; steps without pieces complete at once. Holds produce_.
  void release(int step);
  std::byte* address(const CallBuffers& buffers, const PhysicalRef& ref, std::size_t element) const;
  // The first failure of a call wins; it cancels the call and wakes every parked worker.
  void fail(std::exception_ptr error);
  void run_hook(int index, std::size_t piece);
  std::string describe_piece(std::size_t piece) const;
  std::string timeout_report() const;

  // One per worker, on its own cache line: the piece it is running (-1: none), for reports.
  struct alignas(64) InFlight {
    std::atomic<std::int64_t> piece{-1};
  };

  const Program& program_;
  std::int64_t inline_bytes_;
  std::int64_t bytes_moved_ = 0;
  std::vector<std::unique_ptr<std::byte[]>> scratch_;
  std::unique_ptr<std::atomic<int>[]> deps_left_;
  std::unique_ptr<std::atomic<int>[]> pieces_left_;
  std::vector<std::vector<const void*>> sources_;       // per worker
  std::vector<std::vector<void*>> destinations_;        // per worker
  std::vector<int> pending_;                            // steps completing, under produce_
  std::vector<std::size_t> queue_;  // each piece is queued exactly once per call: fixed-size FIFO
  std::atomic<std::size_t> head_{0};
  std::atomic<std::size_t> tail_{0};
  std::atomic<std::size_t> steps_done_{0};
  std::atomic<int> sleepers_{0};
  std::mutex produce_;
  std::mutex park_;
  std::condition_variable wake_;
  std::unique_ptr<InFlight[]> in_flight_;
  std::atomic<bool> cancelled_{false};
  std::mutex failure_mutex_;
  std::exception_ptr failure_;  // under failure_mutex_
  const ExecutionHooks* hooks_ = nullptr;  // for the current call
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point deadline_;
  std::chrono::nanoseconds timeout_{};
  std::uint64_t calls_ = 0;
};

}  // namespace meshreduce::detail
