// The process executor's call: stage the local tensors, walk the local steps in schedule order
// (each waits only for the flags it needs, see process_program.h), wait for the peers that
// touch this process's memory, copy the outputs back.
#include "exec/processes/executor.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <thread>
#include <utility>

#include "exec/processes/wait.h"
#include "exec/threads/spin.h"
#include "exec/threads/kernels.h"
#include "meshreduce/bootstrap.h"

namespace meshreduce::detail {

// Message states within a call (ProcessExecution::state_).
namespace {
constexpr std::uint8_t kIdle = 0, kInFlight = 1, kDone = 2;
}

ProcessExecution::ProcessExecution(const Program& program, const ProcessProgram& lowered, const ProcessMap& map,
                                   std::vector<PeerMemory> peers, std::chrono::milliseconds timeout, Transport* transport)
    : program_(program), lowered_(lowered), map_(map), peers_(std::move(peers)), timeout_(timeout),
      transport_(transport), ready_seen_(peers_.size(), 0) {
  const auto here = std::count_if(peers_.begin(), peers_.end(), [](const PeerMemory& peer) { return peer.plan != nullptr; });
  wait_policy_ = wait_policy_for(static_cast<int>(here), std::thread::hardware_concurrency());
  steps_of_.assign(peers_.size(), 0);
  for (int process : lowered.step_process) ++steps_of_[static_cast<std::size_t>(process)];
  const bool transfers = !lowered.receives.empty() ||
                         std::any_of(lowered.steps.begin(), lowered.steps.end(), [](const LocalStep& s) { return s.receiver >= 0; });
  if (transfers && transport == nullptr)
    throw InvalidArgument("rank " + std::to_string(lowered.rank) +
                          ": the processes span several machines, and no transport between machines was given");
  if (transfers) {
    const auto tags = static_cast<std::int64_t>(transport->max_tag()) + 1;
    const auto add = [&](int step, int peer) {
      const ProgramStep& lowered_step = program.steps[static_cast<std::size_t>(step)];
      if (lowered_step.pieces == 0) {
        const auto tag = (static_cast<std::int64_t>(program.pieces.size()) + step) % tags;
        messages_.push_back({step, -1, peer, static_cast<int>(tag)});
      }
      for (int i = 0; i < lowered_step.pieces; ++i)
        messages_.push_back({step, lowered_step.first_piece + i, peer,
                             static_cast<int>((lowered_step.first_piece + i) % tags)});
    };
    for (int step : lowered.receives) {
      const int first = static_cast<int>(messages_.size());
      add(step, lowered.step_process[static_cast<std::size_t>(step)]);
      receives_.push_back({step, first, static_cast<int>(messages_.size()) - first, 0});
    }
    sends_begin_ = messages_.size();
    first_send_.assign(program.steps.size(), -1);
    for (const LocalStep& local : lowered.steps)
      if (local.receiver >= 0) {
        first_send_[static_cast<std::size_t>(local.step)] = static_cast<int>(messages_.size());
        add(local.step, local.receiver);
      }
    state_.assign(messages_.size(), kIdle);
    receive_of_.assign(messages_.size(), -1);
    for (std::size_t r = 0; r < receives_.size(); ++r)
      for (int m = receives_[r].first; m < receives_[r].first + receives_[r].count; ++m)
        receive_of_[static_cast<std::size_t>(m)] = static_cast<int>(r);
    completed_.resize(messages_.size());
    transport->reserve(messages_.size());
  }
  const std::size_t slots = static_cast<std::size_t>(map.devices_of(lowered.rank)) * static_cast<std::size_t>(lowered.tensors);
  private_inputs_.assign(slots, nullptr);
  private_outputs_.assign(slots, nullptr);
  staged_inputs_.assign(slots, nullptr);
  in_place_.assign(slots, 0);
  dtypes_.assign(slots, DType::f32);
  std::size_t widest = 0;
  for (const Piece& piece : program.pieces)
    widest = std::max(widest, static_cast<std::size_t>(std::max(piece.sources, piece.destinations)));
  sources_.resize(widest);
  destinations_.resize(widest);
}

std::uint64_t ProcessExecution::locator_of(const void* data, std::size_t bytes, std::size_t staging) const {
  const PeerMemory& mine = peers_[static_cast<std::size_t>(lowered_.rank)];
  const auto* at = static_cast<const std::byte*>(data);
  if (mine.arena != nullptr && at >= mine.arena && at < mine.arena + mine.arena_bytes) {
    const auto offset = static_cast<std::size_t>(at - mine.arena);
    if (bytes > mine.arena_bytes - offset)
      throw InvalidArgument("rank " + std::to_string(lowered_.rank) + ": a tensor of " + std::to_string(bytes) +
                            " bytes starts in the shared arena and runs past its end");
    return kInArena | offset;
  }
  return staging;
}

// Copies between private buffers and the segment: of the ranges of a private buffer that peers
// touch (and, out, of the ranges fetched from the peers that computed them: ProcessProgram::
// forwarded_at). In a large call (Program::large) the copies out store around the caches, as
// the call's final outputs do: the user reads them next, after the rest of the call has passed
// through the caches. So do the copies in when the call is one window: what they write is read
// next by another process after the rest of the call has passed through the caches, so caching
// it only costs the read of each line before its write (with 8 processes on 2 cores and 64 MiB
// private buffers per process, calls took 0.90x the time they took with memcpy). In a call of
// several windows the copies in go through the caches: the ring is read from there, by peers,
// within the window, and its lines are overwritten there by the next (docs/processes.md,
// "Private and shared buffers").
namespace {
void copy_elements(void* to, const void* from, std::int64_t count, DType dtype, bool stream) {
  run_kernel({StepKind::copy, dtype, ReduceOp::sum, false, 1, count, std::span(&from, 1), std::span(&to, 1), stream});
}
}  // namespace

// Private buffers pass through the segment only where peers touch them (ProcessProgram::
// shared_inputs/outputs); this process's own refs use them where they are. An input reduced in
// place is staged whole: its own steps may write its output, the same memory, before reading it.
void ProcessExecution::publish_locators(const LocalBuffers& buffers) {
  const PeerMemory& mine = peers_[static_cast<std::size_t>(lowered_.rank)];
  const SegmentLayout& layout = lowered_.layouts[static_cast<std::size_t>(lowered_.rank)];
  const int tensors = lowered_.tensors;
  for (std::size_t local = 0; local < buffers.inputs.size(); ++local)
    for (int n = 0; n < tensors; ++n) {
      const auto slot = tensor_slot(static_cast<int>(local), n, tensors);
      const ConstTensorView& input = buffers.inputs[local][static_cast<std::size_t>(n)];
      const TensorView& output = buffers.outputs[local][static_cast<std::size_t>(n)];
      const auto bytes = static_cast<std::size_t>(input.bytes());
      const std::uint64_t in = locator_of(input.data, bytes, layout.staging_input[slot]);
      const std::uint64_t out = locator_of(output.data, bytes, layout.staging_output[slot]);
      const bool in_place = input.data == output.data;
      const auto* user_input = static_cast<const std::byte*>(input.data);
      private_inputs_[slot] = (in & kInArena) == 0 && !in_place ? user_input : nullptr;
      private_outputs_[slot] = (out & kInArena) == 0 ? static_cast<std::byte*>(output.data) : nullptr;
      staged_inputs_[slot] = (in & kInArena) == 0 && bytes > 0 ? user_input : nullptr;
      in_place_[slot] = in_place ? 1 : 0;
      dtypes_[slot] = input.dtype;
      const int l = static_cast<int>(local);
      shared_flag(mine.plan, layout.locator(l, n, BufferKind::input, tensors)).store(in, std::memory_order_relaxed);
      shared_flag(mine.plan, layout.locator(l, n, BufferKind::output, tensors)).store(out, std::memory_order_relaxed);
    }
}

void ProcessExecution::stage(int window) {
  const PeerMemory& mine = peers_[static_cast<std::size_t>(lowered_.rank)];
  const SegmentLayout& layout = lowered_.layouts[static_cast<std::size_t>(lowered_.rank)];
  const bool stream = program_.large && lowered_.windows == 1;
  for (int c = lowered_.first_copy_in[static_cast<std::size_t>(window)]; c < lowered_.first_copy_in[static_cast<std::size_t>(window) + 1]; ++c) {
    const StagedCopy& copy = lowered_.copies_in[static_cast<std::size_t>(c)];
    const auto slot = static_cast<std::size_t>(copy.slot);
    if (staged_inputs_[slot] == nullptr || copy.whole != (in_place_[slot] != 0)) continue;
    copy_elements(mine.plan + copy.at + ring_shift_, staged_inputs_[slot] + static_cast<std::size_t>(copy.range.begin) * dtype_size(dtypes_[slot]),
                  copy.range.end - copy.range.begin, dtypes_[slot], stream);
  }
  note_progress(0);
  // Publishes the staged data (and, in a call's first window, the locators): a peer that sees
  // this value may use them.
  shared_flag(mine.plan, layout.ready).store(generation_, std::memory_order_release);
  if (window == 0) post_receives();
}

void ProcessExecution::copy_out(int window) {
  const std::size_t shift = ring_shift(window);
  for (int c = lowered_.first_copy_out[static_cast<std::size_t>(window)]; c < lowered_.first_copy_out[static_cast<std::size_t>(window) + 1]; ++c) {
    const StagedCopy& copy = lowered_.copies_out[static_cast<std::size_t>(c)];
    const auto slot = static_cast<std::size_t>(copy.slot);
    std::byte* output = private_outputs_[slot];
    if (output == nullptr) continue;
    copy_elements(output + static_cast<std::size_t>(copy.range.begin) * dtype_size(dtypes_[slot]),
                  peers_[static_cast<std::size_t>(copy.process)].plan + copy.at + shift, copy.range.end - copy.range.begin,
                  dtypes_[slot], program_.large);
  }
}

void ProcessExecution::post_receives() {
  if (receives_.empty()) return;
  receives_left_ = static_cast<int>(receives_.size());
  for (Receive& receive : receives_) {
    receive.left = receive.count;
    for (int m = receive.first; m < receive.first + receive.count; ++m) {
      const Message& message = messages_[static_cast<std::size_t>(m)];
      void* data = nullptr;
      std::size_t bytes = 0;
      if (message.piece >= 0) {
        const Piece& piece = program_.pieces[static_cast<std::size_t>(message.piece)];
        data = address_of(piece.first_ref + piece.sources, 0, dtype_size(piece.dtype));
        bytes = static_cast<std::size_t>(piece.count) * dtype_size(piece.dtype);
      }
      transport_->start_receive(message.peer, message.tag, data, bytes, static_cast<std::size_t>(m));
      state_[static_cast<std::size_t>(m)] = kInFlight;
    }
  }
}

void ProcessExecution::send(const LocalStep& local) {
  for (auto m = static_cast<std::size_t>(first_send_[static_cast<std::size_t>(local.step)]);
       m < messages_.size() && messages_[m].step == local.step; ++m) {
    const Message& message = messages_[m];
    const void* data = nullptr;
    std::size_t bytes = 0;
    if (message.piece >= 0) {
      const Piece& piece = program_.pieces[static_cast<std::size_t>(message.piece)];
      data = address_of(piece.first_ref, 0, dtype_size(piece.dtype));
      bytes = static_cast<std::size_t>(piece.count) * dtype_size(piece.dtype);
    }
    transport_->start_send(message.peer, message.tag, data, bytes, m);
    state_[m] = kInFlight;
  }
}

void ProcessExecution::progress() {
  if (messages_.empty()) return;
  const PeerMemory& mine = peers_[static_cast<std::size_t>(lowered_.rank)];
  const SegmentLayout& layout = lowered_.layouts[static_cast<std::size_t>(lowered_.rank)];
  const std::size_t done = transport_->test_some(completed_);
  for (std::size_t i = 0; i < done; ++i) {
    const std::size_t m = completed_[i];
    state_[m] = kDone;
    const int r = receive_of_[m];
    if (r < 0) continue;
    Receive& receive = receives_[static_cast<std::size_t>(r)];
    if (--receive.left == 0) {
      shared_flag(mine.plan, layout.flag(receive.step)).store(generation_, std::memory_order_release);
      --receives_left_;
    }
  }
}

void ProcessExecution::finish_transfers() {
  if (messages_.empty()) return;
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  for (int round = 0;; round = std::min(round + 1, wait_policy_.pause_rounds)) {  // no overflow in a long wait
    progress();
    std::size_t pending = messages_.size();
    for (std::size_t m = 0; m < messages_.size() && pending == messages_.size(); ++m)
      if (state_[m] != kDone && (m < sends_begin_ || state_[m] == kInFlight)) pending = m;
    if (pending == messages_.size()) return;
    if (round >= wait_policy_.pause_rounds && std::chrono::steady_clock::now() >= deadline) {  // as wait_at_least
      const Message& message = messages_[pending];
      throw TimeoutError(pending < sends_begin_
                             ? "rank " + std::to_string(lowered_.rank) + " waited " + std::to_string(timeout_.count()) +
                                   " ms for the data of step " + std::to_string(message.step) + " from rank " +
                                   std::to_string(message.peer) + " in call " + std::to_string(call_)
                             : "rank " + std::to_string(lowered_.rank) + " waited " + std::to_string(timeout_.count()) +
                                   " ms for rank " + std::to_string(message.peer) + " to take the data of step " +
                                   std::to_string(message.step) + " in call " + std::to_string(call_));
    }
    spin_wait(round, wait_policy_.pause_rounds);
  }
}

std::uint64_t ProcessExecution::locator(const PhysicalRef& ref) const {
  const auto process = static_cast<std::size_t>(map_.process_of[static_cast<std::size_t>(ref.device)]);
  const int local = map_.local_of[static_cast<std::size_t>(ref.device)];
  return shared_flag(peers_[process].plan, lowered_.layouts[process].locator(local, ref.index, ref.kind, lowered_.tensors))
      .load(std::memory_order_relaxed);
}

std::byte* ProcessExecution::address(const PhysicalRef& ref, std::int64_t at, std::size_t element) const {
  const auto process = static_cast<std::size_t>(map_.process_of[static_cast<std::size_t>(ref.device)]);
  const PeerMemory& peer = peers_[process];
  if (ref.kind == BufferKind::scratch)
    return peer.plan + lowered_.layouts[process].scratch[static_cast<std::size_t>(ref.index)] + static_cast<std::size_t>(at) * element;
  const std::uint64_t located = locator(ref);
  if ((located & kInArena) != 0) return peer.arena + (located & ~kInArena) + static_cast<std::size_t>(at) * element;
  return peer.plan + located + ring_shift_ + lowered_.staged_offset(ref.index, at, element);
}

std::byte* ProcessExecution::address_of(int index, std::int64_t skip, std::size_t element) const {
  const PhysicalRef& ref = program_.refs[static_cast<std::size_t>(index)];
  if (lowered_.own_refs[static_cast<std::size_t>(index)] != 0) {
    const auto slot = tensor_slot(map_, ref, lowered_.tensors);
    std::byte* base = ref.kind == BufferKind::input ? const_cast<std::byte*>(private_inputs_[slot]) : private_outputs_[slot];
    if (base != nullptr) return base + static_cast<std::size_t>(ref.offset + skip) * element;
  }
  return address(ref, ref.offset + skip, element);
}

// forwarded_at is where the ref's first element is left; in a call of several windows a piece's
// elements may lie in several, whose places in the ring are not contiguous (the refs of such a
// program cover the same elements, so the ref's own tensor and offsets locate them).
std::byte* ProcessExecution::forwarded(int index, std::int64_t skip, std::size_t element) const {
  std::byte* mine = peers_[static_cast<std::size_t>(lowered_.rank)].plan;
  const std::size_t at = lowered_.forwarded_at[static_cast<std::size_t>(index)];
  if (skip == 0) return mine + at + ring_shift_;
  const PhysicalRef& ref = program_.refs[static_cast<std::size_t>(index)];
  return mine + ring_shift_ + (at - lowered_.staged_offset(ref.index, ref.offset, element) +
                               lowered_.staged_offset(ref.index, ref.offset + skip, element));
}

void ProcessExecution::fail(const std::string& message) {
  broken_ = true;
  const PeerMemory& mine = peers_[static_cast<std::size_t>(lowered_.rank)];
  const SegmentLayout& layout = lowered_.layouts[static_cast<std::size_t>(lowered_.rank)];
  if (shared_flag(mine.plan, layout.failed).load(std::memory_order_relaxed) != 0) return;
  const std::size_t length = std::min(message.size(), kFailureTextBytes - 1);
  std::memcpy(mine.plan + layout.failure_text, message.data(), length);
  mine.plan[layout.failure_text + length] = std::byte{0};
  shared_flag(mine.plan, layout.failed).store(1, std::memory_order_release);
}

void ProcessExecution::note_progress(int steps_done) {
  const PeerMemory& mine = peers_[static_cast<std::size_t>(lowered_.rank)];
  const std::size_t at = lowered_.layouts[static_cast<std::size_t>(lowered_.rank)].progress;
  const auto now = std::chrono::steady_clock::now().time_since_epoch();
  shared_flag(mine.plan, at).store(static_cast<std::uint64_t>(steps_done), std::memory_order_relaxed);
  shared_flag(mine.plan, at + sizeof(std::uint64_t))
      .store(static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count()),
             std::memory_order_relaxed);
}

