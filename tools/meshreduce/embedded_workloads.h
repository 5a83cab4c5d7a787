// The workloads of data/workloads/, compiled into the CLI so that it runs with no files around.
#pragma once

#include <span>
#include <string_view>

namespace meshreduce::cli {

struct EmbeddedWorkload {
  std::string_view name;
  std::string_view text;
};

std::span<const EmbeddedWorkload> embedded_workloads();

}  // namespace meshreduce::cli
