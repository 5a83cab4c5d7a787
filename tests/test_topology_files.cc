// Topology presets, routes, and the JSON file format (docs/topology-format.md).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "meshreduce/error.h"
#include "meshreduce/topology.h"

namespace meshreduce {
namespace {

std::vector<LinkKind> route_kinds(const Topology& topology, int src, int dst) {
  const Route* route = topology.route(src, dst);
  if (route == nullptr) return {};
  std::vector<LinkKind> kinds;
  for (int l : route->links) kinds.push_back(topology.links[static_cast<std::size_t>(l)].kind);
  return kinds;
}

bool contains(const std::vector<LinkKind>& kinds, LinkKind kind) {
  return std::find(kinds.begin(), kinds.end(), kind) != kinds.end();
}

const std::vector<std::string>& round_trip_presets() {
  static const std::vector<std::string> names{"dgx1-v100", "dgx1-p100", "dgx2", "pcie8", "cluster:4xdgx1-v100",
                                              "cluster:2xdgx2@4x200", "cluster:3xflat:2", "flat:5", "groups:4,4,2",
                                              "groups:8x2", "local"};
  return names;
}

TEST(TopologyFiles, EveryPresetSurvivesAJsonRoundTrip) {
  for (const std::string& name : round_trip_presets()) {
    SCOPED_TRACE(name);
    const Topology preset = topology_preset(name);
    EXPECT_NO_THROW(preset.validate());
    const std::string text = topology_to_json_text(preset);
    const Topology back = topology_from_json_text(text);
    EXPECT_EQ(back, preset);
    EXPECT_EQ(topology_to_json_text(back), text);
  }
}

TEST(TopologyFiles, EveryPresetRoutesEveryDevicePairAndSourcesEveryFigure) {
  for (const std::string& name : round_trip_presets()) {
    SCOPED_TRACE(name);
    const Topology topology = topology_preset(name);
    const auto k = static_cast<std::size_t>(topology.size());
    EXPECT_EQ(topology.routes.size(), k * (k - 1));
    for (const Device& a : topology.devices)
      for (const Device& b : topology.devices)
        if (a.id != b.id) {
          EXPECT_NE(topology.route(a.id, b.id), nullptr) << a.id << "->" << b.id;
        }
    for (const Link& link : topology.links) EXPECT_FALSE(link.source.empty()) << link.a << "-" << link.b;
    for (const auto* list : {&topology.devices, &topology.nodes})
      for (const Device& d : *list)
        if (d.reduce_gbps > 0 || d.bandwidth_gbps > 0) {
          EXPECT_FALSE(d.source.empty()) << d.name;
        }
  }
}

TEST(TopologyFiles, DataFolderHoldsACopyOfEachPreset) {
  struct Copy { const char* preset; const char* file; };
  static constexpr Copy kCopies[] = {{"dgx1-v100", "dgx1-v100.json"}, {"dgx1-p100", "dgx1-p100.json"},
                                     {"dgx2", "dgx2.json"},           {"pcie8", "pcie8.json"},
                                     {"cluster:4xdgx1-v100", "cluster-4xdgx1-v100.json"}};
  // MESHREDUCE_UPDATE_TOPOLOGY_FILES=1 rewrites the copies (after a deliberate preset change).
  const bool update = std::getenv("MESHREDUCE_UPDATE_TOPOLOGY_FILES") != nullptr;
  const std::filesystem::path folder = std::filesystem::path(MESHREDUCE_SOURCE_DIR) / "data" / "topologies";
  for (const Copy& copy : kCopies) {
    SCOPED_TRACE(copy.file);
    const Topology preset = topology_preset(copy.preset);
    const std::string path = (folder / copy.file).string();
    if (update) save_topology(preset, path);
    ASSERT_TRUE(std::filesystem::exists(path)) << "run with MESHREDUCE_UPDATE_TOPOLOGY_FILES=1 to write it";
    EXPECT_EQ(load_topology(path), preset) << "the file differs from the preset; rerun with "
                                               "MESHREDUCE_UPDATE_TOPOLOGY_FILES=1 if the change is deliberate";
    EXPECT_EQ(topology_preset(path), preset);
  }
}

TEST(TopologyFiles, Dgx1PairsWithoutNvlinkGoOverPcieAndQpi) {
  for (const Topology& topology : {dgx1_v100(), dgx1_p100()}) {
    SCOPED_TRACE(topology.name);
    for (int a = 0; a < 8; ++a)
      for (int b = 0; b < 8; ++b) {
        if (a == b) continue;
        SCOPED_TRACE(std::to_string(a) + "->" + std::to_string(b));
        const auto kinds = route_kinds(topology, a, b);
        if (topology.direct_bandwidth(a, b) > 0) {
          EXPECT_EQ(kinds, std::vector<LinkKind>{LinkKind::nvlink});
          continue;
        }
        ASSERT_FALSE(kinds.empty());
        EXPECT_FALSE(contains(kinds, LinkKind::nvlink));
        EXPECT_EQ(kinds.front(), LinkKind::pcie);
        EXPECT_EQ(kinds.back(), LinkKind::pcie);
        // Pairs without NVLink always cross the quads (0-3 vs 4-7), so the sockets too.
        EXPECT_TRUE(contains(kinds, LinkKind::qpi));
        const Route* route = topology.route(a, b);
        const std::vector<int> path = topology.route_path(*route);
        ASSERT_EQ(path.size(), 6u);  // gpu, PCIe switch, CPU, CPU, PCIe switch, gpu
        EXPECT_EQ(topology.find(path[1])->kind, NodeKind::pcie_switch);
        EXPECT_EQ(topology.find(path[2])->kind, NodeKind::cpu);
        EXPECT_EQ(topology.find(path[3])->kind, NodeKind::cpu);
        EXPECT_EQ(topology.find(path[4])->kind, NodeKind::pcie_switch);
        EXPECT_DOUBLE_EQ(topology.route_bandwidth_gbps(*route), 6.0);  // QPI, NCCL's QPI_BW
      }
  }
}

TEST(TopologyFiles, Dgx1V100KeepsItsNvlinkFacts) {
  const Topology topology = dgx1_v100();
  int links = 0;
  for (const Link& link : topology.links)
    if (link.kind == LinkKind::nvlink) links += link.count;
  EXPECT_EQ(links, 24);
  for (int gpu = 0; gpu < 8; ++gpu) {
    double out = 0;
    for (int other = 0; other < 8; ++other) out += topology.direct_bandwidth(gpu, other);
    EXPECT_DOUBLE_EQ(out, 120.0) << "gpu " << gpu;  // 6 links x 20 GB/s effective (25 line rate)
  }
  EXPECT_DOUBLE_EQ(topology.direct_bandwidth(0, 3), 40.0);
  EXPECT_DOUBLE_EQ(topology.direct_bandwidth(0, 1), 20.0);
  EXPECT_DOUBLE_EQ(topology.direct_bandwidth(0, 5), 0.0);
  ASSERT_EQ(topology.levels.size(), 1u);
  EXPECT_EQ(topology.levels[0].groups, (std::vector<std::vector<int>>{{0, 1, 2, 3}, {4, 5, 6, 7}}));
}

TEST(TopologyFiles, Dgx2IsOneNvswitchCrossbar) {
  const Topology topology = dgx2();
  ASSERT_EQ(topology.size(), 16);
  for (int a = 0; a < 16; ++a)
    for (int b = 0; b < 16; ++b) {
      if (a == b) continue;
      const Route* route = topology.route(a, b);
      ASSERT_NE(route, nullptr);
      const std::vector<int> path = topology.route_path(*route);
      ASSERT_EQ(path.size(), 3u);
      EXPECT_EQ(topology.find(path[1])->kind, NodeKind::nvswitch);
      EXPECT_DOUBLE_EQ(topology.route_bandwidth_gbps(*route), 120.0);  // 6 links x 20 GB/s effective
    }
}

TEST(TopologyFiles, Pcie8RoutesThroughSwitchesAndSockets) {
  const Topology topology = pcie8();
  ASSERT_EQ(topology.size(), 8);
  for (const Link& link : topology.links) EXPECT_NE(link.kind, LinkKind::nvlink);
  EXPECT_EQ(topology.route_path(*topology.route(0, 1)).size(), 3u);  // one shared switch
  EXPECT_EQ(topology.route_path(*topology.route(0, 2)).size(), 5u);  // switch, CPU, switch
  EXPECT_FALSE(contains(route_kinds(topology, 0, 2), LinkKind::qpi));
  EXPECT_EQ(topology.route_path(*topology.route(0, 4)).size(), 6u);
  EXPECT_TRUE(contains(route_kinds(topology, 0, 4), LinkKind::qpi));
  int switches = 0, cpus = 0;
  for (const Device& node : topology.nodes) {
    switches += node.kind == NodeKind::pcie_switch;
    cpus += node.kind == NodeKind::cpu;
  }
  EXPECT_EQ(switches, 4);
  EXPECT_EQ(cpus, 2);
}

TEST(TopologyFiles, ClusterJoinsNodesThroughTheirNics) {
  const Topology topology = topology_preset("cluster:4xdgx1-v100");
  ASSERT_EQ(topology.size(), 32);
  EXPECT_EQ(topology.name, "cluster:4xdgx1-v100");
  int nics = 0;
  for (const Link& link : topology.links)
    if (link.kind == LinkKind::network) {
      ++nics;
      EXPECT_DOUBLE_EQ(link.bandwidth_gbps, 12.5);  // 100 Gb/s
    }
  EXPECT_EQ(nics, 16);  // 4 per DGX-1
  ASSERT_EQ(topology.levels.size(), 2u);
  EXPECT_EQ(topology.levels[0].name, "nvlink-quad");
  EXPECT_EQ(topology.levels[0].groups.size(), 8u);
  EXPECT_EQ(topology.levels[1].name, "node");
  EXPECT_EQ(topology.levels[1].groups[1], (std::vector<int>{8, 9, 10, 11, 12, 13, 14, 15}));
  // Inside a node the DGX-1 routes stay; across nodes: GPU, PCIe switch, NIC, network, NIC, switch, GPU.
  EXPECT_EQ(route_kinds(topology, 8, 11), std::vector<LinkKind>{LinkKind::nvlink});
  const Route* across = topology.route(2, 13);
  ASSERT_NE(across, nullptr);
  EXPECT_EQ(route_kinds(topology, 2, 13), (std::vector<LinkKind>{LinkKind::pcie, LinkKind::pcie, LinkKind::network,
                                                                 LinkKind::network, LinkKind::pcie, LinkKind::pcie}));
  const std::vector<int> path = topology.route_path(*across);
  EXPECT_EQ(topology.find(path[2])->name, "n0/nic1");  // the NIC under GPU 2's own switch
  EXPECT_EQ(topology.find(path[4])->name, "n1/nic2");  // and under GPU 13 (= node 1's GPU 5)
  EXPECT_DOUBLE_EQ(topology.route_bandwidth_gbps(*across), 12.5 * 0.954);  // the NIC: 12.5 GB/s line, 0.954 of it
  EXPECT_DOUBLE_EQ(topology.route_latency_us(*across), 14.0);

  const Topology custom = topology_preset("cluster:2xdgx1-v100@2x200");
  int custom_nics = 0;
  for (const Link& link : custom.links)
    if (link.kind == LinkKind::network) {
      ++custom_nics;
      EXPECT_DOUBLE_EQ(link.bandwidth_gbps, 25.0);
    }
  EXPECT_EQ(custom_nics, 4);
  const Topology flat_nodes = topology_preset("cluster:3xflat:2");
  EXPECT_EQ(flat_nodes.size(), 6);
  EXPECT_NE(flat_nodes.route(0, 5), nullptr);
}

TEST(TopologyFiles, BadPresetNamesAreRejected) {
  for (const char* name : {"cluster:0xdgx1-v100", "cluster:4", "cluster:2xnope", "cluster:2xdgx1-v100@9x100",
                           "cluster:2xdgx1-v100@2", "dgx3", "flat:0"}) {
    SCOPED_TRACE(name);
    EXPECT_THROW(topology_preset(name), TopologyError);
  }
  const auto names = topology_preset_names();
  for (const char* name : {"dgx2", "pcie8", "local"})
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end());
}

// Two devices joined by two equal two-hop paths: the rule takes the first, a file may pick the other.
TEST(TopologyFiles, RoutesFollowTheRuleUnlessTheFileGivesThem) {
  nlohmann::json document = {
      {"name", "two-paths"},
      {"devices", {{{"id", 0}}, {{"id", 1}}}},
      {"nodes", {{{"id", 2}, {"kind", "pcie_switch"}}, {{"id", 3}, {"kind", "pcie_switch"}}}},
      {"links",
       {{{"a", 0}, {"b", 2}, {"kind", "pcie"}, {"bandwidth_gbps", 12}},
        {{"a", 2}, {"b", 1}, {"kind", "pcie"}, {"bandwidth_gbps", 12}},
        {{"a", 0}, {"b", 3}, {"kind", "pcie"}, {"bandwidth_gbps", 12}},
        {{"a", 3}, {"b", 1}, {"kind", "pcie"}, {"bandwidth_gbps", 12}}}}};
  const Topology by_rule = topology_from_json_text(document.dump());
  EXPECT_EQ(by_rule.route_path(*by_rule.route(0, 1)), (std::vector<int>{0, 2, 1}));
  EXPECT_EQ(by_rule.route_path(*by_rule.route(1, 0)), (std::vector<int>{1, 2, 0}));
  document["routes"] = {{{"src", 0}, {"dst", 1}, {"path", {0, 3, 1}}}};
  const Topology given = topology_from_json_text(document.dump());
  EXPECT_EQ(given.route_path(*given.route(0, 1)), (std::vector<int>{0, 3, 1}));
  EXPECT_EQ(given.route_path(*given.route(1, 0)), (std::vector<int>{1, 2, 0}));

  // A wider path wins among equally short ones.
  document.erase("routes");
  document["links"][2]["bandwidth_gbps"] = 24;
  document["links"][3]["bandwidth_gbps"] = 24;
  const Topology wider = topology_from_json_text(document.dump());
  EXPECT_EQ(wider.route_path(*wider.route(0, 1)), (std::vector<int>{0, 3, 1}));
}

TEST(TopologyFiles, DevicesDoNotForwardTraffic) {
  // 0 - 1 - 2 in a chain of direct links: 0 and 2 have no route (1 would have to forward).
  Topology chain;
  chain.name = "chain";
  for (int id = 0; id < 3; ++id) chain.devices.push_back({id, std::string(1, static_cast<char>('a' + id)), NodeKind::device, 0, 0, 0, ""});
  chain.links = {{0, 1, LinkKind::nvlink, 25, 1, 1, "test"}, {1, 2, LinkKind::nvlink, 25, 1, 1, "test"}};
  chain.compute_routes();
  EXPECT_NE(chain.route(0, 1), nullptr);
  EXPECT_EQ(chain.route(0, 2), nullptr);
  EXPECT_EQ(chain.routes.size(), 4u);
  Topology forced = chain;
  forced.routes.push_back({0, 2, {0, 1}});
  EXPECT_THROW(forced.validate(), TopologyError);
}

TEST(TopologyFiles, MalformedFilesNameTheProblem) {
  const auto message = [](const std::string& text) {
    try {
      topology_from_json_text(text);
    } catch (const TopologyError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("{").find("not valid JSON"), std::string::npos);
  EXPECT_NE(message(R"({"devices": [{"id": 0, "colour": "red"}]})").find("unknown key 'colour'"), std::string::npos);
  EXPECT_NE(message(R"({"devices": [{"id": 0}], "links": [{"a": 0, "b": 7, "kind": "pcie", "bandwidth_gbps": 1}]})")
                .find("does not exist"),
            std::string::npos);
  EXPECT_NE(message(R"({"devices": [{"id": 0}, {"id": 1}], "routes": [{"src": 0, "dst": 1, "path": [0, 1]}]})")
                .find("no link joins 0 and 1"),
            std::string::npos);
  EXPECT_NE(message(R"({"devices": [{"id": 0, "kind": "toaster"}]})").find("unknown node kind"), std::string::npos);
  EXPECT_NE(message(R"({"format": "other", "devices": []})").find("format"), std::string::npos);
  EXPECT_THROW(load_topology("/nonexistent/topology.json"), TopologyError);
}

TEST(TopologyFiles, LocalMachineIsDetectedAndMeasurementsAreStored) {
  const Topology detected = local_topology();
  ASSERT_GE(detected.size(), 1);
  for (const Device& core : detected.devices) EXPECT_EQ(core.kind, NodeKind::core);
  EXPECT_FALSE(detected.memory_bandwidth.has_value());
  bool numa = false;
  for (const Device& node : detected.nodes) numa = numa || node.kind == NodeKind::numa;
  EXPECT_TRUE(numa);

  const MemoryBandwidth measured = measure_memory_bandwidth(std::int64_t{4} << 20, 1, 2);
  EXPECT_EQ(measured.threads, 2);
  // GB/s, within what any machine of this kind can do (more than 50 MB/s, a slow core under a
  // sanitizer; less than 5 TB/s): a slip of a factor 1e3 in the units falls outside.
  for (double gbps : {measured.copy_one_thread_gbps, measured.copy_all_threads_gbps, measured.add_one_thread_gbps}) {
    EXPECT_GT(gbps, 0.05);
    EXPECT_LT(gbps, 5000);
  }
  const Topology calibrated = local_topology(measured);
  ASSERT_TRUE(calibrated.memory_bandwidth.has_value());
  EXPECT_EQ(*calibrated.memory_bandwidth, measured);
  EXPECT_DOUBLE_EQ(calibrated.devices.front().reduce_gbps, measured.add_one_thread_gbps);
  const Topology back = topology_from_json_text(topology_to_json_text(calibrated));
  EXPECT_EQ(back, calibrated);
  if (calibrated.size() > 1) {
    EXPECT_NE(calibrated.route(0, 1), nullptr);
  }
}

TEST(TopologyFiles, TheDocumentedExampleReads) {
  std::ifstream doc(std::filesystem::path(MESHREDUCE_SOURCE_DIR) / "docs" / "topology-format.md");
  std::stringstream text;
  text << doc.rdbuf();
  const std::string markdown = text.str();
  const auto start = markdown.find("```json\n");
  ASSERT_NE(start, std::string::npos);
  const auto end = markdown.find("```", start + 8);
  const Topology example = topology_from_json_text(markdown.substr(start + 8, end - start - 8));
  EXPECT_EQ(example.size(), 2);
  EXPECT_EQ(example.route_path(*example.route(0, 1)), (std::vector<int>{0, 1}));     // by the rule: NVLink
  EXPECT_EQ(example.route_path(*example.route(1, 0)), (std::vector<int>{1, 2, 0}));  // as the file says
}

TEST(TopologyFiles, SaveAndLoadAFile) {
  const std::string path = (std::filesystem::temp_directory_path() / "meshreduce_topology_test.json").string();
  save_topology(pcie8(), path);
  EXPECT_EQ(load_topology(path), pcie8());
  EXPECT_EQ(topology_preset(path), pcie8());
  EXPECT_EQ(topology_preset("pcie8"), pcie8());
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace meshreduce
