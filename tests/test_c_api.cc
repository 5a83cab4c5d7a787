// The C API: status codes and messages in caller buffers instead of exceptions.
#include "meshreduce/c_api.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "test_support.h"

namespace {

// K devices with N f32 tensors; device k's element i of tensor n is value(k, n, i), a small
// integer that differs per device, tensor and element (exact sums in any order).
struct CTensors {
  CTensors(int devices, std::vector<std::int64_t> counts) : counts_(std::move(counts)) {
    for (int k = 0; k < devices; ++k) {
      in_data.emplace_back();
      out_data.emplace_back();
      in.emplace_back();
      out.emplace_back();
      for (std::size_t n = 0; n < counts_.size(); ++n) {
        auto& values = in_data.back().emplace_back(static_cast<std::size_t>(counts_[n]));
        for (std::size_t i = 0; i < values.size(); ++i) values[i] = value(k, n, i);
        out_data.back().emplace_back(static_cast<std::size_t>(counts_[n]), -1.0f);
      }
    }
    for (int k = 0; k < devices; ++k)
      for (std::size_t n = 0; n < counts_.size(); ++n) {
        in[k].push_back({in_data[k][n].data(), counts_[n], MESHREDUCE_F32});
        out[k].push_back({out_data[k][n].data(), counts_[n], MESHREDUCE_F32});
      }
    for (auto& device : in) in_ptrs.push_back(device.data());
    for (auto& device : out) out_ptrs.push_back(device.data());
  }

  static float value(int k, std::size_t n, std::size_t i) {
    return static_cast<float>(meshreduce::testing::input_value(k, static_cast<int>(n),
                                                               static_cast<std::int64_t>(i)));
  }

  // The expected sum, minimum and maximum of element i of tensor n over the devices.
  float sum(std::size_t n, std::size_t i) const {
    float total = 0;
    for (int k = 0; k < devices(); ++k) total += value(k, n, i);
    return total;
  }
  float min(std::size_t n, std::size_t i) const {
    float low = value(0, n, i);
    for (int k = 1; k < devices(); ++k) low = std::min(low, value(k, n, i));
    return low;
  }
  float max(std::size_t n, std::size_t i) const {
    float high = value(0, n, i);
    for (int k = 1; k < devices(); ++k) high = std::max(high, value(k, n, i));
    return high;
  }

  int devices() const { return static_cast<int>(in.size()); }
  int tensors() const { return static_cast<int>(counts_.size()); }

