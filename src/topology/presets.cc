// Topology presets. Every figure names its source in Link::source.
#include <charconv>
#include <numeric>
#include <string>

#include "meshreduce/error.h"
#include "meshreduce/topology.h"

namespace meshreduce {
namespace {

constexpr const char* kDgx1Source = "DGX-1 system architecture whitepaper; ../shared/DESIGN.md";

std::vector<Device> numbered_devices(int count, const std::string& prefix) {
  std::vector<Device> devices;
  for (int i = 0; i < count; ++i) devices.push_back({i, prefix + std::to_string(i)});
  return devices;
}

// The 16 NVLink-connected pairs of a DGX-1; `double_pairs` carry two links on the V100.
Topology dgx1(const std::string& name, double gbps, bool v100) {
  struct Pair { int a, b, links_v100; };
  static constexpr Pair kPairs[] = {
      {0, 3, 2}, {0, 4, 2}, {1, 2, 2}, {1, 5, 2}, {2, 3, 2}, {4, 7, 2}, {5, 6, 2}, {6, 7, 2},
      {0, 1, 1}, {0, 2, 1}, {1, 3, 1}, {2, 6, 1}, {3, 7, 1}, {4, 5, 1}, {4, 6, 1}, {5, 7, 1},
  };
  Topology topology;
  topology.name = name;
  topology.devices = numbered_devices(8, "gpu");
  for (const Pair& pair : kPairs)
    topology.links.push_back({pair.a, pair.b, LinkKind::nvlink, gbps, 1.0, v100 ? pair.links_v100 : 1,
                              kDgx1Source});
  topology.levels.push_back({"nvlink-quad", {{0, 1, 2, 3}, {4, 5, 6, 7}}});
  return topology;
}

int parse_positive(std::string_view text, std::string_view whole) {
  int value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < 1)
    throw TopologyError("topology '" + std::string(whole) + "': '" + std::string(text) +
                        "' is not a positive integer");
  return value;
}

}  // namespace

Topology dgx1_v100() { return dgx1("dgx1-v100", 25.0, true); }
Topology dgx1_p100() { return dgx1("dgx1-p100", 20.0, false); }

Topology flat_topology(int devices) {
  if (devices < 1) throw TopologyError("flat topology needs at least 1 device, got " + std::to_string(devices));
  Topology topology;
  topology.name = "flat:" + std::to_string(devices);
  topology.devices = numbered_devices(devices, "dev");
  for (int a = 0; a < devices; ++a)
    for (int b = a + 1; b < devices; ++b)
      topology.links.push_back({a, b, LinkKind::memory, 10.0, 1.0, 1, "uniform model (no measured source)"});
  return topology;
}

Topology grouped_topology(const std::vector<int>& group_sizes) {
  if (group_sizes.empty()) throw TopologyError("grouped topology needs at least one group");
  for (int size : group_sizes)
    if (size < 1) throw TopologyError("grouped topology: group size " + std::to_string(size) + " < 1");
  Topology topology = flat_topology(std::accumulate(group_sizes.begin(), group_sizes.end(), 0));
  std::string name = "groups:";
  GroupLevel level{"group", {}};
  int next = 0;
  for (int size : group_sizes) {
    name += (level.groups.empty() ? "" : ",") + std::to_string(size);
    std::vector<int> group(static_cast<std::size_t>(size));
    std::iota(group.begin(), group.end(), next);
    next += size;
    level.groups.push_back(std::move(group));
  }
  topology.name = name;
  topology.levels.push_back(std::move(level));
  return topology;
}

std::vector<std::string> topology_preset_names() {
  return {"dgx1-v100", "dgx1-p100", "flat:K", "groups:KxG", "groups:S1,S2,..."};
}

Topology topology_preset(std::string_view name) {
  if (name == "dgx1-v100") return dgx1_v100();
  if (name == "dgx1-p100") return dgx1_p100();
  if (name.starts_with("flat:")) return flat_topology(parse_positive(name.substr(5), name));
  if (name.starts_with("groups:")) {
    const std::string_view spec = name.substr(7);
    if (const auto x = spec.find('x'); x != std::string_view::npos) {
      const int devices = parse_positive(spec.substr(0, x), name);
      const int groups = parse_positive(spec.substr(x + 1), name);
      if (devices % groups != 0)
        throw TopologyError("topology '" + std::string(name) + "': " + std::to_string(devices) +
                            " devices do not split into " + std::to_string(groups) + " equal groups");
      return grouped_topology(std::vector<int>(static_cast<std::size_t>(groups), devices / groups));
    }
    std::vector<int> sizes;
    std::size_t start = 0;
    while (start <= spec.size()) {
      const std::size_t comma = std::min(spec.find(',', start), spec.size());
      sizes.push_back(parse_positive(spec.substr(start, comma - start), name));
      start = comma + 1;
    }
    return grouped_topology(sizes);
  }
  std::string known;
  for (const auto& preset : topology_preset_names()) known += " " + preset;
  throw TopologyError("unknown topology '" + std::string(name) + "' (known:" + known + ")");
}

}  // namespace meshreduce
