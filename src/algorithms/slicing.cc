#include "algorithms/slicing.h"

#include <algorithm>

namespace meshreduce::detail {

Range part(Range whole, std::int64_t parts, std::int64_t index) {
  const std::int64_t base = whole.count / parts;
  const std::int64_t longer = whole.count % parts;
  const std::int64_t offset = whole.offset + index * base + std::min(index, longer);
  return {offset, base + (index < longer ? 1 : 0)};
}

std::vector<Range> chunks(Range whole, std::int64_t limit) {
  std::vector<Range> result;
  if (whole.empty()) return result;
  if (limit <= 0 || limit >= whole.count) return {whole};
  limit = std::max(limit, (whole.count - 1) / kMostChunks + 1);
  for (std::int64_t at = whole.offset; at < whole.end(); at += limit)
    result.push_back({at, std::min(limit, whole.end() - at)});
  return result;
}

std::vector<Range> blocks(std::int64_t count, std::int64_t per_device, int devices) {
  // per_device * devices without overflow: a block as long as the buffer is one block.
  const std::int64_t limit = per_device <= 0 || per_device >= (count + devices - 1) / devices
                                 ? 0
                                 : per_device * devices;
  return chunks({0, count}, limit);
}

int rotated(std::int64_t index, std::int64_t rotation, int devices) {
  const std::int64_t shift = rotation % devices;
  return static_cast<int>((index + shift + devices) % devices);
}

Schedule start_schedule(std::string_view name, const AlgorithmRequest& request) {
  Schedule schedule;
  schedule.algorithm = std::string(name);
  schedule.num_devices = request.num_devices;
  schedule.op = request.op;
  schedule.buffers.push_back({request.count, request.dtype});
  return schedule;
}

bool finish_if_trivial(Schedule& schedule, const AlgorithmRequest& request) {
  if (request.count == 0) return true;
  if (request.num_devices != 1) return false;
  add_if_nonempty(schedule, {StepKind::copy, 0, request.count, {input_at(0, 0)}, {output_at(0, 0)}, {}, false});
  return true;
}

std::optional<std::string> decline_without_devices(const AlgorithmRequest& request) {
  if (request.num_devices < 1) return "needs at least 1 device, got " + std::to_string(request.num_devices);
  return std::nullopt;
}

int add_if_nonempty(Schedule& schedule, Step step) {
  if (step.count <= 0) return -1;
  return schedule.add(std::move(step));
}

std::vector<int> real_deps(std::initializer_list<int> deps) {
  std::vector<int> result;
  for (int dep : deps)
    if (dep >= 0 && std::find(result.begin(), result.end(), dep) == result.end()) result.push_back(dep);
  return result;
}

}  // namespace meshreduce::detail
