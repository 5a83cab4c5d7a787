// The thread executor's cost model: what a Communicator call costs on this machine, where the K
// devices are memory spaces of one process and a few worker threads move all the bytes.
//
// The model (the executor, src/exec/threads/executor.cc, as arithmetic):
//   - A call's schedule is cut into pieces of at most `piece_elements` elements (as lowering
//     does). Workers take pieces from one first-in-first-out queue; a step's pieces join the
//     queue when its last dependency finishes, steps without dependencies at the start in order.
//   - A piece of c elements of e bytes with s sources and d destinations moves
//     c * e * (s + w * d) read-equivalent bytes: a plain store first reads the line it writes
//     (w = write_cost, about 2), a non-temporal store does not (w = stream_write_cost, about 1).
//     A store over one of the piece's own sources (in place) finds its line in the cache, read
//     as a source: it moves only the write-back, as a non-temporal store does (w =
//     stream_write_cost), and it makes the whole piece store plainly, as the executor does.
//   - Before moving bytes a piece pays `piece_overhead_us` (claiming it, looking up addresses).
//     Moving pieces share `memory_gbps` fairly, each at most `thread_gbps`.
//   - A call moving at least `inline_bytes` (reads and writes; 256 KiB by default) wakes the workers first
//     (`call_overhead_us`) and runs on `threads` workers; a smaller call runs on the caller alone.
// Data is assumed to come from memory, not from the caches: calls whose buffers fit in the last
// level cache run faster than predicted.
#pragma once

#include <cstdint>
#include <string>

#include "meshreduce/schedule.h"

namespace meshreduce {

struct ThreadCosts {
  int threads = 0;               // workers, the caller included
  double memory_gbps = 0;        // all threads together, read-equivalent GB/s
  double thread_gbps = 0;        // one thread alone, read-equivalent GB/s
  double write_cost = 2;         // read-equivalent bytes per byte stored plainly
  double stream_write_cost = 1;  // ... per byte stored with non-temporal stores
  double piece_overhead_us = 0;  // per piece, before its bytes move
  double call_overhead_us = 0;   // per call that wakes the workers
  std::string source;            // where the figures come from

  friend bool operator==(const ThreadCosts&, const ThreadCosts&) = default;
};

// Named defaults for a machine like ours until `meshreduce calibrate` measures it
// (measured on the 2-core development machines: copy 17-25 GB/s with 2 threads, about 30 with
// non-temporal stores).
// threads 0 = the hardware threads.
ThreadCosts default_thread_costs(int threads = 0);

// Measures this machine with the executor's own kernels and thread pool, in about a second: a
// plain 8-to-1 reduction on all threads gives memory_gbps (write costs are the x86 constants 2
// and 1), on one thread thread_gbps; one call cut into one-element pieces against the same call
// in one piece per step gives piece_overhead_us (the fastest of each over at least 9 interleaved
// rounds), and waking the pool for nothing call_overhead_us. The others are medians of `repeats` runs;
// `bytes` is the size of each buffer of the bandwidth runs. threads 0 = the hardware threads.
ThreadCosts measure_thread_costs(int threads = 0, std::int64_t bytes = std::int64_t{32} << 20, int repeats = 5);

struct ThreadRunOptions {
  std::int64_t piece_elements = std::int64_t{1} << 16;  // CommunicatorOptions::piece_elements
  std::int64_t stream_min_bytes = std::int64_t{32} << 20;  // CommunicatorOptions::stream_min_bytes
  std::int64_t inline_bytes = std::int64_t{256} << 10;     // CommunicatorOptions::inline_bytes
  // The call writes its outputs over its inputs: input b of device d is output b of device d.
  // A reduce or scale that stores over one of its own sources then never streams (the executor's
  // rule), and such a store moves only the write-back of a line the step has just read.
  bool in_place = false;
};

struct ThreadPrediction {
  double time_s = 0;
  std::int64_t bytes_per_device = 0;  // S
  double algbw_gbps = 0;              // S / time
  double busbw_gbps = 0;              // algbw * 2 (K - 1) / K
  double traffic_bytes = 0;           // read-equivalent bytes all pieces move
  std::int64_t pieces = 0;
  bool inline_call = false;           // ran on the caller alone
};

// Predicts one call of `schedule` (its buffers hold the call's data, in one bucket each). Throws
// InvalidArgument when the costs are not positive or a step depends on a later one.
ThreadPrediction predict_thread_time(const Schedule& schedule, const ThreadCosts& costs,
                                     const ThreadRunOptions& options = {});

// JSON object {"threads": ..., "memory_gbps": ..., ...} (docs/topology-format.md,
// "thread_costs"); the reader throws TopologyError naming a missing or unknown key.
std::string thread_costs_to_json_text(const ThreadCosts& costs, int indent = 2);
ThreadCosts thread_costs_from_json_text(std::string_view json_text);

}  // namespace meshreduce
