// This machine's memory-traffic limits, measured in the same run as a benchmark so that a
// result can be read as a fraction of what the hardware allows.
#pragma once

#include <cstdint>

namespace meshreduce::cli {

struct MemoryLimits {
  double copy_gbps = 0;          // STREAM copy: bytes read + written per second, all threads
  double reduce_busbw_gbps = 0;  // a plain single-pass K-way f32 sum into one output, as busbw
};

// Medians of `repeats` runs over buffers of `bytes` per device with `threads` threads.
MemoryLimits measure_memory_limits(int devices, std::int64_t bytes, int threads, int repeats);

}  // namespace meshreduce::cli
