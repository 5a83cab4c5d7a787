// make_buckets: per tensor, fused (gradient-ready order, per dtype, up to a byte threshold) and
// tensorpack's GradientPacker (8 splits of the concatenation).
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "meshreduce/meshreduce.h"

namespace meshreduce {
namespace {

BucketingOptions mode(BucketingMode m) {
  BucketingOptions options;
  options.mode = m;
  return options;
}

// Every element of every tensor lies in exactly one bucket piece, pieces are non-empty, each
// bucket's count is the sum of its pieces, and a bucket holds one dtype.
void expect_exact_cover(const std::vector<TensorSpec>& tensors, const std::vector<Bucket>& buckets) {
  std::vector<std::vector<int>> covered(tensors.size());
  for (std::size_t t = 0; t < tensors.size(); ++t) covered[t].assign(static_cast<std::size_t>(tensors[t].count), 0);
  for (std::size_t b = 0; b < buckets.size(); ++b) {
    std::int64_t total = 0;
    for (const BucketPiece& piece : buckets[b].pieces) {
      ASSERT_GE(piece.tensor, 0);
      ASSERT_LT(static_cast<std::size_t>(piece.tensor), tensors.size());
      const TensorSpec& tensor = tensors[static_cast<std::size_t>(piece.tensor)];
      EXPECT_GT(piece.count, 0) << "bucket " << b;
      EXPECT_EQ(tensor.dtype, buckets[b].dtype) << "bucket " << b << " tensor " << piece.tensor;
      ASSERT_GE(piece.tensor_offset, 0);
      ASSERT_LE(piece.tensor_offset + piece.count, tensor.count);
      for (std::int64_t i = 0; i < piece.count; ++i)
        ++covered[static_cast<std::size_t>(piece.tensor)][static_cast<std::size_t>(piece.tensor_offset + i)];
      total += piece.count;
    }
    EXPECT_EQ(total, buckets[b].count) << "bucket " << b;
  }
  for (std::size_t t = 0; t < tensors.size(); ++t)
    for (std::size_t i = 0; i < covered[t].size(); ++i)
      ASSERT_EQ(covered[t][i], 1) << "tensor " << t << " element " << i;
}

// ---- per_tensor ----------------------------------------------------------------------------------

TEST(Bucketing, PerTensorOneBucketEachRotationIsTheIndex) {
  const std::vector<TensorSpec> tensors{{5, DType::f32}, {0, DType::f64}, {3, DType::i64}, {1, DType::f16}};
  const auto buckets = make_buckets(tensors, mode(BucketingMode::per_tensor));
  ASSERT_EQ(buckets.size(), 3u);  // the empty tensor has no bucket
  const int expected_tensor[] = {0, 2, 3};
  for (std::size_t b = 0; b < buckets.size(); ++b) {
    const int t = expected_tensor[b];
    EXPECT_EQ(buckets[b].rotation, t) << "the seed's n % 8 needs the tensor index";
    EXPECT_EQ(buckets[b].dtype, tensors[static_cast<std::size_t>(t)].dtype);
    EXPECT_EQ(buckets[b].count, tensors[static_cast<std::size_t>(t)].count);
    ASSERT_EQ(buckets[b].pieces.size(), 1u);
    EXPECT_EQ(buckets[b].pieces[0].tensor, t);
    EXPECT_EQ(buckets[b].pieces[0].tensor_offset, 0);
  }
  expect_exact_cover(tensors, buckets);
  EXPECT_TRUE(make_buckets({}, mode(BucketingMode::per_tensor)).empty());
}

// ---- fused ---------------------------------------------------------------------------------------

TEST(Bucketing, FusedFillsInReverseOrderUpToTheThreshold) {
  // 10 f32 tensors of 100 elements (400 bytes); 1000 bytes per bucket -> two tensors each.
  const std::vector<TensorSpec> tensors(10, TensorSpec{100, DType::f32});
  BucketingOptions options = mode(BucketingMode::fused);
  options.fuse_bytes = 1000;
  const auto buckets = make_buckets(tensors, options);
  ASSERT_EQ(buckets.size(), 5u);
  for (std::size_t b = 0; b < buckets.size(); ++b) {
    EXPECT_EQ(buckets[b].rotation, static_cast<std::int64_t>(b));
    EXPECT_EQ(buckets[b].count, 200);
    ASSERT_EQ(buckets[b].pieces.size(), 2u);
    // The last tensors (ready first) fill the first bucket.
    EXPECT_EQ(buckets[b].pieces[0].tensor, 9 - 2 * static_cast<int>(b));
    EXPECT_EQ(buckets[b].pieces[1].tensor, 8 - 2 * static_cast<int>(b));
  }
  expect_exact_cover(tensors, buckets);
}

TEST(Bucketing, FusedThresholdIsInclusive) {
  const std::vector<TensorSpec> tensors(4, TensorSpec{100, DType::f32});
  BucketingOptions options = mode(BucketingMode::fused);
  options.fuse_bytes = 800;  // exactly two tensors
  EXPECT_EQ(make_buckets(tensors, options).size(), 2u);
  options.fuse_bytes = 799;
  EXPECT_EQ(make_buckets(tensors, options).size(), 4u);
}

TEST(Bucketing, FusedKeepsDtypesApart) {
  const std::vector<TensorSpec> tensors{{10, DType::f32}, {10, DType::f16}, {10, DType::f32},
                                        {10, DType::i64}, {10, DType::f16}, {0, DType::bf16}};
  const auto buckets = make_buckets(tensors, mode(BucketingMode::fused));  // default 25 MiB
  ASSERT_EQ(buckets.size(), 3u);
  // Opened in reverse order: f16 (tensor 4), i64 (3), f32 (2).
  EXPECT_EQ(buckets[0].dtype, DType::f16);
  EXPECT_EQ(buckets[1].dtype, DType::i64);
  EXPECT_EQ(buckets[2].dtype, DType::f32);
  ASSERT_EQ(buckets[0].pieces.size(), 2u);
  EXPECT_EQ(buckets[0].pieces[0].tensor, 4);
  EXPECT_EQ(buckets[0].pieces[1].tensor, 1);
  ASSERT_EQ(buckets[2].pieces.size(), 2u);
  EXPECT_EQ(buckets[2].pieces[0].tensor, 2);
  EXPECT_EQ(buckets[2].pieces[1].tensor, 0);
  for (std::size_t b = 0; b < buckets.size(); ++b) EXPECT_EQ(buckets[b].rotation, static_cast<std::int64_t>(b));
  expect_exact_cover(tensors, buckets);
}

TEST(Bucketing, FusedOversizeTensorGoesAlone) {
  const std::vector<TensorSpec> tensors{{10, DType::f32}, {1000, DType::f32}, {10, DType::f32}};
  BucketingOptions options = mode(BucketingMode::fused);
  options.fuse_bytes = 100;
  const auto buckets = make_buckets(tensors, options);
  ASSERT_EQ(buckets.size(), 3u);
  for (const Bucket& bucket : buckets) ASSERT_EQ(bucket.pieces.size(), 1u);
  EXPECT_EQ(buckets[0].pieces[0].tensor, 2);
  EXPECT_EQ(buckets[1].pieces[0].tensor, 1);
  EXPECT_EQ(buckets[1].count, 1000);
  EXPECT_EQ(buckets[2].pieces[0].tensor, 0);
  expect_exact_cover(tensors, buckets);
  // An oversize first tensor of its dtype too.
  const auto alone = make_buckets(std::vector<TensorSpec>{{10, DType::f32}, {1000, DType::f32}}, options);
  ASSERT_EQ(alone.size(), 2u);
  EXPECT_EQ(alone[0].pieces[0].tensor, 1);
}

TEST(Bucketing, FusedRejectsANonPositiveThreshold) {
  BucketingOptions options = mode(BucketingMode::fused);
  options.fuse_bytes = 0;
  const std::vector<TensorSpec> tensors{{1, DType::f32}};
  EXPECT_THROW(make_buckets(tensors, options), InvalidArgument);
}

// ---- seed_packer ---------------------------------------------------------------------------------

TEST(Bucketing, SeedPackerMakesEightSplitsLastTakesTheRemainder) {
  // 3 tensors, 10 + 9000 + 7 = 9017 elements: 8 splits of 1127, the last 1128 (9017 - 7 * 1127).
  const std::vector<TensorSpec> tensors{{10, DType::f32}, {9000, DType::f32}, {7, DType::f32}};
  const auto buckets = make_buckets(tensors, mode(BucketingMode::seed_packer));
  ASSERT_EQ(buckets.size(), 8u);
  for (std::size_t b = 0; b < 8; ++b) {
    EXPECT_EQ(buckets[b].count, b < 7 ? 1127 : 1128) << "bucket " << b;
    EXPECT_EQ(buckets[b].rotation, static_cast<std::int64_t>(b)) << "each device is main for one chunk";
    EXPECT_EQ(buckets[b].dtype, DType::f32);
  }
  // Pieces cross tensors: the first chunk is tensor 0 whole then the head of tensor 1.
  ASSERT_EQ(buckets[0].pieces.size(), 2u);
  EXPECT_EQ(buckets[0].pieces[0].tensor, 0);
  EXPECT_EQ(buckets[0].pieces[0].count, 10);
  EXPECT_EQ(buckets[0].pieces[1].tensor, 1);
  EXPECT_EQ(buckets[0].pieces[1].tensor_offset, 0);
  EXPECT_EQ(buckets[0].pieces[1].count, 1117);
  ASSERT_EQ(buckets[1].pieces.size(), 1u);
  EXPECT_EQ(buckets[1].pieces[0].tensor_offset, 1117);
  // The last chunk ends with tensor 2 whole.
  ASSERT_EQ(buckets[7].pieces.size(), 2u);
  EXPECT_EQ(buckets[7].pieces[1].tensor, 2);
  EXPECT_EQ(buckets[7].pieces[1].count, 7);
  EXPECT_EQ(buckets[7].pieces[0].tensor_offset + buckets[7].pieces[0].count, 9000);
  expect_exact_cover(tensors, buckets);
}

TEST(Bucketing, SeedPackerSkipsEmptyTensorsAndKeepsOrder) {
  std::vector<TensorSpec> tensors;
  for (int t = 0; t < 40; ++t) tensors.push_back({t % 4 == 0 ? 0 : 1000 + t, DType::bf16});  // 30 x ~1000
  const auto buckets = make_buckets(tensors, mode(BucketingMode::seed_packer));
  ASSERT_EQ(buckets.size(), 8u);
  expect_exact_cover(tensors, buckets);
  // The concatenation is in parameter order.
  int last_tensor = -1;
  std::int64_t last_end = 0;
  for (const Bucket& bucket : buckets)
    for (const BucketPiece& piece : bucket.pieces) {
      if (piece.tensor == last_tensor) EXPECT_EQ(piece.tensor_offset, last_end);
      else EXPECT_GT(piece.tensor, last_tensor);
      last_tensor = piece.tensor;
      last_end = piece.tensor_offset + piece.count;
    }
}

TEST(Bucketing, SeedPackerNeedsOneDtype) {
  const std::vector<TensorSpec> tensors{{10000, DType::f32}, {10000, DType::f16}};
  const auto buckets = make_buckets(tensors, mode(BucketingMode::seed_packer));
  ASSERT_EQ(buckets.size(), 2u);  // per tensor
  EXPECT_EQ(buckets[0].rotation, 0);
  EXPECT_EQ(buckets[1].rotation, 1);
  EXPECT_EQ(buckets[1].dtype, DType::f16);
}

TEST(Bucketing, SeedPackerNeedsAtLeast1024ElementsPerSplit) {
  // 8 * 1024 = 8192 elements packs; 8191 does not.
  const std::vector<TensorSpec> enough{{4096, DType::f32}, {4096, DType::f32}};
  EXPECT_EQ(make_buckets(enough, mode(BucketingMode::seed_packer)).size(), 8u);
  const std::vector<TensorSpec> short_by_one{{4096, DType::f32}, {4095, DType::f32}};
  const auto buckets = make_buckets(short_by_one, mode(BucketingMode::seed_packer));
  ASSERT_EQ(buckets.size(), 2u);
  EXPECT_EQ(buckets[1].pieces[0].count, 4095);
  EXPECT_TRUE(make_buckets({}, mode(BucketingMode::seed_packer)).empty());
}

TEST(Bucketing, SeedPackerOtherSplitCounts) {
  BucketingOptions options = mode(BucketingMode::seed_packer);
  options.packer_splits = 3;
  options.packer_min_elements_per_split = 1;
  const std::vector<TensorSpec> tensors{{4, DType::i32}, {6, DType::i32}};
  const auto buckets = make_buckets(tensors, options);
  ASSERT_EQ(buckets.size(), 3u);
  EXPECT_EQ(buckets[0].count, 3);
  EXPECT_EQ(buckets[1].count, 3);
  EXPECT_EQ(buckets[2].count, 4);
  expect_exact_cover(tensors, buckets);
  options.packer_splits = 0;
  EXPECT_THROW(make_buckets(tensors, options), InvalidArgument);
}

}  // namespace
}  // namespace meshreduce
