// hierarchical-rs: the bandwidth-optimal form of the seed: reduce-scatter inside each group,
// allreduce of each slice across the groups, allgather inside each group; recursively over any
// number of grouping levels (GPU group, node, rack). On the DGX-1 (two fully connected quads
// joined by the links i <-> i+4) every NVLink carries traffic, and each device sends only 1/4 of
// the buffer to the other quad, all of it to its partner i +- 4.
//
// How it works, for one buffer of n elements with rotation r. The levels are the request's
// groups, then every grouping level of the topology that is coarser than the one before (each of
// its groups a union of groups of the previous level), innermost first. Every device starts as a
// holder of a partial sum of the whole buffer: its input. At a level, the holders fall into
// groups (levels that would leave them all in one group are skipped):
//   1. reduce-scatter in each group of s holders: the group cuts its range into s near-equal
//      slices; slice j is owned by the holder at index (j + r) % s, which combines the partials
//      of the group's holders (in device order) over the slice into its output, its new partial.
//      A group of one holder keeps its partial as it is.
//   2. across groups: the slice boundaries of all groups cut the range into segments; each
//      segment lies in one slice of every group and so has one owner per group, and those owners
//      are the holders of the segment at the next level. At the top (no level left) the G
//      holders form one group: the segment is cut into G near-equal parts, part h is combined by
//      holder (h + r) % G from all G partials (in device order) into its output, the one final
//      value (scaled by 1/K there for an average), and copied to the other G - 1 holders.
//      With equal groups the segments are the slices, and owner i of one group talks only to
//      owner i of the others.
//   3. allgather in each group: every owner copies its final slice to the group's other holders.
//   With a single group this is reduce-scatter plus allgather (`direct` run as two steps per
//   device). `chunk_elements` c > 0 cuts the buffer into blocks of c K elements that each run the
//   whole algorithm on their own and so pipeline; 0 runs it once over the buffer.
// In place is safe: an output range is overwritten in phase 3 (or by the top's copies) only after
// the final combination of the range, which comes after every read of inputs and partials there.
//
// What it costs, for n bytes, one level of G equal groups of s devices (K = s G): each device
// sends (s-1)/s n bytes in s-1 messages in phase 1, 2 (G-1)/(G s) n bytes across groups in
// 2(G-1) messages in phase 2, and (s-1)/s n bytes in s-1 messages in phase 3:
// 2(s-1)/s n + 2(G-1)/(G s) n = 2(K-1)/K n in all, the bandwidth lower bound, of which only
// 2(G-1)/(G s) n crosses the slower links between groups (the two-level cost model of Thakur, Rabenseifner and Gropp).
// Latency: 4 dependent steps. Each further level of G' groups adds 2(G'-1)/(G' S) n bytes per
// device, S the devices per group below it, in 2(G'-1) messages and two dependent steps; the
// total stays 2(K-1)/K n. Unequal groups cost a device of a group of s_g members
// (s_g-1)/s_g n in each of phases 1 and 3, and its segments' share across groups.
#include "algorithms/hierarchical_rs.h"

#include <algorithm>
#include <vector>

#include "algorithms/hierarchical.h"
#include "algorithms/slicing.h"

namespace meshreduce::detail {
namespace {

// Per level, the group of each position: the request's groups, then the topology's levels that
// are coarser than the previous kept level and have more than one group.
std::vector<std::vector<int>> grouping_levels(const AlgorithmRequest& request) {
  const auto devices = static_cast<std::size_t>(request.num_devices);
  std::vector<std::vector<int>> levels;
  std::vector<int> first(devices, 0);
  const auto groups = effective_groups(request);
  for (std::size_t g = 0; g < groups.size(); ++g)
    for (int position : groups[g]) first[static_cast<std::size_t>(position)] = static_cast<int>(g);
  levels.push_back(std::move(first));
  if (request.topology == nullptr || request.topology_devices.size() != devices) return levels;
  for (const GroupLevel& level : request.topology->levels) {
    std::vector<int> group_of(devices, -1);
    for (std::size_t p = 0; p < devices; ++p)
      for (std::size_t g = 0; g < level.groups.size(); ++g)
        if (std::find(level.groups[g].begin(), level.groups[g].end(), request.topology_devices[p]) !=
            level.groups[g].end())
          group_of[p] = static_cast<int>(g);
    // Coarser: positions in one group of the previous level share a group here; and fewer groups.
    const auto& previous = levels.back();
    bool coarser = std::find(group_of.begin(), group_of.end(), -1) == group_of.end();
    std::vector<int> seen;
    for (std::size_t p = 0; p < devices && coarser; ++p)
      for (std::size_t q = p + 1; q < devices && coarser; ++q)
        if (previous[p] == previous[q] && group_of[p] != group_of[q]) coarser = false;
    for (std::size_t p = 0; p < devices; ++p)
      if (std::find(seen.begin(), seen.end(), group_of[p]) == seen.end()) seen.push_back(group_of[p]);
    std::vector<int> previous_seen;
    for (int g : previous)
      if (std::find(previous_seen.begin(), previous_seen.end(), g) == previous_seen.end()) previous_seen.push_back(g);
    if (coarser && seen.size() > 1 && seen.size() < previous_seen.size()) levels.push_back(std::move(group_of));
  }
  return levels;
}

class HierarchicalRs {
 public:
  HierarchicalRs(Schedule& schedule, const AlgorithmRequest& request)
      : schedule_(schedule),
        levels_(grouping_levels(request)),
        devices_(request.num_devices),
        rotation_(request.rotation),
        average_(request.op == ReduceOp::average) {}

  void add_block(Range block) {
    std::vector<Holder> holders;
    for (int device = 0; device < devices_; ++device) holders.push_back({device, false, {}});
    allreduce(block, holders, 0);
  }

