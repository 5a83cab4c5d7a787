// Internal: the element-wise kernels one piece of a step runs on host memory.
#pragma once

#include <cstdint>
#include <span>

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
};

// Runs one piece. A destination may be exactly a source; every element is read from all sources
// before it is stored, and sources are combined strictly left to right.
void run_kernel(const KernelArgs& args);

}  // namespace meshreduce::detail
