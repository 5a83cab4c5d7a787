// The process bench's row time: per call the slowest rank's, median over calls (rank_timing.h).
#include "rank_timing.h"

#include <gtest/gtest.h>

#include <vector>

#include "meshreduce/error.h"

namespace meshreduce::cli {
namespace {

TEST(RankTiming, SlowRankThatChangesEveryCallSetsEveryCallsTime) {
  // Three ranks, each slow (9 s) in one call and fast (1 s, 2 s) otherwise: each rank's own
  // median is a fast call, yet every call took as long as its slowest rank.
  const std::vector<RankTimes> ranks{{{9.0, 1.0, 1.5}, 0}, {{1.0, 8.0, 2.0}, 0}, {{2.0, 1.0, 7.0}, 0}};
  EXPECT_DOUBLE_EQ(slowest_rank_median(ranks), 8.0);  // calls: 9, 8, 7
}

TEST(RankTiming, RanksThatDisagreeReportTheSlowest) {
  const std::vector<RankTimes> ranks{{{0.001, 0.002, 0.003, 0.004}, 0}, {{0.010, 0.020, 0.030, 0.040}, 0}};
  EXPECT_DOUBLE_EQ(slowest_rank_median(ranks), 0.025);  // median of 10, 20, 30, 40 ms
  EXPECT_DOUBLE_EQ(slowest_rank_median(std::vector<RankTimes>{ranks[0]}), 0.0025);
}

TEST(RankTiming, NoRanksOrNoCallsIsZero) {
  EXPECT_EQ(slowest_rank_median({}), 0.0);
  EXPECT_EQ(slowest_rank_median(std::vector<RankTimes>{{{}, 3}, {{}, 0}}), 0.0);
}

TEST(RankTiming, RanksThatTimedDifferentCallCountsAreAnError) {
  const std::vector<RankTimes> ranks{{{1.0, 2.0}, 0}, {{1.0, 2.0}, 0}, {{1.0}, 0}};
  try {
    slowest_rank_median(ranks);
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& error) {
    EXPECT_STREQ(error.what(), "rank 2 timed 1 calls, rank 0 timed 2");
  }
}

TEST(RankTiming, ReportsSurviveTheirTextWithNanosecondsIntact) {
  const RankTimes sent{{1.234567891e-3, 2.5e-7, 0.25, 12.000000001}, 7};
  const RankTimes got = decode_rank_times(encode_rank_times(sent), 3);
  EXPECT_EQ(got.wrong, 7);
  ASSERT_EQ(got.seconds.size(), sent.seconds.size());
  for (std::size_t i = 0; i < sent.seconds.size(); ++i) EXPECT_NEAR(got.seconds[i], sent.seconds[i], 1e-9 * sent.seconds[i]);
  const RankTimes empty = decode_rank_times(encode_rank_times({}), 0);
  EXPECT_TRUE(empty.seconds.empty());
  EXPECT_EQ(empty.wrong, 0);
}

TEST(RankTiming, UnreadableReportsNameTheRank) {
  EXPECT_THROW(decode_rank_times("", 1), InvalidArgument);
  EXPECT_THROW(decode_rank_times("0 -1", 1), InvalidArgument);
  EXPECT_THROW(decode_rank_times("0 99999999", 1), InvalidArgument);
  EXPECT_THROW(decode_rank_times("0 2 1.0", 1), InvalidArgument);      // fewer calls than it says
  EXPECT_THROW(decode_rank_times("0 1 1.0 2.0", 1), InvalidArgument);  // more
  EXPECT_THROW(decode_rank_times("x 1 1.0", 1), InvalidArgument);
  try {
    decode_rank_times("0 2 1.0", 4);
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& error) {
    EXPECT_NE(std::string(error.what()).find("rank 4"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace meshreduce::cli
