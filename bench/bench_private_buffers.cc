// How should peers reach a process's private buffers: through staging in shared memory (what the
// process executor does), or by cross-memory attach (process_vm_readv / process_vm_writev, Open
// MPI's single-copy path)? This program answers for `direct`, the schedule `auto` picks on one
// machine, without the executor around it, so that only the data path differs:
//
//   stage: each process copies the ranges of its input that peers reduce into its shared
//          segment; after a barrier each reduces its 1/K slice from its private input and the
//          peers' staging, writes it to its private output and to the peers' staging outputs;
//          after a barrier each copies those ranges into its private output.
//   cma:   after a barrier (the buffers' addresses are published), each reduces its slice in
//          chunks: process_vm_readv of the K-1 peers' chunks into buffers that stay in cache,
//          the sum into its private output, process_vm_writev of it into the K-1 peers' outputs;
//          then a barrier.
//
// K forked processes, f32, S bytes per process; the two ways alternate call by call (stage,
// cma, cma, stage, ...) so that load on the machine falls on both alike; a call's time is its
// slowest process's; the median over calls is printed. Every output is checked.
//
//   meshreduce_bench_private_buffers [K=4] [MiB=16] [calls=10] [chunk KiB=256]
#include <sched.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "bound/whole_number.h"

namespace {

constexpr int kMaxProcesses = 16;
constexpr int kMaxCalls = 64;

struct Shared {
  std::atomic<int> arrived{0};
  std::atomic<int> generation{0};
  pid_t pid[kMaxProcesses] = {};
  float* input[kMaxProcesses] = {};
  float* output[kMaxProcesses] = {};
  double seconds[2][kMaxCalls][kMaxProcesses] = {};
};

// Every wait has a deadline: a process that died must not leave the others spinning.
bool barrier(Shared& shared, int processes) {
  const int generation = shared.generation.load();
  if (shared.arrived.fetch_add(1) + 1 == processes) {
    shared.arrived.store(0);
    shared.generation.fetch_add(1);
    return true;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (int round = 0; shared.generation.load() == generation; ++round) {
    if (round < 64) continue;
    sched_yield();  // more processes than cores: the one awaited may need this core
    if (std::chrono::steady_clock::now() > deadline) return false;
  }
  return true;
}

float value(int rank, std::size_t i) { return static_cast<float>((static_cast<std::size_t>(rank) * 7 + i) % 9) - 4.0f; }

void add(float* sum, const float* source, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) sum[i] += source[i];
}

// One process's calls; returns its exit status.
int run_rank(Shared& shared, float* staging, int rank, int processes, std::size_t n, int calls, std::size_t chunk) {
  std::vector<float> in(n), out(n);
  for (std::size_t i = 0; i < n; ++i) in[i] = value(rank, i);
  std::vector<std::vector<float>> pulled(static_cast<std::size_t>(processes), std::vector<float>(chunk));
  shared.pid[rank] = getpid();
  shared.input[rank] = in.data();
  shared.output[rank] = out.data();
  const auto staged_input = [&](int p) { return staging + static_cast<std::size_t>(p) * 2 * n; };
  const auto staged_output = [&](int p) { return staged_input(p) + n; };
  const std::size_t slice = n / static_cast<std::size_t>(processes);
  const std::size_t lo = slice * static_cast<std::size_t>(rank), hi = rank == processes - 1 ? n : lo + slice;
  if (!barrier(shared, processes)) return 3;
  for (int call = 0; call < 2 * calls; ++call) {
    const int way = (call + call / 2) % 2;  // 0 stage, 1 cma: stage cma cma stage stage cma ...
    std::fill(out.begin(), out.end(), 0.0f);
    if (!barrier(shared, processes)) return 3;
    const auto start = std::chrono::steady_clock::now();
    if (way == 0) {
      std::memcpy(staged_input(rank), in.data(), lo * sizeof(float));
      std::memcpy(staged_input(rank) + hi, in.data() + hi, (n - hi) * sizeof(float));
      if (!barrier(shared, processes)) return 3;
      for (std::size_t at = lo; at < hi; at += chunk) {
        const std::size_t count = std::min(chunk, hi - at);
        std::memcpy(out.data() + at, in.data() + at, count * sizeof(float));
        for (int p = 0; p < processes; ++p)
          if (p != rank) add(out.data() + at, staged_input(p) + at, count);
        for (int p = 0; p < processes; ++p)
          if (p != rank) std::memcpy(staged_output(p) + at, out.data() + at, count * sizeof(float));
      }
      if (!barrier(shared, processes)) return 3;
      std::memcpy(out.data(), staged_output(rank), lo * sizeof(float));
      std::memcpy(out.data() + hi, staged_output(rank) + hi, (n - hi) * sizeof(float));
    } else {
      if (!barrier(shared, processes)) return 3;
      for (std::size_t at = lo; at < hi; at += chunk) {
        const std::size_t count = std::min(chunk, hi - at);
        const auto bytes = static_cast<ssize_t>(count * sizeof(float));
        for (int p = 0; p < processes; ++p) {
          if (p == rank) continue;
          iovec local{pulled[static_cast<std::size_t>(p)].data(), count * sizeof(float)};
          iovec remote{shared.input[p] + at, count * sizeof(float)};
          if (process_vm_readv(shared.pid[p], &local, 1, &remote, 1, 0) != bytes) return perror("process_vm_readv"), 4;
        }
        std::memcpy(out.data() + at, in.data() + at, count * sizeof(float));
        for (int p = 0; p < processes; ++p)
          if (p != rank) add(out.data() + at, pulled[static_cast<std::size_t>(p)].data(), count);
        for (int p = 0; p < processes; ++p) {
          if (p == rank) continue;
          iovec local{out.data() + at, count * sizeof(float)};
          iovec remote{shared.output[p] + at, count * sizeof(float)};
          if (process_vm_writev(shared.pid[p], &local, 1, &remote, 1, 0) != bytes) return perror("process_vm_writev"), 4;
        }
      }
      if (!barrier(shared, processes)) return 3;
    }
    shared.seconds[way][call / 2][rank] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (std::size_t i = 0; i < n; ++i) {
      float want = 0;
      for (int p = 0; p < processes; ++p) want += value(p, i);
      if (out[i] != want) {
        std::fprintf(stderr, "rank %d, %s, call %d: element %zu is %g, not %g\n", rank, way ? "cma" : "stage", call, i,
                     static_cast<double>(out[i]), static_cast<double>(want));
        return 2;
      }
    }
  }
  return barrier(shared, processes) ? 0 : 3;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 5) {
    std::fprintf(stderr, "usage: %s [K 2..%d] [MiB 1..1024] [calls 1..%d] [chunk KiB 4..65536]\n", argv[0],
                 kMaxProcesses, kMaxCalls);
    return 2;
  }
  const int processes = argc > 1 ? static_cast<int>(parse_whole_number(argv[1], 2, kMaxProcesses, "K")) : 4;
  const long mib = argc > 2 ? parse_whole_number(argv[2], 1, 1024, "MiB") : 16;
  const int calls = argc > 3 ? static_cast<int>(parse_whole_number(argv[3], 1, kMaxCalls, "calls")) : 10;
  const long chunk_kib = argc > 4 ? parse_whole_number(argv[4], 4, 65536, "chunk KiB") : 256;
  const std::size_t n = static_cast<std::size_t>(mib) << 18;  // floats
  const std::size_t chunk = static_cast<std::size_t>(chunk_kib) << 8;
  void* shared_memory = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  const std::size_t staging_bytes = 2 * n * sizeof(float) * static_cast<std::size_t>(processes);
  void* staging = mmap(nullptr, staging_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (shared_memory == MAP_FAILED || staging == MAP_FAILED) return perror("mmap"), 1;
  std::memset(staging, 0, staging_bytes);  // pages touched once, as the executor's segment
  auto& shared = *new (shared_memory) Shared;
  for (int rank = 0; rank < processes; ++rank)
    if (fork() == 0) _exit(run_rank(shared, static_cast<float*>(staging), rank, processes, n, calls, chunk));
  int failed = 0;
  for (int rank = 0; rank < processes; ++rank) {
    int status = 0;
    wait(&status);
    failed += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
  }
  if (failed > 0) return std::fprintf(stderr, "%d processes failed\n", failed), 1;
  std::printf("K=%d, %ld MiB f32 per process, direct, %d calls each, chunk %ld KiB:\n", processes, mib, calls, chunk_kib);
  double median[2] = {};
  for (int way = 0; way < 2; ++way) {
    std::vector<double> slowest;
    for (int call = 0; call < calls; ++call) {
      double t = 0;
      for (int rank = 0; rank < processes; ++rank) t = std::max(t, shared.seconds[way][call][rank]);
      slowest.push_back(t);
    }
    std::sort(slowest.begin(), slowest.end());
    median[way] = slowest[static_cast<std::size_t>(calls) / 2];
    std::printf("  %-6s median %9.0f us, fastest %9.0f us\n", way ? "cma" : "stage", median[way] * 1e6, slowest[0] * 1e6);
  }
  std::printf("  cma / stage: %.2f\n", median[1] / median[0]);
  return 0;
}
