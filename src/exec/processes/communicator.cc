// The ProcessCommunicator: agrees with its peers on options (at construction) and on each
// layout (before its first call), plans and lowers every layout the same way on every process,
// sets up the shared segments, then only executes.
#include "meshreduce/process_communicator.h"

#include <unistd.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <sstream>
#include <utility>

#include "algorithms/hierarchical.h"
#include "api/validate.h"
#include "exec/processes/communicator_testing.h"
#include "exec/processes/executor.h"
#include "exec/processes/layout_exchange.h"
#include "exec/processes/machines.h"
#include "exec/processes/planning.h"
#include "exec/processes/process_program.h"
#include "exec/processes/shared_arena.h"
#include "exec/processes/shm_segment.h"
#include "exec/reproducible/generic.h"
#include "meshreduce/error.h"
#include "plan/program.h"

namespace meshreduce {
namespace {

struct PlanKey {
  std::vector<std::pair<std::int64_t, DType>> layout;
  ReduceOp op;
  auto operator<=>(const PlanKey&) const = default;
};

struct CachedPlan {
  Plan plan;
  detail::MachineSchedule split;  // the schedule as run: transfers between machines added
  detail::Program program;
  detail::ProcessProgram lowered;
  detail::ShmSegment mine;
  std::vector<detail::ShmSegment> peers;
  std::unique_ptr<detail::ProcessExecution> execution;
};

// The options every process must share, since they shape the schedule.
detail::Description describe_options(const ProcessCommunicatorOptions& options) {
  std::ostringstream groups;
  for (const auto& group : options.groups) {
    groups << "{";
    for (std::size_t i = 0; i < group.size(); ++i) groups << (i ? "," : "") << group[i];
    groups << "}";
  }
  return {{"algorithm", options.algorithm},
          {"chunk_elements", std::to_string(options.algorithm_options.chunk_elements)},
          {"bucketing", std::to_string(static_cast<int>(options.bucketing.mode))},
          {"fuse_bytes", std::to_string(options.bucketing.fuse_bytes)},
          {"packer_splits", std::to_string(options.bucketing.packer_splits)},
          {"packer_min_elements_per_split", std::to_string(options.bucketing.packer_min_elements_per_split)},
          {"groups", groups.str()},
          {"ranks_per_node", std::to_string(options.ranks_per_node)},
          {"network_gbps", std::to_string(options.network_gbps)},
          {"piece_elements", std::to_string(options.piece_elements)},
          {"stream_min_bytes", std::to_string(options.stream_min_bytes)},
          {"staging_window_bytes", std::to_string(options.staging_window_bytes)},
          {"reproducible", options.reproducible ? "yes" : "no"}};
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "localhost";
  return name;
}

void check_options(const ProcessCommunicatorOptions& options) {
  if (options.local_devices < 1)
    throw InvalidArgument("local_devices must be >= 1, got " + std::to_string(options.local_devices));
  if (options.piece_elements < 1)
    throw InvalidArgument("piece_elements must be >= 1, got " + std::to_string(options.piece_elements));
  if (options.timeout.count() < 1)
    throw InvalidArgument("timeout must be at least 1 ms, got " + std::to_string(options.timeout.count()));
  if (options.shared_arena_bytes < 0)
    throw InvalidArgument("shared_arena_bytes must be >= 0, got " + std::to_string(options.shared_arena_bytes));
  if (options.staging_window_bytes < 0)
    throw InvalidArgument("staging_window_bytes must be >= 0, got " + std::to_string(options.staging_window_bytes));
  if (options.max_segment_bytes < 1)
    throw InvalidArgument("max_segment_bytes must be >= 1, got " + std::to_string(options.max_segment_bytes));
  check_network_gbps("network_gbps", options.network_gbps);
  if (options.ranks_per_node < 0)
    throw InvalidArgument("ranks_per_node must be >= 0, got " + std::to_string(options.ranks_per_node));
}

// "ok <payload>" from every process, or PeerError naming the first that reported a failure.
std::vector<std::string> gather_outcome(Bootstrap& bootstrap, const std::string& ok_payload, const std::string& failure,
                                        std::chrono::milliseconds timeout, const std::string& what) {
  auto blobs = bootstrap.all_gather(failure.empty() ? "ok " + ok_payload : "error " + failure, timeout);
  for (std::size_t r = 0; r < blobs.size(); ++r) {
    if (blobs[r].rfind("ok ", 0) == 0) {
      blobs[r].erase(0, 3);
      continue;
    }
    throw PeerError(what + ": rank " + std::to_string(r) + " failed: " + blobs[r].substr(blobs[r].find(' ') + 1));
  }
  return blobs;
}

// This process's segment is published by name; each process maps all the others' (a peer
// segment's size is known: every process computes every layout), and once everyone has mapped
// them the owner unlinks its name.
template <typename Create>
std::pair<detail::ShmSegment, std::vector<detail::ShmSegment>> share_segments(
    Bootstrap& bootstrap, Create&& create, const std::vector<std::size_t>& sizes, const std::vector<int>& machine_of,
    std::chrono::milliseconds timeout, const std::string& what) {
  detail::ShmSegment mine;
  std::string failure;
  try {
    mine = create();
  } catch (const std::exception& error) {
    failure = error.what();
  }
  const auto names = gather_outcome(bootstrap, mine.name(), failure, timeout, what);
  std::vector<detail::ShmSegment> peers(names.size());
  failure.clear();
  try {
    for (std::size_t r = 0; r < names.size(); ++r)
      if (static_cast<int>(r) != bootstrap.rank() && sizes[r] > 0 &&
          machine_of[r] == machine_of[static_cast<std::size_t>(bootstrap.rank())])
        peers[r] = detail::ShmSegment::open(names[r], sizes[r]);
  } catch (const std::exception& error) {
    failure = error.what();
  }
  gather_outcome(bootstrap, "", failure, timeout, what);
  mine.unlink();
  return {std::move(mine), std::move(peers)};
}

}  // namespace

struct ProcessCommunicator::Impl {
  std::shared_ptr<Bootstrap> bootstrap;
  ProcessCommunicatorOptions options;
  detail::ProcessMap map;
  std::vector<int> machine_of;  // per process
  int machines = 1;
  std::vector<std::vector<int>> groups;
  detail::ShmSegment arena;
  std::vector<detail::ShmSegment> peer_arenas;
  std::vector<std::size_t> arena_bytes;  // per process
  std::unique_ptr<detail::ArenaAllocator> allocator;
  std::mutex call_mutex;
  std::mutex reproducible_mutex;  // one reproducible call at a time: it owns repro_scratch
  detail::repro::Scratch repro_scratch;
  std::map<PlanKey, CachedPlan> plans;
  // The hot path of a planned call allocates nothing: its checks keep their storage here, the
  // last layout's plan is found without building a key, and the in-place overload's inputs
  // reuse one list (all under call_mutex).
  detail::CallChecks checks;
  const PlanKey* last_key = nullptr;
  CachedPlan* last_plan = nullptr;
  std::vector<std::vector<ConstTensorView>> in_place_inputs;
  std::shared_ptr<const detail::ProcessExecutionHooks> hooks;  // tests only

