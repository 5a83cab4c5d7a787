// The probe runs the kernels the executor runs (run_kernel's copy and reduce with non-temporal
// stores) and plain read and write loops in the same SIMD code (stream_kernels.h), on threads
// started once before any timing, over pages written once before any timing. Each thread takes
// one contiguous range of every buffer, as the executor splits a step into pieces. A kernel's
// traffic is what it must move: read S; write S; copy 2 S; a K-to-1 reduce (K + 1) S; a K-to-K
// reduce (every input read once, every output written once: the allreduce itself in one pass)
// 2 K S. B is the best of all: the more kernels the probe tries, the closer B comes to what the
// memory system gives, and a bound from a B that is too low would be no bound.
#include "stream_probe.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <span>
#include <thread>

#include "cli_common.h"
#include "exec/threads/kernels.h"
#include "exec/threads/stream_kernels.h"
#include "exec/threads/thread_pool.h"
#include "meshreduce/error.h"

namespace meshreduce::cli {
namespace {

constexpr std::size_t kPage = 4096;

struct Aligned {
  std::unique_ptr<std::byte[]> memory;
  std::byte* data = nullptr;
};

Aligned allocate(std::size_t bytes) {
  Aligned buffer{std::make_unique_for_overwrite<std::byte[]>(bytes + kPage), nullptr};
  const auto address = reinterpret_cast<std::uintptr_t>(buffer.memory.get());
  buffer.data = buffer.memory.get() + (kPage - address % kPage) % kPage;
  return buffer;
}

}  // namespace

double StreamProbe::bound_seconds(std::int64_t bytes, int devices) const {
  return best_gbps > 0 ? 2.0 * devices * static_cast<double>(bytes) / (best_gbps * 1e9) : 0;
}

StreamProbe measure_stream_probe(int devices, std::int64_t bytes, int threads, int repetitions,
                                 std::int64_t min_round_bytes) {
  const int k = std::max(devices, 2);
  if (repetitions < 1) throw InvalidArgument("stream probe: needs at least 1 repetition, got " + std::to_string(repetitions));
  detail::ThreadPool pool(threads);
  const auto workers = static_cast<std::size_t>(pool.size());
  // Each buffer a whole number of pages per thread, so that every thread's range is page aligned.
  const std::size_t unit = kPage * workers;
  const std::size_t per_buffer = std::max<std::size_t>(static_cast<std::size_t>(bytes) / (2 * static_cast<std::size_t>(k)) / unit, 1) * unit;
  const std::size_t range = per_buffer / workers;
  std::vector<Aligned> inputs;
  std::vector<Aligned> outputs;
  for (int i = 0; i < k; ++i) {
    inputs.push_back(allocate(per_buffer));
    outputs.push_back(allocate(per_buffer));
  }
  // Pages touched before timing, each by the thread that will use it (first touch places it).
  pool.run([&](int t) {
    const std::size_t begin = static_cast<std::size_t>(t) * range;
    for (int i = 0; i < k; ++i) {
      auto* in = reinterpret_cast<float*>(inputs[static_cast<std::size_t>(i)].data + begin);
      for (std::size_t e = 0; e < range / sizeof(float); ++e) in[e] = static_cast<float>((e + static_cast<std::size_t>(i)) % 17);
      std::memset(outputs[static_cast<std::size_t>(i)].data + begin, 0, range);
    }
  });

  std::vector<std::uint64_t> sinks(workers);
  const auto ks = static_cast<std::size_t>(k);
  const auto count = static_cast<std::int64_t>(range / sizeof(float));
  // Per thread: pointers into its own range of every buffer, so kernels allocate nothing.
  std::vector<std::vector<const void*>> srcs(workers);
  std::vector<std::vector<void*>> dsts(workers);
  for (std::size_t t = 0; t < workers; ++t)
    for (std::size_t i = 0; i < ks; ++i) {
      srcs[t].push_back(inputs[i].data + t * range);
      dsts[t].push_back(outputs[i].data + t * range);
    }
  const auto reduce = [&](int t, std::size_t destinations, bool stream) {
    const auto w = static_cast<std::size_t>(t);
    detail::KernelArgs args;
    args.kind = StepKind::reduce;
    args.dtype = DType::f32;
    args.count = count;
    args.srcs = std::span<const void* const>(srcs[w]);
    args.dsts = std::span<void* const>(dsts[w].data(), destinations);
    args.stream = stream;
    detail::run_kernel(args);
  };
  const auto copy = [&](int t, bool stream) {
    const auto w = static_cast<std::size_t>(t);
    for (std::size_t i = 0; i < ks; ++i) {
      if (!stream) {
        std::memcpy(dsts[w][i], srcs[w][i], range);
        continue;
      }
      detail::KernelArgs args;
      args.kind = StepKind::copy;
      args.dtype = DType::f32;
      args.count = count;
      args.srcs = std::span<const void* const>(&srcs[w][i], 1);
      args.dsts = std::span<void* const>(&dsts[w][i], 1);
      args.stream = true;
      detail::run_kernel(args);
    }
  };
  struct Kernel {
    std::string name;
    double traffic;  // bytes moved per round
    std::function<void(int)> body;
  };
  const double s = static_cast<double>(per_buffer);
  const std::string kk = std::to_string(k);
  // Non-temporal stores help when the data does not fit in the caches, cached stores when it does:
  // both are tried, and the faster counts.
  const std::vector<Kernel> kernels{
      {"read", k * s, [&](int t) { for (std::size_t i = 0; i < ks; ++i) sinks[static_cast<std::size_t>(t)] ^= detail::stream_read(srcs[static_cast<std::size_t>(t)][i], range); }},
      {"write", k * s, [&](int t) { for (std::size_t i = 0; i < ks; ++i) detail::stream_write(dsts[static_cast<std::size_t>(t)][i], range, 1, true); }},
      {"write (cached stores)", k * s, [&](int t) { for (std::size_t i = 0; i < ks; ++i) detail::stream_write(dsts[static_cast<std::size_t>(t)][i], range, 2, false); }},
      {"copy", 2 * k * s, [&](int t) { copy(t, true); }},
      {"copy (memcpy)", 2 * k * s, [&](int t) { copy(t, false); }},
      {"reduce " + kk + "->1", (k + 1) * s, [&](int t) { reduce(t, 1, true); }},
      {"reduce " + kk + "->1 (cached stores)", (k + 1) * s, [&](int t) { reduce(t, 1, false); }},
      {"reduce " + kk + "->" + kk, 2 * k * s, [&](int t) { reduce(t, ks, true); }},
      {"reduce " + kk + "->" + kk + " (cached stores)", 2 * k * s, [&](int t) { reduce(t, ks, false); }},
  };

  StreamProbe probe;
  probe.threads = pool.size();
  probe.repetitions = repetitions;
  probe.bytes = static_cast<std::int64_t>(2 * ks * per_buffer);
  for (const Kernel& kernel : kernels) {
    // Small buffers are passed over several times per round, so that a round lasts long enough to
    // time and the data stays in the caches, as it does for repeated calls on small buffers.
    const auto passes = static_cast<int>(std::clamp<double>(static_cast<double>(min_round_bytes) / kernel.traffic, 1, 1 << 20));
    const auto body = [&](int t) {
      for (int p = 0; p < passes; ++p) kernel.body(t);
    };
    std::vector<double> seconds;
    for (int r = 0; r <= repetitions; ++r) {  // round 0 is untimed
      const auto start = std::chrono::steady_clock::now();
      pool.run(body);
      const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
      if (r > 0) seconds.push_back(elapsed.count());
    }
    const double best = *std::min_element(seconds.begin(), seconds.end());
    const double traffic = kernel.traffic * passes;
    ProbeKernel result{kernel.name, traffic / best / 1e9, traffic / median(seconds) / 1e9};
    if (result.best_gbps > probe.best_gbps) {
      probe.best_gbps = result.best_gbps;
      probe.best_kernel = kernel.name;
    }
    probe.kernels.push_back(std::move(result));
  }
  std::uint64_t sink = 0;
  for (std::uint64_t v : sinks) sink ^= v;
  if (sink == 0x5a5a5a5a5a5a5a5aULL) probe.threads = -probe.threads;  // keeps the reads observable
  return probe;
}

double BoundProbes::best_gbps(std::int64_t footprint) {
  if (footprint >= main_.bytes) return main_.best_gbps;
  auto found = by_footprint_.find(footprint);
  if (found == by_footprint_.end()) {
    constexpr std::int64_t kRoundBytes = std::int64_t{128} << 20;  // a round of a few ms
    const StreamProbe local = measure_stream_probe(devices_, footprint, threads_, 3, kRoundBytes);
    found = by_footprint_.emplace(footprint, std::max(main_.best_gbps, local.best_gbps)).first;
  }
  return found->second;
}

double BoundProbes::bound_seconds(std::int64_t bytes, std::int64_t footprint) {
  const double b = best_gbps(footprint);
  return b > 0 ? 2.0 * devices_ * static_cast<double>(bytes) / (b * 1e9) : 0;
}

}  // namespace meshreduce::cli
