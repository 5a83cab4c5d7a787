// Internal: waiting for a flag another process sets in shared memory, always with a deadline.
// The first rounds pause the core (the other process is usually microseconds away); later
// rounds yield it, since with more processes than cores (mpirun --oversubscribe) the awaited
// process may need this very core. The clock is read only once the flag was not already set,
// and then every kClockEvery rounds.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "exec/threads/spin.h"

namespace meshreduce::detail {

inline std::atomic_ref<std::uint64_t> shared_flag(std::byte* base, std::size_t offset) {
  return std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(base + offset));
}

enum class WaitResult : std::uint8_t { reached, failed, timed_out };

// Waits until `flag` >= `value` (acquire), or `failed` is nonzero, or `timeout` passes;
// `poll()` runs every round (the transport's progress: the flag may be this process's own).
template <typename Poll>
WaitResult wait_at_least(std::atomic_ref<std::uint64_t> flag, std::uint64_t value, std::atomic_ref<std::uint64_t> failed,
                         std::chrono::milliseconds timeout, Poll&& poll) {
  constexpr int kClockEvery = 256;
  if (flag.load(std::memory_order_acquire) >= value) return WaitResult::reached;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (int round = 0;; ++round) {
    poll();
    if (flag.load(std::memory_order_acquire) >= value) return WaitResult::reached;
    if (failed.load(std::memory_order_acquire) != 0) return WaitResult::failed;
    if (round % kClockEvery == kClockEvery - 1 && std::chrono::steady_clock::now() >= deadline)
      return WaitResult::timed_out;
    spin_wait(round);
  }
}

}  // namespace meshreduce::detail
