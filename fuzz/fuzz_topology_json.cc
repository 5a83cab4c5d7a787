// libFuzzer harness: the topology file reader. Any input must either give a topology that
// passes validate() or throw meshreduce::Error; never crash, hang or exhaust memory.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "meshreduce/error.h"
#include "meshreduce/topology.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const meshreduce::Topology topology = meshreduce::topology_from_json_text(text);
    topology.validate();
    // What was read writes back and reads again.
    const meshreduce::Topology again = meshreduce::topology_from_json_text(meshreduce::topology_to_json_text(topology));
    if (again.devices != topology.devices || again.links != topology.links || again.levels != topology.levels) std::abort();
  } catch (const meshreduce::Error&) {
  }
  return 0;
}
