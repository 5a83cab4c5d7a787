// SIMD element-wise kernels: Google Highway, compiled once per instruction set by
// hwy/foreach_target.h (this file includes itself) and picked at run time for the CPU.
//
// The reduce loop works in tiles of four accumulation vectors. It loads a tile from the first
// source, combines the same tile of every further source into it (left to right), scales it,
// and stores it to every destination: each source is read once, all destinations are written in
// the same pass, and a destination that is also a source is safe, since a tile is read from all
// sources before it is stored anywhere. The ends of a piece (shorter than a tile, and the part
// before the first aligned destination address when streaming) run the same tile code on
// zero-padded copies on the stack.
//
// f16 and bf16 tiles hold f32 lanes; a tile is stored as two full vectors of 16-bit values.
// f16 converts with the F16C instructions on x86 targets that have them (vcvtph2ps, and
// vcvtps2ph rounding to nearest even: the same bits as core/half.h); on other targets, and for
// bf16 everywhere (Highway 1.0's DemoteTo to bf16 truncates, and its emulated f16 conversions
// truncate too and mishandle inf and NaN), integer code that mirrors core/half.h bit for bit.
// With three or more sources, every source is also prefetched in software (kPrefetchBytes).
//
// Costs: memory-bound for every dtype on AVX2 and better; per element and source one load and
// one add (f16/bf16: plus one conversion), per destination one store. Integer average divides
// lane by lane (there is no SIMD integer division), which is slower but rare.
#include "exec/threads/kernels.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

// SSSE3-only CPUs (before SSE4.2, 2008) take the scalar target: not worth the compile time.
#ifndef HWY_DISABLED_TARGETS
#define HWY_DISABLED_TARGETS HWY_SSSE3
#endif
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "exec/threads/kernels.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
// foreach_target.h must come first.
#include <hwy/cache_control.h>
#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace meshreduce::detail {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#undef MESHREDUCE_F16C
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2 && !defined(HWY_DISABLE_F16C)
#define MESHREDUCE_F16C 1
#else
#define MESHREDUCE_F16C 0
#endif

template <class D>
using V = hn::Vec<D>;

// ---------------------------------------------------------------- 16-bit float conversions

// f16 bits in u32 lanes -> f32, as f16_to_f32 in core/half.h.
template <class DF>
HWY_INLINE V<DF> F16BitsToF32(DF df, V<hn::RebindToUnsigned<DF>> h) {
  const hn::RebindToUnsigned<DF> du;
  const hn::RebindToSigned<DF> di;
  const auto sign = hn::ShiftLeft<16>(hn::And(h, hn::Set(du, 0x8000u)));
  const auto exponent = hn::And(h, hn::Set(du, 0x7c00u));
  const auto shifted = hn::ShiftLeft<13>(hn::And(h, hn::Set(du, 0x7fffu)));
  const auto normal = hn::Add(shifted, hn::Set(du, 112u << 23));            // rebias the exponent
  const auto special = hn::Or(shifted, hn::Set(du, 0x7f800000u));           // inf or NaN
  const auto mantissa = hn::BitCast(di, hn::And(h, hn::Set(du, 0x3ffu)));   // subnormal: m * 2^-24
  const auto subnormal = hn::BitCast(du, hn::Mul(hn::ConvertTo(df, mantissa), hn::Set(df, 0x1p-24f)));
  auto bits = hn::IfThenElse(hn::Eq(exponent, hn::Zero(du)), subnormal, normal);
  bits = hn::IfThenElse(hn::Eq(exponent, hn::Set(du, 0x7c00u)), special, bits);
  return hn::BitCast(df, hn::Or(sign, bits));
}

