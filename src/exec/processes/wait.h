// Internal: waiting for a flag another process sets in shared memory, always with a deadline.
// The first rounds pause the core (the other process is usually microseconds away); later
// rounds yield it, since with more processes than cores (mpirun --oversubscribe) the awaited
// process may need this very core. With more of the job's processes on this machine than it has
// cores there are no pausing rounds at all: the awaited process is then often waiting for this
// core, and 64 pauses are 1.5 us of it (23 ns each, measured here) per wait, several waits a call.
// The clock is read only once the flag was not already set, and then in every yielding round: a
// yield may give the core away for milliseconds on a loaded machine, so reading it every 256
// rounds let a 300 ms wait last seconds.
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

// How a process waits, chosen once per layout from the job's shape on this machine.
struct WaitPolicy {
  int pause_rounds = kPauseRounds;  // rounds that pause the core before each round yields it
};

// With a core per process, a wait pauses for about 190 us (8192 pauses of 23 ns) before it
// yields, as MPI libraries poll: on a machine loaded by other work one yield hands the core to
// that work for milliseconds (measured here, load 10: 0.6 ms a yield), and a call that had to
// wait a few microseconds for its peer then took milliseconds (K = 2, 4 KiB: 14 ms medians at
// load 27, where Open MPI, which never yields without oversubscription, took 2.7 us).
inline constexpr int kSpinRounds = 1 << 13;

// `processes_here`: the job's processes on this machine; `cores`: its cores (0: unknown).
constexpr WaitPolicy wait_policy_for(int processes_here, unsigned cores) {
  if (cores == 0) return {kPauseRounds};
  return {static_cast<unsigned>(processes_here) > cores ? 0 : kSpinRounds};
}

// Waits until `flag` >= `value` (acquire), or `failed` is nonzero, or `timeout` passes;
// `poll()` runs every round (the transport's progress: the flag may be this process's own).
// A peer that failed while the deadline passed is `failed`, not `timed_out`: the failure names
// the process at fault, where a timeout would name the one waited for.
template <typename Poll>
WaitResult wait_at_least(std::atomic_ref<std::uint64_t> flag, std::uint64_t value, std::atomic_ref<std::uint64_t> failed,
                         std::chrono::milliseconds timeout, const WaitPolicy& policy, Poll&& poll) {
  if (flag.load(std::memory_order_acquire) >= value) return WaitResult::reached;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const int pause_rounds = std::max(policy.pause_rounds, 0);
  for (int round = 0;; round = std::min(round + 1, pause_rounds)) {  // no overflow in a long wait
    poll();
    if (flag.load(std::memory_order_acquire) >= value) return WaitResult::reached;
    if (failed.load(std::memory_order_acquire) != 0) return WaitResult::failed;
    if (round >= pause_rounds && std::chrono::steady_clock::now() >= deadline)
      return failed.load(std::memory_order_acquire) != 0 ? WaitResult::failed : WaitResult::timed_out;
    spin_wait(round, pause_rounds);
  }
}

}  // namespace meshreduce::detail
