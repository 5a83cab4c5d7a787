#include "exec/processes/shared_arena.h"

#include <iterator>
#include <string>

#include "meshreduce/error.h"

namespace meshreduce::detail {
namespace {
constexpr std::size_t kAlignment = 64;
}

ArenaAllocator::ArenaAllocator(std::size_t bytes) : capacity_(bytes / kAlignment * kAlignment) {
  if (capacity_ > 0) free_.emplace(0, capacity_);
}

std::size_t ArenaAllocator::allocate(std::size_t bytes) {
  if (bytes == 0) bytes = 1;
  if (bytes > capacity_)
    throw InvalidArgument("shared arena: " + std::to_string(bytes) + " bytes asked of an arena of " +
                          std::to_string(capacity_));
  const std::size_t size = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  for (auto block = free_.begin(); block != free_.end(); ++block) {
    if (block->second < size) continue;
    const std::size_t offset = block->first;
    const std::size_t rest = block->second - size;
    free_.erase(block);
    if (rest > 0) free_.emplace(offset + size, rest);
    used_.emplace(offset, size);
    return offset;
  }
  throw InvalidArgument("shared arena: no free block of " + std::to_string(bytes) + " bytes in an arena of " +
                        std::to_string(capacity_) + " (raise shared_arena_bytes)");
}

void ArenaAllocator::free(std::size_t offset) {
  const auto used = used_.find(offset);
  if (used == used_.end())
    throw InvalidArgument("shared arena: offset " + std::to_string(offset) + " is not an allocated block");
  std::size_t start = offset;
  std::size_t size = used->second;
  used_.erase(used);
  auto next = free_.lower_bound(start);
  if (next != free_.end() && next->first == start + size) {
    size += next->second;
    next = free_.erase(next);
  }
  if (next != free_.begin()) {
    auto previous = std::prev(next);
    if (previous->first + previous->second == start) {
      start = previous->first;
      size += previous->second;
      free_.erase(previous);
    }
  }
  free_.emplace(start, size);
}

}  // namespace meshreduce::detail
