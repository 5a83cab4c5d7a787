// tree: the double binary tree (Sanders, Speck and Traeff's two-tree scheme, as NCCL uses it):
// two binary trees over all K devices, each carrying half of the buffer, such that every device
// is an inner node in at most one of them. Pipelined by chunks: each chunk is reduced up to
// its tree's root and broadcast back down on its own.
//
// How it works, for one buffer of n elements with rotation r:
//   trees    tree A is the in-order binary tree over the labels 1..K: the root of a label
//            range is its label with the most trailing zero bits, so the even labels are the
//            inner nodes and the odd labels the leaves. Tree B is tree A with every label v
//            mapped to K+1-v (K even: the inner nodes become the odd labels) or to v % K + 1
//            (K odd: the inner nodes become the odd labels 3..K, label 1 is a leaf in both).
//            Label v is device (v - 1 + r) % K.
//   halves   tree A carries the first half of the buffer, tree B the second; each half is cut
//            into chunks of at most `chunk_elements` (0: 1 MiB of elements).
//   1. reduce, bottom up, per chunk: every inner node combines, in label order, its left
//      child's partial, its own input and its right child's partial into its output (a leaf's
//      partial is its input). The root's combination is the one final value of the chunk,
//      scaled by 1/K there for an average.
//   2. broadcast, top down, per chunk: every inner node copies the final chunk from its output
//      into its children's outputs, after it received it itself.
// In place is safe: a device's output range is overwritten by the broadcast only after the
// root's final reduce, which comes after every read of the chunk.
//
// What it costs, for n bytes, h = n/2 per tree: a device sends h up in every tree where it is
// not the root and h to each of its children, so h ([not root of A] + children in A +
// [not root of B] + children in B): 2n for a device that is an inner node (two children) in one
// tree and a leaf in the other, less for the roots and for label 1 of an odd K (a leaf in both:
// n). All devices together send 2(K-1) n, as a ring, but the most loaded device sends 2n rather
// than 2(K-1)/K n. Messages: per chunk, one up and one per child. Latency: 2 floor(log2 K)
// dependent hops per chunk (the depth up, the depth down), plus one per further chunk:
// logarithmic in K where a ring is linear, which is what the tree buys for small buffers and
// many devices. It combines h (children + 1) bytes of elements on an inner node, nothing on a
// leaf.
#include "algorithms/tree.h"

#include <algorithm>
#include <vector>

#include "algorithms/slicing.h"

namespace meshreduce::detail {
namespace {

// Chunk bound when `chunk_elements` is 0: large enough that a message's latency (microseconds)
// is small against its transfer (1 MiB at 25 GB/s takes 42 us), small enough that a large buffer
// fills the tree's pipeline.
constexpr std::int64_t kDefaultChunkBytes = std::int64_t{1} << 20;

// A binary tree over device positions: parent (-1 for the root) and children in label order.
struct BinaryTree {
  int root = -1;
  std::vector<int> parent;
  std::vector<std::vector<int>> children;
};

// The label in [lo, hi] with the most trailing zero bits (unique).
int range_root(int lo, int hi) {
  for (int bit = 30; bit > 0; --bit) {
    const int multiple = (hi >> bit) << bit;
    if (multiple >= lo) return multiple;
  }
  return hi;
}

// Tree A over the labels [lo, hi], each label placed at device `place(label)`.
template <typename Place>
int build_inorder(int lo, int hi, int parent, const Place& place, BinaryTree& tree) {
  if (lo > hi) return -1;
  const int label = range_root(lo, hi);
  const int device = place(label);
  tree.parent[static_cast<std::size_t>(device)] = parent;
  for (int child : {build_inorder(lo, label - 1, device, place, tree), build_inorder(label + 1, hi, device, place, tree)})
    if (child >= 0) tree.children[static_cast<std::size_t>(device)].push_back(child);
  return device;
}

template <typename Place>
BinaryTree make_tree(int devices, const Place& place) {
  BinaryTree tree;
  tree.parent.assign(static_cast<std::size_t>(devices), -1);
  tree.children.assign(static_cast<std::size_t>(devices), {});
  tree.root = build_inorder(1, devices, -1, place, tree);
  return tree;
}

class TreeBuilder {
 public:
  TreeBuilder(Schedule& schedule, const BinaryTree& tree, bool average)
      : schedule_(schedule), tree_(tree), average_(average) {}

