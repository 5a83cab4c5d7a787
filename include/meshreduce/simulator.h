// The simulator: runs a Schedule against a Topology's cost model and predicts its time.
//
// The model (event-driven, exact for piecewise-constant rates):
//   - A call starts with its protocol's fixed cost (Protocol::call_latency_us: launching the
//     kernels, NCCL's "base latency"); each step starts `launch_overhead_us` after the last of its
//     deps ends (after the fixed cost without deps).
//   - Phase 1, receive: every source on another device than Step::device is a message from that
//     device to Step::device; all of them start together.
//   - Phase 2, compute (reduce and scale steps), only where the executor pays for it (Executor):
//     after all received data arrived the device reduces count * size * (sources - 1) bytes (a
//     pairwise add per extra addend: the gamma term of the alpha-beta-gamma model), or scales
//     count * size bytes, at its reduction throughput. GPU kernels fuse the reduction into the copy
//     that receives the data, so there it costs nothing beyond the transfer.
//   - Phase 3, send: every destination on another device is a message from Step::device to it;
//     all start together. The step ends when the last one arrives.
//   - A message waits its route's latency (Topology::route_latency_us, scaled by the protocol),
//     then moves its bytes over every link of its route at once (cut-through). A link direction
//     carries its effective rate (Link::effective_gbps() * count) times the protocol's efficiency
//     of payload; a node with a `bandwidth_gbps` carries that much of all traffic through it.
//   - Sharing, as the hardware serves transfers: the messages from one device to another form
//     one connection (a NCCL channel's FIFO), which sends them one after another in the order they
//     became ready (ties by step index), so the chunks of a pipeline follow each other; the
//     connections (and the reductions of a device) in flight share every resource max-min fairly,
//     recomputed at every event.
//   - Copies within one device (source or destination on Step::device) cost nothing unless
//     `local_copy_gbps` is set, in which case they are phase 2 work at that rate.
//   - A call runs with one protocol from SimulationOptions::protocols: the simulator predicts
//     each (skipping one that cannot win by a bound on its traffic) and reports the fastest, as
//     NCCL picks its protocol per call from its own model.
// Left out: per-channel limits (one NCCL channel drives one link, not two), the copy engines'
// and SMs' limits, congestion inside NVSwitches and network switches, and NIC relays; each
// matters only where docs/simulator-validation.md says so.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "meshreduce/schedule.h"
#include "meshreduce/topology.h"

