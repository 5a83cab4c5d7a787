// The process executor end to end, in processes forked by the test and found through a file
// store (no mpirun): every algorithm bitwise equal to the thread executor, the layout exchange,
// timeouts and failing peers.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "meshreduce/process_communicator.h"
#include "process_fork.h"
#include "process_job.h"

namespace meshreduce::testing {
namespace {

using namespace std::chrono_literals;

ProcessCommunicatorOptions job_options(const std::string& algorithm, int local_devices = 1,
                                       std::int64_t staging_window_bytes = std::int64_t{1} << 20) {
  ProcessCommunicatorOptions options;
  options.staging_window_bytes = staging_window_bytes;  // the default keeps these jobs in one window
  options.algorithm = algorithm;
  options.local_devices = local_devices;
  options.piece_elements = 4096;                 // several pieces per step
  options.algorithm_options.chunk_elements = 5000;  // pipelined algorithms pipeline
  options.stream_min_bytes = 0;                  // final outputs take the streaming kernels too
  options.shared_arena_bytes = 8 << 20;
  options.timeout = 20s;
  return options;
}

bool declines(const std::string& algorithm, int devices) {
  AlgorithmRequest probe;
  probe.num_devices = devices;
  const Topology flat = flat_topology(devices);
  probe.topology = &flat;
  probe.topology_devices = iota_devices(devices);
  return find_algorithm(algorithm).decline(probe).has_value();
}

// Every algorithm that serves the job's devices, over `jobs`, in one forked run.
void expect_every_algorithm_matches_threads(int processes, int local_devices, const std::vector<ProcessJob>& jobs,
                                            std::int64_t staging_window_bytes = std::int64_t{1} << 20) {
  const auto results = run_forked(processes, [&](int, std::shared_ptr<Bootstrap> bootstrap) -> std::string {
    for (const Algorithm& algorithm : algorithms()) {
      if (declines(std::string(algorithm.name), processes * local_devices)) continue;
      ProcessCommunicator comm(bootstrap, job_options(std::string(algorithm.name), local_devices, staging_window_bytes));
      for (const ProcessJob& job : jobs)
        if (auto problem = run_process_job(comm, job); !problem.empty()) return problem;
    }
    return "ok";
  });
  for (std::size_t r = 0; r < results.size(); ++r) {
    EXPECT_TRUE(results[r].exited) << "rank " << r;
    EXPECT_EQ(results[r].text, "ok") << "rank " << r;
  }
}

TEST(ProcessCommunicator, EveryAlgorithmMatchesThreadsOnTwoProcesses) {
  expect_every_algorithm_matches_threads(
      2, 1,
      {{DType::f32, ReduceOp::sum, false, false}, {DType::f32, ReduceOp::sum, true, true},
       {DType::bf16, ReduceOp::average, true, false}, {DType::i64, ReduceOp::max, false, true}});
}

TEST(ProcessCommunicator, EveryAlgorithmMatchesThreadsOnThreeProcessesOfTwoDevices) {
  expect_every_algorithm_matches_threads(
      3, 2, {{DType::f16, ReduceOp::sum, false, true}, {DType::i32, ReduceOp::average, true, false},
             {DType::f64, ReduceOp::min, false, false}});
}

// Windows of 16 KiB: the jobs' 280 KiB per device run in many windows, each staging, reducing
// and copying out its part through a ring that holds two (process_program.h). Seeds differ per
// call, so a window that read another's (or the last call's) staging fails.
TEST(ProcessCommunicator, EveryAlgorithmMatchesThreadsInStagingWindows) {
  expect_every_algorithm_matches_threads(
      2, 1,
      {{DType::f32, ReduceOp::sum, false, false, {1000, 3, 70000}, {}, false, 1},
       {DType::f32, ReduceOp::sum, true, false, {1000, 3, 70000}, {}, false, 2},
       {DType::bf16, ReduceOp::average, true, true, {1000, 3, 70000}, {}, true, 3},
       {DType::i64, ReduceOp::max, false, true, {1000, 3, 70000}, {}, true, 4},
       {DType::f32, ReduceOp::sum, false, false, {70001, 5}, {DType::f16, DType::f64}, false, 5}},
      16384);
  expect_every_algorithm_matches_threads(
      3, 2,
      {{DType::f16, ReduceOp::sum, false, false, {1000, 3, 70000}, {}, false, 6},
       {DType::i32, ReduceOp::average, true, false, {1000, 3, 70000}, {}, false, 7},
       {DType::f64, ReduceOp::min, false, true, {1000, 3, 70000}, {}, true, 8}},
      16384);
}

// Steps too small for a portion each: groups of uneven size under hierarchical-rs, in windows of
// 4 KiB, where small steps spread over the windows (or the call stays one window with its
// tensors whole); a layout that once kept its windowed places in one window read shifted data.
TEST(ProcessCommunicator, SmallStepsInStagingWindowsMatchThreads) {
  const auto results = run_forked(5, [](int, std::shared_ptr<Bootstrap> bootstrap) -> std::string {
    auto options = job_options("hierarchical-rs", 1, 4096);
    options.groups = {{0, 1, 2}, {3, 4}};
    ProcessCommunicator comm(bootstrap, options);
    for (const std::vector<std::int64_t>& counts : {std::vector<std::int64_t>{3000}, std::vector<std::int64_t>{3000, 70000, 17}})
      for (bool in_place : {false, true}) {
        ProcessJob job{DType::f32, ReduceOp::sum, in_place, false, counts, {}, false, in_place ? 1 : 2};
        if (auto problem = run_process_job(comm, job); !problem.empty()) return problem;
      }
    return "ok";
  });
  for (std::size_t r = 0; r < results.size(); ++r) EXPECT_EQ(results[r].text, "ok") << "rank " << r;
}

TEST(ProcessCommunicator, EveryDtypeAndOpMatchesThreadsOnFourProcesses) {
  const auto results = run_forked(4, [](int, std::shared_ptr<Bootstrap> bootstrap) -> std::string {
    ProcessCommunicator comm(bootstrap, job_options("ring"));
    for (DType dtype : {DType::f32, DType::f64, DType::f16, DType::bf16, DType::i32, DType::i64})
      for (ReduceOp op : {ReduceOp::sum, ReduceOp::average, ReduceOp::min, ReduceOp::max})
        for (bool in_place : {false, true}) {
          ProcessJob job{dtype, op, in_place, in_place, {777, 5000}};
          if (auto problem = run_process_job(comm, job); !problem.empty()) return problem;
        }
    return "ok";
  });
  for (const auto& result : results) EXPECT_EQ(result.text, "ok");
}

TEST(ProcessCommunicator, RepeatedCallsOfOneLayoutStayCorrect) {
  // The flags count calls: the second and later calls must wait for this call's values, not
  // take the previous call's as done. Each call's inputs differ (the seed), so an output that
  // kept the previous call's values fails.
  const auto results = run_forked(3, [](int, std::shared_ptr<Bootstrap> bootstrap) -> std::string {
    ProcessCommunicator comm(bootstrap, job_options("direct"));
    for (int call = 0; call < 20; ++call)
      if (auto problem = run_process_job(comm, {DType::i32, ReduceOp::sum, call % 2 == 0, call % 3 == 0, {4099}, {}, false, call});
          !problem.empty())
        return "call " + std::to_string(call) + ": " + problem;
    return "ok";
  });
  for (const auto& result : results) EXPECT_EQ(result.text, "ok");
}

TEST(ProcessCommunicator, AlternatingLayoutsEachRunTheirOwnPlan) {
  // A call finds the last layout's plan without a lookup: layouts that differ only in one
  // tensor's count, or in its dtype, and a return to an older layout must each get their own.
  const auto results = run_forked(2, [](int, std::shared_ptr<Bootstrap> bootstrap) -> std::string {
    ProcessCommunicator comm(bootstrap, job_options("direct"));
    const std::vector<ProcessJob> jobs{{DType::i32, ReduceOp::sum, false, false, {4099, 9}},
                                       {DType::i32, ReduceOp::sum, true, false, {4100, 9}},
                                       {DType::f32, ReduceOp::sum, false, false, {4099, 9}},
                                       {DType::i32, ReduceOp::max, false, false, {4099, 9}}};
    for (int call = 0; call < 12; ++call)
      if (auto problem = run_process_job(comm, jobs[static_cast<std::size_t>(call * 3 % 4)]); !problem.empty())
        return "call " + std::to_string(call) + ": " + problem;
    // The in-place overload (its input lists are kept between calls), between calls of others.
    for (int call = 0; call < 3; ++call) {
      std::vector<std::int32_t> a(4099), b(9);
      const auto value = [](int device, int tensor, std::size_t i) {
        return static_cast<std::int32_t>(job_value(device, tensor, static_cast<std::int64_t>(i)));
      };
      for (std::size_t i = 0; i < a.size(); ++i) a[i] = value(comm.rank(), 0, i);
      for (std::size_t i = 0; i < b.size(); ++i) b[i] = value(comm.rank(), 1, i);
      std::vector<std::vector<TensorView>> grads{{TensorView(std::span(a)), TensorView(std::span(b))}};
      comm.allreduce(grads, ReduceOp::sum);
      for (std::size_t i = 0; i < a.size(); ++i)
        if (a[i] != value(0, 0, i) + value(1, 0, i)) return "in place call " + std::to_string(call) + ": tensor 0 element " + std::to_string(i);
      for (std::size_t i = 0; i < b.size(); ++i)
        if (b[i] != value(0, 1, i) + value(1, 1, i)) return "in place call " + std::to_string(call) + ": tensor 1 element " + std::to_string(i);
      if (auto problem = run_process_job(comm, jobs[static_cast<std::size_t>(call % 4)]); !problem.empty())
        return "call between in-place calls: " + problem;
    }
    return "ok";
  });
  for (const auto& result : results) EXPECT_EQ(result.text, "ok");
}

TEST(ProcessCommunicator, LayoutMismatchFailsOnEveryProcessNamingBothRanksAndValues) {
  const auto results = run_forked(3, [](int rank, std::shared_ptr<Bootstrap> bootstrap) -> std::string {
    ProcessCommunicator comm(bootstrap, job_options("ring"));
    std::vector<float> data(rank == 2 ? 101 : 100, 1.0f);
    std::vector<std::vector<TensorView>> grads{{TensorView(std::span(data))}};
    try {
      comm.allreduce(grads);
    } catch (const InvalidArgument& error) {
      const bool untouched = std::all_of(data.begin(), data.end(), [](float v) { return v == 1.0f; });
      return std::string(error.what()) + (untouched ? "" : " (and a buffer was written)");
    }
    return "no error";
  });
  for (const auto& result : results)
    EXPECT_EQ(result.text, "layout mismatch before the first call of a layout: rank 0 has tensor 0 = f32 x 100, "
                           "rank 2 has tensor 0 = f32 x 101");
}

TEST(ProcessCommunicator, OptionMismatchFailsOnEveryProcess) {
  const auto results = run_forked(2, [](int rank, std::shared_ptr<Bootstrap> bootstrap) -> std::string {
    ProcessCommunicator comm(bootstrap, job_options(rank == 0 ? "ring" : "direct"));
    return "no error";
  });
  for (const auto& result : results)
    EXPECT_EQ(result.text, "exception: process communicator options differ: rank 0 has algorithm = ring, rank 1 has "
                           "algorithm = direct");
}

TEST(ProcessCommunicator, AProcessThatNeverCallsMakesTheOthersTimeOutNamingIt) {
  const auto results = run_forked(3, [](int rank, std::shared_ptr<Bootstrap> bootstrap) -> std::string {
    auto options = job_options("direct");
    // Ranks 0 and 2 each wait for both peers: the timeout is long enough that the present peer
    // (which planned with them a moment ago) starts the call in time however loaded the machine.
    options.timeout = 2000ms;
    bootstrap->barrier(60s);  // setup waits as long as calls: first meet, however far apart the forks start
    ProcessCommunicator comm(bootstrap, options);
    std::vector<float> data(1000, 1.0f);
    std::vector<std::vector<TensorView>> grads{{TensorView(std::span(data))}};
    const std::vector<TensorSpec> layout{{1000, DType::f32}};
    comm.plan(layout, ReduceOp::sum);
    if (rank == 1) return "left";  // exits without calling: the others must not hang
    const auto start = std::chrono::steady_clock::now();
    try {
      comm.allreduce(grads);
    } catch (const Error& error) {
      const auto waited = std::chrono::steady_clock::now() - start;
      return std::string(error.what()) + (waited < 20s ? "" : " (too late)");
    }
    return "no error";
  });
  EXPECT_EQ(results[1].text, "left");
  // Rank 0 or 2 times out first; the other may see its failure first (PeerError) or time out.
  for (int r : {0, 2}) {
    const std::string& text = results[static_cast<std::size_t>(r)].text;
    EXPECT_TRUE(text.find("waited 2000 ms for rank 1 to start call 1") != std::string::npos ||
                text.find("failed in call 1: rank") != std::string::npos)
        << text;
    EXPECT_EQ(text.find("too late"), std::string::npos) << text;
  }
  EXPECT_NE(results[0].text.find("rank 1"), std::string::npos) << results[0].text;
}

TEST(ProcessCommunicator, APeerThatFailsMidCallMakesTheOthersFailNamingIt) {
  const auto results = run_forked(2, [](int rank, std::shared_ptr<Bootstrap> bootstrap) -> std::string {
    auto options = job_options("ring");
    options.timeout = 10s;
    ProcessCommunicator comm(bootstrap, options);
    std::vector<float> data(1000, 1.0f);
    // Rank 1 passes a tensor that starts in its arena and runs past its end: its staging fails.
    auto* arena_end = static_cast<std::byte*>(comm.allocate_shared(8 << 20)) + (8 << 20) - 64;
    void* where = rank == 1 ? static_cast<void*>(arena_end) : static_cast<void*>(data.data());
    std::vector<std::vector<TensorView>> grads{{TensorView(where, 1000, DType::f32)}};
    const auto start = std::chrono::steady_clock::now();
    try {
      comm.allreduce(grads);
    } catch (const Error& error) {
      return std::string(error.what()) + (std::chrono::steady_clock::now() - start < 5s ? "" : " (too late)");
    }
    return "no error";
  });
  EXPECT_EQ(results[1].text, "rank 1: a tensor of 4000 bytes starts in the shared arena and runs past its end");
  EXPECT_EQ(results[0].text,
            "rank 1 failed in call 1: rank 1: a tensor of 4000 bytes starts in the shared arena and runs past its end");
}

TEST(ProcessCommunicator, NothingIsLeftInDevShm) {
  const auto results = run_forked(2, [](int, std::shared_ptr<Bootstrap> bootstrap) -> std::string {
    ProcessCommunicator comm(bootstrap, job_options("ring"));
    return run_process_job(comm, {DType::f32, ReduceOp::sum, false, false, {1000}}).empty() ? "ok" : "wrong";
  });
  for (const auto& result : results) EXPECT_EQ(result.text, "ok");
  // Segments are named /meshreduce[-arena]-<pid>-<random>; other jobs of this machine may come
  // and go meanwhile, so only these processes' names count.
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm"))
    for (const auto& result : results)
      EXPECT_EQ(entry.path().filename().string().find("-" + std::to_string(result.pid) + "-"), std::string::npos)
          << entry.path();
}

TEST(ProcessCommunicator, SingleProcessMatchesThreads) {
  const auto results = run_forked(1, [](int, std::shared_ptr<Bootstrap> bootstrap) -> std::string {
    ProcessCommunicator comm(bootstrap, job_options("hierarchical", 4));
    const auto problem = run_process_job(comm, {DType::f32, ReduceOp::sum, true, false, {333, 70000}});
    return problem.empty() ? "ok" : problem;
  });
  EXPECT_EQ(results[0].text, "ok");
}

// Private buffers pass through the shared segment only where peers touch them; the rest is read
// and written where the user holds it, and results a peer computed are fetched from its segment.
// Several tensors of mixed types in one call, counts that are no multiple of the piece size
// (4096) nor of the processes, in place and out of place, private and shared buffers in turns on
// one communicator and mixed within a call (calls 6 and 7), bitwise the thread executor's; each
// call's inputs differ (a seed), so a call that returned an earlier call's staging or results fails.
std::string run_mixed_jobs(ProcessCommunicator& comm) {
  const std::vector<DType> types{DType::f32, DType::f16, DType::i64, DType::bf16, DType::f64};
  for (int call = 0; call < 8; ++call) {
    ProcessJob job{DType::f32, call % 3 == 2 ? ReduceOp::average : ReduceOp::sum, call % 2 == 1, call == 4 || call >= 6,
                   {10001, 3, 4097, 1, 8193}, types, call >= 6, call};
    if (auto problem = run_process_job(comm, job); !problem.empty()) return "call " + std::to_string(call) + ": " + problem;
  }
  return "ok";
}

TEST(ProcessCommunicator, PrivateBuffersOfMixedTypesMatchThreadsOnThreeProcesses) {
  for (const char* algorithm : {"direct", "ring", "hierarchical-rs"}) {
    const auto results = run_forked(3, [&](int, std::shared_ptr<Bootstrap> bootstrap) -> std::string {
      ProcessCommunicator comm(bootstrap, job_options(algorithm));
      return run_mixed_jobs(comm);
    });
    for (std::size_t r = 0; r < results.size(); ++r) EXPECT_EQ(results[r].text, "ok") << algorithm << " rank " << r;
  }
}

TEST(ProcessCommunicator, PrivateBuffersMatchThreadsWithSeveralDevicesPerProcess) {
  // One process of three devices (every ref is its own), and two processes of two.
  for (int processes : {1, 2}) {
    const auto results = run_forked(processes, [&](int, std::shared_ptr<Bootstrap> bootstrap) -> std::string {
      ProcessCommunicator comm(bootstrap, job_options("direct", processes == 1 ? 3 : 2));
      return run_mixed_jobs(comm);
    });
    for (std::size_t r = 0; r < results.size(); ++r) EXPECT_EQ(results[r].text, "ok") << processes << " processes, rank " << r;
  }
}

TEST(ProcessCommunicator, RejectsBadOptions) {
  const ScratchDirectory directory;
  auto bootstrap = std::make_shared<StoreBootstrap>(std::make_shared<FileStore>(directory.path()), 0, 1);
  ProcessCommunicatorOptions options;
  options.local_devices = 0;
  expect_contains(thrown_message<InvalidArgument>([&] { ProcessCommunicator(bootstrap, options); }), {"local_devices must be >= 1, got 0"});
  options = {};
  options.timeout = 0ms;
  expect_contains(thrown_message<InvalidArgument>([&] { ProcessCommunicator(bootstrap, options); }), {"timeout must be at least 1 ms"});
  options = {};
  options.staging_window_bytes = -1;
  expect_contains(thrown_message<InvalidArgument>([&] { ProcessCommunicator(bootstrap, options); }),
                  {"staging_window_bytes must be >= 0, got -1"});
  options = {};
  options.groups = {{0}, {0}};
  expect_contains(thrown_message<InvalidArgument>([&] { ProcessCommunicator(bootstrap, options); }), {"groups are not a partition"});
  expect_contains(thrown_message<InvalidArgument>([&] { ProcessCommunicator(nullptr, {}); }), {"needs a bootstrap"});
}

}  // namespace
}  // namespace meshreduce::testing
