// The CPUs the process bench's streaming probe runs on. B, the rate in the bound t >= 2 K S / B,
// must be the best the job's processes can reach together, so the probe (which rank 0 runs while
// the others wait) must run on every CPU they run on. Under mpirun that is not rank 0's own CPU
// set: Open MPI binds each rank to one core when there are at most two ranks (at np 2 on two
// cores, rank 0 may run on core 0 only), so a probe of "all threads" ran its threads on one core
// and measured one core's rate, while the two ranks reduced on two: rows with shared buffers at
// K = 2 read up to 2.28 of the bound. Rank 0 therefore probes on the union of the CPU sets of the
// ranks of its host, and returns to its own set afterwards.
#pragma once

#include <sched.h>

#include <span>
#include <string>

namespace meshreduce::cli {

// The CPUs this thread may run on, as "0,2,5" (ascending).
std::string allowed_cpus();
// The union of CPU lists written by allowed_cpus. Throws InvalidArgument (naming the rank, in
// list order) on a list that is not one, or a CPU number at or above CPU_SETSIZE.
cpu_set_t union_of_cpus(std::span<const std::string> lists);
int cpu_count(const cpu_set_t& set);

// For its lifetime this thread (and any thread it starts) may run on `cpus`; then on its own
// set again. Throws Error when the system refuses the set.
class RunOnCpus {
 public:
  explicit RunOnCpus(const cpu_set_t& cpus);
  ~RunOnCpus();
  RunOnCpus(const RunOnCpus&) = delete;
  RunOnCpus& operator=(const RunOnCpus&) = delete;

 private:
  cpu_set_t own_;
};

}  // namespace meshreduce::cli
