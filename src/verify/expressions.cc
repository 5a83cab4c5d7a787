// The verifier's hash-consed expressions, and the check of a final output value.
#include "verify/expressions.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace meshreduce::detail::verify {
namespace {

constexpr std::int64_t kSaturated = std::int64_t{1} << 60;
// Trees with more leaves than this are not walked: they hold some input far too often.
constexpr std::int64_t kWalkLimit = std::int64_t{1} << 22;

std::int64_t saturating_add(std::int64_t a, std::int64_t b) { return std::min(a + b, kSaturated); }

template <typename T>
void append_bytes(std::string& key, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  key.append(bytes, sizeof(T));
}

}  // namespace

Expressions::Expressions() { nodes_.push_back(Node{}); }

ExprId Expressions::intern(Node node) {
  std::string key;
  key.reserve(12 + 4 * node.children.size());
  append_bytes(key, static_cast<std::uint8_t>(node.kind));
  append_bytes(key, node.device);
  append_bytes(key, node.buffer);
  for (ExprId child : node.children) append_bytes(key, child);
  const auto found = index_.find(key);
  if (found != index_.end()) return found->second;

  node.leaves = node.kind == NodeKind::leaf ? 1 : 0;
  node.scales = node.kind == NodeKind::scale || node.kind == NodeKind::reduce_scaled ? 1 : 0;
  for (ExprId child : node.children) {
    node.leaves = saturating_add(node.leaves, this->node(child).leaves);
    node.scales = saturating_add(node.scales, this->node(child).scales);
  }
  if (nodes_.size() >= static_cast<std::size_t>(std::numeric_limits<ExprId>::max()))
    throw std::length_error("verifier: too many distinct expressions");
  const auto id = static_cast<ExprId>(nodes_.size());
  nodes_.push_back(std::move(node));
  index_.emplace(std::move(key), id);
  return id;
}

ExprId Expressions::leaf(int device, int buffer) {
  Node node;
  node.kind = NodeKind::leaf;
  node.device = device;
  node.buffer = buffer;
  return intern(std::move(node));
}

ExprId Expressions::scale(ExprId child) {
  Node node;
  node.kind = NodeKind::scale;
  node.children = {child};
  return intern(std::move(node));
}

ExprId Expressions::reduce(std::span<const ExprId> children, bool average, bool wide) {
  if (children.size() == 1) return average ? scale(children[0]) : children[0];
  Node node;
  node.kind = NodeKind::reduce;
  const Node& first = this->node(children[0]);
  if (wide && first.kind == NodeKind::reduce) node.children = first.children;
  else node.children = {children[0]};
  node.children.insert(node.children.end(), children.begin() + 1, children.end());
  if (!average) return intern(std::move(node));
  if (wide) return scale(intern(std::move(node)));
  node.kind = NodeKind::reduce_scaled;
  return intern(std::move(node));
}

void Expressions::print_into(ExprId id, ReduceOp op, bool name_buffers, std::size_t limit, std::string& out) const {
  if (out.size() > limit) return;
  const Node& n = node(id);
  switch (n.kind) {
    case NodeKind::undefined: out += "undefined"; return;
    case NodeKind::leaf:
      out += "in" + std::to_string(n.device);
      if (name_buffers) out += "[b" + std::to_string(n.buffer) + "]";
      return;
    case NodeKind::scale:
      out += "scale(";
      print_into(n.children[0], op, name_buffers, limit, out);
      out += ")";
      return;
    case NodeKind::reduce:
    case NodeKind::reduce_scaled: {
      const bool additive = op == ReduceOp::sum || op == ReduceOp::average;
      out += n.kind == NodeKind::reduce_scaled ? "scale(" : "";
      out += additive ? "(" : std::string(reduce_op_name(op)) + "(";
      for (std::size_t i = 0; i < n.children.size(); ++i) {
        if (i > 0) out += additive ? " + " : ", ";
        if (out.size() > limit) {
          out += "...";
          break;
        }
        print_into(n.children[i], op, name_buffers, limit, out);
      }
      out += n.kind == NodeKind::reduce_scaled ? "))" : ")";
      return;
    }
  }
}

