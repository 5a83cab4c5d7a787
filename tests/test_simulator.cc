// The simulator against first principles: single messages, shared links, reductions, and the
// closed-form alpha-beta-gamma costs (docs/simulator-validation.md) for hand-built schedules and
// for the registered algorithms (each skipped while it is not registered).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "meshreduce/algorithm.h"
#include "meshreduce/error.h"
#include "meshreduce/simulator.h"
#include "meshreduce/topology.h"

namespace meshreduce {
namespace {

// The cost model of the theory tests: alpha (latency per message), beta (seconds per byte of one
// link direction), gamma (seconds per byte combined).
struct Model {
  double alpha_us = 5.0;
  double link_gbps = 10.0;
  double reduce_gbps = 20.0;
  double a() const { return alpha_us * 1e-6; }
  double b() const { return 1.0 / (link_gbps * 1e9); }
  double g() const { return reduce_gbps > 0 ? 1.0 / (reduce_gbps * 1e9) : 0.0; }
  SimulationOptions options() const {
    SimulationOptions o;
    o.reduce_gbps = reduce_gbps;
    return o;
  }
};

Link uniform_link(int a, int b, double gbps, double latency_us) {
  return {a, b, LinkKind::memory, gbps, latency_us, 1, "test model"};
}

Topology devices_only(const std::string& name, int k) {
  Topology topology;
  topology.name = name;
  for (int i = 0; i < k; ++i) topology.devices.push_back({i, "d" + std::to_string(i), NodeKind::device, 0, 0, 0, ""});
  return topology;
}

// Every pair joined by its own link.
Topology flat(int k, const Model& model) {
  Topology topology = devices_only("flat", k);
  for (int a = 0; a < k; ++a)
    for (int b = a + 1; b < k; ++b) topology.links.push_back(uniform_link(a, b, model.link_gbps, model.alpha_us));
  topology.compute_routes();
  return topology;
}

// Only the links i <-> i+1 (mod k).
Topology ring_topology(int k, const Model& model) {
  Topology topology = devices_only("ring", k);
  for (int i = 0; i < k && k > 1; ++i) {
    if (k == 2 && i == 1) break;
    topology.links.push_back(uniform_link(i, (i + 1) % k, model.link_gbps, model.alpha_us));
  }
  topology.compute_routes();
  return topology;
}

// G groups of S devices (device g*S + i): a full mesh inside each group (model `in`), and a full
// mesh across the groups between the devices of equal index i (model `across`).
Topology two_level(int groups, int size, const Model& in, const Model& across) {
  Topology topology = devices_only("two-level", groups * size);
  GroupLevel level{"group", {}};
  for (int g = 0; g < groups; ++g) {
    level.groups.emplace_back();
    for (int i = 0; i < size; ++i) {
      level.groups.back().push_back(g * size + i);
      for (int j = i + 1; j < size; ++j)
        topology.links.push_back(uniform_link(g * size + i, g * size + j, in.link_gbps, in.alpha_us));
      for (int h = g + 1; h < groups; ++h)
        topology.links.push_back(uniform_link(g * size + i, h * size + i, across.link_gbps, across.alpha_us));
    }
  }
  topology.levels.push_back(std::move(level));
  topology.compute_routes();
  return topology;
}

BufferRef in(int device, std::int64_t offset = 0) { return {device, BufferKind::input, 0, offset}; }
BufferRef out(int device, std::int64_t offset = 0) { return {device, BufferKind::output, 0, offset}; }

Schedule empty_schedule(int k, std::int64_t count) {
  Schedule schedule;
  schedule.algorithm = "hand-built";
  schedule.num_devices = k;
  schedule.buffers.push_back({count, DType::f32});
  return schedule;
}

void expect_within_one_percent(double simulated, double formula) {
  EXPECT_NEAR(simulated, formula, 0.01 * formula) << "simulated " << simulated << " s, formula " << formula << " s";
}

// ---- first principles ------------------------------------------------------------------------

TEST(Simulator, OneMessagePaysLatencyThenBandwidth) {
  const Model model;
  const Topology topology = flat(2, model);
  Schedule schedule = empty_schedule(2, 1 << 20);
  schedule.add({StepKind::copy, 1, 1 << 20, {in(0)}, {out(1)}, {}, false});
  const SimulationResult result = simulate(schedule, topology, {}, model.options());
  const double bytes = 4.0 * (1 << 20);
  EXPECT_DOUBLE_EQ(result.time_s, model.a() + bytes * model.b());
  ASSERT_EQ(result.links.size(), 1u);
  EXPECT_EQ(result.links[0].from, 0);
  EXPECT_EQ(result.links[0].to, 1);
  EXPECT_EQ(result.links[0].bytes, 4 << 20);
  EXPECT_NEAR(result.links[0].busy_s, bytes * model.b(), 1e-12);
  EXPECT_EQ(result.devices[0].bytes_sent, 4 << 20);
  EXPECT_EQ(result.devices[1].bytes_received, 4 << 20);
  EXPECT_EQ(result.bytes_per_device, 4 << 20);
  EXPECT_DOUBLE_EQ(result.algbw_gbps, bytes / result.time_s / 1e9);
  EXPECT_DOUBLE_EQ(result.busbw_gbps, result.algbw_gbps);  // 2 (K-1) / K = 1 for K = 2
  EXPECT_EQ(result.busiest_link(), &result.links[0]);
}

TEST(Simulator, TwoTransfersSharingOneLinkTakeTwiceAsLong) {
  Model model;
  model.alpha_us = 0;
  const std::int64_t n = 1 << 20;
  // Two messages over the one link 0 -> 1.
  const Topology pair = flat(2, model);
  Schedule one = empty_schedule(2, n);
  one.add({StepKind::copy, 1, n, {in(0)}, {out(1)}, {}, false});
  Schedule two = one;
  two.add({StepKind::copy, 0, n, {in(0)}, {out(1)}, {}, false});  // pushed instead of pulled
  const double t1 = simulate(one, pair, {}, model.options()).time_s;
  const double t2 = simulate(two, pair, {}, model.options()).time_s;
  EXPECT_DOUBLE_EQ(t2, 2 * t1);

  // Two routes that share only their last link: 0 -> switch -> 2 and 1 -> switch -> 2.
  Topology star = devices_only("star", 3);
  star.nodes.push_back({3, "switch", NodeKind::pcie_switch, 0, 0, 0, ""});
  for (int d = 0; d < 3; ++d) star.links.push_back(uniform_link(d, 3, 10.0, 0.0));
  star.compute_routes();
  Schedule solo = empty_schedule(3, n);
  solo.add({StepKind::copy, 2, n, {in(0)}, {out(2)}, {}, false});
  Schedule shared = solo;
  shared.add({StepKind::copy, 2, n, {in(1)}, {out(2, 0)}, {}, false});
  const SimulationResult alone = simulate(solo, star, {}, model.options());
  const SimulationResult both = simulate(shared, star, {}, model.options());
  EXPECT_DOUBLE_EQ(both.time_s, 2 * alone.time_s);
  // The shared switch -> 2 direction carried both messages and was busy the whole time.
  bool found = false;
  for (const LinkUsage& usage : both.links)
    if (usage.from == 3 && usage.to == 2) {
      found = true;
      EXPECT_EQ(usage.bytes, 2 * 4 * n);
      EXPECT_NEAR(usage.busy_s, both.time_s, 1e-12);
      EXPECT_NEAR(usage.utilization, 1.0, 1e-9);
    }
  EXPECT_TRUE(found);
}

TEST(Simulator, SharesAreMaxMinFair) {
  // Flow A: 0 -> 2 over a 2 GB/s link then the shared 10 GB/s link; flow B: 1 -> 2 over a fast
  // link then the shared one. A is held to 2 GB/s by its own link; B takes the other 8.
  Topology topology = devices_only("fair", 3);
  topology.nodes.push_back({3, "switch", NodeKind::pcie_switch, 0, 0, 0, ""});
  topology.links = {uniform_link(0, 3, 2.0, 0), uniform_link(1, 3, 100.0, 0), uniform_link(3, 2, 10.0, 0)};
  topology.compute_routes();
  const std::int64_t n = 1 << 20;
  const double bytes = 4.0 * n;
  Schedule schedule = empty_schedule(3, n);
  schedule.add({StepKind::copy, 2, n, {in(0)}, {out(2)}, {}, false});
  const int b = schedule.add({StepKind::copy, 2, n, {in(1)}, {out(2)}, {}, false});
  SimulationOptions options;
  const SimulationResult result = simulate(schedule, topology, {}, options);
  // B ends at bytes / 8 GB/s; A then runs alone at 2 GB/s: bytes / 2 GB/s in all.
  EXPECT_NEAR(result.step_end_s[static_cast<std::size_t>(b)], bytes / 8e9, 1e-12);
  EXPECT_NEAR(result.time_s, bytes / 2e9, 1e-12);
}

// Two chunks relayed 0 -> 1 -> 2, every chunk on its own. The connection 0 -> 1 sends its
// chunks one after another, so chunk 0 moves on 1 -> 2 while chunk 1 crosses 0 -> 1: three
// chunk times, not the four of chunks sharing each link in lockstep.
TEST(Simulator, AConnectionSendsItsChunksInOrderSoPipelinesOverlap) {
  Model model;
  model.alpha_us = 0;
  model.reduce_gbps = 0;
  const Topology topology = flat(3, model);
  const std::int64_t chunk = 1 << 18;
  Schedule schedule = empty_schedule(3, 2 * chunk);
  for (std::int64_t c = 0; c < 2; ++c) {
    const int hop = schedule.add({StepKind::copy, 1, chunk, {in(0, c * chunk)}, {out(1, c * chunk)}, {}, false});
    schedule.add({StepKind::copy, 2, chunk, {out(1, c * chunk)}, {out(2, c * chunk)}, {hop}, false});
  }
  const double x = 4.0 * chunk * model.b();
  const SimulationResult result = simulate(schedule, topology, {}, model.options());
  EXPECT_NEAR(result.time_s, 3 * x, 1e-12);
  EXPECT_NEAR(result.step_end_s[0], x, 1e-12);      // chunk 0 had the link to itself
  EXPECT_NEAR(result.step_end_s[2], 2 * x, 1e-12);  // chunk 1 queued behind it
  // A link is busy only while bytes move on it, not while a message waits for an earlier one.
  for (const LinkUsage& usage : result.links) EXPECT_NEAR(usage.busy_s, 2 * x, 1e-12);
}

// Different connections share a link max-min fairly while each serves its own queue in order:
// connections 0 -> 2 and 1 -> 2 meet on switch -> 2; 0 -> 2 has two messages, 1 -> 2 one.
TEST(Simulator, ConnectionsShareALinkFairlyAndQueueTheirOwnMessages) {
  Topology star = devices_only("star", 3);
  star.nodes.push_back({3, "switch", NodeKind::pcie_switch, 0, 0, 0, ""});
  for (int d = 0; d < 3; ++d) star.links.push_back(uniform_link(d, 3, 10.0, 0.0));
  star.compute_routes();
  const std::int64_t n = 1 << 20;
  const double x = 4.0 * n / 10e9;  // one message alone
  Schedule schedule = empty_schedule(3, 2 * n);
  const int first = schedule.add({StepKind::copy, 2, n, {in(0)}, {out(2)}, {}, false});
  const int second = schedule.add({StepKind::copy, 2, n, {in(0, n)}, {out(2, n)}, {}, false});
  const int other = schedule.add({StepKind::copy, 2, n, {in(1)}, {out(2)}, {}, false});
  const SimulationResult result = simulate(schedule, star);
  // first and other share switch -> 2 (half each) until both end at 2x; second then runs alone.
  EXPECT_NEAR(result.step_end_s[static_cast<std::size_t>(first)], 2 * x, 1e-12);
  EXPECT_NEAR(result.step_end_s[static_cast<std::size_t>(other)], 2 * x, 1e-12);
  EXPECT_NEAR(result.step_end_s[static_cast<std::size_t>(second)], 3 * x, 1e-12);
}

TEST(Simulator, NodeCapacityIsSharedByEveryRouteThroughIt) {
  // Two disjoint routes 0 -> m -> 1 and 2 -> m -> 3 through a node that passes 10 GB/s in all.
  Topology topology = devices_only("memory", 4);
  topology.nodes.push_back({4, "numa0", NodeKind::numa, 0, 10.0, 0, "test"});
  for (int d = 0; d < 4; ++d) topology.links.push_back(uniform_link(d, 4, 10.0, 0));
  topology.compute_routes();
  const std::int64_t n = 1 << 20;
  Schedule one = empty_schedule(4, n);
  one.add({StepKind::copy, 1, n, {in(0)}, {out(1)}, {}, false});
  Schedule two = one;
  two.add({StepKind::copy, 3, n, {in(2)}, {out(3)}, {}, false});
  EXPECT_DOUBLE_EQ(simulate(two, topology).time_s, 2 * simulate(one, topology).time_s);
}

TEST(Simulator, ReductionsPayGammaPerAddedByte) {
  Model model;
  model.alpha_us = 0;
  const Topology topology = flat(1, model);
  const std::int64_t n = 1 << 20;
  Schedule schedule = empty_schedule(1, n);
  schedule.scratch = {{0, n, DType::f32}, {0, n, DType::f32}};
  // Three local addends: two adds per element.
  schedule.add({StepKind::reduce, 0, n, {in(0), {0, BufferKind::scratch, 0, 0}, {0, BufferKind::scratch, 1, 0}}, {out(0)}, {}, false});
  const SimulationResult result = simulate(schedule, topology, {}, model.options());
  EXPECT_DOUBLE_EQ(result.time_s, 2 * 4.0 * n * model.g());
  EXPECT_NEAR(result.devices[0].compute_s, result.time_s, 1e-12);
  // The topology's own figure applies when the options give none; none at all is free.
  Topology with_gpu = topology;
  with_gpu.devices[0].reduce_gbps = 40.0;
  EXPECT_DOUBLE_EQ(simulate(schedule, with_gpu).time_s, 2 * 4.0 * n / 40e9);
  EXPECT_EQ(simulate(schedule, topology).time_s, 0.0);
}

TEST(Simulator, StepsWaitForTheirDepsAndLaunchOverhead) {
  Model model;
  const Topology topology = flat(3, model);
  const std::int64_t n = 1000;
  Schedule schedule = empty_schedule(3, n);
  const int first = schedule.add({StepKind::copy, 1, n, {in(0)}, {out(1)}, {}, false});
  const int second = schedule.add({StepKind::copy, 2, n, {out(1)}, {out(2)}, {first}, false});
  SimulationOptions options;
  options.launch_overhead_us = 2.0;
  const SimulationResult result = simulate(schedule, topology, {}, options);
  const double message = model.a() + 4.0 * n * model.b();
  EXPECT_NEAR(result.step_start_s[static_cast<std::size_t>(first)], 2e-6, 1e-15);
  EXPECT_NEAR(result.step_start_s[static_cast<std::size_t>(second)], 2e-6 + message + 2e-6, 1e-15);
  EXPECT_NEAR(result.time_s, 2 * (2e-6 + message), 1e-15);
}

TEST(Simulator, PositionsMapOntoTopologyDevices) {
  const Topology topology = dgx1_v100();
  const std::int64_t n = 1 << 20;
  Schedule schedule = empty_schedule(2, n);
  schedule.add({StepKind::copy, 1, n, {in(0)}, {out(1)}, {}, false});
  // Positions 0, 1 on GPUs 0 and 3 (two NVLinks, 2 x 20 GB/s effective), then on 0 and 5
  // (PCIe/QPI, 6 GB/s effective). GPUs use NCCL's protocols: 4 MiB goes with the bandwidth one,
  // whose call costs 8.4 us before the hop's latency.
  const SimulationResult nvlink = simulate(schedule, topology, {0, 3});
  const double qpi = simulate(schedule, topology, {0, 5}).time_s;
  EXPECT_NEAR(nvlink.time_s, 8.4e-6 + 3.4e-6 + 4.0 * n / 40e9, 1e-12);
  EXPECT_EQ(nvlink.protocol, "simple");
  EXPECT_NEAR(qpi, 8.4e-6 + 5.7e-6 + 4.0 * n / 6e9, 1e-12);
  EXPECT_THROW(simulate(schedule, topology, {0}), InvalidArgument);
  EXPECT_THROW(simulate(schedule, topology, {0, 0}), InvalidArgument);
  EXPECT_THROW(simulate(schedule, topology, {0, 9}), InvalidArgument);  // node 9 is a CPU
  // No route: devices do not forward, so a ring topology cannot carry 0 -> 2.
  const Topology ring = ring_topology(4, Model{});
  Schedule across = empty_schedule(4, n);
  across.add({StepKind::copy, 2, n, {in(0)}, {out(2)}, {}, false});
  EXPECT_THROW(simulate(across, ring), TopologyError);
  Schedule bad = empty_schedule(2, n);
  bad.add({StepKind::copy, 1, n, {in(0)}, {out(1)}, {1}, false});
  EXPECT_THROW(simulate(bad, topology), ScheduleError);
}

TEST(Simulator, ChromeTraceHasARowPerDeviceAndLink) {
  const Topology topology = dgx1_v100();
  AlgorithmRequest request;
  request.num_devices = 8;
  request.groups = topology.levels.front().groups;
  request.count = 1 << 20;
  const Schedule schedule = build_schedule(find_algorithm("hierarchical"), request);
  const SimulationResult result = simulate(schedule, topology);
  const nlohmann::json trace = nlohmann::json::parse(chrome_trace_json(result));
  std::set<std::string> rows;
  int complete = 0;
  for (const auto& event : trace.at("traceEvents")) {
    if (event.at("ph") == "M" && event.at("name") == "thread_name") rows.insert(event.at("args").at("name"));
    if (event.at("ph") == "X") {
      ++complete;
      EXPECT_GE(event.at("dur").get<double>(), 0.0);
      EXPECT_LE(event.at("ts").get<double>() + event.at("dur").get<double>(), result.time_s * 1e6 * (1 + 1e-9));
    }
  }
  for (int gpu = 0; gpu < 8; ++gpu) EXPECT_TRUE(rows.contains("gpu" + std::to_string(gpu)));
  EXPECT_TRUE(rows.contains("gpu1->gpu0 nvlink"));
  EXPECT_EQ(rows.size(), result.trace_rows.size());
  EXPECT_GE(complete, static_cast<int>(schedule.steps.size()));
  const std::string path = (std::filesystem::temp_directory_path() / "meshreduce_trace_test.json").string();
  write_chrome_trace(result, path);
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  EXPECT_EQ(text.str(), chrome_trace_json(result));
  std::filesystem::remove(path);
}

// ---- hand-built schedules against the closed-form formulas ------------------------------------

// Ring reduce-scatter and/or allgather over `members` (positions) of `count` elements at `offset`
// (count divisible by members). Slice j ends the reduce-scatter on member j. `after[j]`: steps
// slice j's first hop waits for. Returns per slice the last step of its chain.
std::vector<std::vector<int>> add_ring(Schedule& schedule, const std::vector<int>& members, std::int64_t offset,
                                       std::int64_t count, const std::vector<std::vector<int>>& after,
                                       bool reduce_scatter, bool allgather) {
  const int m = static_cast<int>(members.size());
  const std::int64_t slice = count / m;
  std::vector<std::vector<int>> last(static_cast<std::size_t>(m));
  for (int j = 0; j < m; ++j) {
    const std::int64_t at = offset + j * slice;
    std::vector<int> deps = after.empty() ? std::vector<int>{} : after[static_cast<std::size_t>(j)];
    const auto member = [&](int index) { return members[static_cast<std::size_t>(((index % m) + m) % m)]; };
    if (reduce_scatter)
      for (int t = 1; t < m; ++t) {
        const int from = member(j + t), to = member(j + t + 1);
        const BufferRef partial = t == 1 ? in(from, at) : out(from, at);
        deps = {schedule.add({StepKind::reduce, to, slice, {partial, in(to, at)}, {out(to, at)}, deps, false})};
      }
    if (allgather)
      for (int t = 1; t < m; ++t) {
        const int from = member(j + t - 1), to = member(j + t);
        deps = {schedule.add({StepKind::copy, to, slice, {out(from, at)}, {out(to, at)}, deps, false})};
      }
    last[static_cast<std::size_t>(j)] = deps;
  }
  return last;
}

TEST(SimulatorTheory, HandBuiltRingMatchesFormula) {
  const Model model;
  for (int p : {2, 3, 4, 8})
    for (std::int64_t per : {1024, 1 << 18}) {
      SCOPED_TRACE("p = " + std::to_string(p) + ", elements per slice " + std::to_string(per));
      const std::int64_t count = per * p;
      std::vector<int> members(static_cast<std::size_t>(p));
      for (int i = 0; i < p; ++i) members[static_cast<std::size_t>(i)] = i;
      Schedule schedule = empty_schedule(p, count);
      add_ring(schedule, members, 0, count, {}, true, true);
      const double n = 4.0 * count;
      const double formula = 2 * (p - 1) * model.a() + 2.0 * (p - 1) / p * n * model.b() + 1.0 * (p - 1) / p * n * model.g();
      expect_within_one_percent(simulate(schedule, flat(p, model), {}, model.options()).time_s, formula);
      expect_within_one_percent(simulate(schedule, ring_topology(p, model), {}, model.options()).time_s, formula);
    }
}

TEST(SimulatorTheory, HandBuiltRecursiveDoublingMatchesFormula) {
  const Model model;
  for (int p : {2, 4, 8})
    for (std::int64_t count : {1000, 1 << 20}) {
      SCOPED_TRACE("p = " + std::to_string(p) + ", count " + std::to_string(count));
      Schedule schedule = empty_schedule(p, count);
      std::vector<int> previous(static_cast<std::size_t>(p), -1);
      int rounds = 0;
      for (int mask = 1; mask < p; mask <<= 1, ++rounds) {
        std::vector<int> current(static_cast<std::size_t>(p));
        for (int i = 0; i < p; ++i) {
          const int partner = i ^ mask;
          std::vector<int> deps;
          for (int d : {previous[static_cast<std::size_t>(i)], previous[static_cast<std::size_t>(partner)]})
            if (d >= 0) deps.push_back(d);
          current[static_cast<std::size_t>(i)] =
              schedule.add({StepKind::reduce, i, count, {out(i), out(partner)}, {out(i)}, deps, false});
        }
        previous = current;
      }
      const double n = 4.0 * count;
      const double formula = rounds * (model.a() + n * model.b() + n * model.g());
      expect_within_one_percent(simulate(schedule, flat(p, model), {}, model.options()).time_s, formula);
    }
}

TEST(SimulatorTheory, HandBuiltTwoLevelRingsMatchFormula) {
  Model inner;  // alpha 5 us, 10 GB/s
  inner.reduce_gbps = 0;  // the two-level formula has no gamma term
  Model outer;
  outer.alpha_us = 20.0;
  outer.link_gbps = 2.0;
  outer.reduce_gbps = 0;
  for (const auto& [p2, p1] : std::vector<std::pair<int, int>>{{2, 4}, {4, 2}, {3, 3}}) {
    SCOPED_TRACE(std::to_string(p2) + " groups of " + std::to_string(p1));
    const std::int64_t count = std::int64_t{p1} * p2 * 4096;
    const Topology topology = two_level(p2, p1, inner, outer);
    Schedule schedule = empty_schedule(p1 * p2, count);
    // 1. ring reduce-scatter inside every group: member i ends owning slice i.
    std::vector<std::vector<std::vector<int>>> owned(static_cast<std::size_t>(p2));
    for (int g = 0; g < p2; ++g) {
      std::vector<int> members;
      for (int i = 0; i < p1; ++i) members.push_back(g * p1 + i);
      owned[static_cast<std::size_t>(g)] = add_ring(schedule, members, 0, count, {}, true, false);
    }
    // 2. ring allreduce of slice i across the groups' members i.
    std::vector<std::vector<int>> across_done(static_cast<std::size_t>(p1));
    for (int i = 0; i < p1; ++i) {
      std::vector<int> members, ready;
      for (int g = 0; g < p2; ++g) {
        members.push_back(g * p1 + i);
        for (int d : owned[static_cast<std::size_t>(g)][static_cast<std::size_t>(i)]) ready.push_back(d);
      }
      const auto last = add_ring(schedule, members, i * (count / p1), count / p1,
                                 std::vector<std::vector<int>>(static_cast<std::size_t>(p2), ready), true, true);
      for (const auto& steps : last) across_done[static_cast<std::size_t>(i)].insert(
          across_done[static_cast<std::size_t>(i)].end(), steps.begin(), steps.end());
    }
    // 3. ring allgather inside every group, slice i starting at its owner, member i.
    for (int g = 0; g < p2; ++g) {
      std::vector<int> members;
      for (int i = 0; i < p1; ++i) members.push_back(g * p1 + i);
      add_ring(schedule, members, 0, count, across_done, false, true);
    }
    const double n = 4.0 * count;
    const double formula = 2 * (p1 - 1) * inner.a() + 2.0 * (p1 - 1) / p1 * n * inner.b() + 2 * (p2 - 1) * outer.a() +
                           2.0 * (p2 - 1) / (p1 * p2) * n * outer.b();
    expect_within_one_percent(simulate(schedule, topology).time_s, formula);
  }
}

// ---- registered algorithms against their formulas ---------------------------------------------

// The algorithm, or null (and the test skips) while it is not registered.
const Algorithm* registered(std::string_view name) {
  for (const Algorithm& algorithm : algorithms())
    if (algorithm.name == name) return &algorithm;
  return nullptr;
}

#define MESHREDUCE_REQUIRE_ALGORITHM(variable, name)                                  \
  const Algorithm* variable = registered(name);                                        \
  if (variable == nullptr) GTEST_SKIP() << "algorithm '" << name << "' is not registered yet"

double simulate_algorithm(const Algorithm& algorithm, const Topology& topology, std::int64_t count,
                          const Model& model, std::int64_t chunk_elements = 0) {
  AlgorithmRequest request;
  request.num_devices = topology.size();
  if (!topology.levels.empty()) request.groups = topology.levels.front().groups;
  request.topology = &topology;
  for (const Device& d : topology.devices) request.topology_devices.push_back(d.id);
  request.count = count;
  request.options.chunk_elements = chunk_elements;
  return simulate(build_schedule(algorithm, request), topology, {}, model.options()).time_s;
}

TEST(SimulatorTheory, RingMatchesFormula) {
  MESHREDUCE_REQUIRE_ALGORITHM(ring, "ring");
  const Model model;
  for (int p : {2, 3, 4, 7, 8})
    for (std::int64_t per : {256, 1 << 18}) {
      SCOPED_TRACE("p = " + std::to_string(p) + ", elements per slice " + std::to_string(per));
      const std::int64_t count = per * p;
      const double n = 4.0 * count;
      const double formula = 2 * (p - 1) * model.a() + 2.0 * (p - 1) / p * n * model.b() + 1.0 * (p - 1) / p * n * model.g();
      expect_within_one_percent(simulate_algorithm(*ring, flat(p, model), count, model), formula);
      expect_within_one_percent(simulate_algorithm(*ring, ring_topology(p, model), count, model), formula);
    }
}

TEST(SimulatorTheory, HalvingDoublingMatchesRabenseifnerFormula) {
  MESHREDUCE_REQUIRE_ALGORITHM(halving_doubling, "halving-doubling");
  const Model model;
  for (int p : {2, 4, 8, 16})
    for (std::int64_t per : {64, 1 << 16}) {
      SCOPED_TRACE("p = " + std::to_string(p) + ", elements per device share " + std::to_string(per));
      const std::int64_t count = per * p;
      const double n = 4.0 * count;
      const double log_p = std::log2(p);
      const double formula = 2 * log_p * model.a() + 2.0 * (p - 1) / p * n * model.b() + 1.0 * (p - 1) / p * n * model.g();
      expect_within_one_percent(simulate_algorithm(*halving_doubling, flat(p, model), count, model), formula);
    }
}

// Direct on fully connected devices: every transfer of a phase runs at once on its own link, so
// one message time per phase: 2 a + 2 n/p b + (p-1)/p n g.
TEST(SimulatorTheory, DirectMatchesFormula) {
  MESHREDUCE_REQUIRE_ALGORITHM(direct, "direct");
  const Model model;
  for (int p : {2, 3, 5, 8})
    for (std::int64_t per : {128, 1 << 16}) {
      SCOPED_TRACE("p = " + std::to_string(p));
      const std::int64_t count = per * p;
      const double n = 4.0 * count;
      const double formula = 2 * model.a() + 2.0 / p * n * model.b() + 1.0 * (p - 1) / p * n * model.g();
      expect_within_one_percent(simulate_algorithm(*direct, flat(p, model), count, model), formula);
    }
}

// Double binary tree, one chunk per tree (h = n/2 each), both trees at once on separate links:
// depth D = floor(log2 p) levels up and D down, each a message of h bytes: 2 D (a + h b). With
// gamma, p = 8: the inner nodes at the three levels combine 2, 2 and 1 extra addends: + 5 h g.
TEST(SimulatorTheory, TreeMatchesFormula) {
  MESHREDUCE_REQUIRE_ALGORITHM(tree, "tree");
  Model free_reduce;
  free_reduce.reduce_gbps = 0;
  for (int p : {2, 4, 6, 7, 8, 16})
    for (std::int64_t count : {2048, 1 << 20}) {
      SCOPED_TRACE("p = " + std::to_string(p) + ", count " + std::to_string(count));
      const double h = 4.0 * count / 2;
      const double depth = std::floor(std::log2(p));
      const double formula = 2 * depth * (free_reduce.a() + h * free_reduce.b());
      expect_within_one_percent(simulate_algorithm(*tree, flat(p, free_reduce), count, free_reduce, count), formula);
    }
  const Model model;
  const std::int64_t count = 1 << 20;
  const double h = 4.0 * count / 2;
  expect_within_one_percent(simulate_algorithm(*tree, flat(8, model), count, model, count),
                            6 * (model.a() + h * model.b()) + 5 * h * model.g());
}

// hierarchical-rs on the two-level topology: direct exchanges inside the groups (one message time
// per phase) and across them:
//   2 a1 + 2 n/s b1 + 2 a2 + 2 n/(s G) b2 + ((s-1)/s + (G-1)/(s G)) n g.
TEST(SimulatorTheory, HierarchicalRsMatchesTwoLevelFormula) {
  MESHREDUCE_REQUIRE_ALGORITHM(hierarchical_rs, "hierarchical-rs");
  Model inner;
  Model outer;
  outer.alpha_us = 20.0;
  outer.link_gbps = 2.0;
  for (const auto& [groups, size] : std::vector<std::pair<int, int>>{{2, 4}, {4, 2}, {3, 3}, {2, 8}}) {
    SCOPED_TRACE(std::to_string(groups) + " groups of " + std::to_string(size));
    const std::int64_t count = std::int64_t{groups} * size * 8192;
    const double n = 4.0 * count;
    const double s = size, g = groups;
    const double formula = 2 * inner.a() + 2 * n / s * inner.b() + 2 * outer.a() + 2 * n / (s * g) * outer.b() +
                           ((s - 1) / s + (g - 1) / (s * g)) * n * inner.g();
    expect_within_one_percent(simulate_algorithm(*hierarchical_rs, two_level(groups, size, inner, outer), count, inner),
                              formula);
  }
}

// On the DGX-1 the bandwidth-optimal hierarchy beats the seed's shape by far at 64 MiB.
TEST(SimulatorTheory, Dgx1HierarchicalRsBeatsTheSeedShape) {
  MESHREDUCE_REQUIRE_ALGORITHM(hierarchical_rs, "hierarchical-rs");
  const Topology topology = dgx1_v100();
  const std::int64_t count = std::int64_t{16} << 20;  // 64 MiB of f32
  AlgorithmRequest request;
  request.num_devices = 8;
  request.groups = topology.levels.front().groups;
  request.count = count;
  const SimulationResult seed = simulate(build_schedule(find_algorithm("hierarchical"), request), topology);
  const SimulationResult rs = simulate(build_schedule(*hierarchical_rs, request), topology);
  EXPECT_GT(rs.busbw_gbps, 2 * seed.busbw_gbps);
  EXPECT_LT(rs.busbw_gbps, 150.0);  // never above the NVLink ceiling of a GPU
}

}  // namespace
}  // namespace meshreduce
