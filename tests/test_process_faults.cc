// Fault injection into the process executor (issue 10, item 5): one process of a job dies
// (_exit, SIGKILL), stalls (until every other has its error) or raises with part of a call done.
// Every other process must end the call with PeerError or TimeoutError naming the failed rank and
// the call, within the timeout (plus scheduling slack), destroy its communicator cleanly (its child exits normally after the
// destructor ran), and leave no shared segment in /dev/shm and nothing but the bootstrap's keys
// in the store directory.
//
// The first two tests run MESHREDUCE_FAULT_RUNS runs each (default 4; `make fault-stress` runs
// 100), each faulting a different rank at a different step of its second call, and print the
// tally.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "exec/processes/communicator_testing.h"
#include "meshreduce/process_communicator.h"
#include "process_fork.h"
#include "process_job.h"

namespace meshreduce::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kProcesses = 3;
constexpr auto kTimeout = 1000ms;
// A survivor's error must come within the timeout of the fault; the slack covers the fault
// happening after the call started and a loaded machine's scheduling.
constexpr auto kSlack = 3s;

enum class Fault { exit, kill, stall, raise };

const char* fault_name(Fault fault) {
  switch (fault) {
    case Fault::exit: return "_exit";
    case Fault::kill: return "SIGKILL";
    case Fault::stall: return "stall";
    case Fault::raise: return "raise";
  }
  return "?";
}

// `windowed`: staging windows of 16 KiB, so a call of the job runs in many (process_program.h).
ProcessCommunicatorOptions fault_options(bool windowed) {
  ProcessCommunicatorOptions options;
  options.staging_window_bytes = windowed ? 16384 : std::int64_t{1} << 20;
  options.algorithm = "ring";
  options.piece_elements = 4096;  // several pieces per step
  options.algorithm_options.chunk_elements = 5000;
  options.timeout = kTimeout;
  return options;
}

// The communicator's setup exchanges wait as long as its calls (the short timeout under test):
// the forked processes first meet with a generous deadline, since on a loaded machine one may
// start long after another.
void meet(Bootstrap& bootstrap) { bootstrap.barrier(60s); }

// A stalled process gets its core back once the processes it holds up have their errors (each
// marks a file in `directory`), or after 30 s: the stall outlasts their timeouts however long a
// loaded machine keeps them from a core, so no result depends on which process the scheduler runs.
void mark_done(const std::filesystem::path& directory, int rank) {
  std::ofstream(directory / ("done-" + std::to_string(rank))) << rank << "\n";
}

void stall_until_done(const std::filesystem::path& directory, const std::vector<int>& ranks) {
  const auto all_done = [&] {
    return std::all_of(ranks.begin(), ranks.end(),
                       [&](int r) { return std::filesystem::exists(directory / ("done-" + std::to_string(r))); });
  };
  const auto limit = Clock::now() + 30s;
  while (!all_done() && Clock::now() < limit) std::this_thread::sleep_for(1ms);
}

int runs_from_environment() {
  const char* text = std::getenv("MESHREDUCE_FAULT_RUNS");
  if (text == nullptr) return 4;
  const int runs = std::atoi(text);
  if (runs < 1 || runs > 100000) throw std::invalid_argument(std::string("MESHREDUCE_FAULT_RUNS: bad value ") + text);
  return runs;
}

