#include "exec/processes/machines.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

namespace meshreduce::detail {
namespace {

class Splitter {
 public:
  Splitter(const Schedule& original, const ProcessMap& map, std::span<const int> machine_of)
      : original_(original), map_(map), machine_of_(machine_of) {
    result_.schedule.algorithm = original.algorithm;
    result_.schedule.num_devices = original.num_devices;
    result_.schedule.op = original.op;
    result_.schedule.buffers = original.buffers;
    result_.schedule.scratch = original.scratch;
  }

  MachineSchedule run() {
    completion_.resize(original_.steps.size());
    for (std::size_t s = 0; s < original_.steps.size(); ++s) split(static_cast<int>(s));
    return std::move(result_);
  }

 private:
  int process_of(int device) const { return map_.process_of[static_cast<std::size_t>(device)]; }
  int machine_of_process(int process) const { return machine_of_[static_cast<std::size_t>(process)]; }
  int machine_of_device(int device) const { return machine_of_process(process_of(device)); }
  // Where the completion of a (new) step is known: its receiver for a transfer.
  int flag_process(int step) const {
    const int receiver = result_.receiver[static_cast<std::size_t>(step)];
    return receiver >= 0 ? receiver : process_of(result_.schedule.steps[static_cast<std::size_t>(step)].device);
  }

  int push(Step step, int receiver) {
    result_.receiver.push_back(receiver);
    return result_.schedule.add(std::move(step));
  }

  // A signal carrying the completion of `step` to process `to`, made once per pair.
  int signal(int step, int to) {
    const auto key = std::pair(step, to);
    if (auto found = signals_.find(key); found != signals_.end()) return found->second;
    Step message;
    message.kind = StepKind::copy;
    message.device = map_.first_device[static_cast<std::size_t>(flag_process(step))];
    message.deps = {step};
    return signals_[key] = push(std::move(message), to);
  }

  // Dependencies for a step that runs in process `runner`: those known on another machine
  // arrive as signals, unless another of the dependencies, known here, is a transfer that
  // waited for it at its sender (a step's result sent to this machine waited for the step):
  // that one's completion implies it, and a signal would only add a message between machines.
  std::vector<int> local_deps(const std::set<int>& deps, int runner) {
    const int here = machine_of_process(runner);
    const auto known_here = [&](int dep) { return machine_of_process(flag_process(dep)) == here; };
    const auto implied = [&](int dep) {
      return std::any_of(deps.begin(), deps.end(), [&](int other) {
        const auto& waited = result_.schedule.steps[static_cast<std::size_t>(other)].deps;
        return result_.receiver[static_cast<std::size_t>(other)] >= 0 && known_here(other) &&
               std::find(waited.begin(), waited.end(), dep) != waited.end();
      });
    };
    std::set<int> result;
    for (int dep : deps) {
      if (known_here(dep)) result.insert(dep);
      else if (!implied(dep)) result.insert(signal(dep, runner));
    }
    return {result.begin(), result.end()};
  }

  // The dependencies of a transfer that reads memory of `machine` into new scratch: those known
  // there. Every step that writes memory of a machine completes there (a destination on another
  // machine is a transfer completing at its receiver), so these hold every write the transfer
  // must follow; the scratch is new and the source is not written. The step's other
  // dependencies hold its computation, not the transfer: waiting for them as well would cost a
  // signal from the receiving machine and delay the data by a round trip between the machines.
  std::vector<int> deps_on_machine(const std::set<int>& deps, int machine) const {
    std::vector<int> result;
    for (int dep : deps)
      if (machine_of_process(flag_process(dep)) == machine) result.push_back(dep);
    return result;
  }

  BufferRef new_scratch(int device, std::int64_t count, DType dtype) {
    result_.schedule.scratch.push_back({device, count, dtype});
    return {device, BufferKind::scratch, static_cast<int>(result_.schedule.scratch.size()) - 1, 0};
  }

