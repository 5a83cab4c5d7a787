// How many heap allocations a planned call of the process executor makes: a one-process job of
// two devices runs N out-of-place and N in-place calls of one 4 KiB layout. Run it under
// valgrind with two N; the difference in "total heap usage: ... allocs" divided by the extra
// calls is the allocations per call (docs/processes.md):
//
//   valgrind build/bench/meshreduce_call_allocations 10   2>&1 | grep 'heap usage'
//   valgrind build/bench/meshreduce_call_allocations 1010 2>&1 | grep 'heap usage'
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "bound/whole_number.h"
#include "meshreduce/bootstrap.h"
#include "meshreduce/process_communicator.h"

int main(int argc, char** argv) {
  using namespace meshreduce;
  if (argc > 2) {
    std::fprintf(stderr, "usage: %s [calls 1..10000000]\n", argv[0]);
    return 2;
  }
  const int calls = argc > 1 ? static_cast<int>(parse_whole_number(argv[1], 1, 10000000, "calls")) : 10;
  const auto directory = std::filesystem::temp_directory_path() / ("meshreduce-allocations-" + std::to_string(getpid()));
  int status = 0;
  {
    ProcessCommunicatorOptions options;
    options.local_devices = 2;
    ProcessCommunicator comm(std::make_shared<StoreBootstrap>(std::make_shared<FileStore>(directory), 0, 1), options);
    std::vector<float> a(1024, 1.0f), b(1024, 2.0f), c(1024), d(1024);
    const std::vector<std::vector<ConstTensorView>> inputs{{ConstTensorView(std::span<const float>(a))},
                                                           {ConstTensorView(std::span<const float>(b))}};
    const std::vector<std::vector<TensorView>> outputs{{TensorView(std::span(c))}, {TensorView(std::span(d))}};
    for (int i = 0; i < calls; ++i) comm.allreduce(inputs, outputs, ReduceOp::sum);
    for (int i = 0; i < calls; ++i) comm.allreduce(outputs, ReduceOp::sum);  // in place: 3 * 2^calls, exact below 2^24
    status = c[0] == 3.0f * static_cast<float>(1 << std::min(calls, 20)) || calls > 20 ? 0 : 1;
  }
  std::filesystem::remove_all(directory);
  return status;
}
