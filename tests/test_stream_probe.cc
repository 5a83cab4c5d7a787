// The streaming probe's B for a row: only kernels that move bytes the way that call can count.
#include <gtest/gtest.h>

#include <string>

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
  EXPECT_EQ(best_kernel_for(probe, false, 16)->name, "reduce 8->8 (cached stores)");
  EXPECT_EQ(best_kernel_for(probe, true, 8)->name, "reduce 8->8 in place");
  EXPECT_EQ(best_kernel_for(probe, false, 17), nullptr);
}

TEST(StreamProbe, MeasuredKernelsSayWhatTheyTouch) {
  const StreamProbe probe = measure_stream_probe(3, std::int64_t{6} << 20, 2, 1, std::int64_t{1} << 20);
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
  }
  EXPECT_EQ(in_place, 2);
}

}  // namespace
}  // namespace meshreduce::cli
