#include "exec/processes/planning.h"

#include <algorithm>
#include <string>
#include <utility>

#include "meshreduce/error.h"
#include "meshreduce/schedule.h"
#include "meshreduce/thread_model.h"
#include "plan/planner.h"

namespace meshreduce::detail {

double predict_across_machines(const Schedule& schedule, double memory_time, std::span<const int> machine_of_device) {
  const auto machine = [&](int device) { return machine_of_device[static_cast<std::size_t>(device)]; };
  const int machines = machine_of_device.empty() ? 1 : *std::max_element(machine_of_device.begin(), machine_of_device.end()) + 1;
  if (machines <= 1) return memory_time;
  std::vector<double> out(static_cast<std::size_t>(machines), 0.0), in(static_cast<std::size_t>(machines), 0.0);
  for (const Step& step : schedule.steps) {
    if (step.count == 0 || step.dsts.empty()) continue;
    const double bytes = static_cast<double>(step.count) * static_cast<double>(dtype_size(schedule.dtype_of(step.dsts.front())));
    const int where = machine(step.device);
    // A source on another machine is received where the step runs; a destination elsewhere is sent.
    for (const BufferRef& src : step.srcs)
      if (const int from = machine(src.device); from != where) {
        out[static_cast<std::size_t>(from)] += bytes;
        in[static_cast<std::size_t>(where)] += bytes;
      }
    for (const BufferRef& dst : step.dsts)
      if (const int to = machine(dst.device); to != where) {
        out[static_cast<std::size_t>(where)] += bytes;
        in[static_cast<std::size_t>(to)] += bytes;
      }
  }
  double busiest = 0;
  for (int m = 0; m < machines; ++m)
    busiest = std::max({busiest, out[static_cast<std::size_t>(m)], in[static_cast<std::size_t>(m)]});
  return memory_time + busiest / (kAssumedNetworkGbps * 1e9);
}

Plan plan_for_processes(std::span<const TensorSpec> layout, ReduceOp op, int num_devices,
                        const std::vector<std::vector<int>>& groups, const ProcessCommunicatorOptions& options,
                        std::span<const int> machine_of_device) {
  const bool automatic = options.algorithm == "auto";
  const Algorithm* named = automatic ? nullptr : &find_algorithm(options.algorithm);
  const ThreadCosts costs = default_thread_costs(num_devices);
  const ThreadRunOptions run{options.piece_elements, options.stream_min_bytes, 0};
  // As a Communicator without a topology sees its devices 0..K-1: a flat machine.
  const Topology topology = flat_topology(num_devices);
  std::vector<int> devices(static_cast<std::size_t>(num_devices));
  for (int d = 0; d < num_devices; ++d) devices[static_cast<std::size_t>(d)] = d;

  AlgorithmRequest whole;
  whole.num_devices = num_devices;
  whole.groups = groups;
  whole.topology = &topology;
  whole.topology_devices = devices;
  whole.options = options.algorithm_options;
  const Predictor memory = thread_predictor(costs, run);
  const std::vector<int> machines(machine_of_device.begin(), machine_of_device.end());
  return plan_layout_call(layout, op, options.bucketing, whole, named, options.algorithm,
                          [memory, machines](const Schedule& schedule) {
                            return predict_across_machines(schedule, memory(schedule), machines);
                          });
}

}  // namespace meshreduce::detail
