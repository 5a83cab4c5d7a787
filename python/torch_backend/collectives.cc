#include "collectives.h"

#include <cstdint>
#include <cstring>
#include <string>

#include "meshreduce/error.h"

namespace meshreduce::torch_backend {
namespace {

std::string describe(const at::Tensor& tensor) {
  return std::string(c10::toString(tensor.scalar_type())) + " x " + std::to_string(tensor.numel());
}

void require_cpu(const at::Tensor& tensor, const std::string& what) {
  if (!tensor.defined()) throw InvalidArgument(what + " is an undefined tensor");
  if (!tensor.device().is_cpu())
    throw InvalidArgument(what + " is on " + tensor.device().str() + "; the meshreduce backend reduces CPU tensors");
}

// A contiguous tensor holding `tensor`'s values, written back by finish() when it is a copy.
class Contiguous {
 public:
  explicit Contiguous(at::Tensor tensor) : original_(std::move(tensor)), data_(original_.contiguous()) {}
  at::Tensor& data() { return data_; }
  void finish() {
    if (!data_.is_same(original_)) original_.copy_(data_);
  }

 private:
  at::Tensor original_;
  at::Tensor data_;
};

// The bytes of a contiguous tensor as integers whose sum over ranks keeps bits exactly; the
// widest integer type that tiles the bytes at an aligned address, else a padded i32 copy.
class BitsView {
 public:
  explicit BitsView(at::Tensor& tensor) : tensor_(tensor) {
    const auto bytes = static_cast<std::int64_t>(tensor.nbytes());
    const auto address = reinterpret_cast<std::uintptr_t>(tensor.data_ptr());
    if (bytes % 8 == 0 && address % 8 == 0) {
      view_ = TensorView(tensor.data_ptr(), bytes / 8, DType::i64);
    } else if (bytes % 4 == 0 && address % 4 == 0) {
      view_ = TensorView(tensor.data_ptr(), bytes / 4, DType::i32);
    } else {
      padded_.assign(static_cast<std::size_t>((bytes + 3) / 4), 0);
      std::memcpy(padded_.data(), tensor.data_ptr(), static_cast<std::size_t>(bytes));
      view_ = TensorView(padded_.data(), static_cast<std::int64_t>(padded_.size()), DType::i32);
    }
  }
  TensorView view() const { return view_; }
  void zero() { std::memset(view_.data, 0, static_cast<std::size_t>(view_.bytes())); }
  void finish() {
    if (!padded_.empty()) std::memcpy(tensor_.data_ptr(), padded_.data(), tensor_.nbytes());
  }

 private:
  at::Tensor& tensor_;
  TensorView view_;
  std::vector<std::int32_t> padded_;
};

// One process, one local device: the communicator's grads[0].
void run_in_place(ProcessCommunicator& comm, std::vector<TensorView> views, ReduceOp op) {
  if (views.empty()) return;
  const std::vector<std::vector<TensorView>> grads{std::move(views)};
  comm.allreduce(grads, op);
}

}  // namespace

DType dtype_of_tensor(const at::Tensor& tensor) {
  switch (tensor.scalar_type()) {
    case at::kFloat: return DType::f32;
    case at::kDouble: return DType::f64;
    case at::kHalf: return DType::f16;
    case at::kBFloat16: return DType::bf16;
    case at::kInt: return DType::i32;
    case at::kLong: return DType::i64;
    default:
      throw InvalidArgument("tensor of dtype " + std::string(c10::toString(tensor.scalar_type())) +
                            ": the meshreduce backend reduces float32, float64, float16, bfloat16, int32 and int64");
  }
}

void allreduce_tensors(ProcessCommunicator& comm, std::vector<at::Tensor>& tensors, ReduceOp op) {
  std::vector<Contiguous> contiguous;
  contiguous.reserve(tensors.size());
  std::vector<TensorView> views;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    require_cpu(tensors[i], "allreduce tensor " + std::to_string(i));
    const DType dtype = dtype_of_tensor(tensors[i]);
    contiguous.emplace_back(tensors[i]);
    at::Tensor& data = contiguous.back().data();
    views.emplace_back(data.data_ptr(), data.numel(), dtype);
  }
  run_in_place(comm, std::move(views), op);
  for (Contiguous& c : contiguous) c.finish();
}

