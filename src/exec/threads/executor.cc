// The thread executor: a dependency-counting scheduler over the pieces of a Program. Every
// worker (the caller included) claims the oldest ready piece with one compare-and-swap, runs its
// kernel, and when the last piece of a step finishes, releases the steps waiting on it. Devices
// are memory spaces, not threads, so K can be far larger than the number of cores.
//
// The queue holds every piece index at most once per call, so it is a fixed array: producers
// (serialized by produce_) append and publish the tail; consumers claim from the head. An idle
// worker spins briefly (the next step is usually microseconds away) before parking.
//
// Failures: a piece that raises records the first error and cancels the call; every worker
// checks the cancel flag before it claims a piece, so all leave within one piece, and the
// caller rethrows the error typed. Parked workers wait with the call's deadline; the first to
// pass it reports the pieces still in flight (each worker publishes the piece it runs in its
// own cache line) and cancels the call the same way.
#include "exec/threads/executor.h"

#include <algorithm>
#include <cstdio>
#include <new>
#include <thread>

#include "exec/threads/kernels.h"
#include "exec/threads/spin.h"
#include "meshreduce/error.h"

namespace meshreduce::detail {
namespace {

// Rounds of spin_wait before parking: a few microseconds of pauses, then yields.
constexpr int kSpinsBeforeParking = 500;

// The least time workers get to leave a cancelled call before the pool gives up on them (and
// the process): measured, a worker descheduled on a 2-core machine running 17 threads of
// sanitized builds needed more than 40 ms; a stopped thread never comes back.
constexpr std::chrono::nanoseconds kLeaveGrace = std::chrono::seconds(30);

}  // namespace

ThreadExecution::ThreadExecution(const Program& program, int threads, std::int64_t inline_bytes)
    : program_(program),
      inline_bytes_(inline_bytes),
      deps_left_(new std::atomic<int>[program.steps.size()]),
      pieces_left_(new std::atomic<int>[program.steps.size()]),
      queue_(program.pieces.size()),
      in_flight_(new InFlight[static_cast<std::size_t>(std::max(threads, 1))]) {
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
    if (cancelled_.load(std::memory_order_acquire)) return false;
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
    const bool woken = wake_.wait_until(lock, deadline_, [&] {
      return head_.load(std::memory_order_seq_cst) < tail_.load(std::memory_order_seq_cst) ||
             steps_done_.load(std::memory_order_seq_cst) == total || cancelled_.load(std::memory_order_seq_cst);
    });
    sleepers_.fetch_sub(1, std::memory_order_seq_cst);
    if (!woken) {
      lock.unlock();
      fail(std::make_exception_ptr(TimeoutError(timeout_report())));
      return false;
    }
    spins = 0;
  }
}

void ThreadExecution::fail(std::exception_ptr error) {
  {
    std::lock_guard lock(failure_mutex_);
    if (!failure_) failure_ = std::move(error);
  }
  cancelled_.store(true, std::memory_order_seq_cst);
  { std::lock_guard lock(park_); }
  wake_.notify_all();
}

std::string ThreadExecution::describe_piece(std::size_t piece_index) const {
  const Piece& piece = program_.pieces[piece_index];
  const PhysicalRef& written = program_.refs[static_cast<std::size_t>(piece.first_ref + piece.sources)];
  const char* buffer = written.kind == BufferKind::input ? "input" : written.kind == BufferKind::output ? "output" : "scratch";
  return "step " + std::to_string(piece.step) + " (piece " + std::to_string(piece_index) + ": " +
         std::to_string(piece.sources) + " source(s) into device " + std::to_string(written.device) + " " + buffer +
         " " + std::to_string(written.index) + " at element " + std::to_string(written.offset) + ", " +
         std::to_string(piece.count) + " elements)";
}

