// Whether `meshreduce bench`'s back-to-back in-place calls can drive an average toward the
// subnormal range (slow on x86). After its first call every device holds the same value x per
// element, so each later call averages K copies of x; rounding may move x a little per call. This
// program starts from bench's exact fill (small integers (7 k + i) % 9 - 4, k the device, i the
// element), averages in place, one call after another, until the values repeat (a fixed point or a
// cycle, after which nothing can drift), for f16, bf16 and f32 and every algorithm that runs on
// `flat:K`, and prints per case the calls it took and the smallest magnitude seen against the
// smallest after the first call:
//
//     cmake -S . -B build -DMESHREDUCE_BUILD_BENCH=ON && cmake --build build --target meshreduce_bench_in_place_drift
//     build/bench/meshreduce_bench_in_place_drift [most calls per case=3000] [K...=2 3 4 5 6 7 8 12 16]
//
// It exits 1 if a case did not repeat within the most calls. docs/benchmarking.md gives what it
// found. (f64 needs no run: its roundoff is 2^29 times smaller than f32's.)
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/half.h"
#include "meshreduce/meshreduce.h"
#include "whole_number.h"

namespace {

using meshreduce::DType;

double load(DType dtype, const std::byte* base, std::size_t i) {
  std::uint16_t half = 0;
  float single = 0;
  switch (dtype) {
    case DType::f16: std::memcpy(&half, base + 2 * i, 2); return meshreduce::detail::f16_to_f32(half);
    case DType::bf16: std::memcpy(&half, base + 2 * i, 2); return meshreduce::detail::bf16_to_f32(half);
    default: std::memcpy(&single, base + 4 * i, 4); return single;
  }
}

void store(DType dtype, std::byte* base, std::size_t i, float v) {
  std::uint16_t half = 0;
  switch (dtype) {
    case DType::f16: half = meshreduce::detail::f32_to_f16(v); std::memcpy(base + 2 * i, &half, 2); break;
    case DType::bf16: half = meshreduce::detail::f32_to_bf16(v); std::memcpy(base + 2 * i, &half, 2); break;
    default: std::memcpy(base + 4 * i, &v, 4); break;
  }
}

struct Outcome {
  int calls = 0;        // calls made, the first included, until the values repeated
  bool repeated = false;
  double first_min = 0; // smallest nonzero magnitude after the first call
  double least_min = 0; // ... and over all calls
};

// 9 * 512 elements: every value of the fill at many positions within the algorithms' chunks.
constexpr std::size_t kElements = 4608;

Outcome run(const std::string& algorithm, DType dtype, int devices, int most_calls) {
  meshreduce::CommunicatorOptions options;
  options.topology = meshreduce::flat_topology(devices);
  options.algorithm = algorithm;
  options.threads = 1;  // the same arithmetic on any number of threads: the schedule fixes it
  meshreduce::Communicator communicator(options);
  const std::size_t bytes = kElements * meshreduce::dtype_size(dtype);
  std::vector<std::vector<std::byte>> memory(static_cast<std::size_t>(devices), std::vector<std::byte>(bytes));
  std::vector<std::vector<meshreduce::TensorView>> views(static_cast<std::size_t>(devices));
  for (std::size_t k = 0; k < memory.size(); ++k) {
    for (std::size_t i = 0; i < kElements; ++i) store(dtype, memory[k].data(), i, static_cast<float>((k * 7 + i) % 9) - 4.0f);
    views[k] = {meshreduce::TensorView(memory[k].data(), static_cast<std::int64_t>(kElements), dtype)};
  }
  const auto smallest = [&] {
    double least = INFINITY;
    for (std::size_t i = 0; i < kElements; ++i)
      if (const double v = std::fabs(load(dtype, memory[0].data(), i)); v > 0) least = std::min(least, v);
    return least;
  };
  Outcome outcome;
  communicator.allreduce(views, meshreduce::ReduceOp::average);
  outcome.calls = 1;
  outcome.first_min = outcome.least_min = smallest();
  // Device 0's bits (every device holds the same), as strings: GCC 12 warns falsely when a map
  // compares vectors of bytes.
  const auto bits = [&] { return std::string(reinterpret_cast<const char*>(memory[0].data()), bytes); };
  std::map<std::string, int> seen{{bits(), 1}};
  while (outcome.calls < most_calls && !outcome.repeated) {
    communicator.allreduce(views, meshreduce::ReduceOp::average);
    ++outcome.calls;
    outcome.least_min = std::min(outcome.least_min, smallest());
    outcome.repeated = !seen.emplace(bits(), outcome.calls).second;
    if (seen.size() > 64) seen.erase(seen.begin());  // a drift would not repeat; cycles seen are short
  }
  return outcome;
}

}  // namespace

int main(int argc, char** argv) {
  const int most_calls = argc > 1 ? static_cast<int>(parse_whole_number(argv[1], 2, 1000000, "most calls per case")) : 3000;
  std::vector<int> ks;
  for (int a = 2; a < argc; ++a) ks.push_back(static_cast<int>(parse_whole_number(argv[a], 2, 128, "K")));
  if (ks.empty()) ks = {2, 3, 4, 5, 6, 7, 8, 12, 16};
  int unrepeated = 0, most = 0;
  double least_ratio = 1;
  for (const DType dtype : {DType::f16, DType::bf16, DType::f32})
    for (const int k : ks)
      for (const meshreduce::Algorithm& algorithm : meshreduce::algorithms()) {
        Outcome outcome;
        try {
          outcome = run(std::string(algorithm.name), dtype, k, most_calls);
        } catch (const meshreduce::Error&) {
          continue;  // not on flat:K (dgx1-hierarchical off 8 devices, nic-rings off a cluster)
        }
        unrepeated += outcome.repeated ? 0 : 1;
        most = std::max(most, outcome.calls);
        least_ratio = std::min(least_ratio, outcome.least_min / outcome.first_min);
        std::printf("%-4s K = %3d %-18s %s after %d calls; smallest magnitude %.6g (after the first call %.6g)\n",
                    std::string(meshreduce::dtype_name(dtype)).c_str(), k, std::string(algorithm.name).c_str(),
                    outcome.repeated ? "repeated" : "NOT repeated", outcome.calls, outcome.least_min, outcome.first_min);
      }
  std::printf("cases that did not repeat within %d calls: %d; most calls before repeating: %d; smallest magnitude "
              "over the first call's, least: %.6g\n",
              most_calls, unrepeated, most, least_ratio);
  return unrepeated == 0 ? 0 : 1;
}
