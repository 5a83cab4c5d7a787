// meshreduce: the command-line tool. `meshreduce` alone runs `meshreduce run`.
// Exit codes: 0 success; 2 a bad command line or input (a flag value, a file that does not parse
// or exceeds a limit, a request no algorithm serves); 1 an operation that failed (a check that
// found wrong bits, a call that timed out, memory that ran out). Either way one line on stderr
// says what and where.
#include <cstdio>
#include <exception>
#include <string>

#include "commands.h"
#include "core/text.h"
#include "meshreduce/error.h"

namespace {

constexpr int kFailed = 1;
constexpr int kBadInput = 2;
// Long enough for any message of ours (lists of known names); a message quoting more is cut.
constexpr std::size_t kMaxMessageBytes = 2000;

int report(const std::string& message, int code) {
  std::fprintf(stderr, "meshreduce: error: %s\n", meshreduce::detail::excerpt(message, kMaxMessageBytes).c_str());
  return code;
}

}  // namespace

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
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    return report(std::string(e.what()) + " (see --help)", kBadInput);
  } catch (const meshreduce::InvalidArgument& e) {
    return report(e.what(), kBadInput);
  } catch (const meshreduce::TopologyError& e) {
    return report(e.what(), kBadInput);
  } catch (const meshreduce::ScheduleError& e) {
    return report(e.what(), kBadInput);
  } catch (const meshreduce::Unsupported& e) {
    return report(e.what(), kBadInput);
  } catch (const std::bad_alloc&) {
    return report("out of memory (an input larger than this machine can hold?)", kFailed);
  } catch (const std::exception& e) {
    return report(e.what(), kFailed);
  }
  return 0;
}
