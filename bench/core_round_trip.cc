// How long a cache line takes to go from one CPU to another and back: two threads, each pinned
// to one CPU, pass a counter back and forth; prints the 10th percentile, median and 90th
// percentile of the round trips. Small calls of the process executor hand lines between processes
// a few times per call, so their time follows this figure: on the 2-core development VM it reads
// 110-130 ns at some minutes and 390-440 ns at others (the host places the two vCPUs), and
// `mpirun -np 2 meshreduce bench --backend processes -b 4K` with it (docs/processes.md).
//
//   meshreduce_core_round_trip [cpu A] [cpu B] [round trips]     (defaults: 0 1 20000)
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "bound/whole_number.h"

namespace {

bool pin_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

using Clock = std::chrono::steady_clock;

// Spins until `flag` holds `value`; false once `deadline` passes (the other thread is gone or
// never ran).
bool await(const std::atomic<long>& flag, long value, Clock::time_point deadline) {
  for (long spins = 0; flag.load(std::memory_order_acquire) != value; ++spins)
    if (spins % 4096 == 0 && Clock::now() > deadline) return false;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 4) {
    std::fprintf(stderr, "usage: %s [cpu A] [cpu B] [round trips]\n", argv[0]);
    return 2;
  }
  const int cpus = CPU_SETSIZE - 1;
  const int a = argc > 1 ? static_cast<int>(parse_whole_number(argv[1], 0, cpus, "cpu A")) : 0;
  const int b = argc > 2 ? static_cast<int>(parse_whole_number(argv[2], 0, cpus, "cpu B")) : 1;
  const long trips = argc > 3 ? parse_whole_number(argv[3], 10, 100000000, "round trips") : 20000;
  if (a == b) {
    std::fprintf(stderr, "cpu A and cpu B must differ, both are %d\n", a);
    return 2;
  }
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  alignas(64) std::atomic<long> flag{0};
  std::atomic<bool> pinned{true};
  std::thread echo([&] {
    if (!pin_to(b)) pinned = false;
    for (long i = 0; i < trips; ++i) {
      if (!await(flag, 2 * i + 1, deadline)) return;
      flag.store(2 * i + 2, std::memory_order_release);
    }
  });
  if (!pin_to(a)) pinned = false;
  std::vector<double> ns;
  ns.reserve(static_cast<std::size_t>(trips));
  bool late = false;
  for (long i = 0; i < trips && !late; ++i) {
    const auto start = Clock::now();
    flag.store(2 * i + 1, std::memory_order_release);
    late = !await(flag, 2 * i + 2, deadline);
    ns.push_back(std::chrono::duration<double, std::nano>(Clock::now() - start).count());
  }
  if (late) flag.store(-1, std::memory_order_release);
  echo.join();
  if (!pinned) {
    std::fprintf(stderr, "could not pin a thread to cpu %d or %d (allowed CPUs: see taskset -p $$)\n", a, b);
    return 1;
  }
  if (late) {
    std::fprintf(stderr, "the echo thread did not answer within 60 s\n");
    return 1;
  }
  std::sort(ns.begin(), ns.end());
  const auto at = [&](double q) { return ns[static_cast<std::size_t>(q * static_cast<double>(ns.size() - 1))]; };
  std::printf("cpu %d <-> cpu %d, %ld round trips: p10 %.0f ns, median %.0f ns, p90 %.0f ns\n", a, b, trips, at(0.1),
              at(0.5), at(0.9));
  return 0;
}
