// f16 and bf16 conversions (src/core/half.h) against the format definitions, written plainly in
// test_support.h: exhaustive round trips, ties to even at every halfway point, overflow, NaN.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include "core/half.h"
#include "test_support.h"

namespace meshreduce {
namespace {

using detail::bf16_to_f32;
using detail::f16_to_f32;
using detail::f32_to_bf16;
using detail::f32_to_f16;
using testing::is_bf16_nan;
using testing::is_f16_nan;
using testing::ref_bf16_from;
using testing::ref_bf16_value;
using testing::ref_f16_from;
using testing::ref_f16_value;

float next_up(float x) { return std::nextafter(x, std::numeric_limits<float>::infinity()); }
float next_down(float x) { return std::nextafter(x, -std::numeric_limits<float>::infinity()); }

// ---- f16 -----------------------------------------------------------------------------------------

TEST(F16, EveryPatternDecodesToItsValueAndRoundTrips) {
  for (std::uint32_t bits = 0; bits <= 0xffff; ++bits) {
    const auto h = static_cast<std::uint16_t>(bits);
    const float f = f16_to_f32(h);
    if (is_f16_nan(h)) {
      EXPECT_TRUE(std::isnan(f)) << std::hex << bits;
      const std::uint16_t back = f32_to_f16(f);
      EXPECT_TRUE(is_f16_nan(back)) << std::hex << bits << " came back as " << back;
      EXPECT_EQ(back & 0x8000, h & 0x8000) << std::hex << bits << ": NaN lost its sign";
      continue;
    }
    EXPECT_EQ(static_cast<double>(f), ref_f16_value(h)) << std::hex << bits;
    EXPECT_EQ(std::signbit(f), (h & 0x8000) != 0) << std::hex << bits;
    EXPECT_EQ(f32_to_f16(f), h) << std::hex << bits;
  }
}

// Halfway between consecutive f16 values goes to the even pattern; one f32 step either side goes
// to the nearer value. Covers every subnormal and normal interval, both signs.
TEST(F16, TiesToEvenAtEveryHalfwayPoint) {
  for (std::uint32_t h = 0; h < 0x7bff; ++h) {
    const double low = ref_f16_value(static_cast<std::uint16_t>(h));
    const double high = ref_f16_value(static_cast<std::uint16_t>(h + 1));
    const auto mid = static_cast<float>((low + high) / 2);  // 12 significant bits: exact in f32
    ASSERT_EQ(static_cast<double>(mid), (low + high) / 2);
    const auto even = static_cast<std::uint16_t>(h % 2 == 0 ? h : h + 1);
    EXPECT_EQ(f32_to_f16(mid), even) << std::hex << "between " << h << " and " << h + 1;
    EXPECT_EQ(f32_to_f16(next_down(mid)), h) << std::hex << "just below the midpoint after " << h;
    EXPECT_EQ(f32_to_f16(next_up(mid)), h + 1) << std::hex << "just above the midpoint after " << h;
    EXPECT_EQ(f32_to_f16(-mid), even | 0x8000) << std::hex << "negative, after " << h;
  }
}

TEST(F16, OverflowAndUnderflow) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16(next_down(65520.0f)), 0x7bff);  // below max + half an ulp: max
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);              // the tie goes to the even "65536": inf
  EXPECT_EQ(f32_to_f16(-65520.0f), 0xfc00);
  EXPECT_EQ(f32_to_f16(1e6f), 0x7c00);
  EXPECT_EQ(f32_to_f16(std::numeric_limits<float>::max()), 0x7c00);
  EXPECT_EQ(f32_to_f16(inf), 0x7c00);
  EXPECT_EQ(f32_to_f16(-inf), 0xfc00);
  // The smallest subnormal is 2^-24; half of it ties to zero, anything above rounds up.
  EXPECT_EQ(f32_to_f16(0x1p-25f), 0x0000);
  EXPECT_EQ(f32_to_f16(next_up(0x1p-25f)), 0x0001);
  EXPECT_EQ(f32_to_f16(-next_up(0x1p-25f)), 0x8001);
  EXPECT_EQ(f32_to_f16(0x1p-30f), 0x0000);
  EXPECT_EQ(f32_to_f16(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(f32_to_f16(-std::numeric_limits<float>::denorm_min()), 0x8000);  // signed zero
  EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_f16(0x1p-14f), 0x0400);  // the smallest normal
  EXPECT_EQ(f32_to_f16(next_down(0x1p-14f)), 0x0400);  // rounds up from the subnormal range
}

TEST(F16, NaNsStayNaN) {
  for (std::uint32_t payload : {0x7fc00000u, 0x7f800001u, 0x7fbfffffu, 0xffc00000u, 0x7f802000u}) {
    const std::uint16_t h = f32_to_f16(std::bit_cast<float>(payload));
    EXPECT_TRUE(is_f16_nan(h)) << std::hex << payload << " -> " << h;
  }
}

