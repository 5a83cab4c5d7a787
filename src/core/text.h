// Text from outside (file contents, flag values) shown in error messages: at most a short
// excerpt, with control and non-ASCII bytes escaped so that a message is always one printable line.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace meshreduce::detail {

// `text` with bytes outside printable ASCII written as \n, \t, \r or \xNN (a backslash stays as
// it is, so that escaping twice changes nothing), cut after `max_bytes`
// input bytes with "... (N bytes)" appended.
std::string excerpt(std::string_view text, std::size_t max_bytes = 48);

}  // namespace meshreduce::detail
