// Internal: max-min fair rates of flows over shared resources (progressive filling).
//
// Every flow crosses a set of resources of finite capacity. Repeatedly, the resource whose
// remaining capacity per unfrozen flow is smallest is the bottleneck: its unfrozen flows get that
// share and are frozen, and the share is taken from every resource they cross. The result is the
// unique max-min fair allocation: no flow can go faster without slowing one that is no faster.
#pragma once

#include <span>
#include <vector>

namespace meshreduce::detail {

class FairShare {
 public:
  explicit FairShare(std::vector<double> capacity);

  // rates[i] for flows[i], each a non-empty list of distinct resource indices.
  void solve(std::span<const std::vector<int>* const> flows, std::vector<double>& rates);

 private:
  std::vector<double> capacity_;
  std::vector<double> left_;
  std::vector<int> unfrozen_;
  std::vector<std::vector<int>> flows_of_;
  std::vector<int> used_;
  std::vector<bool> frozen_;
};

}  // namespace meshreduce::detail
