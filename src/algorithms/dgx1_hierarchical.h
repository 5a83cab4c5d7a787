// Internal: the seed's algorithm, fixed to the DGX-1 shape.
#pragma once

#include <optional>
#include <string>

#include "meshreduce/algorithm.h"

namespace meshreduce::detail {

std::optional<std::string> decline_dgx1_hierarchical(const AlgorithmRequest& request);
Schedule build_dgx1_hierarchical(const AlgorithmRequest& request);

}  // namespace meshreduce::detail
