// Internal: waiting for a flag another process sets in shared memory, always with a deadline.
// The first rounds pause the core (the other process is usually microseconds away); later
// rounds yield it, since with more processes than cores (mpirun --oversubscribe) the awaited
// process may need this very core. The clock is read only once the flag was not already set,
// and then in every yielding round: a yield may give the core away for milliseconds on a loaded
// machine, so reading it every 256 rounds let a 300 ms wait last seconds.
#pragma once

#include <algorithm>
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
// A peer that failed while the deadline passed is `failed`, not `timed_out`: the failure names
// the process at fault, where a timeout would name the one waited for.
template <typename Poll>
WaitResult wait_at_least(std::atomic_ref<std::uint64_t> flag, std::uint64_t value, std::atomic_ref<std::uint64_t> failed,
                         std::chrono::milliseconds timeout, Poll&& poll) {
  if (flag.load(std::memory_order_acquire) >= value) return WaitResult::reached;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (int round = 0;; round = std::min(round + 1, kPauseRounds)) {  // no overflow in a long wait
    poll();
    if (flag.load(std::memory_order_acquire) >= value) return WaitResult::reached;
    if (failed.load(std::memory_order_acquire) != 0) return WaitResult::failed;
    if (round >= kPauseRounds && std::chrono::steady_clock::now() >= deadline)
      return failed.load(std::memory_order_acquire) != 0 ? WaitResult::failed : WaitResult::timed_out;
    spin_wait(round);
  }
}

}  // namespace meshreduce::detail
