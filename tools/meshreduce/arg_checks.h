// Checks of bench's, run's and calibrate's flag values, made before a command measures or writes
// anything: a bad value is an InvalidArgument (exit code 2) whose one line names the flag, the
// value as given and the limit it breaks.
#pragma once

#include <cstdint>
#include <string>

namespace CLI {
class App;
}

namespace meshreduce::cli {

// Documented limits of the measuring commands (docs/benchmarking.md).
constexpr std::int64_t kMaxCalls = 1'000'000;        // --warmup, --iterations
constexpr std::int64_t kMaxFactor = 1 << 20;         // bench --factor

// value in [low, high], else "--flag value: must be from low to high".
void check_range(const std::string& flag, std::int64_t value, std::int64_t low, std::int64_t high);

// Largest --ranks-per-node and --local-devices: limits::kMaxDevices devices in all.
// Longest --timeout: a day.
constexpr double kMaxTimeoutSeconds = 86400;

struct BackendFlags;
// --backend and its flags: true for the process backend. Throws InvalidArgument on another
// backend, on a process flag given to the thread backend (it would be ignored), on a flag of the
// thread backend's machine model given to the process backend (its devices are the job's
// processes), and on values out of range.
bool check_backend(const CLI::App& command, const BackendFlags& flags);

// This machine's physical memory in bytes (sysconf).
std::int64_t physical_memory_bytes();

// `buffers` buffers of `bytes` on each of `devices` devices must fit in physical memory, else
// "--flag text: above the limit of L per device (...)".
void check_fits_in_memory(const std::string& flag, const std::string& text, std::int64_t bytes, int buffers,
                          int devices);

// The streaming probe's flags (bench, calibrate): --probe-bytes parsed, at least 1 MiB and
// two buffers of it in memory; --probe-rounds from 1 to kMaxProbeRounds. Returns the bytes.
std::int64_t check_probe_flags(const std::string& bytes_text, std::int64_t rounds);

// "64 MiB", "1.5 GiB": for messages.
std::string human_bytes(double bytes);

}  // namespace meshreduce::cli