// f32 -> f16 bits in u32 lanes, as f32_to_f16 in core/half.h (round to nearest even).
template <class DF>
HWY_INLINE V<hn::RebindToUnsigned<DF>> F32ToF16Bits(DF df, V<DF> f) {
  const hn::RebindToUnsigned<DF> du;
  const hn::RebindToSigned<DF> di;
  const auto bits = hn::BitCast(du, f);
  const auto sign = hn::And(hn::ShiftRight<16>(bits), hn::Set(du, 0x8000u));
  const auto abs = hn::And(bits, hn::Set(du, 0x7fffffffu));
  const auto abs_i = hn::BitCast(di, abs);  // non-negative: signed compares are exact
  // Normal: rebias the exponent and round the 13 dropped mantissa bits to nearest even.
  auto value = hn::Sub(abs, hn::Set(du, 112u << 23));
  value = hn::Add(value, hn::Add(hn::Set(du, 0xfffu), hn::And(hn::ShiftRight<13>(value), hn::Set(du, 1u))));
  auto result = hn::ShiftRight<13>(value);
  // Below 2^-14 (subnormal or zero): adding 0.5 puts the f16 subnormal step 2^-24 at the f32
  // ulp, so the f32 addition itself rounds to nearest even; the mantissa is the difference.
  const auto half = hn::Set(df, 0.5f);
  const auto subnormal = hn::Sub(hn::BitCast(du, hn::Add(hn::BitCast(df, abs), half)), hn::BitCast(du, half));
  result = hn::IfThenElse(hn::RebindMask(du, hn::Lt(abs_i, hn::Set(di, 0x38800000))), subnormal, result);
  // From 65520 up (rounds past the largest f16) and inf: inf. NaN: a quiet NaN.
  result = hn::IfThenElse(hn::RebindMask(du, hn::Gt(abs_i, hn::Set(di, 0x477fefff))), hn::Set(du, 0x7c00u), result);
  const auto nan = hn::Or(hn::Set(du, 0x7e00u), hn::And(hn::ShiftRight<13>(abs), hn::Set(du, 0x3ffu)));
  result = hn::IfThenElse(hn::RebindMask(du, hn::Gt(abs_i, hn::Set(di, 0x7f800000))), nan, result);
  return hn::Or(sign, result);
}

// f32 -> u32 lanes whose upper 16 bits are the bf16, as f32_to_bf16 in core/half.h.
template <class DF>
HWY_INLINE V<hn::RebindToUnsigned<DF>> F32ToBF16High(DF /*df*/, V<DF> f) {
  const hn::RebindToUnsigned<DF> du;
  const auto bits = hn::BitCast(du, f);
  const auto odd = hn::And(hn::ShiftRight<16>(bits), hn::Set(du, 1u));
  const auto rounded = hn::Add(hn::Add(bits, hn::Set(du, 0x7fffu)), odd);
  const auto quiet_nan = hn::Or(bits, hn::Set(du, 0x00400000u));
  return hn::IfThenElse(hn::RebindMask(du, hn::IsNaN(f)), quiet_nan, rounded);
}

// ---------------------------------------------------------------- storage formats
// A format loads a tile (four accumulation vectors) from storage and stores it back.

// Storage type = accumulation type: f32, f64, i32, i64.
template <typename T>
struct Plain {
  using Storage = T;
  using D = hn::ScalableTag<T>;

  static HWY_INLINE void Load(D d, const T* p, V<D>& v0, V<D>& v1, V<D>& v2, V<D>& v3) {
    const std::size_t n = hn::Lanes(d);
    v0 = hn::LoadU(d, p);
    v1 = hn::LoadU(d, p + n);
    v2 = hn::LoadU(d, p + 2 * n);
    v3 = hn::LoadU(d, p + 3 * n);
  }
  static HWY_INLINE void Put(D d, V<D> v, T* p, bool stream) {
    if (stream) hn::Stream(v, d, p);
    else hn::StoreU(v, d, p);
  }
  static HWY_INLINE void Store(D d, V<D> v0, V<D> v1, V<D> v2, V<D> v3, T* p, bool stream) {
    const std::size_t n = hn::Lanes(d);
    Put(d, v0, p, stream);
    Put(d, v1, p + n, stream);
    Put(d, v2, p + 2 * n, stream);
    Put(d, v3, p + 3 * n, stream);
  }
};

