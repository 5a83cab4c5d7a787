// The process backend of `bench` and `run`. Test data are small integers, different per (rank,
// device, tensor, element), so every sum is exact in any order and each rank can compute the
// expected bits of its outputs itself (for up to 8 devices in bf16, more in the wider types).
#include "process_backend.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <thread>

#include "core/half.h"
#include "meshreduce/error.h"
#include "meshreduce/process_communicator.h"
#ifdef MESHREDUCE_HAVE_MPI
#include "meshreduce/bootstrap_mpi.h"
#endif

namespace meshreduce::cli {
namespace {

using Clock = std::chrono::steady_clock;

// nccl-tests' definitions (kept here so that this file needs only the library).
double algbw_gbps(std::int64_t bytes, double seconds) { return seconds > 0 ? static_cast<double>(bytes) / seconds / 1e9 : 0; }
double busbw_gbps(std::int64_t bytes, double seconds, int devices) {
  return devices > 0 ? algbw_gbps(bytes, seconds) * 2.0 * (devices - 1) / devices : 0;
}
double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const std::size_t mid = values.size() / 2;
  return values.size() % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}
// B for the streaming bound: bytes read + written per second by copies on every core at once,
// pages touched before timing; the fastest of `repeats` runs (B is what the machine can do: on a
// shared machine the slower runs measure the neighbours), each timed from the release of all
// threads to the last one's end.
double measure_streaming_gbps(std::int64_t bytes, int repeats) {
  const int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const auto share = static_cast<std::size_t>(std::max<std::int64_t>(bytes / threads, 4096));
  std::vector<std::vector<std::byte>> from, to;
  for (int t = 0; t < threads; ++t) {
    from.emplace_back(share, std::byte{1});
    to.emplace_back(share, std::byte{0});
  }
  std::vector<double> seconds;
  for (int r = 0; r < repeats; ++r) {
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
      workers.emplace_back([&, t] {
        ready.fetch_add(1);
        while (!go.load()) std::this_thread::yield();
        std::memcpy(to[static_cast<std::size_t>(t)].data(), from[static_cast<std::size_t>(t)].data(), share);
      });
    while (ready.load() < threads) std::this_thread::yield();
    const auto start = Clock::now();
    go.store(true);
    for (auto& worker : workers) worker.join();
    seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  return 2.0 * static_cast<double>(share) * threads / *std::min_element(seconds.begin(), seconds.end()) / 1e9;
}

std::string describe_groups(const std::vector<std::vector<int>>& groups) {
  if (groups.empty()) return "none";
  std::string text;
  for (const auto& group : groups) {
    text += "{";
    for (std::size_t i = 0; i < group.size(); ++i) text += (i ? "," : "") + std::to_string(group[i]);
    text += "} ";
  }
  text.pop_back();
  return text;
}

bool launched_by_mpirun() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr || std::getenv("PMI_SIZE") != nullptr;
}

// The job's processes: MPI under mpirun, else this process alone (a file store of one).
class Job {
 public:
  Job() {
#ifdef MESHREDUCE_HAVE_MPI
    if (launched_by_mpirun()) {
      MPI_Init(nullptr, nullptr);
      mpi_ = true;
      bootstrap = std::make_shared<MpiBootstrap>();
      transport = std::make_shared<MpiTransport>();
      return;
    }
#endif
    std::string pattern = (std::filesystem::temp_directory_path() / "meshreduce-job-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw Error("cannot create a directory for the job's file store");
    directory_ = pattern;
    bootstrap = std::make_shared<StoreBootstrap>(std::make_shared<FileStore>(directory_), 0, 1);
  }
  ~Job() {
    bootstrap.reset();
    transport.reset();
#ifdef MESHREDUCE_HAVE_MPI
    if (mpi_) MPI_Finalize();
#endif
    std::error_code ignored;
    if (!directory_.empty()) std::filesystem::remove_all(directory_, ignored);
  }
  Job(const Job&) = delete;
  Job& operator=(const Job&) = delete;
  bool mpi() const { return mpi_; }

  std::shared_ptr<Bootstrap> bootstrap;
  std::shared_ptr<Transport> transport;

 private:
  bool mpi_ = false;
  std::filesystem::path directory_;
};

double value(int device, int tensor, std::int64_t i) {
  return static_cast<double>((device * 7 + tensor * 13 + i * 5 + i / 61) % 61 - 30);
}

void store(std::byte* base, std::int64_t i, DType dtype, double v) {
  std::byte* at = base + static_cast<std::size_t>(i) * dtype_size(dtype);
  switch (dtype) {
    case DType::f32: { const auto x = static_cast<float>(v); std::memcpy(at, &x, 4); return; }
    case DType::f64: { std::memcpy(at, &v, 8); return; }
    case DType::f16: { const auto x = detail::f32_to_f16(static_cast<float>(v)); std::memcpy(at, &x, 2); return; }
    case DType::bf16: { const auto x = detail::f32_to_bf16(static_cast<float>(v)); std::memcpy(at, &x, 2); return; }
    case DType::i32: { const auto x = static_cast<std::int32_t>(v); std::memcpy(at, &x, 4); return; }
    case DType::i64: { const auto x = static_cast<std::int64_t>(v); std::memcpy(at, &x, 8); return; }
  }
}

// The value whose store() gives the expected bits of element i of tensor n, as the kernels
// define the op (kernels.h): exact sums, then for the average of floating types a product with
// 1/K in the accumulator type (f32 for f16/bf16, rounded once when stored).
double expected_value(std::int64_t i, int tensor, DType dtype, ReduceOp op, int devices) {
  double sum = 0, low = value(0, tensor, i), high = low;
  for (int d = 0; d < devices; ++d) {
    const double v = value(d, tensor, i);
    sum += v;
    low = std::min(low, v);
    high = std::max(high, v);
  }
  if (op == ReduceOp::min) return low;
  if (op == ReduceOp::max) return high;
  if (op == ReduceOp::sum) return sum;
  switch (dtype) {
    case DType::f64: return sum * (1.0 / devices);
    case DType::i32:
    case DType::i64: return static_cast<double>(static_cast<std::int64_t>(sum) / devices);
    default: return static_cast<double>(static_cast<float>(sum) * static_cast<float>(1.0 / devices));
  }
}

// Buffers of one layout on this process's devices: private, or in the shared arena.
class Buffers {
 public:
  Buffers(ProcessCommunicator& comm, const std::vector<std::int64_t>& counts, const ProcessBackendOptions& options)
      : comm_(comm), counts_(counts), options_(options) {
    const int locals = options.local_devices;
    for (int l = 0; l < locals; ++l) {
      inputs_.emplace_back();
      outputs_.emplace_back();
      for (std::size_t n = 0; n < counts.size(); ++n) {
        const auto bytes = static_cast<std::int64_t>(static_cast<std::size_t>(counts[n]) * dtype_size(options.dtype));
        std::byte* input = allocate(bytes);
        std::byte* output = options.in_place ? input : allocate(bytes);
        inputs_.back().emplace_back(input, counts[n], options.dtype);
        outputs_.back().emplace_back(output, counts[n], options.dtype);
      }
    }
    reset();
  }
  ~Buffers() {
    for (void* block : shared_) comm_.free_shared(block);
  }
  Buffers(const Buffers&) = delete;
  Buffers& operator=(const Buffers&) = delete;

