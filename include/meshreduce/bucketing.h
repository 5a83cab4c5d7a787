// Bucketing (tensor fusion): how the N tensors of a call map onto the buffers a schedule
// reduces. A bucket is a virtual contiguous buffer of one dtype made of pieces of tensors.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "meshreduce/types.h"

namespace meshreduce {

struct TensorSpec {
  std::int64_t count = 0;
  DType dtype = DType::f32;
  friend bool operator==(const TensorSpec&, const TensorSpec&) = default;
};

struct BucketPiece {
  int tensor = 0;
  std::int64_t tensor_offset = 0;  // first element of the piece within the tensor
  std::int64_t count = 0;
};

struct Bucket {
  DType dtype = DType::f32;
  std::int64_t count = 0;
  std::int64_t rotation = 0;  // passed to the algorithm: picks the bucket's main devices
  std::vector<BucketPiece> pieces;
};

enum class BucketingMode : std::uint8_t {
  per_tensor,   // one bucket per tensor, rotation = tensor index (the seed without packing)
  fused,        // tensors packed in gradient-ready order (reverse) up to `fuse_bytes` per bucket
  seed_packer,  // tensorpack's GradientPacker: concatenate, split into `packer_splits` chunks
};

struct BucketingOptions {
  BucketingMode mode = BucketingMode::per_tensor;
  std::int64_t fuse_bytes = std::int64_t{25} << 20;
  int packer_splits = 8;
  std::int64_t packer_min_elements_per_split = 1024;
};

std::vector<Bucket> make_buckets(std::span<const TensorSpec> tensors, const BucketingOptions& options);

}  // namespace meshreduce
