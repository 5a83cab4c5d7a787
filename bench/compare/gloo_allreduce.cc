// Gloo's allreduce algorithms over a sweep of sizes, measured the way `meshreduce bench` measures: the
// same flags, inputs, figures and JSON. K processes (forked here before Gloo starts any thread) meet
// through a FileStore in a fresh temporary folder and talk TCP over loopback (127.0.0.1) only.
//
// Per size, buffers are allocated once and written before timing, and every algorithm runs on them in
// turn: each iteration is a barrier, then the call between two readings of CLOCK_MONOTONIC
// (harness_monotonic_s); an iteration lasts from the earliest rank's start to the latest rank's end, and
// the size's time is the median over the timed iterations. The algorithm classes (ring, ring_chunked,
// halving_doubling, bcube) reduce in place, so out of place they first copy the input into the output,
// inside the timed region; `allreduce` is gloo::allreduce(AllreduceOptions), which reads the input and
// writes the output. "results" holds the fastest algorithm per size; "per_algorithm" holds them all. An
// algorithm 5x slower than the fastest at a size (and over 0.1 s) is not run at larger sizes; --budget-s S
// lowers the warm-up and timed iterations where they would take longer than S (see harness_plan; S is
// shared by the algorithms: S / their number each).
//
//   gloo_allreduce --ranks K -b 4K -e 256M -f 4 -w 3 -n 10 -d f32 [--in-place] [--budget-s 3]
//                  [--algorithms allreduce,ring,ring_chunked,halving_doubling,bcube]
#include <gloo/allreduce.h>
#include <gloo/allreduce_bcube.h>
#include <gloo/allreduce_halving_doubling.h>
#include <gloo/allreduce_ring.h>
#include <gloo/allreduce_ring_chunked.h>
#include <gloo/barrier.h>
#include <gloo/config.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/file_store.h>
#include <gloo/transport/tcp/device.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "harness_common.h"

