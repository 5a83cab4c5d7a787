#include "plan/planner.h"

#include <string>

#include "meshreduce/error.h"

namespace meshreduce::detail {

AlgorithmChoice choose_algorithm(const AlgorithmRequest& request, const Topology& topology,
                                 const std::vector<int>& devices, const SimulationOptions& options) {
  SimulationOptions quiet = options;
  quiet.trace = false;
  AlgorithmChoice best;
  std::string reasons;
  for (const Algorithm& algorithm : algorithms()) {
    if (auto reason = algorithm.decline(request)) {
      reasons += " " + std::string(algorithm.name) + ": " + *reason + ";";
      continue;
    }
    const double predicted = simulate(algorithm.build(request), topology, devices, quiet).time_s;
    if (best.algorithm == nullptr || predicted < best.predicted_s) best = {&algorithm, predicted};
  }
  if (best.algorithm == nullptr) throw Unsupported("no algorithm accepts the request:" + reasons);
  return best;
}

}  // namespace meshreduce::detail
