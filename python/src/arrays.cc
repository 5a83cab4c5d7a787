#include "arrays.h"

#include <Python.h>

#include <bit>

#include <climits>
#include <optional>
#include <string>

#include "bindings.h"
#include "convert.h"
#include "core/half.h"
#include "meshreduce/error.h"
#include "meshreduce/limits.h"
#include "meshreduce/types.h"

namespace meshreduce::python {
namespace {

constexpr const char* kSupported =
    "meshreduce reduces float32, float64, float16, int32 and int64 arrays, and bfloat16 bit patterns "
    "(uint16) wrapped in meshreduce.BFloat16";

std::string where(const char* argument, std::size_t device, std::size_t tensor) {
  return std::string(argument) + ": tensor " + std::to_string(tensor) + " on device " + std::to_string(device);
}

std::string type_name(py::handle object) { return py::str(py::type::handle_of(object).attr("__name__")); }

std::string shape_text(const std::vector<py::ssize_t>& shape) {
  std::string text = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + (shape.size() == 1 ? ",)" : ")");
}

bool is_sequence(py::handle object) { return py::isinstance<py::list>(object) || py::isinstance<py::tuple>(object); }

// The library's dtype of a NumPy dtype, or nullopt. Read from the descriptor's kind, size and
// byte order (no descriptor is built per call): a byte-swapped array is refused rather than read
// wrongly.
std::optional<DType> library_dtype(const py::dtype& dtype) {
  constexpr char kNative = std::endian::native == std::endian::little ? '<' : '>';
  const char order = dtype.byteorder();
  if (order != '=' && order != '|' && order != kNative) return std::nullopt;
  const char kind = dtype.kind();
  const auto size = dtype.itemsize();
  if (kind == 'f' && size == 4) return DType::f32;
  if (kind == 'f' && size == 8) return DType::f64;
  if (kind == 'f' && size == 2) return DType::f16;
  if (kind == 'i' && size == 4) return DType::i32;
  if (kind == 'i' && size == 8) return DType::i64;
  return std::nullopt;
}

// Where an array was passed, put into words only when a check fails (the text costs more than
// the checks).
struct Place {
  const char* argument = nullptr;  // null: a layout's tensor
  std::size_t device = 0;
  std::size_t tensor = 0;

