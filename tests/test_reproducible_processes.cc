// Reproducible mode on the process executor: 1, 2 and 4 processes (and several devices per
// process) give the bits of the thread communicator's reproducible mode, for every algorithm.
#include <gtest/gtest.h>

#include <chrono>
#include <iterator>
#include <numeric>
#include <string>
#include <vector>

#include "meshreduce/communicator.h"
#include "meshreduce/process_communicator.h"
#include "process_fork.h"
#include "reproducible_data.h"

namespace meshreduce::testing::repro {
namespace {

using namespace std::chrono_literals;
using Bytes = std::vector<std::uint8_t>;

constexpr int kDevices = 8;
constexpr std::int64_t kCount = 3001;

// The thread communicator's reproducible result for all devices' inputs (any algorithm gives
// the same: test_reproducible.cc).
Bytes thread_result(DType dtype, ReduceOp op, const std::vector<Bytes>& inputs) {
  CommunicatorOptions options;
  options.devices.resize(kDevices);
  std::iota(options.devices.begin(), options.devices.end(), 0);
  options.algorithm = "direct";
  options.reproducible = true;
  Communicator communicator(std::move(options));
  std::vector<Bytes> outputs(kDevices, Bytes(inputs[0].size()));
  std::vector<std::vector<ConstTensorView>> in(kDevices);
  std::vector<std::vector<TensorView>> out(kDevices);
  for (std::size_t k = 0; k < kDevices; ++k) {
    in[k].emplace_back(inputs[k].data(), kCount, dtype);
    out[k].emplace_back(outputs[k].data(), kCount, dtype);
  }
  communicator.allreduce(in, out, op);
  return outputs[0];
}

std::string run_rank(int rank, int processes, std::shared_ptr<Bootstrap> bootstrap) {
  const int local = kDevices / processes;
  const DType dtypes[] = {DType::f32, DType::f64, DType::f16, DType::bf16};
  const ReduceOp ops[] = {ReduceOp::sum, ReduceOp::average};
  std::vector<std::vector<Bytes>> inputs_of;  // per dtype
  std::vector<Bytes> wants;                   // per dtype and op
  for (DType dtype : dtypes) {
    inputs_of.push_back(make_inputs(dtype, kDevices, kCount, 4242));
    for (ReduceOp op : ops) wants.push_back(thread_result(dtype, op, inputs_of.back()));
  }
  for (const std::string algorithm : {"auto", "ring", "hierarchical", "direct", "tree"}) {
    ProcessCommunicatorOptions options;
    options.local_devices = local;
    options.algorithm = algorithm;
    options.reproducible = true;
    options.piece_elements = 500;
    options.timeout = 20s;
    ProcessCommunicator comm(bootstrap, options);
    for (std::size_t t = 0; t < std::size(dtypes); ++t)
      for (std::size_t o = 0; o < std::size(ops); ++o) {
        const DType dtype = dtypes[t];
        const ReduceOp op = ops[o];
        const auto& inputs = inputs_of[t];
        const Bytes& want = wants[t * std::size(ops) + o];
        std::vector<Bytes> outputs(static_cast<std::size_t>(local), Bytes(inputs[0].size()));
        std::vector<std::vector<ConstTensorView>> in(static_cast<std::size_t>(local));
        std::vector<std::vector<TensorView>> out(static_cast<std::size_t>(local));
        for (int l = 0; l < local; ++l) {
          in[static_cast<std::size_t>(l)].emplace_back(inputs[static_cast<std::size_t>(rank * local + l)].data(), kCount, dtype);
          out[static_cast<std::size_t>(l)].emplace_back(outputs[static_cast<std::size_t>(l)].data(), kCount, dtype);
        }
        comm.allreduce(in, out, op);
        for (int l = 0; l < local; ++l)
          if (outputs[static_cast<std::size_t>(l)] != want)
            return algorithm + " " + std::string(dtype_name(dtype)) + " " + std::string(reduce_op_name(op)) +
                   ": device " + std::to_string(rank * local + l) + " differs from the thread result";
      }
  }
  return "ok";
}

void expect_processes_match_threads(int processes) {
  const auto results = run_forked(processes, [&](int rank, std::shared_ptr<Bootstrap> bootstrap) {
    return run_rank(rank, processes, std::move(bootstrap));
  });
  for (std::size_t r = 0; r < results.size(); ++r) {
    EXPECT_TRUE(results[r].exited) << "rank " << r;
    EXPECT_EQ(results[r].text, "ok") << "rank " << r;
  }
}

TEST(ReproducibleProcesses, OneProcessOfEightDevicesMatchesThreads) { expect_processes_match_threads(1); }
TEST(ReproducibleProcesses, TwoProcessesOfFourDevicesMatchThreads) { expect_processes_match_threads(2); }
TEST(ReproducibleProcesses, FourProcessesOfTwoDevicesMatchThreads) { expect_processes_match_threads(4); }

TEST(ReproducibleProcesses, ProcessesThatDisagreeOnTheModeFailOnEveryProcess) {
  const auto results = run_forked(2, [](int rank, std::shared_ptr<Bootstrap> bootstrap) -> std::string {
    ProcessCommunicatorOptions options;
    options.reproducible = rank == 0;
    options.timeout = 10s;
    try {
      ProcessCommunicator comm(bootstrap, options);
    } catch (const InvalidArgument& error) {
      return std::string(error.what()).find("reproducible") != std::string::npos ? "rejected" : error.what();
    }
    return "accepted";
  });
  for (std::size_t r = 0; r < results.size(); ++r) EXPECT_EQ(results[r].text, "rejected") << "rank " << r;
}

}  // namespace
}  // namespace meshreduce::testing::repro