 private:
  // A device holding a partial sum of a range: in its input or its output, ready after `ready`.
  struct Holder {
    int device = 0;
    bool in_output = false;
    std::vector<int> ready;

    BufferRef at(std::int64_t offset) const {
      return in_output ? output_at(device, offset) : input_at(device, offset);
    }
  };

  // One slice of a group's range: its owner (an index into the holders), the owner's partial of
  // it, and the steps that wrote the final values of the slice into the owner's output.
  struct Slice {
    Range range;
    std::size_t owner = 0;
    Holder partial;
    std::vector<int> finals;
  };

  // The holders at `level` by group, each group in holder order, groups in order of appearance.
  std::vector<std::vector<std::size_t>> partition(const std::vector<Holder>& holders, std::size_t level) const {
    std::vector<std::vector<std::size_t>> groups;
    std::vector<int> ids;
    for (std::size_t h = 0; h < holders.size(); ++h) {
      const int id = level < levels_.size() ? levels_[level][static_cast<std::size_t>(holders[h].device)] : 0;
      const auto found = std::find(ids.begin(), ids.end(), id);
      if (found == ids.end()) {
        ids.push_back(id);
        groups.push_back({h});
      } else {
        groups[static_cast<std::size_t>(found - ids.begin())].push_back(h);
      }
    }
    return groups;
  }

  // Allreduce `range` among `holders` (at least two) from `level` outwards. Returns, per holder,
  // the steps that wrote the final values of the range into its output.
  std::vector<std::vector<int>> allreduce(Range range, const std::vector<Holder>& holders, std::size_t level) {
    auto groups = partition(holders, level);
    while (groups.size() == 1 && level < levels_.size()) groups = partition(holders, ++level);
    const bool top = groups.size() == 1;

    // 1. Reduce-scatter in each group (final at the top).
    std::vector<std::vector<Slice>> slices(groups.size());
    for (std::size_t g = 0; g < groups.size(); ++g) {
      const auto& members = groups[g];
      const auto size = static_cast<std::int64_t>(members.size());
      for (std::int64_t j = 0; j < size; ++j) {
        const std::size_t owner = members[static_cast<std::size_t>(rotated(j, rotation_, static_cast<int>(size)))];
        Slice slice{part(range, size, j), owner, holders[owner], {}};
        if (slice.range.empty()) continue;
        if (size > 1) {
          const int device = holders[owner].device;
          Step step{StepKind::reduce, device, slice.range.count, {}, {output_at(device, slice.range.offset)}, {},
                    average_ && top};
          for (std::size_t member : members) {
            step.srcs.push_back(holders[member].at(slice.range.offset));
            for (int dep : holders[member].ready)
              if (std::find(step.deps.begin(), step.deps.end(), dep) == step.deps.end()) step.deps.push_back(dep);
          }
          const int reduced = schedule_.add(std::move(step));
          slice.partial = {device, true, {reduced}};
          if (top) slice.finals.push_back(reduced);
        }
        slices[g].push_back(std::move(slice));
      }
    }

    // 2. Below the top: every segment is allreduced among its owners, one per group.
    if (!top) {
      std::vector<std::int64_t> cuts{range.end()};
      for (const auto& group : slices)
        for (const Slice& slice : group) cuts.push_back(slice.range.offset);
      std::sort(cuts.begin(), cuts.end());
      cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
      std::vector<std::size_t> at(groups.size(), 0);  // per group: the slice holding the segment
      for (std::size_t c = 0; c + 1 < cuts.size(); ++c) {
        const Range segment{cuts[c], cuts[c + 1] - cuts[c]};
        std::vector<Holder> owners;
        for (std::size_t g = 0; g < groups.size(); ++g) {
          while (slices[g][at[g]].range.end() <= segment.offset) ++at[g];
          owners.push_back(slices[g][at[g]].partial);
        }
        const auto finals = allreduce(segment, owners, level + 1);
        for (std::size_t g = 0; g < groups.size(); ++g) {
          auto& into = slices[g][at[g]].finals;
          into.insert(into.end(), finals[g].begin(), finals[g].end());
        }
      }
    }

    // 3. Allgather in each group.
    std::vector<std::vector<int>> finals(holders.size());
    for (std::size_t g = 0; g < groups.size(); ++g)
      for (const Slice& slice : slices[g]) {
        auto& own = finals[slice.owner];
        own.insert(own.end(), slice.finals.begin(), slice.finals.end());
        if (groups[g].size() == 1) continue;
        const int device = holders[slice.owner].device;
        Step step{StepKind::copy, device, slice.range.count, {output_at(device, slice.range.offset)}, {},
                  slice.finals, false};
        for (std::size_t member : groups[g])
          if (member != slice.owner) step.dsts.push_back(output_at(holders[member].device, slice.range.offset));
        const int copied = schedule_.add(std::move(step));
        for (std::size_t member : groups[g])
          if (member != slice.owner) finals[member].push_back(copied);
      }
    return finals;
  }

  Schedule& schedule_;
  std::vector<std::vector<int>> levels_;
  int devices_;
  std::int64_t rotation_;
  bool average_;
};

}  // namespace

std::optional<std::string> decline_hierarchical_rs(const AlgorithmRequest& request) {
  return decline_hierarchical(request);
}

Schedule build_hierarchical_rs(const AlgorithmRequest& request) {
  Schedule schedule = start_schedule("hierarchical-rs", request);
  const int k = request.num_devices;
  const std::int64_t n = request.count;
  if (finish_if_trivial(schedule, request)) return schedule;
  HierarchicalRs builder(schedule, request);
  for (Range block : blocks(n, request.options.chunk_elements, k)) builder.add_block(block);
  return schedule;
}

}  // namespace meshreduce::detail
