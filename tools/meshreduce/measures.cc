#include "measures.h"

#include <algorithm>

namespace meshreduce::cli {

double algbw_gbps(std::int64_t bytes, double seconds) { return seconds > 0 ? static_cast<double>(bytes) / seconds / 1e9 : 0; }

double busbw_gbps(std::int64_t bytes, double seconds, int devices) {
  return devices > 0 ? algbw_gbps(bytes, seconds) * 2.0 * (devices - 1) / devices : 0;
}

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const std::size_t mid = values.size() / 2;
  return values.size() % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

}  // namespace meshreduce::cli
