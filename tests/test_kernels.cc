// The SIMD kernels against a plain scalar reference written here, bit for bit, on every SIMD
// target this CPU runs (each test runs once per target), for every dtype x op x 1..9 sources x
// counts around the vector and tile sizes x aliasing x several destinations x streamed stores.
// Only the payload of a NaN produced by arithmetic may differ (x86 picks the NaN operand by
// operand order, which the compiler may swap): there both results must be NaN.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "core/half.h"
#include "exec/threads/kernels.h"

namespace meshreduce::detail {
namespace {

// ---------------------------------------------------------------- the reference

struct F16 { std::uint16_t bits; };
struct BF16 { std::uint16_t bits; };

template <typename T> struct Lane {  // storage -> accumulation and back
  using Storage = T;
  using Acc = T;
  static Acc load(Storage v) { return v; }
  static Storage store(Acc v) { return v; }
};
template <> struct Lane<F16> {
  using Storage = std::uint16_t;
  using Acc = float;
  static Acc load(Storage v) { return f16_to_f32(v); }
  static Storage store(Acc v) { return f32_to_f16(v); }
};
template <> struct Lane<BF16> {
  using Storage = std::uint16_t;
  using Acc = float;
  static Acc load(Storage v) { return bf16_to_f32(v); }
  static Storage store(Acc v) { return f32_to_bf16(v); }
};

template <typename A>
A reference_combine(ReduceOp op, A a, A b) {
  switch (op) {
    case ReduceOp::min: return b < a ? b : a;
    case ReduceOp::max: return a < b ? b : a;
    case ReduceOp::sum: case ReduceOp::average: break;
  }
  if constexpr (std::is_integral_v<A>) {
    using U = std::make_unsigned_t<A>;
    return static_cast<A>(static_cast<U>(a) + static_cast<U>(b));
  } else {
    return a + b;
  }
}

template <typename A>
A reference_scale(A value, int k) {
  if constexpr (std::is_integral_v<A>) return static_cast<A>(value / static_cast<A>(k));
  else return value * static_cast<A>(1.0 / k);
}

template <typename T>
std::vector<typename Lane<T>::Storage> reference(ReduceOp op, bool scale, int k,
                                                 const std::vector<std::vector<typename Lane<T>::Storage>>& srcs,
                                                 std::size_t count) {
  std::vector<typename Lane<T>::Storage> out(count);
  for (std::size_t i = 0; i < count; ++i) {
    auto acc = Lane<T>::load(srcs[0][i]);
    for (std::size_t s = 1; s < srcs.size(); ++s) acc = reference_combine(op, acc, Lane<T>::load(srcs[s][i]));
    if (scale) acc = reference_scale(acc, k);
    out[i] = Lane<T>::store(acc);
  }
  return out;
}

// ---------------------------------------------------------------- inputs

template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }
template <> constexpr DType dtype_of<F16>() { return DType::f16; }
template <> constexpr DType dtype_of<BF16>() { return DType::bf16; }
template <> constexpr DType dtype_of<std::int32_t>() { return DType::i32; }
template <> constexpr DType dtype_of<std::int64_t>() { return DType::i64; }

template <typename F, typename Bits>
F float_from(std::mt19937_64& rng) {
  constexpr int mantissa_bits = std::numeric_limits<F>::digits - 1;
  constexpr int exponent_max = std::numeric_limits<F>::max_exponent;
  const Bits sign = static_cast<Bits>(rng() & 1) << (sizeof(Bits) * 8 - 1);
  const Bits mantissa = static_cast<Bits>(rng()) & ((Bits{1} << mantissa_bits) - 1);
  const int pick = static_cast<int>(rng() % 100);
  F value{};
  if (pick < 55) {  // moderate magnitudes, so that sums round and cancel
    const auto exponent = static_cast<Bits>(static_cast<int>(rng() % 41) - 20 + exponent_max - 1);
    value = std::bit_cast<F>(static_cast<Bits>(sign | (exponent << mantissa_bits) | mantissa));
  } else if (pick < 70) {  // small integers: exact sums
    value = static_cast<F>(static_cast<int>(rng() % 2001) - 1000);
  } else if (pick < 80) {  // large magnitudes: sums may overflow to inf
    const auto exponent = static_cast<Bits>(2 * exponent_max - 2 - static_cast<int>(rng() % 8));
    value = std::bit_cast<F>(static_cast<Bits>(sign | (exponent << mantissa_bits) | mantissa));
  } else if (pick < 88) {  // subnormal
    value = std::bit_cast<F>(static_cast<Bits>(sign | std::max<Bits>(mantissa, 1)));
  } else if (pick < 94) {
    value = std::bit_cast<F>(sign);  // +-0
  } else if (pick < 97) {
    value = std::bit_cast<F>(static_cast<Bits>(sign | std::bit_cast<Bits>(std::numeric_limits<F>::infinity())));
  } else {  // quiet NaN with a payload (compilers may or may not quiet a signalling NaN they copy,
            // so the reference's bits for one would depend on the compiler)
    const Bits quiet = Bits{1} << (mantissa_bits - 1);
    value = std::bit_cast<F>(static_cast<Bits>(sign | std::bit_cast<Bits>(std::numeric_limits<F>::infinity()) |
                                               quiet | mantissa));
  }
  return value;
}

std::uint16_t f16_from(std::mt19937_64& rng) {
  const auto sign = static_cast<std::uint16_t>((rng() & 1) << 15);
  const auto mantissa = static_cast<std::uint16_t>(rng() & 0x3ff);
  const int pick = static_cast<int>(rng() % 100);
  if (pick < 45) return static_cast<std::uint16_t>(sign | ((1 + rng() % 30) << 10) | mantissa);  // normal
  if (pick < 60) return static_cast<std::uint16_t>(sign | mantissa);                              // subnormal
  if (pick < 72) return static_cast<std::uint16_t>(sign | (0x7bffu - rng() % 32));              // near 65504
  if (pick < 84) return f32_to_f16(static_cast<float>(static_cast<int>(rng() % 201) - 100));   // small integers
  if (pick < 90) return sign;                                                                    // +-0
  if (pick < 95) return static_cast<std::uint16_t>(sign | 0x7c00u);                              // +-inf
  return static_cast<std::uint16_t>(sign | 0x7c00u | std::max<std::uint16_t>(mantissa, 1));      // NaN
}

std::uint16_t bf16_from(std::mt19937_64& rng) {
  const auto sign = static_cast<std::uint16_t>((rng() & 1) << 15);
  const auto mantissa = static_cast<std::uint16_t>(rng() & 0x7f);
  const int pick = static_cast<int>(rng() % 100);
  if (pick < 50) return static_cast<std::uint16_t>(sign | ((107 + rng() % 40) << 7) | mantissa);  // moderate
  if (pick < 62) return static_cast<std::uint16_t>(sign | ((1 + rng() % 254) << 7) | mantissa);   // any normal
  if (pick < 70) return static_cast<std::uint16_t>(sign | (0x7f7fu - rng() % 64));               // near max
  if (pick < 78) return static_cast<std::uint16_t>(sign | mantissa);                             // subnormal
  if (pick < 88) return f32_to_bf16(static_cast<float>(static_cast<int>(rng() % 201) - 100));   // small integers
  if (pick < 92) return sign;                                                                    // +-0
  if (pick < 96) return static_cast<std::uint16_t>(sign | 0x7f80u);                              // +-inf
  return static_cast<std::uint16_t>(sign | 0x7f80u | std::max<std::uint16_t>(mantissa, 1));      // NaN
}

template <typename I>
I int_from(std::mt19937_64& rng) {
  const int pick = static_cast<int>(rng() % 10);
  if (pick < 5) return static_cast<I>(rng());  // any value: sums wrap around
  if (pick < 8) return static_cast<I>(static_cast<int>(rng() % 201) - 100);
  const I extremes[] = {std::numeric_limits<I>::min(), std::numeric_limits<I>::max(), I{-1}, I{0}};
  return extremes[rng() % 4];
}

template <typename T>
typename Lane<T>::Storage random_value(std::mt19937_64& rng) {
  if constexpr (std::is_same_v<T, float>) return float_from<float, std::uint32_t>(rng);
  else if constexpr (std::is_same_v<T, double>) return float_from<double, std::uint64_t>(rng);
  else if constexpr (std::is_same_v<T, F16>) return f16_from(rng);
  else if constexpr (std::is_same_v<T, BF16>) return bf16_from(rng);
  else return int_from<T>(rng);
}

template <typename T>
bool is_nan(typename Lane<T>::Storage v) {
  if constexpr (std::is_same_v<T, F16>) return (v & 0x7fff) > 0x7c00;
  else if constexpr (std::is_same_v<T, BF16>) return (v & 0x7fff) > 0x7f80;
  else if constexpr (std::is_floating_point_v<T>) return v != v;
  else return false;
}

// ---------------------------------------------------------------- buffers

// Memory reused from case to case: allocating and freeing ~0.5 MiB per case makes glibc give it
// back to the kernel and fault it in again, which would dominate the run time.
unsigned char* slot_memory(std::size_t slot, std::size_t bytes) {
  static std::vector<std::vector<unsigned char>> slots;
  if (slots.size() <= slot) slots.resize(slot + 1);
  if (slots[slot].size() < bytes) slots[slot].resize(bytes);
  return slots[slot].data();
}

// A buffer of `count` elements in memory slot `slot`, `shift` (< 16) elements past a 64-byte
// boundary, with guard bytes on both sides that must stay untouched.
template <typename S>
class Buffer {
 public:
  static constexpr std::size_t kGuard = 40;  // elements
  static constexpr unsigned char kFill = 0xa5;

