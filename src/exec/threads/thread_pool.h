// Internal: a fixed set of worker threads that all run one job together with the caller.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "exec/threads/pinning.h"

namespace meshreduce::detail {

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
  void run(const std::function<void(int)>& job);

 private:
  void work(int index);

  std::unique_ptr<CorePinning> pinning_;  // only when pinning: detection takes milliseconds
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(int)>* job_ = nullptr;
  std::atomic<std::uint64_t> generation_{0};  // written under mutex_, read by spinning workers
  int running_ = 0;
  std::atomic<bool> stopping_{false};
};

}  // namespace meshreduce::detail
