#include "exec/processes/process_program.h"

#include <algorithm>
#include <limits>
#include <string>
#include <tuple>

#include "meshreduce/error.h"

namespace meshreduce::detail {
namespace {

constexpr std::size_t npos = std::numeric_limits<std::size_t>::max();

// Adds `bytes` at the next aligned offset; throws when the segment would pass `limit`.
class Allocation {
 public:
  Allocation(int rank, std::size_t limit) : rank_(rank), limit_(limit) {}
  std::size_t take(std::size_t bytes) {
    const std::size_t at = (end_ + kSegmentAlignment - 1) / kSegmentAlignment * kSegmentAlignment;
    if (at > limit_ || bytes > limit_ - at)
      throw InvalidArgument("process " + std::to_string(rank_) + ": its shared segment would exceed " +
                            std::to_string(limit_) + " bytes");
    end_ = at + bytes;
    return at;
  }
  std::size_t end() const { return end_; }

 private:
  int rank_;
  std::size_t limit_;
  std::size_t end_ = 0;
};

std::size_t checked_bytes(std::int64_t count, DType dtype, std::size_t limit) {
  const auto element = dtype_size(dtype);
  if (count < 0 || static_cast<std::uint64_t>(count) > limit / element)
    throw InvalidArgument("a tensor of " + std::to_string(count) + " " + std::string(dtype_name(dtype)) +
                          " elements does not fit a shared segment of at most " + std::to_string(limit) + " bytes");
  return static_cast<std::size_t>(count) * element;
}

SegmentLayout layout_of(const Program& program, std::span<const TensorSpec> tensors, const ProcessMap& map, int process,
                        std::size_t ring_bytes, std::size_t limit) {
  SegmentLayout layout;
  Allocation space(process, limit);
  layout.ready = space.take(sizeof(std::uint64_t));
  layout.failed = space.take(sizeof(std::uint64_t));
  layout.failure_text = space.take(kFailureTextBytes);
  layout.progress = space.take(3 * sizeof(std::uint64_t));
  const int locals = map.devices_of(process);
  layout.locators = space.take(static_cast<std::size_t>(locals) * tensors.size() * 2 * sizeof(std::uint64_t));
  layout.flags = space.take(program.steps.size() * sizeof(std::uint64_t));
  for (int local = 0; local < locals; ++local) {
    const std::size_t input = space.take(ring_bytes), output = space.take(ring_bytes);
    layout.staging_input.insert(layout.staging_input.end(), tensors.size(), input);
    layout.staging_output.insert(layout.staging_output.end(), tensors.size(), output);
  }
  for (const ScratchSpec& spec : program.scratch) {
    const bool here = map.process_of[static_cast<std::size_t>(spec.device)] == process;
    layout.scratch.push_back(here ? space.take(checked_bytes(spec.count, spec.dtype, limit)) : npos);
  }
  layout.bytes = space.end();
  return layout;
}

// A ref's elements of one local tensor: who touches them and, for this process's own refs, which.
struct Touch {
  std::int64_t begin = 0;
  std::int64_t end = 0;
  int ref = -1;  // -1: a peer's access
};

// Overlapping accesses form clusters: over accesses sorted by start, a cluster ends where the
// next access starts past everything so far. Calls on_cluster(first, last, end) for each, with
// the indices of its first and last access and the end of its range.
template <typename Access, typename OnCluster>
void for_each_cluster(std::span<const Access> sorted, OnCluster&& on_cluster) {
  for (std::size_t first = 0; first < sorted.size();) {
    std::size_t last = first;
    std::int64_t end = sorted[first].end;
    while (last + 1 < sorted.size() && sorted[last + 1].begin < end) end = std::max(end, sorted[++last].end);
    on_cluster(first, last, end);
    first = last + 1;
  }
}

// A cluster with a peer's access is staged whole (adjacent staged clusters are copied as one
// range); this process's refs in any other cluster run on the private buffer.
void classify(std::vector<Touch>& touches, std::vector<std::uint8_t>& own_refs, std::vector<ElementRange>& shared) {
  std::sort(touches.begin(), touches.end(), [](const Touch& a, const Touch& b) { return a.begin < b.begin; });
  for_each_cluster(std::span<const Touch>(touches), [&](std::size_t first, std::size_t last, std::int64_t end) {
    const auto peer = std::any_of(touches.begin() + static_cast<std::ptrdiff_t>(first),
                                  touches.begin() + static_cast<std::ptrdiff_t>(last) + 1,
                                  [](const Touch& touch) { return touch.ref < 0; });
    if (peer && !shared.empty() && shared.back().end == touches[first].begin) shared.back().end = end;  // one copy
    else if (peer) shared.push_back({touches[first].begin, end});
    else
      for (std::size_t t = first; t <= last; ++t) own_refs[static_cast<std::size_t>(touches[t].ref)] = 1;
  });
}

void find_own_refs(const Program& program, const ProcessMap& map, const std::vector<int>& step_process, int rank,
                   int tensors, ProcessProgram& lowered) {
  const auto slots = static_cast<std::size_t>(map.devices_of(rank)) * static_cast<std::size_t>(tensors);
  std::vector<std::vector<Touch>> inputs(slots), outputs(slots);
  for (const Piece& piece : program.pieces) {
    const bool here = step_process[static_cast<std::size_t>(piece.step)] == rank;
    for (int r = piece.first_ref; r < piece.first_ref + piece.sources + piece.destinations; ++r) {
      const PhysicalRef& ref = program.refs[static_cast<std::size_t>(r)];
      const auto device = static_cast<std::size_t>(ref.device);
      if (ref.kind == BufferKind::scratch || map.process_of[device] != rank || piece.count == 0) continue;
      if (lowered.forwarded_at[static_cast<std::size_t>(r)] != kNotForwarded) continue;  // fetched, not staged
      const auto slot = tensor_slot(map, ref, tensors);
      (ref.kind == BufferKind::input ? inputs : outputs)[slot].push_back({ref.offset, ref.offset + piece.count, here ? r : -1});
    }
  }
  lowered.own_refs.assign(program.refs.size(), 0);
  lowered.shared_inputs.resize(slots);
  lowered.shared_outputs.resize(slots);
  for (std::size_t slot = 0; slot < slots; ++slot) {
    classify(inputs[slot], lowered.own_refs, lowered.shared_inputs[slot]);
    classify(outputs[slot], lowered.own_refs, lowered.shared_outputs[slot]);
  }
}

// Output refs that are alone on their elements: no other ref of the program touches any element
// of that device's output tensor that they cover. Every process finds the same ones.
std::vector<std::uint8_t> lone_outputs(const Program& program) {
  struct Access {
    int device, tensor;
    std::int64_t begin, end;
    int ref;
  };
  std::vector<Access> accesses;
  for (const Piece& piece : program.pieces) {
    if (piece.count == 0) continue;
    for (int r = piece.first_ref; r < piece.first_ref + piece.sources + piece.destinations; ++r) {
      const PhysicalRef& ref = program.refs[static_cast<std::size_t>(r)];
      if (ref.kind == BufferKind::output) accesses.push_back({ref.device, ref.index, ref.offset, ref.offset + piece.count, r});
    }
  }
  std::sort(accesses.begin(), accesses.end(), [](const Access& a, const Access& b) {
    return std::tie(a.device, a.tensor, a.begin) < std::tie(b.device, b.tensor, b.begin);
  });
  std::vector<std::uint8_t> lone(program.refs.size(), 0);
  for (std::size_t group = 0; group < accesses.size();) {  // one device's output tensor at a time
    std::size_t next = group;
    while (next < accesses.size() && accesses[next].device == accesses[group].device &&
           accesses[next].tensor == accesses[group].tensor)
      ++next;
    const std::span<const Access> tensor(accesses.data() + group, next - group);
    for_each_cluster(tensor, [&](std::size_t first, std::size_t last, std::int64_t) {
      if (first == last) lone[static_cast<std::size_t>(tensor[first].ref)] = 1;
    });
    group = next;
  }
  return lone;
}

// ProcessProgram::forwarded_at for every ref, and this process's fetches. Transfers between
// machines are left alone: their destinations are on another machine, their data goes by message.
void find_forwards(const Program& program, std::span<const TensorSpec> layout, const ProcessMap& map,
                   std::span<const int> receiver, int rank, ProcessProgram& lowered) {
  const int tensors = lowered.tensors;
  const std::vector<std::uint8_t> lone = lone_outputs(program);
  const auto process_of = [&](int ref) { return map.process_of[static_cast<std::size_t>(program.refs[static_cast<std::size_t>(ref)].device)]; };
  const auto slot_of = [&](const PhysicalRef& ref) { return tensor_slot(map, ref, tensors); };
  lowered.forwarded_at.assign(program.refs.size(), kNotForwarded);
  lowered.fetches.assign(static_cast<std::size_t>(map.devices_of(rank)) * static_cast<std::size_t>(tensors), {});
  for (const Piece& piece : program.pieces) {
    const auto step = static_cast<std::size_t>(piece.step);
    if (piece.count == 0 || (!receiver.empty() && receiver[step] >= 0)) continue;
    const int runner = lowered.step_process[step];
    const int first = piece.first_ref + piece.sources, end = first + piece.destinations;
    int home = first;
    while (home < end && !(lone[static_cast<std::size_t>(home)] != 0 && process_of(home) == runner)) ++home;
    if (home == end) continue;
    const PhysicalRef& own = program.refs[static_cast<std::size_t>(home)];
    const std::size_t element = dtype_size(piece.dtype);
    const std::size_t at = lowered.layouts[static_cast<std::size_t>(runner)].staging_output[slot_of(own)] +
                           lowered.staged_offset(own.index, own.offset, element);
    for (int r = first; r < end; ++r) {
      if (lone[static_cast<std::size_t>(r)] == 0 || process_of(r) == runner) continue;
      lowered.forwarded_at[static_cast<std::size_t>(r)] = at;
      if (runner == rank) lowered.fetchers.push_back(process_of(r));
      if (process_of(r) != rank) continue;
      const PhysicalRef& ref = program.refs[static_cast<std::size_t>(r)];
      lowered.fetches[slot_of(ref)].push_back({{ref.offset, ref.offset + piece.count}, runner, at});
    }
  }
  std::sort(lowered.fetchers.begin(), lowered.fetchers.end());
  lowered.fetchers.erase(std::unique(lowered.fetchers.begin(), lowered.fetchers.end()), lowered.fetchers.end());
  for (std::size_t slot = 0; slot < lowered.fetches.size(); ++slot) {  // adjacent pieces of one runner: one copy
    std::vector<Fetch>& fetches = lowered.fetches[slot];
    const std::size_t element = dtype_size(layout[slot % static_cast<std::size_t>(tensors)].dtype);
    std::sort(fetches.begin(), fetches.end(), [](const Fetch& a, const Fetch& b) { return a.range.begin < b.range.begin; });
    std::vector<Fetch> merged;
    for (const Fetch& fetch : fetches) {
      Fetch* last = merged.empty() ? nullptr : &merged.back();
      if (last != nullptr && last->process == fetch.process && last->range.end == fetch.range.begin &&
          last->at + static_cast<std::size_t>(last->range.end - last->range.begin) * element == fetch.at)
        last->range.end = fetch.range.end;
      else
        merged.push_back(fetch);
    }
    fetches = std::move(merged);
  }
}

}  // namespace

ProcessMap make_process_map(std::span<const int> devices_per_process) {
  ProcessMap map;
  map.first_device.push_back(0);
  for (std::size_t p = 0; p < devices_per_process.size(); ++p) {
    const int devices = devices_per_process[p];
    if (devices < 1)
      throw InvalidArgument("process " + std::to_string(p) + " holds " + std::to_string(devices) +
                            " devices; each process needs at least one");
    for (int local = 0; local < devices; ++local) {
      map.process_of.push_back(static_cast<int>(p));
      map.local_of.push_back(local);
    }
    map.first_device.push_back(map.first_device.back() + devices);
  }
  return map;
}

ProcessProgram lower_for_process(const Schedule& schedule, const Program& program, std::span<const TensorSpec> layout,
                                 const ProcessMap& map, int rank, std::size_t max_segment_bytes,
                                 std::span<const int> receiver, std::int64_t window_bytes) {
  if (schedule.steps.size() != program.steps.size())
    throw InvalidArgument("the program has " + std::to_string(program.steps.size()) + " steps, its schedule " +
                          std::to_string(schedule.steps.size()));
  if (program.num_devices != static_cast<int>(map.process_of.size()))
    throw InvalidArgument("the program has " + std::to_string(program.num_devices) + " devices, the processes hold " +
                          std::to_string(map.process_of.size()));
  ProcessProgram lowered;
  lowered.rank = rank;
  lowered.tensors = static_cast<int>(layout.size());
  Allocation staging(rank, max_segment_bytes);  // every tensor in one ring: does it fit at all?
  for (const TensorSpec& tensor : layout) staging.take(checked_bytes(tensor.count, tensor.dtype, max_segment_bytes));
  place_staging(program, layout, receiver, window_bytes, lowered);
  for (int p = 0; p < map.processes(); ++p)
    lowered.layouts.push_back(layout_of(program, layout, map, p, lowered.ring_bytes * static_cast<std::size_t>(lowered.ring_slots),
                                        max_segment_bytes));

  const auto owner = [&](int device) { return map.process_of[static_cast<std::size_t>(device)]; };
  const std::size_t steps = program.steps.size();
  std::vector<std::vector<int>> deps(steps);  // the Program keeps dependents; invert them back
  for (std::size_t s = 0; s < steps; ++s)
    for (int next : program.steps[s].dependents) deps[static_cast<std::size_t>(next)].push_back(static_cast<int>(s));

  lowered.step_process.assign(steps, 0);
  std::vector<std::vector<int>> touched(steps);
  for (const Piece& piece : program.pieces) {
    auto& processes = touched[static_cast<std::size_t>(piece.step)];
    for (int r = 0; r < piece.sources + piece.destinations; ++r)
      processes.push_back(owner(program.refs[static_cast<std::size_t>(piece.first_ref + r)].device));
  }
  for (std::size_t s = 0; s < steps; ++s) {
    auto& processes = touched[s];
    std::sort(processes.begin(), processes.end());
    processes.erase(std::unique(processes.begin(), processes.end()), processes.end());
  }
  lowered.flag_process.assign(steps, 0);
  const auto receiver_of = [&](std::size_t s) { return receiver.empty() ? -1 : receiver[s]; };
  for (std::size_t s = 0; s < steps; ++s) {
    lowered.step_process[s] = owner(schedule.steps[s].device);
    lowered.flag_process[s] = receiver_of(s) >= 0 ? receiver_of(s) : lowered.step_process[s];
    if (receiver_of(s) == rank) lowered.receives.push_back(static_cast<int>(s));
  }

  for (std::size_t s = 0; s < steps; ++s) {
    const int process = lowered.step_process[s];
    const bool transfer = receiver_of(s) >= 0;
    if (process != rank) {
      // A transfer touches this process's memory only as its receiver: its completion is ours.
      if (!transfer && std::binary_search(touched[s].begin(), touched[s].end(), rank)) lowered.final_waits.push_back(static_cast<int>(s));
      continue;
    }
    LocalStep local;
    local.step = static_cast<int>(s);
    local.receiver = receiver_of(s);
    local.first_wait = static_cast<int>(lowered.waits.size());
    for (int dep : deps[s])
      // Steps of other processes, and transfers received here (done when their data arrived,
      // not in this process's walk of its own steps).
      if (lowered.flag_process[static_cast<std::size_t>(dep)] != rank || receiver_of(static_cast<std::size_t>(dep)) >= 0)
        lowered.waits.push_back(dep);
    local.waits = static_cast<int>(lowered.waits.size()) - local.first_wait;
    local.first_peer = static_cast<int>(lowered.peers.size());
    for (int peer : touched[s])
      if (peer != rank && !transfer) lowered.peers.push_back(peer);
    local.peers = static_cast<int>(lowered.peers.size()) - local.first_peer;
    lowered.steps.push_back(local);
  }
  find_forwards(program, layout, map, receiver, rank, lowered);
  find_own_refs(program, map, lowered.step_process, rank, lowered.tensors, lowered);
  split_into_windows(program, layout, map, lowered);
  return lowered;
}

}  // namespace meshreduce::detail
