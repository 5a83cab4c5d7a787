#include "plan/planner.h"

#include <string>

#include "meshreduce/error.h"

namespace meshreduce::detail {

namespace {

// The fastest algorithm that accepts the request, by `predict(schedule)` in seconds.
template <typename Predict>
AlgorithmChoice fastest(const AlgorithmRequest& request, const Predict& predict) {
  AlgorithmChoice best;
  std::string reasons;
  for (const Algorithm& algorithm : algorithms()) {
    if (auto reason = algorithm.decline(request)) {
      reasons += " " + std::string(algorithm.name) + ": " + *reason + ";";
      continue;
    }
    const double predicted = predict(algorithm.build(request));
    if (best.algorithm == nullptr || predicted < best.predicted_s) best = {&algorithm, predicted};
  }
  if (best.algorithm == nullptr) throw Unsupported("no algorithm accepts the request:" + reasons);
  return best;
}

}  // namespace

AlgorithmChoice choose_algorithm(const AlgorithmRequest& request, const Topology& topology,
                                 const std::vector<int>& devices, const SimulationOptions& options) {
  SimulationOptions quiet = options;
  quiet.trace = false;
  return fastest(request, [&](const Schedule& schedule) { return simulate(schedule, topology, devices, quiet).time_s; });
}

AlgorithmChoice choose_algorithm_for_threads(const AlgorithmRequest& request, const ThreadCosts& costs,
                                             const ThreadRunOptions& run) {
  return fastest(request, [&](const Schedule& schedule) { return predict_thread_time(schedule, costs, run).time_s; });
}

}  // namespace meshreduce::detail
