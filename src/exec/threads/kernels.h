// Internal: the element-wise kernels one piece of a step runs on host memory.
//
// The kernels are SIMD (Google Highway), compiled for several instruction sets and picked at run
// time for the CPU (kernel_target() names the one in use). Every target gives the same bits as
// the plain scalar definition, on every input:
//   - sources are combined strictly left to right per element: ((s0 op s1) op s2) ...;
//   - f16/bf16 are loaded to f32, accumulated in f32 and rounded to nearest even once, when
//     stored (core/half.h's f32_to_f16 / f32_to_bf16, NaN kept quiet);
//   - integer sums wrap around (two's complement);
//   - min is `b < a ? b : a` and max `a < b ? b : a` with a the running value and b the next
//     source: a NaN already held is kept, a NaN in a later source is skipped;
//   - average multiplies by (A)(1.0 / K) for floating types and divides by K, truncating toward
//     zero, for integer types.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "meshreduce/schedule.h"
#include "meshreduce/types.h"

namespace meshreduce::detail {

struct KernelArgs {
  StepKind kind = StepKind::copy;
  DType dtype = DType::f32;
  ReduceOp op = ReduceOp::sum;
  bool average = false;  // reduce: scale by 1/K after combining; scale steps always do
  int num_devices = 1;   // K, for the average
  std::int64_t count = 0;
  std::span<const void* const> srcs;
  std::span<void* const> dsts;
  // Non-temporal stores: the destinations bypass the caches. Worth it when the output is not
  // read again soon and the call's outputs together are much larger than the caches (the final
  // copies of a large allreduce: +10-35% at 64 MiB); 4x slower for output that would have stayed
  // in cache. Used when all destinations share one alignment; ignored otherwise, and ignored by
  // a reduce or scale that writes one of its own sources (streams_stores).
  bool stream = false;
};

// Whether run_kernel may use non-temporal stores for `args`: args.stream, unless a reduce or
// scale writes over one of its own sources (in place). Such a store goes to a line the kernel
// has just read, which is in the cache already: an ordinary store to it costs no read for
// ownership, so a non-temporal one saves no traffic, and it evicts the line, which an in-place
// caller reads next. Even over 512 MiB, which no cache holds, ordinary stores were no slower
// (`meshreduce bench`'s probe, K = 4, loaded machine: 62-65 GB/s non-temporal, 68 ordinary).
bool streams_stores(const KernelArgs& args);

// run_kernel with args.stream taken as given, in place too: for the streaming probe, which must
// measure every way of storing that the hardware offers, not only the one run_kernel picks.
void run_kernel_as_given(const KernelArgs& args);

// Runs one piece. A destination may be exactly a source; every element is read from all sources
// before it is stored, and sources are combined strictly left to right. All destinations are
// written in the same pass over the sources. Allocates nothing, takes no lock.
void run_kernel(const KernelArgs& args);

// Names of the SIMD targets compiled in that this CPU can run, best first (e.g. "AVX3", "AVX2",
// "SSE4", "EMU128"; EMU128 is the portable fallback).
std::vector<std::string_view> kernel_targets();

// The target run_kernel uses now.
std::string_view kernel_target();

// For tests and benchmarks: make run_kernel use the named target from kernel_targets(), or the
// best one again when `name` is empty. Returns false (and changes nothing) for an unknown name.
// Process-wide and not thread-safe: call it while no kernel runs.
bool force_kernel_target(std::string_view name);

}  // namespace meshreduce::detail