std::string Expressions::print(ExprId id, ReduceOp op, bool name_buffers, std::size_t limit) const {
  std::string out;
  print_into(id, op, name_buffers, limit, out);
  return out;
}

const std::optional<OutputChecker::Fault>& OutputChecker::check(ExprId id, int buffer) {
  const std::uint64_t key = static_cast<std::uint64_t>(static_cast<std::uint32_t>(id)) << 32 |
                            static_cast<std::uint32_t>(buffer);
  auto found = memo_.find(key);
  if (found == memo_.end()) found = memo_.emplace(key, compute(id, buffer)).first;
  return found->second;
}

std::optional<OutputChecker::Fault> OutputChecker::compute(ExprId id, int buffer) const {
  const Node& root = expressions_.node(id);
  const auto devices = static_cast<std::size_t>(num_devices_);
  if (root.kind == NodeKind::undefined) return Fault{ViolationKind::never_written, "is never written"};
  if (root.leaves > kWalkLimit)
    return Fault{ViolationKind::duplicate_contribution,
                 "reduces " + std::to_string(root.leaves) + " inputs for " + std::to_string(num_devices_) + " devices"};

  // Count each device's input in the tree, leaves shared by several parents once per parent.
  std::vector<std::int64_t> count(devices, 0);
  std::vector<ExprId> stack{id};
  while (!stack.empty()) {
    const Node& n = expressions_.node(stack.back());
    stack.pop_back();
    if (n.kind == NodeKind::undefined)
      return Fault{ViolationKind::undefined_read, "holds a value computed from data never written"};
    if (n.kind == NodeKind::leaf) {
      if (n.buffer != buffer)
        return Fault{ViolationKind::wrong_element, "holds the input of device " + std::to_string(n.device) +
                                                       " from buffer " + std::to_string(n.buffer) + ", not buffer " +
                                                       std::to_string(buffer)};
      ++count[static_cast<std::size_t>(n.device)];
      continue;
    }
    stack.insert(stack.end(), n.children.begin(), n.children.end());
  }
  for (std::size_t d = 0; d < devices; ++d)
    if (count[d] > 1)
      return Fault{ViolationKind::duplicate_contribution, "holds the input of device " + std::to_string(d) + " " +
                                                              std::to_string(count[d]) + " times"};
  std::string missing;
  int missing_count = 0;
  for (std::size_t d = 0; d < devices; ++d)
    if (count[d] == 0 && ++missing_count <= 8) missing += (missing.empty() ? "" : ", ") + std::to_string(d);
  if (missing_count > 0)
    return Fault{ViolationKind::missing_contribution,
                 missing_count == 1 ? "lacks the input of device " + missing
                                    : "lacks the inputs of " + std::to_string(missing_count) + " devices (" + missing +
                                          (missing_count > 8 ? ", ..." : "") + ")"};

  if (op_ != ReduceOp::average) {
    if (root.scales > 0) return Fault{ViolationKind::wrong_scaling, "is scaled by 1/K, but the op is not average"};
    return std::nullopt;
  }
  // With one device, scaling by 1/1 leaves every value's bits as they are: scaled or not, it is right.
  if (num_devices_ == 1) return std::nullopt;
  if (root.scales == 0) return Fault{ViolationKind::wrong_scaling, "is never scaled by 1/K"};
  if (root.scales > 1)
    return Fault{ViolationKind::wrong_scaling, "is scaled by 1/K " + std::to_string(root.scales) + " times"};
  if (root.kind != NodeKind::scale && root.kind != NodeKind::reduce_scaled)
    return Fault{ViolationKind::wrong_scaling, "is scaled by 1/K before the reduction is complete"};
  return std::nullopt;
}

}  // namespace meshreduce::detail::verify
