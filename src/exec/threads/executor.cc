// The thread executor: a dependency-counting scheduler over the pieces of a Program. Every
// worker (the caller included) takes the oldest ready piece, runs its kernel, and when the last
// piece of a step finishes, releases the steps that wait on it. Devices are memory spaces, not
// threads, so K can be far larger than the number of cores.
#include "exec/threads/executor.h"

#include <cstring>

#include "exec/threads/kernels.h"

namespace meshreduce::detail {

ThreadExecution::ThreadExecution(const Program& program)
    : program_(program),
      deps_left_(new std::atomic<int>[program.steps.size()]),
      pieces_left_(new std::atomic<int>[program.steps.size()]),
      queue_(program.pieces.size()) {
  for (const ScratchSpec& spec : program.scratch) {
    const auto bytes = static_cast<std::size_t>(spec.count) * dtype_size(spec.dtype);
    auto memory = std::make_unique<std::byte[]>(bytes);  // value-initialized: pages touched now
    scratch_.push_back(std::move(memory));
  }
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

void ThreadExecution::make_ready(int step, std::vector<int>& completed) {
  // Steps without pieces (empty ranges) complete at once and may release others in turn.
  const ProgramStep& lowered = program_.steps[static_cast<std::size_t>(step)];
  if (lowered.pieces > 0) {
    for (int p = 0; p < lowered.pieces; ++p) queue_[tail_++] = lowered.first_piece + p;
    return;
  }
  completed.push_back(step);
}

void ThreadExecution::finish_piece(int piece) {
  const int step = program_.pieces[static_cast<std::size_t>(piece)].step;
  if (pieces_left_[static_cast<std::size_t>(step)].fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  std::vector<int> completed{step};
  std::lock_guard lock(mutex_);
  complete_steps(completed);
  ready_.notify_all();
}

void ThreadExecution::complete_steps(std::vector<int>& completed) {
  while (!completed.empty()) {
    const int done = completed.back();
    completed.pop_back();
    ++steps_done_;
    for (int next : program_.steps[static_cast<std::size_t>(done)].dependents)
      if (deps_left_[static_cast<std::size_t>(next)].fetch_sub(1, std::memory_order_acq_rel) == 1)
        make_ready(next, completed);
  }
}

void ThreadExecution::worker(const CallBuffers& buffers) {
  std::vector<const void*> srcs;
  std::vector<void*> dsts;
  for (;;) {
    int piece_index = 0;
    {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, [&] { return head_ < tail_ || steps_done_ == program_.steps.size(); });
      if (head_ == tail_) return;
      piece_index = queue_[head_++];
    }
    const Piece& piece = program_.pieces[static_cast<std::size_t>(piece_index)];
    const std::size_t element = dtype_size(piece.dtype);
    srcs.clear();
    dsts.clear();
    for (int r = 0; r < piece.sources; ++r)
      srcs.push_back(address(buffers, program_.refs[static_cast<std::size_t>(piece.first_ref + r)], element));
    for (int r = 0; r < piece.destinations; ++r)
      dsts.push_back(address(buffers, program_.refs[static_cast<std::size_t>(piece.first_ref + piece.sources + r)], element));
    run_kernel({piece.kind, piece.dtype, program_.op, piece.average, program_.num_devices, piece.count, srcs, dsts});
    finish_piece(piece_index);
  }
}

void ThreadExecution::run(ThreadPool& pool, const CallBuffers& buffers) {
  if (program_.steps.empty()) return;
  {
    std::lock_guard lock(mutex_);
    head_ = tail_ = steps_done_ = 0;
    for (std::size_t s = 0; s < program_.steps.size(); ++s) {
      deps_left_[s].store(program_.steps[s].deps, std::memory_order_relaxed);
      pieces_left_[s].store(program_.steps[s].pieces, std::memory_order_relaxed);
    }
    std::vector<int> completed;
    for (std::size_t s = 0; s < program_.steps.size(); ++s)
      if (program_.steps[s].deps == 0) make_ready(static_cast<int>(s), completed);
    complete_steps(completed);
  }
  pool.run([&](int) { worker(buffers); });
}

}  // namespace meshreduce::detail
