// The simulator: runs a Schedule against a Topology's cost model and predicts its time.
//
// The model (event-driven, exact for piecewise-constant rates):
//   - A step starts `launch_overhead_us` after the last of its deps ends (at time 0 without deps).
//   - Phase 1, receive: every source on another device than Step::device is a message from that
//     device to Step::device; all of them start together.
//   - Phase 2, compute (reduce and scale steps): after all received data arrived (no overlap of
//     compute with receiving inside one step; steps of different chunks still overlap), the device
//     reduces count * size * (sources - 1) bytes (a pairwise add per extra addend: the gamma term
//     of the alpha-beta-gamma model), or scales count * size bytes, at its reduction throughput.
//   - Phase 3, send: every destination on another device is a message from Step::device to it;
//     all start together. The step ends when the last one arrives.
//   - A message waits its route's latency (Topology::route_latency_us), then moves its bytes over
//     every link of its route at once (cut-through). Each link direction carries bandwidth * count
//     GB/s, each node with a `bandwidth_gbps` carries that much of all traffic through it, each
//     device's reduction throughput is shared by its concurrent reductions; concurrent users of a
//     resource share it max-min fairly (progressive filling), recomputed at every event. With
//     LinkSharing::fifo, users are served in the order they became ready instead (see there).
//   - Copies within one device (source or destination on Step::device) cost nothing unless
//     `local_copy_gbps` is set, in which case they are phase 2 work at that rate.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "meshreduce/schedule.h"
#include "meshreduce/topology.h"

namespace meshreduce {

enum class LinkSharing : std::uint8_t {
  // Every concurrent message (or reduction) gets an equal max-min share, whenever it started.
  // Chunks of one pipelined algorithm that are all ready at once then move in lockstep, so the
  // pipeline overlaps nothing.
  fair,
  // First come, first served: messages and reductions are served in the order they became ready
  // (then by step index), each taking what the earlier ones leave; exact ties share fairly. Chunks
  // queued on one link go one after another, as on one NCCL channel, and so pipeline.
  fifo,
};

struct SimulationOptions {
  // Reduction throughput in GB/s of one addend per device; 0 takes each device's
  // Device::reduce_gbps from the topology (and a device with 0 there reduces for free).
  double reduce_gbps = 0;
  // Fixed cost in microseconds before each step starts (kernel launch, thread wake-up); 0 = steps
  // run inside one persistent loop, as NCCL's kernels do.
  double launch_overhead_us = 0;
  // Rate of copies inside one device, GB/s; 0 = free.
  double local_copy_gbps = 0;
  LinkSharing sharing = LinkSharing::fair;
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
