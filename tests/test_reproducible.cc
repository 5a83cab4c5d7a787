// Reproducible mode (docs/reproducible.md): one bit pattern per input multiset, whatever the
// algorithm, piece size, chunk size, thread count, grouping, bucketing, device order or
// (test_reproducible_processes.cc) process count; the error within the documented bound
// against an exact reference; NaN, inf and signed zeros as documented.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "meshreduce/c_api.h"
#include "meshreduce/communicator.h"
#include "meshreduce/error.h"
#include "reproducible_data.h"

namespace meshreduce::testing::repro {
namespace {

using Bytes = std::vector<std::uint8_t>;

struct CallSetup {
  std::string algorithm = "direct";
  int threads = 1;
  std::int64_t piece_elements = std::int64_t{1} << 16;
  std::int64_t chunk_elements = 0;
  std::vector<std::vector<int>> groups;
  BucketingMode bucketing = BucketingMode::per_tensor;
  std::int64_t inline_bytes = 0;
  std::int64_t stream_min_bytes = std::int64_t{32} << 20;
  bool reproducible = true;

  std::string describe() const {
    std::string text = algorithm + " threads=" + std::to_string(threads) + " piece=" + std::to_string(piece_elements) +
                       " chunk=" + std::to_string(chunk_elements) + " groups=" + std::to_string(groups.size()) +
                       " bucketing=" + std::to_string(static_cast<int>(bucketing));
    return text;
  }
};

// Runs one allreduce of `tensors` (per device, the tensors' bytes) out of place; returns every
// device's outputs. The device order is `order`: position p holds input set order[p].
std::vector<std::vector<Bytes>> run(const CallSetup& setup, DType dtype, ReduceOp op,
                                    const std::vector<std::vector<Bytes>>& tensors, const std::vector<int>& order) {
  const int devices = static_cast<int>(order.size());
  CommunicatorOptions options;
  options.devices.resize(static_cast<std::size_t>(devices));
  std::iota(options.devices.begin(), options.devices.end(), 40);
  options.algorithm = setup.algorithm;
  options.threads = setup.threads;
  options.piece_elements = setup.piece_elements;
  options.algorithm_options.chunk_elements = setup.chunk_elements;
  options.groups = setup.groups;
  options.bucketing.mode = setup.bucketing;
  options.bucketing.fuse_bytes = 3000;
  options.bucketing.packer_min_elements_per_split = 16;
  options.inline_bytes = setup.inline_bytes;
  options.stream_min_bytes = setup.stream_min_bytes;
  options.reproducible = setup.reproducible;
  Communicator communicator(std::move(options));
  std::vector<std::vector<Bytes>> outputs(static_cast<std::size_t>(devices));
  std::vector<std::vector<ConstTensorView>> in(static_cast<std::size_t>(devices));
  std::vector<std::vector<TensorView>> out(static_cast<std::size_t>(devices));
  for (int p = 0; p < devices; ++p) {
    const auto& mine = tensors[static_cast<std::size_t>(order[static_cast<std::size_t>(p)])];
    auto& result = outputs[static_cast<std::size_t>(p)];
    for (const Bytes& bytes : mine) {
      const auto count = static_cast<std::int64_t>(bytes.size() / dtype_size(dtype));
      result.emplace_back(bytes.size(), std::uint8_t{0xAB});
      in[static_cast<std::size_t>(p)].emplace_back(bytes.data(), count, dtype);
      out[static_cast<std::size_t>(p)].emplace_back(result.back().data(), count, dtype);
    }
  }
  communicator.allreduce(in, out, op);
  return outputs;
}

// tensors[k][n]: device k's tensor n, of the given sizes.
std::vector<std::vector<Bytes>> make_tensors(DType dtype, int devices, const std::vector<std::int64_t>& sizes,
                                             std::uint64_t seed) {
  std::vector<std::vector<Bytes>> tensors(static_cast<std::size_t>(devices));
  for (std::size_t n = 0; n < sizes.size(); ++n) {
    auto inputs = make_inputs(dtype, devices, sizes[n], seed + n);
    for (int k = 0; k < devices; ++k) tensors[static_cast<std::size_t>(k)].push_back(std::move(inputs[static_cast<std::size_t>(k)]));
  }
  return tensors;
}

std::vector<int> identity(int devices) {
  std::vector<int> order(static_cast<std::size_t>(devices));
  std::iota(order.begin(), order.end(), 0);
  return order;
}

bool declines(const std::string& algorithm, int devices) {
  AlgorithmRequest probe;
  probe.num_devices = devices;
  const Topology flat = flat_topology(devices);
  probe.topology = &flat;
  std::vector<int> ids(static_cast<std::size_t>(devices));
  std::iota(ids.begin(), ids.end(), 0);
  probe.topology_devices = ids;
  return find_algorithm(algorithm).decline(probe).has_value();
}

// Every device of every setup equals the first device of the reference, byte for byte.
void expect_all_equal(const std::vector<std::vector<Bytes>>& reference, const std::vector<std::vector<Bytes>>& got,
                      const std::string& what) {
  for (std::size_t p = 0; p < got.size(); ++p)
    for (std::size_t n = 0; n < got[p].size(); ++n) {
      const Bytes& want = reference[0][n];
      if (got[p][n] == want) continue;
      std::size_t first = 0;
      while (got[p][n][first] == want[first]) ++first;
      ADD_FAILURE() << what << ": device " << p << " tensor " << n << " differs first at byte " << first;
      return;
    }
}

const DType kFloatTypes[] = {DType::f32, DType::f64, DType::f16, DType::bf16};

TEST(Reproducible, EveryAlgorithmAndDeviceCountFrom1To16GivesOneBitPattern) {
  for (DType dtype : kFloatTypes)
    for (ReduceOp op : {ReduceOp::sum, ReduceOp::average})
      for (int devices = 1; devices <= 16; ++devices) {
        const auto tensors = make_tensors(dtype, devices, {301, 1000}, 17 + static_cast<std::uint64_t>(devices));
        const auto reference = run(CallSetup{}, dtype, op, tensors, identity(devices));
        for (const Algorithm& algorithm : algorithms()) {
          if (declines(std::string(algorithm.name), devices)) continue;
          CallSetup setup;
          setup.algorithm = std::string(algorithm.name);
          setup.threads = 2;
          setup.piece_elements = 97;
          setup.chunk_elements = 130;
          expect_all_equal(reference, run(setup, dtype, op, tensors, identity(devices)),
                           std::string(dtype_name(dtype)) + " " + std::string(reduce_op_name(op)) + " K=" +
                               std::to_string(devices) + " " + setup.describe());
        }
      }
}

TEST(Reproducible, PiecesThreadsChunksGroupsBucketingAndDeviceOrderChangeNothing) {
  const int devices = 8;
  std::vector<CallSetup> setups;
  for (const std::string algorithm : {"auto", "direct", "ring", "hierarchical", "tree", "halving-doubling"})
    for (std::int64_t piece : {1, 7, 4096})
      for (int threads : {1, 3}) {
        CallSetup setup;
        setup.algorithm = algorithm;
        setup.piece_elements = piece;
        setup.threads = threads;
        setup.chunk_elements = piece == 7 ? 64 : 0;
        setup.stream_min_bytes = threads == 3 ? 0 : setup.stream_min_bytes;  // streamed stores too
        setups.push_back(setup);
      }
  for (auto groups : std::vector<std::vector<std::vector<int>>>{{{0, 1, 2}, {3, 4, 5, 6, 7}}, {{0, 7}, {1, 6}, {2, 5}, {3, 4}}}) {
    CallSetup setup;
    setup.algorithm = "hierarchical";
    setup.groups = groups;
    setups.push_back(setup);
  }
  for (BucketingMode mode : {BucketingMode::fused, BucketingMode::seed_packer})
    for (const std::string algorithm : {"ring", "direct"}) {
      CallSetup setup;
      setup.algorithm = algorithm;
      setup.bucketing = mode;
      setup.threads = 2;
      setups.push_back(setup);
    }
  for (DType dtype : kFloatTypes) {
    const auto tensors = make_tensors(dtype, devices, {5000, 123, 777}, 99);
    const auto reference = run(CallSetup{}, dtype, ReduceOp::sum, tensors, identity(devices));
    std::vector<int> reversed = identity(devices);
    std::reverse(reversed.begin(), reversed.end());
    const std::vector<int> shuffled{3, 6, 0, 5, 7, 1, 4, 2};
    for (const CallSetup& setup : setups)
      for (const auto& order : {identity(devices), reversed, shuffled})
        expect_all_equal(reference, run(setup, dtype, ReduceOp::sum, tensors, order),
                         std::string(dtype_name(dtype)) + " " + setup.describe() + " order[0]=" + std::to_string(order[0]));
  }
}

// Without the mode the same inputs give different bits for different orders: the tests above
// could fail.
TEST(Reproducible, TheDefaultModeDependsOnTheOrderOnTheseInputs) {
  const int devices = 8;
  const auto tensors = make_tensors(DType::f32, devices, {5000}, 99);
  CallSetup ring;
  ring.algorithm = "ring";
  ring.reproducible = false;
  CallSetup direct = ring;
  direct.algorithm = "direct";
  const auto a = run(ring, DType::f32, ReduceOp::sum, tensors, identity(devices));
  const auto b = run(direct, DType::f32, ReduceOp::sum, tensors, identity(devices));
  EXPECT_NE(a[0][0], b[0][0]);
}

// The fused kernel's SIMD lanes and its scalar ends, and the generic path, agree at every offset.
TEST(Reproducible, EveryPieceBoundaryAndTensorLengthAgrees) {
  for (DType dtype : kFloatTypes)
    for (std::int64_t count : {1, 2, 3, 5, 8, 13, 31, 64, 257}) {
      const auto tensors = make_tensors(dtype, 5, {count}, 3 + static_cast<std::uint64_t>(count));
      const auto reference = run(CallSetup{}, dtype, ReduceOp::sum, tensors, identity(5));
      for (std::int64_t piece : {1, 3, 4, 6}) {
        CallSetup fused;
        fused.piece_elements = piece;
        fused.threads = 2;
        fused.stream_min_bytes = piece == 6 ? 0 : fused.stream_min_bytes;
        CallSetup generic = fused;
        generic.algorithm = "ring";
        expect_all_equal(reference, run(fused, dtype, ReduceOp::sum, tensors, identity(5)), "fused");
        expect_all_equal(reference, run(generic, dtype, ReduceOp::sum, tensors, identity(5)), "generic");
      }
    }
}

double unit_in_last_place(DType dtype, double r) {
  const Range range = range_of(dtype);
  const int e = r == 0 ? range.min_exponent : std::max(std::ilogb(r), range.min_exponent);
  return std::ldexp(1.0, e - range.mantissa_bits);
}

// |result - exact sum| <= ulp(result)/2 + K 2^(E - B) (one level; f64: K 2^(E - 2B)), with E the
// exponent of the largest input and B = 53 - ceil(log2 K): checked in exact arithmetic.
TEST(Reproducible, ErrorWithinTheDocumentedBoundOfTheExactSum) {
  for (DType dtype : kFloatTypes)
    for (int devices : {1, 2, 3, 8, 16}) {
      const std::int64_t count = 4000;
      const auto tensors = make_tensors(dtype, devices, {count}, 1234 + static_cast<std::uint64_t>(devices));
      CallSetup setup;
      setup.algorithm = "ring";  // the generic path; the fused one equals it bit for bit (above)
      const auto outputs = run(setup, dtype, ReduceOp::sum, tensors, identity(devices));
      int log2_ceil = 0;
      while ((1 << log2_ceil) < devices) ++log2_ceil;
      const int bits = 53 - log2_ceil;
      const Range range = range_of(dtype == DType::f64 ? DType::f64 : DType::f32);  // f16/bf16 widen to f32
      std::int64_t checked = 0;
      for (std::int64_t i = 0; i < count; ++i) {
        Exact exact;
        double largest = 0;
        bool finite = true;
        for (int k = 0; k < devices; ++k) {
          const double x = widen_bits(dtype, tensors[static_cast<std::size_t>(k)][0], i);
          finite = finite && std::isfinite(x);
          if (!finite) break;
          exact.add(x);
          largest = std::max(largest, std::fabs(x));
        }
        const double r = widen_bits(dtype, outputs[0][0], i);
        if (!finite || !std::isfinite(r)) continue;
        const int e = largest == 0 ? range.min_exponent : std::max(std::ilogb(largest), range.min_exponent);
        Exact bound;
        bound.add(std::ldexp(unit_in_last_place(dtype, r), -1));
        for (int k = 0; k < devices; ++k) bound.add(1, e - (dtype == DType::f64 ? 2 * bits : bits), false);
        Exact error = exact.negated();
        error.add(r);
        ASSERT_TRUE(error.magnitude().at_most(bound))
            << dtype_name(dtype) << " K=" << devices << " element " << i << " result " << r;
        ++checked;
      }
      EXPECT_GT(checked, count / 2);
    }
}

std::uint64_t bits_of(DType dtype, const Bytes& bytes, std::int64_t i) {
  std::uint64_t v = 0;
  std::memcpy(&v, bytes.data() + static_cast<std::size_t>(i) * dtype_size(dtype), dtype_size(dtype));
  return v;
}

// NaN anywhere, or +inf with -inf: one canonical quiet NaN; inf of one sign: that inf; -0 iff
// every input is -0.
TEST(Reproducible, SpecialValuesAndSignedZerosFollowTheDocumentedRules) {
  const std::uint64_t canonical[] = {0x7fc00000u, 0x7ff8000000000000u, 0x7e00u, 0x7fc0u};
  for (std::size_t t = 0; t < 4; ++t) {
    const DType dtype = kFloatTypes[t];
    for (int devices : {1, 2, 5, 16})
      for (const std::string algorithm : {"direct", "ring"}) {
        const std::int64_t count = 600;
        const auto tensors = make_tensors(dtype, devices, {count}, 555);
        CallSetup setup;
        setup.algorithm = algorithm;
        const auto outputs = run(setup, dtype, ReduceOp::sum, tensors, identity(devices));
        for (std::int64_t i = 0; i < count; ++i) {
          bool nan = false, plus = false, minus = false, all_negative_zero = true;
          for (int k = 0; k < devices; ++k) {
            const double x = widen_bits(dtype, tensors[static_cast<std::size_t>(k)][0], i);
            nan = nan || std::isnan(x);
            plus = plus || x == INFINITY;
            minus = minus || x == -INFINITY;
            all_negative_zero = all_negative_zero && x == 0 && std::signbit(x);
          }
          const std::uint64_t got = bits_of(dtype, outputs[0][0], i);
          const double r = widen_bits(dtype, outputs[0][0], i);
          const std::string where = std::string(dtype_name(dtype)) + " K=" + std::to_string(devices) + " " + algorithm +
                                    " element " + std::to_string(i);
          if (nan || (plus && minus)) {
            EXPECT_EQ(got, canonical[t]) << where;
          } else if (plus || minus) {
            EXPECT_EQ(r, plus ? INFINITY : -INFINITY) << where;
          } else if (r == 0) {
            EXPECT_EQ(std::signbit(r), all_negative_zero) << where;
          } else {
            EXPECT_FALSE(all_negative_zero) << where;
          }
        }
      }
  }
}

// 1 + 2^-8 + 2^-40 lies just above a tie of bf16 (spacing 2^-7 at 1): rounded once it is
// 1 + 2^-7; rounded to f32 first (losing 2^-40), the tie goes to even, 1. Likewise for f16:
// 1 + 2^-11 + 2^-24 (spacing 2^-10; 2^-24 is half an f32 step at 1, so a plain f32 rounding
// goes to even, 1 + 2^-11, and then f16's tie to 1).
TEST(Reproducible, SixteenBitResultsAreRoundedOnce) {
  struct Case {
    DType dtype;
    std::vector<double> values;
    std::uint16_t want;
  };
  const Case cases[] = {
      {DType::bf16, {1.0, std::ldexp(1.0, -8), std::ldexp(1.0, -40)}, 0x3f81},  // 1 + 2^-7
      {DType::f16, {1.0, std::ldexp(1.0, -11), std::ldexp(1.0, -24)}, 0x3c01},  // 1 + 2^-10
  };
  for (const Case& c : cases)
    for (const std::string algorithm : {"direct", "ring"}) {
      const int devices = static_cast<int>(c.values.size());
      std::vector<std::vector<Bytes>> tensors(static_cast<std::size_t>(devices));
      for (int k = 0; k < devices; ++k) {
        Bytes bytes(8);  // room for any dtype (the compiler cannot see that this one takes 2)
        store_value(c.dtype, bytes, 0, c.values[static_cast<std::size_t>(k)]);
        bytes.resize(2);
        ASSERT_EQ(widen_bits(c.dtype, bytes, 0), c.values[static_cast<std::size_t>(k)]);
        tensors[static_cast<std::size_t>(k)].push_back(bytes);
      }
      CallSetup setup;
      setup.algorithm = algorithm;
      const auto outputs = run(setup, c.dtype, ReduceOp::sum, tensors, identity(devices));
      EXPECT_EQ(bits_of(c.dtype, outputs[0][0], 0), c.want) << dtype_name(c.dtype) << " " << algorithm;
    }
}

TEST(Reproducible, IntegersAndMinMaxAreUnchanged) {
  const int devices = 6;
  for (DType dtype : {DType::i32, DType::i64, DType::f32})
    for (ReduceOp op : {ReduceOp::sum, ReduceOp::min, ReduceOp::max}) {
      if (is_floating(dtype) && op == ReduceOp::sum) continue;
      std::vector<std::vector<Bytes>> tensors(devices);
      for (int k = 0; k < devices; ++k) {
        Bytes bytes(1000 * dtype_size(dtype));
        for (std::size_t b = 0; b < bytes.size(); ++b) bytes[b] = static_cast<std::uint8_t>((b * 37 + static_cast<std::size_t>(k) * 11) % 251);
        if (dtype == DType::f32)  // keep the values finite: clear the top exponent bit
          for (std::size_t b = 3; b < bytes.size(); b += 4) bytes[b] &= 0xbf;
        tensors[static_cast<std::size_t>(k)].push_back(bytes);
      }
      CallSetup plain;
      plain.algorithm = "ring";
      plain.reproducible = false;
      CallSetup repro = plain;
      repro.reproducible = true;
      expect_all_equal(run(plain, dtype, op, tensors, identity(devices)), run(repro, dtype, op, tensors, identity(devices)),
                       std::string(dtype_name(dtype)) + " " + std::string(reduce_op_name(op)));
    }
}

TEST(Reproducible, InPlaceAndMixedDtypeCallsGiveTheSameBits) {
  const int devices = 4;
  const auto tensors = make_tensors(DType::f32, devices, {999}, 7);
  const auto reference = run(CallSetup{}, DType::f32, ReduceOp::sum, tensors, identity(devices));
  for (const std::string algorithm : {"direct", "ring"}) {
    CommunicatorOptions options;
    options.devices = {0, 1, 2, 3};
    options.algorithm = algorithm;
    options.reproducible = true;
    options.inline_bytes = 0;
    Communicator communicator(std::move(options));
    auto data = tensors;
    std::vector<std::vector<std::int32_t>> ints(devices, std::vector<std::int32_t>(50));
    std::vector<std::vector<TensorView>> grads(devices);
    for (int k = 0; k < devices; ++k) {
      std::iota(ints[static_cast<std::size_t>(k)].begin(), ints[static_cast<std::size_t>(k)].end(), k * 100);
      grads[static_cast<std::size_t>(k)].emplace_back(ints[static_cast<std::size_t>(k)].data(), 50, DType::i32);
      grads[static_cast<std::size_t>(k)].emplace_back(data[static_cast<std::size_t>(k)][0].data(), 999, DType::f32);
    }
    communicator.allreduce(grads, ReduceOp::sum);
    for (int k = 0; k < devices; ++k) {
      EXPECT_EQ(data[static_cast<std::size_t>(k)][0], reference[0][0]) << algorithm << " device " << k;
      EXPECT_EQ(ints[static_cast<std::size_t>(k)][7], 7 * 4 + 600) << algorithm << " device " << k;
    }
  }
}

// Outputs that share one alignment take the streamed stores (after an element-by-element
// start up to the first aligned address): the same bits.
TEST(Reproducible, StreamedStoresGiveTheSameBits) {
  const int devices = 4;
  const std::int64_t count = 1003;
  const auto tensors = make_tensors(DType::f32, devices, {count}, 77);
  const auto reference = run(CallSetup{}, DType::f32, ReduceOp::sum, tensors, identity(devices));
  const std::int64_t stride = 1024 + 16;  // floats: every output starts at the same offset mod 64 bytes
  for (std::int64_t offset : {0, 1, 3, 5}) {
    std::vector<float> block(static_cast<std::size_t>(devices * stride + 64));
    auto* base = block.data();
    while (reinterpret_cast<std::uintptr_t>(base) % 64 != 0) ++base;
    CommunicatorOptions options;
    options.devices = {0, 1, 2, 3};
    options.reproducible = true;
    options.stream_min_bytes = 0;
    options.threads = 2;
    options.piece_elements = 256;
    Communicator communicator(std::move(options));
    std::vector<std::vector<ConstTensorView>> in(devices);
    std::vector<std::vector<TensorView>> out(devices);
    for (std::size_t k = 0; k < devices; ++k) {
      in[k].emplace_back(tensors[k][0].data(), count, DType::f32);
      out[k].emplace_back(base + static_cast<std::int64_t>(k) * stride + offset, count, DType::f32);
    }
    communicator.allreduce(in, out, ReduceOp::sum);
    for (std::size_t k = 0; k < devices; ++k)
      EXPECT_EQ(std::memcmp(out[k][0].data, reference[0][0].data(), reference[0][0].size()), 0)
          << "offset " << offset << " device " << k;
  }
}

TEST(Reproducible, BadArgumentsAreRejectedBeforeAnythingIsWritten) {
  CommunicatorOptions options;
  options.devices = {0, 1};
  options.reproducible = true;
  Communicator communicator(std::move(options));
  std::vector<float> a(10, 1.0f), b(11, 2.0f);
  std::vector<std::vector<TensorView>> grads{{TensorView(std::span<float>(a))}, {TensorView(std::span<float>(b))}};
  EXPECT_THROW(communicator.allreduce(grads, ReduceOp::sum), InvalidArgument);
  EXPECT_EQ(a[0], 1.0f);
  EXPECT_EQ(b[0], 2.0f);
}

TEST(Reproducible, AFusedCallPastItsTimeoutThrowsTimeoutError) {
  CommunicatorOptions options;
  options.devices = {0, 1, 2};
  options.reproducible = true;
  options.timeout = std::chrono::nanoseconds(1);  // passed before the first piece is taken
  Communicator communicator(std::move(options));
  const auto tensors = make_tensors(DType::f32, 3, {30000}, 5);  // above inline_bytes: on the pool
  auto data = tensors;
  std::vector<std::vector<TensorView>> grads(3);
  for (std::size_t k = 0; k < 3; ++k) grads[k].emplace_back(data[k][0].data(), 30000, DType::f32);
  try {
    communicator.allreduce(grads, ReduceOp::sum);
    ADD_FAILURE() << "no TimeoutError";
  } catch (const TimeoutError& error) {
    EXPECT_NE(std::string(error.what()).find("reproducible allreduce of 1 tensors on 3 devices"), std::string::npos)
        << error.what();
  }
}

TEST(Reproducible, TheCApiFlagTurnsItOnAndUnknownFlagsAreRejected) {
  char error[256] = {};
  meshreduce_comm* comm = nullptr;
  const int devices[] = {0, 1, 2};
  EXPECT_EQ(meshreduce_comm_create_flags(nullptr, "ring", devices, 3, 2u, &comm, error, sizeof error),
            MESHREDUCE_INVALID_ARGUMENT);
  EXPECT_NE(std::string(error).find("unknown communicator flags 2"), std::string::npos) << error;
  ASSERT_EQ(meshreduce_comm_create_flags(nullptr, "ring", devices, 3, MESHREDUCE_REPRODUCIBLE, &comm, error, sizeof error),
            MESHREDUCE_OK)
      << error;
  const auto tensors = make_tensors(DType::f32, 3, {500}, 21);
  const auto reference = run(CallSetup{}, DType::f32, ReduceOp::sum, tensors, identity(3));
  auto data = tensors;
  meshreduce_tensor views[3];
  const meshreduce_tensor* lists[3];
  for (int k = 0; k < 3; ++k) {
    views[k] = {data[static_cast<std::size_t>(k)][0].data(), 500, MESHREDUCE_F32};
    lists[k] = &views[k];
  }
  ASSERT_EQ(meshreduce_comm_allreduce(comm, lists, nullptr, 1, MESHREDUCE_SUM), MESHREDUCE_OK)
      << meshreduce_comm_last_error(comm);
  for (int k = 0; k < 3; ++k) EXPECT_EQ(data[static_cast<std::size_t>(k)][0], reference[0][0]);
  meshreduce_comm_destroy(comm);
}

}  // namespace
}  // namespace meshreduce::testing::repro
