// The probe's read and write loops: four vectors per iteration, as the executor's kernels do, so
// that the probe reaches what the hardware gives and not what one dependent chain of loads or
// stores allows. Streamed writes start at the first vector-aligned address (hn::Stream needs
// alignment); the ends are written with memset.
#include "exec/threads/stream_kernels.h"

#include <cstring>

// As kernels.cc: SSSE3-only CPUs take the scalar target.
#ifndef HWY_DISABLED_TARGETS
#define HWY_DISABLED_TARGETS HWY_SSSE3
#endif
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "exec/threads/stream_kernels.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
// foreach_target.h must come first.
#include <hwy/cache_control.h>
#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace meshreduce::detail {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

std::uint64_t StreamRead(const void* source, std::size_t bytes) {
  const hn::ScalableTag<std::uint64_t> d;
  const std::size_t n = hn::Lanes(d);
  const auto* src = static_cast<const std::uint64_t*>(source);
  const std::size_t words = bytes / sizeof(std::uint64_t);
  auto a0 = hn::Zero(d);
  auto a1 = hn::Zero(d);
  auto a2 = hn::Zero(d);
  auto a3 = hn::Zero(d);
  std::size_t i = 0;
  for (; i + 4 * n <= words; i += 4 * n) {
    a0 = hn::Xor(a0, hn::LoadU(d, src + i));
    a1 = hn::Xor(a1, hn::LoadU(d, src + i + n));
    a2 = hn::Xor(a2, hn::LoadU(d, src + i + 2 * n));
    a3 = hn::Xor(a3, hn::LoadU(d, src + i + 3 * n));
  }
  const auto all = hn::Xor(hn::Xor(a0, a1), hn::Xor(a2, a3));
  std::uint64_t sum = 0;
  for (std::size_t lane = 0; lane < n; ++lane) sum ^= hn::ExtractLane(all, lane);
  for (; i < words; ++i) sum ^= src[i];
  const auto* tail = static_cast<const std::uint8_t*>(source) + words * sizeof(std::uint64_t);
  for (std::size_t b = 0; b < bytes % sizeof(std::uint64_t); ++b) sum ^= tail[b];
  return sum;
}

void StreamWrite(void* destination, std::size_t bytes, std::uint8_t value, bool stream) {
  const hn::ScalableTag<std::uint8_t> d;
  const std::size_t n = hn::Lanes(d);
  auto* dst = static_cast<std::uint8_t*>(destination);
  const auto v = hn::Set(d, value);
  const std::size_t misaligned = reinterpret_cast<std::uintptr_t>(dst) % n;
  std::size_t begin = misaligned == 0 ? 0 : n - misaligned;
  if (begin > bytes) begin = bytes;
  std::memset(dst, value, begin);
  for (; begin + 4 * n <= bytes; begin += 4 * n) {
    if (stream) {
      hn::Stream(v, d, dst + begin);
      hn::Stream(v, d, dst + begin + n);
      hn::Stream(v, d, dst + begin + 2 * n);
      hn::Stream(v, d, dst + begin + 3 * n);
    } else {
      hn::Store(v, d, dst + begin);
      hn::Store(v, d, dst + begin + n);
      hn::Store(v, d, dst + begin + 2 * n);
      hn::Store(v, d, dst + begin + 3 * n);
    }
  }
  std::memset(dst + begin, value, bytes - begin);
  if (stream) hwy::FlushStream();
}

}  // namespace HWY_NAMESPACE
}  // namespace meshreduce::detail
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace meshreduce::detail {

HWY_EXPORT(StreamRead);
HWY_EXPORT(StreamWrite);

std::uint64_t stream_read(const void* src, std::size_t bytes) { return HWY_DYNAMIC_DISPATCH(StreamRead)(src, bytes); }

void stream_write(void* dst, std::size_t bytes, std::uint8_t value, bool stream) {
  HWY_DYNAMIC_DISPATCH(StreamWrite)(dst, bytes, value, stream);
}

}  // namespace meshreduce::detail
#endif  // HWY_ONCE
