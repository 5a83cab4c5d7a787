// `meshreduce bench --backend processes` and `meshreduce run --backend processes`: the process
// executor, one process per rank. Under mpirun (a CLI built with MPI) the ranks find each other
// through MPI_COMM_WORLD, and ranks on different machines (or emulated ones, --ranks-per-node)
// exchange data over MPI; launched alone it is a job of one process.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "meshreduce/types.h"

namespace meshreduce::cli {

struct ProcessBackendOptions {
  std::string algorithm = "auto";
  DType dtype = DType::f32;
  ReduceOp op = ReduceOp::sum;
  int local_devices = 1;   // devices per process
  int ranks_per_node = 0;  // emulated machines; 0 = by host name
  bool shared = false;     // buffers from the communicator's shared arena (zero copies)
  bool in_place = false;
  int warmup = 3;
  int iterations = 10;
  double timeout_s = 60;
  bool compare_mpi = false;  // bench: also time MPI_Allreduce on the same buffers (CLI built with MPI)
  std::int64_t limits_bytes = std::int64_t{64} << 20;  // bench: buffer size of the bandwidth probe; 0 = none
};

// nccl-tests rows on rank 0 (size, count, time, algbw, busbw, #wrong, and the fraction of the
// streaming bound busbw <= B (K-1)/K^2, B measured in the same run), every rank checking every
// element bit for bit. Returns the process exit status: 0 when no element was wrong anywhere.
int process_bench(const ProcessBackendOptions& options, const std::vector<std::int64_t>& bytes_per_process);

// One job of `layout` (a workload's tensors) timed over the iterations and checked bit for bit
// on every rank, reported by rank 0. Returns the exit status.
int process_run(const ProcessBackendOptions& options, const std::string& workload_name,
                const std::vector<std::int64_t>& tensor_elements);

}  // namespace meshreduce::cli
