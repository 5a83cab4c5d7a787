#include "exec/threads/thread_pool.h"

#include <algorithm>

// Workers spin this many pauses after a job before parking: a training loop calls again within
// microseconds, and a parked worker costs a futex wake-up per call.
namespace {
constexpr int kSpinsBeforeParking = 4000;
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}
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

void ThreadPool::run(const std::function<void(int)>& job) {
  {
    std::lock_guard lock(mutex_);
    job_ = &job;
    running_ = static_cast<int>(workers_.size());
    ++generation_;
  }
  wake_.notify_all();
  job(0);
  std::unique_lock lock(mutex_);
  done_.wait(lock, [this] { return running_ == 0; });
  job_ = nullptr;
}

void ThreadPool::work(int index) {
  if (pinning_) pinning_->pin_current_thread(index);
  std::uint64_t seen = 0;
  for (;;) {
    for (int spin = 0; spin < kSpinsBeforeParking && generation_.load(std::memory_order_acquire) == seen &&
                       !stopping_.load(std::memory_order_acquire);
         ++spin)
      cpu_relax();
    const std::function<void(int)>* job = nullptr;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
      job = job_;
    }
    (*job)(index);
    {
      std::lock_guard lock(mutex_);
      --running_;
    }
    done_.notify_one();
  }
}

}  // namespace meshreduce::detail
