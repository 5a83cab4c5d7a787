// meshreduce run: run an allreduce job on the thread executor, time it, and check its outputs:
// against the exact reduction of small-integer inputs; on inputs whose sums depend on the order,
// that all replicas are bit-identical and, for the seed's algorithm, that the bits are the seed's
// (seed_reference.h). With no flags it is the main job: 8 virtual devices on
// the DGX-1 V100 topology, ResNet-50's gradients, average, the seed's algorithm.
#include <chrono>
#include <cstdio>
#include <limits>
#include <memory>

#include "arg_checks.h"
#include "cli_common.h"
#include "commands.h"
#include "meshreduce/error.h"
#include "process_backend.h"
#include "seed_reference.h"

namespace meshreduce::cli {
namespace {

struct RunOptions {
  JobOptions job;
  std::string workload = "resnet50";
  std::int64_t iterations = 5;
  std::int64_t warmup = 1;
  bool in_place = false;
  BackendFlags backend;
};

// The run's order check applies when the plan is the seed's: dgx1-hierarchical on 8 devices with
// one bucket per tensor (its rotation, the tensor index, picks the mains as the seed does).
bool seed_order_applies(const RunOptions& run, const std::string& algorithm, int devices) {
  return algorithm == "dgx1-hierarchical" && devices == 8 && run.job.bucketing == "none" && !run.job.reproducible;
}

void print_check(const char* name, std::int64_t wrong, const std::string& detail) {
  if (wrong == 0) std::printf("  %s: ok (%s)\n", name, detail.c_str());
  else std::printf("  %s: FAILED, %lld elements differ (%s)\n", name, static_cast<long long>(wrong), detail.c_str());
}

// Returns false when any check fails.
bool run_one(const RunOptions& run, const std::string& algorithm, const Workload& workload) {
  Communicator communicator(communicator_options(run.job, algorithm));
  const DType dtype = parse_dtype(run.job.dtype);
  const ReduceOp op = parse_reduce_op(run.job.op);
  const auto layout = workload.layout(dtype);
  TestBuffers buffers(communicator.size(), layout, run.in_place);
  buffers.set_reproducible(run.job.reproducible);
  const Plan& plan = communicator.plan(layout, op);

  const auto& topology = *communicator.options().topology;
  std::printf("meshreduce run: %s on %s, %d devices (groups %s), %s: %zu tensors, %lld elements, %.2f MiB per device\n",
              algorithm.c_str(), topology.name.c_str(), communicator.size(),
              describe_groups(communicator.groups()).c_str(), workload.name.c_str(), workload.tensors.size(),
              static_cast<long long>(workload.elements()), static_cast<double>(buffers.bytes_per_device()) / (1 << 20));
  std::printf("  %s %s, %s, bucketing %s (%zu buckets, %zu steps), %lld iterations after %lld warm-up\n",
              std::string(dtype_name(dtype)).c_str(), std::string(reduce_op_name(op)).c_str(),
              run.in_place ? "in place" : "out of place", run.job.bucketing.c_str(), plan.buckets.size(),
              plan.schedule.steps.size(), static_cast<long long>(run.iterations), static_cast<long long>(run.warmup));

  const auto call = [&] {
    if (run.in_place) communicator.allreduce(buffers.outputs(), op);
    else communicator.allreduce(buffers.inputs(), buffers.outputs(), op);
  };
  // 1. Small integers: every output must equal the one plainly computed reduction.
  call();
  const std::int64_t exact_wrong = buffers.count_wrong(op);

  // 2. Order-sensitive inputs, timed: the first and the last call are checked.
  buffers.fill(TestBuffers::Fill::spread);
  const bool seed = seed_order_applies(run, algorithm, communicator.size());
  std::vector<double> seconds;
  std::int64_t replica_wrong = 0;
  std::int64_t seed_wrong = 0;
  const auto calls = run.warmup + run.iterations;
  for (std::int64_t i = 0; i < calls; ++i) {
    if (run.in_place && i > 0) buffers.reset_inputs();
    const auto start = std::chrono::steady_clock::now();
    call();
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    if (i >= run.warmup) seconds.push_back(elapsed.count());
    if (i == 0 || i + 1 == calls) {
      replica_wrong += count_replica_mismatches(buffers);
      if (seed) seed_wrong += count_seed_mismatches(buffers, op);
    }
  }
  const double t = median(seconds);
  std::printf("  time %.3f ms (median), algbw %.2f GB/s, busbw %.2f GB/s\n", t * 1e3,
              algbw_gbps(buffers.bytes_per_device(), t), busbw_gbps(buffers.bytes_per_device(), t, communicator.size()));
  print_check("exact reference", exact_wrong,
              "small-integer inputs, whose " + std::string(reduce_op_name(op)) + " is exact in any order; every element of " +
                  std::to_string(communicator.size()) + " devices");
  if (seed)
    print_check("seed reference bitwise", seed_wrong,
                "tensorpack's order of additions and roundings, on inputs with exponents far apart; first and last call");
  else
    std::printf("  seed reference bitwise: not made (only for dgx1-hierarchical on 8 devices with --bucketing none)\n");
  print_check("replicas identical", replica_wrong,
              "every device's output equals device 0's bit for bit, on inputs with exponents far apart; first and last call");
  return exact_wrong == 0 && seed_wrong == 0 && replica_wrong == 0;
}

// Every flag checked before anything runs.
void validate(const RunOptions& run) {
  check_range("--iterations", run.iterations, 1, kMaxCalls);
  check_range("--warmup", run.warmup, 0, kMaxCalls);
  check_range("--threads", run.job.threads, 0, kMaxThreads);
  check_range("--chunk-elements", run.job.chunk_elements, 0, std::numeric_limits<std::int64_t>::max());
  parse_dtype(run.job.dtype);
  parse_reduce_op(run.job.op);
  if (run.job.algorithm == "all" || run.job.algorithm == "auto") return;
  for (const Algorithm& algorithm : algorithms())
    if (algorithm.name == run.job.algorithm) return;
  std::string known;
  for (const Algorithm& algorithm : algorithms()) known += " " + std::string(algorithm.name);
  throw InvalidArgument("--algorithm " + run.job.algorithm + ": not an algorithm (known:" + known + ", auto, all)");
}

// --backend processes: the job on the process executor (process_backend.h), checked against the
// exact reference on every rank. Each process holds its devices' inputs and outputs and their
// staging in its segment: 4 buffers per device, which must fit in memory.
int run_processes(const RunOptions& run) {
  if (run.job.algorithm == "all")
    throw InvalidArgument("--algorithm all: one algorithm per job with --backend processes");
  ProcessBackendOptions options =
      process_backend_options(run.backend, run.job.algorithm, communicator_options(run.job, run.job.algorithm));
  options.dtype = parse_dtype(run.job.dtype);
  options.op = parse_reduce_op(run.job.op);
  options.in_place = run.in_place;
  options.warmup = static_cast<int>(run.warmup);
  options.iterations = static_cast<int>(run.iterations);
  const Workload workload = resolve_workload(run.workload);
  const std::int64_t bytes = workload.elements() * static_cast<std::int64_t>(dtype_size(options.dtype));
  check_fits_in_memory("--workload", run.workload, bytes, 4, devices_on_this_machine(run.backend));
  std::vector<std::int64_t> counts;
  for (const WorkloadTensor& tensor : workload.tensors) counts.push_back(tensor.elements);
  return process_run(options, workload.name, counts);
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto options = std::make_shared<RunOptions>();
  CLI::App* command = app.add_subcommand("run", "run a job on threads, time it and verify every output");
  add_job_flags(*command, options->job);
  add_reproducible_flag(*command, options->job);
  command->add_option("--algorithm,-a", options->job.algorithm, "algorithm name, or 'all'")->capture_default_str();
  command->add_option("--workload,-w", options->workload, "embedded workload name or TSV file")->capture_default_str();
  command->add_option("--iterations,-n", options->iterations, "timed iterations")->capture_default_str();
  command->add_option("--warmup", options->warmup, "untimed iterations first")->capture_default_str();
  command->add_flag("--in-place", options->in_place, "reduce in place (inputs are rewritten before each iteration)");
  add_backend_flags(*command, options->backend, false);
  command->callback([options, command] {
    validate(*options);
    if (check_backend(*command, options->backend)) {
      if (run_processes(*options) != 0) throw Error("some outputs differ from the reference");
      return;
    }
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
