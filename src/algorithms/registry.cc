// The table of algorithms. Adding one means adding a row here and a file beside this one.
#include <array>
#include <string>

#include "algorithms/dgx1_hierarchical.h"
#include "algorithms/direct.h"
#include "algorithms/halving_doubling.h"
#include "algorithms/hierarchical.h"
#include "algorithms/hierarchical_rs.h"
#include "algorithms/multiring.h"
#include "algorithms/nic_rings.h"
#include "algorithms/ring.h"
#include "algorithms/tree.h"
#include "meshreduce/algorithm.h"
#include "meshreduce/error.h"

namespace meshreduce {
namespace {

Schedule build_hierarchical_named(const AlgorithmRequest& request) {
  Schedule schedule = detail::build_hierarchical(request);
  schedule.algorithm = "hierarchical";
  return schedule;
}

constexpr std::array kAlgorithms{
    Algorithm{"dgx1-hierarchical",
              "the seed: tensorpack's DGX-1 hierarchical allreduce, bitwise (8 devices, halves 0-3/4-7)",
              &detail::decline_dgx1_hierarchical, &detail::build_dgx1_hierarchical},
    Algorithm{"hierarchical",
              "the seed generalized: per group reduce to a rotating main, combine mains, copy back",
              &detail::decline_hierarchical, &build_hierarchical_named},
    Algorithm{"ring", "reduce-scatter then allgather around a ring, chunked and pipelined; bandwidth-optimal",
              &detail::decline_ring, &detail::build_ring},
    Algorithm{"hierarchical-rs",
              "reduce-scatter in each group, allreduce of each slice across groups (and levels), allgather in each group",
              &detail::decline_hierarchical_rs, &detail::build_hierarchical_rs},
    Algorithm{"tree", "double binary tree: half the data up and down each of two trees, pipelined by chunks",
              &detail::decline_tree, &detail::build_tree},
    Algorithm{"halving-doubling",
              "Rabenseifner: recursive-halving reduce-scatter, recursive-doubling allgather, fold for non-powers of 2",
              &detail::decline_halving_doubling, &detail::build_halving_doubling},
    Algorithm{"direct", "every device reduces 1/K of the data from all inputs and writes it to all outputs",
              &detail::decline_direct, &detail::build_direct},
    Algorithm{"multiring", "rings on every edge-disjoint Hamiltonian cycle of the topology's links, both directions",
              &detail::decline_multiring, &detail::build_multiring},
    Algorithm{"nic-rings", "across machines: one pipelined ring per NIC, entering and leaving each machine next to its NIC",
              &detail::decline_nic_rings, &detail::build_nic_rings},
};

}  // namespace

std::span<const Algorithm> algorithms() { return kAlgorithms; }

const Algorithm& find_algorithm(std::string_view name) {
  for (const Algorithm& algorithm : kAlgorithms)
    if (algorithm.name == name) return algorithm;
  std::string known;
  for (const Algorithm& algorithm : kAlgorithms) known += " " + std::string(algorithm.name);
  throw InvalidArgument("unknown algorithm '" + std::string(name) + "' (known:" + known + ")");
}

Schedule build_schedule(const Algorithm& algorithm, const AlgorithmRequest& request) {
  if (request.count < 0)
    throw InvalidArgument("algorithm " + std::string(algorithm.name) + ": element count " +
                          std::to_string(request.count) + " < 0");
  if (auto reason = algorithm.decline(request))
    throw Unsupported("algorithm " + std::string(algorithm.name) + " cannot serve " +
                      std::to_string(request.num_devices) + " devices: " + *reason);
  return algorithm.build(request);
}

}  // namespace meshreduce
