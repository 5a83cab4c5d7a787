// Internal: what every process must agree on before a collective step (its options at
// construction, a tensor layout before its first call), as named fields, and the check that
// turns the first disagreement into the same error on every process.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "meshreduce/bucketing.h"
#include "meshreduce/types.h"

namespace meshreduce::detail {

// Ordered (name, value) fields; the order is part of the description.
using Description = std::vector<std::pair<std::string, std::string>>;

// "tensors", then "tensor <n>" = "<dtype> x <count>" for each, then "op" and "algorithm".
Description describe_layout(std::span<const TensorSpec> layout, ReduceOp op, const std::string& algorithm);

// One line per field, "name=value"; names and values hold no newline.
std::string encode(const Description& description);
Description decode(const std::string& text);

// The first field (in rank order, then field order) where a rank's description differs from
// rank 0's, as "rank 0 has <field> = <value>, rank r has <field> = <value>" (a missing field
// reads "(none)"); nullopt when all agree.
std::optional<std::string> first_mismatch(std::span<const std::string> encoded_per_rank);

}  // namespace meshreduce::detail
