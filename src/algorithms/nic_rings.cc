// nic-rings: one ring allreduce per NIC of a machine, each ring passing through every device of
// every machine, so that all of a machine's NICs carry their share at once and the data inside a
// machine moves over NVLink (what NCCL does across DGX-1 nodes: one channel per NIC).
//
// How it works, for M machines (the groups of the topology's outermost level, whose routes
// between each other cross a `network` link) with C NICs each (C the smallest count over the
// machines; NICs are nodes of kind `nic` with a network link):
//   near     a NIC's devices are those reached from it through PCIe switches only (on a DGX-1,
//            the GPU pair on its switch: GPUs 0 and 1 for NIC 0).
//   channel  channel c enters each machine at the first device next to the machine's NIC c and
//            leaves it from the second (the first again when only one is near; then any device
//            ends the path), visiting every other device of the machine in between along the
//            path whose narrowest hop is widest: hops weigh their route's bandwidth divided by
//            1 + the channels already on that hop, so channels spread over the NVLinks.
//            Hop m -> m+1 of the ring leaves machine m through NIC c and enters machine m+1
//            through NIC c: each NIC sends one channel and receives one.
//   split    the buffer is cut into C near-equal parts (fewer for calls under 4 KiB per device
//            and channel, the buffers of a call then taking turns on the rings by rotation);
//            channel c runs the `ring` schedule
//            (reduce-scatter then allgather, 1 MiB chunks unless told otherwise) on part c, its
//            slice owners turned by c so that the channels' final reductions land on different
//            devices.
// Without a topology, each of the request's groups stands for a machine with one NIC: one ring
// through the groups in order.
// What it costs, for n bytes and K devices: every device sends 2(K-1)/K n bytes in all (the
// bandwidth lower bound), n/C of it on each channel; every NIC sends and receives 2(K-1)/(K C) n,
// so the time is about 2(K-1)/K n / (C B_nic) + 2(K-1) alpha per chunk, with B_nic one NIC's
// effective rate: busbw C B_nic, four EDR NICs' 47.7 GB/s on DGX-1 nodes. With PCIe routes to the
// NICs the rings need no relay; `nic_relay` (NCCL's PXN) helps algorithms that send from every
// GPU, such as hierarchical-rs on machines whose NICs hang off one socket.
// It declines without levels that separate machines across a network, or when a machine has no
// NIC next to one of its participating devices.
#include "algorithms/nic_rings.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <set>

#include "algorithms/hierarchical.h"
#include "algorithms/ring.h"
#include "algorithms/slicing.h"
#include "meshreduce/topology.h"

namespace meshreduce::detail {
namespace {

// Path-search steps allowed per machine and channel: an exhaustive search of an 8-GPU machine
// takes a few thousand; a bound for pathological machines, where the best path found so far serves.
constexpr std::int64_t kSearchBudget = 200000;
constexpr std::int64_t kDefaultChunkBytes = std::int64_t{1} << 20;
// Fewest bytes per device and channel: below it a call runs on fewer channels (NCCL too lowers
// its channel count for small calls), since a channel's K slices would be too small to gain
// bandwidth and every channel adds 2(K-1) dependent steps per device.
constexpr std::int64_t kMinSliceBytes = std::int64_t{4} << 10;

bool crosses_network(const Topology& topology, const Route& route) {
  return std::any_of(route.links.begin(), route.links.end(),
                     [&](int l) { return topology.links[static_cast<std::size_t>(l)].kind == LinkKind::network; });
}

// Positions next to each network NIC (reached through PCIe switches only), by NIC id.
std::map<int, std::vector<int>> nic_neighbours(const Topology& topology, const std::map<int, int>& position_of) {
  std::set<int> nics;
  for (const Link& link : topology.links)
    if (link.kind == LinkKind::network)
      for (int end : {link.a, link.b})
        if (const Device* node = topology.find(end); node != nullptr && node->kind == NodeKind::nic) nics.insert(end);
  std::map<int, std::vector<int>> near;
  for (int nic : nics) {
    std::vector<int> frontier{nic};
    std::set<int> seen{nic};
    std::vector<int>& positions = near[nic];
    while (!frontier.empty()) {
      const int at = frontier.back();
      frontier.pop_back();
      for (const Link& link : topology.links) {
        if (link.a != at && link.b != at) continue;
        const int other = link.a == at ? link.b : link.a;
        if (!seen.insert(other).second) continue;
        if (const auto p = position_of.find(other); p != position_of.end()) {
          positions.push_back(p->second);
        } else if (const Device* node = topology.find(other); node != nullptr && node->kind == NodeKind::pcie_switch) {
          frontier.push_back(other);
        }
      }
    }
    std::sort(positions.begin(), positions.end());
  }
  return near;
}

// The widest Hamiltonian path through `members` from `first` (ending at `last` unless it is -1),
// where hop a -> b weighs width[a][b]; empty when no path of positive width is found.
class PathSearch {
 public:
  PathSearch(const std::vector<int>& members, const std::map<std::pair<int, int>, double>& width)
      : members_(members), width_(width) {}

