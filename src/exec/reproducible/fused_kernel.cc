// Reproducible mode's fused kernel: when one step reads all K inputs of an element (the direct
// algorithm), the agreed exponent, the quantization, the exact sum and the rounding need no
// passes over memory of their own. The memory traffic is the default direct step's (K reads,
// K writes per element); the extra work is arithmetic in registers.
//
// Per tile of elements (two full f32 vectors) one pass over the K sources finds, per element,
// the largest magnitude and the smallest nonzero one, and (while the previous tile took the
// plain path) adds the inputs as they are in f64 lanes. When every input of every element in
// the tile is a multiple of its quantum 2^-s (the exponents of the largest and the smallest
// nonzero input at most B - 24 apart), quantization changes nothing and that plain sum, exact
// in f64, is arithmetic.h's exact sum: the tile is rounded and stored. Otherwise the tile reads
// its sources again (from L1) and quantizes: in f32 lanes, or in f64 lanes when an element's
// largest input is too small for 2^s to be an f32.
// Per source and element the plain path costs a widening and an add on top of the default's
// work; the quantizing paths a multiply and a round more, and the pass that decided.
//
// f32 and bf16 run in SIMD (Google Highway, compiled per instruction set like
// exec/threads/kernels.cc); the ends of a piece, f64 and f16 run arithmetic.h element by
// element. Every path computes the same pure function, so the bits do not depend on the target,
// on the path a tile takes or on where a piece ends (tests/test_reproducible_kernel.cc).
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
  const hn::ScalableTag<float> df;
  return hn::Lanes(df) * sizeof(float);
}

#if HWY_TARGET == HWY_SCALAR
// One lane per vector leaves nothing to split into halves: arithmetic.h does every element.
template <bool kBf16>
std::int64_t FusedTiles(const FusedArgs& /*args*/, std::int64_t begin, bool /*stream*/) {
  return begin;
}
#else
// A tile's two result vectors to every destination. A plain function of values, not a lambda
// that captures by reference: vector stores may alias anything, so captured pointers would be
// reloaded from memory after every store (the stores of a tile ran at twice the instructions).
template <class V, typename T>
HWY_INLINE void StoreToAll(V first, V second, T* const* dsts, std::size_t outs, std::int64_t at, std::int64_t n,
                           bool stream) {
  const hn::DFromV<V> d;
  if constexpr (sizeof(T) == sizeof(float)) {
    if (stream) {
      for (std::size_t k = 0; k < outs; ++k) {
        T* const out = dsts[k] + at;
        hn::Stream(first, d, out);
        hn::Stream(second, d, out + n);
      }
      return;
    }
  }
  for (std::size_t k = 0; k < outs; ++k) {
    T* const out = dsts[k] + at;
    hn::StoreU(first, d, out);
    hn::StoreU(second, d, out + n);
  }
}

