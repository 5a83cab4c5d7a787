// How the process backend turns every rank's clock into one time per call, and the calls into
// one time per row. Every timed call starts with a barrier; each rank notes when its own call
// started and ended on its steady clock.
//
// A call is the job's work, not one rank's: with direct, rank 0 reduces its half from rank 1's
// memory, and may finish it before rank 1 has even left the barrier. Each rank's own span is
// then short although the call, from the first rank's start to the last rank's end, is not.
// Taking per call the slowest rank's span (nccl-tests' and the OSU benchmarks' rule, which this
// backend used before) therefore undercounts whenever the ranks do not start together (by at
// most the spread of their starts: a rank reads a peer's memory only after the peer's ready
// flag), which on a machine with fewer cores than ranks is common. (The K = 2 rows of shared
// buffers that once read up to 2.28 of the bound owed that mostly to the probe running on one
// core: probe_cpus.h.) So when every rank reads the same clock (one host: the
// same boot, the same time namespace), a call lasts from the earliest start to the latest end
// (TimingRule::job_span). Ranks on several hosts have unrelated clocks, and keep the slowest
// rank's span (TimingRule::slowest_rank), which is a lower bound of the call.
//
// std::chrono::steady_clock is CLOCK_MONOTONIC with libstdc++ on Linux (libstdc++'s chrono.cc
// reads clock_gettime(CLOCK_MONOTONIC) when _GLIBCXX_USE_CLOCK_MONOTONIC is set, as Debian's
// GCC sets it), and CLOCK_MONOTONIC counts from the host's boot for every process of the host
// unless a time namespace offsets it; tests/test_rank_timing.cc checks the first fact.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace meshreduce::cli {

// One timed call on one rank, in nanoseconds of its steady clock.
struct CallSpan {
  std::int64_t start_ns = 0;
  std::int64_t end_ns = 0;
};

// One rank's report after a row: its timed calls, in call order, and its count of wrong
// elements. As text, for Bootstrap::all_gather.
struct RankTimes {
  std::vector<CallSpan> calls;
  std::int64_t wrong = 0;
};
std::string encode_rank_times(const RankTimes& times);
// Throws InvalidArgument (naming the rank) on text encode_rank_times did not write, or on a
// call that starts at a negative time or ends before it starts.
RankTimes decode_rank_times(const std::string& text, int rank);

enum class TimingRule {
  job_span,      // one clock: per call, the latest rank's end minus the earliest rank's start
  slowest_rank,  // unrelated clocks: per call, the longest of the ranks' own spans
};
// The rule as the bench's header and JSON name it.
std::string_view timing_rule_name(TimingRule rule);
std::string describe_timing_rule(TimingRule rule);

// What makes two processes' steady clocks one clock: the host's boot id, its host name, and the
// offsets of the process's time namespace (/proc/self/timens_offsets, where the kernel has them).
std::string clock_domain();
// job_span when every rank reported the same clock domain, else slowest_rank.
TimingRule timing_rule_for(std::span<const std::string> domains);

// Seconds of each call under `rule`. Throws InvalidArgument when a rank timed another number of
// calls than rank 0 (naming both). Empty for no ranks.
std::vector<double> call_seconds(std::span<const RankTimes> ranks, TimingRule rule);
// The row's time: the median of call_seconds. 0 for no ranks or no calls.
double row_seconds(std::span<const RankTimes> ranks, TimingRule rule);

}  // namespace meshreduce::cli
