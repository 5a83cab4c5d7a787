// The generic path's element-wise passes. The f32 SIMD loops compute arithmetic.h's functions
// lane by lane (the same scale from the code's bits, the same Round, the same single demotion),
// so a tensor's bits do not depend on the target or on where the vector loop stops.
#include "exec/reproducible/transforms.h"

#include <cstddef>
#include <cstdint>

#include "exec/reproducible/arithmetic.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "exec/reproducible/transforms.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
// foreach_target.h must come first.
#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace meshreduce::detail::repro {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Each returns how many leading elements it did (whole vectors); the caller does the rest.
std::int64_t CodesF32(const float* x, std::int64_t count, std::int32_t* codes) {
  const hn::ScalableTag<float> df;
  const hn::RebindToUnsigned<decltype(df)> du;
  const hn::RebindToSigned<decltype(df)> di;
  const auto n = static_cast<std::int64_t>(hn::Lanes(df));
  const auto mask = hn::Set(du, 0x7fffffffu);
  const auto one = hn::Set(du, 1u);
  std::int64_t i = 0;
  for (; i + n <= count; i += n) {
    const auto field = hn::ShiftRight<23>(hn::And(hn::BitCast(du, hn::LoadU(df, x + i)), mask));
    hn::StoreU(hn::BitCast(di, hn::Max(field, one)), di, codes + i);
  }
  return i;
}

std::int64_t QuantizeF32(const float* x, const std::int32_t* codes, std::int64_t count, int bits, double* sums) {
  const hn::ScalableTag<double> dd;
  const hn::Rebind<float, decltype(dd)> df;
  const hn::Rebind<std::int32_t, decltype(dd)> di;
  const hn::RebindToSigned<decltype(dd)> dl;
  const auto n = static_cast<std::int64_t>(hn::Lanes(dd));
  const auto scale_base = hn::Set(dl, bits + 126 + 1023);  // 2^s: field 1023 + s = (bits + 126 + 1023) - c
  std::int64_t i = 0;
  for (; i + n <= count; i += n) {
    const auto c = hn::PromoteTo(dl, hn::LoadU(di, codes + i));
    const auto scale = hn::BitCast(dd, hn::ShiftLeft<52>(hn::Sub(scale_base, c)));
    hn::StoreU(hn::Round(hn::Mul(hn::PromoteTo(dd, hn::LoadU(df, x + i)), scale)), dd, sums + i);
  }
  return i;
}

std::int64_t RoundF32(const double* sums, const std::int32_t* codes, std::int64_t count, int bits, bool average,
                      int devices, float* out) {
  const hn::ScalableTag<double> dd;
  const hn::Rebind<float, decltype(dd)> df;
  const hn::Rebind<std::int32_t, decltype(dd)> di;
  const hn::RebindToSigned<decltype(dd)> dl;
  const hn::RebindToUnsigned<decltype(df)> du;
  const auto n = static_cast<std::int64_t>(hn::Lanes(dd));
  const auto unscale_base = hn::Set(dl, 1023 - 126 - bits);  // 2^-s: field c + (1023 - 126 - bits)
  const auto k = hn::Set(dd, static_cast<double>(devices));
  const auto nan = hn::BitCast(df, hn::Set(du, kCanonicalNanF32));
  std::int64_t i = 0;
  for (; i + n <= count; i += n) {
    const auto c = hn::PromoteTo(dl, hn::LoadU(di, codes + i));
    const auto unscale = hn::BitCast(dd, hn::ShiftLeft<52>(hn::Add(c, unscale_base)));
    auto value = hn::Mul(hn::LoadU(dd, sums + i), unscale);
    if (average) value = hn::Div(value, k);
    const auto result = hn::DemoteTo(df, value);
    hn::StoreU(hn::IfThenElse(hn::IsNaN(result), nan, result), df, out + i);
  }
  return i;
}

}  // namespace HWY_NAMESPACE
}  // namespace meshreduce::detail::repro
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace meshreduce::detail::repro {

HWY_EXPORT(CodesF32);
HWY_EXPORT(QuantizeF32);
HWY_EXPORT(RoundF32);

void compute_codes(DType dtype, const void* x, std::int64_t count, std::int32_t* codes) {
  std::int64_t i = 0;
  if (dtype == DType::f32) i = HWY_DYNAMIC_DISPATCH(CodesF32)(static_cast<const float*>(x), count, codes);
  for (; i < count; ++i) codes[i] = code_of(dtype, x, i);
}

void quantize_all(DType dtype, const void* x, const std::int32_t* codes, std::int64_t count, int bits, double* sums) {
  std::int64_t i = 0;
  if (dtype == DType::f32) i = HWY_DYNAMIC_DISPATCH(QuantizeF32)(static_cast<const float*>(x), codes, count, bits, sums);
  for (; i < count; ++i) {
    const int s = scale_exponent(dtype, codes[i], bits);
    if (dtype == DType::f64)
      quantize(static_cast<const double*>(x)[i], s, bits, sums[i], sums[count + i]);
    else
      sums[i] = quantize(widen(dtype, x, i), s);
  }
}

void round_all(DType dtype, const double* sums, const std::int32_t* codes, std::int64_t count, int bits, bool average,
               int devices, void* out) {
  std::int64_t i = 0;
  if (dtype == DType::f32)
    i = HWY_DYNAMIC_DISPATCH(RoundF32)(sums, codes, count, bits, average, devices, static_cast<float*>(out));
  for (; i < count; ++i) {
    const int s = scale_exponent(dtype, codes[i], bits);
    const double value = dtype == DType::f64 ? value_of(sums[i], sums[count + i], s, bits) : value_of(sums[i], s);
    store_result(dtype, finish(value, average, devices), out, i);
  }
}

}  // namespace meshreduce::detail::repro
#endif  // HWY_ONCE
