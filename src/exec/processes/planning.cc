#include "exec/processes/planning.h"

#include <algorithm>
#include <string>
#include <utility>

#include "meshreduce/error.h"
#include "meshreduce/schedule.h"
#include "meshreduce/simulator.h"
#include "meshreduce/thread_model.h"
#include "plan/planner.h"

namespace meshreduce::detail {

ProcessJobLayout process_job_of(int num_devices, std::span<const int> machine_of_device,
                                std::span<const int> process_of_device, double network_gbps) {
  const auto at = [](std::span<const int> values, int d) { return values.empty() ? 0 : values[static_cast<std::size_t>(d)]; };
  for (const auto* values : {&machine_of_device, &process_of_device})
    if (!values->empty() && values->size() != static_cast<std::size_t>(num_devices))
      throw InvalidArgument("process job of " + std::to_string(num_devices) + " devices: " + std::to_string(values->size()) +
                            " entries per device");
  ProcessJobLayout job;
  job.network_gbps = network_gbps;
  for (int d = 0; d < num_devices; ++d) {
    const int process = process_of_device.empty() ? d : process_of_device[static_cast<std::size_t>(d)];
    if (process == static_cast<int>(job.devices_of_process.size())) {
      job.devices_of_process.push_back(1);
      job.machine_of_process.push_back(at(machine_of_device, d));
    } else if (process + 1 == static_cast<int>(job.devices_of_process.size()) &&
               job.machine_of_process.back() == at(machine_of_device, d)) {
      ++job.devices_of_process.back();
    } else {
      throw InvalidArgument("process job: device " + std::to_string(d) + " of process " + std::to_string(process) +
                            " on machine " + std::to_string(at(machine_of_device, d)) +
                            ": devices must be numbered in rank order, a process on one machine");
    }
  }
  return job;
}

Plan plan_for_processes(std::span<const TensorSpec> layout, ReduceOp op, int num_devices,
                        const std::vector<std::vector<int>>& groups, const ProcessCommunicatorOptions& options,
                        std::span<const int> machine_of_device, std::span<const int> process_of_device) {
  const bool automatic = options.algorithm == "auto";
  const Algorithm* named = automatic ? nullptr : &find_algorithm(options.algorithm);
  // As a Communicator without a topology sees its devices 0..K-1: a flat machine.
  const Topology flat = flat_topology(num_devices);
  std::vector<int> devices(static_cast<std::size_t>(num_devices));
  for (int d = 0; d < num_devices; ++d) devices[static_cast<std::size_t>(d)] = d;

  AlgorithmRequest whole;
  whole.num_devices = num_devices;
  whole.groups = groups;
  whole.topology = &flat;
  whole.topology_devices = devices;
  whole.options = options.algorithm_options;
  const bool across_machines = std::any_of(machine_of_device.begin(), machine_of_device.end(), [](int m) { return m != 0; });
  if (!automatic || !across_machines) {
    const ThreadRunOptions run{options.piece_elements, options.stream_min_bytes, 0};
    return plan_layout_call(layout, op, options.bucketing, whole, named, options.algorithm,
                            thread_predictor(default_thread_costs(num_devices), run));
  }
  const Topology job =
      process_job_topology(process_job_of(num_devices, machine_of_device, process_of_device, options.network_gbps));
  return plan_layout_call(layout, op, options.bucketing, whole, named, options.algorithm,
                          simulator_predictor(job, devices, SimulationOptions{}));
}

}  // namespace meshreduce::detail
