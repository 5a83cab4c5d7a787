// The thread executor's cost model (include/meshreduce/thread_model.h) as an event loop: the
// events are pieces finishing their overhead and pieces finishing their bytes; between two events
// every moving piece's rate is constant (the fair share of memory bandwidth, capped at one
// thread's rate), so each next event is exact.
#include "meshreduce/thread_model.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "meshreduce/error.h"
#include "plan/program.h"

namespace meshreduce {
namespace {

constexpr double kBytesPerGB = 1e9;
constexpr double kSecondsPerUs = 1e-6;

// Measured on the 2-core development machines (meshreduce calibrate): copy 17-25 GB/s with 2
// threads, about 30 with non-temporal stores. A plain copy moves 1 + 2 read-equivalent bytes per byte (the store reads its line
// first): 17 GB/s of copy is 51 GB/s read-equivalent; 30 GB/s streamed is 60.
constexpr double kDefaultCopyGbps = 17.0;
constexpr double kDefaultWriteCost = 2.0;
constexpr double kDefaultStreamWriteCost = 1.0;
// A thread alone reaches about half of what two reach on such a machine (the figures above
// are for 2 threads).
constexpr double kDefaultThreadShare = 0.5;
// Placeholders of the right order until calibration measures them: a compare-and-swap claim and
// a few address computations per piece; a condition-variable wake-up per call.
constexpr double kDefaultPieceOverheadUs = 0.5;
constexpr double kDefaultCallOverheadUs = 10.0;

// A call of more pieces than this is simulated with fewer, equal pieces per step, each carrying
// the overheads of the pieces it stands for: the event loop costs O(pieces), and a layout of
// 2^40 elements (hundreds of millions of pieces) must plan in a fraction of a second, not hours.
// Every step keeps at least its share of this budget and 4 pieces per thread, so merging changes
// only how a step's last pieces line up at its end; calls of a few GiB are simulated piece by piece.
constexpr std::int64_t kMostSimulatedPieces = std::int64_t{1} << 18;

struct PieceWork {
  int step = 0;
  double bytes = 0;      // read-equivalent
  double overheads = 1;  // pieces of the call it stands for
};

struct Running {
  int step = 0;  // running pieces of the same step are interchangeable
  double overhead_end = 0;  // the bytes start moving then
  double remaining = 0;
};

void check_costs(const ThreadCosts& costs) {
  const auto positive = [](double value) { return value > 0 && std::isfinite(value); };
  if (costs.threads < 1 || !positive(costs.memory_gbps) || !positive(costs.thread_gbps) || !(costs.write_cost >= 0) ||
      !(costs.stream_write_cost >= 0) || !(costs.piece_overhead_us >= 0) || !(costs.call_overhead_us >= 0))
    throw InvalidArgument("thread costs must be positive: threads " + std::to_string(costs.threads) + ", memory " +
                          std::to_string(costs.memory_gbps) + " GB/s, one thread " + std::to_string(costs.thread_gbps) +
                          " GB/s, write cost " + std::to_string(costs.write_cost) + ", streamed " +
                          std::to_string(costs.stream_write_cost) + ", overheads " +
                          std::to_string(costs.piece_overhead_us) + " / " + std::to_string(costs.call_overhead_us) + " us");
}

// Whether two references name the same memory: in place, input b of a device is its output b.
bool same_memory(const BufferRef& a, const BufferRef& b, bool in_place) {
  if (a.device != b.device || a.buffer != b.buffer || a.offset != b.offset) return false;
  if (a.kind == b.kind) return true;
  return in_place && a.kind != BufferKind::scratch && b.kind != BufferKind::scratch;
}

// Read-equivalent bytes per element byte that a step's stores move, all destinations together,
// as the executor stores (kernels.h, streams_stores): a final step of a large call streams,
// unless a reduce or scale writes over one of its own sources, which makes the whole step store
// plainly. A store over a source finds the line in the cache (the step has just read it) and
// moves only its write-back, as a streamed store does; a copy skips a destination that is its
// source.
double store_cost(const Step& step, const ThreadCosts& costs, bool streams, bool in_place) {
  const auto over_a_source = [&](const BufferRef& dst) {
    return std::any_of(step.srcs.begin(), step.srcs.end(), [&](const BufferRef& src) { return same_memory(src, dst, in_place); });
  };
  const bool copy = step.kind == StepKind::copy;
  const bool plain = !streams || (!copy && std::any_of(step.dsts.begin(), step.dsts.end(), over_a_source));
  double cost = 0;
  for (const BufferRef& dst : step.dsts) {
    if (over_a_source(dst)) cost += copy ? 0.0 : costs.stream_write_cost;
    else cost += plain ? costs.write_cost : costs.stream_write_cost;
  }
  return cost;
}

}  // namespace

ThreadCosts default_thread_costs(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  ThreadCosts costs;
  costs.threads = threads;
  costs.write_cost = kDefaultWriteCost;
  costs.stream_write_cost = kDefaultStreamWriteCost;
  costs.memory_gbps = kDefaultCopyGbps * (1 + kDefaultWriteCost);
  costs.thread_gbps = costs.memory_gbps * kDefaultThreadShare;
  costs.piece_overhead_us = kDefaultPieceOverheadUs;
  costs.call_overhead_us = kDefaultCallOverheadUs;
  costs.source = "defaults until `meshreduce calibrate`: copy 17 GB/s with 2 threads (the low end measured on the development machines)";
  return costs;
}

ThreadPrediction predict_thread_time(const Schedule& schedule, const ThreadCosts& costs, const ThreadRunOptions& options) {
  check_costs(costs);
  if (options.piece_elements < 1)
    throw InvalidArgument("piece_elements must be >= 1, got " + std::to_string(options.piece_elements));
  ThreadPrediction prediction;
  for (const BufferSpec& buffer : schedule.buffers)
    prediction.bytes_per_device += buffer.count * static_cast<std::int64_t>(dtype_size(buffer.dtype));
  const std::int64_t outputs = prediction.bytes_per_device * schedule.num_devices;
  const bool streaming = options.stream_min_bytes >= 0 && outputs >= options.stream_min_bytes;
  const std::vector<bool> final_steps = streaming ? detail::final_output_steps(schedule) : std::vector<bool>();

  // Pieces per step, and what the executor counts against its inline limit.
  const auto steps = schedule.steps.size();
  std::vector<std::vector<PieceWork>> pieces(steps);
  std::vector<std::vector<int>> dependents(steps);
  std::vector<int> deps_left(steps, 0);
  std::int64_t moved = 0;
  const std::int64_t most_per_step =
      std::max<std::int64_t>(4 * std::int64_t{costs.threads}, kMostSimulatedPieces / std::max<std::int64_t>(1, static_cast<std::int64_t>(steps)));
  for (std::size_t s = 0; s < steps; ++s) {
    const Step& step = schedule.steps[s];
    for (int dep : step.deps) {
      if (dep < 0 || static_cast<std::size_t>(dep) >= s)
        throw InvalidArgument("predict_thread_time: step " + std::to_string(s) + " depends on step " +
                              std::to_string(dep) + ", which is not an earlier step");
      dependents[static_cast<std::size_t>(dep)].push_back(static_cast<int>(s));
    }
    deps_left[s] = static_cast<int>(step.deps.size());
    if (step.dsts.empty() || step.count == 0) continue;
    const auto element = static_cast<double>(dtype_size(schedule.dtype_of(step.dsts.front())));
    const double per_element = element * (static_cast<double>(step.srcs.size()) +
                                          store_cost(step, costs, streaming && final_steps[s], options.in_place));
    moved += step.count * static_cast<std::int64_t>(element) * static_cast<std::int64_t>(step.srcs.size() + step.dsts.size());
    const std::int64_t call_pieces = (step.count - 1) / options.piece_elements + 1;
    prediction.pieces += call_pieces;
    prediction.traffic_bytes += static_cast<double>(step.count) * per_element;
    if (call_pieces <= most_per_step) {
      for (std::int64_t begin = 0; begin < step.count; begin += options.piece_elements) {
        const auto count = static_cast<double>(std::min(options.piece_elements, step.count - begin));
        pieces[s].push_back({static_cast<int>(s), count * per_element});
      }
      continue;
    }
    const double stands_for = static_cast<double>(call_pieces) / static_cast<double>(most_per_step);
    const double bytes = static_cast<double>(step.count) * per_element / static_cast<double>(most_per_step);
    pieces[s].assign(static_cast<std::size_t>(most_per_step), PieceWork{static_cast<int>(s), bytes, stands_for});
  }
  if (steps == 0) return prediction;
  prediction.inline_call = moved < options.inline_bytes || costs.threads == 1;
  const int workers = prediction.inline_call ? 1 : costs.threads;

  std::vector<int> pieces_left(steps, 0);
  std::deque<PieceWork> queue;
  std::size_t done_steps = 0;
  std::vector<int> ready;
  const auto release = [&](int first) {
    ready.push_back(first);
    while (!ready.empty()) {
      const auto s = static_cast<std::size_t>(ready.back());
      ready.pop_back();
      if (!pieces[s].empty()) {
        pieces_left[s] = static_cast<int>(pieces[s].size());
        queue.insert(queue.end(), pieces[s].begin(), pieces[s].end());
        continue;
      }
      ++done_steps;  // an empty step ends as soon as it is ready
      for (int next : dependents[s])
        if (--deps_left[static_cast<std::size_t>(next)] == 0) ready.push_back(next);
    }
  };
  for (std::size_t s = 0; s < steps; ++s)
    if (deps_left[s] == 0) release(static_cast<int>(s));

  const double memory = costs.memory_gbps * kBytesPerGB;
  const double one_thread = costs.thread_gbps * kBytesPerGB;
  const double overhead = costs.piece_overhead_us * kSecondsPerUs;
  double now = prediction.inline_call ? 0.0 : costs.call_overhead_us * kSecondsPerUs;
  std::vector<Running> running;
  while (done_steps < steps) {
    while (static_cast<int>(running.size()) < workers && !queue.empty()) {
      running.push_back({queue.front().step, now + overhead * queue.front().overheads, queue.front().bytes});
      queue.pop_front();
    }
    if (running.empty())
      throw InvalidArgument("predict_thread_time: steps wait on each other and never run");
    int moving = 0;
    for (const Running& piece : running) moving += piece.overhead_end <= now ? 1 : 0;
    const double rate = moving > 0 ? std::min(one_thread, memory / moving) : 0.0;
    // Each piece's next event: its overhead ending, or its bytes all moved. The pieces whose
    // event is the earliest finish or start moving; comparing the same expressions (not the
    // remaining bytes against a tolerance) keeps rounding from stalling the loop.
    const auto event_of = [&](const Running& piece) {
      return piece.overhead_end > now ? piece.overhead_end : now + piece.remaining / rate;
    };
    double next = std::numeric_limits<double>::infinity();
    for (const Running& piece : running) next = std::min(next, event_of(piece));
    const double dt = next - now;
    std::vector<int> finished;
    std::size_t kept = 0;
    for (Running& piece : running) {
      const bool moving_now = piece.overhead_end <= now;
      if (moving_now && event_of(piece) <= next) {
        finished.push_back(piece.step);
        continue;
      }
      if (moving_now) piece.remaining -= rate * dt;
      running[kept++] = piece;
    }
    running.resize(kept);
    now = next;
    for (int s : finished) {
      if (--pieces_left[static_cast<std::size_t>(s)] > 0) continue;
      ++done_steps;
      for (int dependent : dependents[static_cast<std::size_t>(s)])
        if (--deps_left[static_cast<std::size_t>(dependent)] == 0) release(dependent);
    }
  }
  prediction.time_s = now;
  const int k = schedule.num_devices;
  if (now > 0) {
    prediction.algbw_gbps = static_cast<double>(prediction.bytes_per_device) / now / kBytesPerGB;
    prediction.busbw_gbps = k > 1 ? prediction.algbw_gbps * 2.0 * (k - 1) / k : 0.0;
  }
  return prediction;
}

}  // namespace meshreduce
