// Phase 3 of the verifier: run the steps on symbols (verifier.cc explains the method), then
// check every output range and compare the replicas.
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "verify/expressions.h"
#include "verify/verify_internal.h"

namespace meshreduce::detail::verify {
namespace {

// Element p of [begin, end) holds `expr` at lane p + shift; `writer` is the step that stored it.
struct Segment {
  std::int64_t end = 0;
  ExprId expr = kUndefined;
  std::int64_t shift = 0;
  int writer = -1;
};

// A run of a step's elements [begin, end) (relative to the step's ranges): element j holds `expr`
// at lane j + lane.
struct Piece {
  std::int64_t begin = 0;
  std::int64_t end = 0;
  ExprId expr = kUndefined;
  std::int64_t lane = 0;
  int writer = -1;
};

// The contents of one buffer: segments keyed by their first element, covering [0, size).
class Contents {
 public:
  Contents(std::int64_t size, ExprId initial) {
    if (size > 0) segments_.emplace(0, Segment{size, initial, 0, -1});
  }

  // Pieces of [offset, offset + count), relative to offset.
  void read(std::int64_t offset, std::int64_t count, std::vector<Piece>& out) const {
    out.clear();
    if (count == 0) return;
    auto it = std::prev(segments_.upper_bound(offset));
    for (; it != segments_.end() && it->first < offset + count; ++it) {
      const std::int64_t begin = std::max(it->first, offset);
      const std::int64_t end = std::min(it->second.end, offset + count);
      out.push_back({begin - offset, end - offset, it->second.expr, offset + it->second.shift, it->second.writer});
    }
  }

  // Store pieces (relative to offset, together covering [0, count)) at offset.
  void write(std::int64_t offset, std::int64_t count, const std::vector<Piece>& pieces, int writer) {
    if (count == 0) return;
    split(offset);
    split(offset + count);
    segments_.erase(segments_.lower_bound(offset), segments_.lower_bound(offset + count));
    for (const Piece& piece : pieces)
      segments_.emplace(offset + piece.begin, Segment{offset + piece.end, piece.expr, piece.lane - offset, writer});
  }

  const std::map<std::int64_t, Segment>& segments() const { return segments_; }

 private:
  void split(std::int64_t at) {
    auto it = segments_.upper_bound(at);
    if (it == segments_.begin()) return;
    --it;
    if (it->first == at || it->second.end <= at) return;
    Segment tail = it->second;
    it->second.end = at;
    segments_.emplace(at, tail);
  }

  std::map<std::int64_t, Segment> segments_;
};

bool is_wide(DType dtype) { return dtype != DType::f16 && dtype != DType::bf16; }

class SymbolicRun {
 public:
  SymbolicRun(const Schedule& schedule, bool in_place, bool commutative_sums)
      : schedule_(schedule), in_place_(in_place), commutative_sums_(commutative_sums), checker_(expressions_, schedule.num_devices, schedule.op) {}

  std::optional<VerifyReport> run(VerifyStats& stats) {
    std::optional<VerifyReport> report;
    for (std::size_t s = 0; s < schedule_.steps.size() && !report; ++s) report = execute(static_cast<int>(s));
    if (!report) report = check_outputs();
    stats.expressions = std::max(stats.expressions, expressions_.size());
    stats.segments = 0;
    for (const auto& [memory, contents] : contents_)
      stats.segments += static_cast<std::int64_t>(contents.segments().size());
    return report;
  }

 private:
  Contents& contents(const BufferRef& ref) {
    const Memory memory = memory_of(ref, in_place_);
    auto found = contents_.find(memory);
    if (found != contents_.end()) return found->second;
    ExprId initial = kUndefined;  // outputs (out of place) and scratch start unwritten
    if (memory.space == 0 || (memory.space == 1 && in_place_)) initial = expressions_.leaf(ref.device, ref.buffer);
    return contents_.emplace(memory, Contents(buffer_count(schedule_, ref), initial)).first->second;
  }