void broadcast_tensors(ProcessCommunicator& comm, std::vector<at::Tensor>& tensors, int root) {
  if (root < 0 || root >= comm.processes())
    throw InvalidArgument("broadcast root " + std::to_string(root) + " is not a rank of a group of " +
                          std::to_string(comm.processes()));
  std::vector<Contiguous> contiguous;
  contiguous.reserve(tensors.size());
  std::vector<BitsView> bits;
  bits.reserve(tensors.size());
  std::vector<TensorView> views;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    require_cpu(tensors[i], "broadcast tensor " + std::to_string(i));
    contiguous.emplace_back(tensors[i]);
    bits.emplace_back(contiguous.back().data());
    if (comm.rank() != root) bits.back().zero();
    views.push_back(bits.back().view());
  }
  run_in_place(comm, std::move(views), ReduceOp::sum);
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    bits[i].finish();
    contiguous[i].finish();
  }
}

void allgather_tensor(ProcessCommunicator& comm, std::vector<at::Tensor>& outputs, const at::Tensor& input) {
  require_cpu(input, "allgather input");
  if (static_cast<int>(outputs.size()) != comm.processes())
    throw InvalidArgument("allgather: " + std::to_string(outputs.size()) + " output tensors for a group of " +
                          std::to_string(comm.processes()) + " ranks");
  std::vector<Contiguous> contiguous;
  contiguous.reserve(outputs.size());
  std::vector<BitsView> bits;
  bits.reserve(outputs.size());
  std::vector<TensorView> views;
  for (std::size_t k = 0; k < outputs.size(); ++k) {
    require_cpu(outputs[k], "allgather output " + std::to_string(k));
    if (outputs[k].scalar_type() != input.scalar_type() || outputs[k].numel() != input.numel())
      throw InvalidArgument("allgather output " + std::to_string(k) + " is " + describe(outputs[k]) +
                            ", the input is " + describe(input));
    contiguous.emplace_back(outputs[k]);
    at::Tensor& data = contiguous.back().data();
    if (static_cast<int>(k) == comm.rank()) data.copy_(input.reshape(data.sizes()));
    bits.emplace_back(data);
    if (static_cast<int>(k) != comm.rank()) bits.back().zero();
    views.push_back(bits.back().view());
  }
  run_in_place(comm, std::move(views), ReduceOp::sum);
  for (std::size_t k = 0; k < outputs.size(); ++k) {
    bits[k].finish();
    contiguous[k].finish();
  }
}

void reduce_scatter_tensor(ProcessCommunicator& comm, at::Tensor& output, const std::vector<at::Tensor>& inputs,
                           ReduceOp op) {
  require_cpu(output, "reduce_scatter output");
  if (static_cast<int>(inputs.size()) != comm.processes())
    throw InvalidArgument("reduce_scatter: " + std::to_string(inputs.size()) + " input tensors for a group of " +
                          std::to_string(comm.processes()) + " ranks");
  const DType dtype = dtype_of_tensor(output);
  const auto me = static_cast<std::size_t>(comm.rank());
  Contiguous mine(output);
  std::vector<at::Tensor> held;  // keeps contiguous inputs and scratch outputs alive
  std::vector<ConstTensorView> in;
  std::vector<TensorView> out;
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    require_cpu(inputs[k], "reduce_scatter input " + std::to_string(k));
    if (inputs[k].scalar_type() != output.scalar_type() || inputs[k].numel() != output.numel())
      throw InvalidArgument("reduce_scatter input " + std::to_string(k) + " is " + describe(inputs[k]) +
                            ", the output is " + describe(output));
    held.push_back(inputs[k].contiguous());
    in.emplace_back(held.back().data_ptr(), held.back().numel(), dtype);
    if (k == me) {
      out.emplace_back(mine.data().data_ptr(), mine.data().numel(), dtype);
    } else {
      held.push_back(at::empty_like(held.back()));
      out.emplace_back(held.back().data_ptr(), held.back().numel(), dtype);
    }
  }
  const std::vector<std::vector<ConstTensorView>> inputs_by_device{std::move(in)};
  const std::vector<std::vector<TensorView>> outputs_by_device{std::move(out)};
  if (!inputs_by_device[0].empty()) comm.allreduce(inputs_by_device, outputs_by_device, op);
  mine.finish();
}

}  // namespace meshreduce::torch_backend
