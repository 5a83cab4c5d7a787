// Internal: first-fit allocation of 64-byte aligned blocks within a shared arena's bytes. Only
// offsets are kept here; the memory is the process's arena segment, which peers have mapped.
#pragma once

#include <cstddef>
#include <map>

namespace meshreduce::detail {

class ArenaAllocator {
 public:
  explicit ArenaAllocator(std::size_t bytes);
  // The offset of a free block of `bytes`; throws InvalidArgument when none is large enough.
  std::size_t allocate(std::size_t bytes);
  // Throws InvalidArgument for an offset allocate() did not return or that was freed already.
  void free(std::size_t offset);
  std::size_t capacity() const noexcept { return capacity_; }

 private:
  std::size_t capacity_;
  std::map<std::size_t, std::size_t> free_;  // offset -> bytes, coalesced
  std::map<std::size_t, std::size_t> used_;  // offset -> bytes
};

}  // namespace meshreduce::detail
