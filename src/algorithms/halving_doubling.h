// Internal: Rabenseifner's allreduce (recursive halving, recursive doubling, fold for non-powers of two).
#pragma once

#include <optional>
#include <string>

#include "meshreduce/algorithm.h"

namespace meshreduce::detail {

std::optional<std::string> decline_halving_doubling(const AlgorithmRequest& request);
Schedule build_halving_doubling(const AlgorithmRequest& request);

}  // namespace meshreduce::detail
