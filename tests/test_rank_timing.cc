// The process bench's call time (rank_timing.h): on one host from the earliest rank's start to
// the latest rank's end, across hosts the slowest rank's own span; the median over calls; the
// reports' text; which clock the ranks share.
#include "rank_timing.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "meshreduce/error.h"

namespace meshreduce::cli {
namespace {

constexpr std::int64_t kUs = 1000;  // nanoseconds

// Rank r's calls, each {start, end} in microseconds.
RankTimes spans_us(std::vector<std::pair<std::int64_t, std::int64_t>> calls, std::int64_t wrong = 0) {
  RankTimes times;
  times.wrong = wrong;
  for (auto [start, end] : calls) times.calls.push_back({start * kUs, end * kUs});
  return times;
}

TEST(RankTiming, RanksWhoseSpansDoNotOverlapTakeTheirUnionOnOneHost) {
  // Rank 0 does its half (100 us) before rank 1 has left the barrier; rank 1 then does its own
  // (100 us). Each rank's span is 100 us; the call took 250 us.
  const std::vector<RankTimes> ranks{spans_us({{1000, 1100}}), spans_us({{1150, 1250}})};
  EXPECT_DOUBLE_EQ(row_seconds(ranks, TimingRule::job_span), 250e-6);
  EXPECT_DOUBLE_EQ(row_seconds(ranks, TimingRule::slowest_rank), 100e-6);
}

TEST(RankTiming, JobSpanRunsFromTheEarliestStartToTheLatestEndOfEachCall) {
  // Three calls of three ranks; the earliest starter and the latest finisher change every call,
  // and in call 1 one rank's span holds the others'.
  const std::vector<RankTimes> ranks{spans_us({{0, 10}, {100, 190}, {300, 305}}),
                                     spans_us({{5, 40}, {120, 130}, {290, 330}}),
                                     spans_us({{20, 25}, {110, 150}, {310, 312}})};
  const std::vector<double> calls = call_seconds(ranks, TimingRule::job_span);
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_DOUBLE_EQ(calls[0], 40e-6);   // 0 .. 40
  EXPECT_DOUBLE_EQ(calls[1], 90e-6);   // 100 .. 190
  EXPECT_DOUBLE_EQ(calls[2], 40e-6);   // 290 .. 330
  EXPECT_DOUBLE_EQ(row_seconds(ranks, TimingRule::job_span), 40e-6);
  const std::vector<double> slowest = call_seconds(ranks, TimingRule::slowest_rank);
  EXPECT_DOUBLE_EQ(slowest[0], 35e-6);
  EXPECT_DOUBLE_EQ(slowest[1], 90e-6);
  EXPECT_DOUBLE_EQ(slowest[2], 40e-6);
}

TEST(RankTiming, SlowRankThatChangesEveryCallSetsEveryCallsTime) {
  // Three ranks, each slow (9 us) in one call and fast otherwise: each rank's own median is a
  // fast call, yet every call took as long as its slowest rank, under either rule.
  const std::vector<RankTimes> ranks{spans_us({{0, 9}, {100, 101}, {200, 201}}),
                                     spans_us({{0, 1}, {100, 108}, {200, 202}}),
                                     spans_us({{0, 2}, {100, 101}, {200, 207}})};
  EXPECT_DOUBLE_EQ(row_seconds(ranks, TimingRule::slowest_rank), 8e-6);  // calls: 9, 8, 7
  EXPECT_DOUBLE_EQ(row_seconds(ranks, TimingRule::job_span), 8e-6);
}

TEST(RankTiming, TheRowIsTheMedianOverCalls) {
  const std::vector<RankTimes> ranks{spans_us({{0, 1}, {100, 102}, {200, 203}, {300, 304}}),
                                     spans_us({{0, 10}, {100, 120}, {200, 230}, {300, 340}})};
  EXPECT_DOUBLE_EQ(row_seconds(ranks, TimingRule::slowest_rank), 25e-6);  // median of 10, 20, 30, 40 us
  EXPECT_DOUBLE_EQ(row_seconds(ranks, TimingRule::job_span), 25e-6);
  EXPECT_DOUBLE_EQ(row_seconds(std::vector<RankTimes>{ranks[0]}, TimingRule::job_span), 2.5e-6);
}

TEST(RankTiming, NoRanksOrNoCallsIsZero) {
  for (TimingRule rule : {TimingRule::job_span, TimingRule::slowest_rank}) {
    EXPECT_EQ(row_seconds({}, rule), 0.0);
    EXPECT_EQ(row_seconds(std::vector<RankTimes>{{{}, 3}, {{}, 0}}, rule), 0.0);
  }
}

TEST(RankTiming, RanksThatTimedDifferentCallCountsAreAnError) {
  const std::vector<RankTimes> ranks{spans_us({{0, 1}, {2, 3}}), spans_us({{0, 1}, {2, 3}}), spans_us({{0, 1}})};
  for (TimingRule rule : {TimingRule::job_span, TimingRule::slowest_rank}) {
    try {
      row_seconds(ranks, rule);
      FAIL() << "expected InvalidArgument";
    } catch (const InvalidArgument& error) {
      EXPECT_STREQ(error.what(), "rank 2 timed 1 calls, rank 0 timed 2");
    }
  }
}

TEST(RankTiming, ReportsSurviveTheirTextToTheNanosecondAfterALongUptime) {
  // A year of uptime in nanoseconds needs 17 digits; one nanosecond apart must stay apart.
  const std::int64_t year = std::int64_t{365} * 24 * 3600 * 1'000'000'000;
  const RankTimes sent{{{year, year + 1}, {year + 7, year + 1'234'567'891}, {0, 0}}, 7};
  const RankTimes got = decode_rank_times(encode_rank_times(sent), 3);
  EXPECT_EQ(got.wrong, 7);
  ASSERT_EQ(got.calls.size(), sent.calls.size());
  for (std::size_t i = 0; i < sent.calls.size(); ++i) {
    EXPECT_EQ(got.calls[i].start_ns, sent.calls[i].start_ns) << i;
    EXPECT_EQ(got.calls[i].end_ns, sent.calls[i].end_ns) << i;
  }
  const RankTimes empty = decode_rank_times(encode_rank_times({}), 0);
  EXPECT_TRUE(empty.calls.empty());
  EXPECT_EQ(empty.wrong, 0);
}

TEST(RankTiming, UnreadableReportsNameTheRank) {
  EXPECT_THROW(decode_rank_times("", 1), InvalidArgument);
  EXPECT_THROW(decode_rank_times("0 -1", 1), InvalidArgument);
  EXPECT_THROW(decode_rank_times("0 99999999", 1), InvalidArgument);
  EXPECT_THROW(decode_rank_times("0 2 1 2", 1), InvalidArgument);      // fewer calls than it says
  EXPECT_THROW(decode_rank_times("0 1 1 2 3 4", 1), InvalidArgument);  // more
  EXPECT_THROW(decode_rank_times("0 1 1", 1), InvalidArgument);        // a start without its end
  EXPECT_THROW(decode_rank_times("x 1 1 2", 1), InvalidArgument);
  EXPECT_THROW(decode_rank_times("0 1 1.5 2", 1), InvalidArgument);    // nanoseconds are integers
  try {
    decode_rank_times("0 2 1 2", 4);
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& error) {
    EXPECT_NE(std::string(error.what()).find("rank 4"), std::string::npos) << error.what();
  }
}

TEST(RankTiming, CallsThatEndBeforeTheyStartOrStartBeforeBootAreErrors) {
  try {
    decode_rank_times("0 2 10 20 30 25", 2);
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& error) {
    EXPECT_STREQ(error.what(), "rank 2 reports call 1 ending at 25 ns, before its start at 30 ns");
  }
  try {
    // Past this check, the earliest start -9e18 and a latest end of 9e18 would overflow int64.
    decode_rank_times("0 1 -9000000000000000000 9000000000000000000", 5);
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& error) {
    EXPECT_STREQ(error.what(), "rank 5 reports call 0 starting at a negative time, -9000000000000000000 ns");
  }
}

TEST(RankTiming, OneClockDomainMeansJobSpanAndAnyOtherMeansSlowestRank) {
  const std::string here = clock_domain();
  EXPECT_EQ(clock_domain(), here);
  EXPECT_EQ(timing_rule_for(std::vector<std::string>{here, here, here}), TimingRule::job_span);
  EXPECT_EQ(timing_rule_for(std::vector<std::string>{here}), TimingRule::job_span);
  EXPECT_EQ(timing_rule_for(std::vector<std::string>{here, here + "x", here}), TimingRule::slowest_rank);
  EXPECT_EQ(timing_rule_name(TimingRule::job_span), "job_span");
  EXPECT_EQ(timing_rule_name(TimingRule::slowest_rank), "slowest_rank");
  EXPECT_NE(describe_timing_rule(TimingRule::job_span).find("earliest rank's start"), std::string::npos);
  EXPECT_NE(describe_timing_rule(TimingRule::slowest_rank).find("slowest rank"), std::string::npos);
}

std::int64_t monotonic_ns() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return std::int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The bench times calls with steady_clock and compares readings of different processes: that is
// sound only because steady_clock reads CLOCK_MONOTONIC, whose zero is the host's boot.
TEST(RankTiming, SteadyClockIsClockMonotonic) {
  for (int i = 0; i < 100; ++i) {
    const std::int64_t before = monotonic_ns();
    const std::int64_t steady = steady_ns();
    const std::int64_t after = monotonic_ns();
    ASSERT_LE(before, steady);
    ASSERT_LE(steady, after);
  }
}

TEST(RankTiming, AnotherProcessOfThisHostReadsTheSameClockAndDomain) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const std::int64_t before = steady_ns();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(fds[0]);
    const std::string report = std::to_string(steady_ns()) + " " + clock_domain();
    const bool sent = write(fds[1], report.data(), report.size()) == static_cast<ssize_t>(report.size());
    _exit(sent ? 0 : 1);
  }
  close(fds[1]);
  std::string report;
  char buffer[512];
  for (ssize_t got; (got = read(fds[0], buffer, sizeof buffer)) > 0;) report.append(buffer, static_cast<std::size_t>(got));
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  const std::int64_t after = steady_ns();
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  const std::size_t space = report.find(' ');
  ASSERT_NE(space, std::string::npos) << report;
  const std::int64_t childs = std::stoll(report.substr(0, space));
  EXPECT_LE(before, childs);
  EXPECT_LE(childs, after);
  EXPECT_EQ(report.substr(space + 1), clock_domain());
}

}  // namespace
}  // namespace meshreduce::cli
