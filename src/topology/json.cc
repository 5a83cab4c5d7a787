// The topology file format; docs/topology-format.md describes it field by field.
#include "topology/json.h"

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "meshreduce/error.h"

namespace meshreduce {
namespace detail {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

constexpr const char* kFormat = "meshreduce-topology";
constexpr int kVersion = 1;

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw TopologyError("topology file: " + where + ": " + what);
}

void check_keys(const json& object, const std::string& where, std::initializer_list<const char*> allowed) {
  if (!object.is_object()) fail(where, "expected an object, got " + object.dump());
  for (const auto& [key, value] : object.items()) {
    bool known = false;
    for (const char* name : allowed) known = known || key == name;
    if (!known) {
      std::string list;
      for (const char* name : allowed) list += std::string(" ") + name;
      fail(where, "unknown key '" + key + "' (known:" + list + ")");
    }
  }
}

template <typename T>
T required(const json& object, const char* key, const std::string& where) {
  if (!object.contains(key)) fail(where, std::string("missing '") + key + "'");
  try {
    return object.at(key).get<T>();
  } catch (const json::exception& e) {
    fail(where, std::string("'") + key + "' has the wrong type (" + object.at(key).dump() + ")");
  }
}

template <typename T>
T optional(const json& object, const char* key, T fallback, const std::string& where) {
  if (!object.contains(key)) return fallback;
  return required<T>(object, key, where);
}

ordered_json device_to_json(const Device& device) {
  ordered_json out{{"id", device.id}, {"name", device.name}, {"kind", node_kind_name(device.kind)}};
  if (device.memory_bytes != 0) out["memory_bytes"] = device.memory_bytes;
  if (device.bandwidth_gbps != 0) out["bandwidth_gbps"] = device.bandwidth_gbps;
  if (device.reduce_gbps != 0) out["reduce_gbps"] = device.reduce_gbps;
  if (!device.source.empty()) out["source"] = device.source;
  return out;
}

Device device_from_json(const json& in, const std::string& where) {
  check_keys(in, where, {"id", "name", "kind", "memory_bytes", "bandwidth_gbps", "reduce_gbps", "source"});
  Device device;
  device.id = required<int>(in, "id", where);
  device.name = optional<std::string>(in, "name", "", where);
  device.kind = parse_node_kind(optional<std::string>(in, "kind", "device", where));
  device.memory_bytes = optional<std::int64_t>(in, "memory_bytes", 0, where);
  device.bandwidth_gbps = optional<double>(in, "bandwidth_gbps", 0.0, where);
  device.reduce_gbps = optional<double>(in, "reduce_gbps", 0.0, where);
  device.source = optional<std::string>(in, "source", "", where);
  return device;
}

// The link a route takes between two consecutive ids: the widest (bandwidth * count) joining them,
// the first in file order among equals.
int link_between(const Topology& topology, int from, int to, const std::string& where) {
  int best = -1;
  double best_width = 0;
  for (std::size_t l = 0; l < topology.links.size(); ++l) {
    const Link& link = topology.links[l];
    if (!((link.a == from && link.b == to) || (link.a == to && link.b == from))) continue;
    const double width = link.bandwidth_gbps * link.count;
    if (best < 0 || width > best_width) {
      best = static_cast<int>(l);
      best_width = width;
    }
  }
  if (best < 0) fail(where, "no link joins " + std::to_string(from) + " and " + std::to_string(to));
  return best;
}

}  // namespace

ordered_json topology_to_json(const Topology& topology) {
  ordered_json out{{"format", kFormat}, {"version", kVersion}, {"name", topology.name}};
  out["devices"] = ordered_json::array();
  for (const Device& device : topology.devices) out["devices"].push_back(device_to_json(device));
  out["nodes"] = ordered_json::array();
  for (const Device& node : topology.nodes) out["nodes"].push_back(device_to_json(node));
  out["links"] = ordered_json::array();
  for (const Link& link : topology.links)
    out["links"].push_back({{"a", link.a},
                            {"b", link.b},
                            {"kind", link_kind_name(link.kind)},
                            {"bandwidth_gbps", link.bandwidth_gbps},
                            {"latency_us", link.latency_us},
                            {"count", link.count},
                            {"efficiency", link.efficiency},
                            {"source", link.source}});
  out["levels"] = ordered_json::array();
  for (const GroupLevel& level : topology.levels)
    out["levels"].push_back({{"name", level.name}, {"groups", level.groups}});
  out["routes"] = ordered_json::array();
  for (const Route& route : topology.routes)
    out["routes"].push_back({{"src", route.src}, {"dst", route.dst}, {"path", topology.route_path(route)}});
  if (topology.memory_bandwidth) {
    const MemoryBandwidth& m = *topology.memory_bandwidth;
    out["memory_bandwidth"] = {{"threads", m.threads},
                               {"copy_one_thread_gbps", m.copy_one_thread_gbps},
                               {"copy_all_threads_gbps", m.copy_all_threads_gbps},
                               {"add_one_thread_gbps", m.add_one_thread_gbps}};
  }
  if (topology.thread_costs) out["thread_costs"] = thread_costs_to_json(*topology.thread_costs);
  return out;
}

