// The process backend of `bench` and `run`. Inputs are the thread backend's exact fill
// (TestBuffers::value: small integers, different per device, tensor and element), so every sum
// is exact in any order and each rank computes the expected bits of its own outputs
// (exact_expected) without seeing any other rank's memory.
#include "process_backend.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "arg_checks.h"
#include "cli_common.h"
#include "meshreduce/error.h"
#include "meshreduce/process_communicator.h"
#include "probe_cpus.h"
#include "rank_timing.h"
#include "sizes.h"
#include "stream_probe.h"
#ifdef MESHREDUCE_HAVE_MPI
#include "meshreduce/bootstrap_mpi.h"
#endif

namespace meshreduce::cli {

void add_backend_flags(CLI::App& command, BackendFlags& flags, bool bench) {
  command.add_option("--backend", flags.backend,
                     "threads (this process's threads, one per device) or processes (the process executor: one "
                     "process per rank, under mpirun -np K)")
      ->capture_default_str();
  command.add_flag("--shared", flags.shared, "processes: buffers from the communicator's shared arena (no copy in or out)");
  command.add_option("--ranks-per-node", flags.ranks_per_node,
                     "processes: N consecutive ranks per machine, to emulate machines (0: by host name)")
      ->capture_default_str();
  command.add_option("--local-devices", flags.local_devices, "processes: devices (memory spaces) per process")
      ->capture_default_str();
  if (bench)
    command.add_flag("--compare-mpi", flags.compare_mpi,
                     "processes: also time MPI_Allreduce of the same inputs (under mpirun; f32/f64/i32/i64 sum, one device per process)");
  command.add_option("--timeout", flags.timeout_s, "processes: seconds any wait may take before it fails")
      ->capture_default_str();
  command.add_option("--staging-window", flags.staging_window,
                     "processes: bytes of the staging ring per device through which private buffers pass, a "
                     "window of the call at a time (0: the whole call at once)")
      ->capture_default_str();
  command.add_option("--network-gbps", flags.network_gbps,
                     "processes: each machine's network port in Gbit/s, which auto plans with across machines")
      ->capture_default_str();
}

std::int64_t staging_window_bytes(const BackendFlags& flags) {
  return flags.staging_window == "0" ? 0 : parse_size(flags.staging_window, "--staging-window");
}

int devices_on_this_machine(const BackendFlags& flags) {
  const char* local_ranks = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  const long ranks = local_ranks != nullptr ? std::clamp(std::strtol(local_ranks, nullptr, 10), 1L, 1L << 20) : 1;
  return static_cast<int>(ranks) * flags.local_devices;
}

ProcessBackendOptions process_backend_options(const BackendFlags& flags, const std::string& algorithm,
                                              const CommunicatorOptions& threads) {
  ProcessBackendOptions options;
  options.flags = flags;
  options.algorithm = algorithm;
  options.algorithm_options = threads.algorithm_options;
  options.bucketing = threads.bucketing;
  options.stream_min_bytes = threads.stream_min_bytes;
  options.reproducible = threads.reproducible;
  return options;
}

namespace {

using Clock = std::chrono::steady_clock;

bool launched_by_mpirun() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr || std::getenv("PMI_SIZE") != nullptr;
}

// The job's processes: MPI under mpirun, else this process alone (a file store of one).
class Job {
 public:
  Job() {
#ifdef MESHREDUCE_HAVE_MPI
    if (launched_by_mpirun()) {
      prepare_mpi_environment();
      MPI_Init(nullptr, nullptr);
      mpi_ = true;
      bootstrap = std::make_shared<MpiBootstrap>();
      transport = std::make_shared<MpiTransport>();
      return;
    }
#endif
    std::string pattern = (std::filesystem::temp_directory_path() / "meshreduce-job-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw Error("cannot create a directory for the job's file store");
    directory_ = pattern;
    bootstrap = std::make_shared<StoreBootstrap>(std::make_shared<FileStore>(directory_), 0, 1);
  }
  ~Job() {
    bootstrap.reset();
    transport.reset();
#ifdef MESHREDUCE_HAVE_MPI
    if (mpi_) MPI_Finalize();
#endif
    std::error_code ignored;
    if (!directory_.empty()) std::filesystem::remove_all(directory_, ignored);
  }
  Job(const Job&) = delete;
  Job& operator=(const Job&) = delete;
  bool mpi() const { return mpi_; }

  std::shared_ptr<Bootstrap> bootstrap;
  std::shared_ptr<Transport> transport;

 private:
  bool mpi_ = false;
  std::filesystem::path directory_;
};

// Buffers of one layout on this process's devices: private, or in the shared arena.
class Buffers {
 public:
  Buffers(ProcessCommunicator& comm, const std::vector<std::int64_t>& counts, DType dtype, bool shared, bool in_place)
      : comm_(comm), counts_(counts), dtype_(dtype), shared_(shared), in_place_(in_place) {
    for (int l = 0; l < comm.options().local_devices; ++l) {
      inputs_.emplace_back();
      outputs_.emplace_back();
      for (std::int64_t count : counts) {
        const std::int64_t bytes = count * static_cast<std::int64_t>(dtype_size(dtype));
        std::byte* input = allocate(bytes);
        std::byte* output = in_place ? input : allocate(bytes);
        inputs_.back().emplace_back(input, count, dtype);
        outputs_.back().emplace_back(output, count, dtype);
      }
    }
    reset();
  }
  ~Buffers() {
    for (void* block : shared_blocks_) comm_.free_shared(block);
  }
  Buffers(const Buffers&) = delete;
  Buffers& operator=(const Buffers&) = delete;

