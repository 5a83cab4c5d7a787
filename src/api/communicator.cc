// The Communicator: resolves its options once, plans once per tensor layout, then executes.
#include "meshreduce/communicator.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <new>
#include <numeric>
#include <unordered_map>
#include <utility>

#include "algorithms/hierarchical.h"
#include "api/communicator_testing.h"
#include "api/validate.h"
#include "exec/reproducible/fused_call.h"
#include "exec/reproducible/generic.h"
#include "exec/threads/executor.h"
#include "meshreduce/error.h"
#include "meshreduce/limits.h"
#include "plan/planner.h"
#include "plan/program.h"

namespace meshreduce {
namespace {

struct PlanKey {
  std::vector<TensorSpec> layout;
  ReduceOp op;
  bool operator<(const PlanKey& other) const {
    if (op != other.op) return op < other.op;
    return std::lexicographical_compare(
        layout.begin(), layout.end(), other.layout.begin(), other.layout.end(),
        [](const TensorSpec& a, const TensorSpec& b) {
          return std::pair(a.count, a.dtype) < std::pair(b.count, b.dtype);
        });
  }
};

struct CachedPlan {
  Plan plan;
  detail::Program program;
  std::unique_ptr<detail::ThreadExecution> execution;
};

// The innermost grouping level of the topology, restricted to the participants, as positions
// (in participant order within each group).
std::vector<std::vector<int>> groups_from_topology(const Topology& topology, const std::vector<int>& devices) {
  if (topology.levels.empty()) return {};
  std::unordered_map<int, int> group_of;  // topology device id -> group
  const auto& level = topology.levels.front().groups;
  for (std::size_t g = 0; g < level.size(); ++g)
    for (int id : level[g]) group_of.emplace(id, static_cast<int>(g));
  std::vector<std::vector<int>> by_group(level.size());
  for (std::size_t p = 0; p < devices.size(); ++p)
    if (const auto found = group_of.find(devices[p]); found != group_of.end())
      by_group[static_cast<std::size_t>(found->second)].push_back(static_cast<int>(p));
  std::vector<std::vector<int>> groups;
  for (auto& positions : by_group)
    if (!positions.empty()) groups.push_back(std::move(positions));
  return groups;
}

// Memory running out anywhere in a call becomes the library's typed error, so that callers (and
// the C API) can tell it from a bug.
template <typename Body>
decltype(auto) out_of_memory_is_typed(const char* doing, Body&& body) {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    throw OutOfMemory(std::string("out of memory while ") + doing);
  }
}

}  // namespace

struct Communicator::Impl {
  CommunicatorOptions options;
  Topology topology;
  // The topology device of each position: the ids given with a topology; without one, positions
  // 0..K-1 of a flat topology of exactly K devices, whatever the ids.
  std::vector<int> topology_devices;
  std::vector<std::vector<int>> groups;
  const Algorithm* algorithm = nullptr;
  detail::ThreadPool pool;
  std::optional<ThreadCosts> thread_costs;  // set: "auto" predicts threads, not the topology
  std::mutex call_mutex;  // one call at a time: plans own the dependency counters
  std::map<PlanKey, CachedPlan> plans;
  std::shared_ptr<const detail::ExecutionHooks> hooks;  // tests only (communicator_testing.h)
  std::mutex reproducible_mutex;  // one reproducible call at a time: it owns repro_scratch
  detail::repro::Scratch repro_scratch;

  // The thread count is checked before the pool starts any thread.
  static int checked_threads(int threads) {
    limits::check_range("CommunicatorOptions::threads", threads, 0, limits::kMaxThreads);
    return threads;
  }