  void reset() {
    for (std::size_t l = 0; l < inputs_.size(); ++l)
      for (std::size_t n = 0; n < counts_.size(); ++n)
        for (std::int64_t i = 0; i < counts_[n]; ++i)
          store(static_cast<std::byte*>(const_cast<void*>(inputs_[l][n].data)), i, options_.dtype,
                value(comm_.first_device() + static_cast<int>(l), static_cast<int>(n), i));
  }
  void run(ReduceOp op) {
    if (options_.in_place) comm_.allreduce(outputs_, op);
    else comm_.allreduce(inputs_, outputs_, op);
  }
  std::int64_t count_wrong(ReduceOp op) const {
    std::int64_t wrong = 0;
    std::byte want[8] = {};
    const std::size_t element = dtype_size(options_.dtype);
    for (const auto& device : outputs_)
      for (std::size_t n = 0; n < counts_.size(); ++n)
        for (std::int64_t i = 0; i < counts_[n]; ++i) {
          store(want, 0, options_.dtype, expected_value(i, static_cast<int>(n), options_.dtype, op, comm_.size()));
          wrong += std::memcmp(static_cast<const std::byte*>(device[n].data) + static_cast<std::size_t>(i) * element,
                               want, element) != 0;
        }
    return wrong;
  }
  const std::vector<std::vector<ConstTensorView>>& inputs() const { return inputs_; }
  const std::vector<std::vector<TensorView>>& outputs() const { return outputs_; }
  std::int64_t bytes_per_device() const {
    std::int64_t bytes = 0;
    for (std::int64_t count : counts_) bytes += count * static_cast<std::int64_t>(dtype_size(options_.dtype));
    return bytes;
  }

