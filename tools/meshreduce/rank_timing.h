// How the process backend turns every rank's clock into one time per row, as nccl-tests and the
// OSU benchmarks do across ranks: all ranks start each timed call together (a barrier), each
// times it on its own clock, and a call takes as long as its slowest rank. The row reports the
// median over calls of that slowest time. Taking each rank's median first and then the largest
// (what the backend did before) undercounts when the slow rank changes from call to call, which
// it does with more processes than cores: a rank that waits for a core before it starts its clock
// finds its peers' work done and reads a short call; with the slow rank rotating, every rank's
// median is a short call and rows read faster than the memory bound allows.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace meshreduce::cli {

// One rank's report after a row: its seconds per timed call, in call order, and its count of
// wrong elements. As text, for Bootstrap::all_gather.
struct RankTimes {
  std::vector<double> seconds;
  std::int64_t wrong = 0;
};
std::string encode_rank_times(const RankTimes& times);
// Throws InvalidArgument (naming the rank) on text encode_rank_times did not write.
RankTimes decode_rank_times(const std::string& text, int rank);

// The row's time: per call the largest of the ranks' seconds, then the median over calls.
// Throws InvalidArgument when a rank timed another number of calls than rank 0 (naming both).
// 0 for no ranks or no calls.
double slowest_rank_median(std::span<const RankTimes> ranks);

}  // namespace meshreduce::cli
