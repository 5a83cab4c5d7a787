// Internal: binds worker threads to cores (hwloc), so a worker keeps its caches and the
// scheduler does not move two workers onto one core while another idles.
#pragma once

#include <memory>

namespace meshreduce::detail {

class CorePinning {
 public:
  // Detects the cores; without hwloc (MESHREDUCE_HAVE_HWLOC unset) or when detection fails it
  // knows none and pins nothing.
  CorePinning();
  ~CorePinning();
  CorePinning(const CorePinning&) = delete;
  CorePinning& operator=(const CorePinning&) = delete;

  int cores() const noexcept;
  // Binds the calling thread to core `index % cores()`. False when nothing was bound (no cores
  // known, or the operating system refused, e.g. inside a restricted cpuset): the thread then
  // runs wherever the scheduler puts it, which is correct, only less predictable.
  bool pin_current_thread(int index) const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace meshreduce::detail
