// The event-driven simulator (model: include/meshreduce/simulator.h).
//
// State: steps move through phases (waiting, receiving, computing, sending, done); the work in
// flight is a set of flows (a message's bytes over its route, or a reduction on a device), each
// crossing finite resources (link directions, capacity-limited nodes, a device's reduction unit).
// Between two events every flow's rate is constant, so the next event is exact: the earliest of a
// timer (a step's launch, a message's latency running out) and a flow's completion. Rates are
// recomputed after every event that changes the set of flows. Only the oldest message of each
// connection (ordered device pair) is a flow; the others wait in the connection's queue, so a
// step holds at most one flow per connection and reduction, however many chunks are in flight.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <queue>
#include <string>
#include <tuple>
#include <unordered_map>

#include "meshreduce/error.h"
#include "meshreduce/simulator.h"
#include "simulate/event_simulator.h"
#include "simulate/fair_share.h"

namespace meshreduce {
namespace {

constexpr double kBytesPerGB = 1e9;
constexpr double kSecondsPerUs = 1e-6;
constexpr double kInfinity = std::numeric_limits<double>::infinity();

enum class Phase : std::uint8_t { waiting, receiving, computing, sending, done };

struct StepState {
  int deps_left = 0;
  double ready = 0;  // when the last dep ended
  Phase phase = Phase::waiting;
  int outstanding = 0;  // messages or computations of the current phase still running
  double start = -1;
  double end = -1;
  double compute_start = -1;
};

struct Flow {
  int step = 0;
  std::int64_t bytes = 0;
  double remaining = 0;
  double rate = 0;  // bytes per second
  const std::vector<int>* resources = nullptr;
  bool compute = false;
  double since = 0;     // when it became ready: a connection serves its messages in this order
  std::int64_t connection = -1;  // from * positions + to for messages; -1 for computations
};

struct Timer {
  double time = 0;
  std::uint64_t order = 0;
  int step = 0;
  int message = -1;  // -1: the step starts; else index into Simulator::messages_
  bool operator>(const Timer& other) const { return std::tie(time, order) > std::tie(other.time, other.order); }
};

struct Message {
  int step = 0;
  int from = 0;  // positions
  int to = 0;
  std::int64_t bytes = 0;
};

struct LinkSegment {
  int resource = 0;
  double start = 0;
  double end = 0;
  int flows = 0;
  double rate = 0;
};

class Simulator {
 public:
  Simulator(const Schedule& schedule, const Topology& topology, std::vector<int> devices, const SimulationOptions& options,
            const Protocol& protocol, bool pay_reductions)
      : schedule_(schedule),
        topology_(topology),
        devices_(std::move(devices)),
        options_(options),
        protocol_(protocol),
        pay_reductions_(pay_reductions) {}

  SimulationResult run();

 private:
  std::int64_t bytes_of(const Step& step, const BufferRef& ref) const {
    return step.count * static_cast<std::int64_t>(dtype_size(schedule_.dtype_of(ref)));
  }
  void build_resources();
  const std::vector<int>& route_resources(int from, int to);
  void push_timer(double time, int step, int message) { timers_.push({time, order_++, step, message}); }
  void begin_step(int s);
  void begin_compute(int s);
  void begin_send(int s);
  void finish_step(int s);
  void flow_done(const Flow& flow);
  void start_message(int m);
  void solve_rates();
  void trace_links(const std::vector<int>& before);
  SimulationResult collect();

  const Schedule& schedule_;
  const Topology& topology_;
  std::vector<int> devices_;  // position -> topology id
  const SimulationOptions& options_;
  const Protocol& protocol_;
  bool pay_reductions_ = true;
  // Per connection: whether its message is in flows_, and the messages waiting behind it, oldest
  // (by ready time, then step, then arrival) first.
  struct Waiting {
    double since = 0;
    int step = 0;
    std::uint64_t order = 0;
    Flow flow;
    bool operator>(const Waiting& other) const {
      return std::tie(since, step, order) > std::tie(other.since, other.step, other.order);
    }
  };
  struct Connection {
    bool busy = false;
    std::priority_queue<Waiting, std::vector<Waiting>, std::greater<>> waiting;
  };
  std::unordered_map<std::int64_t, Connection> connections_;  // only the pairs that carry messages
  std::uint64_t arrivals_ = 0;

