// meshreduce bench: a size sweep in the format of nccl-tests (bytes, elements, time, algbw,
// busbw, #wrong), with this machine's memory limits measured in the same run.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "commands.h"
#include "memory_limits.h"
#include "meshreduce/error.h"

namespace meshreduce::cli {
namespace {

struct BenchOptions {
  JobOptions job;
  std::string algorithm = "auto";
  std::string calibration;  // a calibrated topology file whose thread costs "auto" plans with
  std::string min_bytes = "4K";
  std::string max_bytes = "64M";
  int factor = 2;
  int warmup = 3;
  int iterations = 10;
  bool in_place = false;
  bool json = false;
  bool no_limits = false;
  std::string limits_bytes = "64M";
};

struct Row {
  std::int64_t bytes = 0;
  std::int64_t elements = 0;
  double time_us = 0;
  double algbw = 0;
  double busbw = 0;
  std::int64_t wrong = 0;
  std::string pick;  // the algorithm the plan runs (the planner's, for "auto")
};

Row measure(Communicator& communicator, const BenchOptions& bench, DType dtype, ReduceOp op, std::int64_t elements) {
  const std::vector<TensorSpec> layout{{elements, dtype}};
  TestBuffers buffers(communicator.size(), layout, bench.in_place);
  const CallTiming timing = time_calls(communicator, buffers, op, bench.in_place, bench.warmup, bench.iterations);
  const double t = timing.median_s;
  const std::int64_t bytes = buffers.bytes_per_device();
  const Plan& plan = communicator.plan(layout, op);
  const std::string pick = plan.choices.empty() ? bench.algorithm : plan.choices.front().algorithm;
  return {bytes, elements, t * 1e6, algbw_gbps(bytes, t), busbw_gbps(bytes, t, communicator.size()), timing.wrong, pick};
}

void run_bench(const BenchOptions& bench) {
  CommunicatorOptions options = communicator_options(bench.job, bench.algorithm);
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
  const DType dtype = parse_dtype(bench.job.dtype);
  const ReduceOp op = parse_reduce_op(bench.job.op);
  const std::int64_t element = static_cast<std::int64_t>(dtype_size(dtype));
  const std::int64_t min_bytes = std::max(parse_size(bench.min_bytes), element);
  const std::int64_t max_bytes = parse_size(bench.max_bytes);
  if (bench.factor < 2) throw InvalidArgument("--factor must be >= 2, got " + std::to_string(bench.factor));
  const bool progress = isatty(STDERR_FILENO) != 0;

  MemoryLimits limits;
  if (!bench.no_limits)
    limits = measure_memory_limits(communicator.size(), parse_size(bench.limits_bytes), bench.job.threads, 5);

  std::vector<Row> rows;
  for (std::int64_t bytes = min_bytes; bytes <= max_bytes; bytes *= bench.factor) {
    if (progress) std::fprintf(stderr, "\rmeshreduce bench: %lld bytes ...", static_cast<long long>(bytes));
    rows.push_back(measure(communicator, bench, dtype, op, bytes / element));
  }
  if (progress) std::fprintf(stderr, "\r%60s\r", "");

  std::int64_t wrong = 0;
  for (const Row& row : rows) wrong += row.wrong;
  if (bench.json) {
    nlohmann::json out{{"implementation", "meshreduce"}, {"algorithm", bench.algorithm},
                       {"devices", communicator.size()}, {"dtype", dtype_name(dtype)}, {"op", reduce_op_name(op)},
                       {"in_place", bench.in_place}, {"iterations", bench.iterations},
                       {"limits", {{"copy_gbps", limits.copy_gbps}, {"reduce_busbw_gbps", limits.reduce_busbw_gbps}}},
                       {"results", nlohmann::json::array()}};
    for (const Row& row : rows)
      out["results"].push_back({{"bytes", row.bytes}, {"elements", row.elements}, {"time_us", row.time_us},
                                {"algbw", row.algbw}, {"busbw", row.busbw}, {"wrong", row.wrong},
                                {"algorithm", row.pick}});
    std::printf("%s\n", out.dump(1).c_str());
  } else {
    std::printf("# meshreduce bench: %s, %d devices, %s %s, %s, median of %d iterations after %d warm-up\n",
                bench.algorithm.c_str(), communicator.size(), std::string(dtype_name(dtype)).c_str(),
                std::string(reduce_op_name(op)).c_str(), bench.in_place ? "in place" : "out of place",
                bench.iterations, bench.warmup);
    if (!bench.no_limits)
      std::printf("# memory limits (%s per device): copy %.2f GB/s (read+write), single-pass %d-way reduce %.2f GB/s busbw\n",
                  bench.limits_bytes.c_str(), limits.copy_gbps, communicator.size(), limits.reduce_busbw_gbps);
    std::printf("#%13s %12s %12s %10s %10s %8s %10s\n", "size (B)", "count", "time (us)", "algbw", "busbw", "#wrong",
                bench.no_limits ? "" : "of limit");
    for (const Row& row : rows) {
      std::printf(" %13lld %12lld %12.1f %10.2f %10.2f %8lld", static_cast<long long>(row.bytes),
                  static_cast<long long>(row.elements), row.time_us, row.algbw, row.busbw,
                  static_cast<long long>(row.wrong));
      if (!bench.no_limits && limits.reduce_busbw_gbps > 0) std::printf(" %9.0f%%", 100 * row.busbw / limits.reduce_busbw_gbps);
      if (bench.algorithm == "auto") std::printf("  %s", row.pick.c_str());
      std::printf("\n");
    }
    std::printf("# out of bounds values : %lld %s\n", static_cast<long long>(wrong), wrong == 0 ? "OK" : "FAILED");
  }
  if (wrong != 0) throw Error("bench: " + std::to_string(wrong) + " elements differ from the reference");
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto options = std::make_shared<BenchOptions>();
  CLI::App* command = app.add_subcommand("bench", "sweep sizes like nccl-tests: time, algbw, busbw, #wrong");
  add_job_flags(*command, options->job);
  options->job.topology = "flat:8";
  options->job.op = "sum";
  command->add_option("--algorithm,-a", options->algorithm, "algorithm name, or auto (the planner's pick per size)")
      ->capture_default_str();
  command->add_option("--calibration", options->calibration,
                      "topology file from `meshreduce calibrate` whose thread costs auto plans with (default: named defaults)");
  command->add_option("--min-bytes,-b", options->min_bytes, "smallest size per device (K, M, G suffixes)")->capture_default_str();
  command->add_option("--max-bytes,-e", options->max_bytes, "largest size per device")->capture_default_str();
  command->add_option("--factor,-f", options->factor, "size multiplier between rows")->capture_default_str();
  command->add_option("--warmup,-w", options->warmup, "untimed iterations per size")->capture_default_str();
  command->add_option("--iterations,-n", options->iterations, "timed iterations per size")->capture_default_str()
      ->check(CLI::PositiveNumber);
  command->add_flag("--in-place", options->in_place, "reduce in place");
  command->add_flag("--json", options->json, "print JSON instead of the table");
  command->add_flag("--no-limits", options->no_limits, "skip measuring the memory limits");
  command->add_option("--limits-bytes", options->limits_bytes, "buffer size per device for the limits")->capture_default_str();
  command->callback([options] { run_bench(*options); });
}

}  // namespace meshreduce::cli
