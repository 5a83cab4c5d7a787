// Bad input (issue 2, item 8): every case throws a typed error whose message names the device, the
// tensor and both conflicting values, and no input or output byte has been written.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "meshreduce/meshreduce.h"
#include "test_support.h"

namespace meshreduce {
namespace {

using testing::Bytes;
using testing::DeviceBuffers;
using testing::expect_contains;
using testing::thrown_message;

constexpr int kDevices = 4;

// Four devices with three f32 tensors of 5, 7 and 3 elements; inputs that differ per device,
// tensor and element (testing::input_value), patterned outputs.
class BadInput : public ::testing::Test {
 protected:
  BadInput() : buffers_(kDevices, {{5, DType::f32}, {7, DType::f32}, {3, DType::f32}}) {
    testing::fill_inputs(buffers_);
    buffers_.poison_outputs(0x5c);
    spare_.assign(64, std::byte{0x3c});
    before_ = buffers_.snapshot();
    spare_before_ = spare_;
  }

  static Communicator communicator(std::string algorithm = "hierarchical") {
    CommunicatorOptions options;
    options.devices = testing::iota_devices(kDevices);
    options.groups = halves(kDevices);
    options.algorithm = std::move(algorithm);
    return Communicator(std::move(options));
  }

  // Runs `body`, expects an `E` whose message holds every part, then checks no byte was written.
  template <typename E = InvalidArgument>
  void expect_error(const std::function<void()>& body, std::initializer_list<std::string> parts) {
    const std::string message = thrown_message<E>(body);
    expect_contains(message, parts);
    expect_untouched();
  }

  void expect_untouched() {
    const auto now = buffers_.snapshot();
    ASSERT_EQ(now.size(), before_.size());
    for (std::size_t b = 0; b < now.size(); ++b) EXPECT_EQ(now[b], before_[b]) << "buffer " << b << " was written";
    EXPECT_EQ(spare_, spare_before_) << "the spare buffer was written";
  }

