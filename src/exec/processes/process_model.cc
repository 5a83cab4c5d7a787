// The process job's topology (include/meshreduce/process_model.h). Its rates are the thread
// cost model's named defaults (thread_model.h), so that every process of a job builds the same
// topology without measuring anything that could differ between them.
#include "meshreduce/process_model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "meshreduce/error.h"
#include "meshreduce/limits.h"
#include "meshreduce/thread_model.h"

namespace meshreduce {
namespace {

constexpr double kGbitPerGbyte = 8.0;
// perftest ib_send_bw over one ConnectX-5 EDR port: 95.4 of 100 Gb/s carry payload
// (linux-rdma/perftest pull request 98), as the `cluster:` presets' NICs.
constexpr double kNetworkEfficiency = 0.954;
// NCCL src/graph/tuning.cc hwLat[NET][Ring][Simple] (NCCL 2.19), as the `cluster:` presets.
constexpr double kNetworkLatencyUs = 14.0;
// A dependency inside a machine is a flag in shared memory that the waiting process polls: a
// placeholder of the right order (a cache line moving between cores, a few polls), not measured.
constexpr double kSharedMemoryLatencyUs = 1.0;

std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

// The thread model's defaults in bytes copied per second: a plain copy moves 1 + write_cost
// read-equivalent bytes per byte.
struct MemoryRates {
  double machine_gbps;  // all cores of a machine together
  double process_gbps;  // one process's thread
  std::string source;
};

MemoryRates memory_rates() {
  const ThreadCosts costs = default_thread_costs(1);
  const double per_byte = 1 + costs.write_cost;
  const double machine = costs.memory_gbps / per_byte, process = costs.thread_gbps / per_byte;
  return {machine, process,
          "the thread model's default rates (meshreduce/thread_model.h, the low end measured on the 2-core development "
          "machines): " + number(machine) + " GB/s copied by all cores, " + number(process) + " by one thread"};
}

void check(const ProcessJobLayout& job) {
  const auto processes = job.devices_of_process.size();
  if (processes == 0) throw InvalidArgument("process job: no processes");
  if (job.machine_of_process.size() != processes)
    throw InvalidArgument("process job: " + std::to_string(processes) + " processes but " +
                          std::to_string(job.machine_of_process.size()) + " machine entries");
  check_network_gbps("network_gbps", job.network_gbps);
  std::int64_t devices = 0;
  int next_machine = 0;  // machines numbered in order of appearance, none skipped
  for (std::size_t p = 0; p < processes; ++p) {
    const int local = job.devices_of_process[p];
    if (local < 1)
      throw InvalidArgument("process job: rank " + std::to_string(p) + " holds " + std::to_string(local) +
                            " devices, must be >= 1");
    devices = limits::checked_add<InvalidArgument>("process job: devices", devices, local, limits::kMaxDevices);
    const int machine = job.machine_of_process[p];
    if (machine < 0 || machine > next_machine)
      throw InvalidArgument("process job: rank " + std::to_string(p) + " on machine " + std::to_string(machine) +
                            ", expected 0 to " + std::to_string(next_machine) + " (machines numbered in order of appearance)");
    if (machine == next_machine) ++next_machine;
  }
}

}  // namespace

void check_network_gbps(std::string_view what, double gbps) {
  if (!(gbps > 0 && gbps <= kMaxNetworkGbps))
    throw InvalidArgument(std::string(what) + " " + number(gbps) + ": must be above 0 and at most " +
                          number(kMaxNetworkGbps) + " Gbit/s");
}

ProcessJobLayout uniform_process_job(int processes, int ranks_per_node, int local_devices, double network_gbps) {
  limits::check_range<InvalidArgument>("processes", processes, 1, limits::kMaxDevices);
  limits::check_range<InvalidArgument>("ranks_per_node", ranks_per_node, 0, limits::kMaxDevices);
  limits::check_range<InvalidArgument>("local_devices", local_devices, 1, limits::kMaxDevices);
  ProcessJobLayout job;
  job.network_gbps = network_gbps;
  for (int p = 0; p < processes; ++p) {
    job.devices_of_process.push_back(local_devices);
    job.machine_of_process.push_back(ranks_per_node > 0 ? p / ranks_per_node : 0);
  }
  check(job);
  return job;
}

Topology process_job_topology(const ProcessJobLayout& job) {
  check(job);
  const MemoryRates rates = memory_rates();
  int machines = 0;
  for (int m : job.machine_of_process) machines = std::max(machines, m + 1);
  Topology topology;
  topology.name = "processes:" + std::to_string(job.devices_of_process.size()) + " ranks on " +
                  std::to_string(machines) + (machines == 1 ? " machine" : " machines");
  if (machines > 1) topology.name += " at " + number(job.network_gbps) + " Gb/s";

  std::vector<int> machine_of_device;
  for (std::size_t p = 0; p < job.devices_of_process.size(); ++p) {
    const int local = job.devices_of_process[p];
    for (int l = 0; l < local; ++l) {
      Device device;
      device.id = static_cast<int>(machine_of_device.size());
      device.name = "rank" + std::to_string(p) + (local > 1 ? "." + std::to_string(l) : "");
      device.kind = NodeKind::core;
      // 0: no reduction phase of its own. The executor's kernel adds while it reads its sources
      // in one pass, at the rate of a copy (one thread's 4-to-1 reduce moved 42.2 GB/s of
      // traffic against a copy's 43.9 on this machine, data/topologies/emulated-2x4-loopback.json):
      // a step costs the bytes it reads and writes, which the memory links carry.
      device.reduce_gbps = 0;
      device.source = "a process's thread adds while it reads (its reduce kernel runs at its copy rate): no separate "
                      "reduction cost";
      topology.devices.push_back(std::move(device));
      machine_of_device.push_back(job.machine_of_process[p]);
    }
  }
  const int devices = topology.size();
  for (int m = 0; m < machines; ++m)
    topology.nodes.push_back({devices + m, "machine" + std::to_string(m), NodeKind::numa, 0, rates.machine_gbps, 0,
                              "all cores of a machine copying together: " + rates.source});
  for (int d = 0; d < devices; ++d)
    topology.links.push_back({d, devices + machine_of_device[static_cast<std::size_t>(d)], LinkKind::memory,
                              rates.process_gbps, kSharedMemoryLatencyUs, 1,
                              "one process's thread reading or writing shared memory: " + rates.source +
                                  "; latency: a placeholder for a flag polled in shared memory"});
  if (machines > 1) {
    const int network = devices + machines;
    topology.nodes.push_back({network, "network", NodeKind::network_switch, 0, 0, 0, "one non-blocking switch (full bisection)"});
    const std::string source = number(job.network_gbps) + " Gb/s per machine (ProcessCommunicatorOptions::network_gbps) = " +
                               number(job.network_gbps / kGbitPerGbyte) +
                               " GB/s line rate, 95.4% effective (perftest ib_send_bw over ConnectX-5 EDR: 95.4 Gb/s, "
                               "linux-rdma/perftest PR 98); latency NCCL tuning.cc hwLat[NET][Ring][Simple]";
    for (int m = 0; m < machines; ++m)
      topology.links.push_back({devices + m, network, LinkKind::network, job.network_gbps / kGbitPerGbyte,
                                kNetworkLatencyUs, 1, source, kNetworkEfficiency});
    GroupLevel by_machine{"machine", std::vector<std::vector<int>>(static_cast<std::size_t>(machines))};
    for (int d = 0; d < devices; ++d)
      by_machine.groups[static_cast<std::size_t>(machine_of_device[static_cast<std::size_t>(d)])].push_back(d);
    topology.levels.push_back(std::move(by_machine));
  }
  topology.compute_routes();
  topology.validate();
  return topology;
}

}  // namespace meshreduce