// f16 (kBrain false) or bf16 (kBrain true) stored, f32 accumulated. A tile is two full vectors
// of 16-bit values, each widened into two f32 vectors. With F16C these hold the first and the
// second half of the elements; otherwise the even- and the odd-numbered ones, which costs only a
// shift or a mask per vector (any order works: every source and destination uses the same).
template <bool kBrain>
struct Half16 {
  using Storage = std::uint16_t;
  using D = hn::ScalableTag<float>;

#if HWY_TARGET == HWY_SCALAR
  // One lane per vector: every element on its own.
  static HWY_INLINE V<D> LoadOne(D d, const std::uint16_t* p) {
    const hn::Rebind<std::uint16_t, D> d16;
    const hn::RebindToUnsigned<D> du;
    const auto bits = hn::PromoteTo(du, hn::LoadU(d16, p));
    if constexpr (kBrain) return hn::BitCast(d, hn::ShiftLeft<16>(bits));
    else return F16BitsToF32(d, bits);
  }
  static HWY_INLINE void StoreOne(D d, V<D> v, std::uint16_t* p) {
    const hn::RebindToSigned<D> di;
    const hn::Rebind<std::uint16_t, D> d16;
    if constexpr (kBrain) {
      hn::StoreU(hn::DemoteTo(d16, hn::BitCast(di, hn::ShiftRight<16>(F32ToBF16High(d, v)))), d16, p);
    } else {
      hn::StoreU(hn::DemoteTo(d16, hn::BitCast(di, F32ToF16Bits(d, v))), d16, p);
    }
  }
  static HWY_INLINE void Load(D d, const std::uint16_t* p, V<D>& v0, V<D>& v1, V<D>& v2, V<D>& v3) {
    v0 = LoadOne(d, p);
    v1 = LoadOne(d, p + 1);
    v2 = LoadOne(d, p + 2);
    v3 = LoadOne(d, p + 3);
  }
  static HWY_INLINE void Store(D d, V<D> v0, V<D> v1, V<D> v2, V<D> v3, std::uint16_t* p, bool /*stream*/) {
    StoreOne(d, v0, p);
    StoreOne(d, v1, p + 1);
    StoreOne(d, v2, p + 2);
    StoreOne(d, v3, p + 3);
  }
#else
  // One full vector of 16-bit values -> two f32 vectors.
  static HWY_INLINE void Widen(D d, const std::uint16_t* p, V<D>& a, V<D>& b) {
    const hn::Repartition<std::uint16_t, D> d16;
    const hn::RebindToUnsigned<D> du;
    if constexpr (kBrain) {
      const auto bits = hn::BitCast(du, hn::LoadU(d16, p));
      a = hn::BitCast(d, hn::ShiftLeft<16>(bits));
      b = hn::BitCast(d, hn::And(bits, hn::Set(du, 0xffff0000u)));
    } else {
#if MESHREDUCE_F16C
      const hn::Rebind<hwy::float16_t, D> dh;
      const auto* h = reinterpret_cast<const hwy::float16_t*>(p);
      a = hn::PromoteTo(d, hn::LoadU(dh, h));
      b = hn::PromoteTo(d, hn::LoadU(dh, h + hn::Lanes(d)));
#else
      const auto bits = hn::BitCast(du, hn::LoadU(d16, p));
      a = F16BitsToF32(d, hn::And(bits, hn::Set(du, 0xffffu)));
      b = F16BitsToF32(d, hn::ShiftRight<16>(bits));
#endif
    }
  }
  // The inverse of Widen, rounding to nearest even.
  static HWY_INLINE V<hn::Repartition<std::uint16_t, D>> Narrow(D d, V<D> a, V<D> b) {
    const hn::Repartition<std::uint16_t, D> d16;
    if constexpr (kBrain) {
      return hn::OddEven(hn::BitCast(d16, F32ToBF16High(d, b)),
                         hn::BitCast(d16, hn::ShiftRight<16>(F32ToBF16High(d, a))));
    } else {
#if MESHREDUCE_F16C
      const hn::Rebind<hwy::float16_t, D> dh;
      const hn::Rebind<std::uint16_t, D> dh16;
      return hn::Combine(d16, hn::BitCast(dh16, hn::DemoteTo(dh, b)), hn::BitCast(dh16, hn::DemoteTo(dh, a)));
#else
      return hn::OddEven(hn::BitCast(d16, hn::ShiftLeft<16>(F32ToF16Bits(d, b))), hn::BitCast(d16, F32ToF16Bits(d, a)));
#endif
    }
  }
  static HWY_INLINE void Load(D d, const std::uint16_t* p, V<D>& v0, V<D>& v1, V<D>& v2, V<D>& v3) {
    Widen(d, p, v0, v1);
    Widen(d, p + 2 * hn::Lanes(d), v2, v3);
  }
  static HWY_INLINE void Store(D d, V<D> v0, V<D> v1, V<D> v2, V<D> v3, std::uint16_t* p, bool stream) {
    const hn::Repartition<std::uint16_t, D> d16;
    const auto first = Narrow(d, v0, v1);
    const auto second = Narrow(d, v2, v3);
    if (stream) {
      hn::Stream(first, d16, p);
      hn::Stream(second, d16, p + hn::Lanes(d16));
    } else {
      hn::StoreU(first, d16, p);
      hn::StoreU(second, d16, p + hn::Lanes(d16));
    }
  }
#endif
};

