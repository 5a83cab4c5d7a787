// libFuzzer harness: the command line's size and count parsers ("4K", "1.5M", "0,1,7").
// Anything parsed is within limits.h; anything else throws meshreduce::Error.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "meshreduce/error.h"
#include "meshreduce/limits.h"
#include "sizes.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  using meshreduce::limits::kMaxTotalBytes;
  try {
    const std::int64_t bytes = meshreduce::cli::parse_size(text, "--bytes");
    if (bytes < 0 || bytes > kMaxTotalBytes) std::abort();
  } catch (const meshreduce::Error&) {
  }
  try {
    for (const std::int64_t bytes : meshreduce::cli::parse_size_list({text}, "--sizes"))
      if (bytes < 0 || bytes > kMaxTotalBytes) std::abort();
  } catch (const meshreduce::Error&) {
  }
  try {
    const std::int64_t count = meshreduce::cli::parse_count(text, "--counts", -5, 1000);
    if (count < -5 || count > 1000) std::abort();
  } catch (const meshreduce::Error&) {
  }
  return 0;
}
