#include "exec/processes/layout_exchange.h"

#include <algorithm>
#include <sstream>

namespace meshreduce::detail {

Description describe_layout(std::span<const TensorSpec> layout, ReduceOp op, const std::string& algorithm) {
  Description fields;
  fields.emplace_back("tensors", std::to_string(layout.size()));
  for (std::size_t n = 0; n < layout.size(); ++n)
    fields.emplace_back("tensor " + std::to_string(n),
                        std::string(dtype_name(layout[n].dtype)) + " x " + std::to_string(layout[n].count));
  fields.emplace_back("op", std::string(reduce_op_name(op)));
  fields.emplace_back("algorithm", algorithm);
  return fields;
}

std::string encode(const Description& description) {
  std::string text;
  for (const auto& [name, value] : description) text += name + "=" + value + "\n";
  return text;
}

Description decode(const std::string& text) {
  Description fields;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    const auto equals = line.find('=');
    if (equals == std::string::npos) fields.emplace_back(line, "");
    else fields.emplace_back(line.substr(0, equals), line.substr(equals + 1));
  }
  return fields;
}

std::optional<std::string> first_mismatch(std::span<const std::string> encoded_per_rank) {
  if (encoded_per_rank.empty()) return std::nullopt;
  const Description reference = decode(encoded_per_rank.front());
  for (std::size_t r = 1; r < encoded_per_rank.size(); ++r) {
    const Description other = decode(encoded_per_rank[r]);
    const std::size_t fields = std::max(reference.size(), other.size());
    for (std::size_t f = 0; f < fields; ++f) {
      const auto* a = f < reference.size() ? &reference[f] : nullptr;
      const auto* b = f < other.size() ? &other[f] : nullptr;
      if (a != nullptr && b != nullptr && *a == *b) continue;
      const auto show = [](const std::pair<std::string, std::string>* field, const std::string& name) {
        return field == nullptr ? name + " = (none)" : field->first + " = " + field->second;
      };
      const std::string name = a != nullptr ? a->first : b->first;
      return "rank 0 has " + show(a, name) + ", rank " + std::to_string(r) + " has " + show(b, name);
    }
  }
  return std::nullopt;
}

}  // namespace meshreduce::detail
