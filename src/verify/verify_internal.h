// Internal: the phases of the verifier (verifier.cc explains the method) and the helpers that
// word their reports alike.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "meshreduce/schedule.h"
#include "meshreduce/verifier.h"

namespace meshreduce::detail::verify {

// Which memory a reference points into. With `alias_io`, input b and output b of a device are
// one memory (an in-place call); scratch buffers are identified by index alone.
struct Memory {
  int space = 0;  // 0 input, 1 output, 2 scratch
  int device = 0;
  int buffer = 0;
  friend bool operator==(const Memory&, const Memory&) = default;
  friend auto operator<=>(const Memory&, const Memory&) = default;
};
inline Memory memory_of(const BufferRef& ref, bool alias_io) {
  switch (ref.kind) {
    case BufferKind::input: return {alias_io ? 1 : 0, ref.device, ref.buffer};
    case BufferKind::output: return {1, ref.device, ref.buffer};
    case BufferKind::scratch: return {2, 0, ref.buffer};
  }
  return {};
}

// Elements of the buffer a (structurally valid) reference points into, and their size in bytes.
std::int64_t buffer_count(const Schedule& schedule, const BufferRef& ref);
std::int64_t element_bytes(const Schedule& schedule, const BufferRef& ref);

// "step 4 (reduce on device 2)".
std::string describe_step(const Schedule& schedule, int step);
// "output 0 of device 3, elements [5,10) (bytes [20,40))"; bytes only when the buffer exists.
std::string describe_range(const Schedule& schedule, const BufferRef& ref, std::int64_t begin, std::int64_t end);

// A failed report: kind, the step at fault (or -1) and the message "<step>: <what>".
VerifyReport violation(const Schedule& schedule, ViolationKind kind, int step, const std::string& what);
// Record the buffer range (in elements of the buffer) a report is about.
void locate(VerifyReport& report, const Schedule& schedule, const BufferRef& ref, std::int64_t begin,
            std::int64_t end);

std::optional<VerifyReport> check_structure(const Schedule& schedule, const VerifyOptions& options);
std::optional<VerifyReport> check_races(const Schedule& schedule, const VerifyOptions& options, VerifyStats& stats);
// With `commutative_sums`, replicas may differ in the order of combination (reproducible mode).
std::optional<VerifyReport> check_symbolically(const Schedule& schedule, bool in_place, bool commutative_sums,
                                               VerifyStats& stats);

}  // namespace meshreduce::detail::verify