  // Reduce then broadcast one chunk.
  void add_chunk(Range chunk) {
    chunk_ = chunk;
    const int total = reduce(tree_.root);
    broadcast(tree_.root, total);
  }

 private:
  // The step after which `device` holds its partial of the chunk in its output, or -1 for a
  // leaf, whose partial is its input.
  int reduce(int device) {
    const auto& children = tree_.children[static_cast<std::size_t>(device)];
    if (children.empty()) return -1;
    const bool root = device == tree_.root;
    Step step{StepKind::reduce, device, chunk_.count, {}, {output_at(device, chunk_.offset)}, {}, average_ && root};
    const auto partial = [&](int child) {
      const int ready = reduce(child);
      if (ready >= 0) step.deps.push_back(ready);
      return ready >= 0 ? output_at(child, chunk_.offset) : input_at(child, chunk_.offset);
    };
    step.srcs.push_back(partial(children[0]));
    step.srcs.push_back(input_at(device, chunk_.offset));
    if (children.size() > 1) step.srcs.push_back(partial(children[1]));
    return schedule_.add(std::move(step));
  }

  // Copy the final chunk from `device` (which holds it after step `ready`) to its subtree.
  void broadcast(int device, int ready) {
    const auto& children = tree_.children[static_cast<std::size_t>(device)];
    if (children.empty()) return;
    Step step{StepKind::copy, device, chunk_.count, {output_at(device, chunk_.offset)}, {}, {ready}, false};
    for (int child : children) step.dsts.push_back(output_at(child, chunk_.offset));
    const int copied = schedule_.add(std::move(step));
    for (int child : children) broadcast(child, copied);
  }

  Schedule& schedule_;
  const BinaryTree& tree_;
  bool average_;
  Range chunk_;
};

}  // namespace

std::optional<std::string> decline_tree(const AlgorithmRequest& request) { return decline_without_devices(request); }

Schedule build_tree(const AlgorithmRequest& request) {
  Schedule schedule = start_schedule("tree", request);
  const int k = request.num_devices;
  const std::int64_t n = request.count;
  if (finish_if_trivial(schedule, request)) return schedule;
  const auto device_of = [&](int label) { return rotated(label - 1, request.rotation, k); };
  const BinaryTree first = make_tree(k, device_of);
  const BinaryTree second = make_tree(k, [&](int label) {
    return device_of(k % 2 == 0 ? k + 1 - label : label % k + 1);
  });

  std::int64_t limit = request.options.chunk_elements;
  if (limit <= 0)
    limit = std::max<std::int64_t>(1, kDefaultChunkBytes / static_cast<std::int64_t>(dtype_size(request.dtype)));
  const auto first_chunks = chunks(part({0, n}, 2, 0), limit);
  const auto second_chunks = chunks(part({0, n}, 2, 1), limit);
  TreeBuilder first_builder(schedule, first, request.op == ReduceOp::average);
  TreeBuilder second_builder(schedule, second, request.op == ReduceOp::average);
  // Interleave the two trees chunk by chunk, in the order the pipeline runs them.
  for (std::size_t c = 0; c < std::max(first_chunks.size(), second_chunks.size()); ++c) {
    if (c < first_chunks.size()) first_builder.add_chunk(first_chunks[c]);
    if (c < second_chunks.size()) second_builder.add_chunk(second_chunks[c]);
  }
  return schedule;
}

}  // namespace meshreduce::detail
