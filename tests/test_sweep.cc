// Sweeps of the `hierarchical` algorithm through the Communicator and the seed-mirroring free
// function: device counts, group shapes, tensor counts and sizes, in place and out of place, every
// op and dtype. Inputs are testing::input_value(): small integers that differ per device, tensor
// and element, so every sum is exact in any order, each result can be checked bit for bit against
// a plainly computed value, and a range read from the wrong place shows.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <ostream>
#include <string>
#include <vector>

#include "meshreduce/meshreduce.h"
#include "test_support.h"

namespace meshreduce {
namespace {

using testing::Bytes;
using testing::DeviceBuffers;
using testing::TensorShape;

using Groups = std::vector<std::vector<int>>;

// ---- Group shapes ---------------------------------------------------------------------------

struct Shape {
  std::string name;
  Groups groups;
};

Groups consecutive(const std::vector<int>& sizes) {
  Groups groups;
  int next = 0;
  for (int size : sizes) {
    groups.emplace_back(static_cast<std::size_t>(size));
    std::iota(groups.back().begin(), groups.back().end(), next);
    next += size;
  }
  return groups;
}

std::string sizes_name(const Groups& groups) {
  std::string name;
  for (const auto& group : groups) name += (name.empty() ? "" : "_") + std::to_string(group.size());
  return name;
}

// Every device of group g has g = position % stride: groups that are not runs of positions.
Groups interleaved(int devices, int stride) {
  Groups groups(static_cast<std::size_t>(stride));
  for (int k = 0; k < devices; ++k) groups[static_cast<std::size_t>(k % stride)].push_back(k);
  return groups;
}

std::vector<Shape> shapes_for(int k) {
  std::vector<Shape> shapes;
  const auto add = [&](std::string name, Groups groups) {
    for (const Shape& shape : shapes)
      if (shape.groups == groups) return;
    shapes.push_back({std::move(name), std::move(groups)});
  };
  add("onegroup", consecutive({k}));
  add("singletons", consecutive(std::vector<int>(static_cast<std::size_t>(k), 1)));
  add("halves", halves(k));
  const std::vector<int> unequal = k == 3    ? std::vector<int>{1, 2}
                                   : k == 4  ? std::vector<int>{1, 3}
                                   : k == 5  ? std::vector<int>{1, 4}
                                   : k == 7  ? std::vector<int>{2, 5}
                                   : k == 8  ? std::vector<int>{3, 1, 4}
                                   : k == 11 ? std::vector<int>{5, 1, 3, 2}
                                   : k == 16 ? std::vector<int>{1, 15}
                                   : k == 64 ? std::vector<int>{3, 1, 4, 1, 5, 9, 2, 6, 33}
                                             : std::vector<int>{};
  if (!unequal.empty()) add("unequal_" + sizes_name(consecutive(unequal)), consecutive(unequal));
  const int equal_size = k == 8 ? 2 : k == 16 ? 4 : k == 64 ? 8 : 0;
  if (equal_size > 0)
    add("equal_" + sizes_name(consecutive(std::vector<int>(static_cast<std::size_t>(k / equal_size), equal_size))),
        consecutive(std::vector<int>(static_cast<std::size_t>(k / equal_size), equal_size)));
  if (k == 7 || k == 11) add("interleaved", interleaved(k, k == 7 ? 2 : 3));
  return shapes;
}

// ---- Inputs and expected results --------------------------------------------------------------

using testing::fill_inputs;

// Checks every device's result (the inputs when in place) against the expected bits, and that an
// out-of-place call left the inputs as they were.
void check_results(DeviceBuffers& buffers, ReduceOp op, bool in_place, const std::vector<Bytes>& inputs_before) {
  const int devices = buffers.devices();
  std::size_t index = 0;
  for (int n = 0; n < buffers.tensors(); ++n) {
    const TensorShape& shape = buffers.shape(n);
    const std::size_t bytes = buffers.tensor_bytes(n);
    const Bytes expected = testing::expected_tensor(buffers, op, n);
    for (int k = 0; k < devices; ++k) {
      const std::byte* got = in_place ? buffers.input(k, n) : buffers.output(k, n);
      if (bytes > 0) {
        const std::int64_t wrong = testing::first_wrong_element(got, expected, shape.dtype);
        EXPECT_EQ(wrong, -1) << "device " << k << " tensor " << n << " (" << shape.count << " elements): element "
                             << wrong << " is " << testing::load_value(got, std::max<std::int64_t>(wrong, 0), shape.dtype)
                             << ", expected " << testing::load_value(expected.data(), std::max<std::int64_t>(wrong, 0), shape.dtype);
        if (!in_place) {
          EXPECT_EQ(std::memcmp(buffers.input(k, n), inputs_before[index].data(), bytes), 0)
              << "input of device " << k << " tensor " << n << " was written";
        }
      }
      ++index;
    }
  }
}

std::vector<Bytes> copy_inputs(DeviceBuffers& buffers) {
  std::vector<Bytes> copies;
  for (int n = 0; n < buffers.tensors(); ++n)
    for (int k = 0; k < buffers.devices(); ++k) {
      Bytes copy(buffers.tensor_bytes(n));
      if (!copy.empty()) std::memcpy(copy.data(), buffers.input(k, n), copy.size());
      copies.push_back(std::move(copy));
    }
  return copies;
}

// One call on freshly filled inputs and poisoned outputs; `call` runs the allreduce on `buffers`.
template <typename Call>
void check_call(DeviceBuffers& buffers, ReduceOp op, bool in_place, Call&& call) {
  SCOPED_TRACE(std::string(reduce_op_name(op)) + (in_place ? " in place" : " out of place") + ", " +
               std::to_string(buffers.tensors()) + " tensors");
  fill_inputs(buffers);
  buffers.poison_outputs();
  const auto before = in_place ? std::vector<Bytes>{} : copy_inputs(buffers);
  call(buffers);
  check_results(buffers, op, in_place, before);
}

template <typename Call>
void run_and_check(int devices, const std::vector<TensorShape>& layout, ReduceOp op, bool in_place, Call&& call) {
  DeviceBuffers buffers(devices, layout);
  check_call(buffers, op, in_place, call);
}

void communicator_call(Communicator& communicator, DeviceBuffers& buffers, ReduceOp op, bool in_place) {
  if (in_place) communicator.allreduce(buffers.inplace_views(), op);
  else communicator.allreduce(buffers.input_views(), buffers.output_views(), op);
}

// Device ids for the free function: distinct but not the positions (reversed), to show that only
// positions matter.
void free_function_call(DeviceBuffers& buffers, const Groups& groups, ReduceOp op, bool in_place) {
  std::vector<int> devices;
  for (int k = buffers.devices(); k-- > 0;) devices.push_back(k);
  const bool average = op == ReduceOp::average;
  if (in_place) allreduce_grads_hierarchical(buffers.inplace_views(), devices, average, groups);
  else allreduce_grads_hierarchical(buffers.input_views(), buffers.output_views(), devices, average, groups);
}

// Tensor layouts of one dtype: N = 0, 1, 2 and 161, element counts 0, 1 and 7 (and a few more).
// With many devices the 161-tensor layout runs for a few dtypes only, to keep the suite fast
// (also under ThreadSanitizer).
std::vector<std::vector<TensorShape>> small_layouts(DType dtype, int devices = 1) {
  std::vector<std::vector<TensorShape>> layouts{
      {}, {{0, dtype}}, {{1, dtype}}, {{7, dtype}}, {{7, dtype}, {1, dtype}}, {{0, dtype}, {7, dtype}}};
  if (devices > 16 && dtype != DType::f32 && dtype != DType::bf16 && dtype != DType::i64) return layouts;
  std::vector<TensorShape> many;
  for (int n = 0; n < 161; ++n) many.push_back({std::vector<std::int64_t>{0, 1, 7, 2, 5}[n % 5], dtype});
  layouts.push_back(many);
  return layouts;
}

Communicator hierarchical_communicator(int devices, const Groups& groups) {
  CommunicatorOptions options;
  options.devices = testing::iota_devices(devices);
  options.groups = groups;
  options.algorithm = "hierarchical";
  return Communicator(std::move(options));
}

const ReduceOp kOps[] = {ReduceOp::sum, ReduceOp::average, ReduceOp::min, ReduceOp::max};
const DType kDtypes[] = {DType::f32, DType::f64, DType::f16, DType::bf16, DType::i32, DType::i64};

// ---- The main sweep: K x group shape; inside, dtype x N x counts x op x in place ---------------

struct SweepCase {
  int devices;
  Shape shape;
};

void PrintTo(const SweepCase& c, std::ostream* os) { *os << "K" << c.devices << " " << c.shape.name; }

std::string sweep_name(const ::testing::TestParamInfo<SweepCase>& info) {
  return "K" + std::to_string(info.param.devices) + "_" + info.param.shape.name;
}

class HierarchicalSweep : public ::testing::TestWithParam<SweepCase> {};

TEST_P(HierarchicalSweep, CommunicatorIsBitExact) {
  const SweepCase& c = GetParam();
  Communicator communicator = hierarchical_communicator(c.devices, c.shape.groups);
  EXPECT_EQ(communicator.groups(), c.shape.groups);
  for (DType dtype : kDtypes) {
    SCOPED_TRACE(std::string(dtype_name(dtype)));
    for (const auto& layout : small_layouts(dtype, c.devices))
      for (ReduceOp op : kOps)
        for (bool in_place : {true, false})
          run_and_check(c.devices, layout, op, in_place,
                        [&](DeviceBuffers& buffers) { communicator_call(communicator, buffers, op, in_place); });
  }
}

TEST_P(HierarchicalSweep, FreeFunctionIsBitExact) {
  const SweepCase& c = GetParam();
  for (DType dtype : kDtypes) {
    SCOPED_TRACE(std::string(dtype_name(dtype)));
    for (const auto& layout : small_layouts(dtype, c.devices))
      for (ReduceOp op : {ReduceOp::sum, ReduceOp::average})
        for (bool in_place : {true, false})
          run_and_check(c.devices, layout, op, in_place,
                        [&](DeviceBuffers& buffers) { free_function_call(buffers, c.shape.groups, op, in_place); });
  }
}

std::vector<SweepCase> sweep_cases() {
  std::vector<SweepCase> cases;
  for (int devices : {1, 2, 3, 4, 5, 7, 8, 11, 16, 64})
    for (const Shape& shape : shapes_for(devices)) cases.push_back({devices, shape});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Shapes, HierarchicalSweep, ::testing::ValuesIn(sweep_cases()), sweep_name);

// ---- 1000003 elements: a few cases only (the suite also runs under ThreadSanitizer) -------------

struct LargeCase {
  int devices;
  Shape shape;
  DType dtype;
};

void PrintTo(const LargeCase& c, std::ostream* os) {
  *os << "K" << c.devices << " " << c.shape.name << " " << dtype_name(c.dtype);
}

class HierarchicalLarge : public ::testing::TestWithParam<LargeCase> {};

TEST_P(HierarchicalLarge, MillionElementsBitExact) {
  const LargeCase& c = GetParam();
  DeviceBuffers buffers(c.devices, {{1000003, c.dtype}});  // allocated once: page faults are slow
  Communicator communicator = hierarchical_communicator(c.devices, c.shape.groups);
  check_call(buffers, ReduceOp::sum, true, [&](DeviceBuffers& b) { communicator_call(communicator, b, ReduceOp::sum, true); });
  check_call(buffers, ReduceOp::average, false,
             [&](DeviceBuffers& b) { communicator_call(communicator, b, ReduceOp::average, false); });
  check_call(buffers, ReduceOp::average, true,
             [&](DeviceBuffers& b) { free_function_call(b, c.shape.groups, ReduceOp::average, true); });
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, HierarchicalLarge,
    ::testing::Values(LargeCase{2, {"singletons", consecutive({1, 1})}, DType::f32},
                      LargeCase{8, {"unequal_3_1_4", consecutive({3, 1, 4})}, DType::f16},
                      LargeCase{7, {"halves", halves(7)}, DType::i64},
                      LargeCase{3, {"onegroup", consecutive({3})}, DType::bf16},
                      LargeCase{5, {"unequal_1_4", consecutive({1, 4})}, DType::f64}),
    [](const ::testing::TestParamInfo<LargeCase>& info) {
      return "K" + std::to_string(info.param.devices) + "_" + info.param.shape.name + "_" +
             std::string(dtype_name(info.param.dtype));
    });

// ---- Layouts mixing dtypes, and the bucketing modes ---------------------------------------------

struct BucketingCase {
  std::string name;
  BucketingOptions bucketing;
  int devices;
  std::int64_t piece_elements;
};

void PrintTo(const BucketingCase& c, std::ostream* os) { *os << c.name; }

class HierarchicalBucketing : public ::testing::TestWithParam<BucketingCase> {};

std::vector<TensorShape> mixed_layout() {
  std::vector<TensorShape> layout;
  for (int n = 0; n < 23; ++n) layout.push_back({(n * 37) % 101, kDtypes[n % 6]});
  return layout;
}

std::vector<TensorShape> packable_layout() {
  std::vector<TensorShape> layout;
  for (int n = 0; n < 40; ++n) layout.push_back({(n * 53) % 700, DType::f32});  // about 13.6k elements
  return layout;
}

TEST_P(HierarchicalBucketing, MixedDtypesBitExact) {
  const BucketingCase& c = GetParam();
  CommunicatorOptions options;
  options.algorithm = "hierarchical";
  options.devices = testing::iota_devices(c.devices);
  options.groups = halves(c.devices);
  options.bucketing = c.bucketing;
  options.piece_elements = c.piece_elements;
  Communicator communicator(std::move(options));
  for (ReduceOp op : kOps)
    for (bool in_place : {true, false})
      for (int repeat = 0; repeat < 2; ++repeat)  // the second call runs the cached plan
        run_and_check(c.devices, mixed_layout(), op, in_place,
                      [&](DeviceBuffers& buffers) { communicator_call(communicator, buffers, op, in_place); });
}

TEST_P(HierarchicalBucketing, SingleDtypeBitExact) {
  const BucketingCase& c = GetParam();
  CommunicatorOptions options;
  options.algorithm = "hierarchical";
  options.devices = testing::iota_devices(c.devices);
  options.groups = halves(c.devices);
  options.bucketing = c.bucketing;
  options.piece_elements = c.piece_elements;
  Communicator communicator(std::move(options));
  const auto layout = packable_layout();
  std::vector<TensorSpec> specs;
  for (const TensorShape& shape : layout) specs.push_back({shape.count, shape.dtype});
  const Plan& plan = communicator.plan(specs, ReduceOp::sum);
  if (c.bucketing.mode == BucketingMode::seed_packer) {
    EXPECT_EQ(plan.buckets.size(), 8u);
  }
  if (c.bucketing.mode == BucketingMode::fused) {
    EXPECT_LT(plan.buckets.size(), layout.size());
  }
  for (ReduceOp op : kOps)
    for (bool in_place : {true, false})
      run_and_check(c.devices, layout, op, in_place,
                    [&](DeviceBuffers& buffers) { communicator_call(communicator, buffers, op, in_place); });
}

std::vector<BucketingCase> bucketing_cases() {
  std::vector<BucketingCase> cases;
  for (int devices : {1, 3, 8, 11}) {
    const std::string k = "K" + std::to_string(devices);
    BucketingOptions per_tensor;
    cases.push_back({k + "_pertensor_pieces3", per_tensor, devices, 3});
    BucketingOptions fused;
    fused.mode = BucketingMode::fused;
    fused.fuse_bytes = 1024;
    cases.push_back({k + "_fused1KiB", fused, devices, std::int64_t{1} << 16});
    cases.push_back({k + "_fused1KiB_pieces5", fused, devices, 5});
    fused.fuse_bytes = std::int64_t{25} << 20;
    cases.push_back({k + "_fusedDefault", fused, devices, std::int64_t{1} << 16});
    BucketingOptions packer;
    packer.mode = BucketingMode::seed_packer;
    cases.push_back({k + "_seedpacker", packer, devices, std::int64_t{1} << 16});
    cases.push_back({k + "_seedpacker_pieces100", packer, devices, 100});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Modes, HierarchicalBucketing, ::testing::ValuesIn(bucketing_cases()),
                         [](const ::testing::TestParamInfo<BucketingCase>& info) { return info.param.name; });

// ---- Topologies, device subsets and thread counts ------------------------------------------------

TEST(HierarchicalTopology, GroupsComeFromTheTopologysInnermostLevel) {
  CommunicatorOptions options;
  options.algorithm = "hierarchical";
  options.topology = topology_preset("groups:3,1,4");
  Communicator communicator(std::move(options));
  EXPECT_EQ(communicator.groups(), consecutive({3, 1, 4}));
  for (ReduceOp op : kOps)
    for (bool in_place : {true, false})
      run_and_check(8, small_layouts(DType::f32).back(), op, in_place,
                    [&](DeviceBuffers& buffers) { communicator_call(communicator, buffers, op, in_place); });
}

TEST(HierarchicalTopology, DeviceSubsetOfTheDgx1KeepsItsQuads) {
  CommunicatorOptions options;
  options.algorithm = "hierarchical";
  options.topology = dgx1_v100();
  options.devices = {6, 1, 4, 0, 7};  // positions 0..4; quads {1, 0} -> positions {1, 3}
  Communicator communicator(std::move(options));
  const Groups expected{{1, 3}, {0, 2, 4}};
  EXPECT_EQ(communicator.groups(), expected);
  for (ReduceOp op : kOps)
    for (bool in_place : {true, false})
      run_and_check(5, small_layouts(DType::f64).back(), op, in_place,
                    [&](DeviceBuffers& buffers) { communicator_call(communicator, buffers, op, in_place); });
}

TEST(HierarchicalTopology, ManyMoreDevicesThanThreads) {
  for (int threads : {1, 2, 7}) {
    SCOPED_TRACE("threads " + std::to_string(threads));
    CommunicatorOptions options;
    options.algorithm = "hierarchical";
    options.devices = testing::iota_devices(64);
    options.groups = consecutive(std::vector<int>(8, 8));
    options.threads = threads;
    options.pin_threads = threads == 7;  // more workers than cores, bound round robin
    options.piece_elements = 16;
    Communicator communicator(std::move(options));
    const std::vector<TensorShape> layout{{1000, DType::f32}, {7, DType::i32}, {333, DType::bf16}};
    for (bool in_place : {true, false})
      run_and_check(64, layout, ReduceOp::average, in_place,
                    [&](DeviceBuffers& buffers) { communicator_call(communicator, buffers, ReduceOp::average, in_place); });
  }
}

// The mains rotate with the tensor index: with K equal tensors on K devices in equal groups, every
// device reduces the same number of bytes.
TEST(HierarchicalRotation, ReductionIsBalancedOverTensors) {
  for (const Groups& groups : {consecutive({4, 4}), consecutive({2, 2, 2, 2}), consecutive({8}),
                               consecutive({1, 1, 1, 1, 1, 1, 1, 1})}) {
    SCOPED_TRACE("groups " + sizes_name(groups));
    Communicator communicator = hierarchical_communicator(8, groups);
    const std::vector<TensorSpec> layout(8, TensorSpec{64, DType::f32});
    const TrafficSummary traffic = summarize_traffic(communicator.plan(layout, ReduceOp::sum).schedule);
    ASSERT_EQ(traffic.bytes_reduced.size(), 8u);
    for (int k = 1; k < 8; ++k) EXPECT_EQ(traffic.bytes_reduced[k], traffic.bytes_reduced[0]) << "device " << k;
  }
}

}  // namespace
}  // namespace meshreduce
