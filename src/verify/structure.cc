// Phase 1 of the verifier: what can be checked of each step alone. Everything later assumes
// these hold: references in bounds, dependencies on earlier steps, one dtype per step.
#include <algorithm>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "verify/verify_internal.h"

namespace meshreduce::detail::verify {
namespace {

std::string ref_name(const BufferRef& ref) {
  std::string text = std::string(buffer_kind_name(ref.kind)) + " " + std::to_string(ref.buffer);
  if (ref.kind != BufferKind::scratch) text += " of device " + std::to_string(ref.device);
  return text;
}

// Why a reference of a step of `count` elements is out of bounds, or nullopt.
std::optional<std::string> bad_reference(const Schedule& schedule, const BufferRef& ref, std::int64_t count) {
  if (ref.device < 0 || ref.device >= schedule.num_devices)
    return ref_name(ref) + " names device " + std::to_string(ref.device) + ", outside 0.." +
           std::to_string(schedule.num_devices - 1);
  const std::size_t buffers = ref.kind == BufferKind::scratch ? schedule.scratch.size() : schedule.buffers.size();
  if (ref.buffer < 0 || static_cast<std::size_t>(ref.buffer) >= buffers)
    return ref_name(ref) + " does not exist (the schedule has " + std::to_string(buffers) + " " +
           std::string(ref.kind == BufferKind::scratch ? "scratch buffers" : "buffers") + ")";
  if (ref.kind == BufferKind::scratch) {
    const int owner = schedule.scratch[static_cast<std::size_t>(ref.buffer)].device;
    if (ref.device != owner)
      return "the reference to scratch " + std::to_string(ref.buffer) + " names device " + std::to_string(ref.device) +
             ", but the scratch buffer lives on device " + std::to_string(owner);
  }
  const std::int64_t size = buffer_count(schedule, ref);
  if (ref.offset < 0 || ref.offset > size - count)
    return "range [" + std::to_string(ref.offset) + "," + std::to_string(ref.offset + count) + ") of " +
           ref_name(ref) + " is outside its " + std::to_string(size) + " elements";
  return std::nullopt;
}

// Two references of one step that may not share bytes: destinations `dst` and `other` overlap
// (`other_is_dst`), or destination `dst` partly overlaps source `other`.
struct Clash {
  std::size_t dst = 0;
  std::size_t other = 0;
  bool other_is_dst = false;
};

// The first clash of a step's references, found by sorting them by memory and offset: all ranges
// are `count` long, so a range only needs comparing with the latest destination before it and
// the latest sources at the two latest offsets before it.
std::optional<Clash> find_overlap(const Step& step, bool alias_io) {
  if (step.count == 0) return std::nullopt;
  struct Entry {
    Memory memory;
    std::int64_t offset;
    bool dst;
    std::size_t index;
  };
  std::vector<Entry> entries;
  for (std::size_t i = 0; i < step.srcs.size(); ++i)
    entries.push_back({memory_of(step.srcs[i], alias_io), step.srcs[i].offset, false, i});
  for (std::size_t i = 0; i < step.dsts.size(); ++i)
    entries.push_back({memory_of(step.dsts[i], alias_io), step.dsts[i].offset, true, i});
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.memory, a.offset, a.dst, a.index) < std::tie(b.memory, b.offset, b.dst, b.index);
  });
  const Entry* last_dst = nullptr;
  const Entry* last_src = nullptr;   // the latest source
  const Entry* lower_src = nullptr;  // the latest source at a lower offset than last_src
  for (std::size_t e = 0; e < entries.size(); ++e) {
    const Entry& entry = entries[e];
    if (e > 0 && !(entries[e - 1].memory == entry.memory)) last_dst = last_src = lower_src = nullptr;
    auto reaches = [&](const Entry* earlier) { return earlier && entry.offset < earlier->offset + step.count; };
    if (entry.dst) {
      if (reaches(last_dst))
        return Clash{std::min(last_dst->index, entry.index), std::max(last_dst->index, entry.index), true};
      const Entry* partial = last_src && last_src->offset != entry.offset ? last_src : lower_src;
      if (reaches(partial)) return Clash{entry.index, partial->index, false};
      last_dst = &entry;
    } else {
      if (reaches(last_dst) && last_dst->offset != entry.offset) return Clash{last_dst->index, entry.index, false};
      if (!last_src || last_src->offset != entry.offset) lower_src = last_src;
      last_src = &entry;
    }
  }
  return std::nullopt;
}

VerifyReport overlap_report(const Schedule& schedule, int index, const Step& step, const Clash& clash,
                            ViolationKind kind) {
  const BufferRef& dst = step.dsts[clash.dst];
  const BufferRef& other = clash.other_is_dst ? step.dsts[clash.other] : step.srcs[clash.other];
  auto range = [&](const BufferRef& ref) { return describe_range(schedule, ref, ref.offset, ref.offset + step.count); };
  std::string what = clash.other_is_dst ? "destinations " + std::to_string(clash.dst) + " and " +
                                              std::to_string(clash.other) + " overlap: " + range(dst) + " and " +
                                              range(other)
                                        : "destination " + std::to_string(clash.dst) + " (" + range(dst) +
                                              ") partly overlaps source " + std::to_string(clash.other) + " (" +
                                              range(other) + ")";
  if (kind == ViolationKind::in_place_hazard) what += " when the call is in place";
  VerifyReport report = violation(schedule, kind, index, what);
  locate(report, schedule, dst, dst.offset, dst.offset + step.count);
  return report;
}

