// Worker pinning: a pinned thread may run only on the core it was given.
#include <gtest/gtest.h>
#include <sched.h>

#include <thread>
#include <vector>

#include "exec/threads/pinning.h"

namespace meshreduce {
namespace {

int allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return -1;
  return CPU_COUNT(&set);
}

// The CPUs a new thread may run on after pinning itself to core `index`; `pinned` says whether
// pin_current_thread() reported success.
cpu_set_t cpus_after_pinning(const detail::CorePinning& pinning, int index, bool& pinned) {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::thread worker([&] {
    pinned = pinning.pin_current_thread(index);
    if (sched_getaffinity(0, sizeof set, &set) != 0) CPU_ZERO(&set);
  });
  worker.join();
  return set;
}

// A pinned thread may run on the CPUs of one core only: fewer than before (with several cores),
// at least one, the same for index i and i + cores() (indices wrap), and none shared between
// two different cores.
TEST(Pinning, PinnedThreadRunsOnOneCore) {
  const detail::CorePinning pinning;
  if (pinning.cores() == 0) GTEST_SKIP() << "built without hwloc: nothing to pin";
  const int before = allowed_cpus();
  const int cores = pinning.cores();
  std::vector<cpu_set_t> sets;
  for (int index : {0, cores - 1, cores, cores + 1}) {
    bool pinned = false;
    sets.push_back(cpus_after_pinning(pinning, index, pinned));
    ASSERT_TRUE(pinned) << "core index " << index;
    EXPECT_GE(CPU_COUNT(&sets.back()), 1) << "core index " << index;
    if (cores > 1) {
      EXPECT_LT(CPU_COUNT(&sets.back()), before) << "core index " << index;
    }
  }
  EXPECT_TRUE(CPU_EQUAL(&sets[0], &sets[2])) << "index 0 and index cores() are different cores";
  if (cores > 1) {
    cpu_set_t common;
    CPU_AND(&common, &sets[0], &sets[3]);
    EXPECT_EQ(CPU_COUNT(&common), 0) << "cores 0 and 1 share a CPU";
    CPU_AND(&common, &sets[0], &sets[1]);
    EXPECT_EQ(CPU_COUNT(&common), 0) << "cores 0 and " << cores - 1 << " share a CPU";
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
