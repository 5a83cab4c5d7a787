// The simulated timeline as a Chrome trace (the "JSON Object Format" of the Trace Event Format):
// process 1 holds a row (thread) per device lane, process 2 a row per link direction; every
// interval is a complete ("X") event with microsecond times.
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "meshreduce/error.h"
#include "meshreduce/simulator.h"

namespace meshreduce {
namespace {

constexpr double kUsPerSecond = 1e6;
constexpr int kDevicesPid = 1;
constexpr int kLinksPid = 2;

}  // namespace

std::string chrome_trace_json(const SimulationResult& result) {
  using nlohmann::json;
  json events = json::array();
  events.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", kDevicesPid}, {"args", {{"name", "devices"}}}});
  events.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", kLinksPid}, {"args", {{"name", "links"}}}});
  const auto pid_of = [&](int row) {
    return result.trace_rows[static_cast<std::size_t>(row)].group == "links" ? kLinksPid : kDevicesPid;
  };
  for (std::size_t row = 0; row < result.trace_rows.size(); ++row) {
    const int pid = pid_of(static_cast<int>(row));
    const int tid = static_cast<int>(row) + 1;
    events.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", pid}, {"tid", tid},
                      {"args", {{"name", result.trace_rows[row].name}}}});
    events.push_back({{"name", "thread_sort_index"}, {"ph", "M"}, {"pid", pid}, {"tid", tid},
                      {"args", {{"sort_index", tid}}}});
  }
  for (const TraceEvent& event : result.trace) {
    json entry{{"name", event.name},
               {"cat", event.category},
               {"ph", "X"},
               {"ts", event.start_s * kUsPerSecond},
               {"dur", event.duration_s * kUsPerSecond},
               {"pid", pid_of(event.row)},
               {"tid", event.row + 1}};
    if (!event.args.empty()) entry["args"] = {{"info", event.args}};
    events.push_back(std::move(entry));
  }
  json document{{"traceEvents", std::move(events)},
                {"displayTimeUnit", "ns"},
                {"otherData",
                 {{"time_s", result.time_s},
                  {"bytes_per_device", result.bytes_per_device},
                  {"algbw_gbps", result.algbw_gbps},
                  {"busbw_gbps", result.busbw_gbps}}}};
  return document.dump() + "\n";
}

void write_chrome_trace(const SimulationResult& result, const std::string& path) {
  const std::string text = chrome_trace_json(result);
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  if (!file) throw Error("cannot write trace file '" + path + "'");
  file << text;
  if (!file.flush()) throw Error("failed writing trace file '" + path + "'");
}

}  // namespace meshreduce
