#include "simulate/fair_share.h"

#include <algorithm>
#include <limits>

namespace meshreduce::detail {

FairShare::FairShare(std::vector<double> capacity)
    : capacity_(std::move(capacity)),
      left_(capacity_.size()),
      unfrozen_(capacity_.size()),
      total_users_(capacity_.size()),
      flows_of_(capacity_.size()) {}

void FairShare::solve(std::span<const std::vector<int>* const> flows, std::vector<double>& rates,
                      std::span<const int> classes) {
  for (int r : used_) {
    total_users_[static_cast<std::size_t>(r)] = 0;
    flows_of_[static_cast<std::size_t>(r)].clear();
  }
  used_.clear();
  rates.assign(flows.size(), 0.0);
  for (std::size_t f = 0; f < flows.size(); ++f)
    for (int r : *flows[f]) {
      const auto index = static_cast<std::size_t>(r);
      if (total_users_[index]++ == 0) {
        used_.push_back(r);
        left_[index] = capacity_[index];
      }
      flows_of_[index].push_back(static_cast<int>(f));
    }

  // The flows of each class, in class order.
  std::vector<std::vector<int>> by_class;
  if (classes.empty()) {
    by_class.emplace_back(flows.size());
    for (std::size_t f = 0; f < flows.size(); ++f) by_class[0][f] = static_cast<int>(f);
  } else {
    for (std::size_t f = 0; f < flows.size(); ++f) {
      const auto c = static_cast<std::size_t>(classes[f]);
      if (c >= by_class.size()) by_class.resize(c + 1);
      by_class[c].push_back(static_cast<int>(f));
    }
  }
  std::vector<int> class_of(flows.size(), 0);
  for (std::size_t c = 0; c < by_class.size(); ++c)
    for (int f : by_class[c]) class_of[static_cast<std::size_t>(f)] = static_cast<int>(c);
  std::vector<bool> frozen(flows.size(), false);
  for (std::size_t c = 0; c < by_class.size(); ++c) {
    const std::vector<int>& members = by_class[c];
    for (int r : used_) unfrozen_[static_cast<std::size_t>(r)] = 0;
    for (int f : members)
      for (int r : *flows[static_cast<std::size_t>(f)]) ++unfrozen_[static_cast<std::size_t>(r)];
    std::size_t remaining = members.size();
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
        if (frozen[flow] || class_of[flow] != static_cast<int>(c)) continue;
        frozen[flow] = true;
        --remaining;
        rates[flow] = share;
        for (int r : *flows[flow]) {
          left_[static_cast<std::size_t>(r)] -= share;
          --unfrozen_[static_cast<std::size_t>(r)];
        }
      }
    }
  }
}

}  // namespace meshreduce::detail
