#include "warm_up.h"

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

}  // namespace meshreduce::cli
