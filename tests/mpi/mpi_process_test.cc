// The process executor under mpirun, bootstrapped by MPI_COMM_WORLD. Suites (--suite):
//   all       every algorithm that serves K devices; every dtype in and out of place, private and
//             shared buffers; bitwise equal to the thread executor (each rank runs the whole job
//             on threads itself), and integer sums equal to MPI_Allreduce's;
//   mismatch  the last rank's layout differs: every rank must fail naming both ranks and values;
//   timeout   the last rank never calls: every other rank must fail naming it, within the timeout;
//   repeat    a flat ring over the emulated machines, many calls of 4 MiB per rank in messages of
//             256 KiB (the default piece), each call's outputs checked: run over Open MPI's TCP
//             transport it stopped in about half the runs before prepare_mpi_environment().
// --ranks-per-node N groups the processes into emulated machines: they share memory only
// within a machine, and data between machines moves over MPI (Open MPI's TCP or shared-memory
// transport on this host); --local-devices L gives each process L devices. Exit status 0 when every rank passed.
#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "meshreduce/bootstrap_mpi.h"
#include "meshreduce/process_communicator.h"
#include "process_job.h"

namespace mr = meshreduce;
using namespace std::chrono_literals;

namespace {

struct Args {
  std::string suite = "all";
  int ranks_per_node = 0;
  int local_devices = 1;
  std::int64_t staging_window_bytes = 1 << 20;  // the default's; small: many windows per call
};

Args parse(int argc, char** argv) {
  Args args;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--suite") args.suite = argv[i + 1];
    else if (flag == "--ranks-per-node") args.ranks_per_node = std::stoi(argv[i + 1]);
    else if (flag == "--local-devices") args.local_devices = std::stoi(argv[i + 1]);
    else if (flag == "--staging-window") args.staging_window_bytes = std::stoll(argv[i + 1]);
    else throw mr::InvalidArgument("unknown flag " + flag);
  }
  return args;
}

mr::ProcessCommunicatorOptions options_for(const Args& args, const std::string& algorithm) {
  mr::ProcessCommunicatorOptions options;
  options.algorithm = algorithm;
  options.local_devices = args.local_devices;
  options.ranks_per_node = args.ranks_per_node;
  options.piece_elements = 4096;
  options.algorithm_options.chunk_elements = 3000;
  options.stream_min_bytes = 0;
  options.shared_arena_bytes = 4 << 20;
  options.staging_window_bytes = args.staging_window_bytes;
  options.timeout = 30s;
  options.transport = std::make_shared<mr::MpiTransport>();
  return options;
}

bool declines(const std::string& algorithm, int devices, const std::vector<std::vector<int>>& groups) {
  mr::AlgorithmRequest probe;
  probe.num_devices = devices;
  probe.groups = groups;
  const mr::Topology flat = mr::flat_topology(devices);
  probe.topology = &flat;
  probe.topology_devices = mr::testing::iota_devices(devices);
  return mr::find_algorithm(algorithm).decline(probe).has_value();
}

