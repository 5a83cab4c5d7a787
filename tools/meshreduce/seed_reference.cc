// The seed, for tensor n: main0 = n % 8 adds the inputs of its half (devices 0-3 or 4-7) left to
// right in device order: agg0; main1 = (main0 + 4) % 8 does the same for the other half: agg1;
// total = agg0 + agg1; every device gets the total (average: times 1/8). The rounding follows
// include/meshreduce/types.h: a step accumulates f16/bf16 in f32 and rounds once when it stores,
// so agg0, agg1, the total and the averaged copy are each rounded to the dtype; f32 and f64 add in
// their own precision; integers wrap and an average divides, truncating toward zero.
#include "seed_reference.h"

#include <cstring>

#include "core/half.h"
#include "meshreduce/error.h"

namespace meshreduce::cli {
namespace {

constexpr int kDevices = 8;

template <typename T>
T combine(ReduceOp op, T a, T b) {
  if (op == ReduceOp::min) return b < a ? b : a;
  if (op == ReduceOp::max) return a < b ? b : a;
  if constexpr (std::is_integral_v<T>)
    return static_cast<T>(static_cast<std::make_unsigned_t<T>>(a) + static_cast<std::make_unsigned_t<T>>(b));
  else
    return a + b;
}

// One element of tensor n; returns its bits in `out` (dtype_size bytes).
void seed_element(const TestBuffers& buffers, ReduceOp op, int n, std::int64_t i, void* out) {
  const DType dtype = buffers.layout()[static_cast<std::size_t>(n)].dtype;
  const int main0 = n % kDevices;
  const int first0 = main0 < 4 ? 0 : 4;  // the half holding main0 is added first
  const int first1 = 4 - first0;
  const bool average = op == ReduceOp::average;
  const auto in = [&](int k) { return buffers.input_value(k, n, i); };
  switch (dtype) {
    case DType::f32: case DType::f16: case DType::bf16: {
      // Every step stores its result in the dtype: round() is that store, read back as f32.
      const auto round = [dtype](float v) -> float {
        if (dtype == DType::f16) return detail::f16_to_f32(detail::f32_to_f16(v));
        if (dtype == DType::bf16) return detail::bf16_to_f32(detail::f32_to_bf16(v));
        return v;
      };
      const auto half_sum = [&](int first) {
        float acc = static_cast<float>(in(first));
        for (int k = first + 1; k < first + 4; ++k) acc = combine(op, acc, static_cast<float>(in(k)));
        return round(acc);
      };
      const float agg0 = half_sum(first0);
      const float agg1 = half_sum(first1);
      float total = round(combine(op, agg0, agg1));
      if (average) total = round(total * static_cast<float>(1.0 / kDevices));
      if (dtype == DType::f32) {
        std::memcpy(out, &total, sizeof total);
      } else {
        const std::uint16_t bits = dtype == DType::f16 ? detail::f32_to_f16(total) : detail::f32_to_bf16(total);
        std::memcpy(out, &bits, sizeof bits);
      }
      return;
    }
    case DType::f64: {
      const auto half_sum = [&](int first) {
        double acc = in(first);
        for (int k = first + 1; k < first + 4; ++k) acc = combine(op, acc, in(k));
        return acc;
      };
      double total = combine(op, half_sum(first0), half_sum(first1));
      if (average) total *= 1.0 / kDevices;
      std::memcpy(out, &total, sizeof total);
      return;
    }
    case DType::i32: case DType::i64: {
      const auto half_sum = [&](int first) {
        auto acc = static_cast<std::int64_t>(in(first));
        for (int k = first + 1; k < first + 4; ++k) acc = combine(op, acc, static_cast<std::int64_t>(in(k)));
        return acc;
      };
      std::int64_t total = combine(op, half_sum(first0), half_sum(first1));
      if (dtype == DType::i32) {
        auto narrow = static_cast<std::int32_t>(total);  // the step stores 32 bits (wrapping)
        if (average) narrow /= kDevices;
        std::memcpy(out, &narrow, sizeof narrow);
      } else {
        if (average) total /= kDevices;
        std::memcpy(out, &total, sizeof total);
      }
      return;
    }
  }
}

}  // namespace

std::int64_t count_seed_mismatches(const TestBuffers& buffers, ReduceOp op) {
  if (buffers.devices() != kDevices)
    throw InvalidArgument("seed reference: needs 8 devices, got " + std::to_string(buffers.devices()));
  std::int64_t wrong = 0;
  std::byte want[8];
  const auto layout = buffers.layout();
  for (std::size_t n = 0; n < layout.size(); ++n) {
    const std::size_t size = dtype_size(layout[n].dtype);
    for (std::int64_t i = 0; i < layout[n].count; ++i) {
      seed_element(buffers, op, static_cast<int>(n), i, want);
      for (int k = 0; k < kDevices; ++k) {
        const auto* got = static_cast<const std::byte*>(buffers.outputs()[static_cast<std::size_t>(k)][n].data) +
                          i * static_cast<std::int64_t>(size);
        if (std::memcmp(got, want, size) != 0) ++wrong;
      }
    }
  }
  return wrong;
}

std::int64_t count_replica_mismatches(const TestBuffers& buffers) {
  std::int64_t wrong = 0;
  const auto layout = buffers.layout();
  const auto& outputs = buffers.outputs();
  for (std::size_t n = 0; n < layout.size(); ++n) {
    const std::size_t size = dtype_size(layout[n].dtype);
    const auto* first = static_cast<const std::byte*>(outputs[0][n].data);
    for (std::size_t k = 1; k < outputs.size(); ++k) {
      const auto* other = static_cast<const std::byte*>(outputs[k][n].data);
      if (std::memcmp(first, other, size * static_cast<std::size_t>(layout[n].count)) == 0) continue;
      for (std::int64_t i = 0; i < layout[n].count; ++i)
        if (std::memcmp(first + i * static_cast<std::int64_t>(size), other + i * static_cast<std::int64_t>(size), size) != 0) ++wrong;
    }
  }
  return wrong;
}

}  // namespace meshreduce::cli
