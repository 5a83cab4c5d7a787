// The schedule IR: a plain-data program of an allreduce, independent of where it runs.
//
// Each device holds virtual buffers: input and output buffer b (one per bucket of the call,
// `Schedule::buffers`), and scratch buffers the schedule declares. A step reads source ranges
// and writes destination ranges, all `count` elements long, of one dtype:
//   reduce: every destination = op(src[0], src[1], ...), combined strictly left to right;
//           with `average`, the result is then scaled by 1/K (see types.h). f16/bf16 are
//           accumulated in f32 and rounded once when stored.
//   copy:   every destination = src[0].
//   scale:  every destination = src[0] scaled by 1/K (the average's final step).
// A destination may be exactly one of the sources (element-wise in place); no other overlap
// within a step is allowed. A step runs after all of its `deps`. Input and output buffers of a
// device may be the same memory (an in-place call), so a correct schedule never reads an input
// range of a device after writing the same output range of that device.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "meshreduce/types.h"

namespace meshreduce {

enum class StepKind : std::uint8_t { reduce, copy, scale };
enum class BufferKind : std::uint8_t { input, output, scratch };

std::string_view step_kind_name(StepKind kind) noexcept;
std::string_view buffer_kind_name(BufferKind kind) noexcept;

struct BufferRef {
  int device = 0;
  BufferKind kind = BufferKind::input;
  int buffer = 0;           // bucket index for input/output, scratch index for scratch
  std::int64_t offset = 0;  // in elements

  friend bool operator==(const BufferRef&, const BufferRef&) = default;
};

struct Step {
  StepKind kind = StepKind::copy;
  int device = 0;  // where the step runs: sources elsewhere are received, destinations elsewhere sent
  std::int64_t count = 0;
  std::vector<BufferRef> srcs;
  std::vector<BufferRef> dsts;
  std::vector<int> deps;  // indices of earlier steps
  bool average = false;   // reduce only: scale the result by 1/K before storing
};

struct BufferSpec {
  std::int64_t count = 0;
  DType dtype = DType::f32;
};

struct ScratchSpec {
  int device = 0;
  std::int64_t count = 0;
  DType dtype = DType::f32;
};

struct Schedule {
  std::string algorithm;
  int num_devices = 0;
  ReduceOp op = ReduceOp::sum;
  std::vector<BufferSpec> buffers;  // per-device input/output buffers (same on every device)
  std::vector<ScratchSpec> scratch;
  std::vector<Step> steps;

  // Append a step and return its index.
  int add(Step step);
  // dtype of the range a reference points into.
  DType dtype_of(const BufferRef& ref) const;
};

// Concatenate schedules built for one buffer each into one schedule over all their buffers:
// buffer, scratch and step indices of part i are shifted past those of parts 0..i-1.
Schedule merge_schedules(std::vector<Schedule> parts);

// Bytes moved, from the steps' devices: a source on another device than `Step::device` is a
// transfer to it, a destination on another device a transfer from it.
struct TrafficSummary {
  std::vector<std::int64_t> bytes_sent;      // per device
  std::vector<std::int64_t> bytes_received;  // per device
  std::vector<std::int64_t> bytes_reduced;   // per device: bytes read by reduce steps it runs
  std::int64_t steps = 0;
};
TrafficSummary summarize_traffic(const Schedule& schedule);

// Bytes moved from device a to device b (a != b), for every pair that moves any: the schedule's
// demand on the machine, before routing onto links.
struct PairTraffic {
  int from = 0;
  int to = 0;
  std::int64_t bytes = 0;
};
std::vector<PairTraffic> pair_traffic(const Schedule& schedule);

// JSON form of a schedule (documented in docs/schedule-format.md); parse errors throw
// ScheduleError naming the step and the field.
std::string schedule_to_json(const Schedule& schedule, int indent = 1);
Schedule schedule_from_json(const std::string& text);

}  // namespace meshreduce
