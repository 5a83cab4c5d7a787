// The topology file format; docs/topology-format.md describes it field by field.
#include "topology/json.h"

#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "core/input_file.h"
#include "core/json_input.h"
#include "core/text.h"
#include "meshreduce/error.h"
#include "meshreduce/limits.h"

namespace meshreduce {
namespace detail {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

constexpr const char* kFormat = "meshreduce-topology";
constexpr int kVersion = 1;
// Bounds on the lists of a file beyond the device count (docs/limits.md): enough for every
// machine the presets describe at limits::kMaxDevices devices, small enough that computing the
// routes stays interactive.
constexpr std::int64_t kMaxNodes = 16 * limits::kMaxDevices;
constexpr std::int64_t kMaxLinks = std::int64_t{1} << 18;
constexpr std::int64_t kMaxLevels = 64;
constexpr std::int64_t kMaxLinkCount = 1 << 16;
constexpr std::int64_t kMaxThreads = 1 << 16;

constexpr JsonFields<TopologyError> kJson{"topology file: "};

[[noreturn]] void fail(const std::string& where, const std::string& what) { kJson.fail(where, what); }

void check_keys(const json& object, const std::string& where, std::initializer_list<const char*> allowed) {
  if (!object.is_object()) fail(where, "expected an object, got " + describe_json(object));
  for (const auto& [key, value] : object.items()) {
    bool known = false;
    for (const char* name : allowed) known = known || key == name;
    if (!known) {
      std::string list;
      for (const char* name : allowed) list += std::string(" ") + name;
      fail(where, "unknown key '" + excerpt(key) + "' (known:" + list + ")");
    }
  }
}

int id_value(const json& value, const std::string& what, const std::string& where) {
  return static_cast<int>(kJson.integer_value(value, what, where, 0, limits::kMaxId));
}

int id(const json& object, const char* key, const std::string& where) {
  return id_value(kJson.field(object, key, where), std::string("'") + key + "'", where);
}

std::vector<int> id_list(const json& value, const std::string& what, const std::string& where) {
  if (!value.is_array()) fail(where, what + " must be an array of ids, got " + describe_json(value));
  std::vector<int> ids;
  ids.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i)
    ids.push_back(id_value(value[i], what + "[" + std::to_string(i) + "]", where));
  return ids;
}

ordered_json device_to_json(const Device& device) {
  ordered_json out{{"id", device.id}, {"name", device.name}, {"kind", node_kind_name(device.kind)}};
  if (device.memory_bytes != 0) out["memory_bytes"] = device.memory_bytes;
  if (device.bandwidth_gbps != 0) out["bandwidth_gbps"] = device.bandwidth_gbps;
  if (device.reduce_gbps != 0) out["reduce_gbps"] = device.reduce_gbps;
  if (!device.source.empty()) out["source"] = device.source;
  return out;
}

std::string optional_text(const json& object, const char* key, const std::string& fallback, const std::string& where) {
  return object.contains(key) ? kJson.text(object, key, where) : fallback;
}

double optional_real(const json& object, const char* key, const std::string& where, double lowest) {
  return object.contains(key) ? kJson.real(object, key, where, lowest) : 0.0;
}

Device device_from_json(const json& in, const std::string& where) {
  check_keys(in, where, {"id", "name", "kind", "memory_bytes", "bandwidth_gbps", "reduce_gbps", "source"});
  Device device;
  device.id = id(in, "id", where);
  device.name = optional_text(in, "name", "", where);
  try {
    device.kind = parse_node_kind(optional_text(in, "kind", "device", where));
  } catch (const TopologyError& e) {
    fail(where, std::string("'kind': ") + excerpt(e.what(), 200));
  }
  device.memory_bytes = in.contains("memory_bytes") ? kJson.integer(in, "memory_bytes", where, 0, limits::kMaxTotalBytes) : 0;
  device.bandwidth_gbps = optional_real(in, "bandwidth_gbps", where, 0.0);
  device.reduce_gbps = optional_real(in, "reduce_gbps", where, 0.0);
  device.source = optional_text(in, "source", "", where);
  return device;
}

// For each pair of ids joined by a link, the link a route takes between them: the widest
// (bandwidth * count), the first in file order among equals. Indexed once, so that reading the
// routes of a file costs its hops, not its hops times its links.
std::map<std::pair<int, int>, int> route_links(const Topology& topology) {
  std::map<std::pair<int, int>, int> best;
  for (std::size_t l = 0; l < topology.links.size(); ++l) {
    const Link& link = topology.links[l];
    for (const auto& key : {std::pair(link.a, link.b), std::pair(link.b, link.a)}) {
      const auto [it, inserted] = best.emplace(key, static_cast<int>(l));
      const Link& held = topology.links[static_cast<std::size_t>(it->second)];
      if (!inserted && link.bandwidth_gbps * link.count > held.bandwidth_gbps * held.count) it->second = static_cast<int>(l);
    }
  }
  return best;
}

}  // namespace

