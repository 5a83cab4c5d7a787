// Internal: the ring allreduce (reduce-scatter, then allgather, chunked and pipelined).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "algorithms/slicing.h"
#include "meshreduce/algorithm.h"

namespace meshreduce::detail {

std::optional<std::string> decline_ring(const AlgorithmRequest& request);
Schedule build_ring(const AlgorithmRequest& request);

// Append the ring allreduce of `range` of buffer 0 among the devices of `order`, a cycle in
// which order[i] sends to order[i + 1]: slice j of the range is owned by order[(j + rotation) %
// size], chunks are at most `chunk_elements` (0: whole slices), and with `average` the final
// reduce of each chunk scales by 1/K (K = the schedule's device count). One device: a copy.
void append_ring(Schedule& schedule, const std::vector<int>& order, Range range, std::int64_t chunk_elements,
                 std::int64_t rotation, bool average);

}  // namespace meshreduce::detail
