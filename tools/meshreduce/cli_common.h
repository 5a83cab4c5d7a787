// What several subcommands share: the flags that describe a job, workload lookup, and test
// buffers filled with values whose sums are exact in any order (outputs check bit for bit) or
// whose sums depend on the order (checks of the order).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "meshreduce/communicator.h"
#include "meshreduce/limits.h"
#include "meshreduce/workload.h"
#include "measures.h"
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
  bool reproducible = false;  // CommunicatorOptions::reproducible
};

// Bounds of job flags (docs/limits.md): worker threads (limits.h), and --fuse-mib so that
// its byte count stays within limits::kMaxTotalBytes.
inline constexpr int kMaxThreads = static_cast<int>(limits::kMaxThreads);
inline constexpr std::int64_t kMaxFuseMib = std::int64_t{1} << 28;

// Registers --topology --devices --groups --dtype --op --bucketing ... on `command`.
void add_job_flags(CLI::App& command, JobOptions& job);
// Registers --reproducible (for the commands that execute: bench, run).
void add_reproducible_flag(CLI::App& command, JobOptions& job);
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
  // exact: small integers in [-4, 4], whose sums are exact in any order, so every output can be
  // checked against one plainly computed value (count_wrong). spread: values of one significant
  // 10-bit mantissa and exponents far apart (f32/f64/bf16: 2^-24..2^24, f16: 2^-8..2^8; integers
  // up to 2^20), so that adding in another order gives other bits: for checks of the order.
  enum class Fill { exact, spread };

  TestBuffers(int devices, std::span<const TensorSpec> layout, bool in_place, Fill fill = Fill::exact);
  // Input k, element i of tensor n for the exact fill.
  static int value(int device, int tensor, std::int64_t element);
  // Input k, element i of tensor n as stored (rounded to the tensor's dtype), for the fill in use.
  double input_value(int device, int tensor, std::int64_t element) const;
  void fill(Fill fill);  // switch the fill and rewrite the inputs
  void reset_inputs();   // rewrite the inputs (an in-place run overwrote them)
  std::vector<std::vector<ConstTensorView>>& inputs() { return inputs_; }
  std::vector<std::vector<TensorView>>& outputs() { return outputs_; }
  const std::vector<std::vector<TensorView>>& outputs() const { return outputs_; }
  std::span<const TensorSpec> layout() const { return layout_; }
  int devices() const { return devices_; }
  // Compare every output element with the plainly computed reduction of the exact fill; returns
  // mismatches (throws for the spread fill, whose reduction depends on the order).
  std::int64_t count_wrong(ReduceOp op) const;
  // Reproducible mode averages by one correctly rounded division (sum / K), not by the
  // reciprocal: count_wrong expects that when set.
  void set_reproducible(bool reproducible) { reproducible_ = reproducible; }
  std::int64_t bytes_per_device() const { return bytes_per_device_; }
  // The bytes the call's buffers take on all devices: inputs and outputs (in place: one set).
  std::int64_t footprint_bytes() const { return bytes_per_device_ * devices_ * (in_place_ ? 1 : 2); }

 private:
  double raw_value(int device, int tensor, std::int64_t element) const;

  int devices_;
  std::vector<TensorSpec> layout_;
  Fill fill_ = Fill::exact;
  bool in_place_ = false;
  bool reproducible_ = false;
  std::int64_t bytes_per_device_ = 0;
  std::vector<std::unique_ptr<std::byte[]>> arenas_;
  std::vector<std::vector<ConstTensorView>> inputs_;
  std::vector<std::vector<TensorView>> outputs_;
};

// Element i of a tensor of `dtype` at `base` set to v (rounded as the dtype stores it).
void store_value(DType dtype, void* base, std::int64_t i, double v);
// The bits element i of tensor n must have after `op` over `devices` devices filled with the
// exact fill (TestBuffers::value): the plainly computed reduction, averaged as types.h defines it.
void exact_expected(DType dtype, ReduceOp op, int devices, int tensor, std::int64_t element, void* out,
                    bool reproducible = false);

// How both backends' bench time and check in-place rows (time_calls, process_backend.cc's
// measure), for their headers.
inline constexpr const char* kInPlaceTiming =
    "in place: calls timed back to back on the same buffers, as nccl-tests does; bits checked on the first call "
    "and on one more call after the timed ones, each on fresh inputs";
// The same, as both backends' JSON names it ("in_place_timing").
inline constexpr const char* kInPlaceTimingJson = "back to back";

// Times `iterations` calls on `buffers`, which hold fresh inputs, after `warmup` calls and, if
// `warmup` is at least 1, more while the calls still get faster (warm_up.h), and returns the
// median of the timed calls. In place, the calls run back to back on the same buffers, each reducing
// what the previous one left (as nccl-tests times them). Checks bit for bit against the exact
// reference (wrong: mismatches of both checks together): the first call, and then out of place
// the last call; in place, one more untimed call on fresh inputs after the timed ones.
struct CallTiming {
  double median_s = 0;
  std::int64_t wrong = 0;
  int warmup_calls = 0;  // untimed calls made before the timed ones
};
// Where the timed calls are split into blocks (CallBlocks::count, at most `iterations`), `between`
// runs between two blocks, and then, if `warmup` is at least 1, untimed calls until they no longer
// get faster (warm_up.h; counted in warmup_calls) bring the buffers back to the calls' steady
// state. For a bound probed in between: calls and probe then sample the same minutes of a shared
// machine. `between` may change the values of an in-place call's buffers (which the back-to-back
// calls change anyway) and the outputs of an out-of-place one, never its inputs.
struct CallBlocks {
  int count = 1;
  std::function<void()> between;
};
CallTiming time_calls(Communicator& communicator, TestBuffers& buffers, ReduceOp op, bool in_place, int warmup,
                      int iterations, const CallBlocks& blocks = {});


}  // namespace meshreduce::cli