ProcessExecution::BlockedOn::BlockedOn(const ProcessExecution& execution, int process)
    : flag_(shared_flag(execution.peers_[static_cast<std::size_t>(execution.lowered_.rank)].plan,
                        execution.lowered_.layouts[static_cast<std::size_t>(execution.lowered_.rank)].progress +
                            2 * sizeof(std::uint64_t))),
      exceptions_at_start_(std::uncaught_exceptions()) {
  flag_.store(static_cast<std::uint64_t>(process) + 1, std::memory_order_relaxed);
}

ProcessExecution::BlockedOn::~BlockedOn() {
  if (std::uncaught_exceptions() == exceptions_at_start_) flag_.store(0, std::memory_order_relaxed);
}

// Which of its tensors the process has not submitted, how far it got, and for how long it has
// not moved (steady_clock is one clock for every process of a machine, and only processes of
// this machine are waited on through flags).
std::string ProcessExecution::stall_report(int process) const {
  const auto p = static_cast<std::size_t>(process);
  const SegmentLayout& layout = lowered_.layouts[p];
  const std::uint64_t staged = shared_flag(peers_[p].plan, layout.ready).load(std::memory_order_acquire);
  const std::uint64_t done = shared_flag(peers_[p].plan, layout.progress).load(std::memory_order_relaxed);
  const std::uint64_t since = shared_flag(peers_[p].plan, layout.progress + sizeof(std::uint64_t)).load(std::memory_order_relaxed);
  const std::string who = "rank " + std::to_string(process);
  const std::string steps = " of its " + std::to_string(steps_of_[p]) + " steps";
  const auto windows = static_cast<std::uint64_t>(lowered_.windows);
  const std::uint64_t staged_call = (staged + windows - 1) / windows;
  // In a call of several windows: which window the process has staged last.
  const std::string in_window =
      windows == 1 || staged == 0 ? std::string()
                                  : " (window " + std::to_string((staged - 1) % windows) + " of " + std::to_string(windows) + ")";
  std::string report;
  if (staged_call < call_) {
    const int tensors = lowered_.tensors;
    report = who + " has not submitted " +
             (tensors == 1 ? std::string("tensor 0") : "tensors 0-" + std::to_string(tensors - 1)) + " of call " +
             std::to_string(call_) +
             (staged == 0 ? std::string(" (nor any earlier call)")
                          : " (it did " + std::to_string(done) + steps + " of call " + std::to_string(staged_call) + in_window + ")");
  } else {
    report = who + " submitted its tensors of call " + std::to_string(call_) + " and did " + std::to_string(done) + steps + in_window;
  }
  const std::uint64_t blocked = shared_flag(peers_[p].plan, layout.progress + 2 * sizeof(std::uint64_t)).load(std::memory_order_relaxed);
  if (blocked > 0) report += ", and waits for rank " + std::to_string(blocked - 1);
  if (since == 0) return report + "; it has not moved since it set up this layout";
  const auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch());
  const auto idle = now.count() - static_cast<std::int64_t>(since);
  return report + "; no progress for " + std::to_string(std::max<std::int64_t>(idle, 0) / 1000000) + " ms";
}

