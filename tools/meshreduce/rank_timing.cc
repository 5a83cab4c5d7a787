#include "rank_timing.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "meshreduce/error.h"
#include "measures.h"

namespace meshreduce::cli {

std::string encode_rank_times(const RankTimes& times) {
  std::string text = std::to_string(times.wrong) + " " + std::to_string(times.seconds.size());
  char number[32];
  for (double s : times.seconds) {
    std::snprintf(number, sizeof number, " %.9e", s);  // nanoseconds survive the text
    text += number;
  }
  return text;
}

RankTimes decode_rank_times(const std::string& text, int rank) {
  std::istringstream in(text);
  RankTimes times;
  long long calls = -1;
  in >> times.wrong >> calls;
  if (!in || calls < 0 || calls > (1 << 24))
    throw InvalidArgument("rank " + std::to_string(rank) + " sent an unreadable timing report: '" + text.substr(0, 80) + "'");
  times.seconds.resize(static_cast<std::size_t>(calls));
  for (double& s : times.seconds) in >> s;
  std::string rest;
  if (!in || (in >> rest))
    throw InvalidArgument("rank " + std::to_string(rank) + " sent a timing report that does not hold " +
                          std::to_string(calls) + " calls: '" + text.substr(0, 80) + "'");
  return times;
}

double slowest_rank_median(std::span<const RankTimes> ranks) {
  if (ranks.empty()) return 0;
  const std::size_t calls = ranks.front().seconds.size();
  std::vector<double> slowest(calls, 0.0);
  for (std::size_t r = 0; r < ranks.size(); ++r) {
    if (ranks[r].seconds.size() != calls)
      throw InvalidArgument("rank " + std::to_string(r) + " timed " + std::to_string(ranks[r].seconds.size()) +
                            " calls, rank 0 timed " + std::to_string(calls));
    for (std::size_t i = 0; i < calls; ++i) slowest[i] = std::max(slowest[i], ranks[r].seconds[i]);
  }
  return median(std::move(slowest));
}

}  // namespace meshreduce::cli
