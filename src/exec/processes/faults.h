// Internal: the process executor's test seam. A call runs `before_step` (when set) before each of
// this process's steps in each of its staging windows, after it has staged the window: the hook may throw (a process that
// raises mid-call), block (one that stalls), or end the process (_exit, SIGKILL: one that dies
// with part of the call done). Per communicator, never global; absent, it costs one untaken
// branch per step.
#pragma once

#include <cstdint>
#include <functional>

namespace meshreduce::detail {

struct ProcessStepEvent {
  int rank = 0;
  int step = 0;            // program step
  int index = 0;           // among this process's steps: `index` of them are done
  int steps = 0;           // this process's steps in a call
  std::uint64_t call = 0;  // calls of this layout so far, this one included
  int window = 0;          // of the call's staging windows (process_program.h)
  int windows = 1;
};

struct ProcessExecutionHooks {
  std::function<void(const ProcessStepEvent&)> before_step;
};

}  // namespace meshreduce::detail
