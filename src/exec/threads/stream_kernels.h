// Internal: the read-only and write-only loops of the streaming-bandwidth probe (the CLI's
// `bench` and `calibrate` measure this machine's memory with them). The probe's copy and reduce
// loops are the executor's own (kernels.h); these two complete the set, in the same SIMD code
// (Google Highway, picked at run time like run_kernel).
#pragma once

#include <cstddef>
#include <cstdint>

namespace meshreduce::detail {

// Reads `bytes` from `src` with vector loads and returns a checksum of them (XOR of 64-bit words,
// the tail folded in), so that the compiler cannot drop the reads.
std::uint64_t stream_read(const void* src, std::size_t bytes);

// Writes `bytes` of the repeated byte `value` to `dst` with vector stores: non-temporal (they
// bypass the caches) when `stream`, ordinary stores otherwise.
void stream_write(void* dst, std::size_t bytes, std::uint8_t value, bool stream);

}  // namespace meshreduce::detail
