// Staging windows (process_program.h): where each tensor's elements are staged, in which window,
// and each window's sub-pieces and copies for one process.
//
// Which elements form a window. Any split of the elements keeps the bits (each element meets the
// same operations in the same order), so the split is chosen for speed: every window must give
// every process work, or the processes would take turns. Elements are therefore grouped by the
// step that touches them first (in schedule order, the step's pieces in order) and each step's
// first touches are cut into `windows` equal portions of at least kMinPortionBytes: window j
// holds the j-th portion of every step (a step with fewer portions, being small, starts where the
// previous one ended). Under `direct`, K steps each reduce one process's slice first, so window j
// holds the j-th part of every slice and all K processes reduce in every window; under `ring`,
// the first K steps cover the K chunks, likewise. Where two windows' ring would hold as much as
// the tensors (most steps small), or fewer than two windows have elements, the tensors are staged
// whole in one window as before.
//
// Cost: each window waits on the flags of every local step (the steps a window leaves empty
// still pass on their dependencies), so windows x steps is capped (kMaxStepVisits) to keep
// those waits small beside the bytes; and a window of less than kMinPortionBytes per step would
// make the kernels' calls too short.
#include <algorithm>
#include <iterator>
#include <map>
#include <string>
#include <utility>

#include "exec/processes/process_program.h"
#include "meshreduce/error.h"