// ---------------------------------------------------------------- operations

struct SumOp {
  template <class D>
  static HWY_INLINE V<D> Apply(D /*d*/, V<D> a, V<D> b) { return hn::Add(a, b); }  // integers wrap
};
struct MinOp {  // b < a ? b : a
  template <class D>
  static HWY_INLINE V<D> Apply(D /*d*/, V<D> a, V<D> b) { return hn::IfThenElse(hn::Lt(b, a), b, a); }
};
struct MaxOp {  // a < b ? b : a
  template <class D>
  static HWY_INLINE V<D> Apply(D /*d*/, V<D> a, V<D> b) { return hn::IfThenElse(hn::Lt(a, b), b, a); }
};

// The average's scaling: floating types multiply by (A)(1.0 / K); integers divide by K,
// truncating toward zero, lane by lane.
template <class D>
HWY_INLINE V<D> Scale(D d, V<D> v, int k) {
  using A = hn::TFromD<D>;
  if constexpr (std::is_floating_point_v<A>) {
    return hn::Mul(v, hn::Set(d, static_cast<A>(1.0 / k)));
  } else {
    HWY_ALIGN A lanes[hn::MaxLanes(d)];
    hn::Store(v, d, lanes);
    for (std::size_t i = 0; i < hn::Lanes(d); ++i) lanes[i] = static_cast<A>(lanes[i] / static_cast<A>(k));
    return hn::Load(d, lanes);
  }
}

// ---------------------------------------------------------------- loops

// Software prefetch distance, in bytes ahead of the tile being read, of every source. With many
// sources the hardware prefetchers alone left single-thread f16/bf16 reductions from DRAM at
// ~65-70% of f32's bytes per second (K = 8, 64 MiB, bench/bench_kernels.cc); with these at ~85%
// and f32 unchanged. With two sources they did not help, so they are skipped there. Prefetching
// past the end of a buffer is harmless (a prefetch never faults).
constexpr std::size_t kPrefetchBytes = 1024;
constexpr std::size_t kPrefetchMinSources = 3;

template <class Fmt>
struct Piece {
  using T = typename Fmt::Storage;
  const T* const* srcs;
  std::size_t sources;
  T* const* dsts;
  std::size_t destinations;
  int k;
  bool prefetch;
};

// A tile's running values combined with the next source's, lane by lane, in source order.
template <class Op, class D>
HWY_INLINE void Combine(D d, V<D>& v0, V<D>& v1, V<D>& v2, V<D>& v3, V<D> x0, V<D> x1, V<D> x2, V<D> x3) {
  v0 = Op::Apply(d, v0, x0);
  v1 = Op::Apply(d, v1, x1);
  v2 = Op::Apply(d, v2, x2);
  v3 = Op::Apply(d, v3, x3);
}

template <class D>
HWY_INLINE void ScaleTile(D d, V<D>& v0, V<D>& v1, V<D>& v2, V<D>& v3, int k) {
  v0 = Scale(d, v0, k);
  v1 = Scale(d, v1, k);
  v2 = Scale(d, v2, k);
  v3 = Scale(d, v3, k);
}