ordered_json thread_costs_to_json(const ThreadCosts& costs) {
  return {{"threads", costs.threads},
          {"memory_gbps", costs.memory_gbps},
          {"thread_gbps", costs.thread_gbps},
          {"write_cost", costs.write_cost},
          {"stream_write_cost", costs.stream_write_cost},
          {"piece_overhead_us", costs.piece_overhead_us},
          {"call_overhead_us", costs.call_overhead_us},
          {"source", costs.source}};
}

ThreadCosts thread_costs_from_json(const json& entry, const std::string& where) {
  check_keys(entry, where,
             {"threads", "memory_gbps", "thread_gbps", "write_cost", "stream_write_cost", "piece_overhead_us",
              "call_overhead_us", "source"});
  ThreadCosts costs;
  costs.threads = required<int>(entry, "threads", where);
  costs.memory_gbps = required<double>(entry, "memory_gbps", where);
  costs.thread_gbps = required<double>(entry, "thread_gbps", where);
  costs.write_cost = required<double>(entry, "write_cost", where);
  costs.stream_write_cost = required<double>(entry, "stream_write_cost", where);
  costs.piece_overhead_us = required<double>(entry, "piece_overhead_us", where);
  costs.call_overhead_us = required<double>(entry, "call_overhead_us", where);
  costs.source = optional<std::string>(entry, "source", "", where);
  if (costs.threads < 1 || !(costs.memory_gbps > 0) || !(costs.thread_gbps > 0) || !(costs.write_cost >= 0) ||
      !(costs.stream_write_cost >= 0) || !(costs.piece_overhead_us >= 0) || !(costs.call_overhead_us >= 0))
    fail(where, "threads must be >= 1, bandwidths > 0 and costs >= 0, got " + entry.dump());
  return costs;
}