  void reset() {
    for (std::size_t l = 0; l < inputs_.size(); ++l)
      for (std::size_t n = 0; n < counts_.size(); ++n)
        for (std::int64_t i = 0; i < counts_[n]; ++i)
          store_value(dtype_, const_cast<void*>(inputs_[l][n].data), i,
                      TestBuffers::value(comm_.first_device() + static_cast<int>(l), static_cast<int>(n), i));
  }
  void run(ReduceOp op) {
    if (in_place_) comm_.allreduce(outputs_, op);
    else comm_.allreduce(inputs_, outputs_, op);
  }
  // Elements of this process's outputs that differ from the exact reduction over all K devices.
  std::int64_t count_wrong(ReduceOp op) const {
    std::int64_t wrong = 0;
    std::byte want[8] = {};
    const std::size_t element = dtype_size(dtype_);
    for (std::size_t n = 0; n < counts_.size(); ++n)
      for (std::int64_t i = 0; i < counts_[n]; ++i) {
        exact_expected(dtype_, op, comm_.size(), static_cast<int>(n), i, want, comm_.options().reproducible);
        for (const auto& device : outputs_)
          wrong += std::memcmp(static_cast<const std::byte*>(device[n].data) + static_cast<std::size_t>(i) * element,
                               want, element) != 0;
      }
    return wrong;
  }
  const std::vector<std::vector<ConstTensorView>>& inputs() const { return inputs_; }
  std::int64_t bytes_per_device() const {
    std::int64_t bytes = 0;
    for (std::int64_t count : counts_) bytes += count * static_cast<std::int64_t>(dtype_size(dtype_));
    return bytes;
  }
  // The bytes the call's buffers take on all K devices, as TestBuffers::footprint_bytes.
  std::int64_t footprint_bytes() const { return bytes_per_device() * comm_.size() * (in_place_ ? 1 : 2); }

 private:
  std::byte* allocate(std::int64_t bytes) {
    if (shared_) return static_cast<std::byte*>(shared_blocks_.emplace_back(comm_.allocate_shared(bytes)));
    return private_.emplace_back(std::make_unique<std::byte[]>(static_cast<std::size_t>(bytes))).get();
  }

  ProcessCommunicator& comm_;
  std::vector<std::int64_t> counts_;
  DType dtype_;
  bool shared_;
  bool in_place_;
  std::vector<std::unique_ptr<std::byte[]>> private_;
  std::vector<void*> shared_blocks_;
  std::vector<std::vector<ConstTensorView>> inputs_;
  std::vector<std::vector<TensorView>> outputs_;
};

std::chrono::milliseconds timeout_of(const ProcessBackendOptions& options) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(options.flags.timeout_s * 1000));
}