// Call 1 is clean and checked bit for bit; in call 2 the victim meets its fault before its
// step number `target` (modulo its steps), in its window target / 3 (modulo its windows).
// Survivors report "<error type>|<ms>|<message>".
std::string faulty_job(int rank, const std::shared_ptr<Bootstrap>& bootstrap, int victim, Fault fault, int target,
                       bool windowed, const std::filesystem::path& marks) {
  meet(*bootstrap);
  ProcessCommunicator comm(bootstrap, fault_options(windowed));
  const ProcessJob job{DType::f32, ReduceOp::sum, false, false, {1000, 3, 70000}};
  if (auto problem = run_process_job(comm, job); !problem.empty()) return "clean call: " + problem;
  if (rank == victim) {
    auto hooks = std::make_shared<detail::ProcessExecutionHooks>();
    std::vector<int> survivors;
    for (int r = 0; r < kProcesses; ++r)
      if (r != victim) survivors.push_back(r);
    hooks->before_step = [fault, target, &marks, survivors](const detail::ProcessStepEvent& event) {
      if (event.call != 2 || event.index != target % event.steps || event.window != (target / 3) % event.windows) return;
      switch (fault) {
        case Fault::exit: ::_exit(7);
        case Fault::kill: ::raise(SIGKILL); break;
        case Fault::stall: stall_until_done(marks, survivors); break;
        case Fault::raise: throw std::runtime_error("injected fault before step " + std::to_string(event.step));
      }
    };
    detail::ProcessCommunicatorTesting::set_hooks(comm, hooks);
  }
  const auto start = Clock::now();
  const auto waited = [&] {
    return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count());
  };
  std::string outcome;
  try {
    auto problem = run_process_job(comm, job);
    outcome = problem.empty() ? "no error" : "wrong result: " + problem;
  } catch (const PeerError& error) {
    outcome = "PeerError|" + waited() + "|" + error.what();
  } catch (const TimeoutError& error) {
    outcome = "TimeoutError|" + waited() + "|" + error.what();
  } catch (const std::exception& error) {
    outcome = "other|" + waited() + "|" + error.what();
  }
  if (rank != victim) mark_done(marks, rank);
  return outcome;
}

std::vector<std::string> split(const std::string& text, char by, int parts) {
  std::vector<std::string> out;
  std::size_t at = 0;
  for (int i = 0; i + 1 < parts; ++i) {
    const std::size_t next = text.find(by, at);
    if (next == std::string::npos) break;
    out.push_back(text.substr(at, next - at));
    at = next + 1;
  }
  out.push_back(text.substr(at));
  return out;
}

bool all_digits(const std::string& text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "meshreduce%<round>%<rank>" (std::regex is avoided: GCC 12 warns inside it under the sanitizers).
bool is_bootstrap_key(const std::string& name) {
  const auto parts = split(name, '%', 3);
  return parts.size() == 3 && parts[0] == "meshreduce" && all_digits(parts[1]) && all_digits(parts[2]);
}

// What the job left: shared segments of its processes, and store entries other than the
// bootstrap's keys ("meshreduce%<round>%<rank>").
std::string leftovers(const std::vector<ChildResult>& results, const std::filesystem::path& store) {
  std::string found;
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm")) {
    const std::string name = entry.path().filename().string();
    for (const ChildResult& child : results)
      if (name.rfind("meshreduce", 0) == 0 && name.find("-" + std::to_string(child.pid) + "-") != std::string::npos)
        found += " /dev/shm/" + name;
  }
  for (const auto& entry : std::filesystem::directory_iterator(store)) {
    const std::string name = entry.path().filename().string();
    if (!is_bootstrap_key(name)) found += " " + entry.path().string();
  }
  return found;
}

