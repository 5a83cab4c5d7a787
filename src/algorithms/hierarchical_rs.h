// Internal: the bandwidth-optimal hierarchy (reduce-scatter in groups, allreduce across, allgather in groups).
#pragma once

#include <optional>
#include <string>

#include "meshreduce/algorithm.h"

namespace meshreduce::detail {

std::optional<std::string> decline_hierarchical_rs(const AlgorithmRequest& request);
Schedule build_hierarchical_rs(const AlgorithmRequest& request);

}  // namespace meshreduce::detail