Topology topology_from_json(const json& in) {
  check_keys(in, "top level",
             {"format", "version", "name", "devices", "nodes", "links", "levels", "routes", "memory_bandwidth",
              "thread_costs"});
  if (in.contains("format") && in.at("format") != kFormat)
    fail("format", "expected \"" + std::string(kFormat) + "\", got " + in.at("format").dump());
  if (in.contains("version") && in.at("version") != kVersion)
    fail("version", "this reader knows version " + std::to_string(kVersion) + ", got " + in.at("version").dump());
  Topology topology;
  topology.name = optional<std::string>(in, "name", "", "name");
  const auto list = [&](const char* key) -> const json& {
    static const json empty = json::array();
    if (!in.contains(key)) return empty;
    if (!in.at(key).is_array()) fail(key, "expected an array");
    return in.at(key);
  };
  if (!in.contains("devices")) fail("top level", "missing 'devices'");
  for (std::size_t i = 0; i < list("devices").size(); ++i)
    topology.devices.push_back(device_from_json(list("devices")[i], "devices[" + std::to_string(i) + "]"));
  for (std::size_t i = 0; i < list("nodes").size(); ++i)
    topology.nodes.push_back(device_from_json(list("nodes")[i], "nodes[" + std::to_string(i) + "]"));
  for (std::size_t i = 0; i < list("links").size(); ++i) {
    const json& entry = list("links")[i];
    const std::string where = "links[" + std::to_string(i) + "]";
    check_keys(entry, where, {"a", "b", "kind", "bandwidth_gbps", "latency_us", "count", "efficiency", "source"});
    Link link;
    link.a = required<int>(entry, "a", where);
    link.b = required<int>(entry, "b", where);
    link.kind = parse_link_kind(required<std::string>(entry, "kind", where));
    link.bandwidth_gbps = required<double>(entry, "bandwidth_gbps", where);
    link.latency_us = optional<double>(entry, "latency_us", 0.0, where);
    link.count = optional<int>(entry, "count", 1, where);
    link.source = optional<std::string>(entry, "source", "", where);
    link.efficiency = optional<double>(entry, "efficiency", 1.0, where);
    if (!(link.efficiency > 0 && link.efficiency <= 1))
      fail(where, "efficiency must be in (0, 1], got " + std::to_string(link.efficiency));
    topology.links.push_back(std::move(link));
  }
  for (std::size_t i = 0; i < list("levels").size(); ++i) {
    const json& entry = list("levels")[i];
    const std::string where = "levels[" + std::to_string(i) + "]";
    check_keys(entry, where, {"name", "groups"});
    topology.levels.push_back({optional<std::string>(entry, "name", "", where),
                               required<std::vector<std::vector<int>>>(entry, "groups", where)});
  }
  for (std::size_t i = 0; i < list("routes").size(); ++i) {
    const json& entry = list("routes")[i];
    const std::string where = "routes[" + std::to_string(i) + "]";
    check_keys(entry, where, {"src", "dst", "path"});
    const auto path = required<std::vector<int>>(entry, "path", where);
    Route route{required<int>(entry, "src", where), required<int>(entry, "dst", where), {}};
    if (path.size() < 2 || path.front() != route.src || path.back() != route.dst)
      fail(where, "path must run from src to dst");
    for (std::size_t h = 1; h < path.size(); ++h) route.links.push_back(link_between(topology, path[h - 1], path[h], where));
    topology.routes.push_back(std::move(route));
  }
  if (in.contains("memory_bandwidth")) {
    const json& entry = in.at("memory_bandwidth");
    const std::string where = "memory_bandwidth";
    check_keys(entry, where, {"threads", "copy_one_thread_gbps", "copy_all_threads_gbps", "add_one_thread_gbps"});
    topology.memory_bandwidth = MemoryBandwidth{
        required<int>(entry, "threads", where), required<double>(entry, "copy_one_thread_gbps", where),
        required<double>(entry, "copy_all_threads_gbps", where), required<double>(entry, "add_one_thread_gbps", where)};
  }
  if (in.contains("thread_costs")) topology.thread_costs = thread_costs_from_json(in.at("thread_costs"), "thread_costs");
  // Routes are checked before the missing ones are added, so an error names a route of the file.
  topology.validate();
  topology.compute_routes();
  return topology;
}

namespace {

// `what` names the document in the error ("topology file", "thread costs").
json parse_document(std::string_view text, const std::string& what) {
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    throw TopologyError(what + " is not valid JSON: " + e.what());
  }
}

}  // namespace
}  // namespace detail

Topology topology_from_json_text(std::string_view json_text) {
  return detail::topology_from_json(detail::parse_document(json_text, "topology file"));
}

// One line per device, node, link, level and route: files stay readable and diff line by line.
// A negative indent writes everything on one line.
std::string topology_to_json_text(const Topology& topology, int indent) {
  const nlohmann::ordered_json document = detail::topology_to_json(topology);
  if (indent < 0) return document.dump() + "\n";
  const std::string pad(static_cast<std::size_t>(indent), ' ');
  std::string text = "{";
  bool first_key = true;
  for (const auto& [key, value] : document.items()) {
    text += (first_key ? "\n" : ",\n") + pad + nlohmann::ordered_json(key).dump() + ": ";
    first_key = false;
    if (!value.is_array() || value.empty()) {
      text += value.dump();
      continue;
    }
    text += "[";
    bool first = true;
    for (const auto& element : value) {
      text += (first ? "\n" : ",\n") + pad + pad + element.dump();
      first = false;
    }
    text += "\n" + pad + "]";
  }
  return text + "\n}\n";
}

Topology load_topology(const std::string& path) {
  std::ifstream file(path);
  if (!file) throw TopologyError("cannot open topology file '" + path + "'");
  std::stringstream text;
  text << file.rdbuf();
  try {
    return topology_from_json_text(text.str());
  } catch (const TopologyError& e) {
    throw TopologyError(path + ": " + e.what());
  }
}

void save_topology(const Topology& topology, const std::string& path) {
  const std::string text = topology_to_json_text(topology);
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  if (!file) throw TopologyError("cannot write topology file '" + path + "'");
  file << text;
  if (!file.flush()) throw TopologyError("failed writing topology file '" + path + "'");
}

std::string thread_costs_to_json_text(const ThreadCosts& costs, int indent) {
  return detail::thread_costs_to_json(costs).dump(indent) + "\n";
}

ThreadCosts thread_costs_from_json_text(std::string_view json_text) {
  return detail::thread_costs_from_json(detail::parse_document(json_text, "thread costs"), "thread_costs");
}

}  // namespace meshreduce
