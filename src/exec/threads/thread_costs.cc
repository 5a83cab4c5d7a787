// measure_thread_costs (include/meshreduce/thread_model.h): the thread cost model's parameters,
// measured with the executor's own kernels, pool and scheduler, so the model predicts the code
// that runs rather than an idealized loop.
//
// Bandwidth: a plain 8-to-1 reduction on all threads moves n (8 + w) read-equivalent bytes for
// n output bytes, w = 2 for plain stores: its time gives the memory rate; on one thread, one
// thread's rate. (Fitting w too, from a second reduction of another width, proved ill-conditioned
// on a shared machine: the difference of two noisy times.)
#include <algorithm>
#include <chrono>
#include <memory>
#include <vector>

#include "exec/threads/kernels.h"
#include "exec/threads/thread_pool.h"
#include "meshreduce/communicator.h"
#include "meshreduce/error.h"
#include "meshreduce/thread_model.h"

namespace meshreduce {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kWideSources = 8;
// A plain store that misses the cache reads its line first, then writes it back: 2 bytes of
// traffic per byte stored (x86 write-allocate); a non-temporal store writes the line only.
constexpr double kPlainWriteCost = 2.0;
constexpr double kStreamWriteCost = 1.0;
// Pieces of the overhead run: direct on 2 devices with one element per piece.
constexpr std::int64_t kOverheadElements = 8192;

double median_of(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

template <typename Body>
double median_seconds(int repeats, const Body& body) {
  body();  // warm: caches, page tables, the pool's threads
  std::vector<double> times;
  for (int r = 0; r < repeats; ++r) {
    const auto start = Clock::now();
    body();
    times.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  return median_of(times);
}

class Buffers {
 public:
  Buffers(int sources, std::int64_t count) : count_(count) {
    for (int s = 0; s <= sources; ++s) {
      storage_.push_back(std::make_unique<float[]>(static_cast<std::size_t>(count)));  // zeroed: pages touched
      std::fill_n(storage_.back().get(), count, static_cast<float>(s));
    }
  }
  // The reduction of the first `sources` buffers into the last, over elements [begin, end).
  void reduce(int sources, std::int64_t begin, std::int64_t end) const {
    std::vector<const void*> srcs;
    for (int s = 0; s < sources; ++s) srcs.push_back(storage_[static_cast<std::size_t>(s)].get() + begin);
    void* dst = storage_.back().get() + begin;
    detail::run_kernel({StepKind::reduce, DType::f32, ReduceOp::sum, false, 1, end - begin, srcs,
                        std::span<void* const>(&dst, 1), false});
  }
  std::int64_t count() const { return count_; }

 private:
  std::int64_t count_;
  std::vector<std::unique_ptr<float[]>> storage_;
};

}  // namespace

ThreadCosts measure_thread_costs(int threads, std::int64_t bytes, int repeats) {
  if (bytes < 4096 || repeats < 1)
    throw InvalidArgument("measure_thread_costs: needs at least 4096 bytes per buffer and 1 repeat, got " +
                          std::to_string(bytes) + " bytes and " + std::to_string(repeats) + " repeats");
  detail::ThreadPool pool(threads);  // unpinned, as the executor runs by default
  const int workers = pool.size();
  const Buffers buffers(kWideSources, bytes / static_cast<std::int64_t>(sizeof(float)));
  const auto n = static_cast<double>(buffers.count() * static_cast<std::int64_t>(sizeof(float)));
  const double wide = median_seconds(repeats, [&] {
    pool.run([&](int t) {
      const std::int64_t total = buffers.count();
      buffers.reduce(kWideSources, total * t / workers, total * (t + 1) / workers);
    });
  });
  ThreadCosts costs;
  costs.threads = workers;
  costs.write_cost = kPlainWriteCost;
  costs.stream_write_cost = kStreamWriteCost;
  costs.memory_gbps = n * (kWideSources + costs.write_cost) / wide / 1e9;
  const double alone = median_seconds(repeats, [&] { buffers.reduce(kWideSources, 0, buffers.count()); });
  costs.thread_gbps = std::min(costs.memory_gbps, n * (kWideSources + costs.write_cost) / alone / 1e9);

  costs.call_overhead_us = median_seconds(std::max(repeats, 50), [&] { pool.run([](int) {}); }) * 1e6;
  // The cost of a piece: the same call cut into one-element pieces and into one piece per step,
  // interleaved round by round, the fastest of each taken (the rounds least disturbed by other
  // work), their difference per extra piece. The pool's wake-up and the call's own work cancel,
  // so a wake-up measured slow under load cannot eat the pieces' time (as subtracting the
  // separately measured call_overhead_us did: it made this 0 now and then on a loaded machine).
  const auto communicator_cut_into = [&](std::int64_t piece_elements) {
    CommunicatorOptions options;
    options.devices = {0, 1};
    options.algorithm = "direct";
    options.piece_elements = piece_elements;
    options.threads = workers;
    options.inline_bytes = 0;  // on the workers, as the calls the model predicts
    return Communicator(std::move(options));
  };
  Communicator many = communicator_cut_into(1);
  Communicator few = communicator_cut_into(kOverheadElements);
  std::vector<std::vector<float>> data(2, std::vector<float>(kOverheadElements, 1.0f));
  std::vector<std::vector<TensorView>> grads(2);
  for (std::size_t d = 0; d < 2; ++d) grads[d].emplace_back(std::span<float>(data[d]));
  const auto seconds_of = [&](Communicator& communicator) {
    const auto start = Clock::now();
    communicator.allreduce(grads, ReduceOp::max);
    return std::chrono::duration<double>(Clock::now() - start).count();
  };
  seconds_of(many);  // warm: plans, caches, the pools' threads
  seconds_of(few);
  double fastest_many = 1e300, fastest_few = 1e300;
  for (int r = 0; r < std::max(repeats, 9); ++r) {
    fastest_many = std::min(fastest_many, seconds_of(many));
    fastest_few = std::min(fastest_few, seconds_of(few));
  }
  const double extra_pieces = static_cast<double>(kOverheadElements) - 2.0;  // 2 steps of half the elements each
  costs.piece_overhead_us = std::max(0.0, (fastest_many - fastest_few) * 1e6 * workers / extra_pieces);
  costs.source = "measured on this machine by measure_thread_costs() (" + std::to_string(workers) + " threads, " +
                 std::to_string(bytes >> 20) + " MiB buffers, median of " + std::to_string(repeats) + ")";
  return costs;
}

}  // namespace meshreduce
