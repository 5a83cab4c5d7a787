#include "probe_cpus.h"

#include <cerrno>
#include <cstring>

#include "meshreduce/error.h"

namespace meshreduce::cli {

std::string allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) throw Error(std::string("sched_getaffinity: ") + std::strerror(errno));
  std::string list;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
    if (CPU_ISSET(cpu, &set)) list += (list.empty() ? "" : ",") + std::to_string(cpu);
  return list;
}

cpu_set_t union_of_cpus(std::span<const std::string> lists) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (std::size_t r = 0; r < lists.size(); ++r) {
    if (lists[r].empty()) continue;  // a rank that brings no CPUs
    // Every item between commas, the empty ones too ("1,,2", "0,").
    for (std::size_t begin = 0, end = 0; end != std::string::npos; begin = end + 1) {
      end = lists[r].find(',', begin);
      const std::string item = lists[r].substr(begin, end == std::string::npos ? std::string::npos : end - begin);
      std::size_t used = 0;
      long cpu = -1;
      try {
        cpu = std::stol(item, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (item.empty() || item.find_first_not_of("0123456789") != std::string::npos || used != item.size() ||
          cpu >= CPU_SETSIZE)
        throw InvalidArgument("rank " + std::to_string(r) + " sent a CPU list with '" + item.substr(0, 20) +
                              "', not a CPU number from 0 to " + std::to_string(CPU_SETSIZE - 1));
      CPU_SET(static_cast<int>(cpu), &set);
    }
  }
  return set;
}

int cpu_count(const cpu_set_t& set) { return CPU_COUNT(&set); }

RunOnCpus::RunOnCpus(const cpu_set_t& cpus) {
  CPU_ZERO(&own_);
  if (sched_getaffinity(0, sizeof own_, &own_) != 0) throw Error(std::string("sched_getaffinity: ") + std::strerror(errno));
  if (sched_setaffinity(0, sizeof cpus, &cpus) != 0)
    throw Error("cannot run the streaming probe on the job's " + std::to_string(CPU_COUNT(&cpus)) +
                " CPUs: sched_setaffinity: " + std::strerror(errno));
}

RunOnCpus::~RunOnCpus() { sched_setaffinity(0, sizeof own_, &own_); }

}  // namespace meshreduce::cli
