// How the length of the streaming probe's rounds changes what it reports: the probe's K->K reduce
// kernels (out of place and in place, non-temporal and cached stores) over the same memory, with
// rounds of several lengths, interleaved (each length once per repetition, so that all see the
// same load), printing each kernel's best and median round. A round shorter than a few times the
// last-level cache can leave a cache full of written lines to be written back in the next round;
// the best round is then the one that left the most behind, and reads above what the memory
// sustains (docs/benchmarking.md, "Rounds longer than the caches"):
//
//     cmake -S . -B build -DMESHREDUCE_BUILD_BENCH=ON && cmake --build build --target meshreduce_probe_rounds
//     build/bench/meshreduce_probe_rounds [K=2] [MiB in all=256] [repetitions=3] [round MiB...=32 128 512]
//
// Every length runs as many rounds as 25 rounds of 32 MiB move (at least 5).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "stream_probe.h"
#include "whole_number.h"

int main(int argc, char** argv) {
  using namespace meshreduce::cli;
  const int k = argc > 1 ? static_cast<int>(parse_whole_number(argv[1], 2, 64, "K")) : 2;
  const std::int64_t bytes = (argc > 2 ? parse_whole_number(argv[2], 1, 16384, "MiB in all") : 256) << 20;
  const int repetitions = argc > 3 ? static_cast<int>(parse_whole_number(argv[3], 1, 100, "repetitions")) : 3;
  std::vector<std::int64_t> lengths;
  for (int i = 4; i < argc; ++i) lengths.push_back(parse_whole_number(argv[i], 1, 16384, "round MiB") << 20);
  if (lengths.empty()) lengths = {std::int64_t{32} << 20, std::int64_t{128} << 20, std::int64_t{512} << 20};
  std::printf("K=%d over %lld MiB, best/median GB/s of each kernel's rounds (no lengthening for the caches)\n", k,
              static_cast<long long>(bytes >> 20));
  for (int repetition = 0; repetition < repetitions; ++repetition)
    for (const std::int64_t length : lengths) {
      const int rounds = static_cast<int>(std::max<std::int64_t>(5, 25 * kMinProbeRoundBytes / length));
      const StreamProbe probe = measure_stream_probe(k, bytes, 0, rounds, length, 0);
      std::printf("rounds of %4lld MiB x%2d:", static_cast<long long>(length >> 20), rounds);
      for (const ProbeKernel& kernel : probe.kernels)
        if (kernel.sources == k && kernel.destinations == k && kernel.sharing == ProbeSharing::claimed)
          std::printf("  %s %.1f/%.1f", kernel.name.c_str(), kernel.best_gbps, kernel.median_gbps);
      std::printf("\n");
      std::fflush(stdout);
    }
  return 0;
}