  std::string text() const {
    return argument ? where(argument, device, tensor) : "layout: tensor " + std::to_string(tensor);
  }
};

struct CheckedArray {
  py::array array;
  DType dtype = DType::f32;
};

CheckedArray checked_array(py::handle item, const Place& place, Access access) {
  CheckedArray checked;
  if (py::isinstance<py::array>(item)) {  // first: the common case, and the cheaper test
    checked.array = py::reinterpret_borrow<py::array>(item);
    const auto dtype = library_dtype(checked.array.dtype());
    if (!dtype)
      throw InvalidArgument(place.text() + " is " + std::string(py::str(checked.array.dtype())) + "; " + kSupported);
    checked.dtype = *dtype;
  } else if (py::isinstance<BFloat16>(item)) {
    checked.array = item.cast<const BFloat16&>().bits;
    checked.dtype = DType::bf16;
  } else {
    throw py::type_error(place.text() + " is a " + type_name(item) + ", not a numpy.ndarray or meshreduce.BFloat16");
  }
  const int flags = checked.array.flags();
  if (!(flags & py::array::c_style))
    throw InvalidArgument(place.text() + " is not C-contiguous (numpy.ascontiguousarray makes a contiguous copy)");
  if (!(flags & py::detail::npy_api::NPY_ARRAY_ALIGNED_))
    throw InvalidArgument(place.text() + " is not aligned to its element size");
  if (access == Access::write && !checked.array.writeable())
    throw InvalidArgument(place.text() + " is read-only, and the call writes it");
  return checked;
}

}  // namespace

std::vector<std::vector<ConstTensorView>> TensorLists::const_views() const {
  std::vector<std::vector<ConstTensorView>> result;
  result.reserve(views.size());
  for (const auto& device : views) result.emplace_back(device.begin(), device.end());
  return result;
}

TensorLists tensor_lists(py::handle lists, const char* argument, Access access) {
  if (!is_sequence(lists))
    throw py::type_error(std::string(argument) + " must be a list of lists of arrays (one list per device), got a " +
                         type_name(lists));
  TensorLists result;
  const py::sequence devices = py::reinterpret_borrow<py::sequence>(lists);
  for (std::size_t k = 0; k < devices.size(); ++k) {
    const py::object device = devices[k];
    if (!is_sequence(device))
      throw py::type_error(std::string(argument) + "[" + std::to_string(k) + "] (device " + std::to_string(k) +
                           ") must be a list of arrays, got a " + type_name(device));
    const py::sequence tensors = py::reinterpret_borrow<py::sequence>(device);
    if (static_cast<std::int64_t>(tensors.size()) > limits::kMaxTensors)
      throw InvalidArgument(std::string(argument) + ": device " + std::to_string(k) + " has " +
                            std::to_string(tensors.size()) + " tensors, more than the largest allowed, " +
                            std::to_string(limits::kMaxTensors));
    auto& arrays = result.arrays.emplace_back();
    auto& views = result.views.emplace_back();
    auto& shapes = result.shapes.emplace_back();
    for (std::size_t n = 0; n < tensors.size(); ++n) {
      CheckedArray checked = checked_array(tensors[n], {argument, k, n}, access);
      void* data = const_cast<void*>(checked.array.data());  // written only when access is write
      views.emplace_back(data, static_cast<std::int64_t>(checked.array.size()), checked.dtype);
      shapes.emplace_back(checked.array.shape(), checked.array.shape() + checked.array.ndim());
      arrays.push_back(std::move(checked.array));
    }
  }
  return result;
}

void check_shapes(const TensorLists& inputs, const TensorLists* outputs, const char* input_argument) {
  for (std::size_t k = 0; k < inputs.shapes.size(); ++k) {
    const std::size_t common = std::min(inputs.shapes[k].size(), inputs.shapes[0].size());
    for (std::size_t n = 0; n < common; ++n)
      if (inputs.shapes[k][n] != inputs.shapes[0][n])
        throw InvalidArgument(where(input_argument, k, n) + " has shape " + shape_text(inputs.shapes[k][n]) +
                              ", on device 0 it has shape " + shape_text(inputs.shapes[0][n]));
  }
  if (outputs == nullptr) return;
  for (std::size_t k = 0; k < std::min(inputs.shapes.size(), outputs->shapes.size()); ++k)
    for (std::size_t n = 0; n < std::min(inputs.shapes[k].size(), outputs->shapes[k].size()); ++n)
      if (outputs->shapes[k][n] != inputs.shapes[k][n])
        throw InvalidArgument(where("outputs", k, n) + " has shape " + shape_text(outputs->shapes[k][n]) +
                              ", its input has shape " + shape_text(inputs.shapes[k][n]));
}

std::vector<TensorSpec> layout_from_python(py::handle tensors) {
  if (!is_sequence(tensors))
    throw py::type_error("layout must be a list of arrays, TensorSpec or (count, dtype) pairs, got a " +
                         type_name(tensors));
  const py::sequence items = py::reinterpret_borrow<py::sequence>(tensors);
  if (static_cast<std::int64_t>(items.size()) > limits::kMaxTensors)
    throw InvalidArgument("layout has " + std::to_string(items.size()) + " tensors, more than the largest allowed, " +
                          std::to_string(limits::kMaxTensors));
  std::vector<TensorSpec> layout;
  std::int64_t total_bytes = 0;
  for (std::size_t n = 0; n < items.size(); ++n) {
    const py::object item = items[n];
    const std::string what = "layout: tensor " + std::to_string(n);
    TensorSpec spec;
    if (py::isinstance<TensorSpec>(item)) {
      spec = item.cast<TensorSpec>();
    } else if (py::isinstance<py::array>(item) || py::isinstance<BFloat16>(item)) {
      const CheckedArray checked = checked_array(item, {nullptr, 0, n}, Access::read);
      spec = {static_cast<std::int64_t>(checked.array.size()), checked.dtype};
    } else if (is_sequence(item) && py::len(item) == 2 && py::isinstance<py::str>(item[py::int_(1)])) {
      const py::object count = item[py::int_(0)];
      if (!PyIndex_Check(count.ptr()))
        throw py::type_error(what + ": the count is a " + type_name(count) + ", not an int");
      const std::optional<long long> value = index_integer(count);
      if (!value || *value < 0 || *value > limits::kMaxTensorElements)
        throw InvalidArgument(what + " has " + std::string(py::str(count)) + " elements; a count must be from 0 to " +
                              std::to_string(limits::kMaxTensorElements));
      spec = {*value, parse_dtype(item[py::int_(1)].cast<std::string>())};
    } else {
      throw py::type_error(what + " is a " + type_name(item) + ", not an array, a TensorSpec or a (count, dtype) pair");
    }
    limits::check_range(what + " elements", spec.count, 0, limits::kMaxTensorElements);
    total_bytes = limits::checked_add("layout bytes per device", total_bytes,
                                      spec.count * static_cast<std::int64_t>(dtype_size(spec.dtype)),
                                      limits::kMaxTotalBytes);
    layout.push_back(spec);
  }
  return layout;
}

std::vector<int> int_list(py::handle values, const std::string& argument) {
  if (!is_sequence(values))
    throw py::type_error(argument + " must be a list of ints, got a " + type_name(values));
  std::vector<int> result;
  const py::sequence items = py::reinterpret_borrow<py::sequence>(values);
  for (std::size_t i = 0; i < items.size(); ++i) {
    const py::object item = items[i];
    if (!PyIndex_Check(item.ptr()) || py::isinstance<py::bool_>(item))
      throw py::type_error(argument + "[" + std::to_string(i) + "] is a " + type_name(item) + ", not an int");
    const std::optional<long long> value = index_integer(item);
    if (!value || *value < INT_MIN || *value > INT_MAX)
      throw InvalidArgument(argument + "[" + std::to_string(i) + "] = " + std::string(py::str(item)) +
                            " does not fit in an int (" + std::to_string(INT_MIN) + " to " + std::to_string(INT_MAX) +
                            ")");
    result.push_back(static_cast<int>(*value));
  }
  return result;
}

std::vector<std::vector<int>> int_lists(py::handle values, const std::string& argument) {
  if (!is_sequence(values))
    throw py::type_error(argument + " must be a list of lists of ints, got a " + type_name(values));
  std::vector<std::vector<int>> result;
  const py::sequence items = py::reinterpret_borrow<py::sequence>(values);
  for (std::size_t i = 0; i < items.size(); ++i)
    result.push_back(int_list(items[i], argument + "[" + std::to_string(i) + "]"));
  return result;
}

void bind_arrays(py::module_& module) {
  py::class_<BFloat16>(module, "BFloat16",
                       "A NumPy uint16 array read as bfloat16 bit patterns (NumPy has no bfloat16 type).\n"
                       "It views the array without copying: an in-place allreduce writes the array.")
      .def(py::init([](py::handle bits) {
             if (!py::isinstance<py::array>(bits))
               throw py::type_error("BFloat16 takes a numpy.ndarray of uint16, got a " + type_name(bits));
             auto array = py::reinterpret_borrow<py::array>(bits);
             if (!array.dtype().equal(py::dtype::of<std::uint16_t>()))
               throw InvalidArgument("BFloat16 takes the bit patterns as a uint16 array, got " +
                                     std::string(py::str(array.dtype())));
             return BFloat16{array};
           }),
           py::arg("bits"))
      .def_readonly("bits", &BFloat16::bits, "The uint16 array of bit patterns (the same memory).")
      .def_property_readonly("shape", [](const BFloat16& self) { return self.bits.attr("shape"); })
      .def_property_readonly("size", [](const BFloat16& self) { return self.bits.size(); })
      .def("to_float32",
           [](const BFloat16& self) {
             const auto bits = py::array_t<std::uint16_t, py::array::c_style | py::array::forcecast>::ensure(self.bits);
             py::array_t<float> values(std::vector<py::ssize_t>(bits.shape(), bits.shape() + bits.ndim()));
             const std::uint16_t* in = bits.data();
             float* out = values.mutable_data();
             for (py::ssize_t i = 0; i < bits.size(); ++i) out[i] = detail::bf16_to_f32(in[i]);
             return values;
           },
           "The values as a new float32 array (exact: every bfloat16 is a float32).")
      .def("__repr__", [](const BFloat16& self) {
        return "meshreduce.BFloat16(shape=" + std::string(py::str(self.bits.attr("shape"))) + ")";
      });
  module.def(
      "to_bfloat16",
      [](py::handle values) {
        if (!py::isinstance<py::array>(values) ||
            !py::reinterpret_borrow<py::array>(values).dtype().equal(py::dtype::of<float>()))
          throw InvalidArgument("to_bfloat16 takes a float32 array, got " +
                                (py::isinstance<py::array>(values)
                                     ? std::string(py::str(py::reinterpret_borrow<py::array>(values).dtype()))
                                     : "a " + type_name(values)) +
                                " (values.astype(numpy.float32) converts it)");
        // A contiguous copy only when the array is not C-contiguous already.
        const auto floats = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(values);
        py::array_t<std::uint16_t> bits(std::vector<py::ssize_t>(floats.shape(), floats.shape() + floats.ndim()));
        const float* in = floats.data();
        std::uint16_t* out = bits.mutable_data();
        for (py::ssize_t i = 0; i < floats.size(); ++i) out[i] = detail::f32_to_bf16(in[i]);
        return BFloat16{bits};
      },
      py::arg("values"),
      "A new BFloat16 holding a float32 array's values rounded to nearest even (meshreduce's own rounding).");
}

}  // namespace meshreduce::python
