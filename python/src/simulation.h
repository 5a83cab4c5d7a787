// The simulator's options from Python keywords, shared by meshreduce.simulate and
// Communicator.simulate.
#pragma once

#include <string>

#include "meshreduce/simulator.h"

namespace meshreduce::python {

// executor: "by_device", "gpu_kernels" or "cpu_threads"; anything else is an InvalidArgument.
Executor executor_argument(const std::string& executor);

}  // namespace meshreduce::python
