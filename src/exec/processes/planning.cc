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

  const auto request_for = [&](const Bucket& bucket) {
    AlgorithmRequest request;
    request.num_devices = num_devices;
    request.groups = groups;
    request.topology = &topology;
    request.topology_devices = devices;
    request.count = bucket.count;
    request.dtype = bucket.dtype;
    request.op = op;
    request.rotation = bucket.rotation;
    request.options = options.algorithm_options;
    return request;
  };
  if (named != nullptr)
    if (auto reason = named->decline(request_for({})))
      throw Unsupported("algorithm " + std::string(named->name) + " cannot serve " + std::to_string(num_devices) +
                        " devices: " + *reason);

  Plan plan;
  plan.layout.assign(layout.begin(), layout.end());
  plan.buckets = make_buckets(layout, options.bucketing);
  std::vector<AlgorithmRequest> requests;
  for (const Bucket& bucket : plan.buckets) requests.push_back(request_for(bucket));
  LayoutPlan planned = plan_call(requests, named, thread_predictor(costs, run));
  plan.choices = std::move(planned.choices);
  plan.schedule = std::move(planned.schedule);
  plan.schedule.num_devices = num_devices;
  plan.schedule.op = op;
  if (plan.schedule.algorithm.empty()) plan.schedule.algorithm = options.algorithm;
  return plan;
}

}  // namespace meshreduce::detail