  Buffer(std::size_t slot, std::size_t count, std::size_t shift) : count_(count) {
    const std::size_t bytes = (count + 2 * kGuard + 16) * sizeof(S) + 64;
    auto base = reinterpret_cast<std::uintptr_t>(slot_memory(slot, bytes));
    base = (base + 63) / 64 * 64;
    data_ = reinterpret_cast<S*>(base) + kGuard + shift;
    std::memset(data_ - kGuard, kFill, (count + 2 * kGuard) * sizeof(S));
  }
  S* data() { return data_; }
  bool guards_intact() const {
    const auto* before = reinterpret_cast<const unsigned char*>(data_ - kGuard);
    const auto* after = reinterpret_cast<const unsigned char*>(data_ + count_);
    for (std::size_t i = 0; i < kGuard * sizeof(S); ++i)
      if (before[i] != kFill || after[i] != kFill) return false;
    return true;
  }

 private:
  std::size_t count_;
  S* data_ = nullptr;
};

// ---------------------------------------------------------------- the checks

enum class Alias { none, first_source, last_source };

struct Case {
  ReduceOp op = ReduceOp::sum;
  bool average = false;
  StepKind kind = StepKind::reduce;
  int sources = 1;
  std::size_t count = 0;
  Alias alias = Alias::none;
  int destinations = 1;
  bool stream = false;
  int k = 1;             // K for the average; the number of sources unless set
  std::size_t shift = 0;  // elements past 64-byte alignment of every buffer (< 16)
  bool shifted = false;   // instead, sources and destinations at different offsets
};

std::string describe(DType dtype, const Case& c) {
  return std::string(dtype_name(dtype)) + " " + std::string(step_kind_name(c.kind)) + " op=" +
         std::string(reduce_op_name(c.op)) + " average=" + std::to_string(c.average) +
         " sources=" + std::to_string(c.sources) + " count=" + std::to_string(c.count) +
         " alias=" + std::to_string(static_cast<int>(c.alias)) + " dsts=" + std::to_string(c.destinations) +
         " stream=" + std::to_string(c.stream) + " k=" + std::to_string(c.k) + " shift=" + std::to_string(c.shift) +
         " shifted=" + std::to_string(c.shifted) + " target=" + std::string(kernel_target());
}

template <typename S>
std::string hex(S value) {
  std::uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(S));
  char text[24];
  std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(bits));
  return text;
}

