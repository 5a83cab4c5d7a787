// Machines with several NICs: routes relayed over NVLink to a GPU next to a NIC (the topology's
// nic_relay, NCCL's PXN), and nic-rings, one ring per NIC across machines, proven by the verifier
// and simulated on DGX-1 clusters.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "algorithms/nic_rings.h"
#include "meshreduce/meshreduce.h"
#include "test_support.h"

namespace meshreduce {
namespace {

using testing::expect_contains;
using testing::thrown_message;

// An EDR port's effective rate in the presets: 12.5 GB/s line x 0.954 (perftest, GPU to GPU).
constexpr double kEdrEffective = 12.5 * 0.954;

bool route_crosses(const Topology& topology, int src, int dst, LinkKind kind) {
  const Route* route = topology.route(src, dst);
  EXPECT_NE(route, nullptr) << src << "->" << dst;
  if (route == nullptr) return false;
  return std::any_of(route->links.begin(), route->links.end(),
                     [&](int l) { return topology.links[static_cast<std::size_t>(l)].kind == kind; });
}

// Devices a route passes through (not its ends).
std::vector<int> relays_on(const Topology& topology, int src, int dst) {
  const std::vector<int> path = topology.route_path(*topology.route(src, dst));
  std::vector<int> relays;
  for (std::size_t i = 1; i + 1 < path.size(); ++i)
    if (topology.is_device(path[i])) relays.push_back(path[i]);
  return relays;
}

AlgorithmRequest whole(const Topology& topology, std::int64_t count) {
  AlgorithmRequest request;
  request.num_devices = topology.size();
  request.topology = &topology;
  for (const Device& d : topology.devices) request.topology_devices.push_back(d.id);
  request.count = count;
  return request;
}

// Two DGX-1s with their first two NICs only (both under CPU 0): GPUs 4-7 reach a NIC only across
// QPI (6 GB/s), unless they relay over NVLink through a GPU of 0-3.
TEST(NicRelay, GpusWithoutANicOnTheirSocketRelayOverNvlinkInsteadOfCrossingQpi) {
  const Topology plain = topology_preset("cluster:2xdgx1-v100@2x100");
  const Topology relay = topology_preset("cluster:2xdgx1-v100@2x100+relay");
  EXPECT_FALSE(plain.nic_relay);
  EXPECT_TRUE(relay.nic_relay);
  EXPECT_EQ(relay.name, "cluster:2xdgx1-v100@2x100+relay");
  EXPECT_NO_THROW(relay.validate());
  for (int src : {4, 5, 6, 7})
    for (int dst : {8, 12, 15}) {
      SCOPED_TRACE(std::to_string(src) + "->" + std::to_string(dst));
      EXPECT_TRUE(route_crosses(plain, src, dst, LinkKind::qpi));
      EXPECT_DOUBLE_EQ(plain.route_bandwidth_gbps(*plain.route(src, dst)), 6.0);
      EXPECT_FALSE(route_crosses(relay, src, dst, LinkKind::qpi));
      EXPECT_TRUE(route_crosses(relay, src, dst, LinkKind::network));
      EXPECT_DOUBLE_EQ(relay.route_bandwidth_gbps(*relay.route(src, dst)), kEdrEffective);  // the NIC's
      const std::vector<int> relays = relays_on(relay, src, dst);
      ASSERT_FALSE(relays.empty());
      EXPECT_LE(relays.size(), 2u);
      // The sender's relay is an NVLink peer on the NICs' socket.
      EXPECT_GT(plain.direct_bandwidth(src, relays.front()), 0);
      EXPECT_LT(relays.front(), 4);
    }
  // GPUs next to a NIC keep their plain route, and so does traffic inside a machine: relaying is
  // for the network only.
  for (int src = 0; src < 16; ++src)
    for (int dst = 0; dst < 16; ++dst) {
      if (src == dst) continue;
      const bool same_machine = src / 8 == dst / 8;
      const bool both_near = src % 8 < 4 && dst % 8 < 4;
      if (same_machine || both_near) {
        EXPECT_EQ(relay.route(src, dst)->links, plain.route(src, dst)->links) << src << "->" << dst;
      }
    }
  // With a NIC beside every GPU pair (the DGX-1's four), no route is wider relayed: none changes.
  const Topology four = topology_preset("cluster:2xdgx1-v100");
  const Topology four_relay = topology_preset("cluster:2xdgx1-v100+relay");
  EXPECT_EQ(four.routes, four_relay.routes);
}

TEST(NicRelay, TheFileFieldRoundTripsAndIsChecked) {
  const Topology relay = topology_preset("cluster:2xdgx1-v100@1x100+relay");
  const std::string text = topology_to_json_text(relay);
  expect_contains(text, {"\"nic_relay\": true"});
  const Topology back = topology_from_json_text(text);
  EXPECT_TRUE(back.nic_relay);
  EXPECT_EQ(back.routes, relay.routes);
  // Without the field, devices do not forward: the relayed routes of the file are rejected.
  std::string without = text;
  without.erase(without.find("\"nic_relay\": true,"), std::string("\"nic_relay\": true,").size());
  expect_contains(thrown_message<TopologyError>([&] { topology_from_json_text(without); }), {"devices do not forward traffic unless 'nic_relay' is set"});
  // The field takes true or false, nothing else.
  std::string wrong = text;
  wrong.replace(wrong.find("\"nic_relay\": true"), std::string("\"nic_relay\": true").size(), "\"nic_relay\": 1");
  expect_contains(thrown_message<TopologyError>([&] { topology_from_json_text(wrong); }), {"'nic_relay' must be true or false"});
  // A plain topology writes no field at all (files of the presets stay as they were).
  EXPECT_EQ(topology_to_json_text(dgx1_v100()).find("nic_relay"), std::string::npos);
}

TEST(NicRelay, ARouteMayNotPassThroughThreeDevices) {
  Topology relay = topology_preset("cluster:2xdgx1-v100@1x100+relay");
  // GPU 4 -> GPU 8: relayed through one GPU of 0-3 at most; lengthen the sender's side by an
  // extra NVLink hop 4 -> 5 -> 1 -> ... so three devices relay.
  const Route* route = relay.route(4, 8);
  ASSERT_NE(route, nullptr);
  std::vector<int> links;
  const auto link_between = [&](int a, int b) {
    for (std::size_t l = 0; l < relay.links.size(); ++l)
      if ((relay.links[l].a == a && relay.links[l].b == b) || (relay.links[l].a == b && relay.links[l].b == a))
        return static_cast<int>(l);
    return -1;
  };
  const std::vector<int> path = relay.route_path(*route);
  ASSERT_GE(path.size(), 3u);
  ASSERT_EQ(path[1], 0) << "GPU 4 relays through its NVLink peer next to NIC 0";
  Route longer{4, 8, {link_between(4, 5), link_between(5, 1), link_between(1, 0)}};
  longer.links.insert(longer.links.end(), route->links.begin() + 1, route->links.end());
  for (Route& r : relay.routes)
    if (r.src == 4 && r.dst == 8) r = longer;
  expect_contains(thrown_message<TopologyError>([&] { relay.validate(); }), {"two relaying devices at most"});
}

// nic-rings on four DGX-1s: four rings, each through all 32 GPUs, leaving and entering every
// machine next to a different NIC, so that every NIC sends one ring and receives one.
TEST(NicRings, OneRingPerNicThroughEveryMachine) {
  const Topology topology = topology_preset("cluster:4xdgx1-v100");
  const AlgorithmRequest request = whole(topology, 1 << 20);
  const detail::NicRingPlan plan = detail::plan_nic_rings(request);
  ASSERT_TRUE(plan.reason.empty()) << plan.reason;
  ASSERT_EQ(plan.rings.size(), 4u);
  std::map<std::pair<int, int>, int> sends_per_nic;  // (machine, PCIe switch) -> rings leaving there
  std::map<std::pair<int, int>, int> receives_per_nic;
  for (const auto& ring : plan.rings) {
    ASSERT_EQ(ring.size(), 32u);
    EXPECT_EQ(std::set<int>(ring.begin(), ring.end()).size(), 32u);
    for (std::size_t i = 0; i < ring.size(); ++i) {
      const int from = ring[i];
      const int to = ring[(i + 1) % ring.size()];
      if (from / 8 == to / 8) {
        EXPECT_GT(topology.direct_bandwidth(from, to), 0) << from << "->" << to << " is not an NVLink hop";
        continue;
      }
      EXPECT_EQ((from / 8 + 1) % 4, to / 8) << "machines in order";
      ++sends_per_nic[{from / 8, (from % 8) / 2}];
      ++receives_per_nic[{to / 8, (to % 8) / 2}];
      EXPECT_EQ((from % 8) / 2, (to % 8) / 2) << "a ring leaves and enters through the same NIC index";
    }
  }
  // A call of 64 KiB on 32 GPUs (512 bytes per device and ring) is too small for more than one: the buffers of a call
  // take turns on the rings instead.
  AlgorithmRequest small = whole(topology, 16384);
  for (std::int64_t rotation = 0; rotation < 8; ++rotation) {
    small.rotation = rotation;
    const Schedule schedule = build_schedule(find_algorithm("nic-rings"), small);
    std::set<int> senders_out;  // devices that send to another machine
    for (const Step& step : schedule.steps)
      for (const BufferRef& src : step.srcs)
        if (src.device / 8 != step.device / 8) senders_out.insert(src.device % 8);
    EXPECT_EQ(senders_out, (std::set<int>{static_cast<int>(2 * (rotation % 4) + 1)})) << "rotation " << rotation;
  }
  EXPECT_EQ(sends_per_nic.size(), 16u);
  EXPECT_EQ(receives_per_nic.size(), 16u);
  for (const auto& [nic, rings] : sends_per_nic) EXPECT_EQ(rings, 1) << "machine " << nic.first << " NIC " << nic.second;
  for (const auto& [nic, rings] : receives_per_nic) EXPECT_EQ(rings, 1) << "machine " << nic.first << " NIC " << nic.second;
}

TEST(NicRings, DeclinesOneMachineAndMachinesWithoutNics) {
  const Algorithm& nic_rings = find_algorithm("nic-rings");
  const Topology one = dgx1_v100();
  expect_contains(nic_rings.decline(whole(one, 64)).value_or(""), {"not machines joined by a network"});
  Topology no_levels = topology_preset("cluster:2xdgx1-v100");
  no_levels.levels.clear();
  expect_contains(nic_rings.decline(whole(no_levels, 64)).value_or(""), {"no level that groups devices into machines"});
  // One GPU of each machine: still two machines, each GPU next to its NIC.
  AlgorithmRequest two = whole(topology_preset("cluster:2xdgx1-v100"), 64);
  const Topology cluster = topology_preset("cluster:2xdgx1-v100");
  two.topology = &cluster;
  two.num_devices = 2;
  two.topology_devices = {3, 12};
  EXPECT_FALSE(nic_rings.decline(two));
  // A machine whose NICs are gone from the network: nothing to leave through.
  Topology cut = topology_preset("cluster:2xdgx1-v100");
  const int network = cut.nodes.back().id;
  std::vector<Link> kept;
  int removed = 0;
  for (const Link& link : cut.links) {
    const bool machine1_nic = link.kind == LinkKind::network && (link.a == network || link.b == network) &&
                              cut.find(link.a == network ? link.b : link.a)->name.starts_with("n1/");
    if (machine1_nic && removed++ > 0) continue;  // machine 1 keeps one NIC
    kept.push_back(link);
  }
  cut.links = kept;
  cut.routes.clear();
  cut.compute_routes();
  const detail::NicRingPlan plan = detail::plan_nic_rings(whole(cut, 64));
  ASSERT_TRUE(plan.reason.empty()) << plan.reason;
  EXPECT_EQ(plan.rings.size(), 1u) << "as many rings as the machine with the fewest NICs has";
}

// The verifier proves nic-rings on DGX-1 and DGX-2 clusters, with and without relays, over
// counts smaller than the rings, odd, and several chunks per ring, and a count large enough for
// every NIC's ring (at least 4 KiB per device and channel); sum and average; f32 and f16; out
// of place and in place.
TEST(NicRings, VerifiesOnClusters) {
  const Algorithm& nic_rings = find_algorithm("nic-rings");
  for (const char* preset : {"cluster:2xdgx1-v100", "cluster:3xdgx1-p100+relay", "cluster:2xdgx1-v100@2x100",
                             "cluster:2xdgx2", "cluster:3xpcie8@1x100"}) {
    const Topology topology = topology_preset(preset);
    const std::int64_t all_rings = std::int64_t{4} * 1024 * 4 * topology.size() + 3;  // f16: 2 rings at least
    for (std::int64_t count : {std::int64_t{1}, std::int64_t{7}, std::int64_t{1001}, all_rings})
      for (ReduceOp op : {ReduceOp::sum, ReduceOp::average})
        for (DType dtype : {DType::f32, DType::f16})
          for (std::int64_t chunk : {std::int64_t{0}, count == all_rings ? std::int64_t{8192} : std::int64_t{16}}) {
            AlgorithmRequest request = whole(topology, count);
            request.op = op;
            request.dtype = dtype;
            request.rotation = count % 5;
            request.options.chunk_elements = chunk;
            SCOPED_TRACE(std::string(preset) + " count " + std::to_string(count) + " chunk " + std::to_string(chunk));
            ASSERT_FALSE(nic_rings.decline(request));
            const Schedule schedule = build_schedule(nic_rings, request);
            for (bool in_place : {false, true}) {
              const VerifyReport report = verify_schedule(schedule, {in_place});
              ASSERT_TRUE(report.ok) << report.violation;
            }
          }
  }
}

// On four DGX-1s each NIC carries its share: nic-rings reaches the four NICs' effective rate
// (4 x 11.9 GB/s busbw) within a few percent at 256 MiB, above hierarchical-rs, whose phases
// leave the NICs idle while NVLink works; relaying changes neither, since every GPU pair has its
// own NIC. With the two NICs of socket 0 only, hierarchical-rs gains from the relay (GPUs 4-7
// no longer cross QPI) and nic-rings needs none.
TEST(NicRings, EachNicCarriesItsShareInTheSimulator) {
  const auto busbw = [](const char* preset, const char* algorithm) {
    const Topology topology = topology_preset(preset);
    SimulationOptions options;
    options.trace = false;
    return simulate(build_schedule(find_algorithm(algorithm), whole(topology, std::int64_t{1} << 26)), topology, {},
                    options)
        .busbw_gbps;
  };
  const double rings = busbw("cluster:4xdgx1-v100", "nic-rings");
  EXPECT_GT(rings, 0.9 * 4 * kEdrEffective);
  EXPECT_LE(rings, 4 * kEdrEffective * (1 + 1e-9));
  EXPECT_GT(rings, busbw("cluster:4xdgx1-v100", "hierarchical-rs"));
  EXPECT_DOUBLE_EQ(busbw("cluster:4xdgx1-v100+relay", "nic-rings"), rings);
  const double two_nics = busbw("cluster:4xdgx1-v100@2x100", "nic-rings");
  EXPECT_GT(two_nics, 0.9 * 2 * kEdrEffective);
  EXPECT_LE(two_nics, 2 * kEdrEffective * (1 + 1e-9));
  EXPECT_GT(busbw("cluster:4xdgx1-v100@2x100+relay", "hierarchical-rs"),
            1.1 * busbw("cluster:4xdgx1-v100@2x100", "hierarchical-rs"));
}

}  // namespace
}  // namespace meshreduce
