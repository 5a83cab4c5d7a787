// Algorithms: pure functions from a request to a Schedule over one buffer. Each one names
// itself, says in one line what it does, and declines requests it cannot serve.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "meshreduce/schedule.h"
#include "meshreduce/topology.h"
#include "meshreduce/types.h"

namespace meshreduce {

struct AlgorithmOptions {
  // Upper bound on the elements of one pipelined chunk; 0 lets the algorithm choose. Tests set
  // it small so that pipelined paths run on small data. A buffer is cut into at most 1024
  // chunks (per ring, tree or block list): a longer one takes longer chunks.
  std::int64_t chunk_elements = 0;
};

struct AlgorithmRequest {
  int num_devices = 0;  // K; the schedule's devices are positions 0..K-1
  // Partition of the positions into groups, each in increasing order; algorithms without a
  // hierarchy ignore it. Empty means one group of all devices.
  std::vector<std::vector<int>> groups;
  const Topology* topology = nullptr;  // may be null
  std::vector<int> topology_devices;   // position -> topology device id (empty with no topology)
  std::int64_t count = 0;              // elements of the buffer to reduce
  DType dtype = DType::f32;
  ReduceOp op = ReduceOp::sum;
  std::int64_t rotation = 0;  // bucket index: which devices act as mains for this buffer
  AlgorithmOptions options;
};

struct Algorithm {
  std::string_view name;
  std::string_view description;
  // Why the algorithm cannot serve a request, or nullopt when it can.
  std::optional<std::string> (*decline)(const AlgorithmRequest&);
  Schedule (*build)(const AlgorithmRequest&);
};

// Every algorithm meshreduce carries, in a fixed order.
std::span<const Algorithm> algorithms();
// Throws InvalidArgument naming the unknown name and listing the known ones.
const Algorithm& find_algorithm(std::string_view name);
// Build, or throw Unsupported with the algorithm's reason.
Schedule build_schedule(const Algorithm& algorithm, const AlgorithmRequest& request);

}  // namespace meshreduce
