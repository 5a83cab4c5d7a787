// Parsing JSON from outside: nesting bounded by limits::kMaxJsonDepth while parsing (so no deep
// value is ever built, printed or destroyed recursively), and the library's error codes turned
// into one line that names the document, the line and the column.
#pragma once

#include <cmath>
#include <cstdint>
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

// Reading the fields of a parsed document: one set of checks for every JSON format the library
// reads (schedules, topologies), throwing `Error` with `prefix`, the entry (`where`) and what is
// wrong. A value of the wrong type or out of range is an error, never converted or truncated.
template <typename Error>
class JsonFields {
 public:
  constexpr explicit JsonFields(std::string_view prefix) : prefix_(prefix) {}

  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    throw Error(std::string(prefix_) + where + ": " + what);
  }

  const nlohmann::json& field(const nlohmann::json& object, const char* key, const std::string& where) const {
    if (!object.is_object()) fail(where, "expected an object, got " + describe_json(object));
    if (!object.contains(key)) fail(where, std::string("missing '") + key + "'");
    return object.at(key);
  }

  // An integer in [lowest, highest].
  std::int64_t integer_value(const nlohmann::json& value, const std::string& what, const std::string& where,
                             std::int64_t lowest, std::int64_t highest) const {
    if (!value.is_number_integer()) fail(where, what + " must be an integer, got " + describe_json(value));
    if (value.is_number_unsigned() && value.template get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))
      fail(where, what + " = " + describe_json(value) + " is more than the largest allowed, " + std::to_string(highest));
    const auto number = value.template get<std::int64_t>();
    if (number < lowest)
      fail(where, what + " = " + std::to_string(number) + " is less than the smallest allowed, " + std::to_string(lowest));
    if (number > highest)
      fail(where, what + " = " + std::to_string(number) + " is more than the largest allowed, " + std::to_string(highest));
    return number;
  }

  std::int64_t integer(const nlohmann::json& object, const char* key, const std::string& where, std::int64_t lowest,
                       std::int64_t highest) const {
    return integer_value(field(object, key, where), std::string("'") + key + "'", where, lowest, highest);
  }

  // A finite number >= lowest.
  double real(const nlohmann::json& object, const char* key, const std::string& where, double lowest) const {
    const nlohmann::json& value = field(object, key, where);
    if (!value.is_number()) fail(where, std::string("'") + key + "' must be a number, got " + describe_json(value));
    const double number = value.template get<double>();
    if (!std::isfinite(number) || number < lowest)
      fail(where, std::string("'") + key + "' = " + describe_json(value) + " must be a finite number >= " +
                      describe_json(lowest));
    return number;
  }

  std::string text(const nlohmann::json& object, const char* key, const std::string& where) const {
    const nlohmann::json& value = field(object, key, where);
    if (!value.is_string()) fail(where, std::string("'") + key + "' must be a string, got " + describe_json(value));
    return value.template get<std::string>();
  }

  bool boolean(const nlohmann::json& object, const char* key, const std::string& where) const {
    const nlohmann::json& value = field(object, key, where);
    if (!value.is_boolean()) fail(where, std::string("'") + key + "' must be true or false, got " + describe_json(value));
    return value.template get<bool>();
  }

 private:
  std::string_view prefix_;
};

}  // namespace meshreduce::detail
