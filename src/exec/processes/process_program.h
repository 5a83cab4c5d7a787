// Internal: a Program (plan/program.h) lowered for one process of a job. Schedule device d lives
// in process process_of[d] as its local device local_of[d]; a step runs in the process of its
// device. Each process walks its own steps in schedule order (dependencies always point to
// earlier steps, so the earliest unfinished step of the job can always run: no deadlock) and,
// before a step, waits only for
//   - its dependencies that run in other processes (their completion flags), and
//   - the processes whose memory the step reads or writes, to have staged this call's inputs
//     (their ready flag), which also says they are done with the previous call's outputs;
// and at the end of a call, for every step of other processes that touches its memory, so that
// its outputs are complete and no peer reads its staging inputs or writes its outputs any more
// when it returns. Peers may still read the results it left for them (forwarded_at) after it
// returns; that is safe because stage() never writes output staging, the step that leaves a
// result is the only writer of its range and in the next call waits for every peer it serves to
// be ready (done copying), and a layout's segments live as long as its plan.
//
// Every process's shared segment has the same shape, computed here by every process from the
// same Program, so no offsets are exchanged: a header (ready flag, failure flag and text, progress,
// one locator per local tensor for the input and the output), one completion flag per step, then
// staging for each local tensor's input and output and the scratch buffers of local devices.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "meshreduce/bucketing.h"
#include "plan/program.h"

namespace meshreduce::detail {

struct ProcessMap {
  std::vector<int> process_of;    // per schedule device
  std::vector<int> local_of;      // per schedule device: its index among its process's devices
  std::vector<int> first_device;  // per process, and one past the last: devices are in rank order
  int processes() const noexcept { return static_cast<int>(first_device.size()) - 1; }
  int devices_of(int process) const noexcept {
    return first_device[static_cast<std::size_t>(process) + 1] - first_device[static_cast<std::size_t>(process)];
  }
};

// Throws InvalidArgument for a process without devices.
ProcessMap make_process_map(std::span<const int> devices_per_process);

// A local tensor's slot, the index of every per-tensor table of a process (its segment's staging,
// its ProcessProgram's staged ranges and fetches, the executor's private buffers): the tensors
// of local device 0 first, then those of local device 1, and so on.
inline std::size_t tensor_slot(int local_device, int tensor, int tensors) noexcept {
  return static_cast<std::size_t>(local_device) * static_cast<std::size_t>(tensors) + static_cast<std::size_t>(tensor);
}
// The slot of the tensor a ref points into, in the process that holds its device.
inline std::size_t tensor_slot(const ProcessMap& map, const PhysicalRef& ref, int tensors) noexcept {
  return tensor_slot(map.local_of[static_cast<std::size_t>(ref.device)], ref.index, tensors);
}

inline constexpr std::size_t kFailureTextBytes = 512;
inline constexpr std::size_t kSegmentAlignment = 64;  // a cache line: no false sharing between ranges

// Byte offsets within a process's plan segment.
struct SegmentLayout {
  std::size_t ready = 0;    // u64: the call whose inputs are staged
  std::size_t failed = 0;   // u64: nonzero once this process failed a call
  std::size_t failure_text = 0;  // kFailureTextBytes, NUL-terminated
  // Progress, for the report of a peer that waits on this process too long: u64 steps of this
  // process done in the call `ready` names, u64 steady_clock nanoseconds of the last change
  // (staging or a step), u64 the process it is blocked on + 1 (0: none). Written only by the
  // owner; read by peers only when they give up.
  std::size_t progress = 0;
  std::size_t locators = 0;      // u64 per (local device, tensor, input|output), see Locator
  std::size_t flags = 0;         // u64 per step of the program: the last call that completed it
  std::vector<std::size_t> staging_input;   // per (local device, tensor): local * tensors + tensor
  std::vector<std::size_t> staging_output;
  std::vector<std::size_t> scratch;         // per scratch buffer of the program; npos elsewhere
  std::size_t bytes = 0;

