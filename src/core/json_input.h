// Parsing JSON from outside: nesting bounded by limits::kMaxJsonDepth while parsing (so no deep
// value is ever built, printed or destroyed recursively), and the library's error codes turned
// into one line that names the document, the line and the column.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/text.h"
#include "meshreduce/limits.h"

namespace meshreduce::detail {

// nlohmann's messages start "[json.exception.parse_error.101] parse error at line 1, column 2:";
// keep what follows the code, cut to one short line.
inline std::string json_error_text(const std::exception& e) {
  std::string_view text = e.what();
  if (const auto end = text.find("] "); text.starts_with("[json.exception.") && end != std::string_view::npos)
    text.remove_prefix(end + 2);
  if (text.starts_with("parse error ")) text.remove_prefix(12);
  return excerpt(text, 160);
}

template <typename Error>
nlohmann::json parse_json_input(std::string_view text, const std::string& what) {
  const auto depth_guard = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json&) {
    if ((event == nlohmann::json::parse_event_t::object_start || event == nlohmann::json::parse_event_t::array_start) &&
        depth >= limits::kMaxJsonDepth)
      throw Error(what + " is not valid: JSON nested more than " + std::to_string(limits::kMaxJsonDepth) +
                  " levels deep");
    return true;
  };
  try {
    return nlohmann::json::parse(text.begin(), text.end(), depth_guard);
  } catch (const nlohmann::json::exception& e) {
    throw Error(what + " is not valid JSON: " + json_error_text(e));
  }
}

// A JSON value in a message: scalars as written (cut short), arrays and objects by their size.
inline std::string describe_json(const nlohmann::json& value) {
  if (value.is_array()) return "an array of " + std::to_string(value.size()) + " elements";
  if (value.is_object()) return "an object of " + std::to_string(value.size()) + " keys";
  return excerpt(value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), 48);
}

}  // namespace meshreduce::detail