ordered_json topology_to_json(const Topology& topology) {
  ordered_json out{{"format", kFormat}, {"version", kVersion}, {"name", topology.name}};
  if (topology.nic_relay) out["nic_relay"] = true;
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
  costs.threads = static_cast<int>(kJson.integer(entry, "threads", where, 1, kMaxThreads));
  costs.memory_gbps = kJson.real(entry, "memory_gbps", where, 0.0);
  costs.thread_gbps = kJson.real(entry, "thread_gbps", where, 0.0);
  costs.write_cost = kJson.real(entry, "write_cost", where, 0.0);
  costs.stream_write_cost = kJson.real(entry, "stream_write_cost", where, 0.0);
  costs.piece_overhead_us = kJson.real(entry, "piece_overhead_us", where, 0.0);
  costs.call_overhead_us = kJson.real(entry, "call_overhead_us", where, 0.0);
  costs.source = optional_text(entry, "source", "", where);
  if (!(costs.memory_gbps > 0) || !(costs.thread_gbps > 0))
    fail(where, "bandwidths > 0 needed: 'memory_gbps' = " + describe_json(costs.memory_gbps) + ", 'thread_gbps' = " +
                    describe_json(costs.thread_gbps));
  return costs;
}

namespace {

// Every id a link, level or route names must be a device (or, for links, a node) of the file;
// checked here, entry by entry, so that the message names the entry that is wrong.
void check_references(const Topology& topology, const json& in) {
  std::set<int> devices;
  std::set<int> all;
  for (std::size_t i = 0; i < topology.devices.size(); ++i) {
    const int id = topology.devices[i].id;
    if (!all.insert(id).second) fail("devices[" + std::to_string(i) + "]", "id " + std::to_string(id) + " appears twice");
    devices.insert(id);
  }
  for (std::size_t i = 0; i < topology.nodes.size(); ++i) {
    const int id = topology.nodes[i].id;
    if (!all.insert(id).second)
      fail("nodes[" + std::to_string(i) + "]", "id " + std::to_string(id) + " is already used by a device or node");
  }
  for (std::size_t i = 0; i < topology.links.size(); ++i) {
    const Link& link = topology.links[i];
    const std::string where = "links[" + std::to_string(i) + "]";
    for (const auto& [key, id] : {std::pair("a", link.a), std::pair("b", link.b)})
      if (!all.contains(id)) fail(where, std::string("'") + key + "' = " + std::to_string(id) + " names a device or node that does not exist");
    if (link.a == link.b) fail(where, "joins " + std::to_string(link.a) + " to itself");
  }
  for (std::size_t l = 0; l < topology.levels.size(); ++l) {
    const auto& groups = topology.levels[l].groups;
    for (std::size_t g = 0; g < groups.size(); ++g)
      for (std::size_t m = 0; m < groups[g].size(); ++m)
        if (!devices.contains(groups[g][m]))
          fail("levels[" + std::to_string(l) + "]", "groups[" + std::to_string(g) + "][" + std::to_string(m) +
                                                        "] = " + std::to_string(groups[g][m]) + " names no device");
  }
  if (!in.contains("routes")) return;
  const json& routes = in.at("routes");
  for (std::size_t i = 0; i < routes.size(); ++i)
    for (const char* key : {"src", "dst"}) {
      const int id = routes[i].at(key).get<int>();
      if (!devices.contains(id))
        fail("routes[" + std::to_string(i) + "]", std::string("'") + key + "' = " + std::to_string(id) + " names no device");
    }
}

const json& list(const json& in, const char* key, std::int64_t most) {
  static const json empty = json::array();
  if (!in.contains(key)) return empty;
  const json& value = in.at(key);
  if (!value.is_array()) fail(key, "expected an array, got " + describe_json(value));
  if (static_cast<std::int64_t>(value.size()) > most)
    fail(key, std::to_string(value.size()) + " entries, more than the largest allowed, " + std::to_string(most));
  return value;
}

}  // namespace

