// Internal: the direct allreduce (each device reduces 1/K of the data from all inputs, writes all outputs).
#pragma once

#include <optional>
#include <string>

#include "meshreduce/algorithm.h"

namespace meshreduce::detail {

std::optional<std::string> decline_direct(const AlgorithmRequest& request);
Schedule build_direct(const AlgorithmRequest& request);

}  // namespace meshreduce::detail