  DeviceBuffers buffers_;
  Bytes spare_;  // extra memory some cases point a tensor at
  std::vector<Bytes> before_;
  Bytes spare_before_;
};

const std::vector<int> kDeviceIds{0, 1, 2, 3};

// ---- K lists of N tensors --------------------------------------------------------------------

TEST_F(BadInput, TooFewDeviceLists) {
  auto grads = buffers_.inplace_views();
  grads.pop_back();
  Communicator comm = communicator();
  expect_error([&] { comm.allreduce(grads); }, {"got 3 lists", "for 4 devices"});
  auto inputs = buffers_.input_views();
  inputs.pop_back();
  expect_error([&] { comm.allreduce(inputs, buffers_.output_views()); }, {"got 3 lists", "for 4 devices"});
  auto outputs = buffers_.output_views();
  outputs.pop_back();
  expect_error([&] { comm.allreduce(buffers_.input_views(), outputs); }, {"3 lists of output tensors", "4 devices"});
}

TEST_F(BadInput, TooManyDeviceLists) {
  auto grads = buffers_.inplace_views();
  grads.push_back(grads.back());
  Communicator comm = communicator();
  expect_error([&] { comm.allreduce(grads); }, {"got 5 lists", "for 4 devices"});
}

TEST_F(BadInput, DeviceListSizeDiffersFromTheNumberOfGradientLists) {
  const std::vector<int> three{0, 1, 2};
  expect_error([&] { allreduce_grads_hierarchical(buffers_.inplace_views(), three); },
               {"device list has 3 entries", "4 lists"});
  expect_error([&] { allreduce_grads_hierarchical(buffers_.input_views(), buffers_.output_views(), three, true); },
               {"device list has 3 entries", "4 lists"});
  const std::vector<int> five{0, 1, 2, 3, 4};
  expect_error([&] { allreduce_grads_hierarchical(buffers_.inplace_views(), five); },
               {"device list has 5 entries", "4 lists"});
}

TEST_F(BadInput, NoDevicesAtAll) {
  const std::vector<std::vector<TensorView>> none;
  expect_error([&] { allreduce_grads_hierarchical(none, std::vector<int>{}); }, {"at least one device"});
}

TEST_F(BadInput, DeviceWithADifferentTensorCount) {
  auto grads = buffers_.inplace_views();
  grads[2].pop_back();
  Communicator comm = communicator();
  expect_error([&] { comm.allreduce(grads); }, {"device 2 has 2 tensors", "device 0 has 3"});
  expect_error([&] { allreduce_grads_hierarchical(grads, kDeviceIds); }, {"device 2 has 2 tensors", "device 0 has 3"});
  // Device 0 is the odd one out.
  grads = buffers_.inplace_views();
  grads[0].pop_back();
  expect_error([&] { comm.allreduce(grads); }, {"device 1 has 3 tensors", "device 0 has 2"});
}

TEST_F(BadInput, OutputListWithADifferentTensorCount) {
  auto outputs = buffers_.output_views();
  outputs[3].push_back(outputs[3].back());
  Communicator comm = communicator();
  expect_error([&] { comm.allreduce(buffers_.input_views(), outputs); },
               {"device 3 has 4 output tensors", "3 input tensors"});
}

// ---- Tensor n alike on every device ------------------------------------------------------------

TEST_F(BadInput, ElementCountMismatchBetweenDevices) {
  auto grads = buffers_.inplace_views();
  grads[2][1].count = 6;
  Communicator comm = communicator();
  expect_error([&] { comm.allreduce(grads); }, {"tensor 1 on device 2", "has 6 elements", "device 0 has 7"});
  expect_error([&] { allreduce_grads_hierarchical(grads, kDeviceIds, true); },
               {"tensor 1 on device 2", "has 6 elements", "device 0 has 7"});
  auto inputs = buffers_.input_views();
  inputs[3][0].count = 4;
  expect_error([&] { comm.allreduce(inputs, buffers_.output_views()); },
               {"tensor 0 on device 3", "has 4 elements", "device 0 has 5"});
}

TEST_F(BadInput, DtypeMismatchBetweenDevices) {
  auto grads = buffers_.inplace_views();
  grads[3][2] = TensorView(spare_.data(), 3, DType::f64);
  Communicator comm = communicator();
  expect_error([&] { comm.allreduce(grads); }, {"tensor 2 on device 3", "is f64", "device 0 is f32"});
  grads = buffers_.inplace_views();
  grads[1][0].dtype = DType::i32;  // same size, other type
  expect_error([&] { comm.allreduce(grads); }, {"tensor 0 on device 1", "is i32", "device 0 is f32"});
  expect_error([&] { allreduce_grads_hierarchical(grads, kDeviceIds); },
               {"tensor 0 on device 1", "is i32", "device 0 is f32"});
}

TEST_F(BadInput, NullDataOnANonEmptyTensor) {
  auto grads = buffers_.inplace_views();
  grads[1][0].data = nullptr;
  Communicator comm = communicator();
  expect_error([&] { comm.allreduce(grads); }, {"tensor 0 on device 1", "null data", "5 elements"});
  auto outputs = buffers_.output_views();
  outputs[2][1].data = nullptr;
  expect_error([&] { comm.allreduce(buffers_.input_views(), outputs); },
               {"output tensor 1 on device 2", "null data", "7 elements"});
  auto inputs = buffers_.input_views();
  inputs[0][2].data = nullptr;
  expect_error([&] { comm.allreduce(inputs, buffers_.output_views()); },
               {"tensor 2 on device 0", "null data", "3 elements"});
}

TEST_F(BadInput, NegativeElementCount) {
  auto grads = buffers_.inplace_views();
  grads[2][1].count = -2;
  Communicator comm = communicator();
  expect_error([&] { comm.allreduce(grads); }, {"tensor 1 on device 2", "negative element count -2"});
  grads = buffers_.inplace_views();
  for (auto& device : grads) device[1].count = -7;
  expect_error([&] { comm.allreduce(grads); }, {"tensor 1 on device 0", "negative element count -7"});
  expect_error([&] { allreduce_grads_hierarchical(grads, kDeviceIds); },
               {"tensor 1 on device 0", "negative element count -7"});
}

// ---- Outputs shaped like the inputs, overlapping nothing -----------------------------------------

TEST_F(BadInput, OutputElementCountDiffersFromInput) {
  auto outputs = buffers_.output_views();
  outputs[1][2].count = 2;
  Communicator comm = communicator();
  expect_error([&] { comm.allreduce(buffers_.input_views(), outputs); },
               {"output tensor 2 on device 1", "has 2 elements", "its input has 3"});
  expect_error([&] { allreduce_grads_hierarchical(buffers_.input_views(), outputs, kDeviceIds); },
               {"output tensor 2 on device 1", "has 2 elements", "its input has 3"});
}

TEST_F(BadInput, OutputDtypeDiffersFromInput) {
  auto outputs = buffers_.output_views();
  outputs[1][2].dtype = DType::i32;
  Communicator comm = communicator();
  expect_error([&] { comm.allreduce(buffers_.input_views(), outputs); },
               {"output tensor 2 on device 1", "is i32", "its input is f32"});
}

TEST_F(BadInput, OutputsOverlapEachOther) {
  auto outputs = buffers_.output_views();
  // Output 1 of device 2 starts one element into output 0 of device 1.
  outputs[2][1].data = static_cast<float*>(outputs[1][0].data) + 1;
  outputs[2][1].count = 3;
  outputs[2][1].dtype = DType::f32;
  for (int k = 0; k < kDevices; ++k) outputs[k][1].count = 3;  // keep the shapes consistent
  auto inputs = buffers_.input_views();
  for (int k = 0; k < kDevices; ++k) inputs[k][1].count = 3;
  Communicator comm = communicator();
  expect_error([&] { comm.allreduce(inputs, outputs); },
               {"output tensor 1 on device 2", "output tensor 0 on device 1", "overlaps"});
}

TEST_F(BadInput, InPlaceTensorsOverlapEachOther) {
  auto grads = buffers_.inplace_views();
  grads[3][0].data = grads[1][0].data;  // two devices handing over the same memory
  Communicator comm = communicator();
  expect_error([&] { comm.allreduce(grads); }, {"tensor 0 on device 3", "tensor 0 on device 1", "overlaps"});
  expect_error([&] { allreduce_grads_hierarchical(grads, kDeviceIds); },
               {"tensor 0 on device 3", "tensor 0 on device 1", "overlaps"});
}

TEST_F(BadInput, OutputOverlapsAnotherTensorsInput) {
  auto outputs = buffers_.output_views();
  outputs[0][2].data = buffers_.input(3, 1);  // 3 elements inside device 3's 7-element input 1
  Communicator comm = communicator();
  expect_error([&] { comm.allreduce(buffers_.input_views(), outputs); },
               {"output tensor 2 on device 0", "input tensor 1 on device 3", "overlaps"});
  // The same device's other input.
  outputs = buffers_.output_views();
  outputs[2][0].data = buffers_.input(2, 1);
  expect_error([&] { allreduce_grads_hierarchical(buffers_.input_views(), outputs, kDeviceIds); },
               {"output tensor 0 on device 2", "input tensor 1 on device 2", "overlaps"});
}

TEST_F(BadInput, OutputPartlyOverlapsItsOwnInput) {
  auto outputs = buffers_.output_views();
  auto inputs = buffers_.input_views();
  // Input 1 of device 1 is elements 0..5 of its array, the output elements 1..6: not in place.
  inputs[1][1].data = buffers_.input(1, 1);
  outputs[1][1].data = buffers_.input(1, 1) + sizeof(float);
  for (int k = 0; k < kDevices; ++k) {
    inputs[k][1].count = 6;
    outputs[k][1].count = 6;
  }
  Communicator comm = communicator();
  expect_error([&] { comm.allreduce(inputs, outputs); },
               {"output tensor 1 on device 1", "input tensor 1 on device 1", "overlaps"});
}

// ---- The device list -----------------------------------------------------------------------------

TEST_F(BadInput, DuplicateDevice) {
  const std::vector<int> duplicate{0, 2, 2, 1};
  expect_error([&] { allreduce_grads_hierarchical(buffers_.inplace_views(), duplicate); },
               {"device 2 appears twice", "positions 1 and 2"});
  expect_error([&] { allreduce_grads_hierarchical(buffers_.input_views(), buffers_.output_views(), duplicate); },
               {"device 2 appears twice", "positions 1 and 2"});
  CommunicatorOptions options;
  options.topology = dgx1_v100();
  options.devices = {5, 1, 7, 5};
  expect_error([&] { Communicator comm(options); }, {"device 5 appears twice", "positions 0 and 3"});
}

TEST_F(BadInput, DeviceTheTopologyLacks) {
  CommunicatorOptions options;
  options.topology = dgx1_v100();
  options.devices = {0, 1, 9, 3};
  expect_error([&] { Communicator comm(options); }, {"position 2", "device 9"});
  // Without a topology ids are labels and -1 is one (test_ids.cc); a topology has no device -1.
  options.devices = {0, -1, 2, 3};
  expect_error([&] { Communicator comm(options); }, {"position 1", "device -1"});
}

TEST_F(BadInput, CommunicatorWithoutTopologyOrDevices) {
  expect_error([&] { Communicator comm(CommunicatorOptions{}); }, {"topology or a device list"});
}

// ---- Algorithm and groups --------------------------------------------------------------------------

TEST_F(BadInput, UnknownAlgorithm) {
  expect_error([&] { communicator("ring-of-fire"); }, {"unknown algorithm 'ring-of-fire'", "hierarchical"});
}

TEST_F(BadInput, GroupsThatAreNotAPartition) {
  struct Bad {
    std::vector<std::vector<int>> groups;
    std::string says;
  };
  const std::vector<Bad> cases{
      {{{0, 1}, {2}}, "device 3 is in no group"},
      {{{0, 1}, {1, 2, 3}}, "device 1 is in group 0 and in group 1"},
      {{{0, 1}, {2, 3, 4}}, "names device 4"},
      {{{0, 1}, {-1, 2, 3}}, "names device -1"},
      {{{0, 1}, {}, {2, 3}}, "group 1 is empty"},
      {{{1, 0}, {2, 3}}, "increasing"},
  };
  for (const Bad& bad : cases) {
    SCOPED_TRACE(bad.says);
    CommunicatorOptions options;
    options.devices = kDeviceIds;
    options.groups = bad.groups;
    expect_error([&] { Communicator comm(options); }, {"not a partition of the 4 devices", bad.says});
    expect_error([&] { allreduce_grads_hierarchical(buffers_.inplace_views(), kDeviceIds, false, bad.groups); },
                 {"not a partition", bad.says});
  }
}

TEST_F(BadInput, Dgx1HierarchicalNeedsEightDevices) {
  for (int devices : {4, 7, 16}) {
    SCOPED_TRACE(std::to_string(devices) + " devices");
    CommunicatorOptions options;
    if (devices == 7) {  // seven GPUs of the DGX-1 itself
      options.topology = dgx1_v100();
      options.devices = testing::iota_devices(7);
    } else {
      options.topology = flat_topology(devices);
    }
    options.algorithm = "dgx1-hierarchical";
    Communicator comm(options);
    DeviceBuffers data(devices, {{5, DType::f32}, {7, DType::f32}});
    testing::fill_inputs(data);
    data.poison_outputs();
    const auto before = data.snapshot();
    const std::string message = thrown_message<Unsupported>([&] { comm.allreduce(data.inplace_views()); });
    expect_contains(message, {"dgx1-hierarchical", std::to_string(devices) + " devices", "exactly 8"});
    EXPECT_EQ(thrown_message<Unsupported>([&] { comm.allreduce(data.input_views(), data.output_views()); }), message);
    EXPECT_EQ(data.snapshot(), before) << "a buffer was written";
  }
}

// A request the algorithm declines is declined whatever the tensors are, even with no elements to
// reduce: K alone decides it.
TEST_F(BadInput, Dgx1HierarchicalDeclinesEvenEmptyCalls) {
  CommunicatorOptions options;
  options.topology = flat_topology(4);
  options.algorithm = "dgx1-hierarchical";
  Communicator comm(options);
  const std::vector<std::vector<TensorView>> empty(4);
  thrown_message<Unsupported>([&] { comm.allreduce(empty); });
}

// ---- After an error, the same communicator still works ---------------------------------------------

TEST_F(BadInput, CommunicatorWorksAfterAnError) {
  Communicator comm = communicator();
  auto grads = buffers_.inplace_views();
  grads[2][1].count = 6;
  EXPECT_THROW(comm.allreduce(grads), InvalidArgument);
  comm.allreduce(buffers_.input_views(), buffers_.output_views());
  for (int n = 0; n < buffers_.tensors(); ++n) {
    const Bytes expected = testing::expected_tensor(buffers_, ReduceOp::sum, n);
    for (int k = 0; k < kDevices; ++k)
      EXPECT_EQ(testing::first_wrong_element(buffers_.output(k, n), expected, DType::f32), -1)
          << "device " << k << " tensor " << n;
  }
}

// Inputs are only read: they may share memory (here every device hands in the same arrays).
TEST_F(BadInput, InputsMayShareMemory) {
  auto inputs = buffers_.input_views();
  for (int k = 1; k < kDevices; ++k) inputs[k] = inputs[0];
  Communicator comm = communicator();
  comm.allreduce(inputs, buffers_.output_views());
  for (int n = 0; n < buffers_.tensors(); ++n)
    for (std::int64_t i = 0; i < buffers_.shape(n).count; ++i)
      for (int k = 0; k < kDevices; ++k)
        EXPECT_EQ(testing::load_value(buffers_.output(k, n), i, DType::f32),
                  static_cast<float>(4 * static_cast<float>(testing::load_value(buffers_.input(0, n), i, DType::f32))));
}

// Null data is fine on an empty tensor.
TEST_F(BadInput, NullDataOnAnEmptyTensorIsFine) {
  DeviceBuffers data(kDevices, {{0, DType::f64}, {2, DType::i32}});
  testing::fill_inputs(data);
  auto grads = data.inplace_views();
  for (auto& device : grads) ASSERT_EQ(device[0].data, nullptr);
  EXPECT_NO_THROW(allreduce_grads_hierarchical(grads, kDeviceIds));
  const Bytes expected = testing::expected_tensor(data, ReduceOp::sum, 1);
  for (int k = 0; k < kDevices; ++k)
    EXPECT_EQ(testing::first_wrong_element(data.input(k, 1), expected, DType::i32), -1) << "device " << k;
}

}  // namespace
}  // namespace meshreduce
