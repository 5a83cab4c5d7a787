// libFuzzer harness: the workload TSV reader. Any input gives tensors whose counts and total are
// within limits.h and agree with their shapes, or throws meshreduce::Error.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "meshreduce/error.h"
#include "meshreduce/limits.h"
#include "meshreduce/workload.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const meshreduce::Workload workload = meshreduce::parse_workload(text, "fuzz");
    if (workload.tensors.empty()) std::abort();
    const std::int64_t total = workload.elements();
    if (total < 0 || total > meshreduce::limits::kMaxTensorElements) std::abort();
    for (const auto& tensor : workload.tensors)
      if (tensor.elements < 0 || tensor.elements > total) std::abort();
  } catch (const meshreduce::Error&) {
  }
  return 0;
}
