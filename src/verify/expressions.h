// Internal: the hash-consed symbolic values of the verifier. An expression stands for what one
// element holds, relative to a lane (the element index the leaves are read at):
//   Leaf(d, b)          input buffer b of device d at the lane
//   Reduce(c0, c1, ...) the schedule's op over the children, combined left to right, rounded once
//   Scale(c)            c multiplied by 1/K (divided by K for integers), rounded once
//   ReduceScaled(...)   f16/bf16 only: Reduce then Scale before the single rounding
// Building the same tree twice returns the same id, so equal ids mean equal bits.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "meshreduce/types.h"
#include "meshreduce/verifier.h"

namespace meshreduce::detail::verify {

using ExprId = std::int32_t;
inline constexpr ExprId kUndefined = 0;  // never written

enum class NodeKind : std::uint8_t { undefined, leaf, reduce, scale, reduce_scaled };

struct Node {
  NodeKind kind = NodeKind::undefined;
  int device = -1;  // leaf only
  int buffer = -1;  // leaf only
  std::vector<ExprId> children;
  std::int64_t leaves = 0;  // leaves of the tree, counted with multiplicity (saturating)
  std::int64_t scales = 0;  // Scale and ReduceScaled nodes of the tree, with multiplicity (saturating)
};

class Expressions {
 public:
  Expressions();
  ExprId leaf(int device, int buffer);
  // What a reduce step stores: `wide` dtypes (rounded on every addition anyway) flatten a first
  // child that is itself a Reduce; a single child is stored unchanged, or scaled with average.
  ExprId reduce(std::span<const ExprId> children, bool average, bool wide);
  ExprId scale(ExprId child);
  const Node& node(ExprId id) const { return nodes_[static_cast<std::size_t>(id)]; }
  std::int64_t size() const { return static_cast<std::int64_t>(nodes_.size()); }
  // "((in0 + in1) + in2)/K", cut to about `limit` characters.
  std::string print(ExprId id, ReduceOp op, bool name_buffers, std::size_t limit = 160) const;

 private:
  ExprId intern(Node node);
  void print_into(ExprId id, ReduceOp op, bool name_buffers, std::size_t limit, std::string& out) const;

  std::vector<Node> nodes_;
  std::unordered_map<std::string, ExprId> index_;
};

// Whether an expression is a correct final value of an element of output buffer `buffer`: every
// device's input of that buffer exactly once, and for average exactly one scaling, at the root.
// Results are remembered per (expression, buffer).
class OutputChecker {
 public:
  struct Fault {
    ViolationKind kind;
    std::string what;
  };
  OutputChecker(const Expressions& expressions, int num_devices, ReduceOp op)
      : expressions_(expressions), num_devices_(num_devices), op_(op) {}
  const std::optional<Fault>& check(ExprId id, int buffer);

 private:
  std::optional<Fault> compute(ExprId id, int buffer) const;

  const Expressions& expressions_;
  int num_devices_;
  ReduceOp op_;
  std::unordered_map<std::uint64_t, std::optional<Fault>> memo_;
};

}  // namespace meshreduce::detail::verify