// Random f32 values over the whole f16 range (and past it) against the reference rounding.
TEST(F16, RandomValuesMatchTheReferenceRounding) {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 200000; ++trial) {
    // Exponents from far below the subnormals to past the overflow.
    const std::uint32_t exponent = 127 - 30 + rng() % 48;
    const std::uint32_t bits = (rng() & 0x807fffffu) | (exponent << 23);
    const float f = std::bit_cast<float>(bits);
    EXPECT_EQ(f32_to_f16(f), ref_f16_from(f)) << std::hexfloat << f;
  }
}

// ---- bf16 ----------------------------------------------------------------------------------------

TEST(Bf16, EveryPatternDecodesToItsValueAndRoundTrips) {
  for (std::uint32_t bits = 0; bits <= 0xffff; ++bits) {
    const auto h = static_cast<std::uint16_t>(bits);
    const float f = bf16_to_f32(h);
    if (is_bf16_nan(h)) {
      EXPECT_TRUE(std::isnan(f)) << std::hex << bits;
      EXPECT_TRUE(is_bf16_nan(f32_to_bf16(f))) << std::hex << bits;
      continue;
    }
    EXPECT_EQ(static_cast<double>(f), ref_bf16_value(h)) << std::hex << bits;
    EXPECT_EQ(f32_to_bf16(f), h) << std::hex << bits;
  }
}

TEST(Bf16, TiesToEvenAtEveryHalfwayPoint) {
  for (std::uint32_t h = 0; h < 0x7f7f; ++h) {
    const std::uint32_t mid_bits = (h << 16) | 0x8000u;  // exactly halfway to h + 1
    const float mid = std::bit_cast<float>(mid_bits);
    ASSERT_EQ(static_cast<double>(mid),
              (ref_bf16_value(static_cast<std::uint16_t>(h)) + ref_bf16_value(static_cast<std::uint16_t>(h + 1))) / 2);
    const auto even = static_cast<std::uint16_t>(h % 2 == 0 ? h : h + 1);
    EXPECT_EQ(f32_to_bf16(mid), even) << std::hex << h;
    EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(mid_bits - 1)), h) << std::hex << h;
    EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(mid_bits + 1)), h + 1) << std::hex << h;
    EXPECT_EQ(f32_to_bf16(-mid), even | 0x8000) << std::hex << h;
  }
}

TEST(Bf16, OverflowInfinityAndNaN) {
  const float max = std::numeric_limits<float>::max();
  EXPECT_EQ(f32_to_bf16(max), 0x7f80);  // past the largest bf16 + half an ulp
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x7f7f7fffu)), 0x7f7f);
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x7f7f8000u)), 0x7f80);  // tie: to even, which is inf
  EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::infinity()), 0x7f80);
  EXPECT_EQ(f32_to_bf16(-std::numeric_limits<float>::infinity()), 0xff80);
  EXPECT_EQ(f32_to_bf16(-0.0f), 0x8000);
  for (std::uint32_t payload : {0x7fc00000u, 0x7f800001u, 0x7f80ffffu, 0xff800001u, 0x7fffffffu}) {
    const std::uint16_t h = f32_to_bf16(std::bit_cast<float>(payload));
    EXPECT_TRUE(is_bf16_nan(h)) << std::hex << payload << " -> " << h;  // never rounds to inf
  }
}

TEST(Bf16, RandomValuesMatchTheReferenceRounding) {
  std::mt19937 rng(12);
  for (int trial = 0; trial < 200000; ++trial) {
    const std::uint32_t bits = rng();
    const float f = std::bit_cast<float>(bits);
    if (std::isnan(f)) continue;
    EXPECT_EQ(f32_to_bf16(f), ref_bf16_from(f)) << std::hexfloat << f;
  }
}

// The reference itself, on a few values worked out by hand, so the checks above rest on something.
TEST(HalfReference, KnownValues) {
  EXPECT_EQ(ref_f16_value(0x3c00), 1.0);
  EXPECT_EQ(ref_f16_value(0xc000), -2.0);
  EXPECT_EQ(ref_f16_value(0x7bff), 65504.0);
  EXPECT_EQ(ref_f16_value(0x0001), 0x1p-24);
  EXPECT_EQ(ref_f16_value(0x0400), 0x1p-14);
  EXPECT_EQ(ref_f16_value(0x3555), 0x1.554p-2);
  EXPECT_EQ(ref_f16_from(1.0 + 0x1p-11), 0x3c00);             // tie to even (down)
  EXPECT_EQ(ref_f16_from(1.0 + 3 * 0x1p-11), 0x3c02);         // tie to even (up)
  EXPECT_EQ(ref_f16_from(65519.0), 0x7bff);
  EXPECT_EQ(ref_f16_from(65520.0), 0x7c00);
  EXPECT_EQ(ref_bf16_value(0x3f80), 1.0);
  EXPECT_EQ(ref_bf16_value(0x7f7f), 0x1.fep127);
  EXPECT_EQ(ref_bf16_value(0x0001), 0x1p-133);
  EXPECT_EQ(ref_bf16_from(1.0 + 0x1p-8), 0x3f80);
  EXPECT_EQ(ref_bf16_from(1.0 + 3 * 0x1p-8), 0x3f82);
}

}  // namespace
}  // namespace meshreduce
