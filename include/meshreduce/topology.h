// The machine: devices, the other nodes data passes through (PCIe switches, CPUs, NICs, NUMA
// nodes, caches), the links between them, the route each ordered device pair uses, and grouping
// levels (GPU group, socket, node). The simulator and the executors read the same Topology;
// presets and JSON files (docs/topology-format.md) produce one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "meshreduce/thread_model.h"

namespace meshreduce {

enum class LinkKind : std::uint8_t { nvlink, nvswitch, pcie, qpi, network, memory };

std::string_view link_kind_name(LinkKind kind) noexcept;
LinkKind parse_link_kind(std::string_view text);

// What a device or node is. Devices (where buffers live and steps run) are `device` (an
// abstract endpoint), `gpu` or `core`; the rest only route data.
enum class NodeKind : std::uint8_t { device, gpu, core, cpu, numa, cache, pcie_switch, nvswitch, nic, network_switch };

std::string_view node_kind_name(NodeKind kind) noexcept;
NodeKind parse_node_kind(std::string_view text);

// A device (Topology::devices) or a routing-only node (Topology::nodes); ids are unique across
// both lists. Devices never forward traffic: a route passes only through nodes.
struct Device {
  int id = 0;
  std::string name;
  NodeKind kind = NodeKind::device;
  std::int64_t memory_bytes = 0;  // a cache's size, a NUMA node's memory, a GPU's memory; 0 = unknown
  double bandwidth_gbps = 0;      // nodes: GB/s of all traffic passing through it together; 0 = no limit
  double reduce_gbps = 0;         // devices: GB/s of one addend reduced (see simulator.h); 0 = not modelled
  std::string source;             // where the figures come from (empty when there are none)

  friend bool operator==(const Device&, const Device&) = default;
};

// An undirected connection of `count` parallel links; bandwidth is per link and per direction.
// `a` and `b` name devices or nodes. The line rate is what the wire signals; the efficiency is the
// fraction of it that carries payload once packet headers, flow control and the transport's own
// framing are paid (docs/topology-format.md lists each preset's figures and their sources). The
// simulator moves data at the effective rate, bandwidth_gbps * efficiency.
struct Link {
  int a = 0;
  int b = 0;
  LinkKind kind = LinkKind::nvlink;
  double bandwidth_gbps = 0;  // line rate, GB/s (1e9 bytes/s) per link per direction
  double latency_us = 0;      // per message, end to end over a path of this kind (see Route)
  int count = 1;
  std::string source;        // where the figures come from
  double efficiency = 1.0;   // payload fraction of the line rate, in (0, 1]

  double effective_gbps() const noexcept { return bandwidth_gbps * efficiency; }

  friend bool operator==(const Link&, const Link&) = default;
};

// The links a message from device `src` to device `dst` crosses, in order (indices into
// Topology::links). A message pays the route's latency once: the largest latency of its links
// (link latencies are end-to-end figures for a path of that kind, as NCCL's tuning model uses
// them, not per-wire delays), and moves at the rate its links' shares allow.
struct Route {
  int src = 0;
  int dst = 0;
  std::vector<int> links;

  friend bool operator==(const Route&, const Route&) = default;
};

// One grouping level: a partition of all devices into groups (for example the DGX-1's two
// fully-connected quads, or the nodes of a cluster). Levels run from innermost to outermost.
struct GroupLevel {
  std::string name;
  std::vector<std::vector<int>> groups;

  friend bool operator==(const GroupLevel&, const GroupLevel&) = default;
};

// Memory bandwidth of this machine, as measured by measure_memory_bandwidth().
struct MemoryBandwidth {
  int threads = 0;                // threads of the all-threads figures
  double copy_one_thread_gbps = 0;   // bytes copied per second by one thread
  double copy_all_threads_gbps = 0;  // bytes copied per second by `threads` threads together
  double add_one_thread_gbps = 0;    // bytes of one addend per second of dst[i] += src[i], one thread

  friend bool operator==(const MemoryBandwidth&, const MemoryBandwidth&) = default;
};

struct Topology {
  std::string name;
  std::vector<Device> devices;
  std::vector<Device> nodes;  // switches, CPUs, NICs, NUMA nodes, caches: route data, hold none
  std::vector<Link> links;
  std::vector<GroupLevel> levels;
  // Sorted by (src, dst); one per ordered pair of distinct devices that a path joins. Filled by
  // compute_routes(), which every preset and the JSON reader call.
  std::vector<Route> routes;
  // The measurement behind a `local` topology's figures, when one was made (stored in its file).
  std::optional<MemoryBandwidth> memory_bandwidth;
  // The thread executor's measured costs on this machine (`meshreduce calibrate` stores them in
  // the `local` topology's file; thread_model.h).
  std::optional<ThreadCosts> thread_costs;
  // Relay network traffic through a GPU next to a NIC (NCCL's "PXN"): a route that crosses the
  // network may pass through one device on each side, reached over NVLink or NVSwitch, when that
  // widens its bottleneck (a GPU whose own way to a NIC crosses the 6 GB/s QPI link relays over
  // NVLink through the GPU beside a NIC instead). Off: devices never forward (compute_routes).
  bool nic_relay = false;

