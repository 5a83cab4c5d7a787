// Internal: one run of the event simulator (simulator.cc) with one protocol. The public
// simulate() (protocols.cc) checks its arguments and picks the protocol.
#pragma once

#include <vector>

#include "meshreduce/simulator.h"

namespace meshreduce::detail {

// `devices`: a checked mapping of every schedule position to a topology device id.
// `pay_reductions`: reduce and scale steps cost time on the devices' reduction units.
SimulationResult simulate_with(const Schedule& schedule, const Topology& topology, const std::vector<int>& devices,
                               const SimulationOptions& options, const Protocol& protocol, bool pay_reductions);

}  // namespace meshreduce::detail
