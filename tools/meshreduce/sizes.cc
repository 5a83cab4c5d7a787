#include "sizes.h"

#include <array>
#include <numeric>
#include <string_view>
#include <utility>

#include "core/text.h"
#include "meshreduce/error.h"
#include "meshreduce/limits.h"

namespace meshreduce::cli {
namespace {

constexpr std::array<std::pair<std::string_view, std::int64_t>, 11> kSuffixes{{
    {"", 1}, {"B", 1},
    {"K", std::int64_t{1} << 10}, {"KiB", std::int64_t{1} << 10},
    {"M", std::int64_t{1} << 20}, {"MiB", std::int64_t{1} << 20},
    {"G", std::int64_t{1} << 30}, {"GiB", std::int64_t{1} << 30},
    {"T", std::int64_t{1} << 40}, {"TiB", std::int64_t{1} << 40},
    {"k", std::int64_t{1} << 10},
}};
// Digits kept of a number: 18 decimal digits fit an int64 with room for the scale check.
constexpr int kMaxDigits = 18;

[[noreturn]] void bad(const std::string& flag, const std::string& text, const std::string& why) {
  throw InvalidArgument(flag + " '" + detail::excerpt(text) + "': " + why);
}

}  // namespace

std::int64_t parse_size(const std::string& text, const std::string& flag) {
  std::size_t at = 0;
  std::int64_t mantissa = 0;
  int digits = 0;
  int decimals = 0;
  bool point = false;
  for (; at < text.size(); ++at) {
    const char c = text[at];
    if (c == '.' && !point) {
      point = true;
      continue;
    }
    if (c < '0' || c > '9') break;
    if (++digits > kMaxDigits) bad(flag, text, "too many digits");
    mantissa = mantissa * 10 + (c - '0');
    decimals += point ? 1 : 0;
  }
  if (digits == 0)
    bad(flag, text, "not a size (a number of bytes with an optional suffix K, M, G, T, e.g. 4K, 1.5M, 256MiB)");
  const std::string_view suffix = std::string_view(text).substr(at);
  std::int64_t scale = 0;
  for (const auto& [name, value] : kSuffixes)
    if (name == suffix) scale = value;
  if (scale == 0) bad(flag, text, "unknown suffix '" + detail::excerpt(suffix) + "' (known: B K KiB M MiB G GiB T TiB)");
  std::int64_t divisor = 1;
  for (int d = 0; d < decimals; ++d) divisor *= 10;
  // mantissa * scale / divisor without overflow: cancel the common power of two first.
  const std::int64_t common = std::gcd(scale, divisor);
  scale /= common;
  divisor /= common;
  if (mantissa % divisor != 0) bad(flag, text, "not a whole number of bytes");
  const std::int64_t whole = mantissa / divisor;
  if (whole > limits::kMaxTotalBytes / scale)
    bad(flag, text, "more than the largest allowed size, " + std::to_string(limits::kMaxTotalBytes) + " bytes (256T)");
  const std::int64_t bytes = whole * scale;
  return bytes;
}

std::vector<std::int64_t> parse_size_list(const std::vector<std::string>& texts, const std::string& flag) {
  std::vector<std::int64_t> sizes;
  for (const std::string& text : texts) {
    std::size_t start = 0;
    while (start <= text.size()) {
      const std::size_t comma = std::min(text.find(',', start), text.size());
      sizes.push_back(parse_size(text.substr(start, comma - start), flag));
      start = comma + 1;
    }
  }
  if (sizes.empty()) throw InvalidArgument(flag + ": needs at least one size");
  return sizes;
}

std::int64_t parse_count(const std::string& text, const std::string& flag, std::int64_t lowest, std::int64_t highest) {
  std::int64_t value = 0;
  bool negative = false;
  std::size_t at = 0;
  if (!text.empty() && text[0] == '-') {
    negative = true;
    at = 1;
  }
  if (at == text.size()) bad(flag, text, "not a whole number");
  for (; at < text.size(); ++at) {
    const char c = text[at];
    if (c < '0' || c > '9') bad(flag, text, "not a whole number");
    if (value > (std::int64_t{1} << 59)) bad(flag, text, "outside " + std::to_string(lowest) + ".." + std::to_string(highest));
    value = value * 10 + (c - '0');
  }
  if (negative) value = -value;
  if (value < lowest || value > highest)
    bad(flag, text, "outside " + std::to_string(lowest) + ".." + std::to_string(highest));
  return value;
}

}  // namespace meshreduce::cli