ProcessCommunicatorOptions communicator_options(const ProcessBackendOptions& options, std::int64_t arena_bytes,
                                                const Job& job) {
  ProcessCommunicatorOptions result;
  result.algorithm = options.algorithm;
  result.algorithm_options = options.algorithm_options;
  result.bucketing = options.bucketing;
  result.stream_min_bytes = options.stream_min_bytes;
  result.reproducible = options.reproducible;
  result.local_devices = options.flags.local_devices;
  result.ranks_per_node = options.flags.ranks_per_node;
  result.network_gbps = options.flags.network_gbps;
  result.timeout = timeout_of(options);
  result.shared_arena_bytes = options.flags.shared ? arena_bytes : 0;
  result.staging_window_bytes = staging_window_bytes(options.flags);
  result.transport = job.transport;
  return result;
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

// This rank's timed calls on its steady clock, each started together with every rank's (a
// barrier, after `prepare`, which stays outside the clock).
template <typename Prepare, typename Call>
std::vector<CallSpan> timed(Bootstrap& bootstrap, std::chrono::milliseconds timeout, int warmup, int iterations,
                            Prepare&& prepare, Call&& call) {
  std::vector<CallSpan> spans;
  for (int i = 0; i < warmup + iterations; ++i) {
    prepare(i);
    bootstrap.barrier(timeout);
    const std::int64_t start = now_ns();
    call();
    const std::int64_t end = now_ns();
    if (i >= warmup) spans.push_back({start, end});
  }
  return spans;
}

// The rule every row of this job is timed with: one clock when every rank is on one host
// (emulated machines included), rank_timing.h. Collective.
TimingRule job_timing_rule(Bootstrap& bootstrap, std::chrono::milliseconds timeout) {
  return timing_rule_for(bootstrap.all_gather(clock_domain(), timeout));
}

// The row's time (per call under `rule`, median over calls: rank_timing.h) and the sum of every
// rank's wrong elements.
struct Timing {
  double median_s = 0;
  std::int64_t wrong = 0;
};
Timing across_ranks(Bootstrap& bootstrap, std::chrono::milliseconds timeout, TimingRule rule,
                    std::vector<CallSpan> spans, std::int64_t wrong) {
  const auto blobs = bootstrap.all_gather(encode_rank_times({std::move(spans), wrong}), timeout);
  std::vector<RankTimes> ranks;
  Timing all;
  for (std::size_t r = 0; r < blobs.size(); ++r) {
    ranks.push_back(decode_rank_times(blobs[r], static_cast<int>(r)));
    all.wrong += ranks.back().wrong;
  }
  all.median_s = row_seconds(ranks, rule);
  return all;
}

// One size, out of place or in place, checked on every rank as the thread backend's time_calls
// checks it: every call timed; in place back to back on the same buffers (each call reduces what
// the previous one left, as nccl-tests times in-place calls); the first call checked, and then out
// of place the last, in place one more untimed call on fresh inputs.
Timing measure(ProcessCommunicator& comm, Bootstrap& bootstrap, const ProcessBackendOptions& options,
               TimingRule rule, std::int64_t count, bool in_place) {
  Buffers buffers(comm, {count}, options.dtype, options.flags.shared, in_place);
  std::int64_t wrong = 0;
  auto spans = timed(
      bootstrap, timeout_of(options), options.warmup, options.iterations,
      [&](int i) {
        if (i == 1) wrong += buffers.count_wrong(options.op);  // the first call
      },
      [&] { buffers.run(options.op); });
  // The last call (out of place), or the only one (checked after it, as no call followed it).
  if (!in_place || options.warmup + options.iterations == 1) wrong += buffers.count_wrong(options.op);
  if (in_place) {
    buffers.reset();
    buffers.run(options.op);  // collective: every rank makes it
    wrong += buffers.count_wrong(options.op);
  }
  return across_ranks(bootstrap, timeout_of(options), rule, std::move(spans), wrong);
}

#ifdef MESHREDUCE_HAVE_MPI
MPI_Datatype mpi_type(DType dtype) {
  switch (dtype) {
    case DType::f32: return MPI_FLOAT;
    case DType::f64: return MPI_DOUBLE;
    case DType::i32: return MPI_INT32_T;
    case DType::i64: return MPI_INT64_T;
    default: return MPI_DATATYPE_NULL;
  }
}

bool mpi_comparable(const ProcessBackendOptions& options, const Job& job) {
  return options.flags.compare_mpi && job.mpi() && options.flags.local_devices == 1 && options.op == ReduceOp::sum &&
         mpi_type(options.dtype) != MPI_DATATYPE_NULL;
}

// MPI_Allreduce of the same inputs into private buffers, timed and checked as ours.
Timing measure_mpi(const ProcessBackendOptions& options, Bootstrap& bootstrap, TimingRule rule, int rank, int devices,
                   std::int64_t count) {
  const std::size_t element = dtype_size(options.dtype);
  std::vector<std::byte> in(static_cast<std::size_t>(count) * element), out(in.size());
  for (std::int64_t i = 0; i < count; ++i) store_value(options.dtype, in.data(), i, TestBuffers::value(rank, 0, i));
  auto spans = timed(bootstrap, timeout_of(options), options.warmup, options.iterations, [](int) {}, [&] {
    MPI_Allreduce(in.data(), out.data(), static_cast<int>(count), mpi_type(options.dtype), MPI_SUM, MPI_COMM_WORLD);
  });
  std::int64_t wrong = 0;
  std::byte want[8] = {};
  for (std::int64_t i = 0; i < count; ++i) {
    exact_expected(options.dtype, options.op, devices, 0, i, want);
    wrong += std::memcmp(out.data() + static_cast<std::size_t>(i) * element, want, element) != 0;
  }
  return across_ranks(bootstrap, timeout_of(options), rule, std::move(spans), wrong);
}
#endif

struct Result {
  Timing timing;
  double bound = -1;  // bound time / measured time; < 0: no probe
};

nlohmann::json result_json(const Result& r, std::int64_t bytes, int devices) {
  const double t = r.timing.median_s;
  nlohmann::json out{{"time_us", t * 1e6}, {"algbw", algbw_gbps(bytes, t)}, {"busbw", busbw_gbps(bytes, t, devices)},
                     {"wrong", r.timing.wrong}};
  out["bound"] = r.bound < 0 ? nlohmann::json() : nlohmann::json(r.bound);
  return out;
}

void print_result(const Result& r, std::int64_t bytes, int devices) {
  const double t = r.timing.median_s;
  char bound[16] = "-";
  if (r.bound >= 0) std::snprintf(bound, sizeof bound, "%.2f", r.bound);
  std::printf(" %9.1f %7.2f %7.2f %6lld %5s", t * 1e6, algbw_gbps(bytes, t), busbw_gbps(bytes, t, devices),
              static_cast<long long>(r.timing.wrong), bound);
}

std::string job_description(const ProcessCommunicator& comm) {
  return std::to_string(comm.processes()) + " processes x " + std::to_string(comm.options().local_devices) +
         " device(s) on " + std::to_string(comm.machines()) + " machine(s) (groups " +
         (comm.groups().empty() ? std::string("the algorithm's own") : describe_groups(comm.groups())) + ")";
}

// The bytes of a row of about `bytes`: whole elements, at least one.
std::int64_t size_of(std::int64_t bytes, DType dtype) {
  const auto element = static_cast<std::int64_t>(dtype_size(dtype));
  return std::max<std::int64_t>(bytes / element, 1) * element;
}

// The algorithms a plan runs, in bucket order, each named once ("direct", "ring+direct").
std::string algorithms_of(const Plan& plan) {
  std::vector<std::string> names;
  for (const BucketChoice& choice : plan.choices)
    if (std::find(names.begin(), names.end(), choice.algorithm) == names.end()) names.push_back(choice.algorithm);
  std::string text;
  for (const std::string& name : names) text += (text.empty() ? "" : "+") + name;
  return text.empty() ? "-" : text;
}

std::int64_t total_wrong_of(const nlohmann::json& rows) {
  std::int64_t wrong = 0;
  for (const auto& row : rows) wrong += row["wrong"].get<std::int64_t>() + row["in_place"]["wrong"].get<std::int64_t>();
  return wrong;
}

}  // namespace