  std::vector<int> run(int first, int last) {
    last_ = last;
    path_ = {first};
    used_ = {first};
    best_.clear();
    best_width_ = 0;
    budget_ = kSearchBudget;
    extend(1e300);
    return best_;
  }

 private:
  double width(int a, int b) const {
    const auto it = width_.find({a, b});
    return it == width_.end() ? 0.0 : it->second;
  }

  void extend(double narrowest) {
    if (--budget_ < 0 || narrowest <= best_width_) return;
    if (path_.size() == members_.size()) {
      if (last_ < 0 || path_.back() == last_) {
        best_ = path_;
        best_width_ = narrowest;
      }
      return;
    }
    std::vector<int> next;
    for (int m : members_)
      if (!used_.contains(m) && (m != last_ || path_.size() + 1 == members_.size())) next.push_back(m);
    const int at = path_.back();
    std::stable_sort(next.begin(), next.end(), [&](int a, int b) { return width(at, a) > width(at, b); });
    for (int m : next) {
      const double w = std::min(narrowest, width(at, m));
      if (w <= best_width_) break;  // sorted: no later hop is wider
      path_.push_back(m);
      used_.insert(m);
      extend(w);
      used_.erase(m);
      path_.pop_back();
    }
  }

  const std::vector<int>& members_;
  const std::map<std::pair<int, int>, double>& width_;
  int last_ = -1;
  std::vector<int> path_;
  std::set<int> used_;
  std::vector<int> best_;
  double best_width_ = 0;
  std::int64_t budget_ = 0;
};

NicRingPlan plan_without_topology(const AlgorithmRequest& request) {
  std::vector<int> ring;
  for (const auto& group : effective_groups(request)) ring.insert(ring.end(), group.begin(), group.end());
  return {{ring}, ""};
}

}  // namespace

NicRingPlan plan_nic_rings(const AlgorithmRequest& request) {
  if (request.num_devices < 1) return {{}, "no devices"};
  if (auto reason = check_partition(effective_groups(request), request.num_devices)) return {{}, *reason};
  const Topology* topology = request.topology;
  if (topology == nullptr || request.topology_devices.size() != static_cast<std::size_t>(request.num_devices))
    return plan_without_topology(request);
  if (topology->levels.empty()) return {{}, "topology '" + topology->name + "' has no level that groups devices into machines"};
  const GroupLevel& outer = topology->levels.back();

  std::map<int, int> position_of;
  for (std::size_t p = 0; p < request.topology_devices.size(); ++p)
    position_of.emplace(request.topology_devices[p], static_cast<int>(p));
  // Machines: the outermost level's groups that hold participants, each as its positions.
  std::vector<std::vector<int>> machines;
  std::map<int, std::size_t> machine_of;  // position -> machine
  for (const auto& group : outer.groups) {
    std::vector<int> members;
    for (int id : group)
      if (const auto p = position_of.find(id); p != position_of.end()) members.push_back(p->second);
    if (members.empty()) continue;
    std::sort(members.begin(), members.end());
    for (int m : members) machine_of[m] = machines.size();
    machines.push_back(std::move(members));
  }
  if (machines.size() < 2)
    return {{}, "all devices are in one group of level '" + outer.name + "' (one machine: use multiring or hierarchical-rs)"};
  const Route* between = topology->route(request.topology_devices[static_cast<std::size_t>(machines[0][0])],
                                         request.topology_devices[static_cast<std::size_t>(machines[1][0])]);
  if (between == nullptr || !crosses_network(*topology, *between))
    return {{}, "the groups of level '" + outer.name + "' are not machines joined by a network"};

  // NICs per machine, each with the participants next to it.
  std::vector<std::vector<std::vector<int>>> nics(machines.size());
  for (const auto& [nic, near] : nic_neighbours(*topology, position_of))
    if (!near.empty()) {
      std::vector<int> same;
      const std::size_t machine = machine_of.at(near.front());
      for (int p : near)
        if (machine_of.at(p) == machine) same.push_back(p);
      nics[machine].push_back(std::move(same));
    }
  std::size_t channels = nics[0].size();
  for (std::size_t m = 0; m < machines.size(); ++m) {
    if (nics[m].empty())
      return {{}, "machine " + std::to_string(m) + " of level '" + outer.name +
                      "' has no network NIC next to a participating device (reached through PCIe switches)"};
    channels = std::min(channels, nics[m].size());
  }

  // Hop widths inside each machine: the route's bottleneck, shared by the channels already on it.
  std::map<std::pair<int, int>, double> route_width;
  std::map<std::pair<int, int>, int> uses;
  for (const auto& members : machines)
    for (int a : members)
      for (int b : members)
        if (a != b)
          if (const Route* r = topology->route(request.topology_devices[static_cast<std::size_t>(a)],
                                               request.topology_devices[static_cast<std::size_t>(b)]))
            route_width[{a, b}] = topology->route_bandwidth_gbps(*r);

  NicRingPlan plan;
  for (std::size_t c = 0; c < channels; ++c) {
    std::vector<int> ring;
    for (std::size_t m = 0; m < machines.size(); ++m) {
      const auto& members = machines[m];
      const auto& near = nics[m][c];
      const int first = near.front();
      const int last = members.size() == 1 ? first : near.size() > 1 ? near[1] : -1;
      std::map<std::pair<int, int>, double> width;
      for (const auto& [hop, gbps] : route_width)
        if (machine_of.at(hop.first) == m) width[hop] = gbps / (1 + uses[hop]);
      std::vector<int> path = PathSearch(members, width).run(first, last);
      if (path.empty() && last >= 0) path = PathSearch(members, width).run(first, -1);
      if (path.empty())
        return {{}, "machine " + std::to_string(m) + ": no path through its devices from device " +
                        std::to_string(request.topology_devices[static_cast<std::size_t>(first)])};
      for (std::size_t h = 1; h < path.size(); ++h) ++uses[{path[h - 1], path[h]}];
      ring.insert(ring.end(), path.begin(), path.end());
    }
    plan.rings.push_back(std::move(ring));
  }
  return plan;
}

std::optional<std::string> decline_nic_rings(const AlgorithmRequest& request) {
  NicRingPlan plan = plan_nic_rings(request);
  if (plan.rings.empty()) return plan.reason;
  return std::nullopt;
}

Schedule build_nic_rings(const AlgorithmRequest& request) {
  Schedule schedule = start_schedule("nic-rings", request);
  if (finish_if_trivial(schedule, request)) return schedule;
  const NicRingPlan plan = plan_nic_rings(request);
  const std::int64_t chunk = request.options.chunk_elements > 0
                                 ? request.options.chunk_elements
                                 : kDefaultChunkBytes / static_cast<std::int64_t>(dtype_size(request.dtype));
  const std::int64_t bytes = request.count * static_cast<std::int64_t>(dtype_size(request.dtype));
  const std::int64_t per_slice = kMinSliceBytes * request.num_devices;
  const auto channels = std::clamp<std::int64_t>(bytes / per_slice, 1, static_cast<std::int64_t>(plan.rings.size()));
  // With fewer channels than rings, consecutive buffers (rotation) take turns on the NICs.
  const auto rings = static_cast<std::int64_t>(plan.rings.size());
  for (std::int64_t c = 0; c < channels; ++c)
    append_ring(schedule, plan.rings[static_cast<std::size_t>(((request.rotation + c) % rings + rings) % rings)],
                part({0, request.count}, channels, c), chunk, request.rotation + c, request.op == ReduceOp::average);
  return schedule;
}

}  // namespace meshreduce::detail
