// Shared helpers of the test suite: K x N device buffers, plainly written f16/bf16 reference
// conversions (independent of src/core/half.h), and checks of thrown errors.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "meshreduce/meshreduce.h"

namespace meshreduce::testing {

// ---- Reference 16-bit float conversions, written from the format definitions ------------------

// Value of an f16 bit pattern: (-1)^s * 2^(e-15) * 1.m, or 2^-14 * 0.m for e = 0.
inline double ref_f16_value(std::uint16_t h) {
  const int sign = (h >> 15) & 1;
  const int exponent = (h >> 10) & 0x1f;
  const int mantissa = h & 0x3ff;
  double magnitude = 0;
  if (exponent == 0x1f) magnitude = mantissa == 0 ? std::numeric_limits<double>::infinity()
                                                  : std::numeric_limits<double>::quiet_NaN();
  else if (exponent == 0) magnitude = std::ldexp(static_cast<double>(mantissa), -24);
  else magnitude = std::ldexp(1024.0 + mantissa, exponent - 25);
  return sign ? -magnitude : magnitude;
}

// Value of a bf16 bit pattern: (-1)^s * 2^(e-127) * 1.m (7 mantissa bits), or 2^-126 * 0.m.
inline double ref_bf16_value(std::uint16_t h) {
  const int sign = (h >> 15) & 1;
  const int exponent = (h >> 7) & 0xff;
  const int mantissa = h & 0x7f;
  double magnitude = 0;
  if (exponent == 0xff) magnitude = mantissa == 0 ? std::numeric_limits<double>::infinity()
                                                  : std::numeric_limits<double>::quiet_NaN();
  else if (exponent == 0) magnitude = std::ldexp(static_cast<double>(mantissa), -133);
  else magnitude = std::ldexp(128.0 + mantissa, exponent - 134);
  return sign ? -magnitude : magnitude;
}

// The values of the patterns 0..max_finite + 1 of a 16-bit format (increasing with the pattern);
// the entry past the largest finite value (infinity's pattern) holds the next power of two, as
// IEEE 754 rounding with an unbounded exponent has it.
inline std::vector<double> positive_values(std::uint16_t max_finite, double (*decode)(std::uint16_t),
                                           double beyond_max) {
  std::vector<double> values;
  for (std::uint32_t pattern = 0; pattern <= max_finite; ++pattern)
    values.push_back(decode(static_cast<std::uint16_t>(pattern)));
  values.push_back(beyond_max);
  return values;
}

// Round a double to the nearest pattern of a 16-bit format given its positive values; ties go to
// the even pattern; values at or past the largest finite value + half an ulp become infinity.
inline std::uint16_t ref_round_16(double value, const std::vector<double>& values) {
  const std::uint16_t sign = std::signbit(value) ? 0x8000 : 0;
  const double magnitude = std::fabs(value);
  const auto infinity = static_cast<std::uint32_t>(values.size() - 1);
  if (magnitude >= values.back()) return static_cast<std::uint16_t>(sign | infinity);
  // The largest pattern whose value is <= magnitude, and the one after it.
  const auto above_it = std::upper_bound(values.begin(), values.end(), magnitude);
  const auto lo = static_cast<std::uint32_t>(above_it - values.begin() - 1);
  std::uint32_t pick = lo;
  if (values[lo] != magnitude) {
    const double below = magnitude - values[lo];
    const double above = values[lo + 1] - magnitude;
    if (above < below || (above == below && (lo & 1u) != 0)) pick = lo + 1;
  }
  return static_cast<std::uint16_t>(sign | pick);
}

inline std::uint16_t ref_f16_from(double value) {
  static const std::vector<double> values = positive_values(0x7bff, &ref_f16_value, 65536.0);
  if (std::isnan(value)) return 0x7e00;
  return ref_round_16(value, values);
}

inline std::uint16_t ref_bf16_from(double value) {
  static const std::vector<double> values = positive_values(0x7f7f, &ref_bf16_value, std::ldexp(1.0, 128));
  if (std::isnan(value)) return 0x7fc0;
  return ref_round_16(value, values);
}

inline bool is_f16_nan(std::uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0; }
inline bool is_bf16_nan(std::uint16_t h) { return (h & 0x7f80) == 0x7f80 && (h & 0x7f) != 0; }

// ---- Typed element access on raw bytes --------------------------------------------------------

// Store a value exactly representable in `dtype` (or rounded to nearest even for f16/bf16 and
// converted by the usual C++ conversion otherwise) at element i.
inline void store_value(std::byte* base, std::int64_t i, DType dtype, double value) {
  const auto at = [&](std::size_t size) { return base + static_cast<std::size_t>(i) * size; };
  switch (dtype) {
    case DType::f32: { const float v = static_cast<float>(value); std::memcpy(at(4), &v, 4); return; }
    case DType::f64: { std::memcpy(at(8), &value, 8); return; }
    case DType::f16: { const std::uint16_t v = ref_f16_from(value); std::memcpy(at(2), &v, 2); return; }
    case DType::bf16: { const std::uint16_t v = ref_bf16_from(value); std::memcpy(at(2), &v, 2); return; }
    case DType::i32: { const auto v = static_cast<std::int32_t>(value); std::memcpy(at(4), &v, 4); return; }
    case DType::i64: { const auto v = static_cast<std::int64_t>(value); std::memcpy(at(8), &v, 8); return; }
  }
}

inline double load_value(const std::byte* base, std::int64_t i, DType dtype) {
  const auto at = [&](std::size_t size) { return base + static_cast<std::size_t>(i) * size; };
  switch (dtype) {
    case DType::f32: { float v; std::memcpy(&v, at(4), 4); return v; }
    case DType::f64: { double v; std::memcpy(&v, at(8), 8); return v; }
    case DType::f16: { std::uint16_t v; std::memcpy(&v, at(2), 2); return ref_f16_value(v); }
    case DType::bf16: { std::uint16_t v; std::memcpy(&v, at(2), 2); return ref_bf16_value(v); }
    case DType::i32: { std::int32_t v; std::memcpy(&v, at(4), 4); return static_cast<double>(v); }
    case DType::i64: { std::int64_t v; std::memcpy(&v, at(8), 8); return static_cast<double>(v); }
  }
  return 0;
}

// ---- K devices x N tensors of caller memory -----------------------------------------------------

using Bytes = std::vector<std::byte>;

struct TensorShape {
  std::int64_t count = 0;
  DType dtype = DType::f32;
};

// inputs[k][n] and outputs[k][n] as separately allocated byte arrays (8-byte aligned).
class DeviceBuffers {
 public:
  DeviceBuffers(int devices, std::vector<TensorShape> shapes) : shapes_(std::move(shapes)) {
    inputs_.resize(static_cast<std::size_t>(devices));
    outputs_.resize(static_cast<std::size_t>(devices));
    for (int k = 0; k < devices; ++k)
      for (const TensorShape& shape : shapes_) {
        const auto words = (static_cast<std::size_t>(shape.count) * dtype_size(shape.dtype) + 7) / 8;
        inputs_[static_cast<std::size_t>(k)].emplace_back(words);
        outputs_[static_cast<std::size_t>(k)].emplace_back(words);
      }
  }

