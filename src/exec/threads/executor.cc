// The thread executor: a dependency-counting scheduler over the pieces of a Program. Every
// worker (the caller included) claims the oldest ready piece with one compare-and-swap, runs its
// kernel, and when the last piece of a step finishes, releases the steps waiting on it. Devices
// are memory spaces, not threads, so K can be far larger than the number of cores.
//
// The queue holds every piece index at most once per call, so it is a fixed array: producers
// (serialized by produce_) append and publish the tail; consumers claim from the head. An idle
// worker spins briefly (the next step is usually microseconds away) before parking.
#include "exec/threads/executor.h"

#include <algorithm>
#include <thread>

#include "exec/threads/kernels.h"
#include "exec/threads/spin.h"

namespace meshreduce::detail {
namespace {

// Rounds of spin_wait before parking: a few microseconds of pauses, then yields.
constexpr int kSpinsBeforeParking = 500;

}  // namespace

ThreadExecution::ThreadExecution(const Program& program, int threads, std::int64_t inline_bytes)
    : program_(program),
      inline_bytes_(inline_bytes),
      deps_left_(new std::atomic<int>[program.steps.size()]),
      pieces_left_(new std::atomic<int>[program.steps.size()]),
      queue_(program.pieces.size()) {
  for (const ScratchSpec& spec : program.scratch) {
    const auto bytes = static_cast<std::size_t>(spec.count) * dtype_size(spec.dtype);
    scratch_.push_back(std::make_unique<std::byte[]>(bytes));  // value-initialized: pages touched now
  }
  std::size_t widest = 0;
  for (const Piece& piece : program.pieces) {
    widest = std::max(widest, static_cast<std::size_t>(std::max(piece.sources, piece.destinations)));
    bytes_moved_ += piece.count * static_cast<std::int64_t>(dtype_size(piece.dtype)) * (piece.sources + piece.destinations);
  }
  for (int t = 0; t < std::max(threads, 1); ++t) {
    sources_.emplace_back(widest);
    destinations_.emplace_back(widest);
  }
  pending_.reserve(program.steps.size());
}

std::byte* ThreadExecution::address(const CallBuffers& buffers, const PhysicalRef& ref, std::size_t element) const {
  const auto device = static_cast<std::size_t>(ref.device);
  const auto index = static_cast<std::size_t>(ref.index);
  std::byte* base = nullptr;
  switch (ref.kind) {
    case BufferKind::input:
      base = static_cast<std::byte*>(const_cast<void*>(buffers.inputs[device][index].data));
      break;
    case BufferKind::output: base = static_cast<std::byte*>(buffers.outputs[device][index].data); break;
    case BufferKind::scratch: base = scratch_[index].get(); break;
  }
  return base + static_cast<std::size_t>(ref.offset) * element;
}

void ThreadExecution::release(int step) {
  pending_.push_back(step);
  while (!pending_.empty()) {
    const int ready = pending_.back();
    pending_.pop_back();
    const ProgramStep& lowered = program_.steps[static_cast<std::size_t>(ready)];
    if (lowered.pieces > 0) {
      std::size_t tail = tail_.load(std::memory_order_relaxed);
      for (int p = 0; p < lowered.pieces; ++p) queue_[tail++] = static_cast<std::size_t>(lowered.first_piece + p);
      tail_.store(tail, std::memory_order_seq_cst);
      continue;
    }
    // An empty step is complete as soon as it is ready.
    steps_done_.fetch_add(1, std::memory_order_seq_cst);
    for (int next : lowered.dependents)
      if (deps_left_[static_cast<std::size_t>(next)].fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.push_back(next);
  }
}

void ThreadExecution::finish_piece(std::size_t piece) {
  const int step = program_.pieces[piece].step;
  if (pieces_left_[static_cast<std::size_t>(step)].fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  {
    std::lock_guard lock(produce_);
    for (int next : program_.steps[static_cast<std::size_t>(step)].dependents)
      if (deps_left_[static_cast<std::size_t>(next)].fetch_sub(1, std::memory_order_acq_rel) == 1) release(next);
    steps_done_.fetch_add(1, std::memory_order_seq_cst);
  }
  if (sleepers_.load(std::memory_order_seq_cst) > 0) {
    { std::lock_guard lock(park_); }
    wake_.notify_all();
  }
}

bool ThreadExecution::take(std::size_t& piece) {
  const std::size_t total = program_.steps.size();
  for (int spins = 0;; ++spins) {
    std::size_t head = head_.load(std::memory_order_acquire);
    if (head < tail_.load(std::memory_order_acquire)) {
      if (head_.compare_exchange_weak(head, head + 1, std::memory_order_acq_rel)) {
        piece = queue_[head];
        return true;
      }
      continue;
    }
    if (steps_done_.load(std::memory_order_acquire) == total) return false;
    if (spins < kSpinsBeforeParking) {
      spin_wait(spins);
      continue;
    }
    std::unique_lock lock(park_);
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    wake_.wait(lock, [&] {
      return head_.load(std::memory_order_seq_cst) < tail_.load(std::memory_order_seq_cst) ||
             steps_done_.load(std::memory_order_seq_cst) == total;
    });
    sleepers_.fetch_sub(1, std::memory_order_seq_cst);
    spins = 0;
  }
}

void ThreadExecution::run_piece(int index, std::size_t piece_index, const CallBuffers& buffers) {
  const Piece& piece = program_.pieces[piece_index];
  const std::size_t element = dtype_size(piece.dtype);
  auto& srcs = sources_[static_cast<std::size_t>(index)];
  auto& dsts = destinations_[static_cast<std::size_t>(index)];
  const PhysicalRef* refs = program_.refs.data() + piece.first_ref;
  for (int r = 0; r < piece.sources; ++r) srcs[static_cast<std::size_t>(r)] = address(buffers, refs[r], element);
  for (int r = 0; r < piece.destinations; ++r)
    dsts[static_cast<std::size_t>(r)] = address(buffers, refs[piece.sources + r], element);
  run_kernel({piece.kind, piece.dtype, program_.op, piece.average, program_.num_devices, piece.count,
              std::span(srcs.data(), static_cast<std::size_t>(piece.sources)),
              std::span(dsts.data(), static_cast<std::size_t>(piece.destinations)), piece.stream});
}

void ThreadExecution::worker(int index, const CallBuffers& buffers) {
  std::size_t piece = 0;
  while (take(piece)) {
    run_piece(index, piece, buffers);
    finish_piece(piece);
  }
}

void ThreadExecution::run(ThreadPool& pool, const CallBuffers& buffers) {
  if (program_.steps.empty()) return;
  head_.store(0);
  tail_.store(0);
  steps_done_.store(0);
  for (std::size_t s = 0; s < program_.steps.size(); ++s) {
    deps_left_[s].store(program_.steps[s].deps, std::memory_order_relaxed);
    pieces_left_[s].store(program_.steps[s].pieces, std::memory_order_relaxed);
  }
  {
    std::lock_guard lock(produce_);
    for (std::size_t s = 0; s < program_.steps.size(); ++s)
      if (program_.steps[s].deps == 0) release(static_cast<int>(s));
  }
  const int threads = std::min<int>(pool.size(), static_cast<int>(sources_.size()));
  if (bytes_moved_ < inline_bytes_ || threads == 1) {
    worker(0, buffers);
    return;
  }
  // The caller's worker returns only when every step is done, so workers that wake late may
  // stay out (ThreadPool::help).
  pool.help([&](int index) {
    if (index < threads) worker(index, buffers);
  });
}

}  // namespace meshreduce::detail
