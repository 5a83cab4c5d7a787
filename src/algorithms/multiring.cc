// multiring: ring allreduces on several rings at once, one per direction of each of the
// topology's edge-disjoint Hamiltonian cycles, so that every link carries data (NCCL runs 4 to 6
// rings on a DGX-1 for the same reason).
//
// How it works:
//   rings    the direct links between participating devices form a multigraph (a link of
//            count c is c parallel edges). A depth-first search finds a Hamiltonian cycle, removes
//            its edges, and repeats until no cycle is left (bounded search; the DGX-1 V100's 24
//            links decompose into 3 cycles, so 6 directed rings; the P100's 16 into 2, so 4).
//            Each cycle is used in both directions, since links are full duplex.
//   split    the buffer is divided among the directed rings in proportion to the bandwidth of
//            each ring's slowest hop.
//   each     ring runs the `ring` schedule (reduce-scatter then allgather, in chunks of 1 MiB
//            unless told otherwise) over its share, with devices in the ring's order.
// What it costs, for n bytes over R rings of equal bandwidth B per hop: every device sends
// 2(K-1)/K n bytes in all, as with one ring, but spread over its R outgoing ring links, so the
// time is about 2(K-1)/K n / (R B) + 2(K-1) alpha per chunk: R times one ring's bandwidth.
// It declines without a topology, or when the links admit no Hamiltonian cycle (a switch or a
// PCIe tree: use `ring`, whose messages follow the topology's routes).
#include "algorithms/multiring.h"

#include <algorithm>
#include <map>
#include <numeric>

#include "algorithms/ring.h"
#include "algorithms/slicing.h"

namespace meshreduce::detail {
namespace {

// Search steps allowed per cycle: enough for the small, regular graphs of GPU servers, and a
// bound on the time a pathological topology can take.
constexpr int kSearchBudget = 200000;
// Cycles kept at most (each gives two directed rings): NCCL runs up to 16 channels; beyond a
// few rings per device the per-message latency outweighs the bandwidth gained.
constexpr std::size_t kMaxCycles = 4;
// Default chunk: 1 MiB keeps a ring's links busy while earlier chunks are being reduced, with
// few enough messages that per-message latency stays small.
constexpr std::int64_t kDefaultChunkBytes = std::int64_t{1} << 20;

struct Multigraph {
  int size = 0;
  std::vector<std::vector<int>> edges;          // edges[a][b]: parallel edges left between a and b
  std::vector<std::vector<double>> unit_gbps;   // bandwidth of one edge between a and b
};

Multigraph build_graph(const AlgorithmRequest& request) {
  const int k = request.num_devices;
  Multigraph graph{k, std::vector<std::vector<int>>(k, std::vector<int>(k)),
                   std::vector<std::vector<double>>(k, std::vector<double>(k))};
  std::map<int, int> position;
  for (int p = 0; p < k; ++p) position[request.topology_devices[static_cast<std::size_t>(p)]] = p;
  for (const Link& link : request.topology->links) {
    const auto a = position.find(link.a);
    const auto b = position.find(link.b);
    if (a == position.end() || b == position.end()) continue;
    graph.edges[a->second][b->second] += link.count;
    graph.edges[b->second][a->second] += link.count;
    graph.unit_gbps[a->second][b->second] = graph.unit_gbps[b->second][a->second] = link.bandwidth_gbps;
  }
  return graph;
}

// Depth-first search for a Hamiltonian cycle through the edges left, starting at position 0.
bool extend(const Multigraph& graph, std::vector<int>& path, std::vector<bool>& used, int& budget) {
  if (--budget < 0) return false;
  const int last = path.back();
  if (static_cast<int>(path.size()) == graph.size) return graph.edges[last][path.front()] > 0;
  // Try neighbours with the most edges left first: they are the likeliest to stay usable.
  std::vector<int> next;
  for (int v = 0; v < graph.size; ++v)
    if (!used[v] && graph.edges[last][v] > 0) next.push_back(v);
  std::stable_sort(next.begin(), next.end(), [&](int a, int b) { return graph.edges[last][a] > graph.edges[last][b]; });
  for (int v : next) {
    path.push_back(v);
    used[v] = true;
    if (extend(graph, path, used, budget)) return true;
    used[v] = false;
    path.pop_back();
  }
  return false;
}

}  // namespace

std::vector<DirectedRing> find_rings(const AlgorithmRequest& request) {
  std::vector<DirectedRing> rings;
  if (request.topology == nullptr || request.num_devices < 3) return rings;
  Multigraph graph = build_graph(request);
  while (rings.size() < 2 * kMaxCycles) {
    std::vector<int> path{0};
    std::vector<bool> used(static_cast<std::size_t>(graph.size));
    used[0] = true;
    int budget = kSearchBudget;
    if (!extend(graph, path, used, budget)) break;
    double slowest = 0;
    for (std::size_t i = 0; i < path.size(); ++i) {
      const int a = path[i];
      const int b = path[(i + 1) % path.size()];
      --graph.edges[a][b];
      --graph.edges[b][a];
      const double gbps = graph.unit_gbps[a][b];
      slowest = i == 0 ? gbps : std::min(slowest, gbps);
    }
    std::vector<int> reverse(path.rbegin(), path.rend());
    std::rotate(reverse.begin(), reverse.end() - 1, reverse.end());  // start both at position 0
    rings.push_back({path, slowest});
    rings.push_back({reverse, slowest});
  }
  return rings;
}

std::optional<std::string> decline_multiring(const AlgorithmRequest& request) {
  if (auto reason = decline_without_devices(request)) return reason;
  if (request.num_devices < 3) return std::nullopt;  // one or two devices need no cycle
  if (request.topology == nullptr || request.topology_devices.size() != static_cast<std::size_t>(request.num_devices))
    return "needs the topology and the device of each position";
  if (find_rings(request).empty()) return "the direct links among the devices form no Hamiltonian cycle";
  return std::nullopt;
}

Schedule build_multiring(const AlgorithmRequest& request) {
  Schedule schedule = start_schedule("multiring", request);
  const std::int64_t n = request.count;
  if (n == 0) return schedule;
  std::vector<DirectedRing> rings = find_rings(request);
  if (rings.empty()) {  // one or two devices: the plain ring is the only ring
    std::vector<int> order(static_cast<std::size_t>(request.num_devices));
    std::iota(order.begin(), order.end(), 0);
    rings.push_back({order, 1.0});
  }
  const std::int64_t chunk = request.options.chunk_elements > 0
                                  ? request.options.chunk_elements
                                  : kDefaultChunkBytes / static_cast<std::int64_t>(dtype_size(request.dtype));
  double total = 0;
  for (const DirectedRing& ring : rings) total += ring.gbps;
  std::int64_t offset = 0;
  double share_before = 0;
  for (std::size_t r = 0; r < rings.size(); ++r) {
    share_before += rings[r].gbps;
    // Cumulative rounding keeps the shares summing to n exactly.
    const std::int64_t end = r + 1 == rings.size() ? n : static_cast<std::int64_t>(static_cast<double>(n) * share_before / total);
    append_ring(schedule, rings[r].order, {offset, end - offset}, chunk,
                request.rotation + static_cast<std::int64_t>(r), request.op == ReduceOp::average);
    offset = end;
  }
  return schedule;
}

}  // namespace meshreduce::detail
