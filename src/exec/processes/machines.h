// Internal: a schedule rewritten so that processes on different machines never touch each
// other's memory. Each step whose source lies on another machine gets a transfer step first
// (that source copied into new scratch on the step's device), each destination on another
// machine a transfer after it (the result computed into scratch, then copied there), and each
// dependency whose completion is only known on another machine a signal (a transfer of no
// bytes). A transfer runs at its sender (the process of its source) and completes at its
// receiver (the process of its destination), which sets its completion flag; copies keep every
// bit, so results are those of the original schedule. Each transfer is placed right after its
// last dependency, so that its sender, walking its steps in order, starts it as soon as it can.
#pragma once

#include <span>
#include <vector>

#include "exec/processes/process_program.h"
#include "meshreduce/schedule.h"

namespace meshreduce::detail {

struct MachineSchedule {
  Schedule schedule;
  std::vector<int> receiver;  // per step: the process a transfer completes at, or -1
};

// `machine_of` is per process. With one machine the schedule is returned unchanged.
MachineSchedule split_by_machine(const Schedule& schedule, const ProcessMap& map, std::span<const int> machine_of);

}  // namespace meshreduce::detail
