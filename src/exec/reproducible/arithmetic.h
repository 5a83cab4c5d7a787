// Internal: the arithmetic of reproducible mode (docs/reproducible.md), one element at a time.
//
// A floating-point sum of K values becomes exact integer arithmetic in doubles:
//   1. every device computes a code per element: the biased exponent field of the value, raised
//      to 1 (zeros and subnormals take 1, inf and NaN their all-ones field); all devices agree on
//      the maximum code c over the K inputs (max is exact in any order);
//   2. c fixes a scale 2^s with s = B - 1 - E, where E = c - bias and B = 53 - ceil(log2 K):
//      every finite input has |x| < 2^(E+1), so q = round_half_even(x * 2^s) has |q| <= 2^B and
//      any sum of at most K such integers stays within 2^53, where double addition is exact; the
//      sum of the q's is therefore the same in every order and every grouping;
//   3. the sum, scaled back by 2^-s (exact), is rounded once to the element type. NaN results
//      become one canonical quiet NaN (their payload and sign would depend on the order).
// f64 inputs keep two integers per element (hi, and the rounded remainder scaled by 2^B) so that
// the quantization error stays far below that of plain summation; the other types need one.
// f16 and bf16 are widened to f32 first (exact) and use f32's codes.
//
// Every function here is a pure function of its arguments: the SIMD kernel (fused_kernels.cc)
// and the generic path (generic.cc) give the same bits because both compute exactly these.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

#include "core/half.h"
#include "meshreduce/types.h"