  std::size_t locator(int local_device, int tensor, BufferKind kind, int tensors) const noexcept {
    const auto slot = tensor_slot(local_device, tensor, tensors) * 2 + (kind == BufferKind::output ? 1 : 0);
    return locators + slot * sizeof(std::uint64_t);
  }
  std::size_t flag(int step) const noexcept { return flags + static_cast<std::size_t>(step) * sizeof(std::uint64_t); }
};

// A locator: where a tensor of a call lives, as an offset into the plan segment, or (with
// kInArena) into the process's shared arena (buffers from ProcessCommunicator::allocate_shared).
inline constexpr std::uint64_t kInArena = std::uint64_t{1} << 63;

struct LocalStep {
  int step = 0;
  int receiver = -1;   // a transfer (machines.h): sent from here, completed at this process
  int first_wait = 0;  // ProcessProgram::waits[first_wait, +waits): steps of other processes
  int waits = 0;
  int first_peer = 0;  // ProcessProgram::peers[first_peer, +peers): other processes touched
  int peers = 0;
};

// Elements [begin, end) of a tensor.
struct ElementRange {
  std::int64_t begin = 0;
  std::int64_t end = 0;
  bool operator==(const ElementRange&) const = default;
};

inline constexpr std::size_t kNotForwarded = std::numeric_limits<std::size_t>::max();

// A range of a private output that its process copies, after the call's steps, from the
// segment of the process that computed it (ProcessProgram::forwarded_at).
struct Fetch {
  ElementRange range;
  int process = 0;
  std::size_t at = 0;  // byte offset of the range's first element in that process's plan segment
  bool operator==(const Fetch&) const = default;
};

struct ProcessProgram {
  int rank = 0;
  int tensors = 0;
  std::vector<int> step_process;  // per step of the program: the process that runs it
  std::vector<int> flag_process;  // per step: the process whose flag says it is done (a transfer's receiver)
  std::vector<int> receives;      // transfers this process receives, in step order
  std::vector<LocalStep> steps;   // this process's, in schedule order
  std::vector<int> waits;
  std::vector<int> peers;
  std::vector<int> final_waits;   // steps of other processes that read or write this process's memory
  std::vector<SegmentLayout> layouts;  // per process
  // Private buffers: what of them must pass through the segment. An element of a local
  // tensor that no other process reads or writes need not be copied in or out: this process
  // can read its input and write its output where the user holds them. Per ref of the program:
  // 1 when this process runs it on one of its own devices' tensors and every element the ref
  // covers is touched by this process alone (nor by a ref of its own that overlaps one a peer
  // touches, so each element has one home in a call). Per local tensor slot (local * tensors +
  // tensor): the sorted, disjoint ranges that peers touch, which are staged.
  std::vector<std::uint8_t> own_refs;
  std::vector<std::vector<ElementRange>> shared_inputs;
  std::vector<std::vector<ElementRange>> shared_outputs;
  // Results written once for all the processes that need them. A piece that stores one result
  // into the outputs of several processes (direct: each slice into every output) would write it
  // into the staging of every peer whose output is private, and each peer would then copy it
  // out: the same bytes written K-1 times and copied K-1 times. Where the piece also writes an
  // output of its own process that no other ref touches, the runner leaves the result once in
  // its own segment, in that output's staging (unused there: the ref runs on the user's buffer
  // or arena), and each peer whose output is private in the call copies it from there. Only a
  // peer's output range that no other ref touches is served so, and a peer whose output lies in
  // its arena is written in place as before. Per ref of the program: the byte offset in the
  // runner's segment where the result is left, or kNotForwarded. Per local tensor slot: the
  // ranges this process copies from its peers' segments, sorted and disjoint (not staged).
  std::vector<std::size_t> forwarded_at;
  std::vector<std::vector<Fetch>> fetches;
};

// `program` is `schedule` lowered by lower_schedule (the schedule gives each step's device);
// `receiver` marks the transfers between machines (machines.h; empty when there are none).
// Throws InvalidArgument when a segment would exceed `max_segment_bytes`.
ProcessProgram lower_for_process(const Schedule& schedule, const Program& program, std::span<const TensorSpec> layout,
                                 const ProcessMap& map, int rank, std::size_t max_segment_bytes,
                                 std::span<const int> receiver = {});

}  // namespace meshreduce::detail
