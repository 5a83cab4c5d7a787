// What `auto` of the process executor plans with: on one machine the thread model, across
// machines the simulator on the job's topology (meshreduce/process_model.h), and that topology.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "exec/processes/planning.h"
#include "meshreduce/process_model.h"
#include "meshreduce/simulator.h"
#include "meshreduce/thread_model.h"
#include "test_support.h"

namespace meshreduce::testing {
namespace {

const std::vector<int> kTwoMachinesOfFour{0, 0, 0, 0, 1, 1, 1, 1};
const std::vector<std::vector<int>> kMachineGroups{{0, 1, 2, 3}, {4, 5, 6, 7}};
constexpr std::int64_t k16MiB = std::int64_t{16} << 20;

Plan plan_two_machines(const std::string& algorithm, std::int64_t bytes, double network_gbps) {
  ProcessCommunicatorOptions options;
  options.algorithm = algorithm;
  options.network_gbps = network_gbps;
  const std::vector<TensorSpec> layout{{bytes / 4, DType::f32}};
  return detail::plan_for_processes(layout, ReduceOp::sum, 8, kMachineGroups, options, kTwoMachinesOfFour);
}

// Measured on two emulated machines of four processes, 16 MiB, TCP on loopback (1.55 GB/s
// between two processes, about 12.4 Gb/s): hierarchical-rs 22.2 ms, flat ring 31.1 ms,
// dgx1-hierarchical 34.3 ms (the old planner's pick, which weighed only the bytes between
// machines); a 2 Gb/s link gave a flat ring 128 ms. auto must pick hierarchical-rs on a slow
// link, on that one and on a 100 Gb/s port.
TEST(ProcessPlanning, AutoPicksHierarchicalRsOnTwoMachinesOfFour) {
  for (const double gbps : {100.0, 12.4, 2.0})
    for (const std::int64_t bytes : {std::int64_t{1} << 20, k16MiB, std::int64_t{64} << 20}) {
      const Plan plan = plan_two_machines("auto", bytes, gbps);
      ASSERT_EQ(plan.choices.size(), 1u);
      EXPECT_EQ(plan.choices.front().algorithm, "hierarchical-rs") << gbps << " Gb/s, " << bytes << " bytes";
    }
}

// dgx1-hierarchical sends one machine's sum across and the total back one after the other (4
// dependent stages through one process per machine), where hierarchical-rs's four processes
// exchange their quarters both ways at once: predicted at least 1.5x hierarchical-rs at any port
// rate (measured 1.55x on loopback). direct moves 2 S each way through each port, a ring 1.75 S.
TEST(ProcessPlanning, PredictsLeadersAndAllToAllSlowerThanHierarchicalRs) {
  for (const double gbps : {100.0, 12.4, 2.0}) {
    const Topology job = process_job_topology(uniform_process_job(8, 4, 1, gbps));
    const auto predicted = [&](const std::string& algorithm) {
      return simulate(plan_two_machines(algorithm, k16MiB, gbps).schedule, job, {}, {}).time_s;
    };
    const double hierarchical_rs = predicted("hierarchical-rs");
    EXPECT_GT(predicted("dgx1-hierarchical"), 1.5 * hierarchical_rs) << gbps << " Gb/s";
    EXPECT_GT(predicted("direct"), 1.3 * hierarchical_rs) << gbps << " Gb/s";
    EXPECT_GT(predicted("ring"), 1.05 * hierarchical_rs) << gbps << " Gb/s";
  }
}

// The planner's prediction is the simulator's on the job's topology, so `meshreduce simulate
// --topology` on the file `meshreduce topology --processes 8 --ranks-per-node 4` writes gives
// the same time: through a Communicator on that topology, as the CLI simulates.
TEST(ProcessPlanning, PredictionIsTheSimulatorOnTheJobTopology) {
  for (const double gbps : {100.0, 2.0}) {
    const Topology job = process_job_topology(uniform_process_job(8, 4, 1, gbps));
    const Plan automatic = plan_two_machines("auto", k16MiB, gbps);
    const double simulated = simulate(automatic.schedule, job, {}, {}).time_s;
    EXPECT_NEAR(automatic.choices.front().predicted_s, simulated, 1e-12);
    for (const char* name : {"hierarchical-rs", "ring", "direct", "dgx1-hierarchical"}) {
      CommunicatorOptions options;
      options.topology = job;
      options.algorithm = name;
      Communicator cli(options);
      const std::vector<TensorSpec> layout{{k16MiB / 4, DType::f32}};
      const double through_cli = simulate(cli.plan(layout, ReduceOp::sum).schedule, job, {}, {}).time_s;
      EXPECT_DOUBLE_EQ(through_cli, simulate(plan_two_machines(name, k16MiB, gbps).schedule, job, {}, {}).time_s)
          << name << " at " << gbps << " Gb/s";
    }
  }
}

// A flat ring over two machines of four crosses between them twice, each crossing carrying
// 2 (K-1)/K of the bytes: 1.75 S each way per port; hierarchical-rs sends S (each process its
// reduced quarter, both ways). At 2 Gb/s the port bounds the time from below: bytes / rate.
TEST(ProcessPlanning, NetworkBytesAndTheirBoundOnASlowPort) {
  const Topology job = process_job_topology(uniform_process_job(8, 4, 1, 2));
  const auto network_bytes = [&](const SimulationResult& result) {
    std::int64_t most = 0;
    for (const LinkUsage& usage : result.links)
      if (job.links[static_cast<std::size_t>(usage.link)].kind == LinkKind::network) most = std::max(most, usage.bytes);
    return most;
  };
  const double port = 2e9 / 8 * 0.954;
  for (const auto& [name, crossing] : {std::pair("ring", 1.75), std::pair("hierarchical-rs", 1.0)}) {
    const SimulationResult result = simulate(plan_two_machines(name, k16MiB, 2).schedule, job, {}, {});
    EXPECT_NEAR(static_cast<double>(network_bytes(result)), crossing * k16MiB, 1e-6 * k16MiB) << name;
    EXPECT_GE(result.time_s, crossing * k16MiB / port) << name;
    EXPECT_LE(result.time_s, 1.3 * crossing * k16MiB / port) << name << ": the port should be the bottleneck";
  }
}

// On one machine auto keeps the thread model's picks: the same plan as before this model, as
// a Communicator of the same devices without a topology plans.
TEST(ProcessPlanning, OneMachineKeepsTheThreadModelsPicks) {
  for (const int k : {2, 4, 8})
    for (const std::int64_t elements : {std::int64_t{100}, std::int64_t{1} << 16, std::int64_t{4} << 20}) {
      const std::vector<TensorSpec> layout{{elements, DType::f32}};
      ProcessCommunicatorOptions options;
      const Plan processes = detail::plan_for_processes(layout, ReduceOp::sum, k, {}, options, std::vector<int>(k, 0));
      CommunicatorOptions threads;
      threads.devices = iota_devices(k);
      threads.threads = k;
      threads.inline_bytes = 0;
      Communicator communicator(threads);
      const Plan& reference = communicator.plan(layout, ReduceOp::sum);
      ASSERT_EQ(processes.choices.size(), reference.choices.size());
      EXPECT_EQ(processes.choices.front().algorithm, reference.choices.front().algorithm) << k << " x " << elements;
      EXPECT_DOUBLE_EQ(processes.choices.front().predicted_s, reference.choices.front().predicted_s) << k << " x " << elements;
    }
}

TEST(ProcessJobTopology, DevicesMachinesPortsAndTheMachineLevel) {
  const Topology job = process_job_topology(uniform_process_job(4, 2, 2, 25));
  ASSERT_EQ(job.size(), 8);
  EXPECT_EQ(job.devices[0].name, "rank0.0");
  EXPECT_EQ(job.devices[7].name, "rank3.1");
  ASSERT_EQ(job.nodes.size(), 3u);  // two machines and the switch
  EXPECT_EQ(job.nodes[2].kind, NodeKind::network_switch);
  ASSERT_EQ(job.levels.size(), 1u);
  EXPECT_EQ(job.levels[0].groups, (std::vector<std::vector<int>>{{0, 1, 2, 3}, {4, 5, 6, 7}}));
  int ports = 0;
  for (const Link& link : job.links)
    if (link.kind == LinkKind::network) {
      ++ports;
      EXPECT_DOUBLE_EQ(link.bandwidth_gbps, 25.0 / 8);
      EXPECT_NE(link.source.find("25 Gb/s"), std::string::npos) << link.source;
    } else {
      EXPECT_GT(link.bandwidth_gbps, 0);
      EXPECT_FALSE(link.source.empty());
    }
  EXPECT_EQ(ports, 2);
  // Inside a machine, the thread model's default rates in bytes copied: one thread's for a
  // process's memory link, all threads' for the machine; a step's additions cost nothing extra.
  const ThreadCosts costs = default_thread_costs(1);
  EXPECT_DOUBLE_EQ(job.nodes[0].bandwidth_gbps, costs.memory_gbps / (1 + costs.write_cost));
  EXPECT_DOUBLE_EQ(job.links[0].bandwidth_gbps, costs.thread_gbps / (1 + costs.write_cost));
  EXPECT_EQ(job.links[0].kind, LinkKind::memory);
  EXPECT_EQ(job.devices[0].reduce_gbps, 0);
  // Device 1 (rank 0) to device 6 (rank 3): its memory link, machine 0's port, machine 1's, the memory link.
  const Route* route = job.route(1, 6);
  ASSERT_NE(route, nullptr);
  EXPECT_EQ(route->links.size(), 4u);
  // One machine: no switch, no level, routes through the machine's memory only.
  const Topology one = process_job_topology(uniform_process_job(3, 0));
  EXPECT_EQ(one.size(), 3);
  EXPECT_EQ(one.nodes.size(), 1u);
  EXPECT_TRUE(one.levels.empty());
  // A layout built from the communicator's maps: processes of 2 and 1 devices on two machines.
  const ProcessJobLayout mixed =
      detail::process_job_of(3, std::vector<int>{0, 0, 1}, std::vector<int>{0, 0, 1}, 100);
  EXPECT_EQ(mixed.devices_of_process, (std::vector<int>{2, 1}));
  EXPECT_EQ(mixed.machine_of_process, (std::vector<int>{0, 1}));
}

TEST(ProcessJobTopology, RejectsBadLayoutsAndRates) {
  const auto rejects = [](const ProcessJobLayout& job, const std::string& words) {
    try {
      process_job_topology(job);
      ADD_FAILURE() << "accepted: expected " << words;
    } catch (const InvalidArgument& error) {
      EXPECT_NE(std::string(error.what()).find(words), std::string::npos) << error.what();
    }
  };
  for (const double rate : {0.0, -1.0, std::nan(""), std::numeric_limits<double>::infinity(), kMaxNetworkGbps * 2})
    rejects({{1, 1}, {0, 1}, rate}, "network_gbps");
  rejects({{}, {}, 100}, "no processes");
  rejects({{1, 1}, {0}, 100}, "2 processes but 1 machine entries");
  rejects({{1, 0}, {0, 0}, 100}, "rank 1 holds 0 devices");
  rejects({{1, 1}, {0, 2}, 100}, "rank 1 on machine 2, expected 0 to 1");
  rejects({{1, 1}, {-1, 0}, 100}, "rank 0 on machine -1");
  rejects({{100, 100}, {0, 1}, 100}, "devices");
  EXPECT_THROW(uniform_process_job(0, 0), InvalidArgument);
  EXPECT_THROW(uniform_process_job(4, -1), InvalidArgument);
  EXPECT_THROW(uniform_process_job(4, 2, 0), InvalidArgument);
  EXPECT_THROW(uniform_process_job(129, 0), InvalidArgument);
  EXPECT_THROW(detail::process_job_of(3, std::vector<int>{0, 1}, {}, 100), InvalidArgument);
  // A process whose devices lie on two machines, or devices out of rank order.
  EXPECT_THROW(detail::process_job_of(2, std::vector<int>{0, 1}, std::vector<int>{0, 0}, 100), InvalidArgument);
  EXPECT_THROW(detail::process_job_of(2, {}, std::vector<int>{1, 0}, 100), InvalidArgument);
}

}  // namespace
}  // namespace meshreduce::testing
