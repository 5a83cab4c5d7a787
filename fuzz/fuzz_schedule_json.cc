// libFuzzer harness: the schedule JSON reader and the verifier behind `verify --schedule`. Any
// input must parse into a schedule the verifier judges, or throw meshreduce::Error.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "meshreduce/error.h"
#include "meshreduce/schedule.h"
#include "meshreduce/verifier.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const meshreduce::Schedule schedule = meshreduce::schedule_from_json(text);
    const meshreduce::VerifyReport report = meshreduce::verify_schedule(schedule);
    if (report.ok != report.violation.empty()) std::abort();
    // What was read writes back to the same schedule.
    if (meshreduce::schedule_to_json(meshreduce::schedule_from_json(meshreduce::schedule_to_json(schedule))) !=
        meshreduce::schedule_to_json(schedule))
      std::abort();
  } catch (const meshreduce::Error&) {
  }
  return 0;
}
