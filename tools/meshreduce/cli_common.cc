#include "cli_common.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

#include "arg_checks.h"
#include "core/half.h"
#include "core/text.h"
#include "exec/reproducible/arithmetic.h"
#include "embedded_workloads.h"
#include "meshreduce/algorithm.h"
#include "meshreduce/error.h"
#include "meshreduce/limits.h"
#include "warm_up.h"

namespace meshreduce::cli {

void add_job_flags(CLI::App& command, JobOptions& job) {
  command.add_option("--topology", job.topology, "topology preset or JSON file")->capture_default_str();
  command.add_option("--devices,-k", job.devices, "number of devices (0: all of the topology)")->capture_default_str()
      ->check(CLI::Range(std::int64_t{0}, limits::kMaxDevices));
  command.add_option("--groups", job.groups, "consecutive group sizes, e.g. 4,4 or 3,1,4 (default: the topology's)");
  command.add_option("--dtype,-d", job.dtype, "f32 f64 f16 bf16 i32 i64")->capture_default_str()
      ->check(CLI::IsMember({"f32", "f64", "f16", "bf16", "i32", "i64"}));
  command.add_option("--op,-o", job.op, "sum average min max")->capture_default_str()
      ->check(CLI::IsMember({"sum", "average", "min", "max"}));
  command.add_option("--bucketing", job.bucketing, "none (one bucket per tensor), fused, packer (the seed's)")
      ->check(CLI::IsMember({"none", "fused", "packer"}))->capture_default_str();
  command.add_option("--fuse-mib", job.fuse_mib, "bucket size for --bucketing fused, MiB")->capture_default_str()
      ->check(CLI::Range(std::int64_t{1}, kMaxFuseMib));
  command.add_option("--chunk-elements", job.chunk_elements, "pipelining chunk (0: the algorithm's choice)")
      ->capture_default_str()->check(CLI::Range(std::int64_t{0}, limits::kMaxTensorElements));
  command.add_option("--threads,-t", job.threads, "worker threads (0: all hardware threads)")->capture_default_str()
      ->check(CLI::Range(0, kMaxThreads));
  command.add_flag("--pin", job.pin, "bind worker i to core i (hwloc); the caller's thread stays where it is");
  command.add_option("--stream-min", job.stream_min,
                     "non-temporal stores for final outputs when a call's outputs total this much; off: never")
      ->capture_default_str();
}

void add_reproducible_flag(CLI::App& command, JobOptions& job) {
  command.add_flag("--reproducible", job.reproducible,
                   "floating-point sums and averages depend on the inputs alone, not on the algorithm, grouping or "
                   "order (docs/reproducible.md)");
}

void check_algorithm(const std::string& name, bool allow_all) {
  if (allow_all && name == "all") return;
  std::string known;
  for (const Algorithm& algorithm : algorithms()) {
    if (algorithm.name == name) return;
    known += " " + std::string(algorithm.name);
  }
  if (name == "auto") return;
  throw InvalidArgument("--algorithm '" + detail::excerpt(name) + "' is not an algorithm (known:" + known +
                        (allow_all ? " auto all)" : " auto)"));
}

CommunicatorOptions communicator_options(const JobOptions& job, const std::string& algorithm) {
  CommunicatorOptions options;
  parse_dtype(job.dtype);
  parse_reduce_op(job.op);
  options.stream_min_bytes = job.stream_min == "off" ? -1 : parse_size(job.stream_min, "--stream-min");
  std::vector<int> sizes;
  if (!job.groups.empty()) {
    std::size_t start = 0;
    while (start <= job.groups.size()) {
      const std::size_t comma = std::min(job.groups.find(',', start), job.groups.size());
      sizes.push_back(static_cast<int>(
          parse_count(job.groups.substr(start, comma - start), "--groups: group size", 1, limits::kMaxDevices)));
      start = comma + 1;
    }
  }
  options.topology = topology_preset(job.topology);
  const int available = options.topology->size();
  if (job.devices < 0 || job.devices > available)
    throw InvalidArgument("--devices " + std::to_string(job.devices) + ": topology " + options.topology->name +
                          " has " + std::to_string(available) + " devices");
  const int devices = job.devices == 0 ? available : job.devices;
  for (int i = 0; i < devices; ++i) options.devices.push_back(options.topology->devices[static_cast<std::size_t>(i)].id);
  if (!sizes.empty()) {
    int next = 0;
    for (const int count : sizes) {
      if (count > devices - next)
        throw InvalidArgument("--groups " + detail::excerpt(job.groups) + " covers more than the " +
                              std::to_string(devices) + " devices");
      std::vector<int> group;
      for (int i = 0; i < count; ++i) group.push_back(next++);
      options.groups.push_back(std::move(group));
    }
    if (next != devices)
      throw InvalidArgument("--groups " + detail::excerpt(job.groups) + " covers " + std::to_string(next) +
                            " devices, not " + std::to_string(devices));
  }
  options.algorithm = algorithm;
  options.algorithm_options.chunk_elements = job.chunk_elements;
  options.threads = job.threads;
  options.pin_threads = job.pin;
  options.reproducible = job.reproducible;
  if (job.bucketing == "fused") options.bucketing.mode = BucketingMode::fused;
  if (job.bucketing == "packer") options.bucketing.mode = BucketingMode::seed_packer;
  options.bucketing.fuse_bytes = limits::checked_mul("--fuse-mib", job.fuse_mib, std::int64_t{1} << 20, limits::kMaxTotalBytes);
  return options;
}

std::string describe_groups(const std::vector<std::vector<int>>& groups) {
  std::string text;
  for (const auto& group : groups) {
    if (!text.empty()) text += " | ";
    text += group.size() > 2 && group.back() - group.front() + 1 == static_cast<int>(group.size())
                ? std::to_string(group.front()) + "-" + std::to_string(group.back())
                : [&] {
                    std::string list;
                    for (int d : group) list += (list.empty() ? "" : ",") + std::to_string(d);
                    return list;
                  }();
  }
  return text.empty() ? "one group" : text;
}

std::vector<std::string> embedded_workload_names() {
  std::vector<std::string> names;
  for (const EmbeddedWorkload& workload : embedded_workloads()) names.emplace_back(workload.name);
  return names;
}

Workload resolve_workload(const std::string& spec) {
  for (const EmbeddedWorkload& workload : embedded_workloads())
    if (workload.name == spec) return parse_workload(workload.text, std::string(workload.name));
  std::error_code error;
  if (std::filesystem::exists(spec, error)) return load_workload_file(spec);  // which rejects directories
  std::string known;
  for (const auto& name : embedded_workload_names()) known += " " + name;
  throw InvalidArgument("--workload '" + detail::excerpt(spec) + "' is neither a known name (" + known.substr(1) +
                        ") nor a file");
}

namespace {

constexpr std::size_t kAlign = 64;

std::size_t padded_bytes(const TensorSpec& spec) {
  const std::size_t bytes = static_cast<std::size_t>(spec.count) * dtype_size(spec.dtype);
  return (bytes + kAlign - 1) / kAlign * kAlign;
}

}  // namespace

void store_value(DType dtype, void* base, std::int64_t i, double v) {
  switch (dtype) {
    case DType::f32: static_cast<float*>(base)[i] = static_cast<float>(v); break;
    case DType::f64: static_cast<double*>(base)[i] = v; break;
    case DType::f16: static_cast<std::uint16_t*>(base)[i] = detail::f32_to_f16(static_cast<float>(v)); break;
    case DType::bf16: static_cast<std::uint16_t*>(base)[i] = detail::f32_to_bf16(static_cast<float>(v)); break;
    case DType::i32: static_cast<std::int32_t*>(base)[i] = static_cast<std::int32_t>(v); break;
    case DType::i64: static_cast<std::int64_t*>(base)[i] = static_cast<std::int64_t>(v); break;
  }
}

namespace {

// The reduction of the K small-integer inputs, computed plainly, then averaged the way
// types.h defines it, stored in the tensor's dtype.
void expected(DType dtype, ReduceOp op, int devices, std::int64_t combined, void* out) {
  const bool average = op == ReduceOp::average;
  switch (dtype) {
    case DType::f32: {
      float v = static_cast<float>(combined);
      if (average) v *= static_cast<float>(1.0 / devices);
      std::memcpy(out, &v, sizeof v);
      break;
    }
    case DType::f64: {
      double v = static_cast<double>(combined);
      if (average) v *= 1.0 / devices;
      std::memcpy(out, &v, sizeof v);
      break;
    }
    case DType::f16: case DType::bf16: {
      float v = static_cast<float>(combined);
      if (average) v *= static_cast<float>(1.0 / devices);
      const std::uint16_t bits = dtype == DType::f16 ? detail::f32_to_f16(v) : detail::f32_to_bf16(v);
      std::memcpy(out, &bits, sizeof bits);
      break;
    }
    case DType::i32: {
      const auto v = static_cast<std::int32_t>(average ? combined / devices : combined);
      std::memcpy(out, &v, sizeof v);
      break;
    }
    case DType::i64: {
      const std::int64_t v = average ? combined / devices : combined;
      std::memcpy(out, &v, sizeof v);
      break;
    }
  }
}

}  // namespace

TestBuffers::TestBuffers(int devices, std::span<const TensorSpec> layout, bool in_place, Fill fill)
    : devices_(devices), layout_(layout.begin(), layout.end()), fill_(fill), in_place_(in_place) {
  std::size_t arena = 0;
  for (const TensorSpec& spec : layout_) {
    limits::check_range("tensor elements", spec.count, 0, limits::kMaxTensorElements);
    arena = static_cast<std::size_t>(limits::checked_add("bytes per device", static_cast<std::int64_t>(arena),
                                                         static_cast<std::int64_t>(padded_bytes(spec)),
                                                         limits::kMaxTotalBytes));
    bytes_per_device_ += spec.count * static_cast<std::int64_t>(dtype_size(spec.dtype));
  }
  // Every buffer is written now, so more than the machine's memory would be killed midway:
  // refuse it before allocating.
  const std::int64_t needed = limits::checked_mul(
      "bytes of all buffers", static_cast<std::int64_t>(arena + kAlign), std::int64_t{devices} * (in_place ? 1 : 2),
      std::numeric_limits<std::int64_t>::max());
  if (const std::int64_t memory = physical_memory_bytes(); memory > 0 && needed > memory)
    throw InvalidArgument("the buffers of " + std::to_string(devices) + " devices (" +
                          std::string(in_place ? "in place" : "inputs and outputs") + ") need " +
                          std::to_string(needed) + " bytes; this machine has " + std::to_string(memory));
  const auto new_arena = [&] {
    auto& memory = arenas_.emplace_back(std::make_unique<std::byte[]>(arena + kAlign));  // zeroed: pages touched now
    const auto address = reinterpret_cast<std::uintptr_t>(memory.get());
    return memory.get() + (kAlign - address % kAlign) % kAlign;
  };
  for (int k = 0; k < devices; ++k) {
    std::byte* in_base = new_arena();
    std::byte* out_base = in_place ? in_base : new_arena();
    auto& ins = inputs_.emplace_back();
    auto& outs = outputs_.emplace_back();
    std::size_t offset = 0;
    for (const TensorSpec& spec : layout_) {
      ins.emplace_back(in_base + offset, spec.count, spec.dtype);
      outs.emplace_back(out_base + offset, spec.count, spec.dtype);
      offset += padded_bytes(spec);
    }
  }
  reset_inputs();
}

int TestBuffers::value(int device, int tensor, std::int64_t element) {
  return static_cast<int>((device * 7 + tensor * 3 + element) % 9) - 4;
}

namespace {

// A 64-bit mix of (device, tensor, element): SplitMix64's finalizer.
std::uint64_t mix(int device, int tensor, std::int64_t element) {
  std::uint64_t x = static_cast<std::uint64_t>(element) * 0x9e3779b97f4a7c15ULL +
                    static_cast<std::uint64_t>(tensor) * 0xbf58476d1ce4e5b9ULL +
                    static_cast<std::uint64_t>(device) * 0x94d049bb133111ebULL + 0x2545f4914f6cdd1dULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// The value `v` as the dtype stores it.
double as_stored(DType dtype, double v) {
  switch (dtype) {
    case DType::f32: return static_cast<float>(v);
    case DType::f64: return v;
    case DType::f16: return detail::f16_to_f32(detail::f32_to_f16(static_cast<float>(v)));
    case DType::bf16: return detail::bf16_to_f32(detail::f32_to_bf16(static_cast<float>(v)));
    case DType::i32: return static_cast<std::int32_t>(v);
    case DType::i64: return static_cast<double>(static_cast<std::int64_t>(v));
  }
  return v;
}

}  // namespace

double TestBuffers::raw_value(int device, int tensor, std::int64_t element) const {
  if (fill_ == Fill::exact) return value(device, tensor, element);
  const DType dtype = layout_[static_cast<std::size_t>(tensor)].dtype;
  const std::uint64_t h = mix(device, tensor, element);
  const double sign = (h & 1) != 0 ? -1.0 : 1.0;
  if (dtype == DType::i32 || dtype == DType::i64) return sign * static_cast<double>((h >> 1) % (1 << 20));
  const double mantissa = 1.0 + static_cast<double>((h >> 1) & 0x3ff) / 1024.0;
  const int span = dtype == DType::f16 ? 8 : 24;
  const int exponent = static_cast<int>((h >> 11) % static_cast<std::uint64_t>(2 * span + 1)) - span;
  return sign * std::ldexp(mantissa, exponent);
}

double TestBuffers::input_value(int device, int tensor, std::int64_t element) const {
  return as_stored(layout_[static_cast<std::size_t>(tensor)].dtype, raw_value(device, tensor, element));
}

void TestBuffers::fill(Fill fill) {
  fill_ = fill;
  reset_inputs();
}

void TestBuffers::reset_inputs() {
  for (int k = 0; k < devices_; ++k)
    for (std::size_t n = 0; n < layout_.size(); ++n) {
      void* base = const_cast<void*>(inputs_[static_cast<std::size_t>(k)][n].data);
      for (std::int64_t i = 0; i < layout_[n].count; ++i)
        store_value(layout_[n].dtype, base, i, raw_value(k, static_cast<int>(n), i));
    }
}

void exact_expected(DType dtype, ReduceOp op, int devices, int tensor, std::int64_t element, void* out,
                    bool reproducible) {
  std::int64_t combined = TestBuffers::value(0, tensor, element);
  for (int k = 1; k < devices; ++k) {
    const int v = TestBuffers::value(k, tensor, element);
    combined = op == ReduceOp::min ? std::min<std::int64_t>(combined, v)
             : op == ReduceOp::max ? std::max<std::int64_t>(combined, v)
                                   : combined + v;
  }
  // The reproducible mode rounds the exact average once; the default multiplies by 1/K.
  if (reproducible && op == ReduceOp::average && is_floating(dtype))
    detail::repro::store_result(dtype, static_cast<double>(combined) / devices, out, 0);
  else
    expected(dtype, op, devices, combined, out);
}

std::int64_t TestBuffers::count_wrong(ReduceOp op) const {
  if (fill_ != Fill::exact) throw Error("TestBuffers::count_wrong: the spread fill has no order-free reference");
  std::int64_t wrong = 0;
  std::byte want[8];
  for (std::size_t n = 0; n < layout_.size(); ++n) {
    const std::size_t size = dtype_size(layout_[n].dtype);
    for (std::int64_t i = 0; i < layout_[n].count; ++i) {
      exact_expected(layout_[n].dtype, op, devices_, static_cast<int>(n), i, want, reproducible_);
      for (int k = 0; k < devices_; ++k) {
        const auto* got = static_cast<const std::byte*>(outputs_[static_cast<std::size_t>(k)][n].data) + i * static_cast<std::int64_t>(size);
        if (std::memcmp(got, want, size) != 0) ++wrong;
      }
    }
  }
  return wrong;
}

CallTiming time_calls(Communicator& communicator, TestBuffers& buffers, ReduceOp op, bool in_place, int warmup,
                      int iterations, const CallBlocks& blocks) {
  const auto call = [&] {
    if (in_place) communicator.allreduce(buffers.outputs(), op);
    else communicator.allreduce(buffers.inputs(), buffers.outputs(), op);
  };
  std::vector<double> seconds;
  CallTiming timing;
  // In place, each call after the first reduces what the previous one left, as nccl-tests times
  // its in-place calls: back to back on the same buffers, with nothing between them. The values
  // then grow (sum: K times per call; integers wrap), stay (min, max) or stay within rounding
  // of the first call's (average), and floats may reach inf: none of that changes the bytes a
  // call moves or the kernels it runs, and no op drives the exact fill's values toward the slow
  // subnormal range (docs/benchmarking.md, "The table"), so no op needs a rewrite between calls.
  // A rewrite before each call would put a pass of the calling thread alone between the calls,
  // which the bound's probe never does.
  const auto timed_call = [&] {
    const auto start = std::chrono::steady_clock::now();
    call();
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    return elapsed.count();
  };
  for (int i = 0; i < warmup + iterations; ++i) {
    if (blocks.between && starts_block(i - warmup, iterations, blocks.count)) {
      blocks.between();
      // What ran between leaves the caches as it used them (its written lines still to be written
      // back), and the calls right after it were seen to take 1.2 times as long: they warm up
      // again as they did before the first block.
      if (warmup >= 1) timing.warmup_calls += settle(timed_call);
    }
    const double elapsed = timed_call();
    if (i >= warmup) seconds.push_back(elapsed);
    // The first call (on the fresh inputs) shows the plan right.
    if (i == 0) timing.wrong += buffers.count_wrong(op);
    // After the least warm-up, more while the calls still get faster (warm_up.h).
    if (i + 1 == warmup) timing.warmup_calls += warmup + settle(timed_call);
  }
  // The last check shows that nothing drifted over repeated calls: out of place, the last timed
  // call's outputs; in place, one more call with the same communicator and plan, on fresh inputs.
  if (in_place) {
    buffers.reset_inputs();
    call();
  }
  if (in_place || warmup + iterations > 1) timing.wrong += buffers.count_wrong(op);
  timing.median_s = median(seconds);
  return timing;
}

}  // namespace meshreduce::cli
