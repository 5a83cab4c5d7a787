// limits.h: checked arithmetic and bounds; the command line's size parser; message excerpts.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "core/text.h"
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