  VerifyReport fault(ViolationKind kind, int step, const BufferRef& ref, std::int64_t begin, std::int64_t end,
                     const std::string& what) {
    VerifyReport report = violation(schedule_, kind, step, what);
    locate(report, schedule_, ref, begin, end);
    return report;
  }

  // Read every source of a step into sources_[i], checking what may not be read.
  std::optional<VerifyReport> read_sources(int s) {
    const Step& step = schedule_.steps[static_cast<std::size_t>(s)];
    sources_.resize(step.srcs.size());
    for (std::size_t i = 0; i < step.srcs.size(); ++i) {
      const BufferRef& src = step.srcs[i];
      contents(src).read(src.offset, step.count, sources_[i]);
      const ExprId own = src.kind == BufferKind::input ? expressions_.leaf(src.device, src.buffer) : kUndefined;
      for (const Piece& piece : sources_[i]) {
        const std::int64_t begin = src.offset + piece.begin;
        const std::int64_t end = src.offset + piece.end;
        if (piece.expr == kUndefined)
          return fault(ViolationKind::undefined_read, s, src, begin, end,
                       "reads " + describe_range(schedule_, src, begin, end) + ", which no earlier step wrote");
        if (src.kind == BufferKind::input && (piece.expr != own || piece.lane != src.offset)) {
          BufferRef output = src;
          output.kind = BufferKind::output;
          VerifyReport report = fault(ViolationKind::in_place_hazard, s, src, begin, end,
                                      "reads " + describe_range(schedule_, src, begin, end) + " after step " +
                                          std::to_string(piece.writer) + " wrote " +
                                          describe_range(schedule_, output, begin, end) +
                                          ", the same memory when the call is in place");
          report.other_step = piece.writer;
          return report;
        }
      }
    }
    return std::nullopt;
  }

  // Combine the sources of a reduce piece by piece into result_.
  std::optional<VerifyReport> combine(int s) {
    const Step& step = schedule_.steps[static_cast<std::size_t>(s)];
    const bool wide = is_wide(schedule_.dtype_of(step.srcs.front()));
    std::vector<std::size_t> at(sources_.size(), 0);
    std::vector<ExprId> children(sources_.size());
    std::int64_t begin = 0;
    while (begin < step.count) {
      std::int64_t end = step.count;
      for (std::size_t i = 0; i < sources_.size(); ++i) end = std::min(end, sources_[i][at[i]].end);
      const std::int64_t lane = sources_[0][at[0]].lane;
      for (std::size_t i = 0; i < sources_.size(); ++i) {
        const Piece& piece = sources_[i][at[i]];
        if (piece.lane != lane) {
          const BufferRef& a = step.srcs[0];
          const BufferRef& b = step.srcs[i];
          return fault(ViolationKind::lane_mismatch, s, b, b.offset + begin, b.offset + end,
                       "combines elements of different lanes: source " + std::to_string(i) + " (" +
                           describe_range(schedule_, b, b.offset + begin, b.offset + end) + ") holds element j" +
                           (piece.lane > lane ? "+" : "") + std::to_string(piece.lane - lane) +
                           " where source 0 (" + describe_range(schedule_, a, a.offset + begin, a.offset + end) +
                           ") holds element j");
        }
        children[i] = piece.expr;
      }
      const ExprId expr = expressions_.reduce(children, step.average, wide);
      if (!result_.empty() && result_.back().expr == expr && result_.back().lane == lane)
        result_.back().end = end;
      else
        result_.push_back({begin, end, expr, lane, s});
      for (std::size_t i = 0; i < sources_.size(); ++i)
        if (sources_[i][at[i]].end == end) ++at[i];
      begin = end;
    }
    return std::nullopt;
  }

  std::optional<VerifyReport> execute(int s) {
    const Step& step = schedule_.steps[static_cast<std::size_t>(s)];
    if (step.count == 0) return std::nullopt;
    if (auto report = read_sources(s)) return report;
    result_.clear();
    switch (step.kind) {
      case StepKind::copy: result_ = sources_[0]; break;
      case StepKind::scale:
        result_ = sources_[0];
        for (Piece& piece : result_) piece.expr = expressions_.scale(piece.expr);
        break;
      case StepKind::reduce:
        if (auto report = combine(s)) return report;
        break;
    }
    for (const BufferRef& dst : step.dsts) contents(dst).write(dst.offset, step.count, result_, s);
    return std::nullopt;
  }

