// Internal: the test seam of a Communicator. Tests install executor hooks (exec/threads/faults.h)
// on one communicator; nothing global, and a communicator without hooks pays one untaken branch
// per piece.
#pragma once

#include <memory>

#include "exec/threads/faults.h"
#include "meshreduce/communicator.h"

namespace meshreduce::detail {

struct CommunicatorTesting {
  // Null removes them. Takes effect from the next call.
  static void set_hooks(Communicator& communicator, std::shared_ptr<const ExecutionHooks> hooks);
};

}  // namespace meshreduce::detail
