// The C boundary: exceptions become status codes and messages here, and nowhere else.
#include "meshreduce/c_api.h"

#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "api/c_comm.h"
#include "meshreduce/communicator.h"
#include "meshreduce/error.h"

namespace {

using meshreduce::ConstTensorView;
using meshreduce::TensorView;

void write_error(const std::string& message, char* error, size_t error_size) {
  if (error == nullptr || error_size == 0) return;
  const size_t length = std::min(message.size(), error_size - 1);
  std::memcpy(error, message.data(), length);
  error[length] = '\0';
}

// Runs `body`, mapping each exception type to its status and message.
template <typename Body>
meshreduce_status guarded(Body&& body, std::string& message) {
  try {
    body();
    return MESHREDUCE_OK;
  } catch (const meshreduce::InvalidArgument& e) {
    message = e.what();
    return MESHREDUCE_INVALID_ARGUMENT;
  } catch (const meshreduce::Unsupported& e) {
    message = e.what();
    return MESHREDUCE_UNSUPPORTED;
  } catch (const meshreduce::TopologyError& e) {
    message = e.what();
    return MESHREDUCE_TOPOLOGY_ERROR;
  } catch (const meshreduce::ScheduleError& e) {
    message = e.what();
    return MESHREDUCE_SCHEDULE_ERROR;
  } catch (const meshreduce::OutOfMemory& e) {
    message = e.what();
    return MESHREDUCE_OUT_OF_MEMORY;
  } catch (const std::bad_alloc&) {  // raised here, in this file's own conversions
    message = "out of memory while converting the call's arguments";
    return MESHREDUCE_OUT_OF_MEMORY;
  } catch (const meshreduce::ExecutionError& e) {
    message = e.what();
    return MESHREDUCE_EXECUTION_ERROR;
  } catch (const meshreduce::TimeoutError& e) {
    message = e.what();
    return MESHREDUCE_TIMEOUT;
  } catch (const std::exception& e) {
    message = e.what();
    return MESHREDUCE_INTERNAL_ERROR;
  } catch (...) {
    message = "unknown error";
    return MESHREDUCE_INTERNAL_ERROR;
  }
}

meshreduce::DType to_dtype(meshreduce_dtype dtype, int device, int tensor) {
  if (dtype < MESHREDUCE_F32 || dtype > MESHREDUCE_I64)
    throw meshreduce::InvalidArgument("tensor " + std::to_string(tensor) + " on device " + std::to_string(device) +
                                      " has unknown dtype code " + std::to_string(static_cast<int>(dtype)));
  return static_cast<meshreduce::DType>(dtype);
}

struct CallViews {
  std::vector<std::vector<ConstTensorView>> inputs;
  std::vector<std::vector<TensorView>> outputs;
};

CallViews to_views(const meshreduce_tensor* const* grads, const meshreduce_tensor* const* outputs, int num_devices,
                   int num_tensors) {
  if (num_devices < 1 || num_tensors < 0)
    throw meshreduce::InvalidArgument("need num_devices >= 1 and num_tensors >= 0, got " +
                                      std::to_string(num_devices) + " and " + std::to_string(num_tensors));
  if (grads == nullptr) throw meshreduce::InvalidArgument("grads is null");
  CallViews views;
  const auto* const* out = outputs != nullptr ? outputs : grads;
  for (int k = 0; k < num_devices; ++k) {
    if ((grads[k] == nullptr || out[k] == nullptr) && num_tensors > 0)
      throw meshreduce::InvalidArgument("tensor list of device " + std::to_string(k) + " is null");
    auto& in_views = views.inputs.emplace_back();
    auto& out_views = views.outputs.emplace_back();
    for (int n = 0; n < num_tensors; ++n) {
      in_views.emplace_back(grads[k][n].data, grads[k][n].count, to_dtype(grads[k][n].dtype, k, n));
      out_views.emplace_back(out[k][n].data, out[k][n].count, to_dtype(out[k][n].dtype, k, n));
    }
  }
  return views;
}

}  // namespace

