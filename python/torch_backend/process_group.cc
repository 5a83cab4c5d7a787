#include "process_group.h"

#include <optional>
#include <utility>

#include <pybind11/pybind11.h>

#include "c10d_store.h"
#include "collectives.h"
#include "meshreduce/error.h"

namespace meshreduce::torch_backend {
namespace {

ProcessCommunicatorOptions communicator_options(const BackendOptions& options) {
  if (options.timeout.count() <= 0)
    throw InvalidArgument("meshreduce backend timeout must be positive, got " + std::to_string(options.timeout.count()) +
                          " ms");
  if (options.piece_elements <= 0)
    throw InvalidArgument("meshreduce backend piece_elements must be positive, got " +
                          std::to_string(options.piece_elements));
  ProcessCommunicatorOptions result;
  result.algorithm = options.algorithm;
  result.timeout = options.timeout;
  result.piece_elements = options.piece_elements;
  return result;
}

// One tensor per process: the c10d convention of one tensor per local device, and a process
// of this backend holds one device.
void require_one_tensor(const std::vector<at::Tensor>& tensors, const char* what) {
  if (tensors.size() != 1)
    throw InvalidArgument(std::string(what) + " takes one tensor per process (one device), got " +
                          std::to_string(tensors.size()) +
                          (std::string(what) == "allreduce" ? "; all_reduce_coalesced reduces a list" : ""));
}

}  // namespace

ReduceOp reduce_op_of(const c10d::ReduceOp& op) {
  switch (op.op_) {
    case c10d::ReduceOp::SUM: return ReduceOp::sum;
    case c10d::ReduceOp::AVG: return ReduceOp::average;
    case c10d::ReduceOp::MIN: return ReduceOp::min;
    case c10d::ReduceOp::MAX: return ReduceOp::max;
    default:
      throw InvalidArgument("reduce op " + std::to_string(static_cast<int>(op.op_)) +
                            ": the meshreduce backend reduces with SUM, AVG, MIN and MAX");
  }
}

ProcessGroupMeshreduce::ProcessGroupMeshreduce(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
                                               BackendOptions options)
    : c10d::ProcessGroup(rank, size), options_(std::move(options)) {
  const ProcessCommunicatorOptions comm_options = communicator_options(options_);
  bootstrap_ = std::make_shared<StoreBootstrap>(std::make_shared<C10dStore>(store), rank, size, "meshreduce");
  comm_ = std::make_unique<ProcessCommunicator>(bootstrap_, comm_options);
  queue_ = std::make_unique<WorkQueue>(rank);
  init();
}

ProcessGroupMeshreduce::~ProcessGroupMeshreduce() {
  // Python may drop the last reference with the GIL held, and the worker may need the GIL to
  // finish its collective (freeing a tensor that has a Python object takes it): let it go.
  std::optional<pybind11::gil_scoped_release> release;
  if (Py_IsInitialized() && PyGILState_Check()) release.emplace();
  queue_.reset();
}

c10::intrusive_ptr<c10d::Work> ProcessGroupMeshreduce::allreduce(std::vector<at::Tensor>& tensors,
                                                                 const c10d::AllreduceOptions& opts) {
  require_one_tensor(tensors, "allreduce");
  const ReduceOp op = reduce_op_of(opts.reduceOp);
  return queue_->enqueue(c10d::OpType::ALLREDUCE, "allreduce", tensors,
                         [this, tensors, op]() mutable { allreduce_tensors(*comm_, tensors, op); });
}

c10::intrusive_ptr<c10d::Work> ProcessGroupMeshreduce::allreduce_coalesced(
    std::vector<at::Tensor>& tensors, const c10d::AllreduceCoalescedOptions& opts) {
  const ReduceOp op = reduce_op_of(opts.reduceOp);
  return queue_->enqueue(c10d::OpType::ALLREDUCE_COALESCED,
                         "allreduce_coalesced of " + std::to_string(tensors.size()) + " tensors", tensors,
                         [this, tensors, op]() mutable { allreduce_tensors(*comm_, tensors, op); });
}

c10::intrusive_ptr<c10d::Work> ProcessGroupMeshreduce::broadcast(std::vector<at::Tensor>& tensors,
                                                                 const c10d::BroadcastOptions& opts) {
  require_one_tensor(tensors, "broadcast");
  const int root = static_cast<int>(opts.rootRank);
  return queue_->enqueue(c10d::OpType::BROADCAST, "broadcast from rank " + std::to_string(root), tensors,
                         [this, tensors, root]() mutable { broadcast_tensors(*comm_, tensors, root); });
}

c10::intrusive_ptr<c10d::Work> ProcessGroupMeshreduce::allgather(std::vector<std::vector<at::Tensor>>& outputs,
                                                                 std::vector<at::Tensor>& inputs,
                                                                 const c10d::AllgatherOptions& /*opts*/) {
  require_one_tensor(inputs, "allgather");
  if (outputs.size() != 1)
    throw InvalidArgument("allgather takes one output list per process, got " + std::to_string(outputs.size()));
  std::vector<at::Tensor> out = outputs[0];
  const at::Tensor input = inputs[0];
  return queue_->enqueue(c10d::OpType::ALLGATHER, "allgather", out,
                         [this, out, input]() mutable { allgather_tensor(*comm_, out, input); });
}

c10::intrusive_ptr<c10d::Work> ProcessGroupMeshreduce::_allgather_base(at::Tensor& output, at::Tensor& input,
                                                                       const c10d::AllgatherOptions& /*opts*/) {
  if (output.numel() != input.numel() * getSize())
    throw InvalidArgument("_allgather_base: output has " + std::to_string(output.numel()) + " elements, not " +
                          std::to_string(getSize()) + " x the input's " + std::to_string(input.numel()));
  std::vector<at::Tensor> pieces = output.reshape({getSize(), input.numel()}).unbind(0);
  return queue_->enqueue(c10d::OpType::_ALLGATHER_BASE, "_allgather_base", {output},
                         [this, pieces, input, output]() mutable {
                           allgather_tensor(*comm_, pieces, input);
                           // reshape() copied a non-contiguous output: write the pieces back.
                           if (!output.is_contiguous()) output.copy_(at::stack(pieces).reshape(output.sizes()));
                         });
}

c10::intrusive_ptr<c10d::Work> ProcessGroupMeshreduce::reduce_scatter(std::vector<at::Tensor>& outputs,
                                                                      std::vector<std::vector<at::Tensor>>& inputs,
                                                                      const c10d::ReduceScatterOptions& opts) {
  require_one_tensor(outputs, "reduce_scatter");
  if (inputs.size() != 1)
    throw InvalidArgument("reduce_scatter takes one input list per process, got " + std::to_string(inputs.size()));
  const ReduceOp op = reduce_op_of(opts.reduceOp);
  at::Tensor output = outputs[0];
  std::vector<at::Tensor> in = inputs[0];
  return queue_->enqueue(c10d::OpType::REDUCE_SCATTER, "reduce_scatter", outputs,
                         [this, output, in, op]() mutable { reduce_scatter_tensor(*comm_, output, in, op); });
}

c10::intrusive_ptr<c10d::Work> ProcessGroupMeshreduce::_reduce_scatter_base(at::Tensor& output, at::Tensor& input,
                                                                            const c10d::ReduceScatterOptions& opts) {
  if (input.numel() != output.numel() * getSize())
    throw InvalidArgument("_reduce_scatter_base: input has " + std::to_string(input.numel()) + " elements, not " +
                          std::to_string(getSize()) + " x the output's " + std::to_string(output.numel()));
  const ReduceOp op = reduce_op_of(opts.reduceOp);
  std::vector<at::Tensor> pieces = input.reshape({getSize(), output.numel()}).unbind(0);
  return queue_->enqueue(c10d::OpType::_REDUCE_SCATTER_BASE, "_reduce_scatter_base", {output},
                         [this, output, pieces, op]() mutable { reduce_scatter_tensor(*comm_, output, pieces, op); });
}

c10::intrusive_ptr<c10d::Work> ProcessGroupMeshreduce::barrier(const c10d::BarrierOptions& /*opts*/) {
  // Through the store: not hot, and it needs no shared segment.
  return queue_->enqueue(c10d::OpType::BARRIER, "barrier", {},
                         [this] { bootstrap_->barrier(options_.timeout); });
}

}  // namespace meshreduce::torch_backend
