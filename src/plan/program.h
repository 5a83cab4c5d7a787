// Internal: a Schedule lowered onto the real tensors of a call. Virtual bucket offsets become
// (tensor, offset) pairs, steps are cut where a bucket crosses a tensor boundary and into pieces
// of at most `piece_elements`, and dependencies are inverted into dependents, so an executor
// only walks arrays.
#pragma once

#include <cstdint>
#include <vector>

#include "meshreduce/bucketing.h"
#include "meshreduce/schedule.h"

namespace meshreduce::detail {

struct PhysicalRef {
  int device = 0;
  BufferKind kind = BufferKind::input;
  int index = 0;            // tensor for input/output, scratch buffer for scratch
  std::int64_t offset = 0;  // elements
};

struct Piece {
  int step = 0;
  StepKind kind = StepKind::copy;
  DType dtype = DType::f32;
  bool average = false;
  std::int64_t count = 0;
  int first_ref = 0;  // refs[first_ref, +sources) are sources, then the destinations
  int sources = 0;
  int destinations = 0;
  bool stream = false;  // non-temporal stores: final outputs of a call too large for the caches
};

struct ProgramStep {
  int deps = 0;  // number of steps it waits for
  std::vector<int> dependents;
  int first_piece = 0;
  int pieces = 0;
};

struct Program {
  int num_devices = 0;
  ReduceOp op = ReduceOp::sum;
  std::vector<ProgramStep> steps;
  std::vector<Piece> pieces;
  std::vector<PhysicalRef> refs;
  std::vector<ScratchSpec> scratch;
  // The call's outputs together hold at least `stream_min_bytes` (lower_schedule): too large for
  // the caches, so copies made for the call (the process executor's staging) store around them.
  bool large = false;
};

// Per step: whether its destinations are all outputs that no later step reads (by device and
// buffer, ignoring offsets: conservative, and linear in the schedule's size).
std::vector<bool> final_output_steps(const Schedule& schedule);

// A piece streams (KernelArgs::stream) when the call's outputs together hold at least
// `stream_min_bytes` and every destination of its step is an output that no later step reads:
// such data only leaves the caches again, so writing around them saves the read of each line
// before its write. 0 streams every such piece; a negative value none.
Program lower_schedule(const Schedule& schedule, const std::vector<Bucket>& buckets, std::int64_t piece_elements,
                       std::int64_t stream_min_bytes = -1);

}  // namespace meshreduce::detail
