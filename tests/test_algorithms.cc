// Every algorithm through the Communicator and the thread executor: bit-exact results for many
// device counts, group shapes, element counts, chunk sizes, dtypes and ops, in place or not;
// and, per algorithm, the bytes each device sends against the formula in its file's header.
// Inputs come from testing::input_value(): a different small integer per device, tensor and
// element, so every sum is exact in any order and a range read one element off shows.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ostream>
#include <string>
#include <vector>

#include "meshreduce/meshreduce.h"
#include "test_support.h"

namespace meshreduce {
namespace {

constexpr DType kDTypes[] = {DType::f32, DType::f64, DType::f16, DType::bf16, DType::i32, DType::i64};
constexpr ReduceOp kOps[] = {ReduceOp::sum, ReduceOp::average, ReduceOp::min, ReduceOp::max};

// K devices x N tensors of bytes.
using Memory = std::vector<std::vector<std::vector<std::byte>>>;

Memory make_memory(int devices, const std::vector<std::int64_t>& counts, DType dtype) {
  const std::size_t size = dtype_size(dtype);
  Memory memory(static_cast<std::size_t>(devices));
  for (int d = 0; d < devices; ++d)
    for (std::size_t t = 0; t < counts.size(); ++t) {
      auto& bytes = memory[static_cast<std::size_t>(d)].emplace_back(static_cast<std::size_t>(counts[t]) * size);
      for (std::int64_t i = 0; i < counts[t]; ++i)
        testing::store_value(bytes.data(), i, dtype, testing::input_value(d, static_cast<int>(t), i));
    }
  return memory;
}

template <typename View>
std::vector<std::vector<View>> views(Memory& memory, DType dtype) {
  std::vector<std::vector<View>> result(memory.size());
  for (std::size_t d = 0; d < memory.size(); ++d)
    for (auto& bytes : memory[d])
      result[d].push_back(View(bytes.data(), static_cast<std::int64_t>(bytes.size() / dtype_size(dtype)), dtype));
  return result;
}

// Run one call and check every output element of every device, bit for bit; out of place, also
// check that the inputs are untouched.
void check_call(Communicator& comm, const std::vector<std::int64_t>& counts, DType dtype, ReduceOp op, bool in_place) {
  const int devices = comm.size();
  const std::size_t size = dtype_size(dtype);
  Memory inputs = make_memory(devices, counts, dtype);
  const Memory original = inputs;
  Memory outputs(in_place ? 0 : static_cast<std::size_t>(devices));
  for (auto& device : outputs)  // garbage, which every element must overwrite
    for (std::int64_t count : counts) device.emplace_back(static_cast<std::size_t>(count) * size, std::byte{0x5a});
  if (in_place) {
    auto grads = views<TensorView>(inputs, dtype);
    comm.allreduce(grads, op);
  } else {
    auto in = views<ConstTensorView>(inputs, dtype);
    auto out = views<TensorView>(outputs, dtype);
    comm.allreduce(in, out, op);
  }
  const Memory& result = in_place ? inputs : outputs;
  if (!in_place) {
    ASSERT_EQ(inputs, original) << "an out-of-place call changed its inputs";
  }
  std::vector<std::byte> expected(size);
  for (std::size_t t = 0; t < counts.size(); ++t)
    for (std::int64_t i = 0; i < counts[t]; ++i) {
      testing::store_value(expected.data(), 0, dtype, testing::expected_value(dtype, op, devices, static_cast<int>(t), i));
      for (int d = 0; d < devices; ++d) {
        const std::byte* got = result[static_cast<std::size_t>(d)][t].data() + static_cast<std::size_t>(i) * size;
        if (std::memcmp(got, expected.data(), size) != 0)
          FAIL() << comm.options().algorithm << " K=" << devices << " " << dtype_name(dtype) << " "
                 << reduce_op_name(op) << (in_place ? " in place" : " out of place") << " chunk "
                 << comm.options().algorithm_options.chunk_elements << ": device " << d << " tensor " << t
                 << " (of " << counts[t] << " elements) element " << i << " differs from the expected bits";
      }
    }
}

std::vector<std::vector<int>> make_groups(const std::string& shape, int devices) {
  std::vector<std::vector<int>> groups;
  if (shape == "halves") return halves(devices);
  if (shape == "thirds") {  // interleaved: p % 3
    groups.resize(static_cast<std::size_t>(std::min(devices, 3)));
    for (int p = 0; p < devices; ++p) groups[static_cast<std::size_t>(p % 3)].push_back(p);
  } else if (shape == "unequal") {  // consecutive groups of 1, 2, 3, ... devices
    for (int p = 0, size = 1; p < devices; ++size) {
      groups.emplace_back();
      for (int i = 0; i < size && p < devices; ++i) groups.back().push_back(p++);
    }
  }
  return groups;  // "flat": one group
}

struct SweepCase {
  std::string algorithm;
  int devices = 0;
  std::string shape;
  bool light = false;  // many devices: a few dtype/op combinations only
};

void PrintTo(const SweepCase& c, std::ostream* out) {
  *out << c.algorithm << " K=" << c.devices << " " << c.shape;
}

// Whether the algorithm serves the case, asked as the Communicator will ask it.
bool serves(const Algorithm& algorithm, int devices, const std::string& shape, const Topology& topology) {
  AlgorithmRequest request;
  request.num_devices = devices;
  request.groups = make_groups(shape, devices);
  request.topology = &topology;
  for (int p = 0; p < devices; ++p) request.topology_devices.push_back(p);
  return !algorithm.decline(request);
}

// Whole-chunk runs stream every final output (non-temporal stores from 0 bytes on) and run on
// the workers however small, so both store paths and both execution paths see every algorithm,
// dtype and alignment. Small-chunk runs cut steps into pieces of at most 5 elements, so the
// lowering's piece offsets are checked for every algorithm too.
CommunicatorOptions options_for(const SweepCase& c, std::int64_t chunk) {
  CommunicatorOptions options;
  if (chunk != 0 && chunk != 1000) options.piece_elements = 5;
  options.stream_min_bytes = chunk == 0 || chunk == 1000 ? 0 : -1;
  options.inline_bytes = chunk == 0 ? 0 : options.inline_bytes;  // small calls on the workers too
  options.topology = flat_topology(c.devices);
  options.groups = make_groups(c.shape, c.devices);
  options.algorithm = c.algorithm;
  options.algorithm_options.chunk_elements = chunk;
  options.threads = 3;
  return options;
}

std::vector<SweepCase> sweep_cases() {
  std::vector<SweepCase> cases;
  for (const Algorithm& algorithm : algorithms())
    for (int devices : {1, 2, 3, 4, 5, 7, 8, 11, 16, 64}) {
      const Topology topology = flat_topology(devices);
      const bool grouped = algorithm.name == "hierarchical-rs" || algorithm.name == "hierarchical";
      std::vector<std::string> shapes{"flat"};
      if (grouped && devices > 1) shapes.insert(shapes.end(), {"halves", "thirds", "unequal"});
      for (const std::string& shape : shapes)
        if (serves(algorithm, devices, shape, topology))
          cases.push_back({std::string(algorithm.name), devices, shape, devices > 16});
    }
  return cases;
}

class AlgorithmSweep : public ::testing::TestWithParam<SweepCase> {};

TEST_P(AlgorithmSweep, BitExactEverywhere) {
  const SweepCase& c = GetParam();
  for (std::int64_t chunk : {std::int64_t{3}, std::int64_t{0}}) {
    // Tensors of 0, 1, 7 and 100 or 1000 elements in one call: one bucket each, rotations 0..3.
    const std::vector<std::int64_t> counts{0, 1, 7, chunk == 0 ? 1000 : 100};
    Communicator comm(options_for(c, chunk));
    int combination = 0;
    for (DType dtype : kDTypes)
      for (ReduceOp op : kOps) {
        // Small chunks make many steps: there, every dtype with sum and average, and every op
        // with f32 and i32; many devices: f32 sum and bf16 average. In place and out of place
        // alternate, the other way round for the two chunk sizes.
        const bool arithmetic = op == ReduceOp::sum || op == ReduceOp::average;
        if (chunk != 0 && !arithmetic && dtype != DType::f32 && dtype != DType::i32) continue;
        if (c.light && !(dtype == DType::f32 && op == ReduceOp::sum) &&
            !(dtype == DType::bf16 && op == ReduceOp::average))
          continue;
        const bool in_place = (combination++ + (chunk == 0 ? 0 : 1)) % 2 == 0;
        check_call(comm, counts, dtype, op, in_place);
        if (HasFailure()) return;
      }
  }
}

INSTANTIATE_TEST_SUITE_P(Algorithms, AlgorithmSweep, ::testing::ValuesIn(sweep_cases()),
                         [](const ::testing::TestParamInfo<SweepCase>& info) {
                           std::string name = info.param.algorithm + "_K" + std::to_string(info.param.devices) +
                                              "_" + info.param.shape;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

// A large odd count, once per algorithm: alternately in chunks of 1000 on 8 devices (bf16
// average, out of place) and whole on 3 devices (f32 sum, in place).
TEST(AlgorithmLarge, OddCountBitExact) {
  bool eight = true;
  for (const Algorithm& algorithm : algorithms()) {
    const int devices = eight ? 8 : 3;
    SweepCase c{std::string(algorithm.name), devices, eight ? "halves" : "unequal", false};
    if (!serves(algorithm, devices, c.shape, flat_topology(devices))) continue;
    eight = !eight;
    Communicator comm(options_for(c, devices == 8 ? 1000 : 0));
    if (devices == 8) check_call(comm, {100003}, DType::bf16, ReduceOp::average, false);
    else check_call(comm, {100003}, DType::f32, ReduceOp::sum, true);
    if (HasFailure()) return;
  }
}

// The groups of a grouped topology's level reach hierarchical-rs when the options name none.
TEST(AlgorithmGroups, HierarchicalRsTakesTopologyGroups) {
  CommunicatorOptions options;
  options.topology = grouped_topology({3, 1, 4});
  options.algorithm = "hierarchical-rs";
  options.algorithm_options.chunk_elements = 5;
  options.threads = 2;
  Communicator comm(options);
  ASSERT_EQ(comm.groups().size(), 3u);
  check_call(comm, {0, 1, 7, 1000}, DType::f64, ReduceOp::average, true);
  check_call(comm, {13}, DType::i64, ReduceOp::sum, false);
}

// ---- Structure and cost ------------------------------------------------------------------------

AlgorithmRequest request_for(int devices, std::int64_t count, std::vector<std::vector<int>> groups = {}) {
  AlgorithmRequest request;
  request.num_devices = devices;
  request.groups = std::move(groups);
  request.count = count;
  request.dtype = DType::f32;
  return request;
}

TEST(AlgorithmSchedule, EmptyAndSingleDevice) {
  for (const Algorithm& algorithm : algorithms()) {
    for (int devices : {1, 2, 5, 8}) {
      AlgorithmRequest request = request_for(devices, 0);
      if (algorithm.decline(request)) continue;
      const Schedule empty = build_schedule(algorithm, request);
      EXPECT_EQ(empty.algorithm, algorithm.name);
      EXPECT_TRUE(empty.steps.empty()) << algorithm.name << " K=" << devices;
      ASSERT_EQ(empty.buffers.size(), 1u);
      EXPECT_EQ(empty.buffers[0].count, 0);
    }
    AlgorithmRequest one = request_for(1, 10);
    one.op = ReduceOp::average;
    if (algorithm.decline(one)) continue;
    const Schedule schedule = build_schedule(algorithm, one);
    const TrafficSummary traffic = summarize_traffic(schedule);
    EXPECT_EQ(traffic.bytes_sent[0], 0) << algorithm.name;
  }
}

// No step is empty, every dependency is an earlier step, no step writes an input, and with op
// average exactly the final reduce of each element carries the flag: steps with `average` cover
// every element exactly once.
TEST(AlgorithmSchedule, WellFormedForOddShapes) {
  for (const Algorithm& algorithm : algorithms())
    for (int devices = 1; devices <= 17; ++devices)
      for (std::int64_t count : {1, 2, 5, 17, 100})
        for (std::int64_t chunk : {0, 1, 4}) {
          AlgorithmRequest request = request_for(devices, count, make_groups("unequal", devices));
          request.op = ReduceOp::average;
          request.rotation = devices / 2;
          request.options.chunk_elements = chunk;
          if (algorithm.decline(request)) continue;
          const Schedule schedule = build_schedule(algorithm, request);
          std::vector<int> averaged(static_cast<std::size_t>(count));
          for (std::size_t s = 0; s < schedule.steps.size(); ++s) {
            const Step& step = schedule.steps[s];
            ASSERT_GT(step.count, 0) << algorithm.name << " K=" << devices << " step " << s;
            for (int dep : step.deps) ASSERT_TRUE(dep >= 0 && static_cast<std::size_t>(dep) < s);
            for (const BufferRef& dst : step.dsts) ASSERT_NE(dst.kind, BufferKind::input);
            if (step.average)
              for (std::int64_t i = 0; i < step.count; ++i) ++averaged[static_cast<std::size_t>(step.dsts[0].offset + i)];
          }
          if (devices == 1 || algorithm.name == "hierarchical" || algorithm.name == "dgx1-hierarchical") continue;
          for (std::int64_t i = 0; i < count; ++i)
            ASSERT_EQ(averaged[static_cast<std::size_t>(i)], 1) << algorithm.name << " K=" << devices << " element " << i;
        }
}

// The double binary tree: every device is an inner node (runs a reduce) in at most one tree;
// with K even, in exactly one.
TEST(AlgorithmSchedule, TreeDevicesInnerInAtMostOneTree) {
  for (int devices = 2; devices <= 64; ++devices) {
    const Schedule schedule = build_schedule(find_algorithm("tree"), request_for(devices, 2 * devices));
    std::vector<int> reduces(static_cast<std::size_t>(devices));
    for (const Step& step : schedule.steps)
      if (step.kind == StepKind::reduce) ++reduces[static_cast<std::size_t>(step.device)];
    for (int d = 0; d < devices; ++d) {
      EXPECT_LE(reduces[static_cast<std::size_t>(d)], 1) << "K=" << devices << " device " << d;
      if (devices % 2 == 0) {
        EXPECT_EQ(reduces[static_cast<std::size_t>(d)], 1) << "K=" << devices << " device " << d;
      }
    }
  }
}

constexpr std::int64_t kMiB = std::int64_t{1} << 20;
constexpr std::int64_t kMiBOfF32 = kMiB / 4;

std::vector<std::int64_t> bytes_sent(std::string_view name, int devices, std::vector<std::vector<int>> groups = {}) {
  return summarize_traffic(build_schedule(find_algorithm(name), request_for(devices, kMiBOfF32, std::move(groups))))
      .bytes_sent;
}

// 8 devices, 1 MiB of f32: the bytes each device sends, against each file's formula.
TEST(AlgorithmTraffic, RingSendsTwoKMinusOneOverK) {
  EXPECT_EQ(bytes_sent("ring", 8), std::vector<std::int64_t>(8, 2 * 7 * kMiB / 8));
}

TEST(AlgorithmTraffic, DirectSendsTwoKMinusOneOverK) {
  EXPECT_EQ(bytes_sent("direct", 8), std::vector<std::int64_t>(8, 2 * 7 * kMiB / 8));
}

TEST(AlgorithmTraffic, HalvingDoublingSendsTwoKMinusOneOverK) {
  EXPECT_EQ(bytes_sent("halving-doubling", 8), std::vector<std::int64_t>(8, 2 * 7 * kMiB / 8));
  // K = 5: p = 4; rank 0 folds into rank 1, which sends the result back.
  const std::int64_t core = 2 * 3 * kMiB / 4;
  EXPECT_EQ(bytes_sent("halving-doubling", 5), (std::vector<std::int64_t>{kMiB, core + kMiB, core, core, core}));
}

// Per device, the bytes it sends to devices of another group (`group_of` by device).
std::vector<std::int64_t> crossing_bytes(const Schedule& schedule, const std::vector<int>& group_of) {
  std::vector<std::int64_t> crossing(group_of.size());
  for (const Step& step : schedule.steps) {
    const auto transfer = [&](int from, int to) {
      if (group_of[static_cast<std::size_t>(from)] != group_of[static_cast<std::size_t>(to)])
        crossing[static_cast<std::size_t>(from)] += step.count * 4;
    };
    for (const BufferRef& src : step.srcs) transfer(src.device, step.device);
    for (const BufferRef& dst : step.dsts) transfer(step.device, dst.device);
  }
  return crossing;
}

TEST(AlgorithmTraffic, HierarchicalRsSendsTwoLevelCost) {
  // 2 groups of 4: 2(s-1)/s n + 2(G-1)/(G s) n = 1.5 n + 0.25 n, the same as a ring.
  const std::vector<std::vector<int>> quads{{0, 1, 2, 3}, {4, 5, 6, 7}};
  EXPECT_EQ(bytes_sent("hierarchical-rs", 8, quads), std::vector<std::int64_t>(8, 2 * 3 * kMiB / 4 + 2 * kMiB / 8));
  // Only 2(G-1)/(G s) n = n/4 per device crosses between the quads, and only over i <-> i+4.
  const Schedule schedule = build_schedule(find_algorithm("hierarchical-rs"), request_for(8, kMiBOfF32, quads));
  EXPECT_EQ(crossing_bytes(schedule, {0, 0, 0, 0, 1, 1, 1, 1}), std::vector<std::int64_t>(8, kMiB / 4));
  for (const Step& step : schedule.steps)
    for (const auto* refs : {&step.srcs, &step.dsts})
      for (const BufferRef& ref : *refs)
        if (ref.device / 4 != step.device / 4) {
          EXPECT_EQ(std::abs(ref.device - step.device), 4) << ref.device << " <-> " << step.device;
        }
  // One group: reduce-scatter and allgather, 2(K-1)/K n.
  EXPECT_EQ(bytes_sent("hierarchical-rs", 8), std::vector<std::int64_t>(8, 2 * 7 * kMiB / 8));
}

// Pairs inside quads: three tiers. Each device sends n/2 in its pair each way, n/4 to the other
// pair of its quad each way, and n/4 to the other quad: 1.75 n in all, as a ring.
Topology pairs_in_quads() {
  Topology topology = flat_topology(8);
  topology.levels = {{"pair", {{0, 1}, {2, 3}, {4, 5}, {6, 7}}}, {"quad", {{0, 1, 2, 3}, {4, 5, 6, 7}}}};
  return topology;
}

TEST(AlgorithmTraffic, HierarchicalRsOverThreeTiers) {
  const Topology topology = pairs_in_quads();
  AlgorithmRequest request = request_for(8, kMiBOfF32, {{0, 1}, {2, 3}, {4, 5}, {6, 7}});
  request.topology = &topology;
  request.topology_devices = {0, 1, 2, 3, 4, 5, 6, 7};
  const Schedule schedule = build_schedule(find_algorithm("hierarchical-rs"), request);
  EXPECT_EQ(summarize_traffic(schedule).bytes_sent, std::vector<std::int64_t>(8, 2 * 7 * kMiB / 8));
  EXPECT_EQ(crossing_bytes(schedule, {0, 0, 0, 0, 1, 1, 1, 1}), std::vector<std::int64_t>(8, kMiB / 4));
  EXPECT_EQ(crossing_bytes(schedule, {0, 0, 1, 1, 2, 2, 3, 3}), std::vector<std::int64_t>(8, kMiB / 2 + kMiB / 4));
}

TEST(AlgorithmGroups, HierarchicalRsOverTopologyLevels) {
  Topology unequal = flat_topology(10);  // groups of 3, 2, 1 and 4 devices in two nodes of 5
  unequal.levels = {{"group", {{0, 1, 2}, {3, 4}, {5}, {6, 7, 8, 9}}}, {"node", {{0, 1, 2, 3, 4}, {5, 6, 7, 8, 9}}}};
  for (const Topology& topology : {pairs_in_quads(), unequal})
    for (std::int64_t chunk : {0, 2}) {
      CommunicatorOptions options;
      options.topology = topology;
      options.algorithm = "hierarchical-rs";
      options.algorithm_options.chunk_elements = chunk;
      options.threads = 3;
      Communicator comm(options);
      check_call(comm, {0, 1, 7, 1000}, DType::f32, ReduceOp::average, chunk == 0);
      check_call(comm, {0, 1, 7, 1000}, DType::i32, ReduceOp::sum, chunk != 0);
      check_call(comm, {13}, DType::f16, ReduceOp::max, true);
    }
}

TEST(AlgorithmTraffic, TreeSendsHalfPerEdge) {
  // h = n/2 per tree; a device sends h per tree where it is not the root plus h per child.
  // K = 8: labels 2, 4, 6 are inner in tree A (3h) and leaves in B (h); labels 3, 5, 7 the
  // reverse; label 8 is A's root with one child (h) and a leaf in B (h); label 1 a leaf in A
  // (h) and B's root with one child (h).
  const std::int64_t h = kMiB / 2;
  EXPECT_EQ(bytes_sent("tree", 8), (std::vector<std::int64_t>{2 * h, 4 * h, 4 * h, 4 * h, 4 * h, 4 * h, 4 * h, 2 * h}));
}

}  // namespace
}  // namespace meshreduce
