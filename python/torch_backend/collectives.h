// torch.distributed's collectives on meshreduce's process communicator, run by the process
// group's worker thread. Every one is an allreduce on the shared-memory machinery:
//
// - allreduce: the tensors of one call (a coalesced list, even of different dtypes and sizes)
//   are one layout, so one schedule reduces them all; in place.
// - broadcast, allgather: exact copies of bits, done as an integer sum in which every rank but
//   the owner of a piece contributes zeros (owner's bits + 0 + ... + 0 are the owner's bits,
//   whatever the dtype: the bytes are reduced as 64-, 32- or, padded, 32-bit integers). This
//   moves K times the bytes of a dedicated gather, which is fine for what DDP uses them for
//   (the model's initial state, once, and shape checks), and keeps one mechanism, one set of
//   deadlines and one error path.
// - reduce_scatter: an out-of-place allreduce of the K input pieces whose output for this rank
//   is the caller's output tensor and whose other outputs are scratch.
//
// Tensors must be on the CPU; a non-contiguous tensor is reduced through a contiguous copy.
#pragma once

#include <vector>

#include <ATen/ATen.h>

#include "meshreduce/process_communicator.h"

namespace meshreduce::torch_backend {

// meshreduce's type of a tensor; InvalidArgument naming the torch dtype when it has none.
DType dtype_of_tensor(const at::Tensor& tensor);

void allreduce_tensors(ProcessCommunicator& comm, std::vector<at::Tensor>& tensors, ReduceOp op);
void broadcast_tensors(ProcessCommunicator& comm, std::vector<at::Tensor>& tensors, int root);
// outputs[k] receives rank k's input; every output has the input's size and dtype.
void allgather_tensor(ProcessCommunicator& comm, std::vector<at::Tensor>& outputs, const at::Tensor& input);
// output = the reduction over ranks of each rank's inputs[rank()].
void reduce_scatter_tensor(ProcessCommunicator& comm, at::Tensor& output, const std::vector<at::Tensor>& inputs,
                           ReduceOp op);

}  // namespace meshreduce::torch_backend
