// Element types and reduction operations.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace meshreduce {

// f16 and bf16 are stored as 16-bit patterns and reduced with f32 accumulation inside a
// step; the result is rounded (to nearest even) once, when the step stores it.
enum class DType : std::uint8_t { f32, f64, f16, bf16, i32, i64 };

// average = sum, then multiply by the reciprocal 1/K (floating types) or divide by K with
// truncation toward zero (integer types). min and max are exact in any order.
enum class ReduceOp : std::uint8_t { sum, average, min, max };

std::size_t dtype_size(DType dtype) noexcept;
std::string_view dtype_name(DType dtype) noexcept;
std::string_view reduce_op_name(ReduceOp op) noexcept;
bool is_floating(DType dtype) noexcept;

// Parse "f32", "float32", "float", ...; throws InvalidArgument naming the text.
DType parse_dtype(std::string_view text);
ReduceOp parse_reduce_op(std::string_view text);

}  // namespace meshreduce
