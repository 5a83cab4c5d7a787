// meshreduce simulate: predict, from the topology's cost model, how long each algorithm takes
// for a workload or a sweep of sizes, which link limits it, and optionally write the timeline.
#include <cstdio>
#include <memory>

#include "cli_common.h"
#include "commands.h"
#include "meshreduce/error.h"
#include "meshreduce/simulator.h"

namespace meshreduce::cli {
namespace {

struct SimulateOptions {
  JobOptions job;
  std::string algorithm = "all";
  std::string workload = "resnet50";
  std::vector<std::string> sizes;
  std::string trace_path;
};

struct Layout {
  std::string name;
  std::vector<TensorSpec> tensors;
};

void simulate_layout(const SimulateOptions& options, const Layout& layout, ReduceOp op) {
  std::vector<std::string> names;
  if (options.algorithm == "all") {
    for (const Algorithm& algorithm : algorithms()) names.emplace_back(algorithm.name);
    names.emplace_back("auto");
  } else {
    names.push_back(options.algorithm);
  }
  bool header = false;
  for (const std::string& name : names) {
    Communicator communicator(communicator_options(options.job, name));
    const Plan* plan = nullptr;
    try {
      plan = &communicator.plan(layout.tensors, op);
    } catch (const Unsupported& e) {
      if (names.size() == 1) throw;
      continue;  // this algorithm cannot serve the request; the others are still compared
    }
    const Topology& topology = *communicator.options().topology;
    SimulationOptions simulation = communicator.options().simulation;
    simulation.trace = !options.trace_path.empty();
    const SimulationResult result = simulate(plan->schedule, topology, communicator.options().devices, simulation);
    if (!header) {
      std::printf("# %s, %d devices, %s, %.2f MiB per device\n", topology.name.c_str(), communicator.size(),
                  layout.name.c_str(), static_cast<double>(result.bytes_per_device) / (1 << 20));
      std::printf("# %-22s %12s %10s %10s %8s   %-28s %6s\n", "algorithm", "time (us)", "algbw", "busbw", "protocol",
                  "busiest link", "use");
      header = true;
    }
    std::string label = name;
    if (name == "auto" && !plan->choices.empty()) {
      // Name the pick, or say it is mixed when buckets of different sizes chose differently.
      std::string pick = plan->choices.front().algorithm;
      for (const BucketChoice& choice : plan->choices)
        if (choice.algorithm != pick) pick = "mixed";
      label += " (" + pick + ")";
    }
    const LinkUsage* busiest = result.busiest_link();
    std::string link = "-";
    if (busiest != nullptr) {
      const Link& l = topology.links[static_cast<std::size_t>(busiest->link)];
      const Device* from = topology.find(busiest->from);
      const Device* to = topology.find(busiest->to);
      link = (from ? from->name : std::to_string(busiest->from)) + "->" + (to ? to->name : std::to_string(busiest->to)) +
             " " + std::string(link_kind_name(l.kind));
    }
    std::printf("  %-22s %12.1f %10.2f %10.2f %8s   %-28s %5.0f%%\n", label.c_str(), result.time_s * 1e6,
                result.algbw_gbps, result.busbw_gbps, result.protocol.c_str(), link.c_str(),
                busiest ? 100 * busiest->utilization : 0.0);
    if (!options.trace_path.empty() && names.size() == 1) {
      write_chrome_trace(result, options.trace_path);
      std::printf("# timeline written to %s (open in ui.perfetto.dev or chrome://tracing)\n", options.trace_path.c_str());
    }
  }
}

}  // namespace

void add_simulate_command(CLI::App& app) {
  auto options = std::make_shared<SimulateOptions>();
  CLI::App* command = app.add_subcommand("simulate", "predict each algorithm's time on a topology's cost model");
  add_job_flags(*command, options->job);
  options->job.op = "sum";
  command->add_option("--algorithm,-a", options->algorithm, "algorithm name, 'auto', or 'all'")->capture_default_str();
  command->add_option("--workload,-w", options->workload, "embedded workload name or TSV file")->capture_default_str();
  command->add_option("--sizes", options->sizes, "instead of a workload: one tensor of each size (e.g. 1M 16M 256M)");
  command->add_option("--trace", options->trace_path, "write the Chrome trace timeline of one algorithm to this file");
  command->callback([options] {
    if (!options->trace_path.empty() && options->algorithm == "all")
      throw InvalidArgument("--trace needs one --algorithm (or auto), not 'all'");
    const DType dtype = parse_dtype(options->job.dtype);
    const ReduceOp op = parse_reduce_op(options->job.op);
    if (options->sizes.empty()) {
      const Workload workload = resolve_workload(options->workload);
      simulate_layout(*options, {workload.name + " (" + std::to_string(workload.tensors.size()) + " tensors)",
                                 workload.layout(dtype)}, op);
      return;
    }
    for (const std::string& size : options->sizes) {
      const std::int64_t bytes = parse_size(size);
      simulate_layout(*options, {"one tensor of " + size + "B", {{bytes / static_cast<std::int64_t>(dtype_size(dtype)), dtype}}}, op);
    }
  });
}

}  // namespace meshreduce::cli