template <class Fmt, class Op, bool kScale>
HWY_INLINE void ReduceTile(const Piece<Fmt>& piece, std::size_t begin, bool stream) {
  using T = typename Fmt::Storage;
  const typename Fmt::D d;
  if (piece.prefetch) {
    const std::size_t tile_bytes = 4 * hn::Lanes(d) * sizeof(T);
    for (std::size_t s = 0; s < piece.sources; ++s) {
      const auto* ahead = reinterpret_cast<const unsigned char*>(piece.srcs[s] + begin) + kPrefetchBytes;
      for (std::size_t b = 0; b < tile_bytes; b += 64) hwy::Prefetch(ahead + b);
    }
  }
  V<decltype(d)> v0, v1, v2, v3, x0, x1, x2, x3;
  Fmt::Load(d, piece.srcs[0] + begin, v0, v1, v2, v3);
  for (std::size_t s = 1; s < piece.sources; ++s) {
    Fmt::Load(d, piece.srcs[s] + begin, x0, x1, x2, x3);
    Combine<Op>(d, v0, v1, v2, v3, x0, x1, x2, x3);
  }
  if constexpr (kScale) ScaleTile(d, v0, v1, v2, v3, piece.k);
  for (std::size_t i = 0; i < piece.destinations; ++i) Fmt::Store(d, v0, v1, v2, v3, piece.dsts[i] + begin, stream);
}

// Elements [begin, begin + n) with n shorter than a tile: the tile code on zero-padded copies.
template <class Fmt, class Op, bool kScale>
HWY_NOINLINE void ReducePartial(const Piece<Fmt>& piece, std::size_t begin, std::size_t n) {
  using T = typename Fmt::Storage;
  const typename Fmt::D d;
  HWY_ALIGN T buffer[4 * hn::MaxLanes(d)] = {};
  std::memcpy(buffer, piece.srcs[0] + begin, n * sizeof(T));
  V<decltype(d)> v0, v1, v2, v3, x0, x1, x2, x3;
  Fmt::Load(d, buffer, v0, v1, v2, v3);
  for (std::size_t s = 1; s < piece.sources; ++s) {
    std::memcpy(buffer, piece.srcs[s] + begin, n * sizeof(T));
    Fmt::Load(d, buffer, x0, x1, x2, x3);
    Combine<Op>(d, v0, v1, v2, v3, x0, x1, x2, x3);
  }
  if constexpr (kScale) ScaleTile(d, v0, v1, v2, v3, piece.k);
  Fmt::Store(d, v0, v1, v2, v3, buffer, false);
  for (std::size_t i = 0; i < piece.destinations; ++i) std::memcpy(piece.dsts[i] + begin, buffer, n * sizeof(T));
}

// Elements before the destinations reach a vector-aligned address, when non-temporal stores
// are asked for and all destinations share one misalignment; otherwise `count` (no streaming).
template <typename T>
std::size_t StreamStart(std::span<void* const> dsts, std::size_t vector_bytes, std::size_t count) {
  const auto misalignment = reinterpret_cast<std::uintptr_t>(dsts[0]) % vector_bytes;
  if (misalignment % sizeof(T) != 0) return count;
  for (void* dst : dsts)
    if (reinterpret_cast<std::uintptr_t>(dst) % vector_bytes != misalignment) return count;
  return (vector_bytes - misalignment) % vector_bytes / sizeof(T);
}

