// Internal: reproducible mode's fused reduction, for steps that read all K original inputs.
#pragma once

#include <cstdint>
#include <span>

#include "meshreduce/types.h"

namespace meshreduce::detail::repro {

struct FusedArgs {
  DType dtype = DType::f32;  // floating types only
  bool average = false;
  std::int64_t count = 0;
  std::span<const void* const> srcs;  // the K inputs, any order
  std::span<void* const> dsts;        // may be exactly sources
  // Non-temporal stores (as KernelArgs::stream): for outputs far larger than the caches. Used
  // for f32 when all destinations share one alignment; ignored otherwise.
  bool stream = false;
};

// Writes to every destination, per element, the reproducible sum (or average) of the sources:
// the agreed exponent, quantization, exact sum and single rounding of arithmetic.h, computed in
// registers, one tile of elements at a time (SIMD for f32 and bf16; f64 and f16 element by
// element). Every element is read from all sources before it is stored. Allocates nothing.
void run_fused(const FusedArgs& args);

// For tests: the same results computed element by element with arithmetic.h alone, the
// reference the SIMD paths must match bit for bit.
void run_fused_elementwise(const FusedArgs& args);

}  // namespace meshreduce::detail::repro
