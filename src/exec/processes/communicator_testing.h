// Internal: the test seam of a ProcessCommunicator. Tests install executor hooks
// (exec/processes/faults.h) on one communicator; nothing global.
#pragma once

#include <memory>

#include "exec/processes/faults.h"
#include "meshreduce/process_communicator.h"

namespace meshreduce::detail {

struct ProcessCommunicatorTesting {
  // Null removes them. Applies to every layout, planned already or later, from the next call.
  static void set_hooks(ProcessCommunicator& communicator, std::shared_ptr<const ProcessExecutionHooks> hooks);
};

}  // namespace meshreduce::detail