namespace meshreduce {

// Who runs the steps, which decides whether a reduction costs time of its own.
enum class Executor : std::uint8_t {
  // gpu_kernels when every participant is a GPU, cpu_threads otherwise.
  by_device,
  // NCCL-like kernels: the reduction is fused into the copy that receives the data (a GPU's
  // memory bandwidth is far above its links'), and transfers use gpu_protocols().
  gpu_kernels,
  // Threads on cores: every reduction streams memory at the device's reduce rate, and a message
  // moves at the links' rate with no protocol framing or fixed call cost.
  cpu_threads,
};

// A transfer protocol: how much of a link's effective rate carries payload, what one call costs
// before any data moves, and how much of each route's latency a message pays.
struct Protocol {
  std::string name;
  double efficiency = 1.0;      // payload fraction of the link's effective rate, in (0, 1]
  double call_latency_us = 0;   // once per call
  // Per LinkKind (index: the enum's value), the factor on a route's latency.
  std::array<double, 6> latency_factor{1, 1, 1, 1, 1, 1};
};

// NCCL's two extremes (src/graph/tuning.cc, NCCL 2.19; docs/topology-format.md):
//   "simple": the bandwidth protocol; the topology's latencies are its per-hop figures, and a
//             ring call costs baseLat[Ring][Simple] = 8.4 us.
//   "ll":     low latency: every 8-byte line carries 4 bytes of data and a 4-byte flag (NCCL's
//             ncclLLFifoLine), so half of the rate; per hop hwLat[..][Ring][LL] (NVLink 0.6,
//             PCIe 1.0, network 2.7 us against Simple's 3.4, 5.7, 14), baseLat[Ring][LL] 6.6 us.
Protocol simple_protocol();
Protocol low_latency_protocol();
std::vector<Protocol> gpu_protocols();

struct SimulationOptions {
  // Reduction throughput in GB/s of one addend per device; 0 takes each device's
  // Device::reduce_gbps from the topology (and a device with 0 there reduces for free). Applies
  // only where the executor pays for reductions (Executor::cpu_threads).
  double reduce_gbps = 0;
  // Fixed cost in microseconds before each step starts (kernel launch, thread wake-up); 0 = steps
  // run inside one persistent loop, as NCCL's kernels do.
  double launch_overhead_us = 0;
  // Rate of copies inside one device, GB/s; 0 = free.
  double local_copy_gbps = 0;
  Executor executor = Executor::by_device;
  // The protocols a call may use; empty = the executor's: gpu_protocols() for GPU kernels, one
  // plain protocol (efficiency 1, no fixed cost) for CPU threads.
  std::vector<Protocol> protocols;
  // Collect the Chrome trace's events (off saves memory for large sweeps).
  bool trace = true;
};

// One link in one direction: traffic from `from` to `to` over Topology::links[link].
struct LinkUsage {
  int link = 0;
  int from = 0;
  int to = 0;
  std::int64_t bytes = 0;
  double busy_s = 0;         // time with at least one message moving on it
  double utilization = 0;    // bytes / (capacity * predicted time)
};

struct DeviceUsage {
  int position = 0;   // schedule position
  int device = 0;     // topology device id
  double busy_s = 0;  // time with at least one of its steps in flight
  double compute_s = 0;  // time with at least one of its reductions running
  std::int64_t bytes_sent = 0;
  std::int64_t bytes_received = 0;
};

// One row of the timeline: a device (or an extra lane of one) or a link direction.
struct TraceRow {
  std::string name;   // "gpu3", "gpu3 #2", "gpu0->gpu3 nvlink"
  std::string group;  // "devices" or "links" (a Chrome trace process each)
};

// One interval of the timeline (Chrome trace "complete" events).
struct TraceEvent {
  std::string name;
  std::string category;  // "step", "receive", "compute", "send", "link"
  int row = 0;           // index into SimulationResult::trace_rows
  double start_s = 0;
  double duration_s = 0;
  std::string args;      // free text shown with the event
};

struct SimulationResult {
  double time_s = 0;               // predicted time of the whole schedule
  std::int64_t bytes_per_device = 0;  // S: bytes of all buffers of one device
  double algbw_gbps = 0;           // S / time (nccl-tests)
  double busbw_gbps = 0;           // algbw * 2 (K - 1) / K (nccl-tests, allreduce)
  std::vector<LinkUsage> links;    // every link direction that carried bytes
  std::vector<DeviceUsage> devices;  // per schedule position
  std::vector<double> step_start_s;  // per step
  std::vector<double> step_end_s;
  std::vector<TraceRow> trace_rows;
  std::vector<TraceEvent> trace;
  std::int64_t events = 0;  // simulation events processed
  std::string protocol;     // the protocol of the reported prediction

  // The link direction with the highest utilization, or null when no bytes moved.
  const LinkUsage* busiest_link() const noexcept;
};

// `devices` maps schedule positions to topology device ids; empty means the topology's first
// num_devices devices in order. Throws InvalidArgument on a bad mapping and TopologyError when a
// message needs a route the topology lacks.
SimulationResult simulate(const Schedule& schedule, const Topology& topology, const std::vector<int>& devices = {},
                          const SimulationOptions& options = {});

// Chrome trace JSON ({"traceEvents": [...]}, times in microseconds): one row (tid) per device
// and per link direction, opened by chrome://tracing or ui.perfetto.dev. Overlapping steps of one
// device go to extra rows named "gpu3 #2". Throws Error when the file cannot be written.
std::string chrome_trace_json(const SimulationResult& result);
void write_chrome_trace(const SimulationResult& result, const std::string& path);

}  // namespace meshreduce
