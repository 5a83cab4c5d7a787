// Lowering a schedule onto a call's tensors: which pieces use non-temporal stores.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "meshreduce/algorithm.h"
#include "meshreduce/bucketing.h"
#include "meshreduce/topology.h"
#include "plan/program.h"

namespace meshreduce {
namespace {

Schedule schedule_of(const char* name, int devices, std::int64_t count) {
  static const Topology topology = flat_topology(8);
  AlgorithmRequest request;
  request.num_devices = devices;
  request.topology = &topology;
  for (int p = 0; p < devices; ++p) request.topology_devices.push_back(p);
  request.count = count;
  return build_schedule(find_algorithm(name), request);
}

std::vector<Bucket> one_bucket(std::int64_t count) {
  const std::vector<TensorSpec> layout{{count, DType::f32}};
  return make_buckets(layout, {});
}

std::set<int> streamed_steps(const detail::Program& program) {
  std::set<int> steps;
  for (const detail::Piece& piece : program.pieces)
    if (piece.stream) steps.insert(piece.step);
  return steps;
}

// The steps whose destinations are outputs that no later step reads, computed plainly.
std::set<int> final_steps(const Schedule& schedule) {
  std::set<int> result;
  for (std::size_t s = 0; s < schedule.steps.size(); ++s) {
    bool all_final = !schedule.steps[s].dsts.empty();
    for (const BufferRef& dst : schedule.steps[s].dsts) {
      if (dst.kind != BufferKind::output) all_final = false;
      for (std::size_t later = s + 1; later < schedule.steps.size(); ++later)
        for (const BufferRef& src : schedule.steps[later].srcs)
          if (src.kind == BufferKind::output && src.device == dst.device && src.buffer == dst.buffer) all_final = false;
    }
    if (all_final) result.insert(static_cast<int>(s));
  }
  return result;
}

TEST(Lowering, DirectStreamsEveryStepOnceOutputsAreLarge) {
  const Schedule schedule = schedule_of("direct", 4, 1000);
  const auto buckets = one_bucket(1000);
  const std::int64_t outputs = 4 * 1000 * 4;
  EXPECT_EQ(streamed_steps(detail::lower_schedule(schedule, buckets, 64, outputs)).size(), schedule.steps.size());
  EXPECT_TRUE(streamed_steps(detail::lower_schedule(schedule, buckets, 64, outputs + 1)).empty());
  EXPECT_TRUE(streamed_steps(detail::lower_schedule(schedule, buckets, 64, -1)).empty());
}

TEST(Lowering, OnlyStepsWhoseOutputsAreNeverReadAgainStream) {
  for (const char* name : {"ring", "hierarchical", "tree", "halving-doubling", "multiring", "hierarchical-rs"}) {
    const Schedule schedule = schedule_of(name, 6, 999);
    const auto program = detail::lower_schedule(schedule, one_bucket(999), 100, 0);
    const std::set<int> streamed = streamed_steps(program);
    EXPECT_EQ(streamed, final_steps(schedule)) << name;
    EXPECT_FALSE(streamed.empty()) << name << ": some step writes final outputs";
    for (const detail::Piece& piece : program.pieces)
      EXPECT_EQ(piece.stream, streamed.count(piece.step) == 1) << name << " step " << piece.step;
  }
}

}  // namespace
}  // namespace meshreduce