  int devices() const { return static_cast<int>(inputs_.size()); }
  int tensors() const { return static_cast<int>(shapes_.size()); }
  const TensorShape& shape(int n) const { return shapes_[static_cast<std::size_t>(n)]; }

  std::byte* input(int k, int n) { return bytes(inputs_, k, n); }
  std::byte* output(int k, int n) { return bytes(outputs_, k, n); }
  std::size_t tensor_bytes(int n) const {
    return static_cast<std::size_t>(shape(n).count) * dtype_size(shape(n).dtype);
  }

  // Views: the input arrays as in-place grads, as const inputs, and the output arrays.
  std::vector<std::vector<TensorView>> inplace_views() { return views(inputs_); }
  std::vector<std::vector<TensorView>> output_views() { return views(outputs_); }
  std::vector<std::vector<ConstTensorView>> input_views() {
    std::vector<std::vector<ConstTensorView>> result;
    for (const auto& device : views(inputs_)) result.emplace_back(device.begin(), device.end());
    return result;
  }

  // Every byte of every input and output, for "nothing was written" checks.
  std::vector<Bytes> snapshot() const {
    std::vector<Bytes> all;
    for (const auto* side : {&inputs_, &outputs_})
      for (const auto& device : *side)
        for (const auto& words : device) {
          Bytes copy(words.size() * 8);
          if (!words.empty()) std::memcpy(copy.data(), words.data(), copy.size());
          all.push_back(std::move(copy));
        }
    return all;
  }

  // Fill every output byte with a pattern, so stale outputs are never mistaken for results.
  void poison_outputs(std::uint8_t pattern = 0xa5) {
    for (auto& device : outputs_)
      for (auto& words : device)
        if (!words.empty()) std::memset(words.data(), pattern, words.size() * 8);
  }

 private:
  using Storage = std::vector<std::vector<std::vector<std::uint64_t>>>;
  std::byte* bytes(Storage& storage, int k, int n) {
    auto& words = storage[static_cast<std::size_t>(k)][static_cast<std::size_t>(n)];
    return words.empty() ? nullptr : reinterpret_cast<std::byte*>(words.data());
  }
  std::vector<std::vector<TensorView>> views(Storage& storage) {
    std::vector<std::vector<TensorView>> result(storage.size());
    for (std::size_t k = 0; k < storage.size(); ++k)
      for (int n = 0; n < tensors(); ++n)
        result[k].emplace_back(bytes(storage, static_cast<int>(k), n), shape(n).count, shape(n).dtype);
    return result;
  }