 private:
  std::byte* allocate(std::int64_t bytes) {
    if (options_.shared) return static_cast<std::byte*>(shared_.emplace_back(comm_.allocate_shared(bytes)));
    return private_.emplace_back(std::make_unique<std::byte[]>(static_cast<std::size_t>(bytes))).get();
  }

  ProcessCommunicator& comm_;
  std::vector<std::int64_t> counts_;
  ProcessBackendOptions options_;
  std::vector<std::unique_ptr<std::byte[]>> private_;
  std::vector<void*> shared_;
  std::vector<std::vector<ConstTensorView>> inputs_;
  std::vector<std::vector<TensorView>> outputs_;
};

ProcessCommunicatorOptions communicator_options(const ProcessBackendOptions& options, std::int64_t arena_bytes,
                                                const Job& job) {
  ProcessCommunicatorOptions result;
  result.algorithm = options.algorithm;
  result.local_devices = options.local_devices;
  result.ranks_per_node = options.ranks_per_node;
  result.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(options.timeout_s * 1000));
  result.shared_arena_bytes = options.shared ? arena_bytes : 0;
  result.transport = job.transport;
  return result;
}

// Median seconds of this rank's calls, each started together with every rank's.
struct Timing {
  double median_s = 0;
  std::int64_t wrong = 0;
};

template <typename Call>
std::vector<double> timed(Bootstrap& bootstrap, Milliseconds timeout, int warmup, int iterations, Call&& call) {
  std::vector<double> seconds;
  for (int i = 0; i < warmup + iterations; ++i) {
    bootstrap.barrier(timeout);
    const auto start = Clock::now();
    call(i);
    const std::chrono::duration<double> elapsed = Clock::now() - start;
    if (i >= warmup) seconds.push_back(elapsed.count());
  }
  return seconds;
}

// The slowest rank's median and the sum of every rank's wrong elements.
Timing across_ranks(Bootstrap& bootstrap, Milliseconds timeout, double median_s, std::int64_t wrong) {
  Timing all;
  for (const std::string& blob : bootstrap.all_gather(std::to_string(median_s) + " " + std::to_string(wrong), timeout)) {
    const auto space = blob.find(' ');
    all.median_s = std::max(all.median_s, std::stod(blob.substr(0, space)));
    all.wrong += std::stoll(blob.substr(space + 1));
  }
  return all;
}

#ifdef MESHREDUCE_HAVE_MPI
MPI_Datatype mpi_type(DType dtype) {
  switch (dtype) {
    case DType::f32: return MPI_FLOAT;
    case DType::f64: return MPI_DOUBLE;
    case DType::i32: return MPI_INT32_T;
    case DType::i64: return MPI_INT64_T;
    default: return MPI_DATATYPE_NULL;
  }
}
#endif

}  // namespace