// Runs one case on the given inputs; returns the number of mismatching elements (reported once).
template <typename T>
int check_case(const Case& c, const std::vector<std::vector<typename Lane<T>::Storage>>& inputs) {
  using S = typename Lane<T>::Storage;
  const std::size_t n = c.count;
  const bool scale = c.kind == StepKind::scale || (c.kind == StepKind::reduce && c.average);
  std::vector<std::vector<S>> used(inputs.begin(), inputs.begin() + (c.kind == StepKind::reduce ? c.sources : 1));
  for (auto& v : used) v.resize(n);
  std::vector<S> expected;
  if (c.kind == StepKind::copy) expected = used[0];
  else expected = reference<T>(c.op, scale, c.k, used, n);

  std::vector<Buffer<S>> srcs;
  srcs.reserve(used.size());
  for (std::size_t s = 0; s < used.size(); ++s) {
    srcs.emplace_back(s, n, c.shifted ? s % 3 : c.shift);
    std::copy(used[s].begin(), used[s].end(), srcs.back().data());
  }
  std::vector<Buffer<S>> own;
  own.reserve(static_cast<std::size_t>(c.destinations));
  std::vector<S*> dst_ptrs;
  for (int d = 0; d < c.destinations; ++d) {
    if (d == 0 && c.alias == Alias::first_source) {
      dst_ptrs.push_back(srcs.front().data());
    } else if (d == 0 && c.alias == Alias::last_source) {
      dst_ptrs.push_back(srcs.back().data());
    } else {
      own.emplace_back(used.size() + static_cast<std::size_t>(d), n,
                       c.shifted ? 1 + static_cast<std::size_t>(d) % 2 : c.shift);
      dst_ptrs.push_back(own.back().data());
    }
  }
  std::vector<const void*> src_args;
  for (auto& b : srcs) src_args.push_back(b.data());
  std::vector<void*> dst_args(dst_ptrs.begin(), dst_ptrs.end());
  KernelArgs args;
  args.kind = c.kind;
  args.dtype = dtype_of<T>();
  args.op = c.op;
  args.average = c.average;
  args.num_devices = c.k;
  args.count = static_cast<std::int64_t>(n);
  args.srcs = src_args;
  args.dsts = dst_args;
  args.stream = c.stream;
  // run_kernel stores over its own sources with ordinary stores only (streams_stores); the
  // streaming probe runs that case streamed too, so both must give the same bits.
  if (c.stream && c.alias != Alias::none) run_kernel_as_given(args);
  else run_kernel(args);

  const bool any_nan = scale || c.op == ReduceOp::sum || c.op == ReduceOp::average;
  int wrong = 0;
  for (std::size_t d = 0; d < dst_ptrs.size(); ++d) {
    for (std::size_t i = 0; i < n; ++i) {
      const S got = dst_ptrs[d][i];
      if (std::memcmp(&got, &expected[i], sizeof(S)) == 0) continue;
      if (c.kind != StepKind::copy && any_nan && is_nan<T>(got) && is_nan<T>(expected[i])) continue;
      if (wrong++ == 0)
        ADD_FAILURE() << describe(dtype_of<T>(), c) << ": destination " << d << " element " << i << " got "
                      << hex(got) << " want " << hex(expected[i]) << " (first source " << hex(used[0][i]) << ")";
    }
  }
  for (auto& b : own)
    if (!b.guards_intact()) {
      ADD_FAILURE() << describe(dtype_of<T>(), c) << ": wrote outside a destination";
      ++wrong;
    }
  for (auto& b : srcs)
    if (!b.guards_intact()) {
      ADD_FAILURE() << describe(dtype_of<T>(), c) << ": wrote outside a source";
      ++wrong;
    }
  return wrong;
}

