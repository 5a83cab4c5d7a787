#include "exec/threads/thread_pool.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "exec/threads/spin.h"

// Workers wait this many spin_wait rounds after a job before parking: a training loop calls
// again within microseconds, and a parked worker costs a futex wake-up per call.
namespace {
constexpr int kSpinsBeforeParking = 1000;
}  // namespace

namespace meshreduce::detail {

ThreadPool::ThreadPool(int threads, bool pin_workers)
    : pinning_(pin_workers ? std::make_unique<CorePinning>() : nullptr) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { work(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

void ThreadPool::run(const std::function<void(int)>& job, std::chrono::nanoseconds timeout) {
  dispatch(job, true, std::chrono::steady_clock::now() + timeout);
}

void ThreadPool::help(const std::function<void(int)>& job, std::chrono::steady_clock::time_point deadline) {
  dispatch(job, false, deadline);
}

void ThreadPool::dispatch(const std::function<void(int)>& job, bool everyone,
                          std::chrono::steady_clock::time_point deadline) {
  {
    std::lock_guard lock(mutex_);
    job_ = &job;
    pending_ = everyone ? static_cast<int>(workers_.size()) : 0;
    ++generation_;
  }
  wake_.notify_all();
  job(0);
  std::unique_lock lock(mutex_);
  bool finished = false;
  if (everyone) {
    finished = done_.wait_until(lock, deadline, [this] { return pending_ == 0 && inside_ == 0; });
  } else {
    job_ = nullptr;  // workers that wake from now on skip this job
    finished = done_.wait_until(lock, deadline, [this] { return inside_ == 0; });
  }
  if (!finished) {
    // See help(): no safe way back to the caller remains.
    const std::string report = "meshreduce: fatal: " + std::to_string(inside_) + " of " +
                               std::to_string(workers_.size()) +
                               " worker threads are still inside a job past its deadline; they may still write the "
                               "caller's buffers, so the process stops here\n";
    std::fputs(report.c_str(), stderr);
    std::abort();
  }
  job_ = nullptr;
}

void ThreadPool::work(int index) {
  if (pinning_) pinning_->pin_current_thread(index);
  std::uint64_t seen = 0;
  for (;;) {
    for (int spin = 0; spin < kSpinsBeforeParking && generation_.load(std::memory_order_acquire) == seen &&
                       !stopping_.load(std::memory_order_acquire);
         ++spin)
      spin_wait(spin);
    const std::function<void(int)>* job = nullptr;
    {
      std::unique_lock lock(mutex_);
      // The one wait without a deadline: an idle worker waits for work or shutdown, not for a
      // result; every wait for a result (dispatch, the executor's) has one.
      wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
      job = job_;
      if (job == nullptr) continue;  // a help() job that ended before this worker woke
      ++inside_;
    }
    (*job)(index);
    {
      std::lock_guard lock(mutex_);
      --inside_;
      if (pending_ > 0) --pending_;
    }
    done_.notify_one();
  }
}

}  // namespace meshreduce::detail
