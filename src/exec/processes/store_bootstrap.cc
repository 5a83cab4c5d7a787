// StoreBootstrap: all_gather and barrier over set/get of a key-value store.
#include <string>
#include <utility>

#include "meshreduce/bootstrap.h"

namespace meshreduce {

StoreBootstrap::StoreBootstrap(std::shared_ptr<KeyValueStore> store, int rank, int size, std::string prefix)
    : store_(std::move(store)), rank_(rank), size_(size), prefix_(std::move(prefix)) {
  if (!store_) throw InvalidArgument("store bootstrap needs a store");
  if (size < 1) throw InvalidArgument("store bootstrap: size must be >= 1, got " + std::to_string(size));
  if (rank < 0 || rank >= size)
    throw InvalidArgument("store bootstrap: rank " + std::to_string(rank) + " is outside 0.." +
                          std::to_string(size - 1));
}

std::string StoreBootstrap::key(std::uint64_t round, int rank) const {
  return prefix_ + "/" + std::to_string(round) + "/" + std::to_string(rank);
}

std::vector<std::string> StoreBootstrap::all_gather(std::string_view blob, Milliseconds timeout) {
  const std::uint64_t round = round_++;
  store_->set(key(round, rank_), blob);
  std::vector<std::string> blobs(static_cast<std::size_t>(size_));
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (int r = 0; r < size_; ++r) {
    if (r == rank_) {
      blobs[static_cast<std::size_t>(r)] = std::string(blob);
      continue;
    }
    const auto left = std::chrono::duration_cast<Milliseconds>(deadline - std::chrono::steady_clock::now());
    try {
      blobs[static_cast<std::size_t>(r)] = store_->get(key(round, r), std::max(left, Milliseconds(0)));
    } catch (const TimeoutError&) {
      throw TimeoutError("bootstrap: rank " + std::to_string(rank_) + " waited " + std::to_string(timeout.count()) +
                         " ms for rank " + std::to_string(r) + " in exchange " + std::to_string(round) +
                         " (key '" + key(round, r) + "')");
    }
  }
  // Every process that reached this round has read round - 1's keys: round - 2's are unread.
  if (round >= 2) store_->erase(key(round - 2, rank_));
  return blobs;
}

}  // namespace meshreduce
