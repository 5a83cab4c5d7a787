// Worker pinning: a pinned thread may run only on the core it was given.
#include <gtest/gtest.h>
#include <sched.h>

#include <thread>

#include "exec/threads/pinning.h"

namespace meshreduce {
namespace {

int allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return -1;
  return CPU_COUNT(&set);
}

TEST(Pinning, PinnedThreadRunsOnOneCore) {
  const detail::CorePinning pinning;
  if (pinning.cores() == 0) GTEST_SKIP() << "built without hwloc: nothing to pin";
  const int before = allowed_cpus();
  for (int index : {0, pinning.cores() - 1, pinning.cores() + 1}) {
    int cpus_after = 0;
    bool pinned = false;
    std::thread worker([&] {
      pinned = pinning.pin_current_thread(index);
      cpus_after = allowed_cpus();
    });
    worker.join();
    ASSERT_TRUE(pinned) << "core index " << index;
    EXPECT_GE(cpus_after, 1);
    if (pinning.cores() > 1) {
      EXPECT_LT(cpus_after, before) << "core index " << index;
    }
  }
}

TEST(Pinning, NegativeIndexPinsNothing) {
  const detail::CorePinning pinning;
  const int before = allowed_cpus();
  EXPECT_FALSE(pinning.pin_current_thread(-1));
  EXPECT_EQ(allowed_cpus(), before);
}

}  // namespace
}  // namespace meshreduce
