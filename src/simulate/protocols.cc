// simulate(): checks the device mapping, decides what the executor pays for, and runs the event
// simulator (simulator.cc) once per transfer protocol the call may use, keeping the fastest, as
// NCCL picks a protocol per call. Also the protocols' named constants.
#include <algorithm>
#include <optional>
#include <set>
#include <string>

#include "meshreduce/error.h"
#include "meshreduce/simulator.h"
#include "simulate/event_simulator.h"

namespace meshreduce {
namespace {

constexpr double kBytesPerGB = 1e9;
constexpr double kSecondsPerUs = 1e-6;

// A lower bound on any protocol of efficiency 1: the bytes the busiest device sends or receives
// over every link it has, at their full effective rate.
double busiest_device_traffic_s(const Schedule& schedule, const Topology& topology, const std::vector<int>& mapping) {
  const TrafficSummary traffic = summarize_traffic(schedule);
  double bound = 0;
  for (std::size_t p = 0; p < mapping.size() && p < traffic.bytes_sent.size(); ++p) {
    double capacity = 0;
    for (const Link& link : topology.links)
      if (link.a == mapping[p] || link.b == mapping[p]) capacity += link.effective_gbps() * link.count * kBytesPerGB;
    if (!(capacity > 0)) continue;
    const auto bytes = std::max(traffic.bytes_sent[p], traffic.bytes_received[p]);
    bound = std::max(bound, static_cast<double>(bytes) / capacity);
  }
  return bound;
}

}  // namespace

Protocol simple_protocol() {
  // NCCL src/graph/tuning.cc: baseLat[Ring][Simple] = 8.4 us; the topology's latencies are the
  // Simple per-hop figures hwLat[..][Ring][Simple].
  return {"simple", 1.0, 8.4, {1, 1, 1, 1, 1, 1}};
}

Protocol low_latency_protocol() {
  // NCCL: half of every 8-byte line is a flag; baseLat[Ring][LL] = 6.6 us; hwLat[..][Ring][LL]
  // over the Simple figures: NVLink 0.6 / 3.4, PCIe (and a PCIe path over QPI) 1.0 / 5.7,
  // network 2.7 / 14; memory links (no NCCL figure) keep theirs.
  constexpr double kNvlink = 0.6 / 3.4, kPci = 1.0 / 5.7, kNet = 2.7 / 14.0;
  std::array<double, 6> factor{};
  factor[static_cast<std::size_t>(LinkKind::nvlink)] = kNvlink;
  factor[static_cast<std::size_t>(LinkKind::nvswitch)] = kNvlink;
  factor[static_cast<std::size_t>(LinkKind::pcie)] = kPci;
  factor[static_cast<std::size_t>(LinkKind::qpi)] = kPci;
  factor[static_cast<std::size_t>(LinkKind::network)] = kNet;
  factor[static_cast<std::size_t>(LinkKind::memory)] = 1.0;
  return {"ll", 0.5, 6.6, factor};
}

std::vector<Protocol> gpu_protocols() { return {simple_protocol(), low_latency_protocol()}; }

SimulationResult simulate(const Schedule& schedule, const Topology& topology, const std::vector<int>& devices,
                          const SimulationOptions& options) {
  const int k = schedule.num_devices;
  std::vector<int> mapping = devices;
  if (mapping.empty()) {
    if (k > topology.size())
      throw InvalidArgument("simulate: the schedule has " + std::to_string(k) + " devices, topology '" + topology.name +
                            "' only " + std::to_string(topology.size()));
    for (int p = 0; p < k; ++p) mapping.push_back(topology.devices[static_cast<std::size_t>(p)].id);
  }
  if (static_cast<int>(mapping.size()) != k)
    throw InvalidArgument("simulate: " + std::to_string(mapping.size()) + " device ids for a schedule of " +
                          std::to_string(k) + " devices");
  std::set<int> seen;
  for (int id : mapping) {
    if (!topology.is_device(id))
      throw InvalidArgument("simulate: topology '" + topology.name + "' has no device " + std::to_string(id));
    if (!seen.insert(id).second) throw InvalidArgument("simulate: device " + std::to_string(id) + " is mapped twice");
  }
  bool gpus = true;
  for (int id : mapping) gpus = gpus && topology.find(id)->kind == NodeKind::gpu;
  const bool gpu_kernels = options.executor == Executor::gpu_kernels || (options.executor == Executor::by_device && gpus);
  std::vector<Protocol> protocols = options.protocols;
  if (protocols.empty()) protocols = gpu_kernels ? gpu_protocols() : std::vector<Protocol>{Protocol{"plain"}};
  for (const Protocol& protocol : protocols)
    if (!(protocol.efficiency > 0 && protocol.efficiency <= 1) || !(protocol.call_latency_us >= 0))
      throw InvalidArgument("simulate: protocol '" + protocol.name + "' has efficiency " +
                            std::to_string(protocol.efficiency) + " (must be in (0, 1]) and call latency " +
                            std::to_string(protocol.call_latency_us) + " us (must be >= 0)");
  // The most efficient protocol first: the others then run only when a bound on their time
  // (their fixed cost plus the busiest device's traffic at its links' full rate) can beat it.
  std::stable_sort(protocols.begin(), protocols.end(),
                   [](const Protocol& a, const Protocol& b) { return a.efficiency > b.efficiency; });
  const double traffic_s = busiest_device_traffic_s(schedule, topology, mapping);
  std::optional<SimulationResult> best;
  for (const Protocol& protocol : protocols) {
    if (best && protocol.call_latency_us * kSecondsPerUs + traffic_s / protocol.efficiency >= best->time_s) continue;
    SimulationResult result = detail::simulate_with(schedule, topology, mapping, options, protocol, !gpu_kernels);
    if (!best || result.time_s < best->time_s) best = std::move(result);
  }
  return std::move(*best);

}

}  // namespace meshreduce
