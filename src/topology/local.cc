// The `local` preset: this machine's cores, caches and NUMA nodes (hwloc), with memory
// bandwidths either measured (measure_memory_bandwidth, run by `meshreduce calibrate` and stored
// in the topology file) or taken from named defaults.
#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "meshreduce/error.h"
#include "meshreduce/topology.h"

#if defined(MESHREDUCE_HAVE_HWLOC)
#include <hwloc.h>
#endif

namespace meshreduce {
namespace {

// Defaults until a measurement replaces them: memory copies ran at 17-25 GB/s with 2
// threads on the 2-core development machines (meshreduce calibrate); we take the low end for two threads and half of it per thread.
constexpr double kDefaultCopyAllThreadsGbps = 17.0;
constexpr double kDefaultCopyOneThreadGbps = kDefaultCopyAllThreadsGbps / 2;
// dst += src touches three elements per addend where a copy touches two.
constexpr double kAddPerCopy = 2.0 / 3.0;
// Between NUMA nodes: NCCL's model of a Broadwell QPI (src/graph/topo.h QPI_BW); not measured.
constexpr double kInterNumaGbps = 6.0;
// Handing a step's data from one worker thread to another: one wake-up of a waiting thread, of
// the order of a microsecond (a placeholder until calibration measures it).
constexpr double kHandoffLatencyUs = 1.0;
constexpr const char* kDefaultSource =
    "default until `meshreduce calibrate`: copy 17 GB/s with 2 threads (the low end measured on the development machines), half per thread";
constexpr const char* kMeasuredSource = "measured on this machine by measure_memory_bandwidth()";

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct Detected {
  struct Core { int l3 = -1; int numa = 0; std::string name; };
  std::vector<Core> cores;
  std::vector<std::int64_t> l3_bytes;
  std::vector<std::int64_t> numa_bytes;
};

Detected detect() {
  Detected found;
#if defined(MESHREDUCE_HAVE_HWLOC)
  hwloc_topology_t topo = nullptr;
  if (hwloc_topology_init(&topo) == 0 && hwloc_topology_load(topo) == 0) {
    const int numa_count = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
    for (int i = 0; i < numa_count; ++i)
      found.numa_bytes.push_back(static_cast<std::int64_t>(
          hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE, static_cast<unsigned>(i))->attr->numanode.local_memory));
    const int l3_count = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_L3CACHE);
    for (int i = 0; i < l3_count; ++i)
      found.l3_bytes.push_back(static_cast<std::int64_t>(
          hwloc_get_obj_by_type(topo, HWLOC_OBJ_L3CACHE, static_cast<unsigned>(i))->attr->cache.size));
    hwloc_obj_type_t core_type = HWLOC_OBJ_CORE;
    int core_count = hwloc_get_nbobjs_by_type(topo, core_type);
    if (core_count <= 0) {
      core_type = HWLOC_OBJ_PU;
      core_count = hwloc_get_nbobjs_by_type(topo, core_type);
    }
    for (int i = 0; i < core_count; ++i) {
      hwloc_obj_t core = hwloc_get_obj_by_type(topo, core_type, static_cast<unsigned>(i));
      Detected::Core entry;
      entry.name = "core" + std::to_string(i);
      if (hwloc_obj_t l3 = hwloc_get_ancestor_obj_by_type(topo, HWLOC_OBJ_L3CACHE, core))
        entry.l3 = static_cast<int>(l3->logical_index);
      for (int n = 0; n < numa_count; ++n) {
        hwloc_obj_t numa = hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE, static_cast<unsigned>(n));
        if (hwloc_bitmap_intersects(numa->cpuset, core->cpuset)) {
          entry.numa = n;
          break;
        }
      }
      found.cores.push_back(std::move(entry));
    }
  }
  if (topo != nullptr) hwloc_topology_destroy(topo);
#endif
  if (found.cores.empty()) {
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    for (int i = 0; i < cores; ++i) found.cores.push_back({-1, 0, "core" + std::to_string(i)});
    found.l3_bytes.clear();
  }
  if (found.numa_bytes.empty()) found.numa_bytes.push_back(0);
  return found;
}