  Impl(std::shared_ptr<Bootstrap> boot, ProcessCommunicatorOptions opts)
      : bootstrap(std::move(boot)), options(std::move(opts)) {
    if (!bootstrap) throw InvalidArgument("process communicator needs a bootstrap");
    check_options(options);
    const int rank = bootstrap->rank();
    auto blobs = bootstrap->all_gather(detail::encode(describe_options(options)) + "local_devices=" +
                                           std::to_string(options.local_devices) + "\n" +
                                           "arena=" + std::to_string(options.shared_arena_bytes) + "\n" +
                                           "host=" + host_name() + "\n",
                                       options.timeout);
    std::vector<int> devices;
    std::vector<std::string> shaping;
    std::vector<std::string> hosts;
    for (const std::string& blob : blobs) {
      auto fields = detail::decode(blob);
      hosts.push_back(fields.back().second);
      fields.pop_back();
      arena_bytes.push_back(static_cast<std::size_t>(std::stoll(fields.back().second)));
      fields.pop_back();
      devices.push_back(std::stoi(fields.back().second));
      fields.pop_back();
      shaping.push_back(detail::encode(fields));
    }
    if (auto mismatch = detail::first_mismatch(shaping))
      throw InvalidArgument("process communicator options differ: " + *mismatch);
    map = detail::make_process_map(devices);
    const int size = map.first_device.back();
    // Machines in order of first appearance: ranks_per_node consecutive ranks, or one host name.
    std::vector<std::string> seen;
    for (int p = 0; p < map.processes(); ++p) {
      const std::string machine = options.ranks_per_node > 0 ? std::to_string(p / options.ranks_per_node)
                                                             : hosts[static_cast<std::size_t>(p)];
      auto found = std::find(seen.begin(), seen.end(), machine);
      if (found == seen.end()) found = seen.insert(seen.end(), machine);
      machine_of.push_back(static_cast<int>(found - seen.begin()));
    }
    machines = static_cast<int>(seen.size());
    if (machines > 1 && !options.transport)
      throw InvalidArgument("the " + std::to_string(map.processes()) + " processes span " + std::to_string(machines) +
                            " machines: a transport between machines is needed (options.transport)");
    groups = options.groups;
    if (groups.empty() && machines > 1) {
      groups.resize(static_cast<std::size_t>(machines));
      for (int d = 0; d < size; ++d)
        groups[static_cast<std::size_t>(machine_of[static_cast<std::size_t>(map.process_of[static_cast<std::size_t>(d)])])]
            .push_back(d);
    }
    if (!groups.empty())
      if (auto problem = detail::check_partition(groups, size))
        throw InvalidArgument("groups are not a partition of the " + std::to_string(size) + " devices: " + *problem);

    auto [mine, peers] = share_segments(
        *bootstrap, [&] { return options.shared_arena_bytes > 0 ? detail::ShmSegment::create("meshreduce-arena",
                                                                   static_cast<std::size_t>(options.shared_arena_bytes))
                                                                 : detail::ShmSegment(); },
        arena_bytes, machine_of, options.timeout, "shared arena setup");
    arena = std::move(mine);
    peer_arenas = std::move(peers);
    allocator = std::make_unique<detail::ArenaAllocator>(arena_bytes[static_cast<std::size_t>(rank)]);
  }

