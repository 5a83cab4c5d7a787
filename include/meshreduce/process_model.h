// The machine a process job runs on, as a Topology for the simulator: what `auto` of a
// ProcessCommunicator plans with when the job spans several machines, and what
// `meshreduce topology --processes K --ranks-per-node N` prints, so that `meshreduce simulate`
// on that file predicts what the planner predicted.
//
// The model (the process executor, src/exec/processes/, as a topology):
//   - Each schedule device is a `core` device: the process holding it runs that device's steps
//     on its one thread, reaching its machine's memory over a `memory` link at one thread's copy
//     rate. Its reduce kernel adds while it reads, at the rate of a copy, so a step costs the
//     bytes it reads from and writes to peers, with no reduction phase of its own (reduce_gbps 0).
//   - Each machine is a `numa` node whose bandwidth_gbps, the copy rate of all its cores
//     together, every byte read from or written to a peer on that machine shares.
//   - With several machines, each machine's node joins one non-blocking `network_switch` over a
//     `network` link of ProcessJobLayout::network_gbps (one port per machine), and a level
//     "machine" groups the devices by machine, as the communicator's default groups do.
// A step's bytes from another process therefore cost the memory of both machines' sides and,
// between machines, the port of each; dependencies between steps give the critical path. Left
// out: the staging copies of private buffers (the same for every schedule of a layout), several
// devices of one process sharing its thread (each device gets a thread's rate), and the time a
// process waits for a core when there are more processes than cores.
#pragma once

#include <string_view>
#include <vector>

#include "meshreduce/topology.h"

namespace meshreduce {

// One 100 Gb/s port per machine (EDR InfiniBand or 100 GbE), the port of each node of the
// `cluster:` presets; the network link carries 0.954 of it (perftest ib_send_bw over a
// ConnectX-5 EDR port: 95.4 Gb/s, linux-rdma/perftest pull request 98).
inline constexpr double kDefaultNetworkGbps = 100.0;
// Largest --network-gbps / ProcessCommunicatorOptions::network_gbps: 100 Tb/s, far above any port.
inline constexpr double kMaxNetworkGbps = 100000.0;

// Throws InvalidArgument "<what> <gbps>: must be above 0 and at most 100000 Gbit/s" unless
// 0 < gbps <= kMaxNetworkGbps (NaN included): the one check of a network rate, wherever it comes in.
void check_network_gbps(std::string_view what, double gbps);

struct ProcessJobLayout {
  std::vector<int> devices_of_process;  // per process, in rank order: its local devices (>= 1)
  std::vector<int> machine_of_process;  // per process: its machine, numbered 0.. in order of appearance
  double network_gbps = kDefaultNetworkGbps;  // line rate of each machine's port, Gbit/s
};

// `processes` ranks of `local_devices` devices each, `ranks_per_node` consecutive ranks per
// machine (0: all on one machine). Throws InvalidArgument on counts out of range (at most
// limits::kMaxDevices devices in all).
ProcessJobLayout uniform_process_job(int processes, int ranks_per_node, int local_devices = 1,
                                     double network_gbps = kDefaultNetworkGbps);

// The job's topology (model above). Schedule device d is topology device d. Throws
// InvalidArgument on an inconsistent layout or a network rate outside (0, kMaxNetworkGbps].
Topology process_job_topology(const ProcessJobLayout& job);

}  // namespace meshreduce
