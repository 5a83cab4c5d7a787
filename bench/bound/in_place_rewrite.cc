// What an in-place row of `meshreduce bench` timed, against what its probe times: bench rewrote
// the inputs on the calling thread before every timed in-place call (each call overwrites them;
// it now times them back to back, as nccl-tests does), while the probe's in-place kernel passes
// over its buffers round after round on running threads. This program times `direct` in place, K devices, S bytes per device, in several ways
// interleaved in one process (so all see the same load), and out of place call after call for
// comparison, and prints each way's median and fastest call, and how often the calling thread
// was taken off its core during the timed calls (involuntary context switches, per call):
//
//     cmake -S . -B build -DMESHREDUCE_BUILD_BENCH=ON && cmake --build build --target meshreduce_bench_in_place_rewrite
//     build/bench/meshreduce_bench_in_place_rewrite [K=2] [MiB per device=16] [calls per way=40] [pin=0]
//
// pin 1 binds worker thread i to core i (CommunicatorOptions::pin_threads).
//
// docs/benchmarking.md gives what it measured.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>

#include "meshreduce/meshreduce.h"
#include "whole_number.h"

namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

int main(int argc, char** argv) {
  using namespace meshreduce;
  const int k = argc > 1 ? static_cast<int>(parse_whole_number(argv[1], 2, 64, "K")) : 2;
  const long mib = argc > 2 ? parse_whole_number(argv[2], 1, 1024, "MiB per device") : 16;
  const int calls = argc > 3 ? static_cast<int>(parse_whole_number(argv[3], 1, 10000, "calls per way")) : 40;
  const bool pin = argc > 4 && parse_whole_number(argv[4], 0, 1, "pin") == 1;
  const auto n = static_cast<std::size_t>(mib) << 18;  // f32 elements
  CommunicatorOptions options;
  for (int d = 0; d < k; ++d) options.devices.push_back(d);
  options.algorithm = "direct";
  options.pin_threads = pin;
  Communicator communicator(options);

  std::vector<std::vector<float>> in(static_cast<std::size_t>(k), std::vector<float>(n));
  std::vector<std::vector<float>> out(static_cast<std::size_t>(k), std::vector<float>(n));
  std::vector<std::vector<TensorView>> in_place(static_cast<std::size_t>(k));
  std::vector<std::vector<ConstTensorView>> inputs(static_cast<std::size_t>(k));
  std::vector<std::vector<TensorView>> outputs(static_cast<std::size_t>(k));
  for (std::size_t d = 0; d < in.size(); ++d) {
    in_place[d].emplace_back(in[d].data(), static_cast<std::int64_t>(n), DType::f32);
    inputs[d].emplace_back(in[d].data(), static_cast<std::int64_t>(n), DType::f32);
    outputs[d].emplace_back(out[d].data(), static_cast<std::int64_t>(n), DType::f32);
  }
  // As bench's exact fill: small integers, per device and element, whose sums stay exact.
  const auto rewrite_device = [&](std::size_t d) {
    for (std::size_t i = 0; i < n; ++i) in[d][i] = static_cast<float>((d * 7 + i) % 9) - 4.0f;
  };
  const auto rewrite = [&] {
    for (std::size_t d = 0; d < in.size(); ++d) rewrite_device(d);
  };
  const auto rewrite_on_k_threads = [&] {
    std::vector<std::thread> threads;
    for (std::size_t d = 0; d < in.size(); ++d) threads.emplace_back(rewrite_device, d);
    for (std::thread& thread : threads) thread.join();
  };
  long preempted = 0;  // the calling thread's involuntary context switches in the last timed call
  const auto involuntary = [] {
    rusage usage{};
    getrusage(RUSAGE_THREAD, &usage);
    return usage.ru_nivcsw;
  };
  const auto timed = [&](const std::function<void()>& call) {
    const long before = involuntary();
    const auto start = Clock::now();
    call();
    const double us = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
    preempted = involuntary() - before;
    return us;
  };
  const auto in_place_call = [&] { communicator.allreduce(in_place); };
  const auto out_of_place_call = [&] { communicator.allreduce(inputs, outputs); };

  struct Way {
    std::string name;
    std::function<double()> run;  // one timed call, after what this way does first
    std::vector<double> us;
    long preempted = 0;
  };
  std::vector<Way> ways{
      {"in place: rewrite, call (as bench)", [&] { rewrite(); return timed(in_place_call); }, {}},
      {"in place: call after call", [&] { in_place_call(); return timed(in_place_call); }, {}},
      {"in place: rewrite, untimed call, call", [&] { rewrite(); in_place_call(); return timed(in_place_call); }, {}},
      {"in place: rewrite, sleep 1 ms, call",
       [&] {
         rewrite();
         std::this_thread::sleep_for(std::chrono::milliseconds(1));
         return timed(in_place_call);
       },
       {}},
      {"in place: rewrite on K threads, call", [&] { rewrite_on_k_threads(); return timed(in_place_call); }, {}},
      {"out of place: call after call", [&] { out_of_place_call(); return timed(out_of_place_call); }, {}},
  };
  rewrite();
  out_of_place_call();
  for (int c = 0; c < calls; ++c) {
    for (Way& way : ways) {
      way.us.push_back(way.run());
      way.preempted += preempted;
    }
    rewrite();  // repeated in-place sums would grow without bound
  }
  const double traffic = 2.0 * k * static_cast<double>(n * sizeof(float));  // 2 K S
  std::printf("# direct, K = %d, %ld MiB per device, %d calls per way, interleaved%s\n", k, mib, calls,
              pin ? ", workers pinned" : "");
  for (Way& way : ways) {
    std::sort(way.us.begin(), way.us.end());
    const double median = way.us[way.us.size() / 2];
    std::printf("%-40s median %9.1f us  fastest %9.1f us  2 K S / median %6.1f GB/s  preempted %.2f per call\n",
                way.name.c_str(), median, way.us.front(), traffic / median / 1e3,
                static_cast<double>(way.preempted) / static_cast<double>(calls));
  }
  return 0;
}
