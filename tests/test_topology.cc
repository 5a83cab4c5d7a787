// Topology presets (the DGX-1 link tables of docs/topology-format.md, flat, grouped), preset names, and
// Topology::validate.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "meshreduce/meshreduce.h"
#include "test_support.h"

namespace meshreduce {
namespace {

using testing::expect_contains;
using testing::thrown_message;

// The NVLink pairs of a DGX-1, with the V100's link count per pair.
const std::vector<std::pair<std::pair<int, int>, int>> kDgx1Pairs{
    {{0, 3}, 2}, {{0, 4}, 2}, {{1, 2}, 2}, {{1, 5}, 2}, {{2, 3}, 2}, {{4, 7}, 2}, {{5, 6}, 2}, {{6, 7}, 2},
    {{0, 1}, 1}, {{0, 2}, 1}, {{1, 3}, 1}, {{2, 6}, 1}, {{3, 7}, 1}, {{4, 5}, 1}, {{4, 6}, 1}, {{5, 7}, 1}};

// NVLinks joining devices a and b directly.
int links_between(const Topology& topology, int a, int b) {
  int count = 0;
  for (const Link& link : topology.links)
    if (link.kind == LinkKind::nvlink && ((link.a == a && link.b == b) || (link.a == b && link.b == a)))
      count += link.count;
  return count;
}

// GB/s a device can send over its NVLinks.
double nvlink_out(const Topology& topology, int device) {
  double total = 0;
  for (const Link& link : topology.links)
    if (link.kind == LinkKind::nvlink && (link.a == device || link.b == device)) total += link.bandwidth_gbps * link.count;
  return total;
}

TEST(TopologyPresets, Dgx1V100) {
  const Topology topology = dgx1_v100();
  EXPECT_NO_THROW(topology.validate());
  EXPECT_EQ(topology.name, "dgx1-v100");
  ASSERT_EQ(topology.size(), 8);
  int links = 0;
  std::set<std::pair<int, int>> pairs;
  for (const Link& link : topology.links) {
    EXPECT_FALSE(link.source.empty());
    if (link.kind != LinkKind::nvlink) continue;  // the PCIe tree
    links += link.count;
    pairs.insert({std::min(link.a, link.b), std::max(link.a, link.b)});
    EXPECT_EQ(link.bandwidth_gbps, 25.0);
  }
  EXPECT_EQ(links, 24);
  EXPECT_EQ(pairs.size(), 16u);
  for (const auto& [pair, count] : kDgx1Pairs)
    EXPECT_EQ(links_between(topology, pair.first, pair.second), count) << pair.first << "-" << pair.second;
  for (int device = 0; device < 8; ++device) {
    EXPECT_EQ(nvlink_out(topology, device), 150.0) << "GPU " << device;
    // The quads are fully connected; the only cross links are i <-> i+4.
    for (int other = 0; other < 8; ++other) {
      if (other == device) continue;
      const bool same_quad = device / 4 == other / 4;
      const bool partner = other == (device + 4) % 8;
      EXPECT_EQ(links_between(topology, device, other) > 0, same_quad || partner) << device << "-" << other;
    }
  }
  // Effective rates: 20 of each link's 25 GB/s carry data.
  EXPECT_DOUBLE_EQ(topology.direct_bandwidth(0, 3), 40.0);
  EXPECT_DOUBLE_EQ(topology.direct_bandwidth(3, 0), 40.0);
  EXPECT_DOUBLE_EQ(topology.direct_bandwidth(0, 1), 20.0);
  EXPECT_EQ(topology.direct_bandwidth(0, 5), 0.0);
  ASSERT_EQ(topology.levels.size(), 1u);
  const std::vector<std::vector<int>> quads{{0, 1, 2, 3}, {4, 5, 6, 7}};
  EXPECT_EQ(topology.levels[0].groups, quads);
}

TEST(TopologyPresets, Dgx1P100) {
  const Topology topology = dgx1_p100();
  EXPECT_NO_THROW(topology.validate());
  EXPECT_EQ(topology.name, "dgx1-p100");
  int links = 0;
  for (const Link& link : topology.links) {
    if (link.kind != LinkKind::nvlink) continue;
    links += link.count;
    EXPECT_EQ(link.count, 1);
    EXPECT_EQ(link.bandwidth_gbps, 20.0);
  }
  EXPECT_EQ(links, 16);
  for (const auto& [pair, count] : kDgx1Pairs)
    EXPECT_EQ(links_between(topology, pair.first, pair.second), 1) << pair.first << "-" << pair.second;
  for (int device = 0; device < 8; ++device) EXPECT_EQ(nvlink_out(topology, device), 80.0) << "GPU " << device;
}

TEST(TopologyPresets, ByName) {
  EXPECT_EQ(topology_preset("dgx1-v100").links.size(), dgx1_v100().links.size());
  EXPECT_EQ(topology_preset("dgx1-p100").name, "dgx1-p100");
  const auto names = topology_preset_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "dgx1-v100"), names.end());
}