template <class Fmt, class Op, bool kScale>
HWY_NOINLINE void ReduceLoop(const KernelArgs& args) {
  using T = typename Fmt::Storage;
  const typename Fmt::D d;
  const std::size_t sources = args.kind == StepKind::reduce ? args.srcs.size() : 1;
  const Piece<Fmt> piece{reinterpret_cast<const T* const*>(args.srcs.data()), sources,
                         reinterpret_cast<T* const*>(args.dsts.data()), args.dsts.size(), args.num_devices,
                         sources >= kPrefetchMinSources};
  const auto count = static_cast<std::size_t>(args.count);
  const std::size_t tile = 4 * hn::Lanes(d);
  std::size_t begin = 0;
  bool stream = false;
  if (args.stream && HWY_TARGET != HWY_SCALAR) {
    const std::size_t start = StreamStart<T>(args.dsts, hn::Lanes(d) * sizeof(hn::TFromD<decltype(d)>), count);
    if (start + tile <= count) {
      if (start > 0) ReducePartial<Fmt, Op, kScale>(piece, 0, start);
      begin = start;
      stream = true;
    }
  }
  for (; begin + tile <= count; begin += tile) ReduceTile<Fmt, Op, kScale>(piece, begin, stream);
  if (begin < count) ReducePartial<Fmt, Op, kScale>(piece, begin, count - begin);
  if (stream) hwy::FlushStream();
}

template <class Fmt>
void ReduceFormat(const KernelArgs& args) {
  const bool scale = args.kind == StepKind::scale || (args.kind == StepKind::reduce && args.average);
  if (scale) {
    switch (args.op) {
      case ReduceOp::min: return ReduceLoop<Fmt, MinOp, true>(args);
      case ReduceOp::max: return ReduceLoop<Fmt, MaxOp, true>(args);
      case ReduceOp::sum: case ReduceOp::average: return ReduceLoop<Fmt, SumOp, true>(args);
    }
  } else {
    switch (args.op) {
      case ReduceOp::min: return ReduceLoop<Fmt, MinOp, false>(args);
      case ReduceOp::max: return ReduceLoop<Fmt, MaxOp, false>(args);
      case ReduceOp::sum: case ReduceOp::average: return ReduceLoop<Fmt, SumOp, false>(args);
    }
  }
}

// Reduce and scale steps, one entry point per dtype (HWY_EXPORT takes plain functions).
void ReduceF32(const KernelArgs& args) { ReduceFormat<Plain<float>>(args); }
void ReduceF64(const KernelArgs& args) { ReduceFormat<Plain<double>>(args); }
void ReduceF16(const KernelArgs& args) { ReduceFormat<Half16<false>>(args); }
void ReduceBF16(const KernelArgs& args) { ReduceFormat<Half16<true>>(args); }
void ReduceI32(const KernelArgs& args) { ReduceFormat<Plain<std::int32_t>>(args); }
void ReduceI64(const KernelArgs& args) { ReduceFormat<Plain<std::int64_t>>(args); }

// Copy steps with several destinations, or streamed: src[0] is read once and every destination
// (except one that is the source itself) written in the same pass.
void CopyFused(const KernelArgs& args, std::size_t bytes) {
  const hn::ScalableTag<std::uint8_t> d;
  const auto* src = static_cast<const std::uint8_t*>(args.srcs[0]);
  auto* const* dsts = reinterpret_cast<std::uint8_t* const*>(args.dsts.data());
  const std::size_t destinations = args.dsts.size();
  const std::size_t n = hn::Lanes(d);
  const std::size_t tile = 4 * n;
  std::size_t begin = 0;
  bool stream = false;
  if (args.stream && HWY_TARGET != HWY_SCALAR) {
    const std::size_t start = StreamStart<std::uint8_t>(args.dsts, n, bytes);
    if (start + tile <= bytes) {
      for (std::size_t i = 0; i < destinations; ++i)
        if (dsts[i] != src) std::memcpy(dsts[i], src, start);
      begin = start;
      stream = true;
    }
  }
  for (; begin + tile <= bytes; begin += tile) {
    const auto v0 = hn::LoadU(d, src + begin);
    const auto v1 = hn::LoadU(d, src + begin + n);
    const auto v2 = hn::LoadU(d, src + begin + 2 * n);
    const auto v3 = hn::LoadU(d, src + begin + 3 * n);
    for (std::size_t i = 0; i < destinations; ++i) {
      std::uint8_t* dst = dsts[i] + begin;
      if (dsts[i] == src) continue;
      if (stream) {
        hn::Stream(v0, d, dst);
        hn::Stream(v1, d, dst + n);
        hn::Stream(v2, d, dst + 2 * n);
        hn::Stream(v3, d, dst + 3 * n);
      } else {
        hn::StoreU(v0, d, dst);
        hn::StoreU(v1, d, dst + n);
        hn::StoreU(v2, d, dst + 2 * n);
        hn::StoreU(v3, d, dst + 3 * n);
      }
    }
  }
  if (begin < bytes)
    for (std::size_t i = 0; i < destinations; ++i)
      if (dsts[i] != src) std::memcpy(dsts[i] + begin, src + begin, bytes - begin);
  if (stream) hwy::FlushStream();
}

