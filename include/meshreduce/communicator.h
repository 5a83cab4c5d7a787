// The entry points: a reusable Communicator that plans once per tensor layout and then only
// executes, and a free function that mirrors tensorpack's allreduce_grads_hierarchical.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "meshreduce/algorithm.h"
#include "meshreduce/bucketing.h"
#include "meshreduce/schedule.h"
#include "meshreduce/simulator.h"
#include "meshreduce/tensor.h"
#include "meshreduce/thread_model.h"
#include "meshreduce/topology.h"
#include "meshreduce/types.h"

namespace meshreduce {

namespace detail {
struct CommunicatorTesting;  // the executor's fault-injection seam, for tests (src/api)
}  // namespace detail

struct CommunicatorOptions {
  // The machine. Absent: `devices` are plain labels of memory spaces on this machine's threads,
  // and named algorithms that need links (multiring, hierarchical-rs) see no topology.
  std::optional<Topology> topology;
  // The participants, in order. With a topology: its device ids (empty means every device of
  // it). Without: any distinct ints, in any order; they label the participants and size
  // nothing (position p of this list is device p of every call).
  std::vector<int> devices;
  // Partition of participant positions (0..K-1) into groups. Empty: the topology's innermost
  // grouping level restricted to `devices`, or one group when the topology has none.
  std::vector<std::vector<int>> groups;
  // An algorithm name, or "auto": per bucket size, the algorithm predicted fastest (see
  // Plan::choices). Without a `topology`, or with `thread_costs`, "auto" predicts this machine's
  // threads (thread_model.h), where every byte read or written costs memory bandwidth, and so
  // picks `direct` for all but the smallest buckets; with a topology, its simulator.
  std::string algorithm = "auto";
  AlgorithmOptions algorithm_options;
  // The cost model "auto" plans with (simulator.h).
  SimulationOptions simulation;
  // The thread executor's costs "auto" plans with (measure_thread_costs(), or a calibrated
  // `local` topology's Topology::thread_costs). Absent: default_thread_costs() when no topology
  // is given.
  std::optional<ThreadCosts> thread_costs;
  BucketingOptions bucketing;
  int threads = 0;  // worker threads including the caller's; 0 = the machine's hardware threads
  // Largest number of elements one worker handles at a time; steps are cut into pieces this big
  // so that a large step spreads over all workers and each piece stays cache-sized.
  std::int64_t piece_elements = std::int64_t{1} << 16;
  // Bind worker thread i to core i (hwloc). The caller's thread is never moved, so this pays
  // only when the application binds its own thread to core 0, or the pool has fewer threads
  // than cores: otherwise the scheduler may put the caller on a worker's core, and that worker
  // then waits for the caller's time slice (measured: 90 us instead of 4 us for K=2, 256 KiB).
  bool pin_threads = false;
  // Non-temporal stores for the final outputs of calls whose outputs (all devices together) are
  // at least this large: that data would only push the caches out, and streaming it saves the
  // read of every line before it is written. A negative value never streams.
  std::int64_t stream_min_bytes = std::int64_t{32} << 20;
  // Calls that move fewer bytes than this (reads and writes of all pieces) run on the caller's
  // thread alone: waking a worker costs microseconds, more when another process holds its core.
  // 0 puts every call on the workers.
  std::int64_t inline_bytes = std::int64_t{256} << 10;
  // The longest a call may take. A call still unfinished then (a worker stalled, or starved of
  // its core) throws TimeoutError naming the steps in progress, their devices and workers, and
  // how long it waited; the communicator stays usable. Positive, at most a year.
  std::chrono::nanoseconds timeout = std::chrono::minutes(5);
  // Reproducible mode (docs/reproducible.md): every floating-point sum and average (f32, f64,
  // f16, bf16) is a function of the multiset of inputs per element alone, the same bits for
  // every algorithm, piece size, thread count, grouping, bucketing, device order and process
  // count, and at least as accurate as plain left-to-right summation. Integer types and
  // min/max are exact in any order already and run as usual. With "auto" or "direct" one fused
  // pass over the inputs computes it; other algorithms run their schedule twice (an int32 max
  // of exponents, then an exact f64 sum), about 3x the default's bytes.
  bool reproducible = false;
};

// Which algorithm serves a bucket, and, when the planner chose it, its predicted time.
struct BucketChoice {
  std::string algorithm;
  double predicted_s = 0;  // 0 when the algorithm was named, not chosen
};

// What a call with one tensor layout runs: the buckets, the algorithm of each, and the
// schedule over them all.
struct Plan {
  std::vector<TensorSpec> layout;
  std::vector<Bucket> buckets;
  std::vector<BucketChoice> choices;  // per bucket
  Schedule schedule;
};

class Communicator {
 public:
  explicit Communicator(CommunicatorOptions options);
  ~Communicator();
  Communicator(Communicator&&) noexcept;
  Communicator& operator=(Communicator&&) noexcept;
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int size() const noexcept;
  const CommunicatorOptions& options() const noexcept;
  const std::vector<std::vector<int>>& groups() const noexcept;

  // Errors (error.h): InvalidArgument for malformed arguments, before anything is written;
  // Unsupported when the algorithm cannot serve the devices; OutOfMemory when memory runs out
  // while planning or running; ExecutionError when a step raised mid-call, TimeoutError past
  // `timeout` (outputs unspecified after these two). The communicator stays usable after each.
  // In place: grads[k][n] is device k's tensor n; every device ends with the reduction.
  void allreduce(std::span<const std::vector<TensorView>> grads, ReduceOp op = ReduceOp::sum);
  // Out of place: outputs[k][n] receives the reduction of inputs[*][n]. An output may be its own
  // input (in place for that tensor) but must not overlap any other buffer.
  void allreduce(std::span<const std::vector<ConstTensorView>> inputs,
                 std::span<const std::vector<TensorView>> outputs, ReduceOp op = ReduceOp::sum);

  // The plan for a layout, built on first use and cached.
  const Plan& plan(std::span<const TensorSpec> layout, ReduceOp op);

 private:
  friend struct detail::CommunicatorTesting;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// tensorpack's allreduce_grads_hierarchical(all_grads, devices, average), generalized: any
// K >= 1; the devices form two groups (the first ceil(K/2) and the rest), or the given groups.
// `devices` are labels: any distinct ints in any order (a duplicate is an InvalidArgument
// naming it); groups hold positions 0..K-1 in that list.
// With K = 8 the result is bitwise the seed's. In place, or into caller-given outputs.
void allreduce_grads_hierarchical(std::span<const std::vector<TensorView>> all_grads,
                                  std::span<const int> devices, bool average = false,
                                  std::vector<std::vector<int>> groups = {});
void allreduce_grads_hierarchical(std::span<const std::vector<ConstTensorView>> all_grads,
                                  std::span<const std::vector<TensorView>> outputs,
                                  std::span<const int> devices, bool average = false,
                                  std::vector<std::vector<int>> groups = {});

// The seed's default grouping for K devices: the first ceil(K/2) positions and the rest.
std::vector<std::vector<int>> halves(int num_devices);

}  // namespace meshreduce
