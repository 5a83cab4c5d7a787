// Shared by the process executor's tests (forked in the gtest program, and under mpirun): one
// allreduce job on a ProcessCommunicator, checked bitwise against a thread Communicator that runs
// the whole job (all K devices' data, which every process can build) with the same schedule.
#pragma once

#include <cstring>
#include <string>
#include <vector>

#include "meshreduce/meshreduce.h"
#include "meshreduce/process_communicator.h"
#include "test_support.h"

namespace meshreduce::testing {

struct ProcessJob {
  DType dtype = DType::f32;
  ReduceOp op = ReduceOp::sum;
  bool in_place = false;
  bool shared = false;  // buffers from the communicator's shared arena
  std::vector<std::int64_t> counts{1000, 3, 70000};
  std::vector<DType> dtypes{};  // per tensor, for a layout of mixed types; empty: `dtype` for all
  // With `shared`: only the buffers of alternate (device, tensor, input | output) come from the
  // arena, so one call mixes both kinds within a process and across processes.
  bool alternate = false;
  // Mixed into the inputs: calls with different seeds have different results, so one that
  // returned what an earlier call left behind (stale staging or results) fails.
  int seed = 0;
  DType dtype_of(std::size_t tensor) const { return dtypes.empty() ? dtype : dtypes[tensor]; }
};

// Small integers, different per (device, tensor, element): every sum of up to 8 of them is exact
// in every dtype (|sum| <= 240 < 256, bf16's exact integer range).
inline double job_value(int device, int tensor, std::int64_t i, int seed = 0) {
  return static_cast<double>((device * 7 + tensor * 13 + i * 5 + i / 61 + seed * 11) % 61 - 30);
}

inline std::string describe(const ProcessJob& job, const std::string& algorithm) {
  std::string types;
  for (std::size_t n = 0; n < job.dtypes.size(); ++n) types += (n ? "," : "") + std::string(dtype_name(job.dtypes[n]));
  return algorithm + " " + (types.empty() ? std::string(dtype_name(job.dtype)) : types) + " " + std::string(reduce_op_name(job.op)) +
         (job.in_place ? " in place" : " out of place") + (job.shared ? (job.alternate ? " alternately shared and private" : " shared") : " private");
}

// The reference: every device's outputs from the thread executor with the same schedule.
inline std::vector<std::vector<Bytes>> thread_reference(const ProcessCommunicator& comm, const ProcessJob& job) {
  const int devices = comm.size();
  const auto& options = comm.options();
  CommunicatorOptions reference;
  reference.devices = iota_devices(devices);
  reference.algorithm = options.algorithm;
  reference.algorithm_options = options.algorithm_options;
  reference.bucketing = options.bucketing;
  reference.groups = comm.groups();
  reference.piece_elements = options.piece_elements;
  reference.stream_min_bytes = options.stream_min_bytes;
  reference.threads = 1;
  Communicator threads(reference);
  std::vector<std::vector<Bytes>> in(static_cast<std::size_t>(devices)), out(static_cast<std::size_t>(devices));
  std::vector<std::vector<ConstTensorView>> inputs(static_cast<std::size_t>(devices));
  std::vector<std::vector<TensorView>> outputs(static_cast<std::size_t>(devices));
  for (int d = 0; d < devices; ++d)
    for (std::size_t n = 0; n < job.counts.size(); ++n) {
      const std::int64_t count = job.counts[n];
      const DType dtype = job.dtype_of(n);
      const std::size_t element = dtype_size(dtype);
      auto& input = in[static_cast<std::size_t>(d)].emplace_back(static_cast<std::size_t>(count) * element);
      auto& output = out[static_cast<std::size_t>(d)].emplace_back(static_cast<std::size_t>(count) * element);
      for (std::int64_t i = 0; i < count; ++i)
        store_value(input.data(), i, dtype, job_value(d, static_cast<int>(n), i, job.seed));
      inputs[static_cast<std::size_t>(d)].emplace_back(input.data(), count, dtype);
      outputs[static_cast<std::size_t>(d)].emplace_back(output.data(), count, dtype);
    }
  threads.allreduce(inputs, outputs, job.op);
  return out;
}

// Runs the job on this process's devices; "" when every output is bitwise the reference's and
// out-of-place inputs are untouched, else the first difference.
inline std::string run_process_job(ProcessCommunicator& comm, const ProcessJob& job) {
  const auto expected = thread_reference(comm, job);
  const int locals = comm.options().local_devices;
  std::vector<std::vector<std::byte*>> in(static_cast<std::size_t>(locals)), out(static_cast<std::size_t>(locals));
  std::vector<Bytes> storage;
  std::vector<void*> shared;
  storage.reserve(2 * static_cast<std::size_t>(locals) * job.counts.size());
  const auto buffer = [&](std::size_t bytes, int parity) -> std::byte* {
    if (job.shared && (!job.alternate || parity % 2 == 0))
      return static_cast<std::byte*>(shared.emplace_back(comm.allocate_shared(static_cast<std::int64_t>(bytes))));
    return storage.emplace_back(bytes).data();
  };
  std::vector<std::vector<ConstTensorView>> inputs(static_cast<std::size_t>(locals));
  std::vector<std::vector<TensorView>> outputs(static_cast<std::size_t>(locals));
  for (int l = 0; l < locals; ++l)
    for (std::size_t n = 0; n < job.counts.size(); ++n) {
      const std::int64_t count = job.counts[n];
      const DType dtype = job.dtype_of(n);
      const auto bytes = static_cast<std::size_t>(count) * dtype_size(dtype);
      const int parity = comm.first_device() + l + static_cast<int>(n);
      std::byte* input = buffer(bytes, parity);
      std::byte* output = job.in_place ? input : buffer(bytes, parity + 1);
      for (std::int64_t i = 0; i < count; ++i)
        store_value(input, i, dtype, job_value(comm.first_device() + l, static_cast<int>(n), i, job.seed));
      if (!job.in_place) std::memset(output, 0x5a, bytes);
      in[static_cast<std::size_t>(l)].push_back(input);
      out[static_cast<std::size_t>(l)].push_back(output);
      inputs[static_cast<std::size_t>(l)].emplace_back(input, count, dtype);
      outputs[static_cast<std::size_t>(l)].emplace_back(output, count, dtype);
    }
  comm.allreduce(inputs, outputs, job.op);
  std::string problem;
  for (int l = 0; l < locals && problem.empty(); ++l)
    for (std::size_t n = 0; n < job.counts.size() && problem.empty(); ++n) {
      const int device = comm.first_device() + l;
      const Bytes& want = expected[static_cast<std::size_t>(device)][n];
      const std::byte* got = out[static_cast<std::size_t>(l)][n];
      const DType dtype = job.dtype_of(n);
      const std::size_t element = dtype_size(dtype);
      for (std::int64_t i = 0; i < job.counts[n]; ++i) {
        if (std::memcmp(got + i * static_cast<std::int64_t>(element), want.data() + i * static_cast<std::int64_t>(element),
                        element) == 0)
          continue;
        problem = "device " + std::to_string(device) + " tensor " + std::to_string(n) + " element " + std::to_string(i) +
                  ": got " + std::to_string(load_value(got, i, dtype)) + ", threads " +
                  std::to_string(load_value(want.data(), i, dtype));
        break;
      }
      if (!job.in_place && problem.empty())
        for (std::int64_t i = 0; i < job.counts[n]; ++i)
          if (load_value(in[static_cast<std::size_t>(l)][n], i, dtype) != job_value(device, static_cast<int>(n), i, job.seed)) {
            problem = "device " + std::to_string(device) + " tensor " + std::to_string(n) + " input changed at " +
                      std::to_string(i);
            break;
          }
    }
  for (void* block : shared) comm.free_shared(block);
  return problem.empty() ? problem : describe(job, comm.options().algorithm) + ": " + problem;
}

}  // namespace meshreduce::testing
