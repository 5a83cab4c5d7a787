// Internal: a fixed set of worker threads that all run one job together with the caller.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "exec/threads/pinning.h"

namespace meshreduce::detail {

// How long a call may wait for its workers unless told otherwise (CommunicatorOptions::timeout).
inline constexpr std::chrono::nanoseconds kDefaultTimeout = std::chrono::minutes(5);

class ThreadPool {
 public:
  // `threads` counts the caller: threads - 1 workers are started. 0 means the hardware threads.
  // With `pin_workers`, worker i is bound to core i (modulo the cores); the caller's thread is
  // left as it is, since it belongs to the application.
  explicit ThreadPool(int threads, bool pin_workers = false);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const noexcept { return static_cast<int>(workers_.size()) + 1; }
  // Runs job(i) for i in 0..size()-1, i = 0 on the calling thread; returns when all returned.
  // Jobs must not throw.
  void run(const std::function<void(int)>& job, std::chrono::nanoseconds timeout = kDefaultTimeout);
  // Work sharing: job(0) on the calling thread, and job(i) on each worker i that wakes before
  // job(0) returns; returns when job(0) and every job(i) that started have returned. For jobs
  // whose caller part alone finishes all the work (the executor's): a worker whose core another
  // process holds then costs nothing instead of a wake-up the call must wait for.
  //
  // The wait for the workers ends at `deadline`. A worker still inside the job then may still
  // write memory the caller is about to free or reuse, and the job's own state lives on the
  // caller's stack, so returning or throwing would be unsafe: the pool reports which workers
  // are still inside and aborts the process. Jobs that can stall bound themselves first (the
  // executor cancels its call at its own timeout and passes a deadline one timeout later).
  void help(const std::function<void(int)>& job,
            std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::now() + kDefaultTimeout);

 private:
  void work(int index);
  void dispatch(const std::function<void(int)>& job, bool everyone, std::chrono::steady_clock::time_point deadline);

  std::unique_ptr<CorePinning> pinning_;  // only when pinning: detection takes milliseconds
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(int)>* job_ = nullptr;  // null once a help() job is closed
  std::atomic<std::uint64_t> generation_{0};  // written under mutex_, read by spinning workers
  int pending_ = 0;  // run(): workers that have not finished the job yet
  int inside_ = 0;   // workers inside the current job
  std::atomic<bool> stopping_{false};
};

}  // namespace meshreduce::detail
