// meshreduce bench: a size sweep printed as nccl-tests prints one (each row as soon as it is
// measured; out of place and in place side by side), with this machine's streaming bound
// measured in the same run (stream_probe.h): per row, the fraction of the bound reached.
#include <unistd.h>

#include <cstdio>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>

#include "arg_checks.h"
#include "cli_common.h"
#include "commands.h"
#include "meshreduce/error.h"
#include "process_backend.h"
#include "stream_probe.h"

namespace meshreduce::cli {
namespace {

struct BenchOptions {
  JobOptions job;
  std::string algorithm = "auto";
  std::string calibration;  // a calibrated topology file whose thread costs "auto" plans with
  std::string min_bytes = "4K";
  std::string max_bytes = "64M";
  std::int64_t factor = 2;
  std::int64_t warmup = 3;
  std::int64_t iterations = 10;
  bool json = false;
  bool no_probe = false;
  std::string probe_bytes = "512M";
  std::int64_t probe_rounds = kProbeRounds;
  BackendFlags backend;
};

// The validated numbers a sweep runs with.
struct Sweep {
  int devices = 0;
  DType dtype = DType::f32;
  ReduceOp op = ReduceOp::sum;
  std::int64_t min_bytes = 0;
  std::int64_t max_bytes = 0;
  std::int64_t probe_bytes = 0;
};

// Every flag checked before anything is measured or allocated; `buffers` of each size on each of
// `devices` devices must fit in memory.
Sweep validate(const BenchOptions& bench, int devices, int buffers) {
  Sweep sweep;
  check_range("--factor", bench.factor, 2, kMaxFactor);
  check_range("--warmup", bench.warmup, 0, kMaxCalls);
  check_range("--iterations", bench.iterations, 1, kMaxCalls);
  check_range("--threads", bench.job.threads, 0, kMaxThreads);
  check_range("--chunk-elements", bench.job.chunk_elements, 0, std::numeric_limits<std::int64_t>::max());
  sweep.devices = devices;
  sweep.dtype = parse_dtype(bench.job.dtype);
  sweep.op = parse_reduce_op(bench.job.op);
  const auto element = static_cast<std::int64_t>(dtype_size(sweep.dtype));
  sweep.min_bytes = std::max(parse_size(bench.min_bytes, "--min-bytes"), element);
  sweep.max_bytes = parse_size(bench.max_bytes, "--max-bytes");
  check_fits_in_memory("--max-bytes", bench.max_bytes, sweep.max_bytes, buffers, sweep.devices);
  if (sweep.max_bytes < sweep.min_bytes)
    throw InvalidArgument("--max-bytes " + bench.max_bytes + ": below --min-bytes " + bench.min_bytes + " (" +
                          std::to_string(sweep.min_bytes) + " bytes): the table would be empty");
  if (!bench.no_probe) sweep.probe_bytes = check_probe_flags(bench.probe_bytes, bench.probe_rounds);
  return sweep;
}

// Blocks a row's timed calls are split into where a probe over their own buffers runs between them.
constexpr std::int64_t kCallBlocks = 3;

struct Result {
  double time_us = 0;
  double algbw = 0;
  double busbw = 0;
  std::int64_t wrong = 0;
  double bound = -1;  // bound time / measured time; < 0: no probe
  double probe_gbps = 0;  // the B of the bound (the main probe's, or one over this footprint)
  int warmup_calls = 0;   // --warmup, and the calls made while they still got faster (warm_up.h)
  int own_probes = 0;     // probes over the call's own buffers whose rates B draws on (0: none)
  double own_gbps = 0;    // their B alone (probe_gbps is it, or the main probe's B if that counts and is higher)
};

struct Row {
  std::int64_t bytes = 0;
  std::int64_t elements = 0;
  Result out_of_place;
  Result in_place;
  std::string pick;  // the algorithm the plan runs (the planner's, for "auto")
};

Result measure(Communicator& communicator, const BenchOptions& bench, const Sweep& sweep, BoundProbes* probes,
               std::int64_t elements, bool in_place) {
  const std::vector<TensorSpec> layout{{elements, sweep.dtype}};
  TestBuffers buffers(communicator.size(), layout, in_place);
  buffers.set_reproducible(communicator.options().reproducible);
  // The call's own buffers, for a probe over them where they outgrow the cores' own caches.
  ProbeMemory call;
  call.bytes_per_buffer = static_cast<std::size_t>(buffers.bytes_per_device());
  for (int k = 0; k < communicator.size(); ++k) {
    const auto device = static_cast<std::size_t>(k);
    auto* output = static_cast<std::byte*>(buffers.outputs()[device][0].data);
    if (in_place) {
      call.inputs.push_back(output);  // the call's inputs; the probe's in-place kernels write them
      continue;
    }
    call.inputs.push_back(static_cast<std::byte*>(const_cast<void*>(buffers.inputs()[device][0].data)));
    call.outputs.push_back(output);
  }
  const std::int64_t bytes = buffers.bytes_per_device();
  // The row's probe runs on both sides of its calls (BoundProbes::probe_again). Over the call's own
  // buffers it runs between blocks of the timed calls as well, so that probe and calls sample the
  // same seconds of a shared host, whose memory and last-level cache change rate from one second to
  // the next (docs/benchmarking.md, "The bound"); each probe runs every round (--probe-rounds): with
  // half as many, a row's median call beat the best of 52 rounds over its own buffers by up to 1.4%.
  const bool interleaved = probes != nullptr && probes->over_own_buffers(bytes, &call);
  const int blocks = interleaved ? static_cast<int>(std::min<std::int64_t>(kCallBlocks, bench.iterations)) : 1;
  int own_probes = 0;
  const auto probe = [&] {
    if (probes->probe_again(bytes, in_place, &call)) ++own_probes;
  };
  if (probes != nullptr) {
    probe();
    if (own_probes > 0) buffers.reset_inputs();
  }
  CallBlocks call_blocks;
  if (interleaved) call_blocks = {blocks, probe};
  const CallTiming timing = time_calls(communicator, buffers, sweep.op, in_place, static_cast<int>(bench.warmup),
                                       static_cast<int>(bench.iterations), call_blocks);
  const double t = timing.median_s;
  Result result{t * 1e6, algbw_gbps(bytes, t), busbw_gbps(bytes, t, communicator.size()), timing.wrong, -1, 0,
                timing.warmup_calls};
  if (probes != nullptr && t > 0) {
    probe();
    result.own_probes = own_probes;
    result.probe_gbps = probes->best_gbps(bytes, in_place, &call);
    result.own_gbps = probes->own_buffers_gbps(bytes, in_place);
    result.bound = probes->bound_seconds(bytes, in_place, &call) / t;
  }
  return result;
}

std::string bound_text(double bound) {
  if (bound < 0) return "-";
  char text[16];
  std::snprintf(text, sizeof text, "%.2f", bound);
  return text;
}

void print_header(const BenchOptions& bench, const Sweep& sweep, int devices, const BoundProbes* probes) {
  const StreamProbe* probe = probes != nullptr ? &probes->main() : nullptr;
  const std::string warmup = bench.warmup == 0 ? "no warm-up"
                             : "a warm-up of at least " + std::to_string(bench.warmup) +
                                   " calls, more while they still got faster (up to 1 s; JSON: warmup_calls)";
  std::printf("# meshreduce bench: %s%s, %d devices (%s), %s %s, median of %lld calls after %s\n",
              bench.algorithm.c_str(), bench.job.reproducible ? " reproducible" : "", devices, bench.job.topology.c_str(),
              std::string(dtype_name(sweep.dtype)).c_str(), std::string(reduce_op_name(sweep.op)).c_str(),
              static_cast<long long>(bench.iterations), warmup.c_str());
  std::printf("# %s\n", kInPlaceTiming);
  if (probe != nullptr) {
    std::printf("# streaming probe: %d threads over %s, best (median) of %d rounds of %s", probe->threads,
                human_bytes(static_cast<double>(probe->bytes)).c_str(), probe->rounds,
                human_bytes(static_cast<double>(probe->round_bytes)).c_str());
    if (probe->cache_bytes > 0)  // StreamProbe::round_bytes_for
      std::printf(" or %lld times what the %s of last-level cache holds of a kernel's buffers, if more",
                  static_cast<long long>(kRoundsPerCache), human_bytes(static_cast<double>(probe->cache_bytes)).c_str());
    std::printf(", GB/s of bytes read + written:\n#  ");
    for (const ProbeKernel& kernel : probe->kernels)
      std::printf(" %s %.1f (%.1f);", kernel.name.c_str(), kernel.best_gbps, kernel.median_gbps);
    const ProbeKernel* out_of_place = best_kernel_for(*probe, false);
    const ProbeKernel* in_place = best_kernel_for(*probe, true);
    std::printf("\n# bound: an allreduce of S bytes per device over K moves >= 2 K S bytes, so t >= 2 K S / B with"
                " B = %.2f GB/s (%s) out of place, %.2f GB/s (%s) in place;\n# calls whose buffers the cores' own"
                " caches (%s) hold use B over buffers of their size if higher, larger calls B over their own buffers,"
                " probed before, between blocks of and after their calls (the main probe's instead if higher and"
                " over at least as many bytes);\n"
                "# \"bound\" = that time / measured time (<= 1; the JSON's probe_gbps is each row's B)\n",
                out_of_place->best_gbps, out_of_place->name.c_str(), in_place->best_gbps, in_place->name.c_str(),
                probes->own_buffers_above() > 0 ? human_bytes(static_cast<double>(probes->own_buffers_above())).c_str()
                                                : "size unknown");
  }
  std::printf("#%75s%41s\n", "out-of-place", "in-place");
  std::printf("# %10s %12s %6s %6s %5s %9s %7s %7s %6s %5s %9s %7s %7s %6s %5s%s\n", "size", "count", "type", "redop",
              "root", "time", "algbw", "busbw", "#wrong", "bound", "time", "algbw", "busbw", "#wrong", "bound",
              bench.algorithm == "auto" ? "  algorithm" : "");
  std::printf("# %10s %12s %6s %6s %5s %9s %7s %7s %6s %5s %9s %7s %7s %6s %5s\n", "(B)", "(elements)", "", "", "",
              "(us)", "(GB/s)", "(GB/s)", "", "", "(us)", "(GB/s)", "(GB/s)", "", "");
  std::fflush(stdout);
}

void print_row(const Row& row, const Sweep& sweep, bool show_pick) {
  std::printf("  %10lld %12lld %6s %6s %5d", static_cast<long long>(row.bytes), static_cast<long long>(row.elements),
              std::string(dtype_name(sweep.dtype)).c_str(), std::string(reduce_op_name(sweep.op)).c_str(), -1);
  for (const Result* r : {&row.out_of_place, &row.in_place})
    std::printf(" %9.1f %7.2f %7.2f %6lld %5s", r->time_us, r->algbw, r->busbw, static_cast<long long>(r->wrong),
                bound_text(r->bound).c_str());
  if (show_pick) std::printf("  %s", row.pick.c_str());
  std::printf("\n");
  std::fflush(stdout);
}

nlohmann::json result_json(const Result& r) {
  nlohmann::json out{{"time_us", r.time_us}, {"algbw", r.algbw}, {"busbw", r.busbw}, {"wrong", r.wrong},
                     {"warmup_calls", r.warmup_calls}};
  out["bound"] = r.bound < 0 ? nlohmann::json() : nlohmann::json(r.bound);
  if (r.probe_gbps > 0) out["probe_gbps"] = r.probe_gbps;
  if (r.own_probes > 0) {
    out["own_buffer_probes"] = r.own_probes;
    out["own_buffer_gbps"] = r.own_gbps;
  }
  return out;
}

// --backend processes: the same sweep on the process executor (process_backend.h). Each process
// holds its devices' inputs and outputs and their staging in its segment: 4 buffers per device.
int bench_processes(const BenchOptions& bench) {
  check_algorithm(bench.algorithm, false);
  ProcessBackendOptions options =
      process_backend_options(bench.backend, bench.algorithm, communicator_options(bench.job, bench.algorithm));
  const Sweep sweep = validate(bench, devices_on_this_machine(bench.backend), 4);
  options.dtype = sweep.dtype;
  options.op = sweep.op;
  options.warmup = static_cast<int>(bench.warmup);
  options.iterations = static_cast<int>(bench.iterations);
  options.json = bench.json;
  options.probe_bytes = sweep.probe_bytes;
  options.probe_rounds = static_cast<int>(bench.probe_rounds);
  options.probe_threads = bench.job.threads;
  std::vector<std::int64_t> sizes;
  for (std::int64_t bytes = sweep.min_bytes; bytes <= sweep.max_bytes; bytes *= bench.factor) {
    sizes.push_back(bytes);
    if (bytes > sweep.max_bytes / bench.factor) break;  // the next would pass the end (or overflow)
  }
  return process_bench(options, sizes);
}

void run_bench(const BenchOptions& bench) {
  CommunicatorOptions options = communicator_options(bench.job, bench.algorithm);
  // Out of place: K inputs and K outputs live at once.
  const Sweep sweep = validate(bench, static_cast<int>(options.devices.size()), 2);
  // The calls run on this machine's threads: "auto" plans with the thread executor's costs.
  if (!bench.calibration.empty()) {
    const Topology calibrated = load_topology(bench.calibration);
    if (!calibrated.thread_costs)
      throw InvalidArgument("--calibration " + bench.calibration + ": no thread_costs (write it with meshreduce calibrate)");
    options.thread_costs = calibrated.thread_costs;
  } else {
    options.thread_costs = default_thread_costs(bench.job.threads);
  }
  Communicator communicator(std::move(options));
  const bool progress = isatty(STDERR_FILENO) != 0 && bench.json;

  std::unique_ptr<BoundProbes> probes;
  if (!bench.no_probe)
    probes = std::make_unique<BoundProbes>(
        measure_stream_probe(communicator.size(), sweep.probe_bytes, bench.job.threads, static_cast<int>(bench.probe_rounds),
                             kMinProbeRoundBytes, last_level_cache_bytes()),
        communicator.size(),
        bench.job.threads);
  if (!bench.json) print_header(bench, sweep, communicator.size(), probes.get());

  const auto element = static_cast<std::int64_t>(dtype_size(sweep.dtype));
  std::vector<Row> rows;
  for (std::int64_t bytes = sweep.min_bytes; bytes <= sweep.max_bytes;) {
    if (progress) std::fprintf(stderr, "\rmeshreduce bench: %lld bytes ...", static_cast<long long>(bytes));
    Row row;
    row.elements = bytes / element;
    row.bytes = row.elements * element;
    row.out_of_place = measure(communicator, bench, sweep, probes.get(), row.elements, false);
    row.in_place = measure(communicator, bench, sweep, probes.get(), row.elements, true);
    const Plan& plan = communicator.plan(std::vector<TensorSpec>{{row.elements, sweep.dtype}}, sweep.op);
    row.pick = plan.choices.empty() ? bench.algorithm : plan.choices.front().algorithm;
    if (!bench.json) print_row(row, sweep, bench.algorithm == "auto");
    rows.push_back(std::move(row));
    if (bytes > sweep.max_bytes / bench.factor) break;  // the next row would pass the end (or overflow)
    bytes *= bench.factor;
  }
  if (progress) std::fprintf(stderr, "\r%60s\r", "");

  std::int64_t wrong = 0;
  double busbw_sum = 0;
  for (const Row& row : rows) {
    wrong += row.out_of_place.wrong + row.in_place.wrong;
    busbw_sum += row.out_of_place.busbw + row.in_place.busbw;
  }
  const double average_busbw = rows.empty() ? 0 : busbw_sum / (2.0 * static_cast<double>(rows.size()));
  if (bench.json) {
    nlohmann::json out{{"implementation", "meshreduce"}, {"algorithm", bench.algorithm},
                       {"devices", communicator.size()}, {"dtype", dtype_name(sweep.dtype)},
                       {"op", reduce_op_name(sweep.op)}, {"warmup", bench.warmup}, {"iterations", bench.iterations},
                       {"avg_busbw", average_busbw}, {"reproducible", bench.job.reproducible},
                       {"in_place_timing", kInPlaceTimingJson},
                       {"results", nlohmann::json::array()}};
    if (probes) {
      const StreamProbe* probe = &probes->main();
      nlohmann::json kernels = nlohmann::json::array();
      for (const ProbeKernel& kernel : probe->kernels)
        kernels.push_back({{"name", kernel.name}, {"best_gbps", kernel.best_gbps}, {"median_gbps", kernel.median_gbps},
                           {"in_place", kernel.in_place}, {"buffers_touched", kernel.buffers_touched},
                           {"round_bytes", kernel.round_bytes}});
      out["probe"] = {{"threads", probe->threads}, {"bytes", probe->bytes}, {"rounds", probe->rounds}, {"round_bytes", probe->round_bytes},
                      {"cache_bytes", probe->cache_bytes}, {"own_buffers_above_bytes", probes->own_buffers_above()},
                      {"best_gbps", probe->best_gbps}, {"best_kernel", probe->best_kernel}, {"kernels", kernels}};
    }
    for (const Row& row : rows) {
      nlohmann::json entry = result_json(row.out_of_place);
      entry["bytes"] = row.bytes;
      entry["elements"] = row.elements;
      entry["algorithm"] = row.pick;
      entry["in_place"] = result_json(row.in_place);
      out["results"].push_back(std::move(entry));
    }
    std::printf("%s\n", out.dump(1).c_str());
  } else {
    std::printf("# Out of bounds values : %lld %s\n", static_cast<long long>(wrong), wrong == 0 ? "OK" : "FAILED");
    std::printf("# Avg bus bandwidth    : %g\n", average_busbw);
  }
  if (wrong != 0) throw Error("bench: " + std::to_string(wrong) + " elements differ from the reference");
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto options = std::make_shared<BenchOptions>();
  CLI::App* command = app.add_subcommand(
      "bench", "sweep sizes like nccl-tests (out of place and in place), with the streaming bound of this machine");
  // bench's own defaults, set before the flags are registered so that --help shows them.
  options->job.topology = "flat:8";
  options->job.op = "sum";
  add_job_flags(*command, options->job);
  add_reproducible_flag(*command, options->job);
  command->add_option("--algorithm,-a", options->algorithm, "algorithm name, or auto (the planner's pick per size)")
      ->capture_default_str();
  command->add_option("--calibration", options->calibration,
                      "topology file from `meshreduce calibrate` whose thread costs auto plans with (default: named defaults)");
  command->add_option("--min-bytes,-b", options->min_bytes, "smallest size per device (K, M, G suffixes)")->capture_default_str();
  command->add_option("--max-bytes,-e", options->max_bytes, "largest size per device")->capture_default_str();
  command->add_option("--factor,-f", options->factor, "size multiplier between rows")->capture_default_str();
  command->add_option("--warmup", options->warmup,
                      "untimed calls per size, at least; then more while the calls still get faster (up to 1 s; 0: none)")
      ->capture_default_str();
  command->add_option("--iterations,-n", options->iterations, "timed calls per size")->capture_default_str();
  command->add_flag("--json", options->json, "print JSON instead of the table");
  command->add_flag("--no-probe", options->no_probe, "skip the streaming probe (no bound column)");
  command->add_option("--probe-bytes", options->probe_bytes, "memory the streaming probe runs over, in all")
      ->capture_default_str();
  command->add_option("--probe-rounds", options->probe_rounds,
                      "timed rounds per probe kernel, of the first probe and of each row's (fewer: quicker, a bound less sure)")
      ->capture_default_str();
  add_backend_flags(*command, options->backend, true);
  command->callback([options, command] {
    if (!check_backend(*command, options->backend)) return run_bench(*options);
    if (const int status = bench_processes(*options); status != 0) throw Error("bench: elements differ from the reference");
  });
}

}  // namespace meshreduce::cli