const char* CurrentTargetName() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace meshreduce::detail
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace meshreduce::detail {

HWY_EXPORT(ReduceF32);
HWY_EXPORT(ReduceF64);
HWY_EXPORT(ReduceF16);
HWY_EXPORT(ReduceBF16);
HWY_EXPORT(ReduceI32);
HWY_EXPORT(ReduceI64);
HWY_EXPORT(CopyFused);
HWY_EXPORT(CurrentTargetName);

bool streams_stores(const KernelArgs& args) {
  if (!args.stream) return false;
  if (args.kind == StepKind::copy) return true;  // a copy skips a destination that is its source
  for (void* dst : args.dsts)
    for (const void* src : args.srcs)
      if (dst == src) return false;
  return true;
}

void run_kernel(const KernelArgs& args) {
  if (args.stream && !streams_stores(args)) {
    KernelArgs cached = args;
    cached.stream = false;
    return run_kernel_as_given(cached);
  }
  run_kernel_as_given(args);
}

void run_kernel_as_given(const KernelArgs& args) {
  if (args.count <= 0 || args.dsts.empty()) return;
  if (args.kind == StepKind::copy) {
    // One memmove per destination, unless reading the source once for all of them saves memory
    // traffic: a source of up to kFusedCopyMinBytes stays in L2 from one memmove to the next,
    // and glibc's memmove is then faster than the fused loop.
    constexpr std::size_t kFusedCopyMinBytes = std::size_t{256} << 10;
    const std::size_t bytes = static_cast<std::size_t>(args.count) * dtype_size(args.dtype);
    if (!args.stream && (args.dsts.size() == 1 || bytes < kFusedCopyMinBytes)) {
      for (void* dst : args.dsts)
        if (dst != args.srcs[0]) std::memmove(dst, args.srcs[0], bytes);
      return;
    }
    return HWY_DYNAMIC_DISPATCH(CopyFused)(args, bytes);
  }
  switch (args.dtype) {
    case DType::f32: return HWY_DYNAMIC_DISPATCH(ReduceF32)(args);
    case DType::f64: return HWY_DYNAMIC_DISPATCH(ReduceF64)(args);
    case DType::f16: return HWY_DYNAMIC_DISPATCH(ReduceF16)(args);
    case DType::bf16: return HWY_DYNAMIC_DISPATCH(ReduceBF16)(args);
    case DType::i32: return HWY_DYNAMIC_DISPATCH(ReduceI32)(args);
    case DType::i64: return HWY_DYNAMIC_DISPATCH(ReduceI64)(args);
  }
}

namespace {

// The targets compiled in that this CPU runs, best first, as found before any forcing.
const std::vector<std::int64_t>& available_targets() {
  static const std::vector<std::int64_t> targets = hwy::SupportedAndGeneratedTargets();
  return targets;
}

}  // namespace

std::vector<std::string_view> kernel_targets() {
  std::vector<std::string_view> names;
  for (std::int64_t target : available_targets()) names.emplace_back(hwy::TargetName(target));
  return names;
}

std::string_view kernel_target() { return HWY_DYNAMIC_DISPATCH(CurrentTargetName)(); }

bool force_kernel_target(std::string_view name) {
  if (name.empty()) {
    available_targets();  // record the real list before it could be masked
    hwy::SetSupportedTargetsForTest(0);
    return true;
  }
  for (std::int64_t target : available_targets()) {
    if (name == hwy::TargetName(target)) {
      hwy::SetSupportedTargetsForTest(target);
      return true;
    }
  }
  return false;
}

}  // namespace meshreduce::detail
#endif  // HWY_ONCE
