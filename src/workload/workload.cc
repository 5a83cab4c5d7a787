#include "meshreduce/workload.h"

#include <charconv>
#include <fstream>
#include <sstream>

#include "meshreduce/error.h"

namespace meshreduce {

std::int64_t Workload::elements() const noexcept {
  std::int64_t total = 0;
  for (const WorkloadTensor& tensor : tensors) total += tensor.elements;
  return total;
}

std::vector<TensorSpec> Workload::layout(DType dtype) const {
  std::vector<TensorSpec> specs;
  specs.reserve(tensors.size());
  for (const WorkloadTensor& tensor : tensors) specs.push_back({tensor.elements, dtype});
  return specs;
}

Workload parse_workload(std::string_view text, std::string name) {
  Workload workload{std::move(name), {}};
  std::size_t line_number = 0;
  while (!text.empty()) {
    const std::size_t end = std::min(text.find('\n'), text.size());
    std::string_view line = text.substr(0, end);
    text.remove_prefix(std::min(end + 1, text.size()));
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    const std::size_t tab1 = line.find('\t');
    const std::size_t tab2 = tab1 == std::string_view::npos ? tab1 : line.find('\t', tab1 + 1);
    const auto where = [&] { return "workload '" + workload.name + "' line " + std::to_string(line_number); };
    if (tab2 == std::string_view::npos)
      throw InvalidArgument(where() + ": expected 'name<TAB>shape<TAB>elements', got '" + std::string(line) + "'");
    const std::string_view count = line.substr(tab2 + 1);
    std::int64_t elements = 0;
    const auto [ptr, error] = std::from_chars(count.data(), count.data() + count.size(), elements);
    if (error != std::errc() || ptr != count.data() + count.size() || elements < 0)
      throw InvalidArgument(where() + ": element count '" + std::string(count) + "' is not a non-negative integer");
    workload.tensors.push_back(
        {std::string(line.substr(0, tab1)), std::string(line.substr(tab1 + 1, tab2 - tab1 - 1)), elements});
  }
  return workload;
}

Workload load_workload_file(const std::string& path) {
  std::ifstream file(path);
  if (!file) throw InvalidArgument("cannot read workload file '" + path + "'");
  std::ostringstream text;
  text << file.rdbuf();
  std::string name = path.substr(path.find_last_of('/') + 1);
  if (const auto dot = name.rfind('.'); dot != std::string::npos) name.resize(dot);
  return parse_workload(text.str(), name);
}

Workload uniform_workload(int count, std::int64_t elements) {
  if (count < 0 || elements < 0)
    throw InvalidArgument("uniform workload needs count >= 0 and elements >= 0, got " + std::to_string(count) +
                          " and " + std::to_string(elements));
  Workload workload{std::to_string(count) + "x" + std::to_string(elements), {}};
  for (int i = 0; i < count; ++i) workload.tensors.push_back({"t" + std::to_string(i), std::to_string(elements), elements});
  return workload;
}

}  // namespace meshreduce
