// meshreduce verify: prove schedules correct with the symbolic verifier: every algorithm over a
// range of device counts and group shapes, or one schedule read from a JSON file.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <numeric>
#include <sstream>

#include "cli_common.h"
#include "commands.h"
#include "meshreduce/error.h"
#include "meshreduce/verifier.h"

namespace meshreduce::cli {
namespace {

struct VerifyCommandOptions {
  std::string algorithm = "all";
  int min_devices = 1;
  int max_devices = 16;
  std::vector<std::int64_t> counts{0, 1, 7, 1001};
  std::string dtype = "f32";
  std::string schedule_path;
  std::int64_t chunk_elements = 0;
};

std::vector<std::vector<std::vector<int>>> group_shapes(int k) {
  std::vector<std::vector<std::vector<int>>> shapes{{}, halves(k)};
  std::vector<std::vector<int>> singletons;
  for (int d = 0; d < k; ++d) singletons.push_back({d});
  shapes.push_back(singletons);
  if (k >= 4) {  // unequal: 3 | 1 | the rest
    std::vector<std::vector<int>> unequal{{0, 1, 2}, {3}, {}};
    for (int d = 4; d < k; ++d) unequal[2].push_back(d);
    if (unequal[2].empty()) unequal.pop_back();
    shapes.push_back(unequal);
  }
  return shapes;
}

void report_failure(const VerifyReport& report, const std::string& what) {
  throw ScheduleError(what + ": " + report.violation);
}

void verify_file(const std::string& path) {
  std::ifstream file(path);
  if (!file) throw InvalidArgument("cannot read schedule file '" + path + "'");
  std::stringstream text;
  text << file.rdbuf();
  const Schedule schedule = schedule_from_json(text.str());
  const VerifyReport report = verify_schedule(schedule);
  if (!report.ok) report_failure(report, path);
  std::printf("meshreduce verify: %s: %lld steps, %d devices: a correct allreduce, in place and out of place\n",
              path.c_str(), static_cast<long long>(report.stats.steps), schedule.num_devices);
}

// Every group shape, count and op the sweep covers for K devices, on a uniform topology so that
// algorithms that follow the links (multiring) are proved too.
std::vector<AlgorithmRequest> requests_for(const VerifyCommandOptions& options, const Topology& flat, DType dtype) {
  const int k = flat.size();
  std::vector<int> ids(static_cast<std::size_t>(k));
  std::iota(ids.begin(), ids.end(), 0);
  std::vector<AlgorithmRequest> requests;
  for (const auto& groups : group_shapes(k))
    for (std::int64_t count : options.counts)
      for (ReduceOp op : {ReduceOp::sum, ReduceOp::average}) {
        AlgorithmRequest request;
        request.num_devices = k;
        request.groups = groups;
        request.topology = &flat;
        request.topology_devices = ids;
        request.count = count;
        request.dtype = dtype;
        request.op = op;
        request.rotation = count;
        request.options.chunk_elements = options.chunk_elements;
        requests.push_back(std::move(request));
      }
  return requests;
}

void verify_algorithms(const VerifyCommandOptions& options) {
  const DType dtype = parse_dtype(options.dtype);
  for (const Algorithm& algorithm : algorithms()) {
    if (options.algorithm != "all" && algorithm.name != options.algorithm) continue;
    const auto start = std::chrono::steady_clock::now();
    int proved = 0;
    int declined = 0;
    std::int64_t steps = 0;
    for (int k = options.min_devices; k <= options.max_devices; ++k) {
      const Topology flat = flat_topology(k);
      for (const AlgorithmRequest& request : requests_for(options, flat, dtype)) {
        if (algorithm.decline(request)) {
          ++declined;
          continue;
        }
        const VerifyReport report = verify_schedule(algorithm.build(request));
        if (!report.ok)
          report_failure(report, std::string(algorithm.name) + " K=" + std::to_string(k) + " groups " +
                                     describe_groups(request.groups) + " count " + std::to_string(request.count) +
                                     " " + std::string(reduce_op_name(request.op)));
        ++proved;
        steps += report.stats.steps;
      }
    }
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    std::printf("meshreduce verify: %-18s proved %4d schedules (K %d..%d, %zu counts, 4 group shapes, sum and average, "
                "%lld steps), %d declined, %.2f s\n",
                std::string(algorithm.name).c_str(), proved, options.min_devices, options.max_devices,
                options.counts.size(), static_cast<long long>(steps), declined, elapsed.count());
  }
}

}  // namespace

void add_verify_command(CLI::App& app) {
  auto options = std::make_shared<VerifyCommandOptions>();
  CLI::App* command = app.add_subcommand("verify", "prove schedules correct by symbolic execution");
  command->add_option("--algorithm,-a", options->algorithm, "algorithm name, or 'all'")->capture_default_str();
  command->add_option("--min-devices", options->min_devices, "smallest K")->capture_default_str()->check(CLI::PositiveNumber);
  command->add_option("--max-devices", options->max_devices, "largest K")->capture_default_str()->check(CLI::PositiveNumber);
  command->add_option("--counts", options->counts, "element counts to try")->capture_default_str();
  command->add_option("--dtype,-d", options->dtype, "element type")->capture_default_str();
  command->add_option("--chunk-elements", options->chunk_elements, "pipelining chunk (0: the algorithm's choice)")
      ->capture_default_str();
  command->add_option("--schedule", options->schedule_path, "verify one schedule from a JSON file (see docs/schedule-format.md)");
  command->callback([options] {
    if (!options->schedule_path.empty()) return verify_file(options->schedule_path);
    verify_algorithms(*options);
  });
}

}  // namespace meshreduce::cli