TEST(TopologyPresets, Flat) {
  for (int k : {1, 2, 5, 64}) {
    const Topology topology = topology_preset("flat:" + std::to_string(k));
    EXPECT_NO_THROW(topology.validate());
    EXPECT_EQ(topology.size(), k);
    EXPECT_EQ(topology.links.size(), static_cast<std::size_t>(k * (k - 1) / 2));
    EXPECT_TRUE(topology.levels.empty());
    for (int d = 0; d < k; ++d) EXPECT_EQ(topology.devices[static_cast<std::size_t>(d)].id, d);
    if (k > 1) {
      EXPECT_GT(topology.direct_bandwidth(0, k - 1), 0.0);
    }
  }
}

TEST(TopologyPresets, EqualGroups) {
  const Topology topology = topology_preset("groups:8x2");
  EXPECT_NO_THROW(topology.validate());
  EXPECT_EQ(topology.size(), 8);
  ASSERT_EQ(topology.levels.size(), 1u);
  const std::vector<std::vector<int>> expected{{0, 1, 2, 3}, {4, 5, 6, 7}};
  EXPECT_EQ(topology.levels[0].groups, expected);
  const Topology singles = topology_preset("groups:3x3");
  EXPECT_EQ(singles.levels[0].groups, (std::vector<std::vector<int>>{{0}, {1}, {2}}));
}

TEST(TopologyPresets, UnequalGroups) {
  const Topology topology = topology_preset("groups:3,1,4");
  EXPECT_NO_THROW(topology.validate());
  EXPECT_EQ(topology.size(), 8);
  ASSERT_EQ(topology.levels.size(), 1u);
  const std::vector<std::vector<int>> expected{{0, 1, 2}, {3}, {4, 5, 6, 7}};
  EXPECT_EQ(topology.levels[0].groups, expected);
  EXPECT_EQ(grouped_topology({3, 1, 4}).levels[0].groups, expected);
  EXPECT_EQ(topology_preset("groups:5").levels[0].groups, (std::vector<std::vector<int>>{{0, 1, 2, 3, 4}}));
}

TEST(TopologyPresets, BadNamesThrowTopologyError) {
  for (const char* bad : {"", "dgx1", "dgx9", "dgx1-v100 ", "DGX1-V100", "flat", "flat:", "flat:0", "flat:-1", "flat:abc",
                          "flat:3x", "flat: 3", "groups:", "groups:8x3", "groups:x2", "groups:8x", "groups:0x1",
                          "groups:8x0", "groups:3,,4", "groups:3,1,4,", "groups:,3", "groups:3,0", "groups:a,b",
                          "groups:99999999999x1"}) {
    SCOPED_TRACE(std::string("preset '") + bad + "'");
    const std::string message = thrown_message<TopologyError>([&] { topology_preset(bad); });
    EXPECT_FALSE(message.empty());
  }
  expect_contains(thrown_message<TopologyError>([] { topology_preset("dgx9"); }),
                  {"unknown topology 'dgx9'", "dgx1-v100", "flat:K"});
  expect_contains(thrown_message<TopologyError>([] { topology_preset("groups:8x3"); }), {"8", "3"});
  expect_contains(thrown_message<TopologyError>([] { topology_preset("flat:abc"); }), {"'abc'"});
}

