// meshreduce run: run an allreduce job on the thread executor, time it, and check every output
// against a plainly computed reference. With no flags it is the main job: 8 virtual devices on
// the DGX-1 V100 topology, ResNet-50's gradients, average, the seed's algorithm.
#include <chrono>
#include <cstdio>
#include <memory>

#include "cli_common.h"
#include "commands.h"
#include "meshreduce/error.h"

namespace meshreduce::cli {
namespace {

struct RunOptions {
  JobOptions job;
  std::string workload = "resnet50";
  int iterations = 5;
  int warmup = 1;
  bool in_place = false;
};

// Returns false when any output differs from the reference.
bool run_one(const RunOptions& run, const std::string& algorithm, const Workload& workload) {
  Communicator communicator(communicator_options(run.job, algorithm));
  const DType dtype = parse_dtype(run.job.dtype);
  const ReduceOp op = parse_reduce_op(run.job.op);
  const auto layout = workload.layout(dtype);
  TestBuffers buffers(communicator.size(), layout, run.in_place);
  const Plan& plan = communicator.plan(layout, op);

  const auto& topology = *communicator.options().topology;
  std::printf("meshreduce run: %s on %s, %d devices (groups %s), %s: %zu tensors, %lld elements, %.2f MiB per device\n",
              algorithm.c_str(), topology.name.c_str(), communicator.size(),
              describe_groups(communicator.groups()).c_str(), workload.name.c_str(), workload.tensors.size(),
              static_cast<long long>(workload.elements()), static_cast<double>(buffers.bytes_per_device()) / (1 << 20));
  std::printf("  %s %s, %s, bucketing %s (%zu buckets, %zu steps), %d iterations after %d warm-up\n",
              std::string(dtype_name(dtype)).c_str(), std::string(reduce_op_name(op)).c_str(),
              run.in_place ? "in place" : "out of place", run.job.bucketing.c_str(), plan.buckets.size(),
              plan.schedule.steps.size(), run.iterations, run.warmup);

  std::vector<double> seconds;
  std::int64_t wrong = 0;
  for (int i = 0; i < run.warmup + run.iterations; ++i) {
    if (run.in_place && i > 0) buffers.reset_inputs();
    const auto start = std::chrono::steady_clock::now();
    if (run.in_place) communicator.allreduce(buffers.outputs(), op);
    else communicator.allreduce(buffers.inputs(), buffers.outputs(), op);
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    if (i >= run.warmup) seconds.push_back(elapsed.count());
    if (i == 0 || i + 1 == run.warmup + run.iterations) wrong += buffers.count_wrong(op);
  }
  const double t = median(seconds);
  std::printf("  time %.3f ms (median), algbw %.2f GB/s, busbw %.2f GB/s\n", t * 1e3,
              algbw_gbps(buffers.bytes_per_device(), t), busbw_gbps(buffers.bytes_per_device(), t, communicator.size()));
  if (wrong == 0) {
    std::printf("  verified: every element of all %d devices equals the reference %s, bit for bit\n",
                communicator.size(), std::string(reduce_op_name(op)).c_str());
    return true;
  }
  std::printf("  WRONG: %lld elements differ from the reference\n", static_cast<long long>(wrong));
  return false;
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto options = std::make_shared<RunOptions>();
  CLI::App* command = app.add_subcommand("run", "run a job on threads, time it and verify every output");
  add_job_flags(*command, options->job);
  command->add_option("--algorithm,-a", options->job.algorithm, "algorithm name, or 'all'")->capture_default_str();
  command->add_option("--workload,-w", options->workload, "embedded workload name or TSV file")->capture_default_str();
  command->add_option("--iterations,-n", options->iterations, "timed iterations")->capture_default_str()
      ->check(CLI::PositiveNumber);
  command->add_option("--warmup", options->warmup, "untimed iterations first")->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  command->add_flag("--in-place", options->in_place, "reduce in place (inputs are rewritten before each iteration)");
  command->callback([options] {
    const Workload workload = resolve_workload(options->workload);
    std::vector<std::string> names;
    if (options->job.algorithm == "all") {
      for (const Algorithm& algorithm : algorithms()) names.emplace_back(algorithm.name);
    } else {
      names.push_back(options->job.algorithm);
    }
    bool all_verified = true;
    for (const std::string& name : names) {
      try {
        all_verified = run_one(*options, name, workload) && all_verified;
      } catch (const Unsupported& e) {
        if (names.size() == 1) throw;
        std::printf("meshreduce run: %s skipped: %s\n", name.c_str(), e.what());
      }
    }
    if (!all_verified) throw Error("some outputs differ from the reference");
  });
}

}  // namespace meshreduce::cli
