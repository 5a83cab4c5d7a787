#include "plan/planner.h"

#include <map>
#include <string>
#include <utility>

#include "meshreduce/error.h"

namespace meshreduce::detail {

namespace {

// Every algorithm that accepts the request with its prediction, in registry order; `declined`
// collects the others' reasons.
std::vector<AlgorithmChoice> predict_each(const AlgorithmRequest& request, const Predictor& predict, std::string& declined) {
  std::vector<AlgorithmChoice> accepted;
  for (const Algorithm& algorithm : algorithms()) {
    if (auto reason = algorithm.decline(request)) {
      declined += " " + std::string(algorithm.name) + ": " + *reason + ";";
      continue;
    }
    accepted.push_back({&algorithm, predict(algorithm.build(request))});
  }
  return accepted;
}

AlgorithmChoice fastest_of(const std::vector<AlgorithmChoice>& accepted, const std::string& declined) {
  AlgorithmChoice best;
  for (const AlgorithmChoice& choice : accepted)
    if (best.algorithm == nullptr || choice.predicted_s < best.predicted_s) best = choice;
  if (best.algorithm == nullptr) throw Unsupported("no algorithm accepts the request:" + declined);
  return best;
}

Schedule merged(std::span<const AlgorithmRequest> requests, const std::vector<const Algorithm*>& picks) {
  std::vector<Schedule> parts;
  parts.reserve(requests.size());
  for (std::size_t b = 0; b < requests.size(); ++b) parts.push_back(build_schedule(*picks[b], requests[b]));
  Schedule schedule = merge_schedules(std::move(parts));
  schedule.num_devices = requests.front().num_devices;
  schedule.op = requests.front().op;
  return schedule;
}

}  // namespace

Predictor simulator_predictor(const Topology& topology, const std::vector<int>& devices, const SimulationOptions& options) {
  SimulationOptions quiet = options;
  quiet.trace = false;
  return [&topology, devices, quiet](const Schedule& schedule) { return simulate(schedule, topology, devices, quiet).time_s; };
}

Predictor thread_predictor(const ThreadCosts& costs, const ThreadRunOptions& run) {
  return [costs, run](const Schedule& schedule) { return predict_thread_time(schedule, costs, run).time_s; };
}

AlgorithmChoice choose_algorithm(const AlgorithmRequest& request, const Predictor& predict) {
  std::string declined;
  return fastest_of(predict_each(request, predict, declined), declined);
}

LayoutPlan plan_layout(std::span<const AlgorithmRequest> requests, const Predictor& predict) {
  LayoutPlan plan;
  if (requests.empty()) return plan;
  // Per bucket alone, memoized by size and dtype: a layout has far fewer sizes than buckets.
  std::map<std::pair<std::int64_t, DType>, std::vector<AlgorithmChoice>> alone;
  std::vector<const std::vector<AlgorithmChoice>*> per_bucket;
  std::vector<const Algorithm*> mix;
  for (const AlgorithmRequest& request : requests) {
    auto [it, inserted] = alone.try_emplace(std::pair(request.count, request.dtype));
    std::string declined;
    if (inserted) it->second = predict_each(request, predict, declined);
    per_bucket.push_back(&it->second);
    mix.push_back(fastest_of(it->second, declined).algorithm);
  }
  std::vector<const Algorithm*> best_picks = mix;
  plan.schedule = merged(requests, mix);
  plan.predicted_s = predict(plan.schedule);
  for (const Algorithm& algorithm : algorithms()) {
    std::vector<const Algorithm*> picks;
    for (const auto* choices : per_bucket)
      for (const AlgorithmChoice& choice : *choices)
        if (choice.algorithm == &algorithm) picks.push_back(&algorithm);
    if (picks.size() != requests.size() || picks == mix) continue;  // declines a bucket, or is the mix
    Schedule schedule = merged(requests, picks);
    const double predicted = predict(schedule);
    if (predicted < plan.predicted_s) {
      plan.predicted_s = predicted;
      plan.schedule = std::move(schedule);
      best_picks = std::move(picks);
    }
  }
  for (std::size_t b = 0; b < requests.size(); ++b)
    for (const AlgorithmChoice& choice : *per_bucket[b])
      if (choice.algorithm == best_picks[b]) plan.choices.push_back({std::string(choice.algorithm->name), choice.predicted_s});
  return plan;
}

LayoutPlan plan_call(std::span<const AlgorithmRequest> requests, const Algorithm* named, const Predictor& predict) {
  LayoutPlan plan;
  if (named == nullptr) {
    plan = plan_layout(requests, predict);
  } else {
    std::vector<Schedule> parts;
    for (const AlgorithmRequest& request : requests) {
      plan.choices.push_back({std::string(named->name), 0});
      parts.push_back(build_schedule(*named, request));
    }
    plan.schedule = merge_schedules(std::move(parts));
  }
  if (!requests.empty()) {
    plan.schedule.num_devices = requests.front().num_devices;
    plan.schedule.op = requests.front().op;
  }
  return plan;
}

AlgorithmRequest make_request(const AlgorithmRequest& devices, const Bucket& bucket, ReduceOp op) {
  AlgorithmRequest request = devices;
  request.count = bucket.count;
  request.dtype = bucket.dtype;
  request.op = op;
  request.rotation = bucket.rotation;
  return request;
}

Plan plan_layout_call(std::span<const TensorSpec> layout, ReduceOp op, const BucketingOptions& bucketing,
                      const AlgorithmRequest& devices, const Algorithm* named, std::string_view name,
                      const Predictor& predict) {
  if (named != nullptr)
    if (auto reason = named->decline(make_request(devices, {}, op)))
      throw Unsupported("algorithm " + std::string(named->name) + " cannot serve " +
                        std::to_string(devices.num_devices) + " devices: " + *reason);
  Plan plan;
  plan.layout.assign(layout.begin(), layout.end());
  plan.buckets = make_buckets(layout, bucketing);
  std::vector<AlgorithmRequest> requests;
  for (const Bucket& bucket : plan.buckets) requests.push_back(make_request(devices, bucket, op));
  LayoutPlan planned = plan_call(requests, named, predict);
  plan.choices = std::move(planned.choices);
  plan.schedule = std::move(planned.schedule);
  plan.schedule.num_devices = devices.num_devices;
  plan.schedule.op = op;
  if (plan.schedule.algorithm.empty()) plan.schedule.algorithm = std::string(name);
  return plan;
}

}  // namespace meshreduce::detail
