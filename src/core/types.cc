#include "meshreduce/types.h"

#include <array>
#include <string>

#include "meshreduce/error.h"

namespace meshreduce {

std::size_t dtype_size(DType dtype) noexcept {
  switch (dtype) {
    case DType::f32: case DType::i32: return 4;
    case DType::f64: case DType::i64: return 8;
    case DType::f16: case DType::bf16: return 2;
  }
  return 0;
}

std::string_view dtype_name(DType dtype) noexcept {
  switch (dtype) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::f16: return "f16";
    case DType::bf16: return "bf16";
    case DType::i32: return "i32";
    case DType::i64: return "i64";
  }
  return "?";
}

std::string_view reduce_op_name(ReduceOp op) noexcept {
  switch (op) {
    case ReduceOp::sum: return "sum";
    case ReduceOp::average: return "average";
    case ReduceOp::min: return "min";
    case ReduceOp::max: return "max";
  }
  return "?";
}

bool is_floating(DType dtype) noexcept { return dtype != DType::i32 && dtype != DType::i64; }

DType parse_dtype(std::string_view text) {
  struct Alias { std::string_view text; DType dtype; };
  static constexpr std::array<Alias, 14> kAliases{{
      {"f32", DType::f32}, {"float32", DType::f32}, {"float", DType::f32},
      {"f64", DType::f64}, {"float64", DType::f64}, {"double", DType::f64},
      {"f16", DType::f16}, {"float16", DType::f16}, {"half", DType::f16},
      {"bf16", DType::bf16}, {"bfloat16", DType::bf16},
      {"i32", DType::i32}, {"int32", DType::i32}, {"i64", DType::i64},
  }};
  for (const auto& alias : kAliases)
    if (alias.text == text) return alias.dtype;
  if (text == "int64") return DType::i64;
  throw InvalidArgument("unknown dtype '" + std::string(text) + "' (known: f32 f64 f16 bf16 i32 i64)");
}

ReduceOp parse_reduce_op(std::string_view text) {
  if (text == "sum") return ReduceOp::sum;
  if (text == "average" || text == "avg" || text == "mean") return ReduceOp::average;
  if (text == "min") return ReduceOp::min;
  if (text == "max") return ReduceOp::max;
  throw InvalidArgument("unknown reduce op '" + std::string(text) + "' (known: sum average min max)");
}

}  // namespace meshreduce
