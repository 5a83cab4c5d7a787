// The machine: devices, the links between them, and grouping levels (GPU group, socket, node).
// The simulator and the executors read the same Topology; presets and JSON files produce one.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace meshreduce {

enum class LinkKind : std::uint8_t { nvlink, nvswitch, pcie, qpi, network, memory };

std::string_view link_kind_name(LinkKind kind) noexcept;
LinkKind parse_link_kind(std::string_view text);

struct Device {
  int id = 0;
  std::string name;
};

// An undirected connection of `count` parallel links; bandwidth is per link and per direction.
struct Link {
  int a = 0;
  int b = 0;
  LinkKind kind = LinkKind::nvlink;
  double bandwidth_gbps = 0;  // GB/s (1e9 bytes/s) per link per direction
  double latency_us = 0;      // per message
  int count = 1;
  std::string source;  // where the figures come from
};

// One grouping level: a partition of all devices into groups (for example the DGX-1's two
// fully-connected quads, or the nodes of a cluster). Levels run from innermost to outermost.
struct GroupLevel {
  std::string name;
  std::vector<std::vector<int>> groups;
};

struct Topology {
  std::string name;
  std::vector<Device> devices;
  std::vector<Link> links;
  std::vector<GroupLevel> levels;

  int size() const noexcept { return static_cast<int>(devices.size()); }
  // Total direct bandwidth between a and b in GB/s per direction (0 when not directly linked).
  double direct_bandwidth(int a, int b) const noexcept;
  // Throws TopologyError on duplicate ids, links to unknown devices, levels that are not partitions.
  void validate() const;
};

// Presets. "dgx1-v100" and "dgx1-p100" follow the DGX-1 link tables; "flat:K" is K devices all
// linked alike; "groups:KxG" is K devices in G equal consecutive groups (K % G == 0) or, written
// "groups:4,4,2", groups of the given sizes.
Topology dgx1_v100();
Topology dgx1_p100();
Topology flat_topology(int devices);
Topology grouped_topology(const std::vector<int>& group_sizes);

// Resolve a preset name (see above). Throws TopologyError naming the text and the known presets.
Topology topology_preset(std::string_view name);
std::vector<std::string> topology_preset_names();

}  // namespace meshreduce
