// Phase 2 of the verifier: no two unordered steps touch the same bytes with a write.
//
// Every reference of every step is an access (memory, element range, read or write); input b
// and output b of a device are one memory when in-place calls are checked. Sorting the accesses
// by memory and start and sweeping gives the pairs of steps whose ranges overlap with at least
// one write. A pair (t, s), t < s, is ordered when t is an ancestor of s in the dependency graph:
// a short search back from s answers most pairs; the rest are answered from ancestor bitsets over
// blocks of 2048 candidate ancestors (256 bytes a step at a time, steps^2 / 8 bytes of work at
// most), so even 10^5 steps fit in little memory and take about a second.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "verify/verify_internal.h"

namespace meshreduce::detail::verify {
namespace {

struct Access {
  Memory memory;
  std::int64_t begin = 0;
  std::int64_t end = 0;
  int step = 0;
  bool write = false;
};

std::vector<Access> collect_accesses(const Schedule& schedule, bool alias_io) {
  std::vector<Access> accesses;
  for (std::size_t s = 0; s < schedule.steps.size(); ++s) {
    const Step& step = schedule.steps[s];
    if (step.count == 0) continue;
    for (const auto* refs : {&step.srcs, &step.dsts})
      for (const BufferRef& ref : *refs)
        accesses.push_back({memory_of(ref, alias_io), ref.offset, ref.offset + step.count, static_cast<int>(s),
                            refs == &step.dsts});
  }
  std::sort(accesses.begin(), accesses.end(), [](const Access& a, const Access& b) {
    return std::tie(a.memory, a.begin) < std::tie(b.memory, b.begin);
  });
  return accesses;
}

// Pairs (earlier << 32 | later) of distinct steps with overlapping accesses, one a write.
std::vector<std::uint64_t> conflicting_pairs(const std::vector<Access>& accesses) {
  std::vector<std::uint64_t> pairs;
  for (std::size_t i = 0; i < accesses.size(); ++i) {
    const Access& a = accesses[i];
    for (std::size_t j = i + 1; j < accesses.size(); ++j) {
      const Access& b = accesses[j];
      if (!(b.memory == a.memory) || b.begin >= a.end) break;
      if (a.step == b.step || (!a.write && !b.write)) continue;
      const auto lo = static_cast<std::uint64_t>(std::min(a.step, b.step));
      const auto hi = static_cast<std::uint64_t>(std::max(a.step, b.step));
      pairs.push_back(lo << 32 | hi);
    }
  }
  std::sort(pairs.begin(), pairs.end());
  pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
  return pairs;
}

// The dependencies of all steps in one array: deps of step s are list[begin[s], begin[s + 1]).
struct Graph {
  std::vector<std::size_t> begin;
  std::vector<int> list;
  explicit Graph(const Schedule& schedule) {
    begin.push_back(0);
    for (const Step& step : schedule.steps) {
      list.insert(list.end(), step.deps.begin(), step.deps.end());
      begin.push_back(list.size());
    }
  }
  std::span<const int> deps(std::size_t step) const {
    return {list.data() + begin[step], begin[step + 1] - begin[step]};
  }
};

// Whether `earlier` is an ancestor of `later`, searching back from `later` through steps after
// `earlier` only; nullopt when that takes more than `budget` steps. `seen` holds stamps.
std::optional<bool> search_back(const Graph& graph, int earlier, int later, int stamp, std::size_t budget,
                                std::vector<int>& seen, std::vector<int>& stack) {
  stack.assign(1, later);  // breadth first: a near ancestor is found before far ones are visited
  for (std::size_t head = 0; head < stack.size(); ++head) {
    for (int dep : graph.deps(static_cast<std::size_t>(stack[head]))) {
      if (dep == earlier) return true;
      if (dep < earlier || seen[static_cast<std::size_t>(dep)] == stamp) continue;
      if (stack.size() > budget) return std::nullopt;
      seen[static_cast<std::size_t>(dep)] = stamp;
      stack.push_back(dep);
    }
  }
  return false;
}

// For each pair (sorted by earlier step), whether the earlier step is an ancestor of the later.
// Most pairs are a step and a near ancestor: a short search back answers them. The rest are
// answered from ancestor bitsets, built a block of candidate ancestors at a time.
std::vector<bool> ordered(const Schedule& schedule, const std::vector<std::uint64_t>& pairs) {
  const std::size_t steps = schedule.steps.size();
  std::vector<bool> result(pairs.size(), false);
  std::vector<std::size_t> open;  // pairs the search left open, still sorted by earlier step
  std::vector<int> seen(steps, -1);
  std::vector<int> stack;
  const Graph graph(schedule);
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    const auto found = search_back(graph, static_cast<int>(pairs[i] >> 32), static_cast<int>(pairs[i] & 0xffffffffu),
                                   static_cast<int>(i), 256, seen, stack);
    if (found) result[i] = *found;
    else open.push_back(i);
  }
  // Block width in bits: the closure costs steps^2 / 8 bytes of ORs whatever the width; narrow
  // blocks keep the (steps x width) matrix small enough to stay in cache.
  const std::size_t width = std::clamp<std::size_t>((steps + 63) / 64 * 64, 64, 2048);
  const std::size_t words = width / 64;
  std::vector<std::uint64_t> ancestors;
  std::size_t next = 0;  // first open pair not yet answered
  while (next < open.size()) {
    const std::size_t base = static_cast<std::size_t>(pairs[open[next]] >> 32) / width * width;
    // ancestors[(s - base) * words + w]: bit i set when step base + w*64 + i is an ancestor of s.
    ancestors.assign((steps - base) * words, 0);
    for (std::size_t s = base; s < steps; ++s) {
      std::uint64_t* row = &ancestors[(s - base) * words];
      for (int dep : graph.deps(s)) {
        const auto d = static_cast<std::size_t>(dep);
        if (d < base) continue;
        const std::uint64_t* from = &ancestors[(d - base) * words];
        for (std::size_t w = 0; w < words; ++w) row[w] |= from[w];
        if (d < base + width) row[(d - base) / 64] |= std::uint64_t{1} << ((d - base) % 64);
      }
    }
    for (; next < open.size() && (pairs[open[next]] >> 32) < base + width; ++next) {
      const auto t = static_cast<std::size_t>(pairs[open[next]] >> 32);
      const auto s = static_cast<std::size_t>(pairs[open[next]] & 0xffffffffu);
      result[open[next]] = (ancestors[(s - base) * words + (t - base) / 64] >> ((t - base) % 64)) & 1u;
    }
  }
  return result;
}

VerifyReport describe_race(const Schedule& schedule, int earlier, int later, bool alias_io) {
  const Step& t = schedule.steps[static_cast<std::size_t>(earlier)];
  const Step& s = schedule.steps[static_cast<std::size_t>(later)];
  for (const auto* s_refs : {&s.dsts, &s.srcs})
    for (const BufferRef& a : *s_refs)
      for (const auto* t_refs : {&t.dsts, &t.srcs})
        for (const BufferRef& b : *t_refs) {
          const bool a_writes = s_refs == &s.dsts;
          const bool b_writes = t_refs == &t.dsts;
          if (!(a_writes || b_writes) || !(memory_of(a, alias_io) == memory_of(b, alias_io))) continue;
          const std::int64_t begin = std::max(a.offset, b.offset);
          const std::int64_t end = std::min(a.offset + s.count, b.offset + t.count);
          if (begin >= end) continue;
          std::string what = std::string(a_writes ? "writes " : "reads ") + describe_range(schedule, a, begin, end) +
                             ", which step " + std::to_string(earlier) + " " + (b_writes ? "writes" : "reads");
          if (a.kind != b.kind)
            what += " as " + describe_range(schedule, b, b.offset + (begin - a.offset), b.offset + (end - a.offset)) +
                    " (the same memory when the call is in place)";
          what += ", and neither step depends on the other";
          VerifyReport report = violation(schedule, ViolationKind::race, later, what);
          report.other_step = earlier;
          locate(report, schedule, a, begin, end);
          return report;
        }
  return violation(schedule, ViolationKind::race, later, "races with step " + std::to_string(earlier));
}

}  // namespace

std::optional<VerifyReport> check_races(const Schedule& schedule, const VerifyOptions& options, VerifyStats& stats) {
  const std::vector<std::uint64_t> pairs = conflicting_pairs(collect_accesses(schedule, options.in_place));
  stats.race_pairs = static_cast<std::int64_t>(pairs.size());
  const std::vector<bool> is_ordered = ordered(schedule, pairs);
  // The first race: smallest later step, then smallest earlier step.
  std::optional<std::uint64_t> first;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    if (is_ordered[i]) continue;
    const std::uint64_t key = (pairs[i] & 0xffffffffu) << 32 | pairs[i] >> 32;
    if (!first || key < *first) first = key;
  }
  if (!first) return std::nullopt;
  return describe_race(schedule, static_cast<int>(*first & 0xffffffffu), static_cast<int>(*first >> 32),
                       options.in_place);
}

}  // namespace meshreduce::detail::verify
