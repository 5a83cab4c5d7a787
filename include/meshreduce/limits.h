// The largest inputs meshreduce accepts, and checked arithmetic for turning outside numbers into
// sizes. Every count, byte size, offset, device count and id read from a file, the command line
// or the API is checked against these before anything is allocated, so that no product or sum
// of them can overflow std::int64_t (docs/limits.md explains each bound).
//
// Why these values:
//  - kMaxDevices: a topology stores one route per ordered device pair (K^2 routes), ring and
//    direct schedules have K^2 steps, multiring's grow faster, and "auto" simulates every
//    algorithm (about K^3): at K = 128 every preset builds and every algorithm, "auto" included,
//    plans in a few seconds; at K = 256 "auto" takes over a minute (docs/limits.md).
//  - kMaxTensorElements, kMaxTotalBytes: 2^48 bytes (256 TiB) per device is far beyond any
//    machine's memory, yet K * bytes * 2 (inputs and outputs of every device) stays below 2^61,
//    so the arithmetic of a call cannot overflow. Whether the memory exists is checked separately
//    when buffers are allocated.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "meshreduce/error.h"

namespace meshreduce::limits {

// Devices of one topology or communicator.
inline constexpr std::int64_t kMaxDevices = 128;
// Ids of devices and nodes in a topology file (ids need not be dense, but they are ints).
inline constexpr std::int64_t kMaxId = std::numeric_limits<int>::max();
// Elements of one tensor, and bytes of all tensors of one call, per device.
inline constexpr std::int64_t kMaxTensorElements = std::int64_t{1} << 45;
inline constexpr std::int64_t kMaxTotalBytes = std::int64_t{1} << 48;
// Tensors of one workload or call.
inline constexpr std::int64_t kMaxTensors = std::int64_t{1} << 20;
// Bytes of a topology, schedule or workload file read whole into memory.
inline constexpr std::int64_t kMaxFileBytes = std::int64_t{256} << 20;
// Worker threads of one communicator's pool (CommunicatorOptions::threads, --threads): far more
// than any machine's cores, few enough that a typo cannot start a million threads.
inline constexpr std::int64_t kMaxThreads = 1024;
// Nesting depth of a JSON document (the formats need 4).
inline constexpr int kMaxJsonDepth = 32;
// Steps of a schedule read from a file.
inline constexpr std::int64_t kMaxScheduleSteps = std::int64_t{1} << 26;

// Throws Error (InvalidArgument unless told) "<what> = <value> is more than the largest allowed,
// <limit>" (or less than the smallest) when value is outside [lowest, highest].
template <typename Error = InvalidArgument>
void check_range(std::string_view what, std::int64_t value, std::int64_t lowest, std::int64_t highest) {
  if (value < lowest)
    throw Error(std::string(what) + " = " + std::to_string(value) + " is less than the smallest allowed, " +
                          std::to_string(lowest));
  if (value > highest)
    throw Error(std::string(what) + " = " + std::to_string(value) + " is more than the largest allowed, " +
                          std::to_string(highest));
}

// The device count of a topology: 1..kMaxDevices (docs/limits.md), else TopologyError. Presets
// call it before they build anything.
inline void check_device_count(std::string_view what, std::int64_t devices) {
  check_range<TopologyError>(what, devices, 1, kMaxDevices);
}

// a + b and a * b for non-negative a and b, or Error (InvalidArgument unless told) naming `what`
// when the result would exceed `limit`.
template <typename Error = InvalidArgument>
std::int64_t checked_add(std::string_view what, std::int64_t a, std::int64_t b, std::int64_t limit) {
  if (a < 0 || b < 0 || a > limit || b > limit - a)
    throw Error(std::string(what) + ": " + std::to_string(a) + " + " + std::to_string(b) +
                          " is more than the largest allowed, " + std::to_string(limit));
  return a + b;
}

template <typename Error = InvalidArgument>
std::int64_t checked_mul(std::string_view what, std::int64_t a, std::int64_t b, std::int64_t limit) {
  if (a < 0 || b < 0 || (a != 0 && b > limit / a))
    throw Error(std::string(what) + ": " + std::to_string(a) + " x " + std::to_string(b) +
                          " is more than the largest allowed, " + std::to_string(limit));
  return a * b;
}

}  // namespace meshreduce::limits
