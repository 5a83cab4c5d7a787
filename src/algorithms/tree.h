// Internal: the double binary tree allreduce (two trees, half the data each, pipelined by chunks).
#pragma once

#include <optional>
#include <string>

#include "meshreduce/algorithm.h"

namespace meshreduce::detail {

std::optional<std::string> decline_tree(const AlgorithmRequest& request);
Schedule build_tree(const AlgorithmRequest& request);

}  // namespace meshreduce::detail