  std::vector<double> capacity_;  // bytes per second per resource
  int link_resources_ = 0;        // resources [0, 2 * links): link l, direction a->b (2l) or b->a (2l+1)
  std::map<int, int> node_resource_;  // topology id -> resource, for ids with bandwidth_gbps > 0
  std::vector<int> compute_resource_;  // per position, -1 when free
  std::vector<int> copy_resource_;     // per position, -1 when free
  std::vector<std::vector<int>> single_;  // {resource} lists for compute and copy flows
  std::map<std::pair<int, int>, std::vector<int>> routes_;  // (from, to) positions -> resources
  std::map<std::pair<int, int>, double> latency_;            // (from, to) positions -> seconds

  std::vector<StepState> state_;
  std::vector<std::vector<int>> dependents_;
  std::vector<Message> messages_;
  std::vector<Flow> flows_;
  bool flows_changed_ = false;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  std::uint64_t order_ = 0;
  double now_ = 0;
  std::unique_ptr<detail::FairShare> share_;

  std::vector<std::int64_t> resource_bytes_;
  std::vector<double> resource_busy_;
  std::vector<double> resource_rate_;   // bytes/s moving through each resource now
  std::vector<int> resource_moving_;    // flows moving (rate > 0) through each resource now
  std::vector<int> active_;             // resources with resource_moving_ > 0
  std::vector<std::int64_t> sent_;
  std::vector<std::int64_t> received_;
  std::vector<std::pair<int, std::pair<double, double>>> computes_;  // step, [start, end]
  std::vector<LinkSegment> open_segment_;  // per link resource
  std::vector<LinkSegment> segments_;
  std::int64_t events_ = 0;
};

void Simulator::build_resources() {
  for (const Link& link : topology_.links) {
    const double capacity = link.effective_gbps() * link.count * protocol_.efficiency * kBytesPerGB;
    capacity_.push_back(capacity);
    capacity_.push_back(capacity);
  }
  link_resources_ = static_cast<int>(capacity_.size());
  for (const auto* list : {&topology_.devices, &topology_.nodes})
    for (const Device& d : *list)
      if (d.bandwidth_gbps > 0) {
        node_resource_[d.id] = static_cast<int>(capacity_.size());
        capacity_.push_back(d.bandwidth_gbps * kBytesPerGB);
      }
  const auto positions = devices_.size();
  compute_resource_.assign(positions, -1);
  copy_resource_.assign(positions, -1);
  for (std::size_t p = 0; p < positions; ++p) {
    const double reduce = options_.reduce_gbps > 0 ? options_.reduce_gbps : topology_.find(devices_[p])->reduce_gbps;
    if (reduce > 0 && pay_reductions_) {
      compute_resource_[p] = static_cast<int>(capacity_.size());
      capacity_.push_back(reduce * kBytesPerGB);
    }
    if (options_.local_copy_gbps > 0) {
      copy_resource_[p] = static_cast<int>(capacity_.size());
      capacity_.push_back(options_.local_copy_gbps * kBytesPerGB);
    }
  }
  for (std::size_t r = 0; r < capacity_.size(); ++r)
    if (!(capacity_[r] > 0))
      throw TopologyError("topology '" + topology_.name + "': resource " + std::to_string(r) +
                          " has no capacity (a link or node rate or efficiency of 0)");
  single_.resize(capacity_.size());
  for (std::size_t r = 0; r < capacity_.size(); ++r) single_[r] = {static_cast<int>(r)};
  resource_bytes_.assign(capacity_.size(), 0);
  resource_busy_.assign(capacity_.size(), 0.0);
  resource_rate_.assign(capacity_.size(), 0.0);
  resource_moving_.assign(capacity_.size(), 0);
  open_segment_.assign(static_cast<std::size_t>(link_resources_), LinkSegment{});
  share_ = std::make_unique<detail::FairShare>(capacity_);
}

const std::vector<int>& Simulator::route_resources(int from, int to) {
  const auto key = std::pair(from, to);
  if (const auto it = routes_.find(key); it != routes_.end()) return it->second;
  const int a = devices_[static_cast<std::size_t>(from)];
  const int b = devices_[static_cast<std::size_t>(to)];
  const Route* route = topology_.route(a, b);
  if (route == nullptr)
    throw TopologyError("topology '" + topology_.name + "' has no route from device " + std::to_string(a) + " (position " +
                        std::to_string(from) + ") to device " + std::to_string(b) + " (position " + std::to_string(to) + ")");
  std::vector<int> resources;
  const std::vector<int> path = topology_.route_path(*route);
  for (std::size_t h = 0; h < route->links.size(); ++h) {
    const int l = route->links[h];
    resources.push_back(2 * l + (topology_.links[static_cast<std::size_t>(l)].a == path[h] ? 0 : 1));
  }
  for (int id : path)
    if (const auto it = node_resource_.find(id); it != node_resource_.end()) resources.push_back(it->second);
  double latency_us = 0;  // the largest of its links', as Topology::route_latency_us, per protocol
  for (int l : route->links) {
    const Link& link = topology_.links[static_cast<std::size_t>(l)];
    latency_us = std::max(latency_us, link.latency_us * protocol_.latency_factor[static_cast<std::size_t>(link.kind)]);
  }
  latency_[key] = latency_us * kSecondsPerUs;
  return routes_.emplace(key, std::move(resources)).first->second;
}

void Simulator::begin_step(int s) {
  const Step& step = schedule_.steps[static_cast<std::size_t>(s)];
  StepState& st = state_[static_cast<std::size_t>(s)];
  st.start = now_;
  st.phase = Phase::receiving;
  st.outstanding = 0;
  for (const BufferRef& src : step.srcs) {
    if (src.device == step.device) continue;
    messages_.push_back({s, src.device, step.device, bytes_of(step, src)});
    ++st.outstanding;
    route_resources(src.device, step.device);
    push_timer(now_ + latency_.at({src.device, step.device}), s, static_cast<int>(messages_.size()) - 1);
  }
  if (st.outstanding == 0) begin_compute(s);
}

void Simulator::begin_compute(int s) {
  const Step& step = schedule_.steps[static_cast<std::size_t>(s)];
  StepState& st = state_[static_cast<std::size_t>(s)];
  st.phase = Phase::computing;
  st.outstanding = 0;
  st.compute_start = now_;
  const auto position = static_cast<std::size_t>(step.device);
  const std::int64_t bytes = step.srcs.empty() ? 0 : bytes_of(step, step.srcs.front());
  std::int64_t work = 0;
  if (step.kind == StepKind::reduce)
    work = bytes * (static_cast<std::int64_t>(step.srcs.size()) - 1 + (step.average ? 1 : 0));
  if (step.kind == StepKind::scale) work = bytes;
  if (work > 0 && compute_resource_[position] >= 0) {
    flows_.push_back({s, work, static_cast<double>(work), 0, &single_[static_cast<std::size_t>(compute_resource_[position])], true, now_});
    ++st.outstanding;
  }
  if (step.kind == StepKind::copy && !step.srcs.empty() && step.srcs.front().device == step.device &&
      copy_resource_[position] >= 0) {
    std::int64_t copies = 0;
    for (const BufferRef& dst : step.dsts) copies += dst.device == step.device && !(dst == step.srcs.front());
    if (copies * bytes > 0) {
      flows_.push_back({s, copies * bytes, static_cast<double>(copies * bytes), 0,
                        &single_[static_cast<std::size_t>(copy_resource_[position])], true, now_});
      ++st.outstanding;
    }
  }
  if (st.outstanding > 0) {
    flows_changed_ = true;
    for (int i = 0; i < st.outstanding; ++i) {
      const Flow& flow = flows_[flows_.size() - 1 - static_cast<std::size_t>(i)];
      resource_bytes_[static_cast<std::size_t>(flow.resources->front())] += flow.bytes;
    }
  } else {
    begin_send(s);
  }
}

void Simulator::begin_send(int s) {
  const Step& step = schedule_.steps[static_cast<std::size_t>(s)];
  StepState& st = state_[static_cast<std::size_t>(s)];
  if (st.compute_start >= 0 && now_ > st.compute_start) computes_.push_back({s, {st.compute_start, now_}});
  st.phase = Phase::sending;
  st.outstanding = 0;
  for (const BufferRef& dst : step.dsts) {
    if (dst.device == step.device) continue;
    messages_.push_back({s, step.device, dst.device, bytes_of(step, dst)});
    ++st.outstanding;
    route_resources(step.device, dst.device);
    push_timer(now_ + latency_.at({step.device, dst.device}), s, static_cast<int>(messages_.size()) - 1);
  }
  if (st.outstanding == 0) finish_step(s);
}

void Simulator::finish_step(int s) {
  StepState& st = state_[static_cast<std::size_t>(s)];
  st.phase = Phase::done;
  st.end = now_;
  for (int d : dependents_[static_cast<std::size_t>(s)]) {
    StepState& next = state_[static_cast<std::size_t>(d)];
    next.ready = std::max(next.ready, now_);
    if (--next.deps_left == 0) push_timer(next.ready + options_.launch_overhead_us * kSecondsPerUs, d, -1);
  }
}

void Simulator::start_message(int m) {
  const Message& message = messages_[static_cast<std::size_t>(m)];
  const std::vector<int>& resources = route_resources(message.from, message.to);
  sent_[static_cast<std::size_t>(message.from)] += message.bytes;
  received_[static_cast<std::size_t>(message.to)] += message.bytes;
  for (int r : resources) resource_bytes_[static_cast<std::size_t>(r)] += message.bytes;
  if (message.bytes == 0) {
    flow_done({message.step, 0, 0, 0, &resources, false, now_});
    return;
  }
  const Flow flow{message.step, message.bytes, static_cast<double>(message.bytes), 0, &resources, false, now_,
                  std::int64_t{message.from} * static_cast<std::int64_t>(devices_.size()) + message.to};
  Connection& state = connections_[flow.connection];
  if (state.busy) {
    state.waiting.push({flow.since, flow.step, arrivals_++, flow});
    return;
  }
  state.busy = true;
  flows_.push_back(flow);
  flows_changed_ = true;
}

void Simulator::flow_done(const Flow& flow) {
  StepState& st = state_[static_cast<std::size_t>(flow.step)];
  if (--st.outstanding > 0) return;
  switch (st.phase) {
    case Phase::receiving: begin_compute(flow.step); break;
    case Phase::computing: begin_send(flow.step); break;
    case Phase::sending: finish_step(flow.step); break;
    default: throw Error("simulator: flow of step " + std::to_string(flow.step) + " ended in an idle phase");
  }
}

void Simulator::solve_rates() {
  std::vector<const std::vector<int>*> lists;
  lists.reserve(flows_.size());
  for (const Flow& flow : flows_) lists.push_back(flow.resources);
  std::vector<double> rates;
  share_->solve(lists, rates);
  for (std::size_t f = 0; f < flows_.size(); ++f) flows_[f].rate = rates[f];
  const std::vector<int> was_active = active_;
  for (int r : active_) {
    resource_rate_[static_cast<std::size_t>(r)] = 0;
    resource_moving_[static_cast<std::size_t>(r)] = 0;
  }
  active_.clear();
  for (const Flow& flow : flows_) {
    if (!(flow.rate > 0)) continue;
    for (int r : *flow.resources) {
      const auto index = static_cast<std::size_t>(r);
      if (resource_moving_[index]++ == 0) active_.push_back(r);
      resource_rate_[index] += flow.rate;
    }
  }
  if (options_.trace) trace_links(was_active);
}

// Close and open the link rows' segments whose moving flows changed.
void Simulator::trace_links(const std::vector<int>& before) {
  std::vector<int> touched = before;
  touched.insert(touched.end(), active_.begin(), active_.end());
  std::sort(touched.begin(), touched.end());
  touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
  for (int r : touched) {
    if (r >= link_resources_) continue;
    LinkSegment& open = open_segment_[static_cast<std::size_t>(r)];
    const int moving = resource_moving_[static_cast<std::size_t>(r)];
    const double rate = resource_rate_[static_cast<std::size_t>(r)];
    if (moving == open.flows && std::abs(rate - open.rate) <= 1e-9 * std::max(rate, 1.0)) continue;
    if (open.flows > 0 && now_ > open.start) segments_.push_back({r, open.start, now_, open.flows, open.rate});
    open = {r, now_, now_, moving, rate};
  }
}

SimulationResult Simulator::run() {
  const auto positions = static_cast<int>(devices_.size());
  const auto count = schedule_.steps.size();
  state_.assign(count, StepState{});
  dependents_.assign(count, {});
  sent_.assign(devices_.size(), 0);
  received_.assign(devices_.size(), 0);
  for (std::size_t s = 0; s < count; ++s) {
    const Step& step = schedule_.steps[s];
    const auto check = [&](int position, const char* what) {
      if (position < 0 || position >= positions)
        throw InvalidArgument("simulate: step " + std::to_string(s) + " names " + what + " position " +
                              std::to_string(position) + " of " + std::to_string(positions));
    };
    check(step.device, "device");
    for (const BufferRef& ref : step.srcs) check(ref.device, "source");
    for (const BufferRef& ref : step.dsts) check(ref.device, "destination");
    for (int dep : step.deps) {
      if (dep < 0 || dep >= static_cast<int>(s))
        throw ScheduleError("simulate: step " + std::to_string(s) + " depends on step " + std::to_string(dep) +
                            ", which is not an earlier step");
      dependents_[static_cast<std::size_t>(dep)].push_back(static_cast<int>(s));
    }
    state_[s].deps_left = static_cast<int>(step.deps.size());
    if (step.deps.empty())
      push_timer((protocol_.call_latency_us + options_.launch_overhead_us) * kSecondsPerUs, static_cast<int>(s), -1);
  }
  build_resources();

  while (!timers_.empty() || !flows_.empty()) {
    ++events_;
    if (flows_changed_) {
      solve_rates();
      flows_changed_ = false;
    }
    double next = timers_.empty() ? kInfinity : timers_.top().time;
    for (const Flow& flow : flows_)
      if (flow.rate > 0) next = std::min(next, now_ + flow.remaining / flow.rate);
    if (!(next < kInfinity))
      throw Error("simulator: flows are stuck without bandwidth at t = " + std::to_string(now_) + " s");
    const double dt = std::max(0.0, next - now_);
    if (dt > 0) {
      for (int r : active_) resource_busy_[static_cast<std::size_t>(r)] += dt;
    }
    // Complete the flows that end now (within rounding), keep the rest with their progress.
    std::vector<Flow> ended;
    std::size_t kept = 0;
    const double tolerance = 1e-12 * std::max(next, 1e-6);
    for (Flow& flow : flows_) {
      const double finish = flow.rate > 0 ? now_ + flow.remaining / flow.rate : kInfinity;
      if (finish <= next + tolerance) {
        ended.push_back(flow);
      } else {
        flow.remaining -= flow.rate * dt;
        flows_[kept++] = flow;
      }
    }
    flows_.resize(kept);
    now_ = std::max(now_, next);
    if (!ended.empty()) flows_changed_ = true;
    // A connection whose message ended sends the next one waiting, from now on.
    for (const Flow& flow : ended) {
      if (flow.connection < 0) continue;
      auto& queue = connections_.at(flow.connection).waiting;
      if (queue.empty()) {
        connections_.at(flow.connection).busy = false;
        continue;
      }
      flows_.push_back(queue.top().flow);
      queue.pop();
    }
    for (const Flow& flow : ended) flow_done(flow);
    while (!timers_.empty() && timers_.top().time <= now_ + tolerance) {
      const Timer timer = timers_.top();
      timers_.pop();
      if (timer.message < 0) begin_step(timer.step);
      else start_message(timer.message);
    }
  }
  if (options_.trace) {
    flows_.clear();
    solve_rates();  // closes the open link segments
  }
  for (std::size_t s = 0; s < count; ++s)
    if (state_[s].phase != Phase::done)
      throw ScheduleError("simulate: step " + std::to_string(s) + " never ran (its dependencies never finished)");
  return collect();
}

SimulationResult Simulator::collect() {
  SimulationResult result;
  const auto positions = devices_.size();
  const auto count = schedule_.steps.size();
  for (std::size_t s = 0; s < count; ++s) result.time_s = std::max(result.time_s, state_[s].end);
  for (const BufferSpec& buffer : schedule_.buffers)
    result.bytes_per_device += buffer.count * static_cast<std::int64_t>(dtype_size(buffer.dtype));
  const int k = schedule_.num_devices;
  if (result.time_s > 0) {
    result.algbw_gbps = static_cast<double>(result.bytes_per_device) / result.time_s / kBytesPerGB;
    result.busbw_gbps = k > 1 ? result.algbw_gbps * 2.0 * (k - 1) / k : 0.0;
  }
  result.events = events_;
  result.protocol = protocol_.name;

  const auto name_of = [&](int id) {
    const Device* d = topology_.find(id);
    return d != nullptr && !d->name.empty() ? d->name : "#" + std::to_string(id);
  };
  std::vector<int> link_row(static_cast<std::size_t>(link_resources_), -1);
  for (int r = 0; r < link_resources_; ++r) {
    if (resource_bytes_[static_cast<std::size_t>(r)] == 0) continue;
    const Link& link = topology_.links[static_cast<std::size_t>(r / 2)];
    LinkUsage usage{r / 2, r % 2 == 0 ? link.a : link.b, r % 2 == 0 ? link.b : link.a,
                    resource_bytes_[static_cast<std::size_t>(r)], resource_busy_[static_cast<std::size_t>(r)], 0.0};
    if (result.time_s > 0)
      usage.utilization = static_cast<double>(usage.bytes) / (capacity_[static_cast<std::size_t>(r)] * result.time_s);
    result.links.push_back(usage);
  }

  result.step_start_s.resize(count);
  result.step_end_s.resize(count);
  std::vector<std::vector<int>> steps_of(positions);
  for (std::size_t s = 0; s < count; ++s) {
    result.step_start_s[s] = state_[s].start;
    result.step_end_s[s] = state_[s].end;
    steps_of[static_cast<std::size_t>(schedule_.steps[s].device)].push_back(static_cast<int>(s));
  }
  std::vector<int> lane_of(count, 0);
  std::vector<int> lanes(positions, 1);
  for (std::size_t p = 0; p < positions; ++p) {
    DeviceUsage usage{static_cast<int>(p), devices_[p], 0.0, 0.0, sent_[p], received_[p]};
    if (compute_resource_[p] >= 0) usage.compute_s = resource_busy_[static_cast<std::size_t>(compute_resource_[p])];
    auto& steps = steps_of[p];
    std::sort(steps.begin(), steps.end(), [&](int x, int y) {
      return state_[static_cast<std::size_t>(x)].start < state_[static_cast<std::size_t>(y)].start;
    });
    double covered = 0;  // union of the steps' intervals
    std::vector<double> lane_end;
    for (int s : steps) {
      const StepState& st = state_[static_cast<std::size_t>(s)];
      usage.busy_s += std::max(0.0, st.end - std::max(st.start, covered));
      covered = std::max(covered, st.end);
      std::size_t lane = 0;
      while (lane < lane_end.size() && lane_end[lane] > st.start) ++lane;
      if (lane == lane_end.size()) lane_end.push_back(0);
      lane_end[lane] = st.end;
      lane_of[static_cast<std::size_t>(s)] = static_cast<int>(lane);
    }
    lanes[p] = std::max<int>(1, static_cast<int>(lane_end.size()));
    result.devices.push_back(usage);
  }
  if (!options_.trace) return result;

  std::vector<std::vector<int>> row_of(positions);
  for (std::size_t p = 0; p < positions; ++p)
    for (int lane = 0; lane < lanes[p]; ++lane) {
      row_of[p].push_back(static_cast<int>(result.trace_rows.size()));
      result.trace_rows.push_back({name_of(devices_[p]) + (lane > 0 ? " #" + std::to_string(lane + 1) : ""), "devices"});
    }
  for (const LinkUsage& usage : result.links) {
    const int r = 2 * usage.link + (usage.from == topology_.links[static_cast<std::size_t>(usage.link)].a ? 0 : 1);
    link_row[static_cast<std::size_t>(r)] = static_cast<int>(result.trace_rows.size());
    result.trace_rows.push_back({name_of(usage.from) + "->" + name_of(usage.to) + " " +
                                     std::string(link_kind_name(topology_.links[static_cast<std::size_t>(usage.link)].kind)),
                                 "links"});
  }
  for (std::size_t s = 0; s < count; ++s) {
    const Step& step = schedule_.steps[s];
    const int row = row_of[static_cast<std::size_t>(step.device)][static_cast<std::size_t>(lane_of[s])];
    std::string args = std::to_string(step.count) + " elements; srcs";
    for (const BufferRef& ref : step.srcs) args += " " + std::to_string(ref.device);
    args += "; dsts";
    for (const BufferRef& ref : step.dsts) args += " " + std::to_string(ref.device);
    result.trace.push_back({"#" + std::to_string(s) + " " + std::string(step_kind_name(step.kind)), "step", row,
                            state_[s].start, state_[s].end - state_[s].start, std::move(args)});
  }
  for (const auto& [s, interval] : computes_) {
    const Step& step = schedule_.steps[static_cast<std::size_t>(s)];
    const int row = row_of[static_cast<std::size_t>(step.device)][static_cast<std::size_t>(lane_of[static_cast<std::size_t>(s)])];
    result.trace.push_back({"compute", "compute", row, interval.first, interval.second - interval.first, ""});
  }
  for (const LinkSegment& segment : segments_) {
    const double capacity = capacity_[static_cast<std::size_t>(segment.resource)];
    char rates[96];
    std::snprintf(rates, sizeof rates, "%.3g of %.3g GB/s", segment.rate / kBytesPerGB, capacity / kBytesPerGB);
    result.trace.push_back({std::to_string(segment.flows) + (segment.flows == 1 ? " message" : " messages"), "link",
                            link_row[static_cast<std::size_t>(segment.resource)], segment.start,
                            segment.end - segment.start, rates});
  }
  return result;
}

}  // namespace

namespace detail {

SimulationResult simulate_with(const Schedule& schedule, const Topology& topology, const std::vector<int>& devices,
                               const SimulationOptions& options, const Protocol& protocol, bool pay_reductions) {
  Simulator simulator(schedule, topology, devices, options, protocol, pay_reductions);
  return simulator.run();
}

}  // namespace detail

const LinkUsage* SimulationResult::busiest_link() const noexcept {
  const LinkUsage* best = nullptr;
  for (const LinkUsage& usage : links)
    if (best == nullptr || usage.utilization > best->utilization) best = &usage;
  return best;
}

}  // namespace meshreduce
