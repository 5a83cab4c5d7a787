#include "warm_up.h"

#include <cstdint>
#include <vector>

#include "measures.h"

namespace meshreduce::cli {

bool still_getting_faster(std::span<const double> before, std::span<const double> block) {
  const double earlier = median(std::vector<double>(before.begin(), before.end()));
  const double later = median(std::vector<double>(block.begin(), block.end()));
  return later < earlier * (1.0 - kSettleGain);
}

int settle(const std::function<double()>& timed_call) {
  std::vector<double> before;
  std::vector<double> block;
  double spent = 0;
  int calls = 0;
  while (spent < kMaxSettleSeconds) {
    const double seconds = timed_call();
    spent += seconds;
    ++calls;
    block.push_back(seconds);
    if (static_cast<int>(block.size()) < kSettleBlock) continue;
    if (!before.empty() && !still_getting_faster(before, block)) break;
    before.swap(block);
    block.clear();
  }
  return calls;
}

bool starts_block(int call, int iterations, int blocks) {
  if (call <= 0 || call >= iterations || blocks <= 1) return false;
  // Call j is in block floor(j * blocks / iterations), in 64 bits: both may be up to kMaxCalls.
  const auto block_of = [&](int j) { return std::int64_t{j} * blocks / iterations; };
  return block_of(call) != block_of(call - 1);
}

}  // namespace meshreduce::cli
