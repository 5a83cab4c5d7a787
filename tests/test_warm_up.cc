// How bench warms a row up before timing it (warm_up.h): more calls while they still get faster.
#include <gtest/gtest.h>

#include <cstddef>
#include <vector>

#include "warm_up.h"

namespace meshreduce::cli {
namespace {

TEST(WarmUp, ABlockIsStillFasterOnlyBeyondTheMarginByItsMedian) {
  const std::vector<double> before{10, 10, 10, 10, 10};
  EXPECT_TRUE(still_getting_faster(before, std::vector<double>{9, 9, 9, 9, 9}));
  EXPECT_FALSE(still_getting_faster(before, std::vector<double>{9.8, 9.8, 9.8, 9.8, 9.8}));  // within 3%
  EXPECT_FALSE(still_getting_faster(before, std::vector<double>{11, 11, 11, 11, 11}));
  // One fast call does not make a block faster, nor one slow call a block slower.
  EXPECT_FALSE(still_getting_faster(before, std::vector<double>{1, 10, 10, 10, 10}));
  EXPECT_TRUE(still_getting_faster(before, std::vector<double>{50, 8, 8, 8, 8}));
}

// Calls whose time falls as their buffers warm up, then stays: settle goes on until a block is no
// faster than the one before.
TEST(WarmUp, SettlingLastsWhileTheCallsGetFaster) {
  std::vector<double> seconds;
  for (int i = 0; i < 20; ++i) seconds.push_back(0.005 - 0.0001 * i);  // 5 ms falling to 3.1 ms
  for (int i = 0; i < 100; ++i) seconds.push_back(0.0031);
  std::size_t next = 0;
  const int calls = settle([&] { return seconds.at(next++); });
  EXPECT_EQ(static_cast<std::size_t>(calls), next);
  // Block medians 4.8, 4.3, 3.8, 3.3 ms, then 3.1 (calls 20-24: still 6% faster than 3.3), then
  // 3.1 again (calls 25-29): the first block no faster than the one before ends it.
  EXPECT_EQ(calls, 30);
}

TEST(WarmUp, SteadyCallsSettleAfterTwoBlocks) {
  EXPECT_EQ(settle([] { return 0.001; }), 2 * kSettleBlock);
}

// Large calls, whose buffers no cache holds, stop when the time is spent, even mid-block.
TEST(WarmUp, SettlingStopsWhenItsTimeIsSpent) {
  EXPECT_EQ(settle([] { return 0.3; }), 4);  // 1.2 s >= 1 s
  // Calls that always get faster (each block about 5% faster than the one before) end by time
  // too: 50 ms falling by 0.5 ms a call, 1 s after 23 calls.
  int calls = 0;
  const int settled = settle([&] { return 0.05 * (1.0 - 0.01 * calls++); });
  EXPECT_EQ(settled, calls);
  EXPECT_EQ(settled, 23);
}

}  // namespace
}  // namespace meshreduce::cli