constexpr std::size_t kCounts[] = {0, 1, 3, 15, 16, 17, 63, 1000, 4099};
constexpr std::size_t kMaxCount = 4099;
constexpr int kMaxSources = 9;

template <typename T>
std::vector<std::vector<typename Lane<T>::Storage>> random_inputs(std::uint64_t seed, int sources, std::size_t count) {
  std::mt19937_64 rng(seed);
  std::vector<std::vector<typename Lane<T>::Storage>> inputs(static_cast<std::size_t>(sources));
  for (auto& v : inputs) {
    v.resize(count);
    for (auto& x : v) x = random_value<T>(rng);
  }
  return inputs;
}

// Every op (and average on/off) x 1..9 sources x every count x aliasing x 1 or 3 destinations,
// streamed or not; at most a few failures reported per dtype.
template <typename T>
void sweep() {
  const auto inputs = random_inputs<T>(0x5eed0000u + static_cast<unsigned>(dtype_of<T>()), kMaxSources, kMaxCount);
  struct OpCase { ReduceOp op; bool average; StepKind kind; };
  const OpCase ops[] = {{ReduceOp::sum, false, StepKind::reduce}, {ReduceOp::average, true, StepKind::reduce},
                        {ReduceOp::min, false, StepKind::reduce}, {ReduceOp::max, false, StepKind::reduce},
                        {ReduceOp::min, true, StepKind::reduce},  {ReduceOp::sum, false, StepKind::scale}};
  int failures = 0;
  for (const OpCase& o : ops)
    for (int sources = 1; sources <= kMaxSources; ++sources)
      for (std::size_t count : kCounts)
        for (Alias alias : {Alias::none, Alias::first_source, Alias::last_source})
          for (int destinations : {1, 3})
            for (bool stream : {false, true}) {
              if (stream && count < 63) continue;
              if (o.kind == StepKind::scale && (sources > 1 || alias == Alias::last_source)) continue;
              Case c;
              c.kind = o.kind;
              c.op = o.op;
              c.average = o.average;
              c.sources = sources;
              c.count = count;
              c.alias = alias;
              c.destinations = destinations;
              c.stream = stream;
              c.k = o.kind == StepKind::scale ? 7 : sources;
              c.shift = (static_cast<std::size_t>(sources) + count) % 16;
              c.shifted = stream && destinations == 3 && sources % 2 == 0;
              if (check_case<T>(c, inputs) != 0 && ++failures >= 5) return;
            }
}

