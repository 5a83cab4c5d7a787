// Internal: several rings at once over the topology's edge-disjoint Hamiltonian cycles.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "meshreduce/algorithm.h"

namespace meshreduce::detail {

// A directed ring over positions and the bandwidth it may use (GB/s per hop).
struct DirectedRing {
  std::vector<int> order;
  double gbps = 0;
};

// Edge-disjoint Hamiltonian cycles of the direct device-to-device links among the request's
// devices (a link of count c may carry c cycles), each used in both directions.
std::vector<DirectedRing> find_rings(const AlgorithmRequest& request);

std::optional<std::string> decline_multiring(const AlgorithmRequest& request);
Schedule build_multiring(const AlgorithmRequest& request);

}  // namespace meshreduce::detail