int process_bench(const ProcessBackendOptions& options, const std::vector<std::int64_t>& bytes_per_process) {
  Job job;
  Bootstrap& bootstrap = *job.bootstrap;
  const auto timeout = std::chrono::milliseconds(static_cast<std::int64_t>(options.timeout_s * 1000));
  const std::int64_t largest = bytes_per_process.empty() ? 0 : *std::max_element(bytes_per_process.begin(), bytes_per_process.end());
  ProcessCommunicator comm(job.bootstrap, communicator_options(options, 2 * largest * options.local_devices + (1 << 20), job));
  const int rank = comm.rank();
  const int devices = comm.size();

  // B: the machine's streaming bandwidth (bytes read + written per second by a copy on all
  // cores), measured once by rank 0 while the others wait, in the same run as the sweep.
  double streaming_gbps = 0;
  if (options.limits_bytes > 0 && rank == 0)
    streaming_gbps = measure_streaming_gbps(options.limits_bytes, 10);
  bootstrap.barrier(timeout);
  const double bound = streaming_gbps * (devices - 1) / (static_cast<double>(devices) * devices);
  if (rank == 0) {
    std::printf("# meshreduce bench --backend processes: %s, %d processes x %d devices on %d machine(s), %s %s, %s %s buffers\n",
                options.algorithm.c_str(), comm.processes(), options.local_devices, comm.machines(),
                std::string(dtype_name(options.dtype)).c_str(), std::string(reduce_op_name(options.op)).c_str(),
                options.in_place ? "in place," : "out of place,", options.shared ? "shared" : "private");
    if (bound > 0)
      std::printf("# streaming bound: busbw <= B (K-1)/K^2 = %.2f GB/s (B = %.2f GB/s read+written by a copy on all "
                  "cores; K = %d)%s\n",
                  bound, streaming_gbps, devices, options.shared ? "" : "; private buffers are copied in and out: ~0.4 of it");
    std::printf("#%13s %12s %12s %10s %10s %8s %9s%s\n", "size (B)", "count", "time (us)", "algbw", "busbw", "#wrong",
                "of bound", options.compare_mpi ? "   MPI_Allreduce busbw" : "");
  }
  std::int64_t total_wrong = 0;
  for (const std::int64_t bytes : bytes_per_process) {
    const std::int64_t count = std::max<std::int64_t>(bytes / static_cast<std::int64_t>(dtype_size(options.dtype)), 1);
    Buffers buffers(comm, {count}, options);
    const auto seconds = timed(bootstrap, timeout, options.warmup, options.iterations, [&](int i) {
      if (options.in_place && i > 0) buffers.reset();  // outside the clock would need a second barrier
      buffers.run(options.op);
    });
    if (options.in_place) {
      buffers.reset();
      buffers.run(options.op);
    }
    const Timing timing = across_ranks(bootstrap, timeout, median(seconds), buffers.count_wrong(options.op));
    total_wrong += timing.wrong;
    double mpi_busbw = 0;
#ifdef MESHREDUCE_HAVE_MPI
    if (options.compare_mpi && job.mpi() && options.local_devices == 1 && options.op == ReduceOp::sum &&
        mpi_type(options.dtype) != MPI_DATATYPE_NULL) {
      std::vector<std::byte> out(static_cast<std::size_t>(buffers.bytes_per_device()));
      const auto mpi_seconds = timed(bootstrap, timeout, options.warmup, options.iterations, [&](int) {
        MPI_Allreduce(buffers.inputs()[0][0].data, out.data(), static_cast<int>(count), mpi_type(options.dtype), MPI_SUM,
                      MPI_COMM_WORLD);
      });
      mpi_busbw = busbw_gbps(buffers.bytes_per_device(), across_ranks(bootstrap, timeout, median(mpi_seconds), 0).median_s,
                             devices);
    }
#endif
    if (rank == 0) {
      const double busbw = busbw_gbps(buffers.bytes_per_device(), timing.median_s, devices);
      std::printf(" %13lld %12lld %12.1f %10.2f %10.2f %8lld", static_cast<long long>(buffers.bytes_per_device()),
                  static_cast<long long>(count), timing.median_s * 1e6,
                  algbw_gbps(buffers.bytes_per_device(), timing.median_s), busbw, static_cast<long long>(timing.wrong));
      if (bound > 0) std::printf(" %8.0f%%", 100 * busbw / bound);
      if (mpi_busbw > 0) std::printf(" %21.2f", mpi_busbw);
      std::printf("\n");
      std::fflush(stdout);
    }
  }
  if (rank == 0)
    std::printf("# out of bounds values : %lld %s\n", static_cast<long long>(total_wrong), total_wrong == 0 ? "OK" : "FAILED");
  return total_wrong == 0 ? 0 : 1;
}

