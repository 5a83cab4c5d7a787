// Internal: the planner behind algorithm "auto". It asks the simulator how long each algorithm
// that accepts a request takes on the topology and takes the fastest.
#pragma once

#include "meshreduce/algorithm.h"
#include "meshreduce/simulator.h"
#include "meshreduce/thread_model.h"

namespace meshreduce::detail {

struct AlgorithmChoice {
  const Algorithm* algorithm = nullptr;
  double predicted_s = 0;
};

// Throws Unsupported when no algorithm accepts the request.
AlgorithmChoice choose_algorithm(const AlgorithmRequest& request, const Topology& topology,
                                 const std::vector<int>& devices, const SimulationOptions& options);

// The same, predicting with the thread executor's cost model (thread_model.h): for calls that
// run on this machine's threads, where every byte read or written costs memory bandwidth.
AlgorithmChoice choose_algorithm_for_threads(const AlgorithmRequest& request, const ThreadCosts& costs,
                                             const ThreadRunOptions& run);

}  // namespace meshreduce::detail
