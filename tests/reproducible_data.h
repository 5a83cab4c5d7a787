// Test data for reproducible mode: per device and element, values that stress the order of
// summation (wide exponent spreads, cancellation, subnormals, signed zeros, NaN and inf, values
// near overflow), and an exact reference for the error bound (a 2560-bit fixed-point sum).
#pragma once

#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "core/half.h"
#include "meshreduce/types.h"

namespace meshreduce::testing::repro {

inline double widen_bits(DType dtype, const std::vector<std::uint8_t>& bytes, std::int64_t i) {
  const auto at = static_cast<std::size_t>(i);
  switch (dtype) {
    case DType::f32: { float f; std::memcpy(&f, bytes.data() + 4 * at, 4); return f; }
    case DType::f64: { double d; std::memcpy(&d, bytes.data() + 8 * at, 8); return d; }
    default: {
      std::uint16_t h; std::memcpy(&h, bytes.data() + 2 * at, 2);
      return dtype == DType::f16 ? detail::f16_to_f32(h) : detail::bf16_to_f32(h);
    }
  }
}

inline void store_value(DType dtype, std::vector<std::uint8_t>& bytes, std::int64_t i, double v) {
  const auto at = static_cast<std::size_t>(i);
  switch (dtype) {
    case DType::f32: { const float f = static_cast<float>(v); std::memcpy(bytes.data() + 4 * at, &f, 4); return; }
    case DType::f64: std::memcpy(bytes.data() + 8 * at, &v, 8); return;
    default: {
      const float f = static_cast<float>(v);
      const std::uint16_t h = dtype == DType::f16 ? detail::f32_to_f16(f) : detail::f32_to_bf16(f);
      std::memcpy(bytes.data() + 2 * at, &h, 2);
    }
  }
}

struct Range {
  int min_exponent;  // of the smallest normal
  int mantissa_bits;  // explicit bits
  int max_exponent;
};

inline Range range_of(DType dtype) {
  switch (dtype) {
    case DType::f64: return {-1022, 52, 1023};
    case DType::f16: return {-14, 10, 15};
    case DType::bf16: return {-126, 7, 127};
    default: return {-126, 23, 127};
  }
}

// Kinds of element, by element index modulo kKinds.
constexpr std::int64_t kKinds = 10;

// Device k's input, element i: differs per device, element and seed.
inline double input_value(DType dtype, int devices, int k, std::int64_t i, std::uint64_t seed) {
  std::mt19937_64 rng(seed * 0x9e3779b97f4a7c15ULL + static_cast<std::uint64_t>(i) * 131 + static_cast<std::uint64_t>(k));
  std::mt19937_64 shared(seed * 0x9e3779b97f4a7c15ULL + static_cast<std::uint64_t>(i) * 131 + 977);  // same on all devices
  const Range r = range_of(dtype);
  std::uniform_real_distribution<double> mantissa(1.0, 2.0);
  const double sign = (rng() & 1) ? -1.0 : 1.0;
  switch (i % kKinds) {
    case 0: {  // the whole exponent range, normal numbers
      std::uniform_int_distribution<int> e(r.min_exponent, r.max_exponent - 2);
      return sign * std::ldexp(mantissa(rng), e(rng));
    }
    case 1: {  // cancellation: a big pair that cancels, plus small values of several scales
      std::uniform_int_distribution<int> e(r.min_exponent / 4, r.max_exponent / 4);
      const double big = std::ldexp(mantissa(shared), e(shared));
      if (k == 0) return big;
      if (k == devices - 1 && devices > 1) return -big;
      return sign * std::ldexp(mantissa(rng), e(shared) - 1 - static_cast<int>(rng() % (2 * r.mantissa_bits + 8)));
    }
    case 2: {  // subnormals and the smallest normals
      const int lowest = r.min_exponent - r.mantissa_bits;
      std::uniform_int_distribution<int> e(lowest, r.min_exponent + 1);
      return sign * std::ldexp(mantissa(rng), e(rng));
    }
    case 3:  // signed zeros; every third element all -0
      return (i / kKinds) % 3 == 0 ? -0.0 : sign * 0.0;
    case 4: {  // inf of one sign on some devices, ordinary values elsewhere
      const int which = static_cast<int>(shared() % static_cast<std::uint64_t>(devices));
      if (k == which) return ((i / kKinds) % 2 ? -1.0 : 1.0) * INFINITY;
      return sign * mantissa(rng);
    }
    case 5: {  // +inf and -inf meet, or a NaN (with a payload and either sign) arrives
      if (k == 0) return INFINITY;
      if (k == devices - 1) {
        if ((i / kKinds) % 2) return -INFINITY;
        std::uint64_t nan = 0x7ff8000000000000ULL | (rng() & 0xfffffULL);
        if (rng() & 1) nan |= 0x8000000000000000ULL;
        return std::bit_cast<double>(nan);
      }
      return sign * mantissa(rng);
    }
    case 6: {  // near overflow: sums may pass the largest finite value
      return sign * std::ldexp(mantissa(rng), r.max_exponent - 1);
    }
    default: {  // gradients: a few binades around 1e-3, one sign per element mostly
      std::uniform_int_distribution<int> e(-14, -6);
      return ((rng() % 4) == 0 ? -1.0 : 1.0) * std::ldexp(mantissa(rng), e(rng));
    }
  }
}

// inputs[k]: device k's bytes.
inline std::vector<std::vector<std::uint8_t>> make_inputs(DType dtype, int devices, std::int64_t count, std::uint64_t seed) {
  std::vector<std::vector<std::uint8_t>> inputs(static_cast<std::size_t>(devices),
                                                std::vector<std::uint8_t>(static_cast<std::size_t>(count) * dtype_size(dtype)));
  for (int k = 0; k < devices; ++k)
    for (std::int64_t i = 0; i < count; ++i)
      store_value(dtype, inputs[static_cast<std::size_t>(k)], i, input_value(dtype, devices, k, i, seed));
  return inputs;
}

// A signed fixed-point number with unit 2^-kLowest, two's complement over kLimbs 64-bit limbs:
// exact for every sum of up to 2^20 finite doubles and for the bounds below.
class Exact {
 public:
  static constexpr int kLowest = 1300;
  static constexpr std::size_t kLimbs = 40;

