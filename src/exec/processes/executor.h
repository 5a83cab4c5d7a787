// Internal: runs this process's part of a ProcessProgram on shared memory. Peers' segments are
// mapped at the same offsets (SegmentLayout), so a reference to any device's memory resolves to
// a pointer and the thread executor's kernels read and write peers' memory directly.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "exec/processes/faults.h"
#include "exec/processes/process_program.h"
#include "exec/processes/wait.h"
#include "meshreduce/tensor.h"
#include "meshreduce/transport.h"
#include "plan/program.h"

namespace meshreduce::detail {

// Where a process's memory is mapped in this process.
struct PeerMemory {
  std::byte* plan = nullptr;   // its plan segment
  std::byte* arena = nullptr;  // its shared arena, or null
  std::size_t arena_bytes = 0;
};

// The local devices' tensors of one call: inputs[l][n], outputs[l][n].
struct LocalBuffers {
  std::span<const std::vector<ConstTensorView>> inputs;
  std::span<const std::vector<TensorView>> outputs;
};

class ProcessExecution {
 public:
  // `program` and `lowered` must outlive the execution; peers[rank] is this process, and
  // peers on other machines are not mapped (null). `transport` carries the transfers between
  // machines (null when there are none) and must outlive the execution.
  ProcessExecution(const Program& program, const ProcessProgram& lowered, const ProcessMap& map,
                   std::vector<PeerMemory> peers, std::chrono::milliseconds timeout, Transport* transport = nullptr);

  // One call. Private buffers are copied into the segment's staging and back; buffers inside
  // this process's arena are used where they are. Throws TimeoutError naming the rank and step
  // waited for, with a stall report of the rank waited on (which of its tensors it has not
  // submitted, how many of its steps it has done, for how long it has not progressed), or
  // PeerError when a peer failed; either way this process's failure flag is set (peers waiting
  // on it fail at once), and the execution cannot run again.
  void run(const LocalBuffers& buffers);

  // Tests' fault injection (faults.h); null removes it.
  void set_hooks(std::shared_ptr<const ProcessExecutionHooks> hooks) { hooks_ = std::move(hooks); }

  std::uint64_t calls() const noexcept { return call_; }

 private:
  void publish_locators(const LocalBuffers& buffers);  // once per call, before its first window
  void stage(int window);
  void run_step(const LocalStep& step, int index, int window);
  void run_pieces(int index, int window);
  void send(const LocalStep& step);
  void post_receives();
  void progress();            // completes arrived receives (setting their flags) and sends
  void finish_transfers();    // every receive and send of this call, against the deadline
  void await_ready(int process);
  void await_step(int step);
  void fail(const std::string& message);
  void note_progress(int steps_done);
  // Publishes, while it lives, which process this one is blocked on (for peers' stall reports).
  // A wait that ends in an exception leaves it published: this process is failing because of that
  // wait, and a peer that times out on it before fail() marks it failed must still be told whom
  // it waits for (else the peer would name this process instead of the one at fault).
  class BlockedOn {
   public:
    BlockedOn(const ProcessExecution& execution, int process);
    ~BlockedOn();
    BlockedOn(const BlockedOn&) = delete;
    BlockedOn& operator=(const BlockedOn&) = delete;

   private:
    std::atomic_ref<std::uint64_t> flag_;
    int exceptions_at_start_;
  };
  std::string stall_report(int process) const;
  std::uint64_t locator(const PhysicalRef& ref) const;  // this call's, of an input or output
  // Where element `at` of the buffer `ref` points into lies (its offset is not added).
  std::byte* address(const PhysicalRef& ref, std::int64_t at, std::size_t element) const;
  // Program ref `index`, `skip` elements on: the user's private buffer for this process's own refs
  // (own_refs), else address().
  std::byte* address_of(int index, std::int64_t skip, std::size_t element) const;
  // Where this process leaves ref `index`'s result for its peer, `skip` elements on.
  std::byte* forwarded(int index, std::int64_t skip, std::size_t element) const;
  void finish_window(int window);  // waits for the peers' steps that touch this process, copies out
  void copy_out(int window);
  void start_window(int window);  // sets generation_ and ring_shift_
  std::uint64_t generation_of(int window) const noexcept;
  std::size_t ring_shift(int window) const noexcept;
  std::uint64_t locator_of(const void* data, std::size_t bytes, std::size_t staging) const;

  const Program& program_;
  const ProcessProgram& lowered_;
  const ProcessMap& map_;
  std::vector<PeerMemory> peers_;
  std::chrono::milliseconds timeout_;
  WaitPolicy wait_policy_;  // from the job's processes on this machine against its cores
  std::uint64_t call_ = 0;
  // What the flags say: (call_ - 1) * windows + window + 1 (process_program.h, staging windows).
  std::uint64_t generation_ = 0;
  std::size_t ring_shift_ = 0;  // bytes into each ring of the window being staged and run
  bool broken_ = false;
  std::shared_ptr<const ProcessExecutionHooks> hooks_;
  std::vector<int> steps_of_;  // per process: its steps in a call
  // Messages between machines: one per piece of a transfer (one empty one for a signal), each
  // in its own transport slot; sends in the order this process runs them.
  struct Message {
    int step = 0;
    int piece = -1;  // -1: a signal, no data
    int peer = 0;
    int tag = 0;
  };
  struct Receive {
    int step = 0;
    int first = 0;  // messages_[first, +count)
    int count = 0;
    int left = 0;   // this call's messages not yet arrived
  };
  Transport* transport_ = nullptr;
  std::vector<Message> messages_;   // receives first, then sends
  std::vector<Receive> receives_;
  std::vector<int> first_send_;     // per local step: its first message, or -1
  std::size_t sends_begin_ = 0;
  std::vector<std::uint8_t> state_;  // per message, this call: idle, in flight, done
  std::vector<int> receive_of_;      // per message: its index in receives_, or -1 for a send
  std::vector<std::size_t> completed_;  // test_some's answer
  int receives_left_ = 0;
  std::vector<std::uint64_t> ready_seen_;  // per process: the last generation its ready flag was seen for
  // This call's private buffers, per local tensor slot: where own refs read and write (null:
  // the tensor is in the arena, or an input read in place, which is staged whole).
  std::vector<const std::byte*> private_inputs_;
  std::vector<std::byte*> private_outputs_;
  std::vector<const std::byte*> staged_inputs_;  // inputs to stage (null: in the arena, or empty)
  std::vector<std::uint8_t> in_place_;
  std::vector<DType> dtypes_;  // per slot
  std::vector<const void*> sources_;
  std::vector<void*> destinations_;
};

}  // namespace meshreduce::detail
