// What several subcommands share: the flags that describe a job, workload lookup, and test
// buffers filled with values whose sums are exact in any order, so outputs check bit for bit.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "meshreduce/communicator.h"
#include "meshreduce/workload.h"
#include "sizes.h"

namespace meshreduce::cli {

struct JobOptions {
  std::string topology = "dgx1-v100";
  int devices = 0;     // 0: every device of the topology
  std::string groups;  // "4,4": consecutive group sizes; empty: the topology's grouping
  std::string algorithm = "dgx1-hierarchical";
  std::string dtype = "f32";
  std::string op = "average";
  std::string bucketing = "none";  // none | fused | packer
  std::int64_t fuse_mib = 25;
  std::int64_t chunk_elements = 0;
  int threads = 0;
  bool pin = false;
  std::string stream_min = "32M";  // non-temporal stores from this much output per call; "off" never
};

// Bounds of job flags beyond limits.h (docs/limits.md): worker threads, and --fuse-mib so that
// its byte count stays within limits::kMaxTotalBytes.
inline constexpr int kMaxThreads = 4096;
inline constexpr std::int64_t kMaxFuseMib = std::int64_t{1} << 28;

// Registers --topology --devices --groups --dtype --op --bucketing ... on `command`.
void add_job_flags(CLI::App& command, JobOptions& job);
// Checks every job flag (dtype, op, groups, sizes) before it builds the topology; throws
// InvalidArgument naming the flag.
CommunicatorOptions communicator_options(const JobOptions& job, const std::string& algorithm);
// Throws InvalidArgument listing the known algorithms unless `name` is one (or "auto", or "all"
// when `allow_all`).
void check_algorithm(const std::string& name, bool allow_all);
std::string describe_groups(const std::vector<std::vector<int>>& groups);

// A workload by name (embedded: resnet50, bert_base, ...) or by TSV file path.
Workload resolve_workload(const std::string& spec);
std::vector<std::string> embedded_workload_names();

// K devices' inputs and outputs for a layout, each tensor 64-byte aligned, filled once.
class TestBuffers {
 public:
  TestBuffers(int devices, std::span<const TensorSpec> layout, bool in_place);
  // Input k, element i of tensor n: a small integer in [-4, 4], so sums are exact in any order.
  static int value(int device, int tensor, std::int64_t element);
  void reset_inputs();  // rewrite the inputs (an in-place run overwrote them)
  std::vector<std::vector<ConstTensorView>>& inputs() { return inputs_; }
  std::vector<std::vector<TensorView>>& outputs() { return outputs_; }
  // Compare every output element with the plainly computed reduction; returns mismatches.
  std::int64_t count_wrong(ReduceOp op) const;
  std::int64_t bytes_per_device() const { return bytes_per_device_; }

 private:
  int devices_;
  std::vector<TensorSpec> layout_;
  std::int64_t bytes_per_device_ = 0;
  std::vector<std::unique_ptr<std::byte[]>> arenas_;
  std::vector<std::vector<ConstTensorView>> inputs_;
  std::vector<std::vector<TensorView>> outputs_;
};

// Times `warmup + iterations` calls on `buffers` (in place: the outputs, inputs rewritten before
// each call after the first), checks the first call's outputs bit for bit, and returns the
// median of the timed calls.
struct CallTiming {
  double median_s = 0;
  std::int64_t wrong = 0;
};
CallTiming time_calls(Communicator& communicator, TestBuffers& buffers, ReduceOp op, bool in_place, int warmup,
                      int iterations);


// nccl-tests' figures for an allreduce of `bytes` per device over `devices` in `seconds`.
double algbw_gbps(std::int64_t bytes, double seconds);
double busbw_gbps(std::int64_t bytes, double seconds, int devices);
double median(std::vector<double> values);

}  // namespace meshreduce::cli