  void split(int s) {
    const Step& step = original_.steps[static_cast<std::size_t>(s)];
    std::set<int> deps;
    for (int dep : step.deps)
      for (int done : completion_[static_cast<std::size_t>(dep)]) deps.insert(done);
    const int runner = process_of(step.device);
    const int machine = machine_of_process(runner);
    Step local = step;
    std::set<int> local_deps_set = deps;
    for (BufferRef& src : local.srcs) {
      if (machine_of_device(src.device) == machine) continue;
      const BufferRef scratch = new_scratch(step.device, step.count, original_.dtype_of(src));
      Step transfer;
      transfer.kind = StepKind::copy;
      transfer.device = src.device;
      transfer.count = step.count;
      transfer.srcs = {src};
      transfer.dsts = {scratch};
      transfer.deps = deps_on_machine(deps, machine_of_device(src.device));
      local_deps_set.insert(push(std::move(transfer), runner));
      src = scratch;
    }
    std::vector<std::pair<BufferRef, BufferRef>> outgoing;  // (scratch, remote destination)
    for (BufferRef& dst : local.dsts) {
      if (machine_of_device(dst.device) == machine) continue;
      const BufferRef scratch = new_scratch(step.device, step.count, original_.dtype_of(dst));
      outgoing.emplace_back(scratch, dst);
      dst = scratch;
    }
    local.deps = local_deps(local_deps_set, runner);
    const int computed = push(std::move(local), -1);
    auto& done = completion_[static_cast<std::size_t>(s)];
    done.push_back(computed);
    for (const auto& [scratch, dst] : outgoing) {
      Step transfer;
      transfer.kind = StepKind::copy;
      transfer.device = step.device;
      transfer.count = step.count;
      transfer.srcs = {scratch};
      transfer.dsts = {dst};
      transfer.deps = {computed};
      done.push_back(push(std::move(transfer), process_of(dst.device)));
    }
  }

  const Schedule& original_;
  const ProcessMap& map_;
  std::span<const int> machine_of_;
  MachineSchedule result_;
  std::vector<std::vector<int>> completion_;  // per original step: the new steps that finish it
  std::map<std::pair<int, int>, int> signals_;
};

// A transfer runs at its sender, which walks its steps in schedule order, so a transfer left at
// the place of the step it serves waits behind everything its sender does first. In
// hierarchical-rs's exchange between machines each of two partners first runs the step that
// combines the part it owns, waiting for its partner's data, and only then sends its own data
// for the other part: one partner's send waited for the other's, and the link carried one
// direction at a time. Each transfer (signals too) moves up to just after its last dependency,
// so it starts as soon as its data is there. Dependencies still precede their steps, which is
// all the executor needs to run the schedule without deadlock.
MachineSchedule hoist_transfers(MachineSchedule split) {
  const std::vector<Step>& steps = split.schedule.steps;
  const std::size_t count = steps.size();
  std::vector<int> missing(count, 0);          // per transfer: dependencies not yet placed
  std::vector<std::vector<int>> unblocks(count);  // per step: the transfers that depend on it
  for (std::size_t s = 0; s < count; ++s) {
    if (split.receiver[s] < 0) continue;
    for (int dep : steps[s].deps) {
      ++missing[s];
      unblocks[static_cast<std::size_t>(dep)].push_back(static_cast<int>(s));
    }
  }
  std::vector<int> order;  // old indices in their new order
  std::vector<int> position(count, -1);
  std::vector<int> queue;
  const auto place = [&](int first) {
    queue.assign(1, first);
    for (std::size_t q = 0; q < queue.size(); ++q) {
      const int s = queue[q];
      position[static_cast<std::size_t>(s)] = static_cast<int>(order.size());
      order.push_back(s);
      for (int transfer : unblocks[static_cast<std::size_t>(s)])
        if (--missing[static_cast<std::size_t>(transfer)] == 0) queue.push_back(transfer);
    }
  };
  for (std::size_t s = 0; s < count; ++s)
    if (split.receiver[s] >= 0 && steps[s].deps.empty()) place(static_cast<int>(s));
  // Every dependency points to an earlier step, so when step s comes up every step before it is
  // placed, and with them every dependency of s: s is placed now unless it was hoisted.
  for (std::size_t s = 0; s < count; ++s)
    if (position[s] < 0) place(static_cast<int>(s));
  MachineSchedule result;
  result.schedule.algorithm = split.schedule.algorithm;
  result.schedule.num_devices = split.schedule.num_devices;
  result.schedule.op = split.schedule.op;
  result.schedule.buffers = std::move(split.schedule.buffers);
  result.schedule.scratch = std::move(split.schedule.scratch);
  result.receiver.reserve(count);
  for (int s : order) {
    Step step = steps[static_cast<std::size_t>(s)];
    for (int& dep : step.deps) dep = position[static_cast<std::size_t>(dep)];
    std::sort(step.deps.begin(), step.deps.end());
    result.receiver.push_back(split.receiver[static_cast<std::size_t>(s)]);
    result.schedule.add(std::move(step));
  }
  return result;
}

}  // namespace

MachineSchedule split_by_machine(const Schedule& schedule, const ProcessMap& map, std::span<const int> machine_of) {
  const bool one_machine = std::all_of(machine_of.begin(), machine_of.end(), [&](int m) { return m == machine_of.front(); });
  if (one_machine) return {schedule, std::vector<int>(schedule.steps.size(), -1)};
  return hoist_transfers(Splitter(schedule, map, machine_of).run());
}

}  // namespace meshreduce::detail
