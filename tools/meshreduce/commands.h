// Each subcommand of the meshreduce CLI lives in its own cmd_<name>.cc and registers itself on
// the app with add_<name>_command. The callbacks throw meshreduce::Error on failure; main()
// prints the message and exits non-zero.
#pragma once

#include <CLI/CLI.hpp>

namespace meshreduce::cli {

void add_run_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_plan_command(CLI::App& app);
void add_verify_command(CLI::App& app);
void add_simulate_command(CLI::App& app);
void add_topology_command(CLI::App& app);
void add_calibrate_command(CLI::App& app);

}  // namespace meshreduce::cli
