// `meshreduce bench --backend processes` and `meshreduce run --backend processes`: the process
// executor, one process per rank. Under mpirun (a CLI built with MPI) the ranks find each other
// through MPI_COMM_WORLD, and ranks on different machines (or emulated ones, --ranks-per-node)
// exchange data over MPI; launched alone it is a job of one process.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "meshreduce/communicator.h"
#include "meshreduce/types.h"
#include "stream_probe.h"

namespace meshreduce::cli {

// The flags that choose the executor, registered on bench and run (add_backend_flags) and
// checked with the others before any work (arg_checks.h, check_backend).
struct BackendFlags {
  std::string backend = "threads";  // threads | processes
  bool shared = false;              // buffers from the communicator's shared arena (zero copies)
  int ranks_per_node = 0;           // emulated machines; 0 = by host name
  int local_devices = 1;            // devices per process
  bool compare_mpi = false;         // bench: also time MPI_Allreduce on the same buffers
  double timeout_s = 60;            // deadline of every wait of the process executor
  double network_gbps = 100;        // each machine's port, Gbit/s: what auto plans with across machines
  std::string staging_window = "1M";  // ProcessCommunicatorOptions::staging_window_bytes (0: none)
};
// --staging-window in bytes (checked by check_backend before any work).
std::int64_t staging_window_bytes(const BackendFlags& flags);
void add_backend_flags(CLI::App& command, BackendFlags& flags, bool bench);
// Devices whose buffers this machine holds: --local-devices x the ranks mpirun started on it
// (OMPI_COMM_WORLD_LOCAL_SIZE; 1 when launched alone), for the memory checks before a run.
int devices_on_this_machine(const BackendFlags& flags);

struct ProcessBackendOptions {
  BackendFlags flags;
  std::string algorithm = "auto";
  DType dtype = DType::f32;
  ReduceOp op = ReduceOp::sum;
  // From the job flags (--chunk-elements, --bucketing, --stream-min), as the thread backend's.
  AlgorithmOptions algorithm_options;
  BucketingOptions bucketing;
  std::int64_t stream_min_bytes = std::int64_t{32} << 20;
  bool reproducible = false;  // --reproducible: ProcessCommunicatorOptions::reproducible
  bool in_place = false;  // run: reduce in place (bench measures both)
  int warmup = 3;
  int iterations = 10;
  bool json = false;  // bench: the schema of `meshreduce bench --json`
  std::int64_t probe_bytes = std::int64_t{512} << 20;  // bench: memory of the streaming probe; 0 = none
  int probe_threads = 0;                               // bench: the probe's threads (0: all)
  int probe_rounds = kProbeRounds;                     // bench: timed rounds per probe kernel
};

// The job's options from the thread backend's: algorithm, chunking, bucketing, stream threshold.
ProcessBackendOptions process_backend_options(const BackendFlags& flags, const std::string& algorithm,
                                              const CommunicatorOptions& threads);

// nccl-tests rows on rank 0 (out of place and in place side by side: time, algbw, busbw, #wrong
// and the fraction of the streaming bound t >= 2 K S / B, B measured by rank 0 in the same run),
// every rank checking every element of every call it checks bit for bit. Returns the process
// exit status: 0 when no element was wrong anywhere.
int process_bench(const ProcessBackendOptions& options, const std::vector<std::int64_t>& bytes_per_process);

// One job of a workload's tensors timed over the iterations and checked bit for bit on every
// rank, reported by rank 0. Returns the exit status.
int process_run(const ProcessBackendOptions& options, const std::string& workload_name,
                const std::vector<std::int64_t>& tensor_elements);

}  // namespace meshreduce::cli