int process_bench(const ProcessBackendOptions& options, const std::vector<std::int64_t>& bytes_per_process) {
  Job job;
  Bootstrap& bootstrap = *job.bootstrap;
  const std::int64_t largest = bytes_per_process.empty() ? 0 : *std::max_element(bytes_per_process.begin(), bytes_per_process.end());
  // Out of place: an input and an output per local device, 64-byte aligned, at once.
  const std::int64_t arena = 2 * (largest + 64) * options.flags.local_devices + (1 << 20);
  ProcessCommunicator comm(job.bootstrap, communicator_options(options, arena, job));
  const int rank = comm.rank();
  const int devices = comm.size();
  bool mpi = false;
#ifdef MESHREDUCE_HAVE_MPI
  mpi = mpi_comparable(options, job);
#endif
  const auto domains = bootstrap.all_gather(clock_domain(), timeout_of(options));
  const TimingRule rule = timing_rule_for(domains);
  auto cpus = bootstrap.all_gather(allowed_cpus(), timeout_of(options));

  // B, measured by rank 0 in the same run while the others wait, on every CPU that the ranks of
  // its host run on (probe_cpus.h), for every size of the sweep before the first is timed, and
  // again before each later row (BoundProbes::reprobe: B only rises).
  std::unique_ptr<BoundProbes> probes;
  std::string probe_cpus;  // where the probe ran, for the header
  cpu_set_t job_cpus{};
  const auto on_job_cpus = [&](auto&& probe) {
    std::optional<RunOnCpus> pinned;
    try {
      pinned.emplace(job_cpus);
      probe_cpus = "the " + std::to_string(cpu_count(job_cpus)) + " CPUs of the ranks on this host";
    } catch (const Error& error) {  // a bound from rank 0's CPUs alone may be too low: say so
      probe_cpus = "rank 0's CPUs " + cpus[0] + " only (" + error.what() + ")";
    }
    probe();
  };
  if (options.probe_bytes > 0 && rank == 0) {
    for (std::size_t r = 0; r < cpus.size(); ++r)
      if (domains[r] != domains[0]) cpus[r].clear();  // another host's CPUs
    job_cpus = union_of_cpus(cpus);
    on_job_cpus([&] {
      probes = std::make_unique<BoundProbes>(
          measure_stream_probe(devices, options.probe_bytes, options.probe_threads, options.probe_rounds, kMinProbeRoundBytes,
                               last_level_cache_bytes()), devices,
          options.probe_threads);
      for (const std::int64_t bytes : bytes_per_process)
        for (const bool in_place : {false, true}) probes->bound_seconds(size_of(bytes, options.dtype), in_place);
    });
  }
  bootstrap.barrier(timeout_of(options));
  const std::string type(dtype_name(options.dtype)), redop(reduce_op_name(options.op));
  if (rank == 0 && !options.json) {
    std::printf("# meshreduce bench --backend processes: %s, %s, %s %s, %s buffers, %d calls after %d warm-up, "
                "each started by a barrier; every rank checks every element of its outputs\n# time: %s\n",
                options.algorithm.c_str(), job_description(comm).c_str(), type.c_str(), redop.c_str(),
                options.flags.shared ? "shared-arena" : "private (copied in and out)", options.iterations, options.warmup,
                describe_timing_rule(rule).c_str());
    std::printf("# algorithm: the plan's (the planner's pick for auto), one plan per size for out of place and in place\n");
    std::printf("# %s\n", kInPlaceTiming);
    if (probes) {
      const ProbeKernel* out_of_place = best_kernel_for(probes->main(), false);
      const ProbeKernel* in_place = best_kernel_for(probes->main(), true);
      std::printf("# bound: an allreduce of S bytes per device over K = %d moves >= 2 K S bytes, so t >= 2 K S / B with"
                  " B = %.2f GB/s (%s) out of place, %.2f GB/s (%s) in place, %d threads on %s, over %s,"
                  " probed again before each later row (a row uses the best B so far);\n#"
                  " \"bound\" = that time / measured time (<= 1)%s\n",
                  devices, out_of_place->best_gbps, out_of_place->name.c_str(), in_place->best_gbps,
                  in_place->name.c_str(), probes->main().threads, probe_cpus.c_str(),
                  human_bytes(static_cast<double>(probes->main().bytes)).c_str(),
                  options.flags.shared ? "" : "; private buffers also copy the ranges peers touch in and out"
                                                    " (direct, out of place: 1/2 + 1/K + 2 (K-1)/K times the bytes)");
    }
    std::printf("#%75s%41s%s\n", "out-of-place", "in-place", mpi ? "    MPI_Allreduce" : "");
    std::printf("# %10s %12s %6s %6s %5s %9s %7s %7s %6s %5s %9s %7s %7s %6s %5s%s  %s\n", "size", "count", "type", "redop",
                "root", "time", "algbw", "busbw", "#wrong", "bound", "time", "algbw", "busbw", "#wrong", "bound",
                mpi ? " mpi-busbw mpi-#wrong" : "", "algorithm");
    std::fflush(stdout);
  }
  nlohmann::json rows = nlohmann::json::array();
  for (std::size_t row_index = 0; row_index < bytes_per_process.size(); ++row_index) {
    const std::int64_t bytes = bytes_per_process[row_index];
    const std::int64_t size = size_of(bytes, options.dtype);
    const std::int64_t count = size / static_cast<std::int64_t>(dtype_size(options.dtype));
    if (options.probe_bytes > 0 && row_index > 0) {  // the others wait, idle, while rank 0 probes
      if (probes) on_job_cpus([&] { probes->reprobe(size); });
      bootstrap.barrier(timeout_of(options));
    }
    Result out_of_place{measure(comm, bootstrap, options, rule, count, false)};
    Result in_place{measure(comm, bootstrap, options, rule, count, true)};
    const std::string pick = algorithms_of(comm.plan(std::vector<TensorSpec>{{count, options.dtype}}, options.op));
    Timing by_mpi;
#ifdef MESHREDUCE_HAVE_MPI
    if (mpi) by_mpi = measure_mpi(options, bootstrap, rule, rank, devices, count);
#endif
    if (rank != 0) continue;
    if (probes) {
      for (Result* r : {&out_of_place, &in_place})
        if (r->timing.median_s > 0)
          r->bound = probes->bound_seconds(size, r == &in_place) / r->timing.median_s;
    }
    nlohmann::json row = result_json(out_of_place, size, devices);
    if (probes) row["bound_gbps"] = probes->best_gbps(size, false);
    row["bytes"] = size;
    row["elements"] = count;
    row["algorithm"] = pick;
    row["in_place"] = result_json(in_place, size, devices);
    if (probes) row["in_place"]["bound_gbps"] = probes->best_gbps(size, true);
    if (mpi) row["mpi_allreduce"] = result_json(Result{by_mpi}, size, devices);
    rows.push_back(row);
    if (options.json) continue;
    std::printf("  %10lld %12lld %6s %6s %5d", static_cast<long long>(size), static_cast<long long>(count), type.c_str(),
                redop.c_str(), -1);
    print_result(out_of_place, size, devices);
    print_result(in_place, size, devices);
    if (mpi)
      std::printf(" %9.2f %10lld", busbw_gbps(size, by_mpi.median_s, devices), static_cast<long long>(by_mpi.wrong));
    std::printf("  %s\n", pick.c_str());
    std::fflush(stdout);
  }
  // Every rank's count of wrong elements is in rank 0's rows; the others learn the verdict.
  const std::string verdict = bootstrap.all_gather(rank == 0 ? std::to_string(total_wrong_of(rows)) : "", timeout_of(options))[0];
  const std::int64_t wrong = std::stoll(verdict);
  if (rank == 0) {
    if (options.json) {
      nlohmann::json out{{"implementation", "meshreduce"}, {"backend", "processes"}, {"algorithm", options.algorithm},
                         {"processes", comm.processes()}, {"machines", comm.machines()}, {"devices", devices},
                         {"shared", options.flags.shared}, {"timing", timing_rule_name(rule)},
                         {"dtype", type}, {"op", redop}, {"warmup", options.warmup},
                         {"iterations", options.iterations}, {"in_place_timing", kInPlaceTimingJson}, {"results", rows}};
      if (probes)
        out["probe"] = {{"threads", probes->main().threads}, {"bytes", probes->main().bytes}, {"cpus", probe_cpus},
                        {"best_gbps", probes->main().best_gbps}, {"best_kernel", probes->main().best_kernel}};
      std::printf("%s\n", out.dump(1).c_str());
    } else {
      std::printf("# Out of bounds values : %lld %s\n", static_cast<long long>(wrong), wrong == 0 ? "OK" : "FAILED");
    }
  }
  return wrong == 0 ? 0 : 1;
}

