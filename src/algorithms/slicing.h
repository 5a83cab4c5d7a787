// Internal: the pieces every algorithm over one buffer is built from: element ranges, near-equal
// slices and bounded chunks of them, references into buffer 0, and the trivial schedules
// (empty buffer, one device).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "meshreduce/algorithm.h"
#include "meshreduce/schedule.h"

namespace meshreduce::detail {

// Elements [offset, offset + count) of the buffer.
struct Range {
  std::int64_t offset = 0;
  std::int64_t count = 0;

  std::int64_t end() const noexcept { return offset + count; }
  bool empty() const noexcept { return count <= 0; }
};

// Part `index` of `whole` cut into `parts` consecutive near-equal parts: sizes differ by at most
// one element, the first `whole.count % parts` parts being the longer ones. Parts are empty when
// `whole.count < parts`.
Range part(Range whole, std::int64_t parts, std::int64_t index);

// At most this many chunks per range: a pipeline gains nothing from more (its fill and drain
// are already under 0.1% of it), while schedules, plans and cost models grow with the chunk
// count, so a 2^40-element buffer cut into 1 MiB chunks would take hours and gigabytes to plan.
inline constexpr std::int64_t kMostChunks = 1024;

// `whole` cut into consecutive chunks of at most `limit` elements (limit <= 0: one chunk), all
// but the last of exactly the same length; no chunk for an empty range. A range of more than
// kMostChunks x limit elements takes longer chunks, kMostChunks of them.
std::vector<Range> chunks(Range whole, std::int64_t limit);

// Chunks for algorithms that run whole on each block of the buffer independently: blocks of
// `per_device * devices` elements, so that each device's share of a block is about `per_device`
// (per_device <= 0: one block).
std::vector<Range> blocks(std::int64_t count, std::int64_t per_device, int devices);

// The device playing role `index` (0..devices-1) for a buffer with this rotation: the roles
// turn by one device per buffer, so that consecutive buffers load different devices.
int rotated(std::int64_t index, std::int64_t rotation, int devices);

inline BufferRef input_at(int device, std::int64_t offset) { return {device, BufferKind::input, 0, offset}; }
inline BufferRef output_at(int device, std::int64_t offset) { return {device, BufferKind::output, 0, offset}; }

// A schedule named `name` over the request's one buffer, with no steps yet.
Schedule start_schedule(std::string_view name, const AlgorithmRequest& request);

// Completes the schedule of a request that needs no algorithm and returns true: no elements
// (no steps), or one device (its output = its input; 1/K = 1 leaves an average exact). Returns
// false, adding nothing, otherwise.
bool finish_if_trivial(Schedule& schedule, const AlgorithmRequest& request);

// The common refusal of the flat algorithms: no devices at all.
std::optional<std::string> decline_without_devices(const AlgorithmRequest& request);

// Append `step` unless it is empty (count 0); return its index, or -1 when nothing was added.
int add_if_nonempty(Schedule& schedule, Step step);

// `deps` without the -1 entries of steps that were never added.
std::vector<int> real_deps(std::initializer_list<int> deps);

}  // namespace meshreduce::detail
