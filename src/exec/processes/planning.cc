#include "exec/processes/planning.h"

#include <string>
#include <utility>

#include "meshreduce/error.h"
#include "meshreduce/thread_model.h"
#include "plan/planner.h"

namespace meshreduce::detail {

Plan plan_for_processes(std::span<const TensorSpec> layout, ReduceOp op, int num_devices,
                        const std::vector<std::vector<int>>& groups, const ProcessCommunicatorOptions& options) {
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
  return plan_layout_call(layout, op, options.bucketing, whole, named, options.algorithm,
                          thread_predictor(costs, run));
}

}  // namespace meshreduce::detail