  static bool same_layout(const PlanKey& key, std::span<const TensorSpec> layout, ReduceOp op) {
    return key.op == op && std::equal(key.layout.begin(), key.layout.end(), layout.begin(), layout.end(),
                                      [](const auto& cached, const TensorSpec& spec) {
                                        return cached.first == spec.count && cached.second == spec.dtype;
                                      });
  }

  CachedPlan& plan_for(std::span<const TensorSpec> layout, ReduceOp op) {
    if (last_plan != nullptr && same_layout(*last_key, layout, op)) return *last_plan;
    PlanKey key{{}, op};
    for (const TensorSpec& spec : layout) key.layout.emplace_back(spec.count, spec.dtype);
    if (auto found = plans.find(key); found != plans.end()) {
      last_key = &found->first;  // map nodes stay where they are
      last_plan = &found->second;
      return found->second;
    }

    const auto described = bootstrap->all_gather(detail::encode(detail::describe_layout(layout, op, options.algorithm)),
                                                 options.timeout);
    if (auto mismatch = detail::first_mismatch(described))
      throw InvalidArgument("layout mismatch before the first call of a layout: " + *mismatch);

    CachedPlan cached;
    std::vector<int> machine_of_device;
    for (const int process : map.process_of) machine_of_device.push_back(machine_of[static_cast<std::size_t>(process)]);
    cached.plan = detail::plan_for_processes(layout, op, map.first_device.back(), groups, options, machine_of_device,
                                            map.process_of);
    cached.split = detail::split_by_machine(cached.plan.schedule, map, machine_of);
    cached.program = detail::lower_schedule(cached.split.schedule, cached.plan.buckets, options.piece_elements,
                                            options.stream_min_bytes);
    const int rank = bootstrap->rank();
    cached.lowered = detail::lower_for_process(cached.split.schedule, cached.program, layout, map, rank,
                                               static_cast<std::size_t>(options.max_segment_bytes), cached.split.receiver,
                                               options.staging_window_bytes);
    std::vector<std::size_t> sizes;
    for (const auto& segment : cached.lowered.layouts) sizes.push_back(segment.bytes);
    auto [mine, peers] = share_segments(
        *bootstrap, [&] { return detail::ShmSegment::create("meshreduce", sizes[static_cast<std::size_t>(rank)]); },
        sizes, machine_of, options.timeout, "shared segment setup");
    cached.mine = std::move(mine);
    cached.peers = std::move(peers);

    auto [it, inserted] = plans.emplace(std::move(key), std::move(cached));
    CachedPlan& stored = it->second;
    std::vector<detail::PeerMemory> memory(static_cast<std::size_t>(map.processes()));
    for (std::size_t p = 0; p < memory.size(); ++p) {
      if (machine_of[p] != machine_of[static_cast<std::size_t>(rank)]) continue;  // not mapped: another machine
      const bool self = static_cast<int>(p) == rank;
      memory[p].plan = self ? stored.mine.data() : stored.peers[p].data();
      const detail::ShmSegment& arena_of = self ? arena : peer_arenas[p];
      memory[p].arena = arena_bytes[p] > 0 ? arena_of.data() : nullptr;
      memory[p].arena_bytes = arena_bytes[p];
    }
    stored.execution = std::make_unique<detail::ProcessExecution>(stored.program, stored.lowered, map,
                                                                  std::move(memory), options.timeout,
                                                                  options.transport.get());
    stored.execution->set_hooks(hooks);
    last_key = &it->first;
    last_plan = &stored;
    return stored;
  }

