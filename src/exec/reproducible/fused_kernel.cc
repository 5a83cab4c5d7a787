// Reproducible mode's fused kernel: when one step reads all K inputs of an element (the direct
// algorithm), the agreed exponent, the quantization, the exact sum and the rounding need no
// passes over memory of their own. Per tile of elements the kernel reads the K sources twice
// (the second read hits L1): once for the maximum exponent field, once to quantize and add in
// f64 lanes; then it scales back, rounds to f32 and stores to every destination. The memory
// traffic is therefore the default direct step's (K reads, K writes per element); the extra
// work is a widening, a multiply, a round and an add per source and element, in registers.
//
// f32 and bf16 run in SIMD (Google Highway, compiled per instruction set like
// exec/threads/kernels.cc); the ends of a piece, f64 and f16 run arithmetic.h element by element. Both compute the
// same pure function, so the bits do not depend on the target or on where a piece ends.
#include "exec/reproducible/fused_kernel.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "exec/reproducible/arithmetic.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "exec/reproducible/fused_kernel.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
// foreach_target.h must come first.
#include <hwy/cache_control.h>
#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace meshreduce::detail::repro {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Bytes of the f32 vectors FusedF32 stores (streamed stores need them aligned).
std::size_t FusedF32VectorBytes() {
  const hn::ScalableTag<double> dd;
  return hn::Lanes(dd) * sizeof(float);
}

