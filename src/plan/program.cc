#include "plan/program.h"

#include <algorithm>
#include <string>

#include "meshreduce/error.h"

namespace meshreduce::detail {
namespace {

// Start offsets of a bucket's pieces within the bucket, plus its end.
std::vector<std::int64_t> piece_starts(const Bucket& bucket) {
  std::vector<std::int64_t> starts{0};
  for (const BucketPiece& piece : bucket.pieces) starts.push_back(starts.back() + piece.count);
  return starts;
}

std::int64_t output_bytes(const Schedule& schedule, const std::vector<Bucket>& buckets) {
  std::int64_t bytes = 0;
  for (const Bucket& bucket : buckets) bytes += bucket.count * static_cast<std::int64_t>(dtype_size(bucket.dtype));
  return bytes * schedule.num_devices;
}

}  // namespace

std::vector<bool> final_output_steps(const Schedule& schedule) {
  const auto buffers = schedule.buffers.size();
  std::vector<std::size_t> last_read(static_cast<std::size_t>(schedule.num_devices) * buffers, 0);  // step + 1
  const auto slot = [&](const BufferRef& ref) {
    return static_cast<std::size_t>(ref.device) * buffers + static_cast<std::size_t>(ref.buffer);
  };
  for (std::size_t s = 0; s < schedule.steps.size(); ++s)
    for (const BufferRef& ref : schedule.steps[s].srcs)
      if (ref.kind == BufferKind::output) last_read[slot(ref)] = s + 1;
  std::vector<bool> result(schedule.steps.size(), false);
  for (std::size_t s = 0; s < schedule.steps.size(); ++s) {
    const auto& dsts = schedule.steps[s].dsts;
    result[s] = !dsts.empty() && std::all_of(dsts.begin(), dsts.end(), [&](const BufferRef& ref) {
      return ref.kind == BufferKind::output && last_read[slot(ref)] <= s;
    });
  }
  return result;
}

Program lower_schedule(const Schedule& schedule, const std::vector<Bucket>& buckets, std::int64_t piece_elements,
                       std::int64_t stream_min_bytes) {
  if (schedule.buffers.size() != buckets.size())
    throw ScheduleError("schedule has " + std::to_string(schedule.buffers.size()) + " buffers for " +
                        std::to_string(buckets.size()) + " buckets");
  if (piece_elements < 1) throw InvalidArgument("piece_elements must be >= 1, got " + std::to_string(piece_elements));
  std::vector<std::vector<std::int64_t>> starts;
  for (const Bucket& bucket : buckets) starts.push_back(piece_starts(bucket));

  Program program;
  program.num_devices = schedule.num_devices;
  program.op = schedule.op;
  program.scratch = schedule.scratch;
  program.steps.resize(schedule.steps.size());

  program.large = stream_min_bytes >= 0 && output_bytes(schedule, buckets) >= stream_min_bytes;
  const std::vector<bool> final_steps =
      program.large ? final_output_steps(schedule) : std::vector<bool>(schedule.steps.size());

  std::vector<std::int64_t> cuts;
  for (std::size_t s = 0; s < schedule.steps.size(); ++s) {
    const Step& step = schedule.steps[s];
    ProgramStep& lowered = program.steps[s];
    lowered.deps = static_cast<int>(step.deps.size());
    for (int dep : step.deps) {
      if (dep < 0 || static_cast<std::size_t>(dep) >= s)
        throw ScheduleError("step " + std::to_string(s) + " depends on step " + std::to_string(dep) +
                            ", which is not an earlier step");
      program.steps[static_cast<std::size_t>(dep)].dependents.push_back(static_cast<int>(s));
    }
    lowered.first_piece = static_cast<int>(program.pieces.size());

    // Cut where any input/output range crosses from one tensor into the next.
    cuts.assign({0, step.count});
    for (const auto* refs : {&step.srcs, &step.dsts})
      for (const BufferRef& ref : *refs) {
        if (ref.kind == BufferKind::scratch) continue;
        for (std::int64_t start : starts[static_cast<std::size_t>(ref.buffer)])
          if (start > ref.offset && start < ref.offset + step.count) cuts.push_back(start - ref.offset);
      }
    std::sort(cuts.begin(), cuts.end());
    cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());

    const DType dtype = step.dsts.empty() ? DType::f32 : schedule.dtype_of(step.dsts.front());
    for (std::size_t c = 0; c + 1 < cuts.size(); ++c)
      for (std::int64_t begin = cuts[c]; begin < cuts[c + 1]; begin += piece_elements) {
        Piece piece{static_cast<int>(s), step.kind, dtype, step.average,
                    std::min(piece_elements, cuts[c + 1] - begin), static_cast<int>(program.refs.size()),
                    static_cast<int>(step.srcs.size()), static_cast<int>(step.dsts.size()), final_steps[s]};
        for (const auto* refs : {&step.srcs, &step.dsts})
          for (const BufferRef& ref : *refs) {
            const std::int64_t at = ref.offset + begin;
            if (ref.kind == BufferKind::scratch) {
              program.refs.push_back({ref.device, ref.kind, ref.buffer, at});
              continue;
            }
            const auto& bucket_starts = starts[static_cast<std::size_t>(ref.buffer)];
            const auto which = static_cast<std::size_t>(
                std::upper_bound(bucket_starts.begin(), bucket_starts.end(), at) - bucket_starts.begin() - 1);
            const BucketPiece& target = buckets[static_cast<std::size_t>(ref.buffer)].pieces[which];
            program.refs.push_back({ref.device, ref.kind, target.tensor, target.tensor_offset + at - bucket_starts[which]});
          }
        program.pieces.push_back(piece);
      }
    lowered.pieces = static_cast<int>(program.pieces.size()) - lowered.first_piece;
  }
  return program;
}

}  // namespace meshreduce::detail