  std::optional<VerifyReport> output_fault(ViolationKind kind, const BufferRef& ref, std::int64_t begin,
                                           std::int64_t end, const Segment& segment, const std::string& what) {
    std::string text = describe_range(schedule_, ref, begin, end) + " " + what;
    if (segment.writer >= 0) text += " (last written by " + describe_step(schedule_, segment.writer) + ")";
    VerifyReport report = violation(schedule_, kind, -1, text);
    report.step = segment.writer;
    locate(report, schedule_, ref, begin, end);
    return report;
  }

  std::optional<VerifyReport> check_outputs() {
    const bool name_buffers = schedule_.buffers.size() > 1;
    for (std::size_t b = 0; b < schedule_.buffers.size(); ++b) {
      for (int d = 0; d < schedule_.num_devices; ++d) {
        const BufferRef ref{d, BufferKind::output, static_cast<int>(b), 0};
        for (const auto& [begin, segment] : contents(ref).segments()) {
          if (segment.expr == kUndefined)
            return output_fault(ViolationKind::never_written, ref, begin, segment.end, segment, "is never written");
          if (segment.shift != 0)
            return output_fault(ViolationKind::wrong_element, ref, begin, segment.end, segment,
                                "holds at element i the reduction of element i" +
                                    std::string(segment.shift > 0 ? "+" : "") + std::to_string(segment.shift));
          if (const auto& fault = checker_.check(segment.expr, static_cast<int>(b)))
            return output_fault(fault->kind, ref, begin, segment.end, segment,
                                fault->what + ": " + expressions_.print(segment.expr, schedule_.op, name_buffers));
        }
      }
      // Every replica passed the checker: each device's input exactly once. Exact sums make
      // that enough for equal bits; min and max are exact in any order too.
      if (commutative_sums_) continue;
      if (auto report = compare_replicas(static_cast<int>(b), name_buffers)) return report;
    }
    return std::nullopt;
  }

  std::optional<VerifyReport> compare_replicas(int buffer, bool name_buffers) {
    const BufferRef first{0, BufferKind::output, buffer, 0};
    const auto& reference = contents(first).segments();
    for (int d = 1; d < schedule_.num_devices; ++d) {
      const BufferRef ref{d, BufferKind::output, buffer, 0};
      const auto& segments = contents(ref).segments();
      auto a = reference.begin();
      auto b = segments.begin();
      while (a != reference.end() && b != segments.end()) {
        if (a->second.expr != b->second.expr) {
          const std::int64_t begin = std::max(a->first, b->first);
          const std::int64_t end = std::min(a->second.end, b->second.end);
          auto report = output_fault(
              ViolationKind::replica_mismatch, ref, begin, end, b->second,
              "holds " + expressions_.print(b->second.expr, schedule_.op, name_buffers) + ", but device 0 holds " +
                  expressions_.print(a->second.expr, schedule_.op, name_buffers) + " (written by step " +
                  std::to_string(a->second.writer) + "): the replicas differ in bits");
          report->other_step = a->second.writer;
          return report;
        }
        const std::int64_t end = std::min(a->second.end, b->second.end);
        if (a->second.end == end) ++a;
        if (b->second.end == end) ++b;
      }
    }
    return std::nullopt;
  }

  const Schedule& schedule_;
  const bool in_place_;
  const bool commutative_sums_;
  Expressions expressions_;
  OutputChecker checker_;
  std::map<Memory, Contents> contents_;
  std::vector<std::vector<Piece>> sources_;
  std::vector<Piece> result_;
};

}  // namespace

std::optional<VerifyReport> check_symbolically(const Schedule& schedule, bool in_place, bool commutative_sums,
                                               VerifyStats& stats) {
  return SymbolicRun(schedule, in_place, commutative_sums).run(stats);
}

}  // namespace meshreduce::detail::verify
