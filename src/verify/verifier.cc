// The schedule verifier: proves a Schedule correct by running it symbolically.
//
// Method. Phase 1 (structure.cc) checks each step on its own: bounds, dependencies, dtypes,
// source counts, overlaps. Phase 2 (races.cc) proves that any two steps touching common bytes,
// one of them writing, are ordered by the transitive closure of `deps`; input b and output b of
// a device are the same memory there, as in an in-place call. With no races, every topological
// order of the steps computes the same thing, so phase 3 (symbolic.cc) runs the steps once, in
// index order (deps point to earlier steps, so index order is topological), on symbols instead
// of numbers:
//   - each buffer's contents are an interval map of segments; a segment holds an expression id
//     and a lane shift: element p of the buffer holds the expression applied to lane p + shift
//     (lane = element index within the schedule's buffer). Inputs start as one segment
//     Leaf(device, buffer) with shift 0, outputs and scratch as Undefined;
//   - a step splits its source ranges at every segment boundary and writes one segment per
//     piece, so the work is O(steps x segments), independent of the element count;
//   - expressions are hash-consed (expressions.h): Leaf, Reduce(ordered children), Scale, and
//     for f16/bf16 a Reduce scaled before its single rounding. Equal ids mean equal trees, so
//     equal bits. For f32/f64/integers, where each addition rounds as stored, a reduce whose first
//     source is itself a reduce is flattened ((a+b)+c = reduce(a,b,c) bit for bit).
// Phase 3 runs out of place, then in place (output b of a device aliases its input b; reading
// an input range that holds anything but the device's own input is an in-place hazard). At the
// end every output element must hold, at shift 0, a tree whose leaves are every device's input of
// that buffer exactly once (for average, under exactly one scaling at the root), and every
// device must hold the same expression id as device 0.
// The first violation is reported: the first failing phase, and within it the first step.
#include "meshreduce/verifier.h"

#include <string>

#include "meshreduce/error.h"
#include "verify/verify_internal.h"

namespace meshreduce {

std::string_view violation_kind_name(ViolationKind kind) noexcept {
  switch (kind) {
    case ViolationKind::none: return "none";
    case ViolationKind::malformed: return "malformed";
    case ViolationKind::bad_step: return "bad_step";
    case ViolationKind::bad_reference: return "bad_reference";
    case ViolationKind::bad_dependency: return "bad_dependency";
    case ViolationKind::mixed_dtype: return "mixed_dtype";
    case ViolationKind::overlap: return "overlap";
    case ViolationKind::race: return "race";
    case ViolationKind::in_place_hazard: return "in_place_hazard";
    case ViolationKind::undefined_read: return "undefined_read";
    case ViolationKind::lane_mismatch: return "lane_mismatch";
    case ViolationKind::never_written: return "never_written";
    case ViolationKind::missing_contribution: return "missing_contribution";
    case ViolationKind::duplicate_contribution: return "duplicate_contribution";
    case ViolationKind::wrong_element: return "wrong_element";
    case ViolationKind::wrong_scaling: return "wrong_scaling";
    case ViolationKind::replica_mismatch: return "replica_mismatch";
  }
  return "?";
}

namespace detail::verify {

std::int64_t buffer_count(const Schedule& schedule, const BufferRef& ref) {
  const auto index = static_cast<std::size_t>(ref.buffer);
  return ref.kind == BufferKind::scratch ? schedule.scratch[index].count : schedule.buffers[index].count;
}

std::int64_t element_bytes(const Schedule& schedule, const BufferRef& ref) {
  return static_cast<std::int64_t>(dtype_size(schedule.dtype_of(ref)));
}

namespace {

bool exists(const Schedule& schedule, const BufferRef& ref) {
  const std::size_t buffers = ref.kind == BufferKind::scratch ? schedule.scratch.size() : schedule.buffers.size();
  return ref.buffer >= 0 && static_cast<std::size_t>(ref.buffer) < buffers;
}

}  // namespace

std::string describe_step(const Schedule& schedule, int step) {
  if (step < 0 || static_cast<std::size_t>(step) >= schedule.steps.size()) return "schedule";
  const Step& s = schedule.steps[static_cast<std::size_t>(step)];
  return "step " + std::to_string(step) + " (" + std::string(step_kind_name(s.kind)) + " on device " +
         std::to_string(s.device) + ")";
}

std::string describe_range(const Schedule& schedule, const BufferRef& ref, std::int64_t begin, std::int64_t end) {
  std::string text = std::string(buffer_kind_name(ref.kind)) + " " + std::to_string(ref.buffer);
  if (ref.kind != BufferKind::scratch) text += " of device " + std::to_string(ref.device);
  text += ", elements [" + std::to_string(begin) + "," + std::to_string(end) + ")";
  if (exists(schedule, ref)) {
    const std::int64_t bytes = element_bytes(schedule, ref);
    text += " (bytes [" + std::to_string(begin * bytes) + "," + std::to_string(end * bytes) + "))";
  }
  return text;
}

VerifyReport violation(const Schedule& schedule, ViolationKind kind, int step, const std::string& what) {
  VerifyReport report;
  report.ok = false;
  report.kind = kind;
  report.step = step;
  report.violation = (step >= 0 ? describe_step(schedule, step) + ": " : std::string()) + what;
  return report;
}

void locate(VerifyReport& report, const Schedule& schedule, const BufferRef& ref, std::int64_t begin,
            std::int64_t end) {
  report.device = ref.kind == BufferKind::scratch && exists(schedule, ref)
                      ? schedule.scratch[static_cast<std::size_t>(ref.buffer)].device
                      : ref.device;
  report.buffer_kind = ref.kind;
  report.buffer = ref.buffer;
  report.begin = begin;
  report.end = end;
  const std::int64_t bytes = exists(schedule, ref) ? element_bytes(schedule, ref) : 0;
  report.byte_begin = begin * bytes;
  report.byte_end = end * bytes;
}

}  // namespace detail::verify

VerifyReport verify_schedule(const Schedule& schedule, const VerifyOptions& options) {
  using namespace detail::verify;
  VerifyStats stats;
  stats.steps = static_cast<std::int64_t>(schedule.steps.size());
  auto fail = [&](VerifyReport report) {
    report.stats = stats;
    return report;
  };
  if (auto report = check_structure(schedule, options)) return fail(std::move(*report));
  if (auto report = check_races(schedule, options, stats)) return fail(std::move(*report));
  if (auto report = check_symbolically(schedule, false, options.commutative_sums, stats)) return fail(std::move(*report));
  if (options.in_place) {
    if (auto report = check_symbolically(schedule, true, options.commutative_sums, stats)) {
      report->in_place = true;
      report->violation = "in place: " + report->violation;
      return fail(std::move(*report));
    }
  }
  VerifyReport report;
  report.stats = stats;
  return report;
}

void require_valid(const Schedule& schedule, const VerifyOptions& options) {
  const VerifyReport report = verify_schedule(schedule, options);
  if (!report.ok)
    throw ScheduleError("schedule '" + schedule.algorithm + "' is not a correct allreduce: " + report.violation);
}

}  // namespace meshreduce
