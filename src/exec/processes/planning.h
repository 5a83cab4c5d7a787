// Internal: the plan of a layout for a process job, built the same on every process: the
// buckets, each bucket's algorithm (named, or the cost model's pick for K processes, whose
// inputs are the same everywhere: no measurement that could differ between processes), and
// the merged schedule, as Communicator::plan builds them. The cost model is the thread model
// of the devices' memory, plus, when the job spans machines, the bytes each machine sends or
// receives over the network at kAssumedNetworkGbps.
#pragma once

#include <span>
#include <vector>

#include "meshreduce/communicator.h"
#include "meshreduce/process_communicator.h"

namespace meshreduce::detail {

// One 100 Gb/s port (EDR InfiniBand or Ethernet) at the 0.954 efficiency measured for EDR
// (docs/topology-format.md). It only ranks schedules: any network several times slower than
// memory ranks them alike, by the bytes they send between machines.
inline constexpr double kAssumedNetworkGbps = 11.9;

// The predicted time of `schedule` whose device d lives on machine `machine_of_device[d]`:
// `memory_time` (the thread model's) plus the busiest machine's network time (the larger of
// its bytes out and in: a port is full duplex).
double predict_across_machines(const Schedule& schedule, double memory_time, std::span<const int> machine_of_device);

// `machine_of_device[d]`: the machine of schedule device d (empty or all zero: one machine).
// Throws Unsupported when the named algorithm declines the devices or groups.
Plan plan_for_processes(std::span<const TensorSpec> layout, ReduceOp op, int num_devices,
                        const std::vector<std::vector<int>>& groups, const ProcessCommunicatorOptions& options,
                        std::span<const int> machine_of_device = {});

}  // namespace meshreduce::detail