// One run: "ok" or what went wrong; `survivor_errors` counts the survivors' error types and
// `longest` keeps the longest a survivor's faulty call lasted.
std::string one_run(int victim, Fault fault, int target, bool windowed, std::map<std::string, int>& survivor_errors,
                    std::chrono::milliseconds& longest) {
  const ScratchDirectory store_directory;
  const ScratchDirectory marks_directory;  // not the store: only bootstrap keys may be left there
  const std::filesystem::path& store = store_directory.path();
  const std::filesystem::path& marks = marks_directory.path();
  const auto results = run_forked_in(
      store, kProcesses,
      [&](int rank, std::shared_ptr<Bootstrap> bootstrap) {
        return faulty_job(rank, bootstrap, victim, fault, target, windowed, marks);
      },
      std::chrono::seconds(60));
  std::string problem;
  const std::string victim_name = "rank " + std::to_string(victim);
  for (int r = 0; r < kProcesses && problem.empty(); ++r) {
    const ChildResult& child = results[static_cast<std::size_t>(r)];
    const std::string who = "rank " + std::to_string(r) + ": ";
    if (r == victim) {
      if (fault == Fault::kill && child.signal != SIGKILL) problem = who + "was not killed: " + child.text;
      if (fault == Fault::exit && (child.signal != 0 || !child.text.empty())) problem = who + "did not _exit: " + child.text;
      if (fault == Fault::raise && child.text.find("other|") != 0) problem = who + "did not raise: " + child.text;
      if (fault == Fault::stall && !child.exited) problem = who + "did not end after its stall";
      continue;
    }
    if (!child.exited) {
      problem = who + "did not end cleanly (killed at the deadline, or crashed: signal " + std::to_string(child.signal) + ")";
      break;
    }
    const auto parts = split(child.text, '|', 3);
    if (parts.size() != 3 || (parts[0] != "PeerError" && parts[0] != "TimeoutError")) {
      problem = who + "no PeerError or TimeoutError: " + child.text;
      break;
    }
    const auto took = std::chrono::milliseconds(std::stoll(parts[1]));
    longest = std::max(longest, took);
    if (took > kTimeout + kSlack) problem = who + "took " + parts[1] + " ms: " + parts[2];
    if (parts[2].find(victim_name) == std::string::npos || parts[2].find("call 2") == std::string::npos)
      problem = who + "does not name " + victim_name + " and call 2: " + parts[2];
    ++survivor_errors[parts[0]];
  }
  if (problem.empty()) {
    const std::string left = leftovers(results, store);
    if (!left.empty()) problem = "left behind:" + left;
  }
  return problem.empty() ? "ok" : std::string(fault_name(fault)) + " of " + victim_name + " before its step " +
                                      std::to_string(target) + (windowed ? " in staging windows" : "") + ": " + problem;
}

void expect_every_run_clean(const std::vector<Fault>& faults, int runs) {
  std::map<std::string, int> outcomes, survivor_errors;
  std::chrono::milliseconds longest{0};
  for (int run = 0; run < runs; ++run) {
    const Fault fault = faults[static_cast<std::size_t>(run) % faults.size()];
    // Every other run in staging windows, the fault in a later window than the first.
    const std::string outcome = one_run(run % kProcesses, fault, run * 7 + 1, run % 2 == 1, survivor_errors, longest);
    EXPECT_EQ(outcome, "ok") << "run " << run;
    ++outcomes[outcome == "ok" ? std::string("ok") : "failed"];
  }
  std::string faults_text;
  for (Fault fault : faults) faults_text += std::string(faults_text.empty() ? "" : "/") + fault_name(fault);
  std::printf("process faults (%s): %d of %d runs ended with an error on every other process within the timeout "
              "(%lld ms) naming the failed rank and the call, nothing left behind; survivors' errors: %d PeerError, "
              "%d TimeoutError; the longest faulty call lasted %lld ms\n",
              faults_text.c_str(), outcomes["ok"], runs, static_cast<long long>(kTimeout.count()),
              survivor_errors["PeerError"], survivor_errors["TimeoutError"], static_cast<long long>(longest.count()));
  EXPECT_EQ(outcomes["ok"], runs);
}

TEST(ProcessFaults, ADyingProcessMakesEveryOtherFailNamingItWithinTheTimeout) {
  expect_every_run_clean({Fault::exit, Fault::kill}, runs_from_environment());
}

TEST(ProcessFaults, AStallingOrRaisingProcessMakesEveryOtherFailNamingIt) {
  expect_every_run_clean({Fault::stall, Fault::raise}, runs_from_environment());
}

// The two stall reports below: rank 1 stalls until rank 0 has its report. The timeout is long
// enough that the clean part of the job (its first call, the steps before the stall) does not
// time out when a process waits a while for a core.
constexpr auto kStallTimeout = 2000ms;

