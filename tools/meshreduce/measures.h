// The figures every benchmark of the command line reports, as nccl-tests defines them.
#pragma once

#include <cstdint>
#include <vector>

namespace meshreduce::cli {

// algbw: bytes per device / time. busbw: algbw x 2 (K-1) / K, the rate each device's link would
// need for a ring to take that time, comparable across K.
double algbw_gbps(std::int64_t bytes, double seconds);
double busbw_gbps(std::int64_t bytes, double seconds, int devices);
double median(std::vector<double> values);

}  // namespace meshreduce::cli
