// The streaming probe's B for a row: only kernels that move bytes the way that call can count.
#include <gtest/gtest.h>
#include <algorithm>

#include <string>
#include <vector>

#include "exec/threads/kernels.h"
#include "meshreduce/algorithm.h"
#include "meshreduce/bucketing.h"
#include "meshreduce/error.h"
#include "plan/program.h"
#include "stream_probe.h"

namespace meshreduce::cli {
namespace {

StreamProbe synthetic_probe() {
  StreamProbe probe;
  probe.kernels = {{"read", 90, 80, 8, false},
                   {"reduce 8->8", 60, 50, 16, false},
                   {"reduce 8->8 (cached stores)", 70, 60, 16, false},
                   {"reduce 8->1", 75, 70, 9, false},
                   {"reduce 8->8 in place", 95, 90, 8, true}};
  // Fixed slices of small buffers count as any other kernel of their working set.
  probe.kernels.push_back({"reduce 8->8 (cached stores), fixed slices", 72, 61, 16, false});
  probe.kernels.back().sharing = ProbeSharing::fixed;
  return probe;
}

TEST(StreamProbe, InPlaceKernelsBoundOnlyInPlaceCalls) {
  const StreamProbe probe = synthetic_probe();
  EXPECT_EQ(best_kernel_for(probe, true)->name, "reduce 8->8 in place");
  EXPECT_EQ(best_kernel_for(probe, false)->name, "read");
}

TEST(StreamProbe, OverCachedBuffersOnlyKernelsWithTheCallsWorkingSetCount) {
  const StreamProbe probe = synthetic_probe();
  // An out-of-place call of 8 devices touches 16 buffers: a kernel over fewer finds more of its
  // data in the caches than the call can.
  EXPECT_EQ(best_kernel_for(probe, false, 16)->name, "reduce 8->8 (cached stores), fixed slices");
  EXPECT_EQ(best_kernel_for(probe, true, 8)->name, "reduce 8->8 in place");
  EXPECT_EQ(best_kernel_for(probe, false, 17), nullptr);
}

TEST(StreamProbe, MeasuredKernelsSayWhatTheyTouch) {
  const StreamProbe probe = measure_stream_probe(3, std::int64_t{6} << 20, 2, 1, std::int64_t{1} << 20, 0);
  int in_place = 0;
  for (const ProbeKernel& kernel : probe.kernels) {
    EXPECT_GT(kernel.best_gbps, 0) << kernel.name;
    if (kernel.name.starts_with("reduce 3->3")) {
      EXPECT_EQ(kernel.buffers_touched, kernel.in_place ? 3 : 6) << kernel.name;
    }
    if (kernel.name.starts_with("read") || kernel.name.starts_with("write")) {
      EXPECT_EQ(kernel.buffers_touched, 3) << kernel.name;
    }
    in_place += kernel.in_place ? 1 : 0;
    // Passes over 6 MiB are longer than rounds of 1 MiB: no fixed slices.
    EXPECT_EQ(kernel.sharing, ProbeSharing::claimed) << kernel.name;
    EXPECT_GE(kernel.round_bytes, std::int64_t{1} << 20) << kernel.name;
    EXPECT_LT(kernel.round_bytes, std::int64_t{2} << 20) << kernel.name;
  }
  EXPECT_EQ(in_place, 2);
}

// A round over buffers that outgrow the caches moves kRoundsPerCache times what the caches hold of
// them, so that the lines a round leaves to be written back are a small part of it.
TEST(StreamProbe, RoundsOverBuffersThatOutgrowTheCachesAreLonger) {
  StreamProbe probe;
  probe.round_bytes = std::int64_t{1} << 20;
  probe.cache_bytes = std::int64_t{4} << 20;
  EXPECT_EQ(probe.round_bytes_for(std::int64_t{256} << 10), std::int64_t{1} << 20);
  EXPECT_EQ(probe.round_bytes_for(std::int64_t{2} << 20), kRoundsPerCache * (std::int64_t{2} << 20));
  EXPECT_EQ(probe.round_bytes_for(std::int64_t{64} << 20), kRoundsPerCache * (std::int64_t{4} << 20));
  probe.cache_bytes = 0;  // none known: rounds of round_bytes
  EXPECT_EQ(probe.round_bytes_for(std::int64_t{64} << 20), std::int64_t{1} << 20);

  // K = 3 over 6 MiB: buffers of 1 MiB. With 1 MiB of cache, read (over 3 MiB) and reduce 3->3
  // (over 6 MiB) run rounds of 4 MiB; without it (MeasuredKernelsSayWhatTheyTouch), of 1 MiB. The
  // longer rounds do not make their passes small: no fixed slices either way.
  const StreamProbe measured = measure_stream_probe(3, std::int64_t{6} << 20, 2, 1, std::int64_t{1} << 20, std::int64_t{1} << 20);
  EXPECT_EQ(measured.cache_bytes, std::int64_t{1} << 20);
  for (const ProbeKernel& kernel : measured.kernels) {
    EXPECT_EQ(kernel.sharing, ProbeSharing::claimed) << kernel.name;
    const std::int64_t round = kernel.round_bytes;
    EXPECT_GE(round, std::int64_t{4} << 20) << kernel.name;
    EXPECT_LT(round, (std::int64_t{4} << 20) + (std::int64_t{1} << 20)) << kernel.name;  // whole pieces
  }
}

// Over buffers whose passes are shorter than a round, every kernel also runs on fixed slices.
TEST(StreamProbe, SmallBuffersAlsoRunOnFixedSlices) {
  const StreamProbe probe = measure_stream_probe(2, std::int64_t{256} << 10, 2, 1, std::int64_t{4} << 20, 0);
  int claimed = 0;
  int fixed = 0;
  for (const ProbeKernel& kernel : probe.kernels) {
    EXPECT_GT(kernel.best_gbps, 0) << kernel.name;
    (kernel.sharing == ProbeSharing::fixed ? fixed : claimed) += 1;
  }
  EXPECT_GT(claimed, 0);
  EXPECT_EQ(fixed, claimed);
}

// The pieces the executor runs for `auto`'s pick on threads (direct), as lowered for a call and
// with the stores run_kernel then uses, in place and out of place, are kernels the probe runs:
// the same loop, sources, destinations and stores over the same kind of memory. A probe without
// them could measure less than the executor reaches, and its bound would be no bound.
TEST(StreamProbe, RunsTheExecutorsOwnKernels) {
  for (int k : {2, 3, 5}) {
    const StreamProbe probe = measure_stream_probe(k, std::int64_t{2} * k << 20, 2, 1, std::int64_t{1} << 20, 0);
    AlgorithmRequest request;
    request.num_devices = k;
    request.count = std::int64_t{1} << 18;
    const std::vector<TensorSpec> layout{{request.count, DType::f32}};
    const std::vector<Bucket> buckets = make_buckets(layout, BucketingOptions{});
    for (std::int64_t stream_min : {std::int64_t{-1}, std::int64_t{0}}) {
      const detail::Program program =
          detail::lower_schedule(build_schedule(find_algorithm("direct"), request), buckets, 1 << 16, stream_min);
      ASSERT_FALSE(program.pieces.empty());
      for (const detail::Piece& piece : program.pieces)
        for (bool in_place : {false, true}) {
          // Distinct addresses per device; in place, each destination is that device's source.
          std::vector<float> memory(static_cast<std::size_t>(2 * k));
          std::vector<const void*> srcs;
          std::vector<void*> dsts;
          for (int d = 0; d < piece.sources; ++d) srcs.push_back(&memory[static_cast<std::size_t>(d)]);
          for (int d = 0; d < piece.destinations; ++d)
            dsts.push_back(&memory[static_cast<std::size_t>(in_place ? d : k + d)]);
          detail::KernelArgs args;
          args.kind = piece.kind;
          args.srcs = srcs;
          args.dsts = dsts;
          args.stream = piece.stream;
          const bool stream = detail::streams_stores(args);
          bool found = false;
          for (const ProbeKernel& kernel : probe.kernels)
            found = found || (kernel.loop == ProbeLoop::reduce && piece.kind == StepKind::reduce &&
                              kernel.sources == piece.sources && kernel.destinations == piece.destinations &&
                              kernel.stream == stream && kernel.in_place == in_place &&
                              kernel.buffers_touched == (in_place ? k : 2 * k));
          EXPECT_TRUE(found) << "K=" << k << " piece of step " << piece.step << ", " << piece.sources << "->"
                             << piece.destinations << (in_place ? " in place" : " out of place")
                             << (stream ? ", non-temporal stores" : ", ordinary stores");
        }
    }
  }
}

// A call whose buffers outgrow the main probe's is bounded by a probe over those very buffers
// (K = 5 at 256 MiB per device ran at 1.5 times the main probe's B over 512 MiB), and by it
// alone: B comes from kernels over at least the call's working set, so the call cannot beat it,
// and not from the main probe's over fewer bytes, which the caches favour more than the call.
TEST(StreamProbe, CallsLargerThanTheMainProbeAreProbedOverTheirOwnBuffers) {
  const int k = 3;
  const std::int64_t main_bytes = std::int64_t{1} << 20;
  BoundProbes probes(measure_stream_probe(k, main_bytes, 2, 1, std::int64_t{1} << 20, 0), k, 2, 0);
  const std::int64_t s = std::int64_t{1} << 20;  // 2 K S = 6 MiB, over the main probe's 1 MiB
  std::vector<std::vector<float>> memory(2 * k, std::vector<float>(static_cast<std::size_t>(s) / sizeof(float)));
  for (std::size_t b = 0; b < memory.size(); ++b)
    for (std::size_t e = 0; e < memory[b].size(); ++e) memory[b][e] = static_cast<float>((b * 7 + e * 3) % 11) - 5;
  for (bool in_place : {false, true}) {
    ProbeMemory call;
    call.bytes_per_buffer = static_cast<std::size_t>(s);
    for (int d = 0; d < k; ++d) {
      call.inputs.push_back(reinterpret_cast<std::byte*>(memory[static_cast<std::size_t>(d)].data()));
      if (!in_place) call.outputs.push_back(reinterpret_cast<std::byte*>(memory[static_cast<std::size_t>(k + d)].data()));
    }
    const double b = probes.best_gbps(s, in_place, &call);
    const StreamProbe* own = probes.call_probe(s, in_place);
    ASSERT_NE(own, nullptr) << (in_place ? "in place" : "out of place");
    EXPECT_EQ(own->bytes, (in_place ? 1 : 2) * k * s);
    // Of the kernels over at least the call's working set (K buffers in place, 2 K out of place).
    const ProbeKernel* best = best_kernel_for(*own, in_place, (in_place ? 1 : 2) * k);
    ASSERT_NE(best, nullptr);
    // The main probe's kernels, over fewer bytes than the call, do not count: B is the own
    // probe's alone, whichever is higher.
    EXPECT_EQ(b, best->best_gbps);
    EXPECT_EQ(b, probes.own_buffers_gbps(s, in_place));
    // Every kernel of the executor's in-place call runs over the call's own buffers; out of
    // place, the K->K reduce over its K inputs and K outputs.
    bool runs_the_call = false;
    for (const ProbeKernel& kernel : own->kernels) {
      EXPECT_GT(kernel.best_gbps, 0) << kernel.name;
      if (in_place) {
        EXPECT_TRUE(kernel.in_place || kernel.loop == ProbeLoop::read) << kernel.name;
      }
      runs_the_call = runs_the_call || (kernel.loop == ProbeLoop::reduce && kernel.destinations == k &&
                                        kernel.in_place == in_place && kernel.buffers_touched == (in_place ? k : 2 * k));
    }
    EXPECT_TRUE(runs_the_call) << (in_place ? "in place" : "out of place");
    EXPECT_DOUBLE_EQ(probes.bound_seconds(s, in_place, &call), 2.0 * k * static_cast<double>(s) / (b * 1e9));
  }
  // Without the call's buffers, the main probe's B, as before.
  EXPECT_EQ(probes.best_gbps(2 * s, false), best_kernel_for(probes.main(), false)->best_gbps);
}

// Not only calls larger than the main probe: every call whose buffers outgrow the caches is probed
// over its own buffers (a probe over other memory of its size can read slower than the call's own
// pages), while calls the caches hold are probed over buffers of their size.
TEST(StreamProbe, CallsThatOutgrowTheCachesAreProbedOverTheirOwnBuffers) {
  const int k = 2;
  // Buffers of 64-256 KiB: a read over the K inputs stays in a core's own cache, where it often
  // runs faster than any kernel over all 2 K buffers, so a B that counted it would show (in about
  // half of the sizes each time: dropping the working set failed this test in 3 of 6 runs with
  // one size).
  const std::int64_t cache = std::int64_t{64} << 10;
  BoundProbes probes(measure_stream_probe(k, std::int64_t{8} << 20, 2, 1, std::int64_t{1} << 20, cache), k, 2, 0);
  for (const std::int64_t s : {std::int64_t{16} << 10, std::int64_t{64} << 10, std::int64_t{96} << 10,
                               std::int64_t{128} << 10, std::int64_t{192} << 10, std::int64_t{256} << 10}) {
    std::vector<std::vector<float>> memory(2 * k, std::vector<float>(static_cast<std::size_t>(s) / sizeof(float), 1.0f));
    ProbeMemory call;
    call.bytes_per_buffer = static_cast<std::size_t>(s);
    for (int d = 0; d < k; ++d) {
      call.inputs.push_back(reinterpret_cast<std::byte*>(memory[static_cast<std::size_t>(d)].data()));
      call.outputs.push_back(reinterpret_cast<std::byte*>(memory[static_cast<std::size_t>(k + d)].data()));
    }
    const double b = probes.best_gbps(s, false, &call);
    EXPECT_GT(b, 0);
    const bool outgrows = 2 * k * s > cache;
    ASSERT_EQ(probes.call_probe(s, false) != nullptr, outgrows) << s << " bytes per device";
    if (!outgrows) continue;
    // Only kernels over at least the call's 2 K buffers count: a read over its K inputs (half of
    // its memory, which the caches may hold) is no bound for it.
    const ProbeKernel* own = best_kernel_for(*probes.call_probe(s, false), false, 2 * k);
    ASSERT_NE(own, nullptr);
    // Within the main probe's 8 MiB, whose kernels ran over more bytes than the call: the higher.
    EXPECT_EQ(b, std::max(best_kernel_for(probes.main(), false)->best_gbps, own->best_gbps));
    EXPECT_EQ(probes.own_buffers_gbps(s, false), own->best_gbps);
  }
}

// The last-level cache is shared with every process of the host, and a probe over other memory
// of a row's size, run once, was seen to read 1.24 times too low (K = 8, 16 MiB in place, on a VM
// with 260 MiB of L3): a row whose buffers outgrow the cores' own caches is probed over its own
// buffers even where the last-level cache holds them, with only the kernels that count for it.
TEST(StreamProbe, CallsThatOutgrowTheCoresOwnCachesAreProbedOverTheirOwnBuffers) {
  const int k = 2;
  const std::int64_t llc = std::int64_t{64} << 20;
  const std::int64_t own_caches = std::int64_t{256} << 10;
  const StreamProbe main = measure_stream_probe(k, std::int64_t{2} << 20, 2, 1, std::int64_t{1} << 20, llc);
  BoundProbes probes(main, k, 2, own_caches);
  EXPECT_EQ(probes.own_buffers_above(), own_caches);
  EXPECT_EQ(BoundProbes(main, k, 2, 0).own_buffers_above(), llc) << "unknown own caches: the last-level ones";
  EXPECT_EQ(BoundProbes(main, k, 2, llc * 2).own_buffers_above(), llc) << "the smaller of the two";
  const std::int64_t s = std::int64_t{128} << 10;  // 2 K S = 512 KiB: over 256 KiB, far under 64 MiB
  std::vector<std::vector<float>> memory(2 * k, std::vector<float>(static_cast<std::size_t>(s) / sizeof(float), 1.0f));
  for (const bool in_place : {false, true}) {
    ProbeMemory call;
    call.bytes_per_buffer = static_cast<std::size_t>(s);
    for (int d = 0; d < k; ++d) {
      call.inputs.push_back(reinterpret_cast<std::byte*>(memory[static_cast<std::size_t>(d)].data()));
      if (!in_place) call.outputs.push_back(reinterpret_cast<std::byte*>(memory[static_cast<std::size_t>(k + d)].data()));
    }
    EXPECT_TRUE(probes.probe_again(s, in_place, &call)) << in_place;
    const StreamProbe* own = probes.call_probe(s, in_place);
    ASSERT_NE(own, nullptr) << in_place;
    EXPECT_EQ(own->rounds, main.rounds) << "a row's probe runs the main probe's rounds (--probe-rounds)";
    // Only kernels that can bound this call ran: over at least its working set, and in-place
    // kernels only for an in-place call.
    for (const ProbeKernel& kernel : own->kernels) {
      EXPECT_GE(kernel.buffers_touched, (in_place ? 1 : 2) * k) << kernel.name;
      if (!in_place) {
        EXPECT_FALSE(kernel.in_place) << kernel.name;
      }
    }
    const auto claimed = std::count_if(own->kernels.begin(), own->kernels.end(),
                                       [](const ProbeKernel& kernel) { return kernel.sharing == ProbeSharing::claimed; });
    EXPECT_EQ(claimed, in_place ? 3 : 4) << "read and the in-place reduces; copies and K->K reduces";
    // The same row under the last-level rule alone is probed over other memory of its size.
    BoundProbes llc_only(main, k, 2, 0);
    EXPECT_FALSE(llc_only.probe_again(s, in_place, &call));
    EXPECT_EQ(llc_only.call_probe(s, in_place), nullptr);
  }
}

// A row's probe runs again on each side of its calls (probe_again); over the call's own buffers
// it says so, since it has changed their values (bench then rewrites the inputs), and B only rises.
TEST(StreamProbe, ARowsProbeRunsAgainAndSaysWhenItWroteTheCallsBuffers) {
  const int k = 3;
  const std::int64_t s = std::int64_t{1} << 20;  // 2 K S = 6 MiB, over the main probe's 1 MiB
  // Caches of 512 KiB: a footprint of 6 MiB outgrows them, one of 384 KiB (below) does not.
  BoundProbes probes(measure_stream_probe(k, std::int64_t{1} << 20, 2, 1, std::int64_t{1} << 20, std::int64_t{512} << 10),
                     k, 2, 0);
  std::vector<std::vector<float>> memory(2 * k, std::vector<float>(static_cast<std::size_t>(s) / sizeof(float), 1.0f));
  ProbeMemory call;
  call.bytes_per_buffer = static_cast<std::size_t>(s);
  for (int d = 0; d < k; ++d) call.inputs.push_back(reinterpret_cast<std::byte*>(memory[static_cast<std::size_t>(d)].data()));
  EXPECT_FALSE(probes.probe_again(s, true));  // no buffers: the main probe bounds it
  EXPECT_EQ(probes.call_probe(s, true), nullptr);
  EXPECT_TRUE(probes.probe_again(s, true, &call));
  EXPECT_NE(memory[0][0], 1.0f) << "the in-place kernels wrote the call's inputs";
  ASSERT_NE(probes.call_probe(s, true), nullptr);
  const double first = probes.best_gbps(s, true, &call);
  EXPECT_TRUE(probes.probe_again(s, true, &call));
  EXPECT_GE(probes.best_gbps(s, true, &call), first);
  // A footprint the caches hold is probed over buffers of its own, not the call's.
  const std::int64_t small = std::int64_t{64} << 10;
  ProbeMemory small_call = call;
  small_call.bytes_per_buffer = static_cast<std::size_t>(small);
  std::fill(memory[0].begin(), memory[0].end(), 1.0f);
  EXPECT_FALSE(probes.probe_again(small, true, &small_call));
  EXPECT_EQ(memory[0][0], 1.0f);
  EXPECT_EQ(probes.call_probe(small, true), nullptr);
  const double small_first = probes.best_gbps(small, false);
  EXPECT_FALSE(probes.probe_again(small, false));
  EXPECT_GE(probes.best_gbps(small, false), small_first);
}

// A sweep probes again before each row and keeps each kernel's better rate: a probe that read
// low (a rate scaled down here) is raised, one that read high is kept, so B never falls.
TEST(StreamProbe, ProbingAgainRaisesBNeverLowersIt) {
  const int k = 2;
  const std::int64_t main_bytes = std::int64_t{4} << 20;
  const StreamProbe measured = measure_stream_probe(k, main_bytes, 2, 2, std::int64_t{1} << 20, 0);
  const std::int64_t large = main_bytes, small = std::int64_t{64} << 10;  // footprints 4x and 1/16 of the main's
  for (const double scale : {1e-3, 1e3}) {
    StreamProbe scaled = measured;
    for (ProbeKernel& kernel : scaled.kernels) kernel.best_gbps *= scale;
    scaled.best_gbps *= scale;
    BoundProbes probes(scaled, k, 2, 0);
    const double before = probes.best_gbps(large, false);
    const double small_before = probes.best_gbps(small, false);
    probes.reprobe(large);
    probes.reprobe(small);
    if (scale < 1) {
      EXPECT_GT(probes.best_gbps(large, false), 10 * before) << "a low main probe was not raised";
    } else {
      EXPECT_EQ(probes.best_gbps(large, false), before) << "a high main probe was lowered";
    }
    EXPECT_GE(probes.best_gbps(small, false), small_before);
    EXPECT_GE(probes.main().best_gbps, scaled.best_gbps);
  }
}

TEST(StreamProbe, OwnBuffersMustBeAtLeastTwoInputsAndMatchingOutputs) {
  std::vector<float> memory(1024);
  ProbeMemory call;
  call.bytes_per_buffer = 1024;
  call.inputs = {reinterpret_cast<std::byte*>(memory.data())};
  EXPECT_THROW(measure_stream_probe_over(call, 1, 1, std::int64_t{1} << 20, 0), InvalidArgument);
  call.inputs.push_back(reinterpret_cast<std::byte*>(memory.data() + 256));
  call.outputs = {reinterpret_cast<std::byte*>(memory.data() + 512)};
  EXPECT_THROW(measure_stream_probe_over(call, 1, 1, std::int64_t{1} << 20, 0), InvalidArgument);
  call.outputs.clear();
  call.bytes_per_buffer = 2;
  EXPECT_THROW(measure_stream_probe_over(call, 1, 1, std::int64_t{1} << 20, 0), InvalidArgument);
  call.bytes_per_buffer = 1024;
  EXPECT_THROW(measure_stream_probe_over(call, 1, 0, std::int64_t{1} << 20, 0), InvalidArgument);
  EXPECT_EQ(measure_stream_probe_over(call, 1, 1, std::int64_t{1} << 20, 0).bytes, 2 * 1024);
}

}  // namespace
}  // namespace meshreduce::cli