int process_run(const ProcessBackendOptions& options, const std::string& workload_name,
                const std::vector<std::int64_t>& tensor_elements) {
  Job job;
  Bootstrap& bootstrap = *job.bootstrap;
  std::int64_t bytes = 0;
  for (std::int64_t count : tensor_elements) bytes += count * static_cast<std::int64_t>(dtype_size(options.dtype)) + 64;
  const std::int64_t arena = (options.in_place ? 1 : 2) * bytes * options.flags.local_devices + (1 << 20);
  ProcessCommunicator comm(job.bootstrap, communicator_options(options, arena, job));
  std::vector<TensorSpec> layout;
  for (std::int64_t count : tensor_elements) layout.push_back({count, options.dtype});
  const Plan& plan = comm.plan(layout, options.op);  // collective: the layout exchange
  Buffers buffers(comm, tensor_elements, options.dtype, options.flags.shared, options.in_place);
  const TimingRule rule = job_timing_rule(bootstrap, timeout_of(options));
  std::int64_t wrong = 0;
  auto spans = timed(
      bootstrap, timeout_of(options), options.warmup, options.iterations,
      [&](int i) {
        if (i == 1) wrong += buffers.count_wrong(options.op);
        if (options.in_place && i > 0) buffers.reset();
      },
      [&] { buffers.run(options.op); });
  wrong += buffers.count_wrong(options.op);
  const Timing timing = across_ranks(bootstrap, timeout_of(options), rule, std::move(spans), wrong);
  if (comm.rank() == 0) {
    const double t = timing.median_s;
    const std::int64_t per_device = buffers.bytes_per_device();
    std::printf("meshreduce run --backend processes: %s, %s, %s: %zu tensors, %.2f MiB per device\n",
                options.algorithm.c_str(), job_description(comm).c_str(), workload_name.c_str(), tensor_elements.size(),
                static_cast<double>(per_device) / (1 << 20));
    std::printf("  %s %s, %s, %s buffers, %zu buckets (%s), %zu steps, %d iterations after %d warm-up\n",
                std::string(dtype_name(options.dtype)).c_str(), std::string(reduce_op_name(options.op)).c_str(),
                options.in_place ? "in place" : "out of place", options.flags.shared ? "shared-arena" : "private",
                plan.buckets.size(), algorithms_of(plan).c_str(), plan.schedule.steps.size(), options.iterations,
                options.warmup);
    std::printf("  time %.3f ms, algbw %.2f GB/s, busbw %.2f GB/s; time %s\n", t * 1e3, algbw_gbps(per_device, t),
                busbw_gbps(per_device, t, comm.size()), describe_timing_rule(rule).c_str());
    const std::string detail = "small-integer inputs, whose " + std::string(reduce_op_name(options.op)) +
                               " is exact in any order; every element of all " + std::to_string(comm.size()) +
                               " devices, each rank checking its own; first and last call";
    if (timing.wrong == 0) std::printf("  exact reference: ok (%s)\n", detail.c_str());
    else std::printf("  exact reference: FAILED, %lld elements differ (%s)\n", static_cast<long long>(timing.wrong), detail.c_str());
  }
  return timing.wrong == 0 ? 0 : 1;
}

}  // namespace meshreduce::cli