Topology topology_from_json(const json& in) {
  check_keys(in, "top level",
             {"format", "version", "name", "nic_relay", "devices", "nodes", "links", "levels", "routes",
              "memory_bandwidth", "thread_costs"});
  if (in.contains("format") && in.at("format") != kFormat)
    fail("format", "expected \"" + std::string(kFormat) + "\", got " + describe_json(in.at("format")));
  if (in.contains("version") && in.at("version") != kVersion)
    fail("version", "this reader knows version " + std::to_string(kVersion) + ", got " + describe_json(in.at("version")));
  Topology topology;
  topology.name = optional_text(in, "name", "", "top level");
  if (in.contains("nic_relay")) topology.nic_relay = kJson.boolean(in, "nic_relay", "top level");
  if (!in.contains("devices")) fail("top level", "missing 'devices'");
  const json& devices = list(in, "devices", limits::kMaxDevices);
  if (devices.empty()) fail("devices", "a topology needs at least one device");
  for (std::size_t i = 0; i < devices.size(); ++i)
    topology.devices.push_back(device_from_json(devices[i], "devices[" + std::to_string(i) + "]"));
  const json& nodes = list(in, "nodes", kMaxNodes);
  for (std::size_t i = 0; i < nodes.size(); ++i)
    topology.nodes.push_back(device_from_json(nodes[i], "nodes[" + std::to_string(i) + "]"));
  const json& links = list(in, "links", kMaxLinks);
  for (std::size_t i = 0; i < links.size(); ++i) {
    const json& entry = links[i];
    const std::string where = "links[" + std::to_string(i) + "]";
    check_keys(entry, where, {"a", "b", "kind", "bandwidth_gbps", "latency_us", "count", "efficiency", "source"});
    Link link;
    link.a = id(entry, "a", where);
    link.b = id(entry, "b", where);
    const std::string kind = kJson.text(entry, "kind", where);  // a missing 'kind' says so once, not wrapped
    try {
      link.kind = parse_link_kind(kind);
    } catch (const TopologyError& e) {
      fail(where, std::string("'kind': ") + excerpt(e.what(), 200));
    }
    link.bandwidth_gbps = kJson.real(entry, "bandwidth_gbps", where, 0.0);
    if (!(link.bandwidth_gbps > 0)) fail(where, "'bandwidth_gbps' must be > 0");
    link.latency_us = optional_real(entry, "latency_us", where, 0.0);
    link.count = entry.contains("count") ? static_cast<int>(kJson.integer(entry, "count", where, 1, kMaxLinkCount)) : 1;
    link.source = optional_text(entry, "source", "", where);
    link.efficiency = entry.contains("efficiency") ? kJson.real(entry, "efficiency", where, 0.0) : 1.0;
    if (!(link.efficiency > 0 && link.efficiency <= 1))
      fail(where, "'efficiency' must be in (0, 1], got " + std::to_string(link.efficiency));
    topology.links.push_back(std::move(link));
  }
  const json& levels = list(in, "levels", kMaxLevels);
  for (std::size_t i = 0; i < levels.size(); ++i) {
    const json& entry = levels[i];
    const std::string where = "levels[" + std::to_string(i) + "]";
    check_keys(entry, where, {"name", "groups"});
    const json& groups = kJson.field(entry, "groups", where);
    if (!groups.is_array()) fail(where, "'groups' must be an array of arrays of ids, got " + describe_json(groups));
    GroupLevel level{optional_text(entry, "name", "", where), {}};
    for (std::size_t g = 0; g < groups.size(); ++g)
      level.groups.push_back(id_list(groups[g], "groups[" + std::to_string(g) + "]", where));
    topology.levels.push_back(std::move(level));
  }
  const json& routes = list(in, "routes", limits::kMaxDevices * limits::kMaxDevices);
  std::vector<std::vector<int>> paths;
  for (std::size_t i = 0; i < routes.size(); ++i) {
    const json& entry = routes[i];
    const std::string where = "routes[" + std::to_string(i) + "]";
    check_keys(entry, where, {"src", "dst", "path"});
    id(entry, "src", where);
    id(entry, "dst", where);
    paths.push_back(id_list(kJson.field(entry, "path", where), "'path'", where));
  }
  check_references(topology, in);
  const auto joining = route_links(topology);
  for (std::size_t i = 0; i < routes.size(); ++i) {
    const std::string where = "routes[" + std::to_string(i) + "]";
    const auto& path = paths[i];
    Route route{routes[i].at("src").get<int>(), routes[i].at("dst").get<int>(), {}};
    if (path.size() < 2 || path.front() != route.src || path.back() != route.dst)
      fail(where, "'path' must run from 'src' to 'dst'");
    for (std::size_t h = 1; h < path.size(); ++h) {
      const auto link = joining.find({path[h - 1], path[h]});
      if (link == joining.end())
        fail(where, "'path'[" + std::to_string(h) + "]: no link joins " + std::to_string(path[h - 1]) + " and " +
                        std::to_string(path[h]));
      route.links.push_back(link->second);
    }
    topology.routes.push_back(std::move(route));
  }
  if (in.contains("memory_bandwidth")) {
    const json& entry = in.at("memory_bandwidth");
    const std::string where = "memory_bandwidth";
    check_keys(entry, where, {"threads", "copy_one_thread_gbps", "copy_all_threads_gbps", "add_one_thread_gbps"});
    topology.memory_bandwidth = MemoryBandwidth{
        static_cast<int>(kJson.integer(entry, "threads", where, 0, kMaxThreads)), kJson.real(entry, "copy_one_thread_gbps", where, 0.0),
        kJson.real(entry, "copy_all_threads_gbps", where, 0.0), kJson.real(entry, "add_one_thread_gbps", where, 0.0)};
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
  return parse_json_input<TopologyError>(text, what);
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
  const std::string text = detail::read_input_file<TopologyError>(path, "topology file");
  try {
    return topology_from_json_text(text);
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
