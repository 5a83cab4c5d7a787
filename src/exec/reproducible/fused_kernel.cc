// Reproducible mode's fused kernel: when one step reads all K inputs of an element (the direct
// algorithm), the agreed exponent, the quantization, the exact sum and the rounding need no
// passes over memory of their own. Per block of lanes the kernel reads the K sources twice (the
// second read hits L1): once for the maximum exponent field, once to quantize and add in f64
// lanes; then it scales back, rounds to f32 and stores to every destination. The memory traffic
// is therefore the default direct step's (K reads, K writes per element); the extra work is a
// widening, a multiply, a round and an add per source and element, in registers.
//
// f32 runs in SIMD (Google Highway, compiled per instruction set like exec/threads/kernels.cc);
// the ends of a piece and the other types run arithmetic.h lane by lane. Both compute the same
// pure function, so the bits do not depend on the target or on where a piece ends.
#include "exec/reproducible/fused_kernel.h"

#include <cstddef>
#include <cstdint>

#include "exec/reproducible/arithmetic.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "exec/reproducible/fused_kernel.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
// foreach_target.h must come first.
#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace meshreduce::detail::repro {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Elements [0, returned) of an f32 call, a whole number of f64 vectors.
std::int64_t FusedF32(const FusedArgs& args) {
  const hn::ScalableTag<double> dd;
  const hn::Rebind<float, decltype(dd)> df;  // as many f32 lanes as dd has f64 lanes
  const hn::RebindToUnsigned<decltype(df)> du;
  const hn::RebindToSigned<decltype(df)> di;
  const hn::RebindToSigned<decltype(dd)> dl;
  const std::int64_t n = static_cast<std::int64_t>(hn::Lanes(dd));
  const std::size_t k_count = args.srcs.size();
  const auto* const* srcs = reinterpret_cast<const float* const*>(args.srcs.data());
  auto* const* dsts = reinterpret_cast<float* const*>(args.dsts.data());
  const int bits = magnitude_bits(static_cast<int>(k_count));
  // 2^s has exponent field 1023 + s = (bits + 126 + 1023) - c; 2^-s has c + (1023 - 126 - bits).
  const auto scale_base = hn::Set(dl, bits + 126 + 1023);
  const auto unscale_base = hn::Set(dl, 1023 - 126 - bits);
  const auto exponent_mask = hn::Set(du, 0x7fffffffu);
  const auto one = hn::Set(du, 1u);
  const auto devices = hn::Set(dd, static_cast<double>(k_count));
  const auto nan = hn::BitCast(df, hn::Set(du, kCanonicalNanF32));
  std::int64_t i = 0;
  for (; i + n <= args.count; i += n) {
    auto code = one;
    for (std::size_t k = 0; k < k_count; ++k) {
      const auto raw = hn::BitCast(du, hn::LoadU(df, srcs[k] + i));
      code = hn::Max(code, hn::ShiftRight<23>(hn::And(raw, exponent_mask)));
    }
    const auto c = hn::PromoteTo(dl, hn::BitCast(di, code));
    const auto scale = hn::BitCast(dd, hn::ShiftLeft<52>(hn::Sub(scale_base, c)));
    const auto unscale = hn::BitCast(dd, hn::ShiftLeft<52>(hn::Add(c, unscale_base)));
    // Start from the first quantized value, not from +0: -0 must stay -0 when all inputs are.
    auto sum = hn::Round(hn::Mul(hn::PromoteTo(dd, hn::LoadU(df, srcs[0] + i)), scale));
    for (std::size_t k = 1; k < k_count; ++k)
      sum = hn::Add(sum, hn::Round(hn::Mul(hn::PromoteTo(dd, hn::LoadU(df, srcs[k] + i)), scale)));
    auto value = hn::Mul(sum, unscale);
    if (args.average) value = hn::Div(value, devices);
    auto result = hn::DemoteTo(df, value);
    result = hn::IfThenElse(hn::IsNaN(result), nan, result);
    for (std::size_t k = 0; k < args.dsts.size(); ++k) hn::StoreU(result, df, dsts[k] + i);
  }
  return i;
}

}  // namespace HWY_NAMESPACE
}  // namespace meshreduce::detail::repro
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace meshreduce::detail::repro {

HWY_EXPORT(FusedF32);

namespace {

// Elements [begin, end) one at a time, exactly as the generic path computes them.
void fused_scalar(const FusedArgs& args, std::int64_t begin) {
  const int k_count = static_cast<int>(args.srcs.size());
  const int bits = magnitude_bits(k_count);
  for (std::int64_t i = begin; i < args.count; ++i) {
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
  if (args.dtype == DType::f32) done = HWY_DYNAMIC_DISPATCH(FusedF32)(args);
  fused_scalar(args, done);
}

}  // namespace meshreduce::detail::repro
#endif  // HWY_ONCE