  // += sign * m * 2^e (m >= 0, e >= -kLowest).
  void add(std::uint64_t m, int e, bool negative) {
    const int position = e + kLowest;
    std::array<std::uint64_t, kLimbs> term{};
    const auto limb = static_cast<std::size_t>(position / 64);
    const int shift = position % 64;
    term[limb] = m << shift;
    if (shift != 0 && limb + 1 < kLimbs) term[limb + 1] = m >> (64 - shift);
    if (negative) {  // two's complement of term
      for (auto& t : term) t = ~t;
      for (auto& t : term)
        if (++t != 0) break;
    }
    unsigned carry = 0;
    for (std::size_t j = 0; j < kLimbs; ++j) {
      const std::uint64_t a = limbs_[j];
      const std::uint64_t s = a + term[j];
      const unsigned c1 = s < a;
      const std::uint64_t s2 = s + carry;
      const unsigned c2 = s2 < s;
      limbs_[j] = s2;
      carry = c1 | c2;
    }
  }
  void add(double x) {  // finite x
    if (x == 0) return;
    int e = 0;
    const double f = std::frexp(std::fabs(x), &e);  // |x| = f 2^e, f in [0.5, 1)
    add(static_cast<std::uint64_t>(std::ldexp(f, 53)), e - 53, x < 0);
  }
  void add(const Exact& other) {
    unsigned carry = 0;
    for (std::size_t j = 0; j < kLimbs; ++j) {
      const std::uint64_t s = limbs_[j] + other.limbs_[j];
      const unsigned c1 = s < limbs_[j];
      const std::uint64_t s2 = s + carry;
      carry = c1 | (s2 < s);
      limbs_[j] = s2;
    }
  }
  Exact negated() const {
    Exact out = *this;
    for (auto& t : out.limbs_) t = ~t;
    for (auto& t : out.limbs_)
      if (++t != 0) break;
    return out;
  }
  bool negative() const { return (limbs_.back() >> 63) != 0; }
  Exact magnitude() const { return negative() ? negated() : *this; }
  // Unsigned comparison of two non-negative values.
  bool at_most(const Exact& other) const {
    for (std::size_t j = kLimbs; j-- > 0;)
      if (limbs_[j] != other.limbs_[j]) return limbs_[j] < other.limbs_[j];
    return true;
  }

 private:
  std::array<std::uint64_t, kLimbs> limbs_{};
};

}  // namespace meshreduce::testing::repro
