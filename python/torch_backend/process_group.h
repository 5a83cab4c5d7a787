// ProcessGroupMeshreduce: torch.distributed's backend "meshreduce", a c10d::ProcessGroup whose
// collectives run on meshreduce's process communicator (POSIX shared memory between the
// processes of one machine). It finds its peers through the c10d Store torch gives every
// backend, so env://, file:// and tcp:// initialization work without mpirun.
//
// Collectives are queued to one worker thread per group and run in issue order; each returns a
// Work whose future completes when it has run (DDP needs nothing more). Errors (a tensor
// layout that differs between ranks, a peer that died, a deadline missed) complete the Work
// with an error that Python raises as RuntimeError: a layout mismatch raises on every rank at
// once; a dead or absent peer makes the others raise within `timeout`.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

#include "meshreduce/process_communicator.h"
#include "work_queue.h"

namespace meshreduce::torch_backend {

// What a user may choose (meshreduce.torch.Options in Python). Every rank must pass the same
// algorithm and piece size: the communicator checks and raises on every rank otherwise.
struct BackendOptions {
  std::string algorithm = "auto";
  std::chrono::milliseconds timeout{30000};  // every wait of every collective
  std::int64_t piece_elements = std::int64_t{1} << 16;
};

class ProcessGroupMeshreduce : public c10d::ProcessGroup {
 public:
  // Collective over the store: every rank of the group constructs its own at the same time.
  ProcessGroupMeshreduce(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size, BackendOptions options);
  ~ProcessGroupMeshreduce() override;

  const std::string getBackendName() const override { return "meshreduce"; }
  const BackendOptions& options() const noexcept { return options_; }

  c10::intrusive_ptr<c10d::Work> allreduce(std::vector<at::Tensor>& tensors,
                                           const c10d::AllreduceOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> allreduce_coalesced(std::vector<at::Tensor>& tensors,
                                                     const c10d::AllreduceCoalescedOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> broadcast(std::vector<at::Tensor>& tensors,
                                           const c10d::BroadcastOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> allgather(std::vector<std::vector<at::Tensor>>& outputs,
                                           std::vector<at::Tensor>& inputs,
                                           const c10d::AllgatherOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> _allgather_base(at::Tensor& output, at::Tensor& input,
                                                 const c10d::AllgatherOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> reduce_scatter(std::vector<at::Tensor>& outputs,
                                                std::vector<std::vector<at::Tensor>>& inputs,
                                                const c10d::ReduceScatterOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> _reduce_scatter_base(at::Tensor& output, at::Tensor& input,
                                                      const c10d::ReduceScatterOptions& opts) override;
  c10::intrusive_ptr<c10d::Work> barrier(const c10d::BarrierOptions& opts) override;

 private:
  BackendOptions options_;
  std::shared_ptr<Bootstrap> bootstrap_;
  std::unique_ptr<ProcessCommunicator> comm_;
  // Last member: destroyed first, so the worker stops before the communicator it uses.
  std::unique_ptr<WorkQueue> queue_;
};

// torch's reduce op as meshreduce's; InvalidArgument for the ones meshreduce lacks.
ReduceOp reduce_op_of(const c10d::ReduceOp& op);

}  // namespace meshreduce::torch_backend
