#include "simulate/fair_share.h"

#include <algorithm>
#include <limits>

namespace meshreduce::detail {

FairShare::FairShare(std::vector<double> capacity)
    : capacity_(std::move(capacity)),
      left_(capacity_.size()),
      unfrozen_(capacity_.size()),
      flows_of_(capacity_.size()) {}

void FairShare::solve(std::span<const std::vector<int>* const> flows, std::vector<double>& rates) {
  for (int r : used_) {
    unfrozen_[static_cast<std::size_t>(r)] = 0;
    flows_of_[static_cast<std::size_t>(r)].clear();
  }
  used_.clear();
  rates.assign(flows.size(), 0.0);
  for (std::size_t f = 0; f < flows.size(); ++f)
    for (int r : *flows[f]) {
      const auto index = static_cast<std::size_t>(r);
      if (unfrozen_[index]++ == 0) {
        used_.push_back(r);
        left_[index] = capacity_[index];
      }
      flows_of_[index].push_back(static_cast<int>(f));
    }
  frozen_.assign(flows.size(), false);
  std::size_t remaining = flows.size();
  while (remaining > 0) {
    int bottleneck = -1;
    double share = std::numeric_limits<double>::infinity();
    for (int r : used_) {
      const auto index = static_cast<std::size_t>(r);
      if (unfrozen_[index] == 0) continue;
      const double candidate = std::max(0.0, left_[index]) / unfrozen_[index];
      if (candidate < share) {
        share = candidate;
        bottleneck = r;
      }
    }
    if (bottleneck < 0) break;  // only flows without resources remain (none are created)
    for (int f : flows_of_[static_cast<std::size_t>(bottleneck)]) {
      const auto flow = static_cast<std::size_t>(f);
      if (frozen_[flow]) continue;
      frozen_[flow] = true;
      --remaining;
      rates[flow] = share;
      for (int r : *flows[flow]) {
        left_[static_cast<std::size_t>(r)] -= share;
        --unfrozen_[static_cast<std::size_t>(r)];
      }
    }
  }
}

}  // namespace meshreduce::detail
