// The schedule verifier: every algorithm's schedules verify over a sweep of shapes, and
// hand-made broken schedules fail for the right reason, at the right step.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "algorithms/multiring.h"
#include "meshreduce/meshreduce.h"
#include "meshreduce/verifier.h"

namespace meshreduce {
namespace {

// ---- Building schedules by hand -------------------------------------------------------------

BufferRef in(int device, std::int64_t offset = 0, int buffer = 0) {
  return {device, BufferKind::input, buffer, offset};
}
BufferRef out(int device, std::int64_t offset = 0, int buffer = 0) {
  return {device, BufferKind::output, buffer, offset};
}
BufferRef scratch(int device, int index, std::int64_t offset = 0) {
  return {device, BufferKind::scratch, index, offset};
}

Schedule blank(int devices, std::int64_t count, ReduceOp op = ReduceOp::sum, DType dtype = DType::f32) {
  Schedule schedule;
  schedule.algorithm = "hand-made";
  schedule.num_devices = devices;
  schedule.op = op;
  schedule.buffers.push_back({count, dtype});
  return schedule;
}

int add(Schedule& schedule, StepKind kind, int device, std::int64_t count, std::vector<BufferRef> srcs,
        std::vector<BufferRef> dsts, std::vector<int> deps = {}, bool average = false) {
  return schedule.add(Step{kind, device, count, std::move(srcs), std::move(dsts), std::move(deps), average});
}

std::vector<BufferRef> inputs(int devices) {
  std::vector<BufferRef> refs;
  for (int d = 0; d < devices; ++d) refs.push_back(in(d));
  return refs;
}

// A ring: chunk c is reduced along c, c+1, ..., c+K-1 (into each device's output), then copied
// along from its owner c-1 back round to c-2; each chunk is split into `pipeline` pieces.
Schedule ring(int devices, std::int64_t count, ReduceOp op, DType dtype, int pipeline) {
  Schedule schedule = blank(devices, count, op, dtype);
  schedule.algorithm = "test-ring";
  const bool average = op == ReduceOp::average;
  const std::int64_t pieces = static_cast<std::int64_t>(devices) * pipeline;
  for (std::int64_t p = 0; p < pieces; ++p) {
    const std::int64_t begin = count * p / pieces;
    const std::int64_t n = count * (p + 1) / pieces - begin;
    const int c = static_cast<int>(p / pipeline);
    if (devices == 1) {
      add(schedule, StepKind::reduce, 0, n, {in(0, begin)}, {out(0, begin)}, {}, average);
      continue;
    }
    int previous = -1;
    for (int r = 0; r + 1 < devices; ++r) {
      const int device = (c + r + 1) % devices;
      const BufferRef from = r == 0 ? in(c, begin) : out((c + r) % devices, begin);
      std::vector<int> deps;
      if (previous >= 0) deps.push_back(previous);
      previous = add(schedule, StepKind::reduce, device, n, {from, in(device, begin)}, {out(device, begin)}, deps,
                     average && r + 2 == devices);
    }
    for (int r = 0; r + 1 < devices; ++r) {
      const int device = (c + r) % devices;
      previous = add(schedule, StepKind::copy, device, n, {out((c + r + devices - 1) % devices, begin)},
                     {out(device, begin)}, {previous});
    }
  }
  return schedule;
}

// The expected failure of a broken schedule.
void expect_violation(const Schedule& schedule, ViolationKind kind, int step, const std::string& words = "",
                      const VerifyOptions& options = {}) {
  const VerifyReport report = verify_schedule(schedule, options);
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(violation_kind_name(report.kind), violation_kind_name(kind)) << report.violation;
  EXPECT_EQ(report.step, step) << report.violation;
  EXPECT_NE(report.violation.find(words), std::string::npos) << "'" << words << "' not in: " << report.violation;
}

// ---- Every algorithm's schedules verify -----------------------------------------------------

std::vector<std::vector<std::vector<int>>> group_shapes(int devices) {
  std::vector<std::vector<std::vector<int>>> shapes{{}};  // one group
  if (devices >= 2) {
    std::vector<std::vector<int>> halves(2);
    for (int d = 0; d < devices; ++d) halves[d < devices / 2 ? 0 : 1].push_back(d);
    shapes.push_back(halves);
  }
  if (devices >= 3) {  // sizes 3, 1, 4, 3, 1, 4, ...: unequal groups
    std::vector<std::vector<int>> unequal;
    const int sizes[] = {3, 1, 4};
    for (int d = 0, g = 0; d < devices; ++g) {
      unequal.emplace_back();
      for (int i = 0; i < sizes[g % 3] && d < devices; ++i) unequal.back().push_back(d++);
    }
    shapes.push_back(unequal);
  }
  std::vector<std::vector<int>> singletons;
  for (int d = 0; d < devices; ++d) singletons.push_back({d});
  if (devices >= 2) shapes.push_back(singletons);
  return shapes;
}

std::string describe(const std::string& name, const AlgorithmRequest& request) {
  std::string groups;
  for (const auto& group : request.groups) {
    groups += "{";
    for (int d : group) groups += std::to_string(d) + ",";
    groups += "}";
  }
  return name + " K=" + std::to_string(request.num_devices) + " groups=" + (groups.empty() ? "one" : groups) +
         " count=" + std::to_string(request.count) + " " + std::string(reduce_op_name(request.op)) + " " +
         std::string(dtype_name(request.dtype)) + " rotation=" + std::to_string(request.rotation) +
         " chunk=" + std::to_string(request.options.chunk_elements);
}

// Sweep: K 1..16, every group shape, counts {0, 1, 7, 1001}, sum and average, f32 (rotation 0)
// and f16 (rotation 5); then the pipelined paths (chunks of 4 elements) on 1001 elements.
TEST(Verifier, EveryAlgorithmVerifiesOverTheSweep) {
  struct Variant {
    std::int64_t count;
    DType dtype;
    std::int64_t rotation;
    std::int64_t chunk;
  };
  std::vector<Variant> variants;
  for (std::int64_t count : {0, 1, 7, 1001}) {
    variants.push_back({count, DType::f32, 0, 0});
    variants.push_back({count, DType::f16, 5, 0});
  }
  variants.push_back({1001, DType::f32, 2, 4});
  int verified = 0;
  for (const Algorithm& algorithm : algorithms()) {
    int served = 0;
    for (int devices = 1; devices <= 16; ++devices)
      for (const auto& groups : group_shapes(devices))
        for (const Variant& variant : variants)
          for (ReduceOp op : {ReduceOp::sum, ReduceOp::average}) {
            AlgorithmRequest request;
            request.num_devices = devices;
            request.groups = groups;
            request.count = variant.count;
            request.op = op;
            request.dtype = variant.dtype;
            request.rotation = variant.rotation;
            request.options.chunk_elements = variant.chunk;
            if (algorithm.decline(request)) continue;
            const VerifyReport report = verify_schedule(build_schedule(algorithm, request));
            ASSERT_TRUE(report.ok) << describe(std::string(algorithm.name), request) << ": " << report.violation;
            ++served;
          }
    EXPECT_GT(served, 0) << algorithm.name << " served no request of the sweep";
    verified += served;
  }
  EXPECT_GT(verified, 0);
}

// multiring needs a topology whose links hold Hamiltonian cycles, so the sweep above (no
// topology) proves it only for K < 3. Here: on both DGX-1 link tables, all 8 GPUs (6 directed
// rings on the V100's 24 links, 4 on the P100's 16) and a 5-GPU subset (cycle 0-2-1-5-4), several counts (fewer
// elements than rings, odd, several chunks per ring), sum and average, f32 and f16, whole and
// pipelined, proven out of place and in place.
TEST(Verifier, MultiringVerifiesOnDgx1Topologies) {
  const Algorithm& multiring = find_algorithm("multiring");
  for (const Topology& topology : {dgx1_v100(), dgx1_p100()})
    for (const std::vector<int>& devices : {std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}, std::vector<int>{5, 1, 2, 0, 4}}) {
      AlgorithmRequest request;
      request.num_devices = static_cast<int>(devices.size());
      request.topology = &topology;
      request.topology_devices = devices;
      if (devices.size() == 8) {
        EXPECT_EQ(detail::find_rings(request).size(), topology.name == "dgx1-v100" ? 6u : 4u) << topology.name;
      }
      for (std::int64_t count : {1, 5, 1001, 65537})
        for (ReduceOp op : {ReduceOp::sum, ReduceOp::average})
          for (DType dtype : {DType::f32, DType::f16})
            for (std::int64_t chunk : {0, 100}) {
              request.count = count;
              request.op = op;
              request.dtype = dtype;
              request.rotation = count % 7;
              request.options.chunk_elements = chunk;
              ASSERT_FALSE(multiring.decline(request)) << describe(topology.name, request);
              const Schedule schedule = build_schedule(multiring, request);
              for (bool in_place : {false, true}) {
                const VerifyReport report = verify_schedule(schedule, {in_place});
                ASSERT_TRUE(report.ok) << describe(topology.name, request) << (in_place ? " in place: " : ": ")
                                       << report.violation;
              }
            }
    }
}

TEST(Verifier, EveryAlgorithmVerifiesWithMinAndMax) {
  for (const Algorithm& algorithm : algorithms())
    for (int devices : {1, 2, 3, 5, 8, 13})
      for (ReduceOp op : {ReduceOp::min, ReduceOp::max})
        for (DType dtype : {DType::f32, DType::f16, DType::i32}) {
          AlgorithmRequest request;
          request.num_devices = devices;
          request.count = 37;
          request.op = op;
          request.dtype = dtype;
          request.rotation = 3;
          if (algorithm.decline(request)) continue;
          const VerifyReport report = verify_schedule(build_schedule(algorithm, request));
          EXPECT_TRUE(report.ok) << describe(std::string(algorithm.name), request) << ": " << report.violation;
        }
}

TEST(Verifier, MergedBucketsVerify) {
  for (const Algorithm& algorithm : algorithms())
    for (int devices : {5, 8}) {
      std::vector<Schedule> parts;
      const std::int64_t counts[] = {7, 0, 1001, 64};
      for (std::size_t b = 0; b < 4; ++b) {
        AlgorithmRequest request;
        request.num_devices = devices;
        request.count = counts[b];
        request.op = ReduceOp::average;
        request.dtype = b % 2 == 0 ? DType::f32 : DType::f16;
        request.rotation = static_cast<std::int64_t>(b);
        if (algorithm.decline(request)) continue;
        parts.push_back(build_schedule(algorithm, request));
      }
      if (parts.empty()) continue;
      const VerifyReport report = verify_schedule(merge_schedules(parts));
      EXPECT_TRUE(report.ok) << algorithm.name << " K=" << devices << ": " << report.violation;
    }
}

TEST(Verifier, MergedBucketsOfDifferentAlgorithmsVerify) {
  std::vector<Schedule> parts;
  int rotation = 0;
  for (const Algorithm& algorithm : algorithms()) {
    AlgorithmRequest request;
    request.num_devices = 8;
    request.count = 100 + rotation;
    request.rotation = rotation++;
    if (!algorithm.decline(request)) parts.push_back(build_schedule(algorithm, request));
  }
  const Schedule merged = merge_schedules(parts);
  const VerifyReport report = verify_schedule(merged);
  EXPECT_TRUE(report.ok) << report.violation;
  EXPECT_EQ(report.stats.steps, static_cast<std::int64_t>(merged.steps.size()));
}

TEST(Verifier, HandMadeRingVerifiesAtAnySize) {
  for (int devices : {1, 2, 3, 16})
    for (ReduceOp op : {ReduceOp::sum, ReduceOp::average, ReduceOp::max})
      for (DType dtype : {DType::f32, DType::f16, DType::i64}) {
        const VerifyReport report = verify_schedule(ring(devices, 1001, op, dtype, 3));
        EXPECT_TRUE(report.ok) << devices << " " << reduce_op_name(op) << " " << dtype_name(dtype) << ": "
                               << report.violation;
      }
  // Work does not depend on the element count: a trillion elements verify like a thousand.
  const Schedule huge = ring(16, std::int64_t{1} << 40, ReduceOp::average, DType::f32, 4);
  const VerifyReport report = verify_schedule(huge);
  EXPECT_TRUE(report.ok) << report.violation;
  EXPECT_EQ(report.stats.steps, 16 * 4 * 2 * 15);
  EXPECT_LT(report.stats.segments, 16 * 16 * 4 * 2 + 64);
}

TEST(Verifier, RequireValidThrowsScheduleError) {
  Schedule schedule = blank(2, 4);
  add(schedule, StepKind::reduce, 0, 4, inputs(2), {out(0)});
  try {
    require_valid(schedule);
    FAIL() << "no throw";
  } catch (const ScheduleError& error) {
    EXPECT_NE(std::string(error.what()).find("never written"), std::string::npos) << error.what();
  }
  add(schedule, StepKind::copy, 0, 4, {out(0)}, {out(1)}, {0});
  EXPECT_NO_THROW(require_valid(schedule));
}

// ---- Soundness: what the verifier accepts computes the right sums -------------------------

// Runs a sum schedule on integers (exact in any order), in a random order that respects the
// dependencies, with input and output memory distinct or the same; true when every output
// element is the sum of the inputs of that element.
bool runs_correctly(const Schedule& schedule, bool in_place, std::mt19937& random) {
  auto input_value = [](int device, int buffer, std::int64_t element) {
    std::uint64_t x = (static_cast<std::uint64_t>(device) * 1000003u + static_cast<std::uint64_t>(buffer)) * 999983u +
                      static_cast<std::uint64_t>(element);
    x ^= x >> 31;
    x *= 0x9e3779b97f4a7c15u;
    return static_cast<std::int64_t>((x >> 24) & 0xffffffffffu);
  };
  std::map<std::tuple<int, int, int>, std::vector<std::int64_t>> memory;  // (space, device, buffer)
  auto data = [&](const BufferRef& ref) -> std::vector<std::int64_t>& {
    const int space = ref.kind == BufferKind::scratch ? 2 : ref.kind == BufferKind::output || in_place ? 1 : 0;
    const auto key = std::make_tuple(space, ref.kind == BufferKind::scratch ? 0 : ref.device, ref.buffer);
    auto found = memory.find(key);
    if (found != memory.end()) return found->second;
    const std::int64_t count = ref.kind == BufferKind::scratch
                                   ? schedule.scratch[static_cast<std::size_t>(ref.buffer)].count
                                   : schedule.buffers[static_cast<std::size_t>(ref.buffer)].count;
    std::vector<std::int64_t> values(static_cast<std::size_t>(count), -1);
    if (space == 0 || (space == 1 && in_place))
      for (std::int64_t i = 0; i < count; ++i)
        values[static_cast<std::size_t>(i)] = input_value(ref.device, ref.buffer, i);
    return memory.emplace(key, std::move(values)).first->second;
  };
  // A random topological order.
  const std::size_t steps = schedule.steps.size();
  std::vector<int> waiting(steps);
  std::vector<std::vector<int>> dependents(steps);
  for (std::size_t s = 0; s < steps; ++s)
    for (int dep : schedule.steps[s].deps) {
      ++waiting[s];
      dependents[static_cast<std::size_t>(dep)].push_back(static_cast<int>(s));
    }
  std::vector<int> ready;
  for (std::size_t s = 0; s < steps; ++s)
    if (waiting[s] == 0) ready.push_back(static_cast<int>(s));
  while (!ready.empty()) {
    std::swap(ready[std::uniform_int_distribution<std::size_t>(0, ready.size() - 1)(random)], ready.back());
    const auto index = static_cast<std::size_t>(ready.back());
    ready.pop_back();
    const Step& step = schedule.steps[index];
    std::vector<std::int64_t> result(static_cast<std::size_t>(step.count), 0);
    for (const BufferRef& src : step.srcs) {
      const std::vector<std::int64_t>& values = data(src);
      for (std::int64_t i = 0; i < step.count; ++i)
        result[static_cast<std::size_t>(i)] += values[static_cast<std::size_t>(src.offset + i)];
    }
    for (const BufferRef& dst : step.dsts) std::copy(result.begin(), result.end(), data(dst).begin() + dst.offset);
    for (int next : dependents[index])
      if (--waiting[static_cast<std::size_t>(next)] == 0) ready.push_back(next);
  }
  for (std::size_t b = 0; b < schedule.buffers.size(); ++b)
    for (int d = 0; d < schedule.num_devices; ++d) {
      const std::vector<std::int64_t>& values = data(out(d, 0, static_cast<int>(b)));
      for (std::size_t i = 0; i < values.size(); ++i) {
        std::int64_t sum = 0;
        for (int k = 0; k < schedule.num_devices; ++k)
          sum += input_value(k, static_cast<int>(b), static_cast<std::int64_t>(i));
        if (values[i] != sum) return false;
      }
    }
  return true;
}

// One random change of a schedule: a dependency, a source, an offset, a device, a count, a step.
// Returns false when the change it drew does not apply to the step it drew.
bool mutate(Schedule& schedule, std::mt19937& random) {
  auto pick = [&](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(random); };
  const int index = static_cast<int>(pick(schedule.steps.size()));
  Step& step = schedule.steps[static_cast<std::size_t>(index)];
  std::vector<BufferRef>& refs = pick(2) == 0 ? step.srcs : step.dsts;
  BufferRef& ref = refs[pick(refs.size())];
  switch (pick(9)) {
    case 0:
      if (step.deps.empty()) return false;
      step.deps.erase(step.deps.begin() + static_cast<std::ptrdiff_t>(pick(step.deps.size())));
      return true;
    case 1:
      if (step.srcs.size() < 2) return false;
      step.srcs.pop_back();
      return true;
    case 2: step.srcs.push_back(step.srcs[pick(step.srcs.size())]); return true;
    case 3: ref.offset += pick(2) == 0 ? 1 : -1; return true;
    case 4:
      if (schedule.num_devices < 2) return false;
      ref.device = (ref.device + 1 + static_cast<int>(pick(static_cast<std::size_t>(schedule.num_devices) - 1))) %
                   schedule.num_devices;
      return true;
    case 5: step.count += pick(2) == 0 ? 1 : -1; return true;
    case 6:
      if (step.srcs.size() < 2) return false;
      std::swap(step.srcs.front(), step.srcs.back());
      return true;
    case 7:
      if (step.deps.empty() || step.deps.front() == 0) return false;
      step.deps.front() = static_cast<int>(pick(static_cast<std::size_t>(step.deps.front())));
      return true;
    default:  // drop the step, renumbering the dependencies on later ones
      schedule.steps.erase(schedule.steps.begin() + index);
      for (Step& other : schedule.steps) {
        std::erase(other.deps, index);
        for (int& dep : other.deps) dep -= dep > index ? 1 : 0;
      }
      return true;
  }
}

TEST(Verifier, AcceptedMutantsComputeTheRightSums) {
  std::mt19937 random(12345);
  int accepted = 0;
  int rejected = 0;
  for (const Algorithm& algorithm : algorithms())
    for (int devices : {3, 4, 8})
      for (std::int64_t chunk : {0, 2}) {
        AlgorithmRequest request;
        request.num_devices = devices;
        request.groups = devices == 8 ? std::vector<std::vector<int>>{{0, 1, 2}, {3}, {4, 5, 6, 7}}
                                      : std::vector<std::vector<int>>{};
        request.count = 9;
        request.rotation = devices;
        request.options.chunk_elements = chunk;
        if (algorithm.decline(request)) continue;
        const Schedule original = build_schedule(algorithm, request);
        ASSERT_TRUE(runs_correctly(original, true, random)) << algorithm.name;
        for (int trial = 0; trial < 150 && !original.steps.empty(); ++trial) {
          Schedule mutant = original;
          if (!mutate(mutant, random)) continue;
          if (!verify_schedule(mutant).ok) {
            ++rejected;
            continue;
          }
          ++accepted;
          for (bool in_place : {false, true})
            for (int order = 0; order < 3; ++order)
              ASSERT_TRUE(runs_correctly(mutant, in_place, random))
                  << algorithm.name << " K=" << devices << " trial " << trial << ": accepted, but wrong "
                  << (in_place ? "in place" : "out of place");
        }
      }
  EXPECT_GT(rejected, 100);
  EXPECT_GT(accepted, 0);  // swapping the sources of a reduce that has no replicas to disagree with is fine
}

// ---- Broken schedules fail for the right reason ---------------------------------------------

TEST(VerifierBroken, MissingContribution) {
  Schedule schedule = blank(4, 10);
  add(schedule, StepKind::reduce, 0, 10, {in(0), in(1), in(2)}, {scratch(0, 0)});
  schedule.scratch.push_back({0, 10, DType::f32});
  add(schedule, StepKind::copy, 0, 10, {scratch(0, 0)}, {out(0), out(1), out(2), out(3)}, {0});
  expect_violation(schedule, ViolationKind::missing_contribution, 1, "device 3");
}

TEST(VerifierBroken, DoubleContribution) {
  Schedule schedule = blank(3, 10);
  schedule.scratch.push_back({0, 10, DType::f32});
  add(schedule, StepKind::reduce, 0, 10, {in(0), in(1), in(2), in(1)}, {scratch(0, 0)});
  add(schedule, StepKind::copy, 0, 10, {scratch(0, 0)}, {out(0), out(1), out(2)}, {0});
  expect_violation(schedule, ViolationKind::duplicate_contribution, 1, "device 1 2 times");
}

// Each device reduces all inputs into its own scratch, in its own order, then copies it out.
Schedule every_device_reduces(int devices, DType dtype, const std::vector<std::vector<int>>& orders,
                              bool split_first_pair) {
  Schedule schedule = blank(devices, 9, ReduceOp::sum, dtype);
  std::vector<int> reduced;
  for (int d = 0; d < devices; ++d) {
    schedule.scratch.push_back({d, 9, dtype});
    std::vector<BufferRef> srcs;
    for (int from : orders[static_cast<std::size_t>(d)]) srcs.push_back(in(from));
    if (split_first_pair && d == 1) {  // ((a + b) + c) in two steps instead of one
      const int first = add(schedule, StepKind::reduce, d, 9, {srcs[0], srcs[1]}, {scratch(d, d)});
      srcs.erase(srcs.begin(), srcs.begin() + 2);
      srcs.insert(srcs.begin(), scratch(d, d));
      reduced.push_back(add(schedule, StepKind::reduce, d, 9, srcs, {scratch(d, d)}, {first}));
    } else {
      reduced.push_back(add(schedule, StepKind::reduce, d, 9, srcs, {scratch(d, d)}));
    }
  }
  for (int d = 0; d < devices; ++d) add(schedule, StepKind::copy, d, 9, {scratch(d, d)}, {out(d)}, reduced);
  return schedule;
}

TEST(VerifierBroken, ReplicasWithDifferentAdditionOrder) {
  const Schedule schedule = every_device_reduces(3, DType::f32, {{0, 1, 2}, {1, 0, 2}, {0, 1, 2}}, false);
  expect_violation(schedule, ViolationKind::replica_mismatch, 4, "(in1 + in0 + in2)");
  EXPECT_EQ(verify_schedule(schedule).other_step, 3);
  EXPECT_EQ(verify_schedule(schedule).device, 1);
}

// Reproducible mode sums exactly: the order of combination no longer matters, but each input
// must still arrive exactly once.
TEST(VerifierReproducible, ReplicasMayCombineInAnyOrderWhenSumsCommute) {
  VerifyOptions commutative;
  commutative.commutative_sums = true;
  const Schedule reordered = every_device_reduces(3, DType::f32, {{0, 1, 2}, {1, 0, 2}, {2, 1, 0}}, true);
  EXPECT_TRUE(verify_schedule(reordered, commutative).ok) << verify_schedule(reordered, commutative).violation;
  EXPECT_EQ(verify_schedule(reordered).kind, ViolationKind::replica_mismatch);
  const VerifyReport missing =
      verify_schedule(every_device_reduces(3, DType::f32, {{0, 1, 2}, {1, 0, 0}, {0, 1, 2}}, false), commutative);
  EXPECT_TRUE(missing.kind == ViolationKind::duplicate_contribution ||
              missing.kind == ViolationKind::missing_contribution)
      << missing.violation;
}

TEST(VerifierBroken, SplittingASumIsExactOnlyWhenEveryAdditionRounds) {
  // f32 rounds after every addition, so reduce(a, b, c) and reduce(reduce(a, b), c) agree bit for
  // bit; f16 accumulates in f32 and rounds once per step, so they differ.
  const std::vector<std::vector<int>> same{{0, 1, 2}, {0, 1, 2}, {0, 1, 2}};
  EXPECT_TRUE(verify_schedule(every_device_reduces(3, DType::f32, same, true)).ok);
  expect_violation(every_device_reduces(3, DType::f16, same, true), ViolationKind::replica_mismatch, 5,
                   "((in0 + in1) + in2)");
}

TEST(VerifierBroken, OutputNeverWritten) {
  Schedule schedule = blank(2, 10);
  add(schedule, StepKind::reduce, 0, 10, inputs(2), {out(0)});
  add(schedule, StepKind::copy, 0, 6, {out(0)}, {out(1)}, {0});
  expect_violation(schedule, ViolationKind::never_written, -1, "output 0 of device 1, elements [6,10)");
  const VerifyReport report = verify_schedule(schedule);
  EXPECT_EQ(report.device, 1);
  EXPECT_EQ(report.begin, 6);
  EXPECT_EQ(report.byte_begin, 24);
  EXPECT_EQ(report.byte_end, 40);
}

TEST(VerifierBroken, AverageScaledTwice) {
  Schedule schedule = blank(2, 10, ReduceOp::average);
  add(schedule, StepKind::reduce, 0, 10, inputs(2), {out(0)}, {}, true);
  add(schedule, StepKind::scale, 0, 10, {out(0)}, {out(1)}, {0});
  expect_violation(schedule, ViolationKind::wrong_scaling, 1, "2 times");
}

TEST(VerifierBroken, AverageNeverScaled) {
  Schedule schedule = blank(2, 10, ReduceOp::average);
  add(schedule, StepKind::reduce, 0, 10, inputs(2), {out(0)});
  add(schedule, StepKind::copy, 0, 10, {out(0)}, {out(1)}, {0});
  expect_violation(schedule, ViolationKind::wrong_scaling, 0, "never scaled");
}

TEST(VerifierBroken, AverageScaledBeforeTheSumIsComplete) {
  Schedule schedule = blank(3, 10, ReduceOp::average);
  add(schedule, StepKind::reduce, 0, 10, {in(0), in(1)}, {out(0)}, {}, true);
  add(schedule, StepKind::reduce, 0, 10, {out(0), in(2)}, {out(0)}, {0});
  add(schedule, StepKind::copy, 0, 10, {out(0)}, {out(1), out(2)}, {1});
  expect_violation(schedule, ViolationKind::wrong_scaling, 1, "before the reduction is complete");
}

TEST(VerifierBroken, WriteWriteRace) {
  Schedule schedule = blank(2, 10);
  add(schedule, StepKind::reduce, 0, 10, inputs(2), {out(0)});
  add(schedule, StepKind::copy, 0, 10, {out(0)}, {out(1, 0)}, {0});
  add(schedule, StepKind::copy, 0, 4, {out(0, 6)}, {out(1, 6)}, {0});
  expect_violation(schedule, ViolationKind::race, 2, "writes output 0 of device 1, elements [6,10)");
  EXPECT_EQ(verify_schedule(schedule).other_step, 1);
}

TEST(VerifierBroken, ReadWriteRace) {
  Schedule schedule = blank(2, 10);
  add(schedule, StepKind::reduce, 0, 10, inputs(2), {out(0)});
  add(schedule, StepKind::copy, 1, 10, {out(0)}, {out(1)}, {0});
  add(schedule, StepKind::reduce, 0, 3, {in(0, 7), in(1, 7)}, {out(0, 7)}, {0});
  expect_violation(schedule, ViolationKind::race, 2, "which step 1 reads");
}

TEST(VerifierBroken, InPlaceHazardAfterOrderedWrite) {
  // Out of place this is right; in place, step 1 reads input 0 of device 0 after step 0 has
  // overwritten it with the sum.
  Schedule schedule = blank(2, 10);
  add(schedule, StepKind::reduce, 0, 10, inputs(2), {out(0)});
  add(schedule, StepKind::reduce, 1, 10, inputs(2), {out(1)}, {0});
  expect_violation(schedule, ViolationKind::in_place_hazard, 1, "after step 0 wrote output 0 of device 0");
  const VerifyReport report = verify_schedule(schedule);
  EXPECT_TRUE(report.in_place);
  EXPECT_EQ(report.other_step, 0);
  EXPECT_EQ(report.device, 0);
  EXPECT_EQ(report.buffer_kind, BufferKind::input);
  EXPECT_TRUE(verify_schedule(schedule, {.in_place = false}).ok);
}

TEST(VerifierBroken, InPlaceRaceBetweenInputAndOutput) {
  // Without the dependency, step 1's read of input 0 of device 0 races with step 0's write.
  Schedule schedule = blank(2, 10);
  add(schedule, StepKind::reduce, 0, 10, inputs(2), {out(0)});
  add(schedule, StepKind::reduce, 1, 10, inputs(2), {out(1)});
  expect_violation(schedule, ViolationKind::race, 1, "the same memory when the call is in place");
  EXPECT_TRUE(verify_schedule(schedule, {.in_place = false}).ok);
}

TEST(VerifierBroken, InPlacePartialOverlapWithinAStep) {
  Schedule schedule = blank(1, 10);
  add(schedule, StepKind::copy, 0, 8, {in(0, 0)}, {out(0, 2)});
  expect_violation(schedule, ViolationKind::in_place_hazard, 0, "partly overlaps source 0");
}

TEST(VerifierBroken, OutOfBoundsReference) {
  Schedule schedule = blank(2, 10);
  add(schedule, StepKind::reduce, 0, 10, inputs(2), {out(0)});
  add(schedule, StepKind::copy, 0, 4, {out(0, 7)}, {out(1, 7)}, {0});
  expect_violation(schedule, ViolationKind::bad_reference, 1, "[7,11) of output 0 of device 0 is outside its 10");
  Schedule devices = blank(2, 10);
  add(devices, StepKind::copy, 0, 10, {in(2)}, {out(0)});
  expect_violation(devices, ViolationKind::bad_reference, 0, "names device 2");
  Schedule buffers = blank(2, 10);
  add(buffers, StepKind::copy, 0, 10, {in(0, 0, 1)}, {out(0)});
  expect_violation(buffers, ViolationKind::bad_reference, 0, "does not exist");
}

TEST(VerifierBroken, DependencyOnALaterStep) {
  Schedule schedule = blank(2, 10);
  add(schedule, StepKind::reduce, 0, 10, inputs(2), {out(0)}, {1});
  add(schedule, StepKind::copy, 0, 10, {out(0)}, {out(1)}, {0});
  expect_violation(schedule, ViolationKind::bad_dependency, 0, "depends on step 1");
  Schedule self = blank(1, 10);
  add(self, StepKind::copy, 0, 10, {in(0)}, {out(0)}, {0});
  expect_violation(self, ViolationKind::bad_dependency, 0, "depends on step 0");
}

TEST(VerifierBroken, CopyWithTwoSources) {
  Schedule schedule = blank(2, 10);
  add(schedule, StepKind::copy, 0, 10, inputs(2), {out(0)});
  expect_violation(schedule, ViolationKind::bad_step, 0, "2 sources");
  Schedule empty = blank(2, 10);
  add(empty, StepKind::reduce, 0, 10, {}, {out(0)});
  expect_violation(empty, ViolationKind::bad_step, 0, "0 sources");
  Schedule nowhere = blank(2, 10);
  add(nowhere, StepKind::reduce, 0, 10, inputs(2), {});
  expect_violation(nowhere, ViolationKind::bad_step, 0, "no destination");
}

TEST(VerifierBroken, ScalingOutsideAverage) {
  Schedule flag = blank(2, 10);
  add(flag, StepKind::reduce, 0, 10, inputs(2), {out(0)}, {}, true);
  expect_violation(flag, ViolationKind::bad_step, 0, "op is sum");
  Schedule scale = blank(2, 10, ReduceOp::max);
  add(scale, StepKind::scale, 0, 10, {in(0)}, {out(0)});
  expect_violation(scale, ViolationKind::bad_step, 0, "op is max");
}

TEST(VerifierBroken, MixedDtypes) {
  Schedule schedule = blank(2, 10);
  schedule.scratch.push_back({1, 10, DType::f16});
  add(schedule, StepKind::reduce, 0, 10, inputs(2), {out(0)});
  add(schedule, StepKind::copy, 1, 10, {out(0)}, {scratch(1, 0)}, {0});
  expect_violation(schedule, ViolationKind::mixed_dtype, 1, "f16");
}

TEST(VerifierBroken, OverlappingDestinations) {
  Schedule schedule = blank(2, 10);
  add(schedule, StepKind::reduce, 0, 10, inputs(2), {out(0)});
  add(schedule, StepKind::copy, 0, 4, {out(0)}, {out(1, 0), out(1, 2)}, {0});
  expect_violation(schedule, ViolationKind::overlap, 1, "destinations 0 and 1 overlap");
  Schedule partial = blank(2, 10);
  add(partial, StepKind::reduce, 0, 10, inputs(2), {out(0)});
  add(partial, StepKind::copy, 0, 4, {out(0, 0)}, {out(0, 3)}, {0});
  expect_violation(partial, ViolationKind::overlap, 1, "partly overlaps source 0");
}

TEST(VerifierBroken, LaneShift) {
  // Output element i of device 1 receives the sum of element i+1.
  Schedule schedule = blank(2, 8);
  add(schedule, StepKind::reduce, 0, 8, inputs(2), {out(0)});
  add(schedule, StepKind::copy, 0, 7, {out(0, 1)}, {out(1, 0)}, {0});
  add(schedule, StepKind::copy, 0, 1, {out(0, 0)}, {out(1, 7)}, {0});
  expect_violation(schedule, ViolationKind::wrong_element, 1, "reduction of element i+1");
  EXPECT_EQ(verify_schedule(schedule).end, 7);
}

TEST(VerifierBroken, ReduceOfDifferentElements) {
  Schedule schedule = blank(2, 8);
  add(schedule, StepKind::reduce, 0, 7, {in(0, 0), in(1, 1)}, {out(0, 0)});
  expect_violation(schedule, ViolationKind::lane_mismatch, 0, "holds element j+1");
}

TEST(VerifierBroken, ReadOfUnwrittenScratch) {
  Schedule schedule = blank(2, 8);
  schedule.scratch.push_back({0, 8, DType::f32});
  add(schedule, StepKind::reduce, 0, 8, {in(0), scratch(0, 0)}, {out(0)});
  expect_violation(schedule, ViolationKind::undefined_read, 0, "scratch 0, elements [0,8)");
}

TEST(VerifierBroken, DataOfAnotherBuffer) {
  // Buffers 0 and 1 are each summed right, then copied to device 1's output of the other one.
  Schedule schedule = blank(2, 8);
  schedule.buffers.push_back({8, DType::f32});
  int previous = -1;
  for (int b = 0; b < 2; ++b) {
    std::vector<int> deps;
    if (previous >= 0) deps.push_back(previous);
    previous = add(schedule, StepKind::reduce, 0, 8, {in(0, 0, b), in(1, 0, b)}, {out(0, 0, b)}, deps);
    previous = add(schedule, StepKind::copy, 0, 8, {out(0, 0, b)}, {out(1, 0, 1 - b)}, {previous});
  }
  expect_violation(schedule, ViolationKind::wrong_element, 3, "from buffer 1, not buffer 0");
}

TEST(VerifierBroken, MalformedSchedule) {
  expect_violation(blank(0, 8), ViolationKind::malformed, -1, "0 devices");
}

TEST(VerifierBroken, FirstViolationIsReported) {
  // Structural faults come before semantic ones, and the lowest step first within a phase.
  Schedule schedule = ring(4, 40, ReduceOp::sum, DType::f32, 1);
  schedule.steps[2].srcs.pop_back();  // a missing contribution
  schedule.steps[9].deps = {11};      // a dependency on a later step
  schedule.steps[5].deps = {7};       // another one, earlier
  expect_violation(schedule, ViolationKind::bad_dependency, 5, "depends on step 7");
  schedule.steps[5].deps = {4};
  schedule.steps[9].deps = {8};
  expect_violation(schedule, ViolationKind::missing_contribution, 3, "device 3");
}

}  // namespace
}  // namespace meshreduce
