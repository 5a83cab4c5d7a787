// Internal: one pipelined ring per NIC across machines (NCCL's multi-node rings).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "meshreduce/algorithm.h"

namespace meshreduce::detail {

// The rings nic-rings runs, as orders of positions (each a cycle through every position), or the
// reason it cannot serve the request.
struct NicRingPlan {
  std::vector<std::vector<int>> rings;
  std::string reason;  // empty when `rings` is usable
};
NicRingPlan plan_nic_rings(const AlgorithmRequest& request);

std::optional<std::string> decline_nic_rings(const AlgorithmRequest& request);
Schedule build_nic_rings(const AlgorithmRequest& request);

}  // namespace meshreduce::detail
