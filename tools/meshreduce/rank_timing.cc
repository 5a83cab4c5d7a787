#include "rank_timing.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>

#include "meshreduce/error.h"
#include "measures.h"

namespace meshreduce::cli {

namespace {

constexpr long long kMaxCalls = 1 << 24;

std::string first_line_of(const char* path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

std::string whole_file(const char* path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

// Nanoseconds as integers: seconds since boot in "%.9e" would keep only ~10 us of a long uptime.
std::string encode_rank_times(const RankTimes& times) {
  std::string text = std::to_string(times.wrong) + " " + std::to_string(times.calls.size());
  for (const CallSpan& call : times.calls) text += " " + std::to_string(call.start_ns) + " " + std::to_string(call.end_ns);
  return text;
}

RankTimes decode_rank_times(const std::string& text, int rank) {
  std::istringstream in(text);
  RankTimes times;
  long long calls = -1;
  in >> times.wrong >> calls;
  if (!in || calls < 0 || calls > kMaxCalls)
    throw InvalidArgument("rank " + std::to_string(rank) + " sent an unreadable timing report: '" + text.substr(0, 80) + "'");
  times.calls.resize(static_cast<std::size_t>(calls));
  for (CallSpan& call : times.calls) in >> call.start_ns >> call.end_ns;
  std::string rest;
  if (!in || (in >> rest))
    throw InvalidArgument("rank " + std::to_string(rank) + " sent a timing report that does not hold " +
                          std::to_string(calls) + " calls: '" + text.substr(0, 80) + "'");
  // Steady clocks count up from boot: a negative time is not one, and ruling it out keeps every
  // difference of two reports within int64.
  for (std::size_t i = 0; i < times.calls.size(); ++i) {
    if (times.calls[i].start_ns < 0)
      throw InvalidArgument("rank " + std::to_string(rank) + " reports call " + std::to_string(i) +
                            " starting at a negative time, " + std::to_string(times.calls[i].start_ns) + " ns");
    if (times.calls[i].end_ns < times.calls[i].start_ns)
      throw InvalidArgument("rank " + std::to_string(rank) + " reports call " + std::to_string(i) + " ending at " +
                            std::to_string(times.calls[i].end_ns) + " ns, before its start at " +
                            std::to_string(times.calls[i].start_ns) + " ns");
  }
  return times;
}

std::string_view timing_rule_name(TimingRule rule) {
  return rule == TimingRule::job_span ? "job_span" : "slowest_rank";
}

std::string describe_timing_rule(TimingRule rule) {
  if (rule == TimingRule::job_span)
    return "per call from the earliest rank's start to the latest rank's end (every rank on one host: one "
           "CLOCK_MONOTONIC), median over calls";
  return "per call the slowest rank's own time (ranks on several hosts: clocks not comparable, so a lower "
         "bound of the call), median over calls";
}

std::string clock_domain() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  // Without a boot id (no /proc) no two processes can be shown to share a clock: each domain is its own.
  const std::string boot = first_line_of("/proc/sys/kernel/random/boot_id");
  if (boot.empty()) return "unknown pid " + std::to_string(::getpid()) + " on " + host;
  return boot + " " + host + " " + whole_file("/proc/self/timens_offsets");
}

TimingRule timing_rule_for(std::span<const std::string> domains) {
  const bool one = std::all_of(domains.begin(), domains.end(), [&](const std::string& d) { return d == domains.front(); });
  return one ? TimingRule::job_span : TimingRule::slowest_rank;
}

std::vector<double> call_seconds(std::span<const RankTimes> ranks, TimingRule rule) {
  if (ranks.empty()) return {};
  const std::size_t calls = ranks.front().calls.size();
  for (std::size_t r = 0; r < ranks.size(); ++r)
    if (ranks[r].calls.size() != calls)
      throw InvalidArgument("rank " + std::to_string(r) + " timed " + std::to_string(ranks[r].calls.size()) +
                            " calls, rank 0 timed " + std::to_string(calls));
  std::vector<double> seconds(calls, 0.0);
  for (std::size_t i = 0; i < calls; ++i) {
    std::int64_t start = std::numeric_limits<std::int64_t>::max(), end = std::numeric_limits<std::int64_t>::min();
    std::int64_t longest = 0;
    for (const RankTimes& rank : ranks) {
      const CallSpan& call = rank.calls[i];
      start = std::min(start, call.start_ns);
      end = std::max(end, call.end_ns);
      longest = std::max(longest, call.end_ns - call.start_ns);
    }
    seconds[i] = static_cast<double>(rule == TimingRule::job_span ? end - start : longest) * 1e-9;
  }
  return seconds;
}

double row_seconds(std::span<const RankTimes> ranks, TimingRule rule) { return median(call_seconds(ranks, rule)); }

}  // namespace meshreduce::cli
