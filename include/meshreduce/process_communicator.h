// The process communicator: one allreduce across the processes of a job, each holding one or
// more devices (memory spaces), on one machine through POSIX shared memory. Every process builds
// the same Schedule (algorithms are pure functions of the layout and options) and runs its own
// steps with the thread executor's kernels, reading peers' memory directly; a dependency on
// another process's step is a flag in shared memory, never a barrier. Results are bitwise those
// of a Communicator with the same algorithm, groups, bucketing and piece size over all devices.
//
// Every member function is collective: all processes call them in the same order with the same
// layout and op. Before the first call of a layout the processes compare their layouts; a
// mismatch throws InvalidArgument on every process, naming both ranks and both values, before
// any buffer is written. Every wait has a deadline (options.timeout): on expiry TimeoutError
// names the rank and the step waited for; a process that fails or exits makes the others fail
// within the timeout (PeerError when it could say why).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "meshreduce/algorithm.h"
#include "meshreduce/bootstrap.h"
#include "meshreduce/bucketing.h"
#include "meshreduce/communicator.h"
#include "meshreduce/process_model.h"
#include "meshreduce/tensor.h"
#include "meshreduce/transport.h"
#include "meshreduce/types.h"

namespace meshreduce {

namespace detail {
struct ProcessCommunicatorTesting;  // the executor's fault-injection seam, for tests (src/exec/processes)
}  // namespace detail

struct ProcessCommunicatorOptions {
  // Devices (memory spaces) this process holds; schedule devices are numbered in rank order.
  int local_devices = 1;
  // An algorithm name, or "auto": the planner's pick on a flat topology of all devices, the same
  // on every process.
  std::string algorithm = "auto";
  AlgorithmOptions algorithm_options;
  BucketingOptions bucketing;
  // Partition of the schedule devices (0..K-1) into groups, for the hierarchical algorithms.
  // Empty: one group per `ranks_per_node` processes when that is set, else the algorithm's own.
  std::vector<std::vector<int>> groups;
  // Processes per machine, in rank order (emulates machines on one host); 0 = the machines
  // are told apart by host name. Processes share memory only within a machine; between
  // machines, data moves through `transport`. The machines are the default groups.
  int ranks_per_node = 0;
  // Line rate of each machine's network port, Gbit/s: across machines "auto" predicts each
  // schedule with the simulator on the job's topology (meshreduce/process_model.h) at this rate.
  // Default: one 100 Gb/s port (EDR InfiniBand or 100 GbE). Every process must agree.
  double network_gbps = kDefaultNetworkGbps;
  // Moves data between machines (MpiTransport); needed when the processes span several.
  // Its peers are numbered as the bootstrap's ranks.
  std::shared_ptr<Transport> transport;
  std::int64_t piece_elements = std::int64_t{1} << 16;  // as CommunicatorOptions::piece_elements
  std::int64_t stream_min_bytes = std::int64_t{32} << 20;  // as CommunicatorOptions::stream_min_bytes
  // Deadline of every wait: for a peer's step, for a bootstrap exchange.
  std::chrono::milliseconds timeout{30000};
  // Bytes of this process's shared arena, from which allocate_shared() serves buffers that
  // peers read in place (no copy in or out). 0: no arena.
  std::int64_t shared_arena_bytes = 0;
  // Largest shared segment one layout may take per process (staging, scratch, flags).
  std::int64_t max_segment_bytes = std::int64_t{1} << 40;
  // Private buffers pass through a staging ring of about this many bytes per device and
  // direction: a call whose tensors hold at least 2 windows runs in windows of that size, each staged,
  // reduced and copied out while the caches hold it (docs/processes.md, "Staging windows").
  // 0: one window, every tensor staged whole. The bits are the same either way. Every process
  // must agree (checked at construction).
  std::int64_t staging_window_bytes = std::int64_t{1} << 20;
  // As CommunicatorOptions::reproducible: the same bits as a reproducible Communicator, for
  // any split of the devices into processes. Every process must agree (checked at construction).
  // Runs the schedule twice (int32 max of exponent codes, exact f64 sum): about 3x the bytes.
  bool reproducible = false;
};

class ProcessCommunicator {
 public:
  // Collective: exchanges each process's device count and options (a mismatch of the options
  // that shape the schedule throws InvalidArgument on every process) and maps the arenas.
  ProcessCommunicator(std::shared_ptr<Bootstrap> bootstrap, ProcessCommunicatorOptions options);
  ~ProcessCommunicator();
  ProcessCommunicator(ProcessCommunicator&&) noexcept;
  ProcessCommunicator& operator=(ProcessCommunicator&&) noexcept;
  ProcessCommunicator(const ProcessCommunicator&) = delete;
  ProcessCommunicator& operator=(const ProcessCommunicator&) = delete;

  int rank() const noexcept;
  int processes() const noexcept;
  int size() const noexcept;          // K: devices of all processes
  int first_device() const noexcept;  // schedule device of this process's local device 0
  int machines() const noexcept;
  const ProcessCommunicatorOptions& options() const noexcept;
  const std::vector<std::vector<int>>& groups() const noexcept;

  // In place: grads[l][n] is local device l's tensor n.
  void allreduce(std::span<const std::vector<TensorView>> grads, ReduceOp op = ReduceOp::sum);
  // Out of place, as Communicator::allreduce.
  void allreduce(std::span<const std::vector<ConstTensorView>> inputs,
                 std::span<const std::vector<TensorView>> outputs, ReduceOp op = ReduceOp::sum);

  // The plan of a layout (collective the first time: the layout exchange and segment setup).
  const Plan& plan(std::span<const TensorSpec> layout, ReduceOp op);

  // A buffer in this process's shared arena (64-byte aligned), which calls use in place:
  // zero copies. Throws InvalidArgument when the arena has no room. Not collective.
  void* allocate_shared(std::int64_t bytes);
  void free_shared(void* buffer);

 private:
  friend struct detail::ProcessCommunicatorTesting;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace meshreduce