// Elements [begin, returned) of an f32 (kBf16 false) or bf16 call, a whole number of tiles of
// four f64 vectors. bf16 widens to f32 by a shift (exact) and rounds once on the way back:
// round-to-odd to f32, then to nearest even at 8 bits, as store_result does. A
// tile is read from every source (twice: exponents, then values; the second read hits L1)
// before any of it is stored, and its state lives in registers. (One vector per step, not
// four, ran 4x slower in place: stores waiting beside loads of the same cache lines. A chunk
// of 256 elements with its state in L1 arrays ran 2.5x slower out of place: the extra loads
// and stores per element and source.)
template <bool kBf16>
std::int64_t FusedTiles(const FusedArgs& args, std::int64_t begin, bool stream) {
  using T = std::conditional_t<kBf16, std::uint16_t, float>;
  const hn::ScalableTag<double> dd;
  const hn::Rebind<float, decltype(dd)> df;  // as many f32 lanes as dd has f64 lanes
  const hn::RebindToUnsigned<decltype(df)> du;
  const hn::RebindToSigned<decltype(df)> di;
  const hn::RebindToSigned<decltype(dd)> dl;
  const std::int64_t n = static_cast<std::int64_t>(hn::Lanes(dd));
  const std::int64_t tile = 4 * n;
  const std::size_t k_count = args.srcs.size();
  const hn::Rebind<std::uint16_t, decltype(dd)> dh;
  const auto* const* srcs = reinterpret_cast<const T* const*>(args.srcs.data());
  auto* const* dsts = reinterpret_cast<T* const*>(args.dsts.data());
  const int bits = magnitude_bits(static_cast<int>(k_count));
  // 2^s has exponent field 1023 + s = (bits + 126 + 1023) - c; 2^-s has c + (1023 - 126 - bits).
  const auto scale_base = hn::Set(dl, bits + 126 + 1023);
  const auto unscale_base = hn::Set(dl, 1023 - 126 - bits);
  const auto magnitude_mask = hn::Set(du, 0x7fffffffu);
  const auto devices = hn::Set(dd, static_cast<double>(k_count));
  const auto nan = hn::BitCast(df, hn::Set(du, kCanonicalNanF32));
  // The largest |x| as bits has the largest exponent field (non-negative floats order as
  // their bits); the code is that field, raised to 1.
  const auto load_bits = [&](const T* p) {
    if constexpr (kBf16) {
      return hn::ShiftLeft<16>(hn::PromoteTo(du, hn::LoadU(dh, p)));
    } else {
      return hn::BitCast(du, hn::LoadU(df, p));
    }
  };
  const auto magnitude = [&](const T* p) { return hn::And(load_bits(p), magnitude_mask); };
  const auto scale_of = [&](auto largest) {
    const auto c = hn::PromoteTo(dl, hn::BitCast(di, hn::Max(hn::ShiftRight<23>(largest), hn::Set(du, 1u))));
    return c;
  };
  const auto quantized = [&](const T* p, auto scale) {
    return hn::Round(hn::Mul(hn::PromoteTo(dd, hn::BitCast(df, load_bits(p))), scale));
  };
  const auto finish = [&](auto sum, auto c, T* const* out, std::int64_t at) {
    auto value = hn::Mul(sum, hn::BitCast(dd, hn::ShiftLeft<52>(hn::Add(c, unscale_base))));
    if (args.average) value = hn::Div(value, devices);
    auto result = hn::DemoteTo(df, value);
    if constexpr (kBf16) {
      // Round to odd: where the f32 is not the value, step toward zero if it rounded away,
      // then set the last bit. Then to nearest even at bf16's 8 bits (core/half.h).
      // (f64 masks cannot be rebound to f32 lanes in this Highway: they travel as small
      // numbers: 1 inexact, 2 rounded away from zero, 4 NaN.)
      const auto back = hn::PromoteTo(dd, result);
      auto flags = hn::IfThenElseZero(hn::Ne(back, value), hn::Set(dd, 1.0));
      flags = hn::Add(flags, hn::IfThenElseZero(hn::Gt(hn::Abs(back), hn::Abs(value)), hn::Set(dd, 2.0)));
      flags = hn::Add(flags, hn::IfThenElseZero(hn::IsNaN(value), hn::Set(dd, 4.0)));
      const auto f = hn::BitCast(du, hn::ConvertTo(di, hn::DemoteTo(df, flags)));
      const auto zero = hn::Zero(du);
      const auto inexact = hn::Ne(hn::And(f, hn::Set(du, 1u)), zero);
      const auto away = hn::Ne(hn::And(f, hn::Set(du, 2u)), zero);
      const auto is_nan = hn::Ne(hn::And(f, hn::Set(du, 4u)), zero);
      auto bits = hn::BitCast(du, result);
      bits = hn::IfThenElse(hn::And(inexact, away), hn::Sub(bits, hn::Set(du, 1u)), bits);
      bits = hn::IfThenElse(inexact, hn::Or(bits, hn::Set(du, 1u)), bits);
      bits = hn::Add(bits, hn::Add(hn::Set(du, 0x7fffu), hn::And(hn::ShiftRight<16>(bits), hn::Set(du, 1u))));
      bits = hn::ShiftRight<16>(bits);
      bits = hn::IfThenElse(is_nan, hn::Set(du, kCanonicalNanBF16), bits);
      const auto stored = hn::DemoteTo(dh, hn::BitCast(di, bits));
      for (std::size_t k = 0; k < args.dsts.size(); ++k) hn::StoreU(stored, dh, out[k] + at);
    } else {
      result = hn::IfThenElse(hn::IsNaN(result), nan, result);
      if (stream) {
        for (std::size_t k = 0; k < args.dsts.size(); ++k) hn::Stream(result, df, out[k] + at);
      } else {
        for (std::size_t k = 0; k < args.dsts.size(); ++k) hn::StoreU(result, df, out[k] + at);
      }
    }
  };
  // Software prefetch of every source, as the default kernels do with three or more sources
  // (exec/threads/kernels.cc: kPrefetchBytes); a prefetch past the end never faults.
  constexpr std::size_t kPrefetchBytes = 1024;
  const bool prefetch = k_count >= 3;
  const auto tile_bytes = static_cast<std::size_t>(tile) * sizeof(float);
  std::int64_t i = begin;
  for (; i + tile <= args.count; i += tile) {
    if (prefetch)
      for (std::size_t k = 0; k < k_count; ++k) {
        const auto* ahead = reinterpret_cast<const unsigned char*>(srcs[k] + i) + kPrefetchBytes;
        for (std::size_t b = 0; b < tile_bytes; b += 64) hwy::Prefetch(ahead + b);
      }
    auto m0 = magnitude(srcs[0] + i);
    auto m1 = magnitude(srcs[0] + i + n);
    auto m2 = magnitude(srcs[0] + i + 2 * n);
    auto m3 = magnitude(srcs[0] + i + 3 * n);
    for (std::size_t k = 1; k < k_count; ++k) {
      m0 = hn::Max(m0, magnitude(srcs[k] + i));
      m1 = hn::Max(m1, magnitude(srcs[k] + i + n));
      m2 = hn::Max(m2, magnitude(srcs[k] + i + 2 * n));
      m3 = hn::Max(m3, magnitude(srcs[k] + i + 3 * n));
    }
    const auto c0 = scale_of(m0);
    const auto c1 = scale_of(m1);
    const auto c2 = scale_of(m2);
    const auto c3 = scale_of(m3);
    const auto s0 = hn::BitCast(dd, hn::ShiftLeft<52>(hn::Sub(scale_base, c0)));
    const auto s1 = hn::BitCast(dd, hn::ShiftLeft<52>(hn::Sub(scale_base, c1)));
    const auto s2 = hn::BitCast(dd, hn::ShiftLeft<52>(hn::Sub(scale_base, c2)));
    const auto s3 = hn::BitCast(dd, hn::ShiftLeft<52>(hn::Sub(scale_base, c3)));
    // The first source initializes the sums (not +0: -0 must stay -0 when all inputs are).
    auto a0 = quantized(srcs[0] + i, s0);
    auto a1 = quantized(srcs[0] + i + n, s1);
    auto a2 = quantized(srcs[0] + i + 2 * n, s2);
    auto a3 = quantized(srcs[0] + i + 3 * n, s3);
    for (std::size_t k = 1; k < k_count; ++k) {
      a0 = hn::Add(a0, quantized(srcs[k] + i, s0));
      a1 = hn::Add(a1, quantized(srcs[k] + i + n, s1));
      a2 = hn::Add(a2, quantized(srcs[k] + i + 2 * n, s2));
      a3 = hn::Add(a3, quantized(srcs[k] + i + 3 * n, s3));
    }
    finish(a0, c0, dsts, i);
    finish(a1, c1, dsts, i + n);
    finish(a2, c2, dsts, i + 2 * n);
    finish(a3, c3, dsts, i + 3 * n);
  }
  if (stream) hwy::FlushStream();
  return i;
}

