// Internal: a POSIX shared-memory segment (shm_open + mmap), owned or mapped from a peer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace meshreduce::detail {

class ShmSegment {
 public:
  ShmSegment() = default;
  // A new segment of `bytes` under a fresh name made from `prefix`; every page is touched now,
  // so no call pays a page fault for it. Throws Error naming the name and errno.
  static ShmSegment create(const std::string& prefix, std::size_t bytes);
  // Maps a peer's segment by name; `bytes` must match its size.
  static ShmSegment open(const std::string& name, std::size_t bytes);
  ~ShmSegment();
  ShmSegment(ShmSegment&& other) noexcept;
  ShmSegment& operator=(ShmSegment&& other) noexcept;
  ShmSegment(const ShmSegment&) = delete;
  ShmSegment& operator=(const ShmSegment&) = delete;

  // Removes the name: the memory lives on while mapped, and nothing is left in /dev/shm when a
  // process dies. The owner calls it once every peer has mapped the segment.
  void unlink();

  std::byte* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  const std::string& name() const noexcept { return name_; }

 private:
  ShmSegment(std::string name, std::byte* data, std::size_t size, bool linked)
      : name_(std::move(name)), data_(data), size_(size), linked_(linked) {}
  void release() noexcept;

  std::string name_;
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  bool linked_ = false;  // we created the name and have not unlinked it yet
};

}  // namespace meshreduce::detail
