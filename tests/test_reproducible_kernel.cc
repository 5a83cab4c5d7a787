// Reproducible mode's fused kernel (src/exec/reproducible/fused_kernel.cc) against the same
// arithmetic element by element (run_fused_elementwise), on every SIMD target this CPU runs.
// The SIMD kernel takes one of three paths per tile: the plain f64 sum when every input of each
// element is a multiple of its quantum, quantization in f32 lanes otherwise, and in f64 lanes
// when an element's largest input is tiny (below about 2^-78). The inputs below give tiles of
// each kind alone and mixed, with specials, at lengths and offsets that are not whole vectors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/half.h"
#include "exec/reproducible/fused_kernel.h"
#include "exec/threads/kernels.h"
#include "reproducible_data.h"

namespace meshreduce::detail::repro {
namespace {

using testing::repro::input_value;
using testing::repro::store_value;

enum class Regime { narrow, wide, tiny, mixed_specials, tie, threshold };
constexpr std::int64_t kRegimes = 6;

// Device k's value of element i: in the first half of a tensor runs of kRun elements share a
// regime (so whole tiles, 8 to 32 elements, take one path), in the second half every element
// picks its own (so tiles mix paths).
constexpr std::int64_t kRun = 67;

double value(DType dtype, int devices, int k, std::int64_t i, std::int64_t count, std::uint64_t seed) {
  const std::int64_t pick = i < count / 2 ? i / kRun : i;
  // splitmix64 of (seed, element, device): cheap, and different for each.
  std::uint64_t state = seed * 0x9e3779b97f4a7c15ULL + static_cast<std::uint64_t>(i) * 0xbf58476d1ce4e5b9ULL +
                        static_cast<std::uint64_t>(k) * 0x94d049bb133111ebULL;
  const auto rng = [&state] {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  const auto mantissa = [&rng](std::uint64_t) { return 1.0 + static_cast<double>(rng() >> 11) * 0x1p-53; };
  const auto in = [&rng](int lowest, int highest) {
    return lowest + static_cast<int>(rng() % static_cast<std::uint64_t>(highest - lowest + 1));
  };
  const double sign = (rng() & 1) ? -1.0 : 1.0;
  const bool small_type = dtype == DType::f16;  // f16's exponents reach -24 only
  switch (static_cast<Regime>(pick % kRegimes)) {
    case Regime::narrow: {  // a few binades, some zeros: the plain sum is exact
      if (rng() % 5 == 0) return sign * 0.0;
      return sign * std::ldexp(mantissa(0), in(-3, 3));
    }
    case Regime::wide: {  // 20-40 binades apart on different devices: quantization rounds
      return sign * std::ldexp(mantissa(0), small_type ? in(-24, 4) : in(-40, 2));
    }
    case Regime::tiny: {  // every input tiny or zero
      if (small_type || dtype == DType::f64) return sign * std::ldexp(mantissa(0), -20);
      if (rng() % 3 == 0) return sign * 0.0;
      return sign * std::ldexp(1.0, in(-149, -80)) * (1.0 + static_cast<double>(rng() % 8) / 8);
    }
    case Regime::mixed_specials:  // the shared test data: cancellation, subnormals, inf, NaN
      return input_value(dtype, devices, k, i, seed);
    case Regime::tie: {
      // f32: x0 (even last bit) + x1 + x2 = x0 + ulp(x0)/2 + 2^(e-t-23) with x2 = 2^(e-t)(1 + 2^-23):
      // just above a rounding tie, so the sum rounds up; but quantization at 2^(e-B+1) drops x2's
      // last bit once t > B - 24, which leaves the tie and rounds down to x0. t runs from 24 to
      // 30 around that limit (B is 49 to 51 here), the same t in a run; e is near 1 in some runs of elements and
      // near 2^(B - 128), where the f32 lanes stop, in others. The other devices hold zeros.
      if (dtype != DType::f32 || devices < 3) return sign * std::ldexp(mantissa(0), in(-3, 3));
      int bits = 53;
      while ((1 << (53 - bits)) < devices) --bits;
      std::uint64_t shared = seed * 0x9e3779b97f4a7c15ULL + static_cast<std::uint64_t>(i);
      shared = (shared ^ (shared >> 29)) * 0xbf58476d1ce4e5b9ULL;
      const std::int64_t run = i / kRun / kRegimes;  // alternates between tie runs
      const int e = run % 2 == 0 ? static_cast<int>(shared % 20) - 10 : bits - 130 + static_cast<int>((run / 2) % 4);
      const int t = 24 + static_cast<int>((i < count / 2 ? run / 2 : i) % 7);  // per run, then per element
      const double element_sign = (shared >> 20) & 1 ? -1.0 : 1.0;
      const double x0 = std::ldexp(1.0 + static_cast<double>(2 * ((shared >> 24) % (1u << 22))) * 0x1p-23, e);
      if (k == 0) return element_sign * x0;
      if (k == 1) return element_sign * (std::ldexp(1.0, e - 24) - std::ldexp(1.0, e - t));
      if (k == 2) return element_sign * std::ldexp(1.0 + 0x1p-23, e - t);
      return (rng() & 1) ? -0.0 : 0.0;
    }
    case Regime::threshold: {
      // The largest input's exponent near 2^(B - 128), where 2^s leaves f32's range: one value
      // per run of elements (so whole tiles fall on one side), the others smaller or zero.
      if (dtype != DType::f32 && dtype != DType::bf16) return sign * std::ldexp(mantissa(0), -20);
      int bits = 53;
      while ((1 << (53 - bits)) < devices) --bits;
      const int largest = bits - 128 + static_cast<int>((i / kRun / kRegimes) % 4) - 2;
      if (k == 0) return sign * std::ldexp(mantissa(0), largest);
      if (rng() % 3 == 0) return sign * 0.0;
      return sign * std::ldexp(mantissa(0), in(-149, largest - 1));
    }
  }
  return 0;
}

struct Case {
  DType dtype;
  int devices;
  std::int64_t count;
  std::int64_t offset;  // elements before the first one used, in every buffer
  bool average;
  bool in_place;
  bool stream;
};

std::string name_of(const Case& c) {
  return std::string(dtype_name(c.dtype)) + " K=" + std::to_string(c.devices) + " count=" + std::to_string(c.count) +
         " offset=" + std::to_string(c.offset) + (c.average ? " average" : " sum") + (c.in_place ? " in place" : "") +
         (c.stream ? " stream" : "");
}

using Bytes = std::vector<std::vector<std::uint8_t>>;

// The destinations' bytes after the kernel (simd) or the element-wise reference.
Bytes outputs(const Case& c, const Bytes& inputs, bool simd) {
  const std::size_t width = dtype_size(c.dtype);
  Bytes results = c.in_place ? inputs : Bytes(inputs.size(), std::vector<std::uint8_t>(inputs[0].size(), 0xa5));
  std::vector<const void*> srcs;
  std::vector<void*> dsts;
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    srcs.push_back((c.in_place ? results[k].data() : inputs[k].data()) + c.offset * width);
    dsts.push_back(results[k].data() + c.offset * width);
  }
  const FusedArgs args{c.dtype, c.average, c.count, srcs, dsts, c.stream};
  if (simd) run_fused(args);
  else run_fused_elementwise(args);
  return results;
}

void expect_same_as_elementwise(const Case& c) {
  const std::size_t width = dtype_size(c.dtype);
  Bytes inputs(static_cast<std::size_t>(c.devices), std::vector<std::uint8_t>((c.offset + c.count) * width + 64));
  for (int k = 0; k < c.devices; ++k)
    for (std::int64_t i = 0; i < c.offset + c.count; ++i)
      store_value(c.dtype, inputs[static_cast<std::size_t>(k)], i, value(c.dtype, c.devices, k, i, c.count, 11));
  const Bytes want = outputs(c, inputs, false);
  const Bytes got = outputs(c, inputs, true);
  for (std::size_t k = 0; k < want.size(); ++k)
    for (std::size_t byte = 0; byte < want[k].size(); byte += width)
      if (std::memcmp(want[k].data() + byte, got[k].data() + byte, width) != 0) {
        ADD_FAILURE() << name_of(c) << ": device " << k << " element "
                      << static_cast<std::int64_t>(byte / width) - c.offset
                      << " differs from the element-wise result";
        return;
      }
}

class ReproducibleKernelTarget : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { ASSERT_TRUE(force_kernel_target(GetParam())) << GetParam(); }
  void TearDown() override { force_kernel_target(""); }
};

TEST_P(ReproducibleKernelTarget, EveryPathMatchesTheElementwiseArithmetic) {
  for (DType dtype : {DType::f32, DType::bf16, DType::f16, DType::f64})
    for (int devices : {1, 2, 3, 8, 16})
      for (std::int64_t count : {0, 1, 31, 67, 1000})
        for (std::int64_t offset : {0, 1})
          expect_same_as_elementwise({dtype, devices, count, offset, devices == 3, false, false});
}

// Long tensors, so that every regime fills whole tiles several times (ties near 1 and near the
// end of the f32 lanes; the largest input on both sides of that end).
TEST_P(ReproducibleKernelTarget, TiesAtTheQuantumAndTheEndOfTheF32LanesMatch) {
  for (DType dtype : {DType::f32, DType::bf16})
    for (int devices : {3, 8, 16})
      expect_same_as_elementwise({dtype, devices, 2 * 24 * kRun * kRegimes, 0, false, false, false});
}

TEST_P(ReproducibleKernelTarget, InPlaceAverageAndStreamedStoresMatchToo) {
  for (DType dtype : {DType::f32, DType::bf16})
    for (bool in_place : {false, true})
      for (bool average : {false, true})
        for (bool stream : {false, true})
          for (std::int64_t offset : {0, 3})
            expect_same_as_elementwise({dtype, 8, 777, offset, average, in_place, stream});
}

std::vector<std::string> targets() {
  std::vector<std::string> names;
  for (std::string_view name : kernel_targets()) names.emplace_back(name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(Targets, ReproducibleKernelTarget, ::testing::ValuesIn(targets()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace meshreduce::detail::repro