namespace {

using Context = std::shared_ptr<gloo::Context>;
const std::vector<std::string> kAlgorithms{"allreduce", "ring", "ring_chunked", "halving_doubling", "bcube"};

// Elementwise over ranks: every rank ends with the max (or the sum) of `values`.
void reduce_doubles(const Context& context, std::vector<double>& values, bool max) {
  gloo::AllreduceOptions opts(context);
  opts.setOutput(values.data(), values.size());
  opts.setReduceFunction([max](void* c, const void* a, const void* b, size_t n) {
    auto* out = static_cast<double*>(c);
    for (size_t i = 0; i < n; ++i) {
      const double x = static_cast<const double*>(a)[i], y = static_cast<const double*>(b)[i];
      out[i] = max ? (x > y ? x : y) : x + y;
    }
  });
  gloo::allreduce(opts);
}

// One algorithm as a callable that reduces `in` into `out` (or `out` in place), built outside timing.
template <typename T>
std::function<void()> make_call(const std::string& name, const Context& context, T* in, T* out, int count,
                                bool in_place, size_t bytes) {
  std::shared_ptr<gloo::Algorithm> algorithm;
  const std::vector<T*> ptrs{out};
  if (name == "allreduce") {
    return [context, in, out, count, in_place] {
      gloo::AllreduceOptions opts(context);
      if (!in_place) opts.setInput(in, static_cast<size_t>(count));
      opts.setOutput(out, static_cast<size_t>(count));
      opts.setReduceFunction(static_cast<void (*)(void*, const void*, const void*, size_t)>(&gloo::sum<T>));
      gloo::allreduce(opts);
    };
  }
  if (name == "ring") algorithm = std::make_shared<gloo::AllreduceRing<T>>(context, ptrs, count);
  else if (name == "ring_chunked") algorithm = std::make_shared<gloo::AllreduceRingChunked<T>>(context, ptrs, count);
  else if (name == "halving_doubling") algorithm = std::make_shared<gloo::AllreduceHalvingDoubling<T>>(context, ptrs, count);
  else if (name == "bcube") algorithm = std::make_shared<gloo::AllreduceBcube<T>>(context, ptrs, count);
  else throw std::invalid_argument("unknown gloo algorithm '" + name + "'");
  return [algorithm, in, out, in_place, bytes] {
    if (!in_place) std::memcpy(static_cast<void*>(out), in, bytes);
    algorithm->run();
  };
}

template <typename T>
harness_row measure(const Context& context, const harness_options& o, const std::string& name, T* in, T* out,
                    int64_t elements) {
  const int rank = context->rank, ranks = context->size;
  const size_t bytes = static_cast<size_t>(elements) * sizeof(T);
  const std::function<void()> call = make_call<T>(name, context, in, out, static_cast<int>(elements), o.in_place, bytes);
  // Per timed call: minus this rank's start and its end, so that one max gives minus the earliest
  // start and the latest end.
  std::vector<double> spans;
  int warmup = o.warmup, timed = o.iterations;
  for (int i = 0; i < warmup + timed; ++i) {
    if (o.in_place) harness_fill(o.dtype, out, elements, rank);  // the last call overwrote the input
    gloo::BarrierOptions barrier(context);
    gloo::barrier(barrier);
    const double start = harness_monotonic_s();
    call();
    const double end = harness_monotonic_s();
    if (i >= warmup) spans.insert(spans.end(), {-start, end});
    if (i == 0 && warmup > 0) {  // every rank must agree on the counts: plan on the first call's span
      std::vector<double> first{-start, end};
      reduce_doubles(context, first, true);
      harness_plan(&o, first[0] + first[1], &warmup, &timed);
    }
  }
  reduce_doubles(context, spans, true);
  std::vector<double> seconds;
  for (std::size_t i = 0; i + 1 < spans.size(); i += 2) seconds.push_back(spans[i] + spans[i + 1]);
  std::vector<double> wrong{static_cast<double>(harness_count_wrong(o.dtype, out, elements, ranks))};
  reduce_doubles(context, wrong, false);
  std::memset(static_cast<void*>(out), 0, bytes);  // the next algorithm must not find the answer already there
  const double t = harness_median(seconds.data(), static_cast<int>(seconds.size()));
  if (rank == 0) std::fprintf(stderr, "gloo %s: %zu bytes: %d calls, median %.6f s\n", name.c_str(), bytes, warmup + timed, t);
  return harness_make_row(static_cast<int64_t>(bytes), elements, t, ranks, static_cast<int64_t>(wrong[0]), timed);
}

template <typename T>
int run(const Context& context, const harness_options& o, std::vector<std::string> algorithms) {
  std::map<std::string, std::vector<harness_row>> rows;
  std::map<std::string, int64_t> dropped;  // algorithm -> the size after which it no longer ran
  std::vector<harness_row> best;
  std::vector<std::string> best_name;
  for (int64_t bytes = o.min_bytes; bytes <= o.max_bytes && !algorithms.empty(); bytes *= o.factor) {
    const int64_t elements = bytes / static_cast<int64_t>(sizeof(T));
    std::vector<T> in(static_cast<size_t>(elements)), out(static_cast<size_t>(elements));  // both written here
    harness_fill(o.dtype, in.data(), elements, context->rank);
    size_t fastest = 0;
    for (size_t a = 0; a < algorithms.size(); ++a) {
      harness_options share = o;  // --budget-s is per size: the algorithms share it
      share.budget_s = o.budget_s / static_cast<double>(algorithms.size());
      rows[algorithms[a]].push_back(measure<T>(context, share, algorithms[a], in.data(), out.data(), elements));
      if (rows[algorithms[a]].back().time_us < rows[algorithms[fastest]].back().time_us) fastest = a;
    }
    const harness_row top = rows[algorithms[fastest]].back();
    best.push_back(top);
    best_name.push_back(algorithms[fastest]);
    // An algorithm 5x slower than the fastest (and over 0.1 s) would only cost time at larger sizes.
    std::vector<std::string> kept;
    for (const std::string& name : algorithms) {
      const harness_row& row = rows[name].back();
      if (row.time_us > 5 * top.time_us && row.time_us > 1e5) dropped[name] = bytes;
      else kept.push_back(name);
    }
    algorithms = kept;
  }
  gloo::BarrierOptions barrier(context);  // nobody leaves while a peer still talks to it
  gloo::barrier(barrier);
  int64_t wrong = 0;
  for (const auto& [name, list] : rows)
    for (const harness_row& row : list) wrong += row.wrong;
  if (context->rank == 0) {
    const std::string version = std::to_string(GLOO_VERSION_MAJOR) + "." + std::to_string(GLOO_VERSION_MINOR) + "." +
                                std::to_string(GLOO_VERSION_PATCH) + " (Debian libgloo-dev), tcp on 127.0.0.1";
    harness_print_header(stdout, "gloo", version.c_str(), context->size, &o);
    std::printf(", \"results\": ");
    std::vector<const char*> names;
    for (const std::string& name : best_name) names.push_back(name.c_str());
    harness_print_rows(stdout, best.data(), static_cast<int>(best.size()), "algorithm", names.data());
    std::printf(", \"dropped_after_bytes\": {");
    for (auto it = dropped.begin(); it != dropped.end(); ++it)
      std::printf("%s\"%s\": %lld", it == dropped.begin() ? "" : ", ", it->first.c_str(), static_cast<long long>(it->second));
    std::printf("}, \"per_algorithm\": {");
    for (auto it = rows.begin(); it != rows.end(); ++it) {
      std::printf("%s\n \"%s\": ", it == rows.begin() ? "" : ",", it->first.c_str());
      harness_print_rows(stdout, it->second.data(), static_cast<int>(it->second.size()), nullptr, nullptr);
    }
    std::printf("}}\n");
    std::fflush(stdout);
  }
  return wrong == 0 ? 0 : 3;
}

int rank_main(int rank, int ranks, const std::string& store_path, const harness_options& o,
              const std::vector<std::string>& algorithms) {
  gloo::transport::tcp::attr attr("127.0.0.1");
  attr.ai_family = AF_INET;
  auto device = gloo::transport::tcp::CreateDevice(attr);
  gloo::rendezvous::FileStore store(store_path);
  auto context = std::make_shared<gloo::rendezvous::Context>(rank, ranks);
  context->setTimeout(std::chrono::seconds(300));
  context->connectFullMesh(store, device);
  if (o.dtype == DTYPE_F32) return run<float>(context, o, algorithms);
  if (o.dtype == DTYPE_F64) return run<double>(context, o, algorithms);
  return run<gloo::float16>(context, o, algorithms);
}

}  // namespace