// Two forked processes on a fresh store directory, each with a communicator of kStallTimeout;
// `body(rank, comm, directory)` is each one's part and returns its result text.
template <typename Body>
std::vector<ChildResult> run_stall_report_job(Body body) {
  const ScratchDirectory scratch;
  const std::filesystem::path& directory = scratch.path();
  return run_forked_in(directory, 2, [&](int rank, std::shared_ptr<Bootstrap> bootstrap) -> std::string {
    auto options = fault_options(false);
    options.timeout = kStallTimeout;
    meet(*bootstrap);
    ProcessCommunicator comm(bootstrap, options);
    return body(rank, comm, directory);
  });
}

// As Horovod's stall check: which rank, which of its tensors it has not submitted, how far it
// got, and for how long nothing moved.
TEST(ProcessFaults, AStallBeforeSubmittingIsReportedWithTheTensorsAndHowLong) {
  const auto results = run_stall_report_job([](int rank, ProcessCommunicator& comm,
                                                const std::filesystem::path& directory) -> std::string {
    const ProcessJob job{DType::f32, ReduceOp::sum, false, false, {1000, 3, 70000}};
    const auto start = Clock::now();
    if (auto problem = run_process_job(comm, job); !problem.empty()) return "clean call: " + problem;
    if (rank == 1) stall_until_done(directory, {0});  // its peer gives up on it meanwhile
    try {
      run_process_job(comm, job);
    } catch (const Error& error) {
      const auto since_start = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
      if (rank == 0) mark_done(directory, 0);
      return std::string(error.what()) + "|" + std::to_string(since_start);
    }
    return "no error";
  });
  const std::size_t bar = results[0].text.rfind('|');
  ASSERT_NE(bar, std::string::npos) << results[0].text;
  const std::string report = results[0].text.substr(0, bar);
  const long long running_ms = std::stoll(results[0].text.substr(bar + 1));
  expect_contains(report, {"rank 0 waited 2000 ms for rank 1 to start call 2 (stage its tensors): rank 1 has not "
                           "submitted tensors 0-2 of call 2 (it did ",
                           " steps of call 1); no progress for "});
  // The idle time is real: at least the timeout, and no longer than rank 0 has been running
  // calls (rank 1's last progress came after rank 0 started call 1, which feeds it).
  const std::string marker = "no progress for ";
  const std::size_t at = report.find(marker);
  ASSERT_NE(at, std::string::npos) << report;
  const long long idle_ms = std::stoll(report.substr(at + marker.size()));
  EXPECT_GE(idle_ms, 2000) << report;
  EXPECT_LE(idle_ms, running_ms) << report;
  expect_contains(results[1].text, {"rank 0 failed in call 2: rank 0 waited 2000 ms for rank 1"});
}

TEST(ProcessFaults, AStallMidCallIsReportedWithTheStepsDone) {
  const auto results = run_stall_report_job([](int rank, ProcessCommunicator& comm,
                                                const std::filesystem::path& directory) -> std::string {
    if (rank == 1) {
      auto hooks = std::make_shared<detail::ProcessExecutionHooks>();
      hooks->before_step = [directory](const detail::ProcessStepEvent& event) {
        if (event.index == 2) stall_until_done(directory, {0});
      };
      detail::ProcessCommunicatorTesting::set_hooks(comm, hooks);
    }
    try {
      run_process_job(comm, {DType::f32, ReduceOp::sum, false, false, {1000, 3, 70000}});
    } catch (const Error& error) {
      if (rank == 0) mark_done(directory, 0);
      return error.what();
    }
    return "no error";
  });
  expect_contains(results[0].text, {"rank 0 waited 2000 ms for step ", " on rank 1 in call 1: rank 1 submitted its "
                                    "tensors of call 1 and did 2 of its ", " steps; no progress for "});
}

}  // namespace
}  // namespace meshreduce::testing
