// The worker pool: run() runs every index once; help() runs the caller's index and waits for
// every worker that joined, and no worker joins a job that has ended.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
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

// A job that the caller finishes alone does not wait for workers to wake: across many calls of
// a caller-only job, some workers skip it, and the next run() still reaches every index.
TEST(ThreadPool, HelpJobsAndRunJobsInterleave) {
  detail::ThreadPool pool(3);
  for (int call = 0; call < 100; ++call) {
    std::atomic<int> joined{0};
    pool.help([&](int index) { joined.fetch_add(index == 0 ? 0 : 1); });
    EXPECT_LE(joined.load(), 2);
    std::atomic<int> all{0};
    pool.run([&](int) { all.fetch_add(1); });
    EXPECT_EQ(all.load(), 3);
  }
}

}  // namespace
}  // namespace meshreduce
