// Internal: the topology file format (docs/topology-format.md) as nlohmann::json values, for code
// inside the library and its tools that already holds a json document. The public API
// (topology.h) takes and returns text.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "meshreduce/topology.h"

namespace meshreduce::detail {

// Keys in the documented order (ordered_json), so written files read top-down.
nlohmann::ordered_json topology_to_json(const Topology& topology);
// Validates, and computes the routes the document does not give. Throws TopologyError naming
// the offending entry.
Topology topology_from_json(const nlohmann::json& document);
// The "thread_costs" object; `where` names it in errors.
nlohmann::ordered_json thread_costs_to_json(const ThreadCosts& costs);
ThreadCosts thread_costs_from_json(const nlohmann::json& entry, const std::string& where);

}  // namespace meshreduce::detail
