// Routes: the path each ordered device pair's messages take, computed once when a topology is
// built or read, so the simulator and the executors never guess.
//
// The rule (Topology::compute_routes): breadth-first from the source device, passing only
// through nodes (a GPU or core does not forward traffic: on a DGX-1, GPUs 0 and 5 have no NVLink
// and talk over PCIe switch, CPU, QPI, CPU, PCIe switch, not through GPU 4). Among the paths of
// fewest hops, the largest bottleneck effective bandwidth (effective rate * count) wins; remaining ties go to
// the lowest-indexed last link, whose far end is reached by its own best path.
//
// With Topology::nic_relay (NCCL's PXN), a second pass revisits the routes that cross the
// network: a GPU whose only way to a NIC crosses the CPUs' QPI link (6 GB/s on a DGX-1) may hand
// its data over NVLink to a GPU next to a NIC, which sends it on; the receiving side may do the
// same. Such a route joins plain routes (to the relay, between the relays, from the relay) and
// replaces the plain one only when its bottleneck is wider.
#include <algorithm>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "meshreduce/error.h"
#include "meshreduce/topology.h"

namespace meshreduce {
namespace {

bool crosses(const Topology& topology, const Route& route, std::initializer_list<LinkKind> kinds) {
  return std::any_of(route.links.begin(), route.links.end(), [&](int l) {
    const LinkKind kind = topology.links[static_cast<std::size_t>(l)].kind;
    return std::find(kinds.begin(), kinds.end(), kind) != kinds.end();
  });
}

bool over_nvlink_only(const Topology& topology, const Route& route) {
  return std::all_of(route.links.begin(), route.links.end(), [&](int l) {
    const LinkKind kind = topology.links[static_cast<std::size_t>(l)].kind;
    return kind == LinkKind::nvlink || kind == LinkKind::nvswitch;
  });
}

// The relayed route src -> r1 -> ... -> r2 -> dst for every route that crosses the network,
// where that is wider (the rule in topology.h). `fixed` routes (given by a file) are left as
// they are.
void relay_network_routes(Topology& topology, const std::set<std::pair<int, int>>& fixed) {
  const std::size_t k = topology.devices.size();
  std::map<int, std::size_t> dense;
  for (std::size_t d = 0; d < k; ++d) dense.emplace(topology.devices[d].id, d);
  // Plain routes and their widths by dense pair; a device's relays: itself and the devices its
  // plain route reaches over NVLink or NVSwitch only.
  std::vector<const Route*> plain(k * k, nullptr);
  std::vector<double> width(k * k, 0.0);
  std::vector<std::vector<std::size_t>> relays(k);
  for (std::size_t d = 0; d < k; ++d) relays[d].push_back(d);
  for (const Route& route : topology.routes) {
    const std::size_t a = dense.at(route.src);
    const std::size_t b = dense.at(route.dst);
    plain[a * k + b] = &route;
    width[a * k + b] = topology.route_bandwidth_gbps(route);
    if (over_nvlink_only(topology, route)) relays[a].push_back(b);
  }
  const auto join = [&](int src, int dst, std::initializer_list<const Route*> parts) {
    Route joined{src, dst, {}};
    for (const Route* part : parts)
      if (part != nullptr) joined.links.insert(joined.links.end(), part->links.begin(), part->links.end());
    return joined;
  };
  std::vector<Route> relayed;
  for (const Route& route : topology.routes) {
    if (fixed.contains({route.src, route.dst}) || !crosses(topology, route, {LinkKind::network})) continue;
    const std::size_t src = dense.at(route.src);
    const std::size_t dst = dense.at(route.dst);
    std::optional<Route> best;
    double best_gbps = width[src * k + dst];
    for (std::size_t r1 : relays[src])
      for (std::size_t r2 : relays[dst]) {
        if ((r1 == src && r2 == dst) || r1 == r2) continue;
        const double gbps = std::min({r1 == src ? 1e300 : width[src * k + r1], width[r1 * k + r2],
                                      r2 == dst ? 1e300 : width[r2 * k + dst]});
        if (gbps < best_gbps || (gbps == best_gbps && !best)) continue;
        // r2 -> dst is a plain route from r2: relays[dst] holds dst's NVLink peers, whose way
        // back is NVLink as well (links are full duplex).
        const Route* back = r2 == dst ? nullptr : plain[r2 * k + dst];
        if ((r1 != src && plain[src * k + r1] == nullptr) || plain[r1 * k + r2] == nullptr || (r2 != dst && back == nullptr))
          continue;
        Route candidate = join(route.src, route.dst, {r1 == src ? nullptr : plain[src * k + r1], plain[r1 * k + r2], back});
        if (gbps == best_gbps && candidate.links.size() >= best->links.size()) continue;
        const std::vector<int> path = topology.route_path(candidate);
        if (std::set<int>(path.begin(), path.end()).size() != path.size()) continue;
        best = std::move(candidate);
        best_gbps = gbps;
      }
    if (best) relayed.push_back(std::move(*best));
  }
  std::map<std::pair<int, int>, std::size_t> index;
  for (std::size_t i = 0; i < topology.routes.size(); ++i) index[{topology.routes[i].src, topology.routes[i].dst}] = i;
  for (Route& route : relayed) topology.routes[index.at({route.src, route.dst})] = std::move(route);
}

}  // namespace

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
  if (nic_relay) relay_network_routes(*this, known);
}

}  // namespace meshreduce
