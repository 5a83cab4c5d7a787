// Internal: one round of waiting for another thread, before parking on a condition variable.
#pragma once

#include <thread>

namespace meshreduce::detail {

// The first rounds only pause the core (the awaited thread is usually microseconds away on
// another core); later rounds yield it, because on a machine with more runnable threads than
// cores the awaited thread may be waiting for this very core (measured: K=2, 1 MiB calls took
// 130 us instead of 25 us while the caller paused on the worker's core).
constexpr int kPauseRounds = 64;

// `pause_rounds`: how many rounds pause before every round yields (processes choose it by how
// many of them share the machine's cores: exec/processes/wait.h).
inline void spin_wait(int round, int pause_rounds = kPauseRounds) {
  if (round >= pause_rounds) {
    std::this_thread::yield();
    return;
  }
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}

}  // namespace meshreduce::detail
