// Device ids are labels (issue 9, item 6): any distinct ints in any order; nothing is sized or
// indexed by their values, so {0..6, 100000} costs what {0..7} costs and gives the same bits.
#include <gtest/gtest.h>

#include <chrono>
#include <climits>
#include <cstdint>
#include <vector>

#include "meshreduce/c_api.h"
#include "meshreduce/meshreduce.h"
#include "test_support.h"

namespace meshreduce {
namespace {

using testing::DeviceBuffers;
using testing::expect_contains;
using testing::thrown_message;

constexpr int kDevices = 8;

// Small integers that differ per device, tensor and element, so every sum is exact and a wrong
// range or a wrong device shows.
double value(int k, int n, std::int64_t i) {
  return static_cast<double>(((k + 1) * 131 + (n + 1) * 17 + i * 7919) % 1009 - 504);
}

DeviceBuffers filled(int devices) {
  DeviceBuffers buffers(devices, {{1000, DType::f32}, {37, DType::f32}, {1, DType::f32}});
  for (int k = 0; k < devices; ++k)
    for (int n = 0; n < buffers.tensors(); ++n)
      for (std::int64_t i = 0; i < buffers.shape(n).count; ++i)
        testing::store_value(buffers.input(k, n), i, DType::f32, value(k, n, i));
  return buffers;
}

void expect_sums(DeviceBuffers& buffers) {
  for (int n = 0; n < buffers.tensors(); ++n)
    for (std::int64_t i = 0; i < buffers.shape(n).count; ++i) {
      double sum = 0;
      for (int k = 0; k < buffers.devices(); ++k) sum += value(k, n, i);
      for (int k = 0; k < buffers.devices(); ++k)
        ASSERT_EQ(testing::load_value(buffers.input(k, n), i, DType::f32), sum)
            << "device " << k << " tensor " << n << " element " << i;
    }
}

// A ceiling far above the call's time (about 1 ms here) and far below what sizing by id cost
// (12 s at id 4000): a unit test on a shared machine must not fail on another tenant's load. The
// issue's 10 ms figure is a measurement (docs/limits.md), not this test's limit.
constexpr double kFastSeconds = 1.0;

TEST(DeviceIds, HierarchicalWithAHugeIdIsFastAndExact) {
  // Sized by the largest id, this call once took 12 s at 4000 and threw std::bad_alloc here.
  DeviceBuffers buffers = filled(kDevices);
  auto grads = buffers.inplace_views();
  const std::vector<int> ids{0, 1, 2, 3, 4, 5, 6, 100000};
  const auto start = std::chrono::steady_clock::now();
  allreduce_grads_hierarchical(grads, ids);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  expect_sums(buffers);
  EXPECT_LT(seconds, kFastSeconds);
}

TEST(DeviceIds, AnyIntsInAnyOrderGiveTheBitsOfPositionalIds) {
  DeviceBuffers labelled = filled(kDevices);
  DeviceBuffers positional = filled(kDevices);
  auto labelled_grads = labelled.inplace_views();
  auto positional_grads = positional.inplace_views();
  const std::vector<int> ids{INT_MAX, -5, 3, INT_MIN, 0, 100000, 7, 2};
  allreduce_grads_hierarchical(labelled_grads, ids, /*average=*/true);
  allreduce_grads_hierarchical(positional_grads, testing::iota_devices(kDevices), /*average=*/true);
  EXPECT_EQ(labelled.snapshot(), positional.snapshot());
}

TEST(DeviceIds, CommunicatorWithoutTopologyTakesExtremeIds) {
  CommunicatorOptions options;
  options.devices = {INT_MAX, INT_MIN};
  options.algorithm = "ring";
  Communicator communicator(options);
  EXPECT_EQ(communicator.size(), 2);
  DeviceBuffers buffers = filled(2);
  auto grads = buffers.inplace_views();
  communicator.allreduce(grads);
  expect_sums(buffers);
}

TEST(DeviceIds, DuplicateIdIsInvalidArgumentNamingItAndBothPositions) {
  DeviceBuffers buffers = filled(4);
  auto grads = buffers.inplace_views();
  const std::vector<int> ids{100000, 7, -3, 7};
  expect_contains(thrown_message<InvalidArgument>([&] { allreduce_grads_hierarchical(grads, ids); }),
                  {"device 7 appears twice", "positions 1 and 3"});
}

TEST(DeviceIds, IdsOutsideTheGivenTopologyAreInvalidArgumentNamingThem) {
  for (const int id : {100000, -1, INT_MAX}) {
    CommunicatorOptions options;
    options.topology = dgx1_v100();
    options.devices = {0, 1, id, 3};
    expect_contains(thrown_message<InvalidArgument>([&] { Communicator communicator(options); }),
                    {"position 2 names device " + std::to_string(id), "topology does not have"});
  }
}

TEST(DeviceIds, TopologyIdsNeedNotStartAtZeroOrBeDense) {
  // A topology file may number its devices freely; the groups follow the ids, not the order.
  Topology topology = flat_topology(4);
  const int ids[] = {40, 1000, -7, 5};
  for (std::size_t d = 0; d < 4; ++d) topology.devices[d].id = ids[d];
  for (Link& link : topology.links) {
    link.a = ids[static_cast<std::size_t>(link.a)];
    link.b = ids[static_cast<std::size_t>(link.b)];
  }
  topology.routes.clear();
  topology.levels.push_back({"pair", {{40, 5}, {1000, -7}}});
  topology.compute_routes();
  CommunicatorOptions options;
  options.topology = topology;
  options.devices = {5, 1000, 40, -7};
  options.algorithm = "hierarchical";
  Communicator communicator(options);
  EXPECT_EQ(communicator.groups(), (std::vector<std::vector<int>>{{0, 2}, {1, 3}}));
  DeviceBuffers buffers = filled(4);
  auto grads = buffers.inplace_views();
  communicator.allreduce(grads);
  expect_sums(buffers);
}

TEST(DeviceIds, CApiTakesLabelsAndNamesADuplicate) {
  DeviceBuffers buffers = filled(kDevices);
  std::vector<std::vector<meshreduce_tensor>> tensors(kDevices);
  std::vector<const meshreduce_tensor*> lists;
  for (int k = 0; k < kDevices; ++k) {
    for (int n = 0; n < buffers.tensors(); ++n)
      tensors[static_cast<std::size_t>(k)].push_back({buffers.input(k, n), buffers.shape(n).count, MESHREDUCE_F32});
    lists.push_back(tensors[static_cast<std::size_t>(k)].data());
  }
  std::vector<int> ids{0, 1, 2, 3, 4, 5, 6, 100000};
  char error[256] = "";
  ASSERT_EQ(meshreduce_allreduce_grads_hierarchical(lists.data(), nullptr, kDevices, buffers.tensors(), ids.data(), 0,
                                                    error, sizeof error),
            MESHREDUCE_OK)
      << error;
  expect_sums(buffers);
  ids[3] = 100000;
  EXPECT_EQ(meshreduce_allreduce_grads_hierarchical(lists.data(), nullptr, kDevices, buffers.tensors(), ids.data(), 0,
                                                    error, sizeof error),
            MESHREDUCE_INVALID_ARGUMENT);
  expect_contains(error, {"device 100000 appears twice", "positions 3 and 7"});
}

}  // namespace
}  // namespace meshreduce
