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
  // arrive as signals.
  std::vector<int> local_deps(const std::set<int>& deps, int runner) {
    std::set<int> result;
    for (int dep : deps)
      result.insert(machine_of_process(flag_process(dep)) == machine_of_process(runner) ? dep : signal(dep, runner));
    return {result.begin(), result.end()};
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
      transfer.deps = local_deps(deps, process_of(src.device));
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

}  // namespace

MachineSchedule split_by_machine(const Schedule& schedule, const ProcessMap& map, std::span<const int> machine_of) {
  const bool one_machine = std::all_of(machine_of.begin(), machine_of.end(), [&](int m) { return m == machine_of.front(); });
  if (one_machine) return {schedule, std::vector<int>(schedule.steps.size(), -1)};
  return Splitter(schedule, map, machine_of).run();
}

}  // namespace meshreduce::detail
