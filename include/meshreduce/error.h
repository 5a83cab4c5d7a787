// The typed exceptions meshreduce throws. Each message names the device, the tensor and the
// conflicting values where they apply. The C API maps each type to a status code.
#pragma once

#include <stdexcept>
#include <string>

namespace meshreduce {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The caller passed something malformed (wrong shapes, null data, overlapping outputs, ...).
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

// The request is well formed, but the chosen algorithm or topology cannot serve it.
class Unsupported : public Error {
 public:
  using Error::Error;
};

// A topology description is inconsistent or cannot be read.
class TopologyError : public Error {
 public:
  using Error::Error;
};

// A schedule is not a correct allreduce (raised by the verifier and by plan checks).
class ScheduleError : public Error {
 public:
  using Error::Error;
};

// Memory ran out inside a call (planning, scratch buffers or execution); the message says what
// was being done. The communicator stays usable.
class OutOfMemory : public Error {
 public:
  using Error::Error;
};

// A step of a running call raised (a kernel or an injected fault); the message names the step,
// the device it writes, the worker thread and the original error. The call's outputs (and the
// inputs of in-place tensors) are unspecified afterwards; the communicator stays usable.
class ExecutionError : public Error {
 public:
  using Error::Error;
};

// A call did not finish within CommunicatorOptions::timeout; the message names the steps still
// in progress, their devices and workers, and how long the call waited.
class TimeoutError : public Error {
 public:
  using Error::Error;
};

// Another process of the job failed; the message names its rank and its own error.
class PeerError : public Error {
 public:
  using Error::Error;
};

}  // namespace meshreduce
