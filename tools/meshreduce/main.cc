// meshreduce: the command-line tool. `meshreduce` alone runs `meshreduce run`.
#include <cstdio>
#include <exception>

#include "commands.h"
#include "meshreduce/error.h"

int main(int argc, char** argv) {
  CLI::App app{"meshreduce: topology-aware allreduce (plan, verify, simulate, run, benchmark, calibrate)"};
  app.require_subcommand(0, 1);
  meshreduce::cli::add_run_command(app);
  meshreduce::cli::add_bench_command(app);
  meshreduce::cli::add_plan_command(app);
  meshreduce::cli::add_verify_command(app);
  meshreduce::cli::add_simulate_command(app);
  meshreduce::cli::add_topology_command(app);
  meshreduce::cli::add_calibrate_command(app);
  try {
    app.parse(argc, argv);
    if (app.get_subcommands().empty()) app.get_subcommand("run")->parse(std::vector<std::string>{});
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;  // --help is not an error; every bad command line is a usage error
  } catch (const meshreduce::InvalidArgument& e) {
    std::fprintf(stderr, "meshreduce: error: %s\n", e.what());
    return 2;  // a bad argument: the same exit code as a bad command line
  } catch (const std::exception& e) {
    std::fprintf(stderr, "meshreduce: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