// Elements [begin, returned) of an f32 (kBf16 false) or bf16 call, a whole number of tiles of
// two full f32 vectors (four f64 vectors). bf16 widens to f32 by a shift (exact) and rounds once
// on the way back: round-to-odd to f32, then to nearest even at 8 bits, as store_result does.
// A tile is read from every source before any of it is stored, and its state lives in
// registers. (One vector per step, not a tile, ran 4x slower in place: stores waiting beside
// loads of the same cache lines. A chunk of 256 elements with its state in L1 arrays ran 2.5x
// slower out of place: the extra loads and stores per element and source. A tile of four f32
// vectors ran 10-20% slower than two.)
//
// The plain path: an input x with exponent field e is a multiple of its ulp, 2^(e - 150) (f32;
// subnormals: 2^-149, and counting their field as 0 only makes the test stricter), which is a
// multiple of the quantum 2^(E - B + 1) = 2^(c - 126 - B) when c - e <= B - 24. Then q = x 2^s
// exactly, and the sum of the x in f64 is exact (B + log2 K <= 53 bits), hence equal to the sum of
// the q scaled back, in any order: zeros, inf and NaN included (a sum is -0 exactly when every
// input is; inf and NaN give what the quantized sum gives, and the result is canonicalized).
//
// The quantizing path in f32 lanes, twice as many per vector as f64 has: x * 2^s is exact in f32
// whenever 2^s is a normal f32 (a power of two only moves the exponent; a product too small for
// the normal range is below 1/2 and rounds to a zero of its sign either way), and Round on the
// integer-valued result gives the q of arithmetic.h, which then widens to f64 exactly for the
// sum. 2^s exceeds f32's range only when the largest input of the element is below 2^(B - 128)
// (about 2^-78); a tile with such an element (other than all zeros, whose sum is a zero at any
// scale) takes f64 lanes throughout (quantize_in_f64), as arithmetic.h does.
template <bool kBf16>
std::int64_t FusedTiles(const FusedArgs& args, std::int64_t begin, bool stream) {
  using T = std::conditional_t<kBf16, std::uint16_t, float>;
  const hn::ScalableTag<float> df;  // a full vector of f32 lanes
  const hn::RebindToUnsigned<decltype(df)> du;
  const hn::RebindToSigned<decltype(df)> di;
  const hn::Half<decltype(df)> dfh;  // half of it: as many lanes as an f64 vector
  const hn::RebindToUnsigned<decltype(dfh)> duh;
  const hn::RebindToSigned<decltype(dfh)> dih;
  const hn::Repartition<double, decltype(df)> dd;
  const hn::RebindToSigned<decltype(dd)> dl;
  const hn::Rebind<std::uint16_t, decltype(df)> d16;  // bf16 storage of a full f32 vector
  const hn::Rebind<std::uint16_t, decltype(dd)> d16h;  // ... and of an f64 vector
  const std::int64_t nf = static_cast<std::int64_t>(hn::Lanes(df));
  const std::int64_t nd = static_cast<std::int64_t>(hn::Lanes(dd));
  const std::int64_t tile = 2 * nf;
  const std::size_t k_count = args.srcs.size();
  const auto* const* srcs = reinterpret_cast<const T* const*>(args.srcs.data());
  auto* const* dsts = reinterpret_cast<T* const*>(args.dsts.data());
  const int bits = magnitude_bits(static_cast<int>(k_count));
  // For the agreed code c: 2^s has f32 exponent field 127 + s = (bits + 253) - c, and f64 field
  // 1023 + s = (bits + 126 + 1023) - c; 2^-s has f64 field c + (1023 - 126 - bits).
  const auto scale_base_f32 = hn::Set(du, static_cast<std::uint32_t>(bits + 253));
  const auto scale_base = hn::Set(dl, bits + 126 + 1023);
  const auto unscale_base = hn::Set(dl, 1023 - 126 - bits);
  // Codes from bits - 1 on give a normal f32 2^s (field <= 254).
  const auto lowest_code = hn::Set(du, static_cast<std::uint32_t>(bits - 1));
  const auto lowest_magnitude = hn::Set(di, (bits - 1) << 23);
  const auto magnitude_mask = hn::Set(du, 0x7fffffffu);
  const auto one = hn::Set(du, 1u);
  const auto exact_spread_limit = hn::Set(di, bits - 23);  // spreads below it are exact
  const auto devices = hn::Set(dd, static_cast<double>(k_count));
  const auto nan = hn::BitCast(df, hn::Set(du, kCanonicalNanF32));

  // The elements at p as f32 bits (bf16 widens by a shift: exact), full and half vectors.
  const auto load_bits = [&](const T* p) {
    if constexpr (kBf16) {
      return hn::ShiftLeft<16>(hn::PromoteTo(du, hn::LoadU(d16, p)));
    } else {
      return hn::BitCast(du, hn::LoadU(df, p));
    }
  };
  const auto load_bits_half = [&](const T* p) {
    if constexpr (kBf16) {
      return hn::ShiftLeft<16>(hn::PromoteTo(duh, hn::LoadU(d16h, p)));
    } else {
      return hn::BitCast(duh, hn::LoadU(dfh, p));
    }
  };
  // The largest |x| as bits has the largest exponent field (non-negative floats order as
  // their bits); the code is that field, raised to 1.
  const auto magnitude = [&](const T* p) { return hn::And(load_bits(p), magnitude_mask); };
  const auto magnitude_half = [&](const T* p) { return hn::And(load_bits_half(p), hn::Set(duh, 0x7fffffffu)); };
  // q for a full vector of f32 lanes (2^s normal in f32).
  const auto quantized_f32 = [&](const T* p, auto scale) {
    return hn::Round(hn::Mul(hn::BitCast(df, load_bits(p)), scale));
  };
  // The inputs of an f64 vector of lanes as they are (exact).
  const auto widened = [&](const T* p) { return hn::PromoteTo(dd, hn::BitCast(dfh, load_bits_half(p))); };
  // q for an f64 vector of lanes (any code).
  const auto quantized_f64 = [&](const T* p, auto scale) {
    return hn::Round(hn::Mul(hn::PromoteTo(dd, hn::BitCast(dfh, load_bits_half(p))), scale));
  };

  // An f64 vector of exact sums (the value of the element's sum, scaled back) to f32: averaged,
  // rounded once. bf16 returns its bits in the low 16 bits of u32 lanes instead.
  const auto finish_half = [&](auto value) {
    if (args.average) value = hn::Div(value, devices);
    auto result = hn::DemoteTo(dfh, value);
    if constexpr (kBf16) {
      // Round to odd: where the f32 is not the value, step toward zero if it rounded away,
      // then set the last bit. Then to nearest even at bf16's 8 bits (core/half.h).
      // (f64 masks cannot be rebound to f32 lanes in this Highway: they travel as small
      // numbers: 1 inexact, 2 rounded away from zero, 4 NaN.)
      const auto back = hn::PromoteTo(dd, result);
      auto flags = hn::IfThenElseZero(hn::Ne(back, value), hn::Set(dd, 1.0));
      flags = hn::Add(flags, hn::IfThenElseZero(hn::Gt(hn::Abs(back), hn::Abs(value)), hn::Set(dd, 2.0)));
      flags = hn::Add(flags, hn::IfThenElseZero(hn::IsNaN(value), hn::Set(dd, 4.0)));
      const auto f = hn::BitCast(duh, hn::ConvertTo(dih, hn::DemoteTo(dfh, flags)));
      const auto zero = hn::Zero(duh);
      const auto inexact = hn::Ne(hn::And(f, hn::Set(duh, 1u)), zero);
      const auto away = hn::Ne(hn::And(f, hn::Set(duh, 2u)), zero);
      const auto is_nan = hn::Ne(hn::And(f, hn::Set(duh, 4u)), zero);
      auto b = hn::BitCast(duh, result);
      b = hn::IfThenElse(hn::And(inexact, away), hn::Sub(b, hn::Set(duh, 1u)), b);
      b = hn::IfThenElse(inexact, hn::Or(b, hn::Set(duh, 1u)), b);
      b = hn::Add(b, hn::Add(hn::Set(duh, 0x7fffu), hn::And(hn::ShiftRight<16>(b), hn::Set(duh, 1u))));
      b = hn::ShiftRight<16>(b);
      return hn::IfThenElse(is_nan, hn::Set(duh, kCanonicalNanBF16), b);
    } else {
      return hn::BitCast(duh, result);
    }
  };
  // Exact sums of quantized values scaled back by 2^-s, for their codes in i64 lanes (exact).
  const auto result_half = [&](auto sum, auto c) {
    return finish_half(hn::Mul(sum, hn::BitCast(dd, hn::ShiftLeft<52>(hn::Add(c, unscale_base)))));
  };
  // Both halves of a full vector (low elements first) joined, NaN made canonical, as stored.
  const auto joined = [&](auto lower, auto upper) {
    if constexpr (kBf16) {
      return hn::DemoteTo(d16, hn::BitCast(di, hn::Combine(du, upper, lower)));
    } else {
      const auto result = hn::BitCast(df, hn::Combine(du, upper, lower));
      return hn::IfThenElse(hn::IsNaN(result), nan, result);
    }
  };
  const std::size_t outs = args.dsts.size();
  const auto codes_of = [&](auto largest) {  // u32 lanes of a half vector, to i64
    return hn::PromoteTo(dl, hn::BitCast(dih, hn::Max(hn::ShiftRight<23>(largest), hn::Set(duh, 1u))));
  };

  // A tile quantized in f64 lanes, four vectors of nd elements: arithmetic.h's quantize for
  // every code, at twice the instructions of the f32 lanes.
  const auto quantize_in_f64 = [&](std::int64_t i) {
    auto m0 = magnitude_half(srcs[0] + i);
    auto m1 = magnitude_half(srcs[0] + i + nd);
    auto m2 = magnitude_half(srcs[0] + i + 2 * nd);
    auto m3 = magnitude_half(srcs[0] + i + 3 * nd);
    for (std::size_t k = 1; k < k_count; ++k) {
      m0 = hn::Max(m0, magnitude_half(srcs[k] + i));
      m1 = hn::Max(m1, magnitude_half(srcs[k] + i + nd));
      m2 = hn::Max(m2, magnitude_half(srcs[k] + i + 2 * nd));
      m3 = hn::Max(m3, magnitude_half(srcs[k] + i + 3 * nd));
    }
    const auto c0 = codes_of(m0);
    const auto c1 = codes_of(m1);
    const auto c2 = codes_of(m2);
    const auto c3 = codes_of(m3);
    const auto s0 = hn::BitCast(dd, hn::ShiftLeft<52>(hn::Sub(scale_base, c0)));
    const auto s1 = hn::BitCast(dd, hn::ShiftLeft<52>(hn::Sub(scale_base, c1)));
    const auto s2 = hn::BitCast(dd, hn::ShiftLeft<52>(hn::Sub(scale_base, c2)));
    const auto s3 = hn::BitCast(dd, hn::ShiftLeft<52>(hn::Sub(scale_base, c3)));
    // The first source initializes the sums (not +0: -0 must stay -0 when all inputs are).
    auto a0 = quantized_f64(srcs[0] + i, s0);
    auto a1 = quantized_f64(srcs[0] + i + nd, s1);
    auto a2 = quantized_f64(srcs[0] + i + 2 * nd, s2);
    auto a3 = quantized_f64(srcs[0] + i + 3 * nd, s3);
    for (std::size_t k = 1; k < k_count; ++k) {
      a0 = hn::Add(a0, quantized_f64(srcs[k] + i, s0));
      a1 = hn::Add(a1, quantized_f64(srcs[k] + i + nd, s1));
      a2 = hn::Add(a2, quantized_f64(srcs[k] + i + 2 * nd, s2));
      a3 = hn::Add(a3, quantized_f64(srcs[k] + i + 3 * nd, s3));
    }
    StoreToAll(joined(result_half(a0, c0), result_half(a1, c1)), joined(result_half(a2, c2), result_half(a3, c3)),
               dsts, outs, i, nf, stream);
  };

  // Software prefetch of every source, as the default kernels do with three or more sources
  // (exec/threads/kernels.cc: kPrefetchBytes); a prefetch past the end never faults.
  constexpr std::size_t kPrefetchBytes = 1024;
  const bool prefetch = k_count >= 3;
  const auto tile_bytes = static_cast<std::size_t>(tile) * sizeof(T);
  // Whether the previous tile took the plain path: neighbouring tiles of real data mostly agree,
  // and guessing right saves a pass (plain) or the speculative sums (quantizing).
  bool plain_likely = true;
  std::int64_t i = begin;
  for (; i + tile <= args.count; i += tile) {
    if (prefetch)
      for (std::size_t k = 0; k < k_count; ++k) {
        const auto* ahead = reinterpret_cast<const unsigned char*>(srcs[k] + i) + kPrefetchBytes;
        for (std::size_t b = 0; b < tile_bytes; b += 64) hwy::Prefetch(ahead + b);
      }
    // Per element the largest magnitude and the smallest nonzero magnitude less one (a zero
    // wraps to the largest u32); while tiles take the plain path, in the same pass the plain
    // sums of the inputs in f64 lanes (speculatively: a tile that then quantizes has wasted them).
    auto m0 = magnitude(srcs[0] + i);
    auto m1 = magnitude(srcs[0] + i + nf);
    auto n0 = hn::Sub(m0, one);
    auto n1 = hn::Sub(m1, one);
    const auto track = [&](std::size_t k) {
      const auto x0 = magnitude(srcs[k] + i);
      const auto x1 = magnitude(srcs[k] + i + nf);
      m0 = hn::Max(m0, x0);
      m1 = hn::Max(m1, x1);
      n0 = hn::Min(n0, hn::Sub(x0, one));
      n1 = hn::Min(n1, hn::Sub(x1, one));
    };
    auto a0 = hn::Zero(dd);
    auto a1 = a0;
    auto a2 = a0;
    auto a3 = a0;
    const auto start_sums = [&] {
      a0 = widened(srcs[0] + i);
      a1 = widened(srcs[0] + i + nd);
      a2 = widened(srcs[0] + i + 2 * nd);
      a3 = widened(srcs[0] + i + 3 * nd);
    };
    const auto add_to_sums = [&](std::size_t k) {
      a0 = hn::Add(a0, widened(srcs[k] + i));
      a1 = hn::Add(a1, widened(srcs[k] + i + nd));
      a2 = hn::Add(a2, widened(srcs[k] + i + 2 * nd));
      a3 = hn::Add(a3, widened(srcs[k] + i + 3 * nd));
    };
    if (plain_likely) {
      start_sums();
      for (std::size_t k = 1; k < k_count; ++k) {
        track(k);
        add_to_sums(k);
      }
    } else {
      for (std::size_t k = 1; k < k_count; ++k) track(k);
    }
    // Every input a multiple of the quantum 2^-s (exponent fields of the largest and the smallest
    // nonzero magnitude at most bits - 24 apart): the plain sum is the exact sum.
    const auto spread = [&](auto largest, auto smallest_less_one) {
      return hn::Sub(hn::BitCast(di, hn::ShiftRight<23>(largest)),
                     hn::BitCast(di, hn::ShiftRight<23>(hn::Add(smallest_less_one, one))));
    };
    const auto spread0 = spread(m0, n0);
    const auto spread1 = spread(m1, n1);
    const bool plain = hn::AllTrue(di, hn::Lt(hn::Max(spread0, spread1), exact_spread_limit));
    if (plain && !plain_likely) {  // the sums, reading the tile again (from L1)
      start_sums();
      for (std::size_t k = 1; k < k_count; ++k) add_to_sums(k);
    }
    plain_likely = plain;
    if (plain) {
      StoreToAll(joined(finish_half(a0), finish_half(a1)), joined(finish_half(a2), finish_half(a3)), dsts, outs, i, nf,
                 stream);
      continue;
    }
    // Nonzero but below 2^(B - 128): 2^s is too large for f32 (magnitudes are below 2^31, so
    // signed compares order them).
    const auto zero = hn::Zero(di);
    const auto tiny0 = hn::And(hn::Gt(hn::BitCast(di, m0), zero), hn::Lt(hn::BitCast(di, m0), lowest_magnitude));
    const auto tiny1 = hn::And(hn::Gt(hn::BitCast(di, m1), zero), hn::Lt(hn::BitCast(di, m1), lowest_magnitude));
    if (HWY_UNLIKELY(!hn::AllFalse(di, hn::Or(tiny0, tiny1)))) {
      quantize_in_f64(i);
      continue;
    }
    // All-zero elements take the lowest code: their sum is a zero at any scale.
    const auto c0 = hn::Max(hn::ShiftRight<23>(m0), lowest_code);
    const auto c1 = hn::Max(hn::ShiftRight<23>(m1), lowest_code);
    const auto s0 = hn::BitCast(df, hn::ShiftLeft<23>(hn::Sub(scale_base_f32, c0)));
    const auto s1 = hn::BitCast(df, hn::ShiftLeft<23>(hn::Sub(scale_base_f32, c1)));
    // The first source initializes the sums (not +0: -0 must stay -0 when all inputs are).
    auto q0 = quantized_f32(srcs[0] + i, s0);
    auto q1 = quantized_f32(srcs[0] + i + nf, s1);
    a0 = hn::PromoteTo(dd, hn::LowerHalf(dfh, q0));
    a1 = hn::PromoteTo(dd, hn::UpperHalf(dfh, q0));
    a2 = hn::PromoteTo(dd, hn::LowerHalf(dfh, q1));
    a3 = hn::PromoteTo(dd, hn::UpperHalf(dfh, q1));
    for (std::size_t k = 1; k < k_count; ++k) {
      q0 = quantized_f32(srcs[k] + i, s0);
      q1 = quantized_f32(srcs[k] + i + nf, s1);
      a0 = hn::Add(a0, hn::PromoteTo(dd, hn::LowerHalf(dfh, q0)));
      a1 = hn::Add(a1, hn::PromoteTo(dd, hn::UpperHalf(dfh, q0)));
      a2 = hn::Add(a2, hn::PromoteTo(dd, hn::LowerHalf(dfh, q1)));
      a3 = hn::Add(a3, hn::PromoteTo(dd, hn::UpperHalf(dfh, q1)));
    }
    const auto wide = [&](auto c, bool upper) {
      const auto codes = hn::BitCast(di, c);
      return hn::PromoteTo(dl, upper ? hn::UpperHalf(dih, codes) : hn::LowerHalf(dih, codes));
    };
    StoreToAll(joined(result_half(a0, wide(c0, false)), result_half(a1, wide(c0, true))),
               joined(result_half(a2, wide(c1, false)), result_half(a3, wide(c1, true))), dsts, outs, i, nf, stream);
  }
  if (stream) hwy::FlushStream();
  return i;
}
#endif  // HWY_TARGET == HWY_SCALAR

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

void run_fused_elementwise(const FusedArgs& args) {
  if (args.count > 0 && !args.srcs.empty()) fused_scalar(args, 0, args.count);
}

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