// Integer sums of one device per rank against MPI_Allreduce of the same inputs.
std::string check_against_mpi(mr::ProcessCommunicator& comm, mr::DType dtype) {
  const std::int64_t count = 5003;
  const int rank = comm.rank();
  std::vector<std::int64_t> mine(static_cast<std::size_t>(count)), theirs(static_cast<std::size_t>(count));
  for (std::int64_t i = 0; i < count; ++i) mine[static_cast<std::size_t>(i)] = static_cast<std::int64_t>(mr::testing::job_value(rank, 0, i)) * 1000003;
  std::vector<std::int32_t> mine32(mine.begin(), mine.end()), theirs32(static_cast<std::size_t>(count));
  std::vector<std::int64_t> ours64 = mine;
  std::vector<std::int32_t> ours32 = mine32;
  std::vector<std::vector<mr::TensorView>> grads(1);
  if (dtype == mr::DType::i64) {
    grads[0].emplace_back(ours64.data(), count, dtype);
    MPI_Allreduce(mine.data(), theirs.data(), static_cast<int>(count), MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
  } else {
    grads[0].emplace_back(ours32.data(), count, dtype);
    MPI_Allreduce(mine32.data(), theirs32.data(), static_cast<int>(count), MPI_INT32_T, MPI_SUM, MPI_COMM_WORLD);
  }
  comm.allreduce(grads);
  const bool same = dtype == mr::DType::i64 ? ours64 == theirs : ours32 == theirs32;
  return same ? "" : comm.options().algorithm + " " + std::string(mr::dtype_name(dtype)) + ": differs from MPI_Allreduce";
}

std::string run_all(const Args& args, const std::shared_ptr<mr::Bootstrap>& bootstrap, std::string& covered) {
  int jobs = 0;
  const int devices = bootstrap->size() * args.local_devices;
  for (const mr::Algorithm& algorithm : mr::algorithms()) {
    mr::ProcessCommunicator comm(bootstrap, options_for(args, std::string(algorithm.name)));
    if (declines(std::string(algorithm.name), devices, comm.groups())) continue;
    covered += (covered.empty() ? "" : ",") + std::string(algorithm.name);
    for (mr::DType dtype : {mr::DType::f32, mr::DType::f64, mr::DType::f16, mr::DType::bf16, mr::DType::i32, mr::DType::i64})
      for (bool in_place : {false, true}) {
        const mr::testing::ProcessJob job{dtype, in_place ? mr::ReduceOp::sum : mr::ReduceOp::average, in_place,
                                          in_place, {1001, 3, 20000}};
        if (auto problem = mr::testing::run_process_job(comm, job); !problem.empty()) return problem;
        ++jobs;
      }
    for (mr::ReduceOp op : {mr::ReduceOp::min, mr::ReduceOp::max})
      if (auto problem = mr::testing::run_process_job(comm, {mr::DType::f32, op, false, false, {7000}}); !problem.empty())
        return problem;
    if (args.local_devices == 1)
      for (mr::DType dtype : {mr::DType::i32, mr::DType::i64})
        if (auto problem = check_against_mpi(comm, dtype); !problem.empty()) return problem;
  }
  covered = std::to_string(jobs) + " jobs bitwise equal to threads: " + covered;
  return "";
}

std::string run_mismatch(const Args& args, const std::shared_ptr<mr::Bootstrap>& bootstrap) {
  mr::ProcessCommunicator comm(bootstrap, options_for(args, "ring"));
  const int last = bootstrap->size() - 1;
  std::vector<float> data(bootstrap->rank() == last ? 65 : 64, 2.0f);
  std::vector<std::vector<mr::TensorView>> grads(static_cast<std::size_t>(args.local_devices));
  for (auto& device : grads) device.emplace_back(std::span(data));
  const std::string expected = "layout mismatch before the first call of a layout: rank 0 has tensor 0 = f32 x 64, rank " +
                               std::to_string(last) + " has tensor 0 = f32 x 65";
  try {
    comm.allreduce(grads);
  } catch (const mr::InvalidArgument& error) {
    if (error.what() != expected) return std::string("wrong message: ") + error.what();
    for (float v : data)
      if (v != 2.0f) return "a buffer was written";
    return "";
  }
  return "no error";
}

std::string run_timeout(const Args& args, const std::shared_ptr<mr::Bootstrap>& bootstrap) {
  auto options = options_for(args, "direct");
  // Long enough that the ranks present (which planned together a moment ago) start the call in
  // time with more processes than cores: only the absent rank may be named.
  options.timeout = 2000ms;
  mr::ProcessCommunicator comm(bootstrap, options);
  const int last = bootstrap->size() - 1;
  std::vector<float> data(4096, 1.0f);
  std::vector<std::vector<mr::TensorView>> grads(static_cast<std::size_t>(args.local_devices));
  for (auto& device : grads) device.emplace_back(std::span(data));
  const std::vector<mr::TensorSpec> layout{{4096, mr::DType::f32}};
  comm.plan(layout, mr::ReduceOp::sum);
  if (bootstrap->rank() == last) return "";  // never calls
  const auto start = std::chrono::steady_clock::now();
  try {
    comm.allreduce(grads);
  } catch (const mr::Error& error) {
    const std::string text = error.what();
    if (std::chrono::steady_clock::now() - start > 20s) return "failed too late: " + text;
    if (text.find("for rank " + std::to_string(last) + " to start call 1") == std::string::npos &&
        text.find("failed in call 1: rank") == std::string::npos)
      return "wrong message: " + text;
    return "";
  }
  return "no error";
}

// Many calls of one 4 MiB tensor on a flat ring, in the default pieces (messages of 256 KiB
// between machines, large enough for Open MPI's rendezvous protocols); inputs change per call.
std::string run_repeat(const Args& args, const std::shared_ptr<mr::Bootstrap>& bootstrap) {
  auto options = options_for(args, "ring");
  options.piece_elements = std::int64_t{1} << 16;
  options.algorithm_options.chunk_elements = 0;
  options.timeout = 20s;
  mr::ProcessCommunicator comm(bootstrap, options);
  constexpr std::int64_t kCount = std::int64_t{1} << 22;
  constexpr int kCalls = 12;
  const int devices = comm.size();
  const int rank = bootstrap->rank();
  std::vector<std::vector<float>> in(static_cast<std::size_t>(args.local_devices), std::vector<float>(kCount));
  std::vector<std::vector<float>> out = in;
  std::vector<std::vector<mr::ConstTensorView>> inputs(in.size());
  std::vector<std::vector<mr::TensorView>> outputs(out.size());
  for (std::size_t l = 0; l < in.size(); ++l) {
    inputs[l].emplace_back(std::span<const float>(in[l]));
    outputs[l].emplace_back(std::span(out[l]));
  }
  for (int call = 0; call < kCalls; ++call) {
    for (std::size_t l = 0; l < in.size(); ++l)
      for (std::int64_t i = 0; i < kCount; ++i)
        in[l][static_cast<std::size_t>(i)] =
            static_cast<float>(mr::testing::job_value(rank * args.local_devices + static_cast<int>(l), 0, i + call));
    bootstrap->barrier(options.timeout);  // every rank starts together, as bench's timed calls do
    comm.allreduce(inputs, outputs, mr::ReduceOp::sum);
    for (std::size_t l = 0; l < out.size(); ++l)
      for (std::int64_t i = 0; i < kCount; ++i) {
        double expected = 0;
        for (int d = 0; d < devices; ++d) expected += mr::testing::job_value(d, 0, i + call);
        if (out[l][static_cast<std::size_t>(i)] != static_cast<float>(expected))
          return "call " + std::to_string(call) + ": local device " + std::to_string(l) + " element " + std::to_string(i) +
                 " = " + std::to_string(out[l][static_cast<std::size_t>(i)]) + ", expected " + std::to_string(expected);
      }
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  mr::prepare_mpi_environment();
  MPI_Init(&argc, &argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  std::string problem;
  std::string covered;
  try {
    const Args args = parse(argc, argv);
    auto bootstrap = std::make_shared<mr::MpiBootstrap>();
    if (args.suite == "all") problem = run_all(args, bootstrap, covered);
    else if (args.suite == "mismatch") problem = run_mismatch(args, bootstrap);
    else if (args.suite == "timeout") problem = run_timeout(args, bootstrap);
    else if (args.suite == "repeat") problem = run_repeat(args, bootstrap);
    else problem = "unknown suite " + args.suite;
  } catch (const std::exception& error) {
    problem = std::string("exception: ") + error.what();
  }
  std::printf("rank %d: %s %s\n", rank, problem.empty() ? "ok" : problem.c_str(), covered.c_str());
  std::fflush(stdout);
  int failed = problem.empty() ? 0 : 1;
  int any = 0;
  MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return any;
}
