// Soak (issue 10, item 6): many calls of mixed layouts, dtypes, ops, placements and algorithms
// through long-lived Communicators, every output of every device compared bit for bit with a
// plainly computed reference, and resident memory (/proc/self/statm) measured after a warm-up
// that builds every plan and at the end.
//
//   meshreduce_soak [--calls N] [--warmup W] [--max-rss-growth PERCENT]
//
// Inputs are small integers that differ per call, device, tensor and element, and the last
// device's value is chosen so that every sum is a multiple of K: then every sum, min and max is
// exact in every dtype (bf16 included) and every order of additions, and the average is that
// exact sum scaled as types.h documents, so any difference from the reference is a bug. Exit code 0 when every call matched and the
// growth stayed under the limit, 1 otherwise, 2 for a bad argument.
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "meshreduce/meshreduce.h"
#include "test_support.h"

namespace {

using namespace meshreduce;
namespace ref = meshreduce::testing;  // the suite's plainly written element conversions

struct Setup {
  const char* name;
  CommunicatorOptions options;
};

std::vector<Setup> setups() {
  std::vector<Setup> all;
  const auto labelled = [](std::vector<int> ids, const char* algorithm) {
    CommunicatorOptions options;
    options.devices = std::move(ids);
    options.algorithm = algorithm;
    options.threads = 3;
    return options;
  };
  const auto on = [](const char* topology, const char* algorithm) {
    CommunicatorOptions options;
    options.topology = topology_preset(topology);
    options.algorithm = algorithm;
    options.threads = 3;
    return options;
  };
  all.push_back({"auto, 4 labelled devices", labelled({40, 1, 100000, -3}, "auto")});
  all.push_back({"dgx1-hierarchical on dgx1-v100", on("dgx1-v100", "dgx1-hierarchical")});
  all.push_back({"ring, 3 devices", labelled({11, -2, 7}, "ring")});
  all.push_back({"multiring on flat:5", on("flat:5", "multiring")});
  all.push_back({"halving-doubling, 6 devices, fused buckets", labelled({5, 4, 3, 2, 1, 0}, "halving-doubling")});
  all.back().options.bucketing.mode = BucketingMode::fused;
  all.push_back({"hierarchical-rs on groups:6x2", on("groups:6x2", "hierarchical-rs")});
  all.push_back({"tree, 7 devices, small pieces", labelled({0, 1, 2, 3, 4, 5, 6}, "tree")});
  all.back().options.piece_elements = 256;
  all.back().options.inline_bytes = 0;
  all.push_back({"direct, 2 devices", labelled({9, 8}, "direct")});
  return all;
}

const std::vector<std::vector<std::int64_t>> kLayouts = {{1000}, {3, 700, 1, 129}, {2500, 17}, {0, 64, 5}};
constexpr DType kDtypes[] = {DType::f32, DType::f64, DType::f16, DType::bf16, DType::i32, DType::i64};
constexpr ReduceOp kOps[] = {ReduceOp::sum, ReduceOp::average, ReduceOp::min, ReduceOp::max};

std::uint64_t mix(std::uint64_t x) {  // splitmix64
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Caller memory of one (setup, layout): K devices x N tensors, inputs and outputs, 8 bytes per
// element so that every dtype fits; allocated once, before the warm-up.
struct Buffers {
  std::vector<std::vector<std::vector<std::uint64_t>>> in, out;
  std::byte* at(std::vector<std::vector<std::vector<std::uint64_t>>>& side, std::size_t k, std::size_t n) {
    return reinterpret_cast<std::byte*>(side[k][n].data());
  }
};

// The documented average (types.h): the exact sum times the reciprocal 1/K in the accumulation
// type (f64 for f64, f32 for f32, f16 and bf16), rounded once to the dtype; integers divide.
double average(double sum, int devices, DType dtype) {
  switch (dtype) {
    case DType::f64: return sum * (1.0 / devices);
    case DType::f32: case DType::f16: case DType::bf16:
      return static_cast<double>(static_cast<float>(sum) * static_cast<float>(1.0 / devices));
    case DType::i32: case DType::i64: return static_cast<double>(static_cast<long long>(sum) / devices);
  }
  return 0;
}

std::int64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::int64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

struct Soak {
  std::vector<Setup> all = setups();
  std::vector<Communicator> communicators;
  std::vector<std::vector<Buffers>> buffers;  // [setup][layout]
  std::vector<double> expected;
  std::vector<std::byte> expected_bytes;
  std::int64_t elements_checked = 0;

  Soak() {
    for (Setup& setup : all) {
      communicators.emplace_back(setup.options);
      const auto devices = static_cast<std::size_t>(communicators.back().size());
      auto& per_layout = buffers.emplace_back();
      for (const auto& layout : kLayouts) {
        Buffers& b = per_layout.emplace_back();
        b.in.assign(devices, {});
        b.out.assign(devices, {});
        for (std::size_t k = 0; k < devices; ++k)
          for (std::int64_t count : layout) {
            b.in[k].emplace_back(static_cast<std::size_t>(count) + 1);
            b.out[k].emplace_back(static_cast<std::size_t>(count) + 1);
          }
      }
    }
  }

  std::size_t combinations() const { return all.size() * kLayouts.size() * std::size(kDtypes) * std::size(kOps); }

  // One call; false (after printing what differed) when any output byte is wrong.
  bool call(std::uint64_t c) {
    const std::uint64_t h = mix(c);
    std::size_t combo = c < combinations() ? c : h % combinations();
    const DType dtype = kDtypes[combo % std::size(kDtypes)];
    combo /= std::size(kDtypes);
    const ReduceOp op = kOps[combo % std::size(kOps)];
    combo /= std::size(kOps);
    const std::size_t l = combo % kLayouts.size();
    const std::size_t s = combo / kLayouts.size();
    const bool in_place = ((h >> 40) & 1) != 0;
    Communicator& communicator = communicators[s];
    Buffers& b = buffers[s][l];
    const auto& layout = kLayouts[l];
    const int devices = communicator.size();
    const std::size_t width = dtype_size(dtype);

    std::vector<std::vector<ConstTensorView>> inputs(static_cast<std::size_t>(devices));
    std::vector<std::vector<TensorView>> outputs(static_cast<std::size_t>(devices));
    for (std::size_t k = 0; k < static_cast<std::size_t>(devices); ++k)
      for (std::size_t n = 0; n < layout.size(); ++n) {
        inputs[k].emplace_back(b.at(b.in, k, n), layout[n], dtype);
        outputs[k].emplace_back(b.at(in_place ? b.in : b.out, k, n), layout[n], dtype);
        if (!in_place) std::memset(b.at(b.out, k, n), 0xa5, static_cast<std::size_t>(layout[n]) * width);
      }

    // Fill and compute the exact expectation per tensor, then compare after the call.
    std::vector<std::vector<std::byte>> reference(layout.size());
    for (std::size_t n = 0; n < layout.size(); ++n) {
      reference[n].resize(static_cast<std::size_t>(layout[n]) * width);
      for (std::int64_t i = 0; i < layout[n]; ++i) {
        double sum = 0, low = 1e9, high = -1e9;
        for (int k = 0; k < devices; ++k) {
          const std::uint64_t r = mix(h ^ mix((static_cast<std::uint64_t>(k) << 48) ^ (n << 40) ^ static_cast<std::uint64_t>(i)));
          double v = static_cast<double>(static_cast<int>(r % 31) - 15);
          if (k == devices - 1) {  // make the sum a multiple of K: every average is an exact integer
            const auto partial = static_cast<long long>(sum + v);
            v -= static_cast<double>(((partial % devices) + devices) % devices);
          }
          ref::store_value(b.at(b.in, static_cast<std::size_t>(k), n), i, dtype, v);
          sum += v;
          low = std::min(low, v);
          high = std::max(high, v);
        }
        const double result = op == ReduceOp::sum ? sum : op == ReduceOp::average ? average(sum, devices, dtype) : op == ReduceOp::min ? low : high;
        ref::store_value(reference[n].data(), i, dtype, result);
      }
    }
    if (in_place) communicator.allreduce(outputs, op);
    else communicator.allreduce(inputs, outputs, op);
    for (std::size_t k = 0; k < static_cast<std::size_t>(devices); ++k)
      for (std::size_t n = 0; n < layout.size(); ++n) {
        const std::byte* got = b.at(in_place ? b.in : b.out, k, n);
        if (layout[n] > 0 && std::memcmp(got, reference[n].data(), reference[n].size()) != 0) {
          std::int64_t i = 0;
          while (std::memcmp(got + i * static_cast<std::int64_t>(width), reference[n].data() + i * static_cast<std::int64_t>(width), width) == 0) ++i;
          std::fprintf(stderr, "soak: call %llu (%s, layout %zu, %s, %s, %s): device %zu tensor %zu element %lld is %.17g, expected %.17g\n",
                       static_cast<unsigned long long>(c), all[s].name, l, std::string(dtype_name(dtype)).c_str(),
                       std::string(reduce_op_name(op)).c_str(), in_place ? "in place" : "out of place", k, n,
                       static_cast<long long>(i), ref::load_value(got, i, dtype),
                       ref::load_value(reference[n].data(), i, dtype));
          return false;
        }
        elements_checked += layout[n];
      }
    return true;
  }
};

long long parse_count(const char* flag, const char* text) {
  char* end = nullptr;
  const long long value = std::strtoll(text, &end, 10);
  if (end == text || *end != '\0' || value < 0) {
    std::fprintf(stderr, "soak: %s needs a count >= 0, got '%s'\n", flag, text);
    std::exit(2);
  }
  return value;
}

}  // namespace

int main(int argc, char** argv) {
  long long calls = 100000;
  long long warmup = -1;
  double max_growth_percent = 1.0;
  for (int a = 1; a < argc; ++a) {
    const std::string flag = argv[a];
    if (a + 1 >= argc) {
      std::fprintf(stderr, "soak: %s needs a value (flags: --calls N --warmup W --max-rss-growth PERCENT)\n", argv[a]);
      return 2;
    }
    const char* value = argv[++a];
    if (flag == "--calls") calls = parse_count("--calls", value);
    else if (flag == "--warmup") warmup = parse_count("--warmup", value);
    else if (flag == "--max-rss-growth") max_growth_percent = std::strtod(value, nullptr);
    else {
      std::fprintf(stderr, "soak: unknown flag %s (flags: --calls N --warmup W --max-rss-growth PERCENT)\n", flag.c_str());
      return 2;
    }
  }
  Soak soak;
  // The warm-up makes every (communicator, layout, dtype, op) call once, so every plan is built.
  if (warmup < 0) warmup = static_cast<long long>(soak.combinations()) * 2;
  if (calls <= warmup) {
    std::fprintf(stderr, "soak: --calls %lld must exceed the warm-up of %lld calls\n", calls, warmup);
    return 2;
  }
  const auto start = std::chrono::steady_clock::now();
  std::int64_t rss_start = 0;
  for (long long c = 0; c < calls; ++c) {
    if (c == warmup) rss_start = resident_bytes();
    if (!soak.call(static_cast<std::uint64_t>(c))) return 1;
  }
  const std::int64_t rss_end = resident_bytes();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double growth = 100.0 * static_cast<double>(rss_end - rss_start) / static_cast<double>(rss_start);
  std::printf("soak: %lld calls in %.1f s (%zu communicators x %zu layouts x 6 dtypes x 4 ops, in and out of place), "
              "%lld elements checked, all bitwise equal to the exact reference\n",
              calls, seconds, soak.all.size(), kLayouts.size(), static_cast<long long>(soak.elements_checked));
  std::printf("soak: resident memory %.1f MiB after the %lld-call warm-up, %.1f MiB at the end: growth %+.3f%% (limit %.2f%%)\n",
              static_cast<double>(rss_start) / (1 << 20), warmup, static_cast<double>(rss_end) / (1 << 20), growth,
              max_growth_percent);
  return growth < max_growth_percent ? 0 : 1;
}
