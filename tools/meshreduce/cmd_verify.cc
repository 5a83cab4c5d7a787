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
#include "core/input_file.h"
#include "core/text.h"
#include "meshreduce/error.h"
#include "meshreduce/limits.h"
#include "meshreduce/verifier.h"

namespace meshreduce::cli {
namespace {

// The sweep proves every algorithm at every K from --min-devices to --max-devices, with 4 group
// shapes, each count and two ops. Multiring's schedules grow as K^3 steps, so the sweep 1..K
// costs about K^4: 1..20 takes about 5 s, 1..24 about 11 s (docs/limits.md).
constexpr int kMaxVerifyDevices = 20;
constexpr std::size_t kMaxVerifyCounts = 8;

struct VerifyCommandOptions {
  std::string algorithm = "all";
  int min_devices = 1;
  int max_devices = 16;
  std::vector<std::string> count_texts{"0", "1", "7", "1001"};
  std::vector<std::int64_t> counts;  // parsed from count_texts
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
  const std::string text = detail::read_input_file<InvalidArgument>(path, "schedule file");
  Schedule schedule;
  try {
    schedule = schedule_from_json(text);
  } catch (const ScheduleError& e) {
    throw ScheduleError(path + ": " + e.what());
  }
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

// Every argument, before any schedule is built.
void check_options(VerifyCommandOptions& options) {
  if (options.algorithm != "all") {
    bool known = false;
    std::string names;
    for (const Algorithm& algorithm : algorithms()) {
      known = known || algorithm.name == options.algorithm;
      names += " " + std::string(algorithm.name);
    }
    if (!known)
      throw InvalidArgument("--algorithm '" + detail::excerpt(options.algorithm) + "' is not an algorithm (known:" +
                            names + " all)");
  }
  if (options.min_devices > options.max_devices)
    throw InvalidArgument("--min-devices " + std::to_string(options.min_devices) + " is more than --max-devices " +
                          std::to_string(options.max_devices));
  options.counts.clear();
  for (const std::string& text : options.count_texts)
    options.counts.push_back(parse_count(text, "--counts", 0, limits::kMaxTensorElements));
  if (options.counts.empty()) throw InvalidArgument("--counts: needs at least one count");
  if (options.counts.size() > kMaxVerifyCounts)
    throw InvalidArgument("--counts: " + std::to_string(options.counts.size()) + " counts, more than the largest allowed, " +
                          std::to_string(kMaxVerifyCounts) + " (each multiplies the sweep's time)");
  parse_dtype(options.dtype);
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
  command->add_option("--min-devices", options->min_devices, "smallest K")->capture_default_str()
      ->check(CLI::Range(1, kMaxVerifyDevices));
  command->add_option("--max-devices", options->max_devices,
                      "largest K (at most " + std::to_string(kMaxVerifyDevices) + ": see docs/limits.md)")
      ->capture_default_str()->check(CLI::Range(1, kMaxVerifyDevices));
  command->add_option("--counts", options->count_texts, "element counts to try (e.g. 0,1,7,1001)")
      ->capture_default_str()->delimiter(',');
  command->add_option("--dtype,-d", options->dtype, "element type: f32 f64 f16 bf16 i32 i64")->capture_default_str()
      ->check(CLI::IsMember({"f32", "f64", "f16", "bf16", "i32", "i64"}));
  command->add_option("--chunk-elements", options->chunk_elements, "pipelining chunk (0: the algorithm's choice)")
      ->capture_default_str()->check(CLI::Range(std::int64_t{0}, limits::kMaxTensorElements));
  command->add_option("--schedule", options->schedule_path, "verify one schedule from a JSON file (see docs/schedule-format.md)");
  command->callback([options] {
    if (!options->schedule_path.empty()) return verify_file(options->schedule_path);
    check_options(*options);
    verify_algorithms(*options);
  });
}

}  // namespace meshreduce::cli