// One grouping level from a per-core key, kept only when it has several groups and some group
// of more than one core.
void add_level(Topology& topology, const std::string& name, const std::vector<int>& key) {
  std::vector<std::vector<int>> groups;
  std::vector<int> key_of_group;
  for (std::size_t c = 0; c < key.size(); ++c) {
    const auto it = std::find(key_of_group.begin(), key_of_group.end(), key[c]);
    if (it == key_of_group.end()) {
      key_of_group.push_back(key[c]);
      groups.push_back({static_cast<int>(c)});
    } else {
      groups[static_cast<std::size_t>(it - key_of_group.begin())].push_back(static_cast<int>(c));
    }
  }
  const bool several = groups.size() > 1;
  const bool some_shared = std::any_of(groups.begin(), groups.end(), [](const auto& g) { return g.size() > 1; });
  if (several && some_shared) topology.levels.push_back({name, std::move(groups)});
}

}  // namespace

MemoryBandwidth measure_memory_bandwidth(std::int64_t bytes_per_buffer, int repeats, int threads) {
  if (bytes_per_buffer < 4096 || repeats < 1)
    throw InvalidArgument("measure_memory_bandwidth: needs at least 4096 bytes per buffer and 1 repeat");
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const auto bytes = static_cast<std::size_t>(bytes_per_buffer);
  MemoryBandwidth result;
  result.threads = threads;

  // Buffers are written once before timing: the first touch of fresh pages costs a page fault
  // per 4 KiB (1-1.6 GB/s measured here), which a reused buffer never sees.
  const auto touched = [](std::size_t size) {
    auto buffer = std::make_unique<char[]>(size);
    std::memset(buffer.get(), 1, size);
    return buffer;
  };
  std::atomic<unsigned> sink{0};
  {
    auto src = touched(bytes);
    auto dst = touched(bytes);
    double best = 1e300;
    for (int r = 0; r < repeats; ++r) {
      const auto start = Clock::now();
      std::memcpy(dst.get(), src.get(), bytes);
      best = std::min(best, seconds_since(start));
      sink += static_cast<unsigned char>(dst[bytes / 2]);
    }
    result.copy_one_thread_gbps = static_cast<double>(bytes) / best / 1e9;
  }
  {
    const std::size_t count = bytes / sizeof(float);
    std::vector<float> src(count, 1.0f);
    std::vector<float> dst(count, 0.0f);
    double best = 1e300;
    for (int r = 0; r < repeats; ++r) {
      const auto start = Clock::now();
      float* __restrict d = dst.data();
      const float* __restrict s = src.data();
      for (std::size_t i = 0; i < count; ++i) d[i] += s[i];
      best = std::min(best, seconds_since(start));
      sink += static_cast<unsigned>(dst[count / 2]);
    }
    result.add_one_thread_gbps = static_cast<double>(count * sizeof(float)) / best / 1e9;
  }
  {
    // Each thread copies its own pair; together they move threads * per_thread bytes per round.
    const std::size_t per_thread = std::max<std::size_t>(bytes / static_cast<std::size_t>(threads), std::size_t{16} << 20);
    std::vector<std::unique_ptr<char[]>> srcs;
    std::vector<std::unique_ptr<char[]>> dsts;
    for (int t = 0; t < threads; ++t) {
      srcs.push_back(touched(per_thread));
      dsts.push_back(touched(per_thread));
    }
    double best = 1e300;
    for (int r = 0; r < repeats; ++r) {
      // The clock is read by the barrier's completion step, which runs before any thread is
      // released into the copy and after the last one finished it: a caller descheduled between
      // the barriers cannot shrink the interval (it once measured 7 TB/s under load).
      int phase = 0;
      Clock::time_point start;
      auto stamp = [&]() noexcept {
        if (phase++ == 0) start = Clock::now();
        else best = std::min(best, seconds_since(start));
      };
      std::barrier sync(threads, stamp);
      std::vector<std::thread> workers;
      for (int t = 0; t < threads; ++t)
        workers.emplace_back([&, t] {
          sync.arrive_and_wait();
          std::memcpy(dsts[static_cast<std::size_t>(t)].get(), srcs[static_cast<std::size_t>(t)].get(), per_thread);
          sync.arrive_and_wait();
        });
      for (auto& worker : workers) worker.join();
    }
    result.copy_all_threads_gbps = static_cast<double>(per_thread) * threads / best / 1e9;
  }
  if (sink.load() == 0xFFFFFFFFu) result.threads = -1;  // keeps the buffers' reads observable
  return result;
}

