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

// bench's timed calls in blocks with the bound's probe between them: near-equal blocks, in order.
TEST(WarmUp, TimedCallsSplitIntoNearEqualBlocks) {
  const auto openers = [](int iterations, int blocks) {
    std::vector<int> calls;
    for (int j = -3; j < iterations + 3; ++j)
      if (starts_block(j, iterations, blocks)) calls.push_back(j);
    return calls;
  };
  EXPECT_EQ(openers(10, 5), (std::vector<int>{2, 4, 6, 8}));
  EXPECT_EQ(openers(7, 5), (std::vector<int>{2, 3, 5, 6}));  // blocks of 2, 1, 2, 1, 1
  EXPECT_EQ(openers(2, 5), (std::vector<int>{1}));           // no more blocks than calls
  EXPECT_TRUE(openers(10, 1).empty());
  EXPECT_TRUE(openers(1, 5).empty());
  EXPECT_TRUE(openers(10, 0).empty());
  // The most calls bench allows, without overflow.
  EXPECT_EQ(openers(1'000'000, 4), (std::vector<int>{250'000, 500'000, 750'000}));
}

}  // namespace
}  // namespace meshreduce::cli