class Kernels : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { ASSERT_TRUE(force_kernel_target(GetParam())) << GetParam(); }
  void TearDown() override { force_kernel_target(""); }
};

std::vector<std::string> target_names() {
  std::vector<std::string> names;
  for (std::string_view name : kernel_targets()) names.emplace_back(name);
  return names;
}

TEST(KernelTargets, ListsTargetsAndForcesThem) {
  const auto names = kernel_targets();
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(kernel_target(), names.front());
  EXPECT_TRUE(names.back() == "SCALAR" || names.back() == "EMU128") << names.back();
  for (std::string_view name : names) {
    ASSERT_TRUE(force_kernel_target(name));
    EXPECT_EQ(kernel_target(), name);
  }
  EXPECT_FALSE(force_kernel_target("NO_SUCH_TARGET"));
  EXPECT_TRUE(force_kernel_target(""));
  EXPECT_EQ(kernel_target(), names.front());
}

TEST_P(Kernels, SweepF32) { sweep<float>(); }
TEST_P(Kernels, SweepF64) { sweep<double>(); }
TEST_P(Kernels, SweepF16) { sweep<F16>(); }
TEST_P(Kernels, SweepBF16) { sweep<BF16>(); }
TEST_P(Kernels, SweepI32) { sweep<std::int32_t>(); }
TEST_P(Kernels, SweepI64) { sweep<std::int64_t>(); }

