// direct: every device reduces 1/K of the buffer straight from all K inputs and writes the
// result straight into all K outputs: the shared-memory optimum, one step per device.
//
// How it works, for one buffer of n elements with rotation r: the buffer is cut into K
// near-equal slices; slice j is owned by device o = (j + r) % K, which runs one reduce step
// over it with the K inputs as sources, in device order 0..K-1, and the K outputs as
// destinations (scaled by 1/K there for an average). The K steps touch disjoint slices, so they
// all run at once. Each element is combined once, on its owner, and every output receives the
// same stored value. In place is safe: the kernel reads every source of an element before it
// stores any destination, and nothing else touches the slice.
//
// What it costs, for n bytes: one step per device, no dependencies. Every device sends
// (K-1)/K n bytes of input to the other owners and (K-1)/K n bytes of its reduced slice to the
// other outputs: 2(K-1)/K n bytes in 2(K-1) messages, the bandwidth lower bound; it receives as
// much, and combines (K-1)/K n bytes of elements. Every pair of devices exchanges data, so it
// suits shared memory and fully connected devices (NVSwitch), not rings of links.
// `chunk_elements` is not used: the executor already cuts the steps into pieces.
#include "algorithms/direct.h"

#include "algorithms/slicing.h"

namespace meshreduce::detail {

std::optional<std::string> decline_direct(const AlgorithmRequest& request) {
  return decline_without_devices(request);
}

Schedule build_direct(const AlgorithmRequest& request) {
  Schedule schedule = start_schedule("direct", request);
  const int k = request.num_devices;
  const std::int64_t n = request.count;
  if (finish_if_trivial(schedule, request)) return schedule;
  for (int j = 0; j < k; ++j) {
    const Range slice = part({0, n}, k, j);
    Step step{StepKind::reduce, rotated(j, request.rotation, k), slice.count, {}, {}, {},
              request.op == ReduceOp::average};
    for (int device = 0; device < k; ++device) {
      step.srcs.push_back(input_at(device, slice.offset));
      step.dsts.push_back(output_at(device, slice.offset));
    }
    add_if_nonempty(schedule, std::move(step));
  }
  return schedule;
}

}  // namespace meshreduce::detail