  explicit Impl(CommunicatorOptions opts)
      : options(std::move(opts)), pool(checked_threads(options.threads), options.pin_threads) {
    // At most a year: deadlines are computed as now + 2 x timeout and must not overflow.
    constexpr std::chrono::nanoseconds kLongestTimeout = std::chrono::hours(24 * 365);
    if (options.timeout <= std::chrono::nanoseconds::zero() || options.timeout > kLongestTimeout)
      throw InvalidArgument("timeout must be positive and at most a year (" + std::to_string(kLongestTimeout.count()) +
                            " ns), got " + std::to_string(options.timeout.count()) + " ns");
    if (options.thread_costs) thread_costs = *options.thread_costs;
    if (options.topology) {
      topology = *options.topology;
      topology.validate();
      std::vector<int> known;
      for (const Device& device : topology.devices) known.push_back(device.id);
      if (options.devices.empty()) options.devices = known;
      detail::validate_devices(options.devices, &known);
    } else {
      // Ids are labels: nothing is sized or indexed by them (a flat topology sized by the
      // largest id once made {0, 100000} cost gigabytes).
      if (!thread_costs) thread_costs = default_thread_costs(pool.size());
      if (options.devices.empty()) throw InvalidArgument("communicator needs a topology or a device list");
      detail::validate_devices(options.devices, nullptr);
    }
    const int size = static_cast<int>(options.devices.size());
    groups = options.groups.empty() ? groups_from_topology(topology, options.devices) : options.groups;
    if (options.topology) {
      topology_devices = options.devices;
    } else {
      topology = flat_topology(size);
      topology_devices.resize(options.devices.size());
      std::iota(topology_devices.begin(), topology_devices.end(), 0);
    }
    AlgorithmRequest whole;
    whole.num_devices = size;
    if (auto problem = detail::check_partition(groups.empty() ? detail::effective_groups(whole) : groups, size))
      throw InvalidArgument("groups are not a partition of the " + std::to_string(size) + " devices: " + *problem);
    if (options.piece_elements < 1)
      throw InvalidArgument("piece_elements must be >= 1, got " + std::to_string(options.piece_elements));
    if (options.algorithm != kAuto) algorithm = &find_algorithm(options.algorithm);
    // Reproducible mode plans for its own costs: the fused direct kernel moves the default
    // direct step's bytes, while any other schedule runs twice over wider data (about 3x).
    if (options.reproducible && algorithm == nullptr) algorithm = &find_algorithm("direct");
  }

  static constexpr std::string_view kAuto = "auto";

  // The cost model "auto" plans with: this machine's threads, or the simulator on the topology.
  detail::Predictor predictor() const {
    return thread_costs ? detail::thread_predictor(*thread_costs, run_options())
                        : detail::simulator_predictor(topology, topology_devices, options.simulation);
  }

  ThreadRunOptions run_options() const { return {options.piece_elements, options.stream_min_bytes, options.inline_bytes}; }

  // What every bucket's request shares.
  AlgorithmRequest devices_request() const {
    AlgorithmRequest request;
    request.num_devices = static_cast<int>(options.devices.size());
    request.groups = groups;
    request.topology = &topology;
    request.topology_devices = topology_devices;
    request.options = options.algorithm_options;
    return request;
  }

  CachedPlan& plan_for(std::span<const TensorSpec> layout, ReduceOp op) {
    PlanKey key{{layout.begin(), layout.end()}, op};
    if (auto found = plans.find(key); found != plans.end()) return found->second;
    CachedPlan cached;
    cached.plan = detail::plan_layout_call(layout, op, options.bucketing, devices_request(), algorithm,
                                           options.algorithm, predictor());
    return plans.emplace(std::move(key), std::move(cached)).first->second;
  }

  // Lowered at its first call, not when planned: plan() may be asked about a layout larger than
  // this machine's memory, whose pieces and scratch would not fit.
  detail::ThreadExecution& execution_of(CachedPlan& cached) {
    if (!cached.execution) {
      cached.program = detail::lower_schedule(cached.plan.schedule, cached.plan.buckets, options.piece_elements,
                                              options.stream_min_bytes);
      cached.execution = std::make_unique<detail::ThreadExecution>(cached.program, pool.size(), options.inline_bytes);
    }
    return *cached.execution;
  }

  void run(std::span<const std::vector<ConstTensorView>> inputs, std::span<const std::vector<TensorView>> outputs,
           ReduceOp op) {
    const auto layout = out_of_memory_is_typed("checking the call's arguments", [&] {
      return detail::validate_call(inputs, outputs, static_cast<int>(options.devices.size()));
    });
    if (options.reproducible) return run_reproducible(inputs, outputs, op);
    run_validated(inputs, outputs, op, layout);
  }

  void run_validated(std::span<const std::vector<ConstTensorView>> inputs,
                     std::span<const std::vector<TensorView>> outputs, ReduceOp op,
                     const std::vector<TensorSpec>& layout) {
    std::lock_guard lock(call_mutex);
    detail::ThreadExecution& execution = out_of_memory_is_typed(
        "planning the call", [&]() -> detail::ThreadExecution& { return execution_of(plan_for(layout, op)); });
    out_of_memory_is_typed("running the call", [&] { execution.run(pool, {inputs, outputs}, {options.timeout, hooks.get()}); });
  }

