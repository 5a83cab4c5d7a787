// Internal: the planner behind algorithm "auto". It asks a cost model (the simulator on a
// topology, or the thread executor's model) how long each algorithm takes and keeps the fastest:
// per request, and for a whole call of many buckets, over the whole call's plan.
#pragma once

#include <functional>
#include <span>
#include <string_view>
#include <vector>

#include "meshreduce/algorithm.h"
#include "meshreduce/communicator.h"
#include "meshreduce/simulator.h"
#include "meshreduce/thread_model.h"

namespace meshreduce::detail {

struct AlgorithmChoice {
  const Algorithm* algorithm = nullptr;
  double predicted_s = 0;
};

// Predicted seconds of a schedule.
using Predictor = std::function<double(const Schedule&)>;

// The simulator on `topology` (trace off).
Predictor simulator_predictor(const Topology& topology, const std::vector<int>& devices, const SimulationOptions& options);
// The thread executor's cost model (thread_model.h): for calls that run on this machine's
// threads, where every byte read or written costs memory bandwidth.
Predictor thread_predictor(const ThreadCosts& costs, const ThreadRunOptions& run);

// The fastest algorithm that accepts one request. Throws Unsupported when none does.
AlgorithmChoice choose_algorithm(const AlgorithmRequest& request, const Predictor& predict);

// One call over many buckets: the algorithm of each bucket and the merged schedule.
struct LayoutPlan {
  std::vector<BucketChoice> choices;  // per request; predicted_s: that bucket alone
  Schedule schedule;                  // all buckets merged, num_devices and op set
  double predicted_s = 0;             // the whole schedule
};

// Buckets of one call run together and contend for the same links, so the fastest bucket alone
// need not make the fastest call: the candidates are every bucket's own fastest algorithm (the
// mix) and each algorithm that accepts every bucket, each predicted as the whole merged schedule;
// the fastest whole prediction wins (the mix on ties). An empty `requests` gives an empty plan.
// Throws Unsupported when some bucket has no algorithm.
LayoutPlan plan_layout(std::span<const AlgorithmRequest> requests, const Predictor& predict);

// A call's plan with a named algorithm for every bucket, or, when `named` is null, the one
// plan_layout() predicts fastest. num_devices and op of the schedule are set either way.
LayoutPlan plan_call(std::span<const AlgorithmRequest> requests, const Algorithm* named, const Predictor& predict);

// The request of one bucket of a call: `devices` (what every bucket of the call shares: K,
// groups, topology and its device ids, the algorithm options) with the bucket's count, dtype and
// rotation and the call's op.
AlgorithmRequest make_request(const AlgorithmRequest& devices, const Bucket& bucket, ReduceOp op);

// A call's Plan, as the thread and the process executors plan it: `layout` cut into buckets
// (`bucketing`), one make_request each, planned by plan_call; the schedule's algorithm is
// `name` when the plan leaves it empty. A named algorithm that cannot serve these devices throws
// Unsupported even for a call with no data.
Plan plan_layout_call(std::span<const TensorSpec> layout, ReduceOp op, const BucketingOptions& bucketing,
                      const AlgorithmRequest& devices, const Algorithm* named, std::string_view name,
                      const Predictor& predict);

}  // namespace meshreduce::detail
