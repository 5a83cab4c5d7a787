// Internal: the element-wise passes of reproducible mode's generic path (generic.h), over one
// tensor of one device: SIMD for f32 (Google Highway, picked at run time), arithmetic.h element
// by element for the other types. Both give the bits of arithmetic.h.
#pragma once

#include <cstdint>

#include "meshreduce/types.h"

namespace meshreduce::detail::repro {

// codes[i] = code_of(x[i]).
void compute_codes(DType dtype, const void* x, std::int64_t count, std::int32_t* codes);

// The quantized values for the agreed codes: f64 writes hi to sums[0, count) and lo to
// sums[count, 2 count); the other types write sums[0, count).
void quantize_all(DType dtype, const void* x, const std::int32_t* codes, std::int64_t count, int bits, double* sums);

// out[i]: the exact sums scaled back, averaged over `devices` when asked, rounded once.
void round_all(DType dtype, const double* sums, const std::int32_t* codes, std::int64_t count, int bits, bool average,
               int devices, void* out);

}  // namespace meshreduce::detail::repro
