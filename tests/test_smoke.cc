#include <gtest/gtest.h>

#include <vector>

#include "meshreduce/meshreduce.h"
#include "test_support.h"

namespace meshreduce {
namespace {

TEST(Smoke, SeedShapeSumsEightDevices) {
  std::vector<std::vector<float>> data(8, std::vector<float>(5));
  for (int k = 0; k < 8; ++k)
    for (int i = 0; i < 5; ++i) data[k][i] = static_cast<float>(testing::input_value(k, 0, i));
  std::vector<std::vector<TensorView>> grads(8);
  for (int k = 0; k < 8; ++k) grads[k].push_back(TensorView(std::span(data[k])));
  const std::vector<int> devices{0, 1, 2, 3, 4, 5, 6, 7};
  allreduce_grads_hierarchical(grads, devices, false);
  for (int k = 0; k < 8; ++k)
    for (int i = 0; i < 5; ++i)
      EXPECT_EQ(data[k][i], testing::expected_value(DType::f32, ReduceOp::sum, 8, 0, i))
          << "device " << k << " element " << i;
}

}  // namespace
}  // namespace meshreduce
