// Microbenchmarks of the element-wise kernels (src/exec/threads/kernels.cc), one thread.
//
// Names: reduce/<dtype>/K<sources>/D<destinations>/<bytes per buffer>/<variant>, and
// copy/D<destinations>/<bytes per buffer>/<variant>. Variants: `simd` is run_kernel on the best
// target of this CPU; `simd-<TARGET>` the same kernel forced onto one SIMD target; `stream` with
// non-temporal stores; `scalar` the previous portable kernel (plain loops over blocks of 512,
// kept here as the baseline); `memmove` one memmove per destination.
//
// bytes_per_second counts the memory traffic: (K + D) x bytes per buffer per call, so dtypes are
// comparable at equal bytes (a 16-bit buffer holds twice the elements of an f32 one). Sizes:
// 32 KiB per buffer (every buffer stays in L2 at K = D = 8) and 64 MiB (DRAM).
//
//   build/bench/meshreduce_bench_kernels --benchmark_filter='reduce/(f32|f16|bf16)/K8/D1/'
//       --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "core/half.h"
#include "exec/threads/kernels.h"

namespace meshreduce::detail {
namespace {

// ---------------------------------------------------------------- the previous scalar kernel

namespace scalar {

constexpr std::int64_t kBlock = 512;
struct F16 { std::uint16_t bits; };
struct BF16 { std::uint16_t bits; };

template <typename T> struct Accum {
  using type = T;
  static T load(T v) { return v; }
  static T store(T v) { return v; }
};
template <> struct Accum<F16> {
  using type = float;
  static float load(F16 v) { return f16_to_f32(v.bits); }
  static F16 store(float v) { return {f32_to_f16(v)}; }
};
template <> struct Accum<BF16> {
  using type = float;
  static float load(BF16 v) { return bf16_to_f32(v.bits); }
  static BF16 store(float v) { return {f32_to_bf16(v)}; }
};

template <typename A>
A add(A a, A b) {
  if constexpr (std::is_integral_v<A>) {
    using U = std::make_unsigned_t<A>;
    return static_cast<A>(static_cast<U>(a) + static_cast<U>(b));
  } else {
    return a + b;
  }
}

// Sum only: what the benchmarks compare.
template <typename T>
void reduce_sum(const KernelArgs& args) {
  using Traits = Accum<T>;
  using A = typename Traits::type;
  const auto* const* srcs = reinterpret_cast<const T* const*>(args.srcs.data());
  auto* const* dsts = reinterpret_cast<T* const*>(args.dsts.data());
  A acc[kBlock];
  for (std::int64_t begin = 0; begin < args.count; begin += kBlock) {
    const std::int64_t n = std::min(kBlock, args.count - begin);
    const T* first = srcs[0] + begin;
    for (std::int64_t i = 0; i < n; ++i) acc[i] = Traits::load(first[i]);
    for (std::size_t s = 1; s < args.srcs.size(); ++s) {
      const T* src = srcs[s] + begin;
      for (std::int64_t i = 0; i < n; ++i) acc[i] = add(acc[i], Traits::load(src[i]));
    }
    for (T* dst_base : std::span(dsts, args.dsts.size())) {
      T* dst = dst_base + begin;
      for (std::int64_t i = 0; i < n; ++i) dst[i] = Traits::store(acc[i]);
    }
  }
}

void run(const KernelArgs& args) {
  switch (args.dtype) {
    case DType::f32: return reduce_sum<float>(args);
    case DType::f64: return reduce_sum<double>(args);
    case DType::f16: return reduce_sum<F16>(args);
    case DType::bf16: return reduce_sum<BF16>(args);
    case DType::i32: return reduce_sum<std::int32_t>(args);
    case DType::i64: return reduce_sum<std::int64_t>(args);
  }
}

}  // namespace scalar

// ---------------------------------------------------------------- buffers

constexpr std::size_t kSmall = std::size_t{32} << 10;
constexpr std::size_t kLarge = std::size_t{64} << 20;
constexpr int kMaxBuffers = 8;  // per role

// Buffers shared by all benchmarks, allocated and written once (writing fresh pages is slow):
// sources are slots 0-7, destinations slots 8-15, so results never feed later sums. The byte
// 0x3c makes normal, finite values in every dtype.
std::byte* slot(int index, std::size_t bytes) {
  static std::vector<std::unique_ptr<std::byte[]>> memory(2 * kMaxBuffers);
  static std::vector<std::size_t> sizes(2 * kMaxBuffers);
  const auto i = static_cast<std::size_t>(index);
  if (sizes[i] < bytes) {
    memory[i] = std::make_unique_for_overwrite<std::byte[]>(bytes + 64);
    std::memset(memory[i].get(), 0x3c, bytes + 64);
    sizes[i] = bytes;
  }
  auto address = reinterpret_cast<std::uintptr_t>(memory[i].get());
  return reinterpret_cast<std::byte*>((address + 63) / 64 * 64);
}

std::string size_name(std::size_t bytes) {
  return bytes >= (1u << 20) ? std::to_string(bytes >> 20) + "MiB" : std::to_string(bytes >> 10) + "KiB";
}

enum class Variant { simd, stream, scalar, memmove };

struct Config {
  StepKind kind = StepKind::reduce;
  DType dtype = DType::f32;
  int sources = 2;
  int destinations = 1;
  std::size_t bytes = kSmall;  // per buffer
  Variant variant = Variant::simd;
  std::string target;  // empty: the best
};

void run_benchmark(benchmark::State& state, const Config& config) {
  if (!config.target.empty() && !force_kernel_target(config.target)) {
    state.SkipWithError("target not available");
    return;
  }
  std::vector<const void*> srcs;
  std::vector<void*> dsts;
  for (int s = 0; s < config.sources; ++s) srcs.push_back(slot(s, config.bytes));
  for (int d = 0; d < config.destinations; ++d) dsts.push_back(slot(kMaxBuffers + d, config.bytes));
  KernelArgs args;
  args.kind = config.kind;
  args.dtype = config.dtype;
  args.op = ReduceOp::sum;
  args.num_devices = config.sources;
  args.count = static_cast<std::int64_t>(config.bytes / dtype_size(config.dtype));
  args.srcs = srcs;
  args.dsts = dsts;
  args.stream = config.variant == Variant::stream;
  for (auto _ : state) {
    switch (config.variant) {
      case Variant::simd: case Variant::stream: run_kernel(args); break;
      case Variant::scalar: scalar::run(args); break;
      case Variant::memmove:
        for (void* dst : dsts) std::memmove(dst, srcs[0], config.bytes);
        break;
    }
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(config.bytes) * (config.sources + config.destinations));
  state.SetLabel(config.target.empty() ? std::string(kernel_target()) : config.target);
  if (!config.target.empty()) force_kernel_target("");
}

void add(const std::string& name, const Config& config) {
  benchmark::RegisterBenchmark(name.c_str(), [config](benchmark::State& state) { run_benchmark(state, config); });
}

std::string variant_name(const Config& c) {
  switch (c.variant) {
    case Variant::simd: return c.target.empty() ? "simd" : "simd-" + c.target;
    case Variant::stream: return "stream";
    case Variant::scalar: return "scalar";
    case Variant::memmove: return "memmove";
  }
  return "";
}

void register_all() {
  const DType dtypes[] = {DType::f32, DType::f16, DType::bf16, DType::f64, DType::i32, DType::i64};
  const auto targets = kernel_targets();
  for (std::size_t bytes : {kSmall, kLarge})
    for (DType dtype : dtypes)
      for (int k : {2, 4, 8})
        for (int d : {1, k}) {
          if (d == k && k == 4) continue;  // keep the run short: D = K at K = 2 and 8
          const bool half_or_f32 = dtype == DType::f32 || dtype == DType::f16 || dtype == DType::bf16;
          std::vector<Config> configs;
          Config c{StepKind::reduce, dtype, k, d, bytes, Variant::simd, ""};
          configs.push_back(c);
          c.variant = Variant::scalar;
          configs.push_back(c);
          if (bytes == kLarge && half_or_f32) {
            c.variant = Variant::stream;
            configs.push_back(c);
          }
          if (half_or_f32 && d == 1 && k != 4) {
            c.variant = Variant::simd;
            for (std::string_view target : targets) {
              if (target == targets.front()) continue;
              c.target = std::string(target);
              configs.push_back(c);
            }
          }
          for (const Config& config : configs)
            add("reduce/" + std::string(dtype_name(dtype)) + "/K" + std::to_string(k) + "/D" + std::to_string(d) + "/" +
                    size_name(bytes) + "/" + variant_name(config),
                config);
        }
  for (std::size_t bytes : {kSmall, kLarge})
    for (int d : {1, 2, 4})
      for (Variant variant : {Variant::memmove, Variant::simd, Variant::stream}) {
        const Config c{StepKind::copy, DType::f32, 1, d, bytes, variant, ""};
        add("copy/D" + std::to_string(d) + "/" + size_name(bytes) + "/" + variant_name(c), c);
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