  std::vector<std::int64_t> counts_;
  std::vector<std::vector<std::vector<float>>> in_data;
  std::vector<std::vector<std::vector<float>>> out_data;
  std::vector<std::vector<meshreduce_tensor>> in;
  std::vector<std::vector<meshreduce_tensor>> out;
  std::vector<const meshreduce_tensor*> in_ptrs;
  std::vector<const meshreduce_tensor*> out_ptrs;
};

const std::vector<int> kEight{0, 1, 2, 3, 4, 5, 6, 7};

TEST(CApi, InPlaceSumsEveryDevice) {
  CTensors t(8, {5, 0, 3});
  char error[128] = "untouched";
  ASSERT_EQ(meshreduce_allreduce_grads_hierarchical(t.in_ptrs.data(), nullptr, 8, t.tensors(), kEight.data(), 0,
                                                    error, sizeof error),
            MESHREDUCE_OK);
  for (int k = 0; k < 8; ++k)
    for (std::size_t n = 0; n < 3; ++n)
      for (std::size_t i = 0; i < t.in_data[k][n].size(); ++i)
        EXPECT_EQ(t.in_data[k][n][i], t.sum(n, i)) << "device " << k << " tensor " << n << " element " << i;
  // Outputs were not used at all.
  for (int k = 0; k < 8; ++k) EXPECT_EQ(t.out_data[k][0][0], -1.0f);
}

TEST(CApi, OutOfPlaceAverageLeavesInputs) {
  CTensors t(8, {7, 1});
  ASSERT_EQ(meshreduce_allreduce_grads_hierarchical(t.in_ptrs.data(), t.out_ptrs.data(), 8, t.tensors(),
                                                    kEight.data(), 1, nullptr, 0),
            MESHREDUCE_OK);
  for (int k = 0; k < 8; ++k)
    for (std::size_t n = 0; n < 2; ++n)
      for (std::size_t i = 0; i < t.in_data[k][n].size(); ++i) {
        EXPECT_EQ(t.out_data[k][n][i], t.sum(n, i) * 0.125f) << "device " << k << " tensor " << n;
        EXPECT_EQ(t.in_data[k][n][i], CTensors::value(k, n, i));
      }
}

TEST(CApi, AnyDeviceCountAndNoTensors) {
  CTensors t(3, {4});
  const int devices[] = {7, 2, 5};
  EXPECT_EQ(meshreduce_allreduce_grads_hierarchical(t.in_ptrs.data(), nullptr, 3, 1, devices, 0, nullptr, 0),
            MESHREDUCE_OK);
  EXPECT_EQ(t.in_data[1][0][2], t.sum(0, 2));
  EXPECT_EQ(meshreduce_allreduce_grads_hierarchical(t.in_ptrs.data(), nullptr, 3, 0, devices, 0, nullptr, 0),
            MESHREDUCE_OK);
}

// Calls the free function; returns the status and the message it wrote.
meshreduce_status call(CTensors& t, const int* devices, int num_devices, std::string& message,
                       bool out_of_place = false) {
  char error[512];
  std::memset(error, 'X', sizeof error);
  const meshreduce_status status = meshreduce_allreduce_grads_hierarchical(
      t.in_ptrs.data(), out_of_place ? t.out_ptrs.data() : nullptr, num_devices, t.tensors(), devices, 0, error,
      sizeof error);
  message = error;
  return status;
}

void expect_unchanged(const CTensors& t) {
  for (int k = 0; k < t.devices(); ++k)
    for (std::size_t n = 0; n < t.in_data[k].size(); ++n)
      for (std::size_t i = 0; i < t.in_data[k][n].size(); ++i) {
        EXPECT_EQ(t.in_data[k][n][i], CTensors::value(k, n, i)) << "input of device " << k << " tensor " << n;
        EXPECT_EQ(t.out_data[k][n][i], -1.0f) << "output of device " << k << " tensor " << n;
      }
}

TEST(CApi, ElementCountMismatchIsInvalidArgumentWithMessage) {
  CTensors t(8, {5, 7});
  t.in[6][1].count = 6;
  std::string message;
  EXPECT_EQ(call(t, kEight.data(), 8, message), MESHREDUCE_INVALID_ARGUMENT);
  EXPECT_NE(message.find("tensor 1 on device 6"), std::string::npos) << message;
  EXPECT_NE(message.find("6 elements"), std::string::npos) << message;
  EXPECT_NE(message.find("has 7"), std::string::npos) << message;
  expect_unchanged(t);
}

TEST(CApi, DtypeMismatchIsInvalidArgument) {
  CTensors t(8, {5, 7});
  t.in[2][0].dtype = MESHREDUCE_I32;
  std::string message;
  EXPECT_EQ(call(t, kEight.data(), 8, message), MESHREDUCE_INVALID_ARGUMENT);
  EXPECT_NE(message.find("tensor 0 on device 2 is i32"), std::string::npos) << message;
  EXPECT_NE(message.find("f32"), std::string::npos) << message;
  expect_unchanged(t);
}

TEST(CApi, UnknownDtypeCodeIsInvalidArgument) {
  CTensors t(8, {5});
  t.in[3][0].dtype = static_cast<meshreduce_dtype>(6);  // within the enum's range, but no dtype
  std::string message;
  EXPECT_EQ(call(t, kEight.data(), 8, message), MESHREDUCE_INVALID_ARGUMENT);
  EXPECT_NE(message.find("tensor 0 on device 3"), std::string::npos) << message;
  EXPECT_NE(message.find("dtype code 6"), std::string::npos) << message;
  expect_unchanged(t);
}

TEST(CApi, OverlappingOutputsAreInvalidArgument) {
  CTensors t(8, {5, 7});
  t.out[4][1].data = t.out[3][1].data;
  std::string message;
  EXPECT_EQ(call(t, kEight.data(), 8, message, true), MESHREDUCE_INVALID_ARGUMENT);
  EXPECT_NE(message.find("overlaps"), std::string::npos) << message;
  EXPECT_NE(message.find("device 4"), std::string::npos) << message;
  EXPECT_NE(message.find("device 3"), std::string::npos) << message;
  expect_unchanged(t);
}

TEST(CApi, DuplicateDeviceIsInvalidArgument) {
  CTensors t(4, {5});
  const int devices[] = {0, 1, 1, 3};
  std::string message;
  EXPECT_EQ(call(t, devices, 4, message), MESHREDUCE_INVALID_ARGUMENT);
  EXPECT_NE(message.find("device 1 appears twice"), std::string::npos) << message;
  expect_unchanged(t);
}

TEST(CApi, NullPointersAreInvalidArgument) {
  CTensors t(8, {5});
  char error[256] = "";
  EXPECT_EQ(meshreduce_allreduce_grads_hierarchical(nullptr, nullptr, 8, 1, kEight.data(), 0, error, sizeof error),
            MESHREDUCE_INVALID_ARGUMENT);
  EXPECT_NE(std::string(error).find("grads is null"), std::string::npos) << error;
  EXPECT_EQ(meshreduce_allreduce_grads_hierarchical(t.in_ptrs.data(), nullptr, 8, 1, nullptr, 0, error, sizeof error),
            MESHREDUCE_INVALID_ARGUMENT);
  EXPECT_NE(std::string(error).find("devices is null"), std::string::npos) << error;
  // One device's tensor list is null.
  t.in_ptrs[5] = nullptr;
  EXPECT_EQ(meshreduce_allreduce_grads_hierarchical(t.in_ptrs.data(), nullptr, 8, 1, kEight.data(), 0, error,
                                                    sizeof error),
            MESHREDUCE_INVALID_ARGUMENT);
  EXPECT_NE(std::string(error).find("device 5"), std::string::npos) << error;
  t.in_ptrs[5] = t.in[5].data();
  // Null data in a non-empty tensor.
  t.in[2][0].data = nullptr;
  EXPECT_EQ(meshreduce_allreduce_grads_hierarchical(t.in_ptrs.data(), nullptr, 8, 1, kEight.data(), 0, error,
                                                    sizeof error),
            MESHREDUCE_INVALID_ARGUMENT);
  EXPECT_NE(std::string(error).find("tensor 0 on device 2 has null data"), std::string::npos) << error;
  t.in[2][0].data = t.in_data[2][0].data();
  expect_unchanged(t);
  // Bad counts.
  EXPECT_EQ(meshreduce_allreduce_grads_hierarchical(t.in_ptrs.data(), nullptr, 0, 1, kEight.data(), 0, error,
                                                    sizeof error),
            MESHREDUCE_INVALID_ARGUMENT);
  EXPECT_EQ(meshreduce_allreduce_grads_hierarchical(t.in_ptrs.data(), nullptr, 8, -1, kEight.data(), 0, error,
                                                    sizeof error),
            MESHREDUCE_INVALID_ARGUMENT);
  EXPECT_NE(std::string(error).find("-1"), std::string::npos) << error;
}

TEST(CApi, MessageIsTruncatedSafely) {
  CTensors t(8, {5, 7});
  t.in[6][1].count = 6;
  char full[512];
  ASSERT_EQ(meshreduce_allreduce_grads_hierarchical(t.in_ptrs.data(), nullptr, 8, 2, kEight.data(), 0, full,
                                                    sizeof full),
            MESHREDUCE_INVALID_ARGUMENT);
  const std::string message = full;
  ASSERT_GT(message.size(), 10u);
  for (std::size_t size : {std::size_t{1}, std::size_t{2}, std::size_t{8}, message.size(), message.size() + 1}) {
    SCOPED_TRACE("error_size " + std::to_string(size));
    std::vector<char> buffer(size + 16, 'X');
    ASSERT_EQ(meshreduce_allreduce_grads_hierarchical(t.in_ptrs.data(), nullptr, 8, 2, kEight.data(), 0,
                                                      buffer.data(), size),
              MESHREDUCE_INVALID_ARGUMENT);
    const std::size_t kept = std::min(size - 1, message.size());
    EXPECT_EQ(std::string(buffer.data()), message.substr(0, kept));
    EXPECT_EQ(buffer[kept], '\0');
    for (std::size_t i = size; i < buffer.size(); ++i) EXPECT_EQ(buffer[i], 'X') << "wrote past error_size at " << i;
  }
  // A zero size or a null buffer writes nothing, and the status is still returned.
  char untouched[4] = {'a', 'b', 'c', 'd'};
  EXPECT_EQ(meshreduce_allreduce_grads_hierarchical(t.in_ptrs.data(), nullptr, 8, 2, kEight.data(), 0, untouched, 0),
            MESHREDUCE_INVALID_ARGUMENT);
  EXPECT_EQ(untouched[0], 'a');
  EXPECT_EQ(meshreduce_allreduce_grads_hierarchical(t.in_ptrs.data(), nullptr, 8, 2, kEight.data(), 0, nullptr, 64),
            MESHREDUCE_INVALID_ARGUMENT);
}

// ---- The communicator ------------------------------------------------------------------------------

TEST(CApiComm, CreateAllreduceDestroy) {
  meshreduce_comm* comm = nullptr;
  char error[256] = "";
  ASSERT_EQ(meshreduce_comm_create("dgx1-v100", "dgx1-hierarchical", nullptr, 0, &comm, error, sizeof error),
            MESHREDUCE_OK)
      << error;
  ASSERT_NE(comm, nullptr);
  for (int repeat = 0; repeat < 3; ++repeat) {  // the plan is cached; the results stay right
    CTensors t(8, {5, 0, 9});
    ASSERT_EQ(meshreduce_comm_allreduce(comm, t.in_ptrs.data(), t.out_ptrs.data(), 3, MESHREDUCE_SUM), MESHREDUCE_OK);
    EXPECT_STREQ(meshreduce_comm_last_error(comm), "");
    for (int k = 0; k < 8; ++k)
      for (std::size_t n = 0; n < 3; ++n)
        for (std::size_t i = 0; i < t.out_data[k][n].size(); ++i) EXPECT_EQ(t.out_data[k][n][i], t.sum(n, i));
    ASSERT_EQ(meshreduce_comm_allreduce(comm, t.in_ptrs.data(), nullptr, 3, MESHREDUCE_MAX), MESHREDUCE_OK);
    EXPECT_EQ(t.in_data[0][2][4], t.max(2, 4));
  }
  meshreduce_comm_destroy(comm);
}

TEST(CApiComm, DeviceSubsetAndEveryOp) {
  meshreduce_comm* comm = nullptr;
  const int devices[] = {2, 5, 0, 7};
  ASSERT_EQ(meshreduce_comm_create("dgx1-p100", "hierarchical", devices, 4, &comm, nullptr, 0), MESHREDUCE_OK);
  for (meshreduce_op op : {MESHREDUCE_SUM, MESHREDUCE_AVERAGE, MESHREDUCE_MIN, MESHREDUCE_MAX}) {
    CTensors t(4, {6});
    ASSERT_EQ(meshreduce_comm_allreduce(comm, t.in_ptrs.data(), nullptr, 1, op), MESHREDUCE_OK);
    for (int k = 0; k < 4; ++k)
      for (std::size_t i = 0; i < 6; ++i) {
        const float expected = op == MESHREDUCE_SUM       ? t.sum(0, i)
                               : op == MESHREDUCE_AVERAGE ? t.sum(0, i) * 0.25f
                               : op == MESHREDUCE_MIN     ? t.min(0, i)
                                                          : t.max(0, i);
        EXPECT_EQ(t.in_data[k][0][i], expected) << "op " << op << " device " << k;
      }
  }
  meshreduce_comm_destroy(comm);
}

TEST(CApiComm, CallErrorsGoToLastError) {
  meshreduce_comm* comm = nullptr;
  ASSERT_EQ(meshreduce_comm_create("flat:4", nullptr, nullptr, 0, &comm, nullptr, 0), MESHREDUCE_OK);
  CTensors t(4, {5, 7});
  t.in[3][1].count = 2;
  EXPECT_EQ(meshreduce_comm_allreduce(comm, t.in_ptrs.data(), t.out_ptrs.data(), 2, MESHREDUCE_SUM),
            MESHREDUCE_INVALID_ARGUMENT);
  const std::string message = meshreduce_comm_last_error(comm);
  EXPECT_NE(message.find("tensor 1 on device 3"), std::string::npos) << message;
  EXPECT_NE(message.find("2 elements"), std::string::npos) << message;
  expect_unchanged(t);
  // A good call clears it.
  t.in[3][1].count = 7;
  EXPECT_EQ(meshreduce_comm_allreduce(comm, t.in_ptrs.data(), t.out_ptrs.data(), 2, MESHREDUCE_SUM), MESHREDUCE_OK);
  EXPECT_STREQ(meshreduce_comm_last_error(comm), "");
  // Null grads, and a null output list of one device.
  EXPECT_EQ(meshreduce_comm_allreduce(comm, nullptr, nullptr, 2, MESHREDUCE_SUM), MESHREDUCE_INVALID_ARGUMENT);
  EXPECT_STRNE(meshreduce_comm_last_error(comm), "");
  t.out_ptrs[2] = nullptr;
  EXPECT_EQ(meshreduce_comm_allreduce(comm, t.in_ptrs.data(), t.out_ptrs.data(), 2, MESHREDUCE_SUM),
            MESHREDUCE_INVALID_ARGUMENT);
  EXPECT_NE(std::string(meshreduce_comm_last_error(comm)).find("device 2"), std::string::npos)
      << meshreduce_comm_last_error(comm);
  meshreduce_comm_destroy(comm);
}

TEST(CApiComm, Dgx1HierarchicalOnFourDevicesIsUnsupported) {
  meshreduce_comm* comm = nullptr;
  const int devices[] = {0, 1, 2, 3};
  ASSERT_EQ(meshreduce_comm_create("dgx1-v100", "dgx1-hierarchical", devices, 4, &comm, nullptr, 0), MESHREDUCE_OK);
  CTensors t(4, {5});
  EXPECT_EQ(meshreduce_comm_allreduce(comm, t.in_ptrs.data(), t.out_ptrs.data(), 1, MESHREDUCE_SUM),
            MESHREDUCE_UNSUPPORTED);
  const std::string message = meshreduce_comm_last_error(comm);
  EXPECT_NE(message.find("4 devices"), std::string::npos) << message;
  EXPECT_NE(message.find("8"), std::string::npos) << message;
  expect_unchanged(t);
  meshreduce_comm_destroy(comm);
}

TEST(CApiComm, CreateErrorsMapToStatuses) {
  char error[256];
  meshreduce_comm* comm = nullptr;
  EXPECT_EQ(meshreduce_comm_create("dgx9", nullptr, nullptr, 0, &comm, error, sizeof error), MESHREDUCE_TOPOLOGY_ERROR);
  EXPECT_NE(std::string(error).find("unknown topology 'dgx9'"), std::string::npos) << error;
  EXPECT_EQ(comm, nullptr);
  EXPECT_EQ(meshreduce_comm_create("flat:8", "no-such-algorithm", nullptr, 0, &comm, error, sizeof error),
            MESHREDUCE_INVALID_ARGUMENT);
  EXPECT_NE(std::string(error).find("no-such-algorithm"), std::string::npos) << error;
  EXPECT_EQ(comm, nullptr);
  const int duplicate[] = {1, 1};
  EXPECT_EQ(meshreduce_comm_create("flat:8", nullptr, duplicate, 2, &comm, error, sizeof error),
            MESHREDUCE_INVALID_ARGUMENT);
  EXPECT_NE(std::string(error).find("appears twice"), std::string::npos) << error;
  const int one[] = {0};
  EXPECT_EQ(meshreduce_comm_create("flat:8", nullptr, one, 0, &comm, error, sizeof error), MESHREDUCE_INVALID_ARGUMENT);
  EXPECT_EQ(meshreduce_comm_create("flat:8", nullptr, nullptr, 0, nullptr, error, sizeof error),
            MESHREDUCE_INVALID_ARGUMENT);
  EXPECT_NE(std::string(error).find("comm is null"), std::string::npos) << error;
  // No topology and no devices: nothing to build on.
  EXPECT_EQ(meshreduce_comm_create(nullptr, nullptr, nullptr, 0, &comm, error, sizeof error),
            MESHREDUCE_INVALID_ARGUMENT);
  EXPECT_EQ(comm, nullptr);
  // Tiny buffer: truncated, terminated.
  char tiny[3] = {'a', 'b', 'c'};
  EXPECT_EQ(meshreduce_comm_create("dgx9", nullptr, nullptr, 0, &comm, tiny, sizeof tiny), MESHREDUCE_TOPOLOGY_ERROR);
  EXPECT_EQ(tiny[2], '\0');
  EXPECT_EQ(std::strlen(tiny), 2u);
}

TEST(CApiComm, NullCommunicator) {
  EXPECT_EQ(meshreduce_comm_allreduce(nullptr, nullptr, nullptr, 0, MESHREDUCE_SUM), MESHREDUCE_INVALID_ARGUMENT);
  EXPECT_STREQ(meshreduce_comm_last_error(nullptr), "comm is null");
  meshreduce_comm_destroy(nullptr);  // a no-op, like free(NULL)
}

TEST(CApi, StatusNames) {
  EXPECT_STREQ(meshreduce_status_name(MESHREDUCE_OK), "ok");
  EXPECT_STREQ(meshreduce_status_name(MESHREDUCE_INVALID_ARGUMENT), "invalid argument");
  EXPECT_STREQ(meshreduce_status_name(MESHREDUCE_UNSUPPORTED), "unsupported");
  EXPECT_STREQ(meshreduce_status_name(MESHREDUCE_TOPOLOGY_ERROR), "topology error");
  EXPECT_STREQ(meshreduce_status_name(MESHREDUCE_SCHEDULE_ERROR), "schedule error");
  EXPECT_STREQ(meshreduce_status_name(MESHREDUCE_INTERNAL_ERROR), "internal error");
}

}  // namespace