namespace meshreduce::detail::repro {

// B: the magnitude bound 2^B of one quantized input, for K devices (K <= 2^52).
constexpr int magnitude_bits(int num_devices) noexcept {
  int log2_ceil = 0;
  while ((std::int64_t{1} << log2_ceil) < num_devices) ++log2_ceil;
  return 53 - log2_ceil;
}

// Doubles per element that travel through the schedule.
constexpr int levels(DType dtype) noexcept { return dtype == DType::f64 ? 2 : 1; }

constexpr std::uint32_t kCanonicalNanF32 = 0x7fc00000u;
constexpr std::uint64_t kCanonicalNanF64 = 0x7ff8000000000000u;
constexpr std::uint16_t kCanonicalNanF16 = 0x7e00u;
constexpr std::uint16_t kCanonicalNanBF16 = 0x7fc0u;

// f16 and bf16 widen to f32 exactly.
inline float widen(DType dtype, const void* data, std::int64_t i) noexcept {
  if (dtype == DType::f32) return static_cast<const float*>(data)[i];
  const std::uint16_t bits = static_cast<const std::uint16_t*>(data)[i];
  return dtype == DType::f16 ? f16_to_f32(bits) : bf16_to_f32(bits);
}

inline std::int32_t code_of(float x) noexcept {
  const std::int32_t field = static_cast<std::int32_t>((std::bit_cast<std::uint32_t>(x) >> 23) & 0xffu);
  return field < 1 ? 1 : field;
}

inline std::int32_t code_of(double x) noexcept {
  const std::int32_t field = static_cast<std::int32_t>((std::bit_cast<std::uint64_t>(x) >> 52) & 0x7ffu);
  return field < 1 ? 1 : field;
}

inline std::int32_t code_of(DType dtype, const void* data, std::int64_t i) noexcept {
  if (dtype == DType::f64) return code_of(static_cast<const double*>(data)[i]);
  return code_of(widen(dtype, data, i));
}

// s for the agreed code c (codes below 1 are read as 1).
inline int scale_exponent(DType dtype, std::int32_t code, int bits) noexcept {
  const int bias = dtype == DType::f64 ? 1023 : 127;
  return bits - 1 - ((code < 1 ? 1 : code) - bias);
}

// 2^e for -1022 <= e <= 1023, from its bits (std::ldexp is a library call).
inline double power_of_two(int e) noexcept {
  return std::bit_cast<double>(static_cast<std::uint64_t>(e + 1023) << 52);
}

// y rounded to an integer, half to even, as std::nearbyint in the default rounding mode and the
// SIMD Round (nearbyint is a library call on baseline x86-64). Below 2^52, adding and removing
// 2^52 leaves the rounded magnitude (the spacing there is 1); from 2^52 on y is an integer.
// The sign is y's, so -0.3 gives -0 as nearbyint does.
inline double round_half_even(double y) noexcept {
  constexpr double kTwo52 = 4503599627370496.0;
  const double magnitude = std::fabs(y);
  if (!(magnitude < kTwo52)) return y;  // integers, inf and NaN
  return std::copysign((magnitude + kTwo52) - kTwo52, y);
}

// x * 2^s, exactly when the product is representable, rounded once otherwise (as std::ldexp).
inline double scaled(double x, int s) noexcept {
  return s >= -1022 && s <= 1023 ? x * power_of_two(s) : std::ldexp(x, s);
}

// One level: round_half_even(x * 2^s); s is within [B - 129, B + 125] for f32's codes, where
// power_of_two is exact.
inline double quantize(float x, int s) noexcept { return round_half_even(static_cast<double>(x) * power_of_two(s)); }

// Two levels for f64: hi = round(x 2^s) and lo = round((x 2^s - hi) 2^B). x 2^s - hi is exact
// (the fraction of a double), and |lo| <= 2^(B-1).
inline void quantize(double x, int s, int bits, double& hi, double& lo) noexcept {
  const double y = scaled(x, s);  // |y| < 2^B; bits of x below 2^-1074 at this scale are rounded off
  hi = round_half_even(y);
  if (!std::isfinite(y)) {
    lo = y;
    return;
  }
  lo = round_half_even((y - hi) * power_of_two(bits));
  // y - hi is +0 when y is an integer, -0 included: a zero lo takes the sign of x, so
  // that the sum is -0 exactly when every input is (the largest input never quantizes to zero).
  if (lo == 0) lo = std::copysign(0.0, y);
}

// A double rounded to f32 with round-to-odd: truncate, and set the last bit if anything was
// dropped. Rounding that to 16 bits (which have at least two bits fewer at every magnitude)
// then gives the correctly rounded 16-bit value: one rounding, not two.
inline float round_to_odd_f32(double v) noexcept {
  float f = static_cast<float>(v);
  if (!std::isfinite(v) || static_cast<double>(f) == v) return f;
  if (std::fabs(static_cast<double>(f)) > std::fabs(v)) f = std::nextafter(f, 0.0f);
  return std::bit_cast<float>(std::bit_cast<std::uint32_t>(f) | 1u);
}

// The sum (scaled back and averaged when asked) rounded once to the element type.
inline void store_result(DType dtype, double value, void* out, std::int64_t i) noexcept {
  switch (dtype) {
    case DType::f32: {
      const float f = static_cast<float>(value);
      static_cast<float*>(out)[i] = std::isnan(f) ? std::bit_cast<float>(kCanonicalNanF32) : f;
      return;
    }
    case DType::f64:
      static_cast<double*>(out)[i] = std::isnan(value) ? std::bit_cast<double>(kCanonicalNanF64) : value;
      return;
    case DType::f16:
      static_cast<std::uint16_t*>(out)[i] =
          std::isnan(value) ? kCanonicalNanF16 : f32_to_f16(round_to_odd_f32(value));
      return;
    case DType::bf16:
      static_cast<std::uint16_t*>(out)[i] =
          std::isnan(value) ? kCanonicalNanBF16 : f32_to_bf16(round_to_odd_f32(value));
      return;
    default: return;  // integer types never come here
  }
}

// The value of one element's exact sum: one level (f32, f16, bf16).
inline double value_of(double sum, int s) noexcept { return sum * power_of_two(-s); }

// Two levels (f64): hi + lo 2^-B rounds once to 53 bits (lo 2^-B is exact), then scales by 2^-s.
inline double value_of(double hi, double lo, int s, int bits) noexcept {
  return scaled(hi + lo * power_of_two(-bits), -s);
}

inline double finish(double value, bool average, int num_devices) noexcept {
  return average ? value / static_cast<double>(num_devices) : value;
}

}  // namespace meshreduce::detail::repro
