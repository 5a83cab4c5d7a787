#include "meshreduce/topology.h"

#include <algorithm>
#include <set>
#include <string>

#include "meshreduce/error.h"

namespace meshreduce {

std::string_view link_kind_name(LinkKind kind) noexcept {
  switch (kind) {
    case LinkKind::nvlink: return "nvlink";
    case LinkKind::nvswitch: return "nvswitch";
    case LinkKind::pcie: return "pcie";
    case LinkKind::qpi: return "qpi";
    case LinkKind::network: return "network";
    case LinkKind::memory: return "memory";
  }
  return "?";
}

LinkKind parse_link_kind(std::string_view text) {
  for (LinkKind kind : {LinkKind::nvlink, LinkKind::nvswitch, LinkKind::pcie, LinkKind::qpi,
                        LinkKind::network, LinkKind::memory})
    if (link_kind_name(kind) == text) return kind;
  throw TopologyError("unknown link kind '" + std::string(text) +
                      "' (known: nvlink nvswitch pcie qpi network memory)");
}

namespace {
constexpr NodeKind kNodeKinds[] = {NodeKind::device, NodeKind::gpu,         NodeKind::core,     NodeKind::cpu,
                                   NodeKind::numa,   NodeKind::cache,       NodeKind::pcie_switch,
                                   NodeKind::nvswitch, NodeKind::nic,       NodeKind::network_switch};
}  // namespace

std::string_view node_kind_name(NodeKind kind) noexcept {
  switch (kind) {
    case NodeKind::device: return "device";
    case NodeKind::gpu: return "gpu";
    case NodeKind::core: return "core";
    case NodeKind::cpu: return "cpu";
    case NodeKind::numa: return "numa";
    case NodeKind::cache: return "cache";
    case NodeKind::pcie_switch: return "pcie_switch";
    case NodeKind::nvswitch: return "nvswitch";
    case NodeKind::nic: return "nic";
    case NodeKind::network_switch: return "network_switch";
  }
  return "?";
}

NodeKind parse_node_kind(std::string_view text) {
  std::string known;
  for (NodeKind kind : kNodeKinds) {
    if (node_kind_name(kind) == text) return kind;
    known += " " + std::string(node_kind_name(kind));
  }
  throw TopologyError("unknown node kind '" + std::string(text) + "' (known:" + known + ")");
}

double Topology::direct_bandwidth(int a, int b) const noexcept {
  double total = 0;
  for (const Link& link : links)
    if ((link.a == a && link.b == b) || (link.a == b && link.b == a))
      total += link.effective_gbps() * link.count;
  return total;
}

const Device* Topology::find(int id) const noexcept {
  for (const auto* list : {&devices, &nodes})
    for (const Device& device : *list)
      if (device.id == id) return &device;
  return nullptr;
}

bool Topology::is_device(int id) const noexcept {
  return std::any_of(devices.begin(), devices.end(), [id](const Device& d) { return d.id == id; });
}

const Route* Topology::route(int src, int dst) const noexcept {
  const auto less = [](const Route& r, std::pair<int, int> key) { return std::pair(r.src, r.dst) < key; };
  const auto it = std::lower_bound(routes.begin(), routes.end(), std::pair(src, dst), less);
  if (it != routes.end() && it->src == src && it->dst == dst) return &*it;
  // Not sorted (built by hand and not passed through compute_routes): search all.
  for (const Route& r : routes)
    if (r.src == src && r.dst == dst) return &r;
  return nullptr;
}

std::vector<int> Topology::route_path(const Route& r) const {
  std::vector<int> path{r.src};
  for (int index : r.links) {
    if (index < 0 || index >= static_cast<int>(links.size()))
      throw TopologyError("topology '" + name + "': route " + std::to_string(r.src) + "->" +
                          std::to_string(r.dst) + " names link " + std::to_string(index) + " of " +
                          std::to_string(links.size()));
    const Link& link = links[static_cast<std::size_t>(index)];
    const int at = path.back();
    if (link.a != at && link.b != at)
      throw TopologyError("topology '" + name + "': route " + std::to_string(r.src) + "->" +
                          std::to_string(r.dst) + " takes link " + std::to_string(link.a) + "-" +
                          std::to_string(link.b) + " from " + std::to_string(at) + ", which it does not touch");
    path.push_back(link.a == at ? link.b : link.a);
  }
  return path;
}

double Topology::route_latency_us(const Route& r) const {
  double latency = 0;
  for (int index : r.links) latency = std::max(latency, links.at(static_cast<std::size_t>(index)).latency_us);
  return latency;
}

double Topology::route_bandwidth_gbps(const Route& r) const {
  double bandwidth = r.links.empty() ? 0.0 : 1e300;
  for (int index : r.links) {
    const Link& link = links.at(static_cast<std::size_t>(index));
    bandwidth = std::min(bandwidth, link.effective_gbps() * link.count);
  }
  return bandwidth;
}

void Topology::validate() const {
  std::set<int> device_ids;
  std::set<int> ids;
  for (const Device& device : devices) {
    if (!ids.insert(device.id).second)
      throw TopologyError("topology '" + name + "': device id " + std::to_string(device.id) + " appears twice");
    device_ids.insert(device.id);
    if (device.reduce_gbps < 0 || device.bandwidth_gbps < 0 || device.memory_bytes < 0)
      throw TopologyError("topology '" + name + "': device " + std::to_string(device.id) +
                          " has a negative figure");
  }
  for (const Device& node : nodes) {
    if (!ids.insert(node.id).second)
      throw TopologyError("topology '" + name + "': node id " + std::to_string(node.id) +
                          " is already used by a device or node");
    if (node.bandwidth_gbps < 0 || node.memory_bytes < 0)
      throw TopologyError("topology '" + name + "': node " + std::to_string(node.id) + " has a negative figure");
  }
  for (const Link& link : links) {
    if (!ids.contains(link.a) || !ids.contains(link.b))
      throw TopologyError("topology '" + name + "': link " + std::to_string(link.a) + "-" +
                          std::to_string(link.b) + " names a device that does not exist");
    if (link.a == link.b)
      throw TopologyError("topology '" + name + "': link joins device " + std::to_string(link.a) +
                          " to itself");
    if (!(link.bandwidth_gbps > 0) || link.count < 1 || link.latency_us < 0)
      throw TopologyError("topology '" + name + "': link " + std::to_string(link.a) + "-" +
                          std::to_string(link.b) + " needs bandwidth > 0, count >= 1, latency >= 0");
  }
  for (const GroupLevel& level : levels) {
    std::set<int> seen;
    for (const auto& group : level.groups) {
      if (group.empty())
        throw TopologyError("topology '" + name + "': level '" + level.name + "' has an empty group");
      for (int id : group) {
        if (!device_ids.contains(id))
          throw TopologyError("topology '" + name + "': level '" + level.name + "' names device " +
                              std::to_string(id) + ", which does not exist");
        if (!seen.insert(id).second)
          throw TopologyError("topology '" + name + "': level '" + level.name + "' puts device " +
                              std::to_string(id) + " in two groups");
      }
    }
    if (seen.size() != device_ids.size())
      throw TopologyError("topology '" + name + "': level '" + level.name + "' covers " +
                          std::to_string(seen.size()) + " of " + std::to_string(device_ids.size()) +
                          " devices");
  }
  std::set<std::pair<int, int>> pairs;
  for (const Route& r : routes) {
    const std::string what = "topology '" + name + "': route " + std::to_string(r.src) + "->" + std::to_string(r.dst);
    if (!device_ids.contains(r.src) || !device_ids.contains(r.dst) || r.src == r.dst)
      throw TopologyError(what + " must join two distinct devices");
    if (!pairs.insert({r.src, r.dst}).second) throw TopologyError(what + " is given twice");
    if (r.links.empty()) throw TopologyError(what + " has no links");
    const std::vector<int> path = route_path(r);  // throws on links that do not chain
    if (path.back() != r.dst) throw TopologyError(what + " ends at " + std::to_string(path.back()));
    // With nic_relay, a device on each side may relay a route that crosses the network (NCCL's PXN).
    const bool relay_allowed =
        nic_relay && std::any_of(r.links.begin(), r.links.end(), [&](int l) {
          return links[static_cast<std::size_t>(l)].kind == LinkKind::network;
        });
    int relays = 0;
    for (std::size_t i = 1; i + 1 < path.size(); ++i)
      if (device_ids.contains(path[i]) && (!relay_allowed || ++relays > 2))
        throw TopologyError(what + " passes through device " + std::to_string(path[i]) +
                            (relay_allowed ? " (a network route may pass through two relaying devices at most, one per side)"
                                           : " (devices do not forward traffic unless 'nic_relay' is set and the route crosses the network)"));
    if (std::set<int>(path.begin(), path.end()).size() != path.size())
      throw TopologyError(what + " visits a node twice");
  }
}

}  // namespace meshreduce
