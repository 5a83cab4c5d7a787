// ring: reduce-scatter then allgather around the ring of devices 0 -> 1 -> ... -> K-1 -> 0.
//
// How it works, for one buffer of n elements with rotation r:
//   slices   the buffer is cut into K near-equal slices; slice j is owned by device
//            o = (j + r) % K, and each slice is cut further into chunks of at most
//            `chunk_elements` (0: the whole slice is one chunk). Every chunk travels on its own,
//            so chunks pipeline: while one is on the link i -> i+1, the next is being reduced.
//   1. reduce-scatter, K-1 hops per chunk: the chunk starts at device o+1 and goes around the
//      ring; at hop t (1..K-1) device o+1+t adds its own input to the partial sum it receives
//      from its left neighbour and keeps the result in its output (the first hop reads the
//      neighbour's input itself). The last hop lands on the owner o, which so computes the one
//      final value of the chunk, (((in[o+1] + in[o+2]) + ...) + in[o]), scaled by 1/K there for
//      an average.
//   2. allgather, K-1 hops per chunk: the owner sends the final chunk to o+1, which forwards it
//      to o+2, and so on up to o-1. Every replica is a copy of the owner's value, bit for bit.
// In place is safe: a device overwrites an output range only in the step that reads its own
// input of that range (element-wise), or in the allgather, after the owner's final reduce,
// which comes after every read of the chunk.
//
// What it costs, for n bytes and c chunks per slice: every device sends 2(K-1) c messages, of
// 2(K-1)/K n bytes in all (exactly: every slice but the one it owns in the reduce-scatter, every
// slice but its right neighbour's in the allgather), and receives as much; the bandwidth lower
// bound for allreduce. It combines (K-1)/K n bytes of elements. Latency: 2(K-1) dependent hops
// for a chunk, plus c - 1 for the pipeline to drain. The K slices run around the ring at the
// same time, so every link i -> i+1 carries one slice per hop.
// `append_ring` builds the same over any cyclic order of the devices and any range of the
// buffer; `multiring` runs one per ring it finds in the topology.
#include "algorithms/ring.h"

#include <numeric>
#include <vector>

#include "algorithms/slicing.h"

namespace meshreduce::detail {

std::optional<std::string> decline_ring(const AlgorithmRequest& request) { return decline_without_devices(request); }

void append_ring(Schedule& schedule, const std::vector<int>& order, Range range, std::int64_t chunk_elements,
                 std::int64_t rotation, bool average) {
  const auto k = static_cast<int>(order.size());
  if (range.empty() || k == 0) return;
  const auto device = [&](int position) { return order[static_cast<std::size_t>(position % k)]; };
  if (k == 1) {
    schedule.add({StepKind::copy, order[0], range.count, {input_at(order[0], range.offset)},
                  {output_at(order[0], range.offset)}, {}, false});
    return;
  }

  // One lane per chunk: the chunk, its owner's position in the ring, and the last step on it.
  struct Lane {
    Range range;
    int owner = 0;
    int last = -1;
  };
  std::vector<Lane> lanes;
  for (int j = 0; j < k; ++j)
    for (Range chunk : chunks(part(range, k, j), chunk_elements)) lanes.push_back({chunk, rotated(j, rotation, k), -1});

  // Reduce-scatter: hop t runs on position o+1+t and reads the partial of position o+t.
  for (int t = 1; t < k; ++t)
    for (Lane& lane : lanes) {
      const int from = device(lane.owner + t);
      const int at = device(lane.owner + 1 + t);
      const std::int64_t offset = lane.range.offset;
      const BufferRef partial = t == 1 ? input_at(from, offset) : output_at(from, offset);
      lane.last = schedule.add({StepKind::reduce, at, lane.range.count, {partial, input_at(at, offset)},
                                {output_at(at, offset)}, real_deps({lane.last}), average && t == k - 1});
    }

  // Allgather: hop t copies the final chunk from position o+t-1 to position o+t.
  for (int t = 1; t < k; ++t)
    for (Lane& lane : lanes) {
      const int from = device(lane.owner + t - 1);
      const int to = device(lane.owner + t);
      const std::int64_t offset = lane.range.offset;
      lane.last = schedule.add({StepKind::copy, from, lane.range.count, {output_at(from, offset)},
                                {output_at(to, offset)}, {lane.last}, false});
    }
}

Schedule build_ring(const AlgorithmRequest& request) {
  Schedule schedule = start_schedule("ring", request);
  const int k = request.num_devices;
  const std::int64_t n = request.count;
  if (finish_if_trivial(schedule, request)) return schedule;
  std::vector<int> order(static_cast<std::size_t>(k));
  std::iota(order.begin(), order.end(), 0);
  append_ring(schedule, order, {0, n}, request.options.chunk_elements, request.rotation, request.op == ReduceOp::average);
  return schedule;
}

}  // namespace meshreduce::detail
