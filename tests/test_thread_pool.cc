// The worker pool: run() runs every index once; help() runs the caller's index and waits for
// every worker that joined, and no worker joins a job that has ended.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>
#include <vector>

#include "exec/threads/thread_pool.h"

namespace meshreduce {
namespace {

TEST(ThreadPool, RunRunsEveryIndexOnce) {
  for (int threads : {1, 2, 5}) {
    detail::ThreadPool pool(threads);
    for (int call = 0; call < 20; ++call) {
      std::vector<std::atomic<int>> runs(static_cast<std::size_t>(threads));
      pool.run([&](int index) { runs[static_cast<std::size_t>(index)].fetch_add(1); });
      for (int i = 0; i < threads; ++i) EXPECT_EQ(runs[static_cast<std::size_t>(i)].load(), 1) << "index " << i;
    }
  }
}

TEST(ThreadPool, HelpWaitsForEveryWorkerThatJoined) {
  detail::ThreadPool pool(4);
  for (int call = 0; call < 50; ++call) {
    std::atomic<int> entered{0};
    std::atomic<int> left{0};
    std::vector<std::atomic<int>> runs(4);
    pool.help([&](int index) {
      entered.fetch_add(1);
      runs[static_cast<std::size_t>(index)].fetch_add(1);
      if (index != 0) std::this_thread::sleep_for(std::chrono::microseconds(200));  // joined late work
      left.fetch_add(1);
    });
    EXPECT_EQ(entered.load(), left.load()) << "help() returned while a worker was inside the job";
    EXPECT_EQ(runs[0].load(), 1);
    for (auto& count : runs) EXPECT_LE(count.load(), 1);
  }
}

// help(): index 0 runs on the calling thread and every other index on a worker; no index runs
// twice; and no worker enters a job once help() has returned. The job object here outlives every
// call, so a late entry is observed (not undefined behaviour); a pause after each help() gives a
// worker that missed the job time to wake, and the run() after it makes every worker finish
// whatever it was doing before the next round. Between them, run() still
// reaches every index.
TEST(ThreadPool, HelpRunsIndexZeroOnTheCallerAndNothingAfterItReturns) {
  constexpr int kThreads = 3;
  detail::ThreadPool pool(kThreads);
  const std::thread::id caller = std::this_thread::get_id();
  std::atomic<bool> open{false};
  std::atomic<int> late{0};
  std::atomic<int> misplaced{0};  // index 0 off the caller, or another index on it
  std::vector<std::atomic<int>> runs(kThreads);
  const std::function<void(int)> job = [&](int index) {
    if (!open.load()) late.fetch_add(1);
    if ((index == 0) != (std::this_thread::get_id() == caller)) misplaced.fetch_add(1);
    if (index >= 0 && index < kThreads) runs[static_cast<std::size_t>(index)].fetch_add(1);
  };
  for (int call = 0; call < 200; ++call) {
    for (auto& count : runs) count.store(0);
    open.store(true);
    pool.help(job);
    open.store(false);
    std::this_thread::sleep_for(std::chrono::microseconds(50));  // time for a worker to wake late
    EXPECT_EQ(runs[0].load(), 1) << "call " << call;
    for (int i = 1; i < kThreads; ++i) EXPECT_LE(runs[static_cast<std::size_t>(i)].load(), 1) << "call " << call;
    std::atomic<int> all{0};
    pool.run([&](int) { all.fetch_add(1); });
    EXPECT_EQ(all.load(), kThreads);
  }
  EXPECT_EQ(late.load(), 0) << "workers entered a help() job after it returned";
  EXPECT_EQ(misplaced.load(), 0) << "index 0 ran off the calling thread, or another index on it";
}

}  // namespace
}  // namespace meshreduce
