// Internal: the plan of a layout for a process job, built the same on every process: the
// buckets, each bucket's algorithm (named, or the cost model's pick, whose inputs are the same
// everywhere: no measurement that could differ between processes), and the merged schedule, as
// Communicator::plan builds them. The schedules are those of a Communicator without a topology
// (a flat machine of K devices), so a named algorithm's bits are the thread executor's.
//
// The cost model of "auto":
//   - on one machine, the thread model of the devices' memory (thread_model.h): the processes
//     share the machine's memory as a pool of K threads would, and its picks (direct for all but
//     the smallest buckets) measured fastest on the process executor (docs/processes.md);
//   - across machines, the simulator on the job's topology (meshreduce/process_model.h): each
//     process runs its own devices' steps, bytes inside a machine cost its processes' and its
//     memory's rates, bytes between machines cost each machine's port at
//     ProcessCommunicatorOptions::network_gbps, along the critical path of the steps'
//     dependencies. `meshreduce simulate` on the topology `meshreduce topology --processes`
//     writes predicts the same times.
#pragma once

#include <span>
#include <vector>

#include "meshreduce/communicator.h"
#include "meshreduce/process_communicator.h"
#include "meshreduce/process_model.h"

namespace meshreduce::detail {

// The job of `num_devices` devices where device d belongs to process `process_of_device[d]`
// (empty: one device per process) on machine `machine_of_device[d]` (empty: one machine).
ProcessJobLayout process_job_of(int num_devices, std::span<const int> machine_of_device,
                                std::span<const int> process_of_device, double network_gbps);

// Throws Unsupported when the named algorithm declines the devices or groups.
Plan plan_for_processes(std::span<const TensorSpec> layout, ReduceOp op, int num_devices,
                        const std::vector<std::vector<int>>& groups, const ProcessCommunicatorOptions& options,
                        std::span<const int> machine_of_device = {}, std::span<const int> process_of_device = {});

}  // namespace meshreduce::detail
