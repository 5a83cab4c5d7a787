#include "arg_checks.h"

#include <unistd.h>

#include <cstdio>
#include <limits>

#include <CLI/CLI.hpp>

#include "cli_common.h"
#include "meshreduce/limits.h"
#include "meshreduce/process_model.h"
#include "process_backend.h"
#include "sizes.h"
#include "stream_probe.h"
#include "meshreduce/error.h"

namespace meshreduce::cli {

void check_range(const std::string& flag, std::int64_t value, std::int64_t low, std::int64_t high) {
  if (value < low || value > high)
    throw InvalidArgument(flag + " " + std::to_string(value) + ": must be from " + std::to_string(low) + " to " +
                          std::to_string(high));
}

bool check_backend(const CLI::App& command, const BackendFlags& flags) {
  if (flags.backend != "threads" && flags.backend != "processes")
    throw InvalidArgument("--backend " + flags.backend + ": not a backend (known: threads, processes)");
  const bool processes = flags.backend == "processes";
  const auto given = [&](const char* flag) { return command.get_option_no_throw(flag) != nullptr && command.count(flag) > 0; };
  if (!processes) {
    for (const char* flag : {"--shared", "--ranks-per-node", "--local-devices", "--compare-mpi", "--timeout", "--network-gbps",
                             "--staging-window"})
      if (given(flag)) throw InvalidArgument(std::string(flag) + ": only for --backend processes");
    return false;
  }
  // The process backend's K is the job's: processes (mpirun -np) x --local-devices.
  for (const char* flag : {"--topology", "--devices", "--groups", "--calibration", "--pin"})
    if (given(flag))
      throw InvalidArgument(std::string(flag) + ": not for --backend processes, whose devices are the job's processes"
                            " (mpirun -np K) x --local-devices");
  check_range("--ranks-per-node", flags.ranks_per_node, 0, limits::kMaxDevices);
  check_range("--local-devices", flags.local_devices, 1, limits::kMaxDevices);
  if (!(flags.timeout_s >= 0.001 && flags.timeout_s <= kMaxTimeoutSeconds))
    throw InvalidArgument("--timeout " + std::to_string(flags.timeout_s) + ": must be from 0.001 to " +
                          std::to_string(static_cast<int>(kMaxTimeoutSeconds)) + " seconds");
  check_network_gbps("--network-gbps", flags.network_gbps);
  staging_window_bytes(flags);  // throws InvalidArgument naming the flag
  return true;
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

std::int64_t check_probe_flags(const std::string& bytes_text, std::int64_t rounds) {
  check_range("--probe-rounds", rounds, 1, kMaxProbeRounds);
  const std::int64_t bytes = parse_size(bytes_text, "--probe-bytes");
  if (bytes < (std::int64_t{1} << 20)) throw InvalidArgument("--probe-bytes " + bytes_text + ": below the least, 1 MiB");
  check_fits_in_memory("--probe-bytes", bytes_text, bytes, 2, 1);
  return bytes;
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
