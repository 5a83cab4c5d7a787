// Topology presets. Every figure is a named constant below with its source, and every link and
// device carries that source in its `source` field (so a written JSON file shows it too).
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <map>
#include <numeric>
#include <string>

#include "meshreduce/error.h"
#include "meshreduce/limits.h"
#include "meshreduce/topology.h"

namespace meshreduce {
namespace {

// ---- Named constants -------------------------------------------------------------------------
// Bandwidths are GB/s (1e9 bytes/s) per link per direction; latencies are microseconds per message.

// Every link carries its line rate and the fraction of it that carries payload (Link::efficiency);
// docs/topology-format.md restates each figure with its public source.

// NVLink 2 on V100: 25 GB/s per link per direction (NVIDIA Tesla V100 GPU architecture whitepaper;
// DGX-1 with Tesla V100 system architecture whitepaper). About 20 GB/s of it carries data: NCCL's
// developers give 20 GB/s effective per V100 link (nccl-tests issues 149 and 212) and NCCL's model
// uses SM70_NVLINK_BW = 20 (src/graph/topo.h). NVLink 1 on P100: 20 GB/s (Tesla P100 whitepaper;
// DGX-1 system architecture whitepaper), 18 effective (SM60_NVLINK_BW = 18).
constexpr double kNvlinkV100Gbps = 25.0;
constexpr double kNvlinkV100Efficiency = 20.0 / 25.0;
constexpr double kNvlinkP100Gbps = 20.0;
constexpr double kNvlinkP100Efficiency = 18.0 / 20.0;
constexpr const char* kNvlinkV100Source =
    "NVLink 2 on V100: 25 GB/s line rate per link per direction (Tesla V100 and DGX-1 V100 whitepapers), 20 GB/s "
    "effective (NCCL topo.h SM70_NVLINK_BW; nccl-tests issues 149, 212); latency NCCL tuning.cc hwLat[NVLINK][Ring][Simple]; "
    "docs/topology-format.md";
constexpr const char* kNvlinkP100Source =
    "NVLink 1 on P100: 20 GB/s line rate per link per direction (Tesla P100 and DGX-1 whitepapers), 18 GB/s effective "
    "(NCCL topo.h SM60_NVLINK_BW); latency NCCL tuning.cc hwLat[NVLINK][Ring][Simple]; docs/topology-format.md";
constexpr const char* kNvswitchSource =
    "DGX-2: 6 NVLink 2 links x 25 GB/s line rate per GPU into 12 NVSwitches, modelled as one crossbar (DGX-2 system "
    "architecture whitepaper), 20 GB/s effective per link (NCCL topo.h SM70_NVLINK_BW); docs/topology-format.md";
// PCIe Gen3 x16: 8 GT/s x 16 lanes, 128b/130b coding = 15.75 GB/s per direction (PCI Express Base
// Specification 3.0); NCCL models 12 GB/s of it (src/graph/topo.h PCI_BW).
constexpr double kPcieGen3x16Gbps = 8.0 * 16 * 128 / 130 / 8;
constexpr double kPcieEfficiency = 12.0 / kPcieGen3x16Gbps;
// Broadwell QPI (the DGX-1's Xeon E5-2698 v4): 9.6 GT/s x 2 bytes = 19.2 GB/s per direction (Intel
// Xeon E5-2600 v4 datasheet); GPU peer traffic across it reaches 6 GB/s in NCCL's model (QPI_BW).
// Skylake UPI (the DGX-2's Xeon Platinum 8168): 10.4 GT/s x 2 bytes = 20.8 GB/s; NCCL SKL_QPI_BW 10.
constexpr double kQpiBroadwellGbps = 9.6 * 2;
constexpr double kQpiEfficiency = 6.0 / kQpiBroadwellGbps;
constexpr double kUpiSkylakeGbps = 10.4 * 2;
constexpr double kUpiEfficiency = 10.0 / kUpiSkylakeGbps;
constexpr const char* kPcieSource =
    "PCIe Gen3 x16: 15.75 GB/s line rate (PCIe 3.0 spec: 8 GT/s x 16, 128b/130b), 12 GB/s effective (NCCL topo.h "
    "PCI_BW); latency NCCL tuning.cc hwLat[PCI][Ring][Simple]; docs/topology-format.md";
constexpr const char* kQpiSource =
    "Broadwell QPI: 19.2 GB/s line rate (Xeon E5-2600 v4 datasheet: 9.6 GT/s), 6 GB/s effective for GPU peer traffic "
    "(NCCL topo.h QPI_BW); latency as a PCI path; docs/topology-format.md";
constexpr const char* kUpiSource =
    "Skylake UPI: 20.8 GB/s line rate (Xeon Scalable datasheet: 10.4 GT/s), 10 GB/s effective (NCCL topo.h "
    "SKL_QPI_BW); latency as a PCI path; docs/topology-format.md";
// A DGX-1 (P100 and V100) has four such NICs, one per PCIe switch beside a GPU pair (DGX-1 system
// architecture whitepapers; datasheet "4X IB EDR"; NVIDIA/nccl-tests issue 29: "4 IB adapters").
// NICs: 100 Gb/s EDR InfiniBand = 12.5 GB/s line rate (InfiniBand Architecture Specification, EDR
// 4x). Effective rate for bulk transfers, from a link-level measurement only: perftest's
// `ib_send_bw` between GPU buffers over one ConnectX-5 EDR port moves 95.4 Gb/s for every message
// from 64 KiB to 8 MiB (linux-rdma/perftest pull request 98, 2020): 0.954 of the line rate. That is
// the path NCCL's network transfers take (GPU memory, RDMA, one port, large pipelined chunks).
// Host-memory runs on 100 Gb/s IB ports read the same or more (`ib_write_bw` 11728 MiB/s = 98.4
// Gb/s, linux-rdma/perftest issue 225). Not used for the bulk rate: TACCL's alpha-beta profile of an
// InfiniBand link, 105 us/MB (about 9.5 GB/s, 0.76; Shah et al., NSDI 2023), a line fitted to
// per-message costs of TACCL's own transfers, not the port's sustained rate.
constexpr double kGbitPerGbyte = 8.0;
constexpr double kDefaultNicGbit = 100.0;
constexpr double kEdrMeasuredGbit = 95.4;
constexpr double kNicEfficiency = kEdrMeasuredGbit / kDefaultNicGbit;
// Per-message latencies: NCCL src/graph/tuning.cc hwLat[NVLINK|PCI|NET][Ring][Simple] (NCCL 2.19).
constexpr double kNvlinkLatencyUs = 3.4;
constexpr double kPcieLatencyUs = 5.7;
constexpr double kNetworkLatencyUs = 14.0;
// Reduction throughput of one GPU, bytes of one addend per second: dst = a + b reads two and
// writes one element, so HBM bandwidth / 3. V100 HBM2 900 GB/s, P100 HBM2 732 GB/s (NVIDIA
// Tesla V100 and P100 whitepapers).
constexpr double kV100ReduceGbps = 900.0 / 3;
constexpr double kP100ReduceGbps = 732.0 / 3;
constexpr const char* kV100Source = "Tesla V100: HBM2 900 GB/s / 3 accesses per addend (V100 whitepaper)";
constexpr const char* kP100Source = "Tesla P100: HBM2 732 GB/s / 3 accesses per addend (P100 whitepaper)";
constexpr std::int64_t kGiB = std::int64_t{1} << 30;
// The abstract devices of flat:K and groups:...: a uniform model, no hardware behind it.
constexpr double kUniformGbps = 10.0;
constexpr double kUniformLatencyUs = 1.0;
constexpr const char* kUniformSource = "uniform model (no hardware behind it; docs/topology-format.md)";

std::string format_number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

std::vector<Device> numbered_devices(int count, const std::string& prefix, NodeKind kind = NodeKind::device) {
  std::vector<Device> devices;
  for (int i = 0; i < count; ++i) devices.push_back({i, prefix + std::to_string(i), kind, 0, 0, 0, ""});
  return devices;
}

Device gpu(int id, double reduce_gbps, std::int64_t memory, const char* source) {
  return {id, "gpu" + std::to_string(id), NodeKind::gpu, memory, 0, reduce_gbps, source};
}

int add_node(Topology& topology, NodeKind kind, const std::string& name) {
  int id = 0;
  for (const auto* list : {&topology.devices, &topology.nodes})
    for (const Device& d : *list) id = std::max(id, d.id + 1);
  topology.nodes.push_back({id, name, kind, 0, 0, 0, ""});
  return id;
}

// A two-socket PCIe tree: `switches` PCIe switches, each with GPUs 2i, 2i+1 and one NIC, the
// first half under CPU 0 and the rest under CPU 1, the CPUs joined by `cpu_link`.
void add_pcie_tree(Topology& topology, int switches, double cpu_gbps, double cpu_efficiency, const char* cpu_source) {
  const int cpu0 = add_node(topology, NodeKind::cpu, "cpu0");
  const int cpu1 = add_node(topology, NodeKind::cpu, "cpu1");
  topology.links.push_back({cpu0, cpu1, LinkKind::qpi, cpu_gbps, kPcieLatencyUs, 1, cpu_source, cpu_efficiency});
  for (int s = 0; s < switches; ++s) {
    const int sw = add_node(topology, NodeKind::pcie_switch, "pcie" + std::to_string(s));
    const int nic = add_node(topology, NodeKind::nic, "nic" + std::to_string(s));
    topology.links.push_back({sw, s < switches / 2 ? cpu0 : cpu1, LinkKind::pcie, kPcieGen3x16Gbps, kPcieLatencyUs, 1, kPcieSource, kPcieEfficiency});
    topology.links.push_back({2 * s, sw, LinkKind::pcie, kPcieGen3x16Gbps, kPcieLatencyUs, 1, kPcieSource, kPcieEfficiency});
    topology.links.push_back({2 * s + 1, sw, LinkKind::pcie, kPcieGen3x16Gbps, kPcieLatencyUs, 1, kPcieSource, kPcieEfficiency});
    topology.links.push_back({nic, sw, LinkKind::pcie, kPcieGen3x16Gbps, kPcieLatencyUs, 1, kPcieSource, kPcieEfficiency});
  }
}

// The 16 NVLink-connected pairs of a DGX-1; the V100 doubles eight of them.
Topology dgx1(const std::string& name, bool v100) {
  struct Pair { int a, b, links_v100; };
  static constexpr Pair kPairs[] = {
      {0, 3, 2}, {0, 4, 2}, {1, 2, 2}, {1, 5, 2}, {2, 3, 2}, {4, 7, 2}, {5, 6, 2}, {6, 7, 2},
      {0, 1, 1}, {0, 2, 1}, {1, 3, 1}, {2, 6, 1}, {3, 7, 1}, {4, 5, 1}, {4, 6, 1}, {5, 7, 1},
  };
  Topology topology;
  topology.name = name;
  for (int i = 0; i < 8; ++i)
    topology.devices.push_back(v100 ? gpu(i, kV100ReduceGbps, 16 * kGiB, kV100Source)
                                    : gpu(i, kP100ReduceGbps, 16 * kGiB, kP100Source));
  for (const Pair& pair : kPairs)
    topology.links.push_back({pair.a, pair.b, LinkKind::nvlink, v100 ? kNvlinkV100Gbps : kNvlinkP100Gbps,
                              kNvlinkLatencyUs, v100 ? pair.links_v100 : 1, v100 ? kNvlinkV100Source : kNvlinkP100Source,
                              v100 ? kNvlinkV100Efficiency : kNvlinkP100Efficiency});
  add_pcie_tree(topology, 4, kQpiBroadwellGbps, kQpiEfficiency, kQpiSource);
  topology.levels.push_back({"nvlink-quad", {{0, 1, 2, 3}, {4, 5, 6, 7}}});
  topology.compute_routes();
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

double parse_positive_real(std::string_view text, std::string_view whole) {
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || !(value > 0))
    throw TopologyError("topology '" + std::string(whole) + "': '" + std::string(text) +
                        "' is not a positive number");
  return value;
}

// "cluster:NxPRESET[@MxG][+relay]"
Topology parse_cluster(std::string_view name) {
  std::string_view spec = name.substr(8);
  constexpr std::string_view kRelay = "+relay";
  const bool relay = spec.ends_with(kRelay);
  if (relay) spec.remove_suffix(kRelay.size());
  const auto x = spec.find('x');
  if (x == std::string_view::npos)
    throw TopologyError("topology '" + std::string(name) + "': expected cluster:NxPRESET[@MxG]");
  const int nodes = parse_positive(spec.substr(0, x), name);
  spec = spec.substr(x + 1);
  int nics = 0;
  double gbit = kDefaultNicGbit;
  if (const auto at = spec.rfind('@'); at != std::string_view::npos) {
    const std::string_view nic_spec = spec.substr(at + 1);
    const auto nx = nic_spec.find('x');
    if (nx == std::string_view::npos)
      throw TopologyError("topology '" + std::string(name) + "': expected @NICSxGBIT after the preset");
    nics = parse_positive(nic_spec.substr(0, nx), name);
    gbit = parse_positive_real(nic_spec.substr(nx + 1), name);
    spec = spec.substr(0, at);
  }
  Topology topology = cluster_topology(topology_preset(spec), nodes, nics, gbit, relay);
  topology.name = std::string(name);
  return topology;
}

}  // namespace

Topology dgx1_v100() { return dgx1("dgx1-v100", true); }
Topology dgx1_p100() { return dgx1("dgx1-p100", false); }

Topology dgx2() {
  Topology topology;
  topology.name = "dgx2";
  for (int i = 0; i < 16; ++i) topology.devices.push_back(gpu(i, kV100ReduceGbps, 32 * kGiB, kV100Source));
  // The twelve NVSwitches form one non-blocking crossbar: each GPU has 6 links (one to each
  // switch of its baseboard) and the baseboards are joined by 48 links, enough for all 8 GPUs of
  // one board to send to the other at full rate.
  const int crossbar = add_node(topology, NodeKind::nvswitch, "nvswitch");
  for (int i = 0; i < 16; ++i)
    topology.links.push_back({i, crossbar, LinkKind::nvswitch, kNvlinkV100Gbps, kNvlinkLatencyUs, 6, kNvswitchSource,
                              kNvlinkV100Efficiency});
  // PCIe simplified to one switch per GPU pair and NIC (the DGX-2 has two switch levels).
  add_pcie_tree(topology, 8, kUpiSkylakeGbps, kUpiEfficiency, kUpiSource);
  topology.levels.push_back({"baseboard", {{0, 1, 2, 3, 4, 5, 6, 7}, {8, 9, 10, 11, 12, 13, 14, 15}}});
  topology.compute_routes();
  return topology;
}

Topology pcie8() {
  Topology topology;
  topology.name = "pcie8";
  for (int i = 0; i < 8; ++i) topology.devices.push_back(gpu(i, kV100ReduceGbps, 16 * kGiB, kV100Source));
  add_pcie_tree(topology, 4, kQpiBroadwellGbps, kQpiEfficiency, kQpiSource);
  topology.levels.push_back({"socket", {{0, 1, 2, 3}, {4, 5, 6, 7}}});
  topology.compute_routes();
  return topology;
}

Topology flat_topology(int devices) {
  limits::check_device_count("flat:K devices", devices);
  Topology topology;
  topology.name = "flat:" + std::to_string(devices);
  topology.devices = numbered_devices(devices, "dev");
  for (int a = 0; a < devices; ++a)
    for (int b = a + 1; b < devices; ++b)
      topology.links.push_back({a, b, LinkKind::memory, kUniformGbps, kUniformLatencyUs, 1, kUniformSource});
  topology.compute_routes();
  return topology;
}

Topology grouped_topology(const std::vector<int>& group_sizes) {
  if (group_sizes.empty()) throw TopologyError("grouped topology needs at least one group");
  for (int size : group_sizes)
    if (size < 1) throw TopologyError("grouped topology: group size " + std::to_string(size) + " < 1");
  std::int64_t total = 0;
  for (int size : group_sizes) total = limits::checked_add<TopologyError>("groups: devices", total, size, limits::kMaxDevices);
  Topology topology = flat_topology(static_cast<int>(total));
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

Topology cluster_topology(const Topology& node, int nodes, int nics_per_node, double nic_gbit, bool nic_relay) {
  if (nodes < 1) throw TopologyError("cluster needs at least 1 node, got " + std::to_string(nodes));
  if (nics_per_node < 0 || !(nic_gbit > 0))
    throw TopologyError("cluster of '" + node.name + "': NIC count must be >= 0 and rate > 0");
  limits::checked_mul<TopologyError>("cluster: devices (nodes x devices per node)", nodes, node.size(), limits::kMaxDevices);
  node.validate();
  Topology base = node;
  base.routes.clear();
  std::vector<int> nics;
  for (const Device& n : base.nodes)
    if (n.kind == NodeKind::nic) nics.push_back(n.id);
  if (nics.empty()) {
    // No NIC in the preset: one, PCIe-attached to every device.
    const int nic = add_node(base, NodeKind::nic, "nic0");
    for (const Device& d : node.devices)
      base.links.push_back({d.id, nic, LinkKind::pcie, kPcieGen3x16Gbps, kPcieLatencyUs, 1, kPcieSource, kPcieEfficiency});
    nics.push_back(nic);
  }
  if (nics_per_node > static_cast<int>(nics.size()))
    throw TopologyError("cluster of '" + node.name + "': " + std::to_string(nics_per_node) + " NICs per node asked, the node has " +
                        std::to_string(nics.size()));
  if (nics_per_node > 0) nics.resize(static_cast<std::size_t>(nics_per_node));

  const int per_node = base.size();
  const int node_base = nodes * per_node;
  const int node_count = static_cast<int>(base.nodes.size());
  std::map<int, int> local;  // id in `base` -> index (devices first, then nodes)
  for (int i = 0; i < per_node; ++i) local.emplace(base.devices[static_cast<std::size_t>(i)].id, i);
  for (int i = 0; i < node_count; ++i) local.emplace(base.nodes[static_cast<std::size_t>(i)].id, per_node + i);
  const auto remap = [&](int copy, int id) {
    const int index = local.at(id);
    return index < per_node ? copy * per_node + index : node_base + copy * node_count + (index - per_node);
  };

  Topology topology;
  topology.name = "cluster:" + std::to_string(nodes) + "x" + node.name + (nic_relay ? "+relay" : "");
  topology.nic_relay = nic_relay || node.nic_relay;
  for (int c = 0; c < nodes; ++c) {
    const std::string prefix = "n" + std::to_string(c) + "/";
    for (const Device& d : base.devices) {
      Device copy = d;
      copy.id = remap(c, d.id);
      copy.name = prefix + d.name;
      topology.devices.push_back(std::move(copy));
    }
  }
  for (int c = 0; c < nodes; ++c) {
    const std::string prefix = "n" + std::to_string(c) + "/";
    for (const Device& n : base.nodes) {
      Device copy = n;
      copy.id = remap(c, n.id);
      copy.name = prefix + n.name;
      topology.nodes.push_back(std::move(copy));
    }
  }
  const int network = node_base + nodes * node_count;
  topology.nodes.push_back({network, "network", NodeKind::network_switch, 0, 0, 0,
                            "one non-blocking switch (full bisection)"});
  const std::string nic_source = format_number(nic_gbit) + " Gb/s NIC = " + format_number(nic_gbit / kGbitPerGbyte) +
                                 " GB/s line rate, 95.4% effective (perftest ib_send_bw GPU-to-GPU over ConnectX-5 EDR: 95.4 Gb/s, "
                                 "linux-rdma/perftest PR 98); latency "
                                 "NCCL tuning.cc hwLat[NET][Ring][Simple]; docs/topology-format.md";
  for (int c = 0; c < nodes; ++c) {
    for (const Link& l : base.links) {
      Link copy = l;
      copy.a = remap(c, l.a);
      copy.b = remap(c, l.b);
      topology.links.push_back(std::move(copy));
    }
    for (int nic : nics)
      topology.links.push_back({remap(c, nic), network, LinkKind::network, nic_gbit / kGbitPerGbyte, kNetworkLatencyUs, 1,
                                nic_source, kNicEfficiency});
  }
  for (const GroupLevel& level : base.levels) {
    GroupLevel copy{level.name, {}};
    for (int c = 0; c < nodes; ++c)
      for (const auto& group : level.groups) {
        std::vector<int> ids;
        for (int id : group) ids.push_back(remap(c, id));
        copy.groups.push_back(std::move(ids));
      }
    topology.levels.push_back(std::move(copy));
  }
  GroupLevel by_node{"node", {}};
  for (int c = 0; c < nodes; ++c) {
    std::vector<int> ids;
    for (const Device& d : base.devices) ids.push_back(remap(c, d.id));
    by_node.groups.push_back(std::move(ids));
  }
  topology.levels.push_back(std::move(by_node));
  topology.compute_routes();
  return topology;
}

std::vector<std::string> topology_preset_names() {
  return {"dgx1-v100", "dgx1-p100", "dgx2", "pcie8", "cluster:NxPRESET[@MxG][+relay]", "flat:K", "groups:KxG",
          "groups:S1,S2,...", "local"};
}

Topology topology_preset(std::string_view name) {
  if (name == "dgx1-v100") return dgx1_v100();
  if (name == "dgx1-p100") return dgx1_p100();
  if (name == "dgx2") return dgx2();
  if (name == "pcie8") return pcie8();
  if (name == "local") return local_topology();
  if (name.starts_with("cluster:")) return parse_cluster(name);
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
  std::error_code ignored;
  if (name.ends_with(".json") || std::filesystem::is_regular_file(std::string(name), ignored))
    return load_topology(std::string(name));
  std::string known;
  for (const auto& preset : topology_preset_names()) known += " " + preset;
  throw TopologyError("unknown topology '" + std::string(name) + "' (known:" + known + ", or a .json file)");
}

}  // namespace meshreduce