std::string ThreadExecution::timeout_report() const {
  const auto waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  std::string report = "allreduce did not finish within its timeout of " +
                       std::to_string(std::chrono::duration<double>(timeout_).count()) + " s (waited " +
                       std::to_string(waited) + " s): " + std::to_string(steps_done_.load()) + " of " +
                       std::to_string(program_.steps.size()) + " steps done";
  std::string running;
  for (std::size_t w = 0; w < sources_.size(); ++w) {
    const std::int64_t piece = in_flight_[w].piece.load(std::memory_order_acquire);
    if (piece < 0) continue;
    running += (running.empty() ? "" : "; ") + describe_piece(static_cast<std::size_t>(piece)) + " on " +
               (w == 0 ? std::string("the calling thread") : "worker " + std::to_string(w));
  }
  return report + (running.empty() ? "; no piece in progress" : "; not finished: " + running);
}

void ThreadExecution::run_hook(int index, std::size_t piece_index) {
  const Piece& piece = program_.pieces[piece_index];
  PieceEvent event;
  event.worker = index;
  event.step = piece.step;
  event.piece = piece_index;
  event.device = program_.refs[static_cast<std::size_t>(piece.first_ref + piece.sources)].device;
  event.call = calls_;
  event.cancelled = &cancelled_;
  event.deadline = deadline_;
  hooks_->before_piece(event);
  // A hook that blocked past the deadline is a stalled piece: on the calling thread nobody else
  // can notice it, so the piece reports itself.
  if (!cancelled_.load(std::memory_order_acquire) && std::chrono::steady_clock::now() >= deadline_)
    fail(std::make_exception_ptr(TimeoutError(timeout_report())));
}

void ThreadExecution::run_piece(int index, std::size_t piece_index, const CallBuffers& buffers) {
  if (hooks_ != nullptr && hooks_->before_piece) [[unlikely]] {
    run_hook(index, piece_index);
    if (cancelled_.load(std::memory_order_acquire)) return;
  }
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
  std::atomic<std::int64_t>& in_flight = in_flight_[static_cast<std::size_t>(index)].piece;
  std::size_t piece = 0;
  while (take(piece)) {
    in_flight.store(static_cast<std::int64_t>(piece), std::memory_order_release);
    try {
      run_piece(index, piece, buffers);
    } catch (const std::bad_alloc&) {
      fail(std::make_exception_ptr(OutOfMemory("out of memory in " + describe_piece(piece) + " on " +
                                               (index == 0 ? std::string("the calling thread")
                                                           : "worker " + std::to_string(index)))));
    } catch (const std::exception& e) {
      fail(std::make_exception_ptr(ExecutionError(describe_piece(piece) + " failed on " +
                                                  (index == 0 ? std::string("the calling thread")
                                                              : "worker " + std::to_string(index)) +
                                                  ": " + e.what())));
    } catch (...) {
      fail(std::make_exception_ptr(ExecutionError(describe_piece(piece) + " failed on worker " +
                                                  std::to_string(index) + " with an unknown exception")));
    }
    in_flight.store(-1, std::memory_order_release);
    if (cancelled_.load(std::memory_order_acquire)) return;
    finish_piece(piece);
  }
}

void ThreadExecution::run(ThreadPool& pool, const CallBuffers& buffers, const ExecutionControl& control) {
  if (program_.steps.empty()) return;
  ++calls_;
  hooks_ = control.hooks;
  timeout_ = control.timeout;
  started_ = std::chrono::steady_clock::now();
  deadline_ = started_ + control.timeout;
  cancelled_.store(false);
  failure_ = nullptr;
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
  } else {
    // The caller's worker returns only when every step is done (or the call failed), so
    // workers that wake late may stay out (ThreadPool::help). Once the call is cancelled every
    // worker leaves within one piece, but on a loaded machine a worker may wait long for its
    // core: the grace is a further timeout and never less than kLeaveGrace, since running out
    // of it stops the process.
    pool.help(
        [&](int index) {
          if (index < threads) worker(index, buffers);
        },
        deadline_ + std::max<std::chrono::nanoseconds>(control.timeout, kLeaveGrace));
  }
  if (failure_) std::rethrow_exception(failure_);
}

}  // namespace meshreduce::detail
