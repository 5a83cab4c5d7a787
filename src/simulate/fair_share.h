// Internal: max-min fair rates of flows over shared resources (progressive filling).
//
// Every flow crosses a set of resources of finite capacity. Repeatedly, the resource whose
// remaining capacity per unfrozen flow is smallest is the bottleneck: its unfrozen flows get that
// share and are frozen, and the share is taken from every resource they cross. The result is the
// unique max-min fair allocation: no flow can go faster without slowing one that is no faster.
//
// With priority classes, the classes are served in order: class 0 is filled max-min fairly
// first, class 1 then shares what it left, and so on (first come, first served between classes).
#pragma once

#include <span>
#include <vector>

namespace meshreduce::detail {

class FairShare {
 public:
  explicit FairShare(std::vector<double> capacity);

  // rates[i] for flows[i], each a non-empty list of distinct resource indices. `classes[i]` is
  // flow i's priority class (0 first); empty means one class for all.
  void solve(std::span<const std::vector<int>* const> flows, std::vector<double>& rates,
             std::span<const int> classes = {});

 private:
  std::vector<double> capacity_;
  std::vector<double> left_;
  std::vector<int> unfrozen_;
  std::vector<int> total_users_;
  std::vector<std::vector<int>> flows_of_;
  std::vector<int> used_;
};

}  // namespace meshreduce::detail