  int size() const noexcept { return static_cast<int>(devices.size()); }
  // Total direct effective bandwidth between a and b in GB/s per direction (0 when not linked).
  double direct_bandwidth(int a, int b) const noexcept;
  // The device or node with this id, or null.
  const Device* find(int id) const noexcept;
  bool is_device(int id) const noexcept;
  // The route from device src to device dst, or null when none is known (or src == dst).
  const Route* route(int src, int dst) const noexcept;
  // The ids a route visits, src first, dst last.
  std::vector<int> route_path(const Route& route) const;
  // The route's latency (the largest of its links') and its bottleneck effective bandwidth (GB/s,
  // the smallest effective_gbps() * count of its links).
  double route_latency_us(const Route& route) const;
  double route_bandwidth_gbps(const Route& route) const;

  // Fill `routes` for every ordered device pair that has none yet, by the rule: fewest hops,
  // passing only through nodes (never through another device); among those, the largest
  // bottleneck effective bandwidth (effective_gbps() * count); then the smallest link indices, hop by hop.
  // With `nic_relay`, a route that crosses a `network` link is then replaced by the plain routes
  // src -> r1 -> r2 -> dst (r1 is src or a device src reaches over NVLink/NVSwitch only, r2 is
  // dst or one such of dst) when that raises its bottleneck: the widest such, then the fewest
  // links, then the lowest r1, r2.
  // Routes already present (read from a file) are kept. Then sorts `routes`.
  void compute_routes();
  // Throws TopologyError on duplicate ids, links to unknown ids, levels that are not partitions
  // of the devices, routes that do not walk the links from src to dst.
  void validate() const;

  friend bool operator==(const Topology&, const Topology&) = default;
};

// Presets. Every figure names its source in Link::source / Device::source.
//   "dgx1-v100", "dgx1-p100"  the DGX-1 NVLink tables, plus its PCIe tree: four PCIe switches
//                             (GPU pairs 0-1, 2-3, 4-5, 6-7, each with a 100 Gb/s NIC), two CPUs, QPI
//   "dgx2"                    16 V100 on one NVSwitch crossbar (6 links x 25 GB/s per GPU), with
//                             eight PCIe switches (a GPU pair and a NIC each) under two CPUs
//   "pcie8"                   8 GPUs without NVLink: two PCIe switches per socket (a GPU pair and a
//                             NIC each), two sockets joined by QPI
//   "cluster:NxPRESET[@MxG]"  N nodes of PRESET joined by one non-blocking network switch through
//                             M NICs per node of G Gb/s each (default: all of the preset's NICs,
//                             100 Gb/s; a preset without NICs gets one, PCIe-attached to every device)
//                             "+relay" at the end sets nic_relay (NCCL's PXN)
//   "flat:K"                  K devices all linked alike
//   "groups:KxG"              K devices in G equal consecutive groups (K % G == 0), or, written
//                             "groups:4,4,2", groups of the given sizes
//   "local"                   this machine, detected with hwloc: cores are the devices, with their
//                             caches and NUMA nodes (see local_topology)
Topology dgx1_v100();
Topology dgx1_p100();
Topology dgx2();
Topology pcie8();
Topology flat_topology(int devices);
Topology grouped_topology(const std::vector<int>& group_sizes);
// N copies of `node` joined by a network switch. nics_per_node 0 = every NIC of the node
// preset; nic_gbit is each NIC's line rate in Gbit/s.
// nic_relay sets Topology::nic_relay (it is also on when `node` has it).
Topology cluster_topology(const Topology& node, int nodes, int nics_per_node = 0, double nic_gbit = 100.0,
                          bool nic_relay = false);

// Copy and add `bytes_per_buffer`-sized buffers (pre-touched, so page faults are not measured),
// `repeats` times, and report the best run of each. Takes about a second at the defaults.
MemoryBandwidth measure_memory_bandwidth(std::int64_t bytes_per_buffer = std::int64_t{64} << 20, int repeats = 5,
                                         int threads = 0 /* 0 = one per core */);

// This machine: each core a device linked to its L3 cache (or its NUMA node when hwloc reports no
// L3), each cache to its NUMA node, NUMA nodes to each other. Bandwidths come from `measured`
// when given, else from named defaults (docs/topology-format.md).
// Without hwloc (MESHREDUCE_HAVE_HWLOC unset at build time) the cores are
// std::thread::hardware_concurrency() on one NUMA node.
Topology local_topology(const std::optional<MemoryBandwidth>& measured = std::nullopt);

// The one resolver: a preset name (see above) or, for any other text that ends in ".json" or
// names an existing file, that topology file. Throws TopologyError naming the text and the known
// presets.
Topology topology_preset(std::string_view name);
std::vector<std::string> topology_preset_names();

// JSON (format: docs/topology-format.md). The reader validates and fills missing routes; the
// writer writes every route, so a file shows what the simulator will use.
Topology topology_from_json_text(std::string_view json_text);
std::string topology_to_json_text(const Topology& topology, int indent = 2);
Topology load_topology(const std::string& path);
void save_topology(const Topology& topology, const std::string& path);

}  // namespace meshreduce
