// The JSON form of a schedule: what `meshreduce plan --json` writes and `meshreduce verify
// --schedule` reads, so that schedules can be drawn, diffed, or written by hand.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>

#include "core/json_input.h"
#include "core/text.h"
#include "meshreduce/error.h"
#include "meshreduce/limits.h"
#include "meshreduce/schedule.h"

namespace meshreduce {
namespace {

using nlohmann::json;
using detail::describe_json;
using detail::excerpt;

// Bounds beyond limits.h: a schedule names buffers by index, and one step has as many sources
// and destinations as devices take part (docs/limits.md).
constexpr std::int64_t kMaxBuffers = limits::kMaxTensors;
constexpr std::int64_t kMaxScratch = std::int64_t{1} << 24;
constexpr std::int64_t kMaxRefs = 2 * limits::kMaxDevices;

constexpr detail::JsonFields<ScheduleError> kJson{""};

[[noreturn]] void fail(const std::string& where, const std::string& what) { kJson.fail(where, what); }

const json& array(const json& object, const char* key, const std::string& where, std::int64_t most) {
  const json& value = kJson.field(object, key, where);
  if (!value.is_array()) fail(where, std::string("'") + key + "' must be an array, got " + describe_json(value));
  if (static_cast<std::int64_t>(value.size()) > most)
    fail(where, std::string("'") + key + "' has " + std::to_string(value.size()) +
                    " entries, more than the largest allowed, " + std::to_string(most));
  return value;
}

template <typename Enum, typename Name>
Enum parse_enum(const std::string& text, std::initializer_list<Enum> values, Name name, const std::string& where) {
  std::string known;
  for (Enum value : values) {
    if (name(value) == text) return value;
    known += " " + std::string(name(value));
  }
  fail(where, "unknown value '" + excerpt(text) + "' (known:" + known + ")");
}

json ref_to_json(const BufferRef& ref) {
  return {{"device", ref.device}, {"kind", buffer_kind_name(ref.kind)}, {"buffer", ref.buffer}, {"offset", ref.offset}};
}

BufferRef ref_from_json(const json& j, int devices, const std::string& where) {
  BufferRef ref;
  ref.device = static_cast<int>(kJson.integer(j, "device", where, 0, devices - 1));
  ref.kind = parse_enum(kJson.text(j, "kind", where), {BufferKind::input, BufferKind::output, BufferKind::scratch},
                        buffer_kind_name, where + ".kind");
  ref.buffer = static_cast<int>(kJson.integer(j, "buffer", where, 0, std::max(kMaxBuffers, kMaxScratch) - 1));
  ref.offset = kJson.integer(j, "offset", where, 0, limits::kMaxTensorElements);
  return ref;
}

DType dtype_from_json(const json& j, const std::string& where) {
  try {
    return parse_dtype(kJson.text(j, "dtype", where));
  } catch (const InvalidArgument& e) {
    fail(where + ".dtype", excerpt(e.what(), 200));
  }
}

}  // namespace

std::string schedule_to_json(const Schedule& schedule, int indent) {
  json j{{"algorithm", schedule.algorithm}, {"devices", schedule.num_devices}, {"op", reduce_op_name(schedule.op)},
         {"buffers", json::array()}, {"scratch", json::array()}, {"steps", json::array()}};
  for (const BufferSpec& buffer : schedule.buffers)
    j["buffers"].push_back({{"count", buffer.count}, {"dtype", dtype_name(buffer.dtype)}});
  for (const ScratchSpec& scratch : schedule.scratch)
    j["scratch"].push_back({{"device", scratch.device}, {"count", scratch.count}, {"dtype", dtype_name(scratch.dtype)}});
  for (const Step& step : schedule.steps) {
    json s{{"kind", step_kind_name(step.kind)}, {"device", step.device}, {"count", step.count},
           {"srcs", json::array()}, {"dsts", json::array()}, {"deps", step.deps}};
    if (step.average) s["average"] = true;
    for (const BufferRef& ref : step.srcs) s["srcs"].push_back(ref_to_json(ref));
    for (const BufferRef& ref : step.dsts) s["dsts"].push_back(ref_to_json(ref));
    j["steps"].push_back(std::move(s));
  }
  return j.dump(indent);
}

Schedule schedule_from_json(const std::string& json_text) {
  const json j = detail::parse_json_input<ScheduleError>(json_text, "schedule JSON");
  const std::string top = "schedule";
  Schedule schedule;
  if (!j.is_object()) fail(top, "expected an object, got " + describe_json(j));
  schedule.algorithm = j.contains("algorithm") ? kJson.text(j, "algorithm", top) : "";
  schedule.num_devices = static_cast<int>(kJson.integer(j, "devices", top, 1, limits::kMaxDevices));
  try {
    schedule.op = parse_reduce_op(kJson.text(j, "op", top));
  } catch (const InvalidArgument& e) {
    fail("schedule.op", excerpt(e.what(), 200));
  }
  const json& buffers = array(j, "buffers", top, kMaxBuffers);
  std::int64_t total = 0;
  for (std::size_t b = 0; b < buffers.size(); ++b) {
    const std::string where = "buffers[" + std::to_string(b) + "]";
    const std::int64_t count = kJson.integer(buffers[b], "count", where, 0, limits::kMaxTensorElements);
    total = limits::checked_add(where + ": elements of all buffers", total, count, limits::kMaxTensorElements);
    schedule.buffers.push_back({count, dtype_from_json(buffers[b], where)});
  }
  if (j.contains("scratch")) {
    const json& scratch = array(j, "scratch", top, kMaxScratch);
    for (std::size_t s = 0; s < scratch.size(); ++s) {
      const std::string where = "scratch[" + std::to_string(s) + "]";
      schedule.scratch.push_back({static_cast<int>(kJson.integer(scratch[s], "device", where, 0, schedule.num_devices - 1)),
                                  kJson.integer(scratch[s], "count", where, 0, limits::kMaxTensorElements),
                                  dtype_from_json(scratch[s], where)});
    }
  }
  const json& steps = array(j, "steps", top, limits::kMaxScheduleSteps);
  for (std::size_t s = 0; s < steps.size(); ++s) {
    const std::string where = "steps[" + std::to_string(s) + "]";
    const json& step = steps[s];
    Step parsed;
    parsed.kind = parse_enum(kJson.text(step, "kind", where), {StepKind::reduce, StepKind::copy, StepKind::scale},
                             step_kind_name, where + ".kind");
    parsed.device = static_cast<int>(kJson.integer(step, "device", where, 0, schedule.num_devices - 1));
    parsed.count = kJson.integer(step, "count", where, 0, limits::kMaxTensorElements);
    const json& srcs = array(step, "srcs", where, kMaxRefs);
    for (std::size_t r = 0; r < srcs.size(); ++r)
      parsed.srcs.push_back(ref_from_json(srcs[r], schedule.num_devices, where + ".srcs[" + std::to_string(r) + "]"));
    const json& dsts = array(step, "dsts", where, kMaxRefs);
    for (std::size_t r = 0; r < dsts.size(); ++r)
      parsed.dsts.push_back(ref_from_json(dsts[r], schedule.num_devices, where + ".dsts[" + std::to_string(r) + "]"));
    if (step.contains("deps")) {
      const json& deps = array(step, "deps", where, limits::kMaxScheduleSteps);
      for (std::size_t d = 0; d < deps.size(); ++d)
        parsed.deps.push_back(static_cast<int>(
            kJson.integer_value(deps[d], "'deps'[" + std::to_string(d) + "]", where, 0, limits::kMaxScheduleSteps)));
    }
    if (step.contains("average")) parsed.average = kJson.boolean(step, "average", where);
    schedule.steps.push_back(std::move(parsed));
  }
  return schedule;
}

}  // namespace meshreduce
