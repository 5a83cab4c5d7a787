// meshreduce plan: build the plan for a job and show it: buckets, steps, and the bytes each
// device sends, receives and reduces, against the bandwidth-optimal 2(K-1)/K of the data
// (Patarasuk and Yuan); optionally the whole schedule as JSON.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>

#include "cli_common.h"
#include "commands.h"
#include "meshreduce/error.h"

namespace meshreduce::cli {
namespace {

struct PlanOptions {
  JobOptions job;
  std::string algorithm = "hierarchical";
  std::string workload;
  std::string bytes = "1M";
  std::string json_path;
  int show_steps = 0;
};

// The layout of the job, from --workload or --bytes; `what` describes it.
std::vector<TensorSpec> plan_layout(const PlanOptions& plan, DType dtype, std::string& what) {
  if (!plan.workload.empty()) {
    const Workload workload = resolve_workload(plan.workload);
    what = workload.name + " (" + std::to_string(workload.tensors.size()) + " tensors)";
    return workload.layout(dtype);
  }
  const std::int64_t bytes = parse_size(plan.bytes, "--bytes");
  const auto element = static_cast<std::int64_t>(dtype_size(dtype));
  if (bytes % element != 0)
    throw InvalidArgument("--bytes " + plan.bytes + " is not a whole number of " + std::string(dtype_name(dtype)) +
                          " elements (" + std::to_string(element) + " bytes each)");
  what = "one tensor of " + plan.bytes + "B";
  return {{bytes / element, dtype}};
}

void describe_step(const Schedule& schedule, std::size_t index) {
  const Step& step = schedule.steps[index];
  std::printf("  step %zu: %s on device %d, %lld elements, from", index, std::string(step_kind_name(step.kind)).c_str(),
              step.device, static_cast<long long>(step.count));
  for (const BufferRef& ref : step.srcs)
    std::printf(" %s%d[%d]+%lld", std::string(buffer_kind_name(ref.kind)).substr(0, 3).c_str(), ref.device, ref.buffer,
                static_cast<long long>(ref.offset));
  std::printf(" to");
  for (const BufferRef& ref : step.dsts)
    std::printf(" %s%d[%d]+%lld", std::string(buffer_kind_name(ref.kind)).substr(0, 3).c_str(), ref.device, ref.buffer,
                static_cast<long long>(ref.offset));
  if (!step.deps.empty()) std::printf(" after %zu steps", step.deps.size());
  std::printf("%s\n", step.average ? " (average)" : "");
}

void show_plan(const PlanOptions& options, const std::string& algorithm, const std::vector<TensorSpec>& layout,
               const std::string& what) {
  Communicator communicator(communicator_options(options.job, algorithm));
  const DType dtype = parse_dtype(options.job.dtype);
  const ReduceOp op = parse_reduce_op(options.job.op);
  const Plan& plan = communicator.plan(layout, op);
  const Schedule& schedule = plan.schedule;
  const int k = communicator.size();
  std::int64_t bytes = 0;
  for (const TensorSpec& spec : layout) bytes += spec.count * static_cast<std::int64_t>(dtype_size(spec.dtype));

  std::printf("meshreduce plan: %s on %s, %d devices (groups %s), %s, %s %s\n", algorithm.c_str(),
              communicator.options().topology->name.c_str(), k, describe_groups(communicator.groups()).c_str(),
              what.c_str(), std::string(dtype_name(dtype)).c_str(), std::string(reduce_op_name(op)).c_str());
  std::printf("  %zu buckets, %zu steps, %zu scratch buffers, %lld bytes per device\n", plan.buckets.size(),
              schedule.steps.size(), schedule.scratch.size(), static_cast<long long>(bytes));
  const TrafficSummary traffic = summarize_traffic(schedule);
  const double optimal = k > 1 ? 2.0 * (k - 1) / k * static_cast<double>(bytes) : 0;
  std::printf("  %-7s %14s %14s %14s %10s\n", "device", "sent (B)", "received (B)", "reduced (B)", "sent/opt");
  for (int d = 0; d < k; ++d) {
    const auto i = static_cast<std::size_t>(d);
    std::printf("  %-7d %14lld %14lld %14lld %10.3f\n", d, static_cast<long long>(traffic.bytes_sent[i]),
                static_cast<long long>(traffic.bytes_received[i]), static_cast<long long>(traffic.bytes_reduced[i]),
                optimal > 0 ? static_cast<double>(traffic.bytes_sent[i]) / optimal : 0.0);
  }
  const auto busiest = std::max_element(traffic.bytes_sent.begin(), traffic.bytes_sent.end());
  std::printf("  bandwidth-optimal sends per device: 2(K-1)/K x %lld = %.0f B; busiest device sends %.3f x that\n",
              static_cast<long long>(bytes), optimal,
              optimal > 0 && busiest != traffic.bytes_sent.end() ? static_cast<double>(*busiest) / optimal : 0.0);
  const auto pairs = pair_traffic(schedule);
  std::printf("  %zu device pairs carry traffic", pairs.size());
  if (!pairs.empty()) {
    const auto top = std::max_element(pairs.begin(), pairs.end(), [](auto& a, auto& b) { return a.bytes < b.bytes; });
    std::printf("; the heaviest, %d -> %d, carries %lld B", top->from, top->to, static_cast<long long>(top->bytes));
  }
  std::printf("\n");
  for (std::size_t s = 0; s < std::min<std::size_t>(static_cast<std::size_t>(options.show_steps), schedule.steps.size()); ++s)
    describe_step(schedule, s);
  if (!options.json_path.empty()) {
    std::ofstream file(options.json_path);
    if (!file) throw InvalidArgument("cannot write '" + options.json_path + "'");
    file << schedule_to_json(schedule) << "\n";
    std::printf("  schedule written to %s\n", options.json_path.c_str());
  }
}

}  // namespace

void add_plan_command(CLI::App& app) {
  auto options = std::make_shared<PlanOptions>();
  CLI::App* command = app.add_subcommand("plan", "build a plan and show its steps and bytes per device");
  add_job_flags(*command, options->job);
  command->add_option("--algorithm,-a", options->algorithm, "algorithm name, or 'all'")->capture_default_str();
  command->add_option("--workload,-w", options->workload, "embedded workload name or TSV file (instead of --bytes)");
  command->add_option("--bytes,-b", options->bytes, "one tensor of this size per device (K, M, G suffixes)")
      ->capture_default_str();
  command->add_option("--json", options->json_path, "write the schedule as JSON to this file");
  command->add_option("--steps", options->show_steps, "print the first N steps")->capture_default_str()
      ->check(CLI::Range(0, 1 << 24));
  command->callback([options] {
    // Every argument first: the algorithm, the layout and the job flags, before any plan is built.
    check_algorithm(options->algorithm, true);
    if (!options->json_path.empty() && options->algorithm == "all")
      throw InvalidArgument("--json writes one schedule: give one --algorithm, not 'all'");
    std::string what;
    const auto layout = plan_layout(*options, parse_dtype(options->job.dtype), what);
    communicator_options(options->job, options->algorithm);
    if (options->algorithm != "all") return show_plan(*options, options->algorithm, layout, what);
    for (const Algorithm& algorithm : algorithms()) {
      try {
        show_plan(*options, std::string(algorithm.name), layout, what);
      } catch (const Unsupported& e) {
        std::printf("meshreduce plan: %s skipped: %s\n", std::string(algorithm.name).c_str(), e.what());
      }
    }
  });
}

}  // namespace meshreduce::cli