namespace {

std::string failure_of(const PeerMemory& peer, const SegmentLayout& layout) {
  const auto* text = reinterpret_cast<const char*>(peer.plan + layout.failure_text);
  return std::string(text, strnlen(text, kFailureTextBytes));
}

}  // namespace

void ProcessExecution::await_ready(int process) {
  const auto p = static_cast<std::size_t>(process);
  if (ready_seen_[p] == generation_) return;
  const SegmentLayout& layout = lowered_.layouts[p];
  const BlockedOn blocked(*this, process);
  const auto result = wait_at_least(shared_flag(peers_[p].plan, layout.ready), generation_,
                                    shared_flag(peers_[p].plan, layout.failed), timeout_, wait_policy_, [this] { progress(); });
  if (result == WaitResult::failed)
    throw PeerError("rank " + std::to_string(process) + " failed " + failure_of(peers_[p], layout));
  if (result == WaitResult::timed_out)
    throw TimeoutError("rank " + std::to_string(lowered_.rank) + " waited " + std::to_string(timeout_.count()) +
                       " ms for rank " + std::to_string(process) + " to start call " + std::to_string(call_) +
                       " (stage its tensors): " + stall_report(process));
  ready_seen_[p] = generation_;
}

void ProcessExecution::await_step(int step) {
  const int process = lowered_.flag_process[static_cast<std::size_t>(step)];
  const auto p = static_cast<std::size_t>(process);
  const SegmentLayout& layout = lowered_.layouts[p];
  const BlockedOn blocked(*this, process);
  const auto result = wait_at_least(shared_flag(peers_[p].plan, layout.flag(step)), generation_,
                                    shared_flag(peers_[p].plan, layout.failed), timeout_, wait_policy_, [this] { progress(); });
  if (result == WaitResult::failed)
    throw PeerError("rank " + std::to_string(process) + " failed " + failure_of(peers_[p], layout));
  if (result == WaitResult::timed_out)
    throw TimeoutError("rank " + std::to_string(lowered_.rank) + " waited " + std::to_string(timeout_.count()) +
                       " ms for step " + std::to_string(step) + " on rank " + std::to_string(process) + " in call " +
                       std::to_string(call_) + ": " + stall_report(process));
}

