// meshreduce calibrate: measure this machine once (memory bandwidth, and the thread executor's
// costs: thread_model.h), store it as the `local` topology's file, then run every algorithm on
// the thread executor and print its predicted and measured times side by side.
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "arg_checks.h"
#include "cli_common.h"
#include "commands.h"
#include "meshreduce/error.h"
#include "meshreduce/limits.h"
#include "meshreduce/thread_model.h"
#include "stream_probe.h"

namespace meshreduce::cli {
namespace {

// Predicted and measured agree when the measurement is within this fraction of the prediction
// (issue 4's bar for the thread executor at 16 MiB and above).
constexpr double kAgreement = 0.25;

struct CalibrateOptions {
  std::string output = "local.json";
  std::string from;
  std::int64_t devices = 8;
  std::vector<std::string> sizes{"1M", "16M", "256M"};
  std::string algorithm = "all";
  std::int64_t threads = 0;
  std::int64_t warmup = 1;
  std::int64_t iterations = 5;
  std::string probe_bytes = "512M";
  std::int64_t probe_rounds = kProbeRounds;
};

// The largest K calibrate compares: that of any topology, since the comparison runs on flat:K
// (a larger K used to pass this check, measure for seconds, write the output, then fail).
constexpr std::int64_t kMaxCalibrateDevices = limits::kMaxDevices;

// Every flag checked before anything is measured or written (a bad flag must not cost the user
// a good local.json). Returns the sizes in bytes.
std::vector<std::int64_t> validate(const CalibrateOptions& options) {
  check_range("--devices", options.devices, 1, kMaxCalibrateDevices);
  check_range("--threads", options.threads, 0, kMaxThreads);
  check_range("--warmup", options.warmup, 0, kMaxCalls);
  check_range("--iterations", options.iterations, 1, kMaxCalls);
  if (options.sizes.empty()) throw InvalidArgument("--sizes: no size given");
  std::vector<std::int64_t> sizes;
  for (const std::string& text : options.sizes) {
    const std::int64_t bytes = parse_size(text, "--sizes");
    if (bytes < 4) throw InvalidArgument("--sizes " + text + ": below the least, 4 bytes (one f32)");
    check_fits_in_memory("--sizes", text, bytes, 2, static_cast<int>(options.devices));
    sizes.push_back(bytes);
  }
  if (options.from.empty()) {
    check_probe_flags(options.probe_bytes, options.probe_rounds);
    if (options.output.empty()) throw InvalidArgument("--output: empty file name");
  } else {
    const Topology stored = load_topology(options.from);
    if (!stored.thread_costs)
      throw InvalidArgument("--from " + options.from + ": the file has no thread_costs; run `meshreduce calibrate --output " +
                            options.from + "` first");
  }
  if (options.algorithm == "all" || options.algorithm == "auto") return sizes;
  for (const Algorithm& algorithm : algorithms())
    if (algorithm.name == options.algorithm) return sizes;
  std::string known;
  for (const Algorithm& algorithm : algorithms()) known += " " + std::string(algorithm.name);
  throw InvalidArgument("--algorithm " + options.algorithm + ": not an algorithm (known:" + known + ", auto, all)");
}

ThreadCosts obtain_costs(const CalibrateOptions& options) {
  if (!options.from.empty()) {
    const Topology stored = load_topology(options.from);
    if (!stored.thread_costs)
      throw InvalidArgument("--from " + options.from + ": the file has no thread_costs; run `meshreduce calibrate --output " +
                            options.from + "` first");
    std::printf("# thread costs from %s\n", options.from.c_str());
    return *stored.thread_costs;
  }
  std::fprintf(stderr, "meshreduce calibrate: measuring memory bandwidth and the thread executor (a few seconds)\n");
  const int threads = static_cast<int>(options.threads);
  // The all-threads memory figure is the streaming probe's, the one bench's bound uses: the best
  // of its copy kernels, as bytes copied per second (half its traffic).
  const StreamProbe probe = measure_stream_probe(static_cast<int>(options.devices),
                                                 parse_size(options.probe_bytes, "--probe-bytes"), threads,
                                                 static_cast<int>(options.probe_rounds),
                                                 kMinProbeRoundBytes, last_level_cache_bytes());
  MemoryBandwidth bandwidth = measure_memory_bandwidth(std::int64_t{64} << 20, 5, threads);
  double copy_traffic = 0;
  for (const ProbeKernel& kernel : probe.kernels)
    if (kernel.name.starts_with("copy")) copy_traffic = std::max(copy_traffic, kernel.best_gbps);
  bandwidth.copy_all_threads_gbps = copy_traffic / 2;
  bandwidth.threads = probe.threads;
  std::printf("# streaming probe: B = %.2f GB/s of bytes read + written (%s, %d threads); copy %.2f GB/s of bytes copied\n",
              probe.best_gbps, probe.best_kernel.c_str(), probe.threads, bandwidth.copy_all_threads_gbps);
  Topology local = local_topology(bandwidth);
  local.thread_costs = measure_thread_costs(threads);
  save_topology(local, options.output);
  std::printf("# wrote %s: the local topology with the measured figures\n", options.output.c_str());
  return *local.thread_costs;
}

std::vector<std::string> algorithm_names(const CalibrateOptions& options) {
  if (options.algorithm != "all") return {options.algorithm};
  std::vector<std::string> names;
  for (const Algorithm& algorithm : algorithms()) names.emplace_back(algorithm.name);
  names.emplace_back("auto");
  return names;
}

void run_calibrate(const CalibrateOptions& options) {
  const std::vector<std::int64_t> sizes = validate(options);
  const ThreadCosts costs = obtain_costs(options);
  std::printf("# thread costs: %d threads, memory %.2f GB/s, one thread %.2f GB/s, write cost %.2f (streamed %.2f), "
              "%.3f us per piece, %.2f us per call\n",
              costs.threads, costs.memory_gbps, costs.thread_gbps, costs.write_cost, costs.stream_write_cost,
              costs.piece_overhead_us, costs.call_overhead_us);
  std::printf("# %lld devices, f32 sum, out of place; measured: median of %lld calls after %lld warm-up\n",
              static_cast<long long>(options.devices), static_cast<long long>(options.iterations),
              static_cast<long long>(options.warmup));
  std::printf("# %-18s %10s %14s %14s %9s %7s\n", "algorithm", "size", "predicted us", "measured us", "measured", "");

  const std::vector<std::string> names = algorithm_names(options);
  int large = 0;
  int agreeing = 0;
  for (std::size_t s = 0; s < sizes.size(); ++s) {
    const std::string& size_text = options.sizes[s];
    const std::int64_t bytes = sizes[s];
    const std::vector<TensorSpec> layout{{std::max<std::int64_t>(bytes / 4, 1), DType::f32}};
    TestBuffers buffers(static_cast<int>(options.devices), layout, false);
    for (const std::string& name : names) {
      CommunicatorOptions communicator_options;
      communicator_options.topology = flat_topology(static_cast<int>(options.devices));
      communicator_options.algorithm = name;
      communicator_options.threads = costs.threads;
      communicator_options.thread_costs = costs;
      std::unique_ptr<Communicator> communicator;
      const Plan* planned = nullptr;
      try {
        communicator = std::make_unique<Communicator>(communicator_options);
        planned = &communicator->plan(layout, ReduceOp::sum);
      } catch (const Unsupported&) {
        continue;  // e.g. dgx1-hierarchical for K != 8
      }
      const Plan& plan = *planned;
      const double predicted =
          predict_thread_time(plan.schedule, costs,
                              {communicator_options.piece_elements, communicator_options.stream_min_bytes,
                               communicator_options.inline_bytes})
              .time_s;
      const CallTiming timing = time_calls(*communicator, buffers, ReduceOp::sum, false, static_cast<int>(options.warmup),
                                           static_cast<int>(options.iterations));
      if (timing.wrong != 0) throw Error("calibrate: " + name + " gave " + std::to_string(timing.wrong) + " wrong elements");
      const double ratio = timing.median_s / predicted;
      const bool agrees = std::abs(ratio - 1) <= kAgreement;
      if (bytes >= (std::int64_t{16} << 20)) {
        ++large;
        agreeing += agrees ? 1 : 0;
      }
      std::string label = name;
      if (name == "auto" && !plan.choices.empty()) label += " (" + plan.choices.front().algorithm + ")";
      std::printf("  %-18s %10s %14.1f %14.1f %8.2fx %7s\n", label.c_str(), size_text.c_str(), predicted * 1e6,
                  timing.median_s * 1e6, ratio, agrees ? "within" : "off");
      std::fflush(stdout);
    }
  }
  if (large > 0)
    std::printf("# at 16 MiB and above: %d of %d within %.0f%% of the prediction\n", agreeing, large, kAgreement * 100);
}

}  // namespace

void add_calibrate_command(CLI::App& app) {
  auto options = std::make_shared<CalibrateOptions>();
  CLI::App* command = app.add_subcommand(
      "calibrate", "measure this machine once, store it, and print predicted vs measured times of every algorithm");
  command->add_option("--output,-O", options->output, "where to store the calibrated local topology")
      ->capture_default_str();
  command->add_option("--from", options->from, "use the thread costs stored in this file instead of measuring");
  command->add_option("--devices,-k", options->devices, "devices (memory spaces) of the comparison")->capture_default_str();
  command->add_option("--sizes", options->sizes, "sizes per device, e.g. 1M 16M 256M or 1M,16M,256M")
      ->delimiter(',')
      ->capture_default_str();
  command->add_option("--algorithm,-a", options->algorithm, "algorithm name, auto, or all")->capture_default_str();
  command->add_option("--threads,-t", options->threads, "worker threads (0: all hardware threads)")->capture_default_str();
  command->add_option("--warmup", options->warmup,
                      "untimed calls per algorithm and size, at least; then more while the calls still get faster "
                      "(up to 1 s; 0: none)")
      ->capture_default_str();
  command->add_option("--iterations,-n", options->iterations, "timed calls per algorithm and size")
      ->capture_default_str();
  command->add_option("--probe-bytes", options->probe_bytes, "memory the streaming probe runs over, in all")
      ->capture_default_str();
  command->add_option("--probe-rounds", options->probe_rounds, "timed rounds per probe kernel (fewer: quicker, less sure)")
      ->capture_default_str();
  command->callback([options] { run_calibrate(*options); });
}

}  // namespace meshreduce::cli