  // Arguments validated. "direct" (and "auto", which plans it) takes the fused kernel (one pass, the default's
  // bytes); any other algorithm runs its own schedule over exponent codes and exact f64 sums.
  void run_reproducible(std::span<const std::vector<ConstTensorView>> inputs,
                        std::span<const std::vector<TensorView>> outputs, ReduceOp op) {
    const auto plain = [&](std::span<const std::vector<ConstTensorView>> in,
                           std::span<const std::vector<TensorView>> out, ReduceOp how) {
      const auto layout = out_of_memory_is_typed("checking the call's arguments", [&] {
        return detail::validate_call(in, out, static_cast<int>(options.devices.size()));
      });
      run_validated(in, out, how, layout);
    };
    const int size = static_cast<int>(options.devices.size());
    std::lock_guard reproducible_lock(reproducible_mutex);
    if (algorithm->name != "direct")
      return out_of_memory_is_typed("running the reproducible call", [&] {
        detail::repro::allreduce(inputs, outputs, op, size, plain, repro_scratch);
      });
    const auto split = detail::repro::split_tensors(inputs, op);
    if (!split.plain.empty()) plain(detail::repro::select(inputs, split.plain), detail::repro::select(outputs, split.plain), op);
    if (split.reproducible.empty()) return;
    std::lock_guard lock(call_mutex);
    out_of_memory_is_typed("running the reproducible call", [&] {
      detail::repro::run_fused_call(pool, detail::repro::select(inputs, split.reproducible),
                                    detail::repro::select(outputs, split.reproducible), op,
                                    {options.piece_elements, options.inline_bytes, options.timeout,
                                     options.stream_min_bytes});
    });
  }
};

Communicator::Communicator(CommunicatorOptions options)
    : impl_(out_of_memory_is_typed("creating the communicator",
                                   [&] { return std::make_unique<Impl>(std::move(options)); })) {}
Communicator::~Communicator() = default;
Communicator::Communicator(Communicator&&) noexcept = default;
Communicator& Communicator::operator=(Communicator&&) noexcept = default;

int Communicator::size() const noexcept { return static_cast<int>(impl_->options.devices.size()); }
const CommunicatorOptions& Communicator::options() const noexcept { return impl_->options; }
const std::vector<std::vector<int>>& Communicator::groups() const noexcept { return impl_->groups; }

void Communicator::allreduce(std::span<const std::vector<TensorView>> grads, ReduceOp op) {
  std::vector<std::vector<ConstTensorView>> inputs;
  inputs.reserve(grads.size());
  for (const auto& device : grads) inputs.emplace_back(device.begin(), device.end());
  impl_->run(inputs, grads, op);
}

void Communicator::allreduce(std::span<const std::vector<ConstTensorView>> inputs,
                             std::span<const std::vector<TensorView>> outputs, ReduceOp op) {
  impl_->run(inputs, outputs, op);
}

const Plan& Communicator::plan(std::span<const TensorSpec> layout, ReduceOp op) {
  detail::validate_layout(layout);
  std::lock_guard lock(impl_->call_mutex);
  return out_of_memory_is_typed("planning", [&]() -> const Plan& { return impl_->plan_for(layout, op).plan; });
}

namespace detail {

void CommunicatorTesting::set_hooks(Communicator& communicator, std::shared_ptr<const ExecutionHooks> hooks) {
  std::lock_guard lock(communicator.impl_->call_mutex);
  communicator.impl_->hooks = std::move(hooks);
}

}  // namespace detail

std::vector<std::vector<int>> halves(int num_devices) {
  if (num_devices < 1) return {};
  const int first = (num_devices + 1) / 2;
  std::vector<std::vector<int>> groups(num_devices > 1 ? 2 : 1);
  for (int p = 0; p < num_devices; ++p) groups[p < first ? 0 : 1].push_back(p);
  return groups;
}

namespace {

Communicator seed_communicator(std::span<const int> devices, std::size_t lists,
                               std::vector<std::vector<int>> groups) {
  if (devices.size() != lists)
    throw InvalidArgument("device list has " + std::to_string(devices.size()) + " entries for " +
                          std::to_string(lists) + " lists of gradients");
  if (devices.empty()) throw InvalidArgument("allreduce needs at least one device");
  CommunicatorOptions options;
  options.devices.assign(devices.begin(), devices.end());
  options.groups = groups.empty() ? halves(static_cast<int>(devices.size())) : std::move(groups);
  options.algorithm = "hierarchical";
  return Communicator(std::move(options));
}

}  // namespace

void allreduce_grads_hierarchical(std::span<const std::vector<TensorView>> all_grads, std::span<const int> devices,
                                  bool average, std::vector<std::vector<int>> groups) {
  seed_communicator(devices, all_grads.size(), std::move(groups))
      .allreduce(all_grads, average ? ReduceOp::average : ReduceOp::sum);
}

void allreduce_grads_hierarchical(std::span<const std::vector<ConstTensorView>> all_grads,
                                  std::span<const std::vector<TensorView>> outputs, std::span<const int> devices,
                                  bool average, std::vector<std::vector<int>> groups) {
  seed_communicator(devices, all_grads.size(), std::move(groups))
      .allreduce(all_grads, outputs, average ? ReduceOp::average : ReduceOp::sum);
}

}  // namespace meshreduce
