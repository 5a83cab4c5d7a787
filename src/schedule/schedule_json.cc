// The JSON form of a schedule: what `meshreduce plan --json` writes and `meshreduce verify
// --schedule` reads, so that schedules can be drawn, diffed, or written by hand.
#include <nlohmann/json.hpp>
#include <string>

#include "meshreduce/error.h"
#include "meshreduce/schedule.h"

namespace meshreduce {
namespace {

using nlohmann::json;

template <typename Enum, typename Name>
Enum parse_enum(const std::string& text, std::initializer_list<Enum> values, Name name, const std::string& where) {
  for (Enum value : values)
    if (name(value) == text) return value;
  throw ScheduleError(where + ": unknown value '" + text + "'");
}

json ref_to_json(const BufferRef& ref) {
  return {{"device", ref.device}, {"kind", buffer_kind_name(ref.kind)}, {"buffer", ref.buffer}, {"offset", ref.offset}};
}

BufferRef ref_from_json(const json& j, const std::string& where) {
  return {j.at("device").get<int>(),
          parse_enum(j.at("kind").get<std::string>(), {BufferKind::input, BufferKind::output, BufferKind::scratch},
                     buffer_kind_name, where + ".kind"),
          j.at("buffer").get<int>(), j.at("offset").get<std::int64_t>()};
}

DType dtype_from_json(const json& j, const std::string& where) {
  try {
    return parse_dtype(j.get<std::string>());
  } catch (const InvalidArgument& e) {
    throw ScheduleError(where + ": " + e.what());
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

Schedule schedule_from_json(const std::string& text) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw ScheduleError(std::string("schedule JSON does not parse: ") + e.what());
  }
  std::string where = "schedule";
  try {
    Schedule schedule;
    schedule.algorithm = j.value("algorithm", "");
    schedule.num_devices = j.at("devices").get<int>();
    try {
      schedule.op = parse_reduce_op(j.at("op").get<std::string>());
    } catch (const InvalidArgument& e) {
      throw ScheduleError(std::string("schedule.op: ") + e.what());
    }
    for (std::size_t b = 0; b < j.at("buffers").size(); ++b) {
      where = "buffers[" + std::to_string(b) + "]";
      const json& buffer = j["buffers"][b];
      schedule.buffers.push_back({buffer.at("count").get<std::int64_t>(), dtype_from_json(buffer.at("dtype"), where)});
    }
    for (std::size_t s = 0; s < j.value("scratch", json::array()).size(); ++s) {
      where = "scratch[" + std::to_string(s) + "]";
      const json& scratch = j["scratch"][s];
      schedule.scratch.push_back({scratch.at("device").get<int>(), scratch.at("count").get<std::int64_t>(),
                                  dtype_from_json(scratch.at("dtype"), where)});
    }
    for (std::size_t s = 0; s < j.at("steps").size(); ++s) {
      where = "steps[" + std::to_string(s) + "]";
      const json& step = j["steps"][s];
      Step parsed;
      parsed.kind = parse_enum(step.at("kind").get<std::string>(), {StepKind::reduce, StepKind::copy, StepKind::scale},
                               step_kind_name, where + ".kind");
      parsed.device = step.at("device").get<int>();
      parsed.count = step.at("count").get<std::int64_t>();
      for (const json& ref : step.at("srcs")) parsed.srcs.push_back(ref_from_json(ref, where + ".srcs"));
      for (const json& ref : step.at("dsts")) parsed.dsts.push_back(ref_from_json(ref, where + ".dsts"));
      parsed.deps = step.value("deps", std::vector<int>{});
      parsed.average = step.value("average", false);
      schedule.steps.push_back(std::move(parsed));
    }
    return schedule;
  } catch (const json::exception& e) {
    throw ScheduleError(where + ": " + e.what());
  }
}

}  // namespace meshreduce
