// limits.h: checked arithmetic and bounds; the command line's size parser; message excerpts.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "algorithms/slicing.h"
#include "core/text.h"
#include "meshreduce/communicator.h"
#include "meshreduce/limits.h"
#include "sizes.h"
#include "test_support.h"

namespace meshreduce {
namespace {

using testing::expect_contains;
using testing::thrown_message;

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

TEST(Limits, CheckedArithmeticReturnsTheResultWithinTheLimit) {
  EXPECT_EQ(limits::checked_add("x", 3, 4, 7), 7);
  EXPECT_EQ(limits::checked_mul("x", 6, 7, 42), 42);
  EXPECT_EQ(limits::checked_mul("x", 0, kMax, 5), 0);
  EXPECT_EQ(limits::checked_mul("x", kMax, 1, kMax), kMax);
}

TEST(Limits, CheckedArithmeticNamesTheValuesAndTheLimitWhenItWouldOverflow) {
  expect_contains(thrown_message<InvalidArgument>([] { limits::checked_add("bytes", kMax, 1, kMax); }),
                  {"bytes", std::to_string(kMax), "largest allowed"});
  expect_contains(thrown_message<InvalidArgument>([] { limits::checked_add("bytes", 5, 3, 7); }), {"5 + 3", "7"});
  expect_contains(thrown_message<InvalidArgument>([] { limits::checked_mul("bytes", std::int64_t{1} << 62, 8, kMax); }),
                  {"4611686018427387904 x 8", std::to_string(kMax)});
  expect_contains(thrown_message<InvalidArgument>([] { limits::checked_mul("bytes", -1, 8, kMax); }), {"-1 x 8"});
  expect_contains(thrown_message<TopologyError>([] { limits::checked_mul<TopologyError>("nodes", 3, 3, 8); }), {"3 x 3"});
}

TEST(Limits, DeviceCountOutsideTheRangeNamesTheLimit) {
  limits::check_device_count("flat", 1);
  limits::check_device_count("flat", limits::kMaxDevices);
  expect_contains(thrown_message<TopologyError>([] { limits::check_device_count("flat:K", 100000); }),
                  {"flat:K = 100000", "largest allowed, " + std::to_string(limits::kMaxDevices)});
  expect_contains(thrown_message<TopologyError>([] { limits::check_device_count("flat:K", 0); }),
                  {"flat:K = 0", "smallest allowed, 1"});
}

TEST(Limits, TheBoundsLeaveRoomForEveryProductOfACall) {
  // K devices' inputs and outputs of the largest total, in bytes, fit an int64 with room.
  EXPECT_LE(limits::kMaxTotalBytes * limits::kMaxDevices * 2, kMax / 4);
  EXPECT_LE(limits::kMaxTensorElements * 8, limits::kMaxTotalBytes);
}

TEST(Excerpt, EscapesControlBytesAndCutsLongText) {
  EXPECT_EQ(detail::excerpt("plain"), "plain");
  EXPECT_EQ(detail::excerpt(std::string("a\x01\n\t\xff", 5)), "a\\x01\\n\\t\\xff");
  EXPECT_EQ(detail::excerpt(detail::excerpt("a\x01\\b")), "a\\x01\\b");  // escaping twice changes nothing
  const std::string cut = detail::excerpt(std::string(100000, 'x'), 10);
  EXPECT_EQ(cut, "xxxxxxxxxx... (100000 bytes)");
}

TEST(Sizes, ParsesNumbersWithBinarySuffixes) {
  EXPECT_EQ(cli::parse_size("512"), 512);
  EXPECT_EQ(cli::parse_size("0"), 0);
  EXPECT_EQ(cli::parse_size("4K"), 4096);
  EXPECT_EQ(cli::parse_size("4KiB"), 4096);
  EXPECT_EQ(cli::parse_size("1.5M"), 3 << 19);
  EXPECT_EQ(cli::parse_size("256MiB"), 256 << 20);
  EXPECT_EQ(cli::parse_size("1G"), 1 << 30);
  EXPECT_EQ(cli::parse_size("64B"), 64);
  EXPECT_EQ(cli::parse_size("256T"), limits::kMaxTotalBytes);
}

TEST(Sizes, RejectsWhatIsNotASizeNamingTheFlag) {
  for (const char* text : {"", "-1", "1e30", "inf", "nan", "0x10", " 4K", "4Q", "K", "1..5K", "4K,", "+4"})
    expect_contains(thrown_message<InvalidArgument>([&] { cli::parse_size(text, "--bytes"); }), {"--bytes '"});
  expect_contains(thrown_message<InvalidArgument>([] { cli::parse_size("0.3", "-b"); }), {"not a whole number of bytes"});
  expect_contains(thrown_message<InvalidArgument>([] { cli::parse_size("257T", "-b"); }),
                  {"largest allowed size", "281474976710656"});
  expect_contains(thrown_message<InvalidArgument>([] { cli::parse_size("99999999999999999999", "-b"); }),
                  {"too many digits"});
  expect_contains(thrown_message<InvalidArgument>([] { cli::parse_size("4\x01K", "-b"); }), {"\\x01"});
}

// A layout handed to plan() is checked before anything is sized by it: 2^62 elements once made
// the planner's cost model loop for minutes.
TEST(Limits, PlanRejectsALayoutPastTheLimitsNamingTheTensor) {
  CommunicatorOptions options;
  options.devices = {0, 1, 2, 3};
  Communicator communicator(options);
  const auto rejects = [&](std::vector<TensorSpec> layout, const std::string& part) {
    expect_contains(thrown_message<InvalidArgument>([&] { communicator.plan(layout, ReduceOp::sum); }), {part});
  };
  rejects({{7, DType::f32}, {std::int64_t{1} << 62, DType::f32}}, "tensor 1: elements = 4611686018427387904");
  rejects({{-5, DType::f16}}, "tensor 0: elements = -5 is less than the smallest");
  rejects({{7, static_cast<DType>(99)}}, "tensor 0: unknown dtype 99");
  // Each tensor within its own limit, together past the bytes of one call.
  const std::int64_t most = limits::kMaxTensorElements;
  rejects({{most, DType::f32}, {most, DType::f32}, {most, DType::f32}}, "bytes of the layout's tensors 0..2");
  rejects(std::vector<TensorSpec>(static_cast<std::size_t>(limits::kMaxTensors) + 1, TensorSpec{1, DType::f32}),
          "tensors of the layout = 1048577");
  EXPECT_FALSE(communicator.plan(std::vector<TensorSpec>{{1000, DType::f32}, {3, DType::bf16}}, ReduceOp::sum)
                   .schedule.steps.empty());
}

// The largest layout allowed plans in well under a second (it once took hours: schedules and the
// cost model grew with the element count); plan() lowers nothing, so no memory is sized by it.
TEST(Limits, TheLargestLayoutPlansWithoutSizingAnythingByIt) {
  CommunicatorOptions options;
  options.devices = {0, 1, 2, 3, 4, 5, 6, 7};
  Communicator communicator(options);
  const std::vector<TensorSpec> largest{{limits::kMaxTensorElements, DType::f32}, {limits::kMaxTensorElements, DType::f32}};
  const Plan& plan = communicator.plan(largest, ReduceOp::sum);
  EXPECT_FALSE(plan.schedule.steps.empty());
  EXPECT_LT(plan.schedule.steps.size(), std::size_t{1} << 20);
}

// A pipeline is cut into at most kMostChunks chunks however small the chunk asked for: the chunks
// still cover the range exactly, in order, all but the last of one length.
TEST(Limits, ChunksAreAtMostKMostChunksAndCoverTheRange) {
  for (const std::int64_t count : {std::int64_t{5}, std::int64_t{1024}, std::int64_t{1025}, std::int64_t{999'999}}) {
    const auto cut = detail::chunks({3, count}, 1);
    ASSERT_LE(static_cast<std::int64_t>(cut.size()), detail::kMostChunks) << count;
    EXPECT_GT(static_cast<std::int64_t>(cut.size()), std::min(count, detail::kMostChunks) / 2) << count;  // no coarser than needed
    std::int64_t at = 3;
    for (std::size_t c = 0; c < cut.size(); ++c) {
      EXPECT_EQ(cut[c].offset, at) << count << " chunk " << c;
      if (c + 1 < cut.size()) {
        EXPECT_EQ(cut[c].count, cut[0].count) << count << " chunk " << c;
      }
      at += cut[c].count;
    }
    EXPECT_EQ(at, 3 + count);
  }
  EXPECT_EQ(detail::chunks({0, 10}, 4).size(), 3u);  // below the cap, exactly the limit asked for
}

TEST(Sizes, ListsTakeCommasOrSeparateValues) {
  EXPECT_EQ(cli::parse_size_list({"1M,16M", "4K"}, "--sizes"), (std::vector<std::int64_t>{1 << 20, 16 << 20, 4096}));
  expect_contains(thrown_message<InvalidArgument>([] { cli::parse_size_list({}, "--sizes"); }), {"at least one"});
  expect_contains(thrown_message<InvalidArgument>([] { cli::parse_size_list({"1M,,2M"}, "--sizes"); }), {"--sizes ''"});
}

TEST(Sizes, CountsAreWholeNumbersInRange) {
  EXPECT_EQ(cli::parse_count("7", "--counts", 0, 10), 7);
  EXPECT_EQ(cli::parse_count("-3", "--x", -5, 10), -3);
  for (const char* text : {"", "-", "1.5", "11", "-6", "1e3", "99999999999999999999999"})
    expect_contains(thrown_message<InvalidArgument>([&] { cli::parse_count(text, "--counts", -5, 10); }),
                    {"--counts '"});
}

}  // namespace
}  // namespace meshreduce