  std::vector<TensorShape> shapes_;
  Storage inputs_;
  Storage outputs_;
};

// ---- Test inputs: one value per (device, tensor, element) ------------------------------------

// Element i of tensor n on device k: a small integer in [-3, 3] drawn from a hash of all three,
// so that reading another element, tensor or device shows in the result. Neighbours always
// differ: even elements take odd values {-3, -1, 1, 3} and odd elements even values {-2, 0, 2},
// so an input range read one element off changes the parity of that device's term in every
// element of the range, and with it the sum; other misreads show with high probability. Every
// partial sum of up to 64 such values stays within +-192, exact in every dtype (bf16 holds the
// integers up to 256), so any order of additions gives the same bits and each result can be
// checked bit for bit.
inline int input_value(int device, int tensor, std::int64_t element) {
  std::uint64_t x = static_cast<std::uint64_t>(device) * 0x9e3779b97f4a7c15u ^
                    static_cast<std::uint64_t>(tensor) * 0xbf58476d1ce4e5b9u ^
                    static_cast<std::uint64_t>(element) * 0x94d049bb133111ebu;
  x ^= x >> 30;  // splitmix64's finalizer: every input bit reaches every output bit
  x *= 0xbf58476d1ce4e5b9u;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebu;
  x ^= x >> 31;
  if (element % 2 == 0) return static_cast<int>(x % 4) * 2 - 3;
  return static_cast<int>(x % 3) * 2 - 2;
}

// What a correct allreduce stores for element i of tensor n over devices 0..devices-1: sum, min
// and max exact; an average multiplies the exact sum by the reciprocal 1/K in the accumulation
// type (f64 for f64, f32 for f32/f16/bf16, rounded once when stored) or divides integers with
// truncation toward zero, as the kernels do. The double holds the result exactly.
inline double expected_value(DType dtype, ReduceOp op, int devices, int tensor, std::int64_t element) {
  std::int64_t sum = 0;
  int low = input_value(0, tensor, element);
  int high = low;
  for (int k = 0; k < devices; ++k) {
    const int value = input_value(k, tensor, element);
    sum += value;
    low = std::min(low, value);
    high = std::max(high, value);
  }
  switch (op) {
    case ReduceOp::sum: return static_cast<double>(sum);
    case ReduceOp::min: return low;
    case ReduceOp::max: return high;
    case ReduceOp::average: break;
  }
  if (dtype == DType::i32 || dtype == DType::i64) return static_cast<double>(sum / devices);
  if (dtype == DType::f64) return static_cast<double>(sum) * (1.0 / devices);
  return static_cast<double>(static_cast<float>(sum) * static_cast<float>(1.0 / devices));
}

// Every input of `buffers` from input_value().
inline void fill_inputs(DeviceBuffers& buffers) {
  for (int k = 0; k < buffers.devices(); ++k)
    for (int n = 0; n < buffers.tensors(); ++n)
      for (std::int64_t i = 0; i < buffers.shape(n).count; ++i)
        store_value(buffers.input(k, n), i, buffers.shape(n).dtype, input_value(k, n, i));
}

// The bytes a correct allreduce of `buffers`' inputs leaves in tensor n of every device.
inline Bytes expected_tensor(const DeviceBuffers& buffers, ReduceOp op, int n) {
  const TensorShape& shape = buffers.shape(n);
  Bytes expected(buffers.tensor_bytes(n));
  for (std::int64_t i = 0; i < shape.count; ++i)
    store_value(expected.data(), i, shape.dtype, expected_value(shape.dtype, op, buffers.devices(), n, i));
  return expected;
}

// The first element of tensor n of device k (its output, or its input when in place) whose bits
// differ from a correct allreduce's, or -1 when all match.
inline std::int64_t first_wrong_element(const std::byte* got, const Bytes& expected, DType dtype) {
  const std::size_t size = dtype_size(dtype);
  for (std::size_t i = 0; i * size < expected.size(); ++i)
    if (std::memcmp(got + i * size, expected.data() + i * size, size) != 0) return static_cast<std::int64_t>(i);
  return -1;
}

// ---- Errors -----------------------------------------------------------------------------------

// Runs `body`, expects it to throw exactly `E` (or a subclass), and returns the message; records
// a failure naming what was thrown otherwise.
template <typename E>
std::string thrown_message(const std::function<void()>& body) {
  try {
    body();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw the wrong type, with message: " << e.what();
    return {};
  }
  ADD_FAILURE() << "did not throw";
  return {};
}

// EXPECT that `text` contains each of `parts`.
inline void expect_contains(const std::string& text, std::initializer_list<std::string> parts) {
  for (const std::string& part : parts)
    EXPECT_NE(text.find(part), std::string::npos) << "message \"" << text << "\" lacks \"" << part << "\"";
}

inline std::vector<int> iota_devices(int count, int first = 0) {
  std::vector<int> devices(static_cast<std::size_t>(count));
  for (int k = 0; k < count; ++k) devices[static_cast<std::size_t>(k)] = first + k;
  return devices;
}

}  // namespace meshreduce::testing
