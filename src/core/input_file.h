// Reading a file from outside whole into memory, bounded by limits::kMaxFileBytes, with errors
// of the caller's type that name the file.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>

#include "meshreduce/limits.h"

namespace meshreduce::detail {

// `what` names the kind of file in messages ("topology file", "workload file").
template <typename Error>
std::string read_input_file(const std::string& path, const std::string& what) {
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (error || !std::filesystem::exists(status)) throw Error("cannot open " + what + " '" + path + "': no such file");
  if (std::filesystem::is_directory(status)) throw Error(what + " '" + path + "' is a directory, not a file");
  std::ifstream file(path, std::ios::binary);
  if (!file) throw Error("cannot open " + what + " '" + path + "'");
  if (std::filesystem::is_regular_file(status)) {
    const auto size = std::filesystem::file_size(path, error);
    if (!error && size > static_cast<std::uintmax_t>(limits::kMaxFileBytes))
      throw Error(what + " '" + path + "' has " + std::to_string(size) + " bytes, more than the largest allowed, " +
                  std::to_string(limits::kMaxFileBytes));
  }
  // Read in pieces so that a pipe or device file cannot grow past the limit either.
  std::string text;
  char buffer[1 << 16];
  while (file.read(buffer, sizeof buffer) || file.gcount() > 0) {
    text.append(buffer, static_cast<std::size_t>(file.gcount()));
    if (text.size() > static_cast<std::size_t>(limits::kMaxFileBytes))
      throw Error(what + " '" + path + "' is longer than the largest allowed, " +
                  std::to_string(limits::kMaxFileBytes) + " bytes");
  }
  if (file.bad()) throw Error("failed reading " + what + " '" + path + "'");
  return text;
}

}  // namespace meshreduce::detail
