// Non-owning views of one device's tensor: a pointer, an element count and a dtype.
#pragma once

#include <cstdint>
#include <span>
#include <type_traits>

#include "meshreduce/types.h"

namespace meshreduce {

template <typename T>
constexpr DType dtype_of() {
  if constexpr (std::is_same_v<T, float>) return DType::f32;
  else if constexpr (std::is_same_v<T, double>) return DType::f64;
  else if constexpr (std::is_same_v<T, std::int32_t>) return DType::i32;
  else if constexpr (std::is_same_v<T, std::int64_t>) return DType::i64;
  else static_assert(!sizeof(T), "use TensorView{ptr, count, DType::f16|bf16} for 16-bit floats");
}

struct TensorView {
  void* data = nullptr;
  std::int64_t count = 0;
  DType dtype = DType::f32;

  TensorView() = default;
  TensorView(void* data_, std::int64_t count_, DType dtype_) : data(data_), count(count_), dtype(dtype_) {}
  template <typename T>
  TensorView(std::span<T> values)  // NOLINT(google-explicit-constructor): views convert freely
      : data(values.data()), count(static_cast<std::int64_t>(values.size())), dtype(dtype_of<T>()) {}

  std::int64_t bytes() const noexcept { return count * static_cast<std::int64_t>(dtype_size(dtype)); }
};

struct ConstTensorView {
  const void* data = nullptr;
  std::int64_t count = 0;
  DType dtype = DType::f32;

  ConstTensorView() = default;
  ConstTensorView(const void* data_, std::int64_t count_, DType dtype_)
      : data(data_), count(count_), dtype(dtype_) {}
  ConstTensorView(const TensorView& view)  // NOLINT(google-explicit-constructor)
      : data(view.data), count(view.count), dtype(view.dtype) {}
  template <typename T>
  ConstTensorView(std::span<T> values)  // NOLINT(google-explicit-constructor)
      : data(values.data()),
        count(static_cast<std::int64_t>(values.size())),
        dtype(dtype_of<std::remove_const_t<T>>()) {}

  std::int64_t bytes() const noexcept { return count * static_cast<std::int64_t>(dtype_size(dtype)); }
};

}  // namespace meshreduce
