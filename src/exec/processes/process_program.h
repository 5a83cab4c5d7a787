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
// a staging ring for each local device's inputs and one for its outputs, and the scratch buffers
// of local devices.
//
// Staging windows. A call on private buffers larger than the caches would stage every byte
// through the segment: written there by one process, read by another, each line taking its
// round trip to memory (about 5 S bytes of memory traffic per process instead of 2 S). Instead,
// a call whose Program allows it runs in `windows` windows: window j is a part of every step's
// elements (the j-th of `windows` equal portions of the elements each step touches first), and
// the call runs as `windows` small calls, each staging, running the steps' pieces restricted to
// its elements, waiting for its peers and copying its results out. A ring holds two windows
// (ring_bytes each, per local device and direction, about a MiB), so staged lines are written and
// read while the caches still hold them and are overwritten there two windows later. Every
// element goes through the same operations in the same order as in one call (a window
// restricts pieces, it reorders nothing), so the bits are those of the whole call. Each window
// is a generation of the flags: (call - 1) * windows + window + 1. A process stages and runs
// window j before it waits for its peers to finish window j - 1 and copies that one's results
// out, so the processes' windows overlap instead of meeting three times a window; the protocol
// of a call still makes each half of a ring reusable: a peer that is ready for window j has
// copied out window j - 2, and a process that stages window j has waited for window j - 2's
// steps that touch its memory, and waits for the peers that fetch from its output ring to be
// ready for window j before it runs window j's steps.
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
  // Per (local device, tensor), local * tensors + tensor: the start of that local device's input
  // (output) ring; an element's place in it is ProcessProgram::staged_offset.
  std::vector<std::size_t> staging_input;
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

// Where elements [begin, end) of a tensor are staged: in window `window`, from byte `ring` of the
// rings (the same place in every process's and local device's ring).
struct StagedRange {
  std::int64_t begin = 0;
  std::int64_t end = 0;
  int window = 0;
  std::size_t ring = 0;
  bool operator==(const StagedRange&) const = default;
};

// The elements [skip, skip + count) of a piece that lie in one window.
struct SubPiece {
  int piece = 0;
  std::int64_t skip = 0;
  std::int64_t count = 0;
};

// A copy between a private buffer's elements `range` of local tensor slot `slot` and the plan
// segment of process `process` at byte `at` (where range.begin is staged). Inputs: `whole` marks
// the copies of a tensor reduced in place (staged whole), the others those of the ranges peers
// read; a call takes one kind per slot.
struct StagedCopy {
  int slot = 0;
  ElementRange range;
  int process = 0;
  std::size_t at = 0;
  bool whole = false;
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
  // The processes that fetch results this process leaves for them, sorted. In a call of several
  // windows, the bytes a peer fetched in window j may be written in window j + 2 by another step
  // than the one that left them (each window places its elements anew), one that need not touch
  // that peer; so each window first waits for these peers to be ready for it, that is, to have
  // copied out window j - 2.
  std::vector<int> fetchers;

  // Staging windows (above). windows == 1: one window, each tensor staged whole at its own place.
  int windows = 1;
  std::size_t ring_bytes = 0;  // one window's, per local device and direction
  int ring_slots = 1;          // windows a ring holds: 2 when there are several
  std::vector<std::vector<StagedRange>> staged;  // per tensor, sorted: where its elements are staged
  // Per window, per local step (window * steps.size() + index): its sub-pieces are
  // sub_pieces[first_sub_piece[i], first_sub_piece[i + 1]).
  std::vector<SubPiece> sub_pieces;
  std::vector<int> first_sub_piece;
  // Per window: copies_in[first_copy_in[w], first_copy_in[w + 1]) stage it, likewise copies_out
  // (the staged output ranges and the fetches) copy its results to private outputs.
  std::vector<StagedCopy> copies_in;
  std::vector<int> first_copy_in;
  std::vector<StagedCopy> copies_out;
  std::vector<int> first_copy_out;

  // Byte offset, within a staging ring, of element `element` of tensor `tensor`.
  std::size_t staged_offset(int tensor, std::int64_t element, std::size_t element_bytes) const noexcept;
};

// `program` is `schedule` lowered by lower_schedule (the schedule gives each step's device);
// `receiver` marks the transfers between machines (machines.h; empty when there are none).
// `window_bytes` is the staging ring's size to aim for (0: one window, whole tensors staged);
// windows are used only where every piece's refs cover the same elements of one tensor, with
// no scratch and no transfers between machines, and the tensors hold at least two windows.
// Throws InvalidArgument when a segment would exceed `max_segment_bytes`.
ProcessProgram lower_for_process(const Schedule& schedule, const Program& program, std::span<const TensorSpec> layout,
                                 const ProcessMap& map, int rank, std::size_t max_segment_bytes,
                                 std::span<const int> receiver = {}, std::int64_t window_bytes = 0);

// Internal to lower_for_process (staging_windows.cc): `lowered.staged`, `windows` and `ring_bytes`
// from the program (the same on every process), then, once the layouts and the lowered ranges
// are known, the per-window sub-pieces and copies of this process.
void place_staging(const Program& program, std::span<const TensorSpec> layout, std::span<const int> receiver,
                   std::int64_t window_bytes, ProcessProgram& lowered);
void split_into_windows(const Program& program, std::span<const TensorSpec> layout, const ProcessMap& map,
                        ProcessProgram& lowered);

}  // namespace meshreduce::detail
