#include "meshreduce/topology.h"

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

double Topology::direct_bandwidth(int a, int b) const noexcept {
  double total = 0;
  for (const Link& link : links)
    if ((link.a == a && link.b == b) || (link.a == b && link.b == a))
      total += link.bandwidth_gbps * link.count;
  return total;
}

void Topology::validate() const {
  std::set<int> ids;
  for (const Device& device : devices)
    if (!ids.insert(device.id).second)
      throw TopologyError("topology '" + name + "': device id " + std::to_string(device.id) +
                          " appears twice");
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
        if (!ids.contains(id))
          throw TopologyError("topology '" + name + "': level '" + level.name + "' names device " +
                              std::to_string(id) + ", which does not exist");
        if (!seen.insert(id).second)
          throw TopologyError("topology '" + name + "': level '" + level.name + "' puts device " +
                              std::to_string(id) + " in two groups");
      }
    }
    if (seen.size() != ids.size())
      throw TopologyError("topology '" + name + "': level '" + level.name + "' covers " +
                          std::to_string(seen.size()) + " of " + std::to_string(ids.size()) +
                          " devices");
  }
}

}  // namespace meshreduce
