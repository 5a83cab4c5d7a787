// dgx1-hierarchical: tensorpack's allreduce_grads_hierarchical exactly, data flow and
// floating-point order: 8 devices in the halves 0-3 and 4-7; for variable n, main0 = n % 8 sums
// its half left to right, main1 = (main0 + 4) % 8 sums the other half, then total = agg0 + agg1
// on main1, main0 copies it back, and every device copies the total from its half's main
// (with average, each multiplies its copy by 1/8). Only one copy of each variable crosses the
// i <-> i+4 NVLink in each direction.
// What it costs per variable of n bytes: 4 dependent stages; main0 and main1 each receive 3n
// inside their half and send 3n back; n crosses the halves each way. It is the `hierarchical`
// schedule with the seed's fixed shape, and declines any other K.
#include "algorithms/dgx1_hierarchical.h"

#include "algorithms/hierarchical.h"

namespace meshreduce::detail {

std::optional<std::string> decline_dgx1_hierarchical(const AlgorithmRequest& request) {
  if (request.num_devices != 8)
    return "needs exactly 8 devices (the DGX-1's two NVLink quads), got " + std::to_string(request.num_devices);
  return std::nullopt;
}

Schedule build_dgx1_hierarchical(const AlgorithmRequest& request) {
  AlgorithmRequest seed = request;
  seed.groups = {{0, 1, 2, 3}, {4, 5, 6, 7}};
  Schedule schedule = build_hierarchical(seed);
  schedule.algorithm = "dgx1-hierarchical";
  return schedule;
}

}  // namespace meshreduce::detail