std::optional<VerifyReport> check_schedule_level(const Schedule& schedule) {
  auto fail = [&](const std::string& what) { return violation(schedule, ViolationKind::malformed, -1, what); };
  if (schedule.num_devices < 1)
    return fail("the schedule has " + std::to_string(schedule.num_devices) + " devices; it needs at least 1");
  for (std::size_t b = 0; b < schedule.buffers.size(); ++b)
    if (schedule.buffers[b].count < 0)
      return fail("buffer " + std::to_string(b) + " has " + std::to_string(schedule.buffers[b].count) + " elements");
  for (std::size_t s = 0; s < schedule.scratch.size(); ++s) {
    const ScratchSpec& spec = schedule.scratch[s];
    if (spec.count < 0)
      return fail("scratch " + std::to_string(s) + " has " + std::to_string(spec.count) + " elements");
    if (spec.device < 0 || spec.device >= schedule.num_devices)
      return fail("scratch " + std::to_string(s) + " lives on device " + std::to_string(spec.device) +
                  ", outside 0.." + std::to_string(schedule.num_devices - 1));
  }
  return std::nullopt;
}

std::optional<VerifyReport> check_step(const Schedule& schedule, int index, const VerifyOptions& options) {
  const Step& step = schedule.steps[static_cast<std::size_t>(index)];
  auto fail = [&](ViolationKind kind, const std::string& what) { return violation(schedule, kind, index, what); };

  if (step.device < 0 || step.device >= schedule.num_devices)
    return fail(ViolationKind::bad_reference, "runs on device " + std::to_string(step.device) + ", outside 0.." +
                                                  std::to_string(schedule.num_devices - 1));
  for (int dep : step.deps)
    if (dep < 0 || dep >= index)
      return fail(ViolationKind::bad_dependency,
                  "depends on step " + std::to_string(dep) + ", which is not an earlier step");
  if (step.count < 0) return fail(ViolationKind::bad_step, "has count " + std::to_string(step.count));
  const std::size_t sources = step.srcs.size();
  if (step.kind == StepKind::reduce ? sources < 1 : sources != 1)
    return fail(ViolationKind::bad_step,
                "has " + std::to_string(sources) + " sources; a " + std::string(step_kind_name(step.kind)) +
                    (step.kind == StepKind::reduce ? " needs at least 1" : " needs exactly 1"));
  if (step.dsts.empty()) return fail(ViolationKind::bad_step, "has no destination");
  if (step.average && step.kind != StepKind::reduce)
    return fail(ViolationKind::bad_step, "sets `average`, which only a reduce may");
  if ((step.average || step.kind == StepKind::scale) && schedule.op != ReduceOp::average)
    return fail(ViolationKind::bad_step, "scales by 1/K in a schedule whose op is " +
                                             std::string(reduce_op_name(schedule.op)));

  for (const auto* refs : {&step.srcs, &step.dsts})
    for (const BufferRef& ref : *refs)
      if (auto why = bad_reference(schedule, ref, step.count)) {
        VerifyReport report = fail(ViolationKind::bad_reference, *why);
        locate(report, schedule, ref, ref.offset, ref.offset + step.count);
        return report;
      }
  for (const BufferRef& dst : step.dsts)
    if (dst.kind == BufferKind::input) {
      VerifyReport report = fail(ViolationKind::bad_reference, "writes " + ref_name(dst) + "; inputs are read-only");
      locate(report, schedule, dst, dst.offset, dst.offset + step.count);
      return report;
    }

  const DType dtype = schedule.dtype_of(step.srcs.front());
  for (const auto* refs : {&step.srcs, &step.dsts})
    for (const BufferRef& ref : *refs)
      if (schedule.dtype_of(ref) != dtype)
        return fail(ViolationKind::mixed_dtype, "mixes dtypes: " + ref_name(step.srcs.front()) + " holds " +
                                                    std::string(dtype_name(dtype)) + ", " + ref_name(ref) + " holds " +
                                                    std::string(dtype_name(schedule.dtype_of(ref))));

  if (auto clash = find_overlap(step, false))
    return overlap_report(schedule, index, step, *clash, ViolationKind::overlap);
  if (options.in_place)
    if (auto clash = find_overlap(step, true))
      return overlap_report(schedule, index, step, *clash, ViolationKind::in_place_hazard);
  return std::nullopt;
}

}  // namespace

std::optional<VerifyReport> check_structure(const Schedule& schedule, const VerifyOptions& options) {
  if (auto report = check_schedule_level(schedule)) return report;
  for (std::size_t s = 0; s < schedule.steps.size(); ++s)
    if (auto report = check_step(schedule, static_cast<int>(s), options)) return report;
  return std::nullopt;
}

}  // namespace meshreduce::detail::verify