// Many random pairs and triples, summed and averaged: every rounding path of the f32 -> f16/bf16
// conversion (ties, subnormal results, overflow to inf, NaN) against core/half.h.
template <typename T>
void random_rounding() {
  constexpr std::size_t kCount = 1 << 16;
  for (int sources : {2, 3}) {
    const auto inputs = random_inputs<T>(0xabcdu + static_cast<unsigned>(sources), sources, kCount);
    for (bool average : {false, true}) {
      Case c;
      c.average = average;
      c.op = average ? ReduceOp::average : ReduceOp::sum;
      c.sources = sources;
      c.count = kCount;
      c.k = average ? 3 : sources;
      EXPECT_EQ(check_case<T>(c, inputs), 0);
    }
  }
}

TEST_P(Kernels, RoundingF16) { random_rounding<F16>(); }
TEST_P(Kernels, RoundingBF16) { random_rounding<BF16>(); }

// Hand-picked pairs whose sums land on ties, the f16 overflow threshold and subnormals.
TEST_P(Kernels, F16EdgeCases) {
  const std::vector<std::pair<std::uint16_t, std::uint16_t>> pairs = {
      {0x3c00, 0x1000},  // 1 + 2^-11: a tie, rounds to even (1)
      {0x3c01, 0x1000},  // (1 + 2^-10) + 2^-11: a tie, rounds up to even
      {0xbc01, 0x9000},  // the same, negative
      {0x7bff, 0x4c00},  // 65504 + 16 = 65520: a tie between 65504 and inf: inf
      {0x7bff, 0x4800},  // 65504 + 8: rounds down to 65504
      {0x7bff, 0x7bff},  // overflow: inf
      {0xfbff, 0xfbff},  // overflow: -inf
      {0x0001, 0x0001},  // subnormal + subnormal
      {0x03ff, 0x0001},  // largest subnormal + smallest: smallest normal
      {0x0001, 0x8001},  // +0
      {0x8001, 0x8000},  // -subnormal
      {0x7c00, 0xfc00},  // inf - inf: NaN
      {0x7c00, 0x3c00},  // inf
      {0x7e01, 0x3c00},  // quiet NaN with a payload
      {0x7c01, 0x3c00},  // signalling NaN
      {0x0000, 0x8000},  // 0 + -0 = 0
      {0x8000, 0x8000},  // -0
  };
  std::vector<std::vector<std::uint16_t>> inputs(2);
  for (auto [a, b] : pairs) {
    inputs[0].push_back(a);
    inputs[1].push_back(b);
  }
  for (ReduceOp op : {ReduceOp::sum, ReduceOp::average, ReduceOp::min, ReduceOp::max}) {
    Case c;
    c.op = op;
    c.average = op == ReduceOp::average;
    c.sources = 2;
    c.k = 2;
    c.count = pairs.size();
    EXPECT_EQ(check_case<F16>(c, inputs), 0);
  }
  // One source with average over K = 1000: results deep in the subnormal range and below.
  std::vector<std::vector<std::uint16_t>> one(1);
  for (std::uint32_t bits = 0; bits < 0x10000; ++bits) one[0].push_back(static_cast<std::uint16_t>(bits));
  for (int k : {1, 3, 1000, 4096}) {
    Case c;
    c.kind = StepKind::scale;
    c.k = k;
    c.count = one[0].size();
    EXPECT_EQ(check_case<F16>(c, one), 0) << "k=" << k;
    c.kind = StepKind::reduce;  // one source, no scaling: the f16 -> f32 -> f16 round trip
    EXPECT_EQ(check_case<F16>(c, one), 0) << "k=" << k;
  }
}

TEST_P(Kernels, BF16EdgeCases) {
  std::vector<std::vector<std::uint16_t>> one(1);
  for (std::uint32_t bits = 0; bits < 0x10000; ++bits) one[0].push_back(static_cast<std::uint16_t>(bits));
  for (int k : {1, 3, 7, 1000}) {
    Case c;
    c.kind = StepKind::scale;
    c.k = k;
    c.count = one[0].size();
    EXPECT_EQ(check_case<BF16>(c, one), 0) << "k=" << k;
    c.kind = StepKind::reduce;
    EXPECT_EQ(check_case<BF16>(c, one), 0) << "k=" << k;
  }
  // 1 + 2^-8 and (1 + 2^-7) + 2^-8: ties, to even.
  std::vector<std::vector<std::uint16_t>> pairs{{0x3f80, 0x3f81, 0x7f7f, 0xff7f}, {0x3b80, 0x3b80, 0x7f7f, 0x7380}};
  Case c;
  c.sources = 2;
  c.count = 4;
  EXPECT_EQ(check_case<BF16>(c, pairs), 0);
}

