// Sizes from the command line: "512", "4K", "1.5M", "256MiB", "1G". One syntax for every flag
// that takes bytes or lists of them; each value is checked before anything is sized by it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace meshreduce::cli {

// Bytes: a decimal number (fraction allowed when the result is whole bytes) with an optional
// suffix B, K/KiB, M/MiB, G/GiB or T/TiB (powers of 1024). At most limits::kMaxTotalBytes.
// Throws InvalidArgument naming `flag` and the text on anything else (signs, exponents, inf,
// nan, hex, spaces, overflow).
std::int64_t parse_size(const std::string& text, const std::string& flag = "size");

// A list of sizes: each entry may itself hold several separated by commas ("1M,16M" and
// "1M 16M" mean the same). An empty list is an error.
std::vector<std::int64_t> parse_size_list(const std::vector<std::string>& texts, const std::string& flag);

// A whole number in [lowest, highest] (no suffix), for element counts and the like.
std::int64_t parse_count(const std::string& text, const std::string& flag, std::int64_t lowest, std::int64_t highest);

}  // namespace meshreduce::cli
