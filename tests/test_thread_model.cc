// The thread executor's cost model against closed forms, its planner, its file format, and its
// calibration.
#include <gtest/gtest.h>

#include <vector>

#include "meshreduce/meshreduce.h"
#include "meshreduce/thread_model.h"
#include "test_support.h"

namespace meshreduce {
namespace {

constexpr double kGB = 1e9;

ThreadCosts plain_costs(int threads, double memory_gbps, double thread_gbps) {
  ThreadCosts costs;
  costs.threads = threads;
  costs.memory_gbps = memory_gbps;
  costs.thread_gbps = thread_gbps;
  costs.write_cost = 2;
  costs.stream_write_cost = 1;
  return costs;
}

Schedule schedule_of(const char* name, int devices, std::int64_t count) {
  static const Topology topology = flat_topology(16);
  AlgorithmRequest request;
  request.num_devices = devices;
  request.count = count;
  request.topology = &topology;
  for (int p = 0; p < devices; ++p) request.topology_devices.push_back(p);
  return build_schedule(find_algorithm(name), request);
}

ThreadRunOptions no_streaming(std::int64_t piece_elements) { return {piece_elements, -1, std::int64_t{64} << 10}; }

// Direct: K steps of n/K elements, each reading K sources and writing K destinations, so the
// call moves n * e * K * (1 + w) read-equivalent bytes.
TEST(ThreadModel, DirectOnOneThreadIsItsTrafficOverOneThreadsRate) {
  for (int k : {2, 4, 8}) {
    const std::int64_t n = std::int64_t{1} << 20;
    const Schedule schedule = schedule_of("direct", k, n);
    const ThreadPrediction p = predict_thread_time(schedule, plain_costs(1, 40, 10), no_streaming(1 << 14));
    const double traffic = static_cast<double>(n) * 4 * k * (1 + 2);
    EXPECT_DOUBLE_EQ(p.traffic_bytes, traffic) << "K=" << k;
    EXPECT_NEAR(p.time_s, traffic / (10 * kGB), 1e-9 * p.time_s) << "K=" << k;
    EXPECT_EQ(p.pieces, n / (1 << 14));
    EXPECT_TRUE(p.inline_call);  // one thread: the caller does everything
    EXPECT_NEAR(p.busbw_gbps, static_cast<double>(n) * 4 / p.time_s / kGB * 2 * (k - 1) / k, 1e-9);
  }
}

TEST(ThreadModel, ThreadsShareTheMemoryBandwidth) {
  const std::int64_t n = std::int64_t{1} << 20;
  const Schedule schedule = schedule_of("direct", 8, n);
  const double traffic = static_cast<double>(n) * 4 * 8 * 3;
  // Two threads at 10 GB/s each, memory 15 GB/s: memory bound.
  const ThreadPrediction shared = predict_thread_time(schedule, plain_costs(2, 15, 10), no_streaming(1 << 14));
  EXPECT_FALSE(shared.inline_call);
  EXPECT_NEAR(shared.time_s, traffic / (15 * kGB), 1e-9 * shared.time_s);
  // Memory 40 GB/s: each thread at its own 10 GB/s.
  const ThreadPrediction free = predict_thread_time(schedule, plain_costs(2, 40, 10), no_streaming(1 << 14));
  EXPECT_NEAR(free.time_s, traffic / (20 * kGB), 1e-9 * free.time_s);
}

TEST(ThreadModel, OverheadsArePerPieceAndPerCall) {
  const std::int64_t n = std::int64_t{1} << 20;
  const Schedule schedule = schedule_of("direct", 8, n);
  ThreadCosts costs = plain_costs(2, 40, 10);
  const double base = predict_thread_time(schedule, costs, no_streaming(1 << 14)).time_s;
  costs.piece_overhead_us = 3;
  costs.call_overhead_us = 50;
  const ThreadPrediction p = predict_thread_time(schedule, costs, no_streaming(1 << 14));
  // 64 pieces over two threads: 32 overheads each, plus one wake-up.
  EXPECT_NEAR(p.time_s, base + (32 * 3 + 50) * 1e-6, 1e-9);
  // A call moving less than the inline limit (64 KiB here) runs inline: no wake-up, one thread.
  const Schedule tiny = schedule_of("direct", 2, 1024);  // 1024 * 4 * 2 * 2 = 16 KiB moved
  const ThreadPrediction small = predict_thread_time(tiny, costs, no_streaming(1 << 14));
  EXPECT_TRUE(small.inline_call);
  EXPECT_NEAR(small.time_s, 2 * 3e-6 + 1024.0 * 4 * 2 * 3 / (10 * kGB), 1e-12);
  // With no inline limit it wakes the workers: two pieces, one on each thread.
  const ThreadPrediction woken = predict_thread_time(tiny, costs, {1 << 14, -1, 0});
  EXPECT_FALSE(woken.inline_call);
  EXPECT_NEAR(woken.time_s, 50e-6 + 3e-6 + 512.0 * 4 * 2 * 3 / (10 * kGB), 1e-12);
}

TEST(ThreadModel, FinalOutputsStreamOnceTheCallIsLargeEnough) {
  const std::int64_t n = std::int64_t{1} << 20;
  const Schedule schedule = schedule_of("direct", 4, n);
  const ThreadCosts costs = plain_costs(1, 40, 10);
  const std::int64_t outputs = n * 4 * 4;
  const double plain = predict_thread_time(schedule, costs, {1 << 14, outputs + 1, 0}).traffic_bytes;
  const double streamed = predict_thread_time(schedule, costs, {1 << 14, outputs, 0}).traffic_bytes;
  EXPECT_DOUBLE_EQ(plain, static_cast<double>(n) * 4 * 4 * (1 + 2));
  EXPECT_DOUBLE_EQ(streamed, static_cast<double>(n) * 4 * 4 * (1 + 1));
}

// In place, every destination of a direct step is one of its sources: the executor stores there
// plainly (never streamed), and each store finds its line in the cache, read as a source, so it
// moves only the write-back: K S read + K S written, small call or large, streamed or not.
TEST(ThreadModel, InPlaceStoresOverTheirSourcesMoveOnlyTheWriteBack) {
  const std::int64_t n = std::int64_t{1} << 20;
  const Schedule schedule = schedule_of("direct", 4, n);
  ThreadCosts costs = plain_costs(1, 40, 10);
  costs.stream_write_cost = 1.25;  // apart from write_cost - 1, so that each rule shows
  const std::int64_t outputs = n * 4 * 4;
  ThreadRunOptions small{1 << 14, outputs + 1, 0};
  small.in_place = true;
  ThreadRunOptions large{1 << 14, outputs, 0};
  large.in_place = true;
  const double write_back = static_cast<double>(n) * 4 * 4 * (1 + 1.25);
  EXPECT_DOUBLE_EQ(predict_thread_time(schedule, costs, small).traffic_bytes, write_back);
  EXPECT_DOUBLE_EQ(predict_thread_time(schedule, costs, large).traffic_bytes, write_back);
  // Out of place the same schedule reads its lines first below stream_min_bytes.
  small.in_place = false;
  EXPECT_DOUBLE_EQ(predict_thread_time(schedule, costs, small).traffic_bytes, static_cast<double>(n) * 4 * 4 * (1 + 2));
}

// A final reduce that writes over one of its sources and also into another device's output: in
// place, the executor stores the whole piece plainly, so the other output's stores are not
// streamed (write_cost), though the call is large and the step final. Out of place both stream.
TEST(ThreadModel, InPlaceFinalStepOverItsSourceDoesNotStream) {
  const std::int64_t n = std::int64_t{1} << 16;
  Schedule schedule;
  schedule.algorithm = "hand";
  schedule.num_devices = 2;
  schedule.buffers = {{n, DType::f32}};
  schedule.scratch = {{1, n, DType::f32}};
  Step step{StepKind::reduce, 0, n, {}, {}, {}, false};
  step.srcs = {{0, BufferKind::input, 0, 0}, {1, BufferKind::scratch, 0, 0}};
  step.dsts = {{0, BufferKind::output, 0, 0}, {1, BufferKind::output, 0, 0}};
  schedule.add(step);
  const ThreadCosts costs = plain_costs(1, 40, 10);
  ThreadRunOptions run{1 << 14, 0, 0};  // every final step of any size streams
  const double e = static_cast<double>(n) * 4;
  EXPECT_DOUBLE_EQ(predict_thread_time(schedule, costs, run).traffic_bytes, e * (2 + 1 + 1));
  run.in_place = true;  // output 0 is input 0, a source: its store moves the write-back only
  EXPECT_DOUBLE_EQ(predict_thread_time(schedule, costs, run).traffic_bytes, e * (2 + 1 + 2));
}

// A ring on one thread runs its steps one after another: the time is the sum of the steps'.
TEST(ThreadModel, DependentStepsOnOneThreadAddUp) {
  const Schedule schedule = schedule_of("ring", 4, 4096);
  const ThreadCosts costs = plain_costs(1, 40, 10);
  double bytes = 0;
  for (const Step& step : schedule.steps)
    bytes += static_cast<double>(step.count) * 4 * (static_cast<double>(step.srcs.size()) + 2.0 * step.dsts.size());
  EXPECT_NEAR(predict_thread_time(schedule, costs, no_streaming(1 << 20)).time_s, bytes / (10 * kGB), 1e-15);
}

TEST(ThreadModel, EmptyScheduleTakesNoTime) {
  const ThreadPrediction p = predict_thread_time(schedule_of("ring", 4, 0), plain_costs(2, 40, 10));
  EXPECT_EQ(p.time_s, 0);
  EXPECT_EQ(p.pieces, 0);
}

TEST(ThreadModel, RejectsCostsThatAreNotPositive) {
  const Schedule schedule = schedule_of("direct", 2, 64);
  for (auto spoil : std::vector<void (*)(ThreadCosts&)>{
           [](ThreadCosts& c) { c.threads = 0; }, [](ThreadCosts& c) { c.memory_gbps = 0; },
           [](ThreadCosts& c) { c.thread_gbps = -1; }, [](ThreadCosts& c) { c.piece_overhead_us = -1; }}) {
    ThreadCosts costs = plain_costs(2, 40, 10);
    spoil(costs);
    const std::string message =
        testing::thrown_message<InvalidArgument>([&] { predict_thread_time(schedule, costs); });
    testing::expect_contains(message, {"thread costs must be positive"});
  }
  EXPECT_THROW(predict_thread_time(schedule, plain_costs(2, 40, 10), {0, -1, 0}), InvalidArgument);
}

TEST(ThreadModel, CostsRoundTripThroughJsonAndTopologyFiles) {
  ThreadCosts costs = plain_costs(3, 41.5, 12.25);
  costs.piece_overhead_us = 0.75;
  costs.call_overhead_us = 9.5;
  costs.source = "test";
  EXPECT_EQ(thread_costs_from_json_text(thread_costs_to_json_text(costs)), costs);
  Topology topology = flat_topology(2);
  topology.thread_costs = costs;
  EXPECT_EQ(topology_from_json_text(topology_to_json_text(topology)), topology);
  testing::expect_contains(testing::thrown_message<TopologyError>([] { thread_costs_from_json_text("{\"threads\": 2}"); }),
                           {"thread_costs", "missing 'memory_gbps'"});
  testing::expect_contains(
      testing::thrown_message<TopologyError>([&] {
        std::string text = thread_costs_to_json_text(costs);
        text.insert(1, "\"speed\": 1,");
        thread_costs_from_json_text(text);
      }),
      {"unknown key 'speed'"});
  testing::expect_contains(testing::thrown_message<TopologyError>([&] {
                             ThreadCosts bad = costs;
                             bad.memory_gbps = 0;
                             thread_costs_from_json_text(thread_costs_to_json_text(bad));
                           }),
                           {"bandwidths > 0"});
}

// Without a topology the call runs on this machine's threads: "auto" plans with the thread
// model, which favours direct (the least memory traffic) once buckets are large.
TEST(ThreadPlanner, AutoWithoutATopologyPicksDirectForLargeBuckets) {
  CommunicatorOptions options;
  options.devices = testing::iota_devices(8);
  Communicator communicator(std::move(options));
  const std::vector<TensorSpec> layout{{std::int64_t{1} << 22, DType::f32}};
  const Plan& plan = communicator.plan(layout, ReduceOp::sum);
  ASSERT_EQ(plan.choices.size(), 1u);
  EXPECT_EQ(plan.choices[0].algorithm, "direct");
  EXPECT_GT(plan.choices[0].predicted_s, 0);
  const double predicted = predict_thread_time(build_schedule(find_algorithm("direct"), [&] {
                                                 AlgorithmRequest request;
                                                 request.num_devices = 8;
                                                 request.count = layout[0].count;
                                                 return request;
                                               }()),
                                               default_thread_costs(communicator.options().threads))
                               .time_s;
  EXPECT_DOUBLE_EQ(plan.choices[0].predicted_s, predicted);
}

TEST(ThreadPlanner, GivenCostsOverrideTheTopologysSimulator) {
  CommunicatorOptions options;
  options.topology = dgx1_v100();
  options.thread_costs = plain_costs(2, 40, 10);
  Communicator communicator(std::move(options));
  const std::vector<TensorSpec> layout{{std::int64_t{1} << 22, DType::f32}};
  EXPECT_EQ(communicator.plan(layout, ReduceOp::sum).choices[0].algorithm, "direct");
}

// The figures come out in the units the model reads, within what any machine of this kind can do:
// a slip of a factor 1e3 (GB/s against MB/s, microseconds against seconds or nanoseconds) falls
// outside. The write costs are the x86 constants the model documents, the overheads are measured
// (a pool wake-up and a piece cost something), and the source names the run.
TEST(ThreadCalibration, MeasuresFiguresInTheModelsUnits) {
  const ThreadCosts costs = measure_thread_costs(2, std::int64_t{4} << 20, 3);
  EXPECT_EQ(costs.threads, 2);
  // Memory: more than 50 MB/s (a slow core under a sanitizer), less than 5 TB/s (HBM is ~1 TB/s).
  EXPECT_GT(costs.memory_gbps, 0.05);
  EXPECT_LT(costs.memory_gbps, 5000);
  EXPECT_GT(costs.thread_gbps, 0.05);
  EXPECT_LT(costs.thread_gbps, 5000);
  EXPECT_EQ(costs.write_cost, 2.0);
  EXPECT_EQ(costs.stream_write_cost, 1.0);
  // Waking one worker: at least 10 ns (a lock and a notify), at most 50 ms.
  EXPECT_GT(costs.call_overhead_us, 0.01);
  EXPECT_LT(costs.call_overhead_us, 50000);
  // Each one-element piece: at least 1 ns, at most 1 ms.
  EXPECT_GT(costs.piece_overhead_us, 0.001);
  EXPECT_LT(costs.piece_overhead_us, 1000);
  testing::expect_contains(costs.source, {"measured", "2 threads", "4 MiB", "median of 3"});
  testing::expect_contains(testing::thrown_message<InvalidArgument>([] { measure_thread_costs(2, 100, 1); }),
                           {"at least 4096 bytes", "100 bytes"});
  testing::expect_contains(testing::thrown_message<InvalidArgument>([] { measure_thread_costs(2, 1 << 20, 0); }),
                           {"0 repeats"});
}

}  // namespace
}  // namespace meshreduce
