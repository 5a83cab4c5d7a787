// Routes: the path each ordered device pair's messages take, computed once when a topology is
// built or read, so the simulator and the executors never guess.
//
// The rule (Topology::compute_routes): breadth-first from the source device, passing only
// through nodes (a GPU or core does not forward traffic: on a DGX-1, GPUs 0 and 5 have no NVLink
// and talk over PCIe switch, CPU, QPI, CPU, PCIe switch, not through GPU 4). Among the paths of
// fewest hops, the largest bottleneck effective bandwidth (effective rate * count) wins; remaining ties go to
// the lowest-indexed last link, whose far end is reached by its own best path.
#include <algorithm>
#include <limits>
#include <map>
#include <set>
#include <string>

#include "meshreduce/error.h"
#include "meshreduce/topology.h"

namespace meshreduce {

void Topology::compute_routes() {
  // Dense indices over devices then nodes.
  std::map<int, int> dense;
  std::vector<bool> forwards;  // may a path pass through it?
  for (const Device& device : devices) {
    dense.emplace(device.id, static_cast<int>(forwards.size()));
    forwards.push_back(false);
  }
  for (const Device& node : nodes) {
    dense.emplace(node.id, static_cast<int>(forwards.size()));
    forwards.push_back(true);
  }
  const auto vertex_count = forwards.size();
  struct Edge { int link, to; };
  std::vector<std::vector<Edge>> adjacent(vertex_count);
  for (std::size_t l = 0; l < links.size(); ++l) {
    const auto a = dense.find(links[l].a);
    const auto b = dense.find(links[l].b);
    if (a == dense.end() || b == dense.end() || a->second == b->second) continue;  // validate() reports it
    adjacent[static_cast<std::size_t>(a->second)].push_back({static_cast<int>(l), b->second});
    adjacent[static_cast<std::size_t>(b->second)].push_back({static_cast<int>(l), a->second});
  }
  std::vector<int> id_of(vertex_count);
  for (const auto& [id, index] : dense) id_of[static_cast<std::size_t>(index)] = id;

  std::set<std::pair<int, int>> known;
  for (const Route& r : routes) known.insert({r.src, r.dst});

  constexpr int kUnreached = std::numeric_limits<int>::max();
  for (std::size_t s = 0; s < devices.size(); ++s) {
    // Breadth-first layers; `via` keeps the chosen last link into each vertex.
    std::vector<int> hops(vertex_count, kUnreached);
    std::vector<double> bottleneck(vertex_count, 0.0);
    std::vector<int> via(vertex_count, -1);
    std::vector<int> parent(vertex_count, -1);
    hops[s] = 0;
    bottleneck[s] = std::numeric_limits<double>::infinity();
    std::vector<int> layer{static_cast<int>(s)};
    while (!layer.empty()) {
      std::vector<int> next;
      for (int u : layer) {
        if (u != static_cast<int>(s) && !forwards[static_cast<std::size_t>(u)]) continue;
        for (const Edge& edge : adjacent[static_cast<std::size_t>(u)]) {
          const auto v = static_cast<std::size_t>(edge.to);
          const Link& link = links[static_cast<std::size_t>(edge.link)];
          const double width = std::min(bottleneck[static_cast<std::size_t>(u)], link.effective_gbps() * link.count);
          if (hops[v] == kUnreached) {
            hops[v] = hops[static_cast<std::size_t>(u)] + 1;
            next.push_back(edge.to);
          } else if (hops[v] != hops[static_cast<std::size_t>(u)] + 1) {
            continue;
          } else if (width < bottleneck[v] || (width == bottleneck[v] && edge.link >= via[v])) {
            continue;
          }
          bottleneck[v] = width;
          via[v] = edge.link;
          parent[v] = u;
        }
      }
      layer = std::move(next);
    }
    const int src = devices[s].id;
    for (std::size_t d = 0; d < devices.size(); ++d) {
      const int dst = devices[d].id;
      if (d == s || hops[d] == kUnreached || known.contains({src, dst})) continue;
      Route r{src, dst, {}};
      for (int v = static_cast<int>(d); v != static_cast<int>(s); v = parent[static_cast<std::size_t>(v)])
        r.links.push_back(via[static_cast<std::size_t>(v)]);
      std::reverse(r.links.begin(), r.links.end());
      routes.push_back(std::move(r));
    }
  }
  std::sort(routes.begin(), routes.end(),
            [](const Route& x, const Route& y) { return std::pair(x.src, x.dst) < std::pair(y.src, y.dst); });
}

}  // namespace meshreduce
