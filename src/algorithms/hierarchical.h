// Internal: the hierarchical builder shared by `hierarchical` and `dgx1-hierarchical`.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "meshreduce/algorithm.h"

namespace meshreduce::detail {

// The groups of a request, or one group of all devices when it names none.
std::vector<std::vector<int>> effective_groups(const AlgorithmRequest& request);
// Why the groups are not a partition of 0..K-1 into increasing lists, or nullopt.
std::optional<std::string> check_partition(const std::vector<std::vector<int>>& groups, int num_devices);

std::optional<std::string> decline_hierarchical(const AlgorithmRequest& request);
Schedule build_hierarchical(const AlgorithmRequest& request);

}  // namespace meshreduce::detail