void ProcessExecution::run_step(const LocalStep& local, int index, int window) {
  for (int w = 0; w < local.waits; ++w) await_step(lowered_.waits[static_cast<std::size_t>(local.first_wait + w)]);
  for (int p = 0; p < local.peers; ++p) await_ready(lowered_.peers[static_cast<std::size_t>(local.first_peer + p)]);
  if (local.receiver >= 0) {
    send(local);  // a transfer between machines: its receiver sets its flag
    return;
  }
  run_pieces(index, window);
  const auto rank = static_cast<std::size_t>(lowered_.rank);
  shared_flag(peers_[rank].plan, lowered_.layouts[rank].flag(local.step)).store(generation_, std::memory_order_release);
}

// A result left for peers in a call of several windows is read from the ring within the window
// and overwritten there by the next, so it is stored through the caches, and the piece's other
// destinations (final outputs) are copied from it around them.
void ProcessExecution::run_pieces(int index, int window) {
  const std::size_t at = static_cast<std::size_t>(window) * lowered_.steps.size() + static_cast<std::size_t>(index);
  bool streamed = false;
  for (int i = lowered_.first_sub_piece[at]; i < lowered_.first_sub_piece[at + 1]; ++i) {
    const SubPiece& sub = lowered_.sub_pieces[static_cast<std::size_t>(i)];
    const Piece& piece = program_.pieces[static_cast<std::size_t>(sub.piece)];
    const std::size_t element = dtype_size(piece.dtype);
    for (int r = 0; r < piece.sources; ++r)
      sources_[static_cast<std::size_t>(r)] = address_of(piece.first_ref + r, sub.skip, element);
    std::size_t destinations = 0;
    void* left_for_peers = nullptr;
    for (int r = piece.first_ref + piece.sources; r < piece.first_ref + piece.sources + piece.destinations; ++r) {
      if (lowered_.forwarded_at[static_cast<std::size_t>(r)] != kNotForwarded &&
          (locator(program_.refs[static_cast<std::size_t>(r)]) & kInArena) == 0) {
        if (left_for_peers == nullptr) left_for_peers = forwarded(r, sub.skip, element);  // once, for every private peer
        continue;
      }
      destinations_[destinations++] = address_of(r, sub.skip, element);
    }
    const auto sources = std::span(sources_.data(), static_cast<std::size_t>(piece.sources));
    if (left_for_peers != nullptr && lowered_.windows > 1) {
      run_kernel({piece.kind, piece.dtype, program_.op, piece.average, program_.num_devices, sub.count, sources,
                  std::span(&left_for_peers, 1), false});
      const void* result = left_for_peers;
      if (destinations > 0)
        run_kernel({StepKind::copy, piece.dtype, ReduceOp::sum, false, 1, sub.count, std::span(&result, 1),
                    std::span(destinations_.data(), destinations), piece.stream});
    } else {
      if (left_for_peers != nullptr) destinations_[destinations++] = left_for_peers;
      run_kernel({piece.kind, piece.dtype, program_.op, piece.average, program_.num_devices, sub.count, sources,
                  std::span(destinations_.data(), destinations), piece.stream});
    }
    streamed = streamed || piece.stream;
  }
  // Non-temporal stores (x86) are not ordered by a release store: fence them before the flag.
  // Elsewhere the kernels' streaming stores are plain stores, which the release orders.
#if defined(__x86_64__) || defined(__i386__)
  if (streamed) __builtin_ia32_sfence();
#else
  (void)streamed;
#endif
}