namespace meshreduce::detail {
namespace {

constexpr std::size_t kMinPortionBytes = 4096;
// Calls of fewer windows stay whole. Eight was tried (a 4 MiB call at K = 2 had taken 441-495 us
// in four 1 MiB windows against 216-238 us whole, once, with the development machine's two CPUs
// far apart), and the comparison run with it read that row at 468 us whole against 177-360 us in
// windows in the two runs before: that row is noisy either way, and windows won it more often
// (docs/processes.md, "Staging windows").
constexpr std::size_t kMinWindows = 2;
constexpr std::int64_t kMaxStepVisits = std::int64_t{1} << 16;

std::size_t aligned(std::size_t bytes) { return (bytes + kSegmentAlignment - 1) / kSegmentAlignment * kSegmentAlignment; }

// Every piece's refs cover the same elements of one tensor (inputs and outputs only): then a
// window restricts all of a piece's refs alike.
bool windowable(const Program& program, std::span<const int> receiver) {
  if (!program.scratch.empty() || std::any_of(receiver.begin(), receiver.end(), [](int r) { return r >= 0; })) return false;
  for (const Piece& piece : program.pieces) {
    if (piece.count == 0) continue;
    const PhysicalRef& first = program.refs[static_cast<std::size_t>(piece.first_ref)];
    for (int r = piece.first_ref; r < piece.first_ref + piece.sources + piece.destinations; ++r) {
      const PhysicalRef& ref = program.refs[static_cast<std::size_t>(r)];
      if (ref.kind == BufferKind::scratch || ref.index != first.index || ref.offset != first.offset) return false;
    }
  }
  return true;
}

// Elements of a piece no earlier piece touched: the gaps of [begin, end) in `covered` (begin -> end
// of ranges already touched), which then covers them too.
std::vector<ElementRange> first_touches(std::map<std::int64_t, std::int64_t>& covered, std::int64_t begin, std::int64_t end) {
  std::vector<ElementRange> gaps;
  auto at = covered.upper_bound(begin);
  if (at != covered.begin() && std::prev(at)->second > begin) --at;
  std::int64_t cursor = begin;
  for (; at != covered.end() && at->first < end; ++at) {
    if (at->first > cursor) gaps.push_back({cursor, at->first});
    cursor = std::max(cursor, at->second);
  }
  if (cursor < end) gaps.push_back({cursor, end});
  for (const ElementRange& gap : gaps) covered.emplace(gap.begin, gap.end);
  return gaps;
}

struct Part {
  int tensor = 0;
  StagedRange range;
};

// The last of `ranges` (sorted, disjoint) that starts at or before `element`; the first when none does.
std::vector<StagedRange>::const_iterator range_from(const std::vector<StagedRange>& ranges, std::int64_t element) {
  const auto at = std::upper_bound(ranges.begin(), ranges.end(), element,
                                   [](std::int64_t e, const StagedRange& range) { return e < range.begin; });
  return at == ranges.begin() ? at : std::prev(at);
}

// The parts of [begin, end) of `tensor` in each staged range it overlaps, in order.
template <typename Each>
void for_each_staged(const ProcessProgram& lowered, int tensor, std::int64_t begin, std::int64_t end, Each&& each) {
  const auto& ranges = lowered.staged[static_cast<std::size_t>(tensor)];
  auto at = range_from(ranges, begin);
  if (at != ranges.end() && at->end <= begin) ++at;  // it ends before `begin`
  for (; at != ranges.end() && at->begin < end; ++at) {
    const std::int64_t lo = std::max(begin, at->begin), hi = std::min(end, at->end);
    if (lo < hi) each(*at, lo, hi);
  }
}

// Items keyed by a bucket, stably grouped: items[first[b], first[b + 1]) are bucket b's.
template <typename T>
void group(std::vector<std::pair<std::size_t, T>>& keyed, std::size_t buckets, std::vector<T>& items,
           std::vector<int>& first) {
  first.assign(buckets + 1, 0);
  for (const auto& [bucket, item] : keyed) ++first[bucket + 1];
  for (std::size_t b = 0; b < buckets; ++b) first[b + 1] += first[b];
  items.resize(keyed.size());
  std::vector<int> next(first.begin(), first.end() - 1);
  for (const auto& [bucket, item] : keyed) items[static_cast<std::size_t>(next[bucket]++)] = item;
}

}  // namespace

std::size_t ProcessProgram::staged_offset(int tensor, std::int64_t element, std::size_t element_bytes) const noexcept {
  const auto& ranges = staged[static_cast<std::size_t>(tensor)];
  if (ranges.empty()) return 0;
  const auto at = range_from(ranges, element);
  return at->ring + static_cast<std::size_t>(element - at->begin) * element_bytes;
}

void place_staging(const Program& program, std::span<const TensorSpec> layout, std::span<const int> receiver,
                   std::int64_t window_bytes, ProcessProgram& lowered) {
  const std::size_t tensors = layout.size();
  lowered.staged.assign(tensors, {});
  std::size_t total = 0;  // the tensors were checked against the segment limit: no overflow
  for (std::size_t n = 0; n < tensors; ++n) {
    lowered.staged[n].push_back({0, layout[n].count, 0, total});
    total = aligned(total + static_cast<std::size_t>(layout[n].count) * dtype_size(layout[n].dtype));
  }
  lowered.windows = 1;
  lowered.ring_bytes = total;
  lowered.ring_slots = 1;
  if (window_bytes <= 0 || total < kMinWindows * static_cast<std::size_t>(window_bytes) || !windowable(program, receiver)) return;

  std::vector<std::map<std::int64_t, std::int64_t>> covered(tensors);
  std::vector<std::vector<Part>> by_step(program.steps.size());
  std::size_t first_bytes = 0;
  for (std::size_t s = 0; s < program.steps.size(); ++s) {
    const ProgramStep& step = program.steps[s];
    for (int i = 0; i < step.pieces; ++i) {
      const Piece& piece = program.pieces[static_cast<std::size_t>(step.first_piece + i)];
      if (piece.count == 0) continue;
      const PhysicalRef& ref = program.refs[static_cast<std::size_t>(piece.first_ref)];
      for (const ElementRange& gap : first_touches(covered[static_cast<std::size_t>(ref.index)], ref.offset, ref.offset + piece.count)) {
        by_step[s].push_back({ref.index, {gap.begin, gap.end, 0, 0}});
        first_bytes += static_cast<std::size_t>(gap.end - gap.begin) * dtype_size(piece.dtype);
      }
    }
  }
  const auto steps = static_cast<std::int64_t>(std::max<std::size_t>(program.steps.size(), 1));
  const std::int64_t windows =
      std::min<std::int64_t>(static_cast<std::int64_t>((first_bytes + static_cast<std::size_t>(window_bytes) - 1) /
                                                       static_cast<std::size_t>(window_bytes)),
                             kMaxStepVisits / steps);
  if (windows < 2) return;

  // Each step's first touches in `windows` portions, cut at element boundaries. A step with
  // fewer portions (a small one: portions of at least kMinPortionBytes) starts where the last
  // one's ended, so that small steps spread over the windows instead of all filling window 0.
  const auto count_of_windows = static_cast<std::size_t>(windows);
  std::vector<Part> parts;
  std::vector<std::uint8_t> used(count_of_windows, 0);
  std::size_t start = 0;
  for (auto& step_parts : by_step) {
    std::size_t bytes = 0;
    for (const Part& part : step_parts)
      bytes += static_cast<std::size_t>(part.range.end - part.range.begin) * dtype_size(layout[static_cast<std::size_t>(part.tensor)].dtype);
    if (bytes == 0) continue;
    const std::size_t portion = std::max(kMinPortionBytes, (bytes + count_of_windows - 1) / count_of_windows);
    std::size_t position = 0;
    for (Part part : step_parts) {
      const std::size_t element = dtype_size(layout[static_cast<std::size_t>(part.tensor)].dtype);
      while (part.range.begin < part.range.end) {
        const std::size_t index = std::min(position / portion, count_of_windows - 1);
        std::int64_t count = part.range.end - part.range.begin;  // the last portion takes the rest
        if (index < count_of_windows - 1) {
          const std::size_t room = (index + 1) * portion - position;
          count = std::min<std::int64_t>(count, static_cast<std::int64_t>((room + element - 1) / element));
        }
        const std::size_t window = (start + index) % count_of_windows;
        parts.push_back({part.tensor, {part.range.begin, part.range.begin + count, static_cast<int>(window), 0}});
        used[window] = 1;
        part.range.begin += count;
        position += static_cast<std::size_t>(count) * element;
      }
    }
    start = (start + std::min(count_of_windows, (bytes + portion - 1) / portion)) % count_of_windows;
  }
  // Windows without elements are dropped; with fewer than two left, the tensors stay whole.
  std::vector<int> dense(count_of_windows, -1);
  int kept = 0;
  for (std::size_t w = 0; w < count_of_windows; ++w)
    if (used[w] != 0) dense[w] = kept++;
  if (kept < 2) return;
  for (Part& part : parts) part.range.window = dense[static_cast<std::size_t>(part.range.window)];
  // Places in the ring: each window's parts one after another, each from a cache line.
  std::stable_sort(parts.begin(), parts.end(), [](const Part& a, const Part& b) { return a.range.window < b.range.window; });
  std::size_t ring = 0, end = 0;
  int window = -1;
  for (Part& part : parts) {
    if (part.range.window != window) {
      window = part.range.window;
      end = 0;
    }
    part.range.ring = aligned(end);
    end = part.range.ring + static_cast<std::size_t>(part.range.end - part.range.begin) *
                                dtype_size(layout[static_cast<std::size_t>(part.tensor)].dtype);
    ring = std::max(ring, aligned(end));
  }
  if (2 * ring >= total) return;  // a ring of two windows would hold as much as the whole tensors
  for (auto& ranges : lowered.staged) ranges.clear();
  for (const Part& part : parts) lowered.staged[static_cast<std::size_t>(part.tensor)].push_back(part.range);
  for (auto& ranges : lowered.staged)
    std::sort(ranges.begin(), ranges.end(), [](const StagedRange& a, const StagedRange& b) { return a.begin < b.begin; });
  lowered.windows = kept;
  lowered.ring_bytes = ring;
  lowered.ring_slots = 2;
}

void split_into_windows(const Program& program, std::span<const TensorSpec> layout, const ProcessMap& map,
                        ProcessProgram& lowered) {
  const auto windows = static_cast<std::size_t>(lowered.windows);
  const std::size_t steps = lowered.steps.size();
  const auto tensors = static_cast<std::size_t>(lowered.tensors);
  std::vector<std::pair<std::size_t, SubPiece>> sub_pieces;
  for (std::size_t i = 0; i < steps; ++i) {
    const ProgramStep& step = program.steps[static_cast<std::size_t>(lowered.steps[i].step)];
    for (int p = step.first_piece; p < step.first_piece + step.pieces; ++p) {
      const Piece& piece = program.pieces[static_cast<std::size_t>(p)];
      if (windows == 1) {  // whole pieces, whatever their refs
        sub_pieces.emplace_back(i, SubPiece{p, 0, piece.count});
        continue;
      }
      const PhysicalRef& ref = program.refs[static_cast<std::size_t>(piece.first_ref)];
      for_each_staged(lowered, ref.index, ref.offset, ref.offset + piece.count,
                      [&](const StagedRange& range, std::int64_t lo, std::int64_t hi) {
                        sub_pieces.emplace_back(static_cast<std::size_t>(range.window) * steps + i,
                                                SubPiece{p, lo - ref.offset, hi - lo});
                      });
    }
  }
  group(sub_pieces, windows * steps, lowered.sub_pieces, lowered.first_sub_piece);

  const SegmentLayout& mine = lowered.layouts[static_cast<std::size_t>(lowered.rank)];
  std::vector<std::pair<std::size_t, StagedCopy>> in, out;
  // A copy of `range` of slot's tensor, whose element `from` lies at byte `at` of `process`'s segment.
  const auto add = [&](std::vector<std::pair<std::size_t, StagedCopy>>& copies, std::size_t slot, ElementRange range,
                       int process, std::size_t at, bool whole) {
    const auto tensor = static_cast<int>(slot % tensors);
    const std::size_t element = dtype_size(layout[slot % tensors].dtype);
    const std::size_t base = at - lowered.staged_offset(tensor, range.begin, element);
    for_each_staged(lowered, tensor, range.begin, range.end, [&](const StagedRange& staged, std::int64_t lo, std::int64_t hi) {
      copies.emplace_back(static_cast<std::size_t>(staged.window),
                          StagedCopy{static_cast<int>(slot), {lo, hi}, process, base + lowered.staged_offset(tensor, lo, element), whole});
    });
  };
  const int locals = map.devices_of(lowered.rank);
  for (std::size_t slot = 0; slot < static_cast<std::size_t>(locals) * tensors; ++slot) {
    const auto tensor = static_cast<int>(slot % tensors);
    const std::size_t element = dtype_size(layout[slot % tensors].dtype);
    const auto staged_at = [&](std::size_t ring, std::int64_t begin) { return ring + lowered.staged_offset(tensor, begin, element); };
    for (const ElementRange& range : lowered.shared_inputs[slot])
      add(in, slot, range, lowered.rank, staged_at(mine.staging_input[slot], range.begin), false);
    for (const StagedRange& range : lowered.staged[slot % tensors])
      if (range.begin < range.end)
        add(in, slot, {range.begin, range.end}, lowered.rank, staged_at(mine.staging_input[slot], range.begin), true);
    for (const ElementRange& range : lowered.shared_outputs[slot])
      add(out, slot, range, lowered.rank, staged_at(mine.staging_output[slot], range.begin), false);
    for (const Fetch& fetch : lowered.fetches[slot]) add(out, slot, fetch.range, fetch.process, fetch.at, false);
  }
  group(in, windows, lowered.copies_in, lowered.first_copy_in);
  group(out, windows, lowered.copies_out, lowered.first_copy_out);
}

}  // namespace meshreduce::detail
