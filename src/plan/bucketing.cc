// Bucketing: maps the tensors of a call onto the virtual buffers that schedules reduce.
#include "meshreduce/bucketing.h"

#include <map>

#include "meshreduce/error.h"

namespace meshreduce {
namespace {

std::vector<Bucket> per_tensor(std::span<const TensorSpec> tensors) {
  std::vector<Bucket> buckets;
  for (std::size_t t = 0; t < tensors.size(); ++t) {
    if (tensors[t].count == 0) continue;
    buckets.push_back({tensors[t].dtype, tensors[t].count, static_cast<std::int64_t>(t),
                       {{static_cast<int>(t), 0, tensors[t].count}}});
  }
  return buckets;
}

// Gradients become ready in reverse parameter order, so buckets fill from the last tensor back;
// each dtype has its own open bucket, closed when the next tensor would pass the threshold.
std::vector<Bucket> fused(std::span<const TensorSpec> tensors, std::int64_t fuse_bytes) {
  if (fuse_bytes < 1) throw InvalidArgument("bucketing: fuse_bytes must be >= 1, got " + std::to_string(fuse_bytes));
  std::vector<Bucket> buckets;
  std::map<DType, std::size_t> open;  // dtype -> index of its open bucket
  for (std::size_t i = tensors.size(); i-- > 0;) {
    const TensorSpec& tensor = tensors[i];
    if (tensor.count == 0) continue;
    const auto bytes = [](std::int64_t count, DType dtype) { return count * static_cast<std::int64_t>(dtype_size(dtype)); };
    auto it = open.find(tensor.dtype);
    if (it == open.end() || bytes(buckets[it->second].count + tensor.count, tensor.dtype) > fuse_bytes) {
      Bucket bucket{tensor.dtype, 0, static_cast<std::int64_t>(buckets.size()), {}};
      buckets.push_back(std::move(bucket));
      it = open.insert_or_assign(tensor.dtype, buckets.size() - 1).first;
    }
    Bucket& bucket = buckets[it->second];
    bucket.pieces.push_back({static_cast<int>(i), 0, tensor.count});
    bucket.count += tensor.count;
  }
  return buckets;
}

// tensorpack's GradientPacker: one dtype, all tensors concatenated in parameter order and split
// into `splits` chunks of total / splits elements, the last taking the remainder. Skipped (one
// bucket per tensor) for mixed dtypes or fewer than `min_per_split` elements per chunk.
std::vector<Bucket> seed_packer(std::span<const TensorSpec> tensors, int splits, std::int64_t min_per_split) {
  if (splits < 1) throw InvalidArgument("bucketing: packer_splits must be >= 1, got " + std::to_string(splits));
  std::int64_t total = 0;
  for (const TensorSpec& tensor : tensors) {
    if (tensor.dtype != tensors.front().dtype) return per_tensor(tensors);
    total += tensor.count;
  }
  if (tensors.empty() || total / splits < min_per_split) return per_tensor(tensors);

  const std::int64_t split = total / splits;
  std::vector<Bucket> buckets;
  std::size_t t = 0;
  std::int64_t used = 0;  // elements of tensor t already placed
  for (int s = 0; s < splits; ++s) {
    Bucket bucket{tensors.front().dtype, s + 1 < splits ? split : total - split * (splits - 1), s, {}};
    std::int64_t need = bucket.count;
    while (need > 0) {
      const std::int64_t take = std::min(need, tensors[t].count - used);
      if (take > 0) bucket.pieces.push_back({static_cast<int>(t), used, take});
      used += take;
      need -= take;
      if (used == tensors[t].count) { ++t; used = 0; }
    }
    buckets.push_back(std::move(bucket));
  }
  return buckets;
}

}  // namespace

std::vector<Bucket> make_buckets(std::span<const TensorSpec> tensors, const BucketingOptions& options) {
  switch (options.mode) {
    case BucketingMode::per_tensor: return per_tensor(tensors);
    case BucketingMode::fused: return fused(tensors, options.fuse_bytes);
    case BucketingMode::seed_packer:
      return seed_packer(tensors, options.packer_splits, options.packer_min_elements_per_split);
  }
  return per_tensor(tensors);
}

}  // namespace meshreduce