int main(int argc, char** argv) {
  // --ranks K is ours; every other flag is `meshreduce bench`'s, parsed by harness_parse_args.
  int ranks = 2;
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--ranks" && i + 1 < argc) ranks = std::atoi(argv[++i]);
    else rest.push_back(argv[i]);
  }
  const harness_options o = harness_parse_args(static_cast<int>(rest.size()), rest.data());
  std::vector<std::string> algorithms = kAlgorithms;
  if (o.algorithms != nullptr) {
    algorithms.clear();
    std::stringstream list(o.algorithms);
    for (std::string name; std::getline(list, name, ',');) algorithms.push_back(name);
  }
  if ((ranks & (ranks - 1)) != 0 && std::erase(algorithms, "bcube") > 0)  // wrong sums otherwise (K = 3: 1/3 wrong)
    std::fprintf(stderr, "gloo_allreduce: bcube skipped, it needs a power-of-2 number of ranks\n");
  char folder[] = "/tmp/gloo_allreduce.XXXXXX";
  if (ranks < 1 || mkdtemp(folder) == nullptr) return std::fprintf(stderr, "need --ranks >= 1 and /tmp\n"), 2;

  int rank = 0;
  std::vector<pid_t> children;
  for (int r = 1; r < ranks; ++r) {
    const pid_t pid = fork();
    if (pid == 0) { rank = r; children.clear(); break; }
    children.push_back(pid);
  }
  int status = 0;
  try {
    status = rank_main(rank, ranks, folder, o, algorithms);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "gloo_allreduce rank %d: %s\n", rank, error.what());
    status = 1;
  }
  if (rank != 0) std::exit(status);
  for (const pid_t pid : children) {
    int child = 0;
    waitpid(pid, &child, 0);
    if (!WIFEXITED(child) || WEXITSTATUS(child) != 0) status = status ? status : 1;
  }
  std::filesystem::remove_all(folder);
  return status;
}