std::size_t ProcessExecution::ring_shift(int window) const noexcept {
  return static_cast<std::size_t>(window % lowered_.ring_slots) * lowered_.ring_bytes;
}

std::uint64_t ProcessExecution::generation_of(int window) const noexcept {
  return (call_ - 1) * static_cast<std::uint64_t>(lowered_.windows) + static_cast<std::uint64_t>(window) + 1;
}

void ProcessExecution::start_window(int window) {
  generation_ = generation_of(window);
  ring_shift_ = ring_shift(window);
}

// Runs while window + 1 is staged and run (or after the last): the waits take its generation;
// copy_out finds its ring half itself.
void ProcessExecution::finish_window(int window) {
  generation_ = generation_of(window);
  for (int step : lowered_.final_waits) await_step(step);
  copy_out(window);
}

void ProcessExecution::run(const LocalBuffers& buffers) {
  if (broken_)
    throw Error("rank " + std::to_string(lowered_.rank) +
                ": an earlier call of this layout failed; the communicator cannot run it again");
  ++call_;
  std::fill(state_.begin(), state_.end(), kIdle);
  const int windows = lowered_.windows;
  try {
    publish_locators(buffers);
    for (int window = 0; window < windows; ++window) {
      start_window(window);
      stage(window);
      if (windows > 1)  // the ring half this window writes may hold what a peer still fetches
        for (int peer : lowered_.fetchers) await_ready(peer);
      const int steps = static_cast<int>(lowered_.steps.size());
      for (int index = 0; index < steps; ++index) {
        const LocalStep& step = lowered_.steps[static_cast<std::size_t>(index)];
        if (hooks_ && hooks_->before_step) hooks_->before_step({lowered_.rank, step.step, index, steps, call_, window, windows});
        run_step(step, index, window);
        note_progress(index + 1);
      }
      if (window > 0) finish_window(window - 1);  // the previous window ends while this one runs
    }
    finish_transfers();
    finish_window(windows - 1);
  } catch (const std::exception& error) {
    fail("in call " + std::to_string(call_) + ": " + error.what());  // peers print "rank R failed <this>"
    throw;
  }
}

}  // namespace meshreduce::detail