Topology local_topology(const std::optional<MemoryBandwidth>& measured) {
  const Detected found = detect();
  const double one_thread = measured ? measured->copy_one_thread_gbps : kDefaultCopyOneThreadGbps;
  const double all_threads = measured ? measured->copy_all_threads_gbps : kDefaultCopyAllThreadsGbps;
  const double add = measured ? measured->add_one_thread_gbps : kDefaultCopyOneThreadGbps * kAddPerCopy;
  const std::string source = measured ? kMeasuredSource : kDefaultSource;
  const auto numa_count = static_cast<double>(found.numa_bytes.size());
  if (!(one_thread > 0) || !(all_threads > 0) || !(add > 0))
    throw TopologyError("local topology: measured bandwidths must be positive");

  Topology topology;
  topology.name = "local";
  topology.memory_bandwidth = measured;
  const int cores = static_cast<int>(found.cores.size());
  for (int c = 0; c < cores; ++c)
    topology.devices.push_back({c, found.cores[static_cast<std::size_t>(c)].name, NodeKind::core, 0, 0, add, source});
  int next = cores;
  std::vector<int> numa_ids;
  for (std::size_t n = 0; n < found.numa_bytes.size(); ++n) {
    numa_ids.push_back(next);
    topology.nodes.push_back({next++, "numa" + std::to_string(n), NodeKind::numa, found.numa_bytes[n],
                              all_threads / numa_count, 0, source + " (machine total / NUMA nodes)"});
  }
  std::vector<int> l3_ids;
  for (std::size_t i = 0; i < found.l3_bytes.size(); ++i) {
    l3_ids.push_back(next);
    topology.nodes.push_back({next++, "l3-" + std::to_string(i), NodeKind::cache, found.l3_bytes[i], all_threads, 0, source});
  }
  const std::string link_source = source + "; latency: thread hand-off placeholder";
  std::vector<int> l3_numa(l3_ids.size(), -1);
  for (int c = 0; c < cores; ++c) {
    const auto& core = found.cores[static_cast<std::size_t>(c)];
    const int numa = numa_ids[static_cast<std::size_t>(core.numa)];
    if (core.l3 >= 0 && core.l3 < static_cast<int>(l3_ids.size())) {
      topology.links.push_back({c, l3_ids[static_cast<std::size_t>(core.l3)], LinkKind::memory, one_thread, kHandoffLatencyUs, 1, link_source});
      l3_numa[static_cast<std::size_t>(core.l3)] = numa;
    } else {
      topology.links.push_back({c, numa, LinkKind::memory, one_thread, kHandoffLatencyUs, 1, link_source});
    }
  }
  for (std::size_t i = 0; i < l3_ids.size(); ++i)
    if (l3_numa[i] >= 0)
      topology.links.push_back({l3_ids[i], l3_numa[i], LinkKind::memory, all_threads, kHandoffLatencyUs, 1, link_source});
  for (std::size_t a = 0; a < numa_ids.size(); ++a)
    for (std::size_t b = a + 1; b < numa_ids.size(); ++b)
      topology.links.push_back({numa_ids[a], numa_ids[b], LinkKind::qpi, kInterNumaGbps, kHandoffLatencyUs, 1,
                                "NCCL src/graph/topo.h QPI_BW (not measured)"});
  std::vector<int> l3_key;
  std::vector<int> numa_key;
  for (const auto& core : found.cores) {
    l3_key.push_back(core.l3);
    numa_key.push_back(core.numa);
  }
  add_level(topology, "l3", l3_key);
  add_level(topology, "numa", numa_key);
  if (topology.levels.size() == 2 && topology.levels[0].groups.size() == topology.levels[1].groups.size())
    topology.levels.pop_back();  // one L3 per NUMA node: the same partition twice
  topology.compute_routes();
  return topology;
}

}  // namespace meshreduce
