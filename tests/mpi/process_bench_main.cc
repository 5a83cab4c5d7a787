// A driver of the CLI's process backend (tools/meshreduce/process_backend.h) until `meshreduce
// bench/run --backend processes` call it: `mpirun -np K meshreduce_process_bench [flags]`.
//   --sizes 4K,64M     bytes per process (bench)      --run N,M,...   a job of tensors of N, M... elements
//   --algorithm NAME   --dtype f32   --op sum        --shared   --in-place   --compare-mpi
//   --ranks-per-node N --local-devices L   --iterations N  --warmup N  --limits-bytes B (0: no probe)
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "meshreduce/error.h"
#include "process_backend.h"

namespace {

std::int64_t parse_bytes(std::string text) {
  std::int64_t scale = 1;
  const char last = text.empty() ? '\0' : text.back();
  if (last == 'K' || last == 'M' || last == 'G') {
    scale = last == 'K' ? 1 << 10 : last == 'M' ? 1 << 20 : std::int64_t{1} << 30;
    text.pop_back();
  }
  return std::stoll(text) * scale;
}

std::vector<std::int64_t> parse_list(const std::string& text) {
  std::vector<std::int64_t> values;
  std::stringstream items(text);
  for (std::string item; std::getline(items, item, ',');) values.push_back(parse_bytes(item));
  return values;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    meshreduce::cli::ProcessBackendOptions options;
    std::vector<std::int64_t> sizes{4 << 10, 64 << 10, 1 << 20};
    std::vector<std::int64_t> run;
    for (int i = 1; i < argc; ++i) {
      const std::string flag = argv[i];
      const auto next = [&]() -> std::string {
        if (i + 1 >= argc) throw meshreduce::InvalidArgument(flag + " needs a value");
        return argv[++i];
      };
      if (flag == "--sizes") sizes = parse_list(next());
      else if (flag == "--run") run = parse_list(next());
      else if (flag == "--algorithm") options.algorithm = next();
      else if (flag == "--dtype") options.dtype = meshreduce::parse_dtype(next());
      else if (flag == "--op") options.op = meshreduce::parse_reduce_op(next());
      else if (flag == "--shared") options.shared = true;
      else if (flag == "--in-place") options.in_place = true;
      else if (flag == "--compare-mpi") options.compare_mpi = true;
      else if (flag == "--ranks-per-node") options.ranks_per_node = std::stoi(next());
      else if (flag == "--local-devices") options.local_devices = std::stoi(next());
      else if (flag == "--iterations") options.iterations = std::stoi(next());
      else if (flag == "--warmup") options.warmup = std::stoi(next());
      else if (flag == "--limits-bytes") options.limits_bytes = parse_bytes(next());
      else throw meshreduce::InvalidArgument("unknown flag " + flag);
    }
    return run.empty() ? meshreduce::cli::process_bench(options, sizes)
                       : meshreduce::cli::process_run(options, "uniform", run);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    return 1;
  }
}
