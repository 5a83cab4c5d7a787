// meshreduce topology: print a preset or a topology file as JSON (docs/topology-format.md), or
// write it to a file to edit; --summary prints devices, nodes, links and levels as text.
// With --processes K, the topology of a process job instead (meshreduce/process_model.h): what
// `auto` of the process executor plans with, for `meshreduce simulate --topology` to inspect.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "meshreduce/error.h"
#include "meshreduce/process_model.h"
#include "meshreduce/topology.h"

namespace meshreduce::cli {
namespace {

struct TopologyOptions {
  std::string name = "dgx1-v100";
  std::string output;
  bool summary = false;
  int processes = 0;  // > 0: a process job's topology instead of `name`
  int ranks_per_node = 0;
  int local_devices = 1;
  double network_gbps = kDefaultNetworkGbps;
};

void print_summary(const Topology& topology) {
  std::printf("# %s: %d devices, %zu nodes, %zu links, %zu routes\n", topology.name.c_str(), topology.size(),
              topology.nodes.size(), topology.links.size(), topology.routes.size());
  if (topology.nic_relay) {
    int relayed = 0;  // routes that pass through a device: relayed to or from a NIC
    for (const Route& route : topology.routes) {
      const std::vector<int> path = topology.route_path(route);
      for (std::size_t i = 1; i + 1 < path.size(); ++i)
        if (topology.is_device(path[i])) {
          ++relayed;
          break;
        }
    }
    std::printf("# nic_relay: network routes may pass through a GPU next to a NIC (NCCL's PXN); %d routes do\n", relayed);
  }
  const auto name_of = [&](int id) {
    const Device* d = topology.find(id);
    return d != nullptr ? d->name : "#" + std::to_string(id);
  };
  // Line rate, the fraction of it that carries data, and the effective rate the simulator uses.
  for (const Link& link : topology.links)
    std::printf("link %-10s %-10s %-8s %3d x %7.2f GB/s  x %4.2f = %7.2f GB/s effective  %6.2f us  (%s)\n",
                name_of(link.a).c_str(), name_of(link.b).c_str(), std::string(link_kind_name(link.kind)).c_str(),
                link.count, link.bandwidth_gbps, link.efficiency, link.effective_gbps(), link.latency_us,
                link.source.c_str());
  for (const GroupLevel& level : topology.levels) {
    std::printf("level %s:", level.name.c_str());
    for (const auto& group : level.groups) {
      std::printf(" {");
      for (std::size_t i = 0; i < group.size(); ++i) std::printf("%s%d", i == 0 ? "" : ",", group[i]);
      std::printf("}");
    }
    std::printf("\n");
  }
  if (topology.thread_costs) {
    const ThreadCosts& c = *topology.thread_costs;
    std::printf("thread costs: %d threads, memory %.2f GB/s, one thread %.2f GB/s, write cost %.2f (streamed %.2f), "
                "%.3f us per piece, %.2f us per call (%s)\n",
                c.threads, c.memory_gbps, c.thread_gbps, c.write_cost, c.stream_write_cost, c.piece_overhead_us,
                c.call_overhead_us, c.source.c_str());
  }
}

Topology chosen_topology(const TopologyOptions& options, const CLI::App& command) {
  const bool job = command.count("--processes") > 0;
  if (!job) {
    for (const char* flag : {"--ranks-per-node", "--local-devices", "--network-gbps"})
      if (command.count(flag) > 0) throw InvalidArgument(std::string(flag) + ": only with --processes");
    return topology_preset(options.name);
  }
  if (command.count("name") > 0) throw InvalidArgument("--processes: a process job's topology, not also " + options.name);
  return process_job_topology(
      uniform_process_job(options.processes, options.ranks_per_node, options.local_devices, options.network_gbps));
}

void run_topology(const TopologyOptions& options, const CLI::App& command) {
  const Topology topology = chosen_topology(options, command);
  if (!options.output.empty()) {
    save_topology(topology, options.output);
    std::printf("wrote %s (%s, %d devices)\n", options.output.c_str(), topology.name.c_str(), topology.size());
    return;
  }
  if (options.summary) print_summary(topology);
  else std::printf("%s", topology_to_json_text(topology).c_str());
}

}  // namespace

void add_topology_command(CLI::App& app) {
  auto options = std::make_shared<TopologyOptions>();
  CLI::App* command =
      app.add_subcommand("topology", "print a topology preset or file as JSON (or a summary), or write it to a file");
  command->add_option("name", options->name, "preset (dgx1-v100, dgx2, pcie8, cluster:4xdgx1-v100, local, ...) or JSON file")
      ->capture_default_str();
  command->add_option("--output,-O", options->output, "write the JSON to this file instead of printing it");
  command->add_flag("--summary", options->summary, "print links and levels as text");
  command->add_option("--processes", options->processes,
                      "instead of a preset: the topology the process executor's auto plans with, for K ranks");
  command->add_option("--ranks-per-node", options->ranks_per_node,
                      "with --processes: N consecutive ranks per machine (0: one machine)")
      ->capture_default_str();
  command->add_option("--local-devices", options->local_devices, "with --processes: devices per process")
      ->capture_default_str();
  command->add_option("--network-gbps", options->network_gbps, "with --processes: each machine's port, Gbit/s")
      ->capture_default_str();
  command->callback([options, command] { run_topology(*options, *command); });
}

}  // namespace meshreduce::cli
