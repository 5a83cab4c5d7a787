// The process executor's pieces alone: the per-process lowering (what each process waits for and
// whose memory it touches), the layout exchange's check, the arena allocator, the file store and
// the store bootstrap.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "exec/processes/layout_exchange.h"
#include "exec/processes/machines.h"
#include "exec/processes/planning.h"
#include "exec/processes/process_program.h"
#include "exec/processes/shared_arena.h"
#include "exec/processes/shm_segment.h"
#include "exec/processes/wait.h"
#include "meshreduce/bootstrap.h"
#include "plan/program.h"
#include "process_fork.h"
#include "test_support.h"

namespace meshreduce::testing {
namespace {

using namespace std::chrono_literals;

Schedule ring_schedule(int devices, std::int64_t count) {
  AlgorithmRequest request;
  request.num_devices = devices;
  request.count = count;
  return build_schedule(find_algorithm("ring"), request);
}

TEST(ProcessProgram, EachProcessRunsItsOwnStepsAndWaitsOnlyForOtherProcesses) {
  const Schedule schedule = ring_schedule(4, 4000);
  std::vector<Bucket> buckets{{DType::f32, 4000, 0, {{0, 0, 4000}}}};
  const auto program = detail::lower_schedule(schedule, buckets, 1000);
  const std::vector<TensorSpec> layout{{4000, DType::f32}};
  const auto map = detail::make_process_map(std::vector<int>{2, 2});  // devices {0,1} and {2,3}
  std::set<int> all_steps;
  for (int rank = 0; rank < 2; ++rank) {
    const auto lowered = detail::lower_for_process(schedule, program, layout, map, rank, std::size_t{1} << 30);
    for (const auto& local : lowered.steps) {
      EXPECT_EQ(map.process_of[static_cast<std::size_t>(schedule.steps[static_cast<std::size_t>(local.step)].device)], rank);
      EXPECT_TRUE(all_steps.insert(local.step).second) << "step " << local.step << " runs twice";
      // Waits: exactly the dependencies on other processes' steps.
      std::set<int> remote;
      for (int dep : schedule.steps[static_cast<std::size_t>(local.step)].deps)
        if (lowered.step_process[static_cast<std::size_t>(dep)] != rank) remote.insert(dep);
      std::set<int> waits(lowered.waits.begin() + local.first_wait, lowered.waits.begin() + local.first_wait + local.waits);
      EXPECT_EQ(waits, remote) << "step " << local.step;
      for (int p = 0; p < local.peers; ++p) EXPECT_NE(lowered.peers[static_cast<std::size_t>(local.first_peer + p)], rank);
    }
    // Final waits: every other process's step that reads or writes this process's devices.
    std::set<int> touching;
    for (std::size_t s = 0; s < schedule.steps.size(); ++s) {
      const Step& step = schedule.steps[s];
      if (map.process_of[static_cast<std::size_t>(step.device)] == rank) continue;
      for (const auto* refs : {&step.srcs, &step.dsts})
        for (const BufferRef& ref : *refs)
          if (map.process_of[static_cast<std::size_t>(ref.device)] == rank) touching.insert(static_cast<int>(s));
    }
    EXPECT_EQ(std::set<int>(lowered.final_waits.begin(), lowered.final_waits.end()), touching);
    EXPECT_FALSE(touching.empty());
    // Every range of the segment is aligned and inside it, and no two overlap.
    const auto& segment = lowered.layouts[static_cast<std::size_t>(rank)];
    std::vector<std::pair<std::size_t, std::size_t>> ranges{{segment.ready, 8}, {segment.failed, 8},
                                                            {segment.progress, 24},
                                                            {segment.flags, 8 * schedule.steps.size()}};
    EXPECT_EQ(lowered.windows, 1);
    EXPECT_EQ(lowered.ring_bytes, 16000u);  // one window: the tensor staged whole
    for (std::size_t i = 0; i < segment.staging_input.size(); ++i) {  // one tensor: a ring per local device
      ranges.emplace_back(segment.staging_input[i], lowered.ring_bytes);
      ranges.emplace_back(segment.staging_output[i], lowered.ring_bytes);
    }
    std::sort(ranges.begin(), ranges.end());
    for (std::size_t i = 0; i < ranges.size(); ++i) {
      EXPECT_EQ(ranges[i].first % detail::kSegmentAlignment, 0u);
      EXPECT_LE(ranges[i].first + ranges[i].second, i + 1 < ranges.size() ? ranges[i + 1].first : segment.bytes);
    }
  }
  EXPECT_EQ(all_steps.size(), schedule.steps.size());
}

TEST(ProcessProgram, RejectsSegmentsPastTheLimitAndProcessesWithoutDevices) {
  const Schedule schedule = ring_schedule(2, 4000);
  std::vector<Bucket> buckets{{DType::f32, 4000, 0, {{0, 0, 4000}}}};
  const auto program = detail::lower_schedule(schedule, buckets, 1000);
  const std::vector<TensorSpec> layout{{4000, DType::f32}};
  const auto map = detail::make_process_map(std::vector<int>{1, 1});
  expect_contains(thrown_message<InvalidArgument>([&] { detail::lower_for_process(schedule, program, layout, map, 0, 20000); }),
                  {"its shared segment would exceed 20000 bytes"});
  const std::vector<TensorSpec> huge{{std::int64_t{1} << 62, DType::f64}};
  expect_contains(thrown_message<InvalidArgument>([&] { detail::lower_for_process(schedule, program, huge, map, 0, 1 << 30); }),
                  {"does not fit a shared segment"});
  expect_contains(thrown_message<InvalidArgument>([&] { detail::make_process_map(std::vector<int>{1, 0}); }),
                  {"process 1 holds 0 devices"});
}

// The schedule without its signals (transfers of no data, which the verifier does not take as
// steps): each dependency on a signal becomes one on what the signal waited for.
Schedule without_signals(const Schedule& schedule) {
  Schedule result = schedule;
  result.steps.clear();
  std::vector<std::vector<int>> becomes(schedule.steps.size());
  for (std::size_t s = 0; s < schedule.steps.size(); ++s) {
    const Step& step = schedule.steps[s];
    std::set<int> deps;
    for (int dep : step.deps)
      for (int d : becomes[static_cast<std::size_t>(dep)]) deps.insert(d);
    if (step.srcs.empty() && step.dsts.empty()) {
      becomes[s].assign(deps.begin(), deps.end());
      continue;
    }
    Step kept = step;
    kept.deps.assign(deps.begin(), deps.end());
    becomes[s] = {result.add(std::move(kept))};
  }
  return result;
}

// Every algorithm split over machines of two processes of two devices each: still a correct
// allreduce (the verifier's proof, in place and out), and only transfers cross machines.
TEST(SplitByMachine, OnlyTransfersCrossMachinesAndEverySplitScheduleStaysCorrect) {
  const auto map = detail::make_process_map(std::vector<int>{2, 2, 2, 2});
  const std::vector<int> machine_of{0, 0, 1, 1};
  const auto machine = [&](int device) { return machine_of[static_cast<std::size_t>(map.process_of[static_cast<std::size_t>(device)])]; };
  for (const Algorithm& algorithm : algorithms()) {
    AlgorithmRequest request;
    request.num_devices = 8;
    request.groups = {{0, 1, 2, 3}, {4, 5, 6, 7}};
    request.count = 1000;
    request.options.chunk_elements = 300;
    const Topology flat = flat_topology(8);
    request.topology = &flat;
    request.topology_devices = iota_devices(8);
    if (algorithm.decline(request)) continue;
    const Schedule original = build_schedule(algorithm, request);
    const auto split = detail::split_by_machine(original, map, machine_of);
    ASSERT_EQ(split.receiver.size(), split.schedule.steps.size());
    const auto report = verify_schedule(without_signals(split.schedule));
    EXPECT_TRUE(report.ok) << algorithm.name << ": " << report.violation;
    int transfers = 0;
    std::int64_t crossing = 0;
    for (std::size_t s = 0; s < split.schedule.steps.size(); ++s) {
      const Step& step = split.schedule.steps[s];
      const int runner = machine(step.device);
      if (split.receiver[s] >= 0) {
        ++transfers;
        EXPECT_EQ(step.kind, StepKind::copy);
        for (const BufferRef& src : step.srcs) EXPECT_EQ(machine(src.device), runner);
        for (const BufferRef& dst : step.dsts) EXPECT_EQ(map.process_of[static_cast<std::size_t>(dst.device)], split.receiver[s]);
        crossing += step.count;
      } else {
        for (const auto* refs : {&step.srcs, &step.dsts})
          for (const BufferRef& ref : *refs) EXPECT_EQ(machine(ref.device), runner) << algorithm.name << " step " << s;
      }
      // A dependency is known where the step runs: on its machine, or it is a transfer to it.
      for (int dep : step.deps) {
        const int receiver = split.receiver[static_cast<std::size_t>(dep)];
        const int known = receiver >= 0 ? machine_of[static_cast<std::size_t>(receiver)]
                                        : machine(split.schedule.steps[static_cast<std::size_t>(dep)].device);
        EXPECT_EQ(known, runner) << algorithm.name << " step " << s << " dep " << dep;
      }
    }
    EXPECT_GT(transfers, 0) << algorithm.name;
    if (algorithm.name == "hierarchical-rs") {
      // Between machines only 1/(devices per machine) of the data, each way: 2 x 4 x 1000/4.
      EXPECT_EQ(crossing, 2 * 4 * 1000 / 4) << "elements moved between machines";
    }
  }
  // One machine: nothing changes.
  AlgorithmRequest request;
  request.num_devices = 8;
  request.count = 100;
  const Schedule ring = build_schedule(find_algorithm("ring"), request);
  const auto same = detail::split_by_machine(ring, map, std::vector<int>{0, 0, 0, 0});
  EXPECT_EQ(same.schedule.steps.size(), ring.steps.size());
}

// A process walks its steps in order, so where a transfer sits decides when its sender starts
// it. hierarchical-rs on two machines of four processes: each process and its partner on the
// other machine exchange their partial sums, each combining one part. Each must send before it
// waits for its partner's data, or the two sends go one after the other and the link carries one
// direction at a time (measured: 123 ms where the bytes need 67 at 2 Gbit/s). And no transfer
// waits behind anything but its own dependencies: the steps between its last dependency and it
// are transfers too. Every algorithm, and a chunked hierarchical-rs, is checked for the second.
TEST(SplitByMachine, EachTransferStartsRightAfterItsLastDependency) {
  const auto map = detail::make_process_map(std::vector<int>{1, 1, 1, 1, 1, 1, 1, 1});
  const std::vector<int> machine_of{0, 0, 0, 0, 1, 1, 1, 1};
  const Topology flat = flat_topology(8);
  for (const Algorithm& algorithm : algorithms())
    for (const std::int64_t chunk : {std::int64_t{0}, std::int64_t{40}}) {
      AlgorithmRequest request;
      request.num_devices = 8;
      request.groups = {{0, 1, 2, 3}, {4, 5, 6, 7}};
      request.count = 1003;
      request.options.chunk_elements = chunk;
      request.topology = &flat;
      request.topology_devices = iota_devices(8);
      if (algorithm.decline(request)) continue;
      const auto split = detail::split_by_machine(build_schedule(algorithm, request), map, machine_of);
      const auto& steps = split.schedule.steps;
      const auto report = verify_schedule(without_signals(split.schedule));
      EXPECT_TRUE(report.ok) << algorithm.name << ": " << report.violation;
      for (std::size_t s = 0; s < steps.size(); ++s) {
        for (int dep : steps[s].deps) ASSERT_LT(dep, static_cast<int>(s)) << algorithm.name << " step " << s;
        if (split.receiver[s] < 0) continue;
        const int last = steps[s].deps.empty() ? -1 : *std::max_element(steps[s].deps.begin(), steps[s].deps.end());
        for (auto between = static_cast<std::size_t>(last + 1); between < s; ++between)
          EXPECT_GE(split.receiver[between], 0)
              << algorithm.name << " chunk " << chunk << ": transfer " << s << " waits behind step " << between;
      }
      if (algorithm.name != "hierarchical-rs" || chunk != 0) continue;
      // A partner's data needs only what wrote it, on its own machine: no signal from the
      // receiving machine (a round trip between the machines) holds it back.
      int signals = 0;
      for (std::size_t s = 0; s < steps.size(); ++s) signals += split.receiver[s] >= 0 && steps[s].count == 0;
      EXPECT_EQ(signals, 0) << "signals between machines";
      // Per process: the first step that sends data to the other machine, and the first that
      // waits for data from it.
      for (int process = 0; process < 8; ++process) {
        int first_send = -1, first_wait = -1;
        for (std::size_t s = 0; s < steps.size(); ++s) {
          if (map.process_of[static_cast<std::size_t>(steps[s].device)] != process) continue;
          if (split.receiver[s] >= 0 && steps[s].count > 0 && first_send < 0) first_send = static_cast<int>(s);
          const bool waits = std::any_of(steps[s].deps.begin(), steps[s].deps.end(), [&](int dep) {
            return split.receiver[static_cast<std::size_t>(dep)] == process && steps[static_cast<std::size_t>(dep)].count > 0;
          });
          if (split.receiver[s] < 0 && waits && first_wait < 0) first_wait = static_cast<int>(s);
        }
        ASSERT_GE(first_send, 0) << "process " << process;
        ASSERT_GE(first_wait, 0) << "process " << process;
        EXPECT_LT(first_send, first_wait) << "process " << process << " waits for its partner's data before it sends its own";
      }
    }
}

TEST(LayoutExchange, NamesTheFirstDifferenceWithBothRanksAndValues) {
  const std::vector<TensorSpec> a{{100, DType::f32}, {7, DType::f64}};
  const std::vector<TensorSpec> b{{100, DType::f32}, {7, DType::i32}};
  const std::vector<TensorSpec> c{{100, DType::f32}};
  const auto text = [](std::span<const TensorSpec> layout, ReduceOp op) {
    return detail::encode(detail::describe_layout(layout, op, "ring"));
  };
  EXPECT_EQ(detail::first_mismatch(std::vector<std::string>{text(a, ReduceOp::sum), text(a, ReduceOp::sum)}), std::nullopt);
  EXPECT_EQ(detail::first_mismatch(std::vector<std::string>{text(a, ReduceOp::sum), text(a, ReduceOp::sum), text(b, ReduceOp::sum)}),
            "rank 0 has tensor 1 = f64 x 7, rank 2 has tensor 1 = i32 x 7");
  EXPECT_EQ(detail::first_mismatch(std::vector<std::string>{text(a, ReduceOp::sum), text(c, ReduceOp::sum)}),
            "rank 0 has tensors = 2, rank 1 has tensors = 1");
  EXPECT_EQ(detail::first_mismatch(std::vector<std::string>{text(a, ReduceOp::sum), text(a, ReduceOp::max)}),
            "rank 0 has op = sum, rank 1 has op = max");
}

TEST(ArenaAllocator, AllocatesAlignedBlocksAndCoalescesFreedOnes) {
  detail::ArenaAllocator arena(1024);
  const auto a = arena.allocate(100);
  const auto b = arena.allocate(500);
  const auto c = arena.allocate(64);
  EXPECT_EQ(a % 64, 0u);
  EXPECT_EQ(b, 128u);
  EXPECT_EQ(c, 640u);
  expect_contains(thrown_message<InvalidArgument>([&] { arena.allocate(512); }), {"no free block of 512 bytes"});
  arena.free(b);
  arena.free(a);
  EXPECT_EQ(arena.allocate(640), 0u);  // a and b joined again
  expect_contains(thrown_message<InvalidArgument>([&] { arena.free(5); }), {"offset 5 is not an allocated block"});
  expect_contains(thrown_message<InvalidArgument>([&] { arena.allocate(4096); }), {"4096 bytes asked of an arena of 1024"});
}

TEST(ShmSegment, PeersSeeTheOwnersBytesAndTheNameIsGoneAfterUnlink) {
  auto owner = detail::ShmSegment::create("meshreduce-test", 4096);
  owner.data()[100] = std::byte{42};
  auto peer = detail::ShmSegment::open(owner.name(), 4096);
  EXPECT_EQ(peer.data()[100], std::byte{42});
  expect_contains(thrown_message<Error>([&] { detail::ShmSegment::open(owner.name(), 8192); }), {"holds 4096 bytes, expected 8192"});
  owner.unlink();
  expect_contains(thrown_message<Error>([&] { detail::ShmSegment::open(owner.name(), 4096); }), {"cannot open peer segment"});
  peer.data()[7] = std::byte{9};
  EXPECT_EQ(owner.data()[7], std::byte{9});  // still shared while mapped
}

// On a loaded machine one round of a wait (a yield) may keep the core away for milliseconds: the
// deadline must be noticed in the first round past it, not hundreds of rounds later (it was read
// every 256 rounds, and 300 ms waits lasted over 1.5 s under load). Each round here sleeps at
// least 1 ms, so the 5 ms have passed by the first yielding round, however loaded the machine.
TEST(ProcessWait, NoticesItsDeadlineInTheFirstYieldingRoundPastIt) {
  alignas(8) std::uint64_t flag = 0;
  alignas(8) std::uint64_t failed = 0;
  int rounds = 0;
  const auto slow_round = [&] {
    ++rounds;
    std::this_thread::sleep_for(1ms);
  };
  EXPECT_EQ(detail::wait_at_least(std::atomic_ref(flag), 1, std::atomic_ref(failed), 5ms, detail::WaitPolicy{}, slow_round),
            detail::WaitResult::timed_out);
  EXPECT_EQ(rounds, detail::kPauseRounds + 1);
  // Without pausing rounds (more processes than cores) every round yields and reads the clock:
  // each round takes at least 1 ms, so the wait ends by the fifth.
  rounds = 0;
  EXPECT_EQ(detail::wait_at_least(std::atomic_ref(flag), 1, std::atomic_ref(failed), 5ms, detail::WaitPolicy{0}, slow_round),
            detail::WaitResult::timed_out);
  EXPECT_GE(rounds, 1);
  EXPECT_LE(rounds, 5);
  // A flag set meanwhile (here by the poll itself, as a transport's progress does) or a failed
  // peer ends the wait at once.
  rounds = 0;
  const auto set_in_round_3 = [&] { std::atomic_ref(flag).store(++rounds >= 3 ? 1u : 0u); };
  EXPECT_EQ(detail::wait_at_least(std::atomic_ref(flag), 1, std::atomic_ref(failed), 60s, detail::WaitPolicy{0}, set_in_round_3),
            detail::WaitResult::reached);
  EXPECT_EQ(rounds, 3);
  flag = 0;
  const auto peer_fails = [&] { std::atomic_ref(failed).store(1u); };
  EXPECT_EQ(detail::wait_at_least(std::atomic_ref(flag), 1, std::atomic_ref(failed), 60s, detail::WaitPolicy{}, peer_fails),
            detail::WaitResult::failed);
}

// Long pausing (as MPI polls) when every process of the job on this machine can have a core of its
// own, none when they cannot; the short default when the cores are unknown.
TEST(ProcessWait, PausesOnlyWithACorePerProcess) {
  EXPECT_EQ(detail::wait_policy_for(2, 2).pause_rounds, detail::kSpinRounds);
  EXPECT_EQ(detail::wait_policy_for(1, 2).pause_rounds, detail::kSpinRounds);
  EXPECT_EQ(detail::wait_policy_for(3, 2).pause_rounds, 0);
  EXPECT_EQ(detail::wait_policy_for(8, 2).pause_rounds, 0);
  EXPECT_EQ(detail::wait_policy_for(8, 0).pause_rounds, detail::kPauseRounds);  // cores unknown
}

TEST(FileStore, SetsGetsAndTimesOutNamingTheKey) {
  const ScratchDirectory directory;
  FileStore store(directory.path());
  store.set("a/b", "value\n\0x");
  EXPECT_EQ(store.get("a/b", 10ms), std::string("value\n\0x"));
  expect_contains(thrown_message<TimeoutError>([&] { store.get("missing", 20ms); }), {"key 'missing' was not set within 20 ms"});
  expect_contains(thrown_message<InvalidArgument>([&] { store.set("a b", "x"); }), {"key 'a b' must be made of"});
  expect_contains(thrown_message<InvalidArgument>([&] { store.set("../x", "x"); }), {"key '../x'"});
  store.erase("a/b");
  EXPECT_THROW(store.get("a/b", 1ms), TimeoutError);
}

TEST(TcpStore, SetsGetsWaitsAndTimesOutNamingTheKey) {
  TcpStoreServer server;
  TcpStore store("127.0.0.1", server.port(), 1s);
  TcpStore other("localhost", server.port(), 1s);
  store.set("a", std::string("value\n\0x", 8));
  // The key is set: the answer comes as soon as the server's thread runs, which on a loaded
  // machine may take longer than a short timeout.
  EXPECT_EQ(other.get("a", 10s), std::string("value\n\0x", 8));
  expect_contains(thrown_message<TimeoutError>([&] { store.get("missing", 30ms); }), {"key 'missing' was not set within 30 ms"});
  // A get waits in the server until another client sets the key.
  std::thread setter([&] {
    std::this_thread::sleep_for(20ms);
    other.set("later", "here");
  });
  EXPECT_EQ(store.get("later", 5s), "here");  // also: the connection recovered from the timeout
  setter.join();
  store.erase("a");
  EXPECT_THROW(store.get("a", 10ms), TimeoutError);  // one connection: the erase came first
  const int port = server.port();
  expect_contains(thrown_message<TimeoutError>([&] { TcpStore("127.0.0.1", 1, 50ms); }), {"no server at 127.0.0.1:1 within 50 ms"});
  expect_contains(thrown_message<InvalidArgument>([&] { TcpStoreServer(70000); }), {"port 70000 is outside"});
  EXPECT_GT(port, 0);
}

TEST(StoreBootstrap, WorksOverATcpStoreAcrossProcesses) {
  // A free port, served by rank 0 once forked (no thread may run across fork()).
  int port = 0;
  { TcpStoreServer probe; port = probe.port(); }
  const auto results = run_forked(3, [port](int rank, std::shared_ptr<Bootstrap>) -> std::string {
    std::unique_ptr<TcpStoreServer> server;
    if (rank == 0) server = std::make_unique<TcpStoreServer>(port);
    auto store = std::make_shared<TcpStore>("127.0.0.1", port, 10s);
    StoreBootstrap bootstrap(store, rank, 3, "tcp");
    std::string all;
    for (int round = 0; round < 3; ++round)
      for (const auto& blob : bootstrap.all_gather(std::to_string(rank * 10 + round), 10s)) all += blob + ",";
    // Rank 0's server must outlive everyone's last read: each says when it is done.
    store->set("done/" + std::to_string(rank), "");
    if (rank == 0)
      for (int r = 1; r < 3; ++r) store->get("done/" + std::to_string(r), 10s);
    return all;
  });
  for (const auto& result : results) EXPECT_EQ(result.text, "0,10,20,1,11,21,2,12,22,");
}

TEST(StoreBootstrap, GathersEveryRanksBlobInRankOrderAcrossProcesses) {
  const auto results = run_forked(4, [](int rank, std::shared_ptr<Bootstrap> bootstrap) -> std::string {
    std::string all;
    for (int round = 0; round < 5; ++round) {
      for (const auto& blob : bootstrap->all_gather("r" + std::to_string(rank) + "x" + std::to_string(round), 10s))
        all += blob + ",";
      bootstrap->barrier(10s);
    }
    return all;
  });
  std::string expected;
  for (int round = 0; round < 5; ++round)
    for (int rank = 0; rank < 4; ++rank) expected += "r" + std::to_string(rank) + "x" + std::to_string(round) + ",";
  for (const auto& result : results) EXPECT_EQ(result.text, expected);
}

// Every rank first meets the others (exchange 0, a generous timeout, as forked processes may
// start far apart on a loaded machine); then rank 2 leaves, and ranks 0 and 1, who read each
// other's keys before rank 2's, arrive at exchange 1 together, well within its timeout.
TEST(StoreBootstrap, ARankThatNeverArrivesIsATimeoutNamingIt) {
  const auto results = run_forked(3, [](int rank, std::shared_ptr<Bootstrap> bootstrap) -> std::string {
    bootstrap->all_gather("x", 60s);
    if (rank == 2) return "absent";
    bootstrap->all_gather("y", 2000ms);
    return "no error";
  });
  EXPECT_EQ(results[2].text, "absent");
  for (int r : {0, 1})
    expect_contains(results[static_cast<std::size_t>(r)].text,
                    {"exception: bootstrap: rank " + std::to_string(r) + " waited 2000 ms for rank 2 in exchange 1"});
  const ScratchDirectory directory;
  auto store = std::make_shared<FileStore>(directory.path());
  expect_contains(thrown_message<InvalidArgument>([&] { StoreBootstrap(store, 3, 3); }), {"rank 3 is outside 0..2"});
}

// A result left for peers (forwarded_at) lies, in every rank's lowering alike, in the runner's
// staging of one of the piece's own destinations: an output of the runner's process that runs on
// the user's buffer there (own_refs) and is not staged, so nothing else uses that staging; and no
// two pieces leave results on the same bytes.
void expect_results_left_where_their_runner_owns_the_staging(const detail::Program& program, const detail::ProcessMap& map,
                                                            std::span<const TensorSpec> layout,
                                                            const std::vector<detail::ProcessProgram>& ranks,
                                                            const std::string& algorithm) {
  std::vector<std::pair<std::size_t, std::size_t>> homes;  // [begin, end) in the runner's segment, per runner
  std::vector<int> home_runner;
  for (const detail::Piece& piece : program.pieces) {
    const int runner = ranks[0].step_process[static_cast<std::size_t>(piece.step)];
    const detail::ProcessProgram& at_runner = ranks[static_cast<std::size_t>(runner)];
    const std::size_t element = dtype_size(piece.dtype);
    std::size_t left = detail::kNotForwarded;
    for (int r = piece.first_ref + piece.sources; r < piece.first_ref + piece.sources + piece.destinations; ++r) {
      const auto ref = static_cast<std::size_t>(r);
      for (const detail::ProcessProgram& lowered : ranks)
        ASSERT_EQ(lowered.forwarded_at[ref], ranks[0].forwarded_at[ref]) << algorithm << " ref " << r << ": ranks disagree";
      if (ranks[0].forwarded_at[ref] == detail::kNotForwarded) continue;
      EXPECT_NE(map.process_of[static_cast<std::size_t>(program.refs[ref].device)], runner) << algorithm << " ref " << r;
      EXPECT_TRUE(left == detail::kNotForwarded || left == ranks[0].forwarded_at[ref]) << algorithm << ": two homes in a piece";
      left = ranks[0].forwarded_at[ref];
    }
    if (left == detail::kNotForwarded) continue;
    bool found = false;
    for (int r = piece.first_ref + piece.sources; r < piece.first_ref + piece.sources + piece.destinations && !found; ++r) {
      const detail::PhysicalRef& own = program.refs[static_cast<std::size_t>(r)];
      if (own.kind != BufferKind::output || map.process_of[static_cast<std::size_t>(own.device)] != runner) continue;
      const auto slot = static_cast<std::size_t>(map.local_of[static_cast<std::size_t>(own.device)]) * layout.size() +
                        static_cast<std::size_t>(own.index);
      if (at_runner.layouts[static_cast<std::size_t>(runner)].staging_output[slot] +
              at_runner.staged_offset(own.index, own.offset, element) != left)
        continue;
      found = true;
      EXPECT_EQ(at_runner.own_refs[static_cast<std::size_t>(r)], 1) << algorithm << " ref " << r << ": home not the runner's own";
      for (const auto& range : at_runner.shared_outputs[slot])
        EXPECT_TRUE(range.end <= own.offset || range.begin >= own.offset + piece.count)
            << algorithm << " ref " << r << ": the home's range is staged too";
    }
    EXPECT_TRUE(found) << algorithm << " piece of step " << piece.step << ": its result is left at " << left
                       << ", in no staging of the runner's own destinations";
    const std::pair<std::size_t, std::size_t> bytes{left, left + static_cast<std::size_t>(piece.count) * element};
    for (std::size_t h = 0; h < homes.size(); ++h)
      if (home_runner[h] == runner) {
        EXPECT_TRUE(homes[h].second <= bytes.first || bytes.second <= homes[h].first) << algorithm << ": homes overlap";
      }
    homes.push_back(bytes);
    home_runner.push_back(runner);
  }
}

// The program of `algorithm` on a flat machine of the map's devices (small pieces and chunks)
// and every rank's lowering of it; nullopt where the algorithm declines the devices.
struct LoweredJob {
  detail::Program program;
  std::vector<detail::ProcessProgram> ranks;
};
std::optional<LoweredJob> lower_every_rank(const std::string& algorithm, std::span<const TensorSpec> layout,
                                           const detail::ProcessMap& map, std::int64_t window_bytes) {
  const int k = map.first_device.back();
  AlgorithmRequest probe;
  probe.num_devices = k;
  const Topology flat = flat_topology(k);
  probe.topology = &flat;
  probe.topology_devices = iota_devices(k);
  if (find_algorithm(algorithm).decline(probe)) return std::nullopt;
  ProcessCommunicatorOptions options;
  options.algorithm = algorithm;
  options.piece_elements = 1000;
  options.algorithm_options.chunk_elements = 1500;
  const Plan plan = detail::plan_for_processes(layout, ReduceOp::sum, k, {}, options);
  LoweredJob job{detail::lower_schedule(plan.schedule, plan.buckets, options.piece_elements), {}};
  for (int rank = 0; rank < map.processes(); ++rank)
    job.ranks.push_back(
        detail::lower_for_process(plan.schedule, job.program, layout, map, rank, std::size_t{1} << 30, {}, window_bytes));
  return job;
}

// Private buffers pass through the segment only where peers touch them: every ref of a local
// tensor either runs on the private buffer (and no staged range overlaps it) or lies inside the
// staged ranges; every peer's access lies inside them. For every algorithm, on two layouts.
TEST(ProcessProgram, PrivateBuffersAreStagedExactlyWherePeersTouchThem) {
  const std::vector<TensorSpec> layout{{10001, DType::f32}, {3, DType::f16}, {7777, DType::i64}};
  for (const std::vector<int>& devices : {std::vector<int>{1, 1, 1}, std::vector<int>{2, 1}, std::vector<int>{2, 2}}) {
    const auto map = detail::make_process_map(devices);
    for (const Algorithm& algorithm : algorithms()) {
      const auto lowered_job = lower_every_rank(std::string(algorithm.name), layout, map, 0);
      if (!lowered_job) continue;
      const auto& [program, ranks] = *lowered_job;
      ProcessCommunicatorOptions options;
      options.algorithm = std::string(algorithm.name);
      expect_results_left_where_their_runner_owns_the_staging(program, map, layout, ranks, options.algorithm);
      for (int rank = 0; rank < map.processes(); ++rank) {
        const std::string where = options.algorithm + " rank " + std::to_string(rank) + " of " +
                                  std::to_string(map.processes());
        const detail::ProcessProgram& lowered = ranks[static_cast<std::size_t>(rank)];
        ASSERT_EQ(lowered.own_refs.size(), program.refs.size());
        const auto slots = static_cast<std::size_t>(map.devices_of(rank)) * layout.size();
        ASSERT_EQ(lowered.shared_inputs.size(), slots);
        ASSERT_EQ(lowered.shared_outputs.size(), slots);
        for (const auto* ranges : {&lowered.shared_inputs, &lowered.shared_outputs})
          for (const auto& slot : *ranges)
            for (std::size_t i = 0; i < slot.size(); ++i) {
              EXPECT_LT(slot[i].begin, slot[i].end) << where;
              if (i > 0) {
                EXPECT_LT(slot[i - 1].end, slot[i].begin) << where << ": unsorted, overlapping or adjacent (one copy)";
              }
            }
        std::int64_t own = 0, forwarded = 0;
        for (const detail::Piece& piece : program.pieces) {
          const bool here = lowered.step_process[static_cast<std::size_t>(piece.step)] == rank;
          for (int r = piece.first_ref; r < piece.first_ref + piece.sources + piece.destinations; ++r) {
            const detail::PhysicalRef& ref = program.refs[static_cast<std::size_t>(r)];
            const bool mine = ref.kind != BufferKind::scratch && map.process_of[static_cast<std::size_t>(ref.device)] == rank;
            if (!mine || !here) {
              EXPECT_EQ(lowered.own_refs[static_cast<std::size_t>(r)], 0) << where << " ref " << r;
              if (!mine) continue;
            }
            const auto slot = static_cast<std::size_t>(map.local_of[static_cast<std::size_t>(ref.device)]) * layout.size() +
                              static_cast<std::size_t>(ref.index);
            const auto& staged = (ref.kind == BufferKind::input ? lowered.shared_inputs : lowered.shared_outputs)[slot];
            const std::int64_t begin = ref.offset, end = ref.offset + piece.count;
            const auto overlap = [&](const detail::ElementRange& range) {
              return std::max<std::int64_t>(0, std::min(end, range.end) - std::max(begin, range.begin));
            };
            std::int64_t covered = 0, fetched = 0;
            for (const auto& range : staged) covered += overlap(range);
            if (ref.kind == BufferKind::output)
              for (const auto& fetch : lowered.fetches[slot]) fetched += overlap(fetch.range);
            if (lowered.forwarded_at[static_cast<std::size_t>(r)] != detail::kNotForwarded) {
              // A peer's write left in its own segment: fetched whole from there, never staged.
              EXPECT_EQ(fetched, piece.count) << where << " ref " << r << ": forwarded, yet fetched only in part";
              EXPECT_EQ(covered, 0) << where << " ref " << r << ": forwarded, yet staged in part";
              ++forwarded;
              continue;
            }
            EXPECT_EQ(fetched, 0) << where << " ref " << r << ": fetched, yet not forwarded";
            if (lowered.own_refs[static_cast<std::size_t>(r)] != 0) {
              EXPECT_EQ(covered, 0) << where << " ref " << r << ": runs on the private buffer, yet staged in part";
              own += piece.count;
            } else {
              EXPECT_EQ(covered, piece.count) << where << " ref " << r << " [" << begin << ", " << end
                                              << "): staged only in part";
            }
          }
        }
        if (map.devices_of(rank) == 1 && options.algorithm == "direct") {
          EXPECT_GT(own, 0) << where << ": no ref runs on the private buffer";
          EXPECT_GT(forwarded, 0) << where << ": no peer's result is fetched";
        }
      }
    }
  }
}

// direct on two processes: each reduces half of every tensor, so half of each input passes
// through the segment (the half the peer reduces), and the same half of the output is fetched
// from where the peer left its result; the other half of each is used where the user holds it.
TEST(ProcessProgram, DirectOnTwoProcessesStagesHalfOfEachPrivateBuffer) {
  const std::vector<TensorSpec> layout{{10001, DType::f32}};
  const auto map = detail::make_process_map(std::vector<int>{1, 1});
  ProcessCommunicatorOptions options;
  options.algorithm = "direct";
  options.piece_elements = 999;
  const Plan plan = detail::plan_for_processes(layout, ReduceOp::sum, 2, {}, options);
  const auto program = detail::lower_schedule(plan.schedule, plan.buckets, options.piece_elements);
  std::int64_t staged_by_both = 0;
  for (int rank = 0; rank < 2; ++rank) {
    const auto lowered = detail::lower_for_process(plan.schedule, program, layout, map, rank, std::size_t{1} << 30);
    ASSERT_EQ(lowered.shared_inputs[0].size(), 1u);
    EXPECT_TRUE(lowered.shared_outputs[0].empty()) << "rank " << rank;
    ASSERT_EQ(lowered.fetches[0].size(), 1u) << "rank " << rank << ": the peer's pieces, one copy";
    const detail::ElementRange staged = lowered.shared_inputs[0][0];
    EXPECT_EQ(lowered.fetches[0][0].range, staged) << "rank " << rank;
    EXPECT_EQ(lowered.fetches[0][0].process, 1 - rank);
    // One slice is this rank's, the other (5000 or 5001 elements, at either end) its peer's.
    EXPECT_TRUE((staged.begin == 0) != (staged.end == 10001)) << "rank " << rank << ": [" << staged.begin << ", " << staged.end << ")";
    EXPECT_NEAR(static_cast<double>(staged.end - staged.begin), 5000.5, 0.5) << "rank " << rank;
    staged_by_both += staged.end - staged.begin;
  }
  EXPECT_EQ(staged_by_both, 10001);
}


// Staging windows (process_program.h): every rank places the elements alike; each window's
// parts fit one ring without overlapping; every piece of a rank's steps is split into sub-pieces
// that cover it exactly once, each inside one staged range of its window; the copies in and out
// cover exactly the staged and fetched ranges, at their places in the ring; and under direct
// every process reduces in every window (else the processes would take turns).
TEST(ProcessProgram, StagingWindowsSplitEveryPieceOnceAndEachWindowFitsItsRing) {
  const std::vector<TensorSpec> layout{{10001, DType::f32}, {3, DType::f16}, {7777, DType::i64}};
  for (const std::vector<int>& devices : {std::vector<int>{1, 1, 1}, std::vector<int>{2, 2}, std::vector<int>{1, 1, 1, 1, 1}}) {
    const auto map = detail::make_process_map(devices);
    for (const char* name : {"direct", "ring", "halving-doubling", "tree", "hierarchical-rs"}) {
     for (const std::int64_t window_bytes : {8192, 4096}) {
      const auto lowered_job = lower_every_rank(name, layout, map, window_bytes);
      if (!lowered_job) continue;
      const auto& [program, ranks] = *lowered_job;
      const std::string algorithm = std::string(name) + " (" + std::to_string(window_bytes) + " B windows, " +
                                    std::to_string(map.processes()) + " processes)";
      const detail::ProcessProgram& first = ranks[0];
      if ((std::string(name) == "direct" || std::string(name) == "ring") && devices.size() < 5) {
        EXPECT_GE(first.windows, 3) << algorithm;
        EXPECT_EQ(first.ring_slots, 2) << algorithm;
      }
      std::size_t whole_bytes = 0;  // every tensor staged whole, one after another
      std::vector<std::vector<detail::StagedRange>> whole;
      for (const TensorSpec& tensor : layout) {
        whole.push_back({{0, tensor.count, 0, whole_bytes}});
        whole_bytes = (whole_bytes + static_cast<std::size_t>(tensor.count) * dtype_size(tensor.dtype) + 63) / 64 * 64;
      }
      if (first.windows == 1) {  // one window: as without windows (the kernels run whole pieces)
        EXPECT_EQ(first.staged, whole) << algorithm;
        EXPECT_EQ(first.ring_bytes, whole_bytes) << algorithm;
        EXPECT_EQ(first.ring_slots, 1) << algorithm;
      } else {
        EXPECT_LT(2 * first.ring_bytes, whole_bytes) << algorithm << ": a ring of two windows no smaller than the tensors";
      }
      for (const auto& lowered : ranks) {
        EXPECT_EQ(lowered.windows, first.windows) << algorithm;
        EXPECT_EQ(lowered.ring_bytes, first.ring_bytes) << algorithm;
        EXPECT_EQ(lowered.staged, first.staged) << algorithm << ": ranks place elements differently";
      }
      // Each window's parts: aligned, inside the ring, disjoint.
      std::map<int, std::vector<std::pair<std::size_t, std::size_t>>> in_ring;
      for (std::size_t n = 0; n < layout.size(); ++n) {
        const auto& staged = first.staged[n];
        for (std::size_t i = 0; i < staged.size(); ++i) {
          EXPECT_LT(staged[i].begin, staged[i].end) << algorithm;
          EXPECT_GE(staged[i].begin, i == 0 ? 0 : staged[i - 1].end) << algorithm << ": staged ranges overlap";
          EXPECT_LE(staged[i].end, layout[n].count) << algorithm;
          EXPECT_EQ(staged[i].ring % detail::kSegmentAlignment, 0u) << algorithm;
          in_ring[staged[i].window].emplace_back(
              staged[i].ring, staged[i].ring + static_cast<std::size_t>(staged[i].end - staged[i].begin) * dtype_size(layout[n].dtype));
        }
      }
      EXPECT_EQ(static_cast<int>(in_ring.size()), first.windows) << algorithm << ": a window without elements";
      for (auto& [window, parts] : in_ring) {
        std::sort(parts.begin(), parts.end());
        for (std::size_t i = 0; i < parts.size(); ++i) {
          EXPECT_LE(parts[i].second, first.ring_bytes) << algorithm << " window " << window;
          if (i > 0) {
            EXPECT_LE(parts[i - 1].second, parts[i].first) << algorithm << " window " << window << ": parts overlap";
          }
        }
      }
      const auto staged_range = [&](int tensor, std::int64_t element) -> const detail::StagedRange* {
        for (const auto& range : first.staged[static_cast<std::size_t>(tensor)])
          if (range.begin <= element && element < range.end) return &range;
        return nullptr;
      };
      for (int rank = 0; rank < map.processes(); ++rank) {
        const auto& lowered = ranks[static_cast<std::size_t>(rank)];
        const std::string where = algorithm + " rank " + std::to_string(rank);
        const std::size_t steps = lowered.steps.size();
        ASSERT_EQ(lowered.first_sub_piece.size(), static_cast<std::size_t>(lowered.windows) * steps + 1) << where;
        std::map<int, std::vector<std::pair<std::int64_t, std::int64_t>>> parts_of_piece;
        std::set<int> windows_with_work;
        for (int window = 0; window < lowered.windows; ++window)
          for (std::size_t i = 0; i < steps; ++i) {
            const std::size_t at = static_cast<std::size_t>(window) * steps + i;
            for (int s = lowered.first_sub_piece[at]; s < lowered.first_sub_piece[at + 1]; ++s) {
              const detail::SubPiece& sub = lowered.sub_pieces[static_cast<std::size_t>(s)];
              const detail::Piece& piece = program.pieces[static_cast<std::size_t>(sub.piece)];
              EXPECT_EQ(piece.step, lowered.steps[i].step) << where << ": a sub-piece under another step";
              const detail::PhysicalRef& ref = program.refs[static_cast<std::size_t>(piece.first_ref)];
              const auto* range = staged_range(ref.index, ref.offset + sub.skip);
              ASSERT_NE(range, nullptr) << where;
              EXPECT_EQ(range->window, window) << where << ": a sub-piece in another window than its elements";
              EXPECT_LE(ref.offset + sub.skip + sub.count, range->end) << where << ": a sub-piece across staged ranges";
              parts_of_piece[sub.piece].emplace_back(sub.skip, sub.skip + sub.count);
              if (sub.count > 0) windows_with_work.insert(window);
            }
          }
        for (const auto& local : lowered.steps) {
          const detail::ProgramStep& step = program.steps[static_cast<std::size_t>(local.step)];
          for (int p = step.first_piece; p < step.first_piece + step.pieces; ++p) {
            auto parts = parts_of_piece[p];
            std::sort(parts.begin(), parts.end());
            std::int64_t cursor = 0;
            for (const auto& [begin, end] : parts) {
              EXPECT_EQ(begin, cursor) << where << " piece " << p << ": sub-pieces leave a gap or overlap";
              cursor = end;
            }
            EXPECT_EQ(cursor, program.pieces[static_cast<std::size_t>(p)].count) << where << " piece " << p;
          }
        }
        if (algorithm == "direct" && devices.size() == 3) {
          EXPECT_EQ(static_cast<int>(windows_with_work.size()), lowered.windows) << where << ": windows without work";
        }
        // Copies: exactly the staged (or fetched) elements, at their places in the ring.
        const auto& segment = lowered.layouts[static_cast<std::size_t>(rank)];
        const auto check_copies = [&](const std::vector<detail::StagedCopy>& copies, const std::vector<int>& first_copy,
                                      bool inputs) {
          ASSERT_EQ(first_copy.size(), static_cast<std::size_t>(lowered.windows) + 1) << where;
          std::map<std::pair<std::size_t, bool>, std::int64_t> elements;  // (slot, whole)
          for (int window = 0; window < lowered.windows; ++window)
            for (int c = first_copy[static_cast<std::size_t>(window)]; c < first_copy[static_cast<std::size_t>(window) + 1]; ++c) {
              const auto& copy = copies[static_cast<std::size_t>(c)];
              const auto tensor = static_cast<int>(static_cast<std::size_t>(copy.slot) % layout.size());
              const auto* range = staged_range(tensor, copy.range.begin);
              ASSERT_NE(range, nullptr) << where;
              EXPECT_EQ(range->window, window) << where << ": a copy in another window than its elements";
              EXPECT_LE(copy.range.end, range->end) << where;
              const std::size_t element = dtype_size(layout[static_cast<std::size_t>(tensor)].dtype);
              // Where the copy starts, less the element's place in a ring: the start of a ring of that process.
              const std::size_t base = copy.at - lowered.staged_offset(tensor, copy.range.begin, element);
              const auto& of_process = lowered.layouts[static_cast<std::size_t>(copy.process)];
              const auto& rings = inputs ? of_process.staging_input : of_process.staging_output;
              EXPECT_NE(std::find(rings.begin(), rings.end(), base), rings.end()) << where << ": a copy off its element's place";
              if (inputs) {
                EXPECT_EQ(copy.process, rank) << where;
                EXPECT_EQ(base, segment.staging_input[static_cast<std::size_t>(copy.slot)]) << where;
              }
              elements[{static_cast<std::size_t>(copy.slot), copy.whole}] += copy.range.end - copy.range.begin;
            }
          for (std::size_t slot = 0; slot < lowered.shared_inputs.size(); ++slot) {
            std::int64_t expected = 0;
            if (inputs) {
              for (const auto& range : lowered.shared_inputs[slot]) expected += range.end - range.begin;
              std::int64_t whole = 0;
              for (const auto& range : first.staged[slot % layout.size()]) whole += range.end - range.begin;
              EXPECT_EQ((elements[{slot, true}]), whole) << where << " slot " << slot << ": in place, not staged whole";
            } else {
              for (const auto& range : lowered.shared_outputs[slot]) expected += range.end - range.begin;
              for (const auto& fetch : lowered.fetches[slot]) expected += fetch.range.end - fetch.range.begin;
            }
            EXPECT_EQ((elements[{slot, false}]), expected) << where << " slot " << slot;
          }
        };
        check_copies(lowered.copies_in, lowered.first_copy_in, true);
        check_copies(lowered.copies_out, lowered.first_copy_out, false);
      }
     }
    }
  }
}

}  // namespace
}  // namespace meshreduce::testing