int process_run(const ProcessBackendOptions& options, const std::string& workload_name,
                const std::vector<std::int64_t>& tensor_elements) {
  Job job;
  Bootstrap& bootstrap = *job.bootstrap;
  const auto timeout = std::chrono::milliseconds(static_cast<std::int64_t>(options.timeout_s * 1000));
  std::int64_t bytes = 0;
  for (std::int64_t count : tensor_elements) bytes += count * static_cast<std::int64_t>(dtype_size(options.dtype)) + 64;
  ProcessCommunicator comm(job.bootstrap, communicator_options(options, 2 * bytes * options.local_devices + (1 << 20), job));
  Buffers buffers(comm, tensor_elements, options);
  const auto seconds = timed(bootstrap, timeout, options.warmup, options.iterations, [&](int i) {
    if (options.in_place && i > 0) buffers.reset();
    buffers.run(options.op);
  });
  const Timing timing = across_ranks(bootstrap, timeout, median(seconds), buffers.count_wrong(options.op));
  if (comm.rank() == 0) {
    const std::vector<TensorSpec> layout = [&] {
      std::vector<TensorSpec> specs;
      for (std::int64_t count : tensor_elements) specs.push_back({count, options.dtype});
      return specs;
    }();
    const Plan& plan = comm.plan(layout, options.op);
    std::printf("meshreduce run --backend processes: %s, %d processes x %d devices on %d machine(s) (groups %s), %s: "
                "%zu tensors, %.2f MiB per device\n",
                options.algorithm.c_str(), comm.processes(), options.local_devices, comm.machines(),
                describe_groups(comm.groups()).c_str(), workload_name.c_str(), tensor_elements.size(),
                static_cast<double>(buffers.bytes_per_device()) / (1 << 20));
    std::printf("  %s %s, %s, %s buffers, %zu buckets, %zu steps, %d iterations after %d warm-up\n",
                std::string(dtype_name(options.dtype)).c_str(), std::string(reduce_op_name(options.op)).c_str(),
                options.in_place ? "in place" : "out of place", options.shared ? "shared" : "private",
                plan.buckets.size(), plan.schedule.steps.size(), options.iterations, options.warmup);
    std::printf("  time %.3f ms (median of the slowest rank), algbw %.2f GB/s, busbw %.2f GB/s\n", timing.median_s * 1e3,
                algbw_gbps(buffers.bytes_per_device(), timing.median_s),
                busbw_gbps(buffers.bytes_per_device(), timing.median_s, comm.size()));
    if (timing.wrong == 0)
      std::printf("  verified: every element of all %d devices equals the exact %s, bit for bit\n", comm.size(),
                  std::string(reduce_op_name(options.op)).c_str());
    else
      std::printf("  WRONG: %lld elements differ from the exact result\n", static_cast<long long>(timing.wrong));
  } else {
    std::vector<TensorSpec> layout;
    for (std::int64_t count : tensor_elements) layout.push_back({count, options.dtype});
    comm.plan(layout, options.op);  // collective only the first time: the layout is planned already
  }
  return timing.wrong == 0 ? 0 : 1;
}

}  // namespace meshreduce::cli