TEST(TopologyPresets, BadArgumentsThrowTopologyError) {
  EXPECT_THROW(flat_topology(0), TopologyError);
  EXPECT_THROW(grouped_topology({}), TopologyError);
  EXPECT_THROW(grouped_topology({2, 0}), TopologyError);
}

// ---- validate ------------------------------------------------------------------------------------

Topology small() {
  Topology topology;
  topology.name = "small";
  for (int id = 0; id < 3; ++id) {
    Device device;
    device.id = id;
    device.name = std::string(1, static_cast<char>('a' + id));
    topology.devices.push_back(device);
  }
  topology.links = {{0, 1, LinkKind::pcie, 12.0, 1.0, 1, "test"}, {1, 2, LinkKind::qpi, 6.0, 2.0, 2, "test"}};
  topology.levels = {{"socket", {{0, 1}, {2}}}};
  return topology;
}

TEST(TopologyValidate, AcceptsAConsistentTopology) { EXPECT_NO_THROW(small().validate()); }

TEST(TopologyValidate, RejectsEachInconsistency) {
  struct Case {
    const char* what;
    void (*edit)(Topology&);
    std::vector<std::string> says;
  };
  const std::vector<Case> cases{
      {"duplicate id", [](Topology& t) { t.devices[2].id = 1; }, {"device id 1", "twice"}},
      {"unknown device", [](Topology& t) { t.links[1].b = 7; }, {"1-7", "does not exist"}},
      {"self link", [](Topology& t) { t.links[0].b = 0; }, {"device 0", "itself"}},
      {"zero bandwidth", [](Topology& t) { t.links[0].bandwidth_gbps = 0; }, {"0-1", "bandwidth"}},
      {"no links", [](Topology& t) { t.links[1].count = 0; }, {"1-2", "count"}},
      {"negative latency", [](Topology& t) { t.links[0].latency_us = -1; }, {"0-1", "latency"}},
      {"empty group", [](Topology& t) { t.levels[0].groups.push_back({}); }, {"socket", "empty group"}},
      {"unknown device in level", [](Topology& t) { t.levels[0].groups[1] = {2, 5}; }, {"socket", "device 5"}},
      {"device in two groups", [](Topology& t) { t.levels[0].groups[1] = {1, 2}; }, {"socket", "device 1", "two groups"}},
      {"level missing a device", [](Topology& t) { t.levels[0].groups.pop_back(); }, {"socket", "covers 2 of 3"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    Topology topology = small();
    c.edit(topology);
    const std::string message = thrown_message<TopologyError>([&] { topology.validate(); });
    EXPECT_NE(message.find("'small'"), std::string::npos) << message;
    for (const std::string& part : c.says) EXPECT_NE(message.find(part), std::string::npos) << message << " / " << part;
  }
}

TEST(TopologyValidate, CommunicatorRejectsAnInconsistentTopology) {
  Topology topology = small();
  topology.devices[2].id = 1;
  CommunicatorOptions options;
  options.topology = topology;
  EXPECT_THROW(Communicator{options}, TopologyError);
}

TEST(LinkKinds, NamesRoundTrip) {
  for (LinkKind kind : {LinkKind::nvlink, LinkKind::nvswitch, LinkKind::pcie, LinkKind::qpi, LinkKind::network,
                        LinkKind::memory})
    EXPECT_EQ(parse_link_kind(link_kind_name(kind)), kind);
  EXPECT_THROW(parse_link_kind("infiniband"), TopologyError);
}

}  // namespace
}  // namespace meshreduce
