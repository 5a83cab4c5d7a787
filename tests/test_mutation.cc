// The data checks can catch a wrong offset: a lowered program (or a schedule) with ONE source
// range shifted by one element, run on the thread executor over the per-element inputs of
// testing::input_value(), must fail the same check the sweeps use; the program as lowered must
// pass it. For every algorithm, several device counts, tensors that a bucket spans and pieces.
//
// The mutants run on one thread: a shifted range may read bytes that another piece writes at the
// same time, a race that ThreadSanitizer would rightly report. The unmutated programs also run on
// three threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "exec/threads/executor.h"
#include "exec/threads/thread_pool.h"
#include "meshreduce/meshreduce.h"
#include "plan/program.h"
#include "test_support.h"

namespace meshreduce {
namespace {

using testing::Bytes;
using testing::DeviceBuffers;
using testing::TensorShape;

// Three f32 tensors fused into buckets of at most 600 bytes, filled in reverse order: one bucket
// of tensors 2 and 1 (37 + 100 elements), so references cross from one tensor into the next, and
// one of tensor 0; pieces of at most 16 elements.
const std::vector<TensorSpec> kLayout{{90, DType::f32}, {100, DType::f32}, {37, DType::f32}};
constexpr std::int64_t kPieceElements = 16;
constexpr std::int64_t kChunkElements = 8;

struct Case {
  std::string algorithm;
  int devices = 0;
};

void PrintTo(const Case& c, std::ostream* out) { *out << c.algorithm << " K=" << c.devices; }

Topology topology_for(const Case& c) { return c.devices == 8 ? dgx1_v100() : flat_topology(c.devices); }

std::vector<Bucket> buckets_of() {
  BucketingOptions fused;
  fused.mode = BucketingMode::fused;
  fused.fuse_bytes = 600;
  return make_buckets(kLayout, fused);
}

// The schedule a Communicator would run for kLayout: one part per bucket, merged; nullopt when
// the algorithm declines.
std::optional<Schedule> schedule_of(const Case& c, const std::vector<Bucket>& buckets) {
  const Topology topology = topology_for(c);
  std::vector<Schedule> parts;
  for (const Bucket& bucket : buckets) {
    AlgorithmRequest request;
    request.num_devices = c.devices;
    request.groups = halves(c.devices);
    request.topology = &topology;
    request.topology_devices = testing::iota_devices(c.devices);
    request.count = bucket.count;
    request.dtype = bucket.dtype;
    request.op = ReduceOp::sum;
    request.rotation = bucket.rotation;
    request.options.chunk_elements = kChunkElements;
    const Algorithm& algorithm = find_algorithm(c.algorithm);
    if (algorithm.decline(request)) return std::nullopt;
    parts.push_back(build_schedule(algorithm, request));
  }
  Schedule schedule = merge_schedules(std::move(parts));
  schedule.num_devices = c.devices;
  schedule.op = ReduceOp::sum;
  return schedule;
}

// Runs `program` on the thread executor over fresh inputs (poisoned outputs), then applies the
// sweeps' data check to every tensor of every device: "" when all bits are right, otherwise the
// first mismatch in words.
std::string run_and_check(const detail::Program& program, int devices, bool in_place, int threads) {
  std::vector<TensorShape> shapes;
  for (const TensorSpec& spec : kLayout) shapes.push_back({spec.count, spec.dtype});
  DeviceBuffers buffers(devices, shapes);
  testing::fill_inputs(buffers);
  buffers.poison_outputs();
  detail::ThreadPool pool(threads);
  detail::ThreadExecution execution(program, pool.size(), 0);  // on the workers, however small
  const auto outputs = in_place ? buffers.inplace_views() : buffers.output_views();
  const auto inputs = buffers.input_views();
  execution.run(pool, {inputs, outputs});
  for (int n = 0; n < buffers.tensors(); ++n) {
    const Bytes expected = testing::expected_tensor(buffers, ReduceOp::sum, n);
    for (int k = 0; k < devices; ++k) {
      const std::byte* got = in_place ? buffers.input(k, n) : buffers.output(k, n);
      const std::int64_t wrong = testing::first_wrong_element(got, expected, DType::f32);
      if (wrong >= 0)
        return "device " + std::to_string(k) + " tensor " + std::to_string(n) + " element " + std::to_string(wrong);
    }
  }
  return "";
}

// The elements of the memory a reference points into.
std::int64_t extent(const detail::Program& program, const detail::PhysicalRef& ref) {
  if (ref.kind == BufferKind::scratch) return program.scratch[static_cast<std::size_t>(ref.index)].count;
  return kLayout[static_cast<std::size_t>(ref.index)].count;
}

// Shifts the first source of `piece` by one element, forward when that stays inside its memory,
// else backward; false when neither does (the piece reads its whole buffer).
bool shift_first_source(detail::Program& program, std::size_t piece) {
  const detail::Piece& p = program.pieces[piece];
  if (p.sources == 0) return false;
  detail::PhysicalRef& ref = program.refs[static_cast<std::size_t>(p.first_ref)];
  if (ref.offset + p.count + 1 <= extent(program, ref)) ref.offset += 1;
  else if (ref.offset > 0) ref.offset -= 1;
  else return false;
  return true;
}

std::vector<Case> cases() {
  std::vector<Case> result;
  for (const Algorithm& algorithm : algorithms())
    for (int devices : {3, 5, 8})
      if (schedule_of({std::string(algorithm.name), devices}, buckets_of())) result.push_back({std::string(algorithm.name), devices});
  return result;
}

// The premise of every data test: inputs in [-3, 3] (sums of 64 exact in every dtype), odd values
// at even elements and even values at odd ones (neighbours always differ), and no two devices or
// two tensors with the same buffer.
TEST(TestInputs, DifferPerDeviceTensorAndElement) {
  constexpr int kDevices = 64;
  constexpr int kTensors = 5;
  constexpr std::int64_t kElements = 257;
  const auto buffer = [&](int k, int n) {
    std::vector<int> values;
    for (std::int64_t i = 0; i < kElements; ++i) values.push_back(testing::input_value(k, n, i));
    return values;
  };
  for (int k = 0; k < kDevices; ++k)
    for (int n = 0; n < kTensors; ++n)
      for (std::int64_t i = 0; i < kElements; ++i) {
        const int value = testing::input_value(k, n, i);
        ASSERT_TRUE(value >= -3 && value <= 3) << "device " << k << " tensor " << n << " element " << i;
        ASSERT_EQ((value + 4 + i) % 2, 1) << "device " << k << " tensor " << n << " element " << i;
      }
  for (int n = 0; n < kTensors; ++n)
    for (int k = 1; k < kDevices; ++k) EXPECT_NE(buffer(k, n), buffer(0, n)) << "devices 0 and " << k << ", tensor " << n;
  for (int k = 0; k < kDevices; ++k)
    for (int n = 1; n < kTensors; ++n) EXPECT_NE(buffer(k, n), buffer(k, 0)) << "device " << k << ", tensors 0 and " << n;
}

class OffsetMutation : public ::testing::TestWithParam<Case> {};

// The program as lowered passes the check, on one thread and on three, in place and out of place.
TEST_P(OffsetMutation, UnmutatedProgramPasses) {
  const Case& c = GetParam();
  const std::vector<Bucket> buckets = buckets_of();
  ASSERT_EQ(buckets.size(), 2u);
  ASSERT_EQ(buckets[0].pieces.size(), 2u) << "the first bucket should span two tensors";
  const detail::Program program = detail::lower_schedule(*schedule_of(c, buckets), buckets, kPieceElements);
  for (int threads : {1, 3})
    for (bool in_place : {false, true})
      EXPECT_EQ(run_and_check(program, c.devices, in_place, threads), "")
          << threads << " threads, " << (in_place ? "in place" : "out of place");
}

// One piece's first source shifted by one element: the first, a middle and the last piece that
// reads anything, each alone; each mutant must fail the check.
TEST_P(OffsetMutation, OneShiftedPieceSourceFailsTheDataCheck) {
  const Case& c = GetParam();
  const std::vector<Bucket> buckets = buckets_of();
  const detail::Program program = detail::lower_schedule(*schedule_of(c, buckets), buckets, kPieceElements);
  std::vector<std::size_t> readers;
  for (std::size_t p = 0; p < program.pieces.size(); ++p)
    if (program.pieces[p].sources > 0) readers.push_back(p);
  ASSERT_FALSE(readers.empty());
  int mutants = 0;
  for (std::size_t pick : {std::size_t{0}, readers.size() / 2, readers.size() - 1}) {
    detail::Program mutant = program;
    if (!shift_first_source(mutant, readers[pick])) continue;
    const bool in_place = mutants++ % 2 == 1;
    EXPECT_NE(run_and_check(mutant, c.devices, in_place, 1), "")
        << "piece " << readers[pick] << " (step " << program.pieces[readers[pick]].step << ") read one element off, "
        << (in_place ? "in place" : "out of place") << ", and the data check passed";
  }
  EXPECT_GT(mutants, 0) << "no piece could be shifted";
}

// The same at the schedule level: one step's first source BufferRef shifted by one element inside
// its bucket, then lowered as usual; the first, a middle and the last step that can be shifted.
// Algorithms whose steps all cover whole buckets (hierarchical, dgx1-hierarchical) leave no room
// to shift: there the step also shrinks by its last element, so the range [1, n) is read where
// [0, n - 1) belongs.
TEST_P(OffsetMutation, OneShiftedScheduleSourceFailsTheDataCheck) {
  const Case& c = GetParam();
  const std::vector<Bucket> buckets = buckets_of();
  const Schedule schedule = *schedule_of(c, buckets);
  const auto size_of = [&](const BufferRef& ref) {
    return ref.kind == BufferKind::scratch ? schedule.scratch[static_cast<std::size_t>(ref.buffer)].count
                                           : schedule.buffers[static_cast<std::size_t>(ref.buffer)].count;
  };
  std::vector<std::size_t> shiftable;
  std::vector<std::size_t> readers;
  for (std::size_t s = 0; s < schedule.steps.size(); ++s) {
    const Step& step = schedule.steps[s];
    if (step.srcs.empty()) continue;
    readers.push_back(s);
    const BufferRef& ref = step.srcs.front();
    if (ref.offset > 0 || ref.offset + step.count < size_of(ref)) shiftable.push_back(s);
  }
  const bool shrink = shiftable.empty();
  const std::vector<std::size_t>& candidates = shrink ? readers : shiftable;
  ASSERT_FALSE(candidates.empty());
  int mutants = 0;
  for (std::size_t pick : {std::size_t{0}, candidates.size() / 2, candidates.size() - 1}) {
    Schedule mutant = schedule;
    Step& step = mutant.steps[candidates[pick]];
    BufferRef& ref = step.srcs.front();
    if (shrink) {
      if (step.count < 2) continue;
      step.count -= 1;
      ref.offset += 1;
    } else {
      ref.offset += ref.offset + step.count < size_of(ref) ? 1 : -1;
    }
    const bool in_place = mutants++ % 2 == 0;
    EXPECT_NE(run_and_check(detail::lower_schedule(mutant, buckets, kPieceElements), c.devices, in_place, 1), "")
        << "step " << candidates[pick] << " read one element off" << (shrink ? " (and shrank)" : "") << ", "
        << (in_place ? "in place" : "out of place") << ", and the data check passed";
  }
  EXPECT_GT(mutants, 0) << "no step could be shifted";
}

INSTANTIATE_TEST_SUITE_P(Algorithms, OffsetMutation, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           std::string name = info.param.algorithm + "_K" + std::to_string(info.param.devices);
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace meshreduce
