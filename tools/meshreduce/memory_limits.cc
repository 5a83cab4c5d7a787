// The reference points are written plainly on purpose: a memcpy per thread, and a loop that
// reads K inputs once and writes one output, split across threads by range.
#include "memory_limits.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "cli_common.h"

namespace meshreduce::cli {
namespace {

template <typename Body>
double timed_parallel(int threads, std::int64_t total, const Body& body) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] { body(total * t / threads, total * (t + 1) / threads); });
  for (std::thread& worker : workers) worker.join();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

MemoryLimits measure_memory_limits(int devices, std::int64_t bytes, int threads, int repeats) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const std::int64_t count = std::max<std::int64_t>(bytes / 4, 1);
  std::vector<std::unique_ptr<float[]>> inputs;
  for (int k = 0; k < devices; ++k) {
    inputs.push_back(std::make_unique<float[]>(static_cast<std::size_t>(count)));
    std::fill_n(inputs.back().get(), count, static_cast<float>(k));
  }
  auto output = std::make_unique<float[]>(static_cast<std::size_t>(count));

  std::vector<double> copy_times;
  std::vector<double> reduce_times;
  for (int r = 0; r < repeats + 1; ++r) {  // the first round only warms the pages
    const double copy = timed_parallel(threads, count, [&](std::int64_t begin, std::int64_t end) {
      std::memcpy(output.get() + begin, inputs[0].get() + begin, static_cast<std::size_t>(end - begin) * sizeof(float));
    });
    const double reduce = timed_parallel(threads, count, [&](std::int64_t begin, std::int64_t end) {
      // One pass over memory: a block of the output stays in L1 while all K inputs are added.
      constexpr std::int64_t kBlock = 2048;
      float* out = output.get();
      for (std::int64_t block = begin; block < end; block += kBlock) {
        const std::int64_t stop = std::min(end, block + kBlock);
        for (std::int64_t i = block; i < stop; ++i) out[i] = inputs[0][static_cast<std::size_t>(i)];
        for (int k = 1; k < devices; ++k) {
          const float* in = inputs[static_cast<std::size_t>(k)].get();
          for (std::int64_t i = block; i < stop; ++i) out[i] += in[i];
        }
      }
    });
    if (r > 0) {
      copy_times.push_back(copy);
      reduce_times.push_back(reduce);
    }
  }
  const auto total_bytes = count * static_cast<std::int64_t>(sizeof(float));
  // As STREAM counts a copy: every byte is read once and written once.
  return {2.0 * algbw_gbps(total_bytes, median(copy_times)),
          busbw_gbps(total_bytes, median(reduce_times), devices)};
}

}  // namespace meshreduce::cli