// min/max keep the scalar NaN rule exactly: a NaN already held stays, a later NaN is skipped.
TEST_P(Kernels, MinMaxNaNBits) {
  const float nan = std::bit_cast<float>(0x7fc01234u);
  std::vector<std::vector<float>> inputs{{nan, 1.0f, -0.0f, 0.0f, nan}, {1.0f, nan, 0.0f, -0.0f, -nan},
                                         {2.0f, -1.0f, -0.0f, 0.0f, 3.0f}};
  for (ReduceOp op : {ReduceOp::min, ReduceOp::max}) {
    Case c;
    c.op = op;
    c.sources = 3;
    c.count = 5;
    EXPECT_EQ(check_case<float>(c, inputs), 0);
  }
}

TEST_P(Kernels, CopyAndScale) {
  const auto inputs = random_inputs<float>(7, 1, 70000);
  for (std::size_t count : {std::size_t{0}, std::size_t{1}, std::size_t{17}, std::size_t{4099}, std::size_t{70000}})
    for (int destinations : {1, 2, 4})
      for (Alias alias : {Alias::none, Alias::first_source})
        for (bool stream : {false, true})
          for (std::size_t shift : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{15}, std::size_t{99}}) {
            Case c;
            c.kind = StepKind::copy;
            c.count = count;
            c.destinations = destinations;
            c.alias = alias;
            c.stream = stream;
            c.shift = shift % 16;
            c.shifted = shift == 99;
            EXPECT_EQ(check_case<float>(c, inputs), 0);
            c.kind = StepKind::scale;
            c.k = 8;
            EXPECT_EQ(check_case<float>(c, inputs), 0);
          }
  const auto halves = random_inputs<F16>(8, 1, 5000);
  Case c;
  c.kind = StepKind::copy;
  c.count = 5000;
  c.destinations = 3;
  EXPECT_EQ(check_case<F16>(c, halves), 0);
}

// A reduce that writes over one of its own sources stores the lines it has just read: ordinary
// stores there cost no read for ownership, so it never streams; every other asked-for stream does.
TEST(KernelStores, InPlaceReducesNeverStreamAndOthersDoWhenAsked) {
  std::vector<float> a(64), b(64), out0(64), out1(64);
  const std::vector<const void*> srcs{a.data(), b.data()};
  const std::vector<void*> apart{out0.data(), out1.data()};
  const std::vector<void*> over_sources{a.data(), b.data()};
  const std::vector<void*> over_second{out0.data(), b.data()};  // one destination is a source
  KernelArgs args;
  args.kind = StepKind::reduce;
  args.count = 64;
  args.srcs = srcs;
  args.dsts = apart;
  EXPECT_FALSE(streams_stores(args));  // not asked
  args.stream = true;
  EXPECT_TRUE(streams_stores(args));
  args.dsts = over_sources;
  EXPECT_FALSE(streams_stores(args));
  args.dsts = over_second;
  EXPECT_FALSE(streams_stores(args));
  args.kind = StepKind::scale;
  args.srcs = std::span<const void* const>(srcs.data(), 1);
  args.dsts = std::span<void* const>(over_sources.data(), 1);
  EXPECT_FALSE(streams_stores(args));
  // A copy never stores to a destination that is its source, so its other destinations stream.
  args.kind = StepKind::copy;
  args.dsts = over_sources;
  EXPECT_TRUE(streams_stores(args));
}

INSTANTIATE_TEST_SUITE_P(Targets, Kernels, ::testing::ValuesIn(target_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace meshreduce::detail
