// The CPUs the process bench probes on (probe_cpus.h): the union of the ranks' CPU sets, and a
// scope in which this thread, and the threads it starts, run on a given set.
#include "probe_cpus.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "meshreduce/error.h"

namespace meshreduce::cli {
namespace {

std::vector<int> cpus_of(const cpu_set_t& set) {
  std::vector<int> cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  return cpus;
}

TEST(ProbeCpus, TheUnionHoldsEveryRanksCpusAndOnlyThose) {
  // Two ranks bound to one core each, as Open MPI binds np 2; a rank of another host sends "".
  const cpu_set_t set = union_of_cpus(std::vector<std::string>{"0", "", "3,5", "5,7"});
  EXPECT_EQ(cpus_of(set), (std::vector<int>{0, 3, 5, 7}));
  EXPECT_EQ(cpu_count(set), 4);
  EXPECT_EQ(cpu_count(union_of_cpus(std::vector<std::string>{})), 0);
  EXPECT_EQ(cpus_of(union_of_cpus(std::vector<std::string>{std::to_string(CPU_SETSIZE - 1)})),
            std::vector<int>{CPU_SETSIZE - 1});
}

TEST(ProbeCpus, ThisThreadsListReadsBackAsItsSet) {
  const std::string mine = allowed_cpus();
  ASSERT_FALSE(mine.empty());
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
  EXPECT_EQ(cpus_of(union_of_cpus(std::vector<std::string>{mine})), cpus_of(set));
}

TEST(ProbeCpus, ListsThatAreNotCpuNumbersNameTheRank) {
  for (const char* bad : {"x", "1,,2", "-1", "+1", " 1", "1.5", "2 ", "99999999999999999999", ",", "0,1,"}) {
    try {
      union_of_cpus(std::vector<std::string>{"0", bad});
      ADD_FAILURE() << "expected InvalidArgument for '" << bad << "'";
    } catch (const InvalidArgument& error) {
      EXPECT_NE(std::string(error.what()).find("rank 1 sent a CPU list"), std::string::npos) << error.what();
    }
  }
  try {
    union_of_cpus(std::vector<std::string>{std::to_string(CPU_SETSIZE)});
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& error) {
    EXPECT_EQ(std::string(error.what()), "rank 0 sent a CPU list with '" + std::to_string(CPU_SETSIZE) +
                                             "', not a CPU number from 0 to " + std::to_string(CPU_SETSIZE - 1));
  }
}

TEST(ProbeCpus, ThreadsStartedInTheScopeRunOnItsCpusAndTheCallerGetsItsOwnBack) {
  const std::string own = allowed_cpus();
  const cpu_set_t mine = union_of_cpus(std::vector<std::string>{own});
  const int first = cpus_of(mine).front();
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  {
    const RunOnCpus scope(one);
    EXPECT_EQ(allowed_cpus(), std::to_string(first));
    std::string started;
    std::thread([&] { started = allowed_cpus(); }).join();
    EXPECT_EQ(started, std::to_string(first));
    {
      const RunOnCpus back(mine);  // widened again, as the probe widens a rank bound to one core
      std::string widened;
      std::thread([&] { widened = allowed_cpus(); }).join();
      EXPECT_EQ(widened, own);
    }
    EXPECT_EQ(allowed_cpus(), std::to_string(first));
  }
  EXPECT_EQ(allowed_cpus(), own);
}

TEST(ProbeCpus, AnEmptySetIsRefusedAndChangesNothing) {
  const std::string own = allowed_cpus();
  cpu_set_t none;
  CPU_ZERO(&none);
  EXPECT_THROW(RunOnCpus{none}, Error);
  EXPECT_EQ(allowed_cpus(), own);
}

}  // namespace
}  // namespace meshreduce::cli
