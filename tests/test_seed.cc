// dgx1-hierarchical against an independent, plainly written implementation of tensorpack's
// allreduce_grads_hierarchical arithmetic (README, "the seed algorithm"), on random
// inputs of varied magnitudes, so that a different order of additions would change the bits.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <ostream>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "meshreduce/meshreduce.h"
#include "test_support.h"

namespace meshreduce {
namespace {

using testing::DeviceBuffers;
using testing::TensorShape;

constexpr int kDevices = 8;

// Varied sizes: empty, tiny, odd, and larger than the executor's 65536-element pieces. More than 8
// tensors, so every device is main0 for some tensor.
const std::vector<std::int64_t> kCounts{5, 1, 0, 7, 1000, 33, 4097, 8, 3, 65537, 2, 129, 1, 250, 64, 17, 0, 511, 9};

enum class Entry { communicator, free_function };

struct SeedCase {
  DType dtype;
  bool average;
  bool in_place;
  Entry entry;
};

std::string describe(DType dtype, bool average, bool in_place, Entry entry) {
  return std::string(dtype_name(dtype)) + (average ? "_average" : "_sum") + (in_place ? "_inplace" : "_outofplace") +
         (entry == Entry::communicator ? "_communicator" : "_freefunction");
}

void PrintTo(const SeedCase& c, std::ostream* os) { *os << describe(c.dtype, c.average, c.in_place, c.entry); }

std::string case_name(const ::testing::TestParamInfo<SeedCase>& info) {
  const SeedCase& c = info.param;
  return describe(c.dtype, c.average, c.in_place, c.entry);
}

// ---- The seed's arithmetic, written plainly ---------------------------------------------------

// Addition as TensorFlow does it: IEEE for floats, two's-complement wrap-around for integers.
template <typename T>
T seed_add(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
  } else {
    return a + b;
  }
}

// x[k][n] is device k's tensor n. Returns result[k][n].
template <typename T>
std::vector<std::vector<std::vector<T>>> seed_allreduce(const std::vector<std::vector<std::vector<T>>>& x, bool average) {
  std::vector<std::vector<std::vector<T>>> result(kDevices, std::vector<std::vector<T>>(x[0].size()));
  for (std::size_t n = 0; n < x[0].size(); ++n) {
    const int main0 = static_cast<int>(n % 8);
    const int main1 = (main0 + 4) % 8;
    const int first0 = main0 < 4 ? 0 : 4;  // group 0 is the half holding main0
    const int first1 = main1 < 4 ? 0 : 4;
    std::vector<T> total(x[0][n].size());
    for (std::size_t i = 0; i < total.size(); ++i) {
      // agg0 = add_n(group-0 grads) on main0, left to right in device order.
      T agg0 = x[first0][n][i];
      for (int k = first0 + 1; k < first0 + 4; ++k) agg0 = seed_add(agg0, x[k][n][i]);
      // agg1 = add_n(group-1 grads) on main1.
      T agg1 = x[first1][n][i];
      for (int k = first1 + 1; k < first1 + 4; ++k) agg1 = seed_add(agg1, x[k][n][i]);
      // total = agg0 + agg1 on main1; main0 copies it back.
      total[i] = seed_add(agg0, agg1);
    }
    // Every device copies the total from its half's main; with average it multiplies its copy by
    // 1/8. (Integer tensors cannot be multiplied by 1/8 in the seed; meshreduce divides them by 8,
    // truncating toward zero, as types.h documents.)
    for (int k = 0; k < kDevices; ++k) {
      result[k][n] = total;
      if (!average) continue;
      for (T& value : result[k][n]) {
        if constexpr (std::is_integral_v<T>) value = static_cast<T>(value / 8);
        else value = value * static_cast<T>(1.0 / 8);
      }
    }
  }
  return result;
}

// ---- Random inputs ----------------------------------------------------------------------------

// Floats of varied magnitudes (2^-20 .. 2^20, both signs), so rounding depends on the order of the
// additions; integers over the whole range, so sums wrap around.
template <typename T>
std::vector<std::vector<std::vector<T>>> random_inputs(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::vector<std::vector<T>>> x(kDevices);
  for (int k = 0; k < kDevices; ++k)
    for (std::int64_t count : kCounts) {
      std::vector<T> values(static_cast<std::size_t>(count));
      for (T& value : values) {
        if constexpr (std::is_integral_v<T>) {
          value = static_cast<T>(std::uniform_int_distribution<T>(std::numeric_limits<T>::min(),
                                                                  std::numeric_limits<T>::max())(rng));
        } else {
          const T mantissa = std::uniform_real_distribution<T>(1, 2)(rng);
          const int exponent = std::uniform_int_distribution<int>(-20, 20)(rng);
          value = std::ldexp(mantissa, exponent) * (rng() % 2 ? T(1) : T(-1));
        }
      }
      x[k].push_back(std::move(values));
    }
  return x;
}

// ---- Running the library ----------------------------------------------------------------------

template <typename T>
DeviceBuffers load(const std::vector<std::vector<std::vector<T>>>& x) {
  std::vector<TensorShape> shapes;
  for (const auto& tensor : x[0]) shapes.push_back({static_cast<std::int64_t>(tensor.size()), dtype_of<T>()});
  DeviceBuffers buffers(kDevices, shapes);
  for (int k = 0; k < kDevices; ++k)
    for (int n = 0; n < buffers.tensors(); ++n)
      if (!x[k][n].empty()) std::memcpy(buffers.input(k, n), x[k][n].data(), buffers.tensor_bytes(n));
  return buffers;
}

Communicator seed_communicator() {
  CommunicatorOptions options;
  options.topology = dgx1_v100();
  options.algorithm = "dgx1-hierarchical";
  options.threads = 3;  // more workers than cores: steps really run concurrently
  return Communicator(std::move(options));
}

// Runs one allreduce as `c` says: results land in the inputs (in place) or the outputs.
void run_library(DeviceBuffers& buffers, const SeedCase& c) {
  const std::vector<int> devices = testing::iota_devices(kDevices);
  if (c.in_place) {
    const auto grads = buffers.inplace_views();
    if (c.entry == Entry::communicator) seed_communicator().allreduce(grads, c.average ? ReduceOp::average : ReduceOp::sum);
    else allreduce_grads_hierarchical(grads, devices, c.average);
  } else {
    buffers.poison_outputs();
    const auto inputs = buffers.input_views();
    const auto outputs = buffers.output_views();
    if (c.entry == Entry::communicator)
      seed_communicator().allreduce(inputs, outputs, c.average ? ReduceOp::average : ReduceOp::sum);
    else allreduce_grads_hierarchical(inputs, outputs, devices, c.average);
  }
}

template <typename T>
void check_against_seed(const SeedCase& c, std::uint64_t seed) {
  const auto x = random_inputs<T>(seed);
  const auto expected = seed_allreduce(x, c.average);
  DeviceBuffers buffers = load(x);
  run_library(buffers, c);
  for (int k = 0; k < kDevices; ++k)
    for (int n = 0; n < buffers.tensors(); ++n) {
      const std::byte* got = c.in_place ? buffers.input(k, n) : buffers.output(k, n);
      const std::size_t bytes = buffers.tensor_bytes(n);
      if (bytes == 0) continue;
      EXPECT_EQ(std::memcmp(got, expected[k][n].data(), bytes), 0) << "device " << k << " tensor " << n;
      EXPECT_EQ(std::memcmp(got, c.in_place ? buffers.input(0, n) : buffers.output(0, n), bytes), 0)
          << "device " << k << " differs from device 0, tensor " << n;
      if (!c.in_place) {
        EXPECT_EQ(std::memcmp(buffers.input(k, n), x[k][n].data(), bytes), 0)
            << "input of device " << k << " tensor " << n << " was written";
      }
    }
}

class SeedBitwise : public ::testing::TestWithParam<SeedCase> {};

TEST_P(SeedBitwise, MatchesTheSeedArithmeticBitForBit) {
  const SeedCase& c = GetParam();
  const std::uint64_t seed = 1 + static_cast<std::uint64_t>(c.dtype);
  switch (c.dtype) {
    case DType::f32: check_against_seed<float>(c, seed); break;
    case DType::f64: check_against_seed<double>(c, seed); break;
    case DType::i32: check_against_seed<std::int32_t>(c, seed); break;
    case DType::i64: check_against_seed<std::int64_t>(c, seed); break;
    default: FAIL() << "not a bitwise dtype";
  }
}

std::vector<SeedCase> seed_cases() {
  std::vector<SeedCase> cases;
  for (DType dtype : {DType::f32, DType::f64, DType::i32, DType::i64})
    for (bool average : {false, true})
      for (bool in_place : {true, false})
        for (Entry entry : {Entry::communicator, Entry::free_function}) cases.push_back({dtype, average, in_place, entry});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Dgx1, SeedBitwise, ::testing::ValuesIn(seed_cases()), case_name);

// The bitwise check can fail: on these inputs, any other order of the additions changes the bits
// of some element, so a schedule that added in another order would not pass the test above.
TEST(SeedBitwiseCheck, OtherAdditionOrdersGiveOtherBits) {
  const auto x = random_inputs<float>(1);
  const auto seed = seed_allreduce(x, false);
  // 1: all eight devices left to right; 2: each half right to left.
  auto sequential = seed;
  auto reversed = seed;
  for (std::size_t n = 0; n < x[0].size(); ++n)
    for (std::size_t i = 0; i < x[0][n].size(); ++i) {
      float all = x[0][n][i];
      for (int k = 1; k < kDevices; ++k) all += x[k][n][i];
      const float low = ((x[3][n][i] + x[2][n][i]) + x[1][n][i]) + x[0][n][i];
      const float high = ((x[7][n][i] + x[6][n][i]) + x[5][n][i]) + x[4][n][i];
      for (int k = 0; k < kDevices; ++k) {
        sequential[k][n][i] = all;
        reversed[k][n][i] = low + high;
      }
    }
  int sequential_differs = 0;
  int reversed_differs = 0;
  for (std::size_t n = 0; n < x[0].size(); ++n) {
    const std::size_t bytes = x[0][n].size() * sizeof(float);
    if (bytes == 0) continue;
    sequential_differs += std::memcmp(seed[0][n].data(), sequential[0][n].data(), bytes) != 0;
    reversed_differs += std::memcmp(seed[0][n].data(), reversed[0][n].data(), bytes) != 0;
  }
  EXPECT_GT(sequential_differs, 0);
  EXPECT_GT(reversed_differs, 0);

  // And the library matches the seed, not the others, on those tensors.
  DeviceBuffers buffers = load(x);
  run_library(buffers, {DType::f32, false, true, Entry::communicator});
  int library_matches_reversed = 0;
  int nonempty = 0;
  for (std::size_t n = 0; n < x[0].size(); ++n) {
    const std::size_t bytes = x[0][n].size() * sizeof(float);
    if (bytes == 0) continue;
    ++nonempty;
    EXPECT_EQ(std::memcmp(buffers.input(0, static_cast<int>(n)), seed[0][n].data(), bytes), 0) << "tensor " << n;
    library_matches_reversed += std::memcmp(buffers.input(0, static_cast<int>(n)), reversed[0][n].data(), bytes) == 0;
  }
  EXPECT_LT(library_matches_reversed, nonempty);
}

// ---- f16 and bf16: f32 accumulation, one rounding per step ------------------------------------
//
// meshreduce accumulates 16-bit floats in f32 inside a step and rounds once when it stores, so it
// is not bitwise the seed (which rounds after every addition). Two checks:
//  1. bitwise against a plain implementation of that documented rule, in the seed's order:
//       agg_g = r16(f32 left-to-right sum of the half), total = r16(f32(agg0) + f32(agg1)),
//       average: r16(f32(total) * 0.125f);
//  2. the error against the exact sum S (computed in double: 8 values of a 16-bit format span
//     fewer than 53 bits, so the double sum is exact) is within this bound:
//       |result - s S| <= s M (R u + R^2 u^2 + 8 u32) + 2 R eta
//     with u the unit roundoff of the format (f16 2^-11, bf16 2^-8), u32 = 2^-24, eta half the
//     format's smallest subnormal (absolute rounding error near zero: f16 2^-25, bf16 2^-134),
//     M = sum_k |x_k|, s = 1 for sum and 1/8 for average, and R the number of roundings to the
//     16-bit format on the path: agg and total (R = 2) for sum, plus the scaled copy (R = 3).
//     Derivation: the three f32 additions of a half err by at most gamma_3 M_g <= 3.01 u32 M_g;
//     rounding agg_g to 16 bits adds u |agg_g| + eta; the f32 addition agg0 + agg1 adds u32 |.|
//     and its rounding u |.| + eta; with average, the multiply by 1/8 is exact in f32 (a power
//     of two, far from f32 underflow) and its rounding adds u |total / 8| + eta, while the
//     earlier errors are scaled by 1/8. Each |.| is at most M (1 + errors so far), so the first
//     order terms give s M (R u + 4.01 u32) and the cross terms stay below s M (R^2 u^2 + u32).

double sixteen_unit_roundoff(DType dtype) { return dtype == DType::f16 ? 0x1p-11 : 0x1p-8; }
double sixteen_eta(DType dtype) { return dtype == DType::f16 ? 0x1p-25 : 0x1p-134; }

std::uint16_t round16(DType dtype, float value) {
  return dtype == DType::f16 ? testing::ref_f16_from(value) : testing::ref_bf16_from(value);
}
float value16(DType dtype, std::uint16_t bits) {
  return static_cast<float>(dtype == DType::f16 ? testing::ref_f16_value(bits) : testing::ref_bf16_value(bits));
}

struct HalfCase {
  DType dtype;
  bool average;
  bool in_place;
  Entry entry;
};

void PrintTo(const HalfCase& c, std::ostream* os) { *os << describe(c.dtype, c.average, c.in_place, c.entry); }

std::string half_case_name(const ::testing::TestParamInfo<HalfCase>& info) {
  const HalfCase& c = info.param;
  return describe(c.dtype, c.average, c.in_place, c.entry);
}

class SeedHalf : public ::testing::TestWithParam<HalfCase> {};

// The seed's sizes without the largest (the reference conversions here are slow, and the
// piece boundaries are covered above).
const std::vector<std::int64_t> kHalfCounts{5, 1, 0, 7, 1000, 33, 4097, 8, 3, 2, 129, 1, 250, 64, 17, 0, 511, 9};

TEST_P(SeedHalf, WithinTheRoundingBoundAndReplicasIdentical) {
  const HalfCase& c = GetParam();
  std::mt19937_64 rng(7);
  std::vector<std::vector<std::vector<std::uint16_t>>> x(kDevices);
  for (int k = 0; k < kDevices; ++k)
    for (std::int64_t count : kHalfCounts) {
      std::vector<std::uint16_t> values(static_cast<std::size_t>(count));
      for (auto& value : values) {
        const double mantissa = std::uniform_real_distribution<double>(1, 2)(rng);
        const int exponent = std::uniform_int_distribution<int>(-10, 8)(rng);
        value = round16(c.dtype, static_cast<float>(std::ldexp(mantissa, exponent) * (rng() % 2 ? 1 : -1)));
      }
      x[k].push_back(std::move(values));
    }
  std::vector<TensorShape> shapes;
  for (std::int64_t count : kHalfCounts) shapes.push_back({count, c.dtype});
  DeviceBuffers buffers(kDevices, shapes);
  for (int k = 0; k < kDevices; ++k)
    for (int n = 0; n < buffers.tensors(); ++n)
      if (!x[k][n].empty()) std::memcpy(buffers.input(k, n), x[k][n].data(), buffers.tensor_bytes(n));
  run_library(buffers, {c.dtype, c.average, c.in_place, c.entry});

  const double u = sixteen_unit_roundoff(c.dtype);
  const double rounds = c.average ? 3 : 2;
  const double s = c.average ? 1.0 / 8 : 1.0;
  double worst_ratio = 0;  // largest error / bound seen, to show the bound is not vacuous
  for (int n = 0; n < buffers.tensors(); ++n) {
    const auto count = static_cast<std::size_t>(kHalfCounts[static_cast<std::size_t>(n)]);
    const auto result = [&](int k) { return c.in_place ? buffers.input(k, n) : buffers.output(k, n); };
    for (std::size_t i = 0; i < count; ++i) {
      double exact = 0;
      double magnitude = 0;
      for (int k = 0; k < kDevices; ++k) {
        exact += value16(c.dtype, x[k][n][i]);
        magnitude += std::fabs(value16(c.dtype, x[k][n][i]));
      }
      // 1. The documented rule, in the seed's order (main0 = n % 8 picks group 0).
      const int first0 = n % 8 < 4 ? 0 : 4;
      const int first1 = 4 - first0;
      float sum0 = value16(c.dtype, x[first0][n][i]);
      float sum1 = value16(c.dtype, x[first1][n][i]);
      for (int k = 1; k < 4; ++k) {
        sum0 += value16(c.dtype, x[first0 + k][n][i]);
        sum1 += value16(c.dtype, x[first1 + k][n][i]);
      }
      const float agg0 = value16(c.dtype, round16(c.dtype, sum0));
      const float agg1 = value16(c.dtype, round16(c.dtype, sum1));
      std::uint16_t expected = round16(c.dtype, agg0 + agg1);
      if (c.average) expected = round16(c.dtype, value16(c.dtype, expected) * 0.125f);

      std::uint16_t got0 = 0;
      std::memcpy(&got0, result(0) + 2 * i, 2);
      EXPECT_EQ(got0, expected) << "tensor " << n << " element " << i;
      // 2. The bound against the exact result.
      const double bound = s * magnitude * (rounds * u + rounds * rounds * u * u + 8 * 0x1p-24) +
                           2 * rounds * sixteen_eta(c.dtype);
      const double error = std::fabs(value16(c.dtype, got0) - s * exact);
      EXPECT_LE(error, bound) << "tensor " << n << " element " << i << ": exact " << s * exact;
      worst_ratio = std::max(worst_ratio, error / bound);
      // 3. Every replica holds the same bits.
      for (int k = 1; k < kDevices; ++k) {
        std::uint16_t got = 0;
        std::memcpy(&got, result(k) + 2 * i, 2);
        EXPECT_EQ(got, got0) << "device " << k << " tensor " << n << " element " << i;
      }
    }
  }
  // On these inputs the roundings really happen, so the bound is exercised, not vacuous.
  EXPECT_GT(worst_ratio, 0.1);
}

std::vector<HalfCase> half_cases() {
  std::vector<HalfCase> cases;
  for (DType dtype : {DType::f16, DType::bf16})
    for (bool average : {false, true})
      for (bool in_place : {true, false})
        for (Entry entry : {Entry::communicator, Entry::free_function}) cases.push_back({dtype, average, in_place, entry});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Dgx1, SeedHalf, ::testing::ValuesIn(half_cases()), half_case_name);

// The seed's shape runs on the DGX-1 topology only with 8 devices; a subset is declined.
TEST(SeedShape, Dgx1HierarchicalUsesTheTopologyHalves) {
  Communicator communicator = seed_communicator();
  EXPECT_EQ(communicator.size(), 8);
  const std::vector<std::vector<int>> seed_halves{{0, 1, 2, 3}, {4, 5, 6, 7}};
  EXPECT_EQ(communicator.groups(), seed_halves);
  EXPECT_EQ(halves(8), seed_halves);
}

// The seed's mains rotate with n % 8: over 16 equal tensors every device reduces the same bytes.
TEST(SeedShape, MainsRotateSoReductionIsBalanced) {
  Communicator communicator = seed_communicator();
  const std::vector<TensorSpec> layout(16, TensorSpec{100, DType::f32});
  const Plan& plan = communicator.plan(layout, ReduceOp::sum);
  EXPECT_EQ(plan.schedule.algorithm, "dgx1-hierarchical");
  const TrafficSummary traffic = summarize_traffic(plan.schedule);
  ASSERT_EQ(traffic.bytes_reduced.size(), 8u);
  for (int k = 1; k < 8; ++k) EXPECT_EQ(traffic.bytes_reduced[k], traffic.bytes_reduced[0]) << "device " << k;
  EXPECT_GT(traffic.bytes_reduced[0], 0);
}

// The seed's data flow, step by step: for tensor n, main0 = n % 8 sums its half in device order,
// main1 = (main0 + 4) % 8 sums the other half and then agg0 + agg1, main0 takes a copy of the
// total, and each main hands the total (scaled, with average) to its half. The only transfers
// between the halves are main0 <-> main1, the NVLink i <-> i+4.
TEST(SeedShape, DataFlowIsTheSeeds) {
  for (ReduceOp op : {ReduceOp::sum, ReduceOp::average}) {
    SCOPED_TRACE(std::string(reduce_op_name(op)));
    Communicator communicator = seed_communicator();
    const std::vector<TensorSpec> layout(11, TensorSpec{10, DType::f32});
    const Plan& plan = communicator.plan(layout, op);
    ASSERT_EQ(plan.buckets.size(), 11u);
    std::vector<int> steps_of(11, 0);
    for (const Step& step : plan.schedule.steps) {
      const BufferRef& any = step.dsts.empty() ? step.srcs.front() : step.dsts.front();
      ASSERT_NE(any.kind, BufferKind::scratch);
      const int n = plan.buckets[static_cast<std::size_t>(any.buffer)].pieces.at(0).tensor;
      ++steps_of[static_cast<std::size_t>(n)];
      const int main0 = n % 8;
      const int main1 = (main0 + 4) % 8;
      const int first0 = main0 < 4 ? 0 : 4;
      const int first1 = 4 - first0;
      const BufferRef out_main0{main0, BufferKind::output, any.buffer, 0};
      const BufferRef out_main1{main1, BufferKind::output, any.buffer, 0};
      const auto half_inputs = [&](int first) {
        std::vector<BufferRef> refs;
        for (int k = first; k < first + 4; ++k) refs.push_back({k, BufferKind::input, any.buffer, 0});
        return refs;
      };
      const auto half_outputs = [&](int first, int skip) {
        std::vector<BufferRef> refs;
        for (int k = first; k < first + 4; ++k)
          if (k != skip) refs.push_back({k, BufferKind::output, any.buffer, 0});
        return refs;
      };
      const int skip = op == ReduceOp::average ? -1 : step.device;
      if (step.kind == StepKind::reduce && step.srcs.size() == 4) {
        EXPECT_TRUE(step.device == main0 || step.device == main1) << "tensor " << n;
        EXPECT_EQ(step.srcs, half_inputs(step.device == main0 ? first0 : first1)) << "tensor " << n;
        EXPECT_EQ(step.dsts, std::vector<BufferRef>{step.device == main0 ? out_main0 : out_main1});
      } else if (step.kind == StepKind::reduce) {
        EXPECT_EQ(step.device, main1) << "tensor " << n;
        EXPECT_EQ(step.srcs, (std::vector<BufferRef>{out_main0, out_main1})) << "tensor " << n;
        EXPECT_EQ(step.dsts, std::vector<BufferRef>{out_main1});
        EXPECT_FALSE(step.average);
      } else if (step.srcs == std::vector<BufferRef>{out_main1} && step.dsts == std::vector<BufferRef>{out_main0}) {
        EXPECT_EQ(step.kind, StepKind::copy) << "main0 takes an identity copy of the total";
      } else {
        // The hand-out from each main to its half.
        EXPECT_EQ(step.kind, op == ReduceOp::average ? StepKind::scale : StepKind::copy) << "tensor " << n;
        ASSERT_EQ(step.srcs.size(), 1u);
        EXPECT_TRUE(step.device == main0 || step.device == main1) << "tensor " << n;
        EXPECT_EQ(step.srcs.front(), step.device == main0 ? out_main0 : out_main1);
        EXPECT_EQ(step.dsts, half_outputs(step.device == main0 ? first0 : first1, skip)) << "tensor " << n;
      }
    }
    for (int n = 0; n < 11; ++n) EXPECT_EQ(steps_of[static_cast<std::size_t>(n)], 6) << "tensor " << n;
  }
}

}  // namespace
}  // namespace meshreduce
