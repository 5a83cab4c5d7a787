#include "meshreduce/schedule.h"

#include <map>
#include <string>

#include "meshreduce/error.h"

namespace meshreduce {

std::string_view step_kind_name(StepKind kind) noexcept {
  switch (kind) {
    case StepKind::reduce: return "reduce";
    case StepKind::copy: return "copy";
    case StepKind::scale: return "scale";
  }
  return "?";
}

std::string_view buffer_kind_name(BufferKind kind) noexcept {
  switch (kind) {
    case BufferKind::input: return "input";
    case BufferKind::output: return "output";
    case BufferKind::scratch: return "scratch";
  }
  return "?";
}

int Schedule::add(Step step) {
  steps.push_back(std::move(step));
  return static_cast<int>(steps.size()) - 1;
}

DType Schedule::dtype_of(const BufferRef& ref) const {
  if (ref.kind == BufferKind::scratch) {
    if (ref.buffer < 0 || ref.buffer >= static_cast<int>(scratch.size()))
      throw ScheduleError("reference to scratch buffer " + std::to_string(ref.buffer) + " of " +
                          std::to_string(scratch.size()));
    return scratch[static_cast<std::size_t>(ref.buffer)].dtype;
  }
  if (ref.buffer < 0 || ref.buffer >= static_cast<int>(buffers.size()))
    throw ScheduleError("reference to buffer " + std::to_string(ref.buffer) + " of " +
                        std::to_string(buffers.size()));
  return buffers[static_cast<std::size_t>(ref.buffer)].dtype;
}

Schedule merge_schedules(std::vector<Schedule> parts) {
  Schedule merged;
  if (parts.empty()) return merged;
  merged.algorithm = parts.front().algorithm;
  merged.num_devices = parts.front().num_devices;
  merged.op = parts.front().op;
  for (Schedule& part : parts) {
    if (part.num_devices != merged.num_devices || part.op != merged.op)
      throw ScheduleError("merging schedules of different device counts or ops");
    if (part.algorithm != merged.algorithm) merged.algorithm = "mixed";
    const int buffer_base = static_cast<int>(merged.buffers.size());
    const int scratch_base = static_cast<int>(merged.scratch.size());
    const int step_base = static_cast<int>(merged.steps.size());
    merged.buffers.insert(merged.buffers.end(), part.buffers.begin(), part.buffers.end());
    merged.scratch.insert(merged.scratch.end(), part.scratch.begin(), part.scratch.end());
    for (Step& step : part.steps) {
      for (auto* refs : {&step.srcs, &step.dsts})
        for (BufferRef& ref : *refs) ref.buffer += ref.kind == BufferKind::scratch ? scratch_base : buffer_base;
      for (int& dep : step.deps) dep += step_base;
      merged.steps.push_back(std::move(step));
    }
  }
  return merged;
}

namespace {

// Calls visit(from, to, bytes) for every transfer a step makes (see Step::device).
template <typename Visit>
void for_each_transfer(const Schedule& schedule, const Step& step, Visit&& visit) {
  for (const BufferRef& src : step.srcs)
    if (src.device != step.device)
      visit(src.device, step.device, step.count * static_cast<std::int64_t>(dtype_size(schedule.dtype_of(src))));
  for (const BufferRef& dst : step.dsts)
    if (dst.device != step.device)
      visit(step.device, dst.device, step.count * static_cast<std::int64_t>(dtype_size(schedule.dtype_of(dst))));
}

}  // namespace

std::vector<PairTraffic> pair_traffic(const Schedule& schedule) {
  std::map<std::pair<int, int>, std::int64_t> bytes;
  for (const Step& step : schedule.steps)
    for_each_transfer(schedule, step, [&](int from, int to, std::int64_t n) { bytes[{from, to}] += n; });
  std::vector<PairTraffic> pairs;
  for (const auto& [pair, n] : bytes) pairs.push_back({pair.first, pair.second, n});
  return pairs;
}

TrafficSummary summarize_traffic(const Schedule& schedule) {
  const auto devices = static_cast<std::size_t>(schedule.num_devices);
  TrafficSummary summary{std::vector<std::int64_t>(devices), std::vector<std::int64_t>(devices),
                         std::vector<std::int64_t>(devices), 0};
  for (const Step& step : schedule.steps) {
    ++summary.steps;
    if (step.kind == StepKind::reduce)
      for (const BufferRef& src : step.srcs)
        summary.bytes_reduced[static_cast<std::size_t>(step.device)] +=
            step.count * static_cast<std::int64_t>(dtype_size(schedule.dtype_of(src)));
    for_each_transfer(schedule, step, [&](int from, int to, std::int64_t bytes) {
      summary.bytes_sent[static_cast<std::size_t>(from)] += bytes;
      summary.bytes_received[static_cast<std::size_t>(to)] += bytes;
    });
  }
  return summary;
}

}  // namespace meshreduce
