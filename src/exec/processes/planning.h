// Internal: the plan of a layout for a process job, built the same on every process: the
// buckets, each bucket's algorithm (named, or the thread model's pick for K processes, whose
// inputs are the same everywhere: no measurement that could differ between processes), and
// the merged schedule, as Communicator::plan builds them.
#pragma once

#include <span>
#include <vector>

#include "meshreduce/communicator.h"
#include "meshreduce/process_communicator.h"

namespace meshreduce::detail {

// Throws Unsupported when the named algorithm declines the devices or groups.
Plan plan_for_processes(std::span<const TensorSpec> layout, ReduceOp op, int num_devices,
                        const std::vector<std::vector<int>>& groups, const ProcessCommunicatorOptions& options);

}  // namespace meshreduce::detail
