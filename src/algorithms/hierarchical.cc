// hierarchical: tensorpack's allreduce_grads_hierarchical generalized to any K and any
// partition of the devices into G groups.
//
// How it works, for one buffer with rotation r (the bucket or tensor index):
//   mains    the root main is device r % K; in every other group g the main is the member at
//            position r % |g|. With two groups of four this is the seed's main0 = n % 8 and
//            main1 = (main0 + 4) % 8. Over consecutive buffers the mains rotate, so the bytes each
//            device reduces are balanced.
//   1. every main reduces its group's inputs, strictly in device order (the seed's add_n), into
//      its own output: agg_g.
//   2. the combiner, the main of the group after the root's, reduces agg_root + agg_root+1 + ...
//      (cyclic group order, root first: the seed's total = agg0 + agg1 on main1).
//   3. the combiner copies the total to every other main.
//   4. every main copies the total to each member of its group (with average, every device,
//      the main too, multiplies its copy by 1/K, as the seed does).
// What it costs, for n bytes and groups of size s_g: 2 + [G > 1] * 2 dependent stages; a main
// receives (s_g - 1) n bytes and sends (s_g - 1) n bytes inside its group; the combiner receives
// and sends (G - 1) n across groups. All devices together move 2 (K - 1) n bytes, the same as a
// ring, but each buffer loads only its mains' links: the volume is balanced over buffers, not
// within one, and a buffer is not pipelined. See `hierarchical-rs` for the bandwidth-optimal form.
#include "algorithms/hierarchical.h"

#include <algorithm>
#include <numeric>
#include <string>

namespace meshreduce::detail {

std::vector<std::vector<int>> effective_groups(const AlgorithmRequest& request) {
  if (!request.groups.empty()) return request.groups;
  std::vector<int> all(static_cast<std::size_t>(std::max(request.num_devices, 0)));
  std::iota(all.begin(), all.end(), 0);
  return {all};
}

std::optional<std::string> check_partition(const std::vector<std::vector<int>>& groups, int num_devices) {
  std::vector<int> owner(static_cast<std::size_t>(num_devices), -1);
  for (std::size_t g = 0; g < groups.size(); ++g) {
    if (groups[g].empty()) return "group " + std::to_string(g) + " is empty";
    for (std::size_t i = 0; i < groups[g].size(); ++i) {
      const int device = groups[g][i];
      if (device < 0 || device >= num_devices)
        return "group " + std::to_string(g) + " names device " + std::to_string(device) +
               ", outside 0.." + std::to_string(num_devices - 1);
      if (owner[static_cast<std::size_t>(device)] >= 0)
        return "device " + std::to_string(device) + " is in group " +
               std::to_string(owner[static_cast<std::size_t>(device)]) + " and in group " + std::to_string(g);
      if (i > 0 && device < groups[g][i - 1])
        return "group " + std::to_string(g) + " is not in increasing device order";
      owner[static_cast<std::size_t>(device)] = static_cast<int>(g);
    }
  }
  for (int device = 0; device < num_devices; ++device)
    if (owner[static_cast<std::size_t>(device)] < 0)
      return "device " + std::to_string(device) + " is in no group";
  return std::nullopt;
}

std::optional<std::string> decline_hierarchical(const AlgorithmRequest& request) {
  if (request.num_devices < 1) return "needs at least 1 device";
  return check_partition(effective_groups(request), request.num_devices);
}

Schedule build_hierarchical(const AlgorithmRequest& request) {
  const int devices = request.num_devices;
  const auto groups = effective_groups(request);
  const int group_count = static_cast<int>(groups.size());
  const std::int64_t n = request.count;
  const bool average = request.op == ReduceOp::average;

  Schedule schedule;
  schedule.algorithm = "hierarchical";
  schedule.num_devices = devices;
  schedule.op = request.op;
  schedule.buffers.push_back({n, request.dtype});
  if (n == 0) return schedule;

  auto in = [](int device) { return BufferRef{device, BufferKind::input, 0, 0}; };
  auto out = [](int device) { return BufferRef{device, BufferKind::output, 0, 0}; };

  const int root = static_cast<int>(request.rotation % devices);
  int root_group = 0;
  for (int g = 0; g < group_count; ++g)
    if (std::find(groups[g].begin(), groups[g].end(), root) != groups[g].end()) root_group = g;
  std::vector<int> mains(static_cast<std::size_t>(group_count));
  for (int g = 0; g < group_count; ++g) {
    const auto& members = groups[static_cast<std::size_t>(g)];
    mains[static_cast<std::size_t>(g)] =
        g == root_group ? root : members[static_cast<std::size_t>(request.rotation % static_cast<std::int64_t>(members.size()))];
  }

  // 1. agg_g on each main.
  std::vector<int> aggregate(static_cast<std::size_t>(group_count));
  for (int g = 0; g < group_count; ++g) {
    const int main = mains[static_cast<std::size_t>(g)];
    Step step{groups[g].size() > 1 ? StepKind::reduce : StepKind::copy, main, n, {}, {out(main)}, {}, false};
    for (int member : groups[static_cast<std::size_t>(g)]) step.srcs.push_back(in(member));
    aggregate[static_cast<std::size_t>(g)] = schedule.add(std::move(step));
  }

  // 2-3. total = agg_root + agg_root+1 + ... on the combiner, then copied to the other mains.
  std::vector<int> total_ready = aggregate;  // per group: the step after which its main holds the total
  int broadcast = -1;
  if (group_count > 1) {
    const int combiner_group = (root_group + 1) % group_count;
    const int combiner = mains[static_cast<std::size_t>(combiner_group)];
    Step combine{StepKind::reduce, combiner, n, {}, {out(combiner)}, aggregate, false};
    for (int i = 0; i < group_count; ++i)
      combine.srcs.push_back(out(mains[static_cast<std::size_t>((root_group + i) % group_count)]));
    const int combined = schedule.add(std::move(combine));
    Step copy{StepKind::copy, combiner, n, {out(combiner)}, {}, {combined}, false};
    for (int g = 0; g < group_count; ++g)
      if (g != combiner_group) copy.dsts.push_back(out(mains[static_cast<std::size_t>(g)]));
    broadcast = schedule.add(std::move(copy));
    std::fill(total_ready.begin(), total_ready.end(), broadcast);
  }

  // 4. every main hands the total to its group (scaled on every device with average).
  for (int g = 0; g < group_count; ++g) {
    const int main = mains[static_cast<std::size_t>(g)];
    Step step{average ? StepKind::scale : StepKind::copy, main, n, {out(main)}, {}, {total_ready[static_cast<std::size_t>(g)]}, false};
    for (int member : groups[static_cast<std::size_t>(g)])
      if (average || member != main) step.dsts.push_back(out(member));
    if (!step.dsts.empty()) schedule.add(std::move(step));
  }
  return schedule;
}

}  // namespace meshreduce::detail
