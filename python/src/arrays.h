// NumPy arrays as the library's tensor views. Every check is made here, with the GIL held and
// before the library is called, and names the argument, the device (its position in the list)
// and the tensor, as the library's own messages do.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <vector>

#include "meshreduce/bucketing.h"
#include "meshreduce/tensor.h"

namespace meshreduce::python {

namespace py = pybind11;

// A NumPy uint16 array whose elements are bfloat16 bit patterns: NumPy has no bfloat16 type.
// The wrapper views the array (no copy), so an in-place call writes the caller's array.
struct BFloat16 {
  py::array bits;
};

enum class Access : std::uint8_t { read, write };

// K lists of N tensors. The arrays are referenced here, so they stay alive while the GIL is
// released; destroy this only with the GIL held.
struct TensorLists {
  std::vector<std::vector<py::object>> arrays;
  std::vector<std::vector<TensorView>> views;
  std::vector<std::vector<std::vector<py::ssize_t>>> shapes;

  std::vector<std::vector<ConstTensorView>> const_views() const;
};

// `lists` must be a list or tuple of K lists or tuples of arrays (numpy.ndarray or BFloat16):
// C-contiguous, aligned, native byte order, of a dtype meshreduce reduces, writeable when
// `access` is write. Otherwise raises InvalidArgument (TypeError for an object that is no array),
// naming `argument`, the device and the tensor. Counts and dtypes across devices are left to the
// library, which names both values.
TensorLists tensor_lists(py::handle lists, const char* argument, Access access);

// Tensor n has the same shape on every device, and each output the shape of its input.
void check_shapes(const TensorLists& inputs, const TensorLists* outputs, const char* input_argument);

// One device's tensors as a layout: a list of arrays, BFloat16 or TensorSpec, or of
// (count, dtype name) pairs. Counts are checked against the library's limits (limits.h).
std::vector<TensorSpec> layout_from_python(py::handle tensors);

// A list or tuple of ints (device ids, group members), each checked to fit an int.
std::vector<int> int_list(py::handle values, const std::string& argument);
// A list or tuple of such lists (groups of positions).
std::vector<std::vector<int>> int_lists(py::handle values, const std::string& argument);

}  // namespace meshreduce::python
