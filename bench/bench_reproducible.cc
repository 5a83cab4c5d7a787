// Microbenchmarks of reproducible mode's fused kernel (src/exec/reproducible/fused_kernel.cc)
// against the default direct step's kernel (src/exec/threads/kernels.cc), one thread: both read
// K = 8 sources and write 8 destinations per element, as the direct algorithm's single step does.
//
// Names: <dtype>/<bytes per buffer>/<out|in>/<default|reproducible|reproducible-wide>. Sizes: 32 KiB per buffer
// (all 16 buffers stay in L2) and 256 KiB (one piece of 65536 f32 elements, what a 1 MiB call
// hands each thread at a time; the 16 buffers leave L2). In place the destinations are the
// sources and the op is average (so repeated calls keep the values' magnitudes); out of place
// it is sum. bytes_per_second counts 16 x bytes per buffer per call.
//
// The inputs are gradient-like: per buffer and element a different value, magnitudes spread over
// about 2^-12 .. 2^4, some exact zeros: within an element the K inputs span fewer than B - 24
// binades, so the kernel takes its plain path. `reproducible-wide` spreads the magnitudes over
// 2^-40 .. 2^4 instead: almost every tile has an element to quantize (its f32 lanes), the
// kernel's worst case short of tiny values (largest input below about 2^-78: its f64 lanes).
//
//   build/bench/meshreduce_bench_reproducible --benchmark_filter='f32/256KiB'
//       --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/half.h"
#include "exec/reproducible/fused_kernel.h"
#include "exec/threads/kernels.h"

namespace meshreduce::detail {
namespace {

constexpr int kDevices = 8;

struct Buffers {
  std::vector<std::unique_ptr<std::byte[]>> memory;
  std::vector<const void*> srcs;
  std::vector<void*> dsts;
};

// Source d holds different values per element and device; the same seed for every benchmark.
void fill(DType dtype, void* data, std::int64_t count, int device, bool wide) {
  std::mt19937 rng(static_cast<std::uint32_t>(1234 + device));
  std::normal_distribution<double> mantissa(0.0, 1.0);
  std::uniform_int_distribution<int> exponent(wide ? -40 : -12, 3);
  for (std::int64_t i = 0; i < count; ++i) {
    const double v = i % 97 == 0 ? 0.0 : std::ldexp(mantissa(rng), exponent(rng));
    const auto at = static_cast<std::size_t>(i);
    switch (dtype) {
      case DType::f32: static_cast<float*>(data)[at] = static_cast<float>(v); break;
      case DType::f64: static_cast<double*>(data)[at] = v; break;
      case DType::f16: static_cast<std::uint16_t*>(data)[at] = f32_to_f16(static_cast<float>(v)); break;
      default: static_cast<std::uint16_t*>(data)[at] = f32_to_bf16(static_cast<float>(v)); break;
    }
  }
}

Buffers make_buffers(DType dtype, std::size_t bytes, bool in_place, bool wide) {
  Buffers b;
  const std::int64_t count = static_cast<std::int64_t>(bytes / dtype_size(dtype));
  for (int k = 0; k < (in_place ? 1 : 2) * kDevices; ++k) {
    b.memory.push_back(std::make_unique_for_overwrite<std::byte[]>(bytes + 64));
    auto address = reinterpret_cast<std::uintptr_t>(b.memory.back().get());
    void* aligned = reinterpret_cast<std::byte*>((address + 63) / 64 * 64);
    fill(dtype, aligned, count, k % kDevices, wide);
    if (k < kDevices) b.srcs.push_back(aligned);
    if (in_place || k >= kDevices) b.dsts.push_back(aligned);
  }
  return b;
}

enum class Mode { plain, reproducible, reproducible_wide };

void run_benchmark(benchmark::State& state, DType dtype, std::size_t bytes, bool in_place, Mode mode) {
  Buffers b = make_buffers(dtype, bytes, in_place, mode == Mode::reproducible_wide);
  const bool reproducible = mode != Mode::plain;
  const std::int64_t count = static_cast<std::int64_t>(bytes / dtype_size(dtype));
  KernelArgs plain;
  plain.kind = StepKind::reduce;
  plain.dtype = dtype;
  plain.op = in_place ? ReduceOp::average : ReduceOp::sum;
  plain.average = in_place;
  plain.num_devices = kDevices;
  plain.count = count;
  plain.srcs = b.srcs;
  plain.dsts = b.dsts;
  const repro::FusedArgs fused{dtype, in_place, count, b.srcs, b.dsts, false};
  for (auto _ : state) {
    if (reproducible) repro::run_fused(fused);
    else run_kernel(plain);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(bytes) *
                          2 * kDevices);
}

void register_all() {
  for (DType dtype : {DType::f32, DType::bf16, DType::f16, DType::f64})
    for (std::size_t bytes : {std::size_t{32} << 10, std::size_t{256} << 10})
      for (bool in_place : {false, true})
        for (Mode mode : {Mode::plain, Mode::reproducible, Mode::reproducible_wide}) {
          const char* mode_name = mode == Mode::plain          ? "default"
                                  : mode == Mode::reproducible ? "reproducible"
                                                               : "reproducible-wide";
          const std::string name = std::string(dtype_name(dtype)) + "/" + std::to_string(bytes >> 10) + "KiB/" +
                                   (in_place ? "in" : "out") + "/" + mode_name;
          benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& state) {
            run_benchmark(state, dtype, bytes, in_place, mode);
          });
        }
}

}  // namespace
}  // namespace meshreduce::detail

int main(int argc, char** argv) {
  meshreduce::detail::register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