std::int64_t FusedF32(const FusedArgs& args, std::int64_t begin, bool stream) {
  return FusedTiles<false>(args, begin, stream);
}

// bf16 never streams: its stores are half-width.
std::int64_t FusedBF16(const FusedArgs& args, std::int64_t begin) { return FusedTiles<true>(args, begin, false); }

}  // namespace HWY_NAMESPACE
}  // namespace meshreduce::detail::repro
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace meshreduce::detail::repro {

HWY_EXPORT(FusedF32);
HWY_EXPORT(FusedF32VectorBytes);
HWY_EXPORT(FusedBF16);

namespace {

// Elements [begin, end) one at a time, exactly as the generic path computes them.
void fused_scalar(const FusedArgs& args, std::int64_t begin, std::int64_t end) {
  const int k_count = static_cast<int>(args.srcs.size());
  const int bits = magnitude_bits(k_count);
  for (std::int64_t i = begin; i < end; ++i) {
    std::int32_t code = 1;
    for (const void* src : args.srcs) {
      const std::int32_t c = code_of(args.dtype, src, i);
      code = c > code ? c : code;
    }
    const int s = scale_exponent(args.dtype, code, bits);
    double value = 0;
    if (args.dtype == DType::f64) {
      double hi = 0;
      double lo = 0;
      quantize(static_cast<const double*>(args.srcs[0])[i], s, bits, hi, lo);
      for (int k = 1; k < k_count; ++k) {
        double h = 0;
        double l = 0;
        quantize(static_cast<const double*>(args.srcs[static_cast<std::size_t>(k)])[i], s, bits, h, l);
        hi += h;
        lo += l;
      }
      value = value_of(hi, lo, s, bits);
    } else {
      double sum = quantize(widen(args.dtype, args.srcs[0], i), s);
      for (int k = 1; k < k_count; ++k) sum += quantize(widen(args.dtype, args.srcs[static_cast<std::size_t>(k)], i), s);
      value = value_of(sum, s);
    }
    value = finish(value, args.average, k_count);
    for (void* dst : args.dsts) store_result(args.dtype, value, dst, i);
  }
}

}  // namespace

void run_fused(const FusedArgs& args) {
  if (args.count <= 0 || args.srcs.empty()) return;
  std::int64_t done = 0;
  if (args.dtype == DType::f32) {
    // Streamed stores from the first element where every destination is vector-aligned (they
    // must share one misalignment); the elements before it one at a time.
    std::int64_t begin = 0;
    bool stream = false;
    if (args.stream && !args.dsts.empty()) {
      const std::size_t vector_bytes = HWY_DYNAMIC_DISPATCH(FusedF32VectorBytes)();
      const auto misalignment = reinterpret_cast<std::uintptr_t>(args.dsts[0]) % vector_bytes;
      stream = vector_bytes > sizeof(float) && misalignment % sizeof(float) == 0;
      for (void* dst : args.dsts)
        stream = stream && reinterpret_cast<std::uintptr_t>(dst) % vector_bytes == misalignment;
      if (stream)
        begin = std::min<std::int64_t>(
            args.count, static_cast<std::int64_t>((vector_bytes - misalignment) % vector_bytes / sizeof(float)));
    }
    fused_scalar(args, 0, begin);
    done = HWY_DYNAMIC_DISPATCH(FusedF32)(args, begin, stream);
  } else if (args.dtype == DType::bf16) {
    done = HWY_DYNAMIC_DISPATCH(FusedBF16)(args, 0);
  }
  fused_scalar(args, done, args.count);
}

}  // namespace meshreduce::detail::repro
#endif  // HWY_ONCE
