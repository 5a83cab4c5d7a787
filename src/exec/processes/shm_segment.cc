#include "exec/processes/shm_segment.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <utility>

#include "meshreduce/error.h"

namespace meshreduce::detail {
namespace {

std::string errno_text() { return std::strerror(errno); }

// A name no other segment holds: the prefix, this process and 64 random bits (a name left by a
// crashed process with a recycled pid, or this process's previous segment, does not collide;
// O_EXCL turns the one-in-2^64 collision into an error instead of shared memory).
std::string fresh_name(const std::string& prefix) {
  std::random_device random;
  const std::uint64_t bits = (std::uint64_t{random()} << 32) ^ random();
  return "/" + prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(bits);
}

}  // namespace

ShmSegment ShmSegment::create(const std::string& prefix, std::size_t bytes) {
  if (bytes == 0) bytes = 1;
  const std::string name = fresh_name(prefix);
  const int fd = ::shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  if (fd < 0) throw Error("shared memory: cannot create " + name + ": " + errno_text());
  if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
    const std::string why = errno_text();
    ::close(fd);
    ::shm_unlink(name.c_str());
    throw Error("shared memory: cannot size " + name + " to " + std::to_string(bytes) + " bytes: " + why);
  }
  // MAP_POPULATE touches every page now (tmpfs pages are allocated here, not at first write);
  // a tmpfs too small for the segment shows up as a failed mapping instead of a SIGBUS later.
  void* data = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
  const std::string why = errno_text();
  ::close(fd);
  if (data == MAP_FAILED) {
    ::shm_unlink(name.c_str());
    throw Error("shared memory: cannot map " + name + " (" + std::to_string(bytes) + " bytes): " + why);
  }
  std::memset(data, 0, bytes);
  return ShmSegment(name, static_cast<std::byte*>(data), bytes, true);
}

ShmSegment ShmSegment::open(const std::string& name, std::size_t bytes) {
  if (bytes == 0) bytes = 1;
  const int fd = ::shm_open(name.c_str(), O_RDWR, 0600);
  if (fd < 0) throw Error("shared memory: cannot open peer segment " + name + ": " + errno_text());
  struct stat info {};
  if (::fstat(fd, &info) != 0 || static_cast<std::size_t>(info.st_size) != bytes) {
    ::close(fd);
    throw Error("shared memory: peer segment " + name + " holds " + std::to_string(info.st_size) +
                " bytes, expected " + std::to_string(bytes));
  }
  void* data = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
  const std::string why = errno_text();
  ::close(fd);
  if (data == MAP_FAILED) throw Error("shared memory: cannot map peer segment " + name + ": " + why);
  return ShmSegment(name, static_cast<std::byte*>(data), bytes, false);
}

void ShmSegment::unlink() {
  if (!linked_) return;
  ::shm_unlink(name_.c_str());
  linked_ = false;
}

void ShmSegment::release() noexcept {
  if (linked_) ::shm_unlink(name_.c_str());
  if (data_ != nullptr) ::munmap(data_, size_);
  data_ = nullptr;
  linked_ = false;
}

ShmSegment::~ShmSegment() { release(); }

ShmSegment::ShmSegment(ShmSegment&& other) noexcept
    : name_(std::move(other.name_)), data_(std::exchange(other.data_, nullptr)), size_(other.size_),
      linked_(std::exchange(other.linked_, false)) {}

ShmSegment& ShmSegment::operator=(ShmSegment&& other) noexcept {
  if (this != &other) {
    release();
    name_ = std::move(other.name_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = other.size_;
    linked_ = std::exchange(other.linked_, false);
  }
  return *this;
}

}  // namespace meshreduce::detail
