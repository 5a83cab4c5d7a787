#include "exec/threads/pinning.h"

#include <vector>

#if defined(MESHREDUCE_HAVE_HWLOC)
#include <hwloc.h>
#endif

namespace meshreduce::detail {

#if defined(MESHREDUCE_HAVE_HWLOC)
struct CorePinning::Impl {
  hwloc_topology_t topology = nullptr;
  std::vector<hwloc_cpuset_t> cores;  // owned copies, one per core

  Impl() {
    if (hwloc_topology_init(&topology) != 0) {
      topology = nullptr;
      return;
    }
    if (hwloc_topology_load(topology) != 0) return;
    hwloc_obj_type_t type = HWLOC_OBJ_CORE;
    if (hwloc_get_nbobjs_by_type(topology, type) <= 0) type = HWLOC_OBJ_PU;
    const int count = hwloc_get_nbobjs_by_type(topology, type);
    for (int i = 0; i < count; ++i) {
      const hwloc_obj_t core = hwloc_get_obj_by_type(topology, type, static_cast<unsigned>(i));
      if (core != nullptr && core->cpuset != nullptr) cores.push_back(hwloc_bitmap_dup(core->cpuset));
    }
  }
  ~Impl() {
    for (hwloc_cpuset_t set : cores) hwloc_bitmap_free(set);
    if (topology != nullptr) hwloc_topology_destroy(topology);
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  bool pin(int index) const noexcept {
    if (cores.empty() || index < 0) return false;
    const hwloc_cpuset_t set = cores[static_cast<std::size_t>(index) % cores.size()];
    return hwloc_set_cpubind(topology, set, HWLOC_CPUBIND_THREAD) == 0;
  }
  int count() const noexcept { return static_cast<int>(cores.size()); }
};
#else
struct CorePinning::Impl {
  bool pin(int /*index*/) const noexcept { return false; }
  int count() const noexcept { return 0; }
};
#endif

CorePinning::CorePinning() : impl_(std::make_unique<Impl>()) {}
CorePinning::~CorePinning() = default;
int CorePinning::cores() const noexcept { return impl_->count(); }
bool CorePinning::pin_current_thread(int index) const noexcept { return impl_->pin(index); }

}  // namespace meshreduce::detail
