// The schedule verifier: proves, without running any arithmetic, that a Schedule is a correct
// allreduce, or names the first thing wrong with it.
//
// It checks, in this order, and stops at the first phase that fails:
//   1. structure: devices, buffers and ranges in bounds, dependencies on earlier steps only,
//      one dtype per step, the source count of each step kind, the `average` flag and scale
//      steps only for ReduceOp::average, no write to an input, destinations not overlapping
//      each other and overlapping a source only when exactly equal to it;
//   2. races: no two steps without an ordering between them (the transitive closure of `deps`)
//      write the same bytes, or one reads bytes the other writes. Input b and output b of a
//      device count as the same memory, since a call may be in place;
//   3. symbolic execution, out of place (inputs and outputs distinct memory), then in place
//      (output b of a device is its input b): every output element of every device ends as the
//      reduction of every device's input of the same element exactly once (with average, then
//      scaled by 1/K exactly once, after the full reduction), and all devices end with the same
//      expression, order of combination included, so with identical bits (with
//      VerifyOptions::commutative_sums, in any order).
// The work is proportional to steps times the segments their ranges cover, not to elements.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "meshreduce/schedule.h"

namespace meshreduce {

enum class ViolationKind : std::uint8_t {
  none,
  malformed,               // schedule level: device count, buffer or scratch sizes, scratch placement
  bad_step,                // source or destination count, `average` or scale outside average, count < 0
  bad_reference,           // device, buffer or element range out of bounds, or a write to an input
  bad_dependency,          // a dependency on the step itself, a later step or a negative index
  mixed_dtype,             // references of one step in buffers of different dtypes
  overlap,                 // within a step: destinations overlap, or a destination partly overlaps a source
  race,                    // two unordered steps touch the same bytes, one of them writing
  in_place_hazard,         // correct with distinct input and output memory, wrong when they are the same
  undefined_read,          // a step reads bytes that no earlier step wrote
  lane_mismatch,           // a reduce combines different elements (element i with element j != i)
  never_written,           // an output range no step writes
  missing_contribution,    // an output lacks some device's input
  duplicate_contribution,  // an output contains some device's input more than once
  wrong_element,           // an output element holds the reduction of another element or buffer
  wrong_scaling,           // average: not scaled, scaled twice, or scaled before the reduction completed
  replica_mismatch,        // two devices end with different expressions (different bits)
};

std::string_view violation_kind_name(ViolationKind kind) noexcept;

struct VerifyOptions {
  // Also prove the schedule for in-place calls (output b of a device is its input b). Races
  // between a device's input and output are reported either way.
  bool in_place = true;
  // Reproducible mode (CommunicatorOptions::reproducible): floating-point sums are exact there,
  // so partial sums commute and any order of combination gives the same bits. Replicas then
  // need only hold each device's input exactly once (phase 3's other checks), not the same
  // expression; without this, two orders of combination are a replica_mismatch.
  bool commutative_sums = false;
};

struct VerifyStats {
  std::int64_t steps = 0;        // steps checked
  std::int64_t expressions = 0;  // distinct symbolic expressions built (hash-consed)
  std::int64_t segments = 0;     // segments of all buffer contents at the end of the last pass
  std::int64_t race_pairs = 0;   // pairs of steps touching common bytes, one writing, whose order was checked
};

struct VerifyReport {
  bool ok = true;
  ViolationKind kind = ViolationKind::none;
  std::string violation;  // the first violation, in words; empty when ok
  // Where: the step at fault (-1 for an output no step writes or a schedule-level fault), the other
  // step involved (a race partner, the earlier writer of an in-place hazard, the writer the
  // replica differs from), and the range in elements and bytes of one buffer.
  int step = -1;
  int other_step = -1;
  int device = -1;
  BufferKind buffer_kind = BufferKind::output;
  int buffer = -1;
  std::int64_t begin = 0;
  std::int64_t end = 0;
  std::int64_t byte_begin = 0;
  std::int64_t byte_end = 0;
  bool in_place = false;  // found by the in-place pass
  VerifyStats stats;
};

VerifyReport verify_schedule(const Schedule& schedule, const VerifyOptions& options = {});

// Throws ScheduleError with the report's violation when the schedule is not valid.
void require_valid(const Schedule& schedule, const VerifyOptions& options = {});

}  // namespace meshreduce
