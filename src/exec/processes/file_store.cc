// FileStore: a key-value store in a directory. A value is written to a private temporary file
// and renamed onto the key's name (rename is atomic within one file system), so get() sees a
// whole value or nothing. get() polls: stores hold setup blobs, never anything on a call's path.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "meshreduce/bootstrap.h"

namespace meshreduce {
namespace {

bool valid_key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-' || c == '/';
}

// The longest pause between two looks at a missing key: short enough for bootstrap rounds to
// stay in milliseconds, long enough not to spin on the file system.
constexpr auto kLongestPoll = std::chrono::milliseconds(5);

}  // namespace

FileStore::FileStore(std::filesystem::path directory) : directory_(std::move(directory)) {
  std::error_code error;
  std::filesystem::create_directories(directory_, error);
  if (!std::filesystem::is_directory(directory_))
    throw InvalidArgument("file store: " + directory_.string() + " is not a directory it can create (" +
                          error.message() + ")");
}

std::filesystem::path FileStore::file_of(const std::string& key) const {
  if (key.empty() || !std::all_of(key.begin(), key.end(), valid_key_char) || key.find("..") != std::string::npos)
    throw InvalidArgument("file store: key '" + key + "' must be made of letters, digits, '.', '_', '-', '/'");
  std::string name = key;
  std::replace(name.begin(), name.end(), '/', '%');  // one flat directory: no subfolders to create
  return directory_ / name;
}

void FileStore::set(const std::string& key, std::string_view value) {
  const auto target = file_of(key);
  const auto temporary = target.string() + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out.write(value.data(), static_cast<std::streamsize>(value.size()));
    out.flush();
    if (!out) throw Error("file store: cannot write " + temporary + ": " + std::strerror(errno));
  }
  std::error_code error;
  std::filesystem::rename(temporary, target, error);
  if (error) throw Error("file store: cannot rename " + temporary + " to " + target.string() + ": " + error.message());
}

std::string FileStore::get(const std::string& key, Milliseconds timeout) {
  const auto path = file_of(key);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::microseconds(20);
  for (;;) {
    std::ifstream in(path, std::ios::binary);
    if (in) {
      std::ostringstream text;
      text << in.rdbuf();
      return text.str();
    }
    if (std::chrono::steady_clock::now() >= deadline)
      throw TimeoutError("file store " + directory_.string() + ": key '" + key + "' was not set within " +
                         std::to_string(timeout.count()) + " ms");
    std::this_thread::sleep_for(pause);
    pause = std::min<std::chrono::microseconds>(pause * 2, kLongestPoll);
  }
}

void FileStore::erase(const std::string& key) {
  std::error_code ignored;  // already gone is fine
  std::filesystem::remove(file_of(key), ignored);
}

}  // namespace meshreduce
