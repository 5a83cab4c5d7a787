// An independent, plainly written reference of the seed's arithmetic (tensorpack's
// allreduce_grads_hierarchical on 8 devices), to check `dgx1-hierarchical` bit for bit on inputs
// whose sums depend on the order, and a check that all replicas of a result are identical.
#pragma once

#include <cstdint>

#include "cli_common.h"

namespace meshreduce::cli {

// Elements (over all devices and tensors) whose bits differ from the seed's order of operations,
// with one bucket per tensor (tensor n's mains are n % 8 and (n % 8 + 4) % 8). The inputs are
// taken from buffers.input_value(), so an in-place call's overwritten inputs do not matter.
// Needs 8 devices.
std::int64_t count_seed_mismatches(const TestBuffers& buffers, ReduceOp op);

// Elements of devices 1..K-1 whose bits differ from device 0's output of the same element.
std::int64_t count_replica_mismatches(const TestBuffers& buffers);

}  // namespace meshreduce::cli