extern "C" {

meshreduce_status meshreduce_allreduce_grads_hierarchical(const meshreduce_tensor* const* grads,
                                                          const meshreduce_tensor* const* outputs,
                                                          int num_devices, int num_tensors, const int* devices,
                                                          int average, char* error, size_t error_size) {
  std::string message;
  const meshreduce_status status = guarded(
      [&] {
        if (devices == nullptr) throw meshreduce::InvalidArgument("devices is null");
        CallViews views = to_views(grads, outputs, num_devices, num_tensors);
        meshreduce::allreduce_grads_hierarchical(views.inputs, views.outputs,
                                                 std::span(devices, static_cast<size_t>(num_devices)), average != 0);
      },
      message);
  write_error(message, error, error_size);
  return status;
}

meshreduce_status meshreduce_comm_create(const char* topology, const char* algorithm, const int* devices,
                                         int num_devices, meshreduce_comm** comm, char* error, size_t error_size) {
  return meshreduce_comm_create_flags(topology, algorithm, devices, num_devices, 0u, comm, error, error_size);
}

meshreduce_status meshreduce_comm_create_flags(const char* topology, const char* algorithm, const int* devices,
                                               int num_devices, unsigned flags, meshreduce_comm** comm, char* error,
                                               size_t error_size) {
  std::string message;
  const meshreduce_status status = guarded(
      [&] {
        if (comm == nullptr) throw meshreduce::InvalidArgument("comm is null");
        constexpr unsigned kKnownFlags = MESHREDUCE_REPRODUCIBLE;
        if ((flags & ~kKnownFlags) != 0u)
          throw meshreduce::InvalidArgument("unknown communicator flags " + std::to_string(flags & ~kKnownFlags) +
                                            " (known: " + std::to_string(kKnownFlags) + ")");
        meshreduce::CommunicatorOptions options;
        if (topology != nullptr) options.topology = meshreduce::topology_preset(topology);
        if (algorithm != nullptr) options.algorithm = algorithm;
        if (devices != nullptr) {
          if (num_devices < 1) throw meshreduce::InvalidArgument("num_devices must be >= 1, got " + std::to_string(num_devices));
          options.devices.assign(devices, devices + num_devices);
        }
        options.reproducible = (flags & MESHREDUCE_REPRODUCIBLE) != 0u;
        *comm = new meshreduce_comm{meshreduce::Communicator(std::move(options)), {}};
      },
      message);
  write_error(message, error, error_size);
  return status;
}

meshreduce_status meshreduce_comm_allreduce(meshreduce_comm* comm, const meshreduce_tensor* const* grads,
                                            const meshreduce_tensor* const* outputs, int num_tensors,
                                            meshreduce_op op) {
  if (comm == nullptr) return MESHREDUCE_INVALID_ARGUMENT;
  comm->last_error.clear();
  return guarded(
      [&] {
        if (op < MESHREDUCE_SUM || op > MESHREDUCE_MAX)
          throw meshreduce::InvalidArgument("unknown reduce op code " + std::to_string(static_cast<int>(op)));
        CallViews views = to_views(grads, outputs, comm->communicator.size(), num_tensors);
        comm->communicator.allreduce(views.inputs, views.outputs, static_cast<meshreduce::ReduceOp>(op));
      },
      comm->last_error);
}

const char* meshreduce_comm_last_error(const meshreduce_comm* comm) {
  return comm == nullptr ? "comm is null" : comm->last_error.c_str();
}

void meshreduce_comm_destroy(meshreduce_comm* comm) { delete comm; }

const char* meshreduce_status_name(meshreduce_status status) {
  switch (status) {
    case MESHREDUCE_OK: return "ok";
    case MESHREDUCE_INVALID_ARGUMENT: return "invalid argument";
    case MESHREDUCE_UNSUPPORTED: return "unsupported";
    case MESHREDUCE_TOPOLOGY_ERROR: return "topology error";
    case MESHREDUCE_SCHEDULE_ERROR: return "schedule error";
    case MESHREDUCE_INTERNAL_ERROR: return "internal error";
    case MESHREDUCE_OUT_OF_MEMORY: return "out of memory";
    case MESHREDUCE_EXECUTION_ERROR: return "execution error";
    case MESHREDUCE_TIMEOUT: return "timeout";
  }
  return "unknown status";
}

}  // extern "C"
