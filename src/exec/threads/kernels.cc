// Portable element-wise kernels. Elements are processed in blocks: each block is accumulated
// from every source into a local array first, then stored to every destination, so a
// destination that is also a source is safe and each source is read once.
#include "exec/threads/kernels.h"

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "core/half.h"

namespace meshreduce::detail {
namespace {

constexpr std::int64_t kBlock = 512;

struct F16 { std::uint16_t bits; };
struct BF16 { std::uint16_t bits; };

// Storage type -> accumulation type, with the conversions between them.
template <typename T> struct Accum { using type = T; static T load(T v) { return v; } static T store(T v) { return v; } };
template <> struct Accum<F16> {
  using type = float;
  static float load(F16 v) { return f16_to_f32(v.bits); }
  static F16 store(float v) { return {f32_to_f16(v)}; }
};
template <> struct Accum<BF16> {
  using type = float;
  static float load(BF16 v) { return bf16_to_f32(v.bits); }
  static BF16 store(float v) { return {f32_to_bf16(v)}; }
};

template <typename A>
A add(A a, A b) {
  if constexpr (std::is_integral_v<A>) {
    using U = std::make_unsigned_t<A>;  // wrap around on overflow, as integer allreduces do
    return static_cast<A>(static_cast<U>(a) + static_cast<U>(b));
  } else {
    return a + b;
  }
}

template <typename A>
A combine(ReduceOp op, A a, A b) {
  switch (op) {
    case ReduceOp::min: return b < a ? b : a;
    case ReduceOp::max: return a < b ? b : a;
    case ReduceOp::sum: case ReduceOp::average: break;
  }
  return add(a, b);
}

// average: floating types multiply by the reciprocal of K (the seed's grad * (1/8)), integers
// divide by K, truncating toward zero.
template <typename A>
A divide(A value, int k) {
  if constexpr (std::is_integral_v<A>) return static_cast<A>(value / static_cast<A>(k));
  else return value * static_cast<A>(1.0 / k);
}

template <typename T>
void run_typed(const KernelArgs& args) {
  using Traits = Accum<T>;
  using A = typename Traits::type;
  const bool scale = args.kind == StepKind::scale || (args.kind == StepKind::reduce && args.average);
  const auto* const* srcs = reinterpret_cast<const T* const*>(args.srcs.data());
  auto* const* dsts = reinterpret_cast<T* const*>(args.dsts.data());
  const std::size_t sources = args.kind == StepKind::reduce ? args.srcs.size() : 1;

  if (args.kind == StepKind::copy) {
    for (T* dst : std::span(dsts, args.dsts.size()))
      if (dst != srcs[0]) std::memmove(dst, srcs[0], static_cast<std::size_t>(args.count) * sizeof(T));
    return;
  }
  A acc[kBlock];
  for (std::int64_t begin = 0; begin < args.count; begin += kBlock) {
    const std::int64_t n = std::min(kBlock, args.count - begin);
    const T* first = srcs[0] + begin;
    for (std::int64_t i = 0; i < n; ++i) acc[i] = Traits::load(first[i]);
    for (std::size_t s = 1; s < sources; ++s) {
      const T* src = srcs[s] + begin;
      if (args.op == ReduceOp::sum || args.op == ReduceOp::average) {
        for (std::int64_t i = 0; i < n; ++i) acc[i] = add(acc[i], Traits::load(src[i]));
      } else {
        for (std::int64_t i = 0; i < n; ++i) acc[i] = combine(args.op, acc[i], Traits::load(src[i]));
      }
    }
    if (scale)
      for (std::int64_t i = 0; i < n; ++i) acc[i] = divide(acc[i], args.num_devices);
    for (T* dst_base : std::span(dsts, args.dsts.size())) {
      T* dst = dst_base + begin;
      for (std::int64_t i = 0; i < n; ++i) dst[i] = Traits::store(acc[i]);
    }
  }
}

}  // namespace

void run_kernel(const KernelArgs& args) {
  if (args.count == 0 || args.dsts.empty()) return;
  switch (args.dtype) {
    case DType::f32: return run_typed<float>(args);
    case DType::f64: return run_typed<double>(args);
    case DType::f16: return run_typed<F16>(args);
    case DType::bf16: return run_typed<BF16>(args);
    case DType::i32: return run_typed<std::int32_t>(args);
    case DType::i64: return run_typed<std::int64_t>(args);
  }
}

}  // namespace meshreduce::detail
