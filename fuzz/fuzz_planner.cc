// libFuzzer harness: the planner fed parsed inputs. The input is a topology file, a NUL byte, a
// workload TSV, a NUL byte and a few bytes choosing the algorithm, op, dtype, group shape and
// bucketing. Whatever parses and the communicator accepts must plan into a schedule the verifier
// proves a correct allreduce; everything else throws meshreduce::Error.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "meshreduce/communicator.h"
#include "meshreduce/error.h"
#include "meshreduce/topology.h"
#include "meshreduce/verifier.h"
#include "meshreduce/workload.h"

namespace {

// Small enough that one input plans in milliseconds.
constexpr int kMaxDevices = 16;
constexpr std::int64_t kMaxElements = 1 << 16;
constexpr std::size_t kMaxTensors = 32;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace meshreduce;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t first = input.find('\0');
  if (first == std::string_view::npos) return 0;
  const std::size_t second = input.find('\0', first + 1);
  if (second == std::string_view::npos) return 0;
  const std::string_view choices = input.substr(second + 1);
  const auto choice = [&](std::size_t i) { return i < choices.size() ? static_cast<unsigned char>(choices[i]) : 0u; };
  try {
    Topology topology = topology_from_json_text(input.substr(0, first));
    if (topology.size() > kMaxDevices) return 0;
    const Workload workload = parse_workload(input.substr(first + 1, second - first - 1), "fuzz");
    if (workload.elements() > kMaxElements || workload.tensors.size() > kMaxTensors) return 0;

    const auto all = algorithms();
    CommunicatorOptions options;
    options.threads = 1;
    const unsigned pick = choice(0) % (all.size() + 1);
    options.algorithm = pick == all.size() ? "auto" : std::string(all[pick].name);
    const int devices = 1 + static_cast<int>(choice(1) % static_cast<unsigned>(topology.size()));
    for (int d = 0; d < devices; ++d) options.devices.push_back(topology.devices[static_cast<std::size_t>(d)].id);
    if (choice(2) % 2 == 1 && devices > 1) options.groups = {{0}, {}};  // one device, then the rest
    for (int d = 1; d < devices && !options.groups.empty(); ++d) options.groups[1].push_back(d);
    options.bucketing.mode = choice(3) % 3 == 0   ? BucketingMode::per_tensor
                             : choice(3) % 3 == 1 ? BucketingMode::fused
                                                  : BucketingMode::seed_packer;
    options.bucketing.fuse_bytes = 1 + choice(4) * 64;
    options.algorithm_options.chunk_elements = choice(5);
    options.topology = std::move(topology);
    const ReduceOp ops[] = {ReduceOp::sum, ReduceOp::average, ReduceOp::min, ReduceOp::max};
    const DType dtypes[] = {DType::f32, DType::f64, DType::f16, DType::bf16, DType::i32, DType::i64};
    const ReduceOp op = ops[choice(6) % 4];
    Communicator communicator(std::move(options));
    const Plan& plan = communicator.plan(workload.layout(dtypes[choice(7) % 6]), op);
    const VerifyReport report = verify_schedule(plan.schedule);
    if (!report.ok) {
      std::fprintf(stderr, "planner made an invalid schedule: %s\n", report.violation.c_str());
      std::abort();
    }
  } catch (const Error&) {
  }
  return 0;
}