  void run(std::span<const std::vector<ConstTensorView>> inputs, std::span<const std::vector<TensorView>> outputs,
           ReduceOp op) {
    if (!options.reproducible) {
      std::lock_guard lock(call_mutex);
      return run_locked(inputs, outputs, op);
    }
    detail::validate_call(inputs, outputs, options.local_devices);
    // Reproducible mode: the same schedule, run over exponent codes and exact f64 sums.
    std::lock_guard reproducible_lock(reproducible_mutex);
    detail::repro::allreduce(
        inputs, outputs, op, map.first_device.back(),
        [&](std::span<const std::vector<ConstTensorView>> in, std::span<const std::vector<TensorView>> out,
            ReduceOp how) {
          std::lock_guard lock(call_mutex);
          run_locked(in, out, how);
        },
        repro_scratch);
  }

  void run_in_place(std::span<const std::vector<TensorView>> grads, ReduceOp op) {
    const auto fill = [&](std::vector<std::vector<ConstTensorView>>& inputs) {
      inputs.resize(grads.size());
      for (std::size_t d = 0; d < grads.size(); ++d) inputs[d].assign(grads[d].begin(), grads[d].end());
    };
    if (options.reproducible) {  // it takes call_mutex itself, per pass
      std::vector<std::vector<ConstTensorView>> inputs;
      fill(inputs);
      return run(inputs, grads, op);
    }
    std::lock_guard lock(call_mutex);
    fill(in_place_inputs);
    run_locked(in_place_inputs, grads, op);
  }

  // A checked call of the layout's plan; call_mutex held (the checks' storage and the plans).
  void run_locked(std::span<const std::vector<ConstTensorView>> inputs,
                  std::span<const std::vector<TensorView>> outputs, ReduceOp op) {
    detail::validate_call(inputs, outputs, options.local_devices, checks);
    plan_for(checks.layout, op).execution->run({inputs, outputs});
  }
};

ProcessCommunicator::ProcessCommunicator(std::shared_ptr<Bootstrap> bootstrap, ProcessCommunicatorOptions options)
    : impl_(std::make_unique<Impl>(std::move(bootstrap), std::move(options))) {}
ProcessCommunicator::~ProcessCommunicator() = default;
ProcessCommunicator::ProcessCommunicator(ProcessCommunicator&&) noexcept = default;
ProcessCommunicator& ProcessCommunicator::operator=(ProcessCommunicator&&) noexcept = default;

int ProcessCommunicator::rank() const noexcept { return impl_->bootstrap->rank(); }
int ProcessCommunicator::processes() const noexcept { return impl_->map.processes(); }
int ProcessCommunicator::machines() const noexcept { return impl_->machines; }
int ProcessCommunicator::size() const noexcept { return impl_->map.first_device.back(); }
int ProcessCommunicator::first_device() const noexcept {
  return impl_->map.first_device[static_cast<std::size_t>(rank())];
}
const ProcessCommunicatorOptions& ProcessCommunicator::options() const noexcept { return impl_->options; }
const std::vector<std::vector<int>>& ProcessCommunicator::groups() const noexcept { return impl_->groups; }

void ProcessCommunicator::allreduce(std::span<const std::vector<TensorView>> grads, ReduceOp op) {
  impl_->run_in_place(grads, op);
}

void ProcessCommunicator::allreduce(std::span<const std::vector<ConstTensorView>> inputs,
                                    std::span<const std::vector<TensorView>> outputs, ReduceOp op) {
  impl_->run(inputs, outputs, op);
}

void detail::ProcessCommunicatorTesting::set_hooks(ProcessCommunicator& communicator,
                                                  std::shared_ptr<const ProcessExecutionHooks> hooks) {
  std::lock_guard lock(communicator.impl_->call_mutex);
  communicator.impl_->hooks = hooks;
  for (auto& [key, cached] : communicator.impl_->plans) cached.execution->set_hooks(hooks);
}

const Plan& ProcessCommunicator::plan(std::span<const TensorSpec> layout, ReduceOp op) {
  detail::validate_layout(layout);
  std::lock_guard lock(impl_->call_mutex);
  return impl_->plan_for(layout, op).plan;
}

void* ProcessCommunicator::allocate_shared(std::int64_t bytes) {
  if (bytes < 0) throw InvalidArgument("allocate_shared: bytes must be >= 0, got " + std::to_string(bytes));
  std::lock_guard lock(impl_->call_mutex);
  return impl_->arena.data() + impl_->allocator->allocate(static_cast<std::size_t>(bytes));
}

void ProcessCommunicator::free_shared(void* buffer) {
  if (buffer == nullptr) return;
  std::lock_guard lock(impl_->call_mutex);
  const auto* at = static_cast<const std::byte*>(buffer);
  const std::byte* base = impl_->arena.data();
  if (base == nullptr || at < base || at >= base + impl_->allocator->capacity())
    throw InvalidArgument("free_shared: the pointer is not in this process's shared arena");
  impl_->allocator->free(static_cast<std::size_t>(at - base));
}

}  // namespace meshreduce
