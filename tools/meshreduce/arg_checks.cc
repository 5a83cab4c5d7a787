#include "arg_checks.h"

#include <unistd.h>

#include <cstdio>
#include <limits>

#include "cli_common.h"
#include "meshreduce/error.h"

namespace meshreduce::cli {

void check_range(const std::string& flag, std::int64_t value, std::int64_t low, std::int64_t high) {
  if (value < low || value > high)
    throw InvalidArgument(flag + " " + std::to_string(value) + ": must be from " + std::to_string(low) + " to " +
                          std::to_string(high));
}

std::int64_t checked_size(const std::string& flag, const std::string& text) {
  std::int64_t bytes = 0;
  try {
    bytes = parse_size(text);
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(flag + " " + text + ": " + e.what());
  }
  if (bytes < 0) throw InvalidArgument(flag + " " + text + ": not a size from 0 to 2^63-1 bytes");
  return bytes;
}

std::int64_t physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0) return std::numeric_limits<std::int64_t>::max();
  return static_cast<std::int64_t>(pages) * page;
}

void check_fits_in_memory(const std::string& flag, const std::string& text, std::int64_t bytes, int buffers,
                          int devices) {
  const std::int64_t memory = physical_memory_bytes();
  const std::int64_t copies = std::int64_t{buffers} * std::max(devices, 1);
  const std::int64_t limit = memory / copies;
  if (bytes <= limit) return;
  throw InvalidArgument(flag + " " + text + ": above the limit of " + human_bytes(static_cast<double>(limit)) +
                        " per device (" + std::to_string(buffers) + " buffers on each of " + std::to_string(devices) +
                        " devices must fit in this machine's " + human_bytes(static_cast<double>(memory)) +
                        " of memory)");
}

std::string human_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 4) {
    bytes /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, bytes == static_cast<double>(static_cast<std::int64_t>(bytes)) ? "%.0f %s" : "%.1f %s",
                bytes, units[unit]);
  return text;
}

}  // namespace meshreduce::cli
